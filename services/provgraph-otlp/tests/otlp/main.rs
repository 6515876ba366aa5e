//! The crate's integration tests, one test binary: the OTLP/JSON decoder
//! (`decode_json`), the response encoders (`encode`), and the round-trip
//! property (`roundtrip`).

mod decode_json;
mod encode;
mod roundtrip;
