//! Table-driven extraction tests over real attribute sets: the contract's
//! names, older semantic-convention names, and what real exporters send.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use provgraph_model::{BuildIdSource, SpanFacts, extract};

enum V {
    S(&'static str),
    I(i64),
    A(&'static [&'static str]),
    B(bool),
}

fn kv(attrs: &[(&str, V)]) -> Vec<KeyValue> {
    attrs
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.to_string(),
            value: Some(AnyValue {
                value: Some(match value {
                    V::S(s) => Value::StringValue(s.to_string()),
                    V::I(i) => Value::IntValue(*i),
                    V::B(b) => Value::BoolValue(*b),
                    V::A(items) => Value::ArrayValue(ArrayValue {
                        values: items
                            .iter()
                            .map(|s| AnyValue {
                                value: Some(Value::StringValue(s.to_string())),
                            })
                            .collect(),
                    }),
                }),
            }),
            ..Default::default()
        })
        .collect()
}

fn request(resource: &[(&str, V)], span: &[(&str, V)]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: kv(resource),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![0xAB; 16],
                    span_id: vec![0x01; 8],
                    name: "build".into(),
                    attributes: kv(span),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const HEX: &str = "9999999999999999999999999999999999999999999999999999999999999999";

/// Extracts one span and checks it with `check`; also checks how many
/// problems were reported.
fn check(
    name: &str,
    resource: &[(&str, V)],
    span: &[(&str, V)],
    problems: u64,
    check: impl Fn(&SpanFacts),
) {
    let extraction = extract(&request(resource, span));
    assert_eq!(extraction.spans_seen, 1, "{name}");
    assert_eq!(
        extraction.problem_count, problems,
        "{name}: {:?}",
        extraction.problems
    );
    assert_eq!(extraction.rejected_spans, problems.min(1), "{name}");
    assert_eq!(extraction.facts.len(), 1, "{name}: {:?}", extraction.facts);
    check(&extraction.facts[0]);
}

#[test]
fn contract_names_on_span_and_resource() {
    check(
        "all on the span",
        &[("service.name", V::S("ci"))],
        &[
            ("cicd.pipeline.run.id", V::S("run-7")),
            ("cicd.pipeline.name", V::S("release")),
            (
                "vcs.ref.head.revision",
                V::S("0123456789ABCDEF0123456789ABCDEF01234567"),
            ),
            (
                "vcs.repository.url.full",
                V::S("https://github.com/Acme/Calc.git"),
            ),
            ("vcs.ref.head.name", V::S("main")),
            ("go.mod.hash", V::S(HEX)),
            ("oci.manifest.digest", V::S(DIGEST)),
            ("container.image.name", V::S("ghcr.io/acme/calc")),
            ("container.image.tags", V::A(&["v1.2.3", "latest"])),
        ],
        0,
        |f| {
            assert_eq!(f.sender, "ci");
            let build = f.build_id.as_ref().unwrap();
            assert_eq!(
                (build.source, build.key.as_str()),
                (BuildIdSource::PipelineRunId, "run-7")
            );
            assert_eq!(f.pipeline.as_deref(), Some("release"));
            assert_eq!(f.commit.as_deref(), Some(SHA));
            assert_eq!(f.repository.as_deref(), Some("github.com/acme/calc"));
            assert_eq!(f.branch.as_deref(), Some("main"));
            assert_eq!(f.gomod.as_deref(), Some(format!("sha256:{HEX}").as_str()));
            assert_eq!(f.produced.len(), 1);
            assert_eq!(f.produced[0].digest, DIGEST);
            assert_eq!(f.produced[0].names, vec!["ghcr.io/acme/calc"]);
            assert_eq!(f.produced[0].tags, vec!["latest", "v1.2.3"]);
            assert!(f.runs_in.is_empty());
        },
    );
    check(
        "build facts on the resource (CI/CD conventions put them there)",
        &[
            ("cicd.pipeline.run.id", V::S("55")),
            ("vcs.ref.head.revision", V::S(SHA)),
            (
                "vcs.repository.url.full",
                V::S("git@github.com:acme/calc.git"),
            ),
        ],
        &[],
        0,
        |f| {
            assert_eq!(f.build_id.as_ref().unwrap().key, "55");
            assert_eq!(f.commit.as_deref(), Some(SHA));
            assert_eq!(f.repository.as_deref(), Some("github.com/acme/calc"));
            assert!(
                f.produced.is_empty(),
                "a resource digest is never a product"
            );
        },
    );
}

#[test]
fn preference_order_and_older_names() {
    check(
        "build.id when there is no run id",
        &[],
        &[("build.id", V::S("b-1"))],
        0,
        |f| assert_eq!(f.build_id.as_ref().unwrap().source, BuildIdSource::BuildId),
    );
    check(
        "run id beats build.id",
        &[("build.id", V::S("b-1"))],
        &[("cicd.pipeline.run.id", V::S("r-1"))],
        0,
        |f| assert_eq!(f.build_id.as_ref().unwrap().key, "r-1"),
    );
    check(
        "semantic conventions <= 1.28",
        &[],
        &[
            ("vcs.repository.ref.revision", V::S(SHA)),
            ("vcs.repository.ref.name", V::S("release/1.x")),
        ],
        0,
        |f| {
            assert_eq!(f.commit.as_deref(), Some(SHA));
            assert_eq!(f.branch.as_deref(), Some("release/1.x"));
            assert!(f.build_id.is_none());
        },
    );
    check(
        "git.commit.sha is the last resort",
        &[],
        &[
            ("build.id", V::S("b-2")),
            ("git.commit.sha", V::S(SHA)),
            ("vcs.ref.head.revision", V::S("b")),
        ],
        1,
        |f| {
            assert_eq!(
                f.commit, None,
                "the preferred name wins, and its bad value is rejected"
            )
        },
    );
    check(
        "span overrides resource for the same name",
        &[("vcs.ref.head.name", V::S("from-resource"))],
        &[("vcs.ref.head.name", V::S("from-span"))],
        0,
        |f| assert_eq!(f.branch.as_deref(), Some("from-span")),
    );
    check(
        "older container.image.tag",
        &[],
        &[
            ("oci.manifest.digest", V::S(DIGEST)),
            ("container.image.tag", V::S("v9")),
        ],
        0,
        |f| assert_eq!(f.produced[0].tags, vec!["v9"]),
    );
}

#[test]
fn integer_run_ids_from_the_collector_github_receiver() {
    check(
        "cicd.pipeline.run.id as int",
        &[
            ("cicd.pipeline.run.id", V::I(12345678901)),
            ("vcs.ref.head.revision", V::S(SHA)),
        ],
        &[],
        0,
        |f| assert_eq!(f.build_id.as_ref().unwrap().key, "12345678901"),
    );
    check(
        "a boolean run id is rejected",
        &[],
        &[
            ("cicd.pipeline.run.id", V::B(true)),
            ("vcs.ref.head.revision", V::S(SHA)),
        ],
        1,
        |f| {
            assert!(f.build_id.is_none());
            assert_eq!(f.commit.as_deref(), Some(SHA), "the other facts are kept");
        },
    );
}

#[test]
fn repo_digests_on_span_are_products_on_resource_the_running_image() {
    check(
        "repo_digests on the span",
        &[],
        &[(
            "container.image.repo_digests",
            V::A(&[
                "ghcr.io/acme/calc@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "docker.io/acme/calc@sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "ghcr.io/acme/calc-debug@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            ]),
        )],
        0,
        |f| {
            assert_eq!(f.produced.len(), 2);
            assert_eq!(f.produced[0].digest, DIGEST);
            assert_eq!(
                f.produced[0].names,
                vec!["docker.io/acme/calc", "ghcr.io/acme/calc"]
            );
            assert_eq!(f.produced[1].digest, DIGEST_B);
        },
    );
    check(
        "a running service",
        &[
            ("service.name", V::S("calc-api")),
            ("k8s.namespace.name", V::S("payments")),
            ("k8s.deployment.name", V::S("calc")),
            ("deployment.environment.name", V::S("prod")),
            (
                "container.image.repo_digests",
                V::A(&[
                    "ghcr.io/acme/calc@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                ]),
            ),
        ],
        &[("http.route", V::S("/sum"))],
        0,
        |f| {
            assert!(!f.has_build_facts());
            assert_eq!(f.runs_in[0].digest, DIGEST);
            assert_eq!(f.span_id, "", "a bare sighting belongs to the trace");
            assert_eq!(f.workload.as_ref().unwrap().key(), "prod/payments/calc");
        },
    );
}

#[test]
fn malformed_values_are_rejected_and_counted() {
    check(
        "bad digest, bad commit, bad repository, bad gomod",
        &[],
        &[
            ("cicd.pipeline.run.id", V::S("r")),
            ("oci.manifest.digest", V::S("sha256:xyz")),
            ("vcs.ref.head.revision", V::S("not-a-sha")),
            ("vcs.repository.url.full", V::S("https://")),
            ("go.mod.hash", V::S("md5:00")),
            (
                "container.image.repo_digests",
                V::A(&["ghcr.io/x@sha256:1"]),
            ),
        ],
        5,
        |f| {
            assert_eq!(f.build_id.as_ref().unwrap().key, "r");
            assert!(
                f.produced.is_empty()
                    && f.commit.is_none()
                    && f.repository.is_none()
                    && f.gomod.is_none()
            );
        },
    );
}

#[test]
fn spans_with_bad_ids_are_rejected_whole() {
    let mut req = request(&[], &[("cicd.pipeline.run.id", V::S("r"))]);
    req.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1; 8];
    let extraction = extract(&req);
    assert_eq!(extraction.rejected_spans, 1);
    assert!(extraction.facts.is_empty());
    assert!(
        extraction
            .error_message()
            .unwrap()
            .contains("trace id must be 16 bytes")
    );
    let mut req = request(&[], &[("cicd.pipeline.run.id", V::S("r"))]);
    req.resource_spans[0].scope_spans[0].spans[0].span_id = vec![0; 8];
    assert_eq!(extract(&req).rejected_spans, 1);
}

#[test]
fn spans_without_facts_cost_nothing() {
    let extraction = extract(&request(
        &[("service.name", V::S("x"))],
        &[("http.route", V::S("/"))],
    ));
    assert_eq!(extraction.spans_seen, 1);
    assert!(extraction.facts.is_empty());
    assert_eq!(extraction.rejected_spans, 0);
}

#[test]
fn go_module_requirements_come_with_a_go_mod_hash() {
    check(
        "requirements beside the go.mod hash",
        &[],
        &[
            ("cicd.pipeline.run.id", V::S("r")),
            ("go.mod.hash", V::S(HEX)),
            ("go.module.path", V::S("github.com/acme/calc")),
            ("go.module.go_version", V::S("1.22")),
            (
                "go.mod.requires",
                V::A(&["golang.org/x/net@v0.17.0", "github.com/google/uuid@v1.6.0"]),
            ),
            (
                "go.mod.requires.indirect",
                V::A(&["golang.org/x/text@v0.14.0", "not a module"]),
            ),
        ],
        1,
        |f| {
            assert_eq!(f.go_module.as_deref(), Some("github.com/acme/calc"));
            assert_eq!(f.go_version.as_deref(), Some("1.22"));
            assert_eq!(
                f.requires,
                vec!["github.com/google/uuid@v1.6.0", "golang.org/x/net@v0.17.0"]
            );
            assert_eq!(f.requires_indirect, vec!["golang.org/x/text@v0.14.0"]);
        },
    );
    check(
        "requirements without a go.mod hash are refused",
        &[],
        &[
            ("cicd.pipeline.run.id", V::S("r")),
            ("go.mod.requires", V::A(&["golang.org/x/net@v0.17.0"])),
        ],
        1,
        |f| assert!(f.requires.is_empty()),
    );
}

/// Found by fuzzing (fuzz/regressions/otlp_protobuf/workload-control-character):
/// a workload whose key no query could name (a control character, or longer
/// than the key limit) is reported, not made a node.
#[test]
fn workloads_with_invalid_keys_are_problems() {
    let long: &'static str = "w".repeat(1100).leak();
    for (environment, name) in [("en\u{0}1", "svc"), ("prod", long)] {
        check(
            "invalid workload",
            &[
                ("service.name", V::S("svc")),
                ("deployment.environment.name", V::S(environment)),
                ("k8s.deployment.name", V::S(name)),
                ("container.image.repo_digests", V::A(&[DIGEST])),
            ],
            &[],
            1,
            |facts| {
                assert_eq!(facts.workload, None);
                assert_eq!(facts.runs_in.len(), 1);
            },
        );
    }
}

/// Resources of metrics and logs: who the workload is (the Kubernetes
/// controllers when there is no deployment, the cluster as a leading key
/// part), which image (`container.image.id` only as `NAME@sha256:`), and the
/// items under a resource with a bad value counted as rejected.
#[test]
fn resources_of_metrics_and_logs_are_sightings() {
    let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let repo = format!("ghcr.io/acme/db@{}", d('a'));
    let image_id = format!("ghcr.io/acme/db@{}", d('b'));
    let bare_id = d('c');
    struct Case {
        attrs: Vec<(&'static str, String)>,
        key: Option<&'static str>,
        digest: Option<String>,
        rejected: u64,
    }
    let cases = vec![
        Case {
            attrs: vec![
                ("service.name", "db".into()),
                ("k8s.statefulset.name", "db-set".into()),
                ("k8s.job.name", "db-job-1".into()),
                ("container.image.repo_digests", repo.clone()),
            ],
            key: Some("-/-/db-set"),
            digest: Some(d('a')),
            rejected: 0,
        },
        Case {
            attrs: vec![
                ("service.name", "backup".into()),
                ("k8s.cronjob.name", "nightly".into()),
                ("k8s.job.name", "nightly-2893".into()),
                ("k8s.cluster.name", "eu-1".into()),
                ("k8s.namespace.name", "ops".into()),
                ("container.image.id", image_id),
            ],
            key: Some("eu-1/-/ops/nightly"),
            digest: Some(d('b')),
            rejected: 0,
        },
        // Today's inputs keep today's keys.
        Case {
            attrs: vec![
                ("service.name", "calc".into()),
                ("k8s.deployment.name", "calc-api".into()),
                ("k8s.daemonset.name", "ignored".into()),
                ("deployment.environment.name", "prod".into()),
                ("oci.manifest.digest", d('a')),
            ],
            key: Some("prod/-/calc-api"),
            digest: Some(d('a')),
            rejected: 0,
        },
        // Docker's image id is a config digest: no sighting, no problem.
        Case {
            attrs: vec![
                ("service.name", "local".into()),
                ("container.image.id", bare_id),
            ],
            key: None,
            digest: None,
            rejected: 0,
        },
        Case {
            attrs: vec![
                ("service.name", "bad".into()),
                ("oci.manifest.digest", "sha256:12".into()),
            ],
            key: None,
            digest: None,
            rejected: 5,
        },
    ];
    for case in cases {
        let attrs: Vec<KeyValue> = case
            .attrs
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: Some(AnyValue {
                    value: Some(Value::StringValue(v.clone())),
                }),
                ..Default::default()
            })
            .collect();
        let out = provgraph_model::extract_resources([(attrs.as_slice(), 5)]);
        assert_eq!(out.spans_seen, 5);
        assert_eq!(out.rejected_spans, case.rejected, "{:?}", case.attrs);
        assert_eq!(out.error_message().is_some(), case.rejected > 0);
        assert!(out.facts.is_empty());
        match (case.key, &case.digest) {
            (Some(key), Some(digest)) => {
                assert_eq!(out.sightings.len(), 1, "{:?}", case.attrs);
                assert_eq!(out.sightings[0].workload.key(), key);
                assert_eq!(&out.sightings[0].images[0].digest, digest);
            }
            _ => assert!(out.sightings.is_empty(), "{:?}", out.sightings),
        }
    }
}

/// Issue #13, finding 5: values that are not keys (pipeline, branch,
/// `service.name`, go.mod's module path and go version, image names and
/// tags) are stored cut to 1,024 bytes at a character boundary, and an image
/// keeps at most 64 names and 64 tags; before, a 1 MiB value was stored
/// whole.
#[test]
fn long_values_are_cut_to_the_documented_length() {
    let huge: &'static str = Box::leak("é".repeat(512 * 1024).into_boxed_str());
    let tags: &'static [&'static str] = Box::leak(
        (0..1_000)
            .map(|i| &*Box::leak(format!("v{i}").into_boxed_str()))
            .collect::<Vec<&'static str>>()
            .into_boxed_slice(),
    );
    let request = request(
        &[("service.name", V::S(huge))],
        &[
            ("cicd.pipeline.name", V::S(huge)),
            ("vcs.ref.head.name", V::S(huge)),
            ("oci.manifest.digest", V::S(DIGEST)),
            ("container.image.name", V::S(huge)),
            ("container.image.tags", V::A(tags)),
        ],
    );
    let extraction = extract(&request);
    let facts = &extraction.facts[0];
    let within = |value: &str| value.len() <= 1024 && value.len() >= 1022;
    assert!(within(&facts.sender), "{}", facts.sender.len());
    assert!(within(facts.pipeline.as_deref().unwrap()));
    assert!(within(facts.branch.as_deref().unwrap()));
    let image = &facts.produced[0];
    assert!(image.names.iter().all(|name| within(name)));
    assert!(image.tags.len() <= 64, "{}", image.tags.len());
}
