//! Direct signature checks with a policy key, for signatures that have no log
//! entry or timestamp (`cosign sign --key ... --tlog-upload=false`).
//!
//! cosign signs with ECDSA (ASN.1 DER signature; P-256 with SHA-256, P-384
//! with SHA-384), RSA (PKCS#1 v1.5 or PSS, SHA-256) or Ed25519; each scheme
//! the key can use is tried.

use sigstore_verify::crypto::{KeyAlgorithm, SigningScheme};
use sigstore_verify::types::{DerPublicKey, SignatureBytes};

use crate::error::KeyError;

/// The schemes a cosign signature made with this key may use.
fn schemes(key: &DerPublicKey) -> Result<&'static [SigningScheme], KeyError> {
    let algorithm = KeyAlgorithm::from_spki(key).map_err(|e| KeyError::Unusable(e.into()))?;
    Ok(match algorithm {
        KeyAlgorithm::EcdsaP256 => &[SigningScheme::EcdsaP256Sha256],
        KeyAlgorithm::EcdsaP384 => &[
            SigningScheme::EcdsaP384Sha384,
            SigningScheme::EcdsaP384Sha256,
        ],
        KeyAlgorithm::Rsa => &[SigningScheme::RsaPkcs1Sha256, SigningScheme::RsaPssSha256],
        KeyAlgorithm::Ed25519 => &[SigningScheme::Ed25519],
        other => return Err(KeyError::Unsupported(format!("{other:?}"))),
    })
}

/// Checks `signature` over `message` with `key`.
pub(crate) fn verify_message(
    key: &DerPublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    let signature = SignatureBytes::from_bytes(signature);
    let schemes = schemes(key)?;
    if schemes.iter().any(|&scheme| {
        sigstore_verify::crypto::verify_signature(key, message, &signature, scheme).is_ok()
    }) {
        Ok(())
    } else {
        Err(KeyError::Mismatch)
    }
}

/// Checks `signature` over a message known only by its SHA-256 `digest`
/// (ECDSA and RSA only; Ed25519 signs the message itself).
pub(crate) fn verify_sha256_digest(
    key: &DerPublicKey,
    digest: &[u8; 32],
    signature: &[u8],
) -> Result<(), KeyError> {
    let signature = SignatureBytes::from_bytes(signature);
    let usable: Vec<SigningScheme> = schemes(key)?
        .iter()
        .copied()
        .filter(|scheme| {
            scheme.supports_prehashed()
                && scheme.hash_algorithm() == Some(sigstore_verify::types::HashAlgorithm::Sha2256)
        })
        .collect();
    if usable.is_empty() {
        return Err(KeyError::NeedsMessage);
    }
    if usable.iter().any(|&scheme| {
        sigstore_verify::crypto::verify_signature_prehashed(key, digest, &signature, scheme).is_ok()
    }) {
        Ok(())
    } else {
        Err(KeyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    //! Direct key checks with keys minted here.

    use super::*;
    use sigstore_verify::crypto::KeyPair;

    #[test]
    fn p256_signatures_verify_and_tampering_fails() {
        let pair = KeyPair::generate_ecdsa_p256().expect("generate");
        let key = pair.public_key_der().expect("public key");
        let message = b"payload bytes";
        let signature = pair.sign(message).expect("sign");
        assert!(verify_message(&key, message, signature.as_bytes()).is_ok());
        assert!(verify_message(&key, b"payload bytez", signature.as_bytes()).is_err());

        let digest = sigstore_verify::crypto::sha256(message);
        assert!(verify_sha256_digest(&key, digest.as_bytes(), signature.as_bytes()).is_ok());
        let other = sigstore_verify::crypto::sha256(b"other");
        assert!(verify_sha256_digest(&key, other.as_bytes(), signature.as_bytes()).is_err());

        let stranger = KeyPair::generate_ecdsa_p256()
            .and_then(|p| p.public_key_der())
            .expect("other key");
        assert!(verify_message(&stranger, message, signature.as_bytes()).is_err());
    }

    #[test]
    fn garbage_keys_are_errors_not_panics() {
        let key = DerPublicKey::new(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(verify_message(&key, b"m", b"s").is_err());
        assert!(verify_sha256_digest(&key, &[0; 32], b"s").is_err());
    }
}
