//! The receivers for Alertmanager, Uptime Kuma and Gatus (SPEC §13),
//! fed the payloads in `tests/fixtures/ingest/` (Alertmanager's captured
//! from the real binary; `alertmanager.rs` runs it live) and hand-made ones
//! for the options and the bad input.

use reqwest::StatusCode;
use serde_json::{json, Value};
use slod_core::time::Timestamp;

use crate::helpers::*;

const AM: &str = "/integrations/alertmanager";
const KUMA: &str = "/integrations/uptime-kuma";
const GATUS: &str = "/integrations/gatus";

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/ingest/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|err| panic!("{full}: {err}"))
}

fn counts(applied: usize, ignored: usize, stale: usize) -> Value {
    json!({"applied": applied, "ignored": ignored, "stale": stale})
}

impl TestApp {
    /// Posts a fixture as JSON; the answer must be 200.
    async fn ingest_fixture(&self, path: &str, file: &str) -> Value {
        let (status, body) = self.post_body(path, Some("application/json"), fixture(file)).await;
        assert_eq!(status, StatusCode::OK, "{file}: {body}");
        body
    }

    /// Posts a JSON body to an integration route; the answer must be 200.
    async fn ingest(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer
    }

    async fn system(&self, id: &str) -> Value {
        self.get_ok(&format!("/systems/{id}")).await
    }

    async fn system_ids(&self) -> Vec<String> {
        let body = self.get_ok("/systems").await;
        body["systems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// An Alertmanager v4 webhook body.
fn webhook(alerts: Vec<Value>) -> Value {
    json!({
        "receiver": "slod", "status": "firing", "version": "4", "groupKey": "{}:{}",
        "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093", "alerts": alerts
    })
}

/// One alert of a webhook: firing since `starts` (minutes from T0), or
/// resolved at `ends`.
fn alert(fingerprint: &str, labels: Value, starts: i64, ends: Option<i64>) -> Value {
    json!({
        "status": if ends.is_some() { "resolved" } else { "firing" },
        "labels": labels,
        "annotations": {"summary": "it is down"},
        "startsAt": at(starts),
        "endsAt": ends.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), at),
        "generatorURL": "http://prometheus.example:9090/graph",
        "fingerprint": fingerprint
    })
}

#[tokio::test]
async fn uptime_kuma_down_up_pending_and_maintenance_in_its_json_mode() {
    let app = spawn_app().await;
    // The "Test" button: nothing to apply, nothing created.
    let answer = app.ingest_fixture(KUMA, "uptime-kuma/test-notification.json").await;
    assert_eq!(answer, counts(0, 1, 0));
    assert!(app.system_ids().await.is_empty());

    app.put("/systems/payments-api", json!({"name": "Payments API"})).await;
    let objective = app
        .create_objective(json!({"systemId": "payments-api", "target": 99.9, "windowDays": 30}))
        .await;

    // 0: down at heartbeat.time.
    assert_eq!(app.ingest_fixture(KUMA, "uptime-kuma/down.json").await, counts(1, 0, 0));
    let system = app.system("payments-api").await;
    assert_eq!(system["status"], "unhealthy");
    assert_eq!(system["since"], "2026-02-28T23:40:00.125Z");
    // Uptime Kuma re-sends while down ("resend every N heartbeats"): a repeat.
    assert_eq!(app.ingest_fixture(KUMA, "uptime-kuma/down.json").await, counts(1, 0, 0));
    assert_eq!(app.events(&objective).await.len(), 1);

    // 1: up.
    assert_eq!(app.ingest_fixture(KUMA, "uptime-kuma/up.json").await, counts(1, 0, 0));
    let events = app.events(&objective).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["startTime"], "2026-02-28T23:40:00.125Z");
    assert_eq!(events[0]["endTime"], "2026-02-28T23:52:30.500Z");

    // 2 (pending) and 3 (maintenance) say nothing about health.
    assert_eq!(app.ingest_fixture(KUMA, "uptime-kuma/pending.json").await, counts(0, 1, 0));
    assert_eq!(app.ingest_fixture(KUMA, "uptime-kuma/maintenance.json").await, counts(0, 1, 0));
    assert_eq!(app.system("payments-api").await["status"], "healthy");

    // The down notification again, older than the monitor's latest: stale.
    assert_eq!(app.ingest_fixture(KUMA, "uptime-kuma/down.json").await, counts(0, 0, 1));
    assert_eq!(app.system("payments-api").await["status"], "healthy");
    assert_eq!(app.events(&objective).await.len(), 1);
}

#[tokio::test]
async fn uptime_kuma_form_data_and_urlencoded_modes_create_the_system_from_the_monitor_name() {
    let app = spawn_app().await;
    let multipart = fixture("uptime-kuma/search-down.multipart");
    let first_line = String::from_utf8_lossy(&multipart).lines().next().unwrap().to_owned();
    let boundary = first_line.strip_prefix("--").unwrap().to_owned();
    let content_type = format!("multipart/form-data; boundary={boundary}");

    let (status, answer) = app.post_body(KUMA, Some(&content_type), multipart).await;
    assert_eq!((status, answer), (StatusCode::OK, counts(1, 0, 0)));
    let system = app.system("search").await;
    assert_eq!((&system["name"], &system["status"]), (&json!("Search"), &json!("unhealthy")));
    assert_eq!(system["since"], "2026-02-28T23:30:00.000Z");

    let form = fixture("uptime-kuma/search-up.urlencoded");
    let (status, answer) =
        app.post_body(KUMA, Some("application/x-www-form-urlencoded"), form).await;
    assert_eq!((status, answer), (StatusCode::OK, counts(1, 0, 0)));
    assert_eq!(app.system("search").await["status"], "healthy");

    // A form without its `data` part.
    let other_part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--{boundary}--\r\n"
    );
    let (status, body) = app.post_body(KUMA, Some(&content_type), other_part).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "data");
    let (status, body) =
        app.post_body(KUMA, Some("application/x-www-form-urlencoded"), "data=%7Bnope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "data");
}

#[tokio::test]
async fn uptime_kuma_system_id_from_the_query() {
    let app = spawn_app().await;
    let (status, answer) = app
        .post_body(
            &format!("{KUMA}?systemId=pay.eu"),
            Some("application/json"),
            fixture("uptime-kuma/down.json"),
        )
        .await;
    assert_eq!((status, answer), (StatusCode::OK, counts(1, 0, 0)));
    let system = app.system("pay.eu").await;
    assert_eq!((&system["name"], &system["status"]), (&json!("Payments API"), &json!("unhealthy")));
    assert_eq!(app.system_ids().await, ["pay.eu"]);

    let (status, body) = app
        .post_body(&format!("{KUMA}?systemId=no%20spaces"), None, fixture("uptime-kuma/down.json"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "systemId");
}

#[tokio::test]
async fn gatus_triggered_and_resolved_apply_at_receipt() {
    let app = spawn_app().await;
    app.set_now(10);
    assert_eq!(app.ingest_fixture(GATUS, "gatus/triggered.json").await, counts(1, 0, 0));
    let system = app.system("core-payments-api").await;
    assert_eq!(system["name"], "core/Payments API");
    assert_eq!((&system["status"], &system["since"]), (&json!("unhealthy"), &json!(at(10))));
    // An objective made during the outage opens its event at once (SPEC §2).
    let objective = app
        .create_objective(json!({"systemId": "core-payments-api", "target": 99.0, "windowDays": 7}))
        .await;

    app.set_now(25);
    // Gatus sends no Content-Type unless its config says so.
    let (status, answer) = app.post_body(GATUS, None, fixture("gatus/resolved.json")).await;
    assert_eq!((status, answer), (StatusCode::OK, counts(1, 0, 0)));
    assert_eq!(app.system("core-payments-api").await["status"], "healthy");
    let events = app.events(&objective).await;
    assert_eq!(events.len(), 1);
    assert_eq!((&events[0]["startTime"], &events[0]["endTime"]), (&json!(at(10)), &json!(at(25))));

    // An endpoint without a group.
    assert_eq!(app.ingest_fixture(GATUS, "gatus/ungrouped-triggered.json").await, counts(1, 0, 0));
    let system = app.system("search").await;
    assert_eq!((&system["name"], &system["status"]), (&json!("search"), &json!("unhealthy")));
}

#[tokio::test]
async fn alertmanager_payloads_captured_from_the_real_binary() {
    let app = spawn_app().await;
    app.clock.set(Timestamp::parse("2026-12-03T08:01:00Z").unwrap());
    assert_eq!(app.ingest_fixture(AM, "alertmanager/firing.json").await, counts(1, 0, 0));
    let system = app.system("checkout").await;
    assert_eq!(
        (&system["status"], &system["since"]),
        (&json!("unhealthy"), &json!("2026-12-03T08:00:53.620Z"))
    );
    // Alertmanager's repeat is the same body: applied, and changes nothing.
    assert_eq!(app.ingest_fixture(AM, "alertmanager/firing.json").await, counts(1, 0, 0));
    assert_eq!(app.system("checkout").await, system);

    assert_eq!(app.ingest_fixture(AM, "alertmanager/resolved.json").await, counts(1, 0, 0));
    let system = app.system("checkout").await;
    assert_eq!((&system["status"], &system["since"]), (&json!("healthy"), &Value::Null));
    assert_eq!(system["lastReportAt"], "2026-12-03T08:00:57.674Z");
    // The firing notification arriving late: older than the alert's latest.
    assert_eq!(app.ingest_fixture(AM, "alertmanager/firing.json").await, counts(0, 0, 1));
    assert_eq!(app.system("checkout").await["status"], "healthy");
}

#[tokio::test]
async fn alertmanager_label_chooses_the_system_and_alerts_without_it_are_ignored() {
    let app = spawn_app().await;
    let body = webhook(vec![
        alert("a1", json!({"alertname": "Down", "service": "api"}), -5, None),
        alert("a2", json!({"alertname": "Down", "system": "db"}), -5, None),
    ]);
    assert_eq!(app.ingest(&format!("{AM}?label=service"), body.clone()).await, counts(1, 1, 0));
    assert_eq!(app.system_ids().await, ["api"]);
    // A label no alert has: every alert ignored, nothing created.
    assert_eq!(app.ingest(&format!("{AM}?label=team"), body.clone()).await, counts(0, 2, 0));
    assert_eq!(app.system_ids().await, ["api"]);
    // The default label is `system`; `system_name` names a new system.
    let named = webhook(vec![alert(
        "a3",
        json!({"system": "Payments API", "system_name": "Payments (EU)"}),
        -5,
        None,
    )]);
    assert_eq!(app.ingest(AM, named).await, counts(1, 0, 0));
    assert_eq!(app.system("payments-api").await["name"], "Payments (EU)");
}

#[tokio::test]
async fn alertmanager_severities_named_by_degraded_make_the_system_degraded() {
    let app = spawn_app().await;
    let warning =
        webhook(vec![alert("w", json!({"system": "api", "severity": "warning"}), -5, None)]);
    app.ingest(AM, warning.clone()).await;
    assert_eq!(app.system("api").await["status"], "degraded");

    let critical =
        webhook(vec![alert("c", json!({"system": "db", "severity": "critical"}), -5, None)]);
    app.ingest(&format!("{AM}?degraded=critical,page"), critical.clone()).await;
    assert_eq!(app.system("db").await["status"], "degraded");
    app.ingest(
        &format!("{AM}?degraded=warning"),
        webhook(vec![alert("c", json!({"system": "web", "severity": "critical"}), -5, None)]),
    )
    .await;
    assert_eq!(app.system("web").await["status"], "unhealthy");
    // An empty list: every firing alert is unhealthy.
    app.ingest(
        &format!("{AM}?degraded="),
        webhook(vec![alert("w", json!({"system": "cdn", "severity": "warning"}), -5, None)]),
    )
    .await;
    assert_eq!(app.system("cdn").await["status"], "unhealthy");
}

#[tokio::test]
async fn create_false_ignores_items_for_unknown_systems() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let body = webhook(vec![
        alert("a", json!({"system": "api"}), -5, None),
        alert("b", json!({"system": "ghost"}), -5, None),
    ]);
    assert_eq!(app.ingest(&format!("{AM}?create=false"), body).await, counts(1, 1, 0));
    assert_eq!(app.system_ids().await, ["api"]);
    assert_eq!(app.system("api").await["status"], "unhealthy");

    let (status, answer) = app
        .post_body(&format!("{GATUS}?create=false"), None, fixture("gatus/triggered.json"))
        .await;
    assert_eq!((status, answer), (StatusCode::OK, counts(0, 1, 0)));
    let (status, answer) = app
        .post_body(
            &format!("{KUMA}?create=false"),
            Some("application/json"),
            fixture("uptime-kuma/down.json"),
        )
        .await;
    assert_eq!((status, answer), (StatusCode::OK, counts(0, 1, 0)));
    assert_eq!(app.system_ids().await, ["api"]);
}

#[tokio::test]
async fn an_item_more_than_five_minutes_ahead_is_ignored_while_the_rest_apply() {
    let app = spawn_app().await;
    let body = webhook(vec![
        alert("a", json!({"system": "api"}), -10, None),
        alert("b", json!({"system": "db"}), 6, None),
        alert("c", json!({"system": "web"}), 4, None),
    ]);
    assert_eq!(app.ingest(AM, body).await, counts(2, 1, 0));
    assert_eq!(app.system_ids().await, ["api", "web"]);
    assert_eq!(app.system("web").await["since"], at(4));
}

#[tokio::test]
async fn an_item_older_than_its_checks_latest_report_is_stale_and_the_rest_apply() {
    let app = spawn_app().await;
    app.ingest(AM, webhook(vec![alert("a", json!({"system": "api"}), -30, None)])).await;
    app.ingest(AM, webhook(vec![alert("a", json!({"system": "api"}), -30, Some(-20))])).await;
    // A late copy of the first notification, next to a new alert.
    let body = webhook(vec![
        alert("a", json!({"system": "api"}), -30, None),
        alert("b", json!({"system": "db"}), -10, None),
    ]);
    assert_eq!(app.ingest(AM, body).await, counts(1, 0, 1));
    assert_eq!(app.system("api").await["status"], "healthy");
    assert_eq!(app.system("db").await["status"], "unhealthy");
}

#[tokio::test]
async fn a_payload_that_is_not_the_format_is_refused_naming_what_is_wrong() {
    let app = spawn_app().await;
    let gatus_body = String::from_utf8(fixture("gatus/triggered.json")).unwrap();
    let kuma_body = String::from_utf8(fixture("uptime-kuma/down.json")).unwrap();
    let cases: [(&str, String, &str); 9] = [
        (AM, "this is not JSON".into(), "body"),
        (AM, "[]".into(), "body"),
        (AM, gatus_body.clone(), "alerts"),
        (AM, json!({"version": "2", "alerts": []}).to_string(), "version"),
        (KUMA, gatus_body, "heartbeat"),
        (
            KUMA,
            json!({"heartbeat": {"monitorID": 1, "status": 0}, "monitor": {"name": "x"}})
                .to_string(),
            "heartbeat.time",
        ),
        (GATUS, kuma_body, "endpoint"),
        (GATUS, json!({"endpoint": "api", "status": "DOWN"}).to_string(), "status"),
        (GATUS, "{\"endpoint\": \"api\",".into(), "body"),
    ];
    for (path, body, field) in cases {
        let (status, answer) = app.post_body(path, Some("application/json"), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{path} {body}: {answer}");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    // Unknown query parameters and bad flags.
    for (path, field) in [
        (format!("{AM}?create=maybe"), "create"),
        (format!("{AM}?labels=x"), "labels"),
        (format!("{AM}?label="), "label"),
        (format!("{GATUS}?systemId=x"), "systemId"),
    ] {
        let (status, answer) = app.post_body(&path, None, fixture("gatus/triggered.json")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{path}: {answer}");
    }
    assert!(app.system_ids().await.is_empty());
}

#[tokio::test]
async fn a_name_that_slugs_to_nothing_is_refused() {
    let app = spawn_app().await;
    let mut kuma = serde_json::from_slice::<Value>(&fixture("uptime-kuma/down.json")).unwrap();
    kuma["monitor"]["name"] = json!("🔥 / 🔥");
    let (status, answer) = app.post(KUMA, kuma).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["field"], "monitor.name");

    let (status, answer) = app.post(GATUS, json!({"endpoint": "/", "status": "TRIGGERED"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["field"], "endpoint");

    let body = webhook(vec![alert("a", json!({"system": "¿¡"}), -5, None)]);
    let (status, answer) = app.post(AM, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["field"], "alerts[0].labels.system");
    assert!(app.system_ids().await.is_empty());
}

#[tokio::test]
async fn a_malformed_item_refuses_the_whole_payload_and_nothing_is_applied() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let mut broken = alert("c", json!({"system": "web"}), -5, None);
    broken["startsAt"] = json!("not a time");
    let body = webhook(vec![
        alert("a", json!({"system": "api"}), -5, None),
        alert("b", json!({"system": "db"}), -5, None),
        broken,
    ]);
    let (status, answer) = app.post(AM, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["field"], "alerts[2].startsAt");
    assert_eq!(app.system_ids().await, ["api"]);
    assert_eq!(app.system("api").await["status"], "healthy");
}

/// 10,000 alerts like the captured ones, on `systems` systems.
fn big_webhook(alerts: usize, systems: usize) -> Value {
    let alerts = (0..alerts)
        .map(|i| {
            let system = format!("svc-{:04}", i % systems);
            json!({
                "status": "firing",
                "labels": {"alertname": format!("HighErrorRate{i}"), "system": system,
                           "severity": "critical", "instance": format!("10.0.{}.{}:9100", i / 250, i % 250),
                           "job": "node", "team": "payments"},
                "annotations": {"summary": format!("{system} answers 5xx on more than 5% of requests"),
                                "description": "The error rate has been above the threshold for 5 minutes; see the runbook.",
                                "runbook_url": "https://runbooks.example.com/high-error-rate"},
                "startsAt": at(-60 + i64::try_from(i % 50).unwrap()),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph?g0.expr=rate%28http_requests_total%5B5m%5D%29&g0.tab=1",
                "fingerprint": format!("{i:016x}")
            })
        })
        .collect();
    webhook(alerts)
}

#[tokio::test]
async fn ten_thousand_alerts_in_one_payload_apply_in_one_transaction() {
    let app = spawn_app().await;
    let body = big_webhook(10_000, 500).to_string();
    assert!(body.len() > 5_000_000 && body.len() < 16 * 1024 * 1024, "{} bytes", body.len());
    let (status, answer) = app.post_body(AM, Some("application/json"), body).await;
    assert_eq!((status, answer), (StatusCode::OK, counts(10_000, 0, 0)));
    assert_eq!(app.system_ids().await.len(), 500);
    assert_eq!(app.system("svc-0007").await["status"], "unhealthy");

    // The same with its last alert broken: refused whole, nothing created.
    let mut broken = big_webhook(10_000, 500);
    for alert in broken["alerts"].as_array_mut().unwrap() {
        let system = alert["labels"]["system"].as_str().unwrap().replace("svc", "other");
        alert["labels"]["system"] = json!(system);
    }
    broken["alerts"][9_999]["status"] = json!("flapping");
    let (status, answer) = app.post_body(AM, Some("application/json"), broken.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["field"], "alerts[9999].status");
    assert_eq!(app.system_ids().await.len(), 500);
}

#[tokio::test]
async fn integration_bodies_may_reach_16_mib_and_other_routes_stay_at_1_mib() {
    let app = spawn_app().await;
    let padding = "x".repeat(16 * 1024 * 1024);
    let too_big = json!({"alerts": [], "padding": padding}).to_string();
    let (status, answer) = app.post_body(AM, Some("application/json"), too_big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["error"]["code"], "payload_too_large");

    // 2 MB is fine here, and too large for `POST /health`.
    let two_mb = json!({"alerts": [], "padding": "x".repeat(2_000_000)}).to_string();
    let (status, answer) = app.post_body(AM, Some("application/json"), two_mb.clone()).await;
    assert_eq!((status, answer), (StatusCode::OK, counts(0, 0, 0)));
    let (status, _) = app.post_body("/health", Some("application/json"), two_mb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn two_alerts_on_one_system_are_two_checks_and_do_not_clobber_each_other() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let errors = |ends| alert("errors", json!({"system": "api", "alertname": "Errors"}), -30, ends);
    let latency =
        |ends| alert("latency", json!({"system": "api", "alertname": "Latency"}), -20, ends);

    assert_eq!(app.ingest(AM, webhook(vec![errors(None), latency(None)])).await, counts(2, 0, 0));
    // One alert resolving leaves the system down: the other still fires.
    assert_eq!(
        app.ingest(AM, webhook(vec![errors(Some(-10)), latency(None)])).await,
        counts(2, 0, 0)
    );
    assert_eq!(app.system("api").await["status"], "unhealthy");
    // Alertmanager's repeat of that group: the firing alert's startsAt is
    // older than the other alert's report, and still not stale.
    assert_eq!(
        app.ingest(AM, webhook(vec![errors(Some(-10)), latency(None)])).await,
        counts(2, 0, 0)
    );
    assert_eq!(app.ingest(AM, webhook(vec![latency(Some(-5))])).await, counts(1, 0, 0));
    assert_eq!(app.system("api").await["status"], "healthy");
    let events = app.events(&objective).await;
    assert_eq!(events.len(), 1);
    assert_eq!((&events[0]["startTime"], &events[0]["endTime"]), (&json!(at(-30)), &json!(at(-5))));
}

#[tokio::test]
async fn the_system_page_shows_where_its_reports_come_from() {
    let app = spawn_app().await;
    app.clock.set(Timestamp::parse("2026-12-03T08:01:00Z").unwrap());
    app.ingest_fixture(AM, "alertmanager/firing.json").await;
    let (status, _) = app
        .post_body(&format!("{KUMA}?systemId=checkout"), None, fixture("uptime-kuma/up.json"))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.ingest(GATUS, json!({"endpoint": "/Checkout", "status": "RESOLVED"})).await;
    app.post("/health", json!({"systemId": "checkout", "status": "healthy"})).await;

    let response =
        app.client.get(format!("{}/systems/checkout", app.address)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let section = &html[html.find("Where reports come from").expect("the section")..];
    for expected in [
        "Alertmanager",
        "alert 62071ca53fed0125",
        "Uptime Kuma",
        "monitor 7",
        "Gatus",
        "endpoint Checkout",
        "POST /health",
        "reports naming no check",
        "unhealthy",
        "last report",
    ] {
        assert!(section.contains(expected), "{expected} missing from {section}");
    }

    // A system nobody reported on says how to start.
    app.create_system("quiet").await;
    let html = app
        .client
        .get(format!("{}/systems/quiet", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("No health report yet"), "{html}");
}
