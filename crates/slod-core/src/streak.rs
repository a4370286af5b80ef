//! The daily job's pure rules (SPEC §5): streaks, snapshots and the
//! scheduling arithmetic for the daily run and the weekly digest.
//!
//! The job itself (loading objectives, storing snapshots, emitting
//! `slo.streak.broken`) lives in the binary; everything here takes the
//! midnight or `now` it is about as a parameter.
//!
//! ```
//! use slod_core::streak::{midnights_between, next_weekly_digest};
//! use slod_core::time::Timestamp;
//!
//! // slod was stopped from Friday's run until Monday morning: the runs for
//! // Saturday, Sunday and Monday midnight are caught up, in order.
//! let friday = Timestamp::parse("2026-02-27T00:00:00Z").unwrap();
//! let now = Timestamp::parse("2026-03-02T08:30:00Z").unwrap();
//! assert_eq!(midnights_between(Some(friday), now).len(), 3);
//! assert_eq!(next_weekly_digest(now).to_rfc3339(), "2026-03-02T09:00:00.000Z");
//! ```

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::model::ObjectiveId;
use crate::status::SloStatus;
use crate::time::{Timestamp, DAY_MS, HOUR_MS};

/// An objective's reliability streak (the `slo_streaks` row).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Streak {
    /// Consecutive daily runs that met the target with no open downtime.
    pub current_streak: u32,
    pub best_streak: u32,
    /// The midnight of the run that took the current streak from 0 to 1.
    pub streak_start: Option<Timestamp>,
    /// The midnight the best streak was broken; `None` while the best streak
    /// is the one still running (or there never was one).
    pub best_streak_end: Option<Timestamp>,
    /// The midnight of the last daily run applied to this streak. Bookkeeping
    /// for idempotency, not part of the wire shape.
    #[serde(skip)]
    pub last_run: Option<Timestamp>,
}

/// What a daily run did to a streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreakChange {
    Incremented,
    /// The streak was broken: `broken` is how long it had run, `best` the
    /// best streak after the reset (the `slo.streak.broken` payload's
    /// `streak` and `bestStreak`).
    Reset {
        broken: u32,
        best: u32,
    },
    /// Open downtime held the streak, a breach found it already at 0, or the
    /// run's midnight was already applied.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreakOutcome {
    pub streak: Streak,
    pub change: StreakChange,
}

/// The streak after the daily run at `midnight`, given the objective's
/// status at that midnight (SPEC §5 step 3).
///
/// A run whose midnight is not after `streak.last_run` changes nothing, so a
/// re-run, or a manual run for an earlier date, cannot count a day twice.
pub fn update_streak(streak: &Streak, status: &SloStatus, midnight: Timestamp) -> StreakOutcome {
    if streak.last_run.is_some_and(|last| last >= midnight) {
        return StreakOutcome { streak: streak.clone(), change: StreakChange::Unchanged };
    }
    let mut next = Streak { last_run: Some(midnight), ..streak.clone() };
    let change = if !status.is_breaching && !status.has_open_downtime {
        next.current_streak = streak.current_streak.saturating_add(1);
        if streak.current_streak == 0 {
            next.streak_start = Some(midnight);
        }
        if next.current_streak > streak.best_streak {
            // A new best is the streak still running: it has no end yet.
            next.best_streak = next.current_streak;
            next.best_streak_end = None;
        }
        StreakChange::Incremented
    } else if status.is_breaching && streak.current_streak > 0 {
        let broken = streak.current_streak;
        if broken >= streak.best_streak {
            next.best_streak = broken;
            next.best_streak_end = Some(midnight);
        }
        next.current_streak = 0;
        next.streak_start = None;
        StreakChange::Reset { broken, best: next.best_streak }
    } else {
        StreakChange::Unchanged
    };
    StreakOutcome { streak: next, change }
}

/// One objective's row for one UTC day (`slo_daily_snapshots`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub objective_id: ObjectiveId,
    /// The midnight the snapshot was taken at.
    pub date: Timestamp,
    pub availability_percent: f64,
    pub budget_consumed_minutes: f64,
    pub budget_remaining_percent: f64,
    pub burn_rate: Option<f64>,
    /// The streak before this run's update.
    pub streak_days: u32,
    /// The values as first taken, kept when a correction recomputed the
    /// snapshot (SPEC §17); `None` on a snapshot never recomputed.
    #[serde(default)]
    pub original: Option<SnapshotValues>,
}

/// A snapshot's figures, as `original` keeps them (SPEC §17).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SnapshotValues {
    pub availability_percent: f64,
    pub budget_consumed_minutes: f64,
    pub budget_remaining_percent: f64,
    pub burn_rate: Option<f64>,
    pub streak_days: u32,
}

impl Snapshot {
    /// The snapshot's current figures.
    pub fn values(&self) -> SnapshotValues {
        SnapshotValues {
            availability_percent: self.availability_percent,
            budget_consumed_minutes: self.budget_consumed_minutes,
            budget_remaining_percent: self.budget_remaining_percent,
            burn_rate: self.burn_rate,
            streak_days: self.streak_days,
        }
    }
}

/// The streak as the daily runs before a recomputation left it (SPEC §17):
/// inferred from the snapshots before the first recomputed one (`history`,
/// oldest first) and `next_streak_days`, the streak before that first
/// recomputed run. Each run either took the streak up by one (starting it
/// when it was 0), reset it to 0 (ending the best when the broken one was
/// at least the best) or left it, which is all SPEC §5 lets it do; the
/// streak row starts at 0 with its objective.
pub fn streak_before(history: &[Snapshot], next_streak_days: u32) -> Streak {
    let mut streak = Streak::default();
    let afters = history.iter().skip(1).map(|s| s.streak_days).chain([next_streak_days]);
    for (snapshot, after) in history.iter().zip(afters) {
        let before = snapshot.streak_days;
        let midnight = snapshot.date;
        streak.last_run = Some(midnight);
        if after > before {
            if before == 0 {
                streak.streak_start = Some(midnight);
            }
            streak.current_streak = after;
            if after > streak.best_streak {
                streak.best_streak = after;
                streak.best_streak_end = None;
            }
        } else if after == 0 && before > 0 {
            if before >= streak.best_streak {
                streak.best_streak = before;
                streak.best_streak_end = Some(midnight);
            }
            streak.current_streak = 0;
            streak.streak_start = None;
        } else {
            streak.current_streak = after;
        }
    }
    streak.current_streak = next_streak_days;
    streak
}

/// The snapshot of `status` (computed at `midnight`) for the daily run
/// (SPEC §5 step 2).
pub fn snapshot(status: &SloStatus, midnight: Timestamp, streak_before: u32) -> Snapshot {
    Snapshot {
        objective_id: status.objective_id.clone(),
        date: midnight,
        availability_percent: status.current_availability,
        budget_consumed_minutes: status.error_budget_consumed_minutes,
        budget_remaining_percent: status.error_budget_remaining_percent,
        burn_rate: status.burn_rate,
        streak_days: streak_before,
        original: None,
    }
}

/// The daily runs owed at `now` (SPEC §5 catch-up): every midnight after
/// `last_completed` up to and including the latest midnight at or before
/// `now`, oldest first. Empty when nothing has run yet: a new database has
/// no missed days to catch up.
pub fn midnights_between(last_completed: Option<Timestamp>, now: Timestamp) -> Vec<Timestamp> {
    let Some(last) = last_completed else {
        return Vec::new();
    };
    // The first midnight strictly after `last`, whether or not `last` is one.
    let first = last.midnight_floor().millis().saturating_add(DAY_MS);
    let latest = now.midnight_floor().millis();
    if first > latest {
        return Vec::new();
    }
    std::iter::successors(Some(first), |t| t.checked_add(DAY_MS).filter(|next| *next <= latest))
        .map(Timestamp::from_millis)
        .collect()
}

/// The first midnight (00:00 UTC) strictly after `now`.
pub fn next_daily_run(now: Timestamp) -> Timestamp {
    now.midnight_floor().plus_millis(DAY_MS)
}

/// The first Monday 09:00 UTC strictly after `now` (SPEC §6).
pub fn next_weekly_digest(now: Timestamp) -> Timestamp {
    let this_week = Timestamp::from_date(week_monday(now)).plus_millis(9 * HOUR_MS);
    if this_week > now {
        this_week
    } else {
        this_week.plus_millis(7 * DAY_MS)
    }
}

/// 00:00 UTC on the 1st of the month `t` falls in: when that month's
/// `slo.report.monthly` for the month before is due (SPEC §17).
pub fn month_start(t: Timestamp) -> Timestamp {
    let date = t.date();
    // Day 1 of an existing date's month always exists.
    Timestamp::from_date(date.with_day(1).unwrap_or(date))
}

/// The first 1st-of-a-month 00:00 UTC strictly after `now`.
pub fn next_monthly_report(now: Timestamp) -> Timestamp {
    let date = month_start(now).date();
    match date.checked_add_months(chrono::Months::new(1)) {
        Some(next) => Timestamp::from_date(next),
        None => Timestamp::from_millis(i64::MAX),
    }
}

/// The ISO 8601 week `t` falls in, as (ISO year, week number 1–53). The
/// scheduled digest runs at most once per such week.
pub fn iso_week_of(t: Timestamp) -> (i32, u32) {
    let week = t.date().iso_week();
    (week.year(), week.week())
}

/// The Monday (UTC) that starts the ISO week `t` falls in.
pub fn week_monday(t: Timestamp) -> NaiveDate {
    let date = t.date();
    date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        BurnRateThresholds, DependencyExclusion, Objective, SystemId, Target, WindowDays,
    };
    use crate::status::compute_status;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    /// Monday 2026-03-02 00:00 UTC, and the midnights around it.
    fn day(n: i64) -> Timestamp {
        ts("2026-03-02T00:00:00Z").plus_millis(n * DAY_MS)
    }

    /// A status at `day(0)` with the given breach and open-downtime flags.
    fn status(is_breaching: bool, has_open_downtime: bool) -> SloStatus {
        let objective = Objective {
            id: ObjectiveId::from_trusted("slo-1".into()),
            name: None,
            system_id: SystemId::parse("api", "id").unwrap(),
            health_check_configuration_id: None,
            target: Target::parse(99.9).unwrap(),
            window: WindowDays::parse(30).unwrap().into(),
            dependency_exclusion: DependencyExclusion::Strict,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: day(-60),
            updated_at: day(-60),
        };
        let base = compute_status(&objective, &[], &[], day(0), false);
        SloStatus { is_breaching, has_open_downtime, ..base }
    }

    fn streak(current: u32, best: u32) -> Streak {
        Streak {
            current_streak: current,
            best_streak: best,
            streak_start: (current > 0).then(|| day(-i64::from(current))),
            best_streak_end: None,
            last_run: Some(day(-1)),
        }
    }

    #[test]
    fn a_good_day_increments_and_the_first_one_starts_the_streak() {
        let out = update_streak(&Streak::default(), &status(false, false), day(0));
        assert_eq!(out.change, StreakChange::Incremented);
        assert_eq!(out.streak.current_streak, 1);
        assert_eq!(out.streak.best_streak, 1);
        assert_eq!(out.streak.streak_start, Some(day(0)));
        assert_eq!(out.streak.last_run, Some(day(0)));

        // Later increments keep the start.
        let out = update_streak(&out.streak, &status(false, false), day(1));
        assert_eq!(out.streak.current_streak, 2);
        assert_eq!(out.streak.streak_start, Some(day(0)));
    }

    #[test]
    fn a_breach_resets_and_reports_the_broken_streak() {
        let before = streak(4, 9);
        let out = update_streak(&before, &status(true, false), day(0));
        assert_eq!(out.change, StreakChange::Reset { broken: 4, best: 9 });
        assert_eq!(out.streak.current_streak, 0);
        assert_eq!(out.streak.best_streak, 9);
        assert_eq!(out.streak.streak_start, None);
        assert_eq!(out.streak.best_streak_end, None, "4 < 9: the best did not end here");

        // Breaching with open downtime is still a breach.
        let out = update_streak(&before, &status(true, true), day(0));
        assert_eq!(out.change, StreakChange::Reset { broken: 4, best: 9 });
    }

    #[test]
    fn breaking_the_best_streak_records_when_it_ended() {
        for best in [6, 5] {
            let out = update_streak(&streak(6, best), &status(true, false), day(0));
            assert_eq!(out.change, StreakChange::Reset { broken: 6, best: 6 });
            assert_eq!(out.streak.best_streak_end, Some(day(0)), "broken 6 vs best {best}");
        }
    }

    #[test]
    fn a_new_best_clears_the_old_best_end_but_a_tie_does_not() {
        let ended = Streak { best_streak_end: Some(day(-20)), ..streak(4, 5) };
        let tie = update_streak(&ended, &status(false, false), day(0));
        assert_eq!(tie.streak.current_streak, 5);
        assert_eq!(tie.streak.best_streak, 5);
        assert_eq!(tie.streak.best_streak_end, Some(day(-20)));

        let new_best = update_streak(&tie.streak, &status(false, false), day(1));
        assert_eq!(new_best.streak.current_streak, 6);
        assert_eq!(new_best.streak.best_streak, 6);
        assert_eq!(new_best.streak.best_streak_end, None);
    }

    #[test]
    fn open_downtime_at_midnight_holds_the_streak() {
        let before = streak(3, 3);
        let out = update_streak(&before, &status(false, true), day(0));
        assert_eq!(out.change, StreakChange::Unchanged);
        assert_eq!(out.streak, Streak { last_run: Some(day(0)), ..before });
    }

    #[test]
    fn a_breach_with_no_streak_changes_nothing() {
        let before = Streak { best_streak_end: Some(day(-3)), ..streak(0, 2) };
        let out = update_streak(&before, &status(true, false), day(0));
        assert_eq!(out.change, StreakChange::Unchanged);
        assert_eq!(out.streak, Streak { last_run: Some(day(0)), ..before });
    }

    #[test]
    fn a_midnight_already_applied_is_not_counted_again() {
        let once = update_streak(&streak(2, 2), &status(false, false), day(0));
        for midnight in [day(0), day(-1)] {
            let again = update_streak(&once.streak, &status(false, false), midnight);
            assert_eq!(again.change, StreakChange::Unchanged);
            assert_eq!(again.streak, once.streak);
        }
    }

    #[test]
    fn streak_json_is_camel_case_without_bookkeeping() {
        let json = serde_json::to_value(streak(2, 5)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "currentStreak": 2,
                "bestStreak": 5,
                "streakStart": "2026-02-28T00:00:00.000Z",
                "bestStreakEnd": null,
            })
        );
    }

    #[test]
    fn a_snapshot_copies_the_status_and_the_streak_before_the_run() {
        let s = SloStatus {
            current_availability: 99.5,
            error_budget_consumed_minutes: 12.5,
            ..status(false, false)
        };
        let snap = snapshot(&s, day(0), 7);
        assert_eq!(snap.objective_id, "slo-1");
        assert_eq!(snap.date, day(0));
        assert_eq!(snap.availability_percent, 99.5);
        assert_eq!(snap.budget_consumed_minutes, 12.5);
        assert_eq!(snap.budget_remaining_percent, s.error_budget_remaining_percent);
        assert_eq!(snap.burn_rate, s.burn_rate);
        assert_eq!(snap.streak_days, 7);
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["date"], "2026-03-02T00:00:00.000Z");
        assert_eq!(json["availabilityPercent"], 99.5);
        assert_eq!(json["streakDays"], 7);
        assert!(json.get("burnRate").is_some());
    }

    #[test]
    fn catch_up_runs_each_missed_midnight_in_order() {
        // Last run Friday; started again Monday 08:30: Saturday, Sunday and
        // Monday are owed.
        let got = midnights_between(Some(day(-3)), ts("2026-03-02T08:30:00Z"));
        assert_eq!(got, vec![day(-2), day(-1), day(0)]);
        // A midnight itself is owed at that very instant.
        assert_eq!(midnights_between(Some(day(-3)), day(0)), vec![day(-2), day(-1), day(0)]);
        // A last run that was not at midnight still counts its own day.
        assert_eq!(midnights_between(Some(ts("2026-03-01T10:00:00Z")), day(0)), vec![day(0)]);
    }

    #[test]
    fn nothing_to_catch_up() {
        assert_eq!(midnights_between(None, day(5)), vec![]);
        assert_eq!(midnights_between(Some(day(0)), ts("2026-03-02T23:59:59.999Z")), vec![]);
        assert_eq!(midnights_between(Some(day(1)), day(0)), vec![], "clock went backwards");
    }

    #[test]
    fn the_next_daily_run_is_the_next_midnight() {
        assert_eq!(next_daily_run(ts("2026-03-02T08:30:00Z")), day(1));
        assert_eq!(next_daily_run(day(0)), day(1));
        assert_eq!(next_daily_run(ts("2026-03-01T23:59:59.999Z")), day(0));
    }

    #[test]
    fn the_next_digest_is_monday_nine_strictly_after_now() {
        let monday_nine = ts("2026-03-02T09:00:00Z");
        assert_eq!(next_weekly_digest(ts("2026-03-02T08:59:00Z")), monday_nine);
        assert_eq!(next_weekly_digest(monday_nine), ts("2026-03-09T09:00:00Z"));
        assert_eq!(next_weekly_digest(ts("2026-03-01T15:00:00Z")), monday_nine, "from a Sunday");
        assert_eq!(next_weekly_digest(ts("2026-03-04T12:00:00Z")), ts("2026-03-09T09:00:00Z"));
    }

    #[test]
    fn monthly_reports_fall_on_the_first() {
        assert_eq!(month_start(ts("2026-03-31T23:59:59Z")), ts("2026-03-01T00:00:00Z"));
        assert_eq!(next_monthly_report(ts("2026-03-01T00:00:00Z")), ts("2026-04-01T00:00:00Z"));
        assert_eq!(next_monthly_report(ts("2026-12-15T08:00:00Z")), ts("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn iso_weeks_and_their_mondays() {
        assert_eq!(iso_week_of(ts("2026-03-02T09:00:00Z")), (2026, 10));
        assert_eq!(iso_week_of(ts("2026-03-08T23:59:59Z")), (2026, 10));
        assert_eq!(iso_week_of(ts("2026-03-09T00:00:00Z")), (2026, 11));
        // 2027-01-01 is a Friday: it belongs to 2026's last week.
        assert_eq!(iso_week_of(ts("2027-01-01T12:00:00Z")), (2026, 53));
        assert_eq!(week_monday(ts("2027-01-01T12:00:00Z")).to_string(), "2026-12-28");
        assert_eq!(week_monday(ts("2026-03-08T23:59:59Z")).to_string(), "2026-03-02");
        assert_eq!(week_monday(ts("2026-03-02T00:00:00Z")).to_string(), "2026-03-02");
    }

    proptest::proptest! {
        /// Whatever the runs were, the streak inferred from their snapshots
        /// is the streak they left: what a replay after a correction starts
        /// from (SPEC §17).
        #[test]
        fn the_streak_inferred_from_snapshots_is_the_one_the_runs_left(
            runs in proptest::collection::vec((proptest::bool::ANY, proptest::bool::ANY), 0..40),
            cut in 0usize..40,
        ) {
            let mut current = Streak::default();
            let mut snapshots = Vec::new();
            let mut states = vec![current.clone()];
            for (i, &(breaching, open)) in runs.iter().enumerate() {
                let midnight = day(i64::try_from(i).unwrap());
                let st = status(breaching, open);
                snapshots.push(snapshot(&st, midnight, current.current_streak));
                current = update_streak(&current, &st, midnight).streak;
                states.push(current.clone());
            }
            let cut = cut.min(snapshots.len());
            let next = states[cut].current_streak;
            proptest::prop_assert_eq!(streak_before(&snapshots[..cut], next), states[cut].clone());
        }
    }
}
