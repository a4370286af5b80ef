//! The conformance suite on PostgreSQL, plus what only a shared database
//! has to get right: concurrent writers, deadlock recovery, start-up.
//!
//! Everything that needs a server runs only when `SLOD_TEST_DATABASE_URL`
//! is set; otherwise those tests pass at once and one line on stderr says
//! they were skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use slod_core::engine::{apply_reports, reconcile_objective, reconcile_system, HealthReport};
use slod_core::model::{
    BurnRateThresholds, DependencyExclusion, HealthStatus, Objective, ReportSource, SystemId,
    Target, WindowDays,
};
use slod_core::time::{Timestamp, MINUTE_MS};
use slod_store::{new_id, Store, StoreResult};
use sqlx::Row;

use crate::testing::{self, TestDatabase};
use crate::PgStore;

/// The admin URL, or `None` after saying (once) that the tests are skipped.
fn admin_url() -> Option<String> {
    static SKIPPED: Once = Once::new();
    let url = testing::admin_url_from_env();
    if url.is_none() {
        SKIPPED.call_once(|| {
            // Straight to stderr: the test harness captures `eprintln!` of
            // passing tests, and this line is meant to be seen.
            let _ = writeln!(
                std::io::stderr(),
                "slod-store-postgres: {} is not set; the PostgreSQL tests were skipped",
                testing::TEST_DATABASE_URL_VAR
            );
        });
    }
    url
}

async fn fresh() -> Option<(Box<dyn Store>, (PgStore, TestDatabase))> {
    let admin = admin_url()?;
    let (store, database) =
        testing::fresh_store(&admin, 8).await.expect("fresh PostgreSQL database");
    Some((Box::new(store.clone()), (store, database)))
}

async fn cleanup(store: Box<dyn Store>, (pg, database): (PgStore, TestDatabase)) {
    drop(store);
    pg.close().await;
    testing::drop_database(database).await.expect("drop test database");
}

slod_store::conformance_suite!(optional fresh, cleanup);

/// What one replica writes, another one's next read answers.
#[tokio::test]
async fn another_stores_writes_are_read() {
    let Some(admin) = admin_url() else { return };
    let (reader, database) = testing::fresh_store(&admin, 4).await.expect("fresh database");
    let writer = PgStore::connect(database.url(), 4).await.expect("second store");
    slod_store::conformance::another_stores_writes_are_read(&reader, &writer).await;
    reader.close().await;
    writer.close().await;
    testing::drop_database(database).await.expect("drop test database");
}

/// A bookkeeping transaction commits without waiting for the WAL flush;
/// the setting ends with it, so the next transaction on the same
/// connection waits again.
#[tokio::test]
async fn only_bookkeeping_commits_skip_the_flush() {
    let Some(admin) = admin_url() else { return };
    let (url, database) = testing::fresh_database(&admin).await.expect("database");
    let store = PgStore::connect(&url, 1).await.expect("connect");
    for _ in 0..2 {
        let mut tx = store.pool.begin_with(crate::BOOKKEEPING_BEGIN).await.expect("begin");
        assert_eq!(synchronous_commit(&mut tx).await, "off");
        tx.commit().await.expect("commit");
        let mut tx = store.pool.begin().await.expect("begin");
        assert_eq!(synchronous_commit(&mut tx).await, "on");
        tx.commit().await.expect("commit");
    }
    store.close().await;
    testing::drop_database(database).await.expect("drop");
}

async fn synchronous_commit(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>) -> String {
    sqlx::query_scalar("SHOW synchronous_commit").fetch_one(&mut **tx).await.expect("show")
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
        id: slod_core::model::ObjectiveId::from_trusted(oid.to_owned()),
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

async fn seed(
    store: &PgStore,
    systems: &[&str],
    edges: &[(&str, &[&str])],
    objectives: &[Objective],
) {
    let mut tx = store.begin().await.expect("begin");
    for s in systems {
        tx.upsert_system(&id(s), s, t(0)).await.expect("upsert");
    }
    for (down, ups) in edges {
        let ups: Vec<SystemId> = ups.iter().map(|u| id(u)).collect();
        tx.set_upstreams(&id(down), &ups).await.expect("edges");
    }
    tx.commit().await.expect("commit");
    for o in objectives {
        let mut tx = store.begin().await.expect("begin");
        tx.insert_objective(o).await.expect("insert objective");
        let mut world = tx.load_world(std::slice::from_ref(&o.system_id)).await.expect("world");
        let changes = reconcile_objective(&mut world, &o.id, o.created_at, &mut new_id);
        tx.write_changes(&changes).await.expect("write");
        tx.commit().await.expect("commit");
    }
}

/// One report through the whole write path, as the service runs it.
async fn report(
    store: &PgStore,
    system: &str,
    status: HealthStatus,
    source: ReportSource,
    at: Timestamp,
) -> StoreResult<()> {
    let mut tx = store.begin().await?;
    let mut world = tx.load_world(&[id(system)]).await?;
    let reports = vec![HealthReport { system_id: id(system), status, at, source, check_id: None }];
    let changes = apply_reports(&mut world, reports, at, &mut new_id)
        .map_err(|err| slod_store::StoreError::Other(anyhow::anyhow!(err)))?;
    tx.write_changes(&changes).await?;
    tx.commit().await
}

/// The status a task sends: varied by task and round, mixing sources.
fn pick(task: usize, round: usize) -> (HealthStatus, ReportSource) {
    let status = match (task * 7 + round * 3) % 4 {
        0 => HealthStatus::Unhealthy,
        1 => HealthStatus::Degraded,
        _ => HealthStatus::Healthy,
    };
    let source = match task % 3 {
        0 => ReportSource::Incident,
        _ => ReportSource::Healthcheck,
    };
    (status, source)
}

/// SPEC §3 invariants over the whole database: at most one open event per
/// objective, open iff its system is down, no overlapping events, one open
/// outage iff down; and, for self-only objectives, an open event is charged
/// to an upstream iff that upstream is down and still an upstream.
async fn check_invariants(store: &PgStore) {
    let systems: BTreeMap<SystemId, bool> = store
        .list_systems()
        .await
        .expect("systems")
        .into_iter()
        .map(|row| (row.system.id, row.effective_status.is_down()))
        .collect();
    let open_outages: Vec<(String, i64)> = sqlx::query(
        "SELECT system_id, count(*) FROM system_outages WHERE end_time IS NULL GROUP BY 1",
    )
    .fetch_all(&store.pool)
    .await
    .expect("outages")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    for (system, count) in &open_outages {
        assert_eq!(*count, 1, "{system} has {count} open outages");
        assert!(systems[&id(system)], "{system} has an open outage but is up");
    }
    for (system, down) in &systems {
        let has_outage = open_outages.iter().any(|(s, _)| s == system.as_str());
        assert_eq!(*down, has_outage, "{system}: down={down}, open outage={has_outage}");
    }

    let edges = {
        let mut tx = store.begin().await.expect("begin");
        tx.all_edges().await.expect("edges")
    };
    for o in store.list_objectives(None).await.expect("objectives") {
        let events = store.list_events(&o.id, 10_000).await.expect("events");
        let open: Vec<_> = events.iter().filter(|e| e.end_time.is_none()).collect();
        assert!(open.len() <= 1, "{} has {} open events", o.id, open.len());
        let down = systems[&o.system_id];
        assert_eq!(
            down,
            open.len() == 1,
            "{} ({}): system down={down}, open events={}",
            o.id,
            o.system_id,
            open.len()
        );
        // Newest first: each event ends no later than the next one starts.
        for pair in events.windows(2) {
            let (newer, older) = (&pair[0], &pair[1]);
            let older_end = older.end_time.expect("only the newest may be open");
            assert!(
                older_end <= newer.start_time,
                "{}: events overlap: {older:?} / {newer:?}",
                o.id
            );
            assert!(older.start_time <= older_end, "{}: negative event", o.id);
        }
        if let (Some(event), DependencyExclusion::SelfOnly) = (open.first(), o.dependency_exclusion)
        {
            let down_upstream = edges
                .iter()
                .filter(|(d, _)| d == &o.system_id)
                .map(|(_, u)| u)
                .find(|u| systems[*u]);
            match (event.attribution.upstream_id(), down_upstream) {
                (None, None) => {}
                (Some(charged), Some(_)) => assert!(
                    systems[charged] && edges.contains(&(o.system_id.clone(), charged.clone())),
                    "{} charged to {charged}, which is up or no upstream",
                    o.id
                ),
                (charged, down) => panic!(
                    "{}: open event charged to {charged:?}, but the down upstream is {down:?}",
                    o.id
                ),
            }
        }
    }
}

async fn open_event_count(store: &PgStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM slo_downtime_events WHERE end_time IS NULL")
        .fetch_one(&store.pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_reports_for_one_system_keep_one_open_event() {
    let Some(admin) = admin_url() else { return };
    let (store, database) = testing::fresh_store(&admin, 8).await.expect("store");
    seed(
        &store,
        &["api"],
        &[],
        &[
            objective("strict", "api", DependencyExclusion::Strict),
            objective("self", "api", DependencyExclusion::SelfOnly),
        ],
    )
    .await;
    let store = Arc::new(store);
    for round in 0..6 {
        // Every report of a round at the same instant, so all are accepted
        // (SPEC §3 ordering) and they race for the same objectives.
        let at = t(10 + i64::try_from(round).expect("a few rounds"));
        let tasks: Vec<_> = (0..20)
            .map(|task| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let (status, source) = pick(task, round);
                    report(&store, "api", status, source, at).await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("report applied");
        }
        check_invariants(&store).await;
    }
    store.close().await;
    testing::drop_database(database).await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_reports_around_a_shared_upstream() {
    let Some(admin) = admin_url() else { return };
    let (store, database) = testing::fresh_store(&admin, 8).await.expect("store");
    seed(
        &store,
        &["db", "web", "api"],
        &[("web", &["db"]), ("api", &["db"])],
        &[
            objective("db-strict", "db", DependencyExclusion::Strict),
            objective("web-self", "web", DependencyExclusion::SelfOnly),
            objective("web-strict", "web", DependencyExclusion::Strict),
            objective("api-self", "api", DependencyExclusion::SelfOnly),
        ],
    )
    .await;
    let store = Arc::new(store);
    let mut saw_open = false;
    for round in 0..8 {
        let at = t(10 + i64::try_from(round).expect("a few rounds"));
        let tasks: Vec<_> = (0..30)
            .map(|task| {
                let store = Arc::clone(&store);
                let system = ["db", "web", "api"][task % 3];
                tokio::spawn(async move {
                    let (status, source) = pick(task / 3 + round, round);
                    report(&store, system, status, source, at).await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("report applied");
        }
        check_invariants(&store).await;
        saw_open |= open_event_count(&store).await > 0;
    }
    assert!(saw_open, "the test never had an outage to check");
    store.close().await;
    testing::drop_database(database).await.expect("drop");
}

/// Dependency edits racing reports: the scope a report locks may change
/// while it waits, and must be re-read and re-locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn dependency_edits_racing_reports() {
    let Some(admin) = admin_url() else { return };
    let (store, database) = testing::fresh_store(&admin, 8).await.expect("store");
    seed(
        &store,
        &["db", "cache", "web"],
        &[("web", &["db"])],
        &[
            objective("web-self", "web", DependencyExclusion::SelfOnly),
            objective("db-strict", "db", DependencyExclusion::Strict),
        ],
    )
    .await;
    let store = Arc::new(store);
    for round in 0..6 {
        let at = t(10 + i64::try_from(round).expect("a few rounds"));
        let mut tasks = Vec::new();
        for task in 0..24 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                if task % 4 == 3 {
                    // set_dependencies as the service runs it.
                    let ups: Vec<SystemId> = match (task + round) % 3 {
                        0 => vec![],
                        1 => vec![id("db")],
                        _ => vec![id("db"), id("cache")],
                    };
                    let mut tx = store.begin().await?;
                    tx.all_edges().await?;
                    tx.set_upstreams(&id("web"), &ups).await?;
                    let mut world = tx.load_world(&[id("web")]).await?;
                    let changes = reconcile_system(&mut world, &id("web"), at, &mut new_id);
                    tx.write_changes(&changes).await?;
                    tx.commit().await
                } else {
                    let system = ["db", "cache", "web"][task % 3];
                    let (status, source) = pick(task, round);
                    report(&store, system, status, source, at).await
                }
            }));
        }
        for task in tasks {
            task.await.expect("task").expect("applied");
        }
        check_invariants(&store).await;
    }
    store.close().await;
    testing::drop_database(database).await.expect("drop");
}

/// A report that queued behind a dependency edit must see the new edge:
/// its scope, computed before it waited, grew while it waited.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_report_queued_behind_a_dependency_edit_sees_the_new_edge() {
    let Some(admin) = admin_url() else { return };
    let (store, database) = testing::fresh_store(&admin, 4).await.expect("store");
    seed(
        &store,
        &["db", "web"],
        &[],
        &[objective("web-self", "web", DependencyExclusion::SelfOnly)],
    )
    .await;
    report(&store, "web", HealthStatus::Unhealthy, ReportSource::Healthcheck, t(1))
        .await
        .expect("web down");
    let store = Arc::new(store);

    let mut edit = store.begin().await.expect("begin");
    edit.all_edges().await.expect("edges");
    edit.set_upstreams(&id("web"), &[id("db")]).await.expect("edge");
    let db_down = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            report(&store, "db", HealthStatus::Unhealthy, ReportSource::Healthcheck, t(3)).await
        })
    };
    // Let the report compute its scope ({db}: no downstreams yet) and queue.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut world = edit.load_world(&[id("web")]).await.expect("world");
    let changes = reconcile_system(&mut world, &id("web"), t(2), &mut new_id);
    edit.write_changes(&changes).await.expect("write");
    edit.commit().await.expect("commit");
    db_down.await.expect("task").expect("db down");

    // db went down after web depended on it: web's downtime is now db's.
    let events = store.list_events("web-self", 10).await.expect("events");
    assert_eq!(events[0].end_time, None);
    assert_eq!(events[0].start_time, t(3));
    assert_eq!(events[0].attribution.upstream_id(), Some(&id("db")));
    check_invariants(&store).await;
    store.close().await;
    testing::drop_database(database).await.expect("drop");
}

/// Replicas commit outbox rows out of insertion order; a tailer that has
/// read past a row must never find an older-numbered row appear later.
#[tokio::test]
async fn outbox_rows_committed_late_are_not_skipped() {
    use slod_core::events::{EventType, NotificationEvent};

    let Some(admin) = admin_url() else { return };
    let (store, database) = testing::fresh_store(&admin, 4).await.expect("store");
    let event = |n: u32| {
        NotificationEvent::new(
            format!("ev-{n}"),
            EventType::StatusChanged,
            t(i64::from(n)),
            serde_json::json!({ "n": n }),
        )
    };
    // `early` inserts first but commits last.
    let mut early = store.begin().await.expect("begin");
    early.enqueue_events(&[event(1)]).await.expect("enqueue");
    let mut late = store.begin().await.expect("begin");
    late.enqueue_events(&[event(2)]).await.expect("enqueue");
    late.commit().await.expect("commit");

    let seen = store.events_after(0, 10).await.expect("tail");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1.id, "ev-2");
    let cursor = seen[0].0;

    early.commit().await.expect("commit");
    let seen = store.events_after(cursor, 10).await.expect("tail");
    assert_eq!(seen.len(), 1, "the late commit is found after the cursor");
    assert_eq!(seen[0].1.id, "ev-1");
    assert!(seen[0].0 > cursor);
    store.close().await;
    testing::drop_database(database).await.expect("drop");
}

/// A transaction that holds a lock (it renamed `b`) and then needs `a`,
/// against one that holds `a` and waits for `b`: PostgreSQL fails one of
/// them with a deadlock, and the guarded step retries instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deadlocks_are_retried_not_surfaced() {
    let Some(admin) = admin_url() else { return };
    let (store, database) = testing::fresh_store(&admin, 4).await.expect("store");
    seed(&store, &["a", "b"], &[], &[]).await;
    let store = Arc::new(store);

    let mut first = store.begin().await.expect("begin");
    assert!(!first.upsert_system(&id("b"), "B renamed", t(1)).await.expect("rename"));
    let second = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut tx = store.begin().await?;
            let world = tx.load_world(&[id("a"), id("b")]).await?;
            tx.commit().await?;
            StoreResult::Ok(world.systems.len())
        })
    };
    // Let the second transaction lock `a` and queue behind `b`.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let world = first.load_world(&[id("a")]).await.expect("load a");
    assert_eq!(world.systems.len(), 1);
    first.commit().await.expect("commit");
    assert_eq!(second.await.expect("task").expect("second"), 2);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(store.get_system(&id("b")).await.expect("get").expect("b").system.name, "B renamed");
    store.close().await;
    testing::drop_database(database).await.expect("drop");
}

#[tokio::test]
async fn refuses_urls_of_other_databases() {
    let err = PgStore::connect("mysql://me:secret@db/slod", 1).await.err().expect("refused");
    let message = format!("{err:#}");
    assert!(message.contains("not a PostgreSQL URL"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

#[tokio::test]
async fn gives_up_on_an_unreachable_server_after_the_limit() {
    let started = Instant::now();
    // Port 1 on loopback: nothing listens, connections are refused.
    let err = PgStore::connect_with_retry_limit(
        "postgres://me:secret@127.0.0.1:1/slod",
        1,
        Duration::from_millis(1200),
    )
    .await
    .err()
    .expect("unreachable");
    let message = format!("{err:#}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(message.contains("not reachable"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    // One retry (0.5 s) fits the limit, the next (1 s more) does not.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn fails_at_once_on_a_missing_database_or_user() {
    let Some(admin) = admin_url() else { return };
    let options: sqlx::postgres::PgConnectOptions = admin.parse().expect("admin url");
    let server = format!("{}:{}", options.get_host(), options.get_port());

    let started = Instant::now();
    let missing_db = testing::with_database(&admin, "slod_no_such_database");
    let err = PgStore::connect(&missing_db, 1).await.err().expect("no such database");
    let message = format!("{err:#}");
    assert!(message.contains("slod_no_such_database"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let started = Instant::now();
    let url = format!("postgres://slod_no_such_user@{server}/postgres");
    let err = PgStore::connect(&url, 1).await.err().expect("no such user");
    let message = format!("{err:#}");
    assert!(message.contains("slod_no_such_user"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let Some(admin) = admin_url() else { return };
    let (url, database) = testing::fresh_database(&admin).await.expect("database");
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgStore::connect(&url, 2).await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.expect("task").expect("connect"));
    }
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&stores[0].pool)
        .await
        .expect("migrations");
    assert_eq!(usize::try_from(applied).ok(), Some(crate::MIGRATOR.iter().count()));
    for store in &stores {
        store.close().await;
    }
    testing::drop_database(database).await.expect("drop");
}

#[test]
fn passwords_are_redacted() {
    assert_eq!(
        crate::redact("postgres://me:secret@db:5432/slod"),
        "postgres://me:***@db:5432/slod"
    );
    assert_eq!(crate::redact("postgres://me@db/slod"), "postgres://me@db/slod");
    assert_eq!(crate::redact("postgres://db/slod"), "postgres://db/slod");
}

#[test]
fn objective_width_matches_its_columns() {
    assert_eq!(crate::rows::OBJECTIVE_COLUMNS.split(", ").count(), crate::tx::OBJECTIVE_WIDTH);
    assert_eq!(crate::rows::EVENT_COLUMNS.split(", ").count(), crate::tx::EVENT_WIDTH);
}

#[test]
fn scope_covers_neighbours_and_the_downstreams_other_upstreams() {
    let edges = [
        (id("api"), id("db")),
        (id("api"), id("cache")),
        (id("web"), id("api")),
        (id("batch"), id("db")),
        (id("batch"), id("queue")),
        (id("far"), id("web")),
    ];
    let scope = crate::tx::scope_from_edges(&BTreeSet::from([id("db")]), &edges);
    let names: Vec<&str> = scope.iter().map(SystemId::as_str).collect();
    assert_eq!(names, ["api", "batch", "cache", "db", "queue"]);
}

/// Ingest throughput, as three replicas would drive it: three pools on one
/// database, single-report transactions through the service's write path.
/// `cargo test --release -p slod-store-postgres -- --ignored --nocapture ingest_throughput`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement; run by hand with SLOD_TEST_DATABASE_URL set"]
async fn ingest_throughput() {
    let Some(admin) = admin_url() else { return };
    let (url, database) = testing::fresh_database(&admin).await.expect("database");
    let replicas: Vec<Arc<PgStore>> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(Arc::new(PgStore::connect(&url, 16).await.expect("connect")));
        }
        v
    };
    // 40 upstreams, 960 downstreams each depending on one of them; two
    // objectives per system.
    let upstreams: Vec<String> = (0..40).map(|i| format!("up-{i}")).collect();
    let downstreams: Vec<String> = (0..960).map(|i| format!("svc-{i}")).collect();
    {
        let store = &replicas[0];
        let mut tx = store.begin().await.expect("begin");
        for s in upstreams.iter().chain(&downstreams) {
            tx.upsert_system(&id(s), s, t(0)).await.expect("upsert");
        }
        for (i, s) in downstreams.iter().enumerate() {
            tx.set_upstreams(&id(s), &[id(&upstreams[i % upstreams.len()])]).await.expect("edge");
        }
        for s in upstreams.iter().chain(&downstreams) {
            for (n, mode) in
                [DependencyExclusion::Strict, DependencyExclusion::SelfOnly].into_iter().enumerate()
            {
                tx.insert_objective(&objective(&format!("{s}-{n}"), s, mode))
                    .await
                    .expect("objective");
            }
        }
        tx.commit().await.expect("commit");
    }
    let all: Vec<String> = upstreams.iter().chain(&downstreams).cloned().collect();
    let mut round = 0;
    for batch in [1, 10] {
        let workers = 96;
        let per_worker = 200;
        let started = Instant::now();
        let tasks: Vec<_> = (0..workers)
            .map(|w| {
                let store = Arc::clone(&replicas[w % replicas.len()]);
                // Each worker owns a disjoint set of systems (10 or 11), so
                // its reports are in time order per system, as a health
                // checker's are.
                let mine: Vec<String> = all.iter().skip(w).step_by(workers).cloned().collect();
                tokio::spawn(async move {
                    for n in 0..per_worker / batch {
                        let pass = round + (n * batch) / mine.len();
                        let status = match pass % 2 {
                            0 => HealthStatus::Unhealthy,
                            _ => HealthStatus::Healthy,
                        };
                        let at = t(10 + i64::try_from(pass).expect("a few passes"));
                        let systems: Vec<SystemId> =
                            (0..batch).map(|k| id(&mine[(n * batch + k) % mine.len()])).collect();
                        let mut tx = store.begin().await.expect("begin");
                        let known = tx.existing_systems(&systems).await.expect("exists");
                        assert_eq!(known.len(), systems.len());
                        let mut world = tx.load_world(&systems).await.expect("world");
                        let reports = systems
                            .iter()
                            .map(|system| HealthReport {
                                system_id: system.clone(),
                                status,
                                at,
                                source: ReportSource::Healthcheck,
                                check_id: None,
                            })
                            .collect();
                        let changes =
                            apply_reports(&mut world, reports, at, &mut new_id).expect("apply");
                        tx.write_changes(&changes).await.expect("write");
                        tx.commit().await.expect("commit");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("worker");
        }
        let elapsed = started.elapsed();
        let total = workers * per_worker;
        let _ = writeln!(
            std::io::stderr(),
            "ingest: {total} reports, {batch} per transaction, in {elapsed:.2?}: {:.0} reports/s",
            total as f64 / elapsed.as_secs_f64()
        );
        round += 1000;
    }
    check_invariants(&replicas[0]).await;
    for store in &replicas {
        store.close().await;
    }
    testing::drop_database(database).await.expect("drop");
}

/// `event_spans` for 1,000 objectives with 1,000,000 events in total.
/// `cargo test --release -p slod-store-postgres -- --ignored --nocapture event_spans_at_scale`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement; run by hand with SLOD_TEST_DATABASE_URL set"]
async fn event_spans_at_scale() {
    let Some(admin) = admin_url() else { return };
    let (store, database) = testing::fresh_store(&admin, 4).await.expect("store");
    sqlx::query(
        "INSERT INTO systems (id, name, created_at)
         SELECT 's' || i, 's' || i, 0 FROM generate_series(0, 99) AS i",
    )
    .execute(&store.pool)
    .await
    .expect("systems");
    sqlx::query(
        "INSERT INTO slo_objectives (id, system_id, target, window_days, dependency_exclusion,
             warning_percent, critical_percent, fast_burn_multiplier, created_at, updated_at)
         SELECT 'o' || i, 's' || (i % 100), 99.9, 30, 'strict', 50, 90, 2, 0, 0
         FROM generate_series(0, 999) AS i",
    )
    .execute(&store.pool)
    .await
    .expect("objectives");
    // A year of history: 1,000 ten-minute events per objective, one every
    // ~8.8 hours; the newest of each objective is still open.
    let year_ms: i64 = 365 * 24 * 60 * MINUTE_MS;
    let step = year_ms / 1000;
    sqlx::query(
        "INSERT INTO slo_downtime_events (id, objective_id, system_id, start_time, end_time,
             attribution_type, source)
         SELECT 'e' || o || '-' || n, 'o' || o, 's' || (o % 100), n * $1,
                CASE WHEN n = 999 THEN NULL ELSE n * $1 + 600000 END, 'self', 'healthcheck'
         FROM generate_series(0, 999) AS o, generate_series(0, 999) AS n",
    )
    .bind(step)
    .execute(&store.pool)
    .await
    .expect("events");
    sqlx::query("ANALYZE slo_downtime_events").execute(&store.pool).await.expect("analyze");
    let ids: Vec<String> = (0..1000).map(|i| format!("o{i}")).collect();
    let until = Timestamp::from_millis(year_ms);
    let since = Timestamp::from_millis(year_ms - 30 * 24 * 60 * MINUTE_MS);
    let mut best = Duration::MAX;
    let mut spans = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let set = store.event_spans(&ids, since, until).await.expect("spans");
        best = best.min(started.elapsed());
        spans = set.spans.values().map(|s| s.len()).sum::<usize>();
    }
    let _ = writeln!(
        std::io::stderr(),
        "event_spans: 1,000 objectives / 1,000,000 events, 30-day window: {spans} spans in {best:.2?} (best of 5)"
    );
    assert!(spans > 80_000 && spans < 90_000, "{spans}");
    store.close().await;
    testing::drop_database(database).await.expect("drop");
}
