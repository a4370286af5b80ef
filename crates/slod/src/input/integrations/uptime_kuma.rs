//! Uptime Kuma's webhook notification (SPEC §13).
//!
//! Uptime Kuma posts `{heartbeat, monitor, msg}` when a monitor goes down or
//! comes back, as JSON, or in its "form-data" mode as the JSON text of the
//! `data` part of a `multipart/form-data` body (the route also takes a
//! urlencoded `data=`, for proxies and scripts that re-post it):
//!
//! ```json
//! {"heartbeat": {"monitorID": 7, "status": 0, "time": "2026-03-01 10:00:00.123",
//!                "msg": "timeout", "important": true},
//!  "monitor": {"id": 7, "name": "Payments API", "type": "http"},
//!  "msg": "[Payments API] [🔴 Down] timeout"}
//! ```
//!
//! The heartbeat is one item on the check `uptime-kuma:<monitorID>`:
//! status 0 → `unhealthy`, 1 → `healthy`, 2 (pending) and 3 (maintenance)
//! ignored; `time` is UTC. A test notification has `heartbeat: null` and is
//! ignored.

use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::Value;
use slod_core::model::{HealthStatus, SystemId, ValidationError};
use slod_core::time::Timestamp;

use super::{check_id, from_json, slugged_system_id, system_name, IngestBatch, IngestItem};

/// The query options of the route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UptimeKumaOptions {
    /// `?systemId=`: the system every heartbeat of this webhook is about,
    /// instead of the monitor's name slugged.
    pub system_id: Option<SystemId>,
}

#[derive(Debug, Deserialize)]
struct Notification {
    /// Required, but `null` in a test notification; told apart from absent
    /// with the `Option<Option<…>>` below.
    #[serde(default, deserialize_with = "present")]
    heartbeat: Option<Option<Heartbeat>>,
    #[serde(default)]
    monitor: Option<Monitor>,
}

/// `Some(value)` whenever the key is present, `null` included.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize)]
struct Heartbeat {
    #[serde(rename = "monitorID")]
    monitor_id: Value,
    status: Value,
    time: String,
}

#[derive(Debug, Deserialize)]
struct Monitor {
    #[serde(default)]
    name: Option<String>,
}

/// Reads a notification's JSON text into items; `root` names the text in
/// errors (`body`, or `data` for the form modes).
pub fn parse(
    text: &[u8],
    root: &str,
    options: &UptimeKumaOptions,
) -> Result<IngestBatch, ValidationError> {
    let notification: Notification = from_json(text, root)?;
    let heartbeat = match notification.heartbeat {
        None => return Err(ValidationError::new("heartbeat", "is required")),
        // A test notification ("Test" in Uptime Kuma's notification dialog).
        Some(None) => return Ok(IngestBatch { items: Vec::new(), ignored: 1 }),
        Some(Some(heartbeat)) => heartbeat,
    };
    let monitor_id = match &heartbeat.monitor_id {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => {
            return Err(ValidationError::new(
                "heartbeat.monitorID",
                "must be the monitor's id (a number)",
            ))
        }
    };
    let status = match heartbeat.status.as_i64() {
        Some(0) => HealthStatus::Unhealthy,
        Some(1) => HealthStatus::Healthy,
        // Pending (retrying before calling it down) and maintenance say
        // nothing about the system's health.
        Some(2 | 3) => return Ok(IngestBatch { items: Vec::new(), ignored: 1 }),
        _ => {
            return Err(ValidationError::new(
                "heartbeat.status",
                format!(
                    "`{}` is not one of 0 (down), 1 (up), 2 (pending), 3 (maintenance)",
                    heartbeat.status
                ),
            ))
        }
    };
    let at = heartbeat_time(&heartbeat.time).ok_or_else(|| {
        ValidationError::new(
            "heartbeat.time",
            format!("`{}` is not a time like 2026-03-01 10:00:00.123 (UTC)", heartbeat.time),
        )
    })?;
    let monitor_name = notification.monitor.and_then(|m| m.name).filter(|n| !n.trim().is_empty());
    let (system_id, name) = match (&options.system_id, monitor_name) {
        (Some(id), name) => (id.clone(), name.unwrap_or_else(|| id.to_string())),
        (None, Some(name)) => (slugged_system_id(&name, "monitor.name")?, name),
        (None, None) => {
            return Err(ValidationError::new(
                "monitor.name",
                "is required to name the system (or give ?systemId=)",
            ))
        }
    };
    Ok(IngestBatch {
        items: vec![IngestItem {
            system_id,
            system_name: system_name(&name),
            check_id: check_id(
                super::UPTIME_KUMA_CHECK_PREFIX,
                &monitor_id,
                "heartbeat.monitorID",
            )?,
            status,
            at,
            field: "heartbeat".to_owned(),
        }],
        ignored: 0,
    })
}

/// `YYYY-MM-DD HH:mm:ss.SSS` in UTC (fraction optional), as Uptime Kuma
/// writes `heartbeat.time`; RFC 3339 is taken too.
fn heartbeat_time(raw: &str) -> Option<Timestamp> {
    let raw = raw.trim();
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|naive| Timestamp::from_millis(naive.and_utc().timestamp_millis()))
        .or_else(|| Timestamp::parse(raw).ok())
}

/// The `data` field of a urlencoded form, as Uptime Kuma's form-data mode
/// would send it if it were not multipart.
pub fn form_data_field(body: &[u8]) -> Result<String, ValidationError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|err| ValidationError::new("body", format!("is not a urlencoded form: {err}")))?;
    pairs
        .into_iter()
        .find(|(key, _)| key == "data")
        .map(|(_, value)| value)
        .ok_or_else(|| ValidationError::new("data", "is required (the notification as JSON)"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_value(body: &serde_json::Value) -> Result<IngestBatch, ValidationError> {
        parse(body.to_string().as_bytes(), "body", &UptimeKumaOptions::default())
    }

    fn notification(status: i64) -> serde_json::Value {
        json!({
            "heartbeat": {"monitorID": 7, "status": status, "time": "2026-03-01 10:00:00.123",
                          "msg": "", "important": true, "duration": 60},
            "monitor": {"id": 7, "name": "Payments API", "url": "https://pay.example"},
            "msg": "[Payments API] [🔴 Down]"
        })
    }

    #[test]
    fn down_and_up_map_to_unhealthy_and_healthy_at_the_heartbeat_time() {
        let batch = parse_value(&notification(0)).unwrap();
        let item = &batch.items[0];
        assert_eq!(item.system_id.as_str(), "payments-api");
        assert_eq!(item.system_name, "Payments API");
        assert_eq!(item.check_id.as_str(), "uptime-kuma:7");
        assert_eq!(item.status, HealthStatus::Unhealthy);
        assert_eq!(item.at.to_rfc3339(), "2026-03-01T10:00:00.123Z");
        assert_eq!(parse_value(&notification(1)).unwrap().items[0].status, HealthStatus::Healthy);
    }

    #[test]
    fn pending_maintenance_and_test_notifications_are_ignored() {
        for body in [
            notification(2),
            notification(3),
            json!({"heartbeat": null, "monitor": null, "msg": "Uptime Kuma test"}),
        ] {
            let batch = parse_value(&body).unwrap();
            assert_eq!((batch.items.len(), batch.ignored), (0, 1), "{body}");
        }
    }

    #[test]
    fn system_id_from_the_query_wins_over_the_monitor_name() {
        let options =
            UptimeKumaOptions { system_id: Some(SystemId::parse("pay", "systemId").unwrap()) };
        let batch = parse(notification(0).to_string().as_bytes(), "body", &options).unwrap();
        assert_eq!(batch.items[0].system_id.as_str(), "pay");
        assert_eq!(batch.items[0].system_name, "Payments API");
    }

    #[test]
    fn times_without_a_fraction_and_in_rfc_3339_are_read() {
        assert_eq!(
            heartbeat_time("2026-03-01 10:00:00").unwrap().to_rfc3339(),
            "2026-03-01T10:00:00.000Z"
        );
        assert_eq!(
            heartbeat_time("2026-03-01T11:00:00+01:00").unwrap().to_rfc3339(),
            "2026-03-01T10:00:00.000Z"
        );
        assert!(heartbeat_time("01/03/2026").is_none());
    }

    #[test]
    fn malformed_notifications_are_refused_naming_the_field() {
        let mut no_time = notification(0);
        no_time["heartbeat"].as_object_mut().unwrap().remove("time");
        let mut bad_time = notification(0);
        bad_time["heartbeat"]["time"] = json!("soon");
        let mut bad_status = notification(0);
        bad_status["heartbeat"]["status"] = json!("down");
        let mut no_monitor = notification(0);
        no_monitor.as_object_mut().unwrap().remove("monitor");
        let mut blank_name = notification(0);
        blank_name["monitor"]["name"] = json!("🔥🔥");
        let mut bad_id = notification(0);
        bad_id["heartbeat"]["monitorID"] = json!(null);
        let cases = [
            (no_time, "heartbeat.time"),
            (bad_time, "heartbeat.time"),
            (bad_status, "heartbeat.status"),
            (no_monitor, "monitor.name"),
            (blank_name, "monitor.name"),
            (bad_id, "heartbeat.monitorID"),
            (json!({"alerts": []}), "heartbeat"),
            (json!({"heartbeat": 5}), "heartbeat"),
        ];
        for (body, field) in cases {
            let err = parse_value(&body).unwrap_err();
            assert_eq!(err.field, field, "{body}: {err:?}");
        }
    }

    #[test]
    fn the_form_data_field_is_read_from_a_urlencoded_body() {
        assert_eq!(form_data_field(b"data=%7B%7D&x=1").unwrap(), "{}");
        assert_eq!(form_data_field(b"x=1").unwrap_err().field, "data");
    }
}
