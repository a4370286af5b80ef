//! The `POST /systems/{id}/corrections` body (SPEC §17).
//!
//! Fields are read and type-checked here, each error naming its field;
//! the rules that need the clock or the dependency graph (`start` not in
//! the future, `upstreamSystemId` a current direct upstream) are the
//! service's.

use serde_json::Value;
use slod_core::corrections::CorrectionKind;
use slod_core::model::ValidationError;

use super::fields::ObjectReader;
use super::FromJson;
// The type lives with the service that applies it.
pub use crate::service::corrections::CreateCorrectionRequest;

impl FromJson for CreateCorrectionRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        for field in ["id", "systemId", "author", "createdAt", "revokedAt", "revokedBy"] {
            if body.contains(field) {
                return Err(ValidationError::new(field, "cannot be set"));
            }
        }
        let start = body.required("start", ObjectReader::timestamp)?;
        let end = body.required("end", ObjectReader::timestamp)?;
        let kind = body.required("kind", ObjectReader::string)?.to_owned();
        let upstream = body.system_id("upstreamSystemId")?;
        let reason = body.required("reason", ObjectReader::string)?.to_owned();
        body.finish()?;
        let kind = CorrectionKind::parse(&kind, upstream)?;
        Ok(Self { start, end, kind, reason })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of(body: Value) -> String {
        match CreateCorrectionRequest::from_json(&body) {
            Ok(_) => "accepted".into(),
            Err(err) => err.field,
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let ok = json!({"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T01:00:00Z",
                        "kind": "false_positive", "reason": "probe lied"});
        assert_eq!(field_of(ok.clone()), "accepted");
        let with = |key: &str, value: Value| {
            let mut body = ok.clone();
            body[key] = value;
            field_of(body)
        };
        assert_eq!(with("start", json!("yesterday")), "start");
        assert_eq!(with("end", json!(5)), "end");
        assert_eq!(with("kind", json!("oops")), "kind");
        assert_eq!(with("reason", json!(null)), "reason");
        assert_eq!(with("upstreamSystemId", json!("db")), "upstreamSystemId");
        assert_eq!(with("kind", json!("upstream")), "upstreamSystemId");
        assert_eq!(with("author", json!("me")), "author");
        assert_eq!(with("extra", json!(1)), "extra");
        let mut upstream = ok.clone();
        upstream["kind"] = json!("upstream");
        upstream["upstreamSystemId"] = json!("db");
        assert_eq!(field_of(upstream), "accepted");
        assert_eq!(with("upstreamSystemId", json!(null)), "accepted", "null is absent");
    }
}
