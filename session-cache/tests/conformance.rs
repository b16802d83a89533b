//! The shared conformance suite on in-process memory, Redis, a Redis Cluster and Memcached, a fresh key prefix per case.

use std::sync::Arc;

use session_cache::{Cache, CacheStore, MemoryBound, ValueFormat};
use session_conformance::{Capabilities, Harness, service_url, unavailable};
use session_core::key::generate_key;
use session_core::{Clock, DynSessionStore};

const TTL_CACHE: Capabilities = Capabilities {
    expiry_follows_clock: false,
    clear_expired: false,
    ..Capabilities::SERVER_SIDE
};

async fn run(label: &str, url: String, format: ValueFormat) {
    run_with(label, url, format, TTL_CACHE).await;
}

async fn run_with(label: &str, url: String, format: ValueFormat, caps: Capabilities) {
    if let Err(e) = Cache::connect(&url, "probe", 1).await {
        return unavailable(label, &e);
    }
    Harness::new(label, caps, move |_clock: Arc<dyn Clock>| {
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
async fn conformance_memory() {
    Harness::new(
        "cache-memory",
        TTL_CACHE,
        |_clock: Arc<dyn Clock>| async move {
            let cache = Cache::in_process(MemoryBound::Entries(10_000), "", 1);
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

/// The cache engine with its user index: Redis sets (node and Cluster), or the process's
/// memory for the in-process cache.
async fn run_indexed(label: &str, url: String) {
    if let Err(e) = Cache::connect(&url, "probe", 1).await {
        return unavailable(label, &e);
    }
    let caps = Capabilities {
        user_index: true,
        ..TTL_CACHE
    };
    Harness::new(label, caps, move |clock: Arc<dyn Clock>| {
        let url = url.clone();
        async move {
            let cache = Cache::connect(&url, &format!("t{}", &generate_key()[..10]), 1).await?;
            let index: Arc<dyn session_core::users::UserIndex> = if cache.is_in_process() {
                Arc::new(session_core::users::MemoryUserIndex::default())
            } else {
                Arc::new(session_cache::CacheUserIndex::new(
                    cache.clone(),
                    clock.clone(),
                ))
            };
            let store = Arc::new(CacheStore::new(cache, ValueFormat::Pickle));
            Ok(Arc::new(session_core::users::IndexedStore::new(
                store,
                index,
                session_core::ExpiryPolicy::default(),
                clock,
            )) as Arc<DynSessionStore>)
        }
    })
    .run_and_assert()
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_redis_with_user_index() {
    run_indexed(
        "cache-redis-indexed",
        service_url("REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_redis_cluster_with_user_index() {
    run_indexed(
        "cache-redis-cluster-indexed",
        service_url(
            "REDIS_CLUSTER_URL",
            "redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_memory_with_user_index() {
    run_indexed("cache-memory-indexed", "memory://".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_memcached() {
    // Memcached's 1 MiB item limit bounds a session (less the key and the item's header).
    let caps = Capabilities {
        max_session_bytes: Some(session_cache::backend::memcached::DEFAULT_MAX_ITEM_SIZE - 256),
        ..TTL_CACHE
    };
    run_with(
        "cache-memcached",
        service_url("MEMCACHED_URL", "memcached://127.0.0.1:11211"),
        ValueFormat::Pickle,
        caps,
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

/// The TLS test servers `scripts/tls-servers.sh` starts (private, TLS only, a throwaway CA).
const TLS_STATE: &str = "/tmp/django-sessions-rs-tests/tls";

fn redis_tls_url() -> String {
    service_url(
        "REDIS_TLS_URL",
        &format!("rediss://localhost:6380/0?ssl_ca_certs={TLS_STATE}/ca.pem"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_redis_over_tls() {
    run("cache-redis-tls", redis_tls_url(), ValueFormat::Pickle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_redis_cluster_over_tls() {
    let url = service_url(
        "REDIS_CLUSTER_TLS_URL",
        &format!("rediss-cluster://localhost:6390?ssl_ca_certs={TLS_STATE}/ca.pem"),
    );
    run("cache-redis-cluster-tls", url, ValueFormat::Pickle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_is_refused_with_an_error_that_says_so() {
    let url = redis_tls_url();
    if let Err(e) = Cache::connect(&url, "probe", 1).await {
        return unavailable("cache-redis-tls", &e);
    }
    let wrong_ca = service_url("TLS_WRONG_CA", &format!("{TLS_STATE}/other-ca.pem"));
    let (base, _) = url
        .split_once("ssl_ca_certs=")
        .expect("the URL names its CA");
    let err = Cache::connect(&format!("{base}ssl_ca_certs={wrong_ca}"), "probe", 1)
        .await
        .expect_err("a server signed by another CA is refused");
    let text = session_core::error::report(&err);
    assert!(
        text.contains("not signed by a trusted CA") && text.contains("ssl_ca_certs"),
        "{text}"
    );
    assert!(
        text.contains("Redis at localhost:6380") || !url.contains("6380"),
        "{text}"
    );
    assert!(
        !err.is_transient(),
        "retrying cannot cure a certificate: {text}"
    );
    // The system's trust store does not know the throwaway CA either.
    let err = Cache::connect(&base.replace(['?', '&'], ""), "probe", 1)
        .await
        .expect_err("not in the system's trust store");
    assert!(!err.is_transient(), "{}", session_core::error::report(&err));
    // Verification off, only when asked: connects.
    Cache::connect(&format!("{base}ssl_cert_reqs=none"), "probe", 1)
        .await
        .expect("ssl_cert_reqs=none skips verification");
    // A plain client on the TLS port fails.
    let plain = base
        .replace("rediss://", "redis://")
        .replace(['?', '&'], "");
    assert!(Cache::connect(&plain, "probe", 1).await.is_err());
}
