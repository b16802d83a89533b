//! The shared conformance suite on moka, Redis and a Redis Cluster, a fresh key prefix per case.

use std::sync::Arc;

use session_cache::{Cache, CacheStore, MokaBound, ValueFormat};
use session_conformance::{Capabilities, Harness, service_url, unavailable};
use session_core::key::generate_key;
use session_core::{Clock, DynSessionStore};

const TTL_CACHE: Capabilities = Capabilities {
    expiry_follows_clock: false,
    clear_expired: false,
    ..Capabilities::SERVER_SIDE
};

async fn run(label: &str, url: String, format: ValueFormat) {
    if let Err(e) = Cache::connect(&url, "probe", 1).await {
        return unavailable(label, &e);
    }
    Harness::new(label, TTL_CACHE, move |_clock: Arc<dyn Clock>| {
        let url = url.clone();
        async move {
            let cache = Cache::connect(&url, &format!("t{}", &generate_key()[..10]), 1).await?;
            Ok(Arc::new(CacheStore::new(cache, format)) as Arc<DynSessionStore>)
        }
    })
    .run_and_assert()
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_moka() {
    Harness::new(
        "cache-moka",
        TTL_CACHE,
        |_clock: Arc<dyn Clock>| async move {
            let cache = Cache::in_process(MokaBound::Entries(10_000), "", 1);
            Ok(Arc::new(CacheStore::new(cache, ValueFormat::Pickle)) as Arc<DynSessionStore>)
        },
    )
    .run_and_assert()
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_redis() {
    run(
        "cache-redis",
        service_url("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ValueFormat::Pickle,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_redis_json_values() {
    run(
        "cache-redis-json",
        service_url("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ValueFormat::Json,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_redis_cluster() {
    let url = service_url(
        "REDIS_CLUSTER_URL",
        "redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
    );
    run("cache-redis-cluster", url, ValueFormat::Pickle).await;
}
