#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub mod pages;

use axum::Router;
use axum::extract::Form;
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use session_core::key::random_string;
use session_core::{ConfigError, DynSessionStore, Settings, SettingsSource};
use session_middleware::{SessionError, SessionHandle, SessionLayer};

pub use pages::Page;

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

/// A page as an axum response.
fn respond(page: Result<Page, session_core::Error>) -> Response {
    match page {
        Ok(page) => (
            StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK),
            Html(page.html()),
        )
            .into_response(),
        Err(e) => SessionError(e).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct Login {
    #[serde(default)]
    username: String,
}

/// Django's `APPEND_SLASH` (301 to the path with its slash) or its 404 page.
async fn fallback(uri: Uri) -> Response {
    match pages::append_slash(uri.path(), uri.query(), pages::ROUTES) {
        Some(to) => Redirect::permanent(&to).into_response(),
        None => respond(Ok(pages::not_found())),
    }
}

/// The demo's routes behind Django's session middleware.
pub fn router(store: Arc<DynSessionStore>, settings: &Settings) -> Router {
    let engine = settings.engine_name().to_owned();
    Router::new()
        .route("/", get(|s: SessionHandle| async move { respond(pages::index(&s).await) }))
        .route("/about/", get(|s: SessionHandle| async move { respond(pages::about(&s).await) }))
        .route("/reset/", get(|s: SessionHandle| async move { respond(pages::reset(&s).await) }))
        .route(
            "/connection/",
            get(|s: SessionHandle| async move { respond(pages::connection(&s).await) }),
        )
        .route(
            "/login/",
            post(|s: SessionHandle, Form(form): Form<Login>| async move {
                respond(pages::login(&s, &form.username).await)
            }),
        )
        .route(
            "/logout/",
            get(|s: SessionHandle| async move { respond(pages::logout(&s).await) })
                .post(|s: SessionHandle| async move { respond(pages::logout(&s).await) }),
        )
        .route(
            "/session/",
            get(move |s: SessionHandle| async move { respond(pages::session_view(&s, &engine).await) }),
        )
        .fallback(fallback)
        .layer(SessionLayer::new(store, settings))
}

/// The workspace README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
