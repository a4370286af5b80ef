//! Achievements a system unlocks once (SPEC §7).
//!
//! An evaluation gathers an [`AchievementContext`] over all of a system's
//! objectives at one instant ([`context`]) and lists what it has earned
//! ([`earned`]). Storing each unlock once per (system, achievement) and
//! emitting `slo.achievement.unlocked` is the caller's job.
//!
//! ```
//! use slod_core::achievements::{earned, AchievementContext, AchievementType};
//!
//! let ctx = AchievementContext { objective_count: 1, streak_days: 8, ..Default::default() };
//! assert_eq!(
//!     earned(&ctx),
//!     vec![AchievementType::FirstSteps, AchievementType::IronUptime],
//! );
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Objective;
use crate::status::SloStatus;
use crate::streak::Streak;
use crate::time::Timestamp;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AchievementType {
    FirstSteps,
    FullCoverage,
    IronUptime,
    DiamondUptime,
    NinesClub,
    BudgetMiser,
    CleanSheet,
    CascadeBreaker,
    RapidRecovery,
}

impl AchievementType {
    /// Every achievement, in the order definitions are served.
    pub const ALL: [Self; 9] = [
        Self::FirstSteps,
        Self::FullCoverage,
        Self::IronUptime,
        Self::DiamondUptime,
        Self::NinesClub,
        Self::BudgetMiser,
        Self::CleanSheet,
        Self::CascadeBreaker,
        Self::RapidRecovery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstSteps => "first_steps",
            Self::FullCoverage => "full_coverage",
            Self::IronUptime => "iron_uptime",
            Self::DiamondUptime => "diamond_uptime",
            Self::NinesClub => "nines_club",
            Self::BudgetMiser => "budget_miser",
            Self::CleanSheet => "clean_sheet",
            Self::CascadeBreaker => "cascade_breaker",
            Self::RapidRecovery => "rapid_recovery",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }

    pub fn definition(self) -> &'static AchievementDefinition {
        // DEFINITIONS lists every variant in `ALL` order (a test checks it),
        // so the index is always in range.
        &DEFINITIONS[self as usize]
    }
}

impl fmt::Display for AchievementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the API serves about an achievement (`GET /achievements`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AchievementDefinition {
    #[serde(rename = "type")]
    pub kind: AchievementType,
    pub label: &'static str,
    pub emoji: &'static str,
    pub description: &'static str,
}

const DEFINITIONS: [AchievementDefinition; 9] = [
    AchievementDefinition {
        kind: AchievementType::FirstSteps,
        label: "First Steps",
        emoji: "🌱",
        description: "The system has at least one SLO objective.",
    },
    AchievementDefinition {
        kind: AchievementType::FullCoverage,
        label: "Full Coverage",
        emoji: "🛡️",
        description: "The system has three or more SLO objectives.",
    },
    AchievementDefinition {
        kind: AchievementType::IronUptime,
        label: "Iron Uptime",
        emoji: "🔩",
        description: "One of the system's objectives has a current streak of 7 days: \
                      7 daily runs in a row on target with no open downtime.",
    },
    AchievementDefinition {
        kind: AchievementType::DiamondUptime,
        label: "Diamond Uptime",
        emoji: "💎",
        description: "One of the system's objectives has a current streak of 30 days.",
    },
    AchievementDefinition {
        kind: AchievementType::NinesClub,
        label: "Nines Club",
        emoji: "🎯",
        description: "The system's best objective availability is 99.99 % or more \
                      while one of its objectives has a current streak of 365 days.",
    },
    AchievementDefinition {
        kind: AchievementType::BudgetMiser,
        label: "Budget Miser",
        emoji: "💰",
        description: "An objective at least one full window old still has 90 % or more \
                      of its error budget left.",
    },
    AchievementDefinition {
        kind: AchievementType::CleanSheet,
        label: "Clean Sheet",
        emoji: "🧹",
        description: "Not one minute of downtime, own or upstream, in any of the system's \
                      objective windows, with at least one objective a full window old.",
    },
    AchievementDefinition {
        kind: AchievementType::CascadeBreaker,
        label: "Cascade Breaker",
        emoji: "🌊",
        description: "An objective's window holds downtime, and all of it is excused as \
                      an upstream dependency's: none was charged to the system itself.",
    },
    AchievementDefinition {
        kind: AchievementType::RapidRecovery,
        label: "Rapid Recovery",
        emoji: "⚡",
        description: "One of the system's 10 most recent outages lasted 5 minutes or less \
                      from going down to recovering.",
    },
];

/// Every achievement's definition, in [`AchievementType::ALL`] order.
pub fn definitions() -> &'static [AchievementDefinition] {
    &DEFINITIONS
}

/// What an evaluation knows about one system at one instant (SPEC §7).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AchievementContext {
    pub objective_count: usize,
    /// The best current streak across the objectives.
    pub streak_days: u32,
    pub best_availability: Option<f64>,
    /// The best remaining budget percent across the objectives.
    pub budget_remaining_percent: Option<f64>,
    /// No objective has consumed or strict-consumed minutes in its window.
    pub has_zero_downtime: bool,
    /// Some objective has strict-consumed minutes but no consumed ones.
    pub has_upstream_only_downtime: bool,
    /// The shortest of the outages the caller passed, in seconds.
    pub fastest_recovery_seconds: Option<f64>,
    /// Objectives at least one window old (`createdAt ≤ T − windowDays`; for
    /// a calendar objective, T minus the length of the period containing T).
    pub mature_objective_count: usize,
    /// The best remaining budget percent across the mature objectives only.
    pub mature_budget_remaining_percent: Option<f64>,
}

/// The context over `objectives` (each with its status at `at` and its
/// streak as it stands) and the system's most recent complete outages.
///
/// `recent_outage_durations_ms` are whole outages, from going down to
/// recovering, with the pieces of a split outage already joined; SPEC §7
/// asks for the 10 most recent. Negative durations are ignored.
pub fn context(
    objectives: &[(&Objective, &SloStatus, &Streak)],
    recent_outage_durations_ms: &[i64],
    at: Timestamp,
) -> AchievementContext {
    let mut ctx = AchievementContext {
        objective_count: objectives.len(),
        has_zero_downtime: true,
        fastest_recovery_seconds: recent_outage_durations_ms
            .iter()
            .filter(|ms| **ms >= 0)
            .min()
            .map(|ms| *ms as f64 / 1000.0),
        ..AchievementContext::default()
    };
    for (objective, status, streak) in objectives {
        ctx.streak_days = ctx.streak_days.max(streak.current_streak);
        ctx.best_availability = Some(max_of(ctx.best_availability, status.current_availability));
        let remaining = status.error_budget_remaining_percent;
        ctx.budget_remaining_percent = Some(max_of(ctx.budget_remaining_percent, remaining));
        let consumed = status.error_budget_consumed_minutes;
        let strict_consumed = status.error_budget_consumed_strict_minutes;
        if consumed > 0.0 || strict_consumed > 0.0 {
            ctx.has_zero_downtime = false;
        }
        if strict_consumed > 0.0 && consumed == 0.0 {
            ctx.has_upstream_only_downtime = true;
        }
        if objective.created_at <= at.minus_millis(objective.window_ms_at(at)) {
            ctx.mature_objective_count += 1;
            ctx.mature_budget_remaining_percent =
                Some(max_of(ctx.mature_budget_remaining_percent, remaining));
        }
    }
    ctx
}

fn max_of(best: Option<f64>, value: f64) -> f64 {
    best.map_or(value, |best| best.max(value))
}

/// The achievements `ctx` satisfies, in [`AchievementType::ALL`] order
/// (SPEC §7's table). A system without objectives earns nothing, not even
/// for its outages.
pub fn earned(ctx: &AchievementContext) -> Vec<AchievementType> {
    if ctx.objective_count == 0 {
        return Vec::new();
    }
    AchievementType::ALL.into_iter().filter(|kind| unlocks(*kind, ctx)).collect()
}

// SPEC §7's table, row for row.
fn unlocks(kind: AchievementType, ctx: &AchievementContext) -> bool {
    match kind {
        AchievementType::FirstSteps => ctx.objective_count >= 1,
        AchievementType::FullCoverage => ctx.objective_count >= 3,
        AchievementType::IronUptime => ctx.streak_days >= 7,
        AchievementType::DiamondUptime => ctx.streak_days >= 30,
        AchievementType::NinesClub => {
            ctx.streak_days >= 365 && ctx.best_availability.is_some_and(|a| a >= 99.99)
        }
        // Both budget rules wait for a full window: a brand-new objective
        // has its whole budget left and no downtime simply for being new.
        AchievementType::BudgetMiser => {
            ctx.mature_budget_remaining_percent.is_some_and(|r| r >= 90.0)
        }
        AchievementType::CleanSheet => ctx.has_zero_downtime && ctx.mature_objective_count > 0,
        AchievementType::CascadeBreaker => ctx.has_upstream_only_downtime,
        AchievementType::RapidRecovery => ctx.fastest_recovery_seconds.is_some_and(|s| s <= 300.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BurnRateThresholds, DependencyExclusion, SystemId, Target, WindowDays};
    use crate::status::{compute_status, EventSpan};
    use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS};

    use AchievementType::*;

    /// 2026-03-02T00:00:00Z, the evaluation instant.
    const T: i64 = 1_772_409_600_000;

    fn at() -> Timestamp {
        Timestamp::from_millis(T)
    }

    fn objective(id: &str, mode: DependencyExclusion, age_days: i64) -> Objective {
        Objective {
            id: crate::model::ObjectiveId::from_trusted(id.into()),
            name: None,
            system_id: SystemId::parse("api", "id").unwrap(),
            health_check_configuration_id: None,
            target: Target::parse(99.9).unwrap(),
            window: WindowDays::parse(30).unwrap().into(),
            dependency_exclusion: mode,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: at().minus_millis(age_days * DAY_MS),
            updated_at: at().minus_millis(age_days * DAY_MS),
        }
    }

    /// The status at `T` of `objective` with `self_minutes` of its own
    /// downtime and `upstream_minutes` of `db`'s, both a day ago.
    fn status(objective: &Objective, self_minutes: i64, upstream_minutes: i64) -> SloStatus {
        let day_ago = T - DAY_MS;
        let spans = [
            EventSpan { start: day_ago, end: day_ago + self_minutes * MINUTE_MS, upstream: 0 },
            EventSpan {
                start: day_ago - HOUR_MS,
                end: day_ago - HOUR_MS + upstream_minutes * MINUTE_MS,
                upstream: 1,
            },
        ];
        let upstreams = [(SystemId::parse("db", "id").unwrap(), "Database".to_owned())];
        compute_status(objective, &spans, &upstreams, at(), false)
    }

    fn streak(days: u32) -> Streak {
        Streak { current_streak: days, best_streak: days, ..Streak::default() }
    }

    fn one(objective: &Objective, status: &SloStatus, streak: &Streak) -> AchievementContext {
        context(&[(objective, status, streak)], &[], at())
    }

    fn has(ctx: &AchievementContext, kind: AchievementType) -> bool {
        earned(ctx).contains(&kind)
    }

    #[test]
    fn types_round_trip_through_their_names_and_json() {
        for kind in AchievementType::ALL {
            assert_eq!(AchievementType::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(AchievementType::parse("NinesClub"), None);
        assert_eq!(serde_json::to_value(NinesClub).unwrap(), "nines_club");
    }

    #[test]
    fn every_type_has_one_definition_in_order() {
        let defs = definitions();
        assert_eq!(defs.len(), AchievementType::ALL.len());
        for (def, kind) in defs.iter().zip(AchievementType::ALL) {
            assert_eq!(def.kind, kind);
            assert_eq!(kind.definition(), def);
            assert!(!def.label.is_empty() && !def.emoji.is_empty() && !def.description.is_empty());
        }
        let json = serde_json::to_value(RapidRecovery.definition()).unwrap();
        assert_eq!(json["type"], "rapid_recovery");
        assert_eq!(json["label"], "Rapid Recovery");
        assert!(json.get("emoji").is_some() && json.get("description").is_some());
    }

    #[test]
    fn no_objectives_earn_nothing() {
        let ctx = context(&[], &[60_000], at());
        assert_eq!(ctx.objective_count, 0);
        assert_eq!(earned(&ctx), vec![]);
    }

    #[test]
    fn first_steps_and_full_coverage_count_objectives() {
        let objectives: Vec<Objective> = (0..3)
            .map(|i| objective(&format!("slo-{i}"), DependencyExclusion::Strict, 0))
            .collect();
        let statuses: Vec<SloStatus> = objectives.iter().map(|o| status(o, 5, 0)).collect();
        let s = streak(0);
        let items: Vec<_> = objectives.iter().zip(&statuses).map(|(o, st)| (o, st, &s)).collect();

        let two = context(&items[..2], &[], at());
        assert_eq!(earned(&two), vec![FirstSteps]);
        let three = context(&items, &[], at());
        assert_eq!(three.objective_count, 3);
        assert_eq!(earned(&three), vec![FirstSteps, FullCoverage]);
    }

    #[test]
    fn streak_badges_unlock_at_their_day() {
        let o = objective("slo-1", DependencyExclusion::Strict, 0);
        let st = status(&o, 5, 0);
        for (days, iron, diamond) in
            [(6, false, false), (7, true, false), (29, true, false), (30, true, true)]
        {
            let ctx = one(&o, &st, &streak(days));
            assert_eq!(has(&ctx, IronUptime), iron, "iron at {days}");
            assert_eq!(has(&ctx, DiamondUptime), diamond, "diamond at {days}");
        }
    }

    #[test]
    fn the_best_current_streak_counts_not_the_best_ever() {
        let o = objective("slo-1", DependencyExclusion::Strict, 0);
        let st = status(&o, 5, 0);
        let fallen = Streak { current_streak: 2, best_streak: 40, ..Streak::default() };
        let other = objective("slo-2", DependencyExclusion::Strict, 0);
        let other_status = status(&other, 5, 0);
        let ctx = context(&[(&o, &st, &fallen), (&other, &other_status, &streak(7))], &[], at());
        assert_eq!(ctx.streak_days, 7);
        assert!(has(&ctx, IronUptime));
        assert!(!has(&ctx, DiamondUptime));
    }

    #[test]
    fn nines_club_needs_four_nines_and_a_year_long_streak() {
        let o = objective("slo-1", DependencyExclusion::Strict, 400);
        let base = status(&o, 0, 0);
        let with =
            |availability: f64| SloStatus { current_availability: availability, ..base.clone() };
        for (availability, days, expected) in [
            (99.99, 365, true),
            (100.0, 365, true),
            (99.99, 364, false),
            (99.989, 365, false),
            (99.989, 364, false),
        ] {
            let ctx = one(&o, &with(availability), &streak(days));
            assert_eq!(has(&ctx, NinesClub), expected, "{availability} % over {days} days");
        }
    }

    #[test]
    fn budget_miser_waits_for_a_full_window() {
        // A brand-new objective has its whole budget left.
        let new = objective("slo-1", DependencyExclusion::Strict, 0);
        let ctx = one(&new, &status(&new, 0, 0), &streak(0));
        assert_eq!(ctx.budget_remaining_percent, Some(100.0));
        assert!(!has(&ctx, BudgetMiser));

        // One day short of its 30-day window, then exactly one window old.
        let young = objective("slo-1", DependencyExclusion::Strict, 29);
        assert!(!has(&one(&young, &status(&young, 0, 0), &streak(0)), BudgetMiser));
        let mature = objective("slo-1", DependencyExclusion::Strict, 30);
        assert!(has(&one(&mature, &status(&mature, 0, 0), &streak(0)), BudgetMiser));

        // Exactly 90 % left is enough; 5 of 43.2 minutes spent (88.4 %) is not.
        let base = status(&mature, 0, 0);
        let at_90 = SloStatus { error_budget_remaining_percent: 90.0, ..base.clone() };
        assert!(has(&one(&mature, &at_90, &streak(0)), BudgetMiser));
        let spent = status(&mature, 5, 0);
        assert!(spent.error_budget_remaining_percent < 90.0);
        assert!(!has(&one(&mature, &spent, &streak(0)), BudgetMiser));
    }

    #[test]
    fn budget_miser_looks_only_at_mature_objectives() {
        // The new objective is untouched, the mature one has spent a lot.
        let new = objective("slo-new", DependencyExclusion::Strict, 1);
        let old = objective("slo-old", DependencyExclusion::Strict, 90);
        let (new_status, old_status) = (status(&new, 0, 0), status(&old, 20, 0));
        let s = streak(0);
        let ctx = context(&[(&new, &new_status, &s), (&old, &old_status, &s)], &[], at());
        assert_eq!(ctx.budget_remaining_percent, Some(100.0));
        assert_eq!(ctx.mature_objective_count, 1);
        assert!(ctx.mature_budget_remaining_percent.unwrap() < 90.0);
        assert!(!has(&ctx, BudgetMiser));
    }

    #[test]
    fn clean_sheet_needs_no_downtime_and_a_mature_objective() {
        let new = objective("slo-1", DependencyExclusion::Strict, 0);
        let ctx = one(&new, &status(&new, 0, 0), &streak(0));
        assert!(ctx.has_zero_downtime);
        assert!(!has(&ctx, CleanSheet), "not on a brand-new objective");

        let mature = objective("slo-1", DependencyExclusion::Strict, 45);
        assert!(has(&one(&mature, &status(&mature, 0, 0), &streak(0)), CleanSheet));

        // Upstream downtime spoils it even when self-only excuses it.
        let self_only = objective("slo-1", DependencyExclusion::SelfOnly, 45);
        let ctx = one(&self_only, &status(&self_only, 0, 3), &streak(0));
        assert!(!ctx.has_zero_downtime);
        assert!(!has(&ctx, CleanSheet));
    }

    #[test]
    fn cascade_breaker_when_all_downtime_was_upstream() {
        let self_only = objective("slo-1", DependencyExclusion::SelfOnly, 0);
        let ctx = one(&self_only, &status(&self_only, 0, 3), &streak(0));
        assert!(ctx.has_upstream_only_downtime);
        assert!(has(&ctx, CascadeBreaker));

        // Any own downtime, or strict mode charging the upstream's, and no.
        assert!(!has(&one(&self_only, &status(&self_only, 1, 3), &streak(0)), CascadeBreaker));
        let strict = objective("slo-1", DependencyExclusion::Strict, 0);
        assert!(!has(&one(&strict, &status(&strict, 0, 3), &streak(0)), CascadeBreaker));
        // No downtime at all is a clean sheet, not a cascade broken.
        assert!(!has(&one(&self_only, &status(&self_only, 0, 0), &streak(0)), CascadeBreaker));
    }

    #[test]
    fn rapid_recovery_takes_the_fastest_outage_up_to_five_minutes() {
        let o = objective("slo-1", DependencyExclusion::Strict, 0);
        let st = status(&o, 4, 0);
        let s = streak(0);
        let with = |outages: &[i64]| context(&[(&o, &st, &s)], outages, at());

        let ctx = with(&[3_600_000, 240_000, 900_000]);
        assert_eq!(ctx.fastest_recovery_seconds, Some(240.0));
        assert!(has(&ctx, RapidRecovery));
        assert!(has(&with(&[300_000]), RapidRecovery), "exactly 5 minutes");
        assert!(!has(&with(&[300_001]), RapidRecovery));
        assert!(!has(&with(&[360_000, 7_200_000]), RapidRecovery));
        let none = with(&[]);
        assert_eq!(none.fastest_recovery_seconds, None);
        assert!(!has(&none, RapidRecovery));
    }

    #[test]
    fn context_takes_the_best_of_each_objective() {
        let a = objective("slo-a", DependencyExclusion::Strict, 0);
        let b = objective("slo-b", DependencyExclusion::Strict, 0);
        let (sa, sb) = (status(&a, 10, 0), status(&b, 2, 0));
        let ctx = context(&[(&a, &sa, &streak(3)), (&b, &sb, &streak(1))], &[], at());
        assert_eq!(ctx.objective_count, 2);
        assert_eq!(ctx.streak_days, 3);
        assert_eq!(ctx.best_availability, Some(sb.current_availability));
        assert_eq!(ctx.budget_remaining_percent, Some(sb.error_budget_remaining_percent));
        assert!(!ctx.has_zero_downtime);
        assert!(!ctx.has_upstream_only_downtime);
        assert_eq!(ctx.mature_objective_count, 0);
        assert_eq!(ctx.mature_budget_remaining_percent, None);
    }
}
