//! `provgraph import FILE...`: posts evidence files (Sigstore bundles, cosign
//! signature layers as JSON) to a running server's `/v1/evidence`, showing
//! progress, and ends with a summary; `provgraph reverify` verifies
//! everything stored again against a trust policy.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Evidence files to import.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The server's API base URL.
    #[arg(
        long,
        env = "PROVGRAPH_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// The artifact digest (`sha256:<hex>`) the evidence is for, when the
    /// evidence does not name it (a message-signature bundle).
    #[arg(long)]
    digest: Option<String>,
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("provgraph import: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(60)).build() {
            Ok(client) => client,
            Err(err) => {
                eprintln!("provgraph import: {err}");
                return ExitCode::FAILURE;
            }
        };
        let url = format!("{}/v1/evidence", args.server.trim_end_matches('/'));
        let total = args.files.len();
        let mut tally = Tally::default();
        let mut failures = Vec::new();
        for (index, file) in args.files.iter().enumerate() {
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
                    progress(index + 1, total, &format!("{name}: {} result(s)", results.len()));
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
            tally.files_ok, total, tally.trusted, tally.verified_untrusted, tally.unverified, tally.files_failed
        );
        for failure in &failures {
            eprintln!("failed: {failure}");
        }
        if tally.files_failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
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
        return Err(format!(
            "HTTP {status}: {}",
            answer["error"].as_str().unwrap_or("no reason given")
        ));
    }
    Ok(answer["results"].as_array().cloned().unwrap_or_default())
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("provgraph reverify: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
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
        let outcome = provgraph_api::evidence::reverify_stored(&store, policy).await;
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
