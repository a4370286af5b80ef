//! The gamification data the pages show next to status: achievements,
//! milestones and daily snapshots (SPEC §5, §7). Streaks come with every
//! `{objective, status, streak}` read.
//!
//! One place that asks the jobs' service functions for them, in the shapes
//! the components take.

use std::collections::BTreeMap;

use slod_core::achievements::AchievementType;
use slod_core::model::SystemId;
use slod_core::streak::Snapshot;
use slod_core::time::Timestamp;
use slod_store::Store;

use super::WebResult;
use crate::service;

/// An achievement a system has unlocked.
#[derive(Debug, Clone, PartialEq)]
pub struct Unlocked {
    pub kind: AchievementType,
    pub unlocked_at: Timestamp,
}

/// One entry of the organisation-wide milestone feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Milestone {
    pub system_id: SystemId,
    pub system_name: String,
    pub kind: AchievementType,
    pub unlocked_at: Timestamp,
}

/// The achievements of `systems` (all systems when `None`), oldest unlock
/// first.
pub async fn achievements(
    store: &dyn Store,
    systems: Option<&[SystemId]>,
) -> WebResult<BTreeMap<SystemId, Vec<Unlocked>>> {
    let mut by_system: BTreeMap<SystemId, Vec<Unlocked>> = BTreeMap::new();
    for row in service::achievements::achievements(store, systems).await? {
        by_system
            .entry(row.system_id)
            .or_default()
            .push(Unlocked { kind: row.achievement, unlocked_at: row.unlocked_at });
    }
    Ok(by_system)
}

/// The most recent unlocks across the organisation, newest first.
pub async fn milestones(store: &dyn Store, limit: u32) -> WebResult<Vec<Milestone>> {
    Ok(service::achievements::milestones(store, limit)
        .await?
        .into_iter()
        .map(|m| Milestone {
            system_id: m.system_id,
            system_name: m.system_name,
            kind: m.achievement,
            unlocked_at: m.unlocked_at,
        })
        .collect())
}

/// The objective's daily snapshots taken in `[from, to]`, oldest first.
pub async fn snapshots(
    store: &dyn Store,
    objective_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> WebResult<Vec<Snapshot>> {
    Ok(service::jobs::snapshots(store, objective_id, from, to).await?)
}
