//! Test material (feature `testing`): certificate authorities, code-signing
//! and time-stamping certificates minted with rcgen, and envelopes written
//! as `notation sign` writes them (JWS JSON and COSE_Sign1, protected
//! headers, `crit`, the `x5c`/`x5chain` chain, an optional RFC 3161
//! countersignature minted here as CMS SignedData over a TSTInfo).
//! Panics on failure: tests only.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use coset::cbor::value::Value as Cbor;
use coset::{CoseSign1Builder, HeaderBuilder, Label, TaggedCborSerializable as _, iana};
use der::asn1::{GeneralizedTime, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifierOwned;

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// One day, in seconds.
pub const DAY: i64 = 86_400;

fn when(seconds: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(seconds).expect("time")
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// A distinguished name, most significant first: `[("C", "US"), ...]`.
fn name(attributes: &[(&str, &str)]) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    for (key, value) in attributes {
        let kind = match *key {
            "C" => DnType::CountryName,
            "ST" => DnType::StateOrProvinceName,
            "L" => DnType::LocalityName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "CN" => DnType::CommonName,
            other => panic!("unknown attribute {other}"),
        };
        dn.push(kind, *value);
    }
    dn
}

/// A certificate authority (ECDSA P-256), self-signed.
pub struct Authority {
    params: CertificateParams,
    key: KeyPair,
    /// Its certificate (DER).
    pub der: Vec<u8>,
}

impl Authority {
    /// A root CA valid from `not_before` to `not_after` (seconds).
    pub fn new(subject: &[(&str, &str)], not_before: i64, not_after: i64) -> Self {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = CertificateParams::default();
        params.distinguished_name = name(subject);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = when(not_before);
        params.not_after = when(not_after);
        let der = params.self_signed(&key).expect("root").der().to_vec();
        Self { params, key, der }
    }

    /// Its certificate as PEM.
    pub fn pem(&self) -> String {
        pem_of(&self.der)
    }

    fn issue(
        &self,
        subject: &[(&str, &str)],
        curve: &'static rcgen::SignatureAlgorithm,
        usages: Vec<ExtendedKeyUsagePurpose>,
        not_before: i64,
        not_after: i64,
    ) -> (Vec<u8>, KeyPair) {
        let key = KeyPair::generate_for(curve).expect("key");
        let mut params = CertificateParams::default();
        params.distinguished_name = name(subject);
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = usages;
        params.not_before = when(not_before);
        params.not_after = when(not_after);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params
            .signed_by(&key, &issuer)
            .expect("leaf")
            .der()
            .to_vec();
        (der, key)
    }

    /// A code-signing certificate (ECDSA P-256, so ES256).
    pub fn signer(&self, subject: &[(&str, &str)], not_before: i64, not_after: i64) -> Signer {
        self.signer_on(subject, not_before, not_after, false)
    }

    /// A code-signing certificate on P-384 (ES384) when `p384`.
    pub fn signer_on(
        &self,
        subject: &[(&str, &str)],
        not_before: i64,
        not_after: i64,
        p384: bool,
    ) -> Signer {
        let (curve, algorithm): (_, &'static EcdsaSigningAlgorithm) = if p384 {
            (
                &rcgen::PKCS_ECDSA_P384_SHA384,
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            )
        } else {
            (
                &rcgen::PKCS_ECDSA_P256_SHA256,
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            )
        };
        let (der, key) = self.issue(
            subject,
            curve,
            vec![ExtendedKeyUsagePurpose::CodeSigning],
            not_before,
            not_after,
        );
        Signer {
            chain: vec![der, self.der.clone()],
            key: EcdsaKeyPair::from_pkcs8(algorithm, &key.serialize_der()).expect("pkcs8"),
            p384,
        }
    }

    /// A time-stamping authority certificate (ECDSA P-256).
    pub fn tsa(&self, subject: &[(&str, &str)], not_before: i64, not_after: i64) -> Tsa {
        let (der, key) = self.issue(
            subject,
            &rcgen::PKCS_ECDSA_P256_SHA256,
            vec![ExtendedKeyUsagePurpose::TimeStamping],
            not_before,
            not_after,
        );
        Tsa {
            der,
            key: EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &key.serialize_der(),
            )
            .expect("pkcs8"),
        }
    }
}

fn pem_of(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A time-stamping authority.
pub struct Tsa {
    der: Vec<u8>,
    key: EcdsaKeyPair,
}

#[derive(Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

#[derive(Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

#[derive(Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: u64,
    gen_time: GeneralizedTime,
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Attribute {
    let mut values = SetOfVec::new();
    values.insert(value).expect("value");
    Attribute { oid, values }
}

impl Tsa {
    /// A TimeStampToken (CMS SignedData over a TSTInfo) stamping
    /// `signature` at `at`.
    pub fn token(&self, signature: &[u8], at: i64) -> Vec<u8> {
        let sha256_id = AlgorithmIdentifierOwned {
            oid: SHA256,
            parameters: None,
        };
        let info = TstInfo {
            version: 1,
            policy: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2"),
            message_imprint: MessageImprint {
                hash_algorithm: sha256_id.clone(),
                hashed_message: OctetString::new(sha256(signature)).expect("octets"),
            },
            serial_number: 7,
            gen_time: GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(
                u64::try_from(at).expect("after the epoch"),
            ))
            .expect("time"),
        }
        .to_der()
        .expect("tstinfo");
        let certificate = x509_cert::Certificate::from_der(&self.der).expect("tsa cert");
        let mut attrs = SetOfVec::new();
        attrs
            .insert(attribute(
                CONTENT_TYPE,
                Any::encode_from(&TST_INFO).expect("oid"),
            ))
            .expect("attr");
        attrs
            .insert(attribute(
                MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(sha256(&info)).expect("octets")).expect("md"),
            ))
            .expect("attr");
        attrs
            .insert(attribute(
                SIGNING_CERTIFICATE_V2,
                Any::encode_from(&SigningCertificateV2 {
                    certs: vec![EssCertIdV2 {
                        cert_hash: OctetString::new(sha256(&self.der)).expect("octets"),
                    }],
                })
                .expect("scv2"),
            ))
            .expect("attr");
        let signed_attrs = attrs.to_der().expect("attrs");
        let signature_value = self
            .key
            .sign(&SystemRandom::new(), &signed_attrs)
            .expect("sign");
        let signer = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: certificate.tbs_certificate.issuer.clone(),
                serial_number: certificate.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: sha256_id.clone(),
            signed_attrs: Some(attrs),
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: ECDSA_SHA256,
                parameters: None,
            },
            signature: OctetString::new(signature_value.as_ref().to_vec()).expect("sig"),
            unsigned_attrs: None,
        };
        let mut digests = SetOfVec::new();
        digests.insert(sha256_id).expect("alg");
        let mut certs = SetOfVec::new();
        certs
            .insert(CertificateChoices::Certificate(certificate))
            .expect("cert");
        let mut signers = SetOfVec::new();
        signers.insert(signer).expect("signer");
        let signed = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: digests,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: TST_INFO,
                econtent: Some(
                    Any::encode_from(&OctetString::new(info).expect("octets")).expect("any"),
                ),
            },
            certificates: Some(CertificateSet(certs)),
            crls: None,
            signer_infos: SignerInfos(signers),
        };
        ContentInfo {
            content_type: SIGNED_DATA,
            content: Any::encode_from(&signed).expect("signed data"),
        }
        .to_der()
        .expect("content info")
    }

    /// Its certificate as PEM.
    pub fn pem(&self) -> String {
        pem_of(&self.der)
    }
}

/// A code signer: its chain (leaf, root) and key.
pub struct Signer {
    /// DER certificates, leaf first.
    pub chain: Vec<Vec<u8>>,
    key: EcdsaKeyPair,
    p384: bool,
}

/// What an envelope signs and says.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The signed descriptor's digest and size.
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// `notary.x509` or `notary.x509.signingAuthority`.
    pub scheme: String,
    /// The signing time (or authentic signing time, by scheme).
    pub signing_time: i64,
    pub expiry: Option<i64>,
    /// More critical protected headers: name and string value.
    pub extra_critical: Vec<(String, String)>,
    pub annotations: BTreeMap<String, String>,
}

impl Spec {
    /// A `notary.x509` signature of an image manifest, signed at `at`.
    pub fn new(digest: &str, size: u64, at: i64) -> Self {
        Self {
            digest: digest.into(),
            size,
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            scheme: "notary.x509".into(),
            signing_time: at,
            expiry: None,
            extra_critical: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }

    fn payload(&self) -> Vec<u8> {
        let mut target = serde_json::json!({
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        });
        if !self.annotations.is_empty() {
            target["annotations"] = serde_json::json!(self.annotations);
        }
        serde_json::to_vec(&serde_json::json!({ "targetArtifact": target })).expect("json")
    }

    fn time_header(&self) -> &'static str {
        if self.scheme == "notary.x509.signingAuthority" {
            "io.cncf.notary.authenticSigningTime"
        } else {
            "io.cncf.notary.signingTime"
        }
    }

    fn critical(&self) -> Vec<String> {
        let mut crit = vec!["io.cncf.notary.signingScheme".to_string()];
        if self.scheme == "notary.x509.signingAuthority" {
            crit.push("io.cncf.notary.authenticSigningTime".into());
        }
        if self.expiry.is_some() {
            crit.push("io.cncf.notary.expiry".into());
        }
        crit.extend(self.extra_critical.iter().map(|(k, _)| k.clone()));
        crit
    }
}

impl Signer {
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let _ = self.p384;
        self.key
            .sign(&SystemRandom::new(), message)
            .expect("sign")
            .as_ref()
            .to_vec()
    }

    /// A JWS envelope, as notation writes it; `tsa` countersigns it at
    /// `spec.signing_time`.
    pub fn jws(&self, spec: &Spec, tsa: Option<&Tsa>) -> Vec<u8> {
        let mut protected = serde_json::json!({
            "alg": if self.p384 { "ES384" } else { "ES256" },
            "cty": crate::notary::NOTARY_PAYLOAD_TYPE,
            "io.cncf.notary.signingScheme": spec.scheme,
            "crit": spec.critical(),
        });
        protected[spec.time_header()] =
            serde_json::json!(crate::notary::time::format_rfc3339(spec.signing_time));
        if let Some(expiry) = spec.expiry {
            protected["io.cncf.notary.expiry"] =
                serde_json::json!(crate::notary::time::format_rfc3339(expiry));
        }
        for (key, value) in &spec.extra_critical {
            protected[key] = serde_json::json!(value);
        }
        let protected = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&protected).expect("json"));
        let payload = URL_SAFE_NO_PAD.encode(spec.payload());
        let signature = self.sign(format!("{protected}.{payload}").as_bytes());
        let mut header = serde_json::json!({
            "x5c": self.chain.iter().map(|der| STANDARD.encode(der)).collect::<Vec<_>>(),
            "io.cncf.notary.signingAgent": "notation-go/1.3.0",
        });
        if let Some(tsa) = tsa {
            header["io.cncf.notary.timestampSignature"] =
                serde_json::json!(STANDARD.encode(tsa.token(&signature, spec.signing_time)));
        }
        serde_json::to_vec(&serde_json::json!({
            "payload": payload,
            "protected": protected,
            "header": header,
            "signature": URL_SAFE_NO_PAD.encode(&signature),
        }))
        .expect("json")
    }

    /// A COSE_Sign1 envelope (tagged), as notation writes it.
    pub fn cose(&self, spec: &Spec, tsa: Option<&Tsa>) -> Vec<u8> {
        let epoch = |t: i64| Cbor::Tag(1, Box::new(Cbor::Integer(t.into())));
        let mut protected = HeaderBuilder::new()
            .algorithm(if self.p384 {
                iana::Algorithm::ES384
            } else {
                iana::Algorithm::ES256
            })
            .content_type(crate::notary::NOTARY_PAYLOAD_TYPE.into())
            .text_value(
                "io.cncf.notary.signingScheme".into(),
                Cbor::Text(spec.scheme.clone()),
            )
            .text_value(spec.time_header().into(), epoch(spec.signing_time));
        if let Some(expiry) = spec.expiry {
            protected = protected.text_value("io.cncf.notary.expiry".into(), epoch(expiry));
        }
        for (key, value) in &spec.extra_critical {
            protected = protected.text_value(key.clone(), Cbor::Text(value.clone()));
        }
        for name in spec.critical() {
            protected = protected.add_critical_label(coset::RegisteredLabelWithPrivate::Text(name));
        }
        let unprotected = HeaderBuilder::new()
            .value(
                33,
                Cbor::Array(
                    self.chain
                        .iter()
                        .map(|der| Cbor::Bytes(der.clone()))
                        .collect(),
                ),
            )
            .text_value(
                "io.cncf.notary.signingAgent".into(),
                Cbor::Text("notation-go/1.3.0".into()),
            )
            .build();
        let mut sign1 = CoseSign1Builder::new()
            .protected(protected.build())
            .unprotected(unprotected)
            .payload(spec.payload())
            .create_signature(b"", |message| self.sign(message))
            .build();
        if let Some(tsa) = tsa {
            let token = tsa.token(&sign1.signature, spec.signing_time);
            sign1.unprotected.rest.push((
                Label::Text("io.cncf.notary.timestampSignature".into()),
                Cbor::Bytes(token),
            ));
        }
        sign1.to_tagged_vec().expect("cbor")
    }
}

/// Writes `certificate` (PEM) into `root/x509/KIND/NAME/FILE`.
pub fn add_to_store(root: &Path, kind: &str, name: &str, file: &str, pem: &str) {
    let dir = root.join("x509").join(kind).join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(file), pem).expect("write");
}

/// A notation trust policy document with one statement.
pub fn trust_policy(scopes: &[&str], level: &str, stores: &[&str], identities: &[&str]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": "test-images",
            "registryScopes": scopes,
            "signatureVerification": {"level": level},
            "trustStores": stores,
            "trustedIdentities": identities,
        }]
    }))
    .expect("json")
}
