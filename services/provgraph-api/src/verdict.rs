//! `GET /v1/verdict/DIGEST`: a digest's audit verdict as JSON for admission
//! controllers, policy engines and `provgraph gate`. The verdict is the
//! GraphQL `audit` answer itself (the schema runs the query), so the two
//! cannot differ; [`Verdicts`] gives the same answer to the event
//! dispatcher and the verdict tracker.

use async_graphql::{Request, Variables};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use provgraph_model::Digest;
use provgraph_otlp::ErrorKind;
use serde::Serialize;
use serde_json::Value;

use crate::ApiState;
use crate::schema::ProvSchema;

const AUDIT: &str = "query($digest: String!) {
  audit(digest: $digest) {
    verdict summary
    conflicts { kind claimed proven }
    signatures { verified trusted signer issuer reason subject }
  }
}";

/// The answer: the verdict by its GraphQL `Verdict` name and the evidence
/// that decided it, one line each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerdictAnswer {
    pub digest: String,
    pub verdict: String,
    pub reasons: Vec<String>,
}

/// Why a verdict could not be had.
#[derive(Debug, thiserror::Error)]
pub enum VerdictError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Unavailable(String),
}

/// `digest` parsed, as the path gives it.
fn parse(digest: &str) -> Result<Digest, VerdictError> {
    Digest::parse(digest).map_err(|err| VerdictError::Malformed(err.to_string()))
}

fn request(digest: &Digest) -> Request {
    Request::new(AUDIT).variables(Variables::from_json(
        serde_json::json!({ "digest": digest.to_string() }),
    ))
}

/// The GraphQL answer read into a [`VerdictAnswer`].
fn read(digest: &Digest, answer: async_graphql::Response) -> Result<VerdictAnswer, VerdictError> {
    if let Some(error) = answer.errors.first() {
        return Err(VerdictError::Unavailable(error.message.clone()));
    }
    let data = answer.data.into_json().unwrap_or(Value::Null);
    let audit = &data["audit"];
    let verdict = audit["verdict"]
        .as_str()
        .ok_or_else(|| VerdictError::Unavailable("audit answer not understood".into()))?
        .to_string();
    let mut reasons = vec![audit["summary"].as_str().unwrap_or_default().to_string()];
    for conflict in audit["conflicts"].as_array().into_iter().flatten() {
        let list = |name: &str| {
            conflict[name]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        reasons.push(format!(
            "{} conflict: spans claim [{}], proofs say [{}]",
            conflict["kind"].as_str().unwrap_or("?"),
            list("claimed"),
            list("proven")
        ));
    }
    for signature in audit["signatures"].as_array().into_iter().flatten() {
        let flag = |name: &str, yes: &'static str, no: &'static str| {
            if signature[name].as_bool() == Some(true) {
                yes
            } else {
                no
            }
        };
        let mut line = format!(
            "signature on {} by {} ({}): {}, {}",
            signature["subject"].as_str().unwrap_or("?"),
            signature["signer"].as_str().unwrap_or("no identity"),
            signature["issuer"].as_str().unwrap_or("no issuer"),
            flag("verified", "verified", "does not verify"),
            flag("trusted", "trusted", "not trusted"),
        );
        if let Some(reason) = signature["reason"].as_str().filter(|r| !r.is_empty()) {
            line.push_str(": ");
            line.push_str(reason);
        }
        reasons.push(line);
    }
    Ok(VerdictAnswer {
        digest: digest.to_string(),
        verdict,
        reasons,
    })
}

/// Verdicts for callers inside the process (the event dispatcher, the
/// verdict tracker): the same query as the endpoint, outside the query
/// slots (those are for clients).
#[derive(Clone)]
pub struct Verdicts {
    pub(crate) schema: ProvSchema,
}

impl Verdicts {
    /// The verdict of `digest` (`sha256:<64 hex>`).
    pub async fn of(&self, digest: &str) -> Result<VerdictAnswer, VerdictError> {
        let digest = parse(digest)?;
        read(&digest, self.schema.execute(request(&digest)).await)
    }
}

/// `GET /v1/verdict/DIGEST`: 200 with the answer, 400 for a malformed
/// digest, 503 when the store does not answer.
pub(crate) async fn get_verdict(
    State(state): State<ApiState>,
    Path(digest): Path<String>,
) -> Response {
    let refused = |kind: ErrorKind, message: String| {
        crate::refusal(kind, axum::Json(serde_json::json!({ "error": message })))
    };
    let digest = match parse(&digest) {
        Ok(digest) => digest,
        Err(err) => return refused(ErrorKind::InvalidArgument, err.to_string()),
    };
    let answer =
        match crate::execute_limited(&state, request(&digest), tokio::time::Instant::now()).await {
            Ok(answer) => answer,
            Err(refusal) => return refusal,
        };
    match read(&digest, answer) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(err) => refused(ErrorKind::Unavailable, err.to_string()),
    }
}
