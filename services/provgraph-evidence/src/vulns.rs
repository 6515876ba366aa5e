//! Vulnerability documents as evidence: OSV records, Trivy, Grype and
//! govulncheck reports and OpenVEX documents, recognised by shape
//! (`provgraph_vuln::parse_document`). Posted bare they are claims;
//! inside a verified attestation (an OpenVEX predicate, cosign's
//! vulnerability predicate) proofs about its subject.

use provgraph_model::Principal;
use provgraph_store::{OsvWriteStats, Store, VulnProvenance};
use provgraph_vuln::{Document, Format, parse_digest};
use serde::Serialize;
use serde_json::Value;
use sha2::Digest;

use crate::ImportError;

/// cosign's vulnerability scan predicate (`cosign attest --type vuln`).
pub const COSIGN_VULN_PREDICATE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// The OpenVEX predicate type prefix (`https://openvex.dev/ns/v0.2.0`).
pub const OPENVEX_PREDICATE: &str = "https://openvex.dev/ns";

/// What a vulnerability document stored: the answer of `POST
/// /v1/evidence` for one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnSummary {
    /// `OSV`, `Trivy`, `Grype`, `govulncheck`, `OpenVEX`.
    pub format: String,
    /// `CLAIMED` (posted bare) or `PROVEN` (inside a verified attestation).
    pub origin: String,
    /// `osv:sha256:<hex>` (etc.) of the document as received.
    pub source: String,
    /// OSV records: new, updated (a newer `modified`), unchanged.
    pub records_new: u64,
    pub records_updated: u64,
    pub records_unchanged: u64,
    /// AFFECTS edges the new and updated records gave (modules, packages
    /// and go.mod files in the graph that their ranges cover).
    pub matched: u64,
    /// The images a report's findings or a VEX document's statements are
    /// about.
    pub images: Vec<String>,
    pub findings: u64,
    pub vulnerabilities: u64,
    /// VEX (statement, image) pairs stored.
    pub statements: u64,
    /// VEX products that name no image digest: skipped, not stored.
    pub skipped_products: u64,
}

fn provenance(
    format: Format,
    body: &[u8],
    proven: bool,
    principal: Option<&Principal>,
) -> VulnProvenance {
    let name = match format {
        Format::Osv => "osv",
        Format::Trivy => "trivy",
        Format::Grype => "grype",
        Format::Govulncheck => "govulncheck",
        Format::OpenVex => "openvex",
    };
    VulnProvenance {
        proven,
        source: format!("{name}:sha256:{}", hex::encode(sha2::Sha256::digest(body))),
        principal: principal.map(|p| p.name().to_string()),
    }
}

/// Stores a parsed document. `digest` is `?digest=` (or an attestation's
/// subject, with `only` set: then a VEX document speaks for that image
/// alone).
pub(crate) async fn store_document(
    store: &Store,
    format: Format,
    document: Document,
    body: &[u8],
    digest: Option<String>,
    proven: bool,
    principal: Option<&Principal>,
) -> Result<VulnSummary, ImportError> {
    let provenance = provenance(format, body, proven, principal);
    let digest = digest
        .map(|digest| {
            parse_digest(digest.trim()).ok_or_else(|| {
                ImportError::Invalid(format!(
                    "?digest={:?} is not sha256:<64 hex>",
                    provgraph_model::keys::shorten(&digest, 80)
                ))
            })
        })
        .transpose()?;
    let mut summary = VulnSummary {
        format: format.as_str().to_string(),
        origin: if proven { "PROVEN" } else { "CLAIMED" }.to_string(),
        source: provenance.source.clone(),
        ..VulnSummary::default()
    };
    let add_records = |summary: &mut VulnSummary, stats: OsvWriteStats| {
        summary.records_new += stats.new;
        summary.records_updated += stats.updated;
        summary.records_unchanged += stats.unchanged;
        summary.matched += stats.affects;
    };
    match document {
        Document::Osv(records) => {
            let stats = store.write_osv_records(&records, &provenance).await?;
            add_records(&mut summary, stats);
        }
        Document::Scan(report) => {
            let images = match digest {
                Some(digest) => vec![digest],
                None => report.images.clone(),
            };
            if images.is_empty() {
                return Err(ImportError::Invalid(format!(
                    "the {} report names no image digest: pass ?digest=sha256:<hex>",
                    format.as_str()
                )));
            }
            if !report.records.is_empty() {
                let stats = store
                    .write_osv_records(&report.records, &provenance)
                    .await?;
                add_records(&mut summary, stats);
            }
            let stats = store
                .write_scan_report(&report, &images, &provenance)
                .await?;
            summary.images = stats.images;
            summary.findings = stats.findings;
            summary.vulnerabilities = stats.vulnerabilities;
        }
        Document::Vex(document) => {
            let only = if proven { digest.as_deref() } else { None };
            let stats = store.write_vex(&document, only, &provenance).await?;
            let mut images: Vec<String> = document
                .statements
                .iter()
                .flat_map(|s| s.digests.iter().cloned())
                .filter(|d| only.is_none_or(|only| only == d))
                .collect();
            images.sort();
            images.dedup();
            summary.images = images;
            summary.statements = stats.statements;
            summary.skipped_products = stats.skipped_products;
            summary.vulnerabilities = document.statements.len() as u64;
        }
    }
    if let Some(principal) = principal {
        tracing::info!(
            principal = principal.name(),
            format = format.as_str(),
            source = %summary.source,
            "vulnerability document stored"
        );
    }
    Ok(summary)
}

/// A document from a predicate: its format, parsed form and bytes.
pub(crate) type Attested = (Format, Document, Vec<u8>);

/// The vulnerability document a verified attestation's predicate carries:
/// an OpenVEX document, or the scanner report inside cosign's vulnerability
/// predicate (`scanner.result`). `None` for other predicates; an error
/// when the predicate is one of these and does not parse.
pub(crate) fn predicate_document(
    predicate_type: &str,
    predicate: &Value,
) -> Option<Result<Attested, String>> {
    let value = if predicate_type.starts_with(OPENVEX_PREDICATE) {
        predicate.clone()
    } else if predicate_type == COSIGN_VULN_PREDICATE {
        predicate.get("scanner")?.get("result")?.clone()
    } else {
        return None;
    };
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    let values = vec![value];
    let Some(format) = provgraph_vuln::recognize(&values) else {
        return Some(Err(format!(
            "the {predicate_type} predicate holds no OpenVEX, Trivy, Grype or OSV document"
        )));
    };
    Some(
        provgraph_vuln::parse_as(format, &values)
            .map(|document| (format, document, bytes))
            .map_err(|err| err.to_string()),
    )
}
