//! Scanner reports on an image: Trivy JSON (`trivy image --format json`),
//! Grype JSON (`grype -o json`) and govulncheck's JSON stream
//! (`govulncheck -json`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::DocumentError;
use crate::json::{
    Path, array, digest_of_reference, identifier, object, opt_string, parse_digest, req_string,
    shorten,
};
use crate::osv::{OsvRecord, parse_record};

/// Which scanner wrote a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scanner {
    Trivy,
    Grype,
    Govulncheck,
}

impl Scanner {
    pub fn as_str(self) -> &'static str {
        match self {
            Scanner::Trivy => "trivy",
            Scanner::Grype => "grype",
            Scanner::Govulncheck => "govulncheck",
        }
    }
}

/// govulncheck's finding level, from the first frame of its trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FindingLevel {
    /// Only the module is required (the frame names a module).
    Required,
    /// A vulnerable package is imported (the frame names a package).
    Imported,
    /// A vulnerable function is called (the frame names a function).
    Called,
}

impl FindingLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingLevel::Required => "required",
            FindingLevel::Imported => "imported",
            FindingLevel::Called => "called",
        }
    }
}

/// One finding: a vulnerability in a package of the scanned image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The report's id (Trivy `VulnerabilityID`, Grype `vulnerability.id`,
    /// govulncheck `finding.osv`).
    pub vulnerability: String,
    /// Other ids the report gives (Grype `relatedVulnerabilities[].id`).
    pub aliases: Vec<String>,
    /// The package or module (Trivy `PkgName`, Grype `artifact.name`,
    /// govulncheck `trace[0].module`).
    pub package: Option<String>,
    pub version: Option<String>,
    pub purl: Option<String>,
    pub fixed_version: Option<String>,
    pub severity: Option<String>,
    /// govulncheck only.
    pub level: Option<FindingLevel>,
}

/// A scanner's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    pub scanner: Scanner,
    pub scanner_version: Option<String>,
    /// The images the report names (canonical `sha256:` digests); empty
    /// when it names none (govulncheck never does: pass `?digest=`).
    pub images: Vec<String>,
    pub findings: Vec<Finding>,
    /// OSV records the report carries whole (govulncheck's `osv` messages).
    pub records: Vec<OsvRecord>,
}

/// Whether `document` is Trivy JSON.
pub(crate) fn looks_like_trivy(document: &Value) -> bool {
    document.get("SchemaVersion").is_some()
        && (document.get("ArtifactName").is_some() || document.get("Results").is_some())
}

/// Whether `document` is Grype JSON.
pub(crate) fn looks_like_grype(document: &Value) -> bool {
    document.get("matches").is_some_and(Value::is_array)
        && (document.get("source").is_some() || document.get("descriptor").is_some())
}

/// The messages govulncheck writes, one key each.
const GOVULNCHECK_KEYS: &[&str] = &["config", "progress", "osv", "finding", "SBOM"];

/// Whether a stream of JSON values is govulncheck's.
pub(crate) fn looks_like_govulncheck(values: &[Value]) -> bool {
    !values.is_empty()
        && values.iter().all(|value| {
            value.as_object().is_some_and(|map| {
                map.len() == 1
                    && map
                        .keys()
                        .all(|key| GOVULNCHECK_KEYS.contains(&key.as_str()))
            })
        })
        && values
            .iter()
            .any(|value| value.get("config").is_some() || value.get("finding").is_some())
}

fn digests<'a>(references: impl Iterator<Item = &'a Value>) -> Vec<String> {
    let mut out: Vec<String> = references
        .filter_map(Value::as_str)
        .filter_map(digest_of_reference)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Parses Trivy's JSON report.
pub fn parse_trivy(document: &Value) -> Result<ScanReport, DocumentError> {
    let root = Path::Root("Trivy report");
    let map = object(document, &root)?;
    match map.get("SchemaVersion").and_then(Value::as_i64) {
        Some(2) => {}
        _ => {
            return Err(
                Path::Field(&root, "SchemaVersion").error("must be 2 (trivy --format json)")
            );
        }
    }
    let images = match map.get("Metadata") {
        Some(metadata) if metadata.is_object() => {
            let at = Path::Field(&root, "Metadata");
            digests(array(object(metadata, &at)?, "RepoDigests", &at)?.iter())
        }
        _ => Vec::new(),
    };
    let mut findings = Vec::new();
    let results_path = Path::Field(&root, "Results");
    for (r, result) in array(map, "Results", &root)?.iter().enumerate() {
        let at = Path::Index(&results_path, r);
        let result = object(result, &at)?;
        let vulns_path = Path::Field(&at, "Vulnerabilities");
        for (v, vuln) in array(result, "Vulnerabilities", &at)?.iter().enumerate() {
            let at = Path::Index(&vulns_path, v);
            let vuln = object(vuln, &at)?;
            let id = req_string(vuln, "VulnerabilityID", &at)?;
            let purl = match vuln.get("PkgIdentifier") {
                Some(identifier) if identifier.is_object() => {
                    let ip = Path::Field(&at, "PkgIdentifier");
                    opt_string(object(identifier, &ip)?, "PURL", &ip)?
                }
                _ => None,
            };
            findings.push(Finding {
                vulnerability: identifier(&id, &Path::Field(&at, "VulnerabilityID"))?,
                aliases: Vec::new(),
                package: opt_string(vuln, "PkgName", &at)?,
                version: opt_string(vuln, "InstalledVersion", &at)?,
                purl,
                fixed_version: opt_string(vuln, "FixedVersion", &at)?.filter(|v| !v.is_empty()),
                severity: opt_string(vuln, "Severity", &at)?,
                level: None,
            });
        }
    }
    Ok(ScanReport {
        scanner: Scanner::Trivy,
        scanner_version: None,
        images,
        findings,
        records: Vec::new(),
    })
}

/// Parses Grype's JSON report.
pub fn parse_grype(document: &Value) -> Result<ScanReport, DocumentError> {
    let root = Path::Root("Grype report");
    let map = object(document, &root)?;
    let mut images = Vec::new();
    if let Some(target) = map
        .get("source")
        .and_then(|source| source.get("target"))
        .filter(|t| t.is_object())
    {
        let at = Path::Field(&Path::Field(&root, "source"), "target");
        let target = object(target, &at)?;
        images = digests(array(target, "repoDigests", &at)?.iter());
        if images.is_empty()
            && let Some(manifest) = opt_string(target, "manifestDigest", &at)?
        {
            images.push(parse_digest(&manifest).ok_or_else(|| {
                Path::Field(&at, "manifestDigest")
                    .error(format!("{:?} is not a sha256 digest", shorten(&manifest)))
            })?);
        }
    }
    let scanner_version = match map.get("descriptor") {
        Some(descriptor) if descriptor.is_object() => {
            let at = Path::Field(&root, "descriptor");
            opt_string(object(descriptor, &at)?, "version", &at)?
        }
        _ => None,
    };
    let mut findings = Vec::new();
    let matches_path = Path::Field(&root, "matches");
    for (m, item) in array(map, "matches", &root)?.iter().enumerate() {
        let at = Path::Index(&matches_path, m);
        let item = object(item, &at)?;
        let vuln_path = Path::Field(&at, "vulnerability");
        let vuln = object(
            item.get("vulnerability")
                .ok_or_else(|| at.error("\"vulnerability\" is missing"))?,
            &vuln_path,
        )?;
        let id = identifier(
            &req_string(vuln, "id", &vuln_path)?,
            &Path::Field(&vuln_path, "id"),
        )?;
        let fixed_version = match vuln.get("fix") {
            Some(fix) if fix.is_object() => {
                let fp = Path::Field(&vuln_path, "fix");
                let fix = object(fix, &fp)?;
                let versions = array(fix, "versions", &fp)?;
                versions
                    .iter()
                    .filter_map(Value::as_str)
                    .next()
                    .map(str::to_string)
            }
            _ => None,
        };
        let related_path = Path::Field(&at, "relatedVulnerabilities");
        let mut aliases = Vec::new();
        for (i, related) in array(item, "relatedVulnerabilities", &at)?
            .iter()
            .enumerate()
        {
            let rp = Path::Index(&related_path, i);
            let related = object(related, &rp)?;
            let alias = identifier(&req_string(related, "id", &rp)?, &Path::Field(&rp, "id"))?;
            if alias != id && !aliases.contains(&alias) {
                aliases.push(alias);
            }
        }
        let (package, version, purl) = match item.get("artifact") {
            Some(artifact) => {
                let ap = Path::Field(&at, "artifact");
                let artifact = object(artifact, &ap)?;
                (
                    opt_string(artifact, "name", &ap)?,
                    opt_string(artifact, "version", &ap)?,
                    opt_string(artifact, "purl", &ap)?.filter(|p| !p.is_empty()),
                )
            }
            None => (None, None, None),
        };
        findings.push(Finding {
            vulnerability: id,
            aliases,
            package,
            version,
            purl,
            fixed_version,
            severity: opt_string(vuln, "severity", &vuln_path)?,
            level: None,
        });
    }
    Ok(ScanReport {
        scanner: Scanner::Grype,
        scanner_version,
        images,
        findings,
        records: Vec::new(),
    })
}

/// Parses govulncheck's `-json` stream (its messages, in order). A
/// vulnerability found at several levels for one module keeps the
/// strongest (called over imported over required).
pub fn parse_govulncheck(values: &[Value]) -> Result<ScanReport, DocumentError> {
    let mut findings: Vec<Finding> = Vec::new();
    let mut records = Vec::new();
    let mut scanner_version = None;
    for (index, message) in values.iter().enumerate() {
        let root = Path::Root("govulncheck stream");
        let at = Path::Index(&root, index);
        let map = object(message, &at)?;
        if let Some(config) = map.get("config") {
            let cp = Path::Field(&at, "config");
            scanner_version = opt_string(object(config, &cp)?, "scanner_version", &cp)?;
        } else if let Some(osv) = map.get("osv") {
            records.push(parse_record(osv, &Path::Field(&at, "osv"))?);
        } else if let Some(finding) = map.get("finding") {
            let fp = Path::Field(&at, "finding");
            let finding = object(finding, &fp)?;
            let id = identifier(&req_string(finding, "osv", &fp)?, &Path::Field(&fp, "osv"))?;
            let trace_path = Path::Field(&fp, "trace");
            let trace = array(finding, "trace", &fp)?;
            let Some(first) = trace.first() else {
                return Err(trace_path.error("a finding's trace has at least one frame"));
            };
            let frame_path = Path::Index(&trace_path, 0);
            let frame = object(first, &frame_path)?;
            let level = if opt_string(frame, "function", &frame_path)?.is_some() {
                FindingLevel::Called
            } else if opt_string(frame, "package", &frame_path)?.is_some() {
                FindingLevel::Imported
            } else {
                FindingLevel::Required
            };
            let package = req_string(frame, "module", &frame_path)?;
            let new = Finding {
                vulnerability: id,
                aliases: Vec::new(),
                package: Some(package),
                version: opt_string(frame, "version", &frame_path)?,
                purl: None,
                fixed_version: opt_string(finding, "fixed_version", &fp)?,
                severity: None,
                level: Some(level),
            };
            match findings
                .iter_mut()
                .find(|old| old.vulnerability == new.vulnerability && old.package == new.package)
            {
                Some(old) => {
                    if new.level > old.level {
                        old.level = new.level;
                    }
                    if old.version.is_none() {
                        old.version = new.version;
                    }
                }
                None => findings.push(new),
            }
        }
    }
    Ok(ScanReport {
        scanner: Scanner::Govulncheck,
        scanner_version,
        images: Vec::new(),
        findings,
        records,
    })
}
