//! Trusted roots: the built-in public-good ones and `trusted_root.json` files.

use std::path::Path;

use sigstore_verify::Verifier;
use sigstore_verify::trust_root::{SigstoreInstance, TrustedRoot};

/// The public-good production root (or the staging one), built into the binary
/// by `sigstore-trust-root` (a snapshot of the instance's TUF target
/// `trusted_root.json`).
pub(crate) fn embedded(staging: bool) -> Result<TrustedRoot, String> {
    let instance = if staging {
        SigstoreInstance::Staging
    } else {
        SigstoreInstance::PublicGood
    };
    TrustedRoot::from_embedded(instance).map_err(|e| {
        one_line(&format!(
            "built-in {instance:?} trusted root is unusable: {e}"
        ))
    })
}

/// A trusted root read from a `trusted_root.json` file.
pub(crate) fn from_file(path: &Path) -> Result<TrustedRoot, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| one_line(&format!("cannot read trusted root {}: {e}", path.display())))?;
    TrustedRoot::from_json(&text)
        .map_err(|e| one_line(&format!("invalid trusted root {}: {e}", path.display())))
}

/// A verifier over `root`; fails when the root's keys or certificates are
/// unusable (malformed, duplicate, or with an inverted validity window).
pub(crate) fn verifier(root: &TrustedRoot, what: &str) -> Result<Verifier, String> {
    Verifier::new(root).map_err(|e| one_line(&format!("unusable trusted root {what}: {e}")))
}

/// `text` on one line: line breaks become spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\r\n\nc "), "a b c");
    }
}
