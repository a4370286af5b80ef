//! The write transaction: everything that changes state goes through here.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use slod_core::engine::{systems_changed_by, Changeset, CheckState, HealthReport, World};
use slod_core::events::NotificationEvent;
use slod_core::model::{CheckId, DowntimeEvent, Objective, ObjectiveName, SystemId};
use slod_core::time::Timestamp;
use slod_store::codec::{
    self, attach_checks, checks_named_by, upstream_columns, CHECK_COLUMNS, EVENT_COLUMNS,
    EVENT_WIDTH, OBJECTIVE_COLUMNS, OBJECTIVE_WIDTH, SYSTEM_COLUMNS,
};
use slod_store::{StoreResult, StoreTx};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use crate::rows::{
    check_from_row, event_from_row_at, join_ids, objective_from_row, objective_from_row_at, other,
    push_in_list, system_state_from_row,
};
use crate::write_error;

pub(crate) struct SqliteTx {
    pub(crate) tx: Transaction<'static, Sqlite>,
}

impl SqliteTx {
    /// The checks of `systems` that are not healthy, and those named in
    /// `named` whatever their status (SPEC §12; `codec::checks_named_by`).
    async fn load_checks(
        &mut self,
        systems: &BTreeSet<SystemId>,
        named: &[String],
    ) -> StoreResult<Vec<(SystemId, CheckId, CheckState)>> {
        crate::rows::packed_checks(&mut self.tx, systems, named).await
    }

    /// Edges touching any of `ids`, as (downstream, upstream).
    async fn edges_touching(
        &mut self,
        ids: &BTreeSet<SystemId>,
    ) -> StoreResult<Vec<(SystemId, SystemId)>> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT downstream_id, upstream_id FROM dependencies WHERE downstream_id IN ",
        );
        push_in_list(&mut qb, ids.iter().map(SystemId::as_str));
        qb.push(" OR upstream_id IN ");
        push_in_list(&mut qb, ids.iter().map(SystemId::as_str));
        let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(other)?;
        rows.iter()
            .map(|r| {
                Ok((
                    SystemId::from_trusted(r.try_get(0).map_err(other)?),
                    SystemId::from_trusted(r.try_get(1).map_err(other)?),
                ))
            })
            .collect()
    }
}

/// Rows per multi-row statement: far below SQLite's limit of 32,766 bound
/// parameters at nine a row.
const ROWS_PER_STATEMENT: usize = 500;

#[async_trait]
impl StoreTx for SqliteTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(other)
    }

    async fn load_world(&mut self, systems: &[SystemId]) -> StoreResult<World> {
        let reporting: BTreeSet<SystemId> = systems.iter().cloned().collect();
        if reporting.is_empty() {
            return Ok(World::default());
        }
        // Neighbours, then the downstreams' upstreams (SPEC §3 R2 step 2
        // re-attributes a downstream against its other upstreams).
        let first = self.edges_touching(&reporting).await?;
        let downstreams: BTreeSet<SystemId> = first
            .iter()
            .filter(|(_, up)| reporting.contains(up))
            .map(|(down, _)| down.clone())
            .collect();
        let mut scope = reporting.clone();
        for (down, up) in &first {
            scope.insert(down.clone());
            scope.insert(up.clone());
        }
        if !downstreams.is_empty() {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "SELECT upstream_id FROM dependencies WHERE downstream_id IN ",
            );
            push_in_list(&mut qb, downstreams.iter().map(SystemId::as_str));
            for row in qb.build().fetch_all(&mut *self.tx).await.map_err(other)? {
                scope.insert(SystemId::from_trusted(row.try_get(0).map_err(other)?));
            }
        }

        let mut world = World::default();
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SYSTEM_COLUMNS} FROM systems WHERE id IN "
        ));
        push_in_list(&mut qb, scope.iter().map(SystemId::as_str));
        for row in qb.build().fetch_all(&mut *self.tx).await.map_err(other)? {
            let (state, _) = system_state_from_row(&row)?;
            world.systems.insert(state.id.clone(), state);
        }
        let checks = self.load_checks(&scope, &[]).await?;
        attach_checks(&mut world.systems, checks);
        for (down, up) in self.edges_touching(&scope).await? {
            world.add_dependency(&down, &up);
        }
        // `charged_until`: the end of the latest closed event. Events never
        // overlap, so it is the end of the closed event that started last,
        // which the (objective_id, start_time) index finds without a scan.
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT o.{}, e.{},
                (SELECT c.end_time FROM slo_downtime_events c
                 WHERE c.objective_id = o.id AND c.end_time IS NOT NULL
                 ORDER BY c.start_time DESC LIMIT 1) AS charged_until
             FROM slo_objectives o
             LEFT JOIN slo_downtime_events e ON e.objective_id = o.id AND e.end_time IS NULL
             WHERE o.system_id IN ",
            OBJECTIVE_COLUMNS.replace(", ", ", o."),
            EVENT_COLUMNS.replace(", ", ", e."),
        ));
        push_in_list(&mut qb, scope.iter().map(SystemId::as_str));
        qb.push(" ORDER BY o.system_id, o.created_at, o.id");
        for row in qb.build().fetch_all(&mut *self.tx).await.map_err(other)? {
            let objective = objective_from_row_at(&row, 0)?;
            let has_event =
                row.try_get::<Option<String>, _>(OBJECTIVE_WIDTH).map_err(other)?.is_some();
            let open_event =
                if has_event { Some(event_from_row_at(&row, OBJECTIVE_WIDTH)?) } else { None };
            let charged_until: Option<i64> =
                row.try_get(OBJECTIVE_WIDTH + EVENT_WIDTH).map_err(other)?;
            world.add_objective_with_history(
                objective,
                open_event,
                charged_until.map(Timestamp::from_millis),
            );
        }
        Ok(world)
    }

    async fn load_world_for_reports(&mut self, reports: &[HealthReport]) -> StoreResult<World> {
        let ids: BTreeSet<SystemId> = reports.iter().map(|r| r.system_id.clone()).collect();
        let mut states = BTreeMap::new();
        for fields in
            crate::rows::packed_systems(&mut self.tx, ids.iter().map(SystemId::as_str)).await?
        {
            let (state, _) = fields.decode()?;
            states.insert(state.id.clone(), state);
        }
        let checks = self.load_checks(&ids, &checks_named_by(reports)).await?;
        attach_checks(&mut states, checks);
        // One writer: the states just read are the ones the engine applies
        // the batch to (with the checks the reports name, which the full
        // scope's load leaves out when healthy).
        let changing: Vec<SystemId> = systems_changed_by(reports, &states).into_iter().collect();
        let mut world = self.load_world(&changing).await?;
        world.systems.extend(states);
        Ok(world)
    }

    async fn write_changes(&mut self, changes: &Changeset) -> StoreResult<()> {
        // Multi-row statements, so a batch of reports costs a handful of
        // round trips to the database thread rather than one per row.
        // Close and delete before inserting, so the one-open-event index
        // never sees the old and the new open event together.
        for chunk in changes.deleted.chunks(ROWS_PER_STATEMENT) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("DELETE FROM slo_downtime_events WHERE id IN ");
            push_in_list(&mut qb, chunk.iter().map(String::as_str));
            qb.build().execute(&mut *self.tx).await.map_err(other)?;
        }
        for chunk in changes.updated.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE slo_downtime_events SET end_time = v.column2, attribution_type = v.column3,
                     upstream_system_id = v.column4, upstream_system_name = v.column5
                 FROM (",
            );
            qb.push_values(chunk, |mut row, event| {
                let (up_id, up_name) = upstream_columns(&event.attribution);
                row.push_bind(&event.id)
                    .push_bind(event.end_time.map(Timestamp::millis))
                    .push_bind(event.attribution.type_str())
                    .push_bind(up_id)
                    .push_bind(up_name);
            });
            qb.push(") AS v WHERE slo_downtime_events.id = v.column1");
            qb.build().execute(&mut *self.tx).await.map_err(write_error)?;
        }
        // Closed pieces first, then the open ones.
        let mut inserted: Vec<&DowntimeEvent> = changes.inserted.iter().collect();
        inserted.sort_by_key(|e| e.end_time.is_none());
        for chunk in inserted.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "INSERT INTO slo_downtime_events ({EVENT_COLUMNS}) "
            ));
            qb.push_values(chunk, |mut row, event| {
                let (up_id, up_name) = upstream_columns(&event.attribution);
                row.push_bind(&event.id)
                    .push_bind(event.objective_id.as_str())
                    .push_bind(event.system_id.as_str())
                    .push_bind(event.start_time.millis())
                    .push_bind(event.end_time.map(Timestamp::millis))
                    .push_bind(event.attribution.type_str())
                    .push_bind(up_id)
                    .push_bind(up_name)
                    .push_bind(event.source.as_str());
            });
            qb.build().execute(&mut *self.tx).await.map_err(write_error)?;
        }
        // One entry per system (the engine's `Changeset::systems`), as
        // `UPDATE … FROM` needs: it applies an arbitrary one of several
        // matches.
        for chunk in changes.systems.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE systems SET healthcheck_status = v.column2, incident_status = v.column3,
                     down_since = v.column4, down_source = v.column5, last_report_at = v.column6,
                     unnamed_report_at = v.column7, last_transition_at = v.column8
                 FROM (",
            );
            qb.push_values(chunk, |mut row, system| {
                row.push_bind(system.id.as_str())
                    .push_bind(system.healthcheck.as_str())
                    .push_bind(system.incident.as_str())
                    .push_bind(system.down_since.map(Timestamp::millis))
                    .push_bind(system.down_source.map(|s| s.as_str()))
                    .push_bind(system.last_report_at.map(Timestamp::millis))
                    .push_bind(system.unnamed_report_at.map(Timestamp::millis))
                    .push_bind(system.last_transition_at.map(Timestamp::millis));
            });
            qb.push(") AS v WHERE systems.id = v.column1");
            qb.build().execute(&mut *self.tx).await.map_err(other)?;
        }
        // Checks reported (upserted) and forgotten (deleted).
        let kept: Vec<(&SystemId, &CheckId, CheckState)> = changes
            .checks
            .iter()
            .filter_map(|c| c.state.map(|state| (&c.system_id, &c.check_id, state)))
            .collect();
        let forgotten = changes.checks.iter().filter(|c| c.state.is_none());
        for chunk in kept.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "INSERT INTO system_checks ({CHECK_COLUMNS}) "
            ));
            qb.push_values(chunk, |mut row, (system, check, state)| {
                row.push_bind(system.as_str())
                    .push_bind(check.as_str())
                    .push_bind(state.status.as_str())
                    .push_bind(state.at.millis())
                    .push_bind(state.down_since.map(Timestamp::millis));
            });
            qb.push(
                " ON CONFLICT (system_id, check_id) DO UPDATE SET status = excluded.status,
                  at = excluded.at, down_since = excluded.down_since",
            );
            qb.build().execute(&mut *self.tx).await.map_err(other)?;
        }
        for change in forgotten {
            sqlx::query("DELETE FROM system_checks WHERE system_id = ? AND check_id = ?")
                .bind(change.system_id.as_str())
                .bind(change.check_id.as_str())
                .execute(&mut *self.tx)
                .await
                .map_err(other)?;
        }
        for chunk in changes.transitions.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO health_reports (system_id, source, check_id, status, at) ",
            );
            qb.push_values(chunk, |mut row, t| {
                row.push_bind(t.system_id.as_str())
                    .push_bind(t.source.as_str())
                    .push_bind(t.check_id.as_str())
                    .push_bind(t.status.as_str())
                    .push_bind(t.at.millis());
            });
            qb.build().execute(&mut *self.tx).await.map_err(other)?;
        }
        // Outages: an outage that began and ended inside this batch has a
        // start and an end entry; count them so only the outage still open at
        // the end of the batch gets an open row. Ended ones close their open
        // row, or are inserted closed when it began in this batch.
        let mut balance: BTreeMap<(&SystemId, Timestamp), i64> = BTreeMap::new();
        for (system, began, _) in &changes.outages_ended {
            *balance.entry((system, *began)).or_default() -= 1;
        }
        for chunk in changes.outages_ended.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE system_outages SET end_time = v.column3 FROM (",
            );
            qb.push_values(chunk, |mut row, (system, began, ended)| {
                row.push_bind(system.as_str()).push_bind(began.millis()).push_bind(ended.millis());
            });
            qb.push(
                ") AS v WHERE system_outages.system_id = v.column1
                   AND system_outages.start_time = v.column2 AND system_outages.end_time IS NULL
                 RETURNING system_id, start_time",
            );
            let mut closed = BTreeSet::new();
            for row in qb.build().fetch_all(&mut *self.tx).await.map_err(other)? {
                let system: String = row.try_get(0).map_err(other)?;
                let began: i64 = row.try_get(1).map_err(other)?;
                closed.insert((system, began));
            }
            let unopened: Vec<_> = chunk
                .iter()
                .filter(|(system, began, ended)| {
                    ended > began && !closed.contains(&(system.as_str().to_owned(), began.millis()))
                })
                .collect();
            if !unopened.is_empty() {
                let mut qb = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO system_outages (system_id, start_time, end_time) ",
                );
                qb.push_values(unopened, |mut row, (system, began, ended)| {
                    row.push_bind(system.as_str())
                        .push_bind(began.millis())
                        .push_bind(ended.millis());
                });
                qb.build().execute(&mut *self.tx).await.map_err(other)?;
            }
        }
        for (system, began) in &changes.outages_started {
            *balance.entry((system, *began)).or_default() += 1;
        }
        let opened: Vec<_> = balance.into_iter().filter(|(_, count)| *count > 0).collect();
        for chunk in opened.chunks(ROWS_PER_STATEMENT) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("INSERT INTO system_outages (system_id, start_time) ");
            qb.push_values(chunk, |mut row, ((system, began), _)| {
                row.push_bind(system.as_str()).push_bind(began.millis());
            });
            qb.build().execute(&mut *self.tx).await.map_err(other)?;
        }
        Ok(())
    }

    async fn event_spans(
        &mut self,
        objective_ids: &[String],
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<slod_store::SpanSet> {
        crate::rows::query_spans(&mut self.tx, objective_ids, since, until).await
    }

    async fn enqueue_events(&mut self, events: &[NotificationEvent]) -> StoreResult<()> {
        // One statement per chunk, not per event: a shared upstream going
        // down judges its dependents' objectives in one transaction, and
        // each statement is a round trip to the single writer's thread.
        // `VALUES` rows are inserted in order, so `seq` keeps the events'.
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO outbox_events (id, event_type, occurred_at, data) ",
            );
            qb.push_values(chunk, |mut row, event| {
                row.push_bind(&event.id)
                    .push_bind(event.event_type.as_str())
                    .push_bind(event.occurred_at.millis())
                    .push_bind(event.data.to_string());
            });
            qb.build().execute(&mut *self.tx).await.map_err(write_error)?;
        }
        // One delivery per subscribed channel, in this same transaction.
        crate::notify::fan_out(&mut self.tx, events).await
    }

    async fn upsert_system(
        &mut self,
        id: &SystemId,
        name: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let existed = sqlx::query("UPDATE systems SET name = ? WHERE id = ?")
            .bind(name)
            .bind(id.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(other)?
            .rows_affected()
            > 0;
        if !existed {
            sqlx::query("INSERT INTO systems (id, name, created_at) VALUES (?, ?, ?)")
                .bind(id.as_str())
                .bind(name)
                .bind(now.millis())
                .execute(&mut *self.tx)
                .await
                .map_err(write_error)?;
        }
        Ok(!existed)
    }

    async fn delete_system(&mut self, id: &SystemId) -> StoreResult<bool> {
        // Foreign keys cascade to objectives (and their events, snapshots,
        // streaks), achievements, edges, reports and outages.
        let deleted = sqlx::query("DELETE FROM systems WHERE id = ?")
            .bind(id.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn existing_systems(&mut self, ids: &[SystemId]) -> StoreResult<BTreeSet<SystemId>> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT id FROM systems WHERE id IN ");
        push_in_list(&mut qb, ids.iter().map(SystemId::as_str));
        let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(other)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map(SystemId::from_trusted).map_err(other))
            .collect()
    }

    async fn all_edges(&mut self) -> StoreResult<Vec<(SystemId, SystemId)>> {
        let rows = sqlx::query("SELECT downstream_id, upstream_id FROM dependencies ORDER BY 1, 2")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(other)?;
        rows.iter()
            .map(|r| {
                Ok((
                    SystemId::from_trusted(r.try_get(0).map_err(other)?),
                    SystemId::from_trusted(r.try_get(1).map_err(other)?),
                ))
            })
            .collect()
    }

    async fn set_upstreams(&mut self, id: &SystemId, upstreams: &[SystemId]) -> StoreResult<()> {
        sqlx::query("DELETE FROM dependencies WHERE downstream_id = ?")
            .bind(id.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        let unique: BTreeSet<&SystemId> = upstreams.iter().collect();
        for upstream in unique {
            sqlx::query("INSERT INTO dependencies (downstream_id, upstream_id) VALUES (?, ?)")
                .bind(id.as_str())
                .bind(upstream.as_str())
                .execute(&mut *self.tx)
                .await
                .map_err(write_error)?;
        }
        Ok(())
    }

    async fn get_check(
        &mut self,
        system: &SystemId,
        check: &CheckId,
    ) -> StoreResult<Option<CheckState>> {
        let sql = format!(
            "SELECT {CHECK_COLUMNS} FROM system_checks WHERE system_id = ? AND check_id = ?"
        );
        let row = sqlx::query(&sql)
            .bind(system.as_str())
            .bind(check.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(other)?;
        Ok(row.map(|r| check_from_row(&r)).transpose()?.map(|(_, _, state)| state))
    }

    async fn get_objective(&mut self, id: &str) -> StoreResult<Option<Objective>> {
        let sql = format!("SELECT {OBJECTIVE_COLUMNS} FROM slo_objectives WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *self.tx).await.map_err(other)?;
        row.map(|r| objective_from_row(&r)).transpose()
    }

    async fn insert_objective(&mut self, o: &Objective) -> StoreResult<()> {
        let (window_days, calendar_unit, calendar_time_zone) =
            slod_store::codec::window_columns(&o.window);
        sqlx::query(&format!(
            "INSERT INTO slo_objectives ({OBJECTIVE_COLUMNS})
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(o.id.as_str())
        .bind(o.system_id.as_str())
        .bind(&o.health_check_configuration_id)
        .bind(o.target.get())
        .bind(window_days)
        .bind(o.dependency_exclusion.as_str())
        .bind(join_ids(&o.excluded_dependency_ids))
        .bind(i64::from(o.exclude_maintenance_windows))
        .bind(o.burn_rate_thresholds.warning_percent)
        .bind(o.burn_rate_thresholds.critical_percent)
        .bind(o.burn_rate_thresholds.fast_burn_multiplier)
        .bind(o.created_at.millis())
        .bind(o.updated_at.millis())
        .bind(codec::encode_burn_rate_alerts(&o.burn_rate_alerts)?)
        .bind(o.name.as_ref().map(ObjectiveName::as_str))
        .bind(calendar_unit)
        .bind(calendar_time_zone)
        .execute(&mut *self.tx)
        .await
        .map_err(write_error)?;
        sqlx::query("INSERT INTO slo_streaks (objective_id) VALUES (?)")
            .bind(o.id.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn update_objective(&mut self, o: &Objective) -> StoreResult<()> {
        let (window_days, calendar_unit, calendar_time_zone) =
            slod_store::codec::window_columns(&o.window);
        let updated = sqlx::query(
            "UPDATE slo_objectives SET health_check_configuration_id = ?, target = ?, window_days = ?,
             dependency_exclusion = ?, excluded_dependency_ids = ?, exclude_maintenance_windows = ?,
             warning_percent = ?, critical_percent = ?, fast_burn_multiplier = ?, updated_at = ?,
             burn_rate_alerts = ?, name = ?, calendar_unit = ?, calendar_time_zone = ?
             WHERE id = ?",
        )
        .bind(&o.health_check_configuration_id)
        .bind(o.target.get())
        .bind(window_days)
        .bind(o.dependency_exclusion.as_str())
        .bind(join_ids(&o.excluded_dependency_ids))
        .bind(i64::from(o.exclude_maintenance_windows))
        .bind(o.burn_rate_thresholds.warning_percent)
        .bind(o.burn_rate_thresholds.critical_percent)
        .bind(o.burn_rate_thresholds.fast_burn_multiplier)
        .bind(o.updated_at.millis())
        .bind(codec::encode_burn_rate_alerts(&o.burn_rate_alerts)?)
        .bind(o.name.as_ref().map(ObjectiveName::as_str))
        .bind(calendar_unit)
        .bind(calendar_time_zone)
        .bind(o.id.as_str())
        .execute(&mut *self.tx)
        .await
        .map_err(write_error)?;
        if updated.rows_affected() == 0 {
            return Err(slod_store::StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_objective(&mut self, id: &str) -> StoreResult<bool> {
        // Events, snapshots and the streak go with it (foreign keys).
        let deleted = sqlx::query("DELETE FROM slo_objectives WHERE id = ?")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        Ok(deleted.rows_affected() > 0)
    }
}
