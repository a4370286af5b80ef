//! Demo data for `slod serve --demo`.
//!
//! On an empty database (no systems) this seeds five systems with
//! dependencies (`web → api → {db, cache}`, `auth → db`), seven objectives
//! in both attribution modes, and about 30 days of health reports ending at
//! `now`: outages of a few minutes to an hour, database outages that cascade
//! to `auth`, `api` and `web` (so self-only objectives show upstream
//! attribution), one incident-sourced outage, and a cache outage still
//! going on. Everything goes through the same service functions as the
//! API, objectives first and then the reports in time order, so the result
//! is exactly what the API would have built. Then the daily job runs for
//! each past midnight of the history, oldest first, as a server running all
//! month would have: snapshots, streaks, achievements and trend charts are
//! there from the first page view.
//!
//! The data is deterministic for a given `now`: the only "randomness" is a
//! fixed-seed linear congruential generator.

use anyhow::Context;
use slod_core::model::{
    BurnRateThresholds, DependencyExclusion, HealthStatus, ReportSource, SystemId, Target,
    WindowDays,
};
use slod_core::time::{Timestamp, DAY_MS, HOUR_MS, MINUTE_MS};
use slod_store::Store;

use crate::clock::Clock;
use crate::service::health::{apply_reports, ReportInput};
use crate::service::jobs::run_daily;
use crate::service::objectives::{create_objective, NewObjective};
use crate::service::systems::{put_system, set_dependencies};

const SYSTEMS: [(&str, &str); 5] = [
    ("web", "Web Frontend"),
    ("api", "Public API"),
    ("auth", "Auth Service"),
    ("db", "Primary Database"),
    ("cache", "Cache Cluster"),
];

const DEPENDENCIES: [(&str, &[&str]); 3] =
    [("web", &["api"]), ("api", &["db", "cache"]), ("auth", &["db"])];

/// (system, target, window days, mode, excluded upstreams)
const OBJECTIVES: [(&str, f64, u32, DependencyExclusion, &[&str]); 7] = [
    ("web", 99.9, 30, DependencyExclusion::Strict, &[]),
    ("web", 99.5, 7, DependencyExclusion::SelfOnly, &[]),
    ("api", 99.95, 30, DependencyExclusion::SelfOnly, &["cache"]),
    ("api", 99.0, 90, DependencyExclusion::Strict, &[]),
    ("auth", 99.9, 30, DependencyExclusion::SelfOnly, &[]),
    ("db", 99.95, 30, DependencyExclusion::Strict, &[]),
    ("cache", 99.5, 7, DependencyExclusion::Strict, &[]),
];

/// How long ago the history starts.
const HISTORY_DAYS: i64 = 30;

/// Seeds the demo unless the database already has systems; `true` when it
/// seeded.
pub async fn seed_if_empty(store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<bool> {
    let now = clock.now();
    if !store.list_systems().await.context("listing systems")?.is_empty() {
        tracing::info!("database is not empty; demo data not seeded");
        return Ok(false);
    }
    for (id, name) in SYSTEMS {
        put_system(store, now, &trusted(id), name)
            .await
            .with_context(|| format!("creating {id}"))?;
    }
    for (id, upstreams) in DEPENDENCIES {
        let upstreams: Vec<SystemId> = upstreams.iter().map(|u| trusted(u)).collect();
        set_dependencies(store, now, &trusted(id), &upstreams)
            .await
            .with_context(|| format!("setting the dependencies of {id}"))?;
    }
    let created_at = now.minus_millis(HISTORY_DAYS * DAY_MS);
    for (system, target, window_days, mode, excluded) in OBJECTIVES {
        let objective = NewObjective {
            name: None,
            system_id: trusted(system),
            target: Target::parse(target).context("a demo target")?,
            window: WindowDays::parse(window_days.into()).context("a demo window")?.into(),
            health_check_configuration_id: None,
            dependency_exclusion: mode,
            excluded_dependency_ids: excluded.iter().map(|e| trusted(e)).collect(),
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: Some(created_at),
        };
        create_objective(store, now, objective)
            .await
            .with_context(|| format!("creating an objective for {system}"))?;
    }
    let outages = history(now);
    let count = outages.len();
    for reports in outages {
        apply_reports(store, now, reports).await.context("applying demo reports")?;
    }
    // Every midnight since the objectives were created; the scheduler then
    // carries on from the latest.
    let mut midnight = created_at.midnight_floor().plus_millis(DAY_MS);
    let mut runs = 0;
    while midnight <= now {
        run_daily(store, clock, midnight)
            .await
            .with_context(|| format!("running the daily job for {midnight}"))?;
        midnight = midnight.plus_millis(DAY_MS);
        runs += 1;
    }
    tracing::info!(outages = count, daily_runs = runs, "demo data seeded");
    Ok(true)
}

/// The demo's ids are constants that satisfy the id alphabet.
fn trusted(id: &str) -> SystemId {
    SystemId::from_trusted(id.to_owned())
}

/// A tiny fixed-seed linear congruential generator (Knuth's MMIX constants):
/// deterministic, no dependency, good enough to vary demo outages.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = u64::try_from(high - low + 1).unwrap_or(1).max(1);
        low + i64::try_from(self.next() % span).unwrap_or(0)
    }
}

/// One report, at an instant.
fn report(system: &str, status: HealthStatus, at: Timestamp, source: ReportSource) -> ReportInput {
    ReportInput {
        system_id: trusted(system),
        status,
        at: Some(at),
        source,
        check_id: None,
        create_system: false,
        system_name: None,
        field_prefix: String::new(),
    }
}

/// The outages of the last 30 days, each as the reports that describe it
/// (sorted by time), in time order. At most one outage starts per day, and
/// each ends within hours, so no two overlap.
fn history(now: Timestamp) -> Vec<Vec<ReportInput>> {
    use HealthStatus::{Degraded, Healthy, Unhealthy};
    use ReportSource::{Healthcheck, Incident};

    let mut rng = Lcg(0x5107_d0c5);
    let start = now.minus_millis(HISTORY_DAYS * DAY_MS);
    let mut outages = Vec::new();
    for day in 1..HISTORY_DAYS {
        if rng.between(0, 9) < 5 {
            continue;
        }
        let begin = start.plus_millis(
            day * DAY_MS + rng.between(1, 20) * HOUR_MS + rng.between(0, 59) * MINUTE_MS,
        );
        // Mostly short blips, now and then a long one.
        let minutes = if rng.between(0, 9) < 9 { rng.between(2, 8) } else { rng.between(15, 30) };
        let end = begin.plus_millis(minutes * MINUTE_MS);
        let after = |m: i64| begin.plus_millis(m * MINUTE_MS);
        let recovered = |m: i64| end.plus_millis(m * MINUTE_MS);
        let mut reports = match rng.between(0, 9) {
            // The database falls over and takes its dependents with it:
            // self-only objectives charge that time to `db`.
            0..=2 => vec![
                report("db", Unhealthy, begin, Healthcheck),
                report("auth", Unhealthy, after(1), Healthcheck),
                report("api", Degraded, after(1), Healthcheck),
                report("web", Degraded, after(2), Healthcheck),
                report("db", Healthy, end, Healthcheck),
                report("auth", Healthy, recovered(1), Healthcheck),
                report("api", Healthy, recovered(1), Healthcheck),
                report("web", Healthy, recovered(2), Healthcheck),
            ],
            // A bad API deploy: web goes down with it.
            3..=4 => vec![
                report("api", Unhealthy, begin, Healthcheck),
                report("web", Degraded, after(1), Healthcheck),
                report("api", Healthy, end, Healthcheck),
                report("web", Healthy, recovered(1), Healthcheck),
            ],
            // The cache: api's 99.95 objective does not excuse cache
            // outages, so they stay `self` there.
            5..=6 => vec![
                report("cache", Unhealthy, begin, Healthcheck),
                report("api", Degraded, after(2), Healthcheck),
                report("cache", Healthy, end, Healthcheck),
                report("api", Healthy, recovered(1), Healthcheck),
            ],
            // An auth incident declared by a human, not a probe.
            7 => vec![
                report("auth", Unhealthy, begin, Incident),
                report("auth", Healthy, end, Incident),
            ],
            _ => vec![
                report("web", Unhealthy, begin, Healthcheck),
                report("web", Healthy, end, Healthcheck),
            ],
        };
        reports.sort_by_key(|r| r.at);
        outages.push(reports);
    }
    // Still going on: the cache has been down for twelve minutes.
    outages.push(vec![report("cache", Unhealthy, now.minus_millis(12 * MINUTE_MS), Healthcheck)]);
    outages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_deterministic_ordered_and_in_the_past() {
        let now = Timestamp::parse("2026-03-01T12:00:00Z").unwrap();
        let first = history(now);
        assert_eq!(first, history(now));
        assert!(first.len() > 10);
        let all: Vec<Timestamp> = first.iter().flatten().filter_map(|r| r.at).collect();
        assert!(all.windows(2).all(|w| w[0] <= w[1]), "reports are in time order");
        assert!(all.iter().all(|at| *at <= now && *at > now.minus_millis(HISTORY_DAYS * DAY_MS)));
    }
}
