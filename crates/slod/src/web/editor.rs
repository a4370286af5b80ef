//! The SLO editor: `GET/POST /objectives/new` and
//! `GET/POST /objectives/{id}/edit`.
//!
//! The forms post `application/x-www-form-urlencoded` with the API's own
//! field names (`target`, `windowDays`, `burnRateThresholds.warningPercent`,
//! one `excludedDependencyIds` per ticked upstream). The window is a choice:
//! `windowKind=rolling` with `windowDays`, or `windowKind=calendar` with
//! `calendar.unit` and `calendar.timeZone` (SPEC §17); a form without
//! `windowKind` is a rolling one. The handler turns the
//! typed strings into the JSON body the API would receive and hands it to
//! the request parser the API uses too ([`CreateObjectiveRequest`],
//! [`UpdateObjectiveRequest`], in `crate::input`) and then to the same
//! service function, so a form is judged by exactly the API's rules. A refused form comes back with
//! the user's input and the message next to the field the
//! [`ValidationError`] names; nothing is written. A saved one redirects
//! (`303`) to the objective's page.
//!
//! Creating starts from a system (`?systemId=`): the exclusion picker lists
//! that system's upstreams, so without JavaScript the system is chosen
//! first, on its own small page.
//!
//! Burn-rate tiers (`burnRateAlerts`, SPEC §12) are rows of four fields
//! named like the API's paths (`burnRateAlerts[1].shortWindow`), plus a
//! Remove box per row and one empty row to add a tier; the "Add a tier row"
//! button (after the save button, so Enter still saves) shows the form
//! again with one more empty row, saving nothing. An
//! empty row is skipped; the rows left become the `burnRateAlerts` array,
//! and an error the parser names for the array's entry `j` is shown on the
//! row it came from.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use slod_core::burn_alerts::{BurnRateAlertTier, BurnWindow};
use slod_core::model::{DependencyExclusion, Objective, SystemId, ValidationError};
use slod_core::window::CalendarUnit;

use super::components;
use super::layout::{self, Nav};
use super::session::{csrf_field, Viewer};
use super::{check_same_origin, form_pairs, now, query_pairs, query_value, PageId, WebResult};
use crate::input::objectives::{CreateObjectiveRequest, UpdateObjectiveRequest};
use crate::input::FromJson;
use crate::service::systems::{self, SystemRef, SystemView};
use crate::service::{objectives, ServiceError};
use crate::state::AppState;

/// Every field the form has, by its API name (the tier rows' fields are
/// `burnRateAlerts[i].…`). An error naming any other field is shown above
/// the form.
const FIELDS: [&str; 15] = [
    "name",
    "systemId",
    "target",
    "windowDays",
    "calendar",
    "calendar.unit",
    "calendar.timeZone",
    "dependencyExclusion",
    "excludedDependencyIds",
    "excludeMaintenanceWindows",
    "healthCheckConfigurationId",
    "burnRateThresholds.warningPercent",
    "burnRateThresholds.criticalPercent",
    "burnRateThresholds.fastBurnMultiplier",
    "burnRateAlerts",
];

/// The prefix of the tier rows' field names.
const TIERS: &str = "burnRateAlerts";
/// Suggestions for the time-zone field; any IANA name is accepted (listing
/// all ~600 would weigh down every editor page).
const COMMON_TIME_ZONES: [&str; 24] = [
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Africa/Johannesburg",
];

/// A problem with the form, next to `field` (a name from [`FIELDS`]) or,
/// when `None`, above the form.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FormError {
    field: Option<String>,
    message: String,
}

impl FormError {
    fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: Some(field.into()), message: message.into() }
    }

    /// Places a validation error: `excludedDependencyIds[2]` belongs to the
    /// `excludedDependencyIds` picker; `burnRateAlerts[1].shortWindow` to
    /// that field of the second tier row sent (see [`Self::on_rows`]).
    fn from_validation(err: ValidationError) -> Self {
        if err.field.starts_with(&format!("{TIERS}[")) {
            return Self { field: Some(err.field), message: err.message };
        }
        let base = err.field.split('[').next().unwrap_or("");
        let field = FIELDS.into_iter().find(|f| *f == base);
        let message = match field {
            Some(_) => err.message,
            None => err.to_string(),
        };
        Self { field: field.map(str::to_owned), message }
    }

    /// Moves an error about entry `j` of the sent array to the form row it
    /// came from (`rows[j]`), empty rows having been skipped.
    fn on_rows(mut self, rows: &[usize]) -> Self {
        if let Some(field) = &self.field {
            if let Some((index, rest)) = tier_field(field) {
                if let Some(row) = rows.get(index) {
                    self.field = Some(format!("{TIERS}[{row}]{rest}"));
                }
            }
        }
        self
    }
}

/// `burnRateAlerts[3].severity` → `(3, ".severity")`.
fn tier_field(field: &str) -> Option<(usize, &str)> {
    let rest = field.strip_prefix(TIERS)?.strip_prefix('[')?;
    let (index, rest) = rest.split_once(']')?;
    Some((index.parse().ok()?, rest))
}

/// One tier row as typed; all empty is an empty row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TierInput {
    severity: String,
    long_window: String,
    short_window: String,
    budget_percent: String,
    remove: bool,
}

impl TierInput {
    fn of(tier: &BurnRateAlertTier) -> Self {
        Self {
            severity: tier.severity.as_str().into(),
            long_window: tier.long_window.as_str().into(),
            short_window: tier.short_window.as_str().into(),
            budget_percent: tier.budget_percent.to_string(),
            remove: false,
        }
    }

    fn is_empty(&self) -> bool {
        [&self.severity, &self.long_window, &self.short_window, &self.budget_percent]
            .iter()
            .all(|v| v.trim().is_empty())
    }
}

/// The form as typed, so a refused form comes back exactly as sent.
#[derive(Debug, Clone, Default, PartialEq)]
struct FormInput {
    name: String,
    system_id: String,
    target: String,
    window_days: String,
    /// `calendar` picks the calendar window; anything else the rolling one.
    window_kind: String,
    calendar_unit: String,
    calendar_time_zone: String,
    dependency_exclusion: String,
    excluded: Vec<String>,
    exclude_maintenance_windows: bool,
    health_check: String,
    warning: String,
    critical: String,
    fast_burn: String,
    /// The tier rows, empty ones included (they come back as sent).
    tiers: Vec<TierInput>,
}

impl FormInput {
    /// A new objective's starting values: the API's defaults, and a common
    /// target.
    fn defaults(system_id: &str) -> Self {
        let thresholds = slod_core::model::BurnRateThresholds::default();
        Self {
            system_id: system_id.to_owned(),
            target: "99.9".into(),
            window_days: "30".into(),
            window_kind: "rolling".into(),
            calendar_unit: "month".into(),
            calendar_time_zone: "UTC".into(),
            dependency_exclusion: DependencyExclusion::default().as_str().into(),
            warning: thresholds.warning_percent.to_string(),
            critical: thresholds.critical_percent.to_string(),
            fast_burn: thresholds.fast_burn_multiplier.to_string(),
            tiers: BurnRateAlertTier::DEFAULTS
                .iter()
                .map(TierInput::of)
                .chain([TierInput::default()])
                .collect(),
            ..Self::default()
        }
    }

    fn from_objective(objective: &Objective) -> Self {
        let thresholds = &objective.burn_rate_thresholds;
        Self {
            name: objective.name.as_ref().map(ToString::to_string).unwrap_or_default(),
            system_id: objective.system_id.to_string(),
            target: objective.target.to_string(),
            window_days: objective.window.rolling_days().map_or("30".into(), |d| d.to_string()),
            window_kind: if objective.window.calendar().is_some() { "calendar" } else { "rolling" }
                .into(),
            calendar_unit: objective.window.calendar().map_or("month", |c| c.unit.as_str()).into(),
            calendar_time_zone: objective
                .window
                .calendar()
                .map_or("UTC", |c| c.time_zone.name())
                .into(),
            dependency_exclusion: objective.dependency_exclusion.as_str().into(),
            excluded: objective.excluded_dependency_ids.iter().map(ToString::to_string).collect(),
            exclude_maintenance_windows: objective.exclude_maintenance_windows,
            health_check: objective.health_check_configuration_id.clone().unwrap_or_default(),
            warning: thresholds.warning_percent.to_string(),
            critical: thresholds.critical_percent.to_string(),
            fast_burn: thresholds.fast_burn_multiplier.to_string(),
            tiers: objective
                .burn_rate_alerts
                .tiers()
                .iter()
                .map(TierInput::of)
                .chain([TierInput::default()])
                .collect(),
        }
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut input = Self::default();
        // Rows by their index in the form, in order; an index a browser
        // never sends (a gap) is simply not a row.
        let mut tiers: BTreeMap<usize, TierInput> = BTreeMap::new();
        for (key, value) in pairs {
            if let Some((row, part)) = tier_field(&key) {
                let tier = tiers.entry(row).or_default();
                match part {
                    ".severity" => tier.severity = value,
                    ".longWindow" => tier.long_window = value,
                    ".shortWindow" => tier.short_window = value,
                    ".budgetPercent" => tier.budget_percent = value,
                    ".remove" => tier.remove = true,
                    _ => {}
                }
                continue;
            }
            match key.as_str() {
                "name" => input.name = value,
                "systemId" => input.system_id = value,
                "target" => input.target = value,
                "windowDays" => input.window_days = value,
                "windowKind" => input.window_kind = value,
                "calendar.unit" => input.calendar_unit = value,
                "calendar.timeZone" => input.calendar_time_zone = value,
                "dependencyExclusion" => input.dependency_exclusion = value,
                "excludedDependencyIds" => input.excluded.push(value),
                "excludeMaintenanceWindows" => input.exclude_maintenance_windows = true,
                "healthCheckConfigurationId" => input.health_check = value,
                "burnRateThresholds.warningPercent" => input.warning = value,
                "burnRateThresholds.criticalPercent" => input.critical = value,
                "burnRateThresholds.fastBurnMultiplier" => input.fast_burn = value,
                // Buttons and anything else a browser adds.
                _ => {}
            }
        }
        input.tiers = tiers.into_values().collect();
        input
    }

    fn is_calendar(&self) -> bool {
        self.window_kind == "calendar"
    }

    /// The JSON body the API would receive for this form. Only what a form
    /// cannot express in JSON terms is judged here (text that is not a
    /// number at all); ranges, ids and the rest are left to the API's
    /// parser. Every such problem is reported, not just the first.
    ///
    /// Also returns, for each entry of `burnRateAlerts`, the form row it
    /// came from.
    fn to_json(&self, create: bool) -> Result<(Value, Vec<usize>), Vec<FormError>> {
        let mut errors = Vec::new();
        let mut body = Map::new();
        if create {
            body.insert("systemId".into(), Value::String(self.system_id.trim().to_owned()));
        }
        let mut number = |field: &'static str, raw: &str, example: &str| -> Option<Value> {
            let raw = raw.trim();
            if raw.is_empty() {
                errors.push(FormError::at(field, "is required"));
                return None;
            }
            match raw.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                Some(n) => Some(Value::Number(n)),
                None => {
                    errors.push(FormError::at(field, format!("must be a number, e.g. {example}")));
                    None
                }
            }
        };
        let target = number("target", &self.target, "99.9");
        let warning = number("burnRateThresholds.warningPercent", &self.warning, "50");
        let critical = number("burnRateThresholds.criticalPercent", &self.critical, "80");
        let fast_burn = number("burnRateThresholds.fastBurnMultiplier", &self.fast_burn, "5");
        let window = self.window_days.trim();
        let calendar = self.is_calendar().then(|| {
            serde_json::json!({
                "unit": self.calendar_unit.trim(),
                "timeZone": self.calendar_time_zone.trim(),
            })
        });
        let window_days = match window.parse::<i64>() {
            _ if calendar.is_some() => None,
            Ok(days) => Some(Value::from(days)),
            Err(_) if window.is_empty() => {
                errors.push(FormError::at("windowDays", "is required"));
                None
            }
            Err(_) => {
                errors.push(FormError::at("windowDays", "must be a whole number of days, e.g. 30"));
                None
            }
        };
        let mut tiers = Vec::new();
        let mut rows = Vec::new();
        for (row, tier) in self.tiers.iter().enumerate() {
            if tier.remove || tier.is_empty() {
                continue;
            }
            let mut entry = Map::new();
            for (key, raw) in [
                ("severity", &tier.severity),
                ("longWindow", &tier.long_window),
                ("shortWindow", &tier.short_window),
            ] {
                // Left out when empty, so the parser says it is required.
                if !raw.trim().is_empty() {
                    entry.insert(key.into(), Value::String(raw.trim().to_owned()));
                }
            }
            let budget = tier.budget_percent.trim();
            if !budget.is_empty() {
                match budget.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                    Some(n) => {
                        entry.insert("budgetPercent".into(), Value::Number(n));
                    }
                    None => errors.push(FormError::at(
                        format!("{TIERS}[{row}].budgetPercent"),
                        "must be a number, e.g. 2",
                    )),
                }
            }
            tiers.push(Value::Object(entry));
            rows.push(row);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // No errors: every parsed value is present.
        let present = |pairs: Vec<(&str, Option<Value>)>| -> Map<String, Value> {
            pairs.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect()
        };
        body.extend(present(vec![
            ("target", target),
            ("windowDays", window_days),
            ("calendar", calendar),
        ]));
        let thresholds = present(vec![
            ("warningPercent", warning),
            ("criticalPercent", critical),
            ("fastBurnMultiplier", fast_burn),
        ]);
        body.insert("burnRateThresholds".into(), Value::Object(thresholds));
        body.insert(TIERS.into(), Value::Array(tiers));
        if !self.dependency_exclusion.is_empty() {
            body.insert(
                "dependencyExclusion".into(),
                Value::String(self.dependency_exclusion.clone()),
            );
        }
        body.insert(
            "excludedDependencyIds".into(),
            Value::Array(self.excluded.iter().cloned().map(Value::String).collect()),
        );
        body.insert(
            "excludeMaintenanceWindows".into(),
            Value::Bool(self.exclude_maintenance_windows),
        );
        let name = self.name.trim();
        // An emptied name unnames the objective (`null`), as in the API.
        body.insert(
            "name".into(),
            if name.is_empty() { Value::Null } else { Value::String(name.to_owned()) },
        );
        let check = self.health_check.trim();
        // An emptied field clears the check (`null`), as in the API.
        body.insert(
            "healthCheckConfigurationId".into(),
            if check.is_empty() { Value::Null } else { Value::String(check.to_owned()) },
        );
        Ok((Value::Object(body), rows))
    }
}

/// What the service said, as a form problem; `Err` for what is not about
/// the form (the objective vanished, the database failed).
fn service_error(err: ServiceError) -> Result<FormError, super::WebError> {
    match err {
        ServiceError::Invalid(err) => Ok(FormError::from_validation(err)),
        ServiceError::NotFound { message, field: Some(field) } => {
            Ok(FormError::from_validation(ValidationError::new(field, message)))
        }
        ServiceError::Conflict { message, field } => {
            let field = field.filter(|f| FIELDS.contains(&f.as_str()));
            Ok(FormError { field, message })
        }
        other => Err(other.into()),
    }
}

/// Create or edit.
#[derive(Clone, Copy)]
enum Mode<'a> {
    Create,
    Edit(&'a Objective),
}

/// `GET /objectives/new[?systemId=]`.
pub(super) async fn new_page(
    State(state): State<AppState>,
    viewer: Viewer,
    query: RawQuery,
) -> WebResult<Response> {
    let pairs = query_pairs(query);
    let store = &*state.store;
    let now = now(&state);
    let Some(raw) = query_value(&pairs, "systemId").filter(|raw| !raw.is_empty()) else {
        return Ok(Html(
            choose_system(&systems::list_systems(store).await?, None, &viewer).into_string(),
        )
        .into_response());
    };
    let Some(system) = find_system(&state, raw).await? else {
        let note = format!("There is no system with id {raw}; pick one below.");
        let page = choose_system(&systems::list_systems(store).await?, Some(&note), &viewer);
        return Ok((StatusCode::NOT_FOUND, Html(page.into_string())).into_response());
    };
    let upstreams = systems::get_dependencies(store, &system.id).await?.upstream;
    let input = FormInput::defaults(system.id.as_str());
    let page = form_page(Mode::Create, Some(&system), &upstreams, &input, &[], &viewer);
    Ok(Html(
        layout::page("New objective", Nav::NewObjective, Some(now), &viewer, page).into_string(),
    )
    .into_response())
}

/// `POST /objectives/new`.
pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult<Response> {
    check_same_origin(&headers)?;
    let pairs = form_pairs(&body)?;
    let add_row = wants_another_row(&pairs);
    let mut input = FormInput::from_pairs(pairs);
    let now = now(&state);
    let store = &*state.store;
    let system = find_system(&state, input.system_id.trim()).await?;
    let upstreams = match &system {
        Some(system) => systems::get_dependencies(store, &system.id).await?.upstream,
        None => Vec::new(),
    };
    if add_row {
        input.tiers.push(TierInput::default());
        let page = form_page(Mode::Create, system.as_ref(), &upstreams, &input, &[], &viewer);
        let page = layout::page("New objective", Nav::NewObjective, Some(now), &viewer, page);
        return Ok(Html(page.into_string()).into_response());
    }
    let errors = match input.to_json(true) {
        Err(errors) => errors,
        Ok((json, rows)) => match CreateObjectiveRequest::from_json(&json) {
            Err(err) => vec![FormError::from_validation(err).on_rows(&rows)],
            Ok(CreateObjectiveRequest(new)) => {
                match objectives::create_objective(store, now, new).await {
                    Ok(objective) => {
                        return Ok(
                            Redirect::to(&format!("/objectives/{}", objective.id)).into_response()
                        )
                    }
                    Err(err) => vec![service_error(err)?.on_rows(&rows)],
                }
            }
        },
    };
    let page = form_page(Mode::Create, system.as_ref(), &upstreams, &input, &errors, &viewer);
    let page = layout::page("New objective", Nav::NewObjective, Some(now), &viewer, page);
    Ok((StatusCode::BAD_REQUEST, Html(page.into_string())).into_response())
}

/// `GET /objectives/{id}/edit`.
pub(super) async fn edit_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageId(id): PageId,
) -> WebResult<Html<String>> {
    let now = now(&state);
    let (objective, system, upstreams) = load_for_edit(&state, &id).await?;
    let input = FormInput::from_objective(&objective);
    let page = form_page(Mode::Edit(&objective), Some(&system), &upstreams, &input, &[], &viewer);
    Ok(Html(layout::page("Edit objective", Nav::None, Some(now), &viewer, page).into_string()))
}

/// `POST /objectives/{id}/edit`: every field of the form is sent, so the
/// update sets them all (an emptied check clears it).
pub(super) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    PageId(id): PageId,
    body: Bytes,
) -> WebResult<Response> {
    check_same_origin(&headers)?;
    let now = now(&state);
    let (objective, system, upstreams) = load_for_edit(&state, &id).await?;
    let pairs = form_pairs(&body)?;
    let add_row = wants_another_row(&pairs);
    let mut input = FormInput::from_pairs(pairs);
    // The system is fixed once created; the form only shows it.
    input.system_id = objective.system_id.to_string();
    if add_row {
        input.tiers.push(TierInput::default());
        let page =
            form_page(Mode::Edit(&objective), Some(&system), &upstreams, &input, &[], &viewer);
        let page = layout::page("Edit objective", Nav::None, Some(now), &viewer, page);
        return Ok(Html(page.into_string()).into_response());
    }
    let errors = match input.to_json(false) {
        Err(errors) => errors,
        Ok((json, rows)) => match UpdateObjectiveRequest::from_json(&json) {
            Err(err) => vec![FormError::from_validation(err).on_rows(&rows)],
            Ok(UpdateObjectiveRequest(patch)) => {
                match objectives::update_objective(&*state.store, now, &id, patch).await {
                    Ok(saved) => {
                        return Ok(
                            Redirect::to(&format!("/objectives/{}", saved.id)).into_response()
                        )
                    }
                    Err(err) => vec![service_error(err)?.on_rows(&rows)],
                }
            }
        },
    };
    let page =
        form_page(Mode::Edit(&objective), Some(&system), &upstreams, &input, &errors, &viewer);
    let page = layout::page("Edit objective", Nav::None, Some(now), &viewer, page);
    Ok((StatusCode::BAD_REQUEST, Html(page.into_string())).into_response())
}

/// Whether the "Add a tier row" button sent the form.
fn wants_another_row(pairs: &[(String, String)]) -> bool {
    pairs.iter().any(|(key, _)| key == "addTier")
}

async fn load_for_edit(
    state: &AppState,
    id: &str,
) -> WebResult<(Objective, SystemView, Vec<SystemRef>)> {
    let store = &*state.store;
    let Some(objective) = store.get_objective(id).await? else {
        return Err(super::WebError::NotFound(format!("There is no objective with id {id}.")));
    };
    let system = systems::get_system(store, &objective.system_id).await?;
    let upstreams = systems::get_dependencies(store, &objective.system_id).await?.upstream;
    Ok((objective, system, upstreams))
}

/// The system `raw` names, if it is a well-formed id of an existing system.
async fn find_system(state: &AppState, raw: &str) -> WebResult<Option<SystemView>> {
    let Ok(id) = SystemId::parse(raw, "systemId") else { return Ok(None) };
    match systems::get_system(&*state.store, &id).await {
        Ok(system) => Ok(Some(system)),
        Err(ServiceError::NotFound { .. }) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Step one of creating: which system the objective is for.
fn choose_system(systems: &[SystemView], note: Option<&str>, viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "New objective" }
        @if let Some(note) = note {
            p.errors role="alert" { (note) }
        }
        @if systems.is_empty() {
            section.empty {
                h2 { "No systems yet" }
                p { "An objective is a target for one system, and slod has none yet. Systems are "
                    "created by health reports or with " code { "PUT /api/v1/systems/{id}" } "; "
                    "or start slod with " code { "--demo" } " for sample data." }
            }
        } @else {
            p { "Which system is the objective for?" }
            ul.links.choose {
                @for system in systems {
                    li { a href={ "/objectives/new?systemId=" (system.id) } { (system.name) }
                        " " span.sysid { (system.id) } }
                }
            }
        }
    };
    layout::page("New objective", Nav::NewObjective, None, viewer, body)
}

/// The form itself, for both modes.
fn form_page(
    mode: Mode<'_>,
    system: Option<&SystemView>,
    upstreams: &[SystemRef],
    input: &FormInput,
    errors: &[FormError],
    viewer: &Viewer,
) -> Markup {
    let (heading, action, submit, cancel) = match mode {
        Mode::Create => (
            "New objective".to_owned(),
            "/objectives/new".to_owned(),
            "Create objective",
            system.map_or("/".to_owned(), |s| format!("/systems/{}", s.id)),
        ),
        Mode::Edit(objective) => (
            match system {
                Some(system) => {
                    format!("Edit {}: {}", system.name, components::objective_title(objective))
                }
                None => format!("Edit {}", components::objective_title(objective)),
            },
            format!("/objectives/{}/edit", objective.id),
            "Save changes",
            format!("/objectives/{}", objective.id),
        ),
    };
    let error_for = |field: &str| errors.iter().find(|e| e.field.as_deref() == Some(field));
    // Upstreams to offer: the system's, plus any the objective already
    // names that are no longer upstreams, so saving does not drop them
    // silently.
    let mut offered: Vec<(String, Option<&str>)> =
        upstreams.iter().map(|u| (u.id.to_string(), Some(u.name.as_str()))).collect();
    for id in &input.excluded {
        if !offered.iter().any(|(offered, _)| offered == id) {
            offered.push((id.clone(), None));
        }
    }
    let mode_value = if input.dependency_exclusion.is_empty() {
        DependencyExclusion::default().as_str()
    } else {
        input.dependency_exclusion.as_str()
    };
    html! {
        h1 { (heading) }
        @if !errors.is_empty() {
            div.errors role="alert" {
                p { b { "The objective was not saved." } " Please correct:" }
                ul {
                    @for error in errors {
                        li {
                            @if let Some(field) = &error.field {
                                a href={ "#" (field_id(field)) } { (field_label(field)) } ": "
                            }
                            (error.message)
                        }
                    }
                }
            }
        }
        form.editor method="post" action=(action) novalidate {
            (csrf_field(viewer))
            div.field.invalid[error_for("systemId").is_some()] #f-systemId {
                span.label { "System" }
                @if let Some(system) = system {
                    p.static { b { (system.name) } " " span.sysid { (system.id) }
                        @if matches!(mode, Mode::Create) {
                            " · " a href="/objectives/new" { "choose another system" }
                        }
                    }
                } @else {
                    p.static { code { (input.system_id) } " · " a href="/objectives/new" { "choose a system" } }
                }
                input type="hidden" name="systemId" value=(input.system_id);
                (error_text("systemId", error_for("systemId")))
            }
            (text_field("name", "Name (optional)", &input.name, "text",
                "A unique label for files and alerts: 1 to 63 of a-z 0-9 -, e.g. api-availability.",
                error_for("name")))
            (text_field("target", "Target availability (%)", &input.target, "decimal",
                "From 0 to 100, e.g. 99.9 allows 43 minutes of downtime in 30 days.", error_for("target")))
            fieldset.field #f-window {
                legend { "Window" }
                div.choice {
                    input type="radio" id="window-rolling" name="windowKind" value="rolling"
                        checked[!input.is_calendar()];
                    label for="window-rolling" { b { "Rolling" } " — the last N days, moving with the clock." }
                }
                (text_field("windowDays", "Window (days)", &input.window_days, "numeric",
                    "The rolling window availability is measured over: 1 to 3650 days.", error_for("windowDays")))
                div.choice {
                    input type="radio" id="window-calendar" name="windowKind" value="calendar"
                        checked[input.is_calendar()];
                    label for="window-calendar" { b { "Calendar" } " — this week (from Monday), month, quarter or year in a time zone; the budget resets when the next one begins." }
                }
                div.field.invalid[error_for("calendar.unit").is_some()] #f-calendar-unit {
                    label for="calendar-unit" { "Calendar period" }
                    select id="calendar-unit" name="calendar.unit" {
                        @for unit in CalendarUnit::ALL {
                            option value=(unit.as_str()) selected[input.calendar_unit == unit.as_str()] { (unit.as_str()) }
                        }
                    }
                    (error_text("calendar.unit", error_for("calendar.unit")))
                }
                div.field.invalid[error_for("calendar.timeZone").is_some()] #f-calendar-timeZone {
                    label for="calendar-timeZone" { "Time zone" }
                    input type="text" id="calendar-timeZone" name="calendar.timeZone" list="time-zones"
                        value=(input.calendar_time_zone) autocomplete="off" spellcheck="false";
                    datalist #time-zones {
                        @for zone in COMMON_TIME_ZONES { option value=(zone) {} }
                    }
                    p.hint { "An IANA time zone name, e.g. Europe/Berlin or UTC: periods begin at its midnights." }
                    (error_text("calendar.timeZone", error_for("calendar.timeZone")))
                }
                (error_text("calendar", error_for("calendar")))
            }
            fieldset.field.invalid[error_for("dependencyExclusion").is_some()] #f-dependencyExclusion {
                legend { "Which downtime counts" }
                div.choice {
                    input type="radio" id="mode-strict" name="dependencyExclusion" value="strict"
                        checked[mode_value == "strict"];
                    label for="mode-strict" { b { "Strict" } " — every minute the system is down counts, whatever caused it." }
                }
                div.choice {
                    input type="radio" id="mode-self-only" name="dependencyExclusion" value="self-only"
                        checked[mode_value == "self-only"];
                    label for="mode-self-only" { b { "Self-only" } " — minutes while an upstream dependency is down are charged to that upstream, not to this objective." }
                }
                (error_text("dependencyExclusion", error_for("dependencyExclusion")))
            }
            fieldset.field.invalid[error_for("excludedDependencyIds").is_some()] #f-excludedDependencyIds {
                legend { "Upstreams never excused" }
                p.hint { "In self-only mode, tick the upstreams whose outages should still count "
                    "against this objective (for example a dependency the team owns)." }
                @if offered.is_empty() {
                    p.muted { "This system has no upstream dependencies." }
                } @else {
                    ul.checks {
                        @for (i, (id, name)) in offered.iter().enumerate() {
                            li {
                                input type="checkbox" id={ "ex-" (i) } name="excludedDependencyIds" value=(id)
                                    checked[input.excluded.contains(id)];
                                label for={ "ex-" (i) } {
                                    @if let Some(name) = name { (name) " " } @else { "(no longer an upstream) " }
                                    span.sysid { (id) }
                                }
                            }
                        }
                    }
                }
                (error_text("excludedDependencyIds", error_for("excludedDependencyIds")))
            }
            div.field.check {
                input type="checkbox" id="f-excludeMaintenanceWindows" name="excludeMaintenanceWindows"
                    value="true" checked[input.exclude_maintenance_windows];
                label for="f-excludeMaintenanceWindows" { "Don't count downtime during planned maintenance windows" }
            }
            (text_field("healthCheckConfigurationId", "Health check (optional)", &input.health_check, "text",
                "Only reports from this check count; leave empty for all of the system's checks.",
                error_for("healthCheckConfigurationId")))
            fieldset.field {
                legend { "Alert thresholds" }
                div.grid3 {
                    (text_field("burnRateThresholds.warningPercent", "Warning at (% used)", &input.warning,
                        "decimal", "0–100 % of the budget", error_for("burnRateThresholds.warningPercent")))
                    (text_field("burnRateThresholds.criticalPercent", "Critical at (% used)", &input.critical,
                        "decimal", "0–100 % of the budget", error_for("burnRateThresholds.criticalPercent")))
                    (text_field("burnRateThresholds.fastBurnMultiplier", "Fast burn at (×)", &input.fast_burn,
                        "decimal", "1-hour burn rate, 1 or more", error_for("burnRateThresholds.fastBurnMultiplier")))
                }
            }
            (tier_rows(&input.tiers, errors))
            div.actions {
                // First, so Enter in a field saves rather than adding a row.
                button.button.primary type="submit" { (submit) }
                " "
                button.button type="submit" name="addTier" value="1" { "Add a tier row" }
                " "
                a.button href=(cancel) { "Cancel" }
            }
        }
    }
}

/// The element id of a field's input (dots and brackets are legal in ids
/// but not in CSS selectors).
fn field_id(field: &str) -> String {
    format!("f-{}", field.replace(['.', '['], "-").replace(']', ""))
}

/// The burn-rate tier rows: severity, long and short window, budget share,
/// Remove; each with its error under it.
fn tier_rows(tiers: &[TierInput], errors: &[FormError]) -> Markup {
    let error_for = |field: &str| errors.iter().find(|e| e.field.as_deref() == Some(field));
    let windows = BurnWindow::ALL.map(BurnWindow::as_str);
    let select = |name: String, value: &str, options: &[&str]| {
        let error = error_for(&name);
        html! {
            select id=(field_id(&name)) name=(name) aria-invalid=[error.map(|_| "true")] {
                option value="" selected[value.is_empty()] { "—" }
                @for option in options {
                    option value=(option) selected[value == *option] { (option) }
                }
                // Whatever was sent that is not an option, so the error
                // next to it makes sense.
                @if !value.is_empty() && !options.contains(&value) {
                    option value=(value) selected { (value) }
                }
            }
            (error_text(&name, error))
        }
    };
    html! {
        fieldset.field.invalid[error_for(TIERS).is_some()] #f-burnRateAlerts {
            legend { "Burn-rate alert tiers" }
            p.hint { "Each tier sends " code { "slo.burn.alert" } " once both its long and its short "
                "window burn the budget at least as fast as spending the given share of the whole "
                "window's budget within the long window. Leave a row empty to skip it; tick Remove "
                "to drop a tier; no tiers, no tier alerts." }
            table.tier-rows {
                thead { tr {
                    th scope="col" { "Severity" } th scope="col" { "Long window" }
                    th scope="col" { "Short window" } th scope="col" { "Budget (%)" }
                    th scope="col" { "Remove" }
                } }
                tbody {
                    @for (i, tier) in tiers.iter().enumerate() {
                        @let name = |part: &str| format!("{TIERS}[{i}].{part}");
                        tr.tier-row data-row=(i) {
                            td { (select(name("severity"), &tier.severity, &["page", "ticket"])) }
                            td { (select(name("longWindow"), &tier.long_window, &windows)) }
                            td { (select(name("shortWindow"), &tier.short_window, &windows)) }
                            td {
                                @let budget = name("budgetPercent");
                                input type="text" id=(field_id(&budget)) name=(budget) value=(tier.budget_percent)
                                    inputmode="decimal" autocomplete="off" placeholder="e.g. 2"
                                    aria-invalid=[error_for(&budget).map(|_| "true")];
                                (error_text(&budget, error_for(&budget)))
                            }
                            td {
                                input type="checkbox" id=(field_id(&name("remove"))) name=(name("remove"))
                                    value="true" checked[tier.remove] aria-label={ "Remove tier " (i + 1) };
                            }
                        }
                    }
                }
            }
            (error_text(TIERS, error_for(TIERS)))
        }
    }
}

/// A field's name in the error summary.
fn field_label(field: &str) -> String {
    if let Some((row, part)) = tier_field(field) {
        let part = match part {
            ".severity" => "severity",
            ".longWindow" => "long window",
            ".shortWindow" => "short window",
            ".budgetPercent" => "budget",
            _ => "entry",
        };
        return format!("Tier {} {part}", row + 1);
    }
    match field {
        "name" => "Name",
        "systemId" => "System",
        "target" => "Target",
        "windowDays" => "Window",
        "calendar" => "Window",
        "calendar.unit" => "Calendar period",
        "calendar.timeZone" => "Time zone",
        "dependencyExclusion" => "Which downtime counts",
        "excludedDependencyIds" => "Upstreams never excused",
        "excludeMaintenanceWindows" => "Maintenance windows",
        "healthCheckConfigurationId" => "Health check",
        "burnRateThresholds.warningPercent" => "Warning threshold",
        "burnRateThresholds.criticalPercent" => "Critical threshold",
        "burnRateThresholds.fastBurnMultiplier" => "Fast burn threshold",
        TIERS => "Burn-rate alert tiers",
        _ => "Field",
    }
    .to_owned()
}

/// A labelled text input with its hint and, when refused, its error right
/// under it (tied to the input with `aria-describedby`).
fn text_field(
    name: &str,
    label: &str,
    value: &str,
    inputmode: &str,
    hint: &str,
    error: Option<&FormError>,
) -> Markup {
    let id = field_id(name);
    let described = match error {
        Some(_) => format!("{id}-error {id}-hint"),
        None => format!("{id}-hint"),
    };
    html! {
        div.field.invalid[error.is_some()] {
            label for=(id) { (label) }
            input type="text" id=(id) name=(name) value=(value) inputmode=(inputmode)
                autocomplete="off" aria-invalid=[error.map(|_| "true")] aria-describedby=(described);
            (error_text(name, error))
            p.hint id={ (id) "-hint" } { (hint) }
        }
    }
}

fn error_text(name: &str, error: Option<&FormError>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.error id={ (field_id(name)) "-error" } data-field=(name) { "⚠ " (error.message) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_form_becomes_the_apis_json_body() {
        let input = FormInput::from_pairs(pairs(&[
            ("systemId", "api"),
            ("target", " 99.95 "),
            ("windowDays", "30"),
            ("dependencyExclusion", "self-only"),
            ("excludedDependencyIds", "db"),
            ("excludedDependencyIds", "cache"),
            ("burnRateThresholds.warningPercent", "50"),
            ("burnRateThresholds.criticalPercent", "80"),
            ("burnRateThresholds.fastBurnMultiplier", "5"),
            ("healthCheckConfigurationId", ""),
        ]));
        let (json, _) = input.to_json(true).unwrap();
        assert_eq!(json["target"], 99.95);
        assert_eq!(json["burnRateAlerts"], serde_json::json!([]));
        assert_eq!(json["windowDays"], 30);
        assert_eq!(json["excludedDependencyIds"], serde_json::json!(["db", "cache"]));
        assert_eq!(json["excludeMaintenanceWindows"], false);
        assert_eq!(json["healthCheckConfigurationId"], Value::Null);
        let CreateObjectiveRequest(new) = CreateObjectiveRequest::from_json(&json).unwrap();
        assert_eq!(new.dependency_exclusion, DependencyExclusion::SelfOnly);
        assert_eq!(new.excluded_dependency_ids.len(), 2);
    }

    #[test]
    fn a_name_is_sent_trimmed_and_an_empty_one_unnames() {
        let mut input = FormInput::defaults("api");
        input.name = " api-availability ".into();
        let json = input.to_json(true).unwrap().0;
        assert_eq!(json["name"], "api-availability");
        let CreateObjectiveRequest(new) = CreateObjectiveRequest::from_json(&json).unwrap();
        assert_eq!(new.name.map(|n| n.to_string()).as_deref(), Some("api-availability"));
        input.name = "  ".into();
        assert_eq!(input.to_json(false).unwrap().0["name"], Value::Null);
        input.name = "API".into();
        let err = CreateObjectiveRequest::from_json(&input.to_json(true).unwrap().0).err().unwrap();
        assert_eq!(FormError::from_validation(err).field.as_deref(), Some("name"));
    }

    #[test]
    fn every_suggested_time_zone_is_accepted() {
        for zone in COMMON_TIME_ZONES {
            assert!(slod_core::window::Calendar::parse("month", zone).is_ok(), "{zone}");
        }
    }

    #[test]
    fn a_calendar_form_sends_calendar_and_no_window_days() {
        let input = FormInput::from_pairs(pairs(&[
            ("systemId", "api"),
            ("target", "99.9"),
            ("windowKind", "calendar"),
            ("windowDays", "not read"),
            ("calendar.unit", "month"),
            ("calendar.timeZone", " Europe/Berlin "),
            ("burnRateThresholds.warningPercent", "50"),
            ("burnRateThresholds.criticalPercent", "80"),
            ("burnRateThresholds.fastBurnMultiplier", "5"),
        ]));
        let json = input.to_json(true).unwrap().0;
        assert!(json.get("windowDays").is_none());
        assert_eq!(
            json["calendar"],
            serde_json::json!({"unit": "month", "timeZone": "Europe/Berlin"})
        );
        let CreateObjectiveRequest(new) = CreateObjectiveRequest::from_json(&json).unwrap();
        assert_eq!(new.window.calendar().unwrap().time_zone.name(), "Europe/Berlin");
        let mut bad = input.clone();
        bad.calendar_time_zone = "Berlin".into();
        let err = CreateObjectiveRequest::from_json(&bad.to_json(true).unwrap().0).err().unwrap();
        assert_eq!(FormError::from_validation(err).field.as_deref(), Some("calendar.timeZone"));
    }

    #[test]
    fn text_that_is_not_a_number_is_reported_per_field() {
        let mut input = FormInput::defaults("api");
        input.target = "lots".into();
        input.window_days = "".into();
        let errors = input.to_json(true).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_deref()).collect();
        assert_eq!(fields, vec![Some("target"), Some("windowDays")]);
    }

    #[test]
    fn range_errors_come_from_the_apis_parser_and_land_on_their_field() {
        let mut input = FormInput::defaults("api");
        input.target = "150".into();
        let err = CreateObjectiveRequest::from_json(&input.to_json(true).unwrap().0).err().unwrap();
        let placed = FormError::from_validation(err);
        assert_eq!(placed.field.as_deref(), Some("target"));
        let indexed = FormError::from_validation(ValidationError::new(
            "excludedDependencyIds[1]",
            "contains ' '",
        ));
        assert_eq!(indexed.field.as_deref(), Some("excludedDependencyIds"));
        let unknown = FormError::from_validation(ValidationError::new("body", "bad"));
        assert_eq!(unknown.field, None);
    }

    #[test]
    fn tier_rows_become_the_array_and_errors_return_to_their_row() {
        let input = FormInput::from_pairs(pairs(&[
            ("target", "99.9"),
            ("windowDays", "30"),
            ("burnRateThresholds.warningPercent", "50"),
            ("burnRateThresholds.criticalPercent", "80"),
            ("burnRateThresholds.fastBurnMultiplier", "5"),
            ("burnRateAlerts[0].severity", "page"),
            ("burnRateAlerts[0].longWindow", "1h"),
            ("burnRateAlerts[0].shortWindow", "5m"),
            ("burnRateAlerts[0].budgetPercent", "2"),
            ("burnRateAlerts[0].remove", "true"),
            ("burnRateAlerts[1].severity", ""),
            ("burnRateAlerts[1].longWindow", ""),
            ("burnRateAlerts[1].shortWindow", ""),
            ("burnRateAlerts[1].budgetPercent", " "),
            ("burnRateAlerts[2].severity", "ticket"),
            ("burnRateAlerts[2].longWindow", "6h"),
            ("burnRateAlerts[2].shortWindow", "24h"),
            ("burnRateAlerts[2].budgetPercent", "7.5"),
        ]));
        assert_eq!(input.tiers.len(), 3);
        let (json, rows) = input.to_json(false).unwrap();
        // Row 0 removed, row 1 empty: row 2 is entry 0.
        assert_eq!(rows, [2]);
        assert_eq!(
            json["burnRateAlerts"],
            serde_json::json!([{"severity": "ticket", "longWindow": "6h", "shortWindow": "24h", "budgetPercent": 7.5}])
        );
        let err = UpdateObjectiveRequest::from_json(&json).err().unwrap();
        assert_eq!(err.field, "burnRateAlerts[0].shortWindow");
        let placed = FormError::from_validation(err).on_rows(&rows);
        assert_eq!(placed.field.as_deref(), Some("burnRateAlerts[2].shortWindow"));
        assert_eq!(field_label("burnRateAlerts[2].shortWindow"), "Tier 3 short window");
        assert_eq!(field_id("burnRateAlerts[2].shortWindow"), "f-burnRateAlerts-2-shortWindow");

        let mut bad = input.clone();
        bad.tiers[2].budget_percent = "lots".into();
        let errors = bad.to_json(false).unwrap_err();
        assert_eq!(errors[0].field.as_deref(), Some("burnRateAlerts[2].budgetPercent"));
        // Defaults: the three tiers and one empty row.
        let fresh = FormInput::defaults("api");
        assert_eq!(fresh.tiers.len(), 4);
        let (json, rows) = fresh.to_json(true).unwrap();
        assert_eq!(rows, [0, 1, 2]);
        let CreateObjectiveRequest(new) = CreateObjectiveRequest::from_json(&json).unwrap();
        assert_eq!(new.burn_rate_alerts.tiers(), BurnRateAlertTier::DEFAULTS);
    }
}
