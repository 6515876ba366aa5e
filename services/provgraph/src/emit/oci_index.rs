//! A multi-platform image index (OCI image index or Docker manifest list)
//! read from its exact bytes: its digest and its manifests' digests.

use provgraph_model::{IndexError, parse_image_index};

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
    /// A single-platform manifest (it has `config` or `layers`).
    #[error("a single-platform image manifest, not an index: give its digest with --digest")]
    SingleManifest,
    /// Not an index, as the model's one index reader says.
    #[error(transparent)]
    Index(IndexError),
}

impl From<IndexError> for OciIndexError {
    fn from(error: IndexError) -> Self {
        match error {
            IndexError::SingleManifest => OciIndexError::SingleManifest,
            other => OciIndexError::Index(other),
        }
    }
}

/// Reads an OCI image index or Docker manifest list. Its digest is the
/// sha256 of the exact bytes (as pushed; a reformatted file has another).
pub fn read_oci_index(bytes: &[u8]) -> Result<OciIndex, OciIndexError> {
    let entries = parse_image_index(bytes)?;
    Ok(OciIndex {
        digest: provgraph_oci::sha256_digest(bytes).into(),
        manifests: entries.into_iter().map(|e| e.digest.into()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

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
            Err(OciIndexError::Index(IndexError::NoManifests))
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
            matches!(&err, OciIndexError::Index(IndexError::BadDigest { at: 1, source }) if source.value == "md5:x"),
            "{err}"
        );
        assert!(matches!(
            read_oci_index(b"[]"),
            Err(OciIndexError::Index(IndexError::NotAnObject))
        ));
        assert!(matches!(
            read_oci_index(b"{"),
            Err(OciIndexError::Index(IndexError::NotJson(_)))
        ));
    }
}
