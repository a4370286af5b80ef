//! An objective's window (SPEC §2, §17): the rolling `windowDays` of §4, or
//! a calendar period — the week (Monday first), month, quarter or year
//! containing T in an IANA time zone.
//!
//! Time zones come from the IANA database compiled into `chrono-tz`, so a
//! month in `Europe/Berlin` that spans the October change to winter time is
//! 31 × 24 + 1 hours long, and one spanning the March change 31 × 24 − 1.

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::model::{ValidationError, WindowDays};
use crate::time::{Timestamp, MINUTE_MS};

/// The length of a calendar period.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalendarUnit {
    Week,
    Month,
    Quarter,
    Year,
}

impl CalendarUnit {
    pub const ALL: [CalendarUnit; 4] = [Self::Week, Self::Month, Self::Quarter, Self::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Week => "week",
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::Year => "year",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|unit| unit.as_str() == raw)
    }

    /// The first day of the period containing the local date `day`.
    fn first_day(self, day: NaiveDate) -> NaiveDate {
        let first_of = |month: u32| day.with_day(1).and_then(|d| d.with_month(month));
        let first = match self {
            Self::Week => {
                day.checked_sub_days(Days::new(day.weekday().num_days_from_monday().into()))
            }
            Self::Month => day.with_day(1),
            Self::Quarter => first_of((day.month0() / 3) * 3 + 1),
            Self::Year => first_of(1),
        };
        // Every date chrono can hold has a first of its month and year; the
        // Monday before the earliest representable date is the only gap.
        first.unwrap_or(day)
    }

    /// The first day of the period after the one starting on `first`.
    fn next_first_day(self, first: NaiveDate) -> NaiveDate {
        let next = match self {
            Self::Week => first.checked_add_days(Days::new(7)),
            Self::Month => first.checked_add_months(Months::new(1)),
            Self::Quarter => first.checked_add_months(Months::new(3)),
            Self::Year => first.checked_add_months(Months::new(12)),
        };
        next.unwrap_or(first)
    }
}

impl fmt::Display for CalendarUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A calendar window: a unit and the IANA time zone whose midnights bound
/// its periods. Serialized as `{unit, timeZone}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "CalendarJson")]
pub struct Calendar {
    pub unit: CalendarUnit,
    /// An IANA time zone name.
    #[serde(serialize_with = "serialize_tz")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Europe/Berlin"))]
    pub time_zone: Tz,
}

fn serialize_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CalendarJson {
    unit: String,
    time_zone: String,
}

impl TryFrom<CalendarJson> for Calendar {
    type Error = ValidationError;

    fn try_from(raw: CalendarJson) -> Result<Self, ValidationError> {
        Self::parse(&raw.unit, &raw.time_zone)
    }
}

/// A half-open period `[start, end)`, served as `{start, end}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CalendarPeriod))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Period {
    pub fn length_ms(self) -> i64 {
        self.end.millis() - self.start.millis()
    }

    pub fn contains(self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }
}

impl Calendar {
    /// Parses a unit (`week`, `month`, `quarter`, `year`) and an IANA time
    /// zone name (`Europe/Berlin`, `UTC`), naming `calendar.unit` or
    /// `calendar.timeZone` when one is wrong.
    pub fn parse(unit: &str, time_zone: &str) -> Result<Self, ValidationError> {
        let unit = CalendarUnit::parse(unit).ok_or_else(|| {
            ValidationError::new(
                "calendar.unit",
                format!("`{unit}` is not one of week, month, quarter, year"),
            )
        })?;
        let time_zone = parse_time_zone(time_zone)?;
        Ok(Self { unit, time_zone })
    }

    /// The period `[start, end)` containing `at`: from the local midnight
    /// starting the week (Monday), month, quarter or year that `at` falls in,
    /// to the local midnight starting the next one.
    pub fn period_containing(&self, at: Timestamp) -> Period {
        let local = at.to_datetime().with_timezone(&self.time_zone).date_naive();
        let first = self.unit.first_day(local);
        let mut period = self.period_from(first);
        // A local midnight repeated by a change back to winter time can put
        // `at` a little outside the period its local date names; step once.
        if at < period.start {
            let before = first.pred_opt().map_or(first, |d| self.unit.first_day(d));
            period = self.period_from(before);
        } else if at >= period.end {
            period = self.period_from(self.unit.next_first_day(first));
        }
        period
    }

    /// The period after `period` (whose end it starts at).
    pub fn next_period(&self, period: Period) -> Period {
        self.period_containing(period.end)
    }

    fn period_from(&self, first: NaiveDate) -> Period {
        Period {
            start: local_midnight(self.time_zone, first),
            end: local_midnight(self.time_zone, self.unit.next_first_day(first)),
        }
    }
}

/// An IANA time zone name, exactly as the database spells it.
pub fn parse_time_zone(raw: &str) -> Result<Tz, ValidationError> {
    raw.parse::<Tz>().map_err(|_| {
        ValidationError::new(
            "calendar.timeZone",
            format!("`{raw}` is not an IANA time zone name (e.g. Europe/Berlin, UTC)"),
        )
    })
}

/// Every IANA time zone name slod knows, in the database's order (for
/// pickers).
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// The instant `day` begins in `tz`: its midnight, the first one when a
/// change back repeats it, or the end of the gap when a change forward
/// skips it (some zones change at midnight).
fn local_midnight(tz: Tz, day: NaiveDate) -> Timestamp {
    let midnight = NaiveDateTime::new(day, NaiveTime::MIN);
    // Gaps are at most a few hours and begin on a whole minute.
    for minutes in 0..=(24 * 60) {
        let local = midnight + chrono::Duration::minutes(minutes);
        if let Some(instant) = tz.from_local_datetime(&local).earliest() {
            return Timestamp::from_millis(instant.timestamp_millis());
        }
    }
    Timestamp::from_millis(midnight.and_utc().timestamp_millis())
}

/// An objective's window: rolling whole days, or calendar periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    Rolling(WindowDays),
    Calendar(Calendar),
}

impl Window {
    /// The window a status at `at` is computed over: `[at − days, at]` for a
    /// rolling window, the period containing `at` for a calendar one (whose
    /// end may lie after `at`).
    pub fn bounds(&self, at: Timestamp) -> Period {
        match self {
            Self::Rolling(days) => Period { start: at.minus_millis(days.millis()), end: at },
            Self::Calendar(calendar) => calendar.period_containing(at),
        }
    }

    /// Where the window containing `at` begins.
    pub fn start(&self, at: Timestamp) -> Timestamp {
        self.bounds(at).start
    }

    /// The whole window's length in milliseconds: the budget's base.
    pub fn length_ms(&self, at: Timestamp) -> i64 {
        self.bounds(at).length_ms()
    }

    /// The whole window's length in minutes.
    pub fn minutes(&self, at: Timestamp) -> f64 {
        self.length_ms(at) as f64 / MINUTE_MS as f64
    }

    pub fn rolling_days(&self) -> Option<WindowDays> {
        match self {
            Self::Rolling(days) => Some(*days),
            Self::Calendar(_) => None,
        }
    }

    pub fn calendar(&self) -> Option<Calendar> {
        match self {
            Self::Rolling(_) => None,
            Self::Calendar(calendar) => Some(*calendar),
        }
    }

    /// "30-day rolling" or "calendar month (Europe/Berlin)", for people.
    pub fn describe(&self) -> String {
        match self {
            Self::Rolling(days) => format!("rolling {days}-day"),
            Self::Calendar(c) => format!("calendar {} ({})", c.unit, c.time_zone.name()),
        }
    }
}

impl From<WindowDays> for Window {
    fn from(days: WindowDays) -> Self {
        Self::Rolling(days)
    }
}

/// The JSON of a window inside an objective: `windowDays` and `calendar`,
/// exactly one of them non-null.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowFields {
    /// The rolling window in days, 1 to 3650; `null` for a calendar window.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 1, maximum = 3650))]
    pub window_days: Option<WindowDays>,
    /// The calendar period (SPEC §17); `null` for a rolling window.
    pub calendar: Option<Calendar>,
}

// An objective's window is documented as its two JSON fields.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Window {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <WindowFields as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Window {
    fn schemas(
        schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
    ) {
        <WindowFields as utoipa::ToSchema>::schemas(schemas);
    }
}

impl From<Window> for WindowFields {
    fn from(window: Window) -> Self {
        Self { window_days: window.rolling_days(), calendar: window.calendar() }
    }
}

impl TryFrom<WindowFields> for Window {
    type Error = ValidationError;

    fn try_from(fields: WindowFields) -> Result<Self, ValidationError> {
        match (fields.window_days, fields.calendar) {
            (Some(days), None) => Ok(Self::Rolling(days)),
            (None, Some(calendar)) => Ok(Self::Calendar(calendar)),
            (Some(_), Some(_)) => Err(both()),
            (None, None) => Err(ValidationError::new(
                "windowDays",
                "is required (or a calendar: {unit, timeZone})",
            )),
        }
    }
}

/// The error for an objective given both kinds of window.
pub fn both() -> ValidationError {
    ValidationError::new(
        "calendar",
        "an objective has either windowDays (rolling) or calendar, not both",
    )
}

impl Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WindowFields::from(*self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields = WindowFields::deserialize(d)?;
        Window::try_from(fields).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::time::HOUR_MS;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    fn cal(unit: &str, tz: &str) -> Calendar {
        Calendar::parse(unit, tz).unwrap()
    }

    #[test]
    fn a_berlin_month_across_the_october_change_has_an_extra_hour() {
        let p = cal("month", "Europe/Berlin").period_containing(ts("2026-10-15T12:00:00Z"));
        // Midnight in Berlin is 22:00 UTC in summer, 23:00 UTC in winter.
        assert_eq!(p.start, ts("2026-09-30T22:00:00Z"));
        assert_eq!(p.end, ts("2026-10-31T23:00:00Z"));
        assert_eq!(p.length_ms(), (31 * 24 + 1) * HOUR_MS);
        let march = cal("month", "Europe/Berlin").period_containing(ts("2026-03-31T21:59:59Z"));
        assert_eq!(march.length_ms(), (31 * 24 - 1) * HOUR_MS);
        assert_eq!(march.start, ts("2026-02-28T23:00:00Z"));
    }

    #[test]
    fn the_local_date_decides_not_the_utc_one() {
        let berlin = cal("month", "Europe/Berlin");
        // 23:30 UTC on 31 Oct is already 1 Nov in Berlin.
        let p = berlin.period_containing(ts("2026-10-31T23:30:00Z"));
        assert_eq!(p.start, ts("2026-10-31T23:00:00Z"));
        assert_eq!(p.end, ts("2026-11-30T23:00:00Z"));
        let before = berlin.period_containing(ts("2026-10-31T22:59:59.999Z"));
        assert_eq!(before.end, p.start);
        assert_eq!(berlin.next_period(before), p);
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-12-03 is a Thursday.
        let p = cal("week", "UTC").period_containing(ts("2026-12-03T08:00:00Z"));
        assert_eq!(p.start, ts("2026-11-30T00:00:00Z"));
        assert_eq!(p.end, ts("2026-12-07T00:00:00Z"));
        // Sunday evening in New York belongs to the week that began Monday.
        let ny = cal("week", "America/New_York").period_containing(ts("2026-12-07T03:00:00Z"));
        assert_eq!(ny.start, ts("2026-11-30T05:00:00Z"));
        assert_eq!(ny.end, ts("2026-12-07T05:00:00Z"));
    }

    #[test]
    fn quarters_and_years() {
        let q = cal("quarter", "UTC").period_containing(ts("2026-08-19T00:00:00Z"));
        assert_eq!((q.start, q.end), (ts("2026-07-01T00:00:00Z"), ts("2026-10-01T00:00:00Z")));
        let y = cal("year", "Asia/Tokyo").period_containing(ts("2026-12-31T15:00:00Z"));
        assert_eq!((y.start, y.end), (ts("2026-12-31T15:00:00Z"), ts("2027-12-31T15:00:00Z")));
        let leap = cal("year", "UTC").period_containing(ts("2028-06-01T00:00:00Z"));
        assert_eq!(leap.length_ms(), 366 * 24 * HOUR_MS);
    }

    #[test]
    fn a_midnight_skipped_by_the_clock_starts_the_period_when_the_gap_ends() {
        // Santiago moved its clocks from 00:00 to 01:00 on 2026-09-06.
        let p = cal("week", "America/Santiago").period_containing(ts("2026-09-08T12:00:00Z"));
        let start = p.start.to_datetime().with_timezone(&chrono_tz::America::Santiago);
        assert_eq!(start.date_naive(), NaiveDate::from_ymd_opt(2026, 9, 7).unwrap());
        let sunday = cal("week", "America/Santiago").period_containing(ts("2026-09-06T12:00:00Z"));
        let start = sunday.start.to_datetime().with_timezone(&chrono_tz::America::Santiago);
        assert_eq!(start.date_naive(), NaiveDate::from_ymd_opt(2026, 8, 31).unwrap());
    }

    #[test]
    fn bad_units_and_zones_name_their_field() {
        assert_eq!(Calendar::parse("fortnight", "UTC").unwrap_err().field, "calendar.unit");
        assert_eq!(
            Calendar::parse("month", "Mars/Olympus").unwrap_err().field,
            "calendar.timeZone"
        );
        assert_eq!(Calendar::parse("month", "").unwrap_err().field, "calendar.timeZone");
        assert_eq!(Calendar::parse("Month", "UTC").unwrap_err().field, "calendar.unit");
    }

    #[test]
    fn window_json_has_exactly_one_kind() {
        let rolling = Window::Rolling(WindowDays::parse(30).unwrap());
        assert_eq!(
            serde_json::to_value(rolling).unwrap(),
            serde_json::json!({"windowDays": 30, "calendar": null})
        );
        let calendar = Window::Calendar(cal("month", "Europe/Berlin"));
        let json = serde_json::to_value(calendar).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"windowDays": null, "calendar": {"unit": "month", "timeZone": "Europe/Berlin"}})
        );
        assert_eq!(serde_json::from_value::<Window>(json).unwrap(), calendar);
        let both =
            serde_json::json!({"windowDays": 30, "calendar": {"unit": "week", "timeZone": "UTC"}});
        assert!(serde_json::from_value::<Window>(both).is_err());
    }

    const ZONES: [&str; 8] = [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "America/Santiago",
        "America/Sao_Paulo",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Pacific/Apia",
    ];

    fn calendar_strategy() -> impl Strategy<Value = Calendar> {
        (0..CalendarUnit::ALL.len(), 0..ZONES.len())
            .prop_map(|(u, z)| cal(CalendarUnit::ALL[u].as_str(), ZONES[z]))
    }

    // 1990 to 2040: DST rules changed often in these zones.
    const RANGE: std::ops::Range<i64> = 631_152_000_000..2_208_988_800_000;

    proptest! {
        #[test]
        fn the_period_contains_t(calendar in calendar_strategy(), at in RANGE) {
            let at = Timestamp::from_millis(at);
            let p = calendar.period_containing(at);
            prop_assert!(p.contains(at), "{p:?} does not contain {at:?}");
        }

        #[test]
        fn consecutive_periods_tile_time(calendar in calendar_strategy(), at in RANGE) {
            let p = calendar.period_containing(Timestamp::from_millis(at));
            let next = calendar.next_period(p);
            prop_assert_eq!(next.start, p.end);
            // The last instant of a period belongs to it, the end to the next.
            prop_assert_eq!(calendar.period_containing(p.end.minus_millis(1)), p);
            prop_assert_eq!(calendar.period_containing(p.start), p);
        }

        #[test]
        fn lengths_per_unit_stay_within_a_few_hours_of_nominal(
            calendar in calendar_strategy(),
            at in RANGE,
        ) {
            let p = calendar.period_containing(Timestamp::from_millis(at));
            let days = |d: i64| d * 24 * HOUR_MS;
            let (lo, hi) = match calendar.unit {
                CalendarUnit::Week => (days(7), days(7)),
                CalendarUnit::Month => (days(28), days(31)),
                CalendarUnit::Quarter => (days(90), days(92)),
                CalendarUnit::Year => (days(365), days(366)),
            };
            // DST moves a period by at most 2 hours each way; Apia skipped a
            // whole day (30 Dec 2011) when it crossed the date line.
            let slack = if calendar.time_zone == chrono_tz::Pacific::Apia { days(1) } else { 2 * HOUR_MS };
            prop_assert!(p.length_ms() >= lo - slack && p.length_ms() <= hi + slack, "{p:?}");
        }

        #[test]
        fn starts_are_local_midnights_on_the_units_first_day(
            calendar in calendar_strategy(),
            at in RANGE,
        ) {
            let p = calendar.period_containing(Timestamp::from_millis(at));
            let local = p.start.to_datetime().with_timezone(&calendar.time_zone);
            let day = local.date_naive();
            prop_assert_eq!(calendar.unit.first_day(day), day);
            if calendar.unit == CalendarUnit::Week {
                prop_assert_eq!(day.weekday(), chrono::Weekday::Mon);
            }
        }
    }
}
