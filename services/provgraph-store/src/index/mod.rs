//! The in-memory lineage index: the graph's adjacency (node ids, edge ids and
//! kinds, no keys) in a petgraph `Graph`, so that a lineage walk costs
//! microseconds instead of one SQL query per depth.
//!
//! - **Loaded** from `edges` (and the kinds from `nodes`) when the API starts
//!   ([`Store::start_lineage_index`]), in the background, with progress in
//!   the log; until it is loaded, lineage is answered with SQL.
//! - **Kept up to date from the edge change log** (`edge_log`, migration
//!   0005): triggers write every insert into and delete from `edges` there,
//!   in commit order, in the writing transaction. The index applies what
//!   follows the last `seq` it applied. So it never holds an edge that was
//!   not committed, and it sees edges written by *any* process on the same
//!   database (another replica, `provgraph import`), not only its own.
//! - **Read-your-writes**: every commit of this process bumps a counter; a
//!   walk first catches up when the index has not applied a commit this
//!   process acknowledged. Other processes' commits are picked up by a poll
//!   every [`POLL_EVERY`]: that is the staleness bound for them.
//! - **Vouched for at answer time**: the rows of an answer (nodes and edges)
//!   are read in one query; an edge the index has and the table no longer
//!   has (deleted by another process since the last poll) sends the walk to
//!   SQL instead. Deletions are therefore never stale; additions by other
//!   processes are at most one poll late.
//!
//! Memory: 16 bytes per node and 24 per edge in the graph (weights pack the
//! database id with the kind), plus the id map: 4 bytes per possible node
//! id, allocated in pages of 4,096 ids where ids exist.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use provgraph_model::NodeKind;

use crate::lineage::{Direction, LineageLimits, Subgraph};
use crate::sql::LogRow;
use crate::{EdgeRow, NodeRow, Store, StoreError};

mod graph;

use graph::{Graph, next_generation};

/// How often the index reads changes committed by other processes.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long changes stay in `edge_log` before they are pruned. A process
/// that has not read the log for longer reloads its index.
pub const LOG_RETENTION: Duration = Duration::from_secs(60);
const PRUNE_EVERY: Duration = Duration::from_secs(10);
/// Log rows read per query, and applied per hold of the write lock.
const LOG_BATCH: i64 = 20_000;
/// Rows read per query during the initial load.
const LOAD_BATCH: i64 = 100_000;

/// Walks that visit more nodes than this are kept whole, sorted, for the
/// next pages of the same walk (while the graph does not change).
const CACHE_MIN_NODES: usize = 10_000;
/// ... unless they hold more nodes than this (12 bytes each).
const CACHE_MAX_ITEMS: usize = 2_000_000;
/// Walks kept, at most (the least recently used goes).
const CACHE_ENTRIES: usize = 4;

/// A start, a direction, a depth and kinds.
type WalkKey = (i64, Direction, u32, Vec<i16>);

/// A big walk, whole: (depth, id) in order, for one graph generation.
struct CachedWalk {
    key: WalkKey,
    generation: u64,
    items: Arc<Vec<(u32, i64)>>,
}

/// The page of `items` after `after`: up to `first`, and whether more follow.
fn page_of(
    items: &[(u32, i64)],
    first: usize,
    after: Option<(u32, i64)>,
) -> (Vec<(i64, u32)>, bool) {
    let from = after.map_or(0, |a| items.partition_point(|item| *item <= a));
    let to = from.saturating_add(first).min(items.len());
    (
        items[from..to].iter().map(|(d, id)| (*id, *d)).collect(),
        to < items.len(),
    )
}

/// The index shared by every clone of a [`Store`].
#[derive(Default)]
pub(crate) struct IndexState {
    graph: RwLock<Graph>,
    /// Big walks of `lineage_page`, whole.
    walks: std::sync::Mutex<VecDeque<CachedWalk>>,
    ready: AtomicBool,
    started: AtomicBool,
    stopped: AtomicBool,
    /// The last `edge_log.seq` applied; held while catching up.
    applied_seq: tokio::sync::Mutex<i64>,
    /// Commits of this process, and how many of them the index has applied.
    committed: AtomicU64,
    applied: AtomicU64,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for IndexState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexState")
            .field("ready", &self.ready.load(Ordering::Relaxed))
            .finish()
    }
}

impl IndexState {
    /// Called after every commit of this process.
    pub(crate) fn committed(&self) {
        self.committed.fetch_add(1, Ordering::AcqRel);
        if self.started.load(Ordering::Relaxed) {
            self.wake.notify_one();
        }
    }

    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }
}

/// Answers of the index, as the tests and `lineage` see them.
impl Store {
    /// Starts loading the lineage index in the background and keeping it up
    /// to date (idempotent). Needs a Tokio runtime.
    pub fn start_lineage_index(&self) {
        if self.index.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.index.started.store(false, Ordering::Release);
            tracing::debug!("no runtime: the lineage index is not started");
            return;
        };
        let store = self.clone();
        runtime.spawn(async move { store.run_index().await });
    }

    /// Loads the lineage index now (tests; `start_lineage_index` does it in
    /// the background). Other processes' changes are then read by
    /// [`Store::catch_up_lineage_index`].
    pub async fn load_lineage_index(&self) -> Result<(), StoreError> {
        let mut seq = self.index.applied_seq.lock().await;
        self.reload(&mut seq).await
    }

    /// True once the index answers lineage.
    pub fn lineage_index_ready(&self) -> bool {
        self.index.ready.load(Ordering::Acquire)
    }

    /// Nodes and edges in the index.
    pub fn lineage_index_size(&self) -> (usize, usize) {
        self.index
            .graph
            .read()
            .map(|g| g.size())
            .unwrap_or_default()
    }

    /// Applies every change committed since the last one applied, by any
    /// process.
    pub async fn catch_up_lineage_index(&self) -> Result<(), StoreError> {
        let target = self.index.committed.load(Ordering::Acquire);
        let mut seq = self.index.applied_seq.lock().await;
        self.catch_up_locked(&mut seq).await?;
        self.index.applied.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// Catches up when a commit of this process is not applied yet.
    async fn sync_own_commits(&self) -> Result<(), StoreError> {
        let target = self.index.committed.load(Ordering::Acquire);
        if self.index.applied.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let mut seq = self.index.applied_seq.lock().await;
        if self.index.applied.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        self.catch_up_locked(&mut seq).await?;
        self.index.applied.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    async fn catch_up_locked(&self, seq: &mut i64) -> Result<(), StoreError> {
        if !self.lineage_index_ready() {
            return Ok(());
        }
        let from = *seq;
        loop {
            let rows: Vec<LogRow> = on_db!(
                self,
                read | conn | edge_log::log_since(conn, *seq, LOG_BATCH)
            );
            if let Some(last) = rows.last() {
                let mut graph = self
                    .index
                    .graph
                    .write()
                    .map_err(|_| StoreError::Corrupt("lineage index lock poisoned".into()))?;
                for row in &rows {
                    graph.apply(row);
                }
                graph.generation = next_generation();
                *seq = last.seq;
            }
            if (rows.len() as i64) < LOG_BATCH {
                break;
            }
        }
        let (_, pruned): (i64, i64) = on_db!(self, read | conn | edge_log::log_state(conn));
        if pruned > from {
            // Changes this index never read were pruned: start again.
            tracing::warn!(
                applied = from,
                pruned,
                "lineage index fell behind the edge log; reloading"
            );
            self.reload(seq).await?;
        }
        Ok(())
    }

    /// Builds the index from the tables, then applies what was logged
    /// since the load began.
    async fn reload(&self, seq: &mut i64) -> Result<(), StoreError> {
        let began = Instant::now();
        let (head, _): (i64, i64) = on_db!(self, read | conn | edge_log::log_state(conn));
        let (edge_count, node_count): (i64, i64) =
            on_db!(self, read | conn | edge_log::counts(conn));
        let big = edge_count > 200_000;
        if big {
            tracing::info!(
                edges = edge_count,
                nodes = node_count,
                "loading the lineage index"
            );
        }
        let mut graph =
            Graph::with_capacity(node_count.max(0) as usize, edge_count.max(0) as usize);
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, i16)> = on_db!(
                self,
                read | conn | edge_log::node_kinds_after(conn, after, LOAD_BATCH)
            );
            for (id, kind) in &rows {
                graph.node(*id, Some(*kind));
            }
            match rows.last() {
                Some((id, _)) if rows.len() as i64 == LOAD_BATCH => after = *id,
                _ => break,
            }
        }
        let mut after = 0i64;
        let mut loaded = 0usize;
        let mut last_report = Instant::now();
        loop {
            let rows: Vec<(i64, i16, i64, i64)> = on_db!(
                self,
                read | conn | edge_log::edges_after(conn, after, LOAD_BATCH)
            );
            for row in &rows {
                graph.add_edge(*row, (None, None), false);
            }
            loaded += rows.len();
            if big && last_report.elapsed() >= Duration::from_secs(2) {
                last_report = Instant::now();
                tracing::info!(
                    loaded,
                    of = edge_count,
                    seconds = began.elapsed().as_secs(),
                    "loading the lineage index"
                );
            }
            match rows.last() {
                Some((id, ..)) if rows.len() as i64 == LOAD_BATCH => after = *id,
                _ => break,
            }
        }
        {
            let mut shared = self
                .index
                .graph
                .write()
                .map_err(|_| StoreError::Corrupt("lineage index lock poisoned".into()))?;
            *shared = graph;
        }
        *seq = head;
        self.index.ready.store(true, Ordering::Release);
        // What was committed while loading.
        Box::pin(self.catch_up_locked(seq)).await?;
        let (nodes, edges) = self.lineage_index_size();
        let level = if big {
            tracing::Level::INFO
        } else {
            tracing::Level::DEBUG
        };
        if level == tracing::Level::INFO {
            tracing::info!(
                nodes,
                edges,
                seconds = began.elapsed().as_secs_f64(),
                "lineage index loaded"
            );
        } else {
            tracing::debug!(
                nodes,
                edges,
                seconds = began.elapsed().as_secs_f64(),
                "lineage index loaded"
            );
        }
        Ok(())
    }

    /// The background task: load, then follow the log; prune it.
    async fn run_index(self) {
        while !self.index.stopped.load(Ordering::Relaxed) {
            match self.load_lineage_index().await {
                Ok(()) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "loading the lineage index failed; lineage uses SQL; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
        let mut heads: VecDeque<(Instant, i64)> = VecDeque::new();
        let mut last_prune = Instant::now();
        while !self.index.stopped.load(Ordering::Relaxed) {
            let _ = tokio::time::timeout(POLL_EVERY, self.index.wake.notified()).await;
            if self.index.stopped.load(Ordering::Relaxed) {
                break;
            }
            if let Err(err) = self.catch_up_lineage_index().await {
                tracing::debug!(error = %err, "lineage index catch-up failed");
                continue;
            }
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = Instant::now();
                if let Err(err) = self.prune_edge_log(&mut heads).await {
                    tracing::debug!(error = %err, "pruning the edge log failed");
                }
            }
        }
    }

    /// Deletes the log rows that were already there `LOG_RETENTION` ago.
    async fn prune_edge_log(&self, heads: &mut VecDeque<(Instant, i64)>) -> Result<(), StoreError> {
        let (head, pruned): (i64, i64) = on_db!(self, read | conn | edge_log::log_state(conn));
        let now = Instant::now();
        heads.push_back((now, head));
        let mut upto = None;
        while let Some((at, seen)) = heads.front().copied() {
            if now.duration_since(at) < LOG_RETENTION {
                break;
            }
            upto = Some(seen);
            heads.pop_front();
        }
        let Some(upto) = upto.filter(|u| *u > pruned) else {
            return Ok(());
        };
        let deleted = on_db!(self, write | tx | edge_log::prune_log(&mut tx, upto));
        tracing::debug!(upto, deleted, "edge log pruned");
        Ok(())
    }

    /// The lineage answer from the index, or `None` when the index is not
    /// loaded or cannot vouch for it (an edge it holds is gone).
    pub async fn lineage_indexed(
        &self,
        start: &NodeRow,
        direction: Direction,
        limits: LineageLimits,
    ) -> Result<Option<Subgraph>, StoreError> {
        if !self.lineage_index_ready() {
            return Ok(None);
        }
        self.sync_own_commits().await?;
        let walk = {
            let graph = self
                .index
                .graph
                .read()
                .map_err(|_| StoreError::Corrupt("lineage index lock poisoned".into()))?;
            graph.walk(start.id, direction, limits)
        };
        let edge_ids: Vec<i64> = walk.edges.iter().map(|e| e.0).collect();
        let (mut nodes, edges): (Vec<NodeRow>, Vec<EdgeRow>) = on_db!(
            self,
            read | conn | edge_log::rows_by_id(conn, &walk.order, &edge_ids)
        );
        let mut by_id: HashMap<i64, EdgeRow> = edges.into_iter().map(|e| (e.id, e)).collect();
        let mut ordered = Vec::with_capacity(walk.edges.len());
        for (id, kind, from, to) in &walk.edges {
            match by_id.remove(id) {
                Some(row)
                    if row.kind.code() == *kind && row.from_id == *from && row.to_id == *to =>
                {
                    ordered.push(row)
                }
                _ => {
                    tracing::debug!(
                        edge = id,
                        "lineage index holds an edge the store does not; using SQL"
                    );
                    return Ok(None);
                }
            }
        }
        let position: HashMap<i64, usize> = walk
            .order
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i))
            .collect();
        nodes.sort_by_key(|n| position.get(&n.id).copied().unwrap_or(usize::MAX));
        Ok(Some(Subgraph {
            nodes,
            depth: walk.depth,
            edges: ordered,
            truncated: walk.truncated,
        }))
    }

    /// One page of the nodes reachable from `start` (see [`LineagePage`]).
    /// From the index when it is loaded; else from the SQL walk, which
    /// gives up (an error) past `request.sql_max_nodes`.
    pub async fn lineage_page(
        &self,
        start: &NodeRow,
        request: &PageRequest,
    ) -> Result<LineagePage, StoreError> {
        let PageRequest {
            direction,
            max_depth,
            ref kinds,
            first,
            after,
            sql_max_nodes,
        } = *request;
        let (items, has_next) = if self.lineage_index_ready() {
            self.sync_own_commits().await?;
            let graph = self
                .index
                .graph
                .read()
                .map_err(|_| StoreError::Corrupt("lineage index lock poisoned".into()))?;
            let mut codes: Vec<i16> = kinds.iter().map(|k| k.code()).collect();
            codes.sort_unstable();
            codes.dedup();
            let key: WalkKey = (start.id, direction, max_depth, codes);
            let cached = {
                let mut walks = self.index.walks.lock().unwrap_or_else(|e| e.into_inner());
                walks.retain(|w| w.generation == graph.generation);
                let at = walks.iter().position(|w| w.key == key);
                at.and_then(|at| walks.remove(at)).inspect(|hit| {
                    walks.push_front(CachedWalk {
                        key: hit.key.clone(),
                        generation: hit.generation,
                        items: Arc::clone(&hit.items),
                    });
                })
            };
            if let Some(hit) = cached {
                page_of(&hit.items, first, after)
            } else {
                let start_node = (start.id, start.kind);
                let (page, more, visited) =
                    graph.page(start_node, direction, max_depth, kinds, first, after);
                if visited < CACHE_MIN_NODES {
                    (page, more)
                } else {
                    // A hub: walk it whole once, and page the next queries
                    // from memory while the graph stays as it is.
                    let (all, _, _) = graph.page(
                        start_node,
                        direction,
                        max_depth,
                        kinds,
                        usize::MAX - 1,
                        None,
                    );
                    let items: Vec<(u32, i64)> = all.into_iter().map(|(id, d)| (d, id)).collect();
                    if items.len() <= CACHE_MAX_ITEMS {
                        let mut walks = self.index.walks.lock().unwrap_or_else(|e| e.into_inner());
                        walks.push_front(CachedWalk {
                            key,
                            generation: graph.generation,
                            items: Arc::new(items),
                        });
                        walks.truncate(CACHE_ENTRIES);
                    }
                    (page, more)
                }
            }
        } else {
            let limits = LineageLimits {
                max_depth,
                max_nodes: sql_max_nodes,
            };
            let sub = self.lineage_sql(start, direction, limits).await?;
            if sub.truncated {
                return Err(sql_page_too_large(sql_max_nodes));
            }
            let mut all: Vec<(u32, i64)> = sub
                .nodes
                .iter()
                .filter(|n| kinds.is_empty() || kinds.contains(&n.kind))
                .map(|n| (sub.depth.get(&n.id).copied().unwrap_or(0), n.id))
                .collect();
            all.sort_unstable();
            page_of(&all, first, after)
        };
        self.page_rows(items, has_next).await
    }

    /// The rows of a page's (node id, depth) items; a node deleted since
    /// the index saw it is left out.
    async fn page_rows(
        &self,
        items: Vec<(i64, u32)>,
        has_next: bool,
    ) -> Result<LineagePage, StoreError> {
        let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
        let (rows, _): (Vec<NodeRow>, Vec<EdgeRow>) =
            on_db!(self, read | conn | edge_log::rows_by_id(conn, &ids, &[]));
        let mut rows: HashMap<i64, NodeRow> = rows.into_iter().map(|n| (n.id, n)).collect();
        let nodes = items
            .into_iter()
            .filter_map(|(id, depth)| rows.remove(&id).map(|row| (row, depth)))
            .collect();
        Ok(LineagePage { nodes, has_next })
    }
}

impl Store {
    /// One page of the nodes reachable from any of `starts`, each at its
    /// distance from the nearest (an impact with several roots: the images
    /// a vulnerability affects). Paged as [`Store::lineage_page`].
    pub async fn lineage_page_from(
        &self,
        starts: &[NodeRow],
        request: &PageRequest,
    ) -> Result<LineagePage, StoreError> {
        match starts {
            [] => return Ok(LineagePage::default()),
            [start] => return self.lineage_page(start, request).await,
            _ => {}
        }
        let PageRequest {
            direction,
            max_depth,
            ref kinds,
            first,
            after,
            sql_max_nodes,
        } = *request;
        let (items, has_next) = if self.lineage_index_ready() {
            self.sync_own_commits().await?;
            let graph = self
                .index
                .graph
                .read()
                .map_err(|_| StoreError::Corrupt("lineage index lock poisoned".into()))?;
            let starts: Vec<(i64, NodeKind)> = starts.iter().map(|n| (n.id, n.kind)).collect();
            let (page, more, _) =
                graph.page_from(&starts, direction, max_depth, kinds, first, after);
            (page, more)
        } else {
            let limits = LineageLimits {
                max_depth,
                max_nodes: sql_max_nodes,
            };
            let mut depths: HashMap<i64, (u32, NodeKind)> = HashMap::new();
            for start in starts {
                let sub = self.lineage_sql(start, direction, limits).await?;
                if sub.truncated || depths.len() > sql_max_nodes {
                    return Err(sql_page_too_large(sql_max_nodes));
                }
                for node in &sub.nodes {
                    let depth = sub.depth.get(&node.id).copied().unwrap_or(0);
                    depths
                        .entry(node.id)
                        .and_modify(|(d, _)| *d = (*d).min(depth))
                        .or_insert((depth, node.kind));
                }
            }
            let mut all: Vec<(u32, i64)> = depths
                .into_iter()
                .filter(|(_, (_, kind))| kinds.is_empty() || kinds.contains(kind))
                .map(|(id, (depth, _))| (depth, id))
                .collect();
            all.sort_unstable();
            page_of(&all, first, after)
        };
        self.page_rows(items, has_next).await
    }
}

impl Store {
    /// The images a vulnerability group affects (see `Graph::affected`),
    /// from the lineage index; `None` while it is loading.
    pub(crate) async fn affected_from_index(
        &self,
        group: &[i64],
    ) -> Result<Option<Vec<i64>>, StoreError> {
        if !self.lineage_index_ready() {
            return Ok(None);
        }
        self.sync_own_commits().await?;
        let graph = self
            .index
            .graph
            .read()
            .map_err(|_| StoreError::Corrupt("lineage index lock poisoned".into()))?;
        Ok(Some(graph.affected(group)))
    }
}

/// Without the index, a page is read by walking in SQL, which gives up
/// past this many reachable nodes.
fn sql_page_too_large(sql_max_nodes: usize) -> StoreError {
    StoreError::unavailable(format!(
        "the lineage index is loading, and without it a page is limited to {sql_max_nodes} reachable nodes; retry shortly"
    ))
}

/// What page of a lineage walk to read.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub direction: Direction,
    /// Edges followed from the start node, at most.
    pub max_depth: u32,
    /// Only nodes of these kinds (all when empty); the walk still passes
    /// through the others.
    pub kinds: Vec<NodeKind>,
    /// Nodes in the page, at most.
    pub first: usize,
    /// The (depth, node id) of the last node of the previous page.
    pub after: Option<(u32, i64)>,
    /// Without the index (still loading), the SQL walk's node cap.
    pub sql_max_nodes: usize,
}

/// One page of a lineage walk: nodes in (depth, id) order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineagePage {
    /// Each node with its distance from the start.
    pub nodes: Vec<(NodeRow, u32)>,
    /// More nodes follow the last one.
    pub has_next: bool,
}

/// Keeps the compiler honest about sharing the index across tasks.
#[allow(dead_code)]
fn assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Arc<IndexState>>();
}
