//! Maintenance windows (SPEC §12) through the API: declaring, changing and
//! removing windows, their derived status as the clock moves, and the
//! downtime they excuse from objectives that exclude them, on hand-computed
//! numbers.
//!
//! T0 (2026-03-01) is a Sunday. Every objective is 99.9 % over 30 days: a
//! budget of 43.2 minutes out of 43,200. Outages here end more than 72 h
//! before the instant of each status, so every burn rate is 0.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const DAY: i64 = 24 * 60;
const WINDOW_MINUTES: f64 = 43_200.0;

/// Two objectives on `api`, one excluding maintenance and one not.
async fn two_objectives(app: &TestApp) -> (String, String) {
    app.create_system("api").await;
    let excluding = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
            "excludeMaintenanceWindows": true}))
        .await;
    let plain =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    (excluding, plain)
}

/// Declares a window that must be accepted; returns it.
async fn declare(app: &TestApp, system: &str, body: Value) -> Value {
    let (status, window) = app.post(&format!("/systems/{system}/maintenance-windows"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{window}");
    window
}

async fn windows_of(app: &TestApp, system: &str) -> Vec<Value> {
    let body = app.get_ok(&format!("/systems/{system}/maintenance-windows")).await;
    body["maintenanceWindows"].as_array().unwrap().clone()
}

/// Asserts the budget figures of a status with `consumed` minutes charged
/// and `maintenance` minutes excused.
fn assert_budget(status: &Value, consumed: f64, maintenance: f64) {
    assert_close(&status["maintenanceMinutes"], maintenance);
    assert_close(&status["errorBudgetConsumedMinutes"], consumed);
    assert_close(&status["errorBudgetConsumedStrictMinutes"], consumed);
    assert_close(&status["errorBudgetRemainingMinutes"], (43.2 - consumed).max(0.0));
    assert_close(
        &status["currentAvailability"],
        (WINDOW_MINUTES - consumed) / WINDOW_MINUTES * 100.0,
    );
    assert_close(
        &status["strictAvailability"],
        (WINDOW_MINUTES - consumed) / WINDOW_MINUTES * 100.0,
    );
    assert_close(&status["burnRate"], consumed / 43.2);
    let attribution = status["attribution"].as_array().unwrap();
    assert_eq!(attribution[0]["sourceType"], "self", "{status}");
    assert_close(&attribution[0]["minutes"], consumed);
}

#[tokio::test]
async fn a_window_excuses_the_part_of_an_outage_it_covers() {
    let app = spawn_app().await;
    let (excluding, plain) = two_objectives(&app).await;
    // An hour down, five days ago: [-5d, -5d+60).
    app.report("api", "unhealthy", -5 * DAY).await;
    app.report("api", "healthy", -5 * DAY + 60).await;
    // Maintenance [-5d+30, -5d+90) covers the outage's second half.
    let window = declare(
        &app,
        "api",
        json!({"title": "db upgrade", "start": at(-5 * DAY + 30), "end": at(-5 * DAY + 90)}),
    )
    .await;
    assert_eq!(window["systemId"], "api");
    assert_eq!(window["title"], "db upgrade");
    assert_eq!(window["start"], at(-5 * DAY + 30));
    assert_eq!(window["end"], at(-5 * DAY + 90));
    assert_eq!(window["recurrence"], Value::Null);
    assert_eq!(window["cancelled"], false);
    assert_eq!(window["status"], "completed");
    let id = window["id"].as_str().unwrap();
    assert_eq!(app.get_ok(&format!("/maintenance-windows/{id}")).await, window);

    // Excluding: 60 − 30 = 30 minutes consumed, 30 excused; 43.2 − 30 =
    // 13.2 left. A completed window keeps excusing.
    let status = app.status(&excluding).await;
    assert_budget(&status, 30.0, 30.0);
    assert_close(&status["errorBudgetRemainingPercent"], 13.2 / 43.2 * 100.0);
    assert_eq!(status["isBreaching"], false);
    // Not excluding: the whole hour, nothing excused; 60 > 43.2, breaching.
    let status = app.status(&plain).await;
    assert_budget(&status, 60.0, 0.0);
    assert_eq!(status["isBreaching"], true);

    // The daily snapshot at T0 uses the same figures.
    app.set_now(1);
    let response = app.client.post(app.url("/jobs/daily?date=2026-03-01")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let snapshots =
        app.get_ok(&format!("/objectives/{excluding}/snapshots")).await["snapshots"].clone();
    assert_close(&snapshots[0]["budgetConsumedMinutes"], 30.0);
    let snapshots =
        app.get_ok(&format!("/objectives/{plain}/snapshots")).await["snapshots"].clone();
    assert_close(&snapshots[0]["budgetConsumedMinutes"], 60.0);

    // Windows are a plan: once deleted, every status (even one at a past
    // instant) charges the whole hour again; the snapshot stays.
    let (status, _) = app.delete(&format!("/maintenance-windows/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_budget(&app.status(&excluding).await, 60.0, 0.0);
    let past = app.get_ok(&format!("/objectives/{excluding}?at={}", at(-DAY))).await;
    assert_budget(&past["status"], 60.0, 0.0);
    let snapshots =
        app.get_ok(&format!("/objectives/{excluding}/snapshots")).await["snapshots"].clone();
    assert_close(&snapshots[0]["budgetConsumedMinutes"], 30.0);
    let (status, body) = app.get(&format!("/maintenance-windows/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
}

#[tokio::test]
async fn overlapping_windows_are_not_subtracted_twice() {
    let app = spawn_app().await;
    let (excluding, plain) = two_objectives(&app).await;
    // An hour down: [-5d, -5d+60).
    app.report("api", "unhealthy", -5 * DAY).await;
    app.report("api", "healthy", -5 * DAY + 60).await;
    // [0, 40) and [20, 50) (minutes after the outage began) merge into
    // [0, 50): 50 minutes excused, not 40 + 30 = 70; 10 consumed.
    declare(&app, "api", json!({"title": "one", "start": at(-5 * DAY), "end": at(-5 * DAY + 40)}))
        .await;
    declare(
        &app,
        "api",
        json!({"title": "two", "start": at(-5 * DAY + 20), "end": at(-5 * DAY + 50)}),
    )
    .await;
    assert_budget(&app.status(&excluding).await, 10.0, 50.0);
    assert_budget(&app.status(&plain).await, 60.0, 0.0);
    // Listed oldest start first.
    let titles: Vec<Value> =
        windows_of(&app, "api").await.iter().map(|w| w["title"].clone()).collect();
    assert_eq!(titles, [json!("one"), json!("two")]);
}

#[tokio::test]
async fn a_cancelled_window_excuses_nothing() {
    let app = spawn_app().await;
    let (excluding, _) = two_objectives(&app).await;
    app.report("api", "unhealthy", -5 * DAY).await;
    app.report("api", "healthy", -5 * DAY + 60).await;
    let window = declare(
        &app,
        "api",
        json!({"title": "all of it", "start": at(-5 * DAY - 10), "end": at(-5 * DAY + 70)}),
    )
    .await;
    let path = format!("/maintenance-windows/{}", window["id"].as_str().unwrap());
    // Covering the whole hour: nothing consumed, 60 excused.
    assert_budget(&app.status(&excluding).await, 0.0, 60.0);

    let (status, cancelled) = app.patch(&path, json!({"cancelled": true})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["cancelled"], true);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["start"], window["start"]);
    assert_budget(&app.status(&excluding).await, 60.0, 0.0);

    // Re-instated, and renamed in the same patch.
    let (status, back) = app.patch(&path, json!({"cancelled": false, "title": "back"})).await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["status"], "completed");
    assert_eq!(back["title"], "back");
    assert_budget(&app.status(&excluding).await, 0.0, 60.0);
}

#[tokio::test]
async fn a_weekly_window_excuses_only_its_occurrences() {
    let app = spawn_app().await;
    let (excluding, plain) = two_objectives(&app).await;
    // Mondays and Wednesdays 02:00–04:00 from Monday 2026-02-02 (T0 − 27
    // days): Feb 2, 4, 9, 11, 16, 18, 23, 25, then Mar 2, …
    let window = declare(
        &app,
        "api",
        json!({"title": "patching", "start": at(-27 * DAY + 120), "end": at(-27 * DAY + 240),
            "recurrence": "freq=weekly;byday=MO,WE"}),
    )
    .await;
    assert_eq!(window["recurrence"], "FREQ=WEEKLY;BYDAY=MO,WE");
    // T0 is Sunday midnight: the next occurrence is Monday's.
    assert_eq!(window["status"], "scheduled");

    // Wed Feb 4 02:30–03:30: inside an occurrence, 60 excused.
    app.report("api", "unhealthy", -25 * DAY + 150).await;
    app.report("api", "healthy", -25 * DAY + 210).await;
    // Thu Feb 5 02:30–03:00: no occurrence on Thursdays, 30 charged.
    app.report("api", "unhealthy", -24 * DAY + 150).await;
    app.report("api", "healthy", -24 * DAY + 180).await;
    // Mon Feb 16 03:30–04:30: 30 excused (until 04:00), 30 charged.
    app.report("api", "unhealthy", -13 * DAY + 210).await;
    app.report("api", "healthy", -13 * DAY + 270).await;
    // Wed Feb 25 05:00–05:10: a Wednesday, but after 04:00: 10 charged.
    app.report("api", "unhealthy", -4 * DAY + 300).await;
    app.report("api", "healthy", -4 * DAY + 310).await;

    // 160 minutes down in all: 60 + 30 = 90 excused, 30 + 30 + 10 = 70
    // consumed (over the 43.2 budget: breaching, nothing remaining).
    let status = app.status(&excluding).await;
    assert_budget(&status, 70.0, 90.0);
    assert_close(&status["errorBudgetRemainingPercent"], 0.0);
    assert_eq!(status["isBreaching"], true);
    assert_budget(&app.status(&plain).await, 160.0, 0.0);

    // As of Tue Feb 17 00:00 (T0 − 12 days), before the last outage: 30 +
    // 30 = 60 consumed, 90 excused, with the windows as they are now.
    let past = app.get_ok(&format!("/objectives/{excluding}?at={}", at(-12 * DAY))).await;
    assert_budget(&past["status"], 60.0, 90.0);
}

#[tokio::test]
async fn the_status_of_a_window_follows_the_clock() {
    let app = spawn_app().await;
    app.create_system("api").await;
    // Today 01:00–02:00 and again tomorrow (COUNT=2).
    let window = declare(
        &app,
        "api",
        json!({"title": "twice", "start": at(60), "end": at(120), "recurrence": "FREQ=DAILY;COUNT=2"}),
    )
    .await;
    let path = format!("/maintenance-windows/{}", window["id"].as_str().unwrap());
    assert_eq!(window["status"], "scheduled");
    for (now, expected) in [
        (59, "scheduled"),
        (60, "in_progress"),
        (119, "in_progress"),
        (120, "scheduled"),
        (DAY + 60, "in_progress"),
        (DAY + 120, "completed"),
    ] {
        app.set_now(now);
        assert_eq!(app.get_ok(&path).await["status"], expected, "at +{now} min");
        assert_eq!(windows_of(&app, "api").await[0]["status"], expected, "at +{now} min");
    }
    // Made a one-off by clearing the recurrence: its only occurrence is
    // over.
    app.set_now(DAY);
    let (status, body) = app.patch(&path, json!({"recurrence": null})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recurrence"], Value::Null);
    assert_eq!(body["status"], "completed");
}

#[tokio::test]
async fn invalid_windows_are_refused_and_leave_nothing() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let base = json!({"title": "t", "start": at(60), "end": at(120)});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("end", json!(at(60))), "end"),
        (with("end", json!(at(30))), "end"),
        // 32 days: one more than an occurrence may last.
        (with("end", json!(at(60 + 32 * DAY))), "end"),
        (with("recurrence", json!("FREQ=MONTHLY")), "recurrence"),
        (with("recurrence", json!("FREQ=WEEKLY;BYDAY=MO")), "recurrence"), // T0 is a Sunday
        (with("recurrence", json!("FREQ=DAILY;COUNT=2;UNTIL=20260401T000000Z")), "recurrence"),
        (with("recurrence", json!(true)), "recurrence"),
        (with("start", json!("tomorrow")), "start"),
        (with("title", json!("  ")), "title"),
        (json!({"start": at(60), "end": at(120)}), "title"),
        (json!({"title": "t", "end": at(120)}), "start"),
        (with("color", json!("red")), "color"),
    ];
    for (body, field) in cases {
        let (status, error) = app.post("/systems/api/maintenance-windows", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_error(&error, "validation_failed", Some(field));
    }
    // 31 days exactly is allowed.
    let window = declare(&app, "api", with("end", json!(at(60 + 31 * DAY)))).await;
    let path = format!("/maintenance-windows/{}", window["id"].as_str().unwrap());

    let (status, error) = app.post("/systems/ghost/maintenance-windows", base.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_error(&error, "not_found", None);
    let (status, _) = app.get("/systems/ghost/maintenance-windows").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A patch is validated against the stored window, and refused whole.
    for (patch, field) in [
        (json!({"title": "new", "end": at(60)}), "end"),
        (json!({"title": "new", "start": at(60 + 31 * DAY)}), "end"),
        (json!({"recurrence": "FREQ=YEARLY"}), "recurrence"),
        (json!({"cancelled": "yes"}), "cancelled"),
        (json!({"systemId": "other"}), "systemId"),
    ] {
        let (status, error) = app.patch(&path, patch.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{patch}: {error}");
        assert_error(&error, "validation_failed", Some(field));
    }
    let stored = windows_of(&app, "api").await;
    assert_eq!(stored, vec![window], "only the valid window, unchanged");

    for (status, _) in [
        app.get("/maintenance-windows/nope").await,
        app.patch("/maintenance-windows/nope", json!({"title": "x"})).await,
        app.delete("/maintenance-windows/nope").await,
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn deleting_a_system_removes_its_windows() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;
    let doomed = declare(&app, "api", json!({"title": "a", "start": at(60), "end": at(120)})).await;
    let kept = declare(&app, "db", json!({"title": "b", "start": at(60), "end": at(120)})).await;
    let (status, _) = app.delete("/systems/api").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        app.get(&format!("/maintenance-windows/{}", doomed["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Recreating the system does not bring them back.
    app.create_system("api").await;
    assert!(windows_of(&app, "api").await.is_empty());
    assert_eq!(windows_of(&app, "db").await, vec![kept]);
}

#[tokio::test]
async fn downtime_inside_a_window_fires_no_budget_alert() {
    let app = spawn_app().await;
    let (status, channel) = app
        .post(
            "/channels",
            json!({"name": "hooks", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let deliveries = format!("/channels/{}/deliveries?limit=1000", channel["id"].as_str().unwrap());
    let budget_events = |body: Value| -> Vec<String> {
        body["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["eventType"].as_str())
            .filter(|t| t.starts_with("slo.budget"))
            .map(str::to_owned)
            .collect()
    };
    // 99 % over one day: 14.4 minutes of budget, on two systems.
    for system in ["api", "web"] {
        app.create_system(system).await;
        app.create_objective(json!({"systemId": system, "target": 99.0, "windowDays": 1,
            "excludeMaintenanceWindows": true}))
            .await;
    }
    declare(&app, "api", json!({"title": "planned", "start": at(-60), "end": at(60)})).await;
    // 20 minutes down inside api's window: all excused, no threshold crossed.
    app.report("api", "unhealthy", -30).await;
    app.report("api", "healthy", -10).await;
    assert!(budget_events(app.get_ok(&deliveries).await).is_empty());
    // The same on web, without a window: 20 > 14.4, the budget is exhausted.
    app.report("web", "unhealthy", -30).await;
    app.report("web", "healthy", -10).await;
    assert!(
        budget_events(app.get_ok(&deliveries).await).contains(&"slo.budget.exhausted".to_owned())
    );
}
