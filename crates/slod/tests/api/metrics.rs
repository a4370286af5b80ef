//! `GET /metrics` (SPEC §15), checked by the real Prometheus tools from
//! Debian's `prometheus` package: `promtool check metrics` on the
//! exposition, a real Prometheus scraping slod and answering PromQL, and
//! `promtool check rules` on the bundled alerting rules and on every query
//! of the Grafana dashboard.
//!
//! Without the package the Prometheus tests fail when `CI` or
//! `SLOD_REQUIRE_PROMETHEUS` is set (`.ci/run` sets both and installs it),
//! and are skipped with a notice otherwise.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// The metric families of SPEC §15, as exposed (counters with `_total`).
const SLOD_FAMILIES: [&str; 16] = [
    "slod_objective_availability_ratio",
    "slod_objective_target_ratio",
    "slod_objective_error_budget_remaining_ratio",
    "slod_objective_error_budget_consumed_seconds",
    "slod_objective_burn_rate",
    "slod_objective_breaching",
    "slod_objective_streak_seconds",
    "slod_objective_open_downtime",
    "slod_system_up",
    "slod_http_requests_total",
    "slod_http_request_duration_seconds",
    "slod_health_reports_total",
    "slod_outbox_pending",
    "slod_notification_deliveries_total",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
];

/// A Prometheus tool from Debian's package, or `None` (after a notice)
/// when it is missing and nobody requires it.
fn prometheus_tool(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    let required =
        std::env::var_os("CI").is_some() || std::env::var_os("SLOD_REQUIRE_PROMETHEUS").is_some();
    assert!(
        !required,
        "{} is not installed: the metrics tests need Debian's `prometheus` package \
         (.ci/run installs it)",
        path.display()
    );
    eprintln!("NOTICE: skipping a Prometheus test: {} is missing", path.display());
    None
}

/// Runs `tool args…` with `stdin`, asserting it succeeds; returns its output.
fn run_tool(tool: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;

    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    drop(input);
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{} {args:?} failed:\n{text}", tool.display());
    text
}

async fn scrape(app: &TestApp, accept: Option<&str>) -> (String, String) {
    let mut request = app.client.get(format!("{}/metrics", app.address));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    (content_type, response.text().await.unwrap())
}

/// The names of the samples in an exposition (`name{labels} value`).
fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

/// The families declared by `# TYPE` lines.
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|rest| rest.split(' ').next().unwrap().to_owned())
        .collect()
}

/// The value of the one sample of `name` whose labels include all of
/// `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    let matching: Vec<&str> = text
        .lines()
        .filter(|line| {
            (line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} ")))
                && labels.iter().all(|label| line.contains(label))
        })
        .collect();
    assert_eq!(matching.len(), 1, "{name} with {labels:?}: {matching:?}");
    matching[0].rsplit(' ').next().unwrap().parse().unwrap()
}

/// One system down for an hour under a 99 % / 30-day objective, one healthy
/// system, and one report that was refused.
async fn seeded_app() -> (TestApp, String) {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.0, "windowDays": 30})).await;
    app.report("api", "unhealthy", 0).await;
    app.report("db", "healthy", 0).await;
    let (status, _) = app.post("/health", json!({"systemId": "api", "status": "sideways"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.set_now(60);
    (app, objective)
}

#[tokio::test]
async fn metrics_expose_the_families_of_the_spec_in_both_formats() {
    let (app, objective) = seeded_app().await;
    app.get_ok("/systems/api").await;
    let (content_type, text) = scrape(&app, None).await;
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    assert!(!text.contains("# EOF"));
    let declared = families(&text);
    for family in SLOD_FAMILIES {
        let name = family.strip_suffix("_total").unwrap_or(family);
        assert!(
            declared.contains(family) || declared.contains(name),
            "{family} missing from:\n{text}"
        );
    }
    let ours: BTreeSet<&str> =
        declared.iter().map(String::as_str).filter(|f| f.starts_with("slod_")).collect();
    let expected: BTreeSet<&str> =
        SLOD_FAMILIES.iter().copied().filter(|f| f.starts_with("slod_")).collect();
    assert_eq!(ours, expected, "exactly the families of SPEC §15");
    for standard in [
        "process_virtual_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
        "process_max_fds",
    ] {
        assert!(declared.contains(standard), "{standard} missing");
    }

    // Route templates, never raw paths.
    assert!(text.contains(
        r#"slod_http_requests_total{method="GET",route="/api/v1/systems/{id}",status="200"} 1"#
    ));
    assert!(!text.contains("route=\"/api/v1/systems/api\""));
    assert!(text.contains(
        r#"slod_http_requests_total{method="POST",route="/api/v1/health",status="400"} 1"#
    ));
    let reports = |result: &str| {
        sample(&text, "slod_health_reports_total", &[&format!(r#"result="{result}""#)])
    };
    assert_eq!(reports("applied") + reports("unchanged"), 2.0);
    assert!(reports("applied") >= 1.0);
    assert_eq!(reports("rejected"), 1.0);

    // The gauges, in base units, agree with the API.
    let status = app.status(&objective).await;
    let label = format!(r#"objective_id="{objective}""#);
    let remaining = status["errorBudgetRemainingPercent"].as_f64().unwrap() / 100.0;
    assert!((remaining - 372.0 / 432.0).abs() < 1e-9);
    let gauge = |name: &str| sample(&text, name, &[&label]);
    assert!((gauge("slod_objective_error_budget_remaining_ratio") - remaining).abs() < 1e-12);
    assert!((gauge("slod_objective_error_budget_consumed_seconds") - 3600.0).abs() < 1e-6);
    assert!((gauge("slod_objective_target_ratio") - 0.99).abs() < 1e-12);
    let availability = status["currentAvailability"].as_f64().unwrap() / 100.0;
    assert!((gauge("slod_objective_availability_ratio") - availability).abs() < 1e-12);
    assert_eq!(gauge("slod_objective_open_downtime"), 1.0);
    assert_eq!(gauge("slod_objective_breaching"), 0.0);
    assert_eq!(gauge("slod_objective_streak_seconds"), 0.0);
    for window in ["5m", "30m", "1h", "6h", "24h", "72h"] {
        let key = format!(r#"window="{window}""#);
        let rate = sample(&text, "slod_objective_burn_rate", &[&label, &key]);
        assert!((rate - status["burnRates"][window].as_f64().unwrap()).abs() < 1e-9, "{window}");
    }
    assert!(text.contains(r#"objective_name=""#) && text.contains(r#"system_name="API""#));
    assert_eq!(sample(&text, "slod_system_up", &[r#"system_id="api""#]), 0.0);
    assert_eq!(sample(&text, "slod_system_up", &[r#"system_id="db""#]), 1.0);
    assert_eq!(sample(&text, "slod_outbox_pending", &[]), 0.0);

    let (content_type, open) =
        scrape(&app, Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")).await;
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    assert!(open.ends_with("# EOF\n"));
    assert!(families(&open).contains("slod_objective_burn_rate"));
}

#[tokio::test]
async fn a_deleted_objective_leaves_the_next_scrape() {
    let (app, objective) = seeded_app().await;
    let (_, before) = scrape(&app, None).await;
    assert!(before.contains(&objective));
    let (status, _) = app.delete(&format!("/objectives/{objective}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, after) = scrape(&app, None).await;
    assert!(!after.contains(&objective), "computed per scrape, nothing lingers");
}

/// `promtool check metrics` reads the Prometheus text format (OpenMetrics
/// is covered by the real Prometheus below, which asks for it first).
#[tokio::test]
async fn promtool_accepts_the_exposition() {
    let Some(promtool) = prometheus_tool("promtool") else { return };
    let (app, _) = seeded_app().await;
    app.get_ok("/objectives").await;
    let (_, text) = scrape(&app, None).await;
    // `check metrics` lints too (names, units, help); it prints nothing when
    // all is well.
    let lint = run_tool(&promtool, &["check", "metrics"], Some(&text));
    assert!(lint.trim().is_empty(), "promtool: {lint}");
}

/// A Prometheus server of our own, killed when dropped.
struct Prometheus {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn contrib(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn start_prometheus(binary: &Path, target: &str) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let rules = contrib("contrib/prometheus/slod-rules.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {rules}\n\
         scrape_configs:\n  - job_name: slod\n    scrape_interval: 1s\n    \
         static_configs:\n      - targets: ['{target}']\n",
        rules = rules.display()
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Prometheus { child, url: format!("http://127.0.0.1:{port}"), _dir: dir }
}

#[tokio::test]
async fn a_real_prometheus_scrapes_slod_and_answers_promql() {
    let Some(binary) = prometheus_tool("prometheus") else { return };
    let (app, objective) = seeded_app().await;
    let target = app.address.trim_start_matches("http://").to_owned();
    let prometheus = start_prometheus(&binary, &target);
    let expected =
        app.status(&objective).await["errorBudgetRemainingPercent"].as_f64().unwrap() / 100.0;

    let query =
        format!(r#"slod_objective_error_budget_remaining_ratio{{objective_id="{objective}"}}"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        let response = app
            .client
            .get(format!("{}/api/v1/query", prometheus.url))
            .query(&[("query", query.as_str())])
            .send()
            .await;
        if let Ok(response) = response {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if let Some(first) = body["data"]["result"].as_array().and_then(|r| r.first()) {
                break first.clone();
            }
        }
        let log = std::fs::read_to_string(prometheus._dir.path().join("prometheus.log"))
            .unwrap_or_default();
        assert!(Instant::now() < deadline, "Prometheus never had the series; its log:\n{log}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(answer["metric"]["job"], "slod");
    assert_eq!(answer["metric"]["system_id"], "api");
    let value: f64 = answer["value"][1].as_str().unwrap().parse().unwrap();
    assert!((value - expected).abs() < 1e-12, "Prometheus says {value}, the API {expected}");

    // The bundled rules loaded, and the target is healthy.
    let rules: Value = app
        .client
        .get(format!("{}/api/v1/rules", prometheus.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let groups: BTreeSet<&str> = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(groups, BTreeSet::from(["slod-service", "slod-slo-burn"]));
}

/// Metric names a PromQL expression uses: identifiers outside string
/// literals that are not followed by `(` (functions), not label names inside
/// braces, not keywords.
fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: [&str; 24] = [
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "vector",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let (mut i, mut depth_brace, mut in_string) = (0, 0, None::<char>);
    let mut after_grouping = false;
    while i < chars.len() {
        let c = chars[i];
        if let Some(quote) = in_string {
            if c == '\\' {
                i += 1;
            } else if c == quote {
                in_string = None;
            }
            i += 1;
            continue;
        }
        match c {
            '"' | '\'' | '`' => in_string = Some(c),
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => {
                // A range like [5m]: skip to the bracket's end.
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                let is_function = next == Some(&'(');
                let in_grouping = after_grouping && next != Some(&'(');
                if KEYWORDS.contains(&word.as_str()) {
                    // `by (…)`, `on (…)`: the parenthesis holds label names.
                    after_grouping =
                        ["by", "without", "on", "ignoring", "group_left", "group_right"]
                            .contains(&word.as_str());
                } else if depth_brace == 0 && !is_function && !in_grouping {
                    names.push(word);
                }
                continue;
            }
            ')' => after_grouping = false,
            _ => {}
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_come_out_of_promql() {
    assert_eq!(
        metric_names(r#"sum by (result) (rate(slod_health_reports_total{a="b c"}[5m]))"#),
        ["slod_health_reports_total"]
    );
    assert_eq!(
        metric_names(r#"x{system_name=~"$system"} and on(objective_id) (y == 1) or vector(0)"#),
        ["x", "y"]
    );
}

/// Every PromQL expression of the dashboard: panel targets, and the metric
/// of each `label_values(metric, label)` variable.
fn dashboard_queries(dashboard: &Value) -> (Vec<String>, Vec<String>) {
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    let mut variable_metrics = Vec::new();
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(query) = variable["query"]["query"].as_str() {
            let inner = query.strip_prefix("label_values(").unwrap().split(',').next().unwrap();
            variable_metrics.push(inner.trim().to_owned());
        }
    }
    (exprs, variable_metrics)
}

#[tokio::test]
async fn the_dashboard_and_the_rules_use_only_what_slod_exports_and_pass_promtool() {
    let raw = std::fs::read_to_string(contrib("contrib/grafana/slod.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&raw).unwrap();
    // What Grafana's import needs: a title, a uid, panels with ids and grid
    // positions, and the datasource input the import asks for.
    assert_eq!(dashboard["uid"], "slod-slos");
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    assert_eq!(dashboard["__inputs"][0]["pluginId"], "prometheus");
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for panel in panels {
        assert!(ids.insert(panel["id"].as_u64().unwrap()), "duplicate panel id");
        for key in ["h", "w", "x", "y"] {
            assert!(panel["gridPos"][key].is_u64(), "{}", panel["title"]);
        }
        assert!(
            panel["gridPos"]["x"].as_u64().unwrap() + panel["gridPos"]["w"].as_u64().unwrap() <= 24
        );
    }
    let titles: Vec<&str> = panels.iter().map(|p| p["title"].as_str().unwrap()).collect();
    for wanted in
        ["Error budget remaining", "Burn rates", "Availability vs target", "Breaching objectives"]
    {
        assert!(titles.contains(&wanted), "{wanted} missing from {titles:?}");
    }

    // Names parsed from a real scrape, after a request so the HTTP families
    // have samples.
    let (app, _) = seeded_app().await;
    app.get_ok("/systems").await;
    let (_, text) = scrape(&app, None).await;
    let exported = sample_names(&text);
    let (exprs, variable_metrics) = dashboard_queries(&dashboard);
    let rules = std::fs::read_to_string(contrib("contrib/prometheus/slod-rules.yml")).unwrap();
    let rule_exprs = rule_expressions(&rules);
    assert_eq!(rule_exprs.len(), 4, "{rule_exprs:?}");
    for expr in exprs.iter().chain(&rule_exprs).chain(&variable_metrics) {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        for name in names {
            assert!(exported.contains(&name), "{name} (in {expr}) is not exported by slod");
        }
    }

    let Some(promtool) = prometheus_tool("promtool") else { return };
    let rules_path = contrib("contrib/prometheus/slod-rules.yml");
    run_tool(&promtool, &["check", "rules", rules_path.to_str().unwrap()], None);
    // Each dashboard query as a recording rule, so promtool parses it.
    let dir = tempfile::tempdir().unwrap();
    let mut file = String::from("groups:\n  - name: slod-dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        file.push_str(&format!(
            "      - record: slod_dashboard:query{i}\n        expr: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    let path = dir.path().join("dashboard-queries.yml");
    std::fs::write(&path, file).unwrap();
    let out = run_tool(&promtool, &["check", "rules", path.to_str().unwrap()], None);
    assert!(out.contains(&format!("{} rules found", exprs.len())), "{out}");
}

/// The `expr:` of each rule in the rules file (block scalars included).
fn rule_expressions(yaml: &str) -> Vec<String> {
    let mut exprs = Vec::new();
    let lines: Vec<&str> = yaml.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(rest) = line.trim_start().strip_prefix("expr:") {
            let indent = line.len() - line.trim_start().len();
            let rest = rest.trim();
            if rest == "|" || rest == ">" {
                let mut block = Vec::new();
                i += 1;
                while i < lines.len()
                    && (lines[i].trim().is_empty()
                        || lines[i].len() - lines[i].trim_start().len() > indent)
                {
                    block.push(lines[i].trim());
                    i += 1;
                }
                exprs.push(block.join(" "));
                continue;
            }
            exprs.push(rest.to_owned());
        }
        i += 1;
    }
    exprs
}
