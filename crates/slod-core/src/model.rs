//! Validated domain types (SPEC §1, §2).
//!
//! Everything here is parsed from raw input once, at the edge, and cannot be
//! invalid afterwards: a `SystemId` always matches the id alphabet, an
//! `Objective` always has a finite target in 0..=100 and a window that cannot
//! overflow date arithmetic.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::{Timestamp, MINUTE_MS};
use crate::window::Window;

/// A bad field, in the caller's terms: which field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// A system id: 1–200 characters of `A-Z a-z 0-9 . _ : -`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SystemId(String);

impl SystemId {
    pub fn parse(raw: &str, field: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.chars().count() > 200 {
            return Err(ValidationError::new(field, "must be 1 to 200 characters"));
        }
        if let Some(bad) =
            raw.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
        {
            return Err(ValidationError::new(
                field,
                format!("contains {bad:?}; only A-Z a-z 0-9 . _ : - are allowed"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wraps a value read back from storage, which was validated on the way in.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SystemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An objective's id: the UUID slod gave it when it was created. Ids only
/// come from [`ObjectiveId::generate`], from storage, or from a caller's
/// text through [`ObjectiveId::parse`]. Deserializing reads slod's own
/// stored JSON (digests, outbox payloads), so it trusts the value as
/// [`ObjectiveId::from_trusted`] does: databases seeded by `slod-bench` hold
/// ids that are not UUIDs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectiveId(String);

impl ObjectiveId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// A caller's id, in the hyphenated form slod hands out.
    pub fn parse(raw: &str, field: &str) -> Result<Self, ValidationError> {
        match uuid::Uuid::try_parse(raw) {
            Ok(id) if raw.len() == 36 => Ok(Self(id.to_string())),
            _ => Err(ValidationError::new(field, "must be an objective id (a UUID)")),
        }
    }

    /// Wraps a value read back from storage, which slod generated.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectiveId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reading an id as text is always fine; only making one is guarded.
impl std::ops::Deref for ObjectiveId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ObjectiveId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ObjectiveId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ObjectiveId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ObjectiveId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<ObjectiveId> for String {
    fn from(id: ObjectiveId) -> String {
        id.0
    }
}

/// The id of one check of a system (SPEC §12): what a report's `checkId`
/// names, 1–200 characters, trimmed. Reports that name no check belong to
/// the unnamed check `""` ([`CheckId::unnamed`]), the one every report of
/// the first release went to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct CheckId(String);

impl CheckId {
    /// Parses a named check: trimmed, then 1 to 200 characters.
    pub fn parse(raw: &str, field: &str) -> Result<Self, ValidationError> {
        let id = raw.trim();
        if id.is_empty() || id.chars().count() > 200 {
            return Err(ValidationError::new(field, "must be 1 to 200 characters, not blank"));
        }
        Ok(Self(id.to_owned()))
    }

    /// The check of reports that name none.
    pub fn unnamed() -> Self {
        Self(String::new())
    }

    /// Wraps a value read back from storage, which was validated on the way in.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn is_unnamed(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A system's display name: trimmed, 1–200 characters, not blank.
pub fn parse_system_name(raw: &str, field: &str) -> Result<String, ValidationError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ValidationError::new(field, "must not be blank"));
    }
    if name.chars().count() > 200 {
        return Err(ValidationError::new(field, "must be at most 200 characters"));
    }
    Ok(name.to_owned())
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "healthy" => Some(Self::Healthy),
            "degraded" => Some(Self::Degraded),
            "unhealthy" => Some(Self::Unhealthy),
            _ => None,
        }
    }

    pub fn is_down(self) -> bool {
        self != Self::Healthy
    }
}

/// Who reported a health status (SPEC §1, §12).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportSource {
    Healthcheck,
    Incident,
}

impl ReportSource {
    pub const ALL: [ReportSource; 2] = [Self::Healthcheck, Self::Incident];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthcheck => "healthcheck",
            Self::Incident => "incident",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "healthcheck" => Some(Self::Healthcheck),
            "incident" => Some(Self::Incident),
            _ => None,
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum DependencyExclusion {
    #[default]
    #[serde(rename = "strict")]
    Strict,
    #[serde(rename = "self-only")]
    SelfOnly,
}

impl DependencyExclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::SelfOnly => "self-only",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "strict" => Some(Self::Strict),
            "self-only" => Some(Self::SelfOnly),
            _ => None,
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BurnRateThresholds {
    pub warning_percent: f64,
    pub critical_percent: f64,
    pub fast_burn_multiplier: f64,
}

impl Default for BurnRateThresholds {
    fn default() -> Self {
        Self { warning_percent: 50.0, critical_percent: 80.0, fast_burn_multiplier: 5.0 }
    }
}

impl BurnRateThresholds {
    pub fn validate(self) -> Result<Self, ValidationError> {
        for (name, value) in [
            ("burnRateThresholds.warningPercent", self.warning_percent),
            ("burnRateThresholds.criticalPercent", self.critical_percent),
        ] {
            if !value.is_finite() || !(0.0..=100.0).contains(&value) {
                return Err(ValidationError::new(name, "must be a number from 0 to 100"));
            }
        }
        if !self.fast_burn_multiplier.is_finite() || self.fast_burn_multiplier < 1.0 {
            return Err(ValidationError::new(
                "burnRateThresholds.fastBurnMultiplier",
                "must be a number of at least 1",
            ));
        }
        Ok(self)
    }
}

pub const MAX_WINDOW_DAYS: u32 = 3650;

/// An availability target in percent: a finite number from 0 to 100.
///
/// Serialized as the bare JSON number; deserializing runs [`Target::parse`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Target(f64);

impl Target {
    pub fn parse(raw: f64) -> Result<Self, ValidationError> {
        if !raw.is_finite() || !(0.0..=100.0).contains(&raw) {
            return Err(ValidationError::new("target", "must be a number from 0 to 100"));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Target {
    type Error = ValidationError;

    fn try_from(raw: f64) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<Target> for f64 {
    fn from(target: Target) -> Self {
        target.0
    }
}

/// Lets a `Target` compare with a plain number, as tests and thresholds do.
impl PartialEq<f64> for Target {
    fn eq(&self, other: &f64) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A rolling window: whole days from 1 to [`MAX_WINDOW_DAYS`], so that
/// window arithmetic in milliseconds cannot overflow.
///
/// Serialized as the bare JSON integer; deserializing runs
/// [`WindowDays::parse`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct WindowDays(u32);

impl WindowDays {
    pub fn parse(days: i64) -> Result<Self, ValidationError> {
        match u32::try_from(days) {
            Ok(days) if (1..=MAX_WINDOW_DAYS).contains(&days) => Ok(Self(days)),
            _ => Err(ValidationError::new(
                "windowDays",
                format!("must be a whole number of days from 1 to {MAX_WINDOW_DAYS}"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The window's length in milliseconds.
    pub fn millis(self) -> i64 {
        i64::from(self.0) * crate::time::DAY_MS
    }
}

impl TryFrom<i64> for WindowDays {
    type Error = ValidationError;

    fn try_from(days: i64) -> Result<Self, Self::Error> {
        Self::parse(days)
    }
}

impl From<WindowDays> for u32 {
    fn from(days: WindowDays) -> Self {
        days.0
    }
}

impl PartialEq<u32> for WindowDays {
    fn eq(&self, other: &u32) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for WindowDays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An objective's optional unique name (SPEC §14): 1–63 characters of
/// `a-z 0-9 -`, the shape of an OpenSLO `metadata.name`, so that files can
/// refer to an objective and `slod apply` can find it again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
#[serde(try_from = "String", into = "String")]
pub struct ObjectiveName(String);

impl ObjectiveName {
    pub fn parse(raw: &str, field: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.len() > 63 {
            return Err(ValidationError::new(field, "must be 1 to 63 characters"));
        }
        if let Some(bad) =
            raw.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(ValidationError::new(
                field,
                format!("contains {bad:?}; only a-z 0-9 - are allowed"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ObjectiveName {
    type Error = ValidationError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw, "name")
    }
}

impl From<ObjectiveName> for String {
    fn from(name: ObjectiveName) -> Self {
        name.0
    }
}

impl fmt::Display for ObjectiveName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `createdAt` may lie in the past (importing history) but never more than
/// five minutes ahead of `now` (SPEC §2).
pub fn validate_created_at(
    created_at: Timestamp,
    now: Timestamp,
) -> Result<Timestamp, ValidationError> {
    if created_at > now.plus_millis(5 * MINUTE_MS) {
        return Err(ValidationError::new(
            "createdAt",
            "must not be more than 5 minutes in the future",
        ));
    }
    Ok(created_at)
}

/// An SLO as stored and served (SPEC §2); the JSON shape is the seed's.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    pub id: ObjectiveId,
    /// Unique among objectives when set (SPEC §14).
    pub name: Option<ObjectiveName>,
    pub system_id: SystemId,
    pub health_check_configuration_id: Option<String>,
    pub target: Target,
    /// `windowDays` and `calendar` in JSON, exactly one of them non-null.
    #[serde(flatten)]
    pub window: Window,
    pub dependency_exclusion: DependencyExclusion,
    pub excluded_dependency_ids: Vec<SystemId>,
    pub exclude_maintenance_windows: bool,
    pub burn_rate_thresholds: BurnRateThresholds,
    /// SPEC §12's multiwindow tiers; the three defaults unless set.
    #[serde(default)]
    pub burn_rate_alerts: crate::burn_alerts::BurnRateAlerts,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Objective {
    /// Where the window of a status at `at` begins: `windowDays` before
    /// `at`, or the start of the calendar period containing `at`.
    pub fn window_start(&self, at: Timestamp) -> Timestamp {
        self.window.start(at)
    }

    /// The whole window's length for a status at `at`, in milliseconds: the
    /// rolling days, or the calendar period's length (DST included).
    pub fn window_ms_at(&self, at: Timestamp) -> i64 {
        self.window.length_ms(at)
    }

    /// The check this objective follows (SPEC §12), `None` when it follows
    /// the whole system.
    pub fn bound_check(&self) -> Option<&str> {
        self.health_check_configuration_id.as_deref()
    }

    /// Whether downtime while `upstream` is down may be excused as upstream's.
    pub fn excuses(&self, upstream: &SystemId) -> bool {
        self.dependency_exclusion == DependencyExclusion::SelfOnly
            && !self.excluded_dependency_ids.contains(upstream)
    }
}

/// Who a stretch of downtime is charged to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attribution {
    SelfCaused,
    Upstream { system_id: SystemId, system_name: String },
}

impl Attribution {
    pub fn type_str(&self) -> &'static str {
        match self {
            Self::SelfCaused => "self",
            Self::Upstream { .. } => "upstream",
        }
    }

    pub fn upstream_id(&self) -> Option<&SystemId> {
        match self {
            Self::SelfCaused => None,
            Self::Upstream { system_id, .. } => Some(system_id),
        }
    }
}

/// A downtime interval `[start_time, end_time)` charged to one objective.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DowntimeEvent {
    pub id: String,
    pub objective_id: ObjectiveId,
    pub system_id: SystemId,
    pub start_time: Timestamp,
    pub end_time: Option<Timestamp>,
    pub attribution: Attribution,
    pub source: ReportSource,
}

impl DowntimeEvent {
    pub fn duration_ms(&self) -> Option<i64> {
        self.end_time.map(|end| end.millis() - self.start_time.millis())
    }
}

/// A monitored system as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    pub id: SystemId,
    pub name: String,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objective_ids_are_uuids() {
        let fresh = ObjectiveId::generate();
        assert_eq!(ObjectiveId::parse(fresh.as_str(), "id").unwrap(), fresh);
        assert!(ObjectiveId::parse("7226b455-df09-4119-b62e-8600f0b11fcb", "id").is_ok());
        assert_eq!(ObjectiveId::parse("", "id").unwrap_err().field, "id");
        assert!(ObjectiveId::parse("obj-1", "id").is_err());
        // The simple (unhyphenated) form is a UUID but not one slod hands out.
        assert!(ObjectiveId::parse("7226b455df094119b62e8600f0b11fcb", "id").is_err());
        let json = serde_json::to_string(&fresh).unwrap();
        assert_eq!(serde_json::from_str::<ObjectiveId>(&json).unwrap(), fresh);
    }

    #[test]
    fn system_ids_follow_the_alphabet() {
        assert!(SystemId::parse("api.prod:eu-1_a", "id").is_ok());
        assert_eq!(SystemId::parse("", "id").unwrap_err().field, "id");
        assert!(SystemId::parse("a b", "id").is_err());
        assert!(SystemId::parse("é", "id").is_err());
        assert!(SystemId::parse(&"a".repeat(200), "id").is_ok());
        assert!(SystemId::parse(&"a".repeat(201), "id").is_err());
    }

    #[test]
    fn check_ids_are_trimmed_and_bounded() {
        assert_eq!(CheckId::parse(" http ", "checkId").unwrap().as_str(), "http");
        assert_eq!(CheckId::parse("   ", "checkId").unwrap_err().field, "checkId");
        assert!(CheckId::parse("", "checkId").is_err());
        assert!(CheckId::parse(&"é".repeat(200), "checkId").is_ok());
        assert!(CheckId::parse(&"a".repeat(201), "checkId").is_err());
        assert!(CheckId::unnamed().is_unnamed());
        assert!(!CheckId::parse("x", "checkId").unwrap().is_unnamed());
    }

    #[test]
    fn names_are_trimmed_and_not_blank() {
        assert_eq!(parse_system_name("  API  ", "name").unwrap(), "API");
        assert!(parse_system_name("   ", "name").is_err());
        assert!(parse_system_name(&"x".repeat(201), "name").is_err());
    }

    #[test]
    fn bounded_numbers_keep_their_json_shape() {
        let target: Target = serde_json::from_str("99.9").unwrap();
        assert_eq!(serde_json::to_string(&target).unwrap(), "99.9");
        assert_eq!(serde_json::to_string(&Target::parse(100.0).unwrap()).unwrap(), "100.0");
        assert!(serde_json::from_str::<Target>("100.5").is_err());
        let days: WindowDays = serde_json::from_str("30").unwrap();
        assert_eq!(serde_json::to_string(&days).unwrap(), "30");
        assert!(serde_json::from_str::<WindowDays>("0").is_err());
        assert!(serde_json::from_str::<WindowDays>("1.5").is_err());
    }

    #[test]
    fn objective_names_are_short_lowercase_labels() {
        assert_eq!(
            ObjectiveName::parse("api-availability-2", "name").unwrap().as_str(),
            "api-availability-2"
        );
        assert!(ObjectiveName::parse(&"a".repeat(63), "name").is_ok());
        assert_eq!(ObjectiveName::parse(&"a".repeat(64), "name").unwrap_err().field, "name");
        assert!(ObjectiveName::parse("", "name").is_err());
        assert_eq!(
            ObjectiveName::parse("Api", "metadata.name").unwrap_err().to_string(),
            "metadata.name: contains 'A'; only a-z 0-9 - are allowed"
        );
        assert!(ObjectiveName::parse("a_b", "name").is_err());
        assert!(serde_json::from_str::<ObjectiveName>("\"a b\"").is_err());
    }

    #[test]
    fn objective_limits() {
        assert!(Target::parse(f64::NAN).is_err());
        assert!(Target::parse(100.5).is_err());
        assert!(Target::parse(-0.1).is_err());
        assert_eq!(Target::parse(100.0).unwrap().get(), 100.0);
        assert!(WindowDays::parse(0).is_err());
        assert!(WindowDays::parse(3651).is_err());
        assert_eq!(WindowDays::parse(3650).unwrap().get(), 3650);
        assert_eq!(
            Target::parse(-1.0).unwrap_err().to_string(),
            "target: must be a number from 0 to 100"
        );
        assert_eq!(
            WindowDays::parse(i64::from(u32::MAX) + 1).unwrap_err().to_string(),
            "windowDays: must be a whole number of days from 1 to 3650"
        );
        let t = BurnRateThresholds { fast_burn_multiplier: 0.5, ..Default::default() };
        assert_eq!(t.validate().unwrap_err().field, "burnRateThresholds.fastBurnMultiplier");
    }
}
