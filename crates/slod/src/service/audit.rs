//! `slod check` (SPEC §12): judge the stored downtime against its
//! invariants and, when asked, rebuild the events of every objective found
//! wanting from the report log, in one transaction, then judge again.
//!
//! The rules and the rebuild are pure (`slod_core::audit`); this reads the
//! database, writes the repair and says what happened.

use std::collections::{BTreeMap, BTreeSet};

use slod_core::audit::{find_problems, rebuild_events, AuditData, Problem};
use slod_core::model::{ObjectiveId, SystemId};
use slod_store::Store;

use super::{id_generator, ServiceError, ServiceResult};

/// What was checked and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    pub systems: usize,
    pub objectives: usize,
    pub events: usize,
    pub problems: Vec<Problem>,
}

impl Findings {
    fn of(data: &AuditData) -> Self {
        Self {
            systems: data.systems.len(),
            objectives: data.objectives.len(),
            events: data.events.len(),
            problems: find_problems(data),
        }
    }

    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }

    /// The objectives with at least one problem.
    pub fn objectives_affected(&self) -> BTreeSet<ObjectiveId> {
        self.problems.iter().map(|p| p.objective_id().clone()).collect()
    }
}

/// One objective's rebuilt events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    pub objective_id: ObjectiveId,
    pub system_id: SystemId,
    pub events_before: usize,
    pub events_after: usize,
}

/// The outcome of `slod check [--repair]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub before: Findings,
    /// With `--repair` and something to repair: what was rebuilt, and the
    /// findings of the check run again afterwards.
    pub repair: Option<(Vec<Repaired>, Findings)>,
}

impl CheckOutcome {
    /// Whether the database is consistent now.
    pub fn is_consistent(&self) -> bool {
        match &self.repair {
            Some((_, after)) => after.is_consistent(),
            None => self.before.is_consistent(),
        }
    }
}

/// Checks the database and, with `repair`, rebuilds the events of each
/// inconsistent objective from the report log.
pub async fn check(store: &dyn Store, repair: bool) -> ServiceResult<CheckOutcome> {
    let data = store.audit_data().await?;
    let before = Findings::of(&data);
    if !repair || before.is_consistent() {
        return Ok(CheckOutcome { before, repair: None });
    }
    let affected = before.objectives_affected();
    let rebuilt = rebuild_events(&data, &affected, &mut id_generator()).map_err(|err| {
        ServiceError::Internal(anyhow::anyhow!("the report log does not replay: {err}"))
    })?;
    let systems: BTreeMap<&str, &SystemId> =
        data.objectives.iter().map(|o| (o.id.as_str(), &o.system_id)).collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &data.events {
        *counts.entry(event.objective_id.as_str()).or_default() += 1;
    }
    let mut tx = store.begin().await?;
    let mut repaired = Vec::new();
    for (objective_id, events) in &rebuilt {
        // An event whose objective is gone has no log to rebuild from; the
        // foreign key makes that impossible, so it is only reported.
        let Some(system_id) = systems.get(objective_id.as_str()) else { continue };
        tx.replace_events(objective_id, events).await?;
        repaired.push(Repaired {
            objective_id: objective_id.clone(),
            system_id: (*system_id).clone(),
            events_before: counts.get(objective_id.as_str()).copied().unwrap_or(0),
            events_after: events.len(),
        });
    }
    tx.commit().await?;
    let after = Findings::of(&store.audit_data().await?);
    Ok(CheckOutcome { before, repair: Some((repaired, after)) })
}
