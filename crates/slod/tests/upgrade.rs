//! Upgrades (SPEC §18): a database an earlier release made opens in this
//! one, migrated forward at start, and answers every read exactly as that
//! release did; `slod migrate` applies or lists pending migrations; and a
//! database a newer release migrated is refused, untouched.
//!
//! The fixtures (`tests/fixtures/upgrade/`, see its README) are databases
//! made by earlier releases with `serve --demo`, each with `answers.json`:
//! every read that release answered, statuses as of the instant `at`, and,
//! for a database with API tokens, a token to read with and a revoked one.
//! The server here runs in-process on a copy, with a manual clock at `at`
//! and no scheduler or notification workers, so nothing moves while it is
//! read.
//!
//! PostgreSQL tests run when `SLOD_TEST_DATABASE_URL` is set and print
//! "skipped" otherwise; their databases are dropped at the end, also when
//! they fail.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use slod::clock::ManualClock;
use slod::config::Settings;
use slod::startup::Application;
use slod_core::time::Timestamp;
use slod_store_postgres::testing::{self as pg_testing, TestDatabase};
use sqlx::{ConnectOptions, Connection};

/// The SQLite fixtures, oldest first.
const SQLITE_RELEASES: &[&str] = &["7c8b12c", "8c071d1", "725a5bc", "670e4ee"];
/// The PostgreSQL fixtures, oldest first.
const POSTGRES_RELEASES: &[&str] =
    &["7c8b12c-postgres", "8c071d1-postgres", "725a5bc-postgres", "670e4ee-postgres"];

fn fixture(release: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade").join(release)
}

/// What `record.sh` wrote for a release.
struct Recorded {
    /// The instant the statuses are as of.
    at: Timestamp,
    /// Path to the body the release answered.
    answers: serde_json::Map<String, Value>,
    /// A token the release accepted for every read, when its database has
    /// tokens (SPEC §16: then every request needs one).
    read_token: Option<String>,
    /// A token the release had revoked.
    revoked_token: Option<String>,
}

fn recorded(release: &str) -> Recorded {
    let text = std::fs::read_to_string(fixture(release).join("answers.json")).unwrap();
    let recorded: Value = serde_json::from_str(&text).unwrap();
    let token = |name: &str| recorded["tokens"][name].as_str().map(str::to_owned);
    Recorded {
        at: Timestamp::parse(recorded["at"].as_str().unwrap()).unwrap(),
        answers: recorded["answers"].as_object().unwrap().clone(),
        read_token: token("read"),
        revoked_token: token("revoked"),
    }
}

/// The PostgreSQL server to use, or `None` after saying the test is skipped.
fn admin_url(test: &str) -> Option<String> {
    let url = pg_testing::admin_url_from_env();
    if url.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "upgrade::{test}: skipped ({} is not set)",
            pg_testing::TEST_DATABASE_URL_VAR
        );
    }
    url
}

/// A copy of a release's SQLite fixture in a fresh directory.
fn sqlite_copy(release: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slod.db");
    std::fs::copy(fixture(release).join("slod.db"), &path).unwrap();
    (dir, path)
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A fresh PostgreSQL database holding a release's dump.
async fn postgres_copy(admin: &str, release: &str) -> (String, TestDatabase) {
    let (url, database) = pg_testing::fresh_database(admin).await.unwrap();
    let dump = std::fs::read_to_string(fixture(release).join("slod.sql")).unwrap();
    // The dump sets `search_path` to '' for its session: one connection of
    // its own, closed afterwards, so nothing else inherits that.
    let mut conn =
        sqlx::postgres::PgConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
    sqlx::raw_sql(&dump).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    (url, database)
}

/// Opens `database_url` with this release (migrating it), reads every path
/// the old release answered, and requires the same JSON. When the database
/// has tokens, reads with the recorded one, and requires that no token and
/// the revoked token are still refused: an upgrade that loses or revives
/// tokens would open the API.
async fn assert_same_answers(release: &str, database_url: String) {
    let Recorded { at, answers, read_token, revoked_token } = recorded(release);
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url,
        database_pool_size: 4,
        demo: false,
    };
    let app = Application::build(&settings, Arc::new(ManualClock::new(at)))
        .await
        .unwrap()
        .without_scheduler()
        .without_notify_workers();
    let base = format!("http://{}", app.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build();
    let client = client.unwrap();
    assert!(answers.len() >= 40, "{release}: only {} answers recorded", answers.len());
    let mut differences = Vec::new();
    if read_token.is_some() {
        // Still closed: no token, and the revoked one, are refused.
        let url = format!("{base}/api/v1/systems");
        let without = client.get(&url).send().await.unwrap().status();
        if without != reqwest::StatusCode::UNAUTHORIZED {
            differences.push(format!("GET /api/v1/systems without a token: {without}, not 401"));
        }
        if let Some(revoked) = &revoked_token {
            let with = client.get(&url).bearer_auth(revoked).send().await.unwrap().status();
            if with != reqwest::StatusCode::UNAUTHORIZED {
                differences.push(format!("GET /api/v1/systems, revoked token: {with}, not 401"));
            }
        }
    }
    for (path, expected) in &answers {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = &read_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let actual: Value = response.json().await.unwrap();
        if !status.is_success() || !same_json(&actual, expected) {
            differences
                .push(format!("GET {path} ({status})\n  then: {expected}\n  now:  {actual}"));
        }
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    assert!(
        differences.is_empty(),
        "{release}: {} of {} answers changed:\n{}",
        differences.len(),
        answers.len(),
        differences.join("\n")
    );
}

/// Whether `now` still gives every answer `then` recorded: numbers equal by
/// value (`240.0`, what slod writes for a float, equals the `240` the
/// recording through `jq` kept of it), arrays element by element, and every
/// field of a recorded object present with the same value. A field a later
/// release added (such as `maintenanceMinutes`) is not a changed answer; a
/// field that went missing is.
fn same_json(now: &Value, then: &Value) -> bool {
    match (now, then) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(now), Value::Object(then)) => {
            then.iter().all(|(key, then)| now.get(key).is_some_and(|now| same_json(now, then)))
        }
        (a, b) => a == b,
    }
}

#[test]
fn numbers_compare_by_value() {
    assert!(same_json(
        &serde_json::json!({"a": [240.0, 1]}),
        &serde_json::json!({"a": [240, 1.0]})
    ));
    assert!(!same_json(&serde_json::json!({"a": 240.5}), &serde_json::json!({"a": 240})));
    // A field gone is a changed answer; a field added is not.
    assert!(!same_json(&serde_json::json!({"a": 1}), &serde_json::json!({"a": 1, "b": 2})));
    assert!(same_json(&serde_json::json!({"a": 1, "b": 2}), &serde_json::json!({"a": 1})));
}

#[tokio::test]
async fn every_sqlite_release_answers_as_it_did() {
    for release in SQLITE_RELEASES {
        let (_dir, path) = sqlite_copy(release);
        assert_same_answers(release, sqlite_url(&path)).await;
    }
}

#[tokio::test]
async fn every_postgres_release_answers_as_it_did() {
    let Some(admin) = admin_url("every_postgres_release_answers_as_it_did") else { return };
    for release in POSTGRES_RELEASES {
        let (url, database) = postgres_copy(&admin, release).await;
        assert_same_answers(release, url).await;
        pg_testing::drop_database(database).await.unwrap();
    }
}

/// Objectives made before burn-rate tiers existed get SPEC §12's three
/// defaults (migration 0007), on both stores.
async fn assert_default_tiers(database_url: String) {
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url,
        database_pool_size: 4,
        demo: false,
    };
    let at = recorded("7c8b12c").at;
    let app = Application::build(&settings, Arc::new(ManualClock::new(at)))
        .await
        .unwrap()
        .without_scheduler()
        .without_notify_workers();
    let base = format!("http://{}", app.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build();
    let body: Value = client
        .unwrap()
        .get(format!("{base}/api/v1/objectives"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let objectives = body["objectives"].as_array().unwrap();
    assert!(!objectives.is_empty());
    let defaults = serde_json::json!([
        {"severity": "page", "longWindow": "1h", "shortWindow": "5m", "budgetPercent": 2.0},
        {"severity": "page", "longWindow": "6h", "shortWindow": "30m", "budgetPercent": 5.0},
        {"severity": "ticket", "longWindow": "72h", "shortWindow": "6h", "budgetPercent": 10.0}
    ]);
    for item in objectives {
        assert_eq!(item["objective"]["burnRateAlerts"], defaults, "{item}");
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn objectives_from_before_tiers_get_the_default_tiers() {
    let (_dir, path) = sqlite_copy("7c8b12c");
    assert_default_tiers(sqlite_url(&path)).await;
    let Some(admin) = admin_url("objectives_from_before_tiers_get_the_default_tiers") else {
        return;
    };
    let (url, database) = postgres_copy(&admin, "7c8b12c-postgres").await;
    assert_default_tiers(url).await;
    pg_testing::drop_database(database).await.unwrap();
}

// ---------------------------------------------------------------------------
// The command line: `slod migrate`, and `serve` on a newer database

/// Runs the binary with `args` and waits (at most a minute).
async fn slod(args: &[&str]) -> Output {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_slod"))
            .args(args)
            .env("RUST_LOG", "warn")
            .env_remove("SLOD_DATABASE")
            .env_remove("SLOD_LISTEN")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("slod did not finish within 60 s");
    output.unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Marks a database as migrated by a release this binary does not know.
const NEWER_MIGRATION: &str = "INSERT INTO _sqlx_migrations \
     (version, description, installed_on, success, checksum, execution_time) \
     VALUES (9999, 'from the future', CURRENT_TIMESTAMP, TRUE, X'00', 1)";
const NEWER_MIGRATION_PG: &str = "INSERT INTO _sqlx_migrations \
     (version, description, installed_on, success, checksum, execution_time) \
     VALUES (9999, 'from the future', now(), TRUE, '\\x00', 1)";

/// What a refusal must say: both versions, and that nothing was changed.
fn assert_refused(output: &Output) {
    let log = text(output);
    assert!(!output.status.success(), "{log}");
    assert!(log.contains("newer release"), "{log}");
    assert!(log.contains("version 9999"), "the database's version: {log}");
    assert!(log.contains("up to 12"), "this binary's version: {log}");
}

#[tokio::test]
async fn a_sqlite_database_from_a_newer_release_is_refused_and_left_untouched() {
    let (dir, path) = sqlite_copy("7c8b12c");
    let url = sqlite_url(&path);
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url).unwrap().connect().await;
    let conn = conn.as_mut().unwrap();
    sqlx::query(NEWER_MIGRATION).execute(&mut *conn).await.unwrap();
    let before = std::fs::read(&path).unwrap();

    assert_refused(&slod(&["serve", "--listen", "127.0.0.1:0", "--database", &url]).await);
    assert_refused(&slod(&["migrate", "--database", &url]).await);
    assert_refused(&slod(&["migrate", "--database", &url, "--dry-run"]).await);

    assert!(std::fs::read(&path).unwrap() == before, "the database file changed");
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["slod.db"], "no journal or WAL was created");
}

#[tokio::test]
async fn a_postgres_database_from_a_newer_release_is_refused_and_left_untouched() {
    let test = "a_postgres_database_from_a_newer_release_is_refused_and_left_untouched";
    let Some(admin) = admin_url(test) else { return };
    let (url, database) = postgres_copy(&admin, "7c8b12c-postgres").await;
    let mut conn =
        sqlx::postgres::PgConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
    sqlx::query(NEWER_MIGRATION_PG).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    // Everything a migration or a start-up write could touch: the rows of
    // every table, summed up per table.
    let fingerprint = "SELECT string_agg(relname || ':' || n_tup_ins || ':' || n_tup_upd || ':' \
                       || n_tup_del, ',' ORDER BY relname) FROM pg_stat_user_tables";
    let migrations = "SELECT string_agg(version || description || encode(checksum, 'hex'), ',' \
                      ORDER BY version) FROM _sqlx_migrations";
    let read = |sql: &'static str| sqlx::query_scalar::<_, Option<String>>(sql);
    // The statistics arrive with a delay (a backend reports at exit, the
    // collector takes its moment): read them on a new connection, later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut conn =
        sqlx::postgres::PgConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
    let tables_before = read(fingerprint).fetch_one(&mut conn).await.unwrap();
    let migrations_before = read(migrations).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();

    assert_refused(&slod(&["serve", "--listen", "127.0.0.1:0", "--database", &url]).await);
    assert_refused(&slod(&["migrate", "--database", &url]).await);

    let mut conn =
        sqlx::postgres::PgConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(read(migrations).fetch_one(&mut conn).await.unwrap(), migrations_before);
    assert_eq!(read(fingerprint).fetch_one(&mut conn).await.unwrap(), tables_before);
    conn.close().await.unwrap();
    pg_testing::drop_database(database).await.unwrap();
}

#[tokio::test]
async fn migrate_dry_run_on_an_old_release_lists_what_is_pending_and_changes_nothing() {
    let (_dir, path) = sqlite_copy("7c8b12c");
    let url = sqlite_url(&path);
    let before = std::fs::read(&path).unwrap();
    let output = slod(&["migrate", "--database", &url, "--dry-run"]).await;
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    // The fixture is at schema 4; every migration this binary adds after
    // it is listed as pending, and only those.
    let known = slod_store_sqlite::ops::known_migrations();
    let pending: Vec<String> =
        known.iter().filter(|m| m.version > 4).map(|m| format!("pending {m}")).collect();
    let listed: Vec<&str> = log.lines().filter(|line| line.starts_with("pending")).collect();
    assert_eq!(listed, pending, "{log}");
    if pending.is_empty() {
        assert!(log.contains("schema at version 4; no migration pending"), "{log}");
    }
    assert!(std::fs::read(&path).unwrap() == before, "a dry run changed the database");
}

#[tokio::test]
async fn migrate_on_a_new_file_applies_every_migration_without_serving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let url = sqlite_url(&path);
    let known = slod_store_sqlite::ops::known_migrations();

    let output = slod(&["migrate", "--database", &url, "--dry-run"]).await;
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("no schema yet"), "{log}");
    assert!(!path.exists(), "a dry run created the database");

    let output = slod(&["migrate", "--database", &url]).await;
    let log = text(&output);
    assert!(output.status.success(), "{log}");
    let applied: Vec<&str> = log.lines().filter(|line| line.starts_with("applied")).collect();
    let expected: Vec<String> = known.iter().map(|m| format!("applied {m}")).collect();
    assert_eq!(applied, expected, "{log}");

    let status = slod_store_sqlite::ops::schema_status(&url).await.unwrap();
    assert!(status.pending().is_empty(), "{status:?}");
    let output = slod(&["migrate", "--database", &url]).await;
    let log = text(&output);
    assert!(output.status.success() && log.contains("0 migrations applied"), "{log}");
}
