//! [`CorrectionStore`] and [`CorrectionTx`] for SQLite
//! (migrations/0010_corrections.sql).

use std::collections::BTreeMap;

use async_trait::async_trait;
use slod_core::model::SystemId;
use slod_core::streak::Snapshot;
use slod_core::time::Timestamp;
use slod_store::codec::{CorrectionFields, CORRECTION_COLUMNS, SNAPSHOT_READ_COLUMNS};
use slod_store::corrections::{group_by_system, CorrectionRow, LiveCorrections};
use slod_store::{CorrectionStore, CorrectionTx, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::jobs::snapshot_from_row;
use crate::rows::{other, push_in_list};
use crate::tx::SqliteTx;
use crate::{write_error, SqliteStore};

const FROM: &str = "FROM corrections c LEFT JOIN systems u ON u.id = c.upstream_system_id";

fn correction_from_row(row: &SqliteRow) -> StoreResult<CorrectionRow> {
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

async fn get(conn: &mut SqliteConnection, id: &str) -> StoreResult<Option<CorrectionRow>> {
    let sql = format!("SELECT {CORRECTION_COLUMNS} {FROM} WHERE c.id = ?");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await.map_err(other)?;
    row.map(|r| correction_from_row(&r)).transpose()
}

async fn live(conn: &mut SqliteConnection, systems: &[SystemId]) -> StoreResult<LiveCorrections> {
    if systems.is_empty() {
        return Ok(LiveCorrections::new());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {CORRECTION_COLUMNS} {FROM} WHERE c.revoked_at IS NULL AND c.system_id IN "
    ));
    push_in_list(&mut qb, systems.iter().map(SystemId::as_str));
    qb.push(" ORDER BY c.system_id, c.created_at, c.seq");
    let rows = qb.build().fetch_all(&mut *conn).await.map_err(other)?;
    Ok(group_by_system(rows.iter().map(correction_from_row).collect::<StoreResult<Vec<_>>>()?))
}

#[async_trait]
impl CorrectionStore for SqliteStore {
    async fn get_correction(&self, id: &str) -> StoreResult<Option<CorrectionRow>> {
        let mut conn = self.reader.acquire().await.map_err(other)?;
        get(&mut conn, id).await
    }

    async fn list_corrections(&self, system: &SystemId) -> StoreResult<Vec<CorrectionRow>> {
        let sql = format!(
            "SELECT {CORRECTION_COLUMNS} {FROM} WHERE c.system_id = ?
             ORDER BY c.created_at DESC, c.seq DESC"
        );
        let rows =
            sqlx::query(&sql).bind(system.as_str()).fetch_all(&self.reader).await.map_err(other)?;
        rows.iter().map(correction_from_row).collect()
    }

    async fn live_corrections(&self, systems: &[SystemId]) -> StoreResult<LiveCorrections> {
        let mut conn = self.reader.acquire().await.map_err(other)?;
        live(&mut conn, systems).await
    }
}

#[async_trait]
impl CorrectionTx for SqliteTx {
    async fn insert_correction(&mut self, c: &CorrectionRow) -> StoreResult<()> {
        // One writer connection: MAX(seq) + 1 cannot race.
        sqlx::query(
            "INSERT INTO corrections (id, seq, system_id, start_ms, end_ms, kind,
             upstream_system_id, reason, author, created_at, revoked_at, revoked_by)
             VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM corrections), ?, ?, ?, ?, ?, ?, ?,
             ?, ?, ?)",
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
        .execute(&mut *self.tx)
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
            "UPDATE corrections SET revoked_at = ?, revoked_by = ?
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(at.millis())
        .bind(by)
        .bind(id)
        .execute(&mut *self.tx)
        .await
        .map_err(other)?;
        let row = get(&mut self.tx, id).await?.ok_or(StoreError::NotFound)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("correction `{id}` is already revoked")));
        }
        Ok(row)
    }

    async fn live_corrections(&mut self, systems: &[SystemId]) -> StoreResult<LiveCorrections> {
        live(&mut self.tx, systems).await
    }

    async fn all_snapshots(
        &mut self,
        objective_ids: &[String],
    ) -> StoreResult<BTreeMap<String, Vec<Snapshot>>> {
        let mut out: BTreeMap<String, Vec<Snapshot>> = BTreeMap::new();
        if objective_ids.is_empty() {
            return Ok(out);
        }
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SNAPSHOT_READ_COLUMNS} FROM slo_daily_snapshots WHERE objective_id IN "
        ));
        push_in_list(&mut qb, objective_ids.iter().map(String::as_str));
        qb.push(" ORDER BY objective_id, date");
        let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(other)?;
        for row in &rows {
            let snapshot = snapshot_from_row(row)?;
            out.entry(snapshot.objective_id.to_string()).or_default().push(snapshot);
        }
        Ok(out)
    }

    async fn recompute_snapshots(&mut self, snapshots: &[Snapshot]) -> StoreResult<()> {
        // SQLite evaluates every right-hand side against the row as it was,
        // so the original_* columns take the figures before this rewrite.
        for s in snapshots {
            sqlx::query(
                "UPDATE slo_daily_snapshots SET
                 original_availability_percent = CASE WHEN recomputed = 1
                     THEN original_availability_percent ELSE availability_percent END,
                 original_budget_consumed_minutes = CASE WHEN recomputed = 1
                     THEN original_budget_consumed_minutes ELSE budget_consumed_minutes END,
                 original_budget_remaining_percent = CASE WHEN recomputed = 1
                     THEN original_budget_remaining_percent ELSE budget_remaining_percent END,
                 original_burn_rate = CASE WHEN recomputed = 1
                     THEN original_burn_rate ELSE burn_rate END,
                 original_streak_days = CASE WHEN recomputed = 1
                     THEN original_streak_days ELSE streak_days END,
                 recomputed = 1,
                 availability_percent = ?, budget_consumed_minutes = ?,
                 budget_remaining_percent = ?, burn_rate = ?, streak_days = ?
                 WHERE objective_id = ? AND date = ?",
            )
            .bind(s.availability_percent)
            .bind(s.budget_consumed_minutes)
            .bind(s.budget_remaining_percent)
            .bind(s.burn_rate)
            .bind(i64::from(s.streak_days))
            .bind(s.objective_id.as_str())
            .bind(s.date.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        }
        Ok(())
    }
}
