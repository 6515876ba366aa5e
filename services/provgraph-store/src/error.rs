//! What can go wrong in the store, and which failures a retry may cure.
//!
//! Every variant that comes from a database error keeps it as its source.
//! The message also names the cause (as the store's messages always did), so
//! logs that print only the outer error still say what happened.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL or options are unusable.
    #[error("{message}")]
    Config {
        message: String,
        #[source]
        source: Option<sqlx::Error>,
    },
    /// The database cannot be reached or cannot write now (down, restarting,
    /// read-only, disk full). Retrying later may succeed.
    #[error("database unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<sqlx::Error>,
    },
    /// Writers collided (deadlock, serialization failure, SQLite busy): the
    /// same transaction, run again now, may commit.
    #[error("database conflict: {source}")]
    Conflict {
        #[source]
        source: sqlx::Error,
    },
    /// Any other database error.
    #[error("database error: {source}")]
    Database {
        #[source]
        source: sqlx::Error,
    },
    /// Stored data that cannot be read back, or a write that broke one of
    /// the store's own invariants.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A stored name or code that is not one of its enum's (a newer
    /// version's data, or a damaged row): never read as some default.
    #[error("stored data is corrupt: unknown {what} {value:?}")]
    UnknownValue { what: &'static str, value: String },
    /// Stored span facts that do not parse.
    #[error("stored data is corrupt: stored span facts do not parse: {0}")]
    SpanFacts(#[source] serde_json::Error),
    /// Span facts that cannot be serialized for storing.
    #[error("span facts cannot be encoded: {0}")]
    Encode(#[source] serde_json::Error),
    /// A write the store's quota refuses (unverified evidence past
    /// [`crate::EvidenceQuota`]): nothing of it was stored, and retrying will
    /// not help until the quota is raised.
    #[error("{0}")]
    Quota(String),
    #[error("migrations failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// True when the same write may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Conflict { .. }
        )
    }

    /// True when running the transaction again at once is worth it (a
    /// collision with another writer, not a database that is away).
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// Unavailable, without a database error behind it (a timeout, a writer
    /// that stopped).
    pub(crate) fn unavailable(message: impl Into<String>) -> StoreError {
        StoreError::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// A stored code or name that is not one of `what`'s.
    pub(crate) fn unknown(what: &'static str, value: impl ToString) -> StoreError {
        StoreError::UnknownValue {
            what,
            value: value.to_string(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> StoreError {
        use sqlx::Error as E;
        let kind = match &err {
            E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Tls(_) => {
                Kind::Unavailable
            }
            E::Database(db) => classify(db.code().as_deref().unwrap_or_default()),
            _ => Kind::Database,
        };
        match kind {
            Kind::Unavailable => StoreError::Unavailable {
                message: err.to_string(),
                source: Some(err),
            },
            Kind::Conflict => StoreError::Conflict { source: err },
            Kind::Database => StoreError::Database { source: err },
        }
    }
}

enum Kind {
    Unavailable,
    Conflict,
    Database,
}

/// Conflicts: SQLite BUSY (5), LOCKED (6); PostgreSQL serialization
/// failure, deadlock. Unavailable: SQLite READONLY (8), IOERR (10), FULL
/// (13), CANTOPEN (14), with their extended codes; PostgreSQL class 08
/// (connection), 53 (resources: disk full, out of memory or connections),
/// 57P (shutdown, crash recovery), 25006 (read-only transaction: a standby),
/// 58030 (I/O error).
fn classify(code: &str) -> Kind {
    let sqlite_primary = code.parse::<i32>().ok().map(|c| c & 0xff);
    if matches!(sqlite_primary, Some(5 | 6)) || code == "40001" || code == "40P01" {
        Kind::Conflict
    } else if matches!(sqlite_primary, Some(8 | 10 | 13 | 14))
        || code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code == "25006"
        || code == "58030"
    {
        Kind::Unavailable
    } else {
        Kind::Database
    }
}
