//! notation's trust store folder: `x509/{ca,signingAuthority,tsa}/NAME/`,
//! each named store a folder of `.pem`, `.crt` or `.cer` files (PEM bundles
//! or DER). Symlinks are refused and sub-folders ignored, as the
//! specification says.

use std::path::Path;

use super::certs::{Cert, read_certificates};

/// The kinds of named store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    Ca,
    SigningAuthority,
    Tsa,
}

impl StoreKind {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "ca" => Some(Self::Ca),
            "signingAuthority" => Some(Self::SigningAuthority),
            "tsa" => Some(Self::Tsa),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ca => "ca",
            Self::SigningAuthority => "signingAuthority",
            Self::Tsa => "tsa",
        }
    }
}

/// At most this many certificates in one named store.
const MAX_STORE_CERTIFICATES: usize = 1000;
/// At most this many bytes per certificate file.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A named store's certificates.
#[derive(Debug, Clone)]
pub(crate) struct NamedStore {
    /// `ca:NAME`, as the policy names it.
    pub label: String,
    pub kind: StoreKind,
    pub certificates: Vec<Cert>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Loads `root/x509/KIND/NAME`.
pub(crate) fn load(root: &Path, kind: StoreKind, name: &str) -> Result<NamedStore, String> {
    let label = format!("{}:{name}", kind.as_str());
    if !valid_name(name) {
        return Err(format!("trust store {label}: bad store name"));
    }
    let dir = root.join("x509").join(kind.as_str()).join(name);
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(|e| format!("trust store {label}: cannot read {}: {e}", dir.display()))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "trust store {label}: {} is a symlink",
            dir.display()
        ));
    }
    if !meta.is_dir() {
        return Err(format!(
            "trust store {label}: {} is not a folder",
            dir.display()
        ));
    }
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("trust store {label}: cannot list {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    let mut certificates = Vec::new();
    for path in entries {
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| format!("trust store {label}: {}: {e}", path.display()))?;
        if meta.file_type().is_symlink() {
            return Err(format!(
                "trust store {label}: {} is a symlink",
                path.display()
            ));
        }
        if meta.is_dir() {
            continue;
        }
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(extension.as_deref(), Some("pem" | "crt" | "cer")) {
            continue;
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(format!(
                "trust store {label}: {} is larger than {MAX_FILE_BYTES} bytes",
                path.display()
            ));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("trust store {label}: cannot read {}: {e}", path.display()))?;
        for der in read_certificates(&bytes)
            .map_err(|e| format!("trust store {label}: {}: {e}", path.display()))?
        {
            certificates.push(Cert::parse(&der)?);
        }
        if certificates.len() > MAX_STORE_CERTIFICATES {
            return Err(format!(
                "trust store {label}: more than {MAX_STORE_CERTIFICATES} certificates"
            ));
        }
    }
    if certificates.is_empty() {
        return Err(format!(
            "trust store {label}: no certificates in {}",
            dir.display()
        ));
    }
    Ok(NamedStore {
        label,
        kind,
        certificates,
    })
}
