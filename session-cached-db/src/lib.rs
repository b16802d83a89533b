#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use session_cache::{Cache, CacheSettings, ValueFormat};
use session_core::key::is_acceptable_key;
use session_core::settings::SettingsGroup;
use session_core::{ConfigError, Error, Map, Record, SessionStore, Settings};
use session_db::{DbSettings, DbStore};

const ENGINE: &str = "cached_db";

/// Django's raw-key prefix of the cached_db engine.
pub const CACHE_KEY_PREFIX: &str = "django.contrib.sessions.cached_db";

/// Maximum staleness of an in-process cache when none is configured.
pub const DEFAULT_IN_PROCESS_STALENESS: Duration = Duration::from_secs(10);

/// How long a tombstone (the marker a delete leaves in the cache) lives. A save or refill
/// whose database step ran before the delete and whose cache step comes after it finds the
/// tombstone and writes nothing; this bounds how late such a cache step may come.
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(3600);

/// How long the engine leaves a failed cache alone before trying it again.
pub const CACHE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// At most this many cache entries are remembered for invalidation while the cache is down.
pub const MAX_PENDING_INVALIDATIONS: usize = 100_000;

/// Entries invalidated per batch when the cache comes back (one pipelined round trip each).
pub const INVALIDATION_BATCH: usize = 500;

session_core::settings_table! {
    /// The cached_db engine's own settings (besides the db and cache engines' settings).
    #[derive(Debug, Clone)]
    pub struct CachedDbSettings {
        /// `SESSION_CACHED_DB_MAX_STALENESS` (seconds, not a Django setting): how long the
        /// engine may serve a cached copy without looking at the database. Unset: the
        /// session's own expiry for a shared cache (Redis), 10 seconds for an in-process one.
        max_staleness: Option<u64> = "SESSION_CACHED_DB_MAX_STALENESS" => None,
    }
}

/// Failures of the cached_db engine itself (storage failures keep their engine's error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CachedDbError {
    /// The database write succeeded, but the cache is down and too many entries already wait
    /// for invalidation: a stale cached copy of this session may be served once the cache is
    /// back.
    #[error(
        "session saved to the database, but the cache is down with {0} stale entries pending invalidation; a stale copy may be served when it returns"
    )]
    InvalidationBacklogFull(usize),
}

/// The cache's health as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheHealth {
    /// The last cache operation failed: the engine serves from the database alone.
    pub degraded: bool,
    /// Cache entries that must be deleted before the cache is trusted again.
    pub pending_invalidations: usize,
}

/// What the cache must be told about a key before it is trusted again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Invalidation {
    /// A write reached the database only: drop the cached copy.
    Drop,
    /// A delete reached the database only: leave a tombstone.
    Tombstone,
}

#[derive(Default)]
struct Breaker {
    failed_at: Option<Instant>,
    /// Entries to invalidate, each with the generation it was marked at (a key marked again
    /// while a flush is on its way is kept for the next batch).
    pending: HashMap<String, (u64, Invalidation)>,
    generation: u64,
    /// A flush task is running (single flight).
    flushing: bool,
}

/// Django's `cached_db` engine: the database row exactly as the db engine writes it, and a
/// write-through copy of the session dict in a cache under
/// `KEY_PREFIX:VERSION:django.contrib.sessions.cached_db<key>`.
///
/// * `load`: a cache hit costs no database query; a miss reads the database (expiry
///   filtered) and refills the cache with `SET NX`, so it never overwrites a newer write.
/// * `create`/`save`: the database first (the db engine's duplicate and no-resurrection
///   rules), then the cache — a save's cache write is refused atomically where a tombstone
///   stands. `delete`: the database, then a tombstone (a pickled `None`, which Django's
///   cached_db reads as a miss) for [`TOMBSTONE_TTL`]. So under any interleaving of save,
///   delete and refill, in one process or many sharing the cache, a deleted session is
///   never served again.
/// * A cache entry lives for the session's remaining age, capped by the maximum staleness
///   (default 10 s for an in-process cache): a logout on one instance is seen by instances
///   holding their own in-process copies within that bound.
/// * When the cache fails, the engine serves from the database alone (logged once, see
///   [`health`](Self::health)), remembers every entry a write or delete left stale, and tries
///   the cache again after [`CACHE_RETRY_AFTER`]: one background task (never a request)
///   invalidates the stale entries in pipelined batches, and the cache is trusted again once
///   none remain.
#[derive(Clone)]
pub struct CachedDbStore {
    db: DbStore,
    cache: Cache,
    format: ValueFormat,
    max_staleness: Option<Duration>,
    breaker: Arc<Mutex<Breaker>>,
}

impl fmt::Debug for CachedDbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedDbStore")
            .field("db", &self.db)
            .field("cache", &self.cache)
            .field("format", &self.format)
            .field("max_staleness", &self.max_staleness)
            .finish_non_exhaustive()
    }
}

impl CachedDbStore {
    /// The engine over a database store and a cache. Values are stored as `format`; cached
    /// copies live at most `max_staleness` (`None`: the session's remaining age).
    pub fn new(
        db: DbStore,
        cache: Cache,
        format: ValueFormat,
        max_staleness: Option<Duration>,
    ) -> CachedDbStore {
        CachedDbStore {
            db,
            cache,
            format,
            max_staleness,
            breaker: Arc::default(),
        }
    }

    /// The engine the settings describe: the db engine's settings (`DATABASE_URL`, the table
    /// created only as `SESSION_DB_CREATE_TABLE` says),
    /// `CACHE_URL`, `CACHE_KEY_PREFIX`, `CACHE_VERSION` and
    /// `SESSION_CACHED_DB_MAX_STALENESS` and `SESSION_CACHE_VALUE_FORMAT` (pickled values, as
    /// Django writes them, unless set to `json`).
    pub async fn from_settings(settings: &Settings) -> Result<CachedDbStore, Error> {
        let config = |e: ConfigError| Error::permanent(ENGINE, e);
        if DbSettings::from_settings(settings)
            .map_err(config)?
            .url
            .is_none()
        {
            return Err(config(ConfigError::Missing {
                setting: "DATABASE_URL",
            }));
        }
        let cache_settings = CacheSettings::from_settings(settings).map_err(config)?;
        let own = CachedDbSettings::from_settings(settings).map_err(config)?;
        if cache_settings.url.is_none() {
            return Err(config(ConfigError::Missing {
                setting: "CACHE_URL",
            }));
        }
        let db = DbStore::from_settings(settings).await?;
        let cache = cache_settings.connect().await?;
        let max_staleness = match own.max_staleness {
            Some(secs) => Some(Duration::from_secs(secs)),
            None if cache.is_in_process() => Some(DEFAULT_IN_PROCESS_STALENESS),
            None => None,
        };
        Ok(CachedDbStore::new(
            db,
            cache,
            cache_settings.value_format,
            max_staleness,
        ))
    }

    /// The database store underneath.
    pub fn db(&self) -> &DbStore {
        &self.db
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

    /// Whether the engine is serving without its cache, and how many entries wait for
    /// invalidation.
    pub fn health(&self) -> CacheHealth {
        let b = self.breaker();
        CacheHealth {
            degraded: b.failed_at.is_some() || !b.pending.is_empty(),
            pending_invalidations: b.pending.len(),
        }
    }

    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        // The guarded state stays consistent at every step, so a poisoned lock is still usable.
        self.breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Cache TTL for a session with `age` seconds left.
    fn ttl(&self, age: i64) -> i64 {
        match self.max_staleness {
            Some(cap) => age.min(i64::try_from(cap.as_secs()).unwrap_or(i64::MAX)),
            None => age,
        }
    }

    fn cache_failed(&self, op: &str, error: &Error) {
        let mut b = self.breaker();
        if b.failed_at.is_none() {
            tracing::error!(
                target: "django.contrib.sessions",
                cache = ?self.cache,
                op,
                error = %session_core::error::report(error),
                "session cache failed; serving sessions from the database alone"
            );
        }
        b.failed_at = Some(Instant::now());
    }

    /// Whether the cache may be used now. After a failure the cache is left alone for
    /// [`CACHE_RETRY_AFTER`]; then one background task invalidates the stale entries
    /// ([`flush_pending`](Self::flush_pending)), and the cache is trusted again once none
    /// remain. Requests never wait for that task.
    fn cache_usable(&self) -> bool {
        let mut b = self.breaker();
        if b.failed_at.is_none() && b.pending.is_empty() {
            return true;
        }
        let due = b.failed_at.is_none_or(|t| t.elapsed() >= CACHE_RETRY_AFTER);
        if due && !b.flushing {
            b.flushing = true;
            let this = self.clone();
            tokio::spawn(async move { this.flush_pending().await });
        }
        false
    }

    /// Invalidates the pending entries in batches until none remain (then the cache is
    /// trusted again), or until the cache fails again.
    async fn flush_pending(&self) {
        let tombstone = self.format.tombstone();
        let tombstone_ttl = i64::try_from(TOMBSTONE_TTL.as_secs()).unwrap_or(i64::MAX);
        loop {
            let batch: Vec<(String, u64, Invalidation)> = {
                let mut b = self.breaker();
                if b.pending.is_empty() {
                    b.failed_at = None;
                    b.flushing = false;
                    b.pending = HashMap::new(); // release the memory
                    tracing::info!(target: "django.contrib.sessions", cache = ?self.cache, "session cache is back in use");
                    return;
                }
                b.pending
                    .iter()
                    .take(INVALIDATION_BATCH)
                    .map(|(k, (g, i))| (k.clone(), *g, *i))
                    .collect()
            };
            let (drops, tombs): (Vec<_>, Vec<_>) =
                batch.iter().partition(|(_, _, i)| *i == Invalidation::Drop);
            let drops: Vec<String> = drops.into_iter().map(|(k, _, _)| k.clone()).collect();
            let tombs: Vec<String> = tombs.into_iter().map(|(k, _, _)| k.clone()).collect();
            let result = match self.cache.delete_many(&drops).await {
                Ok(_) => self.cache.set_many(&tombs, tombstone, tombstone_ttl).await,
                Err(e) => Err(e),
            };
            let mut b = self.breaker();
            if let Err(e) = result {
                drop(b);
                self.cache_failed("invalidate", &e);
                self.breaker().flushing = false;
                return;
            }
            for (k, g, _) in &batch {
                if b.pending.get(k).is_some_and(|(now, _)| now == g) {
                    b.pending.remove(k);
                }
            }
        }
    }

    /// Remembers a cache entry that may hold an outdated copy.
    fn mark_stale(&self, full_key: String, what: Invalidation) -> Result<(), Error> {
        let mut b = self.breaker();
        if b.pending.len() >= MAX_PENDING_INVALIDATIONS && !b.pending.contains_key(&full_key) {
            let n = b.pending.len();
            return Err(Error::transient(
                ENGINE,
                CachedDbError::InvalidationBacklogFull(n),
            ));
        }
        b.failed_at.get_or_insert_with(Instant::now);
        b.generation += 1;
        let generation = b.generation;
        // A delete's tombstone wins over an earlier write's drop.
        let what = match b.pending.get(&full_key) {
            Some((_, Invalidation::Tombstone)) => Invalidation::Tombstone,
            _ => what,
        };
        b.pending.insert(full_key, (generation, what));
        Ok(())
    }

    /// After a database write: puts the new copy in the cache unless a tombstone stands
    /// there, or makes sure no old copy survives.
    async fn write_through(&self, record: &Record<'_>) -> Result<(), Error> {
        let full = self.cache_key(record.key);
        if !self.cache_usable() {
            return self.mark_stale(full, Invalidation::Drop);
        }
        let bytes = self.format.encode(record.data);
        let tombstone = self.format.tombstone();
        if let Err(e) = self
            .cache
            .set_unless(&full, &bytes, self.ttl(record.max_age), tombstone)
            .await
        {
            if let Error::TooLarge { size, limit } = e {
                // Too big for the cache (Memcached's item limit), fine for the database:
                // the session lives in the database alone, and no old copy may stay.
                tracing::debug!(target: "django.contrib.sessions", size, limit, "session too large for the cache; kept in the database only");
            } else {
                self.cache_failed("set", &e);
            }
            if let Err(e) = self.cache.delete(&full).await {
                tracing::error!(target: "django.contrib.sessions", error = %session_core::error::report(&e), "stale session cache entry could not be deleted; it will be before the cache is used again");
                return self.mark_stale(full, Invalidation::Drop);
            }
        }
        Ok(())
    }

    /// After a database delete: a tombstone, so no save or refill still on its way can put
    /// the session back in the cache.
    async fn bury(&self, key: &str) -> Result<(), Error> {
        let full = self.cache_key(key);
        if !self.cache_usable() {
            return self.mark_stale(full, Invalidation::Tombstone);
        }
        let ttl = i64::try_from(TOMBSTONE_TTL.as_secs()).unwrap_or(i64::MAX);
        if let Err(e) = self.cache.set(&full, self.format.tombstone(), ttl).await {
            self.cache_failed("delete", &e);
            return self.mark_stale(full, Invalidation::Tombstone);
        }
        Ok(())
    }

    /// The cached copy (its TTL is the session's remaining age when no max staleness caps
    /// it, and Redis/Memcached report it in the same round trip), else the database's row
    /// and `expire_date`.
    async fn lookup(
        &self,
        key: &str,
        with_ttl: bool,
    ) -> Result<Option<(Map, Option<chrono::DateTime<chrono::Utc>>)>, Error> {
        if !is_acceptable_key(key) {
            return Ok(None);
        }
        let full = self.cache_key(key);
        let use_cache = self.cache_usable();
        if use_cache {
            // The TTL only when asked (an idle timeout's touch): a plain GET otherwise.
            let cached = if with_ttl {
                self.cache.get_with_ttl(&full).await
            } else {
                self.cache.get(&full).await.map(|v| v.map(|b| (b, None)))
            };
            match cached {
                Ok(Some((bytes, ttl))) => {
                    if let Some(map) = self.format.decode(&bytes) {
                        cache_lookup("hit");
                        // A TTL capped by the max staleness says nothing of the session.
                        let expires = ttl.filter(|_| self.max_staleness.is_none()).and_then(|t| {
                            self.db
                                .clock()
                                .now()
                                .checked_add_signed(chrono::TimeDelta::seconds(t))
                        });
                        return Ok(Some((map, expires)));
                    }
                    cache_lookup("miss");
                }
                Ok(None) => cache_lookup("miss"),
                Err(e) => {
                    cache_lookup("error");
                    self.cache_failed("get", &e);
                }
            }
        } else {
            cache_lookup("bypassed");
        }
        let Some((map, expires_at)) = self.db.load_with_expiry(key).await? else {
            return Ok(None);
        };
        if use_cache {
            let age = (expires_at - self.db.clock().now()).num_seconds();
            // NX: a write that landed meanwhile is newer than what was just read, and a
            // delete's tombstone keeps the deleted session out.
            if let Err(e) = self
                .cache
                .add(&full, &self.format.encode(&map), self.ttl(age))
                .await
            {
                // A session too large for the cache is simply not cached.
                if !matches!(e, Error::TooLarge { .. }) {
                    self.cache_failed("refill", &e);
                }
            }
        }
        Ok(Some((map, Some(expires_at))))
    }
}

/// Reports how a load's cache lookup went: `hit` (no database read), `miss` (read from the
/// database), `error` (the cache failed; read from the database) or `bypassed` (the cache
/// is resting after failures). A `tracing` event at TRACE and, with the `metrics` feature,
/// the counter `session_cached_db_cache_total{result}`.
fn cache_lookup(result: &'static str) {
    tracing::trace!(target: "django.contrib.sessions", engine = ENGINE, result, "cache lookup");
    #[cfg(feature = "metrics")]
    metrics::counter!("session_cached_db_cache_total", "result" => result).increment(1);
}

#[async_trait]
impl SessionStore for CachedDbStore {
    fn engine_name(&self) -> &'static str {
        ENGINE
    }

    fn stores_data_in_cookie(&self) -> bool {
        false
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        Ok(self.lookup(key, false).await?.map(|(m, _)| m))
    }

    /// The cached copy with its expiry (see `lookup`), else the database's row and
    /// `expire_date`.
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<chrono::DateTime<chrono::Utc>>)>, Error> {
        self.lookup(key, true).await
    }

    /// The database row's `expire_date` (one UPDATE, no data), then the cached copy's TTL.
    async fn touch(&self, record: &Record<'_>) -> Result<String, Error> {
        let key = SessionStore::touch(&self.db, record).await?;
        if self.cache_usable() {
            let full = self.cache_key(record.key);
            match self.cache.touch(&full, self.ttl(record.max_age)).await {
                // Done, or no cached copy (the next read refills it).
                Ok(Some(_)) => {}
                Ok(None) => self.write_through(record).await?,
                Err(e) => {
                    // The copy keeps its old TTL and expires early: a later read refills it.
                    self.cache_failed("touch", &e);
                }
            }
        }
        Ok(key)
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        if !is_acceptable_key(key) {
            return Ok(false);
        }
        if self.cache_usable() {
            match self.cache.get(&self.cache_key(key)).await {
                // A tombstone is no session; the database has the last word on others.
                Ok(Some(v)) if v != self.format.tombstone() => return Ok(true),
                Ok(_) => {}
                Err(e) => self.cache_failed("exists", &e),
            }
        }
        self.db.exists(key).await
    }

    /// The database's keys.
    async fn list_keys(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<session_core::KeyPage>, Error> {
        self.db.list_keys(cursor, limit).await
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        let key = self.db.create(record).await?;
        self.write_through(record).await?;
        Ok(key)
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        let key = self.db.save(record).await?;
        self.write_through(record).await?;
        Ok(key)
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        if !is_acceptable_key(key) {
            return Ok(());
        }
        self.db.delete(key).await?;
        self.bury(key).await
    }

    async fn close(&self) {
        self.db.close().await;
    }

    async fn clear_expired_with_progress(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Option<u64>, Error> {
        self.db
            .clear_expired_with_progress(progress)
            .await
            .map(Some)
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        // Cache entries die by their TTL.
        self.db.clear_expired().await
    }
}
