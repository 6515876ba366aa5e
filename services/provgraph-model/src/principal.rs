//! Who sent something, when ingest is authenticated: the name of the
//! bearer token the request carried.
//!
//! With authentication on, every trace id a sender uses is stored scoped by
//! its principal (`NAME/TRACEID`), so one sender can neither add spans to
//! another sender's traces nor overwrite them; the principal is therefore
//! part of every piece of evidence its spans leave.

use std::sync::Arc;

/// The authenticated sender of a request (a token's name: letters, digits,
/// `.`, `_`, `-`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal(Arc<str>);

impl Principal {
    pub fn new(name: impl Into<Arc<str>>) -> Principal {
        Principal(name.into())
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// The stored form of `trace_id` sent by this principal.
    pub fn scope(&self, trace_id: &str) -> String {
        format!("{}/{trace_id}", self.0)
    }
}

/// Splits a stored trace id into (principal, trace id as sent).
pub fn split_scoped(stored: &str) -> (Option<&str>, &str) {
    match stored.split_once('/') {
        Some((principal, trace)) => (Some(principal), trace),
        None => (None, stored),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_ids_split_back() {
        let p = Principal::new("ci-a");
        let stored = p.scope("0af7651916cd43dd8448eb211c80319c");
        assert_eq!(stored, "ci-a/0af7651916cd43dd8448eb211c80319c");
        assert_eq!(
            split_scoped(&stored),
            (Some("ci-a"), "0af7651916cd43dd8448eb211c80319c")
        );
        assert_eq!(split_scoped("0af7"), (None, "0af7"));
        assert_eq!(
            split_scoped("ci-a/sbom:sha256:00"),
            (Some("ci-a"), "sbom:sha256:00")
        );
    }
}
