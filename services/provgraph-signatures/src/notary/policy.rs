//! notation's OCI trust policy document (`trustpolicy.json`, version 1.0),
//! read as notation reads it, with the named stores it uses loaded from the
//! trust store folder; which statement applies to a repository; trusted
//! identities (`x509.subject: C=US, ST=WA, O=Acme`) and how a subject
//! matches them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::certs::Cert;
use super::store::{self, NamedStore, StoreKind};

/// A notation trust policy or trust store that cannot be used; one line
/// naming the file and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotaryPolicyError(String);

/// A verification level (`signatureVerification.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Strict,
    Permissive,
    Audit,
    Skip,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Permissive => "permissive",
            Self::Audit => "audit",
            Self::Skip => "skip",
        }
    }
}

/// What a failed validation does: fail the verification, or be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Enforce,
    Log,
}

/// A trusted identity: `*`, or subject attributes that must all be present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    Any,
    Subject {
        text: String,
        attributes: BTreeMap<String, String>,
    },
}

impl Identity {
    pub(crate) fn matches(&self, subject: &[(String, String)]) -> bool {
        match self {
            Self::Any => true,
            Self::Subject { attributes, .. } => attributes.iter().all(|(name, value)| {
                subject
                    .iter()
                    .any(|(have, found)| have == name && found == value)
            }),
        }
    }
}

/// One statement of the trust policy, its stores loaded.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub name: String,
    pub scopes: Vec<String>,
    pub level: Level,
    pub authenticity: Action,
    pub authentic_timestamp: Action,
    pub expiry: Action,
    /// `verifyTimestamp: afterCertExpiry`: check a timestamp only when a
    /// certificate of the chain has expired.
    pub timestamp_after_expiry: bool,
    pub stores: Vec<NamedStore>,
    pub identities: Vec<Identity>,
}

impl Statement {
    pub(crate) fn stores_of(&self, kind: StoreKind) -> impl Iterator<Item = &NamedStore> {
        self.stores.iter().filter(move |s| s.kind == kind)
    }
}

/// notation's trust policy with its trust store: which signers are
/// trusted for which repositories, and how strictly signatures are checked.
#[derive(Debug, Clone)]
pub struct NotaryPolicy {
    pub(crate) statements: Vec<Statement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: String,
    #[serde(rename = "trustPolicies")]
    trust_policies: Vec<StatementEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StatementEntry {
    name: String,
    registry_scopes: Vec<String>,
    signature_verification: VerificationEntry,
    #[serde(default)]
    trust_stores: Option<Vec<String>>,
    #[serde(default)]
    trusted_identities: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VerificationEntry {
    level: String,
    #[serde(default)]
    r#override: BTreeMap<String, String>,
    #[serde(default)]
    verify_timestamp: Option<String>,
}

impl NotaryPolicy {
    /// Reads notation's trust policy document and the named stores it uses
    /// from the trust store folder (the one holding `x509/`).
    pub fn from_files(policy: &Path, trust_store: &Path) -> Result<Self, NotaryPolicyError> {
        let source = policy.display().to_string();
        let text = std::fs::read_to_string(policy).map_err(|e| {
            NotaryPolicyError(provgraph_model::one_line(&format!(
                "notation trust policy {source}: cannot read: {e}"
            )))
        })?;
        Self::from_json(&text, trust_store, &source)
    }

    /// Parses a trust policy document; `source` names it in messages.
    pub fn from_json(
        text: &str,
        trust_store: &Path,
        source: &str,
    ) -> Result<Self, NotaryPolicyError> {
        let fail = |problem: String| {
            NotaryPolicyError(provgraph_model::one_line(&format!(
                "notation trust policy {source}: {problem}"
            )))
        };
        let document: Document = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
        if document.version != "1.0" {
            return Err(fail(format!(
                "version {:?} is not \"1.0\"",
                document.version
            )));
        }
        if document.trust_policies.is_empty() {
            return Err(fail("trustPolicies is empty".into()));
        }
        let mut names = BTreeSet::new();
        let mut scopes_seen = BTreeSet::new();
        let mut statements = Vec::new();
        for entry in &document.trust_policies {
            let statement = statement(entry, trust_store)
                .map_err(|problem| fail(format!("policy {:?}: {problem}", entry.name)))?;
            if !names.insert(statement.name.clone()) {
                return Err(fail(format!("two policies are named {:?}", statement.name)));
            }
            for scope in &statement.scopes {
                if !scopes_seen.insert(scope.clone()) {
                    return Err(fail(format!(
                        "registry scope {scope:?} is in more than one policy"
                    )));
                }
            }
            statements.push(statement);
        }
        Ok(Self { statements })
    }

    /// The statement for `reference` (`REGISTRY/REPOSITORY`): the one whose
    /// scopes name it, else the global one (`*`). Without a reference only
    /// the global one applies.
    pub(crate) fn select(&self, reference: Option<&str>) -> Option<&Statement> {
        reference
            .and_then(|r| {
                self.statements
                    .iter()
                    .find(|s| s.scopes.iter().any(|scope| scope == r))
            })
            .or_else(|| {
                self.statements
                    .iter()
                    .find(|s| s.scopes.iter().any(|scope| scope == "*"))
            })
    }
}

/// Checks a repository reference: `REGISTRY/REPOSITORY`, no tag, no digest.
pub fn check_reference(reference: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("reference {reference:?} {why}"));
    if reference.is_empty() || reference.len() > 1024 {
        return bad("must be REGISTRY/REPOSITORY");
    }
    if reference.contains("://") {
        return bad("must not have a scheme");
    }
    let Some((registry, repository)) = reference.split_once('/') else {
        return bad("must be REGISTRY/REPOSITORY");
    };
    if registry.is_empty() || repository.is_empty() {
        return bad("must be REGISTRY/REPOSITORY");
    }
    if reference.contains('@') || repository.contains(':') {
        return bad("must name a repository, without tag or digest");
    }
    if reference
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '*')
    {
        return bad("has a character a repository cannot have");
    }
    Ok(())
}

fn statement(entry: &StatementEntry, trust_store: &Path) -> Result<Statement, String> {
    if entry.name.trim().is_empty() {
        return Err("empty name".into());
    }
    let level = match entry.signature_verification.level.as_str() {
        "strict" => Level::Strict,
        "permissive" => Level::Permissive,
        "audit" => Level::Audit,
        "skip" => Level::Skip,
        other => return Err(format!("unknown verification level {other:?}")),
    };
    if entry.registry_scopes.is_empty() {
        return Err("registryScopes is empty".into());
    }
    let global = entry.registry_scopes.iter().any(|s| s == "*");
    if global && entry.registry_scopes.len() > 1 {
        return Err("the global scope \"*\" must be the only scope".into());
    }
    if !global {
        for scope in &entry.registry_scopes {
            check_reference(scope).map_err(|e| format!("registry scope: {e}"))?;
        }
    }
    if level == Level::Skip && global {
        return Err("level skip cannot be used with the global scope".into());
    }
    let (mut authenticity, mut authentic_timestamp, mut expiry) = match level {
        Level::Strict => (Action::Enforce, Action::Enforce, Action::Enforce),
        Level::Permissive => (Action::Enforce, Action::Log, Action::Log),
        Level::Audit | Level::Skip => (Action::Log, Action::Log, Action::Log),
    };
    if level == Level::Skip && !entry.signature_verification.r#override.is_empty() {
        return Err("level skip cannot be overridden".into());
    }
    for (key, value) in &entry.signature_verification.r#override {
        let action = match value.as_str() {
            "enforce" => Action::Enforce,
            "log" => Action::Log,
            "skip" if key == "revocation" => continue,
            other => return Err(format!("override {key}: unknown value {other:?}")),
        };
        match key.as_str() {
            "authenticity" => authenticity = action,
            "authenticTimestamp" => authentic_timestamp = action,
            "expiry" => expiry = action,
            // Revocation is not checked (offline); the setting is accepted.
            "revocation" => {}
            other => return Err(format!("override: unknown validation {other:?}")),
        }
    }
    let timestamp_after_expiry = match entry.signature_verification.verify_timestamp.as_deref() {
        None | Some("always") => false,
        Some("afterCertExpiry") => true,
        Some(other) => return Err(format!("unknown verifyTimestamp {other:?}")),
    };

    let mut stores = Vec::new();
    let mut identities = Vec::new();
    if level != Level::Skip {
        let listed = entry.trust_stores.as_deref().unwrap_or_default();
        for item in listed {
            let (kind, name) = item
                .split_once(':')
                .and_then(|(kind, name)| Some((StoreKind::parse(kind)?, name)))
                .ok_or_else(|| {
                    format!(
                        "trust store {item:?} is not ca:NAME, signingAuthority:NAME or tsa:NAME"
                    )
                })?;
            stores.push(store::load(trust_store, kind, name)?);
        }
        if !stores.iter().any(|s| s.kind != StoreKind::Tsa) {
            return Err("trustStores names no ca or signingAuthority store".into());
        }
        let listed = entry.trusted_identities.as_deref().unwrap_or_default();
        if listed.is_empty() {
            return Err("trustedIdentities is empty".into());
        }
        for item in listed {
            identities.push(parse_identity(item)?);
        }
        if identities.contains(&Identity::Any) && identities.len() > 1 {
            return Err("\"*\" must be the only trusted identity".into());
        }
        for (i, a) in identities.iter().enumerate() {
            for b in &identities[i + 1..] {
                if overlap(a, b) {
                    return Err(format!("trusted identities overlap: {a:?} and {b:?}"));
                }
            }
        }
    }
    Ok(Statement {
        name: entry.name.clone(),
        scopes: entry.registry_scopes.clone(),
        level,
        authenticity,
        authentic_timestamp,
        expiry,
        timestamp_after_expiry,
        stores,
        identities,
    })
}

/// Two identities overlap when one certificate could match both: every
/// attribute they both name has the same value in each.
fn overlap(a: &Identity, b: &Identity) -> bool {
    match (a, b) {
        (Identity::Subject { attributes: a, .. }, Identity::Subject { attributes: b, .. }) => a
            .iter()
            .all(|(name, value)| b.get(name).is_none_or(|other| other == value)),
        _ => true,
    }
}

/// `*`, or `x509.subject: ` and RDNs (`\,` `\;` `\\` and `\ ` escaped).
pub(crate) fn parse_identity(text: &str) -> Result<Identity, String> {
    if text.trim() == "*" {
        return Ok(Identity::Any);
    }
    let Some(dn) = text.trim_start().strip_prefix("x509.subject:") else {
        return Err(format!(
            "trusted identity {text:?} is neither \"*\" nor x509.subject: ..."
        ));
    };
    let mut attributes = BTreeMap::new();
    for part in split_unescaped(dn) {
        let part = part.trim_start();
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("trusted identity {text:?}: {part:?} is not NAME=VALUE"))?;
        let mut name = name.trim().to_ascii_uppercase();
        if name == "S" {
            name = "ST".into();
        }
        let value = unescape(trim_unescaped(value));
        if name.is_empty() || value.is_empty() {
            return Err(format!("trusted identity {text:?}: empty name or value"));
        }
        if attributes.insert(name.clone(), value).is_some() {
            return Err(format!("trusted identity {text:?} names {name} twice"));
        }
    }
    for required in ["C", "ST", "O"] {
        if !attributes.contains_key(required) {
            return Err(format!(
                "trusted identity {text:?} must name C, ST (or S) and O"
            ));
        }
    }
    Ok(Identity::Subject {
        text: text.trim().to_string(),
        attributes,
    })
}

/// Splits at commas not escaped by a backslash.
fn split_unescaped(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
}

/// Trims spaces around a value, keeping a trailing space escaped as `\ `.
fn trim_unescaped(text: &str) -> &str {
    let mut text = text.trim_start();
    while text.ends_with(' ') && !text.ends_with("\\ ") {
        text = &text[..text.len() - 1];
    }
    text
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The first store of `kind` in `statement` holding one of `chain`'s
/// certificates, by its label.
pub(crate) fn store_holding<'a>(
    statement: &'a Statement,
    kind: StoreKind,
    chain: &[Cert],
) -> Option<&'a str> {
    statement.stores_of(kind).find_map(|store| {
        store
            .certificates
            .iter()
            .any(|trusted| chain.iter().any(|cert| cert.der == trusted.der))
            .then_some(store.label.as_str())
    })
}
