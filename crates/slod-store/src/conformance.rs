//! The store conformance suite: the same cases, run against every backend.
//!
//! A backend's tests call [`conformance_suite!`](crate::conformance_suite)
//! with a factory returning a fresh store (plus a guard that keeps its
//! database alive) and a cleanup function that removes what the factory made.
//! A backend that needs an external server uses the `optional` form: its
//! factory returns `Option<(store, guard)>`, and `None` (no server
//! configured) makes every case pass without running.

use slod_core::engine::{apply_reports, reconcile_objective, HealthReport};
use slod_core::model::{
    BurnRateThresholds, DependencyExclusion, HealthStatus, Objective, ReportSource, SystemId,
};
use slod_core::time::{Timestamp, MINUTE_MS};

use crate::{new_id, Store, StoreError};

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
            reports_round_trip_through_the_engine,
            upstream_split_round_trip,
            one_open_event_per_objective,
            uncommitted_transactions_leave_nothing,
            deleting_a_system_cascades,
            events_newest_first_and_spans_windowed,
            late_reports_never_double_charge,
            outbox_is_transactional
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
        id: oid.to_owned(),
        system_id: id(system),
        health_check_configuration_id: None,
        target: 99.9,
        window_days: 30,
        dependency_exclusion: mode,
        excluded_dependency_ids: vec![],
        exclude_maintenance_windows: false,
        burn_rate_thresholds: BurnRateThresholds::default(),
        created_at: t(0),
        updated_at: t(0),
    }
}

fn report(system: &str, status: HealthStatus, at: Timestamp) -> HealthReport {
    HealthReport { system_id: id(system), status, at, source: ReportSource::Healthcheck }
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
    add_objective(store, o.clone()).await;
    add_objective(store, objective("o2", "db", DependencyExclusion::Strict)).await;

    assert_eq!(store.get_objective("o1").await.expect("get"), Some(o.clone()));
    assert_eq!(store.list_objectives(None).await.expect("list").len(), 2);
    let of_db = store.list_objectives(Some(&[id("db")])).await.expect("list");
    assert_eq!(of_db.len(), 1);
    assert_eq!(of_db[0].id, "o2");
    assert!(store.list_objectives(Some(&[])).await.expect("list").is_empty());

    let mut updated = o.clone();
    updated.target = 99.0;
    updated.excluded_dependency_ids.clear();
    updated.updated_at = t(5);
    let mut tx = store.begin().await.expect("begin");
    tx.update_objective(&updated).await.expect("update");
    assert_eq!(tx.get_objective("o1").await.expect("get"), Some(updated.clone()));
    let mut ghost = updated.clone();
    ghost.id = "ghost".into();
    assert!(matches!(tx.update_objective(&ghost).await, Err(StoreError::NotFound)));
    assert!(tx.delete_objective("o2").await.expect("delete"));
    assert!(!tx.delete_objective("o2").await.expect("delete again"));
    tx.commit().await.expect("commit");
    assert_eq!(store.get_objective("o1").await.expect("get"), Some(updated));
    assert!(store.get_objective("o2").await.expect("get").is_none());
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
    assert_eq!(spans.spans["o1"][0].start, t(200).millis());
    assert_eq!(spans.spans["o2"].len(), 1);
    let none = store.event_spans(&[], t(0), t(1000)).await.expect("spans");
    assert!(none.spans.is_empty());
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
