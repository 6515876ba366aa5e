//! The `notary_jws` and `notary_cose` targets: Notary Project envelopes as
//! `POST /v1/evidence` reads them (`application/jose+json`,
//! `application/cose`), then verified under an audit-level notation trust
//! policy (`fixtures/notary`). What parses names a well-formed digest, has
//! an evidence id and a bounded chain; verification answers for the digest
//! asked about, in one line, and nothing unverified is trusted.

use std::sync::OnceLock;

use provgraph_signatures::notary::{EnvelopeFormat, NotaryPolicy, parse_envelope, verify_envelope};

/// The digest the targets ask about.
const DIGEST: &str = "sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333";

fn policy() -> &'static NotaryPolicy {
    static POLICY: OnceLock<NotaryPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let dir = crate::fixtures_dir().join("notary");
        NotaryPolicy::from_files(&dir.join("trustpolicy.json"), &dir.join("truststore"))
            .expect("the fuzz notation policy loads")
    })
}

fn envelope(data: &[u8], format: EnvelopeFormat) {
    let Ok(envelope) = parse_envelope(data, Some(format)) else {
        return;
    };
    assert_eq!(envelope.format, format);
    assert_eq!(envelope.evidence_id.len(), 64);
    let target = &envelope.target;
    let (algorithm, hex) = target.digest.split_once(':').expect("ALGORITHM:HEX");
    assert!(matches!(algorithm, "sha256" | "sha384" | "sha512"));
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    for digest in [Some(DIGEST), None] {
        let outcome = verify_envelope(
            &envelope,
            digest,
            Some(1),
            Some("r.example/a"),
            Some(policy()),
            0,
        );
        assert_eq!(outcome.subject, digest.unwrap_or(&target.digest));
        assert!(!outcome.reason.is_empty() && !outcome.reason.contains('\n'));
        assert!(
            outcome.verified || !outcome.trusted,
            "trusted without verifying"
        );
        assert!(outcome.verified || outcome.signed_at.is_none());
    }
}

/// A JWS JSON envelope.
pub fn notary_jws(data: &[u8]) {
    envelope(data, EnvelopeFormat::Jws);
}

/// A COSE_Sign1 envelope.
pub fn notary_cose(data: &[u8]) {
    envelope(data, EnvelopeFormat::Cose);
}
