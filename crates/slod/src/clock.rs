//! Where "now" comes from.
//!
//! Handlers and jobs never read the system time directly: they ask the
//! [`Clock`] held in the application state and pass the instant down to the
//! service and the engine. Production uses [`SystemClock`]; tests use
//! [`ManualClock`] and move time by hand, so windows, burn rates and the
//! "not in the future" rules are tested without sleeping.
//!
//! ```
//! use slod::clock::{Clock, ManualClock};
//! use slod_core::time::{Timestamp, MINUTE_MS};
//!
//! let clock = ManualClock::new(Timestamp::from_millis(0));
//! clock.advance(10 * MINUTE_MS);
//! assert_eq!(clock.now(), Timestamp::from_millis(10 * MINUTE_MS));
//! ```

use std::sync::atomic::{AtomicI64, Ordering};

use slod_core::time::Timestamp;

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The machine's wall clock, in UTC milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self { millis: AtomicI64::new(start.millis()) }
    }

    pub fn set(&self, to: Timestamp) {
        self.millis.store(to.millis(), Ordering::SeqCst);
    }

    pub fn advance(&self, millis: i64) {
        self.millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.millis.load(Ordering::SeqCst))
    }
}
