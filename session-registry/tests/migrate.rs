//! The migration store (`SESSION_ENGINE=migrate`): the shared conformance suite on it (db →
//! cache on Redis, SQLite → file), and its settings.

use std::sync::Arc;

use session_cache::{Cache, CacheStore, ValueFormat};
use session_conformance::{Capabilities, Harness, service_url, unavailable};
use session_core::key::generate_key;
use session_core::migrate::{MigratingStore, OldCopies};
use session_core::{Clock, DynSessionStore, Session, SessionConfig, SessionStore, Settings, Value};
use session_db::{DbOptions, DbStore};

fn settings() -> Settings {
    Settings::new("conformance-secret-key-0123456789abcdef").unwrap()
}

async fn sqlite(
    dir: &std::path::Path,
    clock: Arc<dyn Clock>,
) -> Result<DbStore, session_core::Error> {
    let url = format!(
        "sqlite://{}",
        dir.join(format!("{}.sqlite3", generate_key())).display()
    );
    let db = DbStore::connect_with(
        &url,
        settings().session_signer(),
        clock,
        DbOptions::default(),
    )
    .await
    .map_err(|e| session_core::Error::permanent("db", e))?;
    db.ensure_schema().await?;
    Ok(db)
}

fn config(clock: Arc<dyn Clock>) -> SessionConfig {
    SessionConfig {
        clock,
        ..SessionConfig::default()
    }
}

/// The contract through the wrapper (a miss in the new engine falls back to the old one on
/// every load). The copy-forward rules themselves are tested in
/// `session-core/tests/migrate.rs`, and live with Django in `sessionctl/tests/migrate.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_migrate_db_to_cache_redis() {
    let url = service_url("REDIS_URL", "redis://127.0.0.1:6379/0");
    if let Err(e) = Cache::connect(&url, "probe", 1).await {
        return unavailable("migrate-db-to-cache-redis", &e);
    }
    let root = tempfile::tempdir().unwrap();
    let base = root.path().to_path_buf();
    let caps = Capabilities {
        // The new engine keeps time by Redis TTLs, and clears nothing itself.
        expiry_follows_clock: false,
        clear_expired: false,
        ..Capabilities::SERVER_SIDE
    };
    Harness::new(
        "migrate-db-to-cache-redis",
        caps,
        move |clock: Arc<dyn Clock>| {
            let (url, base) = (url.clone(), base.clone());
            async move {
                let old = sqlite(&base, clock.clone()).await?;
                let cache = Cache::connect(&url, &format!("m{}", &generate_key()[..10]), 1).await?;
                let new = CacheStore::new(cache, ValueFormat::Pickle);
                Ok(Arc::new(MigratingStore::new(
                    Arc::new(new),
                    Arc::new(old),
                    OldCopies::Keep,
                    config(clock),
                )) as Arc<DynSessionStore>)
            }
        },
    )
    .run_and_assert()
    .await;
}

/// Both engines follow the injected clock here, so every case runs (expiry included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_migrate_sqlite_to_file() {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().to_path_buf();
    Harness::new(
        "migrate-sqlite-to-file",
        Capabilities {
            expiry_by_own_settings: true,
            ..Capabilities::SERVER_SIDE
        },
        move |clock: Arc<dyn Clock>| {
            let base = base.clone();
            async move {
                let old = sqlite(&base, clock.clone()).await?;
                let dir = base.join(generate_key());
                std::fs::create_dir(&dir).map_err(|e| session_core::Error::permanent("file", e))?;
                let s = settings();
                let new = session_file::FileStore::new(
                    &dir,
                    "sessionid",
                    s.session_signer(),
                    session_core::ExpiryPolicy::from_settings(&s),
                    clock.clone(),
                )
                .map_err(|e| session_core::Error::permanent("file", e))?;
                Ok(Arc::new(MigratingStore::new(
                    Arc::new(new),
                    Arc::new(old),
                    OldCopies::Delete,
                    config(clock),
                )) as Arc<DynSessionStore>)
            }
        },
    )
    .run_and_assert()
    .await;
}

#[tokio::test]
async fn the_migration_store_is_configured_by_settings() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    let build = |pairs: Vec<(&'static str, String)>| {
        let mut all = vec![
            ("SECRET_KEY", "s".to_owned()),
            ("DATABASE_URL", db_url.clone()),
        ];
        all.extend(pairs);
        async move {
            let s = Settings::from_pairs(all.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
            session_registry::build_store(&s).await
        }
    };
    // A session written by the db engine is read through the migration store.
    let db = build(vec![]).await.unwrap();
    let mut s = Session::new(db.clone(), SessionConfig::default(), None);
    s.insert_value("user", 3).await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    let m = build(vec![
        ("SESSION_ENGINE", "migrate".into()),
        (
            "SESSION_MIGRATE_FROM",
            "django.contrib.sessions.backends.db".into(),
        ),
        ("SESSION_MIGRATE_TO", "file".into()),
        ("SESSION_FILE_PATH", dir.path().display().to_string()),
        ("SESSION_MIGRATE_OLD", "delete".into()),
    ])
    .await
    .unwrap();
    assert_eq!(m.engine_name(), "migrate");
    assert_eq!(
        m.load(&key).await.unwrap().unwrap().get("user"),
        Some(&Value::from(3))
    );
    assert!(
        dir.path().join(format!("sessionid{key}")).exists(),
        "copied to the file engine"
    );
    assert!(
        !db.exists(&key).await.unwrap(),
        "deleted from the db (SESSION_MIGRATE_OLD=delete)"
    );

    let err = |pairs| async { build(pairs).await.unwrap_err().to_string() };
    let missing = err(vec![
        ("SESSION_ENGINE", "migrate".into()),
        ("SESSION_MIGRATE_FROM", "db".into()),
    ])
    .await;
    assert!(missing.contains("SESSION_MIGRATE_TO"), "{missing}");
    let same = err(vec![
        ("SESSION_ENGINE", "migrate".into()),
        ("SESSION_MIGRATE_FROM", "db".into()),
        (
            "SESSION_MIGRATE_TO",
            "django.contrib.sessions.backends.db".into(),
        ),
    ])
    .await;
    assert!(same.contains("same engine"), "{same}");
    let cookie = err(vec![
        ("SESSION_ENGINE", "migrate".into()),
        ("SESSION_MIGRATE_FROM", "signed_cookies".into()),
        ("SESSION_MIGRATE_TO", "db".into()),
    ])
    .await;
    assert!(cookie.contains("cookie"), "{cookie}");
    let mode = err(vec![
        ("SESSION_ENGINE", "migrate".into()),
        ("SESSION_MIGRATE_FROM", "db".into()),
        ("SESSION_MIGRATE_TO", "file".into()),
        ("SESSION_MIGRATE_OLD", "forget".into()),
    ])
    .await;
    assert!(mode.contains("SESSION_MIGRATE_OLD"), "{mode}");
}
