//! The one place that differs per database: a [`Database`] implementation per module
//! (`sqlite`, `postgres`, `mysql`, each behind its Cargo feature) binds Django's
//! `expire_date` type, reads rows, and creates Django's schema.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Backend;

/// A `django_session` row as read: the encoded data and, when readable, the expiry.
pub(crate) struct Row {
    pub(crate) data: String,
    pub(crate) expire_date: Option<DateTime<Utc>>,
}

/// An `INSERT` (`key, data, expire_date`) or `UPDATE` (`data, expire_date, key`).
pub(crate) struct Write<'a> {
    pub(crate) insert: bool,
    pub(crate) key: &'a str,
    pub(crate) data: &'a str,
    pub(crate) expire_date: DateTime<Utc>,
}

#[async_trait]
pub(crate) trait Database: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// The row `sql` selects for `key`, binding `live_at` second when given.
    async fn fetch_row(
        &self,
        sql: &str,
        key: &str,
        live_at: Option<DateTime<Utc>>,
    ) -> Result<Option<Row>, sqlx::Error>;
    async fn exists(&self, sql: &str, key: &str) -> Result<bool, sqlx::Error>;
    /// Executes `sql` binding `strs` in order, then `int` if given; rows affected.
    async fn exec_strs(
        &self,
        sql: &str,
        strs: &[&str],
        int: Option<i64>,
    ) -> Result<u64, sqlx::Error>;
    /// The first column of every row `sql` selects (strings), binding `strs` in order.
    async fn fetch_strings(&self, sql: &str, strs: &[&str]) -> Result<Vec<String>, sqlx::Error>;
    /// The integer `sql` selects, if a row, binding `strs` in order.
    async fn fetch_int(&self, sql: &str, strs: &[&str]) -> Result<Option<i64>, sqlx::Error>;
    /// Sets the expiry of a live row (`touch`: expiry, key, now); rows affected.
    async fn touch(
        &self,
        sql: &str,
        key: &str,
        expire_date: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error>;
    /// Keys `sql` lists: after `after`, live at `live_at`, at most `limit`.
    async fn keys_after(
        &self,
        sql: &str,
        after: &str,
        live_at: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, sqlx::Error>;
    async fn write(&self, sql: &str, w: Write<'_>) -> Result<u64, sqlx::Error>;
    /// Executes `sql` with `key` bound; rows affected.
    async fn execute_with_key(&self, sql: &str, key: &str) -> Result<u64, sqlx::Error>;
    /// Executes `sql` with an instant bound; rows affected.
    async fn execute_with_time(&self, sql: &str, t: DateTime<Utc>) -> Result<u64, sqlx::Error>;
    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error>;
    /// `(column name, data type)` of `table`'s columns as the catalog has them; empty when
    /// the table does not exist.
    async fn columns(&self, table: &str) -> Result<Vec<(String, String)>, sqlx::Error>;
    /// Django's `sessions.0001_initial` for `table`, when missing.
    async fn create_schema(&self, table: &str) -> Result<(), sqlx::Error>;
    async fn close(&self);
}

/// Writes the binds of `w` onto a query in the order its statement expects.
macro_rules! bind_write {
    ($query:expr, $w:expr, $exp:expr) => {{
        let q = $query;
        if $w.insert {
            q.bind($w.key).bind($w.data).bind($exp)
        } else {
            q.bind($w.data).bind($exp).bind($w.key)
        }
    }};
}
pub(crate) use bind_write;
