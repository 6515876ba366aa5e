//! The search box: any key a user has at hand, read by every kind's
//! normalization (the model's, as GraphQL reads keys), looked up in the
//! store, and answered with the node's page (one match), a list (several)
//! or what was tried and why nothing matched.
//!
//! Exact keys are looked up first; only when none matches are prefixes
//! tried (a digest or SHA cut to 12 hex digits, as pictures show them; a
//! repository owner; a module path without a version). A vulnerability id
//! or alias goes through GraphQL `vulnerability(id)`, which resolves
//! aliases in any letter case.

use provgraph_model::NodeKind;
use provgraph_model::keys::{normalize_repository, normalize_vulnerability};

/// Matches listed at most per prefix.
pub const PREFIX_LIMIT: i64 = 20;
/// Hex digits a prefix needs (fewer match too much to be useful).
pub const MIN_HEX_PREFIX: usize = 6;
/// Longest search text read.
pub const MAX_SEARCH_BYTES: usize = 2048;

/// One lookup the search makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The node of this kind and (normalized) key.
    Exact(NodeKind, String),
    /// Nodes of this kind whose key starts with this.
    Prefix(NodeKind, String),
    /// A vulnerability by id or alias, any case (GraphQL `vulnerability`).
    Vulnerability(String),
}

/// What to look up for `text`, exact lookups first, then prefixes; and, for
/// the kinds `text` is not a key of, why (shown when nothing matches).
pub fn probes(text: &str) -> (Vec<Probe>, Vec<Probe>, Vec<String>) {
    let text = text.trim();
    let mut exact = Vec::new();
    let mut prefixes = Vec::new();
    let mut why_not = Vec::new();
    if text.is_empty() || text.len() > MAX_SEARCH_BYTES {
        return (exact, prefixes, why_not);
    }
    let hex = text
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256:"))
        .map_or(text, |_| &text[7..]);
    let all_hex = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    for kind in NodeKind::ALL {
        if kind == NodeKind::Vulnerability {
            continue;
        }
        match kind.normalize(text) {
            Ok(key) => exact.push(Probe::Exact(kind, key)),
            Err(err) => {
                // A bare 64-hex digest names an image too.
                if kind == NodeKind::Artifact && all_hex && hex.len() == 64 {
                    exact.push(Probe::Exact(kind, format!("sha256:{}", hex.to_lowercase())));
                } else if matches!(
                    kind,
                    NodeKind::Artifact
                        | NodeKind::Commit
                        | NodeKind::Gomod
                        | NodeKind::Repository
                        | NodeKind::Module
                        | NodeKind::Workload
                ) {
                    why_not.push(format!("not {}: {}", article(kind), err.reason));
                }
            }
        }
    }
    if normalize_vulnerability(text).is_ok() {
        exact.push(Probe::Vulnerability(text.to_string()));
    }
    if all_hex && hex.len() >= MIN_HEX_PREFIX && hex.len() < 64 {
        let hex = hex.to_lowercase();
        // `sha256:` names a digest, never a commit.
        if text.len() == hex.len() {
            prefixes.push(Probe::Prefix(NodeKind::Commit, hex.clone()));
        }
        for kind in [
            NodeKind::Artifact,
            NodeKind::Gomod,
            NodeKind::Signature,
            NodeKind::Attestation,
        ] {
            prefixes.push(Probe::Prefix(kind, format!("sha256:{hex}")));
        }
    }
    if !text.contains('@')
        && text.contains('/')
        && !text.contains(char::is_whitespace)
        && let Ok(key) = normalize_repository(text)
    {
        prefixes.push(Probe::Prefix(NodeKind::Repository, format!("{key}/")));
    }
    if !text.contains('@') && !text.contains(char::is_whitespace) && text.contains('.') {
        prefixes.push(Probe::Prefix(NodeKind::Module, format!("{text}@")));
    }
    if text.starts_with("pkg:") && !text.contains('@') {
        prefixes.push(Probe::Prefix(NodeKind::Package, format!("{text}@")));
    }
    (exact, prefixes, why_not)
}

/// "a digest", "a commit SHA", ...: what a kind's key is called.
fn article(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Artifact => "an image digest",
        NodeKind::Commit => "a commit SHA",
        NodeKind::Gomod => "a go.mod hash",
        NodeKind::Repository => "a repository URL",
        NodeKind::Module => "a module PATH@VERSION",
        NodeKind::Workload => "a workload key",
        _ => "a key",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "6d1f0c2b9e8a7d6c5b4a39281706f5e4d3c2b1a0998877665544332211ffeedd";

    fn exact_kinds(text: &str) -> Vec<(NodeKind, String)> {
        probes(text)
            .0
            .into_iter()
            .filter_map(|probe| match probe {
                Probe::Exact(kind, key)
                    if !matches!(
                        kind,
                        NodeKind::Build | NodeKind::Identity | NodeKind::Repository
                    ) =>
                {
                    Some((kind, key))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keys_in_the_forms_users_have_them() {
        let digest = format!("sha256:{HEX}");
        // A digest names an image, a go.mod, a signature or an attestation.
        let kinds = exact_kinds(&format!("  SHA256:{}  ", HEX.to_uppercase()));
        assert!(
            kinds.contains(&(NodeKind::Artifact, digest.clone())),
            "{kinds:?}"
        );
        assert!(kinds.contains(&(NodeKind::Gomod, digest.clone())));
        // Bare hex: also a 64-digit commit, and the image.
        let kinds = exact_kinds(HEX);
        assert!(kinds.contains(&(NodeKind::Commit, HEX.to_string())));
        assert!(kinds.contains(&(NodeKind::Artifact, digest.clone())));
        // Repository URLs in any form.
        for url in [
            "https://github.com/Acme/Calc.git",
            "git@github.com:acme/calc.git",
            "github.com/acme/calc/",
        ] {
            assert!(
                probes(url).0.contains(&Probe::Exact(
                    NodeKind::Repository,
                    "github.com/acme/calc".into()
                )),
                "{url}"
            );
        }
        assert!(
            exact_kinds("golang.org/x/net@v0.17.0")
                .contains(&(NodeKind::Module, "golang.org/x/net@v0.17.0".into()))
        );
        assert!(
            exact_kinds("prod/payments/calc")
                .contains(&(NodeKind::Workload, "prod/payments/calc".into()))
        );
        assert!(
            probes("CVE-2023-44487")
                .0
                .contains(&Probe::Vulnerability("CVE-2023-44487".into()))
        );
    }

    #[test]
    fn short_hex_and_paths_are_prefixes() {
        let (_, prefixes, _) = probes("6D1F0C2B9E8A");
        assert!(prefixes.contains(&Probe::Prefix(NodeKind::Commit, "6d1f0c2b9e8a".into())));
        assert!(prefixes.contains(&Probe::Prefix(
            NodeKind::Artifact,
            "sha256:6d1f0c2b9e8a".into()
        )));
        let (_, prefixes, _) = probes("sha256:6d1f0c2b9e8a");
        assert!(prefixes.contains(&Probe::Prefix(
            NodeKind::Artifact,
            "sha256:6d1f0c2b9e8a".into()
        )));
        let (_, prefixes, _) = probes("abc");
        assert!(prefixes.is_empty(), "too short: {prefixes:?}");
        let (_, prefixes, _) = probes("https://github.com/Acme");
        assert!(prefixes.contains(&Probe::Prefix(
            NodeKind::Repository,
            "github.com/acme/".into()
        )));
        let (_, prefixes, _) = probes("golang.org/x/net");
        assert!(prefixes.contains(&Probe::Prefix(NodeKind::Module, "golang.org/x/net@".into())));
    }

    #[test]
    fn nothing_to_look_up_says_why() {
        let (exact, prefixes, why) = probes("   ");
        assert!(exact.is_empty() && prefixes.is_empty() && why.is_empty());
        let (_, _, why) = probes("sha256:xyz");
        assert!(
            why.iter().any(|w| w.starts_with("not an image digest")),
            "{why:?}"
        );
        assert!(probes(&"x".repeat(MAX_SEARCH_BYTES + 1)).0.is_empty());
    }
}
