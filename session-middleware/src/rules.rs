//! Django's `SessionMiddleware` algorithm with no web framework in it: the tower layer
//! ([`SessionLayer`](crate::SessionLayer)) and the actix-web middleware (`session-actix`)
//! are thin shells that read the request's `Cookie` headers, hand the response's status and
//! `Vary` to [`SessionRules::finish`], and apply the [`Outcome`].

use std::sync::Arc;

use session_core::cookie::{CookieExpiry, deletion_cookie, parse_cookie_header, session_cookie};
use session_core::{CookieSettings, DynSessionStore, Error, Session, SessionConfig, Settings};
use tokio::sync::Mutex;

use crate::{BAD_REQUEST_BODY, SERVER_ERROR_BODY, SESSION_INTERRUPTED, SessionHandle};

/// The middleware's configuration and its two phases (see the module docs).
#[derive(Debug, Clone)]
pub struct SessionRules {
    store: Arc<DynSessionStore>,
    config: SessionConfig,
    cookie: CookieSettings,
    save_every_request: bool,
}

/// One request's session as the request phase made it.
#[derive(Debug)]
pub struct RequestSession {
    /// The lazy session the handlers share (put it in the request's extensions).
    pub handle: SessionHandle,
    had_cookie: bool,
    /// The request's `session_request` span (engine, whether a cookie came, and — once
    /// finished — accessed, modified and status); run the handler inside it.
    pub span: tracing::Span,
}

/// What the response phase decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Keep the handler's response; append `set_cookie` (a `Set-Cookie` value) when given and
    /// replace `Vary` with `vary` when given.
    Keep {
        /// A `Set-Cookie` header value to append (the session cookie or its deletion).
        set_cookie: Option<String>,
        /// The whole new `Vary` value (the response's own entries plus `Cookie`).
        vary: Option<String>,
    },
    /// Replace the response with this status and HTML body: 400 when the session was deleted
    /// during the request (Django's `SessionInterrupted`), 500 when storage failed (logged).
    Replace {
        /// 400 or 500.
        status: u16,
        /// Django's default error page for that status.
        body: &'static str,
    },
}

impl Outcome {
    /// The 400 for a session deleted meanwhile, logged as Django logs it.
    pub(crate) fn interrupted() -> Outcome {
        tracing::warn!(target: "django.request", "Bad Request: {SESSION_INTERRUPTED}");
        Outcome::Replace {
            status: 400,
            body: BAD_REQUEST_BODY,
        }
    }

    /// The 500 for a storage failure, logged with its cause.
    pub(crate) fn storage_failure(error: &Error) -> Outcome {
        tracing::error!(target: "django.request", error = %session_core::error::report(error), "session could not be saved");
        Outcome::Replace {
            status: 500,
            body: SERVER_ERROR_BODY,
        }
    }
}

/// The value of cookie `name` among a request's `Cookie` header values, as Django reads
/// `request.COOKIES`: every header, last duplicate wins, bytes that are not UTF-8 never cost
/// the other cookies.
pub(crate) fn cookie_value<'a>(
    cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    name: &str,
) -> Option<String> {
    let joined: Vec<std::borrow::Cow<'_, str>> = cookie_headers
        .into_iter()
        .map(String::from_utf8_lossy)
        .collect();
    parse_cookie_header(&joined.join("; ")).remove(name)
}

/// `Vary` with `Cookie` merged in, as Django's `patch_vary_headers`: `existing` are the
/// response's `Vary` header values.
pub fn patched_vary<'a>(existing: impl IntoIterator<Item = &'a str>) -> String {
    let mut entries: Vec<String> = existing
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect();
    if !entries.iter().any(|e| e.eq_ignore_ascii_case("cookie")) {
        entries.push("Cookie".to_owned());
    }
    if entries.iter().any(|e| e == "*") {
        "*".to_owned()
    } else {
        entries.join(", ")
    }
}

impl SessionRules {
    /// The rules over `store`, with the cookie and expiry settings of `settings`.
    pub fn new(store: Arc<DynSessionStore>, settings: &Settings) -> SessionRules {
        Self::with_config(store, settings, SessionConfig::from_settings(settings))
    }

    /// As [`new`](Self::new), with an explicit session configuration (an injected clock).
    pub fn with_config(
        store: Arc<DynSessionStore>,
        settings: &Settings,
        config: SessionConfig,
    ) -> SessionRules {
        SessionRules {
            store,
            config,
            cookie: settings.cookie.clone(),
            save_every_request: settings.save_every_request,
        }
    }

    /// The request phase: a lazy session from the request's `Cookie` header values (read as
    /// Django reads `request.COOKIES`: every header, last duplicate wins, bytes that are not
    /// UTF-8 never cost the session its cookie). No storage I/O happens here.
    pub fn start<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> RequestSession {
        let key = cookie_value(cookie_headers, &self.cookie.name);
        let span = tracing::info_span!(
            target: "django.contrib.sessions",
            "session_request",
            engine = self.store.engine_name(),
            had_cookie = key.is_some(),
            accessed = tracing::field::Empty,
            modified = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        let session = Session::new(self.store.clone(), self.config.clone(), key.as_deref());
        RequestSession {
            handle: SessionHandle(Arc::new(Mutex::new(session))),
            had_cookie: key.is_some(),
            span,
        }
    }

    /// The response phase, exactly as Django's `SessionMiddleware.process_response`
    /// (`django/contrib/sessions/middleware.py`): `status` is the handler's response status
    /// and `vary` its `Vary` header values.
    pub async fn finish<'a>(
        &self,
        request: &RequestSession,
        status: u16,
        vary: impl IntoIterator<Item = &'a str>,
    ) -> Outcome {
        let mut session = request.handle.lock().await;
        let (accessed, modified) = (session.accessed(), session.modified());
        let outcome = self.decide(&mut session, request.had_cookie, status).await;
        let (set_cookie, vary_cookie) = match &outcome {
            Ok(decided) => decided.clone(),
            Err(replace) => {
                request.span.record("status", u64::from(status_of(replace)));
                return replace.clone();
            }
        };
        request.span.record("accessed", accessed);
        request.span.record("modified", modified);
        request.span.record("status", u64::from(status));
        Outcome::Keep {
            set_cookie,
            vary: vary_cookie.then(|| patched_vary(vary)),
        }
    }

    /// `(Set-Cookie value, whether Vary gets Cookie)` or the response that replaces the
    /// handler's.
    async fn decide(
        &self,
        session: &mut Session,
        had_cookie: bool,
        status: u16,
    ) -> Result<(Option<String>, bool), Outcome> {
        let accessed = session.accessed();
        let modified = session.modified();
        let empty = session.is_empty();
        if had_cookie && empty {
            return Ok((Some(deletion_cookie(&self.cookie)), true));
        }
        if !((modified || self.save_every_request) && !empty) {
            // SESSION_IDLE_TIMEOUT: a read-only request extends the expiry without a save
            // once the idle window is running out, and the cookie follows.
            if status < 500 && session.touch_due() {
                match session.touch().await {
                    Ok(()) => {}
                    // Deleted meanwhile (a logout elsewhere): nothing to extend.
                    Err(Error::Gone) => return Ok((None, accessed)),
                    Err(e) => return Err(Outcome::storage_failure(&e)),
                }
                let expiry = match session.get_expire_at_browser_close().await {
                    Ok(true) => None,
                    Ok(false) => match session.get_expiry_age().await {
                        Ok(age) => Some(CookieExpiry::from_age(age, self.config.clock.now())),
                        Err(e) => return Err(Outcome::storage_failure(&e)),
                    },
                    Err(e) => return Err(Outcome::storage_failure(&e)),
                };
                let value = session.session_key().unwrap_or_default();
                return Ok((Some(session_cookie(&self.cookie, value, expiry)), true));
            }
            return Ok((None, accessed));
        }
        let expiry = match session.get_expire_at_browser_close().await {
            Ok(true) => None,
            Ok(false) => match session.get_expiry_age().await {
                Ok(age) => Some(CookieExpiry::from_age(age, self.config.clock.now())),
                Err(e) => return Err(Outcome::storage_failure(&e)),
            },
            Err(e) => return Err(Outcome::storage_failure(&e)),
        };
        if status >= 500 {
            return Ok((None, accessed));
        }
        match session.save(false).await {
            Ok(()) => {}
            Err(Error::Gone) => return Err(Outcome::interrupted()),
            Err(e) => return Err(Outcome::storage_failure(&e)),
        }
        let value = session.session_key().unwrap_or_default();
        Ok((Some(session_cookie(&self.cookie, value, expiry)), true))
    }
}

fn status_of(outcome: &Outcome) -> u16 {
    match outcome {
        Outcome::Replace { status, .. } => *status,
        Outcome::Keep { .. } => 200,
    }
}
