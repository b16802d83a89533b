#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use session_core::key::random_string;
use session_core::{ConfigError, DynSessionStore, Settings, SettingsSource};
use session_middleware::{SessionHandle, SessionLayer};

/// The embedded default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://sessions.sqlite3";

/// The file a generated `SECRET_KEY` is kept in, beside the database.
pub const SECRET_FILE: &str = ".secret_key";

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A setting is missing or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The engine could not be built.
    #[error(transparent)]
    Build(#[from] session_registry::BuildError),
    /// The generated secret could not be kept.
    #[error("cannot keep the generated SECRET_KEY in {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Where a generated secret is kept: beside a SQLite database file, else in `dir`.
pub fn secret_path(database_url: Option<&str>, dir: &Path) -> PathBuf {
    let file = database_url
        .and_then(|u| u.strip_prefix("sqlite://"))
        .map(|p| p.split('?').next().unwrap_or(p))
        .filter(|p| !p.is_empty() && !p.starts_with(':'))
        .map(|p| dir.join(p));
    match file.as_deref().and_then(Path::parent) {
        Some(parent) => parent.join(SECRET_FILE),
        None => dir.join(SECRET_FILE),
    }
}

/// Reads the kept secret, or generates one as Django's `get_random_secret_key` does (50
/// characters from the OS CSPRNG) and keeps it, readable by its owner only.
pub fn kept_secret(path: &Path) -> Result<String, DemoError> {
    let io = |source| DemoError::SecretFile {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    // Django's get_random_secret_key.
    let secret = random_string(50, b"abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write as _;
    options
        .open(path)
        .and_then(|mut f| f.write_all(secret.as_bytes()))
        .map_err(io)?;
    tracing::warn!(path = %path.display(), "SECRET_KEY is not set: generated one and kept it; set SECRET_KEY in production");
    Ok(secret)
}

/// The demo's settings: the environment's (Django's names) over the embedded default
/// (`SESSION_ENGINE=db`, `DATABASE_URL=sqlite://sessions.sqlite3`), relative paths taken from
/// `dir`, and a kept secret when `SECRET_KEY` is unset. An explicitly empty `SECRET_KEY` is
/// an error, as in Django.
pub fn settings_from(env: SettingsSource, dir: &Path) -> Result<Settings, DemoError> {
    if env.is_set_empty("SECRET_KEY") {
        return Err(ConfigError::Invalid {
            setting: "SECRET_KEY",
            reason: "it is set but empty; unset it to let the demo generate and keep one, or give a long random value".into(),
        }
        .into());
    }
    let mut defaults = SettingsSource::new();
    let database_url = env.get::<String>("DATABASE_URL")?;
    let database_url = match (database_url, env.contains("SESSION_ENGINE")) {
        (Some(url), _) => Some(url),
        (None, false) => {
            let url = format!("sqlite://{}", dir.join("sessions.sqlite3").display());
            defaults.set("DATABASE_URL", url.as_str());
            Some(url)
        }
        (None, true) => None,
    };
    if !env.contains("SECRET_KEY") {
        let secret = kept_secret(&secret_path(database_url.as_deref(), dir))?;
        defaults.set("SECRET_KEY", secret);
    }
    Ok(Settings::from_source(defaults.overlay(env))?)
}

/// The engine and settings of the environment, ready to serve.
pub async fn store_from(settings: &Settings) -> Result<Arc<DynSessionStore>, DemoError> {
    Ok(session_registry::build_store(settings).await?)
}

/// A storage failure inside a handler: logged, answered 500.
struct Failure(session_core::Error);

impl From<session_core::Error> for Failure {
    fn from(e: session_core::Error) -> Self {
        Failure(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        tracing::error!(target: "django.request", error = %session_core::error::report(&self.0), "session storage failed");
        (StatusCode::INTERNAL_SERVER_ERROR, "Server Error (500)").into_response()
    }
}

/// HTML-escapes user input (Django's `escape`).
fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#x27;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

async fn index(session: SessionHandle) -> Result<String, Failure> {
    let mut s = session.lock().await;
    let visits = s.get::<i64>("num_visits").await?.unwrap_or(0) + 1;
    s.insert("num_visits", &visits).await?;
    s.set_test_cookie().await?;
    Ok(format!("Visit count: {visits}"))
}

async fn about(session: SessionHandle) -> Result<String, Failure> {
    let mut s = session.lock().await;
    let tested = if s.test_cookie_worked().await? {
        s.delete_test_cookie().await?;
        "Cookie Tested!"
    } else {
        "Cookie not tested."
    };
    let visits = s.get::<i64>("num_visits").await?.unwrap_or(0);
    Ok(format!("{tested} Visit count: {visits}"))
}

async fn reset(session: SessionHandle) -> Result<String, Failure> {
    session.lock().await.remove("num_visits").await?;
    Ok("Visit count reset.".to_owned())
}

async fn connection(session: SessionHandle) -> Result<Html<String>, Failure> {
    let mut s = session.lock().await;
    Ok(Html(match s.get::<String>("username").await? {
        Some(user) => format!(
            "<p>Logged in as {}.</p><p><a href=\"/logout/\">Log out</a></p>",
            escape(&user)
        ),
        None => "<form method=\"post\" action=\"/login/\"><label>Username <input name=\"username\"></label> <button>Log in</button></form>".to_owned(),
    }))
}

#[derive(serde::Deserialize)]
struct Login {
    username: String,
}

async fn login(session: SessionHandle, Form(form): Form<Login>) -> Result<Response, Failure> {
    let user = form.username.trim();
    if user.is_empty() {
        return Ok((StatusCode::BAD_REQUEST, "A username is required.").into_response());
    }
    let mut s = session.lock().await;
    // A new key at login, as Django's auth does: no session fixation.
    s.cycle_key().await?;
    s.insert("username", user).await?;
    Ok(Html(format!(
        "<p>Logged in as {}.</p><p><a href=\"/connection/\">Continue</a></p>",
        escape(user)
    ))
    .into_response())
}

async fn logout(session: SessionHandle) -> Result<&'static str, Failure> {
    session.lock().await.flush().await?;
    Ok("You are logged out.")
}

/// The demo's routes behind Django's session middleware.
pub fn router(store: Arc<DynSessionStore>, settings: &Settings) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/about/", get(about))
        .route("/reset/", get(reset))
        .route("/connection/", get(connection))
        .route("/login/", post(login))
        .route("/logout/", get(logout).post(logout))
        .layer(SessionLayer::new(store, settings))
}

/// The workspace README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
