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

/// A `--timeout` that is not a duration, or out of range.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum DurationError {
    /// Not `10s`, `500ms`, `1m` or a number of seconds.
    #[error("{0:?} is not a duration (10s, 500ms, 1m)")]
    NotADuration(String),
    /// Zero, negative, or over an hour.
    #[error("{0:?}: a timeout is more than 0 and at most 1h")]
    OutOfRange(String),
}

/// `10s`, `500ms`, `2m`, or a number of seconds.
fn parse_duration(value: &str) -> Result<Duration, DurationError> {
    let value = value.trim();
    let (number, unit) = match value.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => value.split_at(at),
        None => (value, "s"),
    };
    let not_a_duration = || DurationError::NotADuration(value.to_string());
    let number: f64 = number.parse().map_err(|_| not_a_duration())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err(not_a_duration()),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 3600.0 {
        return Err(DurationError::OutOfRange(value.to_string()));
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
        assert_eq!(
            parse_duration(" 1.5s ").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse_duration("0s"),
            Err(DurationError::OutOfRange("0s".into()))
        );
        assert_eq!(
            parse_duration("61m"),
            Err(DurationError::OutOfRange("61m".into()))
        );
        assert_eq!(
            parse_duration("ten"),
            Err(DurationError::NotADuration("ten".into()))
        );
        assert_eq!(
            parse_duration("10h").unwrap_err().to_string(),
            "\"10h\" is not a duration (10s, 500ms, 1m)"
        );
    }

    #[test]
    fn flags_parse_as_documented() {
        use crate::emit::test_support::args;
        let parsed = args(&[
            "--commit",
            "abc",
            "--image",
            "a@sha256:1",
            "--image",
            "b@sha256:2",
            "--protocol",
            "http/json",
            "--timeout",
            "500ms",
            "--dry-run",
            "-q",
            "--",
            "make",
            "--release",
        ]);
        assert_eq!(parsed.commit.as_deref(), Some("abc"));
        assert_eq!(parsed.image, vec!["a@sha256:1", "b@sha256:2"]);
        assert_eq!(parsed.protocol, Some(OtlpProtocol::HttpJson));
        assert_eq!(parsed.timeout, Some(Duration::from_millis(500)));
        assert!(parsed.dry_run && parsed.quiet && !parsed.strict);
        assert_eq!(parsed.command, vec!["make", "--release"]);
        for protocol in [
            OtlpProtocol::Grpc,
            OtlpProtocol::HttpProtobuf,
            OtlpProtocol::HttpJson,
        ] {
            assert_eq!(OtlpProtocol::parse(protocol.as_str()), Some(protocol));
        }
        assert_eq!(OtlpProtocol::parse(" grpc\n"), Some(OtlpProtocol::Grpc));
        assert_eq!(OtlpProtocol::parse("http"), None);
    }
}
