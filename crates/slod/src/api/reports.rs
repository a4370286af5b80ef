//! `GET /reports/sla` (SPEC §17): the SLA statement of a period, as JSON
//! (default), CSV or PDF.
//!
//! The period is `from` (inclusive) and `to` (exclusive), UTC dates
//! `YYYY-MM-DD`, or `period=YYYY-MM` for a calendar month; `systemId`
//! narrows it to one system's objectives (empty: all of them).

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use slod_core::model::{SystemId, ValidationError};

use super::error::{ApiError, ApiResult};
use super::extract::QueryParams;
use super::jobs::date;
use crate::documents;
use crate::service::reports::{self as service, Period, SlaStatement};
use crate::state::AppState;

#[utoipa::path(get, path = "/reports/sla", tag = "reports", params(("from" = Option<String>, Query, format = Date, description = "The first day (YYYY-MM-DD, inclusive); with `to`, instead of `period`"), ("to" = Option<String>, Query, format = Date, description = "The day after the last (YYYY-MM-DD, exclusive)"), ("period" = Option<String>, Query, description = "A calendar month (YYYY-MM), instead of `from` and `to`"), ("systemId" = Option<String>, Query, description = "Only this system's objectives; empty or absent for all"), ("format" = Option<String>, Query, description = "`json` (default), `csv` or `pdf`")), responses((status = 200, description = "The SLA statement", content((SlaStatement = "application/json"), (String = "text/csv"), (Vec<u8> = "application/pdf")))))]
pub(super) async fn sla(State(state): State<AppState>, query: QueryParams) -> ApiResult<Response> {
    query.only(&["from", "to", "period", "systemId", "format"])?;
    let from = query.single("from")?.map(|raw| date("from", raw)).transpose()?;
    let to = query.single("to")?.map(|raw| date("to", raw)).transpose()?;
    let month = query.single("period")?;
    let period = match (from, to, month) {
        (None, None, Some(raw)) => Period::month(raw, "period")?,
        (Some(from), Some(to), None) => Period::new(from, to)?,
        (_, _, Some(_)) => {
            return Err(ApiError::validation(ValidationError::new(
                "period",
                "give either `period` or `from` and `to`, not both",
            )))
        }
        (None, _, None) => {
            return Err(ApiError::validation(ValidationError::new(
                "from",
                "is required (or give `period=YYYY-MM`)",
            )))
        }
        (Some(_), None, None) => {
            return Err(ApiError::validation(ValidationError::new("to", "is required")))
        }
    };
    let system =
        // An empty one (the dashboard form's "all systems") means all.
        query.single("systemId")?.filter(|raw| !raw.is_empty()).map(|raw| SystemId::parse(raw, "systemId")).transpose()?;
    let format = query.single("format")?.unwrap_or("json");
    if !matches!(format, "json" | "csv" | "pdf") {
        return Err(ApiError::validation(ValidationError::new(
            "format",
            format!("`{format}` is not one of json, csv, pdf"),
        )));
    }
    let statement =
        service::sla_statement(&*state.store, period, system.as_ref(), state.now()).await?;
    let file = format!("sla-{}-{}.{format}", period.from, period.to);
    let attachment = format!("attachment; filename=\"{file}\"");
    Ok(match format {
        "csv" => (
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (CONTENT_DISPOSITION, attachment),
            ],
            documents::csv(&statement),
        )
            .into_response(),
        "pdf" => (
            [(CONTENT_TYPE, "application/pdf".to_owned()), (CONTENT_DISPOSITION, attachment)],
            documents::pdf(&statement),
        )
            .into_response(),
        _ => axum::Json(statement).into_response(),
    })
}
