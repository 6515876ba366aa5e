//! Artifact digests as provgraph writes them: `sha256:` and 64 lower-case hex.

/// Parses `sha256:<64 hex>` (hex in either case) into the canonical
/// lower-case form, or `None` when the text is not such a digest.
///
/// ```
/// assert_eq!(
///     provgraph_signatures::parse_sha256_digest(&format!("sha256:{}", "AB".repeat(32))),
///     Some(format!("sha256:{}", "ab".repeat(32)))
/// );
/// assert_eq!(provgraph_signatures::parse_sha256_digest("sha256:abc"), None);
/// ```
pub fn parse_sha256_digest(text: &str) -> Option<String> {
    let hex = text.strip_prefix("sha256:")?;
    is_sha256_hex(hex).then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// Whether `hex` is exactly 64 hexadecimal digits.
pub(crate) fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The 32 digest bytes of a canonical `sha256:<hex>` digest.
pub(crate) fn digest_bytes(digest: &str) -> Option<[u8; 32]> {
    let hex = digest.strip_prefix("sha256:")?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
}

/// `sha256:<hex>` of `data`.
pub(crate) fn sha256_digest_of(data: &[u8]) -> String {
    format!("sha256:{}", sigstore_verify::crypto::sha256(data).to_hex())
}

#[cfg(test)]
mod tests {
    //! Digest parsing edge cases.

    use super::*;

    #[test]
    fn digests_parse_only_when_well_formed() {
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(
            parse_sha256_digest(&format!("sha256:{hex}")),
            Some(format!("sha256:{hex}"))
        );
        for bad in [
            hex.clone(),
            format!("sha512:{hex}"),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}0"),
            format!("sha256:{}g", &hex[1..]),
            format!("sha256: {}", &hex[1..]),
        ] {
            assert_eq!(parse_sha256_digest(&bad), None, "{bad}");
        }
        assert_eq!(
            digest_bytes(&format!("sha256:{hex}")).map(hex::encode),
            Some(hex.clone())
        );
        assert_eq!(
            sha256_digest_of(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
