//! Typed objects: artifacts, builds, commits, repositories, go.mod files and
//! workloads, each with the neighbours a user asks about, and their entry
//! points.

use async_graphql::futures_util;
use async_graphql::{Context, Object, Result, SimpleObject};
use provgraph_model::{EdgeKind, NodeKind};
use provgraph_store::NodeRow;

use super::batch::batches;
use super::graph::Node;
use super::signatures::Signature;
use super::{api, find, store_error};
use crate::time::rfc3339;

mod vulnerability;
pub(super) use vulnerability::{VulnQuery, impact_roots as vulnerability_impact_roots};

/// The nodes one hop from `ids`: along edges (`outgoing`) or against them,
/// by key, at most the list limit. Read in batches with the siblings
/// resolving at the same time (see `batch`).
pub(super) async fn hop(
    ctx: &Context<'_>,
    ids: &[i64],
    outgoing: bool,
    kinds: &[EdgeKind],
) -> Result<Vec<NodeRow>> {
    let batches = batches(ctx)?;
    let found =
        futures_util::future::try_join_all(ids.iter().map(|id| batches.hop(*id, outgoing, kinds)))
            .await?;
    let mut nodes: Vec<NodeRow> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in found.iter().flat_map(|rows| rows.iter()) {
        if seen.insert(row.id) {
            nodes.push(row.clone());
        }
    }
    nodes.sort_by(|a, b| a.key.cmp(&b.key));
    nodes.truncate(api(ctx).limits.max_list);
    Ok(nodes)
}

/// As [`hop`], as typed objects.
pub(super) async fn hop_to<T: From<NodeRow>>(
    ctx: &Context<'_>,
    ids: &[i64],
    outgoing: bool,
    kinds: &[EdgeKind],
) -> Result<Vec<T>> {
    Ok(hop(ctx, ids, outgoing, kinds)
        .await?
        .into_iter()
        .map(T::from)
        .collect())
}

/// The values of attribute `name` of node `id` (batched).
pub(super) async fn attribute_values(
    ctx: &Context<'_>,
    id: i64,
    name: &str,
) -> Result<Vec<String>> {
    Ok(batches(ctx)?
        .attributes(id)
        .await?
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .collect())
}

pub(super) fn ids(rows: &[NodeRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

pub(super) use provgraph_model::EdgeKind as E;

/// An artifact (an image, by digest) with what it was built from and what
/// runs it.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub(super) row: NodeRow,
}

impl From<NodeRow> for Artifact {
    fn from(row: NodeRow) -> Artifact {
        Artifact { row }
    }
}

#[Object]
impl Artifact {
    /// `sha256:` and 64 hex digits.
    async fn digest(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// Vulnerabilities found in it: OSV records covering a module, package
    /// or Go release it was built with or contains (its index's too), and
    /// scanners' findings on it; each with how it was found (`findings`)
    /// and the VEX statement in force on it (`vexStatus`: one that rules it
    /// out leaves it listed here, not in `Vulnerability.artifacts`).
    async fn vulnerabilities(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<vulnerability::Vulnerability>> {
        vulnerability::of_artifact(ctx, &self.row).await
    }

    /// Repository names it was pushed as.
    async fn names(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "container.image.name").await
    }

    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "container.image.tags").await
    }

    /// The builds that produced it.
    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], true, &[E::BuiltBy]).await
    }

    /// The commits its builds built.
    async fn commits(&self, ctx: &Context<'_>) -> Result<Vec<Commit>> {
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        hop_to(ctx, &ids(&builds), true, &[E::FromCommit]).await
    }

    /// The repositories its builds built from.
    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        let mut repos = hop(ctx, &ids(&builds), true, &[E::FromRepository]).await?;
        let commits = hop(ctx, &ids(&builds), true, &[E::FromCommit]).await?;
        for repo in hop(ctx, &ids(&commits), true, &[E::InRepository]).await? {
            if !repos.iter().any(|r| r.id == repo.id) {
                repos.push(repo);
            }
        }
        Ok(repos.into_iter().map(|row| Repository { row }).collect())
    }

    /// The go.mod files its builds used.
    async fn go_mods(&self, ctx: &Context<'_>) -> Result<Vec<GoMod>> {
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        hop_to(ctx, &ids(&builds), true, &[E::UsedGomod]).await
    }

    /// The workloads seen running it.
    async fn workloads(&self, ctx: &Context<'_>) -> Result<Vec<Workload>> {
        hop_to(ctx, &[self.row.id], false, &[E::Runs]).await
    }

    /// Every signature and attestation stored for this digest, each listed
    /// separately, verified or not.
    async fn signatures(&self, ctx: &Context<'_>) -> Result<Vec<Signature>> {
        let rows = api(ctx)
            .store
            .signatures(&self.row.key)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(Signature::new).collect())
    }

    /// Go modules an SBOM of this image lists (`PATH@VERSION`).
    async fn sbom_modules(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        contained(ctx, self.row.id, NodeKind::Module).await
    }

    /// Other packages an SBOM of this image lists (purls).
    async fn sbom_packages(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        contained(ctx, self.row.id, NodeKind::Package).await
    }

    /// Go modules whose version in the image's SBOM differs from the one the
    /// go.mod of its build requires: the SBOM and the build disagree.
    async fn go_module_mismatches(&self, ctx: &Context<'_>) -> Result<Vec<ModuleMismatch>> {
        let in_sbom = contained(ctx, self.row.id, NodeKind::Module).await?;
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        let gomods = hop(ctx, &ids(&builds), true, &[E::UsedGomod]).await?;
        let required = hop(
            ctx,
            &ids(&gomods),
            true,
            &[E::Requires, E::RequiresIndirect],
        )
        .await?;
        let split = |key: &str| {
            key.rsplit_once('@')
                .map(|(p, v)| (p.to_string(), v.to_string()))
        };
        let mut out = Vec::new();
        for (path, sbom_version) in in_sbom.iter().filter_map(|k| split(k)) {
            let go_mod_versions: Vec<String> = required
                .iter()
                .filter_map(|r| split(&r.key))
                .filter(|(p, _)| *p == path)
                .map(|(_, v)| v)
                .collect();
            if !go_mod_versions.is_empty() && !go_mod_versions.contains(&sbom_version) {
                out.push(ModuleMismatch {
                    path,
                    sbom_version,
                    go_mod_versions,
                });
            }
        }
        Ok(out)
    }

    /// Image indexes (multi-arch) that list this manifest.
    async fn indexes(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], true, &[E::PartOf]).await
    }

    /// The platform manifests this index lists.
    async fn platforms(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], false, &[E::PartOf]).await
    }

    /// The platform (`os/arch[/variant]`) an index lists this manifest for.
    async fn platform(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let indexes = api(ctx)
            .store
            .indexes_of(&self.row.key)
            .await
            .map_err(store_error)?;
        Ok(indexes.into_iter().find_map(|listing| listing.platform))
    }

    /// Builds that ran inside this image (it was their builder).
    async fn builder_of(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], false, &[E::BuiltWith]).await
    }
}

/// A CI build (one pipeline run).
#[derive(Clone, Debug)]
pub struct Build {
    pub(super) row: NodeRow,
}

impl From<NodeRow> for Build {
    fn from(row: NodeRow) -> Build {
        Build { row }
    }
}

#[Object]
impl Build {
    /// The build id (`cicd.pipeline.run.id`, `build.id`, else the trace id).
    /// With ingest tokens on it is stored under the sender's token name,
    /// `NAME/ID` (see `principal` and `sentId`), so one sender cannot attach
    /// facts to another's build.
    async fn id(&self) -> &str {
        &self.row.key
    }

    /// The ingest token (its name) whose spans named this build, when
    /// ingest is authenticated; null otherwise.
    async fn principal(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let values =
            attribute_values(ctx, self.row.id, provgraph_model::derive::PRINCIPAL_ATTR).await?;
        Ok(values.into_iter().next())
    }

    /// The build id as its sender sent it: `id` without the principal.
    async fn sent_id(&self, ctx: &Context<'_>) -> Result<String> {
        let values =
            attribute_values(ctx, self.row.id, provgraph_model::derive::SENT_ID_ATTR).await?;
        Ok(values
            .into_iter()
            .next()
            .unwrap_or_else(|| self.row.key.clone()))
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// `cicd.pipeline.name` values seen for this build.
    async fn pipelines(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "cicd.pipeline.name").await
    }

    /// Branches (`vcs.ref.head.name`) seen for this build.
    async fn branches(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "vcs.ref.head.name").await
    }

    async fn commits(&self, ctx: &Context<'_>) -> Result<Vec<Commit>> {
        hop_to(ctx, &[self.row.id], true, &[E::FromCommit]).await
    }

    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        hop_to(ctx, &[self.row.id], true, &[E::FromRepository]).await
    }

    async fn go_mods(&self, ctx: &Context<'_>) -> Result<Vec<GoMod>> {
        hop_to(ctx, &[self.row.id], true, &[E::UsedGomod]).await
    }

    /// The artifacts it produced.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], false, &[E::BuiltBy]).await
    }

    /// The images it ran in (inputs, not outputs).
    async fn builder_images(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], true, &[E::BuiltWith]).await
    }
}

/// A commit.
#[derive(Clone, Debug)]
pub struct Commit {
    pub(super) row: NodeRow,
}

impl From<NodeRow> for Commit {
    fn from(row: NodeRow) -> Commit {
        Commit { row }
    }
}

#[Object]
impl Commit {
    async fn sha(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        hop_to(ctx, &[self.row.id], true, &[E::InRepository]).await
    }

    /// Builds of this commit.
    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], false, &[E::FromCommit]).await
    }

    /// Artifacts built from this commit.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        let builds = hop(ctx, &[self.row.id], false, &[E::FromCommit]).await?;
        hop_to(ctx, &ids(&builds), false, &[E::BuiltBy]).await
    }

    /// Workloads running an artifact built from this commit.
    async fn workloads(&self, ctx: &Context<'_>) -> Result<Vec<Workload>> {
        let builds = hop(ctx, &[self.row.id], false, &[E::FromCommit]).await?;
        let artifacts = hop(ctx, &ids(&builds), false, &[E::BuiltBy]).await?;
        hop_to(ctx, &ids(&artifacts), false, &[E::Runs]).await
    }
}

/// A source repository.
#[derive(Clone, Debug)]
pub struct Repository {
    pub(super) row: NodeRow,
}

impl From<NodeRow> for Repository {
    fn from(row: NodeRow) -> Repository {
        Repository { row }
    }
}

#[Object]
impl Repository {
    /// Host and path, lower-case: `github.com/acme/calc`.
    async fn key(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    async fn commits(&self, ctx: &Context<'_>) -> Result<Vec<Commit>> {
        hop_to(ctx, &[self.row.id], false, &[E::InRepository]).await
    }

    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], false, &[E::FromRepository]).await
    }
}

/// A go.mod file, by the SHA-256 of its content.
#[derive(Clone, Debug)]
pub struct GoMod {
    pub(super) row: NodeRow,
}

impl From<NodeRow> for GoMod {
    fn from(row: NodeRow) -> GoMod {
        GoMod { row }
    }
}

#[Object]
impl GoMod {
    /// `sha256:` and 64 hex digits.
    async fn hash(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], false, &[E::UsedGomod]).await
    }

    /// The module path of the go.mod (`go.module.path`).
    async fn module_path(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(attribute_values(ctx, self.row.id, "go.module.path")
            .await?
            .into_iter()
            .next())
    }

    /// The module versions it requires (`PATH@VERSION`), direct first.
    async fn requires(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let mut direct: Vec<String> = hop(ctx, &[self.row.id], true, &[E::Requires])
            .await?
            .into_iter()
            .map(|r| r.key)
            .collect();
        let indirect = hop(ctx, &[self.row.id], true, &[E::RequiresIndirect]).await?;
        direct.extend(indirect.into_iter().map(|r| r.key));
        Ok(direct)
    }

    /// Artifacts built with this go.mod.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        let builds = hop(ctx, &[self.row.id], false, &[E::UsedGomod]).await?;
        hop_to(ctx, &ids(&builds), false, &[E::BuiltBy]).await
    }
}

/// A Go module whose version in an image's SBOM and in its build's go.mod differ.
#[derive(SimpleObject, Clone, Debug)]
pub struct ModuleMismatch {
    pub path: String,
    pub sbom_version: String,
    pub go_mod_versions: Vec<String>,
}

pub(super) async fn contained(
    ctx: &Context<'_>,
    artifact: i64,
    kind: NodeKind,
) -> Result<Vec<String>> {
    Ok(hop(ctx, &[artifact], true, &[E::Contains])
        .await?
        .into_iter()
        .filter(|row| row.kind == kind)
        .map(|row| row.key)
        .collect())
}

/// A running workload, as its telemetry resource describes it.
#[derive(Clone, Debug)]
pub struct Workload {
    pub(super) row: NodeRow,
}

impl From<NodeRow> for Workload {
    fn from(row: NodeRow) -> Workload {
        Workload { row }
    }
}

#[Object]
impl Workload {
    /// `ENVIRONMENT/NAMESPACE/NAME`, `-` for an absent part.
    async fn key(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// When it was first seen running (RFC 3339, UTC): its first sighting.
    async fn first_seen(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(rfc3339(super::sightings::seen_of(ctx, &self.row).await?.0))
    }

    /// When it was last seen running (RFC 3339, UTC): its last sighting,
    /// as telemetry arrives (memory merged over the database).
    async fn last_seen(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(rfc3339(super::sightings::seen_of(ctx, &self.row).await?.1))
    }

    /// Each image it was seen running, with first and last seen.
    async fn sightings(&self, ctx: &Context<'_>) -> Result<Vec<super::sightings::Sighting>> {
        Ok(super::sightings::sightings_of(ctx, self.row.id)
            .await?
            .iter()
            .map(super::sightings::Sighting::from)
            .collect())
    }

    /// The images it was seen running.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], true, &[E::Runs]).await
    }
}

/// `artifact`, `commit`, `build`, `repository`, `goMod`, `workload`.
#[derive(Debug, Default)]
pub struct TypedQuery;

#[Object]
impl TypedQuery {
    /// An artifact by digest (`sha256:` and 64 hex digits), or null.
    async fn artifact(&self, ctx: &Context<'_>, digest: String) -> Result<Option<Artifact>> {
        Ok(find(ctx, NodeKind::Artifact, &digest)
            .await?
            .map(|row| Artifact { row }))
    }

    /// A commit by SHA (40 or 64 hex digits, any case), or null.
    async fn commit(&self, ctx: &Context<'_>, sha: String) -> Result<Option<Commit>> {
        Ok(find(ctx, NodeKind::Commit, &sha)
            .await?
            .map(|row| Commit { row }))
    }

    /// A build by id, or null.
    async fn build(&self, ctx: &Context<'_>, id: String) -> Result<Option<Build>> {
        Ok(find(ctx, NodeKind::Build, &id)
            .await?
            .map(|row| Build { row }))
    }

    /// A repository by URL in any usual form (https, ssh, scp-like), or null.
    async fn repository(&self, ctx: &Context<'_>, url: String) -> Result<Option<Repository>> {
        Ok(find(ctx, NodeKind::Repository, &url)
            .await?
            .map(|row| Repository { row }))
    }

    /// A go.mod by hash (hex as `sha256sum go.mod` prints it, or `sha256:<hex>`), or null.
    async fn go_mod(&self, ctx: &Context<'_>, hash: String) -> Result<Option<GoMod>> {
        Ok(find(ctx, NodeKind::Gomod, &hash)
            .await?
            .map(|row| GoMod { row }))
    }

    /// A workload by key (`ENVIRONMENT/NAMESPACE/NAME`), or null.
    async fn workload(&self, ctx: &Context<'_>, key: String) -> Result<Option<Workload>> {
        Ok(find(ctx, NodeKind::Workload, &key)
            .await?
            .map(|row| Workload { row }))
    }
}
