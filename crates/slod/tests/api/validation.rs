//! Every bad input of SPEC §2 and §3: a 400 naming the field, and nothing
//! written (checked with a follow-up read).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut body = base.clone();
    body[key] = value;
    body
}

fn without(base: &Value, key: &str) -> Value {
    let mut body = base.clone();
    body.as_object_mut().unwrap().remove(key);
    body
}

#[tokio::test]
async fn bad_objectives_are_refused_by_field() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let base = json!({"systemId": "api", "target": 99.9, "windowDays": 30});
    let thresholds =
        |key: &str, value: Value| with(&base, "burnRateThresholds", json!({ key: value }));
    let cases: Vec<(Value, &str)> = vec![
        (with(&base, "target", json!("NaN")), "target"),
        (with(&base, "target", json!(-1)), "target"),
        (with(&base, "target", json!(101)), "target"),
        (with(&base, "target", json!(100.000_001)), "target"),
        (without(&base, "target"), "target"),
        (with(&base, "target", Value::Null), "target"),
        (with(&base, "windowDays", json!(0)), "windowDays"),
        (with(&base, "windowDays", json!(3651)), "windowDays"),
        (with(&base, "windowDays", json!(1.5)), "windowDays"),
        (with(&base, "windowDays", json!("30")), "windowDays"),
        (with(&base, "windowDays", json!(1e30)), "windowDays"),
        (with(&base, "windowDays", json!(-30)), "windowDays"),
        (without(&base, "windowDays"), "windowDays"),
        (with(&base, "dependencyExclusion", json!("lenient")), "dependencyExclusion"),
        (with(&base, "dependencyExclusion", json!(1)), "dependencyExclusion"),
        (thresholds("warningPercent", json!(101)), "burnRateThresholds.warningPercent"),
        (thresholds("criticalPercent", json!(-1)), "burnRateThresholds.criticalPercent"),
        (thresholds("fastBurnMultiplier", json!(0.5)), "burnRateThresholds.fastBurnMultiplier"),
        (thresholds("warningPercent", json!("high")), "burnRateThresholds.warningPercent"),
        (thresholds("slowBurn", json!(1)), "burnRateThresholds.slowBurn"),
        (with(&base, "burnRateThresholds", json!(50)), "burnRateThresholds"),
        (with(&base, "createdAt", json!(at(6))), "createdAt"),
        (with(&base, "createdAt", json!("yesterday")), "createdAt"),
        (with(&base, "createdAt", json!(1_700_000_000)), "createdAt"),
        (with(&base, "excludedDependencyIds", json!(["db", "bad id"])), "excludedDependencyIds[1]"),
        (with(&base, "excludedDependencyIds", json!([7])), "excludedDependencyIds[0]"),
        (with(&base, "excludedDependencyIds", json!("db")), "excludedDependencyIds"),
        (with(&base, "excludeMaintenanceWindows", json!("yes")), "excludeMaintenanceWindows"),
        (with(&base, "healthCheckConfigurationId", json!(5)), "healthCheckConfigurationId"),
        (with(&base, "healthCheckConfigurationId", json!("  ")), "healthCheckConfigurationId"),
        (without(&base, "systemId"), "systemId"),
        (with(&base, "systemId", json!("bad id")), "systemId"),
        (with(&base, "systemId", json!("x".repeat(201))), "systemId"),
        (with(&base, "colour", json!("red")), "colour"),
        (with(&base, "id", json!("mine")), "id"),
    ];
    for (body, field) in cases {
        let (code, response) = app.post("/objectives", body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body} -> {response}");
        assert_error(&response, "validation_failed", Some(field));
    }

    let (code, response) = app.post("/objectives", with(&base, "systemId", json!("ghost"))).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&response, "not_found", Some("systemId"));

    // NaN is not JSON at all.
    let (code, response) = app
        .post_raw("/objectives", r#"{"systemId": "api", "target": NaN, "windowDays": 30}"#)
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&response, "invalid_request", None);
    let (code, response) = app.post("/objectives", json!([base.clone()])).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&response, "validation_failed", Some("body"));

    assert_eq!(app.get_ok("/objectives").await["objectives"], json!([]));
}

#[tokio::test]
async fn bad_updates_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;
    let id =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let before = app.get_ok(&format!("/objectives/{id}")).await["objective"].clone();
    app.set_now(1);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"systemId": "db"}), "systemId"),
        (json!({"id": "other"}), "id"),
        (json!({"target": 101}), "target"),
        (json!({"target": "high"}), "target"),
        (json!({"windowDays": 0}), "windowDays"),
        (json!({"windowDays": 3651}), "windowDays"),
        (json!({"dependencyExclusion": "none"}), "dependencyExclusion"),
        (
            json!({"burnRateThresholds": {"criticalPercent": 100.5}}),
            "burnRateThresholds.criticalPercent",
        ),
        (json!({"createdAt": at(7)}), "createdAt"),
        (json!({"excludedDependencyIds": [""]}), "excludedDependencyIds[0]"),
        (json!({"updatedAt": at(0)}), "updatedAt"),
        // A good field next to a bad one: nothing of it applies.
        (json!({"target": 95, "windowDays": 1.5}), "windowDays"),
    ];
    for (body, field) in cases {
        let (code, response) = app.patch(&format!("/objectives/{id}"), body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body} -> {response}");
        assert_error(&response, "validation_failed", Some(field));
    }
    assert_eq!(app.get_ok(&format!("/objectives/{id}")).await["objective"], before);
}

#[tokio::test]
async fn bad_systems_are_refused_by_field() {
    let app = spawn_app().await;
    let long_id = "a".repeat(201);
    let cases: Vec<(String, Value, &str)> = vec![
        ("bad%20id".into(), json!({"name": "x"}), "id"),
        ("caf%C3%A9".into(), json!({"name": "x"}), "id"),
        ("a%2Fb".into(), json!({"name": "x"}), "id"),
        (long_id.clone(), json!({"name": "x"}), "id"),
        ("api".into(), json!({"name": "   "}), "name"),
        ("api".into(), json!({"name": ""}), "name"),
        ("api".into(), json!({"name": "n".repeat(201)}), "name"),
        ("api".into(), json!({"name": 7}), "name"),
        ("api".into(), json!({}), "name"),
        ("api".into(), json!({"name": "API", "tier": 1}), "tier"),
    ];
    for (id, body, field) in cases {
        let (code, response) = app.put(&format!("/systems/{id}"), body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{id} {body} -> {response}");
        assert_error(&response, "validation_failed", Some(field));
    }
    assert_eq!(app.get_ok("/systems").await["systems"], json!([]));

    // The limits themselves are fine.
    let max_id = "a".repeat(200);
    let (code, body) =
        app.put(&format!("/systems/{max_id}"), json!({"name": "n".repeat(200)})).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (code, _) = app.put("/systems/Api.prod:eu-1_b", json!({"name": "ok"})).await;
    assert_eq!(code, StatusCode::CREATED);
}

#[tokio::test]
async fn bad_reports_are_refused_by_field() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let base = json!({"systemId": "api", "status": "unhealthy", "at": at(0)});
    let cases: Vec<(Value, &str)> = vec![
        (with(&base, "status", json!("down")), "status"),
        (with(&base, "status", json!("Healthy")), "status"),
        (with(&base, "status", json!(0)), "status"),
        (without(&base, "status"), "status"),
        (with(&base, "source", json!("probe")), "source"),
        (with(&base, "at", json!("yesterday")), "at"),
        (with(&base, "at", json!("2026-03-01")), "at"),
        (with(&base, "at", json!(at(6))), "at"),
        (without(&base, "systemId"), "systemId"),
        (with(&base, "systemId", json!("bad id")), "systemId"),
        (with(&base, "systemId", json!("")), "systemId"),
        (with(&base, "createSystem", json!("yes")), "createSystem"),
        (with(&with(&base, "createSystem", json!(true)), "systemName", json!(" ")), "systemName"),
        (with(&base, "severity", json!("high")), "severity"),
        (json!({"reports": "all"}), "reports"),
        (json!({"reports": []}), "reports"),
        (json!({"reports": [base.clone(), 5]}), "reports[1]"),
        (
            json!({"reports": [base.clone(), with(&base, "source", json!("pager"))]}),
            "reports[1].source",
        ),
        (json!({"reports": [with(&base, "extra", json!(1))]}), "reports[0].extra"),
        (json!({"reports": [base.clone()], "dryRun": true}), "dryRun"),
    ];
    for (body, field) in cases {
        let (code, response) = app.post("/health", body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body} -> {response}");
        assert_error(&response, "validation_failed", Some(field));
    }
    let system = app.get_ok("/systems/api").await;
    assert_eq!(system["status"], "healthy");
    assert_eq!(system["lastReportAt"], Value::Null);
    assert!(app.events(&objective).await.is_empty());
    assert_eq!(app.get_ok("/systems").await["systems"].as_array().unwrap().len(), 1);
}
