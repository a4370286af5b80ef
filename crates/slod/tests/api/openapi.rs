//! `GET /api/v1/openapi.json` (SPEC §15): the document covers every route
//! of the router, every documented operation is routed, and what the
//! server answers fits what the document says (the fuzzer in `.ci/run`,
//! `scripts/fuzz-api.sh`, checks the last at length).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// `(path, method)` of every `.route("path", get(…).post(…))` call in a
/// source file of the router.
fn routes_in(source: &str, prefix: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        // The call's arguments, up to its closing parenthesis.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .unwrap();
        let call = &rest[..end];
        let path = call.split('"').nth(1).unwrap();
        let handlers = &call[call.find(',').unwrap()..];
        for method in METHODS {
            let called = handlers
                .match_indices(&format!("{method}("))
                .any(|(i, _)| i == 0 || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric());
            if called {
                routes.insert((format!("{prefix}{path}"), method.to_owned()));
            }
        }
    }
    routes
}

fn source(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// Every route the router serves outside the dashboard: the API's under
/// `/api/v1` and the application's own (probes, metrics, this document).
fn router_routes() -> BTreeSet<(String, String)> {
    let mut routes: BTreeSet<(String, String)> = slod::api::routes()
        .into_iter()
        .map(|(method, path)| (format!("/api/v1{path}"), method.as_str().to_lowercase()))
        .collect();
    routes.extend(routes_in(&source("src/app.rs"), ""));
    routes
}

fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                operations.insert((path.clone(), method.to_owned()));
            }
        }
    }
    operations
}

#[test]
fn the_route_scanner_reads_the_router_source() {
    let source = r#"
        .route("/a/{id}", get(a::get).put(a::put).delete(a::delete))
        .route("/b", axum::routing::post(b::post))
        .route(
            "/c",
            get(c::list).post(c::create),
        )
    "#;
    let routes = routes_in(source, "/x");
    let expected: BTreeSet<(String, String)> = [
        ("/x/a/{id}", "get"),
        ("/x/a/{id}", "put"),
        ("/x/a/{id}", "delete"),
        ("/x/b", "post"),
        ("/x/c", "get"),
        ("/x/c", "post"),
    ]
    .into_iter()
    .map(|(p, m)| (p.to_owned(), m.to_owned()))
    .collect();
    assert_eq!(routes, expected);
    assert!(router_routes().len() > 30, "the scanner found the real routes");
}

#[tokio::test]
async fn the_document_covers_every_route_and_nothing_else() {
    let app = spawn_app().await;
    let document = app.get_ok("/openapi.json").await;
    assert_eq!(document["openapi"], "3.1.0");
    let routed = router_routes();
    let documented = documented(&document);
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(undocumented.is_empty(), "routes missing from the OpenAPI document: {undocumented:?}");
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");

    // Each operation: a unique id, a success answer, the error shape, and
    // its path parameters declared.
    let mut ids = BTreeSet::new();
    for (path, method) in &documented {
        let operation = &document["paths"][path][method];
        assert!(ids.insert(operation["operationId"].as_str().unwrap().to_owned()));
        let responses = operation["responses"].as_object().unwrap();
        assert!(responses.keys().any(|code| code.starts_with('2')), "{method} {path}");
        assert_eq!(
            responses["default"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{method} {path}"
        );
        assert!(responses.contains_key("400"), "{method} {path}");
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .map(|params| {
                params
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        assert_eq!(declared, in_path, "{method} {path}");
        if ["post", "put", "patch"].contains(&method.as_str()) && path.contains("/api/v1/") {
            let bodyless =
                ["/api/v1/jobs/daily", "/api/v1/jobs/weekly-digest", "/api/v1/jobs/monthly-report"];
            if !bodyless.contains(&path.as_str()) && !path.ends_with("/test") {
                assert!(operation["requestBody"].is_object(), "{method} {path} has no body");
            }
        }
    }
}

#[tokio::test]
async fn every_documented_operation_is_answered_by_its_route() {
    let app = spawn_app().await;
    let document = app.get_ok("/openapi.json").await;
    for (path, method) in documented(&document) {
        if path == "/api/v1/events/stream" {
            continue; // never ends; covered by the notify tests
        }
        let url = format!("{}{}", app.address, path.replace("{id}", "no-such-thing"));
        let request = app.client.request(method.to_uppercase().parse().unwrap(), &url);
        let request = if ["post", "put", "patch"].contains(&method.as_str()) {
            request.header("content-type", "application/json").body("{}")
        } else {
            request
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(!text.contains("no route for"), "{method} {path}: {text}");
        let documented_codes = document["paths"][&path][&method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>();
        assert!(
            documented_codes.contains(&status.as_u16().to_string()),
            "{method} {path} answered {status}, documented {documented_codes:?}"
        );
    }
}

/// The §9 error shape as the document states it, against a real error.
#[tokio::test]
async fn the_documented_error_shape_is_what_errors_look_like() {
    let app = spawn_app().await;
    let document = app.get_ok("/openapi.json").await;
    let schemas = &document["components"]["schemas"];
    assert_eq!(schemas["ErrorBody"]["required"], json!(["error"]));
    let detail = &schemas["ErrorDetail"];
    let required: BTreeSet<&str> =
        detail["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(required, BTreeSet::from(["code", "message"]));
    let (status, body) = app.put("/systems/a%20b", json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields: BTreeMap<&str, &Value> =
        body["error"].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v)).collect();
    let properties: BTreeSet<&str> =
        detail["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields.keys().copied().collect::<BTreeSet<_>>(), properties);
}

/// The property names of a component schema, through `allOf` and `$ref`
/// (a flattened field is an `allOf` part).
fn properties(document: &Value, schema: &Value) -> BTreeSet<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return properties(document, &document["components"]["schemas"][name]);
    }
    let mut names: BTreeSet<String> =
        schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(properties(document, part));
    }
    names
}

/// SPEC §17: the calendar window is documented wherever objectives and
/// statuses are: `calendar` next to `windowDays`, and a status's `period`.
#[tokio::test]
async fn calendar_windows_are_in_the_document() {
    let app = spawn_app().await;
    let document = app.get_ok("/openapi.json").await;
    let schemas = &document["components"]["schemas"];
    for name in ["Objective", "CreateObjectiveBody", "UpdateObjectiveBody"] {
        let props = properties(&document, &schemas[name]);
        assert!(props.contains("windowDays") && props.contains("calendar"), "{name}: {props:?}");
    }
    let status = properties(&document, &schemas["SloStatus"]);
    for field in ["windowDays", "calendar", "period"] {
        assert!(status.contains(field), "SloStatus.{field}: {status:?}");
    }
    let calendar = properties(&document, &schemas["Calendar"]);
    assert_eq!(calendar, BTreeSet::from(["timeZone".to_owned(), "unit".to_owned()]));
    let units = &schemas["CalendarUnit"]["enum"];
    assert_eq!(units, &json!(["week", "month", "quarter", "year"]), "{}", schemas["CalendarUnit"]);
}
