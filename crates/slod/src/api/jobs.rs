//! Job routes (SPEC §5, §6, §9): the manual triggers, what the jobs
//! produce (snapshots, streaks, digests) and the job runs themselves.
//!
//! - `POST /jobs/daily?date=YYYY-MM-DD` (default today)
//! - `POST /jobs/weekly-digest?weekOf=YYYY-MM-DD` (default this week): the
//!   digest, or `204` when there are no objectives
//! - `POST /jobs/monthly-report?month=YYYY-MM` (default last month): the
//!   SLA statement sent as `slo.report.monthly` (SPEC §17)
//! - `GET /jobs/runs?kind=daily|weekly_digest|monthly_report&limit=20`
//! - `GET /digests?limit=20`, `GET /streaks`
//! - `GET /objectives/{id}/snapshots?from=&to=`: bounds are RFC 3339
//!   instants or `YYYY-MM-DD` dates (that day's midnight), both inclusive,
//!   unbounded when left out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Serialize;
use slod_core::model::ValidationError;
use slod_core::streak::Snapshot;
use slod_core::time::Timestamp;
use slod_store::jobs::JobKind;

use super::error::{ApiError, ApiResult};
use super::extract::{PathId, QueryParams};
use crate::service::jobs::{self as service, DailyRunResult, DigestView, JobRunView, StreakView};
use crate::service::reports::Period;
use crate::state::AppState;

/// Default and largest `limit` of the list routes here (and
/// `GET /milestones`).
pub(super) const DEFAULT_LIMIT: u32 = 20;
pub(super) const MAX_LIMIT: u32 = 1000;

/// A `YYYY-MM-DD` date from 1970 to 9999: nothing slod stores is older,
/// and the bound keeps week arithmetic far from chrono's limits.
pub(super) fn date(field: &'static str, raw: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .ok()
        .filter(|day| (1970..=9999).contains(&chrono::Datelike::year(day)))
        .ok_or_else(|| {
            ApiError::validation(ValidationError::new(
                field,
                format!("`{raw}` is not a date from 1970-01-01 to 9999-12-31 (YYYY-MM-DD)"),
            ))
        })
}

/// An RFC 3339 instant, or a `YYYY-MM-DD` date meaning its midnight (UTC).
fn instant(field: &'static str, raw: &str) -> ApiResult<Timestamp> {
    if let Ok(t) = Timestamp::parse(raw) {
        return Ok(t);
    }
    match NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
        Ok(day) => Ok(Timestamp::from_date(day)),
        Err(_) => Err(ApiError::validation(ValidationError::new(
            field,
            format!("`{raw}` is neither an RFC 3339 timestamp nor a date (YYYY-MM-DD)"),
        ))),
    }
}

/// `POST /jobs/daily?date=`: see [`service::trigger_daily`] for the rules;
/// a date already completed answers `200` with zero counts.
#[utoipa::path(post, path = "/jobs/daily", tag = "jobs", params(("date" = Option<String>, Query, format = Date, description = "The UTC day to run (YYYY-MM-DD); default today")), responses((status = 200, description = "What the run did (nothing when the day was already done)", body = DailyRunResult)))]
pub(super) async fn run_daily(
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<axum::Json<DailyRunResult>> {
    query.only(&["date"])?;
    let day = match query.single("date")? {
        Some(raw) => date("date", raw)?,
        None => state.now().date(),
    };
    Ok(axum::Json(service::trigger_daily(&*state.store, &*state.clock, day).await?))
}

/// `POST /jobs/monthly-report?month=YYYY-MM` (default: last month): sends
/// that month's `slo.report.monthly` now and answers its payload.
#[utoipa::path(post, path = "/jobs/monthly-report", tag = "jobs", params(("month" = Option<String>, Query, description = "The calendar month to report (YYYY-MM); default last month")), responses((status = 200, description = "The `slo.report.monthly` payload sent", body = service::MonthlyReport)))]
pub(super) async fn run_monthly_report(
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<axum::Json<service::MonthlyReport>> {
    query.only(&["month"])?;
    let month = query.single("month")?.map(|raw| Period::month(raw, "month")).transpose()?;
    Ok(axum::Json(service::trigger_monthly(&*state.store, month, state.now()).await?))
}

/// `POST /jobs/weekly-digest?weekOf=`: the digest, or `204` when skipped.
#[utoipa::path(post, path = "/jobs/weekly-digest", tag = "jobs", params(("weekOf" = Option<String>, Query, format = Date, description = "A day of the ISO week to digest (YYYY-MM-DD); default the last full week")), responses((status = 200, description = "The digest", body = slod_core::digest::WeeklyDigest), (status = 204, description = "No objectives: no digest")))]
pub(super) async fn run_weekly_digest(
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<Response> {
    query.only(&["weekOf"])?;
    let week_of = query.single("weekOf")?.map(|raw| date("weekOf", raw)).transpose()?;
    match service::trigger_digest(&*state.store, week_of, state.now()).await? {
        Some(digest) => Ok(axum::Json(digest).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JobRunsResponse {
    runs: Vec<JobRunView>,
}

#[utoipa::path(get, path = "/jobs/runs", tag = "jobs", params(("kind" = Option<String>, Query, description = "`daily` or `weekly_digest`"), ("limit" = Option<u32>, Query, description = "How many, newest first: 1 to 1000 (default 20)")), responses((status = 200, description = "Job runs, newest first", body = JobRunsResponse)))]
pub(super) async fn runs(
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<axum::Json<JobRunsResponse>> {
    query.only(&["kind", "limit"])?;
    let kind = match query.single("kind")? {
        None => None,
        Some(raw) => Some(JobKind::parse(raw).ok_or_else(|| {
            ApiError::validation(ValidationError::new(
                "kind",
                format!("`{raw}` is not one of daily, weekly_digest, monthly_report"),
            ))
        })?),
    };
    let limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(axum::Json(JobRunsResponse { runs: service::job_runs(&*state.store, kind, limit).await? }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DigestsResponse {
    digests: Vec<DigestView>,
}

#[utoipa::path(get, path = "/digests", tag = "jobs", params(("limit" = Option<u32>, Query, description = "How many, newest first: 1 to 1000 (default 20)")), responses((status = 200, description = "Stored digests, newest first", body = DigestsResponse)))]
pub(super) async fn digests(
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<axum::Json<DigestsResponse>> {
    query.only(&["limit"])?;
    let limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(axum::Json(DigestsResponse { digests: service::digests(&*state.store, limit).await? }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StreaksResponse {
    streaks: Vec<StreakView>,
}

#[utoipa::path(get, path = "/streaks", tag = "jobs", responses((status = 200, description = "Every objective's streak", body = StreaksResponse)))]
pub(super) async fn streaks(
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<axum::Json<StreaksResponse>> {
    query.only(&[])?;
    Ok(axum::Json(StreaksResponse { streaks: service::streaks(&*state.store).await? }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SnapshotsResponse {
    snapshots: Vec<Snapshot>,
}

#[utoipa::path(get, path = "/objectives/{id}/snapshots", tag = "jobs", params(("id" = String, Path, description = "The objective id"), ("from" = Option<String>, Query, description = "RFC 3339 instant or YYYY-MM-DD, inclusive"), ("to" = Option<String>, Query, description = "RFC 3339 instant or YYYY-MM-DD, inclusive")), responses((status = 200, description = "Daily snapshots, oldest first", body = SnapshotsResponse)))]
pub(super) async fn snapshots(
    State(state): State<AppState>,
    PathId(id): PathId,
    query: QueryParams,
) -> ApiResult<axum::Json<SnapshotsResponse>> {
    query.only(&["from", "to"])?;
    let from = query.single("from")?.map(|raw| instant("from", raw)).transpose()?;
    let to = query.single("to")?.map(|raw| instant("to", raw)).transpose()?;
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(ApiError::validation(ValidationError::new(
                "from",
                format!("{from} is after `to` ({to})"),
            )));
        }
    }
    let from = from.unwrap_or(Timestamp::from_millis(i64::MIN));
    let to = to.unwrap_or(Timestamp::from_millis(i64::MAX));
    Ok(axum::Json(SnapshotsResponse {
        snapshots: service::snapshots(&*state.store, &id, from, to).await?,
    }))
}
