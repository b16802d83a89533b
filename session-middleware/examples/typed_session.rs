//! A typed value in the session: a shopping cart kept as one serde struct under one key,
//! read and written as a whole (Django sees a dict under `"cart"`).
//!
//! ```sh
//! cargo run --example typed_session     # then open http://127.0.0.1:3002/add?item=book a few times
//! ```

use std::sync::Arc;

use axum::extract::Query;
use axum::{Router, routing::get};
use serde::{Deserialize, Serialize};
use session_core::{Settings, memory::MemoryStore};
use session_middleware::{SessionError, SessionHandle, SessionLayer};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cart {
    items: Vec<String>,
}

#[derive(Deserialize)]
struct Add {
    item: String,
}

async fn add(session: SessionHandle, Query(add): Query<Add>) -> Result<String, SessionError> {
    // Read, change and write under one lock: no other request's change slips in between.
    let cart = session
        .typed::<Cart>("cart")
        .update(|cart| cart.items.push(add.item))
        .await?;
    Ok(format!(
        "{} item(s): {}",
        cart.items.len(),
        cart.items.join(", ")
    ))
}

async fn show(session: SessionHandle) -> Result<String, SessionError> {
    let cart = session
        .typed::<Cart>("cart")
        .get()
        .await?
        .unwrap_or_default();
    Ok(format!("{cart:?}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::new("change-me-to-a-long-random-secret")?;
    let app = Router::new()
        .route("/add", get(add))
        .route("/", get(show))
        .layer(SessionLayer::new(
            Arc::new(MemoryStore::default()),
            &settings,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3002").await?;
    println!("http://{}/add?item=book", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
