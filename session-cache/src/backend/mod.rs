//! Cache backends: where the cache engines' bytes live.
//!
//! A backend is one [`CacheBackend`] implementation in its own file plus one line in
//! [`SCHEMES`] (the URL scheme that selects it). The engines above (`cache`, `cached_db`)
//! only see the trait, so adding a backend changes no engine code.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use session_core::{ConfigError, Error};

pub mod memcached;
pub mod memory;
pub mod redis;

pub(crate) const ENGINE: &str = "cache";

/// A cache's primitive operations on full keys and raw bytes. TTLs are whole seconds, at
/// least 1 (the [`Cache`](crate::Cache) above handles expired TTLs).
#[async_trait]
pub trait CacheBackend: Send + Sync + fmt::Debug {
    /// A short name for logs (`redis`, `redis-cluster`, `memcached`, `memory`).
    fn kind(&self) -> &'static str;

    /// Whether the cache lives in this process (its contents die with it).
    fn is_in_process(&self) -> bool;

    /// The backend as the in-process cache, which can hold decoded session maps (the cache
    /// engine then skips encoding); `None` for every other backend (the default).
    fn as_memory(&self) -> Option<&memory::MemoryCache> {
        None
    }

    /// The value under `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error>;

    /// Stores only if absent; `false` when the key is taken.
    async fn add(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error>;

    /// Replaces only if present, atomically; `false` when absent.
    async fn replace(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error>;

    /// Stores unconditionally.
    async fn set(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), Error>;

    /// Stores unless the key currently holds exactly `guard`, atomically (one round trip);
    /// `false` when the guard was there and nothing was written. The cached_db engine guards
    /// its writes with a tombstone so a deleted session is never cached again.
    async fn set_unless(
        &self,
        key: &str,
        value: &[u8],
        ttl: u64,
        guard: &[u8],
    ) -> Result<bool, Error>;

    /// Stores `value` under every key, in as few round trips as the backend allows.
    async fn set_many(&self, keys: &[String], value: &[u8], ttl: u64) -> Result<(), Error> {
        for k in keys {
            self.set(k, value, ttl).await?;
        }
        Ok(())
    }

    /// Removes `key`; whether it was there.
    async fn delete(&self, key: &str) -> Result<bool, Error>;

    /// Removes many keys in as few round trips as the backend allows; how many were there.
    async fn delete_many(&self, keys: &[String]) -> Result<u64, Error> {
        let mut n = 0;
        for k in keys {
            n += u64::from(self.delete(k).await?);
        }
        Ok(n)
    }

    /// Whether `key` holds a value.
    async fn exists(&self, key: &str) -> Result<bool, Error>;

    /// The value under `key` and its remaining TTL in seconds if the backend reports it in
    /// the same round trip (`None`: unknown or no expiry). The default reports none.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<i64>)>, Error> {
        Ok(self.get(key).await?.map(|v| (v, None)))
    }

    /// Sets a new TTL on an existing key without rewriting it: `Some(true)` when done,
    /// `Some(false)` when the key is absent, `None` when the backend cannot (the default;
    /// callers then rewrite the value).
    async fn touch(&self, key: &str, ttl: u64) -> Result<Option<bool>, Error> {
        let _ = (key, ttl);
        Ok(None)
    }

    /// Adds `member` to the set under `key` and makes the set live at least `ttl` more
    /// seconds (the user index). `None` when the backend has no sets (the default).
    async fn set_add(&self, key: &str, member: &str, ttl: u64) -> Result<Option<()>, Error> {
        let _ = (key, member, ttl);
        Ok(None)
    }

    /// The members of the set under `key`; `None` when the backend has no sets.
    async fn set_members(&self, key: &str) -> Result<Option<Vec<String>>, Error> {
        let _ = key;
        Ok(None)
    }

    /// Removes `member` from the set under `key`; `None` when the backend has no sets.
    async fn set_remove(&self, key: &str, member: &str) -> Result<Option<()>, Error> {
        let _ = (key, member);
        Ok(None)
    }

    /// One page of the keys starting with `prefix`: the keys and the cursor of the next page
    /// (`None` at the end). `Ok(None)` when the backend cannot list its keys (the default;
    /// Redis Cluster and Memcached). Used by tools that visit every session.
    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        count: usize,
    ) -> Result<Option<(Vec<String>, Option<String>)>, Error> {
        let _ = (prefix, cursor, count);
        Ok(None)
    }
}

/// What connecting to a backend returns.
pub type Connecting = Pin<Box<dyn Future<Output = Result<Arc<dyn CacheBackend>, Error>> + Send>>;

/// How to connect to one backend from its URL.
pub type Connect = fn(&str) -> Connecting;

/// The backends `CACHE_URL` can name: a URL scheme (with `://`) and how to connect to it.
pub const SCHEMES: &[(&str, Connect)] = &[
    ("redis://", redis::connect_node),
    ("rediss://", redis::connect_node),
    ("redis-cluster://", redis::connect_cluster),
    ("rediss-cluster://", redis::connect_cluster),
    ("memcached://", memcached::connect),
    ("memory://", memory::connect),
];

/// A `CACHE_URL` that cannot be used.
pub(crate) fn invalid_url(reason: String) -> Error {
    Error::permanent(
        ENGINE,
        ConfigError::Invalid {
            setting: "CACHE_URL",
            reason,
        },
    )
}

/// Connects to the backend `url`'s scheme names.
pub async fn connect(url: &str) -> Result<Arc<dyn CacheBackend>, Error> {
    for (scheme, connect) in SCHEMES {
        if url.starts_with(scheme) {
            return connect(url).await;
        }
    }
    let known: Vec<&str> = SCHEMES.iter().map(|(s, _)| *s).collect();
    Err(invalid_url(format!(
        "unknown scheme; expected one of {}",
        known.join(", ")
    )))
}
