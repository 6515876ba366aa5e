//! A multi-platform image index (OCI image index or Docker manifest list)
//! read from its exact bytes: its digest and its manifests' digests.

use provgraph_model::keys::normalize_digest;
use sha2::Digest as _;

/// An image index read from its exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciIndex {
    /// sha256 of the file bytes: the index's digest.
    pub digest: String,
    /// `manifests[].digest`, in order.
    pub manifests: Vec<String>,
}

/// Why a file is not an image index provgraph can read.
#[derive(Debug, thiserror::Error)]
pub enum OciIndexError {
    /// The file is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// A single-platform manifest (it has `config` or `layers`).
    #[error("a single-platform image manifest, not an index: give its digest with --digest")]
    SingleManifest,
    /// No `manifests` list.
    #[error("not an image index: no \"manifests\" list")]
    NoManifests,
    /// `manifests[at]` has no string `digest`.
    #[error("manifests[{at}] has no digest")]
    NoDigest { at: usize },
    /// `manifests[at].digest` is not `sha256:<64 hex>`.
    #[error("manifests[{at}].digest {raw:?} is not sha256:<64 hex>")]
    BadDigest { at: usize, raw: String },
}

/// Reads an OCI image index or Docker manifest list. Its digest is the
/// sha256 of the exact bytes (as pushed; a reformatted file has another).
pub fn read_oci_index(bytes: &[u8]) -> Result<OciIndex, OciIndexError> {
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(OciIndexError::NotJson)?;
    let object = json.as_object().ok_or(OciIndexError::NotObject)?;
    let manifests = match object.get("manifests").and_then(|m| m.as_array()) {
        Some(manifests) => manifests,
        None if object.contains_key("layers") || object.contains_key("config") => {
            return Err(OciIndexError::SingleManifest);
        }
        None => return Err(OciIndexError::NoManifests),
    };
    let mut digests = Vec::with_capacity(manifests.len());
    for (at, manifest) in manifests.iter().enumerate() {
        let raw = manifest
            .get("digest")
            .and_then(|d| d.as_str())
            .ok_or(OciIndexError::NoDigest { at })?;
        digests.push(normalize_digest(raw).map_err(|_| OciIndexError::BadDigest {
            at,
            raw: raw.to_string(),
        })?);
    }
    Ok(OciIndex {
        digest: format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes))),
        manifests: digests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn oci_index_digest_is_of_the_exact_bytes() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"digest":"{A}","platform":{{"os":"linux","architecture":"amd64"}}}},{{"digest":"{B}"}}]}}"#
        );
        let read = read_oci_index(index.as_bytes()).unwrap();
        assert_eq!(
            read.digest,
            format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(index.as_bytes()))
            )
        );
        assert_eq!(read.manifests, vec![A, B]);
        // The same index written again with other spacing is another digest.
        let spaced = index.replace(',', ", ");
        let again = read_oci_index(spaced.as_bytes()).unwrap();
        assert_ne!(again.digest, read.digest);
        assert_eq!(again.manifests, read.manifests);
        assert_eq!(
            read_oci_index(br#"{"config":{},"layers":[]}"#)
                .unwrap_err()
                .to_string(),
            "a single-platform image manifest, not an index: give its digest with --digest"
        );
        assert!(matches!(
            read_oci_index(br#"{"schemaVersion":2}"#),
            Err(OciIndexError::NoManifests)
        ));
        assert_eq!(
            read_oci_index(br#"{"manifests":[{"size":1}]}"#)
                .unwrap_err()
                .to_string(),
            "manifests[0] has no digest"
        );
        let err = read_oci_index(
            format!(r#"{{"manifests":[{{"digest":"{A}"}},{{"digest":"md5:x"}}]}}"#).as_bytes(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, OciIndexError::BadDigest { at: 1, raw } if raw == "md5:x"),
            "{err}"
        );
        assert!(matches!(
            read_oci_index(b"[]"),
            Err(OciIndexError::NotObject)
        ));
        assert!(matches!(
            read_oci_index(b"{"),
            Err(OciIndexError::NotJson(_))
        ));
    }
}
