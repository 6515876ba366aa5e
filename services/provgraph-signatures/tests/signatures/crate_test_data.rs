//! Real bundles from the public test data that `sigstore-verify` (the
//! verifier we build on) ships in its crate package, read in place from the
//! cargo registry: genuine ones verify through provgraph's import path,
//! the CVE-2022-36056-class bundle (a log entry that does not match the
//! signature) does not. Skipped, saying so, when the package source is not
//! on this machine.

use std::path::PathBuf;

use provgraph_signatures::{TrustPolicy, parse_evidence, verify_evidence};

/// `$CARGO_HOME/registry/src/*/sigstore-verify-0.15.1/test_data`.
fn test_data() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let sources = std::fs::read_dir(home.join("registry/src")).ok()?;
    sources
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join("sigstore-verify-0.15.1/test_data"))
        .find(|path| path.is_dir())
}

#[test]
fn sigstore_verify_public_bundles_through_the_import_path() {
    let Some(dir) = test_data() else {
        println!(
            "SKIPPED: sigstore-verify 0.15.1 source (its test_data) not found under CARGO_HOME"
        );
        return;
    };
    // (file, verified?) with the default policy: the production root,
    // nobody trusted.
    let cases = [
        // Its statement names its subject by another digest algorithm only:
        // refused (provgraph keys artifacts by SHA-256), never misattributed.
        ("bundles/dsse.sigstore.json", false),
        ("bundles/dsse-2sigs.sigstore.json", false),
        ("bundles/conda-attestation.sigstore.json", true),
        ("bundles/cosign-v3-blob.sigstore.json", true),
        ("bundles/bundle_v3_github.whl.sigstore", true),
        ("bundles/bundle_cve_2022_36056.txt.sigstore", false),
        ("bundles/bundle_invalid_version.txt.sigstore", false),
    ];
    let policy = TrustPolicy::default();
    let mut report = Vec::new();
    for (file, want) in cases {
        let body = std::fs::read(dir.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        let outcome = match parse_evidence(&body, None) {
            Err(err) => (false, format!("refused: {err}")),
            Ok(evidence) => {
                let results: Vec<_> = evidence
                    .iter()
                    .flat_map(|e| verify_evidence(e, &policy))
                    .collect();
                let verified =
                    !results.is_empty() && results.iter().all(|r| r.verified && !r.trusted);
                let reasons: Vec<String> = results
                    .iter()
                    .map(|r| format!("{}: {}", r.subject, r.reason))
                    .collect();
                (verified, reasons.join("; "))
            }
        };
        println!(
            "{file:<50} want {want:<5} got {:<5} {}",
            outcome.0, outcome.1
        );
        if file.ends_with("dsse.sigstore.json") {
            assert!(outcome.1.contains("no subject by sha256"), "{}", outcome.1);
        }
        report.push((file, want, outcome));
    }
    let wrong: Vec<_> = report
        .iter()
        .filter(|(_, want, (got, _))| want != got)
        .collect();
    assert!(wrong.is_empty(), "not as expected: {wrong:#?}");
}
