//! Envelopes written as notation writes them, with certificates minted
//! here, verified under trust policies of every level: each failure case
//! refused with its reason.

use super::testing::{Authority, DAY, Signer, Spec, Tsa, add_to_store, trust_policy};
use super::*;

const NOW: i64 = 1_800_000_000;
const DIGEST: &str = "sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333";
const SIZE: u64 = 16724;
const SUBJECT: &[(&str, &str)] = &[
    ("C", "US"),
    ("ST", "WA"),
    ("L", "Seattle"),
    ("O", "Notary"),
    ("CN", "alpine"),
];
const IDENTITY: &str = "x509.subject: CN=alpine, O=Notary, C=US, ST=WA";

struct World {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    ca: Authority,
    tsa: Tsa,
}

fn world() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("truststore");
    let ca = Authority::new(
        &[("C", "US"), ("O", "Notary"), ("CN", "Notary Test CA")],
        NOW - 400 * DAY,
        NOW + 400 * DAY,
    );
    let tsa_root = Authority::new(
        &[("C", "US"), ("O", "TSA"), ("CN", "TSA Root")],
        NOW - 400 * DAY,
        NOW + 400 * DAY,
    );
    let tsa = tsa_root.tsa(
        &[("C", "US"), ("O", "TSA"), ("CN", "TSA")],
        NOW - 300 * DAY,
        NOW + 300 * DAY,
    );
    add_to_store(&root, "ca", "acme", "root.pem", &ca.pem());
    add_to_store(&root, "tsa", "stamps", "tsa-root.crt", &tsa_root.pem());
    World {
        _dir: dir,
        root,
        ca,
        tsa,
    }
}

impl World {
    fn policy(&self, level: &str, stores: &[&str], identities: &[&str]) -> NotaryPolicy {
        let text = trust_policy(&["*"], level, stores, identities);
        NotaryPolicy::from_json(&text, &self.root, "trustpolicy.json").expect("policy")
    }

    fn strict(&self) -> NotaryPolicy {
        self.policy("strict", &["ca:acme"], &[IDENTITY])
    }

    fn signer(&self) -> Signer {
        self.ca.signer(SUBJECT, NOW - 30 * DAY, NOW + 30 * DAY)
    }
}

fn check(envelope: &[u8], policy: &NotaryPolicy) -> NotaryOutcome {
    let envelope = parse_envelope(envelope, None).expect("an envelope");
    verify_envelope(&envelope, Some(DIGEST), Some(SIZE), None, Some(policy), NOW)
}

fn spec() -> Spec {
    Spec::new(DIGEST, SIZE, NOW - DAY)
}

#[test]
fn valid_jws_and_cose_are_verified_and_trusted() {
    let world = world();
    let policy = world.strict();
    let signer = world.signer();
    for (bytes, format) in [
        (signer.jws(&spec(), None), EnvelopeFormat::Jws),
        (signer.cose(&spec(), None), EnvelopeFormat::Cose),
        (
            world
                .ca
                .signer_on(SUBJECT, NOW - DAY * 30, NOW + DAY * 30, true)
                .cose(&spec(), None),
            EnvelopeFormat::Cose,
        ),
    ] {
        assert_eq!(EnvelopeFormat::sniff(&bytes), Some(format));
        let outcome = check(&bytes, &policy);
        assert!(outcome.verified && outcome.trusted, "{outcome:?}");
        assert_eq!(outcome.format, format);
        assert_eq!(
            outcome.signer.as_deref(),
            Some("CN=alpine,O=Notary,L=Seattle,ST=WA,C=US")
        );
        assert_eq!(
            outcome.issuer.as_deref(),
            Some("CN=Notary Test CA,O=Notary,C=US")
        );
        assert_eq!(outcome.trust_store.as_deref(), Some("ca:acme"));
        assert!(
            outcome.reason.starts_with("verified and trusted"),
            "{}",
            outcome.reason
        );
        assert_eq!(outcome.subject, DIGEST);
    }
}

#[test]
fn a_tampered_payload_is_refused() {
    let world = world();
    let bytes = world.signer().jws(&spec(), None);
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&serde_json::json!({"targetArtifact": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": DIGEST,
            "size": SIZE, "annotations": {"evil": "yes"} }}))
        .unwrap(),
    );
    value["payload"] = serde_json::json!(payload);
    let tampered = serde_json::to_vec(&value).unwrap();
    let outcome = check(&tampered, &world.strict());
    assert!(!outcome.verified && !outcome.trusted);
    assert!(outcome.reason.contains("tampered"), "{}", outcome.reason);

    // A COSE signature with one bit flipped.
    let mut cose = world.signer().cose(&spec(), None);
    let last = cose.len() - 1;
    cose[last] ^= 1;
    let outcome = check(&cose, &world.strict());
    assert!(outcome.reason.contains("tampered"), "{}", outcome.reason);
}

#[test]
fn wrong_digest_or_size_is_refused() {
    let world = world();
    let signer = world.signer();
    let other = format!("sha256:{}", "ab".repeat(32));
    let envelope = parse_envelope(&signer.jws(&spec(), None), None).unwrap();
    let outcome = verify_envelope(
        &envelope,
        Some(&other),
        None,
        None,
        Some(&world.strict()),
        NOW,
    );
    assert!(!outcome.verified);
    assert_eq!(outcome.subject, other);
    assert!(
        outcome.reason.contains("wrong digest"),
        "{}",
        outcome.reason
    );

    let envelope = parse_envelope(&signer.cose(&spec(), None), None).unwrap();
    let outcome = verify_envelope(
        &envelope,
        Some(DIGEST),
        Some(SIZE + 1),
        None,
        Some(&world.strict()),
        NOW,
    );
    assert!(!outcome.verified);
    assert!(outcome.reason.contains("wrong size"), "{}", outcome.reason);

    // Without a digest the envelope's own is the subject.
    let outcome = verify_envelope(&envelope, None, None, None, Some(&world.strict()), NOW);
    assert!(outcome.verified && outcome.subject == DIGEST, "{outcome:?}");
}

#[test]
fn an_expired_certificate_is_refused_at_strict_and_reported_at_permissive() {
    let world = world();
    let expired = world.ca.signer(SUBJECT, NOW - 60 * DAY, NOW - 10 * DAY);
    let bytes = expired.jws(&Spec::new(DIGEST, SIZE, NOW - 20 * DAY), None);
    let outcome = check(&bytes, &world.strict());
    assert!(!outcome.verified);
    assert!(outcome.reason.contains("expired"), "{}", outcome.reason);

    let permissive = world.policy("permissive", &["ca:acme"], &[IDENTITY]);
    let outcome = check(&bytes, &permissive);
    assert!(outcome.verified && outcome.trusted, "{outcome:?}");
    assert!(
        outcome.reason.contains("reported, not enforced"),
        "{}",
        outcome.reason
    );
    assert!(outcome.reason.contains("expired"), "{}", outcome.reason);

    // The signer's own expiry.
    let mut with_expiry = spec();
    with_expiry.expiry = Some(NOW - 1);
    let outcome = check(&world.signer().cose(&with_expiry, None), &world.strict());
    assert!(!outcome.verified);
    assert!(
        outcome.reason.contains("signature expired"),
        "{}",
        outcome.reason
    );
}

#[test]
fn a_timestamped_signature_outlives_its_certificate() {
    let world = world();
    let expired = world.ca.signer(SUBJECT, NOW - 60 * DAY, NOW - 10 * DAY);
    let signed = Spec::new(DIGEST, SIZE, NOW - 20 * DAY);
    let policy = world.policy("strict", &["ca:acme", "tsa:stamps"], &[IDENTITY]);
    for bytes in [
        expired.jws(&signed, Some(&world.tsa)),
        expired.cose(&signed, Some(&world.tsa)),
    ] {
        let outcome = check(&bytes, &policy);
        assert!(outcome.verified && outcome.trusted, "{outcome:?}");
        assert_eq!(outcome.signed_at, Some(NOW - 20 * DAY));
        assert_eq!(outcome.timestamp_store.as_deref(), Some("tsa:stamps"));
    }
    // Without the countersignature the verification time counts.
    let outcome = check(&expired.jws(&signed, None), &policy);
    assert!(!outcome.verified);
    assert!(
        outcome.reason.contains("no timestamp"),
        "{}",
        outcome.reason
    );
    // A countersignature the policy's tsa stores do not vouch for.
    let stranger = Authority::new(
        &[("C", "US"), ("O", "Evil"), ("CN", "Evil TSA Root")],
        NOW - 400 * DAY,
        NOW + 400 * DAY,
    )
    .tsa(
        &[("C", "US"), ("O", "Evil"), ("CN", "TSA")],
        NOW - 300 * DAY,
        NOW + 300 * DAY,
    );
    let outcome = check(&expired.jws(&signed, Some(&stranger)), &policy);
    assert!(!outcome.verified);
    assert!(outcome.reason.contains("timestamp"), "{}", outcome.reason);
}

#[test]
fn an_untrusted_root_is_refused_and_audit_only_reports_it() {
    let world = world();
    let other_ca = Authority::new(
        &[("C", "US"), ("O", "Notary"), ("CN", "Notary Test CA")],
        NOW - 400 * DAY,
        NOW + 400 * DAY,
    );
    let bytes = other_ca
        .signer(SUBJECT, NOW - DAY, NOW + DAY)
        .jws(&spec(), None);
    let outcome = check(&bytes, &world.strict());
    assert!(!outcome.verified && !outcome.trusted);
    assert!(
        outcome.reason.contains("untrusted chain"),
        "{}",
        outcome.reason
    );

    let audit = world.policy("audit", &["ca:acme"], &[IDENTITY]);
    let outcome = check(&bytes, &audit);
    assert!(outcome.verified && !outcome.trusted, "{outcome:?}");
    assert!(
        outcome.reason.contains("untrusted chain"),
        "{}",
        outcome.reason
    );
}

#[test]
fn an_identity_not_in_the_policy_is_verified_but_not_trusted() {
    let world = world();
    let policy = world.policy(
        "strict",
        &["ca:acme"],
        &["x509.subject: C=US, ST=WA, O=Notary, CN=builder"],
    );
    let outcome = check(&world.signer().jws(&spec(), None), &policy);
    assert!(outcome.verified && !outcome.trusted, "{outcome:?}");
    assert!(
        outcome.reason.contains("identity not allowed"),
        "{}",
        outcome.reason
    );

    let any = world.policy("strict", &["ca:acme"], &["*"]);
    assert!(check(&world.signer().jws(&spec(), None), &any).trusted);
}

#[test]
fn unknown_critical_headers_are_refused() {
    let world = world();
    let mut spec = spec();
    spec.extra_critical = vec![(
        "io.cncf.notary.verificationPlugin".into(),
        "com.example.plugin".into(),
    )];
    for bytes in [
        world.signer().jws(&spec, None),
        world.signer().cose(&spec, None),
    ] {
        let outcome = check(&bytes, &world.policy("audit", &["ca:acme"], &["*"]));
        assert!(!outcome.verified, "{outcome:?}");
        assert!(
            outcome.reason.contains("unknown critical header"),
            "{}",
            outcome.reason
        );
    }
}

#[test]
fn levels_scopes_and_skip() {
    let world = world();
    let bytes = world.signer().jws(&spec(), None);
    let envelope = parse_envelope(&bytes, None).unwrap();
    let text = serde_json::json!({
        "version": "1.0",
        "trustPolicies": [
            {"name": "calc", "registryScopes": ["registry.acme.io/acme/calc"],
             "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:acme"], "trustedIdentities": [IDENTITY]},
            {"name": "legacy", "registryScopes": ["registry.acme.io/acme/legacy"],
             "signatureVerification": {"level": "skip"}}
        ]
    })
    .to_string();
    let policy = NotaryPolicy::from_json(&text, &world.root, "p.json").unwrap();
    let run = |reference: Option<&str>| {
        verify_envelope(&envelope, Some(DIGEST), None, reference, Some(&policy), NOW)
    };
    assert!(run(Some("registry.acme.io/acme/calc")).trusted);
    let skipped = run(Some("registry.acme.io/acme/legacy"));
    assert!(
        !skipped.verified && skipped.reason.contains("skip"),
        "{skipped:?}"
    );
    for reference in [None, Some("registry.acme.io/acme/other")] {
        let outcome = run(reference);
        assert!(!outcome.verified);
        assert!(
            outcome.reason.contains("no applicable policy"),
            "{}",
            outcome.reason
        );
    }
    let outcome = verify_envelope(&envelope, Some(DIGEST), None, None, None, NOW);
    assert!(outcome.reason.contains("no applicable policy"));
}

#[test]
fn signing_authority_scheme_uses_its_authentic_time() {
    let world = world();
    add_to_store(
        &world.root,
        "signingAuthority",
        "sa",
        "root.pem",
        &world.ca.pem(),
    );
    let policy = world.policy("strict", &["signingAuthority:sa"], &[IDENTITY]);
    let expired = world.ca.signer(SUBJECT, NOW - 60 * DAY, NOW - 10 * DAY);
    let mut spec = Spec::new(DIGEST, SIZE, NOW - 20 * DAY);
    spec.scheme = "notary.x509.signingAuthority".into();
    let outcome = check(&expired.cose(&spec, None), &policy);
    assert!(outcome.verified && outcome.trusted, "{outcome:?}");
    assert_eq!(outcome.signed_at, Some(NOW - 20 * DAY));
    // The CA store does not vouch for a signing authority's signature.
    let outcome = check(&expired.cose(&spec, None), &world.strict());
    assert!(
        !outcome.verified && outcome.reason.contains("untrusted chain"),
        "{outcome:?}"
    );
}

#[test]
fn identities_match_order_free() {
    let identity = policy::parse_identity("x509.subject: O=Notary, C=US, S=WA").unwrap();
    let subject: Vec<(String, String)> = [("C", "US"), ("ST", "WA"), ("O", "Notary"), ("CN", "x")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert!(identity.matches(&subject));
    let other = policy::parse_identity("x509.subject: O=Notary\\, Inc., C=US, ST=WA").unwrap();
    assert!(!other.matches(&subject));
    for bad in [
        "x509.subject: CN=a, O=b",
        "x509.subject: C=US, ST=WA, O=a, O=b",
        "CN=a",
        "x509.subject: C=US, ST=WA, O",
    ] {
        assert!(policy::parse_identity(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_policies_are_refused_with_the_file_named() {
    let world = world();
    for (text, needle) in [
        (
            trust_policy(&["*"], "strict", &["ca:missing"], &["*"]),
            "ca:missing",
        ),
        (trust_policy(&["*"], "skip", &["ca:acme"], &["*"]), "skip"),
        (
            trust_policy(&["*"], "strict", &["ca:acme"], &[]),
            "trustedIdentities",
        ),
        (
            trust_policy(&["*"], "strict", &["tsa:stamps"], &["*"]),
            "no ca",
        ),
        (
            trust_policy(&["*"], "lenient", &["ca:acme"], &["*"]),
            "level",
        ),
        (
            trust_policy(&["r.io/a:tag"], "strict", &["ca:acme"], &["*"]),
            "tag",
        ),
        (
            trust_policy(
                &["*"],
                "strict",
                &["ca:acme"],
                &[
                    "x509.subject: C=US, ST=WA, O=a",
                    "x509.subject: C=US, ST=WA, O=a, CN=b",
                ],
            ),
            "overlap",
        ),
        (
            "{\"version\": \"2.0\", \"trustPolicies\": []}".to_string(),
            "version",
        ),
        (
            "{\"version\": \"1.0\", \"trustPolicies\": [], \"x\": 1}".to_string(),
            "unknown field",
        ),
    ] {
        let err = NotaryPolicy::from_json(&text, &world.root, "trustpolicy.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trustpolicy.json") && err.contains(needle),
            "{needle}: {err}"
        );
    }
}

#[test]
fn what_is_not_an_envelope_is_an_error() {
    let world = world();
    let good = world.signer().jws(&spec(), None);
    let mut value: serde_json::Value = serde_json::from_slice(&good).unwrap();
    value["header"]["x5c"] = serde_json::json!([]);
    let no_chain = serde_json::to_vec(&value).unwrap();
    let mut extra: serde_json::Value = serde_json::from_slice(&good).unwrap();
    extra["signatures"] = serde_json::json!([]);
    let extra = serde_json::to_vec(&extra).unwrap();
    for bytes in [
        &b""[..],
        b"{}",
        b"[1,2]",
        b"\xd2\x84",
        &no_chain,
        &extra,
        b"{\"payload\": 1}",
    ] {
        assert!(
            parse_envelope(bytes, None).is_err(),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    assert!(parse_envelope(&good, Some(EnvelopeFormat::Cose)).is_err());
    assert_eq!(
        EnvelopeFormat::from_media_type("application/jose+json; charset=utf-8"),
        Some(EnvelopeFormat::Jws)
    );
    assert_eq!(
        EnvelopeFormat::from_media_type("Application/COSE"),
        Some(EnvelopeFormat::Cose)
    );
    assert_eq!(EnvelopeFormat::from_media_type("application/json"), None);
}

#[test]
fn a_trust_store_refuses_symlinks_and_reads_der() {
    let world = world();
    let dir = world.root.join("x509/ca/linked");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(
        world.root.join("x509/ca/acme/root.pem"),
        dir.join("root.pem"),
    )
    .unwrap();
    let err = NotaryPolicy::from_json(
        &trust_policy(&["*"], "strict", &["ca:linked"], &["*"]),
        &world.root,
        "p.json",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("symlink"), "{err}");

    let der_dir = world.root.join("x509/ca/der");
    std::fs::create_dir_all(&der_dir).unwrap();
    std::fs::write(der_dir.join("root.cer"), &world.ca.der).unwrap();
    std::fs::write(der_dir.join("notes.txt"), "ignored").unwrap();
    let policy = world.policy("strict", &["ca:der"], &[IDENTITY]);
    assert!(check(&world.signer().jws(&spec(), None), &policy).trusted);
}

/// Writes the fuzz seeds (`fuzz/corpus/notary_{jws,cose}/seed-*`) when
/// `PROVGRAPH_FUZZ_WRITE_SEEDS=1`: valid, timestamped, signing-authority,
/// expiring and unknown-critical envelopes.
#[test]
fn fuzz_seeds() {
    if std::env::var("PROVGRAPH_FUZZ_WRITE_SEEDS").as_deref() != Ok("1") {
        return;
    }
    let world = world();
    let signer = world.signer();
    let mut authority = spec();
    authority.scheme = "notary.x509.signingAuthority".into();
    let mut expiring = spec();
    expiring.expiry = Some(NOW + DAY);
    expiring
        .annotations
        .insert("cicd.pipeline.run.id".into(), "42".into());
    let mut critical = spec();
    critical.extra_critical = vec![("io.cncf.notary.verificationPlugin".into(), "x".into())];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (name, spec, tsa) in [
        ("valid", spec(), None),
        ("timestamped", spec(), Some(&world.tsa)),
        ("signing-authority", authority, None),
        ("expiring-annotated", expiring, None),
        ("unknown-critical", critical, None),
    ] {
        for (target, bytes) in [
            ("notary_jws", signer.jws(&spec, tsa)),
            ("notary_cose", signer.cose(&spec, tsa)),
        ] {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
}
