//! The user index of the db engine: two side tables in the same database, beside
//! `django_session` (which is never changed): `<table>_user` (session key → user id, and
//! when the entry expires, in Unix seconds) and `<table>_logout` (user id → when the user was
//! last logged out everywhere). Entries expire with their sessions (`clear_expired` removes
//! both).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use session_core::Error;
use session_core::users::UserIndex;

use crate::database::Database;
use crate::{Backend, DbStore};

/// The statements of the index, rendered once for the database and table.
#[derive(Debug)]
struct IndexSql {
    create: Vec<String>,
    put: String,
    keys: String,
    remove: String,
    revoke: String,
    revoked: String,
    clear: String,
    count: String,
}

impl IndexSql {
    fn new(backend: Backend, table: &str) -> IndexSql {
        let (q, p): (&str, fn(usize) -> String) = match backend {
            Backend::Postgres => ("\"", |i| format!("${i}")),
            Backend::Sqlite => ("\"", |_| "?".to_owned()),
            Backend::MySql => ("`", |_| "?".to_owned()),
        };
        let users = format!("{q}{table}_user{q}");
        let logout = format!("{q}{table}_logout{q}");
        let idx = format!("{q}{table}_user_user_id{q}");
        let create = match backend {
            Backend::MySql => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {users} (session_key varchar(40) NOT NULL PRIMARY KEY, user_id varchar(255) NOT NULL, expires bigint NOT NULL, INDEX {idx} (user_id))"
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {logout} (user_id varchar(255) NOT NULL PRIMARY KEY, logged_out_at bigint NOT NULL)"
                ),
            ],
            _ => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {users} (session_key varchar(40) NOT NULL PRIMARY KEY, user_id varchar(255) NOT NULL, expires bigint NOT NULL)"
                ),
                format!("CREATE INDEX IF NOT EXISTS {idx} ON {users} (user_id)"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {logout} (user_id varchar(255) NOT NULL PRIMARY KEY, logged_out_at bigint NOT NULL)"
                ),
            ],
        };
        let (put, revoke) = match backend {
            Backend::MySql => (
                format!(
                    "INSERT INTO {users} (session_key, user_id, expires) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), expires = VALUES(expires)"
                ),
                format!(
                    "INSERT INTO {logout} (user_id, logged_out_at) VALUES (?, ?) ON DUPLICATE KEY UPDATE logged_out_at = VALUES(logged_out_at)"
                ),
            ),
            _ => (
                format!(
                    "INSERT INTO {users} (session_key, user_id, expires) VALUES ({}, {}, {}) ON CONFLICT (session_key) DO UPDATE SET user_id = excluded.user_id, expires = excluded.expires",
                    p(1),
                    p(2),
                    p(3)
                ),
                format!(
                    "INSERT INTO {logout} (user_id, logged_out_at) VALUES ({}, {}) ON CONFLICT (user_id) DO UPDATE SET logged_out_at = excluded.logged_out_at",
                    p(1),
                    p(2)
                ),
            ),
        };
        IndexSql {
            create,
            put,
            keys: format!("SELECT session_key FROM {users} WHERE user_id = {}", p(1)),
            remove: format!(
                "DELETE FROM {users} WHERE session_key = {} AND user_id = {}",
                p(1),
                p(2)
            ),
            revoke,
            revoked: format!(
                "SELECT logged_out_at FROM {logout} WHERE user_id = {}",
                p(1)
            ),
            clear: format!("DELETE FROM {users} WHERE expires < {}", p(1)),
            count: format!("SELECT COUNT(*) FROM {users}"),
        }
    }
}

/// The db engine's user index ([`DbStore::user_index`]).
#[derive(Clone)]
pub struct SqlUserIndex {
    db: Arc<dyn Database>,
    sql: Arc<IndexSql>,
}

impl std::fmt::Debug for SqlUserIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlUserIndex")
            .field("backend", &self.db.backend())
            .finish()
    }
}

fn failed(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            Error::transient("db", e)
        }
        e => Error::permanent("db", e),
    }
}

impl SqlUserIndex {
    pub(crate) fn new(db: Arc<dyn Database>, table: &str) -> SqlUserIndex {
        let sql = IndexSql::new(db.backend(), table);
        SqlUserIndex {
            db,
            sql: Arc::new(sql),
        }
    }

    /// Creates the two side tables and the user-id index when missing (run by
    /// `sessionctl migrate-schema`, or at start-up with `SESSION_DB_CREATE_TABLE`).
    pub async fn ensure_schema(&self) -> Result<(), Error> {
        for statement in &self.sql.create {
            self.db.execute(statement).await.map_err(failed)?;
        }
        Ok(())
    }
}

impl DbStore {
    /// The user index beside this store's table (see [`users`](crate::users)); its tables
    /// are made by [`SqlUserIndex::ensure_schema`].
    pub fn user_index(&self) -> SqlUserIndex {
        SqlUserIndex::new(self.database(), self.table())
    }
}

#[async_trait]
impl UserIndex for SqlUserIndex {
    async fn add(&self, user: &str, key: &str, expires_at: DateTime<Utc>) -> Result<(), Error> {
        self.db
            .exec_strs(&self.sql.put, &[key, user], Some(expires_at.timestamp()))
            .await
            .map(drop)
            .map_err(failed)
    }
    async fn remove(&self, user: &str, key: &str) -> Result<(), Error> {
        self.db
            .exec_strs(&self.sql.remove, &[key, user], None)
            .await
            .map(drop)
            .map_err(failed)
    }
    async fn keys(&self, user: &str) -> Result<Vec<String>, Error> {
        self.db
            .fetch_strings(&self.sql.keys, &[user])
            .await
            .map_err(failed)
    }
    async fn revoke(&self, user: &str, at: DateTime<Utc>) -> Result<(), Error> {
        // Whole seconds, rounded up: a session saved in the same second as the logout counts
        // as saved before it.
        let secs = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
        self.db
            .exec_strs(&self.sql.revoke, &[user], Some(secs))
            .await
            .map(drop)
            .map_err(failed)
    }
    async fn revoked_at(&self, user: &str) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self
            .db
            .fetch_int(&self.sql.revoked, &[user])
            .await
            .map_err(failed)?
            .and_then(|s| DateTime::from_timestamp(s, 0)))
    }
    async fn clear_expired(&self, now: DateTime<Utc>) -> Result<u64, Error> {
        self.db
            .exec_strs(&self.sql.clear, &[], Some(now.timestamp()))
            .await
            .map_err(failed)
    }
    async fn entries(&self) -> Result<Option<u64>, Error> {
        Ok(self
            .db
            .fetch_int(&self.sql.count, &[])
            .await
            .map_err(failed)?
            .and_then(|n| u64::try_from(n).ok()))
    }
}
