//! Maintenance windows as a plan (SPEC §12): a validated window with an
//! optional RFC 5545 recurrence, its occurrences in any range, its derived
//! status, and the merged occurrences a status subtracts from downtime.
//!
//! A window is `[start, end)` in UTC milliseconds; a recurring window repeats
//! that span (`end − start`, at most 31 days) from `start` on. Only a small
//! RRULE subset is accepted, and everything outside it is refused rather than
//! half-understood: `FREQ=DAILY|WEEKLY`, `INTERVAL`, `BYDAY` (weekly only) and
//! `COUNT` or `UNTIL`.
//!
//! ```
//! use slod_core::maintenance::{MaintenanceWindow, Recurrence};
//! use slod_core::time::{Timestamp, HOUR_MS};
//!
//! // Saturdays and Sundays, 02:00–04:00 UTC, four times.
//! let start = Timestamp::parse("2026-03-07T02:00:00Z").unwrap();
//! let rule = Recurrence::parse("freq=weekly;byday=SA,SU;count=4").unwrap();
//! let window =
//!     MaintenanceWindow::new(start, start.plus_millis(2 * HOUR_MS), Some(rule), false).unwrap();
//! assert_eq!(window.recurrence().unwrap().to_string(), "FREQ=WEEKLY;BYDAY=SA,SU;COUNT=4");
//! assert_eq!(window.occurrences(i64::MIN, i64::MAX).count(), 4);
//! ```

use std::fmt;

use chrono::{Datelike, NaiveDateTime};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::ValidationError;
use crate::time::{Timestamp, DAY_MS};

/// The longest one occurrence may last (SPEC §12).
pub const MAX_OCCURRENCE_MS: i64 = 31 * DAY_MS;

const WEEK_MS: i64 = 7 * DAY_MS;
const RECURRENCE: &str = "recurrence";
/// RFC 5545 weekday codes, Monday first: bit `i` of a `BYDAY` mask is
/// `WEEKDAYS[i]`.
const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
/// `UNTIL` as RFC 5545 writes a UTC date-time.
const UNTIL_FORMAT: &str = "%Y%m%dT%H%M%SZ";

fn invalid(message: impl Into<String>) -> ValidationError {
    ValidationError::new(RECURRENCE, message)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frequency {
    Daily,
    Weekly,
}

/// How a recurrence ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecurrenceEnd {
    Never,
    /// This many occurrences in all, the first at `start` (at least 1).
    Count(u32),
    /// No occurrence starts after this instant (inclusive, as in RFC 5545).
    Until(Timestamp),
}

// On the wire a recurrence is its canonical RRULE string (SPEC §12).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Recurrence {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("An RRULE of the supported subset (FREQ=DAILY or WEEKLY, INTERVAL, BYDAY, COUNT, UNTIL)"))
            .examples([serde_json::json!("FREQ=WEEKLY;BYDAY=SU")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Recurrence {}

/// A parsed RRULE of the supported subset. Validated on its own; what depends
/// on the window's `start` (BYDAY holding its weekday, UNTIL not before it)
/// is checked by [`MaintenanceWindow::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recurrence {
    frequency: Frequency,
    interval: u32,
    /// Bit `i` set: `WEEKDAYS[i]` is listed. 0 when `BYDAY` was not given (a
    /// weekly rule then repeats on the weekday of `start`, as in RFC 5545).
    by_day: u8,
    end: RecurrenceEnd,
}

impl Recurrence {
    /// Parses `FREQ=…;INTERVAL=…;BYDAY=…;COUNT=…|UNTIL=…` (names and values
    /// case-insensitive, parts in any order, an optional `RRULE:` prefix).
    /// Errors name `recurrence` and say what is wrong.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let body = text.trim();
        let body = match body.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &body[6..],
            _ => body,
        };
        if body.is_empty() {
            return Err(invalid("must not be empty (e.g. FREQ=WEEKLY;BYDAY=SA)"));
        }
        let mut frequency = None;
        let mut interval = None;
        let mut by_day = None;
        let mut count = None;
        let mut until = None;
        for part in body.split(';') {
            let Some((name, value)) = part.split_once('=') else {
                return Err(invalid(format!("`{part}` is not NAME=VALUE")));
            };
            let name = name.trim().to_ascii_uppercase();
            let value = value.trim();
            match name.as_str() {
                "FREQ" => set_once(&mut frequency, &name, parse_frequency(value)?)?,
                "INTERVAL" => set_once(&mut interval, &name, parse_positive(&name, value)?)?,
                "BYDAY" => set_once(&mut by_day, &name, parse_by_day(value)?)?,
                "COUNT" => set_once(&mut count, &name, parse_positive(&name, value)?)?,
                "UNTIL" => set_once(&mut until, &name, parse_until(value)?)?,
                "BYSECOND" | "BYMINUTE" | "BYHOUR" | "BYMONTHDAY" | "BYYEARDAY" | "BYWEEKNO"
                | "BYMONTH" | "BYSETPOS" | "WKST" => {
                    return Err(invalid(format!(
                        "{name} is not supported; only FREQ, INTERVAL, BYDAY, COUNT and UNTIL are"
                    )))
                }
                _ => return Err(invalid(format!("unknown rule part `{name}`"))),
            }
        }
        let Some(frequency) = frequency else {
            return Err(invalid("FREQ is required (DAILY or WEEKLY)"));
        };
        if by_day.is_some() && frequency != Frequency::Weekly {
            return Err(invalid("BYDAY is only allowed with FREQ=WEEKLY"));
        }
        let end = match (count, until) {
            (Some(_), Some(_)) => return Err(invalid("COUNT and UNTIL cannot both be given")),
            (Some(count), None) => RecurrenceEnd::Count(count),
            (None, Some(until)) => RecurrenceEnd::Until(until),
            (None, None) => RecurrenceEnd::Never,
        };
        Ok(Self { frequency, interval: interval.unwrap_or(1), by_day: by_day.unwrap_or(0), end })
    }

    pub fn frequency(&self) -> Frequency {
        self.frequency
    }

    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// The `BYDAY` weekdays as RFC 5545 codes, Monday first; empty when not
    /// given.
    pub fn by_day(&self) -> impl Iterator<Item = &'static str> + '_ {
        WEEKDAYS.iter().enumerate().filter(|(i, _)| self.by_day & (1 << i) != 0).map(|(_, d)| *d)
    }

    pub fn end(&self) -> RecurrenceEnd {
        self.end
    }
}

fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), ValidationError> {
    if slot.replace(value).is_some() {
        return Err(invalid(format!("{name} is given more than once")));
    }
    Ok(())
}

fn parse_frequency(value: &str) -> Result<Frequency, ValidationError> {
    match value.to_ascii_uppercase().as_str() {
        "DAILY" => Ok(Frequency::Daily),
        "WEEKLY" => Ok(Frequency::Weekly),
        other => Err(invalid(format!("FREQ={other} is not supported; use DAILY or WEEKLY"))),
    }
}

fn parse_positive(name: &str, value: &str) -> Result<u32, ValidationError> {
    match value.parse::<u32>() {
        Ok(n) if n >= 1 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(invalid(format!("{name} must be a whole number from 1 to {}", u32::MAX))),
    }
}

fn parse_by_day(value: &str) -> Result<u8, ValidationError> {
    let mut mask = 0u8;
    for day in value.split(',') {
        let day = day.trim().to_ascii_uppercase();
        let Some(bit) = WEEKDAYS.iter().position(|d| *d == day) else {
            return Err(invalid(format!(
                "BYDAY `{day}` is not a weekday; use a list of MO, TU, WE, TH, FR, SA, SU"
            )));
        };
        mask |= 1 << bit;
    }
    Ok(mask)
}

fn parse_until(value: &str) -> Result<Timestamp, ValidationError> {
    let value = value.to_ascii_uppercase();
    // chrono's `%Y` would also take a sign or more digits; RFC 5545 has
    // exactly `YYYYMMDDTHHMMSSZ`.
    let shaped = value.len() == 16
        && value.bytes().enumerate().all(|(i, b)| match i {
            8 => b == b'T',
            15 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    match NaiveDateTime::parse_from_str(&value, UNTIL_FORMAT) {
        Ok(until) if shaped => Ok(Timestamp::from_millis(until.and_utc().timestamp_millis())),
        _ => Err(invalid(format!("UNTIL `{value}` must be a UTC date-time like 20260430T235959Z"))),
    }
}

/// The canonical RRULE text: `FREQ`, then `INTERVAL` (when not 1), `BYDAY`
/// (Monday first), `COUNT` or `UNTIL`.
impl fmt::Display for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.frequency {
            Frequency::Daily => "FREQ=DAILY",
            Frequency::Weekly => "FREQ=WEEKLY",
        })?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        if self.by_day != 0 {
            f.write_str(";BYDAY=")?;
            for (i, day) in self.by_day().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                f.write_str(day)?;
            }
        }
        match self.end {
            RecurrenceEnd::Never => Ok(()),
            RecurrenceEnd::Count(count) => write!(f, ";COUNT={count}"),
            RecurrenceEnd::Until(until) => {
                write!(f, ";UNTIL={}", until.to_datetime().format(UNTIL_FORMAT))
            }
        }
    }
}

impl Serialize for Recurrence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Recurrence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A window's status as read at an instant (SPEC §12).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    Scheduled,
    InProgress,
    Completed,
    Cancelled,
}

impl MaintenanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A validated maintenance window: the plan part of SPEC §12's object (the
/// id, system and title belong to whoever stores it). Serializes as
/// `{start, end, recurrence, cancelled}`; deserializing validates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "WindowFields")]
pub struct MaintenanceWindow {
    start: Timestamp,
    end: Timestamp,
    recurrence: Option<Recurrence>,
    cancelled: bool,
}

#[derive(Deserialize)]
struct WindowFields {
    start: Timestamp,
    end: Timestamp,
    #[serde(default)]
    recurrence: Option<Recurrence>,
    #[serde(default)]
    cancelled: bool,
}

impl TryFrom<WindowFields> for MaintenanceWindow {
    type Error = ValidationError;

    fn try_from(fields: WindowFields) -> Result<Self, ValidationError> {
        Self::new(fields.start, fields.end, fields.recurrence, fields.cancelled)
    }
}

impl MaintenanceWindow {
    /// Checks SPEC §12's rules: `start < end` and at most 31 days (both
    /// naming `end`), and that the recurrence fits `start` (naming
    /// `recurrence`).
    pub fn new(
        start: Timestamp,
        end: Timestamp,
        recurrence: Option<Recurrence>,
        cancelled: bool,
    ) -> Result<Self, ValidationError> {
        if end <= start {
            return Err(ValidationError::new("end", "must be after start"));
        }
        if end.millis().saturating_sub(start.millis()) > MAX_OCCURRENCE_MS {
            return Err(ValidationError::new("end", "one occurrence may last at most 31 days"));
        }
        if let Some(rule) = &recurrence {
            let weekday = weekday_index(start.millis());
            if rule.by_day != 0 && rule.by_day & (1 << weekday) == 0 {
                return Err(invalid(format!(
                    "start falls on {}, which BYDAY does not list; the first occurrence is start",
                    usize::try_from(weekday).ok().and_then(|i| WEEKDAYS.get(i)).unwrap_or(&"?")
                )));
            }
            if let RecurrenceEnd::Until(until) = rule.end {
                if until < start {
                    return Err(invalid("UNTIL is before start"));
                }
            }
        }
        Ok(Self { start, end, recurrence, cancelled })
    }

    /// [`MaintenanceWindow::new`] with the recurrence still as text.
    pub fn parse(
        start: Timestamp,
        end: Timestamp,
        recurrence: Option<&str>,
        cancelled: bool,
    ) -> Result<Self, ValidationError> {
        let recurrence = recurrence.map(Recurrence::parse).transpose()?;
        Self::new(start, end, recurrence, cancelled)
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }

    pub fn recurrence(&self) -> Option<&Recurrence> {
        self.recurrence.as_ref()
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// The same plan, cancelled or not (a `PATCH` of `cancelled` alone needs
    /// no re-validation).
    pub fn with_cancelled(self, cancelled: bool) -> Self {
        Self { cancelled, ..self }
    }

    /// The occurrences `[start, end)` that intersect `[from, to)`, in start
    /// order, whether or not the window is cancelled. The first one is found
    /// by arithmetic, so a range years after `start` costs what a range at
    /// `start` does.
    pub fn occurrences(&self, from: i64, to: i64) -> Occurrences {
        let schedule = self.schedule();
        let max_offset =
            schedule.offsets.get(schedule.per_period.saturating_sub(1)).copied().unwrap_or(0);
        // Every occurrence of a period before `first` has ended by `from`:
        // it starts at most `max_offset` after its period and lasts
        // `duration`.
        let lower = from
            .saturating_sub(schedule.duration)
            .saturating_sub(schedule.base)
            .saturating_sub(max_offset);
        let first = lower.div_euclid(schedule.period).max(0);
        Occurrences { schedule, period: first, slot: 0, from, to, done: false }
    }

    /// `cancelled`; else `in_progress` while an occurrence runs; else
    /// `scheduled` while one is still to come; else `completed`.
    pub fn status(&self, at: Timestamp) -> MaintenanceStatus {
        let at = at.millis();
        if self.cancelled {
            MaintenanceStatus::Cancelled
        } else if self.occurrences(at, at.saturating_add(1)).next().is_some() {
            MaintenanceStatus::InProgress
        } else if self.occurrences(at, i64::MAX).next().is_some() {
            MaintenanceStatus::Scheduled
        } else {
            MaintenanceStatus::Completed
        }
    }

    /// The recurrence as periods of occurrences: one period per `INTERVAL`
    /// days (daily) or weeks (weekly, weeks starting on Monday as RFC 5545's
    /// default `WKST=MO`), each with its occurrences at fixed offsets. A
    /// one-off window is a single occurrence.
    fn schedule(&self) -> Schedule {
        let start = self.start.millis();
        let duration = self.end.millis() - start;
        let mut schedule = Schedule {
            base: start,
            period: i64::MAX,
            offsets: [0; 7],
            per_period: 1,
            skipped: 0,
            duration,
            count: Some(1),
            until: None,
        };
        let Some(rule) = &self.recurrence else {
            return schedule;
        };
        let interval = i64::from(rule.interval);
        (schedule.count, schedule.until) = match rule.end {
            RecurrenceEnd::Never => (None, None),
            RecurrenceEnd::Count(count) => (Some(i64::from(count)), None),
            RecurrenceEnd::Until(until) => (None, Some(until.millis())),
        };
        match rule.frequency {
            Frequency::Daily => schedule.period = interval * DAY_MS,
            Frequency::Weekly => {
                let weekday = weekday_index(start);
                let mask = if rule.by_day == 0 { 1 << weekday } else { rule.by_day };
                // `weekday` ≤ 6, so this is exact.
                schedule.base = start - i64::from(weekday) * DAY_MS;
                schedule.period = interval * WEEK_MS;
                schedule.per_period = 0;
                for day in (0..7u32).filter(|day| mask & (1 << day) != 0) {
                    if let Some(offset) = schedule.offsets.get_mut(schedule.per_period) {
                        *offset = i64::from(day) * DAY_MS;
                    }
                    schedule.per_period += 1;
                    if day < weekday {
                        schedule.skipped += 1;
                    }
                }
            }
        }
        schedule
    }
}

/// Monday = 0 … Sunday = 6, in UTC.
fn weekday_index(ms: i64) -> u32 {
    Timestamp::from_millis(ms).to_datetime().weekday().num_days_from_monday()
}

#[derive(Debug, Clone, Copy)]
struct Schedule {
    /// Start of period 0 (for weekly rules, Monday of `start`'s week at
    /// `start`'s time of day).
    base: i64,
    period: i64,
    /// Offsets of the occurrences within a period, ascending; the first
    /// `per_period` are used.
    offsets: [i64; 7],
    per_period: usize,
    /// Period 0's occurrences before `start` (weekdays before its own).
    skipped: i64,
    duration: i64,
    /// Occurrences in all.
    count: Option<i64>,
    /// Latest start allowed.
    until: Option<i64>,
}

/// What [`MaintenanceWindow::occurrences`] returns.
#[derive(Debug, Clone)]
pub struct Occurrences {
    schedule: Schedule,
    period: i64,
    slot: usize,
    from: i64,
    to: i64,
    done: bool,
}

impl Iterator for Occurrences {
    type Item = (i64, i64);

    fn next(&mut self) -> Option<(i64, i64)> {
        let s = self.schedule;
        while !self.done {
            let (period, slot) = (self.period, self.slot);
            self.slot += 1;
            if self.slot >= s.per_period {
                self.slot = 0;
                self.period = self.period.saturating_add(1);
            }
            // Both fit easily: `slot` < 7 and `per_period` ≤ 7.
            let slot_i64 = i64::from(u8::try_from(slot).unwrap_or(7));
            let per_period = i64::from(u8::try_from(s.per_period).unwrap_or(7));
            // The occurrence's number in the whole series (0 is `start`).
            let index =
                period.checked_mul(per_period).and_then(|n| n.checked_add(slot_i64 - s.skipped));
            let Some(index) = index else {
                self.done = true;
                break;
            };
            if index < 0 {
                continue;
            }
            if s.count.is_some_and(|count| index >= count) {
                self.done = true;
                break;
            }
            let start = period
                .checked_mul(s.period)
                .and_then(|shift| s.base.checked_add(shift))
                .and_then(|at| at.checked_add(s.offsets.get(slot).copied().unwrap_or(0)));
            let Some(start) = start else {
                self.done = true;
                break;
            };
            // Starts only grow from here on, so the first one past the range
            // or past UNTIL ends the series.
            if start >= self.to || s.until.is_some_and(|until| start > until) {
                self.done = true;
                break;
            }
            let end = start.saturating_add(s.duration);
            if end > self.from {
                return Some((start, end));
            }
        }
        None
    }
}

/// The occurrences of every non-cancelled window inside `[from, to)`,
/// clamped to it, sorted and merged (touching ones too), so no instant is
/// covered twice: what [`crate::status::aggregate_excluding`] subtracts.
pub fn merged_occurrences<'a>(
    windows: impl IntoIterator<Item = &'a MaintenanceWindow>,
    from: i64,
    to: i64,
) -> Vec<(i64, i64)> {
    let mut all: Vec<(i64, i64)> = windows
        .into_iter()
        .filter(|window| !window.cancelled)
        .flat_map(|window| window.occurrences(from, to))
        .map(|(start, end)| (start.max(from), end.min(to)))
        .filter(|(start, end)| start < end)
        .collect();
    all.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(all.len());
    for (start, end) in all {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    //! Hand-counted calendars, the RRULE subset's edges, then occurrence
    //! expansion against a day-by-day walk of the rule.

    use proptest::prelude::*;

    use super::*;
    use crate::time::{HOUR_MS, MINUTE_MS};

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    fn ms(text: &str) -> i64 {
        ts(text).millis()
    }

    /// A window from `start` lasting `minutes`, with an optional rule.
    fn window(start: &str, minutes: i64, rule: Option<&str>) -> MaintenanceWindow {
        let start = ts(start);
        MaintenanceWindow::parse(start, start.plus_millis(minutes * MINUTE_MS), rule, false)
            .unwrap()
    }

    fn starts(window: &MaintenanceWindow, from: &str, to: &str) -> Vec<String> {
        window
            .occurrences(ms(from), ms(to))
            .map(|(start, _)| Timestamp::from_millis(start).to_rfc3339())
            .collect()
    }

    #[track_caller]
    fn refused(rule: &str, start: &str) -> ValidationError {
        let start = ts(start);
        let err = MaintenanceWindow::parse(start, start.plus_millis(HOUR_MS), Some(rule), false)
            .unwrap_err();
        assert_eq!(err.field, "recurrence", "{rule}: {err}");
        err
    }

    #[test]
    fn end_must_follow_start_within_31_days() {
        let start = ts("2026-03-02T02:00:00Z");
        for end in [start, start.minus_millis(1)] {
            let err = MaintenanceWindow::new(start, end, None, false).unwrap_err();
            assert_eq!((err.field.as_str(), err.message.as_str()), ("end", "must be after start"));
        }
        let longest = start.plus_millis(31 * DAY_MS);
        assert!(MaintenanceWindow::new(start, longest, None, false).is_ok());
        let err = MaintenanceWindow::new(start, longest.plus_millis(1), None, false).unwrap_err();
        assert_eq!(err.field, "end");
        assert!(err.message.contains("31 days"), "{err}");
    }

    #[test]
    fn rules_outside_the_subset_are_refused_with_the_reason() {
        let monday = "2026-03-02T02:00:00Z";
        let cases = [
            ("FREQ=MONTHLY", "FREQ=MONTHLY is not supported"),
            ("FREQ=DAILY;BYDAY=MO", "BYDAY is only allowed with FREQ=WEEKLY"),
            ("FREQ=DAILY;COUNT=3;UNTIL=20260401T000000Z", "COUNT and UNTIL cannot both"),
            ("FREQ=DAILY;BYHOUR=3", "BYHOUR is not supported"),
            ("FREQ=WEEKLY;BYDAY=TU,TH", "start falls on MO, which BYDAY does not list"),
            ("FREQ=WEEKLY;WKST=SU", "WKST is not supported"),
            ("FREQ=WEEKLY;BYDAY=1MO", "BYDAY `1MO` is not a weekday"),
            ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number"),
            ("FREQ=DAILY;INTERVAL=+2", "INTERVAL must be a whole number"),
            ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number"),
            ("FREQ=DAILY;UNTIL=2026-04-01", "UNTIL `2026-04-01` must be a UTC date-time"),
            ("FREQ=DAILY;UNTIL=20260401T000000", "must be a UTC date-time"),
            ("FREQ=DAILY;UNTIL=20260301T000000Z", "UNTIL is before start"),
            ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given more than once"),
            ("INTERVAL=2", "FREQ is required"),
            ("FREQ=DAILY;", "`` is not NAME=VALUE"),
            ("FREQ=HOURLY", "FREQ=HOURLY is not supported"),
            ("FREQ=DAILY;X-NAME=1", "unknown rule part `X-NAME`"),
            ("", "must not be empty"),
        ];
        for (rule, message) in cases {
            let err = refused(rule, monday);
            assert!(err.message.contains(message), "{rule}: {err}");
        }
    }

    #[test]
    fn rules_print_canonically_and_round_trip_through_json() {
        let rule = Recurrence::parse(
            " rrule:freq=weekly;until=20260430t020000z;byday=fr,mo,fr;interval=2",
        )
        .unwrap();
        let text = "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;UNTIL=20260430T020000Z";
        assert_eq!(rule.to_string(), text);
        assert_eq!(Recurrence::parse(text).unwrap(), rule);
        assert_eq!(rule.end(), RecurrenceEnd::Until(ts("2026-04-30T02:00:00Z")));
        assert_eq!(Recurrence::parse("FREQ=DAILY;INTERVAL=1").unwrap().to_string(), "FREQ=DAILY");

        let w = window("2026-03-02T02:00:00Z", 120, Some(text));
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "start": "2026-03-02T02:00:00.000Z",
                "end": "2026-03-02T04:00:00.000Z",
                "recurrence": text,
                "cancelled": false,
            })
        );
        assert_eq!(serde_json::from_value::<MaintenanceWindow>(json).unwrap(), w);
        let one_off =
            serde_json::json!({"start": "2026-03-02T02:00:00Z", "end": "2026-03-02T03:00:00Z"});
        let one_off: MaintenanceWindow = serde_json::from_value(one_off).unwrap();
        assert_eq!(one_off.recurrence(), None);
        assert_eq!(serde_json::to_value(&one_off).unwrap()["recurrence"], serde_json::Value::Null);
        // Deserializing validates.
        let backwards =
            serde_json::json!({"start": "2026-03-02T02:00:00Z", "end": "2026-03-02T01:00:00Z"});
        assert!(serde_json::from_value::<MaintenanceWindow>(backwards).is_err());
        let bad_rule = serde_json::json!({"start": "2026-03-02T02:00:00Z", "end": "2026-03-02T03:00:00Z", "recurrence": "FREQ=YEARLY"});
        assert!(serde_json::from_value::<MaintenanceWindow>(bad_rule).is_err());
    }

    #[test]
    fn a_weekly_rule_across_march() {
        // March 2026: Mondays 2, 9, 16, 23, 30; Wednesdays 4, 11, 18, 25;
        // Fridays 6, 13, 20, 27.
        let every_week = window("2026-03-02T02:00:00Z", 120, Some("FREQ=WEEKLY;BYDAY=MO,WE,FR"));
        let march = starts(&every_week, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z");
        assert_eq!(march.len(), 13);
        assert_eq!(
            march[..3],
            ["2026-03-02T02:00:00.000Z", "2026-03-04T02:00:00.000Z", "2026-03-06T02:00:00.000Z"]
        );
        assert_eq!(march[12], "2026-03-30T02:00:00.000Z");

        // Every other week, counted from the week of start: the weeks of the
        // 2nd, 16th and 30th.
        let fortnightly =
            window("2026-03-02T02:00:00Z", 120, Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR"));
        let days: Vec<String> =
            starts(&fortnightly, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
                .into_iter()
                .map(|s| s[8..10].to_owned())
                .collect();
        assert_eq!(days, ["02", "04", "06", "16", "18", "20", "30"]);

        // Starting on a Wednesday: that week's Monday is before start and
        // does not count, toward COUNT either.
        let from_wednesday =
            window("2026-03-04T02:00:00Z", 120, Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR"));
        let days: Vec<String> =
            starts(&from_wednesday, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
                .into_iter()
                .map(|s| s[8..10].to_owned())
                .collect();
        assert_eq!(days, ["04", "06", "16", "18", "20", "30"]);
        let four = window(
            "2026-03-04T02:00:00Z",
            120,
            Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR;COUNT=4"),
        );
        assert_eq!(four.occurrences(i64::MIN, i64::MAX).count(), 4);
        assert_eq!(
            starts(&four, "2026-03-17T00:00:00Z", "2027-01-01T00:00:00Z"),
            ["2026-03-18T02:00:00.000Z"]
        );

        // No BYDAY: the weekday of start.
        let saturdays = window("2026-03-07T22:00:00Z", 240, Some("FREQ=WEEKLY"));
        assert_eq!(starts(&saturdays, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z").len(), 4);
        // An occurrence is in every range it reaches into: this one runs
        // from Saturday 22:00 to Sunday 02:00.
        assert_eq!(
            starts(&saturdays, "2026-03-29T01:59:59Z", "2026-04-01T00:00:00Z"),
            ["2026-03-28T22:00:00.000Z"]
        );
        assert!(starts(&saturdays, "2026-03-29T02:00:00Z", "2026-04-01T00:00:00Z").is_empty());
    }

    #[test]
    fn daily_rules_end_by_count_or_until() {
        let count = window("2026-03-02T01:00:00Z", 30, Some("FREQ=DAILY;INTERVAL=3;COUNT=4"));
        assert_eq!(
            starts(&count, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            [
                "2026-03-02T01:00:00.000Z",
                "2026-03-05T01:00:00.000Z",
                "2026-03-08T01:00:00.000Z",
                "2026-03-11T01:00:00.000Z"
            ]
        );
        assert_eq!(
            starts(&count, "2026-03-08T01:30:00Z", "2026-04-01T00:00:00Z"),
            ["2026-03-11T01:00:00.000Z"]
        );
        assert!(starts(&count, "2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z").is_empty());

        // UNTIL is inclusive: an occurrence starting exactly then counts.
        let until = window("2026-03-02T01:00:00Z", 30, Some("FREQ=DAILY;UNTIL=20260305T010000Z"));
        assert_eq!(until.occurrences(i64::MIN, i64::MAX).count(), 4);
        let until = window("2026-03-02T01:00:00Z", 30, Some("FREQ=DAILY;UNTIL=20260305T005959Z"));
        assert_eq!(until.occurrences(i64::MIN, i64::MAX).count(), 3);
    }

    #[test]
    fn a_range_years_later_is_reached_by_arithmetic() {
        let nightly = window("2026-03-02T01:00:00Z", 30, Some("FREQ=DAILY"));
        assert_eq!(
            starts(&nightly, "2036-06-15T00:00:00Z", "2036-06-17T00:00:00Z"),
            ["2036-06-15T01:00:00.000Z", "2036-06-16T01:00:00.000Z"]
        );
        // Occurrences longer than the period overlap one another.
        let long = window("2026-03-02T00:00:00Z", 36 * 60, Some("FREQ=DAILY"));
        assert_eq!(
            starts(&long, "2026-03-10T06:00:00Z", "2026-03-10T06:00:01Z"),
            ["2026-03-09T00:00:00.000Z", "2026-03-10T00:00:00.000Z"]
        );
        // The extremes of i64 neither panic nor loop.
        assert_eq!(nightly.occurrences(i64::MAX - 1, i64::MAX).count(), 0);
        assert_eq!(nightly.occurrences(i64::MIN, ms("2026-03-02T01:00:00Z")).count(), 0);
    }

    #[test]
    fn status_follows_the_occurrences() {
        use MaintenanceStatus::*;
        let once = window("2026-03-02T02:00:00Z", 60, None);
        assert_eq!(once.status(ts("2026-03-02T01:59:59.999Z")), Scheduled);
        assert_eq!(once.status(ts("2026-03-02T02:00:00Z")), InProgress);
        assert_eq!(once.status(ts("2026-03-02T02:59:59.999Z")), InProgress);
        assert_eq!(once.status(ts("2026-03-02T03:00:00Z")), Completed);
        assert_eq!(once.clone().with_cancelled(true).status(ts("2026-03-02T02:30:00Z")), Cancelled);

        let twice = window("2026-03-02T02:00:00Z", 60, Some("FREQ=DAILY;COUNT=2"));
        assert_eq!(twice.status(ts("2026-03-02T12:00:00Z")), Scheduled, "between occurrences");
        assert_eq!(twice.status(ts("2026-03-03T02:30:00Z")), InProgress);
        assert_eq!(twice.status(ts("2026-03-03T03:00:00Z")), Completed);
        let forever = window("2026-03-02T02:00:00Z", 60, Some("FREQ=DAILY"));
        assert_eq!(forever.status(ts("2099-03-03T03:00:00Z")), Scheduled);
        assert_eq!(serde_json::to_value(InProgress).unwrap(), "in_progress");
        assert_eq!(InProgress.as_str(), "in_progress");
    }

    #[test]
    fn merging_counts_an_overlap_once_and_skips_cancelled_windows() {
        let a = window("2026-03-02T10:00:00Z", 120, None);
        let b = window("2026-03-02T11:00:00Z", 120, None);
        let touching = window("2026-03-02T13:00:00Z", 30, None);
        let cancelled = window("2026-03-02T20:00:00Z", 60, None).with_cancelled(true);
        let day = (ms("2026-03-02T00:00:00Z"), ms("2026-03-03T00:00:00Z"));
        assert_eq!(
            merged_occurrences([&a, &b, &touching, &cancelled], day.0, day.1),
            [(ms("2026-03-02T10:00:00Z"), ms("2026-03-02T13:30:00Z"))]
        );
        // Clamped to the range asked for.
        assert_eq!(
            merged_occurrences([&b, &a], ms("2026-03-02T10:30:00Z"), ms("2026-03-02T11:15:00Z")),
            [(ms("2026-03-02T10:30:00Z"), ms("2026-03-02T11:15:00Z"))]
        );
        let nightly = window("2026-03-02T01:00:00Z", 30, Some("FREQ=DAILY"));
        let merged = merged_occurrences([&nightly, &a], day.0, day.1 + DAY_MS);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[2].0, ms("2026-03-03T01:00:00Z"));
    }

    // ---- properties -------------------------------------------------------

    /// Occurrence starts walked day by day from `start`, straight from the
    /// rule's wording, up to `horizon`.
    fn naive_starts(window: &MaintenanceWindow, horizon: i64) -> Vec<i64> {
        let start = window.start().millis();
        let Some(rule) = window.recurrence() else {
            return if start < horizon { vec![start] } else { vec![] };
        };
        let weekday = i64::from(weekday_index(start));
        let days: Vec<i64> = match rule.by_day().count() {
            0 => vec![weekday],
            _ => (0..7).filter(|d| rule.by_day & (1 << d) != 0).collect(),
        };
        let interval = i64::from(rule.interval());
        let mut found = vec![];
        let mut day = 0i64;
        loop {
            let candidate = start + day * DAY_MS;
            if candidate >= horizon {
                break;
            }
            if let RecurrenceEnd::Until(until) = rule.end() {
                if candidate > until.millis() {
                    break;
                }
            }
            if let RecurrenceEnd::Count(count) = rule.end() {
                if found.len() >= count as usize {
                    break;
                }
            }
            let chosen = match rule.frequency() {
                Frequency::Daily => day % interval == 0,
                Frequency::Weekly => {
                    let week = (day + weekday) / 7;
                    week % interval == 0 && days.contains(&((day + weekday) % 7))
                }
            };
            if chosen {
                found.push(candidate);
            }
            day += 1;
        }
        found
    }

    /// 2026-03-01T00:00Z, a Sunday.
    const BASE: i64 = 1_772_323_200_000;

    fn window_strategy() -> impl Strategy<Value = MaintenanceWindow> {
        (
            0..14 * 1440i64,
            1..3 * 1440i64,
            prop::option::of((
                prop::bool::ANY,
                1u32..4,
                0u8..128,
                0u8..3,
                1u32..20,
                0..60 * 1440i64,
            )),
        )
            .prop_map(|(start, minutes, rule)| {
                let start = BASE + start * MINUTE_MS;
                let rule = rule.map(|(weekly, interval, mask, end, count, until)| {
                    let mut text = format!(
                        "FREQ={};INTERVAL={interval}",
                        if weekly { "WEEKLY" } else { "DAILY" }
                    );
                    if weekly {
                        let mask = mask | (1 << weekday_index(start));
                        let days: Vec<&str> =
                            (0..7).filter(|d| mask & (1 << d) != 0).map(|d| WEEKDAYS[d]).collect();
                        text += &format!(";BYDAY={}", days.join(","));
                    }
                    match end {
                        0 => {}
                        1 => text += &format!(";COUNT={count}"),
                        _ => {
                            let until = Timestamp::from_millis(start + until * MINUTE_MS);
                            text += &format!(";UNTIL={}", until.to_datetime().format(UNTIL_FORMAT));
                        }
                    }
                    text
                });
                let start = Timestamp::from_millis(start);
                MaintenanceWindow::parse(
                    start,
                    start.plus_millis(minutes * MINUTE_MS),
                    rule.as_deref(),
                    false,
                )
                .unwrap()
            })
    }

    proptest! {
        #[test]
        fn occurrences_match_a_day_by_day_walk(
            window in window_strategy(),
            from in -10 * 1440i64..400 * 1440,
            len in 0..40 * 1440i64,
        ) {
            let from = BASE + from * MINUTE_MS;
            let to = from + len * MINUTE_MS;
            let duration = window.end().millis() - window.start().millis();
            let expected: Vec<(i64, i64)> = naive_starts(&window, to)
                .into_iter()
                .map(|start| (start, start + duration))
                .filter(|&(_, end)| end > from)
                .collect();
            prop_assert_eq!(window.occurrences(from, to).collect::<Vec<_>>(), expected);
            // Canonical text parses back to the same rule.
            if let Some(rule) = window.recurrence() {
                prop_assert_eq!(&Recurrence::parse(&rule.to_string()).unwrap(), rule);
            }
        }

        #[test]
        fn status_matches_the_walk(window in window_strategy(), at in -2 * 1440i64..500 * 1440) {
            let at = BASE + at * MINUTE_MS;
            let duration = window.end().millis() - window.start().millis();
            // Occurrences are at most 3 weeks apart here.
            let walked = naive_starts(&window, at + 22 * DAY_MS);
            let running = walked.iter().any(|&s| s <= at && at < s + duration);
            let ends = matches!(
                window.recurrence().map(Recurrence::end),
                None | Some(RecurrenceEnd::Count(_) | RecurrenceEnd::Until(_))
            );
            let expected = if running {
                MaintenanceStatus::InProgress
            } else if walked.iter().any(|&s| s > at) || !ends {
                MaintenanceStatus::Scheduled
            } else {
                MaintenanceStatus::Completed
            };
            prop_assert_eq!(window.status(Timestamp::from_millis(at)), expected);
        }
    }
}
