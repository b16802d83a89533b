//! Django's SessionMiddleware.process_response (django/contrib/sessions/middleware.py), its
//! cookie strings (HttpResponse.set_cookie / delete_cookie) and Vary patching
//! (django.utils.cache.patch_vary_headers), on the memory store with a fixed clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use axum::routing::get;
use session_core::memory::MemoryStore;
use session_core::{
    DynSessionStore, Error, Expiry, ManualClock, Map, Record, SessionConfig, SessionStore, Settings,
};
use session_middleware::{BAD_REQUEST_BODY, SessionHandle, SessionLayer};
use tower::ServiceExt as _;

const NOW: f64 = 1_700_000_000.7;

/// A store that counts calls and can be told to fail saves.
#[derive(Debug)]
struct Probe {
    inner: MemoryStore,
    calls: AtomicUsize,
    fail_saves: bool,
}

impl Default for Probe {
    fn default() -> Probe {
        Probe {
            inner: MemoryStore::with_clock(Arc::new(ManualClock::at_unix(NOW))),
            calls: AtomicUsize::new(0),
            fail_saves: false,
        }
    }
}

#[async_trait]
impl SessionStore for Probe {
    fn engine_name(&self) -> &'static str {
        "probe"
    }
    fn stores_data_in_cookie(&self) -> bool {
        false
    }
    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.exists(key).await
    }
    async fn create(&self, r: &Record<'_>) -> Result<String, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_saves {
            return Err(Error::transient("probe", "disk on fire"));
        }
        self.inner.create(r).await
    }
    async fn save(&self, r: &Record<'_>) -> Result<String, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_saves {
            return Err(Error::transient("probe", "disk on fire"));
        }
        self.inner.save(r).await
    }
    async fn delete(&self, key: &str) -> Result<(), Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }
    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        self.inner.clear_expired().await
    }
}

struct App {
    store: Arc<Probe>,
    settings: Settings,
}

impl App {
    fn new(settings: Settings) -> App {
        App {
            store: Arc::new(Probe::default()),
            settings,
        }
    }

    fn default() -> App {
        App::new(Settings::new("middleware-secret").unwrap())
    }

    fn router(&self) -> Router {
        let config = SessionConfig::from_settings(&self.settings)
            .with_clock(Arc::new(ManualClock::at_unix(NOW)));
        let layer = SessionLayer::with_config(
            self.store.clone() as Arc<DynSessionStore>,
            &self.settings,
            config,
        );
        Router::new()
            .route("/untouched", get(|| async { "ok" }))
            .route(
                "/read",
                get(|s: SessionHandle| async move {
                    let n = s.lock().await.get::<i64>("n").await.unwrap();
                    format!("{n:?}")
                }),
            )
            .route(
                "/write",
                get(|s: SessionHandle| async move {
                    s.lock().await.insert("n", &1).await.unwrap();
                    "ok"
                }),
            )
            .route(
                "/write-browser-close",
                get(|s: SessionHandle| async move {
                    let mut s = s.lock().await;
                    s.insert("n", &1).await.unwrap();
                    s.set_expiry(Expiry::Seconds(0)).await.unwrap();
                    "ok"
                }),
            )
            .route(
                "/write-then-fail",
                get(|s: SessionHandle| async move {
                    s.lock().await.insert("n", &1).await.unwrap();
                    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
                }),
            )
            .route(
                "/flush",
                get(|s: SessionHandle| async move {
                    s.lock().await.flush().await.unwrap();
                    "ok"
                }),
            )
            .route(
                "/clear",
                get(|s: SessionHandle| async move {
                    let mut s = s.lock().await;
                    s.load().await.unwrap();
                    s.clear();
                    "ok"
                }),
            )
            .route(
                "/vary",
                get(|s: SessionHandle| async move {
                    s.lock().await.get_value("n").await.unwrap();
                    let mut res = Response::new(Body::from("ok"));
                    res.headers_mut()
                        .insert(header::VARY, "Accept-Encoding".parse().unwrap());
                    res
                }),
            )
            .route(
                "/vary-star",
                get(|s: SessionHandle| async move {
                    s.lock().await.get_value("n").await.unwrap();
                    let mut res = Response::new(Body::from("ok"));
                    res.headers_mut().insert(header::VARY, "*".parse().unwrap());
                    res
                }),
            )
            .layer(layer)
    }

    async fn get(&self, path: &str, cookies: &[&str]) -> Response<Body> {
        let mut req = Request::get(path);
        for c in cookies {
            req = req.header(header::COOKIE, *c);
        }
        self.router()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    /// A stored session holding `n = 7`; its key.
    async fn stored(&self) -> String {
        let store = self.store.clone() as Arc<DynSessionStore>;
        let mut s = session_core::Session::new(store, SessionConfig::default(), None);
        s.insert("n", &7).await.unwrap();
        s.save(false).await.unwrap();
        s.session_key().unwrap().to_owned()
    }
}

fn set_cookies(h: &HeaderMap) -> Vec<String> {
    h.get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn vary(h: &HeaderMap) -> Option<String> {
    h.get(header::VARY).map(|v| v.to_str().unwrap().to_owned())
}

async fn body(res: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn a_new_session_is_saved_with_djangos_exact_cookie() {
    let app = App::default();
    let res = app.get("/write", &[]).await;
    let cookies = set_cookies(res.headers());
    assert_eq!(cookies.len(), 1);
    let key = app.store.inner.keys().pop().expect("one session stored");
    assert_eq!(
        cookies[0],
        format!(
            "sessionid={key}; expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"
        )
    );
    assert_eq!(vary(res.headers()).as_deref(), Some("Cookie"));
}

#[tokio::test]
async fn an_untouched_session_costs_no_storage_call_and_no_header() {
    let app = App::default();
    let key = app.stored().await;
    let before = app.store.calls.load(Ordering::SeqCst);
    let res = app.get("/untouched", &[&format!("sessionid={key}")]).await;
    assert_eq!(app.store.calls.load(Ordering::SeqCst), before, "lazy");
    assert!(set_cookies(res.headers()).is_empty());
    assert_eq!(vary(res.headers()), None);
}

#[tokio::test]
async fn reading_sets_vary_but_no_cookie_and_the_last_duplicate_cookie_wins() {
    let app = App::default();
    let key = app.stored().await;
    let res = app
        .get(
            "/read",
            &[
                "sessionid=zzzzzzzzzzzz; other=1",
                &format!("sessionid={key}"),
            ],
        )
        .await;
    assert!(set_cookies(res.headers()).is_empty());
    assert_eq!(vary(res.headers()).as_deref(), Some("Cookie"));
    assert_eq!(body(res).await, "Some(7)");
}

#[tokio::test]
async fn a_short_cookie_is_deleted_on_every_response() {
    let app = App::default();
    for cookie in ["sessionid=abc", "sessionid="] {
        let res = app.get("/untouched", &[cookie]).await;
        assert_eq!(
            set_cookies(res.headers()),
            vec![
                r#"sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"#
            ]
        );
        assert_eq!(vary(res.headers()).as_deref(), Some("Cookie"));
    }
}

#[tokio::test]
async fn an_unknown_key_is_left_alone_until_accessed_then_deleted() {
    let app = App::default();
    let unknown = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
    let res = app.get("/untouched", &[unknown]).await;
    assert!(set_cookies(res.headers()).is_empty());
    assert_eq!(vary(res.headers()), None);
    let res = app.get("/read", &[unknown]).await;
    assert_eq!(set_cookies(res.headers()).len(), 1);
    assert!(set_cookies(res.headers())[0].starts_with("sessionid=\"\"; expires=Thu, 01 Jan 1970"));
    assert_eq!(vary(res.headers()).as_deref(), Some("Cookie"));
}

#[tokio::test]
async fn flushing_without_a_cookie_sets_only_vary() {
    let app = App::default();
    let res = app.get("/flush", &[]).await;
    assert!(set_cookies(res.headers()).is_empty());
    assert_eq!(vary(res.headers()).as_deref(), Some("Cookie"));
}

#[tokio::test]
async fn clearing_the_data_but_keeping_the_key_still_saves() {
    let app = App::default();
    let key = app.stored().await;
    let res = app.get("/clear", &[&format!("sessionid={key}")]).await;
    let cookies = set_cookies(res.headers());
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].starts_with(&format!("sessionid={key}; ")));
    assert_eq!(app.store.inner.load(&key).await.unwrap(), Some(Map::new()));
}

#[tokio::test]
async fn a_5xx_response_never_saves() {
    let app = App::default();
    let res = app.get("/write-then-fail", &[]).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(set_cookies(res.headers()).is_empty());
    assert_eq!(vary(res.headers()).as_deref(), Some("Cookie"), "accessed");
    assert!(app.store.inner.keys().is_empty(), "nothing stored");
}

#[tokio::test]
async fn a_browser_close_session_has_no_max_age_or_expires() {
    let app = App::default();
    let res = app.get("/write-browser-close", &[]).await;
    let key = app.store.inner.keys().pop().unwrap();
    assert_eq!(
        set_cookies(res.headers()),
        vec![format!("sessionid={key}; HttpOnly; Path=/; SameSite=Lax")]
    );
}

#[tokio::test]
async fn save_every_request_issues_a_new_session_for_an_unknown_cookie() {
    let mut settings = Settings::new("middleware-secret").unwrap();
    settings.save_every_request = true;
    let app = App::new(settings);
    let res = app
        .get(
            "/untouched",
            &["sessionid=abcdefghijklmnopqrstuvwxyz012345"],
        )
        .await;
    let cookies = set_cookies(res.headers());
    assert_eq!(cookies.len(), 1);
    let key = app.store.inner.keys().pop().expect("a new empty session");
    assert_ne!(key, "abcdefghijklmnopqrstuvwxyz012345");
    assert!(cookies[0].starts_with(&format!("sessionid={key}; ")));
}

#[tokio::test]
async fn custom_cookie_settings_give_djangos_strings() {
    let settings = Settings::from_pairs([
        ("SECRET_KEY", "middleware-secret"),
        ("SESSION_COOKIE_DOMAIN", ".example.com"),
        ("SESSION_COOKIE_PATH", "/app"),
        ("SESSION_COOKIE_SECURE", "true"),
        ("SESSION_COOKIE_HTTPONLY", "false"),
        ("SESSION_COOKIE_SAMESITE", "None"),
    ])
    .unwrap();
    let app = App::new(settings);
    let res = app.get("/write", &[]).await;
    let key = app.store.inner.keys().pop().unwrap();
    assert_eq!(
        set_cookies(res.headers()),
        vec![format!(
            "sessionid={key}; Domain=.example.com; expires=Tue, 28 Nov 2023 22:13:20 GMT; Max-Age=1209600; Path=/app; SameSite=None; Secure"
        )]
    );
    let res = app.get("/untouched", &["sessionid=short"]).await;
    assert_eq!(
        set_cookies(res.headers()),
        vec![
            r#"sessionid=""; Domain=.example.com; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/app; SameSite=None; Secure"#
        ]
    );
}

#[tokio::test]
async fn vary_is_merged_as_django_patches_it() {
    let app = App::default();
    let res = app.get("/vary", &[]).await;
    assert_eq!(
        vary(res.headers()).as_deref(),
        Some("Accept-Encoding, Cookie")
    );
    let res = app.get("/vary-star", &[]).await;
    assert_eq!(vary(res.headers()).as_deref(), Some("*"));
}

#[tokio::test]
async fn a_session_deleted_during_the_request_answers_400() {
    let app = App::default();
    let key = app.stored().await;
    let store = app.store.clone();
    let k = key.clone();
    let config = SessionConfig::from_settings(&app.settings);
    let layer = SessionLayer::with_config(
        app.store.clone() as Arc<DynSessionStore>,
        &app.settings,
        config,
    );
    let router = Router::new()
        .route(
            "/",
            get(move |s: SessionHandle| async move {
                let mut s = s.lock().await;
                s.get_value("n").await.unwrap();
                store.delete(&k).await.unwrap(); // a concurrent logout
                s.insert("n", &8).await.unwrap();
                "ok"
            }),
        )
        .layer(layer);
    let req = Request::get("/")
        .header(header::COOKIE, format!("sessionid={key}"))
        .body(Body::empty())
        .unwrap();
    let res = router.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookies(res.headers()).is_empty());
    assert_eq!(body(res).await, BAD_REQUEST_BODY);
    assert_eq!(
        app.store.inner.load(&key).await.unwrap(),
        None,
        "not resurrected"
    );
}

#[tokio::test]
async fn a_failed_save_answers_500_never_a_silent_drop() {
    let app = App {
        store: Arc::new(Probe {
            fail_saves: true,
            ..Probe::default()
        }),
        settings: Settings::new("middleware-secret").unwrap(),
    };
    let res = app.get("/write", &[]).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(set_cookies(res.headers()).is_empty());
}

#[tokio::test]
async fn a_non_ascii_byte_in_another_cookie_keeps_the_session() {
    let app = App::default();
    let key = app.stored().await;
    for other in [
        &b"theme=caf\xc3\xa9"[..],
        &b"theme=caf\xe9"[..],
        &b"\xff\xfe=\x80"[..],
    ] {
        let mut value = other.to_vec();
        value.extend_from_slice(format!("; sessionid={key}").as_bytes());
        let req = Request::get("/read")
            .header(
                header::COOKIE,
                header::HeaderValue::from_bytes(&value).unwrap(),
            )
            .body(Body::empty())
            .unwrap();
        let res = app.router().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.headers().get(header::SET_COOKIE).is_none(),
            "no new session is issued"
        );
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"Some(7)", "the session is read");
    }
}
