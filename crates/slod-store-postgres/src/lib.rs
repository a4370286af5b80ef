//! `PgStore`: slod's store for several replicas sharing one PostgreSQL
//! database (SPEC §10).
//!
//! Same tables and the same behaviour as the SQLite backend, with one
//! difference that matters: many processes write at once. Reads run on the
//! pool directly; each write transaction ([`Store::begin`]) serialises with
//! every other one that touches the same systems by locking those systems'
//! rows, in id order, before it reads their state (see `tx.rs` for the
//! protocol). The partial unique index "one open event per objective" is the
//! backstop: a violation surfaces as [`StoreError::Conflict`].
//!
//! Start-up waits for the server: a database still booting next to slod
//! (containers, rolling restarts) is retried with backoff for up to
//! [`CONNECT_RETRY_LIMIT`], while a wrong URL, password or database name
//! fails at once. Migrations run under sqlx's advisory lock, so replicas
//! starting together migrate once.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let store = slod_store_postgres::PgStore::connect("postgres://slod@db:5432/slod", 16).await?;
//! # Ok(()) }
//! ```

mod audit;
mod auth;
mod corrections;
mod jobs;
mod maintenance;
mod notify;
pub mod ops;
mod rows;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tx;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use slod_core::events::NotificationEvent;
use slod_core::model::{DowntimeEvent, Objective, SystemId};
use slod_core::time::Timestamp;
use slod_store::codec::{self, OUTBOX_COLUMNS};
use slod_store::counted::{self, Counted};
use slod_store::jobs::StreakRow;
use slod_store::schema::SchemaStatus;
use slod_store::span_cache::SpanCache;
use slod_store::{DependenciesRow, SpanSet, Store, StoreResult, StoreTx, SystemRow};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Row};

use crate::rows::{
    change_counters, event_from_row, id_strs, objective_from_row, other, outbox_event,
    system_row_from_row, SpanReads, EVENT_COLUMNS, OBJECTIVE_COLUMNS, SYSTEM_COLUMNS,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Key of the advisory lock that serialises outbox numbering ("slodoutb").
const OUTBOX_LOCK_KEY: i64 = 0x736c_6f64_6f75_7462;

/// How long [`PgStore::connect`] keeps retrying an unreachable server.
pub const CONNECT_RETRY_LIMIT: Duration = Duration::from_secs(60);
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// One connection attempt; a black-holed host otherwise hangs for minutes.
const CONNECT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// How [`Store::begin_bookkeeping`] begins: `SET LOCAL` lasts until the
/// transaction ends, and goes with the `BEGIN` in one simple query, so it
/// costs no round trip.
pub(crate) const BOOKKEEPING_BEGIN: &str = "BEGIN; SET LOCAL synchronous_commit = off";

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Closed downtime already read (`slod_store::span_cache`).
    spans: Arc<SpanCache>,
    /// Every objective, by system, as last read (`slod_store::counted`).
    objectives: Arc<Counted<i64, Objective>>,
    /// Every streak row as last read, under the objectives' and the
    /// streaks' counters (the rows carry the objective's system).
    streaks: Arc<Counted<(i64, i64), StreakRow>>,
}

impl PgStore {
    /// Connects to the `postgres://` (or `postgresql://`) URL with a pool of
    /// `pool_size` connections, waiting up to [`CONNECT_RETRY_LIMIT`] for the
    /// server to come up, and runs the migrations.
    pub async fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        Self::connect_with_retry_limit(url, pool_size, CONNECT_RETRY_LIMIT).await
    }

    /// [`PgStore::connect`] with its own limit on waiting for the server.
    pub async fn connect_with_retry_limit(
        url: &str,
        pool_size: u32,
        retry_limit: Duration,
    ) -> anyhow::Result<Self> {
        let options = connect_options(url)?;
        let server = server_name(&options);
        wait_until_reachable(&options, &server, retry_limit).await?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(Duration::from_secs(30))
            // No ping before every hand-out: it is one more round trip per
            // transaction on the ingest path. A connection the server has
            // dropped fails its next statement instead, and the pool
            // discards it.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {server}"))?;
        // A database a newer release migrated is refused before the
        // migrator runs (SPEC §18); sqlx would refuse it too, without
        // naming the versions.
        {
            let mut conn = pool.acquire().await.context("connecting to PostgreSQL")?;
            let applied = ops::applied_versions(&mut conn).await?;
            SchemaStatus { applied, known: ops::known_migrations() }.refuse_newer()?;
        }
        // sqlx's migrator holds a PostgreSQL advisory lock while it runs, so
        // replicas starting at once apply each migration exactly once.
        MIGRATOR
            .run(&pool)
            .await
            .with_context(|| format!("running the PostgreSQL migrations at {server}"))?;
        Ok(Self {
            pool,
            spans: Arc::new(SpanCache::new()),
            objectives: Arc::default(),
            streaks: Arc::default(),
        })
    }

    /// Numbers the committed outbox rows that have no `seq` yet, in
    /// insertion order, after the highest number given so far (see
    /// migrations/0002_outbox.sql). Numbering runs under an advisory lock
    /// held to commit, so numbers become visible in the order they were
    /// given, and a row is numbered only once its transaction committed.
    async fn number_outbox_events(&self) -> StoreResult<()> {
        let pending: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM outbox_events WHERE seq IS NULL)")
                .fetch_one(&self.pool)
                .await
                .map_err(other)?;
        if !pending {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(other)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(OUTBOX_LOCK_KEY)
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        // A new statement, so it sees what the previous holder numbered.
        sqlx::query(
            "UPDATE outbox_events AS o SET seq = n.seq
             FROM (SELECT pos,
                          (SELECT COALESCE(MAX(seq), 0) FROM outbox_events)
                              + row_number() OVER (ORDER BY pos) AS seq
                   FROM outbox_events WHERE seq IS NULL) AS n
             WHERE o.pos = n.pos",
        )
        .execute(&mut *tx)
        .await
        .map_err(other)?;
        tx.commit().await.map_err(other)
    }
}

/// Parses `url`, refusing anything but a PostgreSQL URL.
fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
        bail!(
            "`{}` is not a PostgreSQL URL: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
            redact(url)
        );
    }
    let options = PgConnectOptions::from_str(url)
        .map_err(|err| anyhow!("`{}` is not a valid PostgreSQL URL: {err}", redact(url)))?;
    Ok(options.application_name("slod"))
}

/// `host:port` of the server, for messages (never the password).
fn server_name(options: &PgConnectOptions) -> String {
    format!("{}:{}", options.get_host(), options.get_port())
}

/// `url` with any password replaced, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

/// Why a connection attempt failed: worth retrying, or not.
enum ConnectFailure {
    /// The server is not there yet (refused, timed out, starting up).
    Unreachable(String),
    /// Retrying will not help: the message says what to fix.
    Fatal(anyhow::Error),
}

fn classify(err: sqlx::Error, options: &PgConnectOptions, server: &str) -> ConnectFailure {
    let user = options.get_username();
    let database = options.get_database().unwrap_or(user);
    match err {
        sqlx::Error::Io(io) => ConnectFailure::Unreachable(io.to_string()),
        sqlx::Error::PoolTimedOut => ConnectFailure::Unreachable("timed out".to_owned()),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let message = db.message().to_owned();
            match code.as_str() {
                // cannot_connect_now (starting up or shutting down),
                // too_many_connections, and the connection_exception class.
                "57P03" | "53300" | "08000" | "08001" | "08004" | "08006" => {
                    ConnectFailure::Unreachable(message)
                }
                "28P01" => ConnectFailure::Fatal(anyhow!(
                    "PostgreSQL at {server} rejected the password for user `{user}` ({message})"
                )),
                "28000" => ConnectFailure::Fatal(anyhow!(
                    "PostgreSQL at {server} does not let user `{user}` in ({message})"
                )),
                "3D000" => ConnectFailure::Fatal(anyhow!(
                    "database `{database}` does not exist on PostgreSQL at {server} ({message})"
                )),
                _ => ConnectFailure::Fatal(anyhow!(
                    "PostgreSQL at {server} refused the connection: {message} (SQLSTATE {code})"
                )),
            }
        }
        sqlx::Error::Configuration(err) => {
            ConnectFailure::Fatal(anyhow!("invalid PostgreSQL settings: {err}"))
        }
        sqlx::Error::Tls(err) => {
            ConnectFailure::Fatal(anyhow!("TLS with PostgreSQL at {server} failed: {err}"))
        }
        other => ConnectFailure::Fatal(
            anyhow::Error::new(other).context(format!("connecting to PostgreSQL at {server}")),
        ),
    }
}

/// Opens (and closes) one connection, retrying while the server is
/// unreachable: 0.5 s, doubling to 5 s, until `limit` has passed.
async fn wait_until_reachable(
    options: &PgConnectOptions,
    server: &str,
    limit: Duration,
) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let mut delay = FIRST_RETRY_DELAY;
    loop {
        let reason = match tokio::time::timeout(CONNECT_ATTEMPT_TIMEOUT, options.connect()).await {
            Ok(Ok(conn)) => {
                // Only a probe: the pool opens its own connections.
                let _ = sqlx::Connection::close(conn).await;
                return Ok(());
            }
            Ok(Err(err)) => match classify(err, options, server) {
                ConnectFailure::Fatal(err) => return Err(err),
                ConnectFailure::Unreachable(reason) => reason,
            },
            Err(_) => format!("no answer within {CONNECT_ATTEMPT_TIMEOUT:?}"),
        };
        let waited = started.elapsed();
        if waited + delay > limit {
            bail!(
                "PostgreSQL at {server} is not reachable ({reason}); gave up after {:.1} s",
                waited.as_secs_f64()
            );
        }
        tracing::warn!(
            "PostgreSQL at {server} not reachable yet ({reason}), retrying in {:.1} s",
            delay.as_secs_f64()
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RETRY_DELAY);
    }
}

#[async_trait]
impl Store for PgStore {
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let tx = self.pool.begin().await.map_err(other)?;
        Ok(Box::new(tx::PgTx::new(tx)))
    }

    async fn begin_bookkeeping(&self) -> StoreResult<Box<dyn StoreTx>> {
        let tx = self.pool.begin_with(BOOKKEEPING_BEGIN).await.map_err(other)?;
        Ok(Box::new(tx::PgTx::new(tx)))
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn has_one_writer(&self) -> bool {
        false
    }

    async fn list_checks(
        &self,
        id: &SystemId,
    ) -> StoreResult<Vec<(slod_core::model::CheckId, slod_core::engine::CheckState)>> {
        let sql = format!(
            "SELECT {} FROM system_checks WHERE system_id = $1 ORDER BY check_id",
            slod_store::codec::CHECK_COLUMNS
        );
        let rows =
            sqlx::query(&sql).bind(id.as_str()).fetch_all(&self.pool).await.map_err(other)?;
        rows.iter()
            .map(|row| rows::check_from_row(row).map(|(_, check, state)| (check, state)))
            .collect()
    }

    async fn get_system(&self, id: &SystemId) -> StoreResult<Option<SystemRow>> {
        let sql = format!("SELECT {SYSTEM_COLUMNS} FROM systems WHERE id = $1");
        let row =
            sqlx::query(&sql).bind(id.as_str()).fetch_optional(&self.pool).await.map_err(other)?;
        row.map(|r| system_row_from_row(&r)).transpose()
    }

    async fn list_systems(&self) -> StoreResult<Vec<SystemRow>> {
        let sql = format!("SELECT {SYSTEM_COLUMNS} FROM systems ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await.map_err(other)?;
        rows.iter().map(system_row_from_row).collect()
    }

    async fn dependencies(&self, id: &SystemId) -> StoreResult<DependenciesRow> {
        let rows = sqlx::query(
            "SELECT 'up', s.id, s.name, s.created_at FROM dependencies d JOIN systems s ON s.id = d.upstream_id WHERE d.downstream_id = $1
             UNION ALL
             SELECT 'down', s.id, s.name, s.created_at FROM dependencies d JOIN systems s ON s.id = d.downstream_id WHERE d.upstream_id = $1
             ORDER BY 2",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(other)?;
        let mut deps = DependenciesRow::default();
        for row in rows {
            let direction: &str = row.try_get(0).map_err(other)?;
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

    async fn get_objective(&self, id: &str) -> StoreResult<Option<Objective>> {
        let sql = format!("SELECT {OBJECTIVE_COLUMNS} FROM slo_objectives WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(other)?;
        row.map(|r| objective_from_row(&r)).transpose()
    }

    /// From the objectives kept in memory while the database's counter of
    /// objective changes stays put (`slod_store::counted`).
    async fn list_objectives(&self, systems: Option<&[SystemId]>) -> StoreResult<Vec<Objective>> {
        if systems.is_some_and(<[SystemId]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await.map_err(other)?;
        let (counter, _) = change_counters(&mut conn).await?;
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
            "SELECT {EVENT_COLUMNS} FROM slo_downtime_events WHERE objective_id = $1
             ORDER BY start_time DESC, end_time IS NULL DESC, end_time DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(objective_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
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
        let mut conn = self.pool.acquire().await.map_err(other)?;
        let mut reads = SpanReads { conn: &mut conn, pool: &self.pool };
        self.spans.read_through(&mut reads, objective_ids, since, until).await
    }

    async fn systems_down_at(
        &self,
        systems: &[SystemId],
        at: Timestamp,
    ) -> StoreResult<BTreeSet<SystemId>> {
        if systems.is_empty() {
            return Ok(BTreeSet::new());
        }
        let rows = sqlx::query(
            "SELECT DISTINCT system_id FROM system_outages
             WHERE system_id = ANY($1) AND start_time <= $2 AND (end_time IS NULL OR end_time > $2)",
        )
        .bind(id_strs(systems))
        .bind(at.millis())
        .fetch_all(&self.pool)
        .await
        .map_err(other)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map(SystemId::from_trusted).map_err(other))
            .collect()
    }

    async fn events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, NotificationEvent)>> {
        self.number_outbox_events().await?;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(other)?;
        rows.iter().map(outbox_event).collect()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(other)?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to come back.
    async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests;
