//! Beyond the side-by-side table (`--sweep concurrency|size|scale|roundtrips|all`):
//! throughput against concurrent tasks, cost against session size, load latency against the
//! number of stored sessions, and round trips per operation counted by the servers.
//! Printed as tables, written as JSON lines (`target/bench/sweeps.jsonl`) and, for the first
//! two, as SVG plots (`target/bench/*.svg`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use plotters::prelude::*;
use session_core::key::generate_key;
use session_core::{DynSessionStore, Map, Record, Session, SessionConfig, SessionStore, Value};

use crate::{Op, Stats, measure, small_map};

/// Makes one task's operation, with its own session (seeded when made).
type Make = Box<dyn Fn() -> Op + Send + Sync>;

/// One line of a sweep: what, who, and how to make an operation.
struct Target {
    path: String,
    who: &'static str,
    make: Make,
}

/// The servers the sweeps use (`None`: skipped).
pub(crate) struct Servers {
    pub(crate) redis: Option<String>,
    pub(crate) postgres: Option<String>,
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// A saved session holding `data`; its key.
async fn seed(store: &Arc<DynSessionStore>, data: &Map) -> String {
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    for (k, v) in data {
        s.insert_value(k, v.clone()).await.unwrap();
    }
    s.save(false).await.unwrap();
    s.session_key().unwrap().to_owned()
}

/// Open, increment, save — each task on its own session holding `data`.
fn ours_cycle(store: Arc<DynSessionStore>, data: Map) -> Make {
    Box::new(move || {
        let key = block(seed(&store, &data));
        let store = store.clone();
        let slot = Arc::new(std::sync::Mutex::new(key));
        Box::new(move || {
            let (store, slot) = (store.clone(), slot.clone());
            Box::pin(async move {
                let key = slot.lock().unwrap().clone();
                let mut s = Session::new(store, SessionConfig::default(), Some(&key));
                let n = s.get::<i64>("n").await.unwrap().unwrap_or(0);
                s.insert("n", &(n + 1)).await.unwrap();
                s.save(false).await.unwrap();
                *slot.lock().unwrap() = s.session_key().unwrap().to_owned();
            })
        })
    })
}

/// Open and read one key.
fn ours_load(store: Arc<DynSessionStore>, data: Map) -> Make {
    Box::new(move || {
        let key = block(seed(&store, &data));
        let store = store.clone();
        Box::new(move || {
            let (store, key) = (store.clone(), key.clone());
            Box::pin(async move {
                let mut s = Session::new(store, SessionConfig::default(), Some(&key));
                assert!(s.contains("n").await.unwrap());
            })
        })
    })
}

/// tower-sessions' cycle on one of its stores, each task on its own session.
fn tower_cycle<S: tower_sessions::SessionStore + Clone>(store: S) -> Make {
    use tower_sessions::Session as TSession;
    let store = Arc::new(store);
    Box::new(move || {
        let store = store.clone();
        let id = block(async {
            let s = TSession::new(None, store.clone(), Some(crate::tower_expiry()));
            for (k, v) in small_map() {
                s.insert(&k, v.as_str()).await.unwrap();
            }
            s.save().await.unwrap();
            s.id().unwrap()
        });
        Box::new(move || {
            let store = store.clone();
            Box::pin(async move {
                let s = TSession::new(Some(id), store, Some(crate::tower_expiry()));
                let n: i64 = s.get("n").await.unwrap().unwrap_or(0);
                s.insert("n", n + 1).await.unwrap();
                s.save().await.unwrap();
            })
        })
    })
}

/// The raw client's GET + SET XX EX on its own key, per task.
fn redis_floor_cycle(conn: redis::aio::MultiplexedConnection, prefix: String) -> Make {
    let value = session_cache::ValueFormat::Pickle.encode(&small_map());
    Box::new(move || {
        let key = format!("{prefix}:raw{}", generate_key());
        let mut c = conn.clone();
        let _: () = block(redis::cmd("SET").arg(&key).arg(&value).query_async(&mut c)).unwrap();
        let conn = conn.clone();
        Box::new(move || {
            let (mut c, key) = (conn.clone(), key.clone());
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
        })
    })
}

/// The raw pool's SELECT + UPDATE of its own row (seeded by our store in the same table).
fn sql_floor_cycle<DB>(pool: sqlx::Pool<DB>, store: Arc<DynSessionStore>, table: &str) -> Make
where
    DB: sqlx::Database,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    String: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB> + for<'q> sqlx::Encode<'q, DB>,
    for<'r> &'r str: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
    usize: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
{
    let pg = DB::NAME == "PostgreSQL";
    let (p1, p2) = if pg { ("$1", "$2") } else { ("?", "?") };
    let select = format!("SELECT session_data FROM \"{table}\" WHERE session_key = {p1}");
    let update = format!(
        "UPDATE \"{table}\" SET session_data = {p1}, expire_date = expire_date WHERE session_key = {p2}"
    );
    Box::new(move || {
        let key = block(seed(&store, &small_map()));
        let (pool, select, update) = (pool.clone(), select.clone(), update.clone());
        Box::new(move || {
            let (pool, key, select, update) =
                (pool.clone(), key.clone(), select.clone(), update.clone());
            Box::pin(async move {
                let row = sqlx::query(&select)
                    .bind(key.clone())
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                let data: String = sqlx::Row::get(&row, 0usize);
                sqlx::query(&update)
                    .bind(data)
                    .bind(key)
                    .execute(&pool)
                    .await
                    .unwrap();
            })
        })
    })
}

async fn db_store(
    url: &str,
    max_connections: Option<u32>,
) -> Option<(session_db::DbStore, String)> {
    let settings = session_core::Settings::new("bench-secret-key").ok()?;
    let table = format!("bench_{}", &generate_key()[..8]);
    crate::leave_table(&table);
    let url = match max_connections {
        Some(n) if url.starts_with("postgres") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}max_connections={n}")
        }
        _ => url.to_owned(),
    };
    let db = session_db::DbStore::connect_with(
        &url,
        settings.session_signer(),
        Arc::new(session_core::SystemClock),
        session_db::DbOptions {
            table: table.clone(),
            ..session_db::DbOptions::default()
        },
    )
    .await
    .ok()?;
    db.ensure_schema().await.ok()?;
    Some((db, table))
}

fn memory_store() -> Arc<DynSessionStore> {
    Arc::new(session_cache::CacheStore::new(
        session_cache::Cache::in_process(session_cache::MemoryBound::Entries(2_000_000), "", 1),
        session_cache::ValueFormat::Pickle,
    ))
}

async fn redis_store(url: &str) -> Option<session_cache::CacheStore> {
    let prefix = format!("sw{}", &generate_key()[..6]);
    crate::leave_prefix(&prefix);
    let cache = session_cache::Cache::connect(url, &prefix, 1).await.ok()?;
    Some(session_cache::CacheStore::new(
        cache,
        session_cache::ValueFormat::Pickle,
    ))
}

/// A session of about `bytes` bytes of JSON: one string of random lowercase letters (zlib
/// keeps ~60 % of it) and a counter.
fn sized(bytes: usize) -> Map {
    let mut seed = 0x2545_f491_u32;
    let blob: String = (0..bytes.saturating_sub(20))
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            char::from(b'a' + (seed % 26) as u8)
        })
        .collect();
    let mut m = Map::new();
    m.insert("blob".into(), blob.into());
    m.insert("n".into(), 0.into());
    m
}

/// Ops per second with `tasks` tasks, each running its own operation for `secs`.
async fn throughput(make: &Make, tasks: usize, secs: f64) -> f64 {
    let ops: Vec<Op> = (0..tasks).map(|_| make()).collect();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let handles: Vec<_> = ops
        .into_iter()
        .map(|mut op| {
            tokio::spawn(async move {
                for _ in 0..5 {
                    op().await;
                }
                let mut n = 0u64;
                while Instant::now() < deadline {
                    op().await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

struct Out {
    lines: String,
}

impl Out {
    fn record(&mut self, sweep: &str, fields: serde_json::Value) {
        let mut v = fields;
        v["sweep"] = sweep.into();
        self.lines.push_str(&v.to_string());
        self.lines.push('\n');
    }
}

const LEVELS: [usize; 3] = [1, 8, 64];

async fn concurrency(servers: &Servers, secs: f64, out: &mut Out) {
    let mut targets: Vec<Target> = vec![
        Target {
            path: "inproc/cycle".into(),
            who: "ours",
            make: ours_cycle(memory_store(), small_map()),
        },
        Target {
            path: "inproc/cycle".into(),
            who: "tower",
            make: tower_cycle(tower_sessions_moka_store::MokaStore::new(Some(1_000_000))),
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("sweep.sqlite3").display());
    if let Some((db, table)) = db_store(&sqlite, None).await {
        let store: Arc<DynSessionStore> = Arc::new(db);
        targets.push(Target {
            path: "sqlite/cycle".into(),
            who: "ours",
            make: ours_cycle(store.clone(), small_map()),
        });
        let pool = sqlx::SqlitePool::connect(&sqlite).await.unwrap();
        targets.push(Target {
            path: "sqlite/cycle".into(),
            who: "floor",
            make: sql_floor_cycle(pool, store, &table),
        });
    }
    if let Some(url) = &servers.redis {
        if let Some(store) = redis_store(url).await {
            targets.push(Target {
                path: "redis/cycle".into(),
                who: "ours",
                make: ours_cycle(Arc::new(store), small_map()),
            });
            let conn = redis::Client::open(url.as_str())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            {
                use tower_sessions_redis_store::fred::prelude::{Client, ClientLike, Config};
                let client = Client::new(Config::from_url(url).unwrap(), None, None, None);
                // The connection task runs by itself; its handle is not needed.
                drop(client.connect());
                client.wait_for_connect().await.unwrap();
                targets.push(Target {
                    path: "redis/cycle".into(),
                    who: "tower",
                    make: tower_cycle(tower_sessions_redis_store::RedisStore::new(client)),
                });
            }
            targets.push(Target {
                path: "redis/cycle".into(),
                who: "floor",
                make: redis_floor_cycle(conn, {
                    let prefix = format!("swf{}", &generate_key()[..6]);
                    crate::leave_prefix(&prefix);
                    prefix
                }),
            });
        }
    }
    if let Some(url) = &servers.postgres {
        if let Some((db, table)) = db_store(url, None).await {
            let store: Arc<DynSessionStore> = Arc::new(db.clone());
            targets.push(Target {
                path: "postgres/cycle".into(),
                who: "ours",
                make: ours_cycle(store.clone(), small_map()),
            });
            // The same pool size as ours (sqlx's default, 10).
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .connect(url)
                .await
                .unwrap();
            targets.push(Target {
                path: "postgres/cycle".into(),
                who: "floor",
                make: sql_floor_cycle(pool, store, &table),
            });
            if let Some(redis) = &servers.redis {
                if let Ok(cache) = session_cache::Cache::connect(
                    redis,
                    &{
                        let prefix = format!("swc{}", &generate_key()[..6]);
                        crate::leave_prefix(&prefix);
                        prefix
                    },
                    1,
                )
                .await
                {
                    let cached: Arc<DynSessionStore> =
                        Arc::new(session_cached_db::CachedDbStore::new(
                            db,
                            cache,
                            session_cache::ValueFormat::Pickle,
                            None,
                        ));
                    targets.push(Target {
                        path: "cached_db/cycle".into(),
                        who: "ours",
                        make: ours_cycle(cached, small_map()),
                    });
                }
            }
        }
    }
    // `SWEEP_ONLY="redis/cycle ours"`: one line (for profiling it).
    if let Ok(only) = std::env::var("SWEEP_ONLY") {
        targets.retain(|t| format!("{} {}", t.path, t.who).starts_with(only.as_str()));
    }
    println!("\n### Throughput (cycles/s) against concurrent tasks\n");
    println!("| path | who | 1 task | 8 tasks | 64 tasks | ours ÷ floor at 64 |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut results: BTreeMap<(String, &str), Vec<f64>> = BTreeMap::new();
    for t in &targets {
        let mut rates = Vec::new();
        for tasks in LEVELS {
            let rate = throughput(&t.make, tasks, secs).await;
            out.record(
                "concurrency",
                serde_json::json!({"path": t.path, "who": t.who, "tasks": tasks, "ops_per_s": rate}),
            );
            rates.push(rate);
        }
        results.insert((t.path.clone(), t.who), rates);
    }
    for ((path, who), rates) in &results {
        let ratio = match results.get(&(path.clone(), "floor")) {
            Some(floor) if *who == "ours" => format!("{:.2}×", rates[2] / floor[2]),
            _ => String::new(),
        };
        println!(
            "| {path} | {who} | {:.0} | {:.0} | {:.0} | {ratio} |",
            rates[0], rates[1], rates[2]
        );
    }
    let series: Vec<(String, Vec<(f64, f64)>)> = results
        .iter()
        .map(|((path, who), rates)| {
            (
                format!("{path} {who}"),
                LEVELS
                    .iter()
                    .zip(rates)
                    .map(|(t, r)| (*t as f64, *r))
                    .collect(),
            )
        })
        .collect();
    plot(
        "concurrency.svg",
        "cycle throughput against concurrent tasks (log-log)",
        "concurrent tasks",
        "cycles / s",
        &series,
    );
}

const SIZES: [usize; 5] = [200, 2_000, 20_000, 200_000, 1_000_000];

async fn size(servers: &Servers, secs: f64, out: &mut Out) {
    let dir = tempfile::tempdir().unwrap();
    let settings = session_core::Settings::new("bench-secret-key").unwrap();
    let file: Arc<DynSessionStore> = Arc::new(
        session_file::FileStore::new(
            dir.path(),
            "sessionid",
            settings.session_signer(),
            session_core::ExpiryPolicy::default(),
            Arc::new(session_core::SystemClock),
        )
        .unwrap()
        .with_durability(false),
    );
    let mut stores: Vec<(&str, Arc<DynSessionStore>)> =
        vec![("inproc", memory_store()), ("file", file)];
    if let Some(url) = &servers.redis {
        if let Some(store) = redis_store(url).await {
            stores.push(("redis", Arc::new(store)));
        }
    }
    if let Some(url) = &servers.postgres {
        if let Some((db, _)) = db_store(url, None).await {
            stores.push(("postgres", Arc::new(db)));
        }
    }
    println!("\n### Cost against session size (p50 µs of a cycle; load in brackets)\n");
    let header: Vec<String> = SIZES.iter().map(|s| human(*s)).collect();
    println!("| engine | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(SIZES.len()));
    let mut series = Vec::new();
    for (name, store) in &stores {
        let mut cells = Vec::new();
        let mut points = Vec::new();
        for bytes in SIZES {
            let data = sized(bytes);
            let mut cycle = ours_cycle(store.clone(), data.clone())();
            let mut load = ours_load(store.clone(), data)();
            let (mut c, mut l) = (Stats::default(), Stats::default());
            measure(&mut cycle, secs, &mut c).await;
            measure(&mut load, secs, &mut l).await;
            out.record(
                "size",
                serde_json::json!({"engine": name, "bytes": bytes, "cycle_p50_us": c.pct(0.5), "load_p50_us": l.pct(0.5), "cycle_ops_per_s": c.rate()}),
            );
            cells.push(format!("{:.0} ({:.0})", c.pct(0.5), l.pct(0.5)));
            points.push((bytes as f64, c.pct(0.5)));
        }
        println!("| {name} | {} |", cells.join(" | "));
        series.push((format!("{name} cycle"), points));
    }
    // The codec alone: what every engine but the in-process one pays on top of its I/O.
    let signer = settings.session_signer();
    let at = chrono::Utc::now();
    let mut cells = Vec::new();
    let mut points = Vec::new();
    for bytes in SIZES {
        let data = sized(bytes);
        let encoded = signer.sign_map(&data, at);
        let (sg, e) = (signer.clone(), encoded);
        let mut op: Op = Box::new(move || {
            std::hint::black_box(sg.unsign_map(&e, None, at).unwrap());
            Box::pin(async {})
        });
        let mut st = Stats::default();
        measure(&mut op, secs, &mut st).await;
        let (sg, d) = (signer.clone(), data);
        let mut enc: Op = Box::new(move || {
            std::hint::black_box(sg.sign_map(&d, at));
            Box::pin(async {})
        });
        let mut se = Stats::default();
        measure(&mut enc, secs, &mut se).await;
        out.record(
            "size",
            serde_json::json!({"engine": "codec", "bytes": bytes, "encode_p50_us": se.pct(0.5), "decode_p50_us": st.pct(0.5)}),
        );
        cells.push(format!("{:.0} ({:.0})", se.pct(0.5), st.pct(0.5)));
        points.push((bytes as f64, se.pct(0.5) + st.pct(0.5)));
    }
    println!("| codec: encode (decode) | {} |", cells.join(" | "));
    series.push(("codec encode+decode".into(), points));
    plot(
        "size.svg",
        "p50 latency against session size (log-log)",
        "session size (bytes of JSON)",
        "µs",
        &series,
    );
}

fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{} MB", b / 1_000_000),
        b if b >= 1_000 => format!("{} KB", b / 1_000),
        b => format!("{b} B"),
    }
}

/// Key number `i` of a filled store: 32 characters of `[a-z0-9]`, as generated keys are.
fn filled_key(i: usize) -> String {
    format!("k{i:031}")
}

/// Adds sessions `from..to` (the same small data under every key) as fast as the engine
/// allows: straight through the store for the in-process cache, bulk writes on the servers.
async fn fill(name: &str, store: &Arc<DynSessionStore>, raw: &Raw, from: usize, to: usize) {
    let data = Arc::new(small_map());
    let (expires_at, max_age) = SessionConfig::default().expiry_for_save(&data);
    match raw {
        Raw::None => {
            for i in from..to {
                let key = filled_key(i);
                store
                    .create(&Record {
                        key: &key,
                        data: &data,
                        expires_at,
                        max_age,
                    })
                    .await
                    .unwrap();
            }
        }
        Raw::Redis(conn, cache) => {
            let value = session_cache::ValueFormat::Pickle.encode(&data);
            let mut c = conn.clone();
            for chunk in (from..to).collect::<Vec<_>>().chunks(10_000) {
                let mut pipe = redis::pipe();
                for i in chunk {
                    pipe.cmd("SET")
                        .arg(cache.cache_key(&filled_key(*i)))
                        .arg(&value)
                        .arg("EX")
                        .arg(3_600)
                        .ignore();
                }
                let _: () = pipe.query_async(&mut c).await.unwrap();
            }
        }
        Raw::Postgres(pool, table) => {
            let settings = session_core::Settings::new("bench-secret-key").unwrap();
            let encoded = settings
                .session_signer()
                .sign_map(&data, chrono::Utc::now());
            sqlx::query(&format!(
                "INSERT INTO \"{table}\" (session_key, session_data, expire_date) \
                 SELECT 'k' || lpad(i::text, 31, '0'), $1, now() + interval '1 hour' \
                 FROM generate_series($2::bigint, $3::bigint) AS i"
            ))
            .bind(encoded)
            .bind(from as i64)
            .bind(to as i64 - 1)
            .execute(pool)
            .await
            .unwrap();
            sqlx::query(&format!("ANALYZE \"{table}\""))
                .execute(pool)
                .await
                .unwrap();
        }
    }
    let _ = name;
}

enum Raw {
    None,
    Redis(redis::aio::MultiplexedConnection, session_cache::CacheStore),
    Postgres(sqlx::PgPool, String),
}

async fn scale(servers: &Servers, secs: f64, max: usize, out: &mut Out) {
    let mut engines: Vec<(&str, Arc<DynSessionStore>, Raw)> =
        vec![("inproc", memory_store(), Raw::None)];
    if let Some(url) = &servers.redis {
        if let Some(store) = redis_store(url).await {
            let conn = redis::Client::open(url.as_str())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            engines.push(("redis", Arc::new(store.clone()), Raw::Redis(conn, store)));
        }
    }
    if let Some(url) = &servers.postgres {
        if let Some((db, table)) = db_store(url, None).await {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            engines.push(("postgres", Arc::new(db), Raw::Postgres(pool, table)));
        }
    }
    let mut levels = vec![10_000];
    while *levels.last().unwrap() * 10 <= max {
        levels.push(levels.last().unwrap() * 10);
    }
    println!("\n### Load latency against stored sessions (p50 / p99 µs, random keys)\n");
    let header: Vec<String> = levels.iter().map(|n| format!("{n}")).collect();
    println!("| engine | {} | p50 spread |", header.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(levels.len()));
    for (name, store, raw) in &engines {
        let mut filled = 0;
        let mut cells = Vec::new();
        let mut p50s = Vec::new();
        for &n in &levels {
            fill(name, store, raw, filled, n).await;
            filled = n;
            let store2 = store.clone();
            let mut seed = 0x1234_5678_u64;
            let mut op: Op = Box::new(move || {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let key = filled_key((seed >> 33) as usize % n);
                let store = store2.clone();
                Box::pin(async move {
                    let mut s = Session::new(store, SessionConfig::default(), Some(&key));
                    assert!(s.contains("a").await.unwrap(), "a filled session loads");
                })
            });
            let mut st = Stats::default();
            measure(&mut op, secs, &mut st).await;
            out.record(
                "scale",
                serde_json::json!({"engine": name, "stored": n, "load_p50_us": st.pct(0.5), "load_p99_us": st.pct(0.99), "ops_per_s": st.rate()}),
            );
            cells.push(format!("{:.1} / {:.1}", st.pct(0.5), st.pct(0.99)));
            p50s.push(st.pct(0.5));
        }
        let lo = p50s.iter().copied().fold(f64::MAX, f64::min);
        let hi = p50s.iter().copied().fold(0.0, f64::max);
        println!(
            "| {name} | {} | {:+.0} % |",
            cells.join(" | "),
            (hi / lo - 1.0) * 100.0
        );
    }
}

/// Commands the Redis server has run, by name (`INFO commandstats`; commands a Lua script
/// issues count under their own names too).
async fn redis_calls(conn: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split_once("calls=")?
                .1
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Commands per operation between two readings, without the `INFO` that took the second:
/// the total and a breakdown (`get 1 · evalsha 1 · set 1`).
fn per_op(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> (f64, String) {
    let mut total = 0.0;
    let mut parts = Vec::new();
    for (name, calls) in after {
        let mut delta = calls - before.get(name).copied().unwrap_or(0);
        if name == "info" {
            delta = delta.saturating_sub(1);
        }
        if delta > 0 {
            let per = delta as f64 / COUNTED as f64;
            total += per;
            parts.push(format!("{name} {per:.2}").replace(".00", ""));
        }
    }
    (total, parts.join(" · "))
}

/// Table activity PostgreSQL recorded (`pg_stat_user_tables`): index scans, rows written
/// (inserted + updated + deleted), and the database's transactions. Read after the
/// measured connections closed (a backend flushes its counters when it exits).
async fn pg_counts(pool: &sqlx::PgPool, table: &str) -> [i64; 3] {
    let mut c = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut *c)
        .await
        .unwrap();
    let row: (i64, i64, i64) = sqlx::query_as(
        "SELECT coalesce(t.idx_scan, 0) + coalesce(t.seq_scan, 0), \
                t.n_tup_ins + t.n_tup_upd + t.n_tup_del, \
                (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()) \
         FROM pg_stat_user_tables t WHERE t.relname = $1",
    )
    .bind(table)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    [row.0, row.1, row.2]
}

const COUNTED: usize = 200;

/// Counts what `op` costs the servers: seeds with one store, then runs `COUNTED` operations
/// through a second one over the same table (pool of one connection), closed before the
/// SQL counters are read.
async fn count_sql(
    admin: &sqlx::PgPool,
    pg: &str,
    table: &str,
    op: &str,
    seeded: Option<String>,
    wrap: &(dyn Fn(session_db::DbStore) -> Arc<DynSessionStore> + Sync),
    redis: Option<&mut redis::aio::MultiplexedConnection>,
) -> ([f64; 3], Option<(f64, String)>) {
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = pg_counts(admin, table).await;
    let mut redis = redis;
    let before_r = match redis.as_deref_mut() {
        Some(c) => Some(redis_calls(c).await),
        None => None,
    };
    let db = on_table(pg, table).await;
    let mut run = one_op(op, wrap(db.clone()), seeded);
    for _ in 0..COUNTED {
        run().await;
    }
    let per_r = match (redis, before_r) {
        (Some(c), Some(b)) => Some(per_op(&b, &redis_calls(c).await)),
        _ => None,
    };
    db.close().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = pg_counts(admin, table).await;
    let per = [0, 1, 2].map(|i| (after[i] - before[i]) as f64 / COUNTED as f64);
    (per, per_r)
}

async fn roundtrips(servers: &Servers, out: &mut Out) {
    println!(
        "\n### Round trips per operation, counted by the servers ({COUNTED} operations each)\n"
    );
    println!(
        "| engine | operation | Redis commands (incl. inside a Lua script) | SQL scans | SQL rows written | SQL transactions |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    let ops = ["create", "load", "cycle"];
    let mut conn = match &servers.redis {
        Some(url) => Some(
            redis::Client::open(url.as_str())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap(),
        ),
        None => None,
    };
    if let (Some(url), Some(conn)) = (&servers.redis, conn.as_mut()) {
        for op in ops {
            let Some(store) = redis_store(url).await else {
                return;
            };
            let mut run = one_op(op, Arc::new(store), None);
            let before = redis_calls(conn).await;
            for _ in 0..COUNTED {
                run().await;
            }
            let (per, parts) = per_op(&before, &redis_calls(conn).await);
            out.record(
                "roundtrips",
                serde_json::json!({"engine": "cache-redis", "op": op, "redis_commands": per, "by_command": parts}),
            );
            println!("| cache on Redis | {op} | {parts} | | | |");
        }
    }
    let Some(pg) = &servers.postgres else {
        return;
    };
    let admin = sqlx::PgPool::connect(pg).await.unwrap();
    let plain = |db: session_db::DbStore| -> Arc<DynSessionStore> { Arc::new(db) };
    for op in ops {
        let (db, table) = db_store(pg, Some(1)).await.unwrap();
        let seeded = block(seed(
            &(Arc::new(db.clone()) as Arc<DynSessionStore>),
            &with_n(small_map()),
        ));
        db.close().await;
        let (per, _) = count_sql(&admin, pg, &table, op, Some(seeded), &plain, None).await;
        out.record("roundtrips", serde_json::json!({"engine": "db-postgres", "op": op, "scans": per[0], "rows_written": per[1], "transactions": per[2]}));
        println!(
            "| db on PostgreSQL | {op} | | {:.2} | {:.2} | {:.2} |",
            per[0], per[1], per[2]
        );
    }
    // cached_db: a hit must not touch the database.
    if let (Some(redis), Some(conn)) = (&servers.redis, conn.as_mut()) {
        let cache = session_cache::Cache::connect(
            redis,
            &{
                let prefix = format!("rtc{}", &generate_key()[..6]);
                crate::leave_prefix(&prefix);
                prefix
            },
            1,
        )
        .await
        .unwrap();
        let cached = |db: session_db::DbStore| -> Arc<DynSessionStore> {
            Arc::new(session_cached_db::CachedDbStore::new(
                db,
                cache.clone(),
                session_cache::ValueFormat::Pickle,
                None,
            ))
        };
        for op in ops {
            let (db, table) = db_store(pg, Some(1)).await.unwrap();
            let seeded = block(seed(&cached(db.clone()), &with_n(small_map())));
            db.close().await;
            let (per, per_r) =
                count_sql(&admin, pg, &table, op, Some(seeded), &cached, Some(conn)).await;
            let (per_r, parts) = per_r.unwrap_or_default();
            out.record("roundtrips", serde_json::json!({"engine": "cached_db-postgres-redis", "op": op, "redis_commands": per_r, "by_command": parts, "scans": per[0], "rows_written": per[1], "transactions": per[2]}));
            println!(
                "| cached_db (PostgreSQL + Redis) | {op} | {parts} | {:.2} | {:.2} | {:.2} |",
                per[0], per[1], per[2]
            );
        }
    }
}

/// A fresh pool of one connection on an existing table.
async fn on_table(url: &str, table: &str) -> session_db::DbStore {
    let settings = session_core::Settings::new("bench-secret-key").unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    session_db::DbStore::connect_with(
        &format!("{url}{sep}max_connections=1"),
        settings.session_signer(),
        Arc::new(session_core::SystemClock),
        session_db::DbOptions {
            table: table.to_owned(),
            ..session_db::DbOptions::default()
        },
    )
    .await
    .unwrap()
}

/// The operation `op` (create, load, cycle) on `store`: on the session `seeded`, or on one
/// seeded now.
fn one_op(op: &str, store: Arc<DynSessionStore>, seeded: Option<String>) -> Op {
    if op == "create" {
        return Box::new(move || {
            let store = store.clone();
            Box::pin(async move {
                let mut s = Session::new(store, SessionConfig::default(), None);
                for (k, v) in small_map() {
                    s.insert_value(&k, v).await.unwrap();
                }
                s.save(false).await.unwrap();
            })
        });
    }
    let key = match seeded {
        Some(k) => k,
        None => block(seed(&store, &with_n(small_map()))),
    };
    let slot = Arc::new(std::sync::Mutex::new(key));
    let load = op == "load";
    Box::new(move || {
        let (store, slot) = (store.clone(), slot.clone());
        Box::pin(async move {
            let key = slot.lock().unwrap().clone();
            let mut s = Session::new(store, SessionConfig::default(), Some(&key));
            let n = s
                .get::<i64>("n")
                .await
                .unwrap()
                .expect("the seeded session loads");
            if !load {
                s.insert("n", &(n + 1)).await.unwrap();
                s.save(false).await.unwrap();
            }
        })
    })
}

fn with_n(mut m: Map) -> Map {
    m.insert("n".into(), Value::from(0));
    m
}

fn plot(
    file: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench");
    std::fs::create_dir_all(dir).unwrap();
    let path = format!("{dir}/{file}");
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, 0.0f64, f64::MAX, 0.0f64);
    for (_, pts) in series {
        for (x, y) in pts {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
            y0 = y0.min(*y);
            y1 = y1.max(*y);
        }
    }
    if series.is_empty() || x1 <= 0.0 || y1 <= 0.0 {
        return;
    }
    let root = SVGBackend::new(&path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).unwrap();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x0 * 0.8..x1 * 1.25).log_scale(),
            // Headroom above the highest line: the legend sits there.
            (y0.max(1e-3) * 0.5..y1 * 50.0).log_scale(),
        )
        .unwrap();
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .unwrap();
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .unwrap()
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .unwrap();
    root.present().unwrap();
    eprintln!("wrote {path}");
}

/// Runs the named sweeps (`all`: every one).
pub(crate) async fn run(which: &str, servers: &Servers, secs: f64, scale_max: usize) {
    let mut out = Out {
        lines: String::new(),
    };
    let all = which == "all";
    if all || which == "roundtrips" {
        roundtrips(servers, &mut out).await;
    }
    if all || which == "concurrency" {
        concurrency(servers, secs, &mut out).await;
    }
    if all || which == "size" {
        size(servers, secs, &mut out).await;
    }
    if all || which == "scale" {
        scale(servers, secs, scale_max, &mut out).await;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/sweeps.jsonl"), out.lines).unwrap();
}
