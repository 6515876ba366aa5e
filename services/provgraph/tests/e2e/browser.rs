//! A headless Chromium driven over the WebDriver HTTP protocol (Debian's
//! `chromium` and `chromedriver`), with `reqwest`: just the commands the UI
//! tests use. Chromium resolves no host but 127.0.0.1
//! (`--host-resolver-rules`), so a page that tried to load from another
//! host would fail to, and the tests check what it loaded.
//!
//! [`Browser::start`] answers `None` (the test skips, saying so) when
//! chromium or chromedriver is not installed, unless
//! `PROVGRAPH_REQUIRE_CHROMIUM=1` (as `.ci/run` sets) makes that a failure.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// The WebDriver key code of Enter.
pub const ENTER: &str = "\u{E007}";

/// A chromedriver with one browser session.
pub struct Browser {
    driver: Child,
    base: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh browser (empty profile: a cold cache), `width` × `height`.
    pub async fn start(width: u32, height: u32) -> Option<Browser> {
        let found = std::path::Path::new(CHROMIUM).exists()
            && Command::new(CHROMEDRIVER).arg("--version").output().is_ok();
        if !found {
            assert!(
                std::env::var_os("PROVGRAPH_REQUIRE_CHROMIUM").is_none(),
                "PROVGRAPH_REQUIRE_CHROMIUM=1 but chromium or chromedriver is missing \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "SKIPPED: chromium or chromedriver not installed (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = browser
                .client
                .get(format!("{}/status", browser.base))
                .send()
                .await
                .ok();
            if let Some(response) = ready
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", browser._profile.path().display()),
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
            },
        } } });
        let answer = browser.command("POST", "/session", capabilities).await;
        let session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        browser.base = format!("{}/session/{session}", browser.base);
        Some(browser)
    }

    /// One WebDriver command; its `value`, or panics with the error.
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url).json(&body),
        };
        let response = request.send().await.expect("webdriver request");
        let status = response.status();
        let answer: Value = response.json().await.expect("webdriver json");
        assert!(status.is_success(), "webdriver {method} {path}: {answer}");
        answer["value"].clone()
    }

    /// Goes to `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        self.command("GET", "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The first element matching `css`.
    pub async fn find(&self, css: &str) -> String {
        let found = self
            .command(
                "POST",
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Clicks an element as a user would (scrolled into view first).
    pub async fn click(&self, element: &str) {
        self.command("POST", &format!("/element/{element}/click"), json!({}))
            .await;
    }

    /// Types `text` into an element (`ENTER` presses Enter).
    pub async fn type_into(&self, element: &str, text: &str) {
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Waits until `condition` (a JS expression) is true, up to 30 s.
    pub async fn wait_for(&self, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let script = format!("return !!({condition});");
        while self.run(&script, json!([])).await != Value::Bool(true) {
            assert!(
                Instant::now() < deadline,
                "not true within 30 s: {condition}; at {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every URL the page loaded (itself and its resources).
    pub async fn loaded_urls(&self) -> Vec<String> {
        let urls = self
            .run(
                "return [location.href].concat(performance.getEntriesByType('resource').map(e => e.name));",
                json!([]),
            )
            .await;
        urls.as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_string())
            .collect()
    }

    /// Navigation start to the end of the load event of the current page,
    /// in milliseconds (`performance.timing`).
    pub async fn load_millis(&self) -> i64 {
        self.wait_for("performance.timing.loadEventEnd > 0").await;
        self.run(
            "const t = performance.timing; return t.loadEventEnd - t.navigationStart;",
            json!([]),
        )
        .await
        .as_i64()
        .unwrap()
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let data = self.command("GET", "/screenshot", Value::Null).await;
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap()
    }

    pub async fn quit(mut self) {
        let _ = self.client.delete(&self.base).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
