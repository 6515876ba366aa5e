//! Vulnerability writes: OSV records (the newer `modified` wins), their
//! names and package index, matching them against the graph both ways
//! (AFFECTS edges backed by an `osv:ID` evidence row), scanner findings and
//! OpenVEX statements.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use provgraph_model::{EdgeKind, NodeKind, NodeRef};
use provgraph_vuln::matching::Subject;
use provgraph_vuln::{OsvRecord, ScanReport, VexDocument};
use sqlx::QueryBuilder;

use super::common::{push_in_ids, push_in_strings};
use super::gc::collect_garbage;
use super::writes::{upsert_edges, upsert_evidence, upsert_nodes};
use super::{Conn, Db};
use crate::StoreError;
use crate::plan::{EdgeKey, Seen};
use crate::sql::CHUNK;
use crate::vulns::{
    OsvWriteStats, RecordIndex, ScanWriteStats, VexWriteStats, VulnProvenance, match_detail,
};

/// ms since the epoch of an OSV or VEX time.
fn millis(time: &provgraph_vuln::Timestamp) -> i64 {
    time.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(time.nanos / 1_000_000))
}

/// The evidence trace id of an OSV record's matches.
fn osv_trace(id: &str) -> String {
    format!("osv:{id}")
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::Encode)
}

pub(crate) async fn write_osv(
    conn: &mut Conn,
    records: &[OsvRecord],
    provenance: &VulnProvenance,
    now: i64,
) -> Result<OsvWriteStats, StoreError> {
    // One record per id: the newest the batch holds.
    let mut by_id: BTreeMap<&str, &OsvRecord> = BTreeMap::new();
    for record in records {
        let newer = by_id
            .get(record.id.as_str())
            .is_none_or(|kept| record.modified >= kept.modified);
        if newer {
            by_id.insert(&record.id, record);
        }
    }
    let mut stats = OsvWriteStats {
        unchanged: (records.len() - by_id.len()) as u64,
        ..OsvWriteStats::default()
    };
    let nodes: BTreeMap<NodeRef, Seen> = by_id
        .keys()
        .map(|id| (NodeRef::new(NodeKind::Vulnerability, *id), Seen::at(now)))
        .collect();
    let node_ids = upsert_nodes(conn, &nodes).await?;
    let mut existing: HashMap<i64, (Option<i64>, String)> = HashMap::new();
    let ids: Vec<i64> = node_ids.values().copied().collect();
    for chunk in ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT node_id, modified, record FROM vuln_records WHERE node_id",
        );
        push_in_ids(&mut qb, chunk);
        let rows: Vec<(i64, Option<i64>, String)> =
            qb.build_query_as().fetch_all(&mut *conn).await?;
        existing.extend(rows.into_iter().map(|(id, m, r)| (id, (m, r))));
    }
    let mut changed: Vec<(i64, &OsvRecord, String)> = Vec::new();
    for (id, record) in &by_id {
        let node = NodeRef::new(NodeKind::Vulnerability, *id);
        let Some(node_id) = node_ids.get(&node).copied() else {
            return Err(StoreError::Corrupt(
                "vulnerability node missing after upsert".into(),
            ));
        };
        let json = encode(record)?;
        let modified = record.modified.as_ref().map(millis);
        match existing.get(&node_id) {
            None => stats.new += 1,
            Some((stored, stored_json)) => {
                let newer = match (modified, stored) {
                    (Some(new), Some(old)) => new > *old,
                    _ => json != *stored_json,
                };
                if !newer {
                    stats.unchanged += 1;
                    continue;
                }
                stats.updated += 1;
            }
        }
        changed.push((node_id, record, json));
    }
    if changed.is_empty() {
        return Ok(stats);
    }
    for chunk in changed.chunks(CHUNK / 2) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO vuln_records (node_id, osv_id, modified, withdrawn, summary, severity, \
             refs, record, origin, source, principal, first_seen, last_seen) ",
        );
        let mut failed = None;
        qb.push_values(chunk, |mut row, (node_id, record, json)| {
            let severity = encode(&record.severity).unwrap_or_else(|err| {
                failed = Some(err);
                String::new()
            });
            let refs = encode(&record.references).unwrap_or_default();
            row.push_bind(*node_id)
                .push_bind(record.id.clone())
                .push_bind(record.modified.as_ref().map(millis))
                .push_bind(record.withdrawn.as_ref().map(millis))
                .push_bind(record.summary.clone())
                .push_bind(severity)
                .push_bind(refs)
                .push_bind(json.clone())
                .push_bind(provenance.origin())
                .push_bind(provenance.source.clone())
                .push_bind(provenance.principal.clone())
                .push_bind(now)
                .push_bind(now);
        });
        if let Some(err) = failed {
            return Err(err);
        }
        qb.push(
            " ON CONFLICT (node_id) DO UPDATE SET osv_id = excluded.osv_id, \
             modified = excluded.modified, withdrawn = excluded.withdrawn, \
             summary = excluded.summary, severity = excluded.severity, refs = excluded.refs, \
             record = excluded.record, origin = excluded.origin, source = excluded.source, \
             principal = excluded.principal, last_seen = excluded.last_seen",
        );
        qb.build().execute(&mut *conn).await?;
    }
    let changed_ids: Vec<i64> = changed.iter().map(|(id, _, _)| *id).collect();
    for table in ["vuln_names", "vuln_packages"] {
        for chunk in changed_ids.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db>::new(format!("DELETE FROM {table} WHERE node_id"));
            push_in_ids(&mut qb, chunk);
            qb.build().execute(&mut *conn).await?;
        }
    }
    let mut names: BTreeSet<(String, i64, String)> = BTreeSet::new();
    let mut packages: BTreeSet<(String, i64)> = BTreeSet::new();
    for (node_id, record, _) in &changed {
        for name in std::iter::once(&record.id).chain(&record.aliases) {
            names.insert((name.to_lowercase(), *node_id, name.clone()));
        }
        for affected in &record.affected {
            if let Some(package) = affected.package_key() {
                packages.insert((package, *node_id));
            }
        }
    }
    insert_names(conn, &names).await?;
    let packages: Vec<(String, i64)> = packages.into_iter().collect();
    for chunk in packages.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO vuln_packages (package, node_id) ");
        qb.push_values(chunk, |mut row, (package, node)| {
            row.push_bind(package.clone()).push_bind(*node);
        });
        qb.push(" ON CONFLICT (package, node_id) DO NOTHING");
        qb.build().execute(&mut *conn).await?;
    }
    stats.affects = rematch(conn, &changed, &node_ids, now).await?;
    Ok(stats)
}

async fn insert_names(
    conn: &mut Conn,
    names: &BTreeSet<(String, i64, String)>,
) -> sqlx::Result<()> {
    let names: Vec<&(String, i64, String)> = names.iter().collect();
    for chunk in names.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO vuln_names (name, node_id, written) ");
        qb.push_values(chunk, |mut row, (name, node, written)| {
            row.push_bind(name.clone())
                .push_bind(*node)
                .push_bind(written.clone());
        });
        qb.push(" ON CONFLICT (name, node_id) DO NOTHING");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// A graph node that may be matched: its id, key and what it is for
/// matching.
type Candidate = (NodeRef, i64, Subject);

/// Withdraws the changed records' matches and matches them again against
/// every MODULE, PACKAGE and GOMOD node they may cover.
async fn rematch(
    conn: &mut Conn,
    changed: &[(i64, &OsvRecord, String)],
    keep: &HashMap<NodeRef, i64>,
    now: i64,
) -> Result<u64, StoreError> {
    let traces: Vec<String> = changed.iter().map(|(_, r, _)| osv_trace(&r.id)).collect();
    let mut withdrawn = Vec::new();
    for chunk in traces.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM edge_evidence WHERE trace_id");
        push_in_strings(&mut qb, chunk);
        qb.push(" RETURNING edge_id");
        let rows: Vec<(i64,)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        withdrawn.extend(rows.into_iter().map(|(id,)| id));
    }
    let records: Vec<(i64, OsvRecord)> = changed
        .iter()
        .filter(|(_, r, _)| r.withdrawn.is_none())
        .map(|(id, r, _)| (*id, (*r).clone()))
        .collect();
    let mut packages: BTreeSet<String> = BTreeSet::new();
    let mut releases = false;
    for (_, record) in &records {
        for affected in &record.affected {
            if affected.is_go_release() {
                releases = true;
            } else if let Some(package) = affected.package_key() {
                packages.insert(package);
            }
        }
    }
    let mut candidates = module_candidates(conn, &packages).await?;
    if releases {
        candidates.extend(release_candidates(conn, None).await?);
    }
    let written = write_matches(conn, &records, &candidates, now).await?;
    withdrawn.sort_unstable();
    withdrawn.dedup();
    collect_garbage(conn, &withdrawn, Vec::new(), keep).await?;
    Ok(written)
}

/// MODULE and PACKAGE nodes of the packages: by key prefix for a few, all
/// of them for many.
async fn module_candidates(
    conn: &mut Conn,
    packages: &BTreeSet<String>,
) -> Result<Vec<Candidate>, StoreError> {
    let mut rows: Vec<(i64, i16, String)> = Vec::new();
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    if packages.len() <= 32 {
        for package in packages {
            let escaped: String = package
                .chars()
                .flat_map(|c| match c {
                    '\\' | '%' | '_' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            let found: Vec<(i64, i16, String)> = sqlx::query_as(
                "SELECT id, kind, key FROM nodes WHERE kind IN ($1, $2) AND key LIKE $3 ESCAPE '\\'",
            )
            .bind(NodeKind::Module.code())
            .bind(NodeKind::Package.code())
            .bind(format!("{escaped}@%"))
            .fetch_all(&mut *conn)
            .await?;
            rows.extend(found);
        }
    } else {
        rows = sqlx::query_as("SELECT id, kind, key FROM nodes WHERE kind IN ($1, $2)")
            .bind(NodeKind::Module.code())
            .bind(NodeKind::Package.code())
            .fetch_all(&mut *conn)
            .await?;
    }
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, key)| candidate(id, kind, key, None))
        .filter(|(_, _, subject)| packages.contains(&subject.package))
        .collect())
}

/// A node as a match candidate; GOMOD nodes need their Go release.
fn candidate(id: i64, kind: i16, key: String, release: Option<&str>) -> Option<Candidate> {
    let kind = NodeKind::from_code(kind)?;
    let subject = match kind {
        NodeKind::Module => Subject::of_module(&key)?,
        NodeKind::Package => Subject::of_purl(&key)?,
        NodeKind::Gomod => Subject::of_go_release(release?)?,
        _ => return None,
    };
    Some((NodeRef::new(kind, key), id, subject))
}

/// GOMOD nodes with the Go release their go.mod names (all, or those of
/// `ids`), as `stdlib` (and `toolchain`) subjects.
async fn release_candidates(
    conn: &mut Conn,
    ids: Option<&[i64]>,
) -> Result<Vec<Candidate>, StoreError> {
    let mut rows: Vec<(i64, String, String)> = Vec::new();
    match ids {
        None => {
            rows = sqlx::query_as(
                "SELECT n.id, n.key, a.value FROM node_attrs a JOIN nodes n ON n.id = a.node_id \
                 WHERE a.name = 'go.module.go_version' AND n.kind = $1",
            )
            .bind(NodeKind::Gomod.code())
            .fetch_all(&mut *conn)
            .await?;
        }
        Some(ids) => {
            for chunk in ids.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT n.id, n.key, a.value FROM node_attrs a JOIN nodes n ON n.id = a.node_id \
                     WHERE a.name = 'go.module.go_version' AND n.id",
                );
                push_in_ids(&mut qb, chunk);
                rows.extend(
                    qb.build_query_as::<(i64, String, String)>()
                        .fetch_all(&mut *conn)
                        .await?,
                );
            }
        }
    }
    let mut out = Vec::new();
    for (id, key, release) in rows {
        if let Some((node, id, subject)) =
            candidate(id, NodeKind::Gomod.code(), key, Some(&release))
        {
            let toolchain = Subject {
                package: provgraph_vuln::matching::TOOLCHAIN.to_string(),
                version: subject.version.clone(),
            };
            out.push((node.clone(), id, subject));
            out.push((node, id, toolchain));
        }
    }
    Ok(out)
}

/// Writes an AFFECTS edge, with its `osv:ID` evidence, from each record to
/// each candidate a range of it covers.
async fn write_matches(
    conn: &mut Conn,
    records: &[(i64, OsvRecord)],
    candidates: &[Candidate],
    now: i64,
) -> Result<u64, StoreError> {
    let mut nodes: HashMap<NodeRef, i64> = HashMap::new();
    let mut edges: BTreeMap<EdgeKey, Seen> = BTreeMap::new();
    let mut evidence: Vec<(EdgeKey, String, String)> = Vec::new();
    let index = RecordIndex::new(records);
    for (node, id, subject) in candidates {
        for (vuln_id, record, affected) in index.covering(&subject.package, &subject.version) {
            let vuln = NodeRef::new(NodeKind::Vulnerability, record.id.clone());
            nodes.insert(vuln.clone(), vuln_id);
            nodes.insert(node.clone(), *id);
            let edge = (EdgeKind::Affects, vuln, node.clone());
            edges.insert(edge.clone(), Seen::at(now));
            evidence.push((
                edge,
                osv_trace(&record.id),
                match_detail(affected, &subject.version),
            ));
        }
    }
    if edges.is_empty() {
        return Ok(0);
    }
    let edge_ids = upsert_edges(conn, &edges, &nodes).await?;
    let mut rows = Vec::with_capacity(evidence.len());
    for ((kind, from, to), trace, detail) in &evidence {
        let id = nodes
            .get(from)
            .zip(nodes.get(to))
            .and_then(|(from, to)| edge_ids.get(&(kind.code(), *from, *to)));
        let Some(id) = id else {
            return Err(StoreError::Corrupt(
                "evidence for an edge that was not written".into(),
            ));
        };
        rows.push((*id, trace.as_str(), detail.as_str(), "osv", Seen::at(now)));
    }
    upsert_evidence(conn, &rows).await?;
    Ok(edges.len() as u64)
}

/// Matches MODULE, PACKAGE and GOMOD nodes created since the last run
/// (node ids above `vuln_match_state.upto`), at most `limit`, against the
/// records that name their packages. Returns the edges written and
/// whether more nodes wait.
pub(crate) async fn match_new_nodes(
    conn: &mut Conn,
    limit: i64,
    now: i64,
) -> Result<(u64, bool), StoreError> {
    let (upto,): (i64,) = sqlx::query_as("SELECT upto FROM vuln_match_state WHERE one = 1")
        .fetch_one(&mut *conn)
        .await?;
    let (newest,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM nodes")
        .fetch_one(&mut *conn)
        .await?;
    let newest = newest.unwrap_or(0);
    if newest <= upto {
        return Ok((0, false));
    }
    let any: Option<(i64,)> = sqlx::query_as("SELECT node_id FROM vuln_packages LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let (rows, more): (Vec<(i64, i16, String)>, bool) = if any.is_none() {
        (Vec::new(), false)
    } else {
        let rows: Vec<(i64, i16, String)> = sqlx::query_as(
            "SELECT id, kind, key FROM nodes WHERE id > $1 AND id <= $2 AND kind IN ($3, $4, $5) \
             ORDER BY id LIMIT $6",
        )
        .bind(upto)
        .bind(newest)
        .bind(NodeKind::Module.code())
        .bind(NodeKind::Package.code())
        .bind(NodeKind::Gomod.code())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let more = rows.len() as i64 >= limit;
        (rows, more)
    };
    let reached = if more {
        rows.last().map_or(newest, |(id, _, _)| *id)
    } else {
        newest
    };
    let gomods: Vec<i64> = rows
        .iter()
        .filter(|(_, kind, _)| *kind == NodeKind::Gomod.code())
        .map(|(id, _, _)| *id)
        .collect();
    let mut candidates: Vec<Candidate> = rows
        .into_iter()
        .filter_map(|(id, kind, key)| candidate(id, kind, key, None))
        .collect();
    if !gomods.is_empty() {
        candidates.extend(release_candidates(conn, Some(&gomods)).await?);
    }
    let packages: Vec<String> = candidates
        .iter()
        .map(|(_, _, s)| s.package.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut records: Vec<(i64, OsvRecord)> = Vec::new();
    let mut seen = BTreeSet::new();
    for chunk in packages.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT r.node_id, r.record FROM vuln_packages p \
             JOIN vuln_records r ON r.node_id = p.node_id \
             WHERE r.withdrawn IS NULL AND p.package",
        );
        push_in_strings(&mut qb, chunk);
        let found: Vec<(i64, String)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        for (id, json) in found {
            if seen.insert(id) {
                let record: OsvRecord = serde_json::from_str(&json).map_err(|err| {
                    StoreError::Corrupt(format!("stored OSV record {id} does not read: {err}"))
                })?;
                records.push((id, record));
            }
        }
    }
    let written = write_matches(conn, &records, &candidates, now).await?;
    sqlx::query("UPDATE vuln_match_state SET upto = $1 WHERE one = 1")
        .bind(reached)
        .execute(&mut *conn)
        .await?;
    Ok((written, more))
}

/// The VULNERABILITY node a report or statement names: the node whose key
/// is that name in any letter case, else a new node keyed as written
/// (named by itself). Aliases join them at read time.
async fn vulnerability_node(
    conn: &mut Conn,
    name: &str,
    now: i64,
) -> Result<(NodeRef, i64), StoreError> {
    let lower = name.to_lowercase();
    let found: Option<(i64, String)> = sqlx::query_as(
        "SELECT n.id, n.key FROM vuln_names v JOIN nodes n ON n.id = v.node_id \
         WHERE v.name = $1 AND LOWER(n.key) = $1 ORDER BY n.id LIMIT 1",
    )
    .bind(lower.clone())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id, key)) = found {
        return Ok((NodeRef::new(NodeKind::Vulnerability, key), id));
    }
    let node = NodeRef::new(NodeKind::Vulnerability, name);
    let ids = upsert_nodes(conn, &BTreeMap::from([(node.clone(), Seen::at(now))])).await?;
    let id = ids
        .get(&node)
        .copied()
        .ok_or_else(|| StoreError::Corrupt("vulnerability node missing after upsert".into()))?;
    insert_names(conn, &BTreeSet::from([(lower, id, name.to_string())])).await?;
    Ok((node, id))
}

/// The ARTIFACT nodes of digests, created when missing.
async fn artifact_nodes(
    conn: &mut Conn,
    digests: &[String],
    now: i64,
) -> Result<HashMap<NodeRef, i64>, StoreError> {
    let nodes: BTreeMap<NodeRef, Seen> = digests
        .iter()
        .map(|d| (NodeRef::new(NodeKind::Artifact, d.clone()), Seen::at(now)))
        .collect();
    upsert_nodes(conn, &nodes).await
}

/// Findings by (vulnerability, image, package): version and level.
type FindingRows = BTreeMap<(i64, i64, String), (Option<String>, Option<String>)>;

pub(crate) async fn write_scan(
    conn: &mut Conn,
    report: &ScanReport,
    images: &[String],
    provenance: &VulnProvenance,
    now: i64,
) -> Result<ScanWriteStats, StoreError> {
    let mut nodes = artifact_nodes(conn, images, now).await?;
    let scanner = report.scanner.as_str();
    let mut vulns: BTreeMap<&str, (NodeRef, i64)> = BTreeMap::new();
    let mut names: Vec<&str> = report
        .findings
        .iter()
        .map(|f| f.vulnerability.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let found = vulnerability_node(conn, name, now).await?;
        nodes.insert(found.0.clone(), found.1);
        vulns.insert(name, found);
    }
    let mut edges: BTreeMap<EdgeKey, Seen> = BTreeMap::new();
    let mut findings: FindingRows = BTreeMap::new();
    for image in images {
        let artifact = NodeRef::new(NodeKind::Artifact, image.clone());
        let Some(artifact_id) = nodes.get(&artifact).copied() else {
            return Err(StoreError::Corrupt(
                "artifact node missing after upsert".into(),
            ));
        };
        for finding in &report.findings {
            let Some((vuln, vuln_id)) = vulns.get(finding.vulnerability.as_str()) else {
                continue;
            };
            edges.insert(
                (EdgeKind::Affects, vuln.clone(), artifact.clone()),
                Seen::at(now),
            );
            let package = finding
                .purl
                .clone()
                .or_else(|| finding.package.clone())
                .unwrap_or_default();
            findings.insert(
                (*vuln_id, artifact_id, package),
                (
                    finding.version.clone(),
                    finding.level.map(|l| l.as_str().to_string()),
                ),
            );
        }
    }
    let edge_ids = upsert_edges(conn, &edges, &nodes).await?;
    let trace = format!("scan:{}", provenance.source);
    let rows: Vec<(i64, &str, &str, &str, Seen)> = edge_ids
        .values()
        .map(|id| (*id, trace.as_str(), "", scanner, Seen::at(now)))
        .collect();
    upsert_evidence(conn, &rows).await?;
    let findings: Vec<_> = findings.into_iter().collect();
    for chunk in findings.chunks(CHUNK / 2) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO vuln_findings (vuln_id, artifact_id, scanner, package, version, level, \
             origin, source, principal, first_seen, last_seen) ",
        );
        qb.push_values(
            chunk,
            |mut row, ((vuln, artifact, package), (version, level))| {
                row.push_bind(*vuln)
                    .push_bind(*artifact)
                    .push_bind(scanner)
                    .push_bind(package.clone())
                    .push_bind(version.clone())
                    .push_bind(level.clone())
                    .push_bind(provenance.origin())
                    .push_bind(provenance.source.clone())
                    .push_bind(provenance.principal.clone())
                    .push_bind(now)
                    .push_bind(now);
            },
        );
        qb.push(
            " ON CONFLICT (vuln_id, artifact_id, scanner, package) DO UPDATE SET \
             version = excluded.version, level = excluded.level, origin = excluded.origin, \
             source = excluded.source, principal = excluded.principal, last_seen = excluded.last_seen",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(ScanWriteStats {
        images: images.to_vec(),
        findings: findings.len() as u64,
        vulnerabilities: vulns.len() as u64,
    })
}

pub(crate) async fn write_vex(
    conn: &mut Conn,
    document: &VexDocument,
    only: Option<&str>,
    provenance: &VulnProvenance,
    now: i64,
) -> Result<VexWriteStats, StoreError> {
    let mut stats = VexWriteStats {
        skipped_products: document.skipped_products as u64,
        ..VexWriteStats::default()
    };
    let mut digests: Vec<String> = document
        .statements
        .iter()
        .flat_map(|s| s.digests.iter().cloned())
        .filter(|d| only.is_none_or(|only| only == d))
        .collect();
    digests.sort_unstable();
    digests.dedup();
    let artifacts = artifact_nodes(conn, &digests, now).await?;
    let mut rows: BTreeMap<(i64, i64), (&provgraph_vuln::VexStatement, i64)> = BTreeMap::new();
    for statement in &document.statements {
        let (_, vuln_id) = vulnerability_node(conn, &statement.vulnerability, now).await?;
        let stated_at = statement.timestamp.as_ref().map_or(now, millis);
        for digest in &statement.digests {
            if only.is_some_and(|only| only != digest) {
                continue;
            }
            let artifact = NodeRef::new(NodeKind::Artifact, digest.clone());
            let Some(artifact_id) = artifacts.get(&artifact).copied() else {
                return Err(StoreError::Corrupt(
                    "artifact node missing after upsert".into(),
                ));
            };
            // Within one document, the later statement on the same pair
            // is the one kept.
            let later = rows
                .get(&(vuln_id, artifact_id))
                .is_none_or(|(_, at)| stated_at >= *at);
            if later {
                rows.insert((vuln_id, artifact_id), (statement, stated_at));
            }
        }
    }
    let rows: Vec<_> = rows.into_iter().collect();
    for chunk in rows.chunks(CHUNK / 2) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO vex_statements (vuln_id, artifact_id, source, status, justification, \
             impact_statement, stated_at, origin, principal, first_seen) ",
        );
        qb.push_values(chunk, |mut row, ((vuln, artifact), (statement, at))| {
            row.push_bind(*vuln)
                .push_bind(*artifact)
                .push_bind(provenance.source.clone())
                .push_bind(statement.status.as_str())
                .push_bind(statement.justification.clone())
                .push_bind(statement.impact_statement.clone())
                .push_bind(*at)
                .push_bind(provenance.origin())
                .push_bind(provenance.principal.clone())
                .push_bind(now);
        });
        qb.push(
            " ON CONFLICT (vuln_id, artifact_id, source) DO UPDATE SET status = excluded.status, \
             justification = excluded.justification, impact_statement = excluded.impact_statement, \
             stated_at = excluded.stated_at, origin = excluded.origin, principal = excluded.principal",
        );
        qb.build().execute(&mut *conn).await?;
    }
    stats.statements = rows.len() as u64;
    Ok(stats)
}
