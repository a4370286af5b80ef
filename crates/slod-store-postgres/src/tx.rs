//! The write transaction, and how replicas serialise (SPEC §10).
//!
//! # Locking protocol
//!
//! Transactions run at READ COMMITTED. What keeps two of them from acting on
//! the same state at once is a row lock on every system whose state or
//! objectives they read or change:
//!
//! - [`StoreTx::load_world`] locks its whole scope (the reporting systems,
//!   their upstreams and downstreams, and the downstreams' upstreams) with
//!   one `SELECT … ORDER BY id FOR NO KEY UPDATE OF systems` *before* it
//!   reads states, objectives or open events. Each statement at READ
//!   COMMITTED reads the latest committed data, so once the lock is granted
//!   the reads see everything the previous holder wrote. Locking in one
//!   statement, in id order, means two report transactions never wait on
//!   each other in a cycle.
//! - The scope is computed from the edges, which a concurrent
//!   `set_upstreams` may have changed while we waited. So after locking we
//!   read the edges again and recompute the scope. If it grew, the attempt
//!   is undone and the larger set is locked afresh in one ordered statement
//!   (rather than locking the extra rows on top, which would break the
//!   ordering and allow deadlocks). Edge changes take locks too (below), so
//!   a scope that is stable under our locks stays stable until we commit.
//! - Writers of the things a world contains lock first: `set_upstreams`
//!   locks the system's scope plus its new upstreams (every load whose scope
//!   an edge change affects holds a lock on one of those), `delete_system`
//!   the system's scope, objective inserts and updates their system's scope
//!   (a superset of what their follow-up `load_world` needs, so that load
//!   takes no new locks), objective deletes their system, and
//!   `upsert_system` its own row.
//! - `FOR NO KEY UPDATE`, not `FOR UPDATE`: the two are equally exclusive
//!   among lockers, but `FOR UPDATE` also conflicts with the `KEY SHARE`
//!   locks PostgreSQL's foreign-key checks take. With it, a transaction that
//!   merely inserted an event or a report row referencing a system would
//!   block others from locking that system, adding waits (and deadlocks)
//!   that protect nothing.
//!
//! The partial unique index on open events is the backstop: if anything
//! slipped past the locks, the second open event is refused and the caller
//! gets `StoreError::Conflict`.
//!
//! # Deadlocks and retries
//!
//! A transaction that already holds locks (it upserted a system, say, and
//! then loads a world) takes its next locks in a second statement, so cycles
//! with other transactions are possible. PostgreSQL breaks them by failing
//! one lock statement with `40P01`. Every locking step therefore runs
//! *guarded*: in a transaction that has not locked or written anything yet,
//! a failed attempt is undone by rolling back and beginning again on the
//! same connection (free: nothing is lost); otherwise the step runs inside a
//! savepoint and is undone by rolling back to it, which releases the locks
//! the step took. Either way the step is retried, a bounded number of times.
//! The common report transaction (existence check, then `load_world`) thus
//! pays no savepoint round trip.
//!
//! `all_edges` (read for the cycle check before `set_upstreams`) also takes a
//! transaction-level advisory lock, so two replicas editing dependencies
//! cannot each pass the check and together close a cycle.
//!
//! # Reads and writes
//!
//! Whether a guarded step may start the transaction over depends on one
//! mark: has this transaction written or locked anything yet? A write that
//! failed to set it would be silently rolled back by the next guarded step.
//! So the mark is not set by hand: the connection is reached only through
//! two accessors of [`PgTx`] (its fields are private to a small module):
//!
//! - [`PgTx::writer`] for every statement that writes (`INSERT`, `UPDATE`,
//!   `DELETE`, including inside a CTE) or takes a lock (`FOR … UPDATE`,
//!   advisory locks). It marks the transaction before handing out the
//!   connection, so the mark can not be forgotten.
//! - [`PgTx::reader`] for statements that only read. Using it for a write
//!   is the one mistake left possible; when in doubt, use `writer`: an
//!   extra mark costs a savepoint round trip, a missing one loses writes.
//!
//! Helpers that take a `&mut PgConnection` (`fan_out`, `query_streaks`, …)
//! get it from whichever accessor matches what they run. Only the guarded
//! step's undo clears the mark, by rolling the whole transaction back.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use slod_core::engine::{
    systems_changed_by, Changeset, CheckState, HealthReport, SystemState, World,
};
use slod_core::events::NotificationEvent;
use slod_core::model::{CheckId, DowntimeEvent, Objective, ObjectiveName, SystemId};
use slod_core::time::Timestamp;
use slod_store::{SpanSet, StoreError, StoreResult, StoreTx};
use sqlx::Row;

use slod_store::codec::{attach_checks, checks_named_by, CHECK_COLUMNS};

use crate::rows::{
    check_from_row, event_from_row_at, id_strs, objective_from_row, objective_from_row_at, other,
    query_spans, system_state_from_row, upstream_columns, write_error, EVENT_COLUMNS,
    OBJECTIVE_COLUMNS, SYSTEM_COLUMNS,
};

/// How often a guarded step is tried before giving up.
const MAX_STEP_ATTEMPTS: u32 = 10;
/// Key of the advisory lock that serialises dependency edits ("slodgrph").
const GRAPH_LOCK_KEY: i64 = 0x736c_6f64_6772_7068;

pub(crate) use handle::PgTx;
use handle::Savepoint;

/// The transaction and its dirty mark, behind the two accessors (module
/// docs, "Reads and writes"). Private fields: nothing outside this module
/// reaches the connection except through [`PgTx::reader`] and
/// [`PgTx::writer`].
mod handle {
    use slod_store::StoreResult;
    use sqlx::{PgConnection, Postgres, Transaction};

    use crate::rows::other;

    const SAVEPOINT: &str = "slod_guarded_step";

    /// What [`PgTx::savepoint`] does with the guarded step's savepoint.
    pub(crate) enum Savepoint {
        Take,
        Release,
        RollBack,
    }

    pub(crate) struct PgTx {
        tx: Transaction<'static, Postgres>,
        /// Whether this transaction has locked or written anything: a
        /// failed guarded step must then be undone with a savepoint, not by
        /// starting the transaction over. Set by [`PgTx::writer`] before the
        /// statement runs; cleared only by [`PgTx::restart`].
        dirty: bool,
    }

    impl PgTx {
        pub(crate) fn new(tx: Transaction<'static, Postgres>) -> Self {
            Self { tx, dirty: false }
        }

        /// The connection for a statement that only reads: no writes, no
        /// row or advisory locks.
        pub(crate) fn reader(&mut self) -> &mut PgConnection {
            &mut self.tx
        }

        /// The connection for a statement that writes or takes a lock,
        /// marking the transaction dirty first.
        pub(crate) fn writer(&mut self) -> &mut PgConnection {
            self.dirty = true;
            &mut self.tx
        }

        /// Whether anything was written or locked so far.
        pub(crate) fn is_dirty(&self) -> bool {
            self.dirty
        }

        /// Runs the guarded step's savepoint command: `SAVEPOINT`,
        /// `RELEASE SAVEPOINT` or `ROLLBACK TO SAVEPOINT`. Leaves the mark as
        /// it is (a savepoint is only taken once the transaction is dirty).
        pub(crate) async fn savepoint(&mut self, command: Savepoint) -> StoreResult<()> {
            let verb = match command {
                Savepoint::Take => "SAVEPOINT",
                Savepoint::Release => "RELEASE SAVEPOINT",
                Savepoint::RollBack => "ROLLBACK TO SAVEPOINT",
            };
            // A `&str` without arguments goes out as a simple query: no
            // prepared statement.
            let sql = format!("{verb} {SAVEPOINT}");
            sqlx::Executor::execute(&mut *self.tx, sql.as_str()).await.map_err(other)?;
            Ok(())
        }

        /// Rolls the transaction back and begins again on the same
        /// connection (so sqlx's view, one open transaction, stays true):
        /// clean again.
        pub(crate) async fn restart(&mut self) -> StoreResult<()> {
            sqlx::Executor::execute(&mut *self.tx, "ROLLBACK; BEGIN").await.map_err(other)?;
            self.dirty = false;
            Ok(())
        }

        pub(crate) async fn commit(self) -> StoreResult<()> {
            self.tx.commit().await.map_err(other)
        }
    }
}

/// A lockable step of a transaction; see the module docs.
enum Step<'a> {
    /// Lock the scope of `reporting` (as `load_world` defines it) plus
    /// `extra`.
    Lock {
        reporting: BTreeSet<SystemId>,
        extra: BTreeSet<SystemId>,
        /// Also read the scope's objectives with their open events.
        objectives: bool,
        /// A batch of reports, `reporting` being the systems whose status
        /// it changes and `extra` the others: once locked, checked against
        /// the locked states, moving into `reporting` any system whose
        /// status changed since the caller's unlocked read.
        reports: Option<&'a [HealthReport]>,
    },
    /// Create or rename a system, locking its row.
    Upsert { id: &'a SystemId, name: &'a str, now: Timestamp },
    /// Take the dependency-edit advisory lock.
    GraphLock,
}

enum StepOutput {
    Locked(LockedScope),
    Upserted { created: bool },
    GraphLocked,
}

enum Attempt {
    Done(StepOutput),
    /// The scope grew while we waited: lock these too.
    Grew(BTreeSet<SystemId>),
    /// Systems locked as `extra` that the step's reports turn out to
    /// change: lock their scope too.
    Changing(BTreeSet<SystemId>),
}

enum StepError {
    Sql(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for StepError {
    fn from(err: sqlx::Error) -> Self {
        Self::Sql(err)
    }
}

impl From<StoreError> for StepError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// The locked systems of a scope, with the edges touching them.
struct LockedScope {
    /// States of the scope's existing systems (all locked).
    systems: BTreeMap<SystemId, SystemState>,
    /// Edges touching the scope, as (downstream, upstream), ordered.
    edges: Vec<(SystemId, SystemId)>,
    /// When asked for: the scope's objectives, ordered by (system, created
    /// at, id), each with its open event and the end of its latest closed
    /// event (`ObjectiveState::charged_until`).
    objectives: Vec<(Objective, Option<DowntimeEvent>, Option<Timestamp>)>,
    /// States of the `extra` systems outside the scope (locked too).
    extra_states: BTreeMap<SystemId, SystemState>,
}

/// Computes the scope and locks its systems in id order, returning them.
/// `$1`: the reporting systems; `$2`: extra systems to lock as well. The
/// scope goes in as an array (`id = ANY(ARRAY(…))`), so the systems are
/// found through the primary key however the planner guesses the scope's
/// size.
const LOCK_SCOPE_SQL: &str = "
SELECT {SYSTEM_COLUMNS} FROM systems
WHERE id = ANY(ARRAY(
    SELECT unnest($1::text[])
    UNION SELECT unnest($2::text[])
    UNION SELECT downstream_id FROM dependencies WHERE upstream_id = ANY($1)
    UNION SELECT upstream_id FROM dependencies WHERE downstream_id = ANY($1)
    UNION SELECT other.upstream_id FROM dependencies AS down
        JOIN dependencies AS other ON other.downstream_id = down.downstream_id
        WHERE down.upstream_id = ANY($1)
))
ORDER BY id
FOR NO KEY UPDATE OF systems";

/// Everything `write_changes` writes except new events, in one round trip.
/// The parts touch different rows, so their order inside the statement
/// does not matter: events deleted (`$1`) and updated (`$2`–`$6`), system
/// states (`$7`–`$12`, `$22`–`$23`), the report log (`$13`–`$16`, `$24`),
/// outages ended (`$17`–`$19`: the open row is closed, or a closed row
/// inserted when there was none and the outage lasted), outages still open
/// (`$20`–`$21`), checks reported (`$25`–`$29`) and forgotten (`$30`–`$31`).
const WRITE_CHANGES_SQL: &str = "
WITH deleted AS (
    DELETE FROM slo_downtime_events WHERE id = ANY($1::text[])
), updated AS (
    UPDATE slo_downtime_events AS e
    SET end_time = u.end_time, attribution_type = u.attribution_type,
        upstream_system_id = u.upstream_system_id, upstream_system_name = u.upstream_system_name
    FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
        AS u(id, end_time, attribution_type, upstream_system_id, upstream_system_name)
    WHERE e.id = u.id
), changed_systems AS (
    UPDATE systems AS s
    SET healthcheck_status = u.healthcheck_status, incident_status = u.incident_status,
        down_since = u.down_since, down_source = u.down_source, last_report_at = u.last_report_at,
        unnamed_report_at = u.unnamed_report_at, last_transition_at = u.last_transition_at
    FROM UNNEST($7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::bigint[],
                $22::bigint[], $23::bigint[])
        AS u(id, healthcheck_status, incident_status, down_since, down_source, last_report_at,
             unnamed_report_at, last_transition_at)
    WHERE s.id = u.id
), reports AS (
    INSERT INTO health_reports (system_id, source, status, at, check_id)
    SELECT * FROM UNNEST($13::text[], $14::text[], $15::text[], $16::bigint[], $24::text[])
), checks_kept AS (
    INSERT INTO system_checks (system_id, check_id, status, at, down_since)
    SELECT * FROM UNNEST($25::text[], $26::text[], $27::text[], $28::bigint[], $29::bigint[])
    ON CONFLICT (system_id, check_id) DO UPDATE
    SET status = excluded.status, at = excluded.at, down_since = excluded.down_since
), checks_forgotten AS (
    DELETE FROM system_checks AS c
    USING UNNEST($30::text[], $31::text[]) AS f(system_id, check_id)
    WHERE c.system_id = f.system_id AND c.check_id = f.check_id
), ended AS (
    SELECT * FROM UNNEST($17::text[], $18::bigint[], $19::bigint[]) AS u(system_id, began, ended)
), closed AS (
    UPDATE system_outages AS o SET end_time = ended.ended
    FROM ended
    WHERE o.system_id = ended.system_id AND o.start_time = ended.began AND o.end_time IS NULL
    RETURNING o.system_id, o.start_time
)
INSERT INTO system_outages (system_id, start_time, end_time)
SELECT system_id, began, ended FROM ended
WHERE ended > began
  AND NOT EXISTS (
      SELECT 1 FROM closed WHERE closed.system_id = ended.system_id AND closed.start_time = ended.began
  )
UNION ALL
SELECT system_id, began, NULL FROM UNNEST($20::text[], $21::bigint[]) AS o(system_id, began)";

/// `kind` of a row of [`read_scope_sql`] that is an edge, not an objective.
const EDGE_ROW: i32 = 0;
pub(crate) use slod_store::codec::{EVENT_WIDTH, OBJECTIVE_WIDTH};

/// The edges touching the locked systems (`$1`), as `kind, downstream,
/// upstream` rows.
const READ_EDGES_SQL: &str = "
SELECT 0, downstream_id, upstream_id FROM dependencies
WHERE downstream_id = ANY($1) OR upstream_id = ANY($1)";

/// The edges touching the locked systems (`$1`) and those systems'
/// objectives with their open events, in one result: objective rows carry
/// `kind` 1, `OBJECTIVE_COLUMNS`, `EVENT_COLUMNS` and `charged_until`; edge
/// rows carry `kind` 0, the downstream and the upstream, then NULLs.
fn read_scope_sql() -> String {
    let nulls = vec!["NULL"; OBJECTIVE_WIDTH + EVENT_WIDTH + 1 - 2].join(", ");
    // `charged_until`: the end of the latest closed event. Events never
    // overlap, so it is the end of the closed event that started last,
    // which the (objective_id, start_time) index finds without a scan.
    format!(
        "SELECT 1, o.{}, e.{},
             (SELECT c.end_time FROM slo_downtime_events c
              WHERE c.objective_id = o.id AND c.end_time IS NOT NULL
              ORDER BY c.start_time DESC LIMIT 1)
         FROM slo_objectives o
         LEFT JOIN slo_downtime_events e ON e.objective_id = o.id AND e.end_time IS NULL
         WHERE o.system_id = ANY($1)
         UNION ALL
         SELECT 0, downstream_id, upstream_id, {nulls} FROM dependencies
         WHERE downstream_id = ANY($1) OR upstream_id = ANY($1)",
        OBJECTIVE_COLUMNS.replace(", ", ", o."),
        EVENT_COLUMNS.replace(", ", ", e."),
    )
}

/// `reporting`'s scope as `load_world` defines it, computed from `edges`
/// (which must include every edge touching the scope's systems).
pub(crate) fn scope_from_edges(
    reporting: &BTreeSet<SystemId>,
    edges: &[(SystemId, SystemId)],
) -> BTreeSet<SystemId> {
    let mut scope = reporting.clone();
    let mut downstreams = BTreeSet::new();
    for (down, up) in edges {
        if reporting.contains(down) {
            scope.insert(up.clone());
        }
        if reporting.contains(up) {
            scope.insert(down.clone());
            downstreams.insert(down);
        }
    }
    // SPEC §3 R2 step 2 re-attributes a downstream against its other
    // upstreams, so those are in scope too.
    for (down, up) in edges {
        if downstreams.contains(down) {
            scope.insert(up.clone());
        }
    }
    scope
}

fn is_deadlock(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("40P01"))
}

/// A few milliseconds, varying between callers, so retries spread out.
fn retry_pause(attempt: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(u64::from(attempt) * 2 + u64::from(nanos % 7))
}

fn edge_from_row(row: &sqlx::postgres::PgRow) -> Result<(SystemId, SystemId), StoreError> {
    Ok((
        SystemId::from_trusted(row.try_get(0).map_err(other)?),
        SystemId::from_trusted(row.try_get(1).map_err(other)?),
    ))
}

impl PgTx {
    /// Runs `step` with deadlock recovery (module docs, "Deadlocks and
    /// retries").
    async fn guarded(&mut self, mut step: Step<'_>) -> StoreResult<StepOutput> {
        let savepoint = self.is_dirty();
        if savepoint {
            self.savepoint(Savepoint::Take).await?;
        }
        for attempt in 0..MAX_STEP_ATTEMPTS {
            match self.attempt(&step).await {
                Ok(Attempt::Done(output)) => {
                    if savepoint {
                        self.savepoint(Savepoint::Release).await?;
                    }
                    return Ok(output);
                }
                Ok(Attempt::Grew(more)) => {
                    self.undo(savepoint).await?;
                    if let Step::Lock { extra, .. } = &mut step {
                        extra.extend(more);
                    }
                }
                Ok(Attempt::Changing(more)) => {
                    self.undo(savepoint).await?;
                    if let Step::Lock { reporting, extra, .. } = &mut step {
                        for id in more {
                            extra.remove(&id);
                            reporting.insert(id);
                        }
                    }
                }
                Err(StepError::Sql(err)) if is_deadlock(&err) => {
                    tracing::debug!(attempt, "deadlock while locking systems; retrying");
                    self.undo(savepoint).await?;
                    tokio::time::sleep(retry_pause(attempt)).await;
                }
                Err(StepError::Sql(err)) => return Err(write_error(err)),
                Err(StepError::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::Other(anyhow!(
            "could not lock the systems involved after {MAX_STEP_ATTEMPTS} attempts: \
             concurrent changes kept interfering"
        )))
    }

    /// Undoes a failed attempt, releasing the locks it took.
    async fn undo(&mut self, savepoint: bool) -> StoreResult<()> {
        if savepoint {
            self.savepoint(Savepoint::RollBack).await
        } else {
            // Nothing was locked or written before this step, so starting
            // over loses nothing.
            self.restart().await
        }
    }

    async fn attempt(&mut self, step: &Step<'_>) -> Result<Attempt, StepError> {
        match step {
            Step::Lock { reporting, extra, objectives, reports } => {
                self.try_lock_scope(reporting, extra, *objectives, *reports).await
            }
            Step::Upsert { id, name, now } => {
                let created: bool = sqlx::query_scalar(
                    "INSERT INTO systems (id, name, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name
                     RETURNING (xmax = 0)",
                )
                .bind(id.as_str())
                .bind(*name)
                .bind(now.millis())
                .fetch_one(self.writer())
                .await?;
                Ok(Attempt::Done(StepOutput::Upserted { created }))
            }
            Step::GraphLock => {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(GRAPH_LOCK_KEY)
                    .execute(self.writer())
                    .await?;
                Ok(Attempt::Done(StepOutput::GraphLocked))
            }
        }
    }

    /// The checks of `systems` that are not healthy, and those named in
    /// `named` whatever their status (SPEC §12; `codec::checks_named_by`).
    async fn load_checks(
        &mut self,
        systems: &BTreeMap<SystemId, SystemState>,
        named: &[String],
    ) -> Result<Vec<(SystemId, CheckId, CheckState)>, StoreError> {
        if systems.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT {CHECK_COLUMNS} FROM system_checks
             WHERE system_id = ANY($1) AND (status <> 'healthy' OR check_id = ANY($2))"
        ))
        .bind(id_strs(systems.keys()))
        .bind(named)
        .fetch_all(self.reader())
        .await
        .map_err(other)?;
        rows.iter().map(check_from_row).collect()
    }

    async fn try_lock_scope(
        &mut self,
        reporting: &BTreeSet<SystemId>,
        extra: &BTreeSet<SystemId>,
        with_objectives: bool,
        reports: Option<&[HealthReport]>,
    ) -> Result<Attempt, StepError> {
        let sql = LOCK_SCOPE_SQL.replace("{SYSTEM_COLUMNS}", SYSTEM_COLUMNS);
        let rows = sqlx::query(&sql)
            .bind(id_strs(reporting))
            .bind(id_strs(extra))
            .fetch_all(self.writer())
            .await?;
        let mut systems = BTreeMap::new();
        for row in &rows {
            let (state, _) = system_state_from_row(row)?;
            systems.insert(state.id.clone(), state);
        }
        // Check rows are written only under their system's lock, held now.
        let named = reports.map(checks_named_by).unwrap_or_default();
        let checks = self.load_checks(&systems, &named).await?;
        attach_checks(&mut systems, checks);
        if let Some(reports) = reports {
            let changing: BTreeSet<SystemId> = systems_changed_by(reports, &systems)
                .into_iter()
                .filter(|id| systems.contains_key(id) && !reporting.contains(id))
                .collect();
            if !changing.is_empty() {
                return Ok(Attempt::Changing(changing));
            }
        }
        if reporting.is_empty() || systems.is_empty() {
            return Ok(Attempt::Done(StepOutput::Locked(LockedScope {
                systems,
                edges: Vec::new(),
                objectives: Vec::new(),
                extra_states: BTreeMap::new(),
            })));
        }

        // The edges (and objectives) as they are now that we hold the
        // locks: a new statement, so a new snapshot. One round trip for
        // both; objectives of locked systems that turn out not to be in the
        // scope are dropped below.
        let locked: Vec<&str> = systems.keys().map(SystemId::as_str).collect();
        let sql = if with_objectives { read_scope_sql() } else { READ_EDGES_SQL.to_owned() };
        let rows = sqlx::query(&sql).bind(&locked).fetch_all(self.reader()).await?;
        let mut edges = Vec::new();
        let mut objectives = Vec::new();
        for row in &rows {
            let kind: i32 = row.try_get(0).map_err(other)?;
            if kind == EDGE_ROW {
                edges.push((
                    SystemId::from_trusted(row.try_get(1).map_err(other)?),
                    SystemId::from_trusted(row.try_get(2).map_err(other)?),
                ));
            } else {
                let objective = objective_from_row_at(row, 1)?;
                let event_offset = 1 + OBJECTIVE_WIDTH;
                let has_event =
                    row.try_get::<Option<&str>, _>(event_offset).map_err(other)?.is_some();
                let open_event =
                    if has_event { Some(event_from_row_at(row, event_offset)?) } else { None };
                let charged_until: Option<i64> =
                    row.try_get(event_offset + EVENT_WIDTH).map_err(other)?;
                objectives.push((objective, open_event, charged_until.map(Timestamp::from_millis)));
            }
        }
        edges.sort();

        // Every scope member outside the reporting set comes from an edge.
        // One we have not locked means the scope grew; a reporting id that
        // is neither locked nor on any edge simply does not exist.
        let scope = scope_from_edges(reporting, &edges);
        let on_edges: BTreeSet<&SystemId> = edges.iter().flat_map(|(d, u)| [d, u]).collect();
        let missing: BTreeSet<SystemId> = scope
            .iter()
            .filter(|id| !systems.contains_key(*id) && on_edges.contains(id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let mut grown: BTreeSet<SystemId> = systems.into_keys().collect();
            grown.extend(missing);
            return Ok(Attempt::Grew(grown));
        }
        // We may hold more than the scope (an edge went away while we
        // waited, or extra ids); the world gets exactly the scope, and the
        // extra ids' states are kept apart.
        let extra_states: BTreeMap<SystemId, SystemState> = systems
            .iter()
            .filter(|(id, _)| extra.contains(*id) && !scope.contains(*id))
            .map(|(id, state)| (id.clone(), state.clone()))
            .collect();
        systems.retain(|id, _| scope.contains(id));
        let edges =
            edges.into_iter().filter(|(d, u)| scope.contains(d) || scope.contains(u)).collect();
        objectives.retain(|(o, _, _)| scope.contains(&o.system_id));
        objectives.sort_by(|(a, _, _), (b, _, _)| {
            (&a.system_id, a.created_at, &a.id).cmp(&(&b.system_id, b.created_at, &b.id))
        });
        Ok(Attempt::Done(StepOutput::Locked(LockedScope {
            systems,
            edges,
            objectives,
            extra_states,
        })))
    }

    /// Locks the scope of `reporting` plus `extra`, reading the scope's
    /// objectives too when asked.
    async fn lock_scope(
        &mut self,
        reporting: &BTreeSet<SystemId>,
        extra: BTreeSet<SystemId>,
        objectives: bool,
    ) -> StoreResult<LockedScope> {
        match self
            .guarded(Step::Lock { reporting: reporting.clone(), extra, objectives, reports: None })
            .await?
        {
            StepOutput::Locked(locked) => Ok(locked),
            _ => Err(StoreError::Other(anyhow!("internal: a lock step returned something else"))),
        }
    }

    /// The outage rows ended in this batch, one by one: only for a batch
    /// that ends the same outage twice, where the batched statement's
    /// semantics would differ from the SQLite store's.
    async fn close_outages_one_by_one(
        &mut self,
        ended: &[(SystemId, Timestamp, Timestamp)],
    ) -> StoreResult<()> {
        for (system, began, end) in ended {
            let updated = sqlx::query(
                "UPDATE system_outages SET end_time = $1
                 WHERE system_id = $2 AND start_time = $3 AND end_time IS NULL",
            )
            .bind(end.millis())
            .bind(system.as_str())
            .bind(began.millis())
            .execute(self.writer())
            .await
            .map_err(other)?;
            if updated.rows_affected() == 0 && end > began {
                sqlx::query(
                    "INSERT INTO system_outages (system_id, start_time, end_time) VALUES ($1, $2, $3)",
                )
                .bind(system.as_str())
                .bind(began.millis())
                .bind(end.millis())
                .execute(self.writer())
                .await
                .map_err(other)?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl StoreTx for PgTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        (*self).commit().await
    }

    async fn load_world(&mut self, systems: &[SystemId]) -> StoreResult<World> {
        let reporting: BTreeSet<SystemId> = systems.iter().cloned().collect();
        if reporting.is_empty() {
            return Ok(World::default());
        }
        // Lock first, read after (module docs).
        let locked = self.lock_scope(&reporting, BTreeSet::new(), true).await?;
        let mut world = World { systems: locked.systems, ..World::default() };
        for (down, up) in &locked.edges {
            world.add_dependency(down, up);
        }
        for (objective, open_event, charged_until) in locked.objectives {
            world.add_objective_with_history(objective, open_event, charged_until);
        }
        Ok(world)
    }

    async fn load_world_for_reports(&mut self, reports: &[HealthReport]) -> StoreResult<World> {
        let ids: BTreeSet<SystemId> = reports.iter().map(|r| r.system_id.clone()).collect();
        if ids.is_empty() {
            return Ok(World::default());
        }
        // A first guess from an unlocked read; the lock step checks it
        // against the locked states and widens the scope when another
        // transaction changed a status in between.
        let rows = sqlx::query(&format!("SELECT {SYSTEM_COLUMNS} FROM systems WHERE id = ANY($1)"))
            .bind(id_strs(&ids))
            .fetch_all(self.reader())
            .await
            .map_err(other)?;
        let mut states = BTreeMap::new();
        for row in &rows {
            let (state, _) = system_state_from_row(row)?;
            states.insert(state.id.clone(), state);
        }
        let checks = self.load_checks(&states, &checks_named_by(reports)).await?;
        attach_checks(&mut states, checks);
        let changing: BTreeSet<SystemId> = systems_changed_by(reports, &states)
            .into_iter()
            .filter(|id| states.contains_key(id))
            .collect();
        let bare: BTreeSet<SystemId> = ids.difference(&changing).cloned().collect();
        let locked = match self
            .guarded(Step::Lock {
                reporting: changing,
                extra: bare,
                objectives: true,
                reports: Some(reports),
            })
            .await?
        {
            StepOutput::Locked(locked) => locked,
            _ => {
                return Err(StoreError::Other(anyhow!(
                    "internal: a lock step returned something else"
                )))
            }
        };
        let mut world = World { systems: locked.systems, ..World::default() };
        for (down, up) in &locked.edges {
            world.add_dependency(down, up);
        }
        for (objective, open_event, charged_until) in locked.objectives {
            world.add_objective_with_history(objective, open_event, charged_until);
        }
        for (id, state) in locked.extra_states {
            world.systems.entry(id).or_insert(state);
        }
        Ok(world)
    }

    async fn write_changes(&mut self, changes: &Changeset) -> StoreResult<()> {
        // Outages: an outage that began and ended inside this batch has a
        // start and an end entry; count them so only the outage still open
        // at the end of the batch gets an open row (as the SQLite store).
        let mut balance: BTreeMap<(&SystemId, Timestamp), i64> = BTreeMap::new();
        for (system, began, _) in &changes.outages_ended {
            *balance.entry((system, *began)).or_default() -= 1;
        }
        for (system, began) in &changes.outages_started {
            *balance.entry((system, *began)).or_default() += 1;
        }
        let opened: Vec<(&SystemId, Timestamp)> =
            balance.into_iter().filter(|(_, count)| *count > 0).map(|(key, _)| key).collect();
        let distinct_ends: BTreeSet<(&SystemId, Timestamp)> =
            changes.outages_ended.iter().map(|(system, began, _)| (system, *began)).collect();
        let ended: &[(SystemId, Timestamp, Timestamp)] =
            if distinct_ends.len() == changes.outages_ended.len() {
                &changes.outages_ended
            } else {
                self.close_outages_one_by_one(&changes.outages_ended).await?;
                &[]
            };

        // One entry per system (the engine's `Changeset::systems`).
        let systems = &changes.systems;
        let updated = &changes.updated;
        let updated_upstreams: Vec<(Option<&str>, Option<&str>)> =
            updated.iter().map(|e| upstream_columns(&e.attribution)).collect();
        let transitions = &changes.transitions;
        let kept: Vec<(&SystemId, &CheckId, CheckState)> = changes
            .checks
            .iter()
            .filter_map(|c| c.state.map(|state| (&c.system_id, &c.check_id, state)))
            .collect();
        let forgotten: Vec<_> = changes.checks.iter().filter(|c| c.state.is_none()).collect();
        sqlx::query(WRITE_CHANGES_SQL)
            .bind(&changes.deleted)
            .bind(updated.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
            .bind(updated.iter().map(|e| e.end_time.map(Timestamp::millis)).collect::<Vec<_>>())
            .bind(updated.iter().map(|e| e.attribution.type_str()).collect::<Vec<_>>())
            .bind(updated_upstreams.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(updated_upstreams.iter().map(|(_, name)| *name).collect::<Vec<_>>())
            .bind(systems.iter().map(|s| s.id.as_str()).collect::<Vec<_>>())
            .bind(systems.iter().map(|s| s.healthcheck.as_str()).collect::<Vec<_>>())
            .bind(systems.iter().map(|s| s.incident.as_str()).collect::<Vec<_>>())
            .bind(systems.iter().map(|s| s.down_since.map(Timestamp::millis)).collect::<Vec<_>>())
            .bind(systems.iter().map(|s| s.down_source.map(|src| src.as_str())).collect::<Vec<_>>())
            .bind(
                systems.iter().map(|s| s.last_report_at.map(Timestamp::millis)).collect::<Vec<_>>(),
            )
            .bind(transitions.iter().map(|t| t.system_id.as_str()).collect::<Vec<_>>())
            .bind(transitions.iter().map(|t| t.source.as_str()).collect::<Vec<_>>())
            .bind(transitions.iter().map(|t| t.status.as_str()).collect::<Vec<_>>())
            .bind(transitions.iter().map(|t| t.at.millis()).collect::<Vec<_>>())
            .bind(ended.iter().map(|(s, _, _)| s.as_str()).collect::<Vec<_>>())
            .bind(ended.iter().map(|(_, b, _)| b.millis()).collect::<Vec<_>>())
            .bind(ended.iter().map(|(_, _, e)| e.millis()).collect::<Vec<_>>())
            .bind(opened.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>())
            .bind(opened.iter().map(|(_, b)| b.millis()).collect::<Vec<_>>())
            .bind(
                systems
                    .iter()
                    .map(|s| s.unnamed_report_at.map(Timestamp::millis))
                    .collect::<Vec<_>>(),
            )
            .bind(
                systems
                    .iter()
                    .map(|s| s.last_transition_at.map(Timestamp::millis))
                    .collect::<Vec<_>>(),
            )
            .bind(transitions.iter().map(|t| t.check_id.as_str()).collect::<Vec<_>>())
            .bind(kept.iter().map(|(s, _, _)| s.as_str()).collect::<Vec<_>>())
            .bind(kept.iter().map(|(_, c, _)| c.as_str()).collect::<Vec<_>>())
            .bind(kept.iter().map(|(_, _, state)| state.status.as_str()).collect::<Vec<_>>())
            .bind(kept.iter().map(|(_, _, state)| state.at.millis()).collect::<Vec<_>>())
            .bind(
                kept.iter()
                    .map(|(_, _, state)| state.down_since.map(Timestamp::millis))
                    .collect::<Vec<_>>(),
            )
            .bind(forgotten.iter().map(|c| c.system_id.as_str()).collect::<Vec<_>>())
            .bind(forgotten.iter().map(|c| c.check_id.as_str()).collect::<Vec<_>>())
            .execute(self.writer())
            .await
            .map_err(write_error)?;

        // Inserted after the statement above has closed and deleted, so
        // the one-open-event index never sees an old and a new open event
        // together. Closed pieces first, then the open ones.
        if changes.inserted.is_empty() {
            return Ok(());
        }
        let mut inserted: Vec<&DowntimeEvent> = changes.inserted.iter().collect();
        inserted.sort_by_key(|e| e.end_time.is_none());
        let upstreams: Vec<(Option<&str>, Option<&str>)> =
            inserted.iter().map(|e| upstream_columns(&e.attribution)).collect();
        sqlx::query(&format!(
            "INSERT INTO slo_downtime_events ({EVENT_COLUMNS})
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                                  $6::text[], $7::text[], $8::text[], $9::text[])"
        ))
        .bind(inserted.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
        .bind(inserted.iter().map(|e| e.objective_id.as_str()).collect::<Vec<_>>())
        .bind(inserted.iter().map(|e| e.system_id.as_str()).collect::<Vec<_>>())
        .bind(inserted.iter().map(|e| e.start_time.millis()).collect::<Vec<_>>())
        .bind(inserted.iter().map(|e| e.end_time.map(Timestamp::millis)).collect::<Vec<_>>())
        .bind(inserted.iter().map(|e| e.attribution.type_str()).collect::<Vec<_>>())
        .bind(upstreams.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(upstreams.iter().map(|(_, name)| *name).collect::<Vec<_>>())
        .bind(inserted.iter().map(|e| e.source.as_str()).collect::<Vec<_>>())
        .execute(self.writer())
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn event_spans(
        &mut self,
        objective_ids: &[String],
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<SpanSet> {
        query_spans(self.reader(), objective_ids, since, until).await
    }

    async fn enqueue_events(&mut self, events: &[NotificationEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // Unnumbered: `Store::events_after` numbers rows once they are
        // committed (migrations/0002_outbox.sql says why).
        let data: Vec<String> = events.iter().map(|e| e.data.to_string()).collect();
        sqlx::query(
            "INSERT INTO outbox_events (id, event_type, occurred_at, data)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[])",
        )
        .bind(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.occurred_at.millis()).collect::<Vec<_>>())
        .bind(&data)
        .execute(self.writer())
        .await
        .map_err(write_error)?;
        // One delivery per subscribed channel, in this same transaction.
        crate::notify::fan_out(self.writer(), events).await
    }

    async fn upsert_system(
        &mut self,
        id: &SystemId,
        name: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        match self.guarded(Step::Upsert { id, name, now }).await? {
            StepOutput::Upserted { created } => Ok(created),
            _ => {
                Err(StoreError::Other(anyhow!("internal: an upsert step returned something else")))
            }
        }
    }

    async fn delete_system(&mut self, id: &SystemId) -> StoreResult<bool> {
        // Everyone who may read or change this system's objectives or edges
        // locks one of these rows.
        self.lock_scope(&BTreeSet::from([id.clone()]), BTreeSet::new(), false).await?;
        // Foreign keys cascade to objectives (and their events, snapshots,
        // streaks), achievements, edges, reports and outages.
        let deleted = sqlx::query("DELETE FROM systems WHERE id = $1")
            .bind(id.as_str())
            .execute(self.writer())
            .await
            .map_err(other)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn existing_systems(&mut self, ids: &[SystemId]) -> StoreResult<BTreeSet<SystemId>> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let rows = sqlx::query("SELECT id FROM systems WHERE id = ANY($1)")
            .bind(id_strs(ids))
            .fetch_all(self.reader())
            .await
            .map_err(other)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map(SystemId::from_trusted).map_err(other))
            .collect()
    }

    async fn all_edges(&mut self) -> StoreResult<Vec<(SystemId, SystemId)>> {
        // Dependency edits serialise from here to commit, so the cycle check
        // the caller runs on these edges stays true (module docs). A
        // separate statement, so its snapshot is taken after the lock.
        self.guarded(Step::GraphLock).await?;
        let rows = sqlx::query("SELECT downstream_id, upstream_id FROM dependencies ORDER BY 1, 2")
            .fetch_all(self.reader())
            .await
            .map_err(other)?;
        rows.iter().map(edge_from_row).collect()
    }

    async fn set_upstreams(&mut self, id: &SystemId, upstreams: &[SystemId]) -> StoreResult<()> {
        // The system's scope (old upstreams, downstreams and their
        // upstreams) plus the new upstreams: every world this edge change
        // affects holds one of these, and the follow-up `load_world` of
        // `id` needs nothing more.
        let unique: BTreeSet<SystemId> = upstreams.iter().cloned().collect();
        self.lock_scope(&BTreeSet::from([id.clone()]), unique.clone(), false).await?;
        sqlx::query("DELETE FROM dependencies WHERE downstream_id = $1")
            .bind(id.as_str())
            .execute(self.writer())
            .await
            .map_err(other)?;
        if !unique.is_empty() {
            sqlx::query(
                "INSERT INTO dependencies (downstream_id, upstream_id)
                 SELECT $1, upstream_id FROM UNNEST($2::text[]) AS u(upstream_id)",
            )
            .bind(id.as_str())
            .bind(id_strs(&unique))
            .execute(self.writer())
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
        let row = sqlx::query(&format!(
            "SELECT {CHECK_COLUMNS} FROM system_checks WHERE system_id = $1 AND check_id = $2"
        ))
        .bind(system.as_str())
        .bind(check.as_str())
        .fetch_optional(self.reader())
        .await
        .map_err(other)?;
        Ok(row.map(|r| check_from_row(&r)).transpose()?.map(|(_, _, state)| state))
    }

    async fn get_objective(&mut self, id: &str) -> StoreResult<Option<Objective>> {
        let sql = format!("SELECT {OBJECTIVE_COLUMNS} FROM slo_objectives WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.reader()).await.map_err(other)?;
        row.map(|r| objective_from_row(&r)).transpose()
    }

    async fn insert_objective(&mut self, o: &Objective) -> StoreResult<()> {
        let (window_days, calendar_unit, calendar_time_zone) =
            slod_store::codec::window_columns(&o.window);
        self.lock_scope(&BTreeSet::from([o.system_id.clone()]), BTreeSet::new(), false).await?;
        sqlx::query(&format!(
            "INSERT INTO slo_objectives ({OBJECTIVE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(o.id.as_str())
        .bind(o.system_id.as_str())
        .bind(&o.health_check_configuration_id)
        .bind(o.target.get())
        .bind(window_days)
        .bind(o.dependency_exclusion.as_str())
        .bind(id_strs(&o.excluded_dependency_ids))
        .bind(o.exclude_maintenance_windows)
        .bind(o.burn_rate_thresholds.warning_percent)
        .bind(o.burn_rate_thresholds.critical_percent)
        .bind(o.burn_rate_thresholds.fast_burn_multiplier)
        .bind(o.created_at.millis())
        .bind(o.updated_at.millis())
        .bind(slod_store::codec::encode_burn_rate_alerts(&o.burn_rate_alerts)?)
        .bind(o.name.as_ref().map(ObjectiveName::as_str))
        .bind(calendar_unit)
        .bind(calendar_time_zone)
        .execute(self.writer())
        .await
        .map_err(write_error)?;
        sqlx::query("INSERT INTO slo_streaks (objective_id) VALUES ($1)")
            .bind(o.id.as_str())
            .execute(self.writer())
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn update_objective(&mut self, o: &Objective) -> StoreResult<()> {
        let (window_days, calendar_unit, calendar_time_zone) =
            slod_store::codec::window_columns(&o.window);
        self.lock_scope(&BTreeSet::from([o.system_id.clone()]), BTreeSet::new(), false).await?;
        let updated = sqlx::query(
            "UPDATE slo_objectives SET health_check_configuration_id = $1, target = $2, window_days = $3,
             dependency_exclusion = $4, excluded_dependency_ids = $5, exclude_maintenance_windows = $6,
             warning_percent = $7, critical_percent = $8, fast_burn_multiplier = $9, updated_at = $10,
             burn_rate_alerts = $11, name = $12, calendar_unit = $13, calendar_time_zone = $14
             WHERE id = $15",
        )
        .bind(&o.health_check_configuration_id)
        .bind(o.target.get())
        .bind(window_days)
        .bind(o.dependency_exclusion.as_str())
        .bind(id_strs(&o.excluded_dependency_ids))
        .bind(o.exclude_maintenance_windows)
        .bind(o.burn_rate_thresholds.warning_percent)
        .bind(o.burn_rate_thresholds.critical_percent)
        .bind(o.burn_rate_thresholds.fast_burn_multiplier)
        .bind(o.updated_at.millis())
        .bind(slod_store::codec::encode_burn_rate_alerts(&o.burn_rate_alerts)?)
        .bind(o.name.as_ref().map(ObjectiveName::as_str))
        .bind(calendar_unit)
        .bind(calendar_time_zone)
        .bind(o.id.as_str())
        .execute(self.writer())
        .await
        .map_err(write_error)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_objective(&mut self, id: &str) -> StoreResult<bool> {
        let system: Option<String> =
            sqlx::query_scalar("SELECT system_id FROM slo_objectives WHERE id = $1")
                .bind(id)
                .fetch_optional(self.reader())
                .await
                .map_err(other)?;
        let Some(system) = system else {
            return Ok(false);
        };
        // Whoever reads or changes this objective's events holds its
        // system's lock.
        self.lock_scope(&BTreeSet::new(), BTreeSet::from([SystemId::from_trusted(system)]), false)
            .await?;
        // Events, snapshots and the streak go with it (foreign keys).
        let deleted = sqlx::query("DELETE FROM slo_objectives WHERE id = $1")
            .bind(id)
            .execute(self.writer())
            .await
            .map_err(other)?;
        Ok(deleted.rows_affected() > 0)
    }
}
