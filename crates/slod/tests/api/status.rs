//! The status arithmetic of SPEC §4, through the API, on hand-computed
//! numbers.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const DAY: i64 = 24 * 60;

#[tokio::test]
async fn self_only_and_strict_budgets() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;
    app.set_upstreams("api", &["db"]).await;
    let self_only = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
            "dependencyExclusion": "self-only"}))
        .await;
    let strict =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;

    // Ten minutes of api's own downtime, five while its database was down;
    // both more than 72 h ago, so the burn-rate windows are empty.
    app.report("api", "unhealthy", -5 * DAY).await;
    app.report("api", "healthy", -5 * DAY + 10).await;
    app.report("db", "unhealthy", -4 * DAY).await;
    app.report("api", "unhealthy", -4 * DAY + 1).await;
    app.report("api", "healthy", -4 * DAY + 6).await;
    app.report("db", "healthy", -4 * DAY + 10).await;

    let status = app.status(&self_only).await;
    assert_eq!(status["objectiveId"], self_only);
    assert_eq!(status["systemId"], "api");
    assert_eq!(status["windowDays"], 30);
    assert_eq!(status["dependencyExclusion"], "self-only");
    assert_close(&status["errorBudgetTotalMinutes"], 43.2);
    assert_close(&status["errorBudgetConsumedMinutes"], 10.0);
    assert_close(&status["errorBudgetConsumedStrictMinutes"], 15.0);
    assert_close(&status["errorBudgetRemainingMinutes"], 33.2);
    assert_close(&status["errorBudgetRemainingPercent"], 76.851_851_851_851_85);
    assert_close(&status["currentAvailability"], (43200.0 - 10.0) / 43200.0 * 100.0);
    assert_close(&status["strictAvailability"], (43200.0 - 15.0) / 43200.0 * 100.0);
    assert_close(&status["burnRate"], 10.0 / 43.2);
    for window in ["5m", "1h", "6h", "24h", "72h"] {
        assert_close(&status["burnRates"][window], 0.0);
    }
    assert_eq!(status["isBreaching"], false);
    assert_eq!(status["hasOpenDowntime"], false);
    assert_eq!(status["computedAt"], at(0));
    let attribution = status["attribution"].as_array().unwrap();
    assert_eq!(attribution.len(), 2, "{status}");
    assert_eq!(attribution[0]["sourceType"], "self");
    assert_close(&attribution[0]["minutes"], 10.0);
    assert_eq!(attribution[1]["sourceType"], "upstream");
    assert_eq!(attribution[1]["systemId"], "db");
    assert_eq!(attribution[1]["systemName"], "DB");
    assert_close(&attribution[1]["minutes"], 5.0);

    let status = app.status(&strict).await;
    assert_close(&status["errorBudgetConsumedMinutes"], 15.0);
    assert_close(&status["errorBudgetConsumedStrictMinutes"], 15.0);
    assert_close(&status["errorBudgetRemainingMinutes"], 28.2);
    assert_close(&status["currentAvailability"], (43200.0 - 15.0) / 43200.0 * 100.0);
    assert_close(&status["burnRate"], 15.0 / 43.2);
}

#[tokio::test]
async fn burn_rates_over_the_recent_windows() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.report("api", "unhealthy", -30).await;
    app.report("api", "healthy", -20).await;
    app.report("api", "unhealthy", -3).await;

    // 10 closed minutes plus 3 open ones, against a 0.1 % budget.
    let status = app.status(&objective).await;
    assert_close(&status["errorBudgetConsumedMinutes"], 13.0);
    let rate = |minutes: f64, window: f64| (minutes / window) / 0.001;
    assert_close(&status["burnRates"]["5m"], rate(3.0, 5.0));
    assert_close(&status["burnRates"]["1h"], rate(13.0, 60.0));
    assert_close(&status["burnRates"]["6h"], rate(13.0, 360.0));
    assert_close(&status["burnRates"]["24h"], rate(13.0, 1440.0));
    assert_close(&status["burnRates"]["72h"], rate(13.0, 4320.0));
    assert_eq!(status["hasOpenDowntime"], true);

    // Open downtime runs to now.
    app.set_now(7);
    let status = app.status(&objective).await;
    assert_close(&status["errorBudgetConsumedMinutes"], 20.0);
    assert_close(&status["burnRates"]["5m"], rate(5.0, 5.0));
    assert_eq!(status["computedAt"], at(7));
}

#[tokio::test]
async fn a_100_percent_target_has_no_budget_to_burn() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 100, "windowDays": 7})).await;
    let status = app.status(&objective).await;
    assert_close(&status["errorBudgetRemainingPercent"], 100.0);
    assert_eq!(status["burnRate"], Value::Null);
    assert_eq!(status["isBreaching"], false);

    app.report("api", "unhealthy", -2).await;
    app.report("api", "healthy", -1).await;
    let status = app.status(&objective).await;
    assert_close(&status["errorBudgetTotalMinutes"], 0.0);
    assert_close(&status["errorBudgetConsumedMinutes"], 1.0);
    assert_close(&status["errorBudgetRemainingMinutes"], 0.0);
    assert_close(&status["errorBudgetRemainingPercent"], 0.0);
    assert_eq!(status["burnRate"], Value::Null);
    for window in ["5m", "1h", "6h", "24h", "72h"] {
        assert_eq!(status["burnRates"][window], Value::Null, "{window}");
    }
    assert_eq!(status["isBreaching"], true);
    assert_close(&status["currentAvailability"], (7.0 * 1440.0 - 1.0) / (7.0 * 1440.0) * 100.0);
}

#[tokio::test]
async fn events_are_clamped_to_the_window() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99, "windowDays": 1})).await;
    // 30 minutes of downtime, 20 of them inside the last day.
    app.report("api", "unhealthy", -DAY - 10).await;
    app.report("api", "healthy", -DAY + 20).await;
    let status = app.status(&objective).await;
    assert_close(&status["errorBudgetTotalMinutes"], 14.4);
    assert_close(&status["errorBudgetConsumedMinutes"], 20.0);
    assert_close(&status["currentAvailability"], (1440.0 - 20.0) / 1440.0 * 100.0);
    assert_eq!(status["isBreaching"], true);
    // The 72 h burn window reaches past the 1-day window.
    assert_close(&status["burnRates"]["72h"], (30.0 / 4320.0) / 0.01);
    assert_close(&status["burnRates"]["24h"], (20.0 / 1440.0) / 0.01);
}

#[tokio::test]
async fn status_at_a_past_instant() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.report("api", "unhealthy", -120).await;
    app.report("api", "healthy", -60).await;

    let get_at = |minutes: i64| {
        let path = format!("/objectives/{objective}?at={}", at(minutes).replace('+', "%2B"));
        let app = &app;
        async move { app.get_ok(&path).await }
    };
    let before = get_at(-150).await;
    assert_close(&before["status"]["errorBudgetConsumedMinutes"], 0.0);
    assert_eq!(before["objective"]["id"], objective);

    let during = get_at(-90).await;
    assert_eq!(during["status"]["computedAt"], at(-90));
    assert_close(&during["status"]["errorBudgetConsumedMinutes"], 30.0);
    assert_close(&during["status"]["burnRates"]["1h"], (30.0 / 60.0) / 0.001);
    assert_eq!(during["status"]["hasOpenDowntime"], true, "the system was down at -90");

    let after = get_at(-30).await;
    assert_close(&after["status"]["errorBudgetConsumedMinutes"], 60.0);
    assert_eq!(after["status"]["hasOpenDowntime"], false);

    // Any RFC 3339 offset is accepted.
    let (code, body) =
        app.get(&format!("/objectives/{objective}?at=2026-02-28T23:00:00%2B00:00")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_close(&body["status"]["errorBudgetConsumedMinutes"], 60.0);

    let (code, body) = app.get(&format!("/objectives/{objective}?at=yesterday")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("at"));
    let (code, body) = app.get(&format!("/objectives/{objective}?at={}", at(10))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("at"));
    let (code, body) = app.get(&format!("/objectives/{objective}?when=now")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("when"));
}
