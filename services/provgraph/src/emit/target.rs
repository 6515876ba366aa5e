//! Where and how the span goes: the OTLP protocol, endpoint, timeout and CA
//! certificate from the flags, else the OpenTelemetry environment
//! variables, else the defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::EmitArgs;
use super::args::OtlpProtocol;
use super::ci::Env;

pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_GRPC_ENDPOINT: &str = "http://127.0.0.1:4317";
const DEFAULT_HTTP_ENDPOINT: &str = "http://127.0.0.1:4318";

/// An OTLP setting from the environment that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum TargetError {
    /// OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names no protocol we speak.
    #[error("{name}={value:?} is not one of grpc, http/protobuf, http/json")]
    Protocol { name: &'static str, value: String },
}

/// Where and how the span goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) protocol: OtlpProtocol,
    pub(super) endpoint: String,
    /// The flag or variable the endpoint came from, or `default`.
    pub(super) endpoint_source: String,
    pub(super) timeout: Duration,
    /// A PEM file of CA certificates to trust for https, besides the
    /// system's (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE or
    /// OTEL_EXPORTER_OTLP_CERTIFICATE).
    pub(super) ca_certificate: Option<PathBuf>,
}

fn with_scheme(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

/// A base URL (OTEL_EXPORTER_OTLP_ENDPOINT, --endpoint): HTTP gets
/// `/v1/traces` appended unless it already ends with it; gRPC uses it as is.
fn base_endpoint(url: &str, protocol: OtlpProtocol) -> String {
    let url = with_scheme(url);
    match protocol {
        OtlpProtocol::Grpc => url,
        _ => {
            let trimmed = url.trim_end_matches('/');
            if trimmed.ends_with("/v1/traces") {
                trimmed.to_string()
            } else {
                format!("{trimmed}/v1/traces")
            }
        }
    }
}

pub(super) fn resolve_target(args: &EmitArgs, env: Env) -> Result<Target, TargetError> {
    let protocol = match args.protocol {
        Some(protocol) => protocol,
        None => {
            let from_env = [
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ]
            .into_iter()
            .find_map(|name| env(name).map(|value| (name, value)));
            match from_env {
                Some((name, value)) => {
                    OtlpProtocol::parse(&value).ok_or(TargetError::Protocol { name, value })?
                }
                None => OtlpProtocol::Grpc,
            }
        }
    };
    let (endpoint, endpoint_source) = if let Some(flag) = &args.endpoint {
        (base_endpoint(flag, protocol), "--endpoint".to_string())
    } else if let Some(url) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        (
            with_scheme(&url),
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_string(),
        )
    } else if let Some(url) = env("OTEL_EXPORTER_OTLP_ENDPOINT") {
        (
            base_endpoint(&url, protocol),
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
        )
    } else {
        let default = match protocol {
            OtlpProtocol::Grpc => DEFAULT_GRPC_ENDPOINT.to_string(),
            _ => base_endpoint(DEFAULT_HTTP_ENDPOINT, protocol),
        };
        (default, "default".to_string())
    };
    let timeout = args.timeout.unwrap_or_else(|| {
        [
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ]
        .into_iter()
        .find_map(|name| env(name)?.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
    });
    let ca_certificate = [
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
    ]
    .into_iter()
    .find_map(|name| env(name).filter(|v| !v.trim().is_empty()))
    .map(PathBuf::from);
    Ok(Target {
        protocol,
        endpoint,
        endpoint_source,
        timeout,
        ca_certificate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_support::{args, env_of};

    #[test]
    fn otlp_target_resolution() {
        let none = env_of(&[]);
        let t = resolve_target(&args(&[]), &none).unwrap();
        assert_eq!(
            (t.protocol, t.endpoint.as_str()),
            (OtlpProtocol::Grpc, "http://127.0.0.1:4317")
        );
        assert_eq!(t.timeout, DEFAULT_TIMEOUT);
        let t = resolve_target(&args(&["--protocol", "http/protobuf"]), &none).unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:4318/v1/traces");
        let t = resolve_target(
            &args(&["--protocol", "http/json", "--endpoint", "collector:4318/"]),
            &none,
        )
        .unwrap();
        assert_eq!(t.endpoint, "http://collector:4318/v1/traces");
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318/base"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ]);
        let t = resolve_target(&args(&[]), &env).unwrap();
        assert_eq!(t.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(t.endpoint, "http://otel:4318/base/v1/traces");
        assert_eq!(t.endpoint_source, "OTEL_EXPORTER_OTLP_ENDPOINT");
        assert_eq!(t.timeout, Duration::from_millis(2500));
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://otel:4318/custom",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        let t = resolve_target(&args(&["--timeout", "3s"]), &env).unwrap();
        assert_eq!(
            (t.protocol, t.endpoint.as_str()),
            (OtlpProtocol::HttpJson, "http://otel:4318/custom")
        );
        assert_eq!(t.timeout, Duration::from_secs(3));
        let t = resolve_target(
            &args(&["--endpoint", "http://x:4317", "--protocol", "grpc"]),
            &env,
        )
        .unwrap();
        assert_eq!(
            (t.protocol, t.endpoint.as_str()),
            (OtlpProtocol::Grpc, "http://x:4317")
        );
        let bad = env_of(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")]);
        let err = resolve_target(&args(&[]), &bad).unwrap_err();
        assert_eq!(
            err,
            TargetError::Protocol {
                name: "OTEL_EXPORTER_OTLP_PROTOCOL",
                value: "udp".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "OTEL_EXPORTER_OTLP_PROTOCOL=\"udp\" is not one of grpc, http/protobuf, http/json"
        );
    }

    #[test]
    fn ca_certificate_and_timeouts_from_the_environment() {
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                "/etc/traces-ca.pem",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "750"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example:4317"),
        ]);
        let t = resolve_target(&args(&[]), &env).unwrap();
        assert_eq!(
            t.ca_certificate.as_deref(),
            Some(std::path::Path::new("/etc/traces-ca.pem"))
        );
        // The first variable that is a number counts; zero means the default.
        assert_eq!(t.timeout, DEFAULT_TIMEOUT);
        assert_eq!(t.endpoint, "https://otel.example:4317");
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "750"),
        ]);
        let t = resolve_target(&args(&[]), &env).unwrap();
        assert_eq!(t.timeout, Duration::from_millis(750));
        assert_eq!(t.ca_certificate, None);
        let t = resolve_target(&args(&["--timeout", "2s"]), &env).unwrap();
        assert_eq!(t.timeout, Duration::from_secs(2));
        assert_eq!(
            base_endpoint("otel:4318/v1/traces/", OtlpProtocol::HttpJson),
            "http://otel:4318/v1/traces"
        );
    }
}
