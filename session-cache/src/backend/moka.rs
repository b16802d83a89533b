//! The in-process moka cache (`memory://[?max_entries=N|max_bytes=N]`, default 100 000
//! entries): each entry expires by its own TTL.
//!
//! Nothing outside the process reads it, so the cache engine keeps sessions here as decoded
//! maps ([`Moka::get_map`] and friends), shared with the request that saved or loaded them:
//! no encoding on save, no decoding on load, no copy for a read-only request. Byte values
//! (the cached_db engine's pickles and tombstones) are kept as bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::ops::compute::{CompResult, Op};
use session_core::{Error, Map, Value};

use super::{CacheBackend, Connecting, invalid_url};

#[derive(Clone)]
struct Entry {
    value: Stored,
    ttl: Duration,
    /// Its size for a `max_bytes` bound (key + value, estimated for maps).
    weight: u32,
}

/// What an entry holds.
#[derive(Clone)]
enum Stored {
    Bytes(Arc<[u8]>),
    Map(Arc<Map>),
}

impl Stored {
    /// The value as bytes; a map reads as the pickle the cache engine would have stored.
    fn bytes(&self) -> Vec<u8> {
        match self {
            Stored::Bytes(b) => b.to_vec(),
            Stored::Map(m) => crate::pickle::dumps(m),
        }
    }
}

/// About how many bytes a value takes once encoded (a `max_bytes` bound counts it).
fn estimated_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 8,
        Value::Array(a) => 8 + a.iter().map(estimated_size).sum::<usize>(),
        Value::Object(m) => map_size(m),
        _ => 10,
    }
}

fn map_size(map: &Map) -> usize {
    8 + map
        .iter()
        .map(|(k, v)| k.len() + 8 + estimated_size(v))
        .sum::<usize>()
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

/// An in-process cache.
#[derive(Clone)]
pub struct Moka {
    cache: moka::future::Cache<String, Entry>,
}

impl std::fmt::Debug for Moka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moka")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl Moka {
    /// A cache within `bound`.
    pub fn new(bound: MokaBound) -> Moka {
        let builder = moka::future::Cache::builder().expire_after(EntryTtl);
        let cache = match bound {
            MokaBound::Entries(n) => builder.max_capacity(n).build(),
            MokaBound::Bytes(n) => builder
                .weigher(|_k: &String, v: &Entry| v.weight)
                .max_capacity(n)
                .build(),
        };
        Moka { cache }
    }
}

fn entry(key: &str, value: &[u8], ttl: u64) -> Entry {
    Entry {
        weight: u32::try_from(key.len() + value.len()).unwrap_or(u32::MAX),
        value: Stored::Bytes(value.into()),
        ttl: Duration::from_secs(ttl),
    }
}

fn map_entry(key: &str, map: Arc<Map>, ttl: u64) -> Entry {
    Entry {
        weight: u32::try_from(key.len() + map_size(&map)).unwrap_or(u32::MAX),
        value: Stored::Map(map),
        ttl: Duration::from_secs(ttl),
    }
}

impl Moka {
    /// The session map under `key` (shared, not copied); a byte value under it reads as
    /// absent. TTLs are whole seconds, at least 1, as for the byte operations.
    pub async fn get_map(&self, key: &str) -> Option<Arc<Map>> {
        match self.cache.get(key).await?.value {
            Stored::Map(m) => Some(m),
            Stored::Bytes(_) => None,
        }
    }

    /// Stores `map` only if `key` is free; `false` when taken.
    pub async fn add_map(&self, key: &str, map: Arc<Map>, ttl: u64) -> bool {
        self.cache
            .entry(key.to_owned())
            .or_insert_with(async { map_entry(key, map, ttl) })
            .await
            .is_fresh()
    }

    /// Replaces the value under `key` with `map`, only if there is one (atomically: a
    /// delete meanwhile wins); `false` when absent.
    pub async fn replace_map(&self, key: &str, map: Arc<Map>, ttl: u64) -> bool {
        let new = map_entry(key, map, ttl);
        let r = self
            .cache
            .entry(key.to_owned())
            .and_compute_with(|old| async move {
                match old {
                    Some(_) => Op::Put(new),
                    None => Op::Nop,
                }
            })
            .await;
        matches!(r, CompResult::ReplacedWith(_))
    }
}

pub(crate) fn connect(url: &str) -> Connecting {
    let rest = url.trim_start_matches("memory://").trim_start_matches('?');
    let bound = match rest.split_once('=') {
        None if rest.is_empty() => Ok(MokaBound::Entries(100_000)),
        Some(("max_entries", n)) => n
            .parse()
            .map(MokaBound::Entries)
            .map_err(|_| invalid_url(format!("bad max_entries {n:?}"))),
        Some(("max_bytes", n)) => n
            .parse()
            .map(MokaBound::Bytes)
            .map_err(|_| invalid_url(format!("bad max_bytes {n:?}"))),
        _ => Err(invalid_url(format!("unknown memory:// option {rest:?}"))),
    };
    Box::pin(async move { Ok(Arc::new(Moka::new(bound?)) as Arc<dyn CacheBackend>) })
}

#[async_trait]
impl CacheBackend for Moka {
    fn kind(&self) -> &'static str {
        "moka"
    }

    fn is_in_process(&self) -> bool {
        true
    }

    fn as_moka(&self) -> Option<&Moka> {
        Some(self)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.cache.get(key).await.map(|e| e.value.bytes()))
    }

    async fn add(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        Ok(self
            .cache
            .entry(key.to_owned())
            .or_insert(entry(key, value, ttl))
            .await
            .is_fresh())
    }

    async fn replace(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        let new = entry(key, value, ttl);
        let r = self
            .cache
            .entry(key.to_owned())
            .and_compute_with(|old| async move {
                match old {
                    Some(_) => Op::Put(new),
                    None => Op::Nop,
                }
            })
            .await;
        Ok(matches!(r, CompResult::ReplacedWith(_)))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), Error> {
        self.cache
            .insert(key.to_owned(), entry(key, value, ttl))
            .await;
        Ok(())
    }

    async fn set_unless(
        &self,
        key: &str,
        value: &[u8],
        ttl: u64,
        guard: &[u8],
    ) -> Result<bool, Error> {
        let new = entry(key, value, ttl);
        let guard: Arc<[u8]> = guard.into();
        let r = self
            .cache
            .entry(key.to_owned())
            .and_compute_with(|old| async move {
                match old {
                    Some(e) if matches!(&e.value().value, Stored::Bytes(b) if **b == *guard) => {
                        Op::Nop
                    }
                    _ => Op::Put(new),
                }
            })
            .await;
        Ok(!matches!(r, CompResult::Unchanged(_)))
    }

    /// The same bytes under a new TTL, atomically (an entry removed meanwhile stays gone).
    async fn touch(&self, key: &str, ttl: u64) -> Result<Option<bool>, Error> {
        let r = self
            .cache
            .entry(key.to_owned())
            .and_compute_with(|old| async move {
                match old {
                    Some(e) => Op::Put(Entry {
                        ttl: Duration::from_secs(ttl),
                        ..e.into_value()
                    }),
                    None => Op::Nop,
                }
            })
            .await;
        Ok(Some(matches!(r, CompResult::ReplacedWith(_))))
    }

    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        count: usize,
    ) -> Result<Option<(Vec<String>, Option<String>)>, Error> {
        let mut keys: Vec<String> = self
            .cache
            .iter()
            .map(|(k, _)| k.as_ref().clone())
            .filter(|k| k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c))
            .collect();
        keys.sort();
        keys.truncate(count.max(1));
        let next = (keys.len() >= count.max(1))
            .then(|| keys.last().cloned())
            .flatten();
        Ok(Some((keys, next)))
    }

    async fn delete(&self, key: &str) -> Result<bool, Error> {
        Ok(self.cache.remove(key).await.is_some())
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        Ok(self.cache.contains_key(key))
    }
}
