//! The weekly digest (SPEC §6): how many objectives are breaching, at risk
//! or healthy, and the best and worst three.
//!
//! The caller computes every objective's status (at Monday 09:00 for the
//! scheduled run, now for a manual one) and passes it in with the streak and
//! the system's display name; [`build_digest`] only sorts and counts.
//! `weekOf` is the Monday that starts the ISO week, as a `YYYY-MM-DD` date
//! (see [`crate::streak::week_monday`]).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::{Objective, ObjectiveId, SystemId};
use crate::status::SloStatus;
use crate::streak::Streak;

/// How many objectives each performer list holds at most.
pub const PERFORMERS: usize = 3;

/// An objective whose remaining budget is at or below this percent, while not
/// breaching, is at risk.
pub const AT_RISK_REMAINING_PERCENT: f64 = 20.0;

/// The `slo.weekly.digest` payload.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeeklyDigest {
    /// The Monday of the digest's ISO week; JSON `"YYYY-MM-DD"`.
    pub week_of: NaiveDate,
    pub total_objectives: usize,
    pub breaching_count: usize,
    pub at_risk_count: usize,
    pub healthy_count: usize,
    pub top_performers: Vec<TopPerformer>,
    pub worst_performers: Vec<WorstPerformer>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopPerformer {
    pub objective_id: ObjectiveId,
    pub system_id: SystemId,
    pub system_name: String,
    pub availability: f64,
    pub streak_days: u32,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorstPerformer {
    pub objective_id: ObjectiveId,
    pub system_id: SystemId,
    pub system_name: String,
    pub availability: f64,
    pub budget_remaining_percent: f64,
}

/// The digest for the week starting `week_of`, over every objective with
/// its status, its streak and its system's name; `None` when there are no
/// objectives (SPEC §6: the digest is skipped).
///
/// Top performers are the highest availability first (ties: the longer
/// streak, then the objective id); worst performers the least budget left
/// first (ties: the lower availability, then the objective id), so the same
/// input always gives the same lists.
pub fn build_digest(
    week_of: NaiveDate,
    items: &[(&Objective, &SloStatus, &Streak, &str)],
) -> Option<WeeklyDigest> {
    if items.is_empty() {
        return None;
    }
    let breaching_count = items.iter().filter(|(_, s, _, _)| s.is_breaching).count();
    let at_risk_count = items
        .iter()
        .filter(|(_, s, _, _)| {
            !s.is_breaching && s.error_budget_remaining_percent <= AT_RISK_REMAINING_PERCENT
        })
        .count();

    let mut top: Vec<_> = items.iter().collect();
    top.sort_by(|(oa, sa, ka, _), (ob, sb, kb, _)| {
        sb.current_availability
            .total_cmp(&sa.current_availability)
            .then(kb.current_streak.cmp(&ka.current_streak))
            .then_with(|| oa.id.cmp(&ob.id))
    });
    let mut worst: Vec<_> = items.iter().collect();
    worst.sort_by(|(oa, sa, _, _), (ob, sb, _, _)| {
        sa.error_budget_remaining_percent
            .total_cmp(&sb.error_budget_remaining_percent)
            .then(sa.current_availability.total_cmp(&sb.current_availability))
            .then_with(|| oa.id.cmp(&ob.id))
    });

    Some(WeeklyDigest {
        week_of,
        total_objectives: items.len(),
        breaching_count,
        at_risk_count,
        healthy_count: items.len() - breaching_count - at_risk_count,
        top_performers: top
            .into_iter()
            .take(PERFORMERS)
            .map(|(objective, status, streak, name)| TopPerformer {
                objective_id: objective.id.clone(),
                system_id: objective.system_id.clone(),
                system_name: (*name).to_owned(),
                availability: status.current_availability,
                streak_days: streak.current_streak,
            })
            .collect(),
        worst_performers: worst
            .into_iter()
            .take(PERFORMERS)
            .map(|(objective, status, _, name)| WorstPerformer {
                objective_id: objective.id.clone(),
                system_id: objective.system_id.clone(),
                system_name: (*name).to_owned(),
                availability: status.current_availability,
                budget_remaining_percent: status.error_budget_remaining_percent,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BurnRateThresholds, DependencyExclusion, Target, WindowDays};
    use crate::status::compute_status;
    use crate::time::Timestamp;

    fn monday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    fn objective(id: &str, system: &str) -> Objective {
        Objective {
            id: crate::model::ObjectiveId::from_trusted(id.into()),
            name: None,
            system_id: SystemId::parse(system, "id").unwrap(),
            health_check_configuration_id: None,
            target: Target::parse(99.9).unwrap(),
            window: WindowDays::parse(30).unwrap().into(),
            dependency_exclusion: DependencyExclusion::Strict,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    /// A hand-set status: availability, remaining percent, breaching.
    fn status(
        objective: &Objective,
        availability: f64,
        remaining: f64,
        breaching: bool,
    ) -> SloStatus {
        let at = Timestamp::parse("2026-03-02T09:00:00Z").unwrap();
        SloStatus {
            current_availability: availability,
            error_budget_remaining_percent: remaining,
            is_breaching: breaching,
            ..compute_status(objective, &[], &[], at, false)
        }
    }

    fn streak(days: u32) -> Streak {
        Streak { current_streak: days, best_streak: days, ..Streak::default() }
    }

    struct Fleet {
        objectives: Vec<Objective>,
        statuses: Vec<SloStatus>,
        streaks: Vec<Streak>,
        names: Vec<&'static str>,
    }

    impl Fleet {
        fn items(&self) -> Vec<(&Objective, &SloStatus, &Streak, &str)> {
            (0..self.objectives.len())
                .map(|i| (&self.objectives[i], &self.statuses[i], &self.streaks[i], self.names[i]))
                .collect()
        }
    }

    /// Five objectives on four systems:
    ///
    /// | id      | system | availability | remaining | breaching | streak |
    /// |---------|--------|--------------|-----------|-----------|--------|
    /// | slo-api | api    | 99.99        | 90        | no        | 12     |
    /// | slo-web | web    | 100.0        | 100       | no        | 3      |
    /// | slo-db  | db     | 99.5         | 0         | yes       | 0      |
    /// | slo-q   | queue  | 99.92        | 20        | no  (risk)| 5      |
    /// | slo-api2| api    | 99.99        | 15        | no  (risk)| 30     |
    fn fleet() -> Fleet {
        let rows = [
            ("slo-api", "api", "API", 99.99, 90.0, false, 12),
            ("slo-web", "web", "Web front", 100.0, 100.0, false, 3),
            ("slo-db", "db", "Database", 99.5, 0.0, true, 0),
            ("slo-q", "queue", "Job queue", 99.92, 20.0, false, 5),
            ("slo-api2", "api", "API", 99.99, 15.0, false, 30),
        ];
        let objectives: Vec<Objective> = rows.iter().map(|r| objective(r.0, r.1)).collect();
        Fleet {
            statuses: rows.iter().zip(&objectives).map(|(r, o)| status(o, r.3, r.4, r.5)).collect(),
            streaks: rows.iter().map(|r| streak(r.6)).collect(),
            names: rows.iter().map(|r| r.2).collect(),
            objectives,
        }
    }

    #[test]
    fn no_objectives_no_digest() {
        assert_eq!(build_digest(monday(), &[]), None);
    }

    #[test]
    fn counts_each_objective_once() {
        let fleet = fleet();
        let digest = build_digest(monday(), &fleet.items()).unwrap();
        assert_eq!(digest.total_objectives, 5);
        assert_eq!(digest.breaching_count, 1);
        assert_eq!(digest.at_risk_count, 2, "20 % left is at risk, as is 15 %");
        assert_eq!(digest.healthy_count, 2);
    }

    #[test]
    fn a_breaching_objective_is_not_also_at_risk() {
        let o = objective("slo-1", "api");
        let (st, s) = (status(&o, 99.0, 0.0, true), streak(0));
        let digest = build_digest(monday(), &[(&o, &st, &s, "API")]).unwrap();
        assert_eq!((digest.breaching_count, digest.at_risk_count, digest.healthy_count), (1, 0, 0));
    }

    #[test]
    fn top_performers_by_availability_then_streak() {
        let fleet = fleet();
        let digest = build_digest(monday(), &fleet.items()).unwrap();
        let top: Vec<(&str, &str, &str, f64, u32)> = digest
            .top_performers
            .iter()
            .map(|p| {
                (
                    p.objective_id.as_str(),
                    p.system_id.as_str(),
                    p.system_name.as_str(),
                    p.availability,
                    p.streak_days,
                )
            })
            .collect();
        assert_eq!(
            top,
            vec![
                ("slo-web", "web", "Web front", 100.0, 3),
                // Tied at 99.99: the longer streak first.
                ("slo-api2", "api", "API", 99.99, 30),
                ("slo-api", "api", "API", 99.99, 12),
            ]
        );
    }

    #[test]
    fn worst_performers_by_budget_left() {
        let fleet = fleet();
        let digest = build_digest(monday(), &fleet.items()).unwrap();
        let worst: Vec<(&str, &str, f64, f64)> = digest
            .worst_performers
            .iter()
            .map(|p| {
                (
                    p.objective_id.as_str(),
                    p.system_name.as_str(),
                    p.availability,
                    p.budget_remaining_percent,
                )
            })
            .collect();
        assert_eq!(
            worst,
            vec![
                ("slo-db", "Database", 99.5, 0.0),
                ("slo-api2", "API", 99.99, 15.0),
                ("slo-q", "Job queue", 99.92, 20.0),
            ]
        );
    }

    #[test]
    fn ties_fall_back_to_availability_then_id() {
        let a = objective("slo-b", "api");
        let b = objective("slo-a", "api");
        let c = objective("slo-c", "api");
        let (sa, sb, sc) =
            (status(&a, 99.0, 0.0, true), status(&b, 99.0, 0.0, true), status(&c, 98.0, 0.0, true));
        let s = streak(0);
        let digest = build_digest(
            monday(),
            &[(&a, &sa, &s, "API"), (&b, &sb, &s, "API"), (&c, &sc, &s, "API")],
        )
        .unwrap();
        let worst: Vec<&str> =
            digest.worst_performers.iter().map(|p| p.objective_id.as_str()).collect();
        assert_eq!(worst, vec!["slo-c", "slo-a", "slo-b"]);
        let top: Vec<&str> =
            digest.top_performers.iter().map(|p| p.objective_id.as_str()).collect();
        assert_eq!(top, vec!["slo-a", "slo-b", "slo-c"]);
    }

    #[test]
    fn fewer_than_three_objectives_fill_both_lists_with_what_there_is() {
        let o = objective("slo-1", "api");
        let (st, s) = (status(&o, 99.95, 60.0, false), streak(4));
        let digest = build_digest(monday(), &[(&o, &st, &s, "API")]).unwrap();
        assert_eq!(digest.top_performers.len(), 1);
        assert_eq!(digest.worst_performers.len(), 1);
        assert_eq!(digest.healthy_count, 1);
    }

    #[test]
    fn json_uses_the_seed_field_names_and_a_plain_date() {
        let fleet = fleet();
        let json = serde_json::to_value(build_digest(monday(), &fleet.items()).unwrap()).unwrap();
        assert_eq!(json["weekOf"], "2026-03-02");
        assert_eq!(json["totalObjectives"], 5);
        assert_eq!(json["breachingCount"], 1);
        assert_eq!(json["atRiskCount"], 2);
        assert_eq!(json["healthyCount"], 2);
        assert_eq!(
            json["topPerformers"][0],
            serde_json::json!({
                "objectiveId": "slo-web", "systemId": "web", "systemName": "Web front",
                "availability": 100.0, "streakDays": 3,
            })
        );
        assert_eq!(
            json["worstPerformers"][0],
            serde_json::json!({
                "objectiveId": "slo-db", "systemId": "db", "systemName": "Database",
                "availability": 99.5, "budgetRemainingPercent": 0.0,
            })
        );
        let back: WeeklyDigest = serde_json::from_value(json).unwrap();
        assert_eq!(back.week_of, monday());
    }
}
