//! A third-party session engine, complete: an in-process store split into shards (each with
//! its own lock, so requests for different sessions never wait on each other), its own
//! setting declared once, and one call that makes `SESSION_ENGINE` able to select it.
//!
//! Run it: `SECRET_KEY=change-me SESSION_ENGINE=example.sessions.sharded cargo run -p example-sharded-engine`
//!
//! What a store must do is the [`SessionStore`] contract; the shared conformance suite
//! (`session-conformance`) checks it — see `tests/conformance.rs`.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use session_core::key::is_acceptable_key;
use session_core::{Clock, Error, Map, Record, SessionStore, Settings, SettingsGroup, SystemClock};
use session_registry::EngineSpec;

/// The name `SESSION_ENGINE` selects this engine by.
pub const ENGINE_NAME: &str = "example.sessions.sharded";

session_core::settings_table! {
    /// This engine's settings, each declared once.
    #[derive(Debug, Clone)]
    pub struct ShardedSettings {
        /// `EXAMPLE_SHARDS`: how many independently locked shards (default 16).
        shards: usize = "EXAMPLE_SHARDS" => 16,
    }
}

type Shard = HashMap<String, (Map, DateTime<Utc>)>;

/// The store: sessions in `shards` maps, each behind its own lock.
#[derive(Debug)]
pub struct ShardedStore {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    clock: Arc<dyn Clock>,
}

impl ShardedStore {
    /// A store with `shards` shards (at least one) on `clock`.
    pub fn new(shards: usize, clock: Arc<dyn Clock>) -> ShardedStore {
        ShardedStore {
            shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            clock,
        }
    }

    /// The store the settings describe, on the system clock.
    pub fn from_settings(settings: &Settings) -> Result<ShardedStore, Error> {
        let own =
            ShardedSettings::from_settings(settings).map_err(|e| Error::permanent("sharded", e))?;
        Ok(ShardedStore::new(own.shards, Arc::new(SystemClock)))
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        let n = self.shards.len();
        // `n` is at least 1; the remainder is below it, so the index is in range.
        let i = usize::try_from(self.hasher.hash_one(key) % n as u64).unwrap_or(0);
        self.shards[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl SessionStore for ShardedStore {
    fn engine_name(&self) -> &'static str {
        "sharded"
    }

    fn stores_data_in_cookie(&self) -> bool {
        false
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        // Keys this engine never generates are "no such session", before any lookup.
        if !is_acceptable_key(key) {
            return Ok(None);
        }
        let now = self.clock.now();
        Ok(self
            .shard(key)
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(data, _)| data.clone()))
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        Ok(is_acceptable_key(key) && self.shard(key).contains_key(key))
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        if !is_acceptable_key(record.key) {
            return Err(Error::InvalidKey("not a key this engine generates"));
        }
        let mut shard = self.shard(record.key);
        // Never overwrite: a taken key is a Duplicate (the Session retries with a new one).
        if shard.contains_key(record.key) {
            return Err(Error::Duplicate);
        }
        shard.insert(
            record.key.to_owned(),
            (Map::clone(record.data), record.expires_at),
        );
        Ok(record.key.to_owned())
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        // Update only: a session deleted meanwhile is Gone, never brought back.
        match self.shard(record.key).get_mut(record.key) {
            Some(slot) => {
                *slot = (Map::clone(record.data), record.expires_at);
                Ok(record.key.to_owned())
            }
            None => Err(Error::Gone),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        self.shard(key).remove(key);
        Ok(())
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        let now = self.clock.now();
        let mut removed = 0u64;
        for shard in &self.shards {
            let mut s = shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let before = s.len();
            s.retain(|_, (_, exp)| *exp >= now);
            removed += u64::try_from(before - s.len()).unwrap_or(0);
        }
        Ok(Some(removed))
    }
}

/// Makes `SESSION_ENGINE = "example.sessions.sharded"` select this engine (call once at
/// start-up, before building the store).
pub fn register() {
    session_registry::register(
        EngineSpec::new(ENGINE_NAME, |settings: Settings| async move {
            ShardedStore::from_settings(&settings)
        })
        .settings(ShardedSettings::NAMES),
    );
}
