//! Logins shared with real Django (django.contrib.auth, through tests/django/helper.py), on
//! one SQLite database: Django's login seen by Rust, Rust's login seen by Django's
//! `get_user`, a password changed in Django logging the Rust side out, and a SECRET_KEY
//! rotation with fallbacks keeping users logged in on both sides.

#![cfg(feature = "sqlite")]

use std::sync::Arc;

use serde_json::json;
use session_auth::{Authenticator, DjangoUsers, User, UserLookup};
use session_conformance::django::Django;
use session_core::{DynSessionStore, Session, SessionConfig, Settings, SettingsSource};

struct Side {
    settings: Settings,
    store: Arc<DynSessionStore>,
    auth: Authenticator,
}

async fn rust_side(db: &str, secret: &str, fallbacks: &[&str]) -> Side {
    let settings = Settings::from_source(SettingsSource::from_pairs([
        ("SECRET_KEY", secret.to_owned()),
        (
            "SECRET_KEY_FALLBACKS",
            serde_json::to_string(fallbacks).unwrap(),
        ),
        ("SESSION_ENGINE", "db".to_owned()),
        ("DATABASE_URL", db.to_owned()),
    ]))
    .unwrap();
    let store = session_registry::build_store(&settings).await.unwrap();
    Side {
        auth: Authenticator::from_settings(&settings),
        settings,
        store,
    }
}

impl Side {
    fn session(&self, key: Option<&str>) -> Session {
        Session::new(
            self.store.clone(),
            SessionConfig::from_settings(&self.settings),
            key,
        )
    }
}

fn django(db: &str, secret: &str, fallbacks: &[&str]) -> Option<Django> {
    Django::locate(
        "auth interop",
        json!({"engine": "db", "secret": secret, "fallbacks": fallbacks,
               "database_url": db, "auth": true}),
    )
}

fn s(v: &serde_json::Value) -> String {
    v.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_pass_both_ways_and_password_changes_log_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("project.sqlite3").display());
    let secret = "auth-interop-secret-0123456789abcdefghij";
    let Some(dj) = django(&db, secret, &[]) else {
        return;
    };
    dj.run("auth_setup", &[], "").await;
    let ada = s(&dj.run("create_user", &["ada", "first-pw"], "").await["id"]);
    let bob = s(&dj.run("create_user", &["bob", "bob-pw"], "").await["id"]);
    let rust = rust_side(&db, secret, &[]).await;
    let users = DjangoUsers::connect(&db).await.unwrap();

    // Django logs ada in; Rust sees the same id.
    let key = s(&dj.run("login", &["-", "ada"], "").await["key"]);
    let mut session = rust.session(Some(&key));
    assert_eq!(
        rust.auth.get_user(&mut session, &users).await.unwrap(),
        Some(ada.clone())
    );

    // Rust logs bob in (a new key: no fixation); Django's get_user sees bob.
    let mut fresh = rust.session(None);
    fresh.insert("cart", &["book"]).await.unwrap();
    fresh.save(false).await.unwrap();
    let anonymous_key = fresh.session_key().unwrap().to_owned();
    let password = users.password(&bob).await.unwrap().unwrap();
    rust.auth
        .login(&mut fresh, &User::new(bob.clone(), password))
        .await
        .unwrap();
    fresh.save(false).await.unwrap();
    let bob_key = fresh.session_key().unwrap().to_owned();
    assert_ne!(bob_key, anonymous_key, "login cycles the key");
    let seen = dj.run("get_user", &[&bob_key], "").await;
    assert_eq!(
        seen["id"],
        json!(bob),
        "Django's get_user sees Rust's login"
    );
    assert_eq!(
        fresh.get::<Vec<String>>("cart").await.unwrap().unwrap(),
        ["book"]
    );

    // Logging another user in on the same session flushes it (Django's rule).
    let ada_password = users.password(&ada).await.unwrap().unwrap();
    rust.auth
        .login(&mut fresh, &User::new(ada.clone(), ada_password))
        .await
        .unwrap();
    assert_eq!(
        fresh.get::<Vec<String>>("cart").await.unwrap(),
        None,
        "flushed"
    );

    // A password changed in Django logs ada out on the Rust side (session flushed)…
    dj.run("set_password", &["ada", "second-pw"], "").await;
    let mut session = rust.session(Some(&key));
    assert_eq!(
        rust.auth.get_user(&mut session, &users).await.unwrap(),
        None
    );
    assert!(
        !rust.store.exists(&key).await.unwrap(),
        "the old session is deleted"
    );
    // …and Django itself logs out a session Rust logged in with the old hash.
    dj.run("set_password", &["bob", "bob-new-pw"], "").await;
    let seen = dj.run("get_user", &[&bob_key], "").await;
    assert_eq!(seen["id"], json!(null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_rotation_with_fallbacks_keeps_users_logged_in_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("project.sqlite3").display());
    let old = "the-old-secret-0123456789abcdefghijklmn";
    let new = "the-new-secret-0123456789abcdefghijklmn";
    let Some(before) = django(&db, old, &[]) else {
        return;
    };
    before.run("auth_setup", &[], "").await;
    let ada = s(&before.run("create_user", &["ada", "pw"], "").await["id"]);
    let by_django = s(&before.run("login", &["-", "ada"], "").await["key"]);
    let by_django_too = s(&before.run("login", &["-", "ada"], "").await["key"]);

    // Rotated: SECRET_KEY is new, the old one a fallback, on both sides.
    let rust = rust_side(&db, new, &[old]).await;
    let after = django(&db, new, &[old]).unwrap();
    let users = DjangoUsers::connect(&db).await.unwrap();
    let mut session = rust.session(Some(&by_django));
    assert_eq!(
        rust.auth.get_user(&mut session, &users).await.unwrap(),
        Some(ada.clone()),
        "a hash made with the fallback is accepted"
    );
    session.save(false).await.unwrap();
    let reissued = session.session_key().unwrap().to_owned();
    assert_ne!(reissued, by_django, "re-issued after cycle_key");
    let password = users.password(&ada).await.unwrap().unwrap();
    assert_eq!(
        session
            .get::<String>(session_auth::HASH_SESSION_KEY)
            .await
            .unwrap(),
        Some(rust.auth.hash(&password)),
        "now with the current secret"
    );
    // Django after the rotation sees both: the one Rust re-issued, and one it re-issues.
    assert_eq!(
        after.run("get_user", &[&reissued], "").await["id"],
        json!(ada)
    );
    assert_eq!(
        after.run("get_user", &[&by_django_too], "").await["id"],
        json!(ada)
    );
}
