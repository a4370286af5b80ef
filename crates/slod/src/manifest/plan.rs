//! What applying a set of documents would change (SPEC §14): compared
//! with what is stored, each system and named objective is created,
//! updated (with the fields that change, old → new), unchanged, or — with
//! `prune` — deleted. Pure: the caller loads the current state and carries
//! out the [`Step`]s in one transaction.
//!
//! Objectives are matched by name, systems by id; unnamed objectives are
//! never touched. A plan is refused whole when two documents declare one
//! name, when an objective names a system neither stored nor declared, or
//! when it would move a named objective to another system.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use slod_core::model::{Objective, ObjectiveId, ObjectiveName, System, SystemId};

use super::document::{Document, Located, ObjectiveSpec, SystemSpec};
use super::source::{DocumentRef, ManifestError};

/// What is stored now.
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub systems: Vec<System>,
    pub objectives: Vec<Objective>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    System,
    Objective,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Unchanged => "unchanged",
            Self::Delete => "delete",
        }
    }
}

/// One field an update changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// One line of the plan: `{kind, name, action, changes}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanItem {
    pub kind: Kind,
    /// The system's id or the objective's name.
    pub name: String,
    pub action: Action,
    pub changes: Vec<Change>,
}

/// A document slod read past (an OpenSLO `SLI`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IgnoredDocument {
    pub kind: String,
    pub name: String,
}

/// What the caller carries out, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Create or rename.
    PutSystem(SystemSpec),
    CreateObjective(ObjectiveSpec),
    UpdateObjective {
        id: ObjectiveId,
        spec: ObjectiveSpec,
    },
    DeleteObjective {
        id: ObjectiveId,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    pub ignored: Vec<IgnoredDocument>,
    pub steps: Vec<Step>,
}

/// The answer of `slod apply` and `POST /apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub dry_run: bool,
    pub plan: Vec<PlanItem>,
    pub ignored: Vec<IgnoredDocument>,
}

impl Plan {
    pub fn report(&self, dry_run: bool) -> ApplyReport {
        let count = |action| self.items.iter().filter(|i| i.action == action).count();
        ApplyReport {
            created: count(Action::Create),
            updated: count(Action::Update),
            unchanged: count(Action::Unchanged),
            deleted: count(Action::Delete),
            dry_run,
            plan: self.items.clone(),
            ignored: self.ignored.clone(),
        }
    }
}

/// Compares the documents with what is stored.
pub fn plan(documents: &[Located], current: &Current, prune: bool) -> Result<Plan, ManifestError> {
    refuse_duplicates(documents)?;
    let mut plan = Plan { items: Vec::new(), ignored: Vec::new(), steps: Vec::new() };
    let stored_systems: BTreeMap<&SystemId, &System> =
        current.systems.iter().map(|s| (&s.id, s)).collect();
    let mut known_systems: BTreeSet<&SystemId> = stored_systems.keys().copied().collect();
    for located in documents {
        match &located.document {
            Document::System(spec) => {
                known_systems.insert(&spec.id);
                let (action, changes) = match stored_systems.get(&spec.id) {
                    None => (Action::Create, Vec::new()),
                    Some(stored) if stored.name == spec.name => (Action::Unchanged, Vec::new()),
                    Some(stored) => {
                        (Action::Update, vec![change("name", &stored.name, &spec.name)])
                    }
                };
                if action != Action::Unchanged {
                    plan.steps.push(Step::PutSystem(spec.clone()));
                }
                plan.items.push(PlanItem {
                    kind: Kind::System,
                    name: spec.id.to_string(),
                    action,
                    changes,
                });
            }
            Document::Ignored { kind, name } => {
                plan.ignored.push(IgnoredDocument { kind: kind.clone(), name: name.clone() });
            }
            Document::Objective(_) => {}
        }
    }

    let stored_objectives: BTreeMap<&ObjectiveName, &Objective> =
        current.objectives.iter().filter_map(|o| Some((o.name.as_ref()?, o))).collect();
    let mut declared: BTreeSet<&ObjectiveName> = BTreeSet::new();
    for located in documents {
        let Document::Objective(spec) = &located.document else { continue };
        declared.insert(&spec.name);
        if !known_systems.contains(&spec.system_id) {
            return Err(ManifestError::at(
                &located.at,
                spec.system_field,
                format!(
                    "no system `{}`: declare it (an OpenSLO Service) or create it first",
                    spec.system_id
                ),
            ));
        }
        let (action, changes) = match stored_objectives.get(&spec.name) {
            None => {
                plan.steps.push(Step::CreateObjective(spec.clone()));
                (Action::Create, Vec::new())
            }
            Some(stored) => {
                if stored.system_id != spec.system_id {
                    return Err(ManifestError::at(
                        &located.at,
                        spec.system_field,
                        format!(
                            "objective `{}` belongs to system `{}`; an objective cannot move to \
                             another system (rename it, or delete it first)",
                            spec.name, stored.system_id
                        ),
                    ));
                }
                let changes = diff(stored, spec);
                if changes.is_empty() {
                    (Action::Unchanged, changes)
                } else {
                    plan.steps
                        .push(Step::UpdateObjective { id: stored.id.clone(), spec: spec.clone() });
                    (Action::Update, changes)
                }
            }
        };
        plan.items.push(PlanItem {
            kind: Kind::Objective,
            name: spec.name.to_string(),
            action,
            changes,
        });
    }

    if prune {
        for (name, stored) in &stored_objectives {
            if !declared.contains(name) {
                plan.steps.push(Step::DeleteObjective { id: stored.id.clone() });
                plan.items.push(PlanItem {
                    kind: Kind::Objective,
                    name: name.to_string(),
                    action: Action::Delete,
                    changes: Vec::new(),
                });
            }
        }
    }
    Ok(plan)
}

/// Two documents of one kind with one name: refused, naming both.
fn refuse_duplicates(documents: &[Located]) -> Result<(), ManifestError> {
    let mut seen: BTreeMap<(&'static str, String), &DocumentRef> = BTreeMap::new();
    for located in documents {
        let key = match &located.document {
            Document::System(spec) => ("Service", spec.id.to_string()),
            Document::Objective(spec) => ("SLO", spec.name.to_string()),
            Document::Ignored { .. } => continue,
        };
        if let Some(first) = seen.get(&key) {
            return Err(ManifestError::at(
                &located.at,
                "metadata.name",
                format!("a second {} named `{}`; {first} declares it already", key.0, key.1),
            ));
        }
        seen.insert(key, &located.at);
    }
    Ok(())
}

fn change(field: &str, from: impl Serialize, to: impl Serialize) -> Change {
    Change { field: field.to_owned(), from: json!(from), to: json!(to) }
}

/// The fields of `stored` that applying `spec` changes, by their API names.
fn diff(stored: &Objective, spec: &ObjectiveSpec) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut compare = |field: &str, from: Value, to: Value| {
        if from != to {
            changes.push(Change { field: field.to_owned(), from, to });
        }
    };
    compare("target", json!(stored.target), json!(spec.target));
    compare("windowDays", json!(stored.window.rolling_days()), json!(spec.window.rolling_days()));
    compare("calendar", json!(stored.window.calendar()), json!(spec.window.calendar()));
    compare(
        "healthCheckConfigurationId",
        json!(stored.health_check_configuration_id),
        json!(spec.health_check_configuration_id),
    );
    compare(
        "dependencyExclusion",
        json!(stored.dependency_exclusion),
        json!(spec.dependency_exclusion),
    );
    compare(
        "excludedDependencyIds",
        json!(stored.excluded_dependency_ids),
        json!(spec.excluded_dependency_ids),
    );
    compare(
        "excludeMaintenanceWindows",
        json!(stored.exclude_maintenance_windows),
        json!(spec.exclude_maintenance_windows),
    );
    let (old, new) = (stored.burn_rate_thresholds, spec.burn_rate_thresholds);
    compare(
        "burnRateThresholds.warningPercent",
        json!(old.warning_percent),
        json!(new.warning_percent),
    );
    compare(
        "burnRateThresholds.criticalPercent",
        json!(old.critical_percent),
        json!(new.critical_percent),
    );
    compare(
        "burnRateThresholds.fastBurnMultiplier",
        json!(old.fast_burn_multiplier),
        json!(new.fast_burn_multiplier),
    );
    changes
}

/// The plan as a table for a terminal:
///
/// ```text
/// KIND       NAME              ACTION     CHANGES
/// system     api               unchanged
/// objective  api-availability  update     target: 99.9 → 99.95
/// objective  old-slo           delete
///
/// 0 created, 1 updated, 1 unchanged, 1 deleted (dry run: nothing changed)
/// ```
pub fn render_table(report: &ApplyReport) -> String {
    let rows: Vec<[String; 4]> = report
        .plan
        .iter()
        .map(|item| {
            let changes = item
                .changes
                .iter()
                .map(|c| format!("{}: {} → {}", c.field, show(&c.from), show(&c.to)))
                .collect::<Vec<_>>()
                .join(", ");
            let kind = match item.kind {
                Kind::System => "system",
                Kind::Objective => "objective",
            };
            [kind.to_owned(), item.name.clone(), item.action.as_str().to_owned(), changes]
        })
        .collect();
    let header = ["KIND", "NAME", "ACTION", "CHANGES"].map(str::to_owned);
    let mut widths = [0; 3];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (width, cell) in widths.iter().zip(row.iter()) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        line.push_str(&row[3]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for ignored in &report.ignored {
        out.push_str(&format!("(ignored: {} {})\n", ignored.kind, ignored.name));
    }
    out.push_str(&format!(
        "\n{} created, {} updated, {} unchanged, {} deleted{}",
        report.created,
        report.updated,
        report.unchanged,
        report.deleted,
        if report.dry_run { " (dry run: nothing changed)" } else { "" }
    ));
    out
}

/// A changed value as it reads: text bare, `null` as `none`.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "none".to_owned(),
        Value::String(s) => s.clone(),
        // 99.0 reads as 99, as a person writes it.
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use slod_core::model::{BurnRateThresholds, DependencyExclusion, Target, WindowDays};
    use slod_core::time::Timestamp;

    use super::*;
    use crate::manifest::document;
    use crate::manifest::source::{parse, Format};

    fn docs(text: &str) -> Vec<Located> {
        parse("slos.yaml", text, Format::Yaml)
            .unwrap()
            .iter()
            .map(|raw| document::read(raw).unwrap())
            .collect()
    }

    const FILES: &str = "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: api, displayName: API}\n---\n\
        apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: api-availability}\n\
        spec: {service: api, timeWindow: [{duration: 30d, isRolling: true}], objectives: [{target: 0.999}]}\n";

    fn stored(name: Option<&str>, target: f64) -> Objective {
        Objective {
            id: ObjectiveId::from_trusted(format!("id-{}", name.unwrap_or("unnamed"))),
            name: name.map(|n| ObjectiveName::parse(n, "name").unwrap()),
            system_id: SystemId::parse("api", "id").unwrap(),
            health_check_configuration_id: None,
            target: Target::parse(target).unwrap(),
            window: WindowDays::parse(30).unwrap().into(),
            dependency_exclusion: DependencyExclusion::Strict,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    fn api() -> System {
        System {
            id: SystemId::parse("api", "id").unwrap(),
            name: "API".into(),
            created_at: Timestamp::from_millis(0),
        }
    }

    fn actions(plan: &Plan) -> Vec<(&str, Action)> {
        plan.items.iter().map(|i| (i.name.as_str(), i.action)).collect()
    }

    #[test]
    fn an_empty_database_gets_everything_created() {
        let plan = plan(&docs(FILES), &Current::default(), false).unwrap();
        assert_eq!(actions(&plan), [("api", Action::Create), ("api-availability", Action::Create)]);
        assert_eq!(plan.steps.len(), 2);
        let report = plan.report(true);
        assert_eq!((report.created, report.unchanged), (2, 0));
    }

    #[test]
    fn the_same_files_again_change_nothing() {
        let current = Current {
            systems: vec![api()],
            objectives: vec![stored(Some("api-availability"), 99.9)],
        };
        let plan = plan(&docs(FILES), &current, true).unwrap();
        assert_eq!(
            actions(&plan),
            [("api", Action::Unchanged), ("api-availability", Action::Unchanged)]
        );
        assert!(plan.steps.is_empty());
    }

    #[test]
    fn one_changed_field_is_one_update_showing_old_and_new() {
        let current = Current {
            systems: vec![api()],
            objectives: vec![stored(Some("api-availability"), 99.5)],
        };
        let plan = plan(&docs(FILES), &current, false).unwrap();
        let item = &plan.items[1];
        assert_eq!(item.action, Action::Update);
        assert_eq!(
            item.changes,
            vec![Change { field: "target".into(), from: json!(99.5), to: json!(99.9) }]
        );
        let table = render_table(&plan.report(false));
        assert!(table.contains("update     target: 99.5 → 99.9"), "{table}");
        assert!(table.ends_with("0 created, 1 updated, 1 unchanged, 0 deleted"), "{table}");
    }

    #[test]
    fn prune_deletes_named_objectives_no_file_declares_and_never_unnamed_ones() {
        let current = Current {
            systems: vec![api()],
            objectives: vec![
                stored(Some("api-availability"), 99.9),
                stored(Some("gone"), 99.0),
                stored(None, 99.0),
            ],
        };
        let kept = plan(&docs(FILES), &current, false).unwrap();
        assert!(kept.items.iter().all(|i| i.action != Action::Delete));
        let pruned = plan(&docs(FILES), &current, true).unwrap();
        assert_eq!(
            pruned.items.last().map(|i| (i.name.as_str(), i.action)),
            Some(("gone", Action::Delete))
        );
        assert_eq!(
            pruned.steps,
            vec![Step::DeleteObjective { id: ObjectiveId::from_trusted("id-gone".into()) }]
        );
        assert_eq!(pruned.report(false).deleted, 1);
    }

    #[test]
    fn plans_that_cannot_be_applied_are_refused_naming_the_document() {
        let twice = format!("{FILES}---\n{}", FILES.split("---\n").nth(1).unwrap());
        let err = plan(&docs(&twice), &Current::default(), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "slos.yaml: document 3 (line 10): metadata.name: a second SLO named `api-availability`; \
             slos.yaml: document 2 (line 5) declares it already"
        );
        let orphan = FILES.split("---\n").nth(1).unwrap();
        let err = plan(&docs(orphan), &Current::default(), false).unwrap_err();
        assert!(err.to_string().contains("spec.service: no system `api`"), "{err}");
        let mut elsewhere = stored(Some("api-availability"), 99.9);
        elsewhere.system_id = SystemId::parse("web", "id").unwrap();
        let current = Current { systems: vec![api()], objectives: vec![elsewhere] };
        let err = plan(&docs(FILES), &current, false).unwrap_err();
        assert!(err.to_string().contains("belongs to system `web`"), "{err}");
    }
}
