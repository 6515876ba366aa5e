//! Bare SBOMs: an artifact CONTAINS each package the document lists.

use std::collections::BTreeMap;

use provgraph_model::{EdgeKind, NodeKind, NodeRef};

use super::Conn;
use super::writes::{upsert_edges, upsert_evidence, upsert_nodes};
use crate::StoreError;
use crate::plan::Seen;

/// Records what a bare SBOM claims: the artifact CONTAINS each
/// package, with the SBOM (`source`, `sender`) as the evidence.
pub(crate) async fn write_sbom(
    conn: &mut Conn,
    subject: &str,
    packages: &[(NodeKind, String)],
    source: &str,
    sender: &str,
    now: i64,
) -> Result<(), StoreError> {
    let artifact = NodeRef::new(NodeKind::Artifact, subject.to_string());
    let mut nodes = BTreeMap::new();
    nodes.insert(artifact.clone(), Seen::at(now));
    let mut edges = BTreeMap::new();
    for (kind, key) in packages {
        let package = NodeRef::new(*kind, key.clone());
        nodes.insert(package.clone(), Seen::at(now));
        edges.insert(
            (EdgeKind::Contains, artifact.clone(), package),
            Seen::at(now),
        );
    }
    let node_ids = upsert_nodes(conn, &nodes).await?;
    let edge_ids = upsert_edges(conn, &edges, &node_ids).await?;
    let evidence: Vec<(i64, &str, &str, &str, Seen)> = edge_ids
        .values()
        .map(|id| (*id, source, "", sender, Seen::at(now)))
        .collect();
    upsert_evidence(conn, &evidence).await?;
    Ok(())
}
