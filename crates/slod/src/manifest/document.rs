//! The document kinds `slod apply` accepts (SPEC §14), read from located
//! values into typed specs, every error naming its field path.
//!
//! | apiVersion | kind | becomes |
//! |---|---|---|
//! | `openslo/v1`, `openslo/v1alpha` | `Service` | a system: `metadata.name` → id, `metadata.displayName` → name |
//! | `openslo/v1`, `openslo/v1alpha` | `SLO` | an objective: `metadata.name`, `spec.service`, the time window (rolling, or calendar-aligned: one week, month, quarter or year in `calendar.timeZone`), `spec.objectives[0].target` (0–1) or `targetPercent` |
//! | `checkstack.io/v1alpha1` | `SLO` | an objective with every slod setting |
//! | `openslo/*` | `SLI`, `DataSource`, `AlertPolicy`, `AlertCondition`, `AlertNotificationTarget` | ignored: slod measures time from health reports, not metrics |
//!
//! OpenSLO documents may carry fields slod has no use for (indicators,
//! alert policies, labels); they are accepted and not evaluated.
//! Checkstack documents are slod's own shape, so an unknown field there is
//! a mistake and refused by name.

use serde_json::Value;
use slod_core::model::{
    parse_system_name, BurnRateThresholds, DependencyExclusion, ObjectiveName, SystemId, Target,
    WindowDays, MAX_WINDOW_DAYS,
};
use slod_core::window::{Calendar, CalendarUnit, Window};

use super::source::{DocumentRef, ManifestError, RawDocument};

pub const OPENSLO_V1: &str = "openslo/v1";
pub const OPENSLO_V1ALPHA: &str = "openslo/v1alpha";
pub const CHECKSTACK_V1ALPHA1: &str = "checkstack.io/v1alpha1";

/// The window an OpenSLO SLO without `timeWindow` gets (the specification
/// makes it optional; 30 days is slod's and most tools' default).
pub const DEFAULT_WINDOW_DAYS: u32 = 30;

/// OpenSLO kinds slod reads and leaves alone.
const IGNORED_OPENSLO_KINDS: [&str; 5] =
    ["SLI", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"];

/// A system as a file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemSpec {
    pub id: SystemId,
    pub name: String,
}

/// An objective as a file declares it: every setting, defaults filled in,
/// so that applying it makes the stored objective exactly this.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveSpec {
    /// Where the document names its system (`spec.service`,
    /// `spec.systemRef.name`), for errors about it.
    pub system_field: &'static str,
    pub name: ObjectiveName,
    pub system_id: SystemId,
    pub target: Target,
    /// Rolling days or a calendar period (SPEC §17).
    pub window: Window,
    pub health_check_configuration_id: Option<String>,
    pub dependency_exclusion: DependencyExclusion,
    pub excluded_dependency_ids: Vec<SystemId>,
    pub exclude_maintenance_windows: bool,
    pub burn_rate_thresholds: BurnRateThresholds,
}

/// What one document asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    System(SystemSpec),
    Objective(ObjectiveSpec),
    /// A kind slod reads past (`SLI`, `AlertPolicy`, …): `(kind, name)`.
    Ignored {
        kind: String,
        name: String,
    },
}

/// A document with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub at: DocumentRef,
    pub document: Document,
}

/// Reads one document.
pub fn read(raw: &RawDocument) -> Result<Located, ManifestError> {
    let root = Node { value: &raw.value, path: String::new(), at: &raw.at };
    if !raw.value.is_object() {
        return Err(ManifestError::document(
            &raw.at,
            format!("must be a mapping with apiVersion and kind, not {}", kind_of(&raw.value)),
        ));
    }
    let api_version = root.required("apiVersion")?.string()?;
    let kind = root.required("kind")?.string()?;
    let document = match (api_version, kind) {
        (OPENSLO_V1 | OPENSLO_V1ALPHA, "Service") => Document::System(openslo_service(&root)?),
        (OPENSLO_V1, "SLO") => Document::Objective(openslo_slo(&root, false)?),
        (OPENSLO_V1ALPHA, "SLO") => Document::Objective(openslo_slo(&root, true)?),
        (OPENSLO_V1 | OPENSLO_V1ALPHA, other) if IGNORED_OPENSLO_KINDS.contains(&other) => {
            let name = root.required("metadata")?.required("name")?.string()?;
            Document::Ignored { kind: other.to_owned(), name: name.to_owned() }
        }
        (CHECKSTACK_V1ALPHA1, "SLO") => Document::Objective(checkstack_slo(&root)?),
        (OPENSLO_V1 | OPENSLO_V1ALPHA, other) => {
            return Err(root.child("kind").error(format!(
                "`{other}` is not an OpenSLO kind slod reads; expected Service or SLO"
            )))
        }
        (CHECKSTACK_V1ALPHA1, other) => {
            return Err(root
                .child("kind")
                .error(format!("`{other}` is not a Checkstack kind slod reads; expected SLO")))
        }
        (other, _) => {
            return Err(root.child("apiVersion").error(format!(
                "`{other}` is not one slod reads; expected {OPENSLO_V1}, {OPENSLO_V1ALPHA} or \
                 {CHECKSTACK_V1ALPHA1}"
            )))
        }
    };
    Ok(Located { at: raw.at.clone(), document })
}

fn openslo_service(root: &Node<'_>) -> Result<SystemSpec, ManifestError> {
    let metadata = root.required("metadata")?;
    let name = metadata.required("name")?;
    let id = SystemId::parse(name.string()?, &name.path).map_err(|e| name.error(e.message))?;
    let display = match metadata.optional("displayName") {
        Some(node) => {
            parse_system_name(node.string()?, &node.path).map_err(|e| node.error(e.message))?
        }
        None => id.to_string(),
    };
    Ok(SystemSpec { id, name: display })
}

/// The settings OpenSLO has no words for take slod's defaults.
fn openslo_slo(root: &Node<'_>, alpha: bool) -> Result<ObjectiveSpec, ManifestError> {
    let name = objective_name(root)?;
    let spec = root.required("spec")?;
    let service = spec.required("service")?;
    let system_id =
        SystemId::parse(service.string()?, &service.path).map_err(|e| service.error(e.message))?;
    let window = if alpha { alpha_window(&spec)? } else { v1_window(&spec)? };
    let objectives = spec.required("objectives")?.items()?;
    let Some(first) = objectives.first() else {
        return Err(spec.child("objectives").error("must hold at least one objective"));
    };
    let target = match (first.optional("target"), first.optional("targetPercent")) {
        (Some(target), _) => {
            let ratio = target.number()?;
            if !(0.0..=1.0).contains(&ratio) {
                return Err(target.error("must be between 0 and 1"));
            }
            Target::parse(round(ratio * 100.0)).map_err(|e| target.error(e.message))?
        }
        (None, Some(percent)) => {
            let value = percent.number()?;
            Target::parse(value).map_err(|_| percent.error("must be between 0 and 100"))?
        }
        (None, None) => {
            return Err(first.child("target").error("is required (or targetPercent)"));
        }
    };
    let mut spec = ObjectiveSpec {
        system_field: "spec.service",
        name,
        system_id,
        target,
        window,
        health_check_configuration_id: None,
        dependency_exclusion: DependencyExclusion::default(),
        excluded_dependency_ids: Vec::new(),
        exclude_maintenance_windows: false,
        burn_rate_thresholds: BurnRateThresholds::default(),
    };
    if let Some(annotations) = root.required("metadata")?.optional("annotations") {
        read_annotations(&annotations, &mut spec)?;
    }
    Ok(spec)
}

/// The settings `slod export` writes as `slod/…` annotations (OpenSLO has
/// no fields for them); other annotations are left alone.
fn read_annotations(annotations: &Node<'_>, spec: &mut ObjectiveSpec) -> Result<(), ManifestError> {
    use super::export::{
        ANNOTATION_BURN_RATE, ANNOTATION_DEPENDENCY_EXCLUSION, ANNOTATION_EXCLUDED_DEPENDENCIES,
        ANNOTATION_EXCLUDE_MAINTENANCE, ANNOTATION_HEALTH_CHECK,
    };
    // Annotation keys hold dots and slashes, so the path quotes them.
    let child = |key: &str| -> Option<Node<'_>> {
        let value = annotations.value.as_object()?.get(key).filter(|v| !v.is_null())?;
        Some(Node { value, path: format!("{}[{key}]", annotations.path), at: annotations.at })
    };
    if let Some(node) = child(ANNOTATION_DEPENDENCY_EXCLUSION) {
        let raw = node.string()?;
        spec.dependency_exclusion = DependencyExclusion::parse(raw)
            .ok_or_else(|| node.error(format!("`{raw}` is not one of strict, self-only")))?;
    }
    if let Some(node) = child(ANNOTATION_EXCLUDED_DEPENDENCIES) {
        for raw in node.string()?.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let id = SystemId::parse(raw, &node.path).map_err(|e| node.error(e.message))?;
            if !spec.excluded_dependency_ids.contains(&id) {
                spec.excluded_dependency_ids.push(id);
            }
        }
    }
    if let Some(node) = child(ANNOTATION_EXCLUDE_MAINTENANCE) {
        spec.exclude_maintenance_windows = match node.string()? {
            "true" => true,
            "false" => false,
            other => {
                return Err(node.error(format!("must be \"true\" or \"false\", not `{other}`")))
            }
        };
    }
    if let Some(node) = child(ANNOTATION_HEALTH_CHECK) {
        let raw = node.string()?.trim();
        if raw.is_empty() || raw.chars().count() > 200 {
            return Err(node.error("must be 1 to 200 characters"));
        }
        spec.health_check_configuration_id = Some(raw.to_owned());
    }
    if let Some(node) = child(ANNOTATION_BURN_RATE) {
        let numbers: Vec<Option<f64>> =
            node.string()?.split(',').map(|n| n.trim().parse::<f64>().ok()).collect();
        let [Some(warning), Some(critical), Some(fast)] = numbers[..] else {
            return Err(node.error("must be three numbers: warning %, critical %, fast-burn ×"));
        };
        spec.burn_rate_thresholds = BurnRateThresholds {
            warning_percent: warning,
            critical_percent: critical,
            fast_burn_multiplier: fast,
        }
        .validate()
        .map_err(|e| node.error(e.to_string()))?;
    }
    Ok(())
}

/// OpenSLO v1: `timeWindow: [{duration: 28d | 4w, isRolling: true}]`, or
/// calendar-aligned `[{duration: 1w | 1M | 1Q | 1Y, isRolling: false,
/// calendar: {startTime, timeZone}}]`.
fn v1_window(spec: &Node<'_>) -> Result<Window, ManifestError> {
    let Some(windows) = spec.optional("timeWindow") else {
        return default_window(spec);
    };
    let window = one_window(&windows)?;
    let duration = window.required("duration")?;
    let text = duration.string()?;
    if !is_rolling(&window)? {
        let unit = match text {
            "1w" => CalendarUnit::Week,
            "1M" => CalendarUnit::Month,
            "1Q" => CalendarUnit::Quarter,
            "1Y" => CalendarUnit::Year,
            _ => {
                return Err(duration.error(format!(
                    "`{text}` is not a calendar period slod keeps; write 1w, 1M, 1Q or 1Y"
                )))
            }
        };
        return calendar_window(&window, unit);
    }
    no_calendar(&window)?;
    let (count, unit) = text.split_at(text.len().saturating_sub(1));
    let days = match (count.parse::<i64>(), unit) {
        (Ok(n), "d") => n,
        (Ok(n), "w") => n.saturating_mul(7),
        _ => {
            return Err(duration.error(format!(
                "`{text}` is not a rolling window slod keeps; write whole days or weeks, e.g. 28d \
                 or 4w"
            )))
        }
    };
    window_days(&duration, days).map(Window::Rolling)
}

/// OpenSLO v1alpha: `timeWindows: [{unit: Day | Week, count: 30, isRolling: true}]`,
/// or calendar-aligned `[{unit: Week | Month | Quarter | Year, count: 1,
/// isRolling: false, calendar: {startTime, timeZone}}]`.
fn alpha_window(spec: &Node<'_>) -> Result<Window, ManifestError> {
    let Some(windows) = spec.optional("timeWindows") else {
        return default_window(spec);
    };
    let window = one_window(&windows)?;
    let count = window.required("count")?;
    let n = count.integer()?;
    let unit = window.required("unit")?;
    if !is_rolling(&window)? {
        let calendar_unit = match unit.string()? {
            "Week" => CalendarUnit::Week,
            "Month" => CalendarUnit::Month,
            "Quarter" => CalendarUnit::Quarter,
            "Year" => CalendarUnit::Year,
            other => {
                return Err(unit.error(format!(
                    "`{other}` is not a calendar period slod keeps; write Week, Month, Quarter \
                     or Year"
                )))
            }
        };
        if n != 1 {
            return Err(count.error("a calendar window is one period: count must be 1"));
        }
        return calendar_window(&window, calendar_unit);
    }
    no_calendar(&window)?;
    let days = match unit.string()? {
        "Day" => n,
        "Week" => n.saturating_mul(7),
        other => {
            return Err(unit.error(format!(
                "`{other}` is not a unit slod keeps; windows are whole days (Day or Week)"
            )))
        }
    };
    window_days(&count, days).map(Window::Rolling)
}

fn default_window(spec: &Node<'_>) -> Result<Window, ManifestError> {
    window_days(spec, i64::from(DEFAULT_WINDOW_DAYS)).map(Window::Rolling)
}

fn one_window<'a>(windows: &Node<'a>) -> Result<Node<'a>, ManifestError> {
    let mut items = windows.items()?;
    match (items.pop(), items.len()) {
        (Some(window), 0) => Ok(window),
        (last, n) => Err(windows.error(format!(
            "must hold exactly one time window, not {}",
            n + usize::from(last.is_some())
        ))),
    }
}

/// `isRolling`, true unless the window says otherwise.
fn is_rolling(window: &Node<'_>) -> Result<bool, ManifestError> {
    window.optional("isRolling").map_or(Ok(true), |rolling| rolling.boolean())
}

/// A rolling window with a `calendar` is a contradiction: refused by name.
fn no_calendar(window: &Node<'_>) -> Result<(), ManifestError> {
    if window.optional("calendar").is_some() {
        return Err(window
            .child("calendar")
            .error("belongs to a calendar-aligned window (isRolling: false)"));
    }
    Ok(())
}

/// OpenSLO's `calendar: {startTime, timeZone}` of a calendar-aligned
/// window (SPEC §17). slod's periods begin at the unit's own boundaries
/// (weeks on Monday) in `timeZone`; `startTime` is read past.
fn calendar_window(window: &Node<'_>, unit: CalendarUnit) -> Result<Window, ManifestError> {
    let calendar = window.required("calendar")?;
    let zone = calendar.required("timeZone")?;
    Calendar::parse(unit.as_str(), zone.string()?)
        .map(Window::Calendar)
        .map_err(|e| zone.error(e.message))
}

fn window_days(node: &Node<'_>, days: i64) -> Result<WindowDays, ManifestError> {
    WindowDays::parse(days)
        .map_err(|_| node.error(format!("must come to 1 to {MAX_WINDOW_DAYS} days, not {days}")))
}

fn objective_name(root: &Node<'_>) -> Result<ObjectiveName, ManifestError> {
    let name = root.required("metadata")?.required("name")?;
    ObjectiveName::parse(name.string()?, &name.path).map_err(|e| name.error(e.message))
}

/// Checkstack's own kind: every objective setting, unknown fields refused.
fn checkstack_slo(root: &Node<'_>) -> Result<ObjectiveSpec, ManifestError> {
    root.only(&["apiVersion", "kind", "metadata", "spec"])?;
    let name = objective_name(root)?;
    let spec = root.required("spec")?;
    spec.only(&[
        "systemRef",
        "healthcheckRef",
        "target",
        "windowDays",
        "calendar",
        "dependencyExclusion",
        "excludedDependencyRefs",
        "excludeMaintenanceWindows",
        "burnRateThresholds",
    ])?;
    let system_ref = spec.required("systemRef")?.required("name")?;
    let system_id = system_ref.system_id()?;
    let health_check_configuration_id = match spec.optional("healthcheckRef") {
        None => None,
        Some(check) => {
            let name = check.required("name")?;
            let raw = name.string()?.trim();
            if raw.is_empty() || raw.chars().count() > 200 {
                return Err(name.error("must be 1 to 200 characters"));
            }
            Some(raw.to_owned())
        }
    };
    let target_node = spec.required("target")?;
    let target = Target::parse(target_node.number()?)
        .map_err(|_| target_node.error("must be between 0 and 100"))?;
    let window = match (spec.optional("windowDays"), spec.optional("calendar")) {
        (Some(days), None) => Window::Rolling(window_days(&days, days.integer()?)?),
        (None, Some(calendar)) => {
            calendar.only(&["unit", "timeZone"])?;
            let unit = calendar.required("unit")?;
            let zone = calendar.required("timeZone")?;
            let parsed = Calendar::parse(unit.string()?, zone.string()?).map_err(|e| {
                let node = if e.field.ends_with("unit") { unit.clone() } else { zone.clone() };
                node.error(e.message)
            })?;
            Window::Calendar(parsed)
        }
        (Some(_), Some(_)) => {
            return Err(spec
                .child("calendar")
                .error("an objective has either windowDays (rolling) or calendar, not both"))
        }
        (None, None) => {
            return Err(spec
                .child("windowDays")
                .error("is required (or calendar: {unit, timeZone})"))
        }
    };
    let dependency_exclusion = match spec.optional("dependencyExclusion") {
        None => DependencyExclusion::default(),
        Some(mode) => {
            let raw = mode.string()?;
            DependencyExclusion::parse(raw)
                .ok_or_else(|| mode.error(format!("`{raw}` is not one of strict, self-only")))?
        }
    };
    let mut excluded_dependency_ids: Vec<SystemId> = Vec::new();
    if let Some(refs) = spec.optional("excludedDependencyRefs") {
        for item in refs.items()? {
            let id = item.required("name")?.system_id()?;
            if !excluded_dependency_ids.contains(&id) {
                excluded_dependency_ids.push(id);
            }
        }
    }
    let exclude_maintenance_windows = match spec.optional("excludeMaintenanceWindows") {
        None => false,
        Some(flag) => flag.boolean()?,
    };
    let defaults = BurnRateThresholds::default();
    let burn_rate_thresholds = match spec.optional("burnRateThresholds") {
        None => defaults,
        Some(node) => {
            node.only(&["warningPercent", "criticalPercent", "fastBurnMultiplier"])?;
            let read = |key: &str, default: f64| -> Result<f64, ManifestError> {
                node.optional(key).map_or(Ok(default), |n| n.number())
            };
            BurnRateThresholds {
                warning_percent: read("warningPercent", defaults.warning_percent)?,
                critical_percent: read("criticalPercent", defaults.critical_percent)?,
                fast_burn_multiplier: read("fastBurnMultiplier", defaults.fast_burn_multiplier)?,
            }
            .validate()
            .map_err(|e| {
                let key = e.field.rsplit('.').next().unwrap_or_default().to_owned();
                node.child(&key).error(e.message)
            })?
        }
    };
    Ok(ObjectiveSpec {
        system_field: "spec.systemRef.name",
        name,
        system_id,
        target,
        window,
        health_check_configuration_id,
        dependency_exclusion,
        excluded_dependency_ids,
        exclude_maintenance_windows,
        burn_rate_thresholds,
    })
}

/// A percentage from a ratio without binary noise (0.999 × 100 is
/// 99.89999999999999 in floating point; files mean 99.9).
pub fn round(value: f64) -> f64 {
    (value * 1e9).round() / 1e9
}

/// A value with its path in the document, for errors that name it.
#[derive(Clone)]
struct Node<'a> {
    value: &'a Value,
    path: String,
    at: &'a DocumentRef,
}

impl<'a> Node<'a> {
    fn error(&self, message: impl Into<String>) -> ManifestError {
        ManifestError::at(self.at, self.path.clone(), message)
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// A node for `key` whatever its value (for errors about it).
    fn child(&self, key: &str) -> Node<'a> {
        Node { value: &Value::Null, path: self.child_path(key), at: self.at }
    }

    /// `key`'s value; absent and `null` are `None`. Not a mapping: `None`
    /// too, since [`Node::required`] and the typed readers say what it is.
    fn optional(&self, key: &str) -> Option<Node<'a>> {
        let value = self.value.as_object()?.get(key).filter(|v| !v.is_null())?;
        Some(Node { value, path: self.child_path(key), at: self.at })
    }

    fn required(&self, key: &str) -> Result<Node<'a>, ManifestError> {
        if !self.value.is_object() {
            return Err(self.error(format!("must be a mapping, not {}", kind_of(self.value))));
        }
        self.optional(key).ok_or_else(|| self.child(key).error("is required"))
    }

    /// Refuses keys outside `known`.
    fn only(&self, known: &[&str]) -> Result<(), ManifestError> {
        let Some(map) = self.value.as_object() else {
            return Err(self.error(format!("must be a mapping, not {}", kind_of(self.value))));
        };
        match map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => Err(self.child(unknown).error("is not a known field")),
            None => Ok(()),
        }
    }

    fn string(&self) -> Result<&'a str, ManifestError> {
        self.value
            .as_str()
            .ok_or_else(|| self.error(format!("must be text, not {}", kind_of(self.value))))
    }

    fn number(&self) -> Result<f64, ManifestError> {
        self.value
            .as_f64()
            .filter(|n| n.is_finite())
            .ok_or_else(|| self.error(format!("must be a number, not {}", kind_of(self.value))))
    }

    fn integer(&self) -> Result<i64, ManifestError> {
        match self.value.as_i64() {
            Some(n) => Ok(n),
            None => match self.value.as_f64() {
                // `30.0`: a whole number written as a float.
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                    format!("{f:.0}").parse().map_err(|_| self.error("must be a whole number"))
                }
                _ => {
                    Err(self.error(format!("must be a whole number, not {}", describe(self.value))))
                }
            },
        }
    }

    fn boolean(&self) -> Result<bool, ManifestError> {
        self.value.as_bool().ok_or_else(|| {
            self.error(format!("must be true or false, not {}", kind_of(self.value)))
        })
    }

    fn items(&self) -> Result<Vec<Node<'a>>, ManifestError> {
        let Some(items) = self.value.as_array() else {
            return Err(self.error(format!("must be a list, not {}", kind_of(self.value))));
        };
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node { value, path: format!("{}[{i}]", self.path), at: self.at })
            .collect())
    }

    fn system_id(&self) -> Result<SystemId, ManifestError> {
        SystemId::parse(self.string()?, &self.path).map_err(|e| self.error(e.message))
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => kind_of(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::source::{parse, Format};

    fn one(text: &str) -> Result<Document, String> {
        let docs = parse("slo.yaml", text, Format::Yaml).map_err(|e| e.to_string())?;
        read(&docs[0]).map(|l| l.document).map_err(|e| e.to_string())
    }

    fn objective(text: &str) -> ObjectiveSpec {
        match one(text) {
            Ok(Document::Objective(spec)) => spec,
            other => panic!("not an objective: {other:?}"),
        }
    }

    #[test]
    fn the_default_window_is_valid() {
        let at = DocumentRef { file: "f".into(), number: 1, line: 1 };
        let spec = Node { value: &Value::Null, path: "spec".into(), at: &at };
        assert_eq!(
            default_window(&spec).unwrap().rolling_days().unwrap().get(),
            DEFAULT_WINDOW_DAYS
        );
    }

    #[test]
    fn an_openslo_v1_slo_becomes_an_objective() {
        let spec = objective(
            "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: search-slo\nspec:\n  service: web-shop\n  \
             timeWindow:\n    - duration: 2w\n      isRolling: true\n  objectives:\n    - target: 0.999\n",
        );
        assert_eq!(spec.name.as_str(), "search-slo");
        assert_eq!(spec.system_id.as_str(), "web-shop");
        assert_eq!(spec.window.rolling_days().unwrap(), 14);
        assert_eq!(spec.target, 99.9);
        assert_eq!(spec.dependency_exclusion, DependencyExclusion::Strict);
    }

    #[test]
    fn an_openslo_v1alpha_slo_reads_time_windows_and_target_percent() {
        let spec = objective(
            "apiVersion: openslo/v1alpha\nkind: SLO\nmetadata: {name: a}\nspec:\n  service: s\n  \
             timeWindows: [{count: 4, unit: Week}]\n  objectives: [{targetPercent: 99.5}]\n",
        );
        assert_eq!((spec.window.rolling_days().unwrap().get(), spec.target.get()), (28, 99.5));
    }

    #[test]
    fn errors_name_the_document_line_and_field() {
        let err = one("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  service: s\n  objectives:\n    - target: 99.9\n")
            .unwrap_err();
        assert_eq!(
            err,
            "slo.yaml: document 1 (line 1): spec.objectives[0].target: must be between 0 and 1"
        );
        let cases = [
            ("apiVersion: v1\nkind: Pod\n", "apiVersion: `v1` is not one slod reads"),
            ("apiVersion: openslo/v1\nkind: Widget\n", "kind: `Widget` is not an OpenSLO kind"),
            ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: Bad}\n", "metadata.name: contains 'B'"),
            ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {objectives: [{target: 0.9}]}\n", "spec.service: is required"),
            ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: s, timeWindow: [{duration: 1M, isRolling: true}], objectives: [{target: 0.9}]}\n", "spec.timeWindow[0].duration: `1M` is not a rolling window"),
            ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: s, timeWindow: [{duration: 1w, isRolling: false}], objectives: [{target: 0.9}]}\n", "spec.timeWindow[0].calendar: is required"),
            ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: s, timeWindow: [{duration: 2w, isRolling: false, calendar: {timeZone: UTC}}], objectives: [{target: 0.9}]}\n", "spec.timeWindow[0].duration: `2w` is not a calendar period"),
            ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: s, timeWindow: [{duration: 1M, isRolling: false, calendar: {timeZone: Mars/Olympus}}], objectives: [{target: 0.9}]}\n", "spec.timeWindow[0].calendar.timeZone: `Mars/Olympus` is not an IANA time zone"),
            ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: s, timeWindow: [{duration: 30d, calendar: {timeZone: UTC}}], objectives: [{target: 0.9}]}\n", "spec.timeWindow[0].calendar: belongs to a calendar-aligned window"),
            ("apiVersion: openslo/v1alpha\nkind: SLO\nmetadata: {name: a}\nspec: {service: s, timeWindows: [{count: 2, unit: Month, isRolling: false, calendar: {timeZone: UTC}}], objectives: [{target: 0.9}]}\n", "spec.timeWindows[0].count: a calendar window is one period"),
            ("apiVersion: checkstack.io/v1alpha1\nkind: SLO\nmetadata: {name: a}\nspec: {systemRef: {name: s}, target: 99.9, windowDays: 7, calendar: {unit: month, timeZone: UTC}}\n", "spec.calendar: an objective has either windowDays"),
            ("apiVersion: checkstack.io/v1alpha1\nkind: SLO\nmetadata: {name: a}\nspec: {systemRef: {name: s}, target: 99.9, calendar: {unit: fortnight, timeZone: UTC}}\n", "spec.calendar.unit: `fortnight` is not one of"),
            ("apiVersion: checkstack.io/v1alpha1\nkind: SLO\nmetadata: {name: a}\nspec: {systemRef: {name: s}, target: 99.9}\n", "spec.windowDays: is required (or calendar"),
            ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: s, objectives: []}\n", "spec.objectives: must hold at least one"),
            ("apiVersion: checkstack.io/v1alpha1\nkind: SLO\nmetadata: {name: a}\nspec: {systemRef: {name: s}, target: 99.9, windowDays: 30, colour: red}\n", "spec.colour: is not a known field"),
            ("apiVersion: checkstack.io/v1alpha1\nkind: SLO\nmetadata: {name: a}\nspec: {systemRef: {name: s}, target: 99.9, windowDays: 0}\n", "spec.windowDays: must come to 1 to 3650 days"),
            ("apiVersion: checkstack.io/v1alpha1\nkind: SLO\nmetadata: {name: a}\nspec: {systemRef: {name: s}, target: 99.9, windowDays: 7, burnRateThresholds: {fastBurnMultiplier: 0.5}}\n", "spec.burnRateThresholds.fastBurnMultiplier: must be a number of at least 1"),
            ("- 1\n", "must be a mapping with apiVersion and kind"),
        ];
        for (text, expected) in cases {
            let err = one(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    /// SPEC §17 in all three formats: OpenSLO's calendar-aligned windows
    /// and Checkstack's `calendar: {unit, timeZone}`.
    #[test]
    fn calendar_windows_are_read_in_every_format() {
        let berlin_month = Window::Calendar(Calendar::parse("month", "Europe/Berlin").unwrap());
        let v1 = objective(
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  service: s\n  \
             timeWindow:\n    - duration: 1M\n      isRolling: false\n      calendar:\n        \
             startTime: 2024-01-01 00:00:00\n        timeZone: Europe/Berlin\n  objectives: [{target: 0.999}]\n",
        );
        assert_eq!(v1.window, berlin_month);
        let alpha = objective(
            "apiVersion: openslo/v1alpha\nkind: SLO\nmetadata: {name: a}\nspec:\n  service: s\n  \
             timeWindows: [{unit: Quarter, count: 1, isRolling: false, calendar: {timeZone: UTC}}]\n  \
             objectives: [{targetPercent: 99.5}]\n",
        );
        assert_eq!(alpha.window, Window::Calendar(Calendar::parse("quarter", "UTC").unwrap()));
        let checkstack = objective(
            "apiVersion: checkstack.io/v1alpha1\nkind: SLO\nmetadata: {name: a}\nspec:\n  \
             systemRef: {name: api}\n  target: 99.9\n  calendar: {unit: month, timeZone: Europe/Berlin}\n",
        );
        assert_eq!(checkstack.window, berlin_month);
    }

    #[test]
    fn a_checkstack_slo_carries_every_setting() {
        let spec = objective(
            "apiVersion: checkstack.io/v1alpha1\nkind: SLO\nmetadata:\n  name: api-availability\nspec:\n  \
             systemRef: {name: api}\n  healthcheckRef: {name: http-check}\n  target: 99.95\n  windowDays: 7\n  \
             dependencyExclusion: self-only\n  excludedDependencyRefs: [{name: db}, {name: db}]\n  \
             excludeMaintenanceWindows: true\n  burnRateThresholds: {warningPercent: 40}\n",
        );
        assert_eq!(spec.health_check_configuration_id.as_deref(), Some("http-check"));
        assert_eq!((spec.target.get(), spec.window.rolling_days().unwrap().get()), (99.95, 7));
        assert_eq!(spec.dependency_exclusion, DependencyExclusion::SelfOnly);
        assert_eq!(spec.excluded_dependency_ids.len(), 1);
        assert!(spec.exclude_maintenance_windows);
        assert_eq!(spec.burn_rate_thresholds.warning_percent, 40.0);
        assert_eq!(spec.burn_rate_thresholds.critical_percent, 80.0);
    }

    #[test]
    fn services_and_ignored_kinds() {
        assert_eq!(
            one("apiVersion: openslo/v1\nkind: Service\nmetadata: {name: web-shop, displayName: Web shop}\n").unwrap(),
            Document::System(SystemSpec {
                id: SystemId::parse("web-shop", "id").unwrap(),
                name: "Web shop".into()
            })
        );
        assert_eq!(
            one("apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: latency}\nspec: {}\n")
                .unwrap(),
            Document::Ignored { kind: "SLI".into(), name: "latency".into() }
        );
    }
}
