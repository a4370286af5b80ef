//! `/systems`: create, rename, read with effective status, delete with
//! cascade (SPEC §2, §9).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn put_creates_then_renames() {
    let app = spawn_app().await;
    let (status, body) = app.put("/systems/api", json!({"name": "  Public API "})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["id"], "api");
    assert_eq!(body["name"], "Public API");
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["since"], serde_json::Value::Null);
    assert_eq!(body["createdAt"], T0.replace("Z", ".000Z"));

    let (status, body) = app.put("/systems/api", json!({"name": "API v2"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "API v2");
    assert_eq!(app.get_ok("/systems/api").await["name"], "API v2");
}

#[tokio::test]
async fn list_is_ordered_by_id_with_status() {
    let app = spawn_app().await;
    for id in ["web", "api", "db"] {
        app.create_system(id).await;
    }
    app.report("db", "unhealthy", -5).await;
    let body = app.get_ok("/systems").await;
    let systems = body["systems"].as_array().unwrap();
    let ids: Vec<&str> = systems.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["api", "db", "web"]);
    assert_eq!(systems[1]["status"], "unhealthy");
    assert_eq!(systems[1]["since"], at(-5));
    assert_eq!(systems[0]["status"], "healthy");
}

#[tokio::test]
async fn effective_status_is_the_worst_source() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.report("api", "degraded", 1).await;
    let body = app.get_ok("/systems/api").await;
    assert_eq!(
        (body["status"].as_str(), body["since"].as_str()),
        (Some("degraded"), Some(&*at(1)))
    );
    // unhealthy is worse; the outage began at the first report.
    app.report("api", "unhealthy", 2).await;
    let body = app.get_ok("/systems/api").await;
    assert_eq!(
        (body["status"].as_str(), body["since"].as_str()),
        (Some("unhealthy"), Some(&*at(1)))
    );
    // An incident holds it down while the probe recovers.
    let (code, _) = app
        .post(
            "/health",
            json!({"systemId": "api", "status": "degraded", "at": at(3), "source": "incident"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    app.report("api", "healthy", 4).await;
    let body = app.get_ok("/systems/api").await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["lastReportAt"], at(4));
}

#[tokio::test]
async fn unknown_system_is_404_in_our_format() {
    let app = spawn_app().await;
    let (status, body) = app.get("/systems/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
    let (status, body) = app.delete("/systems/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
}

#[tokio::test]
async fn deleting_a_system_cascades() {
    let app = spawn_app().await;
    for id in ["web", "api", "db"] {
        app.create_system(id).await;
    }
    app.set_upstreams("web", &["api"]).await;
    app.set_upstreams("api", &["db"]).await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.report("api", "unhealthy", 1).await;
    app.report("api", "healthy", 2).await;
    assert_eq!(app.events(&objective).await.len(), 1);

    let (status, body) = app.delete("/systems/api").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.get("/systems/api").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/objectives/{objective}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/objectives/{objective}/downtime-events")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get_ok("/objectives").await["objectives"], json!([]));
    // Its edges went with it.
    assert_eq!(app.get_ok("/systems/web/dependencies").await["upstream"], json!([]));
    assert_eq!(app.get_ok("/systems/db/dependencies").await["downstream"], json!([]));
    // And the id can be used again from scratch.
    app.create_system("api").await;
    assert_eq!(app.get_ok("/systems/api").await["status"], "healthy");
}

#[tokio::test]
async fn healthz_answers_once_ready() {
    let app = spawn_app().await;
    let response = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
