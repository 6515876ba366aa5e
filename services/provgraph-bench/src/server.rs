//! The provgraph server under test: a fresh database for it (a SQLite file in
//! the work directory, or a new PostgreSQL database made and dropped with
//! `psql`), the child process started with every listener on port 0, its
//! ready line parsed, its memory read from /proc, and its stop by SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::progress::proc_status_kib;

/// A database made for one server run.
#[derive(Debug)]
pub enum Database {
    /// A SQLite file.
    Sqlite {
        /// The `.db` file (its `-wal` and `-shm` sit beside it).
        file: PathBuf,
    },
    /// A PostgreSQL database made for this run.
    Postgres {
        /// URL of the server's existing database, for CREATE/DROP DATABASE.
        admin_url: String,
        /// URL of the new database.
        url: String,
        /// Its name.
        name: String,
    },
}

fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql (is the PostgreSQL client installed?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `postgres://user@host:port/db?x` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> Result<String, String> {
    let after_scheme = url
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| format!("not a URL: {url:?}"))?;
    let (head, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let authority_end = head[after_scheme..]
        .find('/')
        .map(|i| i + after_scheme)
        .unwrap_or(head.len());
    Ok(format!("{}/{name}{query}", &head[..authority_end]))
}

impl Database {
    /// A new SQLite file in `dir`.
    pub fn sqlite(dir: &Path, name: &str) -> Result<Database, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let file = dir.join(format!("{name}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
        Ok(Database::Sqlite { file })
    }

    /// A new database `name` on the PostgreSQL server of `admin_url`.
    pub fn postgres(admin_url: &str, name: &str) -> Result<Database, String> {
        let url = with_database(admin_url, name)?;
        psql(admin_url, &format!("DROP DATABASE IF EXISTS {name}"))?;
        psql(admin_url, &format!("CREATE DATABASE {name}"))?;
        Ok(Database::Postgres {
            admin_url: admin_url.to_string(),
            url,
            name: name.to_string(),
        })
    }

    /// The `--database-url` for the server.
    pub fn url(&self) -> String {
        match self {
            Database::Sqlite { file } => format!("sqlite://{}", file.display()),
            Database::Postgres { url, .. } => url.clone(),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    /// Bytes the database takes: SQLite `.db` + `-wal` (+ `-shm`, reported
    /// apart), PostgreSQL `pg_database_size`.
    pub fn size(&self) -> Result<DbSize, String> {
        match self {
            Database::Sqlite { file } => {
                let len = |suffix: &str| {
                    std::fs::metadata(format!("{}{suffix}", file.display()))
                        .map(|m| m.len())
                        .unwrap_or(0)
                };
                Ok(DbSize {
                    main: len(""),
                    wal: len("-wal"),
                })
            }
            Database::Postgres { url, .. } => {
                let out = psql(url, "SELECT pg_database_size(current_database())")?;
                let main = out
                    .parse()
                    .map_err(|e| format!("pg_database_size answered {out:?}: {e}"))?;
                Ok(DbSize { main, wal: 0 })
            }
        }
    }

    /// Bytes per table and index, largest first: SQLite through the
    /// `sqlite3` command's `dbstat` (best after the server stopped and the
    /// WAL was checkpointed), PostgreSQL per table with its indexes and TOAST.
    pub fn table_sizes(&self) -> Result<Vec<(String, u64)>, String> {
        let text = match self {
            Database::Sqlite { file } => {
                let out = std::process::Command::new("sqlite3")
                    .arg("-readonly")
                    .arg(file)
                    .arg("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
                    .stdin(Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run sqlite3 (apt-get install sqlite3): {e}"))?;
                if !out.status.success() {
                    return Err(format!(
                        "sqlite3 dbstat failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                String::from_utf8_lossy(&out.stdout).to_string()
            }
            Database::Postgres { url, .. } => psql(
                url,
                "SELECT relname || ' (with indexes)', pg_total_relation_size(relid) \
                 FROM pg_stat_user_tables ORDER BY 2 DESC",
            )?,
        };
        Ok(text
            .lines()
            .filter_map(|l| {
                let (name, bytes) = l.rsplit_once('|')?;
                Some((name.to_string(), bytes.trim().parse().ok()?))
            })
            .collect())
    }

    /// PostgreSQL: runs ANALYZE on the whole database. SQLite: nothing.
    pub fn analyze(&self) -> Result<(), String> {
        match self {
            Database::Sqlite { .. } => Ok(()),
            Database::Postgres { url, .. } => psql(url, "ANALYZE").map(|_| ()),
        }
    }

    /// PostgreSQL: the server's `autovacuum` setting.
    pub fn autovacuum(&self) -> Result<String, String> {
        match self {
            Database::Sqlite { .. } => Ok("n/a".to_string()),
            Database::Postgres { url, .. } => psql(url, "SHOW autovacuum"),
        }
    }

    /// Removes the database.
    pub fn drop_it(&self) -> Result<(), String> {
        match self {
            Database::Sqlite { file } => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
                Ok(())
            }
            Database::Postgres {
                admin_url, name, ..
            } => psql(
                admin_url,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .map(|_| ()),
        }
    }
}

/// The size of a database.
#[derive(Clone, Copy, Debug, Default)]
pub struct DbSize {
    /// The main file (SQLite) or the whole database (PostgreSQL).
    pub main: u64,
    /// SQLite's write-ahead log (0 for PostgreSQL).
    pub wal: u64,
}

impl DbSize {
    /// Everything.
    pub fn total(&self) -> u64 {
        self.main + self.wal
    }
}

/// A running provgraph server.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Its pid.
    pub pid: u32,
    /// OTLP/gRPC address.
    pub grpc: SocketAddr,
    /// OTLP/HTTP address.
    pub http: SocketAddr,
    /// GraphQL API address.
    pub api: SocketAddr,
    /// Where its stderr goes.
    pub log: PathBuf,
}

/// How the server stopped.
#[derive(Debug, Default)]
pub struct Stopped {
    /// From SIGTERM to exit.
    pub seconds: f64,
    /// Its exit code, or a description.
    pub exit: String,
}

fn parse_ready(line: &str) -> Result<(SocketAddr, SocketAddr, SocketAddr), String> {
    let rest = line
        .trim()
        .strip_prefix("provgraph ready:")
        .ok_or_else(|| format!("unexpected first line on the server's stdout: {line:?}"))?;
    let mut grpc = None;
    let mut http = None;
    let mut api = None;
    for part in rest.split_whitespace() {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("ready line part without '=': {part:?}"))?;
        let addr: SocketAddr = v
            .parse()
            .map_err(|e| format!("ready line: bad address {v:?} for {k}: {e}"))?;
        match k {
            "otlp-grpc" => grpc = Some(addr),
            "otlp-http" => http = Some(addr),
            "api" => api = Some(addr),
            _ => {}
        }
    }
    match (grpc, http, api) {
        (Some(g), Some(h), Some(a)) => Ok((g, h, a)),
        _ => Err(format!("ready line lacks an address: {line:?}")),
    }
}

fn log_tail(path: &Path) -> String {
    std::fs::read_to_string(path)
        .map(|s| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        })
        .unwrap_or_default()
}

impl Server {
    /// Starts `binary serve` on `database_url`, stderr to `log`, and waits
    /// for its ready line.
    pub async fn start(
        binary: &Path,
        database_url: &str,
        log: &Path,
        extra_args: &[String],
        ready_timeout: Duration,
    ) -> Result<Server, String> {
        let log_file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut child = Command::new(binary)
            .arg("serve")
            .args(["--database-url", database_url])
            .args(["--otlp-grpc", "127.0.0.1:0"])
            .args(["--otlp-http", "127.0.0.1:0"])
            .args(["--api", "127.0.0.1:0"])
            .args(["--log-format", "json"])
            .env("NO_COLOR", "1")
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let pid = child
            .id()
            .ok_or_else(|| "the server exited at once".to_string())?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| "the server's stdout is not piped".to_string())?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(ready_timeout, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = child
                    .wait()
                    .await
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                return Err(format!(
                    "the server exited before it was ready ({status}); its stderr ends with:\n{}",
                    log_tail(log)
                ));
            }
            Err(_) => {
                return Err(format!(
                    "the server printed no ready line within {ready_timeout:?}; its stderr ends with:\n{}",
                    log_tail(log)
                ));
            }
        };
        let (grpc, http, api) = parse_ready(&line)?;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            pid,
            grpc,
            http,
            api,
            log: log.to_path_buf(),
        })
    }

    /// Peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        proc_status_kib(self.pid, "VmHWM:").map(|k| k * 1024)
    }

    /// Resident memory now (VmRSS), in bytes.
    pub fn rss(&self) -> Option<u64> {
        proc_status_kib(self.pid, "VmRSS:").map(|k| k * 1024)
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then wait (SIGKILL after `grace`).
    pub async fn stop(mut self, grace: Duration) -> Stopped {
        let started = Instant::now();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if let Err(e) = sent {
            eprintln!("cannot run kill -TERM {}: {e}", self.pid);
        }
        let exit = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => match status.code() {
                Some(code) => format!("{code}"),
                None => status.to_string(),
            },
            Ok(Err(e)) => format!("wait failed: {e}"),
            Err(_) => {
                let _ = self.child.kill().await;
                format!("did not exit within {grace:?} of SIGTERM; killed")
            }
        };
        Stopped {
            seconds: started.elapsed().as_secs_f64(),
            exit,
        }
    }
}

/// Lines of the server's log (JSON or text) at WARN or ERROR level, at most
/// `keep` of them, and how many there were.
pub fn log_problems(path: &Path, keep: usize) -> (usize, Vec<String>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (0, Vec::new());
    };
    let mut n = 0;
    let mut first = Vec::new();
    for line in text.lines() {
        let bad = [
            "\"level\":\"WARN\"",
            "\"level\":\"ERROR\"",
            " WARN ",
            " ERROR ",
            "panicked",
        ];
        if bad.iter().any(|b| line.contains(b)) {
            n += 1;
            if first.len() < keep {
                first.push(line.chars().take(400).collect());
            }
        }
    }
    (n, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line() {
        let (g, h, a) = parse_ready(
            "provgraph ready: otlp-grpc=127.0.0.1:1 otlp-http=127.0.0.1:2 api=127.0.0.1:3",
        )
        .expect("parses");
        assert_eq!((g.port(), h.port(), a.port()), (1, 2, 3));
        assert!(parse_ready("hello").is_err());
    }

    #[test]
    fn database_swap() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x").as_deref(),
            Ok("postgres://postgres@127.0.0.1:5432/x")
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x").as_deref(),
            Ok("postgres://u@h/x?sslmode=disable")
        );
        assert_eq!(
            with_database("postgres://u@h", "x").as_deref(),
            Ok("postgres://u@h/x")
        );
    }
}
