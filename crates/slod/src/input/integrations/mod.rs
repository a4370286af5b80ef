//! The payloads of the monitors people already run (SPEC §13), read into
//! [`IngestBatch`]es: one [`IngestItem`] per alert or heartbeat, mapped to
//! a system, a check and a status.
//!
//! - [`alertmanager`]: Prometheus Alertmanager's webhook (v4 payload).
//! - [`uptime_kuma`]: Uptime Kuma's webhook notification (JSON, or its
//!   "form-data" mode's `data` part).
//! - [`gatus`]: Gatus's custom alerting provider, with the body the README
//!   tells users to configure.
//!
//! The shapes are read with derived `Deserialize` (unknown fields are the
//! tools' business and pass silently) through `serde_path_to_error`, so a
//! payload missing what the format requires is refused naming the item and
//! field (`alerts[3].fingerprint`), never with serde's "at line 1 column
//! 40". The values the mapping needs (statuses, timestamps, names) are then
//! checked here, each error naming its field too. Nothing here touches
//! storage or the clock: what depends on now (an item in the future) or on
//! stored state (an unknown system, a stale item) is the service's
//! ([`crate::service::ingest`]).
//!
//! ```
//! use slod::input::integrations::slug;
//!
//! assert_eq!(slug("Payments API (EU)").as_deref(), Ok("payments-api-eu"));
//! assert!(slug("¡¿!?").is_err());
//! ```

pub mod alertmanager;
pub mod gatus;
pub mod uptime_kuma;

use serde::de::DeserializeOwned;
use slod_core::model::{CheckId, SystemId, ValidationError};

pub use crate::service::ingest::{IngestBatch, IngestItem};

/// The check ids each tool's items report on start with these (SPEC §13),
/// so a reader can tell where a check's reports come from
/// ([`reporter`]).
pub const ALERTMANAGER_CHECK_PREFIX: &str = "alertmanager:";
pub const UPTIME_KUMA_CHECK_PREFIX: &str = "uptime-kuma:";
pub const GATUS_CHECK_PREFIX: &str = "gatus:";

/// Who sends a check's reports, read from its id: the tool and what it
/// calls the check (`("Alertmanager", "alert 62071ca53fed0125")`), or
/// `POST /health` for the unnamed check and any other id.
pub fn reporter(check_id: &str) -> (&'static str, String) {
    if let Some(fingerprint) = check_id.strip_prefix(ALERTMANAGER_CHECK_PREFIX) {
        ("Alertmanager", format!("alert {fingerprint}"))
    } else if let Some(monitor) = check_id.strip_prefix(UPTIME_KUMA_CHECK_PREFIX) {
        ("Uptime Kuma", format!("monitor {monitor}"))
    } else if let Some(endpoint) = check_id.strip_prefix(GATUS_CHECK_PREFIX) {
        ("Gatus", format!("endpoint {endpoint}"))
    } else if check_id.is_empty() {
        ("POST /health", "reports naming no check".to_owned())
    } else {
        ("POST /health", format!("check {check_id}"))
    }
}

/// The longest system id and check id slod keeps (SPEC §1, §12).
const MAX_ID_CHARS: usize = 200;

/// A name as a system id (SPEC §13): lower-cased, every run of characters
/// other than `a-z0-9` turned into one `-`, leading and trailing `-`
/// trimmed. A name that slugs to nothing (or to more than 200 characters)
/// has no id; the error says why, for the caller to name the field.
pub fn slug(name: &str) -> Result<String, String> {
    let mut slug = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if gap && !slug.is_empty() {
                slug.push('-');
            }
            gap = false;
            slug.push(c);
        } else {
            gap = true;
        }
    }
    if slug.is_empty() {
        return Err(format!("`{name}` has no letter or digit to make a system id of"));
    }
    if slug.len() > MAX_ID_CHARS {
        return Err(format!("makes a system id of {} characters; at most 200 fit", slug.len()));
    }
    Ok(slug)
}

/// The system id `name` slugs to; the error names `field`.
pub(crate) fn slugged_system_id(name: &str, field: &str) -> Result<SystemId, ValidationError> {
    let slug = slug(name).map_err(|message| ValidationError::new(field, message))?;
    SystemId::parse(&slug, field)
}

/// The check `prefix` + `raw`, cut to the 200 characters a check id may
/// have; the error (for a `raw` that is blank) names `field`.
pub(crate) fn check_id(prefix: &str, raw: &str, field: &str) -> Result<CheckId, ValidationError> {
    if raw.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let id: String = format!("{prefix}{}", raw.trim()).chars().take(MAX_ID_CHARS).collect();
    CheckId::parse(&id, field)
}

/// The system name of an item: `raw` trimmed, at most 200 characters
/// (longer names are cut rather than refused: the name is only a label).
pub(crate) fn system_name(raw: &str) -> String {
    raw.trim().chars().take(MAX_ID_CHARS).collect()
}

/// Reads `T` from JSON text; an error names the field (`alerts[3].labels`)
/// and says what was wrong. `root` names the text itself (`body`, or the
/// form field it came in).
pub(crate) fn from_json<T: DeserializeOwned>(
    text: &[u8],
    root: &str,
) -> Result<T, ValidationError> {
    let not_json =
        |err: &serde_json::Error| ValidationError::new(root, format!("is not valid JSON: {err}"));
    // serde reads a struct from an array too (`[1]` fails at `[0]`); every
    // payload here is an object, so say that.
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde_json::Value>(text) {
            Ok(value) => ValidationError::new(
                root,
                format!("must be a JSON object, not {}", super::fields::kind(&value)),
            ),
            Err(err) => not_json(&err),
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let inner = err.inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return not_json(inner);
        }
        let message = without_position(&inner.to_string());
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        // serde names the object a required field is missing from; name the
        // field itself.
        if let Some(missing) =
            message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'))
        {
            let field =
                if path.is_empty() { missing.to_owned() } else { format!("{path}.{missing}") };
            return ValidationError::new(field, "is required");
        }
        ValidationError::new(if path.is_empty() { root.to_owned() } else { path }, message)
    })?;
    // Text after the value (`{…} trailing`) is not JSON either.
    deserializer.end().map_err(|err| not_json(&err))?;
    Ok(value)
}

/// serde_json's message without its " at line 1 column 40", which means
/// nothing to a sender once the field is named.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn slugs_lower_case_and_collapse_runs() {
        assert_eq!(slug("API").unwrap(), "api");
        assert_eq!(slug("  Payments -- API / EU  ").unwrap(), "payments-api-eu");
        assert_eq!(slug("core/api").unwrap(), "core-api");
        assert_eq!(slug("/api").unwrap(), "api");
        assert_eq!(slug("db.primary_1").unwrap(), "db-primary-1");
        assert_eq!(slug("Überweisung 2").unwrap(), "berweisung-2");
        assert_eq!(slug("a").unwrap(), "a");
    }

    #[test]
    fn a_name_without_letters_or_digits_has_no_slug() {
        assert!(slug("").is_err());
        assert!(slug(" - / ").is_err());
        assert!(slug("日本").is_err());
    }

    #[test]
    fn a_slug_longer_than_an_id_is_refused() {
        assert_eq!(slug(&"a".repeat(200)).unwrap().len(), 200);
        assert!(slug(&"a".repeat(201)).is_err());
        // Runs collapse before the length is judged.
        assert_eq!(slug(&format!("{}!!!!!!!!", "a".repeat(199))).unwrap().len(), 199);
    }

    #[test]
    fn slugs_are_valid_system_ids() {
        for name in ["Payments API", "x", "9 lives", "a__b..c"] {
            assert!(slugged_system_id(name, "name").is_ok(), "{name}");
        }
        assert_eq!(slugged_system_id("!!", "monitor.name").unwrap_err().field, "monitor.name");
    }

    #[test]
    fn the_reporter_of_a_check_is_read_from_its_prefix() {
        assert_eq!(reporter("alertmanager:62071ca5"), ("Alertmanager", "alert 62071ca5".into()));
        assert_eq!(reporter("uptime-kuma:7"), ("Uptime Kuma", "monitor 7".into()));
        assert_eq!(reporter("gatus:core/api"), ("Gatus", "endpoint core/api".into()));
        assert_eq!(reporter(""), ("POST /health", "reports naming no check".into()));
        assert_eq!(reporter("http"), ("POST /health", "check http".into()));
    }

    #[test]
    fn check_ids_are_cut_to_200_characters() {
        assert_eq!(check_id("gatus:", " api ", "f").unwrap().as_str(), "gatus:api");
        assert_eq!(
            check_id("gatus:", &"é".repeat(300), "f").unwrap().as_str().chars().count(),
            200
        );
        assert_eq!(check_id("gatus:", " ", "endpoint").unwrap_err().field, "endpoint");
    }

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[allow(dead_code)]
        items: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn errors_name_the_item_and_field() {
        let err = from_json::<Outer>(br#"{"items": [{"name": "a"}, {}]}"#, "body").unwrap_err();
        assert_eq!((err.field.as_str(), err.message.as_str()), ("items[1].name", "is required"));
        let err = from_json::<Outer>(br#"{"items": [{"name": 3}]}"#, "body").unwrap_err();
        assert_eq!(err.field, "items[0].name");
        assert!(!err.message.contains("line"), "{}", err.message);
        let err = from_json::<Outer>(br#"{}"#, "body").unwrap_err();
        assert_eq!(err.field, "items");
        let err = from_json::<Outer>(b"[1]", "body").unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("body", "must be a JSON object, not an array")
        );
        let err = from_json::<Outer>(b"", "body").unwrap_err();
        assert_eq!(err.field, "body");
        let err = from_json::<Outer>(b"{not json", "data").unwrap_err();
        assert_eq!(err.field, "data");
        let err = from_json::<Outer>(br#"{"items": []} trailing"#, "body").unwrap_err();
        assert_eq!(err.field, "body");
    }
}
