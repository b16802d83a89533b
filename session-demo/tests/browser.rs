//! The demo's pages in a real browser: Debian's headless Chromium, driven by
//! `tests/browser/tour.py` (selenium + chromedriver, from the Django venv). Screenshots are
//! kept in `target/browser/` as artifacts.

use std::path::{Path, PathBuf};
use std::process::Command;

use session_conformance::unavailable;
use session_core::SettingsSource;

fn python() -> PathBuf {
    std::env::var_os("DJANGO_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-django/bin/python"),
        PathBuf::from,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_can_use_every_page_in_chromium() {
    let python = python();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let selenium = Command::new(&python)
        .args(["-c", "import selenium"])
        .status()
        .is_ok_and(|s| s.success());
    if !selenium || !Path::new(&chromium).exists() || !Path::new(&driver).exists() {
        return unavailable(
            "browser",
            &format!(
                "needs {} with selenium, {chromium} and {driver} (scripts/test-services.sh installs chromium and chromium-driver; scripts/django-venv.sh selenium)",
                python.display()
            ),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let settings = session_demo::settings_from(
        SettingsSource::from_pairs([("SECRET_KEY", "browser-secret")]),
        dir.path(),
    )
    .unwrap();
    let store = session_demo::store_from(&settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = session_demo::router(store, &settings);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser");
    let _ = std::fs::remove_dir_all(&shots);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/tour.py");
    let base = format!("http://{addr}");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .arg(script)
            .arg(&base)
            .arg(&shots)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser tour failed:\n{stdout}\n{stderr}"
    );
    let steps: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        steps.as_array().is_some_and(|s| s.len() >= 12),
        "every step ran: {steps}"
    );
    eprintln!(
        "browser tour: {} pages, screenshots in target/browser/",
        steps.as_array().map_or(0, Vec::len)
    );
}
