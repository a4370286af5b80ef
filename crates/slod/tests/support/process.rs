//! A real `slod serve` process for the end-to-end tests that need the
//! binary itself (signals, `kill -9`, backups of a live database): started
//! on loopback port 0, its log drained for its whole life (so it never
//! blocks on a full pipe), and its address read from the `listening on`
//! line; and [`run`], one command of the binary run to completion. Shared by
//! `tests/api/durability.rs`, `tests/operations.rs` and `tests/check.rs`.

use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Runs the binary with `args` to completion (at most a minute), with no
/// `SLOD_DATABASE` from the caller's environment. (Each test binary compiles
/// this file, and not every one runs commands.)
#[allow(dead_code)]
pub async fn run(args: &[&str]) -> Output {
    tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(env!("CARGO_BIN_EXE_slod"))
            .args(args)
            .env_remove("SLOD_DATABASE")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("slod did not finish within 60 s")
    .unwrap()
}

/// A running `slod serve`.
pub struct SlodProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// Every later log line, stdout and stderr.
    pub logs: mpsc::UnboundedReceiver<String>,
    /// The log lines up to and including `listening on`. (Each test binary
    /// compiles this file, and not every one reads this.)
    #[allow(dead_code)]
    pub startup_log: Vec<String>,
}

impl SlodProcess {
    /// Starts `slod serve --database DATABASE_URL EXTRA_ARGS…` with none of
    /// the `SLOD_*` settings of the caller's environment, and waits (up to
    /// a minute) until it listens.
    pub async fn start(database_url: &str, extra_args: &[&str]) -> SlodProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_slod"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database_url])
            .args(extra_args)
            .env("RUST_LOG", "info")
            .env_remove("SLOD_LISTEN")
            .env_remove("SLOD_DATABASE")
            .env_remove("SLOD_DEMO")
            .env_remove("SLOD_LOG_FORMAT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let (sender, mut logs) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for reader in
            [Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>, Box::new(stderr)]
        {
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = sender.send(line);
                }
            });
        }
        let mut startup_log = Vec::new();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let line = logs.recv().await.expect("the server exited before listening");
                startup_log.push(line.clone());
                if let Some(rest) = line.split("listening on ").nth(1) {
                    return rest.split_whitespace().next().unwrap().to_owned();
                }
            }
        })
        .await
        .expect("no `listening on` line within 60 s");
        SlodProcess { child, address: format!("http://{address}"), logs, startup_log }
    }
}
