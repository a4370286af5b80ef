//! `slod-bench receive`: a webhook receiver in a process of its own, for the
//! fan-out benchmark (docs/BENCHMARKS.md).
//!
//! It answers every `POST` (any path: one path per channel) with `200` at
//! once, and notes when it arrived, the path, and the payload's event `id`
//! and `occurredAt`: the webhook envelope's field, or the `Occurred` fact of
//! a Slack or Teams message. `GET /stats?since=MS` summarises what arrived
//! for events that occurred at or after `since` (ms since the epoch):
//! deliveries per path, duplicates (an event delivered twice to one path,
//! which at-least-once allows), and the latency from `occurredAt` to
//! arrival.
//!
//! It prints `listening on http://ADDRESS` on stdout once it accepts
//! connections (with `--listen 127.0.0.1:0`, the port the OS gave).

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use serde_json::{json, Value};
use slod_core::time::Timestamp;
use tokio::io::AsyncBufReadExt;

/// One request that arrived.
struct Arrival {
    path: String,
    id: Option<String>,
    occurred_ms: Option<i64>,
    arrived_ms: i64,
}

#[derive(Default)]
struct Log {
    arrivals: Vec<Arrival>,
}

type Shared = Arc<Mutex<Log>>;

fn now_ms() -> i64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The event's id and when it occurred, from a webhook envelope
/// (`{id, type, occurredAt, data}`), a Teams card or a Slack message.
fn event_of(body: &[u8]) -> (Option<String>, Option<i64>) {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return (None, None);
    };
    let id = body["id"].as_str().map(str::to_owned);
    let stamp = if let Some(at) = body["occurredAt"].as_str() {
        Some(at.to_owned())
    } else if let Some(facts) = body["sections"][0]["facts"].as_array() {
        facts
            .iter()
            .find(|f| f["name"] == "Occurred")
            .and_then(|f| f["value"].as_str())
            .map(str::to_owned)
    } else {
        body["blocks"][1]["fields"].as_array().and_then(|fields| {
            fields
                .iter()
                .find_map(|f| f["text"].as_str()?.strip_prefix("*Occurred*\n"))
                .map(str::to_owned)
        })
    };
    let occurred = stamp.and_then(|s| Timestamp::parse(&s).ok()).map(Timestamp::millis);
    (id, occurred)
}

async fn receive(State(log): State<Shared>, uri: Uri, body: axum::body::Bytes) -> StatusCode {
    let arrived_ms = now_ms();
    let (id, occurred_ms) = event_of(&body);
    let arrival = Arrival { path: uri.path().to_owned(), id, occurred_ms, arrived_ms };
    log.lock().unwrap_or_else(PoisonError::into_inner).arrivals.push(arrival);
    StatusCode::OK
}

/// The nearest-rank percentile `p` (a fraction) of `sorted`.
// `p` is a fraction, so the index lies within `sorted`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    let rank = (sorted.len() as f64 * p).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

/// What arrived for events that occurred at or after `since`.
fn summary(log: &Log, since: i64) -> Value {
    let mut per_path: BTreeMap<&str, u64> = BTreeMap::new();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut latencies = Vec::new();
    let mut duplicates = 0u64;
    let mut unparsed = 0u64;
    let mut earlier = 0u64;
    // Deliveries by the second they arrived in, counted from `since` (from
    // the first delivery counted, when `since` lies over an hour before it).
    let first = log
        .arrivals
        .iter()
        .filter(|a| a.occurred_ms.is_some_and(|o| o >= since))
        .map(|a| a.arrived_ms)
        .min()
        .unwrap_or(since);
    let base = if first.saturating_sub(since) > 3_600_000 { first } else { since };
    let mut per_second: BTreeMap<i64, u64> = BTreeMap::new();
    for a in &log.arrivals {
        let Some(occurred) = a.occurred_ms else {
            unparsed += 1;
            continue;
        };
        if occurred < since {
            earlier += 1;
            continue;
        }
        if let Some(id) = &a.id {
            if !seen.insert((&a.path, id)) {
                duplicates += 1;
                continue;
            }
        }
        *per_path.entry(&a.path).or_default() += 1;
        *per_second.entry((a.arrived_ms - base).div_euclid(1000)).or_default() += 1;
        latencies.push(a.arrived_ms - occurred);
    }
    latencies.sort_unstable();
    let last_second = per_second.keys().next_back().copied().unwrap_or(-1);
    let per_second: Vec<u64> =
        (0..=last_second).map(|s| per_second.get(&s).copied().unwrap_or(0)).collect();
    json!({
        "requests": log.arrivals.len(),
        "delivered": latencies.len(),
        "perPath": per_path,
        "duplicates": duplicates,
        "unparsed": unparsed,
        "before": earlier,
        "latencyMs": {
            "p50": nearest_rank(&latencies, 0.50),
            "p95": nearest_rank(&latencies, 0.95),
            "p99": nearest_rank(&latencies, 0.99),
            "max": latencies.last(),
        },
        "perSecond": per_second,
    })
}

async fn stats(
    State(log): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
) -> axum::Json<Value> {
    let since = query.get("since").and_then(|s| s.parse().ok()).unwrap_or(i64::MIN);
    let log = log.lock().unwrap_or_else(PoisonError::into_inner);
    axum::Json(summary(&log, since))
}

/// Serves until killed, or until its standard input closes when
/// `until_stdin_closes` (so a parent that dies takes it along).
pub async fn run(listen: &str, until_stdin_closes: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let log: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/stats", get(stats))
        .fallback(axum::routing::post(receive))
        .with_state(log);
    println!("listening on http://{address}");
    if until_stdin_closes {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    axum::serve(listener, app).await?;
    Ok(())
}

/// The receiver child process; it exits when its stdin closes (on drop).
pub struct Receiver {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding slod-bench's own path")?;
        let mut child = tokio::process::Command::new(exe)
            .args(["receive", "--listen", "127.0.0.1:0", "--until-stdin-closes"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the receiver")?;
        let stdout = child.stdout.take().context("the receiver's stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("the receiver did not start within 30 s")??
            .context("the receiver exited before listening")?;
        let base = line
            .strip_prefix("listening on ")
            .with_context(|| format!("unexpected first line from the receiver: {line}"))?
            .to_owned();
        Ok(Self { child, base })
    }

    /// The receiver's `GET /stats?since=MS` summary.
    pub async fn stats(&self, client: &reqwest::Client, since: i64) -> anyhow::Result<Value> {
        let r = client.get(format!("{}/stats?since={since}", self.base)).send().await?;
        Ok(r.error_for_status()?.json().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_event_from_each_payload_shape() {
        let webhook = br#"{"id":"e1","type":"slo.status.changed","occurredAt":"2026-03-01T12:00:00.000Z","data":{}}"#;
        let (id, at) = event_of(webhook);
        assert_eq!(id.as_deref(), Some("e1"));
        assert_eq!(at, Some(Timestamp::parse("2026-03-01T12:00:00.000Z").unwrap().millis()));
        let teams =
            br#"{"sections":[{"facts":[{"name":"Occurred","value":"2026-03-01T12:00:00.000Z"}]}]}"#;
        assert_eq!(event_of(teams).1, at);
        let slack =
            br#"{"blocks":[{},{"fields":[{"text":"*Occurred*\n2026-03-01T12:00:00.000Z"}]}]}"#;
        assert_eq!(event_of(slack).1, at);
        assert_eq!(event_of(b"not json"), (None, None));
    }

    #[test]
    fn counts_duplicates_once_and_skips_earlier_events() {
        let arrival = |path: &str, id: &str, occurred: i64, arrived: i64| Arrival {
            path: path.to_owned(),
            id: Some(id.to_owned()),
            occurred_ms: Some(occurred),
            arrived_ms: arrived,
        };
        let log = Log {
            arrivals: vec![
                arrival("/c0", "old", 500, 1_100),
                arrival("/c0", "a", 1_000, 1_010),
                arrival("/c1", "a", 1_000, 1_030),
                arrival("/c0", "a", 1_000, 2_500),
                arrival("/c0", "b", 1_900, 2_100),
            ],
        };
        let s = summary(&log, 1_000);
        assert_eq!(s["delivered"], 3);
        assert_eq!(s["duplicates"], 1);
        assert_eq!(s["before"], 1);
        assert_eq!(s["perPath"]["/c0"], 2);
        assert_eq!(s["latencyMs"]["p50"], 30);
        assert_eq!(s["latencyMs"]["max"], 200);
        assert_eq!(s["perSecond"], json!([2, 1]));
        // Counted from the first delivery when `since` is long before it.
        assert_eq!(summary(&log, i64::MIN)["perSecond"], json!([3, 1]));
    }
}
