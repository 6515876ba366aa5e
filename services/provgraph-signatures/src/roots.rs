//! Trusted roots: the built-in public-good ones and `trusted_root.json` files.

use std::path::Path;

use sigstore_verify::Verifier;
use sigstore_verify::trust_root::{SigstoreInstance, TrustedRoot};

use crate::error::TrustError;

/// The public-good production root (or the staging one), built into the binary
/// by `sigstore-trust-root` (a snapshot of the instance's TUF target
/// `trusted_root.json`).
pub(crate) fn embedded(staging: bool) -> Result<TrustedRoot, TrustError> {
    let instance = if staging {
        SigstoreInstance::Staging
    } else {
        SigstoreInstance::PublicGood
    };
    TrustedRoot::from_embedded(instance).map_err(|e| TrustError::BuiltInRoot {
        instance: format!("{instance:?}"),
        source: e.into(),
    })
}

/// A trusted root read from a `trusted_root.json` file.
pub(crate) fn from_file(path: &Path) -> Result<TrustedRoot, TrustError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrustError::Read {
        what: "trusted root",
        path: path.display().to_string(),
        source: e.into(),
    })?;
    TrustedRoot::from_json(&text).map_err(|e| TrustError::InvalidRoot {
        path: path.display().to_string(),
        source: e.into(),
    })
}

/// A verifier over `root`; fails when the root's keys or certificates are
/// unusable (malformed, duplicate, or with an inverted validity window).
pub(crate) fn verifier(root: &TrustedRoot, what: &str) -> Result<Verifier, TrustError> {
    Verifier::new(root).map_err(|e| TrustError::UnusableRoot {
        name: what.to_string(),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    //! The built-in roots load.

    use super::*;

    #[test]
    fn built_in_roots_load_and_build_verifiers() {
        for staging in [false, true] {
            let root = embedded(staging).expect("embedded root parses");
            assert!(!root.tlogs.is_empty());
            assert!(!root.certificate_authorities.is_empty());
            verifier(&root, "built-in").expect("embedded root is usable");
        }
        // The two roots differ (staging has its own Fulcio and Rekor).
        let production = embedded(false).expect("production");
        let staging = embedded(true).expect("staging");
        assert_ne!(
            serde_json::to_string(&production.tlogs).ok(),
            serde_json::to_string(&staging.tlogs).ok()
        );
    }
}
