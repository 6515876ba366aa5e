//! A real registry for tests: Debian's `docker-registry` (the CNCF
//! distribution registry) started on a free loopback port with storage in a
//! temporary directory, and a pusher speaking its HTTP API. Feature
//! `testing`; tests skip when the binary is missing unless
//! `PROVGRAPH_REQUIRE_REGISTRY=1`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::media_types;
use serde_json::{Value, json};

/// Where Debian installs the registry.
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    crate::sha256_digest(bytes).into()
}

/// An OCI descriptor for `bytes`.
pub fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256(bytes), "size": bytes.len()})
}

/// Compact JSON bytes.
pub fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("json")
}

// ---------------------------------------------------------------------------
// The registry process.

/// The registry child process; killed and reaped on drop, also when the test
/// fails. Its storage and log live in `dir`.
pub struct RegistryProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    dir: tempfile::TempDir,
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RegistryProcess {
    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

/// The registry binary, or `None` (test skipped) when it is not installed
/// and not required.
pub fn registry_binary() -> Option<&'static Path> {
    let path = Path::new(REGISTRY_BINARY);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("PROVGRAPH_REQUIRE_REGISTRY").as_deref() == Ok("1") {
        panic!(
            "{REGISTRY_BINARY} is missing and PROVGRAPH_REQUIRE_REGISTRY=1: apt-get install -y docker-registry"
        );
    }
    println!("SKIPPED: docker-registry not installed");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("free port")
}

/// Starts the registry on a free port and waits until `GET /v2/` answers.
/// A port taken between choosing and binding is retried with another.
pub async fn start_registry(binary: &Path) -> RegistryProcess {
    let client = reqwest::Client::new();
    let mut last_log = String::new();
    for _attempt in 0..3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let storage = dir.path().join("storage");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: info\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )
        .expect("config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        let mut process = RegistryProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = process.child.try_wait() {
                break;
            }
            let ready = client
                .get(format!("{}/v2/", process.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        last_log = process.log();
    }
    panic!("docker-registry did not start; its log:\n{last_log}");
}

/// Pushes over the registry HTTP API: monolithic blob uploads, manifests.
pub struct Pusher {
    /// The HTTP client pushes go through.
    pub client: reqwest::Client,
    /// The registry, `http://127.0.0.1:PORT`.
    pub base: String,
    /// The repository pushed to, such as `acme/calc`.
    pub repository: String,
}

impl Pusher {
    /// `POST /v2/<repo>/blobs/uploads/`, then `PUT <location>&digest=...`.
    pub async fn blob(&self, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let response = self
            .client
            .post(format!(
                "{}/v2/{}/blobs/uploads/",
                self.base, self.repository
            ))
            .send()
            .await
            .expect("start upload");
        assert_eq!(response.status(), 202, "start upload");
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("upload location")
            .to_string();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let response = self
            .client
            .put(format!("{location}{separator}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 201, "upload {digest}");
        digest
    }

    /// `PUT /v2/<repo>/manifests/<reference>`; returns the digest, checked
    /// against what the registry says it stored.
    pub async fn manifest(&self, reference: &str, media_type: &str, manifest: &Value) -> String {
        let bytes = to_bytes(manifest);
        let digest = sha256(&bytes);
        let response = self
            .client
            .put(format!(
                "{}/v2/{}/manifests/{reference}",
                self.base, self.repository
            ))
            .header("content-type", media_type)
            .body(bytes)
            .send()
            .await
            .expect("put manifest");
        let status = response.status();
        let stored = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 201, "put manifest {reference}: {text}");
        assert_eq!(stored.as_deref(), Some(digest.as_str()));
        digest
    }

    /// An image: config and layer blobs and an OCI manifest, pushed by
    /// digest. Returns the manifest's bytes and digest.
    pub async fn image(
        &self,
        os: &str,
        architecture: &str,
        variant: Option<&str>,
    ) -> (Vec<u8>, String) {
        let layer = format!("layer of calc for {os}/{architecture}").into_bytes();
        let config = to_bytes(&json!({
            "architecture": architecture, "os": os, "variant": variant,
            "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
        }));
        self.blob(&layer).await;
        self.blob(&config).await;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &layer)],
        });
        let digest = self
            .manifest(
                &sha256(&to_bytes(&manifest)),
                media_types::OCI_MANIFEST,
                &manifest,
            )
            .await;
        (to_bytes(&manifest), digest)
    }

    /// Two images (linux/amd64, linux/arm64/v8) and an OCI index listing
    /// them, tagged `tag`.
    pub async fn multi_arch(&self, tag: &str) -> MultiArch {
        let (amd64_manifest, amd64) = self.image("linux", "amd64", None).await;
        let (arm64_manifest, arm64) = self.image("linux", "arm64", Some("v8")).await;
        let index = json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_INDEX,
            "manifests": [
                {"mediaType": media_types::OCI_MANIFEST, "digest": amd64, "size": amd64_manifest.len(),
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": media_types::OCI_MANIFEST, "digest": arm64, "size": arm64_manifest.len(),
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            ],
        });
        let index = self.manifest(tag, media_types::OCI_INDEX, &index).await;
        MultiArch {
            amd64_manifest,
            amd64,
            arm64,
            index,
        }
    }
}

/// What [`Pusher::multi_arch`] pushed.
pub struct MultiArch {
    /// The linux/amd64 image manifest's bytes.
    pub amd64_manifest: Vec<u8>,
    /// The linux/amd64 image manifest's digest.
    pub amd64: String,
    /// The linux/arm64/v8 image manifest's digest.
    pub arm64: String,
    /// The index's digest.
    pub index: String,
}
