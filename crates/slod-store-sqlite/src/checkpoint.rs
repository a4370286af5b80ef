//! WAL checkpoints off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the WAL
//! past 1,000 pages: that commit copies the pages into the database file
//! and fsyncs it before it returns, and every report queued for the one
//! writer waits behind it (about one commit a second at 200 reports a
//! second; `docs/BENCHMARKS.md`). So the writer's automatic checkpoint is
//! off (`wal_autocheckpoint = 0` on its connection) and a task of the
//! store's checkpoints from a connection of its own instead. A `PASSIVE`
//! checkpoint takes no write lock: commits go on while it copies and syncs.
//! A checkpoint also needs no particular moment to be correct, only to come
//! often enough that the WAL stays small.
//!
//! The task stops when the store is closed or the last handle to it is
//! dropped.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the WAL is checkpointed. At the batch ingest benchmark's rate
/// the WAL grows by about 1,200 pages in this time, so it stays near the
/// size the automatic checkpoint kept it at.
#[cfg(not(test))]
const EVERY: Duration = Duration::from_millis(250);
#[cfg(test)]
const EVERY: Duration = Duration::from_millis(20);

pub(crate) struct Checkpointer {
    /// Dropping it stops the task too.
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Opens the checkpointing connection with `options` (writable; the
    /// same file and settings as the writer) and starts the task.
    pub(crate) async fn start(options: &SqliteConnectOptions) -> anyhow::Result<Self> {
        let conn = options.connect().await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(conn, stopped));
        Ok(Self { stop, task: Mutex::new(Some(task)) })
    }

    /// Stops the task and closes its connection.
    pub(crate) async fn stop(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

async fn run(mut conn: SqliteConnection, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            // A send, or the store gone (the sender dropped).
            _ = stopped.changed() => break,
            () = tokio::time::sleep(EVERY) => {}
        }
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn).await {
            // The next round tries again; the WAL only grows meanwhile.
            tracing::warn!(error = %err, "WAL checkpoint failed");
        }
    }
    let _ = conn.close().await;
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::EVERY;
    use crate::SqliteStore;

    /// The writer never checkpoints, and the store's task does: a
    /// transaction of several megabytes reaches the database file within a
    /// few rounds, while the writer's WAL setting stays off.
    #[tokio::test]
    async fn the_task_checkpoints_and_the_writer_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wal.db");
        let store =
            SqliteStore::connect(&format!("sqlite://{}", path.display())).await.expect("connect");
        let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.writer)
            .await
            .expect("pragma");
        assert_eq!(pages, 0, "the writer checkpoints on commit");

        let before = std::fs::metadata(&path).expect("database file").len();
        sqlx::query("CREATE TABLE filler (b BLOB)").execute(&store.writer).await.expect("table");
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
             INSERT INTO filler SELECT randomblob(4000) FROM n",
        )
        .execute(&store.writer)
        .await
        .expect("fill");
        let deadline = Instant::now() + EVERY * 250;
        let mut size = before;
        while size < before + 4_000_000 && Instant::now() < deadline {
            tokio::time::sleep(EVERY).await;
            size = std::fs::metadata(&path).expect("database file").len();
        }
        assert!(
            size >= before + 4_000_000,
            "the database file grew from {before} to {size} bytes: the WAL was not checkpointed"
        );
        store.close().await;
    }
}
