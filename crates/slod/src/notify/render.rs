//! What each kind of channel receives for an event.
//!
//! - **webhook**: the envelope `{id, type, occurredAt, data}` as JSON, with
//!   `X-Slod-Event` (the type), `X-Slod-Delivery` (the event id, the same on
//!   every retry so receivers can deduplicate) and, when the channel has a
//!   secret, `X-Slod-Signature` ([`super::sign`]).
//! - **slack**: an incoming-webhook message, `{text, blocks}`: one readable
//!   sentence (system name, objective as target/window, budget left) and the
//!   same facts as fields. No links: slod does not know the address people
//!   reach it at, and names are escaped so a system called `<http://x|y>`
//!   cannot smuggle one in.
//! - **teams**: a legacy `MessageCard` (what Teams incoming webhooks accept)
//!   with the same title, sentence and facts.
//!
//! Rendering is pure: the caller looks up the system's name, the objective
//! and the budget left ([`RenderContext`]) first.

use serde::Serialize;
use serde_json::{json, Value};
use slod_core::achievements::AchievementType;
use slod_core::time::Timestamp;
use slod_core::window::Window;
use slod_store::notify::ChannelKind;

use super::sign;

/// The type slod sends for `POST /channels/{id}/test`; not an event of
/// SPEC §8, so no receiver mistakes it for a real one.
pub const TEST_EVENT_TYPE: &str = "slo.test";

/// An event as sent: any type string, so the test event fits too.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub occurred_at: Timestamp,
    pub data: &'a Value,
}

/// What the human-readable kinds say besides the payload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderContext {
    /// The system's display name, when it still exists.
    pub system_name: Option<String>,
    /// The objective's target and window, when it still exists.
    pub objective: Option<(f64, Window)>,
    /// Budget left now, in percent (from the payload when it has it).
    pub budget_remaining_percent: Option<f64>,
    /// The channel's name, for the test message.
    pub channel_name: Option<String>,
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedRequest {
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

/// Builds the request a channel of `kind` receives for `event`.
pub fn render(
    kind: ChannelKind,
    secret: Option<&str>,
    event: &Envelope<'_>,
    context: &RenderContext,
) -> RenderedRequest {
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    let body = match kind {
        ChannelKind::Webhook => {
            headers.push(("X-Slod-Event", event.event_type.to_owned()));
            headers.push(("X-Slod-Delivery", event.id.to_owned()));
            to_bytes(event)
        }
        ChannelKind::Slack => to_bytes(&slack_message(event, context)),
        ChannelKind::Teams => to_bytes(&teams_card(event, context)),
    };
    if kind == ChannelKind::Webhook {
        if let Some(secret) = secret {
            headers
                .push((sign::SIGNATURE_HEADER, sign::signature_header(secret.as_bytes(), &body)));
        }
    }
    RenderedRequest { body, headers }
}

fn to_bytes(value: &impl Serialize) -> Vec<u8> {
    // Serialising plain data (strings, numbers, `Value`s) cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// A one-line summary and the facts behind it.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    title: String,
    sentence: String,
    color: &'static str,
    facts: Vec<(&'static str, String)>,
}

fn str_field<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get(key).and_then(Value::as_str)
}

fn num_field(data: &Value, key: &str) -> Option<f64> {
    data.get(key).and_then(Value::as_f64)
}

/// `99.9 %` without trailing zeros beyond what the target has.
fn percent(value: f64) -> String {
    let rounded = (value * 1000.0).round() / 1000.0;
    format!("{rounded} %")
}

fn budget(value: f64) -> String {
    format!("{value:.1} %")
}

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.1}x"))
}

fn summarize(event: &Envelope<'_>, context: &RenderContext) -> Summary {
    let data = event.data;
    let system_id = str_field(data, "systemId");
    let system = match (context.system_name.as_deref().or(str_field(data, "systemName")), system_id)
    {
        (Some(name), _) => name.to_owned(),
        (None, Some(id)) => id.to_owned(),
        (None, None) => "slod".to_owned(),
    };
    let objective = context.objective.map(|(target, window)| match window {
        Window::Rolling(days) => {
            let unit = if days == 1 { "day" } else { "days" };
            format!("{} over {days} {unit}", percent(target))
        }
        Window::Calendar(c) => {
            format!("{} over the calendar {} ({})", percent(target), c.unit, c.time_zone.name())
        }
    });
    let target = num_field(data, "target").or(context.objective.map(|(t, _)| t));
    let slo = objective.clone().or(target.map(percent)).unwrap_or_else(|| "its SLO".to_owned());
    let left = num_field(data, "budgetRemainingPercent").or(context.budget_remaining_percent);
    let left_text = left.map(budget).unwrap_or_else(|| "unknown".to_owned());

    let mut facts: Vec<(&'static str, String)> = Vec::new();
    if system_id.is_some() || context.system_name.is_some() {
        facts.push(("System", system.clone()));
    }
    if let Some(objective) = &objective {
        facts.push(("Objective", objective.clone()));
    } else if let Some(target) = target {
        facts.push(("Target", percent(target)));
    }
    let objective_facts = |facts: &mut Vec<(&'static str, String)>| {
        facts.push(("Budget left", left_text.clone()));
    };

    let (title, sentence, color) = match event.event_type {
        "slo.status.changed" => {
            objective_facts(&mut facts);
            let breaching = data.get("isBreaching").and_then(Value::as_bool).unwrap_or(false);
            facts.push(("Breaching", if breaching { "yes" } else { "no" }.to_owned()));
            let state = if breaching { "breaching its target" } else { "within its target" };
            (
                format!("SLO status changed: {system}"),
                format!("{system} ({slo}) is {state}, with {left_text} of its error budget left."),
                if breaching { "D13438" } else { "0078D7" },
            )
        }
        "slo.budget.warning" | "slo.budget.critical" => {
            objective_facts(&mut facts);
            let critical = event.event_type == "slo.budget.critical";
            let used = left.map(|l| budget(100.0 - l)).unwrap_or_else(|| "much".to_owned());
            (
                format!("Error budget {}: {system}", if critical { "critical" } else { "warning" }),
                format!("{system} ({slo}) has used {used} of its error budget; {left_text} left."),
                if critical { "D13438" } else { "FFA500" },
            )
        }
        "slo.budget.exhausted" => {
            facts.push(("Budget left", budget(0.0)));
            (
                format!("Error budget exhausted: {system}"),
                format!("{system} ({slo}) has no error budget left."),
                "8B0000",
            )
        }
        "slo.burn.fast" => {
            let h1 = num_field(data, "burnRate1h");
            let m5 = num_field(data, "burnRate5m");
            facts.push(("Burn rate (1 h)", rate(h1)));
            facts.push(("Burn rate (5 m)", rate(m5)));
            objective_facts(&mut facts);
            (
                format!("Fast burn: {system}"),
                format!(
                    "{system} ({slo}) is burning its error budget at {} over the last hour and {} over the last 5 minutes; {left_text} left.",
                    rate(h1),
                    rate(m5)
                ),
                "D13438",
            )
        }
        "slo.burn.alert" => {
            let severity = str_field(data, "severity").unwrap_or("page").to_owned();
            let long = str_field(data, "longWindow").unwrap_or("long window").to_owned();
            let short = str_field(data, "shortWindow").unwrap_or("short window").to_owned();
            let threshold = num_field(data, "threshold");
            facts.push(("Severity", severity.clone()));
            facts.push((
                "Burn rate (long)",
                format!("{} over {long}", rate(num_field(data, "burnRateLong"))),
            ));
            facts.push((
                "Burn rate (short)",
                format!("{} over {short}", rate(num_field(data, "burnRateShort"))),
            ));
            facts.push(("Threshold", rate(threshold)));
            objective_facts(&mut facts);
            let page = severity == "page";
            (
                format!("Burn-rate {severity}: {system}"),
                format!(
                    "{system} ({slo}) is burning its error budget at {} over {long} and {} over {short}, at or above {}; {left_text} left.",
                    rate(num_field(data, "burnRateLong")),
                    rate(num_field(data, "burnRateShort")),
                    rate(threshold)
                ),
                if page { "D13438" } else { "FFA500" },
            )
        }
        "slo.streak.broken" => {
            let streak = num_field(data, "streak").unwrap_or(0.0);
            let best = num_field(data, "bestStreak").unwrap_or(0.0);
            facts.push(("Streak", format!("{streak} days")));
            facts.push(("Best streak", format!("{best} days")));
            objective_facts(&mut facts);
            (
                format!("Streak broken: {system}"),
                format!(
                    "{system} ({slo}) lost its {streak}-day streak (best: {best} days); {left_text} of its error budget left."
                ),
                "6264A7",
            )
        }
        "slo.achievement.unlocked" => {
            let label = achievement_label(data.get("achievement"));
            facts.push(("Achievement", label.clone()));
            (
                format!("Achievement unlocked: {system}"),
                format!("{system} unlocked {label}."),
                "2EB886",
            )
        }
        "slo.weekly.digest" => {
            let count = |key: &str| num_field(data, key).unwrap_or(0.0);
            let week = str_field(data, "weekOf").unwrap_or("this week").to_owned();
            facts.push(("Objectives", count("totalObjectives").to_string()));
            facts.push(("Breaching", count("breachingCount").to_string()));
            facts.push(("At risk", count("atRiskCount").to_string()));
            facts.push(("Healthy", count("healthyCount").to_string()));
            if let Some(worst) = performers(data.get("worstPerformers"), "budgetRemainingPercent") {
                facts.push(("Least budget left", worst));
            }
            if let Some(top) = performers(data.get("topPerformers"), "availability") {
                facts.push(("Most available", top));
            }
            (
                format!("Weekly SLO digest: week of {week}"),
                format!(
                    "Week of {week}: {} objectives, {} breaching, {} at risk, {} healthy.",
                    count("totalObjectives"),
                    count("breachingCount"),
                    count("atRiskCount"),
                    count("healthyCount")
                ),
                "0078D7",
            )
        }
        TEST_EVENT_TYPE => {
            let channel = context.channel_name.clone().unwrap_or_else(|| "this channel".into());
            facts.push(("Channel", channel.clone()));
            (
                "Test notification from slod".to_owned(),
                format!("This is a test notification for {channel}: slod can reach it."),
                "2EB886",
            )
        }
        other => (format!("{other}: {system}"), format!("{other} for {system}."), "0078D7"),
    };
    facts.push(("Event", event.event_type.to_owned()));
    facts.push(("Occurred", event.occurred_at.to_rfc3339()));
    Summary { title, sentence, color, facts }
}

fn achievement_label(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(raw)) => match AchievementType::parse(raw) {
            Some(kind) => {
                let def = kind.definition();
                format!("{} {}", def.emoji, def.label)
            }
            None => raw.clone(),
        },
        Some(Value::Object(map)) => {
            let text = |key: &str| map.get(key).and_then(Value::as_str);
            match (text("label"), text("type")) {
                (Some(label), _) => label.to_owned(),
                (None, Some(kind)) => achievement_label(Some(&Value::String(kind.to_owned()))),
                (None, None) => "an achievement".to_owned(),
            }
        }
        _ => "an achievement".to_owned(),
    }
}

/// `Name (12.5 %), Other (40.0 %)` from a digest's performer list.
fn performers(list: Option<&Value>, metric: &str) -> Option<String> {
    let items = list?.as_array()?;
    let parts: Vec<String> = items
        .iter()
        .filter_map(|item| {
            let name = str_field(item, "systemName").or(str_field(item, "systemId"))?;
            let value = num_field(item, metric)?;
            Some(format!("{name} ({})", budget(value)))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters (`<url|x>`
/// is a link); escaping them keeps names literal and link-free.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn slack_message(event: &Envelope<'_>, context: &RenderContext) -> Value {
    let summary = summarize(event, context);
    let title = slack_escape(&summary.title);
    let sentence = slack_escape(&summary.sentence);
    // Slack shows at most 10 fields per section.
    let fields: Vec<Value> = summary
        .facts
        .iter()
        .take(10)
        .map(|(name, value)| {
            json!({"type": "mrkdwn", "text": format!("*{name}*\n{}", slack_escape(value))})
        })
        .collect();
    json!({
        "text": format!("{title}: {sentence}"),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{title}*\n{sentence}")}},
            {"type": "section", "fields": fields},
        ],
    })
}

/// Teams renders card text as a subset of HTML/Markdown: escape the HTML.
fn teams_escape(text: &str) -> String {
    slack_escape(text)
}

fn teams_card(event: &Envelope<'_>, context: &RenderContext) -> Value {
    let summary = summarize(event, context);
    let facts: Vec<Value> = summary
        .facts
        .iter()
        .map(|(name, value)| json!({"name": name, "value": teams_escape(value)}))
        .collect();
    json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": teams_escape(&summary.title),
        "themeColor": summary.color,
        "title": teams_escape(&summary.title),
        "sections": [{"text": teams_escape(&summary.sentence), "facts": facts}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use slod_core::model::WindowDays;

    fn at() -> Timestamp {
        Timestamp::parse("2026-03-01T12:00:00Z").unwrap()
    }

    fn context() -> RenderContext {
        RenderContext {
            system_name: Some("Payments API".into()),
            objective: Some((99.9, WindowDays::parse(30).unwrap().into())),
            budget_remaining_percent: Some(12.5),
            channel_name: None,
        }
    }

    fn warning_data() -> Value {
        json!({"systemId": "pay", "objectiveId": "o1", "target": 99.9, "budgetRemainingPercent": 42.0})
    }

    #[test]
    fn webhook_sends_the_envelope_with_headers_and_signature() {
        let data = warning_data();
        let event =
            Envelope { id: "e1", event_type: "slo.budget.warning", occurred_at: at(), data: &data };
        let request = render(ChannelKind::Webhook, Some("k"), &event, &RenderContext::default());
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["id"], "e1");
        assert_eq!(body["type"], "slo.budget.warning");
        assert_eq!(body["occurredAt"], "2026-03-01T12:00:00.000Z");
        assert_eq!(body["data"], data);
        let header =
            |name: &str| request.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        assert_eq!(header("X-Slod-Event").as_deref(), Some("slo.budget.warning"));
        assert_eq!(header("X-Slod-Delivery").as_deref(), Some("e1"));
        let signature = header("X-Slod-Signature").unwrap();
        assert!(sign::verify(b"k", &request.body, &signature));
        let unsigned = render(ChannelKind::Webhook, None, &event, &RenderContext::default());
        assert!(unsigned.headers.iter().all(|(n, _)| *n != "X-Slod-Signature"));
    }

    #[test]
    fn slack_text_is_readable_and_link_free() {
        let data = warning_data();
        let event =
            Envelope { id: "e1", event_type: "slo.budget.warning", occurred_at: at(), data: &data };
        let mut context = context();
        context.system_name = Some("<http://evil|Payments>".into());
        let request = render(ChannelKind::Slack, Some("ignored"), &event, &context);
        let message: Value = serde_json::from_slice(&request.body).unwrap();
        let text = message["text"].as_str().unwrap();
        assert!(text.contains("&lt;http://evil|Payments&gt;"), "{text}");
        assert!(text.contains("99.9 % over 30 days"), "{text}");
        assert!(text.contains("42.0 % left"), "{text}");
        assert!(!text.contains('<'));
        assert!(request.headers.iter().all(|(n, _)| *n != "X-Slod-Signature"));
        assert_eq!(
            message["blocks"][1]["fields"][0]["text"],
            "*System*\n&lt;http://evil|Payments&gt;"
        );
    }

    #[test]
    fn teams_gets_a_message_card_with_the_same_facts() {
        let data =
            json!({"systemId": "pay", "objectiveId": "o1", "burnRate1h": 14.4, "burnRate5m": 20.0});
        let event =
            Envelope { id: "e2", event_type: "slo.burn.fast", occurred_at: at(), data: &data };
        let request = render(ChannelKind::Teams, None, &event, &context());
        let card: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(card["@type"], "MessageCard");
        assert_eq!(card["@context"], "https://schema.org/extensions");
        assert_eq!(card["title"], "Fast burn: Payments API");
        assert_eq!(card["themeColor"], "D13438");
        let facts = card["sections"][0]["facts"].as_array().unwrap();
        let fact = |name: &str| {
            facts
                .iter()
                .find(|f| f["name"] == name)
                .map(|f| f["value"].as_str().unwrap().to_owned())
        };
        assert_eq!(fact("System").as_deref(), Some("Payments API"));
        assert_eq!(fact("Objective").as_deref(), Some("99.9 % over 30 days"));
        assert_eq!(fact("Budget left").as_deref(), Some("12.5 %"));
        assert_eq!(fact("Burn rate (1 h)").as_deref(), Some("14.4x"));
    }

    #[test]
    fn a_burn_tier_alert_names_its_severity_windows_and_threshold() {
        let data = json!({"systemId": "pay", "objectiveId": "o1", "severity": "ticket",
            "longWindow": "72h", "shortWindow": "6h", "burnRateLong": 1.5,
            "burnRateShort": 3.0, "threshold": 1.0});
        let event =
            Envelope { id: "e3", event_type: "slo.burn.alert", occurred_at: at(), data: &data };
        let request = render(ChannelKind::Teams, None, &event, &context());
        let card: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(card["title"], "Burn-rate ticket: Payments API");
        assert_eq!(card["themeColor"], "FFA500");
        let facts = card["sections"][0]["facts"].to_string();
        assert!(facts.contains("1.5x over 72h"), "{facts}");
        assert!(facts.contains("3.0x over 6h"), "{facts}");
        assert!(facts.contains("\"Threshold\"") && facts.contains("1.0x"), "{facts}");
        let text = card.to_string();
        assert!(text.contains("at 1.5x over 72h and 3.0x over 6h, at or above 1.0x"), "{text}");
        let page = json!({"systemId": "pay", "objectiveId": "o1", "severity": "page",
            "longWindow": "1h", "shortWindow": "5m", "burnRateLong": 20.0,
            "burnRateShort": 40.0, "threshold": 14.4});
        let event =
            Envelope { id: "e4", event_type: "slo.burn.alert", occurred_at: at(), data: &page };
        let card: Value =
            serde_json::from_slice(&render(ChannelKind::Teams, None, &event, &context()).body)
                .unwrap();
        assert_eq!(card["title"], "Burn-rate page: Payments API");
        assert_eq!(card["themeColor"], "D13438");
    }

    #[test]
    fn every_event_type_renders_without_context() {
        let payloads = [
            (
                "slo.status.changed",
                json!({"systemId": "a", "objectiveId": "o", "budgetRemainingPercent": 50.0, "isBreaching": true}),
            ),
            ("slo.budget.critical", warning_data()),
            ("slo.budget.exhausted", json!({"systemId": "a", "objectiveId": "o", "target": 99.0})),
            (
                "slo.burn.alert",
                json!({"systemId": "a", "objectiveId": "o", "severity": "page", "longWindow": "1h",
                "shortWindow": "5m", "burnRateLong": 20.0, "burnRateShort": 40.0, "threshold": 14.4}),
            ),
            (
                "slo.streak.broken",
                json!({"systemId": "a", "objectiveId": "o", "streak": 12, "bestStreak": 30}),
            ),
            (
                "slo.achievement.unlocked",
                json!({"systemId": "a", "systemName": "Alpha", "achievement": "iron_uptime"}),
            ),
            (
                "slo.weekly.digest",
                json!({"weekOf": "2026-03-02", "totalObjectives": 3, "breachingCount": 1, "atRiskCount": 1, "healthyCount": 1,
                "topPerformers": [{"systemName": "Alpha", "availability": 100.0}],
                "worstPerformers": [{"systemName": "Beta", "budgetRemainingPercent": 3.25}]}),
            ),
            ("slo.test", json!({})),
            ("something.new", json!({"systemId": "a"})),
        ];
        for (event_type, data) in payloads {
            let event = Envelope { id: "e", event_type, occurred_at: at(), data: &data };
            for kind in ChannelKind::ALL {
                let request = render(kind, None, &event, &RenderContext::default());
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                assert!(body.is_object(), "{event_type} {kind:?}");
            }
            let summary = summarize(&event, &RenderContext::default());
            assert!(!summary.sentence.is_empty());
        }
        let data = json!({"systemId": "a", "systemName": "Alpha", "achievement": "iron_uptime"});
        let event = Envelope {
            id: "e",
            event_type: "slo.achievement.unlocked",
            occurred_at: at(),
            data: &data,
        };
        assert!(summarize(&event, &RenderContext::default()).sentence.contains("Iron"));
    }
}
