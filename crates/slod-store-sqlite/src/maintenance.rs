//! [`MaintenanceStore`] and [`MaintenanceTx`] for SQLite
//! (migrations/0005_maintenance.sql).

use async_trait::async_trait;
use slod_core::model::SystemId;
use slod_store::codec::{MaintenanceFields, MAINTENANCE_COLUMNS};
use slod_store::maintenance::{group_by_system, ActiveWindows, MaintenanceWindowRow};
use slod_store::{MaintenanceStore, MaintenanceTx, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::rows::{other, push_in_list};
use crate::tx::SqliteTx;
use crate::{write_error, SqliteStore};

fn window_from_row(row: &SqliteRow) -> StoreResult<MaintenanceWindowRow> {
    let cancelled: i64 = row.try_get(6).map_err(other)?;
    MaintenanceFields {
        id: row.try_get(0).map_err(other)?,
        system_id: row.try_get(1).map_err(other)?,
        title: row.try_get(2).map_err(other)?,
        start_ms: row.try_get(3).map_err(other)?,
        end_ms: row.try_get(4).map_err(other)?,
        recurrence: row.try_get(5).map_err(other)?,
        cancelled: cancelled != 0,
        created_at: row.try_get(7).map_err(other)?,
        updated_at: row.try_get(8).map_err(other)?,
    }
    .decode()
}

async fn active(conn: &mut SqliteConnection, systems: &[SystemId]) -> StoreResult<ActiveWindows> {
    if systems.is_empty() {
        return Ok(ActiveWindows::new());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {MAINTENANCE_COLUMNS} FROM maintenance_windows WHERE cancelled = 0 AND system_id IN "
    ));
    push_in_list(&mut qb, systems.iter().map(SystemId::as_str));
    qb.push(" ORDER BY system_id, start_ms, id");
    let rows = qb.build().fetch_all(&mut *conn).await.map_err(other)?;
    Ok(group_by_system(rows.iter().map(window_from_row).collect::<StoreResult<Vec<_>>>()?))
}

#[async_trait]
impl MaintenanceStore for SqliteStore {
    async fn get_maintenance_window(&self, id: &str) -> StoreResult<Option<MaintenanceWindowRow>> {
        let sql = format!("SELECT {MAINTENANCE_COLUMNS} FROM maintenance_windows WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await.map_err(other)?;
        row.map(|r| window_from_row(&r)).transpose()
    }

    async fn list_maintenance_windows(
        &self,
        system: &SystemId,
    ) -> StoreResult<Vec<MaintenanceWindowRow>> {
        let sql = format!(
            "SELECT {MAINTENANCE_COLUMNS} FROM maintenance_windows WHERE system_id = ?
             ORDER BY start_ms, id"
        );
        let rows =
            sqlx::query(&sql).bind(system.as_str()).fetch_all(&self.reader).await.map_err(other)?;
        rows.iter().map(window_from_row).collect()
    }

    async fn active_maintenance_windows(&self, systems: &[SystemId]) -> StoreResult<ActiveWindows> {
        let mut conn = self.reader.acquire().await.map_err(other)?;
        active(&mut conn, systems).await
    }
}

#[async_trait]
impl MaintenanceTx for SqliteTx {
    async fn insert_maintenance_window(&mut self, w: &MaintenanceWindowRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO maintenance_windows ({MAINTENANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&w.id)
        .bind(w.system_id.as_str())
        .bind(&w.title)
        .bind(w.window.start().millis())
        .bind(w.window.end().millis())
        .bind(w.window.recurrence().map(ToString::to_string))
        .bind(i64::from(w.window.is_cancelled()))
        .bind(w.created_at.millis())
        .bind(w.updated_at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn update_maintenance_window(&mut self, w: &MaintenanceWindowRow) -> StoreResult<()> {
        let updated = sqlx::query(
            "UPDATE maintenance_windows SET title = ?, start_ms = ?, end_ms = ?, recurrence = ?,
             cancelled = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&w.title)
        .bind(w.window.start().millis())
        .bind(w.window.end().millis())
        .bind(w.window.recurrence().map(ToString::to_string))
        .bind(i64::from(w.window.is_cancelled()))
        .bind(w.updated_at.millis())
        .bind(&w.id)
        .execute(&mut *self.tx)
        .await
        .map_err(other)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_maintenance_window(&mut self, id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM maintenance_windows WHERE id = ?")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn active_maintenance_windows(
        &mut self,
        systems: &[SystemId],
    ) -> StoreResult<ActiveWindows> {
        active(&mut self.tx, systems).await
    }
}
