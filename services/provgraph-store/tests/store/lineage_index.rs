//! The in-memory lineage index against the SQL walk, on a real SQLite file
//! and a real PostgreSQL: random graphs written through the store (spans in
//! random order, so that re-derivation deletes edges; SBOMs; image
//! indexes), every node, both directions, limits that truncate; and a
//! second store on the same database, as a second process would be.

use provgraph_model::{BuildChoice, BuildIdSource, Image, NodeKind, SpanFacts, WorkloadIdentity};
use provgraph_store::testing::{Flavor, TestDb};
use provgraph_store::{Direction, IndexMember, LineageLimits, NodeRow, PageRequest, Store};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

fn image(n: u64) -> Image {
    Image {
        digest: digest(n),
        ..Image::default()
    }
}

fn span(t: u64, s: u64) -> SpanFacts {
    SpanFacts {
        trace_id: format!("{t:032x}"),
        span_id: format!("{s:016x}"),
        sender: "ci".into(),
        ..SpanFacts::default()
    }
}

/// The spans of `builds` random builds over small pools of commits,
/// repositories, go.mod files and digests (so nodes are shared, builder
/// images make cycles), and of a few workloads.
fn random_spans(rng: &mut Rng, builds: u64, trace_base: u64) -> Vec<SpanFacts> {
    let mut spans = Vec::new();
    for b in 0..builds {
        let t = trace_base + b;
        let mut child = SpanFacts {
            commit: Some(format!("{:040x}", rng.below(8) + 1)),
            repository: Some(format!("github.com/acme/repo-{}", rng.below(3))),
            ..span(t, 1)
        };
        if rng.chance(70) {
            child.gomod = Some(digest(9000 + rng.below(5)));
            child.requires = (0..rng.below(3))
                .map(|m| format!("example.com/mod{m}@v1.{}.0", rng.below(2)))
                .collect();
        }
        if rng.chance(30) {
            child.runs_in = vec![image(rng.below(20))];
        }
        spans.push(child);
        spans.push(SpanFacts {
            produced: (0..=rng.below(2)).map(|_| image(rng.below(20))).collect(),
            ..span(t, 2)
        });
        if rng.chance(80) {
            // Some builds never get a run id: they stay provisional.
            spans.push(SpanFacts {
                build_id: Some(BuildChoice {
                    source: BuildIdSource::PipelineRunId,
                    key: format!("run-{}", rng.below(builds + 2)),
                }),
                ..span(t, 3)
            });
        }
    }
    for w in 0..3 {
        spans.push(SpanFacts {
            runs_in: vec![image(rng.below(20))],
            workload: Some(WorkloadIdentity {
                environment: Some("prod".into()),
                namespace: Some("ns".into()),
                name: format!("svc-{w}"),
                cluster: None,
            }),
            ..span(trace_base + 10_000 + rng.below(1000), 0)
        });
    }
    // Shuffle: children before roots, roots in other batches.
    for i in (1..spans.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        spans.swap(i, j);
    }
    spans
}

async fn all_nodes(store: &Store) -> Vec<NodeRow> {
    let mut nodes = Vec::new();
    for kind in NodeKind::ALL {
        nodes.extend(store.nodes_with_prefix(kind, "", 100_000).await.unwrap());
    }
    nodes
}

const LIMITS: [(u32, usize); 6] = [
    (16, 10_000),
    (1, 10_000),
    (2, 10_000),
    (3, 4),
    (16, 2),
    (0, 10),
];

/// Every node, both directions, every limit: the index gives the SQL walk's
/// answer exactly.
async fn assert_same_answers(store: &Store, context: &str) -> usize {
    let mut compared = 0;
    for node in all_nodes(store).await {
        for direction in [Direction::Upstream, Direction::Downstream] {
            for (max_depth, max_nodes) in LIMITS {
                let limits = LineageLimits {
                    max_depth,
                    max_nodes,
                };
                let sql = store.lineage_sql(&node, direction, limits).await.unwrap();
                let indexed = store
                    .lineage_indexed(&node, direction, limits)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{context}: the index refused {node:?}"));
                assert_eq!(
                    indexed, sql,
                    "{context}: {:?} {} {direction:?} {limits:?}",
                    node.kind, node.key
                );
                compared += 1;
            }
        }
    }
    compared
}

/// OSV records over the random graph's modules (through go.mods and an
/// SBOM, an index over some images): the images each affects, from the
/// index, are the SQL walk's.
async fn assert_same_affected(store: &Store, context: &str) {
    let records = provgraph_vuln::osv::parse_osv(&serde_json::json!([
        {"id": "GO-TEST-0", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-TEST-0"],
         "affected": [{"package": {"ecosystem": "Go", "name": "example.com/mod0"},
                       "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.1.0"}]}]}]},
        {"id": "GO-TEST-1", "modified": "2026-01-01T00:00:00Z",
         "affected": [{"package": {"ecosystem": "Go", "name": "example.com/mod1"},
                       "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.1.0"}]}]}]},
        {"id": "GO-TEST-2", "modified": "2026-01-01T00:00:00Z",
         "affected": [{"package": {"ecosystem": "Go", "name": "example.com/none"},
                       "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}
    ]))
    .unwrap();
    let provenance = provgraph_store::VulnProvenance {
        proven: false,
        source: "osv:sha256:00".into(),
        principal: None,
    };
    store
        .write_osv_records(&records, &provenance)
        .await
        .unwrap();
    let mut affected_any = 0;
    for id in ["GO-TEST-0", "CVE-TEST-0", "GO-TEST-1", "GO-TEST-2"] {
        let row = store.vulnerability(id).await.unwrap().expect(id);
        let sql = store.vulnerable_artifacts_sql(&row.group).await.unwrap();
        let indexed = store.vulnerable_artifacts(&row.group).await.unwrap();
        assert_eq!(indexed, sql, "{context}: {id}");
        affected_any += sql.len();
    }
    assert!(affected_any > 0, "{context}: no record affected any image");
}

async fn index_answers_as_sql_on_random_graphs(flavor: Flavor) {
    for seed in 1..=3u64 {
        let db = TestDb::new(flavor).await;
        let store = db.store().await.unwrap();
        store.load_lineage_index().await.unwrap();
        assert!(store.lineage_index_ready());
        let mut rng = Rng(seed);
        let spans = random_spans(&mut rng, 12, seed * 100_000);
        // Written in random batches: the index follows the log, deletes
        // included (provisional builds replaced when their run id comes).
        let mut rest = spans.as_slice();
        let mut stats = Vec::new();
        while !rest.is_empty() {
            let n = (rng.below(6) as usize + 1).min(rest.len());
            stats.push(store.write(&rest[..n]).await.unwrap());
            rest = &rest[n..];
        }
        let deleted: u64 = stats.iter().map(|s| s.edges_deleted).sum();
        store
            .write_sbom(
                &digest(rng.below(20)),
                &[
                    (NodeKind::Module, "example.com/mod0@v1.0.0".into()),
                    (NodeKind::Package, "pkg:npm/left-pad@1.3.0".into()),
                ],
                "sbom:sha256:00",
                "syft",
            )
            .await
            .unwrap();
        store
            .write_index(
                &digest(7777),
                &[
                    IndexMember {
                        digest: digest(1),
                        platform: Some("linux/amd64".into()),
                    },
                    IndexMember {
                        digest: digest(2),
                        platform: None,
                    },
                ],
                "registry.example/x",
            )
            .await
            .unwrap();
        assert_same_affected(&store, &format!("seed {seed}")).await;
        let compared = assert_same_answers(&store, &format!("seed {seed}, incremental")).await;
        assert!(compared > 300, "only {compared} answers compared");

        // A second store on the same database loads the index from the
        // tables: the same answers.
        let other = db.store().await.unwrap();
        other.load_lineage_index().await.unwrap();
        // The same edges; the incremental index may keep nodes whose edges
        // were all deleted (they answer as nodes without edges do).
        assert_eq!(store.lineage_index_size().1, other.lineage_index_size().1);
        assert!(store.lineage_index_size().0 >= other.lineage_index_size().0);
        assert_same_answers(&other, &format!("seed {seed}, loaded")).await;
        eprintln!(
            "seed {seed}: {compared} answers compared, {deleted} edges deleted by re-derivation"
        );
        store.close().await;
        other.close().await;
        db.cleanup().await;
    }
}

/// A second process (another store on the same database) writes: this
/// store's index never shows an edge the other deleted (it falls back to
/// SQL), and after catching up answers as SQL does again.
async fn index_follows_another_process(flavor: Flavor) {
    let db = TestDb::new(flavor).await;
    let reader = db.store().await.unwrap();
    let writer = db.store().await.unwrap();
    reader.load_lineage_index().await.unwrap();
    // Children first: a provisional build named by the trace id.
    let children = vec![
        SpanFacts {
            commit: Some(format!("{:040x}", 1)),
            repository: Some("github.com/acme/calc".into()),
            ..span(1, 1)
        },
        SpanFacts {
            produced: vec![image(1)],
            ..span(1, 2)
        },
    ];
    writer.write(&children).await.unwrap();
    let artifact = reader
        .node(NodeKind::Artifact, &digest(1))
        .await
        .unwrap()
        .unwrap();
    let limits = LineageLimits {
        max_depth: 16,
        max_nodes: 100,
    };
    // Not applied yet: the index does not know the other process's edges.
    let stale = reader
        .lineage_indexed(&artifact, Direction::Upstream, limits)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stale.nodes.len(), 1, "{stale:?}");
    reader.catch_up_lineage_index().await.unwrap();
    let sql = reader
        .lineage_sql(&artifact, Direction::Upstream, limits)
        .await
        .unwrap();
    assert_eq!(sql.nodes.len(), 4, "{sql:?}");
    assert_eq!(
        reader
            .lineage_indexed(&artifact, Direction::Upstream, limits)
            .await
            .unwrap(),
        Some(sql)
    );
    // The root arrives at the other process: the provisional build and its
    // edges are deleted there.
    let root = vec![SpanFacts {
        build_id: Some(BuildChoice {
            source: BuildIdSource::PipelineRunId,
            key: "run-1".into(),
        }),
        ..span(1, 3)
    }];
    let stats = writer.write(&root).await.unwrap();
    assert!(stats.edges_deleted > 0, "{stats:?}");
    // The index still holds the deleted edges: it refuses to answer, and
    // `lineage` answers with SQL.
    assert_eq!(
        reader
            .lineage_indexed(&artifact, Direction::Upstream, limits)
            .await
            .unwrap(),
        None
    );
    let sql = reader
        .lineage_sql(&artifact, Direction::Upstream, limits)
        .await
        .unwrap();
    assert!(sql.nodes.iter().any(|n| n.key == "run-1"), "{sql:?}");
    assert_eq!(
        reader
            .lineage(&artifact, Direction::Upstream, limits)
            .await
            .unwrap(),
        sql
    );
    reader.catch_up_lineage_index().await.unwrap();
    assert_eq!(
        reader
            .lineage_indexed(&artifact, Direction::Upstream, limits)
            .await
            .unwrap(),
        Some(sql)
    );
    reader.close().await;
    writer.close().await;
    db.cleanup().await;
}

/// Pages of a hub: (depth, id) order, no node twice, none missed, the same
/// from the index as from SQL, kinds filtered.
async fn pages_walk_a_hub(flavor: Flavor) {
    let db = TestDb::new(flavor).await;
    let store = db.store().await.unwrap();
    let mut spans = Vec::new();
    for b in 0..60u64 {
        spans.push(SpanFacts {
            commit: Some(format!("{:040x}", b + 1)),
            repository: Some("github.com/acme/hub".into()),
            produced: vec![image(b)],
            build_id: Some(BuildChoice {
                source: BuildIdSource::PipelineRunId,
                key: format!("run-{b}"),
            }),
            ..span(b, 1)
        });
    }
    store.write(&spans).await.unwrap();
    let hub = store
        .node(NodeKind::Repository, "github.com/acme/hub")
        .await
        .unwrap()
        .unwrap();
    let walk = |kinds: Vec<NodeKind>, size: usize| {
        let store = store.clone();
        let hub = hub.clone();
        async move {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .lineage_page(
                        &hub,
                        &PageRequest {
                            direction: Direction::Downstream,
                            max_depth: 16,
                            kinds: kinds.clone(),
                            first: size,
                            after,
                            sql_max_nodes: 10_000,
                        },
                    )
                    .await
                    .unwrap();
                assert!(page.nodes.len() <= size);
                if let Some((row, depth)) = page.nodes.last() {
                    after = Some((*depth, row.id));
                }
                all.extend(
                    page.nodes
                        .iter()
                        .map(|(row, depth)| (*depth, row.id, row.kind)),
                );
                if !page.has_next {
                    break;
                }
                assert_eq!(page.nodes.len(), size);
            }
            all
        }
    };
    // SQL (no index yet), then the index.
    let sql_all = walk(Vec::new(), 7).await;
    let sql_artifacts = walk(vec![NodeKind::Artifact], 10).await;
    store.load_lineage_index().await.unwrap();
    let all = walk(Vec::new(), 7).await;
    let artifacts = walk(vec![NodeKind::Artifact], 10).await;
    assert_eq!(all, sql_all);
    assert_eq!(artifacts, sql_artifacts);
    // hub, 60 commits + 60 builds, 60 artifacts.
    assert_eq!(all.len(), 181);
    assert_eq!(artifacts.len(), 60);
    assert!(
        artifacts
            .iter()
            .all(|(d, _, k)| *d == 2 && *k == NodeKind::Artifact)
    );
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, all, "pages in (depth, id) order, no repeats");
    // One page of all: the same as the start of the walk.
    let one = store
        .lineage_page(
            &hub,
            &PageRequest {
                direction: Direction::Downstream,
                max_depth: 16,
                kinds: Vec::new(),
                first: 1000,
                after: None,
                sql_max_nodes: 10_000,
            },
        )
        .await
        .unwrap();
    assert!(!one.has_next);
    assert_eq!(one.nodes.len(), 181);
    // The hub's lineage answer is the same set.
    let sub = store
        .lineage(
            &hub,
            Direction::Downstream,
            LineageLimits {
                max_depth: 16,
                max_nodes: 10_000,
            },
        )
        .await
        .unwrap();
    let mut from_lineage: Vec<(u32, i64)> =
        sub.nodes.iter().map(|n| (sub.depth[&n.id], n.id)).collect();
    from_lineage.sort();
    let from_pages: Vec<(u32, i64)> = all.iter().map(|(d, id, _)| (*d, *id)).collect();
    assert_eq!(from_lineage, from_pages);
    store.close().await;
    db.cleanup().await;
}

fn hub_build(b: u64) -> SpanFacts {
    SpanFacts {
        commit: Some(format!("{:040x}", b + 1)),
        repository: Some("github.com/acme/big".into()),
        produced: vec![image(b)],
        build_id: Some(BuildChoice {
            source: BuildIdSource::PipelineRunId,
            key: format!("run-{b}"),
        }),
        ..span(b, 1)
    }
}

/// A hub big enough that its walk is kept whole between pages: the pages
/// are the SQL walk's nodes in (depth, id) order, and a write is seen by the
/// next page (the kept walk belongs to the graph it was made from).
async fn big_hub_pages_as_the_sql_walk(flavor: Flavor) {
    let db = TestDb::new(flavor).await;
    let store = db.store().await.unwrap();
    let spans: Vec<SpanFacts> = (0..3_400u64).map(hub_build).collect();
    store.write(&spans).await.unwrap();
    store.load_lineage_index().await.unwrap();
    let hub = store
        .node(NodeKind::Repository, "github.com/acme/big")
        .await
        .unwrap()
        .unwrap();
    let limits = LineageLimits {
        max_depth: 16,
        max_nodes: 100_000,
    };
    let sql = store
        .lineage_sql(&hub, Direction::Downstream, limits)
        .await
        .unwrap();
    let mut expected: Vec<(u32, i64)> =
        sql.nodes.iter().map(|n| (sql.depth[&n.id], n.id)).collect();
    expected.sort();
    assert_eq!(expected.len(), 3_400 * 3 + 1);
    let pages = |kinds: Vec<NodeKind>| {
        let store = store.clone();
        let hub = hub.clone();
        async move {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .lineage_page(
                        &hub,
                        &PageRequest {
                            direction: Direction::Downstream,
                            max_depth: 16,
                            kinds: kinds.clone(),
                            first: 999,
                            after,
                            sql_max_nodes: 10_000,
                        },
                    )
                    .await
                    .unwrap();
                all.extend(page.nodes.iter().map(|(row, depth)| (*depth, row.id)));
                match page.nodes.last() {
                    Some((row, depth)) if page.has_next => after = Some((*depth, row.id)),
                    _ => break,
                }
            }
            all
        }
    };
    assert_eq!(pages(Vec::new()).await, expected);
    let artifacts = pages(vec![NodeKind::Artifact]).await;
    assert_eq!(artifacts.len(), 3_400);
    // Twice: the second walk pages from the kept one.
    assert_eq!(pages(vec![NodeKind::Artifact]).await, artifacts);
    store.write(&[hub_build(5_000)]).await.unwrap();
    let new = store
        .node(NodeKind::Artifact, &digest(5_000))
        .await
        .unwrap()
        .unwrap();
    let after = pages(vec![NodeKind::Artifact]).await;
    assert_eq!(after.len(), 3_401);
    assert!(after.contains(&(2, new.id)));
    store.close().await;
    db.cleanup().await;
}

provgraph_store::both_databases!(
    index_answers_as_sql_on_random_graphs,
    index_follows_another_process,
    pages_walk_a_hub,
    big_hub_pages_as_the_sql_walk
);
