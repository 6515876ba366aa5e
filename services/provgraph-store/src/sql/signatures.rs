//! Signatures and attestations: their rows, the edges they state or prove
//! (`edge_proofs`), and reading them back.

use std::collections::BTreeMap;

use sqlx::QueryBuilder;

use super::common::push_in_ids;
use super::gc::collect_garbage;
use super::writes::{upsert_edges, upsert_nodes};
use super::{Conn, Db};
use crate::plan::{EdgeKey, Seen};
use crate::rows::{origin_from_name, origin_name};
use crate::sql::CHUNK;
use crate::{EvidenceBody, ProofRow, StoreError};

/// Stores an evidence body once (one transaction, the caller's): a body
/// already stored only has its `verified` flag updated; a new unverified
/// one is refused when it would pass `quota`.
async fn write_body(
    conn: &mut Conn,
    body: &crate::NewEvidenceBody,
    quota: &crate::EvidenceQuota,
    now: i64,
) -> Result<(), StoreError> {
    let stored: Option<(i64,)> =
        sqlx::query_as("SELECT bytes FROM evidence_bodies WHERE evidence_id = $1")
            .bind(body.evidence_id.clone())
            .fetch_optional(&mut *conn)
            .await?;
    if stored.is_some() {
        sqlx::query("UPDATE evidence_bodies SET verified = $2 WHERE evidence_id = $1")
            .bind(body.evidence_id.clone())
            .bind(i16::from(body.verified))
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    let bytes = body.body.len() as u64;
    if !body.verified {
        let (all,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM evidence_bodies WHERE verified = 0",
        )
        .fetch_one(&mut *conn)
        .await?;
        if all.max(0) as u64 + bytes > quota.unverified_bytes {
            return Err(StoreError::Quota(format!(
                "the quota of unverified evidence ({} bytes, all senders) is spent: \
                 {all} bytes stored, this body is {bytes}; nothing stored",
                quota.unverified_bytes
            )));
        }
        if let Some(principal) = &body.principal {
            let (mine,): (i64,) = sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM evidence_bodies \
                 WHERE verified = 0 AND principal = $1",
            )
            .bind(principal.clone())
            .fetch_one(&mut *conn)
            .await?;
            if mine.max(0) as u64 + bytes > quota.unverified_bytes_per_principal {
                return Err(StoreError::Quota(format!(
                    "the quota of unverified evidence of {principal} ({} bytes) is spent: \
                     {mine} bytes stored, this body is {bytes}; nothing stored",
                    quota.unverified_bytes_per_principal
                )));
            }
        }
    }
    sqlx::query(
        "INSERT INTO evidence_bodies (evidence_id, subject, body, bytes, verified, principal, first_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(body.evidence_id.clone())
    .bind(body.subject.clone())
    .bind(body.body.clone())
    .bind(bytes as i64)
    .bind(i16::from(body.verified))
    .bind(body.principal.clone())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes one piece of evidence (one transaction, the caller's): its body
/// once ([`write_body`]), then per subject the signature row, its nodes,
/// and the edges it states or proves. Proofs a record gave before and no
/// longer gives are withdrawn.
pub(crate) async fn write_signatures(
    conn: &mut Conn,
    body: &crate::NewEvidenceBody,
    quota: &crate::EvidenceQuota,
    records: &[crate::SignatureRecord],
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    write_body(conn, body, quota, now).await?;
    let mut ids = Vec::with_capacity(records.len());
    for record in records {
        let facts = &record.facts;
        let (edges, _problems) = provgraph_model::proofs::derive_proofs(facts);
        let signature = provgraph_model::proofs::signature_node(facts);
        let mut nodes = BTreeMap::new();
        nodes.insert(signature.clone(), Seen::at(now));
        for edge in &edges {
            nodes.insert(edge.from.clone(), Seen::at(now));
            nodes.insert(edge.to.clone(), Seen::at(now));
        }
        let node_ids = upsert_nodes(conn, &nodes).await?;
        let Some(node_id) = node_ids.get(&signature).copied() else {
            return Err(StoreError::Corrupt(
                "signature node missing after upsert".into(),
            ));
        };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO signatures (evidence_id, subject, node_id, format, method, verified, trusted, \
             signer, issuer, reason, log_index, integrated_time, predicate_type, details, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
             ON CONFLICT (evidence_id, subject) DO UPDATE SET node_id = excluded.node_id, \
             format = excluded.format, method = excluded.method, verified = excluded.verified, \
             trusted = excluded.trusted, signer = excluded.signer, issuer = excluded.issuer, \
             reason = excluded.reason, log_index = excluded.log_index, \
             integrated_time = excluded.integrated_time, predicate_type = excluded.predicate_type, \
             details = excluded.details, last_seen = excluded.last_seen \
             RETURNING id",
        )
        .bind(facts.evidence_id.clone())
        .bind(facts.subject.clone())
        .bind(node_id)
        .bind(record.format.clone())
        .bind(record.method.clone())
        .bind(i16::from(facts.verified))
        .bind(i16::from(record.trusted))
        .bind(record.signer.clone())
        .bind(record.issuer.clone())
        .bind(record.reason.clone())
        .bind(record.log_index)
        .bind(record.integrated_time)
        .bind(record.predicate_type.clone())
        .bind(record.details.clone())
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        let withdrawn: Vec<(i64,)> =
            sqlx::query_as("DELETE FROM edge_proofs WHERE signature_id = $1 RETURNING edge_id")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?;
        let mut edge_rows: BTreeMap<EdgeKey, Seen> = BTreeMap::new();
        for edge in &edges {
            edge_rows.insert(
                (edge.kind, edge.from.clone(), edge.to.clone()),
                Seen::at(now),
            );
        }
        let edge_ids = upsert_edges(conn, &edge_rows, &node_ids).await?;
        for edge in &edges {
            let key = node_ids
                .get(&edge.from)
                .zip(node_ids.get(&edge.to))
                .and_then(|(from, to)| edge_ids.get(&(edge.kind.code(), *from, *to)));
            let Some(edge_id) = key else {
                return Err(StoreError::Corrupt(
                    "proof for an edge that was not written".into(),
                ));
            };
            let origin = origin_name(edge.origin);
            sqlx::query(
                "INSERT INTO edge_proofs (edge_id, signature_id, origin) VALUES ($1, $2, $3) \
                 ON CONFLICT (edge_id, signature_id, origin) DO NOTHING",
            )
            .bind(*edge_id)
            .bind(id)
            .bind(origin.to_string())
            .execute(&mut *conn)
            .await?;
        }
        let candidates: Vec<i64> = withdrawn.into_iter().map(|(e,)| e).collect();
        collect_garbage(conn, &candidates, Vec::new(), &node_ids).await?;
        ids.push(id);
    }
    Ok(ids)
}

/// Reads the signature columns starting at column `at`.
fn signature_row(
    row: &<Db as sqlx::Database>::Row,
    at: usize,
) -> sqlx::Result<crate::SignatureRow> {
    use sqlx::Row;
    Ok(crate::SignatureRow {
        id: row.try_get(at)?,
        evidence_id: row.try_get(at + 1)?,
        subject: row.try_get(at + 2)?,
        node_id: row.try_get(at + 3)?,
        format: row.try_get(at + 4)?,
        method: row.try_get(at + 5)?,
        verified: row.try_get::<i16, _>(at + 6)? != 0,
        trusted: row.try_get::<i16, _>(at + 7)? != 0,
        signer: row.try_get(at + 8)?,
        issuer: row.try_get(at + 9)?,
        reason: row.try_get(at + 10)?,
        log_index: row.try_get(at + 11)?,
        integrated_time: row.try_get(at + 12)?,
        predicate_type: row.try_get(at + 13)?,
        details: row.try_get(at + 14)?,
        first_seen: row.try_get(at + 15)?,
        last_seen: row.try_get(at + 16)?,
    })
}

const SIGNATURE_COLUMNS: &str = "s.id, s.evidence_id, s.subject, s.node_id, s.format, s.method, s.verified, \
     s.trusted, s.signer, s.issuer, s.reason, s.log_index, s.integrated_time, s.predicate_type, \
     s.details, s.first_seen, s.last_seen";

pub(crate) async fn signatures_of(
    conn: &mut Conn,
    subject: &str,
) -> sqlx::Result<Vec<crate::SignatureRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {SIGNATURE_COLUMNS} FROM signatures s WHERE s.subject = $1 ORDER BY s.first_seen, s.id"
    ))
    .bind(subject.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|row| signature_row(row, 0)).collect()
}

/// The signatures proving or stating the edges, by edge and signature.
pub(crate) async fn proofs_of(
    conn: &mut Conn,
    edge_ids: &[i64],
) -> Result<Vec<ProofRow>, StoreError> {
    let mut out = Vec::new();
    for chunk in edge_ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT p.edge_id, p.origin, {SIGNATURE_COLUMNS} FROM edge_proofs p \
             JOIN signatures s ON s.id = p.signature_id WHERE p.edge_id"
        ));
        push_in_ids(&mut qb, chunk);
        qb.push(" ORDER BY p.edge_id, s.id");
        let fetched = qb.build().fetch_all(&mut *conn).await?;
        for row in fetched {
            use sqlx::Row;
            let origin: String = row.try_get(1)?;
            out.push(ProofRow {
                edge_id: row.try_get(0)?,
                origin: origin_from_name(&origin)?,
                signature: signature_row(&row, 2)?,
            });
        }
    }
    Ok(out)
}

/// Every stored evidence body with a digest it was imported for.
pub(crate) async fn evidence_bodies(conn: &mut Conn) -> sqlx::Result<Vec<EvidenceBody>> {
    sqlx::query_as("SELECT evidence_id, subject, body FROM evidence_bodies ORDER BY evidence_id")
        .fetch_all(&mut *conn)
        .await
}
