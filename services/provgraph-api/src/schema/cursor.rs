//! The lineage page cursor: opaque to clients, `(depth, node id)` inside.

use async_graphql::{Error, Result};

/// A page cursor: the (depth, node id) of the last node, hex-encoded.
/// Stable as the graph grows: a page holds the nodes after it in (depth, id)
/// order.
pub(super) fn page_cursor(depth: u32, id: i64) -> String {
    hex::encode(format!("lp1:{depth}:{id}"))
}

pub(super) fn parse_page_cursor(cursor: &str) -> Result<(u32, i64)> {
    let bad = || Error::new("invalid cursor: pass an endCursor or cursor this API returned");
    let text = hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let mut parts = text.strip_prefix("lp1:").ok_or_else(bad)?.splitn(2, ':');
    let depth = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    let id = parts.next().and_then(|i| i.parse().ok()).ok_or_else(bad)?;
    Ok((depth, id))
}

#[cfg(test)]
mod tests {
    use super::{page_cursor, parse_page_cursor};

    #[test]
    fn cursors_round_trip() {
        for (depth, id) in [(0, 1), (3, 42), (64, i64::MAX)] {
            assert_eq!(
                parse_page_cursor(&page_cursor(depth, id)).unwrap(),
                (depth, id)
            );
        }
    }

    #[test]
    fn foreign_cursors_are_refused() {
        for cursor in [
            "",
            "zz",
            &hex::encode("lp0:1:2"),
            &hex::encode("lp1:1"),
            &hex::encode("lp1:-1:2"),
            &hex::encode("lp1:1:x"),
        ] {
            assert!(parse_page_cursor(cursor).is_err(), "{cursor:?} accepted");
        }
    }
}
