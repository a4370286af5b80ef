//! Reading request bodies field by field.
//!
//! Request types are parsed from a `serde_json::Value` with an
//! [`ObjectReader`] rather than by derived `Deserialize`, so that every
//! wrong value comes back naming its full path (`reports[3].status`,
//! `burnRateThresholds.warningPercent`) and unknown fields are refused by
//! name. serde's own errors say "invalid type … at line 1 column 40", which
//! a caller cannot act on.
//!
//! ```
//! use slod::input::fields::ObjectReader;
//! use serde_json::json;
//!
//! let body = json!({"name": "API", "extra": 1});
//! let mut reader = ObjectReader::new(&body, "").unwrap();
//! assert_eq!(reader.string("name").unwrap(), Some("API"));
//! assert_eq!(reader.finish().unwrap_err().field, "extra");
//! ```

use serde_json::{Map, Value};
use slod_core::model::{SystemId, ValidationError};
use slod_core::time::Timestamp;

/// A JSON object being read; remembers which keys were asked for.
pub struct ObjectReader<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
    known: Vec<&'static str>,
}

impl<'a> ObjectReader<'a> {
    /// `path` is where the object sits (`""` for the body itself).
    pub fn new(value: &'a Value, path: &str) -> Result<Self, ValidationError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                prefix: if path.is_empty() { String::new() } else { format!("{path}.") },
                known: Vec::new(),
            }),
            other => Err(ValidationError::new(
                if path.is_empty() { "body" } else { path },
                format!("must be a JSON object, not {}", kind(other)),
            )),
        }
    }

    /// The full path of `key`, for error messages.
    pub fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn error(&self, key: &str, message: impl Into<String>) -> ValidationError {
        ValidationError::new(self.path(key), message)
    }

    /// Whether `key` is present (even as `null`).
    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The raw value of `key`; `null` reads as absent.
    pub fn value(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Like [`value`](Self::value), but tells `null` (`Some(None)`) from
    /// absent (`None`), for fields that can be cleared.
    pub fn nullable(&mut self, key: &'static str) -> Option<Option<&'a Value>> {
        self.known.push(key);
        self.map.get(key).map(|v| if v.is_null() { None } else { Some(v) })
    }

    /// Marks `key` as understood without reading it, so that [`finish`]
    /// does not call it unknown (for fields refused with a better message).
    ///
    /// [`finish`]: Self::finish
    pub fn allow(&mut self, key: &'static str) {
        self.known.push(key);
    }

    pub fn required<T>(
        &mut self,
        key: &'static str,
        read: impl FnOnce(&mut Self, &'static str) -> Result<Option<T>, ValidationError>,
    ) -> Result<T, ValidationError> {
        read(self, key)?.ok_or_else(|| self.error(key, "is required"))
    }

    pub fn string(&mut self, key: &'static str) -> Result<Option<&'a str>, ValidationError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.error(key, format!("must be a string, not {}", kind(other)))),
        }
    }

    pub fn number(&mut self, key: &'static str) -> Result<Option<f64>, ValidationError> {
        match self.value(key) {
            None => Ok(None),
            Some(value) => number(value).map(Some).map_err(|m| self.error(key, m)),
        }
    }

    /// A whole number; `30.0` is accepted, `1.5` is not.
    pub fn integer(&mut self, key: &'static str) -> Result<Option<i64>, ValidationError> {
        match self.value(key) {
            None => Ok(None),
            Some(value) => integer(value).map(Some).map_err(|m| self.error(key, m)),
        }
    }

    pub fn boolean(&mut self, key: &'static str) -> Result<Option<bool>, ValidationError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => {
                Err(self.error(key, format!("must be true or false, not {}", kind(other))))
            }
        }
    }

    pub fn array(&mut self, key: &'static str) -> Result<Option<&'a [Value]>, ValidationError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.error(key, format!("must be an array, not {}", kind(other)))),
        }
    }

    pub fn object(
        &mut self,
        key: &'static str,
    ) -> Result<Option<ObjectReader<'a>>, ValidationError> {
        let path = self.path(key);
        self.value(key).map(|value| ObjectReader::new(value, &path)).transpose()
    }

    pub fn timestamp(&mut self, key: &'static str) -> Result<Option<Timestamp>, ValidationError> {
        match self.string(key)? {
            None => Ok(None),
            Some(text) => {
                Timestamp::parse(text).map(Some).map_err(|e| self.error(key, e.to_string()))
            }
        }
    }

    pub fn system_id(&mut self, key: &'static str) -> Result<Option<SystemId>, ValidationError> {
        let path = self.path(key);
        self.string(key)?.map(|raw| SystemId::parse(raw, &path)).transpose()
    }

    /// An array of system ids, each checked (`excludedDependencyIds[2]`);
    /// duplicates are dropped, first occurrence kept.
    pub fn system_ids(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Vec<SystemId>>, ValidationError> {
        let path = self.path(key);
        let Some(items) = self.array(key)? else { return Ok(None) };
        let mut ids: Vec<SystemId> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let field = format!("{path}[{index}]");
            let Value::String(raw) = item else {
                return Err(ValidationError::new(
                    field,
                    format!("must be a string, not {}", kind(item)),
                ));
            };
            let id = SystemId::parse(raw, &field)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(Some(ids))
    }

    /// Refuses any key nobody asked for.
    pub fn finish(self) -> Result<(), ValidationError> {
        match self.map.keys().find(|key| !self.known.contains(&key.as_str())) {
            Some(unknown) => Err(ValidationError::new(self.path(unknown), "is not a known field")),
            None => Ok(()),
        }
    }
}

fn number(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => {
            n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| "must be a finite number".into())
        }
        other => Err(format!("must be a number, not {}", kind(other))),
    }
}

fn integer(value: &Value) -> Result<i64, String> {
    let Value::Number(n) = value else {
        return Err(format!("must be a whole number, not {}", kind(value)));
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 => Ok(saturating_whole(f)),
        _ => Err("must be a whole number".into()),
    }
}

/// A whole `f64` as an `i64`, saturating: an absurdly large whole number is
/// then refused by the field's range check, which gives the better message.
/// There is no `TryFrom<f64>` for `i64`; a float-to-int `as` saturates at
/// the bounds and `f` has no fraction, so nothing is silently cut off.
#[allow(clippy::cast_possible_truncation)]
fn saturating_whole(f: f64) -> i64 {
    f as i64
}

/// How a value reads in an error message.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_name_the_full_path() {
        let body = json!({"t": {"w": "x"}});
        let mut reader = ObjectReader::new(&body, "reports[2]").unwrap();
        let mut inner = reader.object("t").unwrap().unwrap();
        let err = inner.number("w").unwrap_err();
        assert_eq!(err.field, "reports[2].t.w");
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(integer(&json!(30)).unwrap(), 30);
        assert_eq!(integer(&json!(30.0)).unwrap(), 30);
        assert!(integer(&json!(1.5)).is_err());
        assert!(integer(&json!("30")).is_err());
        assert_eq!(integer(&json!(1e300)).unwrap(), i64::MAX);
    }

    #[test]
    fn null_reads_as_absent_unless_nullable() {
        let body = json!({"a": null});
        let mut reader = ObjectReader::new(&body, "").unwrap();
        assert_eq!(reader.string("a").unwrap(), None);
        assert_eq!(reader.nullable("a"), Some(None));
        assert_eq!(reader.nullable("b"), None);
        reader.finish().unwrap();
    }

    #[test]
    fn system_ids_are_checked_and_deduplicated() {
        let body = json!({"ids": ["a", "b", "a"], "bad": ["ok", "no way"]});
        let mut reader = ObjectReader::new(&body, "").unwrap();
        let ids = reader.system_ids("ids").unwrap().unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(reader.system_ids("bad").unwrap_err().field, "bad[1]");
    }
}
