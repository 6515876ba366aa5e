//! schema/schema.graphql must be exactly the SDL the server serves.
//! Regenerate it with `cargo run -p provgraph -- schema > schema/schema.graphql`
//! (or run this test with PROVGRAPH_UPDATE_SCHEMA=1).

#[test]
fn checked_in_schema_matches_the_served_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/schema.graphql");
    let served = provgraph_api::sdl();
    if std::env::var("PROVGRAPH_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &served).expect("write schema");
    }
    let checked_in = std::fs::read_to_string(&path).expect("schema/schema.graphql exists");
    assert!(
        checked_in == served,
        "schema/schema.graphql differs from the served schema; regenerate it with \
         `cargo run -p provgraph -- schema > schema/schema.graphql`"
    );
    // The contract's core is there.
    for needle in [
        "enum Direction",
        "UPSTREAM",
        "DOWNSTREAM",
        "node(kind: NodeKind!, key: String!): Node",
        "lineage(kind: NodeKind!, key: String!, direction: Direction!, maxDepth: Int): Subgraph!",
        "type Subgraph",
    ] {
        assert!(served.contains(needle), "schema lacks {needle:?}");
    }
}
