//! The application: the HTTP API and the dashboard under one router, and
//! the state their handlers share.
//!
//! This is the one module that sees both front ends. It builds the
//! [`AppState`] router (the state itself is defined below both front ends,
//! in [`crate::state`], since every handler names it), nests the API
//! ([`crate::api`]) under `/api/v1`, merges the dashboard ([`crate::web`])
//! at `/`, answers `GET /healthz` and `GET /readyz`, and wraps everything in
//! the layers every response goes through: access control (SPEC §16: the
//! API's scopes in [`require_api_scope`], the dashboard's sessions in
//! [`web::session::guard`]); unknown routes answered as
//! JSON, or as the dashboard's 404 page for a browser (`no_route`); any
//! other error response that is not already ours (a wrong method's 405, a
//! layer's rejection) rewritten into the API's JSON error shape; the 1 MiB
//! body limit (SPEC §9); one log line per request; the HTTP metrics of
//! `GET /metrics` (SPEC §15), labelled by route template. `/metrics` and
//! `/api/v1/openapi.json` sit here, outside the API's guard, beside the
//! probes. Neither `api` nor `web`
//! imports the other, nor this module: what both need lives below them
//! ([`crate::state`], [`crate::input`], [`crate::service`]).

use crate::service::corrections::Actor;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use slod_store::auth::Scope;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;

use crate::access;
use crate::api::error::ApiError;
use crate::api::extract::MAX_BODY_BYTES;
use crate::api::openapi::ErrorShapes;
use crate::metrics::{Format, HttpLabels, UNMATCHED_ROUTE};
use crate::service::tokens;
pub use crate::state::AppState;
use crate::web;

/// The whole application: routes, error shaping, body limit, request logs.
pub fn router(state: AppState) -> Router {
    // `route_layer`: the guards run once a route matched, so they know its
    // template (`/systems/{id}`), which is what the rules are written in.
    let api_guard = from_fn_with_state(state.clone(), require_api_scope);
    let web_guard = from_fn_with_state(state.clone(), web::session::guard);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(crate::api::readyz::readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi_json))
        .nest("/api/v1", crate::api::router().route_layer(api_guard))
        // The dashboard (SPEC §11): HTML pages at `/`, `/objectives/…`,
        // `/systems/…` and `/static/…`.
        .merge(web::router().route_layer(web_guard))
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

/// The API's access check (SPEC §16), for every `/api/v1` route: the
/// scopes [`access::api_scopes`] names for the method and route template.
async fn require_api_scope(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let path = matched.as_ref().map_or(request.uri().path(), MatchedPath::as_str);
    let route = path.strip_prefix("/api/v1").unwrap_or(path);
    let scopes = access::api_scopes(request.method(), route);
    // Checked on the head alone: a body is not shared across the awaits.
    let (parts, body) = request.into_parts();
    match authorize(&state, &parts, Some(scopes)).await {
        Ok(actor) => {
            let mut parts = parts;
            // SPEC §17: what the request does is authored by its token.
            if let Some(actor) = actor {
                parts.extensions.insert(actor);
            }
            next.run(Request::from_parts(parts, body)).await
        }
        Err(denied) => denied,
    }
}

/// The check of `/metrics` (SPEC §15, §16): `read` unless
/// `--public-metrics`. Layer it on the metrics route with
/// `route_layer(from_fn_with_state(state, require_metrics_scope))`.
pub async fn require_metrics_scope(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let scopes = access::metrics_scopes(state.access.settings().public_metrics);
    let (parts, body) = request.into_parts();
    match authorize(&state, &parts, scopes).await {
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(denied) => denied,
    }
}

/// Lets `request` through when access control is off, `scopes` is `None`,
/// or its credential has one of `scopes`; otherwise the answer: `401`
/// (no credential, or an unknown or revoked one), `403` (a scope that does
/// not allow it), `429` (too many failures from this address).
///
/// The credential is `Authorization: Bearer TOKEN`; a `GET` may instead
/// carry a dashboard session cookie, so the dashboard's live updates
/// (`/api/v1/events/stream`) work for a logged-in reader. The token itself
/// is never logged. Lets through with the token's name as the request's
/// [`Actor`] when a token was checked.
pub async fn authorize(
    state: &AppState,
    request: &Parts,
    scopes: Option<&[Scope]>,
) -> Result<Option<Actor>, Response> {
    let Some(scopes) = scopes else { return Ok(None) };
    let store = &*state.store;
    if !state.access.enforced(store).await {
        return Ok(None);
    }
    let client = request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    if let Some(wait) = state.access.blocked(client) {
        let mut response = ApiError::too_many_requests(
            "too many failed authentications from this address; wait and retry",
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&(wait.as_secs() + 1).to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return Err(response);
    }
    let bearer = request
        .headers
        .get(AUTHORIZATION)
        .map(|value| value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim));
    let found = match bearer {
        Some(Some(presented)) => tokens::authenticate(store, presented).await,
        Some(None) => Ok(None),
        None if request.method == Method::GET => {
            match web::session::session_token(&request.headers) {
                Some(session) => tokens::find_session(store, session, state.now()).await,
                None => {
                    return Err(unauthorized("this request needs `Authorization: Bearer TOKEN`"))
                }
            }
        }
        None => return Err(unauthorized("this request needs `Authorization: Bearer TOKEN`")),
    };
    let token = match found {
        Ok(Some(token)) => token,
        Ok(None) => {
            state.access.failed(client);
            tracing::warn!(client = ?client, "request with an unknown or revoked token");
            return Err(unauthorized("the token is unknown or revoked"));
        }
        Err(err) => return Err(ApiError::from(err).into_response()),
    };
    if !scopes.contains(&token.scope) {
        let needed: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        return Err(ApiError::forbidden(format!(
            "a {} token cannot make this request (it needs {})",
            token.scope,
            needed.join(" or ")
        ))
        .into_response());
    }
    if let Err(err) = tokens::record_use(store, &token, state.now()).await {
        tracing::warn!(error = %err, token = %token.id, "recording a token's use failed");
    }
    Ok(Some(Actor(token.name.clone())))
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::unauthorized(message).into_response();
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
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
