//! The verification of an [`Envelope`] under the trust policy statement
//! that applies: integrity (always enforced), the artifact's digest and
//! size, authenticity (the chain to a named store), expiry, and the
//! certificates' validity at an authentic signing time; each enforced or
//! reported as the statement's level says; then whether the signer is
//! trusted (store and identity).

use serde::Serialize;

use super::certs::{self, Cert};
use super::envelope::{Envelope, EnvelopeFormat, SigningScheme};
use super::policy::{Action, Level, NotaryPolicy, Statement, store_holding};
use super::store::StoreKind;
use super::time::format_rfc3339;
use super::timestamp;

/// The outcome of verifying one envelope for one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotaryOutcome {
    /// The artifact, as `ALGORITHM:HEX`: the `digest` asked about, else the
    /// one the envelope signs.
    pub subject: String,
    /// Verified under the applicable policy's level.
    pub verified: bool,
    /// Verified, the chain ends in the policy's trust store, and the
    /// signing certificate's subject is a trusted identity.
    pub trusted: bool,
    /// The signing certificate's subject (RFC 4514).
    pub signer: Option<String>,
    /// Its issuer.
    pub issuer: Option<String>,
    /// Why not verified or not trusted, or what verified it (and what was
    /// only reported).
    pub reason: String,
    pub format: EnvelopeFormat,
    pub signing_scheme: SigningScheme,
    /// The signing time the signer claims (`notary.x509`).
    pub signing_time: Option<i64>,
    /// An authentic signing time: the countersignature's (lower bound), or
    /// the signing authority's; set only when verified.
    pub signed_at: Option<i64>,
    pub expiry: Option<i64>,
    /// The subjects of the chain, leaf first.
    pub chain: Vec<String>,
    /// The trust policy statement that applied, and its level.
    pub policy: Option<String>,
    pub level: Option<&'static str>,
    /// The named store the chain ends in (`ca:NAME`).
    pub trust_store: Option<String>,
    /// The timestamp authority's store (`tsa:NAME`), when a countersignature
    /// was checked.
    pub timestamp_store: Option<String>,
}

/// What a level does with failed validations.
struct Findings {
    enforced: Vec<String>,
    logged: Vec<String>,
}

impl Findings {
    fn add(&mut self, action: Action, problem: String) {
        match action {
            Action::Enforce => self.enforced.push(problem),
            Action::Log => self.logged.push(problem),
        }
    }
}

/// Verifies `envelope` for the artifact `digest` (of `size` bytes, when
/// known) in repository `reference`, under `policy`, at time `now`
/// (seconds since the epoch). Never fails: what does not verify says why.
pub fn verify_envelope(
    envelope: &Envelope,
    digest: Option<&str>,
    size: Option<u64>,
    reference: Option<&str>,
    policy: Option<&NotaryPolicy>,
    now: i64,
) -> NotaryOutcome {
    let mut outcome = verify(envelope, digest, size, reference, policy, now);
    outcome.reason = provgraph_model::one_line(&outcome.reason);
    outcome
}

fn verify(
    envelope: &Envelope,
    digest: Option<&str>,
    size: Option<u64>,
    reference: Option<&str>,
    policy: Option<&NotaryPolicy>,
    now: i64,
) -> NotaryOutcome {
    let target = &envelope.target;
    let subject = digest.map_or_else(|| target.digest.clone(), str::to_ascii_lowercase);
    let parsed: Vec<Result<Cert, String>> =
        envelope.chain.iter().map(|der| Cert::parse(der)).collect();
    let leaf = parsed.first().and_then(|c| c.as_ref().ok());
    let mut outcome = NotaryOutcome {
        subject: subject.clone(),
        verified: false,
        trusted: false,
        signer: leaf.map(|c| c.subject.clone()),
        issuer: leaf.map(|c| c.issuer.clone()),
        reason: String::new(),
        format: envelope.format,
        signing_scheme: envelope.signing_scheme,
        signing_time: envelope.signing_time,
        signed_at: None,
        expiry: envelope.expiry,
        chain: parsed
            .iter()
            .map(|c| {
                c.as_ref()
                    .map_or_else(|_| "(unreadable)".into(), |c| c.subject.clone())
            })
            .collect(),
        policy: None,
        level: None,
        trust_store: None,
        timestamp_store: None,
    };

    let Some(policy) = policy else {
        outcome.reason =
            "no applicable policy: no notation trust policy is configured (notation_trust_policy)"
                .into();
        return outcome;
    };
    let Some(statement) = policy.select(reference) else {
        outcome.reason = match reference {
            Some(r) => format!("no applicable policy: no trust policy is scoped to {r} or \"*\""),
            None => "no applicable policy: no reference given and no trust policy is scoped \"*\""
                .into(),
        };
        return outcome;
    };
    outcome.policy = Some(statement.name.clone());
    outcome.level = Some(statement.level.as_str());
    if statement.level == Level::Skip {
        outcome.reason = format!(
            "not verified: trust policy {:?} skips verification (level skip)",
            statement.name
        );
        return outcome;
    }

    // Integrity and the artifact: enforced at every level.
    if let Some(problem) = integrity(envelope, &parsed, &subject, size) {
        outcome.reason = problem;
        return outcome;
    }
    let chain: Vec<Cert> = parsed.into_iter().filter_map(Result::ok).collect();
    let mut findings = Findings {
        enforced: Vec::new(),
        logged: Vec::new(),
    };

    // Authenticity: a well-formed chain that ends in a named store.
    let kind = match envelope.signing_scheme {
        SigningScheme::X509 => StoreKind::Ca,
        SigningScheme::SigningAuthority => StoreKind::SigningAuthority,
    };
    let mut chain_trusted = false;
    match certs::check_chain(&envelope.chain) {
        Err(problem) => findings.add(statement.authenticity, format!("untrusted chain: {problem}")),
        Ok(_) => match store_holding(statement, kind, &chain) {
            Some(label) => {
                chain_trusted = true;
                outcome.trust_store = Some(label.to_string());
            }
            None => findings.add(
                statement.authenticity,
                format!(
                    "untrusted chain: no certificate of the chain is in a {} store of trust policy {:?}",
                    kind.as_str(),
                    statement.name
                ),
            ),
        },
    }

    // Expiry: the signer's "best by use" time.
    if let Some(expiry) = envelope.expiry
        && now >= expiry
    {
        findings.add(
            statement.expiry,
            format!(
                "expired: the signature expired at {}",
                format_rfc3339(expiry)
            ),
        );
    }

    // Certificate validity at an authentic signing time.
    authentic_time(
        envelope,
        statement,
        &chain,
        now,
        &mut findings,
        &mut outcome,
    );

    if let Some(problem) = findings.enforced.first() {
        outcome.reason = format!("not verified: {problem}");
        outcome.signed_at = None;
        return outcome;
    }
    outcome.verified = true;
    let leaf = &chain[0];
    let identity_ok = statement
        .identities
        .iter()
        .any(|identity| identity.matches(&leaf.subject_attributes()));
    let logged = if findings.logged.is_empty() {
        String::new()
    } else {
        format!(
            "; reported, not enforced at level {}: {}",
            statement.level.as_str(),
            findings.logged.join("; ")
        )
    };
    outcome.trusted = chain_trusted && identity_ok;
    outcome.reason = if outcome.trusted {
        format!(
            "verified and trusted by trust policy {:?} ({}): signed by {} with a chain to {}{logged}",
            statement.name,
            statement.level.as_str(),
            leaf.subject,
            outcome.trust_store.as_deref().unwrap_or("?"),
        )
    } else if !chain_trusted {
        format!(
            "verified by trust policy {:?} ({}) but not trusted: untrusted chain{logged}",
            statement.name,
            statement.level.as_str()
        )
    } else {
        format!(
            "verified by trust policy {:?} ({}) but not trusted: identity not allowed: {} is not among its trustedIdentities{logged}",
            statement.name,
            statement.level.as_str(),
            leaf.subject
        )
    };
    outcome
}

/// The checks every level enforces: signed attributes the specification
/// allows, the signature, the artifact's digest and size.
fn integrity(
    envelope: &Envelope,
    parsed: &[Result<Cert, String>],
    subject: &str,
    size: Option<u64>,
) -> Option<String> {
    if let Some(problem) = envelope.header_problems.first() {
        return Some(format!("not verified: {problem}"));
    }
    for (index, cert) in parsed.iter().enumerate() {
        if let Err(problem) = cert {
            return Some(format!(
                "not verified: certificate {index} of the chain: {problem}"
            ));
        }
    }
    let Some(Ok(leaf)) = parsed.first() else {
        return Some("not verified: no signing certificate".into());
    };
    if let Err(problem) = certs::verify_signature(
        leaf,
        envelope.alg,
        &envelope.signed_bytes,
        &envelope.signature,
    ) {
        return Some(format!("not verified: tampered: {problem}"));
    }
    let target = &envelope.target;
    if target.digest != subject {
        return Some(format!(
            "not verified: wrong digest: the envelope signs {}, not {subject}",
            target.digest
        ));
    }
    if let Some(size) = size
        && size != target.size
    {
        return Some(format!(
            "not verified: wrong size: the envelope signs {} bytes, the artifact has {size}",
            target.size
        ));
    }
    None
}

/// The validity of the chain at an authentic signing time: the signing
/// authority's time, an RFC 3161 countersignature's (when the policy names
/// `tsa` stores), else now.
fn authentic_time(
    envelope: &Envelope,
    statement: &Statement,
    chain: &[Cert],
    now: i64,
    findings: &mut Findings,
    outcome: &mut NotaryOutcome,
) {
    let action = statement.authentic_timestamp;
    let expired = |problem: String| format!("expired: {problem}");
    match envelope.signing_scheme {
        SigningScheme::SigningAuthority => {
            let Some(at) = envelope.authentic_signing_time else {
                return;
            };
            match certs::valid_at(chain, at) {
                Ok(()) => outcome.signed_at = Some(at),
                Err(problem) => findings.add(
                    action,
                    expired(format!(
                        "{problem} (authentic signing time {})",
                        format_rfc3339(at)
                    )),
                ),
            }
        }
        SigningScheme::X509 => {
            let tsa: Vec<_> = statement.stores_of(StoreKind::Tsa).collect();
            let triggered = !tsa.is_empty()
                && (!statement.timestamp_after_expiry || certs::valid_at(chain, now).is_err());
            if !triggered {
                if let Err(problem) = certs::valid_at(chain, now) {
                    findings.add(
                        action,
                        expired(format!(
                            "{problem} (verification time, no authentic timestamp)"
                        )),
                    );
                }
                return;
            }
            let Some(token) = envelope.timestamp.as_deref() else {
                findings.add(
                    action,
                    "expired: the policy names tsa stores but the envelope has no timestamp countersignature".into(),
                );
                return;
            };
            match timestamp::verify(token, &envelope.signature, &tsa) {
                Err(problem) => findings.add(action, problem),
                Ok(stamped) => {
                    let within = certs::valid_at(chain, stamped.lower)
                        .and_then(|()| certs::valid_at(chain, stamped.upper));
                    match within {
                        Ok(()) => {
                            outcome.signed_at = Some(stamped.lower);
                            outcome.timestamp_store = Some(stamped.store);
                        }
                        Err(problem) => findings.add(
                            action,
                            expired(format!(
                                "{problem} (timestamped at {})",
                                format_rfc3339(stamped.lower)
                            )),
                        ),
                    }
                }
            }
        }
    }
}
