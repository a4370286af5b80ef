//! Several `slod serve` processes on one PostgreSQL database behave as one
//! (SPEC §10): reports spread over the replicas give exactly the events one
//! process gives, the daily job runs once however many replicas trigger it,
//! an outbox event is delivered once with every replica's worker running,
//! and killing a replica mid-batch loses nothing it acknowledged.
//!
//! These are real processes (`env!("CARGO_BIN_EXE_slod")`), each on its own
//! loopback port, on one fresh database per test. They need a PostgreSQL
//! server and run only when `SLOD_TEST_DATABASE_URL` names one; without it
//! every test prints "skipped" and passes. The database is dropped when the
//! test ends, also when it fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use slod_core::time::{Timestamp, DAY_MS, MINUTE_MS};
use slod_store_postgres::testing::{self, TestDatabase};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

// ---------------------------------------------------------------------------
// Replicas

/// The PostgreSQL server to use, or `None` after saying the test is skipped.
fn admin_url(test: &str) -> Option<String> {
    let url = testing::admin_url_from_env();
    if url.is_none() {
        // Straight to stderr: the harness swallows `eprintln!` of passing
        // tests, and this line is meant to be seen.
        let _ = writeln!(
            std::io::stderr(),
            "replicas::{test}: skipped ({} is not set)",
            testing::TEST_DATABASE_URL_VAR
        );
    }
    url
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// A free loopback port (free when asked; a clash is retried by `start`).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One `slod serve` process.
struct Replica {
    child: Child,
    /// `http://127.0.0.1:PORT/api/v1`
    api: String,
    /// Its stderr so far, for failure messages.
    log: Arc<Mutex<Vec<String>>>,
}

impl Replica {
    /// Starts `slod serve` on a free port and waits for `/healthz`.
    async fn start(database_url: &str) -> Replica {
        let client = client();
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = Command::new(env!("CARGO_BIN_EXE_slod"))
                .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database"])
                .arg(database_url)
                .args(["--database-pool-size", "6"])
                .env("RUST_LOG", "warn")
                .env_remove("SLOD_LISTEN")
                .env_remove("SLOD_DATABASE")
                .env_remove("SLOD_DATABASE_POOL_SIZE")
                .env_remove("SLOD_DEMO")
                .env_remove("SLOD_LOG_FORMAT")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let log = Arc::new(Mutex::new(Vec::new()));
            let stderr = child.stderr.take().unwrap();
            let sink = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    sink.lock().unwrap().push(line);
                }
            });
            let healthz = format!("http://127.0.0.1:{port}/healthz");
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                if let Some(exit) = child.try_wait().unwrap() {
                    // Most likely the port was taken meanwhile: try another.
                    eprintln!("slod exited at start ({exit}): {:#?}", log.lock().unwrap());
                    break;
                }
                if let Ok(response) = client.get(&healthz).send().await {
                    if response.status() == StatusCode::OK {
                        return Replica {
                            child,
                            api: format!("http://127.0.0.1:{port}/api/v1"),
                            log,
                        };
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "slod did not answer /healthz within 90 s: {:#?}",
                    log.lock().unwrap()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("slod did not start in 5 attempts");
    }
}

/// Replicas on one database, and the database (dropped after them).
struct Cluster {
    /// Declared first, so dropped (SIGKILLed) before the database.
    replicas: Vec<Replica>,
    client: reqwest::Client,
    _database: Option<TestDatabase>,
    _dir: Option<TempDir>,
}

impl Cluster {
    /// `n` replicas on a fresh PostgreSQL database, started together.
    async fn postgres(admin_url: &str, n: usize) -> Cluster {
        let (url, database) = testing::fresh_database(admin_url).await.unwrap();
        let starts: Vec<_> = (0..n)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Replica::start(&url).await })
            })
            .collect();
        let mut replicas = Vec::new();
        for start in starts {
            replicas.push(start.await.unwrap());
        }
        Cluster { replicas, client: client(), _database: Some(database), _dir: None }
    }

    /// One process on a fresh SQLite file: the reference.
    async fn sqlite() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/slod.db", dir.path().display());
        let replica = Replica::start(&url).await;
        Cluster { replicas: vec![replica], client: client(), _database: None, _dir: Some(dir) }
    }

    fn url(&self, replica: usize, path: &str) -> String {
        format!("{}{path}", self.replicas[replica % self.replicas.len()].api)
    }

    async fn get(&self, replica: usize, path: &str) -> Value {
        let (code, body) = send(self.client.get(self.url(replica, path))).await;
        assert_eq!(code, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, replica: usize, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.client.post(self.url(replica, path)).json(&body)).await
    }

    async fn create_system(&self, replica: usize, id: &str, upstreams: &[&str]) {
        let (code, body) = send(
            self.client
                .put(self.url(replica, &format!("/systems/{id}")))
                .json(&json!({"name": id})),
        )
        .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        if !upstreams.is_empty() {
            let (code, body) = send(
                self.client
                    .put(self.url(replica, &format!("/systems/{id}/dependencies")))
                    .json(&json!({"upstreamIds": upstreams})),
            )
            .await;
            assert_eq!(code, StatusCode::OK, "{body}");
        }
    }

    async fn create_objective(&self, replica: usize, body: Value) -> String {
        let (code, body) = self.post(replica, "/objectives", body).await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// The objective's events, oldest first.
    async fn events(&self, replica: usize, objective: &str) -> Vec<Value> {
        let body =
            self.get(replica, &format!("/objectives/{objective}/downtime-events?limit=1000")).await;
        let mut events = body["events"].as_array().unwrap().clone();
        events.reverse();
        events
    }

    /// Every replica's stderr, for failure messages.
    fn logs(&self) -> String {
        self.replicas
            .iter()
            .enumerate()
            .map(|(i, r)| format!("replica {i}:\n{}\n", r.log.lock().unwrap().join("\n")))
            .collect()
    }
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
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

/// `(attributionType, upstreamSystemId, startTime, endTime, source)`.
type EventShape = (String, Option<String>, String, Option<String>, String);

fn shape(event: &Value) -> EventShape {
    (
        event["attributionType"].as_str().unwrap().to_owned(),
        event["upstreamSystemId"].as_str().map(str::to_owned),
        event["startTime"].as_str().unwrap().to_owned(),
        event["endTime"].as_str().map(str::to_owned),
        event["source"].as_str().unwrap().to_owned(),
    )
}

/// SPEC §3 / §10 invariants of one objective's events (oldest first): at
/// most one open event, open exactly while the system is down, no overlap.
fn assert_well_formed(label: &str, events: &[EventShape], system_down: bool) {
    let open = events.iter().filter(|e| e.3.is_none()).count();
    assert!(open <= 1, "{label}: {open} open events: {events:#?}");
    assert_eq!(open == 1, system_down, "{label}: down={system_down}: {events:#?}");
    for pair in events.windows(2) {
        let end = pair[0].3.as_ref().unwrap_or_else(|| panic!("{label}: open event not last"));
        assert!(
            Timestamp::parse(end).unwrap() <= Timestamp::parse(&pair[1].2).unwrap(),
            "{label}: events overlap: {pair:#?}"
        );
    }
}

/// splitmix64: a fixed pseudo-random sequence, so every run sends the same
/// reports.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------
// (a) Reports spread over the replicas give the events one process gives.

const UPSTREAMS: [&str; 2] = ["db", "queue"];
const DOWNSTREAMS: usize = 10;
const ROUNDS: usize = 10;
const UPSTREAM_REPORTS_PER_PHASE: usize = 5;
const DOWNSTREAM_REPORTS_PER_PHASE: usize = 9;

fn downstream(i: usize) -> String {
    format!("svc-{i}")
}

/// Downstreams share the two upstreams: a third depend on `db`, a third on
/// `queue`, a third on both.
fn upstreams_of(i: usize) -> Vec<&'static str> {
    match i % 3 {
        0 => vec!["db"],
        1 => vec!["queue"],
        _ => vec!["db", "queue"],
    }
}

/// One report as sent: `(status, source, at)`.
type Report = (&'static str, &'static str, String);

/// Reports that run concurrently: one sequence per system, each sent in
/// order by its own task. Phases run one after another.
type Phase = Vec<(String, Vec<Report>)>;

/// 1,000 reports in phases: each round, `db` alone, then `queue` alone,
/// then all ten downstreams at once. Within a phase no system's reports can
/// change another's events (downstreams have no dependents; while one
/// upstream changes the other is still), so the result does not depend on
/// the order reports of different systems arrive in, and one process
/// applying the phases in turn gives the reference.
fn report_plan(base: Timestamp) -> Vec<Phase> {
    let pick = |seed: u64| -> (&'static str, &'static str) {
        let r = mix(seed);
        let status = match r % 10 {
            0..=4 => "healthy",
            5..=7 => "unhealthy",
            _ => "degraded",
        };
        // Incidents hold a system down while probes recover (SPEC §12).
        let source = if (r >> 8).is_multiple_of(6) { "incident" } else { "healthcheck" };
        (status, source)
    };
    let mut phases = Vec::new();
    let mut seed = 0u64;
    for _round in 0..ROUNDS {
        for upstream in UPSTREAMS {
            let start = base.plus_millis(phases.len() as i64 * MINUTE_MS);
            let reports = (0..UPSTREAM_REPORTS_PER_PHASE)
                .map(|k| {
                    seed += 1;
                    let (status, source) = pick(seed);
                    (status, source, start.plus_millis(k as i64 * 5_000).to_rfc3339())
                })
                .collect();
            phases.push(vec![(upstream.to_owned(), reports)]);
        }
        let start = base.plus_millis(phases.len() as i64 * MINUTE_MS);
        let phase = (0..DOWNSTREAMS)
            .map(|i| {
                let reports = (0..DOWNSTREAM_REPORTS_PER_PHASE)
                    .map(|k| {
                        seed += 1;
                        let (status, source) = pick(seed);
                        // Systems interleave in time within the phase.
                        let at = start.plus_millis(k as i64 * 5_000 + i as i64 * 300);
                        (status, source, at.to_rfc3339())
                    })
                    .collect();
                (downstream(i), reports)
            })
            .collect();
        phases.push(phase);
    }
    phases
}

/// Systems, edges and objectives; returns objective id → a stable label.
async fn set_up_shared_upstreams(
    cluster: &Cluster,
    created_at: Timestamp,
) -> BTreeMap<String, String> {
    let created_at = created_at.to_rfc3339();
    let mut labels = BTreeMap::new();
    for (n, upstream) in UPSTREAMS.iter().enumerate() {
        cluster.create_system(n, upstream, &[]).await;
        let id = cluster
            .create_objective(
                n,
                json!({"systemId": upstream, "target": 99.5, "windowDays": 30,
                       "createdAt": created_at}),
            )
            .await;
        labels.insert(id, format!("{upstream}/strict"));
    }
    for i in 0..DOWNSTREAMS {
        let system = downstream(i);
        cluster.create_system(i, &system, &upstreams_of(i)).await;
        let mut objectives = vec![
            ("strict", json!({"dependencyExclusion": "strict"})),
            ("self-only", json!({"dependencyExclusion": "self-only"})),
        ];
        if upstreams_of(i).len() == 2 {
            // `db` outages are not excused for this one: only `queue` is.
            objectives.push((
                "self-only-but-db",
                json!({"dependencyExclusion": "self-only", "excludedDependencyIds": ["db"]}),
            ));
        }
        for (n, (label, mut body)) in objectives.into_iter().enumerate() {
            body["systemId"] = json!(system);
            body["target"] = json!(99.5);
            body["windowDays"] = json!(30);
            body["createdAt"] = json!(created_at);
            let id = cluster.create_objective(i + n, body).await;
            labels.insert(id, format!("{system}/{label}"));
        }
    }
    labels
}

/// Sends the phases in turn; within a phase one task per system sends its
/// reports in order, report `k` of system `s` to replica `s + k` (mod n).
async fn send_phases(cluster: &Cluster, phases: &[Phase]) -> usize {
    let mut sent = 0;
    for phase in phases {
        let tasks: Vec<_> = phase
            .iter()
            .enumerate()
            .map(|(s, (system, reports))| {
                let client = cluster.client.clone();
                let urls: Vec<String> =
                    (0..cluster.replicas.len()).map(|r| cluster.url(r, "/health")).collect();
                let system = system.clone();
                let reports = reports.clone();
                tokio::spawn(async move {
                    for (k, (status, source, at)) in reports.iter().enumerate() {
                        let url = &urls[(s + k) % urls.len()];
                        let body = json!({"systemId": system, "status": status,
                                          "source": source, "at": at});
                        let (code, answer) = send(client.post(url).json(&body)).await;
                        assert_eq!(code, StatusCode::OK, "{body} to {url}: {answer}");
                    }
                    reports.len()
                })
            })
            .collect();
        for task in tasks {
            sent += task.await.unwrap();
        }
    }
    sent
}

/// label → events (oldest first), and system → down, read through `replica`.
async fn outcome(
    cluster: &Cluster,
    replica: usize,
    labels: &BTreeMap<String, String>,
) -> (BTreeMap<String, Vec<EventShape>>, BTreeMap<String, bool>) {
    let mut events = BTreeMap::new();
    for (id, label) in labels {
        let shapes = cluster.events(replica, id).await.iter().map(shape).collect();
        events.insert(label.clone(), shapes);
    }
    let systems = cluster.get(replica, "/systems").await;
    let down = systems["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["status"] != "healthy"))
        .collect();
    (events, down)
}

async fn reports_spread_over_replicas_match_one_process(test: &str, replicas: usize) {
    let Some(admin) = admin_url(test) else { return };
    let base = Timestamp::from_millis(now().millis() / 1000 * 1000 - 3 * 60 * MINUTE_MS);
    let phases = report_plan(base);
    let total: usize = phases.iter().flatten().map(|(_, reports)| reports.len()).sum();
    assert_eq!(total, 1000);

    // The reference: one process on SQLite, the same phases.
    let reference = Cluster::sqlite().await;
    let labels = set_up_shared_upstreams(&reference, base.minus_millis(DAY_MS)).await;
    assert_eq!(send_phases(&reference, &phases).await, total);
    let (expected, expected_down) = outcome(&reference, 0, &labels).await;
    drop(reference);

    let cluster = Cluster::postgres(&admin, replicas).await;
    let labels = set_up_shared_upstreams(&cluster, base.minus_millis(DAY_MS)).await;
    let started = Instant::now();
    assert_eq!(send_phases(&cluster, &phases).await, total);
    let elapsed = started.elapsed();
    let _ = writeln!(
        std::io::stderr(),
        "replicas::{test}: {total} reports over {replicas} replicas in {elapsed:.2?}"
    );

    // Every replica reads the same, and it is what one process wrote.
    let (events, down) = outcome(&cluster, 0, &labels).await;
    for r in 1..replicas {
        assert_eq!(outcome(&cluster, r, &labels).await, (events.clone(), down.clone()));
    }
    assert_eq!(down, expected_down, "{}", cluster.logs());
    for (label, expected_events) in &expected {
        assert_eq!(&events[label], expected_events, "{label}\n{}", cluster.logs());
    }
    assert_eq!(events.len(), expected.len());

    // One open event per down objective, never overlapping; and the run
    // exercised what it is about.
    let mut upstream_charged = 0;
    let mut open = 0;
    for (label, shapes) in &events {
        let system = label.split('/').next().unwrap();
        assert_well_formed(label, shapes, down[system]);
        upstream_charged += shapes.iter().filter(|e| e.0 == "upstream").count();
        open += shapes.iter().filter(|e| e.3.is_none()).count();
    }
    let total_events: usize = events.values().map(Vec::len).sum();
    assert!(total_events > 200, "{total_events} events");
    assert!(upstream_charged > 20, "{upstream_charged} upstream-attributed events");
    assert!(open > 0, "some objective is down at the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_reports_over_two_replicas_give_the_events_of_one_process() {
    reports_spread_over_replicas_match_one_process("two_replicas", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_reports_over_three_replicas_give_the_events_of_one_process() {
    reports_spread_over_replicas_match_one_process("three_replicas", 3).await;
}

/// Each process keeps the closed downtime it has read in memory
/// (`slod_store::span_cache`); a status read on one replica must still
/// follow every change made through another, at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_status_read_on_one_replica_follows_changes_made_on_another() {
    let Some(admin) = admin_url("status_follows") else { return };
    let cluster = Cluster::postgres(&admin, 2).await;
    let start = Timestamp::from_millis(now().millis() / 1000 * 1000 - 6 * 60 * MINUTE_MS);
    cluster.create_system(0, "api", &[]).await;
    let objective = cluster
        .create_objective(
            0,
            json!({"systemId": "api", "target": 99.0, "windowDays": 30,
                   "createdAt": start.minus_millis(DAY_MS).to_rfc3339()}),
        )
        .await;
    let status = |body: &Value| {
        (
            body["status"]["errorBudgetConsumedMinutes"].as_f64().unwrap(),
            body["status"]["hasOpenDowntime"].as_bool().unwrap(),
        )
    };
    let path = format!("/objectives/{objective}");
    assert_eq!(status(&cluster.get(1, &path).await), (0.0, false), "read (and cached) on 1");

    // Outages of 10, 20 and 30 minutes, reported through replica 0; after
    // each, replica 1 (which has cached what came before) sees it whole.
    let mut consumed = 0.0;
    for (n, minutes) in [10, 20, 30].into_iter().enumerate() {
        let down = start.plus_millis(n as i64 * 60 * MINUTE_MS);
        let up = down.plus_millis(minutes * MINUTE_MS);
        for (at, health) in [(down, "unhealthy"), (up, "healthy")] {
            let (code, body) = cluster
                .post(
                    0,
                    "/health",
                    json!({"systemId": "api", "status": health, "at": at.to_rfc3339()}),
                )
                .await;
            assert_eq!(code, StatusCode::OK, "{body}");
        }
        consumed += minutes as f64;
        let (got, open) = status(&cluster.get(1, &path).await);
        assert!((got - consumed).abs() < 1e-6, "after outage {n}: {got} on 1, want {consumed}");
        assert!(!open);
        assert_eq!(status(&cluster.get(0, &path).await), (got, open), "both replicas agree");
    }
    // An outage still open, begun 5 minutes ago, then closed.
    let down = Timestamp::from_millis(now().millis() - 5 * MINUTE_MS);
    let (code, body) = cluster
        .post(
            0,
            "/health",
            json!({"systemId": "api", "status": "unhealthy", "at": down.to_rfc3339()}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (got, open) = status(&cluster.get(1, &path).await);
    assert!(open, "the open outage shows on replica 1");
    assert!(got >= consumed + 5.0 - 1e-6 && got < consumed + 6.0, "{got}");
    let (code, body) =
        cluster.post(0, "/health", json!({"systemId": "api", "status": "healthy"})).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (after, open) = status(&cluster.get(1, &path).await);
    assert!(!open, "closed on replica 1 too");
    assert!(after >= got - 1e-6 && after < consumed + 6.0, "{after}");
}

// ---------------------------------------------------------------------------
// (b) The daily job triggered on every replica at once runs once.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daily_job_triggered_on_every_replica_at_once_writes_one_snapshot_per_objective() {
    let Some(admin) = admin_url("daily_job") else { return };
    let cluster = Cluster::postgres(&admin, 3).await;
    let now = now();
    let created_at = now.minus_millis(10 * DAY_MS).to_rfc3339();
    let mut objectives = Vec::new();
    for s in 0..4 {
        let system = format!("app-{s}");
        cluster.create_system(s, &system, &[]).await;
        for target in [99.0, 99.5, 99.9] {
            let id = cluster
                .create_objective(
                    s,
                    json!({"systemId": system, "target": target, "windowDays": 30,
                           "createdAt": created_at}),
                )
                .await;
            objectives.push(id);
        }
    }
    // Twenty minutes of downtime five days ago: every objective still
    // meets its target.
    let outage = now.minus_millis(5 * DAY_MS);
    for (n, (status, at)) in
        [("unhealthy", outage), ("healthy", outage.plus_millis(20 * MINUTE_MS))].iter().enumerate()
    {
        let (code, body) = cluster
            .post(
                n,
                "/health",
                json!({"systemId": "app-0", "status": status, "at": at.to_rfc3339()}),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }

    let day = now.minus_millis(2 * DAY_MS).date();
    let midnight = Timestamp::from_date(day).to_rfc3339();
    let path = format!("/jobs/daily?date={day}");
    let trigger_everywhere = || async {
        // Three triggers on each replica, all at once.
        let tasks: Vec<_> = (0..9)
            .map(|n| {
                let request = cluster.client.post(cluster.url(n, &path));
                tokio::spawn(send(request))
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            let (code, body) = task.await.unwrap();
            assert_eq!(code, StatusCode::OK, "{body}\n{}", cluster.logs());
            answers.push(body);
        }
        answers
    };
    let count = |answers: &[Value], field: &str| -> u64 {
        answers.iter().map(|a| a[field].as_u64().unwrap()).sum()
    };

    let answers = trigger_everywhere().await;
    assert_eq!(count(&answers, "snapshotsWritten"), objectives.len() as u64, "{answers:#?}");
    assert_eq!(count(&answers, "streaksIncremented"), objectives.len() as u64, "{answers:#?}");
    for (n, id) in objectives.iter().enumerate() {
        let body = cluster.get(n, &format!("/objectives/{id}/snapshots")).await;
        let snapshots = body["snapshots"].as_array().unwrap();
        assert_eq!(snapshots.len(), 1, "{id}: {body}");
        assert_eq!(snapshots[0]["date"], midnight.as_str());
        assert_eq!(snapshots[0]["streakDays"], 0);
    }
    let streaks = cluster.get(1, "/streaks").await;
    let streaks = streaks["streaks"].as_array().unwrap();
    assert_eq!(streaks.len(), objectives.len());
    assert!(streaks.iter().all(|s| s["currentStreak"] == 1), "{streaks:#?}");
    let runs = cluster.get(2, "/jobs/runs?kind=daily").await;
    let runs: Vec<&Value> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["periodStart"] == midnight.as_str())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["status"], "completed");

    // Again, everywhere at once: nothing more happens.
    let answers = trigger_everywhere().await;
    assert_eq!(count(&answers, "snapshotsWritten"), 0, "{answers:#?}");
    assert_eq!(count(&answers, "streaksIncremented"), 0, "{answers:#?}");
    for id in &objectives {
        let body = cluster.get(0, &format!("/objectives/{id}/snapshots")).await;
        assert_eq!(body["snapshots"].as_array().unwrap().len(), 1, "{id}: {body}");
    }
    let streaks = cluster.get(0, "/streaks").await;
    assert!(streaks["streaks"].as_array().unwrap().iter().all(|s| s["currentStreak"] == 1));
}

// ---------------------------------------------------------------------------
// (c) An outbox event is delivered once, every replica running its worker.

/// Deliveries received, by `X-Slod-Delivery`.
type Received = Arc<Mutex<HashMap<String, u32>>>;

async fn webhook(State(received): State<Received>, headers: HeaderMap) -> StatusCode {
    let id = headers
        .get("x-slod-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<no X-Slod-Delivery>")
        .to_owned();
    *received.lock().unwrap().entry(id).or_default() += 1;
    StatusCode::OK
}

/// A webhook receiver on 127.0.0.1:0; returns its URL and what it got.
async fn spawn_receiver() -> (String, Received) {
    let received = Received::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(webhook))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outbox_event_is_delivered_once_with_every_replica_running_its_worker() {
    let Some(admin) = admin_url("outbox_delivery") else { return };
    let (hook, received) = spawn_receiver().await;
    let cluster = Cluster::postgres(&admin, 3).await;
    let (code, channel) = cluster
        .post(
            0,
            "/channels",
            json!({"name": "Receiver", "kind": "webhook", "url": hook,
                   "events": ["slo.status.changed"]}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{channel}");
    let channel = channel["id"].as_str().unwrap().to_owned();

    // Six systems, one objective each, then twelve reports per system
    // (each opens or closes an event), sent in parallel over the replicas.
    let created_at = now().minus_millis(2 * DAY_MS).to_rfc3339();
    let base = now().minus_millis(60 * MINUTE_MS);
    for s in 0..6 {
        let system = format!("web-{s}");
        cluster.create_system(s, &system, &[]).await;
        cluster
            .create_objective(
                s + 1,
                json!({"systemId": system, "target": 99.9, "windowDays": 30,
                       "createdAt": created_at}),
            )
            .await;
    }
    let phase: Phase = (0..6)
        .map(|s| {
            let reports = (0..12)
                .map(|k| {
                    let status = if k % 2 == 0 { "unhealthy" } else { "healthy" };
                    (status, "healthcheck", base.plus_millis(k * MINUTE_MS + s * 1000).to_rfc3339())
                })
                .collect();
            (format!("web-{s}"), reports)
        })
        .collect();
    send_phases(&cluster, &[phase]).await;

    // Every event was enqueued with its change; wait for all to be sent.
    let path = format!("/channels/{channel}/deliveries?limit=1000");
    let deadline = Instant::now() + Duration::from_secs(90);
    let deliveries = loop {
        let body = cluster.get(0, &path).await;
        let deliveries = body["deliveries"].as_array().unwrap().clone();
        if deliveries.iter().all(|d| d["state"] == "delivered") {
            break deliveries;
        }
        assert!(Instant::now() < deadline, "not all delivered in 90 s: {body:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // 6 objectives created, 72 events opened or closed.
    assert!(deliveries.len() >= 78, "{} deliveries", deliveries.len());
    // Time for a duplicate, if any replica were to send one.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let received = received.lock().unwrap().clone();
    let logged: BTreeSet<String> =
        deliveries.iter().map(|d| d["eventId"].as_str().unwrap().to_owned()).collect();
    assert_eq!(logged.len(), deliveries.len(), "one delivery per event");
    assert_eq!(received.keys().cloned().collect::<BTreeSet<_>>(), logged);
    let repeated: Vec<_> = received.iter().filter(|(_, n)| **n != 1).collect();
    assert!(repeated.is_empty(), "delivered more than once: {repeated:?}");
    for delivery in &deliveries {
        assert_eq!(delivery["attemptCount"], 1, "{delivery:#}");
    }
}

// ---------------------------------------------------------------------------
// (d) Killing a replica mid-batch loses nothing it acknowledged.

const STREAMS: usize = 4;
const SYSTEMS_PER_STREAM: usize = 5;
/// Per system per batch: alternately down and up, so five events each.
const REPORTS_PER_SYSTEM: usize = 20;

fn kill_system(stream: usize, x: usize) -> String {
    format!("k{stream}-{x}")
}

/// The `m`-th report instant of batch `k` (one second apart throughout).
fn batch_at(base: Timestamp, k: usize, m: usize) -> Timestamp {
    base.plus_millis(((k * REPORTS_PER_SYSTEM + m) * 1000) as i64)
}

/// Batch `k` of `stream`: 100 reports, in time order.
fn kill_batch(base: Timestamp, stream: usize, k: usize) -> Value {
    let mut reports = Vec::new();
    for m in 0..REPORTS_PER_SYSTEM {
        for x in 0..SYSTEMS_PER_STREAM {
            let status = if m % 2 == 0 { "unhealthy" } else { "healthy" };
            reports.push(json!({"systemId": kill_system(stream, x), "status": status,
                                "at": batch_at(base, k, m).to_rfc3339()}));
        }
    }
    json!({ "reports": reports })
}

/// How many of batch `k`'s events `events` holds: all of them (exactly as
/// sent) or none; anything else fails.
fn batch_events_present(events: &[EventShape], base: Timestamp, k: usize, label: &str) -> bool {
    let (first, last) = (batch_at(base, k, 0), batch_at(base, k, REPORTS_PER_SYSTEM - 1));
    let inside: Vec<&EventShape> = events
        .iter()
        .filter(|e| {
            let start = Timestamp::parse(&e.2).unwrap();
            first <= start && start <= last
        })
        .collect();
    if inside.is_empty() {
        return false;
    }
    let expected: Vec<(String, Option<String>)> = (0..REPORTS_PER_SYSTEM / 2)
        .map(|i| {
            (batch_at(base, k, 2 * i).to_rfc3339(), Some(batch_at(base, k, 2 * i + 1).to_rfc3339()))
        })
        .collect();
    let got: Vec<(String, Option<String>)> =
        inside.iter().map(|e| (e.2.clone(), e.3.clone())).collect();
    assert_eq!(got, expected, "{label}: batch {k} is half there");
    true
}

/// Every kill-test objective's events, read through replica B.
async fn read_kill_events(
    cluster: &Cluster,
    objectives: &BTreeMap<(usize, usize), String>,
) -> BTreeMap<(usize, usize), Vec<EventShape>> {
    let mut events = BTreeMap::new();
    for (key, id) in objectives {
        events.insert(*key, cluster.events(1, id).await.iter().map(shape).collect());
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_replica_mid_batch_loses_nothing_acknowledged() {
    let Some(admin) = admin_url("kill_mid_batch") else { return };
    let mut cluster = Cluster::postgres(&admin, 2).await;
    let created_at = now().minus_millis(2 * DAY_MS).to_rfc3339();
    let base = Timestamp::from_millis(now().millis() / 1000 * 1000 - 6 * 60 * MINUTE_MS);
    let mut objectives = BTreeMap::new();
    for stream in 0..STREAMS {
        for x in 0..SYSTEMS_PER_STREAM {
            let system = kill_system(stream, x);
            cluster.create_system(1, &system, &[]).await;
            let id = cluster
                .create_objective(
                    1,
                    json!({"systemId": system, "target": 99.0, "windowDays": 30,
                           "createdAt": created_at}),
                )
                .await;
            objectives.insert((stream, x), id);
        }
    }

    // Each stream sends its batches to replica A, one after another, until
    // A stops answering.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let streams: Vec<_> = (0..STREAMS)
        .map(|stream| {
            let client = cluster.client.clone();
            let url = cluster.url(0, "/health");
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for k in 0.. {
                    let response =
                        client.post(&url).json(&kill_batch(base, stream, k)).send().await;
                    match response {
                        Ok(response) if response.status().is_success() => {
                            // Acknowledged only once the whole answer is in.
                            if response.bytes().await.is_err() {
                                return (acked, k);
                            }
                            acked.push(k);
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(response) => {
                            let code = response.status();
                            assert!(code.is_server_error(), "batch {k} refused: {code}");
                            return (acked, k);
                        }
                        Err(_) => return (acked, k),
                    }
                }
                unreachable!("the loop only ends by returning")
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acknowledged.load(Ordering::SeqCst) < 4 * STREAMS {
        assert!(Instant::now() < deadline, "too slow: {}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // `kill -9`, with batches in flight.
    cluster.replicas[0].child.kill().await.unwrap();
    let mut outcomes = Vec::new();
    for stream in streams {
        outcomes
            .push(tokio::time::timeout(Duration::from_secs(60), stream).await.unwrap().unwrap());
    }

    // Through B: every acknowledged batch is there whole; no batch is half
    // there.
    let check = |events: &BTreeMap<(usize, usize), Vec<EventShape>>,
                 stream: usize,
                 acked: &[usize],
                 upto: usize| {
        for k in 0..=upto {
            let present: Vec<bool> = (0..SYSTEMS_PER_STREAM)
                .map(|x| {
                    batch_events_present(&events[&(stream, x)], base, k, &kill_system(stream, x))
                })
                .collect();
            assert!(present.iter().all(|p| *p == present[0]), "batch {stream}/{k}: {present:?}");
            if acked.contains(&k) {
                assert!(present[0], "acknowledged batch {stream}/{k} is lost");
            }
        }
        for x in 0..SYSTEMS_PER_STREAM {
            assert_well_formed(&kill_system(stream, x), &events[&(stream, x)], false);
        }
    };
    let events = read_kill_events(&cluster, &objectives).await;
    let mut total_acked = 0;
    for (stream, (acked, first_unacked)) in outcomes.iter().enumerate() {
        assert_eq!(acked, &(0..*first_unacked).collect::<Vec<_>>());
        total_acked += acked.len();
        check(&events, stream, acked, *first_unacked);
    }
    assert!(total_acked >= 4 * STREAMS);

    // B keeps working: each stream sends its unacknowledged batch again
    // (409 if A had committed it after all: it is then there whole), then
    // one more.
    let mut summary = Vec::new();
    for (stream, (acked, first_unacked)) in outcomes.iter().enumerate() {
        // Committed by A although never acknowledged (A died between the
        // commit and the answer)?
        let committed = batch_events_present(
            &events[&(stream, 0)],
            base,
            *first_unacked,
            &kill_system(stream, 0),
        );
        let (code, body) =
            cluster.post(1, "/health", kill_batch(base, stream, *first_unacked)).await;
        let expected = if committed { StatusCode::CONFLICT } else { StatusCode::OK };
        assert_eq!(code, expected, "{body}");
        summary.push(format!("{} acknowledged, then {code}", acked.len()));
        let (code, body) =
            cluster.post(1, "/health", kill_batch(base, stream, first_unacked + 1)).await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
    let events = read_kill_events(&cluster, &objectives).await;
    for (stream, (_, first_unacked)) in outcomes.iter().enumerate() {
        let all: Vec<usize> = (0..=first_unacked + 1).collect();
        check(&events, stream, &all, first_unacked + 1);
    }
    assert!(cluster.replicas[0].child.try_wait().unwrap().is_some(), "A is dead");
    let _ = writeln!(std::io::stderr(), "replicas::kill_mid_batch: streams {summary:?}");
}
