//! Checks on what callers and registries name: repository names, digests,
//! and the SHA-256 check of fetched content.

use provgraph_model::Digest;
use sha2::{Digest as _, Sha256};

use crate::OciError;

/// Checks an OCI repository name (`acme/calc`): `/`-separated components of
/// lower-case letters and digits, joined inside a component by `.`, `_`,
/// `__` or runs of `-` (the distribution spec's grammar), at most 255
/// characters. Nothing else reaches a URL path.
pub fn validate_repository(repository: &str) -> Result<(), OciError> {
    let invalid = || OciError::InvalidRepository(repository.to_string());
    if repository.is_empty() || repository.len() > 255 {
        return Err(invalid());
    }
    for component in repository.split('/') {
        if !valid_component(component) {
            return Err(invalid());
        }
    }
    Ok(())
}

fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or "-"+, between alphanumerics.
        let run_end = bytes[i..]
            .iter()
            .position(|&c| alnum(c))
            .map_or(bytes.len(), |p| i + p);
        let run = &component[i..run_end];
        let ok = matches!(run, "." | "_" | "__") || run.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
        i = run_end;
    }
    true
}

/// Parses `sha256:<64 hex>` (either case) into its canonical lower-case
/// form ([`Digest::parse`], as an [`OciError`]).
pub fn parse_digest(digest: &str) -> Result<Digest, OciError> {
    Digest::parse(digest).map_err(|_| OciError::InvalidDigest(digest.to_string()))
}

/// The digest of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> Digest {
    Digest::from_sha256(Sha256::digest(bytes).into())
}

/// Checks that `bytes`, fetched from `url` by `expected` (canonical
/// `sha256:<hex>`), hash to it.
pub(crate) fn verify_digest(url: &str, expected: &str, bytes: &[u8]) -> Result<(), OciError> {
    let actual = sha256_digest(bytes);
    if actual.as_str() == expected {
        Ok(())
    } else {
        Err(OciError::DigestMismatch {
            url: url.to_string(),
            expected: expected.to_string(),
            actual: actual.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for good in [
            "calc",
            "acme/calc",
            "a/b/c",
            "acme/calc-tools",
            "acme/calc--x",
            "acme/calc.v2",
            "acme/calc_x",
            "acme/calc__x",
            "0/9",
        ] {
            assert!(validate_repository(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/",
            "acme/",
            "/acme",
            "acme//calc",
            "Acme/calc",
            "acme/../calc",
            "acme/.calc",
            "acme/calc-",
            "acme/calc___x",
            "acme/calc._x",
            "acme/calc?x",
            "acme/calc#x",
            "acme/calc x",
            "acme/calc%2f",
            "acme\\calc",
        ] {
            assert!(
                matches!(
                    validate_repository(bad),
                    Err(OciError::InvalidRepository(_))
                ),
                "{bad}"
            );
        }
        assert!(validate_repository(&"a".repeat(256)).is_err());
    }

    #[test]
    fn digests() {
        let hex = "ab".repeat(32);
        assert_eq!(
            parse_digest(&format!("sha256:{}", hex.to_uppercase())).as_deref(),
            Ok(format!("sha256:{hex}").as_str())
        );
        for bad in [
            String::new(),
            hex.clone(),
            format!("sha512:{hex}"),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}0"),
            format!("sha256:{}g", &hex[1..]),
            format!("sha256:{hex}/../x"),
        ] {
            assert!(
                matches!(parse_digest(&bad), Err(OciError::InvalidDigest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn content_must_hash_to_its_digest() {
        let digest = sha256_digest(b"payload");
        assert_eq!(
            digest,
            "sha256:239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"
        );
        assert!(verify_digest("u", &digest, b"payload").is_ok());
        let error = verify_digest("u", &digest, b"payloaD").expect_err("swapped");
        assert!(
            matches!(&error, OciError::DigestMismatch { expected, actual, .. } if *expected == digest && *actual == sha256_digest(b"payloaD")),
            "{error}"
        );
    }
}
