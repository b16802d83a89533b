//! cached_db behaviour beyond the shared suite: Django's layout, round trips, consistency when
//! the cache fails or is shared by several instances, and live interop with Django's
//! cached_db engine on Redis and on Memcached (the seed tutorial's cache).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use session_cache::{Cache, MemoryBound, ValueFormat};
use session_cached_db::{CACHE_RETRY_AFTER, CachedDbStore};
use session_conformance::django::Django;
use session_conformance::{service_url, unavailable};
use session_core::key::generate_key;
use session_core::{
    Clock, Error, ManualClock, Session, SessionConfig, SessionStore, Settings, SystemClock, Value,
};
use session_db::{DbOptions, DbStore};
use tokio::net::TcpListener;

fn redis_url() -> String {
    service_url("REDIS_URL", "redis://127.0.0.1:6379/0")
}

fn settings() -> Settings {
    Settings::new("cached-db-test-secret").unwrap()
}

async fn sqlite_at(path: &std::path::Path, clock: Arc<dyn Clock>) -> DbStore {
    let url = format!("sqlite://{}", path.display());
    let db = DbStore::connect_with(
        &url,
        settings().session_signer(),
        clock,
        DbOptions::default(),
    )
    .await
    .unwrap();
    db.ensure_schema().await.unwrap();
    db
}

async fn raw_redis(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    client.get_multiplexed_async_connection().await.ok()
}

async fn redis_get(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query_async(conn).await.unwrap()
}

async fn redis_ttl(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query_async(conn).await.unwrap()
}

async fn redis_del(conn: &mut redis::aio::MultiplexedConnection, key: &str) {
    let _: i64 = redis::cmd("DEL").arg(key).query_async(conn).await.unwrap();
}

async fn new_session(store: Arc<CachedDbStore>, data: &[(&str, Value)]) -> String {
    let mut s = Session::new(store, SessionConfig::default(), None);
    for (k, v) in data {
        s.insert_value(k, v.clone()).await.unwrap();
    }
    s.save(false).await.unwrap();
    s.session_key().unwrap().to_owned()
}

#[tokio::test]
async fn cache_entry_and_row_are_djangos_and_a_hit_costs_no_query() {
    let url = redis_url();
    let Some(mut conn) = raw_redis(&url).await else {
        return unavailable("cached_db layout", &"no redis");
    };
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_at(&dir.path().join("s.sqlite3"), Arc::new(SystemClock)).await;
    let prefix = format!("p{}", &generate_key()[..8]);
    let cache = Cache::connect(&url, &prefix, 1).await.unwrap();
    let store = Arc::new(CachedDbStore::new(
        db.clone(),
        cache,
        ValueFormat::Pickle,
        None,
    ));

    let before = db.statements();
    let key = new_session(
        store.clone(),
        &[("num_visits", 1.into()), ("testcookie", "worked".into())],
    )
    .await;
    // Session::save on a new session: one INSERT (the key is fresh), nothing else.
    assert_eq!(
        db.statements() - before,
        1,
        "create: one database statement"
    );
    let full = format!("{prefix}:1:django.contrib.sessions.cached_db{key}");
    assert_eq!(store.cache_key(&key), full);
    // The bytes Django's RedisCache writes for this dict (cache-values.json).
    let bytes = redis_get(&mut conn, &full).await.expect("write-through");
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(&bytes),
        "gAWVKgAAAAAAAAB9lCiMCm51bV92aXNpdHOUSwGMCnRlc3Rjb29raWWUjAZ3b3JrZWSUdS4="
    );
    let ttl = redis_ttl(&mut conn, &full).await;
    assert!((1_209_590..=1_209_600).contains(&ttl), "TTL {ttl}");
    // The row is the db engine's: a plain db store reads it.
    let row = db.load(&key).await.unwrap().unwrap();
    assert_eq!(row.get("testcookie"), Some(&Value::from("worked")));

    // Hit: no database statement at all.
    let before = db.statements();
    let data = store.load(&key).await.unwrap().unwrap();
    assert_eq!(data.get("num_visits"), Some(&Value::from(1)));
    assert_eq!(db.statements() - before, 0, "a hit sends no query");

    // Miss: one SELECT, then the cache is refilled (bounded TTL) and the next load hits.
    redis_del(&mut conn, &full).await;
    let before = db.statements();
    assert!(store.load(&key).await.unwrap().is_some());
    assert_eq!(db.statements() - before, 1, "a miss sends one query");
    let ttl = redis_ttl(&mut conn, &full).await;
    assert!(
        ttl > 1_209_000 && ttl <= 1_209_600,
        "a refill lives as long as the session: TTL {ttl}"
    );
    let before = db.statements();
    store.load(&key).await.unwrap().unwrap();
    assert_eq!(db.statements() - before, 0);

    // Save: one UPDATE plus the cache write; delete: one DELETE plus the cache delete.
    let mut s = Session::new(store.clone(), SessionConfig::default(), Some(&key));
    s.insert_value("num_visits", 2).await.unwrap();
    let before = db.statements();
    s.save(false).await.unwrap();
    assert_eq!(
        db.statements() - before,
        1,
        "save: one UPDATE (the load was a hit)"
    );
    assert_eq!(
        store.load(&key).await.unwrap().unwrap().get("num_visits"),
        Some(&Value::from(2))
    );
    store.delete(&key).await.unwrap();
    // A delete leaves a tombstone: a pickled None, which Django's cached_db reads as a miss.
    assert_eq!(
        redis_get(&mut conn, &full).await.as_deref(),
        Some(&b"\x80\x05N."[..])
    );
    let ttl = redis_ttl(&mut conn, &full).await;
    assert!(ttl > 0 && ttl <= 3600, "tombstone TTL {ttl}");
    assert!(db.raw_row(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn a_miss_judges_expiry_by_the_database_row() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_unix(1_800_000_000.0);
    let db = sqlite_at(&dir.path().join("s.sqlite3"), Arc::new(clock.clone())).await;
    let cache = Cache::in_process(MemoryBound::Entries(100), "", 1);
    let store = Arc::new(CachedDbStore::new(
        db,
        cache.clone(),
        ValueFormat::Pickle,
        None,
    ));
    let config = SessionConfig::default().with_clock(Arc::new(clock.clone()));
    let mut s = Session::new(store.clone(), config, None);
    s.insert_value("x", 1).await.unwrap();
    s.set_expiry(session_core::Expiry::Seconds(60))
        .await
        .unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    cache.delete(&store.cache_key(&key)).await.unwrap();
    clock.advance_secs(59);
    assert!(store.load(&key).await.unwrap().is_some(), "one second left");
    cache.delete(&store.cache_key(&key)).await.unwrap();
    clock.advance_secs(1);
    assert_eq!(
        store.load(&key).await.unwrap(),
        None,
        "expired at the boundary"
    );
    assert!(
        !cache.exists(&store.cache_key(&key)).await.unwrap(),
        "nothing refilled"
    );
}

#[tokio::test]
async fn a_save_after_a_concurrent_delete_fails_and_caches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_at(&dir.path().join("s.sqlite3"), Arc::new(SystemClock)).await;
    let cache = Cache::in_process(MemoryBound::Entries(100), "", 1);
    let store = Arc::new(CachedDbStore::new(
        db,
        cache.clone(),
        ValueFormat::Pickle,
        None,
    ));
    let key = new_session(store.clone(), &[("x", 1.into())]).await;
    let mut s = Session::new(store.clone(), SessionConfig::default(), Some(&key));
    s.insert_value("x", 2).await.unwrap();
    store.delete(&key).await.unwrap();
    assert!(matches!(s.save(false).await, Err(Error::Gone)));
    assert_eq!(
        cache.get(&store.cache_key(&key)).await.unwrap().as_deref(),
        Some(ValueFormat::Pickle.tombstone()),
        "only the tombstone"
    );
    assert_eq!(store.load(&key).await.unwrap(), None);
}

#[tokio::test]
async fn in_process_caches_see_a_logout_elsewhere_within_the_max_staleness() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let instance = |db: DbStore| {
        Arc::new(CachedDbStore::new(
            db,
            Cache::in_process(MemoryBound::Entries(100), "", 1),
            ValueFormat::Pickle,
            Some(Duration::from_secs(1)),
        ))
    };
    let a = instance(sqlite_at(&path, Arc::new(SystemClock)).await);
    let b = instance(sqlite_at(&path, Arc::new(SystemClock)).await);
    let key = new_session(a.clone(), &[("user", "ada".into())]).await;
    assert!(b.load(&key).await.unwrap().is_some(), "b caches its copy");
    a.delete(&key).await.unwrap(); // logout on instance a
    assert_eq!(a.load(&key).await.unwrap(), None);
    // Instance b may serve its copy until the bound, never after it.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(b.load(&key).await.unwrap(), None, "b sees the logout");
    // And b's own writes cannot bring the session back.
    let mut s = Session::new(b.clone(), SessionConfig::default(), Some(&key));
    s.insert_value("late", 1).await.unwrap();
    s.save(false).await.unwrap(); // the key was reset by the load: a new session
    assert_ne!(s.session_key(), Some(key.as_str()));
}

#[tokio::test]
async fn cache_outage_serves_from_the_database_and_no_stale_copy_survives_it() {
    let url = redis_url();
    let Some(mut conn) = raw_redis(&url).await else {
        return unavailable("cached_db outage", &"no redis");
    };
    let upstream = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut proxy_task = session_conformance::tcp_proxy(listener, upstream.clone());
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_at(&dir.path().join("s.sqlite3"), Arc::new(SystemClock)).await;
    let prefix = format!("o{}", &generate_key()[..8]);
    let cache = Cache::connect(&format!("redis://127.0.0.1:{port}/0"), &prefix, 1)
        .await
        .unwrap();
    let store = Arc::new(CachedDbStore::new(
        db.clone(),
        cache,
        ValueFormat::Pickle,
        None,
    ));
    let key = new_session(store.clone(), &[("n", 1.into())]).await;
    let full = store.cache_key(&key);
    assert!(redis_get(&mut conn, &full).await.is_some());

    // The cache goes away; reads and writes go on against the database.
    proxy_task.abort();
    let _ = proxy_task.await;
    let mut s = Session::new(store.clone(), SessionConfig::default(), Some(&key));
    assert_eq!(s.get_value("n").await.unwrap(), Some(Value::from(1)));
    s.insert_value("n", 2).await.unwrap();
    s.save(false)
        .await
        .expect("the database write is what counts");
    let health = store.health();
    assert!(health.degraded);
    assert_eq!(
        health.pending_invalidations, 1,
        "the old copy is remembered"
    );
    // Redis itself still holds the old copy (n = 1)...
    assert!(redis_get(&mut conn, &full).await.is_some());
    // ...and while degraded it is never served.
    let before = db.statements();
    assert_eq!(
        store.load(&key).await.unwrap().unwrap().get("n"),
        Some(&Value::from(2))
    );
    assert_eq!(db.statements() - before, 1);

    // The cache comes back: the stale copy is deleted before the cache is trusted again.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    proxy_task = session_conformance::tcp_proxy(listener, upstream);
    tokio::time::sleep(CACHE_RETRY_AFTER + Duration::from_millis(100)).await;
    let mut served = None;
    for _ in 0..30 {
        served = store.load(&key).await.unwrap();
        if !store.health().degraded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(served.unwrap().get("n"), Some(&Value::from(2)));
    assert_eq!(store.health().pending_invalidations, 0);
    assert!(!store.health().degraded, "the cache is used again");
    let before = db.statements();
    assert_eq!(
        store.load(&key).await.unwrap().unwrap().get("n"),
        Some(&Value::from(2))
    );
    assert_eq!(db.statements() - before, 0, "hits again");
    proxy_task.abort();
}

#[tokio::test]
async fn interop_with_djangos_cached_db_on_redis() {
    let url = redis_url();
    let Some(mut conn) = raw_redis(&url).await else {
        return unavailable("cached_db interop", &"no redis");
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let db = sqlite_at(&path, Arc::new(SystemClock)).await;
    let prefix = format!("dj{}", &generate_key()[..8]);
    let Some(django) = Django::locate(
        "cached_db interop",
        json!({
            "engine": "cached_db",
            "secret": "cached-db-test-secret",
            "database_url": format!("sqlite://{}", path.display()),
            "cache_url": url,
            "key_prefix": prefix,
        }),
    ) else {
        return;
    };
    let cache = Cache::connect(&url, &prefix, 1).await.unwrap();
    let store = Arc::new(CachedDbStore::new(
        db.clone(),
        cache,
        ValueFormat::Pickle,
        None,
    ));

    // Django writes → we read (a hit: no query) and modify → Django reads.
    let key = django
        .run(
            "create",
            &[],
            r#"{"user": "ada", "n": 1, "t": [1, 2.5, null, true]}"#,
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = db.statements();
    let mut s = Session::new(store.clone(), SessionConfig::default(), Some(&key));
    assert_eq!(s.get_value("user").await.unwrap(), Some(Value::from("ada")));
    assert_eq!(db.statements() - before, 0, "Django's cache entry is hit");
    s.insert_value("n", 2).await.unwrap();
    s.save(false).await.unwrap();
    assert_eq!(
        django.run("load", &[&key], "").await["data"],
        json!({"user": "ada", "n": 2, "t": [1, 2.5, null, true]})
    );
    // A Django row without its cache entry: we read the row (the miss path) and refill.
    let k2 = django.run("create", &[], r#"{"m": 7}"#).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    redis_del(&mut conn, &store.cache_key(&k2)).await;
    assert_eq!(
        store.load(&k2).await.unwrap().unwrap().get("m"),
        Some(&Value::from(7))
    );
    assert!(redis_get(&mut conn, &store.cache_key(&k2)).await.is_some());
    assert_eq!(
        django.run("load", &[&k2], "").await["data"],
        json!({"m": 7})
    );
    // We write → Django reads, from its cache and from the row alone.
    let ours = new_session(store.clone(), &[("cart", Value::from(vec![1, 2]))]).await;
    assert_eq!(
        django.run("load", &[&ours], "").await["data"],
        json!({"cart": [1, 2]})
    );
    redis_del(&mut conn, &store.cache_key(&ours)).await;
    assert_eq!(
        django.run("load", &[&ours], "").await["data"],
        json!({"cart": [1, 2]})
    );
    // Django's logout → our save is Gone; ours → Django sees nothing.
    django.run("delete", &[&key], "").await;
    s.insert_value("late", 1).await.unwrap();
    assert!(matches!(s.save(false).await, Err(Error::Gone)));
    store.delete(&ours).await.unwrap();
    assert_eq!(
        django.run("load", &[&ours], "").await,
        json!({"key": null, "data": {}})
    );
}

fn memcached_url() -> String {
    service_url("MEMCACHED_URL", "memcached://127.0.0.1:11211")
}

/// The seed tutorial's cache under Django's cached_db engine: `PyMemcacheCache` and this
/// engine share rows and cache entries both ways.
#[tokio::test]
async fn interop_with_djangos_cached_db_on_memcached() {
    let url = memcached_url();
    let raw = match Cache::connect(&url, "", 1).await {
        Ok(c) => c,
        Err(e) => return unavailable("cached_db memcached interop", &e),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let db = sqlite_at(&path, Arc::new(SystemClock)).await;
    let prefix = format!("dj{}", &generate_key()[..8]);
    let Some(django) = Django::locate(
        "cached_db memcached interop",
        json!({
            "engine": "cached_db",
            "secret": "cached-db-test-secret",
            "database_url": format!("sqlite://{}", path.display()),
            "cache_url": url,
            "key_prefix": prefix,
        }),
    ) else {
        return;
    };
    let cache = Cache::connect(&url, &prefix, 1).await.unwrap();
    let store = Arc::new(CachedDbStore::new(
        db.clone(),
        cache,
        ValueFormat::Pickle,
        None,
    ));

    // Django writes → we read from its Memcached entry (no query) and modify → Django reads.
    let key = django
        .run("create", &[], r#"{"user": "ada", "n": 1}"#)
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = db.statements();
    let mut s = Session::new(store.clone(), SessionConfig::default(), Some(&key));
    assert_eq!(s.get_value("user").await.unwrap(), Some(Value::from("ada")));
    assert_eq!(
        db.statements() - before,
        0,
        "Django's Memcached entry is hit"
    );
    s.insert_value("n", 2).await.unwrap();
    s.save(false).await.unwrap();
    assert_eq!(
        django.run("load", &[&key], "").await["data"],
        json!({"user": "ada", "n": 2})
    );
    // A Django row without its cache entry: the miss path refills Memcached.
    let k2 = django.run("create", &[], r#"{"m": 7}"#).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    raw.delete(&store.cache_key(&k2)).await.unwrap();
    assert_eq!(
        store.load(&k2).await.unwrap().unwrap().get("m"),
        Some(&Value::from(7))
    );
    assert!(raw.get(&store.cache_key(&k2)).await.unwrap().is_some());
    // We write → Django reads from the cache, and from the row alone.
    let ours = new_session(store.clone(), &[("cart", Value::from(vec![1, 2]))]).await;
    assert_eq!(
        django.run("load", &[&ours], "").await["data"],
        json!({"cart": [1, 2]})
    );
    raw.delete(&store.cache_key(&ours)).await.unwrap();
    assert_eq!(
        django.run("load", &[&ours], "").await["data"],
        json!({"cart": [1, 2]})
    );
    // Django's logout → our save is Gone; ours → Django sees nothing.
    django.run("delete", &[&key], "").await;
    s.insert_value("late", 1).await.unwrap();
    assert!(matches!(s.save(false).await, Err(Error::Gone)));
    store.delete(&ours).await.unwrap();
    assert_eq!(
        django.run("load", &[&ours], "").await,
        json!({"key": null, "data": {}})
    );
}

/// Memcached cut off (a partition: it keeps its old entries) and then killed and restarted
/// (empty) while 16 tasks keep writing: every request is served from the database, and
/// afterwards every session reads the last value written — nothing stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_outage_and_restart_under_load_serve_no_stale_session() {
    let mut memcached = match session_conformance::PrivateMemcached::start() {
        Ok(m) => m,
        Err(e) => return unavailable("cached_db memcached outage", &e),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut proxy = session_conformance::tcp_proxy(listener, memcached.address());
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_at(&dir.path().join("s.sqlite3"), Arc::new(SystemClock)).await;
    let cache = Cache::connect(&format!("memcached://127.0.0.1:{port}"), "out", 1)
        .await
        .unwrap();
    let store = Arc::new(CachedDbStore::new(db, cache, ValueFormat::Pickle, None));
    let mut keys = Vec::new();
    for _ in 0..64 {
        keys.push(new_session(store.clone(), &[("n", Value::from(0))]).await);
    }
    // Each task owns 4 sessions and writes increasing values to them until told to stop.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for chunk in keys.chunks(4) {
        let (store, chunk, stop) = (store.clone(), chunk.to_vec(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut written = vec![0i64; chunk.len()];
            let mut n = 0;
            // Bounded: at most 5 000 rounds even if nobody says stop.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 5_000 {
                n += 1;
                for (i, k) in chunk.iter().enumerate() {
                    let mut s = Session::new(store.clone(), SessionConfig::default(), Some(k));
                    let seen = s.get_value("n").await.unwrap().and_then(|v| v.as_i64());
                    assert_eq!(seen, Some(written[i]), "a stale read of {k}");
                    written[i] += 1;
                    s.insert_value("n", written[i]).await.unwrap();
                    s.save(false).await.unwrap();
                }
            }
            (chunk, written)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A partition: the cache keeps its entries, which go stale meanwhile.
    proxy.abort();
    let _ = proxy.await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        store.health().degraded,
        "the writers noticed the partition: {:?}",
        store.health()
    );
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    proxy = session_conformance::tcp_proxy(listener, memcached.address());
    tokio::time::sleep(CACHE_RETRY_AFTER * 2).await;
    // A kill -9 and a restart (the cache comes back empty).
    memcached.kill();
    tokio::time::sleep(Duration::from_millis(800)).await;
    memcached.restart().unwrap();
    tokio::time::sleep(CACHE_RETRY_AFTER * 2).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        let (chunk, written) = t.await.expect("no request failed and no read was stale");
        for (k, n) in chunk.iter().zip(written) {
            assert_eq!(
                store.load(k).await.unwrap().unwrap()["n"],
                Value::from(n),
                "{k} after the outage"
            );
        }
    }
    // Requests go on (bounded): the first one after the retry delay starts the invalidation.
    let start = std::time::Instant::now();
    while store.health().degraded && start.elapsed() < Duration::from_secs(10) {
        store.load(&keys[0]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!store.health().degraded, "the cache is trusted again");
    proxy.abort();
}
