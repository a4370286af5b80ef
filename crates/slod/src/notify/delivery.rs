//! Delivering outbox events to channels: claim, send, record.
//!
//! Deliveries are rows the outbox's enqueue fanned out (one per event and
//! subscribed channel, see `slod_store::notify`). A worker:
//!
//! 1. reads which channels have deliveries due ([`NotifyStore::due_channels`],
//!    a cheap read) and, for each that has free sending slots, claims up to
//!    that many under a lease ([`NotifyTx::claim_deliveries`]);
//! 2. sends each one in its own task, with a timeout per attempt;
//! 3. records every attempt and its outcome ([`NotifyTx::record_attempts`]):
//!    any 2xx is delivered; anything else is retried after 1 s, 2 s, 4 s, …
//!    capped at 10 minutes, until it has failed for the whole retry period
//!    (24 h from the first attempt), when it is abandoned.
//!
//! Each channel has at most
//! [`per_channel_concurrency`](super::NotifySettings::per_channel_concurrency)
//! attempts in flight, and holds at most a few slot-fulls of claimed rows
//! (no more than it can attempt within half the lease if every attempt times
//! out, see `Notifier::claim_cap`), so a channel whose receiver hangs ties up
//! its own slots (for at most the attempt timeout each) and its own claims,
//! and nothing else: other channels keep being claimed and sent. A busy
//! channel with a quick receiver is not held to one slot-full per cycle.
//! Each worker cycle records the attempts finished since the last
//! one and claims new deliveries in a single transaction, so a burst of
//! events costs a few transactions, not one per attempt (on SQLite every
//! commit is an fsync shared with report ingestion).
//!
//! Everything a retry needs is in the database; a killed worker's leases
//! expire and its deliveries become due again (at-least-once, and the event
//! id in `X-Slod-Delivery` lets receivers drop the duplicate).
//!
//! [`Notifier::deliver_due`] runs the same steps once, waits for every send
//! and record, and returns: tests drive delivery deterministically with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::DeliveryResult;
use slod_core::events::NotificationEvent;
use slod_core::time::Timestamp;
use slod_store::notify::{AttemptOutcome, AttemptRecord, ChannelKind, ChannelRow, ClaimedDelivery};
use slod_store::Store;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use super::render::{self, Envelope, RenderContext};
use super::{Notifier, NotifySettings};
use crate::service::status;

/// Attempts kept for recording while the database refuses writes.
const MAX_UNRECORDED: usize = 10_000;
/// How often finished deliveries older than the retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The shortest time between two delivery cycles (each one transaction):
/// a busy channel records and claims in batches, not a row at a time.
const CYCLE: Duration = Duration::from_millis(25);
/// A channel holds at most this many slot-fulls of claims ([`Notifier::claim_cap`]).
const MAX_CLAIM_ROUNDS: u32 = 4;
/// The most of a failed response's body kept in the attempt log.
const ERROR_BODY_BYTES: usize = 300;

/// The delay before retry number `attempt` (1 after the first failure):
/// `first`, doubling, at most `max`.
pub fn backoff(attempt: u32, first: Duration, max: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1).min(30);
    first.saturating_mul(1u32 << doublings).min(max)
}

/// What becomes of a delivery whose attempt number `attempt` failed at
/// `finished`: retried after the backoff, or abandoned once the retry
/// period since the first attempt is over.
pub fn after_failure(
    attempt: u32,
    first_attempt_at: Option<Timestamp>,
    finished: Timestamp,
    settings: &NotifySettings,
) -> AttemptOutcome {
    let first = first_attempt_at.unwrap_or(finished);
    let retrying_for = finished.millis().saturating_sub(first.millis());
    if retrying_for >= millis(settings.retry_period) {
        return AttemptOutcome::GaveUp;
    }
    let delay = backoff(attempt, settings.first_retry, settings.max_retry);
    AttemptOutcome::RetryAt(finished.plus_millis(millis(delay)))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// What one send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
    pub duration: Duration,
}

/// What [`Notifier::deliver_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRun {
    pub attempted: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub abandoned: usize,
}

/// `err` and its causes, without the URL (which may carry a credential,
/// like a Slack webhook's path).
fn describe(err: reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_owned();
    }
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl Notifier {
    /// Sends one rendered request to `channel`, with the attempt timeout.
    pub(super) async fn send(
        &self,
        channel: &ChannelRow,
        event: &Envelope<'_>,
        context: &RenderContext,
    ) -> SendResult {
        let started = Instant::now();
        // A host written as an address never reaches the checking resolver.
        if let Err(refused) =
            crate::service::egress::check_literal_host(&channel.url, self.settings.egress)
        {
            return SendResult {
                status_code: None,
                error: Some(refused.to_string()),
                delivered: false,
                duration: started.elapsed(),
            };
        }
        let rendered = render::render(channel.kind, channel.secret.as_deref(), event, context);
        let mut request =
            self.http.post(&channel.url).timeout(self.settings.attempt_timeout).body(rendered.body);
        for (name, value) in rendered.headers {
            request = request.header(name, value);
        }
        let attempt = async {
            let mut response = request.send().await?;
            let status = response.status();
            if status.is_success() {
                return Ok((status.as_u16(), None));
            }
            // Keep the start of the body: receivers explain themselves there
            // (Slack answers `invalid_payload`, `no_service`, …).
            let mut body = Vec::new();
            while body.len() < ERROR_BODY_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            body.truncate(ERROR_BODY_BYTES);
            let text = String::from_utf8_lossy(&body).trim().replace(['\n', '\r'], " ");
            let reason = status.canonical_reason().unwrap_or("");
            let mut error = format!("HTTP {} {reason}", status.as_u16()).trim_end().to_owned();
            if !text.is_empty() {
                error.push_str(": ");
                error.push_str(&text);
            }
            Ok::<_, reqwest::Error>((status.as_u16(), Some(error)))
        };
        let (status_code, error) = match attempt.await {
            Ok((code, error)) => (Some(code), error),
            Err(err) => (None, Some(describe(err))),
        };
        SendResult { delivered: error.is_none(), status_code, error, duration: started.elapsed() }
    }

    /// What a Slack or Teams message says besides the payload: the system's
    /// name, the objective's target and window, the budget left. Webhooks
    /// get the payload as it is and need none of it.
    pub(super) async fn context_for(
        &self,
        channel: &ChannelRow,
        event: &NotificationEvent,
        now: Timestamp,
    ) -> RenderContext {
        let mut context =
            RenderContext { channel_name: Some(channel.name.clone()), ..RenderContext::default() };
        if channel.kind == ChannelKind::Webhook {
            return context;
        }
        let data = &event.data;
        if let Some(raw) = data.get("systemId").and_then(|v| v.as_str()) {
            if let Ok(id) = slod_core::model::SystemId::parse(raw, "systemId") {
                if let Ok(Some(row)) = self.store.get_system(&id).await {
                    context.system_name = Some(row.system.name);
                }
            }
        }
        let objective = match data.get("objectiveId").and_then(|v| v.as_str()) {
            Some(id) => self.store.get_objective(id).await.ok().flatten(),
            None => None,
        };
        context.objective = objective.as_ref().map(|o| (o.target.get(), o.window));
        context.budget_remaining_percent =
            data.get("budgetRemainingPercent").and_then(|v| v.as_f64());
        if event.event_type == slod_core::events::EventType::BudgetExhausted {
            context.budget_remaining_percent = Some(0.0);
        }
        if context.budget_remaining_percent.is_none() {
            if let Some(objective) = objective {
                if let Ok(mut items) =
                    status::with_status(&*self.store, vec![objective], None, now).await
                {
                    context.budget_remaining_percent =
                        items.pop().map(|item| item.status.error_budget_remaining_percent);
                }
            }
        }
        context
    }

    /// One attempt at a claimed delivery, timed by the clock (or `at`, when
    /// a test drives time).
    async fn attempt(&self, delivery: &ClaimedDelivery, at: Option<Timestamp>) -> AttemptRecord {
        let now = || at.unwrap_or_else(|| self.clock.now());
        let started_at = now();
        let event = &delivery.event;
        let context = self.context_for(&delivery.channel, event, started_at).await;
        let envelope = Envelope {
            id: &event.id,
            event_type: event.event_type.as_str(),
            occurred_at: event.occurred_at,
            data: &event.data,
        };
        let result = self.send(&delivery.channel, &envelope, &context).await;
        let finished_at = now();
        let outcome = if result.delivered {
            AttemptOutcome::Delivered
        } else {
            after_failure(delivery.attempt, delivery.first_attempt_at, finished_at, &self.settings)
        };
        let counted = match outcome {
            AttemptOutcome::Delivered => DeliveryResult::Delivered,
            AttemptOutcome::RetryAt(_) => DeliveryResult::Failed,
            AttemptOutcome::GaveUp => DeliveryResult::Abandoned,
        };
        self.metrics.count_delivery(delivery.channel.kind.as_str(), counted);
        if let Some(error) = &result.error {
            // Never the URL or the secret: the channel's id and name only.
            tracing::info!(
                channel = %delivery.channel.id,
                event = %event.id,
                event_type = %event.event_type,
                attempt = delivery.attempt,
                error = %error,
                "delivery attempt failed"
            );
        }
        AttemptRecord {
            delivery_id: delivery.delivery_id,
            lease_token: delivery.lease_token.clone(),
            channel_id: delivery.channel.id.clone(),
            event_id: event.id.clone(),
            event_type: event.event_type,
            attempt: delivery.attempt,
            started_at,
            finished_at,
            status_code: result.status_code,
            error: result.error,
            outcome,
        }
    }

    /// Claims up to `wanted` deliveries per channel, leased from `now`.
    async fn claim(
        &self,
        now: Timestamp,
        wanted: &[(String, u32)],
    ) -> anyhow::Result<Vec<ClaimedDelivery>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.store.begin_bookkeeping().await?;
        let lease_until = now.plus_millis(millis(self.settings.lease));
        let claimed = tx.claim_deliveries(now, lease_until, wanted).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Delivers everything due at `now`, waits for every attempt and its
    /// record, and returns what happened. Attempts are timed at `now`, so a
    /// test moving a [`ManualClock`](crate::clock::ManualClock) gets an exact
    /// retry schedule. Deliveries that fail are not retried within the same
    /// call (their next attempt is at least a second later).
    pub async fn deliver_due(&self, now: Timestamp) -> anyhow::Result<DeliveryRun> {
        let mut run = DeliveryRun::default();
        loop {
            let due = self.store.due_channels(now).await?;
            let per_channel = self.settings.per_channel_concurrency;
            let wanted: Vec<(String, u32)> = due.into_iter().map(|c| (c, per_channel)).collect();
            let claimed = self.claim(now, &wanted).await?;
            if claimed.is_empty() {
                return Ok(run);
            }
            let attempts = claimed.iter().map(|delivery| self.attempt(delivery, Some(now)));
            let records = futures_util::future::join_all(attempts).await;
            for record in &records {
                run.attempted += 1;
                match record.outcome {
                    AttemptOutcome::Delivered => run.delivered += 1,
                    AttemptOutcome::RetryAt(_) => run.retrying += 1,
                    AttemptOutcome::GaveUp => run.abandoned += 1,
                }
            }
            write_records(&*self.store, &records).await?;
        }
    }

    /// The background worker: dispatches due deliveries until `stop`, then
    /// lets the attempts in flight finish (each is bounded by the attempt
    /// timeout) and records them.
    ///
    /// Each cycle is one write transaction that records the attempts
    /// finished since the last cycle *and* claims what the channels have
    /// room for: on SQLite every transaction holds the one writer that
    /// report ingestion waits for, so a burst of deliveries must cost a few
    /// transactions, not one per row. They are bookkeeping transactions
    /// ([`Store::begin_bookkeeping`]): their commits do not wait for the
    /// disk, since a lost claim or record only means a repeated attempt.
    /// Cycles run at most every [`CYCLE`], sooner never.
    pub(super) async fn run_delivery_worker(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let (records, mut finished) = mpsc::unbounded_channel::<AttemptRecord>();
        let in_flight: HeldClaims = Arc::default();
        let mut sends = JoinSet::new();
        let mut unrecorded: Vec<AttemptRecord> = Vec::new();
        let mut last_prune: Option<Instant> = None;
        loop {
            tokio::select! {
                () = super::stopped(&mut stop) => break,
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                () = self.wake.notified() => {}
            }
            // Let a burst of finished sends gather into this cycle.
            tokio::time::sleep(CYCLE).await;
            while sends.try_join_next().is_some() {}
            while let Ok(record) = finished.try_recv() {
                unrecorded.push(record);
            }
            match self.cycle(&in_flight, &mut sends, &records, &unrecorded).await {
                Ok(()) => unrecorded.clear(),
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "delivery cycle failed; retrying");
                    // Kept for the next cycle. Past this many, their leases
                    // have long expired and the deliveries will be sent
                    // again anyway (at-least-once): drop the oldest.
                    let excess = unrecorded.len().saturating_sub(MAX_UNRECORDED);
                    unrecorded.drain(..excess);
                }
            }
            if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                self.prune().await;
            }
        }
        let drain = async { while sends.join_next().await.is_some() {} };
        if tokio::time::timeout(self.settings.attempt_timeout + Duration::from_secs(2), drain)
            .await
            .is_err()
        {
            tracing::warn!("stopping with delivery attempts in flight; their leases will expire");
        }
        drop(records);
        while let Ok(record) = finished.try_recv() {
            unrecorded.push(record);
        }
        if let Err(err) = write_records(&*self.store, &unrecorded).await {
            tracing::warn!(error = %format!("{err:#}"), "recording the last attempts failed");
        }
    }

    /// How many claimed deliveries a channel may hold (sending or waiting
    /// for one of its [`per_channel_concurrency`] sending slots): a few
    /// cycles' worth, so a busy channel is not held to one slot-full per
    /// cycle, yet never more than can be attempted within half the lease
    /// even if every attempt runs to its timeout (a hung receiver's claims
    /// are all tried, and recorded, before anyone else may take them).
    ///
    /// [`per_channel_concurrency`]: super::NotifySettings::per_channel_concurrency
    fn claim_cap(&self) -> u32 {
        let cap = self.settings.per_channel_concurrency;
        let timeout = self.settings.attempt_timeout.as_millis().max(1);
        let rounds = self.settings.lease.as_millis() / 2 / timeout;
        let rounds = u32::try_from(rounds).unwrap_or(u32::MAX).clamp(1, MAX_CLAIM_ROUNDS);
        cap.saturating_mul(rounds)
    }

    /// One cycle: records `done` and claims what each due channel has room
    /// for, in one transaction, then starts sending what it claimed, at
    /// most `per_channel_concurrency` at a time per channel.
    async fn cycle(
        self: &Arc<Self>,
        in_flight: &HeldClaims,
        sends: &mut JoinSet<()>,
        records: &mpsc::UnboundedSender<AttemptRecord>,
        done: &[AttemptRecord],
    ) -> anyhow::Result<()> {
        let now = self.clock.now();
        let due = self.store.due_channels(now).await?;
        let cap = self.claim_cap();
        let wanted: Vec<(String, u32)> = {
            let busy = lock(in_flight);
            due.into_iter()
                .map(|channel| {
                    let used = busy.get(&channel).map_or(0, |held| held.claims);
                    (channel, cap.saturating_sub(used))
                })
                .filter(|(_, free)| *free > 0)
                .collect()
        };
        if wanted.is_empty() && done.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_bookkeeping().await?;
        if !done.is_empty() {
            tx.record_attempts(done).await?;
        }
        let lease_until = now.plus_millis(millis(self.settings.lease));
        let claimed = tx.claim_deliveries(now, lease_until, &wanted).await?;
        tx.commit().await?;
        for delivery in claimed {
            let slots = self.settings.per_channel_concurrency;
            let (slot, gate) = Slot::take(in_flight.clone(), delivery.channel.id.clone(), slots);
            let notifier = self.clone();
            let records = records.clone();
            sends.spawn(async move {
                // The gate is never closed: this waits for a sending slot
                // and holds it for the attempt only.
                let record = match gate.acquire_owned().await {
                    Ok(_sending) => notifier.attempt(&delivery, None).await,
                    Err(_) => return,
                };
                // Only fails once the worker is gone (shutting down); the
                // lease then expires and the delivery is retried.
                let _ = records.send(record);
                drop(slot);
                notifier.wake.notify_one();
            });
        }
        Ok(())
    }

    async fn prune(&self) {
        let before = self.clock.now().minus_millis(millis(self.settings.retention));
        let pruned = async {
            let mut tx = self.store.begin_bookkeeping().await?;
            let count = tx.prune_deliveries(before).await?;
            tx.commit().await?;
            Ok::<_, slod_store::StoreError>(count)
        };
        match pruned.await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "pruned finished deliveries"),
            Err(err) => tracing::warn!(error = %err, "pruning deliveries failed"),
        }
    }
}

/// What the worker holds of each channel with claims: how many claimed
/// deliveries (sending or waiting to), and its sending slots
/// (`per_channel_concurrency` permits). A channel leaves the map, slots and
/// all, with its last claim, so a deleted channel leaves nothing behind.
type HeldClaims = Arc<Mutex<HashMap<String, Held>>>;

struct Held {
    claims: u32,
    sending: Arc<Semaphore>,
}

fn lock(map: &Mutex<HashMap<String, Held>>) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
    // The map holds plain counters; a panic elsewhere cannot leave it in a
    // state worse than slightly off counts, so a poisoned lock is used as is.
    map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One of a channel's claims, given back when dropped (even if the
/// sending task panics).
struct Slot {
    map: HeldClaims,
    channel: String,
}

impl Slot {
    /// Takes one claim of `channel`, and hands out its sending slots
    /// (`slots` of them, made with its first claim).
    fn take(map: HeldClaims, channel: String, slots: u32) -> (Self, Arc<Semaphore>) {
        let sending = {
            let mut held = lock(&map);
            let held = held.entry(channel.clone()).or_insert_with(|| {
                let slots = usize::try_from(slots).unwrap_or(usize::MAX).max(1);
                Held { claims: 0, sending: Arc::new(Semaphore::new(slots)) }
            });
            held.claims += 1;
            Arc::clone(&held.sending)
        };
        (Self { map, channel }, sending)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = lock(&self.map);
        if let Some(held) = map.get_mut(&self.channel) {
            held.claims = held.claims.saturating_sub(1);
            if held.claims == 0 {
                map.remove(&self.channel);
            }
        }
    }
}

async fn write_records(store: &dyn Store, records: &[AttemptRecord]) -> anyhow::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin_bookkeeping().await?;
    tx.record_attempts(records).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_ten_minutes() {
        let first = Duration::from_secs(1);
        let max = Duration::from_secs(600);
        let delays: Vec<u64> = (1..=12).map(|n| backoff(n, first, max).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(backoff(u32::MAX, first, max), max);
    }

    #[test]
    fn gives_up_only_after_the_retry_period() {
        let settings = NotifySettings::default();
        let first = Timestamp::from_millis(1_000_000);
        let day = 24 * 3_600_000;
        assert_eq!(
            after_failure(1, None, first, &settings),
            AttemptOutcome::RetryAt(first.plus_millis(1000))
        );
        let almost = first.plus_millis(day - 1);
        assert_eq!(
            after_failure(150, Some(first), almost, &settings),
            AttemptOutcome::RetryAt(almost.plus_millis(600_000))
        );
        assert_eq!(
            after_failure(151, Some(first), first.plus_millis(day), &settings),
            AttemptOutcome::GaveUp
        );
    }
}
