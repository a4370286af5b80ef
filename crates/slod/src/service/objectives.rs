//! Objectives (SPEC §2): create, update, delete, read with status.
//!
//! Creating or updating an objective re-judges its open downtime in the same
//! transaction (SPEC §2 "reconcile on create"): if its system is down and it
//! has no open event, one is opened; if its new settings attribute the open
//! event differently, the event is split at now. Closed history is never
//! rewritten.

use slod_core::burn_alerts::BurnRateAlerts;
use slod_core::engine;
use slod_core::model::{
    validate_created_at, BurnRateThresholds, DependencyExclusion, Objective, ObjectiveId,
    ObjectiveName, SystemId, Target,
};
use slod_core::time::Timestamp;
use slod_core::window::Window;
use slod_store::{Store, StoreTx};

use super::status::{self, ObjectiveWithStatus};
use super::{effects, id_generator, ServiceError, ServiceResult};

/// A partial `burnRateThresholds`: fields left out keep their current (or
/// default) value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThresholdsPatch {
    pub warning_percent: Option<f64>,
    pub critical_percent: Option<f64>,
    pub fast_burn_multiplier: Option<f64>,
}

impl ThresholdsPatch {
    pub fn apply_to(self, base: BurnRateThresholds) -> BurnRateThresholds {
        BurnRateThresholds {
            warning_percent: self.warning_percent.unwrap_or(base.warning_percent),
            critical_percent: self.critical_percent.unwrap_or(base.critical_percent),
            fast_burn_multiplier: self.fast_burn_multiplier.unwrap_or(base.fast_burn_multiplier),
        }
    }
}

/// A validated create request; defaults are applied here.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObjective {
    /// Unique among objectives (SPEC §14); `None`: unnamed.
    pub name: Option<ObjectiveName>,
    pub system_id: SystemId,
    pub target: Target,
    pub window: Window,
    pub health_check_configuration_id: Option<String>,
    pub dependency_exclusion: DependencyExclusion,
    pub excluded_dependency_ids: Vec<SystemId>,
    pub exclude_maintenance_windows: bool,
    pub burn_rate_thresholds: BurnRateThresholds,
    pub burn_rate_alerts: BurnRateAlerts,
    /// `None`: now.
    pub created_at: Option<Timestamp>,
}

/// A validated update: `None` leaves a field as it is. For `name` and
/// `health_check_configuration_id`, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectivePatch {
    pub name: Option<Option<ObjectiveName>>,
    pub target: Option<Target>,
    /// Replaces the window, whichever kind it was (SPEC §17).
    pub window: Option<Window>,
    pub health_check_configuration_id: Option<Option<String>>,
    pub dependency_exclusion: Option<DependencyExclusion>,
    pub excluded_dependency_ids: Option<Vec<SystemId>>,
    pub exclude_maintenance_windows: Option<bool>,
    pub burn_rate_thresholds: Option<ThresholdsPatch>,
    /// Replaces the whole list.
    pub burn_rate_alerts: Option<BurnRateAlerts>,
    pub created_at: Option<Timestamp>,
}

pub async fn create_objective(
    store: &dyn Store,
    now: Timestamp,
    new: NewObjective,
) -> ServiceResult<Objective> {
    let mut tx = store.begin().await?;
    let objective = create_in(&mut *tx, now, new).await?;
    tx.commit().await?;
    Ok(objective)
}

/// [`create_objective`] inside a transaction the caller commits (`slod
/// apply` creates many in one).
pub(crate) async fn create_in(
    tx: &mut dyn StoreTx,
    now: Timestamp,
    new: NewObjective,
) -> ServiceResult<Objective> {
    let created_at = match new.created_at {
        Some(at) => validate_created_at(at, now)?,
        None => now,
    };
    let burn_rate_thresholds = new.burn_rate_thresholds.validate()?;
    let objective = Objective {
        id: ObjectiveId::generate(),
        name: new.name,
        system_id: new.system_id,
        health_check_configuration_id: new.health_check_configuration_id,
        target: new.target,
        window: new.window,
        dependency_exclusion: new.dependency_exclusion,
        excluded_dependency_ids: new.excluded_dependency_ids,
        exclude_maintenance_windows: new.exclude_maintenance_windows,
        burn_rate_thresholds,
        burn_rate_alerts: new.burn_rate_alerts,
        created_at,
        updated_at: now,
    };

    let system = std::slice::from_ref(&objective.system_id);
    if tx.existing_systems(system).await?.is_empty() {
        return Err(ServiceError::unknown_system(&objective.system_id, Some("systemId".into())));
    }
    tx.insert_objective(&objective).await.map_err(|err| name_taken(err, &objective))?;
    reconcile(tx, &objective, now).await?;
    Ok(objective)
}

/// A uniqueness conflict on writing an objective can only be its name
/// (the id is fresh): say so, naming the field.
fn name_taken(err: slod_store::StoreError, objective: &Objective) -> ServiceError {
    match (err, &objective.name) {
        (slod_store::StoreError::Conflict(_), Some(name)) => ServiceError::Conflict {
            message: format!("an objective named `{name}` already exists"),
            field: Some("name".into()),
        },
        (err, _) => err.into(),
    }
}

pub async fn update_objective(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
    patch: ObjectivePatch,
) -> ServiceResult<Objective> {
    let mut tx = store.begin().await?;
    let objective = update_in(&mut *tx, now, id, patch).await?;
    tx.commit().await?;
    Ok(objective)
}

/// [`update_objective`] inside a transaction the caller commits.
pub(crate) async fn update_in(
    tx: &mut dyn StoreTx,
    now: Timestamp,
    id: &str,
    patch: ObjectivePatch,
) -> ServiceResult<Objective> {
    let Some(mut objective) = tx.get_objective(id).await? else {
        return Err(ServiceError::unknown_objective(id));
    };
    if let Some(name) = patch.name {
        objective.name = name;
    }
    if let Some(target) = patch.target {
        objective.target = target;
    }
    if let Some(window) = patch.window {
        objective.window = window;
    }
    if let Some(check) = patch.health_check_configuration_id {
        objective.health_check_configuration_id = check;
    }
    if let Some(mode) = patch.dependency_exclusion {
        objective.dependency_exclusion = mode;
    }
    if let Some(excluded) = patch.excluded_dependency_ids {
        objective.excluded_dependency_ids = excluded;
    }
    if let Some(exclude) = patch.exclude_maintenance_windows {
        objective.exclude_maintenance_windows = exclude;
    }
    if let Some(thresholds) = patch.burn_rate_thresholds {
        objective.burn_rate_thresholds =
            thresholds.apply_to(objective.burn_rate_thresholds).validate()?;
    }
    if let Some(alerts) = patch.burn_rate_alerts {
        objective.burn_rate_alerts = alerts;
    }
    if let Some(at) = patch.created_at {
        objective.created_at = validate_created_at(at, now)?;
    }
    objective.updated_at = now;
    tx.update_objective(&objective).await.map_err(|err| name_taken(err, &objective))?;
    reconcile(tx, &objective, now).await?;
    Ok(objective)
}

/// Deletes an objective with its events, snapshots, streak and alert state.
pub async fn delete_objective(store: &dyn Store, id: &str) -> ServiceResult<()> {
    let mut tx = store.begin().await?;
    if !tx.delete_objective(id).await? {
        return Err(ServiceError::unknown_objective(id));
    }
    tx.commit().await?;
    Ok(())
}

/// SPEC §2: an objective created or changed while its system is down gets
/// (or re-attributes) its open event now.
async fn reconcile(
    tx: &mut dyn StoreTx,
    objective: &Objective,
    now: Timestamp,
) -> ServiceResult<()> {
    let mut world = tx.load_world(std::slice::from_ref(&objective.system_id)).await?;
    let changes = engine::reconcile_objective(&mut world, &objective.id, now, &mut id_generator());
    if !changes.is_empty() {
        tx.write_changes(&changes).await?;
    }
    // Created or updated: its status changed even if no event did.
    let affected = std::iter::once(objective.id.clone()).collect();
    effects::after_changes(tx, &world, &affected, &changes.outages_ended, now).await?;
    Ok(())
}

/// One objective with its status at `at` (or now).
pub async fn get_objective(
    store: &dyn Store,
    id: &str,
    at: Option<Timestamp>,
    now: Timestamp,
) -> ServiceResult<ObjectiveWithStatus> {
    let Some(objective) = store.get_objective(id).await? else {
        return Err(ServiceError::unknown_objective(id));
    };
    let mut items = status::with_status(store, vec![objective], at, now).await?;
    items.pop().ok_or_else(|| ServiceError::unknown_objective(id))
}

/// Every objective, or those of `systems`, each with its status now.
pub async fn list_objectives(
    store: &dyn Store,
    systems: Option<&[SystemId]>,
    now: Timestamp,
) -> ServiceResult<Vec<ObjectiveWithStatus>> {
    let objectives = store.list_objectives(systems).await?;
    status::with_status(store, objectives, None, now).await
}

/// The objectives of one system; `NotFound` when the system does not exist.
pub async fn list_system_objectives(
    store: &dyn Store,
    system: &SystemId,
    now: Timestamp,
) -> ServiceResult<Vec<ObjectiveWithStatus>> {
    if store.get_system(system).await?.is_none() {
        return Err(ServiceError::unknown_system(system, None));
    }
    list_objectives(store, Some(std::slice::from_ref(system)), now).await
}

/// The objective's downtime events, newest first.
pub async fn list_events(
    store: &dyn Store,
    id: &str,
    limit: u32,
) -> ServiceResult<Vec<slod_core::model::DowntimeEvent>> {
    if store.get_objective(id).await?.is_none() {
        return Err(ServiceError::unknown_objective(id));
    }
    Ok(store.list_events(id, limit).await?)
}
