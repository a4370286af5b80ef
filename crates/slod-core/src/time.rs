//! Instants and spans, kept to the millisecond (SPEC §9).
//!
//! `Timestamp` is milliseconds since the Unix epoch in UTC. It is what every
//! store column and every engine rule works in; it renders as RFC 3339 with
//! millisecond precision and a `Z` suffix.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 timestamp (e.g. 2026-01-31T12:00:00Z)")]
pub struct TimestampParseError(pub String);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 with any offset; the result is the same instant in UTC,
    /// truncated to the millisecond.
    pub fn parse(text: &str) -> Result<Self, TimestampParseError> {
        DateTime::parse_from_rfc3339(text.trim())
            .map(|dt| Self(dt.timestamp_millis()))
            .map_err(|_| TimestampParseError(text.to_owned()))
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        // Every i64 millisecond value that `parse` or arithmetic on real dates
        // produces is inside chrono's range; fall back to the epoch otherwise.
        Utc.timestamp_millis_opt(self.0).single().unwrap_or_default()
    }

    pub fn to_rfc3339(self) -> String {
        self.to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    pub fn minus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_sub(ms))
    }

    /// The UTC midnight at or before this instant.
    pub fn midnight_floor(self) -> Self {
        Self(self.0.div_euclid(DAY_MS) * DAY_MS)
    }

    /// The UTC calendar date of this instant.
    pub fn date(self) -> NaiveDate {
        self.to_datetime().date_naive()
    }

    /// Midnight (00:00 UTC) of `date`.
    pub fn from_date(date: NaiveDate) -> Self {
        Self(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

// On the wire a timestamp is an RFC 3339 string (SPEC §9).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples([serde_json::json!("2026-03-01T12:00:00.000Z")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_millisecond_precision() {
        let t = Timestamp::parse("2026-03-01T10:15:30.123456+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T08:15:30.123Z");
    }

    #[test]
    fn rejects_garbage() {
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("2026-03-01").is_err());
    }

    #[test]
    fn midnight_floor_is_utc() {
        let t = Timestamp::parse("2026-03-01T23:59:59.999Z").unwrap();
        assert_eq!(t.midnight_floor().to_rfc3339(), "2026-03-01T00:00:00.000Z");
        let before_epoch = Timestamp::from_millis(-1);
        assert_eq!(before_epoch.midnight_floor().millis(), -DAY_MS);
    }
}
