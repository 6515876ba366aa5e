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

/// Reads an OCI image index or Docker manifest list. Its digest is the
/// sha256 of the exact bytes (as pushed; a reformatted file has another).
pub fn read_oci_index(bytes: &[u8]) -> Result<OciIndex, String> {
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|err| format!("not JSON: {err}"))?;
    let object = json.as_object().ok_or("not a JSON object")?;
    let manifests = match object.get("manifests").and_then(|m| m.as_array()) {
        Some(manifests) => manifests,
        None if object.contains_key("layers") || object.contains_key("config") => {
            return Err(
                "a single-platform image manifest, not an index: give its digest with --digest"
                    .to_string(),
            );
        }
        None => return Err("not an image index: no \"manifests\" list".to_string()),
    };
    let mut digests = Vec::with_capacity(manifests.len());
    for (at, manifest) in manifests.iter().enumerate() {
        let raw = manifest
            .get("digest")
            .and_then(|d| d.as_str())
            .ok_or(format!("manifests[{at}] has no digest"))?;
        digests.push(
            normalize_digest(raw)
                .map_err(|_| format!("manifests[{at}].digest {raw:?} is not sha256:<64 hex>"))?,
        );
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
        assert!(
            read_oci_index(br#"{"config":{},"layers":[]}"#)
                .unwrap_err()
                .contains("not an index")
        );
        assert!(
            read_oci_index(br#"{"manifests":[{"size":1}]}"#)
                .unwrap_err()
                .contains("manifests[0] has no digest")
        );
    }
}
