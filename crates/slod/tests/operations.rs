//! Operations (SPEC §18) on the real binary: `slod backup` while the server
//! writes, `GET /readyz` when the database goes away, and SIGTERM under
//! load.
//!
//! Each test starts `slod serve` processes (`env!("CARGO_BIN_EXE_slod")`)
//! on loopback. The PostgreSQL readiness test runs when
//! `SLOD_TEST_DATABASE_URL` is set and prints "skipped" otherwise; its
//! database is dropped by the test itself (that is what it tests), and by
//! its guard if the test fails first.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Output;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use slod_core::time::{Timestamp, MINUTE_MS};
use slod_store_postgres::testing as pg_testing;
use sqlx::{ConnectOptions, Connection};
use tokio::process::Child;
use tokio::sync::mpsc;

#[path = "support/process.rs"]
mod process;
use process::SlodProcess;

/// A running `slod serve`.
struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    base: String,
    logs: mpsc::UnboundedReceiver<String>,
}

impl Server {
    async fn start(database_url: &str) -> Server {
        let SlodProcess { child, address, logs, .. } = SlodProcess::start(database_url, &[]).await;
        Server { child, base: address, logs }
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// Sends SIGTERM.
    fn terminate(&self) {
        let pid = self.child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap()
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

async fn slod(args: &[&str]) -> Output {
    process::run(args).await
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Creates `systems`, each with one objective.
async fn create_systems(client: &reqwest::Client, server: &Server, systems: &[String]) {
    for id in systems {
        let (code, body) =
            send(client.put(server.api(&format!("/systems/{id}"))).json(&json!({"name": id})))
                .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        let objective = json!({"systemId": id, "target": 99.9, "windowDays": 30});
        let (code, body) = send(client.post(server.api("/objectives")).json(&objective)).await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }
}

/// Batch `k` of a writer: one report per system, all at `first + k s`,
/// unhealthy for even `k` and healthy for odd, so every report is a
/// transition (it is logged, and opens or closes an event) and a batch
/// applied in part would leave its systems disagreeing.
fn batch(systems: &[String], first: Timestamp, k: i64) -> Value {
    let status = if k % 2 == 0 { "unhealthy" } else { "healthy" };
    let at = batch_at(first, k);
    let reports: Vec<Value> = systems
        .iter()
        .map(|id| json!({"systemId": id, "status": status, "at": at.to_rfc3339()}))
        .collect();
    json!({ "reports": reports })
}

fn batch_at(first: Timestamp, k: i64) -> Timestamp {
    first.plus_millis(k * 1000)
}

/// What a writer saw: each batch acknowledged with 2xx, and when.
#[derive(Default)]
struct Acknowledged {
    batches: Vec<(i64, Instant)>,
}

/// Sends batches to `systems` one after another until `stop` is set or a
/// batch is not acknowledged (then the writer stops: later batches would
/// follow an unacknowledged one).
fn spawn_writer(
    client: reqwest::Client,
    url: String,
    systems: Vec<String>,
    first: Timestamp,
    stop: Arc<std::sync::atomic::AtomicBool>,
    acknowledged: Arc<Mutex<Acknowledged>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for k in 0.. {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let sent = client.post(&url).json(&batch(&systems, first, k)).send().await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    acknowledged.lock().unwrap().batches.push((k, Instant::now()));
                }
                _ => return,
            }
        }
    })
}

// ---------------------------------------------------------------------------
// slod backup

#[tokio::test]
async fn a_backup_taken_while_reports_arrive_holds_every_report_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("slod.db").display());
    let server = Server::start(&url).await;
    let client = client();
    let systems: Vec<String> = ["a", "b", "c"].iter().map(|s| format!("backup-{s}")).collect();
    create_systems(&client, &server, &systems).await;

    let first = now().minus_millis(120 * MINUTE_MS);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let writer = spawn_writer(
        client.clone(),
        server.api("/health"),
        systems.clone(),
        first,
        stop.clone(),
        acknowledged.clone(),
    );
    // Let the writer get going, then back up mid-stream.
    while acknowledged.lock().unwrap().batches.len() < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let copy = dir.path().join("copy.db");
    let copy_arg = copy.to_str().unwrap();
    let began = Instant::now();
    let output = slod(&["backup", "--database", &url, "--to", copy_arg]).await;
    let ended = Instant::now();
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("backed up"), "{}", text(&output));
    // Keep writing a moment after the backup, then stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();

    let acknowledged = std::mem::take(&mut acknowledged.lock().unwrap().batches);
    let before: Vec<i64> =
        acknowledged.iter().filter(|(_, when)| *when < began).map(|(k, _)| *k).collect();
    let during = acknowledged.iter().filter(|(_, when)| *when >= began && *when < ended).count();
    let after = acknowledged.iter().filter(|(_, when)| *when >= ended).count();
    assert!(after > 0, "the server kept taking reports after the backup");

    // The copy, read as a database: every batch acknowledged before the
    // backup began, each whole (all its systems or none).
    let copy_url = format!("sqlite://{}", copy.display());
    let stored = stored_batches(&copy_url, &systems, first).await;
    for k in &before {
        assert!(stored.contains(k), "batch {k}, acknowledged before the backup, is missing");
    }
    let newest = *stored.iter().max().unwrap();
    assert_eq!(stored, (0..=newest).collect(), "the copy holds a prefix of the batches");
    // Batches acknowledged before and during the backup, and at most one
    // in flight: the copy is from the backup's time, not later.
    let newest_count = usize::try_from(newest).unwrap();
    assert!(newest_count <= before.len() + during, "the copy is from the backup's time");

    // Restore = start slod on the copy: it serves what the copy holds.
    let restored = Server::start(&format!("sqlite://{}", copy.display())).await;
    let (code, system) = send(client.get(restored.api(&format!("/systems/{}", systems[0])))).await;
    assert_eq!(code, StatusCode::OK, "{system}");
    assert_eq!(system["lastReportAt"], batch_at(first, newest).to_rfc3339());
    drop(restored);

    // An existing file is refused, and left as it was…
    let copy_bytes = std::fs::read(&copy).unwrap();
    let output = slod(&["backup", "--database", &url, "--to", copy_arg]).await;
    assert!(!output.status.success());
    assert!(text(&output).contains("already exists") && text(&output).contains("--force"));
    assert!(std::fs::read(&copy).unwrap() == copy_bytes, "a refused backup changed the file");
    // …unless --force: then it is replaced by a fresh copy.
    let output = slod(&["backup", "--database", &url, "--to", copy_arg, "--force"]).await;
    assert!(output.status.success(), "{}", text(&output));
    let stored = stored_batches(&copy_url, &systems, first).await;
    assert_eq!(stored.len(), acknowledged.len(), "a forced backup is a new copy");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
}

/// The batches (by `k`) the database at `url` holds, read with SQL, each
/// checked to be whole: logged for every system.
async fn stored_batches(url: &str, systems: &[String], first: Timestamp) -> BTreeSet<i64> {
    const LOG: &str = "SELECT system_id, at FROM health_reports";
    let rows: Vec<(String, i64)> = if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).unwrap();
        let mut conn = options.read_only(true).connect().await.unwrap();
        let rows = sqlx::query_as(LOG).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        rows
    } else {
        let options = sqlx::postgres::PgConnectOptions::from_str(url).unwrap();
        let mut conn = options.connect().await.unwrap();
        let rows = sqlx::query_as(LOG).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        rows
    };
    let mut per_system = vec![BTreeSet::new(); systems.len()];
    for (system, at) in rows {
        // Other writers' systems share the database.
        let Some(index) = systems.iter().position(|s| *s == system) else { continue };
        assert_eq!((at - first.millis()) % 1000, 0);
        per_system[index].insert((at - first.millis()) / 1000);
    }
    for (system, batches) in systems.iter().zip(&per_system) {
        assert_eq!(batches, &per_system[0], "{system} disagrees: a batch was half-applied");
    }
    per_system.swap_remove(0)
}

#[tokio::test]
async fn a_postgres_backup_is_refused_with_status_2_pointing_at_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("slod.dump");
    let output = slod(&[
        "backup",
        "--database",
        "postgres://slod:secret@127.0.0.1:5432/slod",
        "--to",
        to.to_str().unwrap(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("pg_dump"), "{}", text(&output));
    assert!(!text(&output).contains("secret"), "the password leaked: {}", text(&output));
    assert!(!to.exists());
}

// ---------------------------------------------------------------------------
// GET /readyz

async fn readyz(client: &reqwest::Client, server: &Server) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let (code, body) = send(client.get(format!("{}/readyz", server.base))).await;
    (code, body, started.elapsed())
}

async fn assert_not_ready(client: &reqwest::Client, server: &Server) {
    let (code, body, took) = readyz(client, server).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "not_ready", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(took < Duration::from_secs(5), "readyz took {took:?}");
    // Liveness is another question: the process is fine.
    let (code, body) = send(client.get(format!("{}/healthz", server.base))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn readyz_turns_503_when_the_sqlite_file_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slod.db");
    let server = Server::start(&format!("sqlite://{}", path.display())).await;
    let client = client();
    let (code, body, _) = readyz(&client, &server).await;
    assert_eq!((code, body), (StatusCode::OK, json!({"status": "ready"})));

    // The file is deleted and a directory takes its name: the server's
    // open connections still read the deleted file, but the database at
    // the configured path is gone.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::create_dir(&path).unwrap();
    assert_not_ready(&client, &server).await;
}

#[tokio::test]
async fn readyz_turns_503_when_the_postgres_database_is_dropped() {
    let Some(admin) = pg_testing::admin_url_from_env() else {
        let _ = writeln!(
            std::io::stderr(),
            "operations::readyz_turns_503_when_the_postgres_database_is_dropped: skipped ({} is not set)",
            pg_testing::TEST_DATABASE_URL_VAR
        );
        return;
    };
    let (url, database) = pg_testing::fresh_database(&admin).await.unwrap();
    let server = Server::start(&url).await;
    let client = client();
    let (code, body, _) = readyz(&client, &server).await;
    assert_eq!((code, body), (StatusCode::OK, json!({"status": "ready"})));

    // DROP DATABASE … WITH (FORCE): the server's connections are cut and
    // the database is gone.
    pg_testing::drop_database(database).await.unwrap();
    assert_not_ready(&client, &server).await;
    let (code, _, _) = readyz(&client, &server).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "it stays not ready");
}

// ---------------------------------------------------------------------------
// SIGTERM

#[tokio::test]
async fn sigterm_under_load_loses_no_acknowledged_batch_and_half_applies_none() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("slod.db-wal");
    sigterm_under_load(&format!("sqlite://{}", dir.path().join("slod.db").display()), Some(&wal))
        .await;
}

#[tokio::test]
async fn sigterm_under_load_on_postgres_loses_no_acknowledged_batch_and_half_applies_none() {
    let Some(admin) = pg_testing::admin_url_from_env() else {
        let _ = writeln!(
            std::io::stderr(),
            "operations::sigterm_under_load_on_postgres_loses_no_acknowledged_batch_and_half_applies_none: skipped ({} is not set)",
            pg_testing::TEST_DATABASE_URL_VAR
        );
        return;
    };
    let (url, database) = pg_testing::fresh_database(&admin).await.unwrap();
    sigterm_under_load(&url, None).await;
    pg_testing::drop_database(database).await.unwrap();
}

/// Writers send batches continuously, the server gets SIGTERM, and then:
/// it exited 0 within 30 s, every acknowledged batch is stored, and every
/// stored batch is whole (in the report log, the systems' state and the
/// objectives' events alike). On SQLite (`wal` given) the stopped server
/// left no WAL behind: the next start has no log to read first.
async fn sigterm_under_load(url: &str, wal: Option<&std::path::Path>) {
    let url = url.to_owned();
    let server = Server::start(&url).await;
    let client = client();
    const WRITERS: usize = 4;
    let writers: Vec<Vec<String>> = (0..WRITERS)
        .map(|w| ["a", "b", "c"].iter().map(|s| format!("w{w}-{s}")).collect())
        .collect();
    for systems in &writers {
        create_systems(&client, &server, systems).await;
    }
    let first = now().minus_millis(120 * MINUTE_MS);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    let mut logs = Vec::new();
    for systems in &writers {
        let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
        // A client each: their own connections, so requests overlap.
        tasks.push(spawn_writer(
            self::client(),
            server.api("/health"),
            systems.clone(),
            first,
            stop.clone(),
            acknowledged.clone(),
        ));
        logs.push(acknowledged);
    }
    while logs.iter().any(|log| log.lock().unwrap().batches.len() < 20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut server = server;
    server.terminate();
    let signalled = Instant::now();
    let exit = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .expect("the server did not stop within 30 s of SIGTERM")
        .unwrap();
    let stopped_in = signalled.elapsed();
    assert!(exit.success(), "exit status {exit:?}");
    let mut lines = Vec::new();
    while let Ok(Some(line)) =
        tokio::time::timeout(Duration::from_secs(5), server.logs.recv()).await
    {
        lines.push(line);
    }
    assert!(lines.iter().any(|l| l.contains("SIGTERM received")), "{lines:#?}");
    // The writers end on their first refused request.
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task).await.unwrap().unwrap();
    }

    if let Some(wal) = wal {
        let left = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(left, 0, "the stopped server left {left} bytes of WAL in {}", wal.display());
    }

    // Read back what was stored, by SQL and through a new server.
    let restarted = Server::start(&url).await;
    let mut total = 0;
    let mut after_signal = 0;
    for (systems, log) in writers.iter().zip(&logs) {
        let acknowledged: Vec<i64> = log.lock().unwrap().batches.iter().map(|(k, _)| *k).collect();
        let last_acknowledged = *acknowledged.last().unwrap();
        total += acknowledged.len();
        after_signal += log.lock().unwrap().batches.iter().filter(|(_, t)| *t > signalled).count();
        let stored = stored_batches(&url, systems, first).await;
        let newest = *stored.iter().max().unwrap();
        assert_eq!(stored, (0..=newest).collect(), "{systems:?}: batches missing in the middle");
        // Every acknowledged batch, and at most the one in flight when the
        // server stopped (committed, its answer lost).
        assert!(
            newest == last_acknowledged || newest == last_acknowledged + 1,
            "{systems:?}: acknowledged up to {last_acknowledged}, stored up to {newest}"
        );
        for system in systems {
            let (code, body) = send(client.get(restarted.api(&format!("/systems/{system}")))).await;
            assert_eq!(code, StatusCode::OK, "{body}");
            assert_eq!(body["lastReportAt"], batch_at(first, newest).to_rfc3339(), "{system}");
            let expected = if newest % 2 == 0 { "unhealthy" } else { "healthy" };
            assert_eq!(body["status"], expected, "{system}");
            // Events follow the reports: one opened per unhealthy batch.
            let (code, body) =
                send(client.get(restarted.api(&format!("/systems/{system}/objectives")))).await;
            assert_eq!(code, StatusCode::OK, "{body}");
            let objective = body[0]["objective"]["id"].as_str().unwrap().to_owned();
            let (code, body) = send(client.get(
                restarted.api(&format!("/objectives/{objective}/downtime-events?limit=1000")),
            ))
            .await;
            assert_eq!(code, StatusCode::OK, "{body}");
            let events = body["events"].as_array().unwrap();
            assert_eq!(events.len() as i64, newest / 2 + 1, "{system}");
            let open = events.iter().filter(|e| e["endTime"].is_null()).count();
            assert_eq!(open, usize::from(newest % 2 == 0), "{system}");
        }
    }
    eprintln!(
        "SIGTERM after {} acknowledged batches ({after_signal} answered after the signal: in \
         flight then); stopped in {stopped_in:?}",
        total - after_signal
    );
}
