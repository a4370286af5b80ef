//! `POST /health` through every rule of SPEC §3.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

type Shape = (String, Option<String>, String, Option<String>);

async fn shapes(app: &TestApp, objective: &str) -> Vec<Shape> {
    app.events(objective).await.iter().map(shape).collect()
}

/// `api` depends on `db` and `cache`; one strict and one self-only
/// objective on `api`.
async fn api_with_upstreams(app: &TestApp) -> (String, String) {
    app.set_now(60);
    for id in ["api", "db", "cache"] {
        app.create_system(id).await;
    }
    app.set_upstreams("api", &["db", "cache"]).await;
    let strict =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let self_only = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
            "dependencyExclusion": "self-only"}))
        .await;
    (strict, self_only)
}

#[tokio::test]
async fn r1_opens_and_r2_closes_an_event() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;

    let body = app.report("api", "unhealthy", -10).await;
    assert_eq!(body["reportsApplied"], 1);
    assert_eq!(body["reportsUnchanged"], 0);
    assert_eq!(body["eventsSplit"], 0);
    assert_eq!(body["eventsClosed"], json!([]));
    let opened = body["eventsOpened"].as_array().unwrap().clone();
    assert_eq!(opened.len(), 1);

    let events = app.events(&objective).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["id"], opened[0]);
    assert_eq!(event["objectiveId"], objective);
    assert_eq!(event["systemId"], "api");
    assert_eq!(event["attributionType"], "self");
    assert_eq!(event["source"], "healthcheck");
    assert_eq!(event["endTime"], Value::Null);
    assert_eq!(event["durationSeconds"], Value::Null);
    assert_eq!(event["upstreamSystemId"], Value::Null);
    assert_eq!(event["upstreamSystemName"], Value::Null);

    let body = app.report("api", "healthy", -4).await;
    assert_eq!(body["eventsClosed"], json!(opened));
    assert_eq!(body["eventsOpened"], json!([]));
    let event = &app.events(&objective).await[0];
    assert_eq!(event["endTime"], at(-4));
    assert_eq!(event["durationSeconds"], 360.0);
}

#[tokio::test]
async fn repeats_and_degraded_unhealthy_changes_touch_no_event() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.report("api", "healthy", 0).await;
    app.report("api", "degraded", 1).await;
    let body = app.report("api", "degraded", 2).await;
    assert_eq!(
        (body["reportsApplied"].as_u64(), body["reportsUnchanged"].as_u64()),
        (Some(0), Some(1))
    );
    let body = app.report("api", "unhealthy", 3).await;
    assert_eq!(body["reportsApplied"], 1);
    assert_eq!(body["eventsOpened"], json!([]));
    assert_eq!(body["eventsClosed"], json!([]));
    app.report("api", "degraded", 4).await;
    assert_eq!(shapes(&app, &objective).await, [self_event(1, None)]);
}

#[tokio::test]
async fn attribution_depends_on_mode_and_exclusions() {
    let app = spawn_app().await;
    let (strict, self_only) = api_with_upstreams(&app).await;
    let excluding_db = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
            "dependencyExclusion": "self-only", "excludedDependencyIds": ["db"]}))
        .await;
    app.report("db", "unhealthy", 0).await;
    app.report("api", "unhealthy", 1).await;
    assert_eq!(shapes(&app, &strict).await, [self_event(1, None)]);
    assert_eq!(shapes(&app, &self_only).await, [upstream_event("db", 1, None)]);
    assert_eq!(app.events(&self_only).await[0]["upstreamSystemName"], "DB");
    assert_eq!(shapes(&app, &excluding_db).await, [self_event(1, None)]);
}

#[tokio::test]
async fn an_upstream_going_down_splits_self_downtime() {
    let app = spawn_app().await;
    let (strict, self_only) = api_with_upstreams(&app).await;
    app.report("api", "unhealthy", 0).await;
    let body = app.report("db", "unhealthy", 10).await;
    assert_eq!(body["eventsSplit"], 1);
    assert_eq!(body["eventsClosed"].as_array().unwrap().len(), 1);
    assert_eq!(
        shapes(&app, &self_only).await,
        [self_event(0, Some(10)), upstream_event("db", 10, None)]
    );
    // Strict objectives never split.
    assert_eq!(shapes(&app, &strict).await, [self_event(0, None)]);
    app.report("api", "healthy", 15).await;
    assert_eq!(
        shapes(&app, &self_only).await,
        [self_event(0, Some(10)), upstream_event("db", 10, Some(15))]
    );
}

#[tokio::test]
async fn upstream_recovery_reattributes_the_rest_of_the_outage() {
    let app = spawn_app().await;
    let (_, self_only) = api_with_upstreams(&app).await;
    app.report("db", "unhealthy", 0).await;
    app.report("api", "unhealthy", 1).await;
    let body = app.report("db", "healthy", 5).await;
    assert_eq!(body["eventsSplit"], 1);
    // api is still down: the rest is its own.
    assert_eq!(
        shapes(&app, &self_only).await,
        [upstream_event("db", 1, Some(5)), self_event(5, None)]
    );
    app.report("api", "healthy", 8).await;
    assert_eq!(
        shapes(&app, &self_only).await,
        [upstream_event("db", 1, Some(5)), self_event(5, Some(8))]
    );
}

#[tokio::test]
async fn the_upstream_down_longest_is_charged_and_the_next_takes_over() {
    let app = spawn_app().await;
    let (_, self_only) = api_with_upstreams(&app).await;
    app.report("db", "unhealthy", 0).await;
    app.report("cache", "unhealthy", 2).await;
    app.report("api", "unhealthy", 3).await;
    assert_eq!(shapes(&app, &self_only).await, [upstream_event("db", 3, None)]);
    app.report("db", "healthy", 6).await;
    assert_eq!(
        shapes(&app, &self_only).await,
        [upstream_event("db", 3, Some(6)), upstream_event("cache", 6, None)]
    );
    // When the system recovers with its upstream, the event just closes.
    app.report("api", "healthy", 7).await;
    app.report("cache", "healthy", 9).await;
    assert_eq!(
        shapes(&app, &self_only).await,
        [upstream_event("db", 3, Some(6)), upstream_event("cache", 6, Some(7))]
    );
}

#[tokio::test]
async fn ties_between_upstreams_go_to_the_smaller_id() {
    let app = spawn_app().await;
    let (_, self_only) = api_with_upstreams(&app).await;
    let (code, body) = app
        .post(
            "/health",
            json!({"reports": [
                {"systemId": "db", "status": "unhealthy", "at": at(0)},
                {"systemId": "cache", "status": "unhealthy", "at": at(0)},
                {"systemId": "api", "status": "unhealthy", "at": at(1)},
            ]}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["reportsApplied"], 3);
    assert_eq!(shapes(&app, &self_only).await, [upstream_event("cache", 1, None)]);
}

#[tokio::test]
async fn reports_older_than_the_latest_are_refused_same_instant_accepted() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.report("api", "unhealthy", -5).await;
    let (code, body) =
        app.post("/health", json!({"systemId": "api", "status": "healthy", "at": at(-6)})).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_error(&body, "conflict", Some("at"));
    assert!(body["error"]["message"].as_str().unwrap().contains(&at(-5)), "{body}");
    // Nothing changed.
    assert_eq!(app.get_ok("/systems/api").await["status"], "unhealthy");
    assert_eq!(shapes(&app, &objective).await, [self_event(-5, None)]);

    // The same instant as the latest is fine.
    app.report("api", "healthy", -5).await;
    assert_eq!(app.get_ok("/systems/api").await["status"], "healthy");
}

#[tokio::test]
async fn reports_more_than_five_minutes_ahead_are_refused() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let (code, body) =
        app.post("/health", json!({"systemId": "api", "status": "unhealthy", "at": at(6)})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("at"));
    assert_eq!(app.get_ok("/systems/api").await["lastReportAt"], Value::Null);
    // Up to five minutes of clock skew is tolerated.
    app.report("api", "unhealthy", 5).await;
}

#[tokio::test]
async fn at_defaults_to_now_and_source_to_healthcheck() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.set_now(42);
    let (code, _) = app.post("/health", json!({"systemId": "api", "status": "unhealthy"})).await;
    assert_eq!(code, StatusCode::OK);
    let event = &app.events(&objective).await[0];
    assert_eq!(event["startTime"], at(42));
    assert_eq!(event["source"], "healthcheck");
}

#[tokio::test]
async fn a_batch_is_applied_in_time_order() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let (code, body) = app
        .post(
            "/health",
            json!({"reports": [
                {"systemId": "api", "status": "healthy", "at": at(3)},
                {"systemId": "api", "status": "unhealthy", "at": at(1)},
            ]}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(shapes(&app, &objective).await, [self_event(1, Some(3))]);
}

#[tokio::test]
async fn a_batch_with_one_bad_report_writes_nothing() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.report("db", "unhealthy", -10).await;
    let good = |system: &str, status: &str, minutes: i64| json!({"systemId": system, "status": status, "at": at(minutes)});

    // A malformed report: refused before anything is read.
    let (code, body) = app
        .post(
            "/health",
            json!({"reports": [good("api", "unhealthy", 0), good("api", "healthy", 1),
            good("api", "unhealthy", 2), {"systemId": "api", "status": "down"}]}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("reports[3].status"));

    // An unknown system, after good reports and a system to create.
    let (code, body) = app
        .post(
            "/health",
            json!({"reports": [good("api", "unhealthy", 0),
            {"systemId": "new", "status": "unhealthy", "createSystem": true},
            good("ghost", "unhealthy", 1)]}),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", Some("reports[2].systemId"));

    // Out of order for one system, in time order behind good reports.
    let (code, body) = app
        .post(
            "/health",
            json!({"reports": [good("api", "unhealthy", 0), good("db", "healthy", -11)]}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_error(&body, "conflict", Some("reports[1].at"));

    // In the future.
    let (code, body) = app
        .post(
            "/health",
            json!({"reports": [good("api", "unhealthy", 0), good("api", "healthy", 60)]}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("reports[1].at"));

    assert_eq!(app.events(&objective).await, Vec::<Value>::new());
    let api = app.get_ok("/systems/api").await;
    assert_eq!((api["status"].as_str(), &api["lastReportAt"]), (Some("healthy"), &Value::Null));
    assert_eq!(app.get_ok("/systems/db").await["status"], "unhealthy");
    assert_eq!(app.get("/systems/new").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_systems_are_404_unless_created() {
    let app = spawn_app().await;
    let (code, body) =
        app.post("/health", json!({"systemId": "ghost", "status": "unhealthy"})).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", Some("systemId"));
    assert_eq!(app.get("/systems/ghost").await.0, StatusCode::NOT_FOUND);

    let (code, body) = app
        .post(
            "/health",
            json!({"systemId": "checkout", "status": "unhealthy", "at": at(-1),
            "createSystem": true, "systemName": "Checkout"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["systemsCreated"], json!(["checkout"]));
    let system = app.get_ok("/systems/checkout").await;
    assert_eq!(
        (system["name"].as_str(), system["status"].as_str()),
        (Some("Checkout"), Some("unhealthy"))
    );

    // Without a name the id is the name; an existing system is not renamed.
    let (code, _) = app
        .post("/health", json!({"systemId": "search", "status": "healthy", "createSystem": true}))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(app.get_ok("/systems/search").await["name"], "search");
    let (code, body) = app
        .post(
            "/health",
            json!({"systemId": "checkout", "status": "healthy", "createSystem": true,
            "systemName": "Other"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["systemsCreated"], json!([]));
    assert_eq!(app.get_ok("/systems/checkout").await["name"], "Checkout");
}

#[tokio::test]
async fn an_incident_holds_the_system_down_past_probe_recovery() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let (code, _) = app
        .post(
            "/health",
            json!({"systemId": "api", "status": "unhealthy", "at": at(0), "source": "incident"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    app.report("api", "unhealthy", 1).await;
    app.report("api", "healthy", 2).await;
    let events = app.events(&objective).await;
    assert_eq!(events.iter().map(shape).collect::<Vec<_>>(), [self_event(0, None)]);
    assert_eq!(events[0]["source"], "incident");
    let (code, _) = app
        .post(
            "/health",
            json!({"systemId": "api", "status": "healthy", "at": at(3), "source": "incident"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(shapes(&app, &objective).await, [self_event(0, Some(3))]);
}

#[tokio::test]
async fn objectives_are_charged_for_history_reported_after_they_exist() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.report("api", "unhealthy", -600).await;
    app.report("api", "healthy", -590).await;
    assert_eq!(shapes(&app, &objective).await, [self_event(-600, Some(-590))]);
}

#[tokio::test]
async fn an_objective_created_while_its_system_is_down_opens_an_event() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.report("api", "unhealthy", -30).await;
    app.set_now(0);
    let (code, body) =
        app.post("/objectives", json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let created_now = body["id"].as_str().unwrap().to_owned();
    // Created now: charged from now, not for the time before it existed.
    assert_eq!(shapes(&app, &created_now).await, [self_event(0, None)]);
    // Imported with a past createdAt: charged from the outage's start.
    let imported =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    assert_eq!(shapes(&app, &imported).await, [self_event(-30, None)]);
    app.report("api", "healthy", 2).await;
    assert_eq!(shapes(&app, &created_now).await, [self_event(0, Some(2))]);
}
