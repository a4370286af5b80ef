//! The HTTP API (SPEC §9), under `/api/v1`, plus `GET /healthz`.
//!
//! Handlers are thin: an extractor parses the request into a validated type
//! (errors in our JSON format, see [`extract`] and [`fields`]), the handler
//! asks the [`Clock`] for now, calls one `service` function, and renders its
//! result. Every error, including unknown routes, wrong methods and bodies
//! over 1 MiB, is `{"error": {"code", "message", "field"}}` ([`error`]).

mod achievements;
mod channels;
pub mod error;
pub mod extract;
pub mod fields;
mod health;
mod jobs;
pub(crate) mod objectives;
mod readyz;
mod stream;
mod systems;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use slod_core::time::Timestamp;
use slod_store::Store;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::clock::Clock;
use crate::notify::Notifier;
use error::ApiError;
use extract::MAX_BODY_BYTES;

/// What every handler can reach: storage, the clock, and notifications
/// (test sends, the live event stream).
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub notifier: Arc<Notifier>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, notifier: Arc<Notifier>) -> Self {
        Self { store, clock, notifier }
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// The whole application: routes, error shaping, body limit, request logs.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/systems", get(systems::list))
        .route("/systems/{id}", get(systems::get).put(systems::put).delete(systems::delete))
        .route(
            "/systems/{id}/dependencies",
            get(systems::get_dependencies).put(systems::put_dependencies),
        )
        .route("/systems/{id}/objectives", get(objectives::list_for_system))
        .route("/health", axum::routing::post(health::post))
        .route("/objectives", get(objectives::list).post(objectives::create))
        .route(
            "/objectives/{id}",
            get(objectives::get).patch(objectives::update).delete(objectives::delete),
        )
        .route("/objectives/{id}/downtime-events", get(objectives::events))
        .route("/objectives/{id}/snapshots", get(jobs::snapshots))
        .route("/streaks", get(jobs::streaks))
        .route("/digests", get(jobs::digests))
        .route("/jobs/daily", axum::routing::post(jobs::run_daily))
        .route("/jobs/weekly-digest", axum::routing::post(jobs::run_weekly_digest))
        .route("/jobs/runs", get(jobs::runs))
        .route("/achievements", get(achievements::definitions))
        .route("/systems/{id}/achievements", get(achievements::for_system))
        .route("/milestones", get(achievements::milestones))
        .route("/channels", get(channels::list).post(channels::create))
        .route(
            "/channels/{id}",
            get(channels::get).patch(channels::update).delete(channels::delete),
        )
        .route("/channels/{id}/test", axum::routing::post(channels::test))
        .route("/channels/{id}/deliveries", get(channels::deliveries))
        .route("/events/stream", get(stream::stream));

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::readyz))
        .nest("/api/v1", api)
        // The dashboard (SPEC §11): HTML pages at `/`, `/objectives/…`,
        // `/systems/…` and `/static/…`.
        .merge(crate::web::router())
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
    if crate::web::wants_html(&headers, uri.path()) {
        return crate::web::not_found_page(uri.path());
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
