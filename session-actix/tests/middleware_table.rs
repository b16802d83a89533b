//! One middleware test table, run on both web frameworks: Django's
//! SessionMiddleware.process_response (django/contrib/sessions/middleware.py), its cookie
//! strings (HttpResponse.set_cookie / delete_cookie) and Vary patching
//! (django.utils.cache.patch_vary_headers), on the memory store with a fixed clock — through
//! the tower/axum layer and through the actix-web middleware, which share
//! `session_middleware::SessionRules`. Every case runs on both and must answer alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use session_core::memory::MemoryStore;
use session_core::{
    DynSessionStore, Error, Expiry, ManualClock, Map, Record, SessionConfig, SessionStore, Settings,
};
use session_middleware::{BAD_REQUEST_BODY, SERVER_ERROR_BODY, SessionError, SessionHandle};
use tower::ServiceExt as _;

const NOW: f64 = 1_700_000_000.7;

/// A store that counts calls and can be told to fail saves.
#[derive(Debug)]
struct Probe {
    inner: MemoryStore,
    calls: AtomicUsize,
    touches: AtomicUsize,
    fail_saves: bool,
}

impl Default for Probe {
    fn default() -> Probe {
        Probe {
            inner: MemoryStore::with_clock(Arc::new(ManualClock::at_unix(NOW))),
            calls: AtomicUsize::new(0),
            touches: AtomicUsize::new(0),
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
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<chrono::DateTime<chrono::Utc>>)>, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.load_with_expiry(key).await
    }
    async fn touch(&self, r: &Record<'_>) -> Result<String, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.touches.fetch_add(1, Ordering::SeqCst);
        self.inner.touch(r).await
    }
    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        self.inner.clear_expired().await
    }
}

/// The web framework a case runs on.
#[derive(Debug, Clone, Copy)]
enum Framework {
    Axum,
    Actix,
}

const BOTH: [Framework; 2] = [Framework::Axum, Framework::Actix];

/// A response, whichever framework made it.
#[derive(Debug)]
struct Answer {
    status: u16,
    set_cookies: Vec<String>,
    vary: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn body(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// The routes of the table, the same on both frameworks: `(status, Vary set by the
/// handler, body)`, or a session error the framework turns into Django's answer.
async fn handle(
    path: &str,
    s: SessionHandle,
    store: Arc<Probe>,
) -> Result<(u16, Option<&'static str>, String), SessionError> {
    let ok = || Ok((200, None, "ok".to_owned()));
    match path {
        "/untouched" => ok(),
        "/read" => Ok((200, None, format!("{:?}", s.get::<i64>("n").await?))),
        "/write" => {
            s.insert("n", &1).await?;
            ok()
        }
        "/write-browser-close" => {
            let mut g = s.lock().await;
            g.insert("n", &1).await?;
            g.set_expiry(Expiry::Seconds(0)).await?;
            ok()
        }
        "/write-then-fail" => {
            s.insert("n", &1).await?;
            Ok((500, None, "boom".to_owned()))
        }
        "/flush" => {
            s.flush().await?;
            ok()
        }
        "/clear" => {
            let mut g = s.lock().await;
            g.load().await?;
            g.clear();
            ok()
        }
        "/vary" => {
            s.get_value("n").await?;
            Ok((200, Some("Accept-Encoding"), "ok".to_owned()))
        }
        "/vary-star" => {
            s.get_value("n").await?;
            Ok((200, Some("*"), "ok".to_owned()))
        }
        "/deleted-meanwhile" => {
            let mut g = s.lock().await;
            g.get_value("n").await?;
            let key = g.session_key().unwrap_or_default().to_owned();
            store.delete(&key).await?; // a concurrent logout
            g.insert("n", &8).await?;
            ok()
        }
        "/typed" => {
            #[derive(Default, serde::Serialize, serde::Deserialize)]
            struct Cart {
                items: Vec<String>,
            }
            let cart = s.typed::<Cart>("cart");
            let now = cart.update(|c| c.items.push("book".into())).await?;
            Ok((200, None, now.items.len().to_string()))
        }
        "/gone" => Err(Error::Gone)?,
        "/broken" => Err(Error::transient("probe", "disk on fire"))?,
        _ => Ok((404, None, "no such route".to_owned())),
    }
}

struct App {
    framework: Framework,
    store: Arc<Probe>,
    settings: Settings,
}

impl App {
    fn new(framework: Framework, settings: Settings) -> App {
        App {
            framework,
            store: Arc::new(Probe::default()),
            settings,
        }
    }

    fn default(framework: Framework) -> App {
        App::new(framework, Settings::new("middleware-secret").unwrap())
    }

    fn config(&self) -> SessionConfig {
        SessionConfig::from_settings(&self.settings).with_clock(Arc::new(ManualClock::at_unix(NOW)))
    }

    /// GET `path` with these `Cookie` headers.
    async fn get(&self, path: &str, cookies: &[&str]) -> Answer {
        let raw: Vec<&[u8]> = cookies.iter().map(|c| c.as_bytes()).collect();
        self.get_raw(path, &raw).await
    }

    /// GET `path` with these raw `Cookie` header values (any bytes).
    async fn get_raw(&self, path: &str, cookies: &[&[u8]]) -> Answer {
        let store = self.store.clone() as Arc<DynSessionStore>;
        match self.framework {
            Framework::Axum => {
                use axum::response::IntoResponse as _;
                let probe = self.store.clone();
                let layer = session_middleware::SessionLayer::with_config(
                    store,
                    &self.settings,
                    self.config(),
                );
                let app = axum::Router::new()
                    .fallback(move |uri: http::Uri, s: SessionHandle| {
                        let probe = probe.clone();
                        async move {
                            match handle(uri.path(), s, probe).await {
                                Ok((status, vary, body)) => {
                                    let mut res = body.into_response();
                                    *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
                                    if let Some(v) = vary {
                                        res.headers_mut()
                                            .insert(http::header::VARY, v.parse().unwrap());
                                    }
                                    res
                                }
                                Err(e) => e.into_response(),
                            }
                        }
                    })
                    .layer(layer);
                let mut req = http::Request::get(path);
                for c in cookies {
                    req = req.header(
                        http::header::COOKIE,
                        http::HeaderValue::from_bytes(c).unwrap(),
                    );
                }
                let res = app
                    .oneshot(req.body(axum::body::Body::empty()).unwrap())
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                let body = axum::body::to_bytes(res.into_body(), usize::MAX)
                    .await
                    .unwrap();
                Answer {
                    status,
                    set_cookies: headers
                        .get_all(http::header::SET_COOKIE)
                        .iter()
                        .map(|v| v.to_str().unwrap().to_owned())
                        .collect(),
                    vary: headers
                        .get(http::header::VARY)
                        .map(|v| v.to_str().unwrap().to_owned()),
                    body: body.to_vec(),
                }
            }
            Framework::Actix => {
                use actix_web::http::header;
                let probe = self.store.clone();
                let mw = session_actix::SessionMiddleware::with_config(
                    store,
                    &self.settings,
                    self.config(),
                );
                let app =
                    actix_web::test::init_service(actix_web::App::new().wrap(mw).default_service(
                        actix_web::web::to(move |req: actix_web::HttpRequest, s: SessionHandle| {
                            let probe = probe.clone();
                            async move {
                                let (status, vary, body) = handle(req.path(), s, probe).await?;
                                let mut res = actix_web::HttpResponse::build(
                                    actix_web::http::StatusCode::from_u16(status).unwrap(),
                                );
                                if let Some(v) = vary {
                                    res.insert_header((header::VARY, v));
                                }
                                Ok::<_, SessionError>(res.body(body))
                            }
                        }),
                    ))
                    .await;
                let mut req = actix_web::test::TestRequest::get().uri(path);
                for c in cookies {
                    req = req.append_header((
                        header::COOKIE,
                        header::HeaderValue::from_bytes(c).unwrap(),
                    ));
                }
                let res = actix_web::test::call_service(&app, req.to_request()).await;
                let status = res.status().as_u16();
                let set_cookies = res
                    .headers()
                    .get_all(header::SET_COOKIE)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                let vary = res
                    .headers()
                    .get(header::VARY)
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = actix_web::test::read_body(res).await.to_vec();
                Answer {
                    status,
                    set_cookies,
                    vary,
                    body,
                }
            }
        }
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

/// SESSION_IDLE_TIMEOUT: a read-only request whose session has less than half its idle window
/// left extends it with one touch (no save) and re-sends the cookie with a full window; a
/// read with more left costs no write and sends no cookie.
#[actix_web::test]
async fn an_idle_window_running_out_is_touched_and_the_cookie_follows() {
    for framework in BOTH {
        let settings = Settings::from_pairs([
            ("SECRET_KEY", "middleware-secret"),
            ("SESSION_IDLE_TIMEOUT", "600"),
        ])
        .unwrap();
        let app = App::new(framework, settings);
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 700_000_000).unwrap();
        let mut data = Map::new();
        data.insert("n".into(), 7.into());
        let data = std::sync::Arc::new(data);
        for (key, left, touched) in [
            ("freshsession01", 500, false),
            ("oldersession01", 200, true),
        ] {
            let at = now + chrono::TimeDelta::seconds(left);
            app.store
                .inner
                .create(&Record {
                    key,
                    data: &data,
                    expires_at: at,
                    max_age: left,
                })
                .await
                .unwrap();
            let before = app.store.touches.load(Ordering::SeqCst);
            let res = app.get("/read", &[&format!("sessionid={key}")]).await;
            assert_eq!(res.body(), "Some(7)");
            let did = app.store.touches.load(Ordering::SeqCst) - before;
            assert_eq!(
                did,
                usize::from(touched),
                "{framework:?} {key}: {left} s left"
            );
            if touched {
                assert_eq!(res.set_cookies.len(), 1, "{framework:?}");
                assert!(
                    res.set_cookies[0].contains("Max-Age=600"),
                    "{:?}",
                    res.set_cookies
                );
                let (_, exp) = app
                    .store
                    .inner
                    .load_with_expiry(key)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(exp, Some(now + chrono::TimeDelta::seconds(600)));
            } else {
                assert!(
                    res.set_cookies.is_empty(),
                    "{framework:?}: {:?}",
                    res.set_cookies
                );
            }
        }
    }
}

#[actix_web::test]
async fn a_new_session_is_saved_with_djangos_exact_cookie() {
    for framework in BOTH {
        let app = App::default(framework);
        let res = app.get("/write", &[]).await;
        let cookies = res.set_cookies;
        assert_eq!(cookies.len(), 1);
        let key = app.store.inner.keys().pop().expect("one session stored");
        assert_eq!(
            cookies[0],
            format!(
                "sessionid={key}; expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"
            )
        );
        assert_eq!(res.vary.as_deref(), Some("Cookie"));
    }
}

#[actix_web::test]
async fn an_untouched_session_costs_no_storage_call_and_no_header() {
    for framework in BOTH {
        let app = App::default(framework);
        let key = app.stored().await;
        let before = app.store.calls.load(Ordering::SeqCst);
        let res = app.get("/untouched", &[&format!("sessionid={key}")]).await;
        assert_eq!(app.store.calls.load(Ordering::SeqCst), before, "lazy");
        assert!(res.set_cookies.is_empty());
        assert_eq!(res.vary, None);
    }
}

#[actix_web::test]
async fn reading_sets_vary_but_no_cookie_and_the_last_duplicate_cookie_wins() {
    for framework in BOTH {
        let app = App::default(framework);
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
        assert!(res.set_cookies.is_empty());
        assert_eq!(res.vary.as_deref(), Some("Cookie"));
        assert_eq!(res.body(), "Some(7)");
    }
}

#[actix_web::test]
async fn a_short_cookie_is_deleted_on_every_response() {
    for framework in BOTH {
        let app = App::default(framework);
        for cookie in ["sessionid=abc", "sessionid="] {
            let res = app.get("/untouched", &[cookie]).await;
            assert_eq!(
                res.set_cookies,
                vec![
                    r#"sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"#
                ]
            );
            assert_eq!(res.vary.as_deref(), Some("Cookie"));
        }
    }
}

#[actix_web::test]
async fn an_unknown_key_is_left_alone_until_accessed_then_deleted() {
    for framework in BOTH {
        let app = App::default(framework);
        let unknown = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
        let res = app.get("/untouched", &[unknown]).await;
        assert!(res.set_cookies.is_empty());
        assert_eq!(res.vary, None);
        let res = app.get("/read", &[unknown]).await;
        assert_eq!(res.set_cookies.len(), 1);
        assert!(res.set_cookies[0].starts_with("sessionid=\"\"; expires=Thu, 01 Jan 1970"));
        assert_eq!(res.vary.as_deref(), Some("Cookie"));
    }
}

#[actix_web::test]
async fn flushing_without_a_cookie_sets_only_vary() {
    for framework in BOTH {
        let app = App::default(framework);
        let res = app.get("/flush", &[]).await;
        assert!(res.set_cookies.is_empty());
        assert_eq!(res.vary.as_deref(), Some("Cookie"));
    }
}

#[actix_web::test]
async fn clearing_the_data_but_keeping_the_key_still_saves() {
    for framework in BOTH {
        let app = App::default(framework);
        let key = app.stored().await;
        let res = app.get("/clear", &[&format!("sessionid={key}")]).await;
        let cookies = res.set_cookies;
        assert_eq!(cookies.len(), 1);
        assert!(cookies[0].starts_with(&format!("sessionid={key}; ")));
        assert_eq!(app.store.inner.load(&key).await.unwrap(), Some(Map::new()));
    }
}

#[actix_web::test]
async fn a_5xx_response_never_saves() {
    for framework in BOTH {
        let app = App::default(framework);
        let res = app.get("/write-then-fail", &[]).await;
        assert_eq!(res.status, 500);
        assert!(res.set_cookies.is_empty());
        assert_eq!(res.vary.as_deref(), Some("Cookie"), "accessed");
        assert!(app.store.inner.keys().is_empty(), "nothing stored");
    }
}

#[actix_web::test]
async fn a_browser_close_session_has_no_max_age_or_expires() {
    for framework in BOTH {
        let app = App::default(framework);
        let res = app.get("/write-browser-close", &[]).await;
        let key = app.store.inner.keys().pop().unwrap();
        assert_eq!(
            res.set_cookies,
            vec![format!("sessionid={key}; HttpOnly; Path=/; SameSite=Lax")]
        );
    }
}

#[actix_web::test]
async fn save_every_request_issues_a_new_session_for_an_unknown_cookie() {
    for framework in BOTH {
        let mut settings = Settings::new("middleware-secret").unwrap();
        settings.save_every_request = true;
        let app = App::new(framework, settings.clone());
        let res = app
            .get(
                "/untouched",
                &["sessionid=abcdefghijklmnopqrstuvwxyz012345"],
            )
            .await;
        let cookies = res.set_cookies;
        assert_eq!(cookies.len(), 1);
        let key = app.store.inner.keys().pop().expect("a new empty session");
        assert_ne!(key, "abcdefghijklmnopqrstuvwxyz012345");
        assert!(cookies[0].starts_with(&format!("sessionid={key}; ")));
    }
}

#[actix_web::test]
async fn custom_cookie_settings_give_djangos_strings() {
    for framework in BOTH {
        let settings = Settings::from_pairs([
            ("SECRET_KEY", "middleware-secret"),
            ("SESSION_COOKIE_DOMAIN", ".example.com"),
            ("SESSION_COOKIE_PATH", "/app"),
            ("SESSION_COOKIE_SECURE", "true"),
            ("SESSION_COOKIE_HTTPONLY", "false"),
            ("SESSION_COOKIE_SAMESITE", "None"),
        ])
        .unwrap();
        let app = App::new(framework, settings.clone());
        let res = app.get("/write", &[]).await;
        let key = app.store.inner.keys().pop().unwrap();
        assert_eq!(
            res.set_cookies,
            vec![format!(
                "sessionid={key}; Domain=.example.com; expires=Tue, 28 Nov 2023 22:13:20 GMT; Max-Age=1209600; Path=/app; SameSite=None; Secure"
            )]
        );
        let res = app.get("/untouched", &["sessionid=short"]).await;
        assert_eq!(
            res.set_cookies,
            vec![
                r#"sessionid=""; Domain=.example.com; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/app; SameSite=None; Secure"#
            ]
        );
    }
}

#[actix_web::test]
async fn vary_is_merged_as_django_patches_it() {
    for framework in BOTH {
        let app = App::default(framework);
        let res = app.get("/vary", &[]).await;
        assert_eq!(res.vary.as_deref(), Some("Accept-Encoding, Cookie"));
        let res = app.get("/vary-star", &[]).await;
        assert_eq!(res.vary.as_deref(), Some("*"));
    }
}

#[actix_web::test]
async fn a_failed_save_answers_500_never_a_silent_drop() {
    for framework in BOTH {
        let app = App {
            framework,
            store: Arc::new(Probe {
                fail_saves: true,
                ..Probe::default()
            }),
            settings: Settings::new("middleware-secret").unwrap(),
        };
        let res = app.get("/write", &[]).await;
        assert_eq!(res.status, 500);
        assert!(res.set_cookies.is_empty());
    }
}

#[actix_web::test]
async fn a_session_deleted_during_the_request_answers_400() {
    for framework in BOTH {
        let app = App::default(framework);
        let key = app.stored().await;
        let res = app
            .get("/deleted-meanwhile", &[&format!("sessionid={key}")])
            .await;
        assert_eq!(res.status, 400, "{framework:?}");
        assert!(res.set_cookies.is_empty(), "{framework:?}");
        assert_eq!(res.body(), BAD_REQUEST_BODY, "{framework:?}");
        assert_eq!(
            app.store.inner.load(&key).await.unwrap(),
            None,
            "{framework:?}: not resurrected"
        );
    }
}

#[actix_web::test]
async fn a_non_ascii_byte_in_another_cookie_keeps_the_session() {
    for framework in BOTH {
        let app = App::default(framework);
        let key = app.stored().await;
        for other in [
            &b"theme=caf\xc3\xa9"[..],
            &b"theme=caf\xe9"[..],
            &b"\xff\xfe=\x80"[..],
        ] {
            let mut value = other.to_vec();
            value.extend_from_slice(format!("; sessionid={key}").as_bytes());
            let res = app.get_raw("/read", &[&value]).await;
            assert_eq!(res.status, 200, "{framework:?}");
            assert!(
                res.set_cookies.is_empty(),
                "{framework:?}: no new session is issued"
            );
            assert_eq!(res.body(), "Some(7)", "{framework:?}: the session is read");
        }
    }
}

#[actix_web::test]
async fn handlers_use_question_mark_and_get_djangos_answers() {
    for framework in BOTH {
        let app = App::default(framework);
        let res = app.get("/gone", &[]).await;
        assert_eq!(
            (res.status, res.body()),
            (400, BAD_REQUEST_BODY.to_owned()),
            "{framework:?}"
        );
        let res = app.get("/broken", &[]).await;
        assert_eq!(
            (res.status, res.body()),
            (500, SERVER_ERROR_BODY.to_owned()),
            "{framework:?}"
        );
        assert!(
            !res.body().contains("disk on fire"),
            "the cause is logged, never sent"
        );
    }
}

#[actix_web::test]
async fn a_typed_value_is_read_and_written_as_a_whole() {
    for framework in BOTH {
        let app = App::default(framework);
        let first = app.get("/typed", &[]).await;
        assert_eq!(first.body(), "1", "{framework:?}");
        let cookie = first.set_cookies[0].split(';').next().unwrap().to_owned();
        let second = app.get("/typed", &[&cookie]).await;
        assert_eq!(second.body(), "2", "{framework:?}");
        let key = cookie.trim_start_matches("sessionid=");
        let stored = app.store.inner.load(key).await.unwrap().unwrap();
        assert_eq!(
            session_core::Value::Object(stored).to_python_json(),
            r#"{"cart":{"items":["book","book"]}}"#,
            "{framework:?}: a dict Django reads"
        );
    }
}

#[actix_web::test]
async fn both_frameworks_answer_alike_to_the_byte() {
    let paths = ["/write", "/read", "/flush", "/vary", "/write-browser-close"];
    for path in paths {
        let axum = App::default(Framework::Axum)
            .get(path, &["sessionid=abc"])
            .await;
        let actix = App::default(Framework::Actix)
            .get(path, &["sessionid=abc"])
            .await;
        assert_eq!(
            (axum.status, axum.vary, axum.body),
            (actix.status, actix.vary, actix.body),
            "{path}"
        );
        // Keys are random; the cookie strings match once the key is masked.
        let mask = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|c| match c.split_once(';') {
                    Some((_, rest)) => format!("sessionid=KEY;{rest}"),
                    None => c,
                })
                .collect()
        };
        assert_eq!(mask(axum.set_cookies), mask(actix.set_cookies), "{path}");
    }
}
