//! OSV records (the OSV schema, as osv.dev and the Go vulnerability
//! database publish them): one object, or an array of them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::DocumentError;
use crate::json::{Path, array, identifier, object, opt_string, req_string, shorten, text};
use crate::time::Timestamp;
use crate::version::Version;

/// One OSV record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsvRecord {
    pub id: String,
    /// `modified`, RFC 3339; a re-import keeps the newer record.
    pub modified: Option<Timestamp>,
    pub withdrawn: Option<Timestamp>,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub details: Option<String>,
    pub severity: Vec<Severity>,
    pub references: Vec<Reference>,
    pub affected: Vec<Affected>,
}

/// `severity[]`: a scoring system and its score (a CVSS vector).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severity {
    pub kind: String,
    pub score: String,
}

/// `references[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub kind: String,
    pub url: String,
}

/// `affected[]`: one package and the versions of it that are affected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// `package.ecosystem` as written (`Go`, `npm`, `Debian:12`).
    pub ecosystem: String,
    /// `package.name` (a Go module path, `stdlib`, `toolchain`).
    pub name: String,
    pub purl: Option<String>,
    pub ranges: Vec<Range>,
    /// `versions`: affected versions listed one by one.
    pub versions: Vec<String>,
    /// Go: `ecosystem_specific.imports[].path`, the affected packages.
    pub imports: Vec<String>,
}

/// `ranges[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub kind: RangeKind,
    pub events: Vec<Event>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
}

/// `events[]`: exactly one of the four, with its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Event {
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// Whether `document` looks like OSV: an object with the OSV schema's
/// fields, or an array of objects.
pub(crate) fn looks_like_osv(document: &Value) -> bool {
    let record = |value: &Value| {
        value.as_object().is_some_and(|map| {
            [
                "schema_version",
                "affected",
                "modified",
                "aliases",
                "withdrawn",
                "published",
            ]
            .iter()
            .any(|field| map.contains_key(*field))
        })
    };
    match document {
        Value::Array(items) => {
            !items.is_empty() && items.iter().all(Value::is_object) && items.iter().any(record)
        }
        other => record(other),
    }
}

/// Parses one OSV record or an array of them; any malformed part refuses
/// the whole document.
pub fn parse_osv(document: &Value) -> Result<Vec<OsvRecord>, DocumentError> {
    match document {
        Value::Array(items) => {
            let root = Path::Root("");
            items
                .iter()
                .enumerate()
                .map(|(index, item)| parse_record(item, &Path::Index(&root, index)))
                .collect()
        }
        other => Ok(vec![parse_record(other, &Path::Root("OSV record"))?]),
    }
}

/// Parses one record at `path`.
pub(crate) fn parse_record(value: &Value, path: &Path) -> Result<OsvRecord, DocumentError> {
    let map = object(value, path)?;
    let id = req_string(map, "id", path)?;
    let id = identifier(&id, &Path::Field(path, "id"))?;
    let named = format!("{} ({id})", path.render());
    let path = &Path::Root(&named);
    let timestamp = |field: &str| -> Result<Option<Timestamp>, DocumentError> {
        opt_string(map, field, path)?
            .map(|value| {
                Timestamp::parse(&value).ok_or_else(|| {
                    Path::Field(path, field)
                        .error(format!("{:?} is not an RFC 3339 time", shorten(&value)))
                })
            })
            .transpose()
    };
    let modified = timestamp("modified")?;
    let withdrawn = timestamp("withdrawn")?;
    let aliases = array(map, "aliases", path)?
        .iter()
        .enumerate()
        .map(|(i, alias)| {
            let at = Path::Index(&Path::Field(path, "aliases"), i);
            identifier(&text(alias, &at)?, &at)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let severity = array(map, "severity", path)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = Path::Index(&Path::Field(path, "severity"), i);
            let item = object(item, &at)?;
            Ok(Severity {
                kind: req_string(item, "type", &at)?,
                score: req_string(item, "score", &at)?,
            })
        })
        .collect::<Result<Vec<_>, DocumentError>>()?;
    let references = array(map, "references", path)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = Path::Index(&Path::Field(path, "references"), i);
            let item = object(item, &at)?;
            Ok(Reference {
                kind: opt_string(item, "type", &at)?.unwrap_or_default(),
                url: req_string(item, "url", &at)?,
            })
        })
        .collect::<Result<Vec<_>, DocumentError>>()?;
    let affected = array(map, "affected", path)?
        .iter()
        .enumerate()
        .map(|(i, item)| parse_affected(item, &Path::Index(&Path::Field(path, "affected"), i)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OsvRecord {
        id,
        modified,
        withdrawn,
        aliases,
        summary: opt_string(map, "summary", path)?,
        details: opt_string(map, "details", path)?,
        severity,
        references,
        affected,
    })
}

fn parse_affected(value: &Value, path: &Path) -> Result<Affected, DocumentError> {
    let map = object(value, path)?;
    let package_path = Path::Field(path, "package");
    let package = match map.get("package") {
        Some(package) => object(package, &package_path)?,
        None => return Err(path.error("\"package\" is missing")),
    };
    let ecosystem = req_string(package, "ecosystem", &package_path)?;
    let name = req_string(package, "name", &package_path)?;
    let name = identifier(&name, &Path::Field(&package_path, "name"))?;
    let purl = opt_string(package, "purl", &package_path)?;
    let go = is_go(&ecosystem);
    let ranges = array(map, "ranges", path)?
        .iter()
        .enumerate()
        .map(|(i, range)| parse_range(range, go, &Path::Index(&Path::Field(path, "ranges"), i)))
        .collect::<Result<Vec<_>, _>>()?;
    let versions = array(map, "versions", path)?
        .iter()
        .enumerate()
        .map(|(i, version)| {
            let at = Path::Index(&Path::Field(path, "versions"), i);
            let version = identifier(&text(version, &at)?, &at)?;
            if go && Version::parse(&version).is_none() {
                return Err(at.error(format!("{version:?} is not a Go module version")));
            }
            Ok(version)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let imports = imports(map, path)?;
    Ok(Affected {
        ecosystem,
        name,
        purl,
        ranges,
        versions,
        imports,
    })
}

/// Go's `ecosystem_specific.imports[].path` (older records wrote it in
/// `database_specific`).
fn imports(map: &Map<String, Value>, path: &Path) -> Result<Vec<String>, DocumentError> {
    let mut out = Vec::new();
    for field in ["ecosystem_specific", "database_specific"] {
        let Some(specific) = map.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let at = Path::Field(path, field);
        let specific = object(specific, &at)?;
        for (i, import) in array(specific, "imports", &at)?.iter().enumerate() {
            let at = Path::Index(&Path::Field(&at, "imports"), i);
            let import = object(import, &at)?;
            out.push(req_string(import, "path", &at)?);
        }
    }
    Ok(out)
}

/// Whether an ecosystem is Go (`Go`, case as written by OSV).
pub fn is_go(ecosystem: &str) -> bool {
    ecosystem == "Go"
}

fn parse_range(value: &Value, go: bool, path: &Path) -> Result<Range, DocumentError> {
    let map = object(value, path)?;
    let kind = match req_string(map, "type", path)?.as_str() {
        "SEMVER" => RangeKind::Semver,
        "ECOSYSTEM" => RangeKind::Ecosystem,
        "GIT" => RangeKind::Git,
        other => {
            return Err(Path::Field(path, "type").error(format!(
                "{:?} is not a range type (SEMVER, ECOSYSTEM, GIT)",
                shorten(other)
            )));
        }
    };
    // SEMVER everywhere, and ECOSYSTEM in Go, compare as semantic versions:
    // their versions must parse.
    let semantic = kind == RangeKind::Semver || (kind == RangeKind::Ecosystem && go);
    let events_path = Path::Field(path, "events");
    let items = array(map, "events", path)?;
    if items.is_empty() {
        return Err(events_path.error("a range has at least one event"));
    }
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = Path::Index(&events_path, i);
        let item = object(item, &at)?;
        if item.len() != 1 {
            return Err(
                at.error("an event has exactly one of introduced, fixed, last_affected, limit")
            );
        }
        let (field, version) = item.iter().next().expect("one entry");
        let version = identifier(
            &text(version, &Path::Field(&at, field))?,
            &Path::Field(&at, field),
        )?;
        let event = match field.as_str() {
            "introduced" => Event::Introduced(version),
            "fixed" => Event::Fixed(version),
            "last_affected" => Event::LastAffected(version),
            "limit" => Event::Limit(version),
            other => {
                return Err(at.error(format!(
                    "{:?} is not an event (introduced, fixed, last_affected, limit)",
                    shorten(other)
                )));
            }
        };
        let special = matches!(
            (&event, event.version()),
            (Event::Introduced(_), "0") | (Event::Limit(_), "*")
        );
        if semantic && !special && Version::parse(event.version()).is_none() {
            return Err(Path::Field(&at, field).error(format!(
                "{:?} is not a semantic version",
                shorten(event.version())
            )));
        }
        events.push(event);
    }
    if !events.iter().any(|e| matches!(e, Event::Introduced(_))) {
        return Err(events_path.error("a range has an \"introduced\" event"));
    }
    Ok(Range { kind, events })
}
