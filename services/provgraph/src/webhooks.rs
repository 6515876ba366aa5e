//! Webhooks (`serve --webhook URL`): one dispatcher task per endpoint
//! follows the events outbox from the endpoint's stored cursor and posts
//! each event as a CloudEvent in structured JSON mode, each in its own task
//! (a failing event does not hold up the others), retried with exponential
//! backoff (1 s, 2 s, 4 s, ... capped at 5 min) until it is answered 2xx or
//! the retry horizon passes. The cursor moves past an event only when it
//! and every earlier one are done, so a crash re-delivers what was in
//! flight (at least once). Ingest never waits for any of it: the outbox
//! rows are written by the store's triggers in the fact's transaction.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use provgraph_api::events::{CloudEvent, Events};
use provgraph_store::Store;
use sha2::{Digest as _, Sha256};

/// Delivery settings.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// A delivery still failing this long after its first try is given up.
    pub retry_horizon: Duration,
    /// HMAC-SHA256 key for the `X-Provgraph-Signature` header.
    pub secret: Option<String>,
}

/// The longest wait between two tries of one event.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long one try may take.
const TRY_TIMEOUT: Duration = Duration::from_secs(10);
/// Events of one endpoint between first try and done, at most; past it the
/// dispatcher reads no further until some finish.
const MAX_PENDING: usize = 4096;
/// Requests to one endpoint at once.
const MAX_CONCURRENT: usize = 32;
/// How often the outbox is read when there was nothing new.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// Outbox rows read at once.
const BATCH: usize = 500;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "x-provgraph-signature";

/// One endpoint's delivery counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    delivered: AtomicU64,
    failed_tries: AtomicU64,
    given_up: AtomicU64,
    pending: AtomicU64,
}

/// The dispatchers' counters by endpoint.
#[derive(Debug, Default)]
pub struct WebhookMetrics {
    endpoints: Vec<(String, Arc<Counters>)>,
}

impl WebhookMetrics {
    /// Prometheus text for every endpoint.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.endpoints.is_empty() {
            return out;
        }
        type Read = fn(&Counters) -> u64;
        let families: [(&str, &str, &str, Read); 4] = [
            (
                "provgraph_webhook_deliveries_total",
                "counter",
                "Events an endpoint answered 2xx.",
                |c| c.delivered.load(Relaxed),
            ),
            (
                "provgraph_webhook_failed_tries_total",
                "counter",
                "Tries that got no answer or not 2xx (each is retried until the horizon).",
                |c| c.failed_tries.load(Relaxed),
            ),
            (
                "provgraph_webhook_given_up_total",
                "counter",
                "Events still failing when the retry horizon passed.",
                |c| c.given_up.load(Relaxed),
            ),
            (
                "provgraph_webhook_pending",
                "gauge",
                "Events read from the outbox and not yet delivered or given up.",
                |c| c.pending.load(Relaxed),
            ),
        ];
        for (name, kind, help, read) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (endpoint, counters) in &self.endpoints {
                let label = endpoint.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "{name}{{endpoint=\"{label}\"}} {}", read(counters));
            }
        }
        out
    }
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Checks the endpoints (plain `http://` URLs: this build has no TLS client).
pub fn check_endpoints(endpoints: &[String]) -> Result<(), String> {
    for endpoint in endpoints {
        match reqwest::Url::parse(endpoint) {
            Ok(url) if url.scheme() == "http" && url.host().is_some() => {}
            Ok(url) if url.scheme() == "https" => {
                return Err(format!(
                    "--webhook {endpoint}: https endpoints need a TLS client, which this build does not have; post to a local relay over http"
                ));
            }
            _ => return Err(format!("--webhook {endpoint:?} is not an http:// URL")),
        }
    }
    Ok(())
}

/// Starts one dispatcher per endpoint, each from its stored cursor (read
/// before this returns, so nothing committed later is missed).
pub async fn start(
    store: Store,
    events: Events,
    endpoints: &[String],
    config: WebhookConfig,
) -> Result<(Vec<tokio::task::JoinHandle<()>>, Arc<WebhookMetrics>), String> {
    let client = reqwest::Client::builder()
        .timeout(TRY_TIMEOUT)
        .build()
        .map_err(|err| err.to_string())?;
    let mut metrics = WebhookMetrics::default();
    let mut tasks = Vec::new();
    let mut seen = BTreeSet::new();
    for endpoint in endpoints {
        if !seen.insert(endpoint.clone()) {
            continue;
        }
        let cursor = store
            .event_cursor(endpoint)
            .await
            .map_err(|err| format!("webhook {endpoint}: cannot read its delivery cursor: {err}"))?;
        let counters = Arc::new(Counters::default());
        metrics.endpoints.push((endpoint.clone(), counters.clone()));
        let dispatcher = Dispatcher {
            store: store.clone(),
            events: events.clone(),
            client: client.clone(),
            endpoint: endpoint.clone(),
            config: config.clone(),
            counters,
            pending: Arc::new(Mutex::new(BTreeSet::new())),
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT)),
        };
        tasks.push(tokio::spawn(dispatcher.run(cursor)));
    }
    Ok((tasks, Arc::new(metrics)))
}

#[derive(Clone)]
struct Dispatcher {
    store: Store,
    events: Events,
    client: reqwest::Client,
    endpoint: String,
    config: WebhookConfig,
    counters: Arc<Counters>,
    /// Events read and not yet done, by `seq`.
    pending: Arc<Mutex<BTreeSet<i64>>>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Dispatcher {
    async fn run(self, mut read: i64) {
        let mut stored = read;
        loop {
            let room = MAX_PENDING.saturating_sub(self.pending_len());
            let mut full = false;
            if room > 0 {
                match self.read_after(read, room.min(BATCH)).await {
                    Ok((last, count)) => {
                        full = count == room.min(BATCH);
                        read = last;
                    }
                    Err(err) => {
                        tracing::warn!(endpoint = %self.endpoint, error = %err, "webhook: cannot read the outbox; retrying")
                    }
                }
            }
            // Done up to just before the oldest pending event.
            let done = self
                .pending
                .lock()
                .map(|p| p.first().map_or(read, |first| first - 1))
                .unwrap_or(stored);
            if done > stored {
                match self.store.advance_event_cursor(&self.endpoint, done).await {
                    Ok(()) => stored = done,
                    Err(err) => {
                        tracing::warn!(endpoint = %self.endpoint, error = %err, "webhook: cannot store the delivery cursor")
                    }
                }
            }
            if !full {
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }

    fn pending_len(&self) -> usize {
        self.pending.lock().map_or(0, |p| p.len())
    }

    /// Reads up to `limit` rows after `after` and starts their deliveries;
    /// returns the last `seq` read and how many rows there were.
    async fn read_after(&self, after: i64, limit: usize) -> Result<(i64, usize), String> {
        let rows = self
            .store
            .events_after(after, limit as i64)
            .await
            .map_err(|err| err.to_string())?;
        let mut last = after;
        for (read, row) in rows.iter().enumerate() {
            let event = match self.events.cloud_event(row).await {
                Ok(event) => event,
                // What was started stays started; the rest is read again.
                Err(err) if read > 0 => {
                    tracing::warn!(endpoint = %self.endpoint, error = %err, "webhook: cannot read an event's data; retrying");
                    return Ok((last, read));
                }
                Err(err) => return Err(err.to_string()),
            };
            if let Some(event) = event {
                if let Ok(mut pending) = self.pending.lock() {
                    pending.insert(row.seq);
                }
                self.counters.pending.fetch_add(1, Relaxed);
                tokio::spawn(self.clone().deliver(event));
            }
            last = row.seq;
        }
        Ok((last, rows.len()))
    }

    /// Tries until 2xx or the horizon; then the event is done.
    async fn deliver(self, event: CloudEvent) {
        let body = event.document.to_string();
        let signature = self.config.secret.as_ref().map(|key| {
            format!(
                "sha256={}",
                hex::encode(hmac_sha256(key.as_bytes(), body.as_bytes()))
            )
        });
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_secs(1);
        loop {
            let answered = {
                let _slot = self.slots.acquire().await;
                let mut request = self
                    .client
                    .post(&self.endpoint)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/cloudevents+json",
                    )
                    .body(body.clone());
                if let Some(signature) = &signature {
                    request = request.header(SIGNATURE_HEADER, signature);
                }
                match request.send().await {
                    Ok(response) if response.status().is_success() => Ok(()),
                    Ok(response) => Err(format!("HTTP {}", response.status())),
                    Err(err) => Err(err.to_string()),
                }
            };
            match answered {
                Ok(()) => {
                    self.counters.delivered.fetch_add(1, Relaxed);
                    break;
                }
                Err(why) => {
                    self.counters.failed_tries.fetch_add(1, Relaxed);
                    if started.elapsed() + backoff > self.config.retry_horizon {
                        self.counters.given_up.fetch_add(1, Relaxed);
                        tracing::warn!(endpoint = %self.endpoint, id = event.id(), error = %why, "webhook: giving up on an event past the retry horizon");
                        break;
                    }
                    tracing::debug!(endpoint = %self.endpoint, id = event.id(), error = %why, retry_in = ?backoff, "webhook: delivery failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(&event.seq);
        }
        self.counters.pending.fetch_sub(1, Relaxed);
    }
}

/// A workload counts as running while its image was seen this recently.
pub const RUNNING_WINDOW: Duration = Duration::from_secs(600);

/// `provgraph_running_workloads{verdict=...}`: (workload, image) pairs seen
/// in the last [`RUNNING_WINDOW`] by the image's stored verdict, every
/// verdict listed (0 when none).
pub async fn running_text(store: &Store) -> String {
    let since = provgraph_store::now_millis() - RUNNING_WINDOW.as_millis() as i64;
    let counts = match store.running_by_verdict(since).await {
        Ok(counts) => counts,
        Err(err) => {
            tracing::warn!(error = %err, "metrics: cannot count running workloads");
            return String::new();
        }
    };
    let mut out = String::from(
        "# HELP provgraph_running_workloads (workload, image) pairs seen in the last 10 minutes, by the image's audit verdict.\n# TYPE provgraph_running_workloads gauge\n",
    );
    let verdicts = [
        "TRUSTED",
        "CONTRADICTED",
        "UNTRUSTED",
        "FORGED",
        "UNSIGNED",
        "UNKNOWN",
    ];
    for verdict in verdicts {
        let count: i64 = counts
            .iter()
            .filter(|(v, _)| v == verdict)
            .map(|(_, count)| count)
            .sum();
        let _ = writeln!(
            out,
            "provgraph_running_workloads{{verdict=\"{verdict}\"}} {count}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test cases 2 and 6 (a key longer than the block).
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn endpoints_are_plain_http() {
        assert!(check_endpoints(&["http://127.0.0.1:9/hook".into()]).is_ok());
        assert!(check_endpoints(&["https://example.com/hook".into()]).is_err());
        assert!(check_endpoints(&["not a url".into()]).is_err());
    }
}
