//! Image index membership: which image indexes list which manifests
//! (`index_members`, and a PART_OF edge each).

use std::collections::BTreeMap;

use provgraph_model::{EdgeKind, NodeKind, NodeRef};

use super::Conn;
use super::writes::{upsert_edges, upsert_nodes};
use crate::plan::Seen;
use crate::{IndexListing, IndexMember, StoreError};

/// Records that the image index `index` lists `members`: one PART_OF edge from each member to the index.
pub(crate) async fn write_index(
    conn: &mut Conn,
    index: &str,
    members: &[IndexMember],
    source: &str,
    now: i64,
) -> Result<(), StoreError> {
    let index_node = NodeRef::new(NodeKind::Artifact, index.to_string());
    let mut nodes = BTreeMap::new();
    nodes.insert(index_node.clone(), Seen::at(now));
    let mut edges = BTreeMap::new();
    for IndexMember { digest, .. } in members {
        let member = NodeRef::new(NodeKind::Artifact, digest.clone());
        nodes.insert(member.clone(), Seen::at(now));
        edges.insert(
            (EdgeKind::PartOf, member, index_node.clone()),
            Seen::at(now),
        );
    }
    let node_ids = upsert_nodes(conn, &nodes).await?;
    upsert_edges(conn, &edges, &node_ids).await?;
    let Some(index_id) = node_ids.get(&index_node).copied() else {
        return Err(StoreError::Corrupt(
            "index node missing after upsert".into(),
        ));
    };
    for IndexMember { digest, platform } in members {
        let Some(member_id) = node_ids
            .get(&NodeRef::new(NodeKind::Artifact, digest.clone()))
            .copied()
        else {
            continue;
        };
        sqlx::query(
            "INSERT INTO index_members (index_id, member_id, platform, source, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (index_id, member_id) DO UPDATE SET \
             platform = excluded.platform, source = excluded.source, last_seen = excluded.last_seen",
        )
        .bind(index_id)
        .bind(member_id)
        .bind(platform.clone())
        .bind(source.to_string())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The indexes listing a digest, by index digest.
pub(crate) async fn indexes_of(conn: &mut Conn, member: &str) -> sqlx::Result<Vec<IndexListing>> {
    let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT i.key, m.platform, m.source FROM index_members m \
         JOIN nodes i ON i.id = m.index_id JOIN nodes p ON p.id = m.member_id \
         WHERE p.kind = $1 AND p.key = $2 ORDER BY i.key",
    )
    .bind(NodeKind::Artifact.code())
    .bind(member.to_string())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(index, platform, source)| IndexListing {
            index,
            platform,
            source,
        })
        .collect())
}
