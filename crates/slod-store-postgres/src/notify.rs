//! [`NotifyStore`] and [`NotifyTx`] for PostgreSQL
//! (migrations/0004_notify.sql).
//!
//! Several replicas run delivery workers against the same tables. A claim
//! picks each channel's due rows with `FOR UPDATE SKIP LOCKED` (a row another
//! replica is claiming right now is skipped, never waited for) and stamps
//! them with a lease in the same statement, so once committed no other
//! worker takes them until the lease expires. Alert state changes by
//! compare-and-swap: an `UPDATE … WHERE` the expected flags, or an
//! `INSERT … ON CONFLICT DO NOTHING` for a first state, which waits for a
//! concurrent inserter to commit and then does nothing. Either way, of two
//! replicas judging the same crossing only one sees its write take effect,
//! and only that one emits the event.

use std::collections::BTreeMap;

use async_trait::async_trait;
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::SystemId;
use slod_core::time::Timestamp;
use slod_store::codec::{
    AttemptFields, ChannelFields, ClaimedFields, DeliveryFields, ATTEMPT_COLUMNS, CHANNEL_COLUMNS,
};
use slod_store::notify::{
    AlertState, AttemptOutcome, AttemptRecord, AttemptRow, ChannelRow, ClaimedDelivery, DeliveryRow,
};
use slod_store::{NotifyStore, NotifyTx, StoreError, StoreResult};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row;

use crate::rows::{notification_fields_at, other, write_error};
use crate::tx::PgTx;
use crate::PgStore;

fn type_strs(types: Option<&[EventType]>) -> Option<Vec<&'static str>> {
    types.map(|types| types.iter().map(|t| t.as_str()).collect())
}

/// Decodes `CHANNEL_COLUMNS` starting at column `offset`.
fn channel_fields_at(row: &PgRow, offset: usize) -> StoreResult<ChannelFields> {
    let col = |i: usize| offset + i;
    Ok(ChannelFields {
        id: row.try_get(col(0)).map_err(other)?,
        name: row.try_get(col(1)).map_err(other)?,
        kind: row.try_get(col(2)).map_err(other)?,
        url: row.try_get(col(3)).map_err(other)?,
        secret: row.try_get(col(4)).map_err(other)?,
        events: row.try_get(col(5)).map_err(other)?,
        created_at: row.try_get(col(6)).map_err(other)?,
        updated_at: row.try_get(col(7)).map_err(other)?,
    })
}

/// Writes one delivery per subscribed channel for each event, in the
/// enqueueing transaction (`StoreTx::enqueue_events` calls this right after
/// writing the outbox rows). The first attempt is due when the event
/// occurred. One statement for the whole batch.
pub(crate) async fn fan_out(
    conn: &mut PgConnection,
    events: &[NotificationEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO notify_deliveries (channel_id, event_id, next_attempt_at)
         SELECT c.id, e.id, e.occurred_at
         FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS e(id, event_type, occurred_at)
         JOIN notify_channels c ON c.events IS NULL OR e.event_type = ANY(c.events)",
    )
    .bind(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.occurred_at.millis()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(write_error)?;
    Ok(())
}

#[async_trait]
impl NotifyStore for PgStore {
    async fn list_channels(&self) -> StoreResult<Vec<ChannelRow>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notify_channels ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await.map_err(other)?;
        rows.iter().map(|r| channel_fields_at(r, 0)?.decode()).collect()
    }

    async fn get_channel(&self, id: &str) -> StoreResult<Option<ChannelRow>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notify_channels WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(other)?;
        row.map(|r| channel_fields_at(&r, 0)?.decode()).transpose()
    }

    async fn list_deliveries(&self, channel_id: &str, limit: u32) -> StoreResult<Vec<DeliveryRow>> {
        let rows = sqlx::query(
            "SELECT d.id, d.channel_id, d.event_id, o.event_type, o.occurred_at, d.state,
                    d.next_attempt_at, d.finished_at
             FROM notify_deliveries d JOIN outbox_events o ON o.id = d.event_id
             WHERE d.channel_id = $1 ORDER BY d.id DESC LIMIT $2",
        )
        .bind(channel_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
        let attempts = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM notify_attempts WHERE delivery_id = ANY($1)
             ORDER BY delivery_id, attempt, id"
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(other)?;
        let mut by_delivery: BTreeMap<i64, Vec<AttemptRow>> = BTreeMap::new();
        for row in &attempts {
            let (delivery_id, attempt) = AttemptFields {
                delivery_id: row.try_get(0).map_err(other)?,
                attempt: row.try_get(1).map_err(other)?,
                started_at: row.try_get(2).map_err(other)?,
                finished_at: row.try_get(3).map_err(other)?,
                status_code: row.try_get(4).map_err(other)?,
                error: row.try_get(5).map_err(other)?,
                delivered: row.try_get(6).map_err(other)?,
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
                 WHERE d.channel_id = c.id AND d.state = 'pending' AND d.next_attempt_at <= $1
                   AND (d.lease_until IS NULL OR d.lease_until <= $1))
             ORDER BY c.id",
        )
        .bind(now.millis())
        .fetch_all(&self.pool)
        .await
        .map_err(other)?;
        rows.iter().map(|r| r.try_get(0).map_err(other)).collect()
    }

    async fn objectives_with_open_downtime(&self) -> StoreResult<Vec<(String, SystemId)>> {
        let rows = sqlx::query(
            "SELECT objective_id, system_id FROM slo_downtime_events
             WHERE end_time IS NULL ORDER BY system_id, objective_id",
        )
        .fetch_all(&self.pool)
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
        let mut conn = self.pool.acquire().await.map_err(other)?;
        read_alert_states(&mut conn, objective_ids).await
    }

    async fn outbox_head(&self) -> StoreResult<i64> {
        // Committed rows not numbered yet get numbers above this later, so a
        // tailer starting here may also see events committed just before it
        // started: harmless for a live stream.
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox_events")
            .fetch_one(&self.pool)
            .await
            .map_err(other)
    }

    async fn pending_deliveries(&self) -> StoreResult<u64> {
        // Counted from the partial index of pending deliveries.
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM notify_deliveries WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await
                .map_err(other)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[async_trait]
impl NotifyTx for PgTx {
    async fn insert_channel(&mut self, c: &ChannelRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO notify_channels ({CHANNEL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.kind.as_str())
        .bind(&c.url)
        .bind(&c.secret)
        .bind(type_strs(c.events.as_deref()))
        .bind(c.created_at.millis())
        .bind(c.updated_at.millis())
        .execute(self.writer())
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn update_channel(&mut self, c: &ChannelRow) -> StoreResult<()> {
        let updated = sqlx::query(
            "UPDATE notify_channels SET name = $1, kind = $2, url = $3, secret = $4, events = $5,
             updated_at = $6 WHERE id = $7",
        )
        .bind(&c.name)
        .bind(c.kind.as_str())
        .bind(&c.url)
        .bind(&c.secret)
        .bind(type_strs(c.events.as_deref()))
        .bind(c.updated_at.millis())
        .bind(&c.id)
        .execute(self.writer())
        .await
        .map_err(other)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_channel(&mut self, id: &str) -> StoreResult<bool> {
        // Deliveries and their attempts go with it (foreign keys).
        let deleted = sqlx::query("DELETE FROM notify_channels WHERE id = $1")
            .bind(id)
            .execute(self.writer())
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
        let wanted: Vec<&(String, u32)> = wanted.iter().filter(|(_, n)| *n > 0).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let token = slod_store::new_id();
        let sql = format!(
            "WITH wanted AS (
                 SELECT * FROM UNNEST($1::text[], $2::bigint[]) AS w(channel_id, n)
             ), picked AS (
                 SELECT p.id FROM wanted w CROSS JOIN LATERAL (
                     SELECT d.id FROM notify_deliveries d
                     WHERE d.channel_id = w.channel_id AND d.state = 'pending'
                       AND d.next_attempt_at <= $3
                       AND (d.lease_until IS NULL OR d.lease_until <= $3)
                     ORDER BY d.next_attempt_at, d.id
                     LIMIT w.n
                     FOR UPDATE SKIP LOCKED
                 ) p
             ), claimed AS (
                 UPDATE notify_deliveries d SET lease_until = $4, lease_token = $5
                 FROM picked WHERE d.id = picked.id
                 RETURNING d.id, d.attempts, d.first_attempt_at, d.event_id, d.channel_id,
                           d.next_attempt_at
             )
             SELECT claimed.id, claimed.attempts, claimed.first_attempt_at,
                    o.id, o.event_type, o.occurred_at, o.data,
                    c.{}
             FROM claimed
             JOIN outbox_events o ON o.id = claimed.event_id
             JOIN notify_channels c ON c.id = claimed.channel_id
             ORDER BY claimed.next_attempt_at, claimed.id",
            CHANNEL_COLUMNS.replace(", ", ", c.")
        );
        let rows = sqlx::query(&sql)
            .bind(wanted.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>())
            .bind(wanted.iter().map(|(_, n)| i64::from(*n)).collect::<Vec<_>>())
            .bind(now.millis())
            .bind(lease_until.millis())
            .bind(&token)
            .fetch_all(self.writer())
            .await
            .map_err(other)?;
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
        if attempts.is_empty() {
            return Ok(());
        }
        let outcome = |a: &AttemptRecord| match a.outcome {
            AttemptOutcome::Delivered => ("delivered", None, Some(a.finished_at.millis())),
            AttemptOutcome::RetryAt(at) => ("pending", Some(at.millis()), None),
            AttemptOutcome::GaveUp => ("failed", None, Some(a.finished_at.millis())),
        };
        let outcomes: Vec<(&str, Option<i64>, Option<i64>)> =
            attempts.iter().map(outcome).collect();
        // The attempt is logged whatever became of the lease (it happened),
        // unless the delivery itself is gone; the delivery changes only
        // while the lease is still ours. A data-modifying CTE runs whether
        // or not the outer statement reads it.
        sqlx::query(
            "WITH a AS (
                 SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
                                      $5::bigint[], $6::text[], $7::bool[], $8::text[],
                                      $9::text[], $10::bigint[], $11::bigint[])
                     AS a(delivery_id, attempt, started_at, finished_at, status_code, error,
                          delivered, token, state, next_attempt_at, finished)
             ), logged AS (
                 INSERT INTO notify_attempts
                     (delivery_id, attempt, started_at, finished_at, status_code, error, delivered)
                 SELECT a.delivery_id, a.attempt, a.started_at, a.finished_at, a.status_code,
                        a.error, a.delivered
                 FROM a WHERE EXISTS (SELECT 1 FROM notify_deliveries d WHERE d.id = a.delivery_id)
             )
             UPDATE notify_deliveries d
             SET state = a.state, next_attempt_at = a.next_attempt_at, finished_at = a.finished,
                 attempts = GREATEST(d.attempts, a.attempt),
                 first_attempt_at = COALESCE(d.first_attempt_at, a.finished_at),
                 lease_until = NULL, lease_token = NULL
             FROM a WHERE d.id = a.delivery_id AND d.lease_token = a.token",
        )
        .bind(attempts.iter().map(|a| a.delivery_id).collect::<Vec<_>>())
        .bind(attempts.iter().map(|a| i64::from(a.attempt)).collect::<Vec<_>>())
        .bind(attempts.iter().map(|a| a.started_at.millis()).collect::<Vec<_>>())
        .bind(attempts.iter().map(|a| a.finished_at.millis()).collect::<Vec<_>>())
        .bind(attempts.iter().map(|a| a.status_code.map(i64::from)).collect::<Vec<_>>())
        .bind(attempts.iter().map(|a| a.error.as_deref()).collect::<Vec<_>>())
        .bind(attempts.iter().map(|a| a.outcome == AttemptOutcome::Delivered).collect::<Vec<_>>())
        .bind(attempts.iter().map(|a| a.lease_token.as_str()).collect::<Vec<_>>())
        .bind(outcomes.iter().map(|(state, _, _)| *state).collect::<Vec<_>>())
        .bind(outcomes.iter().map(|(_, next, _)| *next).collect::<Vec<_>>())
        .bind(outcomes.iter().map(|(_, _, finished)| *finished).collect::<Vec<_>>())
        .execute(self.writer())
        .await
        .map_err(other)?;
        Ok(())
    }

    async fn prune_deliveries(&mut self, before: Timestamp) -> StoreResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM notify_deliveries WHERE state <> 'pending' AND finished_at < $1",
        )
        .bind(before.millis())
        .execute(self.writer())
        .await
        .map_err(other)?;
        Ok(deleted.rows_affected())
    }

    async fn alert_states(
        &mut self,
        objective_ids: &[String],
    ) -> StoreResult<BTreeMap<String, AlertState>> {
        read_alert_states(self.reader(), objective_ids).await
    }

    async fn swap_alert_state(
        &mut self,
        objective_id: &str,
        expected: AlertState,
        new: AlertState,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE alert_state SET warning = $1, critical = $2, exhausted = $3, burn_fast = $4,
                 updated_at = $5, burn_tiers = $11
             WHERE objective_id = $6 AND warning = $7 AND critical = $8 AND exhausted = $9
               AND burn_fast = $10 AND burn_tiers = $12",
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
        .execute(self.writer())
        .await
        .map_err(other)?;
        if updated.rows_affected() > 0 {
            return Ok(true);
        }
        if expected != AlertState::default() {
            return Ok(false);
        }
        // No row yet means nothing fired: create it. A concurrent inserter
        // makes this wait for its commit and then do nothing (its state
        // wins; ours was judged on the same crossing).
        let inserted = sqlx::query(
            "INSERT INTO alert_state
                 (objective_id, warning, critical, exhausted, burn_fast, updated_at, burn_tiers)
             SELECT $1, $2, $3, $4, $5, $6, $7
             WHERE EXISTS (SELECT 1 FROM slo_objectives WHERE id = $1)
             ON CONFLICT (objective_id) DO NOTHING",
        )
        .bind(objective_id)
        .bind(new.warning)
        .bind(new.critical)
        .bind(new.exhausted)
        .bind(new.burn_fast)
        .bind(now.millis())
        .bind(i64::from(new.burn_tiers))
        .execute(self.writer())
        .await
        .map_err(other)?;
        Ok(inserted.rows_affected() > 0)
    }
}

/// The stored alert state of each of `objective_ids` that has one.
async fn read_alert_states(
    conn: &mut PgConnection,
    objective_ids: &[String],
) -> StoreResult<BTreeMap<String, AlertState>> {
    if objective_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows = sqlx::query(
        "SELECT objective_id, warning, critical, exhausted, burn_fast, burn_tiers FROM alert_state
         WHERE objective_id = ANY($1)",
    )
    .bind(objective_ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(other)?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0).map_err(other)?,
                AlertState {
                    warning: r.try_get(1).map_err(other)?,
                    critical: r.try_get(2).map_err(other)?,
                    exhausted: r.try_get(3).map_err(other)?,
                    burn_fast: r.try_get(4).map_err(other)?,
                    burn_tiers: slod_store::codec::narrow(
                        "burn_tiers",
                        r.try_get::<i64, _>(5).map_err(other)?,
                    )?,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! What only PostgreSQL can show: two replicas' transactions at once.
    //! Skipped unless `SLOD_TEST_DATABASE_URL` names a server.

    use std::time::Duration;

    use slod_core::events::{EventType, NotificationEvent};
    use slod_core::model::{
        BurnRateThresholds, DependencyExclusion, Objective, SystemId, Target, WindowDays,
    };
    use slod_core::time::Timestamp;
    use slod_store::notify::{AlertState, ChannelKind, ChannelRow};
    use slod_store::Store;

    use crate::testing;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(1_767_225_600_000 + ms)
    }

    async fn fresh() -> Option<(crate::PgStore, testing::TestDatabase)> {
        let admin = testing::admin_url_from_env()?;
        Some(testing::fresh_store(&admin, 4).await.expect("fresh store"))
    }

    #[tokio::test]
    async fn concurrent_claims_take_disjoint_rows() {
        let Some((store, database)) = fresh().await else { return };
        let mut tx = store.begin().await.expect("begin");
        tx.insert_channel(&ChannelRow {
            id: "c".into(),
            name: "c".into(),
            kind: ChannelKind::Webhook,
            url: "http://127.0.0.1:9/".into(),
            secret: None,
            events: None,
            created_at: t(0),
            updated_at: t(0),
        })
        .await
        .expect("channel");
        let events: Vec<NotificationEvent> = (0..3)
            .map(|n| {
                NotificationEvent::new(
                    format!("e{n}"),
                    EventType::StatusChanged,
                    t(n),
                    serde_json::json!({}),
                )
            })
            .collect();
        tx.enqueue_events(&events).await.expect("enqueue");
        tx.commit().await.expect("commit");

        let mut first = store.begin().await.expect("begin");
        let a = first.claim_deliveries(t(10), t(100), &[("c".into(), 2)]).await.expect("claim");
        // Not committed yet: the second claimer skips the locked rows
        // instead of waiting for them.
        let mut second = store.begin().await.expect("begin");
        let b = tokio::time::timeout(
            Duration::from_secs(5),
            second.claim_deliveries(t(10), t(100), &[("c".into(), 10)]),
        )
        .await
        .expect("SKIP LOCKED does not wait")
        .expect("claim");
        first.commit().await.expect("commit");
        second.commit().await.expect("commit");
        let mut ids: Vec<String> = a.iter().chain(&b).map(|d| d.event.id.clone()).collect();
        ids.sort();
        assert_eq!(a.len(), 2);
        assert_eq!(ids, ["e0", "e1", "e2"], "each row claimed exactly once");
        store.close().await;
        testing::drop_database(database).await.expect("drop");
    }

    #[tokio::test]
    async fn two_replicas_judging_one_crossing_fire_once() {
        let Some((store, database)) = fresh().await else { return };
        let system = SystemId::parse("api", "id").expect("id");
        let mut tx = store.begin().await.expect("begin");
        tx.upsert_system(&system, "API", t(0)).await.expect("system");
        tx.insert_objective(&Objective {
            id: slod_core::model::ObjectiveId::from_trusted("o1".into()),
            name: None,
            system_id: system,
            health_check_configuration_id: None,
            target: Target::parse(99.0).unwrap(),
            window: WindowDays::parse(1).unwrap().into(),
            dependency_exclusion: DependencyExclusion::Strict,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: t(0),
            updated_at: t(0),
        })
        .await
        .expect("objective");
        tx.commit().await.expect("commit");

        let warned = AlertState { warning: true, ..AlertState::default() };
        // Both read "nothing fired" and both try to record the warning.
        let mut first = store.begin().await.expect("begin");
        let mut second = store.begin().await.expect("begin");
        assert!(first.alert_states(&["o1".into()]).await.expect("read").is_empty());
        assert!(second.alert_states(&["o1".into()]).await.expect("read").is_empty());
        assert!(first
            .swap_alert_state("o1", AlertState::default(), warned, t(1))
            .await
            .expect("swap"));
        let racing = tokio::spawn(async move {
            let fired = second
                .swap_alert_state("o1", AlertState::default(), warned, t(1))
                .await
                .expect("swap");
            second.commit().await.expect("commit");
            fired
        });
        // The second waits on the first's uncommitted row, then finds the
        // crossing already recorded.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!racing.is_finished(), "the second replica waits for the first");
        first.commit().await.expect("commit");
        assert!(!racing.await.expect("join"), "only one replica fires");
        store.close().await;
        testing::drop_database(database).await.expect("drop");
    }
}
