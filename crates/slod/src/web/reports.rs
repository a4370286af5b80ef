//! `GET /reports`: pick a period (a month, or any range of UTC days) and
//! optionally a system, and download the SLA statement (SPEC §17) as
//! JSON, CSV or PDF. The forms submit straight to `GET
//! /api/v1/reports/sla`, so the file is the API's.

use axum::extract::State;
use axum::response::Html;
use chrono::{Datelike, Months};
use maud::html;

use super::layout::{self, Nav};
use super::session::Viewer;
use super::{now, WebResult};
use crate::service::systems;
use crate::state::AppState;

pub(super) async fn page(State(state): State<AppState>, viewer: Viewer) -> WebResult<Html<String>> {
    let now = now(&state);
    let systems = systems::list_systems(&*state.store).await?;
    let today = now.date();
    let this_month = today.with_day(1).unwrap_or(today);
    let last_month = this_month.checked_sub_months(Months::new(1)).unwrap_or(this_month);
    let system_select = html! {
        label { "System "
            select name="systemId" {
                option value="" { "all systems" }
                @for system in &systems {
                    option value=(system.id) { (system.name) }
                }
            }
        }
    };
    let formats = html! {
        div.actions {
            button type="submit" name="format" value="pdf" { "Download PDF" }
            button type="submit" name="format" value="csv" { "Download CSV" }
            button type="submit" name="format" value="json" { "Download JSON" }
        }
    };
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/" { "Overview" } " › Reports" }
        h1 { "SLA statements" }
        p.muted { "Per objective: availability over the period, whether it met its target, and every
                   interval of downtime with its cause (its own, an upstream's, a false positive or
                   maintenance), after corrections. Periods are UTC days." }
        section.card {
            h2 { "A month" }
            form.reports method="get" action="/api/v1/reports/sla" {
                label { "Month " input type="month" name="period" required value=(last_month.format("%Y-%m")); }
                (system_select)
                (formats)
            }
        }
        section.card {
            h2 { "Any range of days" }
            form.reports method="get" action="/api/v1/reports/sla" {
                label { "From (inclusive) " input type="date" name="from" required value=(last_month); }
                label { "To (exclusive) " input type="date" name="to" required value=(this_month); }
                (system_select)
                (formats)
            }
        }
    };
    Ok(Html(layout::page("Reports", Nav::Reports, Some(now), &viewer, body).into_string()))
}
