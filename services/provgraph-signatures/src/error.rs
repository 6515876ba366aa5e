//! [`EvidenceError`]: input that is not evidence, in one line. Below both
//! the evidence parser and the cosign layer reader, which raise it.

/// Input that is not evidence provgraph understands, or evidence past a
/// limit ([`EvidenceError::is_too_large`]); one line saying why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvidenceError {
    message: String,
    too_large: bool,
}

impl EvidenceError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: provgraph_model::one_line(&message.into()),
            too_large: false,
        }
    }

    /// Evidence that is well formed but past a limit (subjects per
    /// envelope): the HTTP layer answers 413, not 400.
    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Self {
            too_large: true,
            ..Self::new(message)
        }
    }

    /// True when the evidence was refused for a limit, not for its form.
    pub fn is_too_large(&self) -> bool {
        self.too_large
    }
}

/// The error a dependency (sigstore, the file system) reported, kept as the
/// source of ours.
pub type Source = Box<dyn std::error::Error + Send + Sync>;

/// `source` on one line, for messages.
fn line(source: &Source) -> String {
    provgraph_model::one_line(&source.to_string())
}

/// Trust material that cannot be used, or a file that cannot be read: a
/// trusted root, a public key, a bundle, an artifact.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A file could not be read.
    #[error("cannot read {what} {path}: {}", line(.source))]
    Read {
        /// What the file should be (`trusted root`, `bundle`, `key`, ...).
        what: &'static str,
        path: String,
        #[source]
        source: Source,
    },
    /// A built-in trusted root does not load (a build problem).
    #[error("built-in {instance} trusted root is unusable: {}", line(.source))]
    BuiltInRoot {
        instance: String,
        #[source]
        source: Source,
    },
    /// A `trusted_root.json` that does not parse.
    #[error("invalid trusted root {path}: {}", line(.source))]
    InvalidRoot {
        path: String,
        #[source]
        source: Source,
    },
    /// A trusted root whose keys or certificates are unusable (malformed,
    /// duplicate, or with an inverted validity window).
    #[error("unusable trusted root {name}: {}", line(.source))]
    UnusableRoot {
        name: String,
        #[source]
        source: Source,
    },
    /// A public key that is not a usable PEM public key; `path` when it came
    /// from a file.
    #[error("{}: {}", match .path { Some(path) => format!("invalid public key {path}"), None => "bad PEM public key".to_string() }, line(.source))]
    BadKey {
        path: Option<String>,
        #[source]
        source: Source,
    },
}

/// Why `verify-bundle` failed; one line.
#[derive(Debug, thiserror::Error)]
pub enum VerifyBundleError {
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("invalid bundle {path}: {}", line(.source))]
    InvalidBundle {
        path: String,
        #[source]
        source: Source,
    },
    /// The arguments do not name a signer.
    #[error("{0}")]
    Usage(&'static str),
    #[error("bad digest {digest}: {}", line(.source))]
    BadDigest {
        digest: String,
        #[source]
        source: Source,
    },
    #[error("verification failed: {}", line(.0))]
    Failed(#[source] Source),
}

/// Why a signature does not verify with a policy key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unusable key: {}", line(.0))]
    Unusable(#[source] Source),
    #[error("unsupported key algorithm {0}")]
    Unsupported(String),
    #[error("signature does not verify with this key")]
    Mismatch,
    #[error("this key's scheme cannot verify a signature from the digest alone")]
    NeedsMessage,
}

/// Why a cosign layer's Rekor entry cannot become a Sigstore bundle.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", line(.source))]
pub struct BundleError {
    /// What could not be read or built.
    pub what: &'static str,
    #[source]
    pub source: Source,
}

impl BundleError {
    /// A `map_err` for a step named `what`.
    pub(crate) fn at<E: Into<Source>>(what: &'static str) -> impl FnOnce(E) -> BundleError {
        move |source| BundleError {
            what,
            source: source.into(),
        }
    }
}
