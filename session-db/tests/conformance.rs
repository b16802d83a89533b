//! The shared conformance suite on SQLite, PostgreSQL and MariaDB, one fresh table per case.

// Built with SQLite only, the server helpers go unused.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports, unused_variables)
)]

use std::sync::{Arc, Mutex};

use session_conformance::{Capabilities, Harness, service_url, unavailable};
use session_core::key::generate_key;
use session_core::{Clock, DynSessionStore, Settings};
use session_db::{DbOptions, DbStore};

fn settings() -> Settings {
    Settings::new("conformance-secret-key-0123456789abcdef").unwrap()
}

/// The store with its user index (tables made), for the `*-indexed` runs.
async fn indexed(
    store: DbStore,
    clock: Arc<dyn Clock>,
) -> Result<Arc<DynSessionStore>, session_core::Error> {
    let index = store.user_index();
    index.ensure_schema().await?;
    Ok(Arc::new(session_core::users::IndexedStore::new(
        Arc::new(store),
        Arc::new(index),
        session_core::ExpiryPolicy::default(),
        clock,
    )))
}

const INDEXED: Capabilities = Capabilities {
    user_index: true,
    ..Capabilities::SERVER_SIDE
};

/// Runs the suite against `url`, creating a table per case and dropping them afterwards.
async fn run(label: &str, url: String) {
    run_with(label, url, false).await;
}

async fn run_with(label: &str, url: String, with_index: bool) {
    let probe = match DbStore::connect(&url, &settings()).await {
        Ok(p) => p,
        Err(e) => return unavailable(label, &e),
    };
    probe.close().await;
    let made: Arc<Mutex<Vec<String>>> = Arc::default();
    let made_in_factory = made.clone();
    let factory_url = url.clone();
    let caps = if with_index {
        INDEXED
    } else {
        Capabilities::SERVER_SIDE
    };
    let harness = Harness::new(label, caps, move |clock: Arc<dyn Clock>| {
        let url = factory_url.clone();
        let made = made_in_factory.clone();
        async move {
            let table = format!("sess_{}", &generate_key()[..12]);
            made.lock().unwrap().push(table.clone());
            let options = DbOptions {
                table,
                max_connections: 4,
                ..DbOptions::default()
            };
            let store =
                DbStore::connect_with(&url, settings().session_signer(), clock.clone(), options)
                    .await
                    .map_err(|e| session_core::Error::permanent("db", e))?;
            store.ensure_schema().await?;
            if with_index {
                return indexed(store, clock).await;
            }
            Ok(Arc::new(store) as Arc<DynSessionStore>)
        }
    });
    let report = harness.run().await;
    let tables: Vec<String> = made.lock().unwrap().drain(..).collect();
    for table in tables {
        let options = DbOptions {
            table,
            ..DbOptions::default()
        };
        let signer = settings().session_signer();
        let clock = Arc::new(session_core::SystemClock);
        if let Ok(s) = DbStore::connect_with(&url, signer, clock, options).await {
            let _ = s.drop_table().await;
            s.close().await;
        }
    }
    assert_report(harness, report).await;
}

async fn assert_report(harness: Harness, report: session_conformance::Report) {
    report.write().expect("report written");
    let failed: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.status == session_conformance::Status::Failed)
        .collect();
    assert!(
        failed.is_empty(),
        "{}: failed cases: {failed:#?}",
        harness.label
    );
    eprintln!(
        "{}: {} passed, {} failed, {} skipped",
        report.engine, report.passed, report.failed, report.skipped
    );
}

#[cfg(feature = "postgres")]
fn postgres_url() -> String {
    service_url(
        "POSTGRES_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/sessions_test",
    )
}

#[cfg(feature = "mysql")]
fn mysql_url() -> String {
    service_url(
        "MYSQL_URL",
        "mysql://sessions:sessions@127.0.0.1:3306/sessions_test",
    )
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    Harness::new(
        "db-sqlite",
        Capabilities::SERVER_SIDE,
        move |clock: Arc<dyn Clock>| {
            let path = base.join(format!("{}.sqlite3", generate_key()));
            async move {
                let url = format!("sqlite://{}", path.display());
                let store = DbStore::connect_with(
                    &url,
                    settings().session_signer(),
                    clock,
                    DbOptions::default(),
                )
                .await
                .map_err(|e| session_core::Error::permanent("db", e))?;
                store.ensure_schema().await?;
                Ok(Arc::new(store) as Arc<DynSessionStore>)
            }
        },
    )
    .run_and_assert()
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_postgres() {
    run("db-postgres", postgres_url()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_postgres_with_user_index() {
    run_with("db-postgres-indexed", postgres_url(), true).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_mysql_with_user_index() {
    run_with("db-mysql-indexed", mysql_url(), true).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_sqlite_with_user_index() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    Harness::new(
        "db-sqlite-indexed",
        INDEXED,
        move |clock: Arc<dyn Clock>| {
            let path = base.join(format!("{}.sqlite3", generate_key()));
            async move {
                let url = format!("sqlite://{}", path.display());
                let store = DbStore::connect_with(
                    &url,
                    settings().session_signer(),
                    clock.clone(),
                    DbOptions::default(),
                )
                .await
                .map_err(|e| session_core::Error::permanent("db", e))?;
                store.ensure_schema().await?;
                indexed(store, clock).await
            }
        },
    )
    .run_and_assert()
    .await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_mysql() {
    run("db-mysql", mysql_url()).await;
}

/// The TLS test servers `scripts/tls-servers.sh` starts (private, TLS only, a throwaway CA).
#[cfg(any(feature = "postgres", feature = "mysql"))]
const TLS_STATE: &str = "/tmp/django-sessions-rs-tests/tls";

#[cfg(feature = "postgres")]
fn postgres_tls_url() -> String {
    service_url(
        "POSTGRES_TLS_URL",
        &format!(
            "postgres://postgres@localhost:5433/postgres?sslmode=verify-full&sslrootcert={TLS_STATE}/ca.pem"
        ),
    )
}

#[cfg(feature = "mysql")]
fn mysql_tls_url() -> String {
    service_url(
        "MYSQL_TLS_URL",
        &format!(
            "mysql://root@localhost:3307/sessions_test?ssl-mode=verify_identity&ssl-ca={TLS_STATE}/ca.pem"
        ),
    )
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn wrong_ca() -> String {
    service_url("TLS_WRONG_CA", &format!("{TLS_STATE}/other-ca.pem"))
}

/// Connects to `url` with the CA swapped for one that signed nothing: refused, permanently,
/// with words that say why and name the setting.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn wrong_ca_is_refused(url: &str, ca_param: &str, service: &str) {
    let (base, rest) = url.split_once(ca_param).expect("the URL names its CA");
    let tail = rest.split_once('&').map(|(_, t)| format!("&{t}"));
    let bad = format!("{base}{ca_param}{}{}", wrong_ca(), tail.unwrap_or_default());
    let err = DbStore::connect(&bad, &settings())
        .await
        .expect_err("a server signed by another CA is refused");
    let err = session_core::Error::from(err);
    let text = session_core::error::report(&err);
    assert!(
        text.contains(&format!("{service} at localhost:"))
            && text.contains("not signed by a trusted CA")
            && text.contains(ca_param.trim_end_matches('=')),
        "{text}"
    );
    assert!(!err.is_transient(), "{text}");
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_postgres_over_tls() {
    let url = postgres_tls_url();
    let store = match DbStore::connect(&url, &settings()).await {
        Ok(s) => s,
        Err(e) => return unavailable("db-postgres-tls", &e),
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(ssl, "the connection is encrypted");
    pool.close().await;
    store.close().await;
    wrong_ca_is_refused(&url, "sslrootcert=", "PostgreSQL").await;
    run("db-postgres-tls", url).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_mysql_over_tls() {
    let url = mysql_tls_url();
    let store = match DbStore::connect(&url, &settings()).await {
        Ok(s) => s,
        Err(e) => return unavailable("db-mysql-tls", &e),
    };
    let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
    let (_, version): (String, String) = sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_version'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        version.starts_with("TLS"),
        "the connection is encrypted: {version:?}"
    );
    pool.close().await;
    store.close().await;
    wrong_ca_is_refused(&url, "ssl-ca=", "MySQL").await;
    run("db-mysql-tls", url).await;
}
