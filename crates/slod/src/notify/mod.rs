//! Notifications (SPEC §8): getting outbox events to people.
//!
//! Every change writes the events it causes to the outbox, and the outbox's
//! enqueue fans each one out to a delivery row per subscribed channel, all in
//! the change's own transaction (see `slod_store::notify`). This module is
//! what happens after commit:
//!
//! - [`delivery`]: the delivery worker: claims due deliveries under a lease,
//!   sends them (webhook, Slack, Teams; [`render`], [`sign`]) with bounded
//!   concurrency per channel, records every attempt, retries with backoff.
//! - [`stream`]: the live Server-Sent-Events stream, fed by tailing the
//!   outbox.
//! - the 30-second alert evaluator: budget keeps burning while downtime is
//!   open, so thresholds are judged again for those objectives even when no
//!   report arrives ([`crate::service::alerts::evaluate_open_downtime`]).
//!
//! A [`Notifier`] holds what they share. [`Notifier::start`] spawns the
//! background tasks next to the HTTP server; [`Notifier::shutdown`] stops
//! them (and ends open event streams, so a graceful shutdown is not held up
//! by clients that never disconnect). Tests call the "run once now"
//! functions instead: [`Notifier::deliver_due`] and
//! [`Notifier::evaluate_alerts`].

pub mod delivery;
pub mod render;
pub mod sign;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use slod_core::time::Timestamp;
use slod_store::notify::ChannelRow;
use slod_store::Store;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::service::alerts;
use crate::service::egress::{self, EgressPolicy};
use delivery::SendResult;
use render::{Envelope, RenderContext, TEST_EVENT_TYPE};
use stream::{Cursor, StreamHub};

/// Completes once `stop` turns true (or its sender is gone). Returns `()`
/// so that `tokio::select!` holds no borrow of the channel across awaits.
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Timings and limits of delivery, evaluation and streaming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// One attempt, connect to last byte.
    pub attempt_timeout: Duration,
    /// Attempts in flight per channel.
    pub per_channel_concurrency: u32,
    /// How long a claimed delivery stays the claimer's; longer than an
    /// attempt, so only a dead worker's claims expire.
    pub lease: Duration,
    /// How often the worker looks for due deliveries.
    pub poll_interval: Duration,
    /// How often the event stream tails the outbox.
    pub stream_poll_interval: Duration,
    /// How often thresholds are judged for objectives with open downtime.
    pub evaluate_interval: Duration,
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// How long a failing delivery is retried before it is abandoned.
    pub retry_period: Duration,
    /// How long finished deliveries (and their attempts) are kept.
    pub retention: Duration,
    /// Which addresses webhooks may reach (SPEC §16): checked on every
    /// address a channel's host resolves to, at every send.
    pub egress: EgressPolicy,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(10),
            per_channel_concurrency: 64,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(100),
            stream_poll_interval: Duration::from_millis(250),
            evaluate_interval: Duration::from_secs(30),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(600),
            retry_period: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(7 * 24 * 3600),
            egress: EgressPolicy::default(),
        }
    }
}

/// What a test send did (`POST /channels/{id}/test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSend {
    pub event_id: String,
    pub result: SendResult,
}

/// The delivery client's resolver: resolves with the system resolver and
/// refuses a name any of whose addresses the policy refuses
/// ([`egress::resolve_checked`]).
struct CheckedResolver {
    policy: EgressPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let addresses = egress::resolve_checked(name.as_str(), policy).await?;
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// The notification machinery one process shares: the HTTP client, the
/// live stream's hub, and the stop signal of the background tasks.
pub struct Notifier {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    hub: StreamHub,
    settings: NotifySettings,
    stop: watch::Sender<bool>,
    /// Woken when a send finishes, so the worker claims the freed slot.
    wake: Notify,
}

/// The background tasks [`Notifier::start`] spawned.
pub struct NotifyTasks {
    tasks: JoinSet<()>,
}

impl NotifyTasks {
    /// Waits for the tasks to finish after [`Notifier::shutdown`].
    pub async fn join(mut self) {
        while let Some(result) = self.tasks.join_next().await {
            if let Err(err) = result {
                tracing::error!(error = %err, "a notification task failed");
            }
        }
    }
}

impl Notifier {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: NotifySettings,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // A webhook answers or it does not; following redirects would
            // re-send the body (and signature) somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            // SPEC §16: every name is resolved by us, every address checked,
            // and the connection made to the checked addresses only. No
            // proxy from the environment: through one, the check would see
            // the proxy's address, not the target's.
            .dns_resolver(Arc::new(CheckedResolver { policy: settings.egress }))
            .no_proxy()
            .connect_timeout(settings.attempt_timeout)
            .pool_max_idle_per_host(settings.per_channel_concurrency as usize)
            .user_agent(concat!("slod/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client for notifications")?;
        let (stop, _) = watch::channel(false);
        Ok(Self { store, clock, http, hub: StreamHub::new(), settings, stop, wake: Notify::new() })
    }

    pub fn settings(&self) -> &NotifySettings {
        &self.settings
    }

    /// The live stream's hub, for SSE handlers.
    pub fn hub(&self) -> &StreamHub {
        &self.hub
    }

    /// Turns true once the process is shutting down; event streams end then.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Starts the outbox tailer of the event stream and, when `workers`,
    /// the delivery worker and the 30-second alert evaluator. The tailer's
    /// starting point is read before this returns, so every event committed
    /// afterwards reaches the stream.
    pub async fn start(self: &Arc<Self>, workers: bool) -> NotifyTasks {
        let mut tasks = JoinSet::new();
        let cursor = Cursor::at_head(&*self.store).await;
        tasks.spawn(stream::run_tailer(
            self.store.clone(),
            self.hub.clone(),
            cursor,
            self.settings.stream_poll_interval,
            self.stop_signal(),
        ));
        if workers {
            tasks.spawn(self.clone().run_delivery_worker(self.stop_signal()));
            tasks.spawn(self.clone().run_alert_evaluator(self.stop_signal()));
        }
        NotifyTasks { tasks }
    }

    /// Stops the background tasks and ends open event streams.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    /// Judges thresholds now for every objective with open downtime and
    /// enqueues the events due (the evaluator's one pass); returns how many.
    pub async fn evaluate_alerts(&self, now: Timestamp) -> anyhow::Result<usize> {
        alerts::evaluate_open_downtime(&*self.store, now)
            .await
            .context("evaluating alert thresholds")
    }

    async fn run_alert_evaluator(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.settings.evaluate_interval);
        // After a stall, run once and carry on; never a burst of catch-ups.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stopped(&mut stop) => return,
                _ = ticks.tick() => {}
            }
            match self.evaluate_alerts(self.clock.now()).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "alert thresholds crossed"),
                Err(err) => tracing::warn!(error = %format!("{err:#}"), "alert evaluation failed"),
            }
        }
    }

    /// Sends a test message to `channel` now and reports what happened;
    /// nothing is stored.
    pub async fn send_test(&self, channel: &ChannelRow, now: Timestamp) -> TestSend {
        let event_id = slod_store::new_id();
        let data = serde_json::json!({
            "channelId": channel.id,
            "channelName": channel.name,
            "message": "Test notification from slod",
        });
        let envelope =
            Envelope { id: &event_id, event_type: TEST_EVENT_TYPE, occurred_at: now, data: &data };
        let context =
            RenderContext { channel_name: Some(channel.name.clone()), ..RenderContext::default() };
        let result = self.send(channel, &envelope, &context).await;
        TestSend { event_id, result }
    }
}
