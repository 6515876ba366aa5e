//! RFC 3161 countersignatures (`io.cncf.notary.timestampSignature`): a
//! TimeStampToken over the envelope's signature bytes. sigstore-tsa checks
//! the token (message imprint, CMS signature, the TSA certificate's chain
//! to a root with the time-stamping usage, at the stamped time); here the
//! Notary Project's additions: the authority chains to a `tsa` store the
//! policy names, the token carries a signing-certificate-v2 attribute naming
//! its signer, and the stamped time's accuracy widens it to a range.

use cms::content_info::ContentInfo;
use cms::signed_data::{CertificateSet, SignedData};
use const_oid::ObjectIdentifier;
use der::asn1::{GeneralizedTime, OctetString};
use der::{Any, Decode, Encode, Sequence};
use sigstore_verify::types::{DerCertificate, SignatureBytes, TimestampToken, TsaAuthority};
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::store::NamedStore;

const SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// At most this many certificates are tried as the token's signer.
const MAX_EMBEDDED: usize = 8;

#[derive(Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

#[derive(Sequence)]
struct Accuracy {
    #[asn1(optional = "true")]
    seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u64>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u64>,
}

/// TSTInfo (RFC 3161 §2.4.2), read only for its accuracy.
#[derive(Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: Any,
    serial_number: der::asn1::Int,
    gen_time: GeneralizedTime,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<der::asn1::Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<Any>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Any>,
}

/// An authenticated time: the stamped range, in seconds since the epoch,
/// and the store that vouched for the authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamped {
    pub lower: i64,
    pub upper: i64,
    pub store: String,
}

fn hash(oid: &ObjectIdentifier, bytes: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::digest;
    let algorithm = match *oid {
        SHA256 => &digest::SHA256,
        SHA384 => &digest::SHA384,
        SHA512 => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(algorithm, bytes).as_ref().to_vec())
}

/// Checks `token` over `signature` against the `tsa` stores.
pub(crate) fn verify(
    token: &[u8],
    signature: &[u8],
    stores: &[&NamedStore],
) -> Result<Stamped, String> {
    let content =
        ContentInfo::from_der(token).map_err(|e| format!("the timestamp token is not CMS: {e}"))?;
    let signed: SignedData = content
        .content
        .decode_as()
        .map_err(|e| format!("the timestamp token is not CMS SignedData: {e}"))?;
    let signer = signed
        .signer_infos
        .0
        .get(0)
        .ok_or("the timestamp token has no signer")?;
    let attribute = signer
        .signed_attrs
        .as_ref()
        .and_then(|attrs| attrs.iter().find(|a| a.oid == SIGNING_CERTIFICATE_V2))
        .ok_or("the timestamp token has no signing-certificate-v2 attribute")?;
    let named = attribute
        .values
        .get(0)
        .ok_or("the signing-certificate-v2 attribute is empty")?
        .to_der()
        .ok()
        .and_then(|der| SigningCertificateV2::from_der(&der).ok())
        .and_then(|value| value.certs.into_iter().next())
        .ok_or("the signing-certificate-v2 attribute is malformed")?;
    let named_algorithm = named
        .hash_algorithm
        .as_ref()
        .map_or(SHA256, |algorithm| algorithm.oid);

    let embedded: Vec<Vec<u8>> = signed
        .certificates
        .as_ref()
        .map(|CertificateSet(set)| {
            set.iter()
                .filter_map(|choice| match choice {
                    cms::cert::CertificateChoices::Certificate(cert) => cert.to_der().ok(),
                    _ => None,
                })
                .take(MAX_EMBEDDED)
                .collect()
        })
        .unwrap_or_default();
    let leaf = embedded
        .iter()
        .find(|der| hash(&named_algorithm, der).as_deref() == Some(named.cert_hash.as_bytes()))
        .ok_or("the timestamp token does not carry the certificate its signing-certificate-v2 attribute names")?;

    let info = signed
        .encap_content_info
        .econtent
        .as_ref()
        .and_then(|any| TstInfo::from_der(any.value()).ok())
        .ok_or("the timestamp token's TSTInfo is unreadable")?;
    let accuracy = info.accuracy.as_ref().map_or(0, |a| {
        let fraction = a.millis.unwrap_or(0) > 0 || a.micros.unwrap_or(0) > 0;
        i64::try_from(a.seconds.unwrap_or(0)).unwrap_or(i64::MAX / 4) + i64::from(fraction)
    });

    let intermediates: Vec<DerCertificate> = embedded
        .iter()
        .filter(|der| *der != leaf)
        .map(|der| DerCertificate::new(der.clone()))
        .collect();
    let mut last_problem = String::from("no tsa store is named by the policy");
    for store in stores {
        for root in &store.certificates {
            let authority = TsaAuthority::new(
                DerCertificate::new(leaf.clone()),
                intermediates.clone(),
                DerCertificate::new(root.der.clone()),
                None,
            );
            match sigstore_verify::tsa::verify_timestamp_for_authority(
                &TimestampToken::new(token.to_vec()),
                &SignatureBytes::new(signature.to_vec()),
                &authority,
            ) {
                Ok(time) => {
                    let at = time.as_second();
                    return Ok(Stamped {
                        lower: at.saturating_sub(accuracy),
                        upper: at.saturating_add(accuracy),
                        store: store.label.clone(),
                    });
                }
                Err(e) => last_problem = provgraph_model::one_line(&e.to_string()),
            }
        }
    }
    Err(format!(
        "the timestamp does not verify against the policy's tsa stores: {last_problem}"
    ))
}
