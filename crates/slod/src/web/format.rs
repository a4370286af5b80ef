//! How numbers, instants and spans read on the dashboard.
//!
//! Pure functions of their inputs (the page's `now` is a parameter, taken
//! once per request from the app [`Clock`](crate::clock::Clock)), so
//! relative times like "3 h ago" are unit-tested without a clock.

use slod_core::time::{Timestamp, DAY_MS, HOUR_MS, MINUTE_MS};

/// An instant in UTC, to the minute: `2026-03-01 12:00 UTC`.
pub fn utc(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An instant's UTC date: `2026-03-01`.
pub fn date(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d").to_string()
}

/// How long ago `t` was, seen from `now`: "just now", "12 min ago",
/// "3 h ago", "4 d ago"; "in 5 min" for the (rare) instant ahead of now.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let delta = now.millis().saturating_sub(t.millis());
    let span = delta.unsigned_abs();
    if span < 45_000 {
        return "just now".to_owned();
    }
    let amount = coarse(span);
    if delta >= 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// One unit, rounded: what a reader takes in at a glance.
fn coarse(ms: u64) -> String {
    let (minute, hour, day) = (MINUTE_MS as u64, HOUR_MS as u64, DAY_MS as u64);
    if ms < 90 * minute {
        format!("{} min", ((ms + minute / 2) / minute).max(1))
    } else if ms < 36 * hour {
        format!("{} h", (ms + hour / 2) / hour)
    } else {
        format!("{} d", (ms + day / 2) / day)
    }
}

/// A length of time to two units: "45 s", "12 min", "1 h 5 min", "2 d 3 h".
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    let seconds = ms / 1000;
    if seconds < 60 {
        return format!("{seconds} s");
    }
    let minutes = seconds / 60;
    if minutes < 60 {
        let rest = seconds % 60;
        return if rest == 0 || minutes >= 10 {
            format!("{minutes} min")
        } else {
            format!("{minutes} min {rest} s")
        };
    }
    let hours = minutes / 60;
    if hours < 24 {
        let rest = minutes % 60;
        return if rest == 0 { format!("{hours} h") } else { format!("{hours} h {rest} min") };
    }
    let days = hours / 24;
    let rest = hours % 24;
    if rest == 0 {
        format!("{days} d")
    } else {
        format!("{days} d {rest} h")
    }
}

/// Minutes of downtime or budget, as a duration.
pub fn minutes(m: f64) -> String {
    if !m.is_finite() {
        return "–".to_owned();
    }
    duration(saturating_millis(m * MINUTE_MS as f64))
}

/// Rounded milliseconds. There is no `TryFrom<f64>` for `i64`; a
/// float-to-int `as` saturates, so a duration past `i64::MAX` ms (292
/// million years) shows as the longest one rather than wrapping.
#[allow(clippy::cast_possible_truncation)]
fn saturating_millis(ms: f64) -> i64 {
    ms.round() as i64
}

/// A percentage with as many decimals as SLOs need to tell 99.9 from 99.95.
pub fn percent(p: f64) -> String {
    if !p.is_finite() {
        return "–".to_owned();
    }
    let text = format!("{p:.3}");
    // 100.000 and 99.500 read better trimmed; 99.912 keeps its digits.
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} %")
}

/// A share to one decimal, for budget remaining: `42.5 %`.
pub fn percent1(p: f64) -> String {
    if !p.is_finite() {
        return "–".to_owned();
    }
    format!("{p:.1} %")
}

/// A target as the user typed it: 99.9 stays `99.9`, 99 stays `99`.
pub fn target(t: f64) -> String {
    format!("{t}")
}

/// A burn rate: `0.42×`, or `–` when there is no budget to burn (100 %).
pub fn burn(rate: Option<f64>) -> String {
    match rate {
        Some(r) if r.is_finite() => format!("{r:.2}×"),
        _ => "–".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn relative_times_pick_one_readable_unit() {
        let now = ts("2026-03-01T12:00:00Z");
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(ts("2026-03-01T11:59:30Z"), now), "just now");
        assert_eq!(relative(ts("2026-03-01T11:48:00Z"), now), "12 min ago");
        assert_eq!(relative(ts("2026-03-01T09:00:00Z"), now), "3 h ago");
        assert_eq!(relative(ts("2026-02-25T12:00:00Z"), now), "4 d ago");
        assert_eq!(relative(ts("2026-03-01T12:05:00Z"), now), "in 5 min");
    }

    #[test]
    fn durations_keep_two_units() {
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(duration(3 * MINUTE_MS + 20_000), "3 min 20 s");
        assert_eq!(duration(12 * MINUTE_MS), "12 min");
        assert_eq!(duration(HOUR_MS + 5 * MINUTE_MS), "1 h 5 min");
        assert_eq!(duration(2 * DAY_MS + 3 * HOUR_MS), "2 d 3 h");
        assert_eq!(duration(-5), "0 s");
        assert_eq!(minutes(1.5), "1 min 30 s");
    }

    #[test]
    fn numbers() {
        assert_eq!(percent(99.9123), "99.912 %");
        assert_eq!(percent(100.0), "100 %");
        assert_eq!(percent(99.5), "99.5 %");
        assert_eq!(percent(f64::NAN), "–");
        assert_eq!(target(99.9), "99.9");
        assert_eq!(target(99.0), "99");
        assert_eq!(burn(Some(0.4249)), "0.42×");
        assert_eq!(burn(None), "–");
        assert_eq!(utc(ts("2026-03-01T12:34:56Z")), "2026-03-01 12:34 UTC");
    }
}
