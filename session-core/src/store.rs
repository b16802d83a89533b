//! The [`SessionStore`] contract every engine implements.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::value::Map;

/// What a store is asked to write: the session's data and its expiry, computed once by the
/// [`Session`](crate::Session) at save time (so every save slides the expiry, as in Django).
#[derive(Clone, Copy)]
pub struct Record<'a> {
    /// The session key to write under (ignored by engines whose data lives in the cookie).
    pub key: &'a str,
    /// The whole session, shared: engines that keep sessions in memory hold on to it
    /// without copying (it reads as a `&Map` everywhere else).
    pub data: &'a Arc<Map>,
    /// When the session expires (`get_expiry_date()`): the db engine's `expire_date`.
    pub expires_at: DateTime<Utc>,
    /// Seconds until it expires (`get_expiry_age()`): the cache engines' TTL. May be ≤ 0.
    pub max_age: i64,
}

impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("entries", &self.data.len())
            .field("expires_at", &self.expires_at)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// Storage for sessions: Django's engine contract, async and object-safe.
///
/// Apps choose the engine at run time and hold it as `Arc<dyn SessionStore>`
/// ([`DynSessionStore`]); every method's future is `Send`.
///
/// # The contract (held by the conformance suite, `session-conformance`)
///
/// * [`load`](Self::load) returns the data of a live session, or `None` when the key is
///   unknown, expired, unreadable or not acceptable to this engine. Corrupt data is `None`
///   (plus a warning for a bad signature), never an error; errors are for storage failures.
/// * [`exists`](Self::exists) tells whether a record occupies the key (expired ones may count,
///   as in Django's db engine, so that keys are never reused).
/// * [`create`](Self::create) inserts if absent. When the key is taken it returns
///   [`Error::Duplicate`] and **never overwrites**.
/// * [`save`](Self::save) updates only. When the record is gone (deleted, expired, evicted)
///   it returns [`Error::Gone`] and **never brings the session back**.
/// * [`delete`](Self::delete) removes the record; a missing one is not an error.
/// * [`clear_expired`](Self::clear_expired) removes expired records and returns how many,
///   or `None` where storage expires by itself (caches, cookies).
///
/// `create` and `save` return the session key to send to the browser. For server-side engines
/// that is `record.key`. For the signed-cookie engine ([`stores_data_in_cookie`]) the "key" is
/// the signed data itself: `create`/`save` return the new cookie value, `load` takes a cookie
/// value, `exists` is always false and `delete` does nothing (a signed cookie cannot be revoked
/// before it expires).
///
/// [`stores_data_in_cookie`]: Self::stores_data_in_cookie
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// A short engine name for logs and errors (`db`, `cache`, `file`…).
    fn engine_name(&self) -> &'static str;

    /// Whether the session data travels in the cookie (signed-cookie engine) rather than
    /// being stored server-side under a random key.
    fn stores_data_in_cookie(&self) -> bool;

    /// The session stored under `key`, if it is live.
    async fn load(&self, key: &str) -> Result<Option<Map>, Error>;

    /// [`load`](Self::load), sharing the stored map where the engine keeps decoded sessions
    /// in this process (the in-process cache, [`MemoryStore`](crate::memory::MemoryStore)): a
    /// read-only request then copies nothing. The default wraps [`load`](Self::load).
    async fn load_shared(&self, key: &str) -> Result<Option<Arc<Map>>, Error> {
        Ok(self.load(key).await?.map(Arc::new))
    }

    /// Whether a record occupies `key`.
    async fn exists(&self, key: &str) -> Result<bool, Error>;

    /// Inserts `record` if its key is free; [`Error::Duplicate`] otherwise.
    async fn create(&self, record: &Record<'_>) -> Result<String, Error>;

    /// Replaces an existing record; [`Error::Gone`] if there is none.
    async fn save(&self, record: &Record<'_>) -> Result<String, Error>;

    /// Removes the record under `key`, if any.
    async fn delete(&self, key: &str) -> Result<(), Error>;

    /// Removes expired records; `Some(count)`, or `None` where storage expires by itself.
    async fn clear_expired(&self) -> Result<Option<u64>, Error>;

    /// [`clear_expired`](Self::clear_expired), calling `progress` with the running total as
    /// the work goes (engines that clear in batches report after each; the default reports
    /// once at the end). Tools such as `sessionctl clear-expired` show it.
    async fn clear_expired_with_progress(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Option<u64>, Error> {
        let n = self.clear_expired().await?;
        if let Some(n) = n {
            progress(n);
        }
        Ok(n)
    }

    /// Releases the store's connections (pools) at shutdown; later calls may fail. The
    /// default does nothing.
    async fn close(&self) {}

    /// [`load`](Self::load), plus when the record expires if the engine knows it (the db
    /// engine's `expire_date`). The default loads and reports no date; callers then derive
    /// the expiry from the data and the policy, as a save would. Used to move a session to
    /// another engine without changing its lifetime.
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<DateTime<Utc>>)>, Error> {
        Ok(self.load(key).await?.map(|m| (m, None)))
    }

    /// Extends the session's expiry to `record`'s without rewriting its data (a read-only
    /// request under `SESSION_IDLE_TIMEOUT`): SQL `UPDATE … SET expire_date`, Redis
    /// `EXPIRE`, Memcached `touch`, the file's modification time. [`Error::Gone`] when the
    /// record is gone — a touch never brings a session back. Returns the key to send to the
    /// browser, as [`save`](Self::save) does. The default is a full [`save`](Self::save) of
    /// `record` (which holds the loaded data), so every engine supports it.
    async fn touch(&self, record: &Record<'_>) -> Result<String, Error> {
        self.save(record).await
    }

    /// The keys of `user`'s live sessions (Django's `_auth_user_id`), where the engine keeps
    /// a user index ([`users::IndexedStore`](crate::users::IndexedStore)); `Ok(None)`
    /// otherwise (the default).
    async fn sessions_of(&self, user: &str) -> Result<Option<Vec<String>>, Error> {
        let _ = user;
        Ok(None)
    }

    /// Ends every session of `user` except `except` (the current one, if any); how many
    /// were deleted. `Ok(None)` where the engine keeps no user index (the default). See
    /// [`users`](crate::users) for what "every" covers.
    async fn log_out_everywhere(
        &self,
        user: &str,
        except: Option<&str>,
    ) -> Result<Option<u64>, Error> {
        let _ = (user, except);
        Ok(None)
    }

    /// One page of the keys stored here, for tools that visit every session
    /// (`sessionctl migrate`): up to `limit` keys after `cursor` (`None`: from the start),
    /// and the cursor of the next page. `Ok(None)` when the engine cannot list its keys (the
    /// default; signed cookies, Memcached). Engines that can list return expired records too
    /// or not, as is cheapest; a page may be short or empty before the end.
    async fn list_keys(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<KeyPage>, Error> {
        let _ = (cursor, limit);
        Ok(None)
    }
}

/// A page of [`SessionStore::list_keys`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// Session keys.
    pub keys: Vec<String>,
    /// The cursor of the next page; `None` at the end.
    pub next: Option<String>,
}

/// A session store chosen at run time.
pub type DynSessionStore = dyn SessionStore;

macro_rules! forward {
    ($($ptr:ident),*) => {$(
        #[async_trait]
        impl<S: SessionStore + ?Sized> SessionStore for $ptr<S> {
            fn engine_name(&self) -> &'static str { (**self).engine_name() }
            fn stores_data_in_cookie(&self) -> bool { (**self).stores_data_in_cookie() }
            async fn load(&self, key: &str) -> Result<Option<Map>, Error> { (**self).load(key).await }
            async fn load_shared(&self, key: &str) -> Result<Option<Arc<Map>>, Error> { (**self).load_shared(key).await }
            async fn exists(&self, key: &str) -> Result<bool, Error> { (**self).exists(key).await }
            async fn create(&self, record: &Record<'_>) -> Result<String, Error> { (**self).create(record).await }
            async fn save(&self, record: &Record<'_>) -> Result<String, Error> { (**self).save(record).await }
            async fn delete(&self, key: &str) -> Result<(), Error> { (**self).delete(key).await }
            async fn clear_expired(&self) -> Result<Option<u64>, Error> { (**self).clear_expired().await }
            async fn close(&self) { (**self).close().await }
            async fn clear_expired_with_progress(&self, progress: &(dyn Fn(u64) + Send + Sync)) -> Result<Option<u64>, Error> { (**self).clear_expired_with_progress(progress).await }
            async fn load_with_expiry(&self, key: &str) -> Result<Option<(Map, Option<DateTime<Utc>>)>, Error> { (**self).load_with_expiry(key).await }
            async fn list_keys(&self, cursor: Option<&str>, limit: usize) -> Result<Option<KeyPage>, Error> { (**self).list_keys(cursor, limit).await }
            async fn touch(&self, record: &Record<'_>) -> Result<String, Error> { (**self).touch(record).await }
            async fn sessions_of(&self, user: &str) -> Result<Option<Vec<String>>, Error> { (**self).sessions_of(user).await }
            async fn log_out_everywhere(&self, user: &str, except: Option<&str>) -> Result<Option<u64>, Error> { (**self).log_out_everywhere(user, except).await }
        }
    )*};
}
forward!(Arc, Box);

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn trait_is_dyn_compatible_and_futures_are_send() {
        let store: Arc<DynSessionStore> = Arc::new(crate::memory::MemoryStore::default());
        let boxed: Box<DynSessionStore> = Box::<crate::memory::MemoryStore>::default();
        let wrapped: Arc<Box<DynSessionStore>> = Arc::new(boxed);
        assert_send(&store.load("abcdefgh"));
        assert_send(&wrapped.exists("abcdefgh"));
        fn is_store<S: SessionStore>(_: &S) {}
        is_store(&store);
        is_store(&wrapped);
    }
}
