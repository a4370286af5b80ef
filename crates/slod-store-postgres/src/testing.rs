//! Throw-away PostgreSQL databases for tests (feature `testing`).
//!
//! Tests that need PostgreSQL run only when `SLOD_TEST_DATABASE_URL` names a
//! server (e.g. `postgres://postgres@127.0.0.1:5432/test`). Each test gets
//! a database of its own, `slod_test_<uuid>`, created through a connection
//! to that URL's database and dropped (`WITH (FORCE)`) afterwards, so tests
//! run in parallel and leave nothing behind, even when they panic.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use slod_store::Store;
//! use slod_store_postgres::testing;
//! let Some(admin_url) = testing::admin_url_from_env() else { return Ok(()) };
//! let (store, database) = testing::fresh_store(&admin_url, 4).await?;
//! // … use `store` …
//! store.close().await;
//! testing::drop_database(database).await?;
//! # Ok(()) }
//! ```

use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};

use crate::PgStore;

/// The environment variable naming the PostgreSQL server tests may use.
pub const TEST_DATABASE_URL_VAR: &str = "SLOD_TEST_DATABASE_URL";

/// The URL in `SLOD_TEST_DATABASE_URL`, if set and not empty.
pub fn admin_url_from_env() -> Option<String> {
    std::env::var(TEST_DATABASE_URL_VAR).ok().filter(|url| !url.trim().is_empty())
}

/// A database created for one test; dropped by [`drop_database`], or, if
/// the test never got there (it panicked), when the guard is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl TestDatabase {
    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name (`slod_test_…`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // `Drop` cannot await, and may run inside a runtime (a panicking
        // test): drop the database from a thread with a runtime of its own.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let outcome = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(drop_named(&admin_url, &name))
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("could not drop test database {}: {err:#}", self.name),
            Err(_) => eprintln!("could not drop test database {}: cleanup panicked", self.name),
        }
    }
}

/// Creates `slod_test_<uuid>` through a connection to `admin_url` and
/// returns its URL with the guard that drops it.
pub async fn fresh_database(admin_url: &str) -> anyhow::Result<(String, TestDatabase)> {
    let name = format!("slod_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = admin_connection(admin_url).await?;
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .with_context(|| format!("creating test database {name}"))?;
    let _ = admin.close().await;
    let url = with_database(admin_url, &name);
    let database =
        TestDatabase { admin_url: admin_url.to_owned(), name, url: url.clone(), dropped: false };
    Ok((url, database))
}

/// A fresh database with a connected, migrated [`PgStore`] on it.
pub async fn fresh_store(
    admin_url: &str,
    pool_size: u32,
) -> anyhow::Result<(PgStore, TestDatabase)> {
    let (url, database) = fresh_database(admin_url).await?;
    let store = PgStore::connect(&url, pool_size).await?;
    Ok((store, database))
}

/// Drops the database, disconnecting anyone still on it. Close stores on it
/// first to spare them errors.
pub async fn drop_database(mut database: TestDatabase) -> anyhow::Result<()> {
    database.dropped = true;
    drop_named(&database.admin_url, &database.name).await
}

async fn admin_connection(admin_url: &str) -> anyhow::Result<sqlx::PgConnection> {
    PgConnectOptions::from_str(admin_url)
        .context("SLOD_TEST_DATABASE_URL is not a valid PostgreSQL URL")?
        .connect()
        .await
        .context("connecting to the test PostgreSQL server")
}

async fn drop_named(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = admin_connection(admin_url).await?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await
        .with_context(|| format!("dropping test database {name}"))?;
    let _ = admin.close().await;
    Ok(())
}

/// `url` pointing at database `name` instead, query string kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_swapped_in_the_url() {
        assert_eq!(with_database("postgres://u:p@h:5432/test", "x"), "postgres://u:p@h:5432/x");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            with_database("postgresql://h/test?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres:///test?host=/run/postgresql", "x"),
            "postgres:///x?host=/run/postgresql"
        );
    }
}
