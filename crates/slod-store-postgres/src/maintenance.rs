//! [`MaintenanceStore`] and [`MaintenanceTx`] for PostgreSQL
//! (migrations/0005_maintenance.sql).
//!
//! Window writes take no system lock: a window is a plan that statuses read
//! as it stands, never state a report transaction changes, and the foreign
//! key keeps a window from outliving its system (deleting the system
//! cascades). Writes still go through [`PgTx::writer`] so a later guarded
//! step never rolls them back.

use async_trait::async_trait;
use slod_core::model::SystemId;
use slod_store::codec::{MaintenanceFields, MAINTENANCE_COLUMNS};
use slod_store::maintenance::{group_by_system, ActiveWindows, MaintenanceWindowRow};
use slod_store::{MaintenanceStore, MaintenanceTx, StoreError, StoreResult};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row;

use crate::rows::{id_strs, other, write_error};
use crate::tx::PgTx;
use crate::PgStore;

fn window_from_row(row: &PgRow) -> StoreResult<MaintenanceWindowRow> {
    MaintenanceFields {
        id: row.try_get(0).map_err(other)?,
        system_id: row.try_get(1).map_err(other)?,
        title: row.try_get(2).map_err(other)?,
        start_ms: row.try_get(3).map_err(other)?,
        end_ms: row.try_get(4).map_err(other)?,
        recurrence: row.try_get(5).map_err(other)?,
        cancelled: row.try_get(6).map_err(other)?,
        created_at: row.try_get(7).map_err(other)?,
        updated_at: row.try_get(8).map_err(other)?,
    }
    .decode()
}

async fn active(conn: &mut PgConnection, systems: &[SystemId]) -> StoreResult<ActiveWindows> {
    if systems.is_empty() {
        return Ok(ActiveWindows::new());
    }
    let sql = format!(
        "SELECT {MAINTENANCE_COLUMNS} FROM maintenance_windows
         WHERE NOT cancelled AND system_id = ANY($1) ORDER BY system_id, start_ms, id"
    );
    let rows = sqlx::query(&sql).bind(id_strs(systems)).fetch_all(conn).await.map_err(other)?;
    Ok(group_by_system(rows.iter().map(window_from_row).collect::<StoreResult<Vec<_>>>()?))
}

#[async_trait]
impl MaintenanceStore for PgStore {
    async fn get_maintenance_window(&self, id: &str) -> StoreResult<Option<MaintenanceWindowRow>> {
        let sql = format!("SELECT {MAINTENANCE_COLUMNS} FROM maintenance_windows WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(other)?;
        row.map(|r| window_from_row(&r)).transpose()
    }

    async fn list_maintenance_windows(
        &self,
        system: &SystemId,
    ) -> StoreResult<Vec<MaintenanceWindowRow>> {
        let sql = format!(
            "SELECT {MAINTENANCE_COLUMNS} FROM maintenance_windows WHERE system_id = $1
             ORDER BY start_ms, id"
        );
        let rows =
            sqlx::query(&sql).bind(system.as_str()).fetch_all(&self.pool).await.map_err(other)?;
        rows.iter().map(window_from_row).collect()
    }

    async fn active_maintenance_windows(&self, systems: &[SystemId]) -> StoreResult<ActiveWindows> {
        let mut conn = self.pool.acquire().await.map_err(other)?;
        active(&mut conn, systems).await
    }
}

#[async_trait]
impl MaintenanceTx for PgTx {
    async fn insert_maintenance_window(&mut self, w: &MaintenanceWindowRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO maintenance_windows ({MAINTENANCE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&w.id)
        .bind(w.system_id.as_str())
        .bind(&w.title)
        .bind(w.window.start().millis())
        .bind(w.window.end().millis())
        .bind(w.window.recurrence().map(ToString::to_string))
        .bind(w.window.is_cancelled())
        .bind(w.created_at.millis())
        .bind(w.updated_at.millis())
        .execute(self.writer())
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn update_maintenance_window(&mut self, w: &MaintenanceWindowRow) -> StoreResult<()> {
        let updated = sqlx::query(
            "UPDATE maintenance_windows SET title = $1, start_ms = $2, end_ms = $3,
             recurrence = $4, cancelled = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&w.title)
        .bind(w.window.start().millis())
        .bind(w.window.end().millis())
        .bind(w.window.recurrence().map(ToString::to_string))
        .bind(w.window.is_cancelled())
        .bind(w.updated_at.millis())
        .bind(&w.id)
        .execute(self.writer())
        .await
        .map_err(other)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_maintenance_window(&mut self, id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM maintenance_windows WHERE id = $1")
            .bind(id)
            .execute(self.writer())
            .await
            .map_err(other)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn active_maintenance_windows(
        &mut self,
        systems: &[SystemId],
    ) -> StoreResult<ActiveWindows> {
        active(self.reader(), systems).await
    }
}
