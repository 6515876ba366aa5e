//! `provgraph-bench`: one command that measures provgraph end to end on this
//! machine. It generates OTLP traces (adversarial: every span a new fact;
//! realistic: ~200-span builds with ~5 fact spans), sends them with the same
//! client to an in-process do-nothing receiver and to the real server (a
//! child process on a fresh SQLite file or PostgreSQL database), then asks
//! lineage queries over GraphQL, and prints a Markdown report on stdout
//! (progress goes to stderr).

mod cpu;
mod null;
mod progress;
mod query;
mod report;
mod runtime;
mod send;
mod server;
mod stats;
mod vulns;
mod workload;

use clap::Parser;
use progress::Progress;
use send::{Protocol, SendOptions, SendReport};
use server::{Database, DbSize, Server, Stopped};
use stats::{bytes, int, rate};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::{Keys, Workload};

/// Benchmark provgraph: OTLP ingest into SQLite or PostgreSQL, and lineage
/// queries over GraphQL, against the real server binary.
#[derive(Debug, Parser)]
#[command(name = "provgraph-bench", version)]
struct Args {
    /// The provgraph binary (default: target/release/provgraph of the workspace;
    /// build it with `cargo build --release -p provgraph`).
    #[arg(long)]
    provgraph: Option<PathBuf>,
    /// `sqlite` (a fresh file in the work directory) or a PostgreSQL URL such as
    /// postgres://postgres@127.0.0.1:5432/test (a fresh database is created on
    /// that server for each run and dropped after it).
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// OTLP transport.
    #[arg(long, value_enum, default_value = "grpc")]
    protocol: Protocol,
    /// OTLP clients in flight, each on its own connection.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Spans per OTLP request.
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// Builds of the adversarial shape (4 spans each, every fact new); these
    /// form the graph that the lineage queries read. 0 skips it.
    #[arg(long, default_value_t = 100_000)]
    builds: u64,
    /// Builds of the realistic shape (~200 spans, ~5 with facts), ingested
    /// into a second fresh database. 0 skips it.
    #[arg(long, default_value_t = 2_000)]
    realistic_builds: u64,
    /// Spans of the runtime shape: services' request traces with no build
    /// facts (only the image the process runs in), plus metrics and logs from
    /// the same resources, into a third fresh database. 0 skips it.
    #[arg(long, default_value_t = 0)]
    runtime_spans: u64,
    /// Services of the runtime shape.
    #[arg(long, default_value_t = 250)]
    runtime_services: u64,
    /// Images (digests) each runtime service runs: services × digests are
    /// the distinct (workload, image) pairs.
    #[arg(long, default_value_t = 4)]
    runtime_digests: u64,
    /// Mean spans per realistic build (±25%).
    #[arg(long, default_value_t = 200)]
    realistic_spans: u32,
    /// Adversarial builds (the first ones) from one hub repository, one
    /// image each, capped at --builds: the hub that `lineagePage` pages
    /// through in a query round of its own (skipped below 100).
    #[arg(long, default_value_t = 100_000)]
    hub_images: u64,
    /// Concurrent GraphQL clients.
    #[arg(long, default_value_t = 4)]
    query_clients: usize,
    /// Seconds of lineage queries (0 skips them).
    #[arg(long, default_value_t = 10.0)]
    query_seconds: f64,
    /// Milliseconds to sleep before retrying an UNAVAILABLE / 503 answer.
    #[arg(long, default_value_t = 50)]
    retry_sleep_ms: u64,
    /// Attempts per request before it counts as failed.
    #[arg(long, default_value_t = 1000)]
    max_attempts: u32,
    /// Seconds before one export attempt times out.
    #[arg(long, default_value_t = 60)]
    request_timeout: u64,
    /// Skip the do-nothing receiver baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Seed of the generated keys.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the SQLite files and server logs go (default: a new folder in
    /// the temp directory, removed at the end unless --keep).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the work directory and the PostgreSQL databases.
    #[arg(long)]
    keep: bool,
    /// Extra argument for `provgraph serve` (repeat for several), e.g.
    /// --server-arg=--max-queued-facts=65536.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// PostgreSQL only: run ANALYZE every this many seconds during ingest, as
    /// autovacuum's auto-analyze would on a server that has it on (0: never).
    #[arg(long, default_value_t = 0)]
    pg_analyze_every: u64,
    /// Builds for the vulnerability run (issue #12): go.mods requiring Go
    /// modules from a pool, then a synthetic Go vulnerability database
    /// imported and `vulnerability(id)` asked; into a fresh database of its
    /// own. 0 skips it.
    #[arg(long, default_value_t = 0)]
    vuln_builds: u64,
    /// OSV records in the synthetic Go vulnerability database.
    #[arg(long, default_value_t = 4_500)]
    vuln_records: u64,
    /// Seconds to wait for the server's ready line.
    #[arg(long, default_value_t = 120)]
    ready_timeout: u64,
}

/// One round of lineage queries.
#[derive(Debug)]
struct QueryRound {
    /// What state the database was in.
    label: String,
    report: query::QueryReport,
    cpu: cpu::Usage,
}

/// One shape's run against the real server.
#[derive(Debug)]
struct RunResult {
    shape: &'static str,
    builds: u64,
    spans: u64,
    requests: usize,
    wire_bytes: u64,
    ingest: SendReport,
    baseline: Option<SendReport>,
    cpu_baseline: Option<cpu::Usage>,
    cpu_ingest: Option<cpu::Usage>,
    rss_after_ingest: Option<u64>,
    rss_at_end: Option<u64>,
    peak_rss: Option<u64>,
    db_empty: Option<DbSize>,
    db_live: Option<DbSize>,
    db_after_stop: Option<DbSize>,
    tables: Result<Vec<(String, u64)>, String>,
    /// ANALYZE runs during ingest (--pg-analyze-every): how many, seconds spent.
    analyze_runs: Option<(u32, f64)>,
    /// Runtime shape: sighting rows written (`provgraph_sightings_written_total`)
    /// by the end of ingest, and the data points and log records among the items.
    sightings_written: Option<u64>,
    stop: Stopped,
    log_problems: (usize, Vec<String>),
    queries: Vec<QueryRound>,
    sanity: Option<Result<(), String>>,
    log_path: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("provgraph-bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("provgraph-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn default_binary() -> PathBuf {
    // services/provgraph-bench -> the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("target/release/provgraph")
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|k| format!("{:.1} GiB", k as f64 / (1u64 << 20) as f64))
        .unwrap_or_else(|| "unknown memory".to_string());
    format!("{cores} cores ({model}), {mem}")
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

async fn generate(
    keys: Keys,
    shape: &'static str,
    builds: u64,
    args: &Args,
) -> Result<Workload, String> {
    let (batch, spans_per_build) = (args.batch, args.realistic_spans);
    let (services, digests) = (args.runtime_services, args.runtime_digests);
    let t = Instant::now();
    eprintln!("== generate {shape}: {} builds", int(builds));
    let w = tokio::task::spawn_blocking(move || match shape {
        "adversarial" => workload::adversarial(&keys, builds, batch),
        "runtime" => runtime::runtime(&keys, services, digests, builds, batch),
        _ => workload::realistic(&keys, builds, spans_per_build, batch),
    })
    .await
    .map_err(|e| format!("generating the {shape} workload failed: {e}"))?;
    eprintln!(
        "   {} spans in {} requests, {} encoded, in {:.1} s",
        int(w.spans),
        int(w.requests.len() as u64),
        bytes(w.bytes),
        t.elapsed().as_secs_f64()
    );
    Ok(w)
}

fn sanitize(url: &str) -> String {
    // Hide a password if the URL has one.
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn run(args: Args) -> Result<String, String> {
    let binary = args.provgraph.clone().unwrap_or_else(default_binary);
    let binary = binary.canonicalize().map_err(|e| {
        format!(
            "the provgraph binary {} is not there ({e}); build it first: \
             cd <workspace> && cargo build --release -p provgraph (or pass --provgraph PATH)",
            binary.display()
        )
    })?;
    let postgres = match args.database.as_str() {
        "sqlite" => None,
        url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Some(url.to_string())
        }
        other => {
            return Err(format!(
                "--database {other:?}: expected sqlite or postgres://USER@HOST:PORT/DB"
            ));
        }
    };
    let work_dir = args.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("provgraph-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;
    let load_start = loadavg();
    let started = Instant::now();

    let progress = Progress::new();
    let ticker = progress.spawn_ticker();
    let keys = Keys::new(args.seed).with_hub(args.hub_images.min(args.builds));
    let mut workloads = Vec::new();
    if args.builds > 0 {
        workloads.push(generate(keys, "adversarial", args.builds, &args).await?);
    }
    if args.realistic_builds > 0 {
        workloads.push(generate(keys, "realistic", args.realistic_builds, &args).await?);
    }
    if args.runtime_spans > 0 {
        workloads.push(generate(keys, "runtime", args.runtime_spans, &args).await?);
    }
    let options = SendOptions {
        protocol: args.protocol,
        concurrency: args.concurrency.max(1),
        retry_sleep: Duration::from_millis(args.retry_sleep_ms),
        max_attempts: args.max_attempts.max(1),
        timeout: Duration::from_secs(args.request_timeout.max(1)),
    };

    let mut results = Vec::new();
    let mut baselines = Vec::new();
    let requests: Vec<Arc<Vec<workload::Encoded>>> = workloads
        .iter_mut()
        .map(|w| Arc::new(std::mem::take(&mut w.requests)))
        .collect();
    if !args.no_baseline {
        let addr = null::start(args.protocol).await?;
        for (w, reqs) in workloads.iter().zip(&requests) {
            progress.phase(
                format!("do-nothing receiver, {}", w.shape),
                "spans",
                w.spans,
            );
            // Short workloads are sent again until the measure lasts a few
            // seconds; the rate is over all rounds.
            let before = cpu::Snapshot::take(None);
            let mut report =
                send::send_all(addr, Arc::clone(reqs), options, Arc::clone(&progress)).await?;
            while report.elapsed < Duration::from_secs(3) {
                let more =
                    send::send_all(addr, Arc::clone(reqs), options, Arc::clone(&progress)).await?;
                report.merge(more);
            }
            let usage = before.usage(&cpu::Snapshot::take(None));
            eprintln!(
                "   {} spans/s ({} spans in {:.2} s)",
                rate(report.spans_per_second()),
                int(report.spans_acked),
                report.elapsed.as_secs_f64()
            );
            baselines.push(Some((report, usage)));
        }
    } else {
        baselines.extend(workloads.iter().map(|_| None));
    }

    for ((w, reqs), baseline) in workloads.iter().zip(&requests).zip(baselines) {
        let db = match &postgres {
            None => Database::sqlite(&work_dir, w.shape)?,
            Some(url) => Database::postgres(
                url,
                &format!("provgraph_bench_{}_{}", std::process::id(), w.shape),
            )?,
        };
        let outcome = run_shape(
            &args,
            &binary,
            &db,
            w,
            Arc::clone(reqs),
            options,
            keys,
            &progress,
            &work_dir,
        )
        .await;
        if !args.keep
            && let Err(e) = db.drop_it()
        {
            eprintln!("provgraph-bench: cannot drop the database: {e}");
        }
        let mut result = outcome?;
        if let Some((report, usage)) = baseline {
            result.baseline = Some(report);
            result.cpu_baseline = Some(usage);
        }
        results.push(result);
    }
    let mut vuln_section = String::new();
    if args.vuln_builds > 0 {
        let db = match &postgres {
            None => Database::sqlite(&work_dir, "vulns")?,
            Some(url) => Database::postgres(
                url,
                &format!("provgraph_bench_{}_vulns", std::process::id()),
            )?,
        };
        let outcome = vulns::run(
            &binary,
            &db,
            keys,
            args.vuln_builds,
            args.vuln_records,
            options,
            args.batch,
            args.query_clients,
            args.query_seconds,
            &args.server_args,
            Duration::from_secs(args.ready_timeout),
            &progress,
            &work_dir,
        )
        .await;
        if !args.keep
            && let Err(e) = db.drop_it()
        {
            eprintln!("provgraph-bench: cannot drop the database: {e}");
        }
        vuln_section = outcome?.render();
    }
    ticker.abort();
    let total = started.elapsed();
    let load_end = loadavg();
    if !args.keep {
        let _ = std::fs::remove_dir_all(&work_dir);
    }

    Ok(report::render(
        &args,
        &binary,
        postgres.as_deref(),
        &results,
        &load_start,
        &load_end,
        total,
    ) + &vuln_section)
}

/// Runs ANALYZE on the database at `url` every `every` seconds until told
/// to stop; answers how many runs and the seconds they took.
fn spawn_analyzer(
    url: String,
    every: u64,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<(u32, f64)>,
) {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let (mut runs, mut secs) = (0u32, 0.0f64);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(every)) => {}
                _ = stopped.changed() => break,
            }
            let url = url.clone();
            let t = Instant::now();
            let done = tokio::task::spawn_blocking(move || {
                Database::Postgres {
                    admin_url: String::new(),
                    url,
                    name: String::new(),
                }
                .analyze()
            })
            .await;
            match done {
                Ok(Ok(())) => {
                    runs += 1;
                    secs += t.elapsed().as_secs_f64();
                }
                Ok(Err(e)) => eprintln!("   ANALYZE during ingest failed: {e}"),
                Err(e) => eprintln!("   ANALYZE task failed: {e}"),
            }
        }
        (runs, secs)
    });
    (stop, task)
}

#[allow(clippy::too_many_arguments)]
async fn run_shape(
    args: &Args,
    binary: &std::path::Path,
    db: &Database,
    w: &Workload,
    requests: Arc<Vec<workload::Encoded>>,
    options: SendOptions,
    keys: Keys,
    progress: &Arc<Progress>,
    work_dir: &std::path::Path,
) -> Result<RunResult, String> {
    let log = work_dir.join(format!("provgraph-{}-{}.log", db.kind(), w.shape));
    eprintln!(
        "== start provgraph on {} ({})",
        db.kind(),
        sanitize(&db.url())
    );
    let mut server = Server::start(
        binary,
        &db.url(),
        &log,
        &args.server_args,
        Duration::from_secs(args.ready_timeout),
    )
    .await?;
    progress.watch_server(server.pid);
    eprintln!(
        "   pid {} otlp-grpc={} otlp-http={} api={}",
        server.pid, server.grpc, server.http, server.api
    );
    let target = match args.protocol {
        Protocol::Grpc => server.grpc,
        Protocol::Http => server.http,
    };
    let mut result = RunResult {
        shape: w.shape,
        builds: w.builds,
        spans: w.spans,
        requests: requests.len(),
        wire_bytes: w.bytes,
        log_path: log.clone(),
        ingest: SendReport::default(),
        baseline: None,
        cpu_baseline: None,
        cpu_ingest: None,
        rss_after_ingest: None,
        rss_at_end: None,
        peak_rss: None,
        db_empty: None,
        db_live: None,
        db_after_stop: None,
        tables: Err("not measured".into()),
        analyze_runs: None,
        sightings_written: None,
        stop: Stopped::default(),
        log_problems: (0, Vec::new()),
        queries: Vec::new(),
        sanity: None,
    };
    // The empty database (after migrations), so per-build growth excludes it.
    result.db_empty = db.size().ok();
    progress.phase(
        format!("ingest {} into provgraph/{}", w.shape, db.kind()),
        "spans",
        w.spans,
    );
    let analyzer = match db {
        Database::Postgres { url, .. } if args.pg_analyze_every > 0 => {
            Some(spawn_analyzer(url.clone(), args.pg_analyze_every))
        }
        _ => None,
    };
    let before = cpu::Snapshot::take(Some(server.pid));
    let ingest = send::send_all(target, requests, options, Arc::clone(progress)).await;
    result.cpu_ingest = Some(before.usage(&cpu::Snapshot::take(Some(server.pid))));
    if let Some((stop, task)) = analyzer {
        let _ = stop.send(true);
        if let Ok((runs, secs)) = task.await {
            result.analyze_runs = Some((runs, secs));
        }
    }
    result.ingest = ingest?;
    eprintln!(
        "   {} spans/s, {} builds/s ({} spans in {:.1} s), {} retries, {} failed",
        rate(result.ingest.spans_per_second()),
        rate(w.builds as f64 / result.ingest.elapsed.as_secs_f64().max(1e-9)),
        int(result.ingest.spans_acked),
        result.ingest.elapsed.as_secs_f64(),
        result.ingest.retry_count(),
        result.ingest.failed
    );
    result.rss_after_ingest = server.rss();
    result.db_live = match db.size() {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("   cannot measure the database: {e}");
            None
        }
    };
    if !server.alive() {
        return Err(format!(
            "the server died during ingest; see {}",
            server.log.display()
        ));
    }
    if w.shape == "adversarial" && args.query_seconds > 0.0 {
        // PostgreSQL: once as ingested, then again after ANALYZE, because
        // the plans differ when the server's autovacuum has not (or cannot)
        // gather statistics yet.
        let mut rounds = vec![match db {
            Database::Postgres { .. } if args.pg_analyze_every > 0 => format!(
                "as ingested, ANALYZE every {} s during ingest (server autovacuum: {})",
                args.pg_analyze_every,
                db.autovacuum().unwrap_or_else(|e| e)
            ),
            Database::Postgres { .. } => format!(
                "as ingested, no ANALYZE yet (server autovacuum: {})",
                db.autovacuum().unwrap_or_else(|e| e)
            ),
            Database::Sqlite { .. } => "as ingested".to_string(),
        }];
        if matches!(db, Database::Postgres { .. }) {
            rounds.push("after ANALYZE".to_string());
        }
        for (n, label) in rounds.into_iter().enumerate() {
            if n > 0 {
                let t = Instant::now();
                eprintln!("== ANALYZE");
                db.analyze()?;
                eprintln!("   took {:.1} s", t.elapsed().as_secs_f64());
            }
            progress.phase(
                format!("lineage queries on provgraph/{}, {label}", db.kind()),
                "queries",
                0,
            );
            let before = cpu::Snapshot::take(Some(server.pid));
            let report = query::run(
                server.api,
                &query::KINDS,
                keys,
                w.builds,
                args.query_clients,
                args.query_seconds,
                Arc::clone(progress),
            )
            .await?;
            let cpu = before.usage(&cpu::Snapshot::take(Some(server.pid)));
            result.queries.push(QueryRound { label, report, cpu });
        }
        if keys.hub() >= 100 {
            let label = format!(
                "hub: a repository with {} images, first page of 100",
                int(keys.hub())
            );
            progress.phase(
                format!("hub queries on provgraph/{}", db.kind()),
                "queries",
                0,
            );
            let before = cpu::Snapshot::take(Some(server.pid));
            let report = query::run(
                server.api,
                &query::HUB_KINDS,
                keys,
                w.builds,
                args.query_clients,
                args.query_seconds,
                Arc::clone(progress),
            )
            .await?;
            let cpu = before.usage(&cpu::Snapshot::take(Some(server.pid)));
            result.queries.push(QueryRound { label, report, cpu });
        }
    } else if w.shape == "runtime" {
        result.sightings_written = query::metric(server.api, "provgraph_sightings_written_total")
            .await
            .ok();
    } else if w.shape == "realistic" {
        let q = format!(
            "{{ lineage(kind: ARTIFACT, key: \"{}\", direction: UPSTREAM) {{ nodes {{ kind key }} }} }}",
            keys.real_digest(w.builds / 2)
        );
        result.sanity = Some(query::check_one(server.api, q, 5).await);
    }
    result.rss_at_end = server.rss();
    result.peak_rss = server.peak_rss();
    progress.unwatch_server();
    eprintln!("== stop provgraph (SIGTERM)");
    result.stop = server.stop(Duration::from_secs(90)).await;
    result.log_problems = server::log_problems(&log, 5);
    if matches!(db, Database::Sqlite { .. }) {
        result.db_after_stop = db.size().ok();
    }
    result.tables = db.table_sizes();
    Ok(result)
}
