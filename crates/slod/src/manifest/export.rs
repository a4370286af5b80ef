//! `slod export` and `GET /export` (SPEC §14): every named objective, and
//! the systems they belong to, written back as documents `slod apply`
//! reads, so that applying an export to an empty database reproduces the
//! same objectives.
//!
//! Systems are OpenSLO `Service` documents in both formats (Checkstack has
//! no kind of its own for them). In the OpenSLO format the settings
//! OpenSLO has no field for (dependency exclusion, excluded upstreams,
//! maintenance windows, the health check, burn-rate thresholds) travel
//! as `metadata.annotations` under `slod/`, which `apply` reads back; an
//! objective with slod's defaults has none.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use slod_core::model::{BurnRateThresholds, DependencyExclusion, Objective, System};
use slod_core::window::{CalendarUnit, Window};

use super::document::{round, CHECKSTACK_V1ALPHA1, OPENSLO_V1};

/// The annotation keys of the OpenSLO export.
pub const ANNOTATION_DEPENDENCY_EXCLUSION: &str = "slod/dependency-exclusion";
pub const ANNOTATION_EXCLUDED_DEPENDENCIES: &str = "slod/excluded-dependencies";
pub const ANNOTATION_EXCLUDE_MAINTENANCE: &str = "slod/exclude-maintenance-windows";
pub const ANNOTATION_HEALTH_CHECK: &str = "slod/health-check";
pub const ANNOTATION_BURN_RATE: &str = "slod/burn-rate-thresholds";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    OpenSlo,
    Checkstack,
}

impl ExportFormat {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "openslo" => Some(Self::OpenSlo),
            "checkstack" => Some(Self::Checkstack),
            _ => None,
        }
    }
}

/// The export as one YAML stream.
pub fn export(systems: &[System], objectives: &[Objective], format: ExportFormat) -> String {
    let named: Vec<&Objective> = objectives.iter().filter(|o| o.name.is_some()).collect();
    let wanted: BTreeSet<&str> = named.iter().map(|o| o.system_id.as_str()).collect();
    let mut documents: Vec<Value> = systems
        .iter()
        .filter(|s| wanted.contains(s.id.as_str()))
        .map(|s| {
            json!({
                "apiVersion": OPENSLO_V1,
                "kind": "Service",
                "metadata": {"name": s.id, "displayName": s.name},
            })
        })
        .collect();
    for objective in named {
        documents.push(match format {
            ExportFormat::OpenSlo => openslo(objective),
            ExportFormat::Checkstack => checkstack(objective),
        });
    }
    let mut out = String::new();
    for document in &documents {
        out.push_str("---\n");
        emit(&mut out, document, 0);
    }
    out
}

fn openslo(o: &Objective) -> Value {
    let mut annotations = Map::new();
    if o.dependency_exclusion != DependencyExclusion::default() {
        annotations.insert(ANNOTATION_DEPENDENCY_EXCLUSION.into(), json!(o.dependency_exclusion));
    }
    if !o.excluded_dependency_ids.is_empty() {
        let ids: Vec<&str> = o.excluded_dependency_ids.iter().map(|id| id.as_str()).collect();
        annotations.insert(ANNOTATION_EXCLUDED_DEPENDENCIES.into(), json!(ids.join(",")));
    }
    if o.exclude_maintenance_windows {
        annotations.insert(ANNOTATION_EXCLUDE_MAINTENANCE.into(), json!("true"));
    }
    if let Some(check) = &o.health_check_configuration_id {
        annotations.insert(ANNOTATION_HEALTH_CHECK.into(), json!(check));
    }
    let t = o.burn_rate_thresholds;
    if t != BurnRateThresholds::default() {
        annotations.insert(
            ANNOTATION_BURN_RATE.into(),
            json!(format!(
                "{},{},{}",
                t.warning_percent, t.critical_percent, t.fast_burn_multiplier
            )),
        );
    }
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(o.name));
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), Value::Object(annotations));
    }
    json!({
        "apiVersion": OPENSLO_V1,
        "kind": "SLO",
        "metadata": metadata,
        "spec": {
            "service": o.system_id,
            // slod counts good minutes over the window's minutes.
            "budgetingMethod": "Timeslices",
            "timeWindow": [openslo_window(o.window)],
            "objectives": [{"target": round(o.target.get() / 100.0)}],
        },
    })
}

/// OpenSLO v1's time window: rolling days, or a calendar-aligned period
/// (SPEC §17). OpenSLO wants a `startTime` for the latter; slod's periods
/// start at the unit's own boundaries, and 1 January 2024 (a Monday) is
/// one for every unit.
fn openslo_window(window: Window) -> Value {
    match window {
        Window::Rolling(days) => json!({"duration": format!("{days}d"), "isRolling": true}),
        Window::Calendar(calendar) => {
            let duration = match calendar.unit {
                CalendarUnit::Week => "1w",
                CalendarUnit::Month => "1M",
                CalendarUnit::Quarter => "1Q",
                CalendarUnit::Year => "1Y",
            };
            json!({
                "duration": duration,
                "isRolling": false,
                "calendar": {
                    "startTime": CALENDAR_START_TIME,
                    "timeZone": calendar.time_zone.name(),
                },
            })
        }
    }
}

/// The `startTime` the OpenSLO export gives every calendar window.
pub const CALENDAR_START_TIME: &str = "2024-01-01 00:00:00";

fn checkstack(o: &Objective) -> Value {
    let mut spec = Map::new();
    spec.insert("systemRef".into(), json!({"name": o.system_id}));
    if let Some(check) = &o.health_check_configuration_id {
        spec.insert("healthcheckRef".into(), json!({"name": check}));
    }
    spec.insert("target".into(), json!(o.target));
    match o.window {
        Window::Rolling(days) => spec.insert("windowDays".into(), json!(days)),
        Window::Calendar(calendar) => spec.insert("calendar".into(), json!(calendar)),
    };
    spec.insert("dependencyExclusion".into(), json!(o.dependency_exclusion));
    let refs: Vec<Value> = o.excluded_dependency_ids.iter().map(|id| json!({"name": id})).collect();
    spec.insert("excludedDependencyRefs".into(), Value::Array(refs));
    spec.insert("excludeMaintenanceWindows".into(), json!(o.exclude_maintenance_windows));
    spec.insert("burnRateThresholds".into(), json!(o.burn_rate_thresholds));
    json!({
        "apiVersion": CHECKSTACK_V1ALPHA1,
        "kind": "SLO",
        "metadata": {"name": o.name},
        "spec": spec,
    })
}

/// Block-style YAML for a JSON value. Text is written plain when the YAML
/// core schema reads it back as the same text, else as a JSON string
/// (which is a valid YAML double-quoted scalar).
fn emit(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in ordered(map) {
                out.push_str(&format!("{pad}{}:", scalar(&Value::String(key.clone()))));
                block(out, item, indent);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // The first key on the dash's line, the rest under it.
                        let mut first = true;
                        for (key, inner) in ordered(map) {
                            if first {
                                out.push_str(&format!(" {}:", scalar(&Value::String(key.clone()))));
                                first = false;
                            } else {
                                out.push_str(&format!(
                                    "{pad}  {}:",
                                    scalar(&Value::String(key.clone()))
                                ));
                            }
                            block(out, inner, indent + 2);
                        }
                    }
                    other => block(out, other, indent),
                }
            }
        }
        other => {
            out.push_str(&format!("{pad}{}\n", scalar(other)));
        }
    }
}

/// The value after `key:` or `-`: inline for scalars and empty containers,
/// on the next lines otherwise.
fn block(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            emit(out, value, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            emit(out, value, indent + 2);
        }
        other => out.push_str(&format!(" {}\n", scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) if plain_is_safe(text) => text.clone(),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
        other => other.to_string(),
    }
}

/// Whether `text` reads back as itself, unquoted: only characters with no
/// meaning in YAML, and not something the core schema reads as a number,
/// a boolean or null (`30d` is plain, `30`, `true` and `1e3` are quoted).
fn plain_is_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else { return false };
    first.is_ascii_alphanumeric()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && super::source::resolve_plain(text) == Value::String(text.to_owned())
}

/// Keys in the order the formats' documentation writes them; others after,
/// alphabetically.
const KEY_ORDER: [&str; 28] = [
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "displayName",
    "annotations",
    "spec",
    "service",
    "systemRef",
    "healthcheckRef",
    "budgetingMethod",
    "timeWindow",
    "duration",
    "isRolling",
    "calendar",
    "unit",
    "startTime",
    "timeZone",
    "objectives",
    "target",
    "windowDays",
    "dependencyExclusion",
    "excludedDependencyRefs",
    "excludeMaintenanceWindows",
    "burnRateThresholds",
    "warningPercent",
    "criticalPercent",
    "fastBurnMultiplier",
];

fn ordered(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    let rank = |key: &str| KEY_ORDER.iter().position(|k| *k == key).unwrap_or(KEY_ORDER.len());
    entries.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::source::{parse, Format};

    #[test]
    fn emitted_yaml_reads_back_as_the_same_values() {
        let value = json!({
            "apiVersion": "openslo/v1",
            "metadata": {"name": "a-b", "displayName": "Web shop: EU", "annotations": {}},
            "spec": {"list": [{"duration": "30d", "isRolling": true}, {"x": 1}], "empty": [],
                     "n": 0.999, "yes": "true", "num": "12", "nothing": null, "quote": "it's \"x\"",
                     "days": "30d", "exp": "1e3", "dash": "-x", "colon": "a: b", "hash": "a #b"},
        });
        let mut text = String::new();
        emit(&mut text, &value, 0);
        let back = parse("x.yaml", &text, Format::Yaml).unwrap();
        assert_eq!(back[0].value, value, "{text}");
        assert!(text.starts_with("apiVersion: openslo/v1\nmetadata:\n  name: a-b\n"), "{text}");
        assert!(text.contains("duration: 30d\n") && text.contains("exp: \"1e3\"\n"), "{text}");
    }
}
