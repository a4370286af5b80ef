//! [`JobStore`] and [`JobTx`] for PostgreSQL.
//!
//! Several replicas run jobs against one database, so what the SQLite
//! backend gets from its single writer comes from the database here:
//!
//! - `claim_run` is one `INSERT … ON CONFLICT DO UPDATE … WHERE` statement:
//!   concurrent claims for one period queue on the row and exactly one gets
//!   it (or takes over an expired lease).
//! - `lock_streaks` takes row locks (`FOR NO KEY UPDATE`, in objective id
//!   order, one statement) that the daily run holds to commit, so two runs
//!   over the same objectives serialise instead of both reading the old
//!   streak; `insert_snapshots` then gates each streak update on its own
//!   `ON CONFLICT DO NOTHING` insert.
//! - Batch writes go in as arrays (`UNNEST`), one round trip each.
//!
//! Every write and lock goes through `PgTx::writer`, which marks the
//! transaction dirty, so a later guarded locking step undoes itself with a
//! savepoint instead of restarting the transaction; reads use
//! `PgTx::reader` (see `tx.rs`, "Reads and writes").

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use async_trait::async_trait;
use slod_core::achievements::AchievementType;
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
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row;

use crate::rows::{change_counters, id_strs, other, write_error};
use crate::tx::PgTx;
use crate::PgStore;

fn millis(row: &PgRow, i: usize) -> Result<Timestamp, StoreError> {
    row.try_get::<i64, _>(i).map(codec::millis).map_err(other)
}

fn streak_from_row(row: &PgRow) -> Result<StreakRow, StoreError> {
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

fn run_from_row(row: &PgRow) -> Result<JobRunRow, StoreError> {
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
pub(crate) fn snapshot_from_row(row: &PgRow) -> Result<Snapshot, StoreError> {
    let recomputed: bool = row.try_get::<bool, _>(7).map_err(other)?;
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

fn digest_from_row(row: &PgRow) -> Result<DigestRow, StoreError> {
    DigestFields {
        id: row.try_get(0).map_err(other)?,
        manual: row.try_get(1).map_err(other)?,
        created_at: row.try_get(2).map_err(other)?,
        payload: row.try_get(3).map_err(other)?,
    }
    .decode()
}

/// Decodes `ACHIEVEMENT_COLUMNS` starting at column `offset`.
fn achievement_fields_at(row: &PgRow, offset: usize) -> Result<AchievementFields, StoreError> {
    Ok(AchievementFields {
        system_id: row.try_get(offset).map_err(other)?,
        achievement: row.try_get(offset + 1).map_err(other)?,
        unlocked_at: row.try_get(offset + 2).map_err(other)?,
    })
}

fn achievement_from_row(row: &PgRow) -> Result<AchievementRow, StoreError> {
    achievement_fields_at(row, 0)?.decode()
}

/// Streaks of `objective_ids` (all when `None`) on `conn`; `suffix` orders
/// (and may lock) the rows.
async fn query_streaks(
    conn: &mut PgConnection,
    objective_ids: Option<&[String]>,
    suffix: &str,
) -> StoreResult<Vec<StreakRow>> {
    let rows = match objective_ids {
        Some([]) => return Ok(Vec::new()),
        None => {
            let sql = format!(
                "SELECT {STREAK_COLUMNS} FROM slo_streaks s
                 JOIN slo_objectives o ON o.id = s.objective_id {suffix}"
            );
            sqlx::query(&sql).fetch_all(&mut *conn).await
        }
        Some(ids) => {
            let sql = format!(
                "SELECT {STREAK_COLUMNS} FROM slo_streaks s
                 JOIN slo_objectives o ON o.id = s.objective_id
                 WHERE s.objective_id = ANY($1) {suffix}"
            );
            sqlx::query(&sql).bind(ids).fetch_all(&mut *conn).await
        }
    }
    .map_err(other)?;
    rows.iter().map(streak_from_row).collect()
}

async fn query_recent_outages(
    conn: &mut PgConnection,
    systems: &[SystemId],
    at: Timestamp,
    per_system: u32,
) -> StoreResult<BTreeMap<SystemId, Vec<OutageSpan>>> {
    if systems.is_empty() || per_system == 0 {
        return Ok(BTreeMap::new());
    }
    // A system's outages never overlap, so the latest start is the latest
    // end: per system, the (system_id, start_time) index yields the newest
    // first and the LIMIT stops after `per_system` rows, however long the
    // history.
    let rows = sqlx::query(
        "SELECT s.id, o.start_time, o.end_time
         FROM UNNEST($1::text[]) AS s(id)
         CROSS JOIN LATERAL (
             SELECT start_time, end_time FROM system_outages
             WHERE system_id = s.id AND end_time IS NOT NULL AND end_time <= $2
             ORDER BY start_time DESC LIMIT $3
         ) AS o
         ORDER BY s.id, o.start_time DESC",
    )
    .bind(id_strs(systems))
    .bind(at.millis())
    .bind(i64::from(per_system))
    .fetch_all(&mut *conn)
    .await
    .map_err(other)?;
    let mut out: BTreeMap<SystemId, Vec<OutageSpan>> = BTreeMap::new();
    for row in &rows {
        let system: String = row.try_get(0).map_err(other)?;
        let span = OutageSpan { start: millis(row, 1)?, end: millis(row, 2)? };
        out.entry(SystemId::from_trusted(system)).or_default().push(span);
    }
    Ok(out)
}

async fn query_achievements(
    conn: &mut PgConnection,
    systems: Option<&[SystemId]>,
) -> StoreResult<Vec<AchievementRow>> {
    let rows = match systems {
        Some([]) => return Ok(Vec::new()),
        None => {
            sqlx::query(&format!(
                "SELECT {ACHIEVEMENT_COLUMNS} FROM slo_achievements
                     ORDER BY system_id, unlocked_at, achievement"
            ))
            .fetch_all(&mut *conn)
            .await
        }
        Some(systems) => {
            sqlx::query(&format!(
                "SELECT {ACHIEVEMENT_COLUMNS} FROM slo_achievements
                     WHERE system_id = ANY($1) ORDER BY system_id, unlocked_at, achievement"
            ))
            .bind(id_strs(systems))
            .fetch_all(&mut *conn)
            .await
        }
    }
    .map_err(other)?;
    rows.iter().map(achievement_from_row).collect()
}

#[async_trait]
impl JobStore for PgStore {
    async fn objective_ids(&self) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT id FROM slo_objectives ORDER BY system_id, created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(other)
    }

    /// From the rows kept in memory while the database's counters of
    /// objective and streak changes stay put (`slod_store::counted`).
    async fn streaks(&self, objective_ids: Option<&[String]>) -> StoreResult<Vec<StreakRow>> {
        if objective_ids.is_some_and(<[String]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await.map_err(other)?;
        let counter = change_counters(&mut conn).await?;
        let load = query_streaks(&mut conn, None, "ORDER BY o.system_id, s.objective_id");
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
             WHERE objective_id = $1 AND date >= $2 AND date <= $3 ORDER BY date"
        );
        let rows = sqlx::query(&sql)
            .bind(objective_id)
            .bind(from.millis())
            .bind(to.millis())
            .fetch_all(&self.pool)
            .await
            .map_err(other)?;
        rows.iter().map(snapshot_from_row).collect()
    }

    async fn achievements(&self, systems: Option<&[SystemId]>) -> StoreResult<Vec<AchievementRow>> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        query_achievements(&mut conn, systems).await
    }

    async fn milestones(&self, limit: u32) -> StoreResult<Vec<MilestoneRow>> {
        let sql = format!(
            "SELECT s.name, {} FROM slo_achievements a JOIN systems s ON s.id = a.system_id
             ORDER BY a.unlocked_at DESC, a.system_id, a.achievement LIMIT $1",
            codec::qualified("a", ACHIEVEMENT_COLUMNS)
        );
        let rows =
            sqlx::query(&sql).bind(i64::from(limit)).fetch_all(&self.pool).await.map_err(other)?;
        rows.iter()
            .map(|row| {
                achievement_fields_at(row, 1)?.decode_milestone(row.try_get(0).map_err(other)?)
            })
            .collect()
    }

    async fn digests(&self, limit: u32) -> StoreResult<Vec<DigestRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {DIGEST_COLUMNS} FROM slo_digests ORDER BY created_at DESC, pos DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        let mut conn = self.pool.acquire().await.map_err(other)?;
        query_recent_outages(&mut conn, systems, at, per_system).await
    }

    async fn latest_completed_run(&self, kind: JobKind) -> StoreResult<Option<JobRunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs WHERE kind = $1 AND status = 'completed'
             ORDER BY period_start DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(other)?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn job_run(&self, kind: JobKind, period: &str) -> StoreResult<Option<JobRunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE kind = $1 AND period = $2");
        let row = sqlx::query(&sql)
            .bind(kind.as_str())
            .bind(period)
            .fetch_optional(&self.pool)
            .await
            .map_err(other)?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn job_runs(&self, kind: Option<JobKind>, limit: u32) -> StoreResult<Vec<JobRunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs WHERE ($1::text IS NULL OR kind = $1)
             ORDER BY period_start DESC, kind LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(kind.map(JobKind::as_str))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(other)?;
        rows.iter().map(run_from_row).collect()
    }
}

#[async_trait]
impl JobTx for PgTx {
    async fn claim_run(&mut self, claim: &JobClaim<'_>) -> StoreResult<ClaimOutcome> {
        // Concurrent claims for one period queue on its row; the first
        // inserts, the others see its outcome once it commits.
        let claimed = sqlx::query(
            "INSERT INTO job_runs (kind, period, period_start, status, lease_owner, lease_expires_at, started_at)
             VALUES ($1, $2, $3, 'running', $4, $5, $6)
             ON CONFLICT (kind, period) DO UPDATE SET
                 lease_owner = EXCLUDED.lease_owner,
                 lease_expires_at = EXCLUDED.lease_expires_at,
                 started_at = EXCLUDED.started_at
             WHERE job_runs.status = 'running' AND job_runs.lease_expires_at <= $6
             RETURNING kind",
        )
        .bind(claim.kind.as_str())
        .bind(claim.period)
        .bind(claim.period_start.millis())
        .bind(claim.owner)
        .bind(claim.lease_until.millis())
        .bind(claim.now.millis())
        .fetch_optional(self.writer())
        .await
        .map_err(write_error)?;
        if claimed.is_some() {
            return Ok(ClaimOutcome::Claimed);
        }
        let sql = format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE kind = $1 AND period = $2");
        let row = sqlx::query(&sql)
            .bind(claim.kind.as_str())
            .bind(claim.period)
            .fetch_one(self.reader())
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
            "UPDATE job_runs SET lease_expires_at = $1
             WHERE kind = $2 AND period = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(until.millis())
        .bind(kind.as_str())
        .bind(period)
        .bind(owner)
        .execute(self.writer())
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
            "UPDATE job_runs SET status = 'completed', completed_at = $1, lease_expires_at = $1, result = $2
             WHERE kind = $3 AND period = $4 AND lease_owner = $5 AND status = 'running'",
        )
        .bind(now.millis())
        .bind(result)
        .bind(kind.as_str())
        .bind(period)
        .bind(owner)
        .execute(self.writer())
        .await
        .map_err(other)?;
        Ok(completed.rows_affected() > 0)
    }

    async fn release_run(&mut self, kind: JobKind, period: &str, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM job_runs
             WHERE kind = $1 AND period = $2 AND lease_owner = $3 AND status = 'running'",
        )
        .bind(kind.as_str())
        .bind(period)
        .bind(owner)
        .execute(self.writer())
        .await
        .map_err(other)?;
        Ok(())
    }

    async fn streaks(&mut self, objective_ids: &[String]) -> StoreResult<Vec<StreakRow>> {
        query_streaks(self.reader(), Some(objective_ids), "ORDER BY s.objective_id").await
    }

    async fn lock_streaks(&mut self, objective_ids: &[String]) -> StoreResult<Vec<StreakRow>> {
        // One statement, id order: two runs locking overlapping sets queue
        // rather than deadlock.
        query_streaks(
            self.writer(),
            Some(objective_ids),
            "ORDER BY s.objective_id FOR NO KEY UPDATE OF s",
        )
        .await
    }

    async fn save_streaks(&mut self, streaks: &[(String, Streak)]) -> StoreResult<()> {
        if streaks.is_empty() {
            return Ok(());
        }
        // One row per objective: `ON CONFLICT DO UPDATE` refuses to touch a
        // row twice in one statement.
        let unique: BTreeMap<&str, &Streak> =
            streaks.iter().map(|(id, s)| (id.as_str(), s)).collect();
        let opt = |t: Option<Timestamp>| t.map(Timestamp::millis);
        sqlx::query(
            "INSERT INTO slo_streaks (objective_id, current_streak, best_streak, streak_start, best_streak_end, last_run_date)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
             ON CONFLICT (objective_id) DO UPDATE SET
                 current_streak = EXCLUDED.current_streak,
                 best_streak = EXCLUDED.best_streak,
                 streak_start = EXCLUDED.streak_start,
                 best_streak_end = EXCLUDED.best_streak_end,
                 last_run_date = EXCLUDED.last_run_date",
        )
        .bind(unique.keys().copied().collect::<Vec<_>>())
        .bind(unique.values().map(|s| i64::from(s.current_streak)).collect::<Vec<_>>())
        .bind(unique.values().map(|s| i64::from(s.best_streak)).collect::<Vec<_>>())
        .bind(unique.values().map(|s| opt(s.streak_start)).collect::<Vec<_>>())
        .bind(unique.values().map(|s| opt(s.best_streak_end)).collect::<Vec<_>>())
        .bind(unique.values().map(|s| opt(s.last_run)).collect::<Vec<_>>())
        .execute(self.writer())
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn insert_snapshots(&mut self, snapshots: &[Snapshot]) -> StoreResult<BTreeSet<String>> {
        if snapshots.is_empty() {
            return Ok(BTreeSet::new());
        }
        let sql = format!(
            "INSERT INTO slo_daily_snapshots ({SNAPSHOT_COLUMNS})
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::bigint[])
             ON CONFLICT (objective_id, date) DO NOTHING
             RETURNING objective_id"
        );
        let inserted: Vec<String> = sqlx::query_scalar(&sql)
            .bind(snapshots.iter().map(|s| s.objective_id.as_str()).collect::<Vec<_>>())
            .bind(snapshots.iter().map(|s| s.date.millis()).collect::<Vec<_>>())
            .bind(snapshots.iter().map(|s| s.availability_percent).collect::<Vec<_>>())
            .bind(snapshots.iter().map(|s| s.budget_consumed_minutes).collect::<Vec<_>>())
            .bind(snapshots.iter().map(|s| s.budget_remaining_percent).collect::<Vec<_>>())
            .bind(snapshots.iter().map(|s| s.burn_rate).collect::<Vec<_>>())
            .bind(snapshots.iter().map(|s| i64::from(s.streak_days)).collect::<Vec<_>>())
            .fetch_all(self.writer())
            .await
            .map_err(write_error)?;
        Ok(inserted.into_iter().collect())
    }

    async fn achievements(&mut self, systems: &[SystemId]) -> StoreResult<Vec<AchievementRow>> {
        query_achievements(self.reader(), Some(systems)).await
    }

    async fn unlock_achievements(
        &mut self,
        unlocks: &[AchievementRow],
    ) -> StoreResult<Vec<AchievementRow>> {
        if unlocks.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "INSERT INTO slo_achievements (system_id, achievement, unlocked_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT (system_id, achievement) DO NOTHING
             RETURNING system_id, achievement, unlocked_at",
        )
        .bind(unlocks.iter().map(|u| u.system_id.as_str()).collect::<Vec<_>>())
        .bind(unlocks.iter().map(|u| u.achievement.as_str()).collect::<Vec<_>>())
        .bind(unlocks.iter().map(|u| u.unlocked_at.millis()).collect::<Vec<_>>())
        .fetch_all(self.writer())
        .await
        .map_err(write_error)?;
        let new: BTreeSet<(SystemId, AchievementType)> = rows
            .iter()
            .map(|row| achievement_from_row(row).map(|a| (a.system_id, a.achievement)))
            .collect::<StoreResult<_>>()?;
        // RETURNING has no order: give them back in input order, each once.
        let mut seen = BTreeSet::new();
        Ok(unlocks
            .iter()
            .filter(|u| {
                let key = (u.system_id.clone(), u.achievement);
                new.contains(&key) && seen.insert(key)
            })
            .cloned()
            .collect())
    }

    async fn recent_outages(
        &mut self,
        systems: &[SystemId],
        at: Timestamp,
        per_system: u32,
    ) -> StoreResult<BTreeMap<SystemId, Vec<OutageSpan>>> {
        query_recent_outages(self.reader(), systems, at, per_system).await
    }

    async fn insert_digest(&mut self, digest: &DigestRow) -> StoreResult<()> {
        let payload = serde_json::to_string(&digest.digest)
            .map_err(|err| StoreError::Other(anyhow!("serialising a digest: {err}")))?;
        sqlx::query(
            "INSERT INTO slo_digests (id, week_of, manual, created_at, payload)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&digest.id)
        .bind(digest.digest.week_of.to_string())
        .bind(digest.manual)
        .bind(digest.created_at.millis())
        .bind(payload)
        .execute(self.writer())
        .await
        .map_err(write_error)?;
        Ok(())
    }
}
