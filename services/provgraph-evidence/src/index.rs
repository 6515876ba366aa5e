//! Image index membership: an OCI image index (or Docker manifest list)
//! posted with its digest. The digest binds the list, so membership is
//! proven by content addressing, whoever posts it.

use sha2::Digest;

/// The platform manifests an index whose bytes are `body` lists, each with
/// its platform (`os/arch[/variant]`), after checking that `body` hashes to
/// `digest`.
pub fn parse_index(body: &[u8], digest: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let digest = provgraph_model::keys::normalize_digest(digest).map_err(|err| err.to_string())?;
    let actual = format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)));
    if actual != digest {
        return Err(format!(
            "the body hashes to {actual}, not {digest}: post the index manifest's exact bytes"
        ));
    }
    let index: serde_json::Value =
        serde_json::from_slice(body).map_err(|err| format!("the index is not JSON: {err}"))?;
    let manifests = index
        .get("manifests")
        .and_then(|m| m.as_array())
        .ok_or("not an image index: no \"manifests\" list")?;
    let mut members = Vec::with_capacity(manifests.len());
    for (at, manifest) in manifests.iter().enumerate() {
        let member = manifest
            .get("digest")
            .and_then(|d| d.as_str())
            .ok_or(format!("manifests[{at}] has no digest"))?;
        let member = provgraph_model::keys::normalize_digest(member)
            .map_err(|err| format!("manifests[{at}]: {err}"))?;
        let platform = manifest.get("platform").and_then(|p| {
            let os = p.get("os")?.as_str()?;
            let arch = p.get("architecture")?.as_str()?;
            Some(match p.get("variant").and_then(|v| v.as_str()) {
                Some(variant) => format!("{os}/{arch}/{variant}"),
                None => format!("{os}/{arch}"),
            })
        });
        members.push((member, platform));
    }
    Ok(members)
}
