//! The crate's integration tests, one test binary: the corpora and
//! regressions replayed (`corpus_replay`), the property tests
//! (`properties`), and the protobuf seeds checked against the JSON ones
//! (`protobuf_seeds`).

mod corpus_replay;
mod properties;
mod protobuf_seeds;
