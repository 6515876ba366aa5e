//! `/graphql/ws`: GraphQL subscriptions over WebSocket (`graphql-transport-ws`,
//! and the older `graphql-ws`). Read access is checked on the upgrade
//! request's `Authorization` header, or, for clients that cannot set
//! headers (browsers), on the `connection_init` payload's
//! `{"Authorization": "Bearer TOKEN"}`: a connection that presents neither
//! is closed at `connection_init`.

use std::sync::Arc;

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use crate::events::Events;

/// Whether request headers grant read access (the binary's token check).
pub type Authorize = Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

#[derive(Clone)]
struct WsState {
    schema: crate::ProvSchema,
    authorize: Authorize,
}

/// The `/graphql/ws` route for `events`' schema, access decided by
/// `authorize` (mount it outside any header-only gate).
pub fn router(events: &Events, authorize: Authorize) -> Router {
    Router::new()
        .route("/graphql/ws", axum::routing::get(upgrade))
        .with_state(WsState {
            schema: events.verdicts.schema.clone(),
            authorize,
        })
}

async fn upgrade(
    State(state): State<WsState>,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
    socket: WebSocketUpgrade,
) -> Response {
    let by_header = (state.authorize)(&headers);
    socket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let authorize = state.authorize.clone();
            GraphQLWebSocket::new(socket, state.schema, protocol)
                .on_connection_init(move |payload: serde_json::Value| async move {
                    if by_header || authorize(&payload_headers(&payload)) {
                        Ok(Data::default())
                    } else {
                        Err(async_graphql::Error::new(
                            "a read token is required: the Authorization header, or connection_init's payload {\"Authorization\": \"Bearer TOKEN\"}",
                        ))
                    }
                })
                .serve()
        })
}

/// The payload's `Authorization` (any case) as a header.
fn payload_headers(payload: &serde_json::Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = payload.as_object().and_then(|fields| {
        fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| value.as_str())
    });
    if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::AUTHORIZATION, value);
    }
    headers
}
