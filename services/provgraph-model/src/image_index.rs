//! The one reader of OCI image indexes and Docker manifest lists: the
//! platform manifests an index lists, as `POST /v1/index`, `provgraph emit
//! --oci-index` and registry discovery read them.
//!
//! Pure: the index's own digest is the SHA-256 of its exact bytes, which the
//! caller computes (this crate hashes nothing).

use crate::ids::{Digest, IdError};

/// One entry of an image index, in index order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexEntry {
    /// The platform manifest's digest.
    pub digest: Digest,
    /// The entry's `mediaType`, as the index gives it.
    pub media_type: Option<String>,
    /// `os/arch[/variant]` (`linux/arm64/v8`), when the entry names a
    /// platform with both os and architecture.
    pub platform: Option<String>,
}

/// Why bytes are not an image index.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a JSON object")]
    NotAnObject,
    /// An image manifest (`layers`, `config`), not a list of them.
    #[error("a single-platform image manifest, not an index")]
    SingleManifest,
    #[error("not an image index: no \"manifests\" list")]
    NoManifests,
    #[error("manifests[{at}] has no digest")]
    NoDigest { at: usize },
    #[error("manifests[{at}].digest {}", .source)]
    BadDigest {
        at: usize,
        #[source]
        source: IdError,
    },
}

/// Reads the entries of an OCI image index or Docker manifest list
/// (unknown fields ignored; every entry must have a `sha256:` digest).
pub fn parse_image_index(bytes: &[u8]) -> Result<Vec<IndexEntry>, IndexError> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| IndexError::NotJson(crate::one_line(&err.to_string())))?;
    let object = json.as_object().ok_or(IndexError::NotAnObject)?;
    let manifests = match object.get("manifests").and_then(|m| m.as_array()) {
        Some(manifests) => manifests,
        None if object.contains_key("layers") || object.contains_key("config") => {
            return Err(IndexError::SingleManifest);
        }
        None => return Err(IndexError::NoManifests),
    };
    let text = |value: &serde_json::Value, key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    manifests
        .iter()
        .enumerate()
        .map(|(at, manifest)| {
            let raw = manifest
                .get("digest")
                .and_then(|d| d.as_str())
                .ok_or(IndexError::NoDigest { at })?;
            let digest =
                Digest::parse(raw).map_err(|source| IndexError::BadDigest { at, source })?;
            let platform = manifest.get("platform").and_then(|p| {
                let (os, arch) = (text(p, "os")?, text(p, "architecture")?);
                Some(match text(p, "variant") {
                    Some(variant) => format!("{os}/{arch}/{variant}"),
                    None => format!("{os}/{arch}"),
                })
            });
            Ok(IndexEntry {
                digest,
                media_type: manifest
                    .get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_string),
                platform,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(byte: u8) -> String {
        format!("sha256:{}", hex::encode([byte; 32]))
    }

    #[test]
    fn entries_in_order_with_platforms() {
        let (a, b, c) = (digest(0xa), digest(0xb), digest(0xc));
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": a, "size": 1,
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"digest": b.to_ascii_uppercase().replace("SHA256", "sha256"),
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {"digest": c, "platform": {"os": "", "architecture": "amd64"}}
            ]
        });
        let entries = parse_image_index(&serde_json::to_vec(&index).unwrap()).unwrap();
        let got: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.digest.as_str(),
                    e.platform.as_deref(),
                    e.media_type.is_some(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (a.as_str(), Some("linux/amd64"), true),
                (b.as_str(), Some("linux/arm64/v8"), false),
                (c.as_str(), None, false),
            ]
        );
    }

    #[test]
    fn what_is_not_an_index() {
        let check = |body: &str, error: IndexError| {
            assert_eq!(parse_image_index(body.as_bytes()), Err(error), "{body}");
        };
        check("[]", IndexError::NotAnObject);
        check(r#"{"config":{},"layers":[]}"#, IndexError::SingleManifest);
        check(r#"{"schemaVersion":2}"#, IndexError::NoManifests);
        check(
            r#"{"manifests":[{"size":1}]}"#,
            IndexError::NoDigest { at: 0 },
        );
        let err = parse_image_index(br#"{"manifests":[{"digest":"sha256:00"}]}"#).unwrap_err();
        assert!(matches!(err, IndexError::BadDigest { at: 0, .. }));
        assert_eq!(
            err.to_string(),
            "manifests[0].digest \"sha256:00\" is not sha256:<64 hex>"
        );
        let err = parse_image_index(b"{\n").unwrap_err();
        assert!(
            matches!(&err, IndexError::NotJson(m) if !m.contains('\n')),
            "{err}"
        );
    }
}
