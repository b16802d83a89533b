//! `SECRET_KEY=change-me SESSION_ENGINE=example.sessions.sharded cargo run -p example-sharded-engine`
//!
//! Selects the engine by configuration, like any built-in one, and uses a session on it.

use session_core::{Session, SessionConfig, Settings};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    example_sharded_engine::register();
    let settings = Settings::from_env()?;
    let store = session_registry::build_store(&settings).await?;
    let mut session = Session::new(store.clone(), SessionConfig::from_settings(&settings), None);
    session.insert("greeting", "hello").await?;
    session.save(false).await?;
    let key = session.session_key().unwrap_or_default().to_owned();
    let mut again = Session::new(store, SessionConfig::from_settings(&settings), Some(&key));
    let greeting: Option<String> = again.get("greeting").await?;
    println!(
        "engine {}: session {key} holds {greeting:?}",
        settings.engine
    );
    Ok(())
}
