//! The events outbox: what happened, written by triggers in the same
//! transaction as the fact (`migrations/*/0009_events.sql`), read in commit
//! order by whoever delivers it (webhooks, subscriptions, the verdict
//! tracker), each reader with its own cursor.

use crate::{Store, StoreError, now_millis};

/// What an outbox row says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A signature of the digest was stored or re-verified: only the
    /// verdict tracker reads it; never delivered.
    Touched,
    /// A build's produced digest was first linked (BUILT_BY).
    ArtifactBuilt,
    /// A (workload, digest) pair was first seen.
    WorkloadStarted,
    /// A scanner found a vulnerability in an image.
    VulnerabilityAffects,
    /// An artifact's stored verdict changed.
    VerdictChanged,
}

impl EventKind {
    /// Every delivered kind.
    pub const DELIVERED: [EventKind; 4] = [
        EventKind::WorkloadStarted,
        EventKind::ArtifactBuilt,
        EventKind::VerdictChanged,
        EventKind::VulnerabilityAffects,
    ];

    pub fn code(self) -> i16 {
        match self {
            EventKind::Touched => 0,
            EventKind::ArtifactBuilt => 1,
            EventKind::WorkloadStarted => 2,
            EventKind::VulnerabilityAffects => 3,
            EventKind::VerdictChanged => 4,
        }
    }

    pub fn from_code(code: i16) -> Option<EventKind> {
        [
            EventKind::Touched,
            EventKind::ArtifactBuilt,
            EventKind::WorkloadStarted,
            EventKind::VulnerabilityAffects,
            EventKind::VerdictChanged,
        ]
        .into_iter()
        .find(|kind| kind.code() == code)
    }

    /// The CloudEvents `type` (None: not delivered).
    pub fn cloud_type(self) -> Option<&'static str> {
        match self {
            EventKind::Touched => None,
            EventKind::ArtifactBuilt => Some("dev.provgraph.artifact.built"),
            EventKind::WorkloadStarted => Some("dev.provgraph.workload.started"),
            EventKind::VulnerabilityAffects => Some("dev.provgraph.vulnerability.affects"),
            EventKind::VerdictChanged => Some("dev.provgraph.verdict.changed"),
        }
    }
}

/// One outbox row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Its place in commit order.
    pub seq: i64,
    pub kind: EventKind,
    /// The image digest it is about.
    pub subject: String,
    /// The build, workload or vulnerability key; the new verdict for
    /// verdict.changed; empty for `Touched`.
    pub object: String,
    /// The old verdict for verdict.changed.
    pub detail: Option<String>,
    /// Milliseconds since the epoch.
    pub created: i64,
}

impl Store {
    /// Outbox events after `after`, in commit order, at most `limit`.
    pub async fn events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | outbox::events_after(conn, after, limit)
        ))
    }

    /// The newest outbox event's `seq` (0: none yet).
    pub async fn newest_event(&self) -> Result<i64, StoreError> {
        Ok(on_db!(self, read | conn | outbox::newest(conn)))
    }

    /// The delivery cursor of `endpoint` (every event up to it is done); a
    /// new endpoint's starts at the newest event, so it gets what follows.
    pub async fn event_cursor(&self, endpoint: &str) -> Result<i64, StoreError> {
        let start = self.newest_event().await?;
        Ok(on_db!(
            self,
            write | tx | outbox::cursor(&mut tx, endpoint, start)
        ))
    }

    /// Moves `endpoint`'s cursor forward to `upto`.
    pub async fn advance_event_cursor(&self, endpoint: &str, upto: i64) -> Result<(), StoreError> {
        on_db!(self, write | tx | outbox::advance(&mut tx, endpoint, upto));
        Ok(())
    }

    /// Records each (artifact, verdict) (a GraphQL `Verdict` name) as the
    /// artifact's current one, in one transaction; when one is new or
    /// differs, a verdict.changed event is written in that transaction.
    pub async fn set_verdicts(&self, verdicts: &[(String, String)]) -> Result<(), StoreError> {
        if verdicts.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        on_db!(
            self,
            write | tx | outbox::set_verdicts(&mut tx, verdicts, now)
        );
        Ok(())
    }

    /// The artifact's stored verdict, if one was computed.
    pub async fn stored_verdict(&self, artifact: &str) -> Result<Option<String>, StoreError> {
        Ok(on_db!(self, read | conn | outbox::verdict(conn, artifact)))
    }

    /// (workload, image) pairs last seen at or after `since` (ms), counted
    /// by the image's stored verdict (`UNKNOWN` when none is stored yet).
    pub async fn running_by_verdict(&self, since: i64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | outbox::running_by_verdict(conn, since)
        ))
    }

    /// The commit `build` (a BUILD key) was made from, when linked.
    pub async fn commit_of_build(&self, build: &str) -> Result<Option<String>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | outbox::commit_of_build(conn, build)
        ))
    }

    /// Drops events that every cursor in `event_cursors` is past (the
    /// tracker's and every endpoint's, also of endpoints no longer
    /// configured: delete their rows to let go) and that were created
    /// before `before` (ms).
    pub async fn prune_events(&self, before: i64) -> Result<u64, StoreError> {
        Ok(on_db!(self, write | tx | outbox::prune(&mut tx, before)))
    }
}
