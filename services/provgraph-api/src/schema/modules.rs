//! Go modules and SBOMs: `module(path, version)`, what an image's SBOM
//! lists, and where it disagrees with the build's go.mod.

use async_graphql::{Context, Object, Result, SimpleObject};
use provgraph_model::NodeKind;
use provgraph_store::NodeRow;

use super::graph::Node;
use super::typed::{Artifact, Build, E, GoMod, Workload, hop, hop_to, ids};
use super::{api, normalize, store_error};

/// A Go module and the versions of it the graph knows.
#[derive(SimpleObject, Clone, Debug)]
pub struct ModuleUsage {
    /// The module path.
    pub path: String,
    /// Versions in use, by version text.
    pub versions: Vec<ModuleVersion>,
}

/// One version of a Go module, and what uses it.
#[derive(Clone, Debug)]
pub struct ModuleVersion {
    pub(super) row: NodeRow,
}

impl From<NodeRow> for ModuleVersion {
    fn from(row: NodeRow) -> ModuleVersion {
        ModuleVersion { row }
    }
}

#[Object]
impl ModuleVersion {
    /// `PATH@VERSION`.
    async fn key(&self) -> &str {
        &self.row.key
    }

    async fn version(&self) -> &str {
        self.row.key.rsplit_once('@').map_or("", |(_, v)| v)
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// The go.mod files requiring it (directly or indirectly).
    async fn go_mods(&self, ctx: &Context<'_>) -> Result<Vec<GoMod>> {
        Ok(hop(
            ctx,
            &[self.row.id],
            false,
            &[E::Requires, E::RequiresIndirect],
        )
        .await?
        .into_iter()
        .map(|row| GoMod { row })
        .collect())
    }

    /// True when every go.mod requiring it does so only indirectly.
    async fn indirect_only(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(hop(ctx, &[self.row.id], false, &[E::Requires])
            .await?
            .is_empty())
    }

    /// Builds that used a go.mod requiring it.
    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        let gomods = hop(
            ctx,
            &[self.row.id],
            false,
            &[E::Requires, E::RequiresIndirect],
        )
        .await?;
        hop_to(ctx, &ids(&gomods), false, &[E::UsedGomod]).await
    }

    /// Images those builds produced, and the platform manifests of those
    /// that are indexes.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        Ok(module_artifacts(ctx, self.row.id)
            .await?
            .into_iter()
            .map(|row| Artifact { row })
            .collect())
    }

    /// Workloads seen running one of those images.
    async fn workloads(&self, ctx: &Context<'_>) -> Result<Vec<Workload>> {
        let artifacts = module_artifacts(ctx, self.row.id).await?;
        hop_to(ctx, &ids(&artifacts), false, &[E::Runs]).await
    }
}

async fn module_artifacts(ctx: &Context<'_>, module: i64) -> Result<Vec<NodeRow>> {
    let gomods = hop(ctx, &[module], false, &[E::Requires, E::RequiresIndirect]).await?;
    let builds = hop(ctx, &ids(&gomods), false, &[E::UsedGomod]).await?;
    let mut artifacts = hop(ctx, &ids(&builds), false, &[E::BuiltBy]).await?;
    for listed in hop(ctx, &[module], false, &[E::Contains]).await? {
        if !artifacts.iter().any(|a| a.id == listed.id) {
            artifacts.push(listed);
        }
    }
    for platform in hop(ctx, &ids(&artifacts), false, &[E::PartOf]).await? {
        if !artifacts.iter().any(|a| a.id == platform.id) {
            artifacts.push(platform);
        }
    }
    Ok(artifacts)
}

/// `module`.
#[derive(Debug, Default)]
pub struct ModuleQuery;

#[Object]
impl ModuleQuery {
    /// A Go module by path, with or without a version: which go.mod files
    /// require it, and which builds, images and running workloads came from
    /// them. Without a version, every version in use.
    #[graphql(complexity = "10 + child_complexity * 10")]
    async fn module(
        &self,
        ctx: &Context<'_>,
        path: String,
        version: Option<String>,
    ) -> Result<ModuleUsage> {
        let api = api(ctx);
        let path = path.trim().to_string();
        let rows: Vec<NodeRow> = match &version {
            Some(version) => {
                let key = normalize(NodeKind::Module, &format!("{path}@{version}"))?;
                api.store
                    .node(NodeKind::Module, &key)
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .collect()
            }
            None => {
                // Validates the path with a placeholder version.
                normalize(NodeKind::Module, &format!("{path}@v0"))?;
                api.store
                    .nodes_with_prefix(
                        NodeKind::Module,
                        &format!("{path}@"),
                        api.limits.max_list as i64,
                    )
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .filter(|row| row.key.rsplit_once('@').is_some_and(|(p, _)| p == path))
                    .collect()
            }
        };
        Ok(ModuleUsage {
            path,
            versions: rows.into_iter().map(|row| ModuleVersion { row }).collect(),
        })
    }
}
