//! Runs every sigstore-conformance `bundle-verify` case through the real
//! `provgraph verify-bundle` command, with the arguments the conformance
//! suite's client passes, once
//! with the artifact's path and once with its `sha256:` digest (the suite's
//! PATH and DIGEST variants). Cases ending in `_fail` must fail, all others
//! must pass.
//!
//! The cases come from `PROVGRAPH_CONFORMANCE_DIR`, by default
//! `../../../shared/testdata/sigstore-conformance/bundle-verify` from this
//! crate; when missing, the test is skipped unless
//! `PROVGRAPH_REQUIRE_CONFORMANCE=1` (as .ci/run sets).

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn cases_dir() -> PathBuf {
    std::env::var_os("PROVGRAPH_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/testdata/sigstore-conformance/bundle-verify")
        })
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The argv the suite's client builds for one case (`build_verify_args`).
fn argv(case: &Path, cases: &Path, as_digest: bool) -> Result<Vec<String>, String> {
    let mut argv = vec![
        "verify-bundle".to_string(),
        "--bundle".to_string(),
        case.join("bundle.sigstore.json").display().to_string(),
    ];
    let key = case.join("key.pub");
    if key.exists() {
        argv.extend(["--key".to_string(), key.display().to_string()]);
    } else {
        let identity =
            read_trimmed(&case.join("identity")).unwrap_or_else(|| DEFAULT_IDENTITY.into());
        let issuer = read_trimmed(&case.join("issuer")).unwrap_or_else(|| DEFAULT_ISSUER.into());
        argv.extend([
            "--certificate-identity".to_string(),
            identity,
            "--certificate-oidc-issuer".to_string(),
            issuer,
        ]);
    }
    let root = case.join("trusted_root.json");
    if root.exists() {
        argv.extend(["--trusted-root".to_string(), root.display().to_string()]);
    }
    let artifact = if case.join("artifact").exists() {
        case.join("artifact")
    } else {
        cases.join("a.txt")
    };
    if as_digest {
        let bytes = std::fs::read(&artifact)
            .map_err(|e| format!("cannot read {}: {e}", artifact.display()))?;
        argv.push(format!("sha256:{}", sha256_hex(&bytes)));
    } else {
        argv.push(artifact.display().to_string());
    }
    Ok(argv)
}

/// The digest the suite computes with hashlib.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Runs the command; Ok(stdout) on exit 0, Err(stderr) otherwise.
fn run(argv: &[String]) -> Result<String, String> {
    let output = Command::new(env!("CARGO_BIN_EXE_provgraph"))
        .args(argv)
        .output()
        .map_err(|err| format!("cannot run provgraph: {err}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if output.status.success() {
        Ok(stdout)
    } else {
        assert!(
            output.status.code().is_some_and(|c| c != 0),
            "non-zero exit, not a crash: {:?}",
            output.status
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "exactly one line on stderr saying why: {stderr:?}"
        );
        Err(stderr)
    }
}

#[test]
fn sigstore_conformance_bundle_verify() {
    let _turn = crate::support::shared();
    let cases = cases_dir();
    if !cases.is_dir() {
        let required = std::env::var("PROVGRAPH_REQUIRE_CONFORMANCE").as_deref() == Ok("1");
        assert!(
            !required,
            "conformance cases not found at {} and PROVGRAPH_REQUIRE_CONFORMANCE=1",
            cases.display()
        );
        println!(
            "SKIPPED: no sigstore-conformance cases at {} (set PROVGRAPH_CONFORMANCE_DIR)",
            cases.display()
        );
        return;
    }

    let cases = cases.canonicalize().unwrap_or(cases);
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&cases)
        .expect("read conformance dir")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("bundle.sigstore.json").is_file())
        .collect();
    folders.sort();
    assert!(!folders.is_empty(), "no cases in {}", cases.display());

    let mut as_expected = 0usize;
    let mut unexpected = Vec::new();
    println!(
        "{:<62} {:<6} {:<6} {:<5} detail",
        "case", "input", "want", "got"
    );
    for folder in &folders {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let want_pass = !name.ends_with("_fail");
        for as_digest in [false, true] {
            let input = if as_digest { "DIGEST" } else { "PATH" };
            let outcome = argv(folder, &cases, as_digest).and_then(|argv| run(&argv));
            let passed = outcome.is_ok();
            let detail = match &outcome {
                Ok(summary) => summary.clone(),
                Err(reason) => reason.clone(),
            };
            if let Err(reason) = &outcome {
                assert!(!reason.contains('\n'), "{name}: error is not one line");
            }
            let ok = passed == want_pass;
            if ok {
                as_expected += 1;
            } else {
                unexpected.push(format!("{name} ({input})"));
            }
            println!(
                "{:<62} {:<6} {:<6} {:<5} {}{}",
                name,
                input,
                if want_pass { "pass" } else { "fail" },
                if passed { "pass" } else { "fail" },
                if ok { "" } else { "UNEXPECTED: " },
                truncate(&detail, 160)
            );
        }
    }
    println!(
        "conformance: {} cases, {} runs; {} passed as expected, {} not",
        folders.len(),
        folders.len() * 2,
        as_expected,
        unexpected.len()
    );
    assert!(
        unexpected.is_empty(),
        "not as expected: {}",
        unexpected.join(", ")
    );
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}...")
    }
}
