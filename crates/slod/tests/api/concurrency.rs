//! Concurrent reports never leave two open events for one objective
//! (SPEC §10), and never fail with a 5xx.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_reports_for_one_system() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;
    app.set_upstreams("api", &["db"]).await;
    let strict =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let self_only = app
        .create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30,
            "dependencyExclusion": "self-only"}))
        .await;

    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url("/health");
        // Every report is at "now"; the clock moves a little between them,
        // so some arrive out of order and must be refused with 409.
        app.clock.advance(1000);
        let (system, status) = match i % 5 {
            0 => ("db", if i % 10 == 0 { "unhealthy" } else { "healthy" }),
            _ => ("api", if i % 2 == 0 { "unhealthy" } else { "healthy" }),
        };
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .json(&json!({"systemId": system, "status": status}))
                .send()
                .await
                .unwrap();
            let code = response.status();
            let body = response.text().await.unwrap();
            (code, body)
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        let (code, body) = task.await.unwrap();
        assert!(
            code == StatusCode::OK || code == StatusCode::CONFLICT,
            "unexpected {code}: {body}"
        );
        if code == StatusCode::OK {
            accepted += 1;
        }
    }
    assert!(accepted > 0);

    let api_down = app.get_ok("/systems/api").await["status"] != "healthy";
    for objective in [&strict, &self_only] {
        let events = app.events(objective).await;
        let open = events.iter().filter(|e| e["endTime"].is_null()).count();
        assert!(open <= 1, "{open} open events: {events:#?}");
        assert_eq!(open == 1, api_down, "open events follow live health: {events:#?}");
        // Closed pieces never overlap.
        let mut spans: Vec<(String, String)> = events
            .iter()
            .filter_map(|e| {
                Some((e["startTime"].as_str()?.to_owned(), e["endTime"].as_str()?.to_owned()))
            })
            .collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "{spans:?}");
    }
}

/// Requests that arrive together may be applied in one transaction (the
/// SQLite store's group commit); each still gets the answer it would have
/// had alone: a refused one changes nothing, and does not take the others
/// with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_request_among_concurrent_ones_fails_alone() {
    let app = spawn_app().await;
    app.set_now(30);
    for i in 0..20 {
        app.create_system(&format!("sys-{i}")).await;
    }
    app.report("sys-0", "healthy", 10).await;

    let mut tasks = Vec::new();
    for round in 0..3 {
        for i in 0..20 {
            let client = app.client.clone();
            let url = app.url("/health");
            // `sys-0` at minute 5 precedes its report at minute 10: 409.
            // The others repeat one instant, which is accepted in any order.
            let minutes = if i == 0 { 5 - round } else { 20 };
            let body = json!({"reports": [
                {"systemId": format!("sys-{i}"), "status": "unhealthy", "at": at(minutes)},
            ]});
            tasks.push(tokio::spawn(async move {
                let response = client.post(url).json(&body).send().await.unwrap();
                (i, response.status(), response.text().await.unwrap())
            }));
        }
    }
    for task in tasks {
        let (i, code, body) = task.await.unwrap();
        let expected = if i == 0 { StatusCode::CONFLICT } else { StatusCode::OK };
        assert_eq!(code, expected, "sys-{i}: {body}");
    }
    assert_eq!(app.get_ok("/systems/sys-0").await["status"], "healthy");
    for i in 1..20 {
        assert_eq!(
            app.get_ok(&format!("/systems/sys-{i}")).await["status"],
            "unhealthy",
            "sys-{i}"
        );
    }
}
