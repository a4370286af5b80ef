//! The live event stream behind `GET /api/v1/events/stream` (SPEC §8).
//!
//! One tailer task per process reads the outbox
//! ([`Store::events_after`](slod_store::Store::events_after)) every
//! [`NotifySettings::stream_poll_interval`](super::NotifySettings) and
//! publishes each new event on a [`tokio::sync::broadcast`] channel; every
//! SSE client holds a receiver of it. Tailing the outbox rather than
//! publishing from the request that caused an event means:
//!
//! - a client sees every event, whichever replica (or job) committed it;
//! - it sees only committed events, in commit order (the outbox's `seq`);
//! - the cost is up to one poll interval of latency.
//!
//! A slow client never blocks anyone: the broadcast channel keeps the last
//! [`CAPACITY`] events, and a receiver that falls further behind skips ahead
//! and is told how many it missed (the `lagged` SSE event) instead of
//! holding the sender back.

use std::sync::Arc;
use std::time::Duration;

use slod_core::events::{EventType, NotificationEvent};
use slod_store::Store;
use tokio::sync::{broadcast, watch};

/// Events a receiver may fall behind by before it starts missing some.
pub const CAPACITY: usize = 4096;
/// How many outbox rows one read takes.
const PAGE: u32 = 500;

/// One event as streamed: its outbox position and its JSON, serialised once
/// for every client.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamItem {
    pub seq: i64,
    pub event_type: EventType,
    pub id: String,
    /// The envelope `{id, type, occurredAt, data}` as JSON text.
    pub json: String,
}

impl StreamItem {
    fn new(seq: i64, event: &NotificationEvent) -> Self {
        Self {
            seq,
            event_type: event.event_type,
            id: event.id.clone(),
            // A `NotificationEvent` is plain data; serialising it cannot fail.
            json: serde_json::to_string(event).unwrap_or_default(),
        }
    }
}

/// The broadcast side of the stream.
#[derive(Debug, Clone)]
pub struct StreamHub {
    sender: broadcast::Sender<Arc<StreamItem>>,
}

impl Default for StreamHub {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamHub {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        Self { sender }
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StreamItem>> {
        self.sender.subscribe()
    }

    /// Publishes `event` to every current subscriber.
    pub fn publish(&self, seq: i64, event: &NotificationEvent) {
        // An error only means nobody is listening right now.
        let _ = self.sender.send(Arc::new(StreamItem::new(seq, event)));
    }

    fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }
}

/// Where the tailer stands in the outbox.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cursor(Option<i64>);

impl Cursor {
    /// A cursor at the outbox's current end: the tailer will publish only
    /// what is committed after this returns.
    pub async fn at_head(store: &dyn Store) -> Self {
        match store.outbox_head().await {
            Ok(head) => Self(Some(head)),
            Err(err) => {
                tracing::warn!(error = %err, "event stream: cannot read the outbox yet");
                Self(None)
            }
        }
    }
}

/// Publishes what was committed to the outbox since `cursor`; returns the
/// new cursor.
pub async fn tail_once(store: &dyn Store, hub: &StreamHub, cursor: Cursor) -> Cursor {
    let Some(mut position) = cursor.0 else {
        return Cursor::at_head(store).await;
    };
    // Read the head before checking for listeners: an event committed after
    // this read is still published to a client that subscribes after the
    // check, and one committed before it predates that client.
    let head = match store.outbox_head().await {
        Ok(head) => head,
        Err(err) => {
            tracing::warn!(error = %err, "event stream: reading the outbox failed");
            return cursor;
        }
    };
    if !hub.has_subscribers() {
        return Cursor(Some(head.max(position)));
    }
    loop {
        let page = match store.events_after(position, PAGE).await {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!(error = %err, "event stream: reading the outbox failed");
                return Cursor(Some(position));
            }
        };
        for (seq, event) in &page {
            hub.publish(*seq, event);
            position = *seq;
        }
        if page.len() < PAGE as usize {
            return Cursor(Some(position));
        }
    }
}

/// Tails the outbox until `stop` turns true.
pub async fn run_tailer(
    store: Arc<dyn Store>,
    hub: StreamHub,
    mut cursor: Cursor,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = super::stopped(&mut stop) => return,
            () = tokio::time::sleep(interval) => {}
        }
        cursor = tail_once(&*store, &hub, cursor).await;
    }
}
