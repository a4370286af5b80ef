//! `spawn_app()` and the small vocabulary the tests speak.
//!
//! The server runs on a fresh SQLite file per test, or, when
//! `SLOD_TEST_DATABASE_URL` names a PostgreSQL server, on a fresh database
//! of its own there (`slod_test_<uuid>`), dropped when the [`TestApp`] is
//! — also when the test panics — so a run leaves nothing behind.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use slod::access::AccessSettings;
use slod::clock::ManualClock;
use slod::config::Settings;
use slod::startup::Application;
use slod_core::time::{Timestamp, MINUTE_MS};
use slod_store_postgres::testing::{self as pg_testing, TestDatabase};
use tempfile::TempDir;

/// The instant every test's clock starts at.
pub const T0: &str = "2026-03-01T00:00:00Z";

pub fn t0() -> Timestamp {
    Timestamp::parse(T0).unwrap()
}

/// `T0 + minutes`, as RFC 3339.
pub fn at(minutes: i64) -> String {
    t0().plus_millis(minutes * MINUTE_MS).to_rfc3339()
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    /// The database this app serves (another app may share it).
    pub database_url: String,
    _dir: TempDir,
    /// The PostgreSQL database of this test, dropped (synchronously, with
    /// `FORCE`, so the server's open connections do not hold it) with the
    /// app.
    _database: Option<TestDatabase>,
}

/// Starts the real server on 127.0.0.1:0 with a fresh database (SQLite, or
/// PostgreSQL when `SLOD_TEST_DATABASE_URL` is set) and a manual clock set
/// to [`T0`].
pub async fn spawn_app() -> TestApp {
    spawn_app_with(false).await
}

pub async fn spawn_app_with(demo: bool) -> TestApp {
    spawn_app_configured(demo, AccessSettings::default()).await
}

/// [`spawn_app`] with access settings (SPEC §16: `--public-dashboard`, …).
pub async fn spawn_app_with_access(access: AccessSettings) -> TestApp {
    spawn_app_configured(false, access).await
}

/// A fresh database (SQLite in `dir`, or PostgreSQL) and its guard.
async fn fresh_database_url(dir: &TempDir) -> (String, Option<TestDatabase>) {
    match pg_testing::admin_url_from_env() {
        Some(admin) => {
            let (url, database) = pg_testing::fresh_database(&admin).await.unwrap();
            (url, Some(database))
        }
        None => (format!("sqlite://{}/slod.db", dir.path().display()), None),
    }
}

/// A second server on `other`'s database (replicas share it), with its own
/// access settings.
pub async fn spawn_app_sharing(other: &TestApp, access: AccessSettings) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    start(other.database_url.clone(), None, dir, false, access).await
}

pub async fn spawn_app_configured(demo: bool, access: AccessSettings) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, database) = fresh_database_url(&dir).await;
    start(database_url, database, dir, demo, access).await
}

/// [`spawn_app`] without the job scheduler, for tests that move the clock
/// months ahead and run the daily job themselves (`POST /jobs/daily`).
pub async fn spawn_app_without_scheduler() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, database) = fresh_database_url(&dir).await;
    start_with(database_url, database, dir, false, AccessSettings::default(), false).await
}

async fn start(
    database_url: String,
    database: Option<TestDatabase>,
    dir: TempDir,
    demo: bool,
    access: AccessSettings,
) -> TestApp {
    start_with(database_url, database, dir, demo, access, true).await
}

async fn start_with(
    database_url: String,
    database: Option<TestDatabase>,
    dir: TempDir,
    demo: bool,
    access: AccessSettings,
    scheduler: bool,
) -> TestApp {
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.clone(),
        database_pool_size: 4,
        demo,
    };
    let clock = Arc::new(ManualClock::new(t0()));
    let mut app = Application::build_with_access(&settings, access, clock.clone()).await.unwrap();
    if !scheduler {
        app = app.without_scheduler();
    }
    let address = format!("http://{}", app.address());
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp { address, client, clock, database_url, _dir: dir, _database: database }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.address)
    }

    /// Moves the clock to `T0 + minutes`.
    pub fn set_now(&self, minutes: i64) {
        self.clock.set(t0().plus_millis(minutes * MINUTE_MS));
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path)).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.put(self.url(path)).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.patch(self.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.delete(self.url(path))).await
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path))).await
    }

    /// GET returning the status, the content type and the raw body.
    pub async fn get_bytes(&self, path: &str) -> (StatusCode, String, Vec<u8>) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.bytes().await.unwrap().to_vec())
    }

    /// Sends `body` as-is with a JSON content type.
    pub async fn post_raw(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        self.send(request).await
    }

    /// Sends `body` as-is with the given content type (none when `None`).
    pub async fn post_body(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.send(request).await
    }

    /// GET that must succeed.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub async fn create_system(&self, id: &str) {
        let (status, body) =
            self.put(&format!("/systems/{id}"), json!({"name": id.to_uppercase()})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn set_upstreams(&self, id: &str, upstreams: &[&str]) {
        let (status, body) = self
            .put(&format!("/systems/{id}/dependencies"), json!({"upstreamIds": upstreams}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Creates an objective (created long before T0 unless the body says
    /// otherwise) and returns its id.
    pub async fn create_objective(&self, mut body: Value) -> String {
        if body.get("createdAt").is_none() {
            body["createdAt"] = json!(at(-400 * 24 * 60));
        }
        let (status, body) = self.post("/objectives", body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// A report that must be accepted; returns the response.
    pub async fn report(&self, system: &str, status: &str, minutes: i64) -> Value {
        let (code, body) = self
            .post("/health", json!({"systemId": system, "status": status, "at": at(minutes)}))
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body
    }

    /// The objective's events, oldest first (the API serves newest first).
    pub async fn events(&self, objective: &str) -> Vec<Value> {
        let body =
            self.get_ok(&format!("/objectives/{objective}/downtime-events?limit=1000")).await;
        let mut events = body["events"].as_array().unwrap().clone();
        events.reverse();
        events
    }

    pub async fn status(&self, objective: &str) -> Value {
        self.get_ok(&format!("/objectives/{objective}")).await["status"].clone()
    }
}

/// `(attributionType, upstreamSystemId, startTime, endTime)` of an event, for
/// compact assertions.
pub fn shape(event: &Value) -> (String, Option<String>, String, Option<String>) {
    (
        event["attributionType"].as_str().unwrap().to_owned(),
        event["upstreamSystemId"].as_str().map(str::to_owned),
        event["startTime"].as_str().unwrap().to_owned(),
        event["endTime"].as_str().map(str::to_owned),
    )
}

pub fn self_event(
    start: i64,
    end: Option<i64>,
) -> (String, Option<String>, String, Option<String>) {
    ("self".into(), None, at(start), end.map(at))
}

pub fn upstream_event(
    upstream: &str,
    start: i64,
    end: Option<i64>,
) -> (String, Option<String>, String, Option<String>) {
    ("upstream".into(), Some(upstream.into()), at(start), end.map(at))
}

/// Asserts our error shape, its code and its field.
pub fn assert_error(body: &Value, code: &str, field: Option<&str>) {
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(error["field"].as_str(), field, "{body}");
}

pub fn assert_close(actual: &Value, expected: f64) {
    let actual = actual.as_f64().unwrap_or_else(|| panic!("not a number: {actual}"));
    assert!((actual - expected).abs() < 1e-9, "expected {expected}, got {actual}");
}
