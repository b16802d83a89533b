//! The background cleanup (`SESSION_CLEAR_EXPIRED_EVERY`): two instances on one database
//! both run it, expired sessions go, live ones stay, nothing fails.

#![cfg(feature = "sqlite")]

use std::time::{Duration, Instant};

use session_core::key::generate_key;
use session_core::{Map, Record, Settings};
use session_registry::{ClearExpiredTask, build_store};

fn settings(db: &str, every: &str) -> Settings {
    Settings::from_pairs([
        ("SECRET_KEY", "maintenance-secret"),
        ("SESSION_ENGINE", "db"),
        ("DATABASE_URL", db),
        ("SESSION_CLEAR_EXPIRED_EVERY", every),
    ])
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_clear_expired_sessions_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/s.sqlite3", dir.path().display());
    let first = build_store(&settings(&db, "1")).await.unwrap();
    let second = build_store(&settings(&db, "1")).await.unwrap();
    let data = std::sync::Arc::new(Map::new());
    let now = chrono::Utc::now();
    let mut expired = Vec::new();
    let mut live = Vec::new();
    for i in 0..3000 {
        let key = generate_key();
        let past = i % 2 == 0;
        let at = if past {
            now - chrono::Duration::seconds(60)
        } else {
            now + chrono::Duration::seconds(3600)
        };
        let record = Record {
            key: &key,
            data: &data,
            expires_at: at,
            max_age: if past { -60 } else { 3600 },
        };
        first.create(&record).await.unwrap();
        if past {
            expired.push(key)
        } else {
            live.push(key)
        }
    }
    let a = ClearExpiredTask::from_settings(&settings(&db, "1"), first.clone())
        .unwrap()
        .expect("the setting starts a task");
    let b = ClearExpiredTask::from_settings(&settings(&db, "1"), second.clone())
        .unwrap()
        .expect("the setting starts a task");
    let start = Instant::now();
    while (a.runs() < 2 || b.runs() < 2) && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(a.runs() >= 2 && b.runs() >= 2, "both ran twice");
    assert_eq!((a.failures(), b.failures()), (0, 0), "no run failed");
    assert_eq!(
        a.removed() + b.removed(),
        1500,
        "each expired row removed once"
    );
    for key in &expired {
        assert!(!first.exists(key).await.unwrap(), "expired {key} removed");
    }
    for key in &live {
        assert!(first.exists(key).await.unwrap(), "live {key} kept");
    }
    a.stop();
    drop(b);
}

#[tokio::test]
async fn no_setting_no_task_and_zero_is_refused() {
    let store = std::sync::Arc::new(session_core::memory::MemoryStore::default());
    let none = Settings::from_pairs([("SECRET_KEY", "x")]).unwrap();
    assert!(
        ClearExpiredTask::from_settings(&none, store.clone())
            .unwrap()
            .is_none()
    );
    let zero =
        Settings::from_pairs([("SECRET_KEY", "x"), ("SESSION_CLEAR_EXPIRED_EVERY", "0")]).unwrap();
    let err = ClearExpiredTask::from_settings(&zero, store).unwrap_err();
    assert!(
        err.to_string().contains("SESSION_CLEAR_EXPIRED_EVERY"),
        "{err}"
    );
}
