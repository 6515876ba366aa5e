//! Gates and events (CONTRACT.md "Gates and events"): `GET /v1/verdict`,
//! `provgraph gate` exit codes, webhooks posting CloudEvents to real HTTP
//! receivers (every event type, retries with the same id, a slow endpoint
//! beside a good one, HMAC signatures), delivery after SIGKILL between
//! commit and delivery, the `events` subscription over a real WebSocket
//! client, and the running-workloads gauge; on both databases.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use futures::{SinkExt, StreamExt};
use provgraph_store::testing::Flavor;
use sha2::{Digest as _, Sha256};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{Server, binary};

fn digest(n: u32) -> String {
    format!("sha256:{:064x}", 0xe0e0_0000u64 + u64::from(n))
}

fn attrs(pairs: &[(&str, &str)]) -> serde_json::Value {
    pairs
        .iter()
        .map(|(k, v)| serde_json::json!({"key": k, "value": {"stringValue": v}}))
        .collect()
}

async fn post_traces(server: &Server, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", server.http))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// A CI build span producing `image` from `commit` in run `run`.
async fn build(server: &Server, trace: u32, run: &str, commit: &str, image: &str) {
    post_traces(
        server,
        serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": attrs(&[("service.name", "ci")])},
        "scopeSpans": [{"spans": [{"traceId": format!("{:032x}", 0xb00d_0000u64 + u64::from(trace)),
            "spanId": "0a0a0a0a0a0a0a0a", "name": "release",
            "attributes": attrs(&[
                ("cicd.pipeline.run.id", run), ("vcs.ref.head.revision", commit),
                ("vcs.repository.url.full", "https://github.com/acme/events"),
                ("oci.manifest.digest", image),
            ])}]}]}]}),
    )
    .await;
}

/// A workload's request trace naming the image it runs.
async fn workload(server: &Server, trace: u32, service: &str, image: &str) {
    post_traces(
        server,
        serde_json::json!({"resourceSpans": [{
            "resource": {"attributes": attrs(&[
                ("service.name", service), ("k8s.namespace.name", "prod"),
                ("container.image.repo_digests", &format!("ghcr.io/acme/{service}@{image}")),
            ])},
            "scopeSpans": [{"spans": [{"traceId": format!("{:032x}", 0xee0d_0000u64 + u64::from(trace)),
                "spanId": "0102030405060708", "name": "GET /"}]}]}]}),
    )
    .await;
}

/// What a receiver got: each request's headers and body.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>);

impl Received {
    fn all(&self) -> Vec<(HeaderMap, serde_json::Value)> {
        self.0.lock().unwrap().clone()
    }

    fn events(&self) -> Vec<serde_json::Value> {
        self.all().into_iter().map(|(_, body)| body).collect()
    }

    /// Waits (bounded) until `done` holds for what was received.
    async fn wait_for(&self, what: &str, done: impl Fn(&[serde_json::Value]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let events = self.events();
            if done(&events) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} not received within 60 s; got {events:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// How a receiver answers.
#[derive(Clone, Copy)]
enum Behaviour {
    /// 204 at once.
    Good,
    /// 500 to the first two tries of each event id, then 200.
    FailTwice,
    /// Never answers (holds the request).
    Hang,
}

/// A real HTTP receiver on port 0; `failing` (when set) answers 503 to
/// everything, whatever `behaviour` says.
async fn receiver(
    behaviour: Behaviour,
    failing: Arc<AtomicBool>,
) -> (SocketAddr, Received, tokio::task::JoinHandle<()>) {
    let received = Received::default();
    let tries: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let app = {
        let received = received.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let received = received.clone();
                let tries = tries.clone();
                let failing = failing.clone();
                async move {
                    let json: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    let id = json["id"].as_str().unwrap_or_default().to_string();
                    received.0.lock().unwrap().push((headers, json));
                    if failing.load(Ordering::SeqCst) {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    match behaviour {
                        Behaviour::Good => StatusCode::NO_CONTENT,
                        Behaviour::FailTwice => {
                            let mut tries = tries.lock().unwrap();
                            let n = tries.entry(id).or_default();
                            *n += 1;
                            if *n <= 2 {
                                StatusCode::INTERNAL_SERVER_ERROR
                            } else {
                                StatusCode::OK
                            }
                        }
                        Behaviour::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            StatusCode::OK
                        }
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, received, task)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let inner = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x36))
        .chain_update(message)
        .finalize();
    hex::encode(
        Sha256::new()
            .chain_update(block.map(|b| b ^ 0x5c))
            .chain_update(inner)
            .finalize(),
    )
}

fn of_type<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| e["type"] == format!("dev.provgraph.{kind}"))
        .collect()
}

/// Every event type reaches a real receiver as a CloudEvent with the
/// contract's fields and a valid signature; a receiver that fails first
/// gets the same id again until it answers; an endpoint that never answers
/// holds up neither the others nor ingest.
async fn webhooks_deliver_cloudevents(flavor: Flavor) {
    let never = Arc::new(AtomicBool::new(false));
    let (good, good_got, _g) = receiver(Behaviour::Good, never.clone()).await;
    let (flaky, flaky_got, _f) = receiver(Behaviour::FailTwice, never.clone()).await;
    let (slow, slow_got, _s) = receiver(Behaviour::Hang, never.clone()).await;
    let hooks = format!("http://{slow}/hook,http://{good}/hook,http://{flaky}/hook");
    let server = Server::start(
        flavor,
        &[
            "--webhook",
            &hooks,
            "--webhook-secret",
            "s3cret",
            "--sighting-flush-interval",
            "1s",
        ],
    )
    .await;
    let (image, commit) = (digest(1), "e".repeat(40));
    build(&server, 1, "run-e1", &commit, &image).await;
    workload(&server, 1, "shop", &image).await;

    good_got
        .wait_for(
            "artifact.built, workload.started, verdict.changed",
            |events| {
                !of_type(events, "artifact.built").is_empty()
                    && !of_type(events, "workload.started").is_empty()
                    && !of_type(events, "verdict.changed").is_empty()
            },
        )
        .await;
    let events = good_got.events();
    let built = of_type(&events, "artifact.built")[0];
    assert_eq!(built["specversion"], "1.0");
    assert_eq!(built["source"], "/provgraph");
    assert_eq!(built["subject"], image.as_str());
    assert!(built["time"].as_str().unwrap().ends_with('Z'), "{built}");
    assert_eq!(built["data"]["digest"], image.as_str());
    assert_eq!(built["data"]["build"], "run-e1");
    assert_eq!(built["data"]["commit"], commit.as_str());
    let started = of_type(&events, "workload.started")[0];
    assert_eq!(started["data"]["digest"], image.as_str());
    assert!(
        started["data"]["workload"]
            .as_str()
            .unwrap()
            .contains("shop"),
        "{started}"
    );
    assert_eq!(started["data"]["verdict"], "UNSIGNED");
    let changed = of_type(&events, "verdict.changed")[0];
    assert_eq!(changed["data"]["digest"], image.as_str());
    assert_eq!(changed["data"]["from"], "UNKNOWN");
    assert_eq!(changed["data"]["to"], "UNSIGNED");
    // Distinct ids; each request structured JSON and signed.
    let mut ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(
        ids.len(),
        before,
        "a good receiver gets each id once: {ids:?}"
    );
    for (headers, body) in good_got.all() {
        assert_eq!(
            headers["content-type"], "application/cloudevents+json",
            "{body}"
        );
        let signature = headers["x-provgraph-signature"].to_str().unwrap();
        let expected = format!(
            "sha256={}",
            hmac_sha256(b"s3cret", body.to_string().as_bytes())
        );
        assert_eq!(signature, expected, "signature of {body}");
    }

    // The failing receiver got each event three times, with its own id.
    flaky_got
        .wait_for("three tries of each event", |got| {
            let mut count: HashMap<&str, usize> = HashMap::new();
            for event in got {
                *count
                    .entry(event["id"].as_str().unwrap_or_default())
                    .or_default() += 1;
            }
            count.len() >= 3 && count.values().all(|n| *n >= 3)
        })
        .await;
    let flaky_events = flaky_got.events();
    for id in &ids {
        let same: Vec<_> = flaky_events.iter().filter(|e| e["id"] == *id).collect();
        assert!(same.len() >= 3, "{id} tried {} times", same.len());
        assert!(
            same.windows(2).all(|w| w[0] == w[1]),
            "retries are the same event"
        );
    }
    // The hanging endpoint was tried (and holds nothing up).
    assert!(!slow_got.events().is_empty(), "the slow endpoint got a try");

    // Delivery metrics and the running gauge.
    let metrics = reqwest::get(format!("http://{}/metrics", server.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let good_line =
        format!("provgraph_webhook_deliveries_total{{endpoint=\"http://{good}/hook\"}}");
    assert!(metrics.contains(&good_line), "{metrics}");
    assert!(
        metrics.contains("provgraph_webhook_failed_tries_total"),
        "{metrics}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = reqwest::get(format!("http://{}/metrics", server.api))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("provgraph_running_workloads{verdict=\"UNSIGNED\"} 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no running UNSIGNED workload: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await;
}

/// An event committed but not delivered when the server is killed
/// (SIGKILL) is delivered, with the same id, after a restart.
async fn event_survives_sigkill(flavor: Flavor) {
    let failing = Arc::new(AtomicBool::new(true));
    let (addr, got, _r) = receiver(Behaviour::Good, failing.clone()).await;
    let hook = format!("http://{addr}/hook");
    let mut server = Server::start(flavor, &["--webhook", &hook]).await;
    let image = digest(2);
    build(&server, 2, "run-e2", &"f".repeat(40), &image).await;
    // Committed, tried, refused: the crash comes between commit and delivery.
    got.wait_for("a refused try", |events| {
        !of_type(events, "artifact.built").is_empty()
    })
    .await;
    let id = of_type(&got.events(), "artifact.built")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    server.kill_hard();
    failing.store(false, Ordering::SeqCst);
    let tries_before = got.events().len();
    let db = server.db.take();
    let url = server.url.clone();
    drop(server);
    let server = Server::start_on(&url, &["--webhook", &hook]);
    got.wait_for("the event after restart", |events| {
        events[tries_before..]
            .iter()
            .any(|e| e["id"] == id.as_str())
    })
    .await;
    server.stop().await;
    if let Some(db) = db {
        db.cleanup().await;
    }
}

/// `GET /v1/verdict/DIGEST` and `provgraph gate`'s exit codes.
async fn verdict_endpoint_and_gate(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    let base = format!("http://{}", server.api);
    let bad = reqwest::get(format!("{base}/v1/verdict/sha256:nothex"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let unknown = digest(3);
    let answer: serde_json::Value = reqwest::get(format!("{base}/v1/verdict/{unknown}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["digest"], unknown.as_str());
    assert_eq!(answer["verdict"], "UNKNOWN");
    assert!(
        answer["reasons"].as_array().is_some_and(|r| !r.is_empty()),
        "{answer}"
    );

    let image = digest(4);
    build(&server, 4, "run-e4", &"a".repeat(40), &image).await;
    let response = reqwest::get(format!(
        "{base}/v1/verdict/{}",
        image.to_uppercase().replace("SHA256", "sha256")
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["digest"], image.as_str());
    assert_eq!(answer["verdict"], "UNSIGNED");

    let gate = |args: &[&str]| {
        let output = Command::new(binary())
            .arg("gate")
            .args(args)
            .env_remove("PROVGRAPH_SERVER")
            .env_remove("PROVGRAPH_TOKEN")
            .output()
            .expect("run gate");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (code, _, stderr) = gate(&["--server", &base, "--require", "TRUSTED", &image]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("UNSIGNED") && stderr.lines().count() == 1,
        "{stderr}"
    );
    let (code, _, stderr) = gate(&["--server", &base, "--require", "trusted,UNSIGNED", &image]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = gate(&[
        "--server",
        &base,
        "--require",
        "TRUSTED",
        "--format",
        "json",
        "--wait",
        "0s",
        &unknown,
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).expect(&stdout);
    assert_eq!(json["verdict"], "UNKNOWN");
    assert_eq!(json["pass"], false);
    let (code, _, stderr) = gate(&["--server", &base, "--require", "UNKNOWN", &unknown]);
    assert_eq!(code, Some(0), "{stderr}");
    // Waits while the digest is unknown: the build lands meanwhile.
    let later = digest(5);
    let waiting = {
        let (base, later) = (base.clone(), later.clone());
        std::thread::spawn(move || {
            Command::new(binary())
                .args([
                    "gate",
                    "--server",
                    &base,
                    "--require",
                    "UNSIGNED",
                    "--wait",
                    "60s",
                    &later,
                ])
                .output()
                .expect("run gate")
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    build(&server, 5, "run-e5", &"b".repeat(40), &later).await;
    let output = tokio::task::spawn_blocking(move || waiting.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Cannot tell: unreachable server, malformed digest, unknown verdict name.
    let (code, _, stderr) = gate(&[
        "--server",
        "http://127.0.0.1:1",
        "--require",
        "TRUSTED",
        &image,
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = gate(&["--server", &base, "--require", "TRUSTED", "sha256:12"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = gate(&["--server", &base, "--require", "GOOD", &image]);
    assert_eq!(code, Some(2), "{stderr}");
    server.stop().await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame as JSON; None when the socket closes.
async fn read(socket: &mut Socket) -> Option<serde_json::Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("a message within 60 s")?;
        match message {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// A `graphql-transport-ws` connection, `connection_init` sent with `payload`.
async fn connect(server: &Server, payload: serde_json::Value) -> Socket {
    let mut request = format!("ws://{}/graphql/ws", server.api)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
        .send(Message::Text(
            serde_json::json!({"type": "connection_init", "payload": payload})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    socket
}

/// The `events` subscription over `graphql-transport-ws` at `/graphql/ws`
/// with a real WebSocket client, filtered by type, behind read tokens (the
/// token in `connection_init`'s payload; none: closed).
async fn subscription_over_websocket(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        "[[read]]\nname = \"watcher\"\ntoken = \"read-token-0123456789\"\n",
    )
    .unwrap();
    let server = Server::start(flavor, &["--tokens", tokens.to_str().unwrap()]).await;
    let verdict = reqwest::get(format!("http://{}/v1/verdict/{}", server.api, digest(6)))
        .await
        .unwrap();
    assert_eq!(verdict.status(), 401, "the verdict is a read route");

    let mut stranger = connect(&server, serde_json::json!({})).await;
    let refused = read(&mut stranger).await;
    assert!(
        refused.is_none()
            || refused
                .as_ref()
                .is_some_and(|m| m["type"] != "connection_ack"),
        "no ack without a token: {refused:?}"
    );

    let mut socket = connect(
        &server,
        serde_json::json!({"Authorization": "Bearer read-token-0123456789"}),
    )
    .await;
    assert_eq!(
        read(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    socket
        .send(Message::Text(
            serde_json::json!({"id": "1", "type": "subscribe", "payload": {
                "query": "subscription { events(types: [\"dev.provgraph.artifact.built\"]) { id type source subject time data } }"
            }})
            .to_string()
            .into(),
        ))
        .await
        .unwrap();
    // The subscription is live once the server has read the message: build
    // until an event arrives (the first builds may come before).
    let mut n = 0;
    let got = loop {
        n += 1;
        build(
            &server,
            60 + n,
            &format!("run-ws{n}"),
            &"c".repeat(40),
            &digest(600 + n),
        )
        .await;
        match tokio::time::timeout(Duration::from_secs(2), read(&mut socket)).await {
            Ok(message) => break message.expect("an event"),
            Err(_) => assert!(n < 20, "no event over the subscription"),
        }
    };
    assert_eq!(got["type"], "next", "{got}");
    assert_eq!(got["id"], "1", "{got}");
    let event = &got["payload"]["data"]["events"];
    assert_eq!(event["type"], "dev.provgraph.artifact.built", "{got}");
    assert_eq!(event["source"], "/provgraph");
    assert!(event["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(event["data"]["digest"], event["subject"]);
    assert!(
        event["data"]["build"]
            .as_str()
            .unwrap()
            .starts_with("run-ws"),
        "{got}"
    );
    // Filtered: no verdict.changed comes through (the next frame, if any
    // within a few seconds, is another artifact.built).
    build(&server, 99, "run-ws-last", &"c".repeat(40), &digest(699)).await;
    let next = read(&mut socket).await.expect("the last build's event");
    assert_eq!(
        next["payload"]["data"]["events"]["type"], "dev.provgraph.artifact.built",
        "{next}"
    );
    server.stop().await;
}

provgraph_store::both_databases!(
    webhooks_deliver_cloudevents,
    event_survives_sigkill,
    verdict_endpoint_and_gate,
    subscription_over_websocket,
);
