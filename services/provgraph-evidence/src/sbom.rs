//! A bare SBOM posted as evidence: an unsigned claim, under its sender's
//! name, that the artifact contains its packages (an SBOM inside a verified
//! attestation is a proof instead, see `record`).

use provgraph_model::Principal;
use provgraph_model::sbom::SbomPackages;
use provgraph_store::Store;
use sha2::Digest;

use crate::{ImportError, ImportResult};

/// Stores `sbom` (whose text is `text`) as claims about `digest`.
pub(crate) async fn import_sbom(
    store: &Store,
    text: &str,
    sbom: SbomPackages,
    digest: Option<String>,
    principal: Option<&Principal>,
) -> Result<Vec<ImportResult>, ImportError> {
    let digest = digest.ok_or_else(|| {
        ImportError::Invalid(
            "an SBOM needs ?digest=sha256:<hex> naming the artifact it describes".into(),
        )
    })?;
    let subject = provgraph_model::keys::normalize_digest(&digest)
        .map_err(|err| ImportError::Invalid(err.to_string()))?;
    let evidence_id = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    let source = format!("sbom:sha256:{evidence_id}");
    let sender = sbom.tool.clone().unwrap_or_else(|| "sbom".to_string());
    let scoped = match principal {
        Some(principal) => principal.scope(&source),
        None => source,
    };
    store
        .write_sbom(&subject, &sbom.packages, &scoped, &sender)
        .await?;
    // Its modules and packages find the vulnerability records imported.
    store.match_new_nodes().await?;
    let modules = sbom
        .packages
        .iter()
        .filter(|(k, _)| *k == provgraph_model::NodeKind::Module)
        .count();
    let reason = format!(
        "unsigned {:?} SBOM by {sender}: {modules} Go module(s), {} other package(s){} recorded as claims",
        sbom.format,
        sbom.packages.len() - modules,
        if sbom.skipped > 0 {
            format!(", {} unparseable purl(s) skipped,", sbom.skipped)
        } else {
            String::new()
        }
    );
    Ok(vec![ImportResult::Sbom {
        subject,
        reason,
        evidence_id,
    }])
}
