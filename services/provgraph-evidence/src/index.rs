//! Image index membership: an OCI image index (or Docker manifest list)
//! posted with its digest. The digest binds the list, so membership is
//! proven by content addressing, whoever posts it. The index is read by the
//! model's one index reader.

use provgraph_model::{Digest, IndexError, KeyError, parse_image_index};
use sha2::Digest as _;

/// Why a posted index is refused (400).
#[derive(Debug, thiserror::Error)]
pub enum IndexPostError {
    /// `?digest=` is not an image digest.
    #[error(transparent)]
    Digest(#[from] KeyError),
    /// The body is not the index the digest names.
    #[error("the body hashes to {actual}, not {expected}: post the index manifest's exact bytes")]
    Mismatch { actual: Digest, expected: String },
    /// The body is not an image index.
    #[error("the index: {0}")]
    Index(#[from] IndexError),
}

/// The platform manifests an index whose bytes are `body` lists, each with
/// its platform (`os/arch[/variant]`), after checking that `body` hashes to
/// `digest`.
pub fn parse_index(
    body: &[u8],
    digest: &str,
) -> Result<Vec<(String, Option<String>)>, IndexPostError> {
    let expected = provgraph_model::keys::normalize_digest(digest)?;
    let actual = Digest::from_sha256(sha2::Sha256::digest(body).into());
    if actual != expected {
        return Err(IndexPostError::Mismatch { actual, expected });
    }
    Ok(parse_image_index(body)?
        .into_iter()
        .map(|entry| (entry.digest.into(), entry.platform))
        .collect())
}
