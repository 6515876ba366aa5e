//! `provgraph gate`: a CI step or script asks the server for a digest's
//! audit verdict (`GET /v1/verdict/DIGEST`) and exits 0 when it is one of
//! the required verdicts, 1 when not, 2 when it cannot tell (usage, server
//! unreachable or refusing). While the verdict is `UNKNOWN` (and `UNKNOWN`
//! is not required) it asks again until `--wait` passes, so it works right
//! after `provgraph emit` in the same job.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

/// The verdict names, as GraphQL's `Verdict` spells them.
const VERDICTS: [&str; 6] = [
    "TRUSTED",
    "CONTRADICTED",
    "UNTRUSTED",
    "FORGED",
    "UNSIGNED",
    "UNKNOWN",
];

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How often to ask again while the verdict is UNKNOWN.
const ASK_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The provgraph server's API base URL (plain HTTP: for a server with
    /// TLS, run the gate where the API's loopback address answers, or
    /// through a local TLS proxy).
    #[arg(
        long,
        env = "PROVGRAPH_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// A read token, when the server wants one (sent as
    /// `Authorization: Bearer`).
    #[arg(long, env = "PROVGRAPH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The verdicts that pass, comma-separated: TRUSTED, CONTRADICTED,
    /// UNTRUSTED, FORGED, UNSIGNED, UNKNOWN.
    #[arg(long, value_delimiter = ',', required = true)]
    require: Vec<String>,
    /// How long to keep asking while provgraph knows nothing of the digest
    /// (its facts may still be on their way). A duration: 0s, 30s, 2m; at
    /// most 10m.
    #[arg(long, default_value = "30s", value_parser = crate::serve::parse_duration)]
    wait: Duration,
    /// text: the line on stderr only; json: also the server's answer with
    /// `pass` on stdout.
    #[arg(long, default_value = "text")]
    format: GateFormat,
    /// The image digest, `sha256:<64 hex>`.
    digest: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum GateFormat {
    Text,
    Json,
}

/// The server's answer.
#[derive(Debug, Deserialize, serde::Serialize)]
struct Answer {
    digest: String,
    verdict: String,
    #[serde(default)]
    reasons: Vec<String>,
}

/// Exit 2 with one line on stderr.
fn cannot_tell(message: String) -> ExitCode {
    eprintln!("provgraph gate: cannot tell: {message}");
    ExitCode::from(2)
}

pub fn main(args: GateArgs) -> ExitCode {
    let mut required = Vec::new();
    for name in &args.require {
        let name = name.trim().to_ascii_uppercase();
        if !VERDICTS.contains(&name.as_str()) {
            return cannot_tell(format!(
                "--require {name:?} is not a verdict; use {}",
                VERDICTS.join(", ")
            ));
        }
        required.push(name);
    }
    if args.wait > Duration::from_secs(600) {
        return cannot_tell("--wait is at most 10m".into());
    }
    let digest = match provgraph_model::Digest::parse(args.digest.trim()) {
        Ok(digest) => digest,
        Err(err) => return cannot_tell(err.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return cannot_tell(format!("cannot start the async runtime: {err}")),
    };
    let answer = match runtime.block_on(ask(&args, &digest, &required)) {
        Ok(answer) => answer,
        Err(message) => return cannot_tell(message),
    };
    let pass = required.contains(&answer.verdict);
    if args.format == GateFormat::Json {
        let mut json = serde_json::to_value(&answer).unwrap_or_default();
        json["pass"] = pass.into();
        json["required"] = required.clone().into();
        println!("{json}");
    }
    let evidence = answer.reasons.join("; ");
    if pass {
        eprintln!(
            "provgraph gate: {} is {} (required {}): {evidence}",
            answer.digest,
            answer.verdict,
            required.join(",")
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "provgraph gate: {} is {}, not {}: {evidence}",
            answer.digest,
            answer.verdict,
            required.join(" or ")
        );
        ExitCode::FAILURE
    }
}

/// Asks until the verdict is known, UNKNOWN is what is required, or the
/// wait is over.
async fn ask(
    args: &GateArgs,
    digest: &provgraph_model::Digest,
    required: &[String],
) -> Result<Answer, String> {
    let server = args.server.trim_end_matches('/');
    if server.starts_with("https://") {
        return Err(format!(
            "{server}: the gate speaks plain HTTP; ask the API on its loopback address or through a local TLS proxy"
        ));
    }
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = &args.token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| "the token must be printable ASCII".to_string())?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .default_headers(headers)
        .build()
        .map_err(|err| err.to_string())?;
    let url = format!("{server}/v1/verdict/{digest}");
    let deadline = tokio::time::Instant::now() + args.wait;
    loop {
        let response = client
            .get(&url)
            .send()
            .await
            .map_err(|err| format!("cannot reach {server}: {}", error_chain(&err)))?;
        let status = response.status();
        let retry = status == reqwest::StatusCode::SERVICE_UNAVAILABLE
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        let answer = if status.is_success() {
            let answer: Answer = response
                .json()
                .await
                .map_err(|err| format!("{url}: answer not understood: {err}"))?;
            Some(answer)
        } else if retry {
            None
        } else {
            let body = response.text().await.unwrap_or_default();
            return Err(format!(
                "{url}: HTTP {status}: {}",
                provgraph_model::shorten(&provgraph_model::one_line(&body), 200)
            ));
        };
        let waiting = match &answer {
            Some(answer) => answer.verdict == "UNKNOWN" && !required.iter().any(|r| r == "UNKNOWN"),
            None => true,
        };
        if !waiting || tokio::time::Instant::now() + ASK_EVERY > deadline {
            return answer.ok_or_else(|| format!("{url}: HTTP {status} until --wait passed"));
        }
        tokio::time::sleep(ASK_EVERY).await;
    }
}

/// An error with its sources, on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}
