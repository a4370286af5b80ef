//! The state every HTTP handler reaches, API and dashboard alike.
//!
//! It sits below both front ends (and below [`crate::app`], which builds
//! the router around it), so neither has to import the other, or the
//! application, to name it.

use std::sync::Arc;

use slod_core::time::Timestamp;
use slod_store::Store;

use crate::access::Access;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::service::corrections::Actor;
use crate::service::health::ReportQueue;

/// What every handler can reach: storage, the clock, notifications (test
/// sends, the live event stream), access control (SPEC §16), and the
/// process's metrics (`GET /metrics`, counted by the HTTP middleware and
/// the handlers).
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub notifier: Arc<Notifier>,
    pub access: Arc<Access>,
    pub metrics: Arc<Metrics>,
    /// `POST /health`'s group commit (`service::health::ReportQueue`).
    pub reports: Arc<ReportQueue>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        notifier: Arc<Notifier>,
        access: Arc<Access>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { store, clock, notifier, access, metrics, reports: Arc::new(ReportQueue::new()) }
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// Who is making the request (SPEC §17's `author`): the [`Actor`] an
/// authentication layer put in the request's extensions, else `local`.
/// API and dashboard handlers both take it from here, so wiring tokens in
/// (SPEC §16) is one `insert` in a middleware.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Actor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Actor>().cloned().unwrap_or_default())
    }
}
