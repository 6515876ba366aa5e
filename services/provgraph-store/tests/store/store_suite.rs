//! The store test suite, run on a real SQLite file and on a real PostgreSQL
//! database (one fresh database per test).

use std::collections::BTreeSet;
use std::sync::Arc;

use provgraph_model::{
    BuildChoice, BuildIdSource, Image, NodeKind, Sighting, SpanFacts, WorkloadIdentity,
};
use provgraph_store::ingest::{Ingest, IngestConfig, IngestError};
use provgraph_store::testing::{Flavor, TestDb};
use provgraph_store::{Direction, LineageLimits, Snapshot, Store, StoreError};

fn hex32(n: u32) -> String {
    format!("{n:032x}")
}

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

fn commit(n: u32) -> String {
    format!("{n:040x}")
}

/// A span of trace `t` with the given facts.
fn span(t: u32, s: u32) -> SpanFacts {
    SpanFacts {
        trace_id: hex32(t),
        span_id: format!("{s:016x}"),
        sender: "ci".into(),
        ..SpanFacts::default()
    }
}

fn run_id(key: &str) -> Option<BuildChoice> {
    Some(BuildChoice {
        source: BuildIdSource::PipelineRunId,
        key: key.into(),
    })
}

fn image(n: u32) -> Image {
    Image {
        digest: digest(n),
        ..Image::default()
    }
}

/// One build in three spans: a child with the commit, a child with the
/// image, and the root with the run id.
fn build_spans(t: u32) -> Vec<SpanFacts> {
    vec![
        SpanFacts {
            commit: Some(commit(t)),
            repository: Some("github.com/acme/calc".into()),
            gomod: Some(digest(9000 + t)),
            ..span(t, 1)
        },
        SpanFacts {
            produced: vec![Image {
                digest: digest(t),
                names: vec!["ghcr.io/acme/calc".into()],
                tags: vec![format!("v{t}")],
            }],
            ..span(t, 2)
        },
        SpanFacts {
            build_id: run_id(&format!("run-{t}")),
            pipeline: Some("release".into()),
            ..span(t, 3)
        },
    ]
}

async fn store(flavor: Flavor) -> (TestDb, Store) {
    let db = TestDb::new(flavor).await;
    let store = db.store().await.expect("connect");
    (db, store)
}

async fn keys(store: &Store, kind: NodeKind, key: &str, direction: Direction) -> BTreeSet<String> {
    let start = store
        .node(kind, key)
        .await
        .unwrap()
        .expect("start node exists");
    let limits = LineageLimits {
        max_depth: 10,
        max_nodes: 1000,
    };
    let sub = store.lineage(&start, direction, limits).await.unwrap();
    sub.nodes
        .iter()
        .map(|n| format!("{}:{}", n.kind, n.key))
        .collect()
}

async fn children_before_root_give_the_same_graph_as_root_first(flavor: Flavor) {
    let (db_a, a) = store(flavor).await;
    let (db_b, b) = store(flavor).await;
    let spans = build_spans(1);
    for s in &spans {
        a.write(std::slice::from_ref(s)).await.unwrap();
    }
    for s in spans.iter().rev() {
        b.write(std::slice::from_ref(s)).await.unwrap();
    }
    let snap = a.snapshot().await.unwrap();
    assert_eq!(snap, b.snapshot().await.unwrap());
    assert_eq!(snap.dangling, 0);
    // The provisional build named after the trace is gone.
    assert!(snap.nodes.contains(&("BUILD".into(), "run-1".into())));
    assert!(!snap.nodes.iter().any(|(_, k)| k == &hex32(1)), "{snap:#?}");
    let up = keys(&a, NodeKind::Artifact, &digest(1), Direction::Upstream).await;
    let want: BTreeSet<String> = [
        format!("ARTIFACT:{}", digest(1)),
        "BUILD:run-1".into(),
        format!("COMMIT:{}", commit(1)),
        "REPOSITORY:github.com/acme/calc".into(),
        format!("GOMOD:{}", digest(9001)),
    ]
    .into();
    assert_eq!(up, want);
    db_a.cleanup().await;
    db_b.cleanup().await;
}

async fn replays_change_nothing(flavor: Flavor) {
    let (db, s) = store(flavor).await;
    let spans = build_spans(2);
    s.write(&spans).await.unwrap();
    let once = s.snapshot().await.unwrap();
    for _ in 0..3 {
        s.write(&spans).await.unwrap();
        s.write(&spans[1..2]).await.unwrap();
    }
    assert_eq!(s.snapshot().await.unwrap(), once);
    assert_eq!(once.edges.len(), 5, "{once:#?}");
    db.cleanup().await;
}

async fn evidence_names_trace_span_and_sender(flavor: Flavor) {
    let (db, s) = store(flavor).await;
    s.write(&build_spans(3)).await.unwrap();
    let artifact = s
        .node(NodeKind::Artifact, &digest(3))
        .await
        .unwrap()
        .unwrap();
    let edges = s
        .edges(&[artifact.id], Direction::Upstream, &[], 0, 10)
        .await
        .unwrap();
    assert_eq!(edges.len(), 1);
    let evidence = s.evidence(&[edges[0].id]).await.unwrap();
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].trace_id, hex32(3));
    assert_eq!(evidence[0].span_id, format!("{:016x}", 2));
    assert_eq!(evidence[0].sender, "ci");
    assert!(evidence[0].first_seen > 0 && evidence[0].last_seen >= evidence[0].first_seen);
    let attrs = s.attributes(&[artifact.id]).await.unwrap();
    assert!(
        attrs
            .iter()
            .any(|a| a.name == "container.image.tags" && a.value == "v3")
    );
    db.cleanup().await;
}

fn workload_span(t: u32, d: u32) -> SpanFacts {
    SpanFacts {
        span_id: String::new(),
        sender: "calc-api".into(),
        runs_in: vec![image(d)],
        workload: Some(WorkloadIdentity {
            environment: Some("prod".into()),
            namespace: Some("payments".into()),
            name: "calc".into(),
            cluster: None,
        }),
        ..span(t, 0)
    }
}

async fn workloads_run_images_and_builders_are_inputs(flavor: Flavor) {
    let (db, s) = store(flavor).await;
    s.write(&build_spans(4)).await.unwrap();
    // A service running the image, in its own trace.
    s.write(&[workload_span(100, 4)]).await.unwrap();
    let down = keys(&s, NodeKind::Commit, &commit(4), Direction::Downstream).await;
    assert!(down.contains("WORKLOAD:prod/payments/calc"), "{down:?}");
    assert!(down.contains(&format!("ARTIFACT:{}", digest(4))));
    // A process in build 5's trace runs in image 4: that makes image 4 the
    // builder of build 5, even though the build facts come later.
    s.write(&[workload_span(5, 4)]).await.unwrap();
    s.write(&build_spans(5)).await.unwrap();
    let snap = s.snapshot().await.unwrap();
    assert!(snap.edges.contains(&(
        "BUILT_WITH".into(),
        "BUILD".into(),
        "run-5".into(),
        "ARTIFACT".into(),
        digest(4)
    )));
    // Sightings carry no per-trace evidence: one row per pair, counting
    // only the service's own trace (trace 5's sighting was taken back).
    let runs: Vec<_> = snap.evidence.iter().filter(|e| e.0 == "RUNS").collect();
    assert!(runs.is_empty(), "{runs:?}");
    let workload = s
        .node(NodeKind::Workload, "prod/payments/calc")
        .await
        .unwrap()
        .expect("the workload");
    let sightings = s.sightings(&[workload.id], true).await.unwrap();
    assert_eq!(sightings.len(), 1, "{sightings:?}");
    assert_eq!(
        (sightings[0].digest.as_str(), sightings[0].count),
        (digest(4).as_str(), 1)
    );
    assert_eq!(snap.dangling, 0);
    db.cleanup().await;
}

/// A workload's traces, metrics and logs: one sighting row per pair,
/// lastSeen moving in memory at once and in the rows at the flush; a
/// retention pass (its clock given) prunes what was not seen since, and the
/// workloads left with none, never a build or its evidence.
async fn sightings_aggregate_and_expire(flavor: Flavor) {
    let (db, s) = store(flavor).await;
    let t0 = 1_700_000_000_000i64;
    s.write_at(&build_spans(4), t0).await.unwrap();
    let old = Sighting {
        workload: WorkloadIdentity {
            name: "old".into(),
            ..WorkloadIdentity::default()
        },
        sender: "old".into(),
        images: vec![image(4)],
    };
    s.write_sightings_at(vec![old.clone()], t0).await.unwrap();
    for t in 0..50u32 {
        s.write_at(&[workload_span(1000 + t, 4)], t0 + i64::from(t))
            .await
            .unwrap();
    }
    let calc = s
        .node(NodeKind::Workload, "prod/payments/calc")
        .await
        .unwrap()
        .expect("calc");
    let row = &s.sightings(&[calc.id], true).await.unwrap()[0];
    assert_eq!(
        (row.count, row.first_seen, row.last_seen),
        (50, t0, t0 + 49)
    );
    // Memory merged: most recent first, seenAfter applied.
    let (seen, more) = s.workloads_seen(t0 + 10, 10, None).await.unwrap();
    assert_eq!(
        seen.iter().map(|w| w.node.key.as_str()).collect::<Vec<_>>(),
        vec!["prod/payments/calc"]
    );
    assert!(!more);
    let (all, _) = s.workloads_seen(0, 10, None).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(s.flush_sightings().await.unwrap(), 1);
    assert_eq!(s.flush_sightings().await.unwrap(), 0, "nothing moved since");
    // Retention: 30 days after t0 + 49, only "old" (last seen t0) is due.
    let day = std::time::Duration::from_secs(86_400);
    let stats = s
        .prune_sightings_at(t0 + 30 * 86_400_000 + 10, 30 * day, 1)
        .await
        .unwrap();
    assert_eq!((stats.sightings, stats.workloads), (1, 1));
    assert!(
        s.node(NodeKind::Workload, "-/-/old")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.node(NodeKind::Workload, "prod/payments/calc")
            .await
            .unwrap()
            .is_some()
    );
    // Much later everything a workload said is gone; the build is not.
    let before = s.snapshot().await.unwrap();
    let stats = s
        .prune_sightings_at(t0 + 365 * 86_400_000, 30 * day, 1)
        .await
        .unwrap();
    assert_eq!((stats.sightings, stats.workloads), (1, 1));
    let after = s.snapshot().await.unwrap();
    assert!(
        after.nodes.iter().all(|(kind, _)| kind != "WORKLOAD"),
        "{after:?}"
    );
    assert_eq!(
        after.evidence, before.evidence,
        "build evidence is never pruned"
    );
    assert!(after.nodes.contains(&("BUILD".into(), "run-4".into())));
    assert!(after.nodes.contains(&("ARTIFACT".into(), digest(4))));
    // Seen again: it comes back.
    s.write_sightings_at(vec![old], t0 + 366 * 86_400_000)
        .await
        .unwrap();
    assert!(
        s.node(NodeKind::Workload, "-/-/old")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(after.dangling, 0);
    db.cleanup().await;
}

async fn lineage_stops_at_depth_and_node_limits(flavor: Flavor) {
    let (db, s) = store(flavor).await;
    let mut all = Vec::new();
    for t in 10..30 {
        let mut spans = build_spans(t);
        spans[0].commit = Some(commit(1)); // one commit, twenty builds
        all.extend(spans);
    }
    s.write(&all).await.unwrap();
    let start = s.node(NodeKind::Commit, &commit(1)).await.unwrap().unwrap();
    let full = s
        .lineage(
            &start,
            Direction::Downstream,
            LineageLimits {
                max_depth: 5,
                max_nodes: 1000,
            },
        )
        .await
        .unwrap();
    assert_eq!(full.nodes.len(), 41, "commit + 20 builds + 20 images");
    assert!(!full.truncated);
    let shallow = s
        .lineage(
            &start,
            Direction::Downstream,
            LineageLimits {
                max_depth: 1,
                max_nodes: 1000,
            },
        )
        .await
        .unwrap();
    assert_eq!(shallow.nodes.len(), 21);
    assert!(shallow.edges.iter().all(|e| e.to_id == start.id));
    let cut = s
        .lineage(
            &start,
            Direction::Downstream,
            LineageLimits {
                max_depth: 5,
                max_nodes: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(cut.nodes.len(), 10);
    assert!(cut.truncated);
    let ids: BTreeSet<i64> = cut.nodes.iter().map(|n| n.id).collect();
    assert!(
        cut.edges
            .iter()
            .all(|e| ids.contains(&e.from_id) && ids.contains(&e.to_id))
    );
    db.cleanup().await;
}

async fn concurrent_writers_neither_fail_nor_duplicate(flavor: Flavor) {
    let db = TestDb::new(flavor).await;
    // Two separate stores (two pools), as two provgraph processes would have.
    let a = db.store().await.unwrap();
    let b = db.store().await.unwrap();
    let mut spans = Vec::new();
    for t in 200..260 {
        spans.extend(build_spans(t));
    }
    let mut reversed = spans.clone();
    reversed.reverse();
    let mut tasks = Vec::new();
    for (store, batch) in [(a.clone(), spans.clone()), (b.clone(), reversed)] {
        tasks.push(tokio::spawn(async move {
            for chunk in batch.chunks(7) {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match store.write(chunk).await {
                        Ok(_) => break,
                        Err(err) if err.is_retryable() && attempt < 5 => continue,
                        Err(err) => panic!("write failed: {err}"),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (db_ref, reference) = store(flavor).await;
    reference.write(&spans).await.unwrap();
    assert_eq!(
        a.snapshot().await.unwrap(),
        reference.snapshot().await.unwrap()
    );
    db.cleanup().await;
    db_ref.cleanup().await;
}

async fn ingest_groups_requests_and_refuses_when_full(flavor: Flavor) {
    let (db, s) = store(flavor).await;
    let (ingest, writer) = Ingest::start(s.clone(), IngestConfig::default());
    let ingest = Arc::new(ingest);
    let mut tasks = Vec::new();
    for t in 300..320 {
        let ingest = ingest.clone();
        tasks.push(tokio::spawn(
            async move { ingest.write(build_spans(t)).await },
        ));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().span_facts, 3);
    }
    assert_eq!(
        s.snapshot()
            .await
            .unwrap()
            .nodes
            .iter()
            .filter(|n| n.0 == "BUILD")
            .count(),
        20
    );
    drop(ingest);
    writer.await.unwrap();

    // A queue with room for 2 facts refuses a third while busy.
    let (small, writer) = Ingest::start(
        s.clone(),
        IngestConfig {
            max_queued_facts: 4,
            ..IngestConfig::default()
        },
    );
    let big: Vec<SpanFacts> = (400..402).flat_map(build_spans).collect();
    let first = {
        let small = small.clone();
        let big = big.clone();
        tokio::spawn(async move { small.write(big).await })
    };
    // Wait until the first request holds the queue.
    while small.queued() == 0 && !first.is_finished() {
        tokio::task::yield_now().await;
    }
    if !first.is_finished() {
        match small.write(build_spans(500)).await {
            Err(err @ IngestError::Overloaded { .. }) => assert!(err.is_retryable()),
            other => panic!("expected Overloaded, got {other:?}"),
        }
    }
    first.await.unwrap().unwrap();
    drop(small);
    writer.await.unwrap();
    db.cleanup().await;
}

/// Runs one statement on the test database, beside the store.
async fn raw_sql(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    match db.flavor() {
        Flavor::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        Flavor::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

/// Codes the store does not know (a newer version's rows, or damaged ones)
/// are errors, never read as some other kind or source.
async fn unknown_stored_codes_are_errors(flavor: Flavor) {
    let (db, s) = store(flavor).await;
    s.write(&build_spans(6)).await.unwrap();
    let artifact = s
        .node(NodeKind::Artifact, &digest(6))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.nodes(&[artifact.id]).await.unwrap().len(), 1);
    raw_sql(&db, "UPDATE traces SET build_source = 9").await;
    let err = s.write(&build_spans(6)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownValue { what: "build id source", value } if value == "9"),
        "{err}"
    );
    raw_sql(
        &db,
        &format!("UPDATE nodes SET kind = 99 WHERE id = {}", artifact.id),
    )
    .await;
    let err = s.nodes(&[artifact.id]).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::UnknownValue {
                what: "node kind",
                ..
            }
        ),
        "{err}"
    );
    db.cleanup().await;
}

provgraph_store::both_databases!(
    unknown_stored_codes_are_errors,
    children_before_root_give_the_same_graph_as_root_first,
    replays_change_nothing,
    evidence_names_trace_span_and_sender,
    workloads_run_images_and_builders_are_inputs,
    sightings_aggregate_and_expire,
    lineage_stops_at_depth_and_node_limits,
    concurrent_writers_neither_fail_nor_duplicate,
    ingest_groups_requests_and_refuses_when_full,
);

// ---- property: any order, any batching, any replays: the same graph ----

mod order_independence {
    use super::*;
    use proptest::prelude::*;

    /// One span: which trace, and which facts it carries (bit flags).
    #[derive(Clone, Debug)]
    struct SpanSpec {
        trace: u32,
        span: u32,
        flags: u8,
        pick: u32,
    }

    fn facts_of(spec: &SpanSpec) -> SpanFacts {
        let t = spec.trace;
        let mut f = span(t, spec.span);
        if spec.flags & 1 != 0 {
            f.build_id = run_id(&format!("run-{}", t % 3));
        }
        if spec.flags & 2 != 0 {
            f.build_id = f.build_id.or(Some(BuildChoice {
                source: BuildIdSource::BuildId,
                key: format!("b-{t}"),
            }));
        }
        if spec.flags & 4 != 0 {
            f.commit = Some(commit(spec.pick % 3));
            f.repository = Some(format!("github.com/acme/r{}", spec.pick % 2));
        }
        if spec.flags & 8 != 0 {
            f.gomod = Some(digest(7000 + spec.pick % 2));
        }
        if spec.flags & 16 != 0 {
            f.produced = vec![image(spec.pick % 4)];
        }
        if spec.flags & 32 != 0 || f.is_empty() {
            // The image the sending process runs in.
            let mut w = workload_span(t, 100 + spec.pick % 2);
            w.span_id = if f.has_build_facts() {
                f.span_id.clone()
            } else {
                String::new()
            };
            w.build_id = f.build_id.take();
            w.commit = f.commit.take();
            w.repository = f.repository.take();
            w.gomod = f.gomod.take();
            w.produced = std::mem::take(&mut f.produced);
            f = w;
        }
        f
    }

    fn spans() -> impl Strategy<Value = Vec<SpanSpec>> {
        prop::collection::vec(
            (0u32..4, 0u32..5, any::<u8>(), 0u32..12).prop_map(|(trace, span, flags, pick)| {
                SpanSpec {
                    trace,
                    span,
                    flags,
                    pick,
                }
            }),
            1..14,
        )
    }

    fn run(
        flavor: Flavor,
        specs: Vec<SpanSpec>,
        order: Vec<usize>,
        cuts: Vec<usize>,
        replays: Vec<usize>,
    ) -> Result<(), TestCaseError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            // Several spans may share a (trace, span id): keep the first, as
            // a sender never reuses a span id for different content.
            let mut seen = BTreeSet::new();
            let facts: Vec<SpanFacts> = specs
                .iter()
                .map(facts_of)
                .filter(|f| seen.insert((f.trace_id.clone(), f.span_id.clone())))
                .collect();
            let (db_ref, reference) = store(flavor).await;
            reference.write(&facts).await.unwrap();
            let want: Snapshot = reference.snapshot().await.unwrap();
            db_ref.cleanup().await;

            let mut shuffled: Vec<SpanFacts> = order
                .iter()
                .filter_map(|i| facts.get(i % facts.len()).cloned())
                .collect();
            shuffled.extend(facts.iter().cloned());
            let (db, s) = store(flavor).await;
            let mut batches: Vec<Vec<SpanFacts>> = Vec::new();
            let mut rest = shuffled.as_slice();
            for cut in cuts {
                if rest.is_empty() {
                    break;
                }
                let (head, tail) = rest.split_at(cut.clamp(1, rest.len()));
                batches.push(head.to_vec());
                rest = tail;
            }
            if !rest.is_empty() {
                batches.push(rest.to_vec());
            }
            for replay in replays {
                let again = batches[replay % batches.len()].clone();
                batches.push(again);
            }
            for batch in &batches {
                s.write(batch).await.unwrap();
            }
            let got = s.snapshot().await.unwrap();
            db.cleanup().await;
            prop_assert_eq!(got.dangling, 0);
            prop_assert_eq!(got, want);
            Ok(())
        })
    }

    fn cases() -> impl Strategy<Value = (Vec<SpanSpec>, Vec<usize>, Vec<usize>, Vec<usize>)> {
        (
            spans(),
            prop::collection::vec(0usize..64, 0..10),
            prop::collection::vec(1usize..5, 0..8),
            prop::collection::vec(0usize..16, 0..3),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn sqlite_any_order_any_batching_same_graph((specs, order, cuts, replays) in cases()) {
            run(Flavor::Sqlite, specs, order, cuts, replays)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn postgres_any_order_any_batching_same_graph((specs, order, cuts, replays) in cases()) {
            if provgraph_store::testing::skip_postgres() {
                eprintln!("SKIPPED: PostgreSQL property test (PROVGRAPH_SKIP_POSTGRES=1)");
                return Ok(());
            }
            run(Flavor::Postgres, specs, order, cuts, replays)?;
        }
    }
}

/// The contract's bound: 20,000 traces from one workload running one digest
/// grow the SQLite database (file, WAL and shared memory, after a clean
/// close) by less than 1 MiB, through the ingest queue as the receivers use
/// it.
#[tokio::test]
async fn sqlite_twenty_thousand_workload_traces_grow_the_file_by_under_a_mebibyte() {
    let db = TestDb::new(Flavor::Sqlite).await;
    let path = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
    let size = || {
        ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| {
                std::fs::metadata(format!("{}{suffix}", path.display())).map_or(0, |m| m.len())
            })
            .sum::<u64>()
    };
    let s = db.store().await.expect("connect");
    s.write(&build_spans(4)).await.unwrap();
    s.write(&[workload_span(1, 4)]).await.unwrap();
    s.close().await;
    let before = size();
    let s = db.store().await.expect("reconnect");
    let (ingest, writer) = Ingest::start(s.clone(), IngestConfig::default());
    for chunk in 0..40u32 {
        let spans: Vec<SpanFacts> = (0..500u32)
            .map(|t| workload_span(10_000 + chunk * 500 + t, 4))
            .collect();
        ingest.write(spans).await.unwrap();
    }
    drop(ingest);
    writer.await.unwrap();
    let calc = s
        .node(NodeKind::Workload, "prod/payments/calc")
        .await
        .unwrap()
        .expect("calc");
    let rows = s.sightings(&[calc.id], true).await.unwrap();
    assert_eq!(rows.len(), 1);
    // Known at restart: the first sighting of the pair in this process
    // commits (count 1 more), the rest count in memory until the flush.
    assert_eq!(rows[0].count, 20_001);
    s.close().await;
    let after = size();
    let grown = after.saturating_sub(before);
    eprintln!("20,000 workload traces: {before} -> {after} bytes (+{grown})");
    assert!(grown < 1024 * 1024, "grew by {grown} bytes");
    let s = db.store().await.expect("reopen");
    let rows = s.sightings(&[calc.id], true).await.unwrap();
    assert_eq!(rows[0].count, 20_001, "the count was flushed at close");
    s.close().await;
    db.cleanup().await;
}

/// Migration 0006 folds what workload traces left before it (a RUNS
/// evidence row and a span_facts row per trace) into one sighting row per
/// pair, and keeps a build's own rows.
#[tokio::test]
async fn sqlite_migration_folds_workload_traces_into_sightings() {
    use sqlx::Connection as _;
    let db = TestDb::new(Flavor::Sqlite).await;
    let before_0006 = tempfile::tempdir().unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&migrations).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < "0006" {
            std::fs::copy(&path, before_0006.path().join(&name)).unwrap();
        }
    }
    let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&db.url)
        .unwrap()
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(before_0006.path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    let statements = [
        "INSERT INTO nodes (id, kind, key, first_seen, last_seen) VALUES (1, 6, 'prod/payments/calc', 10, 30), (2, 5, 'sha256:aa', 10, 30), (3, 4, 'run-1', 5, 5)",
        "INSERT INTO edges (id, kind, from_id, to_id, first_seen, last_seen) VALUES (1, 7, 1, 2, 10, 30), (2, 1, 2, 3, 5, 5)",
        "INSERT INTO edge_evidence (edge_id, trace_id, span_id, sender, first_seen, last_seen) VALUES (1, 't1', '', 'calc', 10, 10), (1, 't2', '', 'calc', 20, 20), (1, 't3', '', 'calc', 30, 30), (2, 'b1', 's1', 'ci', 5, 5)",
        "INSERT INTO traces (trace_id, build_source, build_key, first_seen, last_seen) VALUES ('b1', 0, 'run-1', 5, 5)",
        "INSERT INTO span_facts (trace_id, span_id, facts, received) VALUES ('t1', '', '{}', 10), ('t2', '', '{}', 20), ('t3', '', '{}', 30), ('b1', 's1', '{}', 5)",
    ];
    for statement in statements {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let s = db.store().await.expect("migrates");
    let rows = s.sightings(&[1], true).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].first_seen, rows[0].last_seen, rows[0].count),
        (10, 30, 3)
    );
    let snap = s.snapshot().await.unwrap();
    assert_eq!(
        snap.evidence.len(),
        1,
        "only the build's evidence is left: {snap:?}"
    );
    assert!(
        snap.edges.iter().any(|e| e.0 == "RUNS"),
        "the RUNS edge stays"
    );
    assert_eq!(s.trace_build("b1").await.unwrap().as_deref(), Some("run-1"));
    s.close().await;
    db.cleanup().await;
}

/// Migration 0008 moves evidence bodies out of `signatures` (one copy per
/// subject) into `evidence_bodies`, one per evidence id, keeping them.
#[tokio::test]
async fn sqlite_migration_keeps_one_body_per_evidence() {
    use sqlx::Connection as _;
    let db = TestDb::new(Flavor::Sqlite).await;
    let before_0008 = tempfile::tempdir().unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&migrations).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < "0008" {
            std::fs::copy(&path, before_0008.path().join(&name)).unwrap();
        }
    }
    let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&db.url)
        .unwrap()
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(before_0008.path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO signatures (evidence_id, subject, node_id, format, method, verified, trusted, reason, details, body, first_seen, last_seen) \
         VALUES ('e1', 'sha256:a', 1, 'f', 'm', 0, 0, 'r', '{}', 'BODY1', 10, 10), \
         ('e1', 'sha256:b', 2, 'f', 'm', 1, 0, 'r', '{}', 'BODY1', 5, 12), \
         ('e2', 'sha256:c', 3, 'f', 'm', 0, 0, 'r', '{}', 'BODY2', 7, 7)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let s = db.store().await.expect("migrates");
    let bodies: Vec<(String, String, String)> = s
        .evidence_bodies()
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.evidence_id, b.subject, b.body))
        .collect();
    assert_eq!(
        bodies,
        [
            ("e1".into(), "sha256:a".into(), "BODY1".into()),
            ("e2".into(), "sha256:c".into(), "BODY2".into()),
        ]
    );
    assert_eq!(s.signatures("sha256:b").await.unwrap().len(), 1);
    s.close().await;
    db.cleanup().await;
}
