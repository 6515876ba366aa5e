//! `provgraph import FILE...`: posts evidence files (Sigstore bundles, cosign
//! signature layers as JSON, SBOMs, vulnerability documents) to a running
//! server's `/v1/evidence`, and vulnerability databases (zip exports and
//! directories of OSV records, `osv_import`) record by record, showing
//! progress, and ends with a summary; `provgraph reverify` verifies
//! everything stored again against a trust policy.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

/// Runs a command's async body on a current-thread runtime; a runtime that
/// cannot start is one line on stderr naming the command.
fn block_on(command: &str, body: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(body),
        Err(err) => {
            eprintln!("provgraph {command}: {err}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Evidence files to import; a directory or a `.zip` file is a
    /// vulnerability database (the Go vulnerability database's or OSV's
    /// `all.zip`, or a directory of OSV records), imported record by record.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    api: ApiTarget,
    /// The artifact digest (`sha256:<hex>`) the evidence is for, when the
    /// evidence does not name it (a message-signature bundle).
    #[arg(long)]
    digest: Option<String>,
}

/// Which provgraph API the evidence goes to, and with what token.
#[derive(Debug, Args)]
struct ApiTarget {
    /// The provgraph server's API base URL.
    #[arg(
        long,
        env = "PROVGRAPH_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// An ingest token, when the server wants one (sent as
    /// `Authorization: Bearer`).
    #[arg(long, env = "PROVGRAPH_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl ApiTarget {
    /// The base URL without a trailing slash.
    fn base(&self) -> &str {
        self.server.trim_end_matches('/')
    }

    /// The HTTP client for the API: a 60 s timeout, the bearer token
    /// (marked sensitive, so never printed) when given. Plain HTTP only: for
    /// a server with TLS, go through a local TLS proxy or run this on the
    /// server's host.
    fn client(&self) -> Result<reqwest::Client, String> {
        let (server, token) = (&self.server, self.token.as_deref());
        if server.starts_with("https://") {
            return Err(format!(
                "{server}: this command speaks plain HTTP to the API; reach a TLS server through a local proxy (or on its loopback address)"
            ));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token {
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                    .map_err(|_| "the token must be printable ASCII".to_string())?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .default_headers(headers)
            .build()
            .map_err(|err| err.to_string())
    }
}

#[derive(Debug, Default)]
struct Tally {
    files_ok: usize,
    files_failed: usize,
    trusted: usize,
    verified_untrusted: usize,
    unverified: usize,
}

fn progress(done: usize, total: usize, line: &str) {
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = write!(
            stderr,
            "\r\x1b[2K[{done:>width$}/{total}] {line}",
            width = total.to_string().len()
        );
        if done == total {
            let _ = writeln!(stderr);
        }
    } else {
        let _ = writeln!(stderr, "[{done}/{total}] {line}");
    }
}

pub fn import(args: ImportArgs) -> ExitCode {
    block_on("import", async move {
        let client = match args.api.client() {
            Ok(client) => client,
            Err(err) => {
                eprintln!("provgraph import: {err}");
                return ExitCode::FAILURE;
            }
        };
        let url = format!("{}/v1/evidence", args.api.base());
        let (databases, files): (Vec<PathBuf>, Vec<PathBuf>) = args
            .files
            .iter()
            .cloned()
            .partition(|path| crate::osv_import::is_database(path));
        let mut database_failed = false;
        if !databases.is_empty() {
            let poster = crate::osv_import::Poster {
                client: &client,
                url: &url,
                progress: &progress,
            };
            let osv = crate::osv_import::import_databases(&poster, &databases).await;
            println!(
                "OSV records: {} read, {} new, {} updated, {} unchanged, {} refused",
                osv.records,
                osv.new,
                osv.updated,
                osv.unchanged,
                osv.refused.len()
            );
            for refused in osv.refused.iter().take(20) {
                eprintln!("refused: {refused}");
            }
            if osv.refused.len() > 20 {
                eprintln!("refused: ... and {} more", osv.refused.len() - 20);
            }
            for failure in &osv.failed {
                eprintln!("failed: {failure}");
            }
            database_failed = !osv.failed.is_empty();
            if files.is_empty() {
                return if database_failed {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                };
            }
        }
        let total = files.len();
        let mut tally = Tally::default();
        let mut failures = Vec::new();
        for (index, file) in files.iter().enumerate() {
            let name = file.display().to_string();
            let outcome = post(&client, &url, file, args.digest.as_deref()).await;
            match outcome {
                Ok(results) => {
                    tally.files_ok += 1;
                    for result in &results {
                        match (result["verified"].as_bool(), result["trusted"].as_bool()) {
                            (Some(true), Some(true)) => tally.trusted += 1,
                            (Some(true), _) => tally.verified_untrusted += 1,
                            _ => tally.unverified += 1,
                        }
                    }
                    progress(
                        index + 1,
                        total,
                        &format!("{name}: {} result(s)", results.len()),
                    );
                }
                Err(reason) => {
                    tally.files_failed += 1;
                    progress(index + 1, total, &format!("{name}: FAILED: {reason}"));
                    failures.push(format!("{name}: {reason}"));
                }
            }
        }
        println!(
            "imported {} of {} file(s): {} trusted, {} verified but untrusted, {} not verified; {} file(s) failed",
            tally.files_ok,
            total,
            tally.trusted,
            tally.verified_untrusted,
            tally.unverified,
            tally.files_failed
        );
        for failure in &failures {
            eprintln!("failed: {failure}");
        }
        if tally.files_failed == 0 && !database_failed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    file: &PathBuf,
    digest: Option<&str>,
) -> Result<Vec<serde_json::Value>, String> {
    let body = std::fs::read(file).map_err(|err| format!("cannot read: {err}"))?;
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(digest) = digest {
        request = request.query(&[("digest", digest)]);
    }
    let response = request
        .send()
        .await
        .map_err(|err| format!("cannot reach {url}: {err}"))?;
    let status = response.status();
    let answer: serde_json::Value = response
        .json()
        .await
        .map_err(|err| format!("HTTP {status}, answer is not JSON: {err}"))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", reason(&answer)));
    }
    Ok(answer["results"].as_array().cloned().unwrap_or_default())
}

/// The reason an API error answer gives (`error`, or GraphQL-shaped
/// `errors[0].message` as the auth gate writes it).
fn reason(answer: &serde_json::Value) -> &str {
    answer["error"]
        .as_str()
        .or_else(|| answer["errors"][0]["message"].as_str())
        .unwrap_or("no reason given")
}

#[derive(Debug, Args)]
pub struct ReverifyArgs {
    /// Database: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "PROVGRAPH_DATABASE_URL",
        default_value = "sqlite://provgraph.db"
    )]
    database_url: String,
    /// Trust policy (TOML); without it nothing is trusted.
    #[arg(long, env = "PROVGRAPH_TRUST_POLICY")]
    trust_policy: Option<PathBuf>,
}

pub fn reverify(args: ReverifyArgs) -> ExitCode {
    let policy = match crate::serve::load_policy(args.trust_policy.as_deref()) {
        Ok(policy) => Arc::new(policy),
        Err(err) => {
            eprintln!("provgraph reverify: {err}");
            return ExitCode::from(2);
        }
    };
    block_on("reverify", async move {
        let store = match provgraph_store::Store::connect(
            &args.database_url,
            &provgraph_store::StoreOptions::default(),
        )
        .await
        {
            Ok(store) => store,
            Err(err) => {
                eprintln!("provgraph reverify: cannot open database: {err}");
                return ExitCode::from(2);
            }
        };
        let outcome = provgraph_evidence::reverify_stored(&store, policy).await;
        store.close().await;
        match outcome {
            Ok((changed, checked)) => {
                println!("verified {checked} stored result(s) again; {changed} changed");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("provgraph reverify: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The image digest, `sha256:<hex>` (an image or a multi-arch index).
    digest: String,
    /// The registry, `http://HOST[:PORT]`.
    #[arg(long)]
    registry: String,
    /// The repository in the registry, such as `acme/calc`.
    #[arg(long)]
    repository: String,
    #[command(flatten)]
    api: ApiTarget,
}

/// Finds the signatures, attestations and Sigstore bundles a registry holds
/// for a digest (and, for an index, for each platform manifest), records the
/// index's platform manifests, and imports everything into the server.
pub fn discover(args: DiscoverArgs) -> ExitCode {
    block_on("discover", async move {
        match run_discover(&args).await {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(reason) => {
                eprintln!("provgraph discover: {reason}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn run_discover(args: &DiscoverArgs) -> Result<String, String> {
    let registry = provgraph_oci::Registry::new(&args.registry).map_err(|err| err.to_string())?;
    let client = args.api.client()?;
    let server = args.api.base();
    let mut targets = vec![args.digest.clone()];
    if let Some(platforms) = registry
        .index_manifests(&args.repository, &args.digest)
        .await
        .map_err(|err| err.to_string())?
    {
        let bytes = registry
            .manifest_bytes(&args.repository, &args.digest)
            .await
            .map_err(|err| err.to_string())?;
        let source = format!("{}/{}", registry.base_url(), args.repository);
        let response = client
            .post(format!("{server}/v1/index"))
            .query(&[
                ("digest", args.digest.as_str()),
                ("source", source.as_str()),
            ])
            .body(bytes)
            .send()
            .await
            .map_err(|err| format!("cannot reach {server}: {err}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the server refused the index: HTTP {}",
                response.status()
            ));
        }
        eprintln!(
            "index {} lists {} platform manifest(s)",
            args.digest,
            platforms.len()
        );
        targets.extend(platforms.into_iter().map(|p| p.digest.into()));
    }
    let (mut found, mut trusted, mut verified, mut unverified) = (0, 0, 0, 0);
    for target in &targets {
        let discovery = registry
            .discover(&args.repository, target)
            .await
            .map_err(|err| err.to_string())?;
        for note in &discovery.notes {
            eprintln!("{target}: {note}");
        }
        for evidence in &discovery.evidence {
            found += 1;
            let response = client
                .post(format!("{server}/v1/evidence"))
                .query(&[("digest", target.as_str())])
                .json(&evidence.body)
                .send()
                .await
                .map_err(|err| format!("cannot reach {server}: {err}"))?;
            let status = response.status();
            let answer: serde_json::Value = response.json().await.map_err(|err| err.to_string())?;
            if !status.is_success() {
                eprintln!(
                    "{target}: {:?} {}: refused: {}",
                    evidence.source,
                    evidence.reference,
                    reason(&answer)
                );
                continue;
            }
            for result in answer["results"].as_array().into_iter().flatten() {
                match (result["verified"].as_bool(), result["trusted"].as_bool()) {
                    (Some(true), Some(true)) => trusted += 1,
                    (Some(true), _) => verified += 1,
                    _ => unverified += 1,
                }
            }
        }
    }
    Ok(format!(
        "{found} piece(s) of evidence for {} digest(s): {trusted} trusted, {verified} verified but untrusted, {unverified} not verified",
        targets.len()
    ))
}
