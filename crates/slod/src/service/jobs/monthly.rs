//! The monthly SLA statement (SPEC §17): `slo.report.monthly` `{month,
//! objectives}` to every channel at 00:00 UTC on the 1st for the month
//! before, once across replicas ([`run_scheduled_monthly`], a lease on the
//! month in `job_runs` like the daily run's on its date), and on request
//! (`POST /jobs/monthly-report?month=`, [`trigger_monthly`]), which sends
//! it again without counting as the month's scheduled one.

use serde::Serialize;
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::ValidationError;
use slod_core::time::Timestamp;
use slod_store::jobs::{JobKind, JobRunRow};
use slod_store::Store;

use super::lease::{Claim, Lease};
use crate::clock::Clock;
use crate::service::reports::{sla_statement, ObjectiveStatement, Period};
use crate::service::{ServiceError, ServiceResult};

/// The `slo.report.monthly` payload.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthlyReport {
    /// `YYYY-MM`.
    pub month: String,
    pub objectives: Vec<ObjectiveStatement>,
}

/// What [`run_scheduled_monthly`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum MonthlyOutcome {
    Sent(MonthlyReport),
    AlreadyCompleted,
    Held(JobRunRow),
}

/// The statement of `period` as `slo.report.monthly`, enqueued in one
/// transaction (with `done` run inside it, to complete a lease).
async fn send(
    store: &dyn Store,
    period: Period,
    now: Timestamp,
    occurred_at: Timestamp,
    lease: Option<(&Lease, Timestamp)>,
) -> ServiceResult<MonthlyReport> {
    let statement = sla_statement(store, period, None, now).await?;
    let report = MonthlyReport { month: period.month_label(), objectives: statement.objectives };
    let event = NotificationEvent::new(
        slod_store::new_id(),
        EventType::ReportMonthly,
        occurred_at,
        &report,
    );
    let mut tx = store.begin().await?;
    tx.enqueue_events(&[event]).await?;
    if let Some((lease, at)) = lease {
        let result =
            serde_json::json!({"month": report.month, "objectives": report.objectives.len()});
        let completed = tx
            .complete_run(
                JobKind::MonthlyReport,
                &lease.period,
                &lease.owner,
                at,
                &result.to_string(),
            )
            .await?;
        if !completed {
            // Someone took the month over: they send it, not us (the
            // transaction rolls back with the event in it).
            tracing::warn!(month = %report.month, "lost the monthly report's lease; not sending it twice");
            return Ok(report);
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// The scheduled statement for the month before the one `at` (a 1st,
/// 00:00 UTC) falls in; at most once per month across replicas.
pub async fn run_scheduled_monthly(
    store: &dyn Store,
    clock: &dyn Clock,
    at: Timestamp,
) -> ServiceResult<MonthlyOutcome> {
    let Some(period) = Period::month_before(at) else {
        return Err(ServiceError::Internal(anyhow::anyhow!("no month before {at}")));
    };
    let now = clock.now();
    let start = Timestamp::from_date(period.to);
    let body = async |lease: &Lease| {
        send(store, period, now, start, Some((lease, clock.now()))).await.map(MonthlyOutcome::Sent)
    };
    let key = period.month_label();
    Ok(match Lease::run(store, clock, JobKind::MonthlyReport, key, start, now, body).await? {
        Claim::Claimed(outcome) => outcome,
        Claim::Completed => MonthlyOutcome::AlreadyCompleted,
        Claim::Held(run) => MonthlyOutcome::Held(run),
    })
}

/// `POST /jobs/monthly-report?month=YYYY-MM`: sends that month's statement
/// now (default: the month before this one). A month that has not begun is
/// refused, naming `month`.
pub async fn trigger_monthly(
    store: &dyn Store,
    month: Option<Period>,
    now: Timestamp,
) -> ServiceResult<MonthlyReport> {
    let period = match month {
        Some(period) => period,
        None => Period::month_before(now)
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("no month before {now}")))?,
    };
    if Timestamp::from_date(period.from) > now {
        return Err(ValidationError::new(
            "month",
            format!("{} has not begun yet", period.month_label()),
        )
        .into());
    }
    send(store, period, now, now, None).await
}
