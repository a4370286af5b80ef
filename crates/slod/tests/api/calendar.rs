//! Calendar windows (SPEC §17) end to end: budgets over a whole calendar
//! period in an IANA time zone (DST included), availability over its
//! elapsed part, the reset when the next period begins, and the validation
//! of `calendar`, on hand-computed numbers.

use reqwest::StatusCode;
use serde_json::{json, Value};
use slod_core::time::{Timestamp, MINUTE_MS};

use crate::helpers::*;

/// Minutes from [`T0`] to the RFC 3339 instant `text`.
fn mins(text: &str) -> i64 {
    (Timestamp::parse(text).unwrap().millis() - t0().millis()) / MINUTE_MS
}

async fn status_at(app: &TestApp, objective: &str, at: &str) -> Value {
    let at = at.replace('+', "%2B");
    app.get_ok(&format!("/objectives/{objective}?at={at}")).await["status"].clone()
}

fn berlin_month() -> Value {
    json!({"systemId": "api", "target": 99.0,
        "calendar": {"unit": "month", "timeZone": "Europe/Berlin"}})
}

#[tokio::test]
async fn a_berlin_month_across_the_october_dst_change() {
    let app = spawn_app_without_scheduler().await;
    app.set_now(mins("2026-11-10T12:00:00Z"));
    app.create_system("api").await;
    let objective = app.create_objective(berlin_month()).await;

    // October in Berlin is [2026-09-30T22:00Z, 2026-10-31T23:00Z): summer
    // time (UTC+2) at its start, winter time (UTC+1) at its end, so
    // 31 × 24 + 1 = 745 hours = 44,700 minutes.
    // An hour-long outage straddling its start (30 minutes in October),
    // 45 minutes in the middle, and 10 minutes early on 1 November.
    app.report("api", "unhealthy", mins("2026-09-30T21:30:00Z")).await;
    app.report("api", "healthy", mins("2026-09-30T22:30:00Z")).await;
    app.report("api", "unhealthy", mins("2026-10-10T10:00:00Z")).await;
    app.report("api", "healthy", mins("2026-10-10T10:45:00Z")).await;
    app.report("api", "unhealthy", mins("2026-10-31T23:30:00Z")).await;
    app.report("api", "healthy", mins("2026-10-31T23:40:00Z")).await;

    let status = status_at(&app, &objective, "2026-10-20T22:00:00Z").await;
    assert_eq!(status["windowDays"], Value::Null, "{status}");
    assert_eq!(status["calendar"], json!({"unit": "month", "timeZone": "Europe/Berlin"}));
    assert_eq!(
        status["period"],
        json!({"start": "2026-09-30T22:00:00.000Z", "end": "2026-10-31T23:00:00.000Z"})
    );
    // Budget: 1 % of the whole month; consumed: 30 + 45 minutes.
    assert_close(&status["errorBudgetTotalMinutes"], 447.0);
    assert_close(&status["errorBudgetConsumedMinutes"], 75.0);
    assert_close(&status["errorBudgetRemainingMinutes"], 372.0);
    assert_close(&status["errorBudgetRemainingPercent"], 372.0 / 447.0 * 100.0);
    assert_close(&status["burnRate"], 75.0 / 447.0);
    // Availability over the 20 elapsed days (28,800 minutes).
    assert_close(&status["currentAvailability"], (28_800.0 - 75.0) / 28_800.0 * 100.0);
    assert_close(&status["strictAvailability"], (28_800.0 - 75.0) / 28_800.0 * 100.0);
    assert_eq!(status["isBreaching"], false);
    for window in ["5m", "1h", "24h", "72h"] {
        assert_close(&status["burnRates"][window], 0.0);
    }

    // The last instant of October still counts October's downtime …
    let last = status_at(&app, &objective, "2026-10-31T22:59:59.999Z").await;
    assert_eq!(last["period"]["start"], "2026-09-30T22:00:00.000Z");
    assert_close(&last["errorBudgetConsumedMinutes"], 75.0);
    assert_close(&last["errorBudgetTotalMinutes"], 447.0);
    let elapsed = 44_700.0 - 1.0 / 60_000.0;
    assert_close(&last["currentAvailability"], (elapsed - 75.0) / elapsed * 100.0);

    // … and midnight in Berlin starts November afresh: 30 × 24 hours.
    let first = status_at(&app, &objective, "2026-10-31T23:00:00Z").await;
    assert_eq!(
        first["period"],
        json!({"start": "2026-10-31T23:00:00.000Z", "end": "2026-11-30T23:00:00.000Z"})
    );
    assert_close(&first["errorBudgetTotalMinutes"], 432.0);
    assert_close(&first["errorBudgetConsumedMinutes"], 0.0);
    assert_close(&first["errorBudgetRemainingPercent"], 100.0);
    assert_close(&first["currentAvailability"], 100.0);

    // An hour into November: 10 minutes down out of 60 elapsed.
    let hour = status_at(&app, &objective, "2026-11-01T00:00:00Z").await;
    assert_close(&hour["errorBudgetConsumedMinutes"], 10.0);
    assert_close(&hour["currentAvailability"], 50.0 / 60.0 * 100.0);
    assert_eq!(hour["isBreaching"], true);
    assert_close(&hour["burnRates"]["1h"], (10.0 / 60.0) / 0.01);
    // The burn-rate windows are §4's, whatever the period: 72 h back from T
    // reaches into October, which had no downtime in that stretch.
    assert_close(&hour["burnRates"]["72h"], (10.0 / (72.0 * 60.0)) / 0.01);

    // Now (10 November): still November's period; the objective's JSON
    // says which window it has.
    let item = app.get_ok(&format!("/objectives/{objective}")).await;
    assert_eq!(item["objective"]["windowDays"], Value::Null);
    assert_eq!(item["objective"]["calendar"]["timeZone"], "Europe/Berlin");
    assert_eq!(item["status"]["period"]["start"], "2026-10-31T23:00:00.000Z");
    assert_close(&item["status"]["errorBudgetConsumedMinutes"], 10.0);
}

#[tokio::test]
async fn the_march_change_makes_a_short_month_and_rolling_objectives_are_unchanged() {
    let app = spawn_app_without_scheduler().await;
    app.set_now(mins("2026-04-02T00:00:00Z"));
    app.create_system("api").await;
    let calendar = app.create_objective(berlin_month()).await;
    let rolling =
        app.create_objective(json!({"systemId": "api", "target": 99.0, "windowDays": 30})).await;
    let status = status_at(&app, &calendar, "2026-03-15T00:00:00Z").await;
    // March in Berlin loses an hour: 31 × 24 − 1 = 743 hours.
    assert_eq!(
        status["period"],
        json!({"start": "2026-02-28T23:00:00.000Z", "end": "2026-03-31T22:00:00.000Z"})
    );
    assert_close(&status["errorBudgetTotalMinutes"], 743.0 * 60.0 * 0.01);
    let status = status_at(&app, &rolling, "2026-03-15T00:00:00Z").await;
    assert_eq!(status["windowDays"], 30);
    assert_eq!(status["calendar"], Value::Null);
    assert_eq!(status["period"], Value::Null);
    assert_close(&status["errorBudgetTotalMinutes"], 432.0);
    let item = app.get_ok(&format!("/objectives/{rolling}")).await;
    assert_eq!(item["objective"]["windowDays"], 30);
    assert_eq!(item["objective"]["calendar"], Value::Null);
}

#[tokio::test]
async fn weeks_start_on_monday_in_their_time_zone() {
    let app = spawn_app_without_scheduler().await;
    app.set_now(mins("2026-11-10T12:00:00Z"));
    app.create_system("api").await;
    let utc = app
        .create_objective(json!({"systemId": "api", "target": 99.9,
            "calendar": {"unit": "week", "timeZone": "UTC"}}))
        .await;
    let tokyo = app
        .create_objective(json!({"systemId": "api", "target": 99.9,
            "calendar": {"unit": "week", "timeZone": "Asia/Tokyo"}}))
        .await;
    // Two hours down from Sunday 1 November 23:00 UTC.
    app.report("api", "unhealthy", mins("2026-11-01T23:00:00Z")).await;
    app.report("api", "healthy", mins("2026-11-02T01:00:00Z")).await;

    // Thursday 5 November: the UTC week began on Monday 2 November, so only
    // the hour after midnight counts; 7 × 1440 × 0.1 % = 10.08 minutes.
    let status = status_at(&app, &utc, "2026-11-05T00:00:00Z").await;
    assert_eq!(
        status["period"],
        json!({"start": "2026-11-02T00:00:00.000Z", "end": "2026-11-09T00:00:00.000Z"})
    );
    assert_close(&status["errorBudgetTotalMinutes"], 10.08);
    assert_close(&status["errorBudgetConsumedMinutes"], 60.0);
    assert_close(&status["currentAvailability"], (4320.0 - 60.0) / 4320.0 * 100.0);
    assert_close(&status["errorBudgetRemainingMinutes"], 0.0);
    assert_close(&status["errorBudgetRemainingPercent"], 0.0);

    // Sunday night in UTC is already Monday in Tokyo (UTC+9): its week began
    // at 2026-11-01T15:00Z and holds the whole outage.
    let status = status_at(&app, &tokyo, "2026-11-05T00:00:00Z").await;
    assert_eq!(status["period"]["start"], "2026-11-01T15:00:00.000Z");
    assert_close(&status["errorBudgetConsumedMinutes"], 120.0);

    // Sunday in the UTC week before, mid-outage: the open event counts up
    // to T, inside the week of Monday 26 October.
    let status = status_at(&app, &utc, "2026-11-01T23:30:00Z").await;
    assert_eq!(status["period"]["start"], "2026-10-26T00:00:00.000Z");
    assert_close(&status["errorBudgetConsumedMinutes"], 30.0);
    assert_eq!(status["hasOpenDowntime"], true);
}

#[tokio::test]
async fn the_daily_job_snapshots_calendar_objectives_and_sees_the_reset() {
    let app = spawn_app_without_scheduler().await;
    app.set_now(mins("2026-11-03T12:00:00Z"));
    app.create_system("api").await;
    let objective = app
        .create_objective(json!({"systemId": "api", "target": 99.0,
            "calendar": {"unit": "month", "timeZone": "UTC"}}))
        .await;
    app.report("api", "unhealthy", mins("2026-10-30T12:00:00Z")).await;
    app.report("api", "healthy", mins("2026-10-30T13:00:00Z")).await;
    for date in ["2026-10-31", "2026-11-01", "2026-11-02"] {
        let (status, body) = app.post(&format!("/jobs/daily?date={date}"), Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{date}: {body}");
    }
    let body = app.get_ok(&format!("/objectives/{objective}/snapshots")).await;
    let mut snapshots = body["snapshots"].as_array().unwrap().clone();
    snapshots.sort_by_key(|s| s["date"].as_str().unwrap().to_owned());
    let consumed: Vec<f64> =
        snapshots.iter().map(|s| s["budgetConsumedMinutes"].as_f64().unwrap()).collect();
    // At midnight 31 October October's hour is spent; at midnight
    // 1 November October has just ended: a fresh, untouched budget.
    assert_eq!(consumed, vec![60.0, 0.0, 0.0], "{snapshots:?}");
    let elapsed = 30.0 * 1440.0;
    assert_close(&snapshots[0]["availabilityPercent"], (elapsed - 60.0) / elapsed * 100.0);
    assert_close(&snapshots[0]["budgetRemainingPercent"], (446.4 - 60.0) / 446.4 * 100.0);
    assert_close(&snapshots[1]["budgetRemainingPercent"], 100.0);
    assert_close(&snapshots[1]["availabilityPercent"], 100.0);
    // The status just before that midnight still shows it.
    let before = status_at(&app, &objective, "2026-10-31T23:59:59Z").await;
    assert_close(&before["errorBudgetConsumedMinutes"], 60.0);
    // October: 31 days × 1440 × 1 % = 446.4 minutes of budget.
    assert_close(&before["errorBudgetTotalMinutes"], 446.4);
    assert_close(&before["errorBudgetRemainingPercent"], (446.4 - 60.0) / 446.4 * 100.0);
    let after = status_at(&app, &objective, "2026-11-01T00:00:00Z").await;
    assert_close(&after["errorBudgetConsumedMinutes"], 0.0);
    assert_close(&after["errorBudgetTotalMinutes"], 432.0);
}

#[tokio::test]
async fn bad_calendars_are_refused_by_field_and_nothing_is_written() {
    let app = spawn_app_without_scheduler().await;
    app.create_system("api").await;
    let calendar = |unit: Value, zone: Value| json!({"unit": unit, "timeZone": zone});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"systemId": "api", "target": 99.9, "windowDays": 30,
                "calendar": calendar(json!("month"), json!("UTC"))}),
            "calendar",
        ),
        (
            json!({"systemId": "api", "target": 99.9,
                "calendar": calendar(json!("fortnight"), json!("UTC"))}),
            "calendar.unit",
        ),
        (
            json!({"systemId": "api", "target": 99.9,
                "calendar": calendar(json!("month"), json!("Mars/Olympus"))}),
            "calendar.timeZone",
        ),
        (
            json!({"systemId": "api", "target": 99.9,
                "calendar": calendar(json!("month"), json!("CET+1"))}),
            "calendar.timeZone",
        ),
        (
            json!({"systemId": "api", "target": 99.9,
                "calendar": calendar(json!(3), json!("UTC"))}),
            "calendar.unit",
        ),
        (
            json!({"systemId": "api", "target": 99.9, "calendar": {"unit": "month"}}),
            "calendar.timeZone",
        ),
        (
            json!({"systemId": "api", "target": 99.9,
                "calendar": {"unit": "month", "timeZone": "UTC", "weekStart": "sunday"}}),
            "calendar.weekStart",
        ),
        (json!({"systemId": "api", "target": 99.9, "calendar": "month"}), "calendar"),
        (json!({"systemId": "api", "target": 99.9, "calendar": null}), "windowDays"),
    ];
    for (body, field) in cases {
        let (status, response) = app.post("/objectives", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {response}");
        assert_error(&response, "validation_failed", Some(field));
    }
    let listed = app.get_ok("/objectives").await;
    assert_eq!(listed["objectives"].as_array().unwrap().len(), 0, "nothing was written");
}

#[tokio::test]
async fn patch_switches_between_rolling_and_calendar() {
    let app = spawn_app_without_scheduler().await;
    app.create_system("api").await;
    let id =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let path = format!("/objectives/{id}");

    for (body, field) in [
        (json!({"windowDays": 7, "calendar": {"unit": "week", "timeZone": "UTC"}}), "calendar"),
        (json!({"windowDays": null}), "windowDays"),
        (json!({"calendar": null}), "calendar"),
        (json!({"calendar": {"unit": "week", "timeZone": "Nowhere/Land"}}), "calendar.timeZone"),
    ] {
        let (status, response) = app.patch(&path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {response}");
        assert_error(&response, "validation_failed", Some(field));
    }
    let unchanged = app.get_ok(&path).await;
    assert_eq!(unchanged["objective"]["windowDays"], 30);

    let (status, body) = app
        .patch(&path, json!({"calendar": {"unit": "quarter", "timeZone": "America/New_York"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["windowDays"], Value::Null);
    assert_eq!(body["calendar"], json!({"unit": "quarter", "timeZone": "America/New_York"}));
    // T0 is 2026-03-01T00:00Z, still February in New York: Q1 began on
    // 1 January at 05:00 UTC.
    let status = app.status(&id).await;
    assert_eq!(
        status["period"],
        json!({"start": "2026-01-01T05:00:00.000Z", "end": "2026-04-01T04:00:00.000Z"})
    );
    // Q1 2026 in New York: 90 days less the hour lost on 8 March.
    assert_close(&status["errorBudgetTotalMinutes"], (90.0 * 1440.0 - 60.0) * 0.001);

    // An unrelated change keeps the calendar; `windowDays` switches back.
    let (_, body) = app.patch(&path, json!({"target": 99.5})).await;
    assert_eq!(body["calendar"]["unit"], "quarter");
    let (status, body) = app.patch(&path, json!({"windowDays": 14, "calendar": null})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["windowDays"], 14);
    assert_eq!(body["calendar"], Value::Null);
    assert_eq!(app.status(&id).await["period"], Value::Null);
}
