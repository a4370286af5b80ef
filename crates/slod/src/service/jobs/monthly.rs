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
    /// The lease ran out while the statement was being made and another
    /// attempt claimed the month: that attempt sends it, this one did not.
    TakenOver,
}

/// The statement of `period` as `slo.report.monthly`, enqueued in one
/// transaction that also completes `lease`, if any. `None`: the lease was
/// no longer ours, so nothing was sent.
async fn send(
    store: &dyn Store,
    period: Period,
    now: Timestamp,
    occurred_at: Timestamp,
    lease: Option<(&Lease, Timestamp)>,
) -> ServiceResult<Option<MonthlyReport>> {
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
            return Ok(None);
        }
    }
    tx.commit().await?;
    Ok(Some(report))
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
        let sent = send(store, period, now, start, Some((lease, clock.now()))).await?;
        Ok(sent.map_or(MonthlyOutcome::TakenOver, MonthlyOutcome::Sent))
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
    let sent = send(store, period, now, now, None).await?;
    sent.ok_or_else(|| {
        ServiceError::Internal(anyhow::anyhow!("a send without a lease is never refused"))
    })
}

#[cfg(test)]
mod tests {
    use slod_store::jobs::{ClaimOutcome, JobClaim};

    use super::super::lease::LEASE_MS;
    use super::*;

    async fn claim(store: &dyn Store, period: &Period, owner: &str, now: Timestamp) {
        let label = period.month_label();
        let claim = JobClaim {
            kind: JobKind::MonthlyReport,
            period: &label,
            period_start: Timestamp::from_date(period.to),
            owner,
            now,
            lease_until: now.plus_millis(LEASE_MS),
        };
        let mut tx = store.begin().await.expect("begin");
        assert_eq!(tx.claim_run(&claim).await.expect("claim"), ClaimOutcome::Claimed);
        tx.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn a_run_that_lost_its_lease_neither_sends_nor_says_it_sent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("monthly.db").display());
        let store = slod_store_sqlite::SqliteStore::connect(&url).await.expect("store");
        let first = Timestamp::parse("2026-12-01T00:00:00Z").expect("instant");
        let period = Period::month_before(first).expect("November");
        // `a` claims the month, stalls past its lease, and `b` claims it.
        claim(&store, &period, "a", first).await;
        let later = first.plus_millis(LEASE_MS + 1);
        claim(&store, &period, "b", later).await;
        let lease = |owner: &str| Lease {
            kind: JobKind::MonthlyReport,
            period: period.month_label(),
            owner: owner.to_owned(),
        };

        let stale = lease("a");
        let sent = send(&store, period, later, first, Some((&stale, later))).await.expect("send");
        assert_eq!(sent, None, "the stale holder reports nothing sent");
        assert!(store.events_after(0, 10).await.expect("outbox").is_empty());

        let holder = lease("b");
        let sent = send(&store, period, later, first, Some((&holder, later))).await.expect("send");
        assert_eq!(sent.map(|r| r.month), Some("2026-11".to_owned()));
        assert_eq!(store.events_after(0, 10).await.expect("outbox").len(), 1);
    }
}
