//! The `emit` command line: its flags (clap), the OTLP protocol names and
//! the `--timeout` duration syntax.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
#[command(
    after_help = "Reads the CI environment (GitHub Actions, GitLab CI, Jenkins, Buildkite), \
then git, for commit, repository and branch; flags override both. OTLP settings: \
OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, \
OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_CERTIFICATE (https); TRACEPARENT joins the CI's trace. See docs/emit.md."
)]
pub struct EmitArgs {
    /// The commit SHA built (default: the CI's variable, else `git rev-parse HEAD`).
    #[arg(long, value_name = "SHA")]
    pub(super) commit: Option<String>,
    /// The repository URL (default: the CI's variable, else `git config --get remote.origin.url`).
    #[arg(long, value_name = "URL")]
    pub(super) repository: Option<String>,
    /// The branch (default: the CI's variable, else `git rev-parse --abbrev-ref HEAD`).
    #[arg(long, value_name = "NAME")]
    pub(super) branch: Option<String>,
    /// The build (pipeline run) id, sent as `cicd.pipeline.run.id` (default: the CI's run id).
    #[arg(long, value_name = "ID")]
    pub(super) build_id: Option<String>,
    /// The pipeline name, sent as `cicd.pipeline.name` (default: the CI's workflow or job name).
    #[arg(long, value_name = "NAME")]
    pub(super) pipeline: Option<String>,
    /// The go.mod to hash and read (default: `go.mod` in the working directory, if there is one).
    #[arg(long, value_name = "PATH")]
    pub(super) go_mod: Option<PathBuf>,
    /// An image the build produced, `NAME[:TAG]@sha256:<hex>` (repeatable).
    #[arg(long, value_name = "NAME@sha256:HEX")]
    pub(super) image: Vec<String>,
    /// An image digest the build produced, `sha256:<hex>` (repeatable).
    #[arg(long, value_name = "sha256:HEX")]
    pub(super) digest: Vec<String>,
    /// The file `docker buildx build --metadata-file` (or `bake`) wrote (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(super) buildx_metadata: Vec<PathBuf>,
    /// The file `docker build --iidfile` wrote (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(super) iidfile: Vec<PathBuf>,
    /// A multi-platform image index, the exact bytes `docker buildx imagetools inspect --raw`
    /// prints: its sha256 is the product, its manifests are sent as `oci.index.manifests`.
    #[arg(long, value_name = "FILE")]
    pub(super) oci_index: Option<PathBuf>,
    /// The OTLP endpoint, a base URL like OTEL_EXPORTER_OTLP_ENDPOINT
    /// (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT,
    /// else http://127.0.0.1:4317 for grpc, http://127.0.0.1:4318 for HTTP).
    #[arg(long, value_name = "URL")]
    pub(super) endpoint: Option<String>,
    /// The OTLP protocol (default: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    /// OTEL_EXPORTER_OTLP_PROTOCOL, else grpc).
    #[arg(long, value_name = "PROTOCOL")]
    pub(super) protocol: Option<OtlpProtocol>,
    /// How long to try sending, retries included: `10s`, `500ms`, `1m`, or seconds
    /// (default: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT or OTEL_EXPORTER_OTLP_TIMEOUT in ms, else 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(super) timeout: Option<Duration>,
    /// Exit non-zero (1) when the span could not be sent.
    #[arg(long)]
    pub(super) strict: bool,
    /// Print the attributes as JSON on stdout and send nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Print nothing on stderr but errors.
    #[arg(long, short)]
    pub(super) quiet: bool,
    /// The span name (default: the command's name, else `provgraph emit`).
    #[arg(long, value_name = "NAME")]
    pub(super) name: Option<String>,
    /// A command to run as the timed span; its exit status becomes provgraph's.
    #[arg(last = true, value_name = "CMD")]
    pub(super) command: Vec<String>,
}

/// The OTLP protocols, named as OTEL_EXPORTER_OTLP_PROTOCOL names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OtlpProtocol {
    /// OTLP/gRPC.
    #[value(name = "grpc")]
    Grpc,
    /// OTLP/HTTP, protobuf body.
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    /// OTLP/HTTP, JSON body.
    #[value(name = "http/json")]
    HttpJson,
}

impl OtlpProtocol {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::HttpJson => "http/json",
        }
    }

    pub(super) fn parse(value: &str) -> Option<OtlpProtocol> {
        match value.trim() {
            "grpc" => Some(OtlpProtocol::Grpc),
            "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            "http/json" => Some(OtlpProtocol::HttpJson),
            _ => None,
        }
    }
}

/// `10s`, `500ms`, `2m`, or a number of seconds.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let (number, unit) = match value.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => value.split_at(at),
        None => (value, "s"),
    };
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a duration (10s, 500ms, 1m)"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err(format!("{value:?} is not a duration (10s, 500ms, 1m)")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 3600.0 {
        return Err(format!(
            "{value:?}: a timeout is more than 0 and at most 1h"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
    }
}
