//! SLOs as files (SPEC §14): `slod apply` and `slod export` — the built
//! binary, against the test server (`--server`) and its database
//! (`--database`) — and `POST /apply`, `GET /export` over HTTP. On
//! PostgreSQL too when `SLOD_TEST_DATABASE_URL` is set (`spawn_app`).
//!
//! The files are the fixtures in `tests/fixtures/apply/` (see its README):
//! OpenSLO specification examples, Sloth's OpenSLO example and Checkstack's
//! kind.

use std::path::{Path, PathBuf};
use std::process::Output;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apply")
}

/// Runs `slod ARGS…` with none of the caller's `SLOD_*` settings.
async fn slod(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_slod"))
        .args(args)
        .env_remove("SLOD_DATABASE")
        .env_remove("SLOD_TOKEN")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `slod apply -f PATHS… --server <the app>` plus `extra`, which must
/// succeed; returns the plan as JSON.
async fn apply_via_server(app: &TestApp, paths: &[&Path], extra: &[&str]) -> Value {
    let args = apply_args(paths, &["--server", &app.address], extra, true);
    let output = slod(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(output.status.success(), "stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

fn apply_args(paths: &[&Path], target: &[&str], extra: &[&str], json: bool) -> Vec<String> {
    let mut args = vec!["apply".to_owned()];
    for path in paths {
        args.push("-f".into());
        args.push(path.display().to_string());
    }
    args.extend(target.iter().map(|s| (*s).to_owned()));
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    if json {
        args.extend(["--output".to_owned(), "json".to_owned()]);
    }
    args
}

async fn slod_apply(paths: &[&Path], target: &[&str], extra: &[&str]) -> Output {
    let args = apply_args(paths, target, extra, false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    slod(&args).await
}

/// `{name: objective}` of every objective.
async fn objectives_by_name(app: &TestApp) -> serde_json::Map<String, Value> {
    app.get_ok("/objectives").await["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let o = &item["objective"];
            (o["name"].as_str().unwrap_or("(unnamed)").to_owned(), o.clone())
        })
        .collect()
}

/// The actions of a plan as `(kind, name, action)`.
fn actions(report: &Value) -> Vec<(String, String, String)> {
    report["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap().to_owned();
            (s("kind"), s("name"), s("action"))
        })
        .collect()
}

fn counts(report: &Value) -> [u64; 4] {
    ["created", "updated", "unchanged", "deleted"].map(|k| report[k].as_u64().unwrap())
}

/// A copy of some fixture directories in a fresh directory, to edit.
fn copy_fixtures(dirs: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for dir in dirs {
        std::fs::create_dir(tmp.path().join(dir)).unwrap();
        for entry in std::fs::read_dir(fixtures().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, tmp.path().join(dir).join(path.file_name().unwrap())).unwrap();
        }
    }
    tmp
}

#[tokio::test]
async fn the_openslo_examples_sloth_and_checkstack_files_apply_through_the_server() {
    let app = spawn_app().await;
    let dirs = ["openslo", "sloth", "checkstack"].map(|d| fixtures().join(d));
    let paths: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let report = apply_via_server(&app, &paths, &[]).await;
    // 2 + 1 + 2 services, 3 + 1 + 1 SLOs; the SLI is read past.
    assert_eq!(counts(&report), [10, 0, 0, 0], "{report}");
    assert_eq!(report["ignored"], json!([{"kind": "SLI", "name": "web-availability"}]));

    let systems = app.get_ok("/systems").await;
    let names: Vec<(&str, &str)> = systems["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("api", "API"),
            ("db", "Database"),
            ("foo", "Foo API"),
            ("my-service", "My service"),
            ("web-shop", "Web shop")
        ]
    );
    let objectives = objectives_by_name(&app).await;
    let shape = |name: &str| {
        let o = &objectives[name];
        (o["systemId"].as_str().unwrap().to_owned(), o["target"].clone(), o["windowDays"].clone())
    };
    assert_eq!(shape("search-slo"), ("web-shop".into(), json!(99.0), json!(14)));
    assert_eq!(shape("foo-slo"), ("foo".into(), json!(98.0), json!(30)), "no timeWindow: 30 days");
    assert_eq!(shape("web-shop-availability"), ("web-shop".into(), json!(99.9), json!(28)));
    assert_eq!(shape("sloth-slo-my-service"), ("my-service".into(), json!(99.9), json!(30)));
    let api = &objectives["api-availability"];
    assert_eq!(api["target"], 99.95);
    assert_eq!(api["windowDays"], 7);
    assert_eq!(api["healthCheckConfigurationId"], "http-check");
    assert_eq!(api["dependencyExclusion"], "self-only");
    assert_eq!(api["excludedDependencyIds"], json!(["db"]));
    assert_eq!(api["excludeMaintenanceWindows"], true);
    assert_eq!(
        api["burnRateThresholds"],
        json!({"warningPercent": 40.0, "criticalPercent": 75.0, "fastBurnMultiplier": 10.0})
    );
}

#[tokio::test]
async fn the_same_files_twice_are_all_unchanged_on_either_path() {
    let app = spawn_app().await;
    let dir = fixtures().join("openslo");
    let first = apply_via_server(&app, &[&dir], &[]).await;
    assert_eq!(counts(&first), [5, 0, 0, 0], "{first}");
    let ids_before = objectives_by_name(&app).await;

    // Again through the database directly, then through the server.
    let output = slod_apply(&[&dir], &["--database", &app.database_url], &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.starts_with("KIND       NAME"), "{table}");
    assert!(table.contains("objective  search-slo"), "{table}");
    assert!(table.trim_end().ends_with("0 created, 0 updated, 5 unchanged, 0 deleted"), "{table}");
    let again = apply_via_server(&app, &[&dir], &["--prune"]).await;
    assert_eq!(counts(&again), [0, 0, 5, 0], "{again}");
    assert!(actions(&again).iter().all(|(_, _, action)| action == "unchanged"));
    let ids_after = objectives_by_name(&app).await;
    for (name, objective) in &ids_before {
        assert_eq!(objective["id"], ids_after[name]["id"], "{name} kept its id");
        assert_eq!(objective["updatedAt"], ids_after[name]["updatedAt"], "{name} not rewritten");
    }
}

#[tokio::test]
async fn one_changed_field_is_one_update_and_the_table_shows_old_and_new() {
    let app = spawn_app().await;
    let tmp = copy_fixtures(&["openslo"]);
    let dir = tmp.path().join("openslo");
    apply_via_server(&app, &[&dir], &[]).await;

    let file = dir.join("search-slo.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("target: 0.99\n", "target: 0.995\n")).unwrap();
    let output = slod_apply(&[&dir], &["--server", &app.address], &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let line = table.lines().find(|l| l.contains("search-slo")).unwrap();
    assert_eq!(line, "objective  search-slo             update     target: 99 → 99.5", "{table}");
    assert!(table.contains("0 created, 1 updated, 4 unchanged, 0 deleted"), "{table}");
    assert_eq!(objectives_by_name(&app).await["search-slo"]["target"], 99.5);

    // The same change seen over HTTP: the plan item names the field.
    std::fs::write(&file, text.replace("target: 0.99\n", "target: 0.9\n")).unwrap();
    let report = apply_via_server(&app, &[&dir], &["--dry-run"]).await;
    let item = report["plan"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "search-slo")
        .unwrap()
        .clone();
    assert_eq!(
        item,
        json!({"kind": "objective", "name": "search-slo", "action": "update",
               "changes": [{"field": "target", "from": 99.5, "to": 90.0}]})
    );
}

#[tokio::test]
async fn a_removed_file_is_deleted_with_prune_and_kept_without() {
    let app = spawn_app().await;
    let tmp = copy_fixtures(&["openslo"]);
    let dir = tmp.path().join("openslo");
    apply_via_server(&app, &[&dir], &[]).await;
    // An objective made by hand, without a name: prune never touches it.
    app.create_objective(json!({"systemId": "foo", "target": 99.0, "windowDays": 7})).await;
    std::fs::remove_file(dir.join("foo-slo.yaml")).unwrap();

    let kept = apply_via_server(&app, &[&dir], &[]).await;
    assert_eq!(counts(&kept), [0, 0, 4, 0], "{kept}");
    assert!(objectives_by_name(&app).await.contains_key("foo-slo"));

    let pruned = apply_via_server(&app, &[&dir], &["--prune"]).await;
    assert_eq!(counts(&pruned), [0, 0, 4, 1], "{pruned}");
    assert!(actions(&pruned).contains(&("objective".into(), "foo-slo".into(), "delete".into())));
    let left = objectives_by_name(&app).await;
    assert!(!left.contains_key("foo-slo"));
    assert!(left.contains_key("(unnamed)"), "the unnamed objective stays");
    assert_eq!(left.len(), 3);
}

#[tokio::test]
async fn a_broken_document_among_good_ones_applies_nothing_and_exits_1() {
    let app = spawn_app().await;
    let good = fixtures().join("openslo");
    let bad = fixtures().join("invalid/target-above-one.yaml");
    for target in [["--server", app.address.as_str()], ["--database", app.database_url.as_str()]] {
        let output = slod_apply(&[&good, &bad], &target, &[]).await;
        assert_eq!(output.status.code(), Some(1), "{target:?}: {}", stdout(&output));
        assert_eq!(
            stderr(&output).trim_end(),
            format!(
                "error: {}: document 2 (line 7): spec.objectives[0].target: must be between 0 and 1",
                bad.display()
            ),
            "{target:?}"
        );
        assert!(stdout(&output).is_empty());
    }
    assert_eq!(app.get_ok("/objectives").await["objectives"], json!([]));
    assert_eq!(app.get_ok("/systems").await["systems"], json!([]));
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_guards_a_pull_request() {
    let app = spawn_app().await;
    let dir = fixtures().join("openslo");
    let report = apply_via_server(&app, &[&dir], &["--dry-run"]).await;
    assert_eq!(counts(&report), [5, 0, 0, 0], "the counts the real apply would give");
    assert_eq!(report["dryRun"], true);
    assert_eq!(app.get_ok("/objectives").await["objectives"], json!([]));
    assert_eq!(app.get_ok("/systems").await["systems"], json!([]));
    let output = slod_apply(&[&dir], &["--database", &app.database_url], &["--dry-run"]).await;
    assert!(output.status.success());
    assert!(stdout(&output).contains("(dry run: nothing changed)"), "{}", stdout(&output));
    assert_eq!(app.get_ok("/systems").await["systems"], json!([]));

    // Each invalid file makes the dry run fail, naming where.
    let invalid = fixtures().join("invalid");
    for (file, expected) in [
        (
            "calendar.yaml",
            "document 1 (line 4): spec.timeWindow[0].duration: `2w` is not a calendar period",
        ),
        ("syntax.yaml", "document 2 (line 6): line 13 column 1: while parsing a flow sequence"),
        ("target-above-one.yaml", "document 2 (line 7): spec.objectives[0].target: "),
    ] {
        let path = invalid.join(file);
        let output = slod_apply(&[&dir, &path], &["--server", &app.address], &["--dry-run"]).await;
        assert_eq!(output.status.code(), Some(1), "{file}");
        let message = stderr(&output);
        assert!(message.contains(&format!("{}: {expected}", path.display())), "{file}: {message}");
    }
    // A file that cannot be read, a server that is not there: exit 1 too.
    let output =
        slod_apply(&[&invalid.join("missing.yaml")], &["--server", &app.address], &[]).await;
    assert_eq!(output.status.code(), Some(1));
    let output = slod_apply(&[&dir], &["--server", "http://127.0.0.1:9"], &["--dry-run"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

#[tokio::test]
async fn post_apply_takes_yaml_or_json_and_answers_the_plan() {
    let app = spawn_app().await;
    let yaml = "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: api}\n---\n\
                apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: api-availability}\n\
                spec: {service: api, objectives: [{target: 0.999}]}\n";
    let post_yaml = |query: &'static str, body: String| {
        let request = app
            .client
            .post(app.url(&format!("/apply{query}")))
            .header("content-type", "application/yaml")
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post_yaml("?dryRun=true", yaml.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((counts(&body), &body["dryRun"]), ([2, 0, 0, 0], &json!(true)));
    assert_eq!(app.get_ok("/systems").await["systems"], json!([]));
    let (status, body) = post_yaml("", yaml.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        actions(&body),
        [
            ("system".into(), "api".into(), "create".into()),
            ("objective".into(), "api-availability".into(), "create".into())
        ]
    );
    assert_eq!(objectives_by_name(&app).await["api-availability"]["target"], 99.9);

    // JSON: one document, a list of them.
    let slo = json!({"apiVersion": "checkstack.io/v1alpha1", "kind": "SLO",
        "metadata": {"name": "api-availability"},
        "spec": {"systemRef": {"name": "api"}, "target": 99.5, "windowDays": 30}});
    let (status, body) = app.post("/apply?prune=true", slo.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(counts(&body), [0, 1, 0, 0], "{body}");
    let (status, body) = app.post("/apply", json!([slo])).await;
    assert_eq!((status, counts(&body)), (StatusCode::OK, [0, 0, 1, 0]), "{body}");

    // Errors: 400 with the place in the message and the path as the field.
    let (status, body) = post_yaml("", yaml.replace("0.999", "1.5")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "validation_failed", Some("spec.objectives[0].target"));
    assert_eq!(
        body["error"]["message"],
        "request: document 2 (line 5): spec.objectives[0].target: must be between 0 and 1"
    );
    let twice = format!("{yaml}---\n{}", yaml.split("---\n").nth(1).unwrap());
    let (status, body) = post_yaml("", twice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("a second SLO named `api-availability`"));
    let (status, body) = post_yaml("", "kind: [\n".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "validation_failed", Some("document"));
    let orphan = json!({"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": "x"},
        "spec": {"service": "nowhere", "objectives": [{"target": 0.9}]}});
    let (status, body) = app.post("/apply", orphan).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "validation_failed", Some("spec.service"));
    let (status, body) = app.post("/apply?dryRun=yes", json!([])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("dryRun"));
    let (status, body) = app.post("/apply", json!({"files": [{"name": "a.yaml"}]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("files[0].content"));
    assert_eq!(objectives_by_name(&app).await["api-availability"]["target"], 99.5, "untouched");
}

/// The objective's settings, without what the database assigns.
fn settings(objective: &Value) -> Value {
    let mut o = objective.clone();
    for key in ["id", "createdAt", "updatedAt"] {
        o.as_object_mut().unwrap().remove(key);
    }
    o
}

#[tokio::test]
async fn an_export_applied_to_an_empty_database_gives_the_same_objectives() {
    let app = spawn_app().await;
    for id in ["api", "db", "web"] {
        app.create_system(id).await;
    }
    app.create_objective(json!({"name": "api-defaults", "systemId": "api", "target": 99.9,
        "windowDays": 30}))
        .await;
    app.create_objective(json!({"name": "api-everything", "systemId": "api", "target": 99.95,
        "windowDays": 7, "healthCheckConfigurationId": "http check: 1",
        "dependencyExclusion": "self-only", "excludedDependencyIds": ["db", "web"],
        "excludeMaintenanceWindows": true,
        "burnRateThresholds": {"warningPercent": 12.5, "criticalPercent": 90, "fastBurnMultiplier": 14.4}}))
        .await;
    app.create_objective(json!({"name": "db-quarter", "systemId": "db", "target": 95.0,
        "windowDays": 91}))
        .await;
    // Calendar windows (SPEC §17) travel too.
    app.create_objective(json!({"name": "api-monthly", "systemId": "api", "target": 99.5,
        "calendar": {"unit": "month", "timeZone": "Europe/Berlin"}}))
        .await;
    app.create_objective(json!({"name": "db-weekly", "systemId": "db", "target": 99.0,
        "calendar": {"unit": "week", "timeZone": "UTC"}}))
        .await;
    app.create_objective(json!({"systemId": "web", "target": 90.0, "windowDays": 1})).await;
    let original = objectives_by_name(&app).await;

    for format in ["openslo", "checkstack"] {
        let response =
            app.client.get(app.url(&format!("/export?format={format}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/yaml"));
        let yaml = response.text().await.unwrap();
        assert!(!yaml.contains("windowDays: 1\n"), "the unnamed objective is not exported");
        // The CLI writes the same export.
        let output = slod(&["export", "--format", format, "--server", &app.address]).await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(stdout(&output), yaml);

        let empty = spawn_app().await;
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join(format!("export-{format}.yaml"));
        std::fs::write(&file, &yaml).unwrap();
        let report = apply_via_server(&empty, &[&file], &[]).await;
        assert_eq!(counts(&report), [7, 0, 0, 0], "{format}: {report}\n{yaml}");
        let copied = objectives_by_name(&empty).await;
        assert_eq!(copied.len(), 5, "{format}");
        assert_eq!(copied["api-monthly"]["windowDays"], Value::Null, "{format}\n{yaml}");
        for name in ["api-defaults", "api-everything", "db-quarter", "api-monthly", "db-weekly"] {
            assert_eq!(
                settings(&copied[name]),
                settings(&original[name]),
                "{format}: {name}\n{yaml}"
            );
        }
        let systems = empty.get_ok("/systems").await["systems"].clone();
        let ids: Vec<&str> =
            systems.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["api", "db"], "{format}: the systems of named objectives");
        assert_eq!(systems[0]["name"], "API");
        // And the export applied back to where it came from changes nothing.
        let again = apply_via_server(&app, &[&file], &[]).await;
        assert_eq!(counts(&again), [0, 0, 7, 0], "{format}: {again}");
    }
    let output = slod(&["export", "--format", "checkstack", "--database", &app.database_url]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("kind: SLO"));
    let (status, body) = app.get("/export?format=sloth").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("format"));
}

#[tokio::test]
async fn with_tokens_the_cli_sends_its_token_and_apply_needs_manage() {
    let app = spawn_app().await;
    let create = |name: &'static str, scope: &'static str, bearer: Option<String>| {
        let mut request =
            app.client.post(app.url("/tokens")).json(&json!({"name": name, "scope": scope}));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            body["secret"].as_str().unwrap().to_owned()
        }
    };
    let manage = create("ci", "manage", None).await;
    let read = create("viewer", "read", Some(manage.clone())).await;
    let dir = fixtures().join("openslo");
    let server = ["--server", app.address.as_str()];

    let output = slod_apply(&[&dir], &server, &["--dry-run"]).await;
    assert_eq!(output.status.code(), Some(1), "no token: refused");
    let output = slod_apply(&[&dir], &server, &["--token", &read]).await;
    assert_eq!(output.status.code(), Some(1), "a read token cannot apply");
    let output = slod_apply(&[&dir], &server, &["--token", &manage]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("5 created"), "{}", stdout(&output));
    assert!(!stderr(&output).contains(&manage), "the token is never printed");
    let output = slod(&["export", "--server", &app.address, "--token", &read]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("name: search-slo"));
}

/// SPEC §14 with §17: a file switches an objective from its rolling window
/// to a calendar one and back; the plan names both fields.
#[tokio::test]
async fn a_file_moves_an_objective_between_rolling_and_calendar_windows() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_objective(json!({"name": "api-availability", "systemId": "api", "target": 99.9,
        "windowDays": 30}))
        .await;
    let calendar = "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: api-availability}\n\
        spec:\n  service: api\n  timeWindow:\n    - duration: 1Q\n      isRolling: false\n      \
        calendar: {startTime: \"2024-01-01 00:00:00\", timeZone: America/New_York}\n  \
        objectives: [{target: 0.999}]\n";
    let post = |body: String| {
        let request = app
            .client
            .post(app.url("/apply"))
            .header("content-type", "application/yaml")
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post(calendar.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(counts(&body), [0, 1, 0, 0], "{body}");
    let changes = body["plan"].to_string();
    assert!(changes.contains("windowDays") && changes.contains("calendar"), "{body}");
    let stored = objectives_by_name(&app).await["api-availability"].clone();
    assert_eq!(stored["windowDays"], Value::Null);
    assert_eq!(stored["calendar"], json!({"unit": "quarter", "timeZone": "America/New_York"}));
    let (status, again) = post(calendar.to_owned()).await;
    assert_eq!((status, counts(&again)), (StatusCode::OK, [0, 0, 1, 0]), "{again}");

    // A calendar window without a zone is refused by its path.
    let (status, body) = post(calendar.replace(", timeZone: America/New_York", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "validation_failed", Some("spec.timeWindow[0].calendar.timeZone"));

    // Back to 28 rolling days.
    let rolling =
        "apiVersion: checkstack.io/v1alpha1\nkind: SLO\nmetadata: {name: api-availability}\n\
        spec: {systemRef: {name: api}, target: 99.9, windowDays: 28}\n";
    let (status, body) = post(rolling.to_owned()).await;
    assert_eq!((status, counts(&body)), (StatusCode::OK, [0, 1, 0, 0]), "{body}");
    let stored = objectives_by_name(&app).await["api-availability"].clone();
    assert_eq!((&stored["windowDays"], &stored["calendar"]), (&json!(28), &Value::Null));
}
