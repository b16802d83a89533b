#![doc = include_str!("../README.md")]

pub mod pickle;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::ops::compute::{CompResult, Op};
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use session_core::{ConfigError, Error, Map, Record, SessionStore, Settings, Value};

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

impl From<session_core::CacheValueFormat> for ValueFormat {
    fn from(f: session_core::CacheValueFormat) -> ValueFormat {
        match f {
            session_core::CacheValueFormat::Pickle => ValueFormat::Pickle,
            session_core::CacheValueFormat::Json => ValueFormat::Json,
        }
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

    /// Decodes a session dict; `None` (with a warning) for anything else, never an error.
    pub fn decode(self, bytes: &[u8]) -> Option<Map> {
        // Django's Redis serializer stores a bare int as decimal text: never a session.
        if !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'-') {
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

#[derive(Clone)]
struct Entry {
    bytes: Arc<[u8]>,
    ttl: Duration,
}

struct EntryTtl;

impl Expiry<String, Entry> for EntryTtl {
    fn expire_after_create(&self, _k: &String, v: &Entry, _now: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
    fn expire_after_update(
        &self,
        _k: &String,
        v: &Entry,
        _now: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// Bounds of an in-process cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MokaBound {
    /// At most this many sessions.
    Entries(u64),
    /// At most this many bytes of encoded sessions.
    Bytes(u64),
}

#[derive(Clone)]
enum Backend {
    Redis(ConnectionManager),
    Cluster(ClusterConnection),
    Moka(moka::future::Cache<String, Entry>),
}

/// A cache holding raw session values under Django's key function
/// (`KEY_PREFIX:VERSION:<raw key>`): Redis (single node or Cluster) or in-process moka.
/// The cache and cached_db engines both build on it.
#[derive(Clone)]
pub struct Cache {
    backend: Backend,
    key_prefix: String,
    version: i64,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.backend {
            Backend::Redis(_) => "redis",
            Backend::Cluster(_) => "redis-cluster",
            Backend::Moka(_) => "moka",
        };
        f.debug_struct("Cache")
            .field("backend", &kind)
            .field("key_prefix", &self.key_prefix)
            .field("version", &self.version)
            .finish()
    }
}

fn redis_error(e: redis::RedisError) -> Error {
    if e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
    {
        Error::transient(ENGINE, e)
    } else {
        Error::permanent(ENGINE, e)
    }
}

/// A Redis connection attempt gives up after this long (the connection is retried in the
/// background; a request never waits on a dead server for longer than these bounds).
pub const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A Redis command gives up after this long: a transient error, never a hang.
pub const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

fn ttl_secs(ttl: i64) -> u64 {
    ttl.max(1) as u64
}

impl Cache {
    /// Connects to a cache URL: `redis://host:port/db` (one node), `redis-cluster://h:p,h:p`
    /// (a Cluster, seed nodes), or `memory://[?max_entries=N|max_bytes=N]` (in-process moka,
    /// default 100 000 entries).
    pub async fn connect(url: &str, key_prefix: &str, version: i64) -> Result<Cache, Error> {
        let invalid = |reason: String| {
            Error::permanent(
                ENGINE,
                ConfigError::Invalid {
                    setting: "CACHE_URL",
                    reason,
                },
            )
        };
        let backend = if let Some(rest) = url.strip_prefix("redis-cluster://") {
            let nodes: Vec<String> = rest.split(',').map(|n| format!("redis://{n}")).collect();
            let client = redis::cluster::ClusterClientBuilder::new(nodes)
                .connection_timeout(REDIS_CONNECT_TIMEOUT)
                .response_timeout(REDIS_RESPONSE_TIMEOUT)
                .retries(2)
                .build()
                .map_err(|e| invalid(e.to_string()))?;
            Backend::Cluster(client.get_async_connection().await.map_err(redis_error)?)
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            let client = redis::Client::open(url).map_err(|e| invalid(e.to_string()))?;
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(REDIS_CONNECT_TIMEOUT)
                .set_response_timeout(REDIS_RESPONSE_TIMEOUT)
                .set_number_of_retries(2)
                .set_max_delay(500);
            Backend::Redis(
                ConnectionManager::new_with_config(client, config)
                    .await
                    .map_err(redis_error)?,
            )
        } else if let Some(rest) = url.strip_prefix("memory://") {
            let bound = match rest.trim_start_matches('?').split_once('=') {
                None => MokaBound::Entries(100_000),
                Some(("max_entries", n)) => MokaBound::Entries(
                    n.parse()
                        .map_err(|_| invalid(format!("bad max_entries {n:?}")))?,
                ),
                Some(("max_bytes", n)) => MokaBound::Bytes(
                    n.parse()
                        .map_err(|_| invalid(format!("bad max_bytes {n:?}")))?,
                ),
                Some((other, _)) => {
                    return Err(invalid(format!("unknown memory:// option {other:?}")));
                }
            };
            return Ok(Cache::in_process(bound, key_prefix, version));
        } else {
            return Err(invalid(format!(
                "{url:?}: expected redis://, redis-cluster:// or memory://"
            )));
        };
        Ok(Cache {
            backend,
            key_prefix: key_prefix.to_owned(),
            version,
        })
    }

    /// An in-process moka cache.
    pub fn in_process(bound: MokaBound, key_prefix: &str, version: i64) -> Cache {
        let builder = moka::future::Cache::builder().expire_after(EntryTtl);
        let cache = match bound {
            MokaBound::Entries(n) => builder.max_capacity(n).build(),
            MokaBound::Bytes(n) => builder
                .weigher(|k: &String, v: &Entry| {
                    u32::try_from(k.len() + v.bytes.len()).unwrap_or(u32::MAX)
                })
                .max_capacity(n)
                .build(),
        };
        Cache {
            backend: Backend::Moka(cache),
            key_prefix: key_prefix.to_owned(),
            version,
        }
    }

    /// Whether the cache lives in this process (moka) rather than on a shared server.
    pub fn is_in_process(&self) -> bool {
        matches!(self.backend, Backend::Moka(_))
    }

    /// Django's default key function: `KEY_PREFIX:VERSION:raw`.
    pub fn full_key(&self, raw: &str) -> String {
        format!("{}:{}:{raw}", self.key_prefix, self.version)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Error> {
        async fn run<C: ConnectionLike, T: redis::FromRedisValue>(
            mut c: C,
            cmd: &redis::Cmd,
        ) -> Result<T, Error> {
            cmd.query_async(&mut c).await.map_err(redis_error)
        }
        match &self.backend {
            Backend::Redis(c) => run(c.clone(), cmd).await,
            Backend::Cluster(c) => run(c.clone(), cmd).await,
            Backend::Moka(_) => unreachable!("moka has no commands"),
        }
    }

    /// `GET`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        match &self.backend {
            Backend::Moka(m) => Ok(m.get(key).await.map(|e| e.bytes.to_vec())),
            _ => self.query(redis::cmd("GET").arg(key)).await,
        }
    }

    /// Stores only if absent (`SET NX EX`); `false` when the key is taken. A TTL ≤ 0 stores
    /// nothing (the value would vanish at once) but still reports whether the key was free.
    pub async fn add(&self, key: &str, bytes: &[u8], ttl: i64) -> Result<bool, Error> {
        if ttl <= 0 {
            return Ok(!self.exists(key).await?);
        }
        match &self.backend {
            Backend::Moka(m) => {
                let entry = Entry {
                    bytes: bytes.into(),
                    ttl: Duration::from_secs(ttl as u64),
                };
                Ok(m.entry(key.to_owned()).or_insert(entry).await.is_fresh())
            }
            _ => {
                let r: Option<String> = self
                    .query(
                        redis::cmd("SET")
                            .arg(key)
                            .arg(bytes)
                            .arg("NX")
                            .arg("EX")
                            .arg(ttl_secs(ttl)),
                    )
                    .await?;
                Ok(r.is_some())
            }
        }
    }

    /// Replaces only if present (`SET XX EX`), in one round trip; `false` when absent. A TTL
    /// ≤ 0 deletes the key (the session has expired) and reports whether it was there.
    pub async fn replace(&self, key: &str, bytes: &[u8], ttl: i64) -> Result<bool, Error> {
        if ttl <= 0 {
            return self.delete(key).await;
        }
        match &self.backend {
            Backend::Moka(m) => {
                let entry = Entry {
                    bytes: bytes.into(),
                    ttl: Duration::from_secs(ttl as u64),
                };
                let r = m
                    .entry(key.to_owned())
                    .and_compute_with(|old| async move {
                        match old {
                            Some(_) => Op::Put(entry),
                            None => Op::Nop,
                        }
                    })
                    .await;
                Ok(matches!(r, CompResult::ReplacedWith(_)))
            }
            _ => {
                let r: Option<String> = self
                    .query(
                        redis::cmd("SET")
                            .arg(key)
                            .arg(bytes)
                            .arg("XX")
                            .arg("EX")
                            .arg(ttl_secs(ttl)),
                    )
                    .await?;
                Ok(r.is_some())
            }
        }
    }

    /// Stores unconditionally (`SET EX`); a TTL ≤ 0 deletes instead, as Django's cache does.
    pub async fn set(&self, key: &str, bytes: &[u8], ttl: i64) -> Result<(), Error> {
        if ttl <= 0 {
            return self.delete(key).await.map(drop);
        }
        match &self.backend {
            Backend::Moka(m) => {
                m.insert(
                    key.to_owned(),
                    Entry {
                        bytes: bytes.into(),
                        ttl: Duration::from_secs(ttl as u64),
                    },
                )
                .await;
                Ok(())
            }
            _ => {
                self.query(
                    redis::cmd("SET")
                        .arg(key)
                        .arg(bytes)
                        .arg("EX")
                        .arg(ttl_secs(ttl)),
                )
                .await
            }
        }
    }

    /// `DEL`; whether the key was there.
    pub async fn delete(&self, key: &str) -> Result<bool, Error> {
        match &self.backend {
            Backend::Moka(m) => Ok(m.remove(key).await.is_some()),
            _ => Ok(self.query::<i64>(redis::cmd("DEL").arg(key)).await? > 0),
        }
    }

    /// `EXISTS`.
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        match &self.backend {
            Backend::Moka(m) => Ok(m.contains_key(key)),
            _ => Ok(self.query::<i64>(redis::cmd("EXISTS").arg(key)).await? > 0),
        }
    }
}

/// Django's `cache` session engine: the session dict itself in the cache under
/// `KEY_PREFIX:VERSION:django.contrib.sessions.cache<key>`, expiring by TTL.
#[derive(Debug, Clone)]
pub struct CacheStore {
    cache: Cache,
    format: ValueFormat,
}

impl CacheStore {
    /// The engine over a cache, in the given value format.
    pub fn new(cache: Cache, format: ValueFormat) -> CacheStore {
        CacheStore { cache, format }
    }

    /// The engine the settings describe (`CACHE_URL`, `CACHE_KEY_PREFIX`, `CACHE_VERSION`,
    /// `SESSION_CACHE_VALUE_FORMAT`: pickles as Django stores them unless set to `json`).
    pub async fn from_settings(settings: &Settings) -> Result<CacheStore, Error> {
        let url = settings.cache_url.as_deref().ok_or_else(|| {
            Error::permanent(
                ENGINE,
                ConfigError::Missing {
                    setting: "CACHE_URL",
                },
            )
        })?;
        let cache = Cache::connect(url, &settings.cache_key_prefix, settings.cache_version).await?;
        Ok(CacheStore::new(cache, settings.cache_value_format.into()))
    }

    /// The cache underneath.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The full cache key of a session key.
    pub fn cache_key(&self, session_key: &str) -> String {
        self.cache
            .full_key(&format!("{CACHE_KEY_PREFIX}{session_key}"))
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
        Ok(self
            .cache
            .get(&self.cache_key(key))
            .await?
            .and_then(|b| self.format.decode(&b)))
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        self.cache.exists(&self.cache_key(key)).await
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
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
        self.cache.delete(&self.cache_key(key)).await.map(drop)
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        Ok(None)
    }
}
