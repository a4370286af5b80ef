//! [`AuditStore`] and [`AuditTx`] for PostgreSQL: `slod check` (SPEC §12).
//!
//! The read runs in one `REPEATABLE READ` transaction, so it judges one
//! snapshot while replicas keep writing. A repair locks the objective's
//! system row as a report transaction would (`tx.rs`), so it never
//! interleaves with one touching that objective.

use std::collections::BTreeMap;

use async_trait::async_trait;
use slod_core::audit::AuditData;
use slod_core::model::{DowntimeEvent, SystemId};
use slod_core::time::Timestamp;
use slod_store::codec::{
    attach_checks, upstream_columns, TransitionFields, CHECK_COLUMNS, EVENT_COLUMNS,
    OBJECTIVE_COLUMNS, OUTAGE_COLUMNS, SYSTEM_COLUMNS, TRANSITION_COLUMNS,
};
use slod_store::{AuditStore, AuditTx, StoreResult};
use sqlx::Row;

use crate::rows::{
    check_from_row, event_from_row, objective_from_row, other, system_state_from_row, write_error,
};
use crate::tx::PgTx;
use crate::PgStore;

#[async_trait]
impl AuditStore for PgStore {
    async fn audit_data(&self) -> StoreResult<AuditData> {
        let mut tx = self.pool.begin().await.map_err(other)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        let mut data = AuditData::default();
        let sql = format!("SELECT {SYSTEM_COLUMNS} FROM systems ORDER BY id");
        let mut systems = BTreeMap::new();
        for row in sqlx::query(&sql).fetch_all(&mut *tx).await.map_err(other)? {
            let (state, _) = system_state_from_row(&row)?;
            systems.insert(state.id.clone(), state);
        }
        let sql = format!("SELECT {CHECK_COLUMNS} FROM system_checks");
        let rows = sqlx::query(&sql).fetch_all(&mut *tx).await.map_err(other)?;
        attach_checks(&mut systems, rows.iter().map(check_from_row).collect::<StoreResult<_>>()?);
        data.systems = systems;
        for row in sqlx::query("SELECT downstream_id, upstream_id FROM dependencies ORDER BY 1, 2")
            .fetch_all(&mut *tx)
            .await
            .map_err(other)?
        {
            data.edges.push((
                SystemId::from_trusted(row.try_get(0).map_err(other)?),
                SystemId::from_trusted(row.try_get(1).map_err(other)?),
            ));
        }
        let sql = format!("SELECT {OBJECTIVE_COLUMNS} FROM slo_objectives ORDER BY id");
        for row in sqlx::query(&sql).fetch_all(&mut *tx).await.map_err(other)? {
            data.objectives.push(objective_from_row(&row)?);
        }
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM slo_downtime_events ORDER BY objective_id, start_time"
        );
        for row in sqlx::query(&sql).fetch_all(&mut *tx).await.map_err(other)? {
            data.events.push(event_from_row(&row)?);
        }
        let sql = format!("SELECT {OUTAGE_COLUMNS} FROM system_outages ORDER BY id");
        for row in sqlx::query(&sql).fetch_all(&mut *tx).await.map_err(other)? {
            data.outages.push((
                SystemId::from_trusted(row.try_get(0).map_err(other)?),
                Timestamp::from_millis(row.try_get(1).map_err(other)?),
                row.try_get::<Option<i64>, _>(2).map_err(other)?.map(Timestamp::from_millis),
            ));
        }
        let sql = format!("SELECT {TRANSITION_COLUMNS} FROM health_reports ORDER BY id");
        for row in sqlx::query(&sql).fetch_all(&mut *tx).await.map_err(other)? {
            data.transitions.push(
                TransitionFields {
                    system_id: row.try_get(0).map_err(other)?,
                    source: row.try_get(1).map_err(other)?,
                    check_id: row.try_get(2).map_err(other)?,
                    status: row.try_get(3).map_err(other)?,
                    at: row.try_get(4).map_err(other)?,
                }
                .decode()?,
            );
        }
        tx.commit().await.map_err(other)?;
        Ok(data)
    }
}

#[async_trait]
impl AuditTx for PgTx {
    async fn replace_events(
        &mut self,
        objective_id: &str,
        events: &[DowntimeEvent],
    ) -> StoreResult<()> {
        sqlx::query(
            "SELECT 1 FROM systems
             WHERE id = (SELECT system_id FROM slo_objectives WHERE id = $1)
             FOR NO KEY UPDATE",
        )
        .bind(objective_id)
        .fetch_all(self.writer())
        .await
        .map_err(other)?;
        sqlx::query("DELETE FROM slo_downtime_events WHERE objective_id = $1")
            .bind(objective_id)
            .execute(self.writer())
            .await
            .map_err(other)?;
        let mut sorted: Vec<&DowntimeEvent> = events.iter().collect();
        sorted.sort_by_key(|e| e.end_time.is_none());
        for event in sorted {
            let (up_id, up_name) = upstream_columns(&event.attribution);
            sqlx::query(&format!(
                "INSERT INTO slo_downtime_events ({EVENT_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .bind(&event.id)
            .bind(event.objective_id.as_str())
            .bind(event.system_id.as_str())
            .bind(event.start_time.millis())
            .bind(event.end_time.map(Timestamp::millis))
            .bind(event.attribution.type_str())
            .bind(up_id)
            .bind(up_name)
            .bind(event.source.as_str())
            .execute(self.writer())
            .await
            .map_err(write_error)?;
        }
        Ok(())
    }
}
