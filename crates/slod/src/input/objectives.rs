//! The request bodies of `/objectives` (SPEC §2, §9), shared by the API's
//! `POST`/`PATCH` and the dashboard's editor forms, which turn a form into
//! the same JSON and parse it here, so both accept exactly the same values.

use serde_json::Value;
use slod_core::burn_alerts::{BurnRateAlertTier, BurnRateAlerts, BurnWindow, Severity};
use slod_core::model::{
    DependencyExclusion, ObjectiveName, SystemId, Target, ValidationError, WindowDays,
};
use slod_core::time::Timestamp;
use slod_core::window::{self, Calendar, Window};

use super::fields::ObjectReader;
use super::FromJson;
use crate::service::objectives::{NewObjective, ObjectivePatch, ThresholdsPatch};

/// `POST /objectives` body.
pub struct CreateObjectiveRequest(pub NewObjective);

/// `PATCH /objectives/{id}` body.
pub struct UpdateObjectiveRequest(pub ObjectivePatch);

/// The fields create and update share, all optional.
struct CommonFields {
    name: Option<Option<ObjectiveName>>,
    health_check_configuration_id: Option<Option<String>>,
    dependency_exclusion: Option<DependencyExclusion>,
    excluded_dependency_ids: Option<Vec<SystemId>>,
    exclude_maintenance_windows: Option<bool>,
    burn_rate_thresholds: Option<ThresholdsPatch>,
    burn_rate_alerts: Option<BurnRateAlerts>,
    created_at: Option<Timestamp>,
}

/// `burnRateAlerts` (SPEC §12): an array of `{severity, longWindow,
/// shortWindow, budgetPercent}`, all four required, each error naming its
/// entry (`burnRateAlerts[1].shortWindow`).
fn burn_rate_alerts(
    body: &mut ObjectReader<'_>,
) -> Result<Option<BurnRateAlerts>, ValidationError> {
    let path = body.path("burnRateAlerts");
    let Some(items) = body.array("burnRateAlerts")? else { return Ok(None) };
    let mut tiers = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = format!("{path}[{index}]");
        let mut tier = ObjectReader::new(item, &field)?;
        let severity = tier.required("severity", ObjectReader::string)?;
        let severity = Severity::parse(severity).ok_or_else(|| {
            ValidationError::new(
                tier.path("severity"),
                format!("`{severity}` is not one of page, ticket"),
            )
        })?;
        let window = |tier: &mut ObjectReader<'_>, key: &'static str| {
            let raw = tier.required(key, ObjectReader::string)?;
            BurnWindow::parse(raw).ok_or_else(|| {
                ValidationError::new(
                    tier.path(key),
                    format!("`{raw}` is not a burn-rate window (5m, 30m, 1h, 6h, 24h or 72h)"),
                )
            })
        };
        let long_window = window(&mut tier, "longWindow")?;
        let short_window = window(&mut tier, "shortWindow")?;
        let budget_percent = tier.required("budgetPercent", ObjectReader::number)?;
        tier.finish()?;
        tiers.push(
            BurnRateAlertTier::new(severity, long_window, short_window, budget_percent)
                .validate(&field)?,
        );
    }
    BurnRateAlerts::parse(tiers).map(Some)
}

impl CommonFields {
    fn read(body: &mut ObjectReader<'_>) -> Result<Self, ValidationError> {
        let name = match body.nullable("name") {
            None => None,
            Some(None) => Some(None),
            Some(Some(Value::String(raw))) => Some(Some(ObjectiveName::parse(raw, "name")?)),
            Some(Some(other)) => {
                return Err(ValidationError::new(
                    "name",
                    format!("must be a string or null, not {}", super::fields::kind(other)),
                ))
            }
        };
        let health_check_configuration_id = match body.nullable("healthCheckConfigurationId") {
            None => None,
            Some(None) => Some(None),
            Some(Some(Value::String(raw))) => {
                let raw = raw.trim();
                if raw.is_empty() || raw.chars().count() > 200 {
                    return Err(ValidationError::new(
                        "healthCheckConfigurationId",
                        "must be 1 to 200 characters, or null",
                    ));
                }
                Some(Some(raw.to_owned()))
            }
            Some(Some(other)) => {
                return Err(ValidationError::new(
                    "healthCheckConfigurationId",
                    format!("must be a string or null, not {}", super::fields::kind(other)),
                ))
            }
        };
        let dependency_exclusion = body
            .string("dependencyExclusion")?
            .map(|raw| {
                DependencyExclusion::parse(raw).ok_or_else(|| {
                    ValidationError::new(
                        "dependencyExclusion",
                        format!("`{raw}` is not one of strict, self-only"),
                    )
                })
            })
            .transpose()?;
        let excluded_dependency_ids = body.system_ids("excludedDependencyIds")?;
        let exclude_maintenance_windows = body.boolean("excludeMaintenanceWindows")?;
        let burn_rate_thresholds = match body.object("burnRateThresholds")? {
            None => None,
            Some(mut thresholds) => {
                let patch = ThresholdsPatch {
                    warning_percent: thresholds.number("warningPercent")?,
                    critical_percent: thresholds.number("criticalPercent")?,
                    fast_burn_multiplier: thresholds.number("fastBurnMultiplier")?,
                };
                thresholds.finish()?;
                Some(patch)
            }
        };
        let burn_rate_alerts = burn_rate_alerts(body)?;
        let created_at = body.timestamp("createdAt")?;
        Ok(Self {
            name,
            health_check_configuration_id,
            dependency_exclusion,
            excluded_dependency_ids,
            exclude_maintenance_windows,
            burn_rate_thresholds,
            burn_rate_alerts,
            created_at,
        })
    }
}

/// `windowDays` and `calendar` (SPEC §2, §17): `None` when neither is
/// given (or both are null), a 400 naming `calendar` when both are.
fn read_window(body: &mut ObjectReader<'_>) -> Result<Option<Window>, ValidationError> {
    let days_given = body.value("windowDays").is_some();
    let calendar_given = body.value("calendar").is_some();
    if days_given && calendar_given {
        return Err(window::both());
    }
    if let Some(days) = body.integer("windowDays")? {
        return WindowDays::parse(days).map(|days| Some(Window::Rolling(days)));
    }
    let Some(mut calendar) = body.object("calendar")? else { return Ok(None) };
    let unit = calendar.required("unit", ObjectReader::string)?;
    let time_zone = calendar.required("timeZone", ObjectReader::string)?;
    let parsed = Calendar::parse(unit, time_zone)?;
    calendar.finish()?;
    Ok(Some(Window::Calendar(parsed)))
}

impl FromJson for CreateObjectiveRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        let system_id = body.required("systemId", ObjectReader::system_id)?;
        let target = Target::parse(body.required("target", ObjectReader::number)?)?;
        let window = body.required("windowDays", |body, _| read_window(body))?;
        let common = CommonFields::read(&mut body)?;
        body.finish()?;
        let defaults = slod_core::model::BurnRateThresholds::default();
        Ok(Self(NewObjective {
            name: common.name.flatten(),
            system_id,
            target,
            window,
            health_check_configuration_id: common.health_check_configuration_id.flatten(),
            dependency_exclusion: common.dependency_exclusion.unwrap_or_default(),
            excluded_dependency_ids: common.excluded_dependency_ids.unwrap_or_default(),
            exclude_maintenance_windows: common.exclude_maintenance_windows.unwrap_or(false),
            burn_rate_thresholds: common
                .burn_rate_thresholds
                .map_or(defaults, |patch| patch.apply_to(defaults)),
            burn_rate_alerts: common.burn_rate_alerts.unwrap_or_default(),
            created_at: common.created_at,
        }))
    }
}

impl FromJson for UpdateObjectiveRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        for fixed in ["id", "systemId"] {
            if body.contains(fixed) {
                return Err(ValidationError::new(
                    fixed,
                    "cannot be changed; create a new objective instead",
                ));
            }
        }
        let target = body.number("target")?.map(Target::parse).transpose()?;
        // A window replaces the other kind: `{"calendar": …}` makes a rolling
        // objective a calendar one and `{"windowDays": …}` the reverse. A
        // lone null would leave the objective without a window.
        let window = read_window(&mut body)?;
        if window.is_none() {
            for key in ["windowDays", "calendar"] {
                if body.contains(key) {
                    return Err(ValidationError::new(
                        key,
                        "cannot be null alone; give windowDays or calendar to change the window",
                    ));
                }
            }
        }
        let common = CommonFields::read(&mut body)?;
        body.finish()?;
        Ok(Self(ObjectivePatch {
            name: common.name,
            target,
            window,
            health_check_configuration_id: common.health_check_configuration_id,
            dependency_exclusion: common.dependency_exclusion,
            excluded_dependency_ids: common.excluded_dependency_ids,
            exclude_maintenance_windows: common.exclude_maintenance_windows,
            burn_rate_thresholds: common.burn_rate_thresholds,
            burn_rate_alerts: common.burn_rate_alerts,
            created_at: common.created_at,
        }))
    }
}
