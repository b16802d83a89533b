//! Django's database session engine (`django.contrib.sessions.backends.db`) on SQLite (the
//! embedded default), PostgreSQL and MySQL/MariaDB, sharing the `django_session` table with a
//! live Django application: same schema, same row format, same encoded data.
//!
//! # Why one enum over three sqlx pools, not sqlx's `Any` driver
//!
//! Django stores `expire_date` differently per database — SQLite as text
//! `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC, PostgreSQL as `timestamp with time zone`, MySQL as
//! `datetime(6)` in UTC — and `Any` cannot bind date-times at all. Holding the concrete pool
//! lets each database get its exact type, DDL and batch-delete statement, with no dynamic
//! dispatch per query.
//!
//! # Round trips
//!
//! `load`, `exists`, `create`, `save`, `delete`: one statement each, prepared once per
//! connection and cached by sqlx. `save` is an `UPDATE` whose "0 rows" answer is
//! [`Error::Gone`]: a session deleted meanwhile (logout) is never brought back. `create` is a
//! plain `INSERT` whose unique violation is [`Error::Duplicate`]. [`DbStore::statements`]
//! counts the statements sent, so tests can hold the engine to these numbers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use session_core::{Session, SessionConfig, Settings};
//! use session_db::DbStore;
//! let settings = Settings::new("change-me")?;
//! let store = DbStore::connect("sqlite:///tmp/sessions.sqlite3", &settings).await?;
//! store.ensure_schema().await?;
//! let mut session = Session::new(Arc::new(store), SessionConfig::from_settings(&settings), None);
//! session.insert_value("num_visits", 1).await?;
//! session.save(false).await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use session_core::codec::{Signer, decode_or_empty};
use session_core::expiry::{SystemClock, to_unix_f64};
use session_core::{Clock, ConfigError, Error, Map, Record, SessionStore, Settings};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

const ENGINE: &str = "db";

/// Django's table name.
pub const DEFAULT_TABLE: &str = "django_session";

/// Rows `clear_expired` deletes per statement, so it never holds a long lock.
pub const CLEAR_BATCH: i64 = 1000;

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
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            table: DEFAULT_TABLE.into(),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// The statements, rendered once for the configured table.
#[derive(Debug)]
struct Sql {
    load: String,
    row: String,
    exists: String,
    insert: String,
    update: String,
    delete: String,
    clear_batch: String,
}

impl Sql {
    fn new(backend: Backend, table: &str) -> Sql {
        let (q, p): (&str, fn(usize) -> String) = match backend {
            Backend::Postgres => ("\"", |i| format!("${i}")),
            Backend::Sqlite => ("\"", |_| "?".to_owned()),
            Backend::MySql => ("`", |_| "?".to_owned()),
        };
        let t = format!("{q}{table}{q}");
        let (key, data, exp) = (
            format!("{q}session_key{q}"),
            format!("{q}session_data{q}"),
            format!("{q}expire_date{q}"),
        );
        let clear_batch = match backend {
            Backend::MySql => format!("DELETE FROM {t} WHERE {exp} < ? LIMIT {CLEAR_BATCH}"),
            _ => format!(
                "DELETE FROM {t} WHERE {key} IN (SELECT {key} FROM {t} WHERE {exp} < {} LIMIT {CLEAR_BATCH})",
                p(1)
            ),
        };
        Sql {
            load: format!(
                "SELECT {data}, {exp} FROM {t} WHERE {key} = {} AND {exp} > {}",
                p(1),
                p(2)
            ),
            row: format!("SELECT {data}, {exp} FROM {t} WHERE {key} = {}", p(1)),
            exists: format!("SELECT 1 FROM {t} WHERE {key} = {} LIMIT 1", p(1)),
            insert: format!(
                "INSERT INTO {t} ({key}, {data}, {exp}) VALUES ({}, {}, {})",
                p(1),
                p(2),
                p(3)
            ),
            update: format!(
                "UPDATE {t} SET {data} = {}, {exp} = {} WHERE {key} = {}",
                p(1),
                p(2),
                p(3)
            ),
            delete: format!("DELETE FROM {t} WHERE {key} = {}", p(1)),
            clear_batch,
        }
    }
}

/// Django's index name for `table.column` with an optional suffix (`_like`): the table,
/// the column and the first 8 hex digits of MD5(table + column).
pub fn django_index_name(table: &str, column: &str, suffix: &str) -> String {
    let digest = md5_hex(format!("{table}{column}").as_bytes());
    format!("{table}_{column}_{}{suffix}", &digest[..8])
}

/// A session store on one of the three databases.
#[derive(Clone)]
pub struct DbStore {
    pool: Pool,
    backend: Backend,
    table: Arc<str>,
    sql: Arc<Sql>,
    signer: Signer,
    clock: Arc<dyn Clock>,
    statements: Arc<AtomicU64>,
}

impl fmt::Debug for DbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbStore")
            .field("backend", &self.backend)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

fn classify(e: sqlx::Error) -> Error {
    let transient = matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Protocol(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    );
    if transient {
        Error::transient(ENGINE, e)
    } else {
        Error::permanent(ENGINE, e)
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// Django's SQLite text for a UTC instant: `str(datetime)`, fraction only when non-zero.
pub fn sqlite_datetime_text(t: DateTime<Utc>) -> String {
    let naive = t.naive_utc();
    if naive.and_utc().timestamp_subsec_micros() == 0 {
        naive.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        naive.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// Whether Django could have written `key` to its `varchar(40)` column (1–40 printable ASCII
/// characters). Refusing other keys before the query keeps hostile input (NUL bytes, 4-byte
/// UTF-8) away from drivers that would answer with an error instead of "no row".
pub fn storable_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 40 && key.bytes().all(|b| b.is_ascii_graphic())
}

impl DbStore {
    /// Connects to `url` with the settings' secrets, on the system clock and default options.
    pub async fn connect(url: &str, settings: &Settings) -> Result<DbStore, DbError> {
        Self::connect_with(
            url,
            settings.session_signer(),
            Arc::new(SystemClock),
            DbOptions::default(),
        )
        .await
    }

    /// Builds the store the settings describe (`DATABASE_URL`).
    pub async fn from_settings(settings: &Settings) -> Result<DbStore, DbError> {
        let url = settings
            .database_url
            .as_deref()
            .ok_or(DbError::MissingUrl)?;
        Self::connect(url, settings).await
    }

    /// Connects with an explicit signer, clock and options. SQLite files are created when
    /// missing (in WAL mode); `sqlite:///abs/path` and `sqlite://rel/path` are both read.
    pub async fn connect_with(
        url: &str,
        signer: Signer,
        clock: Arc<dyn Clock>,
        options: DbOptions,
    ) -> Result<DbStore, DbError> {
        let table = options.table.clone();
        if table.is_empty()
            || table.len() > 64
            || !table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(DbError::InvalidTable(table));
        }
        let backend = Backend::from_url(url)?;
        let invalid = |e: sqlx::Error| DbError::InvalidUrl(e.to_string());
        let pool = match backend {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(invalid)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5));
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(options.max_connections)
                        .min_connections(options.min_connections)
                        .acquire_timeout(options.acquire_timeout)
                        .connect_with(opts)
                        .await
                        .map_err(classify)?,
                )
            }
            Backend::Postgres => {
                let opts = PgConnectOptions::from_str(url).map_err(invalid)?;
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(options.max_connections)
                        .min_connections(options.min_connections)
                        .acquire_timeout(options.acquire_timeout)
                        .connect_with(opts)
                        .await
                        .map_err(classify)?,
                )
            }
            Backend::MySql => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                let opts = MySqlConnectOptions::from_str(&url).map_err(invalid)?;
                Pool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(options.max_connections)
                        .min_connections(options.min_connections)
                        .acquire_timeout(options.acquire_timeout)
                        .connect_with(opts)
                        .await
                        .map_err(classify)?,
                )
            }
        };
        Ok(DbStore {
            sql: Arc::new(Sql::new(backend, &table)),
            table: table.into(),
            pool,
            backend,
            signer,
            clock,
            statements: Arc::default(),
        })
    }

    /// The database in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The clock expiry is judged by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The table in use.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// How many statements this store (and its clones) has sent: one per round trip once
    /// prepared.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }

    /// Creates the table and Django's indexes when missing, exactly as Django's migration
    /// `sessions.0001_initial` would. Never alters an existing table.
    pub async fn ensure_schema(&self) -> Result<(), Error> {
        let t = &*self.table;
        let exp_index = django_index_name(t, "expire_date", "");
        match &self.pool {
            Pool::Sqlite(pool) => {
                for stmt in [
                    format!(
                        "CREATE TABLE IF NOT EXISTS \"{t}\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \"session_data\" text NOT NULL, \"expire_date\" datetime NOT NULL)"
                    ),
                    format!(
                        "CREATE INDEX IF NOT EXISTS \"{exp_index}\" ON \"{t}\" (\"expire_date\")"
                    ),
                ] {
                    sqlx::query(&stmt).execute(pool).await.map_err(classify)?;
                }
            }
            Pool::Postgres(pool) => {
                let like_index = django_index_name(t, "session_key", "_like");
                for stmt in [
                    format!(
                        "CREATE TABLE IF NOT EXISTS \"{t}\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \"session_data\" text NOT NULL, \"expire_date\" timestamp with time zone NOT NULL)"
                    ),
                    format!(
                        "CREATE INDEX IF NOT EXISTS \"{exp_index}\" ON \"{t}\" (\"expire_date\")"
                    ),
                    format!(
                        "CREATE INDEX IF NOT EXISTS \"{like_index}\" ON \"{t}\" (\"session_key\" varchar_pattern_ops)"
                    ),
                ] {
                    sqlx::query(&stmt).execute(pool).await.map_err(classify)?;
                }
            }
            Pool::MySql(pool) => {
                sqlx::query(&format!("CREATE TABLE IF NOT EXISTS `{t}` (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)"))
                    .execute(pool)
                    .await
                    .map_err(classify)?;
                let present: Option<i64> = sqlx::query_scalar(
                    "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ? LIMIT 1",
                )
                .bind(t)
                .bind(&exp_index)
                .fetch_optional(pool)
                .await
                .map_err(classify)?;
                if present.is_none() {
                    sqlx::query(&format!(
                        "CREATE INDEX `{exp_index}` ON `{t}` (`expire_date`)"
                    ))
                    .execute(pool)
                    .await
                    .map_err(classify)?;
                }
            }
        }
        Ok(())
    }

    /// Drops the table (tests and tooling).
    pub async fn drop_table(&self) -> Result<(), Error> {
        let stmt = match self.backend {
            Backend::MySql => format!("DROP TABLE IF EXISTS `{}`", self.table),
            _ => format!("DROP TABLE IF EXISTS \"{}\"", self.table),
        };
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&stmt).execute(p).await.map(drop),
            Pool::Postgres(p) => sqlx::query(&stmt).execute(p).await.map(drop),
            Pool::MySql(p) => sqlx::query(&stmt).execute(p).await.map(drop),
        }
        .map_err(classify)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
            Pool::MySql(p) => p.close().await,
        }
    }

    /// `(session_data, expire_date)` under `key` by `sql`, binding `live_at` second when given
    /// (the expiry filter of `load`).
    async fn fetch_row(
        &self,
        sql: &str,
        key: &str,
        live_at: Option<DateTime<Utc>>,
    ) -> Result<Option<(String, DateTime<Utc>)>, Error> {
        self.count();
        match &self.pool {
            Pool::Sqlite(p) => {
                let q = sqlx::query_as::<_, (String, String)>(sql).bind(key);
                let q = match live_at {
                    Some(t) => q.bind(sqlite_datetime_text(t)),
                    None => q,
                };
                q.fetch_optional(p).await.map(|r| {
                    r.and_then(|(d, e)| {
                        NaiveDateTime::parse_from_str(&e, "%Y-%m-%d %H:%M:%S%.f")
                            .ok()
                            .map(|n| (d, n.and_utc()))
                    })
                })
            }
            Pool::Postgres(p) => {
                let q = sqlx::query_as(sql).bind(key);
                let q = match live_at {
                    Some(t) => q.bind(t),
                    None => q,
                };
                q.fetch_optional(p).await
            }
            Pool::MySql(p) => {
                let q = sqlx::query_as::<_, (String, NaiveDateTime)>(sql).bind(key);
                let q = match live_at {
                    Some(t) => q.bind(t.naive_utc()),
                    None => q,
                };
                q.fetch_optional(p)
                    .await
                    .map(|r| r.map(|(d, e)| (d, e.and_utc())))
            }
        }
        .map_err(classify)
    }

    /// The raw row for a key, regardless of expiry: `(session_data, expire_date)` (tooling
    /// and interop tests).
    pub async fn raw_row(&self, key: &str) -> Result<Option<(String, DateTime<Utc>)>, Error> {
        self.fetch_row(&self.sql.row, key, None).await
    }

    /// Loads a live session together with its `expire_date`, in one query (the cached_db
    /// engine sizes its cache entry from it).
    pub async fn load_with_expiry(&self, key: &str) -> Result<Option<(Map, DateTime<Utc>)>, Error> {
        if !storable_key(key) {
            return Ok(None);
        }
        let now = self.clock.now();
        let row = self.fetch_row(&self.sql.load, key, Some(now)).await?;
        // A row whose data does not verify is an empty session under the same key, as in
        // Django (the warning is logged by the codec).
        Ok(row.map(|(d, exp)| {
            (
                decode_or_empty(&self.signer, &d, None, to_unix_f64(now)),
                exp,
            )
        }))
    }

    /// Django's `clearsessions`: deletes expired rows in batches of 1000 (short transactions,
    /// no long table lock), calling `progress` with the running total after each batch.
    pub async fn clear_expired_with_progress(
        &self,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<u64, Error> {
        let now = self.clock.now();
        let mut total = 0u64;
        loop {
            self.count();
            let n = match &self.pool {
                Pool::Sqlite(p) => sqlx::query(&self.sql.clear_batch)
                    .bind(sqlite_datetime_text(now))
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()),
                Pool::Postgres(p) => sqlx::query(&self.sql.clear_batch)
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()),
                Pool::MySql(p) => sqlx::query(&self.sql.clear_batch)
                    .bind(now.naive_utc())
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()),
            }
            .map_err(classify)?;
            total += n;
            progress(total);
            if n < CLEAR_BATCH as u64 {
                return Ok(total);
            }
        }
    }

    async fn write(
        &self,
        sql: &str,
        key: &str,
        data: &str,
        exp: DateTime<Utc>,
        insert: bool,
    ) -> Result<u64, sqlx::Error> {
        self.count();
        macro_rules! bind3 {
            ($pool:expr, $exp:expr) => {{
                let q = sqlx::query(sql);
                let q = if insert {
                    q.bind(key).bind(data).bind($exp)
                } else {
                    q.bind(data).bind($exp).bind(key)
                };
                q.execute($pool).await.map(|r| r.rows_affected())
            }};
        }
        match &self.pool {
            Pool::Sqlite(p) => bind3!(p, sqlite_datetime_text(exp)),
            Pool::Postgres(p) => bind3!(p, exp),
            Pool::MySql(p) => bind3!(p, exp.naive_utc()),
        }
    }
}

#[async_trait]
impl SessionStore for DbStore {
    fn engine_name(&self) -> &'static str {
        ENGINE
    }

    fn stores_data_in_cookie(&self) -> bool {
        false
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        Ok(self.load_with_expiry(key).await?.map(|(data, _)| data))
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        if !storable_key(key) {
            return Ok(false);
        }
        self.count();
        let found: Option<i32> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar(&self.sql.exists)
                    .bind(key)
                    .fetch_optional(p)
                    .await
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(&self.sql.exists)
                    .bind(key)
                    .fetch_optional(p)
                    .await
            }
            Pool::MySql(p) => sqlx::query_scalar::<_, i64>(&self.sql.exists)
                .bind(key)
                .fetch_optional(p)
                .await
                .map(|o| o.map(|_| 1)),
        }
        .map_err(classify)?;
        Ok(found.is_some())
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        if !storable_key(record.key) {
            return Err(Error::InvalidKey(
                "not storable in django_session.session_key",
            ));
        }
        let data = self
            .signer
            .sign_map(record.data, self.clock.now().timestamp());
        match self
            .write(&self.sql.insert, record.key, &data, record.expires_at, true)
            .await
        {
            Ok(_) => Ok(record.key.to_owned()),
            Err(e) if is_unique_violation(&e) => Err(Error::Duplicate),
            Err(e) => Err(classify(e)),
        }
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        if !storable_key(record.key) {
            return Err(Error::Gone);
        }
        let data = self
            .signer
            .sign_map(record.data, self.clock.now().timestamp());
        match self
            .write(
                &self.sql.update,
                record.key,
                &data,
                record.expires_at,
                false,
            )
            .await
        {
            Ok(0) => Err(Error::Gone),
            Ok(_) => Ok(record.key.to_owned()),
            Err(e) => Err(classify(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        if !storable_key(key) {
            return Ok(());
        }
        self.count();
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&self.sql.delete)
                .bind(key)
                .execute(p)
                .await
                .map(drop),
            Pool::Postgres(p) => sqlx::query(&self.sql.delete)
                .bind(key)
                .execute(p)
                .await
                .map(drop),
            Pool::MySql(p) => sqlx::query(&self.sql.delete)
                .bind(key)
                .execute(p)
                .await
                .map(drop),
        }
        .map_err(classify)
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        self.clear_expired_with_progress(|_| {}).await.map(Some)
    }
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
