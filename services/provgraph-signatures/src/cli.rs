//! `provgraph verify-bundle`: the sigstore-conformance command-line protocol.
//!
//! ```text
//! verify-bundle [--staging] --bundle FILE --certificate-identity IDENTITY --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST
//! verify-bundle [--staging] --bundle FILE --key PATH_TO_KEY [--trusted-root FILE] FILE_OR_DIGEST
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy};

use provgraph_model::Digest;

use crate::error::TrustError;
pub use crate::error::VerifyBundleError;
use crate::roots;

/// Arguments of `provgraph verify-bundle`, in the order the sigstore-conformance
/// suite passes them. Embed it in a binary with `#[command(flatten)]` or as a
/// subcommand's arguments.
#[derive(Debug, Clone, clap::Args)]
#[command(group(
    clap::ArgGroup::new("signer")
        .required(true)
        .args(["certificate_identity", "key"])
))]
pub struct VerifyBundleArgs {
    /// Use the Sigstore public-good staging trusted root (built in) instead
    /// of the production one; ignored when --trusted-root is given.
    #[arg(long)]
    pub staging: bool,

    /// The Sigstore bundle to verify (JSON, v0.1 to v0.3).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,

    /// The identity the signing certificate must name in its SAN (exact match).
    #[arg(
        long,
        value_name = "IDENTITY",
        requires = "certificate_oidc_issuer",
        conflicts_with = "key"
    )]
    pub certificate_identity: Option<String>,

    /// The OIDC issuer the signing certificate must name (exact match).
    #[arg(
        long,
        value_name = "URL",
        requires = "certificate_identity",
        conflicts_with = "key"
    )]
    pub certificate_oidc_issuer: Option<String>,

    /// Verify with this PEM public key instead of a certificate identity.
    #[arg(long, value_name = "PATH_TO_KEY")]
    pub key: Option<PathBuf>,

    /// A custom trusted_root.json (default: the built-in public-good root).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,

    /// The artifact: a path, or `sha256:<64 hex>` when no such file exists.
    /// For an in-toto attestation, one of the statement's subjects.
    #[arg(value_name = "FILE_OR_DIGEST")]
    pub file_or_digest: PathBuf,
}

/// What a successful `verify-bundle` established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedSummary {
    /// The artifact as `sha256:<hex>` (computed when a file was given).
    pub artifact: String,
    /// The certificate's SAN identity, or the key file's path for `--key`.
    pub signer: String,
    /// The certificate's OIDC issuer (none for `--key`).
    pub issuer: Option<String>,
    /// Seconds since the epoch that the transparency log vouches the entry was
    /// integrated at (Rekor v1), when present.
    pub integrated_time: Option<i64>,
    /// Earliest authenticated signing time (log integration or RFC 3161
    /// timestamp), seconds since the epoch.
    pub signed_at: Option<i64>,
    /// Whether transparency-log inclusion was verified.
    pub tlog_verified: bool,
}

impl std::fmt::Display for VerifiedSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OK: {} signed by {}", self.artifact, self.signer)?;
        if let Some(issuer) = &self.issuer {
            write!(f, " (issuer {issuer})")?;
        }
        if let Some(time) = self.signed_at {
            write!(f, " at {time}")?;
        }
        Ok(())
    }
}

/// The artifact named on the command line.
enum ArtifactInput {
    /// A file's bytes.
    Bytes(Vec<u8>),
    /// A `sha256:` digest (no file of that name exists).
    Digest(String),
}

/// Runs `verify-bundle`: `Ok` when the bundle verifies for that artifact and
/// signer, else `Err` with one line saying why. Entirely offline.
///
/// The binary prints the error on stderr and exits non-zero.
pub fn run_verify_bundle(args: &VerifyBundleArgs) -> Result<VerifiedSummary, VerifyBundleError> {
    // Trust material first: a bad root is a setup error, whatever the bundle.
    let root = match &args.trusted_root {
        Some(path) => roots::from_file(path)?,
        None => roots::embedded(args.staging)?,
    };
    let root_name = match &args.trusted_root {
        Some(path) => path.display().to_string(),
        None if args.staging => "built-in staging".to_string(),
        None => "built-in production".to_string(),
    };
    let verifier = roots::verifier(&root, &root_name)?;

    let bundle_text = read_file("bundle", &args.bundle)?;
    let bundle = Bundle::from_json(&bundle_text).map_err(|e| VerifyBundleError::InvalidBundle {
        path: args.bundle.display().to_string(),
        source: e.into(),
    })?;

    let artifact = read_artifact(&args.file_or_digest)?;
    let artifact_digest = match &artifact {
        ArtifactInput::Bytes(bytes) => crate::digest::sha256_digest_of(bytes).into(),
        ArtifactInput::Digest(digest) => digest.clone(),
    };

    let outcome = match (&args.key, &args.certificate_identity) {
        (Some(key_path), _) => {
            let policy = PublicKeyVerificationPolicy::new(read_public_key(key_path)?);
            verify_with(&verifier, &artifact, &bundle, &policy)?
        }
        (None, Some(identity)) => {
            let issuer =
                args.certificate_oidc_issuer
                    .as_deref()
                    .ok_or(VerifyBundleError::Usage(
                        "--certificate-identity needs --certificate-oidc-issuer",
                    ))?;
            let policy = VerificationPolicy::new(identity.as_str(), issuer);
            verify_with(&verifier, &artifact, &bundle, &policy)?
        }
        (None, None) => {
            return Err(VerifyBundleError::Usage(
                "give --certificate-identity and --certificate-oidc-issuer, or --key",
            ));
        }
    };

    let signer = match (&args.key, outcome.identity()) {
        (Some(key_path), _) => key_path.display().to_string(),
        (None, Some(identity)) => identity.to_string(),
        (None, None) => String::new(),
    };
    Ok(VerifiedSummary {
        artifact: artifact_digest,
        signer,
        issuer: outcome.issuer().map(str::to_string),
        integrated_time: outcome.integrated_time().map(|t| t.as_second()),
        signed_at: outcome
            .verified_timestamps()
            .iter()
            .chain(outcome.integrated_time().as_ref())
            .map(|t| t.as_second())
            .min(),
        tlog_verified: outcome.tlog_verified(),
    })
}

fn verify_with(
    verifier: &sigstore_verify::Verifier,
    artifact: &ArtifactInput,
    bundle: &Bundle,
    policy: &(impl sigstore_verify::Policy + ?Sized),
) -> Result<sigstore_verify::VerificationResult, VerifyBundleError> {
    let result = match artifact {
        ArtifactInput::Bytes(bytes) => verifier.verify(bytes.as_slice(), bundle, policy),
        ArtifactInput::Digest(digest) => {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            let hash = Sha256Hash::from_hex(hex).map_err(|e| VerifyBundleError::BadDigest {
                digest: digest.clone(),
                source: e.into(),
            })?;
            verifier.verify(hash, bundle, policy)
        }
    };
    result.map_err(|e| VerifyBundleError::Failed(e.into()))
}

/// FILE_OR_DIGEST: a digest when it is `sha256:` + 64 hex and not a file on
/// disk, else a path.
fn read_artifact(input: &Path) -> Result<ArtifactInput, TrustError> {
    if !input.exists()
        && let Some(digest) = input.to_str().and_then(|text| Digest::parse(text).ok())
    {
        return Ok(ArtifactInput::Digest(digest.into()));
    }
    std::fs::read(input)
        .map(ArtifactInput::Bytes)
        .map_err(|e| TrustError::Read {
            what: "artifact",
            path: input.display().to_string(),
            source: e.into(),
        })
}

fn read_file(what: &'static str, path: &Path) -> Result<String, TrustError> {
    std::fs::read_to_string(path).map_err(|e| TrustError::Read {
        what,
        path: path.display().to_string(),
        source: e.into(),
    })
}

fn read_public_key(path: &Path) -> Result<DerPublicKey, TrustError> {
    let pem = read_file("key", path)?;
    DerPublicKey::from_pem(&pem).map_err(|e| TrustError::BadKey {
        path: Some(path.display().to_string()),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    //! Argument parsing as the conformance suite sends it, and FILE_OR_DIGEST.

    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: VerifyBundleArgs,
    }

    fn parse(argv: &[&str]) -> Result<VerifyBundleArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("verify-bundle").chain(argv.iter().copied()))
            .map(|cli| cli.args)
    }

    #[test]
    fn parses_both_conformance_forms() {
        let args = parse(&[
            "--staging",
            "--bundle",
            "b.json",
            "--certificate-identity",
            "id",
            "--certificate-oidc-issuer",
            "https://issuer",
            "--trusted-root",
            "root.json",
            "a.txt",
        ])
        .expect("identity form");
        assert!(args.staging);
        assert_eq!(args.certificate_identity.as_deref(), Some("id"));
        assert_eq!(
            args.certificate_oidc_issuer.as_deref(),
            Some("https://issuer")
        );
        assert_eq!(args.trusted_root, Some(PathBuf::from("root.json")));
        assert_eq!(args.file_or_digest, PathBuf::from("a.txt"));

        let args = parse(&["--bundle", "b.json", "--key", "k.pub", "a.txt"]).expect("key form");
        assert_eq!(args.key, Some(PathBuf::from("k.pub")));
        assert!(!args.staging);
    }

    #[test]
    fn rejects_incomplete_or_mixed_signers() {
        assert!(parse(&["--bundle", "b.json", "a.txt"]).is_err());
        assert!(
            parse(&[
                "--bundle",
                "b.json",
                "--certificate-identity",
                "id",
                "a.txt"
            ])
            .is_err()
        );
        assert!(
            parse(&[
                "--bundle",
                "b.json",
                "--key",
                "k.pub",
                "--certificate-identity",
                "id",
                "--certificate-oidc-issuer",
                "i",
                "a.txt"
            ])
            .is_err()
        );
        assert!(parse(&["--bundle", "b.json", "--key", "k.pub"]).is_err());
    }

    #[test]
    fn digest_only_when_no_such_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let digest = format!("sha256:{}", "ab".repeat(32));
        match read_artifact(Path::new(&digest)) {
            Ok(ArtifactInput::Digest(d)) => assert_eq!(d, digest),
            _ => panic!("a digest that is not a file is a digest"),
        }
        // A file whose name looks like a digest is a file.
        let path = dir.path().join(&digest);
        std::fs::write(&path, b"bytes").expect("write");
        match read_artifact(&path) {
            Ok(ArtifactInput::Bytes(b)) => assert_eq!(b, b"bytes"),
            _ => panic!("an existing file is read"),
        }
        // Not a digest and not a file: an error naming the path.
        let err = match read_artifact(Path::new("sha256:abc")) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("missing file must fail"),
        };
        assert!(err.contains("sha256:abc"), "{err}");
    }

    #[test]
    fn errors_are_one_line() {
        let args = VerifyBundleArgs {
            staging: false,
            bundle: PathBuf::from("/nonexistent/bundle.json"),
            certificate_identity: Some("id".into()),
            certificate_oidc_issuer: Some("iss".into()),
            key: None,
            trusted_root: None,
            file_or_digest: PathBuf::from("/nonexistent/a.txt"),
        };
        let err = run_verify_bundle(&args)
            .expect_err("missing bundle")
            .to_string();
        assert!(err.contains("/nonexistent/bundle.json"), "{err}");
        assert!(!err.contains('\n'));
    }
}
