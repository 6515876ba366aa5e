//! OCI and Docker manifests, image indexes and descriptors: the fields
//! discovery reads, parsed leniently (unknown fields ignored) but with the
//! required ones required.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::reference::parse_digest;
use provgraph_model::Digest;
use provgraph_model::one_line;

/// Media types and annotation keys discovery knows.
pub mod media_types {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index (also the referrers API's answer).
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list (multi-arch), schema 2.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// The `Accept` header sent for manifests.
    pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
    /// The artifact type of a Notary Project signature manifest.
    pub const NOTARY_SIGNATURE: &str = "application/vnd.cncf.notary.signature";
    /// A DSSE envelope: the layer of a cosign attestation.
    pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
    /// Prefix of Sigstore bundle artifact types
    /// (`application/vnd.dev.sigstore.bundle.v0.3+json`, ...).
    pub const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
    /// The Sigstore bundle v0.3 artifact type cosign writes.
    pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
    /// Layer annotation: base64 signature over the layer blob.
    pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
    /// Layer annotation: PEM signing certificate (keyless).
    pub const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
    /// Layer annotation: PEM certificate chain.
    pub const ANNOTATION_CHAIN: &str = "dev.sigstore.cosign/chain";
    /// Layer annotation: the Rekor bundle, as a JSON string.
    pub const ANNOTATION_BUNDLE: &str = "dev.sigstore.cosign/bundle";
}

/// A content descriptor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub media_type: Option<String>,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// The annotation `key`, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    /// The descriptor's digest, canonical, when it is a SHA-256 digest.
    pub fn sha256(&self) -> Option<Digest> {
        parse_digest(&self.digest).ok()
    }
}

/// What a manifest document is.
#[derive(Debug, Clone)]
pub(crate) enum Document {
    /// An image manifest (OCI or Docker schema 2).
    Manifest(Manifest),
    /// An image index (OCI) or manifest list (Docker).
    Index(Index),
}

impl Document {
    /// What kind of document this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Manifest(_) => "an image manifest",
            Self::Index(_) => "an image index",
        }
    }
}

/// An image manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub subject: Option<Descriptor>,
}

/// An image index, or a referrers answer. Its platform entries are read by
/// [`provgraph_model::parse_image_index`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Index {
    pub manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(default)]
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    layers: Option<serde_json::Value>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

/// Why bytes are not a manifest or index. Messages are one line, without
/// the URL ([`crate::OciError::Malformed`] adds it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DocumentError {
    #[error("not a JSON manifest: {0}")]
    NotJson(String),
    #[error("manifest schemaVersion {0} is not supported (expected 2)")]
    SchemaVersion(i64),
    #[error("neither an image manifest (layers) nor an image index (manifests)")]
    UnknownShape,
    #[error("invalid image {kind}: {reason}")]
    Invalid { kind: &'static str, reason: String },
}

/// Parses a manifest or index from its bytes; `content_type` is the
/// registry's `Content-Type` (parameters ignored), which wins over the
/// document's own `mediaType` when it names a known type.
pub(crate) fn parse_document(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<Document, DocumentError> {
    use media_types::*;
    let head: Head = serde_json::from_slice(bytes)
        .map_err(|e| DocumentError::NotJson(one_line(&e.to_string())))?;
    if let Some(version) = head.schema_version
        && version != 2
    {
        return Err(DocumentError::SchemaVersion(version));
    }
    let known = |t: &str| {
        matches!(
            t,
            OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_MANIFEST_LIST
        )
    };
    let content_type = content_type
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .filter(|t| known(t));
    let media_type = content_type.or(head.media_type.as_deref().filter(|t| known(t)));
    let is_index = match media_type {
        Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => true,
        Some(_) => false,
        None => match (&head.manifests, &head.layers) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            _ => return Err(DocumentError::UnknownShape),
        },
    };
    let invalid = |kind| {
        move |e: serde_json::Error| DocumentError::Invalid {
            kind,
            reason: one_line(&e.to_string()),
        }
    };
    if is_index {
        serde_json::from_slice::<Index>(bytes)
            .map(Document::Index)
            .map_err(invalid("index"))
    } else {
        serde_json::from_slice::<Manifest>(bytes)
            .map(Document::Manifest)
            .map_err(invalid("manifest"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(value: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&value).expect("json")
    }

    fn digest() -> String {
        format!("sha256:{}", "ab".repeat(32))
    }

    #[test]
    fn manifests_and_indexes() {
        let manifest = bytes(json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(), "size": 2},
            "layers": [{"mediaType": "x", "digest": digest(), "size": 3, "annotations": {"a": "b"}}],
            "subject": {"mediaType": media_types::OCI_MANIFEST, "digest": digest(), "size": 4},
        }));
        let Ok(Document::Manifest(parsed)) = parse_document(&manifest, None) else {
            panic!("a manifest");
        };
        assert_eq!(parsed.layers.len(), 1);
        assert_eq!(parsed.layers[0].annotation("a"), Some("b"));
        assert_eq!(parsed.layers[0].sha256(), Some(digest().parse().unwrap()));
        assert_eq!(parsed.subject.map(|s| s.digest), Some(digest()));

        // The Content-Type header decides over the body.
        let index = bytes(json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": media_types::OCI_MANIFEST, "digest": digest(), "size": 5,
                           "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}],
        }));
        let Ok(Document::Index(parsed)) = parse_document(
            &index,
            Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
        ) else {
            panic!("an index");
        };
        assert_eq!(
            parsed.manifests[0].sha256(),
            Some(digest().parse().unwrap())
        );
        // Without any media type the shape decides.
        assert!(matches!(
            parse_document(&index, Some("application/octet-stream")),
            Ok(Document::Index(_))
        ));
    }

    #[test]
    fn malformed_documents_are_refused() {
        let cases = [
            (b"not json".to_vec(), "not a JSON manifest"),
            (bytes(json!([1, 2])), "not a JSON manifest"),
            (
                bytes(json!({"schemaVersion": 1, "fsLayers": []})),
                "schemaVersion 1",
            ),
            (bytes(json!({"schemaVersion": 2})), "neither"),
            (
                bytes(
                    json!({"mediaType": media_types::OCI_MANIFEST, "layers": [{"digest": digest()}]}),
                ),
                "invalid image manifest",
            ),
            (
                bytes(
                    json!({"mediaType": media_types::OCI_INDEX, "manifests": [{"digest": digest(), "size": -1}]}),
                ),
                "invalid image index",
            ),
            (
                bytes(json!({"mediaType": media_types::OCI_INDEX, "layers": []})),
                "invalid image index",
            ),
        ];
        for (body, expected) in cases {
            let error = parse_document(&body, None).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }
}
