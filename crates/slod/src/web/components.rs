//! The dashboard's building blocks (the seed 0.2.0 frontend's components):
//! state in words, the attribution bar, the streak flame, achievement
//! badges, the downtime timeline, the trend chart and the milestone feed.
//!
//! Each is a function from plain data to [`Markup`]; none does I/O. Colour
//! always comes with words or a tooltip, never alone.

use maud::{html, Markup};
use slod_core::achievements::AchievementType;
use slod_core::digest::AT_RISK_REMAINING_PERCENT;
use slod_core::model::{Attribution, DependencyExclusion, DowntimeEvent, Objective, ReportSource};
use slod_core::status::SloStatus;
use slod_core::streak::{Snapshot, Streak};
use slod_core::time::Timestamp;
use slod_core::window::Window;

use super::data::{Milestone, Unlocked};
use super::format;
use crate::service::status::ObjectiveWithStatus;

/// An objective's state, in the digest's terms (SPEC §6); "down now" is
/// shown beside it, since a system can be down and still within target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Breaching,
    AtRisk,
    Healthy,
}

impl State {
    pub fn of(status: &SloStatus) -> Self {
        if status.is_breaching {
            Self::Breaching
        } else if status.error_budget_remaining_percent <= AT_RISK_REMAINING_PERCENT {
            Self::AtRisk
        } else {
            Self::Healthy
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Breaching => "breaching",
            Self::AtRisk => "at risk",
            Self::Healthy => "healthy",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Self::Breaching => "st-breach",
            Self::AtRisk => "st-risk",
            Self::Healthy => "st-ok",
        }
    }

    pub fn explain(self) -> &'static str {
        match self {
            Self::Breaching => "Availability is below the target.",
            Self::AtRisk => "On target, with 20 % or less of the error budget left.",
            Self::Healthy => "On target, with more than 20 % of the error budget left.",
        }
    }
}

/// The state chip, and "down now" when the system is down at this moment.
pub fn state_chips(state: State, down_now: bool) -> Markup {
    html! {
        // No per-chip tooltip: the words say it, and the filter bar
        // explains each state once per page.
        span.chip.(state.class()) { (state.label()) }
        @if down_now {
            " " span.chip.st-down { "down now" }
        }
    }
}

/// The column titles above objective rows (wide screens only; on a phone
/// each row stacks and its cells explain themselves).
pub fn row_header() -> Markup {
    html! {
        div.rowhead aria-hidden="true" {
            span { "Objective" } span { "State" } span { "Availability / target" }
            span { "Error budget: self · upstream · left" } span { "Burn 1 h" } span { "Streak" }
        }
    }
}

/// One objective as a row: its name (a link to its page), state in words,
/// availability against target, the attribution bar, the 1 h burn rate and
/// the streak.
pub fn objective_row(item: &ObjectiveWithStatus, state: State, down_now: bool) -> Markup {
    let objective = &item.objective;
    let status = &item.status;
    let fast = status
        .burn_rates
        .h1
        .is_some_and(|r| r >= objective.burn_rate_thresholds.fast_burn_multiplier && r > 0.0);
    html! {
        div.row {
            a.obj href={ "/objectives/" (objective.id) } { (objective_title(objective)) }
            span.st { (state_chips(state, down_now)) }
            span.av {
                b { (format::percent(status.current_availability)) }
                " / " (format::target(objective.target.get())) " %"
            }
            (attribution_bar(status, false))
            span.burn.hot[fast] {
                span.ml { "burn 1 h " } (format::burn(status.burn_rates.h1))
            }
            (streak(&item.streak))
        }
    }
}

/// How an objective is named on screen: its name when it has one (SPEC
/// §14), then its target, window and check, which identify unnamed ones.
pub fn objective_title(objective: &Objective) -> String {
    let mut title = match objective.window {
        Window::Rolling(days) => {
            format!("{} % over {days} days", format::target(objective.target.get()))
        }
        Window::Calendar(c) => format!(
            "{} % per calendar {} ({})",
            format::target(objective.target.get()),
            c.unit,
            c.time_zone.name()
        ),
    };
    if let Some(name) = &objective.name {
        title = format!("{name} · {title}");
    }
    if let Some(check) = &objective.health_check_configuration_id {
        title.push_str(" · check ");
        title.push_str(check);
    }
    title
}

/// How the exclusion mode reads.
pub fn mode_label(mode: DependencyExclusion) -> &'static str {
    match mode {
        DependencyExclusion::Strict => "strict: all downtime counts",
        DependencyExclusion::SelfOnly => "self-only: upstream outages are excused",
    }
}

/// One stretch of the attribution bar.
struct Segment {
    class: &'static str,
    minutes: f64,
    label: String,
}

/// The error budget as one stacked bar: downtime charged to the system
/// itself, downtime while each upstream was down (one segment per upstream,
/// named on hover), and what is left. In `self-only` mode upstream minutes
/// are excused, not charged; they are drawn hatched and say so.
///
/// `legend` adds the numbers underneath, for the objective page.
pub fn attribution_bar(status: &SloStatus, legend: bool) -> Markup {
    let excused = status.dependency_exclusion == DependencyExclusion::SelfOnly;
    let mut segments = Vec::new();
    for entry in &status.attribution {
        if entry.source_type == "self" {
            segments.push(Segment {
                class: "b-self",
                minutes: entry.minutes,
                label: format!("Self-caused: {}", format::minutes(entry.minutes)),
            });
        } else {
            let name = entry
                .system_name
                .as_deref()
                .or(entry.system_id.as_ref().map(|id| id.as_str()))
                .unwrap_or("upstream");
            segments.push(Segment {
                class: if excused { "b-up b-excused" } else { "b-up" },
                minutes: entry.minutes,
                label: format!(
                    "Upstream {name}: {}{}",
                    format::minutes(entry.minutes),
                    if excused { " (excused)" } else { "" }
                ),
            });
        }
    }
    segments.push(Segment {
        class: "b-left",
        minutes: status.error_budget_remaining_minutes,
        label: format!(
            "Remaining: {} ({})",
            format::minutes(status.error_budget_remaining_minutes),
            format::percent1(status.error_budget_remaining_percent)
        ),
    });
    let total: f64 = segments.iter().map(|s| s.minutes.max(0.0)).sum();
    let summary = {
        let parts: Vec<&str> = segments.iter().map(|s| s.label.as_str()).collect();
        format!(
            "Error budget {}. {}",
            format::minutes(status.error_budget_total_minutes),
            parts.join("; ")
        )
    };
    html! {
        // The whole story for screen readers; sighted users hover a
        // segment for its own numbers.
        div.bar role="img" aria-label=(summary) {
            @if total > 0.0 {
                @for segment in segments.iter().filter(|s| s.minutes > 0.0) {
                    i.(segment.class)
                        style={ "width:" (format!("{:.2}", segment.minutes / total * 100.0)) "%" }
                        title=(segment.label) {}
                }
            } @else {
                // A 100 % target with no downtime: no budget, nothing spent.
                i.b-none style="width:100%" title="No error budget (100 % target)" {}
            }
        }
        @if legend {
            ul.legend {
                @for segment in &segments {
                    li { i.swatch.(segment.class) {} (segment.label) }
                }
            }
        }
    }
}

/// How hot the flame burns: the colour class for a streak of `days`.
fn flame_tier(days: u32) -> &'static str {
    match days {
        0 => "t0",
        1..=2 => "t1",
        3..=6 => "t2",
        7..=29 => "t3",
        30..=89 => "t4",
        _ => "t5",
    }
}

/// The streak counter: a flame whose colour grows with the streak, the
/// current streak in days, and the best streak with a trophy. The flame is
/// drawn by the stylesheet (`.streak::before`), so a long overview does not
/// repeat an SVG per row.
pub fn streak(streak: &Streak) -> Markup {
    if streak.last_run.is_none() && streak.best_streak == 0 {
        return html! { span.streak.t0 title="No daily run yet (00:00 UTC)" { b { "0 d" } } };
    }
    let best_note = match streak.best_streak_end {
        Some(end) => format!(" ended {}", format::date(end)),
        None if streak.best_streak > 0 && streak.best_streak == streak.current_streak => {
            " (still running)".to_owned()
        }
        None => String::new(),
    };
    let title = format!(
        "{} day{} on target in a row; best {}{best_note}",
        streak.current_streak,
        plural(streak.current_streak),
        streak.best_streak,
    );
    html! {
        span.streak.(flame_tier(streak.current_streak)) title=(title) {
            b { (streak.current_streak) " d" }
            @if streak.best_streak > 0 {
                " " span.best { "🏆 " (streak.best_streak) }
            }
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A system's unlocked achievements as emoji badges; the tooltip says what
/// earned each and when.
pub fn badges(unlocked: &[Unlocked], now: Timestamp) -> Markup {
    html! {
        @if !unlocked.is_empty() {
            span.badges {
                @for badge in unlocked {
                    @let def = badge.kind.definition();
                    span.badge role="img" aria-label=(def.label)
                        title={ (def.label) ": " (def.description) " Unlocked "
                            (format::date(badge.unlocked_at)) " (" (format::relative(badge.unlocked_at, now)) ")." } {
                        (def.emoji)
                    }
                }
            }
        }
    }
}

/// All nine achievements for a system page: unlocked ones with their date,
/// locked ones dimmed with what it takes.
pub fn achievement_grid(unlocked: &[Unlocked], now: Timestamp) -> Markup {
    html! {
        ul.achievements {
            @for kind in AchievementType::ALL {
                @let def = kind.definition();
                @let got = unlocked.iter().find(|u| u.kind == kind);
                li.ach.locked[got.is_none()] {
                    span.emoji aria-hidden="true" { (def.emoji) }
                    div {
                        b { (def.label) }
                        @if got.is_some() {
                            " " span.chip.st-ok { "unlocked" }
                        } @else {
                            " " span.chip.st-none { "locked" }
                        }
                        p { (def.description) }
                        @if let Some(got) = got {
                            p { "Unlocked " (when(got.unlocked_at, now)) }
                        }
                    }
                }
            }
        }
    }
}

/// An instant as "3 h ago", with the exact UTC time on hover.
pub fn when(t: Timestamp, now: Timestamp) -> Markup {
    html! { time datetime=(t.to_rfc3339()) title=(format::utc(t)) { (format::relative(t, now)) } }
}

/// The swatch that marks maintenance on charts and timelines, for legends.
pub fn maintenance_swatch() -> Markup {
    html! { span.mw-swatch aria-hidden="true" {} }
}

/// How many milliseconds of `[start, end)` the merged `maintenance`
/// occurrences cover.
fn covered_ms(maintenance: &[(i64, i64)], start: i64, end: i64) -> i64 {
    maintenance.iter().map(|&(s, e)| (e.min(end) - s.max(start)).max(0)).sum()
}

/// One entry of the timeline: a downtime event or a maintenance occurrence.
enum Entry<'a> {
    Event(&'a DowntimeEvent),
    Maintenance(i64, i64),
}

/// Recent downtime as a vertical timeline: a dot per event joined by a
/// line, its attribution as a badge, start, end and duration. Maintenance
/// occurrences of the system (merged, `[start, end)` in milliseconds) are
/// interleaved as shaded entries, newest first like the events, and an
/// event that overlaps one says for how long. Events that a live correction
/// covers are drawn hatched with a chip saying what they were corrected to
/// (SPEC §17); each event links to the system page's correction form,
/// prefilled with its interval.
pub fn timeline(
    events: &[DowntimeEvent],
    maintenance: &[(i64, i64)],
    now: Timestamp,
    corrections: &[slod_store::corrections::CorrectionRow],
    system: &slod_core::model::SystemId,
) -> Markup {
    let mut entries: Vec<(i64, Entry<'_>)> =
        events.iter().map(|e| (e.start_time.millis(), Entry::Event(e))).collect();
    entries.extend(maintenance.iter().map(|&(s, e)| (s, Entry::Maintenance(s, e))));
    entries.sort_by_key(|(start, _)| std::cmp::Reverse(*start));
    html! {
        @if events.is_empty() {
            p.empty-note { "No downtime recorded for this objective. 🎉" }
        }
        @if !entries.is_empty() {
            ol.timeline {
                @for (_, entry) in &entries {
                    @match entry {
                        Entry::Maintenance(start, end) => {
                            (maintenance_entry(*start, *end, now))
                        }
                        Entry::Event(event) => {
                            (event_entry(event, maintenance, now, corrections, system))
                        }
                    }
                }
            }
        }
    }
}

fn maintenance_entry(start: i64, end: i64, now: Timestamp) -> Markup {
    let (start, end) = (Timestamp::from_millis(start), Timestamp::from_millis(end));
    html! {
        li.ev.ev-maint {
            span.dot aria-hidden="true" {}
            div.ev-body {
                span.chip.mw-chip title="A planned maintenance window of the system" { "maintenance" }
                @if end > now { " " span.chip.st-risk { "in progress" } }
                div.ev-when {
                    time datetime=(start.to_rfc3339()) { (format::utc(start)) }
                    " → "
                    time datetime=(end.to_rfc3339()) { (format::utc(end)) }
                }
                div.muted { (format::duration(end.millis() - start.millis())) }
            }
        }
    }
}

fn event_entry(
    event: &DowntimeEvent,
    maintenance: &[(i64, i64)],
    now: Timestamp,
    corrections: &[slod_store::corrections::CorrectionRow],
    system: &slod_core::model::SystemId,
) -> Markup {
    let open = event.end_time.is_none();
    let end = event.end_time.unwrap_or(now);
    let in_maintenance = covered_ms(maintenance, event.start_time.millis(), end.millis());
    let fixes = super::corrections::covering(event, corrections, now);
    html! {
                    li.ev.ev-up[matches!(event.attribution, Attribution::Upstream { .. })].ev-open[open].ev-in-maint[in_maintenance > 0].ev-corrected[!fixes.is_empty()] {
                        span.dot aria-hidden="true" {}
                        div.ev-body {
                            @match &event.attribution {
                                Attribution::SelfCaused => {
                                    span.chip.at-self title="Charged to the system itself" { "self" }
                                }
                                Attribution::Upstream { system_id, system_name } => {
                                    span.chip.at-up title="Downtime while this upstream was down" {
                                        "upstream: " a href={ "/systems/" (system_id) } { (system_name) }
                                    }
                                }
                            }
                            @if event.source == ReportSource::Incident {
                                " " span.chip.st-none title="Forced by an incident, not a probe" { "incident" }
                            }
                            @if open { " " span.chip.st-down { "ongoing" } }
                            @for fix in &fixes {
                                " " span.chip.corr title={ "Corrected: " (fix.reason) } {
                                    "corrected: " (super::corrections::label(fix))
                                }
                            }
                            div.ev-when {
                                time datetime=(event.start_time.to_rfc3339()) { (format::utc(event.start_time)) }
                                " → "
                                @if let Some(end_time) = event.end_time {
                                    time datetime=(end_time.to_rfc3339()) { (format::utc(end_time)) }
                                } @else {
                                    "now"
                                }
                            }
                            div.muted {
                                b { (format::duration(end.millis() - event.start_time.millis())) }
                                " · started " (when(event.start_time, now))
                                @if in_maintenance > 0 {
                                    " · " span.mw-note { (maintenance_swatch()) " "
                                        (format::duration(in_maintenance)) " during maintenance" }
                                }
                                " · " a href={ "/systems/" (system) "?correctStart=" (event.start_time.to_rfc3339())
                                    "&correctEnd=" (end.to_rfc3339()) "#corrections" } { "mark…" }
                            }
                        }
                    }
    }
}

/// Chart geometry, in SVG user units.
const CHART_W: f64 = 640.0;
const CHART_H: f64 = 220.0;
const PAD_LEFT: f64 = 74.0;
const PAD_RIGHT: f64 = 16.0;
const PAD_TOP: f64 = 14.0;
const PAD_BOTTOM: f64 = 30.0;

/// Availability over the daily snapshots as a pure SVG line chart, with the
/// target drawn as a dashed line: one `circle.point` per snapshot (oldest
/// first), red below the target, each with its date and value on hover.
///
/// Maintenance occurrences (merged, `[start, end)` in milliseconds) are
/// shaded as `rect.maint` bands over the days they fall in.
pub fn trend_chart(snapshots: &[Snapshot], target: f64, maintenance: &[(i64, i64)]) -> Markup {
    if snapshots.is_empty() {
        return html! {
            p.empty-note {
                "No daily snapshots yet. slod takes one per objective every day at 00:00 UTC; "
                "the chart fills in from the first run."
            }
        };
    }
    let lowest = snapshots.iter().map(|s| s.availability_percent).fold(target, f64::min);
    // Leave room below the lowest point; never show below 0 or a flat range.
    let pad = ((100.0 - lowest) * 0.15).max(0.01);
    let y_min = (lowest - pad).max(0.0);
    let y_span = (100.0 - y_min).max(1e-9);
    let first = snapshots[0].date.millis();
    let last = snapshots[snapshots.len() - 1].date.millis();
    let x_span = (last - first).max(1) as f64;
    let plot_w = CHART_W - PAD_LEFT - PAD_RIGHT;
    let plot_h = CHART_H - PAD_TOP - PAD_BOTTOM;
    let x = |date: Timestamp| {
        if last == first {
            PAD_LEFT + plot_w / 2.0
        } else {
            PAD_LEFT + (date.millis() - first) as f64 / x_span * plot_w
        }
    };
    let y = |value: f64| PAD_TOP + (100.0 - value.clamp(y_min, 100.0)) / y_span * plot_h;
    let mut line = String::with_capacity(snapshots.len() * 16);
    for (i, s) in snapshots.iter().enumerate() {
        let command = if i == 0 { 'M' } else { 'L' };
        line.push_str(&format!("{command}{:.1} {:.1}", x(s.date), y(s.availability_percent)));
    }
    let below = snapshots.iter().filter(|s| s.availability_percent < target).count();
    let summary = format!(
        "Availability over {} daily snapshot{} from {} to {}; target {} %; {} below target.",
        snapshots.len(),
        if snapshots.len() == 1 { "" } else { "s" },
        format::date(snapshots[0].date),
        format::date(snapshots[snapshots.len() - 1].date),
        format::target(target),
        below
    );
    let target_y = y(target);
    let n = |v: f64| format!("{v:.1}");
    // Bands for the occurrences inside the chart's days, at least 2 units
    // wide so a short one still shows.
    let bands: Vec<(f64, f64, i64, i64)> = maintenance
        .iter()
        .filter(|&&(start, end)| end > first && start < last.max(first + 1))
        .map(|&(start, end)| {
            let at = |ms: i64| x(Timestamp::from_millis(ms.clamp(first, last)));
            let (left, right) = (at(start), at(end));
            (left, (right - left).max(2.0), start, end)
        })
        .collect();
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (CHART_W) " " (CHART_H) } role="img" aria-label=(summary) {
                title { (summary) }
                // Axes: 100 % at the top, the lowest shown value at the bottom.
                line.axis x1=(n(PAD_LEFT)) y1=(n(PAD_TOP)) x2=(n(PAD_LEFT)) y2=(n(CHART_H - PAD_BOTTOM)) {}
                line.axis x1=(n(PAD_LEFT)) y1=(n(CHART_H - PAD_BOTTOM)) x2=(n(CHART_W - PAD_RIGHT)) y2=(n(CHART_H - PAD_BOTTOM)) {}
                text.tick x=(n(PAD_LEFT - 6.0)) y=(n(PAD_TOP + 4.0)) text-anchor="end" { "100 %" }
                text.tick x=(n(PAD_LEFT - 6.0)) y=(n(CHART_H - PAD_BOTTOM)) text-anchor="end" { (format::percent(y_min)) }
                line.target x1=(n(PAD_LEFT)) y1=(n(target_y)) x2=(n(CHART_W - PAD_RIGHT)) y2=(n(target_y)) {}
                text.target-label x=(n(CHART_W - PAD_RIGHT)) y=(n(target_y - 5.0)) text-anchor="end" {
                    "target " (format::target(target)) " %"
                }
                text.tick x=(n(PAD_LEFT)) y=(n(CHART_H - 10.0)) { (format::date(snapshots[0].date)) }
                @if snapshots.len() > 1 {
                    text.tick x=(n(CHART_W - PAD_RIGHT)) y=(n(CHART_H - 10.0)) text-anchor="end" {
                        (format::date(snapshots[snapshots.len() - 1].date))
                    }
                }
                @for (left, width, start, end) in &bands {
                    rect.maint x=(n(*left)) y=(n(PAD_TOP)) width=(n(*width)) height=(n(plot_h)) {
                        title { "Maintenance " (format::utc(Timestamp::from_millis(*start))) " → "
                            (format::utc(Timestamp::from_millis(*end))) }
                    }
                }
                path.trend d=(line) {}
                @for s in snapshots {
                    circle.point.below[s.availability_percent < target]
                        cx=(n(x(s.date))) cy=(n(y(s.availability_percent))) r="3.5" {
                        title { (format::date(s.date)) ": " (format::percent(s.availability_percent))
                            ", " (format::percent1(s.budget_remaining_percent)) " budget left, streak "
                            (s.streak_days) " d" }
                    }
                }
            }
            figcaption.muted { (summary)
                @if !bands.is_empty() {
                    " " (maintenance_swatch()) " Shaded: maintenance (" (bands.len())
                    @if bands.len() == 1 { " occurrence" } @else { " occurrences" } ")."
                }
            }
        }
    }
}

/// The organisation-wide feed of recent achievement unlocks.
pub fn milestone_feed(milestones: &[Milestone], now: Timestamp) -> Markup {
    html! {
        aside.feed aria-labelledby="feed-title" {
            h2 #feed-title { "Milestones" }
            @if milestones.is_empty() {
                p.empty-note {
                    "No milestones yet. Systems unlock achievements as their objectives stay on "
                    "target: 🌱 First Steps comes with a system's first objective, at the next "
                    "daily run (00:00 UTC)."
                }
            } @else {
                ol.milestones {
                    @for m in milestones {
                        @let def = m.kind.definition();
                        li {
                            span.emoji role="img" aria-label=(def.label) title=(def.description) { (def.emoji) }
                            div {
                                a href={ "/systems/" (m.system_id) } { (m.system_name) }
                                " unlocked " b title=(def.description) { (def.label) }
                                " " span.muted { "· " (when(m.unlocked_at, now)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slod_core::time::DAY_MS;

    fn snapshot(day: i64, availability: f64) -> Snapshot {
        Snapshot {
            objective_id: slod_core::model::ObjectiveId::from_trusted("o".into()),
            date: Timestamp::from_millis(day * DAY_MS),
            availability_percent: availability,
            budget_consumed_minutes: 0.0,
            budget_remaining_percent: 100.0,
            burn_rate: Some(0.0),
            streak_days: 0,
            original: None,
        }
    }

    #[test]
    fn the_trend_chart_has_a_point_per_snapshot_and_the_target() {
        let snapshots = [snapshot(1, 100.0), snapshot(2, 99.8), snapshot(4, 99.95)];
        let svg = trend_chart(&snapshots, 99.9, &[]).into_string();
        assert_eq!(svg.matches("<circle class=\"point").count(), 3);
        assert_eq!(svg.matches("<circle class=\"point below\"").count(), 1);
        assert!(svg.contains("<line class=\"target\""));
        assert!(svg.contains("target 99.9 %"));
        // A single snapshot is still a point, centred.
        let one = trend_chart(&snapshots[..1], 99.9, &[]).into_string();
        assert_eq!(one.matches("<circle class=\"point").count(), 1);
        assert!(trend_chart(&[], 99.9, &[]).into_string().contains("No daily snapshots yet"));
        assert!(!svg.contains("rect class=\"maint\""));
    }

    #[test]
    fn maintenance_is_shaded_on_the_chart_and_in_the_timeline() {
        let snapshots = [snapshot(1, 100.0), snapshot(2, 99.8), snapshot(4, 99.95)];
        let hour = DAY_MS / 24;
        // One occurrence on day 2, one before the chart (not drawn).
        let maintenance = [(-3 * hour, -2 * hour), (2 * DAY_MS + hour, 2 * DAY_MS + 3 * hour)];
        let svg = trend_chart(&snapshots, 99.9, &maintenance).into_string();
        assert_eq!(svg.matches("<rect class=\"maint\"").count(), 1, "{svg}");
        assert!(svg.contains("Shaded: maintenance (1 occurrence)"));

        let event = DowntimeEvent {
            id: "e".into(),
            objective_id: slod_core::model::ObjectiveId::from_trusted("o".into()),
            system_id: slod_core::model::SystemId::from_trusted("api".to_owned()),
            start_time: Timestamp::from_millis(2 * DAY_MS),
            end_time: Some(Timestamp::from_millis(2 * DAY_MS + 2 * hour)),
            attribution: Attribution::SelfCaused,
            source: ReportSource::Healthcheck,
        };
        let now = Timestamp::from_millis(5 * DAY_MS);
        let system = slod_core::model::SystemId::from_trusted("api".to_owned());
        let html = timeline(std::slice::from_ref(&event), &maintenance[1..], now, &[], &system)
            .into_string();
        assert_eq!(html.matches("class=\"ev ev-maint\"").count(), 1, "{html}");
        // The event overlaps the occurrence for its second hour.
        assert!(html.contains("1 h during maintenance"), "{html}");
        // The occurrence started after the event: listed first (newest first).
        assert!(html.find("ev-maint").unwrap() < html.find("ev-in-maint").unwrap());
        let quiet = timeline(&[], &[], now, &[], &system).into_string();
        assert!(quiet.contains("No downtime recorded"));
    }

    #[test]
    fn streak_colour_grows_with_the_streak() {
        let tiers: Vec<&str> = [0, 1, 3, 7, 30, 365].into_iter().map(flame_tier).collect();
        assert_eq!(tiers, ["t0", "t1", "t2", "t3", "t4", "t5"]);
        let streak = Streak { current_streak: 12, best_streak: 20, ..Streak::default() };
        let html = super::streak(&streak).into_string();
        assert!(html.contains("class=\"streak t3\"") && html.contains("🏆 20"));
    }
}
