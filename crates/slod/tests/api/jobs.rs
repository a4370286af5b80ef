//! The daily job, streaks, achievements and the weekly digest (SPEC §5-§7),
//! end to end with a simulated clock.
//!
//! These tests keep a handle on the store next to the server (to read the
//! outbox, drive the [`Scheduler`] by hand, or break one row on purpose),
//! and can stop and start the server on the same database to simulate
//! slod being down for a few days. Days are driven with
//! `POST /jobs/daily?date=` (or the scheduler), never by sleeping.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use slod::clock::{Clock, ManualClock};
use slod::config::Settings;
use slod::scheduler::Scheduler;
use slod::startup::Application;
use slod_core::events::EventType;
use slod_core::time::{Timestamp, DAY_MS, HOUR_MS, MINUTE_MS};
use slod_store::Store;
use slod_store_postgres::testing::{self as pg_testing, TestDatabase};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::{assert_close, assert_error, t0};

/// Midnight `day` days after T0 (2026-03-01T00:00:00Z, a Sunday).
fn midnight(day: i64) -> Timestamp {
    t0().plus_millis(day * DAY_MS)
}

/// The UTC date of [`midnight`]`(day)`, `YYYY-MM-DD`.
fn date(day: i64) -> String {
    midnight(day).date().to_string()
}

struct JobsApp {
    address: String,
    client: reqwest::Client,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    database_url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: TempDir,
    _database: Option<TestDatabase>,
}

/// A server on a fresh database (PostgreSQL when `SLOD_TEST_DATABASE_URL`
/// is set), the clock at T0, with or without its job scheduler.
async fn spawn(scheduler: bool) -> JobsApp {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, database) = match pg_testing::admin_url_from_env() {
        Some(admin) => {
            let (url, database) = pg_testing::fresh_database(&admin).await.unwrap();
            (url, Some(database))
        }
        None => (format!("sqlite://{}/slod.db", dir.path().display()), None),
    };
    let store = slod::database::connect_store(&database_url, 4).await.unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let client =
        reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap();
    let mut app = JobsApp {
        address: String::new(),
        client,
        clock,
        store,
        database_url,
        stop: None,
        server: None,
        _dir: dir,
        _database: database,
    };
    app.start(scheduler).await;
    app
}

impl JobsApp {
    async fn start(&mut self, scheduler: bool) {
        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: self.database_url.clone(),
            database_pool_size: 4,
            demo: false,
        };
        let mut app = Application::with_store(&settings, self.store.clone(), self.clock.clone())
            .await
            .unwrap();
        if !scheduler {
            app = app.without_scheduler();
        }
        self.address = format!("http://{}", app.address());
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.server = Some(tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        })));
    }

    /// Stops the server (and its scheduler) and waits until it is down.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.address)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(self.url(path))).await
    }

    async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path))).await
    }

    async fn set(&self, now: Timestamp) {
        self.clock.set(now);
    }

    async fn create_system(&self, id: &str, name: &str) {
        let (status, body) = self
            .send(self.client.put(self.url(&format!("/systems/{id}"))).json(&json!({"name": name})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    async fn set_upstreams(&self, id: &str, upstreams: &[&str]) {
        let (status, body) = self
            .send(
                self.client
                    .put(self.url(&format!("/systems/{id}/dependencies")))
                    .json(&json!({"upstreamIds": upstreams})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// An objective created a day before T0 (so every midnight after T0
    /// has it), with `extra` fields merged in.
    async fn create_objective(
        &self,
        system: &str,
        target: f64,
        window_days: u32,
        extra: Value,
    ) -> String {
        let mut body = json!({"systemId": system, "target": target, "windowDays": window_days,
            "createdAt": midnight(-1).to_rfc3339()});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, body) = self.send(self.client.post(self.url("/objectives")).json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// A health report at `at`, with the clock moved there first.
    async fn report(&self, system: &str, status: &str, at: Timestamp) {
        if self.clock.now() < at {
            self.clock.set(at);
        }
        let (code, body) = self
            .send(
                self.client
                    .post(self.url("/health"))
                    .json(&json!({"systemId": system, "status": status, "at": at.to_rfc3339()})),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }

    /// Moves the clock just past midnight `day` and runs that date.
    async fn run_day(&self, day: i64) -> Value {
        let just_after = midnight(day).plus_millis(MINUTE_MS);
        if self.clock.now() < just_after {
            self.clock.set(just_after);
        }
        let (status, body) = self.post_empty(&format!("/jobs/daily?date={}", date(day))).await;
        assert_eq!(status, StatusCode::OK, "day {day}: {body}");
        body
    }

    async fn streak(&self, objective: &str) -> Value {
        self.get_ok(&format!("/objectives/{objective}")).await["streak"].clone()
    }

    async fn snapshots(&self, objective: &str) -> Vec<Value> {
        let body = self.get_ok(&format!("/objectives/{objective}/snapshots")).await;
        body["snapshots"].as_array().unwrap().clone()
    }

    /// `achievement → unlockedAt` of a system.
    async fn achievements(&self, system: &str) -> Vec<(String, String)> {
        let body = self.get_ok(&format!("/systems/{system}/achievements")).await;
        body["achievements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["achievement"].as_str().unwrap().to_owned(),
                    a["unlockedAt"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    async fn unlocked_at(&self, system: &str, achievement: &str) -> Option<String> {
        self.achievements(system)
            .await
            .into_iter()
            .find(|(a, _)| a == achievement)
            .map(|(_, at)| at)
    }

    /// The outbox events of one type, oldest first.
    async fn events(&self, kind: EventType) -> Vec<Value> {
        let events = self.store.events_after(0, 100_000).await.unwrap();
        events
            .into_iter()
            .filter(|(_, e)| e.event_type == kind)
            .map(|(_, e)| serde_json::to_value(e).unwrap())
            .collect()
    }

    /// Runs raw SQL (`$1` placeholders) against the database, behind the
    /// server's back.
    async fn execute(&self, sql: &str, arg: &str) {
        if self.database_url.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(&self.database_url).await.unwrap();
            sqlx::query(&sql.replace("$1", "?1")).bind(arg).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(&self.database_url).await.unwrap();
            sqlx::query(sql).bind(arg).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }

    /// Waits (polling, up to 20 s of real time) until `GET path` satisfies
    /// `done`.
    async fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = std::time::Instant::now();
        loop {
            let body = self.get_ok(path).await;
            if done(&body) {
                return body;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "timed out waiting on {path}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn completed_daily_runs(body: &Value) -> Vec<String> {
    let mut periods: Vec<String> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "daily" && r["status"] == "completed")
        .map(|r| r["period"].as_str().unwrap().to_owned())
        .collect();
    periods.sort();
    periods
}

// ---- the daily job -------------------------------------------------------

/// 400 days without downtime: the streak counts every day, and the streak
/// badges unlock on the day they are earned (their `unlockedAt` is that
/// day's midnight), never earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_days_without_downtime() {
    let app = spawn(false).await;
    app.create_system("api", "API").await;
    let objective = app.create_objective("api", 99.9, 30, json!({})).await;

    for day in 1..=400 {
        let run = app.run_day(day).await;
        assert_eq!(run["snapshotsWritten"], 1, "day {day}: {run}");
        assert_eq!(run["streaksIncremented"], 1, "day {day}: {run}");
        if day == 7 {
            assert_eq!(
                run["achievementsUnlocked"],
                json!([{"systemId": "api", "achievement": "iron_uptime"}])
            );
        }
        if day == 365 {
            let streak = app.streak(&objective).await;
            assert_eq!(streak["currentStreak"], 365);
            assert_eq!(
                run["achievementsUnlocked"],
                json!([{"systemId": "api", "achievement": "nines_club"}]),
                "nines_club needs 365 days: {run}"
            );
        }
    }

    let streak = app.streak(&objective).await;
    assert_eq!(
        streak,
        json!({"currentStreak": 400, "bestStreak": 400, "streakStart": midnight(1).to_rfc3339(),
               "bestStreakEnd": null})
    );
    let unlocked = |name: &str| {
        let app = &app;
        let name = name.to_owned();
        async move { app.unlocked_at("api", &name).await }
    };
    assert_eq!(unlocked("first_steps").await, Some(midnight(1).to_rfc3339()));
    assert_eq!(unlocked("iron_uptime").await, Some(midnight(7).to_rfc3339()));
    assert_eq!(unlocked("diamond_uptime").await, Some(midnight(30).to_rfc3339()));
    assert_eq!(unlocked("nines_club").await, Some(midnight(365).to_rfc3339()));
    // Mature (a full 30-day window old) on day 29: created a day before T0.
    assert_eq!(unlocked("clean_sheet").await, Some(midnight(29).to_rfc3339()));
    assert_eq!(unlocked("budget_miser").await, Some(midnight(29).to_rfc3339()));
    assert_eq!(unlocked("rapid_recovery").await, None);
    assert_eq!(unlocked("full_coverage").await, None);

    let snapshots = app.snapshots(&objective).await;
    assert_eq!(snapshots.len(), 400);
    assert_eq!(snapshots[0]["date"], midnight(1).to_rfc3339(), "oldest first");
    assert_eq!(snapshots[0]["streakDays"], 0, "the streak before the run");
    assert_eq!(snapshots[365]["streakDays"], 365);
    assert_close(&snapshots[399]["availabilityPercent"], 100.0);

    // Each unlock was announced once, dated when it was earned.
    let unlocks = app.events(EventType::AchievementUnlocked).await;
    let iron: Vec<&Value> =
        unlocks.iter().filter(|e| e["data"]["achievement"] == "iron_uptime").collect();
    assert_eq!(iron.len(), 1);
    assert_eq!(
        iron[0]["data"],
        json!({"systemId": "api", "systemName": "API", "achievement": "iron_uptime"})
    );
    assert_eq!(iron[0]["occurredAt"], midnight(7).to_rfc3339());
}

/// A breach resets the streak, records when the best streak ended and
/// emits `slo.streak.broken`; the next good day starts a new streak and
/// keeps the record.
#[tokio::test]
async fn a_breach_resets_the_streak_and_records_when_the_best_ended() {
    let app = spawn(false).await;
    app.create_system("api", "API").await;
    // 99.9 % over one day allows 1.44 minutes.
    let objective = app.create_objective("api", 99.9, 1, json!({})).await;
    for day in 1..=5 {
        app.run_day(day).await;
    }
    assert_eq!(app.streak(&objective).await["currentStreak"], 5);

    app.report("api", "unhealthy", midnight(5).plus_millis(12 * HOUR_MS)).await;
    app.report("api", "healthy", midnight(5).plus_millis(12 * HOUR_MS + 10 * MINUTE_MS)).await;
    let run = app.run_day(6).await;
    assert_eq!(
        (run["streaksReset"].as_u64(), run["streaksIncremented"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        app.streak(&objective).await,
        json!({"currentStreak": 0, "bestStreak": 5, "streakStart": null,
               "bestStreakEnd": midnight(6).to_rfc3339()})
    );
    let broken = app.events(EventType::StreakBroken).await;
    assert_eq!(broken.len(), 1);
    assert_eq!(
        broken[0]["data"],
        json!({"systemId": "api", "objectiveId": objective, "streak": 5, "bestStreak": 5})
    );
    assert_eq!(broken[0]["occurredAt"], midnight(6).to_rfc3339());
    let day6 = app.snapshots(&objective).await.pop().unwrap();
    assert_eq!(day6["streakDays"], 5, "the snapshot keeps the streak before the reset");
    assert_close(&day6["availabilityPercent"], (1440.0 - 10.0) / 1440.0 * 100.0);

    // The downtime leaves the one-day window: a new streak starts, and the
    // broken one stays on record.
    app.run_day(7).await;
    assert_eq!(
        app.streak(&objective).await,
        json!({"currentStreak": 1, "bestStreak": 5, "streakStart": midnight(7).to_rfc3339(),
               "bestStreakEnd": midnight(6).to_rfc3339()})
    );
    // A breach with no streak left to break changes nothing and says nothing.
    app.report("api", "unhealthy", midnight(7).plus_millis(HOUR_MS)).await;
    app.report("api", "healthy", midnight(7).plus_millis(HOUR_MS + 30 * MINUTE_MS)).await;
    app.run_day(8).await;
    app.report("api", "unhealthy", midnight(8).plus_millis(HOUR_MS)).await;
    app.report("api", "healthy", midnight(8).plus_millis(HOUR_MS + 30 * MINUTE_MS)).await;
    let run = app.run_day(9).await;
    assert_eq!(run["streaksReset"], 0);
    assert_eq!(app.events(EventType::StreakBroken).await.len(), 2, "day 8 broke the 1-day streak");
}

/// Downtime still open at midnight holds the streak: no increment and no
/// reset, whether the run happens while the system is still down or later,
/// after it recovered (the run judges the system as it stood at midnight).
#[tokio::test]
async fn open_downtime_at_midnight_holds_the_streak() {
    let app = spawn(false).await;
    app.create_system("api", "API").await;
    app.create_system("web", "Web").await;
    // 99 % over 30 days: a few minutes are far from a breach.
    let api = app.create_objective("api", 99.0, 30, json!({})).await;
    let web = app.create_objective("web", 99.0, 30, json!({})).await;
    for day in 1..=3 {
        app.run_day(day).await;
    }
    app.report("api", "unhealthy", midnight(4).minus_millis(5 * MINUTE_MS)).await;
    app.report("web", "unhealthy", midnight(4).minus_millis(5 * MINUTE_MS)).await;
    app.report("web", "healthy", midnight(4).plus_millis(10 * MINUTE_MS)).await;
    let run = app.run_day(4).await;
    assert_eq!(run["snapshotsWritten"], 2);
    assert_eq!(run["streaksIncremented"], 0, "{run}");
    assert_eq!(run["streaksReset"], 0, "{run}");
    for objective in [&api, &web] {
        let streak = app.streak(objective).await;
        assert_eq!(streak["currentStreak"], 3, "{objective}: {streak}");
        assert_eq!(streak["bestStreakEnd"], Value::Null);
        assert_eq!(app.snapshots(objective).await[3]["streakDays"], 3);
    }

    app.report("api", "healthy", midnight(4).plus_millis(20 * MINUTE_MS)).await;
    let run = app.run_day(5).await;
    assert_eq!(run["streaksIncremented"], 2, "{run}");
    assert_eq!(app.streak(&api).await["currentStreak"], 4);
    assert_eq!(app.streak(&web).await["currentStreak"], 4);
}

/// Re-running a completed date changes nothing and says so with zero
/// counts; the stored result of the real run stays.
#[tokio::test]
async fn rerunning_a_date_changes_nothing() {
    let app = spawn(false).await;
    app.create_system("api", "API").await;
    let objective = app.create_objective("api", 99.9, 30, json!({})).await;
    let first = app.run_day(1).await;
    assert_eq!(
        first,
        json!({"date": date(1), "objectives": 1, "snapshotsWritten": 1, "streaksIncremented": 1,
               "streaksReset": 0,
               "achievementsUnlocked": [{"systemId": "api", "achievement": "first_steps"}]})
    );
    let streak = app.streak(&objective).await;
    let snapshots = app.snapshots(&objective).await;
    let outbox = app.store.events_after(0, 1000).await.unwrap().len();

    for _ in 0..2 {
        let again = app.run_day(1).await;
        assert_eq!(
            again,
            json!({"date": date(1), "objectives": 0, "snapshotsWritten": 0, "streaksIncremented": 0,
                   "streaksReset": 0, "achievementsUnlocked": []})
        );
    }
    assert_eq!(app.streak(&objective).await, streak);
    assert_eq!(app.snapshots(&objective).await, snapshots);
    assert_eq!(app.store.events_after(0, 1000).await.unwrap().len(), outbox);
    let runs = app.get_ok("/jobs/runs?kind=daily").await;
    assert_eq!(completed_daily_runs(&runs), [date(1)]);
    assert_eq!(runs["runs"][0]["result"]["snapshotsWritten"], 1, "the real run's result is kept");
}

/// slod stopped after the run of March 1 and started again on March 4 at
/// 08:30: the runs of March 2, 3 and 4 are caught up on start, in order,
/// each as of its own midnight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_day_stop_is_caught_up_in_order() {
    let mut app = spawn(false).await;
    app.create_system("api", "API").await;
    app.create_system("db", "Database").await;
    let objective = app.create_objective("api", 99.9, 1, json!({})).await;
    let db = app.create_objective("db", 99.9, 1, json!({})).await;
    app.run_day(0).await;
    // db is down for an hour on March 2: March 3's run (window: March 2)
    // must see it, March 4's must not.
    app.report("db", "unhealthy", midnight(1).plus_millis(10 * HOUR_MS)).await;
    app.report("db", "healthy", midnight(1).plus_millis(11 * HOUR_MS)).await;
    app.stop().await;

    app.set(midnight(3).plus_millis(8 * HOUR_MS + 30 * MINUTE_MS)).await;
    app.start(true).await;
    let runs =
        app.wait_for("/jobs/runs?kind=daily", |body| completed_daily_runs(body).len() == 4).await;
    assert_eq!(completed_daily_runs(&runs), [date(0), date(1), date(2), date(3)]);

    let snapshots = app.snapshots(&objective).await;
    let days: Vec<(&str, u64)> = snapshots
        .iter()
        .map(|s| (s["date"].as_str().unwrap(), s["streakDays"].as_u64().unwrap()))
        .collect();
    let expected: Vec<String> = (0..4).map(|d| midnight(d).to_rfc3339()).collect();
    assert_eq!(
        days,
        expected.iter().map(String::as_str).zip([0, 1, 2, 3]).collect::<Vec<_>>(),
        "one snapshot per midnight, the streak growing in order"
    );
    assert_eq!(app.streak(&objective).await["currentStreak"], 4, "+3 on top of March 1");

    let db_days: Vec<(u64, bool)> = app
        .snapshots(&db)
        .await
        .iter()
        .map(|s| {
            (s["streakDays"].as_u64().unwrap(), s["availabilityPercent"].as_f64().unwrap() < 99.9)
        })
        .collect();
    assert_eq!(
        db_days,
        [(0, false), (1, false), (2, true), (0, false)],
        "each day as of its own midnight"
    );
    assert_eq!(app.streak(&db).await["bestStreakEnd"], midnight(2).to_rfc3339());
    app.stop().await;
}

/// One objective that cannot be evaluated (its stored streak is broken) is
/// logged and skipped; the others get their snapshots and the run
/// completes, listing the failure in its stored result.
#[tokio::test]
async fn one_failing_objective_does_not_stop_the_others() {
    let app = spawn(false).await;
    let mut objectives = Vec::new();
    for system in ["a", "b", "c"] {
        app.create_system(system, &system.to_uppercase()).await;
        objectives.push(app.create_objective(system, 99.9, 30, json!({})).await);
    }
    app.execute(
        "UPDATE slo_streaks SET current_streak = -1 WHERE objective_id = $1",
        &objectives[1],
    )
    .await;

    let run = app.run_day(1).await;
    assert_eq!(run["objectives"], 3);
    assert_eq!(run["snapshotsWritten"], 2, "{run}");
    assert_eq!(run["streaksIncremented"], 2, "{run}");
    assert_eq!(app.snapshots(&objectives[0]).await.len(), 1);
    assert_eq!(app.snapshots(&objectives[1]).await.len(), 0);
    assert_eq!(app.snapshots(&objectives[2]).await.len(), 1);
    // The broken objective's system is not judged on a partial picture.
    let unlocked: Vec<&str> = run["achievementsUnlocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["systemId"].as_str().unwrap())
        .collect();
    assert_eq!(unlocked, ["a", "c"]);

    let runs = app.get_ok("/jobs/runs?kind=daily").await;
    assert_eq!(runs["runs"][0]["status"], "completed");
    assert_eq!(runs["runs"][0]["result"]["failedObjectives"], json!([objectives[1]]));

    // Repaired, it joins the next run.
    app.execute(
        "UPDATE slo_streaks SET current_streak = 0 WHERE objective_id = $1",
        &objectives[1],
    )
    .await;
    let run = app.run_day(2).await;
    assert_eq!(run["snapshotsWritten"], 3, "{run}");
}

#[tokio::test]
async fn dates_run_forward_in_time() {
    let app = spawn(false).await;
    app.create_system("api", "API").await;
    let objective = app.create_objective("api", 99.9, 30, json!({})).await;
    app.run_day(5).await;

    let (status, body) = app.post_empty(&format!("/jobs/daily?date={}", date(3))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "conflict", Some("date"));
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&date(5)),
        "names the latest run: {body}"
    );

    let (status, body) = app.post_empty(&format!("/jobs/daily?date={}", date(6))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "day 6 has not begun: {body}");
    assert_error(&body, "validation_failed", Some("date"));

    // A later past date is backfilled on its own; the days between are
    // skipped for good.
    app.set(midnight(9)).await;
    let run = app.run_day(7).await;
    assert_eq!(run["snapshotsWritten"], 1);
    let (status, _) = app.post_empty(&format!("/jobs/daily?date={}", date(6))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.streak(&objective).await["currentStreak"], 2);
    // Today (its midnight has passed) may run; it is the default date.
    let (status, body) = app.post_empty("/jobs/daily").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["date"], date(9));

    for bad in
        ["2026-13-01", "yesterday", "", "2026-03-02T00:00:00Z", "-262143-01-01", "1969-12-31"]
    {
        let (status, body) = app.post_empty(&format!("/jobs/daily?date={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, "validation_failed", Some("date"));
    }
    let (status, body) = app.post_empty("/jobs/daily?day=2026-03-02").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app.get("/jobs/daily").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

/// A replica died half-way through a run: one objective's snapshot and
/// streak step are written, the other's are not, and its lease is still
/// live. A trigger waits for the lease to run out, takes the run over and
/// finishes it without counting the first objective's day twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_abandoned_half_way_is_taken_over_and_finished() {
    use slod_core::streak::{Snapshot, Streak};
    use slod_store::jobs::{ClaimOutcome, JobClaim, JobKind};

    let app = spawn(false).await;
    app.create_system("api", "API").await;
    let done = app.create_objective("api", 99.9, 30, json!({})).await;
    let pending = app.create_objective("api", 99.9, 30, json!({})).await;
    let now = midnight(1).plus_millis(MINUTE_MS);
    app.set(now).await;

    // What the dead replica left behind.
    let mut tx = app.store.begin().await.unwrap();
    let claim = JobClaim {
        kind: JobKind::Daily,
        period: &date(1),
        period_start: midnight(1),
        owner: "replica-that-died",
        now,
        lease_until: now.plus_millis(5 * MINUTE_MS),
    };
    assert_eq!(tx.claim_run(&claim).await.unwrap(), ClaimOutcome::Claimed);
    let snapshot = Snapshot {
        objective_id: slod_core::model::ObjectiveId::from_trusted(done.clone()),
        date: midnight(1),
        availability_percent: 100.0,
        budget_consumed_minutes: 0.0,
        budget_remaining_percent: 100.0,
        burn_rate: Some(0.0),
        streak_days: 0,
        original: None,
    };
    tx.insert_snapshots(&[snapshot]).await.unwrap();
    let streak = Streak {
        current_streak: 1,
        best_streak: 1,
        streak_start: Some(midnight(1)),
        best_streak_end: None,
        last_run: Some(midnight(1)),
    };
    tx.save_streaks(&[(done.clone(), streak)]).await.unwrap();
    tx.commit().await.unwrap();

    let trigger = {
        let request = app.client.post(app.url(&format!("/jobs/daily?date={}", date(1))));
        tokio::spawn(async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!trigger.is_finished(), "the dead replica's lease is still live");
    app.set(now.plus_millis(6 * MINUTE_MS)).await;
    let (status, run) =
        tokio::time::timeout(Duration::from_secs(20), trigger).await.unwrap().unwrap();
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(
        (run["snapshotsWritten"].as_u64(), run["streaksIncremented"].as_u64()),
        (Some(1), Some(1))
    );
    for objective in [&done, &pending] {
        assert_eq!(app.streak(objective).await["currentStreak"], 1, "{objective}");
        assert_eq!(app.snapshots(objective).await.len(), 1);
    }
    assert_eq!(completed_daily_runs(&app.get_ok("/jobs/runs").await), [date(1)]);
}

/// Three triggers of one date at once: one runs, the others wait for it
/// and report nothing done; every objective has exactly one snapshot and
/// one streak step.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_triggers_write_one_snapshot_per_objective() {
    let app = spawn(false).await;
    app.create_system("api", "API").await;
    let mut objectives = Vec::new();
    for _ in 0..5 {
        objectives.push(app.create_objective("api", 99.9, 30, json!({})).await);
    }
    app.set(midnight(1).plus_millis(MINUTE_MS)).await;
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let request = app.client.post(app.url(&format!("/jobs/daily?date={}", date(1))));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (response.status(), response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let (mut written, mut incremented) = (0, 0);
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        written += body["snapshotsWritten"].as_u64().unwrap();
        incremented += body["streaksIncremented"].as_u64().unwrap();
    }
    assert_eq!((written, incremented), (5, 5));
    for objective in &objectives {
        assert_eq!(app.snapshots(objective).await.len(), 1);
        assert_eq!(app.streak(objective).await["currentStreak"], 1);
    }
    // Two replicas' schedulers on the same database: same story.
    let clock: Arc<dyn Clock> = app.clock.clone();
    app.set(midnight(2).plus_millis(MINUTE_MS)).await;
    let mut one = Scheduler::new(app.store.clone(), clock.clone());
    let mut two = Scheduler::new(app.store.clone(), clock.clone());
    let now = app.clock.now();
    let (a, b) = tokio::join!(one.run_due_jobs(now), two.run_due_jobs(now));
    let (a, b) = (a.unwrap(), b.unwrap());
    let ran: usize = a.daily.iter().chain(&b.daily).map(|r| r.snapshots_written).sum();
    assert_eq!(ran, 5);
    for objective in &objectives {
        assert_eq!(app.streak(objective).await["currentStreak"], 2);
    }
}

/// SPEC §17: `slo.report.monthly` goes out once at 00:00 UTC on the 1st
/// however many replicas run a scheduler. Two instances, each with its
/// own connection pool on the one database (PostgreSQL, or one SQLite
/// file), race for April's 1st at once; the `job_runs` lease lets one send
/// March's statement and leaves the other the month held or completed.
/// Each scheduler on its own owes the month (it was up before the 1st), so
/// without the lease both would send.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_scheduled_monthly_report_is_sent_once_by_two_instances() {
    let app = spawn(false).await;
    app.create_system("api", "API").await;
    app.create_objective("api", 99.9, 30, json!({})).await;
    let (status, channel) = app
        .send(
            app.client
                .post(app.url("/channels"))
                .json(&json!({"name": "all", "kind": "webhook", "url": "http://127.0.0.1:9/hook"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    // The second instance's store: another pool on the same database.
    let other: Arc<dyn Store> = slod::database::connect_store(&app.database_url, 4).await.unwrap();
    let clock: Arc<dyn Clock> = app.clock.clone();
    let mut one = Scheduler::new(app.store.clone(), clock.clone());
    let mut two = Scheduler::new(other, clock.clone());

    // Just past midnight on 1 April, with April 1's daily run already done
    // (by hand), so that both passes go straight to the monthly report.
    let first = Timestamp::parse("2026-04-01T00:00:00Z").unwrap();
    app.set(first.plus_millis(MINUTE_MS)).await;
    let (status, body) = app.post_empty("/jobs/daily?date=2026-04-01").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut sent = Vec::new();
    for pass in 0..10 {
        let now = app.clock.now();
        let (a, b) = tokio::join!(one.run_due_jobs(now), two.run_due_jobs(now));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.daily.is_empty() && b.daily.is_empty(), "pass {pass}: no daily run was owed");
        let retry = a.retry_soon || b.retry_soon;
        sent.extend([a.monthly, b.monthly].into_iter().flatten());
        if !retry {
            break;
        }
        // The instance that found the month held looks again shortly.
        app.set(now.plus_millis(10_000)).await;
    }
    assert_eq!(sent.len(), 1, "one statement across both instances");
    assert_eq!(sent[0].month, "2026-03");

    let runs = app.get_ok("/jobs/runs?kind=monthly_report").await;
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["period"], "2026-03");
    assert_eq!(runs[0]["status"], "completed");
    let deliveries =
        app.get_ok(&format!("/channels/{}/deliveries", channel["id"].as_str().unwrap())).await;
    let monthly = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["eventType"] == "slo.report.monthly")
        .count();
    assert_eq!(monthly, 1, "{deliveries}");

    // Later passes on either instance send nothing more this month.
    app.set(first.plus_millis(DAY_MS / 2)).await;
    let now = app.clock.now();
    let (a, b) = tokio::join!(one.run_due_jobs(now), two.run_due_jobs(now));
    assert!(a.unwrap().monthly.is_none() && b.unwrap().monthly.is_none());
}

// ---- achievements on recovery --------------------------------------------

/// `rapid_recovery` unlocks when a system comes back within 5 minutes, at
/// the recovery instant; a 6-minute outage, or a 10-minute one split into
/// short pieces by an upstream outage, does not.
#[tokio::test]
async fn rapid_recovery_on_a_four_minute_outage_not_a_six_minute_one() {
    let app = spawn(false).await;
    for (id, name) in [("fast", "Fast"), ("slow", "Slow"), ("api", "API"), ("db", "Database")] {
        app.create_system(id, name).await;
    }
    app.set_upstreams("api", &["db"]).await;
    app.create_objective("fast", 99.9, 30, json!({})).await;
    app.create_objective("slow", 99.9, 30, json!({})).await;
    app.create_objective("api", 99.9, 30, json!({"dependencyExclusion": "self-only"})).await;

    let at = |minutes: i64| t0().plus_millis(minutes * MINUTE_MS);
    app.report("fast", "unhealthy", at(10)).await;
    app.report("slow", "unhealthy", at(10)).await;
    app.report("api", "unhealthy", at(10)).await;
    app.report("db", "unhealthy", at(11)).await;
    app.report("db", "healthy", at(13)).await;
    app.report("fast", "healthy", at(14)).await;
    app.report("slow", "healthy", at(16)).await;
    app.report("api", "healthy", at(20)).await;

    assert_eq!(app.unlocked_at("fast", "rapid_recovery").await, Some(at(14).to_rfc3339()));
    assert_eq!(app.unlocked_at("fast", "first_steps").await, Some(at(14).to_rfc3339()));
    assert_eq!(app.unlocked_at("slow", "rapid_recovery").await, None);
    assert_eq!(
        app.unlocked_at("api", "rapid_recovery").await,
        None,
        "one 10-minute outage, not 3 pieces"
    );
    assert!(app.achievements("db").await.is_empty(), "no objectives, no achievements");

    let unlocks = app.events(EventType::AchievementUnlocked).await;
    let rapid: Vec<&Value> =
        unlocks.iter().filter(|e| e["data"]["achievement"] == "rapid_recovery").collect();
    assert_eq!(rapid.len(), 1);
    assert_eq!(
        rapid[0]["data"],
        json!({"systemId": "fast", "systemName": "Fast", "achievement": "rapid_recovery"})
    );

    // Stored once: another quick recovery does not unlock it again.
    app.report("fast", "unhealthy", at(30)).await;
    app.report("fast", "healthy", at(31)).await;
    let again = app.events(EventType::AchievementUnlocked).await;
    assert_eq!(again.iter().filter(|e| e["data"]["achievement"] == "rapid_recovery").count(), 1);
    assert_eq!(app.unlocked_at("fast", "rapid_recovery").await, Some(at(14).to_rfc3339()));

    let feed = app.get_ok("/milestones?limit=1").await;
    assert_eq!(feed["milestones"].as_array().unwrap().len(), 1);
    let (status, body) = app.get("/systems/nope/achievements").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
}

/// A self-only objective whose only downtime was its upstream's unlocks
/// `cascade_breaker` when its system recovers; a strict one charged the
/// same minutes does not.
#[tokio::test]
async fn cascade_breaker_for_upstream_only_downtime() {
    let app = spawn(false).await;
    for (id, name) in [("api", "API"), ("web", "Web"), ("db", "Database")] {
        app.create_system(id, name).await;
    }
    app.set_upstreams("api", &["db"]).await;
    app.set_upstreams("web", &["db"]).await;
    app.create_objective("api", 99.9, 30, json!({"dependencyExclusion": "self-only"})).await;
    app.create_objective("web", 99.9, 30, json!({})).await;

    let at = |minutes: i64| t0().plus_millis(minutes * MINUTE_MS);
    app.report("db", "unhealthy", at(10)).await;
    app.report("api", "unhealthy", at(11)).await;
    app.report("web", "unhealthy", at(11)).await;
    app.report("api", "healthy", at(20)).await;
    app.report("web", "healthy", at(20)).await;
    app.report("db", "healthy", at(25)).await;

    assert_eq!(app.unlocked_at("api", "cascade_breaker").await, Some(at(20).to_rfc3339()));
    assert_eq!(app.unlocked_at("web", "cascade_breaker").await, None);
    // Nor does the daily run find it for web.
    app.run_day(1).await;
    assert_eq!(app.unlocked_at("web", "cascade_breaker").await, None);
    assert!(app.unlocked_at("web", "first_steps").await.is_some());
}

// ---- the weekly digest ---------------------------------------------------

/// Four objectives with known downtime: one breaching, one at risk, two
/// healthy; the best three by availability and the worst three by budget
/// left, with system names.
#[tokio::test]
async fn the_digest_counts_and_ranks_objectives_with_names() {
    let app = spawn(false).await;
    app.set(midnight(2)).await;
    let (status, body) = app.post_empty("/jobs/weekly-digest").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "no objectives, no digest: {body}");
    assert!(app.get_ok("/digests").await["digests"].as_array().unwrap().is_empty());

    let systems =
        [("api", "API"), ("web", "Web front"), ("db", "Database"), ("queue", "Job queue")];
    let mut ids = std::collections::BTreeMap::new();
    for (id, name) in systems {
        app.create_system(id, name).await;
        // 99 % over one day allows 14.4 minutes.
        ids.insert(id, app.create_objective(id, 99.0, 1, json!({})).await);
    }
    // Downtime in the day before March 3: web 12 minutes (at risk, 2.4
    // left), db 20 (breaching), queue 5 (healthy), api none.
    for (system, minutes) in [("web", 12), ("db", 20), ("queue", 5)] {
        let start = midnight(1).plus_millis(6 * HOUR_MS);
        app.report(system, "unhealthy", start).await;
        app.report(system, "healthy", start.plus_millis(minutes * MINUTE_MS)).await;
    }
    app.set(midnight(2)).await;
    let (status, digest) = app.post_empty("/jobs/weekly-digest?weekOf=2026-03-04").await;
    assert_eq!(status, StatusCode::OK, "{digest}");
    assert_eq!(digest["weekOf"], "2026-03-02", "the Monday of that ISO week");
    assert_eq!(
        (
            &digest["totalObjectives"],
            &digest["breachingCount"],
            &digest["atRiskCount"],
            &digest["healthyCount"]
        ),
        (&json!(4), &json!(1), &json!(1), &json!(2))
    );
    let top: Vec<(&str, &str, &str)> = digest["topPerformers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["objectiveId"].as_str().unwrap(),
                p["systemId"].as_str().unwrap(),
                p["systemName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            (ids["api"].as_str(), "api", "API"),
            (ids["queue"].as_str(), "queue", "Job queue"),
            (ids["web"].as_str(), "web", "Web front")
        ]
    );
    assert_close(&digest["topPerformers"][1]["availability"], (1440.0 - 5.0) / 1440.0 * 100.0);
    let worst: Vec<(&str, &str)> = digest["worstPerformers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["systemId"].as_str().unwrap(), p["systemName"].as_str().unwrap()))
        .collect();
    assert_eq!(worst, [("db", "Database"), ("web", "Web front"), ("queue", "Job queue")]);
    assert_close(&digest["worstPerformers"][0]["budgetRemainingPercent"], 0.0);
    assert_close(&digest["worstPerformers"][1]["budgetRemainingPercent"], 2.4 / 14.4 * 100.0);

    let stored = app.get_ok("/digests?limit=5").await;
    assert_eq!(stored["digests"].as_array().unwrap().len(), 1);
    assert_eq!(stored["digests"][0]["manual"], true);
    assert_eq!(stored["digests"][0]["weekOf"], "2026-03-02");
    assert_eq!(stored["digests"][0]["digest"], digest);
    let events = app.events(EventType::WeeklyDigest).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"], digest);

    let (status, body) = app.post_empty("/jobs/weekly-digest?weekOf=2026-03-09").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a week not begun: {body}");
    assert_error(&body, "validation_failed", Some("weekOf"));
    for bad in ["soon", "-262143-01-01", "0001-01-01"] {
        let (status, body) = app.post_empty(&format!("/jobs/weekly-digest?weekOf={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, "validation_failed", Some("weekOf"));
    }
    let (status, body) = app.post_empty("/jobs/weekly-digest?weekOf=2025-01-01").await;
    assert_eq!(status, StatusCode::OK, "a past week: {body}");
    assert_eq!(body["weekOf"], "2024-12-30");
}

/// The scheduler produces the digest on Monday at 09:00, statuses as of
/// then, once per ISO week, even with two replicas; a week skipped for lack
/// of objectives does not count, and a manual digest does not stand in for
/// the scheduled one.
#[tokio::test]
async fn the_scheduled_digest_runs_once_per_iso_week() {
    let app = spawn(false).await;
    let clock: Arc<dyn Clock> = app.clock.clone();
    let mut scheduler = Scheduler::new(app.store.clone(), clock.clone());
    let monday_nine = midnight(1).plus_millis(9 * HOUR_MS);

    app.set(monday_nine.plus_millis(MINUTE_MS)).await;
    let done = scheduler.run_due_jobs(app.clock.now()).await.unwrap();
    assert_eq!(done.daily.len(), 1, "Monday's midnight");
    assert!(done.digest.is_none(), "no objectives: skipped");
    assert!(app.get_ok("/jobs/runs?kind=weekly_digest").await["runs"]
        .as_array()
        .unwrap()
        .is_empty());

    app.create_system("api", "API").await;
    app.create_objective("api", 99.9, 30, json!({})).await;
    let done = scheduler.run_due_jobs(app.clock.now()).await.unwrap();
    assert!(done.digest.is_none(), "the skipped Monday is not retried all week");
    let (status, _) = app.post_empty("/jobs/weekly-digest").await;
    assert_eq!(status, StatusCode::OK, "a manual digest still works");

    let next_monday = monday_nine.plus_millis(7 * DAY_MS);
    app.set(next_monday.minus_millis(MINUTE_MS)).await;
    let done = scheduler.run_due_jobs(app.clock.now()).await.unwrap();
    assert_eq!(done.daily.len(), 7, "Tuesday to Monday's midnight");
    assert!(done.digest.is_none(), "not Monday 09:00 yet");

    // A second replica, up since before 09:00, races the first.
    let mut replica = Scheduler::new(app.store.clone(), clock.clone());
    app.set(next_monday.plus_millis(2 * HOUR_MS)).await;
    let now = app.clock.now();
    let (a, b) = tokio::join!(scheduler.run_due_jobs(now), replica.run_due_jobs(now));
    let produced: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().filter_map(|d| d.digest).collect();
    assert_eq!(produced.len(), 1, "once per ISO week across replicas");
    assert_eq!(produced[0].week_of.to_string(), "2026-03-09");
    assert_eq!(produced[0].total_objectives, 1);
    assert!(scheduler.run_due_jobs(app.clock.now()).await.unwrap().digest.is_none());

    let runs = app.get_ok("/jobs/runs?kind=weekly_digest").await;
    let periods: Vec<&str> =
        runs["runs"].as_array().unwrap().iter().map(|r| r["period"].as_str().unwrap()).collect();
    assert_eq!(periods, ["2026-W11"]);
    assert_eq!(runs["runs"][0]["periodStart"], next_monday.to_rfc3339());
    let digests = app.get_ok("/digests").await;
    let manual: Vec<bool> = digests["digests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["manual"].as_bool().unwrap())
        .collect();
    assert_eq!(manual, [false, true], "newest first");
}

/// The scheduler inside `slod serve` wakes when the (simulated) clock
/// passes midnight and Monday 09:00.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_scheduler_follows_the_clock() {
    let mut app = spawn(true).await;
    app.create_system("api", "API").await;
    let objective = app.create_objective("api", 99.9, 30, json!({})).await;

    app.set(midnight(1).plus_millis(1000)).await;
    app.wait_for("/jobs/runs?kind=daily", |body| completed_daily_runs(body) == [date(1)]).await;
    assert_eq!(app.streak(&objective).await["currentStreak"], 1);

    app.set(midnight(1).plus_millis(9 * HOUR_MS + 1000)).await;
    let digests =
        app.wait_for("/digests", |body| !body["digests"].as_array().unwrap().is_empty()).await;
    assert_eq!(digests["digests"][0]["manual"], false);
    assert_eq!(digests["digests"][0]["weekOf"], "2026-03-02");

    app.set(midnight(4).plus_millis(1000)).await;
    app.wait_for("/jobs/runs?kind=daily", |body| completed_daily_runs(body).len() == 4).await;
    assert_eq!(app.streak(&objective).await["currentStreak"], 4);
    app.stop().await;
}

// ---- reads ---------------------------------------------------------------

#[tokio::test]
async fn streaks_snapshots_and_definitions_are_served() {
    let app = spawn(false).await;
    app.create_system("api", "API").await;
    let objective = app.create_objective("api", 99.9, 30, json!({})).await;

    // Every {objective, status} read carries the streak.
    let one = app.get_ok(&format!("/objectives/{objective}")).await;
    assert_eq!(
        one["streak"],
        json!({"currentStreak": 0, "bestStreak": 0, "streakStart": null, "bestStreakEnd": null})
    );
    for day in 1..=3 {
        app.run_day(day).await;
    }
    let list = app.get_ok("/objectives").await;
    assert_eq!(list["objectives"][0]["streak"]["currentStreak"], 3);
    let by_system = app.get_ok("/objectives?systemId=api").await;
    assert_eq!(by_system["systems"]["api"][0]["streak"]["bestStreak"], 3);
    let of_system = app.get_ok("/systems/api/objectives").await;
    assert_eq!(of_system[0]["streak"]["streakStart"], midnight(1).to_rfc3339());

    let streaks = app.get_ok("/streaks").await;
    assert_eq!(
        streaks,
        json!({"streaks": [{"objectiveId": objective, "systemId": "api", "currentStreak": 3,
            "bestStreak": 3, "streakStart": midnight(1).to_rfc3339(), "bestStreakEnd": null}]})
    );

    let path = |query: &str| format!("/objectives/{objective}/snapshots{query}");
    let dates = |body: &Value| -> Vec<String> {
        body["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["date"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app.get_ok(&path("")).await;
    assert_eq!(dates(&all), [1, 2, 3].map(|d| midnight(d).to_rfc3339()));
    let snapshot = &all["snapshots"][0];
    for key in [
        "objectiveId",
        "date",
        "availabilityPercent",
        "budgetConsumedMinutes",
        "budgetRemainingPercent",
        "burnRate",
        "streakDays",
    ] {
        assert!(snapshot.get(key).is_some(), "{key} in {snapshot}");
    }
    let from_date = app.get_ok(&path(&format!("?from={}&to={}", date(2), date(3)))).await;
    assert_eq!(dates(&from_date), [2, 3].map(|d| midnight(d).to_rfc3339()));
    let rfc = app
        .get_ok(&path(&format!(
            "?from={}&to={}",
            midnight(1).plus_millis(1).to_rfc3339().replace('+', "%2B"),
            midnight(2).to_rfc3339()
        )))
        .await;
    assert_eq!(dates(&rfc), [midnight(2).to_rfc3339()]);

    for (query, field) in [
        ("?from=nope", "from"),
        ("?to=2026-02-30", "to"),
        ("?from=2026-03-05&to=2026-03-01", "from"),
    ] {
        let (status, body) = app.get(&path(query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_error(&body, "validation_failed", Some(field));
    }
    let (status, body) = app.get("/objectives/nope/snapshots").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "not_found", None);

    let definitions = app.get_ok("/achievements").await;
    let list = definitions["achievements"].as_array().unwrap();
    assert_eq!(list.len(), 9);
    assert_eq!(list[0]["type"], "first_steps");
    for def in list {
        for key in ["type", "label", "emoji", "description"] {
            assert!(def[key].as_str().is_some_and(|s| !s.is_empty()), "{key} in {def}");
        }
    }
    let mine = app.get_ok("/systems/api/achievements").await;
    let first = &mine["achievements"][0];
    assert_eq!(first["systemId"], "api");
    assert_eq!(first["achievement"], "first_steps");
    assert_eq!(first["label"], "First Steps");
    assert!(first["emoji"].is_string() && first["description"].is_string());

    let feed = app.get_ok("/milestones").await;
    assert_eq!(
        feed["milestones"][0],
        json!({"systemId": "api", "systemName": "API", "achievement": "first_steps", "unlockedAt": midnight(1).to_rfc3339()})
    );
    for bad in ["0", "1001", "-1", "x"] {
        let (status, body) = app.get(&format!("/milestones?limit={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, "validation_failed", Some("limit"));
    }
    let (status, body) = app.get("/jobs/runs?kind=hourly").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "validation_failed", Some("kind"));
}

/// Deleting an objective or a system takes its snapshots, streak and
/// achievements along (SPEC §2).
#[tokio::test]
async fn deletes_cascade_to_the_jobs_data() {
    let app = spawn(false).await;
    app.create_system("api", "API").await;
    let objective = app.create_objective("api", 99.9, 30, json!({})).await;
    app.run_day(1).await;
    assert_eq!(app.get_ok("/milestones").await["milestones"].as_array().unwrap().len(), 1);
    let (status, _) = app.send(app.client.delete(app.url("/systems/api"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(app.get_ok("/streaks").await["streaks"].as_array().unwrap().is_empty());
    assert!(app.get_ok("/milestones").await["milestones"].as_array().unwrap().is_empty());
    let (status, _) = app.get(&format!("/objectives/{objective}/snapshots")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The next day runs over no objectives and completes.
    let run = app.run_day(2).await;
    assert_eq!(run["objectives"], 0);
}

// ---- speed (docs/BENCHMARKS.md) ------------------------------------------

/// `cargo test -p slod --release --test api -- --ignored --nocapture
/// jobs::benchmark`: a daily run and a digest over 10,000 objectives
/// holding 1,000,000 events, then a 365-day catch-up for 100 objectives.
/// Prints figures; asserts only correctness.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
async fn benchmark() {
    use slod_core::engine::Changeset;
    use slod_core::model::{
        Attribution, BurnRateThresholds, DependencyExclusion, DowntimeEvent, Objective,
        ObjectiveId, ReportSource, SystemId, Target, WindowDays,
    };

    let objectives_n: usize =
        std::env::var("BENCH_OBJECTIVES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let events_per: usize =
        std::env::var("BENCH_EVENTS_PER").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let systems_n = 1000usize;
    let app = spawn(false).await;
    let store = app.store.clone();
    let now = midnight(400);
    app.set(now.plus_millis(MINUTE_MS)).await;
    let sid = |i: usize| SystemId::parse(&format!("sys-{i:04}"), "id").unwrap();

    // Seed straight through the store, as slod-bench does: systems, each
    // depending on the next, objectives, and closed events spread over the
    // last 29 days (every third charged to the upstream).
    let started = std::time::Instant::now();
    let mut tx = store.begin().await.unwrap();
    for s in 0..systems_n {
        tx.upsert_system(&sid(s), &format!("System {s}"), now).await.unwrap();
    }
    for s in 0..systems_n - 1 {
        tx.set_upstreams(&sid(s), &[sid(s + 1)]).await.unwrap();
    }
    let objective = |o: usize, created: Timestamp| Objective {
        id: ObjectiveId::from_trusted(format!("obj-{o:05}")),
        name: None,
        system_id: sid(o % systems_n),
        health_check_configuration_id: None,
        target: Target::parse(99.0).unwrap(),
        window: WindowDays::parse(30).unwrap().into(),
        // Half and half, as slod-bench seeds them.
        dependency_exclusion: if o % 2 == 1 {
            DependencyExclusion::SelfOnly
        } else {
            DependencyExclusion::Strict
        },
        excluded_dependency_ids: vec![],
        exclude_maintenance_windows: false,
        burn_rate_thresholds: BurnRateThresholds::default(),
        burn_rate_alerts: Default::default(),
        created_at: created,
        updated_at: created,
    };
    for o in 0..objectives_n {
        tx.insert_objective(&objective(o, now.minus_millis(40 * DAY_MS))).await.unwrap();
    }
    tx.commit().await.unwrap();
    let span = 29 * DAY_MS;
    let step = span / events_per as i64;
    let mut pending = Vec::with_capacity(50_000);
    let mut total_events = 0;
    for o in 0..objectives_n {
        let system = o % systems_n;
        for e in 0..events_per {
            let start = now.minus_millis(span - e as i64 * step);
            let attribution = if e % 3 == 0 && system + 1 < systems_n {
                Attribution::Upstream {
                    system_id: sid(system + 1),
                    system_name: format!("System {}", system + 1),
                }
            } else {
                Attribution::SelfCaused
            };
            pending.push(DowntimeEvent {
                id: format!("ev-{o}-{e}"),
                objective_id: ObjectiveId::from_trusted(format!("obj-{o:05}")),
                system_id: sid(system),
                start_time: start,
                end_time: Some(start.plus_millis(10_000)),
                attribution,
                source: ReportSource::Healthcheck,
            });
            if pending.len() == 50_000 {
                total_events += pending.len();
                let mut tx = store.begin().await.unwrap();
                tx.write_changes(&Changeset {
                    inserted: std::mem::take(&mut pending),
                    ..Default::default()
                })
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
        }
    }
    if !pending.is_empty() {
        total_events += pending.len();
        let mut tx = store.begin().await.unwrap();
        tx.write_changes(&Changeset {
            inserted: std::mem::take(&mut pending),
            ..Default::default()
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    println!(
        "seeded {objectives_n} objectives, {total_events} events on {} in {:.1} s",
        store.backend(),
        started.elapsed().as_secs_f64()
    );

    let started = std::time::Instant::now();
    let (status, run) = app.post_empty(&format!("/jobs/daily?date={}", date(400))).await;
    let daily = started.elapsed().as_secs_f64();
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["snapshotsWritten"].as_u64(), Some(objectives_n as u64));
    println!("daily run over {objectives_n} objectives / {total_events} events: {daily:.2} s");

    let started = std::time::Instant::now();
    let (status, digest) = app.post_empty("/jobs/weekly-digest").await;
    let weekly = started.elapsed().as_secs_f64();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(digest["totalObjectives"].as_u64(), Some(objectives_n as u64));
    println!("weekly digest over {objectives_n} objectives / {total_events} events: {weekly:.2} s");

    // Where the time goes: the reads every status computation needs.
    let started = std::time::Instant::now();
    let objectives = app.store.list_objectives(None).await.unwrap();
    let listed = started.elapsed().as_secs_f64();
    let ids: Vec<String> = objectives.iter().map(|o| o.id.to_string()).collect();
    let started = std::time::Instant::now();
    let spans = app.store.event_spans(&ids, now.minus_millis(30 * DAY_MS), now).await.unwrap();
    let read = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let statuses =
        slod::service::status::statuses(&*app.store, &objectives, Some(now), now).await.unwrap();
    let computed = started.elapsed().as_secs_f64();
    println!(
        "  of which: list objectives {listed:.2} s; event_spans for all ({} spans) {read:.2} s; statuses (spans + down state + arithmetic) {computed:.2} s",
        spans.spans.values().map(Vec::len).sum::<usize>()
    );
    assert_eq!(statuses.len(), objectives_n);

    // 365-day catch-up for 100 objectives, on a database of its own.
    let mut small = spawn(false).await;
    let store = small.store.clone();
    let mut tx = store.begin().await.unwrap();
    for s in 0..10 {
        tx.upsert_system(&sid(s), &format!("System {s}"), t0()).await.unwrap();
    }
    for o in 0..100 {
        let objective = Objective { system_id: sid(o % 10), ..objective(o, midnight(-40)) };
        tx.insert_objective(&objective).await.unwrap();
    }
    tx.commit().await.unwrap();
    small.run_day(0).await;
    small.stop().await;
    let clock: Arc<dyn Clock> = small.clock.clone();
    let mut scheduler = Scheduler::new(store.clone(), clock);
    small.set(midnight(365).plus_millis(MINUTE_MS)).await;
    let started = std::time::Instant::now();
    let done = scheduler.run_due_jobs(small.clock.now()).await.unwrap();
    let catch_up = started.elapsed().as_secs_f64();
    assert_eq!(done.daily.len(), 365);
    assert!(done.daily.iter().all(|r| r.snapshots_written == 100));
    println!("365-day catch-up for 100 objectives: {catch_up:.2} s");
}
