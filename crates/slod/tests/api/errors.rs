//! Transport-level errors, all in our JSON format (SPEC §9).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn json_of(response: reqwest::Response) -> Value {
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let padding = "x".repeat(1024 * 1024 + 1);
    for path in ["/health", "/objectives"] {
        let body =
            json!({"systemId": "api", "status": "unhealthy", "padding": padding}).to_string();
        let (code, response) = app.post_raw(path, &body).await;
        assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_error(&response, "payload_too_large", None);
    }
    let (code, response) = app.put("/systems/api", json!({"name": padding})).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&response, "payload_too_large", None);
    assert_eq!(app.get_ok("/systems/api").await["status"], "healthy");
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = spawn_app().await;
    for path in ["/api/v1/nope", "/nope", "/api/v2/systems", "/api/v1/systems/a/b/c"] {
        let response = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_error(&json_of(response).await, "not_found", None);
    }
    let response = app.client.delete(app.url("/systems")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().contains_key("allow"));
    assert_error(&json_of(response).await, "method_not_allowed", None);
}

#[tokio::test]
async fn bodies_must_be_json() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let response = app
        .client
        .post(app.url("/health"))
        .header("content-type", "text/plain")
        .body(r#"{"systemId": "api", "status": "unhealthy"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&json_of(response).await, "unsupported_media_type", None);

    let response = app.client.post(app.url("/health")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    for bad in ["", "{", "{\"systemId\": }", "nul"] {
        let (code, body) = app.post_raw("/health", bad).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_error(&body, "invalid_request", None);
    }
    let (code, body) = app.post_raw("/health", "[1, 2]").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("body"));

    // A charset parameter is fine.
    let response = app
        .client
        .post(app.url("/health"))
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"systemId": "api", "status": "unhealthy"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_path_encoding_is_400_in_our_format() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/systems/%FF")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_error(&json_of(response).await, "invalid_request", None);
}
