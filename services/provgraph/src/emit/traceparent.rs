//! The CI's trace context (W3C `traceparent` and `tracestate` from
//! `TRACEPARENT` or BuildKit's `OTEL_TRACE_PARENT`), so that the span joins
//! the CI's trace.

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use provgraph_model::ids::Traceparent;

use super::ci::Env;

/// A trace context variable that is not a W3C `traceparent` we can join.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum TraceparentError {
    /// Not `VERSION-TRACEID-SPANID-FLAGS` in hex of the right lengths.
    #[error("{0:?} is not 00-<32 hex>-<16 hex>-<2 hex>")]
    Malformed(String),
    /// A trace or span id of all zeros.
    #[error("{0:?}: an all-zero trace or span id is invalid")]
    AllZero(String),
}

/// The CI's trace context: `TRACEPARENT` (and `TRACESTATE`), as the Jenkins
/// OpenTelemetry plugin and the OpenTelemetry environment-carrier
/// specification name them, else BuildKit's `OTEL_TRACE_PARENT` (and
/// `OTEL_TRACE_STATE`). Returns the variable's name with the outcome.
pub(super) fn parent_context(
    env: Env,
) -> Option<(Result<SpanContext, TraceparentError>, &'static str)> {
    let (value, source, state) = match env("TRACEPARENT") {
        Some(value) => (value, "TRACEPARENT", env("TRACESTATE")),
        None => (
            env("OTEL_TRACE_PARENT")?,
            "OTEL_TRACE_PARENT",
            env("OTEL_TRACE_STATE"),
        ),
    };
    let context = parse_traceparent(&value).map(|context| {
        match state.and_then(|state| state.trim().parse::<TraceState>().ok()) {
            Some(state) => SpanContext::new(
                context.trace_id(),
                context.span_id(),
                context.trace_flags(),
                true,
                state,
            ),
            None => context,
        }
    });
    Some((context, source))
}

/// The W3C `traceparent` (`VERSION-TRACEID-SPANID-FLAGS`), read by the
/// model's one parser, as the context of a remote parent.
fn parse_traceparent(value: &str) -> Result<SpanContext, TraceparentError> {
    let parent = Traceparent::parse(value).map_err(|err| {
        if err.expected == Traceparent::NOT_ALL_ZERO {
            TraceparentError::AllZero(value.to_string())
        } else {
            TraceparentError::Malformed(value.to_string())
        }
    })?;
    Ok(SpanContext::new(
        TraceId::from_bytes(parent.trace_id.bytes()),
        SpanId::from_bytes(parent.span_id),
        TraceFlags::new(parent.flags),
        true,
        TraceState::default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_support::env_of;

    #[test]
    fn traceparent() {
        let context =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(context.is_remote());
        assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(context.is_sampled());
        let zero = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
        assert_eq!(
            parse_traceparent(zero),
            Err(TraceparentError::AllZero(zero.into()))
        );
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "",
        ] {
            assert_eq!(
                parse_traceparent(bad),
                Err(TraceparentError::Malformed(bad.into()))
            );
        }
        // A later version may add fields.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more")
                .is_ok()
        );
    }

    #[test]
    fn parent_from_traceparent_or_buildkit() {
        let env = env_of(&[
            (
                "OTEL_TRACE_PARENT",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("OTEL_TRACE_STATE", "vendor=x"),
        ]);
        let (context, source) = parent_context(&env).unwrap();
        let context = context.unwrap();
        assert_eq!(source, "OTEL_TRACE_PARENT");
        assert_eq!(context.trace_state().get("vendor"), Some("x"));
        let env = env_of(&[
            (
                "TRACEPARENT",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
            ),
            (
                "OTEL_TRACE_PARENT",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        ]);
        let (context, source) = parent_context(&env).unwrap();
        assert_eq!(source, "TRACEPARENT");
        assert_eq!(
            context.unwrap().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert!(parent_context(&env_of(&[])).is_none());
    }
}
