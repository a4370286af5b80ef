//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`)
//! delivering to slod's receiver (SPEC §13).
//!
//! The test starts Alertmanager on loopback ports with a temporary config
//! whose webhook receiver points at slod (through a recording relay, so the
//! test sees each delivery and slod's answer to it), with one-second group
//! and two-second repeat intervals, then pushes alerts into Alertmanager's
//! own `/api/v2/alerts` as Prometheus would.
//!
//! Without the binary the test fails when `SLOD_REQUIRE_ALERTMANAGER` is
//! set (`.ci/run` sets it and installs the package), and is skipped with a
//! notice otherwise. `ALERTMANAGER` overrides the binary's path.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use serde_json::{json, Value};
use slod_core::time::Timestamp;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::helpers::*;

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// The binary, or `None` (after a notice) when it is missing and not
/// required.
fn binary() -> Option<String> {
    let path = std::env::var("ALERTMANAGER").unwrap_or_else(|_| ALERTMANAGER.to_owned());
    if Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("SLOD_REQUIRE_ALERTMANAGER").is_none(),
        "Alertmanager is not installed at {path}: this test needs Debian's \
         `prometheus-alertmanager` package (.ci/run installs it)"
    );
    eprintln!(
        "NOTICE: skipping the live Alertmanager test: {path} is missing \
         (apt-get install prometheus-alertmanager; set SLOD_REQUIRE_ALERTMANAGER=1 to fail instead)"
    );
    None
}

/// One webhook delivery: what Alertmanager sent and what slod answered.
#[derive(Debug, Clone)]
struct Delivery {
    sent: Value,
    status: u16,
    answer: Value,
}

#[derive(Clone)]
struct Relay {
    target: String,
    client: reqwest::Client,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

/// Passes a delivery on to slod (same path and query) and records both
/// sides.
async fn forward(State(relay): State<Relay>, uri: Uri, body: Bytes) -> (StatusCode, String) {
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = relay
        .client
        .post(format!("{}{uri}", relay.target))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let answer = serde_json::from_str(&text).unwrap_or(Value::Null);
    relay.deliveries.lock().unwrap().push(Delivery { sent, status, answer });
    (StatusCode::from_u16(status).unwrap(), text)
}

impl Relay {
    async fn start(target: &str) -> (Self, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let relay = Relay {
            target: target.to_owned(),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            deliveries: Arc::default(),
        };
        let app = axum::Router::new().fallback(forward).with_state(relay.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (relay, address)
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// Waits for the `count`-th delivery matching `keep`.
    async fn wait_for(&self, count: usize, keep: impl Fn(&Delivery) -> bool) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got: Vec<Delivery> = self.deliveries().into_iter().filter(|d| keep(d)).collect();
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} deliveries within 30 s; all so far: {:#?}",
                got.len(),
                self.deliveries()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A running Alertmanager, killed when dropped.
struct Alertmanager {
    _child: Child,
    api: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    async fn start(binary: &str, webhook_url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "route:\n  receiver: slod\n  group_by: ['system']\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 2s\n\
             receivers:\n  - name: slod\n    webhook_configs:\n      - url: '{webhook_url}'\n        \
             send_resolved: true\n"
        );
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // No gossip: a single instance, nothing listening beyond loopback.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let api = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client.get(format!("{api}/-/ready")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "Alertmanager did not become ready at {api}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { _child: child, api, client, _dir: dir }
    }

    /// Posts alerts to Alertmanager's own API, as Prometheus does.
    async fn push(&self, alerts: Value) {
        let response = self
            .client
            .post(format!("{}/api/v2/alerts", self.api))
            .json(&alerts)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    }
}

fn wall_clock() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

fn first_alert_status(delivery: &Delivery) -> &str {
    delivery.sent["alerts"][0]["status"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_real_alertmanager_takes_the_system_down_at_starts_at_and_back_up_when_resolved() {
    let Some(binary) = binary() else { return };
    let app = spawn_app().await;
    // Alertmanager lives on the wall clock.
    app.clock.set(wall_clock());
    app.create_system("checkout").await;
    let objective = app
        .create_objective(json!({"systemId": "checkout", "target": 99.9, "windowDays": 30}))
        .await;
    let (relay, relay_address) = Relay::start(&app.address).await;
    let alertmanager =
        Alertmanager::start(&binary, &format!("{relay_address}/api/v1/integrations/alertmanager"))
            .await;

    // Prometheus saw the failure two minutes ago.
    let starts = wall_clock().minus_millis(120_000);
    let labels = json!({"alertname": "CheckoutDown", "system": "checkout", "severity": "critical"});
    let alert = json!({
        "labels": labels,
        "annotations": {"summary": "checkout answers 5xx"},
        "startsAt": starts.to_rfc3339(),
        "generatorURL": "http://prometheus.example:9090/graph"
    });
    alertmanager.push(json!([alert])).await;

    let firing = relay.wait_for(1, |d| first_alert_status(d) == "firing").await;
    assert_eq!(firing[0].status, 200, "{:?}", firing[0]);
    assert_eq!(firing[0].answer, json!({"applied": 1, "ignored": 0, "stale": 0}));
    let system = app.get_ok("/systems/checkout").await;
    assert_eq!(system["status"], "unhealthy");
    assert_eq!(system["since"], starts.to_rfc3339());
    let events = app.events(&objective).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (&events[0]["startTime"], &events[0]["endTime"]),
        (&json!(starts.to_rfc3339()), &Value::Null)
    );

    // Alertmanager repeats the notification every repeat_interval: taken,
    // and nothing changes.
    let repeats = relay.wait_for(2, |d| first_alert_status(d) == "firing").await;
    assert_eq!(repeats[1].sent["alerts"], firing[0].sent["alerts"]);
    assert_eq!(repeats[1].answer, json!({"applied": 1, "ignored": 0, "stale": 0}));
    assert_eq!(app.get_ok("/systems/checkout").await, system);
    assert_eq!(app.events(&objective).await, events);

    // Resolved, as Prometheus does: the same alert again with endsAt.
    app.clock.set(wall_clock());
    let ends = wall_clock();
    let mut resolved = alert.clone();
    resolved["endsAt"] = json!(ends.to_rfc3339());
    alertmanager.push(json!([resolved])).await;
    let resolved = relay.wait_for(1, |d| first_alert_status(d) == "resolved").await;
    assert_eq!(resolved[0].status, 200, "{:?}", resolved[0]);
    assert_eq!(resolved[0].answer, json!({"applied": 1, "ignored": 0, "stale": 0}));
    let system = app.get_ok("/systems/checkout").await;
    assert_eq!((&system["status"], &system["since"]), (&json!("healthy"), &Value::Null));
    let events = app.events(&objective).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (&events[0]["startTime"], &events[0]["endTime"]),
        (&json!(starts.to_rfc3339()), &json!(ends.to_rfc3339()))
    );
}
