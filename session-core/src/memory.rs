//! An in-process reference engine: the conformance suite's baseline and a test double for
//! applications.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::expiry::{Clock, SystemClock};
use crate::key::is_acceptable_key;
use crate::store::{Record, SessionStore};
use crate::value::Map;

type Records = HashMap<String, (Arc<Map>, DateTime<Utc>)>;

/// Sessions in a `HashMap`, expiring by the record's `expires_at` on the injected clock.
///
/// ```
/// # tokio_test_block(async {
/// use std::sync::Arc;
/// use session_core::{memory::MemoryStore, Session, SessionConfig};
/// let store = Arc::new(MemoryStore::default());
/// let mut session = Session::new(store.clone(), SessionConfig::default(), None);
/// session.insert_value("num_visits", 1).await.unwrap();
/// session.save(false).await.unwrap();
/// let key = session.session_key().unwrap().to_owned();
/// let mut again = Session::new(store, SessionConfig::default(), Some(&key));
/// assert_eq!(again.get::<i64>("num_visits").await.unwrap(), Some(1));
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    records: Arc<Mutex<Records>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the sessions themselves.
        f.debug_struct("MemoryStore")
            .field("records", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::with_clock(Arc::new(SystemClock))
    }
}

impl MemoryStore {
    /// An empty store on the given clock.
    pub fn with_clock(clock: Arc<dyn Clock>) -> MemoryStore {
        MemoryStore {
            records: Arc::default(),
            clock,
        }
    }

    /// How many records are held (expired ones included until cleared).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// The keys of the records held, in no particular order.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    fn engine_name(&self) -> &'static str {
        "memory"
    }

    fn stores_data_in_cookie(&self) -> bool {
        false
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        if !is_acceptable_key(key) {
            return Ok(None);
        }
        let now = self.clock.now();
        Ok(self
            .lock()
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(data, _)| Map::clone(data)))
    }

    /// The stored map itself (shared, never copied).
    async fn load_shared(&self, key: &str) -> Result<Option<Arc<Map>>, Error> {
        if !is_acceptable_key(key) {
            return Ok(None);
        }
        let now = self.clock.now();
        Ok(self
            .lock()
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(data, _)| data.clone()))
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        Ok(is_acceptable_key(key) && self.lock().contains_key(key))
    }

    async fn touch(&self, record: &Record<'_>) -> Result<String, Error> {
        let now = self.clock.now();
        match self.lock().get_mut(record.key) {
            Some((_, exp)) if *exp > now => {
                *exp = record.expires_at;
                Ok(record.key.to_owned())
            }
            _ => Err(Error::Gone),
        }
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<chrono::DateTime<chrono::Utc>>)>, Error> {
        if !is_acceptable_key(key) {
            return Ok(None);
        }
        let now = self.clock.now();
        Ok(self
            .lock()
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(data, exp)| (Map::clone(data), Some(*exp))))
    }

    async fn list_keys(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<crate::store::KeyPage>, Error> {
        let records = self.lock();
        let mut keys: Vec<&String> = records
            .keys()
            .filter(|k| cursor.is_none_or(|c| k.as_str() > c))
            .collect();
        keys.sort();
        keys.truncate(limit.max(1));
        let keys: Vec<String> = keys.into_iter().cloned().collect();
        let next = if keys.len() >= limit.max(1) {
            keys.last().cloned()
        } else {
            None
        };
        Ok(Some(crate::store::KeyPage { keys, next }))
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        if !is_acceptable_key(record.key) {
            return Err(Error::InvalidKey("not a key this engine generates"));
        }
        let mut records = self.lock();
        if records.contains_key(record.key) {
            return Err(Error::Duplicate);
        }
        records.insert(
            record.key.to_owned(),
            (record.data.clone(), record.expires_at),
        );
        Ok(record.key.to_owned())
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        match self.lock().get_mut(record.key) {
            Some(slot) => {
                *slot = (record.data.clone(), record.expires_at);
                Ok(record.key.to_owned())
            }
            None => Err(Error::Gone),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        self.lock().remove(key);
        Ok(())
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        let now = self.clock.now();
        let mut records = self.lock();
        let before = records.len();
        records.retain(|_, (_, exp)| *exp >= now);
        Ok(Some(
            u64::try_from(before - records.len()).unwrap_or(u64::MAX),
        ))
    }
}
