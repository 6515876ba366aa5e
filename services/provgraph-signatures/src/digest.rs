//! The SHA-256 of bytes as a [`Digest`] (sigstore's hasher: this crate's
//! one crypto backend). Parsing digests is [`Digest::parse`]'s.

use provgraph_model::Digest;

/// The digest of `data`.
pub(crate) fn sha256_digest_of(data: &[u8]) -> Digest {
    Digest::from_sha256(*sigstore_verify::crypto::sha256(data).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input() {
        assert_eq!(
            sha256_digest_of(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
