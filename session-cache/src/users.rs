//! The cache engines' user index on Redis: one set per user,
//! `KEY_PREFIX:VERSION:django.contrib.sessions.user{<user id>}` (the braces hash-tag the
//! user's keys to one Redis Cluster slot), holding the keys of the user's sessions. The set
//! lives as long as the longest session added to it (each add raises its TTL, one script):
//! when the sessions expire, so does the set. Members of sessions deleted or expired
//! earlier are pruned when the user's sessions are listed. The log-out-everywhere mark is
//! `…django.contrib.sessions.logout{<user id>}`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use session_core::users::UserIndex;
use session_core::{Clock, ConfigError, Error};

use crate::Cache;

/// How long a log-out-everywhere mark is kept: longer than any session it must outlive.
pub const LOGOUT_MARK_TTL: i64 = 366 * 24 * 3600;

/// A user index in the cache (Redis node or Cluster); see the [module docs](self).
#[derive(Clone)]
pub struct CacheUserIndex {
    cache: Cache,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for CacheUserIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheUserIndex")
            .field("cache", &self.cache)
            .finish()
    }
}

fn no_sets(cache: &Cache) -> Error {
    Error::permanent(
        "cache",
        ConfigError::Invalid {
            setting: "SESSION_USER_INDEX",
            reason: format!(
                "the {} cache has no sets to keep a user index in",
                cache.backend().kind()
            ),
        },
    )
}

impl CacheUserIndex {
    /// The index in `cache` (Redis; Memcached and in-process memory have no sets — in process use
    /// [`MemoryUserIndex`](session_core::users::MemoryUserIndex), which is exact there).
    /// `clock` is the sessions' clock: an entry lives until its session's expiry by it.
    pub fn new(cache: Cache, clock: Arc<dyn Clock>) -> CacheUserIndex {
        CacheUserIndex { cache, clock }
    }

    fn set_key(&self, user: &str) -> String {
        self.cache
            .full_key(&format!("django.contrib.sessions.user{{{user}}}"))
    }

    fn mark_key(&self, user: &str) -> String {
        self.cache
            .full_key(&format!("django.contrib.sessions.logout{{{user}}}"))
    }
}

#[async_trait]
impl UserIndex for CacheUserIndex {
    async fn add(&self, user: &str, key: &str, expires_at: DateTime<Utc>) -> Result<(), Error> {
        let ttl = (expires_at - self.clock.now()).num_seconds().max(1);
        let ttl = u64::try_from(ttl).unwrap_or(1);
        self.cache
            .backend()
            .set_add(&self.set_key(user), key, ttl)
            .await?
            .ok_or_else(|| no_sets(&self.cache))
    }
    async fn remove(&self, user: &str, key: &str) -> Result<(), Error> {
        self.cache
            .backend()
            .set_remove(&self.set_key(user), key)
            .await?
            .ok_or_else(|| no_sets(&self.cache))
    }
    async fn keys(&self, user: &str) -> Result<Vec<String>, Error> {
        self.cache
            .backend()
            .set_members(&self.set_key(user))
            .await?
            .ok_or_else(|| no_sets(&self.cache))
    }
    async fn revoke(&self, user: &str, at: DateTime<Utc>) -> Result<(), Error> {
        let secs = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
        self.cache
            .set(
                &self.mark_key(user),
                secs.to_string().as_bytes(),
                LOGOUT_MARK_TTL,
            )
            .await
    }
    async fn revoked_at(&self, user: &str) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self
            .cache
            .get(&self.mark_key(user))
            .await?
            .and_then(|b| std::str::from_utf8(&b).ok()?.parse::<i64>().ok())
            .and_then(|s| DateTime::from_timestamp(s, 0)))
    }
}
