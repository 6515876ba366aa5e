//! The end-to-end tests, one test binary (linked once, not once per file):
//! the real `provgraph` binary against real databases, one module per area.
//!
//! Run one area with a name filter: `cargo test -p provgraph --test e2e
//! faults::` (`crash::`, `floods::`, `replicas::`, `compose::` ...). Suites on
//! both databases (`provgraph_store::both_databases!`) name their tests
//! `AREA::sqlite::NAME` and `AREA::postgres::NAME`.
//!
//! The tests that need the machine to themselves (faults, crash, floods,
//! replicas) take `support::alone()`; see `support`.
//!
//! Switches: `PROVGRAPH_LONG=1` (long variants of faults, floods, replicas),
//! `PROVGRAPH_SKIP_POSTGRES=1`, `PROVGRAPH_REQUIRE_FAULTS=1`,
//! `PROVGRAPH_REQUIRE_REGISTRY=1`, `PROVGRAPH_REQUIRE_GRAPHVIZ=1`,
//! `PROVGRAPH_REQUIRE_CHROMIUM=1`,
//! `PROVGRAPH_REQUIRE_CONFORMANCE=1`
//! (`PROVGRAPH_CONFORMANCE_DIR`), `PROVGRAPH_TEST_POSTGRES_URL`.

mod browser;
mod support;

mod compose;
mod conformance;
mod crash;
mod dialects;
mod emit;
mod errors;
mod events;
mod evidence;
mod examples;
mod faults;
mod floods;
mod hardening;
mod lineage;
mod notary;
mod pictures;
mod registry;
mod replicas;
mod sdk;
mod security;
mod ui;
mod vulns;
