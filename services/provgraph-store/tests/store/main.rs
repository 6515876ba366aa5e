//! The crate's integration tests, one test binary, each suite on a real
//! SQLite file and a real PostgreSQL (`provgraph_store::both_databases!`):
//! the store suite (`store_suite`) and the in-memory lineage index against
//! the SQL walk (`lineage_index`).

mod lineage_index;
mod store_suite;
