//! The GraphQL API: `POST /graphql` (JSON in, JSON out), GraphiQL on
//! `GET /graphql`, `GET /healthz` (the process serves) and `GET /readyz`
//! (the database answers).
//!
//! Resolvers stay thin: they normalize arguments with the model's key rules
//! and call the store. Queries are bounded by depth, complexity, a time
//! limit, and per-list and per-lineage node caps (see [`ApiLimits`]).

mod evidence;
mod picture;
mod schema;
mod time;

use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::FromRequest;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use provgraph_otlp::ErrorKind;
use provgraph_signatures::TrustPolicy;
use provgraph_store::Store;
use std::sync::Arc;

pub use schema::{ProvSchema, build_schema};

/// Bounds on what one query may ask.
#[derive(Clone, Debug)]
pub struct ApiLimits {
    /// Nesting depth of a query document.
    pub max_depth: usize,
    /// Summed field cost of a query document (each field costs 1; lists of
    /// nodes and lineage cost more, see the schema docs).
    pub max_complexity: usize,
    /// Wall time one request may take.
    pub timeout: Duration,
    /// `lineage(maxDepth:)` when not given, and its ceiling.
    pub default_lineage_depth: u32,
    pub max_lineage_depth: u32,
    /// Nodes one lineage answer may hold; past it `truncated` is true.
    pub max_lineage_nodes: usize,
    /// Items in one list field (builds of a commit, say).
    pub max_list: usize,
    /// Not a limit: a trace UI's link with `{traceId}` in it
    /// (`--trace-url-template`), shown as `Evidence.traceUrl`.
    pub trace_url_template: Option<String>,
}

impl Default for ApiLimits {
    fn default() -> ApiLimits {
        ApiLimits {
            max_depth: 16,
            max_complexity: 2_000,
            timeout: Duration::from_secs(10),
            default_lineage_depth: 16,
            max_lineage_depth: 64,
            max_lineage_nodes: 10_000,
            max_list: 1_000,
            trace_url_template: None,
        }
    }
}

#[derive(Clone)]
struct ApiState {
    schema: ProvSchema,
    store: Store,
    timeout: Duration,
}

/// The API router: /graphql, `GET /v1/lineage` (lineage pictures),
/// /healthz, /readyz, and `POST /v1/evidence` verifying evidence against
/// `policy`.
pub fn router(store: Store, limits: ApiLimits, policy: Arc<TrustPolicy>) -> Router {
    let parts = routers(store, limits, policy);
    parts.read.merge(parts.write).merge(parts.open)
}

/// The API's routes by what access they need, for the binary to put each
/// behind its own gate.
pub struct ApiRouters {
    /// `/graphql` (queries; GraphiQL on GET), `GET /v1/lineage` (pictures).
    pub read: Router,
    /// `POST /v1/evidence`, `POST /v1/index`: writes, like span ingest.
    pub write: Router,
    /// `/healthz`, `/readyz`: for orchestrators, never gated.
    pub open: Router,
}

/// See [`ApiRouters`].
pub fn routers(store: Store, limits: ApiLimits, policy: Arc<TrustPolicy>) -> ApiRouters {
    let state = ApiState {
        schema: build_schema(store.clone(), limits.clone()),
        store: store.clone(),
        timeout: limits.timeout,
    };
    let write = Router::new()
        .route("/v1/evidence", post(evidence::post_evidence))
        .route("/v1/index", post(evidence::post_index))
        .with_state(evidence::EvidenceState {
            store,
            policy,
            timeout: limits.timeout,
        });
    let read = Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/v1/lineage", get(picture::get_lineage))
        .with_state(state.clone());
    let open = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state);
    ApiRouters { read, write, open }
}

/// Largest GraphQL request body.
pub const MAX_QUERY_BYTES: usize = 1024 * 1024;

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("provgraph")
            .finish(),
    )
}

fn query_error(kind: ErrorKind, message: String) -> Response {
    refusal(
        kind,
        axum::Json(serde_json::json!({ "errors": [{ "message": message }] })),
    )
}

/// What `Retry-After` says when the API refuses for a reason that passes
/// (the store is away), in seconds, as the OTLP receivers say it.
const RETRY_AFTER_SECONDS: u32 = 1;

/// A refusal of `kind` with `body`: the status (and `Retry-After`) that
/// [`ErrorKind`] gives every edge, so the API answers as the receivers do.
pub(crate) fn refusal(kind: ErrorKind, body: impl IntoResponse) -> Response {
    let mut response = (kind.http_status(), body).into_response();
    if let Some(seconds) = kind.retry_after(RETRY_AFTER_SECONDS) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
    }
    response
}

/// Reads a request body of at most `limit` bytes within `deadline`; a body
/// over the limit is read to its end (up to a cap) before the refusal, so
/// the sender reads the 413 rather than a cut connection.
pub(crate) async fn read_body(
    body: axum::body::Body,
    limit: usize,
    deadline: std::time::Duration,
    what: &str,
) -> Result<axum::body::Bytes, (ErrorKind, String)> {
    use provgraph_otlp::body::{BodyError, read_limited};
    read_limited(body, limit, deadline)
        .await
        .map_err(|err| match err {
            BodyError::TooLarge { limit } => (
                ErrorKind::TooLarge,
                format!("{what} larger than {limit} bytes"),
            ),
            BodyError::TimedOut(deadline) => (
                ErrorKind::InvalidArgument,
                format!("{what} not received within {deadline:?}"),
            ),
            BodyError::Unreadable(err) => (
                ErrorKind::InvalidArgument,
                format!("cannot read {what}: {err}"),
            ),
        })
}

async fn graphql(State(state): State<ApiState>, request: axum::extract::Request) -> Response {
    // async-graphql-axum reads bodies without a bound: read it here, bounded
    // in size and time, and hand it the bytes.
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, MAX_QUERY_BYTES, state.timeout, "query body").await {
        Ok(bytes) => bytes,
        Err((kind, message)) => return query_error(kind, message),
    };
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    let request =
        match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
            request,
            &(),
        )
        .await
        {
            Ok(request) => request,
            Err(rejection) => return rejection.into_response(),
        };
    match tokio::time::timeout(state.timeout, state.schema.execute(request.into_inner())).await {
        Ok(response) => GraphQLResponse::from(response).into_response(),
        Err(_) => {
            let error = async_graphql::ServerError::new(
                format!("query took longer than the {:?} limit", state.timeout),
                None,
            );
            GraphQLResponse::from(async_graphql::Response::from_errors(vec![error])).into_response()
        }
    }
}

async fn readyz(State(state): State<ApiState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => refusal(ErrorKind::Unavailable, format!("not ready: {err}\n")),
    }
}

/// The schema's SDL, as checked in at `schema/schema.graphql`.
pub fn sdl() -> String {
    schema::sdl()
}
