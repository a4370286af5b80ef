//! `GET /systems/{id}`: a system's objectives, where its health reports come
//! from (its checks, each with its latest report), its maintenance windows
//! (with their status, and links to plan, edit and cancel them), its
//! upstream and downstream systems, and its achievements.

use axum::extract::{RawQuery, State};
use axum::response::Html;
use maud::html;
use slod_core::model::SystemId;
use slod_core::time::Timestamp;

use super::components::{self, State as ObjState};
use super::corrections;
use super::layout::{self, Nav};
use super::session::Viewer;
use super::{data, format, now, query_pairs, query_value, PageId, WebError, WebResult};
use crate::input::integrations::reporter;
use crate::service::systems::{self, SystemRef};
use crate::service::{maintenance, objectives, ServiceError};
use crate::state::AppState;

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageId(raw): PageId,
    query: RawQuery,
) -> WebResult<Html<String>> {
    let unknown = || WebError::NotFound(format!("There is no system with id {raw}."));
    // A malformed id cannot name a system: the same friendly 404.
    let id = SystemId::parse(&raw, "id").map_err(|_| unknown())?;
    let now = now(&state);
    let store = &*state.store;
    let system = match systems::get_system(store, &id).await {
        Err(ServiceError::NotFound { .. }) => return Err(unknown()),
        other => other?,
    };
    let dependencies = systems::get_dependencies(store, &id).await?;
    let items = objectives::list_system_objectives(store, &id, now).await?;
    // `get_system` read the checks already; latest report first.
    let mut checks = system.checks.clone().unwrap_or_default();
    checks.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.check_id.cmp(&b.check_id)));
    let achievements = data::achievements(store, Some(std::slice::from_ref(&id))).await?;
    let unlocked = achievements.get(&id).map(Vec::as_slice).unwrap_or(&[]);
    let windows = maintenance::list(store, now, &id).await?;
    let pairs = query_pairs(query);
    let deleted = query_value(&pairs, "deleted").is_some();
    let window_flash = query_value(&pairs, "maintenance").and_then(super::maintenance::flash);
    let corrected = query_value(&pairs, "corrected").is_some();
    let revoked = query_value(&pairs, "revoked").is_some();
    let prefill = |key: &str| query_value(&pairs, key).and_then(|raw| Timestamp::parse(raw).ok());
    let trail = crate::service::corrections::list(store, &id).await?;
    let down_now = system.status.is_down();

    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/" { "Overview" } " › " (system.name) }
        @if deleted {
            p.flash role="status" { "The objective was deleted." }
        }
        @if let Some(message) = window_flash {
            p.flash role="status" { (message) }
        }
        @if corrected {
            p.flash role="status" { "The correction was made; statuses, snapshots and streaks are recomputed." }
        }
        @if revoked {
            p.flash role="status" { "The correction was revoked; the previous numbers are back." }
        }
        div.titlebar {
            h1 { (system.name) " " span.sysid { (system.id) } }
            @if viewer.can_edit {
                div.actions {
                    a.button href={ "/objectives/new?systemId=" (system.id) } { "New objective" }
                }
            }
        }
        p {
            @if let Some(since) = system.since {
                span.chip.st-down { "down now" } " "
                span.muted { (system.status.as_str()) " since " (format::utc(since))
                    " (" (components::when(since, now)) ")" }
            } @else {
                span.chip.st-ok { "up" } " "
                @if let Some(last) = system.last_report_at {
                    span.muted { "last report " (components::when(last, now)) }
                } @else {
                    span.muted { "no health report yet" }
                }
            }
            " " (components::badges(unlocked, now))
        }
        section.card {
            h2 { "Objectives" }
            @if items.is_empty() {
                p.empty-note {
                    "No objectives yet. "
                    @if viewer.can_edit {
                        a href={ "/objectives/new?systemId=" (system.id) } { "Create one" }
                        " to start tracking this system's availability."
                    }
                }
            } @else {
                (components::row_header())
                @for item in &items {
                    (components::objective_row(item, ObjState::of(&item.status), down_now))
                }
            }
        }
        section.card #reports {
            h2 { "Where reports come from" }
            (check_list(&checks, now))
        }
        section.card #maintenance {
            div.titlebar {
                h2 { "Maintenance windows" }
                @if viewer.can_edit {
                    div.actions {
                        a.button href={ "/systems/" (system.id) "/maintenance-windows/new" } { "Plan maintenance" }
                    }
                }
            }
            (super::maintenance::explainer())
            (super::maintenance::window_list(&system.id, &windows, &viewer))
        }
        div.two {
            section.card {
                h2 { "Depends on (upstream)" }
                (system_list(&dependencies.upstream, "No upstream dependencies."))
            }
            section.card {
                h2 { "Depended on by (downstream)" }
                (system_list(&dependencies.downstream, "Nothing depends on this system."))
            }
        }
        section.card id="corrections" {
            h2 { "Corrections " span.muted { "(the audit trail, newest first)" } }
            (corrections::audit_trail(&viewer, &trail, now))
            @if viewer.can_edit {
                h3 { "Mark an interval" }
                (corrections::form(&viewer, &id, &dependencies.upstream, prefill("correctStart"), prefill("correctEnd")))
            }
        }
        section.card {
            h2 { "Achievements " span.muted { "(" (unlocked.len()) " of 9 unlocked)" } }
            (components::achievement_grid(unlocked, now))
        }
    };
    Ok(Html(layout::live_page(&system.name, Nav::None, Some(now), &viewer, body).into_string()))
}

fn system_list(systems: &[SystemRef], empty: &str) -> maud::Markup {
    html! {
        @if systems.is_empty() {
            p.muted { (empty) }
        } @else {
            ul.links {
                @for system in systems {
                    li { a href={ "/systems/" (system.id) } { (system.name) } " " span.sysid { (system.id) } }
                }
            }
        }
    }
}

/// The system's checks: who sends each one's reports, its latest status
/// and when it last reported (SPEC §12, §13).
fn check_list(checks: &[systems::CheckView], now: slod_core::time::Timestamp) -> maud::Markup {
    html! {
        @if checks.is_empty() {
            p.muted {
                "No health report yet. Send them with POST /api/v1/health, or point "
                "Alertmanager, Uptime Kuma or Gatus at /api/v1/integrations/… (see the README)."
            }
        } @else {
            ul.checks {
                @for check in checks {
                    @let (tool, what) = reporter(check.check_id.as_str());
                    li {
                        strong { (tool) } " "
                        span { (what) } " "
                        @if check.status.is_down() {
                            span.chip.st-down { (check.status.as_str()) }
                        } @else {
                            span.chip.st-ok { (check.status.as_str()) }
                        }
                        " " span.muted { "last report " (components::when(check.at, now)) }
                    }
                }
            }
        }
    }
}
