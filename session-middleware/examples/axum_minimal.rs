//! The smallest axum app with Django's sessions: a visit counter.
//!
//! ```sh
//! cargo run --example axum_minimal      # then open http://127.0.0.1:3000/ and reload
//! ```
//!
//! The sessions live in memory here; any engine fits the same line (see
//! `session_registry::build_store` to pick one from Django-named settings).

use std::sync::Arc;

use axum::{Router, routing::get};
use session_core::{Settings, memory::MemoryStore};
use session_middleware::{SessionError, SessionHandle, SessionLayer};

async fn count(session: SessionHandle) -> Result<String, SessionError> {
    let visits = session.get::<i64>("num_visits").await?.unwrap_or(0) + 1;
    session.insert("num_visits", &visits).await?;
    Ok(format!("Visit count: {visits}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::new("change-me-to-a-long-random-secret")?;
    let sessions = SessionLayer::new(Arc::new(MemoryStore::default()), &settings);
    let app = Router::new().route("/", get(count)).layer(sessions);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
