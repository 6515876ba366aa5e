//! Verifying [`Evidence`] against a [`TrustPolicy`]: one
//! [`VerificationResult`] per subject, saying whether the signature is
//! cryptographically valid for it (`verified`) and allowed by the policy
//! (`trusted`), and what the signing certificate and any SLSA provenance say.

use serde::Serialize;
use serde_json::Value;
use sigstore_verify::crypto::{CertificateInfo, parse_certificate_info};
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{Artifact, Bundle, Sha256Hash, SignatureContent};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy};

use crate::evidence::{Evidence, Material, StatementInfo};
use crate::keys;
use crate::layer::{Layer, LayerKind};
use crate::policy::TrustPolicy;
use crate::slsa::{self, SlsaSummary};
use provgraph_model::{Digest, one_line};

/// How the signature was made and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureMethod {
    /// Keyless: a Fulcio certificate, validated at the time its log entry or
    /// timestamp vouches for.
    KeylessCertificate,
    /// A public key, with a transparency-log entry (or timestamp).
    PublicKey,
    /// A public key, with no log entry and no timestamp (`cosign sign --key
    /// --tlog-upload=false`): checked directly against the policy keys.
    PublicKeyNoLog,
    /// A Notary Project signature, scheme `notary.x509`: an X.509 chain to
    /// a CA in the notation trust store.
    NotaryX509,
    /// A Notary Project signature, scheme `notary.x509.signingAuthority`.
    NotarySigningAuthority,
}

/// The claims of a verified Fulcio certificate (extensions under
/// 1.3.6.1.4.1.57264.1); absent claims are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CertificateClaims {
    /// The SAN identity (email or URI).
    pub subject: Option<String>,
    /// OIDC issuer, .8 (or the deprecated .1).
    pub issuer: Option<String>,
    /// .9 build signer URI (the workflow that signed, with its ref).
    pub build_signer_uri: Option<String>,
    /// .12 source repository URI. For old GitHub certificates that only carry
    /// the deprecated .5 (`owner/repo`), `https://github.com/owner/repo`.
    pub source_repository_uri: Option<String>,
    /// .13 source repository digest: the commit (else the deprecated .3).
    pub source_repository_digest: Option<String>,
    /// .14 source repository ref (else the deprecated .6).
    pub source_repository_ref: Option<String>,
    /// .18 build config URI.
    pub build_config_uri: Option<String>,
    /// .19 build config digest.
    pub build_config_digest: Option<String>,
    /// .20 build trigger (`push`, `release`, ...).
    pub build_trigger: Option<String>,
    /// .21 run invocation URI (the CI run).
    pub run_invocation_uri: Option<String>,
    /// .11 runner environment (`github-hosted`, `self-hosted`).
    pub runner_environment: Option<String>,
}

impl CertificateClaims {
    fn from_info(info: &CertificateInfo) -> Self {
        let claims = &info.ci_claims;
        let legacy = &claims.deprecated_github;
        let issuer = info.issuer.clone();
        let legacy_repository = legacy
            .workflow_repository
            .as_ref()
            .filter(|_| issuer.as_deref() == Some(GITHUB_ACTIONS_ISSUER))
            .map(|repository| format!("https://github.com/{repository}"));
        Self {
            subject: info.identity.as_ref().map(ToString::to_string),
            issuer,
            build_signer_uri: claims.build_signer_uri.clone(),
            source_repository_uri: claims.source_repository_uri.clone().or(legacy_repository),
            source_repository_digest: claims
                .source_repository_digest
                .clone()
                .or_else(|| legacy.workflow_sha.clone()),
            source_repository_ref: claims
                .source_repository_ref
                .clone()
                .or_else(|| legacy.workflow_ref.clone()),
            build_config_uri: claims.build_config_uri.clone(),
            build_config_digest: claims.build_config_digest.clone(),
            build_trigger: claims.build_trigger.clone(),
            run_invocation_uri: claims.run_invocation_uri.clone(),
            runner_environment: claims.runner_environment.clone(),
        }
    }
}

const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The outcome for one subject of one piece of evidence.
///
/// `signer`, `issuer` and `log_index` say what the evidence claims even when
/// it does not verify (auditors want to see who a forgery pretended to be);
/// `integrated_time`, `signed_at`, `certificate`, `slsa` and `annotations` are
/// set only when `verified`, since only then is anything vouching for them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerificationResult {
    /// The evidence this came from ([`Evidence::evidence_id`]).
    pub evidence_id: String,
    /// The artifact, `sha256:<hex>`.
    pub subject: String,
    /// The signature is cryptographically valid for this subject, with its
    /// log entry or timestamp where present; a certificate is validated at
    /// the time those vouch for, never now.
    pub verified: bool,
    /// Verified, and the signer is allowed by the trust policy (a policy key,
    /// or a policy identity: issuer exact, subject exact or anchored regex).
    pub trusted: bool,
    /// The certificate's SAN, or the policy name of the key that verified it.
    pub signer: Option<String>,
    /// The certificate's OIDC issuer.
    pub issuer: Option<String>,
    /// Why it is not verified or not trusted, or what verified it.
    pub reason: String,
    /// How it was signed and checked.
    pub method: SignatureMethod,
    /// The transparency-log index of its entry.
    pub log_index: Option<i64>,
    /// When the log says it integrated the entry (Rekor v1), seconds since
    /// the epoch.
    pub integrated_time: Option<i64>,
    /// The earliest authenticated signing time (log or RFC 3161 timestamp),
    /// seconds since the epoch.
    pub signed_at: Option<i64>,
    /// What the verified Fulcio certificate says about the build.
    pub certificate: Option<CertificateClaims>,
    /// The in-toto predicate type (attestations).
    pub predicate_type: Option<String>,
    /// SLSA provenance (v0.2, v1) summary, from a verified attestation.
    pub slsa: Option<SlsaSummary>,
    /// Signed annotations for this subject (simple-signing `optional`, or
    /// in-toto subject annotations).
    pub annotations: Option<Value>,
}

/// Verifies `evidence` against `policy`: one result per subject, in the
/// order of [`Evidence::subjects`]. Never fails: what does not verify is
/// reported with `verified: false` and a reason.
pub fn verify_evidence(evidence: &Evidence, policy: &TrustPolicy) -> Vec<VerificationResult> {
    // An attestation's signature is the same for every subject its statement
    // names: check it once, then report it per subject.
    // A set, so that checking every subject stays linear in the subjects.
    let named: Option<std::collections::HashSet<&str>> = evidence
        .statement
        .as_ref()
        .map(|s| s.subjects.iter().map(String::as_str).collect());
    let mut shared: Option<VerificationResult> = None;
    evidence
        .subjects
        .iter()
        .map(|subject| {
            let is_named = named
                .as_ref()
                .is_some_and(|named| named.contains(subject.as_str()));
            let result = match (&shared, is_named) {
                (Some(result), true) => result.clone(),
                _ => {
                    let result = verify_subject(evidence, subject, policy);
                    if is_named {
                        shared = Some(result.clone());
                    }
                    result
                }
            };
            finish(result, evidence, subject)
        })
        .collect()
}

fn verify_subject(evidence: &Evidence, subject: &str, policy: &TrustPolicy) -> VerificationResult {
    match &evidence.material {
        Material::Bundle(bundle) => verify_bundle(bundle, evidence, subject, policy),
        Material::Layer(layer) => verify_layer(layer, evidence, subject, policy),
    }
}

/// Fills in what every result carries, and drops what only a verified
/// signature vouches for.
fn finish(
    mut result: VerificationResult,
    evidence: &Evidence,
    subject: &str,
) -> VerificationResult {
    result.evidence_id = evidence.evidence_id.clone();
    result.subject = subject.to_string();
    result.predicate_type = evidence.predicate_type.clone();
    result.reason = one_line(&result.reason);
    if result.verified {
        result.slsa = evidence
            .statement
            .as_ref()
            .and_then(|s| slsa::summarize(&s.predicate_type, &s.predicate));
        result.annotations = evidence.annotations.get(subject).cloned();
    } else {
        result.trusted = false;
        result.certificate = None;
        result.integrated_time = None;
        result.signed_at = None;
        result.slsa = None;
        result.annotations = None;
    }
    result
}

fn blank(method: SignatureMethod) -> VerificationResult {
    VerificationResult {
        evidence_id: String::new(),
        subject: String::new(),
        verified: false,
        trusted: false,
        signer: None,
        issuer: None,
        reason: String::new(),
        method,
        log_index: None,
        integrated_time: None,
        signed_at: None,
        certificate: None,
        predicate_type: None,
        slsa: None,
        annotations: None,
    }
}

fn first_log_index(bundle: &Bundle) -> Option<i64> {
    bundle
        .verification_material
        .tlog_entries
        .first()
        .map(|entry| entry.log_index.as_i64())
}

/// What verifies the signature for a subject: its digest, or (for a
/// legacy simple-signing layer) the payload bytes themselves.
enum Target<'a> {
    Digest(Sha256Hash),
    Blob(&'a [u8]),
}

impl Target<'_> {
    fn artifact(&self) -> Artifact<'_> {
        match self {
            Self::Digest(hash) => Artifact::from(hash),
            Self::Blob(bytes) => Artifact::from_blob(bytes),
        }
    }
}

/// A subject that is not a `sha256:` digest (a verification result's
/// reason).
#[derive(Debug, thiserror::Error)]
#[error("subject {0} is not a sha256 digest")]
struct NotADigest(String);

/// The hash a subject names.
fn subject_hash(subject: &str) -> Result<Sha256Hash, NotADigest> {
    Digest::parse(subject)
        .map(|digest| Sha256Hash::new(digest.bytes()))
        .map_err(|_| NotADigest(subject.to_string()))
}

fn verify_bundle(
    bundle: &Bundle,
    evidence: &Evidence,
    subject: &str,
    policy: &TrustPolicy,
) -> VerificationResult {
    let target = match subject_hash(subject) {
        Ok(hash) => Target::Digest(hash),
        Err(reason) => {
            let mut result = blank(method_of(bundle));
            result.reason = reason.to_string();
            return result;
        }
    };
    verify_sigstore_bundle(
        bundle,
        &target,
        evidence.statement.as_ref(),
        subject,
        policy,
    )
}

fn method_of(bundle: &Bundle) -> SignatureMethod {
    let material = &bundle.verification_material;
    match material.content {
        VerificationMaterialContent::PublicKey(_) => {
            if material.tlog_entries.is_empty()
                && material
                    .timestamp_verification_data
                    .rfc3161_timestamps
                    .is_empty()
            {
                SignatureMethod::PublicKeyNoLog
            } else {
                SignatureMethod::PublicKey
            }
        }
        _ => SignatureMethod::KeylessCertificate,
    }
}

/// Verifies a Sigstore bundle (native, or converted from a cosign layer).
fn verify_sigstore_bundle(
    bundle: &Bundle,
    target: &Target<'_>,
    statement: Option<&StatementInfo>,
    subject: &str,
    policy: &TrustPolicy,
) -> VerificationResult {
    let method = method_of(bundle);
    let mut result = blank(method);
    result.log_index = first_log_index(bundle);
    let verifier = match policy.verifier() {
        Ok(verifier) => verifier,
        Err(problem) => {
            result.reason = problem.to_string();
            return result;
        }
    };

    match method {
        SignatureMethod::KeylessCertificate => {
            if let Some(info) = bundle
                .signing_certificate()
                .and_then(|cert| parse_certificate_info(cert).ok())
            {
                result.signer = info.identity.as_ref().map(ToString::to_string);
                result.issuer = info.issuer.clone();
            }
            match verifier.verify(target.artifact(), bundle, &keyless_policy(bundle)) {
                Ok(outcome) => {
                    result.verified = true;
                    record_times(&mut result, &outcome);
                    if let Some(info) = outcome.certificate() {
                        result.certificate = Some(CertificateClaims::from_info(info));
                    }
                    result.signer = outcome.identity().map(ToString::to_string);
                    result.issuer = outcome.issuer().map(str::to_string);
                    judge_identity(&mut result, policy);
                }
                Err(e) => result.reason = format!("not verified: {e}"),
            }
        }
        SignatureMethod::PublicKey => {
            let mut failures = Vec::new();
            for key in policy.keys() {
                let mut key_policy = PublicKeyVerificationPolicy::new(key.public_key.clone());
                if timestamped_only(bundle) {
                    key_policy = key_policy.skip_tlog_unsafe();
                }
                match verifier.verify(target.artifact(), bundle, &key_policy) {
                    Ok(outcome) => {
                        result.verified = true;
                        result.trusted = true;
                        result.signer = Some(key.name.clone());
                        record_times(&mut result, &outcome);
                        result.reason = format!(
                            "verified with trust-policy key {:?}{}",
                            key.name,
                            logged_note(&result)
                        );
                        return result;
                    }
                    Err(e) => failures.push(format!("{}: {e}", key.name)),
                }
            }
            result.reason = no_key_reason(policy, &failures);
        }
        SignatureMethod::PublicKeyNoLog => {
            let checked = check_unlogged_bundle(bundle, subject, statement);
            match checked {
                Err(reason) => result.reason = reason,
                Ok(check) => key_loop(&mut result, policy, check),
            }
        }
        SignatureMethod::NotaryX509 | SignatureMethod::NotarySigningAuthority => {
            result.reason = "a Notary Project envelope is not a Sigstore bundle".into();
        }
    }
    result
}

/// A bundle with RFC 3161 timestamps and no log entry (a private instance
/// without a transparency log): it is verified with its timestamps, which
/// `sigstore-verify` still checks, and without log inclusion.
fn timestamped_only(bundle: &Bundle) -> bool {
    let material = &bundle.verification_material;
    material.tlog_entries.is_empty()
        && !material
            .timestamp_verification_data
            .rfc3161_timestamps
            .is_empty()
}

/// Any identity (the trust policy judges it afterwards), chain and SCT
/// checked; log inclusion required unless the bundle is timestamped only.
fn keyless_policy(bundle: &Bundle) -> VerificationPolicy {
    let policy = VerificationPolicy::any_identity();
    if timestamped_only(bundle) {
        policy.skip_tlog_unsafe()
    } else {
        policy
    }
}

fn record_times(result: &mut VerificationResult, outcome: &sigstore_verify::VerificationResult) {
    result.integrated_time = outcome.integrated_time().map(|t| t.as_second());
    result.signed_at = outcome
        .verified_timestamps()
        .iter()
        .chain(outcome.integrated_time().as_ref())
        .map(|t| t.as_second())
        .min();
}

fn logged_note(result: &VerificationResult) -> String {
    match (result.log_index, result.signed_at) {
        (Some(index), Some(time)) => format!(", logged at index {index}, signed at {time}"),
        (Some(index), None) => format!(", logged at index {index}"),
        (None, Some(time)) => format!(", timestamped at {time}"),
        (None, None) => String::new(),
    }
}

fn judge_identity(result: &mut VerificationResult, policy: &TrustPolicy) {
    let signer = result.signer.clone().unwrap_or_default();
    let issuer = result.issuer.clone().unwrap_or_default();
    let note = logged_note(result);
    match policy.allowed_identity(&issuer, &signer) {
        Some(rule) => {
            result.trusted = true;
            result.reason = format!(
                "verified keyless signature by {signer} (issuer {issuer}){note}; allowed by trust-policy identity with {}",
                rule.subject
            );
        }
        None => {
            result.trusted = false;
            result.reason = format!(
                "verified keyless signature by {signer} (issuer {issuer}){note}, but the trust policy does not allow this signer"
            );
        }
    }
}

fn no_key_reason(policy: &TrustPolicy, failures: &[String]) -> String {
    if policy.keys().is_empty() {
        "signed with a public key, and the trust policy has no keys to verify it with".to_string()
    } else {
        format!(
            "no trust-policy key verifies this signature ({})",
            failures.join("; ")
        )
    }
}

/// What to check with each key for a signature with no log entry.
enum KeyCheck<'a> {
    /// A signature over these exact bytes.
    Message {
        message: Vec<u8>,
        signature: &'a [u8],
    },
    /// A signature over a message known only by its SHA-256 digest.
    Digest {
        digest: [u8; 32],
        signature: &'a [u8],
    },
}

/// Tries each policy key; the first that verifies makes it verified and
/// trusted.
fn key_loop(result: &mut VerificationResult, policy: &TrustPolicy, check: KeyCheck<'_>) {
    let mut failures = Vec::new();
    for key in policy.keys() {
        let outcome = match &check {
            KeyCheck::Message { message, signature } => {
                keys::verify_message(&key.public_key, message, signature)
            }
            KeyCheck::Digest { digest, signature } => {
                keys::verify_sha256_digest(&key.public_key, digest, signature)
            }
        };
        match outcome {
            Ok(()) => {
                result.verified = true;
                result.trusted = true;
                result.signer = Some(key.name.clone());
                result.reason = format!(
                    "verified with trust-policy key {:?}; no transparency-log entry or timestamp",
                    key.name
                );
                return;
            }
            Err(e) => failures.push(format!("{}: {e}", key.name)),
        }
    }
    result.reason = no_key_reason(policy, &failures);
}

/// For a public-key bundle with no log entry and no timestamp: bind the
/// subject, then say what each key must verify.
fn check_unlogged_bundle<'a>(
    bundle: &'a Bundle,
    subject: &str,
    statement: Option<&StatementInfo>,
) -> Result<KeyCheck<'a>, String> {
    match &bundle.content {
        SignatureContent::MessageSignature(signature) => {
            let digest = Digest::parse(subject)
                .map_err(|_| "subject is not a sha256 digest")?
                .bytes();
            if let Some(declared) = &signature.message_digest
                && declared.digest.as_bytes() != digest.as_slice()
            {
                return Err("the bundle's message digest does not match this subject".into());
            }
            Ok(KeyCheck::Digest {
                digest,
                signature: signature.signature.as_bytes(),
            })
        }
        SignatureContent::DsseEnvelope(envelope) => {
            if !statement.is_some_and(|s| s.subjects.iter().any(|s| s == subject)) {
                return Err(format!("the attestation does not name {subject}"));
            }
            Ok(KeyCheck::Message {
                message: envelope.pae(),
                signature: envelope.signature.sig.as_bytes(),
            })
        }
        _ => Err("unsupported bundle content".into()),
    }
}

fn verify_layer(
    layer: &Layer,
    evidence: &Evidence,
    subject: &str,
    policy: &TrustPolicy,
) -> VerificationResult {
    let method = match (&layer.certificate, &layer.rekor) {
        (Some(_), _) => SignatureMethod::KeylessCertificate,
        (None, Some(_)) => SignatureMethod::PublicKey,
        (None, None) => SignatureMethod::PublicKeyNoLog,
    };
    let mut result = blank(method);
    result.log_index = layer.rekor.as_ref().map(|r| r.payload.log_index);
    if let Some(info) = layer
        .certificate
        .as_ref()
        .and_then(|cert| parse_certificate_info(cert).ok())
    {
        result.signer = info.identity.as_ref().map(ToString::to_string);
        result.issuer = info.issuer.clone();
    }

    // Bind the subject first: the payload must name it.
    let target = match &layer.kind {
        LayerKind::SimpleSigning { digest, .. } => {
            if digest != subject {
                result.reason = format!("the signed payload names {digest}, not {subject}");
                return result;
            }
            Target::Blob(&layer.payload)
        }
        LayerKind::Attestation { .. } => {
            if !evidence
                .statement
                .as_ref()
                .is_some_and(|s| s.subjects.iter().any(|s| s == subject))
            {
                result.reason = format!("the attestation does not name {subject}");
                return result;
            }
            match subject_hash(subject) {
                Ok(hash) => Target::Digest(hash),
                Err(reason) => {
                    result.reason = reason.to_string();
                    return result;
                }
            }
        }
    };

    match layer.to_bundle() {
        Err(reason) => {
            result.reason = format!("not verified: {reason}");
            result
        }
        Ok(Some(bundle)) => verify_sigstore_bundle(
            &bundle,
            &target,
            evidence.statement.as_ref(),
            subject,
            policy,
        ),
        Ok(None) if method == SignatureMethod::KeylessCertificate => {
            result.reason = "not verified: a keyless signature without a Rekor bundle has no log entry or timestamp to validate its short-lived certificate at".into();
            result
        }
        Ok(None) => {
            let check = match &layer.kind {
                LayerKind::SimpleSigning { .. } => KeyCheck::Message {
                    message: layer.payload.clone(),
                    signature: &layer.signature,
                },
                LayerKind::Attestation { envelope } => KeyCheck::Message {
                    message: envelope.pae(),
                    signature: envelope.signature.sig.as_bytes(),
                },
            };
            key_loop(&mut result, policy, check);
            result
        }
    }
}
