//! SLO status at an instant (SPEC §4).
//!
//! [`aggregate`] is the hot loop: one pass over an objective's events as
//! compact [`EventSpan`]s, summing downtime inside the window (self and per
//! upstream) and inside each burn-rate window. [`compute_status`] turns the
//! sums into the `SloStatus` the API serves.
//!
//! Maintenance (SPEC §12): [`aggregate_excluding`] and
//! [`compute_status_excluding`] take the merged maintenance occurrences
//! ([`crate::maintenance::merged_occurrences`] over [`maintenance_range`])
//! and leave out of every figure the downtime they cover, in the same single
//! pass.

use serde::{Deserialize, Serialize};

use crate::corrections::{relabel_index, Overlay};
use crate::model::{DependencyExclusion, Objective, ObjectiveId, SystemId, WindowDays};
use crate::time::{Timestamp, HOUR_MS, MINUTE_MS};
use crate::window::{Calendar, Period};

/// `end` of a span whose event is still open.
pub const OPEN_END: i64 = i64::MAX;

/// One downtime event reduced to what the arithmetic needs.
///
/// Packed to 20 bytes (from 24 with the padding after `upstream`): a list
/// read walks every span of every objective, a million of them over 24 MB
/// for the benchmark's data, and that walk is bound by memory. Fields are
/// read by value (the type is `Copy`); a reference to one does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(4))]
pub struct EventSpan {
    pub start: i64,
    /// Milliseconds, or [`OPEN_END`] while open.
    pub end: i64,
    /// 0 for `self`; `n` for the n-th entry (1-based) of the upstream table.
    pub upstream: u32,
}

const _: () = assert!(std::mem::size_of::<EventSpan>() == 20);

/// The burn-rate windows and their JSON keys, narrowest first (SPEC §4,
/// §12).
pub const BURN_WINDOWS: [(&str, i64); 6] = [
    ("5m", 5 * MINUTE_MS),
    ("30m", 30 * MINUTE_MS),
    ("1h", HOUR_MS),
    ("6h", 6 * HOUR_MS),
    ("24h", 24 * HOUR_MS),
    ("72h", 72 * HOUR_MS),
];

/// Sums over one objective's events, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub total_ms: i64,
    pub self_ms: i64,
    /// Indexed like the upstream table (entry 0 is upstream 1).
    pub upstream_ms: Vec<i64>,
    /// Consumed downtime inside each of [`BURN_WINDOWS`].
    pub burn_ms: [i64; BURN_WINDOWS.len()],
    /// Consumed downtime inside the window that maintenance covered, left
    /// out of every other sum (SPEC §12).
    pub maintenance_ms: i64,
    /// An open event counted toward consumed (maintenance or not).
    pub has_open: bool,
}

/// One pass over `spans` (any order): downtime inside `[window_start, at]`,
/// split by attribution, and consumed downtime inside each burn window. Open
/// spans run to `at` and count only when `system_down` (SPEC §4: live health
/// is authoritative). `strict` says whether upstream downtime is consumed.
///
/// The loop is written without data-dependent branches where the data is
/// unpredictable (self vs upstream, open vs closed, clamped or not): overlaps
/// are computed as `end.max(start) - start`, which is zero for a span outside
/// the range and cannot overflow, and sums are kept per attribution slot.
pub fn aggregate(
    spans: &[EventSpan],
    upstream_count: usize,
    window_start: i64,
    at: i64,
    system_down: bool,
    strict: bool,
) -> Aggregate {
    sweep::<false>(spans, &[], upstream_count, window_start, at, system_down, strict)
}

/// [`aggregate`] with the downtime inside `maintenance` left out of every
/// sum (SPEC §12), and the consumed part of it inside the window reported as
/// `maintenance_ms`. `has_open` ignores maintenance.
///
/// `maintenance` must be sorted and non-overlapping, as
/// [`crate::maintenance::merged_occurrences`] returns it, and cover
/// [`maintenance_range`]. Spans sorted by start (as stores return them) cost
/// O(spans + intervals): one index moves forward through the intervals as
/// the spans do. A span out of order only costs a binary search. Empty
/// `maintenance` runs exactly [`aggregate`]'s loop.
pub fn aggregate_excluding(
    spans: &[EventSpan],
    maintenance: &[(i64, i64)],
    upstream_count: usize,
    window_start: i64,
    at: i64,
    system_down: bool,
    strict: bool,
) -> Aggregate {
    debug_assert!(maintenance.windows(2).all(|w| w[0].0 < w[0].1 && w[0].1 <= w[1].0));
    if maintenance.is_empty() {
        aggregate(spans, upstream_count, window_start, at, system_down, strict)
    } else {
        sweep::<true>(spans, maintenance, upstream_count, window_start, at, system_down, strict)
    }
}

/// The range whose maintenance a status at `at` can subtract: the
/// objective's window or the widest burn window, whichever reaches further
/// back, up to `at`.
pub fn maintenance_range(objective: &Objective, at: Timestamp) -> (i64, i64) {
    let widest = BURN_WINDOWS[BURN_WINDOWS.len() - 1].1;
    (objective.window_start(at).millis().min(at.millis().saturating_sub(widest)), at.millis())
}

/// Downtime of `[from, to)` covered by `intervals` (sorted, disjoint). Stops
/// at the first interval starting at or after `to`, so a span clear of
/// maintenance costs one comparison.
#[inline]
fn covered(intervals: &[(i64, i64)], from: i64, to: i64) -> i64 {
    let mut sum = 0;
    for &(start, end) in intervals {
        if start >= to {
            break;
        }
        let lo = start.max(from);
        sum += end.min(to).max(lo) - lo;
    }
    sum
}

/// The loop of [`aggregate`] and [`aggregate_excluding`]; `EXCLUDE = false`
/// compiles the maintenance bookkeeping away.
fn sweep<const EXCLUDE: bool>(
    spans: &[EventSpan],
    maintenance: &[(i64, i64)],
    upstream_count: usize,
    window_start: i64,
    at: i64,
    system_down: bool,
    strict: bool,
) -> Aggregate {
    // Slot 0 is `self`, 1..=upstream_count the upstream table, and the last
    // slot any index outside the table (counted in the total only).
    let unknown = upstream_count + 1;
    let mut slots = vec![0i64; upstream_count + 2];
    let mut burn_ms = [0i64; BURN_WINDOWS.len()];
    let mut maintenance_ms = 0i64;
    let mut has_open = false;
    let burn_horizon = at - BURN_WINDOWS[BURN_WINDOWS.len() - 1].1;
    let burn_starts = BURN_WINDOWS.map(|(_, width)| at - width);
    // Intervals before `next` ended by the start of a span already seen;
    // spans sorted by start never need them again. `next_start` is where
    // interval `next` begins: a span ending by then misses every interval,
    // which is the one comparison most spans pay.
    let mut next = 0usize;
    let mut next_start = maintenance.first().map_or(i64::MAX, |&(start, _)| start);
    let mut previous_start = i64::MIN;
    for span in spans {
        let open = span.end == OPEN_END;
        // A stale open span (system not down) counts for nothing: give it an
        // empty extent instead of branching around it.
        let end = if open & !system_down { span.start } else { span.end.min(at) };
        let start = span.start.max(window_start);
        let inside = end.max(start) - start;
        // `|` and `&` rather than `||` and `&&`: no short-circuit branches.
        let consumed = strict | (span.upstream == 0);
        let mut near: &[(i64, i64)] = &[];
        let mut excused = 0;
        if EXCLUDE {
            if span.start < previous_start {
                next = maintenance.partition_point(|&(_, until)| until <= span.start);
                next_start = maintenance.get(next).map_or(i64::MAX, |&(start, _)| start);
            }
            previous_start = span.start;
            if end > next_start {
                while maintenance.get(next).is_some_and(|&(_, until)| until <= span.start) {
                    next += 1;
                }
                next_start = maintenance.get(next).map_or(i64::MAX, |&(start, _)| start);
                near = maintenance.get(next..).unwrap_or_default();
                excused = covered(near, start, end);
                maintenance_ms += i64::from(consumed) * excused;
            }
        }
        let ms = inside - excused;
        let slot = (span.upstream as usize).min(unknown);
        // `slot <= unknown < slots.len()`, so this never misses.
        if let Some(sum) = slots.get_mut(slot) {
            *sum += ms;
        }
        // SPEC §12: maintenance does not hide that downtime is open.
        has_open |= open & consumed & (inside > 0);
        // Sorted input makes this branch predictable: only the last 72 h
        // take it.
        if end > burn_horizon {
            let weight = i64::from(consumed);
            for (sum, from) in burn_ms.iter_mut().zip(burn_starts) {
                let start = span.start.max(from);
                let mut part = end.max(start) - start;
                if EXCLUDE {
                    part -= covered(near, start, end);
                }
                *sum += weight * part;
            }
        }
    }
    let upstream_ms = slots[1..=upstream_count].to_vec();
    Aggregate {
        total_ms: slots.iter().sum(),
        self_ms: slots[0],
        upstream_ms,
        burn_ms,
        maintenance_ms,
        has_open,
    }
}

/// What [`aggregate`] found for the settled part of one span list, kept
/// between reads so the next read of the same list walks only the rest.
///
/// A span is settled for a read when it is closed, starts at or after the
/// window's start and ends by the widest burn window's start: then all it
/// adds is its length to its attribution slot, whatever `at`, the system's
/// health or the objective's mode. Time only moves forward, so a span stays
/// settled until the window's start passes its start, and the settled spans
/// of a list sorted by start are one run `[first, last)` whose ends move
/// forward only. A read therefore drops the few spans the window left
/// behind, takes in the ones the burn windows let go, and walks the spans
/// outside the run as [`aggregate`] does (the last 72 hours, nearly always).
///
/// The sums hold for the one list they were taken on, which the caller
/// keeps next to them: its address and length are checked on every use,
/// and a list that is changed in place must get fresh sums.
///
/// The sums are taken on the second read of a list, not the first: most
/// lists made for one status (inside a transaction, for a past instant)
/// are read once, and for them taking the sums would only add a pass.
#[derive(Debug, Default)]
pub struct SettledSums(std::sync::Mutex<Memo>);

#[derive(Debug, Default)]
enum Memo {
    #[default]
    Empty,
    /// A list read once, by address and length, with its upstream count.
    Seen((usize, usize), usize),
    Taken(Settled),
}

#[derive(Debug)]
struct Settled {
    /// The list these are for: its address and length.
    list: (usize, usize),
    upstream_count: usize,
    /// The window start and burn horizon of the last read: every span of
    /// `first..last` is closed, starts at or after the one and ends by the
    /// other.
    window_start: i64,
    horizon: i64,
    first: usize,
    last: usize,
    /// Lengths of the spans of `first..last` by slot, as [`aggregate`]
    /// numbers them (0 self, then the upstream table, then unknown): only
    /// the slots an objective's spans use (a handful), not one for every
    /// upstream in the table, which is shared by all objectives.
    slots: Vec<(usize, i64)>,
}

impl Settled {
    fn add(&mut self, span: &EventSpan, sign: i64) {
        let slot = (span.upstream as usize).min(self.upstream_count + 1);
        let length = sign * (span.end - span.start);
        match self.slots.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, sum)) => *sum += length,
            None => self.slots.push((slot, length)),
        }
    }
}

/// Whether `span` is settled for a read with this window start and burn
/// horizon (see [`SettledSums`]).
fn settled(span: &EventSpan, window_start: i64, horizon: i64) -> bool {
    span.end != OPEN_END && span.start >= window_start && span.end <= horizon
}

/// [`aggregate`], walking only the spans that are not settled since the
/// last call with the same `sums` (see [`SettledSums`]). The answer is
/// always [`aggregate`]'s: a call that cannot use the sums (another list, a
/// window start or `at` earlier than the last, spans out of order)
/// computes it whole and leaves them as they were.
pub fn aggregate_settled(
    spans: &[EventSpan],
    sums: &SettledSums,
    upstream_count: usize,
    window_start: i64,
    at: i64,
    system_down: bool,
    strict: bool,
) -> Aggregate {
    let list = (spans.as_ptr() as usize, spans.len());
    let horizon = at - BURN_WINDOWS[BURN_WINDOWS.len() - 1].1;
    // Nothing panics while holding it; were it poisoned, the sums would
    // only be recomputed.
    let mut guard = sums.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let plain = || aggregate(spans, upstream_count, window_start, at, system_down, strict);
    match &*guard {
        Memo::Taken(s) if s.list == list && s.upstream_count == upstream_count => {
            // A read further back in time than the last leaves the sums
            // for the next read that is not.
            if window_start < s.window_start || horizon < s.horizon {
                return plain();
            }
        }
        // The second read of a list takes the sums, if the list is sorted
        // (only then are its settled spans one run).
        Memo::Seen(seen, count)
            if *seen == list
                && *count == upstream_count
                && spans.windows(2).all(|w| w[0].start <= w[1].start) =>
        {
            let first = spans.partition_point(|span| span.start < window_start);
            *guard = Memo::Taken(Settled {
                list,
                upstream_count,
                window_start,
                horizon,
                first,
                last: first,
                slots: Vec::new(),
            });
        }
        // A first read, another list or another upstream table.
        _ => {
            *guard = Memo::Seen(list, upstream_count);
            return plain();
        }
    }
    let Memo::Taken(state) = &mut *guard else {
        return plain();
    };
    // Spans the window's start has passed leave the run.
    let run = spans.get(state.first..state.last).unwrap_or_default();
    let left = run.partition_point(|span| span.start < window_start);
    for span in run.iter().take(left) {
        state.add(span, -1);
    }
    state.first += left;
    state.window_start = window_start;
    // Spans the burn windows let go join it.
    if state.first == state.last {
        state.first = spans.partition_point(|span| span.start < window_start);
        state.last = state.first;
    }
    while let Some(span) = spans.get(state.last).filter(|s| settled(s, window_start, horizon)) {
        let span = *span;
        state.add(&span, 1);
        state.last += 1;
    }
    state.horizon = horizon;

    let (before, rest) = spans.split_at(state.first.min(spans.len()));
    let after = rest.get(state.last - state.first..).unwrap_or_default();
    let mut total = aggregate(before, upstream_count, window_start, at, system_down, strict);
    let tail = aggregate(after, upstream_count, window_start, at, system_down, strict);
    total.total_ms += tail.total_ms;
    total.self_ms += tail.self_ms;
    for (sum, more) in total.upstream_ms.iter_mut().zip(&tail.upstream_ms) {
        *sum += more;
    }
    for (sum, more) in total.burn_ms.iter_mut().zip(tail.burn_ms) {
        *sum += more;
    }
    for &(slot, sum) in &state.slots {
        total.total_ms += sum;
        match slot {
            0 => total.self_ms += sum,
            n => {
                // Slot `upstream_count + 1` (unknown) counts in the total
                // only.
                if let Some(upstream) = total.upstream_ms.get_mut(n - 1) {
                    *upstream += sum;
                }
            }
        }
    }
    total.has_open |= tail.has_open;
    total
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BurnRates {
    #[serde(rename = "5m")]
    pub m5: Option<f64>,
    /// SPEC §12 added it; absent from statuses stored before.
    #[serde(rename = "30m", default)]
    pub m30: Option<f64>,
    #[serde(rename = "1h")]
    pub h1: Option<f64>,
    #[serde(rename = "6h")]
    pub h6: Option<f64>,
    #[serde(rename = "24h")]
    pub h24: Option<f64>,
    #[serde(rename = "72h")]
    pub h72: Option<f64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributionEntry {
    pub source_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_id: Option<SystemId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_name: Option<String>,
    pub minutes: f64,
}

/// `SloStatus` (SPEC §4), field for field.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SloStatus {
    pub objective_id: ObjectiveId,
    pub system_id: SystemId,
    pub target: f64,
    /// `null` for a calendar objective.
    pub window_days: Option<u32>,
    /// `{unit, timeZone}` for a calendar objective, else `null` (SPEC §17).
    #[serde(default)]
    pub calendar: Option<Calendar>,
    /// The calendar period the status is for, `{start, end}`; `null` for a
    /// rolling objective.
    #[serde(default)]
    pub period: Option<Period>,
    pub health_check_configuration_id: Option<String>,
    pub health_check_configuration_name: Option<String>,
    pub current_availability: f64,
    pub strict_availability: f64,
    pub error_budget_total_minutes: f64,
    pub error_budget_consumed_minutes: f64,
    pub error_budget_consumed_strict_minutes: f64,
    pub error_budget_remaining_minutes: f64,
    pub error_budget_remaining_percent: f64,
    pub burn_rate: Option<f64>,
    pub burn_rates: BurnRates,
    pub dependency_exclusion: DependencyExclusion,
    pub is_breaching: bool,
    pub has_open_downtime: bool,
    /// Downtime left out because maintenance covered it (SPEC §12); 0 when
    /// the objective does not exclude maintenance.
    #[serde(default)]
    pub maintenance_minutes: f64,
    pub attribution: Vec<AttributionEntry>,
    pub computed_at: Timestamp,
}

fn minutes(ms: i64) -> f64 {
    ms as f64 / MINUTE_MS as f64
}

/// The status of `objective` at `at`, from its events (any order) and the
/// upstream table the spans index into.
pub fn compute_status(
    objective: &Objective,
    spans: &[EventSpan],
    upstreams: &[(SystemId, String)],
    at: Timestamp,
    system_down: bool,
) -> SloStatus {
    compute_status_excluding(objective, spans, upstreams, at, system_down, &[])
}

/// [`compute_status`] with the merged maintenance occurrences of the
/// objective's system (see [`aggregate_excluding`]); they are ignored unless
/// the objective has `excludeMaintenanceWindows` (SPEC §12).
pub fn compute_status_excluding(
    objective: &Objective,
    spans: &[EventSpan],
    upstreams: &[(SystemId, String)],
    at: Timestamp,
    system_down: bool,
    maintenance: &[(i64, i64)],
) -> SloStatus {
    let maintenance = if objective.exclude_maintenance_windows { maintenance } else { &[] };
    status_from(objective, spans, upstreams, at, system_down, maintenance)
}

/// [`compute_status_excluding`] under a system's corrections (SPEC §17):
/// `windows` are the merged maintenance occurrences this objective excludes
/// (empty when it does not: unlike [`compute_status_excluding`], they are
/// not gated again here), and the overlay's maintenance corrections are
/// excluded for every objective.
pub fn compute_status_corrected(
    objective: &Objective,
    spans: &[EventSpan],
    upstreams: &[(SystemId, String)],
    at: Timestamp,
    system_down: bool,
    windows: &[(i64, i64)],
    overlay: &Overlay<'_>,
) -> SloStatus {
    compute_status_settled(objective, spans, None, upstreams, at, system_down, windows, overlay)
}

/// [`compute_status_corrected`], with the settled sums kept next to
/// `spans` when the caller has them (see [`SettledSums`]): used when no
/// maintenance and no correction reshapes the spans.
#[allow(clippy::too_many_arguments)]
pub fn compute_status_settled(
    objective: &Objective,
    spans: &[EventSpan],
    settled: Option<&SettledSums>,
    upstreams: &[(SystemId, String)],
    at: Timestamp,
    system_down: bool,
    windows: &[(i64, i64)],
    overlay: &Overlay<'_>,
) -> SloStatus {
    if overlay.is_empty() {
        let agg = aggregate_for(objective, spans, settled, upstreams, at, system_down, windows);
        return status_of(objective, agg, upstreams, at, system_down);
    }
    let applied = overlay.apply(spans, |id| relabel_index(objective, upstreams, id), system_down);
    let maintenance = merge_intervals(windows, &applied.maintenance);
    status_from(objective, &applied.spans, upstreams, at, system_down, &maintenance)
}

/// Two sorted, disjoint interval lists merged into one (touching ones
/// joined).
pub fn merge_intervals(a: &[(i64, i64)], b: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut all: Vec<(i64, i64)> = a.iter().chain(b).copied().collect();
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

/// The status arithmetic with `maintenance` excluded as given.
fn status_from(
    objective: &Objective,
    spans: &[EventSpan],
    upstreams: &[(SystemId, String)],
    at: Timestamp,
    system_down: bool,
    maintenance: &[(i64, i64)],
) -> SloStatus {
    let agg = aggregate_for(objective, spans, None, upstreams, at, system_down, maintenance);
    status_of(objective, agg, upstreams, at, system_down)
}

/// The sums [`status_of`] turns into a status, with `maintenance` excluded;
/// from the settled sums kept with `spans` when there are some and no
/// maintenance to exclude.
fn aggregate_for(
    objective: &Objective,
    spans: &[EventSpan],
    settled: Option<&SettledSums>,
    upstreams: &[(SystemId, String)],
    at: Timestamp,
    system_down: bool,
    maintenance: &[(i64, i64)],
) -> Aggregate {
    let strict = objective.dependency_exclusion == DependencyExclusion::Strict;
    let window_start = objective.window.bounds(at).start.millis();
    let (at, upstream_count) = (at.millis(), upstreams.len());
    match settled {
        Some(sums) if maintenance.is_empty() => {
            aggregate_settled(spans, sums, upstream_count, window_start, at, system_down, strict)
        }
        _ => aggregate_excluding(
            spans,
            maintenance,
            upstream_count,
            window_start,
            at,
            system_down,
            strict,
        ),
    }
}

/// The status an objective's sums make at `at`.
fn status_of(
    objective: &Objective,
    agg: Aggregate,
    upstreams: &[(SystemId, String)],
    at: Timestamp,
    system_down: bool,
) -> SloStatus {
    let strict = objective.dependency_exclusion == DependencyExclusion::Strict;
    let bounds = objective.window.bounds(at);
    let window_start = bounds.start.millis();

    // The budget is over the whole window; availability over the part of it
    // that has elapsed, which is all of a rolling window (SPEC §17).
    let window_minutes = minutes(bounds.length_ms());
    let elapsed_minutes = minutes(at.millis().saturating_sub(window_start));
    let total = minutes(agg.total_ms);
    let consumed = if strict { total } else { minutes(agg.self_ms) };
    let budget_fraction = (100.0 - objective.target.get()) / 100.0;
    let allowed = budget_fraction * window_minutes;
    let remaining = (allowed - consumed).max(0.0);
    let remaining_percent = if allowed > 0.0 {
        remaining / allowed * 100.0
    } else if consumed > 0.0 {
        0.0
    } else {
        100.0
    };
    let over_elapsed = |down: f64| {
        if elapsed_minutes > 0.0 {
            (elapsed_minutes - down) / elapsed_minutes * 100.0
        } else {
            100.0
        }
    };
    let availability = over_elapsed(consumed);
    let strict_availability = over_elapsed(total);
    let rate = |i: usize| {
        (budget_fraction > 0.0).then(|| {
            let width = BURN_WINDOWS[i].1 as f64;
            (agg.burn_ms[i] as f64 / width) / budget_fraction
        })
    };

    let mut attribution = vec![AttributionEntry {
        source_type: "self".into(),
        system_id: None,
        system_name: None,
        minutes: minutes(agg.self_ms),
    }];
    for ((id, name), ms) in upstreams.iter().zip(&agg.upstream_ms) {
        if *ms > 0 {
            attribution.push(AttributionEntry {
                source_type: "upstream".into(),
                system_id: Some(id.clone()),
                system_name: Some(name.clone()),
                minutes: minutes(*ms),
            });
        }
    }

    SloStatus {
        objective_id: objective.id.clone(),
        system_id: objective.system_id.clone(),
        target: objective.target.get(),
        window_days: objective.window.rolling_days().map(WindowDays::get),
        calendar: objective.window.calendar(),
        period: objective.window.calendar().map(|_| bounds),
        health_check_configuration_id: objective.health_check_configuration_id.clone(),
        health_check_configuration_name: objective.health_check_configuration_id.clone(),
        current_availability: availability,
        strict_availability,
        error_budget_total_minutes: allowed,
        error_budget_consumed_minutes: consumed,
        error_budget_consumed_strict_minutes: total,
        error_budget_remaining_minutes: remaining,
        error_budget_remaining_percent: remaining_percent,
        burn_rate: (allowed > 0.0).then(|| consumed / allowed),
        burn_rates: BurnRates {
            m5: rate(0),
            m30: rate(1),
            h1: rate(2),
            h6: rate(3),
            h24: rate(4),
            h72: rate(5),
        },
        dependency_exclusion: objective.dependency_exclusion,
        is_breaching: availability < objective.target.get(),
        has_open_downtime: system_down && agg.has_open,
        maintenance_minutes: minutes(agg.maintenance_ms),
        attribution,
        computed_at: at,
    }
}

#[cfg(test)]
mod tests {
    //! SPEC §4 with hand-computed numbers, then properties of [`aggregate`]
    //! against a span-by-span reference.

    use proptest::prelude::*;

    use super::*;
    use crate::model::{BurnRateThresholds, Target, WindowDays};
    use crate::time::DAY_MS;

    /// The instant statuses are computed at: 2026-03-01T12:00:00Z.
    const T: i64 = 1_772_366_400_000;

    /// A closed span `[T − from, T − to)`, in minutes before `T`.
    fn closed(from: i64, to: i64, upstream: u32) -> EventSpan {
        EventSpan { start: T - from * MINUTE_MS, end: T - to * MINUTE_MS, upstream }
    }

    /// An open span that began `from` minutes before `T`.
    fn open(from: i64, upstream: u32) -> EventSpan {
        EventSpan { start: T - from * MINUTE_MS, end: OPEN_END, upstream }
    }

    fn objective(target: f64, window_days: u32, mode: DependencyExclusion) -> Objective {
        Objective {
            id: crate::model::ObjectiveId::from_trusted("slo-1".into()),
            name: None,
            system_id: SystemId::parse("api", "id").unwrap(),
            health_check_configuration_id: None,
            target: Target::parse(target).unwrap(),
            window: WindowDays::parse(window_days.into()).unwrap().into(),
            dependency_exclusion: mode,
            excluded_dependency_ids: vec![],
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    /// SPEC §17 on hand-computed numbers: a UTC calendar week, T on its
    /// Thursday at 00:00 (3 days elapsed), 60 minutes down on Tuesday and
    /// 30 more on the Sunday before, outside the period.
    #[test]
    fn a_calendar_week_budgets_the_whole_week_and_measures_the_elapsed_part() {
        use crate::window::{Calendar, Window};
        let t = Timestamp::parse("2026-11-05T00:00:00Z").unwrap();
        let ms = |text: &str| Timestamp::parse(text).unwrap().millis();
        let spans = [
            EventSpan {
                start: ms("2026-11-01T12:00:00Z"),
                end: ms("2026-11-01T12:30:00Z"),
                upstream: 0,
            },
            EventSpan {
                start: ms("2026-11-03T10:00:00Z"),
                end: ms("2026-11-03T11:00:00Z"),
                upstream: 0,
            },
        ];
        let mut o = objective(99.0, 30, DependencyExclusion::Strict);
        o.window = Window::Calendar(Calendar::parse("week", "UTC").unwrap());
        let s = compute_status(&o, &spans, &[], t, false);
        assert_eq!(s.window_days, None);
        assert_eq!(s.calendar, o.window.calendar());
        let period = s.period.unwrap();
        assert_eq!(period.start, Timestamp::parse("2026-11-02T00:00:00Z").unwrap());
        assert_eq!(period.end, Timestamp::parse("2026-11-09T00:00:00Z").unwrap());
        assert_close(s.error_budget_total_minutes, 7.0 * 1440.0 * 0.01);
        assert_close(s.error_budget_consumed_minutes, 60.0);
        assert_close(s.current_availability, (3.0 * 1440.0 - 60.0) / (3.0 * 1440.0) * 100.0);
        assert_close(s.burn_rate.unwrap(), 60.0 / 100.8);
        // The burn-rate windows are §4's: the 72 h before T hold Tuesday's hour.
        assert_close(s.burn_rates.h72.unwrap(), (60.0 / (72.0 * 60.0)) / 0.01);
        // At the period's first instant nothing has elapsed: 100 %.
        let start = compute_status(&o, &spans, &[], period.start, false);
        assert_close(start.current_availability, 100.0);
        assert_close(start.error_budget_consumed_minutes, 0.0);
        // A rolling objective reports no calendar and no period.
        let rolling = status(&objective(99.0, 30, DependencyExclusion::Strict), &[], false);
        assert_eq!((rolling.window_days, rolling.calendar, rolling.period), (Some(30), None, None));
    }

    fn upstream_table() -> Vec<(SystemId, String)> {
        vec![
            (SystemId::parse("db", "id").unwrap(), "Database".into()),
            (SystemId::parse("cache", "id").unwrap(), "Cache".into()),
        ]
    }

    fn status(objective: &Objective, spans: &[EventSpan], system_down: bool) -> SloStatus {
        compute_status(objective, spans, &upstream_table(), Timestamp::from_millis(T), system_down)
    }

    #[track_caller]
    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    #[track_caller]
    fn assert_close_opt(actual: Option<f64>, expected: f64) {
        assert_close(actual.expect("a value, not null"), expected);
    }

    use DependencyExclusion::{SelfOnly, Strict};

    /// 10 minutes of own downtime two days ago, 5 minutes of `db`'s one day
    /// ago.
    fn ten_self_five_upstream() -> Vec<EventSpan> {
        vec![closed(2 * 1440, 2 * 1440 - 10, 0), closed(1440, 1435, 1)]
    }

    #[test]
    fn self_only_budget_arithmetic() {
        let s = status(&objective(99.9, 30, SelfOnly), &ten_self_five_upstream(), false);
        assert_close(s.error_budget_total_minutes, 43.2);
        assert_close(s.error_budget_consumed_minutes, 10.0);
        assert_close(s.error_budget_consumed_strict_minutes, 15.0);
        assert_close(s.error_budget_remaining_minutes, 33.2);
        assert_close(s.error_budget_remaining_percent, 33.2 / 43.2 * 100.0);
        assert_close(s.error_budget_remaining_percent, 76.851_851_851_851_85);
        assert_close(s.current_availability, (43_200.0 - 10.0) / 43_200.0 * 100.0);
        assert_close(s.strict_availability, (43_200.0 - 15.0) / 43_200.0 * 100.0);
        assert_close_opt(s.burn_rate, 10.0 / 43.2);
        assert!(!s.is_breaching);
        assert!(!s.has_open_downtime);
        assert_eq!(s.dependency_exclusion, SelfOnly);
        assert_eq!(s.computed_at, Timestamp::from_millis(T));
        assert_eq!((s.objective_id.as_str(), s.system_id.as_str()), ("slo-1", "api"));
        // Only the self event is consumed, and it is 2 days old.
        assert_close_opt(s.burn_rates.h72, (10.0 / 4320.0) / 0.001);
        for rate in
            [s.burn_rates.m5, s.burn_rates.m30, s.burn_rates.h1, s.burn_rates.h6, s.burn_rates.h24]
        {
            assert_close_opt(rate, 0.0);
        }
    }

    #[test]
    fn strict_budget_arithmetic() {
        let s = status(&objective(99.9, 30, Strict), &ten_self_five_upstream(), false);
        assert_close(s.error_budget_consumed_minutes, 15.0);
        assert_close(s.error_budget_consumed_strict_minutes, 15.0);
        assert_close(s.error_budget_remaining_minutes, 28.2);
        assert_close(s.current_availability, s.strict_availability);
        assert_close_opt(s.burn_rate, 15.0 / 43.2);
        // The upstream event, exactly 24 h ago, is inside the 24 h window.
        assert_close_opt(s.burn_rates.h24, (5.0 / 1440.0) / 0.001);
        assert_close_opt(s.burn_rates.h72, (15.0 / 4320.0) / 0.001);
    }

    #[test]
    fn attribution_lists_self_and_each_upstream_with_downtime() {
        let spans = [closed(100, 90, 0), closed(80, 75, 1), closed(70, 68, 1), open(5, 0)];
        let s = status(&objective(99.9, 30, SelfOnly), &spans, true);
        assert_eq!(s.attribution.len(), 2, "cache had no downtime: no entry");
        assert_eq!(s.attribution[0].source_type, "self");
        assert_eq!(s.attribution[0].system_id, None);
        assert_close(s.attribution[0].minutes, 15.0);
        assert_eq!(s.attribution[1].source_type, "upstream");
        assert_eq!(s.attribution[1].system_id.as_ref().map(SystemId::as_str), Some("db"));
        assert_eq!(s.attribution[1].system_name.as_deref(), Some("Database"));
        assert_close(s.attribution[1].minutes, 7.0);

        let json = serde_json::to_value(&s.attribution).unwrap();
        assert_eq!(json[0], serde_json::json!({"sourceType": "self", "minutes": 15.0}));
        assert_eq!(
            json[1],
            serde_json::json!({"sourceType": "upstream", "systemId": "db", "systemName": "Database", "minutes": 7.0})
        );
    }

    #[test]
    fn burn_rates_over_each_window() {
        // 12 minutes ending 50 minutes ago (2 of them before the last hour),
        // and an outage open for the last 3 minutes; upstream downtime in the
        // last hour is not consumed in self-only mode.
        let spans = [closed(62, 50, 0), open(3, 0), closed(30, 20, 2)];
        let s = status(&objective(99.0, 30, SelfOnly), &spans, true);
        let fraction = 0.01;
        assert_close_opt(s.burn_rates.m5, (3.0 / 5.0) / fraction);
        assert_close_opt(s.burn_rates.m30, (3.0 / 30.0) / fraction);
        assert_close_opt(s.burn_rates.h1, (13.0 / 60.0) / fraction);
        assert_close_opt(s.burn_rates.h6, (15.0 / 360.0) / fraction);
        assert_close_opt(s.burn_rates.h24, (15.0 / 1440.0) / fraction);
        assert_close_opt(s.burn_rates.h72, (15.0 / 4320.0) / fraction);
        assert!(s.has_open_downtime);

        // Keys in SPEC §12's order (serde_json keeps a struct's field order
        // in text).
        let json = serde_json::to_string(&s.burn_rates).unwrap();
        let positions: Vec<usize> = ["5m", "30m", "1h", "6h", "24h", "72h"]
            .iter()
            .map(|key| json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key}")))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert_eq!(serde_json::to_value(s.burn_rates).unwrap().as_object().unwrap().len(), 6);
    }

    #[test]
    fn a_hundred_percent_target_has_no_rates_and_no_budget() {
        let clean = status(&objective(100.0, 30, Strict), &[], false);
        assert_eq!(clean.error_budget_total_minutes, 0.0);
        assert_eq!(clean.error_budget_remaining_percent, 100.0);
        assert_eq!(clean.burn_rate, None);
        assert_eq!(clean.current_availability, 100.0);
        assert!(!clean.is_breaching);
        let nulls = BurnRates { m5: None, m30: None, h1: None, h6: None, h24: None, h72: None };
        assert_eq!(clean.burn_rates, nulls);

        let hit = status(&objective(100.0, 30, Strict), &[closed(10, 9, 0)], false);
        assert_eq!(hit.error_budget_remaining_percent, 0.0);
        assert_eq!(hit.error_budget_remaining_minutes, 0.0);
        assert_eq!(hit.burn_rate, None);
        assert_eq!(hit.burn_rates, nulls);
        assert!(hit.is_breaching);
        let json = serde_json::to_value(&hit).unwrap();
        assert_eq!(json["burnRate"], serde_json::Value::Null);
        assert_eq!(json["burnRates"]["72h"], serde_json::Value::Null);
    }

    #[test]
    fn an_overspent_budget_bottoms_out_at_zero() {
        // 99 % over 1 day allows 14.4 minutes; 20 were spent.
        let s = status(&objective(99.0, 1, Strict), &[closed(30, 10, 0)], false);
        assert_close(s.error_budget_total_minutes, 14.4);
        assert_eq!(s.error_budget_remaining_minutes, 0.0);
        assert_eq!(s.error_budget_remaining_percent, 0.0);
        assert_close_opt(s.burn_rate, 20.0 / 14.4);
        assert!(s.is_breaching);
    }

    #[test]
    fn an_open_event_counts_only_while_the_system_is_down() {
        let spans = [open(10, 0)];
        let stale = status(&objective(99.9, 30, Strict), &spans, false);
        assert_eq!(stale.error_budget_consumed_minutes, 0.0);
        assert!(!stale.has_open_downtime);
        assert_close_opt(stale.burn_rates.m5, 0.0);

        let live = status(&objective(99.9, 30, Strict), &spans, true);
        assert_close(live.error_budget_consumed_minutes, 10.0);
        assert!(live.has_open_downtime);
        assert_close_opt(live.burn_rates.m5, 1.0 / 0.001);
    }

    #[test]
    fn open_downtime_is_only_reported_when_it_is_consumed() {
        let spans = [open(10, 1)];
        let self_only = status(&objective(99.9, 30, SelfOnly), &spans, true);
        assert!(!self_only.has_open_downtime, "upstream downtime is excused");
        assert_close(self_only.error_budget_consumed_strict_minutes, 10.0);
        let strict = status(&objective(99.9, 30, Strict), &spans, true);
        assert!(strict.has_open_downtime);
    }

    #[test]
    fn events_are_clamped_to_the_window() {
        let day = 1440;
        let spans = [
            closed(day + 30, day - 20, 0), // 20 of its 50 minutes inside
            closed(3 * day, 2 * day, 0),   // entirely before the window
            open(day + 60, 1),             // open for 25 h: 24 h inside
        ];
        let s = status(&objective(99.0, 1, SelfOnly), &spans, true);
        assert_close(s.error_budget_consumed_minutes, 20.0);
        assert_close(s.error_budget_consumed_strict_minutes, 20.0 + 1440.0);
        assert_close(s.strict_availability, 0.0 - 20.0 / 1440.0 * 100.0);

        // Computing an earlier instant cuts events that ended after it.
        let earlier = Timestamp::from_millis(T - 30 * MINUTE_MS);
        let s =
            compute_status(&objective(99.0, 30, Strict), &[closed(40, 10, 0)], &[], earlier, false);
        assert_close(s.error_budget_consumed_minutes, 10.0);
        // ... and ignore events that began after it.
        let s =
            compute_status(&objective(99.0, 30, Strict), &[closed(20, 10, 0)], &[], earlier, false);
        assert_eq!(s.error_budget_consumed_minutes, 0.0);
    }

    #[test]
    fn the_longest_window_does_not_overflow() {
        let s = status(
            &objective(99.9, crate::model::MAX_WINDOW_DAYS, Strict),
            &[closed(10, 0, 0)],
            false,
        );
        assert_close(s.error_budget_total_minutes, 0.001 * 3650.0 * 1440.0);
        assert_close(s.error_budget_consumed_minutes, 10.0);
    }

    // ---- maintenance (SPEC §12) ---------------------------------------------

    use crate::maintenance::{merged_occurrences, MaintenanceWindow};

    fn excluding(mut objective: Objective) -> Objective {
        objective.exclude_maintenance_windows = true;
        objective
    }

    /// A one-off window `[T − from, T − to)`, in minutes before `T`.
    fn planned(from: i64, to: i64) -> MaintenanceWindow {
        let at = |minutes: i64| Timestamp::from_millis(T - minutes * MINUTE_MS);
        MaintenanceWindow::new(at(from), at(to), None, false).unwrap()
    }

    fn status_with(
        objective: &Objective,
        spans: &[EventSpan],
        windows: &[MaintenanceWindow],
        system_down: bool,
    ) -> SloStatus {
        let at = Timestamp::from_millis(T);
        let (from, to) = maintenance_range(objective, at);
        let merged = merged_occurrences(windows, from, to);
        compute_status_excluding(objective, spans, &upstream_table(), at, system_down, &merged)
    }

    #[test]
    fn a_window_over_half_an_outage_excuses_that_half() {
        // 40 minutes down, from 60 to 20 minutes ago; maintenance covered
        // its last 20.
        let spans = [closed(60, 20, 0)];
        let windows = [planned(40, 0)];
        let s = status_with(&excluding(objective(99.9, 30, Strict)), &spans, &windows, false);
        assert_close(s.maintenance_minutes, 20.0);
        assert_close(s.error_budget_consumed_minutes, 20.0);
        assert_close(s.error_budget_consumed_strict_minutes, 20.0);
        assert_close(s.error_budget_remaining_minutes, 23.2);
        assert_close(s.current_availability, (43_200.0 - 20.0) / 43_200.0 * 100.0);
        assert_close(s.strict_availability, s.current_availability);
        assert_close(s.attribution[0].minutes, 20.0);
        assert_close_opt(s.burn_rate, 20.0 / 43.2);
        // The last 30 minutes held 10 minutes of downtime, all in maintenance.
        assert_close_opt(s.burn_rates.m30, 0.0);
        assert_close_opt(s.burn_rates.h1, (20.0 / 60.0) / 0.001);
        assert_eq!(serde_json::to_value(&s).unwrap()["maintenanceMinutes"], 20.0);

        // The same windows on an objective that does not exclude them.
        let s = status_with(&objective(99.9, 30, Strict), &spans, &windows, false);
        assert_eq!(s.maintenance_minutes, 0.0);
        assert_close(s.error_budget_consumed_minutes, 40.0);
        assert_close_opt(s.burn_rates.m30, (10.0 / 30.0) / 0.001);
    }

    #[test]
    fn self_only_counts_only_the_self_part_as_maintenance() {
        // Self down 100–80 minutes ago, `db` down 70–50; maintenance 90–60
        // covers 10 minutes of each.
        let spans = [closed(100, 80, 0), closed(70, 50, 1)];
        let s = status_with(
            &excluding(objective(99.9, 30, SelfOnly)),
            &spans,
            &[planned(90, 60)],
            false,
        );
        assert_close(s.maintenance_minutes, 10.0);
        assert_close(s.error_budget_consumed_minutes, 10.0);
        // The strict figures and the attribution use what is left, upstream
        // included.
        assert_close(s.error_budget_consumed_strict_minutes, 20.0);
        assert_close(s.attribution[0].minutes, 10.0);
        assert_close(s.attribution[1].minutes, 10.0);
        assert_close_opt(s.burn_rates.h6, (10.0 / 360.0) / 0.001);
    }

    #[test]
    fn overlapping_windows_are_subtracted_once_and_cancelled_ones_not_at_all() {
        // Down 50–10 minutes ago; windows 60–30 and 45–15 merge into 60–15.
        let spans = [closed(50, 10, 0)];
        let o = excluding(objective(99.9, 30, Strict));
        let s = status_with(&o, &spans, &[planned(60, 30), planned(45, 15)], false);
        assert_close(s.maintenance_minutes, 35.0);
        assert_close(s.error_budget_consumed_minutes, 5.0);
        assert_close_opt(s.burn_rates.m30, (5.0 / 30.0) / 0.001);

        let cancelled = planned(60, 30).with_cancelled(true);
        let s = status_with(&o, &spans, &[cancelled, planned(45, 15)], false);
        assert_close(s.maintenance_minutes, 30.0);
        assert_close(s.error_budget_consumed_minutes, 10.0);
    }

    #[test]
    fn open_downtime_in_maintenance_is_still_open() {
        let s = status_with(
            &excluding(objective(99.9, 30, Strict)),
            &[open(10, 0)],
            &[planned(20, 0)],
            true,
        );
        assert_close(s.maintenance_minutes, 10.0);
        assert_eq!(s.error_budget_consumed_minutes, 0.0);
        assert!(s.has_open_downtime);
        // A stale open event counts for nothing, maintenance included.
        let s = status_with(
            &excluding(objective(99.9, 30, Strict)),
            &[open(10, 0)],
            &[planned(20, 0)],
            false,
        );
        assert_eq!((s.maintenance_minutes, s.has_open_downtime), (0.0, false));
    }

    #[test]
    fn maintenance_outside_the_window_still_counts_for_wider_burn_windows() {
        // A 1-day objective: downtime 30 h ago lies outside its window but
        // inside the 72 h burn window, and so does the maintenance over half
        // of it.
        let spans = [closed(30 * 60, 30 * 60 - 20, 0)];
        let windows = [planned(30 * 60, 30 * 60 - 10)];
        let s = status_with(&excluding(objective(99.0, 1, Strict)), &spans, &windows, false);
        assert_eq!(s.error_budget_consumed_minutes, 0.0);
        assert_eq!(s.maintenance_minutes, 0.0, "only downtime inside the window");
        assert_close_opt(s.burn_rates.h72, (10.0 / 4320.0) / 0.01);
    }

    // ---- properties -------------------------------------------------------

    /// [`aggregate`] written the slow, obvious way: each span on its own.
    fn reference(
        spans: &[EventSpan],
        upstream_count: usize,
        window_start: i64,
        at: i64,
        down: bool,
        strict: bool,
    ) -> Aggregate {
        let overlap = |span: &EventSpan, from: i64| {
            let end = if span.end == OPEN_END { at } else { span.end.min(at) };
            (end - span.start.max(from)).max(0)
        };
        let mut agg = Aggregate { upstream_ms: vec![0; upstream_count], ..Aggregate::default() };
        for span in spans.iter().filter(|s| down || s.end != OPEN_END) {
            let ms = overlap(span, window_start);
            let consumed = strict || span.upstream == 0;
            agg.total_ms += ms;
            match span.upstream {
                0 => agg.self_ms += ms,
                n => {
                    if let Some(slot) = agg.upstream_ms.get_mut(n as usize - 1) {
                        *slot += ms;
                    }
                }
            }
            if consumed {
                for (slot, (_, width)) in agg.burn_ms.iter_mut().zip(BURN_WINDOWS) {
                    *slot += overlap(span, at - width);
                }
                agg.has_open |= span.end == OPEN_END && ms > 0;
            }
        }
        agg
    }

    fn span_strategy() -> impl Strategy<Value = EventSpan> {
        // Starts from 5 days before `T` to 1 hour after; lengths up to 2 days.
        (-5 * DAY_MS..HOUR_MS, 0..2 * DAY_MS, 0u32..4, prop::bool::weighted(0.2)).prop_map(
            |(offset, len, upstream, is_open)| EventSpan {
                start: T + offset,
                end: if is_open { OPEN_END } else { T + offset + len },
                upstream,
            },
        )
    }

    /// Non-overlapping spans with gaps, as the engine produces them.
    fn timeline_strategy() -> impl Strategy<Value = Vec<EventSpan>> {
        prop::collection::vec((0..DAY_MS, 1..DAY_MS, 0u32..3), 0..12).prop_map(|pieces| {
            let mut cursor = T - 6 * DAY_MS;
            pieces
                .into_iter()
                .map(|(gap, len, upstream)| {
                    let start = cursor + gap;
                    cursor = start + len;
                    EventSpan { start, end: cursor, upstream }
                })
                .collect()
        })
    }

    /// [`aggregate_excluding`] the slowest way: minute by minute, with the
    /// maintenance as raw, possibly overlapping `(start, end)` pieces.
    /// Every boundary is a whole minute.
    fn per_minute(
        spans: &[EventSpan],
        pieces: &[(i64, i64)],
        window_start: i64,
        down: bool,
        strict: bool,
    ) -> Aggregate {
        let mut agg = Aggregate { upstream_ms: vec![0; 2], ..Aggregate::default() };
        let covered = |m: i64| pieces.iter().any(|&(s, e)| s <= m && m < e);
        for span in spans.iter().filter(|s| down || s.end != OPEN_END) {
            let end = span.end.min(T);
            let consumed = strict || span.upstream == 0;
            let mut minute = span.start;
            while minute < end {
                let in_window = minute >= window_start;
                agg.has_open |= consumed && in_window && span.end == OPEN_END;
                if covered(minute) {
                    if consumed && in_window {
                        agg.maintenance_ms += MINUTE_MS;
                    }
                } else {
                    if in_window {
                        agg.total_ms += MINUTE_MS;
                        match span.upstream {
                            0 => agg.self_ms += MINUTE_MS,
                            n => {
                                if let Some(slot) = agg.upstream_ms.get_mut(n as usize - 1) {
                                    *slot += MINUTE_MS;
                                }
                            }
                        }
                    }
                    if consumed {
                        for (slot, (_, width)) in agg.burn_ms.iter_mut().zip(BURN_WINDOWS) {
                            if minute >= T - width {
                                *slot += MINUTE_MS;
                            }
                        }
                    }
                }
                minute += MINUTE_MS;
            }
        }
        agg
    }

    /// Spans on whole minutes: starts from 5 days before `T` to 1 hour
    /// after, up to 2 days long, sorted by start, some overlapping.
    fn minute_spans() -> impl Strategy<Value = Vec<EventSpan>> {
        prop::collection::vec(
            (-5 * 1440..60i64, 0..2 * 1440i64, 0u32..4, prop::bool::weighted(0.1)),
            0..12,
        )
        .prop_map(|pieces| {
            let mut spans: Vec<EventSpan> = pieces
                .into_iter()
                .map(|(start, len, upstream, is_open)| {
                    let start = T + start * MINUTE_MS;
                    let end = if is_open { OPEN_END } else { start + len * MINUTE_MS };
                    EventSpan { start, end, upstream }
                })
                .collect();
            spans.sort_by_key(|span| span.start);
            spans
        })
    }

    /// Spans on whole minutes over the 40 days before `T`, up to 3 days
    /// long, sorted by start, some overlapping, the last sometimes open.
    fn month_spans() -> impl Strategy<Value = Vec<EventSpan>> {
        prop::collection::vec((-40 * 1440..0i64, 0..3 * 1440i64, 0u32..5), 0..40)
            .prop_flat_map(|pieces| (Just(pieces), prop::bool::weighted(0.2)))
            .prop_map(|(pieces, last_open)| {
                let mut spans: Vec<EventSpan> = pieces
                    .into_iter()
                    .map(|(start, len, upstream)| {
                        let start = T + start * MINUTE_MS;
                        EventSpan { start, end: start + len * MINUTE_MS, upstream }
                    })
                    .collect();
                spans.sort_by_key(|span| span.start);
                if let Some(last) = spans.last_mut().filter(|_| last_open) {
                    last.end = OPEN_END;
                }
                spans
            })
    }

    /// One-off maintenance windows on whole minutes in the last 5 days, up
    /// to a day long; some cancelled.
    fn minute_windows() -> impl Strategy<Value = Vec<MaintenanceWindow>> {
        prop::collection::vec((-5 * 1440..0i64, 1..1440i64, prop::bool::weighted(0.2)), 0..8)
            .prop_map(|pieces| {
                pieces
                    .into_iter()
                    .map(|(start, len, cancelled)| {
                        let start = Timestamp::from_millis(T + start * MINUTE_MS);
                        let end = start.plus_millis(len * MINUTE_MS);
                        MaintenanceWindow::new(start, end, None, cancelled).unwrap()
                    })
                    .collect()
            })
    }

    proptest! {
        /// Reads moving forward in time over one list, with the settled
        /// sums kept between them, answer what the plain pass does; so do
        /// reads back in time in between, and the same sums over another
        /// list or upstream table.
        #[test]
        fn settled_sums_answer_what_the_plain_pass_does(
            spans in month_spans(),
            other in month_spans(),
            steps in prop::collection::vec((0i64..3 * 1440, 0i64..1440, prop::bool::weighted(0.15)), 1..16),
            window_days in 1i64..35,
            down: bool,
            strict: bool,
        ) {
            let sums = SettledSums::default();
            let mut at = T - 20 * DAY_MS;
            for (step, back, use_other) in steps {
                at += step * MINUTE_MS;
                let window_start = at - window_days * DAY_MS;
                let list = if use_other { &other } else { &spans };
                let upstreams = if use_other { 3 } else { 2 };
                let got = aggregate_settled(list, &sums, upstreams, window_start, at, down, strict);
                prop_assert_eq!(&got, &aggregate(list, upstreams, window_start, at, down, strict));
                // A read further back answers too, and leaves the sums be.
                let earlier = at - back * MINUTE_MS;
                let start = earlier - window_days * DAY_MS;
                let got = aggregate_settled(&spans, &sums, 2, start, earlier, down, strict);
                prop_assert_eq!(&got, &aggregate(&spans, 2, start, earlier, down, strict));
            }
        }

        /// The whole status with settled sums is the status without them.
        #[test]
        fn a_status_from_settled_sums_is_the_plain_status(
            spans in month_spans(),
            steps in prop::collection::vec(0i64..2 * 1440, 1..8),
            window_days in 1u32..35,
            down: bool,
            strict: bool,
        ) {
            let mode = if strict { DependencyExclusion::Strict } else { DependencyExclusion::SelfOnly };
            let objective = objective(99.5, window_days, mode);
            let ups: Vec<(SystemId, String)> = ["db", "cache", "dns", "queue"]
                .map(|id| (SystemId::parse(id, "id").unwrap(), id.to_uppercase()))
                .to_vec();
            let sums = SettledSums::default();
            let overlay = Overlay::default();
            let mut at = T - 10 * DAY_MS;
            for step in steps {
                at += step * MINUTE_MS;
                let at = Timestamp::from_millis(at);
                let plain = compute_status_corrected(&objective, &spans, &ups, at, down, &[], &overlay);
                let settled = compute_status_settled(&objective, &spans, Some(&sums), &ups, at, down, &[], &overlay);
                prop_assert_eq!(settled, plain);
            }
        }

        #[test]
        fn exclusion_matches_a_minute_by_minute_count(
            mut spans in minute_spans(),
            windows in minute_windows(),
            window_days in 1i64..4,
            down: bool,
            strict: bool,
            seed: usize,
        ) {
            let window_start = T - window_days * DAY_MS;
            let widest = BURN_WINDOWS[BURN_WINDOWS.len() - 1].1;
            let merged = merged_occurrences(&windows, window_start.min(T - widest), T);
            prop_assert!(merged.windows(2).all(|w| w[0].1 < w[1].0), "merged: {:?}", merged);
            let pieces: Vec<(i64, i64)> = windows
                .iter()
                .filter(|w| !w.is_cancelled())
                .map(|w| (w.start().millis(), w.end().millis()))
                .collect();
            let expected = per_minute(&spans, &pieces, window_start, down, strict);
            let got = aggregate_excluding(&spans, &merged, 2, window_start, T, down, strict);
            prop_assert_eq!(&got, &expected);

            // What maintenance took plus what is left is what there was.
            let plain = aggregate(&spans, 2, window_start, T, down, strict);
            let consumed = |agg: &Aggregate| if strict { agg.total_ms } else { agg.self_ms };
            prop_assert_eq!(consumed(&got) + got.maintenance_ms, consumed(&plain));
            prop_assert!(got.total_ms <= plain.total_ms && got.self_ms <= plain.self_ms);
            prop_assert_eq!(got.has_open, plain.has_open);
            // No maintenance: exactly today's aggregate.
            prop_assert_eq!(&aggregate_excluding(&spans, &[], 2, window_start, T, down, strict), &plain);
            prop_assert_eq!(plain.maintenance_ms, 0);

            // Spans out of order cost a binary search, not correctness.
            spans.reverse();
            let shift = seed % spans.len().max(1);
            spans.rotate_left(shift);
            prop_assert_eq!(&aggregate_excluding(&spans, &merged, 2, window_start, T, down, strict), &expected);
        }

        #[test]
        fn aggregate_matches_the_span_by_span_reference(
            mut spans in prop::collection::vec(span_strategy(), 0..40),
            window_days in 1i64..4,
            down: bool,
            strict: bool,
            seed: usize,
        ) {
            let window_start = T - window_days * DAY_MS;
            let expected = reference(&spans, 2, window_start, T, down, strict);
            prop_assert_eq!(&aggregate(&spans, 2, window_start, T, down, strict), &expected);
            // Order does not matter.
            spans.reverse();
            let shift = seed % spans.len().max(1);
            spans.rotate_left(shift);
            prop_assert_eq!(&aggregate(&spans, 2, window_start, T, down, strict), &expected);
        }

        #[test]
        fn self_plus_upstream_is_total_and_nothing_leaves_the_window(
            spans in timeline_strategy(),
            window_days in 1u32..4,
            down: bool,
            strict: bool,
        ) {
            let mut spans = spans;
            if let Some(last) = spans.last_mut() {
                if down { last.end = OPEN_END; }
            }
            let window_ms = i64::from(window_days) * DAY_MS;
            let agg = aggregate(&spans, 2, T - window_ms, T, down, strict);
            prop_assert_eq!(agg.total_ms, agg.self_ms + agg.upstream_ms.iter().sum::<i64>());
            prop_assert!(agg.self_ms >= 0 && agg.upstream_ms.iter().all(|ms| *ms >= 0));
            prop_assert!(agg.total_ms <= window_ms);
            for (ms, (_, width)) in agg.burn_ms.iter().zip(BURN_WINDOWS) {
                prop_assert!(*ms >= 0 && *ms <= width);
            }
            // Wider burn windows hold at least what narrower ones hold.
            prop_assert!(agg.burn_ms.windows(2).all(|w| w[0] <= w[1]));

            let objective = objective(99.5, window_days, if strict { Strict } else { SelfOnly });
            let s = compute_status(&objective, &spans, &upstream_table(), Timestamp::from_millis(T), down);
            let upstream_minutes: f64 = s.attribution.iter().skip(1).map(|a| a.minutes).sum();
            prop_assert!((s.error_budget_consumed_strict_minutes - s.attribution[0].minutes - upstream_minutes).abs() < 1e-6);
            prop_assert!(s.current_availability >= s.strict_availability);
            prop_assert!((0.0..=100.0).contains(&s.error_budget_remaining_percent));
            prop_assert!(s.error_budget_remaining_minutes >= 0.0);
        }

        #[test]
        fn a_span_counts_only_its_part_inside_the_window(
            start in -3 * DAY_MS..DAY_MS,
            len in 1..3 * DAY_MS,
            window_days in 1i64..3,
        ) {
            let span = EventSpan { start: T + start, end: T + start + len, upstream: 0 };
            let window_start = T - window_days * DAY_MS;
            let agg = aggregate(&[span], 0, window_start, T, false, true);
            let inside = (span.end.min(T) - span.start.max(window_start)).max(0);
            prop_assert_eq!(agg.total_ms, inside);
        }
    }
}
