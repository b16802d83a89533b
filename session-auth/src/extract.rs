//! The axum extractor: `LoggedInUser` in a handler's arguments is the verified user id, or
//! the request is answered 401 ([`NotLoggedIn`]).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use session_middleware::{SessionError, SessionHandle};

use crate::{Authenticator, UserLookup};

/// What the extractor needs, put in the request's extensions
/// (`.layer(axum::Extension(AuthState { … }))`).
#[derive(Clone)]
pub struct AuthState {
    /// The login rules and secrets.
    pub auth: Arc<Authenticator>,
    /// Where password hashes come from (usually [`DjangoUsers`](crate::DjangoUsers)).
    pub users: Arc<dyn UserLookup>,
}

/// The logged-in user's id (Django's `request.user.pk` as a string), verified as Django's
/// `get_user` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedInUser(pub String);

/// The rejection: nobody is logged in (401), or the session could not be read (Django's
/// 400/500 through [`SessionError`]).
#[derive(Debug)]
pub enum NotLoggedIn {
    /// No verified user in the session.
    Anonymous,
    /// The session or the user table failed.
    Session(SessionError),
    /// The app forgot `SessionLayer` or `AuthState`.
    Misconfigured(&'static str),
}

impl IntoResponse for NotLoggedIn {
    fn into_response(self) -> Response {
        match self {
            NotLoggedIn::Anonymous => (StatusCode::UNAUTHORIZED, "Not logged in.").into_response(),
            NotLoggedIn::Session(e) => e.into_response(),
            NotLoggedIn::Misconfigured(what) => {
                (StatusCode::INTERNAL_SERVER_ERROR, what).into_response()
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LoggedInUser {
    type Rejection = NotLoggedIn;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session =
            parts
                .extensions
                .get::<SessionHandle>()
                .cloned()
                .ok_or(NotLoggedIn::Misconfigured(
                    "SessionLayer is not installed on this route",
                ))?;
        let state =
            parts
                .extensions
                .get::<AuthState>()
                .cloned()
                .ok_or(NotLoggedIn::Misconfigured(
                    "AuthState is not in the request's extensions",
                ))?;
        let mut s = session.lock().await;
        match state.auth.get_user(&mut s, state.users.as_ref()).await {
            Ok(Some(id)) => Ok(LoggedInUser(id)),
            Ok(None) => Err(NotLoggedIn::Anonymous),
            Err(e) => Err(NotLoggedIn::Session(SessionError(e))),
        }
    }
}
