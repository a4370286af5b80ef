//! `POST /health`: one report or a batch (SPEC §3).
//!
//! Body: `{systemId, status, at?, source?, checkId?, createSystem?,
//! systemName?}` or
//! `{reports: [that, …]}`. Every report is parsed and checked before any is
//! applied; a bad one is a 400 naming it (`reports[3].status`) and nothing
//! is written.

use axum::extract::State;
use serde_json::Value;
use slod_core::model::{parse_system_name, CheckId, HealthStatus, ReportSource, ValidationError};

use super::error::{ApiError, ApiResult};
use super::extract::Json;
use crate::input::fields::ObjectReader;
use crate::input::FromJson;
use crate::metrics::ReportResult::{self, Rejected};
use crate::service::health::{ReportInput, ReportOutcome};
use crate::state::AppState;

/// The reports of one request, in the order sent.
pub struct HealthRequest {
    pub reports: Vec<ReportInput>,
}

impl FromJson for HealthRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        if !body.contains("reports") {
            return Ok(Self { reports: vec![parse_report(body)?] });
        }
        let items = body.required("reports", ObjectReader::array)?;
        body.finish()?;
        if items.is_empty() {
            return Err(ValidationError::new("reports", "must contain at least one report"));
        }
        let reports = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                parse_report(ObjectReader::new(item, &format!("reports[{index}]"))?)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { reports })
    }
}

fn parse_report(mut report: ObjectReader<'_>) -> Result<ReportInput, ValidationError> {
    let field_prefix = report.path("");
    let system_id = report.required("systemId", ObjectReader::system_id)?;
    let raw_status = report.required("status", ObjectReader::string)?;
    let status = HealthStatus::parse(raw_status).ok_or_else(|| {
        ValidationError::new(
            report.path("status"),
            format!("`{raw_status}` is not one of healthy, degraded, unhealthy"),
        )
    })?;
    let at = report.timestamp("at")?;
    let source = match report.string("source")? {
        None => ReportSource::Healthcheck,
        Some(raw) => ReportSource::parse(raw).ok_or_else(|| {
            ValidationError::new(
                report.path("source"),
                format!("`{raw}` is not one of healthcheck, incident"),
            )
        })?,
    };
    // SPEC §12: a probe report may name its check; an incident is not a
    // check, and silently dropping the id would hide a sender's mistake.
    let check_id = report
        .string("checkId")?
        .map(|raw| CheckId::parse(raw, &report.path("checkId")))
        .transpose()?;
    if check_id.is_some() && source == ReportSource::Incident {
        return Err(ValidationError::new(
            report.path("checkId"),
            "only healthcheck reports name a check; an incident report has none",
        ));
    }
    let create_system = report.boolean("createSystem")?.unwrap_or(false);
    let system_name = report
        .string("systemName")?
        .map(|raw| parse_system_name(raw, &report.path("systemName")))
        .transpose()?;
    report.finish()?;
    Ok(ReportInput {
        system_id,
        status,
        at,
        source,
        check_id,
        create_system,
        system_name,
        field_prefix,
    })
}

#[utoipa::path(post, path = "/health", tag = "health", request_body = super::openapi::HealthBody, responses((status = 200, description = "What the reports changed", body = ReportOutcome)))]
pub(super) async fn post(
    State(state): State<AppState>,
    request: Result<Json<HealthRequest>, ApiError>,
) -> ApiResult<axum::Json<ReportOutcome>> {
    // A body that does not parse is one rejected request, however many
    // reports it meant to carry.
    let Json(request) = request.inspect_err(|_| state.metrics.count_reports(Rejected, 1))?;
    let count = request.reports.len();
    let outcome = state
        .reports
        .apply(&state.store, state.now(), request.reports)
        .await
        .inspect_err(|_| state.metrics.count_reports(Rejected, count))?;
    state.metrics.count_reports(ReportResult::Applied, outcome.reports_applied);
    state.metrics.count_reports(ReportResult::Unchanged, outcome.reports_unchanged);
    Ok(axum::Json(outcome))
}
