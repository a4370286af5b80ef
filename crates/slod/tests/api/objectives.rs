//! `/objectives` routes (SPEC §2, §9).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn create_fills_defaults_and_returns_the_objective() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let (code, body) =
        app.post("/objectives", json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["id"].as_str().unwrap().len(), 36, "a UUID: {body}");
    assert_eq!(body["systemId"], "api");
    assert_eq!(body["target"], 99.9);
    assert_eq!(body["windowDays"], 30);
    assert_eq!(body["healthCheckConfigurationId"], Value::Null);
    assert_eq!(body["dependencyExclusion"], "strict");
    assert_eq!(body["excludedDependencyIds"], json!([]));
    assert_eq!(body["excludeMaintenanceWindows"], false);
    assert_eq!(
        body["burnRateThresholds"],
        json!({"warningPercent": 50.0, "criticalPercent": 80.0, "fastBurnMultiplier": 5.0})
    );
    assert_eq!(body["createdAt"], at(0));
    assert_eq!(body["updatedAt"], at(0));

    let (code, body) = app
        .post(
            "/objectives",
            json!({"systemId": "api", "target": 99.5, "windowDays": 7,
            "healthCheckConfigurationId": "http-check", "dependencyExclusion": "self-only",
            "excludedDependencyIds": ["db", "db", "cache"], "excludeMaintenanceWindows": true,
            "burnRateThresholds": {"warningPercent": 40}, "createdAt": at(-1000)}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["healthCheckConfigurationId"], "http-check");
    assert_eq!(body["dependencyExclusion"], "self-only");
    assert_eq!(body["excludedDependencyIds"], json!(["db", "cache"]));
    assert_eq!(body["excludeMaintenanceWindows"], true);
    assert_eq!(body["burnRateThresholds"]["warningPercent"], 40.0);
    assert_eq!(body["burnRateThresholds"]["criticalPercent"], 80.0);
    assert_eq!(body["createdAt"], at(-1000));

    // createdAt may run up to 5 minutes ahead (clock skew).
    let (code, _) = app
        .post(
            "/objectives",
            json!({"systemId": "api", "target": 99, "windowDays": 1, "createdAt": at(5)}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
}

#[tokio::test]
async fn get_patch_delete() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let id =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;

    let body = app.get_ok(&format!("/objectives/{id}")).await;
    assert_eq!(body["objective"]["id"], id);
    assert_eq!(body["status"]["objectiveId"], id);
    assert_close(&body["status"]["errorBudgetRemainingPercent"], 100.0);

    app.set_now(3);
    let (code, body) = app
        .patch(
            &format!("/objectives/{id}"),
            json!({"target": 99.5, "healthCheckConfigurationId": "ping",
            "burnRateThresholds": {"fastBurnMultiplier": 10}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["target"], 99.5);
    assert_eq!(body["windowDays"], 30, "untouched fields stay");
    assert_eq!(body["healthCheckConfigurationId"], "ping");
    assert_eq!(body["burnRateThresholds"]["fastBurnMultiplier"], 10.0);
    assert_eq!(body["burnRateThresholds"]["warningPercent"], 50.0);
    assert_eq!(body["updatedAt"], at(3));
    assert_eq!(app.get_ok(&format!("/objectives/{id}")).await["objective"], body);

    // null clears the check label.
    let (code, body) =
        app.patch(&format!("/objectives/{id}"), json!({"healthCheckConfigurationId": null})).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["healthCheckConfigurationId"], Value::Null);

    let (code, body) = app.patch("/objectives/nope", json!({"target": 99})).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);

    let (code, _) = app.delete(&format!("/objectives/{id}")).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (code, body) = app.get(&format!("/objectives/{id}")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
    assert_eq!(app.delete(&format!("/objectives/{id}")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_an_objective_deletes_its_events() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let doomed =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let kept =
        app.create_objective(json!({"systemId": "api", "target": 99, "windowDays": 7})).await;
    app.report("api", "unhealthy", -3).await;
    assert_eq!(app.delete(&format!("/objectives/{doomed}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/objectives/{doomed}/downtime-events")).await.0,
        StatusCode::NOT_FOUND
    );
    // The system and the other objective are untouched; later reports
    // charge only the survivor.
    app.report("api", "healthy", -1).await;
    assert_eq!(app.events(&kept).await.len(), 1);
    let listed = app.get_ok("/objectives").await;
    assert_eq!(listed["objectives"].as_array().unwrap().len(), 1);
    assert_eq!(listed["objectives"][0]["objective"]["id"], kept);
}

#[tokio::test]
async fn changing_the_mode_reattributes_open_downtime_now() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_system("db").await;
    app.set_upstreams("api", &["db"]).await;
    let id =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    app.report("db", "unhealthy", -10).await;
    app.report("api", "unhealthy", -9).await;
    assert_eq!(app.events(&id).await.iter().map(shape).collect::<Vec<_>>(), [self_event(-9, None)]);
    let (code, _) =
        app.patch(&format!("/objectives/{id}"), json!({"dependencyExclusion": "self-only"})).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        app.events(&id).await.iter().map(shape).collect::<Vec<_>>(),
        [self_event(-9, Some(0)), upstream_event("db", 0, None)]
    );
}

#[tokio::test]
async fn lists_all_by_system_and_per_system() {
    let app = spawn_app().await;
    for id in ["api", "db", "idle"] {
        app.create_system(id).await;
    }
    let api_a =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let api_b =
        app.create_objective(json!({"systemId": "api", "target": 99, "windowDays": 7})).await;
    let db =
        app.create_objective(json!({"systemId": "db", "target": 99.95, "windowDays": 90})).await;
    app.report("db", "unhealthy", -10).await;

    let all = app.get_ok("/objectives").await;
    let items = all["objectives"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for item in items {
        assert_eq!(item["objective"]["id"], item["status"]["objectiveId"]);
    }
    let db_item = items.iter().find(|i| i["objective"]["id"] == db).unwrap();
    assert_close(&db_item["status"]["errorBudgetConsumedMinutes"], 10.0);
    assert_eq!(db_item["status"]["hasOpenDowntime"], true);

    let grouped =
        app.get_ok("/objectives?systemId=api&systemId=idle&systemId=db&systemId=api").await;
    let systems = grouped["systems"].as_object().unwrap();
    assert_eq!(systems.len(), 3);
    let ids = |key: &str| -> Vec<String> {
        systems[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["objective"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut api_ids = ids("api");
    api_ids.sort();
    let mut expected = vec![api_a.clone(), api_b.clone()];
    expected.sort();
    assert_eq!(api_ids, expected);
    assert_eq!(ids("db"), [db]);
    assert!(ids("idle").is_empty());
    assert_close(&systems["db"][0]["status"]["errorBudgetConsumedMinutes"], 10.0);

    let per_system = app.get_ok("/systems/api/objectives").await;
    assert_eq!(per_system.as_array().unwrap().len(), 2);
    assert_eq!(app.get_ok("/systems/idle/objectives").await, json!([]));
    let (code, body) = app.get("/systems/ghost/objectives").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);

    let (code, body) = app.get("/objectives?systemId=bad%20id").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("systemId"));
    let (code, body) = app.get("/objectives?system=api").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_error(&body, "validation_failed", Some("system"));
}

#[tokio::test]
async fn downtime_events_newest_first_with_a_limit() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.set_now(1000);
    let id =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    for i in 0..60 {
        app.report("api", "unhealthy", i * 10).await;
        app.report("api", "healthy", i * 10 + 1).await;
    }
    let body = app.get_ok(&format!("/objectives/{id}/downtime-events")).await;
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 50, "default limit");
    assert_eq!(events[0]["startTime"], at(590));
    assert_eq!(events[49]["startTime"], at(100));
    assert_eq!(events[0]["durationSeconds"], 60.0);

    let body = app.get_ok(&format!("/objectives/{id}/downtime-events?limit=3")).await;
    assert_eq!(body["events"].as_array().unwrap().len(), 3);
    let body = app.get_ok(&format!("/objectives/{id}/downtime-events?limit=1000")).await;
    assert_eq!(body["events"].as_array().unwrap().len(), 60);

    for bad in ["0", "1001", "-1", "ten", "1.5"] {
        let (code, body) = app.get(&format!("/objectives/{id}/downtime-events?limit={bad}")).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "limit={bad}");
        assert_error(&body, "validation_failed", Some("limit"));
    }
    let (code, body) = app.get("/objectives/nope/downtime-events").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
}

#[tokio::test]
async fn a_name_is_optional_unique_and_shown_in_get_and_list() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let (code, named) = app
        .post(
            "/objectives",
            json!({"systemId": "api", "target": 99.9, "windowDays": 30, "name": "api-availability"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{named}");
    assert_eq!(named["name"], "api-availability");
    let id = named["id"].as_str().unwrap().to_owned();
    let (code, unnamed) =
        app.post("/objectives", json!({"systemId": "api", "target": 99.0, "windowDays": 7})).await;
    assert_eq!(code, StatusCode::CREATED, "{unnamed}");
    assert_eq!(unnamed["name"], Value::Null);
    let other = unnamed["id"].as_str().unwrap().to_owned();

    assert_eq!(
        app.get_ok(&format!("/objectives/{id}")).await["objective"]["name"],
        "api-availability"
    );
    let list = app.get_ok("/objectives").await;
    let names: Vec<&Value> =
        list["objectives"].as_array().unwrap().iter().map(|o| &o["objective"]["name"]).collect();
    assert!(names.contains(&&json!("api-availability")), "{list}");

    // The same name twice: 409 naming the field, on create and on update.
    let (code, body) = app
        .post(
            "/objectives",
            json!({"systemId": "api", "target": 99.0, "windowDays": 7, "name": "api-availability"}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "conflict", Some("name"));
    let (code, body) =
        app.patch(&format!("/objectives/{other}"), json!({"name": "api-availability"})).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "conflict", Some("name"));
    assert_eq!(app.get_ok("/objectives").await["objectives"].as_array().unwrap().len(), 2);

    // Renaming, and `null` unnaming, which frees the name.
    let (code, body) = app.patch(&format!("/objectives/{id}"), json!({"name": "api-30d"})).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "api-30d");
    let (code, body) = app.patch(&format!("/objectives/{id}"), json!({"target": 99.5})).await;
    assert_eq!((code, &body["name"]), (StatusCode::OK, &json!("api-30d")), "left as it was");
    let (code, body) = app.patch(&format!("/objectives/{id}"), json!({"name": null})).await;
    assert_eq!((code, &body["name"]), (StatusCode::OK, &Value::Null), "{body}");
    let (code, body) = app.patch(&format!("/objectives/{other}"), json!({"name": "api-30d"})).await;
    assert_eq!((code, &body["name"]), (StatusCode::OK, &json!("api-30d")), "{body}");
}

#[tokio::test]
async fn a_bad_name_is_a_400_naming_it() {
    let app = spawn_app().await;
    app.create_system("api").await;
    for bad in [json!(""), json!("API"), json!("a_b"), json!("a".repeat(64)), json!(5)] {
        let (code, body) = app
            .post(
                "/objectives",
                json!({"systemId": "api", "target": 99.9, "windowDays": 30, "name": bad}),
            )
            .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, "validation_failed", Some("name"));
    }
    let id =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let (code, body) = app.patch(&format!("/objectives/{id}"), json!({"name": "Bad Name"})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "validation_failed", Some("name"));
    assert!(app.get_ok("/objectives").await["objectives"][0]["objective"]["name"].is_null());
}
