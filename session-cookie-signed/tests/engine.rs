//! Signed-cookie behaviour beyond the shared suite, and live interop with Django.

use std::sync::Arc;

use chrono::TimeDelta;
use serde_json::json;
use session_conformance::django::Django;
use session_cookie_signed::SignedCookieStore;
use session_core::codec::{SIGNED_COOKIE_SALT, Secret, Signer};
use session_core::expiry::ManualClock;
use session_core::{Error, Expiry, Session, SessionConfig, SessionStore, Settings, Value};

const SECRET: &str = "signed-cookie-secret";

fn store(clock: &ManualClock, secret: &str, fallbacks: &[&str]) -> Arc<SignedCookieStore> {
    let fallbacks: Vec<Secret> = fallbacks.iter().map(Secret::new).collect();
    let signer = Signer::new(SIGNED_COOKIE_SALT, &Secret::new(secret), &fallbacks);
    Arc::new(SignedCookieStore::new(
        signer,
        Default::default(),
        Default::default(),
        Arc::new(clock.clone()),
    ))
}

fn config(clock: &ManualClock) -> SessionConfig {
    SessionConfig::default().with_clock(Arc::new(clock.clone()))
}

async fn cookie_with(
    store: &Arc<SignedCookieStore>,
    clock: &ManualClock,
    pairs: &[(&str, Value)],
) -> String {
    let mut s = Session::new(store.clone(), config(clock), None);
    for (k, v) in pairs {
        s.insert_value(k, v.clone()).await.unwrap();
    }
    s.save(false).await.unwrap();
    s.session_key().unwrap().to_owned()
}

#[tokio::test]
async fn max_age_boundary_is_the_cookie_age() {
    let clock = ManualClock::at_unix(1_767_323_045.0);
    let store = store(&clock, SECRET, &[]);
    let cookie = cookie_with(&store, &clock, &[("c", 1.into())]).await;
    clock.advance_secs(1_209_600);
    assert!(
        store.load(&cookie).await.unwrap().is_some(),
        "age == SESSION_COOKIE_AGE is accepted"
    );
    clock.advance_secs(1);
    assert!(
        store.load(&cookie).await.unwrap().is_none(),
        "one second more is rejected"
    );
}

#[tokio::test]
async fn fallback_secret_accepted_and_next_save_uses_the_current_one() {
    let clock = ManualClock::at_unix(1_767_323_045.0);
    let old = store(&clock, "old-secret", &[]);
    let cookie = cookie_with(&old, &clock, &[("x", 1.into())]).await;
    let rotated = store(&clock, "new-secret", &["old-secret"]);
    let mut s = Session::new(rotated.clone(), config(&clock), Some(&cookie));
    assert_eq!(s.get_value("x").await.unwrap(), Some(1.into()));
    s.insert_value("y", 2).await.unwrap();
    s.save(false).await.unwrap();
    let resigned = s.session_key().unwrap();
    let current_only = store(&clock, "new-secret", &[]);
    assert!(
        current_only.load(resigned).await.unwrap().is_some(),
        "signed with SECRET_KEY"
    );
    assert!(
        old.load(resigned).await.unwrap().is_none(),
        "not with the fallback"
    );
}

#[tokio::test]
async fn custom_expiry_is_enforced_on_read() {
    let clock = ManualClock::at_unix(1_767_323_045.0);
    let store = store(&clock, SECRET, &[]);
    let mut s = Session::new(store.clone(), config(&clock), None);
    s.insert_value("k", "v").await.unwrap();
    s.set_expiry(Expiry::Seconds(60)).await.unwrap();
    s.save(false).await.unwrap();
    let cookie = s.session_key().unwrap().to_owned();
    clock.advance_secs(59);
    assert!(store.load(&cookie).await.unwrap().is_some());
    clock.advance_secs(1);
    assert!(
        store.load(&cookie).await.unwrap().is_none(),
        "60 s of inactivity reached"
    );
    let mut at = Session::new(store.clone(), config(&clock), None);
    at.set_expiry(Expiry::After(TimeDelta::seconds(10)))
        .await
        .unwrap();
    at.save(false).await.unwrap();
    let cookie = at.session_key().unwrap().to_owned();
    clock.advance_secs(10);
    assert!(
        store.load(&cookie).await.unwrap().is_none(),
        "absolute expiry reached"
    );
}

#[tokio::test]
async fn oversized_cookie_is_an_error_not_a_dropped_cookie() {
    let clock = ManualClock::at_unix(1_767_323_045.0);
    let store = store(&clock, SECRET, &[]);
    let mut s = Session::new(store.clone(), config(&clock), None);
    // Random text (≈5.2 bits a character) cannot compress below the limit.
    let noise: String = (0..200)
        .map(|_| session_core::key::generate_key())
        .collect();
    s.insert_value("noise", noise).await.unwrap();
    match s.save(false).await {
        Err(Error::TooLarge { size, limit }) => assert!(size > limit && limit == 4096),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Just under the limit is fine.
    let mut small = Session::new(store.clone(), config(&clock), None);
    small.insert_value("noise", "x".repeat(100)).await.unwrap();
    small.save(false).await.unwrap();
}

#[tokio::test]
async fn interop_with_django_signed_cookies() {
    let Some(django) = Django::locate(
        "signed_cookies interop",
        json!({"engine": "signed_cookies", "secret": SECRET}),
    ) else {
        return;
    };
    let settings = Settings::new(SECRET).unwrap();
    let store = Arc::new(SignedCookieStore::from_settings(&settings));
    let config = SessionConfig::from_settings(&settings);

    // Django writes a cookie → we read it, modify it → Django reads ours.
    let theirs = django
        .run("create", &[], r#"{"cart": [1, 2], "u": "é"}"#)
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut s = Session::new(store.clone(), config.clone(), Some(&theirs));
    assert_eq!(s.get_value("u").await.unwrap(), Some(Value::from("é")));
    s.insert_value("cart", Value::from(vec![1, 2, 3]))
        .await
        .unwrap();
    s.save(false).await.unwrap();
    let ours = s.session_key().unwrap().to_owned();
    let seen = django.run("load", &[&ours], "").await;
    assert_eq!(seen["data"], json!({"cart": [1, 2, 3], "u": "é"}));

    // A custom expiry we write is ignored by Django (it only checks the cookie age).
    let mut e = Session::new(store.clone(), config.clone(), None);
    e.insert_value("k", 1).await.unwrap();
    e.set_expiry(Expiry::Seconds(3600)).await.unwrap();
    e.save(false).await.unwrap();
    let seen = django.run("load", &[e.session_key().unwrap()], "").await;
    assert_eq!(seen["data"], json!({"k": 1, "_session_expiry": 3600}));

    // Django's flush is seen by us (its next cookie holds {}), ours by Django.
    let flushed = django.run("flush_and_save", &[&ours], "").await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        store.load(&flushed).await.unwrap().map(|m| m.len()),
        Some(0)
    );
    let mut f = Session::new(store.clone(), config.clone(), Some(&ours));
    f.flush().await.unwrap();
    f.save(false).await.unwrap();
    let seen = django.run("load", &[f.session_key().unwrap()], "").await;
    assert_eq!(seen["data"], json!({}));

    // A forged cookie: Django and we both start over with an empty session.
    // (The last character changed, whatever it was: never the cookie itself.)
    let last = if ours.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{}{last}", &ours[..ours.len() - 1]);
    assert_eq!(django.run("load", &[&forged], "").await["data"], json!({}));
    assert!(store.load(&forged).await.unwrap().is_none());
}

#[tokio::test]
async fn an_out_of_range_custom_expiry_is_an_empty_session_not_a_panic() {
    let clock = ManualClock::at_unix(1_767_323_045.0);
    let s = store(&clock, SECRET, &[]);
    let signer = Signer::new(SIGNED_COOKIE_SALT, &Secret::new(SECRET), &[]);
    for v in [
        Value::from(1e300),
        Value::from(-1e300),
        Value::from(9_000_000_000_000i64),
    ] {
        let mut m = session_core::Map::new();
        m.insert("user".into(), Value::from("ada"));
        m.insert("_session_expiry".into(), v);
        let cookie = signer.sign_map(
            &m,
            chrono::DateTime::from_timestamp(1_767_323_045, 0).unwrap(),
        );
        assert_eq!(s.load(&cookie).await.unwrap(), None);
        let mut session = Session::new(s.clone(), config(&clock), Some(&cookie));
        assert!(session.load().await.unwrap().is_empty());
    }
}

/// SESSION_IDLE_TIMEOUT on signed cookies (configured on the engine: the signature's max
/// age becomes the idle window): a touch re-signs the same data with a fresh timestamp.
#[tokio::test]
async fn idle_timeout_is_the_signature_max_age_and_a_touch_re_signs() {
    use session_core::ExpiryPolicy;
    let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
    let policy = ExpiryPolicy::default().with_idle_timeout(600);
    let signer = Signer::new(SIGNED_COOKIE_SALT, &Secret::new(SECRET), &[]);
    let store = Arc::new(SignedCookieStore::new(
        signer,
        Default::default(),
        policy,
        Arc::new(clock.clone()),
    ));
    let config = SessionConfig {
        policy,
        ..SessionConfig::default()
    }
    .with_clock(Arc::new(clock.clone()));
    let mut s = Session::new(store.clone(), config.clone(), None);
    s.insert_value("k", "v").await.unwrap();
    s.save(false).await.unwrap();
    let mut cookie = s.session_key().unwrap().to_owned();
    clock.advance_secs(400);
    let mut r = Session::new(store.clone(), config.clone(), Some(&cookie));
    assert_eq!(r.get_value("k").await.unwrap(), Some(Value::from("v")));
    assert!(r.touch_if_due().await.unwrap(), "200 s of 600 left");
    assert_ne!(r.session_key().unwrap(), cookie, "re-signed");
    let old = cookie.clone();
    cookie = r.session_key().unwrap().to_owned();
    clock.advance_secs(500);
    assert!(
        store.load(&cookie).await.unwrap().is_some(),
        "the touched cookie lives on"
    );
    assert!(
        store.load(&old).await.unwrap().is_none(),
        "the old one is past the idle window"
    );
    clock.advance_secs(101);
    assert!(
        store.load(&cookie).await.unwrap().is_none(),
        "idle for 601 s"
    );
}
