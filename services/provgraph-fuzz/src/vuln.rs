//! Fuzz bodies for the vulnerability documents (`provgraph-vuln`): one per
//! parser (OSV, Trivy, Grype, govulncheck, OpenVEX) and one for versions
//! and times.

use provgraph_vuln::{
    Document, Format, OsvRecord, ScanReport, Timestamp, Version, VexDocument, json_values,
    parse_as, parse_digest, parse_document, recognize,
};

/// Parses `data` as `format` (whatever its shape looks like) and, when the
/// shape is recognised as that format, checks `parse_document` agrees.
fn parse(data: &[u8], format: Format) -> Option<Document> {
    let values = json_values(data)?;
    let parsed = parse_as(format, &values);
    if recognize(&values) == Some(format) {
        let whole = parse_document(data);
        match (&parsed, whole) {
            (Ok(document), Ok(Some((found, again)))) => {
                assert_eq!(found, format);
                assert_eq!(*document, again, "parse_document disagrees with parse_as");
            }
            (Err(error), Err(again)) => assert_eq!(*error, again),
            (parsed, whole) => panic!("parse_as {parsed:?} but parse_document {whole:?}"),
        }
    }
    if let Err(error) = &parsed {
        let message = error.to_string();
        assert!(!message.is_empty());
        assert!(message.len() < 8192, "error messages are bounded");
    }
    parsed.ok()
}

fn check_identifier(text: &str) {
    assert!(!text.is_empty() && text.len() <= 256, "identifier {text:?}");
    assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control()));
}

fn check_digest(digest: &str) {
    assert_eq!(
        parse_digest(digest).as_deref(),
        Some(digest),
        "digest {digest:?}"
    );
}

/// Records have identifiers; matching never panics and does not depend on
/// the `v` a Go version is written with.
pub fn check_records(records: &[OsvRecord]) {
    for record in records {
        check_identifier(&record.id);
        record
            .aliases
            .iter()
            .for_each(|alias| check_identifier(alias));
        for affected in &record.affected {
            let key = affected.package_key();
            if let Some(key) = &key {
                assert!(!key.is_empty());
            }
            let mut versions: Vec<String> = affected.versions.clone();
            for range in &affected.ranges {
                versions.extend(range.events.iter().map(|event| event.version().to_string()));
            }
            for version in versions {
                let plain = version.trim_start_matches('v').to_string();
                let a = affected.affects(&plain);
                let b = affected.affects(&format!("v{plain}"));
                if affected.ecosystem == "Go" && Version::parse(&plain).is_some() {
                    assert_eq!(a, b, "{version}: v changes the answer");
                }
            }
        }
    }
}

fn check_scan(report: &ScanReport) {
    report.images.iter().for_each(|image| check_digest(image));
    assert!(report.images.windows(2).all(|w| w[0] < w[1]));
    for finding in &report.findings {
        check_identifier(&finding.vulnerability);
        finding
            .aliases
            .iter()
            .for_each(|alias| check_identifier(alias));
    }
    check_records(&report.records);
}

fn check_vex(vex: &VexDocument) {
    for statement in &vex.statements {
        check_identifier(&statement.vulnerability);
        assert!(statement.digests.windows(2).all(|w| w[0] < w[1]));
        statement
            .digests
            .iter()
            .for_each(|digest| check_digest(digest));
        assert_eq!(
            provgraph_vuln::VexStatus::parse(statement.status.as_str()),
            Some(statement.status)
        );
        if let Some(justification) = &statement.justification {
            assert!(provgraph_vuln::vex::JUSTIFICATIONS.contains(&justification.as_str()));
        }
    }
}

/// OSV records, as `POST /v1/evidence` and `provgraph import` read them.
pub fn osv(data: &[u8]) {
    if let Some(Document::Osv(records)) = parse(data, Format::Osv) {
        check_records(&records);
    }
}

/// Trivy JSON reports.
pub fn trivy(data: &[u8]) {
    if let Some(Document::Scan(report)) = parse(data, Format::Trivy) {
        check_scan(&report);
    }
}

/// Grype JSON reports.
pub fn grype(data: &[u8]) {
    if let Some(Document::Scan(report)) = parse(data, Format::Grype) {
        check_scan(&report);
    }
}

/// govulncheck JSON streams: findings unique per (vulnerability, module),
/// each with its level.
pub fn govulncheck(data: &[u8]) {
    if let Some(Document::Scan(report)) = parse(data, Format::Govulncheck) {
        check_scan(&report);
        for (i, finding) in report.findings.iter().enumerate() {
            assert!(finding.level.is_some());
            assert!(!report.findings[..i].iter().any(|other| {
                other.vulnerability == finding.vulnerability && other.package == finding.package
            }));
        }
    }
}

/// OpenVEX documents.
pub fn openvex(data: &[u8]) {
    if let Some(Document::Vex(vex)) = parse(data, Format::OpenVex) {
        check_vex(&vex);
    }
}

/// Versions and times, one per line: the order is total and consistent,
/// `v` changes nothing, zero is the least; a time and the same instant
/// written in UTC with a `Z` are equal.
pub fn versions(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.lines().take(16).collect();
    let parsed: Vec<Version> = lines
        .iter()
        .filter_map(|line| Version::parse(line))
        .collect();
    for line in &lines {
        let _ = Version::parse_go_release(line);
        if let Some(time) = Timestamp::parse(line) {
            assert!(time.nanos < 1_000_000_000, "{line}");
            // The same instant with `+00:00`, where that still fits the limit.
            if let Some(utc) = line
                .strip_suffix('Z')
                .filter(|utc| utc.len() + 6 <= Timestamp::MAX_LEN)
            {
                assert_eq!(
                    Timestamp::parse(&format!("{utc}+00:00")),
                    Some(time),
                    "{line}"
                );
            }
        }
        // `v` changes nothing, where the longer text still fits the limit.
        if let Some(version) = Version::parse(line)
            && !line.starts_with('v')
            && line.len() < provgraph_vuln::version::MAX_VERSION_LEN
        {
            assert_eq!(Version::parse(&format!("v{line}")), Some(version));
        }
    }
    for a in &parsed {
        assert!(Version::zero() < *a);
        for b in &parsed {
            assert_eq!(a.cmp(b), b.cmp(a).reverse());
            for c in &parsed {
                if a <= b && b <= c {
                    assert!(a <= c, "order is not transitive");
                }
            }
        }
    }
}
