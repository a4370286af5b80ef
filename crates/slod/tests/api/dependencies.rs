//! `/systems/{id}/dependencies` (SPEC §1, §9).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn put_replaces_and_get_shows_both_directions() {
    let app = spawn_app().await;
    for id in ["web", "api", "db", "cache"] {
        app.create_system(id).await;
    }
    let (status, body) =
        app.put("/systems/api/dependencies", json!({"upstreamIds": ["db", "cache"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body["upstream"]), ["cache", "db"]);
    app.set_upstreams("web", &["api"]).await;

    let api = app.get_ok("/systems/api/dependencies").await;
    assert_eq!(ids(&api["upstream"]), ["cache", "db"]);
    assert_eq!(ids(&api["downstream"]), ["web"]);
    assert_eq!(api["upstream"][0]["name"], "CACHE");
    assert_eq!(ids(&app.get_ok("/systems/db/dependencies").await["downstream"]), ["api"]);

    app.set_upstreams("api", &["db"]).await;
    assert_eq!(ids(&app.get_ok("/systems/api/dependencies").await["upstream"]), ["db"]);
    assert_eq!(app.get_ok("/systems/cache/dependencies").await["downstream"], json!([]));
    app.set_upstreams("api", &[]).await;
    assert_eq!(app.get_ok("/systems/api/dependencies").await["upstream"], json!([]));
}

#[tokio::test]
async fn self_edges_and_cycles_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    for id in ["web", "api", "db"] {
        app.create_system(id).await;
    }
    app.set_upstreams("web", &["api"]).await;
    app.set_upstreams("api", &["db"]).await;

    let (status, body) =
        app.put("/systems/api/dependencies", json!({"upstreamIds": ["api"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("upstreamIds"));
    assert!(body["error"]["message"].as_str().unwrap().contains("itself"));

    let (status, body) = app.put("/systems/db/dependencies", json!({"upstreamIds": ["web"]})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "conflict", Some("upstreamIds"));
    assert_eq!(body["error"]["message"], "would create a dependency cycle: db -> web -> api -> db");

    assert_eq!(app.get_ok("/systems/db/dependencies").await["upstream"], json!([]));
    assert_eq!(ids(&app.get_ok("/systems/api/dependencies").await["upstream"]), ["db"]);
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;

    let (status, body) =
        app.put("/systems/api/dependencies", json!({"upstreamIds": ["db", "ghost"]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", Some("upstreamIds[1]"));
    assert!(body["error"]["message"].as_str().unwrap().contains("ghost"));

    let (status, body) =
        app.put("/systems/ghost/dependencies", json!({"upstreamIds": ["db"]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);

    let (status, body) =
        app.put("/systems/api/dependencies", json!({"upstreamIds": ["bad id"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("upstreamIds[0]"));

    let (status, body) = app.put("/systems/api/dependencies", json!({"upstreamIds": "db"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("upstreamIds"));

    let (status, body) = app.put("/systems/api/dependencies", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("upstreamIds"));

    let (status, _) = app.get("/systems/ghost/dependencies").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.get_ok("/systems/api/dependencies").await["upstream"], json!([]));
}

#[tokio::test]
async fn new_edges_reattribute_open_downtime_at_that_instant() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;
    let objective = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
            "dependencyExclusion": "self-only"}))
        .await;
    app.report("db", "unhealthy", 0).await;
    app.report("api", "unhealthy", 1).await;
    app.set_now(5);
    // api was charged for itself: it did not depend on db yet.
    assert_eq!(
        app.events(&objective).await.iter().map(shape).collect::<Vec<_>>(),
        [self_event(1, None)]
    );

    app.set_upstreams("api", &["db"]).await;
    assert_eq!(
        app.events(&objective).await.iter().map(shape).collect::<Vec<_>>(),
        [self_event(1, Some(5)), upstream_event("db", 5, None)]
    );
}
