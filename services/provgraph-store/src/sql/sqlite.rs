//! The area modules mounted for SQLite.

pub(crate) type Db = sqlx::Sqlite;
pub(crate) type Conn = <Db as sqlx::Database>::Connection;

// The same files are mounted for the other database (and so are the area
// files `areas.rs` lists): that is the point.
#[allow(clippy::duplicate_mod)]
#[path = "areas.rs"]
mod areas;
pub(crate) use areas::*;

/// SQLite has one writer connection: nothing else can touch the traces.
async fn lock_traces(_conn: &mut Conn, _trace_ids: &[String]) -> sqlx::Result<()> {
    Ok(())
}
