//! A short stress run per in-process configuration (the long runs and their figures are in
//! RELIABILITY.md): the invariants hold under 64 concurrent tasks.

use std::sync::Arc;
use std::time::Duration;

use session_core::{DynSessionStore, Settings};
use session_stress::{Plan, run};

fn plan() -> Plan {
    Plan {
        tasks: 64,
        operations: 10_000,
        time_limit: Duration::from_secs(60),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariants_hold_on_memory_sqlite_file_and_cached_db() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/s.sqlite3", dir.path().display());
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let files = files.display().to_string();
    let configs: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("db", vec![("DATABASE_URL", &db)]),
        ("file", vec![("SESSION_FILE_PATH", &files)]),
        ("cache", vec![("CACHE_URL", "memory://")]),
        (
            "cached_db",
            vec![("DATABASE_URL", &db), ("CACHE_URL", "memory://")],
        ),
    ];
    let memory: Arc<DynSessionStore> = Arc::new(session_core::memory::MemoryStore::default());
    let outcome = run(memory, &plan()).await;
    assert!(
        outcome.clean() && outcome.errors == 0,
        "memory: {outcome:?}"
    );
    for (engine, extra) in configs {
        let mut pairs = vec![("SECRET_KEY", "stress-secret"), ("SESSION_ENGINE", engine)];
        pairs.extend(extra);
        let settings = Settings::from_pairs(pairs).unwrap();
        let store = session_registry::build_store(&settings).await.unwrap();
        let outcome = run(store, &plan()).await;
        assert!(outcome.clean(), "{engine}: {outcome:?}");
        assert_eq!(outcome.errors, 0, "{engine}: {outcome:?}");
        assert!(outcome.operations >= 10_000 - 64, "{engine}: {outcome:?}");
    }
}
