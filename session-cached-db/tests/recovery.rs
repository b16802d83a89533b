//! When the cache comes back after an outage, the sessions written meanwhile are invalidated
//! by one background task in pipelined batches: no request waits for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_cache::{Cache, REDIS_RESPONSE_TIMEOUT, ValueFormat};
use session_cached_db::CachedDbStore;
use session_conformance::{service_url, unavailable};
use session_core::key::generate_key;
use session_core::{Clock, Session, SessionConfig, SessionStore, Settings, SystemClock};
use session_db::{DbOptions, DbStore};
use tokio::net::TcpListener;

async fn p99(store: &Arc<CachedDbStore>, keys: &[String]) -> (Duration, Duration) {
    let mut tasks = Vec::new();
    for chunk in keys.chunks(keys.len().div_ceil(64)) {
        let store = store.clone();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for k in chunk {
                let t = Instant::now();
                let mut s = Session::new(store.clone(), SessionConfig::default(), Some(&k));
                s.insert_value("n", 2).await.unwrap();
                s.save(false).await.unwrap();
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    (all[all.len() * 99 / 100], all[all.len() - 1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_after_an_outage_blocks_no_request() {
    let url = service_url("REDIS_URL", "redis://127.0.0.1:6379/0");
    if let Err(e) = Cache::connect(&url, "probe", 1).await {
        return unavailable("cached_db recovery", &e);
    }
    let upstream = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut proxy = session_conformance::tcp_proxy(listener, upstream.clone());
    let dir = tempfile::tempdir().unwrap();
    let db = DbStore::connect_with(
        &format!("sqlite://{}", dir.path().join("s.sqlite3").display()),
        Settings::new("recovery-secret").unwrap().session_signer(),
        Arc::new(SystemClock) as Arc<dyn Clock>,
        DbOptions::default(),
    )
    .await
    .unwrap();
    db.ensure_schema().await.unwrap();
    let prefix = format!("rec{}", &generate_key()[..8]);
    let cache = Cache::connect(&format!("redis://127.0.0.1:{port}/0"), &prefix, 1)
        .await
        .unwrap();
    let store = Arc::new(CachedDbStore::new(db, cache, ValueFormat::Pickle, None));
    let mut keys = Vec::new();
    for _ in 0..2000 {
        let mut s = Session::new(store.clone(), SessionConfig::default(), None);
        s.insert_value("n", 1).await.unwrap();
        s.save(false).await.unwrap();
        keys.push(s.session_key().unwrap().to_owned());
    }
    let (steady, _) = p99(&store, &keys).await;

    // The cache goes away; every session is written meanwhile (database only).
    proxy.abort();
    let _ = proxy.await;
    let (_, outage_worst) = p99(&store, &keys).await;
    assert_eq!(store.health().pending_invalidations, keys.len());
    assert!(
        outage_worst < REDIS_RESPONSE_TIMEOUT * 3,
        "outage worst {outage_worst:?}"
    );

    // It comes back: 64 concurrent clients go on; none waits for the invalidation.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    proxy = session_conformance::tcp_proxy(listener, upstream);
    tokio::time::sleep(session_cached_db::CACHE_RETRY_AFTER).await;
    let (_, recovery_worst) = p99(&store, &keys).await;
    let bound = steady * 2 + REDIS_RESPONSE_TIMEOUT;
    assert!(
        recovery_worst <= bound,
        "worst request at recovery {recovery_worst:?} > 2 × steady p99 {steady:?} + one cache timeout"
    );
    let start = Instant::now();
    while store.health().degraded && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = store.health();
    assert!(!health.degraded, "the cache is trusted again: {health:?}");
    assert_eq!(
        health.pending_invalidations, 0,
        "the pending set is released"
    );
    // Nothing stale is served: every session reads its latest value.
    for k in keys.iter().take(200) {
        assert_eq!(
            store.load(k).await.unwrap().unwrap().get("n"),
            Some(&2.into())
        );
    }
    proxy.abort();
}
