//! Progress on stderr (one line a second: phase, work done, rate, retries,
//! the server's resident memory) and the server RSS samples kept for the
//! report.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shared counters that the workers bump and the ticker prints.
#[derive(Debug)]
pub struct Progress {
    phase: Mutex<(String, Instant)>,
    unit: Mutex<&'static str>,
    /// Work done in the current phase (spans acknowledged, queries answered).
    pub done: AtomicU64,
    /// Work planned in the current phase (0 = open-ended).
    pub total: AtomicU64,
    /// Retries after a backpressure answer in the current phase.
    pub retries: AtomicU64,
    /// The server's pid (0: none running).
    pub server_pid: AtomicU32,
    /// Largest VmRSS seen since the server started, in bytes.
    pub max_rss: AtomicU64,
}

impl Progress {
    /// A new progress board with no phase.
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress {
            phase: Mutex::new((String::from("setup"), Instant::now())),
            unit: Mutex::new("spans"),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            server_pid: AtomicU32::new(0),
            max_rss: AtomicU64::new(0),
        })
    }

    /// Starts a phase: resets the counters.
    pub fn phase(&self, name: impl Into<String>, unit: &'static str, total: u64) {
        let name = name.into();
        eprintln!("== {name}");
        if let Ok(mut p) = self.phase.lock() {
            *p = (name, Instant::now());
        }
        if let Ok(mut u) = self.unit.lock() {
            *u = unit;
        }
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        self.retries.store(0, Ordering::Relaxed);
    }

    /// Watches a new server process (resets the RSS peak).
    pub fn watch_server(&self, pid: u32) {
        self.server_pid.store(pid, Ordering::Relaxed);
        self.max_rss.store(0, Ordering::Relaxed);
    }

    /// Stops watching the server.
    pub fn unwatch_server(&self) {
        self.server_pid.store(0, Ordering::Relaxed);
    }

    fn sample_rss(&self) -> Option<u64> {
        let pid = self.server_pid.load(Ordering::Relaxed);
        if pid == 0 {
            return None;
        }
        let rss = proc_status_kib(pid, "VmRSS:")? * 1024;
        self.max_rss.fetch_max(rss, Ordering::Relaxed);
        Some(rss)
    }

    /// Prints a line a second until the returned handle is aborted.
    pub fn spawn_ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = (Instant::now(), 0u64);
            loop {
                tick.tick().await;
                let (name, started) = match me.phase.lock() {
                    Ok(p) => (p.0.clone(), p.1),
                    Err(_) => continue,
                };
                let unit = me.unit.lock().map(|u| *u).unwrap_or("items");
                let done = me.done.load(Ordering::Relaxed);
                let total = me.total.load(Ordering::Relaxed);
                let now = Instant::now();
                let (t_last, d_last) = last;
                let inst = if done >= d_last {
                    (done - d_last) as f64 / now.duration_since(t_last).as_secs_f64()
                } else {
                    done as f64 / now.duration_since(started).as_secs_f64()
                };
                last = (now, done);
                let elapsed = now.duration_since(started).as_secs_f64();
                let avg = done as f64 / elapsed.max(1e-9);
                let share = if total > 0 {
                    format!(
                        "/{} ({:.0}%)",
                        crate::stats::int(total),
                        100.0 * done as f64 / total as f64
                    )
                } else {
                    String::new()
                };
                let rss = me
                    .sample_rss()
                    .map(|b| format!("  server rss {}", crate::stats::bytes(b)))
                    .unwrap_or_default();
                eprintln!(
                    "[{name}] {elapsed:6.1}s  {unit} {}{share}  now {}/s  avg {}/s  retries {}{rss}",
                    crate::stats::int(done),
                    crate::stats::rate(inst),
                    crate::stats::rate(avg),
                    me.retries.load(Ordering::Relaxed),
                );
            }
        })
    }
}

/// A `kB` field of /proc/PID/status (VmRSS:, VmHWM:), in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
