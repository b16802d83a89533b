//! The in-process cache (`memory://[?max_entries=N|max_bytes=N]`, default 100 000 entries),
//! on [`quick_cache`]: a sharded map with S3-FIFO-style eviction once the bound is reached.
//! Each entry carries its own deadline; an expired entry reads as absent and is dropped when
//! met (or evicted first, being cold), as Django's `LocMemCache` does.
//!
//! Nothing outside the process reads it, so the cache engine keeps sessions here as decoded
//! maps ([`MemoryCache::get_stored`], [`MemoryCache::add_map`], [`MemoryCache::replace_map`]), shared with the request that saved or loaded
//! them: no encoding on save, no decoding on load, no copy for a read-only request. Byte
//! values (the cached_db engine's pickles and tombstones) stay bytes.
//!
//! Every conditional write (add, replace, touch, set-unless) is one closure under the key's
//! shard lock, so a delete is never undone by a concurrent save.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use quick_cache::sync::{Cache, EntryAction, EntryResult};
use session_core::{Error, Map, Value};

use super::{CacheBackend, Connecting, invalid_url};

#[derive(Clone)]
struct Entry {
    value: Stored,
    expires: Instant,
    /// Its size for a `max_bytes` bound (key + value; estimated for maps).
    size: u64,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires > now
    }
}

/// What an entry holds.
#[derive(Clone)]
pub enum Stored {
    /// Bytes written through the byte operations (the cached_db engine's values).
    Bytes(Arc<[u8]>),
    /// A session map written by the cache engine ([`MemoryCache::add_map`]).
    Map(Arc<Map>),
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the session itself.
        match self {
            Stored::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Stored::Map(m) => write!(f, "Map({} entries)", m.len()),
        }
    }
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

/// Bounds of an in-process cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryBound {
    /// At most this many sessions.
    Entries(u64),
    /// At most this many bytes of sessions (encoded size; estimated for decoded maps).
    Bytes(u64),
}

/// How an entry counts against the bound: 1 per entry, or its size. Never 0 (quick_cache
/// never evicts weightless entries).
#[derive(Clone)]
struct Weight {
    by_size: bool,
}

impl quick_cache::Weighter<String, Entry> for Weight {
    fn weight(&self, _key: &String, entry: &Entry) -> u64 {
        if self.by_size { entry.size.max(1) } else { 1 }
    }
}

/// An in-process cache of session values.
#[derive(Clone)]
pub struct MemoryCache {
    cache: Arc<Cache<String, Entry, Weight>>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.cache.len())
            .finish()
    }
}

fn deadline(ttl: u64) -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(ttl))
        .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400))
}

fn entry(key: &str, value: &[u8], ttl: u64) -> Entry {
    Entry {
        size: (key.len() + value.len()) as u64,
        value: Stored::Bytes(value.into()),
        expires: deadline(ttl),
    }
}

fn map_entry(key: &str, map: Arc<Map>, ttl: u64) -> Entry {
    Entry {
        size: (key.len() + map_size(&map)) as u64,
        value: Stored::Map(map),
        expires: deadline(ttl),
    }
}

impl MemoryCache {
    /// A cache within `bound`.
    pub fn new(bound: MemoryBound) -> MemoryCache {
        let (items, weight, by_size) = match bound {
            MemoryBound::Entries(n) => (n, n, false),
            // About 1 KB a session, to size the table.
            MemoryBound::Bytes(n) => (n / 1024, n, true),
        };
        let items = usize::try_from(items.max(16)).unwrap_or(usize::MAX);
        MemoryCache {
            cache: Arc::new(Cache::with_weighter(
                items,
                weight.max(1),
                Weight { by_size },
            )),
        }
    }

    /// The live entry under `key`; an expired one is dropped.
    fn live(&self, key: &str) -> Option<Entry> {
        let found = self.cache.get(key)?;
        if found.live(Instant::now()) {
            return Some(found);
        }
        self.cache.remove_if(key, |e| !e.live(Instant::now()));
        None
    }

    /// Stores `new` under `key` unless a live entry there satisfies `keep` (under the key's
    /// lock); whether it stored.
    async fn put_unless(&self, key: &str, new: Entry, keep: impl FnOnce(&Entry) -> bool) -> bool {
        let now = Instant::now();
        let mut new = Some(new);
        let result = self
            .cache
            .entry_async(key, |_, old| {
                if old.live(now) && keep(old) {
                    return EntryAction::Retain(false);
                }
                if let Some(new) = new.take() {
                    *old = new;
                }
                EntryAction::Retain(true)
            })
            .await;
        match result {
            EntryResult::Retained(stored) => stored,
            EntryResult::Vacant(slot) | EntryResult::Replaced(slot, _) => {
                if let Some(new) = new.take() {
                    // Refused only when heavier than the whole bound: as if evicted at once.
                    let _ = slot.insert(new);
                }
                true
            }
            EntryResult::Removed(..) | EntryResult::Timeout => false,
        }
    }

    /// Stores `new` only if `key` holds no live entry; `false` when taken.
    async fn add_entry(&self, key: &str, new: Entry) -> bool {
        self.put_unless(key, new, |_| true).await
    }

    /// Changes the live entry under `key` with `change`, only if there is one (under the
    /// key's lock: a delete meanwhile wins); `false` when absent or expired.
    async fn update_live(&self, key: &str, change: impl FnOnce(&mut Entry) -> bool) -> bool {
        let now = Instant::now();
        let result = self
            .cache
            .entry_async(key, |_, old| {
                if old.live(now) {
                    EntryAction::Retain(change(old))
                } else {
                    EntryAction::Remove
                }
            })
            .await;
        // A vacant slot's placeholder is dropped unfilled: nothing is stored.
        matches!(result, EntryResult::Retained(true))
    }

    /// The live value under `key` as stored: a session map (shared, not copied) or bytes.
    /// TTLs are whole seconds, at least 1, as for the byte operations.
    pub async fn get_stored(&self, key: &str) -> Option<Stored> {
        Some(self.live(key)?.value)
    }

    /// Stores `map` only if `key` is free; `false` when taken.
    pub async fn add_map(&self, key: &str, map: Arc<Map>, ttl: u64) -> bool {
        self.add_entry(key, map_entry(key, map, ttl)).await
    }

    /// Replaces the value under `key` with `map`, only if there is one; `false` when absent.
    pub async fn replace_map(&self, key: &str, map: Arc<Map>, ttl: u64) -> bool {
        let new = map_entry(key, map, ttl);
        self.update_live(key, |old| {
            *old = new;
            true
        })
        .await
    }
}

pub(crate) fn connect(url: &str) -> Connecting {
    let rest = url.trim_start_matches("memory://").trim_start_matches('?');
    let bound = match rest.split_once('=') {
        None if rest.is_empty() => Ok(MemoryBound::Entries(100_000)),
        Some(("max_entries", n)) => n
            .parse()
            .map(MemoryBound::Entries)
            .map_err(|_| invalid_url(format!("bad max_entries {n:?}"))),
        Some(("max_bytes", n)) => n
            .parse()
            .map(MemoryBound::Bytes)
            .map_err(|_| invalid_url(format!("bad max_bytes {n:?}"))),
        _ => Err(invalid_url(format!("unknown memory:// option {rest:?}"))),
    };
    Box::pin(async move { Ok(Arc::new(MemoryCache::new(bound?)) as Arc<dyn CacheBackend>) })
}

#[async_trait]
impl CacheBackend for MemoryCache {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn is_in_process(&self) -> bool {
        true
    }

    fn as_memory(&self) -> Option<&MemoryCache> {
        Some(self)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.live(key).map(|e| e.value.bytes()))
    }

    async fn add(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        Ok(self.add_entry(key, entry(key, value, ttl)).await)
    }

    async fn replace(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        let new = entry(key, value, ttl);
        Ok(self
            .update_live(key, |old| {
                *old = new;
                true
            })
            .await)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), Error> {
        self.cache.insert(key.to_owned(), entry(key, value, ttl));
        Ok(())
    }

    async fn set_unless(
        &self,
        key: &str,
        value: &[u8],
        ttl: u64,
        guard: &[u8],
    ) -> Result<bool, Error> {
        let guarded = |old: &Entry| matches!(&old.value, Stored::Bytes(b) if **b == *guard);
        Ok(self.put_unless(key, entry(key, value, ttl), guarded).await)
    }

    /// The same value under a new deadline, atomically (an entry removed meanwhile stays
    /// gone).
    async fn touch(&self, key: &str, ttl: u64) -> Result<Option<bool>, Error> {
        let expires = deadline(ttl);
        Ok(Some(
            self.update_live(key, |old| {
                old.expires = expires;
                true
            })
            .await,
        ))
    }

    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        count: usize,
    ) -> Result<Option<(Vec<String>, Option<String>)>, Error> {
        let now = Instant::now();
        let mut keys: Vec<String> = self
            .cache
            .iter()
            .filter(|(k, e)| {
                e.live(now) && k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c)
            })
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys.truncate(count.max(1));
        let next = (keys.len() >= count.max(1))
            .then(|| keys.last().cloned())
            .flatten();
        Ok(Some((keys, next)))
    }

    async fn delete(&self, key: &str) -> Result<bool, Error> {
        Ok(self
            .cache
            .remove(key)
            .is_some_and(|(_, e)| e.live(Instant::now())))
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        Ok(self.cache.peek(key).is_some_and(|e| e.live(Instant::now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_expired_entry_reads_as_absent_and_frees_its_key() {
        let cache = MemoryCache::new(MemoryBound::Entries(100));
        let mut stale = entry("k", b"old", 1);
        stale.expires = Instant::now() - Duration::from_secs(1);
        cache.cache.insert("k".into(), stale.clone());
        assert_eq!(cache.get("k").await.unwrap(), None);
        assert!(!cache.exists("k").await.unwrap());
        cache.cache.insert("k".into(), stale.clone());
        assert!(!cache.replace("k", b"new", 60).await.unwrap(), "no revival");
        assert!(!cache.touch("k", 60).await.unwrap().unwrap_or(true));
        cache.cache.insert("k".into(), stale);
        assert!(cache.add("k", b"new", 60).await.unwrap(), "the key is free");
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"new"[..]));
    }

    #[tokio::test]
    async fn a_huge_bound_allocates_nothing_up_front() {
        for bound in [MemoryBound::Entries(u64::MAX), MemoryBound::Bytes(u64::MAX)] {
            let cache = MemoryCache::new(bound);
            assert!(cache.add("k", b"v", 60).await.unwrap());
            assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        }
    }

    #[tokio::test]
    async fn an_entry_bound_is_kept() {
        let cache = MemoryCache::new(MemoryBound::Entries(1_000));
        for i in 0..5_000 {
            cache.set(&format!("k{i}"), b"v", 60).await.unwrap();
        }
        let held = cache.cache.len();
        assert!((500..=1_000).contains(&held), "{held} entries held");
    }

    #[tokio::test]
    async fn conditional_writes_keep_their_rules() {
        let cache = MemoryCache::new(MemoryBound::Entries(100));
        assert!(!cache.replace("k", b"v", 60).await.unwrap());
        assert!(
            !cache.exists("k").await.unwrap(),
            "a failed replace stores nothing"
        );
        assert!(cache.add("k", b"v1", 60).await.unwrap());
        assert!(!cache.add("k", b"v2", 60).await.unwrap());
        assert!(cache.replace("k", b"v3", 60).await.unwrap());
        assert!(!cache.set_unless("k", b"v4", 60, b"v3").await.unwrap());
        assert!(cache.set_unless("k", b"v5", 60, b"zz").await.unwrap());
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v5"[..]));
        assert!(cache.delete("k").await.unwrap());
        assert!(!cache.delete("k").await.unwrap());
        let map = Arc::new(Map::from_iter([("a".to_owned(), Value::from(1))]));
        assert!(cache.add_map("m", map.clone(), 60).await);
        let Some(Stored::Map(stored)) = cache.get_stored("m").await else {
            panic!("the map itself is stored");
        };
        assert!(Arc::ptr_eq(&stored, &map), "shared, not copied");
        assert_eq!(
            cache.get("m").await.unwrap(),
            Some(crate::pickle::dumps(&map))
        );
        assert!(cache.get_stored("k").await.is_none());
    }
}
