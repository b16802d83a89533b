//! `session-stress`: the stress campaign against the engine the environment configures
//! (Django's setting names, as `session-demo` reads them). Prints one JSON line of figures
//! and exits 1 when an invariant broke.
//!
//! ```sh
//! SECRET_KEY=x SESSION_ENGINE=cache CACHE_URL=redis://127.0.0.1:6379/0 \
//!   cargo run --release -p session-stress -- 1000000 64 600
//! ```
//! Arguments: operations (default 1 000 000), tasks (64), time limit in seconds (600).

use std::process::ExitCode;
use std::time::Duration;

use session_core::Settings;
use session_stress::{Plan, run};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let plan = Plan {
        operations: args.first().copied().unwrap_or(1_000_000),
        tasks: args
            .get(1)
            .and_then(|t| usize::try_from(*t).ok())
            .unwrap_or(64),
        time_limit: Duration::from_secs(args.get(2).copied().unwrap_or(600)),
    };
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("session-stress: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store = match session_registry::build_store(&settings).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("session-stress: {}", session_core::error::report(&e));
            return ExitCode::FAILURE;
        }
    };
    let outcome = run(store, &plan).await;
    let line =
        serde_json::json!({"engine": settings.engine, "tasks": plan.tasks, "outcome": outcome});
    println!("{line}");
    if outcome.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
