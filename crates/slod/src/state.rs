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
use crate::notify::Notifier;

/// What every handler can reach: storage, the clock, notifications (test
/// sends, the live event stream) and access control (SPEC §16).
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub notifier: Arc<Notifier>,
    pub access: Arc<Access>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        notifier: Arc<Notifier>,
        access: Arc<Access>,
    ) -> Self {
        Self { store, clock, notifier, access }
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
