//! [`NotifyStore`] and [`NotifyTx`] for SQLite (migrations/0004_notify.sql).
//!
//! SQLite has one writer, so claiming needs no row locks: the claim runs in
//! the writer's transaction and no other claim can interleave. Leases still
//! matter, for a worker killed mid-send: its claimed rows become due again
//! once the lease expires.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::SystemId;
use slod_core::time::Timestamp;
use slod_store::codec::{
    self, AttemptFields, ChannelFields, ClaimedFields, DeliveryFields, ATTEMPT_COLUMNS,
    CHANNEL_COLUMNS,
};
use slod_store::notify::{
    swap_one_by_one, AlertState, AlertSwap, AttemptOutcome, AttemptRecord, AttemptRow, ChannelRow,
    ClaimedDelivery, DeliveryRow,
};
use slod_store::{NotifyStore, NotifyTx, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::rows::{notification_fields_at, other, push_in_list};
use crate::tx::SqliteTx;
use crate::{write_error, SqliteStore};

/// Rows per multi-row statement (well under SQLite's 32,766 parameters).
const BATCH: usize = 200;

fn join_types(types: &[EventType]) -> String {
    codec::join_list(types.iter().map(|t| t.as_str()))
}

/// Decodes `CHANNEL_COLUMNS` starting at column `offset`.
fn channel_fields_at(row: &SqliteRow, offset: usize) -> StoreResult<ChannelFields> {
    let col = |i: usize| offset + i;
    let events: Option<String> = row.try_get(col(5)).map_err(other)?;
    Ok(ChannelFields {
        id: row.try_get(col(0)).map_err(other)?,
        name: row.try_get(col(1)).map_err(other)?,
        kind: row.try_get(col(2)).map_err(other)?,
        url: row.try_get(col(3)).map_err(other)?,
        secret: row.try_get(col(4)).map_err(other)?,
        events: events.as_deref().map(codec::split_list),
        created_at: row.try_get(col(6)).map_err(other)?,
        updated_at: row.try_get(col(7)).map_err(other)?,
    })
}

/// Writes one delivery per subscribed channel for each event, in the
/// enqueueing transaction (`StoreTx::enqueue_events` calls this right after
/// writing the outbox rows). The first attempt is due when the event
/// occurred.
pub(crate) async fn fan_out(
    conn: &mut SqliteConnection,
    events: &[NotificationEvent],
) -> StoreResult<()> {
    // One statement per chunk of events, not per event: statements are
    // what the single writer spends its time on.
    for chunk in events.chunks(BATCH) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO notify_deliveries (channel_id, event_id, next_attempt_at)
             SELECT c.id, v.column1, v.column2 FROM (",
        );
        qb.push_values(chunk, |mut row, event| {
            row.push_bind(&event.id)
                .push_bind(event.occurred_at.millis())
                .push_bind(event.event_type.as_str());
        });
        qb.push(
            ") AS v JOIN notify_channels c
             ON c.events IS NULL OR instr(',' || c.events || ',', ',' || v.column3 || ',') > 0",
        );
        qb.build().execute(&mut *conn).await.map_err(write_error)?;
    }
    Ok(())
}

#[async_trait]
impl NotifyStore for SqliteStore {
    async fn list_channels(&self) -> StoreResult<Vec<ChannelRow>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notify_channels ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await.map_err(other)?;
        rows.iter().map(|r| channel_fields_at(r, 0)?.decode()).collect()
    }

    async fn get_channel(&self, id: &str) -> StoreResult<Option<ChannelRow>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notify_channels WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await.map_err(other)?;
        row.map(|r| channel_fields_at(&r, 0)?.decode()).transpose()
    }

    async fn list_deliveries(&self, channel_id: &str, limit: u32) -> StoreResult<Vec<DeliveryRow>> {
        let rows = sqlx::query(
            "SELECT d.id, d.channel_id, d.event_id, o.event_type, o.occurred_at, d.state,
                    d.next_attempt_at, d.finished_at
             FROM notify_deliveries d JOIN outbox_events o ON o.id = d.event_id
             WHERE d.channel_id = ? ORDER BY d.id DESC LIMIT ?",
        )
        .bind(channel_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        let mut deliveries = Vec::with_capacity(rows.len());
        for row in &rows {
            deliveries.push(
                DeliveryFields {
                    id: row.try_get(0).map_err(other)?,
                    channel_id: row.try_get(1).map_err(other)?,
                    event_id: row.try_get(2).map_err(other)?,
                    event_type: row.try_get(3).map_err(other)?,
                    occurred_at: row.try_get(4).map_err(other)?,
                    state: row.try_get(5).map_err(other)?,
                    next_attempt_at: row.try_get(6).map_err(other)?,
                    finished_at: row.try_get(7).map_err(other)?,
                }
                .decode()?,
            );
        }
        if deliveries.is_empty() {
            return Ok(deliveries);
        }
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {ATTEMPT_COLUMNS} FROM notify_attempts WHERE delivery_id IN "
        ));
        let ids: Vec<String> = deliveries.iter().map(|d| d.id.to_string()).collect();
        push_in_list(&mut qb, ids.iter().map(String::as_str));
        qb.push(" ORDER BY delivery_id, attempt, id");
        let attempts = qb.build().fetch_all(&self.reader).await.map_err(other)?;
        let mut by_delivery: BTreeMap<i64, Vec<AttemptRow>> = BTreeMap::new();
        for row in &attempts {
            let (delivery_id, attempt) = AttemptFields {
                delivery_id: row.try_get(0).map_err(other)?,
                attempt: row.try_get(1).map_err(other)?,
                started_at: row.try_get(2).map_err(other)?,
                finished_at: row.try_get(3).map_err(other)?,
                status_code: row.try_get(4).map_err(other)?,
                error: row.try_get(5).map_err(other)?,
                delivered: row.try_get::<i64, _>(6).map_err(other)? != 0,
            }
            .decode()?;
            by_delivery.entry(delivery_id).or_default().push(attempt);
        }
        for delivery in &mut deliveries {
            delivery.attempts = by_delivery.remove(&delivery.id).unwrap_or_default();
        }
        Ok(deliveries)
    }

    async fn due_channels(&self, now: Timestamp) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            // One index probe per channel that stops at its first due row,
            // rather than a DISTINCT over every pending row: a dead channel
            // may pile up a day's worth of them.
            "SELECT c.id FROM notify_channels c WHERE EXISTS (
                 SELECT 1 FROM notify_deliveries d
                 WHERE d.channel_id = c.id AND d.state = 'pending' AND d.next_attempt_at <= ?1
                   AND (d.lease_until IS NULL OR d.lease_until <= ?1))
             ORDER BY c.id",
        )
        .bind(now.millis())
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        rows.iter().map(|r| r.try_get(0).map_err(other)).collect()
    }

    async fn objectives_with_open_downtime(&self) -> StoreResult<Vec<(String, SystemId)>> {
        let rows = sqlx::query(
            "SELECT objective_id, system_id FROM slo_downtime_events
             WHERE end_time IS NULL ORDER BY system_id, objective_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(other)?,
                    SystemId::from_trusted(r.try_get(1).map_err(other)?),
                ))
            })
            .collect()
    }

    async fn alert_states(
        &self,
        objective_ids: &[String],
    ) -> StoreResult<BTreeMap<String, AlertState>> {
        let mut conn = self.reader.acquire().await.map_err(other)?;
        read_alert_states(&mut conn, objective_ids).await
    }

    async fn outbox_head(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox_events")
            .fetch_one(&self.reader)
            .await
            .map_err(other)
    }

    async fn pending_deliveries(&self) -> StoreResult<u64> {
        // Counted from the partial index of pending deliveries.
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM notify_deliveries WHERE state = 'pending'")
                .fetch_one(&self.reader)
                .await
                .map_err(other)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[async_trait]
impl NotifyTx for SqliteTx {
    async fn insert_channel(&mut self, c: &ChannelRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO notify_channels ({CHANNEL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.kind.as_str())
        .bind(&c.url)
        .bind(&c.secret)
        .bind(c.events.as_deref().map(join_types))
        .bind(c.created_at.millis())
        .bind(c.updated_at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn update_channel(&mut self, c: &ChannelRow) -> StoreResult<()> {
        let updated = sqlx::query(
            "UPDATE notify_channels SET name = ?, kind = ?, url = ?, secret = ?, events = ?,
             updated_at = ? WHERE id = ?",
        )
        .bind(&c.name)
        .bind(c.kind.as_str())
        .bind(&c.url)
        .bind(&c.secret)
        .bind(c.events.as_deref().map(join_types))
        .bind(c.updated_at.millis())
        .bind(&c.id)
        .execute(&mut *self.tx)
        .await
        .map_err(other)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_channel(&mut self, id: &str) -> StoreResult<bool> {
        // Deliveries and their attempts go with it (foreign keys).
        let deleted = sqlx::query("DELETE FROM notify_channels WHERE id = ?")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn claim_deliveries(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        wanted: &[(String, u32)],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        // One token for the whole claim: it tells this claim's rows apart
        // from any other, and the result is read back by it.
        let token = slod_store::new_id();
        let mut any = false;
        for (channel_id, n) in wanted.iter().filter(|(_, n)| *n > 0) {
            let claimed = sqlx::query(
                "UPDATE notify_deliveries SET lease_until = ?1, lease_token = ?2
                 WHERE id IN (
                     SELECT id FROM notify_deliveries
                     WHERE channel_id = ?3 AND state = 'pending' AND next_attempt_at <= ?4
                       AND (lease_until IS NULL OR lease_until <= ?4)
                     ORDER BY next_attempt_at, id LIMIT ?5)",
            )
            .bind(lease_until.millis())
            .bind(&token)
            .bind(channel_id)
            .bind(now.millis())
            .bind(i64::from(*n))
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
            any |= claimed.rows_affected() > 0;
        }
        if !any {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT d.id, d.attempts, d.first_attempt_at,
                    o.id, o.event_type, o.occurred_at, o.data,
                    c.{}
             FROM notify_deliveries d
             JOIN outbox_events o ON o.id = d.event_id
             JOIN notify_channels c ON c.id = d.channel_id
             WHERE d.lease_token = ? ORDER BY d.next_attempt_at, d.id",
            CHANNEL_COLUMNS.replace(", ", ", c.")
        );
        let rows = sqlx::query(&sql).bind(&token).fetch_all(&mut *self.tx).await.map_err(other)?;
        rows.iter()
            .map(|row| {
                ClaimedFields {
                    delivery_id: row.try_get(0).map_err(other)?,
                    attempts: row.try_get(1).map_err(other)?,
                    first_attempt_at: row.try_get(2).map_err(other)?,
                    event: notification_fields_at(row, 3)?,
                    channel: channel_fields_at(row, 7)?,
                }
                .decode(token.clone())
            })
            .collect()
    }

    async fn record_attempts(&mut self, attempts: &[AttemptRecord]) -> StoreResult<()> {
        for chunk in attempts.chunks(BATCH) {
            // The attempt happened whatever became of the lease, so it is
            // logged unless the delivery itself is gone (channel deleted).
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO notify_attempts
                     (delivery_id, attempt, started_at, finished_at, status_code, error, delivered)
                 SELECT v.* FROM (",
            );
            qb.push_values(chunk, |mut row, a| {
                row.push_bind(a.delivery_id)
                    .push_bind(i64::from(a.attempt))
                    .push_bind(a.started_at.millis())
                    .push_bind(a.finished_at.millis())
                    .push_bind(a.status_code.map(i64::from))
                    .push_bind(a.error.as_deref())
                    .push_bind(i64::from(a.outcome == AttemptOutcome::Delivered));
            });
            qb.push(
                ") AS v WHERE EXISTS (SELECT 1 FROM notify_deliveries d WHERE d.id = v.column1)",
            );
            qb.build().execute(&mut *self.tx).await.map_err(other)?;

            // The delivery changes only while the lease is still ours.
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE notify_deliveries
                 SET state = v.column3, next_attempt_at = v.column4, finished_at = v.column5,
                     attempts = MAX(attempts, v.column6),
                     first_attempt_at = COALESCE(first_attempt_at, v.column7),
                     lease_until = NULL, lease_token = NULL
                 FROM (",
            );
            qb.push_values(chunk, |mut row, a| {
                let (state, next, finished) = match a.outcome {
                    AttemptOutcome::Delivered => ("delivered", None, Some(a.finished_at.millis())),
                    AttemptOutcome::RetryAt(at) => ("pending", Some(at.millis()), None),
                    AttemptOutcome::GaveUp => ("failed", None, Some(a.finished_at.millis())),
                };
                row.push_bind(a.delivery_id)
                    .push_bind(a.lease_token.as_str())
                    .push_bind(state)
                    .push_bind(next)
                    .push_bind(finished)
                    .push_bind(i64::from(a.attempt))
                    .push_bind(a.finished_at.millis());
            });
            qb.push(
                ") AS v WHERE notify_deliveries.id = v.column1
                   AND notify_deliveries.lease_token = v.column2",
            );
            qb.build().execute(&mut *self.tx).await.map_err(other)?;
        }
        Ok(())
    }

    async fn prune_deliveries(&mut self, before: Timestamp) -> StoreResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM notify_deliveries WHERE state <> 'pending' AND finished_at < ?",
        )
        .bind(before.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(other)?;
        Ok(deleted.rows_affected())
    }

    async fn alert_states(
        &mut self,
        objective_ids: &[String],
    ) -> StoreResult<BTreeMap<String, AlertState>> {
        read_alert_states(&mut self.tx, objective_ids).await
    }

    async fn swap_alert_state(
        &mut self,
        objective_id: &str,
        expected: AlertState,
        new: AlertState,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE alert_state SET warning = ?1, critical = ?2, exhausted = ?3, burn_fast = ?4,
                 updated_at = ?5, burn_tiers = ?11
             WHERE objective_id = ?6 AND warning = ?7 AND critical = ?8 AND exhausted = ?9
               AND burn_fast = ?10 AND burn_tiers = ?12",
        )
        .bind(new.warning)
        .bind(new.critical)
        .bind(new.exhausted)
        .bind(new.burn_fast)
        .bind(now.millis())
        .bind(objective_id)
        .bind(expected.warning)
        .bind(expected.critical)
        .bind(expected.exhausted)
        .bind(expected.burn_fast)
        .bind(i64::from(new.burn_tiers))
        .bind(i64::from(expected.burn_tiers))
        .execute(&mut *self.tx)
        .await
        .map_err(other)?;
        if updated.rows_affected() > 0 {
            return Ok(true);
        }
        if expected != AlertState::default() {
            return Ok(false);
        }
        // No row yet means nothing fired: create it, unless someone else
        // just did (then their state wins and ours was stale).
        let inserted = sqlx::query(
            "INSERT INTO alert_state
                 (objective_id, warning, critical, exhausted, burn_fast, updated_at, burn_tiers)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
             WHERE EXISTS (SELECT 1 FROM slo_objectives WHERE id = ?1)
             ON CONFLICT (objective_id) DO NOTHING",
        )
        .bind(objective_id)
        .bind(new.warning)
        .bind(new.critical)
        .bind(new.exhausted)
        .bind(new.burn_fast)
        .bind(now.millis())
        .bind(i64::from(new.burn_tiers))
        .execute(&mut *self.tx)
        .await
        .map_err(other)?;
        Ok(inserted.rows_affected() > 0)
    }

    /// Two statements for the whole set instead of one or two for each
    /// objective: the swaps of the rows that are as expected, then the rows
    /// created for objectives that have none and expected none.
    async fn swap_alert_states(
        &mut self,
        swaps: &[AlertSwap],
        now: Timestamp,
    ) -> StoreResult<BTreeSet<String>> {
        let distinct: BTreeSet<&str> = swaps.iter().map(|s| s.objective_id.as_str()).collect();
        if distinct.len() != swaps.len() {
            // Each swap must see the one before it.
            return swap_one_by_one(self, swaps, now).await;
        }
        let mut changed = BTreeSet::new();
        for chunk in swaps.chunks(SWAPS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE alert_state SET warning = v.column2, critical = v.column3,
                     exhausted = v.column4, burn_fast = v.column5, burn_tiers = v.column6,
                     updated_at = ",
            );
            qb.push_bind(now.millis()).push(" FROM (");
            qb.push_values(chunk, |mut row, swap| {
                let (new, old) = (swap.new, swap.expected);
                row.push_bind(&swap.objective_id)
                    .push_bind(new.warning)
                    .push_bind(new.critical)
                    .push_bind(new.exhausted)
                    .push_bind(new.burn_fast)
                    .push_bind(i64::from(new.burn_tiers))
                    .push_bind(old.warning)
                    .push_bind(old.critical)
                    .push_bind(old.exhausted)
                    .push_bind(old.burn_fast)
                    .push_bind(i64::from(old.burn_tiers));
            });
            qb.push(
                ") AS v WHERE alert_state.objective_id = v.column1
                   AND alert_state.warning = v.column7 AND alert_state.critical = v.column8
                   AND alert_state.exhausted = v.column9 AND alert_state.burn_fast = v.column10
                   AND alert_state.burn_tiers = v.column11
                 RETURNING objective_id",
            );
            for row in qb.build().fetch_all(&mut *self.tx).await.map_err(other)? {
                changed.insert(row.try_get::<String, _>(0).map_err(other)?);
            }
            // No row yet means nothing fired: create it, unless someone else
            // just did (then their state wins and ours was stale).
            let fresh: Vec<&AlertSwap> = chunk
                .iter()
                .filter(|s| s.expected == AlertState::default())
                .filter(|s| !changed.contains(&s.objective_id))
                .collect();
            if fresh.is_empty() {
                continue;
            }
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO alert_state
                     (objective_id, warning, critical, exhausted, burn_fast, burn_tiers, updated_at)
                 SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, ",
            );
            qb.push_bind(now.millis()).push(" FROM (");
            qb.push_values(fresh, |mut row, swap| {
                let new = swap.new;
                row.push_bind(&swap.objective_id)
                    .push_bind(new.warning)
                    .push_bind(new.critical)
                    .push_bind(new.exhausted)
                    .push_bind(new.burn_fast)
                    .push_bind(i64::from(new.burn_tiers));
            });
            qb.push(
                ") AS v WHERE EXISTS (SELECT 1 FROM slo_objectives WHERE id = v.column1)
                 ON CONFLICT (objective_id) DO NOTHING
                 RETURNING objective_id",
            );
            for row in qb.build().fetch_all(&mut *self.tx).await.map_err(other)? {
                changed.insert(row.try_get::<String, _>(0).map_err(other)?);
            }
        }
        Ok(changed)
    }
}

/// Swaps per statement: eleven bound values a row, far below SQLite's
/// limit.
const SWAPS_PER_STATEMENT: usize = 500;

/// The stored alert state of each of `objective_ids` that has one.
async fn read_alert_states(
    conn: &mut SqliteConnection,
    objective_ids: &[String],
) -> StoreResult<BTreeMap<String, AlertState>> {
    if objective_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT objective_id, warning, critical, exhausted, burn_fast, burn_tiers FROM alert_state
         WHERE objective_id IN ",
    );
    push_in_list(&mut qb, objective_ids.iter().map(String::as_str));
    let rows = qb.build().fetch_all(&mut *conn).await.map_err(other)?;
    rows.iter()
        .map(|r| {
            let flag = |i: usize| r.try_get::<i64, _>(i).map(|v| v != 0).map_err(other);
            Ok((
                r.try_get(0).map_err(other)?,
                AlertState {
                    warning: flag(1)?,
                    critical: flag(2)?,
                    exhausted: flag(3)?,
                    burn_fast: flag(4)?,
                    burn_tiers: slod_store::codec::narrow(
                        "burn_tiers",
                        r.try_get::<i64, _>(5).map_err(other)?,
                    )?,
                },
            ))
        })
        .collect()
}
