//! Sightings: which workload runs which image, first and last seen, however
//! much telemetry says so.
//!
//! A sighting (a resource that names the image its process runs in, in a
//! trace with no build facts, or in any metrics or logs export) is routed
//! here instead of the per-trace path (`span_facts`, evidence rows). Memory
//! holds, per (workload, digest) pair, its last sighting and the sightings
//! counted since the last flush:
//!
//! - a sighting never committed by this process (a new pair, or new names,
//!   tags or sender) is committed before its export is acknowledged, in the
//!   ingest writer's transaction;
//! - a known one only moves memory; [`Store::flush_sightings`] writes each
//!   pair that moved, at most once per flush interval;
//! - queries merge memory over the rows, so `lastSeen` moves at once;
//! - a restart loses at most one interval of `lastSeen` and counts.
//!
//! All spans of a trace describe one build, in whatever order they come: a
//! trace whose bare spans were counted as sightings and that shows build
//! facts later (within [`TRACE_WINDOW_MS`], in this process) has those
//! sightings taken back and its spans derived as the build's (the image is
//! the builder's). Beyond that window, or across a restart, they stay
//! counted as a workload's sighting too.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use provgraph_model::{NodeKind, Sighting, SpanFacts};

use crate::plan::Seen;
use crate::{NodeRow, Store, StoreError, WriteStats};

/// How long a trace's bare sightings are remembered, so that build facts
/// arriving later can take them back (ms).
pub const TRACE_WINDOW_MS: i64 = 60_000;
/// Traces remembered at most (the oldest are forgotten first).
pub const MAX_REMEMBERED_TRACES: usize = 100_000;

/// (workload key, image digest).
pub type PairKey = (String, String);

/// Flush and retention settings.
#[derive(Clone, Debug)]
pub struct SightingConfig {
    /// How often memory is written to the store (`--sighting-flush-interval`).
    pub flush_interval: Duration,
    /// Sightings not seen for longer are pruned (`--workload-retention`).
    pub retention: Duration,
    /// Sightings pruned per transaction, at most: pruning never holds the
    /// writer for long.
    pub prune_batch: usize,
}

impl Default for SightingConfig {
    fn default() -> SightingConfig {
        SightingConfig {
            flush_interval: Duration::from_secs(30),
            retention: Duration::from_secs(30 * 24 * 3600),
            prune_batch: 500,
        }
    }
}

/// A sighting row, with memory merged over it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SightingRow {
    pub workload_id: i64,
    /// The WORKLOAD key.
    pub workload: String,
    pub artifact_id: i64,
    /// The image digest.
    pub digest: String,
    /// Milliseconds since the epoch.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Sightings received (one per trace per export, one per resource per
    /// metrics or logs export).
    pub count: i64,
}

/// A workload with its first and last sighting, memory merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadSeen {
    pub node: NodeRow,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// What a prune pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneStats {
    pub sightings: u64,
    pub workloads: u64,
}

/// What memory knows of one pair beyond the rows.
#[derive(Clone, Debug)]
struct Pair {
    first_seen: i64,
    last_seen: i64,
    /// Sightings counted since the last flush.
    pending: i64,
    /// The last_seen the rows hold.
    flushed_last: i64,
}

#[derive(Debug, Default)]
struct Memory {
    /// Sightings committed by this process: the same again needs no write.
    known: HashSet<Arc<Sighting>>,
    pairs: HashMap<PairKey, Pair>,
    /// Traces whose bare spans were counted as sightings: (when, what).
    traces: HashMap<String, (i64, Vec<Arc<Sighting>>)>,
    trace_order: VecDeque<(i64, String)>,
    /// Traces this process wrote as builds' (when last).
    builds: HashMap<String, i64>,
    build_order: VecDeque<(i64, String)>,
}

/// The sightings' shared state (in every clone of the [`Store`]).
#[derive(Debug, Default)]
pub(crate) struct SightingState {
    memory: Mutex<Memory>,
    /// Sighting rows inserted or updated.
    pub(crate) written: AtomicU64,
    pub(crate) pruned: AtomicU64,
    pub(crate) workloads_pruned: AtomicU64,
}

/// A write, split: what goes the per-trace way, and what the sightings do.
#[derive(Clone, Debug, Default)]
pub struct Routed {
    /// Span facts for the per-trace path (builds' traces, and the bare
    /// spans of traces that turned out to be builds').
    pub facts: Vec<SpanFacts>,
    /// Sightings never committed by this process, with how many times each
    /// was received.
    new: Vec<(Arc<Sighting>, i64)>,
    /// Sightings taken back: pair -> how many.
    retracted: BTreeMap<PairKey, i64>,
    /// Build traces in this write.
    builds: Vec<String>,
}

impl Routed {
    /// True when nothing needs the database.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty() && self.new.is_empty() && self.retracted.is_empty()
    }

    /// Span facts and sightings to commit (for the ingest queue's bound).
    pub fn len(&self) -> usize {
        self.facts.len() + self.new.len() + self.retracted.len()
    }

    /// Several writes as one transaction.
    pub fn merge(parts: impl IntoIterator<Item = Routed>) -> Routed {
        let mut all = Routed::default();
        for part in parts {
            all.facts.extend(part.facts);
            all.new.extend(part.new);
            for (pair, n) in part.retracted {
                *all.retracted.entry(pair).or_default() += n;
            }
            all.builds.extend(part.builds);
        }
        all
    }
}

fn pairs_of(sighting: &Sighting) -> impl Iterator<Item = PairKey> + '_ {
    let workload = sighting.workload.key();
    sighting
        .images
        .iter()
        .map(move |image| (workload.clone(), image.digest.clone()))
}

fn bare_facts(trace_id: &str, sighting: &Sighting) -> SpanFacts {
    SpanFacts {
        trace_id: trace_id.to_string(),
        span_id: String::new(),
        sender: sighting.sender.clone(),
        runs_in: sighting.images.clone(),
        workload: Some(sighting.workload.clone()),
        ..SpanFacts::default()
    }
}

impl Memory {
    fn forget_old(&mut self, now: i64) {
        let horizon = now - TRACE_WINDOW_MS;
        while let Some((at, trace)) = self.trace_order.front() {
            if *at >= horizon && self.trace_order.len() <= MAX_REMEMBERED_TRACES {
                break;
            }
            if self.traces.get(trace).is_some_and(|(t, _)| t == at) {
                self.traces.remove(trace);
            }
            self.trace_order.pop_front();
        }
        while let Some((at, trace)) = self.build_order.front() {
            if *at >= horizon && self.build_order.len() <= MAX_REMEMBERED_TRACES {
                break;
            }
            if self.builds.get(trace) == Some(at) {
                self.builds.remove(trace);
            }
            self.build_order.pop_front();
        }
    }

    /// Counts `count` sightings of `pair` at `now` (0: the pair was just
    /// committed, so the rows hold `now`).
    fn seen(&mut self, pair: PairKey, now: i64, count: i64) {
        let entry = self.pairs.entry(pair).or_insert(Pair {
            first_seen: now,
            last_seen: now,
            pending: 0,
            flushed_last: if count == 0 { now } else { 0 },
        });
        entry.first_seen = entry.first_seen.min(now);
        entry.last_seen = entry.last_seen.max(now);
        entry.pending += count;
    }

    /// Forgets pairs that have no row any more, and every sighting naming
    /// one, so that the next sighting commits again.
    fn forget(&mut self, gone: &[PairKey]) {
        if gone.is_empty() {
            return;
        }
        let gone: HashSet<&PairKey> = gone.iter().collect();
        for pair in &gone {
            self.pairs.remove(*pair);
        }
        self.known
            .retain(|s| !pairs_of(s).any(|pair| gone.contains(&pair)));
    }
}

impl SightingState {
    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store {
    /// Splits a write between the per-trace path and the sightings, and
    /// counts the sightings already committed (memory only). What
    /// [`Routed`] holds still has to be committed ([`Store::commit_routed`]).
    pub fn route(&self, batch: Vec<SpanFacts>, sightings: Vec<Sighting>, now: i64) -> Routed {
        let mut memory = self.sightings.memory();
        memory.forget_old(now);
        let mut builds: HashSet<String> = batch
            .iter()
            .filter(|f| f.has_build_facts())
            .map(|f| f.trace_id.clone())
            .collect();
        for f in &batch {
            if memory.builds.contains_key(&f.trace_id) {
                builds.insert(f.trace_id.clone());
            }
        }
        let mut routed = Routed::default();
        let mut observations: Vec<(Option<String>, Sighting)> = Vec::new();
        for facts in batch {
            if builds.contains(&facts.trace_id) {
                routed.facts.push(facts);
            } else if let Some(sighting) = facts.sighting() {
                observations.push((Some(facts.trace_id), sighting));
            } else {
                routed.facts.push(facts);
            }
        }
        observations.extend(sightings.into_iter().map(|s| (None, s)));
        // Traces that turned out to be builds': their bare spans are the
        // build's, not a workload's.
        for trace in &builds {
            if let Some((_, remembered)) = memory.traces.remove(trace) {
                for sighting in remembered {
                    routed.facts.push(bare_facts(trace, &sighting));
                    for pair in pairs_of(&sighting) {
                        *routed.retracted.entry(pair).or_default() += 1;
                    }
                }
            }
        }
        let mut new: HashMap<Arc<Sighting>, i64> = HashMap::new();
        for (trace, sighting) in observations {
            let sighting = match memory.known.get(&sighting) {
                Some(known) => {
                    let known = known.clone();
                    for pair in pairs_of(&known) {
                        memory.seen(pair, now, 1);
                    }
                    known
                }
                None => {
                    let sighting = Arc::new(sighting);
                    *new.entry(sighting.clone()).or_default() += 1;
                    sighting
                }
            };
            if let Some(trace) = trace {
                match memory.traces.entry(trace.clone()) {
                    Entry::Occupied(mut seen) => {
                        seen.get_mut().0 = now;
                        seen.get_mut().1.push(sighting);
                    }
                    Entry::Vacant(slot) => {
                        slot.insert((now, vec![sighting]));
                    }
                }
                memory.trace_order.push_back((now, trace));
            }
        }
        for trace in &builds {
            memory.builds.insert(trace.clone(), now);
            memory.build_order.push_back((now, trace.clone()));
        }
        routed.new = new.into_iter().collect();
        routed.new.sort_by(|a, b| a.0.cmp(&b.0));
        routed.builds = builds.into_iter().collect();
        routed
    }

    /// Commits a routed write in one transaction: the per-trace facts, the
    /// sightings taken back, the new sightings. Memory learns of the new
    /// ones only after the commit.
    pub async fn commit_routed(&self, routed: &Routed, now: i64) -> Result<WriteStats, StoreError> {
        if routed.is_empty() {
            return Ok(WriteStats::default());
        }
        let retracted: Vec<(PairKey, i64, i64)> = {
            let mut memory = self.sightings.memory();
            routed
                .retracted
                .iter()
                .map(|(pair, taken)| {
                    let pending = memory
                        .pairs
                        .get_mut(pair)
                        .map(|p| std::mem::take(&mut p.pending))
                        .unwrap_or(0);
                    (pair.clone(), pending, *taken)
                })
                .collect()
        };
        let new: Vec<(Sighting, i64, Seen)> = routed
            .new
            .iter()
            .map(|(s, n)| ((**s).clone(), *n, Seen::at(now)))
            .collect();
        let facts = &routed.facts;
        let result = async {
            let done = on_db!(
                self,
                write
                    | tx
                    | async {
                        let stats = if facts.is_empty() {
                            WriteStats::default()
                        } else {
                            writes::write_batch(&mut tx, facts, now).await?
                        };
                        let deleted = sightings::retract_sightings(&mut tx, &retracted).await?;
                        let written = sightings::write_sightings(&mut tx, &new).await?;
                        Ok::<_, StoreError>((stats, deleted, written))
                    }
            );
            self.index.committed();
            Ok::<_, StoreError>(done)
        }
        .await;
        let mut memory = self.sightings.memory();
        let (stats, deleted, written) = match result {
            Ok(done) => done,
            Err(err) => {
                for (pair, pending, _) in &retracted {
                    if let Some(p) = memory.pairs.get_mut(pair) {
                        p.pending += pending;
                    }
                }
                return Err(err);
            }
        };
        memory.forget(&deleted);
        for (sighting, count) in &routed.new {
            for pair in pairs_of(sighting) {
                memory.seen(pair.clone(), now, 0);
                if let Some(p) = memory.pairs.get_mut(&pair) {
                    p.flushed_last = p.flushed_last.max(now);
                }
            }
            let _ = count;
            memory.known.insert(sighting.clone());
        }
        self.sightings
            .written
            .fetch_add(written + retracted.len() as u64, Ordering::Relaxed);
        Ok(stats)
    }

    /// Writes what memory holds beyond the rows (each pair that moved since
    /// the last flush, once). Returns the pairs written.
    pub async fn flush_sightings(&self) -> Result<u64, StoreError> {
        let pairs: Vec<(PairKey, i64, i64)> = {
            let mut memory = self.sightings.memory();
            memory
                .pairs
                .iter_mut()
                .filter(|(_, p)| p.pending > 0 || p.last_seen > p.flushed_last)
                .map(|(key, p)| {
                    let pending = std::mem::take(&mut p.pending);
                    p.flushed_last = p.last_seen;
                    (key.clone(), p.last_seen, pending)
                })
                .collect()
        };
        if pairs.is_empty() {
            return Ok(0);
        }
        let result = async {
            Ok::<_, StoreError>(on_db!(
                self,
                write | tx | sightings::flush_sightings(&mut tx, &pairs)
            ))
        }
        .await;
        let mut memory = self.sightings.memory();
        match result {
            Ok(gone) => {
                memory.forget(&gone);
                self.sightings
                    .written
                    .fetch_add(pairs.len() as u64, Ordering::Relaxed);
                Ok(pairs.len() as u64)
            }
            Err(err) => {
                for (key, _, pending) in &pairs {
                    if let Some(p) = memory.pairs.get_mut(key) {
                        p.pending += pending;
                        p.flushed_last = 0;
                    }
                }
                Err(err)
            }
        }
    }

    /// Prunes sightings last seen before `now - retention` (memory flushed
    /// first; pairs memory saw since are kept), at most `batch` per
    /// transaction until none is left, and the workloads left with none.
    /// `now` is given so that tests can move the clock.
    pub async fn prune_sightings_at(
        &self,
        now: i64,
        retention: Duration,
        batch: usize,
    ) -> Result<PruneStats, StoreError> {
        self.flush_sightings().await?;
        let cutoff = now.saturating_sub(retention.as_millis().min(i64::MAX as u128) as i64);
        let limit = batch.max(1) as i64;
        let state = self.sightings.clone();
        let keep = move |workload: &str, digest: &str| {
            state
                .memory()
                .pairs
                .get(&(workload.to_string(), digest.to_string()))
                .is_some_and(|p| p.last_seen >= cutoff)
        };
        let mut stats = PruneStats::default();
        loop {
            let keep = &keep;
            let (pruned, workloads) = on_db!(
                self,
                write | tx | sightings::prune_sightings(&mut tx, cutoff, limit, keep)
            );
            self.index.committed();
            self.sightings.memory().forget(&pruned);
            stats.sightings += pruned.len() as u64;
            stats.workloads += workloads;
            self.sightings
                .pruned
                .fetch_add(pruned.len() as u64, Ordering::Relaxed);
            self.sightings
                .workloads_pruned
                .fetch_add(workloads, Ordering::Relaxed);
            if (pruned.len() as i64) < limit {
                break;
            }
            // Let the ingest writer in between batches.
            tokio::task::yield_now().await;
        }
        Ok(stats)
    }

    /// Flushes every `config.flush_interval` and prunes after each flush,
    /// until the store is closed. Errors are logged; the next round tries
    /// again.
    pub fn start_sightings(&self, config: SightingConfig) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(config.flush_interval.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if store.is_closed() {
                    break;
                }
                if let Err(err) = store.flush_sightings().await {
                    tracing::warn!(error = %err, "flushing sightings failed; retrying next round");
                    continue;
                }
                match store
                    .prune_sightings_at(crate::now_millis(), config.retention, config.prune_batch)
                    .await
                {
                    Ok(stats) if stats.sightings > 0 => tracing::info!(
                        sightings = stats.sightings,
                        workloads = stats.workloads,
                        "pruned workloads not seen within the retention"
                    ),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "pruning sightings failed"),
                }
            }
        })
    }

    /// The sightings of workloads (`by_workload`) or of images, by node id,
    /// memory merged over the rows.
    pub async fn sightings(
        &self,
        ids: &[i64],
        by_workload: bool,
    ) -> Result<Vec<SightingRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = on_db!(
            self,
            read | conn | sightings::sightings_of(conn, ids, by_workload)
        );
        let memory = self.sightings.memory();
        for row in &mut rows {
            if let Some(p) = memory
                .pairs
                .get(&(row.workload.clone(), row.digest.clone()))
            {
                row.last_seen = row.last_seen.max(p.last_seen);
                row.count += p.pending;
            }
        }
        Ok(rows)
    }

    /// Workloads seen at or after `seen_after` (ms), most recently seen
    /// first, after the cursor `(last seen, id)`, at most `first`; and
    /// whether more follow. Memory merged over the rows.
    pub async fn workloads_seen(
        &self,
        seen_after: i64,
        first: usize,
        after: Option<(i64, i64)>,
    ) -> Result<(Vec<WorkloadSeen>, bool), StoreError> {
        // Workloads memory has seen beyond the rows: their place may differ.
        let moved: HashMap<String, i64> = {
            let memory = self.sightings.memory();
            let mut moved: HashMap<String, i64> = HashMap::new();
            for ((workload, _), p) in &memory.pairs {
                if p.last_seen > p.flushed_last {
                    let last = moved.entry(workload.clone()).or_insert(p.last_seen);
                    *last = (*last).max(p.last_seen);
                }
            }
            moved
        };
        let mut moved_ids = Vec::with_capacity(moved.len());
        for key in moved.keys() {
            if let Some(node) = self.node(NodeKind::Workload, key).await? {
                moved_ids.push(node.id);
            }
        }
        let limit = (first + 1 + moved_ids.len()) as i64;
        let rows = on_db!(
            self,
            read | conn | sightings::workloads_by_last_seen(conn, seen_after, after, limit)
        );
        let moved_set: HashSet<i64> = moved_ids.iter().copied().collect();
        let mut found: Vec<(i64, i64, i64)> = rows
            .into_iter()
            .filter(|(id, _, _)| !moved_set.contains(id))
            .collect();
        for row in self.sightings(&moved_ids, true).await? {
            match found.iter_mut().find(|(id, _, _)| *id == row.workload_id) {
                Some((_, first_seen, last_seen)) => {
                    *first_seen = (*first_seen).min(row.first_seen);
                    *last_seen = (*last_seen).max(row.last_seen);
                }
                None => found.push((row.workload_id, row.first_seen, row.last_seen)),
            }
        }
        found.retain(|(id, _, last)| {
            *last >= seen_after && after.is_none_or(|(l, i)| (*last, *id) < (l, i))
        });
        found.sort_by_key(|w| std::cmp::Reverse((w.2, w.0)));
        let has_next = found.len() > first;
        found.truncate(first);
        let ids: Vec<i64> = found.iter().map(|(id, _, _)| *id).collect();
        let mut nodes: HashMap<i64, NodeRow> = self
            .nodes(&ids)
            .await?
            .into_iter()
            .map(|n| (n.id, n))
            .collect();
        let out = found
            .into_iter()
            .filter_map(|(id, first_seen, last_seen)| {
                nodes.remove(&id).map(|node| WorkloadSeen {
                    node,
                    first_seen,
                    last_seen,
                })
            })
            .collect();
        Ok((out, has_next))
    }

    /// The build a CI trace belongs to (its 32 lower-case hex digits),
    /// whichever principal sent it.
    pub async fn build_of_trace(&self, trace_id: &str) -> Result<Option<String>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | sightings::build_of_trace(conn, trace_id)
        ))
    }

    /// Distinct workloads seen since `since` (ms), by this process's memory.
    pub fn workloads_seen_since(&self, since: i64) -> usize {
        let memory = self.sightings.memory();
        memory
            .pairs
            .iter()
            .filter(|(_, p)| p.last_seen >= since)
            .map(|((workload, _), _)| workload)
            .collect::<HashSet<_>>()
            .len()
    }

    /// The sightings' counters and gauges, Prometheus text format.
    pub fn sighting_metrics(&self) -> String {
        let five_minutes_ago = crate::now_millis() - 5 * 60 * 1000;
        format!(
            "# HELP provgraph_workloads_seen_5m Workloads seen in the last 5 minutes (by this process).\n\
             # TYPE provgraph_workloads_seen_5m gauge\nprovgraph_workloads_seen_5m {}\n\
             # HELP provgraph_sightings_written_total Sighting rows inserted or updated (bounded by distinct pairs per flush interval).\n\
             # TYPE provgraph_sightings_written_total counter\nprovgraph_sightings_written_total {}\n\
             # HELP provgraph_sightings_pruned_total Sightings pruned by the workload retention.\n\
             # TYPE provgraph_sightings_pruned_total counter\nprovgraph_sightings_pruned_total {}\n\
             # HELP provgraph_workloads_pruned_total Workloads pruned when their last sighting was.\n\
             # TYPE provgraph_workloads_pruned_total counter\nprovgraph_workloads_pruned_total {}\n",
            self.workloads_seen_since(five_minutes_ago),
            self.sightings.written.load(Ordering::Relaxed),
            self.sightings.pruned.load(Ordering::Relaxed),
            self.sightings.workloads_pruned.load(Ordering::Relaxed),
        )
    }
}
