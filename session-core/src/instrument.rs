//! What the stores tell operators: a `tracing` span per store operation and, with the
//! `metrics` feature, counters and a latency histogram through the `metrics` facade.
//!
//! [`Instrumented`] wraps any [`SessionStore`]; the registry wraps every engine it builds,
//! so built-in and third-party engines report the same way. Nothing emitted carries a
//! session key, session data or a secret.
//!
//! | what | name | fields / labels |
//! |---|---|---|
//! | span (DEBUG) per operation | `session_store` | `engine`, `op`, `outcome`, `duration_us` |
//! | counter | `session_store_operations_total` | `engine`, `op`, `outcome` |
//! | histogram (seconds) | `session_store_duration_seconds` | `engine`, `op` |
//!
//! `op` is `load`, `exists`, `create`, `save`, `delete` or `clear_expired`. `outcome` is
//! `hit` / `miss` (load, exists), `ok`, `conflict_duplicate` (create found the key taken),
//! `conflict_gone` (save found the session deleted), `error_transient`, `error_permanent`
//! or `error_other`.

use std::fmt;
use std::time::Instant;

use async_trait::async_trait;
use tracing::Instrument as _;

use crate::store::{Record, SessionStore};
use crate::{Error, Map};

/// A store that reports each operation (see the module docs).
///
/// ```
/// use std::sync::Arc;
/// use session_core::instrument::Instrumented;
/// use session_core::memory::MemoryStore;
/// use session_core::SessionStore;
/// let store = Instrumented::new(MemoryStore::default());
/// assert_eq!(store.engine_name(), "memory");
/// ```
pub struct Instrumented<S> {
    inner: S,
}

impl<S: fmt::Debug> fmt::Debug for Instrumented<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Instrumented").field(&self.inner).finish()
    }
}

impl<S> Instrumented<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Instrumented { inner }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

/// The words for an error, as the `outcome` field and label.
pub fn error_outcome(e: &Error) -> &'static str {
    match e {
        Error::Duplicate => "conflict_duplicate",
        Error::Gone => "conflict_gone",
        Error::Backend {
            transient: true, ..
        } => "error_transient",
        Error::Backend { .. } => "error_permanent",
        _ => "error_other",
    }
}

/// Records one finished operation: the span's fields, the counter and the histogram.
fn report(
    span: &tracing::Span,
    engine: &'static str,
    op: &'static str,
    outcome: &'static str,
    start: Instant,
) {
    let elapsed = start.elapsed();
    span.record("outcome", outcome);
    span.record(
        "duration_us",
        u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    );
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("session_store_operations_total", "engine" => engine, "op" => op, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("session_store_duration_seconds", "engine" => engine, "op" => op)
            .record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (engine, op);
}

fn span(engine: &'static str, op: &'static str) -> tracing::Span {
    tracing::debug_span!(
        target: "django.contrib.sessions",
        "session_store",
        engine,
        op,
        outcome = tracing::field::Empty,
        duration_us = tracing::field::Empty,
    )
}

/// Runs `fut` inside the operation's span and reports it; `ok` names a success's outcome.
async fn observe<T>(
    engine: &'static str,
    op: &'static str,
    fut: impl std::future::Future<Output = Result<T, Error>>,
    ok: impl FnOnce(&T) -> &'static str,
) -> Result<T, Error> {
    let span = span(engine, op);
    let start = Instant::now();
    let result = fut.instrument(span.clone()).await;
    let outcome = match &result {
        Ok(v) => ok(v),
        Err(e) => error_outcome(e),
    };
    report(&span, engine, op, outcome, start);
    result
}

#[async_trait]
impl<S: SessionStore> SessionStore for Instrumented<S> {
    fn engine_name(&self) -> &'static str {
        self.inner.engine_name()
    }

    fn stores_data_in_cookie(&self) -> bool {
        self.inner.stores_data_in_cookie()
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        let found = |m: &Option<Map>| if m.is_some() { "hit" } else { "miss" };
        observe(self.engine_name(), "load", self.inner.load(key), found).await
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        let found = |b: &bool| if *b { "hit" } else { "miss" };
        observe(self.engine_name(), "exists", self.inner.exists(key), found).await
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        observe(
            self.engine_name(),
            "create",
            self.inner.create(record),
            |_| "ok",
        )
        .await
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        observe(
            self.engine_name(),
            "save",
            self.inner.save(record),
            |_| "ok",
        )
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        observe(
            self.engine_name(),
            "delete",
            self.inner.delete(key),
            |_| "ok",
        )
        .await
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        let op = self.inner.clear_expired();
        observe(self.engine_name(), "clear_expired", op, |_| "ok").await
    }

    async fn clear_expired_with_progress(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Option<u64>, Error> {
        let op = self.inner.clear_expired_with_progress(progress);
        observe(self.engine_name(), "clear_expired", op, |_| "ok").await
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<chrono::DateTime<chrono::Utc>>)>, Error> {
        let found = |m: &Option<_>| if m.is_some() { "hit" } else { "miss" };
        observe(
            self.engine_name(),
            "load",
            self.inner.load_with_expiry(key),
            found,
        )
        .await
    }

    async fn sessions_of(&self, user: &str) -> Result<Option<Vec<String>>, Error> {
        observe(
            self.engine_name(),
            "sessions_of",
            self.inner.sessions_of(user),
            |_| "ok",
        )
        .await
    }

    async fn log_out_everywhere(
        &self,
        user: &str,
        except: Option<&str>,
    ) -> Result<Option<u64>, Error> {
        let op = self.inner.log_out_everywhere(user, except);
        observe(self.engine_name(), "log_out_everywhere", op, |_| "ok").await
    }

    async fn touch(&self, record: &Record<'_>) -> Result<String, Error> {
        observe(
            self.engine_name(),
            "touch",
            self.inner.touch(record),
            |_| "ok",
        )
        .await
    }

    async fn list_keys(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<crate::store::KeyPage>, Error> {
        let op = self.inner.list_keys(cursor, limit);
        observe(self.engine_name(), "list_keys", op, |_| "ok").await
    }
}
