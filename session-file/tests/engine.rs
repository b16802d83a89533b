//! File-engine behaviour beyond the shared suite, and live interop with Django.

use std::sync::Arc;

use serde_json::json;
use session_conformance::django::Django;
use session_core::expiry::ManualClock;
use session_core::{
    Error, Expiry, ExpiryPolicy, Session, SessionConfig, SessionStore, Settings, Value,
};
use session_file::FileStore;

const SECRET: &str = "file-engine-secret";

fn store_in(dir: &std::path::Path, clock: &ManualClock, cookie_age: i64) -> Arc<FileStore> {
    let settings = Settings::new(SECRET).unwrap();
    Arc::new(
        FileStore::new(
            dir,
            "sessionid",
            settings.session_signer(),
            ExpiryPolicy {
                cookie_age,
                ..ExpiryPolicy::default()
            },
            Arc::new(clock.clone()),
        )
        .unwrap(),
    )
}

fn config(clock: &ManualClock, cookie_age: i64) -> SessionConfig {
    SessionConfig::default()
        .with_cookie_age(cookie_age)
        .with_clock(Arc::new(clock.clone()))
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("_out_"))
        .collect()
}

#[test]
fn missing_directory_is_a_configuration_error() {
    let mut settings = Settings::new(SECRET).unwrap();
    settings.file_path = Some("/definitely/not/here".into());
    let err = FileStore::from_settings(&settings).unwrap_err();
    assert!(err.to_string().contains("SESSION_FILE_PATH"), "{err}");
}

#[tokio::test]
async fn keys_outside_the_alphabet_never_reach_the_file_system() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    std::fs::create_dir(&dir).unwrap();
    // A file a traversal would reach.
    std::fs::write(root.path().join("sessionidx"), "secret").unwrap();
    let clock = ManualClock::at_unix(1_767_323_045.0);
    let store = store_in(&dir, &clock, 1_209_600);
    for key in [
        "a\\b\\c",
        "a/b/c",
        "../sessionidx",
        "..",
        "ABCDEFGH",
        "abc.defgh",
    ] {
        assert!(
            matches!(store.path_for(key), Err(Error::InvalidKey(_))),
            "{key}"
        );
        // "No such session", as on every engine (a logout with such a cookie is no 500).
        assert!(!store.exists(key).await.unwrap(), "{key}");
        store.delete(key).await.unwrap();
        assert!(store.load(key).await.unwrap().is_none());
    }
    assert_eq!(
        std::fs::read_to_string(root.path().join("sessionidx")).unwrap(),
        "secret"
    );
}

#[tokio::test]
async fn file_name_and_content_are_djangos() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_unix(1_767_323_045.5);
    let store = store_in(dir.path(), &clock, 1_209_600);
    let mut s = Session::new(store.clone(), config(&clock, 1_209_600), None);
    s.insert_value("k", "v").await.unwrap();
    s.save(false).await.unwrap();
    let path = dir
        .path()
        .join(format!("sessionid{}", s.session_key().unwrap()));
    // Django's encoding of {"k": "v"} at this instant (expiry.json's middleware vector), no newline.
    let content = std::fs::read_to_string(&path).unwrap();
    assert!(content.starts_with("eyJrIjoidiJ9:1vbVSP:") && !content.ends_with('\n'));
    assert!(leftovers(dir.path()).is_empty());
    // An empty file is Django's placeholder: an empty session under the same key.
    std::fs::write(&path, "").unwrap();
    let mut again = Session::new(store, config(&clock, 1_209_600), s.session_key());
    assert!(again.data().await.unwrap().is_empty());
    assert_eq!(again.session_key(), s.session_key());
}

#[tokio::test]
async fn integer_expiry_expires_unlike_django() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_unix(1_767_323_045.0);
    let store = store_in(dir.path(), &clock, 1_209_600);
    let mut s = Session::new(store.clone(), config(&clock, 1_209_600), None);
    s.set_expiry(Expiry::Seconds(60)).await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    clock.advance_secs(59);
    assert!(store.load(&key).await.unwrap().is_some());
    clock.advance_secs(1);
    assert!(
        store.load(&key).await.unwrap().is_none(),
        "60 s after the last write it is gone"
    );
}

#[tokio::test]
async fn clearsessions_with_zero_cookie_age() {
    // Django's FileSessionTests.test_clearsessions_command.
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_unix(1_767_323_045.0);
    let store = store_in(dir.path(), &clock, 0);
    for expiry in [Some(3600), Some(-3600), None] {
        let mut s = Session::new(store.clone(), config(&clock, 0), None);
        s.insert_value("x", 1).await.unwrap();
        if let Some(e) = expiry {
            s.set_expiry(Expiry::Seconds(e)).await.unwrap();
        }
        s.save(false).await.unwrap();
    }
    std::fs::write(dir.path().join("unrelated.txt"), "keep me").unwrap();
    std::fs::write(dir.path().join("sessionidabcdefgh12_out_xyz"), "").unwrap();
    assert_eq!(store.clear_expired().await.unwrap(), Some(2));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("sessionid") && !n.contains("_out_"))
            .count(),
        1
    );
    assert!(
        names.contains(&"unrelated.txt".to_owned()),
        "foreign files untouched"
    );
}

#[tokio::test]
async fn failed_writes_are_errors_and_leave_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_unix(1_767_323_045.0);
    let store = store_in(dir.path(), &clock, 1_209_600);
    // A directory where the session file should be: the rename fails.
    let key = "aaaaaaaabbbbbbbbccccccccdddddddd";
    std::fs::create_dir(dir.path().join(format!("sessionid{key}"))).unwrap();
    let mut s = Session::new(store.clone(), config(&clock, 1_209_600), Some(key));
    s.clear();
    s.insert_value("x", 1).await.unwrap();
    let err = s.save(false).await.unwrap_err();
    assert!(
        matches!(err, Error::Backend { engine: "file", .. }),
        "{err}"
    );
    // An update of a missing file is Gone, and creates nothing.
    let mut gone = Session::new(
        store.clone(),
        config(&clock, 1_209_600),
        Some("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
    );
    gone.clear();
    gone.insert_value("x", 1).await.unwrap();
    assert!(matches!(gone.save(false).await, Err(Error::Gone)));
    assert!(
        !dir.path()
            .join("sessionidzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")
            .exists()
    );
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[tokio::test]
async fn interop_with_django_file_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    let Some(django) = Django::locate(
        "file interop",
        json!({"engine": "file", "secret": SECRET, "file_path": path}),
    ) else {
        return;
    };
    let mut settings = Settings::new(SECRET).unwrap();
    settings.file_path = Some(dir.path().to_path_buf());
    let store = Arc::new(FileStore::from_settings(&settings).unwrap());
    let config = SessionConfig::from_settings(&settings);

    // Django writes → we read and modify → Django reads.
    let key = django
        .run("create", &[], r#"{"user": "ada", "n": 1}"#)
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut s = Session::new(store.clone(), config.clone(), Some(&key));
    assert_eq!(s.get_value("user").await.unwrap(), Some(Value::from("ada")));
    s.insert_value("n", 2).await.unwrap();
    s.save(false).await.unwrap();
    assert_eq!(
        django.run("load", &[&key], "").await["data"],
        json!({"user": "ada", "n": 2})
    );

    // We write → Django reads.
    let mut ours = Session::new(store.clone(), config.clone(), None);
    ours.insert_value("cart", Value::from(vec![1, 2]))
        .await
        .unwrap();
    ours.save(false).await.unwrap();
    let our_key = ours.session_key().unwrap().to_owned();
    assert_eq!(
        django.run("load", &[&our_key], "").await["data"],
        json!({"cart": [1, 2]})
    );

    // Django's delete is seen by us (our save is Gone); ours by Django.
    s.insert_value("late", true).await.unwrap();
    django.run("delete", &[&key], "").await;
    assert!(matches!(s.save(false).await, Err(Error::Gone)));
    assert!(store.load(&key).await.unwrap().is_none());
    store.delete(&our_key).await.unwrap();
    assert_eq!(
        django.run("load", &[&our_key], "").await,
        json!({"key": null, "data": {}})
    );
}

/// SESSION_IDLE_TIMEOUT on the file engine (configured on the engine itself: it judges expiry
/// from the file's modification time): a read alone does not extend the session, a touch
/// moves the modification time without rewriting the file, and the touch is throttled.
#[tokio::test]
async fn idle_timeout_and_touch_move_the_modification_time_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
    let policy = ExpiryPolicy::default().with_idle_timeout(600);
    let settings = Settings::new(SECRET).unwrap();
    let store = Arc::new(
        FileStore::new(
            dir.path(),
            "sessionid",
            settings.session_signer(),
            policy,
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let config = SessionConfig {
        policy,
        ..SessionConfig::default()
    }
    .with_clock(Arc::new(clock.clone()));
    let mut s = Session::new(store.clone(), config.clone(), None);
    s.insert_value("k", "v").await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    let path = store.path_for(&key).unwrap();
    let content = std::fs::read(&path).unwrap();
    for (advance, touches) in [(200, false), (200, true), (50, false), (450, true)] {
        clock.advance_secs(advance);
        let mut r = Session::new(store.clone(), config.clone(), Some(&key));
        assert_eq!(r.get_value("k").await.unwrap(), Some(Value::from("v")));
        assert_eq!(
            r.touch_if_due().await.unwrap(),
            touches,
            "after {advance} s"
        );
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        content,
        "a touch never rewrites the file"
    );
    let mtime = chrono::DateTime::<chrono::Utc>::from(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
    );
    assert_eq!(
        mtime,
        session_core::Clock::now(&clock),
        "the modification time is the touch's"
    );
    clock.advance_secs(601);
    let mut late = Session::new(store.clone(), config, Some(&key));
    assert_eq!(
        late.get_value("k").await.unwrap(),
        None,
        "gone an idle window after the last touch"
    );
}

#[test]
fn fsync_is_a_setting_on_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    for (value, expected) in [(None, true), (Some("false"), false), (Some("true"), true)] {
        let mut pairs = vec![("SECRET_KEY", "s"), ("SESSION_FILE_PATH", path.as_str())];
        if let Some(v) = value {
            pairs.push(("SESSION_FILE_FSYNC", v));
        }
        let settings = Settings::from_pairs(pairs).unwrap();
        let store = FileStore::from_settings(&settings).unwrap();
        assert_eq!(store.is_durable(), expected, "{value:?}");
    }
}
