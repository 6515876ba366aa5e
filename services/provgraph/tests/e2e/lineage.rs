//! Lineage from the in-memory index, end to end: the real server answers
//! from its index (read-your-writes after an acknowledged export), pages
//! through a hub with `lineagePage` cursors, and a second server on the same
//! database sees the first one's writes within its poll interval.

use std::time::{Duration, Instant};

use crate::support::{Server, kv};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use provgraph_store::testing::Flavor;

const HUB: &str = "github.com/acme/hub";

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

/// Exports `builds` builds of the hub repository, starting at `from`, one
/// span each (run id, commit, repository, image), over OTLP/HTTP.
async fn export_builds(server: &Server, from: u32, builds: u32) {
    let spans = (from..from + builds)
        .map(|b| Span {
            trace_id: (u128::from(b) + 1).to_be_bytes().to_vec(),
            span_id: vec![1; 8],
            name: "release".into(),
            attributes: vec![
                kv("cicd.pipeline.run.id", format!("run-{b}")),
                kv("vcs.ref.head.revision", format!("{b:040x}")),
                kv("vcs.repository.url.full", format!("https://{HUB}")),
                kv("oci.manifest.digest", digest(b)),
            ],
            ..Default::default()
        })
        .collect();
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", server.http))
        .header("content-type", "application/x-protobuf")
        .body(crate::support::spans_request(spans).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

fn page_query(first: u32, after: Option<&str>) -> String {
    let after = after.map_or(String::new(), |a| format!(", after: \"{a}\""));
    format!(
        "{{ lineagePage(kind: REPOSITORY, key: \"{HUB}\", direction: DOWNSTREAM, kinds: [ARTIFACT], first: {first}{after}) \
         {{ edges {{ cursor depth node {{ kind key }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )
}

/// Every image of the hub, a page at a time.
async fn all_pages(server: &Server, first: u32) -> Vec<String> {
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = server.data(&page_query(first, after.as_deref())).await;
        let page = &data["lineagePage"];
        let edges = page["edges"].as_array().unwrap();
        assert!(edges.len() <= first as usize);
        for edge in edges {
            assert_eq!(edge["node"]["kind"], "ARTIFACT");
            assert_eq!(edge["depth"], 2);
            keys.push(edge["node"]["key"].as_str().unwrap().to_string());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        assert_eq!(edges.len(), first as usize);
        after = Some(page["pageInfo"]["endCursor"].as_str().unwrap().to_string());
    }
    keys
}

async fn upstream_keys(server: &Server, image: &str) -> Vec<String> {
    let data = server
        .data(&format!(
            "{{ lineage(kind: ARTIFACT, key: \"{image}\", direction: UPSTREAM) {{ nodes {{ kind key }} edges {{ kind }} truncated }} }}"
        ))
        .await;
    let mut keys = crate::support::node_keys(&data["lineage"]);
    keys.sort();
    keys
}

async fn hub_pages_and_read_your_writes(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    export_builds(&server, 0, 45).await;
    // Acknowledged, so the next query sees it (the index catches up first).
    assert_eq!(
        upstream_keys(&server, &digest(7)).await,
        vec![
            "ARTIFACT:".to_string() + &digest(7),
            "BUILD:run-7".into(),
            format!("COMMIT:{:040x}", 7),
            format!("REPOSITORY:{HUB}"),
        ]
    );
    let mut pages = all_pages(&server, 10).await;
    assert_eq!(pages.len(), 45);
    let mut sorted = pages.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 45, "no image twice");
    // A cursor stays valid as the hub grows: the rest of the walk brings
    // the new images.
    let first = server.data(&page_query(40, None)).await;
    let cursor = first["lineagePage"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_string();
    export_builds(&server, 45, 5).await;
    let rest = server.data(&page_query(100, Some(&cursor))).await;
    let rest: Vec<&str> = rest["lineagePage"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(rest.len(), 10, "5 old after the cursor and 5 new: {rest:?}");
    pages = all_pages(&server, 1000).await;
    assert_eq!(pages.len(), 50);
    // Bad cursors and sizes are errors.
    for bad in [
        page_query(10, Some("zz")),
        page_query(10, Some("6c70313a")),
        page_query(1001, None),
    ] {
        let answer = server.graphql(&bad).await;
        assert!(answer.get("errors").is_some(), "{bad}: {answer}");
    }
    assert!(
        server.stderr().contains("lineage index loaded"),
        "{}",
        server.stderr()
    );
    server.stop().await;
}

/// Two servers on one database (stateless replicas): B answers with A's
/// writes within its poll interval, never with edges A deleted.
async fn a_second_server_sees_the_first_ones_writes(flavor: Flavor) {
    let a = Server::start(flavor, &[]).await;
    let b = Server::start_on(&a.url, &[]);
    export_builds(&a, 0, 3).await;
    // B loads its index at start: wait until it answers, then write more on A.
    let wait_for = |image: String, nodes: usize| {
        let b = &b;
        async move {
            let deadline = Instant::now() + provgraph_store::POLL_EVERY + Duration::from_secs(4);
            loop {
                let keys = upstream_keys(b, &image).await;
                if keys.len() == nodes {
                    return Instant::now();
                }
                assert!(
                    Instant::now() < deadline,
                    "B still answers {keys:?} for {image}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_for(digest(2), 4).await;
    // Child span first (a provisional build named by the trace id), then
    // its root: the provisional build's edges are deleted on A.
    let started = Instant::now();
    export_builds(&a, 3, 1).await;
    let seen = wait_for(digest(3), 4).await;
    eprintln!("B saw A's write after {:?}", seen - started);
    let image = digest(9);
    let child = Span {
        trace_id: vec![9; 16],
        span_id: vec![2; 8],
        name: "push".into(),
        attributes: vec![
            kv("vcs.ref.head.revision", format!("{:040x}", 9)),
            kv("vcs.repository.url.full", format!("https://{HUB}")),
            kv("oci.manifest.digest", image.clone()),
        ],
        ..Default::default()
    };
    let post = |span: Span| {
        let a = &a;
        async move {
            let response = reqwest::Client::new()
                .post(format!("http://{}/v1/traces", a.http))
                .header("content-type", "application/x-protobuf")
                .body(crate::support::spans_request(vec![span]).encode_to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    post(child).await;
    wait_for(image.clone(), 4).await;
    let root = Span {
        trace_id: vec![9; 16],
        span_id: vec![1; 8],
        name: "release".into(),
        attributes: vec![kv("cicd.pipeline.run.id", "run-9")],
        ..Default::default()
    };
    post(root).await;
    // At once (before B's next poll): never the deleted provisional build.
    let keys = upstream_keys(&b, &image).await;
    assert!(
        !keys
            .iter()
            .any(|k| k == &format!("BUILD:{}", "09".repeat(16))),
        "B shows a deleted build: {keys:?}"
    );
    wait_for(image.clone(), 4).await;
    let keys = upstream_keys(&b, &image).await;
    assert!(keys.contains(&"BUILD:run-9".to_string()), "{keys:?}");
    drop(b);
    a.stop().await;
}

/// POSTs an OTLP/JSON body to `/v1/{signal}`; answers the JSON response.
async fn post_json(server: &Server, signal: &str, body: serde_json::Value) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/{signal}", server.http))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{answer}");
    answer
}

fn attrs(pairs: &[(&str, &str)]) -> serde_json::Value {
    pairs
        .iter()
        .map(|(k, v)| serde_json::json!({"key": k, "value": {"stringValue": v}}))
        .collect()
}

/// A workload's request trace (no build facts) as OTLP/JSON.
fn workload_trace(trace: u32, service: &str, digest: &str) -> serde_json::Value {
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": attrs(&[
            ("service.name", service), ("k8s.namespace.name", "payments"),
            ("container.image.repo_digests", &format!("ghcr.io/acme/{service}@{digest}")),
        ])},
        "scopeSpans": [{"spans": [{"traceId": format!("{:032x}", 0xee00_0000u64 + u64::from(trace)),
            "spanId": "0102030405060708", "name": "GET /"}]}]}]})
}

pub(crate) fn names(list: &serde_json::Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|item| item[field].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

/// `impact` and `workloads` as the contract says, over real HTTP: a bad
/// commit reaches the image built from it and the workload running it; a
/// builder image reaches what was built inside it; `seenAfter` keeps only
/// workloads seen since; unknown nodes answer empty lists, malformed keys
/// errors; `workloads` pages most recent first; `buildByTrace` finds a CI
/// trace's build; evidence links to the trace UI.
async fn impact_and_workloads_answer_the_contract(flavor: Flavor) {
    let server = Server::start(
        flavor,
        &[
            "--trace-url-template",
            "https://tempo.example/trace/{traceId}",
        ],
    )
    .await;
    let (product, builder, other) = (digest(0xa), digest(0xb), digest(0xc));
    let commit = "c".repeat(40);
    let build_trace = format!("{:032x}", 0xb0b0u32);
    post_json(
        &server,
        "traces",
        serde_json::json!({"resourceSpans": [{
            "resource": {"attributes": attrs(&[
                ("service.name", "ci"),
                ("container.image.repo_digests", &format!("ghcr.io/acme/builder@{builder}")),
            ])},
            "scopeSpans": [{"spans": [{"traceId": build_trace, "spanId": "0a0a0a0a0a0a0a0a", "name": "release",
                "attributes": attrs(&[
                    ("cicd.pipeline.run.id", "run-7"), ("vcs.ref.head.revision", &commit),
                    ("vcs.repository.url.full", "https://github.com/acme/calc"),
                    ("oci.manifest.digest", &product),
                ])}]}]}]}),
    )
    .await;
    post_json(&server, "traces", workload_trace(1, "calc", &product)).await;
    post_json(
        &server,
        "traces",
        workload_trace(2, "builder-pool", &builder),
    )
    .await;
    // A workload only metrics name.
    let answer = post_json(
        &server,
        "metrics",
        serde_json::json!({"resourceMetrics": [{
            "resource": {"attributes": attrs(&[
                ("service.name", "other"), ("container.image.repo_digests", &format!("ghcr.io/acme/other@{other}")),
            ])},
            "scopeMetrics": [{"metrics": [{"name": "up", "gauge": {"dataPoints": [{"asInt": "1"}, {"asInt": "1"}]}}]}]},
            {"resource": {"attributes": attrs(&[("container.image.repo_digests", "nope@sha256:12")])},
             "scopeMetrics": [{"metrics": [{"name": "up", "sum": {"dataPoints": [{"asInt": "1"}]}}]}]}]}),
    )
    .await;
    assert_eq!(
        answer["partialSuccess"]["rejectedDataPoints"], "1",
        "{answer}"
    );

    let impact = |kind: &str, key: &str, since: Option<&str>| {
        let since = since.map_or(String::new(), |s| format!(", seenAfter: \"{s}\""));
        format!(
            "{{ impact(kind: {kind}, key: \"{key}\"{since}) {{ artifacts {{ digest }} workloads {{ key }} pageInfo {{ hasNextPage }} }} }}"
        )
    };
    let data = server.data(&impact("COMMIT", &commit, None)).await;
    assert_eq!(
        names(&data["impact"]["artifacts"], "digest"),
        vec![product.clone()]
    );
    assert_eq!(
        names(&data["impact"]["workloads"], "key"),
        vec!["-/payments/calc"]
    );
    for (kind, key) in [
        ("REPOSITORY", "git@github.com:acme/calc.git"),
        ("BUILD", "run-7"),
    ] {
        let data = server.data(&impact(kind, key, None)).await;
        assert_eq!(
            names(&data["impact"]["workloads"], "key"),
            vec!["-/payments/calc"],
            "{kind}"
        );
    }
    // A builder image: itself and what was built inside it.
    let data = server.data(&impact("ARTIFACT", &builder, None)).await;
    assert_eq!(
        names(&data["impact"]["artifacts"], "digest"),
        vec![product.clone(), builder.clone()]
    );
    assert_eq!(
        names(&data["impact"]["workloads"], "key"),
        vec!["-/payments/builder-pool", "-/payments/calc"]
    );
    let data = server
        .data(&impact("COMMIT", &commit, Some("2999-01-01T00:00:00Z")))
        .await;
    assert_eq!(data["impact"]["workloads"], serde_json::json!([]));
    assert_eq!(
        names(&data["impact"]["artifacts"], "digest"),
        vec![product.clone()]
    );
    let data = server.data(&impact("COMMIT", &"d".repeat(40), None)).await;
    assert_eq!(data["impact"]["artifacts"], serde_json::json!([]));
    assert_eq!(data["impact"]["workloads"], serde_json::json!([]));
    for bad in [
        impact("COMMIT", "not-a-sha", None),
        impact("WORKLOAD", "-/-/calc", None),
    ] {
        let answer = server.graphql(&bad).await;
        assert!(
            answer["errors"][0]["message"].is_string(),
            "{bad}: {answer}"
        );
    }
    let answer = server
        .graphql(&impact("COMMIT", &commit, Some("last tuesday")))
        .await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("RFC 3339"),
        "{answer}"
    );

    // Most recently seen first, a page at a time; lastSeen moves at once.
    tokio::time::sleep(Duration::from_millis(20)).await;
    post_json(
        &server,
        "traces",
        workload_trace(3, "builder-pool", &builder),
    )
    .await;
    let page = |after: Option<&str>| {
        let after = after.map_or(String::new(), |a| format!(", after: \"{a}\""));
        format!(
            "{{ workloads(first: 2{after}) {{ nodes {{ key firstSeen lastSeen sightings {{ digest count }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
    };
    let first = server.data(&page(None)).await;
    let nodes = first["workloads"]["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes[0]["key"], "-/payments/builder-pool", "{first}");
    assert_eq!(nodes[0]["sightings"][0]["count"], 2, "{first}");
    assert!(nodes[0]["lastSeen"].as_str() > nodes[0]["firstSeen"].as_str());
    assert_eq!(first["workloads"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["workloads"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap();
    let second = server.data(&page(Some(cursor))).await;
    let mut keys: Vec<String> = nodes
        .iter()
        .chain(second["workloads"]["nodes"].as_array().unwrap())
        .map(|n| n["key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec!["-/-/other", "-/payments/builder-pool", "-/payments/calc"]
    );
    assert_eq!(second["workloads"]["pageInfo"]["hasNextPage"], false);
    let none = server
        .data(r#"{ workloads(seenAfter: "2999-01-01T00:00:00Z") { nodes { key } } }"#)
        .await;
    assert_eq!(none["workloads"]["nodes"], serde_json::json!([]));

    // The CI trace finds its build; the evidence links to the trace UI.
    let data = server
        .data(&format!(
            "{{ buildByTrace(traceId: \"{}\") {{ id }} }}",
            build_trace.to_uppercase()
        ))
        .await;
    assert_eq!(data["buildByTrace"]["id"], "run-7");
    let data = server
        .data(&format!(
            "{{ lineage(kind: ARTIFACT, key: \"{product}\", direction: UPSTREAM, maxDepth: 1) {{ edges {{ kind evidence {{ traceId traceUrl }} }} }} }}"
        ))
        .await;
    let evidence = &data["lineage"]["edges"][0]["evidence"][0];
    assert_eq!(
        evidence["traceUrl"],
        format!("https://tempo.example/trace/{build_trace}"),
        "{data}"
    );
    server.stop().await;
}

provgraph_store::both_databases!(
    hub_pages_and_read_your_writes,
    a_second_server_sees_the_first_ones_writes,
    impact_and_workloads_answer_the_contract,
);
