//! Events: outbox rows (`provgraph_store::outbox`) as CloudEvents 1.0
//! (structured JSON), the verdict tracker that keeps each artifact's stored
//! verdict current (so that verdict.changed is written in the verdict
//! update's transaction), and the in-process feed behind the GraphQL
//! subscription `events(types:)` (`schema/subscription.rs`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use provgraph_store::outbox::{EventKind, OutboxEvent};
use provgraph_store::{Store, StoreError};
use serde_json::json;

pub use crate::schema::subscription::{CloudEvent, EventFeed};
use crate::verdict::Verdicts;

/// The CloudEvents `source` of every event.
pub const SOURCE: &str = "/provgraph";

/// How often the tracker and the feed look for new outbox rows.
pub const POLL_EVERY: Duration = Duration::from_millis(200);
/// How often a feed whose cursor could not be read tries again.
const RETRY_START: Duration = Duration::from_secs(5);

/// Outbox rows every reader is past are kept this long, then pruned.
pub const KEEP_EVENTS: Duration = Duration::from_secs(24 * 3600);

/// How often the tracker prunes the outbox.
const PRUNE_EVERY: Duration = Duration::from_secs(300);

/// The verdict tracker's cursor name in `event_cursors`.
const TRACKER: &str = "#verdicts";

/// Outbox rows read at once.
const BATCH: i64 = 500;

/// Makes CloudEvents of outbox rows: reads what the data needs (a build's
/// commit, the digest's verdict now).
#[derive(Clone)]
pub struct Events {
    pub(crate) store: Store,
    pub(crate) verdicts: Verdicts,
    pub(crate) feed: EventFeed,
}

impl Events {
    /// The verdict answers this uses.
    pub fn verdicts(&self) -> &Verdicts {
        &self.verdicts
    }

    /// The CloudEvent of an outbox row; None for rows that are not
    /// delivered (a signature touched).
    pub async fn cloud_event(&self, row: &OutboxEvent) -> Result<Option<CloudEvent>, StoreError> {
        let Some(kind) = row.kind.cloud_type() else {
            return Ok(None);
        };
        let data = match row.kind {
            EventKind::Touched => return Ok(None),
            EventKind::ArtifactBuilt => json!({
                "digest": row.subject,
                "build": row.object,
                "commit": self.store.commit_of_build(&row.object).await?,
            }),
            EventKind::WorkloadStarted => json!({
                "workload": row.object,
                "digest": row.subject,
                "verdict": self.verdict_now(&row.subject).await,
            }),
            EventKind::VulnerabilityAffects => json!({
                "digest": row.subject,
                "vulnerability": row.object,
            }),
            EventKind::VerdictChanged => json!({
                "digest": row.subject,
                "from": row.detail.as_deref().unwrap_or("UNKNOWN"),
                "to": row.object,
            }),
        };
        Ok(Some(CloudEvent {
            seq: row.seq,
            kind: row.kind,
            document: json!({
                "specversion": "1.0",
                "id": format!("{}-{}", row.created, row.seq),
                "source": SOURCE,
                "type": kind,
                "subject": row.subject,
                "time": crate::time::rfc3339(row.created),
                "datacontenttype": "application/json",
                "data": data,
            }),
        }))
    }

    /// The digest's verdict now: the stored one, else computed.
    async fn verdict_now(&self, digest: &str) -> String {
        if let Ok(Some(verdict)) = self.store.stored_verdict(digest).await {
            return verdict;
        }
        match self.verdicts.of(digest).await {
            Ok(answer) => answer.verdict,
            Err(_) => "UNKNOWN".into(),
        }
    }

    /// Starts the verdict tracker and the subscription feed; both stop
    /// when the handles are aborted. Their cursors are read first, so that
    /// nothing committed after this returns is missed. A database that
    /// cannot be written (a read-only filesystem) does not stop the server
    /// from serving reads: each task says so and reads its cursor again
    /// until it can.
    pub async fn start(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let tracked = self.store.event_cursor(TRACKER).await;
        let fed = self.store.newest_event().await;
        let tracker = {
            let events = self.clone();
            tokio::spawn(async move {
                let mut tracked = tracked;
                let cursor = loop {
                    match tracked {
                        Ok(cursor) => break cursor,
                        Err(err) => {
                            tracing::warn!(error = %err, "verdict tracker: cannot read its cursor; retrying");
                            tokio::time::sleep(RETRY_START).await;
                            tracked = events.store.event_cursor(TRACKER).await;
                        }
                    }
                };
                events.track_verdicts(cursor).await
            })
        };
        let feed = {
            let events = self.clone();
            tokio::spawn(async move {
                let mut fed = fed;
                let cursor = loop {
                    match fed {
                        Ok(cursor) => break cursor,
                        Err(err) => {
                            tracing::warn!(error = %err, "event feed: cannot read the outbox; retrying");
                            tokio::time::sleep(RETRY_START).await;
                            fed = events.store.newest_event().await;
                        }
                    }
                };
                events.feed(cursor).await
            })
        };
        vec![tracker, feed]
    }

    /// Follows the outbox from its own stored cursor: each digest a row
    /// names gets its verdict computed and stored; a change writes a
    /// verdict.changed row in the same transaction (the triggers).
    async fn track_verdicts(&self, mut cursor: i64) {
        let mut pruned = tokio::time::Instant::now();
        loop {
            if pruned.elapsed() > PRUNE_EVERY {
                pruned = tokio::time::Instant::now();
                let before = provgraph_store::now_millis() - KEEP_EVENTS.as_millis() as i64;
                if let Err(err) = self.store.prune_events(before).await {
                    tracing::warn!(error = %err, "cannot prune the events outbox");
                }
            }
            let started = tokio::time::Instant::now();
            match self.track_once(cursor).await {
                Ok(Some(next)) => {
                    cursor = next;
                    // At most half of one core: a flood of new images
                    // must not take the CPU ingest needs.
                    tokio::time::sleep(started.elapsed()).await;
                    continue;
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "verdict tracker: store error; retrying"),
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// One batch after `cursor`; the new cursor when there was one.
    async fn track_once(&self, cursor: i64) -> Result<Option<i64>, String> {
        let store_error = |err: StoreError| err.to_string();
        let rows = self
            .store
            .events_after(cursor, BATCH)
            .await
            .map_err(store_error)?;
        let Some(last) = rows.last().map(|row| row.seq) else {
            return Ok(None);
        };
        let digests: BTreeSet<&str> = rows
            .iter()
            .filter(|row| row.kind != EventKind::VerdictChanged)
            .map(|row| row.subject.as_str())
            .collect();
        // Computed one by one (reads), stored in one transaction: one
        // write (and one take of the outbox's commit-order lock) per batch.
        let mut computed = Vec::with_capacity(digests.len());
        for digest in digests {
            match self.verdicts.of(digest).await {
                Ok(answer) => computed.push((digest.to_string(), answer.verdict)),
                Err(crate::verdict::VerdictError::Malformed(_)) => {}
                Err(crate::verdict::VerdictError::Unavailable(why)) => return Err(why),
            }
        }
        self.store
            .set_verdicts(&computed)
            .await
            .map_err(store_error)?;
        self.store
            .advance_event_cursor(TRACKER, last)
            .await
            .map_err(store_error)?;
        Ok(Some(last))
    }

    /// Follows the outbox from the newest row at start and hands each
    /// delivered event to the subscribers.
    async fn feed(&self, mut cursor: i64) {
        loop {
            let rows = match self.store.events_after(cursor, BATCH).await {
                Ok(rows) => rows,
                Err(err) => {
                    tracing::warn!(error = %err, "event feed: store error; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let full = rows.len() as i64 == BATCH;
            for row in &rows {
                if self.feed.0.receiver_count() > 0
                    && let Ok(Some(event)) = self.cloud_event(row).await
                {
                    let _ = self.feed.0.send(Arc::new(event));
                }
                cursor = row.seq;
            }
            if !full {
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }
}
