//! The GraphQL request limits, through the router as a client meets them:
//! fragment bombs refused before validation, errors kept short, the time
//! budget honoured by the executor, the answer's size capped.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::parse_query;
use axum::body::Body;
use provgraph_store::testing::{Flavor, TestDb};
use tower::ServiceExt;

use super::{CostError, MAX_FRAGMENT_NESTING, expanded_cost};
use crate::ApiLimits;

const COMMIT: &str = "0000000000000000000000000000000000000000";

/// `levels` fragments, each spreading the one before twice, over `base`.
fn fragment_bomb(levels: usize, base: &str) -> String {
    let mut query = format!("query {{ ...F{levels} }} fragment F0 on Query {{ {base} }} ");
    for level in 1..=levels {
        let below = level - 1;
        query.push_str(&format!(
            "fragment F{level} on Query {{ ...F{below} ...F{below} }} "
        ));
    }
    query
}

/// POSTs `query` to a router over a fresh database; the status and the
/// answer's bytes.
async fn post(flavor: Flavor, limits: ApiLimits, query: &str) -> (u16, Vec<u8>) {
    let db = TestDb::new(flavor).await;
    let store = db.store().await.unwrap();
    let router = crate::router(store.clone(), limits, Arc::new(Default::default()));
    let body = serde_json::json!({ "query": query }).to_string();
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    store.close().await;
    db.cleanup().await;
    (status, bytes)
}

fn first_error(answer: &[u8]) -> String {
    let answer: serde_json::Value = serde_json::from_slice(answer).unwrap();
    assert!(answer["data"].is_null(), "refused whole: {answer}");
    answer["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn expansion_is_counted_once_per_fragment() {
    let check = |query: &str| expanded_cost(&parse_query(query).unwrap(), 10_000, 16);
    // Two spreads of a two-field fragment: 2 + 2 * (1 + 2) = 8... counted
    // as the walk sees it: each spread 1, each field 1.
    let cost = check("{ a { ...F ...F } } fragment F on A { b c }").unwrap();
    assert_eq!(cost.size, 1 + 2 * (1 + 2));
    assert_eq!(cost.depth, 2);
    // Arguments count with their values' nodes.
    let cost = check("{ a(x: [1, 2], y: {z: 3}) }").unwrap();
    assert_eq!(cost.size, 1 + (1 + 3) + (1 + 2));
    // 2^30 fields in 1.5 KB: refused, counting 30 fragments.
    let bomb = fragment_bomb(30, "__typename");
    assert!(bomb.len() < 1_500);
    let err = expanded_cost(&parse_query(&bomb).unwrap(), 10_000, 16).unwrap_err();
    assert_eq!(err, CostError::TooLarge { limit: 10_000 });
    let bomb = fragment_bomb(60, "__typename");
    let err = expanded_cost(&parse_query(&bomb).unwrap(), 10_000, 16).unwrap_err();
    assert_eq!(err, CostError::FragmentsTooNested);
    // Cycles and long chains end the count instead of recursing.
    let err = check("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
    assert!(matches!(err, Err(CostError::Cycle { .. })), "{err:?}");
    let chain: String = (0..1_000)
        .map(|i| format!("fragment F{i} on Query {{ ...F{} }} ", i + 1))
        .collect();
    let err = check(&format!(
        "{{ ...F0 }} {chain} fragment F1000 on Query {{ a }}"
    ));
    assert_eq!(err, Err(CostError::FragmentsTooNested));
    let ok: String = (0..MAX_FRAGMENT_NESTING - 1)
        .map(|i| format!("fragment F{i} on Query {{ ...F{} }} ", i + 1))
        .collect();
    let last = MAX_FRAGMENT_NESTING - 1;
    assert!(
        check(&format!(
            "{{ ...F0 }} {ok} fragment F{last} on Query {{ a }}"
        ))
        .is_ok()
    );
    // Depth counts fields inside fragments where they are spread.
    let deep = "{ a { ...F } } fragment F on A { b { c { d } } }";
    assert_eq!(check(deep).unwrap().depth, 4);
    let err = expanded_cost(&parse_query(deep).unwrap(), 10_000, 3).unwrap_err();
    assert_eq!(err, CostError::TooDeep { limit: 3 });
}

async fn fragment_bombs_are_refused_before_validation(flavor: Flavor) {
    // Issue #13, finding 2: 22 levels are 4 million fields once expanded;
    // async-graphql's validation walked each of them (and 25 levels took
    // 29 s and 6.9 GB) before its complexity limit refused the query.
    for base in [
        "__typename",
        "node(kind: COMMIT, key: \"0000000000000000000000000000000000000000\") { key }",
    ] {
        let (status, answer) = post(flavor, ApiLimits::default(), &fragment_bomb(22, base)).await;
        assert_eq!(status, 200);
        let message = first_error(&answer);
        assert!(message.contains("expanded-size limit"), "{message}");
    }
    // A query within the limits still answers.
    let (_, answer) = post(
        flavor,
        ApiLimits::default(),
        "{ ...F ...F } fragment F on Query { __typename }",
    )
    .await;
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["data"]["__typename"], "Query", "{answer}");
}

/// The answer to a node query with `count` unknown arguments.
async fn unknown_arguments(flavor: Flavor, count: usize) -> Vec<u8> {
    let arguments: String = (0..count).map(|i| format!("a{i}: 1 ")).collect();
    let query = format!("{{ node(kind: COMMIT, key: \"{COMMIT}\", {arguments}) {{ key }} }}");
    post(flavor, ApiLimits::default(), &query).await.1
}

async fn error_replies_echo_only_an_excerpt(flavor: Flavor) {
    // A parse error used to echo the whole query line (908 KB for a 908 KB
    // query).
    let query = format!("{{ a(x: \"{}\" ) ", "y".repeat(900_000));
    let (status, answer) = post(flavor, ApiLimits::default(), &query).await;
    assert_eq!(status, 200);
    assert!(answer.len() < 2_000, "{} bytes", answer.len());
    assert!(!first_error(&answer).is_empty());
    // 10,000 unknown arguments gave 10,000 errors (1.2 MB).
    let answer = unknown_arguments(flavor, 10_000).await;
    assert!(answer.len() < 8_000, "{} bytes", answer.len());
    // Fewer of them pass the size check and fail validation: 20 errors
    // shown and the rest counted.
    let answer = unknown_arguments(flavor, 3_000).await;
    assert!(answer.len() < 8_000, "{} bytes", answer.len());
    let errors: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    let errors = errors["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{errors}"));
    assert_eq!(errors.len(), super::MAX_ERRORS + 1);
    let last = errors.last().unwrap()["message"].as_str().unwrap();
    assert!(last.contains("more errors"), "{last}");
}

async fn the_executor_honours_the_time_budget(flavor: Flavor) {
    // With no time at all, even a query that needs no I/O (which a
    // timeout around the whole execution never interrupts) is refused by
    // its first field.
    let limits = ApiLimits {
        timeout: Duration::ZERO,
        ..ApiLimits::default()
    };
    let query = format!("{{ node(kind: COMMIT, key: \"{COMMIT}\") {{ key }} }}");
    let (_, answer) = post(flavor, limits, &query).await;
    let message = first_error(&answer);
    assert!(message.contains("took longer"), "{message}");
}

async fn answers_are_capped_in_size(flavor: Flavor) {
    let query = "{ __schema { types { name description fields { name description } } } }";
    let (_, answer) = post(flavor, ApiLimits::default(), query).await;
    let full = answer.len();
    assert!(full > 4_000, "{full}");
    let limits = ApiLimits {
        max_response_bytes: 4_000,
        ..ApiLimits::default()
    };
    let (_, answer) = post(flavor, limits, query).await;
    let message = first_error(&answer);
    assert!(message.contains("response size limit"), "{message}");
    assert!(answer.len() < 1_000);
}

provgraph_store::both_databases!(
    fragment_bombs_are_refused_before_validation,
    error_replies_echo_only_an_excerpt,
    the_executor_honours_the_time_budget,
    answers_are_capped_in_size,
);
