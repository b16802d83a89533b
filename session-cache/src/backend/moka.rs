//! The in-process moka cache (`memory://[?max_entries=N|max_bytes=N]`, default 100 000
//! entries): each entry expires by its own TTL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::ops::compute::{CompResult, Op};
use session_core::Error;

use super::{CacheBackend, Connecting, invalid_url};

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
                .weigher(|k: &String, v: &Entry| {
                    u32::try_from(k.len() + v.bytes.len()).unwrap_or(u32::MAX)
                })
                .max_capacity(n)
                .build(),
        };
        Moka { cache }
    }
}

fn entry(value: &[u8], ttl: u64) -> Entry {
    Entry {
        bytes: value.into(),
        ttl: Duration::from_secs(ttl),
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

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.cache.get(key).await.map(|e| e.bytes.to_vec()))
    }

    async fn add(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        Ok(self
            .cache
            .entry(key.to_owned())
            .or_insert(entry(value, ttl))
            .await
            .is_fresh())
    }

    async fn replace(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        let new = entry(value, ttl);
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
        self.cache.insert(key.to_owned(), entry(value, ttl)).await;
        Ok(())
    }

    async fn set_unless(
        &self,
        key: &str,
        value: &[u8],
        ttl: u64,
        guard: &[u8],
    ) -> Result<bool, Error> {
        let new = entry(value, ttl);
        let guard: Arc<[u8]> = guard.into();
        let r = self
            .cache
            .entry(key.to_owned())
            .and_compute_with(|old| async move {
                match old {
                    Some(e) if *e.value().bytes == *guard => Op::Nop,
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
                        bytes: e.into_value().bytes,
                        ttl: Duration::from_secs(ttl),
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
