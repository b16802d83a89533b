//! `cargo run -p session-bench --release -- [--quick] [--rounds N] [--secs S] [--only PREFIX]`
//!
//! One interleaved run, side by side on the same machine and services: this project through
//! its public `Session` API (as an app uses it), the raw clients doing the same round trips
//! (the floor), tower-sessions' in-process store, and real Django (the test venv, through
//! `bench/django_bench.py`). Workloads, as in issue 18: *create* = a new session with 5 small
//! keys, saved; *load* = open by key and read one key; *cycle* = open, increment, save.
//! Prints a table (ops/s, p50, p99, and the ratio to the floor and to each peer) and writes
//! one JSON line per measurement to `target/bench/results.jsonl`. Servers are read from the
//! same variables as the tests (`REDIS_URL`, `POSTGRES_URL`); a missing one skips its rows.
//! Ratios come from one run; absolute numbers move with the machine's load.

// Counts, durations and percentiles are converted between integers and floats for display.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap
)]

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use session_core::codec::{SESSION_SALT, Secret, Signer, derive_key};
use session_core::key::generate_key;
use session_core::{DynSessionStore, Map, Session, SessionConfig, Value};

mod sweeps;

/// What a run leaves on the shared servers, removed at its end ([`clean_up`]): the tables it
/// made and the key prefixes it wrote under.
static LEFTOVERS: std::sync::Mutex<(Vec<String>, Vec<String>)> =
    std::sync::Mutex::new((Vec::new(), Vec::new()));

fn leave_table(table: &str) {
    LEFTOVERS.lock().unwrap().0.push(table.to_owned());
}

fn leave_prefix(prefix: &str) {
    LEFTOVERS.lock().unwrap().1.push(prefix.to_owned());
}

/// tower-sessions' sessions expire in 10 minutes (their Redis keys carry no prefix to clean
/// up by).
fn tower_expiry() -> tower_sessions::Expiry {
    tower_sessions::Expiry::OnInactivity(tower_sessions::cookie::time::Duration::minutes(10))
}

/// Drops the tables and deletes the keys the run left (Django's `djbench` prefix too).
async fn clean_up(redis: Option<&str>, postgres: Option<&str>) {
    let (tables, mut prefixes) = std::mem::take(&mut *LEFTOVERS.lock().unwrap());
    prefixes.push("djbench:".into());
    if let Some(url) = postgres {
        if let Ok(pool) = sqlx::PgPool::connect(url).await {
            for t in &tables {
                let _ = sqlx::query(&format!("DROP TABLE IF EXISTS \"{t}\" CASCADE"))
                    .execute(&pool)
                    .await;
            }
        }
    }
    let Some(url) = redis else { return };
    let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) else {
        return;
    };
    for prefix in prefixes {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut conn)
            .unwrap_or_default();
        for chunk in keys.chunks(10_000) {
            let _: redis::RedisResult<i64> = redis::cmd("UNLINK").arg(chunk).query(&mut conn);
        }
    }
}

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Op = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// One measured thing: a path (`redis/cycle`) and who does it (`ours`, `floor`, `tower`,
/// `django`).
struct Subject {
    path: String,
    who: &'static str,
    op: Op,
}

#[derive(Debug, Clone, Default)]
struct Stats {
    ops: u64,
    secs: f64,
    lat_us: Vec<f64>,
}

impl Stats {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs.max(1e-9)
    }
    fn pct(&self, p: f64) -> f64 {
        if self.lat_us.is_empty() {
            return 0.0;
        }
        let mut v = self.lat_us.clone();
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

async fn measure(op: &mut Op, secs: f64, stats: &mut Stats) {
    // Warm up, then time each operation.
    for _ in 0..20 {
        op().await;
    }
    let start = Instant::now();
    let limit = Duration::from_secs_f64(secs);
    while start.elapsed() < limit {
        let t = Instant::now();
        op().await;
        stats.lat_us.push(t.elapsed().as_secs_f64() * 1e6);
        stats.ops += 1;
    }
    stats.secs += start.elapsed().as_secs_f64();
}

fn small_map() -> Map {
    let mut m = Map::new();
    for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        m.insert((*k).into(), Value::from(format!("value-{i}")));
    }
    m
}

fn codec_map(big: bool) -> Map {
    let mut m = Map::new();
    m.insert("_auth_user_id".into(), "42".into());
    m.insert(
        "_auth_user_backend".into(),
        "django.contrib.auth.backends.ModelBackend".into(),
    );
    m.insert(
        "_auth_user_hash".into(),
        "5f1233b323d122a8661900822ffc8de1eee5a07b9e62bc69d6ddfcad0b1bf9a2".into(),
    );
    m.insert("num_visits".into(), 7.into());
    if big {
        let cart: Vec<Value> = (0..60)
            .map(|i| {
                let mut item = Map::new();
                item.insert("id".into(), i.into());
                item.insert("name".into(), format!("item {i} é").into());
                item.insert("price".into(), (f64::from(i) * 1.25).into());
                Value::Object(item)
            })
            .collect();
        m.insert("cart".into(), Value::Array(cart));
    }
    m
}

/// The three session workloads over one store, through the public Session API.
fn session_ops(
    path: &str,
    store: Arc<DynSessionStore>,
    config: SessionConfig,
    subjects: &mut Vec<Subject>,
) {
    let (s1, c1) = (store.clone(), config.clone());
    subjects.push(Subject {
        path: format!("{path}/create"),
        who: "ours",
        op: Box::new(move || {
            let (store, config) = (s1.clone(), c1.clone());
            Box::pin(async move {
                let mut s = Session::new(store, config, None);
                for (k, v) in small_map() {
                    s.insert_value(&k, v).await.unwrap();
                }
                s.save(false).await.unwrap();
            })
        }),
    });
    let key = seeded(&store, &config);
    let (s2, c2, k2) = (store.clone(), config.clone(), key.clone());
    subjects.push(Subject {
        path: format!("{path}/load"),
        who: "ours",
        op: Box::new(move || {
            let (store, config, key) = (s2.clone(), c2.clone(), k2.clone());
            Box::pin(async move {
                let mut s = Session::new(store, config, Some(&key));
                assert!(s.get_value("a").await.unwrap().is_some());
            })
        }),
    });
    let cycle_key = Arc::new(std::sync::Mutex::new(key));
    subjects.push(Subject {
        path: format!("{path}/cycle"),
        who: "ours",
        op: Box::new(move || {
            let (store, config, slot) = (store.clone(), config.clone(), cycle_key.clone());
            Box::pin(async move {
                let key = slot.lock().unwrap().clone();
                let mut s = Session::new(store, config, Some(&key));
                let n = s.get::<i64>("n").await.unwrap().unwrap_or(0);
                s.insert("n", &(n + 1)).await.unwrap();
                s.save(false).await.unwrap();
                // Signed cookies: the key is the new cookie.
                *slot.lock().unwrap() = s.session_key().unwrap().to_owned();
            })
        }),
    });
}

fn seeded(store: &Arc<DynSessionStore>, config: &SessionConfig) -> String {
    let (store, config) = (store.clone(), config.clone());
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(async move {
            let mut s = Session::new(store, config, None);
            for (k, v) in small_map() {
                s.insert_value(&k, v).await.unwrap();
            }
            s.save(false).await.unwrap();
            s.session_key().unwrap().to_owned()
        })
    })
}

fn codec_subjects(subjects: &mut Vec<Subject>) {
    let secret = Secret::new("bench-secret-key");
    let signer = Signer::new(SESSION_SALT, &secret, &[]);
    let key = derive_key(SESSION_SALT, &secret);
    let at = chrono::DateTime::from_timestamp(1_767_323_045, 0).unwrap();
    for (name, big) in [("200B", false), ("4KB", true)] {
        let data = codec_map(big);
        let encoded = signer.sign_map(&data, at);
        let json = Value::Object(data.clone()).to_python_json();
        let (sg, d) = (signer.clone(), data.clone());
        subjects.push(Subject {
            path: format!("codec/encode-{name}"),
            who: "ours",
            op: Box::new(move || {
                std::hint::black_box(sg.sign_map(&d, at));
                Box::pin(async {})
            }),
        });
        let (sg, e) = (signer.clone(), encoded.clone());
        subjects.push(Subject {
            path: format!("codec/decode-{name}"),
            who: "ours",
            op: Box::new(move || {
                std::hint::black_box(sg.unsign_map(&e, None, at).unwrap());
                Box::pin(async {})
            }),
        });
        // The floor: what any signed format pays — HMAC-SHA256 over base64 of the bytes.
        for dir in ["encode", "decode"] {
            let (k, j) = (key, json.clone());
            subjects.push(Subject {
                path: format!("codec/{dir}-{name}"),
                who: "floor",
                op: Box::new(move || {
                    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(j.as_bytes());
                    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&k).unwrap();
                    mac.update(b64.as_bytes());
                    std::hint::black_box(mac.finalize());
                    Box::pin(async {})
                }),
            });
        }
    }
}

/// tower-sessions doing the same three workloads on one of its stores, under `path`.
fn tower_subjects<S>(path: &str, store: S, subjects: &mut Vec<Subject>)
where
    S: tower_sessions::SessionStore + Clone,
{
    use tower_sessions::Session as TSession;
    let store = Arc::new(store);
    let s1 = store.clone();
    subjects.push(Subject {
        path: format!("{path}/create"),
        who: "tower",
        op: Box::new(move || {
            let store = s1.clone();
            Box::pin(async move {
                let s = TSession::new(None, store, Some(tower_expiry()));
                for (k, v) in small_map() {
                    s.insert(&k, v.as_str()).await.unwrap();
                }
                s.save().await.unwrap();
            })
        }),
    });
    // The same data as ours: 5 small keys.
    let id = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(async {
            let s = TSession::new(None, store.clone(), Some(tower_expiry()));
            for (k, v) in small_map() {
                s.insert(&k, v.as_str()).await.unwrap();
            }
            s.save().await.unwrap();
            s.id().unwrap()
        })
    });
    let s2 = store.clone();
    subjects.push(Subject {
        path: format!("{path}/load"),
        who: "tower",
        op: Box::new(move || {
            let store = s2.clone();
            Box::pin(async move {
                let s = TSession::new(Some(id), store, Some(tower_expiry()));
                assert!(s.get::<String>("a").await.unwrap().is_some());
            })
        }),
    });
    subjects.push(Subject {
        path: format!("{path}/cycle"),
        who: "tower",
        op: Box::new(move || {
            let store = store.clone();
            Box::pin(async move {
                let s = TSession::new(Some(id), store, Some(tower_expiry()));
                let n: i64 = s.get("n").await.unwrap().unwrap_or(0);
                s.insert("n", n + 1).await.unwrap();
                s.save().await.unwrap();
            })
        }),
    });
}

/// The file floor: the fewest system calls that do each workload on a file of the same
/// encoded session, straight from the thread (no `spawn_blocking`), durability as Django's
/// (no fsync): create = `open(O_CREAT|O_EXCL)` + `write`; load = `read`; cycle = `read` +
/// `write` of a temporary file + `rename`.
fn file_floor(
    root: &std::path::Path,
    settings: &session_core::Settings,
    subjects: &mut Vec<Subject>,
) {
    use std::io::Write as _;
    let dir = root.join("floor");
    std::fs::create_dir_all(&dir).unwrap();
    let content = settings
        .session_signer()
        .sign_map(&small_map(), chrono::Utc::now());
    let (d1, c1) = (dir.clone(), content.clone());
    subjects.push(Subject {
        path: "file/create".into(),
        who: "floor",
        op: Box::new(move || {
            let path = d1.join(format!("sessionid{}", generate_key()));
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .unwrap();
            f.write_all(c1.as_bytes()).unwrap();
            Box::pin(async {})
        }),
    });
    let target = dir.join(format!("sessionid{}", generate_key()));
    std::fs::write(&target, &content).unwrap();
    let t1 = target.clone();
    subjects.push(Subject {
        path: "file/load".into(),
        who: "floor",
        op: Box::new(move || {
            std::hint::black_box(std::fs::read(&t1).unwrap());
            Box::pin(async {})
        }),
    });
    subjects.push(Subject {
        path: "file/cycle".into(),
        who: "floor",
        op: Box::new(move || {
            let data = std::fs::read(&target).unwrap();
            let tmp = dir.join(format!("tmp{}", &generate_key()[..12]));
            std::fs::write(&tmp, data).unwrap();
            std::fs::rename(&tmp, &target).unwrap();
            Box::pin(async {})
        }),
    });
}

async fn redis_subjects(url: &str, subjects: &mut Vec<Subject>) -> Option<()> {
    let client = redis::Client::open(url).ok()?;
    let conn = client.get_multiplexed_async_connection().await.ok()?;
    let prefix = format!("bench{}", &generate_key()[..6]);
    leave_prefix(&prefix);
    let cache = session_cache::Cache::connect(url, &prefix, 1).await.ok()?;
    let store: Arc<DynSessionStore> = Arc::new(session_cache::CacheStore::new(
        cache,
        session_cache::ValueFormat::Pickle,
    ));
    session_ops("redis", store, SessionConfig::default(), subjects);
    // tower-sessions' Redis store (fred, one pipelining client) on the same server.
    {
        use tower_sessions_redis_store::fred::prelude::{ClientLike, Config};
        let config = Config::from_url(url).ok()?;
        let client =
            tower_sessions_redis_store::fred::prelude::Client::new(config, None, None, None);
        // The connection task runs by itself; its handle is not needed.
        drop(client.connect());
        client.wait_for_connect().await.ok()?;
        tower_subjects(
            "redis",
            tower_sessions_redis_store::RedisStore::new(client),
            subjects,
        );
    }
    // The floor: the same commands on one raw connection (create = SET NX EX of a value of
    // the same size; cycle = GET + SET XX EX).
    let value = session_cache::ValueFormat::Pickle.encode(&small_map());
    let (c1, v1, p1) = (conn.clone(), value.clone(), prefix.clone());
    subjects.push(Subject {
        path: "redis/create".into(),
        who: "floor",
        op: Box::new(move || {
            let (mut c, v, key) = (
                c1.clone(),
                v1.clone(),
                format!("{p1}:raw{}", generate_key()),
            );
            Box::pin(async move {
                let _: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(&v)
                    .arg("NX")
                    .arg("EX")
                    .arg(1_209_600)
                    .query_async(&mut c)
                    .await
                    .unwrap();
            })
        }),
    });
    let raw_key = format!("{prefix}:rawcycle");
    let mut c0 = conn.clone();
    let _: () = redis::cmd("SET")
        .arg(&raw_key)
        .arg(&value)
        .query_async(&mut c0)
        .await
        .ok()?;
    subjects.push(Subject {
        path: "redis/cycle".into(),
        who: "floor",
        op: Box::new(move || {
            let (mut c, key) = (conn.clone(), raw_key.clone());
            Box::pin(async move {
                let v: Vec<u8> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                let _: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(v)
                    .arg("XX")
                    .arg("EX")
                    .arg(1_209_600)
                    .query_async(&mut c)
                    .await
                    .unwrap();
            })
        }),
    });
    Some(())
}

async fn postgres_subjects(url: &str, subjects: &mut Vec<Subject>) -> Option<()> {
    let settings = session_core::Settings::new("bench-secret-key").ok()?;
    let options = session_db::DbOptions {
        table: format!("bench_{}", &generate_key()[..8]),
        ..session_db::DbOptions::default()
    };
    leave_table(&options.table);
    let table = options.table.clone();
    let db = session_db::DbStore::connect_with(
        url,
        settings.session_signer(),
        Arc::new(session_core::SystemClock),
        options,
    )
    .await
    .ok()?;
    db.ensure_schema().await.ok()?;
    let store: Arc<DynSessionStore> = Arc::new(db);
    session_ops(
        "postgres",
        store.clone(),
        SessionConfig::default(),
        subjects,
    );
    // The floor: SELECT + UPDATE of the same row on the raw pool.
    let pool = sqlx::PgPool::connect(url).await.ok()?;
    let key = seeded(&store, &SessionConfig::default());
    let select = format!(
        "SELECT session_data FROM \"{table}\" WHERE session_key = $1 AND expire_date > now()"
    );
    let update = format!(
        "UPDATE \"{table}\" SET session_data = $1, expire_date = now() + interval '14 days' WHERE session_key = $2"
    );
    subjects.push(Subject {
        path: "postgres/cycle".into(),
        who: "floor",
        op: Box::new(move || {
            let (pool, key, select, update) =
                (pool.clone(), key.clone(), select.clone(), update.clone());
            Box::pin(async move {
                let data: String = sqlx::query_scalar(&select)
                    .bind(&key)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                sqlx::query(&update)
                    .bind(data)
                    .bind(&key)
                    .execute(&pool)
                    .await
                    .unwrap();
            })
        }),
    });
    Some(())
}

/// Runs `bench/django_bench.py` for `secs` per path; its JSON lines as stats.
fn django(
    paths: &[&str],
    secs: f64,
    redis: Option<&str>,
    postgres: Option<&str>,
) -> BTreeMap<String, Stats> {
    let python =
        std::env::var("DJANGO_PYTHON").unwrap_or_else(|_| ".venv-django/bin/python".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/django_bench.py");
    let config =
        serde_json::json!({"paths": paths, "secs": secs, "redis": redis, "postgres": postgres});
    let mut found = BTreeMap::new();
    if paths.is_empty() {
        return found;
    }
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(config.to_string())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let lat: Vec<f64> = v["lat_us"]
                    .as_array()
                    .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
                    .unwrap_or_default();
                found.insert(
                    v["path"].as_str().unwrap_or_default().to_owned(),
                    Stats {
                        ops: v["ops"].as_u64().unwrap_or(0),
                        secs: v["secs"].as_f64().unwrap_or(0.0),
                        lat_us: lat,
                    },
                );
            }
        }
        Ok(o) => eprintln!(
            "django: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ),
        Err(e) => {
            eprintln!("django: cannot run {python}: {e} (scripts/django-venv.sh makes the venv)")
        }
    }
    found
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let text = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(which) = text("--sweep") {
        let secs = value("--secs").unwrap_or(1.0);
        let scale_max = value("--scale-max").map_or(1_000_000, |v| v as usize);
        let servers = sweeps::Servers {
            redis: Some(
                std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into()),
            ),
            postgres: Some(std::env::var("POSTGRES_URL").unwrap_or_else(|_| {
                "postgres://postgres:postgres@127.0.0.1:5432/sessions_test".into()
            })),
        };
        sweeps::run(&which, &servers, secs, scale_max).await;
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(clean_up(
                servers.redis.as_deref(),
                servers.postgres.as_deref(),
            ))
        });
        return;
    }
    let rounds = value("--rounds").map_or(if quick { 1 } else { 3 }, |r| r as usize);
    let secs = value("--secs").unwrap_or(if quick { 0.2 } else { 1.0 });

    let mut subjects = Vec::new();
    codec_subjects(&mut subjects);
    let memory =
        session_cache::Cache::in_process(session_cache::MemoryBound::Entries(1_000_000), "", 1);
    session_ops(
        "inproc",
        Arc::new(session_cache::CacheStore::new(
            memory,
            session_cache::ValueFormat::Pickle,
        )),
        SessionConfig::default(),
        &mut subjects,
    );
    tower_subjects(
        "inproc",
        tower_sessions_moka_store::MokaStore::new(Some(1_000_000)),
        &mut subjects,
    );
    // Unbounded maps, no eviction: the reference MemoryStore beside tower's MemoryStore.
    session_ops(
        "hashmap",
        Arc::new(session_core::memory::MemoryStore::default()),
        SessionConfig::default(),
        &mut subjects,
    );
    tower_subjects(
        "hashmap",
        tower_sessions::MemoryStore::default(),
        &mut subjects,
    );
    let settings = session_core::Settings::new("bench-secret-key").unwrap();
    session_ops(
        "signed",
        Arc::new(session_cookie_signed::SignedCookieStore::from_settings(
            &settings,
        )),
        SessionConfig::default(),
        &mut subjects,
    );
    let dir = tempfile::tempdir().unwrap();
    for (label, durable) in [("file", false), ("file-fsync", true)] {
        let d = dir.path().join(label);
        std::fs::create_dir_all(&d).unwrap();
        let store = session_file::FileStore::new(
            &d,
            "sessionid",
            settings.session_signer(),
            session_core::ExpiryPolicy::default(),
            Arc::new(session_core::SystemClock),
        )
        .unwrap()
        .with_durability(durable);
        session_ops(
            label,
            Arc::new(store),
            SessionConfig::default(),
            &mut subjects,
        );
    }
    file_floor(dir.path(), &settings, &mut subjects);
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let redis = redis_subjects(&redis, &mut subjects).await.map(|()| redis);
    let pg = std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/sessions_test".into());
    let pg = postgres_subjects(&pg, &mut subjects).await.map(|()| pg);

    // `--only PREFIX`: just the paths starting with it (for profiling one path).
    if let Some(only) = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
    {
        subjects.retain(|s| s.path.starts_with(only.as_str()));
    }
    // `--who ours|floor|tower|django`: just that subject (for profiling one side).
    let who = args
        .iter()
        .position(|a| a == "--who")
        .and_then(|i| args.get(i + 1))
        .cloned();
    if let Some(who) = &who {
        subjects.retain(|s| s.who == who.as_str());
    }
    let mut paths: Vec<String> = subjects.iter().map(|s| s.path.clone()).collect();
    paths.sort();
    paths.dedup();
    let mut stats: BTreeMap<(String, &'static str), Stats> = BTreeMap::new();
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        for s in &mut subjects {
            let entry = stats.entry((s.path.clone(), s.who)).or_default();
            measure(&mut s.op, secs, entry).await;
        }
        let names: Vec<&str> = paths.iter().map(String::as_str).collect();
        let names = if who.as_deref().is_none_or(|w| w == "django") {
            names
        } else {
            Vec::new()
        };
        for (path, st) in django(&names, secs, redis.as_deref(), pg.as_deref()) {
            let e = stats.entry((path, "django")).or_default();
            e.ops += st.ops;
            e.secs += st.secs;
            e.lat_us.extend(st.lat_us);
        }
    }
    report(&paths, &stats);
    clean_up(redis.as_deref(), pg.as_deref()).await;
}

fn report(paths: &[String], stats: &BTreeMap<(String, &'static str), Stats>) {
    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench");
    std::fs::create_dir_all(out_dir).unwrap();
    let mut jsonl = String::new();
    println!(
        "| path | who | ops/s | p50 µs | p99 µs | ours ÷ floor | ours ÷ tower | ours ÷ django |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for path in paths {
        let ours = stats.get(&(path.clone(), "ours")).map(Stats::rate);
        for who in ["ours", "floor", "tower", "django"] {
            let Some(st) = stats.get(&(path.clone(), who)) else {
                continue;
            };
            let ratio = |peer: &str| match (ours, stats.get(&(path.clone(), peer)).map(Stats::rate))
            {
                (Some(o), Some(p)) if who == "ours" && p > 0.0 => format!("{:.2}×", o / p),
                _ => String::new(),
            };
            println!(
                "| {path} | {who} | {:.0} | {:.1} | {:.1} | {} | {} | {} |",
                st.rate(),
                st.pct(0.5),
                st.pct(0.99),
                ratio("floor"),
                ratio("tower"),
                ratio("django")
            );
            jsonl.push_str(&serde_json::json!({"path": path, "who": who, "ops_per_s": st.rate(), "p50_us": st.pct(0.5), "p99_us": st.pct(0.99), "ops": st.ops}).to_string());
            jsonl.push('\n');
        }
    }
    std::fs::write(format!("{out_dir}/results.jsonl"), jsonl).unwrap();
}
