//! Hostile cache values (anyone who can write to the cache can plant them): each reads as an
//! empty session plus a warning — never an abort, a panic or a stall. Includes the 264-byte
//! shared-reference pickle that expands to 2⁴⁰ values, and pickled integers that used to
//! cost quadratic time.

use std::sync::Arc;

use session_cache::{Cache, CacheStore, MemoryBound, ValueFormat};
use session_conformance::hostile::{WarningLog, expect_unreadable, serial};
use session_conformance::{service_url, unavailable};
use session_core::DynSessionStore;
use session_core::key::generate_key;

/// `x = [1]; for _ in range(40): x = [x, x]; pickle.dumps({"a": x}, protocol=5)`.
const MEMO_BOMB: &str = "800595fd000000000000007d948c0161945d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d944b0161682a65682965682865682765682665682565682465682365682265682165682065681f65681e65681d65681c65681b65681a65681965681865681765681665681565681465681365681265681165681065680f65680e65680d65680c65680b65680a65680965680865680765680665680565680465680365732e";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `y = [1]; for _ in range(3): y = [y] * 2000` under `{"a": y}`: 8·10⁹ values, 12 KB.
fn wide_bomb() -> Vec<u8> {
    let mut b = vec![
        0x80, 5, b'}', 0x94, 0x8c, 1, b'a', 0x94, b']', 0x94, b'K', 1, b'a',
    ];
    for level in 0..3u8 {
        b.extend_from_slice(&[b']', 0x94, b'(']);
        for _ in 0..2000 {
            b.extend_from_slice(&[b'h', 2 + level]);
        }
        b.push(b'e');
    }
    b.extend_from_slice(b"s.");
    b
}

/// `{"n": <LONG4 of n bytes>}` repeated `count` times in a list.
fn big_longs(n: usize, count: usize) -> Vec<u8> {
    let mut b = vec![0x80, 5, b'}', 0x94, 0x8c, 1, b'n', 0x94, b']', 0x94, b'('];
    for _ in 0..count {
        b.push(0x8b);
        b.extend_from_slice(&u32::try_from(n).unwrap().to_le_bytes());
        b.extend(std::iter::repeat_n(0x5a, n));
    }
    b.extend_from_slice(b"es.");
    b
}

fn hostile_values() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("264-byte memo bomb", hex(MEMO_BOMB)),
        ("12 KB wide shared-list bomb", wide_bomb()),
        ("one 4 KB integer", big_longs(4096, 1)),
        ("256 integers of 4 KB", big_longs(4096, 256)),
        ("a 1 MB integer", big_longs(1 << 20, 1)),
        ("truncated", hex(MEMO_BOMB)[..40].to_vec()),
        ("GLOBAL os.system", b"cos\nsystem\n(S'true'\ntR.".to_vec()),
        (
            "random bytes",
            (0..200u32)
                .map(|i| u8::try_from(i * 7919 % 251).unwrap())
                .collect(),
        ),
        ("a bare integer", b"12345".to_vec()),
        ("a list, not a dict", b"\x80\x05]\x94.".to_vec()),
    ]
}

async fn run_table(cache: Cache, label: &str) {
    let log = WarningLog::install();
    let store: Arc<DynSessionStore> = Arc::new(CacheStore::new(cache.clone(), ValueFormat::Pickle));
    let json: Arc<DynSessionStore> = Arc::new(CacheStore::new(cache.clone(), ValueFormat::Json));
    for (what, value) in hostile_values() {
        let key = generate_key();
        let full = cache.full_key(&format!("{}{key}", session_cache::CACHE_KEY_PREFIX));
        cache.set(&full, &value, 60).await.unwrap();
        expect_unreadable(&store, &key, &format!("{label}: {what}"), &log).await;
    }
    for (what, value) in [
        (
            "a 5000-digit JSON integer",
            format!("{{\"n\":{}}}", "7".repeat(5000)),
        ),
        (
            "_session_expiry = 1e999",
            "{\"_session_expiry\":1e999,\"u\":1}".to_owned(),
        ),
        (
            "deep JSON",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
    ] {
        let key = generate_key();
        let full = cache.full_key(&format!("{}{key}", session_cache::CACHE_KEY_PREFIX));
        cache.set(&full, value.as_bytes(), 60).await.unwrap();
        expect_unreadable(&json, &key, &format!("{label} json: {what}"), &log).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_in_memory_read_as_empty_sessions() {
    let _serial = serial().await;
    run_table(
        Cache::in_process(MemoryBound::Bytes(64 << 20), "", 1),
        "memory",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_in_redis_read_as_empty_sessions() {
    let _serial = serial().await;
    let url = service_url("REDIS_URL", "redis://127.0.0.1:6379/0");
    match Cache::connect(&url, &format!("h{}", &generate_key()[..8]), 1).await {
        Ok(cache) => run_table(cache, "redis").await,
        Err(e) => unavailable("cache hostile values", &e),
    }
}
