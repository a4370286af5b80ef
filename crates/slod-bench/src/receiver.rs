//! A minimal webhook receiver for `ingest --channels`: answers every
//! request `200` at once and counts them, so the ingest figures are taken
//! while slod delivers notifications (issue 18 item 5: single reports
//! "with fan-out happening").
//!
//! It runs on the load generator's runtime; the fan-out benchmark proper
//! (receiver in a process of its own, latency from change to delivery) is
//! another tool's job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A running receiver: its URL and the requests answered so far.
pub struct Receiver {
    pub url: String,
    received: Arc<AtomicU64>,
}

impl Receiver {
    /// Listens on a free loopback port until the process ends.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(answer(socket, counter.clone()));
            }
        });
        Ok(Self { url, received })
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// Answers the requests of one keep-alive connection until it closes.
async fn answer(mut socket: tokio::net::TcpStream, counter: Arc<AtomicU64>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let read = match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buffer.extend_from_slice(&chunk[..read]);
        while let Some(length) = request_length(&buffer) {
            buffer.drain(..length);
            counter.fetch_add(1, Ordering::Relaxed);
            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            if socket.write_all(ok).await.is_err() {
                return;
            }
        }
    }
}

/// The length of the first whole request in `buffer` (head and a
/// `content-length` body; slod's deliveries are never chunked), if it is
/// all there.
fn request_length(buffer: &[u8]) -> Option<usize> {
    let head_end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let body = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buffer.len() >= head_end + body).then_some(head_end + body)
}
