#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| provgraph_fuzz::notary::notary_cose(data));
