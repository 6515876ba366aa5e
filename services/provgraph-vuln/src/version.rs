//! Semantic versions ordered as the Go toolchain orders module versions
//! (golang.org/x/mod/semver): `v` optional here (the Go vulnerability
//! database writes `0.17.0`, go.mod writes `v0.17.0`), `v1` and `v1.2` as
//! shorthands for `v1.0.0` and `v1.2.0`, pre-releases ordered before their
//! release (so pseudo-versions `v0.0.0-20191109021931-daa7c04131f5` and
//! `v1.2.4-0.20191109021931-daa7c04131f5` fall where the toolchain puts
//! them), and build metadata (`+incompatible`) ignored.

use std::cmp::Ordering;

/// Longest version string accepted.
pub const MAX_VERSION_LEN: usize = 256;

/// A parsed semantic version. Numbers are kept as digit strings without
/// leading zeros, so no version overflows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    major: String,
    minor: String,
    patch: String,
    pre: Vec<Ident>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ident {
    Number(String),
    Text(String),
}

impl Version {
    /// Parses `1.2.3`, `v1.2.3-rc.1+meta`, `v1.2`, `v1`; `None` when it is
    /// not a semantic version.
    pub fn parse(text: &str) -> Option<Version> {
        if text.len() > MAX_VERSION_LEN {
            return None;
        }
        let text = text.strip_prefix('v').unwrap_or(text);
        let (text, build) = match text.split_once('+') {
            Some((text, build)) => (text, Some(build)),
            None => (text, None),
        };
        if let Some(build) = build
            && !build
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(ident_byte))
        {
            return None;
        }
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let mut parts = core.split('.');
        let major = number(parts.next()?)?;
        let minor = parts.next().map(number);
        let patch = parts.next().map(number);
        if parts.next().is_some() {
            return None;
        }
        // The shorthands v1 and v1.2 take neither pre-release nor build.
        let short = patch.is_none();
        if short && (pre.is_some() || build.is_some()) {
            return None;
        }
        let minor = minor.unwrap_or(Some("0".to_string()))?;
        let patch = patch.unwrap_or(Some("0".to_string()))?;
        let pre = match pre {
            None => Vec::new(),
            Some(pre) => pre
                .split('.')
                .map(|part| {
                    if part.is_empty() || !part.bytes().all(ident_byte) {
                        None
                    } else if part.bytes().all(|b| b.is_ascii_digit()) {
                        number(part).map(Ident::Number)
                    } else {
                        Some(Ident::Text(part.to_string()))
                    }
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// The zero version, below every other (OSV's `"introduced": "0"`).
    pub fn zero() -> Version {
        Version {
            major: "0".into(),
            minor: "0".into(),
            patch: "0".into(),
            // Below v0.0.0 and every pre-release of it: an empty text
            // identifier sorts before any other (numbers sort before text,
            // but no real version has an empty identifier).
            pre: vec![Ident::Number(String::new())],
        }
    }

    /// Whether this is a pre-release (pseudo-versions are).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// The Go release a toolchain name or stdlib version names, as the Go
    /// vulnerability database writes stdlib versions: `go1.21.3` and
    /// `1.21.3` are `1.21.3`, `go1.21` is `1.21.0`, `go1.21rc2` is
    /// `1.21.0-rc.2`, `go1.9beta1` is `1.9.0-beta.1`.
    pub fn parse_go_release(text: &str) -> Option<Version> {
        let text = text.trim();
        let bare = text
            .strip_prefix("go")
            .or_else(|| text.strip_prefix('v'))
            .unwrap_or(text);
        if let Some(at) = bare.find(|c: char| c.is_ascii_alphabetic()) {
            // go1.21rc2: a pre-release written without separators.
            let (core, pre) = bare.split_at(at);
            let digits = pre.find(|c: char| c.is_ascii_digit())?;
            let (word, n) = pre.split_at(digits);
            if !matches!(word, "rc" | "beta" | "alpha") {
                return None;
            }
            let core = Version::parse(core)?;
            if core.is_prerelease() {
                return None;
            }
            return Version::parse(&format!(
                "{}.{}.{}-{word}.{n}",
                core.major, core.minor, core.patch
            ));
        }
        Version::parse(bare)
    }
}

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// A version number: digits, no leading zero unless it is `0`.
fn number(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    ok.then(|| text.to_string())
}

fn compare_numbers(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Ord for Ident {
    fn cmp(&self, other: &Ident) -> Ordering {
        match (self, other) {
            (Ident::Number(a), Ident::Number(b)) => compare_numbers(a, b),
            (Ident::Number(_), Ident::Text(_)) => Ordering::Less,
            (Ident::Text(_), Ident::Number(_)) => Ordering::Greater,
            (Ident::Text(a), Ident::Text(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Ident) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        compare_numbers(&self.major, &other.major)
            .then_with(|| compare_numbers(&self.minor, &other.minor))
            .then_with(|| compare_numbers(&self.patch, &other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    /// The Go toolchain's order (golang.org/x/mod/semver's own test table,
    /// by the rules, not its text), lowest first.
    #[test]
    fn orders_as_the_go_toolchain() {
        let ascending = [
            "v0.0.0-20170915032832-14c0d48ead0c",
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.0.0",
            "v0.1.0",
            "v1.0.0-alpha",
            "v1.0.0-alpha.1",
            "v1.0.0-alpha.beta",
            "v1.0.0-beta",
            "v1.0.0-beta.2",
            "v1.0.0-beta.11",
            "v1.0.0-rc.1",
            "v1.0.0",
            "v1.2.3",
            "v1.2.4-0.20191109021931-daa7c04131f5",
            "v1.2.4",
            "v1.2.10",
            "v1.10.0",
            "v2.0.0+incompatible",
            "v2.1.0-pre",
            "v2.1.0-pre.0.20200101000000-abcdefabcdef",
            "v2.1.0",
            "v18446744073709551616.0.0",
        ];
        for pair in ascending.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        for text in ascending {
            assert!(Version::zero() < v(text), "zero < {text}");
        }
    }

    #[test]
    fn shorthands_metadata_and_the_missing_v() {
        assert_eq!(v("v1"), v("v1.0.0"));
        assert_eq!(v("v1.2"), v("1.2.0"));
        assert_eq!(v("v26.0.1+incompatible"), v("26.0.1"));
        assert_eq!(v("0.17.0"), v("v0.17.0"));
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in [
            "",
            "v",
            "1.",
            "v1.2.3.4",
            "v01.2.3",
            "v1.02.3",
            "v1.2.3-",
            "v1.2.3-01",
            "v1.2.3-a..b",
            "v1.2-pre",
            "v1+meta",
            "v1.2.3+",
            "v1.2.3+a..b",
            "vx.y.z",
            "v1.2.3 ",
            " v1.2.3",
            "v1.2.3-é",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Version::parse(&"1".repeat(300)), None);
    }

    #[test]
    fn go_releases() {
        assert_eq!(Version::parse_go_release("go1.21.3"), Some(v("1.21.3")));
        assert_eq!(Version::parse_go_release("v1.21.3"), Some(v("1.21.3")));
        assert_eq!(Version::parse_go_release("1.21.3"), Some(v("1.21.3")));
        assert_eq!(Version::parse_go_release("go1.21"), Some(v("1.21.0")));
        assert_eq!(
            Version::parse_go_release("go1.21rc2"),
            Some(v("1.21.0-rc.2"))
        );
        assert_eq!(
            Version::parse_go_release("go1.9beta1"),
            Some(v("1.9.0-beta.1"))
        );
        assert!(v("1.21.0-rc.2") < v("1.21.0"));
        assert_eq!(Version::parse_go_release("go1.21xx2"), None);
        assert_eq!(Version::parse_go_release("gotip"), None);
    }
}
