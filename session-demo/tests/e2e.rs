//! The demo end to end over real HTTP on every engine (configured as a user would, through
//! the environment-style settings), and a visit counter shared live with a Django app.

use std::path::Path;

use session_conformance::django::Django;
use session_conformance::{service_url, unavailable};
use session_core::SettingsSource;
use session_core::key::generate_key;

/// Serves the demo configured by `pairs` (Django's setting names) on a free port.
async fn serve(label: &str, pairs: &[(&str, String)], dir: &Path) -> Option<String> {
    let env = SettingsSource::from_pairs(pairs.iter().map(|(k, v)| (*k, v.clone())));
    let settings = session_demo::settings_from(env, dir).unwrap();
    let store = match session_demo::store_from(&settings).await {
        Ok(s) => s,
        Err(e) => {
            unavailable(label, &e);
            return None;
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = session_demo::router(store, &settings);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Some(format!("http://{addr}"))
}

/// The whole page.
async fn page(client: &reqwest::Client, url: String) -> String {
    let res = client.get(url).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.text().await.unwrap()
}

/// What the page says: the demo's `<p id="message">`, or the whole text of a plain page
/// (Django's tutorial views answer text/plain).
async fn text(client: &reqwest::Client, url: String) -> String {
    let html = page(client, url).await;
    html.split_once("<p id=\"message\">")
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map_or(html.clone(), |(m, _)| m.to_owned())
}

/// Every route of the demo, as a browser with a cookie jar sees them.
async fn tour(label: &str, base: &str) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    assert_eq!(
        text(&client, format!("{base}/")).await,
        "Visit count: 1",
        "{label}"
    );
    assert_eq!(
        text(&client, format!("{base}/")).await,
        "Visit count: 2",
        "{label}"
    );
    assert_eq!(
        text(&client, format!("{base}/about/")).await,
        "Cookie Tested! Visit count: 2",
        "{label}"
    );
    assert_eq!(
        text(&client, format!("{base}/about/")).await,
        "Cookie not tested. Visit count: 2",
        "{label}: the test cookie was deleted"
    );
    assert_eq!(
        text(&client, format!("{base}/reset/")).await,
        "Visit count reset."
    );
    assert_eq!(
        text(&client, format!("{base}/")).await,
        "Visit count: 1",
        "{label}"
    );
    assert!(
        page(&client, format!("{base}/connection/"))
            .await
            .contains("<form")
    );
    let res = client
        .post(format!("{base}/login/"))
        .form(&[("username", "ada <admin>")])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{label}: {}", res.status());
    let shown = text(&client, format!("{base}/connection/")).await;
    assert_eq!(shown, "Logged in as ada &lt;admin&gt;.", "{label}");
    let view = page(&client, format!("{base}/session/")).await;
    assert!(
        view.contains("&quot;username&quot;:&quot;ada &lt;admin&gt;&quot;"),
        "{label}: the session page shows the stored data: {view}"
    );
    assert_eq!(
        text(&client, format!("{base}/")).await,
        "Visit count: 2",
        "{label}: the login kept the data under a new key"
    );
    assert_eq!(
        text(&client, format!("{base}/logout/")).await,
        "You are logged out."
    );
    assert!(
        page(&client, format!("{base}/connection/"))
            .await
            .contains("<form")
    );
    assert_eq!(
        text(&client, format!("{base}/")).await,
        "Visit count: 1",
        "{label}"
    );
}

fn redis_url() -> String {
    service_url("REDIS_URL", "redis://127.0.0.1:6379/0")
}

fn memcached_url() -> String {
    service_url("MEMCACHED_URL", "memcached://127.0.0.1:11211")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_works_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let secret = ("SECRET_KEY", "e2e-secret".to_owned());
    let sqlite = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let pg = service_url(
        "POSTGRES_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/sessions_test",
    );
    let mysql = service_url(
        "MYSQL_URL",
        "mysql://sessions:sessions@127.0.0.1:3306/sessions_test",
    );
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let prefix = ("CACHE_KEY_PREFIX", format!("e2e{}", &generate_key()[..8]));
    // Django owns the schema on shared servers; the test database may be new.
    let create_table = ("SESSION_DB_CREATE_TABLE", "true".to_owned());
    let configs: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("default (db on SQLite)", vec![]),
        (
            "db-postgres",
            vec![("DATABASE_URL", pg.clone()), create_table.clone()],
        ),
        (
            "db-mysql",
            vec![("DATABASE_URL", mysql), create_table.clone()],
        ),
        (
            "file",
            vec![
                ("SESSION_ENGINE", "file".into()),
                ("SESSION_FILE_PATH", files.display().to_string()),
            ],
        ),
        (
            "signed_cookies",
            vec![("SESSION_ENGINE", "signed_cookies".into())],
        ),
        (
            "cache-memory",
            vec![
                ("SESSION_ENGINE", "cache".into()),
                ("CACHE_URL", "memory://".into()),
            ],
        ),
        (
            "cache-redis",
            vec![
                (
                    "SESSION_ENGINE",
                    "django.contrib.sessions.backends.cache".into(),
                ),
                ("CACHE_URL", redis_url()),
                prefix.clone(),
            ],
        ),
        (
            // The seed tutorial's settings: the cache engine on Memcached.
            "cache-memcached",
            vec![
                (
                    "SESSION_ENGINE",
                    "django.contrib.sessions.backends.cache".into(),
                ),
                ("CACHE_URL", memcached_url()),
                prefix.clone(),
            ],
        ),
        (
            "cached_db-postgres-memcached",
            vec![
                ("SESSION_ENGINE", "cached_db".into()),
                ("DATABASE_URL", pg.clone()),
                ("CACHE_URL", memcached_url()),
                prefix.clone(),
                create_table.clone(),
            ],
        ),
        (
            // Moving from the db engine to Redis under live traffic.
            "migrate-db-to-cache-redis",
            vec![
                ("SESSION_ENGINE", "migrate".into()),
                ("SESSION_MIGRATE_FROM", "db".into()),
                ("SESSION_MIGRATE_TO", "cache".into()),
                ("DATABASE_URL", sqlite("moving.sqlite3")),
                ("CACHE_URL", redis_url()),
                prefix.clone(),
            ],
        ),
        (
            "cached_db-sqlite-memory",
            vec![
                ("SESSION_ENGINE", "cached_db".into()),
                ("DATABASE_URL", sqlite("cdb.sqlite3")),
                ("CACHE_URL", "memory://".into()),
            ],
        ),
        (
            "cached_db-postgres-redis",
            vec![
                ("SESSION_ENGINE", "cached_db".into()),
                ("DATABASE_URL", pg),
                ("CACHE_URL", redis_url()),
                prefix,
                create_table,
            ],
        ),
    ];
    for (label, mut pairs) in configs {
        pairs.push(secret.clone());
        if let Some(base) = serve(label, &pairs, dir.path()).await {
            tour(label, &base).await;
        }
    }
}

#[tokio::test]
async fn a_generated_secret_is_kept_beside_the_database_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = session_demo::settings_from(SettingsSource::new(), dir.path()).unwrap();
    let kept = dir.path().join(session_demo::SECRET_FILE);
    let text = std::fs::read_to_string(&kept).unwrap();
    assert_eq!(text.len(), 50);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only");
    }
    let again = session_demo::settings_from(SettingsSource::new(), dir.path()).unwrap();
    let sign = |s: &session_core::Settings| {
        let map = session_core::Map::new();
        s.session_signer().sign_map(
            &map,
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        )
    };
    assert_eq!(sign(&first), sign(&again), "same secret after a restart");
    assert_eq!(
        first.source().get::<String>("DATABASE_URL").unwrap(),
        Some(format!(
            "sqlite://{}",
            dir.path().join("sessions.sqlite3").display()
        ))
    );
    // An explicit SECRET_KEY wins and no file is needed.
    let other = tempfile::tempdir().unwrap();
    session_demo::settings_from(
        SettingsSource::from_pairs([("SECRET_KEY", "explicit")]),
        other.path(),
    )
    .unwrap();
    assert!(!other.path().join(session_demo::SECRET_FILE).exists());
    // An explicitly empty SECRET_KEY is refused, as Django refuses to start; nothing is
    // generated in its place.
    let err = session_demo::settings_from(
        SettingsSource::from_pairs([("SECRET_KEY", "")]),
        other.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("SECRET_KEY") && err.contains("empty"), "{err}");
    assert!(!other.path().join(session_demo::SECRET_FILE).exists());
}

#[tokio::test]
async fn unknown_engine_or_missing_setting_fails_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let settings = session_demo::settings_from(
        SettingsSource::from_pairs([("SECRET_KEY", "k"), ("SESSION_ENGINE", "nosuch")]),
        dir.path(),
    )
    .unwrap();
    let err = session_demo::store_from(&settings)
        .await
        .expect_err("no such engine")
        .to_string();
    assert!(
        err.contains("SESSION_ENGINE") && err.contains("signed_cookies"),
        "{err}"
    );
    let settings = session_demo::settings_from(
        SettingsSource::from_pairs([("SECRET_KEY", "k"), ("SESSION_ENGINE", "cache")]),
        dir.path(),
    )
    .unwrap();
    let err = session_demo::store_from(&settings)
        .await
        .expect_err("CACHE_URL is missing");
    let err = session_core::error::report(&err);
    assert!(err.contains("CACHE_URL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_and_django_share_one_visit_counter() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite3");
    let secret = "shared-between-django-and-rust";
    let Some(django) = Django::locate(
        "demo + Django shared counter",
        serde_json::json!({
            "engine": "db",
            "secret": secret,
            "database_url": format!("sqlite://{}", db.display()),
        }),
    ) else {
        return;
    };
    let rust = serve(
        "demo + Django shared counter",
        &[
            ("SECRET_KEY", secret.to_owned()),
            ("DATABASE_URL", format!("sqlite://{}", db.display())),
        ],
        dir.path(),
    )
    .await
    .expect("the demo starts on SQLite");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _server = django.serve(port).await;
    let django_base = format!("http://127.0.0.1:{port}");
    // One browser: cookies for 127.0.0.1 are shared by both ports.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    for n in 1..=6 {
        let base = if n % 2 == 1 { &rust } else { &django_base };
        assert_eq!(
            text(&client, format!("{base}/")).await,
            format!("Visit count: {n}"),
            "request {n} to {base}"
        );
    }
}

/// A user Django's `login()` logged in is shown by the demo's `/connection/` (it reads
/// Django's `_auth_user_id`), on the same database; the demo's log-out ends it for Django.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_shows_a_user_logged_in_by_django() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("project.sqlite3").display());
    let secret = "demo-connection-secret-0123456789abcdefgh";
    let Some(django) = Django::locate(
        "demo /connection/ with Django",
        serde_json::json!({"engine": "db", "secret": secret, "database_url": db, "auth": true}),
    ) else {
        return;
    };
    django.run("auth_setup", &[], "").await;
    let id = django.run("create_user", &["grace", "pw"], "").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = django.run("login", &["-", "grace"], "").await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let pairs = [
        ("SECRET_KEY", secret.to_owned()),
        ("DATABASE_URL", db.clone()),
    ];
    let Some(base) = serve("demo /connection/", &pairs, dir.path()).await else {
        return;
    };
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{base}/connection/"))
        .header("Cookie", format!("sessionid={key}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("Logged in as user #{id}.")),
        "{page}"
    );
    assert!(
        page.contains("django.contrib.auth.backends.ModelBackend"),
        "{page}"
    );
    let out = client
        .get(format!("{base}/logout/"))
        .header("Cookie", format!("sessionid={key}"))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success());
    assert_eq!(
        django.run("get_user", &[&key], "").await["id"],
        serde_json::json!(null),
        "the demo's log-out is Django's flush: Django sees no user"
    );
}
