//! `SqliteStore`: slod's embedded default store.
//!
//! One database file in WAL mode with `synchronous = FULL`, so a report that
//! was acknowledged survives `kill -9` and power loss alike. Writes go through
//! a pool of exactly one connection: SQLite allows one writer at a time, and
//! queueing writers in-process (instead of letting them race for the file
//! lock) is what serialises reports for the same system. Reads use a separate
//! pool and never wait for the writer, thanks to WAL. The delivery worker's
//! bookkeeping commits without the fsync ([`Store::begin_bookkeeping`]), and
//! a task of the store's, not the committing writer, checkpoints the WAL
//! (`checkpoint`).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let store = slod_store_sqlite::SqliteStore::connect("sqlite://slod.db").await?;
//! # Ok(()) }
//! ```

mod audit;
mod auth;
mod checkpoint;
mod corrections;
mod jobs;
mod maintenance;
mod notify;
pub mod ops;
mod rows;
mod tx;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use slod_core::events::NotificationEvent;
use slod_core::model::{DowntimeEvent, Objective, SystemId};
use slod_core::time::Timestamp;
use slod_store::counted::{self, Counted};
use slod_store::jobs::StreakRow;
use slod_store::span_cache::SpanCache;
use slod_store::{DependenciesRow, SpanSet, Store, StoreError, StoreResult, StoreTx, SystemRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder, Row, Sqlite, SqlitePool};

use slod_store::codec::{self, EVENT_COLUMNS, OBJECTIVE_COLUMNS, OUTBOX_COLUMNS, SYSTEM_COLUMNS};

use crate::checkpoint::Checkpointer;
use crate::rows::{
    change_counters, event_from_row, objective_from_row, other, outbox_event, push_in_list,
    system_row_from_row, SpanReads,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Bytes the WAL file is cut back to when the writer rewinds it.
const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Closed downtime already read (`slod_store::span_cache`).
    spans: Arc<SpanCache>,
    /// Every objective, by system, as last read (`slod_store::counted`).
    objectives: Arc<Counted<u64, Objective>>,
    /// Every streak row as last read, under the objectives' and the
    /// streaks' counters (the rows carry the objective's system).
    streaks: Arc<Counted<(u64, u64), StreakRow>>,
    /// How [`Store::ping`] opens a fresh read-only connection.
    probe: SqliteConnectOptions,
    /// Checkpoints the WAL in the writer's stead (`checkpoint`).
    checkpointer: Arc<Checkpointer>,
    /// Whether the writer may be at `synchronous = NORMAL`, left by a
    /// bookkeeping transaction ([`SqliteStore::begin_synced`]).
    synchronous_relaxed: Arc<tokio::sync::Mutex<bool>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at a `sqlite://PATH` URL and
    /// runs the migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        // Before anything writes (even the switch to WAL): SPEC §18.
        ops::schema_status(url).await?.refuse_newer()?;
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("`{url}` is not a valid sqlite:// URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            // Checkpoints are the checkpointer's (`checkpoint`), not the
            // committing report's; a WAL a burst made larger than the limit
            // is cut back to it once the writer rewinds it.
            .connect_with(
                options
                    .clone()
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string()),
            )
            .await
            .with_context(|| format!("opening SQLite database {url}"))?;
        MIGRATOR.run(&writer).await.context("running SQLite migrations")?;
        let checkpointer = Checkpointer::start(&options, writer.clone())
            .await
            .with_context(|| format!("opening SQLite database {url} for checkpoints"))?;
        let probe = options.read_only(true);
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(probe.clone())
            .await
            .with_context(|| format!("opening SQLite database {url} for reading"))?;
        Ok(Self {
            writer,
            reader,
            spans: Arc::new(SpanCache::new()),
            objectives: Arc::default(),
            streaks: Arc::default(),
            probe,
            checkpointer: Arc::new(checkpointer),
            synchronous_relaxed: Arc::default(),
        })
    }

    /// Starts a write transaction on the writer; a `bookkeeping` one
    /// commits at `synchronous = NORMAL`, any other at `FULL`.
    ///
    /// SQLite refuses to change `synchronous` inside a transaction, and the
    /// setting stays with the connection. So `synchronous_relaxed` says
    /// whether the writer may still be at `NORMAL`, and a transaction
    /// changes the setting just before its `BEGIN` (in the same call to the
    /// database thread) only when it needs the other one: an ordinary
    /// transaction after an ordinary one, a report's nearly always, begins
    /// as it did before there were two. The lock is held until `BEGIN` has
    /// run on the one connection, so what it says is that connection's
    /// setting. In WAL mode `NORMAL` skips the commit's fsync; the database
    /// stays consistent, and the next `FULL` commit's fsync of the WAL makes
    /// the earlier frames durable too.
    async fn begin_synced(&self, bookkeeping: bool) -> StoreResult<tx::SqliteTx> {
        let mut relaxed = self.synchronous_relaxed.lock().await;
        let begun = match (bookkeeping, *relaxed) {
            (true, false) => self.writer.begin_with("PRAGMA synchronous = NORMAL; BEGIN").await,
            (false, true) => self.writer.begin_with("PRAGMA synchronous = FULL; BEGIN").await,
            _ => self.writer.begin().await,
        };
        // After a failure the setting is unknown: the next ordinary
        // transaction sets `FULL` again.
        *relaxed = bookkeeping || begun.is_err();
        Ok(tx::SqliteTx { tx: begun.map_err(other)? })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        Ok(Box::new(self.begin_synced(false).await?))
    }

    async fn begin_bookkeeping(&self) -> StoreResult<Box<dyn StoreTx>> {
        Ok(Box::new(self.begin_synced(true).await?))
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn has_one_writer(&self) -> bool {
        true
    }

    async fn get_system(&self, id: &SystemId) -> StoreResult<Option<SystemRow>> {
        let sql = format!("SELECT {SYSTEM_COLUMNS} FROM systems WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        row.map(|r| system_row_from_row(&r)).transpose()
    }

    async fn list_systems(&self) -> StoreResult<Vec<SystemRow>> {
        let sql = format!("SELECT {SYSTEM_COLUMNS} FROM systems ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await.map_err(other)?;
        rows.iter().map(system_row_from_row).collect()
    }

    async fn dependencies(&self, id: &SystemId) -> StoreResult<DependenciesRow> {
        let rows = sqlx::query(
            "SELECT 'up', s.id, s.name, s.created_at FROM dependencies d JOIN systems s ON s.id = d.upstream_id WHERE d.downstream_id = ?1
             UNION ALL
             SELECT 'down', s.id, s.name, s.created_at FROM dependencies d JOIN systems s ON s.id = d.downstream_id WHERE d.upstream_id = ?1
             ORDER BY 2",
        )
        .bind(id.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        let mut deps = DependenciesRow::default();
        for row in rows {
            let direction: String = row.try_get(0).map_err(other)?;
            let system = codec::system(
                row.try_get(1).map_err(other)?,
                row.try_get(2).map_err(other)?,
                row.try_get(3).map_err(other)?,
            );
            if direction == "up" {
                deps.upstream.push(system);
            } else {
                deps.downstream.push(system);
            }
        }
        Ok(deps)
    }

    async fn list_checks(
        &self,
        id: &SystemId,
    ) -> StoreResult<Vec<(slod_core::model::CheckId, slod_core::engine::CheckState)>> {
        let sql = format!(
            "SELECT {} FROM system_checks WHERE system_id = ? ORDER BY check_id",
            codec::CHECK_COLUMNS
        );
        let rows =
            sqlx::query(&sql).bind(id.as_str()).fetch_all(&self.reader).await.map_err(other)?;
        rows.iter()
            .map(|row| rows::check_from_row(row).map(|(_, check, state)| (check, state)))
            .collect()
    }

    async fn get_objective(&self, id: &str) -> StoreResult<Option<Objective>> {
        let sql = format!("SELECT {OBJECTIVE_COLUMNS} FROM slo_objectives WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await.map_err(other)?;
        row.map(|r| objective_from_row(&r)).transpose()
    }

    /// From the objectives kept in memory while the database's counter of
    /// objective changes stays put (`slod_store::counted`).
    async fn list_objectives(&self, systems: Option<&[SystemId]>) -> StoreResult<Vec<Objective>> {
        if systems.is_some_and(<[SystemId]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut conn = self.reader.acquire().await.map_err(other)?;
        let counter = change_counters(&mut conn).await?.objectives;
        let sql = format!(
            "SELECT {OBJECTIVE_COLUMNS} FROM slo_objectives ORDER BY system_id, created_at, id"
        );
        let load = async {
            let rows = sqlx::query(&sql).fetch_all(&mut *conn).await.map_err(other)?;
            rows.iter().map(objective_from_row).collect()
        };
        let all = self.objectives.get_or_load(counter, load).await?;
        Ok(counted::objectives_of(&all, systems))
    }

    async fn list_events(&self, objective_id: &str, limit: u32) -> StoreResult<Vec<DowntimeEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM slo_downtime_events WHERE objective_id = ?
             ORDER BY start_time DESC, end_time IS NULL DESC, end_time DESC, id DESC LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(objective_id)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn event_spans(
        &self,
        objective_ids: &[String],
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<SpanSet> {
        let mut conn = self.reader.acquire().await.map_err(other)?;
        let mut reads = SpanReads { conn: &mut conn, pool: &self.reader };
        self.spans.read_through(&mut reads, objective_ids, since, until).await
    }

    async fn events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, NotificationEvent)>> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox_events WHERE seq > ? ORDER BY seq LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        rows.iter().map(outbox_event).collect()
    }

    async fn systems_down_at(
        &self,
        systems: &[SystemId],
        at: Timestamp,
    ) -> StoreResult<BTreeSet<SystemId>> {
        if systems.is_empty() {
            return Ok(BTreeSet::new());
        }
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT DISTINCT system_id FROM system_outages WHERE start_time <= ",
        );
        qb.push_bind(at.millis());
        qb.push(" AND (end_time IS NULL OR end_time > ");
        qb.push_bind(at.millis());
        qb.push(") AND system_id IN ");
        push_in_list(&mut qb, systems.iter().map(SystemId::as_str));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(other)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map(SystemId::from_trusted).map_err(other))
            .collect()
    }

    async fn ping(&self) -> StoreResult<()> {
        const QUERY: &str = "SELECT count(*) FROM _sqlx_migrations";
        sqlx::query(QUERY).fetch_one(&self.reader).await.map_err(other)?;
        // The pooled connections hold the file open, so they keep answering
        // after it is deleted or replaced; a fresh one finds out.
        let mut fresh = self.probe.connect().await.map_err(other)?;
        let answered = sqlx::query(QUERY).fetch_one(&mut fresh).await.map_err(other);
        let _ = sqlx::Connection::close(fresh).await;
        answered.map(|_| ())
    }

    /// Stops the checkpointer, then closes the readers and last the
    /// writer: the last connection to close copies the WAL into the
    /// database file and deletes it.
    async fn close(&self) {
        self.checkpointer.stop().await;
        self.reader.close().await;
        self.writer.close().await;
    }
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

/// A store on a new file `name` in a temporary directory, kept as long as
/// the directory is.
#[cfg(test)]
pub(crate) async fn temp_store(name: &str) -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join(name).display());
    (SqliteStore::connect(&url).await.expect("connect"), dir)
}

#[cfg(test)]
mod tests {
    use slod_store::Store;

    use super::temp_store;

    async fn fresh() -> (Box<dyn Store>, tempfile::TempDir) {
        let (store, dir) = temp_store("conformance.db").await;
        (Box::new(store), dir)
    }

    async fn cleanup(_store: Box<dyn Store>, _dir: tempfile::TempDir) {}

    slod_store::conformance_suite!(fresh, cleanup);

    /// What one process writes, another one's next read answers (SQLite:
    /// the change counters of migration 0012).
    #[tokio::test]
    async fn another_stores_writes_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("two.db").display());
        let reader = super::SqliteStore::connect(&url).await.expect("connect");
        let writer = super::SqliteStore::connect(&url).await.expect("connect");
        slod_store::conformance::another_stores_writes_are_read(&reader, &writer).await;
    }

    /// A bookkeeping transaction commits without the fsync, and the
    /// ordinary transaction after it on the same (only) writer connection
    /// is back to `FULL`.
    #[tokio::test]
    async fn only_bookkeeping_commits_skip_the_fsync() {
        let (store, _dir) = temp_store("sync.db").await;
        for (bookkeeping, expected) in [(false, 2), (true, 1), (false, 2), (true, 1), (true, 1)] {
            let mut tx = store.begin_synced(bookkeeping).await.expect("begin");
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut *tx.tx)
                .await
                .expect("pragma");
            assert_eq!(synchronous, expected, "bookkeeping: {bookkeeping}");
            tx.tx.commit().await.expect("commit");
        }
        let ordinary = store.begin().await.expect("begin");
        ordinary.commit().await.expect("commit");
    }
}
