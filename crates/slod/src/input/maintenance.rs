//! The `/maintenance-windows` create and update bodies (SPEC §12).
//!
//! Fields are read and type-checked here, each error naming its field; the
//! rules that tie them together (`end` after `start`, at most 31 days, the
//! recurrence fitting `start`) are `slod_core::maintenance`'s, applied by the
//! service once a patch is merged into the stored window.

use serde_json::Value;
use slod_core::maintenance::Recurrence;
use slod_core::model::{parse_system_name, ValidationError};

use super::fields::{kind, ObjectReader};
use super::FromJson;
// The types live with the service that applies them (the service layer
// imports nothing above it); this module only reads them from JSON.
pub use crate::service::maintenance::{CreateMaintenanceRequest, UpdateMaintenanceRequest};

/// Reads `recurrence`: an RRULE string, or `null` for none.
fn recurrence(body: &mut ObjectReader<'_>) -> Result<Option<Option<Recurrence>>, ValidationError> {
    match body.nullable("recurrence") {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(Value::String(raw))) => Ok(Some(Some(Recurrence::parse(raw)?))),
        Some(Some(other)) => Err(ValidationError::new(
            "recurrence",
            format!("must be an RRULE string or null, not {}", kind(other)),
        )),
    }
}

fn title(raw: &str) -> Result<String, ValidationError> {
    parse_system_name(raw, "title")
}

/// Fields the server owns, refused by name rather than as unknown.
fn refuse_read_only(body: &ObjectReader<'_>) -> Result<(), ValidationError> {
    for field in ["id", "systemId", "status"] {
        if body.contains(field) {
            return Err(ValidationError::new(field, "cannot be set"));
        }
    }
    Ok(())
}

impl FromJson for CreateMaintenanceRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        refuse_read_only(&body)?;
        let title = title(body.required("title", ObjectReader::string)?)?;
        let start = body.required("start", ObjectReader::timestamp)?;
        let end = body.required("end", ObjectReader::timestamp)?;
        let recurrence = recurrence(&mut body)?.flatten();
        body.finish()?;
        Ok(Self { title, start, end, recurrence })
    }
}

impl FromJson for UpdateMaintenanceRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        refuse_read_only(&body)?;
        let title = body.string("title")?.map(title).transpose()?;
        let start = body.timestamp("start")?;
        let end = body.timestamp("end")?;
        let recurrence = recurrence(&mut body)?;
        let cancelled = body.boolean("cancelled")?;
        body.finish()?;
        Ok(Self { title, start, end, recurrence, cancelled })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of<T: FromJson>(body: Value) -> String {
        match T::from_json(&body) {
            Ok(_) => "accepted".into(),
            Err(err) => err.field,
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let ok =
            json!({"title": "t", "start": "2026-03-02T02:00:00Z", "end": "2026-03-02T03:00:00Z"});
        assert_eq!(field_of::<CreateMaintenanceRequest>(ok), "accepted");
        assert_eq!(
            field_of::<CreateMaintenanceRequest>(
                json!({"start": "2026-03-02T02:00:00Z", "end": "2026-03-02T03:00:00Z"})
            ),
            "title"
        );
        assert_eq!(
            field_of::<CreateMaintenanceRequest>(
                json!({"title": 3, "start": "2026-03-02T02:00:00Z", "end": "2026-03-02T03:00:00Z"})
            ),
            "title"
        );
        assert_eq!(
            field_of::<CreateMaintenanceRequest>(
                json!({"title": "t", "start": "soon", "end": "2026-03-02T03:00:00Z"})
            ),
            "start"
        );
        assert_eq!(
            field_of::<CreateMaintenanceRequest>(
                json!({"title": "t", "start": "2026-03-02T02:00:00Z"})
            ),
            "end"
        );
        assert_eq!(
            field_of::<CreateMaintenanceRequest>(
                json!({"title": "t", "start": "2026-03-02T02:00:00Z", "end": "2026-03-02T03:00:00Z", "recurrence": "FREQ=MONTHLY"})
            ),
            "recurrence"
        );
        assert_eq!(
            field_of::<CreateMaintenanceRequest>(
                json!({"title": "t", "start": "2026-03-02T02:00:00Z", "end": "2026-03-02T03:00:00Z", "recurrence": 7})
            ),
            "recurrence"
        );
        assert_eq!(
            field_of::<CreateMaintenanceRequest>(
                json!({"title": "t", "start": "2026-03-02T02:00:00Z", "end": "2026-03-02T03:00:00Z", "colour": "red"})
            ),
            "colour"
        );
        assert_eq!(field_of::<UpdateMaintenanceRequest>(json!({"cancelled": "yes"})), "cancelled");
        assert_eq!(field_of::<UpdateMaintenanceRequest>(json!({"systemId": "x"})), "systemId");
        assert_eq!(field_of::<UpdateMaintenanceRequest>(json!({"recurrence": null})), "accepted");
    }
}
