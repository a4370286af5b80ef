//! Corrections (SPEC §17): re-labelling a past interval of one system as a
//! false positive, maintenance or an upstream's fault, as an overlay on its
//! downtime events, never a rewrite of them.
//!
//! An [`Overlay`] is built from a system's live (unrevoked) corrections: each
//! is painted over the timeline in the order it was made, so where two
//! overlap the latest made wins. [`Overlay::apply`] then turns one
//! objective's [`EventSpan`]s into the spans the SLO arithmetic should see:
//!
//! - `false_positive`: that part of any downtime is cut out;
//! - `maintenance`: that part is excluded as a maintenance window is (SPEC
//!   §12), whatever the objective's `excludeMaintenanceWindows`, so it lands
//!   in `maintenanceMinutes`;
//! - `upstream`: that part is charged to the named upstream (excused for
//!   `self-only` objectives, consumed for `strict` ones); an objective that
//!   lists the upstream in `excludedDependencyIds` keeps the part as it was.
//!
//! [`statement`] cuts the same pieces out of a period for an SLA statement,
//! each with its cause, so that its consumed minutes are the status
//! arithmetic's consumed minutes over that period.
//!
//! ```
//! use slod_core::corrections::{Correction, CorrectionKind, Overlay};
//! use slod_core::status::EventSpan;
//!
//! // The monitor lied from minute 10 to 20 of a 30-minute outage.
//! let minute = 60_000;
//! let lie = Correction { start: 10 * minute, end: 20 * minute, kind: CorrectionKind::FalsePositive };
//! let overlay = Overlay::new([&lie]);
//! let outage = [EventSpan { start: 0, end: 30 * minute, upstream: 0 }];
//! let applied = overlay.apply(&outage, |_| None, true);
//! assert_eq!(applied.spans.iter().map(|s| s.end - s.start).sum::<i64>(), 20 * minute);
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{DependencyExclusion, Objective, SystemId, ValidationError};
use crate::status::{EventSpan, OPEN_END};
use crate::time::{Timestamp, MINUTE_MS};

/// The longest a correction's reason may be, in characters (SPEC §17).
pub const MAX_REASON_CHARS: usize = 500;

/// What a correction says an interval was.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CorrectionKind {
    FalsePositive,
    Maintenance,
    Upstream(SystemId),
}

impl CorrectionKind {
    /// The wire name: `false_positive`, `maintenance` or `upstream`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::FalsePositive => "false_positive",
            Self::Maintenance => "maintenance",
            Self::Upstream(_) => "upstream",
        }
    }

    /// The upstream an `upstream` correction names.
    pub fn upstream(&self) -> Option<&SystemId> {
        match self {
            Self::Upstream(id) => Some(id),
            _ => None,
        }
    }

    /// Builds a kind from its wire name and the optional upstream. Errors
    /// name `kind` or `upstreamSystemId`.
    pub fn parse(kind: &str, upstream: Option<SystemId>) -> Result<Self, ValidationError> {
        match (kind, upstream) {
            ("false_positive", None) => Ok(Self::FalsePositive),
            ("maintenance", None) => Ok(Self::Maintenance),
            ("upstream", Some(id)) => Ok(Self::Upstream(id)),
            ("upstream", None) => {
                Err(ValidationError::new("upstreamSystemId", "is required when kind is upstream"))
            }
            ("false_positive" | "maintenance", Some(_)) => Err(ValidationError::new(
                "upstreamSystemId",
                "is only allowed when kind is upstream",
            )),
            (other, _) => Err(ValidationError::new(
                "kind",
                format!("`{other}` is not one of false_positive, maintenance, upstream"),
            )),
        }
    }
}

impl fmt::Display for CorrectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One correction as the arithmetic needs it: `[start, end)` in UTC
/// milliseconds and what it says. Who made it, when and why belong to
/// whoever stores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Correction {
    pub start: i64,
    pub end: i64,
    pub kind: CorrectionKind,
}

/// Checks SPEC §17's rules on the interval and reason of a correction made
/// at `now`: `start < end` (naming `end`), `start` not in the future
/// (naming `start`), `end` at most now (naming `end`), `reason` 1–500
/// characters after trimming (naming `reason`). Returns the trimmed reason.
pub fn validate(
    start: Timestamp,
    end: Timestamp,
    reason: &str,
    now: Timestamp,
) -> Result<String, ValidationError> {
    if start > now {
        return Err(ValidationError::new("start", "must not be in the future"));
    }
    if end <= start {
        return Err(ValidationError::new("end", "must be after start"));
    }
    if end > now {
        return Err(ValidationError::new("end", "must not be in the future"));
    }
    let reason = reason.trim();
    let chars = reason.chars().count();
    if chars == 0 {
        return Err(ValidationError::new("reason", "must not be blank"));
    }
    if chars > MAX_REASON_CHARS {
        return Err(ValidationError::new(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters (got {chars})"),
        ));
    }
    Ok(reason.to_owned())
}

/// What a piece of the timeline was corrected to, after the latest
/// correction won.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label<'a> {
    FalsePositive,
    Maintenance,
    Upstream(&'a SystemId),
}

/// The corrections of one system painted over time: sorted, disjoint
/// segments, each labelled by the latest correction made that covers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlay<'a> {
    segments: Vec<(i64, i64, Label<'a>)>,
}

/// What [`Overlay::apply`] gives the arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied<'s> {
    /// The spans with false positives cut out and upstream corrections
    /// re-attributed (borrowed unchanged when the overlay is empty).
    pub spans: Cow<'s, [EventSpan]>,
    /// The maintenance corrections, sorted and disjoint, to exclude for
    /// every objective of the system.
    pub maintenance: Vec<(i64, i64)>,
}

impl<'a> Overlay<'a> {
    /// Paints `corrections` in the order given, which must be the order
    /// they were made (oldest first): a later one wins where they overlap.
    pub fn new(corrections: impl IntoIterator<Item = &'a Correction>) -> Self {
        let mut segments: Vec<(i64, i64, Label<'a>)> = Vec::new();
        for correction in corrections {
            let (start, end) = (correction.start, correction.end);
            if start >= end {
                continue;
            }
            let label = match &correction.kind {
                CorrectionKind::FalsePositive => Label::FalsePositive,
                CorrectionKind::Maintenance => Label::Maintenance,
                CorrectionKind::Upstream(id) => Label::Upstream(id),
            };
            let mut next = Vec::with_capacity(segments.len() + 2);
            for &(s, e, l) in &segments {
                if e <= start || s >= end {
                    next.push((s, e, l));
                    continue;
                }
                if s < start {
                    next.push((s, start, l));
                }
                if e > end {
                    next.push((end, e, l));
                }
            }
            next.push((start, end, label));
            next.sort_unstable_by_key(|&(s, _, _)| s);
            segments = next;
        }
        Self { segments }
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The maintenance segments, sorted and disjoint.
    pub fn maintenance(&self) -> Vec<(i64, i64)> {
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for &(start, end, label) in &self.segments {
            if label != Label::Maintenance {
                continue;
            }
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    /// One objective's spans as the corrections make them. `relabel(id)` is
    /// the upstream-table index (1-based) to charge an `upstream`
    /// correction naming `id` to, or `None` when this objective keeps its
    /// own label there (a `self-only` objective excluding that upstream).
    /// Open spans of a system that is not down count for nothing (SPEC §4)
    /// and are dropped before they are cut, so their pieces cannot count.
    pub fn apply<'s>(
        &self,
        spans: &'s [EventSpan],
        relabel: impl Fn(&SystemId) -> Option<u32>,
        system_down: bool,
    ) -> Applied<'s> {
        if self.segments.is_empty() {
            return Applied { spans: Cow::Borrowed(spans), maintenance: Vec::new() };
        }
        let mut out = Vec::with_capacity(spans.len() + 2);
        for span in spans {
            if span.end == OPEN_END && !system_down {
                continue;
            }
            let mut cursor = span.start;
            for &(s, e, label) in &self.segments {
                if e <= cursor || s >= span.end {
                    continue;
                }
                if s > cursor {
                    out.push(EventSpan { start: cursor, end: s, upstream: span.upstream });
                }
                let piece_end = e.min(span.end);
                let upstream = match label {
                    Label::FalsePositive => None,
                    Label::Maintenance => Some(span.upstream),
                    Label::Upstream(id) => Some(relabel(id).unwrap_or(span.upstream)),
                };
                if let Some(upstream) = upstream {
                    out.push(EventSpan { start: cursor.max(s), end: piece_end, upstream });
                }
                cursor = piece_end;
                if cursor >= span.end {
                    break;
                }
            }
            if cursor < span.end {
                out.push(EventSpan { start: cursor, end: span.end, upstream: span.upstream });
            }
        }
        Applied { spans: Cow::Owned(out), maintenance: self.maintenance() }
    }

    /// The label covering the instant `t`, if any.
    fn label_at(&self, t: i64) -> Option<Label<'a>> {
        let i = self.segments.partition_point(|&(_, e, _)| e <= t);
        self.segments.get(i).filter(|&&(s, _, _)| s <= t).map(|&(_, _, l)| l)
    }
}

/// The upstream-table index an `upstream` correction naming `id` is
/// charged to for `objective` (see [`Overlay::apply`]): its entry in
/// `upstreams`, or one past the table when absent (counted in the total
/// only); `None` when a `self-only` objective excludes `id`.
pub fn relabel_index(
    objective: &Objective,
    upstreams: &[(SystemId, String)],
    id: &SystemId,
) -> Option<u32> {
    if objective.dependency_exclusion == DependencyExclusion::SelfOnly
        && objective.excluded_dependency_ids.contains(id)
    {
        return None;
    }
    let position = upstreams.iter().position(|(u, _)| u == id).unwrap_or(upstreams.len());
    u32::try_from(position + 1).ok()
}

/// Why an interval of a statement was downtime, or why it was not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    #[serde(rename = "self")]
    SelfCaused,
    Upstream,
    FalsePositive,
    Maintenance,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfCaused => "self",
            Self::Upstream => "upstream",
            Self::FalsePositive => "false_positive",
            Self::Maintenance => "maintenance",
        }
    }
}

/// One interval of an SLA statement (SPEC §17).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatementInterval {
    pub start: Timestamp,
    pub end: Timestamp,
    pub minutes: f64,
    pub cause: Cause,
    pub upstream_system_id: Option<SystemId>,
    /// Whether it consumed error budget.
    pub consumed: bool,
}

/// One objective's figures over a statement's period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementFigures {
    pub availability_percent: f64,
    pub met: bool,
    pub consumed_minutes: f64,
    pub intervals: Vec<StatementInterval>,
}

/// One objective's statement over `[from, to)`, its downtime counted up to
/// `at` (the earlier of `to` and now): every piece of downtime with its
/// cause, and availability over the elapsed part of the period, consumed
/// as SPEC §4 counts it. `spans` and `upstreams` are as for
/// [`crate::status::compute_status`]; `windows` are the merged maintenance
/// occurrences (empty unless the objective excludes maintenance).
#[allow(clippy::too_many_arguments)]
pub fn statement(
    objective: &Objective,
    spans: &[EventSpan],
    upstreams: &[(SystemId, String)],
    from: i64,
    at: i64,
    system_down: bool,
    windows: &[(i64, i64)],
    overlay: &Overlay<'_>,
) -> StatementFigures {
    let strict = objective.dependency_exclusion == DependencyExclusion::Strict;
    let mut intervals: Vec<StatementInterval> = Vec::new();
    let mut sorted: Vec<EventSpan> = spans.to_vec();
    sorted.sort_unstable_by_key(|s| (s.start, s.end));
    for span in &sorted {
        if span.end == OPEN_END && !system_down {
            continue;
        }
        let (start, end) = (span.start.max(from), span.end.min(at));
        if start >= end {
            continue;
        }
        // Every boundary inside the piece where the cause may change.
        let mut cuts: Vec<i64> = vec![start, end];
        for &(s, e, _) in &overlay.segments {
            cuts.extend([s, e].into_iter().filter(|&t| t > start && t < end));
        }
        for &(s, e) in windows {
            cuts.extend([s, e].into_iter().filter(|&t| t > start && t < end));
        }
        cuts.sort_unstable();
        cuts.dedup();
        for pair in cuts.windows(2) {
            let (s, e) = (pair[0], pair[1]);
            let in_window = windows.iter().any(|&(ws, we)| ws <= s && s < we);
            let own = upstreams
                .get((span.upstream as usize).wrapping_sub(1))
                .map(|(id, _)| id.clone())
                .filter(|_| span.upstream > 0);
            let (cause, upstream) = match overlay.label_at(s) {
                Some(Label::FalsePositive) => (Cause::FalsePositive, None),
                Some(Label::Maintenance) => (Cause::Maintenance, None),
                _ if in_window => (Cause::Maintenance, None),
                Some(Label::Upstream(id)) if relabel_index(objective, upstreams, id).is_some() => {
                    (Cause::Upstream, Some(id.clone()))
                }
                _ if span.upstream == 0 => (Cause::SelfCaused, None),
                _ => (Cause::Upstream, own),
            };
            let consumed = match cause {
                Cause::SelfCaused => true,
                Cause::Upstream => strict,
                Cause::FalsePositive | Cause::Maintenance => false,
            };
            match intervals.last_mut() {
                Some(last)
                    if last.end.millis() == s
                        && last.cause == cause
                        && last.upstream_system_id == upstream =>
                {
                    last.end = Timestamp::from_millis(e);
                }
                _ => intervals.push(StatementInterval {
                    start: Timestamp::from_millis(s),
                    end: Timestamp::from_millis(e),
                    minutes: 0.0,
                    cause,
                    upstream_system_id: upstream,
                    consumed,
                }),
            }
        }
    }
    let mut consumed_ms = 0i64;
    for interval in &mut intervals {
        let ms = interval.end.millis() - interval.start.millis();
        interval.minutes = ms as f64 / MINUTE_MS as f64;
        if interval.consumed {
            consumed_ms += ms;
        }
    }
    let elapsed = (at - from).max(0) as f64 / MINUTE_MS as f64;
    let consumed_minutes = consumed_ms as f64 / MINUTE_MS as f64;
    let availability_percent =
        if elapsed > 0.0 { (elapsed - consumed_minutes) / elapsed * 100.0 } else { 100.0 };
    StatementFigures {
        availability_percent,
        met: availability_percent >= objective.target.get(),
        consumed_minutes,
        intervals,
    }
}

#[cfg(test)]
mod tests {
    //! Hand-made overlays first, then the overlay and the statement against
    //! a minute-by-minute reference, and against the status arithmetic.

    use proptest::prelude::*;

    use super::*;
    use crate::model::{BurnRateThresholds, Target, WindowDays};
    use crate::status::{compute_status_corrected, maintenance_range};
    use crate::time::DAY_MS;

    const M: i64 = MINUTE_MS;

    fn sid(id: &str) -> SystemId {
        SystemId::parse(id, "id").unwrap()
    }

    fn fix(start: i64, end: i64, kind: CorrectionKind) -> Correction {
        Correction { start: start * M, end: end * M, kind }
    }

    fn span(start: i64, end: i64, upstream: u32) -> EventSpan {
        EventSpan { start: start * M, end: end * M, upstream }
    }

    fn objective(mode: DependencyExclusion, excluded: &[&str]) -> Objective {
        Objective {
            id: crate::model::ObjectiveId::from_trusted("slo-1".into()),
            name: None,
            system_id: sid("api"),
            health_check_configuration_id: None,
            target: Target::parse(99.0).unwrap(),
            window: WindowDays::parse(1).unwrap().into(),
            dependency_exclusion: mode,
            excluded_dependency_ids: excluded.iter().map(|id| sid(id)).collect(),
            exclude_maintenance_windows: false,
            burn_rate_thresholds: BurnRateThresholds::default(),
            burn_rate_alerts: Default::default(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    fn upstreams() -> Vec<(SystemId, String)> {
        vec![(sid("db"), "Database".into()), (sid("cdn"), "CDN".into())]
    }

    #[test]
    fn kinds_parse_with_and_without_an_upstream() {
        assert_eq!(
            CorrectionKind::parse("maintenance", None).unwrap(),
            CorrectionKind::Maintenance
        );
        assert_eq!(
            CorrectionKind::parse("upstream", Some(sid("db"))).unwrap(),
            CorrectionKind::Upstream(sid("db"))
        );
        assert_eq!(CorrectionKind::parse("upstream", None).unwrap_err().field, "upstreamSystemId");
        assert_eq!(
            CorrectionKind::parse("false_positive", Some(sid("db"))).unwrap_err().field,
            "upstreamSystemId"
        );
        assert_eq!(CorrectionKind::parse("oops", None).unwrap_err().field, "kind");
    }

    #[test]
    fn validation_names_the_field() {
        let now = Timestamp::from_millis(100 * M);
        let at = |m: i64| Timestamp::from_millis(m * M);
        assert_eq!(validate(at(10), at(20), "  lied ", now).unwrap(), "lied");
        assert_eq!(validate(at(101), at(102), "x", now).unwrap_err().field, "start");
        assert_eq!(validate(at(20), at(20), "x", now).unwrap_err().field, "end");
        assert_eq!(validate(at(20), at(101), "x", now).unwrap_err().field, "end");
        assert_eq!(validate(at(20), at(30), "   ", now).unwrap_err().field, "reason");
        assert!(validate(at(20), at(30), &"é".repeat(500), now).is_ok());
        assert_eq!(validate(at(20), at(30), &"é".repeat(501), now).unwrap_err().field, "reason");
    }

    #[test]
    fn a_false_positive_cuts_the_downtime_out() {
        let fp = fix(10, 20, CorrectionKind::FalsePositive);
        let overlay = Overlay::new([&fp]);
        let spans = [span(0, 30, 0), span(40, 50, 1)];
        let applied = overlay.apply(&spans, |_| None, false);
        assert_eq!(applied.spans.as_ref(), [span(0, 10, 0), span(20, 30, 0), span(40, 50, 1)]);
        assert!(applied.maintenance.is_empty());
    }

    #[test]
    fn the_latest_correction_wins_where_they_overlap() {
        let maintenance = fix(0, 30, CorrectionKind::Maintenance);
        let upstream = fix(10, 20, CorrectionKind::Upstream(sid("cdn")));
        let fp = fix(25, 40, CorrectionKind::FalsePositive);
        let overlay = Overlay::new([&maintenance, &upstream, &fp]);
        let outage = [span(0, 50, 0)];
        let applied = overlay.apply(&outage, |id| (id == &sid("cdn")).then_some(2), true);
        assert_eq!(
            applied.spans.as_ref(),
            [span(0, 10, 0), span(10, 20, 2), span(20, 25, 0), span(40, 50, 0)]
        );
        assert_eq!(applied.maintenance, [(0, 10 * M), (20 * M, 25 * M)]);
        // Made in the other order, the maintenance wins everywhere.
        let overlay = Overlay::new([&upstream, &fp, &maintenance]);
        let applied = overlay.apply(&outage, |_| Some(2), true);
        assert_eq!(applied.spans.as_ref(), [span(0, 30, 0), span(40, 50, 0)]);
        assert_eq!(applied.maintenance, [(0, 30 * M)]);
    }

    #[test]
    fn open_spans_keep_their_open_tail_and_stale_ones_count_nothing() {
        let fp = fix(10, 20, CorrectionKind::FalsePositive);
        let overlay = Overlay::new([&fp]);
        let open = EventSpan { start: 0, end: OPEN_END, upstream: 0 };
        let opens = [open];
        let applied = overlay.apply(&opens, |_| None, true);
        assert_eq!(
            applied.spans.as_ref(),
            [span(0, 10, 0), EventSpan { start: 20 * M, end: OPEN_END, upstream: 0 }]
        );
        assert!(overlay.apply(&opens, |_| None, false).spans.is_empty());
    }

    #[test]
    fn upstream_corrections_are_excused_only_where_the_objective_excuses() {
        let ups = upstreams();
        let strict = objective(DependencyExclusion::Strict, &[]);
        let self_only = objective(DependencyExclusion::SelfOnly, &[]);
        let excluding = objective(DependencyExclusion::SelfOnly, &["cdn"]);
        assert_eq!(relabel_index(&strict, &ups, &sid("cdn")), Some(2));
        assert_eq!(relabel_index(&self_only, &ups, &sid("cdn")), Some(2));
        assert_eq!(relabel_index(&excluding, &ups, &sid("cdn")), None);
        assert_eq!(relabel_index(&self_only, &ups, &sid("queue")), Some(3), "past the table");

        let fix = fix(0, 60, CorrectionKind::Upstream(sid("cdn")));
        let overlay = Overlay::new([&fix]);
        let at = Timestamp::from_millis(DAY_MS);
        let spans = [span(0, 60, 0)];
        let status =
            |o: &Objective| compute_status_corrected(o, &spans, &ups, at, false, &[], &overlay);
        let s = status(&self_only);
        assert_eq!(
            (s.error_budget_consumed_minutes, s.error_budget_consumed_strict_minutes),
            (0.0, 60.0)
        );
        assert_eq!(s.attribution[1].system_id, Some(sid("cdn")));
        let s = status(&strict);
        assert_eq!(s.error_budget_consumed_minutes, 60.0);
        assert_eq!(s.attribution[0].minutes, 0.0, "charged to the upstream in strict mode too");
        assert_eq!(s.attribution[1].minutes, 60.0);
        assert_eq!(status(&excluding).error_budget_consumed_minutes, 60.0);
    }

    #[test]
    fn maintenance_corrections_exclude_for_every_objective() {
        let fix = fix(0, 30, CorrectionKind::Maintenance);
        let overlay = Overlay::new([&fix]);
        let o = objective(DependencyExclusion::Strict, &[]);
        assert!(!o.exclude_maintenance_windows);
        let s = compute_status_corrected(
            &o,
            &[span(0, 60, 0)],
            &upstreams(),
            Timestamp::from_millis(DAY_MS),
            false,
            &[],
            &overlay,
        );
        assert_eq!(s.error_budget_consumed_minutes, 30.0);
        assert_eq!(s.maintenance_minutes, 30.0);
    }

    #[test]
    fn a_statement_lists_every_piece_with_its_cause() {
        let ups = upstreams();
        let o = objective(DependencyExclusion::SelfOnly, &[]);
        let fp = fix(10, 20, CorrectionKind::FalsePositive);
        let up = fix(30, 40, CorrectionKind::Upstream(sid("cdn")));
        let overlay = Overlay::new([&fp, &up]);
        let spans = [span(0, 50, 0), span(60, 70, 1)];
        let windows = [(45 * M, 47 * M)];
        let s = statement(&o, &spans, &ups, 0, 100 * M, false, &windows, &overlay);
        let causes: Vec<(i64, i64, &str, bool)> = s
            .intervals
            .iter()
            .map(|i| (i.start.millis() / M, i.end.millis() / M, i.cause.as_str(), i.consumed))
            .collect();
        assert_eq!(
            causes,
            [
                (0, 10, "self", true),
                (10, 20, "false_positive", false),
                (20, 30, "self", true),
                (30, 40, "upstream", false),
                (40, 45, "self", true),
                (45, 47, "maintenance", false),
                (47, 50, "self", true),
                (60, 70, "upstream", false),
            ]
        );
        assert_eq!(s.intervals[3].upstream_system_id, Some(sid("cdn")));
        assert_eq!(s.intervals[7].upstream_system_id, Some(sid("db")));
        assert_eq!(s.consumed_minutes, 28.0);
        assert!((s.availability_percent - 72.0).abs() < 1e-9);
        assert!(!s.met);
    }

    /// A correction on a 0..200-minute grid.
    fn arb_correction() -> impl Strategy<Value = Correction> {
        (0i64..200, 1i64..60, 0u8..4).prop_map(|(start, len, kind)| {
            let kind = match kind {
                0 => CorrectionKind::FalsePositive,
                1 => CorrectionKind::Maintenance,
                2 => CorrectionKind::Upstream(sid("db")),
                _ => CorrectionKind::Upstream(sid("queue")),
            };
            fix(start, start + len, kind)
        })
    }

    fn arb_span() -> impl Strategy<Value = EventSpan> {
        (0i64..240, 1i64..60, 0u32..3).prop_map(|(s, len, u)| span(s, s + len, u))
    }

    /// The latest correction covering minute `m`, by a plain scan.
    fn reference_label(corrections: &[Correction], m: i64) -> Option<&CorrectionKind> {
        corrections.iter().rev().find(|c| c.start <= m * M && m * M < c.end).map(|c| &c.kind)
    }

    proptest! {
        /// Minute by minute, the applied spans say what the latest
        /// correction covering that minute says; maintenance is reported,
        /// not cut, and pieces never overlap within a span.
        #[test]
        fn applying_matches_a_minute_by_minute_reference(
            corrections in proptest::collection::vec(arb_correction(), 0..6),
            spans in proptest::collection::vec(arb_span(), 0..6),
            strict in any::<bool>(),
            exclude_db in any::<bool>(),
        ) {
            let mode = if strict { DependencyExclusion::Strict } else { DependencyExclusion::SelfOnly };
            let o = objective(mode, if exclude_db { &["db"] } else { &[] });
            let ups = upstreams();
            let overlay = Overlay::new(&corrections);
            let applied = overlay.apply(&spans, |id| relabel_index(&o, &ups, id), true);
            for m in 0..300 {
                let at = |s: &EventSpan| s.start <= m * M && m * M < s.end;
                let mut expected: Vec<u32> = Vec::new();
                for s in spans.iter().filter(|s| at(s)) {
                    match reference_label(&corrections, m) {
                        Some(CorrectionKind::FalsePositive) => {}
                        Some(CorrectionKind::Upstream(id)) => {
                            expected.push(relabel_index(&o, &ups, id).unwrap_or(s.upstream));
                        }
                        _ => expected.push(s.upstream),
                    }
                }
                let mut actual: Vec<u32> = applied.spans.iter().filter(|s| at(s)).map(|s| s.upstream).collect();
                expected.sort_unstable();
                actual.sort_unstable();
                prop_assert_eq!(actual, expected, "minute {}", m);
                let in_maintenance = applied.maintenance.iter().any(|&(s, e)| s <= m * M && m * M < e);
                let expect_maintenance = matches!(reference_label(&corrections, m), Some(CorrectionKind::Maintenance));
                prop_assert_eq!(in_maintenance, expect_maintenance, "minute {}", m);
            }
            prop_assert!(applied.spans.iter().all(|s| s.start < s.end));
            prop_assert!(applied.maintenance.windows(2).all(|w| w[0].1 < w[1].0));
        }

        /// A statement over exactly an objective's window at `at` consumes
        /// what the status at `at` consumes, its intervals are inside the
        /// period, ordered, never overlapping, and the consumed ones add up.
        #[test]
        fn a_statement_agrees_with_the_status(
            corrections in proptest::collection::vec(arb_correction(), 0..6),
            raw in proptest::collection::vec(arb_span(), 0..6),
            strict in any::<bool>(),
            exclude_db in any::<bool>(),
            window in proptest::option::of((0i64..200, 1i64..40)),
        ) {
            // Events of one objective never overlap: keep them disjoint.
            let mut spans: Vec<EventSpan> = Vec::new();
            let mut sorted = raw;
            sorted.sort_unstable_by_key(|s| s.start);
            for s in sorted {
                if spans.last().is_none_or(|last: &EventSpan| last.end <= s.start) {
                    spans.push(s);
                }
            }
            let mode = if strict { DependencyExclusion::Strict } else { DependencyExclusion::SelfOnly };
            let mut o = objective(mode, if exclude_db { &["db"] } else { &[] });
            o.exclude_maintenance_windows = window.is_some();
            let windows: Vec<(i64, i64)> = window.map(|(s, len)| vec![(s * M, (s + len) * M)]).unwrap_or_default();
            let ups = upstreams();
            let overlay = Overlay::new(&corrections);
            let at = Timestamp::from_millis(DAY_MS);
            let (from, _) = maintenance_range(&o, at);
            let from = from.max(o.window_start(at).millis());
            let s = statement(&o, &spans, &ups, from, at.millis(), false, &windows, &overlay);
            let status = compute_status_corrected(&o, &spans, &ups, at, false, &windows, &overlay);
            prop_assert!((s.consumed_minutes - status.error_budget_consumed_minutes).abs() < 1e-9);
            prop_assert!((s.availability_percent - status.current_availability).abs() < 1e-9);
            let sum: f64 = s.intervals.iter().filter(|i| i.consumed).map(|i| i.minutes).sum();
            prop_assert!((sum - s.consumed_minutes).abs() < 1e-9);
            prop_assert!(s.intervals.windows(2).all(|w| w[0].end <= w[1].start));
            prop_assert!(s.intervals.iter().all(|i| i.start < i.end && i.start.millis() >= from && i.end <= at));
        }
    }
}
