//! cached_db speed: a load that hits the cache, a load that misses (database read + refill),
//! and load + modify + save, beside the plain db engine's load on the same database.
//! SQLite + in-process memory always; PostgreSQL + Redis when both answer. Prints the database statements
//! each path sends (a hit sends none).
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use session_cache::{Cache, MemoryBound, ValueFormat};
use session_cached_db::CachedDbStore;
use session_core::{Session, SessionConfig, SessionStore, Settings, SystemClock};
use session_db::{DbOptions, DbStore};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::new("bench-secret").unwrap();
    let connect = |url: String| {
        let signer = settings.session_signer();
        async move {
            let db = DbStore::connect_with(
                &url,
                signer,
                Arc::new(SystemClock),
                DbOptions {
                    table: "bench_cached_db".into(),
                    ..DbOptions::default()
                },
            )
            .await
            .ok()?;
            db.ensure_schema().await.ok()?;
            Some(db)
        }
    };
    let mut targets = Vec::new();
    let sqlite = format!("sqlite://{}", dir.path().join("b.sqlite3").display());
    if let Some(db) = rt.block_on(connect(sqlite)) {
        let cache = Cache::in_process(MemoryBound::Entries(100_000), "bench", 1);
        targets.push(("sqlite-memory", db, cache));
    }
    let pg = std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/sessions_test".into());
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    match (
        rt.block_on(connect(pg)),
        rt.block_on(Cache::connect(&redis, "bench", 1)),
    ) {
        (Some(db), Ok(cache)) => targets.push(("postgres-redis", db, cache)),
        _ => eprintln!("skipping postgres-redis: a server did not answer"),
    }
    let config = SessionConfig::default();
    for (name, db, cache) in targets {
        let store = Arc::new(CachedDbStore::new(
            db.clone(),
            cache.clone(),
            ValueFormat::Pickle,
            None,
        ));
        let key = rt.block_on(async {
            let mut s = Session::new(store.clone(), config.clone(), None);
            s.insert_value("num_visits", 1).await.unwrap();
            s.save(false).await.unwrap();
            s.session_key().unwrap().to_owned()
        });
        let full = store.cache_key(&key);

        let before = db.statements();
        rt.block_on(store.load(&key)).unwrap().unwrap();
        let hit = db.statements() - before;
        rt.block_on(cache.delete(&full)).unwrap();
        let before = db.statements();
        rt.block_on(store.load(&key)).unwrap().unwrap();
        let miss = db.statements() - before;
        eprintln!("cached_db/{name}: database statements per load: hit {hit}, miss {miss}");

        let mut group = c.benchmark_group(format!("cached_db/{name}"));
        group.bench_function("load_hit", |b| {
            b.to_async(&rt).iter(|| async {
                let mut s = Session::new(store.clone(), config.clone(), Some(&key));
                s.get_value("num_visits").await.unwrap();
            })
        });
        group.bench_function("load_miss", |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (store, cache, full, key) =
                    (store.clone(), cache.clone(), full.clone(), key.clone());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        cache.delete(&full).await.unwrap();
                        let start = Instant::now();
                        store.load(&key).await.unwrap().unwrap();
                        total += start.elapsed();
                    }
                    total
                }
            })
        });
        group.bench_function("db_engine_load", |b| {
            b.to_async(&rt).iter(|| async {
                db.load(&key).await.unwrap().unwrap();
            })
        });
        group.bench_function("load_modify_save", |b| {
            b.to_async(&rt).iter(|| async {
                let mut s = Session::new(store.clone(), config.clone(), Some(&key));
                let n = s.get::<i64>("num_visits").await.unwrap().unwrap_or(0);
                s.insert_value("num_visits", n + 1).await.unwrap();
                s.save(false).await.unwrap();
            })
        });
        group.finish();
        rt.block_on(db.drop_table()).unwrap();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
