//! Row decoding and small query-building helpers shared by reads and writes.

use std::collections::{BTreeMap, BTreeSet};

use slod_core::engine::SystemState;
use slod_core::events::NotificationEvent;
use slod_core::model::{DowntimeEvent, Objective, SystemId};
use slod_core::status::{EventSpan, OPEN_END};
use slod_core::time::Timestamp;
use slod_store::codec::{
    self, CheckFields, DowntimeFields, NotificationFields, ObjectiveFields, OutboxFields,
    SystemFields, CHECK_COLUMNS, SYSTEM_COLUMNS,
};
use slod_store::span_cache::{self, SpanSource, TailRead};
use slod_store::{SpanSet, SpanSetBuilder, StoreError, SystemRow};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

pub(crate) fn other(err: sqlx::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(err))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    codec::corrupt(what, value)
}

/// Appends `(?, ?, …)` binding every id.
pub(crate) fn push_in_list<'a>(
    qb: &mut QueryBuilder<'a, Sqlite>,
    ids: impl Iterator<Item = &'a str>,
) {
    qb.push("(");
    let mut separated = qb.separated(", ");
    let mut any = false;
    for id in ids {
        separated.push_bind(id);
        any = true;
    }
    if !any {
        // `IN ()` is a syntax error in some engines; match nothing instead.
        separated.push("NULL");
    }
    qb.push(")");
}

/// Decodes `SYSTEM_COLUMNS` into its raw values.
fn system_fields(row: &SqliteRow) -> Result<SystemFields, StoreError> {
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

/// A row of `SYSTEM_COLUMNS` as `json_array` packs it.
type PackedSystem = (
    String,
    String,
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// A row of `CHECK_COLUMNS` as `json_array` packs it.
type PackedCheck = (String, String, String, i64, Option<i64>);

/// The rows of `query` (`SELECT json_group_array(json_array(…)) …`), which
/// SQLite packs into one JSON text: one value handed over from sqlx's
/// SQLite thread instead of one row each, which costs several microseconds
/// apiece. For the reads on a report batch's path, which take the one
/// writer: a hundred systems and their checks each batch.
async fn fetch_packed<T>(
    conn: &mut sqlx::SqliteConnection,
    mut query: QueryBuilder<'_, Sqlite>,
) -> Result<Vec<T>, StoreError>
where
    T: serde::de::DeserializeOwned,
{
    let packed: String = query.build_query_scalar().fetch_one(&mut *conn).await.map_err(other)?;
    serde_json::from_str(&packed).map_err(|err| corrupt("packed rows", &err.to_string()))
}

/// `SYSTEM_COLUMNS` of the systems `ids` that exist, as [`fetch_packed`]
/// reads them.
pub(crate) async fn packed_systems<'a>(
    conn: &mut sqlx::SqliteConnection,
    ids: impl Iterator<Item = &'a str>,
) -> Result<Vec<SystemFields>, StoreError> {
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT json_group_array(json_array({SYSTEM_COLUMNS})) FROM systems WHERE id IN "
    ));
    push_in_list(&mut qb, ids);
    let rows: Vec<PackedSystem> = fetch_packed(conn, qb).await?;
    Ok(rows
        .into_iter()
        .map(|r| SystemFields {
            id: r.0,
            name: r.1,
            created_at: r.2,
            healthcheck_status: r.3,
            incident_status: r.4,
            down_since: r.5,
            down_source: r.6,
            last_report_at: r.7,
            unnamed_report_at: r.8,
            last_transition_at: r.9,
        })
        .collect())
}

/// The checks of `systems` that are not healthy or are named in `named`,
/// as [`fetch_packed`] reads them.
pub(crate) async fn packed_checks(
    conn: &mut sqlx::SqliteConnection,
    systems: &BTreeSet<SystemId>,
    named: &[String],
) -> Result<Vec<(SystemId, slod_core::model::CheckId, slod_core::engine::CheckState)>, StoreError> {
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT json_group_array(json_array({CHECK_COLUMNS})) FROM system_checks WHERE system_id IN "
    ));
    push_in_list(&mut qb, systems.iter().map(SystemId::as_str));
    qb.push(" AND (status <> 'healthy' OR check_id IN ");
    push_in_list(&mut qb, named.iter().map(String::as_str));
    qb.push(")");
    let rows: Vec<PackedCheck> = fetch_packed(conn, qb).await?;
    rows.into_iter()
        .map(|r| {
            CheckFields { system_id: r.0, check_id: r.1, status: r.2, at: r.3, down_since: r.4 }
                .decode()
        })
        .collect()
}

/// Decodes `CHECK_COLUMNS`.
pub(crate) fn check_from_row(
    row: &SqliteRow,
) -> Result<(SystemId, slod_core::model::CheckId, slod_core::engine::CheckState), StoreError> {
    CheckFields {
        system_id: row.try_get(0).map_err(other)?,
        check_id: row.try_get(1).map_err(other)?,
        status: row.try_get(2).map_err(other)?,
        at: row.try_get(3).map_err(other)?,
        down_since: row.try_get(4).map_err(other)?,
    }
    .decode()
}

/// Decodes `SYSTEM_COLUMNS` into the engine's view of a system.
pub(crate) fn system_state_from_row(
    row: &SqliteRow,
) -> Result<(SystemState, Timestamp), StoreError> {
    system_fields(row)?.decode()
}

pub(crate) fn system_row_from_row(row: &SqliteRow) -> Result<SystemRow, StoreError> {
    system_fields(row)?.decode_row()
}

pub(crate) fn join_ids(ids: &[SystemId]) -> String {
    codec::join_list(ids.iter().map(SystemId::as_str))
}

/// Decodes `OBJECTIVE_COLUMNS` starting at column `offset`.
pub(crate) fn objective_from_row_at(
    row: &SqliteRow,
    offset: usize,
) -> Result<Objective, StoreError> {
    let col = |i: usize| offset + i;
    let excluded: String = row.try_get(col(6)).map_err(other)?;
    ObjectiveFields {
        id: row.try_get(col(0)).map_err(other)?,
        system_id: row.try_get(col(1)).map_err(other)?,
        health_check_configuration_id: row.try_get(col(2)).map_err(other)?,
        target: row.try_get(col(3)).map_err(other)?,
        window_days: row.try_get(col(4)).map_err(other)?,
        dependency_exclusion: row.try_get(col(5)).map_err(other)?,
        excluded_dependency_ids: codec::split_list(&excluded),
        exclude_maintenance_windows: row.try_get::<i64, _>(col(7)).map_err(other)? != 0,
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

pub(crate) fn objective_from_row(row: &SqliteRow) -> Result<Objective, StoreError> {
    objective_from_row_at(row, 0)
}

/// Decodes `EVENT_COLUMNS` starting at column `offset`.
pub(crate) fn event_from_row_at(
    row: &SqliteRow,
    offset: usize,
) -> Result<DowntimeEvent, StoreError> {
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

pub(crate) fn event_from_row(row: &SqliteRow) -> Result<DowntimeEvent, StoreError> {
    event_from_row_at(row, 0)
}

/// Decodes `NotificationFields` (id, event_type, occurred_at, data)
/// starting at column `offset`.
pub(crate) fn notification_fields_at(
    row: &SqliteRow,
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
pub(crate) fn outbox_event(row: &SqliteRow) -> Result<(i64, NotificationEvent), StoreError> {
    OutboxFields { seq: row.try_get(0).map_err(other)?, event: notification_fields_at(row, 1)? }
        .decode()
}

/// Spans of the given objectives' events overlapping `[since, until)`.
///
/// SQLite walks the events in C at a fraction of a microsecond each, but
/// every row handed to Rust costs several (sqlx copies each value and
/// passes the row between threads), so a million single-span rows took
/// seconds. Instead each objective comes back as one row, its spans
/// packed by `group_concat` into three aligned comma-separated lists
/// (start, end or empty while open, upstream id or empty for self): system
/// ids never contain a comma (SPEC §1). The aggregates of one group see its
/// rows in one order, so the lists line up. Upstream names, wanted once per
/// upstream rather than once per span, come from a second, small query.
pub(crate) async fn query_spans(
    conn: &mut sqlx::SqliteConnection,
    objective_ids: &[String],
    since: Timestamp,
    until: Timestamp,
) -> Result<SpanSet, StoreError> {
    use futures_util::TryStreamExt;

    if objective_ids.is_empty() {
        return Ok(SpanSet::default());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT objective_id, group_concat(start_time), group_concat(COALESCE(end_time, '')),
                group_concat(COALESCE(upstream_system_id, ''))
         FROM slo_downtime_events WHERE (end_time IS NULL OR end_time > ",
    );
    qb.push_bind(since.millis());
    qb.push(") AND start_time < ");
    qb.push_bind(until.millis());
    // A long IN list costs more than it saves; past a few hundred ids,
    // read every objective's events between the least and the greatest id
    // (one index range) and keep the wanted ones.
    let wanted: Option<std::collections::BTreeSet<&str>> = if objective_ids.len() > 500 {
        let wanted: std::collections::BTreeSet<&str> =
            objective_ids.iter().map(String::as_str).collect();
        if let (Some(least), Some(greatest)) = (wanted.first(), wanted.last()) {
            qb.push(" AND objective_id >= ");
            qb.push_bind(*least);
            qb.push(" AND objective_id <= ");
            qb.push_bind(*greatest);
        }
        Some(wanted)
    } else {
        qb.push(" AND objective_id IN ");
        push_in_list(&mut qb, objective_ids.iter().map(String::as_str));
        None
    };
    qb.push(" GROUP BY objective_id");
    let mut collector = SpanSetBuilder::default();
    // Row by row: the packed lists of a thousand objectives with a thousand
    // events each are tens of megabytes.
    let mut rows = qb.build().fetch(&mut *conn);
    while let Some(row) = rows.try_next().await.map_err(other)? {
        let objective: &str = row.try_get(0).map_err(other)?;
        if wanted.as_ref().is_some_and(|w| !w.contains(objective)) {
            continue;
        }
        let starts: &str = row.try_get(1).map_err(other)?;
        let ends: &str = row.try_get(2).map_err(other)?;
        let upstreams: &str = row.try_get(3).map_err(other)?;
        let count = starts.bytes().filter(|b| *b == b',').count() + 1;
        let mut spans = Vec::with_capacity(count);
        let (mut starts, mut ends, mut upstreams) =
            (starts.split(','), ends.split(','), upstreams.split(','));
        loop {
            match (starts.next(), ends.next(), upstreams.next()) {
                (Some(start), Some(end), Some(upstream)) => {
                    let start: i64 = start.parse().map_err(|_| corrupt("start_time", start))?;
                    let end = match end {
                        "" => OPEN_END,
                        end => end.parse().map_err(|_| corrupt("end_time", end))?,
                    };
                    let upstream = match upstream {
                        "" => 0,
                        id => collector.upstream(objective, id, None),
                    };
                    spans.push(EventSpan { start, end, upstream });
                }
                (None, None, None) => break,
                _ => return Err(corrupt("span list of objective", objective)),
            }
        }
        collector.spans_of(objective).append(&mut spans);
    }
    drop(rows);
    if !collector.unnamed().is_empty() {
        let names = upstream_names(conn, collector.unnamed()).await?;
        collector.name_upstreams(names);
    }
    Ok(collector.finish())
}

/// The name stored with some event of `objective` charged to `upstream`,
/// for each `(upstream, objective)`: one statement, one index probe each.
async fn upstream_names(
    conn: &mut sqlx::SqliteConnection,
    seen_under: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, StoreError> {
    let mut names = BTreeMap::new();
    let pairs: Vec<(&str, &str)> =
        seen_under.iter().map(|(u, o)| (u.as_str(), o.as_str())).collect();
    // Two variables a pair, far below SQLite's limit on variables.
    for chunk in pairs.chunks(1000) {
        let mut qb = QueryBuilder::<Sqlite>::new("WITH wanted (upstream_id, objective_id) AS (");
        let mut first = true;
        for (upstream, objective) in chunk {
            qb.push(if first { "VALUES (" } else { ", (" });
            first = false;
            qb.push_bind(*upstream);
            qb.push(", ");
            qb.push_bind(*objective);
            qb.push(")");
        }
        qb.push(
            ") SELECT upstream_id,
                      (SELECT upstream_system_name FROM slo_downtime_events e
                       WHERE e.objective_id = wanted.objective_id
                         AND e.upstream_system_id = wanted.upstream_id LIMIT 1)
               FROM wanted",
        );
        for row in qb.build().fetch_all(&mut *conn).await.map_err(other)? {
            let id: String = row.try_get(0).map_err(other)?;
            if let Some(name) = row.try_get::<Option<String>, _>(1).map_err(other)? {
                names.insert(id, name);
            }
        }
    }
    Ok(names)
}

/// [`SpanSource::tails`]: one indexed range on (objective_id, start_time)
/// per read, no row at all for an objective where nothing happened; a
/// thousand reads a statement (two variables each, far below SQLite's
/// limit).
pub(crate) async fn query_tails(
    conn: &mut sqlx::SqliteConnection,
    reads: &[&TailRead],
) -> Result<SpanSet, StoreError> {
    let mut rows = SpanSetBuilder::default();
    for chunk in reads.chunks(1000) {
        let mut qb = QueryBuilder::<Sqlite>::new("WITH c(id, start_from) AS (");
        qb.push_values(chunk, |mut b, read| {
            b.push_bind(read.objective_id.as_str()).push_bind(read.from);
        });
        qb.push(
            ") SELECT c.id, e.start_time, e.end_time, e.upstream_system_id, e.upstream_system_name
             FROM c JOIN slo_downtime_events e
               ON e.objective_id = c.id AND e.start_time > c.start_from",
        );
        for row in qb.build().fetch_all(&mut *conn).await.map_err(other)? {
            let objective: &str = row.try_get(0).map_err(other)?;
            let upstream_id: Option<&str> = row.try_get(3).map_err(other)?;
            let upstream_name: Option<&str> = row.try_get(4).map_err(other)?;
            rows.push(
                objective,
                row.try_get(1).map_err(other)?,
                row.try_get(2).map_err(other)?,
                upstream_id.map(|id| (id, upstream_name.unwrap_or(id))),
            );
        }
    }
    Ok(rows.finish())
}

/// The change counters of migration 0012 (`slod_store::counted`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChangeCounters {
    pub(crate) events: u64,
    pub(crate) objectives: u64,
    pub(crate) streaks: u64,
}

/// Reads the change counters: one row.
pub(crate) async fn change_counters(
    conn: &mut sqlx::SqliteConnection,
) -> Result<ChangeCounters, StoreError> {
    let row = sqlx::query("SELECT events, objectives, streaks FROM change_counters")
        .fetch_one(&mut *conn)
        .await
        .map_err(other)?;
    let counter = |i: usize| -> Result<u64, StoreError> {
        let n: i64 = row.try_get(i).map_err(other)?;
        u64::try_from(n).map_err(|_| corrupt("change counter", &n.to_string()))
    };
    Ok(ChangeCounters { events: counter(0)?, objectives: counter(1)?, streaks: counter(2)? })
}

/// The span reads of one connection, for the store's span cache, and the
/// pool to borrow a second connection from for a large load.
pub(crate) struct SpanReads<'a> {
    pub(crate) conn: &'a mut sqlx::SqliteConnection,
    pub(crate) pool: &'a sqlx::SqlitePool,
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

    async fn generation(&mut self) -> Result<Option<u64>, StoreError> {
        Ok(Some(change_counters(&mut *self.conn).await?.events))
    }
}
