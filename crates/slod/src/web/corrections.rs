//! Corrections on the dashboard (SPEC §17): the form that marks an
//! interval of a system as a false positive, maintenance or an upstream's
//! fault, the audit trail with its revoke buttons, and the chips that show
//! corrected downtime on an objective's timeline.
//!
//! | route | does |
//! |---|---|
//! | `POST /systems/{id}/corrections` | makes a correction, back to the system page |
//! | `POST /corrections/{cid}/revoke` | revokes one, back to its system's page |
//!
//! The form's fields become the API's JSON body and are parsed by the same
//! `input::corrections` type, so the dashboard refuses what the API
//! refuses, with the same message. `datetime-local` values (no zone) are
//! read as UTC, which the form says.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::{Map, Value};
use slod_core::model::{DowntimeEvent, SystemId};
use slod_core::time::Timestamp;
use slod_store::corrections::CorrectionRow;

use super::session::{csrf_field, Viewer};
use super::{check_same_origin, form_pairs, format, now, PageId, WebError, WebResult};
use crate::input::corrections::CreateCorrectionRequest;
use crate::input::FromJson;
use crate::service::corrections::{self as service, Actor};
use crate::service::systems::SystemRef;
use crate::state::AppState;

/// A form's date-time as RFC 3339: `datetime-local` values (`YYYY-MM-DDTHH:MM`
/// or with seconds) are UTC; anything else is passed on to be refused by
/// the API's parser, naming the field.
fn instant(raw: &str) -> String {
    let raw = raw.trim();
    match raw.len() {
        16 => format!("{raw}:00Z"),
        19 if !raw.ends_with('Z') => format!("{raw}Z"),
        _ => raw.to_owned(),
    }
}

/// The form's value for an instant: `YYYY-MM-DDTHH:MM` in UTC.
fn local(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%dT%H:%M").to_string()
}

/// `POST /systems/{id}/corrections`.
pub(super) async fn create(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    PageId(raw): PageId,
    body: Bytes,
) -> WebResult<Response> {
    check_same_origin(&headers)?;
    let system = SystemId::parse(&raw, "id")
        .map_err(|_| WebError::NotFound(format!("There is no system with id {raw}.")))?;
    let mut fields = Map::new();
    for (key, value) in form_pairs(&body)? {
        let value = match key.as_str() {
            "start" | "end" => Value::String(instant(&value)),
            "upstreamSystemId" if value.trim().is_empty() => continue,
            _ => Value::String(value),
        };
        fields.insert(key, value);
    }
    let request = CreateCorrectionRequest::from_json(&Value::Object(fields))
        .map_err(|err| WebError::BadRequest(format!("{}: {}", err.field, err.message)))?;
    service::create(&*state.store, now(&state), &actor, &system, request).await?;
    Ok(Redirect::to(&format!("/systems/{system}?corrected=1#corrections")).into_response())
}

/// `POST /corrections/{cid}/revoke`.
pub(super) async fn revoke(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    PageId(id): PageId,
) -> WebResult<Response> {
    check_same_origin(&headers)?;
    let row = service::revoke(&*state.store, now(&state), &actor, &id).await?;
    Ok(Redirect::to(&format!("/systems/{}?revoked=1#corrections", row.system_id)).into_response())
}

/// The form, prefilled with an interval when the timeline's "mark" link
/// gave one.
pub(super) fn form(
    viewer: &Viewer,
    system: &SystemId,
    upstreams: &[SystemRef],
    start: Option<Timestamp>,
    end: Option<Timestamp>,
) -> Markup {
    html! {
        form.correction method="post" action={ "/systems/" (system) "/corrections" } {
            (csrf_field(viewer))
            p.muted { "Times are UTC. The interval must be over: a correction re-labels the past." }
            div.two {
                label { "Start " input type="datetime-local" name="start" required
                    value=[start.map(local)]; }
                label { "End " input type="datetime-local" name="end" required
                    value=[end.map(local)]; }
            }
            label { "It was "
                select name="kind" {
                    option value="false_positive" { "a false positive (no downtime)" }
                    option value="maintenance" { "maintenance" }
                    @if !upstreams.is_empty() { option value="upstream" { "an upstream's fault" } }
                }
            }
            @if !upstreams.is_empty() {
                label { "Upstream (for an upstream's fault) "
                    select name="upstreamSystemId" {
                        option value="" { "—" }
                        @for upstream in upstreams {
                            option value=(upstream.id) { (upstream.name) }
                        }
                    }
                }
            }
            label { "Reason " input type="text" name="reason" required maxlength="500"
                placeholder="e.g. the probe's own network was down"; }
            button type="submit" { "Mark the interval" }
        }
    }
}

/// The audit trail: every correction, newest first, revoked ones struck
/// through, each live one with a revoke button.
pub(super) fn audit_trail(viewer: &Viewer, rows: &[CorrectionRow], now: Timestamp) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { "No corrections: every number is as the monitors reported it." }
        } @else {
            table.trail {
                thead { tr { th { "Interval (UTC)" } th { "It was" } th { "Reason" } th { "By" } th { "Made" } th {} } }
                tbody {
                    @for row in rows {
                        tr.revoked[row.revoked_at.is_some()] {
                            td { (format::utc(Timestamp::from_millis(row.correction.start))) " → "
                                 (format::utc(Timestamp::from_millis(row.correction.end))) }
                            td { span.chip.corr { (label(row)) } }
                            td { (row.reason) }
                            td { (row.author) }
                            td { (super::components::when(row.created_at, now)) }
                            td {
                                @if let (Some(at), Some(by)) = (row.revoked_at, &row.revoked_by) {
                                    span.muted { "revoked by " (by) " " (super::components::when(at, now)) }
                                } @else if viewer.can_edit {
                                    form method="post" action={ "/corrections/" (row.id) "/revoke" } {
                                        (csrf_field(viewer))
                                        button.danger type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a correction says, for people.
pub(super) fn label(row: &CorrectionRow) -> String {
    match row.correction.kind.upstream() {
        Some(upstream) => {
            format!("{}'s fault", row.upstream_name.as_deref().unwrap_or(upstream.as_str()))
        }
        None if row.correction.kind.as_str() == "maintenance" => "maintenance".into(),
        None => "false positive".into(),
    }
}

/// The live corrections overlapping `event` (an open one runs to `now`).
pub(super) fn covering<'a>(
    event: &DowntimeEvent,
    corrections: &'a [CorrectionRow],
    now: Timestamp,
) -> Vec<&'a CorrectionRow> {
    let start = event.start_time.millis();
    let end = event.end_time.unwrap_or(now).millis();
    corrections
        .iter()
        .filter(|c| c.revoked_at.is_none() && c.correction.start < end && c.correction.end > start)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_are_utc() {
        assert_eq!(instant("2026-03-01T10:20"), "2026-03-01T10:20:00Z");
        assert_eq!(instant("2026-03-01T10:20:30"), "2026-03-01T10:20:30Z");
        assert_eq!(instant("2026-03-01T10:20:00+02:00"), "2026-03-01T10:20:00+02:00");
        assert_eq!(local(Timestamp::parse("2026-03-01T10:20:00Z").unwrap()), "2026-03-01T10:20");
    }
}
