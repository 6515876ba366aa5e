//! Node kinds and their normalized keys: parse, don't validate.
//!
//! The same normalization applies to what is ingested and to what a query is
//! given, so `https://github.com/Acme/Calc.git` and `git@github.com:acme/calc`
//! name one repository.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{CommitSha, Digest};

/// Longest key accepted for any node kind, in bytes. Longer values are
/// rejected rather than truncated, so that two different inputs never share
/// a key.
pub const MAX_KEY_LEN: usize = 1024;

/// The kinds of node.
// The numeric codes are stored in the database: never reuse or renumber one.
// The doc comments are the GraphQL schema's descriptions (feature `graphql`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NodeKind {
    /// A source repository; key: host and path, lower-case (`github.com/acme/calc`).
    Repository,
    /// A commit; key: the SHA in lower-case hex.
    Commit,
    /// A go.mod file by content; key: `sha256:` and 64 hex digits.
    Gomod,
    /// A CI build (pipeline run); key: the build id as given, else the trace id.
    Build,
    /// An image or other artifact; key: its digest, `sha256:` and 64 hex digits.
    Artifact,
    /// A running workload; key: `ENVIRONMENT/NAMESPACE/NAME`, `-` for an absent part.
    Workload,
    // Cosign simple signing, a Sigstore message signature; the evidence as
    // imported.
    /// A signature over an artifact; key: `sha256:` and the hex SHA-256 of the evidence (canonical JSON).
    Signature,
    /// A signed in-toto statement (DSSE); key as for a signature.
    Attestation,
    /// A signer; key: `ISSUER|SUBJECT` (keyless) or `key:NAME` (a trust-policy key).
    Identity,
    /// A Go module version a go.mod requires or an SBOM lists; key: `PATH@VERSION`.
    Module,
    /// A package other than a Go module that an SBOM lists; key: its purl.
    Package,
    // Kept as written; aliases resolve to it in any letter case.
    /// A vulnerability; key: its OSV id (`GO-2023-2102`), or a scanner's id when no OSV record names it.
    Vulnerability,
}

impl NodeKind {
    pub const ALL: [NodeKind; 12] = [
        NodeKind::Repository,
        NodeKind::Commit,
        NodeKind::Gomod,
        NodeKind::Build,
        NodeKind::Artifact,
        NodeKind::Workload,
        NodeKind::Signature,
        NodeKind::Attestation,
        NodeKind::Identity,
        NodeKind::Module,
        NodeKind::Package,
        NodeKind::Vulnerability,
    ];

    /// The stable code stored in the database.
    pub fn code(self) -> i16 {
        match self {
            NodeKind::Repository => 1,
            NodeKind::Commit => 2,
            NodeKind::Gomod => 3,
            NodeKind::Build => 4,
            NodeKind::Artifact => 5,
            NodeKind::Workload => 6,
            NodeKind::Signature => 7,
            NodeKind::Attestation => 8,
            NodeKind::Identity => 9,
            NodeKind::Module => 10,
            NodeKind::Package => 11,
            NodeKind::Vulnerability => 12,
        }
    }

    pub fn from_code(code: i16) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// The name used in the API and in documentation.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Repository => "REPOSITORY",
            NodeKind::Commit => "COMMIT",
            NodeKind::Gomod => "GOMOD",
            NodeKind::Build => "BUILD",
            NodeKind::Artifact => "ARTIFACT",
            NodeKind::Workload => "WORKLOAD",
            NodeKind::Signature => "SIGNATURE",
            NodeKind::Attestation => "ATTESTATION",
            NodeKind::Identity => "IDENTITY",
            NodeKind::Module => "MODULE",
            NodeKind::Package => "PACKAGE",
            NodeKind::Vulnerability => "VULNERABILITY",
        }
    }

    /// Normalizes `raw` into this kind's key, or says why it cannot.
    pub fn normalize(self, raw: &str) -> Result<String, KeyError> {
        match self {
            NodeKind::Repository => normalize_repository(raw),
            NodeKind::Commit => normalize_commit(raw),
            NodeKind::Gomod => normalize_gomod(raw),
            NodeKind::Build => normalize_build_id(raw),
            NodeKind::Artifact => normalize_digest(raw),
            NodeKind::Workload => normalize_workload_key(raw),
            NodeKind::Signature | NodeKind::Attestation => normalize_sha256(self, raw, true),
            NodeKind::Identity => normalize_identity(raw),
            NodeKind::Module => normalize_module(raw),
            NodeKind::Package => normalize_purl(raw),
            NodeKind::Vulnerability => normalize_vulnerability(raw),
        }
    }
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a value is not a valid key for its kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} key {value:?} is invalid: {reason}")]
pub struct KeyError {
    pub kind: NodeKind,
    /// The offending value, shortened to at most 100 characters.
    pub value: String,
    pub reason: &'static str,
}

impl KeyError {
    fn new(kind: NodeKind, value: &str, reason: &'static str) -> KeyError {
        KeyError {
            kind,
            value: shorten(value, 100),
            reason,
        }
    }
}

pub use crate::shorten;

/// A commit SHA: 40 (SHA-1) or 64 (SHA-256) hex digits, lower-cased
/// (surrounding whitespace ignored): a [`CommitSha`]'s text.
pub fn normalize_commit(raw: &str) -> Result<String, KeyError> {
    let value = raw.trim();
    match CommitSha::parse(value) {
        Ok(commit) => Ok(commit.into()),
        Err(_) if value.len() != 40 && value.len() != 64 => Err(KeyError::new(
            NodeKind::Commit,
            raw,
            "a commit SHA has 40 or 64 hex digits",
        )),
        Err(_) => Err(KeyError::new(
            NodeKind::Commit,
            raw,
            "a commit SHA has only hex digits",
        )),
    }
}

fn normalize_sha256(kind: NodeKind, raw: &str, allow_bare: bool) -> Result<String, KeyError> {
    let value = raw.trim();
    let hex = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256:") => &value[7..],
        _ if allow_bare => value,
        _ => "",
    };
    Digest::from_hex(hex)
        .map(String::from)
        .ok_or_else(|| KeyError::new(kind, raw, "a digest is sha256: followed by 64 hex digits"))
}

/// An image digest: `sha256:` and 64 lower-case hex digits, as a key (the
/// prefix in any case and surrounding whitespace allowed): a [`Digest`]'s
/// text.
pub fn normalize_digest(raw: &str) -> Result<String, KeyError> {
    normalize_sha256(NodeKind::Artifact, raw, false)
}

/// A go.mod hash: the hex `sha256sum go.mod` prints, or `sha256:<hex>`;
/// the key is always `sha256:<hex>`.
pub fn normalize_gomod(raw: &str) -> Result<String, KeyError> {
    normalize_sha256(NodeKind::Gomod, raw, true)
}

/// A build id is kept as given; it must be non-empty, at most
/// [`MAX_KEY_LEN`] bytes and free of control characters.
pub fn normalize_build_id(raw: &str) -> Result<String, KeyError> {
    if raw.is_empty() {
        return Err(KeyError::new(
            NodeKind::Build,
            raw,
            "a build id is not empty",
        ));
    }
    if raw.len() > MAX_KEY_LEN {
        return Err(KeyError::new(
            NodeKind::Build,
            raw,
            "a build id is at most 1024 bytes",
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(KeyError::new(
            NodeKind::Build,
            raw,
            "a build id has no control characters",
        ));
    }
    Ok(raw.to_string())
}

/// A repository: host and path, lower-case, without scheme, user, port,
/// query, trailing `.git` or `/`.
///
/// Accepts URLs with a scheme (`https://`, `ssh://`, `git://`, `git+ssh://`),
/// scp-like addresses (`git@github.com:acme/calc.git`) and bare
/// `host/path` forms.
pub fn normalize_repository(raw: &str) -> Result<String, KeyError> {
    let err = |reason| KeyError::new(NodeKind::Repository, raw, reason);
    let value = raw.trim();
    if value.is_empty() {
        return Err(err("a repository URL is not empty"));
    }
    if value.len() > MAX_KEY_LEN {
        return Err(err("a repository URL is at most 1024 bytes"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err("a repository URL has no spaces or control characters"));
    }
    // Drop a query or fragment.
    let value = value.split(['?', '#']).next().unwrap_or_default();
    let (has_scheme, rest) = match value.find("://") {
        Some(at) => (true, &value[at + 3..]),
        None => (false, value),
    };
    // Authority ends at the first '/'; userinfo ends at the last '@' in it.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    // The first ':' outside an IPv6 literal's brackets.
    let port_or_path_colon = |authority: &str| {
        let after_literal = match authority.strip_prefix('[') {
            Some(rest) => rest.find(']').map_or(0, |end| end + 2),
            None => 0,
        };
        authority[after_literal..]
            .find(':')
            .map(|colon| after_literal + colon)
    };
    let (host, path) = if has_scheme {
        // host[:port]; IPv6 literals keep their brackets.
        let host = match port_or_path_colon(authority) {
            Some(colon) => &authority[..colon],
            None => authority,
        };
        (host.to_string(), path.to_string())
    } else if let Some(colon) = port_or_path_colon(authority) {
        // scp-like: [user@]host:path (the path may itself contain '/').
        let host = &authority[..colon];
        let after = &authority[colon + 1..];
        (host.to_string(), format!("/{after}{path}"))
    } else {
        (authority.to_string(), path.to_string())
    };
    if host.is_empty() {
        return Err(err("a repository URL names a host"));
    }
    // A name, or one bracketed IPv6 literal: nothing a key could be read
    // back differently from (the key is `host/path`).
    let host_ok = match host.strip_prefix('[') {
        Some(literal) => literal
            .strip_suffix(']')
            .is_some_and(|inner| !inner.contains(['[', ']'])),
        None => !host.contains([':', '[', ']']),
    };
    if !host_ok {
        return Err(err(
            "a repository URL's host is a name or a bracketed IPv6 address",
        ));
    }
    let mut segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
        .collect();
    // Trailing `.git`s (any case, repeated), and segments that were only
    // that, so that the key normalizes to itself.
    while let Some(last) = segments.last_mut()
        && let Some(stripped) = last.strip_suffix(".git")
    {
        last.truncate(stripped.len());
        if last.is_empty() {
            segments.pop();
        }
    }
    if segments.is_empty() {
        return Err(err("a repository URL has a path after the host"));
    }
    let mut key = host.to_ascii_lowercase();
    for segment in segments {
        key.push('/');
        key.push_str(&segment);
    }
    // Lower-casing can lengthen text (`İ` is 2 bytes, `i̇` 3).
    if key.len() > MAX_KEY_LEN {
        return Err(err("a repository URL is at most 1024 bytes"));
    }
    Ok(key)
}

/// An IDENTITY key: non-empty, at most [`MAX_KEY_LEN`] bytes, no control
/// characters, kept as given.
pub fn normalize_identity(raw: &str) -> Result<String, KeyError> {
    if raw.is_empty() || raw.len() > MAX_KEY_LEN || raw.chars().any(char::is_control) {
        return Err(KeyError::new(
            NodeKind::Identity,
            raw,
            "an identity key is ISSUER|SUBJECT or key:NAME, at most 1024 bytes",
        ));
    }
    Ok(raw.to_string())
}

/// A MODULE key: `PATH@VERSION`, a Go module path (no spaces, not empty)
/// and a version starting with `v` (a semantic or pseudo-version), both kept
/// as given (module paths are case-sensitive).
pub fn normalize_module(raw: &str) -> Result<String, KeyError> {
    let value = raw.trim();
    let err = |reason| KeyError::new(NodeKind::Module, raw, reason);
    let Some((path, version)) = value.rsplit_once('@') else {
        return Err(err("a module is PATH@VERSION"));
    };
    if path.is_empty()
        || path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@')
    {
        return Err(err("a module path is not empty and has no spaces"));
    }
    if !version.starts_with('v')
        || version.len() < 2
        || version.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(err(
            "a module version starts with v (v1.2.3, v0.0.0-20240101000000-abcdef123456)",
        ));
    }
    if value.len() > MAX_KEY_LEN {
        return Err(err("a module is at most 1024 bytes"));
    }
    Ok(value.to_string())
}

/// A PACKAGE key: a package URL (`pkg:TYPE/NAMESPACE/NAME@VERSION`), with
/// its qualifiers (`?...`) and subpath (`#...`) dropped.
pub fn normalize_purl(raw: &str) -> Result<String, KeyError> {
    let value = raw.trim();
    let value = value.split(['?', '#']).next().unwrap_or_default();
    let ok = value.len() <= MAX_KEY_LEN
        && value
            .strip_prefix("pkg:")
            .is_some_and(|rest| rest.contains('/') && !rest.starts_with('/'))
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(KeyError::new(
            NodeKind::Package,
            raw,
            "a package is a purl: pkg:TYPE/NAME@VERSION",
        ));
    }
    Ok(value.to_string())
}

/// A VULNERABILITY key: an id (`GO-2023-2102`, `CVE-2023-44487`,
/// `GHSA-4374-p667-p6c8`) as written, trimmed: 1 to 256 bytes without
/// spaces or control characters. Letter case is kept (GHSA ids are written
/// in lower case after their prefix); lookups by id or alias ignore it.
pub fn normalize_vulnerability(raw: &str) -> Result<String, KeyError> {
    let value = raw.trim();
    if value.is_empty()
        || value.len() > 256
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(KeyError::new(
            NodeKind::Vulnerability,
            raw,
            "a vulnerability id is 1 to 256 bytes without spaces (GO-2023-2102, CVE-2023-44487)",
        ));
    }
    Ok(value.to_string())
}

/// The parts that identify a running workload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkloadIdentity {
    /// `deployment.environment.name` (or the older `deployment.environment`).
    pub environment: Option<String>,
    /// `k8s.namespace.name`.
    pub namespace: Option<String>,
    /// `k8s.deployment.name`, else `k8s.statefulset.name`,
    /// `k8s.daemonset.name`, `k8s.cronjob.name`, `k8s.job.name`, else
    /// `service.name`.
    pub name: String,
    /// `k8s.cluster.name`: a fourth, leading key part, only when present
    /// (so that keys without a cluster stay what they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

impl WorkloadIdentity {
    /// The WORKLOAD key: `ENVIRONMENT/NAMESPACE/NAME`, or
    /// `CLUSTER/ENVIRONMENT/NAMESPACE/NAME` when the resource names its
    /// Kubernetes cluster; an absent part written `-`, each part
    /// percent-escaping `%` and `/` so that the key splits back into its
    /// parts.
    pub fn key(&self) -> String {
        fn part(value: Option<&str>) -> String {
            match value {
                None | Some("") => "-".to_string(),
                Some("-") => "%2D".to_string(),
                Some(value) => value.replace('%', "%25").replace('/', "%2F"),
            }
        }
        let key = format!(
            "{}/{}/{}",
            part(self.environment.as_deref()),
            part(self.namespace.as_deref()),
            part(Some(&self.name))
        );
        match self.cluster.as_deref().filter(|c| !c.is_empty()) {
            Some(cluster) => format!("{}/{key}", part(Some(cluster))),
            None => key,
        }
    }
}

/// A WORKLOAD key as [`WorkloadIdentity::key`] writes it: three parts
/// separated by `/` (four with a cluster).
pub fn normalize_workload_key(raw: &str) -> Result<String, KeyError> {
    let parts: Vec<&str> = raw.split('/').collect();
    if !(3..=4).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return Err(KeyError::new(
            NodeKind::Workload,
            raw,
            "a workload key is ENVIRONMENT/NAMESPACE/NAME or CLUSTER/ENVIRONMENT/NAMESPACE/NAME, '-' for an absent part",
        ));
    }
    if raw.len() > MAX_KEY_LEN || raw.chars().any(char::is_control) {
        return Err(KeyError::new(
            NodeKind::Workload,
            raw,
            "a workload key is at most 1024 bytes without control characters",
        ));
    }
    Ok(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_urls_normalize_to_host_and_path() {
        let cases = [
            ("https://github.com/Acme/Calc.git", "github.com/acme/calc"),
            ("git@github.com:acme/calc.git", "github.com/acme/calc"),
            ("https://github.com/acme/calc", "github.com/acme/calc"),
            ("https://github.com/acme/calc/", "github.com/acme/calc"),
            ("http://GitHub.com/acme/calc.git/", "github.com/acme/calc"),
            (
                "ssh://git@github.com:22/acme/calc.git",
                "github.com/acme/calc",
            ),
            ("ssh://git@github.com/acme/calc", "github.com/acme/calc"),
            (
                "git+ssh://git@github.com/acme/calc.git",
                "github.com/acme/calc",
            ),
            ("git://github.com/acme/calc.git", "github.com/acme/calc"),
            (
                "https://user:token@gitlab.example.com:8443/Group/Sub/Proj.git",
                "gitlab.example.com/group/sub/proj",
            ),
            (
                "git@gitlab.com:group/sub/proj.git",
                "gitlab.com/group/sub/proj",
            ),
            ("github.com/acme/calc", "github.com/acme/calc"),
            (
                "https://github.com/acme/calc?tab=readme#top",
                "github.com/acme/calc",
            ),
            ("https://github.com//acme//calc.git", "github.com/acme/calc"),
            ("  https://github.com/acme/calc  ", "github.com/acme/calc"),
        ];
        for (input, want) in cases {
            assert_eq!(
                normalize_repository(input).as_deref(),
                Ok(want),
                "input {input:?}"
            );
        }
    }

    /// Found by fuzzing (fuzz/regressions/keys/): keys that did not
    /// normalize to themselves, or grew past the limit.
    #[test]
    fn repository_keys_normalize_to_themselves() {
        let cases = [
            ("https://[::1]:8443/x/y", Some("[::1]/x/y")),
            ("git@[fe80::1]:acme/calc.git", Some("[fe80::1]/acme/calc")),
            ("github.com/acme/calc.git.git", Some("github.com/acme/calc")),
            (
                "github.com/acme/calc.git/.git",
                Some("github.com/acme/calc"),
            ),
            ("github.com/acme/CALC.GIT", Some("github.com/acme/calc")),
            ("github.com//.git.git", None),
            ("https://a:b:c/x", Some("a/x")),
            ("https://a[b/x", None),
            ("https://[::1/x", None),
        ];
        for (input, want) in cases {
            let key = normalize_repository(input);
            assert_eq!(key.as_deref().ok(), want, "input {input:?}: {key:?}");
            if let Ok(key) = key {
                assert_eq!(normalize_repository(&key), Ok(key.clone()), "key {key:?}");
            }
        }
        // Lower-casing lengthens `İ`: a key past the limit is refused.
        let long = format!("h/{}", "İ".repeat(511));
        assert!(long.len() <= MAX_KEY_LEN);
        assert!(normalize_repository(&long).is_err());
    }

    #[test]
    fn repository_urls_without_host_or_path_are_rejected() {
        for input in [
            "",
            "https://",
            "https://github.com",
            "https://github.com/",
            "git@github.com:",
            "https:///acme/calc",
            "has space/x",
            "github.com/.git",
        ] {
            assert!(
                normalize_repository(input).is_err(),
                "input {input:?} should be rejected"
            );
        }
    }

    #[test]
    fn commits_are_40_or_64_hex_lowercased() {
        let sha1 = "0123456789ABCDEF0123456789abcdef01234567";
        assert_eq!(normalize_commit(sha1).unwrap(), sha1.to_lowercase());
        let sha256 = "a".repeat(64);
        assert_eq!(normalize_commit(&sha256).unwrap(), sha256);
        for bad in ["", "abc", &"g".repeat(40), &"a".repeat(41), &"a".repeat(63)] {
            assert!(normalize_commit(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn digests_need_the_sha256_prefix_gomod_hashes_do_not() {
        let hex = "AB".repeat(32);
        let want = format!("sha256:{}", hex.to_lowercase());
        assert_eq!(normalize_digest(&format!("sha256:{hex}")).unwrap(), want);
        assert_eq!(normalize_digest(&format!("SHA256:{hex}")).unwrap(), want);
        assert!(
            normalize_digest(&hex).is_err(),
            "bare hex is not an image digest"
        );
        assert!(normalize_digest("sha512:00").is_err());
        assert!(normalize_digest(&format!("sha256:{}", "z".repeat(64))).is_err());
        assert_eq!(normalize_gomod(&hex).unwrap(), want);
        assert_eq!(normalize_gomod(&format!("sha256:{hex}")).unwrap(), want);
        assert!(normalize_gomod(&"a".repeat(63)).is_err());
    }

    #[test]
    fn build_ids_are_kept_as_given() {
        assert_eq!(normalize_build_id("Run 42/1").unwrap(), "Run 42/1");
        assert!(normalize_build_id("").is_err());
        assert!(normalize_build_id("a\nb").is_err());
        assert!(normalize_build_id(&"x".repeat(MAX_KEY_LEN + 1)).is_err());
    }

    #[test]
    fn workload_keys_round_trip_through_normalization() {
        let identity = WorkloadIdentity {
            environment: Some("prod".into()),
            namespace: None,
            name: "calc/api".into(),
            cluster: None,
        };
        let key = identity.key();
        assert_eq!(key, "prod/-/calc%2Fapi");
        assert_eq!(normalize_workload_key(&key).unwrap(), key);
        assert!(normalize_workload_key("prod/calc").is_err());
        assert!(normalize_workload_key("prod//calc").is_err());
        // A cluster is a leading fourth part; without one the key is as before.
        let clustered = WorkloadIdentity {
            cluster: Some("eu-1".into()),
            ..identity
        };
        assert_eq!(clustered.key(), "eu-1/prod/-/calc%2Fapi");
        assert_eq!(
            normalize_workload_key(&clustered.key()).unwrap(),
            clustered.key()
        );
        assert!(normalize_workload_key("a/b/c/d/e").is_err());
    }

    #[test]
    fn modules_are_path_at_version() {
        assert_eq!(
            normalize_module("golang.org/x/net@v0.17.0").unwrap(),
            "golang.org/x/net@v0.17.0"
        );
        assert_eq!(
            normalize_module("github.com/Acme/Lib@v0.0.0-20240101000000-abcdef123456").unwrap(),
            "github.com/Acme/Lib@v0.0.0-20240101000000-abcdef123456"
        );
        for bad in [
            "golang.org/x/net",
            "@v1.0.0",
            "golang.org/x/net@1.0.0",
            "a b@v1",
            "x@v",
        ] {
            assert!(normalize_module(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kind_codes_round_trip() {
        for kind in NodeKind::ALL {
            assert_eq!(NodeKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(NodeKind::from_code(0), None);
    }
}
