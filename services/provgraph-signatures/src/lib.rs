//! Cosign and Sigstore signature verification for provgraph.
//!
//! Three entry points:
//!
//! - [`run_verify_bundle`] with [`VerifyBundleArgs`]: the `provgraph
//!   verify-bundle` subcommand, speaking the sigstore-conformance command-line
//!   protocol (verify one Sigstore bundle for one artifact and one signer).
//! - [`TrustPolicy`]: which roots, keys and keyless identities are trusted,
//!   read from the `--trust-policy` TOML file.
//! - [`parse_evidence`] and [`verify_evidence`]: import a Sigstore bundle or a
//!   cosign signature layer and say, per subject digest, whether it is
//!   cryptographically valid (`verified`) and allowed by the policy
//!   (`trusted`), with what the signing certificate and any SLSA provenance
//!   say about where the artifact came from.
//!
//! Everything is offline: the public-good production and staging trusted roots
//! are built in (they come with `sigstore-trust-root`), and certificates are
//! validated at the time a transparency log or timestamp authority vouches for,
//! never at the current time.
//!
//! Cryptography is `sigstore-verify` (pinned) over `aws-lc-rs`; this crate adds
//! the conformance CLI, the policy, the cosign legacy layer format, and the
//! per-subject results.

mod cli;
mod digest;
mod error;
mod evidence;
mod keys;
mod layer;
#[cfg(test)]
mod layer_tests;
pub mod notary;
mod policy;
mod roots;
mod slsa;
mod verify;

pub use cli::{VerifiedSummary, VerifyBundleArgs, VerifyBundleError, run_verify_bundle};
pub use error::{BundleError, KeyError, Source, TrustError};
pub use evidence::{Evidence, EvidenceError, EvidenceFormat, MAX_SUBJECTS, parse_evidence};
pub use policy::{IdentityRule, PolicyError, PolicyKey, SubjectMatcher, TrustPolicy};
pub use slsa::{SlsaSummary, summarize as slsa_summary};
pub use verify::{CertificateClaims, SignatureMethod, VerificationResult, verify_evidence};
