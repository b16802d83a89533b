//! Typed errors shared by every engine.

use std::error::Error as StdError;

/// A boxed error from a storage backend (database driver, Redis client, I/O…).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything a session operation can fail with.
///
/// Messages never contain session keys, session contents or secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An insert found a session under the same key; nothing was overwritten
    /// (Django's `CreateError`). `Session::create` retries with a fresh key.
    #[error("a session with this key already exists; nothing was overwritten")]
    Duplicate,

    /// An update found no session under the key: it was deleted or expired meanwhile
    /// (Django's `UpdateError`). The session is not brought back; the web layer answers 400.
    #[error(
        "the session was deleted before the request completed (the user may have logged out in a concurrent request)"
    )]
    Gone,

    /// The key cannot be used with this engine (for example characters outside `[a-z0-9]`
    /// for the file engine: Django's `InvalidSessionKey`).
    #[error("invalid session key: {0}")]
    InvalidKey(&'static str),

    /// No unused key could be found after many attempts; the store is probably failing.
    #[error(
        "unable to create a new session key after {attempts} attempts; the store is likely unavailable"
    )]
    KeyExhausted {
        /// How many keys were tried.
        attempts: u32,
    },

    /// A session value could not be converted to or from the requested Rust type.
    #[error("session value conversion failed: {0}")]
    Value(#[from] serde_json::Error),

    /// The encoded session would not fit where it must go (for example a signed cookie
    /// larger than browsers accept).
    #[error("the session is too large: {size} bytes, the limit is {limit}")]
    TooLarge {
        /// The size that was refused.
        size: usize,
        /// The limit.
        limit: usize,
    },

    /// The engine's storage failed. `Display` names the engine; the cause is the error's
    /// [`source`](std::error::Error::source) — print the whole chain with [`report`].
    #[error("{engine} session store failed{}", if *.transient { " (transient, retry may succeed)" } else { "" })]
    Backend {
        /// Short engine name (`db`, `cache`, `file`…).
        engine: &'static str,
        /// Whether retrying later may succeed (connection refused, timeout, pool exhausted).
        transient: bool,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// A backend error that retrying may cure.
    pub fn transient(engine: &'static str, source: impl Into<BoxError>) -> Error {
        Error::Backend {
            engine,
            transient: true,
            source: source.into(),
        }
    }

    /// A backend error that retrying will not cure.
    pub fn permanent(engine: &'static str, source: impl Into<BoxError>) -> Error {
        Error::Backend {
            engine,
            transient: false,
            source: source.into(),
        }
    }

    /// Whether retrying the operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Backend {
                transient: true,
                ..
            }
        )
    }
}

/// An error and its chain of causes on one line, `outer: cause: root cause` — what to show
/// a person or a log line (each error's `Display` says only its own part).
///
/// ```
/// use session_core::error::{Error, report};
/// let e = Error::transient("db", std::io::Error::other("connection refused"));
/// assert_eq!(report(&e), "db session store failed (transient, retry may succeed): connection refused");
/// ```
pub fn report(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // A transparent wrapper repeats its cause's text: say it once.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Why an encoded session string was rejected. Decoding sessions never surfaces this to the
/// request: the session is empty instead (as in Django).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No secret in use produced this signature (tampered, other secret, other salt).
    #[error("bad signature")]
    BadSignature,
    /// The signature is valid but older than the maximum age (signed cookies).
    #[error("signature expired: {age_seconds:.1} s old, max age {max_age} s")]
    Expired {
        /// Age of the signature.
        age_seconds: f64,
        /// The maximum age allowed.
        max_age: u64,
    },
    /// Signed correctly, but the content cannot be read.
    #[error("malformed session payload: {0}")]
    Malformed(&'static str),
    /// The decompressed payload exceeds the configured bound.
    #[error("decompressed session exceeds {limit} bytes")]
    TooLarge {
        /// The configured bound.
        limit: usize,
    },
}

impl DecodeError {
    /// Whether this is a signature problem (Django logs those as `SuspiciousSession`).
    pub fn is_suspicious(&self) -> bool {
        matches!(
            self,
            DecodeError::BadSignature | DecodeError::Expired { .. }
        )
    }
}

/// A configuration that cannot work, found at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is missing or empty.
    #[error("the {setting} setting must not be empty")]
    Missing {
        /// The setting's Django name.
        setting: &'static str,
    },
    /// A setting has a value that cannot be used.
    #[error("invalid {setting}: {reason}")]
    Invalid {
        /// The setting's Django name.
        setting: &'static str,
        /// Why.
        reason: String,
    },
}
