//! `slod-bench`: seeds large databases and measures a running `slod serve`
//! over HTTP, the way an operator would see it (docs/BENCHMARKS.md).
//!
//! Every subcommand starts its own server from `--slod-bin` on a free
//! loopback port, so figures include HTTP, JSON and the database.

mod fanout;
mod receive;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::json;
use slod_core::engine::Changeset;
use slod_core::model::{
    Attribution, BurnRateThresholds, DependencyExclusion, DowntimeEvent, Objective, ObjectiveId,
    ReportSource, SystemId, Target, WindowDays,
};
use slod_core::time::{Timestamp, DAY_MS};
use slod_store::Store;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fill a database with systems, objectives and closed downtime events
    /// spread over the last 29 days.
    Seed {
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 1000)]
        objectives: usize,
        #[arg(long, default_value_t = 1000)]
        events_per_objective: usize,
        #[arg(long, default_value_t = 100)]
        systems: usize,
    },
    /// Time reads against a seeded database: the cold start (from spawning
    /// the server to its first list answer, and its peak memory then), then
    /// one objective, then the list.
    Read {
        #[arg(long)]
        slod_bin: String,
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 50)]
        requests: usize,
    },
    /// Time `GET /metrics` against a seeded database (SPEC §15: a scrape
    /// of 1,000 objectives within 100 ms), in the Prometheus text format
    /// and in OpenMetrics.
    Scrape {
        #[arg(long)]
        slod_bin: String,
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 20)]
        requests: usize,
    },
    /// Sustained ingest through the batch route, then single reports at a
    /// fixed rate, on a fresh set of systems (every run adds its own).
    Ingest {
        #[arg(long)]
        slod_bin: String,
        #[arg(long)]
        database: String,
        /// Servers on the database (more than one: PostgreSQL only).
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// Reports per batch request.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Clients sending batches at once, spread over the replicas.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Single-report requests per second in the second phase.
        #[arg(long, default_value_t = 200)]
        single_rate: u64,
        /// Monitored systems, each with a strict and a self-only objective.
        #[arg(long, default_value_t = 1000)]
        systems: usize,
        /// Shared upstreams the systems depend on (each system on one).
        #[arg(long, default_value_t = 10)]
        upstreams: usize,
        /// Every n-th report of a system changes its status (opening or
        /// closing downtime); the others repeat it, as most checks do.
        /// 1: every report is a change (the worst case).
        #[arg(long, default_value_t = 100)]
        flip_every: u64,
        /// Webhook channels (all events) to a `slod-bench receive` child
        /// process, so slod delivers notifications while it ingests; 0: none.
        #[arg(long, default_value_t = 0)]
        channels: usize,
    },
    /// One Alertmanager webhook payload of `--alerts` alerts over
    /// `--systems` systems (SPEC §13), posted three times: every alert
    /// firing (the systems created, their outages opened), the same again
    /// (Alertmanager's repeat), and every alert resolved. Each payload is
    /// applied in one transaction.
    Alertmanager {
        #[arg(long)]
        slod_bin: String,
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 10_000)]
        alerts: usize,
        #[arg(long, default_value_t = 500)]
        systems: usize,
    },
    /// Notification fan-out: `--rate` status changes a second to
    /// `--channels` webhooks on a `receive` child process; latency from
    /// each event's `occurredAt` to its arrival there.
    Fanout {
        #[arg(long)]
        slod_bin: String,
        #[arg(long)]
        database: String,
        /// `slo.status.changed` events per second (a multiple of 50).
        #[arg(long, default_value_t = 1000)]
        rate: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Webhook channels.
        #[arg(long, default_value_t = 3)]
        channels: usize,
        /// The channels' kinds instead, comma-separated (`webhook`, `slack`,
        /// `teams`): Slack and Teams messages look up the system and the
        /// objective to render.
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<String>,
        /// Add a channel whose receiver accepts connections and never answers.
        #[arg(long)]
        unreachable: bool,
        /// The longest wait for deliveries after the load.
        #[arg(long, default_value_t = 60)]
        drain_seconds: u64,
    },
    /// A webhook receiver in a process of its own: answers every POST with
    /// 200 and records when each event arrived; `GET /stats?since=MS` gives
    /// deliveries per path, duplicates and the latency from the payload's
    /// `occurredAt` to arrival.
    Receive {
        /// Where to listen; port 0 takes one from the OS (printed on stdout).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Exit when standard input closes (how `fanout` stops it).
        #[arg(long)]
        until_stdin_closes: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Seed { database, objectives, events_per_objective, systems } => {
            seed(&database, objectives, events_per_objective, systems).await
        }
        Command::Read { slod_bin, database, requests } => {
            read(&slod_bin, &database, requests).await
        }
        Command::Scrape { slod_bin, database, requests } => {
            scrape(&slod_bin, &database, requests).await
        }
        Command::Ingest {
            slod_bin,
            database,
            replicas,
            batch,
            concurrency,
            seconds,
            single_rate,
            systems,
            upstreams,
            flip_every,
            channels,
        } => {
            let load = IngestLoad {
                replicas,
                batch,
                concurrency,
                seconds,
                single_rate,
                systems,
                upstreams,
                flip_every,
                channels,
            };
            ingest(&slod_bin, &database, &load).await
        }
        Command::Alertmanager { slod_bin, database, alerts, systems } => {
            alertmanager(&slod_bin, &database, alerts, systems).await
        }
        Command::Fanout {
            slod_bin,
            database,
            rate,
            seconds,
            channels,
            kinds,
            unreachable,
            drain_seconds,
        } => {
            let kinds = if kinds.is_empty() { vec!["webhook".to_owned(); channels] } else { kinds };
            let load = fanout::FanoutLoad { rate, seconds, kinds, unreachable, drain_seconds };
            fanout::fanout(&slod_bin, &database, &load).await
        }
        Command::Receive { listen, until_stdin_closes } => {
            receive::run(&listen, until_stdin_closes).await
        }
    }
}

async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(slod_store_sqlite::SqliteStore::connect(url).await?))
    } else {
        Ok(Arc::new(slod_store_postgres::PgStore::connect(url, 8).await?))
    }
}

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or_default();
    Timestamp::from_millis(ms)
}

fn sid(i: usize) -> SystemId {
    SystemId::from_trusted(format!("sys-{i:04}"))
}

async fn seed(
    url: &str,
    objectives: usize,
    per_objective: usize,
    systems: usize,
) -> anyhow::Result<()> {
    let store = open_store(url).await?;
    let now = now();
    let started = Instant::now();
    let mut tx = store.begin().await?;
    for s in 0..systems {
        tx.upsert_system(&sid(s), &format!("System {s}"), now).await?;
    }
    // Each system depends on the next one, so upstream attribution shows up.
    for s in 0..systems.saturating_sub(1) {
        tx.set_upstreams(&sid(s), &[sid(s + 1)]).await?;
    }
    for o in 0..objectives {
        let objective = Objective {
            id: ObjectiveId::from_trusted(format!("obj-{o:05}")),
            name: None,
            system_id: sid(o % systems),
            health_check_configuration_id: None,
            target: Target::parse(99.0)?,
            window: WindowDays::parse(30)?.into(),
            dependency_exclusion: if o % 2 == 0 {
                DependencyExclusion::Strict
            } else {
                DependencyExclusion::SelfOnly
            },
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: now.minus_millis(40 * DAY_MS),
            updated_at: now,
        };
        tx.insert_objective(&objective).await?;
    }
    tx.commit().await?;

    // Events of `per_objective` per objective, evenly spread over 29 days,
    // each 10 s long; every third one charged to the upstream.
    let span = 29 * DAY_MS;
    let step = span / per_objective.max(1) as i64;
    let mut pending = Vec::with_capacity(50_000);
    let mut written = 0usize;
    for o in 0..objectives {
        let system = o % systems;
        for e in 0..per_objective {
            let start = now.minus_millis(span - e as i64 * step);
            let attribution = if e % 3 == 0 && system + 1 < systems {
                Attribution::Upstream {
                    system_id: sid(system + 1),
                    system_name: format!("System {}", system + 1),
                }
            } else {
                Attribution::SelfCaused
            };
            pending.push(DowntimeEvent {
                id: format!("ev-{o}-{e}"),
                objective_id: ObjectiveId::from_trusted(format!("obj-{o:05}")),
                system_id: sid(system),
                start_time: start,
                end_time: Some(start.plus_millis(10_000)),
                attribution,
                source: ReportSource::Healthcheck,
            });
            if pending.len() == 50_000 {
                written += flush(&*store, &mut pending).await?;
            }
        }
    }
    written += flush(&*store, &mut pending).await?;
    // So the servers the benchmark starts find the events in the database
    // file, not in a WAL they must read first.
    store.close().await;
    println!(
        "seeded {systems} systems, {objectives} objectives, {written} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn flush(store: &dyn Store, pending: &mut Vec<DowntimeEvent>) -> anyhow::Result<usize> {
    let n = pending.len();
    let mut tx = store.begin().await?;
    tx.write_changes(&Changeset { inserted: std::mem::take(pending), ..Default::default() })
        .await?;
    tx.commit().await?;
    Ok(n)
}

struct Server {
    child: tokio::process::Child,
    base: String,
}

impl Server {
    async fn start(bin: &str, database: &str) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        // The server's own log, on this tool's output, when asked for.
        let log = std::env::var("SLOD_BENCH_SERVER_LOG").ok();
        let child = tokio::process::Command::new(bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database", database])
            .env("RUST_LOG", log.as_deref().unwrap_or("warn"))
            .stdout(if log.is_some() { Stdio::inherit() } else { Stdio::null() })
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        // Every 10 ms, so that `read` can time the start.
        for _ in 0..6000 {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
                if r.status().is_success() {
                    return Ok(Self { child, base });
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("server did not become ready")
    }

    /// CPU time (user + system) the server has used so far, in ms: less
    /// sensitive to a busy machine than wall-clock latency. Assumes the
    /// usual 100 clock ticks per second.
    fn cpu_ms(&self) -> Option<f64> {
        process_cpu_ms(self.child.id()?)
    }

    /// Peak and current resident memory of the server, in MiB.
    fn memory_mib(&self) -> Option<(f64, f64)> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }
}

/// CPU time (user + system) process `pid` has used so far, in ms, from
/// `/proc`; assumes the usual 100 clock ticks per second.
fn process_cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`: state is the 3rd field, utime the 14th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10.0)
}

// `p` is a fraction, so the rounded index lies within `sorted`.
#[allow(clippy::cast_possible_truncation)]
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

async fn time_get(client: &reqwest::Client, url: &str, n: usize) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response = client.get(url).send().await?;
        let status = response.status();
        let _ = response.bytes().await?;
        if !status.is_success() {
            bail!("GET {url} answered {status}");
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

async fn read(bin: &str, database: &str, requests: usize) -> anyhow::Result<()> {
    println!("load average before: {}", load_average());
    let spawned = Instant::now();
    let server = Server::start(bin, database).await?;
    let ready = spawned.elapsed().as_secs_f64() * 1000.0;
    let client = reqwest::Client::new();
    let one = format!("{}/api/v1/objectives/obj-00000", server.base);
    let list = format!("{}/api/v1/objectives", server.base);
    // Cold start: the list asked for as soon as the server answers
    // /healthz (polled every 10 ms), and the memory it took to answer.
    let first = time_get(&client, &list, 1).await?[0];
    let peak = server.memory_mib().map_or("n/a".to_owned(), |(peak, _)| format!("{peak:.1} MiB"));
    println!(
        "cold start: ready {ready:.0} ms after spawn; first GET /api/v1/objectives answered \
         {first:.1} ms later ({:.0} ms after spawn); peak RSS then {peak}",
        ready + first
    );
    for (label, url, n) in [
        ("GET /api/v1/objectives/obj-00000", &one, requests),
        ("GET /api/v1/objectives", &list, requests.min(20)),
    ] {
        // Warm caches (SQLite pages, prepared statements, slod's span
        // cache) first; the first request of each kind is shown apart.
        let cold = time_get(&client, url, 1).await?;
        println!("{label}: first request {:.1} ms", cold[0]);
        time_get(&client, url, 1).await?;
        let cpu_before = server.cpu_ms();
        let times = time_get(&client, url, n).await?;
        let cpu = match (cpu_before, server.cpu_ms()) {
            (Some(before), Some(after)) => format!("{:.1} ms", (after - before) / n as f64),
            _ => "n/a".to_owned(),
        };
        println!(
            "{label}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {n}; server CPU {cpu}/request",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 1.0),
        );
    }
    if let Some((peak, current)) = server.memory_mib() {
        println!("server memory: peak RSS {peak:.1} MiB, current RSS {current:.1} MiB");
    }
    println!("load average after: {}", load_average());
    Ok(())
}

async fn scrape(bin: &str, database: &str, requests: usize) -> anyhow::Result<()> {
    let server = Server::start(bin, database).await?;
    println!("load average before: {}", load_average());
    let url = format!("{}/metrics", server.base);
    for (label, accept) in [
        ("GET /metrics (text 0.0.4)", "text/plain"),
        ("GET /metrics (OpenMetrics)", "application/openmetrics-text;version=1.0.0"),
    ] {
        let client = reqwest::Client::builder()
            .default_headers(reqwest::header::HeaderMap::from_iter([(
                reqwest::header::ACCEPT,
                reqwest::header::HeaderValue::from_static(accept),
            )]))
            .build()?;
        let body = client.get(&url).send().await?.text().await?;
        let series = body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count();
        let objectives =
            body.lines().filter(|l| l.starts_with("slod_objective_target_ratio{")).count();
        println!(
            "{label}: {objectives} objectives, {series} series, {:.1} KiB",
            body.len() as f64 / 1024.0
        );
        time_get(&client, &url, 1).await?;
        let cpu_before = server.cpu_ms();
        let times = time_get(&client, &url, requests).await?;
        let cpu = match (cpu_before, server.cpu_ms()) {
            (Some(before), Some(after)) => format!("{:.1} ms", (after - before) / requests as f64),
            _ => "n/a".to_owned(),
        };
        println!(
            "{label}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {requests}; server CPU {cpu}/scrape",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 1.0),
        );
    }
    println!("load average after: {}", load_average());
    Ok(())
}

/// The 1, 5 and 15 minute load averages, to judge how noisy a run was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".to_owned())
}

/// The shape of an `ingest` run.
struct IngestLoad {
    replicas: usize,
    batch: usize,
    concurrency: usize,
    seconds: u64,
    single_rate: u64,
    systems: usize,
    upstreams: usize,
    flip_every: u64,
    channels: usize,
}

/// Sends `body` to `url`, failing on anything but a 2xx.
async fn send_ok(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: serde_json::Value,
) -> anyhow::Result<()> {
    let response = client.request(method, &url).json(&body).send().await?;
    let status = response.status();
    if !status.is_success() {
        bail!("{url} answered {status}: {}", response.text().await.unwrap_or_default());
    }
    Ok(())
}

/// Creates the run's systems (upstreams first), their edges and two
/// objectives each, eight requests at a time; returns every system id.
async fn create_ingest_systems(
    client: &reqwest::Client,
    api: &str,
    prefix: &str,
    load: &IngestLoad,
) -> anyhow::Result<Vec<String>> {
    use reqwest::Method;

    let upstreams: Vec<String> = (0..load.upstreams).map(|u| format!("{prefix}-up-{u}")).collect();
    let downstreams: Vec<String> = (0..load.systems).map(|s| format!("{prefix}-{s}")).collect();
    let created_at = now().minus_millis(40 * DAY_MS).to_rfc3339();
    let all: Vec<(String, Option<String>)> = upstreams
        .iter()
        .map(|u| (u.clone(), None))
        .chain(
            downstreams
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), upstreams.get(i % load.upstreams.max(1)).cloned())),
        )
        .collect();
    let gate = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for (system, upstream) in all {
        let permit = gate.clone().acquire_owned().await?;
        let client = client.clone();
        let api = api.to_owned();
        let created_at = created_at.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            send_ok(
                &client,
                Method::PUT,
                format!("{api}/systems/{system}"),
                json!({"name": system}),
            )
            .await?;
            if let Some(upstream) = upstream {
                send_ok(
                    &client,
                    Method::PUT,
                    format!("{api}/systems/{system}/dependencies"),
                    json!({"upstreamIds": [upstream]}),
                )
                .await?;
            }
            for mode in ["strict", "self-only"] {
                send_ok(
                    &client,
                    Method::POST,
                    format!("{api}/objectives"),
                    json!({"systemId": system, "target": 99.9, "windowDays": 30,
                           "dependencyExclusion": mode, "createdAt": created_at}),
                )
                .await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(upstreams.into_iter().chain(downstreams).collect())
}

/// The status of report number `n` of system number `system`: it changes
/// every `flip_every` reports, staggered between systems.
fn ingest_status(system: usize, n: u64, flip_every: u64) -> &'static str {
    let flips = (n + system as u64 % flip_every.max(1)) / flip_every.max(1);
    if flips % 2 == 1 {
        "unhealthy"
    } else {
        "healthy"
    }
}

async fn ingest(bin: &str, database: &str, load: &IngestLoad) -> anyhow::Result<()> {
    let mut servers = Vec::new();
    for _ in 0..load.replicas.max(1) {
        servers.push(Server::start(bin, database).await?);
    }
    let apis: Vec<String> = servers.iter().map(|s| format!("{}/api/v1", s.base)).collect();
    let client = reqwest::Client::new();
    let run = now();
    // Ids of their own, so runs can share a database.
    let prefix = format!("ing{:x}", run.millis() % 0xff_ffff);
    let receiver = if load.channels > 0 { Some(receive::Receiver::start().await?) } else { None };
    if let Some(receiver) = &receiver {
        for c in 0..load.channels {
            send_ok(
                &client,
                reqwest::Method::POST,
                format!("{}/channels", apis[0]),
                json!({"name": format!("{prefix}-hook-{c}"), "kind": "webhook", "url": format!("{}/hook-{c}", receiver.base)}),
            )
            .await?;
        }
    }
    let started = Instant::now();
    let systems = Arc::new(create_ingest_systems(&client, &apis[0], &prefix, load).await?);
    println!(
        "set up {} systems with {} objectives in {:.1} s; load average {}",
        systems.len(),
        systems.len() * 2,
        started.elapsed().as_secs_f64(),
        load_average()
    );

    // Batch phase: client `w` owns the systems `w`, `w + concurrency`, …
    // and sends them in turn, `batch` reports a request, to replica
    // `w mod replicas`. Report times rise by 1 ms per report of a client,
    // so each system's reports are in time order.
    let base = run.minus_millis(6 * 60 * 60 * 1000);
    let deadline = Instant::now() + Duration::from_secs(load.seconds);
    let cpu_before: Vec<Option<f64>> = servers.iter().map(Server::cpu_ms).collect();
    let mut tasks = Vec::new();
    for w in 0..load.concurrency {
        let client = client.clone();
        let api = apis[w % apis.len()].clone();
        let systems = systems.clone();
        let (batch, concurrency, flip_every) = (load.batch, load.concurrency, load.flip_every);
        tasks.push(tokio::spawn(async move {
            let mine: Vec<usize> = (w..systems.len()).step_by(concurrency).collect();
            let mut counts = vec![0u64; mine.len()];
            let mut next = 0usize;
            let mut clock = 0i64;
            let mut sent = 0u64;
            let mut latencies = Vec::new();
            while Instant::now() < deadline && !mine.is_empty() {
                let reports: Vec<_> = (0..batch)
                    .map(|_| {
                        let k = next % mine.len();
                        next += 1;
                        clock += 1;
                        let status = ingest_status(mine[k], counts[k], flip_every);
                        counts[k] += 1;
                        json!({"systemId": systems[mine[k]], "status": status,
                               "at": base.plus_millis(clock).to_rfc3339()})
                    })
                    .collect();
                let started = Instant::now();
                let r = client
                    .post(format!("{api}/health"))
                    .json(&json!({ "reports": reports }))
                    .send()
                    .await?;
                if !r.status().is_success() {
                    bail!("batch answered {}: {}", r.status(), r.text().await.unwrap_or_default());
                }
                let _ = r.bytes().await?;
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                sent += batch as u64;
            }
            anyhow::Ok((sent, latencies, mine.into_iter().zip(counts).collect::<Vec<_>>()))
        }));
    }
    let started = Instant::now();
    let mut total = 0u64;
    let mut latencies = Vec::new();
    // Reports sent so far per system, so the single phase carries on each
    // system's sequence (and its rate of status changes) where it stopped.
    let mut reports_sent = vec![0u64; systems.len()];
    for task in tasks {
        let (sent, mut l, counts) = task.await??;
        total += sent;
        latencies.append(&mut l);
        for (system, count) in counts {
            reports_sent[system] = count;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu: f64 = servers
        .iter()
        .zip(&cpu_before)
        .filter_map(|(s, before)| Some(s.cpu_ms()? - (*before)?))
        .sum();
    latencies.sort_by(f64::total_cmp);
    println!(
        "batch ingest ({} replica(s), {} clients, {}/request, status change every {} reports): \
         {total} reports in {elapsed:.1} s = {:.0} reports/s; request p50 {:.1} ms, p99 {:.1} ms; \
         slod CPU {:.1} ms per 100 reports; load average {}",
        load.replicas.max(1),
        load.concurrency,
        load.batch,
        load.flip_every,
        total as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        cpu / (total.max(1) as f64 / 100.0),
        load_average()
    );

    // Single reports at a fixed rate, open loop, round robin over the
    // systems (each system's next report comes seconds later, so they
    // never overtake each other) and over the replicas; an hour after the
    // batch phase's times.
    // Let the server settle (checkpoint the batch phase's writes) first:
    // this phase measures steady single-report latency, not the tail of
    // the burst before it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let interval = Duration::from_micros(1_000_000 / load.single_rate.max(1));
    let count = load.single_rate * load.seconds;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut handles = Vec::new();
    let single_base = base.plus_millis(60 * 60 * 1000);
    let phase_start_ms = now().millis();
    let phase_start = Instant::now();
    for i in 0..count {
        ticker.tick().await;
        let client = client.clone();
        let i_index = usize::try_from(i)?;
        let api = apis[i_index % apis.len()].clone();
        let k = i_index % systems.len();
        let system = systems[k].clone();
        let n = reports_sent[k] + i / systems.len() as u64;
        let status = ingest_status(k, n, load.flip_every);
        handles.push(tokio::spawn(async move {
            let body = json!({"systemId": system, "status": status,
                              "at": single_base.plus_millis(i as i64).to_rfc3339()});
            let started = Instant::now();
            let r = client.post(format!("{api}/health")).json(&body).send().await?;
            let ok = r.status().is_success();
            let _ = r.bytes().await?;
            let offset = started.duration_since(phase_start).as_secs_f64();
            anyhow::Ok((started.elapsed().as_secs_f64() * 1000.0, ok, offset))
        }));
    }
    let mut single = Vec::new();
    let mut slow = Vec::new();
    let mut failed = 0;
    for h in handles {
        let (ms, ok, offset) = h.await??;
        if !ok {
            failed += 1;
        }
        if ms > 10.0 {
            slow.push((offset, ms));
        }
        single.push(ms);
    }
    single.sort_by(f64::total_cmp);
    // When the slow ones came (seconds into the phase), to tell a
    // one-off stall from a steady tail.
    let mut by_second: BTreeMap<u64, (usize, f64)> = BTreeMap::new();
    for (offset, ms) in &slow {
        // Whole seconds into a phase of seconds: `as` floors, which is the point.
        #[allow(clippy::cast_possible_truncation)]
        let entry = by_second.entry(*offset as u64).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(*ms);
    }
    if let Some(receiver) = &receiver {
        let stats = receiver.stats(&client, phase_start_ms).await?;
        println!(
            "webhook deliveries of events from the single-report phase received so far: {} ({} channels)",
            stats["delivered"], load.channels
        );
    }
    let summary: Vec<String> =
        by_second.iter().map(|(s, (n, max))| format!("{s}s: {n} (max {max:.0} ms)")).collect();
    println!("single reports over 10 ms by second of the phase: {}", summary.join(", "));
    println!(
        "single reports at {}/s for {} s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {failed} failed; load average {}",
        load.single_rate,
        load.seconds,
        percentile(&single, 0.5),
        percentile(&single, 0.99),
        percentile(&single, 1.0),
        load_average()
    );
    for s in &servers {
        if let Some((peak, _)) = s.memory_mib() {
            println!("server peak RSS {peak:.1} MiB");
        }
    }
    Ok(())
}

/// An Alertmanager v4 webhook body of `alerts` alerts, alert `i` on system
/// `i mod systems`, shaped like a real one (labels, annotations, generator
/// URL: about 600 bytes an alert).
fn alertmanager_webhook(
    prefix: &str,
    alerts: usize,
    systems: usize,
    starts: Timestamp,
    ends: Option<Timestamp>,
) -> serde_json::Value {
    let alerts: Vec<_> = (0..alerts)
        .map(|i| {
            let system = format!("{prefix}-{:05}", i % systems.max(1));
            json!({
                "status": if ends.is_some() { "resolved" } else { "firing" },
                "labels": {"alertname": format!("HighErrorRate{i}"), "system": system,
                           "severity": "critical", "instance": format!("10.0.{}.{}:9100", i / 250, i % 250),
                           "job": "node", "team": "payments"},
                "annotations": {"summary": format!("{system} answers 5xx on more than 5% of requests"),
                                "description": "The error rate has been above the threshold for 5 minutes; see the runbook.",
                                "runbook_url": "https://runbooks.example.com/high-error-rate"},
                "startsAt": starts.to_rfc3339(),
                "endsAt": ends.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), Timestamp::to_rfc3339),
                "generatorURL": "http://prometheus.example:9090/graph?g0.expr=rate%28http_requests_total%5B5m%5D%29&g0.tab=1",
                "fingerprint": format!("{prefix}{i:010x}")
            })
        })
        .collect();
    json!({"receiver": "slod", "status": "firing", "version": "4", "groupKey": "{}:{}",
           "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
           "externalURL": "http://alertmanager.example:9093", "alerts": alerts})
}

async fn alertmanager(
    bin: &str,
    database: &str,
    alerts: usize,
    systems: usize,
) -> anyhow::Result<()> {
    let server = Server::start(bin, database).await?;
    let url = format!("{}/api/v1/integrations/alertmanager", server.base);
    let client = reqwest::Client::new();
    let run = now();
    // Systems of their own, so runs can share a database.
    let prefix = format!("am{:x}", run.millis() % 0xff_ffff);
    let starts = run.minus_millis(10 * 60 * 1000);
    let ends = run.minus_millis(60 * 1000);
    println!("load average before: {}", load_average());
    for (label, body) in [
        (
            "firing (systems created, outages opened)",
            alertmanager_webhook(&prefix, alerts, systems, starts, None),
        ),
        (
            "firing again (Alertmanager's repeat)",
            alertmanager_webhook(&prefix, alerts, systems, starts, None),
        ),
        (
            "resolved (outages closed)",
            alertmanager_webhook(&prefix, alerts, systems, starts, Some(ends)),
        ),
    ] {
        let body = body.to_string();
        let bytes = body.len();
        let cpu_before = server.cpu_ms();
        let started = Instant::now();
        let response =
            client.post(&url).header("content-type", "application/json").body(body).send().await?;
        let status = response.status();
        let answer = response.text().await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if !status.is_success() {
            bail!("{url} answered {status}: {answer}");
        }
        let cpu = match (cpu_before, server.cpu_ms()) {
            (Some(before), Some(after)) => format!("{:.0} ms", after - before),
            _ => "n/a".to_owned(),
        };
        println!(
            "{label}: {alerts} alerts on {systems} systems, {:.1} MB, {elapsed:.0} ms \
             (server CPU {cpu}); answer {answer}",
            bytes as f64 / 1e6
        );
    }
    if let Some((peak, current)) = server.memory_mib() {
        println!("server memory: peak RSS {peak:.1} MiB, current RSS {current:.1} MiB");
    }
    println!("load average after: {}", load_average());
    Ok(())
}
