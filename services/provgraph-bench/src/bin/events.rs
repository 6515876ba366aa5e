//! `events`: what webhooks and the verdict endpoint cost (issue #15). Two
//! fresh SQLite servers in one run: ingest of `--builds` builds (OTLP/JSON,
//! `--concurrency` senders) with no webhook, then with one webhook to a
//! local receiver (answering 204 at once); deliveries per second until the
//! receiver has every event (artifact.built and verdict.changed for each
//! build); then `GET /v1/verdict/DIGEST` for known digests from `--clients`
//! clients for `--seconds`: p50, p99 and queries per second. Prints Markdown
//! with the load average beside every figure.
//!
//! ```sh
//! cargo build --release -p provgraph -p provgraph-bench
//! target/release/events --provgraph target/release/provgraph --builds 100000
//! ```

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(name = "events")]
struct Args {
    /// The provgraph binary (a release build).
    #[arg(long)]
    provgraph: PathBuf,
    /// Builds ingested into each server.
    #[arg(long, default_value_t = 100_000)]
    builds: u64,
    /// Builds per OTLP request.
    #[arg(long, default_value_t = 500)]
    batch: u64,
    /// OTLP senders at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Verdict endpoint clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Seconds of verdict queries.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn digest(n: u64) -> String {
    format!("sha256:{:064x}", 0xbe0c_0000_0000u64 + n)
}

/// One OTLP/JSON request: builds `first..first+count`, one span each.
fn request(first: u64, count: u64) -> String {
    let attr = |k: &str, v: String| json!({"key": k, "value": {"stringValue": v}});
    let spans: Vec<serde_json::Value> = (first..first + count)
        .map(|b| {
            json!({
                "traceId": format!("{:032x}", 0x5eed_0000_0000u64 + b),
                "spanId": "0102030405060708",
                "name": "release",
                "attributes": [
                    attr("cicd.pipeline.run.id", format!("run-{b}")),
                    attr("vcs.ref.head.revision", format!("{:040x}", b % 1000 + 1)),
                    attr("vcs.repository.url.full", format!("https://github.com/bench/repo-{}", b % 50)),
                    attr("oci.manifest.digest", digest(b)),
                ],
            })
        })
        .collect();
    json!({"resourceSpans": [{"resource": {"attributes": [attr("service.name", "ci".into())]},
        "scopeSpans": [{"spans": spans}]}]})
    .to_string()
}

struct Server {
    child: Child,
    http: String,
    api: String,
    _dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start(binary: &PathBuf, name: &str, extra: &[String]) -> Result<Server, String> {
    let dir = std::env::temp_dir().join(format!("provgraph-events-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut child = Command::new(binary)
        .args(["serve", "--database-url"])
        .arg(format!("sqlite://{}", dir.join("bench.db").display()))
        .args([
            "--otlp-grpc",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let address = |name: &str| {
        line.split_whitespace()
            .find_map(|part| part.strip_prefix(&format!("{name}=")).map(str::to_string))
            .ok_or(format!("no {name} in the ready line {line:?}"))
    };
    Ok(Server {
        http: address("otlp-http")?,
        api: address("api")?,
        child,
        _dir: dir,
    })
}

/// Sends every build; returns the seconds it took.
async fn ingest(server: &Server, args: &Args) -> Result<f64, String> {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..args.concurrency {
        let (client, next, url) = (
            client.clone(),
            next.clone(),
            format!("http://{}/v1/traces", server.http),
        );
        let (builds, batch) = (args.builds, args.batch);
        senders.push(tokio::spawn(async move {
            loop {
                let first = next.fetch_add(batch, Ordering::SeqCst);
                if first >= builds {
                    return Ok::<(), String>(());
                }
                let body = request(first, batch.min(builds - first));
                loop {
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if response.status().is_success() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    for sender in senders {
        sender.await.map_err(|e| e.to_string())??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// A receiver answering 204 to every POST, counting them.
async fn receiver(count: Arc<AtomicU64>) -> Result<String, String> {
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let count = count.clone();
                    async move {
                        use http_body_util::BodyExt;
                        let _ = request.into_body().collect().await;
                        count.fetch_add(1, Ordering::Relaxed);
                        let mut response =
                            hyper::Response::new(http_body_util::Empty::<bytes::Bytes>::new());
                        *response.status_mut() = hyper::StatusCode::NO_CONTENT;
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}/hook"))
}

/// Verdict queries from `clients` for `seconds`: (p50 ms, p99 ms, q/s).
async fn verdicts(server: &Server, args: &Args) -> Result<(f64, f64, f64, String), String> {
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let mut clients = Vec::new();
    for c in 0..args.clients {
        let url = format!("http://{}/v1/verdict/", server.api);
        let builds = args.builds;
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut samples = Vec::new();
            let mut n = c as u64 * 7919;
            let mut last = String::new();
            while Instant::now() < deadline {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407)
                    % builds.max(1);
                let t = Instant::now();
                let response = client
                    .get(format!("{url}{}", digest(n)))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response.text().await.map_err(|e| e.to_string())?;
                samples.push(t.elapsed());
                if status != 200 {
                    return Err(format!("HTTP {status}: {body}"));
                }
                last = body;
            }
            Ok::<_, String>((samples, last))
        }));
    }
    let mut all = Vec::new();
    let mut example = String::new();
    for client in clients {
        let (samples, last) = client.await.map_err(|e| e.to_string())??;
        all.extend(samples);
        example = last;
    }
    all.sort();
    let at = |q: f64| all[((all.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    Ok((at(0.5), at(0.99), all.len() as f64 / args.seconds, example))
}

async fn run(args: Args) -> Result<(), String> {
    let events_expected = 2 * args.builds;
    println!(
        "Events and verdicts, {} builds (one span each, OTLP/JSON, {} per request, {} senders), SQLite; `events --builds {}`\n",
        args.builds, args.batch, args.concurrency, args.builds
    );
    println!("| run | figure | load average |\n|---|---|---|");
    let off = start(&args.provgraph, "off", &[])?;
    let load = loadavg();
    let seconds_off = ingest(&off, &args).await?;
    println!(
        "| webhooks off | ingest {:.0} builds/s ({seconds_off:.1} s) | {load} → {} |",
        args.builds as f64 / seconds_off,
        loadavg()
    );
    drop(off);

    let count = Arc::new(AtomicU64::new(0));
    let hook = receiver(count.clone()).await?;
    let on = start(&args.provgraph, "on", &["--webhook".into(), hook])?;
    let load = loadavg();
    let started = Instant::now();
    let seconds_on = ingest(&on, &args).await?;
    println!(
        "| one webhook | ingest {:.0} builds/s ({seconds_on:.1} s), {:+.1}% against off | {load} → {} |",
        args.builds as f64 / seconds_on,
        (seconds_off / seconds_on - 1.0) * 100.0,
        loadavg()
    );
    let wait_until = Instant::now() + Duration::from_secs(1800);
    while count.load(Ordering::Relaxed) < events_expected && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = count.load(Ordering::Relaxed);
    let total = started.elapsed().as_secs_f64();
    println!(
        "| one webhook | {delivered} of {events_expected} events delivered {total:.1} s after ingest began: {:.0} deliveries/s | {} |",
        delivered as f64 / total,
        loadavg()
    );
    let load = loadavg();
    let (p50, p99, qps, example) = verdicts(&on, &args).await?;
    println!(
        "| verdict endpoint, {} clients, {:.0} s, known digests | p50 {p50:.2} ms, p99 {p99:.2} ms, {qps:.0} q/s | {load} → {} |",
        args.clients,
        args.seconds,
        loadavg()
    );
    println!("\nAn answer: `{example}`");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("events: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("events: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
