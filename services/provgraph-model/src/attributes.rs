//! The attribute names facts are read from, in order of preference: the
//! public contract's names first (CONTRACT.md), then older
//! semantic-convention names, then the names real CI exporters send
//! (dialects), then names a user adds in a mapping file. Names may be
//! added, never dropped. docs/attributes.md documents every name and where
//! it comes from.

use serde::Deserialize;

use crate::facts::BuildIdSource;

/// The version of the built-in mapping table; bump it when names change.
pub const MAPPING_VERSION: u32 = 1;

/// Build id names with the rank each gives. The contract's two first;
/// dialect run ids rank with `cicd.pipeline.run.id` (they carry the same
/// value where both are sent).
pub const BUILD_ID: &[(&str, BuildIdSource)] = &[
    ("cicd.pipeline.run.id", BuildIdSource::PipelineRunId),
    ("build.id", BuildIdSource::BuildId),
    // otel-cicd-action, otel-export-trace-action (GitHub Actions)
    ("github.run_id", BuildIdSource::PipelineRunId),
    // Buildkite agent
    ("buildkite.build_id", BuildIdSource::PipelineRunId),
];
pub const PIPELINE: &[&str] = &[
    "cicd.pipeline.name",
    // otel-cicd-action
    "github.workflow",
    // Buildkite agent
    "buildkite.pipeline_slug",
];
pub const COMMIT: &[&str] = &[
    "vcs.ref.head.revision",
    // semantic conventions up to 1.28
    "vcs.repository.ref.revision",
    "git.commit.sha",
    // otel-cicd-action, otel-export-trace-action
    "github.head_sha",
    // Dagger (a merge commit on pull requests)
    "dagger.io/git.ref",
    // Jenkins OpenTelemetry plugin, when the job adds it
    "git.commit",
];
pub const REPOSITORY: &[&str] = &[
    "vcs.repository.url.full",
    // Jenkins OpenTelemetry plugin (git step span)
    "git.repository",
    // Dagger
    "dagger.io/git.remote",
];
pub const BRANCH: &[&str] = &[
    "vcs.ref.head.name",
    // semantic conventions up to 1.28
    "vcs.repository.ref.name",
    // Collector GitHub receiver (non-standard)
    "vcs.ref.head",
    // otel-cicd-action
    "github.head_branch",
    // otel-export-trace-action
    "github.head_ref",
    // Jenkins OpenTelemetry plugin
    "git.branch",
    // Dagger
    "dagger.io/git.branch",
    // Buildkite agent
    "buildkite.branch",
];
pub const GOMOD: &[&str] = &["go.mod.hash"];
/// The go.mod's module path, `go` directive and requirements
/// (`PATH@VERSION`, replacements applied): provgraph's own names, sent by
/// `provgraph emit`.
pub const GO_MODULE: &[&str] = &["go.module.path"];
pub const GO_VERSION: &[&str] = &["go.module.go_version"];
pub const GO_REQUIRES: &[&str] = &["go.mod.requires"];
pub const GO_REQUIRES_INDIRECT: &[&str] = &["go.mod.requires.indirect"];
pub const MANIFEST_DIGEST: &[&str] = &["oci.manifest.digest"];
pub const REPO_DIGESTS: &[&str] = &["container.image.repo_digests"];
pub const IMAGE_NAME: &[&str] = &["container.image.name"];
pub const IMAGE_TAGS: &[&str] = &[
    "container.image.tags",
    // semantic conventions before 1.22
    "container.image.tag",
];
pub const SERVICE_NAME: &[&str] = &["service.name"];
pub const K8S_NAMESPACE: &[&str] = &["k8s.namespace.name"];
pub const K8S_DEPLOYMENT: &[&str] = &["k8s.deployment.name"];
/// The workload's name when there is no deployment, in this order: the
/// controllers the semantic conventions name (a job's cronjob before the
/// job, whose name changes every run).
pub const K8S_CONTROLLERS: &[&str] = &[
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
];
pub const K8S_CLUSTER: &[&str] = &["k8s.cluster.name"];
/// The runtime's image id: read (on a resource, when no other digest is
/// named) only as `NAME@sha256:<hex>`, the form Kubernetes reports (a
/// registry digest). Docker's bare `sha256:<hex>` is the image's config
/// digest, not its manifest's, and is ignored.
pub const CONTAINER_IMAGE_ID: &[&str] = &["container.image.id"];
pub const ENVIRONMENT: &[&str] = &[
    "deployment.environment.name",
    // semantic conventions before 1.27
    "deployment.environment",
];

/// Names a user adds, per fact, in a mapping file (TOML):
///
/// ```toml
/// commit = ["my.ci.sha"]
/// repository = ["my.ci.repo_url"]
/// build_id = ["my.ci.run"]
/// ```
///
/// They are read after the built-in names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserMapping {
    #[serde(default)]
    pub build_id: Vec<String>,
    #[serde(default)]
    pub pipeline: Vec<String>,
    #[serde(default)]
    pub commit: Vec<String>,
    #[serde(default)]
    pub repository: Vec<String>,
    #[serde(default)]
    pub branch: Vec<String>,
    #[serde(default)]
    pub gomod: Vec<String>,
}

/// The names extraction reads, built-in and user-added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub build_id: Vec<(String, BuildIdSource)>,
    pub pipeline: Vec<String>,
    pub commit: Vec<String>,
    pub repository: Vec<String>,
    pub branch: Vec<String>,
    pub gomod: Vec<String>,
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

impl Default for Mapping {
    fn default() -> Mapping {
        Mapping {
            build_id: BUILD_ID.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
            pipeline: owned(PIPELINE),
            commit: owned(COMMIT),
            repository: owned(REPOSITORY),
            branch: owned(BRANCH),
            gomod: owned(GOMOD),
        }
    }
}

impl Mapping {
    /// The built-in names followed by the user's. User build ids rank with
    /// `build.id`.
    pub fn with_user(user: &UserMapping) -> Mapping {
        let mut mapping = Mapping::default();
        let add = |list: &mut Vec<String>, extra: &[String]| {
            for name in extra {
                if !list.contains(name) {
                    list.push(name.clone());
                }
            }
        };
        for name in &user.build_id {
            if !mapping.build_id.iter().any(|(n, _)| n == name) {
                mapping
                    .build_id
                    .push((name.clone(), BuildIdSource::BuildId));
            }
        }
        add(&mut mapping.pipeline, &user.pipeline);
        add(&mut mapping.commit, &user.commit);
        add(&mut mapping.repository, &user.repository);
        add(&mut mapping.branch, &user.branch);
        add(&mut mapping.gomod, &user.gomod);
        mapping
    }
}
