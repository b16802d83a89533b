#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backend;
mod cache;
pub mod pickle;
pub mod users;

use std::sync::Arc;

use async_trait::async_trait;
use session_core::key::is_acceptable_key;
use session_core::settings::{ConnectionUrl, SettingValue, SettingsGroup};
use session_core::{ConfigError, Error, Map, Record, SessionStore, Settings, Value};

pub use backend::memory::MemoryBound;
use backend::memory::Stored;
pub use backend::redis::{REDIS_CONNECT_TIMEOUT, REDIS_RESPONSE_TIMEOUT};
pub use backend::{CacheBackend, SCHEMES};
pub use cache::Cache;
pub use users::CacheUserIndex;

const ENGINE: &str = "cache";

/// Django's raw-key prefix of the cache engine.
pub const CACHE_KEY_PREFIX: &str = "django.contrib.sessions.cache";

/// How session dicts are stored as cache values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// Pickle protocol 5, as Django's `RedisCache` writes it (the default: Django can share it).
    Pickle,
    /// Python-compatible JSON text, for Rust-only deployments.
    Json,
}

/// `SESSION_CACHE_VALUE_FORMAT`: `pickle` or `json`.
impl SettingValue for ValueFormat {
    fn from_text(text: &str) -> Result<ValueFormat, String> {
        if text.eq_ignore_ascii_case("pickle") {
            Ok(ValueFormat::Pickle)
        } else if text.eq_ignore_ascii_case("json") {
            Ok(ValueFormat::Json)
        } else {
            Err(format!("{text:?}: expected \"pickle\" or \"json\""))
        }
    }
}

session_core::settings_table! {
    /// The cache settings the cache and cached_db engines read (Django keeps these in
    /// `CACHES`; here they are flat settings).
    #[derive(Debug, Clone)]
    pub struct CacheSettings {
        /// `CACHE_URL`: `redis://…`, `rediss://…`, `redis-cluster://h:p,h:p`,
        /// `memcached://h:p[,h:p…]` or `memory://`.
        url: Option<ConnectionUrl> = "CACHE_URL" => None,
        /// The cache's `KEY_PREFIX` (default empty).
        key_prefix: String = "CACHE_KEY_PREFIX" => String::new(),
        /// The cache's `VERSION` (default 1).
        version: i64 = "CACHE_VERSION" => 1,
        /// `SESSION_CACHE_VALUE_FORMAT` (not a Django setting): `pickle` (default, what Django's
        /// `RedisCache` stores, so Django shares the sessions) or `json` (Rust-only deployments).
        value_format: ValueFormat = "SESSION_CACHE_VALUE_FORMAT" => ValueFormat::Pickle,
    }
}

impl CacheSettings {
    /// Connects to the cache `CACHE_URL` names ([`ConfigError::Missing`] when unset).
    pub async fn connect(&self) -> Result<Cache, Error> {
        let url = self.url.as_ref().ok_or_else(|| {
            Error::permanent(
                ENGINE,
                ConfigError::Missing {
                    setting: "CACHE_URL",
                },
            )
        })?;
        Cache::connect(url.as_str(), &self.key_prefix, self.version).await
    }
}

impl ValueFormat {
    /// Encodes a session dict.
    pub fn encode(self, map: &Map) -> Vec<u8> {
        match self {
            ValueFormat::Pickle => pickle::dumps(map),
            ValueFormat::Json => Value::Object(map.clone()).to_python_json().into_bytes(),
        }
    }

    /// The value that marks a deleted session: a pickled `None` (JSON `null`). Django's
    /// cache engines read it as a miss; a later refill (`add`) or save cannot replace it, so
    /// a deleted session never comes back through the cache.
    pub fn tombstone(self) -> &'static [u8] {
        match self {
            ValueFormat::Pickle => b"\x80\x05N.",
            ValueFormat::Json => b"null",
        }
    }

    /// Decodes a session dict; `None` (with a warning) for anything else, never an error. A
    /// [`tombstone`](Self::tombstone) (in either format) is `None` without a warning.
    pub fn decode(self, bytes: &[u8]) -> Option<Map> {
        if bytes == ValueFormat::Pickle.tombstone() || bytes == ValueFormat::Json.tombstone() {
            return None;
        }
        // Django's Redis serializer stores a bare int as decimal text: never a session.
        if !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'-') {
            tracing::warn!(target: "django.contrib.sessions", "a bare integer under a session key treated as missing");
            return None;
        }
        let result = match self {
            ValueFormat::Pickle => pickle::loads(bytes).map_err(|e| e.to_string()),
            ValueFormat::Json => match std::str::from_utf8(bytes).ok().map(Value::from_python_json)
            {
                Some(Ok(Value::Object(m))) => Ok(m),
                _ => Err("not a JSON object".to_owned()),
            },
        };
        match result {
            Ok(m) => Some(m),
            Err(reason) => {
                tracing::warn!(target: "django.contrib.sessions", %reason, "unreadable cached session treated as missing");
                None
            }
        }
    }
}

/// Django's `cache` session engine: the session dict itself in the cache under
/// `KEY_PREFIX:VERSION:django.contrib.sessions.cache<key>`, expiring by TTL.
#[derive(Debug, Clone)]
pub struct CacheStore {
    cache: Cache,
    format: ValueFormat,
    /// `KEY_PREFIX:VERSION:django.contrib.sessions.cache`, built once.
    key_prefix: String,
}

impl CacheStore {
    /// The engine over a cache, in the given value format.
    pub fn new(cache: Cache, format: ValueFormat) -> CacheStore {
        let key_prefix = cache.full_key(CACHE_KEY_PREFIX);
        CacheStore {
            cache,
            format,
            key_prefix,
        }
    }

    /// The engine the settings describe (`CACHE_URL`, `CACHE_KEY_PREFIX`, `CACHE_VERSION`,
    /// `SESSION_CACHE_VALUE_FORMAT`: pickles as Django stores them unless set to `json`).
    pub async fn from_settings(settings: &Settings) -> Result<CacheStore, Error> {
        let cache_settings =
            CacheSettings::from_settings(settings).map_err(|e| Error::permanent(ENGINE, e))?;
        let cache = cache_settings.connect().await?;
        Ok(CacheStore::new(cache, cache_settings.value_format))
    }

    /// The cache underneath.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The full cache key of a session key.
    pub fn cache_key(&self, session_key: &str) -> String {
        let mut key = String::with_capacity(self.key_prefix.len() + session_key.len());
        key.push_str(&self.key_prefix);
        key.push_str(session_key);
        key
    }

    /// The in-process cache, where sessions are kept as decoded maps.
    fn maps(&self) -> Option<&backend::memory::MemoryCache> {
        self.cache.backend().as_memory()
    }
}

#[async_trait]
impl SessionStore for CacheStore {
    fn engine_name(&self) -> &'static str {
        ENGINE
    }

    fn stores_data_in_cookie(&self) -> bool {
        false
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        if self.maps().is_some() {
            return Ok(self.load_shared(key).await?.map(Arc::unwrap_or_clone));
        }
        if !is_acceptable_key(key) {
            return Ok(None);
        }
        Ok(self
            .cache
            .get(&self.cache_key(key))
            .await?
            .and_then(|b| self.format.decode(&b)))
    }

    /// In process: the stored map itself, shared (nothing decoded or copied).
    async fn load_shared(&self, key: &str) -> Result<Option<Arc<Map>>, Error> {
        match self.maps() {
            Some(maps) if is_acceptable_key(key) => {
                Ok(match maps.get_stored(&self.cache_key(key)).await {
                    Some(Stored::Map(m)) => Some(m),
                    // Bytes someone wrote under a session key: read as any cache's value.
                    Some(Stored::Bytes(b)) => self.format.decode(&b).map(Arc::new),
                    None => None,
                })
            }
            Some(_) => Ok(None),
            None => Ok(self.load(key).await?.map(Arc::new)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        if !is_acceptable_key(key) {
            return Ok(false);
        }
        self.cache.exists(&self.cache_key(key)).await
    }

    /// The value and, where the backend reports it in the same round trip (Redis `GET` +
    /// `TTL` pipelined, Memcached `mg … t`), when it expires.
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<chrono::DateTime<chrono::Utc>>)>, Error> {
        if !is_acceptable_key(key) {
            return Ok(None);
        }
        if self.maps().is_some() {
            // The in-process cache does not report an entry's remaining time.
            return Ok(self.load(key).await?.map(|m| (m, None)));
        }
        let Some((bytes, ttl)) = self.cache.get_with_ttl(&self.cache_key(key)).await? else {
            return Ok(None);
        };
        let expires =
            ttl.and_then(|t| chrono::Utc::now().checked_add_signed(chrono::TimeDelta::seconds(t)));
        Ok(self.format.decode(&bytes).map(|m| (m, expires)))
    }

    /// `EXPIRE` (Redis), `touch` (Memcached); a rewrite where the backend cannot.
    async fn touch(&self, record: &Record<'_>) -> Result<String, Error> {
        if !is_acceptable_key(record.key) {
            return Err(Error::Gone);
        }
        match self
            .cache
            .touch(&self.cache_key(record.key), record.max_age)
            .await?
        {
            Some(true) => Ok(record.key.to_owned()),
            Some(false) => Err(Error::Gone),
            None => self.save(record).await,
        }
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        if !is_acceptable_key(record.key) {
            return Err(Error::InvalidKey("not a key this engine generates"));
        }
        if let Some(maps) = self.maps() {
            let key = self.cache_key(record.key);
            let added = match u64::try_from(record.max_age) {
                // Expired already: stored nothing; the key was free if nothing is there.
                Ok(0) | Err(_) => !maps.exists(&key).await?,
                Ok(ttl) => maps.add_map(&key, Arc::clone(record.data), ttl).await,
            };
            return if added {
                Ok(record.key.to_owned())
            } else {
                Err(Error::Duplicate)
            };
        }
        let bytes = self.format.encode(record.data);
        if self
            .cache
            .add(&self.cache_key(record.key), &bytes, record.max_age)
            .await?
        {
            Ok(record.key.to_owned())
        } else {
            Err(Error::Duplicate)
        }
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        if !is_acceptable_key(record.key) {
            return Err(Error::Gone);
        }
        if let Some(maps) = self.maps() {
            let key = self.cache_key(record.key);
            let replaced = match u64::try_from(record.max_age) {
                // Expired: the session ends now.
                Ok(0) | Err(_) => maps.delete(&key).await?,
                Ok(ttl) => maps.replace_map(&key, Arc::clone(record.data), ttl).await,
            };
            return if replaced {
                Ok(record.key.to_owned())
            } else {
                Err(Error::Gone)
            };
        }
        let bytes = self.format.encode(record.data);
        if self
            .cache
            .replace(&self.cache_key(record.key), &bytes, record.max_age)
            .await?
        {
            Ok(record.key.to_owned())
        } else {
            Err(Error::Gone)
        }
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        if !is_acceptable_key(key) {
            return Ok(());
        }
        self.cache.delete(&self.cache_key(key)).await.map(drop)
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        Ok(None)
    }

    /// The sessions under this engine's key prefix (Redis `SCAN` on one node, the in-process cache's keys;
    /// not Redis Cluster or Memcached). The cursor is the backend's.
    async fn list_keys(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<session_core::KeyPage>, Error> {
        let prefix = self.cache_key("");
        let Some((keys, next)) = self.cache.scan(&prefix, cursor, limit).await? else {
            return Ok(None);
        };
        let keys = keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .filter(|k| is_acceptable_key(k))
            .collect();
        Ok(Some(session_core::KeyPage { keys, next }))
    }
}
