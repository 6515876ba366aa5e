//! The attribute names facts are read from, in order of preference.
//!
//! The first names of each list are the public contract (CONTRACT.md); later
//! names are older semantic-convention names. Names may be added, never
//! dropped. docs/attributes.md documents every name and where it comes from.

use crate::facts::BuildIdSource;

/// Build id, with the rank each name gives it.
pub const BUILD_ID: &[(&str, BuildIdSource)] = &[
    ("cicd.pipeline.run.id", BuildIdSource::PipelineRunId),
    ("build.id", BuildIdSource::BuildId),
];
pub const PIPELINE: &[&str] = &["cicd.pipeline.name"];
pub const COMMIT: &[&str] = &[
    "vcs.ref.head.revision",
    // semantic conventions up to 1.28
    "vcs.repository.ref.revision",
    "git.commit.sha",
];
pub const REPOSITORY: &[&str] = &["vcs.repository.url.full"];
pub const BRANCH: &[&str] = &[
    "vcs.ref.head.name",
    // semantic conventions up to 1.28
    "vcs.repository.ref.name",
];
pub const GOMOD: &[&str] = &["go.mod.hash"];
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
pub const ENVIRONMENT: &[&str] = &[
    "deployment.environment.name",
    // semantic conventions before 1.27
    "deployment.environment",
];
