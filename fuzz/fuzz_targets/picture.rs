#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| provgraph_fuzz::picture::picture(data));
