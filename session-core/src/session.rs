//! [`Session`]: the per-request object, Django's `SessionBase` in Rust.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::expiry::{
    AbsoluteFrom, Clock, EXPIRY_KEY, Expiry, ExpiryPolicy, STARTED_KEY, StoredExpiry, SystemClock,
};
use crate::key::{generate_key, validated_key};
use crate::settings::Settings;
use crate::store::{DynSessionStore, Record};
use crate::value::{Map, Value, from_value, to_value};

/// The key [`Session::set_test_cookie`] writes.
pub const TEST_COOKIE_NAME: &str = "testcookie";
/// The value [`Session::set_test_cookie`] writes.
pub const TEST_COOKIE_VALUE: &str = "worked";

/// How many fresh keys `create` tries before giving up (each try is one insert).
pub const CREATE_ATTEMPTS: u32 = 100;

/// What a [`Session`] needs besides its store: the expiry policy and the clock.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Django's expiry rules (`SESSION_COOKIE_AGE`, `SESSION_EXPIRE_AT_BROWSER_CLOSE`, `USE_TZ`).
    pub policy: ExpiryPolicy,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            policy: ExpiryPolicy::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl SessionConfig {
    /// When `data` saved now expires and its age in seconds: what every save writes (the
    /// stored custom expiry or `SESSION_COOKIE_AGE`, capped by `SESSION_ABSOLUTE_TIMEOUT`).
    pub fn expiry_for_save(&self, data: &Map) -> (DateTime<Utc>, i64) {
        let expiry = StoredExpiry::of(data).unwrap_or(StoredExpiry::Policy);
        let deadline = absolute_deadline(self.policy.absolute_timeout, data);
        self.expiry_of(deadline, expiry)
    }

    /// The expiry date and age from now, for a custom expiry and an absolute deadline.
    fn expiry_of(&self, deadline: Option<i64>, expiry: StoredExpiry) -> (DateTime<Utc>, i64) {
        let now = self.clock.now();
        let mut date = self.policy.expiry_date(now, expiry);
        let mut age = self.policy.expiry_age(now, expiry);
        if let Some(deadline) = deadline {
            let remaining = deadline.saturating_sub(now.timestamp());
            if remaining < age {
                age = remaining;
                date = DateTime::from_timestamp(deadline, 0).unwrap_or(date);
            }
        }
        (date, age)
    }

    /// The policy the settings describe, on the system clock.
    pub fn from_settings(settings: &Settings) -> SessionConfig {
        SessionConfig {
            policy: ExpiryPolicy::from_settings(settings),
            clock: Arc::new(SystemClock),
        }
    }

    /// The same policy on another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> SessionConfig {
        self.clock = clock;
        self
    }

    /// The same clock with `SESSION_COOKIE_AGE` = `seconds`.
    pub fn with_cookie_age(mut self, seconds: i64) -> SessionConfig {
        self.policy.cookie_age = seconds;
        self
    }
}

/// One visitor's session for the length of a request: a lazily loaded, insertion-ordered map
/// with Django's `accessed` / `modified` rules.
///
/// Data operations are `async` because the first one loads the session from the store.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use session_core::{memory::MemoryStore, Session, SessionConfig};
/// let mut s = Session::new(Arc::new(MemoryStore::default()), SessionConfig::default(), None);
/// assert!(!s.accessed() && !s.modified());
/// s.insert("cart", &vec![1, 2, 3]).await.unwrap();
/// assert!(s.modified());
/// assert_eq!(s.get::<Vec<u32>>("cart").await.unwrap(), Some(vec![1, 2, 3]));
/// # });
/// ```
pub struct Session {
    store: Arc<DynSessionStore>,
    config: SessionConfig,
    key: Option<String>,
    /// The data, shared copy-on-write with the store where the engine keeps decoded
    /// sessions in memory: reading never copies it, the first change in a request does.
    cache: Option<Arc<Map>>,
    /// When the loaded record expires, as its engine reported it (`None`: not reported, not
    /// loaded, or no record).
    loaded_expiry: Option<DateTime<Utc>>,
    accessed: bool,
    modified: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("engine", &self.store.engine_name())
            .field("has_key", &self.key.is_some())
            .field("loaded_entries", &self.cache.as_ref().map(|m| m.len()))
            .field("accessed", &self.accessed)
            .field("modified", &self.modified)
            .finish()
    }
}

impl Session {
    /// A session for the raw cookie value `key` (kept only if Django would keep it: at least
    /// 8 characters). Nothing is loaded yet.
    pub fn new(store: Arc<DynSessionStore>, config: SessionConfig, key: Option<&str>) -> Session {
        Session {
            store,
            config,
            key: validated_key(key),
            cache: None,
            loaded_expiry: None,
            accessed: false,
            modified: false,
        }
    }

    /// The current key (for the signed-cookie engine: the cookie value). Read-only.
    pub fn session_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The store behind this session.
    pub fn store(&self) -> &Arc<DynSessionStore> {
        &self.store
    }

    /// The expiry policy and clock.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether the data was read or written during this request.
    pub fn accessed(&self) -> bool {
        self.accessed
    }

    /// Whether the data was changed during this request.
    pub fn modified(&self) -> bool {
        self.modified
    }

    /// Marks the session modified (for changes made through interior values).
    pub fn set_modified(&mut self) {
        self.modified = true;
    }

    /// Resets both flags (test helpers, middleware bookkeeping).
    pub fn reset_flags(&mut self) {
        self.accessed = false;
        self.modified = false;
    }

    /// True when there is no key and nothing loaded or stored in memory. Never loads.
    pub fn is_empty(&self) -> bool {
        self.key.is_none() && self.cache.as_ref().is_none_or(|m| m.is_empty())
    }

    fn set_key(&mut self, key: Option<String>) {
        self.key = validated_key(key.as_deref());
    }

    /// Django's lazy access rule: marks accessed, loads on first use. Read-only: the data
    /// is not copied.
    async fn data_ref(&mut self) -> Result<&Map, Error> {
        self.accessed = true;
        if self.cache.is_none() {
            let data = match self.key.clone() {
                None => Arc::default(),
                Some(key) => self.load_from_store(&key).await?,
            };
            self.cache = Some(data);
        }
        Ok(self.cache.get_or_insert_with(Arc::default))
    }

    /// [`data_ref`](Self::data_ref) for a change: copies the data first if the store still
    /// shares it.
    async fn data_mut(&mut self) -> Result<&mut Map, Error> {
        self.data_ref().await?;
        Ok(Arc::make_mut(self.cache.get_or_insert_with(Arc::default)))
    }

    /// The data in memory for a write (`{}` when nothing was loaded), shared, not copied.
    fn data_for_write(&mut self) -> Arc<Map> {
        self.cache.get_or_insert_with(Arc::default).clone()
    }

    async fn load_from_store(&mut self, key: &str) -> Result<Arc<Map>, Error> {
        // The stored expiry matters only to the idle timeout's touch: without one, a plain
        // load (Redis: one GET instead of GET + TTL; in-process: the stored map, shared).
        let loaded = if self.config.policy.idle_timeout.is_some() {
            self.store
                .load_with_expiry(key)
                .await?
                .map(|(m, at)| (Arc::new(m), at))
        } else {
            self.store.load_shared(key).await?.map(|m| (m, None))
        };
        self.loaded_expiry = loaded.as_ref().and_then(|(_, at)| *at);
        let loaded = loaded.map(|(data, _)| data).filter(|data| {
            let usable = StoredExpiry::of(data).is_ok();
            if !usable {
                tracing::warn!(target: "django.contrib.sessions", engine = self.store.engine_name(), "session with an out-of-range _session_expiry treated as empty");
            }
            usable
        });
        let loaded = match loaded {
            Some(data) if self.past_absolute_timeout(&data) => {
                // Over its absolute lifetime: gone for good, even if Django (which does not
                // know this limit) would still accept the record.
                tracing::debug!(target: "django.contrib.sessions", engine = self.store.engine_name(), "session past SESSION_ABSOLUTE_TIMEOUT ended");
                if !self.store.stores_data_in_cookie() {
                    self.store.delete(key).await?;
                }
                None
            }
            other => other,
        };
        match loaded {
            Some(data) => Ok(data),
            None if self.store.stores_data_in_cookie() => {
                // Django's signed-cookie engine: keep the key, mark modified so a fresh
                // signed `{}` replaces the rejected cookie.
                self.modified = true;
                Ok(Arc::default())
            }
            None => {
                // Unknown or expired: never reuse the key (session fixation).
                self.key = None;
                Ok(Arc::default())
            }
        }
    }

    /// All data (loads if needed; marks accessed).
    pub async fn data(&mut self) -> Result<&Map, Error> {
        self.data_ref().await
    }

    /// Reloads from the store, replacing what is in memory (Django's `load()`): an unknown key
    /// becomes no key.
    pub async fn load(&mut self) -> Result<&Map, Error> {
        self.cache = None;
        self.data().await
    }

    /// The raw value under `key`.
    pub async fn get_value(&mut self, key: &str) -> Result<Option<Value>, Error> {
        Ok(self.data_ref().await?.get(key).cloned())
    }

    /// The value under `key` converted through serde.
    pub async fn get<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, Error> {
        match self.data_ref().await?.get(key) {
            Some(v) => Ok(Some(from_value(v)?)),
            None => Ok(None),
        }
    }

    /// Stores a raw value (Django's `s[key] = value`): marks modified.
    pub async fn insert_value(&mut self, key: &str, value: impl Into<Value>) -> Result<(), Error> {
        self.data_mut().await?.insert(key.to_owned(), value.into());
        self.modified = true;
        Ok(())
    }

    /// Stores any serializable value.
    pub async fn insert<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), Error> {
        let value = to_value(value)?;
        self.insert_value(key, value).await
    }

    /// Whether `key` is present (Django's `key in s`).
    pub async fn contains(&mut self, key: &str) -> Result<bool, Error> {
        Ok(self.data_ref().await?.contains_key(key))
    }

    /// Removes `key` and returns its value (Django's `pop(key)` / `del s[key]`); marks
    /// modified only when it was present. Order of the other entries is kept.
    pub async fn remove(&mut self, key: &str) -> Result<Option<Value>, Error> {
        if !self.data_ref().await?.contains_key(key) {
            return Ok(None);
        }
        let removed = self.data_mut().await?.shift_remove(key);
        if removed.is_some() {
            self.modified = true;
        }
        Ok(removed)
    }

    /// Django's `pop(key, default)`.
    pub async fn pop_or(&mut self, key: &str, default: impl Into<Value>) -> Result<Value, Error> {
        Ok(self.remove(key).await?.unwrap_or_else(|| default.into()))
    }

    /// Django's `setdefault`: returns the existing value, or inserts and returns `value`
    /// (marking modified only then).
    pub async fn setdefault(&mut self, key: &str, value: impl Into<Value>) -> Result<Value, Error> {
        if let Some(v) = self.data_ref().await?.get(key) {
            return Ok(v.clone());
        }
        let value = value.into();
        self.data_mut().await?.insert(key.to_owned(), value.clone());
        self.modified = true;
        Ok(value)
    }

    /// Django's `update`: inserts every pair; always marks modified.
    pub async fn update<I, K, V>(&mut self, entries: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        let data = self.data_mut().await?;
        for (k, v) in entries {
            data.insert(k.into(), v.into());
        }
        self.modified = true;
        Ok(())
    }

    /// The keys, in insertion order.
    pub async fn keys(&mut self) -> Result<Vec<String>, Error> {
        Ok(self.data_ref().await?.keys().cloned().collect())
    }

    /// The values, in insertion order.
    pub async fn values(&mut self) -> Result<Vec<Value>, Error> {
        Ok(self.data_ref().await?.values().cloned().collect())
    }

    /// The entries, in insertion order.
    pub async fn items(&mut self) -> Result<Vec<(String, Value)>, Error> {
        Ok(self
            .data_ref()
            .await?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    /// Empties the data without loading or touching storage; the key is kept. Marks accessed
    /// and modified.
    pub fn clear(&mut self) {
        self.cache = Some(Arc::default());
        self.accessed = true;
        self.modified = true;
    }

    /// Stores `testcookie = "worked"`.
    pub async fn set_test_cookie(&mut self) -> Result<(), Error> {
        self.insert_value(TEST_COOKIE_NAME, TEST_COOKIE_VALUE).await
    }

    /// Whether the test cookie came back.
    pub async fn test_cookie_worked(&mut self) -> Result<bool, Error> {
        Ok(self
            .get_value(TEST_COOKIE_NAME)
            .await?
            .as_ref()
            .and_then(Value::as_str)
            == Some(TEST_COOKIE_VALUE))
    }

    /// Removes the test cookie; returns whether it was there.
    pub async fn delete_test_cookie(&mut self) -> Result<bool, Error> {
        Ok(self.remove(TEST_COOKIE_NAME).await?.is_some())
    }

    /// Sets a custom expiry (stored under `_session_expiry` as Django stores it).
    pub async fn set_expiry(&mut self, expiry: Expiry) -> Result<(), Error> {
        let value = match expiry {
            Expiry::Default => {
                self.remove(EXPIRY_KEY).await?;
                return Ok(());
            }
            Expiry::Seconds(s) => Value::from(s),
            Expiry::BrowserClose => Value::from(0),
            Expiry::At(at) => Value::from(self.config.policy.format_instant(at)),
            Expiry::After(delta) => {
                let now = self.config.clock.now();
                let at = now
                    .checked_add_signed(delta)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                Value::from(self.config.policy.format_instant(at))
            }
        };
        self.insert_value(EXPIRY_KEY, value).await
    }

    /// The custom expiry currently in the data (loads if needed).
    /// A number out of range set in this request reads as the default policy.
    pub async fn stored_expiry(&mut self) -> Result<StoredExpiry, Error> {
        Ok(StoredExpiry::of(self.data_ref().await?).unwrap_or(StoredExpiry::Policy))
    }

    /// The absolute deadline and the custom expiry in the data (loads if needed; no copy).
    async fn deadline_and_expiry(&mut self) -> Result<(Option<i64>, StoredExpiry), Error> {
        let limit = self.config.policy.absolute_timeout;
        let data = self.data_ref().await?;
        let expiry = StoredExpiry::of(data).unwrap_or(StoredExpiry::Policy);
        Ok((absolute_deadline(limit, data), expiry))
    }

    /// Seconds until the session expires, from now.
    pub async fn get_expiry_age(&mut self) -> Result<i64, Error> {
        let (deadline, expiry) = self.deadline_and_expiry().await?;
        Ok(self.config.expiry_of(deadline, expiry).1)
    }

    /// When the session expires, from now.
    pub async fn get_expiry_date(&mut self) -> Result<DateTime<Utc>, Error> {
        let (deadline, expiry) = self.deadline_and_expiry().await?;
        Ok(self.config.expiry_of(deadline, expiry).0)
    }

    /// Whether the cookie should be a browser-session cookie.
    pub async fn get_expire_at_browser_close(&mut self) -> Result<bool, Error> {
        Ok(match self.data_ref().await?.get(EXPIRY_KEY) {
            None | Some(Value::Null) => self.config.policy.expire_at_browser_close,
            Some(Value::Bool(b)) => !b,
            Some(Value::Number(n)) => n.as_f64() == 0.0,
            Some(_) => false,
        })
    }

    /// Whether a record occupies `key` in the store (always false for signed cookies).
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        self.store.exists(key).await
    }

    /// When the session's absolute lifetime ends (`SESSION_ABSOLUTE_TIMEOUT` after its
    /// recorded creation), if both are known.
    fn past_absolute_timeout(&self, data: &Map) -> bool {
        absolute_deadline(self.config.policy.absolute_timeout, data)
            .is_some_and(|deadline| self.config.clock.now().timestamp() >= deadline)
    }

    /// The expiry date and age the policy gives, shortened to the absolute `deadline`.
    fn record<'a>(&self, key: &'a str, data: &'a Arc<Map>) -> Record<'a> {
        let (expires_at, max_age) = self.config.expiry_for_save(data);
        Record {
            key,
            data,
            expires_at,
            max_age,
        }
    }

    /// Persists under a fresh key (Django's `create()`): inserts the data in memory (or `{}`),
    /// retrying with a new key on a duplicate; marks modified.
    pub async fn create(&mut self) -> Result<(), Error> {
        // The start of the absolute lifetime; kept across cycle_key (same data).
        self.mark_lifetime_start();
        let data = self.data_for_write();
        for _ in 0..CREATE_ATTEMPTS {
            let candidate = generate_key();
            let record = self.record(&candidate, &data);
            match self.store.create(&record).await {
                Ok(key) => {
                    self.set_key(Some(key));
                    self.loaded_expiry = Some(record.expires_at);
                    self.modified = true;
                    return Ok(());
                }
                Err(Error::Duplicate) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::KeyExhausted {
            attempts: CREATE_ATTEMPTS,
        })
    }

    /// Writes the session (Django's `save(must_create)`).
    ///
    /// Without a key, creates one. With `must_create`, inserts under the current key
    /// ([`Error::Duplicate`] if taken). Otherwise updates: [`Error::Gone`] when the session
    /// was deleted or expired meanwhile — it is never brought back.
    pub async fn save(&mut self, must_create: bool) -> Result<(), Error> {
        if self.key.is_none() {
            return self.create().await;
        }
        if !must_create {
            self.data_ref().await?;
        }
        // The lazy load above resets an unknown key: the record is gone (Django raises
        // UpdateError here too, after picking a key it then fails to update).
        let Some(key) = self.key.clone() else {
            return Err(Error::Gone);
        };
        // A session made before the limit was set, or by Django: its lifetime starts at its
        // first save here.
        self.mark_lifetime_start();
        let data = self.data_for_write();
        let record = self.record(&key, &data);
        let expires_at = record.expires_at;
        let result = if must_create {
            self.store.create(&record).await
        } else {
            self.store.save(&record).await
        };
        let new_key = result?;
        self.set_key(Some(new_key));
        self.loaded_expiry = Some(expires_at);
        Ok(())
    }

    /// Records now as the start of the absolute lifetime, when a limit counts from creation
    /// and the data has no start yet.
    fn mark_lifetime_start(&mut self) {
        if !self.starts_lifetime_at_creation() {
            return;
        }
        let now = self.config.clock.now().timestamp();
        let data = self.cache.get_or_insert_with(Arc::default);
        if !data.contains_key(STARTED_KEY) {
            Arc::make_mut(data).insert(STARTED_KEY.to_owned(), Value::from(now));
        }
    }

    /// Whether saves record the start of the absolute lifetime (a limit counted from the
    /// session's creation).
    fn starts_lifetime_at_creation(&self) -> bool {
        self.config.policy.absolute_timeout.is_some()
            && self.config.policy.absolute_from == AbsoluteFrom::Creation
    }

    /// Whether this request should extend the session's expiry without a save
    /// (`SESSION_IDLE_TIMEOUT`): the session was read and not changed, it has a stored
    /// record, and fewer than `touch_below` seconds of its idle window remain (engines that
    /// do not report the stored expiry are touched on every such request).
    pub fn touch_due(&self) -> bool {
        self.accessed
            && !self.modified
            && self.key.is_some()
            && self.cache.as_ref().is_some_and(|m| !m.is_empty())
            && self
                .config
                .policy
                .touch_due(self.loaded_expiry, self.config.clock.now())
    }

    /// Extends the expiry of the loaded session to a full idle window from now, through
    /// [`SessionStore::touch`](crate::SessionStore::touch) (no data write where the engine allows it). [`Error::Gone`]
    /// when the record was deleted meanwhile — it is not brought back. For the signed-cookie
    /// engine the cookie is re-signed (the key changes).
    pub async fn touch(&mut self) -> Result<(), Error> {
        let Some(key) = self.key.clone() else {
            return Err(Error::Gone);
        };
        let data = self.data_for_write();
        let record = self.record(&key, &data);
        let expires_at = record.expires_at;
        let result = self.store.touch(&record).await;
        let new_key = result?;
        self.set_key(Some(new_key));
        self.loaded_expiry = Some(expires_at);
        Ok(())
    }

    /// [`touch`](Self::touch) when [`touch_due`](Self::touch_due); whether it touched.
    pub async fn touch_if_due(&mut self) -> Result<bool, Error> {
        if !self.touch_due() {
            return Ok(false);
        }
        self.touch().await.map(|()| true)
    }

    /// When the loaded record expires, if its engine reported it (`None` before a load).
    pub fn loaded_expiry(&self) -> Option<DateTime<Utc>> {
        self.loaded_expiry
    }

    /// Deletes the record under `key`, or under the current key when `None`. For the
    /// signed-cookie engine this empties the session instead (nothing is stored server-side).
    pub async fn delete(&mut self, key: Option<&str>) -> Result<(), Error> {
        if self.store.stores_data_in_cookie() {
            self.key = None;
            self.cache = Some(Arc::default());
            self.modified = true;
            return Ok(());
        }
        let target = match key {
            Some(k) => Some(k.to_owned()),
            None => self.key.clone(),
        };
        if let Some(k) = target {
            self.store.delete(&k).await?;
        }
        Ok(())
    }

    /// Empties the session, deletes it from storage and drops the key (logout).
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.clear();
        self.delete(None).await?;
        self.key = None;
        Ok(())
    }

    /// Moves the data to a fresh key and deletes the old record (login: prevents session
    /// fixation). The signed-cookie engine only re-signs: an old cookie stays valid until it
    /// expires.
    pub async fn cycle_key(&mut self) -> Result<(), Error> {
        self.data_ref().await?;
        let data = self.data_for_write();
        if self.store.stores_data_in_cookie() {
            return self.save(false).await;
        }
        let old = self.key.clone();
        self.create().await?;
        self.cache = Some(data);
        if let Some(old) = old {
            self.store.delete(&old).await?;
        }
        Ok(())
    }
}

/// When a session's absolute lifetime ends: `limit` seconds after the creation recorded under
/// [`STARTED_KEY`] (whole seconds; any other value there sets no limit).
fn absolute_deadline(limit: Option<i64>, data: &Map) -> Option<i64> {
    let started = data.get(STARTED_KEY)?.as_i64()?;
    Some(started.saturating_add(limit?))
}
