#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod maintenance;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};

use session_core::migrate::{MigrateSettings, MigratingStore, OldCopies};
use session_core::{
    ConfigError, DynSessionStore, Error, SessionConfig, SessionStore, Settings, SettingsGroup,
};

/// `SESSION_ENGINE=migrate`: the [`MigratingStore`] over two registered engines.
pub const MIGRATE_ENGINE: &str = "migrate";

pub use maintenance::{ClearExpiredTask, MaintenanceSettings};

/// Why the configured engine could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A setting is missing or wrong (the message names it).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `SESSION_ENGINE` names no registered engine.
    #[error("SESSION_ENGINE {name:?} is not a registered engine; registered: {}", registered.join(", "))]
    UnknownEngine {
        /// The name asked for.
        name: String,
        /// Every registered name (short names and dotted paths).
        registered: Vec<String>,
    },
    /// A built-in engine this build left out.
    #[error(
        "SESSION_ENGINE {name:?} is not compiled into this build (enable the `{feature}` feature of session-registry)"
    )]
    NotCompiled {
        /// The engine asked for.
        name: String,
        /// The Cargo feature that compiles it in.
        feature: &'static str,
    },
    /// The engine's storage could not be reached or prepared.
    #[error(transparent)]
    Store(#[from] Error),
}

/// What an engine's builder returns.
pub type BuildFuture =
    Pin<Box<dyn Future<Output = Result<Arc<DynSessionStore>, BuildError>> + Send>>;

type Builder = Arc<dyn Fn(Settings) -> BuildFuture + Send + Sync>;

/// One engine: the names `SESSION_ENGINE` may use for it, the settings it reads, and how
/// to build it from [`Settings`].
///
/// ```
/// use session_core::memory::MemoryStore;
/// use session_registry::EngineSpec;
/// let spec = EngineSpec::new("memory", |_settings| async { Ok::<_, session_core::Error>(MemoryStore::default()) })
///     .alias("myapp.sessions.memory");
/// assert_eq!(spec.name(), "memory");
/// ```
#[derive(Clone)]
pub struct EngineSpec {
    name: String,
    aliases: Vec<String>,
    settings: Vec<&'static str>,
    build: Builder,
}

impl std::fmt::Debug for EngineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSpec")
            .field("name", &self.name)
            .field("aliases", &self.aliases)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl EngineSpec {
    /// An engine named `name`, built by `build` from a copy of the settings.
    pub fn new<F, Fut, S, E>(name: impl Into<String>, build: F) -> EngineSpec
    where
        F: Fn(Settings) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, E>> + Send + 'static,
        S: SessionStore + 'static,
        E: Into<BuildError>,
    {
        let build = Arc::new(build);
        EngineSpec {
            name: name.into(),
            aliases: Vec::new(),
            settings: Vec::new(),
            build: Arc::new(move |settings| {
                let fut = build(settings);
                Box::pin(async move {
                    let store = fut.await.map_err(Into::into)?;
                    Ok(Arc::new(store) as Arc<DynSessionStore>)
                })
            }),
        }
    }

    /// Another name for the same engine (for example Django's dotted path).
    pub fn alias(mut self, name: impl Into<String>) -> EngineSpec {
        self.aliases.push(name.into());
        self
    }

    /// The setting names the engine reads besides the core ones (a
    /// [`SettingsGroup::NAMES`]), so a configuration
    /// file's misspelt names can be caught.
    pub fn settings(mut self, names: &[&'static str]) -> EngineSpec {
        self.settings.extend_from_slice(names);
        self
    }

    /// The engine's main name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.iter().any(|a| a == name)
    }
}

/// Engines by name: what `SESSION_ENGINE` can select.
///
/// Most apps use the process-wide registry through [`register`] and [`build_store`]; a
/// `Registry` value is for apps that keep their own.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    engines: Vec<EngineSpec>,
}

/// The built-in engines and the Cargo feature of each, for the "not compiled" message.
const BUILTIN_FEATURES: &[(&str, &str)] = &[
    ("db", "db"),
    ("file", "file"),
    ("signed_cookies", "signed_cookies"),
    ("cache", "cache"),
    ("cached_db", "cached_db"),
];

session_core::settings_table! {
    /// The user index's setting.
    #[derive(Debug, Clone)]
    pub struct UserIndexSettings {
        /// `SESSION_USER_INDEX` (not a Django setting): keep an index from user id
        /// (`_auth_user_id`) to session keys, so `sessions_of` and `log_out_everywhere` work:
        /// SQL side tables (db, cached_db), Redis sets (cache on Redis), the process's memory
        /// (cache on `memory://`), a directory scan (file). Not possible on Memcached or signed
        /// cookies. Default off.
        enabled: bool = "SESSION_USER_INDEX" => false,
    }
}

/// Wraps `store` with `index` (see [`session_core::users`]).
#[allow(dead_code)]
fn with_index(
    store: Arc<DynSessionStore>,
    index: Arc<dyn session_core::users::UserIndex>,
    settings: &Settings,
) -> Arc<DynSessionStore> {
    Arc::new(session_core::users::IndexedStore::new(
        store,
        index,
        session_core::ExpiryPolicy::from_settings(settings),
        Arc::new(session_core::SystemClock),
    ))
}

/// Whether `SESSION_USER_INDEX` is on.
#[allow(dead_code)]
fn index_wanted(settings: &Settings) -> Result<bool, BuildError> {
    Ok(UserIndexSettings::from_settings(settings)?.enabled)
}

#[allow(dead_code)]
fn no_index(engine: &str, why: &str) -> BuildError {
    BuildError::Config(ConfigError::Invalid {
        setting: "SESSION_USER_INDEX",
        reason: format!("not possible with the {engine} engine: {why}"),
    })
}

/// The built-in engines this build compiles, under their short names.
fn builtin_engines() -> Vec<EngineSpec> {
    #[allow(unused_mut)]
    let mut engines: Vec<EngineSpec> = Vec::new();
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    engines.push(
        EngineSpec::new("db", |settings: Settings| async move {
            let store = session_db::DbStore::from_settings(&settings)
                .await
                .map_err(|e| BuildError::from(Error::from(e)))?;
            if !index_wanted(&settings)? {
                return Ok::<_, BuildError>(Arc::new(store) as Arc<DynSessionStore>);
            }
            let index = store.user_index();
            let db = session_db::DbSettings::from_settings(&settings)?;
            if db
                .create_table
                .unwrap_or(store.backend() == session_db::Backend::Sqlite)
            {
                index.ensure_schema().await?;
            }
            Ok(with_index(Arc::new(store), Arc::new(index), &settings))
        })
        .settings(<session_db::DbSettings as session_core::SettingsGroup>::NAMES),
    );
    #[cfg(feature = "file")]
    engines.push(
        EngineSpec::new("file", |settings: Settings| async move {
            let store: Arc<DynSessionStore> =
                Arc::new(session_file::FileStore::from_settings(&settings)?);
            if !index_wanted(&settings)? {
                return Ok::<_, BuildError>(store);
            }
            // No shared place for an index: a scan of the directory (complete, O(sessions)).
            let index = Arc::new(session_core::users::ScanUserIndex::new(store.clone()));
            Ok(with_index(store, index, &settings))
        })
        .settings(<session_file::FileSettings as session_core::SettingsGroup>::NAMES),
    );
    #[cfg(feature = "signed_cookies")]
    engines.push(EngineSpec::new(
        "signed_cookies",
        |settings: Settings| async move {
            if index_wanted(&settings)? {
                return Err(no_index(
                    "signed_cookies",
                    "the sessions live in the browsers' cookies and cannot be ended before they expire",
                ));
            }
            Ok::<_, BuildError>(session_cookie_signed::SignedCookieStore::from_settings(
                &settings,
            ))
        },
    ));
    #[cfg(feature = "cache")]
    engines.push(
        EngineSpec::new("cache", |settings: Settings| async move {
            let wanted = index_wanted(&settings)?;
            let url = session_cache::CacheSettings::from_settings(&settings)?.url;
            if wanted && url.is_some_and(|u| u.as_str().starts_with("memcached://")) {
                return Err(no_index(
                    "cache",
                    "Memcached can neither group nor list keys (use Redis or the db engine to log users out everywhere)",
                ));
            }
            let store = session_cache::CacheStore::from_settings(&settings).await?;
            if !wanted {
                return Ok::<_, BuildError>(Arc::new(store) as Arc<DynSessionStore>);
            }
            let cache = store.cache().clone();
            let index: Arc<dyn session_core::users::UserIndex> = match cache.backend().kind() {
                "memory" => Arc::new(session_core::users::MemoryUserIndex::default()),
                _ => Arc::new(session_cache::CacheUserIndex::new(
                    cache,
                    Arc::new(session_core::SystemClock),
                )),
            };
            Ok(with_index(Arc::new(store), index, &settings))
        })
        .settings(<session_cache::CacheSettings as session_core::SettingsGroup>::NAMES),
    );
    #[cfg(feature = "cached_db")]
    engines.push(
        EngineSpec::new("cached_db", |settings: Settings| async move {
            let store = session_cached_db::CachedDbStore::from_settings(&settings).await?;
            if !index_wanted(&settings)? {
                return Ok::<_, BuildError>(Arc::new(store) as Arc<DynSessionStore>);
            }
            let index = store.db().user_index();
            let db = session_db::DbSettings::from_settings(&settings)?;
            if db
                .create_table
                .unwrap_or(store.db().backend() == session_db::Backend::Sqlite)
            {
                index.ensure_schema().await?;
            }
            Ok(with_index(Arc::new(store), Arc::new(index), &settings))
        })
        .settings(<session_db::DbSettings as session_core::SettingsGroup>::NAMES)
        .settings(<session_cache::CacheSettings as session_core::SettingsGroup>::NAMES)
        .settings(<session_cached_db::CachedDbSettings as session_core::SettingsGroup>::NAMES),
    );
    engines
        .into_iter()
        .map(|e| {
            let dotted = format!("{}{}", session_core::settings::DJANGO_ENGINE_PREFIX, e.name);
            e.alias(dotted)
        })
        .collect()
}

impl Registry {
    /// A registry with no engine.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// The built-in engines this build compiles (one Cargo feature each), under their short
    /// names and Django's dotted paths.
    pub fn with_builtin_engines() -> Registry {
        let mut r = Registry::empty();
        for spec in builtin_engines() {
            r.register(spec);
        }
        r
    }

    /// Adds an engine; one registered earlier under the same main name is replaced.
    pub fn register(&mut self, spec: EngineSpec) -> &mut Registry {
        self.engines.retain(|e| e.name != spec.name);
        self.engines.push(spec);
        self
    }

    /// Every name `SESSION_ENGINE` may use, sorted.
    pub fn names(&self) -> Vec<String> {
        let names: BTreeSet<String> = self
            .engines
            .iter()
            .flat_map(|e| std::iter::once(e.name.clone()).chain(e.aliases.iter().cloned()))
            .chain(std::iter::once(MIGRATE_ENGINE.to_owned()))
            .collect();
        names.into_iter().collect()
    }

    /// The engine registered under `name` (main name or alias).
    pub fn find(&self, name: &str) -> Option<&EngineSpec> {
        self.engines.iter().find(|e| e.answers_to(name))
    }

    /// Fails on a setting named in a configuration file or by code that neither core nor
    /// any registered engine reads (a misspelt `SESION_ENGINE`, say). The environment's
    /// variables are not checked: it holds many other things.
    pub fn check_setting_names(&self, settings: &Settings) -> Result<(), ConfigError> {
        let known: BTreeSet<&str> = Settings::core_names()
            .chain(
                <maintenance::MaintenanceSettings as session_core::SettingsGroup>::NAMES
                    .iter()
                    .copied(),
            )
            .chain(self.engines.iter().flat_map(|e| e.settings.iter().copied()))
            .chain(
                <MigrateSettings as session_core::SettingsGroup>::NAMES
                    .iter()
                    .copied(),
            )
            .chain(
                <UserIndexSettings as session_core::SettingsGroup>::NAMES
                    .iter()
                    .copied(),
            )
            .collect();
        let unknown: Vec<&str> = settings
            .source()
            .declared_names()
            .filter(|n| !known.contains(n))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                setting: "configuration",
                reason: format!(
                    "unknown setting(s) {}; known: {}",
                    unknown.join(", "),
                    known.into_iter().collect::<Vec<_>>().join(", ")
                ),
            })
        }
    }

    /// Builds the engine `SESSION_ENGINE` names, ready to use (the db engine creates its table
    /// only as `SESSION_DB_CREATE_TABLE` says, and checks its shape), wrapped so it reports
    /// each operation (`session_core::instrument`).
    pub async fn build(&self, settings: &Settings) -> Result<Arc<DynSessionStore>, BuildError> {
        self.check_setting_names(settings)?;
        if settings.engine_name() == MIGRATE_ENGINE {
            return self.build_migration(settings).await;
        }
        self.build_engine(settings).await
    }

    /// The migration store `SESSION_ENGINE=migrate` names: `SESSION_MIGRATE_TO` wrapped
    /// around `SESSION_MIGRATE_FROM`, each built from the same settings
    /// ([`session_core::migrate`]).
    pub async fn build_migration(
        &self,
        settings: &Settings,
    ) -> Result<Arc<DynSessionStore>, BuildError> {
        let (old, new, old_copies) = self.build_pair(settings, None, None).await?;
        let store =
            MigratingStore::new(new, old, old_copies, SessionConfig::from_settings(settings));
        store.check()?;
        Ok(Arc::new(session_core::instrument::Instrumented::new(store)))
    }

    /// The old and new engines of a migration: `from`/`to` when given, else the
    /// `SESSION_MIGRATE_FROM`/`SESSION_MIGRATE_TO` settings (neither may be `migrate`).
    pub async fn build_pair(
        &self,
        settings: &Settings,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(Arc<DynSessionStore>, Arc<DynSessionStore>, OldCopies), BuildError> {
        let m = MigrateSettings::from_settings(settings)?;
        let pick = |given: Option<&str>, set: Option<String>, name: &'static str| {
            let engine = given
                .map(str::to_owned)
                .or(set)
                .ok_or(ConfigError::Missing { setting: name })?;
            let mut s = settings.clone();
            s.engine = engine;
            if s.engine_name() == MIGRATE_ENGINE {
                return Err(ConfigError::Invalid {
                    setting: name,
                    reason: "a migration cannot move from or to another migration".into(),
                });
            }
            Ok::<_, ConfigError>(s)
        };
        let old = pick(from, m.from.clone(), "SESSION_MIGRATE_FROM")?;
        let new = pick(to, m.to.clone(), "SESSION_MIGRATE_TO")?;
        if old.engine_name() == new.engine_name() {
            return Err(ConfigError::Invalid {
                setting: "SESSION_MIGRATE_TO",
                reason: format!(
                    "the same engine as SESSION_MIGRATE_FROM ({}): both would read the same settings",
                    new.engine_name()
                ),
            }
            .into());
        }
        let old = self.build_engine(&old).await?;
        let new = self.build_engine(&new).await?;
        Ok((old, new, m.old_copies))
    }

    async fn build_engine(&self, settings: &Settings) -> Result<Arc<DynSessionStore>, BuildError> {
        let name = settings.engine.as_str();
        let Some(spec) = self.find(name) else {
            let short = settings.engine_name();
            if let Some((_, feature)) = BUILTIN_FEATURES.iter().find(|(n, _)| *n == short) {
                return Err(BuildError::NotCompiled {
                    name: name.to_owned(),
                    feature,
                });
            }
            return Err(BuildError::UnknownEngine {
                name: name.to_owned(),
                registered: self.names(),
            });
        };
        let store = (spec.build)(settings.clone()).await?;
        // Every engine reports its operations the same way (session_core::instrument).
        Ok(Arc::new(session_core::instrument::Instrumented::new(store)))
    }
}

fn global() -> &'static RwLock<Registry> {
    static GLOBAL: OnceLock<RwLock<Registry>> = OnceLock::new();
    GLOBAL.get_or_init(|| RwLock::new(Registry::with_builtin_engines()))
}

/// Registers an engine in the process-wide registry, so `SESSION_ENGINE` can name it; call
/// it once at start-up, before [`build_store`]. An engine of the same main name is replaced.
pub fn register(spec: EngineSpec) {
    global()
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .register(spec);
}

/// The names the process-wide registry knows.
pub fn registered_names() -> Vec<String> {
    global()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .names()
}

/// Builds the engine `SESSION_ENGINE` names from the process-wide registry (the built-in
/// engines this build compiles, plus every [`register`]ed one).
pub async fn build_store(settings: &Settings) -> Result<Arc<DynSessionStore>, BuildError> {
    let registry = global()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    registry.build(settings).await
}

/// The old and new engines of a migration from the process-wide registry (see
/// [`Registry::build_pair`]); `sessionctl migrate` uses it.
pub async fn build_migration_pair(
    settings: &Settings,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Arc<DynSessionStore>, Arc<DynSessionStore>, OldCopies), BuildError> {
    let registry = global()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    registry.build_pair(settings, from, to).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[cfg(all(
        feature = "sqlite",
        feature = "file",
        feature = "signed_cookies",
        feature = "cache",
        feature = "cached_db"
    ))]
    #[tokio::test]
    async fn every_builtin_engine_builds_from_settings() {
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
            ]);
            assert_eq!(build_store(&s).await.unwrap().engine_name(), name);
        }
    }

    #[cfg(all(feature = "sqlite", feature = "file", feature = "cached_db"))]
    #[tokio::test]
    async fn missing_settings_are_named() {
        for (pairs, setting) in [
            (&[("SESSION_ENGINE", "db")][..], "DATABASE_URL"),
            (
                &[
                    ("SESSION_ENGINE", "file"),
                    ("SESSION_FILE_PATH", "/nope/nope"),
                ][..],
                "SESSION_FILE_PATH",
            ),
            (
                &[("SESSION_ENGINE", "db"), ("DATABASE_URL", "oracle://x")][..],
                "DATABASE_URL",
            ),
            (
                &[
                    ("SESSION_ENGINE", "cached_db"),
                    ("DATABASE_URL", "sqlite::memory:"),
                ][..],
                "CACHE_URL",
            ),
        ] {
            let mut all = vec![("SECRET_KEY", "k")];
            all.extend_from_slice(pairs);
            let err = build_store(&settings(&all)).await.unwrap_err();
            let err = session_core::error::report(&err);
            assert!(err.contains(setting), "{err}");
        }
    }

    #[tokio::test]
    async fn unknown_engine_lists_the_registered_names() {
        let mut r = Registry::empty();
        r.register(EngineSpec::new("memory", |_s| async {
            Ok::<_, Error>(session_core::memory::MemoryStore::default())
        }));
        let err = r
            .build(&settings(&[
                ("SECRET_KEY", "k"),
                ("SESSION_ENGINE", "nosql"),
            ]))
            .await
            .unwrap_err();
        assert!(matches!(err, BuildError::UnknownEngine { .. }));
        assert!(
            err.to_string().contains("nosql") && err.to_string().contains("memory"),
            "{err}"
        );
        // A built-in engine this registry lacks says which feature brings it.
        let err = r
            .build(&settings(&[
                ("SECRET_KEY", "k"),
                ("SESSION_ENGINE", "django.contrib.sessions.backends.file"),
            ]))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("`file` feature"), "{err}");
    }

    #[tokio::test]
    async fn a_third_party_engine_is_selected_by_name_after_one_call() {
        register(
            EngineSpec::new("example.memory", |_s| async {
                Ok::<_, Error>(session_core::memory::MemoryStore::default())
            })
            .alias("myapp.sessions.backends.memory")
            .settings(&["MEMORY_SHARDS"]),
        );
        assert!(registered_names().contains(&"example.memory".to_owned()));
        let s = Settings::from_toml_str(
            "SECRET_KEY = \"k\"\nSESSION_ENGINE = \"myapp.sessions.backends.memory\"\nMEMORY_SHARDS = 2\n",
        )
        .unwrap();
        assert_eq!(build_store(&s).await.unwrap().engine_name(), "memory");
    }

    #[tokio::test]
    async fn misspelt_setting_names_in_a_file_fail() {
        let s = Settings::from_toml_str("SECRET_KEY = \"a\"\nSESION_ENGINE = \"db\"\n").unwrap();
        let err = Registry::with_builtin_engines()
            .build(&s)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("SESION_ENGINE"), "{err}");
    }
}
