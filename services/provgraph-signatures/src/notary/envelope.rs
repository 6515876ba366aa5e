//! What a Notary Project envelope says, whatever its format: the signed
//! descriptor, the signed attributes, the certificate chain and the bytes
//! the signature covers; the JWS and COSE readers fill in [`Parts`],
//! checked here alike.

use std::collections::BTreeMap;

use serde::Serialize;

use super::NOTARY_PAYLOAD_TYPE;

/// The largest envelope read, in bytes (notation's own limit for a
/// signature blob is 4 MiB; chains and timestamps are small).
pub const MAX_ENVELOPE_BYTES: usize = 4 * 1024 * 1024;

/// At most this many certificates in a chain (leaf, intermediates, root).
pub(crate) const MAX_CHAIN: usize = 10;

/// Input that is not a Notary Project envelope; one line saying why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EnvelopeError(String);

impl EnvelopeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(provgraph_model::one_line(&message.into()))
    }
}

/// The envelope format, named by the signature layer's media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EnvelopeFormat {
    /// JWS JSON serialization, flattened (`application/jose+json`).
    Jws,
    /// COSE_Sign1 (`application/cose`).
    Cose,
}

impl EnvelopeFormat {
    /// The format a media type names (parameters and letter case ignored).
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        let essence = media_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/jose+json") {
            Some(Self::Jws)
        } else if essence.eq_ignore_ascii_case("application/cose") {
            Some(Self::Cose)
        } else {
            None
        }
    }

    /// The format recognised from the bytes: a JSON object is JWS, a CBOR
    /// tag 18 or a four-element array is COSE_Sign1.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Some(Self::Jws),
            _ => match bytes.first() {
                // Tag 18 (0xd2), or an untagged array of four (0x84).
                Some(0xd2) | Some(0x84) => Some(Self::Cose),
                _ => None,
            },
        }
    }

    /// The layer media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jws => "application/jose+json",
            Self::Cose => "application/cose",
        }
    }

    /// The name the graph gives it (`Signature.format`).
    pub fn graph_name(self) -> &'static str {
        match self {
            Self::Jws => "NOTARY_JWS",
            Self::Cose => "NOTARY_COSE",
        }
    }
}

/// The Notary Project signing scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SigningScheme {
    /// `notary.x509`: a CA's certificate; the signing time is the signer's
    /// word unless an RFC 3161 countersignature vouches for it.
    X509,
    /// `notary.x509.signingAuthority`: a signing authority's certificate,
    /// with an authentic signing time in the signed attributes.
    SigningAuthority,
}

impl SigningScheme {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "notary.x509" => Some(Self::X509),
            "notary.x509.signingAuthority" => Some(Self::SigningAuthority),
            _ => None,
        }
    }

    /// As the envelope writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X509 => "notary.x509",
            Self::SigningAuthority => "notary.x509.signingAuthority",
        }
    }
}

/// The signature algorithms the specification allows, each dictated by the
/// signing certificate's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
}

impl Alg {
    pub(crate) fn from_jws(name: &str) -> Option<Self> {
        Some(match name {
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            _ => return None,
        })
    }

    pub(crate) fn from_cose(label: i64) -> Option<Self> {
        Some(match label {
            -37 => Self::Ps256,
            -38 => Self::Ps384,
            -39 => Self::Ps512,
            -7 => Self::Es256,
            -35 => Self::Es384,
            -36 => Self::Es512,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        }
    }
}

/// The signed descriptor (`targetArtifact`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetArtifact {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `ALGORITHM:HEX` as signed (lower-cased).
    pub digest: String,
    pub size: u64,
    /// The descriptor's annotations (signed; worth something once verified).
    pub annotations: BTreeMap<String, String>,
}

/// A parsed envelope. Integrity is not checked yet: that is
/// [`super::verify_envelope`]'s work.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Hex SHA-256 of the envelope's bytes: its evidence id.
    pub evidence_id: String,
    pub format: EnvelopeFormat,
    pub target: TargetArtifact,
    pub signing_scheme: SigningScheme,
    /// `io.cncf.notary.signingTime` (seconds since the epoch): the signer's
    /// own clock.
    pub signing_time: Option<i64>,
    /// `io.cncf.notary.authenticSigningTime` (signing authority scheme).
    pub authentic_signing_time: Option<i64>,
    /// `io.cncf.notary.expiry`: "best by use" time.
    pub expiry: Option<i64>,
    /// `io.cncf.notary.signingAgent` (unsigned, informational).
    pub signing_agent: Option<String>,
    /// What makes the envelope's signed attributes unacceptable however its
    /// signature checks out: unknown critical headers, required critical
    /// headers not listed as critical, attributes the scheme does not allow.
    pub header_problems: Vec<String>,
    pub(crate) alg: Alg,
    /// The bytes the signature covers (JWS signing input, COSE
    /// Sig_structure).
    pub(crate) signed_bytes: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    /// DER certificates, leaf first.
    pub(crate) chain: Vec<Vec<u8>>,
    /// The RFC 3161 TimeStampToken over the signature, if any.
    pub(crate) timestamp: Option<Vec<u8>>,
}

/// Headers defined by the specification that a verifier understands.
pub(crate) const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub(crate) const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub(crate) const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
pub(crate) const EXPIRY: &str = "io.cncf.notary.expiry";
pub(crate) const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";
pub(crate) const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";

/// The signed attributes, read from either format, before the checks they
/// share.
pub(crate) struct Attributes {
    pub signing_scheme: Option<String>,
    pub signing_time: Option<i64>,
    pub authentic_signing_time: Option<i64>,
    pub expiry: Option<i64>,
    /// Every critical header, by name (COSE integer labels as numbers).
    pub crit: Vec<String>,
    /// Whether the envelope has a `crit` header at all.
    pub has_crit: bool,
    pub content_type: Option<String>,
}

/// Checks the rules both formats share and builds the envelope.
pub(crate) struct Parts {
    pub format: EnvelopeFormat,
    pub alg: Alg,
    pub attributes: Attributes,
    pub payload: Vec<u8>,
    pub signed_bytes: Vec<u8>,
    pub signature: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
    pub timestamp: Option<Vec<u8>>,
    pub signing_agent: Option<String>,
}

impl Parts {
    pub(crate) fn finish(self, bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let attributes = self.attributes;
        match attributes.content_type.as_deref() {
            Some(NOTARY_PAYLOAD_TYPE) => {}
            Some(other) => {
                return Err(EnvelopeError::new(format!(
                    "content type {other:?} is not {NOTARY_PAYLOAD_TYPE}"
                )));
            }
            None => {
                return Err(EnvelopeError::new(
                    "the protected header has no content type (cty)",
                ));
            }
        }
        let scheme_text = attributes
            .signing_scheme
            .as_deref()
            .ok_or_else(|| EnvelopeError::new(format!("no {SIGNING_SCHEME} header")))?;
        let signing_scheme = SigningScheme::parse(scheme_text)
            .ok_or_else(|| EnvelopeError::new(format!("unknown signing scheme {scheme_text:?}")))?;
        if self.chain.is_empty() {
            return Err(EnvelopeError::new(
                "the envelope carries no certificate chain",
            ));
        }
        if self.chain.len() > MAX_CHAIN {
            return Err(EnvelopeError::new(format!(
                "the certificate chain has {} certificates, more than {MAX_CHAIN}",
                self.chain.len()
            )));
        }
        let target = parse_payload(&self.payload)?;

        let mut problems = Vec::new();
        if !attributes.has_crit {
            problems.push("the protected header has no crit list".to_string());
        }
        let understood = [SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME, EXPIRY];
        for name in &attributes.crit {
            if !understood.contains(&name.as_str()) {
                problems.push(format!("unknown critical header {name}"));
            }
        }
        let mut must_be_critical = vec![SIGNING_SCHEME];
        if attributes.expiry.is_some() {
            must_be_critical.push(EXPIRY);
        }
        if attributes.authentic_signing_time.is_some() {
            must_be_critical.push(AUTHENTIC_SIGNING_TIME);
        }
        for name in must_be_critical {
            if !attributes.crit.iter().any(|c| c == name) {
                problems.push(format!("{name} is not listed as critical"));
            }
        }
        for name in &attributes.crit {
            let present = match name.as_str() {
                EXPIRY => attributes.expiry.is_some(),
                AUTHENTIC_SIGNING_TIME => attributes.authentic_signing_time.is_some(),
                _ => true,
            };
            if !present {
                problems.push(format!("critical header {name} is absent"));
            }
        }
        match signing_scheme {
            SigningScheme::X509 => {
                if attributes.signing_time.is_none() {
                    problems.push(format!("notary.x509 requires {SIGNING_TIME}"));
                }
                if attributes.authentic_signing_time.is_some() {
                    problems.push(format!(
                        "notary.x509 does not allow {AUTHENTIC_SIGNING_TIME}"
                    ));
                }
            }
            SigningScheme::SigningAuthority => {
                if attributes.authentic_signing_time.is_none() {
                    problems.push(format!(
                        "notary.x509.signingAuthority requires {AUTHENTIC_SIGNING_TIME}"
                    ));
                }
            }
        }
        problems.dedup();
        Ok(Envelope {
            evidence_id: hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)),
            format: self.format,
            target,
            signing_scheme,
            signing_time: attributes.signing_time,
            authentic_signing_time: attributes.authentic_signing_time,
            expiry: attributes.expiry,
            signing_agent: self.signing_agent,
            header_problems: problems,
            alg: self.alg,
            signed_bytes: self.signed_bytes,
            signature: self.signature,
            chain: self.chain,
            timestamp: self.timestamp,
        })
    }
}

/// Reads the payload: `{"targetArtifact": descriptor}` with `mediaType`,
/// `digest` and `size`.
fn parse_payload(payload: &[u8]) -> Result<TargetArtifact, EnvelopeError> {
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| EnvelopeError::new(format!("the payload is not JSON: {e}")))?;
    let target = value
        .get("targetArtifact")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| EnvelopeError::new("the payload has no targetArtifact descriptor"))?;
    let text = |key: &str| {
        target
            .get(key)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| EnvelopeError::new(format!("targetArtifact has no {key}")))
    };
    let media_type = text("mediaType")?.to_string();
    let digest = text("digest")?.to_ascii_lowercase();
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(EnvelopeError::new(format!(
            "targetArtifact digest {digest:?} is not ALGORITHM:HEX"
        )));
    };
    let expected = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(EnvelopeError::new(format!(
                "targetArtifact digest algorithm {algorithm:?} is not sha256, sha384 or sha512"
            )));
        }
    };
    if hex.len() != expected || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EnvelopeError::new(format!(
            "targetArtifact digest {digest:?} is malformed"
        )));
    }
    let size = target
        .get("size")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| EnvelopeError::new("targetArtifact has no size (a whole number)"))?;
    let mut annotations = BTreeMap::new();
    if let Some(found) = target.get("annotations") {
        let map = found
            .as_object()
            .ok_or_else(|| EnvelopeError::new("targetArtifact annotations is not an object"))?;
        for (key, value) in map {
            let value = value.as_str().ok_or_else(|| {
                EnvelopeError::new(format!("targetArtifact annotation {key:?} is not a string"))
            })?;
            annotations.insert(key.clone(), value.to_string());
        }
    }
    Ok(TargetArtifact {
        media_type,
        digest,
        size,
        annotations,
    })
}
