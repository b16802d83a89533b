//! Hostile entries in the session directory: each reads as an empty session plus a warning,
//! and `clear_expired` skips what it cannot read and keeps going.

use std::sync::Arc;

use session_conformance::hostile::{WarningLog, expect_unreadable, serial};
use session_core::key::generate_key;
use session_core::{
    DynSessionStore, ExpiryPolicy, ManualClock, Map, SessionStore, Settings, Value,
};
use session_file::{FileStore, TEMP_FILE_MAX_AGE};

const SECRET: &str = "hostile-files-secret";

#[tokio::test]
async fn hostile_files_read_as_empty_sessions() {
    let _serial = serial().await;
    let log = WarningLog::install();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_unix(1_800_000_000.0);
    let signer = Settings::new(SECRET).unwrap().session_signer();
    let store = FileStore::new(
        dir.path(),
        "sessionid",
        signer.clone(),
        ExpiryPolicy::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let dyn_store: Arc<DynSessionStore> = Arc::new(store.clone());
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let plant = |content: &[u8]| {
        let key = generate_key();
        std::fs::write(dir.path().join(format!("sessionid{key}")), content).unwrap();
        key
    };
    let with_expiry = |v: Value| {
        let mut m = Map::new();
        m.insert("user".into(), Value::from("ada"));
        m.insert("_session_expiry".into(), v);
        signer.sign_map(&m, now)
    };
    for (label, content) in [
        ("garbage", b"garbage".to_vec()),
        ("not UTF-8", b"\xff\xfe\x00".to_vec()),
        (
            "other secret",
            Settings::new("x")
                .unwrap()
                .session_signer()
                .sign_map(&Map::new(), now)
                .into_bytes(),
        ),
        (
            "_session_expiry = 1e300",
            with_expiry(Value::from(1e300)).into_bytes(),
        ),
        (
            "_session_expiry = 9e12",
            with_expiry(Value::from(9_000_000_000_000i64)).into_bytes(),
        ),
    ] {
        let key = plant(&content);
        expect_unreadable(&dyn_store, &key, &format!("file: {label}"), &log).await;
    }
    // A directory where a session file should be.
    let key = generate_key();
    std::fs::create_dir(dir.path().join(format!("sessionid{key}"))).unwrap();
    expect_unreadable(&dyn_store, &key, "file: a directory", &log).await;

    // clear_expired skips the directory (and says so) and still removes every expired file.
    let expired: Vec<String> = (0..5)
        .map(|_| plant(signer.sign_map(&Map::new(), now).as_bytes()))
        .collect();
    clock.advance_secs(2_000_000);
    for k in &expired {
        let p = dir.path().join(format!("sessionid{k}"));
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000),
        )
        .unwrap();
    }
    log.take();
    let removed = store.clear_expired().await.unwrap().unwrap();
    assert!(removed >= 5, "removed {removed}");
    for k in &expired {
        assert!(!dir.path().join(format!("sessionid{k}")).exists());
    }
    assert!(
        dir.path().join(format!("sessionid{key}")).is_dir(),
        "the directory is left alone"
    );
    assert!(
        log.take().contains("skipped"),
        "what could not be read is reported"
    );
}

#[tokio::test]
async fn clear_expired_removes_orphaned_temporary_files_only_when_old() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_unix(1_800_000_000.0);
    let signer = Settings::new(SECRET).unwrap().session_signer();
    let store = FileStore::new(
        dir.path(),
        "sessionid",
        signer,
        ExpiryPolicy::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let stamp = |name: &str, secs: u64| {
        let p = dir.path().join(name);
        std::fs::write(&p, b"").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap();
        p
    };
    let key = generate_key();
    let old = stamp(
        &format!("sessionid{key}_out_abcdef123456"),
        1_800_000_000 - TEMP_FILE_MAX_AGE.as_secs() - 10,
    );
    let fresh = stamp(
        &format!("sessionid{key}_out_zyxwvu987654"),
        1_800_000_000 - 5,
    );
    let foreign = stamp("unrelated_out_file", 1);
    store.clear_expired().await.unwrap();
    assert!(
        !old.exists(),
        "an orphan older than TEMP_FILE_MAX_AGE is removed"
    );
    assert!(
        fresh.exists(),
        "a temporary file a writer may still rename is kept"
    );
    assert!(
        foreign.exists(),
        "files that are not ours are never touched"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_world_writable_directory_is_refused_unless_allowed() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut settings = Settings::new(SECRET).unwrap();
    settings.file_path = Some(dir.path().to_path_buf());
    let err = FileStore::from_settings(&settings).unwrap_err().to_string();
    assert!(err.contains("SESSION_FILE_ALLOW_SHARED_DIR"), "{err}");
    settings.set_source_value("SESSION_FILE_ALLOW_SHARED_DIR", "true");
    assert!(FileStore::from_settings(&settings).is_ok());
}
