//! Django's database session engine (`django.contrib.sessions.backends.db`) on SQLite (the
//! embedded default), PostgreSQL and MySQL/MariaDB, sharing the `django_session` table with a
//! live Django application: same schema, same row format, same encoded data.
//!
//! # One module per database, not sqlx's `Any` driver
//!
//! Django stores `expire_date` differently per database — SQLite as text
//! `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC, PostgreSQL as `timestamp with time zone`, MySQL as
//! `datetime(6)` in UTC — and `Any` cannot bind date-times at all. Each database is one
//! module over its concrete sqlx pool (its exact type, DDL and batch-delete statement),
//! compiled only with its Cargo feature: `sqlite` (default), `postgres`, `mysql`.
//!
//! | file | what it holds |
//! |---|---|
//! | `lib.rs` | settings, options, errors, URL → database |
//! | `store.rs` | [`DbStore`] and the [`SessionStore`](session_core::SessionStore) contract |
//! | `statements.rs` | the SQL, rendered once per table |
//! | `database.rs` | what differs per database (a private trait) |
//! | `sqlite.rs`, `postgres.rs`, `mysql.rs` | one implementation each |
//!
//! # Round trips
//!
//! `load`, `exists`, `create`, `save`, `delete`: one statement each, prepared once per
//! connection and cached by sqlx. `save` is an `UPDATE` whose "0 rows" answer is
//! [`Error::Gone`]: a session deleted meanwhile (logout) is never brought back. `create` is a
//! plain `INSERT` whose unique violation is [`Error::Duplicate`]. [`DbStore::statements`]
//! counts the statements sent, so tests can hold the engine to these numbers.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use session_core::{Session, SessionConfig, Settings};
//! use session_db::DbStore;
//! # let dir = std::env::temp_dir().join(format!("session-db-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let db = format!("sqlite://{}/db.sqlite3", dir.display());
//! // Django's names: DATABASE_URL is the Django project's database (here a SQLite file, whose
//! // table the engine creates; on PostgreSQL/MySQL Django's `migrate` made it).
//! let settings = Settings::from_pairs([("SECRET_KEY", "change-me"), ("DATABASE_URL", db.as_str())])?;
//! let store = Arc::new(DbStore::from_settings(&settings).await?);
//! let mut session = Session::new(store.clone(), SessionConfig::from_settings(&settings), None);
//! session.insert("num_visits", &1).await?;
//! session.save(false).await?; // one INSERT into django_session
//! assert!(store.raw_row(session.session_key().unwrap()).await?.is_some());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

// Built with no database feature (cached_db chosen alone), the store compiles but every URL
// answers "not compiled": the per-database code is simply absent.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused, unreachable_code)
)]

mod database;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod statements;
mod store;
pub mod users;

use std::time::Duration;

use session_core::settings::ConnectionUrl;
use session_core::{ConfigError, Error};

#[cfg(feature = "sqlite")]
pub use sqlite::{SQLITE_BUSY_TIMEOUT, sqlite_datetime_text};
pub use store::DbStore;
pub use users::SqlUserIndex;

const ENGINE: &str = "db";

/// Django's table name.
pub const DEFAULT_TABLE: &str = "django_session";

/// Rows `clear_expired` deletes per statement, so it never holds a long lock.
pub const CLEAR_BATCH: i64 = 1000;

session_core::settings_table! {
    /// The db engine's own settings.
    #[derive(Debug, Clone)]
    pub struct DbSettings {
        /// `DATABASE_URL`: `sqlite:///path`, `postgres://…`, `mysql://…` or `mariadb://…`.
        url: Option<ConnectionUrl> = "DATABASE_URL" => None,
        /// `SESSION_DB_TABLE` (not a Django setting): the table, `django_session` by default
        /// (Django's `db_table` for its `Session` model).
        table: String = "SESSION_DB_TABLE" => DEFAULT_TABLE.to_owned(),
        /// `SESSION_DB_CREATE_TABLE` (not a Django setting): create the table and Django's
        /// indexes when missing. Default: on for SQLite (the embedded default starts with
        /// nothing to do), off for PostgreSQL and MySQL, whose schema Django's migrations own.
        create_table: Option<bool> = "SESSION_DB_CREATE_TABLE" => None,
        /// `SESSION_DB_POOL_MAX_CONNECTIONS` (not a Django setting): the pool's size (default 10).
        max_connections: u32 = "SESSION_DB_POOL_MAX_CONNECTIONS" => 10,
        /// `SESSION_DB_POOL_TIMEOUT` (not a Django setting): seconds an operation waits for a
        /// free connection (or for a new one to open) before failing (default 5).
        pool_timeout_secs: u64 = "SESSION_DB_POOL_TIMEOUT" => 5,
        /// `SESSION_CLEAR_EXPIRED_PAUSE_MS` (not a Django setting): milliseconds between two
        /// batches of `clear_expired` (default 5), so a large clear leaves the write lock free.
        clear_pause_ms: u64 = "SESSION_CLEAR_EXPIRED_PAUSE_MS" => 5,
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (`sqlite:///absolute/path`, `sqlite://relative`, `sqlite::memory:`).
    Sqlite,
    /// PostgreSQL (`postgres://…`, `postgresql://…`).
    Postgres,
    /// MySQL or MariaDB (`mysql://…`, `mariadb://…`).
    MySql,
}

impl Backend {
    /// The database named by a URL's scheme.
    pub fn from_url(url: &str) -> Result<Backend, DbError> {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::MySql),
            _ => Err(DbError::UnsupportedUrl(scheme)),
        }
    }

    /// The Cargo feature that compiles this database in.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }
}

/// Configuration problems specific to this engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The URL's scheme is not sqlite, postgres(ql), mysql or mariadb.
    #[error("DATABASE_URL scheme {0:?} is not supported (use sqlite, postgres or mysql)")]
    UnsupportedUrl(String),
    /// The URL could not be parsed.
    #[error("DATABASE_URL is invalid: {0}")]
    InvalidUrl(String),
    /// The table name is not a plain identifier.
    #[error("table name {0:?} must be 1–64 ASCII letters, digits or underscores")]
    InvalidTable(String),
    /// `DATABASE_URL` is missing from the settings.
    #[error("the DATABASE_URL setting is required by the db engine")]
    MissingUrl,
    /// The table is missing, or is not Django's `django_session` shape.
    #[error(transparent)]
    Schema(session_core::error::ServiceError),
    /// The URL names a database this build left out (enable the crate's Cargo feature).
    #[error(
        "DATABASE_URL names {0:?}, which this build does not include (enable the `{0}` feature of session-db)"
    )]
    NotCompiled(&'static str),
    /// Connecting failed.
    #[error(transparent)]
    Session(#[from] Error),
}

impl From<DbError> for Error {
    /// A connection failure stays itself; anything wrong with the settings becomes a
    /// configuration error naming `DATABASE_URL`.
    fn from(e: DbError) -> Error {
        let setting = "DATABASE_URL";
        match e {
            DbError::Session(e) => e,
            DbError::Schema(e) => Error::permanent(ENGINE, e),
            DbError::MissingUrl => Error::permanent(ENGINE, ConfigError::Missing { setting }),
            other => Error::permanent(
                ENGINE,
                ConfigError::Invalid {
                    setting,
                    reason: other.to_string(),
                },
            ),
        }
    }
}

/// Pool and table options.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Table name (default `django_session`).
    pub table: String,
    /// Most connections the pool opens (default 10; SQLite uses at most this many readers).
    pub max_connections: u32,
    /// Connections kept open when idle (default 0).
    pub min_connections: u32,
    /// How long an operation waits for a connection before failing (default 5 s).
    pub acquire_timeout: Duration,
    /// Create the table when missing ([`DbStore::ensure_schema`]) before checking its shape;
    /// `None`: only for SQLite.
    pub create_table: Option<bool>,
    /// The pause between two batches of `clear_expired` (default 5 ms): on SQLite, where one
    /// writer holds the lock at a time, it lets live traffic write between batches.
    pub clear_pause: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            table: DEFAULT_TABLE.into(),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            create_table: None,
            clear_pause: Duration::from_millis(5),
        }
    }
}

/// The pool options every database shares (sizes and acquire timeout).
pub(crate) fn pool_options<DB: sqlx::Database>(options: &DbOptions) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(options.max_connections)
        .min_connections(options.min_connections)
        .acquire_timeout(options.acquire_timeout)
}

/// Where a store's database is, for error messages: the service, `host:port` (or the SQLite
/// file; never credentials) and the pool timeout.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) service: &'static str,
    pub(crate) address: String,
    pub(crate) pool_timeout: Duration,
}

impl Origin {
    pub(crate) fn of(url: &str, pool_timeout: Duration) -> Origin {
        let service = match Backend::from_url(url) {
            Ok(Backend::Sqlite) => "SQLite",
            Ok(Backend::Postgres) => "PostgreSQL",
            Ok(Backend::MySql) => "MySQL",
            Err(_) => "database",
        };
        let rest = url.split_once(':').map_or(url, |(_, r)| r);
        let rest = rest.trim_start_matches("//");
        let address = if service == "SQLite" {
            rest.split('?').next().unwrap_or_default().to_owned()
        } else {
            let host = rest.split(['/', '?']).next().unwrap_or_default();
            host.rsplit_once('@').map_or(host, |(_, h)| h).to_owned()
        };
        Origin {
            service,
            address,
            pool_timeout,
        }
    }

    /// An origin for a pool the application built (its timeouts are its own).
    pub(crate) fn app_pool(service: &'static str) -> Origin {
        Origin {
            service,
            address: "the application's pool".into(),
            pool_timeout: Duration::ZERO,
        }
    }

    fn error(&self, setting: &'static str) -> session_core::error::ServiceError {
        session_core::error::ServiceError::new(self.service, self.address.clone(), setting)
    }

    /// A driver error as the engine's error: worded with this origin where a person has to
    /// act (pool exhausted, certificate refused, no TLS in the build), classified transient
    /// only when retrying later can cure it.
    pub(crate) fn classify(&self, e: sqlx::Error) -> Error {
        use session_core::error::{certificate_problem, is_certificate_failure};
        let text = e.to_string();
        match &e {
            sqlx::Error::PoolTimedOut => {
                let problem = if self.pool_timeout.is_zero() {
                    "pool timed out (every connection busy, or the server unreachable)".to_owned()
                } else {
                    format!(
                        "pool timed out after {} s (every connection busy, or the server unreachable)",
                        self.pool_timeout.as_secs_f64()
                    )
                };
                return Error::transient(
                    ENGINE,
                    self.error("SESSION_DB_POOL_TIMEOUT").problem(problem),
                );
            }
            sqlx::Error::Tls(_) | sqlx::Error::Io(_) if is_certificate_failure(&text) => {
                let ca = if self.service == "MySQL" {
                    "ssl-ca=<file> in DATABASE_URL"
                } else {
                    "sslrootcert=<file> in DATABASE_URL"
                };
                return Error::permanent(
                    ENGINE,
                    self.error("DATABASE_URL")
                        .problem(certificate_problem(&text, ca)),
                );
            }
            sqlx::Error::Tls(_) => {
                return Error::permanent(
                    ENGINE,
                    self.error("DATABASE_URL")
                        .problem("TLS failed")
                        .caused_by(e),
                );
            }
            _ => {}
        }
        let transient = match &e {
            sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(d) => d.code().is_some_and(|c| is_transient_code(&c)),
            _ => false,
        };
        if transient {
            Error::transient(ENGINE, e)
        } else {
            Error::permanent(ENGINE, e)
        }
    }
}

impl Origin {
    /// A failure to open the pool: always worded with the server and `DATABASE_URL`.
    pub(crate) fn connect_error(&self, e: sqlx::Error) -> Error {
        match self.classify(e) {
            Error::Backend {
                engine,
                transient,
                source,
            } if !source.is::<session_core::error::ServiceError>() => Error::Backend {
                engine,
                transient,
                source: Box::new(
                    self.error("DATABASE_URL")
                        .problem("cannot connect")
                        .caused_by(source),
                ),
            },
            other => other,
        }
    }
}

/// Database error codes that a retry can cure: serialization failures and deadlocks, too
/// many connections, a server shutting down or starting (PostgreSQL SQLSTATEs, MySQL error
/// numbers).
fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "40001"
            | "40P01"
            | "53300"
            | "57P01"
            | "57P02"
            | "57P03"
            | "08006"
            | "08001"
            | "1205"
            | "1213"
            | "1040"
            | "1053"
            | "2006"
            | "2013"
    )
}

/// Django's index name for `table.column` with an optional suffix (`_like`): the table,
/// the column and the first 8 hex digits of MD5(table + column).
pub fn django_index_name(table: &str, column: &str, suffix: &str) -> String {
    let digest = md5_hex(format!("{table}{column}").as_bytes());
    format!("{table}_{column}_{}{suffix}", &digest[..8])
}

fn md5_hex(input: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(input)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_match_djangos_migration() {
        assert_eq!(
            django_index_name("django_session", "expire_date", ""),
            "django_session_expire_date_a5c62663"
        );
        assert_eq!(
            django_index_name("django_session", "session_key", "_like"),
            "django_session_session_key_c0390e0f_like"
        );
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_text_matches_django() {
        let t = session_core::expiry::from_unix_f64(1_768_532_645.5);
        assert_eq!(sqlite_datetime_text(t), "2026-01-16 03:04:05.500000");
        let whole = session_core::expiry::from_unix_f64(1_768_532_645.0);
        assert_eq!(sqlite_datetime_text(whole), "2026-01-16 03:04:05");
    }

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            Backend::from_url("sqlite:///tmp/x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(Backend::from_url("mariadb://h/db").unwrap(), Backend::MySql);
        assert!(Backend::from_url("oracle://h").is_err());
    }
}
