//! `session-demo`: serves the seed tutorials' session apps on 127.0.0.1:$PORT (default 8000).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("session-demo: {}", session_core::error::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::current_dir()?;
    let settings = session_demo::settings_from(session_core::SettingsSource::from_env(), &dir)?;
    let store = session_demo::store_from(&settings).await?;
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("PORT {p:?} is not a port number"))?,
        Err(_) => 8000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "session-demo: {} sessions, serving on http://{}/",
        settings.engine,
        listener.local_addr()?
    );
    axum::serve(listener, session_demo::router(store, &settings)).await?;
    Ok(())
}
