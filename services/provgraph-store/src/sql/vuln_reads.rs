//! Vulnerability reads: a vulnerability by id or alias (its group of
//! nodes sharing a name), the images it affects in one statement, VEX
//! statements, and how vulnerabilities were found in images.

use std::collections::{BTreeSet, HashMap};

use provgraph_model::{EdgeKind, NodeKind};
use sqlx::QueryBuilder;

use super::common::push_in_ids;
use super::{Conn, Db};
use crate::rows::NodeTuple;
use crate::sql::CHUNK;
use crate::vulns::{VexRow, VulnFindingRow, VulnRecordRow, VulnerabilityRow};
use crate::{NodeRow, StoreError};

type RecordTuple = (
    i64,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
);

fn record_row(t: RecordTuple) -> VulnRecordRow {
    VulnRecordRow {
        node_id: t.0,
        osv_id: t.1,
        modified: t.2,
        withdrawn: t.3,
        summary: t.4,
        severity: t.5,
        references: t.6,
        origin: t.7,
        source: t.8,
        principal: t.9,
    }
}

/// The vulnerability `name` (an id or alias, any letter case) stands for:
/// the nodes named so, and the nodes sharing a name with them.
pub(crate) async fn vulnerability(
    conn: &mut Conn,
    name: &str,
) -> Result<Option<VulnerabilityRow>, StoreError> {
    let lower = name.trim().to_lowercase();
    let rows: Vec<NodeTuple> = sqlx::query_as(
        "SELECT DISTINCT n.id, n.kind, n.key, n.first_seen, n.last_seen \
         FROM vuln_names a JOIN vuln_names b ON b.node_id = a.node_id \
         JOIN vuln_names c ON c.name = b.name JOIN nodes n ON n.id = c.node_id \
         WHERE a.name = $1",
    )
    .bind(lower.clone())
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let nodes: Vec<NodeRow> = rows
        .into_iter()
        .map(NodeRow::from_stored)
        .collect::<Result<_, _>>()?;
    let group: Vec<i64> = {
        let mut ids: Vec<i64> = nodes.iter().map(|n| n.id).collect();
        ids.sort_unstable();
        ids
    };
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT node_id, osv_id, modified, withdrawn, summary, severity, refs, origin, source, \
         principal FROM vuln_records WHERE node_id",
    );
    push_in_ids(&mut qb, &group);
    let records: Vec<RecordTuple> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let records: HashMap<i64, VulnRecordRow> =
        records.into_iter().map(|t| (t.0, record_row(t))).collect();
    let mut qb =
        QueryBuilder::<Db>::new("SELECT node_id, name, written FROM vuln_names WHERE node_id");
    push_in_ids(&mut qb, &group);
    let names: Vec<(i64, String, String)> = qb.build_query_as().fetch_all(&mut *conn).await?;
    // The node: a record whose id is the name, else a record the name is an
    // alias of, else the node keyed so, else the first.
    let named_directly = |node: &NodeRow| node.key.to_lowercase() == lower;
    let aliased = |node: &NodeRow| names.iter().any(|(id, n, _)| *id == node.id && *n == lower);
    let mut ordered = nodes.clone();
    ordered.sort_by(|a, b| a.key.cmp(&b.key));
    let node = ordered
        .iter()
        .find(|n| records.contains_key(&n.id) && named_directly(n))
        .or_else(|| {
            ordered
                .iter()
                .find(|n| records.contains_key(&n.id) && aliased(n))
        })
        .or_else(|| ordered.iter().find(|n| named_directly(n)))
        .or_else(|| ordered.first())
        .cloned()
        .ok_or_else(|| StoreError::Corrupt("vulnerability group without nodes".into()))?;
    let mut aliases: Vec<String> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::from([node.key.to_lowercase()]);
    let mut written: Vec<&(i64, String, String)> = names.iter().collect();
    written.sort_by(|a, b| (a.0 != node.id, &a.2).cmp(&(b.0 != node.id, &b.2)));
    for (_, name, as_written) in written {
        if seen.insert(name.clone()) {
            aliases.push(as_written.clone());
        }
    }
    let record = records
        .get(&node.id)
        .cloned()
        .or_else(|| ordered.iter().find_map(|n| records.get(&n.id)).cloned());
    Ok(Some(VulnerabilityRow {
        node,
        group,
        aliases,
        record,
    }))
}

/// The images the group's AFFECTS edges reach: an image a scanner found
/// it in, one whose SBOM lists an affected module or package, one built
/// with a go.mod requiring an affected module (or naming an affected Go
/// release), and the platform manifests of such an image index.
pub(crate) async fn affected_artifacts(
    conn: &mut Conn,
    group: &[i64],
) -> Result<Vec<NodeRow>, StoreError> {
    let mut qb = QueryBuilder::<Db>::new(
        "WITH t AS (SELECT e.to_id AS id, n.kind AS kind FROM edges e \
         JOIN nodes n ON n.id = e.to_id WHERE e.kind = ",
    );
    qb.push_bind(EdgeKind::Affects.code());
    qb.push(" AND e.from_id");
    push_in_ids(&mut qb, group);
    qb.push(
        "), gm AS (SELECT e.from_id AS id FROM edges e JOIN t ON e.to_id = t.id \
         WHERE e.kind IN (",
    );
    qb.push_bind(EdgeKind::Requires.code());
    qb.push(", ");
    qb.push_bind(EdgeKind::RequiresIndirect.code());
    qb.push(") UNION SELECT id FROM t WHERE kind = ");
    qb.push_bind(NodeKind::Gomod.code());
    qb.push(
        "), b AS (SELECT e.from_id AS id FROM edges e JOIN gm ON e.to_id = gm.id WHERE e.kind = ",
    );
    qb.push_bind(EdgeKind::UsedGomod.code());
    qb.push(
        "), a AS (SELECT e.from_id AS id FROM edges e JOIN b ON e.to_id = b.id WHERE e.kind = ",
    );
    qb.push_bind(EdgeKind::BuiltBy.code());
    qb.push(" UNION SELECT e.from_id FROM edges e JOIN t ON e.to_id = t.id WHERE e.kind = ");
    qb.push_bind(EdgeKind::Contains.code());
    qb.push(" UNION SELECT id FROM t WHERE kind = ");
    qb.push_bind(NodeKind::Artifact.code());
    qb.push("), m AS (SELECT id FROM a UNION SELECT e.from_id FROM edges e JOIN a ON e.to_id = a.id WHERE e.kind = ");
    qb.push_bind(EdgeKind::PartOf.code());
    qb.push(
        ") SELECT n.id, n.kind, n.key, n.first_seen, n.last_seen FROM m \
         JOIN nodes n ON n.id = m.id WHERE n.kind = ",
    );
    qb.push_bind(NodeKind::Artifact.code());
    qb.push(" ORDER BY n.key");
    let rows: Vec<NodeTuple> = qb.build_query_as().fetch_all(&mut *conn).await?;
    rows.into_iter().map(NodeRow::from_stored).collect()
}

type VexTuple = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    String,
    Option<String>,
    String,
    i64,
);

/// The VEX statements on the vulnerabilities `ids` (or, `by_artifact`, on
/// the images `ids`), by image and time.
pub(crate) async fn vex_of(
    conn: &mut Conn,
    ids: &[i64],
    by_artifact: bool,
) -> Result<Vec<VexRow>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT v.vuln_id, v.artifact_id, a.key, v.status, v.justification, v.impact_statement, \
             v.stated_at, v.origin, v.principal, v.source, v.first_seen FROM vex_statements v \
             JOIN nodes a ON a.id = v.artifact_id WHERE ",
        );
        qb.push(if by_artifact {
            "v.artifact_id"
        } else {
            "v.vuln_id"
        });
        push_in_ids(&mut qb, chunk);
        qb.push(" ORDER BY a.key, v.stated_at, v.first_seen");
        let rows: Vec<VexTuple> = qb.build_query_as().fetch_all(&mut *conn).await?;
        out.extend(rows.into_iter().map(|t| VexRow {
            vuln_id: t.0,
            artifact_id: t.1,
            digest: t.2,
            status: t.3,
            justification: t.4,
            impact_statement: t.5,
            stated_at: t.6,
            origin: t.7,
            principal: t.8,
            source: t.9,
            first_seen: t.10,
        }));
    }
    Ok(out)
}

/// How vulnerabilities were found in the images `ids`: the AFFECTS edges
/// reaching what each image was built with or contains (or itself, or the
/// index listing it), with their evidence and the scanners' findings.
pub(crate) async fn findings_of(
    conn: &mut Conn,
    ids: &[i64],
) -> Result<Vec<VulnFindingRow>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK / 2) {
        let mut qb = QueryBuilder::<Db>::new("WITH a AS (SELECT id, id AS art FROM nodes WHERE id");
        push_in_ids(&mut qb, chunk);
        qb.push(" UNION SELECT e.to_id, e.from_id FROM edges e WHERE e.kind = ");
        qb.push_bind(EdgeKind::PartOf.code());
        qb.push(" AND e.from_id");
        push_in_ids(&mut qb, chunk);
        qb.push("), b AS (SELECT e.to_id AS id, a.art FROM edges e JOIN a ON e.from_id = a.id WHERE e.kind = ");
        qb.push_bind(EdgeKind::BuiltBy.code());
        qb.push("), gm AS (SELECT e.to_id AS id, b.art FROM edges e JOIN b ON e.from_id = b.id WHERE e.kind = ");
        qb.push_bind(EdgeKind::UsedGomod.code());
        qb.push("), t AS (SELECT e.to_id AS id, gm.art FROM edges e JOIN gm ON e.from_id = gm.id WHERE e.kind IN (");
        qb.push_bind(EdgeKind::Requires.code());
        qb.push(", ");
        qb.push_bind(EdgeKind::RequiresIndirect.code());
        qb.push(") UNION SELECT id, art FROM gm UNION SELECT e.to_id, a.art FROM edges e JOIN a ON e.from_id = a.id WHERE e.kind = ");
        qb.push_bind(EdgeKind::Contains.code());
        qb.push(
            " UNION SELECT id, art FROM a) \
             SELECT t.art, v.id, v.kind, v.key, v.first_seen, v.last_seen, s.key, ev.trace_id, \
             ev.span_id, ev.sender, r.origin FROM t JOIN edges e ON e.to_id = t.id AND e.kind = ",
        );
        qb.push_bind(EdgeKind::Affects.code());
        qb.push(
            " JOIN nodes v ON v.id = e.from_id JOIN nodes s ON s.id = t.id \
             JOIN edge_evidence ev ON ev.edge_id = e.id \
             LEFT JOIN vuln_records r ON r.node_id = v.id ORDER BY t.art, v.key, ev.trace_id, ev.span_id",
        );
        type Row = (
            i64,
            i64,
            i16,
            String,
            i64,
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = qb.build_query_as().fetch_all(&mut *conn).await?;
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT f.artifact_id, f.vuln_id, f.scanner, f.package, f.version, f.level, f.origin \
             FROM vuln_findings f WHERE f.artifact_id",
        );
        push_in_ids(&mut qb, chunk);
        type Found = (
            i64,
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
        );
        let found: Vec<Found> = qb.build_query_as().fetch_all(&mut *conn).await?;
        let mut scanned = BTreeSet::new();
        for (art, vid, vkind, vkey, vfirst, vlast, subject, trace, span, sender, record_origin) in
            rows
        {
            let vulnerability = NodeRow::from_stored((vid, vkind, vkey, vfirst, vlast))?;
            if let Some(record) = trace.strip_prefix("osv:") {
                out.push(VulnFindingRow {
                    artifact_id: art,
                    vulnerability,
                    source: "osv".to_string(),
                    subject,
                    detail: format!("{record}: {span}"),
                    level: None,
                    origin: record_origin.unwrap_or_else(|| "CLAIMED".to_string()),
                });
                continue;
            }
            // A scanner's finding on the image: one row per package it named.
            for (_, _, scanner, package, version, level, origin) in found
                .iter()
                .filter(|f| f.0 == art && f.1 == vid && f.2 == sender)
            {
                if !scanned.insert((art, vid, scanner.clone(), package.clone())) {
                    continue;
                }
                out.push(VulnFindingRow {
                    artifact_id: art,
                    vulnerability: vulnerability.clone(),
                    source: scanner.clone(),
                    subject: match version {
                        Some(version) if !package.contains('@') => format!("{package}@{version}"),
                        _ => package.clone(),
                    },
                    detail: trace.clone(),
                    level: level.clone(),
                    origin: origin.clone(),
                });
            }
        }
    }
    Ok(out)
}
