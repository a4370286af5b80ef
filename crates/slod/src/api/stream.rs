//! `GET /events/stream`: every notification event as it happens, as
//! Server-Sent Events (SPEC §8).
//!
//! Each event arrives as `event: <type>`, `id: <outbox sequence>`,
//! `data: {id, type, occurredAt, data}`. `?types=a,b` (or `types` repeated)
//! keeps only those types; an unknown type is a 400 naming `types`. A
//! comment line (`: keep-alive`) every 15 s keeps proxies from closing an
//! idle stream, and one (`: connected`) opens it, so a client knows it is
//! subscribed. A client too slow to keep up gets `event: lagged` with
//! `{"missed": n}` and continues from the newest events; it never holds up
//! anyone else (see [`crate::notify::stream`]). Streams end when the server
//! shuts down.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use slod_core::events::EventType;
use slod_core::model::ValidationError;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::error::{ApiError, ApiResult};
use super::extract::QueryParams;
use crate::notify::stream::StreamItem;
use crate::state::AppState;

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `?types=`: `None` for every type.
fn type_filter(query: &QueryParams) -> ApiResult<Option<BTreeSet<EventType>>> {
    query.only(&["types"])?;
    let mut wanted = BTreeSet::new();
    for raw in query.all("types").flat_map(|value| value.split(',')) {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let parsed = EventType::parse(raw).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            ApiError::validation(ValidationError::new(
                "types",
                format!("`{raw}` is not an event type (known: {})", known.join(", ")),
            ))
        })?;
        wanted.insert(parsed);
    }
    Ok((!wanted.is_empty()).then_some(wanted))
}

struct Subscription {
    events: broadcast::Receiver<Arc<StreamItem>>,
    stop: watch::Receiver<bool>,
    filter: Option<BTreeSet<EventType>>,
    opened: bool,
}

impl Subscription {
    async fn next(&mut self) -> Option<Event> {
        if !self.opened {
            self.opened = true;
            return Some(Event::default().comment("connected"));
        }
        loop {
            let received = tokio::select! {
                () = crate::notify::stopped(&mut self.stop) => return None,
                received = self.events.recv() => received,
            };
            match received {
                Ok(item) => {
                    if self.filter.as_ref().is_some_and(|f| !f.contains(&item.event_type)) {
                        continue;
                    }
                    return Some(
                        Event::default()
                            .event(item.event_type.as_str())
                            .id(item.seq.to_string())
                            .data(item.json.as_str()),
                    );
                }
                Err(RecvError::Lagged(missed)) => {
                    return Some(
                        Event::default()
                            .event("lagged")
                            .data(serde_json::json!({ "missed": missed }).to_string()),
                    );
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

#[utoipa::path(get, path = "/events/stream", tag = "notifications", params(("types" = Option<String>, Query, description = "Comma-separated event types to receive; default all")), responses((status = 200, description = "Server-Sent Events: each notification event as it is committed, `event:` its type, `data:` its JSON envelope", content_type = "text/event-stream", body = String)))]
pub(super) async fn stream(
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let filter = type_filter(&query)?;
    // Subscribed before the response starts: whatever is published after
    // the client sees `: connected` reaches it.
    let subscription = Subscription {
        events: state.notifier.hub().subscribe(),
        stop: state.notifier.stop_signal(),
        filter,
        opened: false,
    };
    let events = stream::unfold(subscription, |mut subscription| async move {
        let event = subscription.next().await?;
        Some((Ok(event), subscription))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}
