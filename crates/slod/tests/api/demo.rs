//! `--demo` seeds a realistic, deterministic history through the service
//! layer.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn demo_data_covers_both_modes_cascades_and_an_ongoing_outage() {
    let app = spawn_app_with(true).await;
    let systems = app.get_ok("/systems").await;
    let systems = systems["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 5);
    let cache = systems.iter().find(|s| s["id"] == "cache").unwrap();
    assert_eq!(cache["status"], "unhealthy", "the ongoing outage");

    let listed = app.get_ok("/objectives").await;
    let objectives = listed["objectives"].as_array().unwrap();
    assert!(objectives.len() >= 6);
    let modes: Vec<&str> = objectives
        .iter()
        .map(|o| o["objective"]["dependencyExclusion"].as_str().unwrap())
        .collect();
    assert!(modes.contains(&"strict") && modes.contains(&"self-only"));

    let mut upstream_events = 0;
    let mut open_events = 0;
    let mut total_events = 0;
    for item in objectives {
        let id = item["objective"]["id"].as_str().unwrap();
        let events = app.events(id).await;
        total_events += events.len();
        upstream_events += events.iter().filter(|e| e["attributionType"] == "upstream").count();
        open_events += events.iter().filter(|e| e["endTime"] == Value::Null).count();
        let status = &item["status"];
        assert!(status["currentAvailability"].as_f64().unwrap() <= 100.0);
    }
    assert!(total_events > 20, "{total_events} events");
    assert!(upstream_events > 0, "db outages cascade");
    assert!(open_events >= 1);

    let web = app.get_ok("/systems/web/dependencies").await;
    assert_eq!(web["upstream"][0]["id"], "api");
}
