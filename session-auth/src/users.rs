//! Where users' password hashes come from: Django's own `auth_user` table ([`DjangoUsers`])
//! or a fixed list ([`StaticUsers`], for tests and small tools).

use std::collections::HashMap;

use async_trait::async_trait;
use session_core::Error;

use crate::{User, UserLookup};

/// A fixed set of users.
#[derive(Debug, Default, Clone)]
pub struct StaticUsers(HashMap<String, String>);

impl<const N: usize> From<[User; N]> for StaticUsers {
    fn from(users: [User; N]) -> Self {
        StaticUsers(users.into_iter().map(|u| (u.id, u.password)).collect())
    }
}

#[async_trait]
impl UserLookup for StaticUsers {
    async fn password(&self, id: &str) -> Result<Option<String>, Error> {
        Ok(self.0.get(id).cloned())
    }
}

/// Django's `auth_user` table (or a custom user model's, by name): reads `password` of an
/// active user by integer primary key, as `ModelBackend.get_user` does — one statement.
/// Works with a data-only role (`SELECT` on the table).
#[derive(Debug, Clone)]
pub struct DjangoUsers {
    pool: Pool,
    sql: String,
}

#[derive(Debug, Clone)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

const ENGINE: &str = "auth";

impl DjangoUsers {
    /// Connects to the Django project's database (`sqlite://…`, `postgres://…`, `mysql://…`)
    /// and reads the table `auth_user`.
    pub async fn connect(url: &str) -> Result<DjangoUsers, Error> {
        Self::connect_table(url, "auth_user").await
    }

    /// As [`connect`](Self::connect), for a custom user model's table.
    pub async fn connect_table(url: &str, table: &str) -> Result<DjangoUsers, Error> {
        if table.is_empty()
            || !table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Error::permanent(
                ENGINE,
                session_core::ConfigError::Invalid {
                    setting: "AUTH_USER_MODEL table",
                    reason: format!("{table:?} is not a plain table name"),
                },
            ));
        }
        let fail = |e: sqlx::Error| Error::transient(ENGINE, e);
        let scheme = url.split(':').next().unwrap_or_default();
        let (pool, sql) = match scheme {
            #[cfg(feature = "sqlite")]
            "sqlite" => (
                Pool::Sqlite(sqlx::SqlitePool::connect(url).await.map_err(fail)?),
                format!("SELECT password FROM \"{table}\" WHERE id = ? AND is_active"),
            ),
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => (
                Pool::Postgres(sqlx::PgPool::connect(url).await.map_err(fail)?),
                format!("SELECT password FROM \"{table}\" WHERE id = $1 AND is_active"),
            ),
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => (
                Pool::MySql(
                    sqlx::MySqlPool::connect(&url.replacen("mariadb://", "mysql://", 1))
                        .await
                        .map_err(fail)?,
                ),
                format!("SELECT password FROM `{table}` WHERE id = ? AND is_active"),
            ),
            other => {
                return Err(Error::permanent(
                    ENGINE,
                    session_core::ConfigError::Invalid {
                        setting: "DATABASE_URL",
                        reason: format!(
                            "{other:?} is not a database this build of session-auth reads (features sqlite, postgres, mysql)"
                        ),
                    },
                ));
            }
        };
        Ok(DjangoUsers { pool, sql })
    }
}

#[async_trait]
impl UserLookup for DjangoUsers {
    async fn password(&self, id: &str) -> Result<Option<String>, Error> {
        // Django's pk.to_python: an integer primary key; anything else is no user.
        let Ok(id) = id.trim().parse::<i64>() else {
            return Ok(None);
        };
        let fail = |e: sqlx::Error| Error::transient(ENGINE, e);
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => {
                sqlx::query_scalar(&self.sql)
                    .bind(id)
                    .fetch_optional(p)
                    .await
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => {
                // auth_user.id is `integer` on PostgreSQL.
                let Ok(id) = i32::try_from(id) else {
                    return Ok(None);
                };
                sqlx::query_scalar(&self.sql)
                    .bind(id)
                    .fetch_optional(p)
                    .await
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => {
                sqlx::query_scalar(&self.sql)
                    .bind(id)
                    .fetch_optional(p)
                    .await
            }
        }
        .map_err(fail)
    }
}
