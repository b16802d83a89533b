//! The engine passes the shared conformance suite, and SESSION_ENGINE selects it.

use std::sync::Arc;

use example_sharded_engine::{ENGINE_NAME, ShardedStore, register};
use session_conformance::{Capabilities, Harness};
use session_core::{Clock, DynSessionStore, Settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_sharded() {
    let report = Harness::new(
        "example-sharded",
        Capabilities::SERVER_SIDE,
        |clock: Arc<dyn Clock>| async move {
            Ok(Arc::new(ShardedStore::new(4, clock)) as Arc<DynSessionStore>)
        },
    )
    .run_and_assert()
    .await;
    assert!(report.passed > 40, "{} cases passed", report.passed);
}

#[tokio::test]
async fn selected_by_session_engine_with_its_own_setting() {
    register();
    let settings = Settings::from_toml_str(&format!(
        "SECRET_KEY = \"k\"\nSESSION_ENGINE = \"{ENGINE_NAME}\"\nEXAMPLE_SHARDS = 2\n"
    ))
    .unwrap();
    let store = session_registry::build_store(&settings).await.unwrap();
    assert_eq!(store.engine_name(), "sharded");
    let bad = Settings::from_toml_str(&format!(
        "SECRET_KEY = \"k\"\nSESSION_ENGINE = \"{ENGINE_NAME}\"\nEXAMPLE_SHARDS = \"many\"\n"
    ))
    .unwrap();
    let err = session_registry::build_store(&bad).await.unwrap_err();
    assert!(session_core::error::report(&err).contains("EXAMPLE_SHARDS"));
}
