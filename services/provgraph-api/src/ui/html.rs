//! HTML for the web UI: escaping, the page frame every page shares (header
//! with the search box, footer), and the answer headers (a
//! Content-Security-Policy that allows only provgraph's own scripts and
//! styles, so nothing loads from another host).

use std::fmt::Write;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::assets;

/// Text escaped for HTML text and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The UI page of a node: `/ui/KIND/KEY`, the key percent-encoded.
pub fn node_href(kind: &str, key: &str) -> String {
    format!("/ui/{kind}/{}", provgraph_picture::path_segment(key))
}

/// A link to a node's page showing `text`.
pub fn node_link(kind: &str, key: &str, text: &str) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        esc(&node_href(kind, key)),
        esc(text)
    )
}

/// A key as shown in a list: monospace, whole, breaking anywhere.
pub fn key_link(kind: &str, key: &str) -> String {
    format!(
        "<a class=\"key\" href=\"{}\">{}</a>",
        esc(&node_href(kind, key)),
        esc(key)
    )
}

/// Percent-encoded for a query string value.
pub fn query_value(text: &str) -> String {
    provgraph_picture::path_segment(text)
}

/// Content-Security-Policy of every UI page: provgraph's own scripts,
/// styles and images only; the vendored GraphiQL also needs inline styles
/// and its fonts as data URLs.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

/// An HTML answer with the UI's headers.
pub fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Keys in page addresses stay on this server.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A whole page: `title`, the header with the search box (holding
/// `search`), `body`, the footer.
pub fn page(title: &str, search: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · provgraph</title>\n\
         <link rel=\"stylesheet\" href=\"{css}\">\n\
         <link rel=\"icon\" href=\"{icon}\">\n\
         <script src=\"{js}\" defer></script>\n</head>\n<body>\n\
         <header class=\"top\"><a class=\"brand\" href=\"/\">provgraph</a>\
         <form class=\"search\" action=\"/ui/search\" method=\"get\" role=\"search\">\
         <input type=\"search\" name=\"q\" value=\"{search}\" autocomplete=\"off\" spellcheck=\"false\" \
         placeholder=\"digest, commit SHA, repository URL, go.mod hash, module@version, workload, CVE…\" \
         aria-label=\"Search a key\">\
         <button type=\"submit\">Go</button></form>\
         <nav><a href=\"/graphql\">GraphiQL</a></nav></header>\n<main>\n",
        title = esc(title),
        css = assets::UI_CSS,
        js = assets::UI_JS,
        icon = assets::ICON,
        search = esc(search),
    );
    out.push_str(body);
    out.push_str(
        "</main>\n<footer>provgraph · lineage from OpenTelemetry spans, signatures and SBOMs · \
         every asset served by this server</footer>\n</body>\n</html>\n",
    );
    out
}

/// A page that only says something (not found, a bad key, the store away).
pub fn message_page(status: StatusCode, title: &str, search: &str, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1>\n<p class=\"message\">{}</p>\n",
        esc(title),
        esc(message)
    );
    html_response(status, page(title, search, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_links_are_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'\u{1b}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\\u{1b}"
        );
        assert_eq!(
            node_link("BUILD", "a/\"b\"<", "x<"),
            "<a href=\"/ui/BUILD/a%2F%22b%22%3C\">x&lt;</a>"
        );
        let page = page("t<", "q\"", "<p>body</p>");
        assert!(page.contains("<title>t&lt; · provgraph</title>"));
        assert!(page.contains("value=\"q&quot;\""));
        assert!(page.contains("<input type=\"search\" name=\"q\""));
    }
}
