//! SLA statements (SPEC §17) through the API: the JSON statement on
//! hand-computed numbers with every interval's cause, the CSV and the PDF
//! (read back with `pdftotext`) saying the same numbers, the monthly
//! report sent on request, and bad queries refused by name.
//!
//! The period is February 2026 (28 days, 40,320 minutes); the clock is at
//! T0 = 2026-03-01, so the whole month is over.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const DAY: i64 = 24 * 60;
const FEBRUARY_MINUTES: f64 = 28.0 * 1440.0;

/// Minutes from T0 to `day` February 2026 at `hour:minute`.
fn feb(day: i64, hour: i64, minute: i64) -> i64 {
    -28 * DAY + (day - 1) * DAY + hour * 60 + minute
}

/// `api` (upstream `db`) with a self-only objective and a strict one that
/// excludes maintenance, and February's history:
/// - Feb 10 10:00–11:00 api down, its first 20 minutes then marked a false
///   positive;
/// - Feb 15 00:00–00:30 db down, and api with it;
/// - Feb 20 02:30–03:30 api down, 02:00–03:10 a maintenance window.
async fn february(app: &TestApp) -> (String, String) {
    app.create_system("api").await;
    app.create_system("db").await;
    app.set_upstreams("api", &["db"]).await;
    let self_only = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
                                 "dependencyExclusion": "self-only"}))
        .await;
    let strict = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
                                 "excludeMaintenanceWindows": true}))
        .await;
    app.report("api", "unhealthy", feb(10, 10, 0)).await;
    app.report("api", "healthy", feb(10, 11, 0)).await;
    app.report("db", "unhealthy", feb(15, 0, 0)).await;
    app.report("api", "unhealthy", feb(15, 0, 0)).await;
    app.report("api", "healthy", feb(15, 0, 30)).await;
    app.report("db", "healthy", feb(15, 0, 30)).await;
    app.report("api", "unhealthy", feb(20, 2, 30)).await;
    app.report("api", "healthy", feb(20, 3, 30)).await;
    let (status, body) = app
        .post(
            "/systems/api/maintenance-windows",
            json!({"title": "upgrade", "start": at(feb(20, 2, 0)), "end": at(feb(20, 3, 10))}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/systems/api/corrections",
            json!({"start": at(feb(10, 10, 0)), "end": at(feb(10, 10, 20)),
                   "kind": "false_positive", "reason": "probe outage"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (self_only, strict)
}

/// `(start, end, minutes, cause, upstream, consumed)` of each interval.
fn intervals(objective: &Value) -> Vec<(String, String, f64, String, Value, bool)> {
    objective["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["start"].as_str().unwrap().to_owned(),
                i["end"].as_str().unwrap().to_owned(),
                i["minutes"].as_f64().unwrap(),
                i["cause"].as_str().unwrap().to_owned(),
                i["upstreamSystemId"].clone(),
                i["consumed"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn piece(
    from: i64,
    to: i64,
    cause: &str,
    upstream: Option<&str>,
    consumed: bool,
) -> (String, String, f64, String, Value, bool) {
    #[allow(clippy::cast_precision_loss)]
    let minutes = (to - from) as f64;
    (at(from), at(to), minutes, cause.to_owned(), json!(upstream), consumed)
}

fn find<'a>(statement: &'a Value, objective: &str) -> &'a Value {
    statement["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["objectiveId"] == objective)
        .unwrap_or_else(|| panic!("{objective} not in {statement}"))
}

#[tokio::test]
async fn a_month_statement_lists_every_interval_with_its_cause() {
    let app = spawn_app().await;
    let (self_only, strict) = february(&app).await;
    let statement = app.get_ok("/reports/sla?period=2026-02").await;
    assert_eq!(statement["from"], "2026-02-01T00:00:00.000Z");
    assert_eq!(statement["to"], "2026-03-01T00:00:00.000Z");
    assert_eq!(statement, app.get_ok("/reports/sla?from=2026-02-01&to=2026-03-01").await);

    let one = find(&statement, &self_only);
    assert_eq!(one["systemId"], "api");
    assert_eq!(one["systemName"], "API");
    assert_eq!(one["target"], 99.9);
    assert_eq!(
        intervals(one),
        [
            piece(feb(10, 10, 0), feb(10, 10, 20), "false_positive", None, false),
            piece(feb(10, 10, 20), feb(10, 11, 0), "self", None, true),
            piece(feb(15, 0, 0), feb(15, 0, 30), "upstream", Some("db"), false),
            piece(feb(20, 2, 30), feb(20, 3, 30), "self", None, true),
        ]
    );
    assert_close(&one["consumedMinutes"], 100.0);
    assert_close(
        &one["availabilityPercent"],
        (FEBRUARY_MINUTES - 100.0) / FEBRUARY_MINUTES * 100.0,
    );
    // 28 days at 99.9 % allow 40.32 minutes.
    assert_eq!(one["met"], false);

    let two = find(&statement, &strict);
    assert_eq!(
        intervals(two),
        [
            piece(feb(10, 10, 0), feb(10, 10, 20), "false_positive", None, false),
            piece(feb(10, 10, 20), feb(10, 11, 0), "self", None, true),
            // Strict objectives charge everything to themselves (SPEC §3).
            piece(feb(15, 0, 0), feb(15, 0, 30), "self", None, true),
            piece(feb(20, 2, 30), feb(20, 3, 10), "maintenance", None, false),
            piece(feb(20, 3, 10), feb(20, 3, 30), "self", None, true),
        ]
    );
    assert_close(&two["consumedMinutes"], 90.0);

    // The consumed intervals add up, for every objective.
    for objective in statement["objectives"].as_array().unwrap() {
        let sum: f64 = objective["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["consumed"] == true)
            .map(|i| i["minutes"].as_f64().unwrap())
            .sum();
        assert_close(&objective["consumedMinutes"], sum);
    }

    // One system's objectives only; March has nothing yet.
    let db_only = app.get_ok("/reports/sla?period=2026-02&systemId=db").await;
    assert_eq!(db_only["objectives"], json!([]));
    let march = app.get_ok("/reports/sla?period=2026-03").await;
    assert_close(&find(&march, &self_only)["availabilityPercent"], 100.0);
}

#[tokio::test]
async fn the_csv_and_the_pdf_say_what_the_json_says() {
    let app = spawn_app().await;
    february(&app).await;
    let statement = app.get_ok("/reports/sla?period=2026-02").await;
    let objectives = statement["objectives"].as_array().unwrap();
    let (_, _, raw_json) = app.get_bytes("/reports/sla?period=2026-02").await;
    let raw_json = String::from_utf8(raw_json).unwrap();

    let (status, content_type, body) =
        app.get_bytes("/reports/sla?period=2026-02&format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let text = String::from_utf8(body).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "objective_id,objective_name,system_id,system_name,target,availability_percent,met,consumed_minutes"
    );
    assert_eq!(rows.len(), objectives.len() + 1);
    for (row, json) in rows[1..].iter().zip(objectives) {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells[0], json["objectiveId"]);
        assert_eq!(cells[1], "");
        assert_eq!(cells[2], json["systemId"]);
        assert_eq!(cells[3], json["systemName"]);
        assert_eq!(cells[4].parse::<f64>().unwrap(), json["target"].as_f64().unwrap());
        // Exactly the JSON's number, digit for digit.
        let written = format!("\"availabilityPercent\":{},", cells[5]);
        assert!(raw_json.contains(&written), "{written} not in {raw_json}");
        assert_close(&json["availabilityPercent"], cells[5].parse::<f64>().unwrap());
        assert_eq!(cells[6], json["met"].to_string());
        assert_eq!(cells[7].parse::<f64>().unwrap(), json["consumedMinutes"].as_f64().unwrap());
    }

    let (status, content_type, pdf) = app.get_bytes("/reports/sla?period=2026-02&format=pdf").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    assert!(text.contains("SLA statement"), "{text}");
    assert!(text.contains("2026-02-01 to 2026-03-01"), "{text}");
    for json in objectives {
        let id = json["objectiveId"].as_str().unwrap();
        let availability = format!("{:.4}", json["availabilityPercent"].as_f64().unwrap());
        let consumed = format!("{:.2}", json["consumedMinutes"].as_f64().unwrap());
        // The table row, then the objective's own section.
        let row = text
            .lines()
            .find(|l| l.contains(id) && l.contains("API"))
            .unwrap_or_else(|| panic!("{id}: {text}"));
        assert!(row.contains(&availability) && row.contains(&consumed), "{row}");
        let section = format!("{id} (API): availability {availability} %, consumed {consumed} min");
        assert!(text.contains(&section), "{section}: {text}");
        for interval in json["intervals"].as_array().unwrap() {
            let minutes = format!("{:.2}", interval["minutes"].as_f64().unwrap());
            let start = &interval["start"].as_str().unwrap()[..16].replace('T', " ");
            let line = text
                .lines()
                .find(|l| {
                    l.contains(start.as_str()) && l.contains(interval["cause"].as_str().unwrap())
                })
                .unwrap_or_else(|| panic!("{interval}: {text}"));
            assert!(line.contains(&minutes), "{line}");
        }
    }
}

/// The PDF's text: `pdftotext -layout`, which CI requires
/// (`SLOD_REQUIRE_PDFTOTEXT`); without it, the text shown by the page
/// streams, which this writer leaves uncompressed.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("statement.pdf");
    std::fs::write(&file, pdf).unwrap();
    match std::process::Command::new("pdftotext").arg("-layout").arg(&file).arg("-").output() {
        Ok(out) => {
            assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        }
        Err(err) => {
            assert!(
                std::env::var_os("SLOD_REQUIRE_PDFTOTEXT").is_none(),
                "pdftotext is required here (poppler-utils): {err}"
            );
            eprintln!("pdftotext not found ({err}); reading the page streams instead");
            shown_text(pdf)
        }
    }
}

/// The `(...) Tj` strings of uncompressed content streams, a line per
/// text object row (same `Td` y), cells joined by spaces.
fn shown_text(pdf: &[u8]) -> String {
    let raw = String::from_utf8_lossy(pdf);
    let mut lines: Vec<(String, String)> = Vec::new();
    for object in raw.split("BT").skip(1) {
        let Some(td) = object.find(" Td") else { continue };
        let y = object[..td].split_whitespace().last().unwrap_or("").to_owned();
        let (Some(open), Some(close)) = (object.find('('), object.rfind(") Tj")) else { continue };
        let cell = object[open + 1..close].replace("\\(", "(").replace("\\)", ")");
        match lines.last_mut() {
            Some((last_y, line)) if *last_y == y => {
                line.push_str("  ");
                line.push_str(&cell);
            }
            _ => lines.push((y, cell)),
        }
    }
    lines.into_iter().map(|(_, line)| line).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn the_monthly_report_goes_to_every_channel_on_request() {
    let app = spawn_app().await;
    let (self_only, _) = february(&app).await;
    let (status, channel) = app
        .post(
            "/channels",
            json!({"name": "all", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    assert!(channel["events"].as_array().unwrap().contains(&json!("slo.report.monthly")));

    let (status, report) = app.post_empty("/jobs/monthly-report?month=2026-02").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["month"], "2026-02");
    let statement = app.get_ok("/reports/sla?period=2026-02").await;
    assert_eq!(report["objectives"], statement["objectives"]);
    assert_close(&find(&report, &self_only)["consumedMinutes"], 100.0);
    // Default: the month before now.
    let (status, last) = app.post_empty("/jobs/monthly-report").await;
    assert_eq!(status, StatusCode::OK, "{last}");
    assert_eq!(last["month"], "2026-02");

    let deliveries =
        app.get_ok(&format!("/channels/{}/deliveries", channel["id"].as_str().unwrap())).await;
    let monthly: Vec<&Value> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["eventType"] == "slo.report.monthly")
        .collect();
    assert_eq!(monthly.len(), 2, "{deliveries}");

    let (status, body) = app.post_empty("/jobs/monthly-report?month=2026-04").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("month"));
}

#[tokio::test]
async fn bad_statement_queries_are_refused_by_name() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let cases = [
        ("period=2026-13", "period"),
        ("period=2026", "period"),
        ("from=2026-02-01", "to"),
        ("to=2026-02-01", "from"),
        ("", "from"),
        ("from=2026-02-10&to=2026-02-10", "to"),
        ("from=2026-02-10&to=2026-02-01", "to"),
        ("from=yesterday&to=2026-02-01", "from"),
        ("period=2026-02&from=2026-02-01&to=2026-03-01", "period"),
        ("period=2026-02&format=xlsx", "format"),
        ("period=2026-02&systemId=bad id", "systemId"),
        ("period=2026-02&colour=red", "colour"),
    ];
    for (query, field) in cases {
        let (status, body) = app.get(&format!("/reports/sla?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_error(&body, "validation_failed", Some(field));
    }
    let (status, body) = app.get("/reports/sla?period=2026-02&systemId=ghost").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.post_empty("/jobs/monthly-report?month=02-2026").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
