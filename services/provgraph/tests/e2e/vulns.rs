//! Vulnerabilities and VEX end to end, on both databases: the README
//! walkthrough as written (a CVE alias leads to the running workloads; a
//! VEX statement removes one), and the documents as the real tools and
//! databases publish them (`provgraph-vuln/testdata`, `examples/vulns`):
//! an OSV record matched both ways, Trivy, Grype and govulncheck findings
//! with their level, OpenVEX statements superseded by later ones,
//! idempotent re-imports, and malformed documents refused whole.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::lineage::names as sorted;
use crate::support::Server;
use provgraph_store::testing::Flavor;
use serde_json::{Value, json};

/// The image the tools' fixtures scanned (`ghcr.io/acme/calc@...`).
const CALC: &str = "sha256:4e8f7a3c2b1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f";
/// The README's images.
const API: &str = "sha256:a1a1a1a1b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f60707070718181818";
const WORKER: &str = "sha256:5c5c5c5c6d6d6d6d7e7e7e7e8f8f8f8f909090900101010112121212a3a3a3a3";

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(repo_file(relative)).unwrap_or_else(|err| panic!("{relative}: {err}"))
}

/// POSTs a body to `/v1/evidence` (with `?digest=` when given); the status
/// and the JSON answer.
async fn evidence(server: &Server, body: Vec<u8>, digest: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/v1/evidence", server.api))
        .header("content-type", "application/json")
        .body(body);
    if let Some(digest) = digest {
        request = request.query(&[("digest", digest)]);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn stored(server: &Server, body: Vec<u8>, digest: Option<&str>) -> Value {
    let (status, answer) = evidence(server, body, digest).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

const VULN_FIELDS: &str = "id aliases summary severity { type score } artifacts { digest } workloads { key } \
     vex { digest status justification timestamp proven inForce }";

async fn vulnerability(server: &Server, id: &str) -> Value {
    server
        .data(&format!(
            "{{ vulnerability(id: \"{id}\") {{ {VULN_FIELDS} }} }}"
        ))
        .await["vulnerability"]
        .clone()
}

/// The README's "Vulnerabilities and VEX" section, command for command.
async fn readme_vulnerability_walkthrough(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    server.export_json(read("examples/vulns/builds.json")).await;
    server
        .export_json(read("examples/vulns/workloads.json"))
        .await;
    let answer = stored(&server, read("examples/vulns/GO-2023-2102.json"), None).await;
    assert_eq!(answer["format"], "OSV", "{answer}");
    assert_eq!(answer["recordsNew"], 1, "{answer}");
    // x/net v0.15.0 (one module node, both go.mod files require it) and
    // both go.mod files' Go 1.21.1 (the standard library range).
    assert_eq!(answer["matched"], 3, "{answer}");

    let found = vulnerability(&server, "cve-2023-39325").await;
    assert_eq!(found["id"], "GO-2023-2102", "{found}");
    assert!(
        found["aliases"]
            .as_array()
            .unwrap()
            .contains(&json!("CVE-2023-39325")),
        "{found}"
    );
    assert_eq!(sorted(&found["artifacts"], "digest"), [WORKER, API]);
    assert_eq!(
        sorted(&found["workloads"], "key"),
        ["prod/payments/calc-api", "prod/payments/calc-worker"]
    );

    let answer = stored(
        &server,
        read("examples/vulns/calc-worker.openvex.json"),
        None,
    )
    .await;
    assert_eq!(answer["statements"], 1, "{answer}");
    let found = vulnerability(&server, "GHSA-4374-p667-p6c8").await;
    assert_eq!(sorted(&found["artifacts"], "digest"), [API]);
    assert_eq!(
        sorted(&found["workloads"], "key"),
        ["prod/payments/calc-api"]
    );
    let statement = &found["vex"][0];
    assert_eq!(statement["digest"], WORKER);
    assert_eq!(statement["status"], "not_affected");
    assert_eq!(
        statement["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    assert_eq!(statement["proven"], false, "posted bare: a claim");
    let impact = server
        .data(
            "{ impact(kind: VULNERABILITY, key: \"CVE-2023-39325\") { artifacts { digest } workloads { key } } }",
        )
        .await;
    assert_eq!(sorted(&impact["impact"]["artifacts"], "digest"), [API]);
    assert_eq!(
        sorted(&impact["impact"]["workloads"], "key"),
        ["prod/payments/calc-api"]
    );
    server.stop().await;
}

/// A build of `image` whose go.mod (`gomod`, Go `go_version`) requires
/// `requires`, and a workload `name` running it, as OTLP/JSON.
async fn build_and_run(
    server: &Server,
    n: u32,
    image: &str,
    requires: &[&str],
    go_version: &str,
    name: &str,
) {
    let s = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
    let requires: Vec<Value> = requires.iter().map(|r| json!({"stringValue": r})).collect();
    let build = json!({"resourceSpans": [{"resource": {"attributes": [s("service.name", "ci")]},
        "scopeSpans": [{"spans": [{"traceId": format!("{:032x}", 0xb000 + n), "spanId": "0a0a0a0a0a0a0a0a", "name": "release",
        "attributes": [s("cicd.pipeline.run.id", &format!("run-{n}")), s("go.mod.hash", &format!("{n:064x}")),
            s("go.module.go_version", go_version),
            {"key": "go.mod.requires", "value": {"arrayValue": {"values": requires}}},
            s("oci.manifest.digest", image)]}]}]}]});
    server.export_json(build.to_string().into_bytes()).await;
    let workload = json!({"resourceSpans": [{"resource": {"attributes": [s("service.name", name),
            s("container.image.repo_digests", &format!("ghcr.io/acme/{name}@{image}"))]},
        "scopeSpans": [{"spans": [{"traceId": format!("{:032x}", 0xe000 + n), "spanId": "0102030405060708", "name": "GET /"}]}]}]});
    server.export_json(workload.to_string().into_bytes()).await;
}

/// Every image and workload of `impact(VULNERABILITY, id)`, two at a
/// time, sorted.
async fn impact_pages(server: &Server, id: &str) -> (Vec<String>, Vec<String>) {
    let (mut artifacts, mut workloads) = (Vec::new(), Vec::new());
    let mut after = String::new();
    for _ in 0..20 {
        let data = server
            .data(&format!(
                "{{ impact(kind: VULNERABILITY, key: \"{id}\", first: 2{after}) {{ artifacts {{ digest }} workloads {{ key }} pageInfo {{ hasNextPage endCursor }} }} }}"
            ))
            .await;
        let page = &data["impact"];
        artifacts.extend(sorted(&page["artifacts"], "digest"));
        workloads.extend(sorted(&page["workloads"], "key"));
        if page["pageInfo"]["hasNextPage"] != true {
            artifacts.sort();
            workloads.sort();
            return (artifacts, workloads);
        }
        after = format!(
            ", after: \"{}\"",
            page["pageInfo"]["endCursor"].as_str().unwrap()
        );
    }
    panic!("impact did not end in 20 pages");
}

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

/// The documents as the tools publish them, and what the graph makes of
/// them.
async fn documents_as_the_tools_publish_them(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    let (fixed, stdlib_only) = (digest(0xf1), digest(0xf2));
    build_and_run(
        &server,
        1,
        CALC,
        &["golang.org/x/net@v0.15.0"],
        "1.22.0",
        "calc",
    )
    .await;
    build_and_run(
        &server,
        2,
        &fixed,
        &["golang.org/x/net@v0.17.0"],
        "1.22.0",
        "fixed",
    )
    .await;
    build_and_run(
        &server,
        3,
        &stdlib_only,
        &["golang.org/x/text@v0.14.0"],
        "1.21.1",
        "tool",
    )
    .await;
    let record: Value = serde_json::from_slice(&read("examples/vulns/GO-2023-2102.json")).unwrap();
    let answer = stored(&server, record.to_string().into_bytes(), None).await;
    assert_eq!(
        (answer["recordsNew"].as_u64(), answer["matched"].as_u64()),
        (Some(1), Some(2)),
        "{answer}"
    );
    let found = vulnerability(&server, "go-2023-2102").await;
    assert_eq!(found["summary"], record["summary"]);
    assert_eq!(
        sorted(&found["artifacts"], "digest"),
        [stdlib_only.as_str(), CALC]
    );
    assert_eq!(sorted(&found["workloads"], "key"), ["-/-/calc", "-/-/tool"]);

    // Re-imported as it is: unchanged; an older copy does not overwrite; a
    // newer one (x/net fixed earlier) replaces it and its matches.
    let answer = stored(&server, record.to_string().into_bytes(), None).await;
    assert_eq!(answer["recordsUnchanged"], 1, "{answer}");
    let mut older = record.clone();
    older["modified"] = json!("2023-10-11T17:02:21Z");
    older["summary"] = json!("stale");
    let answer = stored(&server, json!([older]).to_string().into_bytes(), None).await;
    assert_eq!(answer["recordsUnchanged"], 1, "{answer}");
    let mut newer = record.clone();
    newer["modified"] = json!("2024-06-01T00:00:00Z");
    newer["affected"][1]["ranges"][0]["events"][1] = json!({"fixed": "0.15.0"});
    let answer = stored(&server, newer.to_string().into_bytes(), None).await;
    assert_eq!(answer["recordsUpdated"], 1, "{answer}");
    let found = vulnerability(&server, "GO-2023-2102").await;
    assert_eq!(
        sorted(&found["artifacts"], "digest"),
        [stdlib_only.as_str()]
    );
    stored(&server, record.to_string().into_bytes(), None).await;
    let answer = stored(
        &server,
        {
            let mut newest = record.clone();
            newest["modified"] = json!("2024-07-01T00:00:00Z");
            newest.to_string().into_bytes()
        },
        None,
    )
    .await;
    assert_eq!(answer["recordsUpdated"], 1, "{answer}");

    // The other way: a build after the record finds it (the matcher runs
    // after the ingest writer commits).
    let late = digest(0xf3);
    build_and_run(
        &server,
        4,
        &late,
        &["golang.org/x/net@v0.16.0-rc.1"],
        "1.22.0",
        "late",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = vulnerability(&server, "CVE-2023-44487").await;
        if sorted(&found["artifacts"], "digest").contains(&late) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the late build was never matched: {found}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // impact from the three affected images at once, a page at a time.
    let (artifacts, workloads) = impact_pages(&server, "CVE-2023-44487").await;
    assert_eq!(artifacts, [digest(0xf2), digest(0xf3), CALC.to_string()]);
    assert_eq!(workloads, ["-/-/calc", "-/-/late", "-/-/tool"]);

    // Scanners: Trivy and Grype name the image, govulncheck needs ?digest=.
    let trivy = read("services/provgraph-vuln/testdata/trivy.json");
    let answer = stored(&server, trivy, None).await;
    assert_eq!(
        (answer["format"].as_str(), answer["findings"].as_u64()),
        (Some("Trivy"), Some(2)),
        "{answer}"
    );
    assert_eq!(answer["images"], json!([CALC]));
    let answer = stored(
        &server,
        read("services/provgraph-vuln/testdata/grype.json"),
        None,
    )
    .await;
    assert_eq!(answer["format"], "Grype", "{answer}");
    let govulncheck = read("services/provgraph-vuln/testdata/govulncheck.json");
    let (status, answer) = evidence(&server, govulncheck.clone(), None).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("?digest="),
        "{answer}"
    );
    let answer = stored(&server, govulncheck, Some(&stdlib_only)).await;
    assert_eq!(answer["format"], "govulncheck", "{answer}");

    let data = server
        .data(&format!(
            "{{ artifact(digest: \"{stdlib_only}\") {{ vulnerabilities {{ id findings {{ source subject level detail }} }} }} }}"
        ))
        .await;
    let vulns = &data["artifact"]["vulnerabilities"];
    let go = vulns
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "GO-2023-2102")
        .unwrap_or_else(|| panic!("{vulns}"));
    let sources = sorted(&go["findings"], "source");
    assert_eq!(sources, ["govulncheck", "osv"], "{go}");
    let osv = go["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"] == "osv")
        .unwrap();
    assert!(
        osv["detail"]
            .as_str()
            .unwrap()
            .contains("stdlib 1.21.1 in SEMVER range"),
        "{osv}"
    );
    let scanned = go["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"] == "govulncheck")
        .unwrap();
    assert_eq!(scanned["level"], "called", "{scanned}");

    // OpenVEX: not_affected rules the image out; a product without a
    // digest is skipped and counted; a later statement supersedes.
    let vex = read("services/provgraph-vuln/testdata/openvex.json");
    let answer = stored(&server, vex, None).await;
    assert_eq!(answer["skippedProducts"], 1, "{answer}");
    let found = vulnerability(&server, "CVE-2023-44487").await;
    let artifacts = sorted(&found["artifacts"], "digest");
    assert!(!artifacts.contains(&CALC.to_string()), "{found}");
    assert!(!sorted(&found["workloads"], "key").contains(&"-/-/calc".to_string()));
    let data = server
        .data(&format!(
            "{{ artifact(digest: \"{CALC}\") {{ vulnerabilities {{ id vexStatus {{ status justification }} }} }} }}"
        ))
        .await;
    let ruled = data["artifact"]["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "GO-2023-2102")
        .unwrap_or_else(|| panic!("{data}"));
    assert_eq!(ruled["vexStatus"]["status"], "not_affected", "{ruled}");
    let later = json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://acme.example/vex/2",
        "author": "Acme Security", "timestamp": "2024-11-01T00:00:00Z", "version": 2,
        "statements": [{"vulnerability": {"name": "GO-2023-2102"},
            "products": [{"@id": format!("pkg:oci/calc@{}", CALC.replace(':', "%3A"))}],
            "status": "affected", "action_statement": "upgrade golang.org/x/net to v0.17.0"}]});
    stored(&server, later.to_string().into_bytes(), None).await;
    let found = vulnerability(&server, "CVE-2023-44487").await;
    assert!(
        sorted(&found["artifacts"], "digest").contains(&CALC.to_string()),
        "{found}"
    );
    let in_force: Vec<&Value> = found["vex"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["inForce"] == true && s["digest"] == CALC)
        .collect();
    assert_eq!(in_force.len(), 1, "{found}");
    assert_eq!(in_force[0]["status"], "affected");

    // Malformed documents: 400 saying what and where, nothing stored.
    let mut no_id = record.clone();
    no_id.as_object_mut().unwrap().remove("id");
    no_id["aliases"] = json!(["CVE-2099-0001"]);
    let mut bad_range = record.clone();
    bad_range["id"] = json!("GO-2099-0002");
    bad_range["affected"][1]["ranges"][0]["events"][1] = json!({"fixed": "0.17.x"});
    let mut bad_product: Value =
        serde_json::from_slice(&read("examples/vulns/calc-worker.openvex.json")).unwrap();
    bad_product["statements"][0]["vulnerability"]["name"] = json!("CVE-2099-0003");
    bad_product["statements"][0]["products"][0]["@id"] = json!("pkg:oci/calc@sha256%3A12");
    let mut no_vuln_id: Value =
        serde_json::from_slice(&read("services/provgraph-vuln/testdata/trivy.json")).unwrap();
    no_vuln_id["Results"][1]["Vulnerabilities"][0]["VulnerabilityID"] = json!(null);
    no_vuln_id["Results"][1]["Vulnerabilities"][1]["VulnerabilityID"] = json!("CVE-2099-0004");
    for (body, what, lookup) in [
        (json!([record.clone(), no_id]), "\"id\"", "CVE-2099-0001"),
        (bad_range, "ranges[0].events[1].fixed", "GO-2099-0002"),
        (bad_product, "products[0]", "CVE-2099-0003"),
        (no_vuln_id, "VulnerabilityID", "CVE-2099-0004"),
    ] {
        let (status, answer) = evidence(&server, body.to_string().into_bytes(), None).await;
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(what), "{what} not in {message}");
        let data = server
            .data(&format!("{{ vulnerability(id: \"{lookup}\") {{ id }} }}"))
            .await;
        assert_eq!(
            data["vulnerability"],
            Value::Null,
            "{lookup} stored: {data}"
        );
    }
    let answer = server
        .graphql("{ vulnerability(id: \"two words\") { id } }")
        .await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("vulnerability id"),
        "{answer}"
    );
    server.stop().await;
}

/// OpenVEX as the predicate of a verified attestation: a proof
/// about its subject alone (a statement on another image in it is not
/// stored); the same statement posted bare stays a claim.
async fn signed_vex_is_proof_about_its_subject(flavor: Flavor) {
    let db = provgraph_store::testing::TestDb::new(flavor).await;
    let dir = tempfile::tempdir().unwrap();
    let pair = sigstore_verify::crypto::KeyPair::generate_ecdsa_p256().unwrap();
    let policy = crate::evidence::policy_file(dir.path(), Some(&pair));
    let server = Server::start_on(&db.url, &["--trust-policy", &policy]);
    server.export_json(read("examples/vulns/builds.json")).await;
    stored(&server, read("examples/vulns/GO-2023-2102.json"), None).await;
    let mut vex: Value =
        serde_json::from_slice(&read("examples/vulns/calc-worker.openvex.json")).unwrap();
    // A second product in the same statement: the attestation's subject is
    // WORKER, so what it says of API is not taken.
    let api_hex = API.trim_start_matches("sha256:");
    vex["statements"][0]["products"]
        .as_array_mut()
        .unwrap()
        .push(json!({"@id": format!("pkg:oci/calc-api@sha256%3A{api_hex}")}));
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://openvex.dev/ns/v0.2.0",
        "subject": [{"name": "ghcr.io/acme/calc-worker", "digest": {"sha256": WORKER.trim_start_matches("sha256:")}}],
        "predicate": vex
    });
    let answer = stored(
        &server,
        crate::evidence::key_attestation(&pair, &statement)
            .to_string()
            .into_bytes(),
        None,
    )
    .await;
    assert_eq!(answer["results"][0]["trusted"], true, "{answer}");
    let found = vulnerability(&server, "CVE-2023-39325").await;
    assert_eq!(sorted(&found["artifacts"], "digest"), [API], "{found}");
    let statements = found["vex"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{found}");
    assert_eq!(statements[0]["digest"], WORKER);
    assert_eq!(statements[0]["proven"], true);
    server.stop().await;
    db.cleanup().await;
}

/// Runs `provgraph import` against the server; exit code, stdout, stderr.
fn import(server: &Server, paths: &[&Path]) -> (Option<i32>, String, String) {
    let output = std::process::Command::new(crate::support::binary())
        .args(["import", "--server", &format!("http://{}", server.api)])
        .args(paths)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `provgraph import` of a database export laid out as vuln.go.dev's
/// `vulndb.zip` and osv.dev's `all.zip` (one JSON file per record, deflated;
/// vuln.go.dev's `index/` files beside them) and of a
/// directory of records: progress on stderr, a summary, refused records
/// counted and not sent, and a re-import changes nothing.
async fn import_takes_zip_exports_and_directories(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    build_and_run(
        &server,
        1,
        CALC,
        &["golang.org/x/net@v0.15.0"],
        "1.22.0",
        "calc",
    )
    .await;
    let record: Value = serde_json::from_slice(&read("examples/vulns/GO-2023-2102.json")).unwrap();
    let mut other = record.clone();
    other["id"] = json!("GO-2024-2687");
    other["aliases"] = json!(["CVE-2023-45288", "GHSA-4v7x-pqxf-cx7m"]);
    let mut broken = record.clone();
    broken["id"] = json!("GO-2099-0001");
    broken["affected"][0]["ranges"][0]["type"] = json!("SEMVERS");
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("all.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, value) in [
        ("GO-2023-2102.json", &record),
        ("GO-2024-2687.json", &other),
        ("ID/GO-2099-0001.json", &broken),
        // vuln.go.dev's vulndb.zip carries its index beside the records.
        (
            "index/db.json",
            &json!({"modified": "2024-10-14T19:04:41Z"}),
        ),
        (
            "index/modules.json",
            &json!([{"path": "golang.org/x/net", "vulns": [{"id": "GO-2023-2102", "modified": "2024-05-20T20:09:03Z", "fixed": "0.17.0"}]}]),
        ),
    ] {
        zip.start_file(name, deflated).unwrap();
        std::io::Write::write_all(&mut zip, value.to_string().as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    let records = dir.path().join("records");
    std::fs::create_dir_all(records.join("2024")).unwrap();
    let mut third = record.clone();
    third["id"] = json!("GO-2024-0001");
    third["aliases"] = json!([]);
    std::fs::write(records.join("2024/GO-2024-0001.json"), third.to_string()).unwrap();

    let (code, stdout, stderr) = import(&server, &[&zip_path, &records]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(
        stdout.contains("OSV records: 3 read, 3 new, 0 updated, 0 unchanged, 1 refused"),
        "{stdout}"
    );
    assert!(
        stderr.contains("GO-2099-0001.json") && stderr.contains("SEMVERS") && stderr.contains("]"),
        "{stderr}"
    );
    let found = vulnerability(&server, "GHSA-4V7X-PQXF-CX7M").await;
    assert_eq!(found["id"], "GO-2024-2687");
    assert_eq!(sorted(&found["artifacts"], "digest"), [CALC]);
    assert_eq!(
        server
            .data("{ vulnerability(id: \"GO-2099-0001\") { id } }")
            .await["vulnerability"],
        Value::Null
    );
    let (code, stdout, stderr) = import(&server, &[&zip_path, &records]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(
        stdout.contains("OSV records: 3 read, 0 new, 0 updated, 3 unchanged, 1 refused"),
        "{stdout}"
    );
    server.stop().await;
}

provgraph_store::both_databases!(
    readme_vulnerability_walkthrough,
    documents_as_the_tools_publish_them,
    import_takes_zip_exports_and_directories,
    signed_vex_is_proof_about_its_subject,
);
