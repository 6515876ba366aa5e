//! The web UI: `GET /` (search and the workloads seen lately),
//! `GET /ui/search?q=` (any key a user has, to its node's page),
//! `GET /ui/KIND/KEY` (a node's page, `node.rs`), GraphiQL on
//! `GET /graphql` (vendored, offline), the embedded assets
//! (`GET /ui/assets/...`) and the read-token form (`POST /ui/token`).
//!
//! Pages are HTML written on the server (they work without scripts; one
//! small hand-written script adds niceties), and load nothing from any other
//! host: every script, style, font and image is embedded in the binary
//! (`assets.rs`). Their data comes from GraphQL queries run by the schema,
//! and the search from the model's key rules and the store's lookups.
//!
//! Read tokens: pages sit behind the read gate like `/graphql`. A browser
//! cannot send a bearer header on a link, so the token form sets it as an
//! HttpOnly, SameSite=Strict cookie, which the gate accepts for GET reads
//! only; a token never appears in a URL.

mod assets;
mod html;
mod node;
mod search;
#[cfg(test)]
mod tests;

use std::fmt::Write;

use async_graphql::{Request, Variables};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use provgraph_model::NodeKind;
use serde::Deserialize;
use serde_json::Value;

use crate::ApiState;
use html::{esc, html_response, key_link, message_page, node_href, page};
use search::Probe;

/// The cookie that carries a read token for the UI's GET pages.
pub const READ_COOKIE: &str = "provgraph_read";

/// Largest token form body.
const MAX_FORM_BYTES: usize = 8 * 1024;

/// The UI's pages, for the read router (behind read tokens).
pub(crate) fn read_routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(home))
        .route("/ui/search", get(search_page))
        .route("/ui/{kind}/{*key}", get(node_page))
}

/// What the UI needs before a token is known: the assets and the token
/// form's POST (which carries the token itself).
pub(crate) fn open_routes() -> Router {
    Router::new()
        .route("/ui/assets/{*path}", get(assets::get_asset))
        .route("/ui/token", post(post_token))
}

async fn home(State(state): State<ApiState>) -> Response {
    let request = Request::new(
        "{ workloads(first: 12) { nodes { key lastSeen artifacts { digest } } pageInfo { hasNextPage } } }",
    );
    let data = match crate::execute_limited(&state, request, tokio::time::Instant::now()).await {
        Ok(answer) if answer.errors.is_empty() => answer.data.into_json().unwrap_or(Value::Null),
        Ok(answer) => {
            let message = answer
                .errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            return message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available",
                "",
                &message,
            );
        }
        Err(refused) => return refused,
    };
    let mut body = String::from(
        "<section class=\"hero\"><h1>Where did this come from, and where does it run?</h1>\
         <p class=\"muted\">Type any key you have into the search box: an image digest \
         (<code>sha256:…</code>, or its first 12 hex digits), a commit SHA, a repository URL \
         in any form, a go.mod hash, a module <code>PATH@VERSION</code>, a workload \
         (<code>ENVIRONMENT/NAMESPACE/NAME</code>), a vulnerability id or alias. \
         Each node's page draws its lineage both ways, gives an image's audit verdict with \
         the evidence behind it, the workloads running it and its vulnerabilities.</p></section>\n",
    );
    body.push_str("<section class=\"card\" id=\"workloads\"><h2>Workloads seen lately</h2>");
    let workloads = data["workloads"]["nodes"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if workloads.is_empty() {
        body.push_str(
            "<p class=\"muted\">None yet: workloads appear when a service's telemetry names \
             the image it runs (<code>container.image.repo_digests</code>).</p>",
        );
    } else {
        body.push_str("<table><tr><th>workload</th><th>last seen</th><th>images</th></tr>");
        for workload in workloads {
            let images: Vec<String> = workload["artifacts"]
                .as_array()
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter_map(|a| a["digest"].as_str())
                .map(|digest| key_link("ARTIFACT", digest))
                .collect();
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                key_link("WORKLOAD", workload["key"].as_str().unwrap_or("")),
                node::when(workload["lastSeen"].as_str().unwrap_or("")),
                images.join("<br>")
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section>\n");
    html_response(StatusCode::OK, page("Search", "", &body))
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    q: Option<String>,
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn search_page(
    State(state): State<ApiState>,
    Query(params): Query<SearchParams>,
) -> Response {
    let text = params.q.unwrap_or_default();
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return see_other("/");
    }
    if trimmed.len() > search::MAX_SEARCH_BYTES {
        return message_page(
            StatusCode::BAD_REQUEST,
            "Too long",
            "",
            &format!("A key is at most {} bytes.", search::MAX_SEARCH_BYTES),
        );
    }
    let (exact, prefixes, why_not) = search::probes(trimmed);
    let mut found: Vec<(NodeKind, String)> = Vec::new();
    fn add(found: &mut Vec<(NodeKind, String)>, kind: NodeKind, key: String) {
        if !found.iter().any(|(k, known)| *k == kind && *known == key) {
            found.push((kind, key));
        }
    }
    for probe in &exact {
        match probe {
            Probe::Exact(kind, key) => match state.store.node(*kind, key).await {
                Ok(Some(_)) => add(&mut found, *kind, key.clone()),
                Ok(None) => {}
                Err(err) => return unavailable(trimmed, &err.to_string()),
            },
            Probe::Vulnerability(id) => match vulnerability_id(&state, id).await {
                Ok(Some(id)) => add(&mut found, NodeKind::Vulnerability, id),
                Ok(None) => {}
                Err(response) => return response,
            },
            Probe::Prefix(..) => {}
        }
    }
    if found.is_empty() {
        for probe in &prefixes {
            if let Probe::Prefix(kind, prefix) = probe {
                match state
                    .store
                    .nodes_with_prefix(*kind, prefix, search::PREFIX_LIMIT)
                    .await
                {
                    Ok(rows) => rows
                        .into_iter()
                        .for_each(|row| add(&mut found, *kind, row.key)),
                    Err(err) => return unavailable(trimmed, &err.to_string()),
                }
            }
        }
    }
    if let [(kind, key)] = found.as_slice() {
        return see_other(&node_href(kind.as_str(), key));
    }
    let mut body = String::new();
    if found.is_empty() {
        let _ = write!(
            body,
            "<h1>Nothing found</h1><p class=\"message\">provgraph knows no node named \
             <code>{}</code>.</p><p>Looked for it as ",
            esc(trimmed)
        );
        let tried: Vec<String> = exact
            .iter()
            .chain(&prefixes)
            .map(|probe| match probe {
                Probe::Exact(kind, key) => format!("{} <code>{}</code>", kind.as_str(), esc(key)),
                Probe::Prefix(kind, prefix) => {
                    format!(
                        "{} keys starting <code>{}</code>",
                        kind.as_str(),
                        esc(prefix)
                    )
                }
                Probe::Vulnerability(_) => "a vulnerability id or alias (any case)".into(),
            })
            .collect();
        body.push_str(&tried.join("; "));
        body.push_str(".</p>");
        if !why_not.is_empty() {
            body.push_str("<ul class=\"muted\">");
            for why in &why_not {
                let _ = write!(body, "<li>{}</li>", esc(why));
            }
            body.push_str("</ul>");
        }
        return html_response(StatusCode::NOT_FOUND, page("Nothing found", trimmed, &body));
    }
    let _ = write!(
        body,
        "<h1>{} matches</h1><p class=\"message\">for <code>{}</code>{}</p>\
         <section class=\"card\" id=\"matches\"><table><tr><th>kind</th><th>key</th></tr>",
        found.len(),
        esc(trimmed),
        if exact.iter().any(|p| found
            .iter()
            .any(|(k, key)| matches!(p, Probe::Exact(pk, pkey) if pk == k && pkey == key)))
        {
            ""
        } else {
            " (keys starting with it)"
        }
    );
    for (kind, key) in &found {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td></tr>",
            kind.as_str(),
            key_link(kind.as_str(), key)
        );
    }
    body.push_str("</table></section>\n");
    html_response(StatusCode::OK, page("Matches", trimmed, &body))
}

fn unavailable(search: &str, message: &str) -> Response {
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Not available",
        search,
        message,
    )
}

/// The id of the vulnerability named `id` or aliased by it (any case).
async fn vulnerability_id(state: &ApiState, id: &str) -> Result<Option<String>, Response> {
    let request = Request::new("query($id: String!) { vulnerability(id: $id) { id } }")
        .variables(Variables::from_json(serde_json::json!({ "id": id })));
    let answer = crate::execute_limited(state, request, tokio::time::Instant::now()).await?;
    if let Some(error) = answer.errors.first() {
        return Err(unavailable(id, &error.message));
    }
    let data = answer.data.into_json().unwrap_or(Value::Null);
    Ok(data["vulnerability"]["id"].as_str().map(str::to_string))
}

async fn node_page(
    State(state): State<ApiState>,
    Path((kind_name, raw_key)): Path<(String, String)>,
) -> Response {
    let Some(kind) = NodeKind::ALL
        .into_iter()
        .find(|kind| kind.as_str().eq_ignore_ascii_case(&kind_name))
    else {
        return message_page(
            StatusCode::NOT_FOUND,
            "No such page",
            "",
            &format!(
                "{} is not a kind of node.",
                provgraph_model::keys::shorten(&kind_name, 40)
            ),
        );
    };
    let key = match kind.normalize(&raw_key) {
        Ok(key) => key,
        Err(err) => {
            return message_page(
                StatusCode::BAD_REQUEST,
                "Not a key",
                &raw_key,
                &err.to_string(),
            );
        }
    };
    // One address per node: the kind in capitals, the key normalized.
    if kind.as_str() != kind_name || key != raw_key {
        return see_other(&node_href(kind.as_str(), &key));
    }
    match node::load(&state, kind, &key).await {
        node::Answer::Data(data) => {
            let body = node::render(kind, &key, &data);
            html_response(
                StatusCode::OK,
                page(&format!("{} {}", kind.as_str(), key), &key, &body),
            )
        }
        node::Answer::Alias(id) => see_other(&node_href(kind.as_str(), &id)),
        node::Answer::Unknown => message_page(
            StatusCode::NOT_FOUND,
            "Not known",
            &key,
            &format!("provgraph knows no {} node {key}.", kind.as_str()),
        ),
        node::Answer::Failed(status, message) => {
            message_page(status, "Not available", &key, &message)
        }
    }
}

/// `GET /graphql`: GraphiQL, from the embedded assets.
pub(crate) async fn graphiql() -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>GraphiQL · provgraph</title>\n<link rel=\"icon\" href=\"{icon}\">\n\
         <link rel=\"stylesheet\" href=\"{css}\">\n\
         <style>body {{ margin: 0; height: 100vh; overflow: hidden; }} #graphiql {{ height: 100vh; }}</style>\n\
         </head>\n<body>\n<div id=\"graphiql\">Loading GraphiQL…</div>\n\
         <script src=\"{react}\"></script>\n<script src=\"{react_dom}\"></script>\n\
         <script src=\"{graphiql}\"></script>\n<script src=\"{start}\"></script>\n</body>\n</html>\n",
        icon = assets::ICON,
        css = assets::GRAPHIQL_CSS,
        react = assets::REACT_JS,
        react_dom = assets::REACT_DOM_JS,
        graphiql = assets::GRAPHIQL_JS,
        start = assets::GRAPHIQL_START,
    );
    html_response(StatusCode::OK, body)
}

/// The page that asks for a read token (401): the gate answers it to a
/// browser's GET of a UI page without a valid token. `next` is where the
/// form returns to; `message` says why it is asked.
pub fn token_page(next: &str, message: &str) -> Response {
    let next = local_path(next);
    let body = format!(
        "<h1>A read token, please</h1>\n<p class=\"message\">{}</p>\n\
         <section class=\"card token-form\"><form action=\"/ui/token\" method=\"post\">\
         <label for=\"token\">Read token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <button type=\"submit\">Continue</button></form>\
         <p class=\"muted\">Kept by this browser as an HttpOnly cookie for this server's pages, \
         never in an address. <code>provgraph token NAME --read</code> makes one.</p></section>\n",
        esc(message),
        esc(&next)
    );
    let mut response = html_response(StatusCode::UNAUTHORIZED, page("Read token", "", &body));
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"provgraph\""),
    );
    response
}

/// `next` when it is a path on this server, else `/` (no open redirect).
fn local_path(next: &str) -> String {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if local {
        next.to_string()
    } else {
        "/".to_string()
    }
}

/// `POST /ui/token` (form: `token`, `next`): sets the read-token cookie and
/// goes back to `next`; an empty token clears it. The token is checked by
/// the gate on the next page. Refused from another site's page.
async fn post_token(headers: HeaderMap, body: axum::body::Body) -> Response {
    if !same_origin(&headers) {
        return message_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "",
            "A read token is only taken from this server's own form.",
        );
    }
    let bytes = match crate::read_body(
        body,
        MAX_FORM_BYTES,
        std::time::Duration::from_secs(10),
        "token form",
    )
    .await
    {
        Ok(bytes) => bytes,
        Err((kind, message)) => return crate::refusal(kind, message),
    };
    let form = form_fields(&bytes);
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    };
    let token = field("token").trim();
    let next = local_path(field("next"));
    let cookie = if token.is_empty() {
        format!("{READ_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    } else if token
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'"' | b'\\'))
    {
        format!("{READ_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")
    } else {
        return token_page(&next, "A token is printable ASCII without ; , \" or \\.");
    };
    let mut response = see_other(&next);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The request comes from this server's own page: `Sec-Fetch-Site`, which
/// browsers send, says same-origin (or a typed address); without it, an
/// `Origin`, when sent, names the `Host` asked (`Origin: null`, which
/// Chrome sends from a page with `Referrer-Policy: no-referrer`, tells
/// nothing and is refused without `Sec-Fetch-Site`).
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        return site == "same-origin" || site == "none";
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// `application/x-www-form-urlencoded` fields, decoded.
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut halves = part.splitn(2, |&b| b == b'=');
            let key = decode_form(halves.next().unwrap_or_default());
            let value = decode_form(halves.next().unwrap_or_default());
            (key, value)
        })
        .collect()
}

fn decode_form(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        match text[at] {
            b'+' => out.push(b' '),
            b'%' if at + 2 < text.len()
                && text[at + 1].is_ascii_hexdigit()
                && text[at + 2].is_ascii_hexdigit() =>
            {
                let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(text[at + 1]) * 16 + hex(text[at + 2]));
                at += 2;
            }
            byte => out.push(byte),
        }
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
