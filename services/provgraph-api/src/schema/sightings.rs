//! A workload's sightings (each image it was seen running, first and last
//! seen, memory merged over the rows), for `Workload` and for `impact`.

use async_graphql::{Context, Result, SimpleObject};
use provgraph_store::{NodeRow, SightingRow};

use super::{api, store_error};
use crate::time::rfc3339;

/// One image a workload was seen running.
#[derive(SimpleObject, Clone, Debug)]
pub struct Sighting {
    /// The image digest.
    pub digest: String,
    /// When it was first and last seen running it (RFC 3339, UTC).
    pub first_seen: String,
    pub last_seen: String,
    /// Sightings received: one per trace per export, one per resource per
    /// metrics or logs export.
    pub count: i64,
}

impl From<&SightingRow> for Sighting {
    fn from(row: &SightingRow) -> Sighting {
        Sighting {
            digest: row.digest.clone(),
            first_seen: rfc3339(row.first_seen),
            last_seen: rfc3339(row.last_seen),
            count: row.count,
        }
    }
}

/// The sightings of one workload, memory merged over the rows.
pub(super) async fn sightings_of(ctx: &Context<'_>, workload: i64) -> Result<Vec<SightingRow>> {
    api(ctx)
        .store
        .sightings(&[workload], true)
        .await
        .map_err(store_error)
}

/// A workload's first and last sighting, memory merged (its node's times
/// when it has no sighting row).
pub(super) async fn seen_of(ctx: &Context<'_>, row: &NodeRow) -> Result<(i64, i64)> {
    let rows = sightings_of(ctx, row.id).await?;
    Ok(
        match (
            rows.iter().map(|r| r.first_seen).min(),
            rows.iter().map(|r| r.last_seen).max(),
        ) {
            (Some(first), Some(last)) => (first, last),
            _ => (row.first_seen, row.last_seen),
        },
    )
}
