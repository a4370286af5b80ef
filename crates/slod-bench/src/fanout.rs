//! `slod-bench fanout`: notification fan-out from change to delivery, with
//! the server, the load generator (this process) and the webhook receiver
//! (`slod-bench receive`, a child process) each in a process of its own
//! (docs/BENCHMARKS.md, issue 18).
//!
//! Load: `--rate / 50` systems of 10 objectives each (target 50 %, so no
//! budget or burn alert ever fires) report alternately down and up 5 times
//! a second each; every report changes its 10 objectives' status, so
//! `--rate` `slo.status.changed` events a second, each fanned out to every
//! channel. Latency is an event's `occurredAt` (the instant of the change,
//! on the server's clock) to its arrival at the receiver (same machine,
//! same clock); every delivery of an event of the load counts.

use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::Method;
use serde_json::{json, Value};

use crate::receive::Receiver;
use crate::{load_average, now, process_cpu_ms, send_ok, Server};

/// Objectives per system, and reports per second per system.
const OBJECTIVES_PER_SYSTEM: usize = 10;
const REPORTS_PER_SECOND: u32 = 5;

/// The shape of a `fanout` run.
pub struct FanoutLoad {
    /// `slo.status.changed` events per second.
    pub rate: usize,
    pub seconds: u64,
    /// The channels' kinds (`webhook`, `slack`, `teams`), each channel on
    /// its own path of the receiver.
    pub kinds: Vec<String>,
    /// Also a channel whose receiver accepts connections and never answers.
    pub unreachable: bool,
    /// How long to wait for deliveries after the load, at most.
    pub drain_seconds: u64,
}

/// A port that accepts connections and never answers: every attempt to it
/// hangs until slod's attempt timeout.
async fn black_hole() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(format!("http://{address}/hole"))
}

/// CPU time (user + system) of process `pid` so far, in ms (100 ticks/s).
fn cpu_ms(pid: Option<u32>) -> Option<f64> {
    process_cpu_ms(pid?)
}

fn this_process_cpu_ms() -> Option<f64> {
    process_cpu_ms(std::process::id())
}

fn ms_now() -> i64 {
    now().millis()
}

/// Creates the channels (the same body the first release accepts) and
/// returns each one's receiver path.
async fn create_channels(
    client: &reqwest::Client,
    api: &str,
    receiver: &Receiver,
    load: &FanoutLoad,
) -> anyhow::Result<Vec<String>> {
    let mut paths = Vec::new();
    for (i, kind) in load.kinds.iter().enumerate() {
        let path = format!("/c{i}");
        let body = json!({"name": format!("fanout-c{i}"), "kind": kind,
                          "url": format!("{}{path}", receiver.base), "secret": null,
                          "events": ["slo.status.changed"]});
        send_ok(client, Method::POST, format!("{api}/channels"), body).await?;
        paths.push(path);
    }
    if load.unreachable {
        let body = json!({"name": "fanout-unreachable", "kind": "webhook",
                          "url": black_hole().await?, "secret": null,
                          "events": ["slo.status.changed"]});
        send_ok(client, Method::POST, format!("{api}/channels"), body).await?;
    }
    Ok(paths)
}

async fn create_systems(
    client: &reqwest::Client,
    api: &str,
    prefix: &str,
    systems: usize,
) -> anyhow::Result<Vec<String>> {
    let ids: Vec<String> = (0..systems).map(|s| format!("{prefix}-{s}")).collect();
    for id in &ids {
        send_ok(client, Method::PUT, format!("{api}/systems/{id}"), json!({"name": id})).await?;
        for _ in 0..OBJECTIVES_PER_SYSTEM {
            // A 50 % target: no budget or burn alert ever fires, so every
            // event is a status change.
            send_ok(
                client,
                Method::POST,
                format!("{api}/objectives"),
                json!({"systemId": id, "target": 50, "windowDays": 30}),
            )
            .await?;
        }
    }
    Ok(ids)
}

/// Each system reports down, up, down, … `REPORTS_PER_SECOND` times a
/// second until `deadline`, one request in flight per system; returns the
/// reports sent.
async fn drive(
    client: &reqwest::Client,
    api: &str,
    systems: &[String],
    seconds: u64,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, system) in systems.iter().enumerate() {
        let (client, url, system) = (client.clone(), format!("{api}/health"), system.clone());
        // Spread the systems' ticks over the period, not all at once.
        let offset = Duration::from_secs(1) / REPORTS_PER_SECOND * u32::try_from(i)?
            / u32::try_from(systems.len())?;
        tasks.spawn(async move {
            tokio::time::sleep(offset).await;
            let mut ticks = tokio::time::interval(Duration::from_secs(1) / REPORTS_PER_SECOND);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut down = true;
            let mut sent = 0u64;
            while Instant::now() < deadline {
                ticks.tick().await;
                let status = if down { "unhealthy" } else { "healthy" };
                let body = json!({"systemId": system, "status": status});
                send_ok(&client, Method::POST, url.clone(), body).await?;
                down = !down;
                sent += 1;
            }
            anyhow::Ok(sent)
        });
    }
    let mut reports = 0;
    while let Some(sent) = tasks.join_next().await {
        reports += sent??;
    }
    Ok(reports)
}

fn latency(stats: &Value, which: &str) -> String {
    stats["latencyMs"][which].as_i64().map_or_else(|| "-".to_owned(), |ms| ms.to_string())
}

pub async fn fanout(bin: &str, database: &str, load: &FanoutLoad) -> anyhow::Result<()> {
    let systems = load.rate / (OBJECTIVES_PER_SYSTEM * REPORTS_PER_SECOND as usize);
    if systems == 0 {
        bail!("--rate must be at least {}", OBJECTIVES_PER_SYSTEM * REPORTS_PER_SECOND as usize);
    }
    let receiver = Receiver::start().await?;
    let server = Server::start(bin, database).await?;
    let api = format!("{}/api/v1", server.base);
    let client = reqwest::Client::new();
    let prefix = format!("fan{:x}", ms_now() % 0xff_ffff);
    let paths = create_channels(&client, &api, &receiver, load).await?;
    let ids = create_systems(&client, &api, &prefix, systems).await?;
    // Let the setup's own events drain, then count only the load's.
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "{systems} systems x {OBJECTIVES_PER_SYSTEM} objectives x {REPORTS_PER_SECOND} reports/s \
         for {} s to channels {}{}; load average before {}",
        load.seconds,
        load.kinds.join(", "),
        if load.unreachable { " + 1 unreachable" } else { "" },
        load_average()
    );
    let since = ms_now();
    let cpu_before = (server.cpu_ms(), cpu_ms(receiver.child.id()), this_process_cpu_ms());
    let started = Instant::now();
    let reports = drive(&client, &api, &ids, load.seconds).await?;
    let load_secs = started.elapsed().as_secs_f64();
    let load_avg_after_load = load_average();
    let expected = reports * OBJECTIVES_PER_SYSTEM as u64;

    // Drain: until every channel has every event, or the bound passes.
    let drain_deadline = Instant::now() + Duration::from_secs(load.drain_seconds);
    let stats = loop {
        let stats = receiver.stats(&client, since).await?;
        let done = paths.iter().all(|p| stats["perPath"][p].as_u64().unwrap_or(0) >= expected);
        if done || Instant::now() > drain_deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let total_secs = started.elapsed().as_secs_f64();
    let cpu = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) => format!("{:.0} %", (a - b) / total_secs / 10.0),
        _ => "n/a".to_owned(),
    };
    let per_path: Vec<String> = paths
        .iter()
        .map(|p| format!("{p} {}", stats["perPath"][p].as_u64().unwrap_or(0)))
        .collect();
    println!(
        "{reports} reports in {load_secs:.1} s -> {expected} events ({:.0}/s) x {} channels; \
         delivered {}/{} ({}), {} duplicate(s); latency ms p50 {} p95 {} p99 {} max {}",
        expected as f64 / load_secs,
        paths.len(),
        stats["delivered"],
        expected * paths.len() as u64,
        per_path.join(", "),
        stats["duplicates"],
        latency(&stats, "p50"),
        latency(&stats, "p95"),
        latency(&stats, "p99"),
        latency(&stats, "max"),
    );
    println!("deliveries each second from the start of the load: {}", stats["perSecond"]);
    println!(
        "CPU over the run ({total_secs:.1} s, a core = 100 %): slod {}, receiver {}, load generator {}; \
         load average after the load {load_avg_after_load}, at the end {}",
        cpu(cpu_before.0, server.cpu_ms()),
        cpu(cpu_before.1, cpu_ms(receiver.child.id())),
        cpu(cpu_before.2, this_process_cpu_ms()),
        load_average()
    );
    Ok(())
}
