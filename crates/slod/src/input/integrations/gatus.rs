//! Gatus's custom alerting provider (SPEC §13).
//!
//! Gatus sends whatever body its `alerting.custom` block says, with the
//! placeholders filled in; the README gives the block that makes it send
//!
//! ```json
//! {"endpoint": "[ENDPOINT_GROUP]/[ENDPOINT_NAME]", "status": "[ALERT_TRIGGERED_OR_RESOLVED]"}
//! ```
//!
//! which arrives as `{"endpoint": "core/api", "status": "TRIGGERED"}` (or
//! `"/api"` for an endpoint without a group). It is one item, at receipt,
//! on the check `gatus:<endpoint>` of the system the endpoint slugs to:
//! `TRIGGERED` → `unhealthy`, `RESOLVED` → `healthy`.

use serde::Deserialize;
use slod_core::model::{HealthStatus, ValidationError};
use slod_core::time::Timestamp;

use super::{check_id, from_json, slugged_system_id, system_name, IngestBatch, IngestItem};

#[derive(Debug, Deserialize)]
struct Alert {
    endpoint: String,
    status: String,
}

/// Reads an alert body into its item, received at `received`.
pub fn parse(body: &[u8], received: Timestamp) -> Result<IngestBatch, ValidationError> {
    let alert: Alert = from_json(body, "body")?;
    let status = match alert.status.trim().to_ascii_uppercase().as_str() {
        "TRIGGERED" => HealthStatus::Unhealthy,
        "RESOLVED" => HealthStatus::Healthy,
        _ => {
            return Err(ValidationError::new(
                "status",
                format!("`{}` is not one of TRIGGERED, RESOLVED", alert.status),
            ))
        }
    };
    // `[ENDPOINT_GROUP]/[ENDPOINT_NAME]` of an endpoint without a group.
    let endpoint = alert.endpoint.trim();
    let endpoint = endpoint.strip_prefix('/').unwrap_or(endpoint);
    let system_id = slugged_system_id(endpoint, "endpoint")?;
    Ok(IngestBatch {
        items: vec![IngestItem {
            system_id,
            system_name: system_name(endpoint),
            check_id: check_id(super::GATUS_CHECK_PREFIX, endpoint, "endpoint")?,
            status,
            at: received,
            field: "body".to_owned(),
        }],
        ignored: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(body: &str) -> Result<IngestBatch, ValidationError> {
        parse(body.as_bytes(), Timestamp::from_millis(1_000))
    }

    #[test]
    fn triggered_and_resolved_at_receipt() {
        let batch =
            parse_text(r#"{"endpoint": "core/Payments API", "status": "TRIGGERED"}"#).unwrap();
        let item = &batch.items[0];
        assert_eq!(item.system_id.as_str(), "core-payments-api");
        assert_eq!(item.system_name, "core/Payments API");
        assert_eq!(item.check_id.as_str(), "gatus:core/Payments API");
        assert_eq!((item.status, item.at.millis()), (HealthStatus::Unhealthy, 1_000));
        let batch = parse_text(r#"{"endpoint": "/api", "status": "RESOLVED"}"#).unwrap();
        assert_eq!(batch.items[0].status, HealthStatus::Healthy);
        assert_eq!(
            (batch.items[0].system_id.as_str(), batch.items[0].check_id.as_str()),
            ("api", "gatus:api")
        );
    }

    #[test]
    fn malformed_alerts_are_refused_naming_the_field() {
        for (body, field) in [
            (r#"{"endpoint": "api", "status": "[ALERT_TRIGGERED_OR_RESOLVED]"}"#, "status"),
            (r#"{"endpoint": "api"}"#, "status"),
            (r#"{"status": "RESOLVED"}"#, "endpoint"),
            (r#"{"endpoint": "/", "status": "RESOLVED"}"#, "endpoint"),
            (r#"{"endpoint": 3, "status": "RESOLVED"}"#, "endpoint"),
            ("endpoint=api", "body"),
        ] {
            let err = parse_text(body).unwrap_err();
            assert_eq!(err.field, field, "{body}: {err:?}");
        }
    }
}
