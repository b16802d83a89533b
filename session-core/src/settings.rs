//! Settings with Django's names and defaults, read from TOML, the environment, or code.
//!
//! ```
//! use session_core::settings::{Engine, Settings};
//! let s = Settings::from_toml_str(r#"
//!     SECRET_KEY = "s3cret"
//!     SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
//!     SESSION_COOKIE_SAMESITE = false
//! "#).unwrap();
//! assert_eq!(s.engine, Engine::CachedDb);
//! assert_eq!(s.cookie.age, 1_209_600);
//! assert_eq!(s.cookie.samesite, None);
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;

use crate::codec::{DEFAULT_MAX_DECOMPRESSED, SESSION_SALT, SIGNED_COOKIE_SALT, Secret, Signer};
use crate::error::ConfigError;

/// The built-in engines, named short (`db`) or by Django's dotted path
/// (`django.contrib.sessions.backends.db`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// Database (`django_session` table).
    Db,
    /// Cache only (Redis or in-process).
    Cache,
    /// Write-through cache in front of the database.
    CachedDb,
    /// One file per session.
    File,
    /// The data itself in a signed cookie.
    SignedCookies,
}

impl Engine {
    /// The short name (`db`, `cache`, `cached_db`, `file`, `signed_cookies`).
    pub fn short_name(self) -> &'static str {
        match self {
            Engine::Db => "db",
            Engine::Cache => "cache",
            Engine::CachedDb => "cached_db",
            Engine::File => "file",
            Engine::SignedCookies => "signed_cookies",
        }
    }
}

impl FromStr for Engine {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Engine, ConfigError> {
        let short = s
            .trim()
            .strip_prefix("django.contrib.sessions.backends.")
            .unwrap_or(s.trim());
        Ok(match short {
            "db" => Engine::Db,
            "cache" => Engine::Cache,
            "cached_db" => Engine::CachedDb,
            "file" => Engine::File,
            "signed_cookies" => Engine::SignedCookies,
            _ => {
                return Err(ConfigError::Invalid {
                    setting: "SESSION_ENGINE",
                    reason: format!(
                        "unknown engine {s:?}; expected db, cache, cached_db, file, signed_cookies or django.contrib.sessions.backends.<name>"
                    ),
                });
            }
        })
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
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

    /// The value as written in the cookie.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `None` (which browsers only accept with `Secure`).
    pub fn is_none(&self) -> bool {
        self.0.eq_ignore_ascii_case("none")
    }
}

/// Cookie settings (`SESSION_COOKIE_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// `SESSION_COOKIE_NAME` (default `sessionid`); also the file engine's file-name prefix.
    pub name: String,
    /// `SESSION_COOKIE_AGE` in seconds (default two weeks).
    pub age: i64,
    /// `SESSION_COOKIE_DOMAIN` (default none).
    pub domain: Option<String>,
    /// `SESSION_COOKIE_PATH` (default `/`).
    pub path: String,
    /// `SESSION_COOKIE_SECURE` (default false).
    pub secure: bool,
    /// `SESSION_COOKIE_HTTPONLY` (default true).
    pub httponly: bool,
    /// `SESSION_COOKIE_SAMESITE` (default `Lax`; `None` here = Django's `False`).
    pub samesite: Option<SameSite>,
}

impl Default for CookieSettings {
    fn default() -> Self {
        CookieSettings {
            name: "sessionid".into(),
            age: 1_209_600,
            domain: None,
            path: "/".into(),
            secure: false,
            httponly: true,
            samesite: Some(SameSite("Lax".into())),
        }
    }
}

/// How the cache engines store a session dict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheValueFormat {
    /// Pickle protocol 5, as Django's `RedisCache` writes it.
    #[default]
    Pickle,
    /// Python-compatible JSON text.
    Json,
}

/// Every `SESSION_*` setting plus the secrets and the engines' own connection settings.
#[derive(Clone)]
pub struct Settings {
    /// `SESSION_ENGINE` (default `db`).
    pub engine: Engine,
    /// The `SESSION_COOKIE_*` settings.
    pub cookie: CookieSettings,
    /// `SESSION_SAVE_EVERY_REQUEST` (default false).
    pub save_every_request: bool,
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE` (default false).
    pub expire_at_browser_close: bool,
    /// `SESSION_CACHE_ALIAS` (default `default`).
    pub cache_alias: String,
    /// `SESSION_FILE_PATH` (default: the OS temp dir).
    pub file_path: Option<PathBuf>,
    /// `SECRET_KEY` (required, non-empty).
    pub secret_key: Secret,
    /// `SECRET_KEY_FALLBACKS` (verification only).
    pub secret_key_fallbacks: Vec<Secret>,
    /// `USE_TZ` (default true). With false, expiry strings are written without an offset.
    pub use_tz: bool,
    /// `TIME_ZONE`; only `UTC` is supported together with `USE_TZ = False`.
    pub time_zone: String,
    /// `DATABASE_URL` for the db and cached_db engines.
    pub database_url: Option<String>,
    /// `CACHE_URL` for the cache and cached_db engines (`redis://…` or `memory://`).
    pub cache_url: Option<String>,
    /// The cache's `KEY_PREFIX` (default empty).
    pub cache_key_prefix: String,
    /// The cache's `VERSION` (default 1).
    pub cache_version: i64,
    /// Bound on a decompressed session payload in bytes (not a Django setting).
    pub max_decompressed_size: usize,
    /// `SESSION_CACHE_VALUE_FORMAT` (not a Django setting): `pickle` (default, what Django's
    /// `RedisCache` stores, so Django shares the sessions) or `json` (Rust-only deployments).
    pub cache_value_format: CacheValueFormat,
    /// `SESSION_CACHED_DB_MAX_STALENESS` (seconds, not a Django setting): how long the
    /// cached_db engine may serve a cached copy without looking at the database. Unset: the
    /// session's own expiry for a shared cache (Redis), 10 seconds for an in-process one.
    pub cached_db_max_staleness: Option<u64>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |o: &Option<String>| if o.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Settings")
            .field("engine", &self.engine)
            .field("cookie", &self.cookie)
            .field("save_every_request", &self.save_every_request)
            .field("expire_at_browser_close", &self.expire_at_browser_close)
            .field("cache_alias", &self.cache_alias)
            .field("file_path", &self.file_path)
            .field("secret_key", &self.secret_key)
            .field("secret_key_fallbacks", &self.secret_key_fallbacks.len())
            .field("use_tz", &self.use_tz)
            .field("time_zone", &self.time_zone)
            .field("database_url", &set(&self.database_url))
            .field("cache_url", &set(&self.cache_url))
            .field("cache_key_prefix", &self.cache_key_prefix)
            .field("cache_version", &self.cache_version)
            .field("cache_value_format", &self.cache_value_format)
            .field("cached_db_max_staleness", &self.cached_db_max_staleness)
            .finish()
    }
}

/// Raw settings as read from TOML or the environment, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    #[serde(rename = "SESSION_ENGINE")]
    engine: Option<String>,
    #[serde(rename = "SESSION_COOKIE_NAME")]
    cookie_name: Option<String>,
    #[serde(rename = "SESSION_COOKIE_AGE")]
    cookie_age: Option<i64>,
    #[serde(rename = "SESSION_COOKIE_DOMAIN")]
    cookie_domain: Option<String>,
    #[serde(rename = "SESSION_COOKIE_PATH")]
    cookie_path: Option<String>,
    #[serde(rename = "SESSION_COOKIE_SECURE")]
    cookie_secure: Option<bool>,
    #[serde(rename = "SESSION_COOKIE_HTTPONLY")]
    cookie_httponly: Option<bool>,
    #[serde(rename = "SESSION_COOKIE_SAMESITE")]
    cookie_samesite: Option<SameSiteSetting>,
    #[serde(rename = "SESSION_SAVE_EVERY_REQUEST")]
    save_every_request: Option<bool>,
    #[serde(rename = "SESSION_EXPIRE_AT_BROWSER_CLOSE")]
    expire_at_browser_close: Option<bool>,
    #[serde(rename = "SESSION_CACHE_ALIAS")]
    cache_alias: Option<String>,
    #[serde(rename = "SESSION_FILE_PATH")]
    file_path: Option<PathBuf>,
    #[serde(rename = "SESSION_SERIALIZER")]
    serializer: Option<String>,
    #[serde(rename = "SECRET_KEY")]
    secret_key: Option<String>,
    #[serde(rename = "SECRET_KEY_FALLBACKS")]
    secret_key_fallbacks: Option<Vec<String>>,
    #[serde(rename = "USE_TZ")]
    use_tz: Option<bool>,
    #[serde(rename = "TIME_ZONE")]
    time_zone: Option<String>,
    #[serde(rename = "DATABASE_URL")]
    database_url: Option<String>,
    #[serde(rename = "CACHE_URL")]
    cache_url: Option<String>,
    #[serde(rename = "CACHE_KEY_PREFIX")]
    cache_key_prefix: Option<String>,
    #[serde(rename = "CACHE_VERSION")]
    cache_version: Option<i64>,
    #[serde(rename = "SESSION_MAX_DECOMPRESSED_SIZE")]
    max_decompressed_size: Option<usize>,
    #[serde(rename = "SESSION_CACHE_VALUE_FORMAT")]
    cache_value_format: Option<String>,
    #[serde(rename = "SESSION_CACHED_DB_MAX_STALENESS")]
    cached_db_max_staleness: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SameSiteSetting {
    Flag(bool),
    Text(String),
}

/// The environment variables [`Settings::from_env`] reads (Django's setting names).
pub const ENV_NAMES: &[&str] = &[
    "SESSION_ENGINE",
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_AGE",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_SAVE_EVERY_REQUEST",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "SESSION_CACHE_ALIAS",
    "SESSION_FILE_PATH",
    "SESSION_SERIALIZER",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "USE_TZ",
    "TIME_ZONE",
    "DATABASE_URL",
    "CACHE_URL",
    "CACHE_KEY_PREFIX",
    "CACHE_VERSION",
    "SESSION_MAX_DECOMPRESSED_SIZE",
    "SESSION_CACHED_DB_MAX_STALENESS",
    "SESSION_CACHE_VALUE_FORMAT",
];

fn parse_bool(setting: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError::Invalid {
            setting,
            reason: format!("{v:?} is not a boolean"),
        }),
    }
}

fn parse_num<T: FromStr>(setting: &'static str, v: &str) -> Result<T, ConfigError> {
    v.trim().parse().map_err(|_| ConfigError::Invalid {
        setting,
        reason: format!("{v:?} is not a number"),
    })
}

impl RawSettings {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<RawSettings, ConfigError> {
        let s = |n: &str| get(n).filter(|v| !v.is_empty());
        Ok(RawSettings {
            engine: s("SESSION_ENGINE"),
            cookie_name: s("SESSION_COOKIE_NAME"),
            cookie_age: s("SESSION_COOKIE_AGE")
                .map(|v| parse_num("SESSION_COOKIE_AGE", &v))
                .transpose()?,
            cookie_domain: s("SESSION_COOKIE_DOMAIN"),
            cookie_path: s("SESSION_COOKIE_PATH"),
            cookie_secure: s("SESSION_COOKIE_SECURE")
                .map(|v| parse_bool("SESSION_COOKIE_SECURE", &v))
                .transpose()?,
            cookie_httponly: s("SESSION_COOKIE_HTTPONLY")
                .map(|v| parse_bool("SESSION_COOKIE_HTTPONLY", &v))
                .transpose()?,
            cookie_samesite: s("SESSION_COOKIE_SAMESITE").map(|v| {
                match v.to_ascii_lowercase().as_str() {
                    "false" | "0" | "off" => SameSiteSetting::Flag(false),
                    _ => SameSiteSetting::Text(v),
                }
            }),
            save_every_request: s("SESSION_SAVE_EVERY_REQUEST")
                .map(|v| parse_bool("SESSION_SAVE_EVERY_REQUEST", &v))
                .transpose()?,
            expire_at_browser_close: s("SESSION_EXPIRE_AT_BROWSER_CLOSE")
                .map(|v| parse_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", &v))
                .transpose()?,
            cache_alias: s("SESSION_CACHE_ALIAS"),
            file_path: s("SESSION_FILE_PATH").map(PathBuf::from),
            serializer: s("SESSION_SERIALIZER"),
            secret_key: s("SECRET_KEY"),
            secret_key_fallbacks: s("SECRET_KEY_FALLBACKS").map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            use_tz: s("USE_TZ").map(|v| parse_bool("USE_TZ", &v)).transpose()?,
            time_zone: s("TIME_ZONE"),
            database_url: s("DATABASE_URL"),
            cache_url: s("CACHE_URL"),
            cache_key_prefix: s("CACHE_KEY_PREFIX"),
            cache_version: s("CACHE_VERSION")
                .map(|v| parse_num("CACHE_VERSION", &v))
                .transpose()?,
            max_decompressed_size: s("SESSION_MAX_DECOMPRESSED_SIZE")
                .map(|v| parse_num("SESSION_MAX_DECOMPRESSED_SIZE", &v))
                .transpose()?,
            cache_value_format: s("SESSION_CACHE_VALUE_FORMAT"),
            cached_db_max_staleness: s("SESSION_CACHED_DB_MAX_STALENESS")
                .map(|v| parse_num("SESSION_CACHED_DB_MAX_STALENESS", &v))
                .transpose()?,
        })
    }

    /// Fields set in `other` replace ours.
    fn overlay(self, other: RawSettings) -> RawSettings {
        macro_rules! pick {
            ($($f:ident),*) => { RawSettings { $($f: other.$f.or(self.$f)),* } };
        }
        pick!(
            engine,
            cookie_name,
            cookie_age,
            cookie_domain,
            cookie_path,
            cookie_secure,
            cookie_httponly,
            cookie_samesite,
            save_every_request,
            expire_at_browser_close,
            cache_alias,
            file_path,
            serializer,
            secret_key,
            secret_key_fallbacks,
            use_tz,
            time_zone,
            database_url,
            cache_url,
            cache_key_prefix,
            cache_version,
            max_decompressed_size,
            cache_value_format,
            cached_db_max_staleness
        )
    }

    fn validate(self) -> Result<Settings, ConfigError> {
        let defaults = CookieSettings::default();
        let secret = self.secret_key.unwrap_or_default();
        if secret.is_empty() {
            return Err(ConfigError::Missing {
                setting: "SECRET_KEY",
            });
        }
        if let Some(ser) = &self.serializer {
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
        let use_tz = self.use_tz.unwrap_or(true);
        let time_zone = self.time_zone.unwrap_or_else(|| "UTC".into());
        if !use_tz && !time_zone.eq_ignore_ascii_case("UTC") {
            return Err(ConfigError::Invalid {
                setting: "TIME_ZONE",
                reason: "with USE_TZ = False only TIME_ZONE = \"UTC\" is supported".into(),
            });
        }
        let samesite = match self.cookie_samesite {
            None => defaults.samesite,
            Some(SameSiteSetting::Flag(false)) => None,
            Some(SameSiteSetting::Flag(true)) => {
                return Err(ConfigError::Invalid {
                    setting: "SESSION_COOKIE_SAMESITE",
                    reason: "true is not one of Lax, Strict, None or false".into(),
                });
            }
            Some(SameSiteSetting::Text(t)) => Some(SameSite::new(&t)?),
        };
        let cookie_name = self.cookie_name.unwrap_or(defaults.name);
        if cookie_name.is_empty() {
            return Err(ConfigError::Missing {
                setting: "SESSION_COOKIE_NAME",
            });
        }
        Ok(Settings {
            engine: self
                .engine
                .as_deref()
                .map(Engine::from_str)
                .transpose()?
                .unwrap_or(Engine::Db),
            cookie: CookieSettings {
                name: cookie_name,
                age: self.cookie_age.unwrap_or(defaults.age),
                domain: self.cookie_domain,
                path: self.cookie_path.unwrap_or(defaults.path),
                secure: self.cookie_secure.unwrap_or(defaults.secure),
                httponly: self.cookie_httponly.unwrap_or(defaults.httponly),
                samesite,
            },
            save_every_request: self.save_every_request.unwrap_or(false),
            expire_at_browser_close: self.expire_at_browser_close.unwrap_or(false),
            cache_alias: self.cache_alias.unwrap_or_else(|| "default".into()),
            file_path: self.file_path,
            secret_key: Secret::new(secret),
            secret_key_fallbacks: self
                .secret_key_fallbacks
                .unwrap_or_default()
                .into_iter()
                .map(Secret::new)
                .collect(),
            use_tz,
            time_zone,
            database_url: self.database_url,
            cache_url: self.cache_url,
            cache_key_prefix: self.cache_key_prefix.unwrap_or_default(),
            cache_version: self.cache_version.unwrap_or(1),
            max_decompressed_size: self
                .max_decompressed_size
                .unwrap_or(DEFAULT_MAX_DECOMPRESSED),
            cached_db_max_staleness: self.cached_db_max_staleness,
            cache_value_format: match self.cache_value_format.as_deref() {
                None => CacheValueFormat::Pickle,
                Some(v) if v.eq_ignore_ascii_case("pickle") => CacheValueFormat::Pickle,
                Some(v) if v.eq_ignore_ascii_case("json") => CacheValueFormat::Json,
                Some(v) => {
                    return Err(ConfigError::Invalid {
                        setting: "SESSION_CACHE_VALUE_FORMAT",
                        reason: format!("{v:?}: expected \"pickle\" or \"json\""),
                    });
                }
            },
        })
    }
}

impl Settings {
    /// Django's defaults with the given secret.
    pub fn new(secret_key: impl AsRef<[u8]>) -> Result<Settings, ConfigError> {
        let secret = Secret::new(secret_key);
        if secret.is_empty() {
            return Err(ConfigError::Missing {
                setting: "SECRET_KEY",
            });
        }
        let mut s = RawSettings {
            secret_key: Some("placeholder".into()),
            ..RawSettings::default()
        }
        .validate()?;
        s.secret_key = secret;
        Ok(s)
    }

    /// Reads settings from a TOML document whose keys are Django's setting names.
    pub fn from_toml_str(text: &str) -> Result<Settings, ConfigError> {
        Self::raw_from_toml(text)?.validate()
    }

    fn raw_from_toml(text: &str) -> Result<RawSettings, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid {
            setting: "configuration file",
            reason: e.message().to_owned(),
        })
    }

    /// Reads settings from environment variables named as Django's settings (see [`ENV_NAMES`];
    /// `SECRET_KEY_FALLBACKS` is comma-separated).
    pub fn from_env() -> Result<Settings, ConfigError> {
        RawSettings::from_lookup(|n| std::env::var(n).ok())?.validate()
    }

    /// Reads settings from any name → value lookup (the environment's shape).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        RawSettings::from_lookup(get)?.validate()
    }

    /// A TOML document (optional) overlaid by a lookup (usually the environment): values in
    /// the lookup win.
    pub fn from_toml_and_lookup(
        toml_text: Option<&str>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let base = match toml_text {
            Some(t) => Self::raw_from_toml(t)?,
            None => RawSettings::default(),
        };
        base.overlay(RawSettings::from_lookup(get)?).validate()
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
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_are_djangos() {
        let s = Settings::new("x").unwrap();
        assert_eq!(s.engine, Engine::Db);
        assert_eq!(s.cookie, CookieSettings::default());
        assert_eq!(
            s.cookie.samesite.as_ref().map(SameSite::as_str),
            Some("Lax")
        );
        assert!(s.cookie.httponly && !s.cookie.secure);
        assert_eq!(s.cache_alias, "default");
        assert!(s.use_tz && !s.save_every_request && !s.expire_at_browser_close);
    }

    #[test]
    fn empty_secret_and_unknown_engine_fail_at_start() {
        assert_eq!(
            Settings::from_lookup(lookup(&[])).unwrap_err(),
            ConfigError::Missing {
                setting: "SECRET_KEY"
            }
        );
        let err =
            Settings::from_lookup(lookup(&[("SECRET_KEY", "k"), ("SESSION_ENGINE", "nosql")]))
                .unwrap_err();
        assert!(err.to_string().contains("SESSION_ENGINE"), "{err}");
        assert!(Settings::new("").is_err());
    }

    #[test]
    fn engines_by_short_name_or_dotted_path() {
        for (text, e) in [
            ("db", Engine::Db),
            (
                "django.contrib.sessions.backends.signed_cookies",
                Engine::SignedCookies,
            ),
            ("cached_db", Engine::CachedDb),
            ("django.contrib.sessions.backends.file", Engine::File),
            ("cache", Engine::Cache),
        ] {
            assert_eq!(text.parse::<Engine>().unwrap(), e);
        }
    }

    #[test]
    fn env_reads_django_names() {
        let s = Settings::from_lookup(lookup(&[
            ("SECRET_KEY", "k"),
            ("SECRET_KEY_FALLBACKS", "old1, old2"),
            ("SESSION_COOKIE_AGE", "60"),
            ("SESSION_COOKIE_SECURE", "True"),
            ("SESSION_COOKIE_SAMESITE", "False"),
            ("SESSION_ENGINE", "file"),
            ("SESSION_FILE_PATH", "/tmp"),
        ]))
        .unwrap();
        assert_eq!(
            s.secret_key_fallbacks,
            vec![Secret::new("old1"), Secret::new("old2")]
        );
        assert_eq!(s.cookie.age, 60);
        assert!(s.cookie.secure);
        assert_eq!(s.cookie.samesite, None);
        assert_eq!(s.engine, Engine::File);
        assert!(
            Settings::from_lookup(lookup(&[("SECRET_KEY", "k"), ("SESSION_COOKIE_AGE", "x")]))
                .is_err()
        );
        assert!(
            Settings::from_lookup(lookup(&[
                ("SECRET_KEY", "k"),
                ("SESSION_COOKIE_SAMESITE", "Loose")
            ]))
            .is_err()
        );
    }

    #[test]
    fn toml_then_env_overlay_and_unknown_keys_refused() {
        let s = Settings::from_toml_and_lookup(
            Some("SECRET_KEY = \"a\"\nSESSION_COOKIE_AGE = 10\nSECRET_KEY_FALLBACKS = [\"b\"]\n"),
            lookup(&[("SESSION_COOKIE_AGE", "20")]),
        )
        .unwrap();
        assert_eq!(s.cookie.age, 20);
        assert_eq!(s.secret_key_fallbacks.len(), 1);
        assert!(Settings::from_toml_str("SECRET_KEY = \"a\"\nSESION_ENGINE = \"db\"\n").is_err());
    }

    #[test]
    fn debug_hides_secrets_and_urls() {
        let mut s = Settings::new("topsecret").unwrap();
        s.database_url = Some("postgres://u:pw@h/db".into());
        let d = format!("{s:?}");
        assert!(!d.contains("topsecret") && !d.contains("pw@"), "{d}");
    }
}
