//! Logging in through Django's own session keys: a Rust service on a Django project's
//! database sees who Django logged in, and logs users in so Django sees them too.
//!
//! ```sh
//! DATABASE_URL=sqlite:///path/to/project/db.sqlite3 SECRET_KEY='…the project's SECRET_KEY…' \
//!     cargo run --example axum_login        # http://127.0.0.1:3003/me
//! ```
//!
//! `/me` answers the logged-in user's id (401 when nobody is); `/login?id=N` logs user N in
//! (a real app checks a password first: Django's hashers are not part of this example);
//! `/logout` flushes the session.

use std::sync::Arc;

use axum::extract::Query;
use axum::{Extension, Router, routing::get};
use session_auth::{AuthState, Authenticator, DjangoUsers, LoggedInUser, User};
use session_core::{Settings, SettingsSource};
use session_middleware::{SessionError, SessionHandle, SessionLayer};

#[derive(serde::Deserialize)]
struct Login {
    id: String,
}

async fn login(
    session: SessionHandle,
    Extension(state): Extension<AuthState>,
    Query(login): Query<Login>,
) -> Result<String, SessionError> {
    let Some(password) = state.users.password(&login.id).await? else {
        return Ok("no such active user".into());
    };
    let mut s = session.lock().await;
    state
        .auth
        .login(&mut s, &User::new(login.id.clone(), password))
        .await?;
    Ok(format!("logged in as {}", login.id))
}

async fn logout(session: SessionHandle) -> Result<&'static str, SessionError> {
    session.flush().await?;
    Ok("logged out")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL to the Django project's database")?;
    let settings = Settings::from_source(
        SettingsSource::from_env().overlay(SettingsSource::from_pairs([("SESSION_ENGINE", "db")])),
    )?;
    let store = session_registry::build_store(&settings).await?;
    let state = AuthState {
        auth: Arc::new(Authenticator::from_settings(&settings)),
        users: Arc::new(DjangoUsers::connect(&url).await?),
    };
    let app = Router::new()
        .route(
            "/me",
            get(|LoggedInUser(id): LoggedInUser| async move { format!("user {id}") }),
        )
        .route("/login", get(login))
        .route("/logout", get(logout))
        .layer(Extension(state))
        .layer(SessionLayer::new(store, &settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3003").await?;
    println!("http://{}/me", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
