//! The events outbox's SQL (`migrations/*/0009_events.sql`): events after a
//! sequence number, delivery cursors per endpoint, stored verdicts and the
//! running workloads counted by verdict.

use crate::StoreError;
use crate::outbox::{EventKind, OutboxEvent};

use super::Conn;

/// Events after `after`, in commit order, at most `limit`.
pub(crate) async fn events_after(
    conn: &mut Conn,
    after: i64,
    limit: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    type Stored = (i64, i16, String, String, Option<String>, i64);
    let rows: Vec<Stored> = sqlx::query_as(
        "SELECT seq, kind, subject_key, object_key, detail, created FROM event_outbox \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(seq, kind, subject, object, detail, created)| {
            Ok(OutboxEvent {
                seq,
                kind: EventKind::from_code(kind)
                    .ok_or_else(|| StoreError::unknown("event kind", kind))?,
                subject,
                object,
                detail,
                created,
            })
        })
        .collect()
}

/// The newest event's `seq` (0 when none).
pub(crate) async fn newest(conn: &mut Conn) -> sqlx::Result<i64> {
    let (seq,): (Option<i64>,) = sqlx::query_as("SELECT MAX(seq) FROM event_outbox")
        .fetch_one(&mut *conn)
        .await?;
    Ok(seq.unwrap_or(0))
}

/// The endpoint's cursor; a new endpoint's starts at `start`.
pub(crate) async fn cursor(conn: &mut Conn, endpoint: &str, start: i64) -> sqlx::Result<i64> {
    sqlx::query("INSERT INTO event_cursors (endpoint, upto) VALUES ($1, $2) ON CONFLICT (endpoint) DO NOTHING")
        .bind(endpoint)
        .bind(start)
        .execute(&mut *conn)
        .await?;
    let (upto,): (i64,) = sqlx::query_as("SELECT upto FROM event_cursors WHERE endpoint = $1")
        .bind(endpoint)
        .fetch_one(&mut *conn)
        .await?;
    Ok(upto)
}

/// Moves the endpoint's cursor forward to `upto` (never back).
pub(crate) async fn advance(conn: &mut Conn, endpoint: &str, upto: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE event_cursors SET upto = $2 WHERE endpoint = $1 AND upto < $2")
        .bind(endpoint)
        .bind(upto)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores each (artifact, verdict) as the artifact's current verdict; the
/// triggers write a verdict.changed event when it is new or differs.
pub(crate) async fn set_verdicts(
    conn: &mut Conn,
    verdicts: &[(String, String)],
    now: i64,
) -> sqlx::Result<()> {
    for (artifact, verdict) in verdicts {
        set_verdict(conn, artifact, verdict, now).await?;
    }
    Ok(())
}

async fn set_verdict(conn: &mut Conn, artifact: &str, verdict: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO artifact_verdicts (artifact_key, verdict, updated) VALUES ($1, $2, $3) \
         ON CONFLICT (artifact_key) DO UPDATE SET verdict = excluded.verdict, updated = excluded.updated \
         WHERE artifact_verdicts.verdict <> excluded.verdict",
    )
    .bind(artifact)
    .bind(verdict)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The stored verdict of an artifact.
pub(crate) async fn verdict(conn: &mut Conn, artifact: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT verdict FROM artifact_verdicts WHERE artifact_key = $1")
            .bind(artifact)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(verdict,)| verdict))
}

/// (workload, image) pairs last seen at or after `since`, by the image's
/// stored verdict (`UNKNOWN` when none is stored yet).
pub(crate) async fn running_by_verdict(
    conn: &mut Conn,
    since: i64,
) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT COALESCE(v.verdict, 'UNKNOWN'), COUNT(*) FROM sightings s \
         JOIN nodes a ON a.id = s.artifact_id \
         LEFT JOIN artifact_verdicts v ON v.artifact_key = a.key \
         WHERE s.last_seen >= $1 GROUP BY COALESCE(v.verdict, 'UNKNOWN')",
    )
    .bind(since)
    .fetch_all(&mut *conn)
    .await
}

/// The commit a build was made from, when one is linked.
pub(crate) async fn commit_of_build(conn: &mut Conn, build: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT c.key FROM nodes b JOIN edges e ON e.from_id = b.id AND e.kind = 2 \
         JOIN nodes c ON c.id = e.to_id WHERE b.kind = 4 AND b.key = $1 ORDER BY c.key LIMIT 1",
    )
    .bind(build)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(key,)| key))
}

/// Drops events every reader's cursor is past, created before `before` (ms).
pub(crate) async fn prune(conn: &mut Conn, before: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM event_outbox WHERE created < $1 \
         AND seq <= (SELECT COALESCE(MIN(upto), 0) FROM event_cursors)",
    )
    .bind(before)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
