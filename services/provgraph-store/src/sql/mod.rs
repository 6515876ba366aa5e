//! The store's SQL, written once for both databases.
//!
//! Each area is an ordinary file (`writes.rs`, `gc.rs`, `signatures.rs`,
//! `index_members.rs`, `sboms.rs`, `reads.rs`, `snapshot.rs`, `edge_log.rs`,
//! `sightings.rs`, `vulns.rs`, `vuln_reads.rs`, `outbox.rs`)
//! written against `super::Db` and `super::Conn`. `areas.rs` lists them;
//! `sqlite.rs` and `postgres.rs` each mount `areas.rs` with `#[path]` and
//! their own `Db`, so both databases run the same SQL text and cannot drift
//! apart; only trace locking (`lock_traces`) is written per database.
//! rustfmt, clippy and rust-analyzer read the area files like any other
//! module.
//!
//! No SQL is ever built from input: values are bound, and the only text that
//! varies is the number of placeholders.

use std::time::Duration;

use crate::StoreError;

pub(crate) mod postgres;
pub(crate) mod sqlite;

/// Rows per multi-row statement: 1,000 rows of at most 6 columns stays under
/// SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
pub(crate) const CHUNK: usize = 1000;

/// One change of the edge log (`edge_log.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogRow {
    pub(crate) seq: i64,
    /// Inserted (else deleted).
    pub(crate) added: bool,
    pub(crate) edge_id: i64,
    pub(crate) kind: i16,
    pub(crate) from_id: i64,
    pub(crate) to_id: i64,
    /// The kinds of the endpoints, when those nodes exist.
    pub(crate) from_kind: Option<i16>,
    pub(crate) to_kind: Option<i16>,
}

/// Runs SQL of the area modules on the store's database: `read` on a reader
/// connection, `write` in a write transaction that is committed (SQLite:
/// `BEGIN IMMEDIATE` on the one writer connection). `$call` names the area
/// (`reads::find_node(conn, ...)`), resolved in `sql::sqlite` or
/// `sql::postgres`; the macro evaluates to its output and returns errors
/// with `?`. A write does not tell the lineage index: the caller does, after
/// the commit.
macro_rules! on_db {
    ($store:expr, read | $conn:ident | $call:expr) => {
        match &$store.backend {
            crate::Backend::Sqlite { read, .. } => {
                let mut guard = read.acquire().await?;
                let $conn = &mut *guard;
                {
                    #[allow(unused_imports)]
                    use crate::sql::sqlite::*;
                    $call.await?
                }
            }
            crate::Backend::Postgres { pool } => {
                let mut guard = pool.acquire().await?;
                let $conn = &mut *guard;
                {
                    #[allow(unused_imports)]
                    use crate::sql::postgres::*;
                    $call.await?
                }
            }
        }
    };
    ($store:expr, write | $tx:ident | $call:expr) => {
        match &$store.backend {
            crate::Backend::Sqlite { write, .. } => {
                let mut conn = crate::sql::acquire_for_write(write).await?;
                let result = async {
                    let mut $tx =
                        sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
                    let out = {
                        #[allow(unused_imports)]
                        use crate::sql::sqlite::*;
                        $call.await?
                    };
                    $tx.commit().await?;
                    Ok::<_, crate::StoreError>(out)
                }
                .await;
                crate::sql::discard_if_failed(&mut conn, &result);
                result?
            }
            crate::Backend::Postgres { pool } => {
                let mut conn = crate::sql::acquire_for_write(pool).await?;
                let result = async {
                    let mut $tx = sqlx::Connection::begin(&mut *conn).await?;
                    let out = {
                        #[allow(unused_imports)]
                        use crate::sql::postgres::*;
                        $call.await?
                    };
                    $tx.commit().await?;
                    Ok::<_, crate::StoreError>(out)
                }
                .await;
                crate::sql::discard_if_failed(&mut conn, &result);
                result?
            }
        }
    };
}

/// How long a write waits for a connection. While the database is down,
/// sqlx keeps reconnecting until the pool's acquire timeout; a write gives up
/// sooner, so that an export is refused promptly (503 / UNAVAILABLE) and its
/// sender retries, instead of waiting out the sender's own timeout.
const WRITE_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) async fn acquire_for_write<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::pool::PoolConnection<DB>, StoreError> {
    match tokio::time::timeout(WRITE_CONNECT_TIMEOUT, pool.acquire()).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(StoreError::unavailable(format!(
            "no database connection within {WRITE_CONNECT_TIMEOUT:?}"
        ))),
    }
}

/// A connection whose write transaction failed is closed, not returned to
/// the pool: after a failed COMMIT (SQLite rolls back by itself on a full
/// disk or an I/O error) sqlx may still count a transaction open on it, and
/// every later BEGIN on that connection would fail. The pool opens a new
/// one, which also picks up a file that became writable again.
pub(crate) fn discard_if_failed<DB: sqlx::Database, T>(
    conn: &mut sqlx::pool::PoolConnection<DB>,
    result: &Result<T, StoreError>,
) {
    if result.is_err() {
        conn.close_on_drop();
    }
}
