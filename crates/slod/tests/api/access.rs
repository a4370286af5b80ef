//! Access control end to end (SPEC §16): tokens and their scopes on every
//! API route, the failed-authentication limit, dashboard sessions, the
//! rule about non-loopback addresses, and webhook targets.

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use reqwest::{redirect, Method, StatusCode};
use serde_json::{json, Value};
use slod::access::AccessSettings;
use slod::clock::ManualClock;
use slod::config::Settings;
use slod::startup::Application;

use crate::helpers::*;
use crate::receiver::Receiver;

/// Access settings whose failure limit no table test reaches.
fn lenient() -> AccessSettings {
    AccessSettings { failure_burst: 100_000, ..AccessSettings::default() }
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(redirect::Policy::none()).build().unwrap()
}

const READ: &[&str] = &["read", "manage"];
const INGEST: &[&str] = &["ingest", "manage"];
const MANAGE: &[&str] = &["manage"];

/// Who may use each API route: SPEC §16 written out route by route. A
/// route the router serves and this table lacks fails the test, so a new
/// route cannot ship without its rule being decided here.
fn rules() -> BTreeMap<(&'static str, &'static str), &'static [&'static str]> {
    [
        ("GET", "/systems", READ),
        ("GET", "/systems/{id}", READ),
        ("PUT", "/systems/{id}", MANAGE),
        ("DELETE", "/systems/{id}", MANAGE),
        ("GET", "/systems/{id}/dependencies", READ),
        ("PUT", "/systems/{id}/dependencies", MANAGE),
        ("GET", "/systems/{id}/objectives", READ),
        ("POST", "/health", INGEST),
        ("POST", "/apply", MANAGE),
        ("GET", "/export", READ),
        ("GET", "/objectives", READ),
        ("POST", "/objectives", MANAGE),
        ("GET", "/objectives/{id}", READ),
        ("PATCH", "/objectives/{id}", MANAGE),
        ("DELETE", "/objectives/{id}", MANAGE),
        ("GET", "/objectives/{id}/downtime-events", READ),
        ("GET", "/objectives/{id}/snapshots", READ),
        ("GET", "/streaks", READ),
        ("GET", "/digests", READ),
        ("POST", "/jobs/daily", MANAGE),
        ("POST", "/jobs/weekly-digest", MANAGE),
        ("POST", "/jobs/monthly-report", MANAGE),
        ("GET", "/reports/sla", READ),
        ("GET", "/jobs/runs", READ),
        ("GET", "/achievements", READ),
        ("GET", "/systems/{id}/achievements", READ),
        ("GET", "/milestones", READ),
        ("GET", "/channels", READ),
        ("POST", "/channels", MANAGE),
        ("GET", "/channels/{id}", READ),
        ("PATCH", "/channels/{id}", MANAGE),
        ("DELETE", "/channels/{id}", MANAGE),
        ("POST", "/channels/{id}/test", MANAGE),
        ("GET", "/channels/{id}/deliveries", READ),
        ("GET", "/events/stream", READ),
        ("GET", "/systems/{id}/maintenance-windows", READ),
        ("POST", "/systems/{id}/maintenance-windows", MANAGE),
        ("GET", "/maintenance-windows/{id}", READ),
        ("PATCH", "/maintenance-windows/{id}", MANAGE),
        ("DELETE", "/maintenance-windows/{id}", MANAGE),
        ("GET", "/systems/{id}/corrections", READ),
        ("POST", "/systems/{id}/corrections", MANAGE),
        ("DELETE", "/corrections/{id}", MANAGE),
        ("DELETE", "/systems/{id}/checks/{check_id}", MANAGE),
        ("GET", "/tokens", MANAGE),
        ("POST", "/tokens", MANAGE),
        ("DELETE", "/tokens/{id}", MANAGE),
        ("POST", "/integrations/alertmanager", INGEST),
        ("POST", "/integrations/uptime-kuma", INGEST),
        ("POST", "/integrations/gatus", INGEST),
    ]
    .into_iter()
    .map(|(method, route, scopes)| ((method, route), scopes))
    .collect()
}

/// Creates a token through the API (with `bearer`, or none while slod is
/// open) and returns `(id, secret)`.
async fn create_token(
    app: &TestApp,
    bearer: Option<&str>,
    name: &str,
    scope: &str,
) -> (String, String) {
    let mut request =
        app.client.post(app.url("/tokens")).json(&json!({"name": name, "scope": scope}));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("slod_"), "{secret}");
    (body["id"].as_str().unwrap().to_owned(), secret)
}

/// `method path` with `bearer`; a JSON `{}` body for writes.
async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    bearer: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if *method != Method::GET && *method != Method::DELETE {
        request = request.json(&json!({}));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    // The event stream never ends: its head is the answer.
    if path == "/events/stream" && status == StatusCode::OK {
        return (status, Value::Null);
    }
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_api_route_answers_each_credential_as_its_scope_allows() {
    let rules = rules();
    let routes = slod::api::routes();
    for (method, route) in &routes {
        assert!(
            rules.contains_key(&(method.as_str(), *route)),
            "{method} {route} has no access rule in this test: decide who may use it"
        );
    }
    assert_eq!(routes.len(), rules.len(), "a rule for a route the router no longer serves");

    let app = spawn_app_with_access(lenient()).await;
    // While no token exists, everything is open, as before.
    for (method, route) in &routes {
        let path = route.replace("{id}", "nope");
        let (status, body) = call(&app, method, &path, None).await;
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "open: {method} {route}: {status} {body}"
        );
    }

    let (_, manage) = create_token(&app, None, "admin", "manage").await;
    let (_, read) = create_token(&app, Some(&manage), "dashboards", "read").await;
    let (_, ingest) = create_token(&app, Some(&manage), "monitors", "ingest").await;
    let (revoked_id, revoked) = create_token(&app, Some(&manage), "old", "manage").await;
    let (status, _) =
        call(&app, &Method::DELETE, &format!("/tokens/{revoked_id}"), Some(&manage)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let credentials: [(&str, Option<&str>); 5] = [
        ("none", None),
        ("read", Some(&read)),
        ("ingest", Some(&ingest)),
        ("manage", Some(&manage)),
        ("revoked", Some(&revoked)),
    ];
    for (method, route) in &routes {
        let allowed = rules[&(method.as_str(), *route)];
        let path = route.replace("{id}", "nope");
        for (who, bearer) in credentials {
            let (status, body) = call(&app, method, &path, bearer).await;
            let context = format!("{method} {route} as {who}: {status} {body}");
            match who {
                "none" | "revoked" => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{context}");
                    assert_eq!(body["error"]["code"], "unauthorized", "{context}");
                }
                scope if allowed.contains(&scope) => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{context}"
                ),
                _ => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{context}");
                    assert_eq!(body["error"]["code"], "forbidden", "{context}");
                }
            }
        }
    }

    // The probes stay open; a wrong scheme is no credential.
    for probe in ["/healthz", "/readyz"] {
        let response = app.client.get(format!("{}{probe}", app.address)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{probe}");
    }
    let response = app
        .client
        .get(app.url("/systems"))
        .basic_auth("admin", Some(&manage))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_are_listed_without_secrets_used_and_revoked_at_once() {
    let app = spawn_app_with_access(lenient()).await;
    let (admin_id, admin) = create_token(&app, None, "admin", "manage").await;
    let (reader_id, reader) = create_token(&app, Some(&admin), "grafana", "read").await;

    let list = app.client.get(app.url("/tokens")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let text = list.text().await.unwrap();
    assert!(!text.contains(&admin) && !text.contains(&reader), "no secret in a list: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let tokens = body["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    let grafana = tokens.iter().find(|t| t["id"] == reader_id.as_str()).unwrap();
    assert_eq!(grafana["name"], "grafana");
    assert_eq!(grafana["scope"], "read");
    assert_eq!(grafana["createdAt"], at(0));
    assert_eq!(grafana["lastUsedAt"], Value::Null);
    assert_eq!(
        grafana.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["createdAt", "id", "lastUsedAt", "name", "scope"]
    );

    // A use is recorded, to the minute: a busy token costs one write a
    // minute, not one per request.
    let last_used = |minutes: i64| {
        let app = &app;
        let (reader, admin, reader_id) = (reader.clone(), admin.clone(), reader_id.clone());
        async move {
            app.set_now(minutes);
            let response =
                app.client.get(app.url("/systems")).bearer_auth(&reader).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let response = app.client.get(app.url("/tokens")).bearer_auth(&admin).send().await;
            let body: Value = response.unwrap().json().await.unwrap();
            let tokens = body["tokens"].as_array().unwrap().clone();
            tokens.into_iter().find(|t| t["id"] == reader_id.as_str()).unwrap()["lastUsedAt"]
                .clone()
        }
    };
    assert_eq!(last_used(5).await, at(5));
    assert_eq!(last_used(5).await, at(5));
    app.clock.set(t0().plus_millis(5 * 60_000 + 30_000));
    let response = app.client.get(app.url("/systems")).bearer_auth(&reader).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(last_used(5).await, at(5), "within the minute: not written again");
    assert_eq!(last_used(7).await, at(7));

    // Bad bodies name the field.
    for (body, field) in [
        (json!({"name": "x", "scope": "admin"}), "scope"),
        (json!({"scope": "read"}), "name"),
        (json!({"name": "  ", "scope": "read"}), "name"),
        (json!({"name": "x", "scope": "read", "secret": "mine"}), "secret"),
    ] {
        let response = app
            .client
            .post(app.url("/tokens"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }

    // Revoked: refused at once; revoking again is a 404.
    let revoke = |id: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.client
                .delete(app.url(&format!("/tokens/{id}")))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(revoke(reader_id.clone()).await, StatusCode::NO_CONTENT);
    let response = app.client.get(app.url("/systems")).bearer_auth(&reader).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(revoke(reader_id).await, StatusCode::NOT_FOUND);

    // Revoking the last token reopens a loopback slod (the first-run rule)
    // at once on this replica.
    assert_eq!(revoke(admin_id).await, StatusCode::NO_CONTENT);
    let response = app.client.get(app.url("/systems")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn another_replicas_first_token_closes_this_one_within_seconds() {
    let first = spawn_app_with_access(lenient()).await;
    let second = spawn_app_sharing(&first, lenient()).await;
    assert_eq!(second.get("/systems").await.0, StatusCode::OK);
    create_token(&first, None, "admin", "manage").await;
    assert_eq!(first.get("/systems").await.0, StatusCode::UNAUTHORIZED, "at once here");
    let started = std::time::Instant::now();
    loop {
        if second.get("/systems").await.0 == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the replica never closed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn failed_authentication_is_rate_limited_per_address() {
    let access = AccessSettings {
        failure_burst: 3,
        failure_refill: std::time::Duration::from_secs(60),
        ..AccessSettings::default()
    };
    let app = spawn_app_with_access(access).await;
    let (_, admin) = create_token(&app, None, "admin", "manage").await;
    let wrong = format!("slod_{}_{}", "0".repeat(16), "0".repeat(64));
    for _ in 0..3 {
        let response =
            app.client.get(app.url("/systems")).bearer_auth(&wrong).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.client.get(app.url("/systems")).bearer_auth(&wrong).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    // While blocked, even a good token waits: guessing learns nothing.
    let response = app.client.get(app.url("/systems")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // The dashboard's login counts too.
    let response = no_redirects()
        .post(format!("{}/login", app.address))
        .form(&[("token", admin.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(RETRY_AFTER));
}

/// Logs in with `token`; the session cookie (`slod_session=…`).
async fn log_in(app: &TestApp, token: &str) -> String {
    let response = no_redirects()
        .post(format!("{}/login", app.address))
        .form(&[("token", token), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let mut request = no_redirects().get(format!("{}{path}", app.address));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.unwrap();
    let location = response.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
    (response.status(), response.text().await.unwrap(), location)
}

/// The hidden anti-forgery field's value in a page.
fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + 64].to_owned()
}

#[tokio::test]
async fn dashboard_sessions_read_only_or_managing_and_logout() {
    let app = spawn_app_with_access(lenient()).await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.0, "windowDays": 30})).await;
    let (_, admin) = create_token(&app, None, "admin", "manage").await;
    let (_, reader) = create_token(&app, Some(&admin), "wall", "read").await;
    let (_, ingest) = create_token(&app, Some(&admin), "monitors", "ingest").await;

    // No session: to the login page, keeping where the visitor was going.
    let (status, _, location) = page(&app, &format!("/objectives/{objective}"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.unwrap(), format!("/login?next=%2Fobjectives%2F{objective}"));
    let (status, html, _) = page(&app, "/login", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("type=\"password\""), "{html}");

    // A wrong token and an ingest token do not open a session.
    for (token, expected) in
        [("nope", StatusCode::UNAUTHORIZED), (ingest.as_str(), StatusCode::FORBIDDEN)]
    {
        let response = no_redirects()
            .post(format!("{}/login", app.address))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
        assert!(!response.headers().contains_key(SET_COOKIE));
    }

    // The cookie: a random id, never the token; HttpOnly, SameSite=Strict,
    // Secure only behind HTTPS.
    let response = no_redirects()
        .post(format!("{}/login", app.address))
        .form(&[("token", reader.as_str())])
        .send()
        .await
        .unwrap();
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set.starts_with("slod_session=") && !set.contains(&reader), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"),
        "{set}"
    );
    let response = no_redirects()
        .post(format!("{}/login", app.address))
        .header("x-forwarded-proto", "https")
        .form(&[("token", reader.as_str())])
        .send()
        .await
        .unwrap();
    assert!(response.headers()[SET_COOKIE].to_str().unwrap().contains("; Secure"));

    // A read session sees the numbers, no edit controls, and may not edit.
    let read_cookie = log_in(&app, &reader).await;
    let (status, html, _) =
        page(&app, &format!("/objectives/{objective}"), Some(&read_cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Log out") && html.contains("wall (read)"), "{html}");
    for edit in ["/objectives/new", "/edit\"", "/delete\""] {
        assert!(!html.contains(edit), "a read session sees {edit}");
    }
    for path in ["/objectives/new".to_owned(), format!("/objectives/{objective}/edit")] {
        assert_eq!(page(&app, &path, Some(&read_cookie)).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    let csrf = csrf_in(&html);
    let response = no_redirects()
        .post(format!("{}/objectives/{objective}/delete", app.address))
        .header(COOKIE, &read_cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The session reads the API too (the pages' live updates use it).
    let response =
        app.client.get(app.url("/objectives")).header(COOKIE, &read_cookie).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .client
        .delete(app.url(&format!("/objectives/{objective}")))
        .header(COOKIE, &read_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a cookie never authorises a write");

    // A manage session sees the edit controls and edits, with the form's
    // anti-forgery token only.
    let manage_cookie = log_in(&app, &admin).await;
    let (_, html, _) = page(&app, &format!("/objectives/{objective}"), Some(&manage_cookie)).await;
    for edit in ["/objectives/new", "/edit\"", "/delete\""] {
        assert!(html.contains(edit), "a manage session sees {edit}");
    }
    let (status, html, _) =
        page(&app, &format!("/objectives/{objective}/delete"), Some(&manage_cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_in(&html);
    let delete = |form: Vec<(&'static str, String)>| {
        no_redirects()
            .post(format!("{}/objectives/{objective}/delete", app.address))
            .header(COOKIE, &manage_cookie)
            .form(&form)
            .send()
    };
    assert_eq!(delete(vec![]).await.unwrap().status(), StatusCode::FORBIDDEN, "no token");
    assert_eq!(
        delete(vec![("csrf", "0".repeat(64))]).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "a wrong token"
    );
    let other_session_csrf = csrf_in(&page(&app, "/", Some(&read_cookie)).await.1);
    assert_eq!(
        delete(vec![("csrf", other_session_csrf)]).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "another session's token"
    );
    assert_eq!(delete(vec![("csrf", csrf)]).await.unwrap().status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/objectives/{objective}")).await.0, StatusCode::UNAUTHORIZED);
    let response = app
        .client
        .get(app.url(&format!("/objectives/{objective}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "deleted");

    // Logout ends the session on the server: the old cookie is worthless.
    let (_, html, _) = page(&app, "/", Some(&read_cookie)).await;
    let response = no_redirects()
        .post(format!("{}/logout", app.address))
        .header(COOKIE, &read_cookie)
        .form(&[("csrf", csrf_in(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let (status, _, location) = page(&app, "/", Some(&read_cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.unwrap().starts_with("/login"));
    // Revoking a token ends its sessions.
    let (status, _, _) = page(&app, "/", Some(&manage_cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let (id, other) = create_token(&app, Some(&admin), "laptop", "manage").await;
    let other_cookie = log_in(&app, &other).await;
    assert_eq!(page(&app, "/", Some(&other_cookie)).await.0, StatusCode::OK);
    let response = app
        .client
        .delete(app.url(&format!("/tokens/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(page(&app, "/", Some(&other_cookie)).await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_public_dashboard_is_read_only_for_everyone() {
    let access = AccessSettings { public_dashboard: true, ..lenient() };
    let app = spawn_app_with_access(access).await;
    app.create_system("api").await;
    let objective =
        app.create_objective(json!({"systemId": "api", "target": 99.0, "windowDays": 30})).await;
    create_token(&app, None, "admin", "manage").await;
    let (status, html, _) = page(&app, &format!("/objectives/{objective}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("/edit\"") && !html.contains("/objectives/new") && !html.contains("Log out"),
        "{html}"
    );
    let (status, _, location) = page(&app, &format!("/objectives/{objective}/edit"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "editing needs a session");
    assert!(location.unwrap().starts_with("/login"));
    let response = no_redirects()
        .post(format!("{}/objectives/{objective}/delete", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The API stays closed.
    assert_eq!(app.get("/objectives").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn while_no_token_exists_the_dashboard_is_open_as_before() {
    let app = spawn_app_with_access(lenient()).await;
    let (status, html, _) = page(&app, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("/objectives/new") && !html.contains("Log out"), "{html}");
    let (status, _, location) = page(&app, "/login", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "nothing to log into");
    assert_eq!(location.unwrap(), "/");
}

#[tokio::test]
async fn a_non_loopback_address_without_tokens_is_refused_at_start() {
    // Refused before anything binds: no traffic leaves loopback.
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        listen: "0.0.0.0:0".parse().unwrap(),
        database_url: format!("sqlite://{}/slod.db", dir.path().display()),
        database_pool_size: 1,
        demo: false,
    };
    let clock = Arc::new(ManualClock::new(t0()));
    let refused = Application::build_with_access(&settings, AccessSettings::default(), clock)
        .await
        .err()
        .expect("refused");
    let message = format!("{refused:#}");
    assert!(
        message.contains("refusing to listen on 0.0.0.0:0")
            && message.contains("--insecure-no-auth"),
        "{message}"
    );
}

#[tokio::test]
async fn webhooks_never_reach_refused_addresses() {
    let receiver = Receiver::start().await;
    let loopback = receiver.url("/hook");
    let by_name = loopback.replace("127.0.0.1", "localhost");
    let channel = |url: &str| json!({"name": "hook", "kind": "webhook", "url": url});

    // Link-local (cloud metadata) is refused always, even by default; the
    // check is on the address, so nothing is sent anywhere.
    let open = spawn_app_with_access(lenient()).await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]:8080/",
        "http://[::ffff:169.254.169.254]/",
    ] {
        let (status, body) = open.post("/channels", channel(url)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(body["error"]["field"], "url");
    }
    // Loopback is allowed by default: a channel by name, kept for below.
    let (status, body) = open.post("/channels", channel(&by_name)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let kept = body["id"].as_str().unwrap().to_owned();

    // With --deny-private-webhooks, loopback is refused by address and by
    // a name that resolves to it.
    let strict = AccessSettings { deny_private_webhooks: true, ..lenient() };
    let denying = spawn_app_sharing(&open, strict).await;
    for url in [
        loopback.as_str(),
        by_name.as_str(),
        "http://10.0.0.1/x",
        "http://192.168.1.1/x",
        "http://[::1]:9/",
    ] {
        let (status, body) = denying.post("/channels", channel(url)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(body["error"]["field"], "url");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("deny-private-webhooks") && !message.contains("/hook"),
            "{message}"
        );
    }
    // A channel saved before is checked again at send time: the name is
    // resolved by slod, its loopback address refused, nothing sent.
    let (status, body) = denying.post(&format!("/channels/{kept}/test"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivered"], false, "{body}");
    assert!(body["error"].as_str().unwrap().contains("loopback"), "{body}");
    let (_, body) = denying.patch(&format!("/channels/{kept}"), json!({"url": loopback})).await;
    assert_eq!(body["error"]["field"], "url");
    assert!(receiver.requests().is_empty(), "nothing reached the receiver");
    // The replica without the flag still delivers to it.
    let (_, body) = open.post(&format!("/channels/{kept}/test"), json!({})).await;
    assert_eq!(body["delivered"], true, "{body}");
}

/// Runs `slod token ARGS… --database URL`; its stdout.
fn token_command(database_url: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_slod"))
        .arg("token")
        .args(args)
        .args(["--database", database_url])
        .env_remove("SLOD_DATABASE")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "slod token {args:?}: {stdout}{stderr}");
    assert!(!stderr.contains("slod_"), "a secret on stderr: {stderr}");
    stdout
}

#[tokio::test]
async fn no_secret_ever_reaches_the_log_or_a_later_response() {
    // The real binary, so the log is the one an operator would see.
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = match slod_store_postgres::testing::admin_url_from_env() {
        Some(admin) => {
            let (url, guard) = slod_store_postgres::testing::fresh_database(&admin).await.unwrap();
            (url, Some(guard))
        }
        None => (format!("sqlite://{}/slod.db", dir.path().display()), None),
    };
    // The first token, made on the command line: its secret printed once.
    let created = token_command(&database_url, &["create", "--name", "admin", "--scope", "manage"]);
    let admin = created.lines().last().unwrap().trim().to_owned();
    assert!(admin.starts_with("slod_") && admin.len() == 5 + 16 + 1 + 64, "{created}");
    let listed = token_command(&database_url, &["list"]);
    assert!(
        listed.contains("admin") && listed.contains("manage") && !listed.contains(&admin),
        "{listed}"
    );

    let server = crate::process::SlodProcess::start(&database_url, &[]).await;
    let base = server.address.clone();
    let client = no_redirects();
    let api = |path: &str| format!("{base}/api/v1{path}");
    let mut secrets = vec![admin.clone()];
    let mut responses = String::new();

    let response = client
        .put(api("/systems/api"))
        .bearer_auth(&admin)
        .json(&json!({"name": "API"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = client
        .post(api("/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": "wall", "scope": "read"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let reader = body["secret"].as_str().unwrap().to_owned();
    let reader_id = body["id"].as_str().unwrap().to_owned();
    secrets.push(reader.clone());
    // Wrong and revoked tokens, a login, a page, a logout.
    let wrong = format!("{}x", &reader[..reader.len() - 1]);
    secrets.push(wrong.clone());
    for token in [&wrong, &reader] {
        let response = client.get(api("/systems")).bearer_auth(token).send().await.unwrap();
        responses.push_str(&response.text().await.unwrap());
    }
    let response = client
        .post(format!("{base}/login"))
        .form(&[("token", reader.as_str())])
        .send()
        .await
        .unwrap();
    let cookie =
        response.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    secrets.push(cookie.trim_start_matches("slod_session=").to_owned());
    let response = client
        .post(format!("{base}/login"))
        .form(&[("token", wrong.as_str())])
        .send()
        .await
        .unwrap();
    responses.push_str(&response.text().await.unwrap());
    let html = client
        .get(format!("{base}/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = client
        .post(format!("{base}/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf_in(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    responses.push_str(&html);
    let response = client.get(api("/tokens")).bearer_auth(&admin).send().await.unwrap();
    responses.push_str(&response.text().await.unwrap());
    token_command(&database_url, &["revoke", &reader_id]);
    let response = client.get(api("/systems")).bearer_auth(&reader).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "revoked on the command line");
    responses.push_str(&response.text().await.unwrap());

    let crate::process::SlodProcess { mut child, mut logs, startup_log, .. } = server;
    child.kill().await.unwrap();
    let mut log = startup_log.join("\n");
    while let Some(line) = logs.recv().await {
        log.push('\n');
        log.push_str(&line);
    }
    assert!(log.contains("token created") && log.contains("dashboard session opened"), "{log}");
    assert!(log.contains("unknown or revoked token"), "failures are logged: {log}");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret in the log: {log}");
        assert!(!responses.contains(secret.as_str()), "a secret in a later response");
        // Nor any long piece of one (a token id is fine: it is no secret).
        let tail = &secret[secret.len() - 32..];
        assert!(!log.contains(tail), "part of a secret in the log");
    }
}
