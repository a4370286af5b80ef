//! The HTTP API (SPEC §9): the routes under `/api/v1`.
//!
//! Handlers are thin: an extractor parses the request into a validated type
//! (errors in our JSON format, see [`extract`] and
//! [`crate::input::fields`]), the handler asks the
//! [`Clock`](crate::clock::Clock) for now, calls one `service` function, and renders its
//! result. Every error is `{"error": {"code", "message", "field"}}`
//! ([`error`]); [`crate::app`], which nests these routes, shapes unknown
//! routes, wrong methods and bodies over 1 MiB the same way. Request bodies
//! are parsed by [`crate::input`], which the dashboard shares.

mod achievements;
mod channels;
pub mod error;
pub mod extract;
mod health;
mod jobs;
mod maintenance;
mod objectives;
pub(crate) mod readyz;
mod stream;
mod systems;

use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The API's routes, relative to `/api/v1` (where [`crate::app`] nests
/// them).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/systems", get(systems::list))
        .route("/systems/{id}", get(systems::get).put(systems::put).delete(systems::delete))
        .route(
            "/systems/{id}/dependencies",
            get(systems::get_dependencies).put(systems::put_dependencies),
        )
        .route("/systems/{id}/objectives", get(objectives::list_for_system))
        .route("/systems/{id}/checks/{check_id}", axum::routing::delete(systems::forget_check))
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
        .route("/events/stream", get(stream::stream))
        .route(
            "/systems/{id}/maintenance-windows",
            get(maintenance::list).post(maintenance::create),
        )
        .route(
            "/maintenance-windows/{id}",
            get(maintenance::get).patch(maintenance::update).delete(maintenance::delete),
        )
}
