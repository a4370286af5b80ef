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
//!
//! Background jobs wait for an instant with [`Clock::sleep_until`]: the
//! wall clock sleeps real time, while a [`ManualClock`] wakes its sleepers
//! whenever a test moves it, so a scheduler driven by it runs a year of
//! midnights in milliseconds.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use slod_core::time::Timestamp;
use tokio::sync::watch;

/// What [`Clock::sleep_until`] returns.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;

    /// Completes once the clock reads `deadline` or later, or after at most
    /// `max` of real time, whichever comes first; callers re-read
    /// [`now`](Self::now) afterwards. The cap keeps a sleeper honest when
    /// the wall clock jumps (suspend, NTP step). The default sleeps real
    /// time, which is right for any clock that follows the wall.
    fn sleep_until(&self, deadline: Timestamp, max: Duration) -> Sleep<'_> {
        let ahead =
            u64::try_from(deadline.millis().saturating_sub(self.now().millis())).unwrap_or(0);
        Box::pin(tokio::time::sleep(Duration::from_millis(ahead).min(max)))
    }
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
    /// Ticks on every move, waking [`Clock::sleep_until`] sleepers.
    moved: watch::Sender<()>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self { millis: AtomicI64::new(start.millis()), moved: watch::Sender::new(()) }
    }

    pub fn set(&self, to: Timestamp) {
        self.millis.store(to.millis(), Ordering::SeqCst);
        self.moved.send_replace(());
    }

    pub fn advance(&self, millis: i64) {
        self.millis.fetch_add(millis, Ordering::SeqCst);
        self.moved.send_replace(());
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.millis.load(Ordering::SeqCst))
    }

    fn sleep_until(&self, deadline: Timestamp, max: Duration) -> Sleep<'_> {
        // Subscribe before reading the time, so a move in between is seen.
        let mut moved = self.moved.subscribe();
        Box::pin(async move {
            let _ = tokio::time::timeout(max, async {
                while self.now() < deadline {
                    if moved.changed().await.is_err() {
                        // Unreachable while `self` lives (it owns the
                        // sender); sleep out the cap rather than spin.
                        std::future::pending::<()>().await;
                    }
                }
            })
            .await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_its_sleepers_when_moved() {
        let clock = std::sync::Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move {
                clock.sleep_until(Timestamp::from_millis(1000), Duration::from_secs(60)).await;
                clock.now()
            })
        };
        clock.advance(500);
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "500 ms is not enough");
        clock.advance(500);
        let woke_at = tokio::time::timeout(Duration::from_secs(5), sleeper).await;
        assert_eq!(woke_at.unwrap().unwrap(), Timestamp::from_millis(1000));
    }

    #[tokio::test]
    async fn sleeping_is_capped_in_real_time() {
        let clock = ManualClock::new(Timestamp::from_millis(0));
        let started = std::time::Instant::now();
        clock.sleep_until(Timestamp::from_millis(1_000_000), Duration::from_millis(20)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        // A deadline already passed returns at once.
        SystemClock.sleep_until(Timestamp::from_millis(0), Duration::from_secs(60)).await;
    }
}
