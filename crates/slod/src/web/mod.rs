//! The dashboard (SPEC §11): server-rendered HTML at `/`.
//!
//! Pages are built from the same service functions the JSON API calls
//! (`service::objectives`, `service::systems`, `service::jobs`, …), so
//! the numbers on screen are the API's numbers, and rendered with maud,
//! whose `html!` templates escape every spliced value: a system named
//! `<script>` shows as text. Every page works without JavaScript: filters
//! are links, forms post `application/x-www-form-urlencoded` to the server
//! and the server answers with a page or a `303` redirect.
//!
//! | route | page |
//! |---|---|
//! | `GET /` | [`overview`]: every objective grouped by system, `?state=` filter, milestone feed |
//! | `GET /objectives/{id}` | [`objective`]: numbers, trend chart, downtime timeline, settings |
//! | `GET/POST /objectives/new` | [`editor`]: create form (`?systemId=` picks the system) |
//! | `GET/POST /objectives/{id}/edit` | [`editor`]: edit form |
//! | `GET/POST /objectives/{id}/delete` | [`objective`]: confirmation, then delete |
//! | `GET /systems/{id}` | [`system`]: objectives, maintenance windows, dependencies, achievements |
//! | `GET/POST /systems/{id}/maintenance-windows/new` | [`maintenance`]: plan a window |
//! | `GET/POST /maintenance-windows/{id}/edit` | [`maintenance`]: change a window |
//! | `POST /maintenance-windows/{id}/cancel` | [`maintenance`]: cancel (or restore) a window |
//! | `GET /static/slod.css` | the one stylesheet, from memory |
//! | `GET/POST /login`, `POST /logout` | [`session`]: log in with a token, log out |
//!
//! Unknown objectives and systems get a friendly 404 page; the only 500 is a
//! failing database, and its detail goes to the log, not the page. Forms
//! posted from another site are refused ([`check_same_origin`]), which is
//! what protects them while no token exists; once one does, every page
//! needs a session and every form its anti-forgery token ([`session`]). The overview, objective and system pages carry one small
//! inline script that refreshes their numbers from the live event stream;
//! it is an extra, not a requirement.

mod components;
mod data;
mod editor;
mod format;
mod layout;
mod maintenance;
mod objective;
mod overview;
pub mod session;
mod system;

use axum::extract::RawQuery;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use slod_core::time::Timestamp;

use crate::service::ServiceError;
use crate::state::AppState;

/// The dashboard's routes; `app::router` merges them next to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/objectives/new", get(editor::new_page).post(editor::create))
        .route("/objectives/{id}", get(objective::page))
        .route("/objectives/{id}/edit", get(editor::edit_page).post(editor::update))
        .route("/objectives/{id}/delete", get(objective::confirm_delete).post(objective::delete))
        .route("/systems/{id}", get(system::page))
        .route(
            "/systems/{id}/maintenance-windows/new",
            get(maintenance::new_page).post(maintenance::create),
        )
        .route(
            "/maintenance-windows/{id}/edit",
            get(maintenance::edit_page).post(maintenance::update),
        )
        .route("/maintenance-windows/{id}/cancel", axum::routing::post(maintenance::cancel))
        .route("/static/slod.css", get(stylesheet))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", axum::routing::post(session::logout))
}

/// The stylesheet, compiled into the binary so `slod serve` needs no files.
const STYLESHEET: &str = include_str!("../../static/slod.css");

/// A short fingerprint of the stylesheet for its URL, so browsers may cache
/// it for a long time and still fetch a new one after an upgrade.
pub(crate) fn stylesheet_version() -> String {
    // FNV-1a: tiny, stable across builds, and not security-relevant here.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in STYLESHEET.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            // The URL carries the fingerprint, so a day is safe.
            (CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// What a dashboard handler can fail with; every variant renders as a page.
#[derive(Debug)]
pub enum WebError {
    /// No such objective or system (or a malformed id, which cannot exist).
    NotFound(String),
    /// The request itself is unusable: a body that is not a form, a form
    /// posted from another site.
    BadRequest(String),
    /// No session where one is needed (SPEC §16).
    Unauthorized(String),
    Forbidden(String),
    /// The database failed; logged, shown as a generic apology.
    Internal(anyhow::Error),
}

impl From<ServiceError> for WebError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound { message, .. } => Self::NotFound(message),
            ServiceError::Invalid(err) => Self::BadRequest(err.to_string()),
            ServiceError::Conflict { message, .. } => Self::BadRequest(message),
            ServiceError::Internal(err) => Self::Internal(err),
        }
    }
}

impl From<slod_store::StoreError> for WebError {
    fn from(err: slod_store::StoreError) -> Self {
        ServiceError::from(err).into()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            Self::NotFound(message) => (StatusCode::NOT_FOUND, "Not found", message),
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, "Bad request", message),
            Self::Unauthorized(message) => (StatusCode::UNAUTHORIZED, "Log in first", message),
            Self::Forbidden(message) => (StatusCode::FORBIDDEN, "Forbidden", message),
            Self::Internal(detail) => {
                tracing::error!(error = ?detail, "dashboard: internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "slod could not read its database; the server log has the detail.".to_owned(),
                )
            }
        };
        (status, Html(layout::error_page(status, title, &message).into_string())).into_response()
    }
}

pub type WebResult<T> = Result<T, WebError>;

/// The 404 page for paths nobody serves, for browsers (`app`'s fallback
/// answers JSON to everyone else).
pub fn not_found_page(path: &str) -> Response {
    WebError::NotFound(format!("There is no page at {path}.")).into_response()
}

/// Whether a request for an unknown path came from a browser that wants a
/// page rather than JSON.
pub fn wants_html(headers: &HeaderMap, path: &str) -> bool {
    !path.starts_with("/api/")
        && headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// The query string as decoded pairs; a malformed one reads as empty, since
/// a page can always be shown without its filters.
fn query_pairs(RawQuery(raw): RawQuery) -> Vec<(String, String)> {
    raw.and_then(|raw| serde_urlencoded::from_str(&raw).ok()).unwrap_or_default()
}

fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Refuses a form posted from another site (cross-site request forgery:
/// the dashboard has no login, so a hostile page must not be able to make a
/// visitor's browser delete objectives).
///
/// Modern browsers say where a request comes from in `Sec-Fetch-Site`,
/// which a page cannot forge; that decides when present, and keeps working
/// behind a reverse proxy that rewrites `Host`. Otherwise `Origin`, which
/// browsers send on every POST, must name this host (or the proxy's
/// `X-Forwarded-Host`). Requests with neither (curl, scripts) pass: they do
/// not come from a web page.
fn check_same_origin(headers: &HeaderMap) -> WebResult<()> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let allowed = if let Some(site) = header("sec-fetch-site") {
        matches!(site, "same-origin" | "none")
    } else if let Some(origin) = header(ORIGIN.as_str()) {
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        [header(HOST.as_str()), header("x-forwarded-host")]
            .into_iter()
            .flatten()
            .any(|host| !host.is_empty() && host.eq_ignore_ascii_case(origin_host))
    } else {
        true
    };
    if allowed {
        Ok(())
    } else {
        Err(WebError::Forbidden("This form was posted from another site.".into()))
    }
}

/// A form body as decoded pairs, in order (repeated keys such as ticked
/// checkboxes survive).
fn form_pairs(body: &[u8]) -> WebResult<Vec<(String, String)>> {
    serde_urlencoded::from_bytes(body)
        .map_err(|_| WebError::BadRequest("The form could not be read.".into()))
}

fn now(state: &AppState) -> Timestamp {
    state.clock.now()
}

/// The `{id}` path segment, percent-decoded. An undecodable one cannot name
/// anything, so it is a 404 page rather than axum's plain-text 400.
#[derive(Debug)]
pub struct PageId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageId {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| PageId(id))
            .map_err(|_| WebError::NotFound("There is no such page.".into()))
    }
}
