//! Per-request batching of the typed resolvers' store reads.
//!
//! GraphQL resolves the items of a list concurrently, in one task: when each
//! of twenty builds asks for its artifacts, the twenty loads join one batch,
//! read with one edge query and one node query for all twenty. A load waits
//! one scheduler turn (so that its siblings can join) and then runs the
//! batch; a later load starts a new one. So `commit { builds { artifacts {
//! workloads } } }` costs a few statements per level of the query, however
//! many nodes each level has. Answers are kept for the request (a second
//! ask for the same neighbours reads nothing), never longer.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{Error, Result};
use provgraph_model::EdgeKind;
use provgraph_store::{NodeRow, Store};
use tokio::sync::OnceCell;

use super::store_error;

/// One batch: the ids that joined it and, once run, the answer for each.
struct Batch<V> {
    ids: Mutex<Vec<i64>>,
    answer: OnceCell<Result<HashMap<i64, V>>>,
}

/// Loads values by id in batches, per group (the question asked of each id).
struct Batcher<G, V> {
    state: Mutex<BatcherState<G, V>>,
}

struct BatcherState<G, V> {
    /// The batch each group's loads join until it runs.
    open: HashMap<G, Arc<Batch<V>>>,
    /// Answers already read in this request.
    known: HashMap<(G, i64), V>,
}

impl<G: Hash + Eq + Clone, V: Clone + Default> Batcher<G, V> {
    fn new() -> Self {
        Batcher {
            state: Mutex::new(BatcherState {
                open: HashMap::new(),
                known: HashMap::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BatcherState<G, V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value for `id` in `group`; `run` reads the values of a batch's ids
    /// (an id it does not answer gets the default value).
    async fn load<F, Fut>(&self, group: G, id: i64, run: F) -> Result<V>
    where
        F: FnOnce(Vec<i64>) -> Fut,
        Fut: Future<Output = Result<HashMap<i64, V>>>,
    {
        let batch = {
            let mut state = self.state();
            if let Some(value) = state.known.get(&(group.clone(), id)) {
                return Ok(value.clone());
            }
            let batch = state
                .open
                .entry(group.clone())
                .or_insert_with(|| {
                    Arc::new(Batch {
                        ids: Mutex::new(Vec::new()),
                        answer: OnceCell::new(),
                    })
                })
                .clone();
            batch
                .ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(id);
            batch
        };
        let answer = batch
            .answer
            .get_or_init(|| async {
                // The siblings resolving in this pass join the batch.
                tokio::task::yield_now().await;
                let ids = {
                    let mut state = self.state();
                    if state
                        .open
                        .get(&group)
                        .is_some_and(|open| Arc::ptr_eq(open, &batch))
                    {
                        state.open.remove(&group);
                    }
                    // Cloned, not taken: should this run be cancelled,
                    // another waiter runs the batch again, whole.
                    let mut ids = batch
                        .ids
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    ids.sort_unstable();
                    ids.dedup();
                    ids
                };
                let answer = run(ids.clone()).await?;
                let mut state = self.state();
                for id in ids {
                    let value = answer.get(&id).cloned().unwrap_or_default();
                    state.known.insert((group.clone(), id), value);
                }
                Ok(answer)
            })
            .await;
        match answer {
            Ok(values) => Ok(values.get(&id).cloned().unwrap_or_default()),
            Err(err) => Err(err.clone()),
        }
    }
}

/// The question a hop asks of a node: its neighbours along (`outgoing`) or
/// against edges of these kinds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Hop {
    outgoing: bool,
    kinds: Vec<EdgeKind>,
}

/// The batched reads of one request.
pub(super) struct Batches {
    store: Store,
    /// Neighbours per node, at most (the list limit).
    limit: usize,
    hops: Batcher<Hop, Arc<Vec<NodeRow>>>,
    attributes: Batcher<(), Arc<Vec<(String, String)>>>,
    vulnerabilities: Batcher<(), Arc<ArtifactVulns>>,
}

/// How vulnerabilities were found in one image, and the VEX statements on
/// it.
#[derive(Clone, Debug, Default)]
pub(super) struct ArtifactVulns {
    pub(super) findings: Vec<provgraph_store::VulnFindingRow>,
    pub(super) vex: Vec<provgraph_store::VexRow>,
}

impl Batches {
    pub(super) fn new(store: Store, limit: usize) -> Batches {
        Batches {
            store,
            limit,
            hops: Batcher::new(),
            attributes: Batcher::new(),
            vulnerabilities: Batcher::new(),
        }
    }

    /// The nodes one hop from `id` (along edges when `outgoing`, else
    /// against them) over edges of `kinds`, by key: the first `limit` edges
    /// by edge id, as one query for the node alone would give.
    pub(super) async fn hop(
        &self,
        id: i64,
        outgoing: bool,
        kinds: &[EdgeKind],
    ) -> Result<Arc<Vec<NodeRow>>> {
        let hop = Hop {
            outgoing,
            kinds: kinds.to_vec(),
        };
        self.hops
            .load(hop, id, |ids| self.read_hops(ids, outgoing, kinds))
            .await
    }

    /// The attributes (name, value) of node `id`.
    pub(super) async fn attributes(&self, id: i64) -> Result<Arc<Vec<(String, String)>>> {
        self.attributes
            .load((), id, |ids| async move {
                let mut out: HashMap<i64, Vec<(String, String)>> = HashMap::new();
                for row in self.store.attributes(&ids).await.map_err(store_error)? {
                    out.entry(row.node_id)
                        .or_default()
                        .push((row.name, row.value));
                }
                Ok(out.into_iter().map(|(id, v)| (id, Arc::new(v))).collect())
            })
            .await
    }

    /// How vulnerabilities were found in image `id`, and the VEX
    /// statements on it: two statements for the batch.
    pub(super) async fn artifact_vulnerabilities(&self, id: i64) -> Result<Arc<ArtifactVulns>> {
        self.vulnerabilities
            .load((), id, |ids| async move {
                let mut out: HashMap<i64, ArtifactVulns> = HashMap::new();
                let findings = self
                    .store
                    .artifact_vulnerabilities(&ids)
                    .await
                    .map_err(store_error)?;
                for row in findings {
                    out.entry(row.artifact_id).or_default().findings.push(row);
                }
                for row in self
                    .store
                    .vex_of_artifacts(&ids)
                    .await
                    .map_err(store_error)?
                {
                    out.entry(row.artifact_id).or_default().vex.push(row);
                }
                Ok(out.into_iter().map(|(id, v)| (id, Arc::new(v))).collect())
            })
            .await
    }

    async fn read_hops(
        &self,
        ids: Vec<i64>,
        outgoing: bool,
        kinds: &[EdgeKind],
    ) -> Result<HashMap<i64, Arc<Vec<NodeRow>>>> {
        let limit = self.limit;
        let direction = if outgoing {
            provgraph_store::Direction::Upstream
        } else {
            provgraph_store::Direction::Downstream
        };
        // One query for the whole batch. Edges come in id order, so a node
        // with `limit` edges in the answer has its first `limit`; when the
        // query was cut, the others are read again alone (a hub among its
        // siblings), which is what an unbatched read would have done.
        let cap = limit.saturating_mul(ids.len()).saturating_add(1);
        let edges = self
            .store
            .edges(&ids, direction, kinds, 0, cap as i64)
            .await
            .map_err(store_error)?;
        let cut = edges.len() >= cap;
        let mut per_node: HashMap<i64, Vec<i64>> = HashMap::new();
        for edge in edges {
            let (this, other) = if outgoing {
                (edge.from_id, edge.to_id)
            } else {
                (edge.to_id, edge.from_id)
            };
            let others = per_node.entry(this).or_default();
            if others.len() < limit {
                others.push(other);
            }
        }
        if cut {
            for &id in &ids {
                if per_node.get(&id).is_some_and(|o| o.len() >= limit) {
                    continue;
                }
                let edges = self
                    .store
                    .edges(&[id], direction, kinds, 0, limit as i64)
                    .await
                    .map_err(store_error)?;
                per_node.insert(
                    id,
                    edges
                        .into_iter()
                        .map(|e| if outgoing { e.to_id } else { e.from_id })
                        .collect(),
                );
            }
        }
        let mut wanted: Vec<i64> = per_node.values().flatten().copied().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let nodes: HashMap<i64, NodeRow> = self
            .store
            .nodes(&wanted)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        Ok(per_node
            .into_iter()
            .map(|(id, others)| {
                let mut rows: Vec<NodeRow> = Vec::with_capacity(others.len());
                for other in others {
                    if let Some(row) = nodes.get(&other)
                        && !rows.iter().any(|r| r.id == other)
                    {
                        rows.push(row.clone());
                    }
                }
                rows.sort_by(|a, b| a.key.cmp(&b.key));
                (id, Arc::new(rows))
            })
            .collect())
    }
}

/// Hands each request its own [`Batches`].
pub(super) struct PerRequest {
    pub store: Store,
    pub limit: usize,
}

impl async_graphql::extensions::ExtensionFactory for PerRequest {
    fn create(&self) -> Arc<dyn async_graphql::extensions::Extension> {
        Arc::new(PerRequestExtension {
            store: self.store.clone(),
            limit: self.limit,
        })
    }
}

struct PerRequestExtension {
    store: Store,
    limit: usize,
}

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for PerRequestExtension {
    async fn prepare_request(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        request: async_graphql::Request,
        next: async_graphql::extensions::NextPrepareRequest<'_>,
    ) -> async_graphql::ServerResult<async_graphql::Request> {
        let batches = Batches::new(self.store.clone(), self.limit);
        next.run(ctx, request.data(batches)).await
    }
}

/// The request's batches (every request gets them, see [`PerRequest`]).
pub(super) fn batches<'a>(ctx: &async_graphql::Context<'a>) -> Result<&'a Batches> {
    ctx.data::<Batches>()
        .map_err(|_| Error::new("internal: no batches for this request"))
}

#[cfg(test)]
mod tests {
    //! The batching test: a nested typed query runs as many SQL statements
    //! for twelve builds as for two. Statements are counted as sqlx reports
    //! them (its `sqlx::query` events), on PostgreSQL, where they run in the
    //! request's own task, so that only the request's are counted.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use provgraph_model::facts::{BuildChoice, BuildIdSource, Image, SpanFacts};
    use provgraph_model::keys::WorkloadIdentity;
    use provgraph_store::testing::{Flavor, TestDb, skip_postgres};
    use tracing::Instrument;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    use crate::ApiLimits;

    /// Counts statements run inside a span named `counted`.
    struct Statements(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Statements {
        fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
            let inside = ctx
                .event_scope(event)
                .is_some_and(|mut scope| scope.any(|span| span.name() == "counted"));
            if event.metadata().target() == "sqlx::query" && inside {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn commit(n: u32) -> String {
        format!("{n:040x}")
    }

    /// Commit `c` built by `builds` builds, each producing two images, each
    /// image run by one workload.
    fn graph(c: u32, builds: u32) -> Vec<SpanFacts> {
        let mut out = Vec::new();
        for b in 0..builds {
            let trace = c * 1000 + b;
            let images: Vec<Image> = (0..2)
                .map(|i| Image {
                    digest: format!("sha256:{:064x}", trace * 10 + i),
                    ..Image::default()
                })
                .collect();
            out.push(SpanFacts {
                trace_id: format!("{trace:032x}"),
                span_id: format!("{:016x}", 1),
                sender: "ci".into(),
                build_id: Some(BuildChoice {
                    source: BuildIdSource::PipelineRunId,
                    key: format!("run-{trace}"),
                }),
                commit: Some(commit(c)),
                produced: images.clone(),
                ..SpanFacts::default()
            });
            for (i, image) in images.into_iter().enumerate() {
                out.push(SpanFacts {
                    trace_id: format!("{:032x}", 1_000_000 + trace * 10 + i as u32),
                    span_id: String::new(),
                    sender: "svc".into(),
                    runs_in: vec![image],
                    workload: Some(WorkloadIdentity {
                        environment: Some("prod".into()),
                        namespace: None,
                        name: format!("w{trace}-{i}"),
                        cluster: None,
                    }),
                    ..SpanFacts::default()
                });
            }
        }
        out
    }

    #[tokio::test]
    async fn nested_typed_queries_cost_statements_per_level_not_per_node() {
        if skip_postgres() {
            eprintln!("SKIPPED: PostgreSQL test (PROVGRAPH_SKIP_POSTGRES=1)");
            return;
        }
        let db = TestDb::new(Flavor::Postgres).await;
        let store = db.store().await.unwrap();
        store.write(&graph(1, 2)).await.unwrap();
        store.write(&graph(2, 12)).await.unwrap();
        let schema = super::super::build_schema(store.clone(), ApiLimits::default());
        let count = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry().with(Statements(count.clone()));
        let _guard = tracing::subscriber::set_default(subscriber);
        // Another test thread may meet sqlx's callsites first, with no
        // subscriber, and cache "never interested" while this one counts
        // (CI counted [0, 0] here twice). So: one query first, which
        // registers every callsite the counted ones use (after it, no
        // registration on another thread can overwrite their interest),
        // then their interest asked again with this thread's counter.
        let warm = format!(
            "{{ commit(sha: \"{}\") {{ builds {{ id artifacts {{ digest workloads {{ key }} }} }} }} }}",
            commit(1)
        );
        let response = schema.execute(warm.as_str()).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        tracing::callsite::rebuild_interest_cache();
        let mut costs = Vec::new();
        for (c, builds) in [(1u32, 2usize), (2, 12)] {
            let query = format!(
                "{{ commit(sha: \"{}\") {{ builds {{ id artifacts {{ digest workloads {{ key }} }} }} }} }}",
                commit(c)
            );
            count.store(0, Ordering::SeqCst);
            let response = schema
                .execute(query.as_str())
                .instrument(tracing::info_span!("counted"))
                .await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            let data = response.data.into_json().unwrap();
            let found = data["commit"]["builds"].as_array().unwrap();
            assert_eq!(found.len(), builds);
            for build in found {
                let artifacts = build["artifacts"].as_array().unwrap();
                assert_eq!(artifacts.len(), 2, "{build}");
                for artifact in artifacts {
                    assert_eq!(artifact["workloads"].as_array().unwrap().len(), 1);
                }
            }
            costs.push(count.load(Ordering::SeqCst));
        }
        eprintln!("statements for 2 and for 12 builds: {costs:?}");
        assert!(costs[0] > 0, "statements are counted: {costs:?}");
        assert_eq!(
            costs[0], costs[1],
            "2 builds and 12 builds cost the same statements: {costs:?}"
        );
        assert!(
            costs[1] <= 8,
            "the commit, then two statements a level: {costs:?}"
        );
        db.cleanup().await;
    }
}
