//! The application: the HTTP API and the dashboard under one router, and
//! the state their handlers share.
//!
//! This is the one module that sees both front ends. It builds the
//! [`AppState`] router (the state itself is defined below both front ends,
//! in [`crate::state`], since every handler names it), nests the API
//! ([`crate::api`]) under `/api/v1`, merges the dashboard ([`crate::web`])
//! at `/`, answers `GET /healthz` and `GET /readyz`, and wraps everything in
//! the layers every response goes through: unknown routes answered as
//! JSON, or as the dashboard's 404 page for a browser (`no_route`); any
//! other error response that is not already ours (a wrong method's 405, a
//! layer's rejection) rewritten into the API's JSON error shape; the 1 MiB
//! body limit (SPEC §9); one log line per request. Neither `api` nor `web`
//! imports the other, nor this module: what both need lives below them
//! ([`crate::state`], [`crate::input`], [`crate::service`]).

use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::api::error::ApiError;
use crate::api::extract::MAX_BODY_BYTES;
pub use crate::state::AppState;
use crate::web;

/// The whole application: routes, error shaping, body limit, request logs.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(crate::api::readyz::readyz))
        .nest("/api/v1", crate::api::router())
        // The dashboard (SPEC §11): HTML pages at `/`, `/objectives/…`,
        // `/systems/…` and `/static/…`.
        .merge(web::router())
        .fallback(no_route)
        .layer(axum::middleware::map_response(errors_as_json))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            // One INFO line per request, when it completes.
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// Liveness: the process answers. Readiness (the database answers too) is
/// `GET /readyz`.
async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn no_route(method: Method, uri: Uri, headers: axum::http::HeaderMap) -> Response {
    // A browser asking for a page outside the API gets the dashboard's 404
    // page; everyone else, and every `/api/` path, our JSON error.
    if web::wants_html(&headers, uri.path()) {
        return web::not_found_page(uri.path());
    }
    ApiError::not_found(format!("no route for {method} {}", uri.path())).into_response()
}

/// Rewrites any error response that is not already ours (axum's 405 for a
/// wrong method, a layer's plain-text rejection) into our JSON shape,
/// keeping its status.
async fn errors_as_json(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Ours already: JSON from the API, HTML error pages from the dashboard.
    let is_ours = response.headers().get(CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
    });
    if is_ours {
        return response;
    }
    // axum adds `Allow` to a 405 outside this layer, so it survives.
    ApiError::from_status(status).into_response()
}
