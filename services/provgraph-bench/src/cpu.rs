//! CPU accounting from /proc: how many cores the server, the PostgreSQL
//! processes, the bench itself and everything else used during a phase, and
//! how much time the machine spent idle or waiting on I/O. Tells whether a
//! figure is bound by CPU (and whose), by I/O, or by something else.

use std::time::Instant;

/// Clock ticks per second of /proc's times (USER_HZ; 100 on Linux).
const TICKS: f64 = 100.0;

/// One reading.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    at: Instant,
    server: u64,
    postgres: u64,
    bench: u64,
    /// /proc/stat "cpu": busy (user+nice+system+irq+softirq+steal), idle, iowait.
    busy: u64,
    idle: u64,
    iowait: u64,
}

/// Cores used over an interval, by whom.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// The provgraph server process.
    pub server: f64,
    /// All processes named `postgres`.
    pub postgres: f64,
    /// This bench process (clients, and the do-nothing receiver).
    pub bench: f64,
    /// Everything else that ran (e.g. compilers of other sessions).
    pub other: f64,
    /// Idle cores.
    pub idle: f64,
    /// Cores idle while waiting for I/O.
    pub iowait: f64,
}

fn proc_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesized command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim() == "postgres")
                .unwrap_or(false)
        })
        .filter_map(|pid| proc_ticks(&pid))
        .sum()
}

fn machine_ticks() -> (u64, u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0, 0);
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
    (busy, get(3), get(4))
}

impl Snapshot {
    /// Reads the counters now; `server` is the server's pid, if one runs.
    pub fn take(server: Option<u32>) -> Snapshot {
        let (busy, idle, iowait) = machine_ticks();
        Snapshot {
            at: Instant::now(),
            server: server.and_then(|p| proc_ticks(&p.to_string())).unwrap_or(0),
            postgres: postgres_ticks(),
            bench: proc_ticks("self").unwrap_or(0),
            busy,
            idle,
            iowait,
        }
    }

    /// Cores used between `self` and `later`.
    pub fn usage(&self, later: &Snapshot) -> Usage {
        let secs = later.at.duration_since(self.at).as_secs_f64().max(1e-9);
        let cores = |a: u64, b: u64| b.saturating_sub(a) as f64 / TICKS / secs;
        let server = cores(self.server, later.server);
        let postgres = cores(self.postgres, later.postgres);
        let bench = cores(self.bench, later.bench);
        let busy = cores(self.busy, later.busy);
        Usage {
            server,
            postgres,
            bench,
            other: (busy - server - postgres - bench).max(0.0),
            idle: cores(self.idle, later.idle),
            iowait: cores(self.iowait, later.iowait),
        }
    }
}

impl Usage {
    /// `server 1.20, postgres 0.40, bench 0.10, other 0.05, idle 0.20, iowait 0.05`.
    pub fn describe(&self, with_postgres: bool) -> String {
        let pg = if with_postgres {
            format!(", postgres {:.2}", self.postgres)
        } else {
            String::new()
        };
        format!(
            "server {:.2}{pg}, bench {:.2}, other {:.2}, idle {:.2}, iowait {:.2}",
            self.server, self.bench, self.other, self.idle, self.iowait
        )
    }
}
