//! Fuzz target bodies, shared by the libFuzzer targets in `fuzz/` and by the
//! corpus replay test (`tests/fuzz/corpus_replay.rs`), which runs every
//! corpus and regression input through them in the normal `cargo test`.
//!
//! Each target takes arbitrary bytes, feeds them to the functions the server
//! calls on untrusted input, and must never panic. Beyond "no panic", each
//! asserts invariants (a failed assertion is a crash to the fuzzer):
//!
//! - every node key that extraction and derivation produce is a fixed point
//!   of its kind's normalization (`kind.normalize(key) == Ok(key)`), so at
//!   most [`MAX_KEY_LEN`] bytes and reachable by a query naming it;
//! - key normalization is idempotent for every kind;
//! - a decoded OTLP request survives a protobuf round trip, and extraction
//!   gives the same facts either way (the gRPC and JSON paths agree);
//! - evidence names only canonical `sha256:` subjects, verification answers
//!   once per subject, and nothing unverified is trusted or carries signed
//!   claims;
//! - SBOM packages are sorted, unique, and valid keys of their kind;
//! - a trust policy's exact identity rules allow the identity they name;
//! - identifiers (`Digest`, `CommitSha`, `TraceId`, `traceparent`) that
//!   parse are canonical, and image index entries carry canonical digests;
//! - vulnerability documents (`vuln`): what parses has identifiers and
//!   canonical digests, recognition and parsing agree, matching does not
//!   depend on how a Go version is written, versions are totally ordered;
//! - Notary Project envelopes (`notary_jws`, `notary_cose`): what parses
//!   names a well-formed digest; verification answers for the digest asked
//!   about, in one line, and never trusts what it did not verify;
//! - lineage pictures (`picture`): every subgraph draws as well-formed SVG,
//!   DOT and Mermaid, each node and edge accounted for once.
//!
//! See docs/fuzzing.md.

pub mod notary;
pub mod picture;
pub mod vuln;

use std::path::Path;
use std::sync::OnceLock;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use provgraph_model::keys::{MAX_KEY_LEN, NodeKind, WorkloadIdentity};
use provgraph_model::sbom::{SbomPackages, node_of_purl, sbom_packages};
use provgraph_model::{
    CommitSha, Derived, Digest, Extraction, Mapping, TraceId, Traceparent, extract_with,
    parse_image_index,
};
use provgraph_signatures::{
    SubjectMatcher, TrustPolicy, parse_evidence, slsa_summary, verify_evidence,
};
use serde::Deserialize;
use serde_json::Value;

/// One fuzz target: its name (the directory under `fuzz/corpus/` and
/// `fuzz/regressions/`, and the libFuzzer binary) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    ("otlp_json", otlp_json),
    ("otlp_protobuf", otlp_protobuf),
    ("keys", keys),
    ("evidence", evidence),
    ("sbom", sbom),
    ("trust_policy", trust_policy),
    ("image_index", image_index),
    ("osv", vuln::osv),
    ("trivy", vuln::trivy),
    ("grype", vuln::grype),
    ("govulncheck", vuln::govulncheck),
    ("openvex", vuln::openvex),
    ("versions", vuln::versions),
    ("picture", picture::picture),
    ("notary_jws", notary::notary_jws),
    ("notary_cose", notary::notary_cose),
];

/// The artifact digest the evidence target passes as `?digest=`.
pub const FUZZ_DIGEST: &str =
    "sha256:6d1f0c2b9e8a7d6c5b4a39281706f5e4d3c2b1a0998877665544332211ffeedd";

/// The public key the evidence target's policy trusts (its private half
/// signed the key-signed seeds; it is not kept).
pub const FUZZ_KEY_PEM: &str = include_str!("../fixtures/key.pem");

/// The keyless identity the evidence target's policy trusts.
pub const FUZZ_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const FUZZ_SUBJECT: &str =
    "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main";

/// The directory trust-policy inputs resolve relative paths against: holds
/// `key.pem` (a P-256 public key) and `root.json` (not a trusted root).
pub fn fixtures_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))
}

// ---------------------------------------------------------------------------
// OTLP
// ---------------------------------------------------------------------------

/// OTLP/JSON, as `POST /v1/traces` with `application/json` decodes it, then
/// extraction and derivation; and as `POST /v1/metrics` and `/v1/logs`
/// decode it (resources only), then sighting extraction.
pub fn otlp_json(data: &[u8]) {
    let cost = provgraph_otlp::cost::json_cost(data, &UNLIMITED);
    if let Ok(request) = provgraph_otlp::decode_trace_request_json(data) {
        check_request(&request);
        // The estimate covers at least the decoded spans: counting before
        // decoding never lets more memory through than it charges.
        let spans = span_count(&request);
        let cost = cost.expect("no limits");
        assert!(cost.decoded_bytes >= spans * std::mem::size_of::<Span>());
    }
    if let Ok(resources) = provgraph_otlp::decode_metrics_resources_json(data) {
        check_resources(&resources);
    }
    if let Ok(resources) = provgraph_otlp::decode_logs_resources_json(data) {
        check_resources(&resources);
    }
}

/// OTLP protobuf, as the gRPC and HTTP/protobuf receivers decode it (prost),
/// then extraction and derivation; the same bytes as a metrics and as a logs
/// request, read for their resources.
pub fn otlp_protobuf(data: &[u8]) {
    use provgraph_otlp::cost::{RequestKind, protobuf_cost};
    if let Ok(request) = ExportTraceServiceRequest::decode(data) {
        check_request(&request);
        // What prost decodes, the count before decoding saw: every span and
        // resource, and at least their memory.
        let cost = protobuf_cost(RequestKind::Traces, data, &UNLIMITED).expect("no limits");
        let spans = span_count(&request);
        assert_eq!(cost.items, spans);
        assert_eq!(cost.resources, request.resource_spans.len());
        assert!(cost.decoded_bytes >= spans * std::mem::size_of::<Span>());
    }
    for kind in [RequestKind::Metrics, RequestKind::Logs] {
        let _ = protobuf_cost(kind, data, &UNLIMITED);
    }
    if let Ok(request) = ExportMetricsServiceRequest::decode(data) {
        check_resources(&provgraph_otlp::metrics_resources(request));
    }
    if let Ok(request) = ExportLogsServiceRequest::decode(data) {
        check_resources(&provgraph_otlp::logs_resources(request));
    }
}

/// Request limits no input reaches, for counting alone.
const UNLIMITED: provgraph_otlp::cost::RequestLimits = provgraph_otlp::cost::RequestLimits {
    max_resources: usize::MAX,
    max_items: usize::MAX,
    max_attributes: usize::MAX,
    max_decoded_bytes: usize::MAX,
};

fn span_count(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

/// Sighting extraction over the resources of a metrics or logs request: the
/// counts add up, every sighting names a valid workload and valid digests.
pub fn check_resources(resources: &[provgraph_otlp::ResourceItems]) {
    let extraction = provgraph_model::extract_resources(
        resources.iter().map(|r| (r.attributes.as_slice(), r.items)),
    );
    let items: u64 = resources.iter().map(|r| r.items).sum();
    assert_eq!(extraction.spans_seen, items);
    assert!(extraction.rejected_spans <= extraction.spans_seen);
    assert!(extraction.facts.is_empty());
    assert!(extraction.sightings.len() <= resources.len());
    assert!(extraction.problems.len() <= provgraph_model::extract::MAX_PROBLEMS_KEPT);
    assert_eq!(
        extraction.error_message().is_some(),
        extraction.problem_count > 0
    );
    for sighting in &extraction.sightings {
        assert!(!sighting.images.is_empty());
        check_key(NodeKind::Workload, &sighting.workload.key());
        for image in &sighting.images {
            check_key(NodeKind::Artifact, &image.digest);
        }
        let mut derived = Derived::default();
        let pairs = derived.add_sighting(sighting);
        assert_eq!(pairs.len(), sighting.images.len());
    }
}

fn mapping() -> &'static Mapping {
    static MAPPING: OnceLock<Mapping> = OnceLock::new();
    MAPPING.get_or_init(Mapping::default)
}

/// Extracts `request` (as the collector's export path does) and checks the
/// extraction; re-encodes it as protobuf and checks that the decoded copy
/// extracts to the same facts.
pub fn check_request(request: &ExportTraceServiceRequest) {
    let extraction = extract_with(request, mapping());
    check_extraction(&extraction);

    let bytes = request.encode_to_vec();
    let again = ExportTraceServiceRequest::decode(bytes.as_slice())
        .expect("a request prost encoded decodes again");
    assert_eq!(
        again.encode_to_vec(),
        bytes,
        "protobuf round trip changed the request"
    );
    let extraction_again = extract_with(&again, mapping());
    assert_eq!(extraction.facts, extraction_again.facts);
    assert_eq!(extraction.spans_seen, extraction_again.spans_seen);
    assert_eq!(extraction.rejected_spans, extraction_again.rejected_spans);
    assert_eq!(extraction.problems, extraction_again.problems);
}

/// The invariants of one extraction, and of what derivation makes of it.
pub fn check_extraction(extraction: &Extraction) {
    assert!(extraction.facts.len() as u64 <= extraction.spans_seen);
    assert!(extraction.rejected_spans <= extraction.spans_seen);
    assert!(extraction.problems.len() <= provgraph_model::extract::MAX_PROBLEMS_KEPT);
    assert!(extraction.problems.len() as u64 <= extraction.problem_count);
    assert_eq!(
        extraction.error_message().is_some(),
        extraction.problem_count > 0
    );
    for facts in &extraction.facts {
        assert!(
            facts.trace_id.len() == 32 && is_lower_hex(&facts.trace_id),
            "trace id {:?}",
            facts.trace_id
        );
        assert!(
            facts.span_id.is_empty() || (facts.span_id.len() == 16 && is_lower_hex(&facts.span_id)),
            "span id {:?}",
            facts.span_id
        );
        assert!(
            !facts.is_empty(),
            "an extraction keeps only facts that say something"
        );
        if let Some(build) = &facts.build_id {
            check_key(NodeKind::Build, &build.key);
        }
        for (kind, key) in [
            (NodeKind::Commit, &facts.commit),
            (NodeKind::Repository, &facts.repository),
            (NodeKind::Gomod, &facts.gomod),
        ] {
            if let Some(key) = key {
                check_key(kind, key);
            }
        }
        for module in facts.requires.iter().chain(&facts.requires_indirect) {
            check_key(NodeKind::Module, module);
        }
        for image in facts.produced.iter().chain(&facts.runs_in) {
            check_key(NodeKind::Artifact, &image.digest);
        }
        // Derivation, as the store does it: under the span's own build, and
        // (for a sighting) as a workload.
        let mut derived = Derived::default();
        let build = facts.build_choice();
        derived.add(facts, build.as_ref());
        derived.add(facts, None);
        derived.normalize();
        for node in derived
            .nodes
            .iter()
            .chain(derived.edges.iter().flat_map(|e| [&e.from, &e.to]))
            .chain(derived.attrs.iter().map(|a| &a.node))
        {
            check_key(node.kind, &node.key);
        }
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `key` is a valid, normalized key of `kind`: normalizing it again gives
/// it back (so it is at most [`MAX_KEY_LEN`] bytes and a query naming it
/// finds it).
pub fn check_key(kind: NodeKind, key: &str) {
    match kind.normalize(key) {
        Ok(again) => assert_eq!(again, key, "{kind} key is not normalized"),
        Err(err) => panic!("{kind} key {key:?} does not normalize again: {err}"),
    }
    assert!(
        key.len() <= MAX_KEY_LEN,
        "{kind} key of {} bytes",
        key.len()
    );
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/// Key normalization of every kind over the input as text (the GraphQL
/// resolvers normalize query keys with the same functions), purls, and
/// workload identities made of the input's lines.
pub fn keys(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for kind in NodeKind::ALL {
        if let Ok(key) = kind.normalize(&text) {
            check_key(kind, &key);
        }
    }
    if let Some((kind, key)) = node_of_purl(&text) {
        assert!(matches!(kind, NodeKind::Module | NodeKind::Package));
        check_key(kind, &key);
    }
    ids(&text);
    let shortened = provgraph_model::keys::shorten(&text, 40);
    assert!(shortened.chars().count() <= 41);

    let mut lines = text.splitn(3, '\n');
    let part = |p: Option<&str>| p.filter(|p| !p.is_empty()).map(str::to_string);
    let identity = WorkloadIdentity {
        environment: part(lines.next()),
        namespace: part(lines.next()),
        name: lines.next().unwrap_or_default().to_string(),
        cluster: None,
    };
    let key = identity.key();
    assert_eq!(key.split('/').count(), 3, "workload key {key:?}");
    let plain = |p: &str| !p.chars().any(char::is_control);
    if key.len() <= MAX_KEY_LEN
        && identity.environment.as_deref().is_none_or(plain)
        && identity.namespace.as_deref().is_none_or(plain)
        && plain(&identity.name)
    {
        check_key(NodeKind::Workload, &key);
    }
}

/// The identifier newtypes over the input as text: whatever parses is
/// canonical (parsing its text gives it back) and names the same bytes.
pub fn ids(text: &str) {
    if let Ok(digest) = Digest::parse(text) {
        assert_eq!(Digest::parse(digest.as_str()).as_ref(), Ok(&digest));
        assert_eq!(Digest::from_sha256(digest.bytes()), digest);
        assert_eq!(digest.as_str(), text.to_ascii_lowercase());
    }
    if let Ok(commit) = CommitSha::parse(text) {
        assert_eq!(CommitSha::parse(commit.as_str()).as_ref(), Ok(&commit));
    }
    if let Ok(trace) = TraceId::parse(text) {
        assert_eq!(TraceId::from_bytes(trace.bytes()).as_ref(), Some(&trace));
    }
    if let Ok(parent) = Traceparent::parse(text) {
        assert_eq!(
            Traceparent::parse(&parent.to_string()).as_ref(),
            Ok(&parent)
        );
        assert_eq!(
            TraceId::from_id_or_traceparent(text).as_ref(),
            Some(&parent.trace_id)
        );
    }
}

// ---------------------------------------------------------------------------
// Image indexes

/// An image index as `POST /v1/index`, `provgraph emit --oci-index` and
/// registry discovery read it: entries keep their order, every digest is
/// canonical, platforms are `os/arch[/variant]`.
pub fn image_index(data: &[u8]) {
    let Ok(entries) = parse_image_index(data) else {
        return;
    };
    for entry in &entries {
        assert_eq!(
            Digest::parse(entry.digest.as_str()).as_ref(),
            Ok(&entry.digest)
        );
        if let Some(platform) = &entry.platform {
            let parts = platform.split('/').count();
            assert!((2..).contains(&parts), "platform {platform:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Evidence and SBOMs
// ---------------------------------------------------------------------------

/// The policy the evidence target verifies against: the built-in
/// production root, the fixture key, and one keyless identity.
pub fn policy() -> &'static TrustPolicy {
    static POLICY: OnceLock<TrustPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        TrustPolicy::default()
            .with_key("fuzz", FUZZ_KEY_PEM)
            .expect("the fixture key is a P-256 public key")
            .with_identity(FUZZ_ISSUER, SubjectMatcher::Exact(FUZZ_SUBJECT.into()))
    })
}

/// A body posted to `/v1/evidence`, read as `provgraph_evidence::import`
/// reads it: UTF-8, then a bare SBOM, else evidence (a Sigstore bundle or a
/// cosign layer), parsed without and with `?digest=`, each verified against
/// [`policy`], with the SBOM and SLSA readers over its predicate.
pub fn evidence(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(document) = serde_json::from_str::<Value>(text)
        && let Some(sbom) = sbom_packages(&document)
    {
        check_sbom(&sbom);
        return;
    }
    for digest in [None, Some(FUZZ_DIGEST)] {
        let evidence = match parse_evidence(text.as_bytes(), digest) {
            Ok(evidence) => evidence,
            Err(err) => {
                // Refused for a limit only when past it (issue #13).
                if err.is_too_large() {
                    assert!(err.to_string().contains("subjects"), "{err}");
                }
                continue;
            }
        };
        for item in &evidence {
            // The cap on subjects per envelope holds (the given digest may
            // add one), and subjects are unique.
            assert!(
                item.subjects.len() <= provgraph_signatures::MAX_SUBJECTS + 1,
                "{} subjects",
                item.subjects.len()
            );
            let unique: std::collections::HashSet<&String> = item.subjects.iter().collect();
            assert_eq!(unique.len(), item.subjects.len(), "duplicate subjects");
            assert!(
                item.evidence_id.len() == 64 && is_lower_hex(&item.evidence_id),
                "evidence id {:?}",
                item.evidence_id
            );
            assert!(!item.subjects.is_empty(), "evidence without a subject");
            for subject in &item.subjects {
                assert_eq!(
                    provgraph_model::Digest::parse(subject).ok().as_deref(),
                    Some(subject.as_str()),
                    "subject is not canonical"
                );
            }
            if let Some(digest) = digest {
                assert!(item.subjects.iter().any(|s| s == digest));
            }
            if let Some(predicate) = item.predicate() {
                if let Some(sbom) = sbom_packages(predicate) {
                    check_sbom(&sbom);
                }
                if let Some(predicate_type) = &item.predicate_type {
                    let _ = slsa_summary(predicate_type, predicate);
                }
            }
            let results = verify_evidence(item, policy());
            assert_eq!(results.len(), item.subjects.len());
            for (result, subject) in results.iter().zip(&item.subjects) {
                assert_eq!(&result.subject, subject);
                assert_eq!(result.evidence_id, item.evidence_id);
                assert!(!result.reason.contains('\n'), "reason is one line");
                assert!(!result.trusted || result.verified, "trusted but unverified");
                if !result.verified {
                    assert!(result.certificate.is_none() && result.slsa.is_none());
                    assert!(result.annotations.is_none() && result.signed_at.is_none());
                }
            }
        }
    }
}

/// An SBOM document (SPDX or CycloneDX JSON), as the evidence import reads
/// one (bare or as an attestation's predicate).
pub fn sbom(data: &[u8]) {
    let Ok(document) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let format = provgraph_model::sbom::sbom_format(&document);
    let packages = sbom_packages(&document);
    assert_eq!(format, packages.as_ref().map(|p| p.format));
    if let Some(packages) = packages {
        check_sbom(&packages);
    }
}

/// Packages are sorted, unique, MODULE or PACKAGE, and valid keys.
pub fn check_sbom(sbom: &SbomPackages) {
    assert!(
        sbom.packages.windows(2).all(|w| w[0] < w[1]),
        "SBOM packages not sorted and unique"
    );
    for (kind, key) in &sbom.packages {
        assert!(matches!(kind, NodeKind::Module | NodeKind::Package));
        check_key(*kind, key);
    }
}

// ---------------------------------------------------------------------------
// Trust policy
// ---------------------------------------------------------------------------

/// The file names a policy reads (trusted root, key files): read before the
/// real parse so that the fuzzer reads no file outside [`fixtures_dir`].
/// Unknown fields are ignored, so this accepts every text the policy parser
/// accepts.
#[derive(Deserialize)]
struct PolicyPaths {
    trusted_root: Option<String>,
    #[serde(default)]
    keys: Vec<KeyPath>,
    notation_trust_policy: Option<String>,
    notation_trust_store: Option<String>,
}

#[derive(Deserialize)]
struct KeyPath {
    public_key: Option<String>,
}

fn fixture_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A trust-policy TOML file (`serve --trust-policy`), with relative paths
/// resolved in [`fixtures_dir`].
pub fn trust_policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(paths) = toml::from_str::<PolicyPaths>(text) {
        let names = paths
            .trusted_root
            .iter()
            .chain(paths.keys.iter().filter_map(|k| k.public_key.as_ref()))
            .chain(paths.notation_trust_policy.iter())
            .chain(paths.notation_trust_store.iter());
        if !names.into_iter().all(|name| fixture_name(name)) {
            return;
        }
    }
    let Ok(policy) = TrustPolicy::from_toml_str(text, fixtures_dir(), "fuzz.toml") else {
        return;
    };
    let names: Vec<&str> = policy.keys().iter().map(|k| k.name.as_str()).collect();
    for (at, name) in names.iter().enumerate() {
        assert!(!name.trim().is_empty(), "empty key name accepted");
        assert!(!names[..at].contains(name), "duplicate key name accepted");
    }
    for rule in policy.identities() {
        assert!(!rule.issuer.trim().is_empty(), "empty issuer accepted");
        if let SubjectMatcher::Exact(subject) = &rule.subject {
            assert!(policy.allowed_identity(&rule.issuer, subject).is_some());
        }
        let _ = policy.allowed_identity(&rule.issuer, "");
        let _ = policy.allowed_identity(&rule.issuer, &rule.issuer);
    }
}
