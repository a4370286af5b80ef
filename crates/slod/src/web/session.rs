//! Who is looking at the dashboard (SPEC §16): the login page, the session
//! cookie, logout, anti-forgery tokens, and the guard every dashboard route
//! goes through.
//!
//! While no token exists the dashboard is open, as on a first run: anyone
//! may read and edit. Once one exists:
//!
//! - `GET /login` asks for a token once; `POST /login` opens a session and
//!   sets the `slod_session` cookie: a random id (never the token),
//!   `HttpOnly`, `SameSite=Strict`, `Secure` when the request came over
//!   HTTPS (a proxy's `X-Forwarded-Proto`). `POST /logout` ends it on the
//!   server.
//! - [`guard`] lets a live session in with its token's scope: a `read`
//!   session sees no edit controls and the edit routes answer 403; a
//!   `manage` session may edit. Without one, a page request is sent to the
//!   login page, unless `--public-dashboard` lets anyone read.
//! - Every POST of a session must carry the session's anti-forgery token
//!   in the form's `csrf` field ([`csrf_field`] renders it); the guard
//!   checks it before the handler runs, so a new form cannot forget.
//!
//! A failed login counts against the client's failed-authentication
//! budget like a bad API token (`429` with `Retry-After` when spent).

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup};
use slod_store::auth::Scope;

use super::layout::{self, Nav};
use super::{check_same_origin, form_pairs, WebError};
use crate::service::tokens;
use crate::state::AppState;

/// The most a dashboard form may hold (the API's body limit, SPEC §9).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "slod_session";

/// What the current visitor may do, for the pages to render accordingly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Show edit controls (and allow the edit routes).
    pub can_edit: bool,
    /// The visitor's session, when logged in.
    pub session: Option<SessionView>,
}

/// A logged-in visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The name of the token the session was opened with.
    pub token_name: String,
    pub scope: Scope,
    /// This session's anti-forgery token, for the forms' hidden field.
    pub csrf: String,
}

impl Viewer {
    /// Everyone, while no token exists: read and edit.
    pub fn open() -> Self {
        Self { can_edit: true, session: None }
    }

    /// Nobody in particular: read only (error pages, public dashboard).
    pub fn anonymous() -> Self {
        Self { can_edit: false, session: None }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        // The guard always sets it; without the guard, show no edit controls.
        Ok(parts.extensions.get::<Viewer>().cloned().unwrap_or_else(Viewer::anonymous))
    }
}

/// The hidden anti-forgery field every form carries (nothing while the
/// dashboard is open: there is no session to tie it to).
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! {
        @if let Some(session) = &viewer.session {
            input type="hidden" name="csrf" value=(session.csrf);
        }
    }
}

/// Whether a dashboard route changes something (or shows a form that
/// would): those need a `manage` session.
pub fn is_edit_route(method: &Method, route: &str) -> bool {
    let reads = *method == Method::GET || *method == Method::HEAD;
    let edit_page = matches!(
        route,
        "/objectives/new"
            | "/objectives/{id}/edit"
            | "/objectives/{id}/delete"
            | "/systems/{id}/maintenance-windows/new"
            | "/maintenance-windows/{id}/edit"
    );
    !matches!(route, "/login" | "/logout") && (!reads || edit_page)
}

/// The value of cookie `name` in the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The session id the request's cookie carries, if any (the API accepts
/// a session for reads too).
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE_NAME)
}

fn client_ip(request_extensions: &axum::http::Extensions) -> Option<IpAddr> {
    request_extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip())
}

fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value for a session id (`None`: clear the cookie).
fn session_cookie(id: Option<&str>, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    let value = match id {
        Some(id) => format!(
            "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            tokens::SESSION_LIFETIME_MS / 1000
        ),
        None => format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).ok()
}

fn page_response(status: StatusCode, title: &str, body: Markup) -> Response {
    let page = layout::page(title, Nav::None, None, &Viewer::anonymous(), body);
    (status, Html(page.into_string())).into_response()
}

fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + 1;
    let mut response = page_response(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        html! {
            section.empty {
                h1 { "Too many attempts" }
                p { "Too many failed logins from your address. Try again in " (seconds) " s." }
            }
        },
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// Where to go after logging in: a path on this site, never elsewhere.
fn safe_next(raw: Option<&str>) -> String {
    match raw {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') => {
            next.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Runs before every dashboard route (see the module documentation).
pub async fn guard(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let route =
        matched.as_ref().map_or_else(|| request.uri().path().to_owned(), |m| m.as_str().to_owned());
    if route == "/login" || route.starts_with("/static/") {
        return next.run(request).await;
    }
    let store = &*state.store;
    if !state.access.enforced(store).await {
        request.extensions_mut().insert(Viewer::open());
        return next.run(request).await;
    }
    let method = request.method().clone();
    let session_id = cookie(request.headers(), COOKIE_NAME).map(str::to_owned);
    let token = match &session_id {
        Some(id) => match tokens::find_session(store, id, state.now()).await {
            Ok(token) => token,
            Err(err) => return WebError::from(err).into_response(),
        },
        None => None,
    };
    let edit = is_edit_route(&method, &route);
    let (Some(token), Some(session_id)) = (token, session_id) else {
        if !edit && route != "/logout" && state.access.settings().public_dashboard {
            request.extensions_mut().insert(Viewer::anonymous());
            return next.run(request).await;
        }
        if method == Method::GET || method == Method::HEAD {
            let here = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let target = format!(
                "/login?next={}",
                serde_urlencoded::to_string([("", here)])
                    .map(|s| s.trim_start_matches('=').to_owned())
                    .unwrap_or_default()
            );
            return Redirect::to(&target).into_response();
        }
        return WebError::Unauthorized("Log in with a token first.".into()).into_response();
    };
    if edit && token.scope != Scope::Manage {
        return WebError::Forbidden(format!(
            "Your session ({} token) can read the dashboard but not change it.",
            token.scope
        ))
        .into_response();
    }
    if method == Method::POST {
        // The anti-forgery check needs the form; the handler gets it back.
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
            return WebError::BadRequest("The form could not be read.".into()).into_response();
        };
        let presented = form_pairs(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
        if !presented.is_some_and(|csrf| tokens::csrf_matches(&session_id, &csrf)) {
            return WebError::Forbidden(
                "This form is out of date or was posted from another site; reload the page and \
                 try again."
                    .into(),
            )
            .into_response();
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    let viewer = Viewer {
        can_edit: token.scope == Scope::Manage,
        session: Some(SessionView {
            token_name: token.name.clone(),
            scope: token.scope,
            csrf: tokens::csrf_token(&session_id),
        }),
    };
    request.extensions_mut().insert(viewer);
    next.run(request).await
}

fn login_form(next: &str, error: Option<&str>) -> Markup {
    html! {
        section.card.confirm {
            h1 { "Log in to slod" }
            @if let Some(error) = error {
                p.errors role="alert" { (error) }
            }
            p { "Paste an API token (" code { "slod token create --scope read|manage" } ")." }
            form method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="token" { "Token" }
                    input #token type="password" name="token" autocomplete="off" required;
                }
                div.actions { button.button.primary type="submit" { "Log in" } }
            }
        }
    }
}

/// `GET /login`: the form (straight to the overview while slod is open).
pub(super) async fn login_page(
    State(state): State<AppState>,
    query: axum::extract::RawQuery,
) -> Response {
    if !state.access.enforced(&*state.store).await {
        return Redirect::to("/").into_response();
    }
    let pairs = super::query_pairs(query);
    let next = safe_next(super::query_value(&pairs, "next"));
    page_response(StatusCode::OK, "Log in", login_form(&next, None))
}

/// `POST /login`: a token in, a session cookie out.
pub(super) async fn login(State(state): State<AppState>, request: Request) -> Response {
    let client = client_ip(request.extensions());
    let secure = is_https(request.headers());
    if let Err(err) = check_same_origin(request.headers()) {
        return err.into_response();
    }
    if let Some(wait) = state.access.blocked(client) {
        return too_many(wait);
    }
    let Ok(bytes) = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await else {
        return WebError::BadRequest("The form could not be read.".into()).into_response();
    };
    let pairs = form_pairs(&bytes).unwrap_or_default();
    let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let next = safe_next(field("next"));
    let presented = field("token").unwrap_or("").trim();
    let store = &*state.store;
    let token = match tokens::authenticate(store, presented).await {
        Ok(token) => token,
        Err(err) => return WebError::from(err).into_response(),
    };
    let Some(token) = token else {
        state.access.failed(client);
        tracing::warn!(client = ?client, "dashboard login with an unknown or revoked token");
        let form = login_form(&next, Some("That token is unknown or revoked."));
        return page_response(StatusCode::UNAUTHORIZED, "Log in", form);
    };
    if token.scope == Scope::Ingest {
        let form = login_form(&next, Some("An ingest token cannot open the dashboard."));
        return page_response(StatusCode::FORBIDDEN, "Log in", form);
    }
    let session = match tokens::open_session(store, &token, state.now()).await {
        Ok(session) => session,
        Err(err) => return WebError::from(err).into_response(),
    };
    let mut response = Redirect::to(&next).into_response();
    if let Some(cookie) = session_cookie(Some(session.expose()), secure) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// `POST /logout`: ends the session on the server and clears the cookie.
pub(super) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, COOKIE_NAME) {
        if let Err(err) = tokens::end_session(&*state.store, id).await {
            return WebError::from(err).into_response();
        }
    }
    let mut response = Redirect::to("/login").into_response();
    if let Some(cookie) = session_cookie(None, is_https(&headers)) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_routes_are_the_forms_and_every_post() {
        assert!(is_edit_route(&Method::GET, "/objectives/new"));
        assert!(is_edit_route(&Method::GET, "/objectives/{id}/edit"));
        assert!(is_edit_route(&Method::GET, "/objectives/{id}/delete"));
        assert!(is_edit_route(&Method::POST, "/objectives/{id}/delete"));
        assert!(is_edit_route(&Method::GET, "/systems/{id}/maintenance-windows/new"));
        assert!(is_edit_route(&Method::GET, "/maintenance-windows/{id}/edit"));
        assert!(is_edit_route(&Method::POST, "/maintenance-windows/{id}/cancel"));
        assert!(!is_edit_route(&Method::GET, "/systems/{id}"));
        assert!(!is_edit_route(&Method::GET, "/objectives/{id}"));
        assert!(!is_edit_route(&Method::GET, "/"));
        assert!(!is_edit_route(&Method::POST, "/logout"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; slod_session=abc; b=2"));
        assert_eq!(cookie(&headers, COOKIE_NAME), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let cookie = session_cookie(Some("abc"), false).unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(!cookie.contains("Secure"));
        assert!(session_cookie(Some("abc"), true).unwrap().to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/objectives/x?y=1")), "/objectives/x?y=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
