//! [`OciError`]: why discovery failed, in one line.

/// Why a registry operation failed. Every message is one line and names the
/// URL (or input) concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// The registry base URL is not usable.
    #[error("invalid registry URL {url:?}: {reason}")]
    InvalidRegistry {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The repository name is not an OCI repository name.
    #[error(
        "invalid repository name {0:?}: expected lower-case path components like \"acme/calc\""
    )]
    InvalidRepository(String),
    /// The digest is not `sha256:<64 hex>`.
    #[error("invalid digest {0:?}: expected sha256:<64 hex>")]
    InvalidDigest(String),
    /// The request could not be sent or its answer not read (connection
    /// refused, timeout, reset, ...).
    #[error("{url}: {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The registry wants credentials; authentication is not implemented
    /// yet.
    #[error(
        "{url}: registry answered HTTP {status}: authentication is required and not supported yet"
    )]
    Unauthorized {
        /// The URL requested.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// Something that must exist (a blob, a manifest named by digest) does
    /// not.
    #[error("{url}: not found (HTTP 404)")]
    NotFound {
        /// The URL requested.
        url: String,
    },
    /// The registry answered with an unexpected status.
    #[error("{url}: registry answered HTTP {status}{detail}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The registry's error code and message, if it gave one (`": CODE:
        /// message"`), else empty.
        detail: String,
    },
    /// A manifest or blob is larger than the cap for it.
    #[error("{url}: larger than the {limit}-byte limit")]
    TooLarge {
        /// The URL requested (or the descriptor's digest).
        url: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// Content does not hash to the digest that named it.
    #[error("{url}: content digest is {actual}, expected {expected}")]
    DigestMismatch {
        /// The URL requested.
        url: String,
        /// The digest the content was fetched by.
        expected: String,
        /// The SHA-256 digest of what the registry sent.
        actual: String,
    },
    /// Content is not the size its descriptor says.
    #[error("{url}: content is {actual} bytes, its descriptor says {expected}")]
    SizeMismatch {
        /// The URL requested.
        url: String,
        /// The descriptor's size.
        expected: u64,
        /// Bytes received (a lower bound when more than `expected` arrived).
        actual: u64,
    },
    /// A manifest, index or referrers answer that does not parse.
    #[error("{url}: {reason}")]
    Malformed {
        /// The URL requested.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use provgraph_model::one_line;

    #[test]
    fn messages_are_one_line() {
        let error = OciError::Malformed {
            url: "http://r/v2/a/manifests/t".into(),
            reason: one_line("expected value\n  at line 1"),
        };
        assert_eq!(
            error.to_string(),
            "http://r/v2/a/manifests/t: expected value at line 1"
        );
        let error = OciError::Unauthorized {
            url: "http://r/v2/a/manifests/t".into(),
            status: 401,
        };
        assert!(!error.to_string().contains('\n'));
        assert!(error.to_string().contains("not supported yet"));
    }
}
