//! Who is logged in where: an index from user id to session keys, for "log out everywhere".
//!
//! [`IndexedStore`] wraps any engine and keeps a [`UserIndex`] up to date: a session whose
//! data names a user (Django's `_auth_user_id`) is indexed when it is created or saved, and
//! when it is first read (sessions Django logged in get there on their first Rust read, or
//! with `sessionctl reindex`). Deletes remove their entry when the user is known; entries of
//! sessions that expired or were deleted elsewhere are pruned when the user's sessions are
//! listed, and the engines' indexes expire entries with their sessions (no index that only
//! grows, Spring Session's known leak).
//!
//! [`log_out_everywhere`](crate::SessionStore::log_out_everywhere) deletes every indexed
//! session of the user except the current one, and records the moment. The index may be
//! stale, never wrong in the dangerous direction: a session of that user the index did not
//! know (Django created it and no Rust request has read it yet) is refused and deleted on its
//! first Rust read when it was last saved before the logout — judged from its stored expiry;
//! when the engine cannot tell, it is refused. So after `log_out_everywhere` returns, no
//! session of that user made before it loads through this store. (Django itself keeps
//! serving such an unread session until it is deleted: `sessionctl logout --user ID --scan`
//! also walks every stored session and deletes them.)

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::error::Error;
use crate::expiry::{Clock, ExpiryPolicy};
use crate::store::{DynSessionStore, KeyPage, Record, SessionStore};
use crate::value::{Map, Value};

/// Django's `SESSION_KEY`: where the logged-in user's id lives in the session.
pub const USER_ID_KEY: &str = "_auth_user_id";

/// The user a session's data names, if any.
pub fn user_of(data: &Map) -> Option<&str> {
    data.get(USER_ID_KEY).and_then(Value::as_str)
}

/// An index from user id to session keys, stored beside the sessions.
#[async_trait]
pub trait UserIndex: Send + Sync + fmt::Debug {
    /// Records that session `key` belongs to `user` until `expires_at`.
    async fn add(&self, user: &str, key: &str, expires_at: DateTime<Utc>) -> Result<(), Error>;
    /// Forgets session `key` of `user`.
    async fn remove(&self, user: &str, key: &str) -> Result<(), Error>;
    /// The keys recorded for `user` (some may belong to sessions gone since).
    async fn keys(&self, user: &str) -> Result<Vec<String>, Error>;
    /// Records a log-out-everywhere of `user` at `at`.
    async fn revoke(&self, user: &str, at: DateTime<Utc>) -> Result<(), Error>;
    /// When `user` was last logged out everywhere, if recorded.
    async fn revoked_at(&self, user: &str) -> Result<Option<DateTime<Utc>>, Error>;
    /// Removes entries whose sessions have expired; how many. The default removes none
    /// (indexes that expire their entries by themselves).
    async fn clear_expired(&self, now: DateTime<Utc>) -> Result<u64, Error> {
        let _ = now;
        Ok(0)
    }
    /// How many session entries the index holds, where it can count them (leak tests).
    async fn entries(&self) -> Result<Option<u64>, Error> {
        Ok(None)
    }
    /// Whether [`keys`](Self::keys) finds every session of a user however it was made (a
    /// scan of the storage): then no stored session escapes a log-out-everywhere.
    fn is_complete(&self) -> bool {
        false
    }
}

/// An index in this process's memory: exact for engines that live in the process (the in-process cache, the
/// memory store), a test double otherwise.
#[derive(Debug, Default)]
pub struct MemoryUserIndex {
    inner: Mutex<MemoryIndexState>,
}

#[derive(Debug, Default)]
struct MemoryIndexState {
    by_user: HashMap<String, HashMap<String, DateTime<Utc>>>,
    revoked: HashMap<String, DateTime<Utc>>,
}

impl MemoryUserIndex {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoryIndexState> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl UserIndex for MemoryUserIndex {
    async fn add(&self, user: &str, key: &str, expires_at: DateTime<Utc>) -> Result<(), Error> {
        self.state()
            .by_user
            .entry(user.to_owned())
            .or_default()
            .insert(key.to_owned(), expires_at);
        Ok(())
    }
    async fn remove(&self, user: &str, key: &str) -> Result<(), Error> {
        let mut s = self.state();
        if let Some(keys) = s.by_user.get_mut(user) {
            keys.remove(key);
            if keys.is_empty() {
                s.by_user.remove(user);
            }
        }
        Ok(())
    }
    async fn keys(&self, user: &str) -> Result<Vec<String>, Error> {
        Ok(self
            .state()
            .by_user
            .get(user)
            .map(|k| k.keys().cloned().collect())
            .unwrap_or_default())
    }
    async fn revoke(&self, user: &str, at: DateTime<Utc>) -> Result<(), Error> {
        self.state().revoked.insert(user.to_owned(), at);
        Ok(())
    }
    async fn revoked_at(&self, user: &str) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self.state().revoked.get(user).copied())
    }
    async fn clear_expired(&self, now: DateTime<Utc>) -> Result<u64, Error> {
        let mut s = self.state();
        let mut n = 0;
        for keys in s.by_user.values_mut() {
            let before = keys.len();
            keys.retain(|_, at| *at > now);
            n += (before - keys.len()) as u64;
        }
        s.by_user.retain(|_, k| !k.is_empty());
        Ok(n)
    }
    async fn entries(&self) -> Result<Option<u64>, Error> {
        Ok(Some(
            self.state().by_user.values().map(|k| k.len() as u64).sum(),
        ))
    }
}

/// No index: a user's sessions are found by reading every stored session (the file engine,
/// which can list its sessions but has nowhere shared to keep an index). Complete — it finds
/// sessions Django created too — and O(number of sessions). Log-out times are kept in this
/// process only.
#[derive(Debug)]
pub struct ScanUserIndex {
    store: Arc<DynSessionStore>,
    revoked: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl ScanUserIndex {
    /// An index that scans `store` (which must [list its keys](SessionStore::list_keys)).
    pub fn new(store: Arc<DynSessionStore>) -> ScanUserIndex {
        ScanUserIndex {
            store,
            revoked: Mutex::default(),
        }
    }
}

#[async_trait]
impl UserIndex for ScanUserIndex {
    async fn add(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<(), Error> {
        Ok(())
    }
    async fn remove(&self, _: &str, _: &str) -> Result<(), Error> {
        Ok(())
    }
    async fn keys(&self, user: &str) -> Result<Vec<String>, Error> {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let Some(page) = self.store.list_keys(cursor.as_deref(), 500).await? else {
                return Err(Error::permanent(
                    "users",
                    crate::ConfigError::Invalid {
                        setting: "SESSION_USER_INDEX",
                        reason: format!(
                            "the {} engine cannot list its sessions",
                            self.store.engine_name()
                        ),
                    },
                ));
            };
            for key in page.keys {
                if let Some(data) = self.store.load(&key).await? {
                    if user_of(&data) == Some(user) {
                        found.push(key);
                    }
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(found),
            }
        }
    }
    async fn revoke(&self, user: &str, at: DateTime<Utc>) -> Result<(), Error> {
        self.revoked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(user.to_owned(), at);
        Ok(())
    }
    async fn revoked_at(&self, user: &str) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self
            .revoked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(user)
            .copied())
    }
    fn is_complete(&self) -> bool {
        true
    }
}

/// At most this many `(user, key)` pairs are remembered as indexed by this process.
const SEEN_LIMIT: usize = 100_000;

/// An engine with a user index; see the [module docs](self).
pub struct IndexedStore {
    inner: Arc<DynSessionStore>,
    index: Arc<dyn UserIndex>,
    policy: ExpiryPolicy,
    clock: Arc<dyn Clock>,
    /// Sessions this process indexed already, with their user (their reads need no index
    /// write while the user stays the same).
    seen: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for IndexedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexedStore")
            .field("inner", &self.inner.engine_name())
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl IndexedStore {
    /// `inner` with `index`; `policy` and `clock` date the entries when the engine does not
    /// report a session's expiry.
    pub fn new(
        inner: Arc<DynSessionStore>,
        index: Arc<dyn UserIndex>,
        policy: ExpiryPolicy,
        clock: Arc<dyn Clock>,
    ) -> IndexedStore {
        IndexedStore {
            inner,
            index,
            policy,
            clock,
            seen: Mutex::default(),
        }
    }

    /// The index.
    pub fn index(&self) -> &Arc<dyn UserIndex> {
        &self.index
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn note(&self, user: &str, key: &str, expires_at: DateTime<Utc>) -> Result<(), Error> {
        self.index.add(user, key, expires_at).await?;
        let mut seen = self.seen();
        if seen.len() >= SEEN_LIMIT {
            seen.clear();
        }
        seen.insert(key.to_owned(), user.to_owned());
        Ok(())
    }

    /// Indexes every stored session that names a user (sessions Django made included); how
    /// many. `sessionctl reindex` runs it.
    pub async fn reindex(&self, progress: &(dyn Fn(u64) + Send + Sync)) -> Result<u64, Error> {
        let mut n = 0;
        let mut cursor: Option<String> = None;
        loop {
            let Some(page) = self.inner.list_keys(cursor.as_deref(), 500).await? else {
                return Ok(0);
            };
            for key in page.keys {
                if let Some((data, at)) = self.inner.load_with_expiry(&key).await? {
                    if let Some(user) = user_of(&data) {
                        let at = at.unwrap_or_else(|| self.default_expiry());
                        self.note(user, &key, at).await?;
                        n += 1;
                    }
                }
            }
            progress(n);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(n),
            }
        }
    }

    /// Whether this process indexed `key` for `user` already (a key whose user changed
    /// without a new key is indexed again).
    fn is_seen(&self, key: &str, user: &str) -> bool {
        self.seen().get(key).is_some_and(|u| u == user)
    }

    fn default_expiry(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        let age = TimeDelta::try_seconds(self.policy.cookie_age).unwrap_or(TimeDelta::MAX);
        now.checked_add_signed(age)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// A loaded session: indexed if new to us; refused (and deleted) if its user was logged
    /// out everywhere after its last save and the index did not know it.
    async fn admit(
        &self,
        key: &str,
        data: Map,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Option<(Map, Option<DateTime<Utc>>)>, Error> {
        let Some(user) = user_of(&data).map(str::to_owned) else {
            return Ok(Some((data, expires_at)));
        };
        if self.is_seen(key, &user) {
            return Ok(Some((data, expires_at)));
        }
        if let Some(revoked) = self.index.revoked_at(&user).await? {
            let known = self.index.keys(&user).await?.iter().any(|k| k == key);
            if !known {
                // Last saved at (expiry − the age a save gives); unknown: assume before.
                let saved_after = expires_at.is_some_and(|at| {
                    let age = self.policy.expiry_age(
                        self.clock.now(),
                        crate::StoredExpiry::of(&data).unwrap_or(crate::StoredExpiry::Policy),
                    );
                    at - TimeDelta::seconds(age) > revoked
                });
                if !saved_after {
                    tracing::info!(target: "django.contrib.sessions", "a session of a user logged out everywhere was refused on its first read");
                    self.inner.delete(key).await?;
                    return Ok(None);
                }
            }
        }
        let at = expires_at.unwrap_or_else(|| self.default_expiry());
        self.note(&user, key, at).await?;
        Ok(Some((data, expires_at)))
    }
}

#[async_trait]
impl SessionStore for IndexedStore {
    fn engine_name(&self) -> &'static str {
        self.inner.engine_name()
    }

    fn stores_data_in_cookie(&self) -> bool {
        self.inner.stores_data_in_cookie()
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        Ok(self.load_with_expiry(key).await?.map(|(m, _)| m))
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<DateTime<Utc>>)>, Error> {
        match self.inner.load_with_expiry(key).await? {
            Some((data, at)) => self.admit(key, data, at).await,
            None => Ok(None),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        self.inner.exists(key).await
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        let key = self.inner.create(record).await?;
        if let Some(user) = user_of(record.data) {
            self.note(user, &key, record.expires_at).await?;
        }
        Ok(key)
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        let key = self.inner.save(record).await?;
        if let Some(user) = user_of(record.data) {
            if !self.is_seen(&key, user) {
                self.note(user, &key, record.expires_at).await?;
            }
        }
        Ok(key)
    }

    async fn touch(&self, record: &Record<'_>) -> Result<String, Error> {
        self.inner.touch(record).await
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        // The user, to drop the entry now (else it is pruned when the user's sessions are
        // listed).
        let user = match self.inner.load(key).await {
            Ok(Some(data)) => user_of(&data).map(str::to_owned),
            _ => None,
        };
        self.inner.delete(key).await?;
        self.seen().remove(key);
        if let Some(user) = user {
            self.index.remove(&user, key).await?;
        }
        Ok(())
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        let n = self.inner.clear_expired().await?;
        self.index.clear_expired(self.clock.now()).await?;
        Ok(n)
    }

    async fn list_keys(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<KeyPage>, Error> {
        self.inner.list_keys(cursor, limit).await
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    /// The user's live sessions; entries of sessions gone since are pruned.
    async fn sessions_of(&self, user: &str) -> Result<Option<Vec<String>>, Error> {
        let mut live = Vec::new();
        for key in self.index.keys(user).await? {
            match self.inner.load(&key).await? {
                Some(data) if user_of(&data) == Some(user) => live.push(key),
                _ => {
                    self.index.remove(user, &key).await?;
                    self.seen().remove(&key);
                }
            }
        }
        live.sort();
        Ok(Some(live))
    }

    /// Deletes every session of `user` but `except`; how many. Records the moment, so a
    /// session the index missed is refused on its first read.
    async fn log_out_everywhere(
        &self,
        user: &str,
        except: Option<&str>,
    ) -> Result<Option<u64>, Error> {
        // First the mark (a session saved before it and missed below is refused on read),
        // then the deletes.
        self.index.revoke(user, self.clock.now()).await?;
        let mut n = 0;
        for key in self.index.keys(user).await? {
            if Some(key.as_str()) == except {
                continue;
            }
            // Only sessions that still belong to the user (a key may have been reused by a
            // flush and a new login of someone else: never delete theirs).
            if let Some(data) = self.inner.load(&key).await? {
                if user_of(&data) == Some(user) {
                    self.inner.delete(&key).await?;
                    n += 1;
                }
            }
            self.index.remove(user, &key).await?;
            self.seen().remove(&key);
        }
        Ok(Some(n))
    }
}
