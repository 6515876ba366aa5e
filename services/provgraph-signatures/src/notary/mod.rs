//! Notary Project signatures (`notation sign`): envelopes in JWS JSON
//! serialization (`application/jose+json`) or COSE_Sign1
//! (`application/cose`), verified offline against notation's own trust
//! policy document and trust store, as the Notary Project specification
//! defines them.
//!
//! - [`parse_envelope`]: the bytes of an envelope (as stored in the
//!   signature manifest's layer) into an [`Envelope`]: the signed
//!   descriptor, the signed attributes and the certificate chain. Shape
//!   only; input that is not an envelope is an [`EnvelopeError`].
//! - [`NotaryPolicy`]: a notation trust policy (`trustpolicy.json`, version
//!   1.0) with its trust store folder (`x509/{ca,signingAuthority,tsa}/NAME`).
//! - [`verify_envelope`]: the verification levels (`strict`, `permissive`,
//!   `audit`, `skip`) of the policy that applies to a repository, into a
//!   [`NotaryOutcome`]: verified, trusted, signer, issuer, reason.
//!
//! Cryptography is aws-lc-rs; certificates are read by x509-cert, COSE by
//! coset, and RFC 3161 timestamps are checked by sigstore-tsa. What is here
//! is the Notary Project's own rules: headers and critical headers, the
//! signing schemes, the algorithm that the signing key dictates, the
//! certificate requirements, trust stores, identities and levels.

mod certs;
mod cli;
mod cose;
mod envelope;
mod jws;
mod policy;
mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;
mod time;
mod timestamp;
mod verify;

pub use cli::{VerifyNotationArgs, run_verify_notation};
pub use envelope::{
    Envelope, EnvelopeError, EnvelopeFormat, MAX_ENVELOPE_BYTES, SigningScheme, TargetArtifact,
};
pub use policy::{Level, NotaryPolicy, NotaryPolicyError, check_reference};
pub use verify::{NotaryOutcome, verify_envelope};

/// The artifact type of a Notary Project signature manifest (an OCI 1.1
/// referrer of the signed image).
pub const NOTARY_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";

/// The media type of the signed payload.
pub const NOTARY_PAYLOAD_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

/// Parses an envelope; `format` from the layer's media type, else
/// recognised from the bytes.
pub fn parse_envelope(
    bytes: &[u8],
    format: Option<EnvelopeFormat>,
) -> Result<Envelope, EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(EnvelopeError::new(format!(
            "the envelope is {} bytes, more than {MAX_ENVELOPE_BYTES}",
            bytes.len()
        )));
    }
    let format = format
        .or_else(|| EnvelopeFormat::sniff(bytes))
        .ok_or_else(|| {
            EnvelopeError::new("not a Notary Project envelope (neither JWS JSON nor COSE_Sign1)")
        })?;
    let parts = match format {
        EnvelopeFormat::Jws => jws::parse(bytes)?,
        EnvelopeFormat::Cose => cose::parse(bytes)?,
    };
    parts.finish(bytes)
}
