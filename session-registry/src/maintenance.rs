//! Expired-session cleanup without cron: an opt-in background task.
//!
//! Django needs `manage.py clearsessions` from cron; `sessionctl clear-expired` is the same
//! here. `SESSION_CLEAR_EXPIRED_EVERY=<seconds>` runs it inside the application instead.
//! Several instances may run it at once without colliding: each waits a random share of
//! the period before its first run and spaces later runs by the period ± 10 %, so runs
//! spread out instead of lining up. A run is the engine's own batched `clear_expired` (on
//! databases, short `DELETE … LIMIT` batches with a pause between them, the same as the
//! CLI), so live traffic keeps the write lock; a second instance that runs just after the
//! first finds nothing left and sends one cheap indexed statement. Engines whose server
//! expires sessions by itself (cache, signed cookies) make it a no-op.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng as _;
use session_core::{ConfigError, DynSessionStore, Settings, SettingsGroup};

session_core::settings_table! {
    /// Settings of the background tasks.
    #[derive(Debug, Clone)]
    pub struct MaintenanceSettings {
        /// `SESSION_CLEAR_EXPIRED_EVERY` (not a Django setting): seconds between two runs of
        /// `clear_expired` in the background; unset (the default) runs none.
        clear_expired_every: Option<u64> = "SESSION_CLEAR_EXPIRED_EVERY" => None,
    }
}

/// A running background cleanup; stopped when dropped (or with [`stop`](Self::stop)).
#[derive(Debug)]
pub struct ClearExpiredTask {
    handle: tokio::task::JoinHandle<()>,
    runs: Arc<AtomicU64>,
    removed: Arc<AtomicU64>,
    failures: Arc<AtomicU64>,
}

impl ClearExpiredTask {
    /// Starts clearing `store` every `every` (jittered as the module says). Needs a Tokio
    /// runtime.
    ///
    /// ```no_run
    /// # async fn demo(store: std::sync::Arc<session_core::DynSessionStore>) {
    /// use std::time::Duration;
    /// use session_registry::ClearExpiredTask;
    /// let cleanup = ClearExpiredTask::spawn(store, Duration::from_secs(3600));
    /// // … serve requests; dropping `cleanup` stops it.
    /// # drop(cleanup);
    /// # }
    /// ```
    pub fn spawn(store: Arc<DynSessionStore>, every: Duration) -> ClearExpiredTask {
        let every = every.max(Duration::from_millis(10));
        let runs = Arc::new(AtomicU64::new(0));
        let removed = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(AtomicU64::new(0));
        let (r, n, f) = (runs.clone(), removed.clone(), failures.clone());
        let handle = tokio::spawn(async move {
            let first = every.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
            tokio::time::sleep(first).await;
            loop {
                match store.clear_expired().await {
                    Ok(count) => {
                        n.fetch_add(count.unwrap_or(0), Ordering::Relaxed);
                        tracing::info!(
                            target: "django.contrib.sessions",
                            engine = store.engine_name(),
                            removed = count.unwrap_or(0),
                            "background clear_expired"
                        );
                    }
                    Err(e) => {
                        f.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            target: "django.contrib.sessions",
                            engine = store.engine_name(),
                            error = %session_core::error::report(&e),
                            "background clear_expired failed; retrying at the next period"
                        );
                    }
                }
                r.fetch_add(1, Ordering::Relaxed);
                let next = every.mul_f64(rand::thread_rng().gen_range(0.9..1.1));
                tokio::time::sleep(next).await;
            }
        });
        ClearExpiredTask {
            handle,
            runs,
            removed,
            failures,
        }
    }

    /// The task `SESSION_CLEAR_EXPIRED_EVERY` asks for, or `None` when it is unset.
    pub fn from_settings(
        settings: &Settings,
        store: Arc<DynSessionStore>,
    ) -> Result<Option<ClearExpiredTask>, ConfigError> {
        let own = MaintenanceSettings::from_settings(settings)?;
        Ok(match own.clear_expired_every {
            None => None,
            Some(0) => {
                return Err(ConfigError::Invalid {
                    setting: "SESSION_CLEAR_EXPIRED_EVERY",
                    reason: "must be at least 1 second (unset it to run no task)".into(),
                });
            }
            Some(secs) => Some(Self::spawn(store, Duration::from_secs(secs))),
        })
    }

    /// How many runs have finished (successful or not).
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// How many runs failed (each logged as a warning).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// How many sessions the runs removed.
    pub fn removed(&self) -> u64 {
        self.removed.load(Ordering::Relaxed)
    }

    /// Stops the task; a run in progress is abandoned between two statements.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for ClearExpiredTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}
