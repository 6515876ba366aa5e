//! [`Registry::discover`]: the signatures, attestations and Sigstore bundle
//! referrers stored for an image digest, as provgraph evidence JSON; and
//! [`Registry::index_manifests`]: the platform manifests of an image index.

use std::collections::{BTreeSet, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::manifest::{Descriptor, Document, media_types};
use crate::reference::{parse_digest, validate_repository};
use crate::registry::parse;
use crate::{MAX_DESCRIPTORS, MAX_MANIFEST_BYTES, MAX_REFERRER_PAGES, OciError, Registry};
use provgraph_model::one_line;

/// Where a piece of evidence was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoverySource {
    /// A layer of the legacy cosign signature tag `sha256-<hex>.sig`.
    SignatureTag,
    /// A layer of the legacy cosign attestation tag `sha256-<hex>.att`.
    AttestationTag,
    /// A Sigstore bundle or Notary Project signature referrer listed by the
    /// OCI 1.1 referrers API.
    Referrers,
    /// A Sigstore bundle referrer listed by the referrers tag `sha256-<hex>`
    /// (the fallback for registries without the referrers API).
    ReferrersTag,
}

/// One piece of evidence found for a digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscoveredEvidence {
    /// Where it was found.
    pub source: DiscoverySource,
    /// The tag it was found under (`sha256-<hex>.sig`, `sha256-<hex>.att`),
    /// or the referrer manifest's digest.
    pub reference: String,
    /// The digest of the blob the evidence was read from (the layer), which
    /// the blob was checked against.
    pub blob_digest: provgraph_model::Digest,
    /// The evidence as provgraph imports it (`POST /v1/evidence`,
    /// `provgraph_signatures::parse_evidence`): for tag layers, the cosign
    /// layer form `{"payload": base64(blob), "signature", "certificate"?,
    /// "chain"?, "bundle"?}`; for referrers, the Sigstore bundle itself.
    pub body: Value,
}

/// What [`Registry::discover`] found, and what it did not.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Discovery {
    /// The evidence found, in order: signature tag layers, attestation tag
    /// layers, referrers.
    pub evidence: Vec<DiscoveredEvidence>,
    /// One line per thing absent or skipped: no `.sig` tag, referrers API
    /// unsupported (tag fallback used), a layer without a signature, ...
    pub notes: Vec<String>,
}

/// One entry of an image index: the workspace's one index reader's entry
/// ([`provgraph_model::parse_image_index`]).
pub type PlatformManifest = provgraph_model::IndexEntry;

/// Whether `artifact_type` is a Sigstore bundle
/// (`application/vnd.dev.sigstore.bundle...`).
fn is_sigstore_bundle(artifact_type: &str) -> bool {
    artifact_type.starts_with(media_types::SIGSTORE_BUNDLE_PREFIX)
}

impl Registry {
    /// Finds the evidence stored for `repository@digest` (`acme/calc`,
    /// `sha256:<64 hex>`): the cosign `.sig` and `.att` tags' layers, and
    /// the Sigstore bundles among the digest's OCI 1.1 referrers (through
    /// the referrers API, or the referrers tag when the registry lacks it).
    ///
    /// Absent tags and skipped contents are [`Discovery::notes`]; network
    /// failures, unexpected statuses, unparseable manifests, digest or size
    /// mismatches and exceeded caps are errors.
    pub async fn discover(&self, repository: &str, digest: &str) -> Result<Discovery, OciError> {
        validate_repository(repository)?;
        let digest = parse_digest(digest)?;
        let hex = digest.trim_start_matches("sha256:");
        let mut found = Discovery::default();
        self.legacy_tag(
            repository,
            &format!("sha256-{hex}.sig"),
            DiscoverySource::SignatureTag,
            &mut found,
        )
        .await?;
        self.legacy_tag(
            repository,
            &format!("sha256-{hex}.att"),
            DiscoverySource::AttestationTag,
            &mut found,
        )
        .await?;
        self.sigstore_referrers(repository, &digest, &mut found)
            .await?;
        Ok(found)
    }

    /// The exact bytes of the manifest or index `digest` (checked to hash to
    /// it), for a receiver that verifies the content address itself
    /// (`POST /v1/index`).
    pub async fn manifest_bytes(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<u8>, OciError> {
        crate::reference::validate_repository(repository)?;
        let digest = crate::reference::parse_digest(digest)?;
        let (fetched, _) = self.manifest_by_digest(repository, &digest, None).await?;
        Ok(fetched.body)
    }

    /// The platform manifests of `repository@digest` when it is an image
    /// index (OCI index or Docker manifest list), in index order; `None`
    /// when it is a single image manifest. The index must hash to `digest`;
    /// a digest the registry does not have is [`OciError::NotFound`].
    pub async fn index_manifests(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<Vec<PlatformManifest>>, OciError> {
        validate_repository(repository)?;
        let digest = parse_digest(digest)?;
        let (fetched, document) = self.manifest_by_digest(repository, &digest, None).await?;
        let Document::Index(_) = document else {
            return Ok(None);
        };
        provgraph_model::parse_image_index(&fetched.body)
            .map(Some)
            .map_err(|error| OciError::Malformed {
                url: fetched.url.clone(),
                reason: format!("image index {error}"),
            })
    }

    /// The layers of a legacy cosign tag (`.sig` or `.att`) as cosign layer
    /// evidence.
    async fn legacy_tag(
        &self,
        repository: &str,
        tag: &str,
        source: DiscoverySource,
        found: &mut Discovery,
    ) -> Result<(), OciError> {
        let what = match source {
            DiscoverySource::AttestationTag => "cosign attestation",
            _ => "cosign signature",
        };
        let Some((_, document)) = self.manifest_by_tag(repository, tag).await? else {
            found.notes.push(format!("no {what} tag {tag}"));
            return Ok(());
        };
        let Document::Manifest(manifest) = document else {
            found.notes.push(format!(
                "{what} tag {tag} is {}, not an image manifest: skipped",
                document.kind()
            ));
            return Ok(());
        };
        if manifest.layers.is_empty() {
            found.notes.push(format!("{what} tag {tag} has no layers"));
        }
        if manifest.layers.len() > MAX_DESCRIPTORS {
            found.notes.push(format!(
                "{what} tag {tag} has {} layers: only the first {MAX_DESCRIPTORS} were read",
                manifest.layers.len()
            ));
        }
        for (i, layer) in manifest.layers.iter().take(MAX_DESCRIPTORS).enumerate() {
            let label = format!("{tag} layer {i} ({})", layer.digest);
            let signature = match source {
                DiscoverySource::AttestationTag => {
                    let media_type = layer.media_type.as_deref().unwrap_or("");
                    if media_type != media_types::DSSE_ENVELOPE {
                        found.notes.push(format!(
                            "{label}: media type {media_type:?} is not a DSSE envelope: skipped"
                        ));
                        continue;
                    }
                    // The signature is inside the envelope.
                    String::new()
                }
                _ => match layer.annotation(media_types::ANNOTATION_SIGNATURE) {
                    Some(signature) if !signature.trim().is_empty() => signature.to_string(),
                    _ => {
                        found.notes.push(format!(
                            "{label}: no {} annotation: skipped",
                            media_types::ANNOTATION_SIGNATURE
                        ));
                        continue;
                    }
                },
            };
            let bundle = match layer
                .annotation(media_types::ANNOTATION_BUNDLE)
                .filter(|b| !b.trim().is_empty())
            {
                None => None,
                Some(text) => match serde_json::from_str::<Value>(text) {
                    Ok(value @ Value::Object(_)) => Some(value),
                    Ok(_) => {
                        found.notes.push(format!(
                            "{label}: the Rekor bundle annotation is not a JSON object: skipped"
                        ));
                        continue;
                    }
                    Err(e) => {
                        found.notes.push(one_line(&format!(
                            "{label}: the Rekor bundle annotation is not JSON ({e}): skipped"
                        )));
                        continue;
                    }
                },
            };
            let Some(blob_digest) = layer.sha256() else {
                found.notes.push(format!(
                    "{label}: the digest is not sha256:<64 hex>: skipped"
                ));
                continue;
            };
            let blob = self.blob(repository, layer).await?;

            let mut body = Map::new();
            body.insert("payload".into(), Value::String(STANDARD.encode(&blob)));
            body.insert("signature".into(), Value::String(signature));
            for (key, annotation) in [
                ("certificate", media_types::ANNOTATION_CERTIFICATE),
                ("chain", media_types::ANNOTATION_CHAIN),
            ] {
                if let Some(pem) = layer
                    .annotation(annotation)
                    .filter(|p| !p.trim().is_empty())
                {
                    body.insert(key.into(), Value::String(pem.to_string()));
                }
            }
            if let Some(bundle) = bundle {
                body.insert("bundle".into(), bundle);
            }
            found.evidence.push(DiscoveredEvidence {
                source,
                reference: tag.to_string(),
                blob_digest,
                body: Value::Object(body),
            });
        }
        Ok(())
    }

    /// The Sigstore bundles and Notary Project signatures among the
    /// referrers of `digest`.
    async fn sigstore_referrers(
        &self,
        repository: &str,
        digest: &str,
        found: &mut Discovery,
    ) -> Result<(), OciError> {
        let hex = digest.trim_start_matches("sha256:");
        let (source, descriptors) = match self.referrers_api(repository, digest, found).await? {
            Some(descriptors) => (DiscoverySource::Referrers, descriptors),
            None => {
                let tag = format!("sha256-{hex}");
                match self.manifest_by_tag(repository, &tag).await? {
                    None => {
                        found.notes.push(format!(
                            "the registry does not implement the referrers API, and there is no referrers tag {tag}"
                        ));
                        return Ok(());
                    }
                    Some((_, Document::Index(index))) => {
                        found.notes.push(format!(
                            "the registry does not implement the referrers API: read the referrers tag {tag}"
                        ));
                        (DiscoverySource::ReferrersTag, index.manifests)
                    }
                    Some((_, document)) => {
                        found.notes.push(format!(
                            "the registry does not implement the referrers API, and the referrers tag {tag} is {}, not an image index: skipped",
                            document.kind()
                        ));
                        return Ok(());
                    }
                }
            }
        };
        if descriptors.is_empty() {
            found.notes.push(format!("no referrers for {digest}"));
            return Ok(());
        }

        let mut seen = HashSet::new();
        let mut other_types = BTreeSet::new();
        let mut others = 0usize;
        let mut bundles = 0usize;
        // The image manifest's size, read (by digest) once a Notary
        // signature needs it.
        let mut subject_size: Option<Option<u64>> = None;
        for descriptor in &descriptors {
            let artifact_type = descriptor.artifact_type.as_deref().unwrap_or("");
            let notary = artifact_type == media_types::NOTARY_SIGNATURE;
            if !is_sigstore_bundle(artifact_type) && !notary {
                others += 1;
                other_types.insert(if artifact_type.is_empty() {
                    "(none)".to_string()
                } else {
                    artifact_type.to_string()
                });
                continue;
            }
            let Some(referrer) = descriptor.sha256() else {
                found.notes.push(format!(
                    "referrer {}: the digest is not sha256:<64 hex>: skipped",
                    descriptor.digest
                ));
                continue;
            };
            if !seen.insert(referrer.clone()) {
                continue;
            }
            if bundles == MAX_DESCRIPTORS {
                found.notes.push(format!(
                    "more than {MAX_DESCRIPTORS} signature referrers: the rest were not read"
                ));
                break;
            }
            bundles += 1;
            if notary {
                let size = match subject_size {
                    Some(size) => size,
                    None => {
                        let (fetched, _) =
                            self.manifest_by_digest(repository, digest, None).await?;
                        let size = u64::try_from(fetched.body.len()).ok();
                        subject_size = Some(size);
                        size
                    }
                };
                if let Some(evidence) = self
                    .notary_referrer(
                        repository,
                        (digest, size),
                        descriptor,
                        &referrer,
                        source,
                        found,
                    )
                    .await?
                {
                    found.evidence.push(evidence);
                }
                continue;
            }
            if let Some(evidence) = self
                .bundle_referrer(repository, digest, descriptor, &referrer, source, found)
                .await?
            {
                found.evidence.push(evidence);
            }
        }
        if others > 0 {
            let types: Vec<_> = other_types.into_iter().collect();
            found.notes.push(format!(
                "{others} referrer(s) that are neither Sigstore bundles nor Notary signatures skipped (artifact types: {})",
                types.join(", ")
            ));
        }
        Ok(())
    }

    /// One Sigstore bundle referrer: its manifest (which must name `digest`
    /// as its subject) and its single layer, the bundle.
    async fn bundle_referrer(
        &self,
        repository: &str,
        digest: &str,
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
                "referrer {referrer} is {}, not an image manifest: skipped",
                document.kind()
            ));
            return Ok(None);
        };
        let subject = manifest.subject.as_ref().and_then(Descriptor::sha256);
        if subject.as_deref() != Some(digest) {
            found.notes.push(format!(
                "referrer {referrer} names subject {}, not {digest}: skipped",
                subject.as_deref().unwrap_or("(none)")
            ));
            return Ok(None);
        }
        let [layer] = manifest.layers.as_slice() else {
            found.notes.push(format!(
                "referrer {referrer} has {} layers, expected 1 (the bundle): skipped",
                manifest.layers.len()
            ));
            return Ok(None);
        };
        let Some(blob_digest) = layer.sha256() else {
            found.notes.push(format!(
                "referrer {referrer}: the layer digest {:?} is not sha256:<64 hex>: skipped",
                layer.digest
            ));
            return Ok(None);
        };
        let blob = self.blob(repository, layer).await?;
        match serde_json::from_slice::<Value>(&blob) {
            Ok(body @ Value::Object(_)) => Ok(Some(DiscoveredEvidence {
                source,
                reference: referrer.to_string(),
                blob_digest,
                body,
            })),
            _ => {
                found.notes.push(format!(
                    "referrer {referrer}: the bundle blob is not a JSON object: skipped"
                ));
                Ok(None)
            }
        }
    }

    /// The referrers API's descriptors for `digest`, all pages (up to
    /// [`MAX_REFERRER_PAGES`]); `None` when the registry does not implement
    /// the API (404, 405 or 501 on the first page).
    async fn referrers_api(
        &self,
        repository: &str,
        digest: &str,
        found: &mut Discovery,
    ) -> Result<Option<Vec<Descriptor>>, OciError> {
        let mut url = self.url(repository, &format!("referrers/{digest}"));
        let mut descriptors = Vec::new();
        for page in 0..=MAX_REFERRER_PAGES {
            if page == MAX_REFERRER_PAGES {
                found.notes.push(format!(
                    "the referrers answer has more than {MAX_REFERRER_PAGES} pages: the rest were not read"
                ));
                break;
            }
            let absent: &[StatusCode] = if page == 0 {
                &[
                    StatusCode::NOT_FOUND,
                    StatusCode::METHOD_NOT_ALLOWED,
                    StatusCode::NOT_IMPLEMENTED,
                ]
            } else {
                &[]
            };
            let Some(fetched) = self
                .get(
                    &url,
                    Some(media_types::OCI_INDEX),
                    MAX_MANIFEST_BYTES,
                    absent,
                )
                .await?
            else {
                return Ok(None);
            };
            let Document::Index(index) = parse(&fetched)? else {
                return Err(OciError::Malformed {
                    url,
                    reason: "the referrers answer is not an image index".into(),
                });
            };
            descriptors.extend(index.manifests);
            match fetched.next {
                None => break,
                Some(next) if same_origin(&next, self.base_url()) => url = next,
                Some(next) => {
                    return Err(OciError::Malformed {
                        url,
                        reason: format!("the referrers answer links to another host: {next}"),
                    });
                }
            }
        }
        Ok(Some(descriptors))
    }
}

/// Whether `url` has the scheme, host and port of `base`.
fn same_origin(url: &str, base: &str) -> bool {
    match (Url::parse(url), Url::parse(base)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigstore_bundle_artifact_types() {
        assert!(is_sigstore_bundle(media_types::SIGSTORE_BUNDLE_V03));
        assert!(is_sigstore_bundle(
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
        ));
        assert!(!is_sigstore_bundle("application/spdx+json"));
        assert!(!is_sigstore_bundle(""));
    }

    #[test]
    fn pagination_stays_on_the_registry() {
        assert!(same_origin("http://r:5000/v2/x?n=1", "http://r:5000"));
        assert!(same_origin("http://r/v2/x", "http://r:80"));
        assert!(!same_origin("http://r:5001/v2/x", "http://r:5000"));
        assert!(!same_origin("http://evil:5000/v2/x", "http://r:5000"));
        assert!(!same_origin("https://r:5000/v2/x", "http://r:5000"));
        assert!(!same_origin("not a url", "http://r:5000"));
    }

    #[tokio::test]
    async fn bad_inputs_are_refused_before_any_request() {
        // Nothing listens on port 9 of a reserved documentation address;
        // validation must fail first.
        let registry = Registry::new("http://192.0.2.1:9").expect("registry");
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert!(matches!(
            registry.discover("Acme/../calc", &digest).await,
            Err(OciError::InvalidRepository(_))
        ));
        assert!(matches!(
            registry.discover("acme/calc", "latest").await,
            Err(OciError::InvalidDigest(_))
        ));
        assert!(matches!(
            registry.index_manifests("acme/calc", "sha256:00").await,
            Err(OciError::InvalidDigest(_))
        ));
    }
}
