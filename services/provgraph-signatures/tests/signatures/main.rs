//! The crate's integration tests, one test binary: evidence import end to
//! end (`evidence`) and the verifier crate's own test data
//! (`crate_test_data`).

mod crate_test_data;
mod evidence;
