//! Settings with Django's names and defaults, read from TOML, the environment, or code.
//!
//! Every setting is written once, in a table ([`settings_table!`](crate::settings_table)):
//! its Django name, type, default and doc. Core holds the settings Django itself defines
//! ([`Settings`], [`CookieSettings`]); each engine crate declares its own table (for example
//! `DATABASE_URL` in `session-db`) and reads it from the same [`SettingsSource`], which
//! [`Settings`] keeps.
//!
//! ```
//! use session_core::settings::Settings;
//! let s = Settings::from_toml_str(r#"
//!     SECRET_KEY = "s3cret"
//!     SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
//!     SESSION_COOKIE_SAMESITE = false
//! "#).unwrap();
//! assert_eq!(s.engine_name(), "cached_db");
//! assert_eq!(s.cookie.age, 1_209_600);
//! assert_eq!(s.cookie.samesite, None);
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::codec::{DEFAULT_MAX_DECOMPRESSED, SESSION_SALT, SIGNED_COOKIE_SALT, Secret, Signer};
use crate::error::ConfigError;

/// Django's module path for its built-in engines; `SESSION_ENGINE` may name one by its short
/// name (`db`) or by this prefix plus the name.
pub const DJANGO_ENGINE_PREFIX: &str = "django.contrib.sessions.backends.";

mod source;

pub use source::{ConnectionUrl, Origin, SettingValue, SettingsGroup, SettingsSource};

/// The `SameSite` cookie attribute; the text is written verbatim, as Django does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameSite(String);

impl SameSite {
    /// Validates `Lax`, `Strict` or `None` (any case, kept as given).
    pub fn new(value: &str) -> Result<SameSite, ConfigError> {
        if ["lax", "strict", "none"].contains(&value.to_ascii_lowercase().as_str()) {
            Ok(SameSite(value.to_owned()))
        } else {
            Err(ConfigError::Invalid {
                setting: "SESSION_COOKIE_SAMESITE",
                reason: format!("{value:?} is not one of Lax, Strict, None or false"),
            })
        }
    }

    /// Django's default, `Lax`.
    pub fn lax() -> SameSite {
        SameSite("Lax".into())
    }

    /// The value as written in the cookie.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `None` (which browsers only accept with `Secure`).
    pub fn is_none(&self) -> bool {
        self.0.eq_ignore_ascii_case("none")
    }
}

/// `SESSION_COOKIE_SAMESITE`: `Lax`, `Strict`, `None`, or false (no attribute).
impl SettingValue for Option<SameSite> {
    fn from_text(text: &str) -> Result<Option<SameSite>, String> {
        match text.to_ascii_lowercase().as_str() {
            "false" | "0" | "off" => Ok(None),
            _ => SameSite::new(text).map(Some).map_err(|e| e.to_string()),
        }
    }
    fn from_toml(value: &toml::Value) -> Result<Option<SameSite>, String> {
        match value {
            toml::Value::Boolean(false) => Ok(None),
            toml::Value::String(s) => Self::from_text(s),
            other => Err(format!("{other} is not one of Lax, Strict, None or false")),
        }
    }
}

crate::settings_table! {
    /// Cookie settings (`SESSION_COOKIE_*`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CookieSettings {
        /// `SESSION_COOKIE_NAME` (default `sessionid`); also the file engine's file-name prefix.
        name: String = "SESSION_COOKIE_NAME" => "sessionid".into(),
        /// `SESSION_COOKIE_AGE` in seconds (default two weeks).
        age: i64 = "SESSION_COOKIE_AGE" => 1_209_600,
        /// `SESSION_COOKIE_DOMAIN` (default none).
        domain: Option<String> = "SESSION_COOKIE_DOMAIN" => None,
        /// `SESSION_COOKIE_PATH` (default `/`).
        path: String = "SESSION_COOKIE_PATH" => "/".into(),
        /// `SESSION_COOKIE_SECURE` (default false).
        secure: bool = "SESSION_COOKIE_SECURE" => false,
        /// `SESSION_COOKIE_HTTPONLY` (default true).
        httponly: bool = "SESSION_COOKIE_HTTPONLY" => true,
        /// `SESSION_COOKIE_SAMESITE` (default `Lax`; `None` here = Django's `False`).
        samesite: Option<SameSite> = "SESSION_COOKIE_SAMESITE" => Some(SameSite::lax()),
    }
}

crate::settings_table! {
    /// The settings Django defines for sessions in general (besides the cookie's).
    #[derive(Debug, Clone)]
    pub struct CoreSettings {
        /// `SESSION_ENGINE` (default Django's `django.contrib.sessions.backends.db`): a short
        /// name or a dotted path, looked up in the engine registry (`session-registry`).
        engine: String = "SESSION_ENGINE" => format!("{DJANGO_ENGINE_PREFIX}db"),
        /// `SESSION_SAVE_EVERY_REQUEST` (default false).
        save_every_request: bool = "SESSION_SAVE_EVERY_REQUEST" => false,
        /// `SESSION_EXPIRE_AT_BROWSER_CLOSE` (default false).
        expire_at_browser_close: bool = "SESSION_EXPIRE_AT_BROWSER_CLOSE" => false,
        /// `SESSION_CACHE_ALIAS` (default `default`). Accepted so a Django settings file
        /// loads unchanged; the cache engines use the one cache `CACHE_URL` names.
        cache_alias: String = "SESSION_CACHE_ALIAS" => "default".into(),
        /// `SESSION_FILE_PATH` (default: the OS temp dir; see the file engine's docs).
        file_path: Option<PathBuf> = "SESSION_FILE_PATH" => None,
        /// `SESSION_SERIALIZER`: only Django's `JSONSerializer` is supported.
        serializer: Option<String> = "SESSION_SERIALIZER" => None,
        /// `SECRET_KEY` (required, non-empty), used as given, byte for byte.
        secret_key: Option<Secret> = "SECRET_KEY" => None,
        /// `SECRET_KEY_FALLBACKS` (verification only): a TOML array, or a JSON array in the
        /// environment.
        secret_key_fallbacks: Vec<Secret> = "SECRET_KEY_FALLBACKS" => Vec::new(),
        /// `USE_TZ` (default true). With false, expiry strings are written without an offset.
        use_tz: bool = "USE_TZ" => true,
        /// `SESSION_ABSOLUTE_TIMEOUT` (not a Django setting): seconds a session may live from
        /// its creation, however active (OWASP's absolute timeout); unset: no limit.
        absolute_timeout: Option<i64> = "SESSION_ABSOLUTE_TIMEOUT" => None,
        /// `SESSION_ABSOLUTE_TIMEOUT_FROM` (not a Django setting): `creation` (default) or
        /// `login`.
        absolute_from: crate::expiry::AbsoluteFrom = "SESSION_ABSOLUTE_TIMEOUT_FROM" => crate::expiry::AbsoluteFrom::Creation,
        /// `SESSION_IDLE_TIMEOUT` (not a Django setting): seconds a session lives without a
        /// request (OWASP's idle timeout); unset: only `SESSION_COOKIE_AGE`.
        idle_timeout: Option<i64> = "SESSION_IDLE_TIMEOUT" => None,
        /// `SESSION_IDLE_TOUCH_SHARE` (not a Django setting): a read-only request extends the
        /// expiry once less than this share of the idle window remains (default 0.5).
        idle_touch_share: String = "SESSION_IDLE_TOUCH_SHARE" => "0.5".into(),
        /// `TIME_ZONE`; only `UTC` is supported together with `USE_TZ = False`.
        time_zone: String = "TIME_ZONE" => "UTC".into(),
        /// `SESSION_MAX_DECOMPRESSED_SIZE` (not a Django setting): bound on a decompressed
        /// session payload in bytes.
        max_decompressed_size: usize = "SESSION_MAX_DECOMPRESSED_SIZE" => DEFAULT_MAX_DECOMPRESSED,
    }
}

/// The validated core settings plus the source they came from (where engine crates read
/// their own settings).
#[derive(Clone)]
pub struct Settings {
    /// The `SESSION_COOKIE_*` settings.
    pub cookie: CookieSettings,
    /// `SESSION_ENGINE` as given.
    pub engine: String,
    /// `SESSION_SAVE_EVERY_REQUEST`.
    pub save_every_request: bool,
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`.
    pub expire_at_browser_close: bool,
    /// `SESSION_FILE_PATH`.
    pub file_path: Option<PathBuf>,
    /// `SECRET_KEY`.
    pub secret_key: Secret,
    /// `SECRET_KEY_FALLBACKS`.
    pub secret_key_fallbacks: Vec<Secret>,
    /// `USE_TZ`.
    pub use_tz: bool,
    /// `SESSION_ABSOLUTE_TIMEOUT` (seconds from creation or login), if set.
    pub absolute_timeout: Option<i64>,
    /// `SESSION_ABSOLUTE_TIMEOUT_FROM`.
    pub absolute_from: crate::expiry::AbsoluteFrom,
    /// `SESSION_IDLE_TIMEOUT` (seconds without a request), if set.
    pub idle_timeout: Option<i64>,
    /// Seconds of the idle window left below which a read-only request touches the session
    /// (`SESSION_IDLE_TOUCH_SHARE` × `SESSION_IDLE_TIMEOUT`).
    pub idle_touch_below: i64,
    /// `SESSION_MAX_DECOMPRESSED_SIZE`.
    pub max_decompressed_size: usize,
    source: Arc<SettingsSource>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("engine", &self.engine)
            .field("cookie", &self.cookie)
            .field("save_every_request", &self.save_every_request)
            .field("expire_at_browser_close", &self.expire_at_browser_close)
            .field("file_path", &self.file_path)
            .field("secret_key", &self.secret_key)
            .field("secret_key_fallbacks", &self.secret_key_fallbacks.len())
            .field("use_tz", &self.use_tz)
            .field("source", &self.source)
            .finish()
    }
}

/// Django's check `security.W009`: a secret shorter than 50 characters or with fewer than 5
/// distinct characters is weak.
pub fn is_weak_secret(secret: &[u8]) -> bool {
    let distinct: std::collections::BTreeSet<&u8> = secret.iter().collect();
    secret.len() < 50 || distinct.len() < 5
}

fn warn_if_weak(setting: &'static str, secret: &Secret) {
    if is_weak_secret(secret.expose()) {
        tracing::warn!(
            setting,
            "a secret has fewer than 50 characters or fewer than 5 distinct characters (Django's security.W009)"
        );
    }
}

impl Settings {
    /// Validates the core settings of `source` and keeps it for the engines' own tables.
    pub fn from_source(source: SettingsSource) -> Result<Settings, ConfigError> {
        let cookie = CookieSettings::from_source(&source)?;
        let core = CoreSettings::from_source(&source)?;
        if source.is_set_empty("SECRET_KEY") {
            return Err(ConfigError::Invalid {
                setting: "SECRET_KEY",
                reason: "it is set but empty; give it a long random value".into(),
            });
        }
        let secret_key = core.secret_key.ok_or(ConfigError::Missing {
            setting: "SECRET_KEY",
        })?;
        for (name, secret) in std::iter::once(("SECRET_KEY", &secret_key)).chain(
            core.secret_key_fallbacks
                .iter()
                .map(|s| ("SECRET_KEY_FALLBACKS", s)),
        ) {
            if is_weak_secret(secret.expose()) {
                tracing::warn!(
                    setting = name,
                    "a secret has fewer than 50 characters or fewer than 5 distinct characters (Django's security.W009)"
                );
            }
        }
        if let Some(ser) = &core.serializer {
            let ok = [
                "django.contrib.sessions.serializers.JSONSerializer",
                "django.core.signing.JSONSerializer",
            ];
            if !ok.contains(&ser.as_str()) {
                return Err(ConfigError::Invalid {
                    setting: "SESSION_SERIALIZER",
                    reason: format!("{ser:?} is not supported; only Django's JSONSerializer is"),
                });
            }
        }
        if !core.use_tz && !core.time_zone.eq_ignore_ascii_case("UTC") {
            return Err(ConfigError::Invalid {
                setting: "TIME_ZONE",
                reason: "with USE_TZ = False only TIME_ZONE = \"UTC\" is supported".into(),
            });
        }
        if core.absolute_timeout.is_some_and(|t| t <= 0) {
            return Err(ConfigError::Invalid {
                setting: "SESSION_ABSOLUTE_TIMEOUT",
                reason: "must be a positive number of seconds (unset it for no limit)".into(),
            });
        }
        if core.idle_timeout.is_some_and(|t| t <= 0) {
            return Err(ConfigError::Invalid {
                setting: "SESSION_IDLE_TIMEOUT",
                reason: "must be a positive number of seconds (unset it for no idle limit)".into(),
            });
        }
        let share: f64 = core
            .idle_touch_share
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| *x > 0.0 && *x <= 1.0)
            .ok_or_else(|| ConfigError::Invalid {
                setting: "SESSION_IDLE_TOUCH_SHARE",
                reason: format!(
                    "{:?}: expected a number above 0 and at most 1",
                    core.idle_touch_share
                ),
            })?;
        // Exact enough: both are bounded (share ≤ 1, the timeout an i64 of seconds).
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let idle_touch_below = core
            .idle_timeout
            .map_or(0, |t| (t as f64 * share).round() as i64);
        if cookie.name.is_empty() {
            return Err(ConfigError::Missing {
                setting: "SESSION_COOKIE_NAME",
            });
        }
        if core.engine.trim().is_empty() {
            return Err(ConfigError::Missing {
                setting: "SESSION_ENGINE",
            });
        }
        Ok(Settings {
            cookie,
            engine: core.engine.trim().to_owned(),
            save_every_request: core.save_every_request,
            expire_at_browser_close: core.expire_at_browser_close,
            file_path: core.file_path,
            secret_key,
            secret_key_fallbacks: core.secret_key_fallbacks,
            use_tz: core.use_tz,
            absolute_timeout: core.absolute_timeout,
            absolute_from: core.absolute_from,
            idle_timeout: core.idle_timeout,
            idle_touch_below,
            max_decompressed_size: core.max_decompressed_size,
            source: Arc::new(source),
        })
    }

    /// Django's defaults with the given secret (which must not be empty).
    pub fn new(secret_key: impl AsRef<[u8]>) -> Result<Settings, ConfigError> {
        let secret = Secret::new(secret_key);
        if secret.is_empty() {
            return Err(ConfigError::Missing {
                setting: "SECRET_KEY",
            });
        }
        // Validated with a stand-in (the secret may not be UTF-8), then the real one is kept.
        let stand_in = "stand-in-secret-replaced-below-0123456789-abcdefghijklmnop";
        let mut s =
            Settings::from_source(SettingsSource::new().set("SECRET_KEY", stand_in).clone())?;
        warn_if_weak("SECRET_KEY", &secret);
        s.secret_key = secret;
        Ok(s)
    }

    /// Reads settings from a TOML document whose keys are Django's setting names.
    pub fn from_toml_str(text: &str) -> Result<Settings, ConfigError> {
        Self::from_source(SettingsSource::from_toml_str(text)?)
    }

    /// Reads settings from the environment (variables named as Django's settings;
    /// `SECRET_KEY_FALLBACKS` is a JSON array).
    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::from_source(SettingsSource::from_env())
    }

    /// Reads settings from name/value pairs, as text (the environment's shape).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Settings, ConfigError> {
        Self::from_source(SettingsSource::from_pairs(pairs))
    }

    /// Where these settings came from; engine crates read their own tables from it.
    pub fn source(&self) -> &SettingsSource {
        &self.source
    }

    /// Sets one value in the source, for the settings engine crates read from it
    /// (`DATABASE_URL`, `CACHE_URL`, …). The core settings are the typed fields: set those
    /// directly.
    pub fn set_source_value(&mut self, name: &str, value: &str) -> &mut Settings {
        Arc::make_mut(&mut self.source).set(name, value);
        self
    }

    /// The names every core setting table reads.
    pub fn core_names() -> impl Iterator<Item = &'static str> {
        CookieSettings::NAMES
            .iter()
            .chain(CoreSettings::NAMES)
            .copied()
    }

    /// `SESSION_ENGINE` without Django's `django.contrib.sessions.backends.` prefix.
    pub fn engine_name(&self) -> &str {
        self.engine
            .strip_prefix(DJANGO_ENGINE_PREFIX)
            .unwrap_or(&self.engine)
    }

    /// The signer for server-side session data (db, cached_db, file).
    pub fn session_signer(&self) -> Signer {
        Signer::new(SESSION_SALT, &self.secret_key, &self.secret_key_fallbacks)
            .with_max_decompressed(self.max_decompressed_size)
    }

    /// The signer for the signed-cookie engine.
    pub fn signed_cookie_signer(&self) -> Signer {
        Signer::new(
            SIGNED_COOKIE_SALT,
            &self.secret_key,
            &self.secret_key_fallbacks,
        )
        .with_max_decompressed(self.max_decompressed_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_pairs(p.iter().copied())
    }

    #[test]
    fn defaults_are_djangos() {
        let s = Settings::new("x").unwrap();
        assert_eq!(s.engine, "django.contrib.sessions.backends.db");
        assert_eq!(s.engine_name(), "db");
        assert_eq!(s.cookie, CookieSettings::default());
        assert_eq!(
            s.cookie.samesite.as_ref().map(SameSite::as_str),
            Some("Lax")
        );
        assert!(s.cookie.httponly && !s.cookie.secure);
        assert!(s.use_tz && !s.save_every_request && !s.expire_at_browser_close);
    }

    #[test]
    fn empty_secret_fails_at_start() {
        assert_eq!(
            pairs(&[]).unwrap_err(),
            ConfigError::Missing {
                setting: "SECRET_KEY"
            }
        );
        assert!(Settings::new("").is_err());
        let err = pairs(&[("SECRET_KEY", "")]).unwrap_err();
        assert!(err.to_string().contains("set but empty"), "{err}");
        // An explicitly empty secret in a file is refused too (not taken as unset).
        let err = Settings::from_toml_str("SECRET_KEY = \"\"").unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY"), "{err}");
    }

    #[test]
    fn env_reads_django_names() {
        let s = pairs(&[
            ("SECRET_KEY", "k"),
            ("SECRET_KEY_FALLBACKS", r#"["old1", " old, 2 "]"#),
            ("SESSION_COOKIE_AGE", "60"),
            ("SESSION_COOKIE_SECURE", "True"),
            ("SESSION_COOKIE_SAMESITE", "False"),
            ("SESSION_ENGINE", "file"),
            ("SESSION_FILE_PATH", "/tmp"),
        ])
        .unwrap();
        assert_eq!(
            s.secret_key_fallbacks,
            vec![Secret::new("old1"), Secret::new(" old, 2 ")]
        );
        assert_eq!(s.cookie.age, 60);
        assert!(s.cookie.secure);
        assert_eq!(s.cookie.samesite, None);
        assert_eq!(s.engine_name(), "file");
        assert!(pairs(&[("SECRET_KEY", "k"), ("SESSION_COOKIE_AGE", "x")]).is_err());
        assert!(pairs(&[("SECRET_KEY", "k"), ("SESSION_COOKIE_SAMESITE", "Loose")]).is_err());
    }

    #[test]
    fn fallbacks_are_never_split_trimmed_or_empty() {
        // A comma list is not a JSON array: refused, never split into two secrets.
        let err = pairs(&[
            ("SECRET_KEY", "k"),
            ("SECRET_KEY_FALLBACKS", "Zq8#old-secret,x"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("JSON array"), "{err}");
        let err = pairs(&[
            ("SECRET_KEY", "k"),
            ("SECRET_KEY_FALLBACKS", r#"["a", ""]"#),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("empty secret"), "{err}");
        let s = Settings::from_toml_str("SECRET_KEY = \" k \"\nSECRET_KEY_FALLBACKS = [\"a,b\"]")
            .unwrap();
        assert_eq!(s.secret_key, Secret::new(" k "));
        assert_eq!(s.secret_key_fallbacks, vec![Secret::new("a,b")]);
    }

    #[test]
    fn weak_secrets_are_detected_like_djangos_check() {
        assert!(is_weak_secret(b"short"));
        assert!(is_weak_secret(&[b'a'; 60]));
        assert!(!is_weak_secret(
            b"a-long-and-varied-secret-key-0123456789-abcdefghijklmnop"
        ));
    }

    #[test]
    fn toml_then_env_overlay() {
        let source = SettingsSource::from_toml_str(
            "SECRET_KEY = \"a\"\nSESSION_COOKIE_AGE = 10\nSECRET_KEY_FALLBACKS = [\"b\"]\n",
        )
        .unwrap()
        .overlay(SettingsSource::from_pairs([("SESSION_COOKIE_AGE", "20")]));
        let s = Settings::from_source(source).unwrap();
        assert_eq!(s.cookie.age, 20);
        assert_eq!(s.secret_key_fallbacks.len(), 1);
        // Unknown names stay in the source; the registry checks them against every engine.
        let s = Settings::from_toml_str("SECRET_KEY = \"a\"\nSESION_ENGINE = \"db\"\n").unwrap();
        assert!(s.source().declared_names().any(|n| n == "SESION_ENGINE"));
    }

    #[test]
    fn debug_hides_secrets_and_urls() {
        let s = pairs(&[
            ("SECRET_KEY", "topsecret"),
            ("DATABASE_URL", "postgres://u:pw@h/db"),
        ])
        .unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("topsecret") && !d.contains("pw@"), "{d}");
        assert_eq!(
            format!("{:?}", ConnectionUrl::new("redis://:pw@h")),
            "<set>"
        );
    }

    #[test]
    fn absolute_timeout_is_read_and_must_be_positive() {
        let s = Settings::from_pairs([("SECRET_KEY", "k"), ("SESSION_ABSOLUTE_TIMEOUT", "3600")])
            .unwrap();
        assert_eq!(s.absolute_timeout, Some(3600));
        assert_eq!(
            crate::ExpiryPolicy::from_settings(&s).absolute_timeout,
            Some(3600)
        );
        let err = Settings::from_pairs([("SECRET_KEY", "k"), ("SESSION_ABSOLUTE_TIMEOUT", "0")])
            .unwrap_err();
        assert!(
            err.to_string().contains("SESSION_ABSOLUTE_TIMEOUT"),
            "{err}"
        );
        assert_eq!(Settings::new("k").unwrap().absolute_timeout, None);
    }

    #[test]
    fn idle_timeout_its_touch_share_and_the_absolute_start_are_read_and_checked() {
        let s = Settings::from_pairs([
            ("SECRET_KEY", "k"),
            ("SESSION_IDLE_TIMEOUT", "1800"),
            ("SESSION_IDLE_TOUCH_SHARE", "0.25"),
            ("SESSION_ABSOLUTE_TIMEOUT_FROM", "login"),
        ])
        .unwrap();
        let policy = crate::ExpiryPolicy::from_settings(&s);
        assert_eq!(policy.idle_timeout, Some(1800));
        assert_eq!(policy.touch_below, 450);
        assert_eq!(policy.absolute_from, crate::AbsoluteFrom::Login);
        let now = crate::expiry::from_unix_f64(1_700_000_000.0);
        assert_eq!(
            policy.expiry_age(now, crate::StoredExpiry::Policy),
            1800,
            "the idle window caps the age"
        );
        let default =
            Settings::from_pairs([("SECRET_KEY", "k"), ("SESSION_IDLE_TIMEOUT", "600")]).unwrap();
        assert_eq!(default.idle_touch_below, 300, "half the window by default");
        for (name, value) in [
            ("SESSION_IDLE_TIMEOUT", "0"),
            ("SESSION_IDLE_TOUCH_SHARE", "1.5"),
            ("SESSION_IDLE_TOUCH_SHARE", "none"),
            ("SESSION_ABSOLUTE_TIMEOUT_FROM", "lunch"),
        ] {
            let err = Settings::from_pairs([("SECRET_KEY", "k"), (name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
        assert_eq!(Settings::new("k").unwrap().idle_timeout, None);
    }
}
