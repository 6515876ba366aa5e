//! Vulnerability documents and matching without a scanner; pure: no I/O,
//! no SQL.
//!
//! [`parse_document`] recognises, by shape, what `POST /v1/evidence` and
//! `provgraph import` take besides signatures and SBOMs:
//!
//! - OSV records ([`osv`]): one object, or an array;
//! - scanner reports on an image ([`scan`]): Trivy JSON, Grype JSON,
//!   govulncheck's JSON stream, each finding keeping the report's id (and
//!   govulncheck's level: called, imported, required);
//! - OpenVEX v0.2.0 documents ([`vex`]).
//!
//! A document any part of which is malformed is refused whole, with a
//! [`DocumentError`] saying what and where.
//!
//! [`matching`] says which MODULE and PACKAGE versions an OSV `affected`
//! entry covers, with Go versions ordered as the Go toolchain orders them
//! ([`version`]).

mod json;
pub mod matching;
pub mod osv;
pub mod scan;
pub mod time;
pub mod version;
pub mod vex;

use std::fmt;

use serde_json::Value;

pub use json::{MAX_TEXT, parse_digest};
pub use matching::Subject;
pub use osv::{Affected, Event, OsvRecord, Range, RangeKind};
pub use scan::{Finding, FindingLevel, ScanReport, Scanner};
pub use time::Timestamp;
pub use version::Version;
pub use vex::{VexDocument, VexStatement, VexStatus};

/// Why a document was refused: where (a path such as
/// `OSV record (GO-2023-2102).affected[0].ranges[0].events[1].fixed`) and
/// what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentError {
    pub at: String,
    pub problem: String,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.at, self.problem)
        }
    }
}

impl std::error::Error for DocumentError {}

/// A vulnerability document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Document {
    Osv(Vec<OsvRecord>),
    Scan(ScanReport),
    Vex(VexDocument),
}

/// Which kind of document a body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Osv,
    Trivy,
    Grype,
    Govulncheck,
    OpenVex,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Osv => "OSV",
            Format::Trivy => "Trivy",
            Format::Grype => "Grype",
            Format::Govulncheck => "govulncheck",
            Format::OpenVex => "OpenVEX",
        }
    }
}

/// The JSON values of a body: one value, or (govulncheck) a stream of
/// them. `None` when it is not JSON.
pub fn json_values(body: &[u8]) -> Option<Vec<Value>> {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|values| !values.is_empty())
}

/// The format of a body's JSON values, when it is one of these documents.
pub fn recognize(values: &[Value]) -> Option<Format> {
    if let [document] = values {
        if vex::looks_like_openvex(document) {
            return Some(Format::OpenVex);
        }
        if scan::looks_like_trivy(document) {
            return Some(Format::Trivy);
        }
        if scan::looks_like_grype(document) {
            return Some(Format::Grype);
        }
        if !scan::looks_like_govulncheck(values) && osv::looks_like_osv(document) {
            return Some(Format::Osv);
        }
    }
    scan::looks_like_govulncheck(values).then_some(Format::Govulncheck)
}

/// Parses the values of a body as `format`.
pub fn parse_as(format: Format, values: &[Value]) -> Result<Document, DocumentError> {
    let one = || match values {
        [document] => Ok(document),
        _ => Err(DocumentError {
            at: String::new(),
            problem: format!("a {} document is one JSON value", format.as_str()),
        }),
    };
    Ok(match format {
        Format::Osv => Document::Osv(osv::parse_osv(one()?)?),
        Format::Trivy => Document::Scan(scan::parse_trivy(one()?)?),
        Format::Grype => Document::Scan(scan::parse_grype(one()?)?),
        Format::Govulncheck => Document::Scan(scan::parse_govulncheck(values)?),
        Format::OpenVex => Document::Vex(vex::parse_openvex(one()?)?),
    })
}

/// Recognises and parses a body: `Ok(None)` when it is none of these
/// documents (not JSON, or another shape), `Err` when it is one and is
/// malformed.
pub fn parse_document(body: &[u8]) -> Result<Option<(Format, Document)>, DocumentError> {
    let Some(values) = json_values(body) else {
        return Ok(None);
    };
    match recognize(&values) {
        None => Ok(None),
        Some(format) => parse_as(format, &values).map(|document| Some((format, document))),
    }
}
