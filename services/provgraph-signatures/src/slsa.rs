//! SLSA provenance (v0.2 and v1) summaries: who built it, from which
//! repository and commit, in which run.
//!
//! The predicate is what the signer asserts; only the signing certificate is
//! vouched for by the CA. Use a summary only from a verified attestation.

use serde::Serialize;
use serde_json::Value;

/// SLSA provenance predicate type, v0.2.
pub(crate) const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
/// SLSA provenance predicate type, v1.
pub(crate) const SLSA_V1: &str = "https://slsa.dev/provenance/v1";

/// What a SLSA provenance predicate says about the build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlsaSummary {
    /// `v0.2` or `v1`.
    pub slsa_version: String,
    /// v0.2 `builder.id`; v1 `runDetails.builder.id`.
    pub builder_id: Option<String>,
    /// v0.2 and v1 `buildType`.
    pub build_type: Option<String>,
    /// The source repository, without `git+` and `@ref`: v0.2
    /// `invocation.configSource.uri` (else the first material); v1
    /// `buildDefinition.externalParameters.workflow.repository` (else the
    /// resolved dependency with a git commit).
    pub source_repository: Option<String>,
    /// The source commit: v0.2 `configSource.digest.sha1`; v1 the resolved
    /// dependency's `digest.gitCommit`.
    pub source_commit: Option<String>,
    /// The source ref (`refs/heads/main`): v1 `workflow.ref`, else the `@ref`
    /// of the source URI.
    pub source_ref: Option<String>,
    /// v0.2 `metadata.buildInvocationId`; v1 `runDetails.metadata.invocationId`.
    pub invocation_id: Option<String>,
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Splits `git+https://host/repo@refs/heads/main` into
/// (`https://host/repo`, `refs/heads/main`).
fn split_source_uri(uri: &str) -> (String, Option<String>) {
    let uri = uri.strip_prefix("git+").unwrap_or(uri);
    // The ref follows the last '@' after the host part (URIs may carry user@host).
    let after_scheme = uri.find("://").map_or(0, |i| i + 3);
    let path_start = uri[after_scheme..]
        .find('/')
        .map_or(uri.len(), |i| after_scheme + i);
    match uri[path_start..].rfind('@') {
        Some(at) => {
            let at = path_start + at;
            let reference = &uri[at + 1..];
            (
                uri[..at].to_string(),
                (!reference.is_empty()).then(|| reference.to_string()),
            )
        }
        None => (uri.to_string(), None),
    }
}

/// Without a trailing `.git` or `/`, for comparing repository URIs.
fn bare(uri: &str) -> &str {
    let uri = uri.trim_end_matches('/');
    uri.strip_suffix(".git").unwrap_or(uri)
}

/// A summary of `predicate` when `predicate_type` is SLSA provenance v0.2 or v1.
pub fn summarize(predicate_type: &str, predicate: &Value) -> Option<SlsaSummary> {
    match predicate_type {
        SLSA_V02 => Some(summarize_v02(predicate)),
        SLSA_V1 => Some(summarize_v1(predicate)),
        _ => None,
    }
}

fn summarize_v02(predicate: &Value) -> SlsaSummary {
    let mut summary = SlsaSummary {
        slsa_version: "v0.2".into(),
        builder_id: text(predicate, "/builder/id"),
        build_type: text(predicate, "/buildType"),
        invocation_id: text(predicate, "/metadata/buildInvocationId"),
        ..SlsaSummary::default()
    };
    let (uri, commit) = match text(predicate, "/invocation/configSource/uri") {
        Some(uri) => (
            Some(uri),
            text(predicate, "/invocation/configSource/digest/sha1"),
        ),
        None => (
            text(predicate, "/materials/0/uri"),
            text(predicate, "/materials/0/digest/sha1"),
        ),
    };
    if let Some(uri) = uri {
        let (repository, reference) = split_source_uri(&uri);
        summary.source_repository = Some(repository);
        summary.source_ref = reference;
    }
    summary.source_commit = commit;
    summary
}

fn summarize_v1(predicate: &Value) -> SlsaSummary {
    let workflow_repository = text(
        predicate,
        "/buildDefinition/externalParameters/workflow/repository",
    );
    let workflow_ref = text(
        predicate,
        "/buildDefinition/externalParameters/workflow/ref",
    );
    let dependencies = predicate
        .pointer("/buildDefinition/resolvedDependencies")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let commit_of = |dependency: &Value| {
        text(dependency, "/digest/gitCommit").or_else(|| text(dependency, "/digest/sha1"))
    };
    let source = dependencies
        .iter()
        .filter(|d| commit_of(d).is_some())
        .find(|d| match (&workflow_repository, text(d, "/uri")) {
            (Some(repository), Some(uri)) => bare(&split_source_uri(&uri).0) == bare(repository),
            _ => false,
        })
        .or_else(|| dependencies.iter().find(|d| commit_of(d).is_some()));

    let (dependency_repository, dependency_ref) = source
        .and_then(|d| text(d, "/uri"))
        .map(|uri| split_source_uri(&uri))
        .map_or((None, None), |(repository, reference)| {
            (Some(repository), reference)
        });
    SlsaSummary {
        slsa_version: "v1".into(),
        builder_id: text(predicate, "/runDetails/builder/id"),
        build_type: text(predicate, "/buildDefinition/buildType"),
        source_repository: workflow_repository.or(dependency_repository),
        source_commit: source.and_then(commit_of),
        source_ref: workflow_ref.or(dependency_ref),
        invocation_id: text(predicate, "/runDetails/metadata/invocationId"),
    }
}

#[cfg(test)]
mod tests {
    //! SLSA v0.2 and v1 predicates as builders write them.

    use super::*;
    use serde_json::json;

    #[test]
    fn v1_github_provenance() {
        let predicate = json!({
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {"workflow": {"ref": "refs/heads/main", "repository": "https://github.com/acme/calc", "path": ".github/workflows/release.yml"}},
                "resolvedDependencies": [
                    {"uri": "pkg:npm/left-pad@1.0.0", "digest": {"sha256": "00"}},
                    {"uri": "git+https://github.com/acme/calc@refs/heads/main", "digest": {"gitCommit": "a9cd7bf0bbfd5732800b8196ce893ae9915b1e87"}}
                ]
            },
            "runDetails": {"builder": {"id": "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main"}, "metadata": {"invocationId": "https://github.com/acme/calc/actions/runs/1/attempts/1"}}
        });
        let summary = summarize(SLSA_V1, &predicate).expect("v1");
        assert_eq!(summary.slsa_version, "v1");
        assert_eq!(
            summary.source_repository.as_deref(),
            Some("https://github.com/acme/calc")
        );
        assert_eq!(
            summary.source_commit.as_deref(),
            Some("a9cd7bf0bbfd5732800b8196ce893ae9915b1e87")
        );
        assert_eq!(summary.source_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(
            summary.invocation_id.as_deref(),
            Some("https://github.com/acme/calc/actions/runs/1/attempts/1")
        );
        assert_eq!(
            summary.builder_id.as_deref(),
            Some("https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main")
        );
    }

    #[test]
    fn v1_without_workflow_uses_the_git_dependency() {
        let predicate = json!({
            "buildDefinition": {"resolvedDependencies": [
                {"uri": "git+https://gitlab.com/acme/calc.git@refs/tags/v1", "digest": {"gitCommit": "abc"}}
            ]},
            "runDetails": {"builder": {"id": "b"}}
        });
        let summary = summarize(SLSA_V1, &predicate).expect("v1");
        assert_eq!(
            summary.source_repository.as_deref(),
            Some("https://gitlab.com/acme/calc.git")
        );
        assert_eq!(summary.source_ref.as_deref(), Some("refs/tags/v1"));
        assert_eq!(summary.source_commit.as_deref(), Some("abc"));
        assert_eq!(summary.invocation_id, None);
    }

    #[test]
    fn v02_provenance() {
        let predicate = json!({
            "builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v1.9.0"},
            "buildType": "https://github.com/slsa-framework/slsa-github-generator/generic@v1",
            "invocation": {"configSource": {"uri": "git+https://github.com/acme/calc@refs/tags/v1.2.3", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}, "entryPoint": ".github/workflows/release.yml"}},
            "metadata": {"buildInvocationId": "4242-1"},
            "materials": [{"uri": "git+https://github.com/other/repo@refs/heads/x", "digest": {"sha1": "ff"}}]
        });
        let summary = summarize(SLSA_V02, &predicate).expect("v0.2");
        assert_eq!(summary.slsa_version, "v0.2");
        assert_eq!(
            summary.source_repository.as_deref(),
            Some("https://github.com/acme/calc")
        );
        assert_eq!(summary.source_ref.as_deref(), Some("refs/tags/v1.2.3"));
        assert_eq!(
            summary.source_commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(summary.invocation_id.as_deref(), Some("4242-1"));
        assert!(
            summary
                .builder_id
                .is_some_and(|b| b.contains("slsa-github-generator"))
        );
    }

    #[test]
    fn other_predicates_and_odd_uris() {
        assert_eq!(summarize("https://spdx.dev/Document", &json!({})), None);
        // Wrong shapes are absent fields, never panics.
        let summary = summarize(SLSA_V1, &json!({"buildDefinition": 7})).expect("v1");
        assert_eq!(summary.source_repository, None);
        assert_eq!(
            split_source_uri("git+ssh://git@github.com/acme/calc@main"),
            (
                "ssh://git@github.com/acme/calc".to_string(),
                Some("main".to_string())
            )
        );
        assert_eq!(
            split_source_uri("https://x@"),
            ("https://x@".to_string(), None)
        );
        assert_eq!(
            split_source_uri("https://h/p@"),
            ("https://h/p".to_string(), None)
        );
    }
}
