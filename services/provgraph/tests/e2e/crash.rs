//! Crash safety: the real server, under sustained ingest, is killed with
//! SIGKILL at random moments (20 times) and restarted on the same database.
//! Every export the sender saw acknowledged must be in the graph; after the
//! sender retries what was not acknowledged (as an OTLP exporter does), the
//! graph must equal the one a clean run builds from the same requests.

use std::time::Duration;

use crate::support::{Server, kv};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use provgraph_store::testing::{Flavor, TestDb};

const KILLS: usize = 20;
const REQUESTS: usize = 3000;

/// Request `r`: 10 builds, each as two children and a root, the roots of
/// odd builds held back to the next request (children before roots).
fn request(r: usize) -> Vec<u8> {
    let mut spans = Vec::new();
    for b in 0..10usize {
        let build = r * 10 + b;
        let trace = (build as u128 + 1).to_be_bytes().to_vec();
        spans.push(Span {
            trace_id: trace.clone(),
            span_id: 1u64.to_be_bytes().to_vec(),
            name: "checkout".into(),
            attributes: vec![
                kv("vcs.ref.head.revision", format!("{:040x}", build % 37 + 1)),
                kv(
                    "vcs.repository.url.full",
                    format!("https://github.com/crash/repo-{}", build % 5),
                ),
            ],
            ..Default::default()
        });
        spans.push(Span {
            trace_id: trace.clone(),
            span_id: 2u64.to_be_bytes().to_vec(),
            name: "push".into(),
            attributes: vec![kv(
                "oci.manifest.digest",
                format!("sha256:{:064x}", build + 1),
            )],
            ..Default::default()
        });
        // The root of an odd build comes in the next request.
        let root_build = if b % 2 == 1 && r > 0 {
            (r - 1) * 10 + b
        } else {
            build
        };
        if b % 2 == 0 || r > 0 {
            spans.push(Span {
                trace_id: (root_build as u128 + 1).to_be_bytes().to_vec(),
                span_id: 3u64.to_be_bytes().to_vec(),
                name: "release".into(),
                attributes: vec![kv("cicd.pipeline.run.id", format!("run-{root_build}"))],
                ..Default::default()
            });
        }
    }
    crate::support::spans_request(spans).encode_to_vec()
}

async fn send(client: &reqwest::Client, server: &Server, body: Vec<u8>) -> bool {
    match client
        .post(format!("http://{}/v1/traces", server.http))
        .header("content-type", "application/x-protobuf")
        .timeout(Duration::from_secs(10))
        .body(body)
        .send()
        .await
    {
        Ok(response) => response.status() == 200,
        Err(_) => false,
    }
}

async fn survives_sigkill_and_loses_nothing_acknowledged(flavor: Flavor) {
    let _alone = crate::support::alone();
    let db = TestDb::new(flavor).await;
    let client = reqwest::Client::new();
    let bodies: Vec<Vec<u8>> = (0..REQUESTS).map(request).collect();
    let mut acked = vec![false; REQUESTS];
    let mut next = 0;
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..KILLS {
        let mut server = Server::start_on(&db.url, &[]);
        // Send for a pseudo-random while, then kill mid-stream.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let budget = Duration::from_millis(30 + seed % 120);
        let sender = {
            let client = client.clone();
            let bodies = bodies.clone();
            let http = server.http;
            let start = next;
            tokio::spawn(async move {
                let mut results = Vec::new();
                let mut r = start;
                while r < bodies.len() {
                    let ok = client
                        .post(format!("http://{http}/v1/traces"))
                        .header("content-type", "application/x-protobuf")
                        .timeout(Duration::from_secs(10))
                        .body(bodies[r].clone())
                        .send()
                        .await
                        .is_ok_and(|response| response.status() == 200);
                    results.push((r, ok));
                    if !ok {
                        break;
                    }
                    r += 1;
                }
                results
            })
        };
        tokio::time::sleep(budget).await;
        server.kill_hard();
        for (r, ok) in sender.await.unwrap() {
            if ok {
                acked[r] = true;
                next = next.max(r + 1);
            }
        }
    }
    let acked_count = acked.iter().filter(|a| **a).count();
    assert!(
        acked_count > 0,
        "some exports were acknowledged between kills"
    );
    assert!(
        next < REQUESTS,
        "the kills must land while ingest is still going (sent {next} of {REQUESTS})"
    );

    // Everything acknowledged is there, after 20 crashes.
    let store = db.store().await.unwrap();
    for (r, _) in acked.iter().enumerate().filter(|(_, a)| **a) {
        for b in (0..10).step_by(2) {
            let digest = format!("sha256:{:064x}", r * 10 + b + 1);
            let node = store
                .node(provgraph_model::NodeKind::Artifact, &digest)
                .await
                .unwrap();
            assert!(node.is_some(), "acknowledged request {r} lost {digest}");
        }
    }
    store.close().await;

    // The sender retries what was not acknowledged; the graph then equals a
    // clean run's.
    let server = Server::start_on(&db.url, &[]);
    for (r, body) in bodies.iter().enumerate() {
        if !acked[r] {
            assert!(
                send(&client, &server, body.clone()).await,
                "retry of request {r}"
            );
        }
    }
    server.stop().await;
    let clean = TestDb::new(flavor).await;
    let server = Server::start_on(&clean.url, &[]);
    for body in &bodies {
        assert!(send(&client, &server, body.clone()).await);
    }
    server.stop().await;
    let crashed = db.store().await.unwrap().snapshot().await.unwrap();
    let reference = clean.store().await.unwrap().snapshot().await.unwrap();
    assert_eq!(crashed.dangling, 0);
    assert_eq!(crashed.nodes.len(), reference.nodes.len());
    assert_eq!(
        crashed, reference,
        "after {KILLS} SIGKILLs and retries, the same graph as a clean run"
    );
    println!(
        "{KILLS} SIGKILLs survived; {acked_count} of {REQUESTS} requests acknowledged before a kill, none lost"
    );
    db.cleanup().await;
    clean.cleanup().await;
}

provgraph_store::both_databases!(survives_sigkill_and_loses_nothing_acknowledged);
