//! SBOMs: the packages an SPDX 2.3 or CycloneDX JSON document (as Syft
//! writes them) lists, by package URL. Go modules (`pkg:golang/...`) become
//! MODULE keys (`PATH@VERSION`), other packages PACKAGE keys (the purl).

use serde_json::Value;

use crate::keys::{self, NodeKind};

/// Which SBOM format a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbomFormat {
    Spdx,
    CycloneDx,
}

/// The packages of an SBOM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SbomPackages {
    pub format: SbomFormat,
    /// The tool that wrote it, when it says (SPDX `creationInfo.creators`
    /// `Tool: ...`, CycloneDX `metadata.tools`).
    pub tool: Option<String>,
    /// (kind, key): MODULE or PACKAGE, sorted, without duplicates.
    pub packages: Vec<(NodeKind, String)>,
    /// Package URLs that did not parse.
    pub skipped: usize,
}

/// The format of `document`, when it is an SBOM.
pub fn sbom_format(document: &Value) -> Option<SbomFormat> {
    if document.get("spdxVersion").is_some() {
        Some(SbomFormat::Spdx)
    } else if document.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        Some(SbomFormat::CycloneDx)
    } else {
        None
    }
}

/// Percent-decodes a purl component (`%2F` -> `/`); a `%` not followed by
/// two hex digits is kept as it is.
fn decode(text: &str) -> String {
    // Byte-wise: the bytes after a `%` may be inside a multi-byte character.
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%'
            && let Some(&[high, low]) = bytes.get(at + 1..at + 3)
            && let (Some(high), Some(low)) = (hex(high), hex(low))
        {
            out.push((high * 16 + low) as u8);
            at += 3;
            continue;
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The node a purl names: a Go module as MODULE `PATH@VERSION`, anything
/// else as PACKAGE.
pub fn node_of_purl(purl: &str) -> Option<(NodeKind, String)> {
    let purl = keys::normalize_purl(purl).ok()?;
    if let Some(rest) = purl.strip_prefix("pkg:golang/") {
        let (path, version) = rest.rsplit_once('@')?;
        return keys::normalize_module(&format!("{}@{}", decode(path), decode(version)))
            .ok()
            .map(|key| (NodeKind::Module, key));
    }
    Some((NodeKind::Package, purl))
}

/// Reads the packages of an SPDX or CycloneDX JSON document.
pub fn sbom_packages(document: &Value) -> Option<SbomPackages> {
    let format = sbom_format(document)?;
    let mut purls: Vec<&str> = Vec::new();
    let tool = match format {
        SbomFormat::Spdx => {
            for package in document
                .get("packages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for reference in package
                    .get("externalRefs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if reference.get("referenceType").and_then(Value::as_str) == Some("purl") {
                        purls.extend(reference.get("referenceLocator").and_then(Value::as_str));
                    }
                }
            }
            document
                .pointer("/creationInfo/creators")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find_map(|c| c.strip_prefix("Tool:").map(|t| t.trim().to_string()))
        }
        SbomFormat::CycloneDx => {
            fn walk<'a>(components: Option<&'a Value>, purls: &mut Vec<&'a str>) {
                for component in components.and_then(Value::as_array).into_iter().flatten() {
                    purls.extend(component.get("purl").and_then(Value::as_str));
                    walk(component.get("components"), purls);
                }
            }
            walk(document.get("components"), &mut purls);
            let tools = document.pointer("/metadata/tools");
            let first = tools
                .and_then(|t| {
                    t.get("components")
                        .and_then(Value::as_array)
                        .or_else(|| t.as_array())
                })
                .and_then(|list| list.first());
            first.and_then(|t| {
                let name = t.get("name").and_then(Value::as_str)?;
                Some(match t.get("version").and_then(Value::as_str) {
                    Some(version) => format!("{name}-{version}"),
                    None => name.to_string(),
                })
            })
        }
    };
    let mut packages = Vec::new();
    let mut skipped = 0;
    for purl in purls {
        match node_of_purl(purl) {
            Some(node) => packages.push(node),
            None => skipped += 1,
        }
    }
    packages.sort();
    packages.dedup();
    Some(SbomPackages {
        format,
        tool,
        packages,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Found by fuzzing (fuzz/regressions/keys/purl-percent-multibyte):
    /// a `%` before a multi-byte character panicked on a char boundary.
    #[test]
    fn percent_signs_before_multibyte_characters_are_kept() {
        assert_eq!(decode("a%2Fb"), "a/b");
        assert_eq!(decode("%2£x"), "%2£x");
        assert_eq!(decode("%£"), "%£");
        assert_eq!(decode("%+f"), "%+f", "a sign is not a hex digit");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(
            node_of_purl("pkg:golang/github.com/x%2£/y@v1.0.0"),
            Some((NodeKind::Module, "github.com/x%2£/y@v1.0.0".to_string()))
        );
    }

    #[test]
    fn spdx_and_cyclonedx_packages() {
        let spdx = json!({
            "spdxVersion": "SPDX-2.3",
            "creationInfo": {"creators": ["Organization: Anchore, Inc", "Tool: syft-1.4.1"]},
            "packages": [
                {"name": "golang.org/x/net", "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:golang/golang.org/x/net@v0.17.0"}]},
                {"name": "musl", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.0"}]},
                {"name": "main", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:golang/github.com/acme/calc@(devel)"}]},
                {"name": "none"}
            ]
        });
        let found = sbom_packages(&spdx).unwrap();
        assert_eq!(found.format, SbomFormat::Spdx);
        assert_eq!(found.tool.as_deref(), Some("syft-1.4.1"));
        assert_eq!(
            found.packages,
            vec![
                (NodeKind::Module, "golang.org/x/net@v0.17.0".to_string()),
                (
                    NodeKind::Package,
                    "pkg:apk/alpine/musl@1.2.4-r2".to_string()
                ),
            ]
        );
        assert_eq!(found.skipped, 1, "a (devel) main module is not a version");
        let cdx = json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "metadata": {"tools": {"components": [{"name": "syft", "version": "1.4.1"}]}},
            "components": [{"purl": "pkg:golang/github.com/spf13%2Fpflag@v1.0.5", "components": [{"purl": "pkg:deb/debian/libc6@2.36"}]}]
        });
        let found = sbom_packages(&cdx).unwrap();
        assert_eq!(found.tool.as_deref(), Some("syft-1.4.1"));
        assert_eq!(
            found.packages[0],
            (
                NodeKind::Module,
                "github.com/spf13/pflag@v1.0.5".to_string()
            )
        );
        assert_eq!(
            found.packages[1],
            (NodeKind::Package, "pkg:deb/debian/libc6@2.36".to_string())
        );
        assert!(sbom_packages(&json!({"payload": "x"})).is_none());
    }
}
