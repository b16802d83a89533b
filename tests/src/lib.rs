#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cases;
pub mod django;
pub mod hostile;
pub mod report;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use session_core::expiry::ManualClock;
use session_core::{Clock, DynSessionStore, Error, Session, SessionConfig};

pub use cases::CASES;
pub use report::{CaseReport, Report, Status};

/// A boxed, `Send` future (what case functions and store factories return).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Builds a store for one case, on the given clock, in a fresh namespace (its own table, key
/// prefix or directory) so that cases never see each other's records.
pub type StoreFactory =
    Arc<dyn Fn(Arc<dyn Clock>) -> BoxFuture<Result<Arc<DynSessionStore>, Error>> + Send + Sync>;

/// What an engine declares about itself; cases a capability rules out are reported as
/// skipped, with the reason, never silently dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The session data travels in the cookie (signed-cookie engine): no server-side record
    /// to query, delete or revoke.
    pub data_in_cookie: bool,
    /// An expired session never loads.
    pub enforces_expiry: bool,
    /// Expiry is judged by the injected clock (false for stores whose server keeps time, such
    /// as Redis TTLs).
    pub expiry_follows_clock: bool,
    /// `clear_expired` removes expired records and counts them.
    pub clear_expired: bool,
    /// Largest encoded session the engine can hold, if bounded (signed cookies: 4 KB).
    pub max_session_bytes: Option<usize>,
    /// The engine judges a record's expiry by its own settings (the file engine from the
    /// file's modification time, signed cookies from the signing time) rather than storing
    /// the expiry each save computes, so a case's own policy (an idle timeout) does not reach
    /// it; such engines test their idle timeout in their own crate.
    pub expiry_by_own_settings: bool,
    /// The store keeps a user index: `sessions_of` and `log_out_everywhere` work
    /// (`session_core::users::IndexedStore`).
    pub user_index: bool,
}

impl Capabilities {
    /// A server-side store with every capability (db, file, the memory reference store).
    pub const SERVER_SIDE: Capabilities = Capabilities {
        data_in_cookie: false,
        enforces_expiry: true,
        expiry_follows_clock: true,
        clear_expired: true,
        max_session_bytes: None,
        expiry_by_own_settings: false,
        user_index: false,
    };
}

/// One capability a case needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// A server-side record (not data-in-cookie).
    ServerSide,
    /// Expired sessions never load.
    Expiry,
    /// Expiry follows the injected clock.
    ClockExpiry,
    /// `clear_expired` counts.
    ClearExpired,
    /// Data lives in the cookie.
    DataInCookie,
    /// No size bound below 1 MiB.
    LargeSessions,
    /// A size bound ([`Capabilities::max_session_bytes`]).
    Bounded,
    /// A user index ([`Capabilities::user_index`]).
    UserIndex,
    /// The record stores the expiry each save computes (not [`Capabilities::expiry_by_own_settings`]).
    StoredExpiry,
}

impl Needs {
    fn unmet(self, caps: &Capabilities) -> Option<&'static str> {
        match self {
            Needs::ServerSide if caps.data_in_cookie => {
                Some("data lives in the cookie: there is no server-side record to query or delete")
            }
            Needs::Expiry if !caps.enforces_expiry => Some("the engine does not enforce expiry"),
            Needs::ClockExpiry if !caps.expiry_follows_clock => {
                Some("expiry is kept by the server's own clock (TTL), not the injected one")
            }
            Needs::ClearExpired if !caps.clear_expired => {
                Some("storage expires records by itself; clear_expired has nothing to count")
            }
            Needs::DataInCookie if !caps.data_in_cookie => {
                Some("only for engines whose data lives in the cookie")
            }
            Needs::LargeSessions if caps.max_session_bytes.is_some_and(|m| m < 1 << 20) => Some(
                "the engine bounds the session size below 1 MiB (checked by its own size case)",
            ),
            Needs::UserIndex if !caps.user_index => {
                Some("no user index configured (the engine runs again with one)")
            }
            Needs::StoredExpiry if caps.expiry_by_own_settings => Some(
                "the engine judges expiry by its own settings (its idle timeout is tested in its crate)",
            ),
            Needs::Bounded if caps.max_session_bytes.is_none() => {
                Some("the engine has no size bound")
            }
            _ => None,
        }
    }
}

/// A failed expectation, naming what went wrong.
#[derive(Debug)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure(format!("unexpected error: {e}"))
    }
}

/// The result of one case.
pub type CaseResult = Result<(), Failure>;

/// One conformance case.
pub struct Case {
    /// The case's name (the report and failure messages use it).
    pub name: &'static str,
    /// Capabilities it needs.
    pub needs: &'static [Needs],
    /// The case itself.
    pub run: fn(Ctx) -> BoxFuture<CaseResult>,
}

/// What a case gets: a fresh store on a manual clock, and a way to build sessions.
#[derive(Clone)]
pub struct Ctx {
    /// The store under test (fresh namespace).
    pub store: Arc<DynSessionStore>,
    /// The clock the store and the sessions use.
    pub clock: ManualClock,
    /// The engine's declared capabilities.
    pub caps: Capabilities,
}

impl Ctx {
    /// The session policy used by the cases (Django's defaults on the manual clock).
    pub fn config(&self) -> SessionConfig {
        SessionConfig::default().with_clock(Arc::new(self.clock.clone()))
    }

    /// A session on the store under test for a raw cookie value.
    pub fn session(&self, key: Option<&str>) -> Session {
        Session::new(self.store.clone(), self.config(), key)
    }
}

/// An engine configuration to run the suite against.
#[derive(Clone)]
pub struct Harness {
    /// Report label (`db-sqlite`, `cache-redis`…).
    pub label: String,
    /// Declared capabilities.
    pub capabilities: Capabilities,
    /// Builds a store per case.
    pub factory: StoreFactory,
}

impl Harness {
    /// A harness from a label, capabilities and an async factory.
    pub fn new<F, Fut>(label: impl Into<String>, capabilities: Capabilities, factory: F) -> Harness
    where
        F: Fn(Arc<dyn Clock>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<DynSessionStore>, Error>> + Send + 'static,
    {
        Harness {
            label: label.into(),
            capabilities,
            factory: Arc::new(move |clock| Box::pin(factory(clock))),
        }
    }

    /// Runs every case; returns the report (nothing is written).
    pub async fn run(&self) -> Report {
        let mut report = Report::new(&self.label);
        for case in CASES {
            if let Some(reason) = case.needs.iter().find_map(|n| n.unmet(&self.capabilities)) {
                report.push(case.name, Status::Skipped, Some(reason.to_owned()));
                continue;
            }
            let clock = ManualClock::at_unix(1_767_323_045.5);
            let outcome = match (self.factory)(Arc::new(clock.clone())).await {
                Ok(store) => {
                    let ctx = Ctx {
                        store,
                        clock,
                        caps: self.capabilities,
                    };
                    // A panicking case is a failure of that case, not of the run.
                    match tokio::spawn((case.run)(ctx)).await {
                        Ok(r) => r,
                        Err(e) => Err(Failure(format!("case panicked: {e}"))),
                    }
                }
                Err(e) => Err(Failure(format!("could not build the store: {e}"))),
            };
            match outcome {
                Ok(()) => report.push(case.name, Status::Passed, None),
                Err(f) => report.push(case.name, Status::Failed, Some(f.0)),
            }
        }
        report
    }

    /// Runs every case, writes `target/conformance/<label>.json`, and panics naming every
    /// failed case. This is the one call an engine's test makes per configuration.
    pub async fn run_and_assert(&self) -> Report {
        let report = self.run().await;
        if let Err(e) = report.write() {
            panic!("could not write the conformance report: {e}");
        }
        let failed: Vec<String> = report
            .cases
            .iter()
            .filter(|c| c.status == Status::Failed)
            .map(|c| format!("  {}: {}", c.name, c.reason.as_deref().unwrap_or("")))
            .collect();
        assert!(
            failed.is_empty(),
            "{}: {} conformance case(s) failed:\n{}",
            self.label,
            failed.len(),
            failed.join("\n")
        );
        eprintln!(
            "{}: {} passed, {} failed, {} skipped",
            report.engine, report.passed, report.failed, report.skipped
        );
        report
    }
}

/// The URL of a test server from the environment, or `default`; the caller checks that it
/// answers. See [`unavailable`] for what to do when it does not.
pub fn service_url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// Call when a configuration's server cannot be reached: under `CI=true` this fails the
/// test; locally it prints why the configuration is skipped and returns.
pub fn unavailable(label: &str, why: &dyn fmt::Display) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(!ci, "{label}: server unreachable under CI=true: {why}");
    eprintln!("SKIPPED {label}: server unreachable ({why}); run scripts/test-services.sh");
}

/// Fails the current case unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::Failure(format!($($fmt)+)));
        }
    };
}

/// Fails the current case unless both sides are equal.
#[macro_export]
macro_rules! check_eq {
    ($a:expr, $b:expr, $($fmt:tt)+) => {
        match (&$a, &$b) {
            (a, b) => {
                if a != b {
                    return Err($crate::Failure(format!("{}: {:?} != {:?}", format!($($fmt)+), a, b)));
                }
            }
        }
    };
}

/// A loopback TCP proxy to `target` for outage tests: aborting the returned task closes every
/// forwarded connection and refuses new ones, as a dead server would.
pub fn tcp_proxy(listener: tokio::net::TcpListener, target: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Dropping the set (when this task is aborted) aborts every forwarded connection.
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            conns.spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

/// A private Memcached process on its own loopback port, for placement and outage tests
/// (the shared server on 11211 is never touched). Killed when dropped.
pub struct PrivateMemcached {
    child: Option<std::process::Child>,
    port: u16,
}

impl PrivateMemcached {
    /// Starts `memcached` on a free port of 127.0.0.1 (16 MB); `Err` says why it could not.
    pub fn start() -> Result<PrivateMemcached, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut m = PrivateMemcached { child: None, port };
        m.spawn()?;
        Ok(m)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = std::process::Command::new("memcached");
        cmd.args([
            "-l",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-m",
            "16",
            "-U",
            "0",
        ]);
        // memcached refuses to run as root unless told which user to become.
        if std::env::var("USER").is_ok_and(|u| u == "root")
            || std::fs::read_to_string("/proc/self/status")
                .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
        {
            cmd.args(["-u", "nobody"]);
        }
        let child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start memcached (install Debian's memcached): {e}"))?;
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Err(format!(
            "memcached did not listen on 127.0.0.1:{}",
            self.port
        ))
    }

    /// `host:port`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (empty, as a restarted Memcached is).
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        self.spawn()
    }
}

impl Drop for PrivateMemcached {
    fn drop(&mut self) {
        self.kill();
    }
}
