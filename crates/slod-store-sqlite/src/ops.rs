//! Operations on a SQLite database outside serving (SPEC §18): where its
//! schema stands, migrating it, and online backups.
//!
//! Reading the schema opens the file read-only and never creates it, so a
//! database a newer release migrated is refused before anything (not even
//! the switch to WAL that [`SqliteStore::connect`] makes) writes to it.
//!
//! A backup is `VACUUM INTO`: one read transaction copies the database as
//! of the instant it began (every transaction committed before it is in the
//! copy, nothing half-committed is), while the server keeps reading and
//! writing — in WAL mode readers never block the writer. The copy is
//! written next to the target under a temporary name, checked, and only
//! then renamed into place, so a failed or interrupted backup never leaves
//! a half-written file where a good one is expected.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};
use slod_store::schema::{Migration, SchemaStatus};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use slod_store::Store;

use crate::{SqliteStore, MIGRATOR};

/// The migrations this binary carries, in order.
pub fn known_migrations() -> Vec<Migration> {
    MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| Migration { version: m.version, description: m.description.to_string() })
        .collect()
}

/// The file a `sqlite://PATH` URL names, or `None` for an in-memory one.
fn database_file(url: &str) -> anyhow::Result<Option<PathBuf>> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("`{url}` is not a valid sqlite:// URL"))?;
    let path = options.get_filename();
    Ok((!(url.contains(":memory:") || path.as_os_str().is_empty())).then(|| path.to_owned()))
}

/// A read-only connection that never creates the file and sets no
/// persistent pragma (no journal-mode switch).
async fn open_read_only(url: &str) -> anyhow::Result<SqliteConnection> {
    SqliteConnectOptions::from_str(url)
        .with_context(|| format!("`{url}` is not a valid sqlite:// URL"))?
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("opening SQLite database {url} read-only"))
}

/// Where the database's schema stands; changes nothing, and a missing file
/// (created on first start) has nothing applied.
pub async fn schema_status(url: &str) -> anyhow::Result<SchemaStatus> {
    let known = known_migrations();
    match database_file(url)? {
        Some(path) if path.exists() => {}
        _ => return Ok(SchemaStatus { applied: Vec::new(), known }),
    }
    let mut conn = open_read_only(url).await?;
    let applied = applied_versions(&mut conn).await;
    let _ = conn.close().await;
    Ok(SchemaStatus { applied: applied?, known })
}

async fn applied_versions(conn: &mut SqliteConnection) -> anyhow::Result<Vec<i64>> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut *conn)
    .await
    .context("reading the SQLite schema")?;
    if !has_table {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .context("reading the applied migrations")
}

/// Applies the pending migrations (creating the file if needed) and returns
/// them; refuses a database a newer release migrated, untouched.
pub async fn migrate(url: &str) -> anyhow::Result<Vec<Migration>> {
    let before = schema_status(url).await?;
    before.refuse_newer()?;
    let pending: Vec<Migration> = before.pending().into_iter().cloned().collect();
    // Opening the store is migrating it: the same path as `slod serve`.
    let store = SqliteStore::connect(url).await?;
    store.close().await;
    Ok(pending)
}

/// Writes a consistent copy of the database at `url` to `to` while other
/// connections (a running `slod serve`) keep writing; returns its size in
/// bytes. Refuses an existing `to` unless `overwrite`.
pub async fn backup(url: &str, to: &Path, overwrite: bool) -> anyhow::Result<u64> {
    let Some(source) = database_file(url)? else {
        bail!("`{url}` is an in-memory database: there is nothing to back up");
    };
    if !source.exists() {
        bail!("there is no database at {}", source.display());
    }
    if to.exists() {
        if !overwrite {
            bail!("{} already exists; pass --force to replace it", to.display());
        }
        let same = std::fs::canonicalize(to).ok() == std::fs::canonicalize(&source).ok();
        if same {
            bail!("{} is the database itself; back it up to another file", to.display());
        }
    }
    let temporary = temporary_path(to)?;
    let written = copy_to(url, &temporary).await;
    let finished = written.and_then(|()| {
        // Checked again: another backup may have created it meanwhile.
        if !overwrite && to.exists() {
            bail!("{} already exists; pass --force to replace it", to.display());
        }
        std::fs::rename(&temporary, to)
            .with_context(|| format!("moving the backup into place at {}", to.display()))?;
        let size = std::fs::metadata(to).with_context(|| format!("reading {}", to.display()))?;
        Ok(size.len())
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    finished
}

/// `.NAME.backup-PID.tmp` next to `to`: the same file system, so the final
/// rename is atomic.
fn temporary_path(to: &Path) -> anyhow::Result<PathBuf> {
    let name = to
        .file_name()
        .with_context(|| format!("{} does not name a file", to.display()))?
        .to_string_lossy();
    let temporary = to.with_file_name(format!(".{name}.backup-{}.tmp", std::process::id()));
    if temporary.exists() {
        std::fs::remove_file(&temporary)
            .with_context(|| format!("removing a stale {}", temporary.display()))?;
    }
    Ok(temporary)
}

/// `VACUUM INTO` `temporary`, then checks the copy opens and is sound.
async fn copy_to(url: &str, temporary: &Path) -> anyhow::Result<()> {
    let target = temporary
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", temporary.display()))?;
    let mut conn = open_read_only(url).await?;
    let copied = sqlx::query("VACUUM INTO ?").bind(target).execute(&mut conn).await;
    let _ = conn.close().await;
    copied.with_context(|| format!("copying the database into {target}"))?;

    let mut copy = SqliteConnectOptions::new()
        .filename(temporary)
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("opening the copy {target}"))?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut copy)
        .await
        .with_context(|| format!("checking the copy {target}"))?;
    let _ = copy.close().await;
    if check != "ok" {
        bail!("the copy {target} failed SQLite's quick_check: {check}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backup_never_overwrites_the_database_itself_or_creates_a_missing_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("slod.db");
        let url = format!("sqlite://{}", path.display());

        let err = backup(&url, &dir.path().join("copy.db"), false).await.unwrap_err();
        assert!(format!("{err:#}").contains("no database"), "{err:#}");
        assert!(!path.exists(), "backing up a missing database created it");

        migrate(&url).await.expect("migrate");
        let err = backup(&url, &path, true).await.unwrap_err();
        assert!(format!("{err:#}").contains("the database itself"), "{err:#}");
        let copy = dir.path().join("copy.db");
        assert!(backup(&url, &copy, false).await.expect("backup") > 0);
        let status = schema_status(&format!("sqlite://{}", copy.display())).await.expect("status");
        assert!(status.pending().is_empty(), "the copy is migrated like the original");
    }
}
