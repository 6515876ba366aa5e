//! Admission: one byte budget shared by every OTLP request in flight, on
//! both receivers, so that memory stays bounded however many senders push
//! at once.
//!
//! The middleware reads each request body itself, charging every chunk to
//! the budget as it arrives, and decompresses it (HTTP `Content-Encoding`,
//! gRPC per-message compression) charging the output too, in 64 KiB steps:
//! a gzip bomb is cut at the per-request limit and never holds more than it
//! was charged. The charge is held until the request is answered, which
//! covers decoding and extraction, whose memory is proportional to it.
//! When the budget is spent the request is refused at once, with nothing
//! acknowledged: HTTP 429 with `Retry-After`, gRPC UNAVAILABLE, both
//! retryable for OTLP exporters.
//!
//! Then it counts what decoding will cost on the plain bytes
//! ([`provgraph_otlp::cost`]): a request over the collector's
//! [`RequestLimits`](provgraph_otlp::cost::RequestLimits) (resources, spans,
//! data points and log records, attributes, decoded bytes) is refused with
//! 413 / RESOURCE_EXHAUSTED naming the limit, and the estimated decoded
//! memory is charged to the same budget as the bytes: a 2-byte empty span
//! is charged at its few hundred decoded bytes.
//!
//! What passes on to the receivers is the plain body with the encoding
//! header removed.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};
use http_body_util::BodyExt;
use provgraph_otlp::body::discard_rest;
use tokio::sync::Semaphore;

use provgraph_otlp::cost::{self, RequestKind, RequestLimits};

use crate::status::{self, Encoding, ErrorKind};
use crate::{Collector, Counters};

const STEP: usize = 64 * 1024;

/// The shared budget and the limits each request is held to.
#[derive(Clone, Debug)]
pub struct Admission {
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    max_request_bytes: usize,
    body_timeout: Duration,
    retry_after_seconds: u32,
    request_limits: RequestLimits,
    counters: Arc<Counters>,
}

/// Budget bytes held by one request, given back when it is dropped.
#[derive(Debug)]
struct Held {
    budget: Arc<Semaphore>,
    bytes: usize,
}

impl Held {
    fn take(&mut self, bytes: usize) -> bool {
        if bytes == 0 {
            return true;
        }
        let Ok(n) = u32::try_from(bytes) else {
            return false;
        };
        match self.budget.try_acquire_many(n) {
            Ok(permit) => {
                permit.forget();
                self.bytes += bytes;
                true
            }
            Err(_) => false,
        }
    }
}

impl Held {
    /// Gives back everything held so far.
    fn release(&mut self) {
        if self.bytes > 0 {
            self.budget.add_permits(self.bytes);
            self.bytes = 0;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}

/// Why a body was not admitted.
#[derive(Debug)]
enum Problem {
    /// Over the per-request limit: [`ErrorKind::TooLarge`].
    TooLarge(String),
    /// The shared budget is spent: [`ErrorKind::Overloaded`].
    Overloaded,
    /// Unreadable or too slow: [`ErrorKind::InvalidArgument`].
    Invalid(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    Grpc,
    Http { json: bool },
}

impl Admission {
    /// A budget of `budget_bytes` across all requests of `collector`'s
    /// receivers (at least one request's worth).
    pub fn new(collector: &Collector, budget_bytes: usize) -> Admission {
        let limits = collector.limits();
        let budget_bytes = budget_bytes
            .max(limits.max_request_bytes)
            .min(Semaphore::MAX_PERMITS);
        Admission {
            budget: Arc::new(Semaphore::new(budget_bytes)),
            budget_bytes,
            max_request_bytes: limits.max_request_bytes,
            body_timeout: limits.body_timeout,
            retry_after_seconds: limits.retry_after_seconds,
            request_limits: limits.request,
            counters: collector.counters().clone(),
        }
    }

    /// Bytes of the budget in use now.
    pub fn in_use(&self) -> usize {
        self.budget_bytes - self.budget.available_permits()
    }

    fn held(&self) -> Held {
        Held {
            budget: self.budget.clone(),
            bytes: 0,
        }
    }

    fn too_large(&self, what: &str) -> Problem {
        Problem::TooLarge(format!(
            "request body larger than {} bytes{what}; send smaller batches",
            self.max_request_bytes
        ))
    }

    fn refuse(&self, wire: Wire, problem: Problem) -> Response {
        match &problem {
            Problem::Overloaded => {
                self.counters
                    .overloaded_requests
                    .fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                self.counters
                    .invalid_requests
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let (kind, message) = match problem {
            Problem::TooLarge(m) => (ErrorKind::TooLarge, m),
            Problem::Overloaded => (
                ErrorKind::Overloaded,
                "receiver busy: too many request bytes in flight; retry later".to_string(),
            ),
            Problem::Invalid(m) => (ErrorKind::InvalidArgument, m),
        };
        match wire {
            Wire::Grpc => status::grpc_status(kind, &message),
            Wire::Http { json } => status::http_status(
                if json {
                    Encoding::Json
                } else {
                    Encoding::Protobuf
                },
                kind,
                &message,
                self.retry_after_seconds,
            ),
        }
    }
}

fn wire_of(headers: &HeaderMap) -> Wire {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/grpc") {
        Wire::Grpc
    } else {
        Wire::Http {
            json: content_type.starts_with("application/json"),
        }
    }
}

/// Reads `body`, charging each chunk.
async fn read_body(admission: &Admission, body: Body, held: &mut Held) -> Result<Vec<u8>, Problem> {
    let mut body = body;
    let mut out: Vec<u8> = Vec::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|err| Problem::Invalid(format!("cannot read request body: {err}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            // Refused, the rest of the body is read (and dropped, holding
            // nothing) so that the sender reads the 413 or 429 rather than a
            // connection cut mid-request.
            if out.len() + data.len() > admission.max_request_bytes {
                out = Vec::new();
                discard_rest(&mut body).await;
                return Err(admission.too_large(""));
            }
            if !held.take(data.len()) {
                out = Vec::new();
                held.release();
                discard_rest(&mut body).await;
                return Err(Problem::Overloaded);
            }
            out.extend_from_slice(&data);
        }
        Ok(())
    };
    match tokio::time::timeout(admission.body_timeout, read).await {
        Err(_) => Err(Problem::Invalid(format!(
            "request body not received within {:?}",
            admission.body_timeout
        ))),
        Ok(Err(problem)) => Err(problem),
        Ok(Ok(())) => Ok(out),
    }
}

/// Decompresses `input` as `encoding` into at most `limit` bytes, charging
/// the output.
fn inflate(
    encoding: &str,
    input: &[u8],
    limit: usize,
    held: &mut Held,
) -> Result<Vec<u8>, Problem> {
    let mut reader: Box<dyn Read + '_> = match encoding {
        "gzip" | "x-gzip" => Box::new(flate2::read::GzDecoder::new(input)),
        "zstd" => match zstd::stream::read::Decoder::new(input) {
            Ok(decoder) => Box::new(decoder),
            Err(err) => {
                return Err(Problem::Invalid(format!(
                    "body does not decompress as zstd: {err}"
                )));
            }
        },
        other => {
            return Err(Problem::Invalid(format!(
                "unsupported content encoding {other:?}: send gzip, zstd or none"
            )));
        }
    };
    let mut out = Vec::new();
    let mut step = vec![0u8; STEP];
    loop {
        let n = reader.read(&mut step).map_err(|err| {
            Problem::Invalid(format!("body does not decompress as {encoding}: {err}"))
        })?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(Problem::TooLarge(format!(
                "request body larger than {limit} bytes after decompression; send smaller batches"
            )));
        }
        if !held.take(n) {
            return Err(Problem::Overloaded);
        }
        out.extend_from_slice(&step[..n]);
    }
}

/// Rewrites gRPC length-prefixed messages compressed with `encoding` as
/// uncompressed ones. `None` when the framing is not what gRPC sends (the
/// body then goes on untouched and tonic answers for it).
fn inflate_grpc(
    encoding: &str,
    body: &[u8],
    limit: usize,
    held: &mut Held,
) -> Result<Option<Vec<u8>>, Problem> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if rest.len() < 5 {
            return Ok(None);
        }
        let compressed = rest[0] & 1 == 1;
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        if rest.len() < 5 + len {
            return Ok(None);
        }
        let payload = &rest[5..5 + len];
        rest = &rest[5 + len..];
        let plain = if compressed {
            inflate(encoding, payload, limit, held)?
        } else {
            payload.to_vec()
        };
        let Ok(plain_len) = u32::try_from(plain.len()) else {
            return Err(Problem::TooLarge("message too large".into()));
        };
        out.push(0);
        out.extend_from_slice(&plain_len.to_be_bytes());
        out.extend_from_slice(&plain);
    }
    Ok(Some(out))
}

/// Which export a request path is (HTTP `/v1/traces`, gRPC
/// `/opentelemetry.proto.collector.trace.v1.TraceService/Export`, ...).
fn request_kind(path: &str) -> Option<RequestKind> {
    if path == "/v1/traces" || path.contains(".trace.v1.TraceService/") {
        Some(RequestKind::Traces)
    } else if path == "/v1/metrics" || path.contains(".metrics.v1.MetricsService/") {
        Some(RequestKind::Metrics)
    } else if path == "/v1/logs" || path.contains(".logs.v1.LogsService/") {
        Some(RequestKind::Logs)
    } else {
        None
    }
}

/// The estimated decoded bytes of a plain `body`, refused past `limits`.
/// gRPC bodies are counted message by message (a compressed message left
/// so is tonic's to refuse); HTTP bodies by their content type (another
/// type is the receiver's to refuse).
fn decoded_cost(
    wire: Wire,
    headers: &HeaderMap,
    kind: RequestKind,
    body: &[u8],
    limits: &RequestLimits,
) -> Result<usize, cost::OverLimit> {
    match wire {
        Wire::Http { json: true } => Ok(cost::json_cost(body, limits)?.decoded_bytes),
        Wire::Http { json: false } => {
            let protobuf = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-protobuf"));
            if protobuf {
                Ok(cost::protobuf_cost(kind, body, limits)?.decoded_bytes)
            } else {
                Ok(0)
            }
        }
        Wire::Grpc => {
            let mut total = 0usize;
            let mut rest = body;
            while rest.len() >= 5 {
                let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
                let Some(payload) = rest.get(5..5 + len) else {
                    break;
                };
                if rest[0] & 1 == 0 {
                    total = total
                        .saturating_add(cost::protobuf_cost(kind, payload, limits)?.decoded_bytes);
                }
                rest = &rest[5 + len..];
            }
            Ok(total)
        }
    }
}

/// Bodies larger than this are counted on a blocking thread.
const COUNT_INLINE_BYTES: usize = 1024 * 1024;

/// Axum middleware for both OTLP receivers (see the module docs).
pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let wire = wire_of(request.headers());
    let (mut parts, body) = request.into_parts();
    let mut held = admission.held();
    let raw = match read_body(&admission, body, &mut held).await {
        Ok(raw) => raw,
        Err(problem) => return admission.refuse(wire, problem),
    };
    let header_name = match wire {
        Wire::Grpc => "grpc-encoding",
        Wire::Http { .. } => "content-encoding",
    };
    let encoding = parts
        .headers
        .get(header_name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v != "identity");
    let mut body = match encoding {
        None => raw,
        Some(encoding) => {
            let limit = admission.max_request_bytes;
            // Decompression is CPU work: off the async threads.
            let result = tokio::task::spawn_blocking(move || {
                let out = match wire {
                    Wire::Grpc => match encoding.as_str() {
                        "gzip" | "zstd" => inflate_grpc(&encoding, &raw, limit, &mut held)
                            .map(|plain| plain.map(|p| (p, true)).unwrap_or((raw, false))),
                        // tonic answers UNIMPLEMENTED for what it does not know.
                        _ => Ok((raw, false)),
                    },
                    Wire::Http { .. } => match encoding.as_str() {
                        "gzip" | "x-gzip" | "zstd" => {
                            inflate(&encoding, &raw, limit, &mut held).map(|p| (p, true))
                        }
                        // The receiver answers 415 for what it does not know.
                        _ => Ok((raw, false)),
                    },
                };
                (out, held)
            })
            .await;
            let (out, back) = match result {
                Ok(done) => done,
                Err(err) => {
                    return admission.refuse(
                        wire,
                        Problem::Invalid(format!("decompression failed: {err}")),
                    );
                }
            };
            held = back;
            match out {
                Ok((plain, inflated)) => {
                    if inflated {
                        parts.headers.remove(header_name);
                    }
                    plain
                }
                Err(problem) => return admission.refuse(wire, problem),
            }
        }
    };
    if let Some(kind) = request_kind(parts.uri.path()) {
        let limits = admission.request_limits;
        let headers = parts.headers.clone();
        let counted = if body.len() <= COUNT_INLINE_BYTES {
            decoded_cost(wire, &headers, kind, &body, &limits).map(|bytes| (bytes, body))
        } else {
            // Counting is CPU work proportional to the body: off the async threads.
            match tokio::task::spawn_blocking(move || {
                decoded_cost(wire, &headers, kind, &body, &limits).map(|bytes| (bytes, body))
            })
            .await
            {
                Ok(counted) => counted,
                Err(err) => {
                    return admission
                        .refuse(wire, Problem::Invalid(format!("counting failed: {err}")));
                }
            }
        };
        let decoded = match counted {
            Ok((decoded, plain)) => {
                body = plain;
                decoded
            }
            Err(over) => return admission.refuse(wire, Problem::TooLarge(over.to_string())),
        };
        if held.bytes.saturating_add(decoded) > admission.budget_bytes {
            return admission.refuse(
                wire,
                Problem::TooLarge(format!(
                    "request needs about {} bytes read and decoded, more than the {} bytes \
                     all requests in flight may hold (--max-inflight-bytes); send smaller batches",
                    held.bytes.saturating_add(decoded),
                    admission.budget_bytes
                )),
            );
        }
        if !held.take(decoded) {
            return admission.refuse(wire, Problem::Overloaded);
        }
    }
    if matches!(wire, Wire::Http { .. }) {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let request = Request::from_parts(parts, Body::from(Bytes::from(body)));
    let response = next.run(request).await;
    drop(held);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn held(bytes: usize) -> (Arc<Semaphore>, Held) {
        let budget = Arc::new(Semaphore::new(bytes));
        (budget.clone(), Held { budget, bytes: 0 })
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn charges_are_given_back() {
        let (budget, mut h) = held(100);
        assert!(h.take(60));
        assert!(!h.take(50), "only 40 left");
        assert!(h.take(40));
        assert_eq!(budget.available_permits(), 0);
        drop(h);
        assert_eq!(budget.available_permits(), 100);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit_and_the_budget() {
        let bomb = gzip(&vec![0u8; 8 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        let (budget, mut h) = held(64 * 1024 * 1024);
        match inflate("gzip", &bomb, 1024 * 1024, &mut h) {
            Err(Problem::TooLarge(m)) => assert!(m.contains("after decompression"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(h.bytes <= 1024 * 1024, "charged {}", h.bytes);
        drop(h);
        assert_eq!(budget.available_permits(), 64 * 1024 * 1024);
        // Within the limit but over the budget: overloaded, not too large.
        let (_, mut h) = held(256 * 1024);
        assert!(matches!(
            inflate("gzip", &bomb, 16 * 1024 * 1024, &mut h),
            Err(Problem::Overloaded)
        ));
    }

    #[test]
    fn grpc_frames_come_out_uncompressed() {
        let message = b"hello provgraph".repeat(100);
        let compressed = gzip(&message);
        let mut body = vec![1u8];
        body.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
        body.extend_from_slice(&compressed);
        let (_, mut h) = held(1 << 20);
        let out = inflate_grpc("gzip", &body, 1 << 20, &mut h)
            .unwrap()
            .unwrap();
        assert_eq!(out[0], 0);
        assert_eq!(
            u32::from_be_bytes([out[1], out[2], out[3], out[4]]) as usize,
            message.len()
        );
        assert_eq!(&out[5..], &message[..]);
        // Truncated framing is left to tonic.
        assert!(
            inflate_grpc("gzip", &body[..body.len() - 1], 1 << 20, &mut h)
                .unwrap()
                .is_none()
        );
    }
}
