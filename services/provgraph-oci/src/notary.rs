//! Notary Project signatures among an image's OCI 1.1 referrers (artifact
//! type `application/vnd.cncf.notary.signature`): the signature manifest
//! names the image as its subject and holds one layer, the envelope
//! (`application/jose+json` or `application/cose`), which becomes the
//! evidence wrapper provgraph imports: `{"notaryEnvelope": base64,
//! "mediaType", "reference": "HOST/REPOSITORY", "size"}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use serde_json::Value;

use crate::discover::{DiscoveredEvidence, Discovery, DiscoverySource};
use crate::manifest::{Descriptor, Document};
use crate::{OciError, Registry};

/// The envelope media types a signature layer may have.
const ENVELOPE_TYPES: [&str; 2] = ["application/jose+json", "application/cose"];

impl Registry {
    /// `HOST[:PORT]/REPOSITORY`, the reference notation's trust policies
    /// scope.
    pub fn reference(&self, repository: &str) -> String {
        let host = Url::parse(self.base_url())
            .ok()
            .and_then(|url| {
                let host = url.host_str()?.to_string();
                Some(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
            .unwrap_or_default();
        format!("{host}/{repository}")
    }

    /// One Notary Project signature referrer of `digest` (whose manifest is
    /// `size` bytes): its manifest, which must name `digest` as subject,
    /// and its single envelope layer.
    pub(crate) async fn notary_referrer(
        &self,
        repository: &str,
        (digest, size): (&str, Option<u64>),
        descriptor: &Descriptor,
        referrer: &str,
        source: DiscoverySource,
        found: &mut Discovery,
    ) -> Result<Option<DiscoveredEvidence>, OciError> {
        let (_, document) = self
            .manifest_by_digest(repository, referrer, Some(descriptor.size))
            .await?;
        let Document::Manifest(manifest) = document else {
            found.notes.push(format!(
                "Notary signature {referrer} is {}, not an image manifest: skipped",
                document.kind()
            ));
            return Ok(None);
        };
        let subject = manifest.subject.as_ref().and_then(Descriptor::sha256);
        if subject.as_deref() != Some(digest) {
            found.notes.push(format!(
                "Notary signature {referrer} names subject {}, not {digest}: skipped",
                subject.as_deref().unwrap_or("(none)")
            ));
            return Ok(None);
        }
        let [layer] = manifest.layers.as_slice() else {
            found.notes.push(format!(
                "Notary signature {referrer} has {} layers, expected 1 (the envelope): skipped",
                manifest.layers.len()
            ));
            return Ok(None);
        };
        let media_type = layer.media_type.as_deref().unwrap_or("");
        if !ENVELOPE_TYPES.contains(&media_type) {
            found.notes.push(format!(
                "Notary signature {referrer}: layer media type {media_type:?} is not a Notary envelope: skipped"
            ));
            return Ok(None);
        }
        let Some(blob_digest) = layer.sha256() else {
            found.notes.push(format!(
                "Notary signature {referrer}: the layer digest {:?} is not sha256:<64 hex>: skipped",
                layer.digest
            ));
            return Ok(None);
        };
        let blob = self.blob(repository, layer).await?;
        let mut body = serde_json::json!({
            "notaryEnvelope": STANDARD.encode(&blob),
            "mediaType": media_type,
            "reference": self.reference(repository),
        });
        if let Some(size) = size {
            body["size"] = Value::from(size);
        }
        Ok(Some(DiscoveredEvidence {
            source,
            reference: referrer.to_string(),
            blob_digest,
            body,
        }))
    }
}
