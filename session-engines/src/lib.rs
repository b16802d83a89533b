#![doc = include_str!("../README.md")]

use std::sync::Arc;

use session_core::{ConfigError, DynSessionStore, Engine, Error, Settings};

/// Why the configured engine could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A setting is missing or wrong (the message names it).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The engine exists but this build left it out (enable the Cargo feature).
    #[error(
        "SESSION_ENGINE {0} is not compiled into this build (enable the `{1}` feature of session-engines)"
    )]
    NotCompiled(Engine, &'static str),
    /// The engine's storage could not be reached or prepared.
    #[error(transparent)]
    Store(#[from] Error),
}

/// Builds the engine `settings.engine` names, ready to use (the db engine's table is created
/// when missing).
pub async fn build_store(settings: &Settings) -> Result<Arc<DynSessionStore>, BuildError> {
    match settings.engine {
        #[cfg(feature = "db")]
        Engine::Db => {
            let store = session_db::DbStore::from_settings(settings)
                .await
                .map_err(Error::from)?;
            store.ensure_schema().await?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "file")]
        Engine::File => Ok(Arc::new(session_file::FileStore::from_settings(settings)?)),
        #[cfg(feature = "signed_cookies")]
        Engine::SignedCookies => Ok(Arc::new(
            session_cookie_signed::SignedCookieStore::from_settings(settings),
        )),
        #[cfg(feature = "cache")]
        Engine::Cache => {
            if settings.cache_url.is_none() {
                return Err(ConfigError::Missing {
                    setting: "CACHE_URL",
                }
                .into());
            }
            Ok(Arc::new(
                session_cache::CacheStore::from_settings(settings).await?,
            ))
        }
        #[cfg(feature = "cached_db")]
        Engine::CachedDb => {
            for (value, setting) in [
                (&settings.database_url, "DATABASE_URL"),
                (&settings.cache_url, "CACHE_URL"),
            ] {
                if value.is_none() {
                    return Err(ConfigError::Missing { setting }.into());
                }
            }
            Ok(Arc::new(
                session_cached_db::CachedDbStore::from_settings(settings).await?,
            ))
        }
        #[allow(unreachable_patterns)]
        other => Err(BuildError::NotCompiled(other, other.short_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(move |n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
    }

    #[tokio::test]
    async fn every_compiled_engine_builds_from_settings() {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/s.sqlite3", dir.path().display());
        let path = dir.path().display().to_string();
        for (engine, extra, name) in [
            ("db", ("DATABASE_URL", db.as_str()), "db"),
            (
                "django.contrib.sessions.backends.file",
                ("SESSION_FILE_PATH", path.as_str()),
                "file",
            ),
            ("signed_cookies", ("UNUSED", ""), "signed_cookies"),
            ("cache", ("CACHE_URL", "memory://"), "cache"),
            ("cached_db", ("CACHE_URL", "memory://"), "cached_db"),
        ] {
            let s = settings(&[
                ("SECRET_KEY", "k"),
                ("SESSION_ENGINE", engine),
                ("DATABASE_URL", db.as_str()),
                extra,
            ])
            .unwrap();
            assert_eq!(build_store(&s).await.unwrap().engine_name(), name);
        }
    }

    #[tokio::test]
    async fn missing_settings_are_named() {
        let s = settings(&[("SECRET_KEY", "k"), ("SESSION_ENGINE", "db")]).unwrap();
        let err = build_store(&s).await.unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        let s = settings(&[
            ("SECRET_KEY", "k"),
            ("SESSION_ENGINE", "file"),
            ("SESSION_FILE_PATH", "/nope/nope"),
        ])
        .unwrap();
        let err = build_store(&s).await.unwrap_err().to_string();
        assert!(err.contains("SESSION_FILE_PATH"), "{err}");
        let s = settings(&[
            ("SECRET_KEY", "k"),
            ("SESSION_ENGINE", "db"),
            ("DATABASE_URL", "oracle://x"),
        ])
        .unwrap();
        let err = build_store(&s).await.unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        let s = settings(&[
            ("SECRET_KEY", "k"),
            ("SESSION_ENGINE", "cached_db"),
            ("DATABASE_URL", "sqlite::memory:"),
        ])
        .unwrap();
        let err = build_store(&s).await.unwrap_err().to_string();
        assert!(err.contains("CACHE_URL"), "{err}");
    }
}
