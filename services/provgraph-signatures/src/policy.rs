//! The trust policy: which trusted root, which signing keys and which keyless
//! identities provgraph trusts (`serve --trust-policy FILE`).
//!
//! ```toml
//! trusted_root = "trusted_root.json"   # optional; default: the built-in public-good root
//!
//! [[keys]]
//! name = "release-key"
//! public_key = "cosign.pub"             # PEM; paths relative to this file
//!
//! [[identities]]
//! issuer = "https://token.actions.githubusercontent.com"
//! subject = "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main"
//! # or: subject_regex = "https://github\\.com/acme/calc/\\.github/workflows/[^@]+@refs/tags/v.*"
//! ```
//!
//! Notary Project signatures are judged by notation's own files, named here
//! (paths relative to this file): `notation_trust_policy =
//! "trustpolicy.json"` and `notation_trust_store = "truststore"` (the folder
//! holding `x509/{ca,signingAuthority,tsa}/NAME/`); see [`crate::notary`].
//!
//! `subject_regex` is anchored: it must match the whole certificate identity,
//! never a part of it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sigstore_verify::Verifier;
use sigstore_verify::crypto::KeyAlgorithm;
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::DerPublicKey;

use provgraph_model::one_line;

pub use crate::error::TrustError;
use crate::notary::NotaryPolicy;
use crate::roots;

/// A trust-policy file that could not be used; the message is one line
/// naming the file and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(String);

impl PolicyError {
    fn new(source: &str, problem: impl fmt::Display) -> Self {
        Self(one_line(&format!("trust policy {source}: {problem}")))
    }
}

/// A signing key the policy trusts, known by its name.
#[derive(Debug, Clone)]
pub struct PolicyKey {
    /// The name the policy gives it (reported as the signer).
    pub name: String,
    /// The public key (DER SubjectPublicKeyInfo).
    pub public_key: DerPublicKey,
}

/// How a keyless identity rule matches the certificate's SAN.
#[derive(Debug, Clone)]
pub enum SubjectMatcher {
    /// Equal to this string.
    Exact(String),
    /// Matched whole by this regular expression (compiled as `^(?:...)$`).
    Regex {
        /// The expression as written in the policy.
        source: String,
        /// The anchored expression.
        regex: regex::Regex,
    },
}

impl SubjectMatcher {
    /// An anchored regular-expression matcher: `pattern` must match the whole
    /// subject.
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        // Compiled alone first, so that errors point into the pattern as written.
        regex::Regex::new(pattern)?;
        let regex = regex::Regex::new(&format!("^(?:{pattern})$"))?;
        Ok(Self::Regex {
            source: pattern.to_string(),
            regex,
        })
    }

    /// Whether `subject` is allowed.
    pub fn matches(&self, subject: &str) -> bool {
        match self {
            Self::Exact(expected) => subject == expected,
            Self::Regex { regex, .. } => regex.is_match(subject),
        }
    }
}

impl fmt::Display for SubjectMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(subject) => write!(f, "subject {subject}"),
            Self::Regex { source, .. } => write!(f, "subject_regex {source}"),
        }
    }
}

/// A keyless signer the policy trusts: an OIDC issuer (exact) and a subject.
#[derive(Debug, Clone)]
pub struct IdentityRule {
    /// The certificate's OIDC issuer must equal this.
    pub issuer: String,
    /// The certificate's SAN must match this.
    pub subject: SubjectMatcher,
}

impl IdentityRule {
    /// Whether a certificate with this issuer and SAN is allowed.
    pub fn allows(&self, issuer: &str, subject: &str) -> bool {
        self.issuer == issuer && self.subject.matches(subject)
    }
}

/// Which roots, keys and identities are trusted.
///
/// [`TrustPolicy::default`] is the built-in production root with no keys and
/// no identities: signatures can verify, but nothing is trusted.
#[derive(Clone)]
pub struct TrustPolicy {
    root_name: String,
    /// The verifier over the trusted root, or why the root is unusable.
    verifier: Result<Arc<Verifier>, String>,
    keys: Vec<PolicyKey>,
    identities: Vec<IdentityRule>,
    /// notation's trust policy and store, for Notary Project signatures.
    notary: Option<Arc<NotaryPolicy>>,
}

impl fmt::Debug for TrustPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustPolicy")
            .field("trusted_root", &self.root_name)
            .field("root_usable", &self.verifier.is_ok())
            .field("keys", &self.keys)
            .field("identities", &self.identities)
            .field("notary", &self.notary.is_some())
            .finish()
    }
}

impl Default for TrustPolicy {
    fn default() -> Self {
        Self::with_builtin_root(false)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    trusted_root: Option<String>,
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    identities: Vec<IdentityEntry>,
    notation_trust_policy: Option<String>,
    notation_trust_store: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    public_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityEntry {
    issuer: String,
    subject: Option<String>,
    subject_regex: Option<String>,
}

impl TrustPolicy {
    /// The built-in public-good root (production, or staging), with no keys
    /// and no identities.
    pub fn with_builtin_root(staging: bool) -> Self {
        let root_name = if staging {
            "built-in staging root"
        } else {
            "built-in production root"
        };
        let verifier = roots::embedded(staging)
            .and_then(|root| roots::verifier(&root, root_name))
            .map(Arc::new)
            .map_err(|e| e.to_string());
        Self {
            root_name: root_name.to_string(),
            verifier,
            keys: Vec::new(),
            identities: Vec::new(),
            notary: None,
        }
    }

    /// Reads a policy file (TOML, see the module docs). Paths in it are
    /// relative to the file's directory.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError::new(&source, format!("cannot read: {e}")))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_str(&text, base, &source)
    }

    /// Parses policy TOML; relative paths are resolved against `base_dir`,
    /// and `source` names the policy in error messages.
    pub fn from_toml_str(text: &str, base_dir: &Path, source: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let place = e
                .span()
                .map(|span| format!("line {}: ", line_of(text, span.start)))
                .unwrap_or_default();
            PolicyError::new(source, format!("{place}{}", e.message()))
        })?;

        let mut policy = match &file.trusted_root {
            None => Self::with_builtin_root(false),
            Some(relative) => {
                let path = resolve(base_dir, relative);
                let root = roots::from_file(&path).map_err(|e| PolicyError::new(source, e))?;
                Self::with_root(&root, &path.display().to_string())
                    .map_err(|e| PolicyError::new(source, e))?
            }
        };
        // A built-in root that fails to load is a broken build, but say so.
        if let Err(problem) = &policy.verifier {
            return Err(PolicyError::new(source, problem));
        }

        for (index, key) in file.keys.iter().enumerate() {
            let place = format!("keys[{index}]");
            if key.name.trim().is_empty() {
                return Err(PolicyError::new(source, format!("{place}: empty name")));
            }
            if policy.keys.iter().any(|k| k.name == key.name) {
                return Err(PolicyError::new(
                    source,
                    format!("{place}: duplicate key name {:?}", key.name),
                ));
            }
            let key_path = resolve(base_dir, &key.public_key);
            let pem = std::fs::read_to_string(&key_path).map_err(|e| {
                PolicyError::new(
                    source,
                    format!(
                        "{place} ({}): cannot read {}: {e}",
                        key.name,
                        key_path.display()
                    ),
                )
            })?;
            policy = policy.with_key(&key.name, &pem).map_err(|e| {
                PolicyError::new(
                    source,
                    format!("{place} ({}): {}: {e}", key.name, key_path.display()),
                )
            })?;
        }

        for (index, identity) in file.identities.iter().enumerate() {
            let place = format!("identities[{index}]");
            if identity.issuer.trim().is_empty() {
                return Err(PolicyError::new(source, format!("{place}: empty issuer")));
            }
            let subject = match (&identity.subject, &identity.subject_regex) {
                (Some(_), Some(_)) => {
                    return Err(PolicyError::new(
                        source,
                        format!("{place}: give subject or subject_regex, not both"),
                    ));
                }
                (None, None) => {
                    return Err(PolicyError::new(
                        source,
                        format!("{place}: missing subject or subject_regex"),
                    ));
                }
                (Some(subject), None) if subject.is_empty() => {
                    return Err(PolicyError::new(source, format!("{place}: empty subject")));
                }
                (Some(subject), None) => SubjectMatcher::Exact(subject.clone()),
                (None, Some(pattern)) => SubjectMatcher::regex(pattern).map_err(|e| {
                    PolicyError::new(
                        source,
                        format!("{place}: bad subject_regex {pattern:?}: {e}"),
                    )
                })?,
            };
            policy.identities.push(IdentityRule {
                issuer: identity.issuer.clone(),
                subject,
            });
        }
        match (&file.notation_trust_policy, &file.notation_trust_store) {
            (None, None) => {}
            (Some(document), Some(store)) => {
                let notary = NotaryPolicy::from_files(
                    &resolve(base_dir, document),
                    &resolve(base_dir, store),
                )
                .map_err(|e| PolicyError::new(source, e))?;
                policy.notary = Some(Arc::new(notary));
            }
            _ => {
                return Err(PolicyError::new(
                    source,
                    "notation_trust_policy and notation_trust_store go together",
                ));
            }
        }
        Ok(policy)
    }

    /// A policy over a custom trusted root (no keys, no identities); `name`
    /// names the root in messages.
    pub fn with_root(root: &TrustedRoot, name: &str) -> Result<Self, TrustError> {
        let verifier = roots::verifier(root, name)?;
        Ok(Self {
            root_name: name.to_string(),
            verifier: Ok(Arc::new(verifier)),
            keys: Vec::new(),
            identities: Vec::new(),
            notary: None,
        })
    }

    /// Adds a trusted key from its PEM (`-----BEGIN PUBLIC KEY-----`: ECDSA
    /// P-256/P-384, RSA or Ed25519).
    pub fn with_key(mut self, name: &str, pem: &str) -> Result<Self, TrustError> {
        let bad = |e: Box<dyn std::error::Error + Send + Sync>| TrustError::BadKey {
            path: None,
            source: e,
        };
        let public_key = DerPublicKey::from_pem(pem).map_err(|e| bad(e.into()))?;
        KeyAlgorithm::from_spki(&public_key).map_err(|e| bad(e.into()))?;
        self.keys.push(PolicyKey {
            name: name.to_string(),
            public_key,
        });
        Ok(self)
    }

    /// Adds a trusted keyless identity.
    pub fn with_identity(mut self, issuer: &str, subject: SubjectMatcher) -> Self {
        self.identities.push(IdentityRule {
            issuer: issuer.to_string(),
            subject,
        });
        self
    }

    /// Judges Notary Project signatures by notation's trust policy and store.
    pub fn with_notary(mut self, notary: NotaryPolicy) -> Self {
        self.notary = Some(Arc::new(notary));
        self
    }

    /// notation's trust policy and store, when the policy names them.
    pub fn notary(&self) -> Option<&NotaryPolicy> {
        self.notary.as_deref()
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[PolicyKey] {
        &self.keys
    }

    /// The trusted keyless identities.
    pub fn identities(&self) -> &[IdentityRule] {
        &self.identities
    }

    /// A one-line description of the trusted root in use.
    pub fn root_name(&self) -> &str {
        &self.root_name
    }

    /// The first identity rule allowing this issuer and subject.
    pub fn allowed_identity(&self, issuer: &str, subject: &str) -> Option<&IdentityRule> {
        self.identities
            .iter()
            .find(|rule| rule.allows(issuer, subject))
    }

    pub(crate) fn verifier(&self) -> Result<&Verifier, &str> {
        self.verifier.as_deref().map_err(String::as_str)
    }
}

fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

/// The 1-based line of byte offset `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    //! Policy files, good and bad, written to a temporary directory; anchored regexes.

    use super::*;
    use sigstore_verify::crypto::KeyPair;

    const GITHUB: &str = "https://token.actions.githubusercontent.com";

    fn public_key_pem() -> String {
        KeyPair::generate_ecdsa_p256()
            .and_then(|pair| pair.public_key_der())
            .expect("key")
            .to_pem()
    }

    /// Writes `files` into a fresh directory and parses `policy.toml` there.
    fn load(
        policy: &str,
        files: &[(&str, &str)],
    ) -> (tempfile::TempDir, Result<TrustPolicy, PolicyError>) {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, content) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(path, content).expect("write");
        }
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, policy).expect("write policy");
        let result = TrustPolicy::from_toml_file(&path);
        (dir, result)
    }

    fn load_err(policy: &str, files: &[(&str, &str)]) -> String {
        let (_dir, result) = load(policy, files);
        let message = result.expect_err("policy must be rejected").to_string();
        assert!(!message.contains('\n'), "one line: {message}");
        assert!(message.contains("policy.toml"), "names the file: {message}");
        message
    }

    #[test]
    fn a_full_policy_loads_with_relative_paths() {
        let pem = public_key_pem();
        let root = sigstore_verify::trust_root::SIGSTORE_STAGING_TRUSTED_ROOT;
        let (_dir, policy) = load(
            r#"
trusted_root = "roots/staging.json"

[[keys]]
name = "release-key"
public_key = "keys/cosign.pub"

[[identities]]
issuer = "https://token.actions.githubusercontent.com"
subject = "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main"

[[identities]]
issuer = "https://accounts.google.com"
subject_regex = ".*@acme\\.example"
"#,
            &[("keys/cosign.pub", &pem), ("roots/staging.json", root)],
        );
        let policy = policy.expect("valid policy");
        assert_eq!(policy.keys().len(), 1);
        assert_eq!(policy.keys()[0].name, "release-key");
        assert_eq!(policy.identities().len(), 2);
        assert!(policy.root_name().ends_with("staging.json"));
        assert!(policy.verifier().is_ok());
        assert!(
            policy
                .allowed_identity(
                    GITHUB,
                    "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main"
                )
                .is_some()
        );
        assert!(
            policy
                .allowed_identity("https://accounts.google.com", "dev@acme.example")
                .is_some()
        );
        assert!(
            policy
                .allowed_identity("https://accounts.google.com", "dev@acme.example.evil")
                .is_none()
        );
        // Issuer must match exactly.
        assert!(
            policy
                .allowed_identity(
                    "https://token.actions.githubusercontent.com/",
                    "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main"
                )
                .is_none()
        );
    }

    #[test]
    fn an_empty_policy_trusts_nothing_over_the_production_root() {
        let (_dir, policy) = load("", &[]);
        let policy = policy.expect("empty policy is valid");
        assert!(policy.keys().is_empty());
        assert!(policy.identities().is_empty());
        assert_eq!(policy.root_name(), "built-in production root");
        let default = TrustPolicy::default();
        assert!(default.keys().is_empty() && default.identities().is_empty());
        assert!(default.verifier().is_ok());
        assert!(default.allowed_identity(GITHUB, "anyone").is_none());
    }

    #[test]
    fn unknown_fields_are_named_with_their_line() {
        let message = load_err("trusted_root = \"r.json\"\ntrust_everything = true\n", &[]);
        assert!(message.contains("unknown field"), "{message}");
        assert!(message.contains("trust_everything"), "{message}");
        assert!(message.contains("line 2"), "{message}");

        let message = load_err(
            "[[identities]]\nissuer = \"i\"\nsubject = \"s\"\nsubjectRegex = \"x\"\n",
            &[],
        );
        assert!(message.contains("subjectRegex"), "{message}");
    }

    #[test]
    fn missing_files_are_named() {
        let message = load_err("[[keys]]\nname = \"k\"\npublic_key = \"nope.pub\"\n", &[]);
        assert!(
            message.contains("nope.pub") && message.contains("cannot read"),
            "{message}"
        );

        let message = load_err("trusted_root = \"missing-root.json\"\n", &[]);
        assert!(message.contains("missing-root.json"), "{message}");

        let missing = std::env::temp_dir().join("provgraph-no-such-dir/policy.toml");
        let message = TrustPolicy::from_toml_file(&missing)
            .expect_err("missing policy")
            .to_string();
        assert!(message.contains("provgraph-no-such-dir"), "{message}");
    }

    #[test]
    fn bad_pem_and_bad_roots_are_rejected() {
        let message = load_err(
            "[[keys]]\nname = \"k\"\npublic_key = \"k.pub\"\n",
            &[("k.pub", "not a key")],
        );
        assert!(message.contains("bad PEM"), "{message}");
        assert!(message.contains("k.pub"), "{message}");

        // A certificate is not a public key.
        let message = load_err(
            "[[keys]]\nname = \"k\"\npublic_key = \"k.pub\"\n",
            &[(
                "k.pub",
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            )],
        );
        assert!(message.contains("bad PEM"), "{message}");

        let message = load_err(
            "trusted_root = \"r.json\"\n",
            &[("r.json", "{\"mediaType\": 1}")],
        );
        assert!(message.contains("r.json"), "{message}");
    }

    #[test]
    fn identity_rules_are_validated() {
        let both = load_err(
            "[[identities]]\nissuer = \"i\"\nsubject = \"s\"\nsubject_regex = \"s.*\"\n",
            &[],
        );
        assert!(both.contains("not both"), "{both}");

        let neither = load_err("[[identities]]\nissuer = \"i\"\n", &[]);
        assert!(neither.contains("missing subject"), "{neither}");

        let bad_regex = load_err(
            "[[identities]]\nissuer = \"i\"\nsubject_regex = \"(unclosed\"\n",
            &[],
        );
        assert!(bad_regex.contains("bad subject_regex"), "{bad_regex}");
        assert!(bad_regex.contains("identities[0]"), "{bad_regex}");

        let no_issuer = load_err("[[identities]]\nsubject = \"s\"\n", &[]);
        assert!(no_issuer.contains("issuer"), "{no_issuer}");

        let pem = public_key_pem();
        let duplicate = load_err(
            "[[keys]]\nname = \"k\"\npublic_key = \"k.pub\"\n[[keys]]\nname = \"k\"\npublic_key = \"k.pub\"\n",
            &[("k.pub", &pem)],
        );
        assert!(duplicate.contains("duplicate"), "{duplicate}");
    }

    #[test]
    fn subject_regexes_are_anchored() {
        let prefix = SubjectMatcher::regex("https://github.com/acme/calc").expect("regex");
        assert!(prefix.matches("https://github.com/acme/calc"));
        // The classic unanchored-prefix attack.
        assert!(!prefix.matches(
            "https://github.com/acme/calc-evil/.github/workflows/release.yml@refs/heads/main"
        ));
        assert!(!prefix.matches("https://evil.example/https://github.com/acme/calc"));

        let any_repo = SubjectMatcher::regex("https://github.com/acme/.*").expect("regex");
        assert!(
            any_repo.matches("https://github.com/acme/x/.github/workflows/r.yml@refs/heads/main")
        );
        assert!(!any_repo.matches("https://evil.example/?next=https://github.com/acme/x"));
        assert!(!any_repo.matches("xhttps://github.com/acme/x"));

        let exact_ref = SubjectMatcher::regex(
            r"https://github\.com/acme/calc/\.github/workflows/release\.yml@refs/heads/main",
        )
        .expect("regex");
        assert!(
            exact_ref.matches(
                "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main"
            )
        );
        assert!(!exact_ref.matches(
            "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main-evil"
        ));
        assert!(!exact_ref.matches(
            "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main\n"
        ));

        // Alternation is anchored as a whole, not just its first and last branch.
        let either =
            SubjectMatcher::regex("https://github.com/acme/calc/.*|https://github.com/acme/lib/.*")
                .expect("regex");
        assert!(either.matches("https://github.com/acme/lib/x"));
        assert!(!either.matches("https://evil.example/https://github.com/acme/lib/x"));
        assert!(!either.matches("https://github.com/acme/calc/x\nhttps://evil"));

        let exact = SubjectMatcher::Exact("https://github.com/acme/calc".into());
        assert!(!exact.matches("https://github.com/acme/calc/"));
        let rule = IdentityRule {
            issuer: GITHUB.into(),
            subject: prefix,
        };
        assert!(rule.allows(GITHUB, "https://github.com/acme/calc"));
        assert!(!rule.allows(
            "https://token.actions.githubusercontent.com.evil",
            "https://github.com/acme/calc"
        ));
    }

    #[test]
    fn with_key_rejects_unsupported_material() {
        let policy = TrustPolicy::default();
        assert!(policy.clone().with_key("k", &public_key_pem()).is_ok());
        let err = policy.with_key(
            "k",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        );
        assert!(err.is_err());
    }
}
