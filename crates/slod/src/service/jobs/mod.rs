//! The daily job (SPEC §5) and the weekly digest (SPEC §6), and the reads of
//! what they produce. The jobs' service functions; `crate::scheduler` runs
//! them on time, `api::jobs` on request.
//!
//! - `lease`: the claim on a job's period, one holder across replicas.
//! - `daily`: the daily run and its manual trigger.
//! - `digest`: the weekly digest, scheduled and manual.
//! - `monthly`: the monthly SLA statement (SPEC §17), scheduled and manual.
//! - `reads`: streaks, snapshots, digests and job runs as served.
//!
//! # The daily run for midnight M
//!
//! 1. Claim M's date in `job_runs` (a lease: one holder across replicas).
//! 2. For every objective, in chunks of [`CHUNK_SIZE`]: its status at M
//!    (`service::status`, one span read per chunk, down state from the
//!    outage history), then in one transaction: lock the chunk's streaks,
//!    insert each snapshot (`ON CONFLICT DO NOTHING`), update the streak of
//!    exactly those objectives whose snapshot this transaction inserted
//!    (`slod_core::streak::update_streak`), and enqueue `slo.streak.broken`
//!    for each reset. A chunk that fails is redone one objective at a time,
//!    so one bad objective is logged and skipped while the others go on.
//! 3. Achievements of every system with objectives, as of M
//!    (`service::achievements`), stored and announced in the transaction
//!    that marks the run completed.
//!
//! Because the snapshot insert gates the streak update, the run is
//! idempotent: re-running a date, two runs racing, or a replica taking over
//! a run whose holder died half-way all leave exactly one snapshot and one
//! streak step per objective and date.
//!
//! Decisions where the SPEC is silent:
//! - A run covers every objective that exists when it runs, as SPEC §7 says
//!   of achievements (and the issue of manual backfills), even one whose
//!   `createdAt` is after M: its status at M simply has an empty window.
//! - A run with objectives that failed is still completed (and its failures
//!   logged and kept in the stored result): a permanently broken row must
//!   not hold every later day back.
//! - `slo.streak.broken` and `slo.achievement.unlocked` are dated at M, the
//!   instant they are about, also when a run is caught up later.

mod daily;
mod digest;
mod lease;
mod monthly;
mod reads;

pub use daily::{
    daily_period, run_daily, trigger_daily, DailyOutcome, DailyRunResult, UnlockedRef, CHUNK_SIZE,
};
pub use digest::{run_scheduled_digest, trigger_digest, weekly_period, DigestOutcome};
pub use lease::LEASE_MS;
pub use monthly::{run_scheduled_monthly, trigger_monthly, MonthlyOutcome, MonthlyReport};
pub use reads::{
    digests, job_runs, snapshots, streaks, streaks_of, DigestView, JobRunView, StreakView,
};

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use slod_core::time::Timestamp;

    use super::*;

    #[test]
    fn periods_are_dates_and_iso_weeks() {
        let t = |raw: &str| Timestamp::parse(raw).unwrap();
        assert_eq!(daily_period(t("2026-03-02T00:00:00Z")), "2026-03-02");
        assert_eq!(weekly_period(t("2026-03-02T09:00:00Z")), "2026-W10");
        // 2027-01-01 is in 2026's last ISO week.
        assert_eq!(weekly_period(t("2027-01-01T09:00:00Z")), "2026-W53");
        assert_eq!(weekly_period(t("2026-01-05T09:00:00Z")), "2026-W02");
    }

    #[test]
    fn a_no_op_answer_has_the_wire_shape() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(
            serde_json::to_value(DailyRunResult::nothing(day)).unwrap(),
            serde_json::json!({"date": "2026-03-02", "objectives": 0, "snapshotsWritten": 0,
                "streaksIncremented": 0, "streaksReset": 0, "achievementsUnlocked": []})
        );
    }
}
