//! The stress campaign: `tasks` tasks run a bounded number of mixed operations (create, load,
//! modify + save, cycle_key, delete, clear_expired) against one store, each task keeping a
//! model of what it was told succeeded. Checked along the way and at the end:
//!
//! * **no acknowledged write lost** — a load returns the last value a save acknowledged;
//! * **no deleted session served again** — a key deleted (or cycled away) never loads;
//! * **no key collision** — no two creates are ever given the same key;
//! * **no panic** — a panicking task is a failure.
//!
//! Storage errors are counted, not fatal (outages are part of the fault runs): an operation
//! that failed leaves the model as it was, except that a failed save or delete makes that
//! session's state unknown until the next successful write (the write may have landed).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use session_core::{DynSessionStore, Error, Session, SessionConfig};

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Concurrent tasks.
    pub tasks: usize,
    /// Operations in all (split between the tasks).
    pub operations: u64,
    /// Stop early after this long, whatever is left.
    pub time_limit: Duration,
}

/// What happened.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Outcome {
    /// Operations run.
    pub operations: u64,
    /// Operations that returned a storage error (outages).
    pub errors: u64,
    /// Acknowledged writes whose value did not load back (another value was read).
    pub lost_writes: u64,
    /// Reads that found no session where an acknowledged one lives (a user would be logged
    /// out); counted apart from `lost_writes` to tell a missing read from a wrong value.
    pub missing_reads: u64,
    /// Deleted sessions that loaded again.
    pub resurrections: u64,
    /// Keys handed out twice.
    pub collisions: u64,
    /// Tasks that panicked.
    pub panics: u64,
    /// The slowest operation, in milliseconds.
    pub max_latency_ms: u64,
    /// Wall time, in seconds.
    pub seconds: f64,
    /// Operations per second.
    pub ops_per_second: f64,
}

impl Outcome {
    /// Whether every invariant held.
    pub fn clean(&self) -> bool {
        self.lost_writes == 0
            && self.missing_reads == 0
            && self.resurrections == 0
            && self.collisions == 0
            && self.panics == 0
    }
}

#[derive(Default)]
struct Model {
    /// Live sessions and the counter value last acknowledged (`None`: unknown after a failed
    /// write).
    live: HashMap<String, Option<i64>>,
    /// Keys deleted (or cycled away) with the delete acknowledged.
    deleted: Vec<String>,
}

#[derive(Default)]
struct Tally {
    ops: u64,
    errors: u64,
    lost: u64,
    missing: u64,
    resurrected: u64,
    max_latency: Duration,
}

fn config() -> SessionConfig {
    SessionConfig::default()
}

async fn load_counter(store: &Arc<DynSessionStore>, key: &str) -> Result<Option<i64>, Error> {
    Ok(store
        .load(key)
        .await?
        .and_then(|m| m.get("n").and_then(session_core::Value::as_i64)))
}

async fn task(
    store: Arc<DynSessionStore>,
    ops: u64,
    deadline: Instant,
    keys: Arc<Mutex<HashSet<String>>>,
    collisions: Arc<Mutex<u64>>,
) -> Tally {
    let mut model = Model::default();
    let mut t = Tally::default();
    let mut rng = rand::rngs::StdRng::from_entropy();
    for _ in 0..ops {
        if Instant::now() > deadline {
            break;
        }
        let started = Instant::now();
        let pick = rng.gen_range(0..100);
        let some_live = model
            .live
            .keys()
            .nth(rng.gen_range(0..model.live.len().max(1)))
            .cloned();
        let result: Result<(), Error> = async {
            match (pick, some_live) {
                (0..=14, _) | (_, None) => {
                    let mut s = Session::new(store.clone(), config(), None);
                    s.insert("n", &0).await?;
                    s.insert("payload", &"x".repeat(64)).await?;
                    s.save(false).await?;
                    let key = s.session_key().unwrap_or_default().to_owned();
                    if !keys
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key.clone())
                    {
                        *collisions.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    }
                    model.live.insert(key, Some(0));
                }
                (15..=54, Some(key)) => {
                    let got = load_counter(&store, &key).await?;
                    if let Some(Some(expected)) = model.live.get(&key) {
                        match got {
                            None => t.missing += 1,
                            Some(v) if v != *expected => t.lost += 1,
                            Some(_) => {}
                        }
                    }
                }
                (55..=84, Some(key)) => {
                    let mut s = Session::new(store.clone(), config(), Some(&key));
                    let Some(n) = s.get::<i64>("n").await? else {
                        // No session where one lives: do not write a new one in its place
                        // (that would be counted again as lost at the end).
                        if matches!(model.live.get(&key), Some(Some(_))) {
                            t.missing += 1;
                        }
                        return Ok(());
                    };
                    if let Some(Some(expected)) = model.live.get(&key) {
                        if n != *expected {
                            t.lost += 1;
                        }
                    }
                    s.insert("n", &(n + 1)).await?;
                    model.live.insert(key.clone(), None);
                    s.save(false).await?;
                    model.live.insert(key, Some(n + 1));
                }
                (85..=91, Some(key)) => {
                    let mut s = Session::new(store.clone(), config(), Some(&key));
                    let n: Option<i64> = s.get("n").await?;
                    model.live.insert(key.clone(), None);
                    s.cycle_key().await?;
                    model.live.remove(&key);
                    model.deleted.push(key);
                    let new = s.session_key().unwrap_or_default().to_owned();
                    if !keys
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(new.clone())
                    {
                        *collisions.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    }
                    model.live.insert(new, n);
                }
                (92..=98, Some(key)) => {
                    model.live.insert(key.clone(), None);
                    store.delete(&key).await?;
                    model.live.remove(&key);
                    model.deleted.push(key);
                }
                (_, Some(_)) => {
                    store.clear_expired().await?;
                }
            }
            Ok(())
        }
        .await;
        t.ops += 1;
        if result.is_err() {
            t.errors += 1;
        }
        t.max_latency = t.max_latency.max(started.elapsed());
        // Now and then, a deleted session must still be gone.
        if !model.deleted.is_empty() && rng.gen_range(0..10) == 0 {
            let key = &model.deleted[rng.gen_range(0..model.deleted.len())];
            if let Ok(Some(_)) = store.load(key).await {
                t.resurrected += 1;
            }
        }
    }
    // The final check: every acknowledged value, every deletion.
    for (key, expected) in &model.live {
        if let (Some(expected), Ok(got)) = (expected, load_counter(&store, key).await) {
            match got {
                None => t.missing += 1,
                Some(v) if v != *expected => t.lost += 1,
                Some(_) => {}
            }
        }
    }
    for key in &model.deleted {
        if let Ok(Some(_)) = store.load(key).await {
            t.resurrected += 1;
        }
    }
    t
}

/// Runs the plan against `store`.
pub async fn run(store: Arc<DynSessionStore>, plan: &Plan) -> Outcome {
    let started = Instant::now();
    let deadline = started + plan.time_limit;
    let keys = Arc::new(Mutex::new(HashSet::new()));
    let collisions = Arc::new(Mutex::new(0));
    let per_task = plan.operations.div_ceil(plan.tasks.max(1) as u64);
    let handles: Vec<_> = (0..plan.tasks.max(1))
        .map(|_| {
            tokio::spawn(task(
                store.clone(),
                per_task,
                deadline,
                keys.clone(),
                collisions.clone(),
            ))
        })
        .collect();
    let mut out = Outcome::default();
    for h in handles {
        match h.await {
            Ok(t) => {
                out.operations += t.ops;
                out.errors += t.errors;
                out.lost_writes += t.lost;
                out.missing_reads += t.missing;
                out.resurrections += t.resurrected;
                out.max_latency_ms = out
                    .max_latency_ms
                    .max(u64::try_from(t.max_latency.as_millis()).unwrap_or(u64::MAX));
            }
            Err(_) => out.panics += 1,
        }
    }
    out.collisions = *collisions.lock().unwrap_or_else(|e| e.into_inner());
    out.seconds = started.elapsed().as_secs_f64();
    // Operation counts stay far below 2⁵³: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let ops = out.operations as f64;
    out.ops_per_second = ops / out.seconds.max(1e-9);
    out
}
