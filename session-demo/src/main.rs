//! `session-demo`: serves the seed tutorials' session apps on $HOST:$PORT (default
//! 127.0.0.1:8000).

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
    // SESSION_CLEAR_EXPIRED_EVERY: expired sessions removed in the background (stops on exit).
    let cleanup = session_registry::ClearExpiredTask::from_settings(&settings, store.clone())?;
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("PORT {p:?} is not a port number"))?,
        Err(_) => 8000,
    };
    // HOST: where to listen (default 127.0.0.1, this machine only; 0.0.0.0 for every interface).
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let listener = match tokio::net::TcpListener::bind((host.as_str(), port)).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(format!(
                "port {port} on {host} is already in use (Django's runserver uses 8000 too); choose another with PORT, for example PORT=8001 cargo run -p session-demo"
            )
            .into());
        }
        Err(e) => return Err(format!("cannot listen on {host}:{port} (HOST, PORT): {e}").into()),
    };
    println!(
        "session-demo: {} sessions, serving on http://{}/",
        settings.engine_name(),
        listener.local_addr()?
    );
    let drain = shutdown_timeout()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = store.clone();
    let server = tokio::spawn(async move {
        let store = serving;
        axum::serve(listener, session_demo::router(store.clone(), &settings))
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    shutdown_signal().await;
    eprintln!(
        "session-demo: stopping: no new connections; finishing requests in flight (up to {drain:?}, SHUTDOWN_TIMEOUT)"
    );
    let _ = stop_tx.send(());
    match tokio::time::timeout(drain, server).await {
        Ok(result) => result??,
        Err(_) => eprintln!("session-demo: requests still in flight after {drain:?} were dropped"),
    }
    drop(cleanup);
    store.close().await;
    eprintln!("session-demo: stopped");
    Ok(())
}

/// `SHUTDOWN_TIMEOUT` (seconds, default 10): how long SIGTERM/SIGINT wait for requests in
/// flight.
fn shutdown_timeout() -> Result<std::time::Duration, String> {
    match std::env::var("SHUTDOWN_TIMEOUT") {
        Ok(v) => v
            .parse()
            .map(std::time::Duration::from_secs)
            .map_err(|_| format!("SHUTDOWN_TIMEOUT {v:?} is not a number of seconds")),
        Err(_) => Ok(std::time::Duration::from_secs(10)),
    }
}

/// Resolves on SIGTERM (how service managers stop a process) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
