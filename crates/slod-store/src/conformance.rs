//! The store conformance suite: the same cases, run against every backend.
//!
//! A backend's tests call [`conformance_suite!`](crate::conformance_suite)
//! with a factory returning a fresh store (plus a guard that keeps its
//! database alive) and a cleanup function that removes what the factory made.
//! A backend that needs an external server uses the `optional` form: its
//! factory returns `Option<(store, guard)>`, and `None` (no server
//! configured) makes every case pass without running.

use slod_core::burn_alerts::{BurnRateAlertTier, BurnRateAlerts, BurnWindow, Severity};
use slod_core::engine::{
    apply_reports, forget_check, reconcile_objective, CheckState, HealthReport, ReportError,
};
use slod_core::model::{
    BurnRateThresholds, CheckId, DependencyExclusion, HealthStatus, Objective, ObjectiveId,
    ObjectiveName, ReportSource, SystemId, Target, WindowDays,
};
use slod_core::time::{Timestamp, MINUTE_MS};
use slod_core::window::{Calendar, Window};

use slod_core::maintenance::MaintenanceWindow;

use crate::auth::{Scope, SessionRow, TokenRow};
use crate::corrections::CorrectionRow;
use crate::maintenance::MaintenanceWindowRow;
use crate::{
    new_id, CorrectionStore, CorrectionTx, MaintenanceStore, MaintenanceTx, SpanSet, Store,
    StoreError,
};

/// Runs every case as its own `#[tokio::test]`.
///
/// `conformance_suite!(fresh, cleanup)`: `fresh().await` returns
/// `(Box<dyn Store>, guard)`. `conformance_suite!(optional fresh, cleanup)`:
/// it returns an `Option` of that, and a case given `None` is skipped.
#[macro_export]
macro_rules! conformance_suite {
    (optional $factory:path, $cleanup:path) => {
        $crate::conformance_suite!(@list optional_cases $factory, $cleanup);
    };
    ($factory:path, $cleanup:path) => {
        $crate::conformance_suite!(@list cases $factory, $cleanup);
    };
    (@list $kind:ident $factory:path, $cleanup:path) => {
        $crate::conformance_suite!(@$kind $factory, $cleanup,
            systems_round_trip,
            dependencies_round_trip,
            objectives_round_trip,
            objective_names_are_unique,
            calendar_objectives_round_trip,
            reports_round_trip_through_the_engine,
            checks_round_trip,
            upstream_split_round_trip,
            one_open_event_per_objective,
            uncommitted_transactions_leave_nothing,
            deleting_a_system_cascades,
            events_newest_first_and_spans_windowed,
            event_spans_match_the_events,
            a_first_load_of_many_objectives_reads_them_all,
            event_spans_follow_every_change,
            late_reports_never_double_charge,
            outbox_is_transactional,
            channels_round_trip,
            enqueue_fans_out_to_subscribed_channels,
            deliveries_claim_lease_and_record,
            alert_state_compare_and_swap,
            alert_states_swap_together,
            open_downtime_and_outbox_head,
            job_snapshots_and_streaks_round_trip,
            achievements_unlock_once,
            job_runs_lease_complete_and_take_over,
            recent_outages_per_system,
            digests_round_trip,
            maintenance_windows_round_trip,
            maintenance_windows_go_with_their_system,
            corrections_round_trip_in_made_order,
            recomputed_snapshots_keep_their_original,
            tokens_and_sessions_round_trip,
            ping_answers
        );
    };
    (@cases $factory:path, $cleanup:path, $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, guard) = $factory().await;
                $crate::conformance::$case(&*store).await;
                $cleanup(store, guard).await;
            }
        )*
    };
    (@optional_cases $factory:path, $cleanup:path, $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some((store, guard)) = $factory().await else {
                    return;
                };
                $crate::conformance::$case(&*store).await;
                $cleanup(store, guard).await;
            }
        )*
    };
}

fn id(raw: &str) -> SystemId {
    SystemId::parse(raw, "id").expect("valid test id")
}

fn t(minutes: i64) -> Timestamp {
    // 2026-01-01T00:00:00Z plus `minutes`.
    Timestamp::from_millis(1_767_225_600_000 + minutes * MINUTE_MS)
}

fn objective(oid: &str, system: &str, mode: DependencyExclusion) -> Objective {
    Objective {
        id: ObjectiveId::from_trusted(oid.to_owned()),
        name: None,
        system_id: id(system),
        health_check_configuration_id: None,
        target: Target::parse(99.9).unwrap(),
        window: WindowDays::parse(30).unwrap().into(),
        dependency_exclusion: mode,
        excluded_dependency_ids: vec![],
        exclude_maintenance_windows: false,
        burn_rate_thresholds: BurnRateThresholds::default(),
        burn_rate_alerts: Default::default(),
        created_at: t(0),
        updated_at: t(0),
    }
}

fn report(system: &str, status: HealthStatus, at: Timestamp) -> HealthReport {
    HealthReport {
        system_id: id(system),
        status,
        at,
        source: ReportSource::Healthcheck,
        check_id: None,
    }
}

async fn seed(store: &dyn Store, systems: &[&str], edges: &[(&str, &str)]) {
    let mut tx = store.begin().await.expect("begin");
    for s in systems {
        tx.upsert_system(&id(s), &format!("{s} name"), t(0)).await.expect("upsert");
    }
    for (down, up) in edges {
        let existing: Vec<SystemId> = tx
            .all_edges()
            .await
            .expect("edges")
            .into_iter()
            .filter(|(d, _)| d == &id(down))
            .map(|(_, u)| u)
            .collect();
        let mut ups = existing;
        ups.push(id(up));
        tx.set_upstreams(&id(down), &ups).await.expect("set upstreams");
    }
    tx.commit().await.expect("commit");
}

async fn add_objective(store: &dyn Store, o: Objective) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_objective(&o).await.expect("insert objective");
    let mut world = tx.load_world(std::slice::from_ref(&o.system_id)).await.expect("world");
    let changes = reconcile_objective(&mut world, &o.id, o.created_at, &mut new_id);
    tx.write_changes(&changes).await.expect("write");
    tx.commit().await.expect("commit");
}

async fn apply(store: &dyn Store, reports: Vec<HealthReport>, now: Timestamp) {
    let mut tx = store.begin().await.expect("begin");
    let systems: Vec<SystemId> = reports.iter().map(|r| r.system_id.clone()).collect();
    let mut world = tx.load_world(&systems).await.expect("world");
    let changes = apply_reports(&mut world, reports, now, &mut new_id).expect("apply");
    tx.write_changes(&changes).await.expect("write");
    tx.commit().await.expect("commit");
}

pub async fn systems_round_trip(store: &dyn Store) {
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.upsert_system(&id("b"), "Bee", t(0)).await.expect("create"));
    assert!(tx.upsert_system(&id("a"), "Ay", t(1)).await.expect("create"));
    assert!(!tx.upsert_system(&id("a"), "Renamed", t(2)).await.expect("rename"));
    tx.commit().await.expect("commit");

    let a = store.get_system(&id("a")).await.expect("get").expect("exists");
    assert_eq!(a.system.name, "Renamed");
    assert_eq!(a.system.created_at, t(1));
    assert_eq!(a.effective_status, HealthStatus::Healthy);
    assert_eq!(a.down_since, None);
    assert!(store.get_system(&id("zzz")).await.expect("get").is_none());
    let all = store.list_systems().await.expect("list");
    let ids: Vec<&str> = all.iter().map(|s| s.system.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
}

pub async fn dependencies_round_trip(store: &dyn Store) {
    seed(store, &["api", "db", "cache", "web"], &[("api", "db"), ("api", "cache"), ("web", "api")])
        .await;
    let deps = store.dependencies(&id("api")).await.expect("deps");
    let up: Vec<&str> = deps.upstream.iter().map(|s| s.id.as_str()).collect();
    let down: Vec<&str> = deps.downstream.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(up, ["cache", "db"]);
    assert_eq!(down, ["web"]);
    assert_eq!(deps.upstream[0].name, "cache name");

    let mut tx = store.begin().await.expect("begin");
    tx.set_upstreams(&id("api"), &[id("db")]).await.expect("replace");
    let existing = tx.existing_systems(&[id("db"), id("nope")]).await.expect("existing");
    assert_eq!(existing.into_iter().collect::<Vec<_>>(), [id("db")]);
    tx.commit().await.expect("commit");
    let deps = store.dependencies(&id("api")).await.expect("deps");
    assert_eq!(deps.upstream.len(), 1);
}

pub async fn objectives_round_trip(store: &dyn Store) {
    seed(store, &["api", "db"], &[]).await;
    let mut o = objective("o1", "api", DependencyExclusion::SelfOnly);
    o.excluded_dependency_ids = vec![id("db"), id("x.y:z")];
    o.health_check_configuration_id = Some("http-check".into());
    o.burn_rate_thresholds = BurnRateThresholds {
        warning_percent: 40.5,
        critical_percent: 90.0,
        fast_burn_multiplier: 2.0,
    };
    o.exclude_maintenance_windows = true;
    // Tiers as given, in order (SPEC §12).
    o.burn_rate_alerts = BurnRateAlerts::parse(vec![
        BurnRateAlertTier::new(Severity::Ticket, BurnWindow::H24, BurnWindow::M30, 12.5),
        BurnRateAlertTier::DEFAULTS[0],
    ])
    .unwrap();
    add_objective(store, o.clone()).await;
    add_objective(store, objective("o2", "db", DependencyExclusion::Strict)).await;

    assert_eq!(store.get_objective("o1").await.expect("get"), Some(o.clone()));
    assert_eq!(store.list_objectives(None).await.expect("list").len(), 2);
    let of_db = store.list_objectives(Some(&[id("db")])).await.expect("list");
    assert_eq!(of_db.len(), 1);
    assert_eq!(of_db[0].id, "o2");
    assert!(store.list_objectives(Some(&[])).await.expect("list").is_empty());

    let mut updated = o.clone();
    updated.target = Target::parse(99.0).unwrap();
    updated.excluded_dependency_ids.clear();
    updated.burn_rate_alerts = BurnRateAlerts::parse(Vec::new()).unwrap();
    updated.updated_at = t(5);
    let mut tx = store.begin().await.expect("begin");
    tx.update_objective(&updated).await.expect("update");
    assert_eq!(tx.get_objective("o1").await.expect("get"), Some(updated.clone()));
    let mut ghost = updated.clone();
    ghost.id = ObjectiveId::generate();
    assert!(matches!(tx.update_objective(&ghost).await, Err(StoreError::NotFound)));
    assert!(tx.delete_objective("o2").await.expect("delete"));
    assert!(!tx.delete_objective("o2").await.expect("delete again"));
    tx.commit().await.expect("commit");
    assert_eq!(store.get_objective("o1").await.expect("get"), Some(updated));
    assert!(store.get_objective("o2").await.expect("get").is_none());
}

/// SPEC §14: a name is stored, read back, changed and cleared; two
/// objectives never share one (a `Conflict`), any number have none.
pub async fn objective_names_are_unique(store: &dyn Store) {
    seed(store, &["api"], &[]).await;
    let name = |raw: &str| Some(ObjectiveName::parse(raw, "name").expect("valid name"));
    let mut named = objective("o1", "api", DependencyExclusion::Strict);
    named.name = name("api-availability");
    add_objective(store, named.clone()).await;
    add_objective(store, objective("o2", "api", DependencyExclusion::Strict)).await;
    add_objective(store, objective("o3", "api", DependencyExclusion::Strict)).await;
    assert_eq!(store.get_objective("o1").await.expect("get"), Some(named.clone()));

    let mut twin = objective("o4", "api", DependencyExclusion::Strict);
    twin.name = name("api-availability");
    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(tx.insert_objective(&twin).await, Err(StoreError::Conflict(_))));
    drop(tx);
    let mut renamed = objective("o2", "api", DependencyExclusion::Strict);
    renamed.name = name("api-availability");
    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(tx.update_objective(&renamed).await, Err(StoreError::Conflict(_))));
    drop(tx);

    let mut tx = store.begin().await.expect("begin");
    named.name = None;
    tx.update_objective(&named).await.expect("clear the name");
    renamed.name = name("api-availability");
    tx.update_objective(&renamed).await.expect("take the freed name");
    tx.commit().await.expect("commit");
    assert_eq!(store.get_objective("o1").await.expect("get").and_then(|o| o.name), None);
    assert_eq!(store.get_objective("o2").await.expect("get").and_then(|o| o.name), renamed.name);
    assert!(store.get_objective("o4").await.expect("get").is_none());
}

/// SPEC §17: a calendar window is stored and read back, and an update
/// switches an objective between the two kinds of window.
pub async fn calendar_objectives_round_trip(store: &dyn Store) {
    seed(store, &["api"], &[]).await;
    let mut o = objective("o1", "api", DependencyExclusion::Strict);
    let berlin = Calendar::parse("month", "Europe/Berlin").unwrap();
    o.window = Window::Calendar(berlin);
    add_objective(store, o.clone()).await;
    add_objective(store, objective("o2", "api", DependencyExclusion::Strict)).await;
    assert_eq!(store.get_objective("o1").await.expect("get"), Some(o.clone()));
    let listed = store.list_objectives(Some(&[id("api")])).await.expect("list");
    let windows: Vec<Window> = listed.iter().map(|o| o.window).collect();
    assert!(windows.contains(&Window::Calendar(berlin)), "{windows:?}");
    assert!(windows.contains(&Window::Rolling(WindowDays::parse(30).unwrap())));

    let mut rolling = o.clone();
    rolling.window = WindowDays::parse(7).unwrap().into();
    let mut weekly = objective("o2", "api", DependencyExclusion::Strict);
    weekly.window = Window::Calendar(Calendar::parse("week", "America/New_York").unwrap());
    let mut tx = store.begin().await.expect("begin");
    tx.update_objective(&rolling).await.expect("update");
    tx.update_objective(&weekly).await.expect("update");
    tx.commit().await.expect("commit");
    assert_eq!(store.get_objective("o1").await.expect("get"), Some(rolling));
    assert_eq!(store.get_objective("o2").await.expect("get"), Some(weekly));
}

pub async fn reports_round_trip_through_the_engine(store: &dyn Store) {
    seed(store, &["api"], &[]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::Strict)).await;
    apply(store, vec![report("api", HealthStatus::Unhealthy, t(10))], t(10)).await;

    let row = store.get_system(&id("api")).await.expect("get").expect("exists");
    assert_eq!(row.effective_status, HealthStatus::Unhealthy);
    assert_eq!(row.down_since, Some(t(10)));
    assert_eq!(row.last_report_at, Some(t(10)));
    let events = store.list_events("o1", 10).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].start_time, t(10));
    assert_eq!(events[0].end_time, None);

    // A second transaction sees the open event in its world.
    let mut tx = store.begin().await.expect("begin");
    let world = tx.load_world(&[id("api")]).await.expect("world");
    let open = world.objectives[&id("api")][0].open_event.clone().expect("open event");
    assert_eq!(open.id, events[0].id);
    drop(tx);

    apply(store, vec![report("api", HealthStatus::Healthy, t(25))], t(25)).await;
    let events = store.list_events("o1", 10).await.expect("events");
    assert_eq!(events[0].end_time, Some(t(25)));
    assert_eq!(store.systems_down_at(&[id("api")], t(9)).await.expect("down").len(), 0);
    assert_eq!(store.systems_down_at(&[id("api")], t(10)).await.expect("down").len(), 1);
    assert_eq!(store.systems_down_at(&[id("api")], t(24)).await.expect("down").len(), 1);
    assert_eq!(store.systems_down_at(&[id("api")], t(25)).await.expect("down").len(), 0);
    let row = store.get_system(&id("api")).await.expect("get").expect("exists");
    assert_eq!(row.effective_status, HealthStatus::Healthy);
    assert_eq!(row.down_since, None);

    // An outage that starts and ends inside one batch is recorded too.
    apply(
        store,
        vec![
            report("api", HealthStatus::Degraded, t(30)),
            report("api", HealthStatus::Healthy, t(31)),
        ],
        t(31),
    )
    .await;
    assert_eq!(store.systems_down_at(&[id("api")], t(30)).await.expect("down").len(), 1);
    assert_eq!(store.list_events("o1", 10).await.expect("events").len(), 2);
}

fn check_report(system: &str, check: &str, status: HealthStatus, at: Timestamp) -> HealthReport {
    HealthReport {
        check_id: Some(CheckId::parse(check, "checkId").expect("valid check id")),
        ..report(system, status, at)
    }
}

/// Applies a batch the way the service does, through
/// `load_world_for_reports`; the engine's refusal when it refuses.
async fn apply_batch(
    store: &dyn Store,
    reports: Vec<HealthReport>,
    now: Timestamp,
) -> Result<(), ReportError> {
    let mut tx = store.begin().await.expect("begin");
    let mut world = tx.load_world_for_reports(&reports).await.expect("world");
    let changes = apply_reports(&mut world, reports, now, &mut new_id)?;
    tx.write_changes(&changes).await.expect("write");
    tx.commit().await.expect("commit");
    Ok(())
}

/// SPEC §12: checks are stored with their status, latest report and
/// outage start; a batch's world holds the checks that are down and those
/// it names, so the ordering marks survive a reload; forgetting one
/// deletes its row and recovers what it held down.
pub async fn checks_round_trip(store: &dyn Store) {
    use HealthStatus::{Healthy, Unhealthy};
    seed(store, &["api"], &[]).await;
    let mut bound = objective("bound", "api", DependencyExclusion::Strict);
    bound.health_check_configuration_id = Some("a".into());
    add_objective(store, bound).await;
    add_objective(store, objective("all", "api", DependencyExclusion::Strict)).await;

    apply_batch(
        store,
        vec![check_report("api", "a", Unhealthy, t(10)), check_report("api", "b", Healthy, t(10))],
        t(10),
    )
    .await
    .expect("applied");
    let a = CheckState { status: Unhealthy, at: t(10), down_since: Some(t(10)) };
    let b = CheckState { status: Healthy, at: t(10), down_since: None };
    let ck = |raw: &str| CheckId::parse(raw, "checkId").expect("valid");
    assert_eq!(
        store.list_checks(&id("api")).await.expect("checks"),
        vec![(ck("a"), a), (ck("b"), b)]
    );
    let row = store.get_system(&id("api")).await.expect("get").expect("exists");
    assert_eq!(row.effective_status, Unhealthy);
    assert_eq!(store.list_events("bound", 10).await.expect("events").len(), 1);

    // A world holds the checks that are down, plus those a batch names.
    let mut tx = store.begin().await.expect("begin");
    let world = tx.load_world(&[id("api")]).await.expect("world");
    assert_eq!(world.systems[&id("api")].checks.keys().cloned().collect::<Vec<_>>(), vec![ck("a")]);
    let world = tx
        .load_world_for_reports(&[check_report("api", "b", Healthy, t(12))])
        .await
        .expect("world");
    assert_eq!(world.systems[&id("api")].checks.len(), 2);
    assert_eq!(world.systems[&id("api")].last_transition_at, Some(t(10)));
    assert_eq!(tx.get_check(&id("api"), &ck("b")).await.expect("get"), Some(b));
    assert_eq!(tx.get_check(&id("api"), &ck("zzz")).await.expect("get"), None);
    drop(tx);

    // Each check's mark is its own, stored: b at 9 is refused, a check
    // never seen at 5 is taken, and so is a report naming no check.
    let err = apply_batch(store, vec![check_report("api", "b", Healthy, t(9))], t(12))
        .await
        .expect_err("out of order");
    assert!(matches!(err, ReportError::CheckOutOfOrder { latest, .. } if latest == t(10)));
    apply_batch(store, vec![check_report("api", "c", Healthy, t(5))], t(12)).await.expect("c");
    apply_batch(store, vec![report("api", Healthy, t(6))], t(12)).await.expect("unnamed");
    let err = apply_batch(store, vec![report("api", Healthy, t(5))], t(12))
        .await
        .expect_err("out of order");
    assert!(matches!(err, ReportError::OutOfOrder { latest, .. } if latest == t(6)));
    assert_eq!(store.list_checks(&id("api")).await.expect("checks").len(), 4);

    // Forgetting the check that is down recovers the system and its
    // objectives at that instant, and deletes the row.
    let mut tx = store.begin().await.expect("begin");
    let mut world = tx.load_world(&[id("api")]).await.expect("world");
    let changes =
        forget_check(&mut world, &id("api"), &ck("a"), t(20), &mut new_id).expect("known check");
    tx.write_changes(&changes).await.expect("write");
    tx.commit().await.expect("commit");
    let checks = store.list_checks(&id("api")).await.expect("checks");
    assert_eq!(checks.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(), vec!["", "b", "c"]);
    let row = store.get_system(&id("api")).await.expect("get").expect("exists");
    assert_eq!(row.effective_status, Healthy);
    for objective in ["bound", "all"] {
        let events = store.list_events(objective, 10).await.expect("events");
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].start_time, events[0].end_time), (t(10), Some(t(20))));
    }
}

pub async fn upstream_split_round_trip(store: &dyn Store) {
    seed(store, &["api", "db"], &[("api", "db")]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::SelfOnly)).await;
    apply(store, vec![report("api", HealthStatus::Unhealthy, t(10))], t(10)).await;
    apply(store, vec![report("db", HealthStatus::Unhealthy, t(12))], t(12)).await;
    let events = store.list_events("o1", 10).await.expect("events");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].start_time, t(12));
    assert_eq!(events[0].attribution.upstream_id(), Some(&id("db")));
    assert_eq!(events[1].end_time, Some(t(12)));

    apply(store, vec![report("db", HealthStatus::Healthy, t(15))], t(15)).await;
    let events = store.list_events("o1", 10).await.expect("events");
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].start_time, t(15));
    assert_eq!(events[0].end_time, None);
    assert_eq!(events[0].attribution.type_str(), "self");

    let spans = store.event_spans(&["o1".into()], t(0), t(20)).await.expect("spans");
    assert_eq!(spans.spans["o1"].len(), 3);
    assert_eq!(spans.upstreams, vec![(id("db"), "db name".to_owned())]);
}

pub async fn one_open_event_per_objective(store: &dyn Store) {
    seed(store, &["api"], &[]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::Strict)).await;
    apply(store, vec![report("api", HealthStatus::Unhealthy, t(10))], t(10)).await;
    // Writing a second open event for the same objective must be refused by
    // the database itself, whatever the engine did.
    let mut tx = store.begin().await.expect("begin");
    let mut world = tx.load_world(&[id("api")]).await.expect("world");
    let mut duplicate = world.objectives[&id("api")][0].open_event.clone().expect("open");
    duplicate.id = new_id();
    world.objectives.clear();
    let changes = slod_core::engine::Changeset { inserted: vec![duplicate], ..Default::default() };
    let result = tx.write_changes(&changes).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "got {result:?}");
}

pub async fn uncommitted_transactions_leave_nothing(store: &dyn Store) {
    let mut tx = store.begin().await.expect("begin");
    tx.upsert_system(&id("ghost"), "Ghost", t(0)).await.expect("upsert");
    drop(tx);
    assert!(store.get_system(&id("ghost")).await.expect("get").is_none());
    // The writer is usable again afterwards.
    seed(store, &["real"], &[]).await;
    assert!(store.get_system(&id("real")).await.expect("get").is_some());
}

pub async fn deleting_a_system_cascades(store: &dyn Store) {
    seed(store, &["api", "db"], &[("api", "db")]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::Strict)).await;
    apply(store, vec![report("api", HealthStatus::Unhealthy, t(10))], t(10)).await;
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.delete_system(&id("api")).await.expect("delete"));
    assert!(!tx.delete_system(&id("api")).await.expect("delete again"));
    tx.commit().await.expect("commit");
    assert!(store.get_objective("o1").await.expect("get").is_none());
    assert!(store.list_events("o1", 10).await.expect("events").is_empty());
    assert!(store.dependencies(&id("db")).await.expect("deps").downstream.is_empty());
    assert!(store.get_system(&id("db")).await.expect("get").is_some());
}

pub async fn events_newest_first_and_spans_windowed(store: &dyn Store) {
    seed(store, &["api"], &[]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::Strict)).await;
    add_objective(store, objective("o2", "api", DependencyExclusion::Strict)).await;
    for i in 0..5 {
        apply(
            store,
            vec![
                report("api", HealthStatus::Unhealthy, t(100 * i)),
                report("api", HealthStatus::Healthy, t(100 * i + 10)),
            ],
            t(100 * i + 10),
        )
        .await;
    }
    let events = store.list_events("o1", 3).await.expect("events");
    let starts: Vec<Timestamp> = events.iter().map(|e| e.start_time).collect();
    assert_eq!(starts, [t(400), t(300), t(200)]);
    // Only events overlapping [since, until) come back.
    let spans =
        store.event_spans(&["o1".into(), "o2".into()], t(205), t(300)).await.expect("spans");
    assert_eq!(spans.spans["o1"].len(), 1);
    assert_eq!({ spans.spans["o1"][0].start }, t(200).millis());
    assert_eq!(spans.spans["o2"].len(), 1);
    let none = store.event_spans(&[], t(0), t(1000)).await.expect("spans");
    assert!(none.spans.is_empty());
}

/// An event or span as `(start, end or OPEN_END, upstream)`.
type Piece = (i64, i64, Option<SystemId>);

/// The events overlapping `[since, until)` (open ones running to
/// `OPEN_END`), sorted.
fn events_in(
    events: &[slod_core::model::DowntimeEvent],
    since: Timestamp,
    until: Timestamp,
) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = events
        .iter()
        .filter(|e| e.end_time.is_none_or(|end| end > since) && e.start_time < until)
        .map(|e| {
            let end = e.end_time.map_or(slod_core::status::OPEN_END, |end| end.millis());
            (e.start_time.millis(), end, e.attribution.upstream_id().cloned())
        })
        .collect();
    pieces.sort();
    pieces
}

/// The spans `event_spans` gave for `objective`, upstreams resolved, sorted.
fn spans_of(spans: &SpanSet, objective: &str) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = spans
        .spans
        .get(objective)
        .map(crate::Spans::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|s| {
            let upstream = match s.upstream {
                0 => None,
                n => Some(spans.upstreams[n as usize - 1].0.clone()),
            };
            (s.start, s.end, upstream)
        })
        .collect();
    pieces.sort();
    pieces
}

/// `event_spans` is the events, packed: for any window and any set of
/// objectives it returns exactly the events overlapping the window (open
/// ones running to `OPEN_END`), with every upstream in its table under the
/// name stored on the events. Backends read spans in bulk (aggregated per
/// objective), so this checks the packing against `list_events`.
pub async fn event_spans_match_the_events(store: &dyn Store) {
    use std::collections::BTreeMap;

    seed(store, &["api", "db", "cache", "web"], &[("api", "db"), ("api", "cache"), ("web", "api")])
        .await;
    add_objective(store, objective("o-self", "api", DependencyExclusion::SelfOnly)).await;
    add_objective(store, objective("o-strict", "api", DependencyExclusion::Strict)).await;
    add_objective(store, objective("o-db", "db", DependencyExclusion::Strict)).await;
    add_objective(store, objective("o-web", "web", DependencyExclusion::SelfOnly)).await;
    // Twenty rounds of overlapping outages: api down, db down (a split to
    // db), cache down, db up (a split to cache), and so on; the last round
    // leaves everything down, so every objective ends with an open event.
    for round in 0..20 {
        let base = round * 100;
        let down = HealthStatus::Unhealthy;
        let up = HealthStatus::Healthy;
        let mut steps = vec![
            ("web", down, 1),
            ("api", down, 2),
            ("db", down, 10),
            ("cache", down, 20),
            ("db", up, 30),
            ("cache", up, 40 + round % 7),
        ];
        if round < 19 {
            steps.extend([("api", up, 60), ("web", up, 70)]);
        } else {
            steps.push(("db", down, 80));
        }
        for (system, status, minute) in steps {
            apply(store, vec![report(system, status, t(base + minute))], t(base + minute)).await;
        }
    }

    let objectives = ["o-self", "o-strict", "o-db", "o-web"];
    let mut all = BTreeMap::new();
    for o in objectives {
        let events = store.list_events(o, 10_000).await.expect("events");
        assert!(events.len() >= 20, "{o}: {} events", events.len());
        all.insert(o, events);
    }
    assert!(all["o-self"].iter().any(|e| e.attribution.upstream_id() == Some(&id("cache"))));
    let windows = [(t(0), t(5000)), (t(-100), t(0)), (t(450), t(1234)), (t(1905), t(1990))];
    for (since, until) in windows {
        for wanted in [&objectives[..], &objectives[..1], &objectives[2..]] {
            let ids: Vec<String> = wanted.iter().map(|o| (*o).to_owned()).collect();
            let spans = store.event_spans(&ids, since, until).await.expect("spans");
            for (upstream, name) in &spans.upstreams {
                assert_eq!(name, &format!("{upstream} name"));
            }
            for o in objectives {
                let expected =
                    if wanted.contains(&o) { events_in(&all[o], since, until) } else { Vec::new() };
                assert_eq!(spans_of(&spans, o), expected, "{o} in [{since}, {until})");
            }
        }
    }
    // More ids than a backend puts in an IN list: the same spans.
    let mut many: Vec<String> = (0..600).map(|n| format!("no-such-objective-{n}")).collect();
    many.push("o-strict".to_owned());
    let spans = store.event_spans(&many, t(0), t(5000)).await.expect("spans");
    assert_eq!(spans.spans.len(), 1);
    assert_eq!(spans.spans["o-strict"].len(), all["o-strict"].len());
}

/// The first read of many objectives at once (a backend may read it in
/// parts, see `span_cache::load_in_halves`) answers exactly each one's events.
pub async fn a_first_load_of_many_objectives_reads_them_all(store: &dyn Store) {
    seed(store, &["api", "db"], &[("api", "db")]).await;
    let ids: Vec<String> = (0..260).map(|n| format!("o-{n:03}")).collect();
    for (n, oid) in ids.iter().enumerate() {
        let mode =
            if n % 2 == 0 { DependencyExclusion::Strict } else { DependencyExclusion::SelfOnly };
        add_objective(store, objective(oid, if n % 3 == 0 { "db" } else { "api" }, mode)).await;
    }
    let down = HealthStatus::Unhealthy;
    let up = HealthStatus::Healthy;
    for (system, status, minute) in
        [("db", down, 1), ("api", down, 2), ("db", up, 4), ("api", up, 6), ("api", down, 9)]
    {
        apply(store, vec![report(system, status, t(minute))], t(minute)).await;
    }
    let spans = store.event_spans(&ids, t(0), t(100)).await.expect("spans");
    for oid in &ids {
        let events = store.list_events(oid, 100).await.expect("events");
        assert!(!events.is_empty(), "{oid} has events");
        assert_eq!(spans_of(&spans, oid), events_in(&events, t(0), t(100)), "{oid}");
    }
}

/// `event_spans` stays exactly the events while they open, split and close
/// between reads: a backend may keep what it read (closed events never
/// change), so every read here, of several windows, follows a change.
pub async fn event_spans_follow_every_change(store: &dyn Store) {
    seed(store, &["api", "db"], &[("api", "db")]).await;
    add_objective(store, objective("o-self", "api", DependencyExclusion::SelfOnly)).await;
    add_objective(store, objective("o-db", "db", DependencyExclusion::Strict)).await;
    let objectives = ["o-self", "o-db"];
    let down = HealthStatus::Unhealthy;
    let up = HealthStatus::Healthy;
    let mut minute = 0;
    for round in 0..12 {
        let steps = [("api", down), ("db", down), ("db", up), ("api", up)];
        for (step, (system, status)) in steps.into_iter().enumerate() {
            minute += 3 + (round + i64::try_from(step).expect("four steps")) % 4;
            apply(store, vec![report(system, status, t(minute))], t(minute)).await;
            for (since, until) in
                [(t(0), t(minute + 10)), (t(minute - 20), t(minute)), (t(-5), t(3))]
            {
                let ids: Vec<String> = objectives.iter().map(|o| (*o).to_owned()).collect();
                let spans = store.event_spans(&ids, since, until).await.expect("spans");
                for o in objectives {
                    let events = store.list_events(o, 10_000).await.expect("events");
                    assert_eq!(
                        spans_of(&spans, o),
                        events_in(&events, since, until),
                        "{o} in [{since}, {until}) after minute {minute}"
                    );
                }
            }
        }
    }
    let events = store.list_events("o-self", 10_000).await.expect("events");
    assert!(
        events.iter().any(|e| e.attribution.upstream_id() == Some(&id("db"))),
        "splits happened"
    );
}

/// Two stores on one database (a server and `slod apply --database`, or
/// two replicas): whatever one writes, the other's next read answers, however
/// much it keeps in memory between reads. Not in the suite's macro: it needs
/// a second store; each backend's tests open one on the same database.
pub async fn another_stores_writes_are_read(reader: &dyn Store, writer: &dyn Store) {
    use slod_core::streak::Streak;

    seed(writer, &["api", "db"], &[("api", "db")]).await;
    add_objective(writer, objective("o-self", "api", DependencyExclusion::SelfOnly)).await;
    let objective_ids = |objectives: Vec<Objective>| -> Vec<String> {
        objectives.into_iter().map(|o| o.id.to_string()).collect()
    };
    let check = |round: i64| async move {
        // Twice: the second read may come from what the first one kept.
        for _ in 0..2 {
            let listed = reader.list_objectives(None).await.expect("objectives");
            let expected = writer.list_objectives(None).await.expect("objectives");
            assert_eq!(listed, expected, "objectives after round {round}");
            let ids = objective_ids(listed);
            let streaks = reader.streaks(Some(&ids)).await.expect("streaks");
            assert_eq!(streaks, writer.streaks(Some(&ids)).await.expect("streaks"), "streaks");
            let spans = reader.event_spans(&ids, t(0), t(10_000)).await.expect("spans");
            for o in &ids {
                let events = writer.list_events(o, 10_000).await.expect("events");
                let expected = events_in(&events, t(0), t(10_000));
                assert_eq!(spans_of(&spans, o), expected, "{o} after round {round}");
            }
        }
    };
    check(0).await;
    let down = HealthStatus::Unhealthy;
    let up = HealthStatus::Healthy;
    for round in 1..=6 {
        let minute = round * 10;
        // An outage opens, is split by its upstream, and closes.
        let steps = [("api", down, 1), ("db", down, 3), ("db", up, 5), ("api", up, 7)];
        for (system, status, offset) in steps {
            let at = t(minute + offset);
            apply(writer, vec![report(system, status, at)], at).await;
            check(round).await;
        }
        if round == 2 {
            add_objective(writer, objective("o-db", "db", DependencyExclusion::Strict)).await;
        }
        if round == 4 {
            let streak = Streak { current_streak: 4, best_streak: 4, ..Streak::default() };
            let mut tx = writer.begin().await.expect("begin");
            tx.save_streaks(&[("o-self".to_owned(), streak)]).await.expect("save");
            tx.commit().await.expect("commit");
        }
        if round == 5 {
            let mut tx = writer.begin().await.expect("begin");
            tx.delete_objective("o-db").await.expect("delete");
            tx.commit().await.expect("commit");
        }
        check(round).await;
    }
    let streaks = reader.streaks(None).await.expect("streaks");
    assert_eq!(streaks.len(), 1);
    assert_eq!(streaks[0].streak.current_streak, 4, "the other store's streak was read");
}

/// Reports for different systems apply in arrival order; a system's own late
/// reports must not open downtime inside history already charged (the world
/// carries `charged_until` from storage).
pub async fn late_reports_never_double_charge(store: &dyn Store) {
    seed(store, &["api", "db"], &[("api", "db")]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::SelfOnly)).await;
    apply(store, vec![report("api", HealthStatus::Unhealthy, t(10))], t(30)).await;
    apply(store, vec![report("db", HealthStatus::Unhealthy, t(20))], t(30)).await;
    apply(store, vec![report("api", HealthStatus::Healthy, t(15))], t(30)).await;
    apply(store, vec![report("api", HealthStatus::Unhealthy, t(16))], t(30)).await;

    let mut tx = store.begin().await.expect("begin");
    let world = tx.load_world(&[id("api")]).await.expect("world");
    assert_eq!(world.objectives[&id("api")][0].charged_until, Some(t(20)));
    drop(tx);

    let mut events = store.list_events("o1", 50).await.expect("events");
    events.sort_by_key(|e| e.start_time);
    for pair in events.windows(2) {
        let end = pair[0].end_time.expect("only the last event may be open");
        assert!(end <= pair[1].start_time, "overlapping events: {pair:?}");
    }
}

/// Events enqueued in a transaction appear only if it commits, in order,
/// with their payloads intact; a transaction sees its own event writes.
pub async fn outbox_is_transactional(store: &dyn Store) {
    use slod_core::events::{EventType, NotificationEvent};

    seed(store, &["api"], &[]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::Strict)).await;
    let event = |n: u32| {
        NotificationEvent::new(
            format!("ev-{n}"),
            EventType::StatusChanged,
            t(i64::from(n)),
            serde_json::json!({"objectiveId": "o1", "n": n, "isBreaching": false}),
        )
    };

    let mut tx = store.begin().await.expect("begin");
    tx.enqueue_events(&[event(1)]).await.expect("enqueue");
    drop(tx);
    assert!(store.events_after(0, 10).await.expect("tail").is_empty());

    let mut tx = store.begin().await.expect("begin");
    let mut world = tx.load_world(&[id("api")]).await.expect("world");
    let changes = apply_reports(
        &mut world,
        vec![report("api", HealthStatus::Unhealthy, t(10))],
        t(20),
        &mut new_id,
    )
    .expect("apply");
    tx.write_changes(&changes).await.expect("write");
    let spans = tx.event_spans(&["o1".into()], t(0), t(20)).await.expect("spans in tx");
    assert_eq!(spans.spans["o1"].len(), 1, "the transaction sees its own event");
    tx.enqueue_events(&[event(2), event(3)]).await.expect("enqueue");
    tx.commit().await.expect("commit");

    let tail = store.events_after(0, 10).await.expect("tail");
    assert_eq!(tail.len(), 2);
    assert!(tail[0].0 < tail[1].0);
    assert_eq!(tail[0].1, event(2));
    assert_eq!(tail[1].1.data["n"], 3);
    let rest = store.events_after(tail[0].0, 10).await.expect("tail");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].1.id, "ev-3");
}

// ---- Notifications (SPEC §8): channels, fan-out, deliveries, alert state.

fn notify_channel(
    cid: &str,
    events: Option<Vec<slod_core::events::EventType>>,
) -> crate::notify::ChannelRow {
    crate::notify::ChannelRow {
        id: cid.to_owned(),
        name: format!("{cid} channel"),
        kind: crate::notify::ChannelKind::Webhook,
        url: format!("http://127.0.0.1:9/{cid}"),
        secret: Some(format!("{cid}-secret")),
        events,
        created_at: t(0),
        updated_at: t(0),
    }
}

fn notify_event(
    n: u32,
    event_type: slod_core::events::EventType,
) -> slod_core::events::NotificationEvent {
    slod_core::events::NotificationEvent::new(
        format!("ev-{n}"),
        event_type,
        t(i64::from(n)),
        serde_json::json!({"systemId": "api", "objectiveId": "o1", "n": n}),
    )
}

async fn add_channel(store: &dyn Store, channel: crate::notify::ChannelRow) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_channel(&channel).await.expect("insert channel");
    tx.commit().await.expect("commit");
}

async fn enqueue(store: &dyn Store, events: &[slod_core::events::NotificationEvent]) {
    let mut tx = store.begin().await.expect("begin");
    tx.enqueue_events(events).await.expect("enqueue");
    tx.commit().await.expect("commit");
}

/// Channels are stored with their secret and subscriptions; updates replace
/// every field but the id and creation time; a duplicate id conflicts.
pub async fn channels_round_trip(store: &dyn Store) {
    use slod_core::events::EventType;

    use crate::notify::ChannelKind;

    let all = notify_channel("c1", None);
    let mut some = notify_channel("c2", Some(vec![EventType::BudgetWarning, EventType::BurnFast]));
    some.kind = ChannelKind::Slack;
    some.secret = None;
    some.created_at = t(1);
    add_channel(store, all.clone()).await;
    add_channel(store, some.clone()).await;

    assert_eq!(store.get_channel("c1").await.expect("get"), Some(all.clone()));
    assert_eq!(store.get_channel("c2").await.expect("get"), Some(some.clone()));
    assert!(store.get_channel("nope").await.expect("get").is_none());
    let listed = store.list_channels().await.expect("list");
    assert_eq!(listed, vec![all.clone(), some.clone()]);

    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(tx.insert_channel(&all).await, Err(StoreError::Conflict(_))));
    drop(tx);

    let mut changed = all.clone();
    changed.name = "renamed".into();
    changed.kind = ChannelKind::Teams;
    changed.url = "https://example.com/teams".into();
    changed.secret = None;
    changed.events = Some(vec![EventType::WeeklyDigest]);
    changed.updated_at = t(9);
    let mut tx = store.begin().await.expect("begin");
    tx.update_channel(&changed).await.expect("update");
    let mut ghost = changed.clone();
    ghost.id = "ghost".into();
    assert!(matches!(tx.update_channel(&ghost).await, Err(StoreError::NotFound)));
    assert!(tx.delete_channel("c2").await.expect("delete"));
    assert!(!tx.delete_channel("c2").await.expect("delete again"));
    tx.commit().await.expect("commit");
    assert_eq!(store.get_channel("c1").await.expect("get"), Some(changed));
    assert!(store.get_channel("c2").await.expect("get").is_none());
}

/// Enqueueing an event writes one delivery per channel subscribed to its
/// type, in the same transaction; a channel created later gets none of the
/// earlier events.
pub async fn enqueue_fans_out_to_subscribed_channels(store: &dyn Store) {
    use slod_core::events::EventType;

    add_channel(store, notify_channel("all", None)).await;
    add_channel(store, notify_channel("warn", Some(vec![EventType::BudgetWarning]))).await;

    let mut tx = store.begin().await.expect("begin");
    tx.enqueue_events(&[notify_event(1, EventType::BudgetWarning)]).await.expect("enqueue");
    drop(tx);
    assert!(store.due_channels(t(100)).await.expect("due").is_empty());

    enqueue(
        store,
        &[notify_event(2, EventType::StatusChanged), notify_event(3, EventType::BudgetWarning)],
    )
    .await;
    add_channel(store, notify_channel("late", None)).await;

    let all = store.list_deliveries("all", 10).await.expect("deliveries");
    let ids: Vec<&str> = all.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(ids, ["ev-3", "ev-2"], "newest first");
    assert_eq!(all[0].event_type, EventType::BudgetWarning);
    assert_eq!(all[0].occurred_at, t(3));
    assert_eq!(all[0].state, crate::notify::DeliveryState::Pending);
    assert_eq!(all[0].next_attempt_at, Some(t(3)), "due when the event occurred");
    assert!(all[0].attempts.is_empty());
    let warn = store.list_deliveries("warn", 10).await.expect("deliveries");
    assert_eq!(warn.len(), 1);
    assert_eq!(warn[0].event_id, "ev-3");
    assert!(store.list_deliveries("late", 10).await.expect("deliveries").is_empty());
    assert_eq!(store.list_deliveries("all", 1).await.expect("deliveries").len(), 1);
    // ev-2 and ev-3 to `all`, ev-3 to `warn`; the dropped transaction's
    // ev-1 left nothing.
    assert_eq!(store.pending_deliveries().await.expect("pending"), 3);

    let mut due = store.due_channels(t(3)).await.expect("due");
    due.sort();
    assert_eq!(due, ["all", "warn"]);
    assert_eq!(store.due_channels(t(2)).await.expect("due"), ["all"]);
}

/// Claims lease rows (up to n per channel, oldest first) so a second claim
/// skips them until the lease expires; records apply only under the current
/// lease token, and are logged either way.
pub async fn deliveries_claim_lease_and_record(store: &dyn Store) {
    use slod_core::events::EventType;

    use crate::notify::{AttemptOutcome, AttemptRecord, DeliveryState};

    add_channel(store, notify_channel("a", None)).await;
    add_channel(store, notify_channel("b", None)).await;
    enqueue(
        store,
        &[
            notify_event(1, EventType::StatusChanged),
            notify_event(2, EventType::BudgetWarning),
            notify_event(3, EventType::BudgetCritical),
        ],
    )
    .await;

    let claim = |now: Timestamp, lease: Timestamp, wanted: Vec<(&'static str, u32)>| async move {
        let wanted: Vec<(String, u32)> =
            wanted.into_iter().map(|(c, n)| (c.to_owned(), n)).collect();
        let mut tx = store.begin().await.expect("begin");
        let claimed = tx.claim_deliveries(now, lease, &wanted).await.expect("claim");
        tx.commit().await.expect("commit");
        claimed
    };

    // Nothing is due before the events occurred.
    assert!(claim(t(0), t(60), vec![("a", 10)]).await.is_empty());
    let first = claim(t(10), t(20), vec![("a", 2), ("b", 0)]).await;
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].event.id, "ev-1");
    assert_eq!(first[1].event.id, "ev-2");
    assert_eq!(first[0].attempt, 1);
    assert_eq!(first[0].first_attempt_at, None);
    assert_eq!(first[0].channel.id, "a");
    assert_eq!(first[0].channel.secret.as_deref(), Some("a-secret"));
    assert_eq!(first[1].event, notify_event(2, EventType::BudgetWarning));

    // Leased rows are skipped; the rest of channel a, and b, are claimable.
    let second = claim(t(11), t(20), vec![("a", 10), ("b", 1)]).await;
    let mut got: Vec<(String, String)> =
        second.iter().map(|d| (d.channel.id.clone(), d.event.id.clone())).collect();
    got.sort();
    assert_eq!(got, [("a".into(), "ev-3".into()), ("b".into(), "ev-1".into())]);
    assert!(store.due_channels(t(11)).await.expect("due").contains(&"b".to_owned()));
    assert!(!store.due_channels(t(11)).await.expect("due").contains(&"a".to_owned()));

    // ev-1 to a failed: retried at t(15). ev-2 to a delivered.
    let record =
        |d: &crate::notify::ClaimedDelivery, code: u16, outcome: AttemptOutcome| AttemptRecord {
            delivery_id: d.delivery_id,
            lease_token: d.lease_token.clone(),
            channel_id: d.channel.id.clone(),
            event_id: d.event.id.clone(),
            event_type: d.event.event_type,
            attempt: d.attempt,
            started_at: t(10),
            finished_at: t(11),
            status_code: Some(code),
            error: (code >= 300).then(|| format!("HTTP {code}")),
            outcome,
        };
    let mut tx = store.begin().await.expect("begin");
    tx.record_attempts(&[
        record(&first[0], 500, AttemptOutcome::RetryAt(t(15))),
        record(&first[1], 204, AttemptOutcome::Delivered),
    ])
    .await
    .expect("record");
    tx.commit().await.expect("commit");

    assert!(claim(t(14), t(30), vec![("a", 10)]).await.is_empty(), "not due before the retry");
    let retry = claim(t(15), t(30), vec![("a", 10)]).await;
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].event.id, "ev-1");
    assert_eq!(retry[0].attempt, 2);
    assert_eq!(retry[0].first_attempt_at, Some(t(11)));

    // The retry's lease expires unrecorded (a killed worker); it is claimed
    // again with a new token, and the stale worker's late record is logged
    // but does not touch the delivery.
    let again = claim(t(30), t(40), vec![("a", 10)]).await;
    let ev1 = again.iter().find(|d| d.event.id == "ev-1").expect("ev-1 due again");
    assert_eq!(ev1.attempt, 2);
    assert_ne!(ev1.lease_token, retry[0].lease_token);
    let mut tx = store.begin().await.expect("begin");
    tx.record_attempts(&[record(&retry[0], 204, AttemptOutcome::Delivered)]).await.expect("stale");
    tx.commit().await.expect("commit");
    let deliveries = store.list_deliveries("a", 10).await.expect("deliveries");
    let ev1_row = deliveries.iter().find(|d| d.event_id == "ev-1").expect("row");
    assert_eq!(ev1_row.state, DeliveryState::Pending, "the stale record changed nothing");
    assert_eq!(ev1_row.attempts.len(), 2, "but the attempt is logged");

    let mut tx = store.begin().await.expect("begin");
    tx.record_attempts(&[record(ev1, 200, AttemptOutcome::GaveUp)]).await.expect("record");
    tx.commit().await.expect("commit");
    let deliveries = store.list_deliveries("a", 10).await.expect("deliveries");
    let by_event = |id: &str| deliveries.iter().find(|d| d.event_id == id).expect("row").clone();
    let ev1_row = by_event("ev-1");
    assert_eq!(ev1_row.state, DeliveryState::Failed);
    assert_eq!(ev1_row.next_attempt_at, None);
    let attempts: Vec<(u32, Option<u16>)> =
        ev1_row.attempts.iter().map(|a| (a.attempt, a.status_code)).collect();
    assert_eq!(attempts, [(1, Some(500)), (2, Some(204)), (2, Some(200))]);
    assert_eq!(ev1_row.attempts[0].error.as_deref(), Some("HTTP 500"));
    assert!(!ev1_row.attempts[0].delivered);
    let ev2_row = by_event("ev-2");
    assert_eq!(ev2_row.state, DeliveryState::Delivered);
    assert_eq!(ev2_row.delivered_at, Some(t(11)));
    assert!(ev2_row.attempts[0].delivered);
    // Left pending: ev-3 to a, and all three to b; delivered and abandoned
    // ones are no longer counted.
    assert_eq!(store.pending_deliveries().await.expect("pending"), 4);
    assert!(claim(t(1000), t(2000), vec![("a", 10)]).await.iter().all(|d| d.event.id == "ev-3"));

    // Finished deliveries are pruned; pending ones stay.
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.prune_deliveries(t(12)).await.expect("prune"), 2);
    tx.commit().await.expect("commit");
    let left: Vec<String> = store
        .list_deliveries("a", 10)
        .await
        .expect("deliveries")
        .into_iter()
        .map(|d| d.event_id)
        .collect();
    assert_eq!(left, ["ev-3"]);

    // Deleting a channel deletes its deliveries and attempts.
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.delete_channel("b").await.expect("delete"));
    tx.commit().await.expect("commit");
    assert!(store.list_deliveries("b", 10).await.expect("deliveries").is_empty());
    assert!(claim(t(1000), t(2000), vec![("b", 10)]).await.is_empty());
}

/// Alert state changes only by compare-and-swap, starts empty, and goes
/// with its objective.
pub async fn alert_state_compare_and_swap(store: &dyn Store) {
    use crate::notify::AlertState;

    seed(store, &["api"], &[]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::Strict)).await;
    add_objective(store, objective("o2", "api", DependencyExclusion::Strict)).await;
    let none = AlertState::default();
    let warned = AlertState { warning: true, ..none };
    let burning = AlertState { warning: true, burn_fast: true, ..none };
    // Tiers 0 and 9 of `burnRateAlerts` fired.
    let tiers = AlertState { burn_tiers: 0b10_0000_0001, ..burning };

    let mut tx = store.begin().await.expect("begin");
    assert!(tx.alert_states(&["o1".into()]).await.expect("states").is_empty());
    assert!(tx.swap_alert_state("o1", none, warned, t(1)).await.expect("swap"));
    assert!(!tx.swap_alert_state("o1", none, warned, t(1)).await.expect("stale swap"));
    assert!(!tx.swap_alert_state("o2", warned, burning, t(1)).await.expect("absent is default"));
    assert!(tx.swap_alert_state("o1", warned, burning, t(2)).await.expect("swap"));
    assert!(!tx.swap_alert_state("ghost", none, warned, t(2)).await.expect("unknown objective"));
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    let states =
        tx.alert_states(&["o1".into(), "o2".into(), "ghost".into()]).await.expect("states");
    assert_eq!(states.len(), 1);
    assert_eq!(states["o1"], burning);
    // Re-arming goes back to the default, and swaps from there again.
    assert!(tx.swap_alert_state("o1", burning, none, t(3)).await.expect("re-arm"));
    assert!(tx.swap_alert_state("o1", none, warned, t(4)).await.expect("fire again"));
    // The tier bits take part in the compare too.
    assert!(tx.swap_alert_state("o2", none, tiers, t(4)).await.expect("tiers from nothing"));
    let one_tier = AlertState { burn_tiers: 1, ..burning };
    assert!(!tx.swap_alert_state("o2", one_tier, none, t(5)).await.expect("stale tiers"));
    assert_eq!(tx.alert_states(&["o2".into()]).await.expect("states")["o2"], tiers);
    assert!(tx.swap_alert_state("o2", tiers, one_tier, t(5)).await.expect("re-arm one tier"));
    assert_eq!(tx.alert_states(&["o2".into()]).await.expect("states")["o2"], one_tier);
    assert!(tx.delete_objective("o1").await.expect("delete"));
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert!(tx.alert_states(&["o1".into()]).await.expect("states").is_empty(), "cascaded");
    drop(tx);
}

/// Many swaps at once answer what they would one by one: a row as
/// expected swaps, a missing row expected empty is created, a stale or
/// unknown one is left alone, and a repeated objective sees the swap before
/// it.
pub async fn alert_states_swap_together(store: &dyn Store) {
    use crate::notify::{AlertState, AlertSwap};

    seed(store, &["api"], &[]).await;
    for id in ["o1", "o2", "o3", "o4"] {
        add_objective(store, objective(id, "api", DependencyExclusion::Strict)).await;
    }
    let none = AlertState::default();
    let warned = AlertState { warning: true, ..none };
    let exhausted = AlertState { warning: true, critical: true, exhausted: true, ..none };
    let tiers = AlertState { burn_tiers: 0b101, ..warned };
    let swap = |id: &str, expected, new| AlertSwap { objective_id: id.into(), expected, new };

    let mut tx = store.begin().await.expect("begin");
    assert!(tx.swap_alert_state("o1", none, warned, t(1)).await.expect("swap"));
    assert!(tx.swap_alert_state("o2", none, warned, t(1)).await.expect("swap"));
    let changed = tx
        .swap_alert_states(
            &[
                swap("o1", warned, exhausted), // as expected
                swap("o2", tiers, none),       // stale
                swap("o3", none, tiers),       // no row yet
                swap("o4", warned, none),      // no row, expected one
                swap("ghost", none, warned),   // no such objective
            ],
            t(2),
        )
        .await
        .expect("swaps");
    assert_eq!(changed.into_iter().collect::<Vec<_>>(), ["o1", "o3"]);
    let ids: Vec<String> = ["o1", "o2", "o3", "o4", "ghost"].map(String::from).to_vec();
    let states = tx.alert_states(&ids).await.expect("states");
    assert_eq!(states.len(), 3, "{states:?}");
    assert_eq!((states["o1"], states["o2"], states["o3"]), (exhausted, warned, tiers));
    // The same objective twice: the second sees the first.
    let changed = tx
        .swap_alert_states(&[swap("o2", warned, none), swap("o2", none, exhausted)], t(3))
        .await
        .expect("swaps");
    assert_eq!(changed.into_iter().collect::<Vec<_>>(), ["o2"]);
    assert_eq!(tx.alert_states(&["o2".into()]).await.expect("states")["o2"], exhausted);
    assert!(tx.swap_alert_states(&[], t(3)).await.expect("nothing").is_empty());
    tx.commit().await.expect("commit");
    assert_eq!(store.alert_states(&ids).await.expect("committed").len(), 3);
}

/// The open-downtime read lists objectives with an open event; the outbox
/// head is the last sequence number.
pub async fn open_downtime_and_outbox_head(store: &dyn Store) {
    use slod_core::events::EventType;

    seed(store, &["api", "db"], &[]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::Strict)).await;
    add_objective(store, objective("o2", "db", DependencyExclusion::Strict)).await;
    assert!(store.objectives_with_open_downtime().await.expect("open").is_empty());
    apply(store, vec![report("api", HealthStatus::Unhealthy, t(10))], t(10)).await;
    apply(
        store,
        vec![
            report("db", HealthStatus::Unhealthy, t(11)),
            report("db", HealthStatus::Healthy, t(12)),
        ],
        t(12),
    )
    .await;
    assert_eq!(
        store.objectives_with_open_downtime().await.expect("open"),
        [("o1".into(), id("api"))]
    );

    assert_eq!(store.outbox_head().await.expect("head"), 0);
    enqueue(
        store,
        &[notify_event(1, EventType::StatusChanged), notify_event(2, EventType::BurnFast)],
    )
    .await;
    let tail = store.events_after(0, 10).await.expect("tail");
    assert_eq!(store.outbox_head().await.expect("head"), tail[1].0);
}

// ---- jobs (SPEC §5-§7): snapshots, streaks, achievements, digests, runs ----

fn job_snapshot(objective: &str, day: i64, availability: f64) -> slod_core::streak::Snapshot {
    slod_core::streak::Snapshot {
        objective_id: ObjectiveId::from_trusted(objective.to_owned()),
        date: t(day * 1440),
        availability_percent: availability,
        budget_consumed_minutes: 1.5,
        budget_remaining_percent: 96.5,
        burn_rate: if day % 2 == 0 { Some(0.25) } else { None },
        streak_days: u32::try_from(day).unwrap_or(0),
        original: None,
    }
}

/// Snapshots are written once per (objective, date), report which were
/// new, and read back oldest first within inclusive bounds; streaks round
/// trip with their bookkeeping; both go with their objective.
pub async fn job_snapshots_and_streaks_round_trip(store: &dyn Store) {
    use slod_core::streak::Streak;

    seed(store, &["api", "db"], &[]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::Strict)).await;
    add_objective(store, objective("o2", "db", DependencyExclusion::Strict)).await;
    assert_eq!(store.objective_ids().await.expect("ids"), ["o1", "o2"]);

    let fresh = store.streaks(None).await.expect("streaks");
    let ids: Vec<(&str, &str)> =
        fresh.iter().map(|r| (r.objective_id.as_str(), r.system_id.as_str())).collect();
    assert_eq!(ids, [("o1", "api"), ("o2", "db")]);
    assert!(fresh.iter().all(|r| r.streak == Streak::default()), "{fresh:?}");

    let saved = Streak {
        current_streak: 3,
        best_streak: 5,
        streak_start: Some(t(1440)),
        best_streak_end: Some(t(-1440)),
        last_run: Some(t(3 * 1440)),
    };
    let mut tx = store.begin().await.expect("begin");
    let locked = tx.lock_streaks(&["o1".to_owned()]).await.expect("lock");
    assert_eq!(locked.len(), 1);
    tx.save_streaks(&[("o1".to_owned(), saved.clone())]).await.expect("save");
    let inserted = tx
        .insert_snapshots(&[job_snapshot("o1", 1, 99.5), job_snapshot("o2", 1, 100.0)])
        .await
        .expect("insert");
    assert_eq!(inserted.into_iter().collect::<Vec<_>>(), ["o1", "o2"]);
    tx.commit().await.expect("commit");

    // The second write of a date is refused quietly: the first one stands.
    let mut tx = store.begin().await.expect("begin");
    let inserted = tx
        .insert_snapshots(&[job_snapshot("o1", 1, 12.0), job_snapshot("o2", 2, 98.0)])
        .await
        .expect("insert again");
    assert_eq!(inserted.into_iter().collect::<Vec<_>>(), ["o2"]);
    assert_eq!(tx.streaks(&["o1".to_owned()]).await.expect("in tx")[0].streak, saved);
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_snapshots(&[job_snapshot("o1", 3, 97.0), job_snapshot("o1", 0, 96.0)])
        .await
        .expect("insert");
    tx.commit().await.expect("commit");

    let all = store.snapshots("o1", t(0), t(3 * 1440)).await.expect("snapshots");
    let days: Vec<(Timestamp, f64)> =
        all.iter().map(|s| (s.date, s.availability_percent)).collect();
    assert_eq!(days, [(t(0), 96.0), (t(1440), 99.5), (t(3 * 1440), 97.0)]);
    assert_eq!(all[1], job_snapshot("o1", 1, 99.5), "every field round trips");
    assert_eq!(all[0].burn_rate, Some(0.25));
    let inner = store.snapshots("o1", t(1), t(3 * 1440 - 1)).await.expect("snapshots");
    assert_eq!(inner.len(), 1);
    assert!(store.snapshots("nope", t(0), t(9999)).await.expect("snapshots").is_empty());

    let o1 = store.streaks(Some(&["o1".to_owned()])).await.expect("streaks");
    assert_eq!(o1.len(), 1);
    assert_eq!(o1[0].streak, saved);
    assert!(store.streaks(Some(&[])).await.expect("streaks").is_empty());

    // A missing streak row is created by save.
    let mut tx = store.begin().await.expect("begin");
    tx.delete_objective("o2").await.expect("delete");
    tx.commit().await.expect("commit");
    assert!(store.snapshots("o2", t(0), t(9999)).await.expect("snapshots").is_empty());
    assert_eq!(store.streaks(None).await.expect("streaks").len(), 1);
}

/// Each (system, achievement) is stored once; only new unlocks come back;
/// milestones are newest first with system names; a deleted system takes
/// its achievements along.
pub async fn achievements_unlock_once(store: &dyn Store) {
    use crate::jobs::AchievementRow;
    use slod_core::achievements::AchievementType::{FirstSteps, IronUptime, RapidRecovery};

    seed(store, &["api", "db"], &[]).await;
    let row = |system: &str, achievement, minute| AchievementRow {
        system_id: id(system),
        achievement,
        unlocked_at: t(minute),
    };
    let mut tx = store.begin().await.expect("begin");
    let new = tx
        .unlock_achievements(&[
            row("api", FirstSteps, 1),
            row("api", IronUptime, 2),
            row("db", FirstSteps, 3),
            row("api", FirstSteps, 4),
        ])
        .await
        .expect("unlock");
    assert_eq!(
        new,
        [row("api", FirstSteps, 1), row("api", IronUptime, 2), row("db", FirstSteps, 3)]
    );
    assert_eq!(tx.achievements(&[id("api")]).await.expect("in tx").len(), 2);
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    let again = tx
        .unlock_achievements(&[row("api", FirstSteps, 9), row("db", RapidRecovery, 10)])
        .await
        .expect("unlock again");
    assert_eq!(again, [row("db", RapidRecovery, 10)]);
    tx.commit().await.expect("commit");

    let api = store.achievements(Some(&[id("api")])).await.expect("achievements");
    assert_eq!(api, [row("api", FirstSteps, 1), row("api", IronUptime, 2)]);
    assert_eq!(store.achievements(None).await.expect("all").len(), 4);
    assert!(store.achievements(Some(&[])).await.expect("none").is_empty());

    let feed = store.milestones(3).await.expect("milestones");
    let shape: Vec<(&str, &str, Timestamp)> = feed
        .iter()
        .map(|m| (m.system_id.as_str(), m.system_name.as_str(), m.unlocked_at))
        .collect();
    assert_eq!(
        shape,
        [("db", "db name", t(10)), ("db", "db name", t(3)), ("api", "api name", t(2))]
    );
    assert_eq!(feed[0].achievement, RapidRecovery);

    let mut tx = store.begin().await.expect("begin");
    tx.delete_system(&id("db")).await.expect("delete");
    tx.commit().await.expect("commit");
    assert_eq!(store.achievements(None).await.expect("all").len(), 2);
}

/// A period has one lease holder at a time; a completed period stays
/// completed; an expired lease is taken over; a released one is free.
pub async fn job_runs_lease_complete_and_take_over(store: &dyn Store) {
    use crate::jobs::{ClaimOutcome, JobClaim, JobKind, JobRunStatus};

    let claim = |period: &'static str, start: i64, owner: &'static str, now: i64| JobClaim {
        kind: JobKind::Daily,
        period,
        period_start: t(start),
        owner,
        now: t(now),
        lease_until: t(now + 5),
    };
    async fn claim_once(store: &dyn Store, c: JobClaim<'_>) -> ClaimOutcome {
        let mut tx = store.begin().await.expect("begin");
        let outcome = tx.claim_run(&c).await.expect("claim");
        tx.commit().await.expect("commit");
        outcome
    }

    assert_eq!(claim_once(store, claim("2026-01-02", 1440, "a", 0)).await, ClaimOutcome::Claimed);
    let ClaimOutcome::Held(run) = claim_once(store, claim("2026-01-02", 1440, "b", 1)).await else {
        panic!("a live lease must be held");
    };
    assert_eq!((run.lease_owner.as_str(), run.status), ("a", JobRunStatus::Running));
    assert_eq!(run.lease_expires_at, t(5));

    let mut tx = store.begin().await.expect("begin");
    assert!(tx.renew_lease(JobKind::Daily, "2026-01-02", "a", t(20)).await.expect("renew"));
    assert!(!tx.renew_lease(JobKind::Daily, "2026-01-02", "b", t(20)).await.expect("renew"));
    assert!(!tx.complete_run(JobKind::Daily, "2026-01-02", "b", t(2), "{}").await.expect("b"));
    assert!(tx
        .complete_run(JobKind::Daily, "2026-01-02", "a", t(3), r#"{"n":1}"#)
        .await
        .expect("a"));
    tx.commit().await.expect("commit");
    let ClaimOutcome::Completed(done) =
        claim_once(store, claim("2026-01-02", 1440, "c", 100)).await
    else {
        panic!("a completed run stays completed, even after its lease time");
    };
    assert_eq!(done.result.as_deref(), Some(r#"{"n":1}"#));
    assert_eq!(done.completed_at, Some(t(3)));

    // A holder that stopped renewing is taken over; its late completion
    // is refused.
    assert_eq!(claim_once(store, claim("2026-01-01", 0, "a", 10)).await, ClaimOutcome::Claimed);
    assert!(matches!(
        claim_once(store, claim("2026-01-01", 0, "b", 14)).await,
        ClaimOutcome::Held(_)
    ));
    assert_eq!(claim_once(store, claim("2026-01-01", 0, "b", 15)).await, ClaimOutcome::Claimed);
    let mut tx = store.begin().await.expect("begin");
    assert!(!tx.complete_run(JobKind::Daily, "2026-01-01", "a", t(16), "{}").await.expect("a"));
    assert!(tx.complete_run(JobKind::Daily, "2026-01-01", "b", t(16), "{}").await.expect("b"));
    tx.commit().await.expect("commit");

    // Released: as if never attempted.
    assert_eq!(
        claim_once(store, claim("2026-01-05", 4 * 1440, "a", 20)).await,
        ClaimOutcome::Claimed
    );
    let mut tx = store.begin().await.expect("begin");
    tx.release_run(JobKind::Daily, "2026-01-05", "a").await.expect("release");
    tx.commit().await.expect("commit");
    assert!(store.job_run(JobKind::Daily, "2026-01-05").await.expect("run").is_none());
    assert_eq!(
        claim_once(store, claim("2026-01-05", 4 * 1440, "b", 21)).await,
        ClaimOutcome::Claimed
    );

    // The latest completed run goes by the period, not by when it ran.
    let latest = store.latest_completed_run(JobKind::Daily).await.expect("latest").expect("one");
    assert_eq!(latest.period, "2026-01-02");
    assert!(store.latest_completed_run(JobKind::WeeklyDigest).await.expect("latest").is_none());
    let runs = store.job_runs(None, 10).await.expect("runs");
    let periods: Vec<&str> = runs.iter().map(|r| r.period.as_str()).collect();
    assert_eq!(periods, ["2026-01-05", "2026-01-02", "2026-01-01"]);
    assert_eq!(store.job_runs(Some(JobKind::WeeklyDigest), 10).await.expect("runs").len(), 0);
    assert_eq!(store.job_runs(Some(JobKind::Daily), 1).await.expect("runs").len(), 1);
    let one = store.job_run(JobKind::Daily, "2026-01-01").await.expect("run").expect("exists");
    assert_eq!((one.lease_owner.as_str(), one.status), ("b", JobRunStatus::Completed));
}

/// Complete outages per system, most recent first, as of an instant; the
/// open outage and those that had not ended yet are left out.
pub async fn recent_outages_per_system(store: &dyn Store) {
    use crate::jobs::OutageSpan;

    seed(store, &["api", "db", "quiet"], &[]).await;
    for (start, end) in [(10, 20), (30, 34), (50, 51)] {
        apply(store, vec![report("api", HealthStatus::Unhealthy, t(start))], t(start)).await;
        apply(store, vec![report("api", HealthStatus::Healthy, t(end))], t(end)).await;
    }
    apply(store, vec![report("api", HealthStatus::Degraded, t(60))], t(60)).await;
    apply(store, vec![report("db", HealthStatus::Unhealthy, t(5))], t(5)).await;
    apply(store, vec![report("db", HealthStatus::Healthy, t(6))], t(6)).await;

    let span = |start, end| OutageSpan { start: t(start), end: t(end) };
    let systems = [id("api"), id("db"), id("quiet")];
    let recent = store.recent_outages(&systems, t(100), 2).await.expect("outages");
    assert_eq!(recent[&id("api")], [span(50, 51), span(30, 34)]);
    assert_eq!(recent[&id("db")], [span(5, 6)]);
    assert!(!recent.contains_key(&id("quiet")));
    assert_eq!(recent[&id("api")][1].duration_ms(), 4 * MINUTE_MS);

    // Many systems at once (the daily job) give the same answer.
    let mut many: Vec<SystemId> = (0..600).map(|i| id(&format!("other-{i}"))).collect();
    many.extend(systems.iter().cloned());
    assert_eq!(store.recent_outages(&many, t(100), 2).await.expect("outages"), recent);
    many.truncate(40);
    many.extend(systems.iter().cloned());
    assert_eq!(store.recent_outages(&many, t(100), 2).await.expect("outages"), recent);

    let earlier = store.recent_outages(&systems, t(34), 10).await.expect("outages");
    assert_eq!(earlier[&id("api")], [span(30, 34), span(10, 20)]);
    assert!(store.recent_outages(&[], t(100), 10).await.expect("none").is_empty());

    // A transaction sees the outage it just closed.
    let mut tx = store.begin().await.expect("begin");
    let mut world = tx.load_world(&[id("api")]).await.expect("world");
    let changes = apply_reports(
        &mut world,
        vec![report("api", HealthStatus::Healthy, t(63))],
        t(63),
        &mut new_id,
    )
    .expect("apply");
    tx.write_changes(&changes).await.expect("write");
    let seen = tx.recent_outages(&[id("api")], t(63), 1).await.expect("in tx");
    assert_eq!(seen[&id("api")], [span(60, 63)]);
    drop(tx);

    // One batch over several systems: an open outage closes, one begins
    // and ends inside the batch, one begins and stays open.
    apply(
        store,
        vec![
            report("db", HealthStatus::Unhealthy, t(70)),
            report("api", HealthStatus::Healthy, t(71)),
            report("db", HealthStatus::Healthy, t(72)),
            report("quiet", HealthStatus::Unhealthy, t(73)),
        ],
        t(73),
    )
    .await;
    let recent = store.recent_outages(&systems, t(100), 1).await.expect("outages");
    assert_eq!(recent[&id("api")], [span(60, 71)]);
    assert_eq!(recent[&id("db")], [span(70, 72)]);
    assert!(!recent.contains_key(&id("quiet")), "{recent:?}");
    let down = store.systems_down_at(&systems, t(80)).await.expect("down");
    assert_eq!(down.into_iter().collect::<Vec<_>>(), [id("quiet")]);
}

/// Digests round trip whole, newest first.
pub async fn digests_round_trip(store: &dyn Store) {
    use crate::jobs::DigestRow;
    use slod_core::digest::{TopPerformer, WeeklyDigest, WorstPerformer};

    let digest = |day: u32, total: usize| WeeklyDigest {
        week_of: t(i64::from(day) * 1440).date(),
        total_objectives: total,
        breaching_count: 1,
        at_risk_count: 0,
        healthy_count: total - 1,
        top_performers: vec![TopPerformer {
            objective_id: ObjectiveId::from_trusted("o1".into()),
            system_id: id("api"),
            system_name: "API".into(),
            availability: 99.95,
            streak_days: 12,
        }],
        worst_performers: vec![WorstPerformer {
            objective_id: ObjectiveId::from_trusted("o2".into()),
            system_id: id("db"),
            system_name: "Database".into(),
            availability: 98.5,
            budget_remaining_percent: 0.0,
        }],
    };
    let mut tx = store.begin().await.expect("begin");
    for (n, manual) in [(0u32, false), (7, true)] {
        tx.insert_digest(&DigestRow {
            id: format!("d{n}"),
            manual,
            created_at: t(i64::from(n)),
            digest: digest(n, 2 + n as usize),
        })
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    let newest = store.digests(1).await.expect("digests");
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].id, "d7");
    assert!(newest[0].manual);
    assert_eq!(newest[0].created_at, t(7));
    assert_eq!(newest[0].digest, digest(7, 9));
    assert_eq!(store.digests(10).await.expect("digests").len(), 2);
}

fn correction_row(
    cid: &str,
    system: &str,
    made: i64,
    kind: &str,
    upstream: Option<&str>,
) -> CorrectionRow {
    use slod_core::corrections::{Correction, CorrectionKind};
    CorrectionRow {
        id: cid.to_owned(),
        system_id: id(system),
        correction: Correction {
            start: t(10).millis(),
            end: t(20).millis(),
            kind: CorrectionKind::parse(kind, upstream.map(id)).expect("valid kind"),
        },
        reason: format!("{cid} reason"),
        author: "local".into(),
        created_at: t(made),
        revoked_at: None,
        revoked_by: None,
        upstream_name: None,
    }
}

/// Corrections round trip (the upstream's name joined in), list newest
/// made first with same-millisecond ones in insertion order, revoke once,
/// and only live ones reach the status path; they go with their system.
pub async fn corrections_round_trip_in_made_order(store: &dyn Store) {
    seed(store, &["api", "db"], &[]).await;
    let first = correction_row("c1", "api", 100, "false_positive", None);
    // Same millisecond as c3, inserted before it.
    let second = correction_row("c2", "api", 200, "upstream", Some("db"));
    let third = correction_row("c3", "api", 200, "maintenance", None);
    let other = correction_row("c4", "db", 50, "maintenance", None);
    let mut tx = store.begin().await.expect("begin");
    for row in [&first, &second, &third, &other] {
        tx.insert_correction(row).await.expect("insert");
    }
    assert!(tx
        .insert_correction(&correction_row("c5", "ghost", 1, "maintenance", None))
        .await
        .is_err());
    drop(tx);
    assert!(store.get_correction("c1").await.expect("get").is_none(), "rolled back");
    let mut tx = store.begin().await.expect("begin");
    for row in [&first, &second, &third, &other] {
        tx.insert_correction(row).await.expect("insert");
    }
    tx.commit().await.expect("commit");

    let got = store.get_correction("c2").await.expect("get").expect("exists");
    assert_eq!(got.upstream_name.as_deref(), Some("db name"), "the upstream's name is joined in");
    assert_eq!(CorrectionRow { upstream_name: None, ..got }, second);
    let listed = store.list_corrections(&id("api")).await.expect("list");
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["c3", "c2", "c1"]);

    let mut tx = store.begin().await.expect("begin");
    let revoked = tx.revoke_correction("c2", t(300), "local").await.expect("revoke");
    assert_eq!((revoked.revoked_at, revoked.revoked_by.as_deref()), (Some(t(300)), Some("local")));
    assert!(matches!(tx.revoke_correction("c2", t(301), "x").await, Err(StoreError::Conflict(_))));
    assert!(matches!(tx.revoke_correction("nope", t(301), "x").await, Err(StoreError::NotFound)));
    let live = CorrectionTx::live_corrections(&mut *tx, &[id("api")]).await.expect("live in tx");
    let ids: Vec<&str> = live[&id("api")].iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["c1", "c3"], "oldest made first, revoked left out");
    tx.commit().await.expect("commit");
    let live = CorrectionStore::live_corrections(store, &[id("api"), id("db"), id("x")])
        .await
        .expect("live");
    assert_eq!(live.len(), 2);
    assert_eq!(live[&id("db")], vec![other.clone()]);
    let still = store.get_correction("c2").await.expect("get").expect("the row stays");
    assert_eq!(still.revoked_by.as_deref(), Some("local"));

    let mut tx = store.begin().await.expect("begin");
    assert!(tx.delete_system(&id("api")).await.expect("delete"));
    tx.commit().await.expect("commit");
    assert!(store.get_correction("c1").await.expect("get").is_none());
    assert!(store.get_correction("c4").await.expect("get").is_some());
}

/// A recomputed snapshot takes its new figures and keeps the first ones in
/// `original`, through any number of recomputations.
pub async fn recomputed_snapshots_keep_their_original(store: &dyn Store) {
    seed(store, &["api"], &[]).await;
    add_objective(store, objective("o1", "api", DependencyExclusion::Strict)).await;
    let first = job_snapshot("o1", 2, 99.0);
    let untouched = job_snapshot("o1", 3, 98.0);
    let mut tx = store.begin().await.expect("begin");
    tx.insert_snapshots(&[first.clone(), untouched.clone()]).await.expect("insert");
    tx.commit().await.expect("commit");

    let changed = slod_core::streak::Snapshot {
        availability_percent: 100.0,
        budget_consumed_minutes: 0.0,
        budget_remaining_percent: 100.0,
        burn_rate: Some(0.0),
        streak_days: 7,
        ..first.clone()
    };
    let mut tx = store.begin().await.expect("begin");
    tx.recompute_snapshots(std::slice::from_ref(&changed)).await.expect("recompute");
    let seen = tx.all_snapshots(&["o1".to_owned(), "none".to_owned()]).await.expect("in tx");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen["o1"][0].original, Some(first.values()));
    tx.commit().await.expect("commit");
    let again = slod_core::streak::Snapshot {
        availability_percent: 50.0,
        burn_rate: None,
        ..changed.clone()
    };
    let mut tx = store.begin().await.expect("begin");
    tx.recompute_snapshots(std::slice::from_ref(&again)).await.expect("recompute again");
    tx.commit().await.expect("commit");

    let all = store.snapshots("o1", t(0), t(9 * 1440)).await.expect("snapshots");
    assert_eq!(all.len(), 2);
    let expected = slod_core::streak::Snapshot { original: Some(first.values()), ..again };
    assert_eq!(all[0], expected, "the original is the first figures, not the last");
    assert_eq!(all[1], untouched, "never recomputed: no original");
    assert_eq!(all[1].original, None);
}

/// A migrated database answers the readiness probe (SPEC §18), before and
/// after writes.
fn maintenance_row(
    wid: &str,
    system: &str,
    start: i64,
    recurrence: Option<&str>,
) -> MaintenanceWindowRow {
    MaintenanceWindowRow {
        id: wid.to_owned(),
        system_id: id(system),
        title: format!("{wid} title"),
        window: MaintenanceWindow::parse(t(start), t(start + 60), recurrence, false)
            .expect("valid window"),
        created_at: t(0),
        updated_at: t(0),
    }
}

pub async fn maintenance_windows_round_trip(store: &dyn Store) {
    seed(store, &["api", "db"], &[]).await;
    let late = maintenance_row("w-late", "api", 3 * 1440, Some("FREQ=WEEKLY;BYDAY=SU;COUNT=4"));
    let early = maintenance_row("w-early", "api", 1440, None);
    let other = maintenance_row("w-db", "db", 1440, Some("freq=daily"));
    let mut tx = store.begin().await.expect("begin");
    for row in [&late, &early, &other] {
        tx.insert_maintenance_window(row).await.expect("insert");
    }
    tx.commit().await.expect("commit");

    let got = store.get_maintenance_window("w-late").await.expect("get").expect("exists");
    assert_eq!(got, late);
    assert_eq!(
        got.window.recurrence().map(ToString::to_string).as_deref(),
        Some("FREQ=WEEKLY;BYDAY=SU;COUNT=4")
    );
    assert!(store.get_maintenance_window("nope").await.expect("get").is_none());
    let listed = store.list_maintenance_windows(&id("api")).await.expect("list");
    assert_eq!(listed, vec![early.clone(), late.clone()], "oldest start first");

    // An uncommitted change leaves nothing.
    let mut tx = store.begin().await.expect("begin");
    tx.delete_maintenance_window("w-early").await.expect("delete");
    drop(tx);
    assert!(store.get_maintenance_window("w-early").await.expect("get").is_some());

    // Update: title, plan and cancellation; the row keeps its system and
    // creation time.
    let mut changed = early.clone();
    changed.title = "renamed".into();
    changed.window =
        MaintenanceWindow::parse(t(5 * 1440), t(5 * 1440 + 30), None, true).expect("valid");
    changed.updated_at = t(9);
    let mut tx = store.begin().await.expect("begin");
    tx.update_maintenance_window(&changed).await.expect("update");
    let missing = maintenance_row("w-missing", "api", 0, None);
    assert!(matches!(tx.update_maintenance_window(&missing).await, Err(StoreError::NotFound)));
    // Cancelled windows are not active; the read sees this transaction's
    // writes.
    let active = MaintenanceTx::active_maintenance_windows(&mut *tx, &[id("api"), id("db")])
        .await
        .expect("active in tx");
    assert_eq!(active.get(&id("api")), Some(&vec![late.window.clone()]));
    tx.commit().await.expect("commit");
    assert_eq!(store.get_maintenance_window("w-early").await.expect("get"), Some(changed));

    let active =
        MaintenanceStore::active_maintenance_windows(store, &[id("api"), id("db"), id("x")])
            .await
            .expect("active");
    assert_eq!(active.len(), 2);
    assert_eq!(active.get(&id("api")), Some(&vec![late.window.clone()]));
    assert_eq!(active.get(&id("db")), Some(&vec![other.window.clone()]));
    let none = MaintenanceStore::active_maintenance_windows(store, &[]).await.expect("empty");
    assert!(none.is_empty());

    let mut tx = store.begin().await.expect("begin");
    assert!(tx.delete_maintenance_window("w-late").await.expect("delete"));
    assert!(!tx.delete_maintenance_window("w-late").await.expect("delete again"));
    tx.commit().await.expect("commit");
    let listed = store.list_maintenance_windows(&id("api")).await.expect("list");
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["w-early"]);
}

pub async fn maintenance_windows_go_with_their_system(store: &dyn Store) {
    seed(store, &["api", "db"], &[]).await;
    let mut tx = store.begin().await.expect("begin");
    tx.insert_maintenance_window(&maintenance_row("w1", "api", 0, None)).await.expect("insert");
    tx.insert_maintenance_window(&maintenance_row("w2", "db", 0, None)).await.expect("insert");
    // A window of an unknown system is refused.
    assert!(tx.insert_maintenance_window(&maintenance_row("w3", "ghost", 0, None)).await.is_err());
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    tx.insert_maintenance_window(&maintenance_row("w1", "api", 0, None)).await.expect("insert");
    tx.insert_maintenance_window(&maintenance_row("w2", "db", 0, None)).await.expect("insert");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.delete_system(&id("api")).await.expect("delete"));
    tx.commit().await.expect("commit");
    assert!(store.get_maintenance_window("w1").await.expect("get").is_none());
    assert!(store.list_maintenance_windows(&id("api")).await.expect("list").is_empty());
    assert!(store.get_maintenance_window("w2").await.expect("get").is_some());
}

pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.expect("a fresh store answers");
    let tx = store.begin().await.unwrap();
    tx.commit().await.unwrap();
    store.ping().await.expect("a store answers after a write");
}

fn token_row(id: &str, scope: Scope, minute: i64) -> TokenRow {
    TokenRow {
        id: id.to_owned(),
        name: format!("token {id}"),
        scope,
        secret_hash: format!("{id:0>64}"),
        created_at: t(minute),
        last_used_at: None,
        revoked_at: None,
    }
}

/// Tokens and sessions (SPEC §16): listed without the revoked, "any
/// active" follows revocation, a session reads with its token, and revoking
/// a token ends its sessions.
pub async fn tokens_and_sessions_round_trip(store: &dyn Store) {
    assert!(!store.any_active_token().await.expect("any"));
    let mut tx = store.begin().await.expect("begin");
    tx.insert_token(&token_row("b", Scope::Manage, 2)).await.expect("insert b");
    tx.insert_token(&token_row("a", Scope::Read, 1)).await.expect("insert a");
    tx.commit().await.expect("commit");
    assert!(store.any_active_token().await.expect("any"));
    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(
        tx.insert_token(&token_row("a", Scope::Read, 3)).await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);
    let listed = store.list_tokens().await.expect("list");
    assert_eq!(listed, vec![token_row("a", Scope::Read, 1), token_row("b", Scope::Manage, 2)]);
    assert!(store.get_token("nope").await.expect("get").is_none());

    let session = SessionRow {
        id_hash: "f".repeat(64),
        token_id: "a".to_owned(),
        created_at: t(5),
        expires_at: t(65),
    };
    let mut tx = store.begin().await.expect("begin");
    tx.insert_session(&session).await.expect("session");
    tx.touch_token("a", t(6)).await.expect("touch");
    tx.commit().await.expect("commit");
    let (got, token) = store.get_session(&session.id_hash).await.expect("get").expect("exists");
    assert_eq!(got, session);
    assert_eq!(token.last_used_at, Some(t(6)));
    assert_eq!(token.scope, Scope::Read);
    assert!(store.get_session(&"e".repeat(64)).await.expect("get").is_none());

    let mut tx = store.begin().await.expect("begin");
    assert!(tx.revoke_token("a", t(7)).await.expect("revoke"));
    assert!(!tx.revoke_token("a", t(8)).await.expect("again"), "revoked once only");
    assert!(!tx.revoke_token("nope", t(8)).await.expect("unknown"));
    tx.commit().await.expect("commit");
    assert!(store.get_session(&session.id_hash).await.expect("get").is_none(), "ended");
    assert_eq!(store.get_token("a").await.expect("get").expect("kept").revoked_at, Some(t(7)));
    assert_eq!(store.list_tokens().await.expect("list").len(), 1);

    let mut tx = store.begin().await.expect("begin");
    let old = SessionRow {
        id_hash: "1".repeat(64),
        token_id: "b".into(),
        created_at: t(0),
        expires_at: t(10),
    };
    let live = SessionRow { id_hash: "2".repeat(64), expires_at: t(100), ..old.clone() };
    tx.insert_session(&old).await.expect("old");
    tx.insert_session(&live).await.expect("live");
    assert_eq!(tx.delete_expired_sessions(t(50)).await.expect("expire"), 1);
    assert!(tx.delete_session(&live.id_hash).await.expect("delete"));
    assert!(!tx.delete_session(&live.id_hash).await.expect("gone"));
    assert!(tx.revoke_token("b", t(9)).await.expect("revoke b"));
    tx.commit().await.expect("commit");
    assert!(!store.any_active_token().await.expect("any"), "every token revoked");
}
