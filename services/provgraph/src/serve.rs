//! `provgraph serve`: opens the store (running migrations), binds the three
//! listeners, serves until SIGTERM or SIGINT, then stops accepting, finishes
//! in-flight requests, drains the ingest queue and exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use provgraph_api::ApiLimits;
use provgraph_collector::{Collector, Limits};
use provgraph_model::{Mapping, UserMapping};
use provgraph_signatures::TrustPolicy;
use provgraph_store::ingest::{Ingest, IngestConfig};
use provgraph_store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
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
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the server; the exit code says how it ended.
pub fn main(args: ServeArgs) -> ExitCode {
    init_logging(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
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

async fn serve(args: ServeArgs) -> Result<(), String> {
    let policy = Arc::new(load_policy(args.trust_policy.as_deref())?);
    let mapping = load_mapping(args.attribute_map.as_deref())?;
    let store = Store::connect(&args.database_url, &StoreOptions::default())
        .await
        .map_err(|err| format!("cannot open database: {err}"))?;
    // A changed policy (a new key, a removed identity) re-evaluates what is
    // stored before anything is served.
    match provgraph_api::evidence::reverify_stored(&store, policy.clone()).await {
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
    let grpc_listener = bind(args.otlp_grpc, "OTLP/gRPC").await?;
    let http_listener = bind(args.otlp_http, "OTLP/HTTP").await?;
    let api_listener = bind(args.api, "the GraphQL API").await?;
    let local = |l: &TcpListener| l.local_addr().map_err(|err| err.to_string());
    let (grpc_addr, http_addr, api_addr) = (
        local(&grpc_listener)?,
        local(&http_listener)?,
        local(&api_listener)?,
    );

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
            ..Limits::default()
        },
        mapping,
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let grpc = tonic::transport::Server::builder()
        .layer(tower::util::MapResponseLayer::new(
            provgraph_collector::grpc::remap_status::<tonic::body::Body>,
        ))
        .add_service(provgraph_collector::grpc::service(collector.clone()))
        .serve_with_incoming_shutdown(
            TcpListenerStream::new(grpc_listener),
            stopped(stop_rx.clone()),
        );
    let http = axum::serve(
        http_listener,
        provgraph_collector::http::router(collector.clone()),
    )
    .with_graceful_shutdown(stopped(stop_rx.clone()));
    let api = axum::serve(
        api_listener,
        provgraph_api::router(store.clone(), ApiLimits::default(), policy),
    )
    .with_graceful_shutdown(stopped(stop_rx.clone()));
    let grpc = tokio::spawn(grpc);
    let http = tokio::spawn(async move { http.await });
    let api = tokio::spawn(async move { api.await });

    tracing::info!(
        database = store.backend_name(),
        otlp_grpc = %grpc_addr,
        otlp_http = %http_addr,
        api = %api_addr,
        "provgraph serving"
    );
    // One line on stdout for scripts and tests that start us on port 0.
    println!("provgraph ready: otlp-grpc={grpc_addr} otlp-http={http_addr} api={api_addr}");

    shutdown_signal().await;
    tracing::info!("shutting down: no new connections; finishing in-flight requests");
    let _ = stop_tx.send(true);
    let mut failed = Vec::new();
    let grace = Duration::from_secs(args.shutdown_grace);
    let servers = async {
        let grpc = grpc.await.map(|r| r.map_err(|err| err.to_string()));
        let http = http.await.map(|r| r.map_err(|err| err.to_string()));
        let api = api.await.map(|r| r.map_err(|err| err.to_string()));
        [
            ("OTLP/gRPC server", grpc),
            ("OTLP/HTTP server", http),
            ("API server", api),
        ]
    };
    match tokio::time::timeout(grace, servers).await {
        Ok(results) => {
            for (name, result) in results {
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => failed.push(format!("{name}: {err}")),
                    Err(err) => failed.push(format!("{name}: {err}")),
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
    store.close().await;
    if failed.is_empty() {
        tracing::info!("stopped");
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}
