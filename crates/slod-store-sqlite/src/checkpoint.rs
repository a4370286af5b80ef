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
//! Copying frames is not enough to keep it small, though: SQLite starts
//! writing the WAL from its beginning again only when a write transaction
//! begins and finds every frame copied, and under sustained writes some
//! commit always lands while a passive checkpoint copies, so the file grew
//! without bound (560 MB in a 30-second ingest run). So when a round finds
//! more than [`CATCH_UP_FROM`] frames in the WAL, it checkpoints once more
//! on the writer's own connection, between two of its transactions: that
//! copies the few frames written since the passive round, with no commit
//! in between, and the writer's next transaction rewinds the WAL. The
//! writer waits for that short copy instead of the whole one.
//!
//! The task stops when the store is closed or the last handle to it is
//! dropped.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection, SqlitePool};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the WAL is checkpointed. At the batch ingest benchmark's rate
/// the WAL grows by about 1,200 pages in this time, so it stays near the
/// size the automatic checkpoint kept it at.
#[cfg(not(test))]
const EVERY: Duration = Duration::from_millis(250);
#[cfg(test)]
const EVERY: Duration = Duration::from_millis(20);

/// WAL frames (pages) from which a round also checkpoints on the writer's
/// connection, so the writer rewinds the WAL: 16 MiB of 4 KiB pages, a
/// second or so of batch ingest at full speed.
#[cfg(not(test))]
const CATCH_UP_FROM: i64 = 4_096;
#[cfg(test)]
const CATCH_UP_FROM: i64 = 256;

pub(crate) struct Checkpointer {
    /// Dropping it stops the task too.
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Opens the checkpointing connection with `options` (writable; the
    /// same file and settings as the writer) and starts the task, which
    /// catches up on `writer` when the WAL has grown.
    pub(crate) async fn start(
        options: &SqliteConnectOptions,
        writer: SqlitePool,
    ) -> anyhow::Result<Self> {
        let conn = options.connect().await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(conn, writer, stopped));
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

async fn run(mut conn: SqliteConnection, writer: SqlitePool, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            // A send, or the store gone (the sender dropped).
            _ = stopped.changed() => break,
            () = tokio::time::sleep(EVERY) => {}
        }
        // The next round tries again after a failure; the WAL only grows
        // meanwhile.
        let frames = match checkpoint(&mut conn).await {
            Ok(frames) => frames,
            Err(err) => {
                tracing::warn!(error = %err, "WAL checkpoint failed");
                continue;
            }
        };
        if frames >= CATCH_UP_FROM {
            let caught_up = async {
                let mut on_writer = writer.acquire().await?;
                checkpoint(&mut on_writer).await
            };
            if let Err(err) = caught_up.await {
                tracing::warn!(error = %err, "WAL checkpoint on the writer failed");
            }
        }
    }
    let _ = conn.close().await;
}

/// A passive checkpoint on `conn`; the frames the WAL held.
async fn checkpoint(conn: &mut SqliteConnection) -> sqlx::Result<i64> {
    // (busy, frames in the WAL, frames copied); -1 when not in WAL mode.
    let (_, frames, _): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(conn).await?;
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use slod_store::Store;

    use super::EVERY;
    use crate::temp_store;

    /// The writer never checkpoints, and the store's task does: a
    /// transaction of several megabytes reaches the database file within a
    /// few rounds, while the writer's WAL setting stays off.
    #[tokio::test]
    async fn the_task_checkpoints_and_the_writer_does_not() {
        let (store, dir) = temp_store("wal.db").await;
        let path = dir.path().join("wal.db");
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

    /// Under writes with no pause between them, the WAL is still rewound:
    /// 24 MiB committed in back-to-back transactions leave a WAL file a
    /// fraction of that size (without the catch-up on the writer it held
    /// nearly all of it).
    #[tokio::test]
    async fn sustained_writes_do_not_grow_the_wal_without_bound() {
        let (store, dir) = temp_store("wal.db").await;
        sqlx::query("CREATE TABLE filler (b BLOB)").execute(&store.writer).await.expect("table");
        let wal = dir.path().join("wal.db-wal");
        let mut largest = 0;
        for _ in 0..(24 * 1024 / 16) {
            sqlx::query("INSERT INTO filler SELECT randomblob(16384)")
                .execute(&store.writer)
                .await
                .expect("insert");
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        assert!(
            largest < 12 * 1024 * 1024,
            "the WAL reached {largest} bytes while 24 MiB were written"
        );
        store.close().await;
    }
}
