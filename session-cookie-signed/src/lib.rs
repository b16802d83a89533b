#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use session_core::{Session, SessionConfig, Settings};
//! use session_cookie_signed::SignedCookieStore;
//! let settings = Settings::new("change-me").unwrap();
//! let store = Arc::new(SignedCookieStore::from_settings(&settings));
//! let mut s = Session::new(store.clone(), SessionConfig::from_settings(&settings), None);
//! s.insert_value("cart", vec![1, 2, 3]).await.unwrap();
//! s.save(false).await.unwrap();
//! let cookie = s.session_key().unwrap().to_owned(); // the signed data itself
//! let mut next = Session::new(store, SessionConfig::from_settings(&settings), Some(&cookie));
//! assert_eq!(next.get::<Vec<u32>>("cart").await.unwrap(), Some(vec![1, 2, 3]));
//! # });
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use chrono::DateTime;
use session_core::codec::Signer;
use session_core::cookie::{BROWSER_COOKIE_LIMIT, longest_session_cookie_len};
use session_core::expiry::{ExpiryPolicy, StoredExpiry, SystemClock};
use session_core::{Clock, CookieSettings, Error, Map, Record, SessionStore, Settings};

/// The signed-cookie engine.
#[derive(Debug, Clone)]
pub struct SignedCookieStore {
    signer: Signer,
    cookie: CookieSettings,
    policy: ExpiryPolicy,
    clock: Arc<dyn Clock>,
    max_line: usize,
}

impl SignedCookieStore {
    /// The engine for these settings (secret and fallbacks, `SESSION_COOKIE_*`), on the
    /// system clock.
    pub fn from_settings(settings: &Settings) -> SignedCookieStore {
        SignedCookieStore::new(
            settings.signed_cookie_signer(),
            settings.cookie.clone(),
            ExpiryPolicy::from_settings(settings),
            Arc::new(SystemClock),
        )
    }

    /// The engine from its parts; `signer` must use the signed-cookie salt. The signature's
    /// max age is `cookie.age`; `policy` judges a custom `_session_expiry`.
    pub fn new(
        signer: Signer,
        cookie: CookieSettings,
        policy: ExpiryPolicy,
        clock: Arc<dyn Clock>,
    ) -> SignedCookieStore {
        SignedCookieStore {
            signer,
            cookie,
            policy,
            clock,
            max_line: BROWSER_COOKIE_LIMIT,
        }
    }

    /// Overrides the `Set-Cookie` size limit (default 4096 bytes).
    pub fn with_max_cookie_bytes(mut self, bytes: usize) -> SignedCookieStore {
        self.max_line = bytes;
        self
    }

    fn sign(&self, record: &Record<'_>) -> Result<String, Error> {
        let value = self.signer.sign_map(record.data, self.clock.now());
        let line = longest_session_cookie_len(&self.cookie, &value, record.max_age);
        if line > self.max_line {
            return Err(Error::TooLarge {
                size: line,
                limit: self.max_line,
            });
        }
        Ok(value)
    }
}

#[async_trait]
impl SessionStore for SignedCookieStore {
    fn engine_name(&self) -> &'static str {
        "signed_cookies"
    }

    fn stores_data_in_cookie(&self) -> bool {
        true
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        Ok(self.load_with_expiry(key).await?.map(|(m, _)| m))
    }

    /// The cookie's data and when it expires: its signing time plus the policy's age (the
    /// cookie age, or the idle timeout when shorter), or its custom expiry.
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<DateTime<chrono::Utc>>)>, Error> {
        let now = self.clock.now();
        // SESSION_COOKIE_AGE, or SESSION_IDLE_TIMEOUT when shorter: a touch re-signs.
        let max_age = u64::try_from(self.policy.expiry_age(now, StoredExpiry::Policy)).unwrap_or(0);
        let (data, signed_at) = match self.signer.unsign_timestamped(key, Some(max_age), now) {
            Ok((session_core::Value::Object(map), ts)) => (map, ts),
            Ok(_) => return Ok(None),
            Err(e) => {
                // Django's engine stays silent here and re-issues a fresh cookie.
                tracing::debug!(target: "django.contrib.sessions", reason = %e, "signed session cookie rejected");
                return Ok(None);
            }
        };
        // The cookie age is the signature's max age; a custom expiry counts from the signing.
        let (Ok(expiry), Some(signed_at)) = (
            StoredExpiry::of(&data),
            DateTime::from_timestamp(signed_at, 0),
        ) else {
            tracing::warn!(target: "django.contrib.sessions", "signed session with an out-of-range expiry or timestamp treated as empty");
            return Ok(None);
        };
        if let Some(expires) = self.policy.custom_expiry_date(signed_at, expiry) {
            if self.policy.is_expired(expires, now) {
                return Ok(None);
            }
        }
        let expires = self.policy.expiry_date(signed_at, expiry);
        Ok(Some((data, Some(expires))))
    }

    async fn exists(&self, _key: &str) -> Result<bool, Error> {
        Ok(false)
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        self.sign(record)
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        self.sign(record)
    }

    async fn delete(&self, _key: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        Ok(None)
    }
}
