//! The dashboard in a real browser (issue 6): headless Chromium from
//! Debian's `chromium` package, driven through `chromedriver` (Debian's
//! `chromium-driver`) with fantoccini, against the real server seeded with
//! the demo data.
//!
//! Each test starts its own `chromedriver --port=N` on a free port with a
//! fresh profile directory, and the tests take turns ([`BROWSER`]): two
//! cores do not run several Chromiums well. Screenshots of every page go to
//! `target/screenshots/*.png` for people to look at.
//!
//! Without chromedriver the tests fail when `CI` is set (`.ci/run`
//! installs it) and are skipped with a notice otherwise.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::helpers::*;

/// The demo, which comes with a month of daily runs behind it, so the
/// pages have snapshots, streaks, badges and milestones to show.
async fn demo_with_history() -> TestApp {
    spawn_app_with(true).await
}

/// One browser at a time.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A running chromedriver and its browser session.
struct Browser {
    client: Client,
    _driver: Driver,
    _profile: TempDir,
}

/// The chromedriver process, ended when dropped, even if the test panics
/// before a session was opened.
struct Driver(std::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver runs in its own process group (see `start`), so this
        // ends it and any Chromium it left behind after a failed test.
        let group = format!("-{}", self.0.id());
        let _ = std::process::Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// Starts chromedriver and a headless Chromium session; `None` (after a
/// notice) when chromedriver is not installed outside CI.
async fn start() -> Option<Browser> {
    let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_owned());
    if !Path::new(&driver_path).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is not installed at {driver_path}: the browser tests need Debian's \
             `chromium` and `chromium-driver` packages (.ci/run installs them)"
        );
        eprintln!(
            "NOTICE: skipping a browser test: {driver_path} is missing \
             (apt-get install chromium chromium-driver)"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = std::process::Command::new(&driver_path);
    command
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let driver = Driver(command.spawn().expect("starting chromedriver"));
    let profile = tempfile::tempdir().unwrap();
    let client = connect(port, &profile).await;
    client.set_window_size(1280, 900).await.unwrap();
    Some(Browser { client, _driver: driver, _profile: profile })
}

/// Opens the session, retrying while chromedriver is still starting.
async fn connect(port: u16, profile: &TempDir) -> Client {
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": binary,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-proxy-server",
                "--hide-scrollbars", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let Value::Object(capabilities) = capabilities else { unreachable!() };
    let url = format!("http://127.0.0.1:{port}");
    let mut last_error = String::new();
    for _ in 0..100 {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities.clone());
        match builder.connect(&url).await {
            Ok(client) => return client,
            Err(err) => last_error = err.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not open a Chromium session through chromedriver: {last_error}");
}

/// Runs `test` with a browser, closing the session whatever happens.
async fn with_browser<F, Fut>(test: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let _turn = BROWSER.lock().await;
    let Some(browser) = start().await else { return };
    let outcome = tokio::spawn(test(browser.client.clone())).await;
    let _ = browser.client.clone().close().await;
    drop(browser);
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// `target/screenshots`, next to the test binary's `target/debug`.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/api-<hash>
    let target = exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| "target".into());
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the whole page (the window grown to the page's height) as
/// `target/screenshots/{name}.png`.
async fn screenshot(client: &Client, name: &str, width: u32) {
    let height = client
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(900)
        .clamp(600, 6000) as u32;
    client.set_window_size(width, height).await.unwrap();
    // The window includes some chrome even headless: grow it by the
    // difference so the viewport holds the whole page.
    let inner = client.execute("return window.innerHeight", vec![]).await.unwrap();
    let inner = u32::try_from(inner.as_u64().unwrap_or(u64::from(height))).unwrap();
    if inner < height {
        client.set_window_size(width, height + (height - inner)).await.unwrap();
    }
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    client.set_window_size(1280, 900).await.unwrap();
}

async fn text_of(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

async fn get_json(address: &str, path: &str) -> Value {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{address}/api/v1{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until the browser is on a page whose path starts with `prefix`.
async fn wait_for_path(client: &Client, prefix: &str) -> String {
    for _ in 0..100 {
        let url = client.current_url().await.unwrap();
        if url.path().starts_with(prefix) {
            return url.path().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never reached {prefix}; at {}", client.current_url().await.unwrap());
}

#[tokio::test]
async fn the_overview_lists_every_objective_with_its_state() {
    let app = demo_with_history().await;
    let address = app.address.clone();
    with_browser(|client| async move {
        let objectives = get_json(&address, "/objectives").await;
        let objectives = objectives["objectives"].as_array().unwrap().clone();
        client.goto(&format!("{address}/")).await.unwrap();
        assert_eq!(client.title().await.unwrap(), "Overview · slod");
        let rows = client.find_all(Locator::Css("section.sys .row")).await.unwrap();
        assert_eq!(rows.len(), objectives.len(), "one row per objective");
        for item in &objectives {
            let id = item["objective"]["id"].as_str().unwrap();
            let row = client
                .find(Locator::XPath(&format!(
                    "//div[contains(@class,'row')][a[@href='/objectives/{id}']]"
                )))
                .await
                .unwrap_or_else(|_| panic!("a row for {id}"));
            let state = row.find(Locator::Css(".st")).await.unwrap().text().await.unwrap();
            let status = &item["status"];
            let expected = if status["isBreaching"] == true {
                "breaching"
            } else if status["errorBudgetRemainingPercent"].as_f64().unwrap() <= 20.0 {
                "at risk"
            } else {
                "healthy"
            };
            assert!(state.starts_with(expected), "{id}: {state:?}, expected {expected}");
            if item["objective"]["systemId"] == "cache" {
                assert!(state.contains("down now"), "the demo's cache is down: {state:?}");
            }
        }
        // The attribution bar and the streak flame are on every row.
        assert_eq!(client.find_all(Locator::Css(".row .bar")).await.unwrap().len(), rows.len());
        assert_eq!(client.find_all(Locator::Css(".row .streak")).await.unwrap().len(), rows.len());
        assert!(text_of(&client, ".feed h2").await.contains("Milestones"));
        screenshot(&client, "overview", 1280).await;
        screenshot(&client, "overview-phone", 390).await;

        // The filter is a link: no JavaScript involved.
        client
            .find(Locator::Css("a.filter[href='/?state=down']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_path(&client, "/").await;
        let shown = client.find_all(Locator::Css("section.sys .row")).await.unwrap();
        let down = objectives.iter().filter(|o| o["objective"]["systemId"] == "cache").count();
        assert_eq!(shown.len(), down, "only the objectives of the system that is down");
        screenshot(&client, "overview-filtered", 1280).await;
    })
    .await;
}

#[tokio::test]
async fn creating_an_objective_through_the_form() {
    let app = spawn_app_with(true).await;
    let address = app.address.clone();
    with_browser(|client| async move {
        let before =
            get_json(&address, "/objectives").await["objectives"].as_array().unwrap().len();
        client.goto(&format!("{address}/objectives/new")).await.unwrap();
        screenshot(&client, "new-objective-choose-system", 1280).await;
        client.find(Locator::LinkText("Public API")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, "/objectives/new").await;
        // The exclusion picker lists the API's upstreams.
        let picks =
            client.find_all(Locator::Css("input[name=excludedDependencyIds]")).await.unwrap();
        let mut values = Vec::new();
        for pick in &picks {
            values.push(pick.attr("value").await.unwrap().unwrap());
        }
        values.sort();
        assert_eq!(values, ["cache", "db"]);

        // A bad target: the API's message next to the field, nothing created.
        let target = client.find(Locator::Id("f-target")).await.unwrap();
        target.clear().await.unwrap();
        target.send_keys("150").await.unwrap();
        client.find(Locator::Id("mode-self-only")).await.unwrap().click().await.unwrap();
        client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        let error = client.wait().for_element(Locator::Id("f-target-error")).await.unwrap();
        assert!(error.text().await.unwrap().contains("must be a number from 0 to 100"));
        assert!(error.is_displayed().await.unwrap());
        // Next to the field: inside the target's own field box.
        let field = client
            .find(Locator::XPath("//p[@id='f-target-error']/parent::div[.//input[@id='f-target']]"))
            .await;
        assert!(field.is_ok(), "the error sits in the target's field");
        let kept = client.find(Locator::Id("f-target")).await.unwrap().prop("value").await.unwrap();
        assert_eq!(kept.as_deref(), Some("150"), "the user's input is kept");
        let after = get_json(&address, "/objectives").await["objectives"].as_array().unwrap().len();
        assert_eq!(after, before, "nothing was created");
        screenshot(&client, "new-objective-error", 1280).await;

        // Corrected, with db ticked: created, and we land on its page.
        let target = client.find(Locator::Id("f-target")).await.unwrap();
        target.clear().await.unwrap();
        target.send_keys("99.5").await.unwrap();
        client.find(Locator::Css("input[value=db]")).await.unwrap().click().await.unwrap();
        client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        let path = loop {
            let path = wait_for_path(&client, "/objectives/").await;
            if path != "/objectives/new" {
                break path;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let id = path.trim_start_matches("/objectives/").to_owned();
        let created = get_json(&address, &format!("/objectives/{id}")).await;
        assert_eq!(created["objective"]["target"], 99.5);
        assert_eq!(created["objective"]["systemId"], "api");
        assert_eq!(created["objective"]["dependencyExclusion"], "self-only");
        assert_eq!(created["objective"]["excludedDependencyIds"], json!(["db"]));
        let after = get_json(&address, "/objectives").await["objectives"].as_array().unwrap().len();
        assert_eq!(after, before + 1);
        assert!(client.title().await.unwrap().contains("Public API"));
    })
    .await;
}

#[tokio::test]
async fn the_timeline_lists_the_events_with_their_attribution() {
    let app = demo_with_history().await;
    let address = app.address.clone();
    with_browser(|client| async move {
        // The API's self-only objective: both self and upstream downtime.
        let listed = get_json(&address, "/objectives?systemId=api").await;
        let item = listed["systems"]["api"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["objective"]["dependencyExclusion"] == "self-only")
            .unwrap()
            .clone();
        let id = item["objective"]["id"].as_str().unwrap().to_owned();
        let events =
            get_json(&address, &format!("/objectives/{id}/downtime-events?limit=50")).await;
        let events = events["events"].as_array().unwrap().clone();
        assert!(events.iter().any(|e| e["attributionType"] == "upstream"), "demo has cascades");

        client.goto(&format!("{address}/objectives/{id}")).await.unwrap();
        let items = client.find_all(Locator::Css("ol.timeline > li")).await.unwrap();
        assert_eq!(items.len(), events.len(), "one entry per event");
        for (li, event) in items.iter().zip(&events) {
            let badge = li.find(Locator::Css(".chip")).await.unwrap().text().await.unwrap();
            match event["attributionType"].as_str().unwrap() {
                "self" => assert_eq!(badge, "self"),
                _ => assert_eq!(
                    badge,
                    format!("upstream: {}", event["upstreamSystemName"].as_str().unwrap())
                ),
            }
            let text = li.text().await.unwrap();
            let start = event["startTime"].as_str().unwrap();
            // Shown to the minute, in UTC: "2026-02-27 10:12 UTC".
            let shown = format!("{} {} UTC", &start[..10], &start[11..16]);
            assert!(text.contains(&shown), "{text:?} shows {shown}");
        }
        // The numbers and the attribution bar are there too.
        assert!(text_of(&client, ".stats").await.to_lowercase().contains("availability"));
        assert!(client.find(Locator::Css(".bar .b-up")).await.is_ok());
        screenshot(&client, "objective", 1280).await;
        screenshot(&client, "objective-phone", 390).await;
    })
    .await;
}

#[tokio::test]
async fn the_trend_chart_has_one_point_per_snapshot() {
    let app = demo_with_history().await;
    let address = app.address.clone();
    with_browser(|client| async move {
        let listed = get_json(&address, "/objectives").await;
        for item in listed["objectives"].as_array().unwrap() {
            let id = item["objective"]["id"].as_str().unwrap();
            let snapshots = get_json(&address, &format!("/objectives/{id}/snapshots")).await;
            let snapshots = snapshots["snapshots"].as_array().unwrap().clone();
            assert!(!snapshots.is_empty());
            client.goto(&format!("{address}/objectives/{id}")).await.unwrap();
            let points =
                client.find_all(Locator::Css("figure.chart svg circle.point")).await.unwrap();
            assert_eq!(points.len(), snapshots.len(), "{id}: one point per snapshot");
            // Oldest first, left to right, each naming its day.
            let first = points[0].find(Locator::Css("title")).await.unwrap();
            let first = first.prop("textContent").await.unwrap().unwrap_or_default();
            let day = &snapshots[0]["date"].as_str().unwrap()[..10];
            assert!(first.starts_with(day), "{first:?} is {day}");
            let target = client.find(Locator::Css("figure.chart svg line.target")).await;
            assert!(target.is_ok(), "the target is drawn");
            // Below-target days are marked, not just coloured: the hover
            // text carries the number.
            let below = client.find_all(Locator::Css("circle.point.below")).await.unwrap().len();
            let expected = snapshots
                .iter()
                .filter(|s| {
                    s["availabilityPercent"].as_f64().unwrap()
                        < item["objective"]["target"].as_f64().unwrap()
                })
                .count();
            assert_eq!(below, expected, "{id}");
        }
        // Tall enough that the whole chart is in the viewport.
        client.set_window_size(1280, 2400).await.unwrap();
        let chart = client.find(Locator::Css("figure.chart")).await.unwrap();
        let png = chart.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join("trend-chart.png"), png).unwrap();
    })
    .await;
}

#[tokio::test]
async fn editing_exclusions_changes_the_objective() {
    let app = spawn_app_with(true).await;
    let address = app.address.clone();
    with_browser(|client| async move {
        // The demo's api 99.95 % objective excludes cache, not db.
        let listed = get_json(&address, "/objectives?systemId=api").await;
        let item = listed["systems"]["api"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["objective"]["excludedDependencyIds"] == json!(["cache"]))
            .unwrap()
            .clone();
        let id = item["objective"]["id"].as_str().unwrap().to_owned();
        client.goto(&format!("{address}/objectives/{id}")).await.unwrap();
        client.find(Locator::LinkText("Edit")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, &format!("/objectives/{id}/edit")).await;
        let cache = client.find(Locator::Css("input[value=cache]")).await.unwrap();
        let db = client.find(Locator::Css("input[value=db]")).await.unwrap();
        assert_eq!(cache.prop("checked").await.unwrap().as_deref(), Some("true"));
        assert_eq!(db.prop("checked").await.unwrap().as_deref(), Some("false"));
        screenshot(&client, "edit-objective", 1280).await;
        // Keyboard-usable: the labels toggle their boxes.
        client.find(Locator::Css("label[for=ex-0]")).await.unwrap().click().await.unwrap();
        client.find(Locator::Css("label[for=ex-1]")).await.unwrap().click().await.unwrap();
        client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, "/objectives/").await;
        for _ in 0..50 {
            if client.current_url().await.unwrap().path() == format!("/objectives/{id}") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(client.current_url().await.unwrap().path(), format!("/objectives/{id}"));
        let saved = get_json(&address, &format!("/objectives/{id}")).await;
        let mut excluded: Vec<String> = saved["objective"]["excludedDependencyIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        excluded.sort();
        assert_eq!(excluded, ["db"], "cache untucked, db ticked");
        assert!(text_of(&client, ".settings").await.contains("Primary Database"));
    })
    .await;
}

#[tokio::test]
async fn screenshots_of_the_other_pages() {
    let app = demo_with_history().await;
    let address = app.address.clone();
    with_browser(|client| async move {
        client.goto(&format!("{address}/systems/api")).await.unwrap();
        assert!(text_of(&client, "h1").await.contains("Public API"));
        let links = client.find_all(Locator::Css(".links a")).await.unwrap();
        assert_eq!(links.len(), 3, "db and cache upstream, web downstream");
        assert_eq!(client.find_all(Locator::Css(".achievements li")).await.unwrap().len(), 9);
        screenshot(&client, "system", 1280).await;

        let listed = get_json(&address, "/objectives?systemId=db").await;
        let id = listed["systems"]["db"][0]["objective"]["id"].as_str().unwrap().to_owned();
        client.goto(&format!("{address}/objectives/{id}")).await.unwrap();
        client.find(Locator::LinkText("Delete…")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, &format!("/objectives/{id}/delete")).await;
        assert!(text_of(&client, "h1").await.contains("Delete this objective?"));
        screenshot(&client, "delete-confirm", 1280).await;
        client.find(Locator::LinkText("Cancel")).await.unwrap().click().await.unwrap();
        assert!(get_json(&address, &format!("/objectives/{id}")).await["objective"].is_object());

        client.goto(&format!("{address}/objectives/no-such-objective")).await.unwrap();
        assert!(text_of(&client, "h1").await.contains("Not found"));
        screenshot(&client, "not-found", 1280).await;
    })
    .await;
}

#[tokio::test]
async fn an_open_page_refreshes_its_numbers_from_the_event_stream() {
    let app = spawn_app().await;
    app.create_system("api").await;
    app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    let address = app.address.clone();
    let reporter = app.client.clone();
    with_browser(|client| async move {
        client.goto(&format!("{address}/")).await.unwrap();
        assert!(client.find(Locator::Css(".row .st-down")).await.is_err());
        // Give the page's EventSource a moment to subscribe.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let response = reporter
            .post(format!("{address}/api/v1/health"))
            .json(&json!({"systemId": "api", "status": "unhealthy"}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        // No reload: the script swaps the numbers in.
        let mut down = false;
        for _ in 0..100 {
            if client.find(Locator::Css(".row .st-down")).await.is_ok() {
                down = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(down, "the overview shows the outage without a reload");
        assert_eq!(client.current_url().await.unwrap().path(), "/");
    })
    .await;
}

/// Creates a token over the API (slod is open until the first) and returns
/// its secret.
async fn create_token(address: &str, bearer: Option<&str>, name: &str, scope: &str) -> String {
    let mut request = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{address}/api/v1/tokens"))
        .json(&json!({"name": name, "scope": scope}));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let body: Value = request.send().await.unwrap().json().await.unwrap();
    body["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn logging_in_with_a_read_token_shows_no_edit_controls_until_logout() {
    let app = demo_with_history().await;
    let address = app.address.clone();
    let admin = create_token(&address, None, "admin", "manage").await;
    let reader = create_token(&address, Some(&admin), "wall screen", "read").await;
    with_browser(|client| async move {
        // Asked for a token, then back where we were going.
        client.goto(&format!("{address}/systems/api")).await.unwrap();
        wait_for_path(&client, "/login").await;
        screenshot(&client, "login", 1280).await;
        client.find(Locator::Id("token")).await.unwrap().send_keys("slod_wrong").await.unwrap();
        client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        let error = client.wait().for_element(Locator::Css("p.errors")).await.unwrap();
        assert!(error.text().await.unwrap().contains("unknown or revoked"));
        client.find(Locator::Id("token")).await.unwrap().send_keys(&reader).await.unwrap();
        client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, "/systems/api").await;

        // A read session: the numbers, no edit controls anywhere.
        let top = text_of(&client, "header.top").await;
        assert!(top.contains("wall screen (read)") && top.contains("Log out"), "{top}");
        assert!(!top.contains("New objective"), "{top}");
        assert!(client.find(Locator::LinkText("New objective")).await.is_err());
        let objective = client
            .find(Locator::Css("a[href^='/objectives/']"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        client.goto(&format!("{address}{objective}")).await.unwrap();
        wait_for_path(&client, &objective).await;
        assert!(client.find(Locator::LinkText("Edit")).await.is_err(), "no Edit button");
        assert!(client.find(Locator::LinkText("Delete…")).await.is_err(), "no Delete button");
        screenshot(&client, "read-only-session", 1280).await;
        // The cookie is out of the page's reach.
        let cookies = client.execute("return document.cookie", vec![]).await.unwrap();
        assert_eq!(cookies, Value::String(String::new()), "HttpOnly");

        // Logout ends the session: the next page asks again.
        client.find(Locator::Css("form.logout button")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, "/login").await;
        client.goto(&format!("{address}/")).await.unwrap();
        wait_for_path(&client, "/login").await;
    })
    .await;
}

/// Waits until `css` matches an element whose text contains `needle`.
async fn wait_for_text(client: &Client, css: &str, needle: &str) -> String {
    for _ in 0..100 {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            let text = element.text().await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{css}` never showed `{needle}`");
}

async fn fill(client: &Client, id: &str, text: &str) {
    let input = client.find(Locator::Id(id)).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

#[tokio::test]
async fn maintenance_windows_are_planned_edited_and_cancelled_from_the_system_page() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let address = app.address.clone();
    with_browser(|client| async move {
        client.goto(&format!("{address}/systems/api")).await.unwrap();
        assert!(text_of(&client, "#maintenance").await.contains("No maintenance windows"));
        client.find(Locator::LinkText("Plan maintenance")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, "/systems/api/maintenance-windows/new").await;

        // The clock is at 2026-03-01 00:00 UTC. An end before the start:
        // the API's message next to `end`, nothing stored.
        fill(&client, "mw-title", "Database upgrade").await;
        fill(&client, "mw-start", "2026-03-02 02:00").await;
        fill(&client, "mw-end", "2026-03-02 01:00").await;
        client.find(Locator::Css("button.primary")).await.unwrap().click().await.unwrap();
        let error = client.wait().for_element(Locator::Css("p.error[data-field=end]")).await;
        assert!(error.unwrap().text().await.unwrap().contains("after"), "end before start");
        let listed = get_json(&address, "/systems/api/maintenance-windows").await;
        assert_eq!(listed["maintenanceWindows"], json!([]), "nothing stored");
        screenshot(&client, "maintenance-error", 1280).await;

        fill(&client, "mw-end", "2026-03-02 04:00").await;
        client.find(Locator::Css("button.primary")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, "/systems/api").await;
        let row = wait_for_text(&client, "#maintenance tr.mw", "Database upgrade").await;
        assert!(row.contains("scheduled"), "{row}");
        assert!(row.contains("2026-03-02 02:00"), "{row}");
        assert!(text_of(&client, "p.flash").await.contains("planned"));

        // A weekly one already running: in progress.
        client.find(Locator::LinkText("Plan maintenance")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, "/systems/api/maintenance-windows/new").await;
        fill(&client, "mw-title", "Weekly patching").await;
        fill(&client, "mw-start", "2026-02-28 23:00").await;
        fill(&client, "mw-end", "2026-03-01 01:00").await;
        fill(&client, "mw-recurrence", "FREQ=WEEKLY;BYDAY=SA").await;
        client.find(Locator::Css("button.primary")).await.unwrap().click().await.unwrap();
        let row = wait_for_text(&client, "#maintenance", "Weekly patching").await;
        assert!(row.contains("in progress"), "{row}");
        assert!(row.contains("FREQ=WEEKLY"), "{row}");
        let listed = get_json(&address, "/systems/api/maintenance-windows").await;
        let statuses: Vec<&str> = listed["maintenanceWindows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["in_progress", "scheduled"], "oldest start first");
        screenshot(&client, "system-maintenance", 1280).await;

        // Edit the one-off: a new title and an hour later.
        let upgrade = listed["maintenanceWindows"][1]["id"].as_str().unwrap().to_owned();
        let row = format!("tr[data-window='{upgrade}']");
        client.find(Locator::Css(&format!("{row} a.button"))).await.unwrap().click().await.unwrap();
        wait_for_path(&client, &format!("/maintenance-windows/{upgrade}/edit")).await;
        let kept = client.find(Locator::Id("mw-start")).await.unwrap().prop("value").await;
        assert_eq!(kept.unwrap().as_deref(), Some("2026-03-02 02:00"));
        fill(&client, "mw-title", "Postgres 17 upgrade").await;
        fill(&client, "mw-end", "2026-03-02 05:00").await;
        client.find(Locator::Css("button.primary")).await.unwrap().click().await.unwrap();
        wait_for_text(&client, &row, "Postgres 17 upgrade").await;
        let saved = get_json(&address, &format!("/maintenance-windows/{upgrade}")).await;
        assert_eq!(saved["title"], "Postgres 17 upgrade");
        assert_eq!(saved["end"], "2026-03-02T05:00:00.000Z");

        // Cancel it: listed as cancelled, and the API agrees.
        client
            .find(Locator::Css(&format!("{row} button.danger")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let text = wait_for_text(&client, &row, "cancelled").await;
        assert!(text.contains("Restore"), "{text}");
        let saved = get_json(&address, &format!("/maintenance-windows/{upgrade}")).await;
        assert_eq!(saved["cancelled"], true);
        assert_eq!(saved["status"], "cancelled");
        assert!(text_of(&client, "p.flash").await.contains("cancelled"));
        // The other window is untouched.
        let listed = get_json(&address, "/systems/api/maintenance-windows").await;
        assert_eq!(listed["maintenanceWindows"][0]["cancelled"], false);
    })
    .await;
}

#[tokio::test]
async fn a_tier_edited_in_the_editor_shows_on_the_objective_page() {
    let app = spawn_app().await;
    app.create_system("api").await;
    let id =
        app.create_objective(json!({"systemId": "api", "target": 99.9, "windowDays": 30})).await;
    // One minute down now: 1 h at (1 / 60) / 0.001 = 16.7 and 5 m at 200
    // fire the 1 h page (14.4); 6 h at 2.8 is under the 6 h page's 6, and
    // 72 h at 0.23 under the ticket's 1.
    app.report("api", "unhealthy", -1).await;
    let address = app.address.clone();
    with_browser(|client| async move {
        client.goto(&format!("{address}/objectives/{id}")).await.unwrap();
        let tiers = text_of(&client, "#burn-tiers").await;
        assert!(tiers.contains("14.40×"), "{tiers}");
        let firing = client.find_all(Locator::Css("tr.tier[data-firing=true]")).await.unwrap();
        assert_eq!(firing.len(), 1, "{tiers}");
        assert_eq!(firing[0].attr("data-tier").await.unwrap().as_deref(), Some("0"));
        assert!(tiers.contains("16.67×") && tiers.contains("200.00×"), "{tiers}");
        assert_eq!(client.find_all(Locator::Css("tr.tier")).await.unwrap().len(), 3);
        client.find(Locator::LinkText("Edit")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, &format!("/objectives/{id}/edit")).await;
        let rows = client.find_all(Locator::Css("tr.tier-row")).await.unwrap();
        assert_eq!(rows.len(), 4, "three tiers and an empty row");

        // A short window as wide as the long one: refused on its row.
        client
            .find(Locator::Css("select[name='burnRateAlerts[1].shortWindow']"))
            .await
            .unwrap()
            .select_by_value("6h")
            .await
            .unwrap();
        client.find(Locator::Css("button.primary")).await.unwrap().click().await.unwrap();
        let error = client
            .wait()
            .for_element(Locator::Css("p.error[data-field='burnRateAlerts[1].shortWindow']"))
            .await
            .unwrap();
        assert!(error.text().await.unwrap().contains("shorter than longWindow"));
        let unchanged = get_json(&address, &format!("/objectives/{id}")).await;
        assert_eq!(unchanged["objective"]["burnRateAlerts"][1]["shortWindow"], "30m");
        screenshot(&client, "edit-tiers-error", 1280).await;

        // Fix it; make the first tier 4 % in 1 h; remove the ticket; add a
        // ticket at 50 % in 24 h (30 m) in the empty row.
        client
            .find(Locator::Css("select[name='burnRateAlerts[1].shortWindow']"))
            .await
            .unwrap()
            .select_by_value("30m")
            .await
            .unwrap();
        fill(&client, "f-burnRateAlerts-0-budgetPercent", "4").await;
        client.find(Locator::Id("f-burnRateAlerts-2-remove")).await.unwrap().click().await.unwrap();
        for (part, value) in [("severity", "ticket"), ("longWindow", "24h"), ("shortWindow", "30m")]
        {
            client
                .find(Locator::Css(&format!("select[name='burnRateAlerts[3].{part}']")))
                .await
                .unwrap()
                .select_by_value(value)
                .await
                .unwrap();
        }
        fill(&client, "f-burnRateAlerts-3-budgetPercent", "50").await;
        client.find(Locator::Css("button.primary")).await.unwrap().click().await.unwrap();
        for _ in 0..50 {
            if client.current_url().await.unwrap().path() == format!("/objectives/{id}") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(client.current_url().await.unwrap().path(), format!("/objectives/{id}"));
        let saved = get_json(&address, &format!("/objectives/{id}")).await;
        assert_eq!(
            saved["objective"]["burnRateAlerts"],
            json!([
                {"severity": "page", "longWindow": "1h", "shortWindow": "5m", "budgetPercent": 4.0},
                {"severity": "page", "longWindow": "6h", "shortWindow": "30m", "budgetPercent": 5.0},
                {"severity": "ticket", "longWindow": "24h", "shortWindow": "30m", "budgetPercent": 50.0}
            ])
        );
        // On the page: thresholds 4 % × 720 = 28.8 and 50 % × 720 / 24 = 15.
        let tiers = text_of(&client, "#burn-tiers").await;
        assert!(tiers.contains("28.80×"), "{tiers}");
        assert!(tiers.contains("15.00×"), "{tiers}");
        assert!(tiers.contains("24h / 30m"), "{tiers}");
        assert!(!tiers.contains("72h"), "{tiers}");
        assert_eq!(client.find_all(Locator::Css("tr.tier")).await.unwrap().len(), 3);
        screenshot(&client, "objective-tiers", 1280).await;

        // "Add a tier row" adds an empty row and saves nothing.
        client.find(Locator::LinkText("Edit")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, &format!("/objectives/{id}/edit")).await;
        client.find(Locator::Css("button[name=addTier]")).await.unwrap().click().await.unwrap();
        let mut rows = 0;
        for _ in 0..50 {
            rows = client.find_all(Locator::Css("tr.tier-row")).await.unwrap().len();
            if rows == 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(rows, 5, "three tiers and two empty rows");
        let again = get_json(&address, &format!("/objectives/{id}")).await;
        assert_eq!(again["objective"]["updatedAt"], saved["objective"]["updatedAt"]);
    })
    .await;
}
