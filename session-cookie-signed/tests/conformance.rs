//! The shared conformance suite on the signed-cookie engine.

use std::sync::Arc;

use session_conformance::{Capabilities, Harness};
use session_cookie_signed::SignedCookieStore;
use session_core::cookie::BROWSER_COOKIE_LIMIT;
use session_core::{Clock, DynSessionStore, Settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_signed_cookies() {
    let caps = Capabilities {
        data_in_cookie: true,
        enforces_expiry: true,
        expiry_follows_clock: true,
        clear_expired: false,
        max_session_bytes: Some(BROWSER_COOKIE_LIMIT),
        expiry_by_own_settings: true,
        user_index: false,
    };
    Harness::new("signed_cookies", caps, |clock: Arc<dyn Clock>| async move {
        let settings = Settings::new("conformance-secret-key-0123456789abcdef").unwrap();
        let store = SignedCookieStore::new(
            settings.signed_cookie_signer(),
            settings.cookie.clone(),
            session_core::ExpiryPolicy::from_settings(&settings),
            clock,
        );
        Ok(Arc::new(store) as Arc<DynSessionStore>)
    })
    .run_and_assert()
    .await;
}
