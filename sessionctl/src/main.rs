//! `sessionctl`: encode and decode Django session strings and manage session stores from the
//! command line. Global options may come before or after the command.

use std::io::{IsTerminal as _, Read};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use session_core::codec::log_rejected;
use session_core::{Clock, DynSessionStore, Settings, SettingsSource, SystemClock, Value};

/// Exit status when a session or string is rejected (missing, expired, invalid).
const REJECTED: u8 = 3;

/// Exit status when a session exists but cannot be read (wrong secret, corrupt data).
const UNREADABLE_EXIT: u8 = 4;

/// Exit status after SIGINT/SIGTERM (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[derive(Parser)]
#[command(name = "sessionctl", version, about = "Django-compatible session tool")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// TOML file with Django setting names (SECRET_KEY, SESSION_ENGINE, DATABASE_URL, …).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// SECRET_KEY (else the SECRET_KEY environment variable).
    #[arg(long, global = true, value_name = "S")]
    secret: Option<String>,
    /// One SECRET_KEY_FALLBACKS entry, byte for byte; repeatable (else SECRET_KEY_FALLBACKS,
    /// a JSON array).
    #[arg(long = "fallback", global = true, value_name = "S")]
    fallbacks: Vec<String>,
    /// SESSION_COOKIE_AGE in seconds (signed cookies' max age).
    #[arg(long, global = true, value_name = "N", allow_negative_numbers = true)]
    cookie_age: Option<i64>,
    /// SESSION_ENGINE: db, cache, cached_db, file, signed_cookies, migrate or a Django dotted
    /// path.
    #[arg(long, global = true, value_name = "ENGINE")]
    engine: Option<String>,
    /// DATABASE_URL for the db engine (sqlite:///absolute/path, postgres://…, mysql://…).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// SESSION_FILE_PATH for the file engine.
    #[arg(long, global = true, value_name = "DIR")]
    file_path: Option<String>,
    /// CACHE_URL for the cache engines: redis://…, redis-cluster://h:p,h:p, memcached://h:p
    /// or memory://.
    #[arg(long, global = true, value_name = "URL")]
    cache_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Encode or decode session strings.
    Codec {
        #[command(subcommand)]
        action: CodecAction,
    },
    /// Create a session from a JSON object on stdin; prints the new key (for signed cookies:
    /// the cookie value).
    Create,
    /// Print a session's data as JSON; exit 3 when missing, expired or invalid (for signed
    /// cookies KEY is the cookie value, rejected when older than --cookie-age), 4 when it
    /// exists but cannot be read (the reason is printed: a wrong SECRET_KEY, corrupt data).
    Load {
        /// The session key.
        key: String,
    },
    /// Exit 0 when a record occupies the key, 3 otherwise.
    Exists {
        /// The session key.
        key: String,
    },
    /// Delete a session.
    Delete {
        /// The session key.
        key: String,
    },
    /// Remove expired sessions (Django's clearsessions); prints the count.
    ClearExpired,
    /// Create the db engine's table and Django's indexes when missing (what Django's
    /// `manage.py migrate sessions` does), then check the table's shape. The only command
    /// that runs DDL: the engines themselves never do on PostgreSQL and MySQL unless
    /// SESSION_DB_CREATE_TABLE is set.
    MigrateSchema,
    /// List the keys of a user's live sessions (Django's `_auth_user_id`); needs
    /// SESSION_USER_INDEX=true.
    Sessions {
        /// The user's id, as Django stores it (the primary key as a string).
        #[arg(long, value_name = "ID")]
        user: String,
    },
    /// End every session of a user (log out everywhere); prints how many. Needs
    /// SESSION_USER_INDEX=true. With --scan, every stored session is read as well, so
    /// sessions Django created and no Rust request has read yet are ended too.
    Logout {
        /// The user's id.
        #[arg(long, value_name = "ID")]
        user: String,
        /// A session to keep (the current one).
        #[arg(long, value_name = "KEY")]
        except: Option<String>,
        /// Also read every stored session (db, file, cache on Redis: engines that can list).
        #[arg(long)]
        scan: bool,
    },
    /// Read every stored session once, so the user index knows the sessions Django created
    /// (run it once when turning SESSION_USER_INDEX on beside a Django app); prints how many
    /// sessions it read.
    Reindex,
    /// Copy every live session from one engine to another (both configured by the usual
    /// settings), in batches, with progress on stderr. Idempotent: a session already on the
    /// target is left as it is (never overwritten), one already moved is skipped. Resumable:
    /// the position is kept in --checkpoint after each batch, and a rerun continues from it.
    /// Prints what it copied, skipped and failed; exit 1 when any failed.
    Migrate {
        /// The engine to move from (a SESSION_ENGINE name; default SESSION_MIGRATE_FROM).
        #[arg(long, value_name = "ENGINE")]
        from: Option<String>,
        /// The engine to move to (default SESSION_MIGRATE_TO).
        #[arg(long, value_name = "ENGINE")]
        to: Option<String>,
        /// Sessions per batch.
        #[arg(long, default_value_t = 500, value_name = "N")]
        batch: usize,
        /// Where the position is kept between runs (removed when the run completes).
        #[arg(
            long,
            default_value = "sessionctl-migrate.checkpoint",
            value_name = "FILE"
        )]
        checkpoint: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum CodecAction {
    /// A JSON object on stdin, the encoded string on stdout.
    Encode {
        /// Use the signed-cookie salt.
        #[arg(long)]
        signed_cookie: bool,
    },
    /// An encoded string on stdin, the JSON object on stdout; exit 3 when rejected.
    Decode {
        /// Use the signed-cookie salt and check the cookie age.
        #[arg(long)]
        signed_cookie: bool,
    },
}

/// A failure with its exit status.
struct Fail(u8, String);

impl<E: std::error::Error + 'static> From<E> for Fail {
    fn from(e: E) -> Fail {
        Fail(1, session_core::error::report(&e))
    }
}

fn settings(g: &Global) -> Result<Settings, Fail> {
    settings_with(g, &[])
}

/// The settings, with `extra` pairs winning over every source.
fn settings_with(g: &Global, extra: &[(&str, &str)]) -> Result<Settings, Fail> {
    let toml = match &g.config {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Fail(1, format!("cannot read {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let mut flags = SettingsSource::new();
    if let Some(s) = &g.secret {
        flags.set("SECRET_KEY", s.as_str());
    }
    if !g.fallbacks.is_empty() {
        // A JSON array: each flag stays one secret, whatever it contains.
        flags.set("SECRET_KEY_FALLBACKS", serde_json::to_string(&g.fallbacks)?);
    }
    if let Some(a) = g.cookie_age {
        flags.set("SESSION_COOKIE_AGE", a.to_string());
    }
    for &(name, value) in extra {
        flags.set(name, value);
    }
    for (name, value) in [
        ("SESSION_ENGINE", &g.engine),
        ("DATABASE_URL", &g.database_url),
        ("SESSION_FILE_PATH", &g.file_path),
        ("CACHE_URL", &g.cache_url),
    ] {
        if let Some(v) = value {
            flags.set(name, v.as_str());
        }
    }
    let file = match toml.as_deref() {
        Some(text) => SettingsSource::from_toml_str(text)?,
        None => SettingsSource::new(),
    };
    // Flags win over the environment, which wins over the file.
    Ok(Settings::from_source(
        file.overlay(SettingsSource::from_env()).overlay(flags),
    )?)
}

fn read_stdin() -> Result<String, Fail> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    Ok(text)
}

fn read_object() -> Result<session_core::Map, Fail> {
    match Value::from_python_json(read_stdin()?.trim()) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Fail(1, "stdin must hold a JSON object".into())),
        Err(e) => Err(Fail(1, format!("stdin is not JSON: {e}"))),
    }
}

async fn store(settings: &Settings) -> Result<Arc<DynSessionStore>, Fail> {
    Ok(session_registry::build_store(settings).await?)
}

// One short arm per command: long only by their number.
async fn run(cli: Cli) -> Result<(), Fail> {
    let settings = settings(&cli.global)?;
    let clock = SystemClock;
    match cli.command {
        Command::Codec {
            action: CodecAction::Encode { signed_cookie },
        } => {
            let map = read_object()?;
            let signer = if signed_cookie {
                settings.signed_cookie_signer()
            } else {
                settings.session_signer()
            };
            println!("{}", signer.sign_map(&map, clock.now()));
        }
        Command::Codec {
            action: CodecAction::Decode { signed_cookie },
        } => {
            let text = read_stdin()?;
            let (signer, max_age) = if signed_cookie {
                (
                    settings.signed_cookie_signer(),
                    Some(u64::try_from(settings.cookie.age).unwrap_or(0)),
                )
            } else {
                (settings.session_signer(), None)
            };
            match signer.unsign_map(text.trim(), max_age, clock.now()) {
                Ok(map) => println!("{}", Value::Object(map).to_python_json()),
                Err(e) => {
                    log_rejected(&e);
                    return Err(Fail(REJECTED, format!("rejected: {e}")));
                }
            }
        }
        Command::Create => {
            let map = read_object()?;
            let store = store(&settings).await?;
            let mut session = session_core::Session::new(
                store,
                session_core::SessionConfig::from_settings(&settings),
                None,
            );
            session.update(map).await?;
            session.save(false).await?;
            println!("{}", session.session_key().unwrap_or_default());
        }
        Command::Load { key } => {
            let store = store(&settings).await?;
            let loaded = store.load(&key).await?;
            // A record that exists but cannot be read (a wrong SECRET_KEY, corrupt data) is
            // not an empty session to a person asking for it.
            let unreadable = UNREADABLE.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let (Some(reason), true) = (unreadable, loaded.as_ref().is_none_or(|m| m.is_empty()))
            {
                return Err(Fail(
                    UNREADABLE_EXIT,
                    format!(
                        "the session exists but cannot be read: {reason} (a wrong SECRET_KEY?)"
                    ),
                ));
            }
            match loaded {
                Some(map) => println!("{}", Value::Object(map).to_python_json()),
                None => return Err(Fail(REJECTED, "no live session under that key".into())),
            }
        }
        Command::Exists { key } => {
            let store = store(&settings).await?;
            if !store.exists(&key).await? {
                return Err(Fail(REJECTED, "no session under that key".into()));
            }
        }
        Command::Delete { key } => {
            store(&settings).await?.delete(&key).await?;
        }
        Command::MigrateSchema => {
            let engine = settings.engine.rsplit('.').next().unwrap_or_default();
            if !matches!(engine, "db" | "cached_db") {
                return Err(Fail(
                    1,
                    format!(
                        "migrate-schema applies to the db and cached_db engines, not {:?}",
                        settings.engine
                    ),
                ));
            }
            let settings = settings_with(&cli.global, &[("SESSION_DB_CREATE_TABLE", "true")])?;
            store(&settings).await?.close().await;
            println!("the session table is ready (created where missing; its shape checked)");
        }
        Command::Migrate {
            from,
            to,
            batch,
            checkpoint,
        } => {
            migrate(
                &settings,
                from.as_deref(),
                to.as_deref(),
                batch,
                &checkpoint,
            )
            .await?
        }
        Command::Sessions { user } => {
            let store = store(&settings).await?;
            let Some(keys) = store.sessions_of(&user).await? else {
                return Err(Fail(1, no_user_index(&*store)));
            };
            for key in keys {
                println!("{key}");
            }
        }
        Command::Logout { user, except, scan } => {
            let store = store(&settings).await?;
            if scan {
                // Reading a session indexes it: the log-out below then finds it.
                read_every_session(&*store).await?;
            }
            let Some(n) = store.log_out_everywhere(&user, except.as_deref()).await? else {
                return Err(Fail(1, no_user_index(&*store)));
            };
            println!("{n}");
        }
        Command::Reindex => {
            let store = store(&settings).await?;
            if store.sessions_of("").await?.is_none() {
                return Err(Fail(1, no_user_index(&*store)));
            }
            println!("{}", read_every_session(&*store).await?);
        }
        Command::ClearExpired => {
            // Django's clearsessions; batching engines report progress on a terminal.
            // Interrupted (SIGINT/SIGTERM), it stops between statements — each batch is one
            // DELETE, so the store stays consistent — and says how many it removed.
            let store = store(&settings).await?;
            let tty = std::io::stderr().is_terminal();
            let done = std::sync::atomic::AtomicU64::new(0);
            let progress = |n: u64| {
                done.store(n, std::sync::atomic::Ordering::Relaxed);
                if tty {
                    eprint!("\rdeleted {n} expired sessions…");
                }
            };
            let cleared = tokio::select! {
                r = store.clear_expired_with_progress(&progress) => r?,
                () = interrupted() => {
                    let n = done.load(std::sync::atomic::Ordering::Relaxed);
                    return Err(Fail(INTERRUPTED, format!("interrupted: at least {n} expired sessions were removed; run it again to finish")));
                }
            };
            if tty {
                eprintln!();
            }
            match cleared {
                Some(n) => println!("{n}"),
                None => println!(
                    "0 (the {} engine expires sessions by itself)",
                    store.engine_name()
                ),
            }
        }
    }
    Ok(())
}

fn no_user_index(store: &DynSessionStore) -> String {
    format!(
        "the {} engine keeps no user index here: set SESSION_USER_INDEX=true",
        store.engine_name()
    )
}

/// Loads every stored session once (through the user index, which learns them); how many.
async fn read_every_session(store: &DynSessionStore) -> Result<u64, Fail> {
    let mut n = 0u64;
    let mut cursor: Option<String> = None;
    loop {
        let Some(page) = store.list_keys(cursor.as_deref(), 500).await? else {
            return Err(Fail(
                1,
                format!(
                    "the {} engine cannot list its sessions",
                    store.engine_name()
                ),
            ));
        };
        for key in &page.keys {
            if store.load(key).await?.is_some() {
                n += 1;
            }
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok(n),
        }
    }
}

/// `sessionctl migrate`: pages through the old engine's keys, moving each session with the
/// migration store's own copy (so it follows the same rules as a first read).
async fn migrate(
    settings: &Settings,
    from: Option<&str>,
    to: Option<&str>,
    batch: usize,
    checkpoint: &std::path::Path,
) -> Result<(), Fail> {
    use session_core::migrate::{MigratingStore, Moved};
    let (old, new, old_copies) = session_registry::build_migration_pair(settings, from, to).await?;
    let store = MigratingStore::new(
        new.clone(),
        old.clone(),
        old_copies,
        session_core::SessionConfig::from_settings(settings),
    );
    store.check()?;
    // The checkpoint names the pair, so a file left by another migration is not misread.
    let pair = format!("{} -> {}", old.engine_name(), new.engine_name());
    let mut cursor: Option<String> = match std::fs::read_to_string(checkpoint) {
        Ok(text) => {
            let (p, c) = text
                .trim_end()
                .split_once('\n')
                .unwrap_or((text.trim_end(), ""));
            if p != pair {
                return Err(Fail(
                    1,
                    format!(
                        "{} is the checkpoint of another migration ({p}); remove it or give --checkpoint",
                        checkpoint.display()
                    ),
                ));
            }
            eprintln!("resuming after {c:?} ({})", checkpoint.display());
            Some(c.to_owned()).filter(|c| !c.is_empty())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Fail(
                1,
                format!("cannot read {}: {e}", checkpoint.display()),
            ));
        }
    };
    let (mut copied, mut present, mut nothing, mut failed) = (0u64, 0u64, 0u64, 0u64);
    loop {
        let page = tokio::select! {
            r = old.list_keys(cursor.as_deref(), batch) => r?,
            () = interrupted() => return Err(Fail(INTERRUPTED, format!("interrupted: {copied} copied so far; run it again to continue"))),
        };
        let Some(page) = page else {
            return Err(Fail(
                1,
                format!(
                    "the {} engine cannot list its sessions; with SESSION_ENGINE=migrate they move on their first read instead",
                    old.engine_name()
                ),
            ));
        };
        for key in &page.keys {
            match store.migrate_key(key).await {
                Ok(Moved::Copied) => copied += 1,
                Ok(Moved::AlreadyThere) => present += 1,
                Ok(Moved::Nothing) => nothing += 1,
                Err(e) => {
                    failed += 1;
                    eprintln!("{key:.8}…: {}", session_core::error::report(&e));
                }
            }
        }
        cursor = page.next;
        match &cursor {
            Some(c) => std::fs::write(checkpoint, format!("{pair}\n{c}\n"))
                .map_err(|e| Fail(1, format!("cannot write {}: {e}", checkpoint.display())))?,
            None => break,
        }
        eprintln!(
            "{pair}: {copied} copied, {present} already there, {nothing} expired or moved, {failed} failed…"
        );
    }
    match std::fs::remove_file(checkpoint) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("cannot remove {}: {e}", checkpoint.display()),
    }
    println!(
        "{pair}: copied {copied}, skipped {} ({present} already on the target, {nothing} expired or already moved), failed {failed}",
        present + nothing
    );
    if failed > 0 {
        return Err(Fail(
            1,
            format!("{failed} sessions could not be copied; run it again to retry them"),
        ));
    }
    Ok(())
}

/// The last warning an engine logged about stored data it could not read (the `reason`
/// field, or the message): `load` reports it instead of printing an empty session.
static UNREADABLE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Records warnings on the session loggers, whatever `RUST_LOG` shows.
struct UnreadableData;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for UnreadableData {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() != tracing::Level::WARN || !meta.target().starts_with("django.") {
            return;
        }
        struct Reason(Option<String>, Option<String>);
        impl tracing::field::Visit for Reason {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "reason" => self.0 = Some(format!("{value:?}")),
                    "message" => self.1 = Some(format!("{value:?}")),
                    _ => {}
                }
            }
        }
        let mut r = Reason(None, None);
        event.record(&mut r);
        if let Some(text) = r.0.or(r.1) {
            *UNREADABLE.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::registry()
        .with(UnreadableData)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            eprintln!("sessionctl: {msg}");
            ExitCode::from(code)
        }
    }
}
