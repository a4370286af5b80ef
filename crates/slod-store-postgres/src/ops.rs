//! Operations on a PostgreSQL database outside serving (SPEC §18): where
//! its schema stands, and migrating it. Backups are PostgreSQL's own
//! (`pg_dump`), not slod's.

use slod_store::schema::{Migration, SchemaStatus};
use slod_store::Store;
use sqlx::{ConnectOptions, Connection, PgConnection};

use anyhow::Context;

use crate::{
    connect_options, server_name, wait_until_reachable, PgStore, CONNECT_RETRY_LIMIT, MIGRATOR,
};

/// The migrations this binary carries, in order.
pub fn known_migrations() -> Vec<Migration> {
    MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| Migration { version: m.version, description: m.description.to_string() })
        .collect()
}

/// Where the database's schema stands; changes nothing. Waits for an
/// unreachable server as [`PgStore::connect`] does.
pub async fn schema_status(url: &str) -> anyhow::Result<SchemaStatus> {
    let options = connect_options(url)?;
    let server = server_name(&options);
    wait_until_reachable(&options, &server, CONNECT_RETRY_LIMIT).await?;
    let mut conn =
        options.connect().await.with_context(|| format!("connecting to PostgreSQL at {server}"))?;
    let applied = applied_versions(&mut conn).await;
    let _ = conn.close().await;
    Ok(SchemaStatus { applied: applied?, known: known_migrations() })
}

/// The versions recorded in `_sqlx_migrations` (none when it is missing),
/// looked up the way sqlx's migrator names the table (unqualified).
pub(crate) async fn applied_versions(conn: &mut PgConnection) -> anyhow::Result<Vec<i64>> {
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .context("reading the PostgreSQL schema")?;
    if !has_table {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .context("reading the applied migrations")
}

/// Applies the pending migrations and returns them; refuses a database a
/// newer release migrated, untouched.
pub async fn migrate(url: &str) -> anyhow::Result<Vec<Migration>> {
    let before = schema_status(url).await?;
    before.refuse_newer()?;
    let pending: Vec<Migration> = before.pending().into_iter().cloned().collect();
    // Connecting is migrating (under sqlx's advisory lock): the same path
    // as `slod serve`.
    let store = PgStore::connect(url, 1).await?;
    store.close().await;
    Ok(pending)
}
