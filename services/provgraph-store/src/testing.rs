//! Real databases for tests: a SQLite file in a temporary directory, or a
//! fresh database on the PostgreSQL server named by
//! `PROVGRAPH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped afterwards.
//!
//! PostgreSQL tests fail when the server is down, unless
//! `PROVGRAPH_SKIP_POSTGRES=1` asks to skip them (say so loudly).

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

use crate::{Store, StoreError, StoreOptions};

/// The server the PostgreSQL tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("PROVGRAPH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// True when PostgreSQL tests were asked to be skipped.
pub fn skip_postgres() -> bool {
    std::env::var("PROVGRAPH_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The URL to connect to.
    pub url: String,
    flavor: Flavor,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// Creates an empty database of the given flavor.
    pub async fn new(flavor: Flavor) -> TestDb {
        match flavor {
            Flavor::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("provgraph.db").display());
                TestDb {
                    url,
                    flavor,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Flavor::Postgres => {
                let admin = postgres_admin_url();
                let name = format!(
                    "provgraph_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    crate::now_millis() % 1_000_000
                );
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|err| {
                    panic!(
                        "PostgreSQL tests need a server at {admin} (set PROVGRAPH_TEST_POSTGRES_URL, \
                         or PROVGRAPH_SKIP_POSTGRES=1 to skip them): {err}"
                    )
                });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(base, _)| base);
                TestDb {
                    url: format!("{base}/{name}"),
                    flavor,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Connects a store to this database (running migrations).
    pub async fn store(&self) -> Result<Store, StoreError> {
        Store::connect(&self.url, &StoreOptions::default()).await
    }

    /// How much the database takes, in bytes: SQLite's pages (the file with
    /// what its write-ahead log adds), PostgreSQL's `pg_database_size`.
    pub async fn size_bytes(&self) -> i64 {
        match self.flavor {
            Flavor::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("connect to the SQLite test database");
                let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
                    .fetch_one(&mut conn)
                    .await
                    .expect("page count");
                let (size,): (i64,) = sqlx::query_as("PRAGMA page_size")
                    .fetch_one(&mut conn)
                    .await
                    .expect("page size");
                pages * size
            }
            Flavor::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect to the PostgreSQL test database");
                let (size,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut conn)
                    .await
                    .expect("database size");
                size
            }
        }
    }

    /// Drops the PostgreSQL database (the SQLite directory goes with the
    /// value). Call it at the end of a test; a failed test leaves the
    /// database behind for inspection.
    pub async fn cleanup(self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}

/// Defines one test per database for each listed async test function
/// `async fn NAME(flavor: Flavor)`: `sqlite::NAME` and `postgres::NAME`
/// (skipped, loudly, with `PROVGRAPH_SKIP_POSTGRES=1`). The store suites and
/// the end-to-end suites both use it.
#[macro_export]
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Flavor::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::testing::skip_postgres() {
                        eprintln!("SKIPPED: PostgreSQL test {} (PROVGRAPH_SKIP_POSTGRES=1)", stringify!($name));
                        return;
                    }
                    super::$name($crate::testing::Flavor::Postgres).await;
                }
            )*
        }
    };
}
