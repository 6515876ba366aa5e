//! The ingest queue: receivers hand span facts to one writer task, which
//! groups whatever is waiting into one transaction (group commit) and answers
//! each request only after that transaction committed.
//!
//! The queue is bounded by span facts, not requests: when it is full the
//! receiver is told at once ([`IngestError::Overloaded`]) and answers 503 /
//! UNAVAILABLE with Retry-After, instead of buffering without bound.

use std::sync::Arc;
use std::time::Duration;

use provgraph_model::{Sighting, SpanFacts};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{Routed, Store, StoreError, WriteStats};

/// Queue and batching limits.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// Span facts waiting or being written, at most. Past it, exports are
    /// refused with a retryable error.
    pub max_queued_facts: usize,
    /// Span facts per transaction, at most (requests are never split: one
    /// larger request makes a larger transaction).
    pub max_batch_facts: usize,
    /// How long a request waits for its commit before it is answered with a
    /// retryable error (the write may still commit; a retry is idempotent).
    pub commit_timeout: Duration,
    /// Attempts at one transaction when it collides with another writer
    /// (deadlock, serialization failure, busy), before the requests in it are
    /// refused. A database that is away (down, disk full, read-only) is not
    /// retried here: the requests are refused at once with a retryable error,
    /// and their senders retry.
    pub attempts: u32,
}

impl Default for IngestConfig {
    fn default() -> IngestConfig {
        IngestConfig {
            max_queued_facts: 262_144,
            max_batch_facts: 16_384,
            commit_timeout: Duration::from_secs(30),
            attempts: 3,
        }
    }
}

/// Why facts were not committed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The queue is full: retry after a while.
    #[error("ingest queue is full ({queued} span facts waiting); retry later")]
    Overloaded { queued: usize },
    /// The writer has stopped (shutting down).
    #[error("ingest is shutting down")]
    Closed,
    /// The commit did not finish within the timeout.
    #[error("commit did not finish within {0:?}")]
    Timeout(Duration),
    /// The store refused the write.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    /// True when the sender should retry the same data later.
    pub fn is_retryable(&self) -> bool {
        match self {
            IngestError::Overloaded { .. } | IngestError::Closed | IngestError::Timeout(_) => true,
            // A store failure loses nothing acknowledged: the sender keeps
            // the data and may retry it.
            IngestError::Store(_) => true,
        }
    }
}

struct Job {
    /// What is left to commit once known sightings went to memory.
    routed: Routed,
    /// Span facts the request brought (its answer's count).
    facts: usize,
    done: oneshot::Sender<Result<WriteStats, Arc<StoreError>>>,
    _permit: OwnedSemaphorePermit,
}

/// The sending side of the ingest queue. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Ingest {
    store: Store,
    jobs: mpsc::UnboundedSender<Job>,
    room: Arc<Semaphore>,
    config: Arc<IngestConfig>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("facts", &self.facts)
            .field("to_commit", &self.routed.len())
            .finish()
    }
}

impl Ingest {
    /// Starts the writer task. It ends when every [`Ingest`] clone is dropped
    /// and the queue is drained.
    pub fn start(store: Store, config: IngestConfig) -> (Ingest, JoinHandle<()>) {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let room = Arc::new(Semaphore::new(config.max_queued_facts));
        let config = Arc::new(config);
        let writer = tokio::spawn(run_writer(store.clone(), receiver, config.clone()));
        (
            Ingest {
                store,
                jobs,
                room,
                config,
            },
            writer,
        )
    }

    /// Span facts waiting or being written now.
    pub fn queued(&self) -> usize {
        self.config.max_queued_facts - self.room.available_permits()
    }

    /// Commits `facts`, returning once they are durable.
    pub async fn write(&self, facts: Vec<SpanFacts>) -> Result<WriteStats, IngestError> {
        self.write_with_sightings(facts, Vec::new()).await
    }

    /// Commits `facts` and records `sightings` (from metrics and logs),
    /// returning once what needs the database is durable. Sightings (and a
    /// workload's bare spans) that this process committed before only move
    /// memory, and are answered at once (see `sightings.rs`).
    pub async fn write_with_sightings(
        &self,
        facts: Vec<SpanFacts>,
        sightings: Vec<Sighting>,
    ) -> Result<WriteStats, IngestError> {
        let count = facts.len();
        let routed = self.store.route(facts, sightings, crate::now_millis());
        if routed.is_empty() {
            return Ok(WriteStats {
                span_facts: count as u64,
                ..WriteStats::default()
            });
        }
        // A request larger than the whole queue may still go through alone.
        let wanted = routed.len().clamp(1, self.config.max_queued_facts) as u32;
        let permit = self
            .room
            .clone()
            .try_acquire_many_owned(wanted)
            .map_err(|_| IngestError::Overloaded {
                queued: self.queued(),
            })?;
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                routed,
                facts: count,
                done,
                _permit: permit,
            })
            .map_err(|_| IngestError::Closed)?;
        match tokio::time::timeout(self.config.commit_timeout, answer).await {
            Err(_) => Err(IngestError::Timeout(self.config.commit_timeout)),
            Ok(Err(_)) => Err(IngestError::Closed),
            Ok(Ok(Ok(stats))) => Ok(stats),
            Ok(Ok(Err(err))) => Err(IngestError::Store(match Arc::try_unwrap(err) {
                Ok(err) => err,
                Err(shared) => StoreError::unavailable(shared.to_string()),
            })),
        }
    }
}

/// Span facts written between two refreshes of the planner's statistics.
const STATISTICS_EVERY_FACTS: usize = 200_000;

async fn run_writer(
    store: Store,
    mut receiver: mpsc::UnboundedReceiver<Job>,
    config: Arc<IngestConfig>,
) {
    let mut pending: Option<Job> = None;
    let mut since_statistics = 0usize;
    loop {
        let first = match pending.take() {
            Some(job) => job,
            None => match receiver.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        let mut total = first.routed.len();
        let mut jobs = vec![first];
        while total < config.max_batch_facts {
            match receiver.try_recv() {
                Ok(job) if total + job.routed.len() > config.max_batch_facts => {
                    pending = Some(job);
                    break;
                }
                Ok(job) => {
                    total += job.routed.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let batch = Routed::merge(jobs.iter().map(|j| j.routed.clone()));
        let result = write_with_retries(&store, &batch, config.attempts).await;
        if let Err(err) = &result
            && !err.is_retryable()
            && jobs.len() > 1
        {
            // One bad request must not sink the others grouped with it:
            // write each alone.
            tracing::warn!(error = %err, requests = jobs.len(), "group commit failed; writing requests one by one");
            for job in jobs {
                let result = write_with_retries(&store, &job.routed, config.attempts).await;
                let _ = job.done.send(result.map_err(Arc::new));
            }
            continue;
        }
        match &result {
            Ok(stats) => tracing::trace!(
                requests = jobs.len(),
                span_facts = stats.span_facts,
                traces_rederived = stats.traces_rederived,
                "batch committed"
            ),
            Err(err) => {
                tracing::warn!(requests = jobs.len(), span_facts = batch.facts.len(), error = %err, "batch refused")
            }
        }
        if result.is_ok() {
            // New modules and go.mod files may fall under imported
            // vulnerability records: the matcher looks, off this path.
            store.wake_vuln_matcher();
            since_statistics += batch.facts.len();
            if since_statistics >= STATISTICS_EVERY_FACTS {
                since_statistics = 0;
                if let Err(err) = store.refresh_statistics().await {
                    tracing::warn!(error = %err, "refreshing planner statistics failed");
                }
            }
        }
        let shared = result.map_err(Arc::new);
        for job in jobs {
            let answer = match &shared {
                Ok(_) => Ok(WriteStats {
                    span_facts: job.facts as u64,
                    ..WriteStats::default()
                }),
                Err(err) => Err(err.clone()),
            };
            // The requester may have timed out; the commit stands anyway.
            let _ = job.done.send(answer);
        }
    }
    tracing::debug!("ingest writer stopped");
}

async fn write_with_retries(
    store: &Store,
    batch: &Routed,
    attempts: u32,
) -> Result<WriteStats, StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store.commit_routed(batch, crate::now_millis()).await {
            Err(err) if err.is_conflict() && attempt < attempts.max(1) => {
                tracing::debug!(attempt, error = %err, "retrying batch");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            other => return other,
        }
    }
}
