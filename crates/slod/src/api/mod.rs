//! The HTTP API (SPEC §9): the routes under `/api/v1`.
//!
//! Handlers are thin: an extractor parses the request into a validated type
//! (errors in our JSON format, see [`extract`] and
//! [`crate::input::fields`]), the handler asks the
//! [`Clock`](crate::clock::Clock) for now, calls one `service` function, and renders its
//! result. Every error is `{"error": {"code", "message", "field"}}`
//! ([`error`]); [`crate::app`], which nests these routes, shapes unknown
//! routes, wrong methods and bodies over 1 MiB (16 MiB on the
//! [`integrations`] routes) the same way. Request bodies
//! are parsed by [`crate::input`], which the dashboard shares.

mod achievements;
mod channels;
mod corrections;
pub mod error;
pub mod extract;
mod files;
mod health;
pub mod integrations;
mod jobs;
mod maintenance;
mod objectives;
pub mod openapi;
pub(crate) mod readyz;
mod reports;
mod stream;
mod systems;
mod tokens;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;

use crate::state::AppState;

/// The API's routes, relative to `/api/v1` (where [`crate::app`] nests
/// them).
pub fn router() -> Router<AppState> {
    table().router
}

/// Every route the API serves, as (method, route template): what the
/// access rules (SPEC §16) are tested against, built by the same code as
/// the router so no route escapes the test.
pub fn routes() -> Vec<(Method, &'static str)> {
    table().routes
}

fn table() -> Table {
    Table::default()
        .get("/systems", systems::list)
        .get("/systems/{id}", systems::get)
        .put("/systems/{id}", systems::put)
        .delete("/systems/{id}", systems::delete)
        .get("/systems/{id}/dependencies", systems::get_dependencies)
        .put("/systems/{id}/dependencies", systems::put_dependencies)
        .get("/systems/{id}/objectives", objectives::list_for_system)
        .delete("/systems/{id}/checks/{check_id}", systems::forget_check)
        .post("/health", health::post)
        .post("/apply", files::apply)
        .get("/export", files::export)
        .get("/objectives", objectives::list)
        .post("/objectives", objectives::create)
        .get("/objectives/{id}", objectives::get)
        .patch("/objectives/{id}", objectives::update)
        .delete("/objectives/{id}", objectives::delete)
        .get("/objectives/{id}/downtime-events", objectives::events)
        .get("/objectives/{id}/snapshots", jobs::snapshots)
        .get("/streaks", jobs::streaks)
        .get("/digests", jobs::digests)
        .post("/jobs/daily", jobs::run_daily)
        .post("/jobs/weekly-digest", jobs::run_weekly_digest)
        .post("/jobs/monthly-report", jobs::run_monthly_report)
        .get("/reports/sla", reports::sla)
        .get("/jobs/runs", jobs::runs)
        .get("/achievements", achievements::definitions)
        .get("/systems/{id}/achievements", achievements::for_system)
        .get("/milestones", achievements::milestones)
        .get("/channels", channels::list)
        .post("/channels", channels::create)
        .get("/channels/{id}", channels::get)
        .patch("/channels/{id}", channels::update)
        .delete("/channels/{id}", channels::delete)
        .post("/channels/{id}/test", channels::test)
        .get("/channels/{id}/deliveries", channels::deliveries)
        .get("/events/stream", stream::stream)
        .get("/systems/{id}/maintenance-windows", maintenance::list)
        .post("/systems/{id}/maintenance-windows", maintenance::create)
        .get("/maintenance-windows/{id}", maintenance::get)
        .patch("/maintenance-windows/{id}", maintenance::update)
        .delete("/maintenance-windows/{id}", maintenance::delete)
        .get("/systems/{id}/corrections", corrections::list)
        .post("/systems/{id}/corrections", corrections::create)
        .delete("/corrections/{id}", corrections::revoke)
        .get("/tokens", tokens::list)
        .post("/tokens", tokens::create)
        .delete("/tokens/{id}", tokens::revoke)
        .add(
            Method::POST,
            "/integrations/alertmanager",
            integrations::post(integrations::alertmanager),
        )
        .add(
            Method::POST,
            "/integrations/uptime-kuma",
            integrations::post(integrations::uptime_kuma),
        )
        .add(Method::POST, "/integrations/gatus", integrations::post(integrations::gatus))
}

/// The router and the list of its routes, built together.
#[derive(Default)]
struct Table {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl Table {
    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<AppState>) -> Self {
        // axum merges the methods of one path given in several calls.
        self.router = self.router.route(path, route);
        self.routes.push((method, path));
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::GET, path, axum::routing::get(handler))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::POST, path, axum::routing::post(handler))
    }

    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PUT, path, axum::routing::put(handler))
    }

    fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PATCH, path, axum::routing::patch(handler))
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::DELETE, path, axum::routing::delete(handler))
    }
}
