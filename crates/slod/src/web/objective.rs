//! `GET /objectives/{id}`: one objective's numbers, trend chart, downtime
//! timeline and settings; and its delete confirmation
//! (`GET`/`POST /objectives/{id}/delete`), a plain form so it works without
//! JavaScript.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup};
use slod_core::maintenance::{merged_occurrences, MaintenanceWindow};
use slod_core::model::Objective;
use slod_core::time::{Timestamp, DAY_MS};
use slod_core::window::Window;

use super::components::{self, State as ObjState};
use super::layout::{self, Nav};
use super::session::{csrf_field, Viewer};
use super::{check_same_origin, data, format, now, PageId, WebResult};
use crate::service::systems::{self, SystemRef, SystemView};
use crate::service::{maintenance, objectives, status::ObjectiveWithStatus};
use crate::state::AppState;

/// How far back the trend chart looks.
const TREND_DAYS: i64 = 90;

/// How many events the timeline lists (and at most as many maintenance
/// occurrences).
const TIMELINE_LENGTH: u32 = 50;

/// The timeline shows maintenance of at least this many recent days, even
/// when there is no downtime that far back.
const TIMELINE_MAINTENANCE_DAYS: i64 = 7;

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageId(id): PageId,
) -> WebResult<Html<String>> {
    let now = now(&state);
    let store = &*state.store;
    let item = objectives::get_objective(store, &id, None, now).await?;
    let system = systems::get_system(store, &item.objective.system_id).await?;
    let upstreams = systems::get_dependencies(store, &item.objective.system_id).await?.upstream;
    let events = objectives::list_events(store, &id, TIMELINE_LENGTH).await?;
    let corrections = crate::service::corrections::list(store, &item.objective.system_id).await?;
    let trend_from = now.minus_millis(TREND_DAYS * DAY_MS);
    let snapshots = data::snapshots(store, &id, trend_from, now).await?;
    // The system's windows as they stand (SPEC §12: a plan, not history),
    // shaded over the chart's days and the timeline's span.
    let windows: Vec<MaintenanceWindow> = maintenance::list(store, now, &item.objective.system_id)
        .await?
        .into_iter()
        .map(|w| w.row.window)
        .collect();
    let chart_maintenance = merged_occurrences(&windows, trend_from.millis(), now.millis());
    let timeline_from = events
        .iter()
        .map(|e| e.start_time.millis())
        .min()
        .unwrap_or(now.millis())
        .min(now.millis() - TIMELINE_MAINTENANCE_DAYS * DAY_MS);
    let mut timeline_maintenance = merged_occurrences(&windows, timeline_from, now.millis());
    // Newest first on screen; keep the most recent ones.
    let skip = timeline_maintenance.len().saturating_sub(TIMELINE_LENGTH as usize);
    timeline_maintenance.drain(..skip);
    let objective = &item.objective;
    let status = &item.status;
    let state_now = ObjState::of(status);
    let down_now = system.status.is_down();

    let body = html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/" { "Overview" } " › "
            a href={ "/systems/" (system.id) } { (system.name) }
        }
        div.titlebar {
            h1 { (system.name) ": " (components::objective_title(objective)) }
            @if viewer.can_edit {
                div.actions {
                    a.button href={ "/objectives/" (objective.id) "/edit" } { "Edit" }
                    a.button.danger href={ "/objectives/" (objective.id) "/delete" } { "Delete…" }
                }
            }
        }
        p { (components::state_chips(state_now, down_now))
            @if let Some(since) = system.since {
                " " span.muted { "down since " (format::utc(since)) " (" (components::when(since, now)) ")" }
            }
        }
        (stat_cards(&item))
        section.card {
            h2 { "Error budget" }
            (components::attribution_bar(status, true))
            (burn_table(&item))
        }
        section.card #burn-tiers {
            h2 { "Burn-rate alerts " span.muted { "(multiwindow tiers)" } }
            (tier_table(&item))
        }
        section.card {
            h2 { "Availability trend " span.muted { "(daily snapshots, last " (TREND_DAYS) " days)" } }
            (components::trend_chart(&snapshots, objective.target.get(), &chart_maintenance))
        }
        section.card {
            h2 { "Recent downtime " span.muted { "(newest first, up to " (TIMELINE_LENGTH) ", with maintenance)" } }
            (components::timeline(&events, &timeline_maintenance, now, &corrections, &system.id))
        }
        section.card {
            h2 { "Settings" }
            (settings(objective, &system, &upstreams, now))
        }
    };
    let title = format!("{} {}", system.name, components::objective_title(objective));
    Ok(Html(layout::live_page(&title, Nav::None, Some(now), &viewer, body).into_string()))
}

fn stat_cards(item: &ObjectiveWithStatus) -> Markup {
    let status = &item.status;
    html! {
        div.stats {
            div.stat {
                span.label { "Availability" }
                b.big { (format::percent(status.current_availability)) }
                span.muted { "target " (format::target(status.target)) " % · strict "
                    (format::percent(status.strict_availability)) }
            }
            div.stat {
                span.label { "Budget left" }
                b.big { (format::percent1(status.error_budget_remaining_percent)) }
                span.muted { (format::minutes(status.error_budget_remaining_minutes)) " of "
                    (format::minutes(status.error_budget_total_minutes)) }
            }
            div.stat {
                span.label { "Budget used" }
                b.big { (format::minutes(status.error_budget_consumed_minutes)) }
                span.muted { "burn rate " (format::burn(status.burn_rate)) " over the window" }
            }
            div.stat #maintenance-minutes {
                span.label { "Excluded (maintenance)" }
                b.big { (format::minutes(status.maintenance_minutes)) }
                span.muted {
                    @if item.objective.exclude_maintenance_windows {
                        "downtime in maintenance windows, not counted"
                    } @else {
                        "this objective counts maintenance as downtime"
                    }
                }
            }
            div.stat {
                span.label { "Streak" }
                b.big { (components::streak(&item.streak)) }
                span.muted { "days on target in a row" }
            }
        }
    }
}

fn burn_table(item: &ObjectiveWithStatus) -> Markup {
    let rates = &item.status.burn_rates;
    let fast = item.objective.burn_rate_thresholds.fast_burn_multiplier;
    let windows = [
        ("5 min", rates.m5),
        ("30 min", rates.m30),
        ("1 h", rates.h1),
        ("6 h", rates.h6),
        ("24 h", rates.h24),
        ("72 h", rates.h72),
    ];
    html! {
        p.burns-note #burn-note { "Burn rate by window: 1× spends exactly the budget over the "
            "objective's window; fast burn alerts at " (format::target(fast)) "×." }
        table.burns aria-describedby="burn-note" {
            thead { tr { @for (label, _) in &windows { th scope="col" { (label) } } } }
            tbody { tr {
                @for (_, rate) in &windows {
                    td.hot[rate.is_some_and(|r| r >= fast && r > 0.0)] { (format::burn(*rate)) }
                }
            } }
        }
    }
}

/// Each of `burnRateAlerts` with its current long and short rates, its
/// threshold, and whether it is firing (both at or above it).
fn tier_table(item: &ObjectiveWithStatus) -> Markup {
    let objective = &item.objective;
    let window_ms = objective.window_ms_at(item.status.computed_at);
    let readings = objective.burn_rate_alerts.readings(&item.status.burn_rates, window_ms);
    html! {
        @if readings.is_empty() {
            p.empty-note { "No burn-rate tiers: this objective sends no " code { "slo.burn.alert" } ". "
                a href={ "/objectives/" (objective.id) "/edit#f-burnRateAlerts" } { "Add one" } "." }
        } @else {
            p.burns-note #tiers-note { "A tier alerts (" code { "slo.burn.alert" } ") once both its long and "
                "its short window burn at or above its threshold: the budget share it names, spent "
                "within the long window." }
            table.tiers aria-describedby="tiers-note" {
                thead { tr {
                    th scope="col" { "Severity" } th scope="col" { "Windows" } th scope="col" { "Budget" }
                    th scope="col" { "Threshold" } th scope="col" { "Long rate" } th scope="col" { "Short rate" }
                    th scope="col" { "State" }
                } }
                tbody {
                    @for reading in &readings {
                        @let hot = |rate: Option<f64>| rate.is_some_and(|r| r >= reading.threshold);
                        tr.tier data-tier=(reading.index) data-firing=(reading.firing) {
                            td { (reading.tier.severity.as_str()) }
                            td { (reading.tier.long_window) " / " (reading.tier.short_window) }
                            td { (format::target(reading.tier.budget_percent)) " %" }
                            td.threshold { (format::burn(Some(reading.threshold))) }
                            td.long.hot[hot(reading.burn_rate_long)] { (format::burn(reading.burn_rate_long)) }
                            td.short.hot[hot(reading.burn_rate_short)] { (format::burn(reading.burn_rate_short)) }
                            td {
                                @if reading.firing {
                                    span.chip.st-down { "firing" }
                                } @else {
                                    span.chip.st-ok { "quiet" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn settings(
    objective: &Objective,
    system: &SystemView,
    upstreams: &[SystemRef],
    now: Timestamp,
) -> Markup {
    let thresholds = &objective.burn_rate_thresholds;
    html! {
        dl.settings {
            @if let Some(name) = &objective.name {
                dt { "Name" } dd { code { (name) } }
            }
            dt { "System" } dd { a href={ "/systems/" (system.id) } { (system.name) } " " span.sysid { (system.id) } }
            @match objective.window {
                Window::Rolling(days) => {
                    dt { "Target" } dd { (format::target(objective.target.get())) " % over a rolling " (days) "-day window" }
                }
                Window::Calendar(c) => {
                    dt { "Target" } dd { (format::target(objective.target.get())) " % per calendar " (c.unit) " in " (c.time_zone.name()) " (weeks start on Monday)" }
                    @let period = c.period_containing(now);
                    dt { "This period" } dd.period { (period.start.to_rfc3339()) " – " (period.end.to_rfc3339()) }
                }
            }
            dt { "Downtime counted" } dd { (components::mode_label(objective.dependency_exclusion)) }
            dt { "Upstreams never excused" }
            dd {
                @if objective.excluded_dependency_ids.is_empty() {
                    "none"
                } @else {
                    @for (i, id) in objective.excluded_dependency_ids.iter().enumerate() {
                        @if i > 0 { ", " }
                        @match upstreams.iter().find(|u| &u.id == id) {
                            Some(up) => { a href={ "/systems/" (up.id) } { (up.name) } }
                            None => { span { (id) " (not an upstream now)" } }
                        }
                    }
                }
            }
            dt { "Maintenance windows" }
            dd { @if objective.exclude_maintenance_windows { "excluded from downtime" } @else { "counted as downtime" } }
            dt { "Health check" }
            dd { (objective.health_check_configuration_id.as_deref().unwrap_or("all checks of the system")) }
            dt { "Alert thresholds" }
            dd { "warning at " (format::target(thresholds.warning_percent)) " % of the budget used, critical at "
                (format::target(thresholds.critical_percent)) " %, fast burn at "
                (format::target(thresholds.fast_burn_multiplier)) "×" }
            dt { "Burn-rate tiers" }
            dd { @if objective.burn_rate_alerts.tiers().is_empty() { "none" } @else {
                @for (i, tier) in objective.burn_rate_alerts.tiers().iter().enumerate() {
                    @if i > 0 { "; " }
                    (tier.severity.as_str()) " at " (format::target(tier.budget_percent)) " % in "
                    (tier.long_window) " (and " (tier.short_window) ")"
                }
            } }
            dt { "Created" } dd { (format::utc(objective.created_at)) " (" (components::when(objective.created_at, now)) ")" }
            dt { "Updated" } dd { (format::utc(objective.updated_at)) " (" (components::when(objective.updated_at, now)) ")" }
            dt { "Id" } dd { code { (objective.id) } }
        }
    }
}

/// `GET /objectives/{id}/delete`: what will be lost, and the button.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    viewer: Viewer,
    PageId(id): PageId,
) -> WebResult<Html<String>> {
    let now = now(&state);
    let store = &*state.store;
    let item = objectives::get_objective(store, &id, None, now).await?;
    let system = systems::get_system(store, &item.objective.system_id).await?;
    let title = components::objective_title(&item.objective);
    let body = html! {
        section.card.confirm {
            h1 { "Delete this objective?" }
            p { "You are about to delete " b { (title) } " of " b { (system.name) } "." }
            p { "Its downtime history, daily snapshots, streak and alert state go with it. "
                "This cannot be undone." }
            form method="post" action={ "/objectives/" (item.objective.id) "/delete" } {
                (csrf_field(&viewer))
                button.button.danger type="submit" { "Delete objective" }
                " "
                a.button href={ "/objectives/" (item.objective.id) } { "Cancel" }
            }
        }
    };
    Ok(Html(layout::page("Delete objective", Nav::None, Some(now), &viewer, body).into_string()))
}

/// `POST /objectives/{id}/delete`: deletes, then shows the system's page.
pub(super) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageId(id): PageId,
) -> WebResult<Response> {
    check_same_origin(&headers)?;
    let store = &*state.store;
    let Some(objective) = store.get_objective(&id).await? else {
        return Err(super::WebError::NotFound(format!("There is no objective with id {id}.")));
    };
    objectives::delete_objective(store, &id).await?;
    Ok(Redirect::to(&format!("/systems/{}?deleted=1", objective.system_id)).into_response())
}
