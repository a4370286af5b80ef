//! Burn-rate alert tiers end to end (SPEC §12, issue 11 item 3): the
//! `burnRateAlerts` of objectives through the API, and `slo.burn.alert`
//! reaching a webhook channel once per crossing.
//!
//! The server runs in-process on a manual clock with the background workers
//! off; the tests drive the 30-second evaluator and the delivery worker by
//! hand (`evaluate_alerts`, `deliver_due`), as `notify` does, so every
//! crossing happens at the minute the arithmetic below says.
//!
//! The arithmetic: a 99.9 % objective may spend 0.1 % of its window, so a
//! system fully down for `d` minutes of a `w`-minute burn window burns at
//! `(d / w) / 0.001 = 1000 d / w`. A tier fires once both its long and its
//! short window burn at or above `budgetPercent / 100 × window / longWindow`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use slod::clock::ManualClock;
use slod::config::Settings;
use slod::notify::Notifier;
use slod::startup::Application;
use slod_core::time::{Timestamp, MINUTE_MS};
use slod_store_postgres::testing::{self as pg_testing, TestDatabase};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::{assert_error, at, t0};
use crate::receiver::Receiver;

struct App {
    base: String,
    client: reqwest::Client,
    clock: Arc<ManualClock>,
    notifier: Arc<Notifier>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: TempDir,
    _database: Option<TestDatabase>,
}

impl App {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, database) = match pg_testing::admin_url_from_env() {
            Some(admin) => {
                let (url, database) = pg_testing::fresh_database(&admin).await.unwrap();
                (url, Some(database))
            }
            None => (format!("sqlite://{}/slod.db", dir.path().display()), None),
        };
        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url,
            database_pool_size: 4,
            demo: false,
        };
        let clock = Arc::new(ManualClock::new(t0()));
        let app = Application::build(&settings, clock.clone())
            .await
            .unwrap()
            .without_scheduler()
            .without_notify_workers();
        let notifier = app.notifier();
        let base = format!("http://{}/api/v1", app.address());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let client =
            reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();
        Self {
            base,
            client,
            clock,
            notifier,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
            _database: database,
        }
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task).await.unwrap().unwrap().unwrap();
        }
    }

    /// `T0 + minutes` (to the millisecond).
    fn instant(minutes: f64) -> Timestamp {
        t0().plus_millis(minutes_ms(minutes))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(format!("{}{path}", self.base)).json(&body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.patch(format!("{}{path}", self.base)).json(&body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(format!("{}{path}", self.base))).await
    }

    async fn create_system(&self, id: &str) {
        let (code, body) = self
            .send(
                self.client
                    .put(format!("{}/systems/{id}", self.base))
                    .json(&json!({"name": id.to_uppercase()})),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }

    /// A 99.9 % objective created long ago (no downtime in any window).
    async fn objective(&self, system: &str, window_days: u32, extra: Value) -> Value {
        let mut body = json!({"systemId": system, "target": 99.9, "windowDays": window_days,
                              "createdAt": at(-400 * 24 * 60)});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        let (code, objective) = self.post("/objectives", body).await;
        assert_eq!(code, StatusCode::CREATED, "{objective}");
        objective
    }

    /// A webhook channel receiving only `slo.burn.alert`.
    async fn channel(&self, receiver: &Receiver) {
        let (code, body) = self
            .post(
                "/channels",
                json!({"name": "tiers", "kind": "webhook", "url": receiver.url("/tiers"),
                       "events": ["slo.burn.alert"]}),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }

    /// A report at `T0 + minutes`, with the clock moved there.
    async fn report(&self, system: &str, status: &str, minutes: f64) {
        self.clock.set(Self::instant(minutes));
        let at = Self::instant(minutes).to_rfc3339();
        let (code, body) =
            self.post("/health", json!({"systemId": system, "status": status, "at": at})).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        self.notifier.deliver_due(Self::instant(minutes)).await.unwrap();
    }

    /// Moves the clock, runs the 30-second evaluator once and delivers.
    async fn tick(&self, minutes: f64) {
        let now = Self::instant(minutes);
        self.clock.set(now);
        self.notifier.evaluate_alerts(now).await.unwrap();
        self.notifier.deliver_due(now).await.unwrap();
    }
}

#[allow(clippy::cast_possible_truncation)]
fn minutes_ms(minutes: f64) -> i64 {
    (minutes * MINUTE_MS as f64).round() as i64
}

/// The `slo.burn.alert` payloads the receiver got, oldest first.
fn alerts(receiver: &Receiver) -> Vec<Value> {
    receiver
        .events_to("/tiers", "slo.burn.alert")
        .iter()
        .map(|r| r.json()["data"].clone())
        .collect()
}

/// `(severity, longWindow, shortWindow)` of each payload.
fn tiers_of(alerts: &[Value]) -> Vec<(String, String, String)> {
    alerts
        .iter()
        .map(|a| {
            let text = |key: &str| a[key].as_str().unwrap().to_owned();
            (text("severity"), text("longWindow"), text("shortWindow"))
        })
        .collect()
}

fn tier(severity: &str, long: &str, short: &str) -> (String, String, String) {
    (severity.to_owned(), long.to_owned(), short.to_owned())
}

fn close(value: &Value, expected: f64) {
    let actual = value.as_f64().unwrap_or_else(|| panic!("not a number: {value}"));
    assert!((actual - expected).abs() < 1e-6, "{actual} != {expected}");
}

/// Runs the evaluator at each minute and records how many alerts had
/// arrived by then.
async fn counts_at(app: &App, receiver: &Receiver, minutes: &[f64]) -> Vec<(f64, usize)> {
    let mut seen = Vec::new();
    for &minute in minutes {
        app.tick(minute).await;
        seen.push((minute, alerts(receiver).len()));
    }
    seen
}

#[tokio::test]
async fn an_outage_fires_each_tier_once_as_it_crosses_at_thirty_days() {
    let app = App::start().await;
    let receiver = Receiver::start().await;
    app.channel(&receiver).await;
    app.create_system("api").await;
    let objective = app.objective("api", 30, json!({})).await;
    let id = objective["id"].as_str().unwrap().to_owned();
    // Thresholds at 30 days: 2 % × 720 h / 1 h = 14.4; 5 % × 720 h / 6 h = 6;
    // 10 % × 720 h / 72 h = 1. Down from minute 0, at minute t:
    // 1 h: 1000 t / 60 ≥ 14.4 from t = 0.864 (5 m: 1000 t / 5, long past);
    // 6 h: 1000 t / 360 ≥ 6 from t = 2.16 (30 m: 1000 t / 30);
    // 72 h: 1000 t / 4320 ≥ 1 from t = 4.32 (6 h: 1000 t / 360).
    app.report("api", "unhealthy", 0.0).await;
    let seen = counts_at(&app, &receiver, &[0.8, 0.9, 2.1, 2.2, 4.3, 4.4, 10.0]).await;
    assert_eq!(seen, [(0.8, 0), (0.9, 1), (2.1, 1), (2.2, 2), (4.3, 2), (4.4, 3), (10.0, 3)]);
    let fired = alerts(&receiver);
    assert_eq!(
        tiers_of(&fired),
        [tier("page", "1h", "5m"), tier("page", "6h", "30m"), tier("ticket", "72h", "6h")]
    );
    // The page at minute 0.9: 1 h at 1000 × 0.9 / 60 = 15, 5 m at 180.
    let page = &fired[0];
    assert_eq!(page["systemId"], "api");
    assert_eq!(page["objectiveId"], id.as_str());
    close(&page["burnRateLong"], 15.0);
    close(&page["burnRateShort"], 180.0);
    close(&page["threshold"], 14.4);
    let mut keys: Vec<&String> = page.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "burnRateLong",
            "burnRateShort",
            "longWindow",
            "objectiveId",
            "severity",
            "shortWindow",
            "systemId",
            "threshold"
        ]
    );
    // Minute 2.2: 6 h at 1000 × 2.2 / 360 = 6.11, 30 m at 73.3.
    close(&fired[1]["burnRateLong"], 2200.0 / 360.0);
    close(&fired[1]["burnRateShort"], 2200.0 / 30.0);
    close(&fired[1]["threshold"], 6.0);
    // Minute 4.4: 72 h at 4400 / 4320, 6 h at 4400 / 360.
    close(&fired[2]["burnRateLong"], 4400.0 / 4320.0);
    close(&fired[2]["burnRateShort"], 4400.0 / 360.0);
    close(&fired[2]["threshold"], 1.0);

    // A report repeating the status, and the evaluator again: nothing new.
    app.report("api", "unhealthy", 10.0).await;
    app.report("api", "degraded", 11.0).await;
    app.tick(12.0).await;
    assert_eq!(alerts(&receiver).len(), 3);

    // Recovery at minute 12; nothing fires while up. The report starting
    // the next outage, at minute 50, sees the 5 m and 30 m windows empty:
    // both pages re-arm (silently). The ticket's 6 h window still burns at
    // 12000 / 360 = 33: it stays fired.
    app.report("api", "healthy", 12.0).await;
    app.tick(45.0).await;
    assert_eq!(alerts(&receiver).len(), 3, "re-arming is silent");
    // The second outage, from minute 50: at 51 the 1 h window holds 13
    // minutes (216.7 ≥ 14.4), 5 m one (200); the 6 h window 13 (36.1 ≥ 6),
    // 30 m one (33.3). Both pages fire again; the ticket does not.
    app.report("api", "unhealthy", 50.0).await;
    app.tick(51.0).await;
    let fired = alerts(&receiver);
    assert_eq!(fired.len(), 5);
    assert_eq!(tiers_of(&fired[3..]), [tier("page", "1h", "5m"), tier("page", "6h", "30m")]);
    close(&fired[3]["burnRateLong"], 13000.0 / 60.0);
    close(&fired[3]["burnRateShort"], 200.0);
    close(&fired[4]["burnRateShort"], 1000.0 / 30.0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_seven_day_window_lowers_the_thresholds() {
    let app = App::start().await;
    let receiver = Receiver::start().await;
    app.channel(&receiver).await;
    app.create_system("api").await;
    app.objective("api", 7, json!({})).await;
    // 7 days = 168 h: thresholds 2 % × 168 = 3.36, 5 % × 168 / 6 = 1.4 and
    // 10 % × 168 / 72 = 0.2333…. Down from 0, at minute t: 1 h ≥ 3.36 from
    // t = 0.2016; 6 h ≥ 1.4 from t = 0.504; 72 h ≥ 0.2333 from t = 1.008.
    app.report("api", "unhealthy", 0.0).await;
    let seen = counts_at(&app, &receiver, &[0.2, 0.21, 0.5, 0.51, 1.0, 1.01, 3.0]).await;
    assert_eq!(seen, [(0.2, 0), (0.21, 1), (0.5, 1), (0.51, 2), (1.0, 2), (1.01, 3), (3.0, 3)]);
    let fired = alerts(&receiver);
    assert_eq!(
        tiers_of(&fired),
        [tier("page", "1h", "5m"), tier("page", "6h", "30m"), tier("ticket", "72h", "6h")]
    );
    close(&fired[0]["threshold"], 3.36);
    close(&fired[0]["burnRateLong"], 210.0 / 60.0);
    close(&fired[1]["threshold"], 1.4);
    close(&fired[1]["burnRateLong"], 510.0 / 360.0);
    close(&fired[2]["threshold"], 0.7 / 3.0);
    close(&fired[2]["burnRateLong"], 1010.0 / 4320.0);
    app.shutdown().await;
}

/// SPEC §17: a calendar objective's tiers scale with its period. T0 is
/// 1 March 2026 00:00 UTC, 01:00 in Berlin: the period is March, which
/// loses an hour to summer time (743 h), so the thresholds are
/// 2 % × 743 = 14.86, 5 % × 743 / 6 = 6.19… and 10 % × 743 / 72 = 1.03…,
/// a little above a 30-day objective's 14.4, 6 and 1 (720 h). Down from 0,
/// at minute t the calendar tiers fire from t = 0.8916, 2.229 and 4.458;
/// the rolling ones from 0.864, 2.16 and 4.32.
#[tokio::test]
async fn a_calendar_objectives_tiers_use_the_length_of_its_period() {
    let app = App::start().await;
    let receiver = Receiver::start().await;
    app.channel(&receiver).await;
    app.create_system("api").await;
    let rolling = app.objective("api", 30, json!({})).await;
    let (code, calendar) = app
        .post(
            "/objectives",
            json!({"systemId": "api", "target": 99.9,
                   "calendar": {"unit": "month", "timeZone": "Europe/Berlin"},
                   "createdAt": at(-400 * 24 * 60)}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{calendar}");
    let per_objective = |receiver: &Receiver, objective: &Value| {
        alerts(receiver).iter().filter(|a| a["objectiveId"] == objective["id"]).count()
    };
    app.report("api", "unhealthy", 0.0).await;
    let mut seen = Vec::new();
    for minute in [0.88, 0.9, 2.2, 2.24, 4.4, 4.46, 10.0] {
        app.tick(minute).await;
        seen.push((
            minute,
            per_objective(&receiver, &rolling),
            per_objective(&receiver, &calendar),
        ));
    }
    assert_eq!(
        seen,
        [
            (0.88, 1, 0),
            (0.9, 1, 1),
            (2.2, 2, 1),
            (2.24, 2, 2),
            (4.4, 3, 2),
            (4.46, 3, 3),
            (10.0, 3, 3)
        ]
    );
    let fired: Vec<Value> =
        alerts(&receiver).into_iter().filter(|a| a["objectiveId"] == calendar["id"]).collect();
    assert_eq!(
        tiers_of(&fired),
        [tier("page", "1h", "5m"), tier("page", "6h", "30m"), tier("ticket", "72h", "6h")]
    );
    close(&fired[0]["threshold"], 14.86);
    close(&fired[0]["burnRateLong"], 900.0 / 60.0);
    close(&fired[1]["threshold"], 5.0 * 743.0 / 600.0);
    close(&fired[2]["threshold"], 743.0 / 720.0);
    // The status agrees: March's budget is 0.1 % of 743 h.
    let (_, read) = app.get(&format!("/objectives/{}", calendar["id"].as_str().unwrap())).await;
    close(&read["status"]["errorBudgetTotalMinutes"], 743.0 * 60.0 * 0.001);
    assert_eq!(read["status"]["period"]["start"], "2026-02-28T23:00:00.000Z");
    app.shutdown().await;
}

#[tokio::test]
async fn a_short_outage_fires_only_the_tiers_it_crosses() {
    let app = App::start().await;
    let receiver = Receiver::start().await;
    app.channel(&receiver).await;
    app.create_system("api").await;
    app.objective("api", 30, json!({})).await;
    // One minute down (1 h at 16.7 ≥ 14.4; 6 h at 2.8 < 6; 72 h at 0.23 < 1),
    // judged by the recovery report itself: the fast page only.
    app.report("api", "unhealthy", 0.0).await;
    app.report("api", "healthy", 1.0).await;
    app.tick(1.5).await;
    assert_eq!(tiers_of(&alerts(&receiver)), [tier("page", "1h", "5m")]);
    app.shutdown().await;
}

#[tokio::test]
async fn tiers_are_stored_returned_and_edited_through_the_api() {
    let app = App::start().await;
    let receiver = Receiver::start().await;
    app.channel(&receiver).await;
    app.create_system("api").await;
    let defaults = json!([
        {"severity": "page", "longWindow": "1h", "shortWindow": "5m", "budgetPercent": 2.0},
        {"severity": "page", "longWindow": "6h", "shortWindow": "30m", "budgetPercent": 5.0},
        {"severity": "ticket", "longWindow": "72h", "shortWindow": "6h", "budgetPercent": 10.0}
    ]);
    let created = app.objective("api", 30, json!({})).await;
    assert_eq!(created["burnRateAlerts"], defaults);
    let id = created["id"].as_str().unwrap().to_owned();

    // One custom tier: ticket at 50 % of the budget in 24 h (30 m short):
    // threshold 50 % × 720 / 24 = 15.
    let custom = json!([{"severity": "ticket", "longWindow": "24h", "shortWindow": "30m",
                         "budgetPercent": 50}]);
    let (code, patched) =
        app.patch(&format!("/objectives/{id}"), json!({"burnRateAlerts": custom})).await;
    assert_eq!(code, StatusCode::OK, "{patched}");
    assert_eq!(patched["burnRateAlerts"][0]["longWindow"], "24h");
    assert_eq!(patched["burnRateAlerts"][0]["budgetPercent"], 50.0);
    assert_eq!(patched["burnRateAlerts"].as_array().unwrap().len(), 1);
    let (_, read) = app.get(&format!("/objectives/{id}")).await;
    assert_eq!(read["objective"]["burnRateAlerts"], patched["burnRateAlerts"]);
    // Other fields leave the tiers alone.
    let (code, body) = app.patch(&format!("/objectives/{id}"), json!({"target": 99.9})).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["burnRateAlerts"], patched["burnRateAlerts"]);

    // Down from 0: the 24 h window burns at 1000 t / 1440 ≥ 15 from
    // t = 21.6; the 30 m window long before.
    app.report("api", "unhealthy", 0.0).await;
    let seen = counts_at(&app, &receiver, &[21.5, 21.7]).await;
    assert_eq!(seen, [(21.5, 0), (21.7, 1)]);
    let fired = alerts(&receiver);
    assert_eq!(tiers_of(&fired), [tier("ticket", "24h", "30m")]);
    close(&fired[0]["threshold"], 15.0);

    // An empty list turns tier alerts off; created with one, too.
    let (code, body) = app.patch(&format!("/objectives/{id}"), json!({"burnRateAlerts": []})).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["burnRateAlerts"], json!([]));
    let quiet = app.objective("api", 30, json!({"burnRateAlerts": []})).await;
    assert_eq!(quiet["burnRateAlerts"], json!([]));
    app.tick(30.0).await;
    assert_eq!(alerts(&receiver).len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn bad_tiers_are_refused_naming_the_field_and_change_nothing() {
    let app = App::start().await;
    app.create_system("api").await;
    let objective = app.objective("api", 30, json!({})).await;
    let id = objective["id"].as_str().unwrap().to_owned();
    let good =
        json!({"severity": "page", "longWindow": "1h", "shortWindow": "5m", "budgetPercent": 2});
    let with = |field: &str, value: Value| {
        let mut bad = good.clone();
        bad[field] = value;
        json!([good.clone(), bad])
    };
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("budgetPercent");
    let mut extra = good.clone();
    extra["colour"] = json!("red");
    let cases = [
        (with("severity", json!("email")), "burnRateAlerts[1].severity"),
        (with("severity", json!(1)), "burnRateAlerts[1].severity"),
        (with("longWindow", json!("2h")), "burnRateAlerts[1].longWindow"),
        (with("shortWindow", json!("1h")), "burnRateAlerts[1].shortWindow"),
        (with("shortWindow", json!("6h")), "burnRateAlerts[1].shortWindow"),
        (with("budgetPercent", json!(0)), "burnRateAlerts[1].budgetPercent"),
        (with("budgetPercent", json!(-3)), "burnRateAlerts[1].budgetPercent"),
        (with("budgetPercent", json!(100.5)), "burnRateAlerts[1].budgetPercent"),
        (with("budgetPercent", json!("2")), "burnRateAlerts[1].budgetPercent"),
        (json!([good.clone(), missing]), "burnRateAlerts[1].budgetPercent"),
        (json!([extra]), "burnRateAlerts[0].colour"),
        (json!([good.clone(), 7]), "burnRateAlerts[1]"),
        (json!("1h/5m"), "burnRateAlerts"),
        (Value::Array(vec![good.clone(); 11]), "burnRateAlerts"),
    ];
    for (tiers, field) in cases {
        let (code, body) =
            app.patch(&format!("/objectives/{id}"), json!({"burnRateAlerts": tiers})).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert_error(&body, "validation_failed", Some(field));
        let (code, body) = app
            .post(
                "/objectives",
                json!({"systemId": "api", "target": 99.9, "windowDays": 30, "burnRateAlerts": tiers}),
            )
            .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert_error(&body, "validation_failed", Some(field));
    }
    // Nothing was written: still the defaults, still one objective.
    let (_, read) = app.get(&format!("/objectives/{id}")).await;
    assert_eq!(read["objective"]["burnRateAlerts"], objective["burnRateAlerts"]);
    assert_eq!(read["objective"]["updatedAt"], objective["updatedAt"]);
    let (_, all) = app.get("/objectives").await;
    assert_eq!(all["objectives"].as_array().unwrap().len(), 1);
    // 100 % of the budget and the widest short window are fine.
    let edge = json!([{"severity": "ticket", "longWindow": "72h", "shortWindow": "24h", "budgetPercent": 100}]);
    let (code, body) =
        app.patch(&format!("/objectives/{id}"), json!({"burnRateAlerts": edge})).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    app.shutdown().await;
}

/// Reads the event stream until `needle` has arrived; returns what was read.
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

#[tokio::test]
async fn every_channel_and_the_live_stream_get_the_tier_alert() {
    let app = App::start().await;
    let receiver = Receiver::start().await;
    app.channel(&receiver).await;
    // A channel with no event filter takes every type, this one included.
    let (code, all) = app
        .post("/channels", json!({"name": "all", "kind": "slack", "url": receiver.url("/slack")}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{all}");
    let slack = all["id"].as_str().unwrap().to_owned();
    app.create_system("api").await;
    app.objective("api", 30, json!({})).await;
    let mut stream = app
        .client
        .get(format!("{}/events/stream?types=slo.burn.alert", app.base))
        .send()
        .await
        .unwrap();
    read_until(&mut stream, ": connected").await;

    // One minute down, judged at the recovery: the 1 h page only (16.7 ≥ 14.4).
    app.report("api", "unhealthy", 0.0).await;
    app.report("api", "healthy", 1.0).await;
    let text = read_until(&mut stream, "\n\n").await;
    assert!(text.contains("event: slo.burn.alert"), "{text}");
    let data: Value = serde_json::from_str(
        text.lines().find_map(|l| l.strip_prefix("data: ")).expect("a data line"),
    )
    .unwrap();
    assert_eq!(data["data"]["severity"], "page");
    assert_eq!(data["data"]["longWindow"], "1h");
    close(&data["data"]["burnRateLong"], 1000.0 / 60.0);

    assert_eq!(tiers_of(&alerts(&receiver)), [tier("page", "1h", "5m")]);
    let (_, deliveries) = app.get(&format!("/channels/{slack}/deliveries?limit=100")).await;
    let tier_deliveries: Vec<&Value> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["eventType"] == "slo.burn.alert")
        .collect();
    assert_eq!(tier_deliveries.len(), 1, "{deliveries}");
    assert_eq!(tier_deliveries[0]["state"], "delivered");
    let slack_text =
        receiver.requests_to("/slack").iter().map(|r| r.json().to_string()).collect::<String>();
    assert!(slack_text.contains("Burn-rate page"), "{slack_text}");
    drop(stream);
    app.shutdown().await;
}
