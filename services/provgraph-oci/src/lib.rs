//! Discovery of Cosign signatures, attestations and Sigstore bundles for an
//! image digest in an OCI registry, turned into the evidence JSON that
//! provgraph imports (`provgraph_signatures::parse_evidence`,
//! `POST /v1/evidence`).
//!
//! For `repository@sha256:<hex>`, [`Registry::discover`] looks in three
//! places, as cosign and the OCI 1.1 distribution spec store them:
//!
//! 1. the legacy signature tag `sha256-<hex>.sig`: a manifest whose layers
//!    are simple-signing payloads, with the signature, certificate, chain and
//!    Rekor bundle in each layer's annotations;
//! 2. the legacy attestation tag `sha256-<hex>.att`: layers that are DSSE
//!    envelopes (`application/vnd.dsse.envelope.v1+json`);
//! 3. OCI 1.1 referrers (`GET /v2/<repo>/referrers/<digest>`, or, when the
//!    registry does not implement it, the referrers tag `sha256-<hex>`) whose
//!    `artifactType` is a Sigstore bundle (the bundle is the layer blob) or
//!    a Notary Project signature (`application/vnd.cncf.notary.signature`:
//!    the layer is the JWS or COSE envelope, imported in a JSON wrapper
//!    with the repository reference and the image manifest's size).
//!
//! Everything fetched is checked before it is used: manifests fetched by
//! digest and every blob must hash (SHA-256) to the digest that named them,
//! and match the descriptor's size, so a registry cannot swap payloads.
//! Reads are capped: [`MAX_MANIFEST_BYTES`] per manifest or referrers page,
//! [`MAX_BLOB_BYTES`] per blob, [`MAX_DESCRIPTORS`] evidence layers or
//! referrers looked at per manifest, [`MAX_REFERRER_PAGES`] referrers pages.
//!
//! Absent things (no `.sig` tag, no referrers) are [`Discovery::notes`], not
//! errors; so are well-formed but unexpected contents (a layer without a
//! signature annotation, a referrer whose subject is another digest), which
//! are skipped. Network failures, unexpected HTTP statuses, unparseable
//! manifests, digest or size mismatches and exceeded caps are an
//! [`OciError`] with a one-line message.
//!
//! Scope today: plain `http://` registries without authentication. An
//! `https://` URL is refused by [`Registry::new`] (this crate enables no TLS
//! backend in reqwest); a caller may pass its own TLS-capable client to
//! [`Registry::with_client`]. Basic and bearer-token authentication (the
//! `WWW-Authenticate` token dance public registries require even for
//! anonymous pulls) are not implemented: a 401 or 403 is
//! [`OciError::Unauthorized`].

#![warn(missing_docs)]

mod discover;
mod error;
mod manifest;
mod notary;
mod reference;
mod registry;
#[cfg(feature = "testing")]
pub mod testing;

pub use discover::{DiscoveredEvidence, Discovery, DiscoverySource, PlatformManifest};
pub use error::OciError;
pub use manifest::media_types;
pub use reference::{parse_digest, sha256_digest, validate_repository};
pub use registry::Registry;

/// The largest manifest, image index or referrers page read, in bytes (4 MiB,
/// the limit the OCI distribution spec lets registries enforce).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// The largest blob read (a signature payload, DSSE envelope or Sigstore
/// bundle), in bytes (16 MiB). A descriptor announcing more is refused
/// before anything is downloaded.
pub const MAX_BLOB_BYTES: u64 = 16 * 1024 * 1024;

/// At most this many layers of a `.sig` or `.att` manifest, and this many
/// referrers in all, are looked at; the rest are skipped with a note.
pub const MAX_DESCRIPTORS: usize = 256;

/// At most this many pages of a paginated referrers answer (`Link:
/// <...>; rel="next"`) are read; the rest are skipped with a note.
pub const MAX_REFERRER_PAGES: usize = 16;
