//! Live round trips with real Django on each database: both sides share one table.

// Built with SQLite only, the server helpers go unused.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports, unused_variables)
)]

use std::sync::Arc;

use serde_json::json;
use session_conformance::django::Django;
use session_conformance::{service_url, unavailable};
use session_core::key::generate_key;
use session_core::{Expiry, Session, SessionConfig, SessionStore, Settings, SystemClock, Value};
use session_db::{DbOptions, DbStore};

const SECRET: &str = "interop-secret-key-0123456789abcdef";

struct Shared {
    store: Arc<DbStore>,
    django: Django,
}

async fn shared(label: &str, url: &str) -> Option<Shared> {
    let table = format!("interop_{}", &generate_key()[..10]);
    let settings = Settings::new(SECRET).unwrap();
    let options = DbOptions {
        table: table.clone(),
        ..DbOptions::default()
    };
    let store = match DbStore::connect_with(
        url,
        settings.session_signer(),
        Arc::new(SystemClock),
        options,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            unavailable(label, &e);
            return None;
        }
    };
    store.ensure_schema().await.unwrap();
    let django = Django::locate(
        label,
        json!({"engine": "db", "secret": SECRET, "database_url": url, "table": table}),
    )?;
    Some(Shared {
        store: Arc::new(store),
        django,
    })
}

fn session(s: &Shared, key: Option<&str>) -> Session {
    Session::new(s.store.clone(), SessionConfig::default(), key)
}

async fn round_trips(label: &str, url: &str) {
    let Some(s) = shared(label, url).await else {
        return;
    };

    // Django creates → we load, modify, save → Django sees the change.
    let created = s
        .django
        .run(
            "create",
            &[],
            r#"{"user": "ada", "n": 1, "é": [1.5, null]}"#,
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let mut ours = session(&s, Some(&key));
    assert_eq!(
        ours.get_value("user").await.unwrap(),
        Some(Value::from("ada"))
    );
    assert_eq!(
        ours.get_value("é").await.unwrap().unwrap().to_python_json(),
        "[1.5,null]"
    );
    ours.insert_value("n", 2).await.unwrap();
    ours.save(false).await.unwrap();
    let seen = s.django.run("load", &[&key], "").await;
    assert_eq!(
        seen["data"],
        json!({"user": "ada", "n": 2, "é": [1.5, null]}),
        "{label}"
    );

    // We create → Django loads.
    let mut fresh = session(&s, None);
    fresh
        .insert_value("cart", Value::from(vec![1, 2, 3]))
        .await
        .unwrap();
    fresh.set_expiry(Expiry::Seconds(3600)).await.unwrap();
    fresh.save(false).await.unwrap();
    let our_key = fresh.session_key().unwrap().to_owned();
    let seen = s.django.run("load", &[&our_key], "").await;
    assert_eq!(seen["key"], json!(our_key), "{label}: Django keeps our key");
    assert_eq!(
        seen["data"],
        json!({"cart": [1, 2, 3], "_session_expiry": 3600}),
        "{label}"
    );

    // Django modifies ours → we see it.
    let updated = s
        .django
        .run("update", &[&our_key], r#"{"coupon": "X1"}"#)
        .await;
    assert_eq!(updated, json!({"ok": true}));
    let mut again = session(&s, Some(&our_key));
    assert_eq!(
        again.get_value("coupon").await.unwrap(),
        Some(Value::from("X1"))
    );

    // Django deletes → our save is Gone, and the row stays deleted.
    let mut stale = session(&s, Some(&key));
    stale.data().await.unwrap();
    s.django.run("delete", &[&key], "").await;
    stale.insert_value("late", true).await.unwrap();
    assert!(
        matches!(stale.save(false).await, Err(session_core::Error::Gone)),
        "{label}"
    );
    assert!(s.store.raw_row(&key).await.unwrap().is_none());
    // We delete → Django finds no session and drops the key (it never reuses it).
    s.store.delete(&our_key).await.unwrap();
    let gone = s.django.run("load", &[&our_key], "").await;
    assert_eq!(gone, json!({"key": null, "data": {}}), "{label}");

    // Each side's clear_expired removes the other's expired rows.
    let mut expired_ours = session(&s, None);
    expired_ours.set_expiry(Expiry::Seconds(-60)).await.unwrap();
    expired_ours.save(false).await.unwrap();
    let expired_ours_key = expired_ours.session_key().unwrap().to_owned();
    let django_key = s.django.run("create", &[], r#"{"a": 1}"#).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.django.run("set_expiry", &[&django_key, "-60"], "").await;
    let live = s.django.run("create", &[], r#"{"live": 1}"#).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.django.run("clear_expired", &[], "").await;
    assert!(
        s.store.raw_row(&expired_ours_key).await.unwrap().is_none(),
        "{label}: Django cleared our expired row"
    );
    let mut expired_again = session(&s, None);
    expired_again
        .set_expiry(Expiry::Seconds(-60))
        .await
        .unwrap();
    expired_again.save(false).await.unwrap();
    let django_expired = s.django.run("create", &[], r#"{"b": 2}"#).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.django
        .run("set_expiry", &[&django_expired, "-60"], "")
        .await;
    assert_eq!(
        s.store.clear_expired().await.unwrap(),
        Some(2),
        "{label}: ours and Django's"
    );
    assert!(s.store.raw_row(&django_expired).await.unwrap().is_none());
    assert!(
        s.store.raw_row(&live).await.unwrap().is_some(),
        "{label}: live rows stay"
    );
    s.store.drop_table().await.unwrap();
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn django_interop_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shared.sqlite3", dir.path().display());
    round_trips("db-sqlite interop", &url).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn django_interop_postgres() {
    let url = service_url(
        "POSTGRES_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/sessions_test",
    );
    round_trips("db-postgres interop", &url).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn django_interop_mysql() {
    let url = service_url(
        "MYSQL_URL",
        "mysql://sessions:sessions@127.0.0.1:3306/sessions_test",
    );
    round_trips("db-mysql interop", &url).await;
}
