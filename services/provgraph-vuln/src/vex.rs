//! OpenVEX v0.2.0 documents: statements that a vulnerability does or does
//! not affect products, here images named by digest.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::DocumentError;
use crate::json::{
    Path, array, digest_of_reference, identifier, object, opt_string, parse_digest, shorten, text,
};
use crate::time::Timestamp;

/// The `@context` prefix of OpenVEX documents.
pub const OPENVEX_CONTEXT: &str = "https://openvex.dev/ns";

/// `status`, as OpenVEX writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub fn parse(text: &str) -> Option<VexStatus> {
        Some(match text {
            "not_affected" => VexStatus::NotAffected,
            "affected" => VexStatus::Affected,
            "fixed" => VexStatus::Fixed,
            "under_investigation" => VexStatus::UnderInvestigation,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }

    /// `not_affected` and `fixed` rule the product out of the
    /// vulnerability's impact; `affected` and `under_investigation` do not.
    pub fn rules_out(self) -> bool {
        matches!(self, VexStatus::NotAffected | VexStatus::Fixed)
    }
}

/// The justifications OpenVEX v0.2.0 defines for `not_affected`.
pub const JUSTIFICATIONS: &[&str] = &[
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// One statement, about the products of it that name a digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexStatement {
    /// `vulnerability.name` (else `vulnerability.@id`).
    pub vulnerability: String,
    pub aliases: Vec<String>,
    /// The products' image digests, canonical, sorted, unique.
    pub digests: Vec<String>,
    pub status: VexStatus,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    /// The statement's `timestamp`, else the document's.
    pub timestamp: Option<Timestamp>,
}

/// An OpenVEX document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexDocument {
    pub id: Option<String>,
    pub author: Option<String>,
    pub timestamp: Option<Timestamp>,
    pub statements: Vec<VexStatement>,
    /// Products that name no image digest (skipped).
    pub skipped_products: usize,
}

/// Whether `document` is OpenVEX.
pub(crate) fn looks_like_openvex(document: &Value) -> bool {
    document
        .get("@context")
        .and_then(Value::as_str)
        .is_some_and(|context| context.starts_with(OPENVEX_CONTEXT))
}

fn timestamp(map: &Map<String, Value>, path: &Path) -> Result<Option<Timestamp>, DocumentError> {
    opt_string(map, "timestamp", path)?
        .map(|value| {
            Timestamp::parse(&value).ok_or_else(|| {
                Path::Field(path, "timestamp")
                    .error(format!("{:?} is not an RFC 3339 time", shorten(&value)))
            })
        })
        .transpose()
}

/// Parses an OpenVEX document; any malformed part refuses it whole.
pub fn parse_openvex(document: &Value) -> Result<VexDocument, DocumentError> {
    let root = Path::Root("OpenVEX document");
    let map = object(document, &root)?;
    let context = opt_string(map, "@context", &root)?.unwrap_or_default();
    if !context.starts_with(OPENVEX_CONTEXT) {
        return Err(
            Path::Field(&root, "@context").error(format!("{context:?} is not an OpenVEX context"))
        );
    }
    let doc_timestamp = timestamp(map, &root)?;
    let mut skipped_products = 0;
    let mut statements = Vec::new();
    let statements_path = Path::Field(&root, "statements");
    // vexctl, Trivy and cosign accept an empty statement list; so does this.
    let items = array(map, "statements", &root)?;
    for (s, item) in items.iter().enumerate() {
        let at = Path::Index(&statements_path, s);
        let item = object(item, &at)?;
        let vp = Path::Field(&at, "vulnerability");
        let (vulnerability, aliases) = match item.get("vulnerability") {
            Some(Value::String(name)) => (identifier(name, &vp)?, Vec::new()),
            Some(vuln) => {
                let vuln = object(vuln, &vp)?;
                let name = match opt_string(vuln, "name", &vp)? {
                    Some(name) => name,
                    None => opt_string(vuln, "@id", &vp)?
                        .ok_or_else(|| vp.error("names no vulnerability (\"name\" or \"@id\")"))?,
                };
                let name = identifier(&name, &Path::Field(&vp, "name"))?;
                let aliases = array(vuln, "aliases", &vp)?
                    .iter()
                    .enumerate()
                    .map(|(i, alias)| {
                        let ap = Path::Index(&Path::Field(&vp, "aliases"), i);
                        identifier(&text(alias, &ap)?, &ap)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (name, aliases)
            }
            None => return Err(at.error("\"vulnerability\" is missing")),
        };
        let status_text =
            opt_string(item, "status", &at)?.ok_or_else(|| at.error("\"status\" is missing"))?;
        let status = VexStatus::parse(&status_text).ok_or_else(|| {
            Path::Field(&at, "status").error(format!(
                "{:?} is not a status (not_affected, affected, fixed, under_investigation)",
                shorten(&status_text)
            ))
        })?;
        let justification = opt_string(item, "justification", &at)?;
        if let Some(justification) = &justification
            && !JUSTIFICATIONS.contains(&justification.as_str())
        {
            return Err(Path::Field(&at, "justification").error(format!(
                "{:?} is not an OpenVEX justification ({})",
                shorten(justification),
                JUSTIFICATIONS.join(", ")
            )));
        }
        let products_path = Path::Field(&at, "products");
        let mut digests = Vec::new();
        for (p, product) in array(item, "products", &at)?.iter().enumerate() {
            let pp = Path::Index(&products_path, p);
            match product_digest(product, &pp)? {
                Some(digest) => digests.push(digest),
                None => skipped_products += 1,
            }
        }
        digests.sort();
        digests.dedup();
        statements.push(VexStatement {
            vulnerability,
            aliases,
            digests,
            status,
            justification,
            impact_statement: opt_string(item, "impact_statement", &at)?,
            timestamp: timestamp(item, &at)?.or(doc_timestamp),
        });
    }
    Ok(VexDocument {
        id: opt_string(map, "@id", &root)?,
        author: opt_string(map, "author", &root)?,
        timestamp: doc_timestamp,
        statements,
        skipped_products,
    })
}

/// The image digest a product names: its `@id` or `identifiers.purl` as
/// `pkg:oci/NAME@sha256%3A<hex>` (or `NAME@sha256:<hex>`, or a bare
/// digest), else `hashes."sha-256"`. `None` when it names none; an error
/// when it names one that does not parse.
fn product_digest(product: &Value, path: &Path) -> Result<Option<String>, DocumentError> {
    let map = object(product, path)?;
    let mut names = Vec::new();
    if let Some(id) = opt_string(map, "@id", path)? {
        names.push((Path::Field(path, "@id").render(), id));
    }
    if let Some(identifiers) = map.get("identifiers").filter(|v| !v.is_null()) {
        let ip = Path::Field(path, "identifiers");
        if let Some(purl) = opt_string(object(identifiers, &ip)?, "purl", &ip)? {
            names.push((Path::Field(&ip, "purl").render(), purl));
        }
    }
    for (at, name) in &names {
        let lower = name.to_ascii_lowercase();
        let Some(start) = lower.find("sha256%3a").or_else(|| lower.find("sha256:")) else {
            continue;
        };
        let digest_text = name[start..].replace("%3A", ":").replace("%3a", ":");
        let digest_text = digest_text
            .split(['?', '#', '&'])
            .next()
            .unwrap_or_default();
        let before = &lower[..start];
        let placed = before.is_empty() || before.ends_with('@');
        return match parse_digest(digest_text).filter(|_| placed) {
            Some(digest) => Ok(Some(digest)),
            None => Err(DocumentError {
                at: at.clone(),
                problem: format!(
                    "{:?} names an image digest that does not parse",
                    shorten(name)
                ),
            }),
        };
    }
    if let Some(hashes) = map.get("hashes").filter(|v| !v.is_null()) {
        let hp = Path::Field(path, "hashes");
        if let Some(hex) = opt_string(object(hashes, &hp)?, "sha-256", &hp)? {
            return parse_digest(&format!("sha256:{hex}"))
                .or_else(|| digest_of_reference(&format!("@{hex}")))
                .map(Some)
                .ok_or_else(|| {
                    Path::Field(&hp, "sha-256")
                        .error(format!("{:?} is not 64 hex digits", shorten(&hex)))
                });
        }
    }
    Ok(None)
}
