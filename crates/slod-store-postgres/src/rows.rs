//! Row decoding and error mapping shared by reads and writes.

use std::collections::BTreeMap;

use slod_core::engine::SystemState;
use slod_core::events::NotificationEvent;
use slod_core::model::{DowntimeEvent, Objective, SystemId};
use slod_core::status::{EventSpan, OPEN_END};
use slod_core::time::Timestamp;
use slod_store::codec::{
    self, DowntimeFields, NotificationFields, ObjectiveFields, OutboxFields, SystemFields,
};
pub(crate) use slod_store::codec::{
    upstream_columns, EVENT_COLUMNS, OBJECTIVE_COLUMNS, SYSTEM_COLUMNS,
};
use slod_store::span_cache::{self, SpanSource, TailRead};
use slod_store::{SpanSet, SpanSetBuilder, StoreError, SystemRow};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row;

pub(crate) fn other(err: sqlx::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(err))
}

/// Maps a uniqueness violation to `Conflict`, anything else to `Other`.
pub(crate) fn write_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        _ => other(err),
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    codec::corrupt(what, value)
}

/// The ids as `&str`, for binding as a `TEXT[]`.
pub(crate) fn id_strs<'a>(ids: impl IntoIterator<Item = &'a SystemId>) -> Vec<&'a str> {
    ids.into_iter().map(SystemId::as_str).collect()
}

/// Decodes `SYSTEM_COLUMNS` into its raw values.
fn system_fields(row: &PgRow) -> Result<SystemFields, StoreError> {
    Ok(SystemFields {
        id: row.try_get(0).map_err(other)?,
        name: row.try_get(1).map_err(other)?,
        created_at: row.try_get(2).map_err(other)?,
        healthcheck_status: row.try_get(3).map_err(other)?,
        incident_status: row.try_get(4).map_err(other)?,
        down_since: row.try_get(5).map_err(other)?,
        down_source: row.try_get(6).map_err(other)?,
        last_report_at: row.try_get(7).map_err(other)?,
        unnamed_report_at: row.try_get(8).map_err(other)?,
        last_transition_at: row.try_get(9).map_err(other)?,
    })
}

/// Decodes `CHECK_COLUMNS`.
pub(crate) fn check_from_row(
    row: &PgRow,
) -> Result<(SystemId, slod_core::model::CheckId, slod_core::engine::CheckState), StoreError> {
    slod_store::codec::CheckFields {
        system_id: row.try_get(0).map_err(other)?,
        check_id: row.try_get(1).map_err(other)?,
        status: row.try_get(2).map_err(other)?,
        at: row.try_get(3).map_err(other)?,
        down_since: row.try_get(4).map_err(other)?,
    }
    .decode()
}

/// Decodes `SYSTEM_COLUMNS` into the engine's view of a system.
pub(crate) fn system_state_from_row(row: &PgRow) -> Result<(SystemState, Timestamp), StoreError> {
    system_fields(row)?.decode()
}

pub(crate) fn system_row_from_row(row: &PgRow) -> Result<SystemRow, StoreError> {
    system_fields(row)?.decode_row()
}

/// Decodes `OBJECTIVE_COLUMNS` starting at column `offset`.
pub(crate) fn objective_from_row_at(row: &PgRow, offset: usize) -> Result<Objective, StoreError> {
    let col = |i: usize| offset + i;
    ObjectiveFields {
        id: row.try_get(col(0)).map_err(other)?,
        system_id: row.try_get(col(1)).map_err(other)?,
        health_check_configuration_id: row.try_get(col(2)).map_err(other)?,
        target: row.try_get(col(3)).map_err(other)?,
        window_days: row.try_get(col(4)).map_err(other)?,
        dependency_exclusion: row.try_get(col(5)).map_err(other)?,
        excluded_dependency_ids: row.try_get(col(6)).map_err(other)?,
        exclude_maintenance_windows: row.try_get(col(7)).map_err(other)?,
        warning_percent: row.try_get(col(8)).map_err(other)?,
        critical_percent: row.try_get(col(9)).map_err(other)?,
        fast_burn_multiplier: row.try_get(col(10)).map_err(other)?,
        created_at: row.try_get(col(11)).map_err(other)?,
        updated_at: row.try_get(col(12)).map_err(other)?,
        burn_rate_alerts: row.try_get(col(13)).map_err(other)?,
        name: row.try_get(col(14)).map_err(other)?,
        calendar_unit: row.try_get(col(15)).map_err(other)?,
        calendar_time_zone: row.try_get(col(16)).map_err(other)?,
    }
    .decode()
}

pub(crate) fn objective_from_row(row: &PgRow) -> Result<Objective, StoreError> {
    objective_from_row_at(row, 0)
}

/// Decodes `EVENT_COLUMNS` starting at column `offset`.
pub(crate) fn event_from_row_at(row: &PgRow, offset: usize) -> Result<DowntimeEvent, StoreError> {
    let col = |i: usize| offset + i;
    DowntimeFields {
        id: row.try_get(col(0)).map_err(other)?,
        objective_id: row.try_get(col(1)).map_err(other)?,
        system_id: row.try_get(col(2)).map_err(other)?,
        start_time: row.try_get(col(3)).map_err(other)?,
        end_time: row.try_get(col(4)).map_err(other)?,
        attribution_type: row.try_get(col(5)).map_err(other)?,
        upstream_system_id: row.try_get(col(6)).map_err(other)?,
        upstream_system_name: row.try_get(col(7)).map_err(other)?,
        source: row.try_get(col(8)).map_err(other)?,
    }
    .decode()
}

pub(crate) fn event_from_row(row: &PgRow) -> Result<DowntimeEvent, StoreError> {
    event_from_row_at(row, 0)
}

/// Spans of the given objectives' events that end after `since` (or are
/// open) and start before `until`.
///
/// One row per objective, its spans as three arrays (starts, ends, upstream
/// ids): a million events come back as a thousand rows, so what each row
/// costs on the way in (the async row stream, decoding, buffering every row
/// before the first is used) is paid per objective rather than per event,
/// and grouping by objective alone follows the index, so the server sorts
/// nothing. The `array_agg`s of one group consume its rows in one order, so
/// the arrays line up. Upstream names, wanted once per upstream rather than
/// once per span, come from a second, small query.
pub(crate) async fn query_spans(
    conn: &mut PgConnection,
    objective_ids: &[String],
    since: Timestamp,
    until: Timestamp,
) -> Result<SpanSet, StoreError> {
    if objective_ids.is_empty() {
        return Ok(SpanSet::default());
    }
    // `COALESCE(end_time, i64::MAX) > since` is "open, or ended after
    // `since`" in a form the (objective_id, COALESCE(end_time, …)) index
    // answers with one range scan per objective, however long the history
    // before the window.
    let rows = sqlx::query(
        "SELECT objective_id, array_agg(start_time), array_agg(end_time),
                array_agg(upstream_system_id)
         FROM slo_downtime_events
         WHERE objective_id = ANY($1)
           AND COALESCE(end_time, 9223372036854775807) > $2
           AND start_time < $3
         GROUP BY objective_id",
    )
    .bind(objective_ids)
    .bind(since.millis())
    .bind(until.millis())
    .fetch_all(&mut *conn)
    .await
    .map_err(other)?;
    let mut collector = SpanSetBuilder::default();
    for row in &rows {
        let objective: &str = row.try_get(0).map_err(other)?;
        let starts: Vec<i64> = row.try_get(1).map_err(other)?;
        let ends: Vec<Option<i64>> = row.try_get(2).map_err(other)?;
        let upstreams: Vec<Option<String>> = row.try_get(3).map_err(other)?;
        if starts.len() != ends.len() || starts.len() != upstreams.len() {
            return Err(corrupt("span arrays of objective", objective));
        }
        let mut spans = Vec::with_capacity(starts.len());
        for ((start, end), upstream) in starts.into_iter().zip(ends).zip(upstreams) {
            let upstream = match upstream {
                None => 0,
                Some(id) => collector.upstream(objective, &id, None),
            };
            spans.push(EventSpan { start, end: end.unwrap_or(OPEN_END), upstream });
        }
        collector.spans_of(objective).append(&mut spans);
    }
    if !collector.unnamed().is_empty() {
        let names = upstream_names(conn, collector.unnamed()).await?;
        collector.name_upstreams(names);
    }
    Ok(collector.finish())
}

/// The name stored with some event of `objective` charged to `upstream`,
/// for each `(upstream, objective)`: one statement, one index probe each.
async fn upstream_names(
    conn: &mut PgConnection,
    seen_under: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, StoreError> {
    let upstreams: Vec<&str> = seen_under.keys().map(String::as_str).collect();
    let objectives: Vec<&str> = seen_under.values().map(String::as_str).collect();
    let rows = sqlx::query(
        "SELECT u.id,
                (SELECT e.upstream_system_name FROM slo_downtime_events e
                 WHERE e.objective_id = u.objective_id AND e.upstream_system_id = u.id
                 LIMIT 1)
         FROM UNNEST($1::text[], $2::text[]) AS u(id, objective_id)",
    )
    .bind(&upstreams)
    .bind(&objectives)
    .fetch_all(&mut *conn)
    .await
    .map_err(other)?;
    let mut names = BTreeMap::new();
    for row in &rows {
        let id: String = row.try_get(0).map_err(other)?;
        if let Some(name) = row.try_get::<Option<String>, _>(1).map_err(other)? {
            names.insert(id, name);
        }
    }
    Ok(names)
}

/// Decodes `NotificationFields` (id, event_type, occurred_at, data)
/// starting at column `offset`.
pub(crate) fn notification_fields_at(
    row: &PgRow,
    offset: usize,
) -> Result<NotificationFields, StoreError> {
    let col = |i: usize| offset + i;
    Ok(NotificationFields {
        id: row.try_get(col(0)).map_err(other)?,
        event_type: row.try_get(col(1)).map_err(other)?,
        occurred_at: row.try_get(col(2)).map_err(other)?,
        data: row.try_get(col(3)).map_err(other)?,
    })
}

/// Decodes `OUTBOX_COLUMNS`.
pub(crate) fn outbox_event(row: &PgRow) -> Result<(i64, NotificationEvent), StoreError> {
    OutboxFields { seq: row.try_get(0).map_err(other)?, event: notification_fields_at(row, 1)? }
        .decode()
}

/// [`SpanSource::tails`]: one statement, one indexed range on
/// (objective_id, start_time) per read, no row at all for an objective
/// where nothing happened.
pub(crate) async fn query_tails(
    conn: &mut PgConnection,
    reads: &[&TailRead],
) -> Result<SpanSet, StoreError> {
    let rows = sqlx::query(
        "SELECT c.id, e.start_time, e.end_time, e.upstream_system_id, e.upstream_system_name
         FROM UNNEST($1::text[], $2::bigint[]) AS c(id, start_from)
         JOIN slo_downtime_events e ON e.objective_id = c.id AND e.start_time > c.start_from",
    )
    .bind(reads.iter().map(|r| r.objective_id.as_str()).collect::<Vec<_>>())
    .bind(reads.iter().map(|r| r.from).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await
    .map_err(other)?;
    let mut tails = SpanSetBuilder::default();
    for row in &rows {
        let objective: &str = row.try_get(0).map_err(other)?;
        let upstream_id: Option<&str> = row.try_get(3).map_err(other)?;
        let upstream_name: Option<&str> = row.try_get(4).map_err(other)?;
        tails.push(
            objective,
            row.try_get(1).map_err(other)?,
            row.try_get(2).map_err(other)?,
            upstream_id.map(|id| (id, upstream_name.unwrap_or(id))),
        );
    }
    Ok(tails.finish())
}

/// The span reads of one connection, for the store's span cache, and the
/// pool to borrow a second connection from for a large load.
pub(crate) struct SpanReads<'a> {
    pub(crate) conn: &'a mut PgConnection,
    pub(crate) pool: &'a sqlx::PgPool,
}

#[async_trait::async_trait]
impl SpanSource for SpanReads<'_> {
    /// A load of many objectives (the first read after a start) reads two
    /// halves at once: [`span_cache::load_in_halves`].
    async fn spans(
        &mut self,
        objective_ids: &[String],
        since: Timestamp,
        until: Timestamp,
    ) -> Result<SpanSet, StoreError> {
        let second = async { self.pool.acquire().await.ok() };
        span_cache::load_in_halves(objective_ids, &mut *self.conn, second, |conn, ids| {
            Box::pin(query_spans(conn, ids, since, until))
        })
        .await
    }

    async fn tails(&mut self, reads: &[&TailRead]) -> Result<SpanSet, StoreError> {
        query_tails(&mut *self.conn, reads).await
    }
}

/// The change counters of migration 0012 (`slod_store::counted`):
/// objectives, streaks.
pub(crate) async fn change_counters(
    conn: &mut sqlx::PgConnection,
) -> Result<(i64, i64), StoreError> {
    sqlx::query_as("SELECT objectives, streaks FROM change_counters")
        .fetch_one(&mut *conn)
        .await
        .map_err(other)
}
