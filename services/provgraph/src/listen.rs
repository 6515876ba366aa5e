//! The listeners: one accept loop for all three ports (OTLP/gRPC, OTLP/HTTP,
//! API), serving HTTP/1.1 and HTTP/2 with hyper, optionally over TLS
//! (rustls), with explicit limits:
//!
//! - at most `max_connections` open connections per listener; past it a new
//!   connection is closed at once (the client sees a reset and retries),
//!   so a flood of connections costs a socket each, nothing more;
//! - a TLS handshake must finish within `handshake_timeout`, and handshakes
//!   run in their own tasks, so a client that stalls one holds no one else;
//! - HTTP/1.1 request headers must arrive within `header_read_timeout`
//!   (slow-header clients are cut off); bodies have their own limits in the
//!   receivers and the API;
//! - HTTP/2 connections are pinged every 30 s and closed when a ping is not
//!   answered within 20 s, and carry at most 256 concurrent streams;
//! - a connection with no request in flight for `idle_timeout` is closed,
//!   HTTP/2 included (answering pings is not use);
//! - one client address holds at most `max_connections_per_ip` of them;
//! - past the limit, a listener with a `spare_router` (the API: `/healthz`
//!   and `/readyz`) serves up to [`SPARE_CONNECTIONS`] more connections with
//!   it, each for one short exchange, so health answers while the slots are
//!   full.
//!
//! On shutdown the loop stops accepting and every open connection is asked
//! to finish what it is doing and close (HTTP/2 GOAWAY, HTTP/1.1 close after
//! the current response).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::connections::{Activity, Shares, Tracked};

/// Connections past the limit served by a listener's `spare_router`.
pub const SPARE_CONNECTIONS: usize = 16;

/// Limits of one listener.
#[derive(Clone, Debug)]
pub struct ListenLimits {
    pub max_connections: usize,
    /// Connections of one client address, at most.
    pub max_connections_per_ip: usize,
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    /// A connection with no request in flight this long is closed.
    pub idle_timeout: Duration,
    /// Served on up to [`SPARE_CONNECTIONS`] connections past the limit.
    pub spare_router: Option<Router>,
}

impl Default for ListenLimits {
    fn default() -> ListenLimits {
        ListenLimits {
            max_connections: 1024,
            max_connections_per_ip: 256,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            spare_router: None,
        }
    }
}

/// Counts of what the accept loop turned away.
#[derive(Debug, Default)]
pub struct ListenCounters {
    pub connections: AtomicU64,
    pub over_limit: AtomicU64,
    pub failed_handshakes: AtomicU64,
}

/// Reads a PEM certificate chain and private key into a TLS acceptor that
/// offers `alpn` (e.g. `h2` only for gRPC).
pub fn tls_acceptor(cert: &Path, key: &Path, alpn: &[&[u8]]) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|err| format!("cannot read TLS certificate {}: {err}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|err| format!("TLS certificate {}: {err}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "TLS certificate {}: no CERTIFICATE block in the file",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|err| format!("cannot read TLS private key {}: {err}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS setup: {err}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| format!("TLS certificate and key do not fit together: {err}"))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn transient(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for
/// open connections to finish (callers bound that wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    limits: ListenLimits,
    counters: Arc<ListenCounters>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let spare_slots = Arc::new(Semaphore::new(SPARE_CONNECTIONS));
    let shares = Shares::new(limits.max_connections_per_ip);
    // Set on shutdown: connections with no request in flight close at once
    // (those still being sniffed or handshaken too), the others after it.
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let builders = Arc::new(Builders::new(&limits));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) if transient(&err) => continue,
                Err(err) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %err, "accept failed; retrying in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let share = shares.take(peer.ip());
        let slot = share
            .as_ref()
            .and_then(|_| slots.clone().try_acquire_owned().ok());
        // Past the limit (or its client's share): the spare router, if any,
        // on a spare slot, for one short exchange.
        let (slot, router, idle_timeout) = match (slot, &limits.spare_router) {
            (Some(slot), _) => (slot, router.clone(), limits.idle_timeout),
            (None, Some(spare)) if spare_slots.available_permits() > 0 => {
                let Ok(slot) = spare_slots.clone().try_acquire_owned() else {
                    continue;
                };
                (
                    slot,
                    spare.clone(),
                    limits.header_read_timeout.min(Duration::from_secs(5)),
                )
            }
            (None, _) => {
                counters.over_limit.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, limit = limits.max_connections, per_ip = limits.max_connections_per_ip, "connection closed: too many open connections");
                drop(stream);
                continue;
            }
        };
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let service = TowerToHyperService::new(Tracked {
            inner: router,
            activity: activity.clone(),
        });
        let builders = builders.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let counters = counters.clone();
        let limits = limits.clone();
        let mut closing = closing.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _share = share;
            let served = async {
                match tls {
                    None => {
                        // The first bytes say which protocol: the HTTP/2 preface
                        // starts "PRI". A client that sends nothing within the
                        // header timeout is closed.
                        let Some(h2) = sniff_h2(&stream, limits.header_read_timeout).await else {
                            tracing::debug!(%peer, "connection closed: nothing sent within the header timeout");
                            return Ok(());
                        };
                        let conn = builders
                            .pick(h2)
                            .serve_connection_with_upgrades(TokioIo::new(stream), service);
                        watcher.watch(conn.into_owned()).await
                    }
                    Some(acceptor) => {
                        match tokio::time::timeout(
                            limits.handshake_timeout,
                            acceptor.accept(stream),
                        )
                        .await
                        {
                            Ok(Ok(stream)) => {
                                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                                let conn = builders
                                    .pick(h2)
                                    .serve_connection_with_upgrades(TokioIo::new(stream), service);
                                watcher.watch(conn.into_owned()).await
                            }
                            Ok(Err(err)) => {
                                counters.failed_handshakes.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!(%peer, error = %err, "TLS handshake failed");
                                Ok(())
                            }
                            Err(_) => {
                                counters.failed_handshakes.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!(%peer, "TLS handshake timed out");
                                Ok(())
                            }
                        }
                    }
                }
            };
            let result = tokio::select! {
                result = served => result,
                () = activity.idle_for(idle_timeout) => {
                    tracing::debug!(%peer, "connection closed: idle");
                    Ok(())
                }
                () = async {
                    let _ = closing.wait_for(|closing| *closing).await;
                    activity.idle_for(Duration::ZERO).await;
                } => Ok(()),
            };
            if let Err(err) = result {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    closing_tx.send_replace(true);
    graceful.shutdown().await;
}

/// One connection builder per protocol, so that hyper never waits to guess
/// the protocol itself (its guess has no timeout).
struct Builders {
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

impl Builders {
    fn new(limits: &ListenLimits) -> Builders {
        let mut http1 = auto::Builder::new(TokioExecutor::new()).http1_only();
        http1
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let mut http2 = auto::Builder::new(TokioExecutor::new()).http2_only();
        http2
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(256)
            .keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20));
        Builders { http1, http2 }
    }

    fn pick(&self, h2: bool) -> &auto::Builder<TokioExecutor> {
        if h2 { &self.http2 } else { &self.http1 }
    }
}

/// Waits (at most `within`) for the first three bytes of a plain
/// connection: `Some(true)` for the HTTP/2 preface, `Some(false)` for
/// anything else, `None` when the client sent nothing in time or left.
async fn sniff_h2(stream: &tokio::net::TcpStream, within: Duration) -> Option<bool> {
    let look = async {
        let mut buf = [0u8; 3];
        loop {
            match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) if n >= 3 => return Some(&buf == b"PRI"),
                Ok(n) if buf[..n] != b"PRI"[..n] => return Some(false),
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    tokio::time::timeout(within, look).await.ok().flatten()
}
