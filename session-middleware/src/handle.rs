//! The handler's side: [`SessionHandle`]'s one-call methods, a typed value stored under one
//! key ([`Typed`]), and [`SessionError`], which turns a session failure into Django's answer
//! so handlers can use `?`.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use session_core::{Error, Expiry, Value};

use crate::{BAD_REQUEST_BODY, SERVER_ERROR_BODY, SessionHandle};

/// One-call access: each method locks the session for its own duration. For a read and a
/// write that must see no other request's change in between, hold [`lock`](Self::lock)
/// instead.
///
/// ```
/// # async fn handler(session: session_middleware::SessionHandle) -> Result<String, session_middleware::SessionError> {
/// let visits = session.get::<i64>("num_visits").await?.unwrap_or(0) + 1;
/// session.insert("num_visits", &visits).await?;
/// Ok(format!("Visit count: {visits}"))
/// # }
/// ```
impl SessionHandle {
    /// The value under `key`, converted to `T` (Django's `request.session.get(key)`).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.lock().await.get(key).await
    }

    /// The raw value under `key`.
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, Error> {
        self.lock().await.get_value(key).await
    }

    /// Stores `value` under `key` (Django's `request.session[key] = value`).
    pub async fn insert<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        self.lock().await.insert(key, value).await
    }

    /// Removes `key`; its value when it was there (Django's `pop(key, None)`).
    pub async fn remove(&self, key: &str) -> Result<Option<Value>, Error> {
        self.lock().await.remove(key).await
    }

    /// Whether `key` is set (Django's `key in request.session`).
    pub async fn contains(&self, key: &str) -> Result<bool, Error> {
        self.lock().await.contains(key).await
    }

    /// A new key for the same data (Django's `cycle_key()`, on login).
    pub async fn cycle_key(&self) -> Result<(), Error> {
        self.lock().await.cycle_key().await
    }

    /// Deletes the session and starts an empty one under a new key (Django's `flush()`, on
    /// logout).
    pub async fn flush(&self) -> Result<(), Error> {
        self.lock().await.flush().await
    }

    /// Sets the session's expiry (Django's `set_expiry`).
    pub async fn set_expiry(&self, expiry: Expiry) -> Result<(), Error> {
        self.lock().await.set_expiry(expiry).await
    }

    /// A typed value stored under `key` as a whole (see [`Typed`]).
    pub fn typed<T>(&self, key: &'static str) -> Typed<T> {
        Typed {
            handle: self.clone(),
            key,
            _value: PhantomData,
        }
    }
}

/// A serde value kept under one session key and read and written as a whole — a cart, a
/// wizard's state, preferences. Stored as JSON in the session, so Django reads it as a dict.
///
/// ```
/// # async fn handler(session: session_middleware::SessionHandle) -> Result<String, session_middleware::SessionError> {
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Cart { items: Vec<String> }
///
/// let cart = session.typed::<Cart>("cart");
/// let now = cart.update(|c| c.items.push("book".into())).await?;
/// Ok(format!("{} items", now.items.len()))
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Typed<T> {
    handle: SessionHandle,
    key: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Typed<T> {
    /// The stored value, if any.
    pub async fn get(&self) -> Result<Option<T>, Error> {
        self.handle.get(self.key).await
    }

    /// Replaces the stored value.
    pub async fn set(&self, value: &T) -> Result<(), Error> {
        self.handle.insert(self.key, value).await
    }

    /// Reads (or starts from `T::default()`), changes and writes the value under one lock:
    /// no other request's change to the session slips in between. Returns the new value.
    pub async fn update(&self, change: impl FnOnce(&mut T)) -> Result<T, Error>
    where
        T: Default,
    {
        let mut session = self.handle.lock().await;
        let mut value: T = session.get(self.key).await?.unwrap_or_default();
        change(&mut value);
        session.insert(self.key, &value).await?;
        Ok(value)
    }

    /// Removes the value; what it was.
    pub async fn take(&self) -> Result<Option<T>, Error> {
        let Some(raw) = self.handle.remove(self.key).await? else {
            return Ok(None);
        };
        Ok(Some(session_core::value::from_value(&raw)?))
    }
}

/// A session failure as a handler's error: answers Django's 400 page when the session was
/// deleted during the request ([`Error::Gone`]), and Django's 500 page — with the cause
/// logged on `django.request`, never sent to the client — for anything else. Any
/// `session_core::Error` converts with `?`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SessionError(#[from] pub Error);

impl SessionError {
    /// The status and page Django answers with, logging a storage failure.
    pub fn status_and_body(&self) -> (u16, &'static str) {
        match &self.0 {
            Error::Gone => (400, BAD_REQUEST_BODY),
            other => {
                tracing::error!(target: "django.request", error = %session_core::error::report(other), "session operation failed");
                (500, SERVER_ERROR_BODY)
            }
        }
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for SessionError {
    fn into_response(self) -> axum::response::Response {
        let (status, body) = self.status_and_body();
        (
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            [(http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

#[cfg(feature = "actix")]
impl actix_web::ResponseError for SessionError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self.0 {
            Error::Gone => actix_web::http::StatusCode::BAD_REQUEST,
            _ => actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        let (status, body) = self.status_and_body();
        actix_web::HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type("text/html; charset=utf-8")
        .body(body)
    }
}

#[cfg(feature = "actix")]
impl actix_web::FromRequest for SessionHandle {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage as _;
        std::future::ready(
            req.extensions()
                .get::<SessionHandle>()
                .cloned()
                .ok_or_else(|| {
                    actix_web::error::ErrorInternalServerError(
                        "session_actix::SessionMiddleware is not installed on this route",
                    )
                }),
        )
    }
}
