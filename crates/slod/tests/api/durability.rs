//! The real binary: acknowledged reports survive `kill -9`, and SIGTERM
//! shuts down cleanly.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use slod_core::time::{Timestamp, MINUTE_MS};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::process::SlodProcess;

/// A running `slod serve` and the address its log announced.
struct Server {
    child: Child,
    base: String,
    logs: mpsc::UnboundedReceiver<String>,
    /// The log lines up to and including `listening on`.
    startup_log: Vec<String>,
}

async fn start(database: &Path) -> Server {
    start_with(database, &[]).await
}

async fn start_with(database: &Path, extra_args: &[&str]) -> Server {
    let url = format!("sqlite://{}", database.display());
    let SlodProcess { child, address, logs, startup_log } =
        SlodProcess::start(&url, extra_args).await;
    Server { child, base: format!("{address}/api/v1"), logs, startup_log }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap()
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

#[tokio::test]
async fn acknowledged_reports_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("x.db");
    let client = client();
    let server = start(&database).await;
    let base = server.base.clone();

    let (code, _) =
        send(client.put(format!("{base}/systems/api")).json(&json!({"name": "API"}))).await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, objective) = send(
        client
            .post(format!("{base}/objectives"))
            .json(&json!({"systemId": "api", "target": 99.9, "windowDays": 30})),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let objective = objective["id"].as_str().unwrap().to_owned();

    // Twenty reports over the last hour of real time: ten closed outages,
    // then one more left open.
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let first = now.minus_millis(60 * MINUTE_MS);
    let mut last_at = String::new();
    for i in 0..21 {
        let status = if i % 2 == 0 { "unhealthy" } else { "healthy" };
        last_at = first.plus_millis(i * 2 * MINUTE_MS).to_rfc3339();
        let (code, body) = send(
            client
                .post(format!("{base}/health"))
                .json(&json!({"systemId": "api", "status": status, "at": last_at})),
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }

    let mut server = server;
    server.child.kill().await.unwrap();
    drop(server);

    let server = start(&database).await;
    let base = &server.base;
    let (code, system) = send(client.get(format!("{base}/systems/api"))).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(system["status"], "unhealthy");
    assert_eq!(system["lastReportAt"], last_at);
    let (code, body) =
        send(client.get(format!("{base}/objectives/{objective}/downtime-events?limit=100"))).await;
    assert_eq!(code, StatusCode::OK);
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 11);
    assert_eq!(events.iter().filter(|e| e["endTime"].is_null()).count(), 1);
    assert_eq!(events[0]["startTime"], last_at);
    let (code, status) = send(client.get(format!("{base}/objectives/{objective}"))).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(status["status"]["hasOpenDowntime"], true);
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir.path().join("x.db")).await;
    let (code, _) = send(client().get(server.base.replace("/api/v1", "/healthz"))).await;
    assert_eq!(code, StatusCode::OK);

    let pid = server.child.id().unwrap();
    let killed =
        std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .expect("the server did not stop within 30 s")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut saw_signal = false;
    // The pipes close with the process; read what is left.
    while let Ok(Some(line)) =
        tokio::time::timeout(Duration::from_secs(5), server.logs.recv()).await
    {
        saw_signal |= line.contains("SIGTERM received");
    }
    assert!(saw_signal);
}

/// Runs `slod serve --database URL`, expecting it to fail at start; returns
/// its logs and how long it took.
async fn failed_start(url: &str) -> (String, Duration) {
    let started = std::time::Instant::now();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(env!("CARGO_BIN_EXE_slod"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", url])
            .output(),
    )
    .await
    .expect("slod should give up, not wait")
    .unwrap();
    assert!(!output.status.success());
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (log, started.elapsed())
}

#[tokio::test]
async fn an_unsupported_database_url_fails_at_start() {
    let (log, _) = failed_start("mysql://localhost/slod").await;
    assert!(log.contains("unsupported database URL"), "{log}");
}

/// A database that does not exist is not worth waiting for: slod says so
/// at once instead of retrying (it retries only while the server is
/// unreachable). Needs a PostgreSQL server: runs when
/// SLOD_TEST_DATABASE_URL is set.
#[tokio::test]
async fn a_missing_postgres_database_fails_at_once_with_a_clear_message() {
    let Ok(admin) = std::env::var("SLOD_TEST_DATABASE_URL") else {
        eprintln!("skipped: SLOD_TEST_DATABASE_URL is not set");
        return;
    };
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    let (log, _) = failed_start(&format!("{base}/slod_no_such_database")).await;
    assert!(log.contains("slod_no_such_database"), "{log}");
    assert!(!log.contains("retrying"), "a missing database must not be retried: {log}");
}

#[tokio::test]
async fn demo_seeds_only_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("x.db");
    let client = client();
    let objective_count = |base: String| {
        let client = client.clone();
        async move {
            let (code, body) = send(client.get(format!("{base}/objectives"))).await;
            assert_eq!(code, StatusCode::OK);
            body["objectives"].as_array().unwrap().len()
        }
    };
    let mut first = start_with(&database, &["--demo"]).await;
    let seeded = objective_count(first.base.clone()).await;
    assert!(seeded >= 6);
    first.child.kill().await.unwrap();

    let mut second = start_with(&database, &["--demo"]).await;
    assert_eq!(objective_count(second.base.clone()).await, seeded);
    second.child.kill().await.unwrap();
    assert!(
        second.startup_log.iter().any(|line| line.contains("demo data not seeded")),
        "{:#?}",
        second.startup_log
    );
}
