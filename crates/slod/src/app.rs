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
//! body limit (SPEC §9); one log line per request. Neither `api` nor `web`
//! imports the other, nor this module: what both need lives below them
//! ([`crate::state`], [`crate::input`], [`crate::service`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use slod_store::auth::Scope;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::access;
use crate::api::error::ApiError;
use crate::api::extract::MAX_BODY_BYTES;
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
        .nest("/api/v1", crate::api::router().route_layer(api_guard))
        // The dashboard (SPEC §11): HTML pages at `/`, `/objectives/…`,
        // `/systems/…` and `/static/…`.
        .merge(web::router().route_layer(web_guard))
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
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
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
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
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
/// is never logged.
pub async fn authorize(
    state: &AppState,
    request: &Parts,
    scopes: Option<&[Scope]>,
) -> Result<(), Response> {
    let Some(scopes) = scopes else { return Ok(()) };
    let store = &*state.store;
    if !state.access.enforced(store).await {
        return Ok(());
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
    Ok(())
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::unauthorized(message).into_response();
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
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
