//! The axum extractor: `LoggedInUser` is the verified id, anyone else gets 401.

use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Request, StatusCode, header};
use session_auth::{AuthState, Authenticator, LoggedInUser, StaticUsers, User};
use session_core::{DynSessionStore, Settings, memory::MemoryStore};
use session_middleware::{SessionError, SessionHandle, SessionLayer};
use tower::ServiceExt as _;

fn app(users: StaticUsers) -> Router {
    let settings = Settings::new("extractor-secret-0123456789abcdef").unwrap();
    let auth = Arc::new(Authenticator::from_settings(&settings));
    let store: Arc<DynSessionStore> = Arc::new(MemoryStore::default());
    let state = AuthState {
        auth: auth.clone(),
        users: Arc::new(users),
    };
    Router::new()
        .route(
            "/me",
            get(|LoggedInUser(id): LoggedInUser| async move { format!("user {id}") }),
        )
        .route(
            "/login",
            get(move |s: SessionHandle| {
                let auth = auth.clone();
                async move {
                    let mut s = s.lock().await;
                    auth.login(&mut s, &User::new("7", "md5$salt$hash")).await?;
                    Ok::<_, SessionError>("ok")
                }
            }),
        )
        .layer(Extension(state))
        .layer(SessionLayer::new(store, &settings))
}

async fn get_with(
    app: &Router,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let set = res
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), set)
}

#[tokio::test]
async fn a_verified_login_is_extracted_and_anyone_else_is_refused() {
    let users = StaticUsers::from([User::new("7", "md5$salt$hash")]);
    let app = app(users);
    let (status, _, _) = get_with(&app, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, cookie) = get_with(&app, "/login", None).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie.expect("a session cookie");
    let (status, body, _) = get_with(&app, "/me", Some(&cookie)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user 7"));
}

#[tokio::test]
async fn a_changed_password_hash_is_refused() {
    // The session was made for "md5$salt$hash"; the user's hash is now different.
    let users = StaticUsers::from([User::new("7", "md5$salt$changed")]);
    let app = app(users);
    let (_, _, cookie) = get_with(&app, "/login", None).await;
    let (status, _, set) = get_with(&app, "/me", Some(&cookie.unwrap())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        set.is_some_and(|c| c.starts_with("sessionid=\"\"")),
        "the flushed session's cookie is deleted"
    );
}

/// SESSION_ABSOLUTE_TIMEOUT_FROM=login: the absolute lifetime starts at the login, not at the
/// anonymous session's creation, and an anonymous session has no absolute limit.
#[tokio::test]
async fn the_absolute_lifetime_can_start_at_login() {
    use session_core::memory::MemoryStore;
    use session_core::{ManualClock, Session, SessionConfig, Settings};
    let settings = Settings::from_pairs([
        ("SECRET_KEY", "absolute-from-login-secret"),
        ("SESSION_ABSOLUTE_TIMEOUT", "3600"),
        ("SESSION_ABSOLUTE_TIMEOUT_FROM", "login"),
    ])
    .unwrap();
    let clock = ManualClock::at_unix(1_700_000_000.0);
    let store = std::sync::Arc::new(MemoryStore::with_clock(std::sync::Arc::new(clock.clone())));
    let config =
        SessionConfig::from_settings(&settings).with_clock(std::sync::Arc::new(clock.clone()));
    let auth = session_auth::Authenticator::from_settings(&settings);
    let mut s = Session::new(store.clone(), config.clone(), None);
    s.insert_value("cart", 1).await.unwrap();
    s.save(false).await.unwrap();
    assert_eq!(
        s.get_value(session_core::expiry::STARTED_KEY)
            .await
            .unwrap(),
        None,
        "anonymous: no start"
    );
    clock.advance_secs(7200); // longer than the limit, before the login
    let key = s.session_key().unwrap().to_owned();
    let mut s = Session::new(store.clone(), config.clone(), Some(&key));
    assert!(
        s.get_value("cart").await.unwrap().is_some(),
        "no absolute limit before a login"
    );
    auth.login(&mut s, &session_auth::User::new("7", "pbkdf2_sha256$x"))
        .await
        .unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    clock.advance_secs(3500);
    let mut s = Session::new(store.clone(), config.clone(), Some(&key));
    assert!(
        s.get_value("_auth_user_id").await.unwrap().is_some(),
        "3500 s after the login"
    );
    s.insert_value("seen", 1).await.unwrap();
    s.save(false).await.unwrap();
    clock.advance_secs(101);
    let mut s = Session::new(store, config, Some(&key));
    assert_eq!(
        s.get_value("_auth_user_id").await.unwrap(),
        None,
        "3601 s after the login: over"
    );
}
