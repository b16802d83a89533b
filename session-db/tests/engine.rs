#![cfg_attr(
    not(all(feature = "sqlite", feature = "postgres")),
    allow(unused_imports, dead_code)
)]
//! db-engine behaviour beyond the shared suite: round trips, batching, schema, outages.

use std::sync::Arc;
use std::time::Duration;

use session_conformance::{service_url, unavailable};
use session_core::expiry::ManualClock;
use session_core::key::generate_key;
use session_core::{Clock, Expiry, Session, SessionConfig, SessionStore, Settings, SystemClock};
use session_db::{DbOptions, DbStore};
use tokio::net::{TcpListener, TcpStream};

fn settings() -> Settings {
    Settings::new("engine-test-secret").unwrap()
}

#[cfg(feature = "sqlite")]
async fn sqlite(clock: Arc<dyn Clock>) -> (tempfile::TempDir, DbStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/s.sqlite3", dir.path().display());
    let store = DbStore::connect_with(
        &url,
        settings().session_signer(),
        clock,
        DbOptions::default(),
    )
    .await
    .unwrap();
    store.ensure_schema().await.unwrap();
    (dir, store)
}

#[cfg(feature = "postgres")]
fn pg_url() -> String {
    service_url(
        "POSTGRES_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/sessions_test",
    )
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn one_round_trip_per_operation() {
    let (_dir, store) = sqlite(Arc::new(SystemClock)).await;
    let store = Arc::new(store);
    let config = SessionConfig::default();
    let mut s = Session::new(store.clone(), config.clone(), None);
    s.insert_value("n", 1).await.unwrap();
    let before = store.statements();
    s.save(false).await.unwrap(); // create: one INSERT
    assert_eq!(store.statements() - before, 1, "create");
    let key = s.session_key().unwrap().to_owned();

    let mut t = Session::new(store.clone(), config.clone(), Some(&key));
    let before = store.statements();
    t.get_value("n").await.unwrap(); // load: one SELECT
    assert_eq!(store.statements() - before, 1, "load");
    t.insert_value("n", 2).await.unwrap();
    let before = store.statements();
    t.save(false).await.unwrap(); // save: one UPDATE
    assert_eq!(store.statements() - before, 1, "save");
    let before = store.statements();
    assert!(store.exists(&key).await.unwrap());
    assert_eq!(store.statements() - before, 1, "exists");
    let before = store.statements();
    store.delete(&key).await.unwrap();
    assert_eq!(store.statements() - before, 1, "delete");
    let before = store.statements();
    assert!(matches!(
        t.save(false).await,
        Err(session_core::Error::Gone)
    ));
    assert_eq!(
        store.statements() - before,
        1,
        "a save that finds the row gone"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn clear_expired_deletes_in_batches_and_counts() {
    let clock = ManualClock::at_unix(1_767_323_045.5);
    let (_dir, store) = sqlite(Arc::new(clock.clone())).await;
    let store = Arc::new(store);
    let config = SessionConfig::default().with_clock(Arc::new(clock.clone()));
    for i in 0..2_345 {
        let mut s = Session::new(store.clone(), config.clone(), None);
        s.set_expiry(Expiry::Seconds(if i % 5 == 0 { 3600 } else { 10 }))
            .await
            .unwrap();
        s.save(false).await.unwrap();
    }
    clock.advance_secs(60);
    let before = store.statements();
    let removed = store.clear_expired().await.unwrap();
    assert_eq!(removed, Some(2_345 - 469));
    assert_eq!(
        store.statements() - before,
        2,
        "1876 rows in batches of 1000"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn schema_matches_django_and_existing_tables_are_never_altered() {
    let (dir, store) = sqlite(Arc::new(SystemClock)).await;
    let url = format!("sqlite://{}/s.sqlite3", dir.path().display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let ddl: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'django_session'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        ddl,
        r#"CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)"#
    );
    let index: String = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(index, "django_session_expire_date_a5c62663");
    // An existing table with an extra column (Django's custom-session pattern) is left as is.
    sqlx::query("ALTER TABLE django_session ADD COLUMN account_id integer NULL")
        .execute(&mut conn)
        .await
        .unwrap();
    store.ensure_schema().await.unwrap();
    let cols: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('django_session')")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        cols,
        ["session_key", "session_data", "expire_date", "account_id"]
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn stored_row_is_djangos_format() {
    let clock = ManualClock::at_unix(1_767_323_045.5);
    let (_dir, store) = sqlite(Arc::new(clock.clone())).await;
    let store = Arc::new(store);
    let mut s = Session::new(
        store.clone(),
        SessionConfig::default().with_clock(Arc::new(clock)),
        None,
    );
    s.insert_value("k", "v").await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap();
    let (data, expires) = store.raw_row(key).await.unwrap().unwrap();
    // Same bytes as Django's middleware vector for {"k": "v"} at this instant (expiry.json).
    let signer = Settings::new("conformance-secret-key-0123456789abcdef")
        .unwrap()
        .session_signer();
    assert!(data.starts_with("eyJrIjoidiJ9:1vbVSP:"));
    assert_eq!(
        signer.sign_map(
            &store.load(key).await.unwrap().unwrap(),
            chrono::DateTime::from_timestamp(1_767_323_045, 0).unwrap()
        ),
        "eyJrIjoidiJ9:1vbVSP:X2vfQscbOej0ZIfOgNOC1r4J6Nvy69yIezgU_L6cWLM"
    );
    assert_eq!(
        session_db::sqlite_datetime_text(expires),
        "2026-01-16 03:04:05.500000"
    );
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn dead_server_is_a_transient_error_and_the_engine_recovers() {
    let upstream = "127.0.0.1:5432".to_owned();
    if let Err(e) = TcpStream::connect(&upstream).await {
        return unavailable("db-postgres outage", &e);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = pg_url().replace("127.0.0.1:5432", &format!("127.0.0.1:{port}"));
    let mut proxy_task = session_conformance::tcp_proxy(listener, upstream.clone());
    let options = DbOptions {
        table: format!("outage_{}", &generate_key()[..8]),
        acquire_timeout: Duration::from_secs(2),
        ..DbOptions::default()
    };
    let store = DbStore::connect_with(
        &url,
        settings().session_signer(),
        Arc::new(SystemClock),
        options,
    )
    .await
    .unwrap();
    store.ensure_schema().await.unwrap();
    let store = Arc::new(store);
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("x", 1).await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();

    // The server goes away: every open connection dies and new ones are refused.
    proxy_task.abort();
    let _ = proxy_task.await;
    let err = store.load(&key).await.expect_err("the server is down");
    assert!(err.is_transient(), "a dead server is transient: {err}");
    assert!(matches!(
        err,
        session_core::Error::Backend { engine: "db", .. }
    ));

    // It comes back on the same port: the same store works without a restart.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    proxy_task = session_conformance::tcp_proxy(listener, upstream);
    let mut recovered = None;
    for _ in 0..20 {
        match store.load(&key).await {
            Ok(v) => {
                recovered = v;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(recovered.and_then(|m| m.get("x").cloned()), Some(1.into()));
    store.drop_table().await.unwrap();
    proxy_task.abort();
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_store_shares_the_apps_own_pool() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/app.sqlite3?mode=rwc", dir.path().display());
    // The app's pool, with its own size.
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    let store = DbStore::from_sqlite_pool(
        pool.clone(),
        settings().session_signer(),
        Arc::new(SystemClock),
        &DbOptions::default(),
    )
    .unwrap();
    store.ensure_schema().await.unwrap();
    let store = Arc::new(store);
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("x", 1).await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    // The row is in the app's database, seen through the app's pool.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM django_session WHERE session_key = ?")
        .bind(&key)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(pool.size() <= 2, "the app's pool size holds");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_store_shares_the_apps_own_postgres_pool() {
    let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
        .max_connections(3)
        .connect(&pg_url())
        .await
    else {
        return unavailable("db-postgres own pool", &"no postgres");
    };
    let options = DbOptions {
        table: format!("ownpool_{}", &generate_key()[..8]),
        ..DbOptions::default()
    };
    let store = DbStore::from_pg_pool(
        pool.clone(),
        settings().session_signer(),
        Arc::new(SystemClock),
        &options,
    )
    .unwrap();
    store.ensure_schema().await.unwrap();
    let store = Arc::new(store);
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("x", 1).await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    assert!(store.load(&key).await.unwrap().is_some());
    assert!(pool.size() <= 3);
    store.drop_table().await.unwrap();
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn a_store_shares_the_apps_own_mysql_pool() {
    let url = session_conformance::service_url(
        "MYSQL_URL",
        "mysql://sessions:sessions@127.0.0.1:3306/sessions_test",
    );
    let Ok(pool) = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
    else {
        return unavailable("db-mysql own pool", &"no mariadb");
    };
    let options = DbOptions {
        table: format!("ownpool_{}", &generate_key()[..8]),
        ..DbOptions::default()
    };
    let store = DbStore::from_mysql_pool(
        pool.clone(),
        settings().session_signer(),
        Arc::new(SystemClock),
        &options,
    )
    .unwrap();
    store.ensure_schema().await.unwrap();
    let store = Arc::new(store);
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("x", 1).await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    assert!(store.load(&key).await.unwrap().is_some());
    assert!(pool.size() <= 2);
    store.drop_table().await.unwrap();
}
