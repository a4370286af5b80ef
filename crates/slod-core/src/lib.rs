//! slod's pure domain: validated types, the downtime engine and the SLO
//! arithmetic.
//!
//! Nothing here does I/O or reads the clock: every function that depends on
//! time takes `now`/`at` as a parameter. The binary loads state through a
//! store, calls into this crate, and writes the results back.
//!
//! - [`model`]: ids, systems, objectives and downtime events (SPEC §1, §2).
//! - [`engine`]: health reports to downtime-event changes (SPEC §3).
//! - [`status`]: availability, error budget and burn rates (SPEC §4).
//! - [`maintenance`]: maintenance windows, their recurrence and occurrences
//!   (SPEC §12).
//! - [`corrections`]: corrections as an overlay on downtime, and SLA
//!   statement intervals (SPEC §17).
//! - [`burn_alerts`]: multiwindow burn-rate alert tiers (SPEC §12).
//! - [`time`]: millisecond UTC timestamps.
//! - [`window`]: rolling and calendar windows, calendar periods in IANA time
//!   zones (SPEC §17).
//! - [`streak`]: daily snapshots, streaks and job scheduling (SPEC §5, §6).
//! - [`audit`]: the invariants `slod check` verifies, and the rebuild of
//!   events from the report log (SPEC §12).
//! - [`achievements`]: achievement definitions and unlock rules (SPEC §7).
//! - [`digest`]: the weekly digest (SPEC §6).
//! - [`events`]: notification events and their envelope (SPEC §8).

pub mod achievements;
pub mod audit;
pub mod burn_alerts;
pub mod corrections;
pub mod digest;
pub mod engine;
pub mod events;
pub mod graph;
pub mod maintenance;
pub mod model;
pub mod status;
pub mod streak;
pub mod time;
pub mod window;
