//! The area modules mounted for SQLite.

pub(crate) type Db = sqlx::Sqlite;
pub(crate) type Conn = <Db as sqlx::Database>::Connection;

#[path = "common.rs"]
mod common;
#[path = "edge_log.rs"]
pub(crate) mod edge_log;
#[path = "gc.rs"]
mod gc;
#[path = "index_members.rs"]
pub(crate) mod index_members;
#[path = "reads.rs"]
pub(crate) mod reads;
#[path = "sboms.rs"]
pub(crate) mod sboms;
#[path = "signatures.rs"]
pub(crate) mod signatures;
#[path = "snapshot.rs"]
pub(crate) mod snapshot;
#[path = "writes.rs"]
pub(crate) mod writes;

/// SQLite has one writer connection: nothing else can touch the traces.
async fn lock_traces(_conn: &mut Conn, _trace_ids: &[String]) -> sqlx::Result<()> {
    Ok(())
}
