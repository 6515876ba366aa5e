//! The evidence routes: `POST /v1/evidence` (signatures, SBOMs and
//! vulnerability documents) and `POST /v1/index` over `provgraph-evidence`,
//! which parses, verifies and records; here only the HTTP answers. A body
//! with `Content-Type: application/jose+json` or `application/cose` is a
//! Notary Project envelope (`&reference=` picks its trust policy).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use provgraph_evidence::{
    ImportError, Imported, MAX_EVIDENCE_BYTES, NotaryImport, import_document, import_notary,
    parse_index,
};
use provgraph_model::Principal;
use provgraph_otlp::ErrorKind;
use provgraph_signatures::TrustPolicy;
use provgraph_signatures::notary::EnvelopeFormat;
use provgraph_store::{Store, StoreError};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct EvidenceQuery {
    digest: Option<String>,
    /// `REGISTRY/REPOSITORY`, selecting a Notary Project trust policy.
    reference: Option<String>,
    /// The artifact manifest's size, checked against a Notary Project
    /// envelope's signed descriptor.
    size: Option<u64>,
}

#[derive(Clone)]
pub(crate) struct EvidenceState {
    pub store: Store,
    pub policy: Arc<TrustPolicy>,
    /// How long a body may take to arrive.
    pub timeout: std::time::Duration,
}

fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    crate::refusal(kind, Json(serde_json::json!({ "error": message.into() })))
}

/// 503 when the store may take it later, else 500.
fn store_failed(err: StoreError) -> Response {
    let kind = if err.is_retryable() {
        ErrorKind::Unavailable
    } else {
        ErrorKind::Internal
    };
    error(kind, err.to_string())
}

pub(crate) async fn post_evidence(
    State(state): State<EvidenceState>,
    principal: Option<Extension<Principal>>,
    Query(query): Query<EvidenceQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match crate::read_body(body, MAX_EVIDENCE_BYTES, state.timeout, "evidence").await {
        Ok(body) => body,
        Err((kind, message)) => return error(kind, message),
    };
    let principal = principal.map(|Extension(p)| p);
    // A Notary Project envelope, named by its media type.
    let notary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(EnvelopeFormat::from_media_type);
    if let Some(format) = notary {
        let import = NotaryImport {
            envelope: body.to_vec(),
            format: Some(format),
            reference: query.reference,
            size: query.size,
        };
        return answer(
            import_notary(
                &state.store,
                state.policy.clone(),
                import,
                query.digest,
                principal.as_ref(),
            )
            .await
            .map(Imported::Results),
        );
    }
    answer(
        import_document(
            &state.store,
            state.policy.clone(),
            &body,
            query.digest,
            principal.as_ref(),
        )
        .await,
    )
}

/// The answer for what an evidence body stored, or why not.
fn answer(imported: Result<Imported, ImportError>) -> Response {
    match imported {
        Ok(Imported::Results(results)) => {
            Json(serde_json::json!({ "results": results })).into_response()
        }
        // A vulnerability document: what was stored (and no signature
        // results, so that clients reading `results` see none).
        Ok(Imported::Vulnerabilities(summary)) => {
            let mut answer = serde_json::to_value(&*summary).unwrap_or_default();
            answer["results"] = serde_json::json!([]);
            Json(answer).into_response()
        }
        Err(ImportError::Invalid(message)) => error(ErrorKind::InvalidArgument, message),
        Err(ImportError::TooLarge(message)) => error(ErrorKind::TooLarge, message),
        Err(ImportError::Store(err)) => store_failed(err),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct IndexQuery {
    digest: Option<String>,
    source: Option<String>,
}

pub(crate) async fn post_index(
    State(state): State<EvidenceState>,
    principal: Option<Extension<Principal>>,
    Query(query): Query<IndexQuery>,
    body: Body,
) -> Response {
    let body = match crate::read_body(body, MAX_EVIDENCE_BYTES, state.timeout, "index").await {
        Ok(body) => body,
        Err((kind, message)) => return error(kind, message),
    };
    let Some(digest) = query.digest else {
        return error(
            ErrorKind::InvalidArgument,
            "?digest=sha256:<hex> names the index",
        );
    };
    let members = match parse_index(&body, &digest) {
        Ok(members) => members,
        Err(refused) => return error(ErrorKind::InvalidArgument, refused.to_string()),
    };
    let digest = digest.to_ascii_lowercase();
    let mut source = query.source.unwrap_or_else(|| "posted".to_string());
    if let Some(Extension(principal)) = principal {
        source = principal.scope(&source);
    }
    let listed: Vec<provgraph_store::IndexMember> = members
        .iter()
        .map(|(digest, platform)| provgraph_store::IndexMember {
            digest: digest.clone(),
            platform: platform.clone(),
        })
        .collect();
    match state.store.write_index(&digest, &listed, &source).await {
        Ok(()) => Json(serde_json::json!({
            "index": digest,
            "manifests": members.iter().map(|(d, p)| serde_json::json!({"digest": d, "platform": p})).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(err) => store_failed(err),
    }
}
