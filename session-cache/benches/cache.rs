//! Cache engine speed on Redis and in-process memory: create, load, load + modify + save, beside the floor —
//! a raw GET + SET of the same bytes on the same kind of connection.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use session_cache::{Cache, CacheStore, MemoryBound, ValueFormat};
use session_core::{Session, SessionConfig};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let mut targets = vec![(
        "memory",
        Cache::in_process(MemoryBound::Entries(100_000), "bench", 1),
    )];
    match rt.block_on(Cache::connect(&url, "bench", 1)) {
        Ok(redis) => targets.push(("redis", redis)),
        Err(e) => eprintln!("skipping redis: {e}"),
    }
    let config = SessionConfig::default();
    for (name, cache) in targets {
        let store = Arc::new(CacheStore::new(cache.clone(), ValueFormat::Pickle));
        let key = rt.block_on(async {
            let mut s = Session::new(store.clone(), config.clone(), None);
            s.insert_value("num_visits", 1).await.unwrap();
            s.save(false).await.unwrap();
            s.session_key().unwrap().to_owned()
        });
        let mut group = c.benchmark_group(format!("cache/{name}"));
        group.bench_function("load", |b| {
            b.to_async(&rt).iter(|| async {
                let mut s = Session::new(store.clone(), config.clone(), Some(&key));
                s.get_value("num_visits").await.unwrap();
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
        let full = store.cache_key(&key);
        let bytes = rt.block_on(cache.get(&full)).unwrap().unwrap();
        group.bench_function("floor_get_set", |b| {
            b.to_async(&rt).iter(|| async {
                let v = cache.get(&full).await.unwrap().unwrap_or_default();
                cache
                    .set(&full, if v.is_empty() { &bytes } else { &v }, 1_209_600)
                    .await
                    .unwrap();
            })
        });
        // Last: it fills a bounded cache, which may evict the session the others read.
        group.bench_function("create", |b| {
            b.to_async(&rt).iter(|| async {
                let mut s = Session::new(store.clone(), config.clone(), None);
                s.insert_value("num_visits", 1).await.unwrap();
                s.save(false).await.unwrap();
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
