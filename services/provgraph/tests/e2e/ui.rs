//! The web UI and GraphiQL in a real headless Chromium (`browser.rs`)
//! against the real server, with every host but 127.0.0.1 unresolvable:
//! search a digest and press Enter, then the node page shows the lineage
//! picture (an SVG with nodes that link to their pages) and the audit
//! verdict; GraphiQL renders its editor and runs a query offline; every
//! URL either page loaded is loopback. The first page's load time from a
//! cold browser is printed (`performance.timing`), not asserted.
//!
//! Read tokens: a UI page asks a browser for one (the token form), which
//! sets an HttpOnly SameSite=Strict cookie taken for GET reads only; checked
//! over plain HTTP on both databases, and in the browser.
//!
//! `PROVGRAPH_WRITE_DOCS=1` also writes the README's screenshots,
//! `docs/screenshots/*.png`, from the SQLite run.

use std::path::PathBuf;

use serde_json::json;

use crate::browser::{Browser, ENTER};
use crate::support::Server;
use provgraph_store::testing::Flavor;

const IMAGE: &str = "sha256:6d1f0c2b9e8a7d6c5b4a39281706f5e4d3c2b1a0998877665544332211ffeedd";
/// The calc-api image of the vulnerability walkthrough (GO-2023-2102).
const API: &str = "sha256:a1a1a1a1b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f60707070718181818";

fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(repo_file(relative)).unwrap_or_else(|err| panic!("{relative}: {err}"))
}

/// The README's sample build and workload, and the vulnerability
/// walkthrough's builds, workloads, OSV record and VEX statement.
async fn seed(server: &Server) {
    for file in [
        "examples/sample-build.json",
        "examples/sample-workload.json",
        "examples/vulns/builds.json",
        "examples/vulns/workloads.json",
    ] {
        server.export_json(read(file)).await;
    }
    for file in [
        "examples/vulns/GO-2023-2102.json",
        "examples/vulns/calc-worker.openvex.json",
    ] {
        let response = reqwest::Client::new()
            .post(format!("http://{}/v1/evidence", server.api))
            .header("content-type", "application/json")
            .body(read(file))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{file}");
    }
}

fn write_docs(flavor: Flavor) -> bool {
    flavor == Flavor::Sqlite && std::env::var_os("PROVGRAPH_WRITE_DOCS").is_some()
}

fn screenshot(name: &str, png: &[u8]) {
    let dir = repo_file("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

fn assert_loopback(what: &str, urls: &[String]) {
    assert!(!urls.is_empty());
    for url in urls {
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "{what} loaded {url}, not from loopback: {urls:?}"
        );
    }
}

async fn search_a_digest_in_the_browser(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    seed(&server).await;
    let Some(browser) = Browser::start(1280, 900).await else {
        server.stop().await;
        return;
    };
    let base = format!("http://{}", server.api);

    // A cold browser's first page.
    browser.goto(&format!("{base}/")).await;
    let first_load = browser.load_millis().await;
    assert_loopback("the home page", &browser.loaded_urls().await);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "UI first page load ({flavor:?}, cold browser, loopback): {first_load} ms; load average {}",
        load.trim()
    );
    if write_docs(flavor) {
        screenshot("home.png", &browser.screenshot().await);
    }

    // Search: a digest and Enter.
    let search = browser.find("input[type=search]").await;
    browser.type_into(&search, &format!("{API}{ENTER}")).await;
    browser
        .wait_for("location.pathname.startsWith('/ui/ARTIFACT/')")
        .await;
    assert_eq!(
        browser.url().await,
        format!("{base}/ui/ARTIFACT/{API}"),
        "the image's page"
    );
    let node_load = browser.load_millis().await;
    eprintln!("UI node page load ({flavor:?}): {node_load} ms");
    let shown = browser
        .run(
            "const up = document.querySelector('.picture[data-direction=UPSTREAM] svg');
             return {
               verdict: document.querySelector('.verdict').dataset.verdict,
               nodes: up ? up.querySelectorAll('g.node').length : 0,
               links: up ? [...up.querySelectorAll('a')].map(a => a.getAttribute('href')) : [],
               width: up ? up.getBoundingClientRect().width : 0,
               vulns: [...document.querySelectorAll('#vulnerabilities a')].map(a => a.textContent),
               workloads: [...document.querySelectorAll('#running a')].map(a => a.textContent),
             };",
            json!([]),
        )
        .await;
    assert_eq!(shown["verdict"], "UNSIGNED", "{shown}");
    assert!(shown["nodes"].as_u64().unwrap() >= 4, "{shown}");
    assert!(shown["width"].as_f64().unwrap() > 100.0, "drawn: {shown}");
    let links: Vec<&str> = shown["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        links.iter().any(|l| l.starts_with("/ui/BUILD/"))
            && links.iter().any(|l| l.starts_with("/ui/COMMIT/")),
        "{shown}"
    );
    assert!(
        shown["vulns"]
            .as_array()
            .unwrap()
            .contains(&json!("GO-2023-2102")),
        "{shown}"
    );
    assert!(
        shown["workloads"]
            .as_array()
            .unwrap()
            .contains(&json!("prod/payments/calc-api")),
        "{shown}"
    );
    assert_loopback("the node page", &browser.loaded_urls().await);
    if write_docs(flavor) {
        browser.resize(1280, 1500).await;
        screenshot("artifact.png", &browser.screenshot().await);
        browser.resize(1280, 900).await;
    }

    // A node in the picture is a link to its page.
    let commit = browser
        .find(".picture[data-direction=UPSTREAM] svg a[href^=\"/ui/COMMIT/\"]")
        .await;
    browser.click(&commit).await;
    browser
        .wait_for("location.pathname.startsWith('/ui/COMMIT/')")
        .await;
    browser.wait_for("document.readyState === 'complete'").await;
    let downstream = browser
        .run(
            "return document.querySelectorAll('.picture[data-direction=DOWNSTREAM] svg g.node').length;",
            json!([]),
        )
        .await;
    assert!(downstream.as_u64().unwrap() >= 3, "{downstream}");

    // A vulnerability by an alias, in lower case.
    browser
        .goto(&format!("{base}/ui/search?q=cve-2023-39325"))
        .await;
    assert_eq!(
        browser.url().await,
        format!("{base}/ui/VULNERABILITY/GO-2023-2102")
    );
    if write_docs(flavor) {
        browser.resize(1280, 1300).await;
        screenshot("vulnerability.png", &browser.screenshot().await);
        browser.resize(1280, 900).await;
    }

    // GraphiQL, offline: its editor renders and a query runs.
    browser.goto(&format!("{base}/graphql")).await;
    browser
        .wait_for("document.querySelector('.graphiql-container .CodeMirror')")
        .await;
    browser
        .run(
            "document.querySelector('.graphiql-execute-button').click();",
            json!([]),
        )
        .await;
    browser
        .wait_for("document.querySelector('.result-window') && document.querySelector('.result-window').textContent.includes('calc-api')")
        .await;
    assert_loopback("GraphiQL", &browser.loaded_urls().await);
    if write_docs(flavor) {
        screenshot("graphiql.png", &browser.screenshot().await);
    }
    browser.quit().await;
    server.stop().await;
}

/// Read tokens: a UI page asks a browser for one; the form sets an
/// HttpOnly, SameSite=Strict cookie; the cookie reads pages and pictures
/// (GET) but never runs a GraphQL POST; the token is never in a URL.
async fn read_tokens_in_the_ui(flavor: Flavor) {
    const READ: &str = "read-token-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        format!("[[read]]\nname = \"auditor\"\ntoken = \"{READ}\"\n"),
    )
    .unwrap();
    let server = Server::start(flavor, &["--tokens", tokens.to_str().unwrap()]).await;
    server.export_json(read("examples/sample-build.json")).await;
    let base = format!("http://{}", server.api);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = format!("{base}/ui/ARTIFACT/{IMAGE}");
    let html = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

    // A browser without a token gets the form; a program gets JSON.
    let asked = client
        .get(&page)
        .header("accept", html)
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 401);
    let form = asked.text().await.unwrap();
    assert!(
        form.contains("action=\"/ui/token\"") && form.contains("type=\"password\""),
        "{form}"
    );
    assert!(
        form.contains(&format!("value=\"/ui/ARTIFACT/{IMAGE}\"")),
        "returns to the page"
    );
    let program = client.get(&page).send().await.unwrap();
    assert_eq!(program.status(), 401);
    assert!(program.text().await.unwrap().contains("\"errors\""));
    // The assets are open: the form has its style.
    let css = client
        .get(format!("{base}/ui/assets/ui.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);

    // The form sets the cookie and goes back.
    let set = client
        .post(format!("{base}/ui/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={READ}&next=%2Fui%2FARTIFACT%2F{IMAGE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 303);
    assert_eq!(
        set.headers()["location"],
        format!("/ui/ARTIFACT/{IMAGE}").as_str()
    );
    let cookie = set.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();

    let with_cookie = |url: String| {
        client
            .get(url)
            .header("cookie", pair.clone())
            .header("accept", html)
    };
    let shown = with_cookie(page.clone()).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    assert!(
        shown
            .text()
            .await
            .unwrap()
            .contains("data-verdict=\"UNSIGNED\"")
    );
    let picture = with_cookie(format!(
        "{base}/v1/lineage?kind=ARTIFACT&key={IMAGE}&direction=UPSTREAM"
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(picture.status(), 200, "pictures are GET reads too");
    // Never a POST: another site's page cannot run a query with it.
    let post = client
        .post(format!("{base}/graphql"))
        .header("cookie", pair.clone())
        .json(&json!({ "query": "{ workloads { nodes { key } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401);
    // A wrong token in the cookie: the form again, saying so.
    let wrong = client
        .get(&page)
        .header("cookie", "provgraph_read=wrong-token-0123456789")
        .header("accept", html)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("not a known read token")
    );
    // The form of another site is refused.
    let cross = client
        .post(format!("{base}/ui/token"))
        .header("origin", "https://elsewhere.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={READ}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);

    // In the browser: the form, the token typed, the page; the cookie is
    // out of scripts' reach and the token in no URL.
    if let Some(browser) = Browser::start(1280, 900).await {
        browser.goto(&page).await;
        let input = browser.find("input[name=token]").await;
        browser.type_into(&input, &format!("{READ}{ENTER}")).await;
        browser.wait_for("document.querySelector('.verdict')").await;
        assert_eq!(browser.url().await, page);
        let cookies = browser.run("return document.cookie;", json!([])).await;
        assert!(
            !cookies.as_str().unwrap().contains(READ),
            "HttpOnly: {cookies}"
        );
        let urls = browser.loaded_urls().await;
        assert_loopback("the page behind the token", &urls);
        assert!(urls.iter().all(|u| !u.contains(READ)));
        browser.quit().await;
    }
    assert!(!server.stderr().contains(READ), "no token in the log");
    server.stop().await;
}

provgraph_store::both_databases!(search_a_digest_in_the_browser, read_tokens_in_the_ui);
