//! SQLite, the embedded default. `expire_date` is text `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC,
//! as Django's SQLite backend stores it.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool};

use crate::database::{Database, Row, Write, bind_write};
use crate::{Backend, DbError, DbOptions, django_index_name};

/// How long a SQLite writer waits for the lock before `database is locked`.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Django's SQLite text for a UTC instant: `str(datetime)`, fraction only when non-zero.
pub fn sqlite_datetime_text(t: DateTime<Utc>) -> String {
    let naive = t.naive_utc();
    if naive.and_utc().timestamp_subsec_micros() == 0 {
        naive.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        naive.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

pub(crate) async fn connect(url: &str, options: &DbOptions) -> Result<SqlitePool, DbError> {
    // WAL lets readers run beside the one writer; the busy timeout makes a writer wait for
    // the lock instead of failing at once.
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| DbError::InvalidUrl(e.to_string()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    crate::pool_options(options)
        .connect_with(opts)
        .await
        .map_err(|e| {
            DbError::Session(crate::Origin::of(url, options.acquire_timeout).connect_error(e))
        })
}

#[async_trait]
impl Database for SqlitePool {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn fetch_row(
        &self,
        sql: &str,
        key: &str,
        live_at: Option<DateTime<Utc>>,
    ) -> Result<Option<Row>, sqlx::Error> {
        let q = sqlx::query_as::<_, (Vec<u8>, Option<String>)>(sql).bind(key);
        let q = match live_at {
            Some(t) => q.bind(sqlite_datetime_text(t)),
            None => q,
        };
        // Any column type is read: a BLOB or non-UTF-8 session_data is unreadable data (an
        // empty session, as in Django), and every date format Django's adapter reads counts.
        Ok(q.fetch_optional(self).await?.map(|(data, exp)| Row {
            data: String::from_utf8(data).unwrap_or_default(),
            expire_date: exp.as_deref().and_then(session_core::expiry::parse_iso),
        }))
    }

    async fn exec_strs(
        &self,
        sql: &str,
        strs: &[&str],
        int: Option<i64>,
    ) -> Result<u64, sqlx::Error> {
        let mut q = sqlx::query(sql);
        for s in strs {
            q = q.bind(*s);
        }
        if let Some(i) = int {
            q = q.bind(i);
        }
        Ok(q.execute(self).await?.rows_affected())
    }

    async fn fetch_strings(&self, sql: &str, strs: &[&str]) -> Result<Vec<String>, sqlx::Error> {
        let mut q = sqlx::query_scalar(sql);
        for s in strs {
            q = q.bind(*s);
        }
        q.fetch_all(self).await
    }

    async fn fetch_int(&self, sql: &str, strs: &[&str]) -> Result<Option<i64>, sqlx::Error> {
        let mut q = sqlx::query_scalar(sql);
        for s in strs {
            q = q.bind(*s);
        }
        q.fetch_optional(self).await
    }

    async fn touch(
        &self,
        sql: &str,
        key: &str,
        expire_date: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(sql)
            .bind(sqlite_datetime_text(expire_date))
            .bind(key)
            .bind(sqlite_datetime_text(now))
            .execute(self)
            .await?
            .rows_affected())
    }

    async fn keys_after(
        &self,
        sql: &str,
        after: &str,
        live_at: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(sql)
            .bind(after)
            .bind(sqlite_datetime_text(live_at))
            .bind(limit)
            .fetch_all(self)
            .await
    }

    async fn exists(&self, sql: &str, key: &str) -> Result<bool, sqlx::Error> {
        let found: Option<i32> = sqlx::query_scalar(sql)
            .bind(key)
            .fetch_optional(self)
            .await?;
        Ok(found.is_some())
    }

    async fn write(&self, sql: &str, w: Write<'_>) -> Result<u64, sqlx::Error> {
        let exp = sqlite_datetime_text(w.expire_date);
        let q = bind_write!(sqlx::query(sql), w, exp);
        Ok(q.execute(self).await?.rows_affected())
    }

    async fn execute_with_key(&self, sql: &str, key: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(sql)
            .bind(key)
            .execute(self)
            .await?
            .rows_affected())
    }

    async fn execute_with_time(&self, sql: &str, t: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(sql)
            .bind(sqlite_datetime_text(t))
            .execute(self)
            .await?
            .rows_affected())
    }

    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(self).await.map(drop)
    }

    async fn columns(&self, table: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as("SELECT name, type FROM pragma_table_info(?)")
            .bind(table)
            .fetch_all(self)
            .await
    }

    async fn create_schema(&self, t: &str) -> Result<(), sqlx::Error> {
        let exp_index = django_index_name(t, "expire_date", "");
        self.execute(&format!(
            "CREATE TABLE IF NOT EXISTS \"{t}\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \"session_data\" text NOT NULL, \"expire_date\" datetime NOT NULL)"
        ))
        .await?;
        self.execute(&format!(
            "CREATE INDEX IF NOT EXISTS \"{exp_index}\" ON \"{t}\" (\"expire_date\")"
        ))
        .await
    }

    async fn close(&self) {
        SqlitePool::close(self).await;
    }
}
