//! Hostile values on both sides of cached_db: a bad cache entry is a miss (the database row
//! is served, never a panic or a stall); a bad row is an empty session plus a warning.

use std::sync::Arc;

use session_cache::{Cache, MemoryBound, ValueFormat};
use session_cached_db::CachedDbStore;
use session_conformance::hostile::{STALL, WarningLog, expect_unreadable, serial};
use session_core::{
    Clock, DynSessionStore, Map, Session, SessionConfig, SessionStore, Settings, SystemClock, Value,
};
use session_db::{DbOptions, DbStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cache_entries_and_rows() {
    let _serial = serial().await;
    let log = WarningLog::install();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/h.sqlite3", dir.path().display());
    let settings = Settings::new("hostile-cached-db-secret").unwrap();
    let db = DbStore::connect_with(
        &url,
        settings.session_signer(),
        Arc::new(SystemClock) as Arc<dyn Clock>,
        DbOptions::default(),
    )
    .await
    .unwrap();
    db.ensure_schema().await.unwrap();
    let cache = Cache::in_process(MemoryBound::Entries(1000), "", 1);
    let store = Arc::new(CachedDbStore::new(
        db,
        cache.clone(),
        ValueFormat::Pickle,
        None,
    ));
    let dyn_store: Arc<DynSessionStore> = store.clone();

    // A real session, then garbage in its cache entry: served from the row.
    let x = {
        let mut v = vec![0x80, 5, b']', 0x94, b'K', 1, b'a'];
        for _ in 0..40 {
            v.extend_from_slice(&[b']', 0x94, b'(', b'h', 1, b'h', 1, b'e']);
        }
        v.push(b'.');
        v
    };
    for bad in [
        x,
        b"\x80\x05\x8b\xff\xff\x00\x00".to_vec(),
        b"garbage".to_vec(),
    ] {
        let mut s = Session::new(dyn_store.clone(), SessionConfig::default(), None);
        s.insert_value("user", "ada").await.unwrap();
        s.save(false).await.unwrap();
        let key = s.session_key().unwrap().to_owned();
        cache.set(&store.cache_key(&key), &bad, 60).await.unwrap();
        let loaded = tokio::time::timeout(STALL, store.load(&key))
            .await
            .expect("no stall")
            .unwrap();
        assert_eq!(loaded.unwrap().get("user"), Some(&Value::from("ada")));
    }

    // A row whose data is signed with another secret, and one with an absurd expiry.
    let other = Settings::new("another-secret").unwrap().session_signer();
    let mut m = Map::new();
    m.insert("_session_expiry".into(), Value::from(1e300));
    for (label, data) in [
        (
            "other secret",
            other.sign_map(&Map::new(), chrono::DateTime::UNIX_EPOCH),
        ),
        (
            "_session_expiry = 1e300",
            settings.session_signer().sign_map(&m, chrono::Utc::now()),
        ),
    ] {
        let key = session_core::key::generate_key();
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("INSERT INTO django_session VALUES (?, ?, '2999-01-01 00:00:00')")
            .bind(&key)
            .bind(&data)
            .execute(&pool)
            .await
            .unwrap();
        expect_unreadable(&dyn_store, &key, &format!("cached_db row: {label}"), &log).await;
    }
}
