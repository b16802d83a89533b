//! The shared conformance suite on SQLite + in-process memory, PostgreSQL + Redis, PostgreSQL + Memcached
//! and MariaDB + Redis: a
//! fresh table and a fresh cache key prefix per case.

use std::sync::{Arc, Mutex};

use session_cache::{Cache, ValueFormat};
use session_cached_db::CachedDbStore;
use session_conformance::{Capabilities, Harness, service_url, unavailable};
use session_core::key::generate_key;
use session_core::{Clock, DynSessionStore, Settings, SystemClock};
use session_db::{DbOptions, DbStore};

/// The database judges expiry by the injected clock, but a cache hit trusts the cache's TTL,
/// which runs on the cache's own clock.
const CACHED_DB: Capabilities = Capabilities {
    expiry_follows_clock: false,
    ..Capabilities::SERVER_SIDE
};

fn settings() -> Settings {
    Settings::new("conformance-secret-key-0123456789abcdef").unwrap()
}

async fn db(
    url: &str,
    table: String,
    clock: Arc<dyn Clock>,
) -> Result<DbStore, session_core::Error> {
    let options = DbOptions {
        table,
        max_connections: 4,
        ..DbOptions::default()
    };
    DbStore::connect_with(url, settings().session_signer(), clock, options)
        .await
        .map_err(|e| session_core::Error::permanent("db", e))
}

async fn run(label: &str, db_url: String, cache_url: String) {
    run_with(label, db_url, cache_url, false).await;
}

async fn run_with(label: &str, db_url: String, cache_url: String, with_index: bool) {
    if let Err(e) = DbStore::connect(&db_url, &settings()).await {
        return unavailable(label, &e);
    }
    if let Err(e) = Cache::connect(&cache_url, "probe", 1).await {
        return unavailable(label, &e);
    }
    let tables: Arc<Mutex<Vec<String>>> = Arc::default();
    let (made, url, curl) = (tables.clone(), db_url.clone(), cache_url.clone());
    let caps = Capabilities {
        user_index: with_index,
        ..CACHED_DB
    };
    let report = Harness::new(label, caps, move |clock: Arc<dyn Clock>| {
        let (made, url, cache_url) = (made.clone(), url.clone(), curl.clone());
        async move {
            let table = format!("cdb_{}", &generate_key()[..12]);
            made.lock().unwrap().push(table.clone());
            let db = db(&url, table, clock.clone()).await?;
            db.ensure_schema().await?;
            let index = db.user_index();
            let prefix = format!("t{}", &generate_key()[..10]);
            let cache = Cache::connect(&cache_url, &prefix, 1).await?;
            let store = Arc::new(CachedDbStore::new(db, cache, ValueFormat::Pickle, None));
            if with_index {
                // The index lives in the database, beside the sessions.
                index.ensure_schema().await?;
                return Ok(Arc::new(session_core::users::IndexedStore::new(
                    store,
                    Arc::new(index),
                    session_core::ExpiryPolicy::default(),
                    clock,
                )) as Arc<DynSessionStore>);
            }
            Ok(store as Arc<DynSessionStore>)
        }
    })
    .run()
    .await;
    let made: Vec<String> = tables.lock().unwrap().drain(..).collect();
    for table in made {
        if let Ok(s) = db(&db_url, table, Arc::new(SystemClock)).await {
            let _ = s.drop_table().await;
            s.close().await;
        }
    }
    report.write().expect("report written");
    assert_eq!(report.failed, 0, "{label}: {report:#?}");
    eprintln!(
        "{label}: {} passed, {} failed, {} skipped",
        report.passed, report.failed, report.skipped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_sqlite_memory() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    run("cached_db-sqlite-memory", url, "memory://".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_postgres_redis() {
    let url = service_url(
        "POSTGRES_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/sessions_test",
    );
    run("cached_db-postgres-redis", url, redis_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_mysql_redis() {
    let url = service_url(
        "MYSQL_URL",
        "mysql://sessions:sessions@127.0.0.1:3306/sessions_test",
    );
    run("cached_db-mysql-redis", url, redis_url()).await;
}

fn redis_url() -> String {
    service_url("REDIS_URL", "redis://127.0.0.1:6379/0")
}

/// The tutorial's cache: sessions over 1 MiB stay in the database alone (the `large_payload`
/// case covers it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_postgres_memcached() {
    let url = service_url(
        "POSTGRES_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/sessions_test",
    );
    let memcached = service_url("MEMCACHED_URL", "memcached://127.0.0.1:11211");
    run("cached_db-postgres-memcached", url, memcached).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_postgres_redis_with_user_index() {
    let url = service_url(
        "POSTGRES_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/sessions_test",
    );
    run_with("cached_db-postgres-redis-indexed", url, redis_url(), true).await;
}
