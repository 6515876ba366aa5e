//! The UI's pages through the router over a SQLite file holding the
//! README's sample build and workload: the home page, the search (one
//! match, several, none, bad input), every kind's page (its query is one
//! the schema accepts), the assets and the token form.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use provgraph_model::NodeKind;
use provgraph_store::testing::{Flavor, TestDb};
use tower::ServiceExt;

const IMAGE: &str = "sha256:6d1f0c2b9e8a7d6c5b4a39281706f5e4d3c2b1a0998877665544332211ffeedd";
const COMMIT: &str = "9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b13";

struct Answer {
    status: u16,
    location: String,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(router: &axum::Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let location = headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        location,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(router: &axum::Router, uri: &str) -> Answer {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn example(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/");
    std::fs::read(format!("{path}{name}")).unwrap()
}

#[tokio::test]
async fn pages_search_and_assets() {
    let db = TestDb::new(Flavor::Sqlite).await;
    let store = db.store().await.unwrap();
    for name in ["sample-build.json", "sample-workload.json"] {
        let request = provgraph_otlp::decode_trace_request_json(&example(name)).unwrap();
        let facts = provgraph_model::extract::extract(&request).facts;
        store.write(&facts).await.unwrap();
    }
    let router = crate::router(
        store.clone(),
        Default::default(),
        Arc::new(Default::default()),
    );

    let home = get(&router, "/").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("<input type=\"search\" name=\"q\""));
    assert!(
        home.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(
        !home.body.contains("://"),
        "no address of another host in the page"
    );

    // A digest, whole or cut as pictures show it, goes to its page.
    let found = get(
        &router,
        &format!(
            "/ui/search?q=%20{}%20",
            IMAGE.to_uppercase().replace("SHA256", "sha256")
        ),
    )
    .await;
    assert_eq!(
        (found.status, found.location.as_str()),
        (303, format!("/ui/ARTIFACT/{IMAGE}").as_str())
    );
    let found = get(&router, &format!("/ui/search?q={}", &IMAGE[..19])).await;
    assert_eq!(
        (found.status, found.location.as_str()),
        (303, format!("/ui/ARTIFACT/{IMAGE}").as_str())
    );
    let found = get(&router, "/ui/search?q=git%40github.com%3AAcme%2Fcalc.git").await;
    assert_eq!(
        (found.status, found.location.as_str()),
        (303, "/ui/REPOSITORY/github.com%2Facme%2Fcalc")
    );
    let found = get(&router, &format!("/ui/search?q={}", &COMMIT[..12])).await;
    assert_eq!(
        (found.status, found.location.as_str()),
        (303, format!("/ui/COMMIT/{COMMIT}").as_str())
    );
    let none = get(&router, "/ui/search?q=sha256:0000000").await;
    assert_eq!(none.status, 404, "{}", none.body);
    assert!(none.body.contains("Nothing found") && none.body.contains("ARTIFACT keys starting"));
    let none = get(&router, "/ui/search?q=%3Cscript%3E").await;
    assert_eq!(none.status, 404);
    assert!(!none.body.contains("<script>") && none.body.contains("&lt;script&gt;"));
    assert_eq!(get(&router, "/ui/search?q=").await.location, "/");

    // The artifact's page: verdict, pictures with links, workloads.
    let page = get(&router, &format!("/ui/ARTIFACT/{IMAGE}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("data-verdict=\"UNSIGNED\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<div class=\"picture\" data-direction=\"UPSTREAM\"><svg")
    );
    assert!(
        page.body
            .contains("<a href=\"/ui/COMMIT/9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b13\">")
    );
    assert!(
        page.body.contains("id=\"upstream-arrow\"")
            && page.body.contains("id=\"downstream-arrow\"")
    );
    assert!(
        page.body.contains("/ui/WORKLOAD/"),
        "the workload running it"
    );
    // Other spellings go to the one address.
    let other = get(
        &router,
        &format!("/ui/artifact/{}", IMAGE.replace("sha256", "SHA256")),
    )
    .await;
    assert_eq!(
        (other.status, other.location.as_str()),
        (303, format!("/ui/ARTIFACT/{IMAGE}").as_str())
    );
    let other = get(
        &router,
        "/ui/REPOSITORY/https:%2F%2Fgithub.com%2FAcme%2FCalc.git",
    )
    .await;
    assert_eq!(other.location, "/ui/REPOSITORY/github.com%2Facme%2Fcalc");
    let repo = get(&router, "/ui/REPOSITORY/github.com/acme/calc").await;
    assert_eq!(
        repo.status, 200,
        "a key with its slashes as they are: {}",
        repo.body
    );

    // Every kind's page query is accepted by the schema: an unknown node
    // of any kind is a 404, not an error.
    for kind in NodeKind::ALL {
        let key = match kind {
            NodeKind::Commit => "a".repeat(40),
            NodeKind::Workload => "x/y/z".into(),
            NodeKind::Module => "example.com/m@v1.0.0".into(),
            NodeKind::Package => "pkg:npm/left-pad@1.0.0".into(),
            NodeKind::Repository => "example.com/a/b".into(),
            NodeKind::Build | NodeKind::Identity | NodeKind::Vulnerability => "NOPE-1".into(),
            _ => format!("sha256:{}", "0".repeat(64)),
        };
        let uri = format!(
            "/ui/{}/{}",
            kind.as_str(),
            provgraph_picture::path_segment(&key)
        );
        let page = get(&router, &uri).await;
        assert_eq!(page.status, 404, "{uri}: {}", page.body);
        assert!(page.body.contains("knows no"), "{uri}: {}", page.body);
    }
    let bad = get(&router, "/ui/ARTIFACT/sha256:xyz").await;
    assert_eq!(bad.status, 400);
    assert_eq!(get(&router, "/ui/IMAGE/x").await.status, 404);

    // Every page of the sample answers.
    for (kind, key) in [
        ("COMMIT", COMMIT.to_string()),
        ("REPOSITORY", "github.com/acme/calc".into()),
        ("BUILD", "4242".into()),
    ] {
        let page = get(
            &router,
            &format!("/ui/{kind}/{}", provgraph_picture::path_segment(&key)),
        )
        .await;
        assert!(
            page.status == 200 || page.status == 404,
            "{kind}: {}",
            page.body
        );
    }

    // Assets and GraphiQL, from the binary.
    let css = get(&router, "/ui/assets/ui.css").await;
    assert_eq!(css.status, 200);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(get(&router, "/ui/assets/nope.js").await.status, 404);
    let graphiql = get(&router, "/graphql").await;
    assert!(
        graphiql
            .body
            .contains("/ui/assets/vendor/graphiql-3.8.3/graphiql.min.js")
    );
    assert!(!graphiql.body.contains("unpkg") && !graphiql.body.contains("://"));

    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn the_token_form_sets_a_strict_http_only_cookie() {
    let router = super::open_routes();
    let post = |body: &str, origin: Option<&str>| {
        let mut request = Request::post("/ui/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "127.0.0.1:8080");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.body(Body::from(body.to_string())).unwrap()
    };
    let set = send(
        &router,
        post(
            "token=abc%2Bdef+&next=%2Fui%2FCOMMIT%2Fab",
            Some("http://127.0.0.1:8080"),
        ),
    )
    .await;
    assert_eq!((set.status, set.location.as_str()), (303, "/ui/COMMIT/ab"));
    assert_eq!(
        set.headers["set-cookie"].to_str().unwrap(),
        "provgraph_read=abc+def; Path=/; HttpOnly; SameSite=Strict"
    );
    // No open redirect; another site's form is refused.
    let away = send(&router, post("token=abc&next=%2F%2Fevil.example", None)).await;
    assert_eq!(away.location, "/");
    let cross = send(&router, post("token=abc", Some("https://evil.example"))).await;
    assert_eq!(cross.status, 403);
    assert!(cross.headers.get("set-cookie").is_none());
    // An empty token forgets it.
    let clear = send(&router, post("token=", None)).await;
    assert!(
        clear.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let bad = send(&router, post("token=a%3Bb", None)).await;
    assert_eq!(bad.status, 401);
    assert!(bad.headers.get("set-cookie").is_none());
}
