//! What an operator sees: a `session_request` span per request from the middleware, a
//! `session_store` span per store operation (engine, op, outcome, duration), and — with the
//! `metrics` feature — the counters and histogram of `session_core::instrument`, plus the
//! cached_db engine's hits and misses. Never a key, a value or a secret.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{Request, header};
use tower::ServiceExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Every span's name and its fields as `name=value` text.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SpanSeen>>>);

/// A span's name and its `field=value` texts (the first is its id).
type SpanSeen = (String, Vec<String>);

struct Fields<'a>(&'a mut Vec<String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={:?}", field.name(), value));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push(format!("{}={value}", field.name()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = vec![format!("id={}", id.into_u64())];
        attrs.record(&mut Fields(&mut fields));
        self.0
            .lock()
            .unwrap()
            .push((attrs.metadata().name().to_owned(), fields));
    }
    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let tag = format!("id={}", id.into_u64());
        let mut spans = self.0.lock().unwrap();
        if let Some((_, fields)) = spans.iter_mut().rev().find(|(_, f)| f[0] == tag) {
            values.record(&mut Fields(fields));
        }
    }
}

/// Counters and histogram samples, by name and labels.
#[derive(Clone, Default)]
struct Metrics(Arc<Mutex<Vec<(String, f64)>>>);

struct Entry(String, Metrics);

impl metrics::CounterFn for Entry {
    fn increment(&self, value: u64) {
        #[allow(clippy::cast_precision_loss)] // small test counts
        self.1
            .0
            .lock()
            .unwrap()
            .push((self.0.clone(), value as f64));
    }
    fn absolute(&self, _: u64) {}
}

impl metrics::HistogramFn for Entry {
    fn record(&self, value: f64) {
        self.1.0.lock().unwrap().push((self.0.clone(), value));
    }
}

fn describe(key: &metrics::Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl metrics::Recorder for Metrics {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(Arc::new(Entry(describe(key), self.clone())))
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::from_arc(Arc::new(Entry(describe(key), self.clone())))
    }
}

impl Metrics {
    fn count(&self, name: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .count()
    }
}

#[test]
fn requests_and_store_operations_are_reported_without_keys_or_data() {
    let dir = tempfile::tempdir().unwrap();
    let spans = Spans::default();
    let recorder = Metrics::default();
    let subscriber = tracing_subscriber::registry()
        .with(spans.clone())
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let secret = "observability-secret-key-0123456789";
    let cookie = tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            rt.block_on(async {
                let env = session_core::SettingsSource::from_pairs([
                    ("SECRET_KEY", secret.to_owned()),
                    ("SESSION_ENGINE", "cached_db".to_owned()),
                    ("CACHE_URL", "memory://".to_owned()),
                    (
                        "DATABASE_URL",
                        format!("sqlite://{}/o.sqlite3", dir.path().display()),
                    ),
                ]);
                let settings = session_demo::settings_from(env, dir.path()).unwrap();
                let store = session_demo::store_from(&settings).await.unwrap();
                let app = session_demo::router(store, &settings);
                // First visit: a new session is created; second: loaded from the cache.
                let res = app
                    .clone()
                    .oneshot(Request::get("/").body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                let set = res.headers()[header::SET_COOKIE]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let cookie = set.split(';').next().unwrap().to_owned();
                let res = app
                    .oneshot(
                        Request::get("/")
                            .header(header::COOKIE, &cookie)
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                cookie
            })
        })
    });
    let key = cookie.split_once('=').unwrap().1.to_owned();
    let spans = spans.0.lock().unwrap().clone();
    let requests: Vec<_> = spans
        .iter()
        .filter(|(n, _)| n == "session_request")
        .collect();
    assert_eq!(requests.len(), 2, "one span per request: {spans:?}");
    for (_, fields) in &requests {
        for expected in [
            "engine=cached_db",
            "status=200",
            "accessed=true",
            "modified=true",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} in {fields:?}"
            );
        }
    }
    let ops: Vec<String> = spans
        .iter()
        .filter(|(n, _)| n == "session_store")
        .map(|(_, f)| f[1..].join(" "))
        .collect();
    let has = |op: &str, outcome: &str| {
        ops.iter().any(|f| {
            f.contains("engine=cached_db")
                && f.contains(&format!("op={op}"))
                && f.contains(&format!("outcome={outcome}"))
                && f.contains("duration_us=")
        })
    };
    assert!(has("create", "ok"), "{ops:#?}");
    assert!(has("load", "hit"), "{ops:#?}");
    assert!(has("save", "ok"), "{ops:#?}");
    let everything = format!("{spans:?}");
    assert!(!everything.contains(&key), "no session key in any span");
    assert!(!everything.contains(secret), "no secret in any span");
    assert!(
        !everything.contains("num_visits"),
        "no session data in any span"
    );

    assert!(
        recorder.count("session_store_operations_total{engine=cached_db,op=load,outcome=hit}") >= 1
    );
    assert!(
        recorder.count("session_store_operations_total{engine=cached_db,op=create,outcome=ok}")
            >= 1
    );
    assert!(recorder.count("session_store_duration_seconds{engine=cached_db,op=load}") >= 1);
    assert!(recorder.count("session_cached_db_cache_total{result=hit}") >= 1);
    let all = format!("{:?}", recorder.0.lock().unwrap());
    assert!(!all.contains(&key), "no session key in any metric");
}
