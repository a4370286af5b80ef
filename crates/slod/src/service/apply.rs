//! SLOs as files (SPEC §14): carrying out a [`manifest`](crate::manifest)
//! plan, and reading everything back for export. The command line
//! (`slod apply --database`) and `POST /api/v1/apply` both come here.
//!
//! All or nothing: the plan is judged whole before anything is written
//! (one bad document refuses every one), then every step runs in one
//! transaction, through the same functions `POST`/`PATCH /objectives`
//! use, so a created objective gets its streak row and its open event
//! exactly as one made by hand. The plan is made from a read just before
//! the transaction; should another writer change a named objective in
//! between, its step fails (a name taken, an objective gone) and the
//! whole apply is refused as a conflict, to be run again.

use slod_core::model::ValidationError;
use slod_core::time::Timestamp;
use slod_store::Store;

use super::objectives::{self, NewObjective, ObjectivePatch, ThresholdsPatch};
use super::{ServiceError, ServiceResult};
use crate::manifest::document::ObjectiveSpec;
use crate::manifest::export::{self, ExportFormat};
use crate::manifest::plan::{self, ApplyReport, Current, Step};
use crate::manifest::{Located, ManifestError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Answer the plan, change nothing.
    pub dry_run: bool,
    /// Delete named objectives no document declares.
    pub prune: bool,
}

/// A located document error as bad input: the message says where
/// (`slo.yaml: document 2 (line 14): spec.service: …`), the field is the
/// path inside the document.
pub fn invalid(err: &ManifestError) -> ServiceError {
    let field = err.field.clone().unwrap_or_else(|| "document".to_owned());
    ServiceError::Invalid(ValidationError::new(field, err.to_string()))
}

/// What is stored now, as the plan compares it.
async fn current(store: &dyn Store) -> ServiceResult<Current> {
    Ok(Current {
        systems: store.list_systems().await?.into_iter().map(|row| row.system).collect(),
        objectives: store.list_objectives(None).await?,
    })
}

/// Plans `documents` against what is stored and, unless a dry run, applies
/// the plan in one transaction.
pub async fn apply(
    store: &dyn Store,
    now: Timestamp,
    documents: &[Located],
    options: ApplyOptions,
) -> ServiceResult<ApplyReport> {
    let current = current(store).await?;
    let plan = plan::plan(documents, &current, options.prune).map_err(|e| invalid(&e))?;
    if options.dry_run || plan.steps.is_empty() {
        return Ok(plan.report(options.dry_run));
    }
    let mut tx = store.begin().await?;
    for step in &plan.steps {
        match step {
            Step::PutSystem(spec) => {
                tx.upsert_system(&spec.id, &spec.name, now).await?;
            }
            Step::CreateObjective(spec) => {
                objectives::create_in(&mut *tx, now, new_objective(spec)).await?;
            }
            Step::UpdateObjective { id, spec } => {
                objectives::update_in(&mut *tx, now, id.as_str(), patch(spec))
                    .await
                    .map_err(changed_meanwhile)?;
            }
            Step::DeleteObjective { id } => {
                if !tx.delete_objective(id.as_str()).await? {
                    return Err(changed_meanwhile(ServiceError::unknown_objective(id.as_str())));
                }
            }
        }
    }
    tx.commit().await?;
    Ok(plan.report(false))
}

/// An objective the plan saw is gone: someone else wrote in between.
fn changed_meanwhile(err: ServiceError) -> ServiceError {
    match err {
        ServiceError::NotFound { message, .. } => ServiceError::Conflict {
            message: format!("{message}: the objectives changed while applying; apply again"),
            field: None,
        },
        other => other,
    }
}

fn new_objective(spec: &ObjectiveSpec) -> NewObjective {
    NewObjective {
        name: Some(spec.name.clone()),
        system_id: spec.system_id.clone(),
        target: spec.target,
        window: spec.window,
        health_check_configuration_id: spec.health_check_configuration_id.clone(),
        dependency_exclusion: spec.dependency_exclusion,
        excluded_dependency_ids: spec.excluded_dependency_ids.clone(),
        exclude_maintenance_windows: spec.exclude_maintenance_windows,
        burn_rate_thresholds: spec.burn_rate_thresholds,
        // Files do not say (yet): the default tiers, as the API gives.
        burn_rate_alerts: slod_core::burn_alerts::BurnRateAlerts::default(),
        created_at: None,
    }
}

/// Every setting the document has, so the objective becomes exactly it.
fn patch(spec: &ObjectiveSpec) -> ObjectivePatch {
    let thresholds = spec.burn_rate_thresholds;
    ObjectivePatch {
        name: Some(Some(spec.name.clone())),
        target: Some(spec.target),
        window: Some(spec.window),
        health_check_configuration_id: Some(spec.health_check_configuration_id.clone()),
        dependency_exclusion: Some(spec.dependency_exclusion),
        excluded_dependency_ids: Some(spec.excluded_dependency_ids.clone()),
        exclude_maintenance_windows: Some(spec.exclude_maintenance_windows),
        burn_rate_thresholds: Some(ThresholdsPatch {
            warning_percent: Some(thresholds.warning_percent),
            critical_percent: Some(thresholds.critical_percent),
            fast_burn_multiplier: Some(thresholds.fast_burn_multiplier),
        }),
        // Left as they are: files do not carry tiers yet.
        burn_rate_alerts: None,
        created_at: None,
    }
}

/// Every named objective and its systems as one YAML stream.
pub async fn export(store: &dyn Store, format: ExportFormat) -> ServiceResult<String> {
    let current = current(store).await?;
    Ok(export::export(&current.systems, &current.objectives, format))
}
