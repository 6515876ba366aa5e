//! Property tests where generated structure reaches further than byte
//! mutation: key normalization (idempotent, bounded, one key per
//! repository however it is spelled), OTLP/JSON decoding of arbitrary
//! AnyValue trees (decodes to the tree that was encoded), and extraction
//! over attribute sets made of the names it reads.

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value as Any,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use proptest::prelude::*;
use provgraph_fuzz::check_key;
use provgraph_model::keys::{NodeKind, normalize_repository};
use serde_json::{Value, json};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/// Text near what keys look like, and anything at all.
fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        "(https?://|ssh://|git@|git\\+ssh://)?[a-zA-Z0-9.:@\\[\\]-]{0,20}(/[a-zA-Z0-9._ -]{0,12}){0,4}(\\.git)*/?(\\?[a-z=]*)?",
        "(sha256:|SHA256:)?[0-9a-fA-F]{64}",
        "[0-9a-fA-F]{40}",
        "pkg:[a-z]{1,8}/[a-zA-Z0-9%@./-]{0,40}(\\?[a-z=&]*)?",
        "[a-z./]{1,20}@v[0-9a-z.+-]{1,20}",
        // Long keys around the limit, with non-ASCII upper case.
        "[a-zA-ZİÅ/]{1000,1030}",
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    /// Normalizing a key again gives the same key, within the length limit,
    /// for every kind.
    #[test]
    fn normalization_is_idempotent_and_bounded(text in key_text()) {
        for kind in NodeKind::ALL {
            if let Ok(key) = kind.normalize(&text) {
                check_key(kind, &key);
            }
        }
        provgraph_fuzz::keys(text.as_bytes());
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// One repository, however it is written: HTTPS or SSH URL, scp-like,
    /// bare, any case, with `.git`, a trailing slash, a port, a user or a
    /// query, all normalize to one key.
    #[test]
    fn repository_spellings_name_one_repository(
        host in "[a-zA-Z0-9-]{1,12}(\\.[a-zA-Z]{2,5}){1,2}",
        segments in prop::collection::vec("[a-zA-Z0-9_-]{1,12}", 1..4),
        upper in any::<bool>(),
    ) {
        let path = segments.join("/");
        let expected = format!("{}/{}", host.to_ascii_lowercase(), path.to_lowercase());
        let shout = |s: &str| if upper { s.to_uppercase() } else { s.to_string() };
        let spellings = [
            format!("https://{}/{path}.git", shout(&host)),
            format!("https://user@{host}:8443/{}/", shout(&path)),
            format!("git@{host}:{path}.git"),
            format!("ssh://git@{host}:22/{path}"),
            format!("git+ssh://{host}/{path}?ref=main#frag"),
            format!("{host}/{}", shout(&path)),
        ];
        for spelling in spellings {
            prop_assert_eq!(normalize_repository(&spelling).ok(), Some(expected.clone()), "{}", spelling);
        }
    }
}

// ---------------------------------------------------------------------------
// OTLP/JSON AnyValue trees
// ---------------------------------------------------------------------------

fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        Just(None),
        any::<String>().prop_map(|s| Some(Any::StringValue(s))),
        any::<bool>().prop_map(|b| Some(Any::BoolValue(b))),
        any::<i64>().prop_map(|i| Some(Any::IntValue(i))),
        any::<f64>().prop_map(|d| Some(Any::DoubleValue(d))),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| Some(Any::BytesValue(b))),
    ]
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|values| Some(Any::ArrayValue(ArrayValue { values }))),
            prop::collection::vec((any::<String>(), inner), 0..4).prop_map(|pairs| {
                Some(Any::KvlistValue(KeyValueList {
                    values: pairs
                        .into_iter()
                        .map(|(key, value)| KeyValue {
                            key,
                            value: Some(value),
                            ..KeyValue::default()
                        })
                        .collect(),
                }))
            }),
        ]
        .prop_map(|value| AnyValue { value })
    })
}

/// `value` in OTLP/JSON, written the ways senders write it (64-bit integers
/// as numbers or strings, doubles as strings, NaN and infinities by name).
fn to_json(value: &AnyValue) -> Value {
    match &value.value {
        None => json!({}),
        Some(Any::StringValue(s)) => json!({ "stringValue": s }),
        Some(Any::BoolValue(b)) => json!({ "boolValue": b }),
        Some(Any::IntValue(i)) if i % 2 == 0 => json!({ "intValue": i }),
        Some(Any::IntValue(i)) => json!({ "intValue": i.to_string() }),
        Some(Any::DoubleValue(d)) => {
            let text = if d.is_nan() {
                "NaN".to_string()
            } else if d.is_infinite() {
                if *d > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
            } else {
                d.to_string()
            };
            json!({ "doubleValue": text })
        }
        Some(Any::BytesValue(b)) => {
            json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        Some(Any::ArrayValue(array)) => {
            json!({ "arrayValue": { "values": array.values.iter().map(to_json).collect::<Vec<_>>() } })
        }
        Some(Any::KvlistValue(list)) => json!({ "kvlistValue": { "values": list
            .values
            .iter()
            .map(|kv| json!({ "key": kv.key, "value": kv.value.as_ref().map(to_json) }))
            .collect::<Vec<_>>() } }),
        Some(Any::StringValueStrindex(_)) => unreachable!("not generated"),
    }
}

fn request_with(value: &AnyValue) -> Value {
    json!({ "resourceSpans": [{ "scopeSpans": [{ "spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "n",
        "attributes": [{ "key": "a", "value": to_json(value) }],
    }]}]}]})
}

fn decoded_attribute(body: &[u8]) -> Result<Vec<u8>, String> {
    let request = provgraph_otlp::decode_trace_request_json(body).map_err(|e| e.to_string())?;
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    Ok(prost::Message::encode_to_vec(&span.attributes[0]))
}

proptest! {
    #![proptest_config(config(1000))]

    /// An AnyValue tree written as OTLP/JSON decodes to the same tree
    /// (compared as protobuf bytes, so that NaN equals NaN).
    #[test]
    fn any_value_trees_decode_to_what_was_encoded(value in any_value()) {
        let body = serde_json::to_vec(&request_with(&value)).expect("json");
        let expected = prost::Message::encode_to_vec(&KeyValue {
            key: "a".into(),
            value: Some(value),
            ..KeyValue::default()
        });
        prop_assert_eq!(decoded_attribute(&body), Ok(expected));
        provgraph_fuzz::otlp_json(&body);
    }
}

/// Nesting is accepted up to the limit and refused past it.
#[test]
fn any_value_nesting_limit() {
    for depth in 1..=provgraph_otlp::MAX_ANY_VALUE_DEPTH + 3 {
        let mut value = AnyValue {
            value: Some(Any::StringValue("leaf".into())),
        };
        for _ in 1..depth {
            value = AnyValue {
                value: Some(Any::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        let body = serde_json::to_vec(&request_with(&value)).expect("json");
        let decoded = decoded_attribute(&body);
        assert_eq!(
            decoded.is_ok(),
            depth <= provgraph_otlp::MAX_ANY_VALUE_DEPTH,
            "depth {depth}: {decoded:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Extraction
// ---------------------------------------------------------------------------

/// The attribute names extraction reads, and a few it does not.
const NAMES: &[&str] = &[
    "cicd.pipeline.run.id",
    "build.id",
    "ci.pipeline.id",
    "ci.pipeline.run.number",
    "cicd.pipeline.name",
    "vcs.ref.head.revision",
    "vcs.repository.url.full",
    "vcs.repository.name",
    "vcs.owner.name",
    "vcs.provider.name",
    "vcs.ref.head.name",
    "github.repository",
    "service.namespace",
    "service.version",
    "go.mod.hash",
    "go.mod.requires",
    "go.mod.requires.indirect",
    "go.module.path",
    "oci.manifest.digest",
    "container.image.repo_digests",
    "container.image.name",
    "container.image.tags",
    "service.name",
    "k8s.namespace.name",
    "k8s.deployment.name",
    "deployment.environment.name",
    "unrelated",
];

fn attribute_value() -> impl Strategy<Value = AnyValue> {
    let text = prop_oneof![
        key_text(),
        "[a-z]{1,8}/[a-z]{1,8}",
        "[a-z.]{1,12}/[a-z]{1,8}@(sha256:)?[0-9a-f]{64}",
        "[a-z./]{1,16}@v[0-9.]{1,8}",
    ];
    prop_oneof![
        4 => text.clone().prop_map(|s| Some(Any::StringValue(s))),
        1 => any::<i64>().prop_map(|i| Some(Any::IntValue(i))),
        1 => any::<bool>().prop_map(|b| Some(Any::BoolValue(b))),
        1 => prop::collection::vec(text, 0..4).prop_map(|items| {
            Some(Any::ArrayValue(ArrayValue {
                values: items
                    .into_iter()
                    .map(|s| AnyValue { value: Some(Any::StringValue(s)) })
                    .collect(),
            }))
        }),
        1 => Just(None),
    ]
    .prop_map(|value| AnyValue { value })
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec((prop::sample::select(NAMES), attribute_value()), 0..10).prop_map(
        |pairs| {
            pairs
                .into_iter()
                .map(|(key, value)| KeyValue {
                    key: key.to_string(),
                    value: Some(value),
                    ..KeyValue::default()
                })
                .collect()
        },
    )
}

fn request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let span = (
        prop_oneof![Just(vec![0xab; 16]), Just(vec![0; 16]), Just(vec![1; 3])],
        prop_oneof![Just(vec![0x01; 8]), Just(vec![0x02; 8]), Just(vec![])],
        attributes(),
    )
        .prop_map(|(trace_id, span_id, attributes)| Span {
            trace_id,
            span_id,
            name: "step".into(),
            attributes,
            ..Span::default()
        });
    let resource_spans =
        (attributes(), prop::collection::vec(span, 0..4)).prop_map(|(attributes, spans)| {
            ResourceSpans {
                resource: Some(Resource {
                    attributes,
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }
        });
    prop::collection::vec(resource_spans, 0..3)
        .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
}

proptest! {
    #![proptest_config(config(1500))]

    /// Extraction over attribute sets made of the names it reads: every key
    /// it yields (and every node derivation makes of it) is normalized and
    /// within the limit; a protobuf round trip extracts the same facts.
    #[test]
    fn extraction_yields_only_normalized_keys(request in request()) {
        provgraph_fuzz::check_request(&request);
    }
}
