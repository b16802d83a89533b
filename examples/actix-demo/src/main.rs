//! `cargo run -p example-actix-demo`: the demo on actix-web, on $HOST:$PORT (default
//! 127.0.0.1:8001), configured like `session-demo` (SESSION_ENGINE, DATABASE_URL, …).

use actix_web::{App, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let dir = std::env::current_dir()?;
    let failed = |e: &(dyn std::error::Error + 'static)| {
        std::io::Error::other(session_core::error::report(e))
    };
    let settings = session_demo::settings_from(session_core::SettingsSource::from_env(), &dir)
        .map_err(|e| failed(&e))?;
    let store = session_demo::store_from(&settings)
        .await
        .map_err(|e| failed(&e))?;
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8001);
    println!(
        "actix demo: {} sessions, serving on http://{host}:{port}/",
        settings.engine_name()
    );
    let served = settings.clone();
    HttpServer::new(move || {
        let settings = served.clone();
        App::new()
            .wrap(example_actix_demo::middleware(store.clone(), &settings))
            .configure(|c| example_actix_demo::routes(c, &settings))
    })
    .bind((host.as_str(), port))?
    .run()
    .await
}
