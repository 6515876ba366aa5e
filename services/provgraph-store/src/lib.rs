//! The graph store: a SQLite file (the default) or PostgreSQL, through sqlx.
//!
//! Writes come in batches of span facts (see [`ingest`] for the queue that
//! groups concurrent requests into one transaction). Every write is an
//! idempotent upsert, and the graph a set of facts yields does not depend on
//! the order or the number of times they arrive: see `plan` and the
//! property test in `tests/`.

#[macro_use]
mod sql;
mod error;
mod index;
pub mod ingest;
mod lineage;
pub mod outbox;
mod plan;
mod rows;
mod sightings;
#[cfg(feature = "testing")]
pub mod testing;
mod vulns;

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use provgraph_model::{EdgeKind, NodeKind, SpanFacts};
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};

pub use error::StoreError;
pub use index::{LOG_RETENTION, LineagePage, POLL_EVERY, PageRequest};
pub use lineage::{Direction, LineageLimits, Subgraph};
pub use rows::{
    AttrRow, EdgeRow, EvidenceBody, EvidenceQuota, EvidenceRow, IndexListing, IndexMember,
    NewEvidenceBody, NodeRow, ProofRow, SignatureRecord, SignatureRow, Snapshot,
};
pub use sightings::{
    MAX_REMEMBERED_TRACES, PairKey, PruneStats, Routed, SightingConfig, SightingRow,
    TRACE_WINDOW_MS, WorkloadSeen,
};
pub use vulns::{
    MATCH_EVERY, OsvWriteStats, ScanWriteStats, VexRow, VexWriteStats, VulnFindingRow,
    VulnProvenance, VulnRecordRow, VulnerabilityRow, statements_in_force,
};

/// How a write went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub span_facts: u64,
    pub traces: u64,
    /// Traces whose build changed, so that what they said before was
    /// derived again.
    pub traces_rederived: u64,
    pub nodes: u64,
    pub edges: u64,
    pub edges_deleted: u64,
    pub nodes_deleted: u64,
}

impl WriteStats {
    fn add(&mut self, other: WriteStats) {
        self.span_facts += other.span_facts;
        self.traces += other.traces;
        self.traces_rederived += other.traces_rederived;
        self.nodes += other.nodes;
        self.edges += other.edges;
        self.edges_deleted += other.edges_deleted;
        self.nodes_deleted += other.nodes_deleted;
    }
}

/// Connection settings beyond the URL.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Connections for queries (the writer has its own).
    pub read_connections: u32,
    /// How long to wait for a connection or a lock before giving up.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            read_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres { pool: PgPool },
}

/// The graph store. Cheap to clone: it holds connection pools.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// The in-memory lineage index (`index/`), shared by all clones.
    index: std::sync::Arc<index::IndexState>,
    /// What memory knows of sightings beyond the rows (`sightings.rs`).
    sightings: std::sync::Arc<sightings::SightingState>,
    /// Wakes the vulnerability matcher (`vulns.rs`).
    vuln_wake: std::sync::Arc<tokio::sync::Notify>,
    /// Set by [`Store::close`].
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens the database at `url` (`sqlite://PATH`, created if missing, or
    /// `postgres://...`) and brings its schema up to date.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("sqlite:") {
            Store::connect_sqlite(url, options).await
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Store::connect_postgres(url, options).await
        } else {
            Err(StoreError::Config {
                message: format!(
                    "unsupported database URL {:?}: expected sqlite://PATH or postgres://USER@HOST/DB",
                    provgraph_model::keys::shorten(url, 80)
                ),
                source: None,
            })
        }
    }

    async fn connect_sqlite(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|err| StoreError::Config {
                message: format!("bad SQLite URL {url:?}: {err}"),
                source: Some(err),
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before the export is acknowledged.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.acquire_timeout)
            .foreign_keys(false)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-65536");
        let open_error = |err: sqlx::Error| StoreError::Unavailable {
            message: format!("cannot open SQLite database {url:?}: {err}"),
            source: Some(err),
        };
        let write = PoolOptions::<sqlx::Sqlite>::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await
            .map_err(open_error)?;
        SQLITE_MIGRATIONS
            .run(&write)
            .await
            .map_err(StoreError::Migrate)?;
        let read = PoolOptions::<sqlx::Sqlite>::new()
            .max_connections(options.read_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            // Readers keep a smaller page cache (16 MiB each instead of the
            // writer's 64): with the lineage index they read rows by key or
            // id, and the OS page cache holds the file once for all of them.
            .connect_with(connect.read_only(true).pragma("cache_size", "-16384"))
            .await
            .map_err(open_error)?;
        Ok(Store {
            backend: Backend::Sqlite { read, write },
            index: Default::default(),
            sightings: Default::default(),
            vuln_wake: Default::default(),
            closed: Default::default(),
        })
    }

    async fn connect_postgres(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|err| StoreError::Config {
                message: format!("bad PostgreSQL URL: {err}"),
                source: Some(err),
            })?
            // sqlx prepares every statement; after five runs PostgreSQL may
            // switch to a generic plan, which for the frontier queries
            // (`from_id IN (...) ORDER BY id LIMIT n`) can walk the whole
            // primary key when statistics are stale. Custom plans use the
            // endpoint indexes (measured in BENCHMARKS.md).
            .options([("plan_cache_mode", "force_custom_plan")]);
        let pool = PoolOptions::<sqlx::Postgres>::new()
            .max_connections(options.read_connections.max(1) + 2)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|err| StoreError::Unavailable {
                message: format!("cannot connect to PostgreSQL: {err}"),
                source: Some(err),
            })?;
        POSTGRES_MIGRATIONS
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        let store = Store {
            backend: Backend::Postgres { pool },
            index: Default::default(),
            sightings: Default::default(),
            vuln_wake: Default::default(),
            closed: Default::default(),
        };
        store.refresh_statistics().await?;
        Ok(store)
    }

    /// "sqlite" or "postgres".
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// Writes span facts in one transaction; on success they are durable.
    pub async fn write(&self, batch: &[SpanFacts]) -> Result<WriteStats, StoreError> {
        self.write_at(batch, now_millis()).await
    }

    /// As [`Store::write`], with the receive time given. Bare sightings (a
    /// workload's spans, no build facts) go the sightings' way
    /// (`sightings.rs`); the rest the per-trace way.
    pub async fn write_at(&self, batch: &[SpanFacts], now: i64) -> Result<WriteStats, StoreError> {
        let routed = self.route(batch.to_vec(), Vec::new(), now);
        self.commit_routed(&routed, now).await
    }

    /// Records sightings from metrics and logs (and bare spans), committing
    /// those this process has not committed before.
    pub async fn write_sightings_at(
        &self,
        sightings: Vec<provgraph_model::Sighting>,
        now: i64,
    ) -> Result<(), StoreError> {
        let routed = self.route(Vec::new(), sightings, now);
        self.commit_routed(&routed, now).await.map(|_| ())
    }

    /// Stores one piece of evidence (its body once, within `quota` when no
    /// signature of it verified) and its signature records, one per
    /// subject, in one transaction; returns the records' row ids.
    pub async fn write_signatures(
        &self,
        body: &NewEvidenceBody,
        quota: &EvidenceQuota,
        records: &[SignatureRecord],
    ) -> Result<Vec<i64>, StoreError> {
        let now = now_millis();
        let ids = on_db!(
            self,
            write | tx | signatures::write_signatures(&mut tx, body, quota, records, now)
        );
        self.index.committed();
        Ok(ids)
    }

    /// Records a bare SBOM's claim that `subject` contains `packages`
    /// (MODULE or PACKAGE keys); `source` is `sbom:sha256:<hex>` of the
    /// document, `sender` the tool that wrote it.
    pub async fn write_sbom(
        &self,
        subject: &str,
        packages: &[(NodeKind, String)],
        source: &str,
        sender: &str,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        on_db!(
            self,
            write | tx | sboms::write_sbom(&mut tx, subject, packages, source, sender, now)
        );
        self.index.committed();
        Ok(())
    }

    /// Records that image index `index` lists `members`, read from
    /// `source` (a registry URL).
    pub async fn write_index(
        &self,
        index: &str,
        members: &[IndexMember],
        source: &str,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        on_db!(
            self,
            write | tx | index_members::write_index(&mut tx, index, members, source, now)
        );
        self.index.committed();
        Ok(())
    }

    /// Every node, edge, piece of evidence and attribute, by key.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(on_db!(self, read | conn | snapshot::snapshot(conn)))
    }

    /// Refreshes the planner's statistics (PostgreSQL `ANALYZE` of the graph
    /// tables, SQLite `PRAGMA optimize`). Run at start and by the ingest
    /// writer after sustained writes: without statistics PostgreSQL picks
    /// scans for the garbage-collection and frontier queries (BENCHMARKS.md).
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { write, .. } => {
                sqlx::query("PRAGMA optimize").execute(write).await?;
            }
            Backend::Postgres { pool } => {
                sqlx::query("ANALYZE nodes, edges, edge_evidence, node_attrs, traces, span_facts, signatures, edge_proofs, vuln_records, vuln_names, vuln_packages, vuln_findings, vex_statements")
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { read, .. } => {
                sqlx::query("SELECT 1").execute(read).await?;
            }
            Backend::Postgres { pool } => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// True once [`Store::close`] ran.
    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Flushes the sightings memory holds and closes every connection.
    pub async fn close(&self) {
        if !self.is_closed()
            && let Err(err) = self.flush_sightings().await
        {
            tracing::warn!(error = %err, "flushing sightings at close failed");
        }
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.index.stop();
        match &self.backend {
            Backend::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres { pool } => pool.close().await,
        }
    }
}

impl Store {
    /// One node by kind and (already normalized) key.
    pub async fn node(&self, kind: NodeKind, key: &str) -> Result<Option<NodeRow>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | reads::find_node(conn, kind, key)
        ))
    }

    /// Nodes of `kind` whose key starts with `prefix`, by key, at most `limit`.
    pub async fn nodes_with_prefix(
        &self,
        kind: NodeKind,
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<NodeRow>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | reads::nodes_with_prefix(conn, kind, prefix, limit)
        ))
    }

    /// Nodes by id (missing ids are skipped).
    pub async fn nodes(&self, ids: &[i64]) -> Result<Vec<NodeRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_db!(self, read | conn | reads::nodes_by_id(conn, ids)))
    }

    /// Edges leaving the nodes (`Upstream`, toward what they were made from)
    /// or entering them (`Downstream`), of the given kinds (all when empty), ordered by
    /// id, after the edge id `after`, at most `limit`.
    pub async fn edges(
        &self,
        ids: &[i64],
        direction: Direction,
        kinds: &[EdgeKind],
        after: i64,
        limit: i64,
    ) -> Result<Vec<EdgeRow>, StoreError> {
        if ids.is_empty() || limit <= 0 {
            return Ok(Vec::new());
        }
        Ok(on_db!(
            self,
            read | conn | reads::edges_of(conn, ids, direction, kinds, after, limit)
        ))
    }

    /// Attributes of the nodes, by node, name and value.
    pub async fn attributes(&self, ids: &[i64]) -> Result<Vec<AttrRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_db!(self, read | conn | reads::attrs_of(conn, ids)))
    }

    /// Signatures and attestations stored for an artifact digest.
    pub async fn signatures(&self, subject: &str) -> Result<Vec<SignatureRow>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | signatures::signatures_of(conn, subject)
        ))
    }

    /// Signatures proving (or stating) the edges.
    pub async fn proofs(&self, edge_ids: &[i64]) -> Result<Vec<ProofRow>, StoreError> {
        if edge_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_db!(
            self,
            read | conn | signatures::proofs_of(conn, edge_ids)
        ))
    }

    /// Every stored evidence body, with a subject it named.
    pub async fn evidence_bodies(&self) -> Result<Vec<EvidenceBody>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | signatures::evidence_bodies(conn)
        ))
    }

    /// The build id a trace stands for, when the trace is a build's.
    pub async fn trace_build(&self, trace_id: &str) -> Result<Option<String>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | reads::trace_build(conn, trace_id)
        ))
    }

    /// The image indexes that list `digest`.
    pub async fn indexes_of(&self, digest: &str) -> Result<Vec<IndexListing>, StoreError> {
        Ok(on_db!(
            self,
            read | conn | index_members::indexes_of(conn, digest)
        ))
    }

    /// Who asserted the edges, at most `per_edge` rows of each (oldest
    /// first), with each edge's count of rows (edges with none left out).
    pub async fn evidence_capped(
        &self,
        edge_ids: &[i64],
        per_edge: usize,
    ) -> Result<(Vec<EvidenceRow>, Vec<(i64, i64)>), StoreError> {
        if edge_ids.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let per_edge = i64::try_from(per_edge).unwrap_or(i64::MAX);
        Ok(on_db!(
            self,
            read | conn | reads::evidence_capped(conn, edge_ids, per_edge)
        ))
    }

    /// Who asserted the edges.
    pub async fn evidence(&self, edge_ids: &[i64]) -> Result<Vec<EvidenceRow>, StoreError> {
        if edge_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_db!(
            self,
            read | conn | reads::evidence_of(conn, edge_ids)
        ))
    }
}

impl WriteStats {
    /// Sums the stats of several writes.
    pub fn sum(stats: impl IntoIterator<Item = WriteStats>) -> WriteStats {
        let mut total = WriteStats::default();
        for s in stats {
            total.add(s);
        }
        total
    }
}
