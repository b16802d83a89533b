//! [`Cache`]: Django's key function and TTL rules over any [`CacheBackend`].

use std::fmt;
use std::sync::Arc;

use session_core::Error;

use crate::backend::{self, CacheBackend, memory::MemoryBound, memory::MemoryCache};

/// A cache holding raw session values under Django's key function
/// (`KEY_PREFIX:VERSION:<raw key>`) on any backend. The cache and cached_db engines both
/// build on it.
#[derive(Clone)]
pub struct Cache {
    backend: Arc<dyn CacheBackend>,
    key_prefix: String,
    version: i64,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.backend.kind())
            .field("key_prefix", &self.key_prefix)
            .field("version", &self.version)
            .finish()
    }
}

/// A TTL for a backend: at least one second (callers handle ≤ 0 themselves).
fn ttl_secs(ttl: i64) -> u64 {
    u64::try_from(ttl).unwrap_or(0).max(1)
}

impl Cache {
    /// A cache over a backend you built (for example over your app's own Redis connection:
    /// [`Redis::node`](crate::backend::redis::Redis::node)).
    pub fn new(backend: Arc<dyn CacheBackend>, key_prefix: &str, version: i64) -> Cache {
        Cache {
            backend,
            key_prefix: key_prefix.to_owned(),
            version,
        }
    }

    /// Connects to a cache URL; the scheme picks the backend ([`backend::SCHEMES`]):
    /// `redis://host:port/db` (one node), `redis-cluster://h:p,h:p` (a Cluster, seed nodes),
    /// `memcached://h:p[,h:p…]` (one or more Memcached servers, placed as Django's client places
    /// them), or `memory://[?max_entries=N|max_bytes=N]` (in-process, default 100 000
    /// entries).
    pub async fn connect(url: &str, key_prefix: &str, version: i64) -> Result<Cache, Error> {
        Ok(Cache::new(
            backend::connect(url).await?,
            key_prefix,
            version,
        ))
    }

    /// An in-process cache.
    pub fn in_process(bound: MemoryBound, key_prefix: &str, version: i64) -> Cache {
        Cache::new(Arc::new(MemoryCache::new(bound)), key_prefix, version)
    }

    /// The backend underneath.
    pub fn backend(&self) -> &Arc<dyn CacheBackend> {
        &self.backend
    }

    /// Whether the cache lives in this process (`memory://`) rather than on a shared server.
    pub fn is_in_process(&self) -> bool {
        self.backend.is_in_process()
    }

    /// Django's default key function: `KEY_PREFIX:VERSION:raw`.
    pub fn full_key(&self, raw: &str) -> String {
        format!("{}:{}:{raw}", self.key_prefix, self.version)
    }

    /// The value under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.backend.get(key).await
    }

    /// The value under `key` and its remaining TTL when the backend reports it.
    pub async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<i64>)>, Error> {
        self.backend.get_with_ttl(key).await
    }

    /// A new TTL for an existing key: `Some(true)` done, `Some(false)` absent, `None` when
    /// the backend cannot (rewrite it instead). A TTL ≤ 0 deletes the key.
    pub async fn touch(&self, key: &str, ttl: i64) -> Result<Option<bool>, Error> {
        if ttl <= 0 {
            return self.delete(key).await.map(Some);
        }
        self.backend.touch(key, ttl_secs(ttl)).await
    }

    /// Stores only if absent; `false` when the key is taken. A TTL ≤ 0 stores nothing (the
    /// value would vanish at once) but still reports whether the key was free.
    pub async fn add(&self, key: &str, bytes: &[u8], ttl: i64) -> Result<bool, Error> {
        if ttl <= 0 {
            return Ok(!self.exists(key).await?);
        }
        self.backend.add(key, bytes, ttl_secs(ttl)).await
    }

    /// Replaces only if present, in one round trip; `false` when absent. A TTL ≤ 0 deletes
    /// the key (the session has expired) and reports whether it was there.
    pub async fn replace(&self, key: &str, bytes: &[u8], ttl: i64) -> Result<bool, Error> {
        if ttl <= 0 {
            return self.delete(key).await;
        }
        self.backend.replace(key, bytes, ttl_secs(ttl)).await
    }

    /// Stores unconditionally; a TTL ≤ 0 deletes instead, as Django's cache does.
    pub async fn set(&self, key: &str, bytes: &[u8], ttl: i64) -> Result<(), Error> {
        if ttl <= 0 {
            return self.delete(key).await.map(drop);
        }
        self.backend.set(key, bytes, ttl_secs(ttl)).await
    }

    /// Stores unless the key holds exactly `guard`, atomically; `false` when guarded. A TTL
    /// ≤ 0 deletes the key unless it holds the guard.
    pub async fn set_unless(
        &self,
        key: &str,
        bytes: &[u8],
        ttl: i64,
        guard: &[u8],
    ) -> Result<bool, Error> {
        if ttl <= 0 {
            // The session has expired: a guard may stay, anything else goes.
            if self.get(key).await?.as_deref() == Some(guard) {
                return Ok(false);
            }
            return self.delete(key).await.map(|_| true);
        }
        self.backend
            .set_unless(key, bytes, ttl_secs(ttl), guard)
            .await
    }

    /// Stores `bytes` under every key (pipelined on Redis); a TTL ≤ 0 deletes them instead.
    pub async fn set_many(&self, keys: &[String], bytes: &[u8], ttl: i64) -> Result<(), Error> {
        if ttl <= 0 {
            return self.delete_many(keys).await.map(drop);
        }
        self.backend.set_many(keys, bytes, ttl_secs(ttl)).await
    }

    /// Removes `key`; whether it was there.
    pub async fn delete(&self, key: &str) -> Result<bool, Error> {
        self.backend.delete(key).await
    }

    /// Removes many keys in batches (pipelined on Redis); how many were there.
    pub async fn delete_many(&self, keys: &[String]) -> Result<u64, Error> {
        self.backend.delete_many(keys).await
    }

    /// Whether `key` holds a value.
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        self.backend.exists(key).await
    }

    /// One page of the keys starting with `prefix` (full keys; see [`CacheBackend::scan`]).
    pub async fn scan(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        count: usize,
    ) -> Result<Option<(Vec<String>, Option<String>)>, Error> {
        self.backend.scan(prefix, cursor, count).await
    }
}
