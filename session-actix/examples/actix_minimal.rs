//! The smallest actix-web app with Django's sessions: a visit counter.
//!
//! ```sh
//! cargo run --example actix_minimal     # then open http://127.0.0.1:3001/ and reload
//! ```

use std::sync::Arc;

use actix_web::{App, HttpServer, get};
use session_actix::{SessionError, SessionHandle, SessionMiddleware};
use session_core::{Settings, memory::MemoryStore};

#[get("/")]
async fn count(session: SessionHandle) -> Result<String, SessionError> {
    let visits = session.get::<i64>("num_visits").await?.unwrap_or(0) + 1;
    session.insert("num_visits", &visits).await?;
    Ok(format!("Visit count: {visits}"))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let settings =
        Settings::new("change-me-to-a-long-random-secret").map_err(std::io::Error::other)?;
    let store = Arc::new(MemoryStore::default());
    println!("http://127.0.0.1:3001/");
    HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(store.clone(), &settings))
            .service(count)
    })
    .bind(("127.0.0.1", 3001))?
    .run()
    .await
}
