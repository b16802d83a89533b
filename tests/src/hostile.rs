//! Hostile stored values: helpers for each engine's table of bad data planted in its storage
//! (cache values, database rows, session files). Every such value must read as an empty
//! session plus a `tracing` warning — never a panic, an error, or a stall.
//!
//! Run a table in its own test binary, from one test function: [`WarningLog::install`]
//! sets the process-wide subscriber (warnings raised on blocking threads are caught too).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use session_core::{DynSessionStore, Session, SessionConfig};

/// How long one hostile read may take before it counts as a stall. Generous (debug builds,
/// loaded CI machines): it catches the class of reads that take seconds or never end.
pub const STALL: Duration = Duration::from_secs(5);

/// Every warning (and error) logged in this process since the last [`take`](Self::take).
#[derive(Clone, Default)]
pub struct WarningLog(Arc<Mutex<Vec<u8>>>);

impl Write for WarningLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl WarningLog {
    /// Installs the process-wide subscriber once and returns its log.
    pub fn install() -> WarningLog {
        static LOG: OnceLock<WarningLog> = OnceLock::new();
        LOG.get_or_init(|| {
            let log = WarningLog::default();
            let writer = log.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::WARN)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            // Another subscriber may be installed already (then nothing is captured and the
            // table's warning checks fail loudly).
            let _ = tracing::subscriber::set_global_default(subscriber);
            log
        })
        .clone()
    }

    /// The text logged since the last call.
    pub fn take(&self) -> String {
        let mut buf = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&std::mem::take(&mut *buf)).into_owned()
    }
}

/// Serializes the tables of one test binary (they share the process-wide warning log).
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// Opens the session `key` on `store` (as a request would) and checks it reads as an empty
/// session within [`STALL`], with a warning logged. Panics with `label` otherwise.
pub async fn expect_unreadable(
    store: &Arc<DynSessionStore>,
    key: &str,
    label: &str,
    log: &WarningLog,
) {
    log.take();
    let mut session = Session::new(store.clone(), SessionConfig::default(), Some(key));
    let loaded = tokio::time::timeout(STALL, session.load())
        .await
        .unwrap_or_else(|_| panic!("{label}: the read stalled for over {STALL:?}"));
    match loaded {
        Ok(m) if m.is_empty() => {}
        Ok(m) => panic!("{label}: read as a session with {} keys", m.len()),
        Err(e) => panic!("{label}: an error instead of an empty session: {e}"),
    }
    let logged = log.take();
    assert!(
        logged.contains("WARN") || logged.contains("ERROR"),
        "{label}: no warning logged"
    );
}
