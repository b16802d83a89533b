//! Log out everywhere, against real Django: users logged in by Django (sessions no Rust
//! request has read) are ended by `log_out_everywhere` on every engine that keeps a user
//! index, a later login is not refused, and `sessionctl logout --user --scan` ends sessions
//! Django made after the last Rust read too.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};
use session_conformance::django::Django;
use session_conformance::{service_url, unavailable};
use session_core::key::generate_key;
use session_core::{DynSessionStore, Session, SessionConfig, Settings};

const SECRET: &str = "user-index-test-secret-0123456789abcdefghij";

fn s(v: &Json) -> String {
    v.as_str().unwrap().to_owned()
}

struct Engine {
    label: &'static str,
    rust: Vec<(&'static str, String)>,
    django: Json,
}

fn engines(dir: &std::path::Path) -> Vec<Engine> {
    let db = format!("sqlite://{}", dir.join("project.sqlite3").display());
    let redis = service_url("REDIS_URL", "redis://127.0.0.1:6379/0");
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let prefix = format!("ux{}", &generate_key()[..8]);
    vec![
        Engine {
            label: "db",
            rust: vec![
                ("SESSION_ENGINE", "db".into()),
                ("DATABASE_URL", db.clone()),
            ],
            django: json!({"engine": "db", "secret": SECRET, "database_url": db, "auth": true}),
        },
        Engine {
            label: "cache-redis",
            rust: vec![
                ("SESSION_ENGINE", "cache".into()),
                ("CACHE_URL", redis.clone()),
                ("CACHE_KEY_PREFIX", prefix.clone()),
            ],
            django: json!({"engine": "cache", "secret": SECRET, "database_url": db,
                           "cache_url": redis, "key_prefix": prefix, "auth": true}),
        },
        Engine {
            label: "cached_db",
            rust: vec![
                ("SESSION_ENGINE", "cached_db".into()),
                ("DATABASE_URL", db.clone()),
                ("CACHE_URL", redis.clone()),
                ("CACHE_KEY_PREFIX", prefix.clone()),
            ],
            django: json!({"engine": "cached_db", "secret": SECRET, "database_url": db,
                           "cache_url": redis, "key_prefix": prefix, "auth": true}),
        },
        Engine {
            label: "file",
            rust: vec![
                ("SESSION_ENGINE", "file".into()),
                ("SESSION_FILE_PATH", files.display().to_string()),
            ],
            django: json!({"engine": "file", "secret": SECRET, "database_url": db,
                           "file_path": files.display().to_string(), "auth": true}),
        },
    ]
}

async fn rust_store(pairs: &[(&'static str, String)]) -> Arc<DynSessionStore> {
    let mut all = vec![
        ("SECRET_KEY", SECRET.to_owned()),
        ("SESSION_USER_INDEX", "true".to_owned()),
    ];
    all.extend(pairs.iter().cloned());
    let settings = Settings::from_pairs(all.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    session_registry::build_store(&settings).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_everywhere_ends_djangos_sessions_on_every_indexed_engine() {
    if let Err(e) = session_cache::Cache::connect(
        &service_url("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "probe",
        1,
    )
    .await
    {
        return unavailable("log out everywhere with Django", &e);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut users_made = false;
    for (n, engine) in engines(dir.path()).into_iter().enumerate() {
        let Some(django) = Django::locate("log out everywhere with Django", engine.django.clone())
        else {
            return;
        };
        let name = format!("user{n}");
        if !users_made {
            django.run("auth_setup", &[], "").await;
            users_made = true;
        }
        let id = s(&django.run("create_user", &[&name, "pw"], "").await["id"]);
        let other = s(&django
            .run("create_user", &[&format!("other{n}"), "pw"], "")
            .await["id"]);
        // Django logs the user in three times; the Rust side reads only the first.
        let mut django_keys = Vec::new();
        for _ in 0..3 {
            django_keys.push(s(&django.run("login", &["-", &name], "").await["key"]));
        }
        let bystander = s(&django.run("login", &["-", &format!("other{n}")], "").await["key"]);
        let store = rust_store(&engine.rust).await;
        let first = store
            .load(&django_keys[0])
            .await
            .unwrap()
            .expect("Django's login read");
        // A login made on the Rust side (the same keys Django's login writes).
        let mut ours = Session::new(store.clone(), SessionConfig::default(), None);
        for (k, v) in &first {
            ours.insert_value(k, v.clone()).await.unwrap();
        }
        ours.save(false).await.unwrap();
        let our_key = ours.session_key().unwrap().to_owned();
        let listed = store.sessions_of(&id).await.unwrap().unwrap();
        assert!(
            listed.contains(&django_keys[0]) && listed.contains(&our_key),
            "{}: {listed:?}",
            engine.label
        );

        let ended = store.log_out_everywhere(&id, None).await.unwrap().unwrap();
        assert!(ended >= 2, "{}: {ended} ended", engine.label);
        // No session of the user made before loads on the Rust side — those Django made
        // and no Rust request had read included — and none stays for Django either once read.
        for key in django_keys.iter().chain([&our_key]) {
            assert!(
                store.load(key).await.unwrap().is_none(),
                "{}: {key} still loads",
                engine.label
            );
            assert_eq!(
                django.run("get_user", &[key], "").await["id"],
                json!(null),
                "{}: Django still has {key}",
                engine.label
            );
        }
        assert!(
            store.load(&bystander).await.unwrap().is_some(),
            "{}: another user's session",
            engine.label
        );
        assert_eq!(
            django.run("get_user", &[&bystander], "").await["id"],
            json!(other)
        );

        // A login after the log-out (two seconds later: the log-out is kept in whole
        // seconds) is not refused, whoever makes it.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let again = s(&django.run("login", &["-", &name], "").await["key"]);
        assert!(
            store.load(&again).await.unwrap().is_some(),
            "{}: a new login is refused",
            engine.label
        );
        // `sessionctl logout --scan` ends a session no Rust request has read.
        let unread = s(&django.run("login", &["-", &name], "").await["key"]);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sessionctl"));
        cmd.env_clear()
            .env("SECRET_KEY", SECRET)
            .env("SESSION_USER_INDEX", "true")
            .envs(engine.rust.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["logout", "--user", &id, "--scan"]);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            engine.label,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "2",
            "{}",
            engine.label
        );
        for key in [&again, &unread] {
            assert_eq!(
                django.run("get_user", &[key], "").await["id"],
                json!(null),
                "{}: {key}",
                engine.label
            );
        }
        let listed = Command::new(env!("CARGO_BIN_EXE_sessionctl"))
            .env_clear()
            .env("SECRET_KEY", SECRET)
            .env("SESSION_USER_INDEX", "true")
            .envs(engine.rust.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["sessions", "--user", &other])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&listed.stdout).trim(),
            bystander,
            "{}",
            engine.label
        );
    }
}
