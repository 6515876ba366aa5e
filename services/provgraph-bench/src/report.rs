//! The Markdown report: the run's figures as tables, each beside the
//! ceiling it is compared with (the do-nothing receiver, the raw upserts)
//! and the machine's load, printed on stdout at the end of a run.

use crate::stats::{Summary, bytes, int, ms, rate};
use crate::{Args, QueryRound, RunResult, machine, sanitize};
use std::fmt::Write as _;
use std::time::Duration;

pub(crate) fn render(
    args: &Args,
    binary: &std::path::Path,
    postgres: Option<&str>,
    results: &[RunResult],
    load_start: &str,
    load_end: &str,
    total: Duration,
) -> String {
    let mut o = String::new();
    let db = match postgres {
        None => "SQLite".to_string(),
        Some(url) => format!("PostgreSQL ({})", sanitize(url)),
    };
    let _ = writeln!(
        o,
        "## provgraph-bench: {db}, {}, {} clients, {} spans/request\n",
        args.protocol.label(),
        args.concurrency,
        args.batch
    );
    let _ = writeln!(
        o,
        "Machine: {}. Load average at start {load_start}, at end {load_end}. Run took {:.0} s. Server: `{}`.\n",
        machine(),
        total.as_secs_f64(),
        binary.display()
    );
    let _ = writeln!(
        o,
        "### Ingest (a span counts once its request is acknowledged, i.e. committed)\n"
    );
    let _ = writeln!(
        o,
        "| shape | builds | spans | requests | MiB sent | seconds | spans/s | builds/s | do-nothing spans/s | provgraph / do-nothing | ack p50 ms | ack p99 ms | ack max ms | backpressure retries | failed requests | rejected spans |"
    );
    let _ = writeln!(
        o,
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    for r in results {
        let mut lat = r.ingest.ack_latency_us.clone();
        let s = Summary::of(&mut lat);
        let secs = r.ingest.elapsed.as_secs_f64().max(1e-9);
        let (base, ratio) = match &r.baseline {
            Some(b) => (
                rate(b.spans_per_second()),
                format!(
                    "{:.1}%",
                    100.0 * r.ingest.spans_per_second() / b.spans_per_second().max(1e-9)
                ),
            ),
            None => ("-".into(), "-".into()),
        };
        let retries = if r.ingest.retries.is_empty() {
            "0".to_string()
        } else {
            r.ingest
                .retries
                .iter()
                .map(|(k, v)| format!("{} {k}", int(*v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.shape,
            int(r.builds),
            int(r.spans),
            int(r.requests as u64),
            r.wire_bytes as f64 / (1u64 << 20) as f64,
            secs,
            rate(r.ingest.spans_per_second()),
            rate(r.builds as f64 / secs),
            base,
            ratio,
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            retries,
            int(r.ingest.failed),
            int(r.ingest.rejected_spans),
        );
    }
    for r in results {
        for QueryRound {
            label, report: q, ..
        } in &r.queries
        {
            let _ = writeln!(
                o,
                "\n### Lineage over GraphQL ({} clients, {:.0} s, graph of {} {} builds; {label})\n",
                args.query_clients,
                q.elapsed.as_secs_f64(),
                int(r.builds),
                r.shape
            );
            let _ = writeln!(
                o,
                "| query | answered | queries/s | p50 ms | p95 ms | p99 ms | max ms | errors | short answers |"
            );
            let _ = writeln!(o, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
            let secs = q.elapsed.as_secs_f64().max(1e-9);
            let mut all = Vec::new();
            let (mut errors, mut short) = (0, 0);
            for (kind, k) in q.asked.iter().zip(&q.kinds) {
                let mut lat = k.latency_us.clone();
                all.extend_from_slice(&lat);
                errors += k.errors;
                short += k.short;
                let s = Summary::of(&mut lat);
                let _ = writeln!(
                    o,
                    "| {} (≥ {} nodes) | {} | {} | {} | {} | {} | {} | {} | {} |",
                    kind.label(),
                    kind.expected_nodes(),
                    int(s.count as u64),
                    rate(s.count as f64 / secs),
                    ms(s.p50),
                    ms(s.p95),
                    ms(s.p99),
                    ms(s.max),
                    int(k.errors),
                    int(k.short)
                );
            }
            let s = Summary::of(&mut all);
            let _ = writeln!(
                o,
                "| **all** | {} | {} | {} | {} | {} | {} | {} | {} |",
                int(s.count as u64),
                rate(s.count as f64 / secs),
                ms(s.p50),
                ms(s.p95),
                ms(s.p99),
                ms(s.max),
                int(errors),
                int(short)
            );
        }
    }
    let _ = writeln!(o, "\n### Server\n");
    let _ = writeln!(
        o,
        "| shape | peak RSS (VmHWM) | RSS after ingest | RSS at end | database bytes, empty | database bytes after ingest | bytes per build (growth) | database bytes after stop | stop after SIGTERM | exit code | WARN/ERROR log lines |"
    );
    let _ = writeln!(o, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let opt_bytes = |b: Option<u64>| b.map(bytes).unwrap_or_else(|| "-".into());
    for r in results {
        let live = r.db_live.map(|d| {
            if d.wal > 0 {
                format!("{} (+ WAL {})", int(d.main), int(d.wal))
            } else {
                int(d.main)
            }
        });
        let empty = r.db_empty.map(|d| d.total()).unwrap_or(0);
        let per_build = r.db_live.map(|d| {
            int((d.total().saturating_sub(empty) as f64 / r.builds.max(1) as f64).round() as u64)
        });
        let after = r.db_after_stop.map(|d| int(d.total()));
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s | {} | {} |",
            r.shape,
            opt_bytes(r.peak_rss),
            opt_bytes(r.rss_after_ingest),
            opt_bytes(r.rss_at_end),
            r.db_empty
                .map(|d| int(d.total()))
                .unwrap_or_else(|| "-".into()),
            live.unwrap_or_else(|| "-".into()),
            per_build.unwrap_or_else(|| "-".into()),
            after.unwrap_or_else(|| "-".into()),
            r.stop.seconds,
            r.stop.exit,
            r.log_problems.0
        );
    }
    for r in results.iter().filter(|r| r.shape == "runtime") {
        let secs = r.ingest.elapsed.as_secs_f64().max(1e-9);
        let empty = r.db_empty.map(|d| d.total()).unwrap_or(0);
        let grown = r
            .db_after_stop
            .or(r.db_live)
            .map(|d| d.total().saturating_sub(empty));
        let _ = writeln!(
            o,
            "\n### Runtime telemetry: {} distinct (workload, image) pairs\n",
            int(r.builds)
        );
        let _ = writeln!(
            o,
            "Items are trace spans, metric data points and log records (each metrics and logs request carries {} of them). \
             Sighting rows written during ingest: {} ({} per second, over {:.1} s; bounded by pairs × flushes, not by volume). \
             Database growth{}: {} ({} per thousand pairs).",
            int(args.batch as u64),
            r.sightings_written.map(int).unwrap_or_else(|| "-".into()),
            r.sightings_written
                .map(|w| format!("{:.1}", w as f64 / secs))
                .unwrap_or_else(|| "-".into()),
            secs,
            if r.db_after_stop.is_some() {
                " after a clean stop"
            } else {
                " (live)"
            },
            grown.map(bytes).unwrap_or_else(|| "-".into()),
            grown
                .map(|g| bytes((g as f64 * 1000.0 / r.builds.max(1) as f64) as u64))
                .unwrap_or_else(|| "-".into()),
        );
    }
    let _ = writeln!(
        o,
        "\n### Database by table and index (at the end of the run)\n"
    );
    let _ = writeln!(
        o,
        "| shape | table or index | bytes | bytes per build |\n|---|---|--:|--:|"
    );
    for r in results {
        match &r.tables {
            Ok(rows) => {
                for (name, b) in rows.iter().take(14) {
                    let _ = writeln!(
                        o,
                        "| {} | {name} | {} | {} |",
                        r.shape,
                        int(*b),
                        int((*b as f64 / r.builds.max(1) as f64).round() as u64)
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(
                    o,
                    "| {} | (not measured: {}) | | |",
                    r.shape,
                    e.replace('|', "/")
                );
            }
        }
    }
    let _ = writeln!(
        o,
        "\n### Where the CPU went (cores busy, averaged over the phase; the machine has {})\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let _ = writeln!(o, "| phase | cores used |\n|---|---|");
    for r in results {
        let pg = postgres.is_some();
        if let Some(u) = &r.cpu_baseline {
            let _ = writeln!(
                o,
                "| do-nothing receiver, {} | {} |",
                r.shape,
                u.describe(false).replace("server 0.00, ", "")
            );
        }
        if let Some(u) = &r.cpu_ingest {
            let _ = writeln!(o, "| ingest, {} | {} |", r.shape, u.describe(pg));
        }
        for round in &r.queries {
            let _ = writeln!(
                o,
                "| lineage queries, {} | {} |",
                round.label,
                round.cpu.describe(pg)
            );
        }
    }
    let mut notes = Vec::new();
    for r in results {
        if let Some(b) = &r.baseline
            && (b.failed > 0 || b.retry_count() > 0)
        {
            notes.push(format!(
                "do-nothing receiver, {}: {} failed, {} retries: {}",
                r.shape,
                b.failed,
                b.retry_count(),
                b.messages.join(" | ")
            ));
        }
        for m in &r.ingest.messages {
            notes.push(format!("ingest {}: {m}", r.shape));
        }
        for round in &r.queries {
            for m in &round.report.messages {
                notes.push(format!("queries, {}: {m}", round.label));
            }
        }
        match &r.sanity {
            Some(Ok(())) => notes.push(format!(
                "{}: an artifact's upstream lineage holds its 5 nodes (checked once)",
                r.shape
            )),
            Some(Err(e)) => notes.push(format!("{}: sanity lineage query FAILED: {e}", r.shape)),
            None => {}
        }
        if let Some((runs, secs)) = r.analyze_runs {
            notes.push(format!(
                "ingest {}: ANALYZE ran {runs} times during ingest (--pg-analyze-every {}), {secs:.1} s in all",
                r.shape, args.pg_analyze_every
            ));
        }
        for line in &r.log_problems.1 {
            notes.push(format!("server log ({}): {line}", r.shape));
        }
        if args.keep {
            notes.push(format!("server log: {}", r.log_path.display()));
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(o, "\nNotes:\n");
        for n in notes {
            let _ = writeln!(o, "- {}", n.replace('\n', " "));
        }
    }
    o
}
