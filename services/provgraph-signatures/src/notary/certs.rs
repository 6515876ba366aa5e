//! Certificates of a Notary Project chain: read by x509-cert, each signed
//! by the next (aws-lc-rs), and held to the specification's certificate
//! requirements (basic constraints, key usage, extended key usage, key
//! sizes, no SHA-1); the signature algorithm that the leaf's key dictates;
//! subjects as RFC 4514 text and as attribute lists.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use const_oid::ObjectIdentifier;
use der::asn1::UintRef;
use der::{Decode, Encode, Sequence, Tag, Tagged};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use super::envelope::Alg;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ANY_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");
const SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
const EMAIL_PROTECTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");
const TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// The public key kinds the specification allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa(usize),
    P256,
    P384,
    P521,
}

/// One certificate of a chain, with what the checks need.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    pub der: Vec<u8>,
    pub cert: Certificate,
    /// RFC 4514, as `CN=alpine,O=Notary,L=Seattle,ST=WA,C=US`.
    pub subject: String,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
}

impl Cert {
    pub(crate) fn parse(der: &[u8]) -> Result<Self, String> {
        let cert =
            Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let tbs = &cert.tbs_certificate;
        let seconds = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        Ok(Self {
            der: der.to_vec(),
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            not_before: seconds(tbs.validity.not_before),
            not_after: seconds(tbs.validity.not_after),
            cert,
        })
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<(bool, &[u8])> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
            .map(|e| (e.critical, e.extn_value.as_bytes()))
    }

    fn public_key_bits(&self) -> &[u8] {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
    }

    fn key_kind(&self) -> Result<KeyKind, String> {
        let spki = &self.cert.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid == RSA_ENCRYPTION {
            #[derive(Sequence)]
            struct RsaPublicKey<'a> {
                modulus: UintRef<'a>,
                exponent: UintRef<'a>,
            }
            let key = RsaPublicKey::from_der(self.public_key_bits())
                .map_err(|e| format!("unreadable RSA key: {e}"))?;
            let _ = key.exponent;
            let bytes = key.modulus.as_bytes();
            let bits = bytes.len() * 8 - bytes.first().map_or(0, |b| b.leading_zeros() as usize);
            return Ok(KeyKind::Rsa(bits));
        }
        if spki.algorithm.oid == EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            return match curve {
                Some(P256) => Ok(KeyKind::P256),
                Some(P384) => Ok(KeyKind::P384),
                Some(P521) => Ok(KeyKind::P521),
                _ => Err("an EC key on a curve other than P-256, P-384 or P-521".into()),
            };
        }
        Err(format!(
            "an unsupported key algorithm {}",
            spki.algorithm.oid
        ))
    }

    /// The RFC 4514 attributes of the subject, as (short name, value).
    pub(crate) fn subject_attributes(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for rdn in self.cert.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter() {
                let value = match atv.value.tag() {
                    Tag::Utf8String
                    | Tag::PrintableString
                    | Tag::Ia5String
                    | Tag::TeletexString => String::from_utf8_lossy(atv.value.value()).into_owned(),
                    _ => continue,
                };
                out.push((attribute_name(&atv.oid), value));
            }
        }
        out
    }
}

/// The short name of a distinguished-name attribute (`ST` for both `ST`
/// and `S`), or its dotted OID.
fn attribute_name(oid: &ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.17" => "POSTALCODE",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "E",
        other => return other.to_string(),
    }
    .to_string()
}

/// The algorithm the leaf's key dictates (the specification's table).
pub(crate) fn expected_alg(leaf: &Cert) -> Result<Alg, String> {
    Ok(match leaf.key_kind()? {
        KeyKind::Rsa(bits) if bits >= 4096 => Alg::Ps512,
        KeyKind::Rsa(bits) if bits >= 3072 => Alg::Ps384,
        KeyKind::Rsa(bits) if bits >= 2048 => Alg::Ps256,
        KeyKind::Rsa(bits) => {
            return Err(format!("the signing key is RSA-{bits}, under 2048 bits"));
        }
        KeyKind::P256 => Alg::Es256,
        KeyKind::P384 => Alg::Es384,
        KeyKind::P521 => Alg::Es512,
    })
}

/// Checks the envelope's signature over `message` with the leaf's key,
/// after checking that `alg` is the one its key dictates.
pub(crate) fn verify_signature(
    leaf: &Cert,
    alg: Alg,
    message: &[u8],
    signature_bytes: &[u8],
) -> Result<(), String> {
    let expected = expected_alg(leaf)?;
    if expected != alg {
        return Err(format!(
            "the envelope says {} but the signing certificate's key requires {}",
            alg.name(),
            expected.name()
        ));
    }
    let algorithm: &'static dyn VerificationAlgorithm = match alg {
        Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
        Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
        Alg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
        Alg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
        Alg::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
        Alg::Es512 => &signature::ECDSA_P521_SHA512_FIXED,
    };
    UnparsedPublicKey::new(algorithm, leaf.public_key_bits())
        .verify(message, signature_bytes)
        .map_err(|_| {
            "the signature does not verify: the envelope was altered or forged".to_string()
        })
}

/// Whether `issuer` signed `cert` (its TBS bytes), by the certificate's
/// signature algorithm; SHA-1 is refused.
fn signed_by(cert: &Cert, issuer: &Cert) -> Result<(), String> {
    let oid = cert.cert.signature_algorithm.oid.to_string();
    let kind = issuer.key_kind()?;
    let algorithm: &'static dyn VerificationAlgorithm = match (oid.as_str(), kind) {
        ("1.2.840.113549.1.1.11", KeyKind::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.113549.1.1.12", KeyKind::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA384,
        ("1.2.840.113549.1.1.13", KeyKind::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA512,
        ("1.2.840.10045.4.3.2", KeyKind::P256) => &signature::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", KeyKind::P256) => &signature::ECDSA_P256_SHA384_ASN1,
        ("1.2.840.10045.4.3.2", KeyKind::P384) => &signature::ECDSA_P384_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", KeyKind::P384) => &signature::ECDSA_P384_SHA384_ASN1,
        ("1.2.840.10045.4.3.4", KeyKind::P521) => &signature::ECDSA_P521_SHA512_ASN1,
        ("1.2.840.113549.1.1.5" | "1.2.840.10045.4.1", _) => {
            return Err(format!(
                "certificate {} is signed with SHA-1, which the Notary Project forbids",
                cert.subject
            ));
        }
        (other, _) => {
            return Err(format!(
                "certificate {} has an unsupported signature algorithm {other} for its issuer's key",
                cert.subject
            ));
        }
    };
    let tbs = cert
        .cert
        .tbs_certificate
        .to_der()
        .map_err(|e| format!("certificate {}: {e}", cert.subject))?;
    UnparsedPublicKey::new(algorithm, issuer.public_key_bits())
        .verify(&tbs, cert.cert.signature.raw_bytes())
        .map_err(|_| {
            format!(
                "certificate {} is not signed by the next certificate in the chain ({})",
                cert.subject, issuer.subject
            )
        })
}

fn check_key_size(cert: &Cert) -> Result<(), String> {
    match cert.key_kind()? {
        KeyKind::Rsa(bits) if bits < 2048 => Err(format!(
            "certificate {} has an RSA-{bits} key, under 2048 bits",
            cert.subject
        )),
        _ => Ok(()),
    }
}

fn key_usage(cert: &Cert) -> Result<(bool, KeyUsage), String> {
    let (critical, value) = cert
        .extension(KEY_USAGE)
        .ok_or_else(|| format!("certificate {} has no key usage", cert.subject))?;
    let usage = KeyUsage::from_der(value)
        .map_err(|e| format!("certificate {}: bad key usage: {e}", cert.subject))?;
    Ok((critical, usage))
}

fn basic_constraints(cert: &Cert) -> Result<Option<(bool, BasicConstraints)>, String> {
    cert.extension(BASIC_CONSTRAINTS)
        .map(|(critical, value)| {
            BasicConstraints::from_der(value)
                .map(|bc| (critical, bc))
                .map_err(|e| format!("certificate {}: bad basic constraints: {e}", cert.subject))
        })
        .transpose()
}

/// The requirements on a code-signing leaf (or a lone self-signed root).
fn check_leaf(cert: &Cert) -> Result<(), String> {
    let name = &cert.subject;
    if let Some((_, bc)) = basic_constraints(cert)?
        && bc.ca
    {
        return Err(format!(
            "the signing certificate {name} is a CA certificate"
        ));
    }
    let (critical, usage) = key_usage(cert)?;
    if !critical {
        return Err(format!(
            "the signing certificate {name}'s key usage is not critical"
        ));
    }
    if !usage.digital_signature() {
        return Err(format!(
            "the signing certificate {name} may not make digital signatures"
        ));
    }
    if usage.key_encipherment()
        || usage.data_encipherment()
        || usage.key_agreement()
        || usage.key_cert_sign()
        || usage.crl_sign()
        || usage.encipher_only()
        || usage.decipher_only()
    {
        return Err(format!(
            "the signing certificate {name} has key usages the Notary Project forbids"
        ));
    }
    if let Some((_, value)) = cert.extension(EXTENDED_KEY_USAGE) {
        let eku = ExtendedKeyUsage::from_der(value)
            .map_err(|e| format!("certificate {name}: bad extended key usage: {e}"))?;
        for forbidden in [
            ANY_EKU,
            SERVER_AUTH,
            CLIENT_AUTH,
            EMAIL_PROTECTION,
            TIME_STAMPING,
        ] {
            if eku.0.contains(&forbidden) {
                return Err(format!(
                    "the signing certificate {name} has extended key usage {forbidden}, which a code-signing certificate may not"
                ));
            }
        }
    }
    check_key_size(cert)
}

/// The requirements on an intermediate or root CA, `below` certificates
/// under it in the chain (for the path length).
fn check_ca(cert: &Cert, below: usize) -> Result<(), String> {
    let name = &cert.subject;
    let (critical, bc) = basic_constraints(cert)?
        .ok_or_else(|| format!("CA certificate {name} has no basic constraints"))?;
    if !critical || !bc.ca {
        return Err(format!(
            "CA certificate {name}'s basic constraints must be critical with cA true"
        ));
    }
    if let Some(limit) = bc.path_len_constraint
        && below.saturating_sub(1) > usize::from(limit)
    {
        return Err(format!(
            "CA certificate {name} allows a path length of {limit}, the chain has {} below it",
            below.saturating_sub(1)
        ));
    }
    let (critical, usage) = key_usage(cert)?;
    if !critical || !usage.key_cert_sign() {
        return Err(format!(
            "CA certificate {name}'s key usage must be critical with keyCertSign"
        ));
    }
    check_key_size(cert)
}

/// Reads the chain (leaf first) and checks it: each certificate signed by
/// the next, the last self-signed, every certificate as the specification
/// requires. Validity periods are [`valid_at`]'s business.
pub(crate) fn check_chain(ders: &[Vec<u8>]) -> Result<Vec<Cert>, String> {
    let chain = ders
        .iter()
        .enumerate()
        .map(|(index, der)| Cert::parse(der).map_err(|e| format!("certificate {index}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let Some((root, _)) = chain.split_last() else {
        return Err("the certificate chain is empty".into());
    };
    check_leaf(&chain[0])?;
    for (index, cert) in chain.iter().enumerate().skip(1) {
        check_ca(cert, index)?;
    }
    for pair in chain.windows(2) {
        if pair[0].cert.tbs_certificate.issuer != pair[1].cert.tbs_certificate.subject {
            return Err(format!(
                "certificate {} is issued by {}, not by the next certificate {}",
                pair[0].subject, pair[0].issuer, pair[1].subject
            ));
        }
        signed_by(&pair[0], &pair[1])?;
    }
    if root.cert.tbs_certificate.issuer != root.cert.tbs_certificate.subject {
        return Err(format!(
            "the chain ends in {}, which is not a root (self-signed) certificate",
            root.subject
        ));
    }
    signed_by(root, root)?;
    Ok(chain)
}

/// Whether every certificate of the chain is valid at `at`.
pub(crate) fn valid_at(chain: &[Cert], at: i64) -> Result<(), String> {
    for cert in chain {
        if at < cert.not_before {
            return Err(format!(
                "certificate {} is not valid before {}",
                cert.subject,
                super::time::format_rfc3339(cert.not_before)
            ));
        }
        if at > cert.not_after {
            return Err(format!(
                "certificate {} expired at {}",
                cert.subject,
                super::time::format_rfc3339(cert.not_after)
            ));
        }
    }
    Ok(())
}

/// The certificates of a PEM bundle, or of one DER certificate.
pub(crate) fn read_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if let Ok(text) = std::str::from_utf8(bytes)
        && text.contains("-----BEGIN")
    {
        let mut out = Vec::new();
        for block in pem_blocks(text)? {
            Cert::parse(&block)?;
            out.push(block);
        }
        if out.is_empty() {
            return Err("no CERTIFICATE block".into());
        }
        return Ok(out);
    }
    Cert::parse(bytes)?;
    Ok(vec![bytes.to_vec()])
}

/// The DER of each `CERTIFICATE` block of a PEM text.
fn pem_blocks(text: &str) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine as _;
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "-----BEGIN CERTIFICATE-----" {
            continue;
        }
        let mut body = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            if line.trim() == "-----END CERTIFICATE-----" {
                closed = true;
                break;
            }
            body.push_str(line.trim());
        }
        if !closed {
            return Err("a CERTIFICATE block is not closed".into());
        }
        out.push(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| format!("a CERTIFICATE block is not base64: {e}"))?,
        );
    }
    Ok(out)
}
