//! `slod check` (SPEC §12) on the real binary: a database written by
//! `slod serve` is consistent; corrupted on purpose with SQL (an
//! overlapping event, an open event on a healthy system) it is reported
//! with exit status 1; `--repair` rebuilds the broken objectives from the
//! report log, after which the check passes and the events are the ones the
//! API computed before the corruption.
//!
//! Runs on SQLite, and on PostgreSQL when `SLOD_TEST_DATABASE_URL` is set
//! (it prints "skipped" otherwise).

use std::io::Write;
use std::process::Output;
use std::str::FromStr;

use serde_json::{json, Value};
use slod_core::time::{Timestamp, MINUTE_MS};
use slod_store_postgres::testing as pg_testing;
use sqlx::{ConnectOptions, Connection};

#[path = "support/process.rs"]
mod process;
use process::SlodProcess;

async fn slod(args: &[&str]) -> Output {
    process::run(args).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn all_text(output: &Output) -> String {
    format!("{}{}", stdout(output), String::from_utf8_lossy(&output.stderr))
}

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{status}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    async fn put(&self, path: &str, body: Value) -> Value {
        self.send(self.client.put(format!("{}/api/v1{path}", self.base)).json(&body)).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(self.client.post(format!("{}/api/v1{path}", self.base)).json(&body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.send(self.client.get(format!("{}/api/v1{path}", self.base))).await
    }

    /// The objective's events as the API serves them, without their ids.
    async fn events(&self, objective: &str) -> Vec<Value> {
        let body = self.get(&format!("/objectives/{objective}/downtime-events?limit=1000")).await;
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.as_object_mut().unwrap().remove("id");
                e
            })
            .collect()
    }
}

/// Minutes relative to a base two hours ago, so every report is in the past.
fn at(base: Timestamp, minutes: i64) -> String {
    base.plus_millis(minutes * MINUTE_MS).to_rfc3339()
}

/// Writes a history through `slod serve`; returns the objective ids
/// (`whole`, `on-http`, `self-only`, `web`) and their events as served.
async fn write_history(url: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    // The log is drained for the server's life (support/process.rs).
    let SlodProcess { mut child, address, logs: _logs, .. } = SlodProcess::start(url, &[]).await;
    let api = Api { base: address, client: reqwest::Client::builder().no_proxy().build().unwrap() };
    let base = Timestamp::from_millis(chrono::Utc::now().timestamp_millis() - 120 * MINUTE_MS);
    for id in ["api", "db", "web"] {
        api.put(&format!("/systems/{id}"), json!({"name": id})).await;
    }
    api.put("/systems/api/dependencies", json!({"upstreamIds": ["db"]})).await;
    let mut ids = Vec::new();
    for body in [
        json!({"systemId": "api", "target": 99.9, "windowDays": 30}),
        json!({"systemId": "api", "target": 99.9, "windowDays": 30,
               "healthCheckConfigurationId": "http"}),
        json!({"systemId": "api", "target": 99.9, "windowDays": 30,
               "dependencyExclusion": "self-only"}),
        json!({"systemId": "web", "target": 99.9, "windowDays": 30}),
    ] {
        let mut body = body;
        body["createdAt"] = json!(at(base, -60));
        ids.push(api.post("/objectives", body).await["id"].as_str().unwrap().to_owned());
    }
    let reports = [
        ("api", Some("http"), "unhealthy", 0),
        ("db", None, "unhealthy", 5),
        ("api", Some("tls"), "degraded", 8),
        ("db", None, "healthy", 20),
        ("api", Some("http"), "healthy", 30),
        ("web", None, "unhealthy", 35),
        ("web", None, "healthy", 45),
        ("api", Some("tls"), "healthy", 50),
        ("api", None, "unhealthy", 70),
    ];
    for (system, check, status, minutes) in reports {
        let mut report = json!({"systemId": system, "status": status, "at": at(base, minutes)});
        if let Some(check) = check {
            report["checkId"] = json!(check);
        }
        api.post("/health", report).await;
    }
    let mut events = Vec::new();
    for id in &ids {
        events.push(api.events(id).await);
    }
    assert_eq!(events[0].len(), 2, "whole: [0, 50) and [70, open): {:?}", events[0]);
    assert_eq!(events[1].len(), 1, "on-http: [0, 30): {:?}", events[1]);
    assert_eq!(events[2].len(), 4, "self-only: self, db's, self, open: {:?}", events[2]);
    child.kill().await.unwrap();
    (ids, events)
}

/// Runs `statements` on the database at `url`.
async fn run_sql(url: &str, statements: &[String]) {
    if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).unwrap();
        let mut conn = options.connect().await.unwrap();
        for sql in statements {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    } else {
        let options = sqlx::postgres::PgConnectOptions::from_str(url).unwrap();
        let mut conn = options.connect().await.unwrap();
        for sql in statements {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    }
}

async fn check_corrupt_and_repair(url: &str) {
    let (ids, before) = write_history(url).await;

    let output = slod(&["check", "--database", url]).await;
    assert_eq!(output.status.code(), Some(0), "{}", all_text(&output));
    assert!(stdout(&output).contains("4 objectives"), "{}", stdout(&output));
    assert!(stdout(&output).trim_end().ends_with("consistent"), "{}", stdout(&output));

    // An event of `whole` overlapping its first one, and an open event on
    // `web`, which is healthy.
    let first_start: i64 =
        Timestamp::parse(before[0].last().unwrap()["startTime"].as_str().unwrap())
            .unwrap()
            .millis();
    let (whole, web) = (&ids[0], &ids[3]);
    run_sql(
        url,
        &[
            format!(
                "INSERT INTO slo_downtime_events (id, objective_id, system_id, start_time, \
                 end_time, attribution_type, source) VALUES ('bad-overlap', '{whole}', 'api', \
                 {}, {}, 'self', 'healthcheck')",
                first_start + 10 * MINUTE_MS,
                first_start + 20 * MINUTE_MS
            ),
            format!(
                "INSERT INTO slo_downtime_events (id, objective_id, system_id, start_time, \
                 end_time, attribution_type, source) VALUES ('bad-open', '{web}', 'web', {}, \
                 NULL, 'self', 'healthcheck')",
                first_start + 100 * MINUTE_MS
            ),
        ],
    )
    .await;

    let output = slod(&["check", "--database", url]).await;
    assert_eq!(output.status.code(), Some(1), "{}", all_text(&output));
    let report = stdout(&output);
    let lines: Vec<&str> = report.lines().collect();
    assert!(
        lines.iter().any(
            |l| l.contains(&format!("objective {whole} (system api)")) && l.contains("overlap")
        ),
        "{report}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("objective {web} (system web)")) && l.contains("healthy")),
        "{report}"
    );
    assert!(
        lines.last().unwrap().ends_with("in 2 objectives"),
        "the summary names the count: {report}"
    );

    let output = slod(&["check", "--database", url, "--repair"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", all_text(&output));
    let report = stdout(&output);
    assert!(report.contains(&format!("repaired objective {whole} (system api)")), "{report}");
    assert!(report.contains(&format!("repaired objective {web} (system web)")), "{report}");
    assert!(report.contains("after repair: ") && report.contains(": consistent"), "{report}");

    let output = slod(&["check", "--database", url]).await;
    assert_eq!(output.status.code(), Some(0), "{}", all_text(&output));

    // What a fresh server serves is what the API computed before the
    // corruption, for the repaired objectives and the others alike.
    // The log is drained for the server's life (support/process.rs).
    let SlodProcess { mut child, address, logs: _logs, .. } = SlodProcess::start(url, &[]).await;
    let api = Api { base: address, client: reqwest::Client::builder().no_proxy().build().unwrap() };
    for (id, expected) in ids.iter().zip(&before) {
        assert_eq!(&api.events(id).await, expected, "objective {id}");
    }
    child.kill().await.unwrap();
}

#[tokio::test]
async fn check_finds_corruption_on_sqlite_and_repair_rebuilds_it_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("slod.db").display());
    check_corrupt_and_repair(&url).await;
}

#[tokio::test]
async fn check_finds_corruption_on_postgres_and_repair_rebuilds_it_from_the_log() {
    let Some(admin) = pg_testing::admin_url_from_env() else {
        let _ = writeln!(
            std::io::stderr(),
            "check::check_finds_corruption_on_postgres…: skipped ({} is not set)",
            pg_testing::TEST_DATABASE_URL_VAR
        );
        return;
    };
    let (url, database) = pg_testing::fresh_database(&admin).await.unwrap();
    check_corrupt_and_repair(&url).await;
    pg_testing::drop_database(database).await.unwrap();
}

#[tokio::test]
async fn check_fails_with_status_1_on_a_database_it_cannot_open() {
    let output = slod(&["check", "--database", "mysql://127.0.0.1/slod"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", all_text(&output));
    assert!(all_text(&output).contains("unsupported database URL"), "{}", all_text(&output));
}
