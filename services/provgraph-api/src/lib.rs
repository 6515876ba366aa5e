//! The GraphQL API: `POST /graphql` (JSON in, JSON out), GraphiQL on
//! `GET /graphql`, `GET /healthz` (the process serves) and `GET /readyz`
//! (the database answers); `GET /v1/verdict/DIGEST` (`verdict.rs`) and the
//! `events` subscription over WebSocket at `/graphql/ws` (`events.rs`).
//!
//! Resolvers stay thin: they normalize arguments with the model's key rules
//! and call the store. Queries are bounded by depth, complexity, a time
//! limit, and per-list and per-lineage node caps (see [`ApiLimits`]).
//! Before async-graphql sees a query, its size with fragments expanded is
//! counted and bounded (`guard`); while it runs, its time and answer size are
//! metered; at most a few queries run at once, so that queries cannot take
//! every worker thread from the other listeners.

pub mod events;
mod evidence;
mod guard;
mod picture;
mod schema;
mod time;
mod ui;
pub mod verdict;
pub mod ws;

use std::time::Duration;

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::FromRequest;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use provgraph_otlp::ErrorKind;
use provgraph_signatures::TrustPolicy;
use provgraph_store::Store;
use std::sync::Arc;

pub use schema::{ProvSchema, build_schema};
pub use ui::{READ_COOKIE, token_page};

/// Bounds on what one query may ask.
#[derive(Clone, Debug)]
pub struct ApiLimits {
    /// Nesting depth of a query document.
    pub max_depth: usize,
    /// Summed field cost of a query document (each field costs 1; lists of
    /// nodes and lineage cost more, see the schema docs).
    pub max_complexity: usize,
    /// Fields, fragment spreads, arguments and directives of a document
    /// with every fragment spread expanded (what validation and execution
    /// walk); checked before validation.
    pub max_expanded_size: usize,
    /// Wall time one request may take, waiting for a slot included; the
    /// executor checks it before every field.
    pub timeout: Duration,
    /// Bytes of one answer (its strings and scalars as they resolve).
    pub max_response_bytes: usize,
    /// Queries executing at once; the rest wait for a slot within `timeout`.
    pub max_concurrent_queries: usize,
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
            max_expanded_size: 10_000,
            timeout: Duration::from_secs(10),
            max_response_bytes: 8 * 1024 * 1024,
            max_concurrent_queries: default_concurrent_queries(),
            default_lineage_depth: 16,
            max_lineage_depth: 64,
            max_lineage_nodes: 10_000,
            max_list: 1_000,
            trace_url_template: None,
        }
    }
}

/// As many as the cores: the server's runtime has one worker thread more
/// than the cores (`provgraph serve`), so queries never hold every worker
/// thread, and a query can use every core.
fn default_concurrent_queries() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}

#[derive(Clone)]
struct ApiState {
    schema: ProvSchema,
    store: Store,
    limits: Arc<ApiLimits>,
    slots: Arc<tokio::sync::Semaphore>,
}

/// The API router: /graphql, `GET /v1/lineage` (lineage pictures),
/// /healthz, /readyz, and `POST /v1/evidence` verifying evidence against
/// `policy`.
pub fn router(store: Store, limits: ApiLimits, policy: Arc<TrustPolicy>) -> Router {
    let parts = routers(store, limits, policy);
    let subscriptions = ws::router(
        &parts.events,
        std::sync::Arc::new(|_: &axum::http::HeaderMap| true),
    );
    parts
        .read
        .merge(parts.write)
        .merge(parts.open)
        .merge(parts.ui_open)
        .merge(subscriptions)
}

/// The API's routes by what access they need, for the binary to put each
/// behind its own gate.
pub struct ApiRouters {
    /// `/graphql` (queries; GraphiQL on GET), `GET /v1/lineage` (pictures),
    /// the web UI's pages (`/`, `/ui/search`, `/ui/KIND/KEY`).
    pub read: Router,
    /// `POST /v1/evidence`, `POST /v1/index`: writes, like span ingest.
    pub write: Router,
    /// `/healthz`, `/readyz`: for orchestrators, never gated.
    pub open: Router,
    /// The web UI's assets and its read-token form (`POST /ui/token`, which
    /// carries the token itself): never gated, they hold no data.
    pub ui_open: Router,
    /// Outbox rows as CloudEvents, for the webhook dispatcher; its
    /// [`events::Events::start`] runs the verdict tracker and the feed of
    /// the `events` subscription, which [`ws::router`] serves.
    pub events: events::Events,
}

/// See [`ApiRouters`].
pub fn routers(store: Store, limits: ApiLimits, policy: Arc<TrustPolicy>) -> ApiRouters {
    let feed = events::EventFeed::default();
    let schema = schema::build_schema_with(store.clone(), limits.clone(), feed.clone());
    let events = events::Events {
        store: store.clone(),
        verdicts: verdict::Verdicts {
            schema: schema.clone(),
        },
        feed,
    };
    let state = ApiState {
        schema,
        store: store.clone(),
        slots: Arc::new(tokio::sync::Semaphore::new(
            limits.max_concurrent_queries.max(1),
        )),
        limits: Arc::new(limits),
    };
    let write = Router::new()
        .route("/v1/evidence", post(evidence::post_evidence))
        .route("/v1/index", post(evidence::post_index))
        .with_state(evidence::EvidenceState {
            store,
            policy,
            timeout: state.limits.timeout,
        });
    let read = Router::new()
        .route("/graphql", get(ui::graphiql).post(graphql))
        .route("/v1/lineage", get(picture::get_lineage))
        .merge(ui::read_routes())
        .route("/v1/verdict/{digest}", get(verdict::get_verdict))
        .with_state(state.clone());
    let open = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state);
    ApiRouters {
        read,
        write,
        open,
        ui_open: ui::open_routes(),
        events,
    }
}

/// Largest GraphQL request body.
pub const MAX_QUERY_BYTES: usize = 1024 * 1024;

fn query_error(kind: ErrorKind, message: String) -> Response {
    refusal(
        kind,
        axum::Json(serde_json::json!({ "errors": [{ "message": guard::excerpt(&message) }] })),
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
    let started = tokio::time::Instant::now();
    let timeout = state.limits.timeout;
    // async-graphql-axum reads bodies without a bound: read it here, bounded
    // in size and time, and hand it the bytes.
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, MAX_QUERY_BYTES, timeout, "query body").await {
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
    let mut request = request.into_inner();
    // Parsed once here (async-graphql keeps the document), and its expanded
    // size counted before validation walks the expansion.
    let checked = match request.parsed_query() {
        Ok(document) => guard::expanded_cost(
            document,
            state.limits.max_expanded_size,
            state.limits.max_depth,
        )
        .map_err(|err| async_graphql::ServerError::new(err.to_string(), None)),
        Err(err) => Err(err),
    };
    if let Err(error) = checked {
        return answer(async_graphql::Response::from_errors(vec![error]));
    }
    match execute_limited(&state, request, started).await {
        Ok(response) => answer(response),
        Err(refused) => refused,
    }
}

/// Runs `request` within the query limits counted from `started`: a query
/// slot (503 when none frees in time), the time limit, the answer-size
/// budget. An answer over a budget is dropped whole, not sent with holes.
pub(crate) async fn execute_limited(
    state: &ApiState,
    request: async_graphql::Request,
    started: tokio::time::Instant,
) -> Result<async_graphql::Response, Response> {
    let timeout = state.limits.timeout;
    let late = || {
        async_graphql::ServerError::new(
            format!("query took longer than the {timeout:?} limit"),
            None,
        )
    };
    let deadline = started + timeout;
    let Ok(Ok(_slot)) = tokio::time::timeout_at(deadline, state.slots.acquire()).await else {
        return Err(query_error(
            ErrorKind::Unavailable,
            format!("no query slot free within {timeout:?}: too many queries at once"),
        ));
    };
    let budget = guard::Budget::new(
        deadline.saturating_duration_since(tokio::time::Instant::now()),
        state.limits.max_response_bytes,
    );
    let request = request.data(budget.clone());
    let response = match tokio::time::timeout_at(deadline, state.schema.execute(request)).await {
        Ok(response) => match budget.spent() {
            Some(why) => {
                async_graphql::Response::from_errors(vec![async_graphql::ServerError::new(
                    why, None,
                )])
            }
            None => response,
        },
        Err(_) => async_graphql::Response::from_errors(vec![late()]),
    };
    Ok(response)
}

/// A GraphQL answer with its errors made short.
fn answer(mut response: async_graphql::Response) -> Response {
    guard::shorten_errors(&mut response.errors);
    GraphQLResponse::from(response).into_response()
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
