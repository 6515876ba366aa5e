//! SQL for both databases, written once: the `backend!` macro expands the
//! same functions for SQLite and for PostgreSQL, so that the two stores
//! cannot drift apart. Only trace locking differs (PostgreSQL takes advisory
//! locks; SQLite has one writer).
//!
//! No SQL is ever built from input: values are bound, and the only text that
//! varies is the number of placeholders.

/// Rows per multi-row statement: 1,000 rows of at most 6 columns stays under
/// SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
pub(crate) const CHUNK: usize = 1000;

macro_rules! backend {
    ($db:ty) => {
        use std::collections::{BTreeMap, BTreeSet, HashMap};

        use provgraph_model::{BuildChoice, BuildIdSource, EdgeKind, NodeKind, NodeRef, SpanFacts};
        use sqlx::QueryBuilder;

        use crate::backend::CHUNK;
        use crate::plan::{EdgeKey, Rows, Seen, plan_traces};
        use crate::{EdgeRow, EvidenceRow, NodeRow, WriteStats};

        pub(crate) type Db = $db;
        type Conn = <Db as sqlx::Database>::Connection;

        fn source_code(source: BuildIdSource) -> i16 {
            source as i16
        }

        fn source_from_code(code: i16) -> BuildIdSource {
            match code {
                0 => BuildIdSource::PipelineRunId,
                1 => BuildIdSource::BuildId,
                _ => BuildIdSource::TraceId,
            }
        }

        fn push_in_strings(qb: &mut QueryBuilder<'_, Db>, items: &[String]) {
            qb.push(" IN (");
            let mut list = qb.separated(", ");
            for item in items {
                list.push_bind(item.clone());
            }
            list.push_unseparated(")");
        }

        fn push_in_ids(qb: &mut QueryBuilder<'_, Db>, ids: &[i64]) {
            qb.push(" IN (");
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            list.push_unseparated(")");
        }

        async fn load_builds(
            conn: &mut Conn,
            trace_ids: &[String],
        ) -> sqlx::Result<BTreeMap<String, BuildChoice>> {
            let mut out = BTreeMap::new();
            for chunk in trace_ids.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT trace_id, build_source, build_key FROM traces WHERE trace_id",
                );
                push_in_strings(&mut qb, chunk);
                let rows: Vec<(String, i16, String)> =
                    qb.build_query_as().fetch_all(&mut *conn).await?;
                for (trace_id, source, key) in rows {
                    out.insert(
                        trace_id,
                        BuildChoice {
                            source: source_from_code(source),
                            key,
                        },
                    );
                }
            }
            Ok(out)
        }

        async fn load_span_facts(
            conn: &mut Conn,
            trace_ids: &[String],
        ) -> Result<Vec<(SpanFacts, i64)>, crate::StoreError> {
            let mut out = Vec::new();
            for chunk in trace_ids.chunks(CHUNK) {
                let mut qb =
                    QueryBuilder::<Db>::new("SELECT facts, received FROM span_facts WHERE trace_id");
                push_in_strings(&mut qb, chunk);
                let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
                for (json, received) in rows {
                    let facts: SpanFacts = serde_json::from_str(&json).map_err(|err| {
                        crate::StoreError::Corrupt(format!("stored span facts do not parse: {err}"))
                    })?;
                    out.push((facts, received));
                }
            }
            Ok(out)
        }

        /// Deletes the evidence the traces gave, returning the edges it was for.
        async fn delete_evidence(conn: &mut Conn, trace_ids: &[String]) -> sqlx::Result<Vec<i64>> {
            let mut edges = Vec::new();
            for chunk in trace_ids.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new("DELETE FROM edge_evidence WHERE trace_id");
                push_in_strings(&mut qb, chunk);
                qb.push(" RETURNING edge_id");
                let rows: Vec<(i64,)> = qb.build_query_as().fetch_all(&mut *conn).await?;
                edges.extend(rows.into_iter().map(|(id,)| id));
            }
            edges.sort_unstable();
            edges.dedup();
            Ok(edges)
        }

        async fn upsert_nodes(
            conn: &mut Conn,
            nodes: &BTreeMap<NodeRef, Seen>,
        ) -> sqlx::Result<HashMap<NodeRef, i64>> {
            let mut ids = HashMap::with_capacity(nodes.len());
            let rows: Vec<(&NodeRef, &Seen)> = nodes.iter().collect();
            for chunk in rows.chunks(CHUNK) {
                let mut qb =
                    QueryBuilder::<Db>::new("INSERT INTO nodes (kind, key, first_seen, last_seen) ");
                qb.push_values(chunk, |mut row, (node, seen)| {
                    row.push_bind(node.kind.code())
                        .push_bind(node.key.clone())
                        .push_bind(seen.first)
                        .push_bind(seen.last);
                });
                qb.push(
                    " ON CONFLICT (kind, key) DO UPDATE SET \
                     first_seen = CASE WHEN excluded.first_seen < nodes.first_seen THEN excluded.first_seen ELSE nodes.first_seen END, \
                     last_seen = CASE WHEN excluded.last_seen > nodes.last_seen THEN excluded.last_seen ELSE nodes.last_seen END \
                     RETURNING id, kind, key",
                );
                let returned: Vec<(i64, i16, String)> =
                    qb.build_query_as().fetch_all(&mut *conn).await?;
                for (id, kind, key) in returned {
                    if let Some(kind) = NodeKind::from_code(kind) {
                        ids.insert(NodeRef { kind, key }, id);
                    }
                }
            }
            Ok(ids)
        }

        async fn upsert_edges(
            conn: &mut Conn,
            edges: &BTreeMap<EdgeKey, Seen>,
            node_ids: &HashMap<NodeRef, i64>,
        ) -> Result<HashMap<(i16, i64, i64), i64>, crate::StoreError> {
            let mut rows = Vec::with_capacity(edges.len());
            for ((kind, from, to), seen) in edges {
                let (Some(from), Some(to)) = (node_ids.get(from), node_ids.get(to)) else {
                    return Err(crate::StoreError::Corrupt(format!(
                        "edge endpoint missing after upsert: {from:?} -> {to:?}"
                    )));
                };
                rows.push((kind.code(), *from, *to, *seen));
            }
            let mut ids = HashMap::with_capacity(rows.len());
            for chunk in rows.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO edges (kind, from_id, to_id, first_seen, last_seen) ",
                );
                qb.push_values(chunk, |mut row, (kind, from, to, seen)| {
                    row.push_bind(*kind)
                        .push_bind(*from)
                        .push_bind(*to)
                        .push_bind(seen.first)
                        .push_bind(seen.last);
                });
                qb.push(
                    " ON CONFLICT (from_id, kind, to_id) DO UPDATE SET \
                     first_seen = CASE WHEN excluded.first_seen < edges.first_seen THEN excluded.first_seen ELSE edges.first_seen END, \
                     last_seen = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.last_seen ELSE edges.last_seen END \
                     RETURNING id, kind, from_id, to_id",
                );
                let returned: Vec<(i64, i16, i64, i64)> =
                    qb.build_query_as().fetch_all(&mut *conn).await?;
                for (id, kind, from, to) in returned {
                    ids.insert((kind, from, to), id);
                }
            }
            Ok(ids)
        }

        async fn upsert_evidence(
            conn: &mut Conn,
            rows: &[(i64, &str, &str, &str, Seen)],
        ) -> sqlx::Result<()> {
            for chunk in rows.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO edge_evidence (edge_id, trace_id, span_id, sender, first_seen, last_seen) ",
                );
                qb.push_values(chunk, |mut row, (edge, trace, span, sender, seen)| {
                    row.push_bind(*edge)
                        .push_bind(trace.to_string())
                        .push_bind(span.to_string())
                        .push_bind(sender.to_string())
                        .push_bind(seen.first)
                        .push_bind(seen.last);
                });
                qb.push(
                    " ON CONFLICT (edge_id, trace_id, span_id) DO UPDATE SET \
                     first_seen = CASE WHEN excluded.first_seen < edge_evidence.first_seen THEN excluded.first_seen ELSE edge_evidence.first_seen END, \
                     last_seen = CASE WHEN excluded.last_seen > edge_evidence.last_seen THEN excluded.last_seen ELSE edge_evidence.last_seen END",
                );
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn upsert_attrs(conn: &mut Conn, rows: &[(i64, &str, &str, Seen)]) -> sqlx::Result<()> {
            for chunk in rows.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO node_attrs (node_id, name, value, first_seen, last_seen) ",
                );
                qb.push_values(chunk, |mut row, (node, name, value, seen)| {
                    row.push_bind(*node)
                        .push_bind(name.to_string())
                        .push_bind(value.to_string())
                        .push_bind(seen.first)
                        .push_bind(seen.last);
                });
                qb.push(
                    " ON CONFLICT (node_id, name, value) DO UPDATE SET \
                     last_seen = CASE WHEN excluded.last_seen > node_attrs.last_seen THEN excluded.last_seen ELSE node_attrs.last_seen END",
                );
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn insert_span_facts(
            conn: &mut Conn,
            batch: &[SpanFacts],
            now: i64,
        ) -> Result<(), crate::StoreError> {
            let mut rows = Vec::with_capacity(batch.len());
            let mut seen = BTreeSet::new();
            for facts in batch {
                if seen.insert((facts.trace_id.as_str(), facts.span_id.as_str())) {
                    let json = serde_json::to_string(facts)
                        .map_err(|err| crate::StoreError::Corrupt(err.to_string()))?;
                    rows.push((facts.trace_id.clone(), facts.span_id.clone(), json));
                }
            }
            for chunk in rows.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO span_facts (trace_id, span_id, facts, received) ",
                );
                qb.push_values(chunk, |mut row, (trace, span, json)| {
                    row.push_bind(trace.clone())
                        .push_bind(span.clone())
                        .push_bind(json.clone())
                        .push_bind(now);
                });
                qb.push(" ON CONFLICT (trace_id, span_id) DO NOTHING");
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn upsert_traces(
            conn: &mut Conn,
            builds: &[(&str, &BuildChoice)],
            now: i64,
        ) -> sqlx::Result<()> {
            for chunk in builds.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO traces (trace_id, build_source, build_key, first_seen, last_seen) ",
                );
                qb.push_values(chunk, |mut row, (trace, build)| {
                    row.push_bind(trace.to_string())
                        .push_bind(source_code(build.source))
                        .push_bind(build.key.clone())
                        .push_bind(now)
                        .push_bind(now);
                });
                qb.push(
                    " ON CONFLICT (trace_id) DO UPDATE SET build_source = excluded.build_source, \
                     build_key = excluded.build_key, last_seen = excluded.last_seen",
                );
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Deletes the candidate edges left without evidence, then the
        /// candidate nodes left without edges (and their attributes), except
        /// nodes in `keep`.
        async fn collect_garbage(
            conn: &mut Conn,
            edge_candidates: &[i64],
            mut node_candidates: Vec<i64>,
            keep: &HashMap<NodeRef, i64>,
        ) -> sqlx::Result<(u64, u64)> {
            let mut edges_deleted = 0;
            for chunk in edge_candidates.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new("DELETE FROM edges WHERE id");
                push_in_ids(&mut qb, chunk);
                qb.push(
                    " AND NOT EXISTS (SELECT 1 FROM edge_evidence v WHERE v.edge_id = edges.id) \
                     AND NOT EXISTS (SELECT 1 FROM edge_proofs p WHERE p.edge_id = edges.id) \
                     RETURNING from_id, to_id",
                );
                let rows: Vec<(i64, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
                edges_deleted += rows.len() as u64;
                for (from, to) in rows {
                    node_candidates.push(from);
                    node_candidates.push(to);
                }
            }
            let kept: BTreeSet<i64> = keep.values().copied().collect();
            node_candidates.sort_unstable();
            node_candidates.dedup();
            node_candidates.retain(|id| !kept.contains(id));
            let mut nodes_deleted = 0;
            for chunk in node_candidates.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new("DELETE FROM nodes WHERE id");
                push_in_ids(&mut qb, chunk);
                qb.push(
                    " AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.from_id = nodes.id) \
                     AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.to_id = nodes.id) \
                     RETURNING id",
                );
                let rows: Vec<(i64,)> = qb.build_query_as().fetch_all(&mut *conn).await?;
                nodes_deleted += rows.len() as u64;
                let gone: Vec<i64> = rows.into_iter().map(|(id,)| id).collect();
                if !gone.is_empty() {
                    let mut qb = QueryBuilder::<Db>::new("DELETE FROM node_attrs WHERE node_id");
                    push_in_ids(&mut qb, &gone);
                    qb.build().execute(&mut *conn).await?;
                }
            }
            Ok((edges_deleted, nodes_deleted))
        }

        async fn node_ids_of(conn: &mut Conn, nodes: &[NodeRef]) -> sqlx::Result<Vec<i64>> {
            let mut ids = Vec::new();
            for node in nodes {
                let row: Option<(i64,)> =
                    sqlx::query_as("SELECT id FROM nodes WHERE kind = $1 AND key = $2")
                        .bind(node.kind.code())
                        .bind(node.key.clone())
                        .fetch_optional(&mut *conn)
                        .await?;
                ids.extend(row.map(|(id,)| id));
            }
            Ok(ids)
        }

        /// Writes one batch of span facts in the caller's transaction.
        pub(crate) async fn write_batch(
            conn: &mut Conn,
            batch: &[SpanFacts],
            now: i64,
        ) -> Result<WriteStats, crate::StoreError> {
            let mut trace_ids: Vec<String> = batch.iter().map(|f| f.trace_id.clone()).collect();
            trace_ids.sort_unstable();
            trace_ids.dedup();
            lock_traces(conn, &trace_ids).await?;
            let old = load_builds(conn, &trace_ids).await?;
            let plan = plan_traces(batch, &old);

            let mut rows = Rows::default();
            let changed: Vec<String> = plan.changed.iter().cloned().collect();
            let mut edge_candidates = Vec::new();
            let mut node_candidates = Vec::new();
            if !changed.is_empty() {
                // Derive what the changed traces said before, again, under
                // their new build; drop what it gave under the old one.
                let stored = load_span_facts(conn, &changed).await?;
                edge_candidates = delete_evidence(conn, &changed).await?;
                let old_builds: Vec<NodeRef> = changed
                    .iter()
                    .filter_map(|t| old.get(t))
                    .map(|b| NodeRef::new(NodeKind::Build, b.key.clone()))
                    .collect();
                node_candidates = node_ids_of(conn, &old_builds).await?;
                for (facts, received) in &stored {
                    let build = plan.new_builds.get(&facts.trace_id).and_then(Option::as_ref);
                    rows.add(facts, build, Seen::at(*received));
                }
            }
            for facts in batch {
                let build = plan.new_builds.get(&facts.trace_id).and_then(Option::as_ref);
                rows.add(facts, build, Seen::at(now));
            }

            insert_span_facts(conn, batch, now).await?;
            let builds: Vec<(&str, &BuildChoice)> = plan
                .changed
                .iter()
                .filter_map(|t| {
                    plan.new_builds.get(t).and_then(Option::as_ref).map(|b| (t.as_str(), b))
                })
                .collect();
            upsert_traces(conn, &builds, now).await?;

            let node_ids = upsert_nodes(conn, &rows.nodes).await?;
            let edge_ids = upsert_edges(conn, &rows.edges, &node_ids).await?;
            let mut evidence = Vec::with_capacity(rows.evidence.len());
            for (((kind, from, to), trace, span), (sender, seen)) in &rows.evidence {
                let id = node_ids
                    .get(from)
                    .zip(node_ids.get(to))
                    .and_then(|(from, to)| edge_ids.get(&(kind.code(), *from, *to)));
                let Some(id) = id else {
                    return Err(crate::StoreError::Corrupt(
                        "evidence for an edge that was not written".into(),
                    ));
                };
                evidence.push((*id, trace.as_str(), span.as_str(), sender.as_str(), *seen));
            }
            upsert_evidence(conn, &evidence).await?;
            let mut attrs = Vec::with_capacity(rows.attrs.len());
            for ((node, name, value), seen) in &rows.attrs {
                if let Some(id) = node_ids.get(node) {
                    attrs.push((*id, *name, value.as_str(), *seen));
                }
            }
            upsert_attrs(conn, &attrs).await?;
            let (edges_deleted, nodes_deleted) =
                collect_garbage(conn, &edge_candidates, node_candidates, &node_ids).await?;
            Ok(WriteStats {
                span_facts: batch.len() as u64,
                traces: trace_ids.len() as u64,
                traces_rederived: changed.len() as u64,
                nodes: rows.nodes.len() as u64,
                edges: rows.edges.len() as u64,
                edges_deleted,
                nodes_deleted,
            })
        }

        /// Writes signature records (one transaction, the caller's): the
        /// signature rows, their nodes, and the edges they state or prove.
        /// Proofs a record gave before and no longer gives are withdrawn.
        pub(crate) async fn write_signatures(
            conn: &mut Conn,
            records: &[crate::SignatureRecord],
            now: i64,
        ) -> Result<Vec<i64>, crate::StoreError> {
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
                    return Err(crate::StoreError::Corrupt("signature node missing after upsert".into()));
                };
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO signatures (evidence_id, subject, node_id, format, method, verified, trusted, \
                     signer, issuer, reason, log_index, integrated_time, predicate_type, details, body, first_seen, last_seen) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) \
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
                .bind(record.body.clone())
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
                    edge_rows.insert((edge.kind, edge.from.clone(), edge.to.clone()), Seen::at(now));
                }
                let edge_ids = upsert_edges(conn, &edge_rows, &node_ids).await?;
                for edge in &edges {
                    let key = node_ids
                        .get(&edge.from)
                        .zip(node_ids.get(&edge.to))
                        .and_then(|(from, to)| edge_ids.get(&(edge.kind.code(), *from, *to)));
                    let Some(edge_id) = key else {
                        return Err(crate::StoreError::Corrupt("proof for an edge that was not written".into()));
                    };
                    let origin = edge.origin.map_or("STATED", |o| o.as_str());
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

        /// Records that the image index `index` lists `members` (digest,
        /// platform): one PART_OF edge from each member to the index.
        pub(crate) async fn write_index(
            conn: &mut Conn,
            index: &str,
            members: &[(String, Option<String>)],
            source: &str,
            now: i64,
        ) -> Result<(), crate::StoreError> {
            let index_node = NodeRef::new(NodeKind::Artifact, index.to_string());
            let mut nodes = BTreeMap::new();
            nodes.insert(index_node.clone(), Seen::at(now));
            let mut edges = BTreeMap::new();
            for (digest, _) in members {
                let member = NodeRef::new(NodeKind::Artifact, digest.clone());
                nodes.insert(member.clone(), Seen::at(now));
                edges.insert((EdgeKind::PartOf, member, index_node.clone()), Seen::at(now));
            }
            let node_ids = upsert_nodes(conn, &nodes).await?;
            upsert_edges(conn, &edges, &node_ids).await?;
            let Some(index_id) = node_ids.get(&index_node).copied() else {
                return Err(crate::StoreError::Corrupt("index node missing after upsert".into()));
            };
            for (digest, platform) in members {
                let Some(member_id) = node_ids.get(&NodeRef::new(NodeKind::Artifact, digest.clone())).copied() else {
                    continue;
                };
                sqlx::query(
                    "INSERT INTO index_members (index_id, member_id, platform, source, first_seen, last_seen) \
                     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (index_id, member_id) DO UPDATE SET \
                     platform = excluded.platform, source = excluded.source, last_seen = excluded.last_seen",
                )
                .bind(index_id)
                .bind(member_id)
                .bind(platform.clone())
                .bind(source.to_string())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        /// Records what a bare SBOM claims: the artifact CONTAINS each
        /// package, with the SBOM (`source`, `sender`) as the evidence.
        pub(crate) async fn write_sbom(
            conn: &mut Conn,
            subject: &str,
            packages: &[(NodeKind, String)],
            source: &str,
            sender: &str,
            now: i64,
        ) -> Result<(), crate::StoreError> {
            let artifact = NodeRef::new(NodeKind::Artifact, subject.to_string());
            let mut nodes = BTreeMap::new();
            nodes.insert(artifact.clone(), Seen::at(now));
            let mut edges = BTreeMap::new();
            for (kind, key) in packages {
                let package = NodeRef::new(*kind, key.clone());
                nodes.insert(package.clone(), Seen::at(now));
                edges.insert((EdgeKind::Contains, artifact.clone(), package), Seen::at(now));
            }
            let node_ids = upsert_nodes(conn, &nodes).await?;
            let edge_ids = upsert_edges(conn, &edges, &node_ids).await?;
            let evidence: Vec<(i64, &str, &str, &str, Seen)> = edge_ids
                .values()
                .map(|id| (*id, source, "", sender, Seen::at(now)))
                .collect();
            upsert_evidence(conn, &evidence).await?;
            Ok(())
        }

        // ---- reads ----

        /// The build a trace belongs to, when it is a build's trace.
        pub(crate) async fn trace_build(conn: &mut Conn, trace_id: &str) -> sqlx::Result<Option<String>> {
            let row: Option<(String,)> = sqlx::query_as("SELECT build_key FROM traces WHERE trace_id = $1")
                .bind(trace_id.to_string())
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.map(|(key,)| key))
        }

        /// The indexes listing a digest: (index digest, platform, source).
        pub(crate) async fn indexes_of(
            conn: &mut Conn,
            member: &str,
        ) -> sqlx::Result<Vec<(String, Option<String>, String)>> {
            sqlx::query_as(
                "SELECT i.key, m.platform, m.source FROM index_members m \
                 JOIN nodes i ON i.id = m.index_id JOIN nodes p ON p.id = m.member_id \
                 WHERE p.kind = $1 AND p.key = $2 ORDER BY i.key",
            )
            .bind(NodeKind::Artifact.code())
            .bind(member.to_string())
            .fetch_all(&mut *conn)
            .await
        }

        /// Reads the signature columns starting at column `at`.
        fn signature_row(row: &<Db as sqlx::Database>::Row, at: usize) -> sqlx::Result<crate::SignatureRow> {
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

        pub(crate) async fn signatures_of(conn: &mut Conn, subject: &str) -> sqlx::Result<Vec<crate::SignatureRow>> {
            let rows = sqlx::query(&format!(
                "SELECT {SIGNATURE_COLUMNS} FROM signatures s WHERE s.subject = $1 ORDER BY s.first_seen, s.id"
            ))
            .bind(subject.to_string())
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(|row| signature_row(row, 0)).collect()
        }

        pub(crate) async fn proofs_of(
            conn: &mut Conn,
            edge_ids: &[i64],
        ) -> sqlx::Result<Vec<(i64, String, crate::SignatureRow)>> {
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
                    out.push((row.try_get(0)?, row.try_get(1)?, signature_row(&row, 2)?));
                }
            }
            Ok(out)
        }

        /// Every stored evidence body with the digest it was imported for.
        pub(crate) async fn evidence_bodies(conn: &mut Conn) -> sqlx::Result<Vec<(String, String, String)>> {
            sqlx::query_as("SELECT evidence_id, MIN(subject), MIN(body) FROM signatures GROUP BY evidence_id ORDER BY evidence_id")
                .fetch_all(&mut *conn)
                .await
        }

        type NodeTuple = (i64, i16, String, i64, i64);
        type EdgeTuple = (i64, i16, i64, i64, i64, i64);

        fn node_row((id, kind, key, first_seen, last_seen): NodeTuple) -> Option<NodeRow> {
            Some(NodeRow {
                id,
                kind: NodeKind::from_code(kind)?,
                key,
                first_seen,
                last_seen,
            })
        }

        fn edge_row((id, kind, from_id, to_id, first_seen, last_seen): EdgeTuple) -> Option<EdgeRow> {
            Some(EdgeRow {
                id,
                kind: EdgeKind::from_code(kind)?,
                from_id,
                to_id,
                first_seen,
                last_seen,
            })
        }

        pub(crate) async fn find_node(
            conn: &mut Conn,
            kind: NodeKind,
            key: &str,
        ) -> sqlx::Result<Option<NodeRow>> {
            let row: Option<NodeTuple> = sqlx::query_as(
                "SELECT id, kind, key, first_seen, last_seen FROM nodes WHERE kind = $1 AND key = $2",
            )
            .bind(kind.code())
            .bind(key.to_string())
            .fetch_optional(&mut *conn)
            .await?;
            Ok(row.and_then(node_row))
        }

        /// Nodes of `kind` whose key starts with `prefix` (LIKE with the
        /// wildcards escaped), at most `limit`, by key.
        pub(crate) async fn nodes_with_prefix(
            conn: &mut Conn,
            kind: NodeKind,
            prefix: &str,
            limit: i64,
        ) -> sqlx::Result<Vec<NodeRow>> {
            let escaped: String = prefix
                .chars()
                .flat_map(|c| match c {
                    '\\' | '%' | '_' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            let rows: Vec<NodeTuple> = sqlx::query_as(
                "SELECT id, kind, key, first_seen, last_seen FROM nodes \
                 WHERE kind = $1 AND key LIKE $2 ESCAPE '\\' ORDER BY key LIMIT $3",
            )
            .bind(kind.code())
            .bind(format!("{escaped}%"))
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
            Ok(rows.into_iter().filter_map(node_row).collect())
        }

        pub(crate) async fn nodes_by_id(conn: &mut Conn, ids: &[i64]) -> sqlx::Result<Vec<NodeRow>> {
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT id, kind, key, first_seen, last_seen FROM nodes WHERE id",
                );
                push_in_ids(&mut qb, chunk);
                let rows: Vec<NodeTuple> = qb.build_query_as().fetch_all(&mut *conn).await?;
                out.extend(rows.into_iter().filter_map(node_row));
            }
            Ok(out)
        }

        /// Edges leaving (`outgoing`) or entering the given nodes, at most
        /// `limit` (ordered by id, after `after`).
        pub(crate) async fn edges_of(
            conn: &mut Conn,
            ids: &[i64],
            outgoing: bool,
            kinds: &[EdgeKind],
            after: i64,
            limit: i64,
        ) -> sqlx::Result<Vec<EdgeRow>> {
            let mut out = Vec::new();
            for chunk in ids.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT id, kind, from_id, to_id, first_seen, last_seen FROM edges WHERE ",
                );
                qb.push(if outgoing { "from_id" } else { "to_id" });
                push_in_ids(&mut qb, chunk);
                if !kinds.is_empty() {
                    qb.push(" AND kind IN (");
                    let mut list = qb.separated(", ");
                    for kind in kinds {
                        list.push_bind(kind.code());
                    }
                    list.push_unseparated(")");
                }
                qb.push(" AND id > ");
                qb.push_bind(after);
                qb.push(" ORDER BY id LIMIT ");
                qb.push_bind(limit);
                let rows: Vec<EdgeTuple> = qb.build_query_as().fetch_all(&mut *conn).await?;
                out.extend(rows.into_iter().filter_map(edge_row));
                if out.len() as i64 >= limit {
                    out.truncate(limit as usize);
                    break;
                }
            }
            Ok(out)
        }

        pub(crate) async fn attrs_of(
            conn: &mut Conn,
            ids: &[i64],
        ) -> sqlx::Result<Vec<(i64, String, String)>> {
            let mut out = Vec::new();
            for chunk in ids.chunks(CHUNK) {
                let mut qb =
                    QueryBuilder::<Db>::new("SELECT node_id, name, value FROM node_attrs WHERE node_id");
                push_in_ids(&mut qb, chunk);
                qb.push(" ORDER BY node_id, name, value");
                out.extend(qb.build_query_as().fetch_all(&mut *conn).await?);
            }
            Ok(out)
        }

        pub(crate) async fn evidence_of(
            conn: &mut Conn,
            edge_ids: &[i64],
        ) -> sqlx::Result<Vec<EvidenceRow>> {
            let mut out = Vec::new();
            for chunk in edge_ids.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT edge_id, trace_id, span_id, sender, first_seen, last_seen FROM edge_evidence WHERE edge_id",
                );
                push_in_ids(&mut qb, chunk);
                qb.push(" ORDER BY edge_id, first_seen, trace_id, span_id");
                let rows: Vec<(i64, String, String, String, i64, i64)> =
                    qb.build_query_as().fetch_all(&mut *conn).await?;
                out.extend(rows.into_iter().map(
                    |(edge_id, trace_id, span_id, sender, first_seen, last_seen)| EvidenceRow {
                        edge_id,
                        trace_id,
                        span_id,
                        sender,
                        first_seen,
                        last_seen,
                    },
                ));
            }
            Ok(out)
        }

        /// Every node, edge and piece of evidence, by key (for tests and
        /// exports): no ids or times, so two stores can be compared.
        pub(crate) async fn snapshot(conn: &mut Conn) -> sqlx::Result<crate::Snapshot> {
            let nodes: Vec<(i16, String)> = sqlx::query_as("SELECT kind, key FROM nodes")
                .fetch_all(&mut *conn)
                .await?;
            let edges: Vec<(i16, i16, String, i16, String)> = sqlx::query_as(
                "SELECT e.kind, f.kind, f.key, t.kind, t.key FROM edges e \
                 JOIN nodes f ON f.id = e.from_id JOIN nodes t ON t.id = e.to_id",
            )
            .fetch_all(&mut *conn)
            .await?;
            let evidence: Vec<(i16, String, String, String, String, String)> = sqlx::query_as(
                "SELECT e.kind, f.key, t.key, v.trace_id, v.span_id, v.sender FROM edge_evidence v \
                 JOIN edges e ON e.id = v.edge_id JOIN nodes f ON f.id = e.from_id JOIN nodes t ON t.id = e.to_id",
            )
            .fetch_all(&mut *conn)
            .await?;
            let attrs: Vec<(i16, String, String, String)> = sqlx::query_as(
                "SELECT n.kind, n.key, a.name, a.value FROM node_attrs a JOIN nodes n ON n.id = a.node_id",
            )
            .fetch_all(&mut *conn)
            .await?;
            let dangling: Vec<(i64,)> = sqlx::query_as(
                "SELECT v.edge_id FROM edge_evidence v WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.id = v.edge_id) \
                 UNION ALL SELECT e.id FROM edges e WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = e.from_id) \
                 OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = e.to_id)",
            )
            .fetch_all(&mut *conn)
            .await?;
            Ok(crate::Snapshot::new(nodes, edges, evidence, attrs, dangling.len()))
        }
    };
}

pub(crate) mod sqlite {
    backend!(sqlx::Sqlite);

    /// SQLite has one writer connection: nothing else can touch the traces.
    async fn lock_traces(_conn: &mut Conn, _trace_ids: &[String]) -> sqlx::Result<()> {
        Ok(())
    }
}

pub(crate) mod postgres {
    backend!(sqlx::Postgres);

    /// Serializes writers that touch the same traces: several provgraph
    /// processes may write to one PostgreSQL. Advisory locks are taken in
    /// sorted order, so two writers never deadlock on them.
    async fn lock_traces(conn: &mut Conn, trace_ids: &[String]) -> sqlx::Result<()> {
        if trace_ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "SELECT pg_advisory_xact_lock(h) FROM \
             (SELECT DISTINCT hashtextextended(t, 7) AS h FROM unnest($1::text[]) AS t ORDER BY h) AS hs",
        )
        .bind(trace_ids)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
