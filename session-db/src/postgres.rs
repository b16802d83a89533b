//! PostgreSQL: `expire_date` is `timestamp with time zone`.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool};

use crate::database::{Database, Row, Write, bind_write};
use crate::{Backend, DbError, DbOptions, django_index_name};

pub(crate) async fn connect(url: &str, options: &DbOptions) -> Result<PgPool, DbError> {
    let opts = PgConnectOptions::from_str(url).map_err(|e| DbError::InvalidUrl(e.to_string()))?;
    crate::pool_options(options)
        .connect_with(opts)
        .await
        .map_err(|e| {
            DbError::Session(crate::Origin::of(url, options.acquire_timeout).connect_error(e))
        })
}

#[async_trait]
impl Database for PgPool {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn fetch_row(
        &self,
        sql: &str,
        key: &str,
        live_at: Option<DateTime<Utc>>,
    ) -> Result<Option<Row>, sqlx::Error> {
        let q = sqlx::query_as::<_, (String, Option<DateTime<Utc>>)>(sql).bind(key);
        let q = match live_at {
            Some(t) => q.bind(t),
            None => q,
        };
        Ok(q.fetch_optional(self)
            .await?
            .map(|(data, expire_date)| Row { data, expire_date }))
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
            .bind(expire_date)
            .bind(key)
            .bind(now)
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
            .bind(live_at)
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
        let exp = w.expire_date;
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
            .bind(t)
            .execute(self)
            .await?
            .rows_affected())
    }

    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(self).await.map(drop)
    }

    async fn columns(&self, table: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(table)
        .fetch_all(self)
        .await
    }

    async fn create_schema(&self, t: &str) -> Result<(), sqlx::Error> {
        // Checked first, so a restart does not log "relation … already exists, skipping".
        let present: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(format!("\"{t}\""))
            .fetch_one(self)
            .await?;
        if present.is_some() {
            return Ok(());
        }
        let exp_index = django_index_name(t, "expire_date", "");
        let like_index = django_index_name(t, "session_key", "_like");
        for stmt in [
            format!(
                "CREATE TABLE IF NOT EXISTS \"{t}\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \"session_data\" text NOT NULL, \"expire_date\" timestamp with time zone NOT NULL)"
            ),
            format!("CREATE INDEX IF NOT EXISTS \"{exp_index}\" ON \"{t}\" (\"expire_date\")"),
            format!(
                "CREATE INDEX IF NOT EXISTS \"{like_index}\" ON \"{t}\" (\"session_key\" varchar_pattern_ops)"
            ),
        ] {
            self.execute(&stmt).await?;
        }
        Ok(())
    }

    async fn close(&self) {
        PgPool::close(self).await;
    }
}
