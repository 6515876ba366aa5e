//! `provgraph serve`: opens the store (running migrations), binds the three
//! listeners, serves until SIGTERM or SIGINT, then stops accepting, finishes
//! in-flight requests, drains the ingest queue and exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{self, Gate, Role, Tokens, Wire};
use crate::listen::{self, ListenCounters, ListenLimits};
use crate::webhooks;
use clap::Args;
use provgraph_api::ApiLimits;
use provgraph_collector::admission::{self, Admission};
use provgraph_collector::{Collector, Limits};
use provgraph_model::{Mapping, UserMapping};
use provgraph_signatures::TrustPolicy;
use provgraph_store::ingest::{Ingest, IngestConfig};
use provgraph_store::{SightingConfig, Store, StoreOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Database: sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "PROVGRAPH_DATABASE_URL",
        default_value = "sqlite://provgraph.db"
    )]
    database_url: String,
    /// OTLP/gRPC receiver address.
    #[arg(long, env = "PROVGRAPH_OTLP_GRPC", default_value = "127.0.0.1:4317")]
    otlp_grpc: SocketAddr,
    /// OTLP/HTTP receiver address.
    #[arg(long, env = "PROVGRAPH_OTLP_HTTP", default_value = "127.0.0.1:4318")]
    otlp_http: SocketAddr,
    /// GraphQL API and health address.
    #[arg(long, env = "PROVGRAPH_API", default_value = "127.0.0.1:8080")]
    api: SocketAddr,
    /// Largest OTLP request in bytes, before and after decompression.
    #[arg(long, env = "PROVGRAPH_MAX_REQUEST_BYTES", default_value_t = 64 * 1024 * 1024)]
    max_request_bytes: usize,
    /// Resources in one OTLP request, at most (counted before decoding).
    #[arg(
        long,
        env = "PROVGRAPH_MAX_REQUEST_RESOURCES",
        default_value_t = 10_000
    )]
    max_request_resources: usize,
    /// Spans, data points and log records in one OTLP request, at most.
    #[arg(long, env = "PROVGRAPH_MAX_REQUEST_ITEMS", default_value_t = 200_000)]
    max_request_items: usize,
    /// Attributes (at every level) in one OTLP request, at most.
    #[arg(
        long,
        env = "PROVGRAPH_MAX_REQUEST_ATTRIBUTES",
        default_value_t = 2_000_000
    )]
    max_request_attributes: usize,
    /// Estimated bytes of one OTLP request once decoded, at most; the
    /// estimate is also charged to --max-inflight-bytes.
    #[arg(long, env = "PROVGRAPH_MAX_DECODED_BYTES", default_value_t = 128 * 1024 * 1024)]
    max_decoded_bytes: usize,
    /// Span facts waiting for commit, at most; past it exports get 503 / UNAVAILABLE.
    #[arg(long, env = "PROVGRAPH_MAX_QUEUED_FACTS", default_value_t = 262_144)]
    max_queued_facts: usize,
    /// Log format: text or json. Levels come from RUST_LOG (default info).
    #[arg(long, env = "PROVGRAPH_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// Seconds to wait for in-flight requests after SIGTERM/SIGINT before
    /// closing the remaining connections.
    #[arg(long, env = "PROVGRAPH_SHUTDOWN_GRACE", default_value_t = 10)]
    shutdown_grace: u64,
    /// Extra attribute names to read facts from (TOML: `commit = ["my.sha"]`,
    /// also build_id, pipeline, repository, branch, gomod); read after the
    /// built-in names (docs/attributes.md).
    #[arg(long, env = "PROVGRAPH_ATTRIBUTE_MAP")]
    attribute_map: Option<PathBuf>,
    /// Trust policy (TOML) for signature evidence.
    #[arg(long, env = "PROVGRAPH_TRUST_POLICY")]
    trust_policy: Option<PathBuf>,
    /// Bearer tokens (TOML: `[[ingest]]` and `[[read]]` entries with a
    /// `name` and a `sha256` or `token`; see SECURITY.md). A role with no
    /// tokens is open.
    #[arg(long, env = "PROVGRAPH_TOKENS")]
    tokens: Option<PathBuf>,
    /// TLS certificate chain (PEM) for every listener; needs --tls-key.
    #[arg(long, env = "PROVGRAPH_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM: PKCS#8, PKCS#1 or SEC1); needs --tls-cert.
    #[arg(long, env = "PROVGRAPH_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Open connections per listener, at most; past it new ones are closed.
    #[arg(long, env = "PROVGRAPH_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Open connections of one client address per listener, at most (so one
    /// client cannot take every slot); past it new ones are closed.
    #[arg(long, env = "PROVGRAPH_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    max_connections_per_ip: usize,
    /// Seconds a connection may stay open with no request in flight
    /// (HTTP/1.1 keep-alive and HTTP/2 alike) before it is closed.
    #[arg(long, env = "PROVGRAPH_IDLE_TIMEOUT", default_value_t = 60)]
    idle_timeout: u64,
    /// Seconds a client may take to send HTTP/1.1 request headers, and to
    /// finish a TLS handshake; slower connections are closed.
    #[arg(long, env = "PROVGRAPH_HEADER_TIMEOUT", default_value_t = 30)]
    header_timeout: u64,
    /// OTLP request bytes held at once across all requests (read,
    /// decompressed, being decoded); past it exports get 429 / UNAVAILABLE.
    #[arg(long, env = "PROVGRAPH_MAX_INFLIGHT_BYTES", default_value_t = 256 * 1024 * 1024)]
    max_inflight_bytes: usize,
    /// How often a workload's last sighting (kept in memory, shown at once)
    /// is written to the database: each (workload, image) pair at most once
    /// per interval. A restart loses at most this much of `lastSeen`.
    /// A duration: 30s, 5m, 1h, 7d.
    #[arg(long, env = "PROVGRAPH_SIGHTING_FLUSH_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    sighting_flush_interval: Duration,
    /// Sightings of a workload running an image not seen for longer are
    /// pruned, and workloads left with none; builds, commits, signatures and
    /// their evidence are never pruned by age. A duration: 30d, 12h.
    #[arg(long, env = "PROVGRAPH_WORKLOAD_RETENTION", default_value = "30d", value_parser = parse_duration)]
    workload_retention: Duration,
    /// A trace UI's link for a trace id, `{traceId}` replaced by the 32 hex
    /// digits (e.g. `https://tempo.example/trace/{traceId}`): shown as
    /// `Evidence.traceUrl` in GraphQL.
    #[arg(long, env = "PROVGRAPH_TRACE_URL_TEMPLATE")]
    trace_url_template: Option<String>,
    /// Post every event (CloudEvents 1.0, structured JSON) to this URL;
    /// repeatable (env: comma-separated). Plain http:// only.
    #[arg(long = "webhook", env = "PROVGRAPH_WEBHOOKS", value_delimiter = ',')]
    webhooks: Vec<String>,
    /// Sign each webhook delivery: `X-Provgraph-Signature: sha256=<hex
    /// HMAC-SHA256 of the body under this secret>`.
    #[arg(long, env = "PROVGRAPH_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// A webhook delivery still failing this long after its first try is
    /// given up (counted in provgraph_webhook_given_up_total). A duration.
    #[arg(long, env = "PROVGRAPH_WEBHOOK_RETRY_HORIZON", default_value = "1h", value_parser = parse_duration)]
    webhook_retry_horizon: Duration,
}

/// A duration as `NUMBER` + `ms`, `s`, `m`, `h` or `d` (`30s`, `30d`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        format!("{text:?} is not a duration: write a number and a unit, as 30s, 5m, 12h or 30d")
    })?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?}; use ms, s, m, h or d"
            ));
        }
    };
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: a log file or collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the server; the exit code says how it ended.
pub fn main(args: ServeArgs) -> ExitCode {
    init_logging(args.log_format);
    // One worker thread more than the cores: GraphQL runs at most one query
    // per core at once (provgraph-api's query slots), so a worker is always
    // left for the OTLP listeners and /healthz.
    let workers = std::thread::available_parallelism().map_or(2, |cores| cores.get() + 1);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("provgraph: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("provgraph: {message}");
            ExitCode::from(2)
        }
    }
}

/// Reads the user's attribute mapping, added to the built-in names.
fn load_mapping(path: Option<&std::path::Path>) -> Result<Mapping, String> {
    let Some(path) = path else {
        return Ok(Mapping::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read attribute map {}: {err}", path.display()))?;
    let user: UserMapping = toml::from_str(&text).map_err(|err| {
        format!(
            "attribute map {}: {}",
            path.display(),
            err.to_string().replace('\n', " ")
        )
    })?;
    Ok(Mapping::with_user(&user))
}

/// Reads the trust policy, or the default one (the built-in production
/// root; no key or identity trusted).
pub fn load_policy(path: Option<&std::path::Path>) -> Result<TrustPolicy, String> {
    match path {
        None => Ok(TrustPolicy::default()),
        Some(path) => TrustPolicy::from_toml_file(path).map_err(|err| err.to_string()),
    }
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|err| {
        let reason = match err.kind() {
            std::io::ErrorKind::AddrInUse => "address already in use".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => err.to_string(),
        };
        format!("cannot listen on {addr} for {what}: {reason}")
    })
}

/// SIGTERM or SIGINT. The SIGTERM handler is installed when this is
/// called, not when the future is first polled: called before the ready
/// line, a SIGTERM sent right after that line (a test that is quick, a
/// busy machine) stops the server gracefully instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match term {
                Ok(term) => term,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for SIGTERM; only SIGINT stops the server");
                    let _ = ctrl_c.await;
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let policy = Arc::new(load_policy(args.trust_policy.as_deref())?);
    let mapping = load_mapping(args.attribute_map.as_deref())?;
    let store = Store::connect(&args.database_url, &StoreOptions::default())
        .await
        .map_err(|err| format!("cannot open database: {err}"))?;
    // A changed policy (a new key, a removed identity) re-evaluates what is
    // stored before anything is served.
    match provgraph_evidence::reverify_stored(&store, policy.clone()).await {
        Ok((changed, checked)) if checked > 0 => {
            tracing::info!(
                checked,
                changed,
                "stored signatures verified against the trust policy"
            )
        }
        Ok(_) => {}
        Err(err) => return Err(format!("cannot re-verify stored signatures: {err}")),
    }
    let tokens = Arc::new(match &args.tokens {
        Some(path) => Tokens::from_file(path)?,
        None => Tokens::default(),
    });
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some((
            listen::tls_acceptor(cert, key, &[b"h2"])?,
            listen::tls_acceptor(cert, key, &[b"h2", b"http/1.1"])?,
        )),
        _ => None,
    };
    let grpc_listener = bind(args.otlp_grpc, "OTLP/gRPC").await?;
    let http_listener = bind(args.otlp_http, "OTLP/HTTP").await?;
    let api_listener = bind(args.api, "the GraphQL API").await?;
    let local = |l: &TcpListener| l.local_addr().map_err(|err| err.to_string());
    let (grpc_addr, http_addr, api_addr) = (
        local(&grpc_listener)?,
        local(&http_listener)?,
        local(&api_listener)?,
    );
    warn_if_exposed(&[grpc_addr, http_addr, api_addr], &tokens, tls.is_some());

    if args.sighting_flush_interval > Duration::from_secs(15) {
        tracing::info!(
            interval = ?args.sighting_flush_interval,
            "sightings reach the database once per interval; queries see them at once"
        );
    }
    let sightings = store.start_sightings(SightingConfig {
        flush_interval: args.sighting_flush_interval,
        retention: args.workload_retention,
        ..SightingConfig::default()
    });
    // New modules and go.mod files are matched against the imported
    // vulnerability records after the writer commits (at most every second),
    // off the ingest path.
    let matcher = store.start_vuln_matcher(Duration::from_secs(1));
    let (ingest, writer) = Ingest::start(
        store.clone(),
        IngestConfig {
            max_queued_facts: args.max_queued_facts,
            ..IngestConfig::default()
        },
    );
    let collector = Collector::with_mapping(
        ingest,
        Limits {
            max_request_bytes: args.max_request_bytes,
            request: provgraph_otlp::cost::RequestLimits {
                max_resources: args.max_request_resources,
                max_items: args.max_request_items,
                max_attributes: args.max_request_attributes,
                max_decoded_bytes: args.max_decoded_bytes,
            },
            ..Limits::default()
        },
        mapping,
    );
    let admission = Admission::new(&collector, args.max_inflight_bytes);
    let gate = |role, wire| {
        axum::middleware::from_fn_with_state(
            Gate {
                tokens: tokens.clone(),
                role,
                wire,
            },
            auth::require,
        )
    };
    let admit = || axum::middleware::from_fn_with_state(admission.clone(), admission::admit);

    // Layers run outside in: the gate first (no budget spent on strangers),
    // then admission, then the receiver.
    let grpc_router = provgraph_collector::grpc::routes(collector.clone())
        .prepare()
        .into_axum_router()
        .layer(tower::util::MapResponseLayer::new(
            provgraph_collector::grpc::remap_status::<axum::body::Body>,
        ))
        .layer(admit())
        .layer(axum::middleware::from_fn(
            provgraph_collector::grpc::require_grpc,
        ))
        .layer(gate(Role::Ingest, Wire::Grpc));
    let http_router = provgraph_collector::http::router(collector.clone(), admission.clone())
        .layer(gate(Role::Ingest, Wire::Otlp));
    let listen_counters: [Arc<ListenCounters>; 3] = Default::default();
    let api_limits = ApiLimits {
        trace_url_template: args.trace_url_template.clone(),
        ..ApiLimits::default()
    };
    let api_parts = provgraph_api::routers(store.clone(), api_limits, policy);
    // The verdict tracker and the subscription feed, then one webhook
    // dispatcher per endpoint: all read the outbox, none is on the ingest path.
    webhooks::check_endpoints(&args.webhooks)?;
    let mut event_tasks = api_parts.events.start().await;
    let (webhook_tasks, webhook_metrics) = webhooks::start(
        store.clone(),
        api_parts.events.clone(),
        &args.webhooks,
        webhooks::WebhookConfig {
            retry_horizon: args.webhook_retry_horizon,
            secret: args.webhook_secret.clone(),
        },
    )
    .await?;
    event_tasks.extend(webhook_tasks);
    let metrics = {
        let collector = collector.clone();
        let admission = admission.clone();
        let listen_counters = listen_counters.clone();
        let store = store.clone();
        let webhook_metrics = webhook_metrics.clone();
        axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || async move {
                let mut text = metrics_text(&collector, &admission, &listen_counters);
                text.push_str(&store.sighting_metrics());
                text.push_str(&webhook_metrics.text());
                text.push_str(&webhooks::running_text(&store).await);
                text
            }),
        )
    };
    let api_router = api_parts
        .read
        .merge(metrics)
        .layer(gate(Role::Read, Wire::Json))
        .merge(api_parts.write.layer(gate(Role::Ingest, Wire::Json)))
        .merge(api_parts.open.clone())
        .merge(api_parts.ui_open)
        .merge(provgraph_api::ws::router(&api_parts.events, {
            // The header, or connection_init's payload (browsers).
            let tokens = tokens.clone();
            Arc::new(move |headers: &axum::http::HeaderMap| {
                tokens.check(Role::Read, headers).is_ok()
            })
        }));

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let limits = ListenLimits {
        max_connections: args.max_connections,
        max_connections_per_ip: args.max_connections_per_ip,
        header_read_timeout: Duration::from_secs(args.header_timeout.max(1)),
        handshake_timeout: Duration::from_secs(args.header_timeout.clamp(1, 10)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        spare_router: None,
    };
    let api_listen_limits = ListenLimits {
        spare_router: Some(api_parts.open),
        ..limits.clone()
    };
    let (grpc_tls, http_tls) = match tls {
        Some((grpc, http)) => (Some(grpc), Some(http)),
        None => (None, None),
    };
    let [grpc_counters, http_counters, api_counters] = listen_counters;
    let grpc = tokio::spawn(listen::serve(
        grpc_listener,
        grpc_router,
        grpc_tls,
        limits.clone(),
        grpc_counters,
        stopped(stop_rx.clone()),
    ));
    let http = tokio::spawn(listen::serve(
        http_listener,
        http_router,
        http_tls.clone(),
        limits.clone(),
        http_counters,
        stopped(stop_rx.clone()),
    ));
    let api = tokio::spawn(listen::serve(
        api_listener,
        api_router,
        http_tls,
        api_listen_limits,
        api_counters,
        stopped(stop_rx.clone()),
    ));

    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        database = store.backend_name(),
        otlp_grpc = %grpc_addr,
        otlp_http = %http_addr,
        api = %api_addr,
        tls = args.tls_cert.is_some(),
        ingest_tokens = ?tokens.names(Role::Ingest),
        read_tokens = ?tokens.names(Role::Read),
        "provgraph serving ({scheme})"
    );
    let stop_signal = shutdown_signal();
    // One line on stdout for scripts and tests that start us on port 0.
    println!("provgraph ready: otlp-grpc={grpc_addr} otlp-http={http_addr} api={api_addr}");

    stop_signal.await;
    tracing::info!("shutting down: no new connections; finishing in-flight requests");
    let _ = stop_tx.send(true);
    let mut failed = Vec::new();
    let grace = Duration::from_secs(args.shutdown_grace);
    let servers = async {
        [
            ("OTLP/gRPC server", grpc.await),
            ("OTLP/HTTP server", http.await),
            ("API server", api.await),
        ]
    };
    match tokio::time::timeout(grace, servers).await {
        Ok(results) => {
            for (name, result) in results {
                if let Err(err) = result {
                    failed.push(format!("{name}: {err}"));
                }
            }
        }
        // Idle connections kept open by clients do not hold us: requests
        // still running past the grace period are cut off (their senders
        // saw no acknowledgement and will retry).
        Err(_) => tracing::warn!(
            grace_seconds = args.shutdown_grace,
            "connections still open after the grace period; closing them"
        ),
    }
    // Every receiver is gone: the writer drains what is queued and stops.
    drop(collector);
    if tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .is_err()
    {
        failed.push("ingest writer did not finish within 30 s".to_string());
    }
    // Memory's last sightings go to the database before it closes.
    store.close().await;
    sightings.abort();
    matcher.abort();
    for task in event_tasks {
        task.abort();
    }
    if failed.is_empty() {
        tracing::info!("stopped");
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// Warns when a listener is reachable from other hosts without tokens or
/// TLS: spans would then be claims anyone on the network can make.
fn warn_if_exposed(addrs: &[SocketAddr], tokens: &Tokens, tls: bool) {
    let exposed: Vec<String> = addrs
        .iter()
        .filter(|a| !a.ip().is_loopback())
        .map(|a| a.to_string())
        .collect();
    if exposed.is_empty() {
        return;
    }
    if !tokens.required(Role::Ingest) {
        tracing::warn!(listeners = ?exposed, "listening beyond loopback without ingest tokens: anyone who can connect can write claims (see SECURITY.md, --tokens)");
    }
    if !tls {
        tracing::warn!(listeners = ?exposed, "listening beyond loopback without TLS: tokens and data cross the network in clear (--tls-cert, --tls-key)");
    }
}

/// `/metrics`: the receivers' counters, the admission budget and the
/// listeners' counters, Prometheus text format.
fn metrics_text(
    collector: &Collector,
    admission: &Admission,
    listeners: &[Arc<ListenCounters>; 3],
) -> String {
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = collector.metrics();
    let _ = write!(
        out,
        "# HELP provgraph_admission_bytes_in_use OTLP request bytes held by requests in flight.\n# TYPE provgraph_admission_bytes_in_use gauge\nprovgraph_admission_bytes_in_use {}\n",
        admission.in_use()
    );
    type Read = fn(&ListenCounters) -> u64;
    let families: [(&str, &str, Read); 3] = [
        (
            "provgraph_connections_total",
            "Connections accepted.",
            |c| c.connections.load(Relaxed),
        ),
        (
            "provgraph_connections_over_limit_total",
            "Connections closed at once: the listener was at --max-connections.",
            |c| c.over_limit.load(Relaxed),
        ),
        (
            "provgraph_tls_handshake_failures_total",
            "TLS handshakes that failed or timed out.",
            |c| c.failed_handshakes.load(Relaxed),
        ),
    ];
    for (name, help, read) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (listener, counters) in ["otlp-grpc", "otlp-http", "api"].iter().zip(listeners) {
            let _ = writeln!(out, "{name}{{listener=\"{listener}\"}} {}", read(counters));
        }
    }
    out
}
