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

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::codec::{DEFAULT_MAX_DECOMPRESSED, SESSION_SALT, SIGNED_COOKIE_SALT, Secret, Signer};
use crate::error::ConfigError;

/// Django's module path for its built-in engines; `SESSION_ENGINE` may name one by its short
/// name (`db`) or by this prefix plus the name.
pub const DJANGO_ENGINE_PREFIX: &str = "django.contrib.sessions.backends.";

/// Where a setting's value came from; names from the environment are not checked against
/// the known settings (the environment holds many other variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A TOML configuration file.
    File,
    /// An environment variable.
    Environment,
    /// Set by the program (command-line flags, tests).
    Code,
}

#[derive(Clone)]
enum RawValue {
    Text(String),
    Toml(toml::Value),
}

/// Raw setting values by Django name, before each crate parses the ones it owns.
///
/// Layers combine with [`overlay`](Self::overlay): a TOML file, then the environment, then
/// flags. `Debug` lists names only, never values (they include secrets and URLs).
#[derive(Clone, Default)]
pub struct SettingsSource {
    values: BTreeMap<String, (RawValue, Origin)>,
    /// Names given with an empty value (taken as unset, but an empty `SECRET_KEY` is refused).
    empty: std::collections::BTreeSet<String>,
}

impl fmt::Debug for SettingsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl SettingsSource {
    /// An empty source: every setting takes its default.
    pub fn new() -> SettingsSource {
        SettingsSource::default()
    }

    /// The top-level keys of a TOML document.
    pub fn from_toml_str(text: &str) -> Result<SettingsSource, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            setting: "configuration file",
            reason: e.message().to_owned(),
        })?;
        Ok(SettingsSource {
            values: table
                .into_iter()
                .map(|(k, v)| (k, (RawValue::Toml(v), Origin::File)))
                .collect(),
            empty: Default::default(),
        })
    }

    /// Every environment variable with a UTF-8 name and value; empty values count as unset.
    pub fn from_env() -> SettingsSource {
        Self::from_text_pairs(std::env::vars(), Origin::Environment)
    }

    /// Name/value pairs set by the program; empty values count as unset.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> SettingsSource {
        Self::from_text_pairs(pairs, Origin::Code)
    }

    fn from_text_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
        origin: Origin,
    ) -> SettingsSource {
        let mut source = SettingsSource::new();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            if v.is_empty() {
                source.empty.insert(k);
            } else {
                source.values.insert(k, (RawValue::Text(v), origin));
            }
        }
        source
    }

    /// Sets one value as text (as the environment would), replacing any earlier one.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.values
            .insert(name.into(), (RawValue::Text(value.into()), Origin::Code));
        self
    }

    /// This source with `other`'s values on top.
    pub fn overlay(mut self, other: SettingsSource) -> SettingsSource {
        for k in other.values.keys() {
            self.empty.remove(k);
        }
        for k in &other.empty {
            self.values.remove(k);
        }
        self.values.extend(other.values);
        self.empty.extend(other.empty);
        self
    }

    /// Whether `name` was given, but with an empty value (counted as unset).
    pub fn is_set_empty(&self, name: &str) -> bool {
        self.empty.contains(name)
    }

    /// Whether a value is set under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The names set in a file or by code (not the environment's), for a check against the
    /// settings some crate reads.
    pub fn declared_names(&self) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(|(_, (_, o))| *o != Origin::Environment)
            .map(|(k, _)| k.as_str())
    }

    /// The value under `name`, parsed; `None` when unset.
    pub fn get<T: SettingValue>(&self, name: &'static str) -> Result<Option<T>, ConfigError> {
        let Some((raw, _)) = self.values.get(name) else {
            return Ok(None);
        };
        let parsed = match raw {
            RawValue::Text(t) => T::from_text(t),
            RawValue::Toml(v) => T::from_toml(v),
        };
        parsed.map(Some).map_err(|reason| ConfigError::Invalid {
            setting: name,
            reason,
        })
    }
}

/// A type a setting can have: parsed from environment text or from a TOML value.
pub trait SettingValue: Sized {
    /// From text (an environment variable, a flag).
    fn from_text(text: &str) -> Result<Self, String>;
    /// From a TOML value; by default a TOML string is read as text.
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::String(s) => Self::from_text(s),
            other => Err(format!(
                "{other} is not a {}",
                std::any::type_name::<Self>()
            )),
        }
    }
}

impl SettingValue for bool {
    fn from_text(text: &str) -> Result<bool, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(format!("{text:?} is not a boolean")),
        }
    }
    fn from_toml(value: &toml::Value) -> Result<bool, String> {
        match value {
            toml::Value::Boolean(b) => Ok(*b),
            toml::Value::String(s) => Self::from_text(s),
            other => Err(format!("{other} is not a boolean")),
        }
    }
}

macro_rules! integer_setting {
    ($($t:ty),*) => {$(
        impl SettingValue for $t {
            fn from_text(text: &str) -> Result<$t, String> {
                text.trim().parse().map_err(|_| format!("{text:?} is not a number in range"))
            }
            fn from_toml(value: &toml::Value) -> Result<$t, String> {
                match value {
                    toml::Value::Integer(i) => <$t>::try_from(*i).map_err(|_| format!("{i} is out of range")),
                    toml::Value::String(s) => Self::from_text(s),
                    other => Err(format!("{other} is not a number")),
                }
            }
        }
    )*};
}
integer_setting!(i64, u64, u32, usize);

impl SettingValue for String {
    fn from_text(text: &str) -> Result<String, String> {
        Ok(text.to_owned())
    }
}

impl SettingValue for PathBuf {
    fn from_text(text: &str) -> Result<PathBuf, String> {
        Ok(PathBuf::from(text))
    }
}

impl<T: SettingValue> SettingValue for Option<T> {
    fn from_text(text: &str) -> Result<Option<T>, String> {
        T::from_text(text).map(Some)
    }
    fn from_toml(value: &toml::Value) -> Result<Option<T>, String> {
        T::from_toml(value).map(Some)
    }
}

/// One secret, byte for byte (no trimming, no splitting); empty is refused.
impl SettingValue for Secret {
    fn from_text(text: &str) -> Result<Secret, String> {
        if text.is_empty() {
            return Err("an empty secret is not allowed".into());
        }
        Ok(Secret::new(text))
    }
}

/// A list of secrets: a TOML array of strings, or in the environment a JSON array of strings
/// (`["old secret one", "old, secret, two"]`), so no secret can ever be split.
impl SettingValue for Vec<Secret> {
    fn from_text(text: &str) -> Result<Vec<Secret>, String> {
        let list: Vec<String> = serde_json::from_str(text).map_err(|_| {
            "expected a JSON array of strings, for example [\"old-secret\"]".to_owned()
        })?;
        list.iter().map(|s| Secret::from_text(s)).collect()
    }
    fn from_toml(value: &toml::Value) -> Result<Vec<Secret>, String> {
        match value {
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Secret::from_text(s),
                    other => Err(format!("{other} is not a string")),
                })
                .collect(),
            toml::Value::String(s) => Self::from_text(s),
            other => Err(format!("{other} is not an array of strings")),
        }
    }
}

/// A connection URL (it may carry a password): `Debug` prints only whether it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> ConnectionUrl {
        ConnectionUrl(url.into())
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<set>")
    }
}

impl SettingValue for ConnectionUrl {
    fn from_text(text: &str) -> Result<ConnectionUrl, String> {
        Ok(ConnectionUrl(text.to_owned()))
    }
}

/// A group of settings declared with [`settings_table!`](crate::settings_table).
pub trait SettingsGroup: Sized {
    /// The Django names this group reads.
    const NAMES: &'static [&'static str];

    /// Reads the group; unset settings take their defaults.
    fn from_source(source: &SettingsSource) -> Result<Self, ConfigError>;

    /// Reads the group from the source the settings were built from.
    fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Self::from_source(settings.source())
    }
}

/// Declares a group of settings, each once: its field, type, Django name, default and doc.
///
/// The type must implement [`SettingValue`]; the macro writes the struct, its [`Default`]
/// (the defaults) and its [`SettingsGroup`] impl (the names and the reader).
///
/// ```
/// use session_core::settings::{SettingsGroup, SettingsSource};
/// session_core::settings_table! {
///     /// My engine's settings.
///     #[derive(Debug)]
///     pub struct MySettings {
///         /// `MY_ENGINE_SHARDS`: how many shards.
///         shards: u32 = "MY_ENGINE_SHARDS" => 4,
///     }
/// }
/// let s = MySettings::from_source(SettingsSource::new().set("MY_ENGINE_SHARDS", "8")).unwrap();
/// assert_eq!(s.shards, 8);
/// assert_eq!(MySettings::default().shards, 4);
/// ```
#[macro_export]
macro_rules! settings_table {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty = $setting:literal => $default:expr,
            )*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                $name { $( $field: $default, )* }
            }
        }

        impl $crate::settings::SettingsGroup for $name {
            const NAMES: &'static [&'static str] = &[$($setting),*];

            fn from_source(
                source: &$crate::settings::SettingsSource,
            ) -> ::core::result::Result<Self, $crate::ConfigError> {
                ::core::result::Result::Ok($name {
                    $( $field: match source.get::<$ty>($setting)? {
                        ::core::option::Option::Some(v) => v,
                        ::core::option::Option::None => $default,
                    }, )*
                })
            }
        }
    };
}

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

settings_table! {
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

settings_table! {
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
        let mut s = Settings::from_source(SettingsSource::new().set("SECRET_KEY", "x").clone())?;
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
}
