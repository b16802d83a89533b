#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod users;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use session_core::codec::Secret;
use session_core::{Error, Session, Settings};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use users::{DjangoUsers, StaticUsers};

/// Django's `SESSION_KEY`: the logged-in user's primary key, as a string.
pub const SESSION_KEY: &str = "_auth_user_id";
/// Django's `BACKEND_SESSION_KEY`: the dotted path of the backend that authenticated them.
pub const BACKEND_SESSION_KEY: &str = "_auth_user_backend";
/// Django's `HASH_SESSION_KEY`: the session auth hash (hex HMAC-SHA256 of the password hash).
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";
/// Django's default (and usual) authentication backend.
pub const MODEL_BACKEND: &str = "django.contrib.auth.backends.ModelBackend";
/// `get_session_auth_hash`'s key salt in Django's `AbstractBaseUser`.
pub const AUTH_HASH_SALT: &str =
    "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/// A user as the session needs them.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The primary key as Django's `value_to_string` writes it (`"42"` for an integer pk).
    pub id: String,
    /// The stored password hash (`auth_user.password`, for example `pbkdf2_sha256$…`).
    pub password: String,
    /// The authentication backend's dotted path ([`MODEL_BACKEND`] by default).
    pub backend: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password hash is a secret too: never printed.
        f.debug_struct("User")
            .field("id", &self.id)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl User {
    /// A user of [`MODEL_BACKEND`].
    pub fn new(id: impl Into<String>, password: impl Into<String>) -> User {
        User {
            id: id.into(),
            password: password.into(),
            backend: MODEL_BACKEND.to_owned(),
        }
    }
}

/// Where the current password hash of a user comes from: Django's `backend.get_user(id)`.
#[async_trait]
pub trait UserLookup: Send + Sync {
    /// The stored password hash of the active user `id`, `None` when there is no such user
    /// or they may not log in (`is_active` false, as Django's `ModelBackend` checks).
    async fn password(&self, id: &str) -> Result<Option<String>, Error>;
}

/// Django's `salted_hmac(key_salt, value, secret, algorithm="sha256")`: HMAC-SHA256 keyed
/// with SHA-256(key_salt + secret).
pub fn salted_hmac_sha256(key_salt: &str, value: &[u8], secret: &Secret) -> [u8; 32] {
    let key = Sha256::new()
        .chain_update(key_salt.as_bytes())
        .chain_update(secret.expose())
        .finalize();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC accepts keys of any length");
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// Django's `AbstractBaseUser._get_session_auth_hash(secret)`.
pub fn session_auth_hash(password: &str, secret: &Secret) -> String {
    hex::encode(salted_hmac_sha256(
        AUTH_HASH_SALT,
        password.as_bytes(),
        secret,
    ))
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Django's login, logout and per-request user check over a [`Session`].
#[derive(Clone)]
pub struct Authenticator {
    secret: Secret,
    fallbacks: Vec<Secret>,
    backends: Vec<String>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("backends", &self.backends)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// `SECRET_KEY` and `SECRET_KEY_FALLBACKS` from the settings; `AUTHENTICATION_BACKENDS`
    /// is Django's default (`ModelBackend`) unless [`with_backends`](Self::with_backends).
    pub fn from_settings(settings: &Settings) -> Authenticator {
        Authenticator {
            secret: settings.secret_key.clone(),
            fallbacks: settings.secret_key_fallbacks.clone(),
            backends: vec![MODEL_BACKEND.to_owned()],
        }
    }

    /// Django's `AUTHENTICATION_BACKENDS`: a session naming another backend is no login.
    #[must_use]
    pub fn with_backends(mut self, backends: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.backends = backends.into_iter().map(Into::into).collect();
        self
    }

    /// The session auth hash of `password` under the current `SECRET_KEY`.
    pub fn hash(&self, password: &str) -> String {
        session_auth_hash(password, &self.secret)
    }

    /// What Django's `login(request, user)` does to the session: flush it when another user
    /// (or the same user with another password hash) is logged in, otherwise a new key for
    /// the same data (no session fixation); then the three keys. With
    /// `SESSION_ABSOLUTE_TIMEOUT_FROM=login`, the session's absolute lifetime starts here.
    pub async fn login(&self, session: &mut Session, user: &User) -> Result<(), Error> {
        let hash = self.hash(&user.password);
        match session.get::<String>(SESSION_KEY).await? {
            Some(current) => {
                let stored = session
                    .get::<String>(HASH_SESSION_KEY)
                    .await?
                    .unwrap_or_default();
                if current != user.id || !same(&stored, &hash) {
                    session.flush().await?;
                }
            }
            None => session.cycle_key().await?,
        }
        session.insert(SESSION_KEY, &user.id).await?;
        session.insert(BACKEND_SESSION_KEY, &user.backend).await?;
        session.insert(HASH_SESSION_KEY, &hash).await?;
        let policy = session.config().policy;
        if policy.absolute_timeout.is_some()
            && policy.absolute_from == session_core::AbsoluteFrom::Login
        {
            // SESSION_ABSOLUTE_TIMEOUT_FROM=login: the absolute lifetime starts now.
            let now = session.config().clock.now().timestamp();
            session
                .insert_value(session_core::expiry::STARTED_KEY, now)
                .await?;
        }
        Ok(())
    }

    /// Django's `logout(request)`: the session is flushed.
    pub async fn logout(&self, session: &mut Session) -> Result<(), Error> {
        session.flush().await
    }

    /// The user id the session names, unverified (use [`get_user`](Self::get_user) to trust
    /// it).
    pub async fn logged_in_id(&self, session: &mut Session) -> Result<Option<String>, Error> {
        session.get::<String>(SESSION_KEY).await
    }

    /// Django's `get_user(request)`: the logged-in user's id when the session names a user
    /// of a configured backend who still exists and whose password hash still matches (in
    /// constant time). A hash made with a fallback secret is accepted, and re-issued with the
    /// current secret after a new session key; a mismatch flushes the session (the user is
    /// logged out, as when the password changed).
    pub async fn get_user(
        &self,
        session: &mut Session,
        users: &dyn UserLookup,
    ) -> Result<Option<String>, Error> {
        let Some(id) = session.get::<String>(SESSION_KEY).await? else {
            return Ok(None);
        };
        let Some(backend) = session.get::<String>(BACKEND_SESSION_KEY).await? else {
            return Ok(None);
        };
        if !self.backends.contains(&backend) {
            return Ok(None);
        }
        let Some(password) = users.password(&id).await? else {
            return Ok(None);
        };
        let stored = session.get::<String>(HASH_SESSION_KEY).await?;
        let current = self.hash(&password);
        let verified = stored.as_deref().is_some_and(|s| same(s, &current));
        if verified {
            return Ok(Some(id));
        }
        let by_fallback = stored.as_deref().is_some_and(|s| {
            !s.is_empty()
                && self
                    .fallbacks
                    .iter()
                    .any(|f| same(s, &session_auth_hash(&password, f)))
        });
        if by_fallback {
            session.cycle_key().await?;
            session.insert(HASH_SESSION_KEY, &current).await?;
            return Ok(Some(id));
        }
        session.flush().await?;
        Ok(None)
    }
}

#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "axum")]
pub use extract::{AuthState, LoggedInUser, NotLoggedIn};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_djangos() {
        // Django 6.1: salted_hmac(AUTH_HASH_SALT, "pbkdf2_sha256$1$s$h", secret="s3cret",
        // algorithm="sha256").hexdigest()
        let h = session_auth_hash("pbkdf2_sha256$1$s$h", &Secret::new("s3cret"));
        assert_eq!(
            h,
            "ded74282b6195cc94aa727706bd4ecfe688052de72b7641f0b718b9da3827528"
        );
        assert_ne!(
            h,
            session_auth_hash("pbkdf2_sha256$1$s$x", &Secret::new("s3cret"))
        );
    }
}
