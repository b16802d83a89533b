//! Cache-engine behaviour beyond the shared suite, and live interop with Django's RedisCache.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use session_cache::{Cache, CacheSettings, CacheStore, MemoryBound, ValueFormat};
use session_conformance::django::Django;
use session_conformance::{service_url, unavailable};
use session_core::SettingsGroup;
use session_core::key::generate_key;
use session_core::{Error, Expiry, Session, SessionConfig, SessionStore, Settings, Value};

fn redis_url() -> String {
    service_url("REDIS_URL", "redis://127.0.0.1:6379/0")
}

async fn raw(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    client.get_multiplexed_async_connection().await.ok()
}

#[tokio::test]
async fn keys_values_and_ttl_are_djangos() {
    let url = redis_url();
    let Some(mut conn) = raw(&url).await else {
        return unavailable("cache-redis layout", &"no redis");
    };
    let prefix = format!("p{}", &generate_key()[..8]);
    let store = Arc::new(CacheStore::new(
        Cache::connect(&url, &prefix, 2).await.unwrap(),
        ValueFormat::Pickle,
    ));
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("num_visits", 1).await.unwrap();
    s.insert_value("testcookie", "worked").await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    let full = format!("{prefix}:2:django.contrib.sessions.cache{key}");
    assert_eq!(store.cache_key(&key), full);
    let bytes: Vec<u8> = redis::cmd("GET")
        .arg(&full)
        .query_async(&mut conn)
        .await
        .unwrap();
    // Exactly what Django's RedisCache SET for this dict (cache-values.json, engine_writes).
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(&bytes),
        "gAWVKgAAAAAAAAB9lCiMCm51bV92aXNpdHOUSwGMCnRlc3Rjb29raWWUjAZ3b3JrZWSUdS4="
    );
    let ttl: i64 = redis::cmd("TTL")
        .arg(&full)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (1_209_590..=1_209_600).contains(&ttl),
        "TTL = expiry age, got {ttl}"
    );
    s.set_expiry(Expiry::Seconds(300)).await.unwrap();
    s.save(false).await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(&full)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (290..=300).contains(&ttl),
        "TTL follows set_expiry, got {ttl}"
    );
    // A session deleted (or evicted) meanwhile is not brought back by a save.
    let _: i64 = redis::cmd("DEL")
        .arg(&full)
        .query_async(&mut conn)
        .await
        .unwrap();
    s.insert_value("late", true).await.unwrap();
    assert!(matches!(s.save(false).await, Err(Error::Gone)));
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&full)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0);
    // Values that are not a session (a bare int, a foreign pickle) are misses, not errors.
    let _: () = redis::cmd("SET")
        .arg(&full)
        .arg("42")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(store.load(&key).await.unwrap().is_none());
    let _: () = redis::cmd("SET")
        .arg(&full)
        .arg(&b"cos\nsystem\n(S'true'\ntR."[..])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(store.load(&key).await.unwrap().is_none());
}

/// A private redis-server on a free loopback port, so that its command counter is ours alone.
struct PrivateRedis(Child, u16);

impl PrivateRedis {
    fn start() -> Option<PrivateRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        Some(PrivateRedis(child, port))
    }
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.1)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn connect_retrying(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    for _ in 0..100 {
        if let Some(c) = raw(url).await {
            return Some(c);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn commands(conn: &mut redis::aio::MultiplexedConnection) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .unwrap();
    let n: i64 = info
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    n
}

#[tokio::test]
async fn one_round_trip_per_operation() {
    let Some(server) = PrivateRedis::start() else {
        return unavailable("cache-redis round trips", &"redis-server not installed");
    };
    let mut conn = connect_retrying(&server.url())
        .await
        .expect("private redis-server answers");
    let store = Arc::new(CacheStore::new(
        Cache::connect(&server.url(), "", 1).await.unwrap(),
        ValueFormat::Pickle,
    ));
    // Each measurement: commands run between two INFO calls, minus the INFO itself.
    macro_rules! counted {
        ($e:expr) => {{
            let before = commands(&mut conn).await;
            let r = $e;
            (r, commands(&mut conn).await - before - 1)
        }};
    }
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("n", 1).await.unwrap();
    let (r, n) = counted!(s.save(false).await);
    r.unwrap();
    assert_eq!(n, 1, "create = SET NX EX");
    let key = s.session_key().unwrap().to_owned();
    let mut t = Session::new(store.clone(), SessionConfig::default(), Some(&key));
    let (r, n) = counted!(t.get_value("n").await);
    r.unwrap();
    assert_eq!(n, 1, "load = GET");
    t.insert_value("n", 2).await.unwrap();
    let (r, n) = counted!(t.save(false).await);
    r.unwrap();
    assert_eq!(n, 1, "save = SET XX EX");
    // With SESSION_IDLE_TIMEOUT a load also reads the TTL (pipelined: one round trip), and
    // a touch is one EXPIRE instead of a SET.
    let idle = SessionConfig {
        policy: session_core::ExpiryPolicy::default().with_idle_timeout(3_000_000),
        ..SessionConfig::default()
    };
    let mut i = Session::new(store.clone(), idle, Some(&key));
    let (r, n) = counted!(i.get_value("n").await);
    r.unwrap();
    assert_eq!(n, 2, "load = GET + TTL in one pipeline");
    let (r, n) = counted!(i.touch().await);
    r.unwrap();
    assert_eq!(n, 1, "touch = EXPIRE");
    let (r, n) = counted!(store.delete(&key).await);
    r.unwrap();
    assert_eq!(n, 1, "delete = DEL");
}

#[tokio::test]
async fn reconnects_by_itself_after_the_connection_is_killed() {
    // A private server: killing clients on the shared one would break concurrent tests.
    let Some(server) = PrivateRedis::start() else {
        return unavailable("cache-redis reconnect", &"redis-server not installed");
    };
    let url = server.url();
    let admin = connect_retrying(&url).await;
    let mut admin = admin.expect("private redis-server answers");
    let prefix = format!("r{}", &generate_key()[..8]);
    let store = CacheStore::new(
        Cache::connect(&url, &prefix, 1).await.unwrap(),
        ValueFormat::Pickle,
    );
    let mut s = Session::new(Arc::new(store.clone()), SessionConfig::default(), None);
    s.insert_value("x", 1).await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    // Kill every other client connection (ours included) on the server.
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query_async(&mut admin)
        .await
        .unwrap();
    let mut loaded = None;
    for _ in 0..50 {
        match store.load(&key).await {
            Ok(v) => {
                loaded = v;
                break;
            }
            Err(e) => {
                assert!(e.is_transient(), "a dropped connection is transient: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert_eq!(
        loaded.and_then(|m| m.get("x").cloned()),
        Some(Value::from(1))
    );
}

#[tokio::test]
async fn memory_bounded_by_bytes_evicts() {
    let cache = Cache::in_process(MemoryBound::Bytes(20_000), "", 1);
    let store = Arc::new(CacheStore::new(cache, ValueFormat::Pickle));
    let mut keys = Vec::new();
    for _ in 0..50 {
        let mut s = Session::new(store.clone(), SessionConfig::default(), None);
        s.insert_value("blob", "x".repeat(1000)).await.unwrap();
        s.save(false).await.unwrap();
        keys.push(s.session_key().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut live = 0;
    for k in &keys {
        if store.load(k).await.unwrap().is_some() {
            live += 1;
        }
    }
    assert!(
        live < 50 && live > 0,
        "about 20 KB of 50 KB kept, got {live} sessions"
    );
}

#[tokio::test]
async fn interop_with_django_redis_cache() {
    let url = redis_url();
    if raw(&url).await.is_none() {
        return unavailable("cache interop", &"no redis");
    }
    let prefix = format!("dj{}", &generate_key()[..8]);
    let Some(django) = Django::locate(
        "cache interop",
        json!({"engine": "cache", "secret": "s", "cache_url": url, "key_prefix": prefix}),
    ) else {
        return;
    };
    let mut settings = Settings::new("s").unwrap();
    settings
        .set_source_value("CACHE_URL", &url)
        .set_source_value("CACHE_KEY_PREFIX", &prefix);
    let store = Arc::new(CacheStore::from_settings(&settings).await.unwrap());
    let config = SessionConfig::from_settings(&settings);

    // Django writes → we read and modify → Django reads.
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
    let mut s = Session::new(store.clone(), config.clone(), Some(&key));
    assert_eq!(s.get_value("user").await.unwrap(), Some(Value::from("ada")));
    s.insert_value("n", Value::from(100_000_000_000_000_000_000_i128))
        .await
        .unwrap();
    s.save(false).await.unwrap();
    assert_eq!(
        django.run("load", &[&key], "").await["data"],
        json!({"user": "ada", "n": 100_000_000_000_000_000_000.0_f64, "t": [1, 2.5, null, true]})
    );
    // We write → Django reads; Django's delete → our save is Gone; ours → Django sees nothing.
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
    django.run("delete", &[&key], "").await;
    s.insert_value("late", 1).await.unwrap();
    assert!(matches!(s.save(false).await, Err(Error::Gone)));
    store.delete(&our_key).await.unwrap();
    assert_eq!(
        django.run("load", &[&our_key], "").await,
        json!({"key": null, "data": {}})
    );
}

#[tokio::test]
async fn the_json_value_format_is_a_setting() {
    // On Redis: the in-process cache keeps decoded maps, whatever the format.
    let url = redis_url();
    if raw(&url).await.is_none() {
        return unavailable("json value format", &"no redis");
    }
    let prefix = format!("json{}", &generate_key()[..8]);
    let lookup = |format: &'static str| {
        Settings::from_pairs([
            ("SECRET_KEY", "s"),
            ("CACHE_URL", url.as_str()),
            ("CACHE_KEY_PREFIX", prefix.as_str()),
            ("SESSION_CACHE_VALUE_FORMAT", format),
        ])
        .unwrap()
    };
    let settings = lookup("json");
    let store = Arc::new(CacheStore::from_settings(&settings).await.unwrap());
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("cart", Value::from(vec![1, 2]))
        .await
        .unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    let raw = store
        .cache()
        .get(&store.cache_key(&key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8(raw).unwrap(), r#"{"cart":[1,2]}"#);
    let err = CacheSettings::from_settings(&lookup("yaml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("SESSION_CACHE_VALUE_FORMAT"), "{err}");
    let pickled = CacheSettings::from_settings(&Settings::new("s").unwrap()).unwrap();
    assert_eq!(pickled.value_format, ValueFormat::Pickle);
}

#[tokio::test]
async fn a_store_over_the_apps_own_redis_connection() {
    let url = redis_url();
    let Ok(client) = redis::Client::open(url.as_str()) else {
        return unavailable("cache-redis own connection", &"bad REDIS_URL");
    };
    let Ok(conn) = redis::aio::ConnectionManager::new(client).await else {
        return unavailable("cache-redis own connection", &"no redis");
    };
    let prefix = format!("own{}", &generate_key()[..8]);
    let backend = Arc::new(session_cache::backend::redis::Redis::node(conn.clone()));
    let store = Arc::new(CacheStore::new(
        Cache::new(backend, &prefix, 1),
        ValueFormat::Pickle,
    ));
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("x", 1).await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    // The app's connection sees Django's key.
    let mut app = conn;
    let full = format!("{prefix}:1:django.contrib.sessions.cache{key}");
    let exists: bool = redis::cmd("EXISTS")
        .arg(&full)
        .query_async(&mut app)
        .await
        .unwrap();
    assert!(exists, "written through the app's connection manager");
    store.delete(&key).await.unwrap();
}

fn memcached_url() -> String {
    service_url("MEMCACHED_URL", "memcached://127.0.0.1:11211")
}

/// The seed tutorial's configuration: Django's `PyMemcacheCache` and this engine share
/// sessions both ways, with the same keys, flags, bytes and expiry.
#[tokio::test]
async fn interop_with_django_pymemcache_cache() {
    let url = memcached_url();
    if let Err(e) = Cache::connect(&url, "probe", 1).await {
        return unavailable("memcached interop", &e);
    }
    let prefix = format!("dj{}", &generate_key()[..8]);
    // Over 30 days: Memcached reads such a TTL as a Unix time; both sides must convert.
    let age = 40 * 24 * 3600;
    let Some(django) = Django::locate(
        "memcached interop",
        json!({"engine": "cache", "secret": "s", "cache_url": url, "key_prefix": prefix, "cookie_age": age}),
    ) else {
        return;
    };
    let settings = Settings::from_pairs([
        ("SECRET_KEY", "s"),
        ("CACHE_URL", url.as_str()),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
        ("SESSION_COOKIE_AGE", &age.to_string()),
    ])
    .unwrap();
    let store = Arc::new(CacheStore::from_settings(&settings).await.unwrap());
    let config = SessionConfig::from_settings(&settings);

    // Django writes → we read and modify → Django reads.
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
    let mut s = Session::new(store.clone(), config.clone(), Some(&key));
    assert_eq!(s.get_value("user").await.unwrap(), Some(Value::from("ada")));
    s.insert_value("n", 2).await.unwrap();
    s.save(false).await.unwrap();
    assert_eq!(
        django.run("load", &[&key], "").await["data"],
        json!({"user": "ada", "n": 2, "t": [1, 2.5, null, true]})
    );

    // We write → Django reads; the item is flagged as pymemcache's pickle (flag 1) and its
    // bytes are what Django itself stores for the same dict.
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
    let raw = django
        .run(
            "cache_raw",
            &[&format!("django.contrib.sessions.cache{our_key}")],
            "",
        )
        .await;
    let reply = base64::engine::general_purpose::STANDARD
        .decode(raw["reply"].as_str().unwrap())
        .unwrap();
    let header = String::from_utf8_lossy(&reply[..reply.iter().position(|b| *b == b'\r').unwrap()])
        .into_owned();
    let fields: Vec<&str> = header.split(' ').collect();
    assert_eq!(fields[0], "VALUE");
    assert_eq!(fields[1], store.cache_key(&our_key));
    assert_eq!(fields[2], "1", "pymemcache's FLAG_PICKLE: {header}");
    let body_start = header.len() + 2;
    let body_len: usize = fields[3].parse().unwrap();
    let mut map = session_core::Map::new();
    map.insert("cart".into(), Value::from(vec![1, 2]));
    assert_eq!(
        &reply[body_start..body_start + body_len],
        session_cache::pickle::dumps(&map).as_slice()
    );

    // The 40-day expiry reached Memcached as a date, not as "expire at once" (it would be
    // gone) — on both sides' writes, read back by the other side.
    assert_eq!(
        store.load(&key).await.unwrap().unwrap()["n"],
        Value::from(2)
    );

    // Django's delete → our save is Gone; ours → Django sees nothing.
    django.run("delete", &[&key], "").await;
    s.insert_value("late", 1).await.unwrap();
    assert!(matches!(s.save(false).await, Err(Error::Gone)));
    store.delete(&our_key).await.unwrap();
    assert_eq!(
        django.run("load", &[&our_key], "").await,
        json!({"key": null, "data": {}})
    );
}

/// Several servers: Django's HashClient and this backend put every key on the same server,
/// so each side finds what the other wrote. Three private Memcached processes.
#[tokio::test]
async fn several_memcached_servers_place_keys_as_django_does() {
    let mut servers = Vec::new();
    for _ in 0..3 {
        match session_conformance::PrivateMemcached::start() {
            Ok(m) => servers.push(m),
            Err(e) => return unavailable("memcached placement", &e),
        }
    }
    let hosts: Vec<String> = servers.iter().map(|m| m.address()).collect();
    let url = format!("memcached://{}", hosts.join(","));
    let prefix = format!("hc{}", &generate_key()[..8]);
    let Some(django) = Django::locate(
        "memcached placement",
        json!({"engine": "cache", "secret": "s", "cache_url": url, "key_prefix": prefix}),
    ) else {
        return;
    };
    let settings = Settings::from_pairs([
        ("SECRET_KEY", "s"),
        ("CACHE_URL", url.as_str()),
        ("CACHE_KEY_PREFIX", prefix.as_str()),
    ])
    .unwrap();
    let store = Arc::new(CacheStore::from_settings(&settings).await.unwrap());
    let config = SessionConfig::from_settings(&settings);
    let mut per_server = std::collections::HashMap::new();
    for i in 0..12 {
        // Django writes, we read; we write, Django reads.
        let key = django.run("create", &[], &format!(r#"{{"i": {i}}}"#)).await["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut s = Session::new(store.clone(), config.clone(), Some(&key));
        assert_eq!(s.get_value("i").await.unwrap(), Some(Value::from(i)));
        let mut ours = Session::new(store.clone(), config.clone(), None);
        ours.insert_value("j", i).await.unwrap();
        ours.save(false).await.unwrap();
        let our_key = ours.session_key().unwrap().to_owned();
        assert_eq!(
            django.run("load", &[&our_key], "").await["data"],
            json!({"j": i})
        );
        // The item sits on the server HashClient names, alone.
        let raw = django
            .run(
                "cache_raw",
                &[&format!("django.contrib.sessions.cache{our_key}")],
                "",
            )
            .await;
        let server = raw["server"].as_str().unwrap().to_owned();
        for host in &hosts {
            let single = Cache::connect(&format!("memcached://{host}"), &prefix, 1)
                .await
                .unwrap();
            let here = single.exists(&store.cache_key(&our_key)).await.unwrap();
            assert_eq!(
                here,
                *host == server,
                "{our_key} on {host}? HashClient says {server}"
            );
        }
        *per_server.entry(server).or_insert(0) += 1;
    }
    assert!(
        per_server.len() >= 2,
        "keys spread over the servers: {per_server:?}"
    );
}

/// What Memcached refuses is refused before it is sent, with an error that says why; the
/// stored session is never dropped by an oversized write (Memcached would drop it).
#[tokio::test]
async fn memcached_limits_are_clear_errors() {
    let url = memcached_url();
    if let Err(e) = Cache::connect(&url, "probe", 1).await {
        return unavailable("memcached limits", &e);
    }
    let bad = CacheStore::new(
        Cache::connect(&url, "has space", 1).await.unwrap(),
        ValueFormat::Pickle,
    );
    let err = bad.load(&generate_key()).await.unwrap_err().to_string();
    assert!(err.contains("cache"), "{err}");
    let err = session_core::error::report(&bad.load(&generate_key()).await.unwrap_err());
    assert!(
        err.contains("CACHE_KEY_PREFIX") && err.contains("whitespace"),
        "{err}"
    );

    let small = CacheStore::new(
        Cache::connect(
            &format!("{url}?max_item_size=2000"),
            &format!("m{}", &generate_key()[..8]),
            1,
        )
        .await
        .unwrap(),
        ValueFormat::Pickle,
    );
    let store = Arc::new(small);
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("a", 1).await.unwrap();
    s.save(false).await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    s.insert_value("big", "x".repeat(3000)).await.unwrap();
    assert!(matches!(s.save(false).await, Err(Error::TooLarge { .. })));
    assert_eq!(
        store.load(&key).await.unwrap().unwrap()["a"],
        Value::from(1)
    );
    let err = Cache::connect(&format!("{url}?pool=3"), "p", 1)
        .await
        .unwrap_err();
    assert!(
        session_core::error::report(&err).contains("pool_size"),
        "{err}"
    );
}

/// The Redis user index lives as long as the user's longest session: when the sessions
/// expire, so does the set (no index that only grows, Spring Session's known leak).
#[tokio::test]
async fn the_redis_user_index_expires_with_the_sessions() {
    use session_core::users::IndexedStore;
    let url = redis_url();
    let Some(mut conn) = raw(&url).await else {
        return unavailable("cache-redis user index", &"no redis");
    };
    let prefix = format!("ui{}", &generate_key()[..8]);
    let cache = Cache::connect(&url, &prefix, 1).await.unwrap();
    let index =
        session_cache::CacheUserIndex::new(cache.clone(), Arc::new(session_core::SystemClock));
    let store = Arc::new(IndexedStore::new(
        Arc::new(CacheStore::new(cache, ValueFormat::Pickle)),
        Arc::new(index),
        session_core::ExpiryPolicy::default(),
        Arc::new(session_core::SystemClock),
    ));
    for _ in 0..3 {
        let mut s = Session::new(store.clone(), SessionConfig::default(), None);
        s.insert_value("_auth_user_id", Value::from("42"))
            .await
            .unwrap();
        s.set_expiry(Expiry::Seconds(2)).await.unwrap();
        s.save(false).await.unwrap();
    }
    let set = format!("{prefix}:1:django.contrib.sessions.user{{42}}");
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&set)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(members.len(), 3);
    let ttl: i64 = redis::cmd("TTL")
        .arg(&set)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (1..=2).contains(&ttl),
        "the set lives as long as the sessions: {ttl}"
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&set)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0, "gone with the sessions");
}
