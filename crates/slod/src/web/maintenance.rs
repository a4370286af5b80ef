//! Maintenance windows on the dashboard (SPEC §12): the list on a system's
//! page, the form that plans or changes one, and cancelling.
//!
//! | route | does |
//! |---|---|
//! | `GET/POST /systems/{id}/maintenance-windows/new` | plan a window |
//! | `GET/POST /maintenance-windows/{wid}/edit` | change its title, times, recurrence |
//! | `POST /maintenance-windows/{wid}/cancel` | `cancelled=true` cancels, `false` restores |
//!
//! As in the objective editor, a form becomes the JSON body the API would
//! receive and goes through the API's own parser
//! ([`CreateMaintenanceRequest`], [`UpdateMaintenanceRequest`]) and service
//! functions, so it is judged by exactly the API's rules; a refused form
//! comes back with the input and the message next to its field. Times are
//! typed in UTC: `2026-03-02 02:00`, with `T`, seconds or a zone accepted.
//! The forms live on their own pages because the system page refreshes
//! itself from the live stream, which would wipe a half-typed form.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::{Map, Value};
use slod_core::maintenance::MaintenanceStatus;
use slod_core::model::{SystemId, ValidationError};
use slod_core::time::Timestamp;

use super::layout::{self, Nav};
use super::session::{csrf_field, Viewer};
use super::{check_same_origin, components, form_pairs, format, now, PageId, WebError, WebResult};
use crate::input::maintenance::{CreateMaintenanceRequest, UpdateMaintenanceRequest};
use crate::input::FromJson;
use crate::service::maintenance::{self, WindowWithStatus};
use crate::service::systems::{self, SystemView};
use crate::service::ServiceError;
use crate::state::AppState;

/// The form's fields, by their API names.
const FIELDS: [&str; 4] = ["title", "start", "end", "recurrence"];

/// The form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct FormInput {
    title: String,
    start: String,
    end: String,
    recurrence: String,
}

/// A problem next to `field` (one of [`FIELDS`]) or, when `None`, above
/// the form.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FormError {
    field: Option<&'static str>,
    message: String,
}

impl FormError {
    fn from_validation(err: ValidationError) -> Self {
        let field = FIELDS.into_iter().find(|f| *f == err.field);
        let message = if field.is_some() { err.message } else { err.to_string() };
        Self { field, message }
    }
}

/// A form time as RFC 3339: `2026-03-02 02:00` → `2026-03-02T02:00:00Z`.
/// Text that is not of that shape goes through unchanged, for the API's
/// parser to refuse by name.
fn form_time(raw: &str) -> String {
    let text = raw.trim().replacen(' ', "T", 1);
    let (date_time, zone) = match text.find(['Z', 'z', '+']).or_else(|| {
        // A `-` after the time is a zone offset; those in the date are not.
        text.get(11..).and_then(|rest| rest.find('-')).map(|i| i + 11)
    }) {
        Some(i) => text.split_at(i),
        None => (text.as_str(), "Z"),
    };
    // `YYYY-MM-DDTHH:MM` has 16 characters: add the seconds.
    let seconds = if date_time.len() == 16 { ":00" } else { "" };
    format!("{date_time}{seconds}{zone}")
}

impl FormInput {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut input = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "title" => input.title = value,
                "start" => input.start = value,
                "end" => input.end = value,
                "recurrence" => input.recurrence = value,
                _ => {}
            }
        }
        input
    }

    fn from_window(window: &WindowWithStatus) -> Self {
        let plan = &window.row.window;
        Self {
            title: window.row.title.clone(),
            start: typed_time(plan.start()),
            end: typed_time(plan.end()),
            recurrence: plan.recurrence().map(ToString::to_string).unwrap_or_default(),
        }
    }

    /// The API's JSON body. Empty times are left out so the parser says
    /// they are required; an empty recurrence is `null` (a one-off).
    fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("title".into(), Value::String(self.title.clone()));
        for (key, raw) in [("start", &self.start), ("end", &self.end)] {
            if !raw.trim().is_empty() {
                body.insert(key.into(), Value::String(form_time(raw)));
            }
        }
        let recurrence = self.recurrence.trim();
        body.insert(
            "recurrence".into(),
            if recurrence.is_empty() { Value::Null } else { Value::String(recurrence.into()) },
        );
        Value::Object(body)
    }
}

/// A time as the form shows it: `2026-03-02 02:00` (UTC), with seconds
/// only when it has some.
fn typed_time(t: Timestamp) -> String {
    let text = t.to_rfc3339();
    let text = text.trim_end_matches('Z').trim_end_matches(".000").replacen('T', " ", 1);
    text.strip_suffix(":00").map(str::to_owned).unwrap_or(text)
}

fn service_error(err: ServiceError) -> Result<FormError, WebError> {
    match err {
        ServiceError::Invalid(err) => Ok(FormError::from_validation(err)),
        ServiceError::Conflict { message, .. } => Ok(FormError { field: None, message }),
        other => Err(other.into()),
    }
}

async fn find_system(state: &AppState, raw: &str) -> WebResult<SystemView> {
    let unknown = || WebError::NotFound(format!("There is no system with id {raw}."));
    let id = SystemId::parse(raw, "id").map_err(|_| unknown())?;
    match systems::get_system(&*state.store, &id).await {
        Err(ServiceError::NotFound { .. }) => Err(unknown()),
        other => Ok(other?),
    }
}

/// `GET /systems/{id}/maintenance-windows/new`.
pub(super) async fn new_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageId(raw): PageId,
) -> WebResult<Html<String>> {
    let system = find_system(&state, &raw).await?;
    let page = form_page(&system, None, &FormInput::default(), &[], &viewer);
    Ok(Html(
        layout::page("Plan maintenance", Nav::None, Some(now(&state)), &viewer, page).into_string(),
    ))
}

/// `POST /systems/{id}/maintenance-windows/new`.
pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    PageId(raw): PageId,
    body: Bytes,
) -> WebResult<Response> {
    check_same_origin(&headers)?;
    let system = find_system(&state, &raw).await?;
    let input = FormInput::from_pairs(form_pairs(&body)?);
    let now = now(&state);
    let error = match CreateMaintenanceRequest::from_json(&input.to_json()) {
        Err(err) => FormError::from_validation(err),
        Ok(request) => match maintenance::create(&*state.store, now, &system.id, request).await {
            Ok(_) => return Ok(back_to(&system.id, "planned")),
            Err(err) => service_error(err)?,
        },
    };
    let page = form_page(&system, None, &input, &[error], &viewer);
    let page = layout::page("Plan maintenance", Nav::None, Some(now), &viewer, page);
    Ok((StatusCode::BAD_REQUEST, Html(page.into_string())).into_response())
}

async fn load_window(state: &AppState, id: &str) -> WebResult<(WindowWithStatus, SystemView)> {
    let window = match maintenance::get(&*state.store, now(state), id).await {
        Err(ServiceError::NotFound { .. }) => {
            return Err(WebError::NotFound(format!("There is no maintenance window with id {id}.")))
        }
        other => other?,
    };
    let system = systems::get_system(&*state.store, &window.row.system_id).await?;
    Ok((window, system))
}

/// `GET /maintenance-windows/{wid}/edit`.
pub(super) async fn edit_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageId(id): PageId,
) -> WebResult<Html<String>> {
    let (window, system) = load_window(&state, &id).await?;
    let page = form_page(&system, Some(&window), &FormInput::from_window(&window), &[], &viewer);
    Ok(Html(
        layout::page("Edit maintenance", Nav::None, Some(now(&state)), &viewer, page).into_string(),
    ))
}

/// `POST /maintenance-windows/{wid}/edit`: title, times and recurrence are
/// all sent, so all are set (an emptied recurrence makes it a one-off).
pub(super) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> WebResult<Response> {
    check_same_origin(&headers)?;
    let (window, system) = load_window(&state, &id).await?;
    let input = FormInput::from_pairs(form_pairs(&body)?);
    let now = now(&state);
    let error = match UpdateMaintenanceRequest::from_json(&input.to_json()) {
        Err(err) => FormError::from_validation(err),
        Ok(request) => {
            // The PATCH reader leaves absent times alone; the form sent
            // them all, so an emptied one is a mistake to point at.
            match [("start", &input.start), ("end", &input.end)]
                .into_iter()
                .find(|(_, raw)| raw.trim().is_empty())
            {
                Some((field, _)) => FormError { field: Some(field), message: "is required".into() },
                None => match maintenance::update(&*state.store, now, &id, request).await {
                    Ok(_) => return Ok(back_to(&system.id, "saved")),
                    Err(err) => service_error(err)?,
                },
            }
        }
    };
    let page = form_page(&system, Some(&window), &input, &[error], &viewer);
    let page = layout::page("Edit maintenance", Nav::None, Some(now), &viewer, page);
    Ok((StatusCode::BAD_REQUEST, Html(page.into_string())).into_response())
}

/// `POST /maintenance-windows/{wid}/cancel` with `cancelled=true` (cancel)
/// or `cancelled=false` (restore).
pub(super) async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> WebResult<Response> {
    check_same_origin(&headers)?;
    let (window, _) = load_window(&state, &id).await?;
    let pairs = form_pairs(&body)?;
    let cancelled = match super::query_value(&pairs, "cancelled") {
        Some("true") | None => true,
        Some("false") => false,
        Some(_) => return Err(WebError::BadRequest("`cancelled` must be true or false.".into())),
    };
    let patch = UpdateMaintenanceRequest { cancelled: Some(cancelled), ..Default::default() };
    maintenance::update(&*state.store, now(&state), &id, patch).await?;
    Ok(back_to(&window.row.system_id, if cancelled { "cancelled" } else { "restored" }))
}

/// Back to the system page's maintenance section, saying what happened.
fn back_to(system: &SystemId, what: &str) -> Response {
    Redirect::to(&format!("/systems/{system}?maintenance={what}#maintenance")).into_response()
}

/// The flash message for `?maintenance=` on the system page.
pub(super) fn flash(what: &str) -> Option<&'static str> {
    match what {
        "planned" => Some("The maintenance window was planned."),
        "saved" => Some("The maintenance window was saved."),
        "cancelled" => Some("The maintenance window was cancelled."),
        "restored" => Some("The maintenance window was restored."),
        _ => None,
    }
}

fn status_chip(status: MaintenanceStatus) -> Markup {
    let (class, label) = match status {
        MaintenanceStatus::Scheduled => ("chip st-none", "scheduled"),
        MaintenanceStatus::InProgress => ("chip st-risk", "in progress"),
        MaintenanceStatus::Completed => ("chip st-ok", "completed"),
        MaintenanceStatus::Cancelled => ("chip st-none mw-cancelled", "cancelled"),
    };
    html! { span class=(class) data-status=(status.as_str()) { (label) } }
}

/// The system page's list: each window with its status, times, recurrence
/// and its Edit and Cancel (or Restore) controls.
/// Without edit rights (a `read` session, a public dashboard) the list
/// shows no controls.
pub(super) fn window_list(
    system: &SystemId,
    windows: &[WindowWithStatus],
    viewer: &Viewer,
) -> Markup {
    html! {
        @if windows.is_empty() {
            p.empty-note { "No maintenance windows. "
                @if viewer.can_edit {
                    a href={ "/systems/" (system) "/maintenance-windows/new" } { "Plan one" }
                    " so downtime during planned work can be left out of objectives that exclude it."
                }
            }
        } @else {
            table.windows {
                thead { tr {
                    th scope="col" { "Title" } th scope="col" { "Status" } th scope="col" { "When (UTC)" }
                    th scope="col" { "Repeats" } th scope="col" { span.visually-hidden { "Actions" } }
                } }
                tbody {
                    @for window in windows {
                        @let plan = &window.row.window;
                        tr.mw data-window=(window.row.id) {
                            td.mw-title { (window.row.title) }
                            td { (status_chip(window.status)) }
                            td { (format::utc(plan.start())) " → " (format::utc(plan.end())) }
                            td { @match plan.recurrence() {
                                Some(rule) => { code { (rule.to_string()) } }
                                None => { span.muted { "once" } }
                            } }
                            td.mw-actions { @if viewer.can_edit {
                                a.button href={ "/maintenance-windows/" (window.row.id) "/edit" } { "Edit" }
                                " "
                                form.inline method="post" action={ "/maintenance-windows/" (window.row.id) "/cancel" } {
                                    (csrf_field(viewer))
                                    @if plan.is_cancelled() {
                                        input type="hidden" name="cancelled" value="false";
                                        button.button type="submit" { "Restore" }
                                    } @else {
                                        input type="hidden" name="cancelled" value="true";
                                        button.button.danger type="submit" { "Cancel window" }
                                    }
                                }
                            } }
                        }
                    }
                }
            }
        }
    }
}

fn form_page(
    system: &SystemView,
    window: Option<&WindowWithStatus>,
    input: &FormInput,
    errors: &[FormError],
    viewer: &Viewer,
) -> Markup {
    let (heading, action, submit) = match window {
        None => (
            format!("Plan maintenance for {}", system.name),
            format!("/systems/{}/maintenance-windows/new", system.id),
            "Plan window",
        ),
        Some(window) => (
            format!("Edit maintenance “{}”", window.row.title),
            format!("/maintenance-windows/{}/edit", window.row.id),
            "Save window",
        ),
    };
    let error_for = |field: &str| errors.iter().find(|e| e.field == Some(field));
    html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/" { "Overview" } " › "
            a href={ "/systems/" (system.id) } { (system.name) } " › maintenance"
        }
        h1 { (heading) }
        @if let Some(window) = window {
            p { (status_chip(window.status)) }
        }
        @if !errors.is_empty() {
            div.errors role="alert" {
                p { b { "The window was not saved." } " Please correct:" }
                ul { @for error in errors { li {
                    @if let Some(field) = error.field { a href={ "#mw-" (field) } { (field) } ": " }
                    (error.message)
                } } }
            }
        }
        form.editor method="post" action=(action) novalidate {
            (csrf_field(viewer))
            (field("title", "Title", &input.title, "What is being done, e.g. Database upgrade.", error_for("title")))
            div.grid3 {
                (field("start", "Starts (UTC)", &input.start, "e.g. 2026-03-02 02:00", error_for("start")))
                (field("end", "Ends (UTC)", &input.end, "Each occurrence lasts end − start, at most 31 days.", error_for("end")))
            }
            (field("recurrence", "Repeats (optional)", &input.recurrence,
                "Empty for once; or an RRULE: FREQ=DAILY or FREQ=WEEKLY;BYDAY=MO,TH with INTERVAL, and COUNT or UNTIL.",
                error_for("recurrence")))
            div.actions {
                button.button.primary type="submit" { (submit) }
                " "
                a.button href={ "/systems/" (system.id) "#maintenance" } { "Back" }
            }
        }
    }
}

fn field(name: &str, label: &str, value: &str, hint: &str, error: Option<&FormError>) -> Markup {
    let id = format!("mw-{name}");
    html! {
        div.field.invalid[error.is_some()] {
            label for=(id) { (label) }
            input type="text" id=(id) name=(name) value=(value) autocomplete="off"
                aria-invalid=[error.map(|_| "true")] aria-describedby={ (id) "-hint" };
            @if let Some(error) = error {
                p.error data-field=(name) { "⚠ " (error.message) }
            }
            p.hint id={ (id) "-hint" } { (hint) }
        }
    }
}

/// Shown on the system page: how windows count.
pub(super) fn explainer() -> Markup {
    html! {
        p.hint { "Objectives that exclude maintenance do not count downtime during these windows "
            "(cancelled ones excepted). " (components::maintenance_swatch()) " marks them on charts and timelines." }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_become_rfc3339_in_utc() {
        assert_eq!(form_time("2026-03-02 02:00"), "2026-03-02T02:00:00Z");
        assert_eq!(form_time(" 2026-03-02T02:00:30 "), "2026-03-02T02:00:30Z");
        assert_eq!(form_time("2026-03-02T02:00Z"), "2026-03-02T02:00:00Z");
        assert_eq!(form_time("2026-03-02T02:00+02:00"), "2026-03-02T02:00:00+02:00");
        assert_eq!(form_time("2026-03-02T02:00-05:00"), "2026-03-02T02:00:00-05:00");
        assert_eq!(form_time("soon"), "soonZ");
        let t = Timestamp::parse("2026-03-02T02:00:00Z").unwrap();
        assert_eq!(typed_time(t), "2026-03-02 02:00");
        assert_eq!(form_time(&typed_time(t)), "2026-03-02T02:00:00Z");
    }

    #[test]
    fn a_form_is_judged_by_the_apis_parser() {
        let input = FormInput {
            title: "Upgrade".into(),
            start: "2026-03-02 02:00".into(),
            end: "2026-03-02 03:00".into(),
            recurrence: " ".into(),
        };
        let request = CreateMaintenanceRequest::from_json(&input.to_json()).unwrap();
        assert_eq!(request.recurrence, None);
        let mut bad = input.clone();
        bad.start = "tomorrow".into();
        let err = CreateMaintenanceRequest::from_json(&bad.to_json()).err().unwrap();
        assert_eq!(FormError::from_validation(err).field, Some("start"));
        let mut missing = input;
        missing.end = String::new();
        let err = CreateMaintenanceRequest::from_json(&missing.to_json()).err().unwrap();
        assert_eq!(FormError::from_validation(err).field, Some("end"));
    }
}
