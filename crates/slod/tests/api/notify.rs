//! Notifications end to end (SPEC §8, issue 4): channels, threshold events,
//! delivery with retries, signatures, Slack/Teams rendering, the live
//! stream, and durability across restarts and `kill -9`.
//!
//! Most tests run the server in-process on a [`ManualClock`] with the
//! background delivery worker and alert evaluator turned off, and drive
//! them with their "run once now" functions (`deliver_due`,
//! `evaluate_alerts`), so retries and burning budgets follow the test's
//! clock exactly. The `kill -9` tests run the real binary on real time.
//! The [`Receiver`] stands in for every webhook, Slack and Teams endpoint.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use slod::clock::ManualClock;
use slod::config::Settings;
use slod::notify::Notifier;
use slod::startup::Application;
use slod_core::time::{Timestamp, MINUTE_MS};
use slod_store_postgres::testing::{self as pg_testing, TestDatabase};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::{assert_error, at, t0};
use crate::receiver::{black_hole, Receiver};

const SECRET: &str = "whsec-7f3a9c-do-not-leak";
const SLACK_TOKEN: &str = "T0001/B0002/slackTOKENxyz";

// ---- Harness: a database that outlives restarts of the in-process server.

struct Harness {
    _dir: TempDir,
    _database: Option<TestDatabase>,
    database_url: String,
    clock: Arc<ManualClock>,
}

struct Running {
    api: Api,
    notifier: Arc<Notifier>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Harness {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, database) = match pg_testing::admin_url_from_env() {
            Some(admin) => {
                let (url, database) = pg_testing::fresh_database(&admin).await.unwrap();
                (url, Some(database))
            }
            None => (format!("sqlite://{}/slod.db", dir.path().display()), None),
        };
        Self {
            _dir: dir,
            _database: database,
            database_url,
            clock: Arc::new(ManualClock::new(t0())),
        }
    }

    /// Starts a server on the harness's database; `workers` runs the
    /// background delivery worker and alert evaluator too.
    async fn start(&self, workers: bool) -> Running {
        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: self.database_url.clone(),
            database_pool_size: 4,
            demo: false,
        };
        // The job scheduler's events (digests, streaks) are not these
        // tests' subject: keep them out.
        let mut app =
            Application::build(&settings, self.clock.clone()).await.unwrap().without_scheduler();
        if !workers {
            app = app.without_notify_workers();
        }
        let notifier = app.notifier();
        let api = Api::new(format!("http://{}/api/v1", app.address()));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Running { api, notifier, stop, task }
    }

    /// Moves the clock to `T0 + minutes`.
    fn set_now(&self, minutes: f64) {
        self.clock.set(t0().plus_millis(minutes_ms(minutes)));
    }

    fn now(&self) -> Timestamp {
        use slod::clock::Clock;
        self.clock.now()
    }
}

impl Running {
    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the server stops within 30 s")
            .unwrap()
            .unwrap();
    }

    async fn deliver(&self, now: Timestamp) -> slod::notify::delivery::DeliveryRun {
        self.notifier.deliver_due(now).await.unwrap()
    }
}

#[derive(Clone)]
struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(base: String) -> Self {
        let client =
            reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();
        Self { base, client }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /metrics` (outside `/api/v1`), as text.
    async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.base.trim_end_matches("/api/v1"));
        let response = self.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    /// Status, parsed body, and the raw text (for leak checks).
    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value, String) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        (status, body, text)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value, String) {
        self.send(self.client.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value, String) {
        self.send(self.client.post(self.url(path)).json(&body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value, String) {
        self.send(self.client.patch(self.url(path)).json(&body)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value, String) {
        self.send(self.client.delete(self.url(path))).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value, String) {
        self.send(self.client.put(self.url(path)).json(&body)).await
    }

    async fn create_system(&self, id: &str) {
        let (code, body, _) =
            self.put(&format!("/systems/{id}"), json!({"name": id.to_uppercase()})).await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }

    /// An objective created long ago (so its window is full of history).
    async fn create_objective(&self, system: &str, target: f64, window_days: u32) -> String {
        let (code, body, _) = self
            .post(
                "/objectives",
                json!({"systemId": system, "target": target, "windowDays": window_days,
                       "createdAt": at(-400 * 24 * 60)}),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn create_channel(&self, body: Value) -> Value {
        let (code, channel, _) = self.post("/channels", body).await;
        assert_eq!(code, StatusCode::CREATED, "{channel}");
        channel
    }

    async fn report(&self, system: &str, status: &str, minutes: f64) {
        let at = t0().plus_millis(minutes_ms(minutes)).to_rfc3339();
        let (code, body, _) =
            self.post("/health", json!({"systemId": system, "status": status, "at": at})).await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }

    async fn deliveries(&self, channel: &str) -> Vec<Value> {
        let (code, body, _) = self.get(&format!("/channels/{channel}/deliveries?limit=100")).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body["deliveries"].as_array().unwrap().clone()
    }
}

/// `minutes` as milliseconds. Tests pass a few minutes, with at most a
/// fraction of a millisecond to drop.
#[allow(clippy::cast_possible_truncation)]
fn minutes_ms(minutes: f64) -> i64 {
    (minutes * MINUTE_MS as f64) as i64
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// 99 % over one day: 14.4 minutes of budget; warning (50 %) at 7.2
/// minutes of downtime, critical (80 %) at 11.52, exhausted at 14.4.
async fn small_budget_objective(api: &Api) -> String {
    api.create_system("api").await;
    api.create_objective("api", 99.0, 1).await
}

// ---- Thresholds and webhooks.

#[tokio::test]
async fn a_warning_crossing_sends_one_signed_webhook() {
    let harness = Harness::new().await;
    let app = harness.start(false).await;
    let receiver = Receiver::start().await;
    let channel = app
        .api
        .create_channel(json!({"name": "hooks", "kind": "webhook", "url": receiver.url("/hook"),
                              "secret": SECRET, "events": ["slo.budget.warning"]}))
        .await;
    let objective = small_budget_objective(&app.api).await;

    app.api.report("api", "unhealthy", 0.0).await;
    harness.set_now(8.0);
    app.api.report("api", "healthy", 8.0).await;
    // A second, short outage: still past the warning, so nothing new.
    harness.set_now(9.5);
    app.api.report("api", "unhealthy", 9.0).await;
    app.api.report("api", "healthy", 9.5).await;
    let run = app.deliver(harness.now()).await;
    assert_eq!((run.attempted, run.delivered), (1, 1), "{run:?}");

    let got = receiver.requests_to("/hook");
    assert_eq!(got.len(), 1, "exactly one event");
    let request = &got[0];
    let body = request.json();
    assert_eq!(body["type"], "slo.budget.warning");
    assert_eq!(body["data"]["systemId"], "api");
    assert_eq!(body["data"]["objectiveId"], objective.as_str());
    assert_eq!(body["data"]["target"], 99.0);
    let left = body["data"]["budgetRemainingPercent"].as_f64().unwrap();
    assert!((left - (14.4 - 8.0) / 14.4 * 100.0).abs() < 1e-6, "{left}");
    assert_eq!(body["occurredAt"], at(8));
    assert_eq!(request.header("x-slod-event"), Some("slo.budget.warning"));
    assert_eq!(request.header("x-slod-delivery"), body["id"].as_str());
    assert_eq!(request.header("content-type"), Some("application/json"));
    // The signature covers the exact bytes received.
    let expected = format!("sha256={}", hmac_hex(SECRET, &request.body));
    assert_eq!(request.header("x-slod-signature"), Some(expected.as_str()));

    let deliveries = app.api.deliveries(channel["id"].as_str().unwrap()).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["state"], "delivered");
    assert_eq!(deliveries[0]["eventType"], "slo.budget.warning");
    assert_eq!(deliveries[0]["eventId"], body["id"]);
    assert_eq!(deliveries[0]["attempts"][0]["statusCode"], 200);
    assert_eq!(deliveries[0]["attempts"][0]["delivered"], true);

    // Nothing left to deliver.
    assert_eq!(app.deliver(harness.now()).await.attempted, 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_once_it_recovers() {
    let harness = Harness::new().await;
    let app = harness.start(false).await;
    let receiver = Receiver::start().await;
    receiver.script("/flaky", &[500, 500, 500]);
    let channel = app
        .api
        .create_channel(json!({"name": "flaky", "kind": "webhook", "url": receiver.url("/flaky"),
                              "events": ["slo.status.changed"]}))
        .await;
    let channel = channel["id"].as_str().unwrap().to_owned();
    // Creating an objective changes its status: one event.
    small_budget_objective(&app.api).await;
    assert!(app.api.metrics().await.contains("slod_outbox_pending 1\n"));

    let start = harness.now();
    let run = app.deliver(start).await;
    assert_eq!((run.attempted, run.retrying), (1, 1));
    // Retries after 1 s, 2 s, 4 s: nothing is due before each.
    for (wait_ms, delivered) in [(1000, false), (2000, false), (4000, true)] {
        let due_at = harness.now().plus_millis(wait_ms);
        harness.clock.set(due_at.minus_millis(1));
        assert_eq!(app.deliver(harness.now()).await.attempted, 0, "not due yet");
        harness.clock.set(due_at);
        let run = app.deliver(due_at).await;
        assert_eq!(run.attempted, 1);
        assert_eq!(run.delivered, usize::from(delivered));
    }
    assert_eq!(app.deliver(harness.now().plus_millis(3_600_000)).await.attempted, 0);

    let got = receiver.requests_to("/flaky");
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    let ids: Vec<&str> = got.iter().map(|r| r.header("x-slod-delivery").unwrap()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "the delivery id is stable across retries");
    assert!(got.iter().all(|r| r.body == got[0].body), "the same body every time");

    let deliveries = app.api.deliveries(&channel).await;
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(delivery["attemptCount"], 4);
    assert_eq!(delivery["deliveredAt"], start.plus_millis(7000).to_rfc3339());
    let codes: Vec<&Value> =
        delivery["attempts"].as_array().unwrap().iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(500), &json!(200)]);
    assert!(delivery["attempts"][0]["error"].as_str().unwrap().contains("500"));
    assert!(delivery["attempts"][3]["error"].is_null());

    // SPEC §15: every attempt counted by channel type and result.
    let metrics = app.api.metrics().await;
    for line in [
        r#"slod_notification_deliveries_total{channel_type="webhook",result="failed"} 3"#,
        r#"slod_notification_deliveries_total{channel_type="webhook",result="delivered"} 1"#,
        r#"slod_notification_deliveries_total{channel_type="slack",result="delivered"} 0"#,
        "slod_outbox_pending 0\n",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_restart_does_not_resend_a_threshold_event() {
    let harness = Harness::new().await;
    let receiver = Receiver::start().await;
    let app = harness.start(false).await;
    app.api
        .create_channel(json!({"name": "alerts", "kind": "webhook", "url": receiver.url("/a"),
                              "events": ["slo.budget.warning", "slo.budget.critical"]}))
        .await;
    small_budget_objective(&app.api).await;
    app.api.report("api", "unhealthy", 0.0).await;
    harness.set_now(8.0);
    // The warning, and a fast burn and the three burn-rate tiers (not
    // subscribed): 8 minutes down of a 1-day window crosses all three.
    assert_eq!(app.notifier.evaluate_alerts(harness.now()).await.unwrap(), 5);
    app.deliver(harness.now()).await;
    assert_eq!(receiver.events_to("/a", "slo.budget.warning").len(), 1);
    app.shutdown().await;

    // A new process on the same database judges the same objective again.
    let app = harness.start(false).await;
    harness.set_now(9.0);
    assert_eq!(app.notifier.evaluate_alerts(harness.now()).await.unwrap(), 0);
    app.api.report("api", "healthy", 9.0).await;
    app.deliver(harness.now()).await;
    assert_eq!(receiver.events_to("/a", "slo.budget.warning").len(), 1, "not sent again");
    assert_eq!(receiver.requests_to("/a").len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn an_ongoing_outage_crosses_thresholds_without_new_reports() {
    let harness = Harness::new().await;
    let receiver = Receiver::start().await;
    let app = harness.start(false).await;
    app.api
        .create_channel(json!({"name": "budget", "kind": "webhook", "url": receiver.url("/b"),
                              "events": ["slo.budget.warning", "slo.budget.critical",
                                         "slo.budget.exhausted", "slo.burn.fast"]}))
        .await;
    let objective = small_budget_objective(&app.api).await;
    app.api.report("api", "unhealthy", 0.0).await;
    app.deliver(harness.now()).await;
    assert_eq!(receiver.requests_to("/b").len(), 0, "nothing consumed yet at the report");
    let mut seen = Vec::new();
    for minute in [1.0, 5.0, 7.0, 7.5, 11.0, 12.0, 14.0, 15.0, 16.0] {
        harness.set_now(minute);
        app.notifier.evaluate_alerts(harness.now()).await.unwrap();
        app.deliver(harness.now()).await;
        let types: Vec<String> = receiver
            .requests_to("/b")
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_owned())
            .collect();
        seen.push((minute, types.len()));
        if minute == 16.0 {
            assert_eq!(
                types,
                [
                    "slo.burn.fast",
                    "slo.budget.warning",
                    "slo.budget.critical",
                    "slo.budget.exhausted"
                ]
            );
        }
    }
    // A fully-down system burns a 99 % budget at 100x: the 5 m rate is
    // past 5x at once, the 1 h rate from 3 minutes on (fast burn at 5);
    // warning past 7.2 minutes, critical past 11.52, exhausted past 14.4.
    assert_eq!(
        seen,
        [
            (1.0, 0),
            (5.0, 1),
            (7.0, 1),
            (7.5, 2),
            (11.0, 2),
            (12.0, 3),
            (14.0, 3),
            (15.0, 4),
            (16.0, 4)
        ]
    );
    let critical = receiver.events_to("/b", "slo.budget.critical");
    let data = critical[0].json()["data"].clone();
    assert_eq!(data["objectiveId"], objective.as_str());
    assert_eq!(data["target"], 99.0);
    let exhausted = receiver.events_to("/b", "slo.budget.exhausted")[0].json()["data"].clone();
    let mut keys: Vec<String> = exhausted.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["objectiveId", "systemId", "target"]);
    let burn = receiver.events_to("/b", "slo.burn.fast")[0].json()["data"].clone();
    assert!(burn["burnRate1h"].as_f64().unwrap() >= 5.0);
    assert!(burn["burnRate5m"].as_f64().unwrap() >= 5.0);

    // Recovery re-arms fast burn (5 m rate falls to 0), silently; the next
    // outage fires it again, but budget events stay fired.
    harness.set_now(20.0);
    app.api.report("api", "healthy", 20.0).await;
    harness.set_now(30.0);
    app.api.report("api", "unhealthy", 30.0).await;
    harness.set_now(31.0);
    app.notifier.evaluate_alerts(harness.now()).await.unwrap();
    app.deliver(harness.now()).await;
    assert_eq!(receiver.events_to("/b", "slo.burn.fast").len(), 2);
    assert_eq!(receiver.requests_to("/b").len(), 5);
    app.shutdown().await;
}

#[tokio::test]
async fn channel_filters_hold() {
    let harness = Harness::new().await;
    let receiver = Receiver::start().await;
    let app = harness.start(false).await;
    app.api
        .create_channel(
            json!({"name": "everything", "kind": "webhook", "url": receiver.url("/all")}),
        )
        .await;
    app.api
        .create_channel(json!({"name": "warnings", "kind": "webhook", "url": receiver.url("/warn"),
                              "events": ["slo.budget.warning"]}))
        .await;
    let status_only = app
        .api
        .create_channel(json!({"name": "status", "kind": "webhook", "url": receiver.url("/status"),
                              "events": ["slo.status.changed", "slo.status.changed"]}))
        .await;
    assert_eq!(status_only["events"], json!(["slo.status.changed"]));
    assert_eq!(status_only["allEvents"], false);

    small_budget_objective(&app.api).await;
    app.api.report("api", "unhealthy", 0.0).await;
    harness.set_now(8.0);
    app.api.report("api", "healthy", 8.0).await;
    app.deliver(harness.now()).await;

    let types = |path: &str| -> Vec<String> {
        receiver
            .requests_to(path)
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_owned())
            .collect()
    };
    // Status changes: objective created, event opened, event closed; the
    // 8-minute outage also crossed the warning and burned fast. (The
    // recovery may unlock an achievement too: "all" means all.)
    let all = types("/all");
    let count = |list: &[String], t: &str| list.iter().filter(|x| *x == t).count();
    assert_eq!(count(&all, "slo.status.changed"), 3, "{all:?}");
    assert_eq!(count(&all, "slo.budget.warning"), 1, "{all:?}");
    assert_eq!(count(&all, "slo.burn.fast"), 1, "{all:?}");
    assert_eq!(types("/warn"), ["slo.budget.warning"]);
    assert_eq!(types("/status"), ["slo.status.changed"; 3]);

    // Narrowing a subscription applies to later events.
    let id = status_only["id"].as_str().unwrap();
    let (code, body, _) =
        app.api.patch(&format!("/channels/{id}"), json!({"events": ["slo.weekly.digest"]})).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    harness.set_now(10.0);
    app.api.report("api", "unhealthy", 10.0).await;
    app.deliver(harness.now()).await;
    assert_eq!(types("/status").len(), 3);
    assert_eq!(count(&types("/all"), "slo.status.changed"), 4);
    app.shutdown().await;
}

#[tokio::test]
async fn slack_and_teams_get_readable_messages() {
    let harness = Harness::new().await;
    let receiver = Receiver::start().await;
    let app = harness.start(false).await;
    app.api
        .create_channel(json!({"name": "slack", "kind": "slack", "url": receiver.url("/slack"),
                              "events": ["slo.budget.warning"]}))
        .await;
    app.api
        .create_channel(json!({"name": "teams", "kind": "teams", "url": receiver.url("/teams"),
                              "events": ["slo.budget.warning"]}))
        .await;
    small_budget_objective(&app.api).await;
    app.api.report("api", "unhealthy", 0.0).await;
    harness.set_now(8.0);
    app.api.report("api", "healthy", 8.0).await;
    app.deliver(harness.now()).await;

    let slack = receiver.requests_to("/slack");
    assert_eq!(slack.len(), 1);
    let message = slack[0].json();
    let text = message["text"].as_str().unwrap();
    // The system's name (not its id), the objective, the budget left.
    assert!(text.contains("API"), "{text}");
    assert!(text.contains("99 % over 1 day"), "{text}");
    assert!(text.contains("44.4 % left"), "{text}");
    assert!(!text.contains("http"), "link-free: {text}");
    assert!(message["blocks"].is_array());
    assert!(slack[0].header("x-slod-signature").is_none());

    let teams = receiver.requests_to("/teams");
    assert_eq!(teams.len(), 1);
    let card = teams[0].json();
    assert_eq!(card["@type"], "MessageCard");
    assert_eq!(card["title"], "Error budget warning: API");
    let facts = card["sections"][0]["facts"].as_array().unwrap();
    let fact = |name: &str| facts.iter().find(|f| f["name"] == name).unwrap()["value"].clone();
    assert_eq!(fact("System"), "API");
    assert_eq!(fact("Objective"), "99 % over 1 day");
    assert_eq!(fact("Budget left"), "44.4 %");
    app.shutdown().await;
}

// ---- Channels API.

#[tokio::test]
async fn secrets_never_appear_in_any_response() {
    let harness = Harness::new().await;
    let receiver = Receiver::start().await;
    let app = harness.start(false).await;
    let leaks = |text: &str| text.contains(SECRET) || text.contains("slackTOKENxyz");

    let (code, hook, text) = app
        .api
        .post(
            "/channels",
            json!({"name": "hook", "kind": "webhook", "url": receiver.url("/h"), "secret": SECRET}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert!(!leaks(&text), "{text}");
    assert_eq!(hook["hasSecret"], true);
    assert_eq!(hook["allEvents"], true);
    assert_eq!(hook["events"].as_array().unwrap().len(), 10);
    assert!(hook.get("secret").is_none());
    let hook_id = hook["id"].as_str().unwrap().to_owned();

    let slack_url = format!("{}/services/{SLACK_TOKEN}", receiver.url(""));
    let (code, slack, text) = app
        .api
        .post("/channels", json!({"name": "slack", "kind": "slack", "url": slack_url}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{slack}");
    assert!(!leaks(&text), "{text}");
    assert_eq!(slack["hasSecret"], false);
    assert!(slack["url"].as_str().unwrap().ends_with("/***"), "{slack}");
    let slack_id = slack["id"].as_str().unwrap().to_owned();

    small_budget_objective(&app.api).await;
    app.deliver(harness.now()).await;
    // The webhook got the secret's signature, Slack its token path.
    assert_eq!(receiver.requests_to("/h").len(), 1);
    assert_eq!(receiver.requests_to(&format!("/services/{SLACK_TOKEN}")).len(), 1);

    let mut texts = Vec::new();
    for path in [
        "/channels".to_owned(),
        format!("/channels/{hook_id}"),
        format!("/channels/{slack_id}"),
        format!("/channels/{hook_id}/deliveries"),
        format!("/channels/{slack_id}/deliveries"),
    ] {
        let (code, _, text) = app.api.get(&path).await;
        assert_eq!(code, StatusCode::OK, "{path}");
        texts.push(text);
    }
    texts.push(app.api.post(&format!("/channels/{hook_id}/test"), json!({})).await.2);
    texts.push(app.api.post(&format!("/channels/{slack_id}/test"), json!({})).await.2);
    texts.push(app.api.patch(&format!("/channels/{hook_id}"), json!({"name": "renamed"})).await.2);
    // Errors do not echo a rejected credential either.
    texts.push(
        app.api
            .post(
                "/channels",
                json!({"name": "x", "kind": "webhook", "url": format!("ftp://h/{SECRET}")}),
            )
            .await
            .2,
    );
    texts.push(app.api.patch(&format!("/channels/{slack_id}"), json!({"secret": SECRET})).await.2);
    for text in &texts {
        assert!(!leaks(text), "{text}");
    }

    // Removing the secret: `hasSecret` turns false, and requests are unsigned.
    let (code, body, _) =
        app.api.patch(&format!("/channels/{hook_id}"), json!({"secret": null})).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["hasSecret"], false);
    app.api.post(&format!("/channels/{hook_id}/test"), json!({})).await;
    let last = receiver.requests_to("/h").pop().unwrap();
    assert!(last.header("x-slod-signature").is_none());
    app.shutdown().await;
}

#[tokio::test]
async fn bad_channel_input_is_refused_without_writes() {
    let harness = Harness::new().await;
    let app = harness.start(false).await;
    let url = "https://hooks.example.com/x";
    let cases = [
        (json!({"name": "a", "kind": "pager", "url": url}), "kind"),
        (json!({"name": "a", "kind": "webhook", "url": "ftp://example.com/x"}), "url"),
        (json!({"name": "a", "kind": "webhook", "url": "not a url"}), "url"),
        (json!({"name": "a", "kind": "webhook", "url": "https://"}), "url"),
        (json!({"name": "a", "kind": "webhook"}), "url"),
        (json!({"name": "  ", "kind": "webhook", "url": url}), "name"),
        (json!({"kind": "webhook", "url": url}), "name"),
        (json!({"name": "a", "kind": "webhook", "url": url, "events": ["slo.nope"]}), "events[0]"),
        (
            json!({"name": "a", "kind": "webhook", "url": url, "events": ["slo.budget.warning", 3]}),
            "events[1]",
        ),
        (json!({"name": "a", "kind": "webhook", "url": url, "events": []}), "events"),
        (
            json!({"name": "a", "kind": "webhook", "url": url, "events": "slo.budget.warning"}),
            "events",
        ),
        (json!({"name": "a", "kind": "webhook", "url": url, "secret": ""}), "secret"),
        (json!({"name": "a", "kind": "webhook", "url": url, "secret": 42}), "secret"),
        (json!({"name": "a", "kind": "slack", "url": url, "secret": "s"}), "secret"),
        (json!({"name": "a", "kind": "webhook", "url": url, "colour": "red"}), "colour"),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        let (code, error, _) = app.api.post("/channels", body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_error(&error, "validation_failed", Some(field));
    }
    let (code, list, _) = app.api.get("/channels").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list["channels"], json!([]), "nothing was written");

    let channel = app.api.create_channel(json!({"name": "a", "kind": "slack", "url": url})).await;
    let id = channel["id"].as_str().unwrap();
    for (body, field) in [
        (json!({"kind": "sms"}), "kind"),
        (json!({"url": "gopher://x"}), "url"),
        (json!({"events": ["slo.nope"]}), "events[0]"),
        (json!({"secret": "s"}), "secret"),
        (json!({"id": "other"}), "id"),
    ] {
        let (code, error, _) = app.api.patch(&format!("/channels/{id}"), body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_error(&error, "validation_failed", Some(field));
    }
    let (_, unchanged, _) = app.api.get(&format!("/channels/{id}")).await;
    assert_eq!(unchanged, channel);
    // Switching to a webhook and adding a secret in one change is fine.
    let (code, body, _) = app
        .api
        .patch(
            &format!("/channels/{id}"),
            json!({"kind": "webhook", "secret": "s", "events": null}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["hasSecret"], true);
    assert_eq!(body["url"], url);

    for (method, path) in [
        ("GET", "/channels/nope"),
        ("PATCH", "/channels/nope"),
        ("DELETE", "/channels/nope"),
        ("POST", "/channels/nope/test"),
        ("GET", "/channels/nope/deliveries"),
    ] {
        let (code, error, _) = match method {
            "GET" => app.api.get(path).await,
            "PATCH" => app.api.patch(path, json!({"name": "x"})).await,
            "DELETE" => app.api.delete(path).await,
            _ => app.api.post(path, json!({})).await,
        };
        assert_eq!(code, StatusCode::NOT_FOUND, "{method} {path}");
        assert_error(&error, "not_found", None);
    }
    let (code, error, _) = app.api.get(&format!("/channels/{id}/deliveries?limit=0")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&error, "validation_failed", Some("limit"));

    let (code, _, _) = app.api.delete(&format!("/channels/{id}")).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    assert_eq!(app.api.get("/channels").await.1["channels"], json!([]));
    app.shutdown().await;
}

#[tokio::test]
async fn the_test_endpoint_reports_the_outcome() {
    let harness = Harness::new().await;
    let receiver = Receiver::start().await;
    receiver.set_default("/down", 503);
    let app = harness.start(false).await;
    let ok = app
        .api
        .create_channel(
            json!({"name": "ok", "kind": "webhook", "url": receiver.url("/ok"), "secret": SECRET}),
        )
        .await;
    let down = app
        .api
        .create_channel(json!({"name": "down", "kind": "teams", "url": receiver.url("/down")}))
        .await;
    // A port nothing listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        app.api.create_channel(json!({"name": "closed", "kind": "webhook", "url": format!("http://127.0.0.1:{port}/")})).await
    };

    let test = |channel: &Value| {
        let path = format!("/channels/{}/test", channel["id"].as_str().unwrap());
        let api = app.api.clone();
        async move {
            let (code, body, _) = api.post(&path, json!({})).await;
            assert_eq!(code, StatusCode::OK, "{body}");
            body
        }
    };
    let outcome = test(&ok).await;
    assert_eq!(outcome["delivered"], true);
    assert_eq!(outcome["statusCode"], 200);
    assert!(outcome["error"].is_null());
    let request = receiver.requests_to("/ok").pop().unwrap();
    assert_eq!(request.json()["type"], "slo.test");
    assert_eq!(request.header("x-slod-delivery"), outcome["eventId"].as_str());
    let expected = format!("sha256={}", hmac_hex(SECRET, &request.body));
    assert_eq!(request.header("x-slod-signature"), Some(expected.as_str()));

    let outcome = test(&down).await;
    assert_eq!(outcome["delivered"], false);
    assert_eq!(outcome["statusCode"], 503);
    assert!(outcome["error"].as_str().unwrap().contains("503"), "{outcome}");
    assert_eq!(receiver.requests_to("/down")[0].json()["@type"], "MessageCard");

    let outcome = test(&closed).await;
    assert_eq!(outcome["delivered"], false);
    assert!(outcome["statusCode"].is_null());
    assert!(!outcome["error"].as_str().unwrap().is_empty());
    // Test sends are not deliveries.
    assert!(app.api.deliveries(ok["id"].as_str().unwrap()).await.is_empty());
    app.shutdown().await;
}

// ---- The background worker and the live stream.

#[tokio::test]
async fn an_unreachable_channel_does_not_delay_the_others() {
    let harness = Harness::new().await;
    let receiver = Receiver::start().await;
    let app = harness.start(true).await;
    app.api
        .create_channel(json!({"name": "hole", "kind": "webhook", "url": black_hole().await}))
        .await;
    app.api
        .create_channel(json!({"name": "fine", "kind": "webhook", "url": receiver.url("/fine")}))
        .await;
    app.api.create_system("api").await;
    for _ in 0..5 {
        app.api.create_objective("api", 99.9, 30).await;
    }
    // Five status changes; the black hole holds its attempts for the 10 s
    // timeout, yet the healthy channel gets all five well before.
    receiver.wait_for("/fine", 5, Duration::from_secs(8), |_| true).await;
    // No graceful shutdown here: it would wait out the black hole's
    // attempts (10 s each); the server goes with the test's runtime.
    drop(app);
}

#[tokio::test]
async fn the_event_stream_sees_a_status_change() {
    let harness = Harness::new().await;
    let app = harness.start(false).await;
    let (code, error, _) = app.api.get("/events/stream?types=slo.status.changed,bogus").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&error, "validation_failed", Some("types"));

    app.api.create_system("api").await;
    let objective = app.api.create_objective("api", 99.9, 30).await;
    let mut all = app.api.client.get(app.api.url("/events/stream")).send().await.unwrap();
    let mut filtered = app
        .api
        .client
        .get(app.api.url("/events/stream?types=slo.budget.warning"))
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), StatusCode::OK);
    assert_eq!(all.headers()["content-type"], "text/event-stream");

    read_until(&mut all, ": connected").await;
    read_until(&mut filtered, ": connected").await;

    app.api.report("api", "unhealthy", 0.0).await;
    let block = read_block(&mut all, "event: slo.status.changed").await;
    let data: Value = serde_json::from_str(
        block.lines().find_map(|l| l.strip_prefix("data: ")).expect("a data line"),
    )
    .unwrap();
    assert_eq!(data["type"], "slo.status.changed");
    assert_eq!(data["data"]["objectiveId"], objective.as_str());
    assert_eq!(data["data"]["systemId"], "api");
    assert!(block.lines().any(|l| l.starts_with("id: ")), "{block}");

    // The filtered stream saw nothing but its opening comment (a status
    // change is not a warning); give it a moment to prove it.
    let quiet = tokio::time::timeout(Duration::from_millis(700), filtered.chunk()).await;
    if let Ok(chunk) = quiet {
        let chunk = chunk.unwrap().unwrap_or_default();
        assert!(!String::from_utf8_lossy(&chunk).contains("event:"), "{chunk:?}");
    }
    drop(all);
    drop(filtered);
    app.shutdown().await;
}

/// Reads the stream until `needle` has arrived; returns what was read.
async fn read_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !text.contains(needle) {
            let chunk = response.chunk().await.unwrap().expect("the stream ended");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} within 10 s; got {text:?}"));
    text
}

/// Reads the stream until a whole SSE block (ended by a blank line)
/// containing `needle` has arrived, and returns that block.
async fn read_block(response: &mut reqwest::Response, needle: &str) -> String {
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(block) = text
                .split("\n\n")
                .collect::<Vec<_>>()
                .split_last()
                .and_then(|(_, whole)| whole.iter().find(|b| b.contains(needle)))
            {
                return block.to_string();
            }
            let chunk = response.chunk().await.unwrap().expect("the stream ended");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no block with {needle:?} within 10 s"))
}

// ---- The real binary: kill -9 between attempts, and real time.

struct Binary {
    child: Child,
    base: String,
}

async fn start_binary(database: &Path) -> Binary {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slod"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(format!("sqlite://{}", database.display()))
        .env("RUST_LOG", "info")
        .env_remove("SLOD_LISTEN")
        .env_remove("SLOD_DATABASE")
        .env_remove("SLOD_DEMO")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    for reader in
        [Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>, Box::new(stderr)]
    {
        let sender = sender.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(reader).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = sender.send(line);
            }
        });
    }
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines.recv().await.expect("the server exited before listening");
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
    })
    .await
    .expect("no `listening on` line within 60 s");
    // Keep draining the logs so the server never blocks on a full pipe.
    tokio::spawn(async move { while lines.recv().await.is_some() {} });
    Binary { child, base: format!("http://{address}/api/v1") }
}

fn now_minus(seconds: i64) -> String {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis() - seconds * 1000).to_rfc3339()
}

#[tokio::test]
async fn kill_9_between_attempts_still_delivers_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("slod.db");
    let receiver = Receiver::start().await;
    receiver.set_default("/hook", 500);

    let mut server = start_binary(&database).await;
    let api = Api::new(server.base.clone());
    let channel = api
        .create_channel(json!({"name": "hook", "kind": "webhook", "url": receiver.url("/hook"),
                              "events": ["slo.status.changed"]}))
        .await;
    let channel = channel["id"].as_str().unwrap().to_owned();
    api.create_system("api").await;
    api.create_objective("api", 99.9, 30).await;

    // The first attempt fails and is recorded; the retry is a second away.
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let deliveries = api.deliveries(&channel).await;
            if deliveries.first().is_some_and(|d| d["attemptCount"].as_u64() >= Some(1)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a first attempt within 30 s");
    server.child.kill().await.unwrap();
    let failed = receiver.requests_to("/hook").len();
    assert!(failed >= 1);

    receiver.set_default("/hook", 200);
    let mut server = start_binary(&database).await;
    let api = Api::new(server.base.clone());
    // Normally within a second; a lease left by an attempt in flight at the
    // kill expires after 60 s.
    let got = receiver.wait_for("/hook", 1, Duration::from_secs(90), |r| r.status == 200).await;
    assert_eq!(got.len(), 1);
    let all = receiver.requests_to("/hook");
    let id = all[0].header("x-slod-delivery").unwrap().to_owned();
    assert!(all.iter().all(|r| r.header("x-slod-delivery") == Some(id.as_str())));
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let deliveries = api.deliveries(&channel).await;
            if deliveries[0]["state"] == "delivered" {
                assert!(deliveries[0]["attemptCount"].as_u64().unwrap() >= 2);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("recorded as delivered");
    server.child.kill().await.unwrap();
}

#[tokio::test]
async fn budget_burning_without_reports_alerts_within_a_minute_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("slod.db");
    let receiver = Receiver::start().await;
    let mut server = start_binary(&database).await;
    let api = Api::new(server.base.clone());
    api.create_channel(json!({"name": "alerts", "kind": "webhook", "url": receiver.url("/alerts"),
                              "events": ["slo.budget.warning", "slo.budget.critical"]}))
        .await;
    api.create_system("api").await;
    // 99.9 % over one day: 86.4 s of budget. Down for the last 60 s: the
    // warning (43.2 s) fires with the report; critical (69.1 s) about 9 s
    // later, with no report, from the 30-second evaluator.
    api.create_objective("api", 99.9, 1).await;
    let (code, body, _) = api
        .post("/health", json!({"systemId": "api", "status": "unhealthy", "at": now_minus(60)}))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let is = |t: &'static str| move |r: &crate::receiver::Received| r.json()["type"] == t;
    receiver.wait_for("/alerts", 1, Duration::from_secs(10), is("slo.budget.warning")).await;
    receiver.wait_for("/alerts", 1, Duration::from_secs(60), is("slo.budget.critical")).await;

    // kill -9 and restart: the evaluator runs at start and every 30 s, the
    // thresholds are still crossed, and nothing is sent again.
    server.child.kill().await.unwrap();
    let mut server = start_binary(&database).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.events_to("/alerts", "slo.budget.warning").len(), 1);
    assert_eq!(receiver.events_to("/alerts", "slo.budget.critical").len(), 1);
    server.child.kill().await.unwrap();
}
