//! Corrections (SPEC §17) through the API: the audit trail, the overlay on
//! statuses at any instant, the snapshots and streaks recomputed before
//! the answer, revocation, and the validation of every field.
//!
//! T0 (2026-03-01) is midnight of day 0. Unless said otherwise objectives
//! are 99.9 % over one day (a budget of 1.44 minutes), so a 10-minute
//! outage breaches the next midnight's status.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const DAY: i64 = 24 * 60;

/// Makes a correction that must be accepted; returns it.
async fn correct(app: &TestApp, system: &str, body: Value) -> Value {
    let (status, made) = app.post(&format!("/systems/{system}/corrections"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made
}

async fn corrections_of(app: &TestApp, system: &str) -> Vec<Value> {
    let body = app.get_ok(&format!("/systems/{system}/corrections")).await;
    body["corrections"].as_array().unwrap().clone()
}

/// Moves the clock just past midnight `day` and runs that date's job.
async fn run_day(app: &TestApp, day: i64) {
    app.set_now(day * DAY + 1);
    let date = t0().plus_millis(day * DAY * 60_000).date();
    let (status, body) = app.post_empty(&format!("/jobs/daily?date={date}")).await;
    assert_eq!(status, StatusCode::OK, "day {day}: {body}");
}

async fn snapshots(app: &TestApp, objective: &str) -> Vec<Value> {
    let body = app.get_ok(&format!("/objectives/{objective}/snapshots")).await;
    body["snapshots"].as_array().unwrap().clone()
}

async fn streak(app: &TestApp, objective: &str) -> Value {
    app.get_ok(&format!("/objectives/{objective}")).await["streak"].clone()
}

async fn status_at(app: &TestApp, objective: &str, minutes: i64) -> Value {
    app.get_ok(&format!("/objectives/{objective}?at={}", at(minutes))).await["status"].clone()
}

/// `api` with a 99.9 %/1-day objective, days 1 and 2 run clean, a
/// 10-minute outage on day 2 (01:00–01:10) that breaks the streak at
/// day 3's run, and day 4 run clean again.
async fn broken_streak(app: &TestApp) -> String {
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 1})).await;
    run_day(app, 1).await;
    run_day(app, 2).await;
    app.set_now(2 * DAY + 70);
    app.report("api", "unhealthy", 2 * DAY + 60).await;
    app.report("api", "healthy", 2 * DAY + 70).await;
    run_day(app, 3).await;
    run_day(app, 4).await;
    objective
}

#[tokio::test]
async fn a_false_positive_restores_the_budget_and_the_broken_streak() {
    let app = spawn_app().await;
    let objective = broken_streak(&app).await;
    let broken = json!({"currentStreak": 1, "bestStreak": 2, "streakStart": at(4 * DAY),
                        "bestStreakEnd": at(3 * DAY)});
    assert_eq!(streak(&app, &objective).await, broken);
    let before = status_at(&app, &objective, 3 * DAY).await;
    assert_close(&before["errorBudgetConsumedMinutes"], 10.0);
    assert_eq!(before["isBreaching"], true);
    let first_taken = snapshots(&app, &objective).await;

    app.set_now(4 * DAY + 10);
    let made = correct(
        &app,
        "api",
        json!({"start": at(2 * DAY + 55), "end": at(2 * DAY + 75), "kind": "false_positive",
               "reason": "the probe's own network was down"}),
    )
    .await;
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(
        made,
        json!({"id": id, "systemId": "api", "start": at(2 * DAY + 55), "end": at(2 * DAY + 75),
               "kind": "false_positive", "upstreamSystemId": null,
               "reason": "the probe's own network was down", "author": "local",
               "createdAt": at(4 * DAY + 10), "revokedAt": null, "revokedBy": null})
    );

    // Every status, at any instant, sees no downtime there any more; the
    // events themselves are untouched.
    let after = status_at(&app, &objective, 3 * DAY).await;
    assert_close(&after["errorBudgetConsumedMinutes"], 0.0);
    assert_close(&after["errorBudgetRemainingPercent"], 100.0);
    assert_eq!(after["isBreaching"], false);
    assert_eq!(app.events(&objective).await.len(), 1);

    // Day 3's snapshot was recomputed and keeps what it first said; day 4's
    // only changed its streak; days 1 and 2 were never touched.
    let now = snapshots(&app, &objective).await;
    assert_eq!(now.len(), 4);
    assert_eq!(now[0], first_taken[0]);
    assert_eq!(now[1], first_taken[1]);
    assert_eq!(now[0]["original"], Value::Null);
    assert_close(&now[2]["availabilityPercent"], 100.0);
    assert_close(&now[2]["budgetConsumedMinutes"], 0.0);
    assert_eq!(now[2]["streakDays"], 2);
    assert_eq!(
        now[2]["original"],
        json!({"availabilityPercent": first_taken[2]["availabilityPercent"],
               "budgetConsumedMinutes": first_taken[2]["budgetConsumedMinutes"],
               "budgetRemainingPercent": first_taken[2]["budgetRemainingPercent"],
               "burnRate": first_taken[2]["burnRate"], "streakDays": 2})
    );
    assert_close(&now[2]["original"]["budgetConsumedMinutes"], 10.0);
    assert_eq!(now[3]["streakDays"], 3, "replayed: days 1, 2 and 3 met the target");
    assert_eq!(now[3]["original"]["streakDays"], 0);

    // The streak was replayed: never broken.
    assert_eq!(
        streak(&app, &objective).await,
        json!({"currentStreak": 4, "bestStreak": 4, "streakStart": at(DAY), "bestStreakEnd": null})
    );

    // Revoking restores the previous numbers; the row stays, with who and
    // when.
    app.set_now(4 * DAY + 20);
    let (status, body) = app.delete(&format!("/corrections/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(streak(&app, &objective).await, broken);
    let revoked = status_at(&app, &objective, 3 * DAY).await;
    assert_eq!(revoked, before);
    let restored = snapshots(&app, &objective).await;
    for (now, first) in restored.iter().zip(&first_taken).skip(2) {
        for field in ["availabilityPercent", "budgetConsumedMinutes", "streakDays", "burnRate"] {
            assert_eq!(now[field], first[field], "{field}: {now}");
        }
        assert_ne!(now["original"], Value::Null, "recomputed twice, original kept: {now}");
    }
    let trail = corrections_of(&app, "api").await;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0]["revokedAt"], at(4 * DAY + 20));
    assert_eq!(trail[0]["revokedBy"], "local");
    let (status, body) = app.delete(&format!("/corrections/{id}")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn an_upstream_correction_is_excused_for_self_only_and_consumed_for_strict() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;
    app.set_upstreams("api", &["db"]).await;
    let month = |mode: &str, excluded: &[&str]| {
        json!({"systemId": "api", "target": 99.9, "windowDays": 30,
               "dependencyExclusion": mode, "excludedDependencyIds": excluded})
    };
    let self_only = app.create_objective(month("self-only", &[])).await;
    let strict = app.create_objective(month("strict", &[])).await;
    let excluding = app.create_objective(month("self-only", &["db"])).await;
    // An hour of api's own downtime five days ago: the monitors did not see
    // that db was the cause.
    app.report("api", "unhealthy", -5 * DAY).await;
    app.report("api", "healthy", -5 * DAY + 60).await;
    for objective in [&self_only, &strict, &excluding] {
        assert_close(&app.status(objective).await["errorBudgetConsumedMinutes"], 60.0);
    }

    let made = correct(
        &app,
        "api",
        json!({"start": at(-5 * DAY), "end": at(-5 * DAY + 60), "kind": "upstream",
               "upstreamSystemId": "db", "reason": "db failover"}),
    )
    .await;
    assert_eq!(made["upstreamSystemId"], "db");

    let status = app.status(&self_only).await;
    assert_close(&status["errorBudgetConsumedMinutes"], 0.0);
    assert_close(&status["errorBudgetConsumedStrictMinutes"], 60.0);
    assert_eq!(
        status["attribution"],
        json!([{"sourceType": "self", "minutes": 0.0},
               {"sourceType": "upstream", "systemId": "db", "systemName": "DB", "minutes": 60.0}])
    );
    let status = app.status(&strict).await;
    assert_close(&status["errorBudgetConsumedMinutes"], 60.0);
    assert_eq!(status["attribution"][1]["systemId"], "db", "attributed to db in strict too");
    assert_close(&status["attribution"][1]["minutes"], 60.0);
    // An objective that does not excuse db keeps the hour as its own.
    let status = app.status(&excluding).await;
    assert_close(&status["errorBudgetConsumedMinutes"], 60.0);
    assert_close(&status["attribution"][0]["minutes"], 60.0);

    // Only a current direct upstream can be blamed.
    app.create_system("cdn").await;
    let (code, body) = app
        .post(
            "/systems/api/corrections",
            json!({"start": at(-5 * DAY), "end": at(-5 * DAY + 60), "kind": "upstream",
                   "upstreamSystemId": "cdn", "reason": "cdn"}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("upstreamSystemId"));
}

#[tokio::test]
async fn where_corrections_overlap_the_latest_made_wins() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.report("api", "unhealthy", -2 * DAY).await;
    app.report("api", "healthy", -2 * DAY + 60).await;

    let whole = correct(
        &app,
        "api",
        json!({"start": at(-2 * DAY), "end": at(-2 * DAY + 60), "kind": "false_positive",
               "reason": "monitor bug"}),
    )
    .await;
    let status = app.status(&objective).await;
    assert_close(&status["errorBudgetConsumedMinutes"], 0.0);
    // Made later, a maintenance correction over the middle 20 minutes wins
    // there, even though the objective does not exclude maintenance
    // windows.
    app.set_now(1);
    correct(
        &app,
        "api",
        json!({"start": at(-2 * DAY + 20), "end": at(-2 * DAY + 40), "kind": "maintenance",
               "reason": "it was the planned upgrade after all"}),
    )
    .await;
    let status = app.status(&objective).await;
    assert_close(&status["errorBudgetConsumedMinutes"], 0.0);
    assert_close(&status["maintenanceMinutes"], 20.0);

    // Revoking the first leaves the second alone.
    let (code, _) = app.delete(&format!("/corrections/{}", whole["id"].as_str().unwrap())).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let status = app.status(&objective).await;
    assert_close(&status["errorBudgetConsumedMinutes"], 40.0);
    assert_close(&status["maintenanceMinutes"], 20.0);

    // The trail lists both, newest made first.
    let trail = corrections_of(&app, "api").await;
    let kinds: Vec<&str> = trail.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["maintenance", "false_positive"]);
    assert_eq!(trail[0]["revokedAt"], Value::Null);
    assert_ne!(trail[1]["revokedAt"], Value::Null);
}

#[tokio::test]
async fn bad_corrections_are_refused_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.set_now(60);
    let good = json!({"start": at(0), "end": at(30), "kind": "maintenance", "reason": "planned"});
    let cases: Vec<(Value, Option<&str>)> = vec![
        (json!({"start": at(61)}), Some("start")),
        (json!({"end": at(0)}), Some("end")),
        (json!({"end": at(61)}), Some("end")),
        (json!({"start": "soon"}), Some("start")),
        (json!({"reason": "  "}), Some("reason")),
        (json!({"reason": "x".repeat(501)}), Some("reason")),
        (json!({"reason": 5}), Some("reason")),
        (json!({"kind": "outage"}), Some("kind")),
        (json!({"kind": "upstream"}), Some("upstreamSystemId")),
        (json!({"upstreamSystemId": "db"}), Some("upstreamSystemId")),
        (json!({"author": "mallory"}), Some("author")),
        (json!({"colour": "red"}), Some("colour")),
    ];
    for (change, field) in cases {
        let mut body = good.clone();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, error) = app.post("/systems/api/corrections", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_error(&error, "validation_failed", field);
    }
    let (status, error) = app.post("/systems/api/corrections", json!([1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(corrections_of(&app, "api").await.is_empty(), "nothing was written");

    let (status, error) = app.post("/systems/ghost/corrections", good.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, _) = app.get("/systems/ghost/corrections").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.delete("/corrections/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The longest reason is fine.
    let longest = json!({"start": at(0), "end": at(30), "kind": "maintenance",
                         "reason": "é".repeat(500)});
    correct(&app, "api", longest).await;
}

#[tokio::test]
async fn a_correction_is_authored_by_the_token_that_made_it() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let (status, token) = app.post("/tokens", json!({"name": "alice", "scope": "manage"})).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let secret = token["secret"].as_str().unwrap();
    let body =
        json!({"start": at(-60), "end": at(-30), "kind": "maintenance", "reason": "planned"});
    let response = app
        .client
        .post(app.url("/systems/api/corrections"))
        .bearer_auth(secret)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let made: Value = response.json().await.unwrap();
    assert_eq!(made["author"], "alice");
    let response = app
        .client
        .delete(app.url(&format!("/corrections/{}", made["id"].as_str().unwrap())))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let trail: Value = app
        .client
        .get(app.url("/systems/api/corrections"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(trail["corrections"][0]["revokedBy"], "alice");
}
