//! [`MigratingStore`]: change engines under live traffic without logging anyone out.
//!
//! It wraps the engine being moved to (*new*) and the one being left (*old*). Reads go to
//! the new engine and fall back to the old one; a session found only in the old engine is
//! copied forward on that first read (created on the new engine only if absent there, so a
//! newer session is never overwritten). Writes, deletes and key changes act on the new
//! engine. `sessionctl migrate` moves the sessions nobody reads, in batches.
//!
//! # The old copy never comes back
//!
//! Once a session has been copied, its old record must not be found again: if the new copy
//! is deleted (a logout), expires, or is evicted, a fallback read would otherwise bring the
//! old one back. So the copy *claims* the old record: it is saved with
//! [`MOVED_KEY`] set to its own key (a key Django ignores and carries along, so a Django app
//! still on the old engine keeps reading the session with its user). A fallback read that
//! finds the claim treats the session as gone. With [`OldCopies::Delete`] the old record is
//! then deleted as well. Moving back later (new and old swapped) finds those claimed records
//! in its target and replaces them; they are never taken for newer sessions. The claim is a *save* on the old engine, which fails with
//! [`Error::Gone`] when a concurrent request deleted the session meanwhile: the copy is then
//! undone, so a logout racing a first read is never undone. Deletes remove the old record
//! first, then the new one, so every interleaving ends with no copy left.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use session_core::memory::MemoryStore;
//! use session_core::migrate::{MigratingStore, OldCopies};
//! use session_core::{Session, SessionConfig, SessionStore};
//!
//! let (old, new) = (Arc::new(MemoryStore::default()), Arc::new(MemoryStore::default()));
//! let mut s = Session::new(old.clone(), SessionConfig::default(), None);
//! s.insert_value("user", 7).await.unwrap();
//! s.save(false).await.unwrap();
//! let key = s.session_key().unwrap().to_owned();
//!
//! let moving = Arc::new(MigratingStore::new(new.clone(), old.clone(), OldCopies::Delete, SessionConfig::default()));
//! let mut again = Session::new(moving, SessionConfig::default(), Some(&key));
//! assert_eq!(again.get::<i64>("user").await.unwrap(), Some(7)); // found in the old engine…
//! assert!(new.exists(&key).await.unwrap()); // …and now in the new one
//! assert!(!old.exists(&key).await.unwrap());
//! # });
//! ```

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::session::SessionConfig;
use crate::settings::SettingValue;
use crate::store::{DynSessionStore, KeyPage, Record, SessionStore};
use crate::value::{Map, Value};

/// The key under which a copied session's old record names the key it moved under.
pub const MOVED_KEY: &str = "_session_moved_to";

/// What happens to a session's old record once it is copied to the new engine
/// (`SESSION_MIGRATE_OLD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldCopies {
    /// Kept (claimed, see the [module docs](self)) and left to expire (`keep`, the default): a
    /// Django app still on the old engine keeps its users, and moving back stays possible.
    Keep,
    /// Deleted after the copy (`delete`).
    Delete,
}

/// `SESSION_MIGRATE_OLD`: `keep` or `delete`.
impl SettingValue for OldCopies {
    fn from_text(text: &str) -> Result<OldCopies, String> {
        match text.to_ascii_lowercase().as_str() {
            "keep" => Ok(OldCopies::Keep),
            "delete" => Ok(OldCopies::Delete),
            _ => Err(format!("{text:?}: expected \"keep\" or \"delete\"")),
        }
    }
}

crate::settings_table! {
    /// The migration store's settings (`SESSION_ENGINE=migrate`).
    #[derive(Debug, Clone)]
    pub struct MigrateSettings {
        /// `SESSION_MIGRATE_FROM`: the engine being left (a `SESSION_ENGINE` name).
        from: Option<String> = "SESSION_MIGRATE_FROM" => None,
        /// `SESSION_MIGRATE_TO`: the engine being moved to.
        to: Option<String> = "SESSION_MIGRATE_TO" => None,
        /// `SESSION_MIGRATE_OLD`: `keep` (default) or `delete` the old record after a copy.
        old_copies: OldCopies = "SESSION_MIGRATE_OLD" => OldCopies::Keep,
    }
}

/// What [`MigratingStore::migrate_key`] did with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// Copied to the new engine.
    Copied,
    /// The new engine already holds a session under the key (a newer one: left as it is).
    AlreadyThere,
    /// Nothing to move: no live session under the key in the old engine, or one already
    /// moved.
    Nothing,
}

/// Reads from a new engine with a fallback to an old one, copying sessions forward; see the
/// [module docs](self).
pub struct MigratingStore {
    new: Arc<DynSessionStore>,
    old: Arc<DynSessionStore>,
    old_copies: OldCopies,
    config: SessionConfig,
}

impl fmt::Debug for MigratingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigratingStore")
            .field("new", &self.new.engine_name())
            .field("old", &self.old.engine_name())
            .field("old_copies", &self.old_copies)
            .finish()
    }
}

impl MigratingStore {
    /// Moves sessions from `old` to `new`. `config` gives the expiry of a copy when the old
    /// engine cannot say when its record expires (as a save would: the policy from now).
    ///
    /// # Panics
    /// Never; but a signed-cookie engine on either side has no record to move, so
    /// [`check`](Self::check) refuses it — builders call it.
    pub fn new(
        new: Arc<DynSessionStore>,
        old: Arc<DynSessionStore>,
        old_copies: OldCopies,
        config: SessionConfig,
    ) -> MigratingStore {
        MigratingStore {
            new,
            old,
            old_copies,
            config,
        }
    }

    /// Refuses pairs that cannot be migrated: an engine whose data lives in the cookie.
    pub fn check(&self) -> Result<(), crate::ConfigError> {
        for (setting, store) in [
            ("SESSION_MIGRATE_FROM", &self.old),
            ("SESSION_MIGRATE_TO", &self.new),
        ] {
            if store.stores_data_in_cookie() {
                return Err(crate::ConfigError::Invalid {
                    setting,
                    reason: format!(
                        "{}: the data lives in the cookie, there is no record to move",
                        store.engine_name()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The engine being moved to.
    pub fn new_store(&self) -> &Arc<DynSessionStore> {
        &self.new
    }

    /// The engine being left.
    pub fn old_store(&self) -> &Arc<DynSessionStore> {
        &self.old
    }

    /// Moves one session if the old engine has it and the new one does not (what a first
    /// read does; `sessionctl migrate` calls it for every key). Idempotent.
    pub async fn migrate_key(&self, key: &str) -> Result<Moved, Error> {
        let shadow = match self.new.load(key).await? {
            Some(m) if !is_claimed(&m, key) => return Ok(Moved::AlreadyThere),
            Some(_) => true,
            // Expired or unreadable records still occupy the key: create would fail.
            None => self.new.exists(key).await?,
        };
        Ok(match self.copy_forward(key, shadow).await? {
            Copy::Copied(_) => Moved::Copied,
            Copy::Newer(_) => Moved::AlreadyThere,
            Copy::Nothing => Moved::Nothing,
        })
    }

    /// Copies `key` from the old engine. `occupied`: the new engine holds a record under
    /// the key that is no live session of its own (the claimed leftover of a move in the
    /// other direction, or an expired record): it is replaced rather than created.
    async fn copy_forward(&self, key: &str, occupied: bool) -> Result<Copy, Error> {
        let Some((data, expires_at)) = self.old.load_with_expiry(key).await? else {
            return Ok(Copy::Nothing);
        };
        if is_claimed(&data, key) {
            // Copied before; the new copy is gone (logged out, expired, evicted).
            return Ok(Copy::Nothing);
        }
        let now = self.config.clock.now();
        let (expires_at, max_age) = match expires_at {
            Some(at) => (at, (at - now).num_seconds()),
            None => self.config.expiry_for_save(&data),
        };
        if max_age <= 0 {
            return Ok(Copy::Nothing);
        }
        let data = Arc::new(data);
        let record = Record {
            key,
            data: &data,
            expires_at,
            max_age,
        };
        let written = if occupied {
            match self.new.save(&record).await {
                Err(Error::Gone) => self.new.create(&record).await,
                other => other,
            }
        } else {
            self.new.create(&record).await
        };
        match written {
            Ok(_) => {}
            // A concurrent first read copied it, or the new engine was written meanwhile.
            Err(Error::Duplicate) => {
                return Ok(match self.new.load(key).await? {
                    Some(m) if !is_claimed(&m, key) => Copy::Newer(m),
                    _ => Copy::Nothing,
                });
            }
            Err(e) => return Err(e),
        }
        // Claim the old record. Gone: a concurrent delete (a logout) got there first, and
        // must win — undo the copy.
        let mut claimed = Arc::clone(&data);
        Arc::make_mut(&mut claimed).insert(MOVED_KEY.to_owned(), Value::from(key));
        let claim = Record {
            key,
            data: &claimed,
            expires_at,
            max_age,
        };
        if let Err(e) = self.old.save(&claim).await {
            self.new.delete(key).await?;
            return match e {
                Error::Gone => Ok(Copy::Nothing),
                e => Err(e),
            };
        }
        if self.old_copies == OldCopies::Delete {
            // Claimed already: a failure here leaves a record that can never come back.
            if let Err(e) = self.old.delete(key).await {
                tracing::warn!(target: "django.contrib.sessions", error = %crate::error::report(&e), "a migrated session's old record could not be deleted; it stays claimed and expires by itself");
            }
        }
        Ok(Copy::Copied(Arc::unwrap_or_clone(data)))
    }
}

/// Whether `data` is the claimed record of a session moved under `key`.
fn is_claimed(data: &Map, key: &str) -> bool {
    data.get(MOVED_KEY).and_then(Value::as_str) == Some(key)
}

enum Copy {
    Copied(Map),
    Newer(Map),
    Nothing,
}

#[async_trait]
impl SessionStore for MigratingStore {
    fn engine_name(&self) -> &'static str {
        "migrate"
    }

    fn stores_data_in_cookie(&self) -> bool {
        false
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        let occupied = match self.new.load(key).await? {
            Some(m) if !is_claimed(&m, key) => return Ok(Some(m)),
            // A claimed leftover of an earlier move the other way: not a session here.
            Some(_) => true,
            None => false,
        };
        Ok(match self.copy_forward(key, occupied).await? {
            Copy::Copied(m) | Copy::Newer(m) => Some(m),
            Copy::Nothing => None,
        })
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<DateTime<Utc>>)>, Error> {
        if let Some(found) = self.new.load_with_expiry(key).await? {
            if !is_claimed(&found.0, key) {
                return Ok(Some(found));
            }
        }
        Ok(self.load(key).await?.map(|m| (m, None)))
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        Ok(self.new.exists(key).await? || self.old.exists(key).await?)
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        self.new.create(record).await
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        self.new.save(record).await
    }

    async fn touch(&self, record: &Record<'_>) -> Result<String, Error> {
        self.new.touch(record).await
    }

    async fn sessions_of(&self, user: &str) -> Result<Option<Vec<String>>, Error> {
        let (new, old) = (
            self.new.sessions_of(user).await?,
            self.old.sessions_of(user).await?,
        );
        Ok(match (new, old) {
            (None, None) => None,
            (a, b) => {
                let mut keys: Vec<String> = a.unwrap_or_default();
                keys.extend(b.unwrap_or_default());
                keys.sort();
                keys.dedup();
                Some(keys)
            }
        })
    }

    async fn log_out_everywhere(
        &self,
        user: &str,
        except: Option<&str>,
    ) -> Result<Option<u64>, Error> {
        // Old first, as for a delete.
        let old = self.old.log_out_everywhere(user, except).await?;
        let new = self.new.log_out_everywhere(user, except).await?;
        Ok(match (new, old) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        })
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        // Old first: a copy racing this delete then fails its claim and undoes itself.
        self.old.delete(key).await?;
        self.new.delete(key).await
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        let new = self.new.clear_expired().await?;
        let old = self.old.clear_expired().await?;
        Ok(match (new, old) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        })
    }

    async fn list_keys(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<KeyPage>, Error> {
        self.new.list_keys(cursor, limit).await
    }

    async fn close(&self) {
        self.new.close().await;
        self.old.close().await;
    }
}
