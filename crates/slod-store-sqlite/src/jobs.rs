//! [`JobStore`] and [`JobTx`] for SQLite.
//!
//! Writes run on the single writer connection, so two transactions never
//! interleave here; the `ON CONFLICT` clauses still carry the idempotency
//! (a re-run, or a second process on the same file, inserts nothing twice).
//! Reads that both the store and a transaction offer are written once,
//! against a plain connection.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use async_trait::async_trait;
use slod_core::model::SystemId;
use slod_core::streak::{Snapshot, Streak};
use slod_core::time::Timestamp;
use slod_store::codec::{
    self, AchievementFields, DigestFields, OriginalFields, RunFields, SnapshotFields, StreakFields,
    ACHIEVEMENT_COLUMNS, DIGEST_COLUMNS, RUN_COLUMNS, SNAPSHOT_COLUMNS, SNAPSHOT_READ_COLUMNS,
    STREAK_COLUMNS,
};
use slod_store::counted;
use slod_store::jobs::{
    AchievementRow, ClaimOutcome, DigestRow, JobClaim, JobKind, JobRunRow, JobRunStatus,
    MilestoneRow, OutageSpan, StreakRow,
};
use slod_store::{JobStore, JobTx, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::rows::{change_counters, other, push_in_list};
use crate::tx::SqliteTx;
use crate::{write_error, SqliteStore};

/// Past this many ids an `IN` list costs more than reading every row and
/// keeping the wanted ones (as `rows::query_spans` does).
const MAX_IN_LIST: usize = 500;

/// Up to this many systems, recent outages are read with one indexed
/// `LIMIT` query per system rather than one window query over all.
const PER_SYSTEM_QUERIES: usize = 32;

fn millis(row: &SqliteRow, i: usize) -> Result<Timestamp, StoreError> {
    row.try_get::<i64, _>(i).map(codec::millis).map_err(other)
}

fn streak_from_row(row: &SqliteRow) -> Result<StreakRow, StoreError> {
    StreakFields {
        objective_id: row.try_get(0).map_err(other)?,
        system_id: row.try_get(1).map_err(other)?,
        current_streak: row.try_get(2).map_err(other)?,
        best_streak: row.try_get(3).map_err(other)?,
        streak_start: row.try_get(4).map_err(other)?,
        best_streak_end: row.try_get(5).map_err(other)?,
        last_run_date: row.try_get(6).map_err(other)?,
    }
    .decode()
}

fn run_from_row(row: &SqliteRow) -> Result<JobRunRow, StoreError> {
    RunFields {
        kind: row.try_get(0).map_err(other)?,
        period: row.try_get(1).map_err(other)?,
        period_start: row.try_get(2).map_err(other)?,
        status: row.try_get(3).map_err(other)?,
        lease_owner: row.try_get(4).map_err(other)?,
        lease_expires_at: row.try_get(5).map_err(other)?,
        started_at: row.try_get(6).map_err(other)?,
        completed_at: row.try_get(7).map_err(other)?,
        result: row.try_get(8).map_err(other)?,
    }
    .decode()
}

/// Decodes [`SNAPSHOT_READ_COLUMNS`].
pub(crate) fn snapshot_from_row(row: &SqliteRow) -> Result<Snapshot, StoreError> {
    let recomputed: bool = row.try_get::<i64, _>(7).map_err(other)? != 0;
    let original = if recomputed {
        Some(OriginalFields {
            availability_percent: row.try_get(8).map_err(other)?,
            budget_consumed_minutes: row.try_get(9).map_err(other)?,
            budget_remaining_percent: row.try_get(10).map_err(other)?,
            burn_rate: row.try_get(11).map_err(other)?,
            streak_days: row.try_get(12).map_err(other)?,
        })
    } else {
        None
    };
    SnapshotFields {
        objective_id: row.try_get(0).map_err(other)?,
        date: row.try_get(1).map_err(other)?,
        availability_percent: row.try_get(2).map_err(other)?,
        budget_consumed_minutes: row.try_get(3).map_err(other)?,
        budget_remaining_percent: row.try_get(4).map_err(other)?,
        burn_rate: row.try_get(5).map_err(other)?,
        streak_days: row.try_get(6).map_err(other)?,
        original,
    }
    .decode()
}

fn digest_from_row(row: &SqliteRow) -> Result<DigestRow, StoreError> {
    DigestFields {
        id: row.try_get(0).map_err(other)?,
        manual: row.try_get::<i64, _>(1).map_err(other)? != 0,
        created_at: row.try_get(2).map_err(other)?,
        payload: row.try_get(3).map_err(other)?,
    }
    .decode()
}

/// Decodes `ACHIEVEMENT_COLUMNS` starting at column `offset`.
fn achievement_fields_at(row: &SqliteRow, offset: usize) -> Result<AchievementFields, StoreError> {
    Ok(AchievementFields {
        system_id: row.try_get(offset).map_err(other)?,
        achievement: row.try_get(offset + 1).map_err(other)?,
        unlocked_at: row.try_get(offset + 2).map_err(other)?,
    })
}

/// Streaks of `objective_ids` (all when `None`) on `conn`.
async fn query_streaks(
    conn: &mut SqliteConnection,
    objective_ids: Option<&[String]>,
    order: &str,
) -> StoreResult<Vec<StreakRow>> {
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {STREAK_COLUMNS} FROM slo_streaks s JOIN slo_objectives o ON o.id = s.objective_id"
    ));
    let wanted: Option<BTreeSet<&str>> = match objective_ids {
        None => None,
        Some([]) => return Ok(Vec::new()),
        Some(ids) if ids.len() > MAX_IN_LIST => Some(ids.iter().map(String::as_str).collect()),
        Some(ids) => {
            qb.push(" WHERE s.objective_id IN ");
            push_in_list(&mut qb, ids.iter().map(String::as_str));
            None
        }
    };
    qb.push(" ORDER BY ");
    qb.push(order);
    let rows = qb.build().fetch_all(&mut *conn).await.map_err(other)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(wanted) = &wanted {
            let id: &str = row.try_get(0).map_err(other)?;
            if !wanted.contains(id) {
                continue;
            }
        }
        out.push(streak_from_row(row)?);
    }
    Ok(out)
}

async fn query_recent_outages(
    conn: &mut SqliteConnection,
    systems: &[SystemId],
    at: Timestamp,
    per_system: u32,
) -> StoreResult<BTreeMap<SystemId, Vec<OutageSpan>>> {
    let mut out: BTreeMap<SystemId, Vec<OutageSpan>> = BTreeMap::new();
    if systems.is_empty() || per_system == 0 {
        return Ok(out);
    }
    // A system's outages never overlap, so the latest start is the latest
    // end, and the (system_id, start_time) index walks them newest first.
    // A few systems (a recovery): one LIMIT per system, which reads
    // `per_system` rows however long the history. Many (the daily job): one
    // window query over them all, once a day.
    if systems.len() <= PER_SYSTEM_QUERIES {
        for system in systems {
            let rows = sqlx::query(
                "SELECT start_time, end_time FROM system_outages
                 WHERE system_id = ? AND end_time IS NOT NULL AND end_time <= ?
                 ORDER BY start_time DESC LIMIT ?",
            )
            .bind(system.as_str())
            .bind(at.millis())
            .bind(i64::from(per_system))
            .fetch_all(&mut *conn)
            .await
            .map_err(other)?;
            if !rows.is_empty() {
                let spans = rows
                    .iter()
                    .map(|row| Ok(OutageSpan { start: millis(row, 0)?, end: millis(row, 1)? }))
                    .collect::<StoreResult<Vec<_>>>()?;
                out.insert(system.clone(), spans);
            }
        }
        return Ok(out);
    }
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT system_id, start_time, end_time FROM (
             SELECT system_id, start_time, end_time,
                    ROW_NUMBER() OVER (PARTITION BY system_id ORDER BY start_time DESC) AS n
             FROM system_outages WHERE end_time IS NOT NULL AND end_time <= ",
    );
    qb.push_bind(at.millis());
    let wanted: Option<BTreeSet<&str>> = if systems.len() > MAX_IN_LIST {
        Some(systems.iter().map(SystemId::as_str).collect())
    } else {
        qb.push(" AND system_id IN ");
        push_in_list(&mut qb, systems.iter().map(SystemId::as_str));
        None
    };
    qb.push(") WHERE n <= ");
    qb.push_bind(i64::from(per_system));
    qb.push(" ORDER BY system_id, start_time DESC");
    let rows = qb.build().fetch_all(&mut *conn).await.map_err(other)?;
    for row in &rows {
        let system: String = row.try_get(0).map_err(other)?;
        if wanted.as_ref().is_some_and(|w| !w.contains(system.as_str())) {
            continue;
        }
        let span = OutageSpan { start: millis(row, 1)?, end: millis(row, 2)? };
        out.entry(SystemId::from_trusted(system)).or_default().push(span);
    }
    Ok(out)
}

async fn query_achievements(
    conn: &mut SqliteConnection,
    systems: Option<&[SystemId]>,
) -> StoreResult<Vec<AchievementRow>> {
    let mut qb =
        QueryBuilder::<Sqlite>::new(format!("SELECT {ACHIEVEMENT_COLUMNS} FROM slo_achievements"));
    match systems {
        None => {}
        Some([]) => return Ok(Vec::new()),
        Some(systems) => {
            qb.push(" WHERE system_id IN ");
            push_in_list(&mut qb, systems.iter().map(SystemId::as_str));
        }
    }
    qb.push(" ORDER BY system_id, unlocked_at, achievement");
    let rows = qb.build().fetch_all(&mut *conn).await.map_err(other)?;
    rows.iter().map(|row| achievement_fields_at(row, 0)?.decode()).collect()
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn objective_ids(&self) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT id FROM slo_objectives ORDER BY system_id, created_at, id")
            .fetch_all(&self.reader)
            .await
            .map_err(other)
    }

    /// From the rows kept in memory while the database's counters of
    /// objective and streak changes stay put (`slod_store::counted`).
    async fn streaks(&self, objective_ids: Option<&[String]>) -> StoreResult<Vec<StreakRow>> {
        if objective_ids.is_some_and(<[String]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut conn = self.reader.acquire().await.map_err(other)?;
        let counters = change_counters(&mut conn).await?;
        let counter = (counters.objectives, counters.streaks);
        let load = query_streaks(&mut conn, None, "o.system_id, s.objective_id");
        let all = self.streaks.get_or_load(counter, load).await?;
        Ok(counted::streaks_of(&all, objective_ids))
    }

    async fn snapshots(
        &self,
        objective_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Snapshot>> {
        let sql = format!(
            "SELECT {SNAPSHOT_READ_COLUMNS} FROM slo_daily_snapshots
             WHERE objective_id = ? AND date >= ? AND date <= ? ORDER BY date"
        );
        let rows = sqlx::query(&sql)
            .bind(objective_id)
            .bind(from.millis())
            .bind(to.millis())
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        rows.iter().map(snapshot_from_row).collect()
    }

    async fn achievements(&self, systems: Option<&[SystemId]>) -> StoreResult<Vec<AchievementRow>> {
        let mut conn = self.reader.acquire().await.map_err(other)?;
        query_achievements(&mut conn, systems).await
    }

    async fn milestones(&self, limit: u32) -> StoreResult<Vec<MilestoneRow>> {
        let sql = format!(
            "SELECT s.name, {} FROM slo_achievements a JOIN systems s ON s.id = a.system_id
             ORDER BY a.unlocked_at DESC, a.system_id, a.achievement LIMIT ?",
            codec::qualified("a", ACHIEVEMENT_COLUMNS)
        );
        let rows = sqlx::query(&sql)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        rows.iter()
            .map(|row| {
                achievement_fields_at(row, 1)?.decode_milestone(row.try_get(0).map_err(other)?)
            })
            .collect()
    }

    async fn digests(&self, limit: u32) -> StoreResult<Vec<DigestRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {DIGEST_COLUMNS} FROM slo_digests ORDER BY created_at DESC, rowid DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        rows.iter().map(digest_from_row).collect()
    }

    async fn recent_outages(
        &self,
        systems: &[SystemId],
        at: Timestamp,
        per_system: u32,
    ) -> StoreResult<BTreeMap<SystemId, Vec<OutageSpan>>> {
        let mut conn = self.reader.acquire().await.map_err(other)?;
        query_recent_outages(&mut conn, systems, at, per_system).await
    }

    async fn latest_completed_run(&self, kind: JobKind) -> StoreResult<Option<JobRunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs WHERE kind = ? AND status = 'completed'
             ORDER BY period_start DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(kind.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn job_run(&self, kind: JobKind, period: &str) -> StoreResult<Option<JobRunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE kind = ? AND period = ?");
        let row = sqlx::query(&sql)
            .bind(kind.as_str())
            .bind(period)
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn job_runs(&self, kind: Option<JobKind>, limit: u32) -> StoreResult<Vec<JobRunRow>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {RUN_COLUMNS} FROM job_runs"));
        if let Some(kind) = kind {
            qb.push(" WHERE kind = ");
            qb.push_bind(kind.as_str());
        }
        qb.push(" ORDER BY period_start DESC, kind LIMIT ");
        qb.push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(other)?;
        rows.iter().map(run_from_row).collect()
    }
}

#[async_trait]
impl JobTx for SqliteTx {
    async fn claim_run(&mut self, claim: &JobClaim<'_>) -> StoreResult<ClaimOutcome> {
        // One statement: insert the run, or take over a run whose holder let
        // its lease expire. A completed run, or a live lease, is left alone
        // and no row comes back.
        let claimed = sqlx::query(
            "INSERT INTO job_runs (kind, period, period_start, status, lease_owner, lease_expires_at, started_at)
             VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6)
             ON CONFLICT (kind, period) DO UPDATE SET
                 lease_owner = excluded.lease_owner,
                 lease_expires_at = excluded.lease_expires_at,
                 started_at = excluded.started_at
             WHERE job_runs.status = 'running' AND job_runs.lease_expires_at <= ?6
             RETURNING kind",
        )
        .bind(claim.kind.as_str())
        .bind(claim.period)
        .bind(claim.period_start.millis())
        .bind(claim.owner)
        .bind(claim.lease_until.millis())
        .bind(claim.now.millis())
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(write_error)?;
        if claimed.is_some() {
            return Ok(ClaimOutcome::Claimed);
        }
        let sql = format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE kind = ? AND period = ?");
        let row = sqlx::query(&sql)
            .bind(claim.kind.as_str())
            .bind(claim.period)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(other)?;
        let run = run_from_row(&row)?;
        Ok(match run.status {
            JobRunStatus::Completed => ClaimOutcome::Completed(run),
            JobRunStatus::Running => ClaimOutcome::Held(run),
        })
    }

    async fn renew_lease(
        &mut self,
        kind: JobKind,
        period: &str,
        owner: &str,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let renewed = sqlx::query(
            "UPDATE job_runs SET lease_expires_at = ?
             WHERE kind = ? AND period = ? AND lease_owner = ? AND status = 'running'",
        )
        .bind(until.millis())
        .bind(kind.as_str())
        .bind(period)
        .bind(owner)
        .execute(&mut *self.tx)
        .await
        .map_err(other)?;
        Ok(renewed.rows_affected() > 0)
    }

    async fn complete_run(
        &mut self,
        kind: JobKind,
        period: &str,
        owner: &str,
        now: Timestamp,
        result: &str,
    ) -> StoreResult<bool> {
        let completed = sqlx::query(
            "UPDATE job_runs SET status = 'completed', completed_at = ?1, lease_expires_at = ?1, result = ?2
             WHERE kind = ?3 AND period = ?4 AND lease_owner = ?5 AND status = 'running'",
        )
        .bind(now.millis())
        .bind(result)
        .bind(kind.as_str())
        .bind(period)
        .bind(owner)
        .execute(&mut *self.tx)
        .await
        .map_err(other)?;
        Ok(completed.rows_affected() > 0)
    }

    async fn release_run(&mut self, kind: JobKind, period: &str, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM job_runs
             WHERE kind = ? AND period = ? AND lease_owner = ? AND status = 'running'",
        )
        .bind(kind.as_str())
        .bind(period)
        .bind(owner)
        .execute(&mut *self.tx)
        .await
        .map_err(other)?;
        Ok(())
    }

    async fn streaks(&mut self, objective_ids: &[String]) -> StoreResult<Vec<StreakRow>> {
        query_streaks(&mut self.tx, Some(objective_ids), "s.objective_id").await
    }

    async fn lock_streaks(&mut self, objective_ids: &[String]) -> StoreResult<Vec<StreakRow>> {
        // The single writer connection already serialises transactions.
        query_streaks(&mut self.tx, Some(objective_ids), "s.objective_id").await
    }

    async fn save_streaks(&mut self, streaks: &[(String, Streak)]) -> StoreResult<()> {
        for (objective_id, s) in streaks {
            sqlx::query(
                "INSERT INTO slo_streaks (objective_id, current_streak, best_streak, streak_start, best_streak_end, last_run_date)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (objective_id) DO UPDATE SET
                     current_streak = excluded.current_streak,
                     best_streak = excluded.best_streak,
                     streak_start = excluded.streak_start,
                     best_streak_end = excluded.best_streak_end,
                     last_run_date = excluded.last_run_date",
            )
            .bind(objective_id)
            .bind(i64::from(s.current_streak))
            .bind(i64::from(s.best_streak))
            .bind(s.streak_start.map(Timestamp::millis))
            .bind(s.best_streak_end.map(Timestamp::millis))
            .bind(s.last_run.map(Timestamp::millis))
            .execute(&mut *self.tx)
            .await
            .map_err(write_error)?;
        }
        Ok(())
    }

    async fn insert_snapshots(&mut self, snapshots: &[Snapshot]) -> StoreResult<BTreeSet<String>> {
        let mut inserted = BTreeSet::new();
        let sql = format!(
            "INSERT INTO slo_daily_snapshots ({SNAPSHOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (objective_id, date) DO NOTHING"
        );
        for s in snapshots {
            let done = sqlx::query(&sql)
                .bind(s.objective_id.as_str())
                .bind(s.date.millis())
                .bind(s.availability_percent)
                .bind(s.budget_consumed_minutes)
                .bind(s.budget_remaining_percent)
                .bind(s.burn_rate)
                .bind(i64::from(s.streak_days))
                .execute(&mut *self.tx)
                .await
                .map_err(write_error)?;
            if done.rows_affected() > 0 {
                inserted.insert(s.objective_id.to_string());
            }
        }
        Ok(inserted)
    }

    async fn achievements(&mut self, systems: &[SystemId]) -> StoreResult<Vec<AchievementRow>> {
        query_achievements(&mut self.tx, Some(systems)).await
    }

    async fn unlock_achievements(
        &mut self,
        unlocks: &[AchievementRow],
    ) -> StoreResult<Vec<AchievementRow>> {
        let mut new = Vec::new();
        for unlock in unlocks {
            let done = sqlx::query(
                "INSERT INTO slo_achievements (system_id, achievement, unlocked_at) VALUES (?, ?, ?)
                 ON CONFLICT (system_id, achievement) DO NOTHING",
            )
            .bind(unlock.system_id.as_str())
            .bind(unlock.achievement.as_str())
            .bind(unlock.unlocked_at.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(write_error)?;
            if done.rows_affected() > 0 {
                new.push(unlock.clone());
            }
        }
        Ok(new)
    }

    async fn recent_outages(
        &mut self,
        systems: &[SystemId],
        at: Timestamp,
        per_system: u32,
    ) -> StoreResult<BTreeMap<SystemId, Vec<OutageSpan>>> {
        query_recent_outages(&mut self.tx, systems, at, per_system).await
    }

    async fn insert_digest(&mut self, digest: &DigestRow) -> StoreResult<()> {
        let payload = serde_json::to_string(&digest.digest)
            .map_err(|err| StoreError::Other(anyhow!("serialising a digest: {err}")))?;
        sqlx::query(
            "INSERT INTO slo_digests (id, week_of, manual, created_at, payload) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&digest.id)
        .bind(digest.digest.week_of.to_string())
        .bind(i64::from(digest.manual))
        .bind(digest.created_at.millis())
        .bind(payload)
        .execute(&mut *self.tx)
        .await
        .map_err(write_error)?;
        Ok(())
    }
}
