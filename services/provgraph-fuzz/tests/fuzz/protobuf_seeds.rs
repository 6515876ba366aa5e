//! The protobuf target's seeds are the OTLP/JSON target's seeds encoded as
//! protobuf, so both decoders start from the same requests. Set
//! `PROVGRAPH_FUZZ_WRITE_SEEDS=1` to (re)write them after changing a JSON
//! seed.

use std::path::Path;

use prost::Message;

#[test]
fn protobuf_seeds_are_the_json_seeds_encoded() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let write = std::env::var_os("PROVGRAPH_FUZZ_WRITE_SEEDS").is_some();
    let mut seeds = 0;
    for entry in std::fs::read_dir(fuzz.join("otlp_json")).expect("otlp_json corpus") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some(stem) = name
            .strip_prefix("seed-")
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let json = std::fs::read(&path).expect("read seed");
        let request = provgraph_otlp::decode_trace_request_json(&json)
            .unwrap_or_else(|err| panic!("{name} is not OTLP/JSON: {err}"));
        let encoded = request.encode_to_vec();
        let twin = fuzz.join("otlp_protobuf").join(format!("seed-{stem}.pb"));
        if write {
            std::fs::write(&twin, &encoded).expect("write seed");
        }
        let stored = std::fs::read(&twin).unwrap_or_else(|err| panic!("{}: {err}", twin.display()));
        assert_eq!(stored, encoded, "{} is stale", twin.display());
        seeds += 1;
    }
    assert!(seeds >= 5, "only {seeds} JSON seeds");
}
