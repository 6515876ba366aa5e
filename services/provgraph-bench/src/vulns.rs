//! The vulnerability benchmark (`--vulns`, issue #12): a graph of builds whose
//! go.mods require Go modules from a pool, a synthetic Go vulnerability
//! database of the same size and shape as vuln.go.dev's OSV export, imported
//! through `POST /v1/evidence`, and `vulnerability(id)` asked for a CVE that
//! affects a tenth of the images.
//!
//! The records are written as vuln.go.dev publishes them (OSV 1.3.1:
//! `GO-YYYY-NNNN` ids, a `CVE-` alias, `affected[].package` with ecosystem
//! `Go`, `SEMVER` ranges whose versions carry no `v` prefix,
//! `ecosystem_specific.imports`, `database_specific.url`). The real export
//! cannot be fetched here (no internet but package registries), so the
//! records are generated: see [`vulndb`].

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::progress::Progress;
use crate::query::{self, QueryKind, QueryReport};
use crate::send::{self, SendOptions, SendReport};
use crate::server::{Database, DbSize, Server};
use crate::stats::{Summary, bytes, int, ms, rate};
use crate::workload::{Batcher, Keys, SpanBuilder, Workload, now_nanos, s, splitmix64, strings};

/// Go modules in the pool the go.mods require from.
pub const POOL_MODULES: u64 = 2_000;
/// Versions of each pool module (`v1.0.0` .. `v1.19.0`).
pub const POOL_VERSIONS: u64 = 20;
/// Requirements per go.mod (besides golang.org/x/net).
pub const REQUIRES: u64 = 30;
/// Builds per distinct go.mod: CI rebuilds the same requirements often.
pub const BUILDS_PER_GOMOD: u64 = 10;
/// One go.mod in this many requires the affected golang.org/x/net version.
pub const AFFECTED_EVERY: u64 = 10;
/// The record whose CVE the latency round asks for, and its alias.
#[cfg(test)]
pub const TARGET_ID: &str = "GO-2099-0001";
pub const TARGET_ALIAS: &str = "CVE-2099-44487";

const VULN_COMMIT: u64 = 0x401;
const VULN_GOMOD: u64 = 0x402;
const VULN_DIGEST: u64 = 0x403;
const VULN_TRACE: u64 = 0x404;
const VULN_PICK: u64 = 0x405;

/// Build `i`'s image digest.
pub fn digest(keys: &Keys, i: u64) -> String {
    format!("sha256:{}", keys.hex(VULN_DIGEST, i, 64))
}

/// The go.mod (index) build `i` used.
fn gomod_of(i: u64) -> u64 {
    i / BUILDS_PER_GOMOD
}

/// go.mod `g`'s requirements as `PATH@VERSION`: [`REQUIRES`] pool modules
/// and golang.org/x/net, at v0.16.0 (affected by the target record) for one
/// go.mod in [`AFFECTED_EVERY`], else v0.17.0 (fixed).
pub fn requires(keys: &Keys, g: u64) -> Vec<String> {
    let mut out = Vec::with_capacity(REQUIRES as usize + 1);
    let mut seen = std::collections::HashSet::new();
    let mut w = splitmix64(keys.seed ^ VULN_PICK ^ g);
    while seen.len() < REQUIRES as usize {
        w = splitmix64(w);
        let module = w % POOL_MODULES;
        if seen.insert(module) {
            let version = (w >> 32) % POOL_VERSIONS;
            out.push(format!("example.com/pool/mod{module}@v1.{version}.0"));
        }
    }
    let net = if g.is_multiple_of(AFFECTED_EVERY) {
        "v0.16.0"
    } else {
        "v0.17.0"
    };
    out.push(format!("golang.org/x/net@{net}"));
    out
}

/// Images the target record affects among `builds` builds.
pub fn target_images(builds: u64) -> u64 {
    (0..builds)
        .filter(|i| gomod_of(*i).is_multiple_of(AFFECTED_EVERY))
        .count() as u64
}

/// The builds: one trace of 4 spans each (run, checkout, go.mod with its
/// requirements, image push), [`BUILDS_PER_GOMOD`] builds per go.mod.
pub fn modules_workload(keys: &Keys, builds: u64, batch: usize) -> Workload {
    let mut out = Batcher::new(batch);
    let t0 = now_nanos();
    for i in 0..builds {
        let trace_id = keys.bytes(VULN_TRACE, i, 16);
        let b = SpanBuilder {
            trace_id: &trace_id,
            keys,
            domain: VULN_TRACE,
            build: i,
            t0,
        };
        let g = gomod_of(i);
        out.push(b.span(
            0,
            None,
            "run release",
            vec![
                s("cicd.pipeline.run.id", format!("bench-{}-v-{i}", keys.seed)),
                s("cicd.pipeline.name", "release"),
            ],
        ));
        out.push(b.span(
            1,
            Some(0),
            "checkout",
            vec![
                s("vcs.ref.head.revision", keys.hex(VULN_COMMIT, i, 40)),
                s(
                    "vcs.repository.url.full",
                    format!("https://github.com/bench/svc-{}", g % 500),
                ),
            ],
        ));
        out.push(b.span(
            2,
            Some(0),
            "go mod download",
            vec![
                s("go.mod.hash", keys.hex(VULN_GOMOD, g, 64)),
                s(
                    "go.module.path",
                    format!("github.com/bench/svc-{}", g % 500),
                ),
                s("go.module.go_version", "1.22"),
                strings("go.mod.requires", &requires(keys, g)),
            ],
        ));
        out.push(b.span(
            3,
            Some(0),
            "docker push",
            vec![
                s("oci.manifest.digest", digest(keys, i)),
                s(
                    "container.image.name",
                    format!("ghcr.io/bench/svc-{}", g % 500),
                ),
            ],
        ));
    }
    out.finish("modules", builds)
}

/// `count` OSV records in vuln.go.dev's shape. Record 1 is the target:
/// golang.org/x/net before 0.17.0 (as GO-2023-2102 / CVE-2023-44487 is).
/// Of the others, one in five names a pool module (a range introduced at
/// 0 or a random version and fixed at a later one), the rest modules no
/// build requires, as most of the database is for any one organisation.
pub fn vulndb(keys: &Keys, count: u64) -> Vec<serde_json::Value> {
    (1..=count)
        .map(|n| {
            let id = format!("GO-2099-{n:04}");
            let alias = if n == 1 {
                TARGET_ALIAS.to_string()
            } else {
                format!("CVE-2099-{:05}", 50_000 + n)
            };
            let w = splitmix64(keys.seed ^ 0x6f7376 ^ n);
            let (module, introduced, fixed) = if n == 1 {
                ("golang.org/x/net".to_string(), "0".to_string(), "0.17.0".to_string())
            } else if w.is_multiple_of(5) {
                let from = (w >> 8) % POOL_VERSIONS;
                let to = from + 1 + (w >> 16) % (POOL_VERSIONS - from);
                (
                    format!("example.com/pool/mod{}", (w >> 24) % POOL_MODULES),
                    if from == 0 {
                        "0".to_string()
                    } else {
                        format!("1.{from}.0")
                    },
                    format!("1.{to}.0"),
                )
            } else {
                (
                    format!("github.com/elsewhere/project{}", (w >> 24) % 3_000),
                    "0".to_string(),
                    format!("1.{}.{}", (w >> 8) % 30, (w >> 16) % 10),
                )
            };
            serde_json::json!({
                "schema_version": "1.3.1",
                "id": id,
                "modified": "2026-11-02T16:48:57Z",
                "published": "2099-01-05T18:02:11Z",
                "aliases": [alias],
                "summary": format!("Denial of service in {module}"),
                "details": "A crafted request makes the server use unbounded memory.",
                "affected": [{
                    "package": { "name": module, "ecosystem": "Go" },
                    "ranges": [{
                        "type": "SEMVER",
                        "events": [{ "introduced": introduced }, { "fixed": fixed }]
                    }],
                    "ecosystem_specific": {
                        "imports": [{
                            "path": format!("{module}/http2"),
                            "symbols": ["Server.ServeConn", "serverConn.processHeaders"]
                        }]
                    }
                }],
                "references": [
                    { "type": "ADVISORY", "url": format!("https://nvd.nist.gov/vuln/detail/{alias}") },
                    { "type": "FIX", "url": format!("https://go.dev/cl/{}", 500_000 + n) }
                ],
                "credits": [{ "name": "the bench" }],
                "database_specific": {
                    "url": format!("https://pkg.go.dev/vuln/{id}"),
                    "review_status": "REVIEWED"
                }
            })
        })
        .collect()
}

/// What the vulnerability run measured.
#[derive(Debug)]
pub struct VulnReport {
    pub database: &'static str,
    pub builds: u64,
    pub spans: u64,
    pub ingest: SendReport,
    pub records: u64,
    pub refused: u64,
    pub import_seconds: f64,
    /// From the start of the import until `vulnerability` named every
    /// affected image; `None` if it never did within the wait.
    pub linked_seconds: Option<f64>,
    pub images: u64,
    pub found: usize,
    pub query: QueryReport,
    pub peak_rss: Option<u64>,
    pub db: Option<DbSize>,
    pub load: (String, String),
}

/// Records per `POST /v1/evidence` (an OSV array).
pub const RECORDS_PER_POST: usize = 250;

/// Runs the vulnerability benchmark on a fresh database `db`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    binary: &Path,
    db: &Database,
    keys: Keys,
    builds: u64,
    records: u64,
    options: SendOptions,
    batch: usize,
    clients: usize,
    seconds: f64,
    server_args: &[String],
    ready_timeout: Duration,
    progress: &Arc<Progress>,
    work_dir: &Path,
) -> Result<VulnReport, String> {
    let load_start = crate::loadavg();
    eprintln!("== generate modules: {} builds", int(builds));
    let workload = tokio::task::spawn_blocking(move || modules_workload(&keys, builds, batch))
        .await
        .map_err(|e| format!("generating the modules workload failed: {e}"))?;
    let log = work_dir.join(format!("provgraph-{}-vulns.log", db.kind()));
    let server = Server::start(binary, &db.url(), &log, server_args, ready_timeout).await?;
    progress.watch_server(server.pid);
    progress.phase(
        format!("ingest modules into provgraph/{}", db.kind()),
        "spans",
        workload.spans,
    );
    let requests = Arc::new(workload.requests);
    let ingest = send::send_all(server.grpc, requests, options, Arc::clone(progress)).await?;
    eprintln!(
        "   {} spans/s ({} spans in {:.1} s), {} failed",
        rate(ingest.spans_per_second()),
        int(ingest.spans_acked),
        ingest.elapsed.as_secs_f64(),
        ingest.failed
    );

    let db_records = vulndb(&keys, records);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    progress.phase("import the vulnerability database", "records", records);
    let evidence = format!("http://{}/v1/evidence", server.api);
    let started = Instant::now();
    let mut refused = 0u64;
    for chunk in db_records.chunks(RECORDS_PER_POST) {
        let body = serde_json::Value::Array(chunk.to_vec()).to_string();
        let response = client
            .post(&evidence)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST /v1/evidence: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            refused += chunk.len() as u64;
            let text = response.text().await.unwrap_or_default();
            eprintln!(
                "   refused ({status}): {}",
                text.chars().take(300).collect::<String>()
            );
        }
        progress
            .done
            .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }
    let import_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "   {} records in {import_seconds:.1} s ({} records/s), {} refused",
        int(records),
        rate(records as f64 / import_seconds.max(1e-9)),
        int(refused)
    );

    // Linked: the target's answer names every image it affects.
    let images = target_images(builds);
    let kind = QueryKind::Vulnerability {
        alias: TARGET_ALIAS,
        images,
    };
    let mut linked_seconds = None;
    let mut found = 0;
    while started.elapsed() < Duration::from_secs(300) {
        found = count_artifacts(&client, server.api, &kind.query(&keys, 0)).await?;
        if found as u64 >= images {
            linked_seconds = Some(started.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "   target: {} of {} images named",
        int(found as u64),
        int(images)
    );

    progress.phase("vulnerability(id) queries", "queries", 0);
    let asked: &'static [QueryKind] = Box::leak(vec![kind].into_boxed_slice());
    let query = query::run(
        server.api,
        asked,
        keys,
        builds,
        clients,
        seconds,
        Arc::clone(progress),
    )
    .await?;
    let peak_rss = server.peak_rss();
    let db_size = db.size().ok();
    server.stop(Duration::from_secs(30)).await;
    Ok(VulnReport {
        database: db.kind(),
        builds,
        spans: workload.spans,
        ingest,
        records,
        refused,
        import_seconds,
        linked_seconds,
        images,
        found,
        query,
        peak_rss,
        db: db_size,
        load: (load_start, crate::loadavg()),
    })
}

async fn count_artifacts(
    client: &reqwest::Client,
    api: std::net::SocketAddr,
    query: &str,
) -> Result<usize, String> {
    let answer: serde_json::Value = client
        .post(format!("http://{api}/graphql"))
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .map_err(|e| format!("POST /graphql: {e}"))?
        .json()
        .await
        .map_err(|e| format!("POST /graphql: {e}"))?;
    if let Some(errors) = answer.get("errors") {
        return Err(format!("vulnerability(id): {errors}"));
    }
    Ok(answer
        .pointer("/data/vulnerability/artifacts")
        .and_then(|a| a.as_array())
        .map_or(0, Vec::len))
}

impl VulnReport {
    /// The Markdown section.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut kind = self
            .query
            .kinds
            .first()
            .map(|k| k.latency_us.clone())
            .unwrap_or_default();
        let errors = self.query.kinds.first().map_or(0, |k| k.errors);
        let short = self.query.kinds.first().map_or(0, |k| k.short);
        let summary = Summary::of(&mut kind);
        let _ = writeln!(
            out,
            "\n### Vulnerabilities: the Go vulnerability database into {} builds ({})\n",
            int(self.builds),
            self.database
        );
        let _ = writeln!(
            out,
            "Load average at start / end: {} / {}\n",
            self.load.0, self.load.1
        );
        let _ = writeln!(out, "| figure | value | target |");
        let _ = writeln!(out, "|---|---|---|");
        let _ = writeln!(
            out,
            "| builds ingested (4 spans, {} requirements per go.mod, {} builds per go.mod) | {} spans/s, {} spans, {} failed | |",
            REQUIRES + 1,
            BUILDS_PER_GOMOD,
            rate(self.ingest.spans_per_second()),
            int(self.spans),
            self.ingest.failed
        );
        let _ = writeln!(
            out,
            "| OSV records imported ({} per POST /v1/evidence) | {} in {:.1} s = {} records/s, {} refused | |",
            RECORDS_PER_POST,
            int(self.records),
            self.import_seconds,
            rate(self.records as f64 / self.import_seconds.max(1e-9)),
            int(self.refused)
        );
        let linked = self.linked_seconds.map_or_else(
            || {
                format!(
                    "not within 300 s ({} of {} images)",
                    int(self.found as u64),
                    int(self.images)
                )
            },
            |s| format!("{s:.1} s"),
        );
        let _ = writeln!(
            out,
            "| whole database matched (import start until `vulnerability` names all {} affected images) | {} | < 60 s |",
            int(self.images),
            linked
        );
        let _ = writeln!(
            out,
            "| `vulnerability(id)` by alias, {} images in the answer: p50 / p95 / p99 / max | {} / {} / {} / {} ms ({} queries, {} errors, {} short, {:.0} queries/s) | p99 < 20 ms |",
            int(self.images),
            ms(summary.p50),
            ms(summary.p95),
            ms(summary.p99),
            ms(summary.max),
            int(summary.count as u64),
            errors,
            short,
            summary.count as f64 / self.query.elapsed.as_secs_f64().max(1e-9)
        );
        if let Some(rss) = self.peak_rss {
            let _ = writeln!(out, "| server peak RSS | {} | |", bytes(rss));
        }
        if let Some(db) = &self.db {
            let _ = writeln!(out, "| database size | {} | |", bytes(db.total()));
        }
        for m in &self.query.messages {
            let _ = writeln!(out, "\nProblem seen: {m}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_of_the_images_require_the_affected_version() {
        let keys = Keys::new(1);
        assert_eq!(target_images(100_000), 10_000);
        let affected = (0..100u64)
            .filter(|g| requires(&keys, *g).contains(&"golang.org/x/net@v0.16.0".to_string()))
            .count();
        assert_eq!(affected, 10);
        let r = requires(&keys, 7);
        assert_eq!(r.len(), REQUIRES as usize + 1);
        let unique: std::collections::HashSet<&str> = r
            .iter()
            .map(|m| m.split('@').next().unwrap_or_default())
            .collect();
        assert_eq!(unique.len(), r.len(), "one version of each module");
    }

    #[test]
    fn records_have_the_go_vulndb_shape() {
        let records = vulndb(&Keys::new(1), 500);
        assert_eq!(records.len(), 500);
        assert_eq!(records[0]["id"], TARGET_ID);
        assert_eq!(records[0]["aliases"][0], TARGET_ALIAS);
        for record in &records {
            let events = record["affected"][0]["ranges"][0]["events"]
                .as_array()
                .unwrap();
            assert_eq!(events.len(), 2);
            let fixed = events[1]["fixed"].as_str().unwrap();
            assert!(!fixed.starts_with('v'), "vuln.go.dev versions have no v");
            assert_eq!(record["affected"][0]["package"]["ecosystem"], "Go");
        }
        let in_pool = records
            .iter()
            .filter(|r| {
                r["affected"][0]["package"]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("example.com/pool/")
            })
            .count();
        assert!((60..=140).contains(&in_pool), "about a fifth: {in_pool}");
    }

    #[test]
    fn builds_carry_their_requirements() {
        let w = modules_workload(&Keys::new(1), 20, 512);
        assert_eq!(w.spans, 80);
        assert_eq!(w.builds, 20);
    }
}
