//! What one connection may hold: its idle time (no request in flight, on
//! HTTP/1.1 and HTTP/2 alike: pings and settings do not count as use) and
//! its client's share of a listener's connections.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

/// A connection's requests in flight and when the last one ended.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        })
    }

    fn touch(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        InFlight(self.clone())
    }

    /// Completes once the connection has had no request in flight for
    /// `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = *self.last.lock().unwrap_or_else(PoisonError::into_inner);
            let busy = self.in_flight.load(Ordering::SeqCst) > 0;
            match next_look(last, busy, timeout, Instant::now()) {
                None => return,
                Some(wake) => tokio::time::sleep_until(wake).await,
            }
        }
    }
}

/// When to look again at a connection last used at `last` (`busy`: a
/// request is in flight), or `None` when it has been idle for `timeout`.
fn next_look(last: Instant, busy: bool, timeout: Duration, now: Instant) -> Option<Instant> {
    let due = last + timeout;
    match (busy, now >= due) {
        (false, true) => None,
        (false, false) => Some(due),
        (true, _) => Some(now + timeout.max(BUSY_LOOK)),
    }
}

/// How often a busy connection is looked at again, at least.
const BUSY_LOOK: Duration = Duration::from_millis(50);

/// One request in flight; its end (or its cancellation) is noted on drop.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A service that notes each request's start and end on an [`Activity`].
#[derive(Clone)]
pub struct Tracked<S> {
    pub inner: S,
    pub activity: Arc<Activity>,
}

impl<S, R> tower::Service<R> for Tracked<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let in_flight = self.activity.begin();
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await;
            drop(in_flight);
            response
        })
    }
}

/// Open connections per client address, each at most `limit`.
#[derive(Debug)]
pub struct Shares {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl Shares {
    pub fn new(limit: usize) -> Arc<Shares> {
        Arc::new(Shares {
            limit: limit.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// One more connection of `ip`, or `None` when it holds its share.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Share> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Share {
            shares: self.clone(),
            ip,
        })
    }
}

/// One connection counted in its client's share until dropped.
#[derive(Debug)]
pub struct Share {
    shares: Arc<Shares>,
    ip: IpAddr,
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut open = self
            .shares
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_its_share() {
        let shares = Shares::new(2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let first = shares.take(ip).unwrap();
        let _second = shares.take(ip).unwrap();
        assert!(shares.take(ip).is_none());
        assert!(shares.take(other).is_some(), "others keep theirs");
        drop(first);
        assert!(
            shares.take(ip).is_some(),
            "a closed connection frees its place"
        );
    }

    #[test]
    fn idle_means_no_request_in_flight() {
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        let later = |seconds| start + Duration::from_secs(seconds);
        // Busy: never idle, however long ago it started.
        assert_eq!(next_look(start, true, minute, later(600)), Some(later(660)));
        // Waiting for idleness at shutdown does not spin while busy.
        let look = next_look(start, true, Duration::ZERO, later(600));
        assert_eq!(look, Some(later(600) + BUSY_LOOK));
        // Not busy: idle once the timeout has passed since the last use.
        assert_eq!(next_look(start, false, minute, later(30)), Some(later(60)));
        assert_eq!(next_look(start, false, minute, later(60)), None);
        // A request in flight is noted as in flight until it ends.
        let activity = Activity::new();
        let in_flight = activity.begin();
        assert_eq!(activity.in_flight.load(Ordering::SeqCst), 1);
        drop(in_flight);
        assert_eq!(activity.in_flight.load(Ordering::SeqCst), 0);
    }
}
