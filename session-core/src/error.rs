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

/// A server that could not be used, said so a person can act on it: which server, where,
/// what went wrong and the setting to look at. Engines wrap their driver's error in it (the
/// driver's error stays the [`source`](std::error::Error::source)).
///
/// ```
/// use session_core::error::ServiceError;
/// let e = ServiceError::new("PostgreSQL", "db.example:5432", "SESSION_DB_POOL_TIMEOUT")
///     .problem("pool timed out after 5 s");
/// assert_eq!(e.to_string(), "PostgreSQL at db.example:5432: pool timed out after 5 s (SESSION_DB_POOL_TIMEOUT)");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{service} at {address}: {problem} ({setting})")]
pub struct ServiceError {
    /// `PostgreSQL`, `MySQL`, `SQLite`, `Redis`, `Redis Cluster`.
    pub service: &'static str,
    /// `host:port` (or a file path for SQLite); never credentials.
    pub address: String,
    /// The setting to look at (`DATABASE_URL`, `SESSION_DB_POOL_TIMEOUT`, `CACHE_URL`…).
    pub setting: &'static str,
    /// What went wrong, in words.
    pub problem: String,
    /// The driver's error.
    #[source]
    pub source: Option<BoxError>,
}

impl ServiceError {
    /// A failure of `service` at `address`, pointing at `setting`.
    pub fn new(service: &'static str, address: impl Into<String>, setting: &'static str) -> Self {
        ServiceError {
            service,
            address: address.into(),
            setting,
            problem: String::new(),
            source: None,
        }
    }

    /// What went wrong.
    #[must_use]
    pub fn problem(mut self, problem: impl Into<String>) -> Self {
        self.problem = problem.into();
        self
    }

    /// The driver's error underneath.
    #[must_use]
    pub fn caused_by(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }
}

/// Whether a driver's error text says the TLS handshake failed on the server's certificate
/// (rustls, OpenSSL and native-tls wordings): retrying cannot cure it.
pub fn is_certificate_failure(text: &str) -> bool {
    const SIGNS: &[&str] = &[
        "invalid peer certificate",
        "UnknownIssuer",
        "certificate verify failed",
        "NotValidForName",
        "self-signed certificate",
        "self signed certificate",
        "unable to get local issuer certificate",
        "CertificateExpired",
        "BadSignature",
    ];
    SIGNS.iter().any(|s| text.contains(s))
}

/// The words for a certificate failure, naming the setting that holds the CA.
pub fn certificate_problem(text: &str, ca_setting: &str) -> String {
    if text.contains("NotValidForName") || text.contains("hostname mismatch") {
        format!("TLS: the server's certificate is not valid for this host name ({text})")
    } else {
        format!(
            "TLS: the server's certificate is not signed by a trusted CA — give the CA that signed it with {ca_setting}, or install it in the system's trust store ({text})"
        )
    }
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
