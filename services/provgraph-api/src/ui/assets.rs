//! The UI's assets, embedded in the binary: the hand-written stylesheet and
//! script, the icon, and GraphiQL with React vendored from npm at pinned
//! versions (`assets/vendor/`, fetched and checked by
//! `scripts/vendor-ui.sh`). Nothing is loaded from another host.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Where the assets are served.
pub const UI_CSS: &str = "/ui/assets/ui.css";
pub const UI_JS: &str = "/ui/assets/ui.js";
pub const ICON: &str = "/ui/assets/icon.svg";
pub const GRAPHIQL_START: &str = "/ui/assets/graphiql-start.js";
pub const GRAPHIQL_JS: &str = "/ui/assets/vendor/graphiql-3.8.3/graphiql.min.js";
pub const GRAPHIQL_CSS: &str = "/ui/assets/vendor/graphiql-3.8.3/graphiql.min.css";
pub const REACT_JS: &str = "/ui/assets/vendor/react-18.3.1/react.production.min.js";
pub const REACT_DOM_JS: &str = "/ui/assets/vendor/react-dom-18.3.1/react-dom.production.min.js";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// One embedded file: its path under `/ui/assets/`, content type, bytes,
/// and whether its name carries a version (cached for a year).
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    versioned: bool,
}

macro_rules! asset {
    ($path:literal, $content_type:expr, $versioned:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)),
            versioned: $versioned,
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("ui.css", CSS, false),
    asset!("ui.js", JS, false),
    asset!("icon.svg", "image/svg+xml", false),
    asset!("graphiql-start.js", JS, false),
    asset!("vendor/graphiql-3.8.3/graphiql.min.js", JS, true),
    asset!("vendor/graphiql-3.8.3/graphiql.min.css", CSS, true),
    asset!("vendor/graphiql-3.8.3/LICENSE", TEXT, true),
    asset!("vendor/react-18.3.1/react.production.min.js", JS, true),
    asset!("vendor/react-18.3.1/LICENSE", TEXT, true),
    asset!(
        "vendor/react-dom-18.3.1/react-dom.production.min.js",
        JS,
        true
    ),
    asset!("vendor/react-dom-18.3.1/LICENSE", TEXT, true),
    asset!("vendor/README.md", TEXT, false),
];

/// `GET /ui/assets/{*path}`.
pub async fn get_asset(Path(path): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == path) else {
        return (StatusCode::NOT_FOUND, "no such asset\n").into_response();
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if asset.versioned {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=300"
        }),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_linked_asset_is_embedded() {
        for url in [
            UI_CSS,
            UI_JS,
            ICON,
            GRAPHIQL_START,
            GRAPHIQL_JS,
            GRAPHIQL_CSS,
            REACT_JS,
            REACT_DOM_JS,
        ] {
            let path = url.strip_prefix("/ui/assets/").unwrap();
            let asset = ASSETS.iter().find(|a| a.path == path);
            assert!(asset.is_some_and(|a| !a.bytes.is_empty()), "{url}");
        }
    }

    #[test]
    fn no_embedded_asset_names_another_host_to_load_from() {
        // The hand-written ones name no host at all; the vendored ones only
        // in text (licence headers, error messages), never in an import or a
        // stylesheet url(): the browser test checks what actually loads.
        for asset in ASSETS.iter().filter(|a| !a.path.starts_with("vendor/")) {
            let text = std::str::from_utf8(asset.bytes).unwrap();
            assert!(
                !text.contains("://") || asset.path == "icon.svg",
                "{}",
                asset.path
            );
        }
        let css = ASSETS
            .iter()
            .find(|a| a.path.ends_with("graphiql.min.css"))
            .unwrap();
        let css = std::str::from_utf8(css.bytes).unwrap();
        assert!(!css.contains("@import"));
        for url in css.split("url(").skip(1) {
            assert!(
                url.trim_start_matches(['"', '\'']).starts_with("data:"),
                "{}",
                &url[..url.len().min(60)]
            );
        }
    }
}
