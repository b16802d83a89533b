//! The actix demo end to end over HTTP, sharing one session with the axum demo and a real
//! Django app: one browser (a cookie jar) moves between the three and keeps its visit count
//! and its login.

use std::path::Path;

use session_conformance::django::Django;
use session_core::SettingsSource;

fn settings(pairs: &[(&str, String)], dir: &Path) -> session_core::Settings {
    let env = SettingsSource::from_pairs(pairs.iter().map(|(k, v)| (*k, v.clone())));
    session_demo::settings_from(env, dir).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the actix demo on its own actix system (thread); its address.
fn serve_actix(pairs: Vec<(&'static str, String)>, dir: std::path::PathBuf) -> String {
    let port = free_port();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let settings = settings(&pairs, &dir);
            let store = session_demo::store_from(&settings).await.unwrap();
            let served = settings.clone();
            let server = actix_web::HttpServer::new(move || {
                let settings = served.clone();
                actix_web::App::new()
                    .wrap(example_actix_demo::middleware(store.clone(), &settings))
                    .configure(|c| example_actix_demo::routes(c, &settings))
            })
            .workers(1)
            .bind(("127.0.0.1", port))
            .unwrap()
            .run();
            ready_tx.send(()).unwrap();
            server.await.unwrap();
        });
    });
    ready_rx.recv().unwrap();
    format!("http://127.0.0.1:{port}")
}

async fn serve_axum(pairs: &[(&str, String)], dir: &Path) -> String {
    let settings = settings(pairs, dir);
    let store = session_demo::store_from(&settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = session_demo::router(store, &settings);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn message(client: &reqwest::Client, url: String) -> String {
    let res = client.get(&url).send().await.unwrap();
    assert!(res.status().is_success(), "{url}: {}", res.status());
    let html = res.text().await.unwrap();
    html.split_once("<p id=\"message\">")
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map_or(html.clone(), |(m, _)| m.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_axum_and_django_serve_one_visitor() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite3");
    let secret = "shared-by-actix-axum-and-django";
    let pairs = vec![
        ("SECRET_KEY", secret.to_owned()),
        ("DATABASE_URL", format!("sqlite://{}", db.display())),
    ];
    let axum = serve_axum(&pairs, dir.path()).await;
    let actix = serve_actix(pairs.clone(), dir.path().to_owned());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The two Rust servers alone first (Django may be missing locally).
    for n in 1..=4 {
        let base = if n % 2 == 1 { &axum } else { &actix };
        assert_eq!(
            message(&client, format!("{base}/")).await,
            format!("Visit count: {n}"),
            "request {n} to {base}"
        );
    }
    // A login on actix is seen by axum, and a logout on axum by actix.
    let res = client
        .post(format!("{actix}/login/"))
        .form(&[("username", "grace")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        message(&client, format!("{axum}/connection/")).await,
        "Logged in as grace."
    );
    assert_eq!(
        message(&client, format!("{axum}/logout/")).await,
        "You are logged out."
    );
    assert_eq!(
        message(&client, format!("{actix}/connection/")).await,
        "Not logged in."
    );
    // APPEND_SLASH and the 404 page on actix, as on axum.
    let res = client.get(format!("{actix}/about")).send().await.unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "/about/");
    let res = client.get(format!("{actix}/nowhere")).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // Then Django joins, on the same database and secret.
    let Some(django) = Django::locate(
        "actix + axum + Django shared counter",
        serde_json::json!({
            "engine": "db",
            "secret": secret,
            "database_url": format!("sqlite://{}", db.display()),
        }),
    ) else {
        return;
    };
    let port = free_port();
    let _server = django.serve(port).await;
    let django_base = format!("http://127.0.0.1:{port}");
    for n in 1..=6 {
        let base = [&axum, &actix, &django_base][n % 3];
        assert_eq!(
            message(&client, format!("{base}/")).await,
            format!("Visit count: {n}"),
            "request {n} to {base}"
        );
    }
}
