//! OTLP senders: `--concurrency` clients in flight, each with its own
//! connection, taking the next pre-encoded request from a shared list and
//! sending it over OTLP/gRPC (a pass-through codec: the bytes on the wire are
//! the prost encoding of the `ExportTraceServiceRequest`, made before timing)
//! or OTLP/HTTP protobuf. Backpressure answers (UNAVAILABLE, 503, 429) are
//! retried after a short sleep and counted; anything else is a failure.

use crate::progress::Progress;
use crate::workload::{Encoded, Signal};
use bytes::{BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Code, Status};

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// OTLP/gRPC (`TraceService/Export`).
    Grpc,
    /// OTLP/HTTP protobuf (`POST /v1/traces`).
    Http,
}

impl Protocol {
    /// Its name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Grpc => "OTLP/gRPC",
            Protocol::Http => "OTLP/HTTP protobuf",
        }
    }
}

/// How the senders behave.
#[derive(Clone, Copy, Debug)]
pub struct SendOptions {
    /// The transport.
    pub protocol: Protocol,
    /// Clients in flight.
    pub concurrency: usize,
    /// Sleep before retrying a backpressure answer.
    pub retry_sleep: Duration,
    /// Attempts per request before it counts as failed.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

/// What one send phase did.
#[derive(Debug, Default)]
pub struct SendReport {
    /// Wall time from the first request to the last acknowledgement.
    pub elapsed: Duration,
    /// Spans acknowledged (answered OK).
    pub spans_acked: u64,
    /// Requests acknowledged.
    pub requests_acked: u64,
    /// Spans the receiver reported as rejected in `partial_success`.
    pub rejected_spans: u64,
    /// Retries by the answer that caused them (UNAVAILABLE, 503, ...).
    pub retries: BTreeMap<String, u64>,
    /// Requests given up on.
    pub failed: u64,
    /// The first few distinct failure or retry messages.
    pub messages: Vec<String>,
    /// Per request: time from its first attempt to its acknowledgement, in µs.
    pub ack_latency_us: Vec<u64>,
}

impl SendReport {
    /// Total backpressure retries.
    pub fn retry_count(&self) -> u64 {
        self.retries.values().sum()
    }

    /// Adds a later round of the same phase to this one.
    pub fn merge(&mut self, other: SendReport) {
        self.elapsed += other.elapsed;
        self.spans_acked += other.spans_acked;
        self.requests_acked += other.requests_acked;
        self.rejected_spans += other.rejected_spans;
        for (k, v) in other.retries {
            *self.retries.entry(k).or_default() += v;
        }
        self.failed += other.failed;
        for m in other.messages {
            if self.messages.len() < 8 && !self.messages.contains(&m) {
                self.messages.push(m);
            }
        }
        self.ack_latency_us.extend(other.ack_latency_us);
    }

    /// Spans acknowledged per second.
    pub fn spans_per_second(&self) -> f64 {
        self.spans_acked as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Encodes pre-encoded request bytes as they are; decodes the response.
#[derive(Clone, Copy, Debug, Default)]
struct PassThrough;

#[derive(Debug)]
struct RawEncoder;

#[derive(Debug)]
struct ResponseDecoder;

impl Codec for PassThrough {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("undecodable ExportTraceServiceResponse: {e}")))
    }
}

/// One attempt's outcome.
enum Outcome {
    /// Acknowledged; spans rejected in `partial_success`.
    Acked(u64),
    /// Retry after a sleep; the label says why.
    Retry(String, String),
    /// Give up on this request.
    Fail(String),
}

enum Client {
    Grpc(tonic::client::Grpc<tonic::transport::Channel>),
    Http(reqwest::Client, String),
}

impl Client {
    async fn connect(
        protocol: Protocol,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<Client, String> {
        match protocol {
            Protocol::Grpc => {
                let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .map_err(|e| format!("bad gRPC endpoint {addr}: {e}"))?
                    .tcp_nodelay(true)
                    .timeout(timeout)
                    .connect_timeout(Duration::from_secs(10))
                    .connect()
                    .await
                    .map_err(|e| format!("cannot connect to OTLP/gRPC at {addr}: {e}"))?;
                Ok(Client::Grpc(tonic::client::Grpc::new(channel)))
            }
            Protocol::Http => {
                let client = reqwest::Client::builder()
                    .tcp_nodelay(true)
                    .timeout(timeout)
                    .pool_max_idle_per_host(1)
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
                Ok(Client::Http(client, format!("http://{addr}")))
            }
        }
    }

    /// Sends one request of `signal`. The three export responses have the
    /// same wire form (`partial_success` = {rejected count, message}), so one
    /// decoder reads them all.
    async fn export(&mut self, body: Bytes, signal: Signal) -> Outcome {
        match self {
            Client::Grpc(grpc) => {
                if let Err(e) = grpc.ready().await {
                    return Outcome::Retry(
                        "not ready".into(),
                        format!("gRPC channel not ready: {e}"),
                    );
                }
                let answer = grpc
                    .unary(
                        tonic::Request::new(body),
                        PathAndQuery::from_static(signal.grpc_path()),
                        PassThrough,
                    )
                    .await;
                match answer {
                    Ok(response) => Outcome::Acked(
                        response
                            .into_inner()
                            .partial_success
                            .map(|p| p.rejected_spans.max(0) as u64)
                            .unwrap_or(0),
                    ),
                    Err(status) => {
                        let label = format!("{:?}", status.code()).to_uppercase();
                        let message = format!("gRPC {label}: {}", status.message());
                        match status.code() {
                            Code::Unavailable | Code::DeadlineExceeded | Code::Aborted => {
                                Outcome::Retry(label, message)
                            }
                            _ => Outcome::Fail(message),
                        }
                    }
                }
            }
            Client::Http(client, url) => {
                let sent = client
                    .post(format!("{url}{}", signal.http_path()))
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await;
                let response = match sent {
                    Ok(r) => r,
                    Err(e) if e.is_timeout() => {
                        return Outcome::Retry("timeout".into(), format!("HTTP timeout: {e}"));
                    }
                    Err(e) => return Outcome::Fail(format!("HTTP request failed: {e}")),
                };
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| format!(" (Retry-After: {v})"))
                    .unwrap_or_default();
                let body = match response.bytes().await {
                    Ok(b) => b,
                    Err(e) => return Outcome::Fail(format!("HTTP {status}: body unreadable: {e}")),
                };
                match status {
                    200 => match ExportTraceServiceResponse::decode(body) {
                        Ok(r) => Outcome::Acked(
                            r.partial_success
                                .map(|p| p.rejected_spans.max(0) as u64)
                                .unwrap_or(0),
                        ),
                        Err(e) => Outcome::Fail(format!(
                            "HTTP 200 with an undecodable ExportTraceServiceResponse: {e}"
                        )),
                    },
                    429 | 502 | 503 | 504 => Outcome::Retry(
                        format!("HTTP {status}"),
                        format!(
                            "HTTP {status}{retry_after}: {}",
                            String::from_utf8_lossy(&body)
                        ),
                    ),
                    _ => {
                        Outcome::Fail(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
                    }
                }
            }
        }
    }
}

#[derive(Default)]
struct Shared {
    report: SendReport,
}

fn note(shared: &Mutex<Shared>, message: String) {
    if let Ok(mut s) = shared.lock()
        && s.report.messages.len() < 8
        && !s.report.messages.contains(&message)
    {
        s.report.messages.push(message);
    }
}

/// Sends every request to `addr`; returns when all are acknowledged or
/// given up on.
pub async fn send_all(
    addr: SocketAddr,
    requests: Arc<Vec<Encoded>>,
    options: SendOptions,
    progress: Arc<Progress>,
) -> Result<SendReport, String> {
    let mut clients = Vec::with_capacity(options.concurrency);
    for _ in 0..options.concurrency.max(1) {
        clients.push(Client::connect(options.protocol, addr, options.timeout).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Mutex::new(Shared::default()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut client in clients {
        let next = Arc::clone(&next);
        let requests = Arc::clone(&requests);
        let shared = Arc::clone(&shared);
        let progress = Arc::clone(&progress);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(requests.len() / options.concurrency.max(1) + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else {
                    break;
                };
                let first = Instant::now();
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match client.export(request.bytes.clone(), request.signal).await {
                        Outcome::Acked(rejected) => {
                            latencies.push(first.elapsed().as_micros() as u64);
                            progress
                                .done
                                .fetch_add(u64::from(request.spans), Ordering::Relaxed);
                            if let Ok(mut s) = shared.lock() {
                                s.report.spans_acked += u64::from(request.spans);
                                s.report.requests_acked += 1;
                                s.report.rejected_spans += rejected;
                            }
                            break;
                        }
                        Outcome::Retry(label, message) => {
                            progress.retries.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut s) = shared.lock() {
                                *s.report.retries.entry(label).or_default() += 1;
                            }
                            note(&shared, message);
                            if attempts >= options.max_attempts {
                                note(&shared, format!("gave up after {attempts} attempts"));
                                if let Ok(mut s) = shared.lock() {
                                    s.report.failed += 1;
                                }
                                break;
                            }
                            tokio::time::sleep(options.retry_sleep).await;
                        }
                        Outcome::Fail(message) => {
                            note(&shared, message);
                            if let Ok(mut s) = shared.lock() {
                                s.report.failed += 1;
                            }
                            break;
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(
            task.await
                .map_err(|e| format!("a sender task failed: {e}"))?,
        );
    }
    let elapsed = started.elapsed();
    let mut report = match Arc::try_unwrap(shared) {
        Ok(m) => m.into_inner().map(|s| s.report).unwrap_or_default(),
        Err(shared) => shared
            .lock()
            .map(|mut s| std::mem::take(&mut s.report))
            .unwrap_or_default(),
    };
    report.elapsed = elapsed;
    report.ack_latency_us = latencies;
    Ok(report)
}
