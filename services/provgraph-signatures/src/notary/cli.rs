//! `provgraph verify-notation`: one envelope, notation's trust policy and
//! trust store, one digest; for CI. The envelope's format is recognised
//! from its bytes.

use std::path::PathBuf;

use clap::Args;

use super::envelope::MAX_ENVELOPE_BYTES;
use super::parse_envelope;
use super::policy::{NotaryPolicy, check_reference};
use super::verify::verify_envelope;

/// Arguments of `provgraph verify-notation`.
#[derive(Debug, Args)]
pub struct VerifyNotationArgs {
    /// The signature envelope (JWS JSON or COSE_Sign1), as stored in the
    /// signature manifest's layer.
    #[arg(long)]
    pub envelope: PathBuf,
    /// notation's trust policy document (`trustpolicy.json`, version 1.0).
    #[arg(long)]
    pub trust_policy: PathBuf,
    /// notation's trust store folder (holding `x509/ca/NAME/...`).
    #[arg(long)]
    pub trust_store: PathBuf,
    /// The repository, `REGISTRY/REPOSITORY` (no tag, no digest), that
    /// selects the policy statement; without it only a statement scoped
    /// `*` applies.
    #[arg(long)]
    pub reference: Option<String>,
    /// The artifact manifest's size in bytes, checked against the signed
    /// descriptor when given.
    #[arg(long)]
    pub size: Option<u64>,
    /// The artifact's digest, `sha256:<hex>`.
    pub digest: String,
}

/// Runs `verify-notation`: `Ok` with a summary line when the envelope is
/// verified and trusted for the digest, else the one-line reason.
pub fn run_verify_notation(args: &VerifyNotationArgs) -> Result<String, String> {
    let digest = args.digest.to_ascii_lowercase();
    let well_formed = digest.split_once(':').is_some_and(|(algorithm, hex)| {
        matches!(algorithm, "sha256" | "sha384" | "sha512")
            && !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if !well_formed {
        return Err(format!("digest {:?} is not ALGORITHM:HEX", args.digest));
    }
    if let Some(reference) = &args.reference {
        check_reference(reference)?;
    }
    let policy = NotaryPolicy::from_files(&args.trust_policy, &args.trust_store)
        .map_err(|e| e.to_string())?;
    let meta = std::fs::metadata(&args.envelope)
        .map_err(|e| format!("cannot read envelope {}: {e}", args.envelope.display()))?;
    if meta.len() > MAX_ENVELOPE_BYTES as u64 {
        return Err(format!(
            "envelope {} is larger than {MAX_ENVELOPE_BYTES} bytes",
            args.envelope.display()
        ));
    }
    let bytes = std::fs::read(&args.envelope)
        .map_err(|e| format!("cannot read envelope {}: {e}", args.envelope.display()))?;
    let envelope = parse_envelope(&bytes, None)
        .map_err(|e| format!("invalid envelope {}: {e}", args.envelope.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let outcome = verify_envelope(
        &envelope,
        Some(&digest),
        args.size,
        args.reference.as_deref(),
        Some(&policy),
        now,
    );
    if outcome.verified && outcome.trusted {
        Ok(format!(
            "{}: {} ({})",
            outcome.subject,
            outcome.reason,
            outcome.format.graph_name()
        ))
    } else {
        Err(outcome.reason)
    }
}
