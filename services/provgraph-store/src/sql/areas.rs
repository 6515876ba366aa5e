//! The list of area files, mounted once per database by `sqlite.rs` and
//! `postgres.rs` (each with its own `Db`). Each area names the mount's `Db`,
//! `Conn` and `lock_traces` as `super::...`.

use super::{Conn, Db, lock_traces};

#[path = "common.rs"]
mod common;
#[path = "edge_log.rs"]
pub(crate) mod edge_log;
#[path = "gc.rs"]
mod gc;
#[path = "index_members.rs"]
pub(crate) mod index_members;
#[path = "outbox.rs"]
pub(crate) mod outbox;
#[path = "reads.rs"]
pub(crate) mod reads;
#[path = "sboms.rs"]
pub(crate) mod sboms;
#[path = "sightings.rs"]
pub(crate) mod sightings;
#[path = "signatures.rs"]
pub(crate) mod signatures;
#[path = "snapshot.rs"]
pub(crate) mod snapshot;
#[path = "vuln_reads.rs"]
pub(crate) mod vuln_reads;
#[path = "vulns.rs"]
pub(crate) mod vulns;
#[path = "writes.rs"]
pub(crate) mod writes;
