//! Prometheus Alertmanager's webhook, payload version 4 (SPEC §13).
//!
//! Alertmanager posts a group of alerts at a time and re-sends the whole
//! group every `repeat_interval`, firing and resolved alerts alike:
//!
//! ```json
//! {"version": "4", "status": "firing", "receiver": "slod", "groupKey": "…",
//!  "alerts": [{"status": "firing", "labels": {"alertname": "Down",
//!   "system": "api", "severity": "critical"}, "annotations": {},
//!   "startsAt": "2026-03-01T10:00:00.123456789Z",
//!   "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "c4a5a7f2b4e0d1c3"}]}
//! ```
//!
//! Each alert is one item on the check `alertmanager:<fingerprint>` of the
//! system its `?label=` label names: firing → `unhealthy` (or `degraded`
//! for the `?degraded=` severities) at `startsAt`, resolved → `healthy` at
//! `endsAt`. An alert without the label is ignored.

use std::collections::BTreeMap;

use serde::Deserialize;
use slod_core::model::{HealthStatus, SystemId, ValidationError};
use slod_core::time::Timestamp;

use super::{check_id, from_json, slugged_system_id, system_name, IngestBatch, IngestItem};

/// The label naming the system unless `?label=` says otherwise.
pub const DEFAULT_LABEL: &str = "system";
/// The severities that make a firing alert `degraded` unless `?degraded=`
/// says otherwise.
pub const DEFAULT_DEGRADED: [&str; 2] = ["warning", "info"];

/// The query options of the route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerOptions {
    /// The label whose value is the system id (`?label=`).
    pub label: String,
    /// Severities (lower-cased) that make a firing alert `degraded`.
    pub degraded: Vec<String>,
}

impl Default for AlertmanagerOptions {
    fn default() -> Self {
        Self {
            label: DEFAULT_LABEL.to_owned(),
            degraded: DEFAULT_DEGRADED.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl AlertmanagerOptions {
    /// `?degraded=warning,info`: comma-separated, blanks dropped; empty means
    /// every firing alert is `unhealthy`.
    pub fn parse_degraded(raw: &str) -> Vec<String> {
        raw.split(',').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect()
    }
}

/// The parts of the webhook body slod reads; the rest (`groupKey`,
/// `commonLabels`, `externalURL`, annotations…) is ignored.
#[derive(Debug, Deserialize)]
struct Webhook {
    #[serde(default)]
    version: Option<String>,
    alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    status: String,
    labels: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    fingerprint: String,
}

/// Reads a webhook body into items.
pub fn parse(body: &[u8], options: &AlertmanagerOptions) -> Result<IngestBatch, ValidationError> {
    let webhook: Webhook = from_json(body, "body")?;
    if let Some(version) = webhook.version.as_deref() {
        if version != "4" {
            return Err(ValidationError::new(
                "version",
                format!("`{version}` is not a webhook payload version slod reads (4)"),
            ));
        }
    }
    let mut batch = IngestBatch::default();
    for (index, alert) in webhook.alerts.into_iter().enumerate() {
        match item(alert, &format!("alerts[{index}]"), options)? {
            Some(item) => batch.items.push(item),
            None => batch.ignored += 1,
        }
    }
    Ok(batch)
}

/// One alert as an item; `None` when it does not carry the system label.
fn item(
    alert: Alert,
    path: &str,
    options: &AlertmanagerOptions,
) -> Result<Option<IngestItem>, ValidationError> {
    let field = |name: &str| format!("{path}.{name}");
    // Checked before the label, so a malformed alert is refused whether or
    // not it names a system.
    let check_id =
        check_id(super::ALERTMANAGER_CHECK_PREFIX, &alert.fingerprint, &field("fingerprint"))?;
    let (status, at) = match alert.status.as_str() {
        "firing" => {
            let severity = alert.labels.get("severity").map(|s| s.trim().to_lowercase());
            let status = match severity {
                Some(severity) if options.degraded.contains(&severity) => HealthStatus::Degraded,
                _ => HealthStatus::Unhealthy,
            };
            (status, timestamp(alert.starts_at.as_deref(), &field("startsAt"))?)
        }
        "resolved" => {
            (HealthStatus::Healthy, timestamp(alert.ends_at.as_deref(), &field("endsAt"))?)
        }
        other => {
            return Err(ValidationError::new(
                field("status"),
                format!("`{other}` is not one of firing, resolved"),
            ))
        }
    };
    let Some(value) = alert.labels.get(&options.label).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let label_field = format!("{path}.labels.{}", options.label);
    // A label value that already is a system id is taken as it is, so
    // `system="db.primary"` reaches the system made through the API;
    // anything else (`system="Payments API"`) is slugged.
    let system_id = match SystemId::parse(value, &label_field) {
        Ok(id) => id,
        Err(_) => slugged_system_id(value, &label_field)?,
    };
    let name = alert.labels.get("system_name").filter(|n| !n.trim().is_empty()).unwrap_or(value);
    Ok(Some(IngestItem {
        system_id,
        system_name: system_name(name),
        check_id,
        status,
        at,
        field: path.to_owned(),
    }))
}

fn timestamp(raw: Option<&str>, field: &str) -> Result<Timestamp, ValidationError> {
    let raw = raw.ok_or_else(|| ValidationError::new(field, "is required"))?;
    Timestamp::parse(raw).map_err(|err| ValidationError::new(field, err.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_value(body: serde_json::Value) -> Result<IngestBatch, ValidationError> {
        parse(body.to_string().as_bytes(), &AlertmanagerOptions::default())
    }

    fn alert(status: &str, labels: serde_json::Value) -> serde_json::Value {
        json!({
            "status": status,
            "labels": labels,
            "annotations": {"summary": "x"},
            "startsAt": "2026-03-01T10:00:00.123456789Z",
            "endsAt": "2026-03-01T10:30:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": "c4a5a7f2b4e0d1c3"
        })
    }

    #[test]
    fn firing_is_unhealthy_at_starts_at_and_resolved_healthy_at_ends_at() {
        let batch = parse_value(json!({"version": "4", "alerts": [
            alert("firing", json!({"system": "api", "severity": "critical"})),
            alert("resolved", json!({"system": "api"})),
        ]}))
        .unwrap();
        let [firing, resolved] = &batch.items[..] else { panic!("{batch:?}") };
        assert_eq!(firing.status, HealthStatus::Unhealthy);
        assert_eq!(firing.at.to_rfc3339(), "2026-03-01T10:00:00.123Z");
        assert_eq!(firing.check_id.as_str(), "alertmanager:c4a5a7f2b4e0d1c3");
        assert_eq!(firing.field, "alerts[0]");
        assert_eq!(resolved.status, HealthStatus::Healthy);
        assert_eq!(resolved.at.to_rfc3339(), "2026-03-01T10:30:00.000Z");
    }

    #[test]
    fn warning_and_info_severities_are_degraded_unless_told_otherwise() {
        let body = json!({"alerts": [
            alert("firing", json!({"system": "api", "severity": "warning"})),
            alert("firing", json!({"system": "api", "severity": "Info"})),
            alert("firing", json!({"system": "api", "severity": "page"})),
        ]});
        let statuses = |options: &AlertmanagerOptions| {
            parse(body.to_string().as_bytes(), options)
                .unwrap()
                .items
                .iter()
                .map(|i| i.status)
                .collect::<Vec<_>>()
        };
        use HealthStatus::{Degraded, Unhealthy};
        assert_eq!(statuses(&AlertmanagerOptions::default()), [Degraded, Degraded, Unhealthy]);
        let page = AlertmanagerOptions {
            degraded: AlertmanagerOptions::parse_degraded(" page, ,"),
            ..AlertmanagerOptions::default()
        };
        assert_eq!(statuses(&page), [Unhealthy, Unhealthy, Degraded]);
        let none = AlertmanagerOptions {
            degraded: AlertmanagerOptions::parse_degraded(""),
            ..AlertmanagerOptions::default()
        };
        assert_eq!(statuses(&none), [Unhealthy, Unhealthy, Unhealthy]);
    }

    #[test]
    fn alerts_without_the_label_are_ignored() {
        let body = json!({"alerts": [
            alert("firing", json!({"service": "api"})),
            alert("firing", json!({"system": ""})),
            alert("firing", json!({"system": "db"})),
        ]});
        let batch = parse_value(body.clone()).unwrap();
        assert_eq!((batch.items.len(), batch.ignored), (1, 2));
        let by_service =
            AlertmanagerOptions { label: "service".into(), ..AlertmanagerOptions::default() };
        let batch = parse(body.to_string().as_bytes(), &by_service).unwrap();
        assert_eq!((batch.items.len(), batch.ignored), (1, 2));
        assert_eq!(batch.items[0].system_id.as_str(), "api");
    }

    #[test]
    fn ids_are_taken_as_they_are_or_slugged_and_names_come_from_system_name() {
        let batch = parse_value(json!({"alerts": [
            alert("firing", json!({"system": "db.primary"})),
            alert("firing", json!({"system": "Payments API", "system_name": "Payments (EU)"})),
        ]}))
        .unwrap();
        let ids: Vec<_> = batch.items.iter().map(|i| i.system_id.as_str()).collect();
        assert_eq!(ids, ["db.primary", "payments-api"]);
        assert_eq!(batch.items[0].system_name, "db.primary");
        assert_eq!(batch.items[1].system_name, "Payments (EU)");
    }

    #[test]
    fn a_label_value_that_slugs_to_nothing_is_refused_naming_it() {
        let err =
            parse_value(json!({"alerts": [alert("firing", json!({"system": "¿?"}))]})).unwrap_err();
        assert_eq!(err.field, "alerts[0].labels.system");
    }

    #[test]
    fn malformed_alerts_are_refused_naming_item_and_field() {
        let mut no_fingerprint = alert("firing", json!({"system": "api"}));
        no_fingerprint.as_object_mut().unwrap().remove("fingerprint");
        let mut bad_start = alert("firing", json!({"system": "api"}));
        bad_start["startsAt"] = json!("yesterday");
        let mut no_end = alert("resolved", json!({"system": "api"}));
        no_end.as_object_mut().unwrap().remove("endsAt");
        let ok = alert("firing", json!({"system": "api"}));
        let cases = [
            (json!({"alerts": [ok.clone(), no_fingerprint]}), "alerts[1].fingerprint"),
            (json!({"alerts": [ok.clone(), bad_start]}), "alerts[1].startsAt"),
            (json!({"alerts": [no_end]}), "alerts[0].endsAt"),
            (json!({"alerts": [alert("pending", json!({}))]}), "alerts[0].status"),
            (json!({"alerts": [alert("firing", json!({"system": 1}))]}), "alerts[0].labels.system"),
            (json!({"alerts": {}}), "alerts"),
            (json!({"endpoint": "api", "status": "TRIGGERED"}), "alerts"),
            (json!({"version": "3", "alerts": []}), "version"),
            (json!([]), "body"),
        ];
        for (body, field) in cases {
            let err = parse_value(body.clone()).unwrap_err();
            assert_eq!(err.field, field, "{body}: {err:?}");
        }
    }
}
