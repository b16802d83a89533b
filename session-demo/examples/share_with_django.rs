//! Sharing sessions with a Django app, step by step: a Rust service that sees the same
//! visitors as your Django project.
//!
//! ```sh
//! DJANGO_DB=/path/to/your/project/db.sqlite3 SECRET_KEY='…your Django SECRET_KEY…' \
//!     cargo run --example share_with_django          # http://127.0.0.1:8002/
//! ```
//!
//! 1. **Django's side** (`settings.py`) — nothing to change for the default engine; make sure
//!    of these (Django's defaults shown):
//!
//!    ```python
//!    SECRET_KEY = "…"                # the same string on both sides, byte for byte
//!    SESSION_ENGINE = "django.contrib.sessions.backends.db"
//!    SESSION_COOKIE_NAME = "sessionid"
//!    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
//!    ```
//!
//!    and run `python manage.py migrate` once: Django creates `django_session`.
//! 2. **Rust's side** — the same settings under Django's names: `SECRET_KEY`,
//!    `SESSION_ENGINE=db`, and `DATABASE_URL` pointing at the same database
//!    (`sqlite:///abs/path/db.sqlite3`, `postgres://…`, `mysql://…`). Rotating secrets?
//!    Give `SECRET_KEY_FALLBACKS` on both sides too.
//! 3. **One site for the browser** — serve both under one host (a reverse proxy routing some
//!    paths to Django, some to Rust) so the browser sends the `sessionid` cookie to both.
//!    Then a visitor counted by Django is counted on by Rust, and the reverse. (Locally both
//!    on 127.0.0.1 already share cookies: cookies ignore the port.)
//!
//! This program serves `/` (the shared visit counter) on 127.0.0.1:8002.

use axum::{Router, routing::get};
use session_core::{Settings, SettingsSource};
use session_middleware::{SessionError, SessionHandle, SessionLayer};

async fn count(session: SessionHandle) -> Result<String, SessionError> {
    // The very key Django's tutorial view uses.
    let visits = session.get::<i64>("num_visits").await?.unwrap_or(0) + 1;
    session.insert("num_visits", &visits).await?;
    Ok(format!("Visit count: {visits}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("DJANGO_DB")
        .map_err(|_| "set DJANGO_DB to your Django project's db.sqlite3")?;
    let settings = Settings::from_source(SettingsSource::from_env().overlay(
        SettingsSource::from_pairs([
            ("SESSION_ENGINE", "db".to_owned()),
            ("DATABASE_URL", format!("sqlite://{db}")),
        ]),
    ))?;
    let store = session_registry::build_store(&settings).await?;
    let app = Router::new()
        .route("/", get(count))
        .layer(SessionLayer::new(store, &settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8002").await?;
    println!(
        "sharing {db} with Django on http://{}/",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
