//! The provgraph model: node kinds and keys, facts, extraction from OTLP
//! spans and derivation of graph contributions.
//!
//! Architecture invariant: this crate knows no socket, SQL or crypto crate.
//! Everything here is a pure function over values, so that it can be tested
//! with tables and fuzzed.

pub mod attributes;
pub mod audit;
pub mod derive;
pub mod extract;
pub mod facts;
pub mod keys;
pub mod principal;
pub mod proofs;
pub mod sbom;

pub use attributes::{Mapping, UserMapping};
pub use derive::{AttrFact, Derived, EdgeFact, EdgeKind, NodeRef, Source};
pub use extract::{Extraction, extract, extract_with};
pub use facts::{BuildChoice, BuildIdSource, Image, SpanFacts, TraceBuild, merge_build};
pub use keys::{KeyError, NodeKind, WorkloadIdentity};
pub use principal::Principal;
