//! The documents as the real tools and databases publish them, written
//! field for field (shapes checked against golang/vulndb's data/osv,
//! aquasecurity/trivy's and anchore/grype's JSON reports, golang/vuln's
//! govulncheck -json streams and the OpenVEX v0.2.0 specification), and
//! the version matching of real advisories' ranges. The documents live in
//! `testdata/` (GO-2023-2102 in `examples/vulns/`, for the README), where
//! the end-to-end tests read them too.

use provgraph_vuln::{
    Document, FindingLevel, Format, OsvRecord, RangeKind, Scanner, Subject, Timestamp, VexStatus,
    parse_document,
};
use serde_json::{Value, json};

const IMAGE: &str = "sha256:4e8f7a3c2b1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f";

/// GO-2023-2102 as the Go vulnerability database serves it.
fn go_2023_2102() -> Value {
    fixture(include_str!("../../../examples/vulns/GO-2023-2102.json"))
}

/// A document of `testdata/` (shared with the end-to-end tests).
fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("testdata is JSON")
}

fn parse(value: &Value) -> (Format, Document) {
    parse_document(value.to_string().as_bytes())
        .expect("parses")
        .expect("recognised")
}

fn osv(value: &Value) -> Vec<OsvRecord> {
    match parse(value) {
        (Format::Osv, Document::Osv(records)) => records,
        other => panic!("not OSV: {other:?}"),
    }
}

fn refused(body: &str) -> String {
    match parse_document(body.as_bytes()) {
        Err(error) => error.to_string(),
        Ok(other) => panic!("accepted: {other:?}"),
    }
}

#[test]
fn an_osv_record_as_the_go_database_publishes_it() {
    let records = osv(&go_2023_2102());
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.id, "GO-2023-2102");
    assert_eq!(
        record.aliases,
        ["CVE-2023-44487", "CVE-2023-39325", "GHSA-4374-p667-p6c8"]
    );
    assert_eq!(record.modified, Timestamp::parse("2024-05-20T20:09:03Z"));
    assert_eq!(
        record.summary.as_deref(),
        Some("HTTP/2 rapid reset can cause excessive work in net/http")
    );
    assert_eq!(record.references.len(), 3);
    assert_eq!(record.references[1].kind, "FIX");
    assert_eq!(record.affected.len(), 2);
    assert_eq!(record.affected[0].name, "stdlib");
    assert_eq!(record.affected[0].imports, ["net/http"]);
    assert_eq!(record.affected[1].ranges[0].kind, RangeKind::Semver);
    assert_eq!(record.affected[1].ranges[0].events.len(), 2);
    assert_eq!(
        record.affected[1].package_key().as_deref(),
        Some("golang.org/x/net")
    );

    // An array of records, as osv.dev's query batch and exports give them.
    let mut second = go_2023_2102();
    second["id"] = json!("GO-2024-2687");
    second["aliases"] = json!(["CVE-2023-45288", "GHSA-4v7x-pqxf-cx7m"]);
    let records = osv(&json!([go_2023_2102(), second]));
    assert_eq!(
        records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["GO-2023-2102", "GO-2024-2687"]
    );
}

#[test]
fn malformed_osv_is_refused_whole_saying_where() {
    let mut no_id = go_2023_2102();
    no_id.as_object_mut().unwrap().remove("id");
    let message = refused(&no_id.to_string());
    assert!(message.contains("\"id\" is missing"), "{message}");

    let mut bad_range = go_2023_2102();
    bad_range["affected"][1]["ranges"][0]["events"][1] = json!({"fixed": "0.17.x"});
    let message = refused(&json!([go_2023_2102(), bad_range]).to_string());
    assert!(
        message.contains("[1] (GO-2023-2102).affected[1].ranges[0].events[1].fixed"),
        "{message}"
    );
    assert!(message.contains("not a semantic version"), "{message}");

    let mut two_keys = go_2023_2102();
    two_keys["affected"][1]["ranges"][0]["events"][1] =
        json!({"fixed": "0.17.0", "limit": "1.0.0"});
    assert!(refused(&two_keys.to_string()).contains("exactly one of"));

    let mut bad_type = go_2023_2102();
    bad_type["affected"][0]["ranges"][0]["type"] = json!("SEMVERS");
    assert!(refused(&bad_type.to_string()).contains("not a range type"));

    let mut bad_modified = go_2023_2102();
    bad_modified["modified"] = json!("yesterday");
    assert!(
        refused(&bad_modified.to_string())
            .contains("modified: \"yesterday\" is not an RFC 3339 time")
    );
}

/// `trivy image --format json ghcr.io/acme/calc@sha256:...` on an image
/// with a Go binary.
fn trivy_report() -> Value {
    fixture(include_str!("../testdata/trivy.json"))
}

/// `grype -o json ghcr.io/acme/calc@sha256:...`.
fn grype_report() -> Value {
    fixture(include_str!("../testdata/grype.json"))
}

/// `govulncheck -json ./...`: indented messages, one key each.
const GOVULNCHECK: &str = include_str!("../testdata/govulncheck.json");

/// An OpenVEX v0.2.0 document as vexctl writes it, products as images.
fn openvex() -> Value {
    fixture(include_str!("../testdata/openvex.json"))
}

#[test]
fn a_trivy_report() {
    let (format, document) = parse(&trivy_report());
    assert_eq!(format, Format::Trivy);
    let Document::Scan(report) = document else {
        panic!("{document:?}")
    };
    assert_eq!(report.scanner, Scanner::Trivy);
    assert_eq!(report.images, [IMAGE]);
    assert_eq!(report.findings.len(), 2);
    let net = &report.findings[0];
    assert_eq!(net.vulnerability, "CVE-2023-44487");
    assert_eq!(net.package.as_deref(), Some("golang.org/x/net"));
    assert_eq!(net.version.as_deref(), Some("v0.15.0"));
    assert_eq!(
        net.purl.as_deref(),
        Some("pkg:golang/golang.org/x/net@v0.15.0")
    );
    assert_eq!(net.fixed_version.as_deref(), Some("0.17.0"));
    assert_eq!(net.severity.as_deref(), Some("HIGH"));

    let mut missing = trivy_report();
    missing["Results"][1]["Vulnerabilities"][1]
        .as_object_mut()
        .unwrap()
        .remove("VulnerabilityID");
    let message = refused(&missing.to_string());
    assert_eq!(
        message,
        "Trivy report.Results[1].Vulnerabilities[1]: \"VulnerabilityID\" is missing"
    );
}

#[test]
fn a_grype_report() {
    let (format, document) = parse(&grype_report());
    assert_eq!(format, Format::Grype);
    let Document::Scan(report) = document else {
        panic!("{document:?}")
    };
    assert_eq!(report.scanner_version.as_deref(), Some("0.74.0"));
    // repoDigests name the image; manifestDigest only when they do not.
    assert_eq!(report.images, [IMAGE]);
    let finding = &report.findings[0];
    assert_eq!(finding.vulnerability, "GHSA-4374-p667-p6c8");
    assert_eq!(finding.aliases, ["CVE-2023-39325"]);
    assert_eq!(finding.fixed_version.as_deref(), Some("0.17.0"));

    let mut no_repo = grype_report();
    no_repo["source"]["target"]["repoDigests"] = json!([]);
    let Document::Scan(report) = parse(&no_repo).1 else {
        panic!()
    };
    assert_eq!(
        report.images,
        ["sha256:1111111111111111111111111111111111111111111111111111111111111111"]
    );

    let mut no_id = grype_report();
    no_id["matches"][0]["vulnerability"]
        .as_object_mut()
        .unwrap()
        .remove("id");
    assert_eq!(
        refused(&no_id.to_string()),
        "Grype report.matches[0].vulnerability: \"id\" is missing"
    );
}

#[test]
fn a_govulncheck_stream_keeps_the_strongest_level() {
    let (format, document) = parse_document(GOVULNCHECK.as_bytes()).unwrap().unwrap();
    assert_eq!(format, Format::Govulncheck);
    let Document::Scan(report) = document else {
        panic!("{document:?}")
    };
    assert!(report.images.is_empty(), "govulncheck names no image");
    assert_eq!(report.scanner_version.as_deref(), Some("v1.1.3"));
    assert_eq!(report.records.len(), 1);
    assert_eq!(report.records[0].id, "GO-2023-2102");
    let levels: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.vulnerability.as_str(),
                f.package.as_deref(),
                f.version.as_deref(),
                f.level,
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            (
                "GO-2023-2102",
                Some("golang.org/x/net"),
                Some("v0.15.0"),
                Some(FindingLevel::Called)
            ),
            (
                "GO-2024-2687",
                Some("stdlib"),
                Some("v1.21.1"),
                Some(FindingLevel::Imported)
            ),
        ]
    );
    // Only required: the module level.
    let required = GOVULNCHECK
        .split("{\n  \"finding\"")
        .take(2)
        .collect::<Vec<_>>()
        .join("{\n  \"finding\"");
    let Document::Scan(report) = parse_document(required.as_bytes()).unwrap().unwrap().1 else {
        panic!()
    };
    assert_eq!(report.findings[0].level, Some(FindingLevel::Required));

    let broken = GOVULNCHECK.replace("\"osv\": \"GO-2024-2687\",", "");
    assert!(
        refused(&broken).contains("\"osv\" is missing"),
        "{}",
        refused(&broken)
    );
    let no_trace = GOVULNCHECK.replace(
        "\"trace\": [\n      {\"module\": \"stdlib\", \"version\": \"v1.21.1\", \"package\": \"net/http\"}\n    ]",
        "\"trace\": []",
    );
    assert!(
        refused(&no_trace).contains("at least one frame"),
        "{}",
        refused(&no_trace)
    );
}

#[test]
fn an_openvex_document() {
    let (format, document) = parse(&openvex());
    assert_eq!(format, Format::OpenVex);
    let Document::Vex(vex) = document else {
        panic!("{document:?}")
    };
    assert_eq!(
        vex.author.as_deref(),
        Some("Acme Security <security@acme.example>")
    );
    assert_eq!(vex.skipped_products, 1, "the Go module names no image");
    let first = &vex.statements[0];
    assert_eq!(first.vulnerability, "CVE-2023-44487");
    assert_eq!(first.aliases, ["GO-2023-2102"]);
    assert_eq!(first.status, VexStatus::NotAffected);
    assert!(first.status.rules_out());
    assert_eq!(
        first.justification.as_deref(),
        Some("vulnerable_code_not_in_execute_path")
    );
    assert_eq!(
        first.digests,
        [
            "sha256:2222222222222222222222222222222222222222222222222222222222222222",
            "sha256:3333333333333333333333333333333333333333333333333333333333333333",
            IMAGE,
        ]
    );
    assert_eq!(first.timestamp, Timestamp::parse("2024-10-16T08:05:00Z"));
    // A statement without its own timestamp has the document's.
    let second = &vex.statements[1];
    assert_eq!(second.status, VexStatus::UnderInvestigation);
    assert!(!second.status.rules_out());
    assert_eq!(second.timestamp, Timestamp::parse("2024-10-16T08:00:00Z"));

    let mut bad = openvex();
    bad["statements"][1]["products"][0]["@id"] = json!("pkg:oci/calc@sha256%3Aabc123");
    assert_eq!(
        refused(&bad.to_string()),
        "OpenVEX document.statements[1].products[0].@id: \"pkg:oci/calc@sha256%3Aabc123\" names an image digest that does not parse"
    );
    let mut status = openvex();
    status["statements"][0]["status"] = json!("notaffected");
    assert!(refused(&status.to_string()).contains("is not a status"));
    let mut justification = openvex();
    justification["statements"][0]["justification"] = json!("because");
    assert!(refused(&justification.to_string()).contains("not an OpenVEX justification"));
}

#[test]
fn other_documents_are_not_recognised() {
    for body in [
        "not json",
        "{}",
        "[]",
        r#"{"spdxVersion": "SPDX-2.3", "packages": []}"#,
        r#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}"#,
        r#"{"payload": "e30=", "signature": "MEUCIQ=="}"#,
    ] {
        assert_eq!(parse_document(body.as_bytes()), Ok(None), "{body}");
    }
}

fn affects(record: &Value, package: usize, version: &str) -> bool {
    osv(record)[0].affected[package].affects(version)
}

#[test]
fn go_ranges_of_real_advisories() {
    let record = go_2023_2102();
    // golang.org/x/net: introduced 0, fixed 0.17.0.
    for (version, affected) in [
        ("v0.0.0-20190620200207-3b0461eec859", true),
        ("v0.15.0", true),
        ("v0.17.0-rc.1", true),
        ("v0.17.0", false),
        ("v0.17.1-0.20231012000000-abcdefabcdef", false),
        ("v0.16.1-0.20231010000000-abcdefabcdef", true),
        ("v0.18.0", false),
        ("v1.0.0", false),
    ] {
        assert_eq!(affects(&record, 1, version), affected, "x/net {version}");
    }
    // stdlib: [0, 1.20.10) and [1.21.0-0, 1.21.3), against Go releases.
    for (release, affected) in [
        ("go1.19.13", true),
        ("go1.20.9", true),
        ("go1.20.10", false),
        ("go1.20.11", false),
        ("go1.21rc2", true),
        ("go1.21.0", true),
        ("v1.21.2", true),
        ("1.21.3", false),
        ("go1.22.0", false),
    ] {
        assert_eq!(affects(&record, 0, release), affected, "stdlib {release}");
    }
}

#[test]
fn last_affected_limit_versions_and_incompatible() {
    let record = json!({
      "id": "GHSA-test-0000-0000",
      "modified": "2024-01-01T00:00:00Z",
      "affected": [
        {"package": {"ecosystem": "Go", "name": "github.com/docker/docker"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "26.0.2"}]}]},
        {"package": {"ecosystem": "Go", "name": "example.com/lib"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.2.0"}, {"last_affected": "1.4.1"}, {"limit": "1.4.0"}]}],
         "versions": ["0.9.3"]},
        {"package": {"ecosystem": "npm", "name": "lodash", "purl": "pkg:npm/lodash"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]},
        {"package": {"ecosystem": "PyPI", "name": "Jinja2"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.3"}]}],
         "versions": ["3.1.2"]}
      ]
    });
    assert!(affects(&record, 0, "v26.0.1+incompatible"));
    assert!(!affects(&record, 0, "v26.0.2+incompatible"));
    assert!(affects(&record, 1, "v1.2.0"));
    assert!(affects(&record, 1, "v1.3.9"));
    assert!(!affects(&record, 1, "v1.4.0"), "limit");
    assert!(!affects(&record, 1, "v1.1.9"));
    assert!(affects(&record, 1, "v0.9.3"), "listed");
    assert!(!affects(&record, 1, "v0.9.4"));
    assert!(affects(&record, 2, "4.17.20"));
    assert!(!affects(&record, 2, "4.17.21"));
    // PyPI's own order is not evaluated: only listed versions match.
    assert!(affects(&record, 3, "3.1.2"));
    assert!(!affects(&record, 3, "3.1.1"));
    assert!(!affects(&record, 0, "not-a-version"));

    let keys: Vec<_> = osv(&record)[0]
        .affected
        .iter()
        .map(|a| a.package_key())
        .collect();
    assert_eq!(
        keys,
        [
            Some("github.com/docker/docker".to_string()),
            Some("example.com/lib".to_string()),
            Some("pkg:npm/lodash".to_string()),
            Some("pkg:pypi/jinja2".to_string()),
        ]
    );
    let last_affected = json!({"id": "X-1", "affected": [{"package": {"ecosystem": "Go", "name": "m"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"last_affected": "1.4.1"}]}]}]});
    assert!(affects(&last_affected, 0, "v1.4.1"));
    assert!(!affects(&last_affected, 0, "v1.4.2"));
}

#[test]
fn graph_subjects() {
    assert_eq!(
        Subject::of_module("golang.org/x/net@v0.15.0"),
        Some(Subject {
            package: "golang.org/x/net".into(),
            version: "v0.15.0".into()
        })
    );
    assert_eq!(Subject::of_module("golang.org/x/net@latest"), None);
    assert_eq!(
        Subject::of_purl("pkg:npm/%40angular/core@16.2.1?arch=x"),
        Some(Subject {
            package: "pkg:npm/@angular/core".into(),
            version: "16.2.1".into()
        })
    );
    assert_eq!(
        Subject::of_purl("pkg:pypi/Jinja2@3.1.2"),
        Some(Subject {
            package: "pkg:pypi/jinja2".into(),
            version: "3.1.2".into()
        })
    );
    assert_eq!(
        Subject::of_go_release("go1.21.3").map(|s| s.package),
        Some("stdlib".into())
    );
    assert_eq!(
        Subject::of_go_release("1.22"),
        None,
        "a language version is not a release"
    );
    assert!(Subject::of_go_release("go1.22rc1").is_some());
}
