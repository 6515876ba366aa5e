//! The page of one node, `GET /ui/KIND/KEY`: its lineage drawn upstream
//! and downstream (inline SVG, each node a link to its page), its facts,
//! for an artifact the audit verdict with the evidence chain, the workloads
//! running it or anything built from it, and its vulnerabilities.
//!
//! Everything shown comes from one GraphQL query run by the schema (with
//! its limits), as `GET /v1/lineage` does, so page, pictures and API
//! cannot differ.

use std::fmt::Write;

use async_graphql::{Request, Variables};
use axum::http::StatusCode;
use provgraph_model::NodeKind;
use provgraph_picture::SvgOptions;
use serde_json::Value;

use super::html::{esc, key_link, node_href, node_link, query_value};
use crate::ApiState;

/// Kinds GraphQL `impact` takes.
const IMPACT_KINDS: [NodeKind; 8] = [
    NodeKind::Commit,
    NodeKind::Repository,
    NodeKind::Gomod,
    NodeKind::Module,
    NodeKind::Package,
    NodeKind::Build,
    NodeKind::Artifact,
    NodeKind::Vulnerability,
];

/// Images and workloads listed at most (the page says when there are more).
pub const LISTED: usize = 200;

const SUBGRAPH: &str = "fragment picture on Subgraph { nodes { kind key } \
    edges { kind support from { kind key } to { kind key } } truncated }";

/// The GraphQL query of a node's page.
fn query(kind: NodeKind) -> String {
    let mut fields = String::from(
        "node(kind: $kind, key: $key) { kind key firstSeen lastSeen attributes { name value } }
  up: lineage(kind: $kind, key: $key, direction: UPSTREAM) { ...picture }
  down: lineage(kind: $kind, key: $key, direction: DOWNSTREAM) { ...picture }\n",
    );
    if IMPACT_KINDS.contains(&kind) {
        let _ = writeln!(
            fields,
            "  impact(kind: $kind, key: $key, first: {LISTED}) {{ artifacts {{ digest \
             vulnerabilities {{ id summary }} }} workloads {{ key firstSeen lastSeen }} \
             pageInfo {{ hasNextPage }} }}"
        );
    }
    match kind {
        NodeKind::Artifact => fields.push_str(
            "  audit(digest: $key) { verdict summary signedByTrustedSigner sourceProven claimsCorroborated
    coveredThroughIndexes conflicts { kind claimed proven }
    signatures { verified trusted signer issuer reason method predicateType sourceRepository sourceCommit integratedTime subject }
    chain { edges { kind support from { kind key } to { kind key }
      evidence { kind traceId sender principal lastSeen traceUrl }
      proofs { origin signature { signer verified trusted } } } } }
  artifact(digest: $key) { names tags platform
    vulnerabilities { id summary severity { type score } findings { source subject level }
      vexStatus { status justification } } }\n",
        ),
        NodeKind::Vulnerability => fields.push_str(
            "  vulnerability(id: $key) { id aliases summary severity { type score } references modified
    withdrawn proven vex { digest status justification inForce timestamp } }\n",
        ),
        NodeKind::Workload => fields.push_str(
            "  workload(key: $key) { firstSeen lastSeen sightings { digest firstSeen lastSeen count } }\n",
        ),
        _ => {}
    }
    format!("query($kind: NodeKind!, $key: String!) {{\n  {fields}}}\n{SUBGRAPH}\n")
}

/// What the page's query answered: the data, or why it could not.
pub enum Answer {
    Data(Value),
    /// The node is not in the graph (a vulnerability: under no id or alias).
    Unknown,
    /// A vulnerability asked by an alias or in another case: its id.
    Alias(String),
    Failed(StatusCode, String),
}

/// Runs the page's query for (`kind`, normalized `key`).
pub async fn load(state: &ApiState, kind: NodeKind, key: &str) -> Answer {
    let request = Request::new(query(kind)).variables(Variables::from_json(
        serde_json::json!({ "kind": kind.as_str(), "key": key }),
    ));
    let answer = match crate::execute_limited(state, request, tokio::time::Instant::now()).await {
        Ok(answer) => answer,
        Err(refused) => {
            return Answer::Failed(
                refused.status(),
                "too many queries at once: try again".into(),
            );
        }
    };
    if let Some(error) = answer.errors.first() {
        return Answer::Failed(StatusCode::SERVICE_UNAVAILABLE, error.message.clone());
    }
    let data = answer.data.into_json().unwrap_or(Value::Null);
    if data["node"].is_null() {
        if let Some(id) = data["vulnerability"]["id"].as_str() {
            return Answer::Alias(id.to_string());
        }
        return Answer::Unknown;
    }
    Answer::Data(data)
}

fn s<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or("")
}

fn list<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value[field].as_array().map_or(&[], Vec::as_slice)
}

/// A time as the page shows it: RFC 3339 to the second, UTC.
pub fn when(text: &str) -> String {
    let short = match (text.find('.'), text.ends_with('Z')) {
        (Some(dot), true) => format!("{}Z", &text[..dot]),
        _ => text.to_string(),
    };
    format!(
        "<time datetime=\"{}\">{}</time>",
        esc(text),
        esc(&short.replace('T', " "))
    )
}

/// The page body for `data`.
pub fn render(kind: NodeKind, key: &str, data: &Value) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let (fill, stroke) = provgraph_picture::colours(kind);
    let _ = writeln!(
        out,
        "<h1><span class=\"kind\" style=\"background:{fill};border-color:{stroke};color:{stroke}\">{}</span>\
         <span class=\"key\">{}</span></h1>",
        kind.as_str(),
        esc(key)
    );
    let href = node_href(kind.as_str(), key);
    let _ = writeln!(
        out,
        "<p class=\"row muted\"><span>Link: <a href=\"{0}\" class=\"key\">{0}</a></span>\
         <button class=\"quiet\" type=\"button\" data-copy=\"{0}\">copy link</button></p>",
        esc(&href)
    );
    if kind == NodeKind::Artifact {
        verdict(&mut out, &data["audit"]);
    }
    out.push_str("<div class=\"grid\">\n");
    facts(&mut out, kind, data);
    running(&mut out, kind, data);
    out.push_str("</div>\n");
    vulnerabilities(&mut out, kind, data);
    picture(
        &mut out,
        kind,
        key,
        "Upstream: what it was made from",
        "UPSTREAM",
        &data["up"],
    );
    picture(
        &mut out,
        kind,
        key,
        "Downstream: what was made from it, and runs it",
        "DOWNSTREAM",
        &data["down"],
    );
    if kind == NodeKind::Artifact {
        chain(&mut out, &data["audit"]);
        signatures(&mut out, &data["audit"]);
    }
    out
}

fn verdict(out: &mut String, audit: &Value) {
    let name = s(audit, "verdict");
    let flag = |value: &Value| {
        if value.as_bool() == Some(true) {
            "<span class=\"yes\">yes</span>"
        } else {
            "<span class=\"no\">no</span>"
        }
    };
    let _ = write!(
        out,
        "<section class=\"card\" id=\"audit\"><h2>Audit verdict</h2>\
         <p class=\"row\"><span class=\"verdict {name}\" data-verdict=\"{name}\">{name}</span>\
         <span>{}</span></p>\
         <p class=\"row muted\"><span>signed by a trusted signer: {}</span><span>source proven: {}</span>\
         <span>claims corroborated: {}</span></p>",
        esc(s(audit, "summary")),
        flag(&audit["signedByTrustedSigner"]),
        flag(&audit["sourceProven"]),
        flag(&audit["claimsCorroborated"]),
    );
    let conflicts = list(audit, "conflicts");
    if !conflicts.is_empty() {
        out.push_str("<table><tr><th>conflict</th><th>spans claim</th><th>proofs say</th></tr>");
        for conflict in conflicts {
            let join = |field| {
                list(conflict, field)
                    .iter()
                    .filter_map(Value::as_str)
                    .map(esc)
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
                esc(s(conflict, "kind")),
                join("claimed"),
                join("proven")
            );
        }
        out.push_str("</table>");
    }
    let indexes = list(audit, "coveredThroughIndexes");
    if !indexes.is_empty() {
        out.push_str("<p class=\"muted\">Covered through the image indexes ");
        let links: Vec<String> = indexes
            .iter()
            .filter_map(Value::as_str)
            .map(|digest| key_link("ARTIFACT", digest))
            .collect();
        out.push_str(&links.join(", "));
        out.push_str("</p>");
    }
    out.push_str("</section>\n");
}

fn facts(out: &mut String, kind: NodeKind, data: &Value) {
    let node = &data["node"];
    out.push_str("<section class=\"card\" id=\"facts\"><h2>Facts</h2><table>");
    let mut row = |name: &str, value: String| {
        let _ = write!(out, "<tr><th>{}</th><td>{value}</td></tr>", esc(name));
    };
    row("first seen", when(s(node, "firstSeen")));
    row("last seen", when(s(node, "lastSeen")));
    for attribute in list(node, "attributes") {
        row(
            s(attribute, "name"),
            format!("<span class=\"key\">{}</span>", esc(s(attribute, "value"))),
        );
    }
    match kind {
        NodeKind::Artifact => {
            if let Some(platform) = data["artifact"]["platform"].as_str() {
                row("platform", esc(platform));
            }
        }
        NodeKind::Vulnerability => {
            let vuln = &data["vulnerability"];
            if let Some(summary) = vuln["summary"].as_str() {
                row("summary", esc(summary));
            }
            let aliases: Vec<String> = list(vuln, "aliases")
                .iter()
                .filter_map(Value::as_str)
                .map(|alias| key_link("VULNERABILITY", alias))
                .collect();
            if !aliases.is_empty() {
                row("aliases", aliases.join(", "));
            }
            for severity in list(vuln, "severity") {
                row(
                    "severity",
                    format!(
                        "{} <span class=\"key\">{}</span>",
                        esc(s(severity, "type")),
                        esc(s(severity, "score"))
                    ),
                );
            }
            if let Some(modified) = vuln["modified"].as_str() {
                row("modified", when(modified));
            }
            if let Some(withdrawn) = vuln["withdrawn"].as_str() {
                row("withdrawn", when(withdrawn));
            }
            row(
                "record",
                if vuln["proven"].as_bool() == Some(true) {
                    "proven (signed)"
                } else {
                    "claimed (posted bare)"
                }
                .into(),
            );
            for reference in list(vuln, "references")
                .iter()
                .filter_map(Value::as_str)
                .take(10)
            {
                // A link to follow, never something the page loads.
                row(
                    "reference",
                    format!(
                        "<a class=\"key\" rel=\"noreferrer noopener\" href=\"{0}\">{0}</a>",
                        esc(reference)
                    ),
                );
            }
        }
        _ => {}
    }
    out.push_str("</table></section>\n");
}

fn running(out: &mut String, kind: NodeKind, data: &Value) {
    if kind == NodeKind::Workload {
        out.push_str(
            "<section class=\"card\" id=\"running\"><h2>Images it was seen running</h2>\
             <table><tr><th>image</th><th>first seen</th><th>last seen</th><th>sightings</th></tr>",
        );
        for sighting in list(&data["workload"], "sightings") {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                key_link("ARTIFACT", s(sighting, "digest")),
                when(s(sighting, "firstSeen")),
                when(s(sighting, "lastSeen")),
                sighting["count"].as_i64().unwrap_or(0)
            );
        }
        out.push_str("</table></section>\n");
        return;
    }
    if !IMPACT_KINDS.contains(&kind) {
        return;
    }
    let impact = &data["impact"];
    let more = impact["pageInfo"]["hasNextPage"].as_bool() == Some(true);
    let workloads = list(impact, "workloads");
    let artifacts = list(impact, "artifacts");
    let what = if kind == NodeKind::Artifact {
        "running it or an image built from it"
    } else {
        "running an image built from it"
    };
    let _ = write!(
        out,
        "<section class=\"card\" id=\"running\"><h2>Workloads {what}</h2>"
    );
    if workloads.is_empty() {
        out.push_str("<p class=\"muted\">None seen.</p>");
    } else {
        out.push_str("<table><tr><th>workload</th><th>last seen</th><th>first seen</th></tr>");
        for workload in workloads {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                key_link("WORKLOAD", s(workload, "key")),
                when(s(workload, "lastSeen")),
                when(s(workload, "firstSeen"))
            );
        }
        out.push_str("</table>");
    }
    let images: Vec<&str> = artifacts.iter().map(|a| s(a, "digest")).collect();
    if kind != NodeKind::Artifact || images.len() > 1 {
        let _ = write!(
            out,
            "<h2 style=\"margin-top:1rem\">Images ({}{})</h2><ul class=\"plain\">",
            images.len(),
            if more { "+" } else { "" }
        );
        for digest in &images {
            let _ = write!(out, "<li>{}</li>", key_link("ARTIFACT", digest));
        }
        out.push_str("</ul>");
    }
    if more {
        let _ = write!(
            out,
            "<p class=\"muted\">The first {LISTED} only: GraphQL <code>impact</code> pages the rest.</p>"
        );
    }
    out.push_str("</section>\n");
}

fn vulnerabilities(out: &mut String, kind: NodeKind, data: &Value) {
    match kind {
        NodeKind::Artifact => {
            let vulns = list(&data["artifact"], "vulnerabilities");
            let _ = write!(
                out,
                "<section class=\"card\" id=\"vulnerabilities\"><h2>Vulnerabilities ({})</h2>",
                vulns.len()
            );
            if vulns.is_empty() {
                out.push_str("<p class=\"muted\">None known.</p>");
            } else {
                out.push_str(
                    "<table><tr><th>id</th><th>summary</th><th>found by</th><th>VEX</th></tr>",
                );
                for vuln in vulns {
                    let found: Vec<String> = list(vuln, "findings")
                        .iter()
                        .map(|f| {
                            let level = f["level"]
                                .as_str()
                                .map(|l| format!(" ({l})"))
                                .unwrap_or_default();
                            esc(&format!("{}: {}{level}", s(f, "source"), s(f, "subject")))
                        })
                        .collect();
                    let vex = match vuln["vexStatus"]["status"].as_str() {
                        Some(status) => esc(&format!(
                            "{status}{}",
                            vuln["vexStatus"]["justification"]
                                .as_str()
                                .map(|j| format!(": {j}"))
                                .unwrap_or_default()
                        )),
                        None => "—".into(),
                    };
                    let _ = write!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{vex}</td></tr>",
                        key_link("VULNERABILITY", s(vuln, "id")),
                        esc(s(vuln, "summary")),
                        found.join("<br>")
                    );
                }
                out.push_str("</table>");
            }
            out.push_str("</section>\n");
        }
        NodeKind::Vulnerability => {
            let vex = list(&data["vulnerability"], "vex");
            let _ = write!(
                out,
                "<section class=\"card\" id=\"vex\"><h2>VEX statements ({})</h2>",
                vex.len()
            );
            if !vex.is_empty() {
                out.push_str("<table><tr><th>image</th><th>status</th><th>justification</th><th>time</th><th>in force</th></tr>");
                for statement in vex {
                    let _ = write!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        key_link("ARTIFACT", s(statement, "digest")),
                        esc(s(statement, "status")),
                        esc(s(statement, "justification")),
                        when(s(statement, "timestamp")),
                        if statement["inForce"].as_bool() == Some(true) {
                            "yes"
                        } else {
                            "no"
                        }
                    );
                }
                out.push_str("</table>");
            }
            out.push_str("</section>\n");
        }
        kind if IMPACT_KINDS.contains(&kind) => {
            // The vulnerabilities of the images built from it, by id.
            let mut by_id: Vec<(String, String, Vec<String>)> = Vec::new();
            for artifact in list(&data["impact"], "artifacts") {
                for vuln in list(artifact, "vulnerabilities") {
                    let id = s(vuln, "id").to_string();
                    match by_id.iter_mut().find(|(known, _, _)| *known == id) {
                        Some((_, _, images)) => images.push(s(artifact, "digest").to_string()),
                        None => by_id.push((
                            id,
                            s(vuln, "summary").to_string(),
                            vec![s(artifact, "digest").to_string()],
                        )),
                    }
                }
            }
            let _ = write!(
                out,
                "<section class=\"card\" id=\"vulnerabilities\"><h2>Vulnerabilities of the images built from it ({})</h2>",
                by_id.len()
            );
            if by_id.is_empty() {
                out.push_str("<p class=\"muted\">None known.</p>");
            } else {
                out.push_str("<table><tr><th>id</th><th>summary</th><th>images</th></tr>");
                for (id, summary, images) in &by_id {
                    let links: Vec<String> =
                        images.iter().map(|d| key_link("ARTIFACT", d)).collect();
                    let _ = write!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        key_link("VULNERABILITY", id),
                        esc(summary),
                        links.join("<br>")
                    );
                }
                out.push_str("</table>");
            }
            out.push_str("</section>\n");
        }
        _ => {}
    }
}

fn picture(
    out: &mut String,
    kind: NodeKind,
    key: &str,
    title: &str,
    direction: &str,
    lineage: &Value,
) {
    let lower = direction.to_ascii_lowercase();
    let _ = write!(
        out,
        "<section class=\"card\" id=\"{lower}\"><h2>{}</h2>",
        esc(title)
    );
    let query = format!(
        "/v1/lineage?kind={}&key={}&direction={direction}",
        kind.as_str(),
        query_value(key)
    );
    match crate::picture::subgraph(lineage) {
        Some(subgraph) if subgraph.edges.is_empty() => {
            out.push_str("<p class=\"muted\">Nothing ");
            out.push_str(if direction == "UPSTREAM" {
                "upstream."
            } else {
                "downstream."
            });
            out.push_str("</p>");
        }
        Some(subgraph) => {
            let svg = provgraph_picture::render_svg(
                &subgraph,
                &SvgOptions {
                    link_base: Some("/ui/".into()),
                    id_prefix: format!("{lower}-"),
                },
            );
            let _ = write!(
                out,
                "<div class=\"picture\" data-direction=\"{direction}\">{svg}</div>\
                 <p class=\"formats muted\">{} nodes, {} edges{}. The same picture as \
                 <a href=\"{q}&amp;format=svg\">SVG</a>, <a href=\"{q}&amp;format=dot\">DOT</a>, \
                 <a href=\"{q}&amp;format=mermaid\">Mermaid</a>, <a href=\"{q}&amp;format=json\">JSON</a>.</p>",
                subgraph.nodes.len(),
                subgraph.edges.len(),
                if subgraph.truncated {
                    ", cut at the node limit"
                } else {
                    ""
                },
                q = esc(&query),
            );
        }
        None => out.push_str("<p class=\"muted\">The lineage answer was not understood.</p>"),
    }
    out.push_str("</section>\n");
}

fn chain(out: &mut String, audit: &Value) {
    let edges = list(&audit["chain"], "edges");
    let _ = write!(
        out,
        "<section class=\"card\" id=\"chain\"><h2>Evidence chain ({} edges)</h2>",
        edges.len()
    );
    if edges.is_empty() {
        out.push_str("<p class=\"muted\">Nothing upstream.</p></section>\n");
        return;
    }
    out.push_str("<table><tr><th>edge</th><th>support</th><th>claimed by (spans, SBOMs)</th><th>proven by</th></tr>");
    for edge in edges {
        let end = |node: &Value| {
            node_link(
                s(node, "kind"),
                s(node, "key"),
                &format!("{} {}", s(node, "kind"), short(s(node, "key"))),
            )
        };
        let claims: Vec<String> = list(edge, "evidence")
            .iter()
            .map(|e| {
                let who = match e["principal"].as_str() {
                    Some(principal) => format!("{} ({principal})", s(e, "sender")),
                    None => s(e, "sender").to_string(),
                };
                let trace = match e["traceUrl"].as_str() {
                    Some(url) => format!(
                        " <a rel=\"noreferrer noopener\" href=\"{}\">trace</a>",
                        esc(url)
                    ),
                    None => String::new(),
                };
                format!(
                    "{} {} <span class=\"key\">{}</span>{trace}",
                    esc(s(e, "kind")),
                    esc(&who),
                    esc(short(s(e, "traceId")))
                )
            })
            .collect();
        let proofs: Vec<String> = list(edge, "proofs")
            .iter()
            .map(|p| {
                let signature = &p["signature"];
                let state = match (
                    signature["verified"].as_bool(),
                    signature["trusted"].as_bool(),
                ) {
                    (Some(true), Some(true)) => "trusted",
                    (Some(true), _) => "verified, untrusted",
                    _ => "not verified",
                };
                esc(&format!(
                    "{} by {} ({state})",
                    s(p, "origin"),
                    signature["signer"].as_str().unwrap_or("?")
                ))
            })
            .collect();
        let support = s(edge, "support");
        let _ = write!(
            out,
            "<tr><td>{} <span class=\"muted\">{}</span> {}</td><td><span class=\"support {support}\">{support}</span></td>\
             <td>{}</td><td>{}</td></tr>",
            end(&edge["from"]),
            esc(s(edge, "kind")),
            end(&edge["to"]),
            if claims.is_empty() {
                "—".into()
            } else {
                claims.join("<br>")
            },
            if proofs.is_empty() {
                "—".into()
            } else {
                proofs.join("<br>")
            },
        );
    }
    out.push_str("</table></section>\n");
}

fn signatures(out: &mut String, audit: &Value) {
    let signatures = list(audit, "signatures");
    let _ = write!(
        out,
        "<section class=\"card\" id=\"signatures\"><h2>Signatures and attestations ({})</h2>",
        signatures.len()
    );
    if signatures.is_empty() {
        out.push_str("<p class=\"muted\">None stored.</p></section>\n");
        return;
    }
    out.push_str(
        "<table><tr><th>signer</th><th>state</th><th>what</th><th>source</th><th>why</th></tr>",
    );
    for signature in signatures {
        let state = match (
            signature["verified"].as_bool(),
            signature["trusted"].as_bool(),
        ) {
            (Some(true), Some(true)) => "<span class=\"yes\">trusted</span>",
            (Some(true), _) => "verified, untrusted",
            _ => "<span class=\"no\">not verified</span>",
        };
        let what = signature["predicateType"]
            .as_str()
            .unwrap_or(s(signature, "method"));
        let source = match (
            signature["sourceRepository"].as_str(),
            signature["sourceCommit"].as_str(),
        ) {
            (Some(repo), Some(commit)) => format!("{} @ {}", esc(repo), esc(short(commit))),
            (Some(repo), None) => esc(repo),
            (None, Some(commit)) => esc(short(commit)),
            (None, None) => "—".into(),
        };
        let _ = write!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{state}</td><td class=\"mono\">{}</td><td class=\"mono\">{source}</td><td>{}</td></tr>",
            esc(signature["signer"].as_str().unwrap_or("?")),
            esc(what),
            esc(s(signature, "reason")),
        );
    }
    out.push_str("</table></section>\n");
}

/// A digest or SHA cut to 12 hex digits, as the pictures show it.
fn short(key: &str) -> &str {
    let hex_from =
        |at: usize| key.len() > at + 12 && key.as_bytes()[at..].iter().all(u8::is_ascii_hexdigit);
    if key.starts_with("sha256:") && hex_from(7) {
        &key[..19]
    } else if hex_from(0) {
        &key[..12]
    } else {
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_as_pictures_show_them() {
        assert_eq!(
            short(&format!("sha256:{}", "a".repeat(64))),
            "sha256:aaaaaaaaaaaa"
        );
        assert_eq!(short(&"b".repeat(40)), "bbbbbbbbbbbb");
        assert_eq!(short("github.com/acme/calc"), "github.com/acme/calc");
        assert_eq!(
            when("2026-12-07T17:00:00.123Z"),
            "<time datetime=\"2026-12-07T17:00:00.123Z\">2026-12-07 17:00:00Z</time>"
        );
    }
}
