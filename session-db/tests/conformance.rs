//! The shared conformance suite on SQLite, PostgreSQL and MariaDB, one fresh table per case.

use std::sync::{Arc, Mutex};

use session_conformance::{Capabilities, Harness, service_url, unavailable};
use session_core::key::generate_key;
use session_core::{Clock, DynSessionStore, Settings};
use session_db::{DbOptions, DbStore};

fn settings() -> Settings {
    Settings::new("conformance-secret-key-0123456789abcdef").unwrap()
}

/// Runs the suite against `url`, creating a table per case and dropping them afterwards.
async fn run(label: &str, url: String) {
    let probe = match DbStore::connect(&url, &settings()).await {
        Ok(p) => p,
        Err(e) => return unavailable(label, &e),
    };
    probe.close().await;
    let made: Arc<Mutex<Vec<String>>> = Arc::default();
    let made_in_factory = made.clone();
    let factory_url = url.clone();
    let harness = Harness::new(
        label,
        Capabilities::SERVER_SIDE,
        move |clock: Arc<dyn Clock>| {
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
                    DbStore::connect_with(&url, settings().session_signer(), clock, options)
                        .await
                        .map_err(|e| session_core::Error::permanent("db", e))?;
                store.ensure_schema().await?;
                Ok(Arc::new(store) as Arc<DynSessionStore>)
            }
        },
    );
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

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_mysql() {
    run("db-mysql", mysql_url()).await;
}
