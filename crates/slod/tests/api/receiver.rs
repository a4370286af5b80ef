//! A local HTTP receiver standing in for webhook, Slack and Teams targets:
//! an axum server on 127.0.0.1:0 that records every request (path, headers,
//! exact body bytes) and answers with programmable status codes.
//!
//! ```ignore
//! let receiver = Receiver::start().await;
//! receiver.respond_with(&[500, 500, 500]); // then the default, 200
//! // … point a channel at receiver.url("/hook") …
//! let got = receiver.wait_for_count("/hook", 1, Duration::from_secs(5)).await;
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    pub body: Bytes,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inner {
    requests: Mutex<Vec<Received>>,
    /// Statuses for the next requests, per path (`""`: any path).
    script: Mutex<HashMap<String, VecDeque<u16>>>,
    default_status: Mutex<HashMap<String, u16>>,
    arrived: Notify,
}

#[derive(Clone)]
pub struct Receiver {
    base: String,
    inner: Arc<Inner>,
}

async fn record(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_owned();
    let status = {
        let mut script = inner.script.lock().unwrap();
        let scripted = script.get_mut(&path).and_then(VecDeque::pop_front);
        scripted.or_else(|| script.get_mut("").and_then(VecDeque::pop_front))
    }
    .or_else(|| {
        let defaults = inner.default_status.lock().unwrap();
        defaults.get(&path).or(defaults.get("")).copied()
    })
    .unwrap_or(200);
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_ascii_lowercase(), value.to_str().unwrap_or("").to_owned())
        })
        .collect();
    inner.requests.lock().unwrap().push(Received { path, headers, body, status });
    inner.arrived.notify_waiters();
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(record).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, inner }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers the next requests to `path` with these statuses, in order,
    /// then with the default.
    pub fn script(&self, path: &str, statuses: &[u16]) {
        self.inner.script.lock().unwrap().entry(path.to_owned()).or_default().extend(statuses);
    }

    /// What requests to `path` get once the script runs out (200 unless
    /// set).
    pub fn set_default(&self, path: &str, status: u16) {
        self.inner.default_status.lock().unwrap().insert(path.to_owned(), status);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.inner.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Received> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits until `path` has received at least `count` requests matching
    /// `keep`, or panics after `timeout`.
    pub async fn wait_for(
        &self,
        path: &str,
        count: usize,
        timeout: Duration,
        keep: impl Fn(&Received) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let arrived = self.inner.arrived.notified();
            let got: Vec<Received> =
                self.requests_to(path).into_iter().filter(|r| keep(r)).collect();
            if got.len() >= count {
                return got;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("{path} got {} of {count} requests within {timeout:?}", got.len());
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), arrived).await;
        }
    }

    /// Requests to `path` whose body has `type` = `event_type`.
    pub fn events_to(&self, path: &str, event_type: &str) -> Vec<Received> {
        self.requests_to(path)
            .into_iter()
            .filter(|r| {
                serde_json::from_slice::<Value>(&r.body).is_ok_and(|b| b["type"] == event_type)
            })
            .collect()
    }
}

/// A port that accepts connections and never answers: an unreachable
/// receiver that ties a sender up until its timeout.
pub async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/never", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}
