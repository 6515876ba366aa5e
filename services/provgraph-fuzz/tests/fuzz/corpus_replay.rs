//! Replays every file of `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` through its target, so that the normal
//! `cargo test` exercises the fuzzers' findings without libFuzzer. A
//! regression file is a former crash: it must pass now.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use provgraph_fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(kind: &str, minimum: usize) {
    let mut failures = Vec::new();
    for (target, body) in TARGETS {
        let dir = fuzz_dir().join(kind).join(target);
        let inputs = files(&dir);
        assert!(
            inputs.len() >= minimum,
            "{}: {} files, expected at least {minimum}",
            dir.display(),
            inputs.len()
        );
        for path in inputs {
            let data = std::fs::read(&path).expect("read input");
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body(&data))) {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: {message}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "inputs that panic:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_corpus_input_passes() {
    // Every target has a corpus: at least its seeds.
    replay("corpus", 1);
}

#[test]
fn every_regression_input_passes() {
    replay("regressions", 0);
}

#[test]
fn targets_have_fuzz_binaries() {
    // One libFuzzer binary per target, named as the target.
    for (target, _) in TARGETS {
        let source = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        assert!(source.is_file(), "{} is missing", source.display());
    }
}

/// The evidence seeds reach past parsing: the key-signed ones verify and
/// are trusted under the fuzz policy, so the fuzzer starts from inputs that
/// exercise the verified paths (SLSA summaries, SBOM predicates,
/// annotations), not only from refusals.
#[test]
fn key_signed_evidence_seeds_verify_and_are_trusted() {
    let dir = fuzz_dir().join("corpus/evidence");
    for seed in [
        "seed-layer-key-signed.json",
        "seed-attestation-layer-slsa-v1.json",
        "seed-attestation-layer-slsa-v02.json",
        "seed-attestation-layer-spdx.json",
    ] {
        let body = std::fs::read(dir.join(seed)).expect("seed");
        let evidence = provgraph_signatures::parse_evidence(&body, None).expect(seed);
        let results = provgraph_signatures::verify_evidence(&evidence[0], provgraph_fuzz::policy());
        assert!(
            results.iter().all(|r| r.verified && r.trusted),
            "{seed}: {results:?}"
        );
        if seed.contains("slsa") {
            assert!(results[0].slsa.is_some(), "{seed}: no SLSA summary");
        }
    }
    let body = std::fs::read(dir.join("seed-layer-key-badsig.json")).expect("seed");
    let evidence = provgraph_signatures::parse_evidence(&body, None).expect("bad signature");
    let results = provgraph_signatures::verify_evidence(&evidence[0], provgraph_fuzz::policy());
    assert!(results.iter().all(|r| !r.verified && !r.trusted));
}
