//! Matching without a scanner: which package versions an OSV `affected`
//! entry covers, and the names a graph's MODULE and PACKAGE nodes are
//! matched by.
//!
//! - Go (`ecosystem: "Go"`): the package name is the module path, matched
//!   against MODULE keys `PATH@VERSION`; `SEMVER` and `ECOSYSTEM` ranges
//!   and `versions` compare as Go orders module versions ([`Version`]).
//!   `stdlib` and `toolchain` are matched against the Go release a build
//!   used (`go1.21.3`, `1.21.3`).
//! - Other ecosystems: the package is named by purl without version
//!   (`pkg:npm/lodash`; from `package.purl`, else from the ecosystem's purl
//!   type), matched against PACKAGE keys. `SEMVER` ranges compare as
//!   semantic versions, and so do `ECOSYSTEM` ranges of the ecosystems that
//!   use them (npm, crates.io, Hex, Pub); the other ecosystems' `ECOSYSTEM`
//!   ranges (PyPI, Maven, Debian ...) have their own orders and are not
//!   evaluated: only their `versions` lists match. `GIT` ranges name commits
//!   and never match a version.

use crate::osv::{Affected, Event, Range, RangeKind, is_go};
use crate::version::Version;

/// The name a Go module's vulnerabilities are filed under for the standard
/// library.
pub const STDLIB: &str = "stdlib";
/// ... and for the `go` command.
pub const TOOLCHAIN: &str = "toolchain";

/// What a graph node is, for matching: the package name it is matched by
/// and its version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject {
    /// A Go module path, `stdlib`, or a purl without version.
    pub package: String,
    pub version: String,
}

impl Subject {
    /// A MODULE key `PATH@VERSION`.
    pub fn of_module(key: &str) -> Option<Subject> {
        let (path, version) = key.rsplit_once('@')?;
        (!path.is_empty() && Version::parse(version).is_some()).then(|| Subject {
            package: path.to_string(),
            version: version.to_string(),
        })
    }

    /// A PACKAGE key, a purl `pkg:TYPE/NAMESPACE/NAME@VERSION`.
    pub fn of_purl(purl: &str) -> Option<Subject> {
        let purl = purl.split(['?', '#']).next()?;
        let (name, version) = purl.rsplit_once('@')?;
        if version.is_empty() || version.contains('/') {
            return None;
        }
        Some(Subject {
            package: purl_package(name)?,
            version: percent_decode(version),
        })
    }

    /// The standard library at the Go release a build used.
    pub fn of_go_release(release: &str) -> Option<Subject> {
        let version = Version::parse_go_release(release)?;
        // A language version (`go 1.22` in go.mod) is not the release that
        // built the binary: only releases with a patch number are matched.
        let bare = release
            .trim()
            .trim_start_matches("go")
            .trim_start_matches('v');
        (bare.split('.').count() == 3 || version.is_prerelease()).then(|| Subject {
            package: STDLIB.to_string(),
            version: release.trim().to_string(),
        })
    }
}

/// A purl without version, lower-cased, `%40` decoded: the name packages
/// are matched by.
fn purl_package(name: &str) -> Option<String> {
    let rest = name.strip_prefix("pkg:")?;
    let (kind, path) = rest.split_once('/')?;
    if kind.is_empty() || path.is_empty() {
        return None;
    }
    let kind = kind.to_ascii_lowercase();
    let mut path = percent_decode(path).to_lowercase();
    if kind == "pypi" {
        path = path.replace(['_', '.'], "-");
    }
    Some(format!("pkg:{kind}/{path}"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%'
            && let Some(hex) = bytes.get(at + 1..at + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            at += 3;
            continue;
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The purl type of an OSV ecosystem (the part before `:`).
fn purl_type(ecosystem: &str) -> Option<&'static str> {
    Some(match ecosystem.split(':').next()? {
        "npm" => "npm",
        "PyPI" => "pypi",
        "crates.io" => "cargo",
        "Maven" => "maven",
        "RubyGems" => "gem",
        "NuGet" => "nuget",
        "Packagist" => "composer",
        "Hex" => "hex",
        "Pub" => "pub",
        "Debian" => "deb",
        "Alpine" => "apk",
        _ => return None,
    })
}

/// Ecosystems whose own (`ECOSYSTEM`) order is semantic versioning.
fn semantic_ecosystem(ecosystem: &str) -> bool {
    matches!(ecosystem, "Go" | "npm" | "crates.io" | "Hex" | "Pub")
}

impl Affected {
    /// The package name graph nodes are matched by: the module path for Go
    /// (`stdlib`, `toolchain` included), else a purl without version.
    pub fn package_key(&self) -> Option<String> {
        if is_go(&self.ecosystem) {
            return Some(self.name.clone());
        }
        if let Some(purl) = &self.purl {
            let name = purl.split(['?', '#']).next()?;
            let name = match name.rsplit_once('@') {
                Some((name, version)) if !version.contains('/') => name,
                _ => name,
            };
            return purl_package(name);
        }
        let kind = purl_type(&self.ecosystem)?;
        let name = if kind == "maven" {
            self.name.replacen(':', "/", 1)
        } else {
            self.name.clone()
        };
        purl_package(&format!("pkg:{kind}/{name}"))
    }

    /// Whether this entry names the Go standard library or toolchain, which
    /// are matched against the Go release a build used.
    pub fn is_go_release(&self) -> bool {
        is_go(&self.ecosystem) && (self.name == STDLIB || self.name == TOOLCHAIN)
    }

    /// Whether `version` of this package is affected: listed in `versions`
    /// or inside a range that can be evaluated (see the module docs).
    pub fn affects(&self, version: &str) -> bool {
        let go = is_go(&self.ecosystem);
        let parsed = if self.is_go_release() {
            Version::parse_go_release(version)
        } else {
            Version::parse(version)
        };
        let listed = self.versions.iter().any(|listed| {
            listed == version || (go && parsed.is_some() && Version::parse(listed) == parsed)
        });
        if listed {
            return true;
        }
        let Some(parsed) = parsed else {
            return false;
        };
        self.ranges.iter().any(|range| {
            let semantic = match range.kind {
                RangeKind::Semver => true,
                RangeKind::Ecosystem => semantic_ecosystem(&self.ecosystem),
                RangeKind::Git => false,
            };
            semantic && in_range(range, &parsed)
        })
    }
}

/// The OSV evaluation of one range's events for `version`: events sorted
/// by version (`introduced: 0` first); an introduced at or below the
/// version turns it on, a fixed at or below it (or a last_affected below
/// it) turns it off; a `limit` is an upper bound on the whole range.
pub fn in_range(range: &Range, version: &Version) -> bool {
    let mut events: Vec<(Version, &Event)> = Vec::with_capacity(range.events.len());
    let mut limit: Option<Version> = None;
    for event in &range.events {
        match (event, event.version()) {
            (Event::Introduced(_), "0") => events.push((Version::zero(), event)),
            (Event::Limit(_), "*") => {}
            (Event::Limit(_), text) => {
                let Some(bound) = Version::parse(text) else {
                    return false;
                };
                limit = Some(limit.map_or(bound.clone(), |l| l.min(bound)));
            }
            (_, text) => match Version::parse(text) {
                Some(parsed) => events.push((parsed, event)),
                None => return false,
            },
        }
    }
    if limit.is_some_and(|limit| *version >= limit) {
        return false;
    }
    events.sort_by(|a, b| a.0.cmp(&b.0));
    let mut affected = false;
    for (at, event) in &events {
        match event {
            Event::Introduced(_) if version >= at => affected = true,
            Event::Fixed(_) if version >= at => affected = false,
            Event::LastAffected(_) if version > at => affected = false,
            _ => {}
        }
    }
    affected
}
