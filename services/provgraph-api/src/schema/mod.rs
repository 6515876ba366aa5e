//! The GraphQL schema: `node` and `lineage` (the contract's core), typed entry
//! points (`artifact`, `commit`, `build`, `repository`, `goMod`, `workload`,
//! `vulnerability`), and edges with the evidence behind them. One file per area, merged into
//! one query root.

mod audit;
mod batch;
mod cursor;
mod enums;
mod graph;
mod modules;
mod running;
mod sightings;
mod signatures;
pub(crate) mod subscription;
mod typed;

use async_graphql::{Context, EmptyMutation, Error, MergedObject, Result, Schema};
use provgraph_model::NodeKind;
use provgraph_store::{NodeRow, Store, StoreError};

use crate::ApiLimits;

// The query root: every area's entry points, in the order the schema lists
// them (no doc comment: the root has no description in the schema).
#[derive(MergedObject, Default)]
pub struct Query(
    graph::GraphQuery,
    audit::AuditQuery,
    modules::ModuleQuery,
    typed::TypedQuery,
    running::RunningQuery,
    typed::VulnQuery,
);

/// The schema type served at /graphql.
pub type ProvSchema = Schema<Query, EmptyMutation, subscription::EventSubscription>;

struct Api {
    store: Store,
    limits: ApiLimits,
}

impl Api {
    /// `maxDepth` as given, defaulted and capped.
    fn max_depth(&self, asked: Option<i32>) -> Result<u32> {
        match asked {
            None => Ok(self.limits.default_lineage_depth),
            Some(depth) if depth < 0 => Err(Error::new("maxDepth must be 0 or more")),
            Some(depth) => Ok((depth as u32).min(self.limits.max_lineage_depth)),
        }
    }
}

fn api<'a>(ctx: &Context<'a>) -> &'a Api {
    ctx.data_unchecked::<Api>()
}

fn store_error(err: StoreError) -> Error {
    Error::new(err.to_string())
}

/// Builds the schema over `store`, and starts loading its lineage index.
pub fn build_schema(store: Store, limits: ApiLimits) -> ProvSchema {
    build_schema_with(store, limits, subscription::EventFeed::default())
}

/// [`build_schema`] with the feed its `events` subscription follows.
pub(crate) fn build_schema_with(
    store: Store,
    limits: ApiLimits,
    feed: subscription::EventFeed,
) -> ProvSchema {
    store.start_lineage_index();
    Schema::build(
        Query::default(),
        EmptyMutation,
        subscription::EventSubscription,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .extension(batch::PerRequest {
        store: store.clone(),
        limit: limits.max_list,
    })
    .extension(crate::guard::Metered)
    .data(Api { store, limits })
    .data(feed)
    .finish()
}

/// The SDL of the schema.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        EmptyMutation,
        subscription::EventSubscription,
    )
    .finish()
    .sdl()
}

fn normalize(kind: NodeKind, raw: &str) -> Result<String> {
    kind.normalize(raw)
        .map_err(|err| Error::new(err.to_string()))
}

async fn find(ctx: &Context<'_>, kind: NodeKind, raw: &str) -> Result<Option<NodeRow>> {
    let key = normalize(kind, raw)?;
    api(ctx).store.node(kind, &key).await.map_err(store_error)
}
