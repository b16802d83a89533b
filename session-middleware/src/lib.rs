#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tracing::Instrument as _;

use http::header::{CONTENT_TYPE, COOKIE, HeaderValue, SET_COOKIE, VARY};
use http::{HeaderMap, Request, Response, StatusCode};
use session_core::{DynSessionStore, Session, SessionConfig, Settings};
use tokio::sync::{Mutex, MutexGuard};

mod handle;
mod rules;

pub use handle::{SessionError, Typed};
pub use rules::{Outcome, RequestSession, SessionRules, patched_vary};

/// Django's message for a session deleted while its request ran (`SessionInterrupted`).
pub const SESSION_INTERRUPTED: &str = "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.";

/// The body of the 400 answer, as Django's default `bad_request` view renders it.
pub const BAD_REQUEST_BODY: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Bad Request (400)</title>\n</head>\n<body>\n  <h1>Bad Request (400)</h1><p></p>\n</body>\n</html>\n";

/// The body of the 500 answer when the session could not be saved.
pub const SERVER_ERROR_BODY: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n";

/// The request's session, shared between the handler and the middleware.
///
/// The layer puts one in every request's extensions; with the `axum` feature it is also an
/// extractor. Nothing is read from storage until the handler touches the session.
///
/// ```
/// # async fn handler(session: session_middleware::SessionHandle) -> Result<String, session_core::Error> {
/// let mut session = session.lock().await;
/// let visits = session.get::<i64>("num_visits").await?.unwrap_or(0) + 1;
/// session.insert("num_visits", &visits).await?;
/// Ok(format!("Visit count: {visits}"))
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SessionHandle(Arc<Mutex<Session>>);

impl SessionHandle {
    /// Locks the session for reading or changing it.
    pub async fn lock(&self) -> MutexGuard<'_, Session> {
        self.0.lock().await
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SessionHandle {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<SessionHandle>().cloned().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "SessionLayer is not installed on this route",
        ))
    }
}

/// Django's `SessionMiddleware` as a tower [`Layer`](tower_layer::Layer).
///
/// Request: the session cookie (Django's parser, last duplicate wins) becomes a lazy
/// [`Session`] in the request's extensions. Response, exactly as Django's `SessionMiddleware.process_response` (`django/contrib/sessions/middleware.py`):
/// the cookie is deleted when the request carried one and the session is empty; otherwise the
/// session is saved when modified (or `SESSION_SAVE_EVERY_REQUEST`) and not empty — never on a
/// 5xx — and the cookie set with Django's attributes; `Vary: Cookie` whenever the session was
/// accessed. A save that finds the session deleted meanwhile becomes 400 Bad Request (Django's
/// `SessionInterrupted`); any other storage failure becomes 500 and is logged — a write is
/// never dropped silently.
///
/// ```
/// use std::sync::Arc;
/// use session_core::{memory::MemoryStore, Settings};
/// use session_middleware::SessionLayer;
///
/// let settings = Settings::new("secret").unwrap();
/// let layer = SessionLayer::new(Arc::new(MemoryStore::default()), &settings);
/// let app: axum::Router = axum::Router::new().layer(layer);
/// ```
#[derive(Clone, Debug)]
pub struct SessionLayer {
    rules: Arc<SessionRules>,
}

impl SessionLayer {
    /// A layer over `store`, with the cookie and expiry settings of `settings`.
    pub fn new(store: Arc<DynSessionStore>, settings: &Settings) -> SessionLayer {
        SessionLayer::with_config(store, settings, SessionConfig::from_settings(settings))
    }

    /// As [`new`](Self::new), with an explicit session configuration (an injected clock).
    pub fn with_config(
        store: Arc<DynSessionStore>,
        settings: &Settings,
        config: SessionConfig,
    ) -> SessionLayer {
        SessionLayer {
            rules: Arc::new(SessionRules::with_config(store, settings, config)),
        }
    }
}

impl<S> tower_layer::Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> SessionService<S> {
        SessionService {
            inner,
            rules: self.rules.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    rules: Arc<SessionRules>,
}

/// The session cookie's value in a request, as Django reads `request.COOKIES` (every `Cookie`
/// header, last duplicate wins). Headers are read as bytes: a non-ASCII byte in some other
/// cookie (browsers send them) never costs the session its cookie.
pub fn request_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    rules::cookie_value(
        headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes),
        name,
    )
}

/// Adds `Cookie` to the response's `Vary`, as Django's `patch_vary_headers`.
pub fn patch_vary(headers: &mut HeaderMap) {
    let value = patched_vary(headers.get_all(VARY).iter().filter_map(|v| v.to_str().ok()));
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(VARY, v);
    }
}

fn replaced<B: From<&'static str>>(status: u16, body: &'static str) -> Response<B> {
    let mut res = Response::new(B::from(body));
    *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

/// Applies the response phase's decision to an http 1 response.
fn apply<B: From<&'static str>>(outcome: Outcome, mut res: Response<B>) -> Response<B> {
    match outcome {
        Outcome::Replace { status, body } => replaced(status, body),
        Outcome::Keep { set_cookie, vary } => {
            if let Some(cookie) = set_cookie {
                match HeaderValue::from_str(&cookie) {
                    Ok(v) => {
                        res.headers_mut().append(SET_COOKIE, v);
                    }
                    Err(_) => {
                        tracing::error!(target: "django.request", "session cookie is not a header value");
                        return replaced(500, SERVER_ERROR_BODY);
                    }
                }
            }
            if let Some(vary) = vary {
                if let Ok(v) = HeaderValue::from_str(&vary) {
                    res.headers_mut().insert(VARY, v);
                }
            }
            res
        }
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for SessionService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<&'static str> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let rules = self.rules.clone();
        let request = rules.start(
            req.headers()
                .get_all(COOKIE)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        req.extensions_mut().insert(request.handle.clone());
        // The clone that was polled ready serves this call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let span = request.span.clone();
        Box::pin(
            async move {
                let res = inner.call(req).await?;
                let vary: Vec<String> = res
                    .headers()
                    .get_all(VARY)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect();
                let outcome = rules
                    .finish(
                        &request,
                        res.status().as_u16(),
                        vary.iter().map(String::as_str),
                    )
                    .await;
                Ok(apply(outcome, res))
            }
            .instrument(span),
        )
    }
}
