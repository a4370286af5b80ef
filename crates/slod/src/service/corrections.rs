//! Corrections (SPEC §17): re-labelling a past interval of one system, the
//! audit trail of who did it and why, and what a correction changes.
//!
//! A correction is an overlay, never a rewrite: events stay as recorded
//! and every status computed afterwards, at any instant, reads the
//! system's live corrections through [`load_for`] / [`load_for_tx`] and
//! [`compute`] (one more read per status request, whatever the number of
//! objectives). What was *stored* from the old numbers, the daily
//! snapshots and the streaks stepped over them, is brought in line in the
//! transaction that makes or revokes the correction ([`recompute`]):
//! snapshots from the correction's start on are recomputed (each keeps its
//! first figures as `original`), and the streak is replayed over them.
//! Achievements already unlocked stay unlocked: an unlock is history.
//!
//! Who made a correction is the request's [`Actor`]: one place, so that
//! tokens (SPEC §16) can name it later; `local` until then.

use std::collections::BTreeMap;

use slod_core::corrections::{self as core, CorrectionKind, Overlay};
use slod_core::model::{Objective, SystemId};
use slod_core::status::{
    compute_status_settled, EventSpan, SettledSums, SloStatus, BURN_WINDOWS, OPEN_END,
};
use slod_core::streak::{self, Snapshot};
use slod_core::time::Timestamp;
use slod_store::corrections::{CorrectionRow, LiveCorrections};
use slod_store::{Spans, Store, StoreError, StoreTx};

use super::{maintenance, ServiceError, ServiceResult};

/// Who makes a change: the name of the token used, `local` while slod has
/// no tokens (SPEC §16, §17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn local() -> Self {
        Self("local".into())
    }
}

impl Default for Actor {
    fn default() -> Self {
        Self::local()
    }
}

/// `POST /systems/{id}/corrections` body, read but not yet checked
/// against the clock and the dependency graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCorrectionRequest {
    pub start: Timestamp,
    pub end: Timestamp,
    pub kind: CorrectionKind,
    pub reason: String,
}

fn unknown_correction(id: &str) -> ServiceError {
    ServiceError::NotFound { message: format!("no correction with id `{id}`"), field: None }
}

/// The live corrections of the systems of `objectives`, in one read.
pub async fn load_for<'a>(
    store: &dyn Store,
    objectives: impl IntoIterator<Item = &'a Objective>,
) -> ServiceResult<LiveCorrections> {
    let systems = systems_of(objectives);
    Ok(store.live_corrections(&systems).await?)
}

/// [`load_for`] inside a transaction (it sees the transaction's writes).
pub async fn load_for_tx<'a>(
    tx: &mut dyn StoreTx,
    objectives: impl IntoIterator<Item = &'a Objective>,
) -> ServiceResult<LiveCorrections> {
    let systems = systems_of(objectives);
    Ok(tx.live_corrections(&systems).await?)
}

fn systems_of<'a>(objectives: impl IntoIterator<Item = &'a Objective>) -> Vec<SystemId> {
    let mut systems: Vec<SystemId> = objectives.into_iter().map(|o| o.system_id.clone()).collect();
    systems.sort_unstable();
    systems.dedup();
    systems
}

/// The overlay of `objective`'s system.
pub fn overlay_for<'a>(objective: &Objective, corrections: &'a LiveCorrections) -> Overlay<'a> {
    match corrections.get(&objective.system_id) {
        Some(rows) => Overlay::new(rows.iter().map(|row| &row.correction)),
        None => Overlay::default(),
    }
}

/// `upstreams` with every upstream some correction names appended (named
/// by the system's name, or its id once it is gone), so that the status
/// arithmetic can attribute to it.
pub fn upstream_table(
    upstreams: &[(SystemId, String)],
    corrections: &LiveCorrections,
) -> Vec<(SystemId, String)> {
    let mut table = upstreams.to_vec();
    for row in corrections.values().flatten() {
        if let Some(id) = row.correction.kind.upstream() {
            if !table.iter().any(|(known, _)| known == id) {
                let name = row.upstream_name.clone().unwrap_or_else(|| id.to_string());
                table.push((id.clone(), name));
            }
        }
    }
    table
}

/// The status of `objective` at `at` from its spans (already rewound to
/// `at` when `at` is past), with maintenance and the system's corrections.
/// `upstreams` must come from [`upstream_table`]. `settled`, the sums kept
/// with the spans ([`Spans::settled`]), are used and moved on when nothing
/// reshapes the spans.
#[allow(clippy::too_many_arguments)]
pub fn compute(
    objective: &Objective,
    spans: &[EventSpan],
    settled: Option<&SettledSums>,
    upstreams: &[(SystemId, String)],
    at: Timestamp,
    system_down: bool,
    windows: &slod_store::maintenance::ActiveWindows,
    corrections: &LiveCorrections,
) -> SloStatus {
    let excluded = maintenance::excluded(objective, windows, at);
    let overlay = overlay_for(objective, corrections);
    compute_status_settled(
        objective,
        spans,
        settled,
        upstreams,
        at,
        system_down,
        &excluded,
        &overlay,
    )
}

/// Makes a correction and, in the same transaction, recomputes what it
/// changes. Checks SPEC §17's rules; `upstream` must name a current direct
/// upstream of the system.
pub async fn create(
    store: &dyn Store,
    now: Timestamp,
    actor: &Actor,
    system: &SystemId,
    request: CreateCorrectionRequest,
) -> ServiceResult<CorrectionRow> {
    let reason = core::validate(request.start, request.end, &request.reason, now)?;
    let mut tx = store.begin().await?;
    if tx.existing_systems(std::slice::from_ref(system)).await?.is_empty() {
        return Err(ServiceError::unknown_system(system, None));
    }
    if let Some(upstream) = request.kind.upstream() {
        let edges = tx.all_edges().await?;
        if !edges.iter().any(|(down, up)| down == system && up == upstream) {
            return Err(slod_core::model::ValidationError::new(
                "upstreamSystemId",
                format!("`{upstream}` is not a direct upstream of `{system}`"),
            )
            .into());
        }
    }
    let row = CorrectionRow {
        id: slod_store::new_id(),
        system_id: system.clone(),
        correction: core::Correction {
            start: request.start.millis(),
            end: request.end.millis(),
            kind: request.kind,
        },
        reason,
        author: actor.0.clone(),
        created_at: now,
        revoked_at: None,
        revoked_by: None,
        upstream_name: None,
    };
    tx.insert_correction(&row).await?;
    recompute(store, &mut *tx, system, request.start, now).await?;
    tx.commit().await?;
    tracing::info!(correction = %row.id, system = %system, kind = %row.correction.kind, author = %row.author, "correction made");
    Ok(store.get_correction(&row.id).await?.unwrap_or(row))
}

/// The system's corrections, revoked ones too, newest made first.
pub async fn list(store: &dyn Store, system: &SystemId) -> ServiceResult<Vec<CorrectionRow>> {
    if store.get_system(system).await?.is_none() {
        return Err(ServiceError::unknown_system(system, None));
    }
    Ok(store.list_corrections(system).await?)
}

/// Revokes a correction (the row stays, with who and when) and recomputes
/// what it had changed, in one transaction. Revoking twice is a conflict.
pub async fn revoke(
    store: &dyn Store,
    now: Timestamp,
    actor: &Actor,
    id: &str,
) -> ServiceResult<CorrectionRow> {
    let mut tx = store.begin().await?;
    let row = match tx.revoke_correction(id, now, &actor.0).await {
        Err(StoreError::NotFound) => return Err(unknown_correction(id)),
        Err(StoreError::Conflict(message)) => {
            return Err(ServiceError::Conflict { message, field: None })
        }
        other => other?,
    };
    let start = Timestamp::from_millis(row.correction.start);
    recompute(store, &mut *tx, &row.system_id, start, now).await?;
    tx.commit().await?;
    tracing::info!(correction = %id, system = %row.system_id, author = %actor.0, "correction revoked");
    Ok(row)
}

/// Recomputes, inside `tx`, the snapshots of `system`'s objectives dated
/// after `from` with the corrections as `tx` sees them, and replays each
/// streak over them (SPEC §17). Only snapshots whose figures change are
/// rewritten, so a snapshot the correction does not touch keeps
/// `original: null`. The streak rows are locked first, which serialises
/// this with a daily run stepping the same streaks.
async fn recompute(
    store: &dyn Store,
    tx: &mut dyn StoreTx,
    system: &SystemId,
    from: Timestamp,
    now: Timestamp,
) -> ServiceResult<()> {
    let objectives = store.list_objectives(Some(std::slice::from_ref(system))).await?;
    if objectives.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = objectives.iter().map(|o| o.id.to_string()).collect();
    let streak_rows = tx.lock_streaks(&ids).await?;
    let mut snapshots = tx.all_snapshots(&ids).await?;
    let affected: Vec<Timestamp> = snapshots
        .values()
        .flatten()
        .map(|s| s.date)
        .filter(|date| *date > from && *date <= now)
        .collect();
    let (Some(first), Some(last)) = (affected.iter().min(), affected.iter().max()) else {
        return Ok(());
    };
    let longest_burn = BURN_WINDOWS[BURN_WINDOWS.len() - 1].1;
    // The earliest instant a recomputed status reads: its window's start (a
    // calendar period's, SPEC §17) or the widest burn window before the
    // first affected midnight; later midnights' windows start no earlier.
    let spans_from = objectives
        .iter()
        .map(|o| o.window_start(*first).min(first.minus_millis(longest_burn)))
        .min()
        .unwrap_or(*first);
    let spans = tx.event_spans(&ids, spans_from, *last).await?;
    let windows = maintenance::load_for_tx(tx, objectives.iter()).await?;
    let corrections = load_for_tx(tx, objectives.iter()).await?;
    let upstreams = upstream_table(&spans.upstreams, &corrections);
    let mut midnights: Vec<Timestamp> = affected.clone();
    midnights.sort_unstable();
    midnights.dedup();
    let mut down_at: BTreeMap<Timestamp, bool> = BTreeMap::new();
    for midnight in &midnights {
        let down = store.systems_down_at(std::slice::from_ref(system), *midnight).await?;
        down_at.insert(*midnight, down.contains(system));
    }

    let mut rewritten: Vec<Snapshot> = Vec::new();
    let mut streaks = Vec::new();
    for objective in &objectives {
        let Some(history) = snapshots.remove(objective.id.as_str()) else {
            continue;
        };
        let split = history.partition_point(|s| s.date <= from);
        let Some(first_recomputed) = history.get(split) else {
            continue;
        };
        let mut streak = streak::streak_before(&history[..split], first_recomputed.streak_days);
        let own = spans.spans.get(objective.id.as_str()).map(Spans::as_slice).unwrap_or(&[]);
        for old in history.iter().skip(split).filter(|s| s.date <= now) {
            let midnight = old.date;
            let rewound = rewind(own, midnight);
            let down = down_at.get(&midnight).copied().unwrap_or(false);
            let status = compute(
                objective,
                &rewound,
                None,
                &upstreams,
                midnight,
                down,
                &windows,
                &corrections,
            );
            let new = streak::snapshot(&status, midnight, streak.current_streak);
            if new.values() != old.values() {
                rewritten.push(new);
            }
            streak = streak::update_streak(&streak, &status, midnight).streak;
        }
        let before = streak_rows.iter().find(|r| r.objective_id == objective.id.as_str());
        if before.is_none_or(|row| row.streak != streak) {
            streaks.push((objective.id.to_string(), streak));
        }
    }
    tx.recompute_snapshots(&rewritten).await?;
    tx.save_streaks(&streaks).await?;
    tracing::info!(system = %system, snapshots = rewritten.len(), streaks = streaks.len(), "recomputed after a correction");
    Ok(())
}

/// `spans` as they stood at the past instant `t` (see
/// `status::as_of`).
fn rewind(spans: &[EventSpan], t: Timestamp) -> Vec<EventSpan> {
    spans
        .iter()
        .map(|s| EventSpan { end: if s.end > t.millis() { OPEN_END } else { s.end }, ..*s })
        .collect()
}
