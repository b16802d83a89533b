//! Moving sessions from one engine to another without logging anyone out: a session written
//! by the db engine (SQLite here) is read through `SESSION_ENGINE=migrate`, which copies it to
//! the cache engine on its first read and claims the old row so it never comes back.
//!
//! `cargo run -p session-registry --example migrate_engines`

use session_core::{Session, SessionConfig, Settings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
    let settings = |pairs: &[(&str, &str)]| {
        let mut all = vec![
            ("SECRET_KEY", "example-secret-key"),
            ("DATABASE_URL", db.as_str()),
        ];
        all.extend_from_slice(pairs);
        Settings::from_pairs(all)
    };

    // Yesterday: the site ran on the db engine.
    let old = session_registry::build_store(&settings(&[])?).await?;
    let mut s = Session::new(old.clone(), SessionConfig::default(), None);
    s.insert("cart", &vec!["book", "pen"]).await?;
    s.save(false).await?;
    let key = s.session_key().unwrap_or_default().to_owned();
    println!("a session on the db engine: {key}");

    // Today: the site reads through the migration store (db → cache on the in-process cache;
    // CACHE_URL=redis://… in production), and sessionctl migrate moves the rest.
    let moving = settings(&[
        ("SESSION_ENGINE", "migrate"),
        ("SESSION_MIGRATE_FROM", "db"),
        ("SESSION_MIGRATE_TO", "cache"),
        ("CACHE_URL", "memory://"),
    ])?;
    let store = session_registry::build_store(&moving).await?;
    let mut s = Session::new(store, SessionConfig::from_settings(&moving), Some(&key));
    let cart: Option<Vec<String>> = s.get("cart").await?;
    println!("read through the migration store, same key, same cart: {cart:?}");

    // The old row is claimed: it names the key it moved under, and is never read again.
    let old_row = old.load(&key).await?.unwrap_or_default();
    println!(
        "the old row now carries {}={:?}",
        session_core::migrate::MOVED_KEY,
        old_row.get(session_core::migrate::MOVED_KEY)
    );
    Ok(())
}
