//! The cosign signature layer (legacy `sha256-<hex>.sig` / `.att` storage) as
//! JSON, and its conversion into a Sigstore v0.1 bundle, as `cosign bundle
//! create` does, so that its Rekor entry is verified like any bundle's.
//!
//! ```json
//! {"payload": "<base64 of the exact payload bytes>", "signature": "<base64>",
//!  "certificate": "<PEM>", "chain": "<PEM>",
//!  "bundle": {"SignedEntryTimestamp": "<base64>",
//!             "Payload": {"body": "<base64>", "integratedTime": 0, "logIndex": 0, "logID": "<hex>"}}}
//! ```

use serde::Deserialize;
use serde_json::{Value, json};
use sigstore_verify::types::{Bundle, DerCertificate, DsseEnvelope, PayloadBytes, SignatureBytes};

use provgraph_model::Digest;

use crate::error::{BundleError, EvidenceError};

/// A parsed cosign signature layer.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    /// The exact payload bytes the signature covers.
    pub payload: Vec<u8>,
    /// The signature (empty for attestation layers, whose signature is in
    /// the DSSE envelope).
    pub signature: Vec<u8>,
    /// The signing certificate (keyless), DER.
    pub certificate: Option<DerCertificate>,
    /// The Rekor log entry, if the signature was logged.
    pub rekor: Option<RekorBundle>,
    /// What the payload is.
    pub kind: LayerKind,
}

/// What a layer's payload is.
#[derive(Debug, Clone)]
pub(crate) enum LayerKind {
    /// A simple-signing image signature payload.
    SimpleSigning {
        /// `critical.image.docker-manifest-digest`, canonical.
        digest: String,
        /// `critical.identity.docker-reference`.
        docker_reference: Option<String>,
        /// `optional`, when an object.
        optional: Option<Value>,
    },
    /// A DSSE envelope (cosign attest), signed inside.
    Attestation {
        /// The envelope.
        envelope: DsseEnvelope,
    },
}

/// cosign's Rekor bundle annotation (`dev.sigstore.cosign/bundle`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    pub signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    pub payload: RekorPayload,
}

/// The Rekor entry the SET signs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RekorPayload {
    /// Base64 of the canonicalized entry body.
    pub body: String,
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    /// Hex SHA-256 of the log's public key.
    #[serde(rename = "logID")]
    pub log_id: String,
}

#[derive(Deserialize)]
struct LayerJson {
    payload: String,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    certificate: Option<String>,
    #[serde(default)]
    chain: Option<String>,
    #[serde(default)]
    bundle: Option<Value>,
}

fn decode_base64(what: &str, text: &str) -> Result<Vec<u8>, EvidenceError> {
    // Standard or URL-safe alphabet, padding optional (as protobuf JSON).
    PayloadBytes::from_base64(text.trim())
        .map(PayloadBytes::into_bytes)
        .map_err(|e| EvidenceError::new(format!("layer {what} is not base64: {e}")))
}

impl Layer {
    /// Parses the layer JSON; checks shape only.
    pub(crate) fn parse(value: &Value) -> Result<Self, EvidenceError> {
        let json: LayerJson = serde_json::from_value(value.clone())
            .map_err(|e| EvidenceError::new(format!("invalid cosign signature layer: {e}")))?;
        let payload = decode_base64("payload", &json.payload)?;
        let signature = match json.signature.as_deref() {
            Some(text) => decode_base64("signature", text)?,
            None => Vec::new(),
        };
        let certificate = match json.certificate.as_deref().map(str::trim) {
            Some(pem) if !pem.is_empty() => Some(DerCertificate::from_pem(pem).map_err(|e| {
                EvidenceError::new(format!("layer certificate is not a PEM certificate: {e}"))
            })?),
            _ => None,
        };
        if let Some(pem) = json
            .chain
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            // Only checked for shape: the trusted root supplies the chain.
            DerCertificate::from_pem(pem).map_err(|e| {
                EvidenceError::new(format!("layer chain is not a PEM certificate: {e}"))
            })?;
        }
        let rekor = match json.bundle {
            None | Some(Value::Null) => None,
            Some(bundle) => Some(serde_json::from_value::<RekorBundle>(bundle).map_err(|e| {
                EvidenceError::new(format!("layer bundle is not a Rekor bundle: {e}"))
            })?),
        };
        if let Some(rekor) = &rekor {
            let id_ok = rekor.payload.log_id.len() == 64
                && rekor.payload.log_id.bytes().all(|b| b.is_ascii_hexdigit());
            if !id_ok {
                return Err(EvidenceError::new(
                    "layer bundle logID is not 64 hex digits",
                ));
            }
            if rekor.payload.log_index < 0 || rekor.payload.integrated_time < 0 {
                return Err(EvidenceError::new(
                    "layer bundle has a negative logIndex or integratedTime",
                ));
            }
        }

        let payload_json: Value = serde_json::from_slice(&payload)
            .map_err(|e| EvidenceError::new(format!("layer payload is not JSON: {e}")))?;
        let kind = if payload_json.get("payloadType").is_some() {
            let envelope: DsseEnvelope = serde_json::from_value(payload_json).map_err(|e| {
                EvidenceError::new(format!("layer payload is not a DSSE envelope: {e}"))
            })?;
            LayerKind::Attestation { envelope }
        } else {
            if signature.is_empty() {
                return Err(EvidenceError::new("layer has no signature"));
            }
            simple_signing(&payload_json)?
        };
        Ok(Self {
            payload,
            signature,
            certificate,
            rekor,
            kind,
        })
    }

    /// The layer as a v0.1 Sigstore bundle (`cosign bundle create`): the
    /// certificate (or a public-key hint), the Rekor entry with its SET, and
    /// the message signature over the payload or the DSSE envelope. `None`
    /// when there is no Rekor entry.
    pub(crate) fn to_bundle(&self) -> Result<Option<Bundle>, BundleError> {
        let Some(rekor) = &self.rekor else {
            return Ok(None);
        };
        let body_bytes = PayloadBytes::from_base64(&rekor.payload.body)
            .map_err(BundleError::at("Rekor entry body is not base64"))?;
        let body: Value = serde_json::from_slice(body_bytes.as_bytes())
            .map_err(BundleError::at("Rekor entry body is not JSON"))?;
        let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
        let version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let log_id = hex::decode(&rekor.payload.log_id)
            .map_err(BundleError::at("Rekor logID is not hex"))?;

        let material = match &self.certificate {
            Some(certificate) => json!({
                "x509CertificateChain": {"certificates": [{"rawBytes": SignatureBytes::from_bytes(certificate.as_bytes()).to_base64()}]}
            }),
            None => json!({"publicKey": {"hint": ""}}),
        };
        let mut bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
            "verificationMaterial": material,
        });
        bundle["verificationMaterial"]["tlogEntries"] = json!([{
            "logIndex": rekor.payload.log_index.to_string(),
            "logId": {"keyId": SignatureBytes::new(log_id).to_base64()},
            "kindVersion": {"kind": kind, "version": version},
            "integratedTime": rekor.payload.integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": rekor.signed_entry_timestamp},
            "canonicalizedBody": body_bytes.to_base64(),
        }]);
        match &self.kind {
            LayerKind::SimpleSigning { .. } => {
                bundle["messageSignature"] = json!({
                    "messageDigest": {
                        "algorithm": "SHA2_256",
                        "digest": SignatureBytes::from_bytes(sigstore_verify::crypto::sha256(&self.payload).as_bytes()).to_base64(),
                    },
                    "signature": SignatureBytes::from_bytes(&self.signature).to_base64(),
                });
            }
            LayerKind::Attestation { envelope } => {
                bundle["dsseEnvelope"] = serde_json::to_value(envelope)
                    .map_err(BundleError::at("cannot re-encode DSSE envelope"))?;
            }
        }
        let text = bundle.to_string();
        Bundle::from_json(&text)
            .map(Some)
            .map_err(BundleError::at("cannot convert the layer's Rekor bundle"))
    }
}

fn simple_signing(payload: &Value) -> Result<LayerKind, EvidenceError> {
    let critical = payload
        .get("critical")
        .and_then(Value::as_object)
        .ok_or_else(|| EvidenceError::new("simple-signing payload has no critical section"))?;
    let kind = critical.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(
        kind,
        "cosign container image signature" | "atomic container signature"
    ) {
        return Err(EvidenceError::new(format!(
            "simple-signing payload type {kind:?} is not \"cosign container image signature\""
        )));
    }
    let digest_text = critical
        .get("image")
        .and_then(|image| image.get("docker-manifest-digest"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            EvidenceError::new(
                "simple-signing payload has no critical.image.docker-manifest-digest",
            )
        })?;
    let digest = Digest::parse(digest_text).map(String::from).map_err(|_| {
        EvidenceError::new(format!(
            "simple-signing docker-manifest-digest {digest_text:?} is not sha256:<64 hex>"
        ))
    })?;
    let docker_reference = critical
        .get("identity")
        .and_then(|identity| identity.get("docker-reference"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let optional = payload.get("optional").filter(|o| o.is_object()).cloned();
    Ok(LayerKind::SimpleSigning {
        digest,
        docker_reference,
        optional,
    })
}
