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
//! body limit (SPEC §9); one log line per request; the HTTP metrics of
//! `GET /metrics` (SPEC §15), labelled by route template. `/metrics` sits
//! here, outside `/api/v1`, beside the probes. Neither `api` nor `web`
//! imports the other, nor this module: what both need lives below them
//! ([`crate::state`], [`crate::input`], [`crate::service`]).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;

use crate::api::error::ApiError;
use crate::api::extract::MAX_BODY_BYTES;
use crate::api::openapi::ErrorShapes;
use crate::metrics::{Format, HttpLabels, UNMATCHED_ROUTE};
pub use crate::state::AppState;
use crate::web;

/// The whole application: routes, error shaping, body limit, request logs.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(crate::api::readyz::readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi_json))
        .nest("/api/v1", crate::api::router())
        // The dashboard (SPEC §11): HTML pages at `/`, `/objectives/…`,
        // `/systems/…` and `/static/…`.
        .merge(web::router())
        .fallback(no_route)
        .layer(axum::middleware::map_response(errors_as_json))
        // Outside the error shaping, so it counts the status sent.
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_request))
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

/// The whole document: the API's routes under `/api/v1` and the ones
/// outside it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "slod",
        description = "SLO service: systems, health reports, objectives and their error budgets, \
                       notifications. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}` \
                       (SPEC §9)."
    ),
    paths(healthz, crate::api::readyz::readyz, metrics, openapi_json),
    nest((path = "/api/v1", api = crate::api::openapi::ApiDoc)),
    modifiers(&ErrorShapes),
    tags(
        (name = "operations", description = "Probes, metrics and this document (SPEC §15, §18)"),
    )
)]
pub struct AppDoc;

/// The OpenAPI 3.1 document of every route, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(AppDoc::openapi)
}

/// `GET /api/v1/openapi.json` (SPEC §15).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object))
)]
async fn openapi_json() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    axum::Json(openapi())
}

/// `GET /metrics` (SPEC §15): the Prometheus text format, or OpenMetrics
/// when `Accept` asks for it.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((
        status = 200,
        description = "Prometheus text exposition 0.0.4, or OpenMetrics 1.0 when `Accept` asks for \
                       `application/openmetrics-text`",
        content(
            (String = "text/plain"),
            (String = "application/openmetrics-text"),
        )
    ))
)]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let format = Format::from_accept(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
    let snapshot = match crate::metrics::scrape::gather(&*state.store, state.now()).await {
        Ok(snapshot) => snapshot,
        Err(err) => return ApiError::from(err).into_response(),
    };
    match state.metrics.render(snapshot, format) {
        Ok(body) => ([(CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(err) => ApiError::internal(&anyhow::anyhow!("encoding metrics: {err}")).into_response(),
    }
}

/// Counts every request in `slod_http_requests_total` and its duration in
/// `slod_http_request_duration_seconds`, labelled by the route template
/// (`/api/v1/systems/{id}`), never the raw path.
async fn count_request(
    State(state): State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let labels = HttpLabels { method, route, status: response.status().as_u16() };
    state.metrics.observe_request(labels, started.elapsed());
    response
}

/// Liveness: the process answers. Readiness (the database answers too) is
/// `GET /readyz`.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Alive", body = Object, example = json!({"status": "ok"})))
)]
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
