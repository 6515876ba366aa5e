//! Bearer-token access control: ingest tokens (OTLP exports and evidence
//! posts), read tokens (GraphQL and metrics), each with a name that becomes
//! the request's [`Principal`].
//!
//! The token file is TOML:
//!
//! ```toml
//! [[ingest]]
//! name = "ci-main"                      # letters, digits, '.', '_', '-'
//! sha256 = "<64 hex digits>"            # SHA-256 of the token (preferred)
//! [[ingest]]
//! name = "deploy-bot"
//! token = "a-long-random-secret"        # or the token itself
//! [[read]]
//! name = "auditor"
//! sha256 = "..."
//! ```
//!
//! Only SHA-256 digests are kept in memory. A presented token is hashed and
//! compared with every configured digest of its role in constant time (no
//! early exit on a match or a mismatch), so timing does not tell how much of
//! a guess was right nor which entry matched. Tokens never reach the logs:
//! a refusal logs the reason, not the header.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use provgraph_collector::status::{self, ErrorKind};
use provgraph_model::Principal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Shortest token accepted in a `token = "..."` entry.
pub const MIN_TOKEN_CHARS: usize = 16;

/// What a token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// OTLP exports (gRPC and HTTP), `POST /v1/evidence`, `POST /v1/index`.
    Ingest,
    /// `/graphql` and `/metrics`.
    Read,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Read => "read",
        }
    }
}

#[derive(Debug)]
struct Entry {
    name: Arc<str>,
    digest: [u8; 32],
}

/// The configured tokens. A role with no tokens is open.
#[derive(Debug, Default)]
pub struct Tokens {
    ingest: Vec<Entry>,
    read: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    #[serde(default)]
    ingest: Vec<TokenSpec>,
    #[serde(default)]
    read: Vec<TokenSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSpec {
    name: String,
    token: Option<String>,
    sha256: Option<String>,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Malformed,
    Unknown,
}

impl Refusal {
    fn message(&self, role: Role) -> String {
        match self {
            Refusal::Missing => format!(
                "this endpoint needs an {} token: send `Authorization: Bearer <token>`",
                role.name()
            ),
            Refusal::Malformed => {
                "the Authorization header must be `Bearer <token>` (ASCII)".to_string()
            }
            Refusal::Unknown => format!("the bearer token is not a known {} token", role.name()),
        }
    }
}

/// `sha256(token)`, as the token file's `sha256` field wants it.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `provgraph token NAME [--read]`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The sender's (or reader's) name, recorded with what it sends.
    name: String,
    /// A read token (GraphQL, metrics) instead of an ingest token.
    #[arg(long)]
    read: bool,
}

/// A fresh token (32 random bytes from the OS, hex) and its file entry.
pub fn new_token(args: &TokenArgs) -> Result<String, String> {
    if !valid_name(&args.name) {
        return Err("the name must be 1 to 64 letters, digits, '.', '_' or '-'".into());
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|err| format!("cannot read /dev/urandom: {err}"))?;
    let token = hex::encode(bytes);
    let role = if args.read { "read" } else { "ingest" };
    Ok(format!(
        "# token for {name} (give it to the {who}; it is not stored anywhere):\n# {token}\n\n[[{role}]]\nname = \"{name}\"\nsha256 = \"{digest}\"\n",
        name = args.name,
        who = if args.read { "reader" } else { "sender" },
        digest = token_digest(&token),
    ))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Equal in time that depends only on the length (always 32 here).
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

impl Tokens {
    /// Reads a token file; every problem names the file and the entry.
    pub fn from_file(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read token file {}: {err}", path.display()))?;
        Tokens::from_toml(&text).map_err(|err| format!("token file {}: {err}", path.display()))
    }

    /// Parses the TOML of a token file.
    pub fn from_toml(text: &str) -> Result<Tokens, String> {
        let file: TokenFile =
            toml::from_str(text).map_err(|err| err.to_string().replace('\n', " "))?;
        Ok(Tokens {
            ingest: entries(file.ingest, Role::Ingest)?,
            read: entries(file.read, Role::Read)?,
        })
    }

    /// True when `role` needs a token.
    pub fn required(&self, role: Role) -> bool {
        !self.of(role).is_empty()
    }

    /// Names of the tokens of `role`, for the startup log.
    pub fn names(&self, role: Role) -> Vec<&str> {
        self.of(role).iter().map(|e| &*e.name).collect()
    }

    fn of(&self, role: Role) -> &[Entry] {
        match role {
            Role::Ingest => &self.ingest,
            Role::Read => &self.read,
        }
    }

    /// The principal `headers` authenticate as for `role`: `Ok(None)` when
    /// the role is open.
    pub fn check(&self, role: Role, headers: &HeaderMap) -> Result<Option<Principal>, Refusal> {
        let entries = self.of(role);
        if entries.is_empty() {
            return Ok(None);
        }
        let value = headers.get(header::AUTHORIZATION).ok_or(Refusal::Missing)?;
        let value = value.to_str().map_err(|_| Refusal::Malformed)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(Refusal::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Refusal::Malformed);
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(Refusal::Malformed);
        }
        self.check_token(role, token)
    }

    /// The principal `token` authenticates as for `role` (which needs
    /// tokens).
    fn check_token(&self, role: Role, token: &str) -> Result<Option<Principal>, Refusal> {
        let entries = self.of(role);
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found: Option<&Entry> = None;
        for entry in entries {
            // Every entry is compared, matched or not.
            if same(&entry.digest, &digest) {
                found = Some(entry);
            }
        }
        found
            .map(|entry| Some(Principal::new(entry.name.clone())))
            .ok_or(Refusal::Unknown)
    }

    /// As [`Tokens::check`], and for a read (GET or HEAD) of the read role
    /// without an `Authorization` header, the token of the web UI's cookie
    /// ([`provgraph_api::READ_COOKIE`], set by its token form): a browser
    /// cannot send a bearer header on a link. Never for a POST, so another
    /// site cannot make a browser run a query with it.
    pub fn check_request(
        &self,
        role: Role,
        method: &http::Method,
        headers: &HeaderMap,
    ) -> Result<Option<Principal>, Refusal> {
        match self.check(role, headers) {
            Err(Refusal::Missing) if role == Role::Read && reads(method) => {
                match cookie_token(headers) {
                    Some(token) => self.check_token(role, token),
                    None => Err(Refusal::Missing),
                }
            }
            other => other,
        }
    }
}

fn reads(method: &http::Method) -> bool {
    method == http::Method::GET || method == http::Method::HEAD
}

/// The read token in the `Cookie` headers, if any.
fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == provgraph_api::READ_COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

fn entries(specs: Vec<TokenSpec>, role: Role) -> Result<Vec<Entry>, String> {
    let mut out: Vec<Entry> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let at = format!("[[{}]] entry {} ({:?})", role.name(), i + 1, spec.name);
        if !valid_name(&spec.name) {
            return Err(format!(
                "{at}: name must be 1 to 64 letters, digits, '.', '_' or '-'"
            ));
        }
        let digest: [u8; 32] = match (spec.token, spec.sha256) {
            (Some(token), None) => {
                if token.chars().count() < MIN_TOKEN_CHARS {
                    return Err(format!(
                        "{at}: token must be at least {MIN_TOKEN_CHARS} characters"
                    ));
                }
                if token.trim() != token || token.contains(char::is_whitespace) {
                    return Err(format!("{at}: token must not contain whitespace"));
                }
                Sha256::digest(token.as_bytes()).into()
            }
            (None, Some(hex_digest)) => {
                let bytes = hex::decode(hex_digest.trim())
                    .ok()
                    .filter(|b| b.len() == 32)
                    .ok_or_else(|| format!("{at}: sha256 must be 64 hex digits"))?;
                let mut digest = [0u8; 32];
                digest.copy_from_slice(&bytes);
                digest
            }
            _ => return Err(format!("{at}: give exactly one of `token` and `sha256`")),
        };
        if out.iter().any(|e| *e.name == spec.name) {
            return Err(format!("{at}: name used twice"));
        }
        if out.iter().any(|e| e.digest == digest) {
            return Err(format!("{at}: same token as another entry"));
        }
        out.push(Entry {
            name: spec.name.into(),
            digest,
        });
    }
    Ok(out)
}

/// How a refusal is written on the wire.
#[derive(Clone, Copy, Debug)]
pub enum Wire {
    /// gRPC: trailers-only UNAUTHENTICATED.
    Grpc,
    /// OTLP/HTTP: 401 with a `google.rpc.Status` in the request's encoding.
    Otlp,
    /// JSON: 401 with `{"errors":[{"message":...}]}` (GraphQL's shape).
    Json,
}

/// What the middleware needs.
#[derive(Clone, Debug)]
pub struct Gate {
    pub tokens: Arc<Tokens>,
    pub role: Role,
    pub wire: Wire,
}

fn refused(gate: &Gate, headers: &HeaderMap, refusal: &Refusal) -> Response {
    let message = refusal.message(gate.role);
    let challenge = HeaderValue::from_static("Bearer realm=\"provgraph\"");
    match gate.wire {
        Wire::Grpc => status::grpc_status(ErrorKind::Unauthenticated, &message),
        Wire::Otlp => {
            let mut response =
                status::http_status_for_request(headers, ErrorKind::Unauthenticated, &message, 0);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
            response
        }
        Wire::Json => {
            let body = serde_json::json!({ "errors": [{ "message": message }] }).to_string();
            let mut response = (ErrorKind::Unauthenticated.http_status(), body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
            response
        }
    }
}

/// A browser navigating (its `Accept` names HTML first among what it
/// takes), not a program reading JSON or a picture.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .next()
                .is_some_and(|first| first.trim().starts_with("text/html"))
        })
}

/// Axum middleware: lets the request through with its [`Principal`] in the
/// extensions, or answers 401 / UNAUTHENTICATED.
pub async fn require(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    match gate
        .tokens
        .check_request(gate.role, request.method(), request.headers())
    {
        Ok(Some(principal)) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(refusal) => {
            tracing::info!(
                role = gate.role.name(),
                reason = ?refusal,
                path = %request.uri().path(),
                "request refused: not authenticated"
            );
            if gate.role == Role::Read && reads(request.method()) && wants_html(request.headers()) {
                // A browser on a UI page (or GraphiQL): the token form.
                let next = request
                    .uri()
                    .path_and_query()
                    .map_or("/", |path| path.as_str());
                let message = match refusal {
                    Refusal::Unknown => "That is not a known read token: try another.",
                    _ => "This server shows its graph to holders of a read token.",
                };
                return provgraph_api::token_page(next, message);
            }
            refused(&gate, request.headers(), &refusal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn tokens_authenticate_by_role_and_name() {
        let tokens = Tokens::from_toml(&format!(
            r#"
            [[ingest]]
            name = "ci-a"
            token = "aaaaaaaaaaaaaaaaaaaa"
            [[ingest]]
            name = "ci-b"
            sha256 = "{}"
            [[read]]
            name = "auditor"
            token = "rrrrrrrrrrrrrrrrrrrr"
            "#,
            token_digest("bbbbbbbbbbbbbbbbbbbb")
        ))
        .unwrap();
        let who = |role, value: &str| tokens.check(role, &headers(value));
        assert_eq!(
            who(Role::Ingest, "Bearer aaaaaaaaaaaaaaaaaaaa")
                .unwrap()
                .unwrap()
                .name(),
            "ci-a"
        );
        assert_eq!(
            who(Role::Ingest, "bearer   bbbbbbbbbbbbbbbbbbbb")
                .unwrap()
                .unwrap()
                .name(),
            "ci-b"
        );
        // A read token is not an ingest token, nor the other way round.
        assert_eq!(
            who(Role::Ingest, "Bearer rrrrrrrrrrrrrrrrrrrr"),
            Err(Refusal::Unknown)
        );
        assert_eq!(
            who(Role::Read, "Bearer aaaaaaaaaaaaaaaaaaaa"),
            Err(Refusal::Unknown)
        );
        assert_eq!(who(Role::Read, "Basic cnJycg=="), Err(Refusal::Malformed));
        assert_eq!(who(Role::Read, "Bearer "), Err(Refusal::Malformed));
        assert_eq!(
            tokens.check(Role::Read, &HeaderMap::new()),
            Err(Refusal::Missing)
        );
        // A prefix of a token is not the token.
        assert_eq!(
            who(Role::Ingest, "Bearer aaaaaaaaaaaaaaaaaaa"),
            Err(Refusal::Unknown)
        );
    }

    #[test]
    fn open_roles_need_no_token() {
        let tokens =
            Tokens::from_toml("[[read]]\nname = \"r\"\ntoken = \"rrrrrrrrrrrrrrrrrrrr\"\n")
                .unwrap();
        assert!(!tokens.required(Role::Ingest));
        assert_eq!(tokens.check(Role::Ingest, &HeaderMap::new()), Ok(None));
        assert!(tokens.required(Role::Read));
    }

    #[test]
    fn bad_token_files_say_what_is_wrong() {
        let cases = [
            (
                "[[ingest]]\nname = \"a b\"\ntoken = \"aaaaaaaaaaaaaaaaaaaa\"",
                "name must be",
            ),
            ("[[ingest]]\nname = \"a\"\ntoken = \"short\"", "at least 16"),
            ("[[ingest]]\nname = \"a\"", "exactly one of"),
            (
                "[[ingest]]\nname = \"a\"\nsha256 = \"abc\"",
                "64 hex digits",
            ),
            (
                "[[ingest]]\nname = \"a\"\ntoken = \"aaaaaaaaaaaaaaaaaaaa\"\n[[ingest]]\nname = \"a\"\ntoken = \"bbbbbbbbbbbbbbbbbbbb\"",
                "name used twice",
            ),
            (
                "[[ingest]]\nname = \"a\"\ntoken = \"aaaaaaaaaaaaaaaaaaaa\"\n[[ingest]]\nname = \"b\"\ntoken = \"aaaaaaaaaaaaaaaaaaaa\"",
                "same token",
            ),
            ("[[writers]]\nname = \"a\"", "unknown field"),
        ];
        for (text, expected) in cases {
            let err = Tokens::from_toml(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn new_tokens_fit_the_file_format() {
        let text = new_token(&TokenArgs {
            name: "ci-x".into(),
            read: false,
        })
        .unwrap();
        let token = text
            .lines()
            .nth(1)
            .unwrap()
            .trim_start_matches("# ")
            .to_string();
        assert_eq!(token.len(), 64);
        let tokens = Tokens::from_toml(&text).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        assert_eq!(
            tokens.check(Role::Ingest, &h).unwrap().unwrap().name(),
            "ci-x"
        );
        let other = new_token(&TokenArgs {
            name: "ci-x".into(),
            read: true,
        })
        .unwrap();
        assert_ne!(
            other.lines().nth(1),
            text.lines().nth(1),
            "tokens are random"
        );
        assert!(other.contains("[[read]]"));
    }

    #[test]
    fn the_ui_cookie_carries_a_read_token_for_reads_only() {
        let tokens = Tokens::from_toml(
            "[[read]]\nname = \"auditor\"\ntoken = \"rrrrrrrrrrrrrrrrrrrr\"\n\
             [[ingest]]\nname = \"ci\"\ntoken = \"iiiiiiiiiiiiiiiiiiii\"\n",
        )
        .unwrap();
        let cookie = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
            h
        };
        let get = http::Method::GET;
        let good = cookie("theme=dark; provgraph_read=rrrrrrrrrrrrrrrrrrrr");
        assert_eq!(
            tokens
                .check_request(Role::Read, &get, &good)
                .unwrap()
                .unwrap()
                .name(),
            "auditor"
        );
        assert_eq!(
            tokens.check_request(Role::Read, &http::Method::POST, &good),
            Err(Refusal::Missing),
            "never for a POST"
        );
        let ingest = cookie("provgraph_read=iiiiiiiiiiiiiiiiiiii");
        assert_eq!(
            tokens.check_request(Role::Ingest, &get, &ingest),
            Err(Refusal::Missing),
            "never for the ingest role"
        );
        assert_eq!(
            tokens.check_request(Role::Read, &get, &ingest),
            Err(Refusal::Unknown)
        );
        assert_eq!(
            tokens.check_request(Role::Read, &get, &cookie("provgraph_read=")),
            Err(Refusal::Missing)
        );
        // A bearer header, when sent, is what counts.
        let mut both = good.clone();
        both.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer wrong-wrong-wrong"),
        );
        assert_eq!(
            tokens.check_request(Role::Read, &get, &both),
            Err(Refusal::Unknown)
        );
    }

    #[test]
    fn digests_compare_whole() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(same(&a, &b));
        b[31] ^= 1;
        assert!(!same(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!same(&a, &b));
    }
}
