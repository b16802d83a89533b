//! Moving sessions between engines: `sessionctl migrate` and `SESSION_ENGINE=migrate` with a
//! live Django sharing the users (db → Redis and back, nobody logged out), and a kill -9 in
//! the middle of `sessionctl migrate` followed by a rerun.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use session_conformance::django::Django;
use session_conformance::{service_url, unavailable};
use session_core::key::generate_key;
use session_core::migrate::MOVED_KEY;
use session_core::{DynSessionStore, Session, SessionConfig, Settings, Value};

const SECRET: &str = "migrate-test-secret-0123456789abcdefghijkl";

fn redis_url() -> String {
    service_url("REDIS_URL", "redis://127.0.0.1:6379/0")
}

/// sessionctl with exactly these settings in its environment.
fn sessionctl(env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sessionctl"));
    for var in [
        "SECRET_KEY",
        "SESSION_ENGINE",
        "DATABASE_URL",
        "CACHE_URL",
        "CACHE_KEY_PREFIX",
        "SECRET_KEY_FALLBACKS",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied()).args(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    sessionctl(env, args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn store(pairs: &[(&str, &str)]) -> Arc<DynSessionStore> {
    let mut all = vec![("SECRET_KEY", SECRET)];
    all.extend_from_slice(pairs);
    let settings = Settings::from_pairs(all).unwrap();
    session_registry::build_store(&settings).await.unwrap()
}

fn s(v: &serde_json::Value) -> String {
    v.as_str().unwrap().to_owned()
}

/// Django on the db engine logs users in; the Rust side runs `SESSION_ENGINE=migrate` (db →
/// cache on Redis) and reads half of them (moving them on first read) and writes to one;
/// `sessionctl migrate` moves the rest; Django then switches to the cache engine on the same
/// Redis; then everything moves back to the db. At every step every user is still logged
/// in on both sides, and the latest data is where each side reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_move_db_to_redis_and_back_with_django_sharing_the_users() {
    let redis = redis_url();
    if let Err(e) = session_cache::Cache::connect(&redis, "probe", 1).await {
        return unavailable("migrate with Django", &e);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("project.sqlite3").display());
    let prefix = format!("mig{}", &generate_key()[..8]);
    let on_db = json!({"engine": "db", "secret": SECRET, "database_url": db, "auth": true});
    let on_cache = json!({"engine": "cache", "secret": SECRET, "database_url": db,
                          "cache_url": redis, "key_prefix": prefix, "auth": true});
    let Some(django) = Django::locate("migrate with Django", on_db) else {
        return;
    };
    django.run("auth_setup", &[], "").await;
    let mut users = Vec::new();
    for i in 0..8 {
        let id = s(&django
            .run("create_user", &[&format!("user{i}"), "pw"], "")
            .await["id"]);
        let key = s(&django.run("login", &["-", &format!("user{i}")], "").await["key"]);
        users.push((id, key));
    }
    let env = [
        ("SECRET_KEY", SECRET),
        ("DATABASE_URL", db.as_str()),
        ("CACHE_URL", redis.as_str()),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
    ];
    let forward = store(&[
        ("SESSION_ENGINE", "migrate"),
        ("SESSION_MIGRATE_FROM", "db"),
        ("SESSION_MIGRATE_TO", "cache"),
        ("DATABASE_URL", &db),
        ("CACHE_URL", &redis),
        ("CACHE_KEY_PREFIX", &prefix),
    ])
    .await;
    // The Rust side reads the first four (each moves on this first read) and writes to one.
    for (id, key) in &users[..4] {
        let mut session = Session::new(forward.clone(), SessionConfig::default(), Some(key));
        assert_eq!(
            session.get_value("_auth_user_id").await.unwrap(),
            Some(Value::from(id.as_str())),
            "Django's login seen through the migration store"
        );
    }
    let mut first = Session::new(forward.clone(), SessionConfig::default(), Some(&users[0].1));
    first.insert_value("cart", 3).await.unwrap();
    first.save(false).await.unwrap();
    // Django, still on the db engine, has every user.
    for (id, key) in &users {
        assert_eq!(django.run("get_user", &[key], "").await["id"], json!(id));
    }
    // sessionctl moves the rest (twice: the second run finds nothing to do).
    let out = run(
        &env,
        &[
            "migrate",
            "--from",
            "db",
            "--to",
            "cache",
            "--batch",
            "3",
            "--checkpoint",
            &dir.path().join("cp").display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.contains("copied 4,"), "{summary}");
    assert!(summary.contains("4 already on the target"), "{summary}");
    assert!(summary.contains("failed 0"), "{summary}");
    let again = run(
        &env,
        &[
            "migrate",
            "--from",
            "db",
            "--to",
            "cache",
            "--checkpoint",
            &dir.path().join("cp").display().to_string(),
        ],
    );
    assert!(
        text(&again.stdout).contains("copied 0,"),
        "{}",
        text(&again.stdout)
    );
    // Django moves to the cache engine on the same Redis: every user is still logged in, and
    // the Rust side's write is there.
    let django = Django::locate("migrate with Django", on_cache).unwrap();
    for (id, key) in &users {
        assert_eq!(
            django.run("get_user", &[key], "").await["id"],
            json!(id),
            "{key}"
        );
    }
    let data = &django.run("load", &[&users[0].1], "").await["data"];
    assert_eq!(data["cart"], json!(3));
    assert!(
        data.get(MOVED_KEY).is_none(),
        "the moved copy carries no claim"
    );
    django
        .run("update", &[&users[1].1], r#"{"theme": "dark"}"#)
        .await;

    // And back: cache → db (the db's claimed leftovers are replaced by the newer data).
    let back = run(
        &env,
        &[
            "migrate",
            "--from",
            "cache",
            "--to",
            "db",
            "--checkpoint",
            &dir.path().join("cp2").display().to_string(),
        ],
    );
    assert!(back.status.success(), "{}", text(&back.stderr));
    assert!(
        text(&back.stdout).contains("copied 8,"),
        "{}",
        text(&back.stdout)
    );
    let django = Django::locate(
        "migrate with Django",
        json!({"engine": "db", "secret": SECRET, "database_url": db, "auth": true}),
    )
    .unwrap();
    for (id, key) in &users {
        assert_eq!(
            django.run("get_user", &[key], "").await["id"],
            json!(id),
            "{key}"
        );
    }
    assert_eq!(
        django.run("load", &[&users[0].1], "").await["data"]["cart"],
        json!(3)
    );
    assert_eq!(
        django.run("load", &[&users[1].1], "").await["data"]["theme"],
        json!("dark")
    );
    // A logout on the Rust side (on the migration store) ends the session on both engines.
    let mut leaving = Session::new(forward.clone(), SessionConfig::default(), Some(&users[2].1));
    leaving.flush().await.unwrap();
    assert_eq!(
        django.run("get_user", &[&users[2].1], "").await["id"],
        json!(null)
    );
}

/// A kill -9 in the middle of `sessionctl migrate`, then a rerun: it resumes from its
/// checkpoint and ends with every session on the target, identical, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_migrate_resumes_and_loses_nothing() {
    let redis = redis_url();
    if let Err(e) = session_cache::Cache::connect(&redis, "probe", 1).await {
        return unavailable("migrate kill -9", &e);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    let prefix = format!("k9{}", &generate_key()[..8]);
    let source = store(&[("DATABASE_URL", &db)]).await;
    let mut keys = Vec::new();
    for i in 0..3000i64 {
        let mut s = Session::new(source.clone(), SessionConfig::default(), None);
        s.insert_value("i", i).await.unwrap();
        s.save(false).await.unwrap();
        keys.push(s.session_key().unwrap().to_owned());
    }
    let env = [
        ("SECRET_KEY", SECRET),
        ("DATABASE_URL", db.as_str()),
        ("CACHE_URL", redis.as_str()),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
    ];
    let checkpoint = dir.path().join("checkpoint");
    let cp = checkpoint.display().to_string();
    let args = [
        "migrate",
        "--from",
        "db",
        "--to",
        "cache",
        "--batch",
        "50",
        "--checkpoint",
        &cp,
    ];
    let mut child = sessionctl(&env, &args).spawn().unwrap();
    // Killed once a few batches are done (bounded wait).
    let start = Instant::now();
    while !checkpoint.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    let killed = child.wait_with_output().unwrap();
    assert!(
        !killed.status.success(),
        "killed before the end: {}",
        text(&killed.stdout)
    );
    assert!(checkpoint.exists(), "the checkpoint survived the kill");
    let resumed = run(&env, &args);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(
        text(&resumed.stderr).contains("resuming after"),
        "{}",
        text(&resumed.stderr)
    );
    assert!(!checkpoint.exists(), "removed once complete");
    // Every session is on the target with its data; none twice, none missing.
    let target = store(&[
        ("SESSION_ENGINE", "cache"),
        ("CACHE_URL", &redis),
        ("CACHE_KEY_PREFIX", &prefix),
    ])
    .await;
    for (i, key) in keys.iter().enumerate() {
        let data = target
            .load(key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{key} lost"));
        assert_eq!(
            data.get("i"),
            Some(&Value::from(i64::try_from(i).unwrap())),
            "{key}"
        );
        assert_eq!(data.len(), 1, "{key}: {data:?}");
    }
    let mut listed = 0;
    let mut cursor = None;
    loop {
        let page = target
            .list_keys(cursor.as_deref(), 1000)
            .await
            .unwrap()
            .unwrap();
        listed += page.keys.len();
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    // SCAN may return a key twice; never fewer than stored.
    assert!(listed >= keys.len(), "{listed} listed");
    let summary = text(&resumed.stdout);
    assert!(summary.contains("failed 0"), "{summary}");
}
