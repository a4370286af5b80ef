//! Per-check objectives (SPEC §12): `checkId` on reports, time order per
//! check, the system's probe status as the worst of its checks, objectives
//! bound to one check, and forgetting a check. Expected figures are worked
//! out by hand in the comments.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// A report from one named check that must be accepted.
async fn check_report(app: &TestApp, system: &str, check: &str, status: &str, minutes: i64) {
    let (code, body) = app
        .post(
            "/health",
            json!({"systemId": system, "checkId": check, "status": status, "at": at(minutes)}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

/// `(checkId, status, at)` of each check `GET /systems/{id}` lists.
async fn checks(app: &TestApp, system: &str) -> Vec<(String, String, String)> {
    let body = app.get_ok(&format!("/systems/{system}")).await;
    body["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in {body}"))
        .iter()
        .map(|c| {
            (
                c["checkId"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["at"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn check(id: &str, status: &str, minutes: i64) -> (String, String, String) {
    (id.to_owned(), status.to_owned(), at(minutes))
}

/// `(startTime, endTime)` of each event, oldest first.
async fn spans(app: &TestApp, objective: &str) -> Vec<(String, Option<String>)> {
    app.events(objective)
        .await
        .iter()
        .map(|e| {
            (e["startTime"].as_str().unwrap().to_owned(), e["endTime"].as_str().map(str::to_owned))
        })
        .collect()
}

fn span(start: i64, end: Option<i64>) -> (String, Option<String>) {
    (at(start), end.map(at))
}

/// 99.9 % over 30 days allows 0.1 % of 43,200 minutes: 43.2 minutes.
const ALLOWED: f64 = 43.2;

fn assert_consumed(status: &Value, minutes: f64) {
    assert_close(&status["errorBudgetConsumedMinutes"], minutes);
    assert_close(&status["errorBudgetRemainingMinutes"], (ALLOWED - minutes).max(0.0));
    assert_close(
        &status["errorBudgetRemainingPercent"],
        (ALLOWED - minutes).max(0.0) / ALLOWED * 100.0,
    );
    assert_close(&status["currentAvailability"], (43_200.0 - minutes) / 43_200.0 * 100.0);
}

#[tokio::test]
async fn one_check_down_takes_the_system_down_and_only_the_objectives_that_follow_it() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let slo = |check: Option<&str>| {
        json!({"systemId": "api", "target": 99.9, "windowDays": 30,
               "healthCheckConfigurationId": check})
    };
    let whole = app.create_objective(slo(None)).await;
    let on_http = app.create_objective(slo(Some("http"))).await;
    let on_db = app.create_objective(slo(Some("db-probe"))).await;

    check_report(&app, "api", "http", "healthy", 0).await;
    check_report(&app, "api", "db-probe", "healthy", 0).await;
    app.set_now(10);
    check_report(&app, "api", "db-probe", "unhealthy", 10).await;
    app.set_now(25);
    check_report(&app, "api", "http", "healthy", 25).await;

    // The worst of the checks: db-probe is down, so the system is.
    let system = app.get_ok("/systems/api").await;
    assert_eq!((system["status"].as_str(), &system["since"]), (Some("unhealthy"), &json!(at(10))));
    assert_eq!(system["lastReportAt"], at(25));
    assert_eq!(
        checks(&app, "api").await,
        vec![check("db-probe", "unhealthy", 10), check("http", "healthy", 25)]
    );

    // At minute 40, 30 minutes of downtime: the whole-system objective and
    // the one bound to db-probe consume them; the one bound to http, whose
    // check never failed, consumes nothing.
    app.set_now(40);
    for objective in [&whole, &on_db] {
        let status = app.status(objective).await;
        assert_consumed(&status, 30.0);
        assert_eq!(status["hasOpenDowntime"], true, "{objective}");
        assert_eq!(spans(&app, objective).await, vec![span(10, None)]);
    }
    let status = app.status(&on_http).await;
    assert_consumed(&status, 0.0);
    assert_eq!(status["hasOpenDowntime"], false);
    assert_eq!(status["healthCheckConfigurationId"], "http");
    assert!(app.events(&on_http).await.is_empty());

    // Forgetting the failing check at minute 40 brings the system up then:
    // the open events close at 40, and nothing is charged after.
    let (code, body) = app.delete("/systems/api/checks/db-probe").await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    let system = app.get_ok("/systems/api").await;
    assert_eq!((system["status"].as_str(), &system["since"]), (Some("healthy"), &Value::Null));
    assert_eq!(checks(&app, "api").await, vec![check("http", "healthy", 25)]);
    app.set_now(100);
    for objective in [&whole, &on_db] {
        assert_eq!(spans(&app, objective).await, vec![span(10, Some(40))]);
        let status = app.status(objective).await;
        assert_consumed(&status, 30.0);
        assert_eq!(status["hasOpenDowntime"], false);
    }
    assert_consumed(&app.status(&on_http).await, 0.0);

    // The forgotten check starts afresh: a report older than its last one
    // is taken, and it fails the system again.
    check_report(&app, "api", "db-probe", "degraded", 90).await;
    assert_eq!(app.get_ok("/systems/api").await["status"], "degraded");
    assert_eq!(spans(&app, &on_db).await, vec![span(10, Some(40)), span(90, None)]);
    assert!(app.events(&on_http).await.is_empty());
}

#[tokio::test]
async fn a_check_bound_objective_follows_its_check_and_the_incident_source() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let on_http = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
                                 "healthCheckConfigurationId": "http"}))
        .await;
    app.set_now(60);
    // http fails 5..15 while tls fails 10..30: the system is down 5..30,
    // the objective only 5..15.
    check_report(&app, "api", "http", "unhealthy", 5).await;
    check_report(&app, "api", "tls", "unhealthy", 10).await;
    check_report(&app, "api", "http", "healthy", 15).await;
    check_report(&app, "api", "tls", "healthy", 30).await;
    assert_eq!(spans(&app, &on_http).await, vec![span(5, Some(15))]);
    // An incident holds every objective of the system down (SPEC §12).
    let (code, body) = app
        .post(
            "/health",
            json!({"systemId": "api", "status": "unhealthy", "at": at(40),
                                "source": "incident"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, body) = app
        .post(
            "/health",
            json!({"systemId": "api", "status": "healthy", "at": at(50),
                                "source": "incident"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(spans(&app, &on_http).await, vec![span(5, Some(15)), span(40, Some(50))]);
    // 10 + 10 minutes.
    assert_consumed(&app.status(&on_http).await, 20.0);
}

#[tokio::test]
async fn time_order_is_per_check() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.set_now(30);
    check_report(&app, "api", "a", "healthy", 20).await;
    // Older than a's latest report, but b's own first: taken.
    check_report(&app, "api", "b", "healthy", 10).await;
    // Older than a's own latest: refused, naming the instant not to precede.
    let (code, body) = app
        .post(
            "/health",
            json!({"systemId": "api", "checkId": "a", "status": "unhealthy",
                                "at": at(15)}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "conflict", Some("at"));
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("check `a`") && message.contains(&at(20)), "{message}");
    // In a batch, the refused report is named and nothing of it applies.
    let (code, body) = app
        .post(
            "/health",
            json!({"reports": [
                {"systemId": "api", "checkId": "b", "status": "unhealthy", "at": at(12)},
                {"systemId": "api", "checkId": "b", "status": "healthy", "at": at(5)},
            ]}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "conflict", Some("reports[1].at"));
    assert_eq!(app.get_ok("/systems/api").await["status"], "healthy");
    // Reports naming no check keep their own mark, apart from the checks'.
    app.report("api", "healthy", 3).await;
    let (code, body) =
        app.post("/health", json!({"systemId": "api", "status": "healthy", "at": at(2)})).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        checks(&app, "api").await,
        vec![check("", "healthy", 3), check("a", "healthy", 20), check("b", "healthy", 10)]
    );
}

#[tokio::test]
async fn a_transition_never_goes_before_one_already_applied_to_the_system() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let on_b = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
                                 "healthCheckConfigurationId": "b"}))
        .await;
    let whole =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.set_now(60);
    check_report(&app, "api", "a", "unhealthy", 30).await;
    // b says it failed at 20, but the system's latest transition is at 30:
    // b's objective opens at 30, not 20, and b is down since 30.
    check_report(&app, "api", "b", "unhealthy", 20).await;
    assert_eq!(spans(&app, &on_b).await, vec![span(30, None)]);
    assert_eq!(spans(&app, &whole).await, vec![span(30, None)]);
    // a recovers at 40; b's recovery reported at 35 takes effect at 40 too.
    check_report(&app, "api", "a", "healthy", 40).await;
    check_report(&app, "api", "b", "healthy", 35).await;
    assert_eq!(spans(&app, &on_b).await, vec![span(30, Some(40))]);
    assert_eq!(spans(&app, &whole).await, vec![span(30, Some(40))]);
    assert_eq!(app.get_ok("/systems/api").await["status"], "healthy");
}

#[tokio::test]
async fn an_objective_created_or_rebound_during_a_check_outage_follows_its_check() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.set_now(10);
    check_report(&app, "api", "a", "unhealthy", 10).await;
    app.set_now(20);
    // Created during a's outage, bound to a: charged from its creation.
    let on_a = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
                                 "healthCheckConfigurationId": "a", "createdAt": at(20)}))
        .await;
    // Bound to b, which is healthy: nothing open although the system is down.
    let on_b = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
                                 "healthCheckConfigurationId": "b", "createdAt": at(20)}))
        .await;
    assert_eq!(spans(&app, &on_a).await, vec![span(20, None)]);
    assert!(app.events(&on_b).await.is_empty());
    // Re-bound to the healthy b at 30: the open event closes then.
    app.set_now(30);
    let (code, body) =
        app.patch(&format!("/objectives/{on_a}"), json!({"healthCheckConfigurationId": "b"})).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(spans(&app, &on_a).await, vec![span(20, Some(30))]);
    // Unbound at 35 while the system is down: it follows the system again.
    app.set_now(35);
    let (code, body) = app
        .patch(&format!("/objectives/{on_b}"), json!({"healthCheckConfigurationId": null}))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(spans(&app, &on_b).await, vec![span(20, None)]);
}

#[tokio::test]
async fn bad_check_ids_and_unknown_checks_are_refused() {
    let app = spawn_app().await;
    app.create_system("api").await;
    for bad in [json!(""), json!("   "), json!("x".repeat(201)), json!(5), json!([])] {
        let (code, body) = app
            .post("/health", json!({"systemId": "api", "status": "unhealthy", "checkId": bad}))
            .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, "validation_failed", Some("checkId"));
    }
    let (code, body) = app
        .post(
            "/health",
            json!({"reports": [
                {"systemId": "api", "status": "unhealthy", "checkId": "ok"},
                {"systemId": "api", "status": "unhealthy", "checkId": "a", "source": "incident"},
            ]}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "validation_failed", Some("reports[1].checkId"));
    // Nothing was written.
    let system = app.get_ok("/systems/api").await;
    assert_eq!((system["status"].as_str(), &system["checks"]), (Some("healthy"), &json!([])));
    // 200 characters is the most.
    check_report(&app, "api", &"x".repeat(200), "healthy", 0).await;

    let (code, body) = app.delete("/systems/api/checks/nope").await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "not_found", None);
    let (code, body) = app.delete("/systems/nope/checks/x").await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    let (code, body) = app.delete("/systems/bad%20id/checks/x").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "validation_failed", Some("id"));
}
