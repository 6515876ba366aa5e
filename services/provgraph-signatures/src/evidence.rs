//! Evidence import: Sigstore bundles and cosign signature layers, parsed into
//! [`Evidence`] naming the artifact digests (subjects) it speaks about.
//!
//! Parsing checks shape only; [`crate::verify_evidence`] does the cryptography.
//! Malformed input is an [`EvidenceError`] (the HTTP layer answers 400 and
//! stores nothing); well-formed evidence that does not verify is still
//! evidence, kept and reported unverified.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{Bundle, HashAlgorithm, SignatureContent};

use provgraph_model::Digest;

pub use crate::error::EvidenceError;
use crate::layer::{Layer, LayerKind};

/// Most subjects one in-toto statement may name (entries of its `subject`
/// list, counted before they are read): past it the evidence is refused
/// whole, nothing stored (issue #13: one envelope naming 2,000 subjects
/// stored its body 2,000 times). Each subject is one signature row.
pub const MAX_SUBJECTS: usize = 256;

/// The in-toto payload type of DSSE envelopes carrying statements.
pub(crate) const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// What kind of evidence was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceFormat {
    /// A Sigstore bundle (v0.1 to v0.3), holding a message signature or a
    /// DSSE envelope.
    SigstoreBundle,
    /// A cosign image signature layer (simple-signing payload).
    CosignSignatureLayer,
    /// A cosign attestation layer (DSSE envelope payload).
    CosignAttestationLayer,
}

/// Parsed evidence: what it is, which artifacts it speaks about, and the
/// material to verify it with [`crate::verify_evidence`].
#[derive(Debug, Clone)]
pub struct Evidence {
    /// SHA-256 (hex) of the evidence's canonical bytes: the body as RFC 8785
    /// canonical JSON. The same evidence imported twice, however formatted,
    /// has the same id; the `digest` query is not part of it.
    pub evidence_id: String,
    /// What kind of evidence this is.
    pub format: EvidenceFormat,
    /// The bundle's media type (bundles only).
    pub media_type: Option<String>,
    /// The artifacts to report on, as `sha256:<hex>`: those the evidence names
    /// (attestation subjects, the simple-signing image digest), or the
    /// `digest` given for a message signature; plus the given `digest` when
    /// the evidence does not name it (it will then not verify for it).
    pub subjects: Vec<String>,
    /// The in-toto predicate type (attestations only).
    pub predicate_type: Option<String>,
    /// The simple-signing `critical.identity.docker-reference` (informational;
    /// the digest is what binds the signature).
    pub docker_reference: Option<String>,
    /// Annotations per subject, as the signer wrote them: the simple-signing
    /// `optional` object, or an in-toto subject's `annotations` (cosign 3).
    /// Signed data, but only worth anything once verified.
    pub annotations: BTreeMap<String, Value>,
    pub(crate) statement: Option<StatementInfo>,
    pub(crate) material: Material,
}

/// The verification material behind an [`Evidence`].
#[derive(Debug, Clone)]
pub(crate) enum Material {
    Bundle(Box<Bundle>),
    Layer(Box<Layer>),
}

/// What an in-toto statement (v0.1 or v1) says.
#[derive(Debug, Clone)]
pub(crate) struct StatementInfo {
    pub predicate_type: String,
    pub predicate: Value,
    /// `sha256:<hex>` of each subject with a SHA-256 digest, deduplicated.
    pub subjects: Vec<String>,
    /// Subject annotations, keyed by `sha256:<hex>`.
    pub annotations: BTreeMap<String, Value>,
}

impl Evidence {
    /// The in-toto statement's predicate, for attestations. Signed data, but
    /// worth something only once the evidence verified.
    pub fn predicate(&self) -> Option<&Value> {
        self.statement.as_ref().map(|s| &s.predicate)
    }
}

/// Parses evidence posted to `/v1/evidence`: a Sigstore bundle (v0.1 to
/// v0.3) or a cosign signature layer as JSON (`payload`, `signature`, and
/// optional `certificate`, `chain`, `bundle`).
///
/// `digest` (`sha256:<hex>`) names the artifact when the evidence does not
/// (a message-signature bundle); a message signature without it falls back
/// to the bundle's own SHA-256 `messageDigest`.
pub fn parse_evidence(body: &[u8], digest: Option<&str>) -> Result<Vec<Evidence>, EvidenceError> {
    let digest = match digest {
        None => None,
        Some(text) => Some(String::from(Digest::parse(text).map_err(|_| {
            EvidenceError::new(format!("digest {text:?} is not sha256:<64 hex>"))
        })?)),
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| EvidenceError::new(format!("evidence is not valid JSON: {e}")))?;
    let Value::Object(object) = &value else {
        return Err(EvidenceError::new("evidence must be a JSON object"));
    };
    let evidence_id = canonical_id(&value)?;

    let evidence = if object.contains_key("verificationMaterial") {
        parse_bundle(body, object, evidence_id, digest.as_deref())?
    } else if object.contains_key("payload") {
        parse_layer(&value, evidence_id, digest.as_deref())?
    } else {
        return Err(EvidenceError::new(
            "evidence is neither a Sigstore bundle (verificationMaterial) nor a cosign signature layer (payload, signature)",
        ));
    };
    Ok(vec![evidence])
}

fn canonical_id(value: &Value) -> Result<String, EvidenceError> {
    let canonical = serde_json_canonicalizer::to_vec(value)
        .map_err(|e| EvidenceError::new(format!("cannot canonicalize evidence JSON: {e}")))?;
    Ok(sigstore_verify::crypto::sha256(&canonical).to_hex())
}

fn parse_bundle(
    body: &[u8],
    object: &serde_json::Map<String, Value>,
    evidence_id: String,
    digest: Option<&str>,
) -> Result<Evidence, EvidenceError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| EvidenceError::new(format!("bundle is not UTF-8: {e}")))?;
    let bundle = Bundle::from_json(text)
        .map_err(|e| EvidenceError::new(format!("invalid Sigstore bundle: {e}")))?;
    if let VerificationMaterialContent::X509CertificateChain { certificates } =
        &bundle.verification_material.content
        && certificates.is_empty()
    {
        return Err(EvidenceError::new(
            "invalid Sigstore bundle: empty certificate chain",
        ));
    }
    let media_type = object
        .get("mediaType")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| Some(bundle.media_type().as_str().to_string()));

    let (subjects, statement) = match &bundle.content {
        SignatureContent::MessageSignature(signature) => {
            let from_bundle = signature
                .message_digest
                .as_ref()
                .filter(|d| d.algorithm == HashAlgorithm::Sha2256 && d.digest.len() == 32)
                .map(|d| format!("sha256:{}", d.digest.to_hex()));
            let subject = digest.map(str::to_string).or(from_bundle).ok_or_else(|| {
                EvidenceError::new(
                    "a message-signature bundle needs the artifact digest (?digest=sha256:<hex>)",
                )
            })?;
            (vec![subject], None)
        }
        SignatureContent::DsseEnvelope(envelope) => {
            if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
                return Err(EvidenceError::new(format!(
                    "DSSE payload type {:?} is not an in-toto statement",
                    envelope.payload_type
                )));
            }
            let statement = parse_statement(envelope.payload.as_bytes())?;
            (with_digest(&statement.subjects, digest), Some(statement))
        }
        _ => {
            return Err(EvidenceError::new(
                "bundle content is neither a message signature nor a DSSE envelope",
            ));
        }
    };

    Ok(Evidence {
        evidence_id,
        format: EvidenceFormat::SigstoreBundle,
        media_type,
        subjects,
        predicate_type: statement.as_ref().map(|s| s.predicate_type.clone()),
        docker_reference: None,
        annotations: statement
            .as_ref()
            .map(|s| s.annotations.clone())
            .unwrap_or_default(),
        statement,
        material: Material::Bundle(Box::new(bundle)),
    })
}

fn parse_layer(
    value: &Value,
    evidence_id: String,
    digest: Option<&str>,
) -> Result<Evidence, EvidenceError> {
    let layer = Layer::parse(value)?;
    let (format, subjects, statement, docker_reference, annotations) = match &layer.kind {
        LayerKind::SimpleSigning {
            digest: named,
            docker_reference,
            optional,
        } => {
            let mut annotations = BTreeMap::new();
            if let Some(optional) = optional {
                annotations.insert(named.clone(), optional.clone());
            }
            (
                EvidenceFormat::CosignSignatureLayer,
                with_digest(std::slice::from_ref(named), digest),
                None,
                docker_reference.clone(),
                annotations,
            )
        }
        LayerKind::Attestation { envelope } => {
            if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
                return Err(EvidenceError::new(format!(
                    "attestation layer's DSSE payload type {:?} is not an in-toto statement",
                    envelope.payload_type
                )));
            }
            let statement = parse_statement(envelope.payload.as_bytes())?;
            let annotations = statement.annotations.clone();
            (
                EvidenceFormat::CosignAttestationLayer,
                with_digest(&statement.subjects, digest),
                Some(statement),
                None,
                annotations,
            )
        }
    };
    Ok(Evidence {
        evidence_id,
        format,
        media_type: None,
        subjects,
        predicate_type: statement.as_ref().map(|s| s.predicate_type.clone()),
        docker_reference,
        annotations,
        statement,
        material: Material::Layer(Box::new(layer)),
    })
}

/// The named subjects, plus `digest` when it is not among them.
fn with_digest(named: &[String], digest: Option<&str>) -> Vec<String> {
    let mut subjects = named.to_vec();
    if let Some(digest) = digest
        && !subjects.iter().any(|s| s == digest)
    {
        subjects.push(digest.to_string());
    }
    subjects
}

/// Parses an in-toto Statement (v0.1 or v1): its predicate and the SHA-256
/// digests of its subjects.
pub(crate) fn parse_statement(payload: &[u8]) -> Result<StatementInfo, EvidenceError> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| EvidenceError::new(format!("in-toto statement is not valid JSON: {e}")))?;
    let statement_type = value.get("_type").and_then(Value::as_str).unwrap_or("");
    if !matches!(
        statement_type,
        "https://in-toto.io/Statement/v0.1" | "https://in-toto.io/Statement/v1"
    ) {
        return Err(EvidenceError::new(format!(
            "unsupported in-toto statement _type {statement_type:?} (expected Statement v0.1 or v1)"
        )));
    }
    let predicate_type = value
        .get("predicateType")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| EvidenceError::new("in-toto statement has no predicateType"))?
        .to_string();
    let subject_list = value
        .get("subject")
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty())
        .ok_or_else(|| EvidenceError::new("in-toto statement has no subjects"))?;
    if subject_list.len() > MAX_SUBJECTS {
        return Err(EvidenceError::too_large(format!(
            "in-toto statement names {} subjects; at most {MAX_SUBJECTS} are accepted, nothing stored",
            subject_list.len()
        )));
    }

    let mut subjects = Vec::new();
    // Seen digests, so that de-duplication stays linear in the subjects.
    let mut seen = std::collections::HashSet::new();
    let mut annotations = BTreeMap::new();
    for (index, subject) in subject_list.iter().enumerate() {
        let digests = subject
            .get("digest")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                EvidenceError::new(format!("in-toto subject {index} has no digest map"))
            })?;
        let Some(sha256) = digests.get("sha256") else {
            continue;
        };
        let digest: String = sha256
            .as_str()
            .and_then(Digest::from_hex)
            .ok_or_else(|| {
                EvidenceError::new(format!(
                    "in-toto subject {index} has a malformed sha256 digest"
                ))
            })?
            .into();
        if let Some(found) = subject.get("annotations").filter(|a| a.is_object()) {
            annotations
                .entry(digest.clone())
                .or_insert_with(|| found.clone());
        }
        if seen.insert(digest.clone()) {
            subjects.push(digest);
        }
    }
    if subjects.is_empty() {
        return Err(EvidenceError::new(
            "in-toto statement names no subject by sha256 digest",
        ));
    }
    Ok(StatementInfo {
        predicate_type,
        predicate: value.get("predicate").cloned().unwrap_or(Value::Null),
        subjects,
        annotations,
    })
}
