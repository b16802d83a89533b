//! MySQL and MariaDB: `expire_date` is `datetime(6)` holding UTC.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};

use crate::database::{Database, Row, Write, bind_write};
use crate::{Backend, DbError, DbOptions, django_index_name};

pub(crate) async fn connect(url: &str, options: &DbOptions) -> Result<MySqlPool, DbError> {
    let url = url.replacen("mariadb://", "mysql://", 1);
    let opts =
        MySqlConnectOptions::from_str(&url).map_err(|e| DbError::InvalidUrl(e.to_string()))?;
    crate::pool_options(options)
        .connect_with(opts)
        .await
        .map_err(|e| {
            DbError::Session(crate::Origin::of(&url, options.acquire_timeout).connect_error(e))
        })
}

#[async_trait]
impl Database for MySqlPool {
    fn backend(&self) -> Backend {
        Backend::MySql
    }

    async fn fetch_row(
        &self,
        sql: &str,
        key: &str,
        live_at: Option<DateTime<Utc>>,
    ) -> Result<Option<Row>, sqlx::Error> {
        let q = sqlx::query_as::<_, (String, Option<NaiveDateTime>)>(sql).bind(key);
        let q = match live_at {
            Some(t) => q.bind(t.naive_utc()),
            None => q,
        };
        Ok(q.fetch_optional(self).await?.map(|(data, exp)| Row {
            data,
            expire_date: exp.map(|e| e.and_utc()),
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
            .bind(expire_date.naive_utc())
            .bind(key)
            .bind(now.naive_utc())
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
            .bind(live_at.naive_utc())
            .bind(limit)
            .fetch_all(self)
            .await
    }

    async fn exists(&self, sql: &str, key: &str) -> Result<bool, sqlx::Error> {
        let found: Option<i64> = sqlx::query_scalar(sql)
            .bind(key)
            .fetch_optional(self)
            .await?;
        Ok(found.is_some())
    }

    async fn write(&self, sql: &str, w: Write<'_>) -> Result<u64, sqlx::Error> {
        let exp = w.expire_date.naive_utc();
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
            .bind(t.naive_utc())
            .execute(self)
            .await?
            .rows_affected())
    }

    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(self).await.map(drop)
    }

    async fn columns(&self, table: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        // information_schema's columns are `longtext` on MariaDB and blobs on some MySQL
        // versions: cast to text either way.
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT CAST(column_name AS BINARY), CAST(data_type AS BINARY) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?",
        )
        .bind(table)
        .fetch_all(self)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(c, t)| {
                (
                    String::from_utf8_lossy(&c).into_owned(),
                    String::from_utf8_lossy(&t).into_owned(),
                )
            })
            .collect())
    }

    async fn create_schema(&self, t: &str) -> Result<(), sqlx::Error> {
        self.execute(&format!("CREATE TABLE IF NOT EXISTS `{t}` (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)"))
            .await?;
        // MySQL has no CREATE INDEX IF NOT EXISTS.
        let exp_index = django_index_name(t, "expire_date", "");
        let present: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ? LIMIT 1",
        )
        .bind(t)
        .bind(&exp_index)
        .fetch_optional(self)
        .await?;
        if present.is_none() {
            self.execute(&format!(
                "CREATE INDEX `{exp_index}` ON `{t}` (`expire_date`)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn close(&self) {
        MySqlPool::close(self).await;
    }
}
