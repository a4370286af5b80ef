//! [`CorrectionStore`] and [`CorrectionTx`] for PostgreSQL
//! (migrations/0010_corrections.sql).
//!
//! Correction writes take no system lock: a correction is an overlay that
//! statuses read as it stands, never state a report transaction changes.
//! The snapshot rewrites it causes are serialised with the daily run by
//! the streak row locks the service takes first (`lock_streaks`). Writes go
//! through [`PgTx::writer`] so a later guarded step never rolls them back.

use std::collections::BTreeMap;

use async_trait::async_trait;
use slod_core::model::SystemId;
use slod_core::streak::Snapshot;
use slod_core::time::Timestamp;
use slod_store::codec::{CorrectionFields, CORRECTION_COLUMNS, SNAPSHOT_READ_COLUMNS};
use slod_store::corrections::{group_by_system, CorrectionRow, LiveCorrections};
use slod_store::{CorrectionStore, CorrectionTx, StoreError, StoreResult};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row;

use crate::jobs::snapshot_from_row;
use crate::rows::{id_strs, other, write_error};
use crate::tx::PgTx;
use crate::PgStore;

const FROM: &str = "FROM corrections c LEFT JOIN systems u ON u.id = c.upstream_system_id";

fn correction_from_row(row: &PgRow) -> StoreResult<CorrectionRow> {
    CorrectionFields {
        id: row.try_get(0).map_err(other)?,
        system_id: row.try_get(1).map_err(other)?,
        start_ms: row.try_get(2).map_err(other)?,
        end_ms: row.try_get(3).map_err(other)?,
        kind: row.try_get(4).map_err(other)?,
        upstream_system_id: row.try_get(5).map_err(other)?,
        reason: row.try_get(6).map_err(other)?,
        author: row.try_get(7).map_err(other)?,
        created_at: row.try_get(8).map_err(other)?,
        revoked_at: row.try_get(9).map_err(other)?,
        revoked_by: row.try_get(10).map_err(other)?,
        upstream_name: row.try_get(11).map_err(other)?,
    }
    .decode()
}

async fn get(conn: &mut PgConnection, id: &str) -> StoreResult<Option<CorrectionRow>> {
    let sql = format!("SELECT {CORRECTION_COLUMNS} {FROM} WHERE c.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await.map_err(other)?;
    row.map(|r| correction_from_row(&r)).transpose()
}

async fn live(conn: &mut PgConnection, systems: &[SystemId]) -> StoreResult<LiveCorrections> {
    if systems.is_empty() {
        return Ok(LiveCorrections::new());
    }
    let sql = format!(
        "SELECT {CORRECTION_COLUMNS} {FROM} WHERE c.revoked_at IS NULL AND c.system_id = ANY($1)
         ORDER BY c.system_id, c.created_at, c.seq"
    );
    let rows = sqlx::query(&sql).bind(id_strs(systems)).fetch_all(conn).await.map_err(other)?;
    Ok(group_by_system(rows.iter().map(correction_from_row).collect::<StoreResult<Vec<_>>>()?))
}

#[async_trait]
impl CorrectionStore for PgStore {
    async fn get_correction(&self, id: &str) -> StoreResult<Option<CorrectionRow>> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        get(&mut conn, id).await
    }

    async fn list_corrections(&self, system: &SystemId) -> StoreResult<Vec<CorrectionRow>> {
        let sql = format!(
            "SELECT {CORRECTION_COLUMNS} {FROM} WHERE c.system_id = $1
             ORDER BY c.created_at DESC, c.seq DESC"
        );
        let rows =
            sqlx::query(&sql).bind(system.as_str()).fetch_all(&self.pool).await.map_err(other)?;
        rows.iter().map(correction_from_row).collect()
    }

    async fn live_corrections(&self, systems: &[SystemId]) -> StoreResult<LiveCorrections> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        live(&mut conn, systems).await
    }
}

#[async_trait]
impl CorrectionTx for PgTx {
    async fn insert_correction(&mut self, c: &CorrectionRow) -> StoreResult<()> {
        // `seq` comes from its sequence.
        sqlx::query(
            "INSERT INTO corrections (id, system_id, start_ms, end_ms, kind,
             upstream_system_id, reason, author, created_at, revoked_at, revoked_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&c.id)
        .bind(c.system_id.as_str())
        .bind(c.correction.start)
        .bind(c.correction.end)
        .bind(c.correction.kind.as_str())
        .bind(c.correction.kind.upstream().map(SystemId::as_str))
        .bind(&c.reason)
        .bind(&c.author)
        .bind(c.created_at.millis())
        .bind(c.revoked_at.map(Timestamp::millis))
        .bind(c.revoked_by.as_deref())
        .execute(self.writer())
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn revoke_correction(
        &mut self,
        id: &str,
        at: Timestamp,
        by: &str,
    ) -> StoreResult<CorrectionRow> {
        let updated = sqlx::query(
            "UPDATE corrections SET revoked_at = $1, revoked_by = $2
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(at.millis())
        .bind(by)
        .bind(id)
        .execute(self.writer())
        .await
        .map_err(other)?;
        let row = get(self.reader(), id).await?.ok_or(StoreError::NotFound)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("correction `{id}` is already revoked")));
        }
        Ok(row)
    }

    async fn live_corrections(&mut self, systems: &[SystemId]) -> StoreResult<LiveCorrections> {
        live(self.reader(), systems).await
    }

    async fn all_snapshots(
        &mut self,
        objective_ids: &[String],
    ) -> StoreResult<BTreeMap<String, Vec<Snapshot>>> {
        let mut out: BTreeMap<String, Vec<Snapshot>> = BTreeMap::new();
        if objective_ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT {SNAPSHOT_READ_COLUMNS} FROM slo_daily_snapshots
             WHERE objective_id = ANY($1) ORDER BY objective_id, date"
        );
        let rows =
            sqlx::query(&sql).bind(objective_ids).fetch_all(self.reader()).await.map_err(other)?;
        for row in &rows {
            let snapshot = snapshot_from_row(row)?;
            out.entry(snapshot.objective_id.to_string()).or_default().push(snapshot);
        }
        Ok(out)
    }

    async fn recompute_snapshots(&mut self, snapshots: &[Snapshot]) -> StoreResult<()> {
        // Every right-hand side sees the row as it was, so the original_*
        // columns take the figures before this rewrite.
        for s in snapshots {
            sqlx::query(
                "UPDATE slo_daily_snapshots SET
                 original_availability_percent = CASE WHEN recomputed
                     THEN original_availability_percent ELSE availability_percent END,
                 original_budget_consumed_minutes = CASE WHEN recomputed
                     THEN original_budget_consumed_minutes ELSE budget_consumed_minutes END,
                 original_budget_remaining_percent = CASE WHEN recomputed
                     THEN original_budget_remaining_percent ELSE budget_remaining_percent END,
                 original_burn_rate = CASE WHEN recomputed
                     THEN original_burn_rate ELSE burn_rate END,
                 original_streak_days = CASE WHEN recomputed
                     THEN original_streak_days ELSE streak_days END,
                 recomputed = TRUE,
                 availability_percent = $1, budget_consumed_minutes = $2,
                 budget_remaining_percent = $3, burn_rate = $4, streak_days = $5
                 WHERE objective_id = $6 AND date = $7",
            )
            .bind(s.availability_percent)
            .bind(s.budget_consumed_minutes)
            .bind(s.budget_remaining_percent)
            .bind(s.burn_rate)
            .bind(i64::from(s.streak_days))
            .bind(s.objective_id.as_str())
            .bind(s.date.millis())
            .execute(self.writer())
            .await
            .map_err(other)?;
        }
        Ok(())
    }
}
