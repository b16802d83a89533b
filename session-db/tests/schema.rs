//! The schema is Django's business on shared databases: the engine creates its table only
//! when told (`SESSION_DB_CREATE_TABLE`, default on for SQLite alone), checks the table's
//! shape on start-up, and works with a role that may only read and write rows.

// Built with SQLite only, the server helpers go unused.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports, unused_variables)
)]

use std::sync::{Arc, Mutex};

use session_conformance::{Capabilities, Harness, service_url, unavailable};
use session_core::key::generate_key;
use session_core::{Clock, DynSessionStore, Error, Settings, error::report};
use session_db::{DbError, DbOptions, DbStore};

const SECRET: &str = "schema-secret-key-0123456789abcdef";

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let mut all = vec![("SECRET_KEY", SECRET)];
    all.extend_from_slice(pairs);
    Settings::from_pairs(all).unwrap()
}

fn fresh_table() -> String {
    format!("sch_{}", &generate_key()[..12])
}

fn text(e: DbError) -> String {
    report(&Error::from(e))
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_creates_its_table_by_default_and_can_be_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/s.sqlite3", dir.path().display());
    let refused = DbStore::from_settings(&settings(&[
        ("DATABASE_URL", &url),
        ("SESSION_DB_CREATE_TABLE", "false"),
    ]))
    .await
    .expect_err("told not to create it, the missing table is reported");
    let t = text(refused);
    assert!(
        t.contains("\"django_session\" does not exist") && t.contains("sessionctl migrate-schema"),
        "{t}"
    );
    let store = DbStore::from_settings(&settings(&[("DATABASE_URL", &url)]))
        .await
        .expect("the embedded default starts with nothing to do");
    assert_eq!(store.table(), "django_session");
    store.check_schema().await.unwrap();
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

/// On a server database: no DDL by default (a missing table is an error that says what to
/// do), DDL when asked, and a table of another shape is refused.
async fn server_schema_is_opt_in(label: &str, url: &str, quote: char) {
    let admin = match DbStore::connect(url, &settings(&[])).await {
        Ok(s) => s,
        Err(e) => return unavailable(label, &e),
    };
    let table = fresh_table();
    let t = text(
        DbStore::from_settings(&settings(&[
            ("DATABASE_URL", url),
            ("SESSION_DB_TABLE", &table),
        ]))
        .await
        .expect_err("no table, no DDL: an error"),
    );
    assert!(
        t.contains(&format!("{table:?} does not exist"))
            && t.contains("manage.py migrate sessions")
            && t.contains("SESSION_DB_CREATE_TABLE"),
        "{label}: {t}"
    );
    let store = DbStore::from_settings(&settings(&[
        ("DATABASE_URL", url),
        ("SESSION_DB_TABLE", &table),
        ("SESSION_DB_CREATE_TABLE", "true"),
    ]))
    .await
    .expect("created when asked");
    // A restart finds it and creates nothing.
    store.prepare_schema(Some(true)).await.unwrap();
    store.drop_table().await.unwrap();
    store.close().await;

    // Another table under the name: refused, naming the column.
    let odd = fresh_table();
    let q = quote;
    sqlx_execute(
        url,
        &format!("CREATE TABLE {q}{odd}{q} (session_key varchar(40) PRIMARY KEY, data text)"),
    )
    .await;
    let t = text(
        DbStore::from_settings(&settings(&[
            ("DATABASE_URL", url),
            ("SESSION_DB_TABLE", &odd),
            ("SESSION_DB_CREATE_TABLE", "true"),
        ]))
        .await
        .expect_err("not Django's shape"),
    );
    assert!(t.contains("has no column \"session_data\""), "{label}: {t}");
    sqlx_execute(url, &format!("DROP TABLE {q}{odd}{q}")).await;
    admin.close().await;
}

/// Runs `sql` on a connection of its own (a boxed `Send` future: usable in the store
/// factory).
fn sqlx_execute(
    url: &str,
    sql: &str,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    Box::pin(async move {
        match url.split(':').next() {
            #[cfg(feature = "postgres")]
            Some("postgres") => {
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
            #[cfg(feature = "mysql")]
            Some("mysql") => {
                let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
                sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
            other => panic!("no driver for {other:?}"),
        }
    })
}

/// The conformance suite as a role that may only SELECT/INSERT/UPDATE/DELETE the table:
/// each case's table is made by the admin connection, the store connects as the role.
async fn data_only_role(label: &str, admin_url: &str, role_url: &str, grant: &str, quote: char) {
    let made: Arc<Mutex<Vec<String>>> = Arc::default();
    let (m, admin, role, grant) = (
        made.clone(),
        admin_url.to_owned(),
        role_url.to_owned(),
        grant.to_owned(),
    );
    let report = Harness::new(
        label,
        Capabilities::SERVER_SIDE,
        move |clock: Arc<dyn Clock>| {
            let (m, admin, role, grant) = (m.clone(), admin.clone(), role.clone(), grant.clone());
            async move {
                let table = fresh_table();
                m.lock().unwrap().push(table.clone());
                let options = || DbOptions {
                    table: table.clone(),
                    max_connections: 2,
                    ..DbOptions::default()
                };
                let maker = DbStore::connect_with(
                    &admin,
                    settings(&[]).session_signer(),
                    clock.clone(),
                    options(),
                )
                .await
                .map_err(Error::from)?;
                maker.ensure_schema().await?;
                maker.close().await;
                let q = quote;
                sqlx_execute(&admin, &grant.replace("{table}", &format!("{q}{table}{q}"))).await;
                let store =
                    DbStore::connect_with(&role, settings(&[]).session_signer(), clock, options())
                        .await
                        .map_err(Error::from)?;
                store.prepare_schema(None).await.map_err(Error::from)?;
                Ok(Arc::new(store) as Arc<DynSessionStore>)
            }
        },
    )
    .run()
    .await;
    let tables: Vec<String> = made.lock().unwrap().drain(..).collect();
    for table in tables {
        sqlx_execute(admin_url, &format!("DROP TABLE {quote}{table}{quote}")).await;
    }
    report.write().unwrap();
    assert_eq!(report.failed, 0, "{label}: {:#?}", report.cases);
    assert!(report.passed > 40, "{label}: {} passed", report.passed);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_is_opt_in() {
    server_schema_is_opt_in("db-postgres-schema", &postgres_url(), '"').await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_schema_is_opt_in() {
    server_schema_is_opt_in("db-mysql-schema", &mysql_url(), '`').await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_data_only_role_passes_the_suite_and_runs_no_ddl() {
    let admin = postgres_url();
    if let Err(e) = DbStore::connect(&admin, &settings(&[])).await {
        return unavailable("db-postgres-data-only-role", &e);
    }
    let role = format!("sessdata_{}", &generate_key()[..10]);
    sqlx_execute(
        &admin,
        &format!("CREATE ROLE {role} LOGIN PASSWORD 'data-only'"),
    )
    .await;
    let (before, after) = admin.split_once("://").unwrap();
    let host = after.rsplit_once('@').map_or(after, |(_, h)| h);
    let role_url = format!("{before}://{role}:data-only@{host}");
    // Without CREATE on the schema, the role cannot make a table: `ensure_schema` as the
    // role fails, while every session operation works.
    let probe = DbStore::connect_with(
        &role_url,
        settings(&[]).session_signer(),
        Arc::new(session_core::SystemClock),
        DbOptions {
            table: fresh_table(),
            ..DbOptions::default()
        },
    )
    .await
    .unwrap();
    let t = report(&probe.ensure_schema().await.expect_err("no DDL right"));
    assert!(t.contains("permission denied"), "{t}");
    probe.close().await;
    data_only_role(
        "db-postgres-data-only-role",
        &admin,
        &role_url,
        &format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {{table}} TO {role}"),
        '"',
    )
    .await;
    sqlx_execute(&admin, &format!("DROP OWNED BY {role}; DROP ROLE {role}")).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_data_only_user_passes_the_suite_and_runs_no_ddl() {
    let admin = mysql_url();
    if let Err(e) = DbStore::connect(&admin, &settings(&[])).await {
        return unavailable("db-mysql-data-only-role", &e);
    }
    let user = format!("sd_{}", &generate_key()[..10]);
    // The test user may create users (scripts/test-services.sh grants CREATE USER).
    sqlx_execute(
        &admin,
        &format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'data-only'"),
    )
    .await;
    let (before, after) = admin.split_once("://").unwrap();
    let host = after.rsplit_once('@').map_or(after, |(_, h)| h);
    let role_url = format!("{before}://{user}:data-only@{host}");
    data_only_role(
        "db-mysql-data-only-role",
        &admin,
        &role_url,
        &format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {{table}} TO '{user}'@'%'"),
        '`',
    )
    .await;
    sqlx_execute(&admin, &format!("DROP USER '{user}'@'%'")).await;
}

/// The user index's side tables shrink back when sessions expire (no index that only grows,
/// Spring Session's known leak): `clear_expired` removes the entries with the sessions.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn the_user_index_shrinks_back_after_sessions_expire() {
    use session_core::users::{IndexedStore, UserIndex};
    use session_core::{Expiry, ManualClock, Session, SessionConfig, SessionStore};
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_unix(1_800_000_000.0);
    let url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    let db = session_db::DbStore::connect_with(
        &url,
        session_core::Settings::new("leak-test")
            .unwrap()
            .session_signer(),
        std::sync::Arc::new(clock.clone()),
        session_db::DbOptions::default(),
    )
    .await
    .unwrap();
    db.ensure_schema().await.unwrap();
    let index = db.user_index();
    index.ensure_schema().await.unwrap();
    let store = std::sync::Arc::new(IndexedStore::new(
        std::sync::Arc::new(db),
        std::sync::Arc::new(index.clone()),
        session_core::ExpiryPolicy::default(),
        std::sync::Arc::new(clock.clone()),
    ));
    let config = SessionConfig::default().with_clock(std::sync::Arc::new(clock.clone()));
    for i in 0..20 {
        let mut s = Session::new(store.clone(), config.clone(), None);
        s.insert_value(
            "_auth_user_id",
            session_core::Value::from(format!("{}", i % 4)),
        )
        .await
        .unwrap();
        s.set_expiry(Expiry::Seconds(60)).await.unwrap();
        s.save(false).await.unwrap();
    }
    assert_eq!(index.entries().await.unwrap(), Some(20));
    clock.advance_secs(61);
    assert_eq!(store.clear_expired().await.unwrap(), Some(20));
    assert_eq!(
        index.entries().await.unwrap(),
        Some(0),
        "no entry outlives its session"
    );
}
