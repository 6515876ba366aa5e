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

provgraph_store::both_databases!(
    hub_pages_and_read_your_writes,
    a_second_server_sees_the_first_ones_writes
);
