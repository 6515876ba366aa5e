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
pub mod ids;
pub mod image_index;
pub mod json;
pub mod keys;
pub mod principal;
pub mod proofs;
pub mod sbom;

pub use attributes::{Mapping, UserMapping};
pub use derive::{AttrFact, Derived, EdgeFact, EdgeKind, NodeRef, Source};
pub use extract::{Extraction, extract, extract_resources, extract_with};
pub use facts::{BuildChoice, BuildIdSource, Image, Sighting, SpanFacts, TraceBuild, merge_build};
pub use ids::{CommitSha, Digest, IdError, TraceId, Traceparent};
pub use image_index::{IndexEntry, IndexError, parse_image_index};
pub use keys::{KeyError, NodeKind, WorkloadIdentity};
pub use principal::Principal;

/// Shortens `value` to at most `max` characters, marking the cut.
pub fn shorten(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        None => value.to_string(),
        Some((cut, _)) => format!("{}…", &value[..cut]),
    }
}

/// `text` on one line, for messages and logs: each line trimmed, blank lines
/// dropped, the rest joined with one space. The one way the workspace
/// flattens a multi-line error (a registry's message, a TLS or serde chain,
/// a verifier's report).
pub fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_joins_trimmed_lines() {
        assert_eq!(super::one_line("a\n  b\r\n\n c "), "a b c");
        assert_eq!(super::one_line("plain"), "plain");
        assert_eq!(super::one_line("\n \n"), "");
    }
}
