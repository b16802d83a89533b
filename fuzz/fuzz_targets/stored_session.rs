//! A hostile value behind a whole request's session work: planted in the cache (pickled or
//! JSON) and as a database row's signed `session_data`, then loaded, read, and saved the way
//! the middleware does.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use session_cache::{Cache, CacheStore, MemoryBound, ValueFormat};
use session_core::codec::{SESSION_SALT, Secret, Signer, decode_or_empty};
use session_core::{DynSessionStore, Session, SessionConfig};

const KEY: &str = "abcdefghijklmnopqrstuvwxyz012345";

struct World {
    rt: tokio::runtime::Runtime,
    cache: Cache,
    stores: [Arc<DynSessionStore>; 2],
    signer: Signer,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let cache = Cache::in_process(MemoryBound::Entries(16), "", 1);
        let store = |f| Arc::new(CacheStore::new(cache.clone(), f)) as Arc<DynSessionStore>;
        World {
            rt: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            stores: [store(ValueFormat::Pickle), store(ValueFormat::Json)],
            cache,
            signer: Signer::new(SESSION_SALT, &Secret::new("fuzz"), &[]),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    w.rt.block_on(async {
        let full = w
            .cache
            .full_key(&format!("{}{KEY}", session_cache::CACHE_KEY_PREFIX));
        for store in &w.stores {
            w.cache.set(&full, data, 60).await.unwrap();
            let mut s = Session::new(store.clone(), SessionConfig::default(), Some(KEY));
            let _ = s.load().await;
            let _ = s.get_expiry_age().await;
            let _ = s.get_expiry_date().await;
            let _ = s.get_expire_at_browser_close().await;
            let _ = s.save(false).await;
        }
        // The same bytes as a database row's session_data.
        let _ = decode_or_empty(&w.signer, &String::from_utf8_lossy(data), None, chrono::DateTime::UNIX_EPOCH);
    });
});
