//! [`DbStore`]: the engine over any of the compiled databases.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use session_core::codec::{Signer, decode_or_empty};
use session_core::expiry::SystemClock;
use session_core::key::is_acceptable_key;
use session_core::settings::SettingsGroup;
use session_core::{Clock, Error, Map, Record, SessionStore, Settings};

use crate::database::{Database, Row, Write};
use crate::statements::Statements;
use crate::{Backend, CLEAR_BATCH, DbError, DbOptions, DbSettings, ENGINE, Origin};

/// A session store on one of the databases.
#[derive(Clone)]
pub struct DbStore {
    db: Arc<dyn Database>,
    table: Arc<str>,
    sql: Arc<Statements>,
    signer: Signer,
    clock: Arc<dyn Clock>,
    statements: Arc<AtomicU64>,
    clear_pause: std::time::Duration,
    origin: Arc<Origin>,
}

impl fmt::Debug for DbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbStore")
            .field("backend", &self.db.backend())
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
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

    /// Builds the store the settings describe (`DATABASE_URL`, `SESSION_DB_TABLE`, the pool
    /// settings), then prepares the schema as `SESSION_DB_CREATE_TABLE` says (see
    /// [`prepare_schema`](Self::prepare_schema)): on PostgreSQL and MySQL the table must
    /// exist already (Django's `migrate`, or `sessionctl migrate-schema`).
    pub async fn from_settings(settings: &Settings) -> Result<DbStore, DbError> {
        let db =
            DbSettings::from_settings(settings).map_err(|e| DbError::InvalidUrl(e.to_string()))?;
        let url = db.url.ok_or(DbError::MissingUrl)?;
        let options = DbOptions {
            table: db.table,
            max_connections: db.max_connections.max(1),
            acquire_timeout: std::time::Duration::from_secs(db.pool_timeout_secs.max(1)),
            create_table: db.create_table,
            clear_pause: std::time::Duration::from_millis(db.clear_pause_ms),
            ..DbOptions::default()
        };
        let create = options.create_table;
        let store = Self::connect_with(
            url.as_str(),
            settings.session_signer(),
            Arc::new(SystemClock),
            options,
        )
        .await?;
        store.prepare_schema(create).await?;
        Ok(store)
    }

    /// What a store does with the schema on start-up: creates the table when `create` says
    /// so (`None`: only on SQLite, the embedded default), then checks that the table has
    /// Django's shape ([`check_schema`](Self::check_schema)).
    pub async fn prepare_schema(&self, create: Option<bool>) -> Result<(), DbError> {
        let columns = self.columns().await?;
        // An existing table is never altered, only checked: one catalog query either way.
        if columns.is_empty() && create.unwrap_or(self.backend() == Backend::Sqlite) {
            self.ensure_schema().await?;
            return self.check_schema().await;
        }
        self.check_columns(&columns)
    }

    async fn columns(&self) -> Result<Vec<(String, String)>, DbError> {
        self.db
            .columns(&self.table)
            .await
            .map_err(|e| DbError::Session(self.origin.classify(e)))
    }

    /// Checks that the table exists with Django's three columns and their types
    /// (`session_key` varchar, `session_data` text, `expire_date` a timestamp): one query on
    /// the catalog, which a role with only SELECT/INSERT/UPDATE/DELETE on the table may run.
    pub async fn check_schema(&self) -> Result<(), DbError> {
        let columns = self.columns().await?;
        self.check_columns(&columns)
    }

    fn check_columns(&self, columns: &[(String, String)]) -> Result<(), DbError> {
        let err = |problem: String| {
            DbError::Schema(
                session_core::error::ServiceError::new(
                    self.origin.service,
                    self.origin.address.clone(),
                    "SESSION_DB_CREATE_TABLE",
                )
                .problem(problem),
            )
        };
        if columns.is_empty() {
            return Err(err(format!(
                "table {:?} does not exist (or this role may not see it): create it with Django's `manage.py migrate sessions`, `sessionctl migrate-schema`, or SESSION_DB_CREATE_TABLE=true",
                self.table
            )));
        }
        for (column, types) in [
            ("session_key", &["varchar", "character varying", "text"][..]),
            ("session_data", &["text", "longtext", "mediumtext"][..]),
            (
                "expire_date",
                &["timestamp with time zone", "datetime", "timestamp"][..],
            ),
        ] {
            let Some((_, ty)) = columns.iter().find(|(c, _)| c.eq_ignore_ascii_case(column)) else {
                return Err(err(format!(
                    "table {:?} has no column {column:?}: it is not Django's django_session (columns session_key, session_data, expire_date)",
                    self.table
                )));
            };
            let ty = ty.to_ascii_lowercase();
            if !types.iter().any(|t| ty.starts_with(t)) {
                return Err(err(format!(
                    "table {:?}: column {column:?} is {ty}, Django's is {}",
                    self.table, types[0]
                )));
            }
        }
        Ok(())
    }

    /// Connects with an explicit signer, clock and options. SQLite files are created when
    /// missing (in WAL mode); `sqlite:///abs/path` and `sqlite://rel/path` are both read.
    pub async fn connect_with(
        url: &str,
        signer: Signer,
        clock: Arc<dyn Clock>,
        options: DbOptions,
    ) -> Result<DbStore, DbError> {
        let db: Arc<dyn Database> = match Backend::from_url(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Arc::new(crate::sqlite::connect(url, &options).await?),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Arc::new(crate::postgres::connect(url, &options).await?),
            #[cfg(feature = "mysql")]
            Backend::MySql => Arc::new(crate::mysql::connect(url, &options).await?),
            #[allow(unreachable_patterns)]
            other => return Err(DbError::NotCompiled(other.feature())),
        };
        let origin = Origin::of(url, options.acquire_timeout);
        let mut store = Self::over(db, signer, clock, &options.table, origin)?;
        store.clear_pause = options.clear_pause;
        Ok(store)
    }

    /// A store over your application's own SQLite pool: it shares the pool's size and
    /// timeouts (`options.table` names the table; the other options are the pool's business).
    #[cfg(feature = "sqlite")]
    pub fn from_sqlite_pool(
        pool: sqlx::SqlitePool,
        signer: Signer,
        clock: Arc<dyn Clock>,
        options: &DbOptions,
    ) -> Result<DbStore, DbError> {
        Self::from_pool(Arc::new(pool), signer, clock, options)
    }

    /// A store over your application's own PostgreSQL pool (see
    /// [`from_sqlite_pool`](Self::from_sqlite_pool)).
    #[cfg(feature = "postgres")]
    pub fn from_pg_pool(
        pool: sqlx::PgPool,
        signer: Signer,
        clock: Arc<dyn Clock>,
        options: &DbOptions,
    ) -> Result<DbStore, DbError> {
        Self::from_pool(Arc::new(pool), signer, clock, options)
    }

    /// A store over your application's own MySQL/MariaDB pool (see
    /// [`from_sqlite_pool`](Self::from_sqlite_pool)).
    #[cfg(feature = "mysql")]
    pub fn from_mysql_pool(
        pool: sqlx::MySqlPool,
        signer: Signer,
        clock: Arc<dyn Clock>,
        options: &DbOptions,
    ) -> Result<DbStore, DbError> {
        Self::from_pool(Arc::new(pool), signer, clock, options)
    }

    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    fn from_pool(
        db: Arc<dyn Database>,
        signer: Signer,
        clock: Arc<dyn Clock>,
        options: &DbOptions,
    ) -> Result<DbStore, DbError> {
        let origin = Origin::app_pool(match db.backend() {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MySql => "MySQL",
        });
        let mut store = Self::over(db, signer, clock, &options.table, origin)?;
        store.clear_pause = options.clear_pause;
        Ok(store)
    }

    fn over(
        db: Arc<dyn Database>,
        signer: Signer,
        clock: Arc<dyn Clock>,
        table: &str,
        origin: Origin,
    ) -> Result<DbStore, DbError> {
        if table.is_empty()
            || table.len() > 64
            || !table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(DbError::InvalidTable(table.to_owned()));
        }
        Ok(DbStore {
            sql: Arc::new(Statements::new(db.backend(), table)),
            table: table.into(),
            db,
            signer,
            clock,
            statements: Arc::default(),
            clear_pause: std::time::Duration::ZERO,
            origin: Arc::new(origin),
        })
    }

    /// The database in use.
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// The clock expiry is judged by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The table in use.
    pub fn table(&self) -> &str {
        &self.table
    }

    pub(crate) fn database(&self) -> Arc<dyn Database> {
        self.db.clone()
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
        self.db
            .create_schema(&self.table)
            .await
            .map_err(|e| self.origin.classify(e))
    }

    /// Drops the table (tests and tooling).
    pub async fn drop_table(&self) -> Result<(), Error> {
        // With the user index's side tables, if any.
        for table in [
            self.table.to_string(),
            format!("{}_user", self.table),
            format!("{}_logout", self.table),
        ] {
            let stmt = match self.db.backend() {
                Backend::MySql => format!("DROP TABLE IF EXISTS `{table}`"),
                _ => format!("DROP TABLE IF EXISTS \"{table}\""),
            };
            self.db
                .execute(&stmt)
                .await
                .map_err(|e| self.origin.classify(e))?;
        }
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.db.close().await;
    }

    async fn fetch_row(
        &self,
        sql: &str,
        key: &str,
        live_at: Option<DateTime<Utc>>,
    ) -> Result<Option<Row>, Error> {
        self.count();
        self.db
            .fetch_row(sql, key, live_at)
            .await
            .map_err(|e| self.origin.classify(e))
    }

    /// The raw row for a key, regardless of expiry: `(session_data, expire_date)` (tooling
    /// and interop tests). A row whose expiry cannot be read is `None`.
    pub async fn raw_row(&self, key: &str) -> Result<Option<(String, DateTime<Utc>)>, Error> {
        Ok(self
            .fetch_row(&self.sql.row, key, None)
            .await?
            .and_then(|r| Some((r.data, r.expire_date?))))
    }

    /// Loads a live session together with its `expire_date`, in one query (the cached_db
    /// engine sizes its cache entry from it).
    pub async fn load_with_expiry(&self, key: &str) -> Result<Option<(Map, DateTime<Utc>)>, Error> {
        if !is_acceptable_key(key) {
            return Ok(None);
        }
        let now = self.clock.now();
        let Some(row) = self.fetch_row(&self.sql.load, key, Some(now)).await? else {
            return Ok(None);
        };
        let Some(expire_date) = row.expire_date else {
            tracing::warn!(target: "django.contrib.sessions", engine = ENGINE, "session row with an unreadable expire_date treated as missing");
            return Ok(None);
        };
        // A row whose data does not verify is an empty session under the same key, as in
        // Django (the warning is logged by the codec).
        let data = decode_or_empty(&self.signer, &row.data, None, now);
        Ok(Some((data, expire_date)))
    }

    /// Django's `clearsessions`: deletes expired rows in batches of [`CLEAR_BATCH`] (short
    /// transactions, no long table lock), calling `progress` with the running total after
    /// each batch.
    pub async fn clear_expired_with_progress(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, Error> {
        let now = self.clock.now();
        let mut total = 0u64;
        loop {
            self.count();
            let n = self
                .db
                .execute_with_time(&self.sql.clear_batch, now)
                .await
                .map_err(|e| self.origin.classify(e))?;
            total += n;
            progress(total);
            if n < CLEAR_BATCH.unsigned_abs() {
                return Ok(total);
            }
            // Let other writers take the lock between batches (SQLite has one writer).
            if self.clear_pause.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(self.clear_pause).await;
            }
        }
    }

    async fn write(&self, record: &Record<'_>, insert: bool) -> Result<u64, sqlx::Error> {
        let data = self.signer.sign_map(record.data, self.clock.now());
        self.count();
        let sql = if insert {
            &self.sql.insert
        } else {
            &self.sql.update
        };
        self.db
            .write(
                sql,
                Write {
                    insert,
                    key: record.key,
                    data: &data,
                    expire_date: record.expires_at,
                },
            )
            .await
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

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<DateTime<Utc>>)>, Error> {
        Ok(DbStore::load_with_expiry(self, key)
            .await?
            .map(|(data, at)| (data, Some(at))))
    }

    /// Live sessions in key order; the cursor is the last key of the page.
    async fn list_keys(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<session_core::KeyPage>, Error> {
        let limit = limit.clamp(1, 100_000);
        self.count();
        let keys = self
            .db
            .keys_after(
                &self.sql.keys_after,
                cursor.unwrap_or(""),
                self.clock.now(),
                i64::try_from(limit).unwrap_or(100_000),
            )
            .await
            .map_err(|e| self.origin.classify(e))?;
        let next = if keys.len() >= limit {
            keys.last().cloned()
        } else {
            None
        };
        Ok(Some(session_core::KeyPage { keys, next }))
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        if !is_acceptable_key(key) {
            return Ok(false);
        }
        self.count();
        self.db
            .exists(&self.sql.exists, key)
            .await
            .map_err(|e| self.origin.classify(e))
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        if !is_acceptable_key(record.key) {
            return Err(Error::InvalidKey("not a key this engine generates"));
        }
        match self.write(record, true).await {
            Ok(_) => Ok(record.key.to_owned()),
            Err(e) if is_unique_violation(&e) => Err(Error::Duplicate),
            Err(e) => Err(self.origin.classify(e)),
        }
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        if !is_acceptable_key(record.key) {
            return Err(Error::Gone);
        }
        match self.write(record, false).await {
            Ok(0) => Err(Error::Gone),
            Ok(_) => Ok(record.key.to_owned()),
            Err(e) => Err(self.origin.classify(e)),
        }
    }

    /// `UPDATE … SET expire_date` on a live row only: the data is not rewritten, and an
    /// expired or deleted row is [`Error::Gone`].
    async fn touch(&self, record: &Record<'_>) -> Result<String, Error> {
        if !is_acceptable_key(record.key) {
            return Err(Error::Gone);
        }
        self.count();
        match self
            .db
            .touch(
                &self.sql.touch,
                record.key,
                record.expires_at,
                self.clock.now(),
            )
            .await
        {
            Ok(0) => Err(Error::Gone),
            Ok(_) => Ok(record.key.to_owned()),
            Err(e) => Err(self.origin.classify(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        if !is_acceptable_key(key) {
            return Ok(());
        }
        self.count();
        self.db
            .execute_with_key(&self.sql.delete, key)
            .await
            .map(drop)
            .map_err(|e| self.origin.classify(e))
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        self.clear_expired_with_progress(&|_| {}).await.map(Some)
    }

    async fn clear_expired_with_progress(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Option<u64>, Error> {
        DbStore::clear_expired_with_progress(self, progress)
            .await
            .map(Some)
    }

    async fn close(&self) {
        DbStore::close(self).await;
    }
}
