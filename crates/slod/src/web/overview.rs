//! `GET /`: every objective grouped by system, with a state filter and the
//! milestone feed beside it.
//!
//! The filter is a query parameter (`?state=breaching|at-risk|healthy|down`)
//! set by plain links, so it works without JavaScript. Objectives come up to
//! [`PAGE_SIZE`] to a page (`?page=N`), fewer when their markup would pass
//! the page's weight budget, so no page passes 100 KB however many
//! objectives there are; the counts in the filter bar still cover all of
//! them.

use std::collections::BTreeMap;
use std::ops::Range;

use axum::extract::{RawQuery, State};
use axum::response::Html;
use maud::{html, Markup, PreEscaped};
use slod_core::model::SystemId;
use slod_core::time::Timestamp;

use super::components::{self, State as ObjState};
use super::data::{self, Milestone, Unlocked};
use super::layout::{self, Nav};
use super::session::Viewer;
use super::{format, now, query_pairs, query_value, WebError, WebResult};
use crate::service::status::ObjectiveWithStatus;
use crate::service::systems::SystemView;
use crate::service::{objectives, systems};
use crate::state::AppState;

/// At most this many objectives on a page…
pub const PAGE_SIZE: usize = 100;

/// …and at most this much markup for their rows and system headings. The
/// shell, the filter bar and the milestone feed add under 20 KB, so a page
/// stays under 100 KB.
const PAGE_BUDGET_BYTES: usize = 72 * 1024;

/// The `<section class="sys">` around a system's rows.
const SECTION_BYTES: usize = 32;

/// How many systems without objectives the last page names.
const BARE_SYSTEMS_SHOWN: usize = 20;

/// How many recent unlocks the feed shows.
const FEED_LENGTH: u32 = 20;

/// Which objectives the overview lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    All,
    Only(ObjState),
    DownNow,
}

impl Filter {
    const CHOICES: [Filter; 5] = [
        Filter::All,
        Filter::Only(ObjState::Breaching),
        Filter::Only(ObjState::AtRisk),
        Filter::Only(ObjState::Healthy),
        Filter::DownNow,
    ];

    /// An unknown value shows everything rather than an error: a stale
    /// bookmark should still open the dashboard.
    fn parse(raw: Option<&str>) -> Self {
        match raw {
            Some("breaching") => Self::Only(ObjState::Breaching),
            Some("at-risk") => Self::Only(ObjState::AtRisk),
            Some("healthy") => Self::Only(ObjState::Healthy),
            Some("down") => Self::DownNow,
            _ => Self::All,
        }
    }

    fn query(self) -> Option<&'static str> {
        match self {
            Self::All => None,
            Self::Only(ObjState::Breaching) => Some("breaching"),
            Self::Only(ObjState::AtRisk) => Some("at-risk"),
            Self::Only(ObjState::Healthy) => Some("healthy"),
            Self::DownNow => Some("down"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Only(ObjState::Breaching) => "Breaching",
            Self::Only(ObjState::AtRisk) => "At risk",
            Self::Only(ObjState::Healthy) => "Healthy",
            Self::DownNow => "Down now",
        }
    }

    /// What the state means, once per page (the rows only name it).
    fn explain(self) -> Option<&'static str> {
        match self {
            Self::All => None,
            Self::Only(state) => Some(state.explain()),
            Self::DownNow => Some("The objective's system is down at this moment."),
        }
    }

    fn matches(self, row: &Row<'_>) -> bool {
        match self {
            Self::All => true,
            Self::Only(state) => row.state == state,
            Self::DownNow => row.down_now,
        }
    }

    /// The overview URL for this filter at `page`.
    fn href(self, page: usize) -> String {
        match (self.query(), page) {
            (None, 1) => "/".to_owned(),
            (None, page) => format!("/?page={page}"),
            (Some(state), 1) => format!("/?state={state}"),
            (Some(state), page) => format!("/?state={state}&page={page}"),
        }
    }
}

/// One objective as the overview shows it.
struct Row<'a> {
    item: &'a ObjectiveWithStatus,
    state: ObjState,
    down_now: bool,
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    query: RawQuery,
) -> WebResult<Html<String>> {
    let pairs = query_pairs(query);
    let filter = Filter::parse(query_value(&pairs, "state"));
    let page_no = query_value(&pairs, "page")
        .and_then(|raw| raw.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1);
    let now = now(&state);
    let store = &*state.store;
    // Independent reads, so they may run side by side on the store's pool.
    let (systems, items, achievements, milestones) = tokio::try_join!(
        async { Ok::<_, WebError>(systems::list_systems(store).await?) },
        async { Ok(objectives::list_objectives(store, None, now).await?) },
        data::achievements(store, None),
        data::milestones(store, FEED_LENGTH),
    )?;
    let view = Overview {
        systems: &systems,
        items: &items,
        achievements: &achievements,
        milestones: &milestones,
        filter,
        page: page_no,
        now,
        viewer: &viewer,
    };
    Ok(Html(view.render().into_string()))
}

/// Everything the overview renders from.
struct Overview<'a> {
    systems: &'a [SystemView],
    items: &'a [ObjectiveWithStatus],
    achievements: &'a BTreeMap<SystemId, Vec<Unlocked>>,
    milestones: &'a [Milestone],
    filter: Filter,
    page: usize,
    now: Timestamp,
    viewer: &'a Viewer,
}

impl Overview<'_> {
    fn render(&self) -> Markup {
        let by_id: BTreeMap<&SystemId, &SystemView> =
            self.systems.iter().map(|s| (&s.id, s)).collect();
        let rows: Vec<Row<'_>> = self
            .items
            .iter()
            .map(|item| Row {
                item,
                state: ObjState::of(&item.status),
                down_now: by_id.get(&item.objective.system_id).is_some_and(|s| s.status.is_down()),
            })
            .collect();
        let shown: Vec<&Row<'_>> = rows.iter().filter(|r| self.filter.matches(r)).collect();
        // Rendered up front so pages can be cut by weight (see `paginate`).
        let rendered: Vec<String> = shown
            .iter()
            .map(|r| components::objective_row(r.item, r.state, r.down_now).into_string())
            .collect();
        let mut headings: BTreeMap<&SystemId, String> = BTreeMap::new();
        for row in &shown {
            let id = &row.item.objective.system_id;
            if !headings.contains_key(id) {
                headings.insert(id, self.system_heading(id, by_id.get(id).copied()).into_string());
            }
        }
        let systems_of: Vec<&SystemId> =
            shown.iter().map(|r| &r.item.objective.system_id).collect();
        let pages = paginate(&systems_of, &rendered, &headings);
        let page = self.page.min(pages.len());
        let range = pages.get(page - 1).cloned().unwrap_or(0..0);

        let body = html! {
            div.layout {
                div.content {
                    h1 { "Overview" }
                    @if self.systems.is_empty() {
                        (empty_start())
                    } @else if self.items.is_empty() {
                        section.empty {
                            h2 { "No objectives yet" }
                            p { "slod knows " (self.systems.len()) " system"
                                @if self.systems.len() != 1 { "s" }
                                " but none has a reliability target." }
                            @if self.viewer.can_edit {
                                p { a.button href="/objectives/new" { "Create an objective" } }
                            }
                        }
                    } @else {
                        p.muted {
                            (self.items.len()) " objective" @if self.items.len() != 1 { "s" }
                            " on " (self.systems.len()) " system" @if self.systems.len() != 1 { "s" } "."
                        }
                        (self.filter_bar(&rows))
                        @if shown.is_empty() {
                            p.empty-note { "No objective is " (self.filter.label().to_lowercase()) " right now." }
                        } @else {
                            (components::row_header())
                            @for group in group_by_system(&systems_of, range.clone()) {
                                section.sys {
                                    (PreEscaped(headings.get(systems_of[group.start]).map_or("", String::as_str)))
                                    @for i in group {
                                        (PreEscaped(&rendered[i]))
                                    }
                                }
                            }
                            (pager(self.filter, page, pages.len()))
                        }
                        @if self.filter == Filter::All && page == pages.len() {
                            (self.systems_without_objectives())
                        }
                    }
                }
                (components::milestone_feed(self.milestones, self.now))
            }
        };
        layout::live_page("Overview", Nav::Overview, Some(self.now), self.viewer, body)
    }

    fn filter_bar(&self, rows: &[Row<'_>]) -> Markup {
        html! {
            nav.filters aria-label="Filter by state" {
                @for choice in Filter::CHOICES {
                    @let count = rows.iter().filter(|r| choice.matches(r)).count();
                    a.filter href=(choice.href(1)) title=[choice.explain()]
                        aria-current=[(choice == self.filter).then_some("true")] {
                        (choice.label()) " " span.count { (count) }
                    }
                }
            }
        }
    }

    /// A system's heading over its rows: name, id, down time, badges.
    fn system_heading(&self, system_id: &SystemId, system: Option<&SystemView>) -> Markup {
        let name = system.map_or(system_id.as_str(), |s| s.name.as_str());
        let unlocked = self.achievements.get(system_id).map(Vec::as_slice).unwrap_or(&[]);
        html! {
            h2 {
                a href={ "/systems/" (system_id) } { (name) }
                " " span.sysid { (system_id) }
                @if let Some(since) = system.and_then(|s| s.since) {
                    " " span.chip.st-down title={ "Down since " (format::utc(since)) } {
                        "down " (format::duration(self.now.millis() - since.millis()))
                    }
                }
                " " (components::badges(unlocked, self.now))
            }
        }
    }

    fn systems_without_objectives(&self) -> Markup {
        let with: std::collections::BTreeSet<&SystemId> =
            self.items.iter().map(|i| &i.objective.system_id).collect();
        let bare: Vec<&SystemView> =
            self.systems.iter().filter(|s| !with.contains(&s.id)).collect();
        html! {
            @if !bare.is_empty() {
                section.bare {
                    h2 { "Systems without objectives" }
                    ul.inline {
                        // A bounded list keeps the page light however many
                        // systems the monitors have reported.
                        @for system in bare.iter().take(BARE_SYSTEMS_SHOWN) {
                            li {
                                a href={ "/systems/" (system.id) } { (system.name) }
                                @if self.viewer.can_edit {
                                    " — " a href={ "/objectives/new?systemId=" (system.id) } { "add an objective" }
                                }
                            }
                        }
                        @if bare.len() > BARE_SYSTEMS_SHOWN {
                            li { "and " (bare.len() - BARE_SYSTEMS_SHOWN) " more"
                                @if self.viewer.can_edit {
                                    ": " a href="/objectives/new" { "see them all" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Cuts the shown rows into pages: at most [`PAGE_SIZE`] rows, and at most
/// [`PAGE_BUDGET_BYTES`] of rows and system headings, so no page grows past
/// 100 KB however many badges or upstream segments its rows carry. A
/// system's heading is repeated at the top of a page that continues it.
/// Always at least one page.
fn paginate(
    systems: &[&SystemId],
    rows: &[String],
    headings: &BTreeMap<&SystemId, String>,
) -> Vec<Range<usize>> {
    let heading_len = |id: &SystemId| headings.get(id).map_or(0, String::len) + SECTION_BYTES;
    let mut pages = Vec::new();
    let mut start = 0;
    let mut weight = 0;
    for (i, row) in rows.iter().enumerate() {
        let new_group = i == start || systems[i] != systems[i - 1];
        let cost = row.len() + if new_group { heading_len(systems[i]) } else { 0 };
        if i > start && (i - start >= PAGE_SIZE || weight + cost > PAGE_BUDGET_BYTES) {
            pages.push(start..i);
            start = i;
            weight = row.len() + heading_len(systems[i]);
        } else {
            weight += cost;
        }
    }
    pages.push(start..rows.len());
    pages
}

/// The runs of one system within `range`.
fn group_by_system(systems: &[&SystemId], range: Range<usize>) -> Vec<Range<usize>> {
    let mut groups: Vec<Range<usize>> = Vec::new();
    for i in range {
        match groups.last_mut() {
            Some(group) if systems[group.start] == systems[i] => group.end = i + 1,
            _ => groups.push(i..i + 1),
        }
    }
    groups
}

fn pager(filter: Filter, page: usize, pages: usize) -> Markup {
    html! {
        @if pages > 1 {
            nav.pager aria-label="Pages" {
                @if page > 1 {
                    a href=(filter.href(page - 1)) rel="prev" { "← Previous" }
                }
                span { "Page " (page) " of " (pages) }
                @if page < pages {
                    a href=(filter.href(page + 1)) rel="next" { "Next →" }
                }
            }
        }
    }
}

/// What a brand-new installation shows: how to get data in.
fn empty_start() -> Markup {
    html! {
        section.empty {
            h2 { "No systems yet" }
            p {
                "slod learns about systems from your monitors' health reports. Add one with the "
                "API, then create an objective for it here:"
            }
            pre { code { "curl -X PUT http://127.0.0.1:8080/api/v1/systems/api \\\n  -H 'content-type: application/json' -d '{\"name\": \"Public API\"}'" } }
            p { "Or restart slod with " code { "--demo" } " to explore a month of sample data." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> SystemId {
        SystemId::from_trusted(raw.to_owned())
    }

    #[test]
    fn pages_are_cut_by_row_count_and_by_weight() {
        let (a, b) = (id("a"), id("b"));
        let headings: BTreeMap<&SystemId, String> =
            [(&a, "h".repeat(100)), (&b, "h".repeat(100))].into_iter().collect();
        // Light rows: only the row limit cuts.
        let systems: Vec<&SystemId> = (0..250).map(|i| if i < 120 { &a } else { &b }).collect();
        let rows = vec!["r".repeat(100); 250];
        let pages = paginate(&systems, &rows, &headings);
        assert_eq!(pages, vec![0..PAGE_SIZE, PAGE_SIZE..2 * PAGE_SIZE, 2 * PAGE_SIZE..250]);
        // Heavy rows: the weight budget cuts first, and every row lands on
        // exactly one page.
        let rows = vec!["r".repeat(5000); 30];
        let pages = paginate(&systems[..30], &rows, &headings);
        assert!(pages.len() > 1);
        assert!(pages.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(pages.last().map(|p| p.end), Some(30));
        for page in &pages {
            let weight: usize = page.clone().map(|i| rows[i].len()).sum();
            assert!(weight <= PAGE_BUDGET_BYTES);
        }
        // Nothing to show is still one (empty) page.
        assert_eq!(paginate(&[], &[], &headings), vec![0..0]);
    }

    #[test]
    fn groups_follow_the_system_runs() {
        let (a, b) = (id("a"), id("b"));
        let systems = vec![&a, &a, &b, &b, &b, &a];
        assert_eq!(group_by_system(&systems, 1..6), vec![1..2, 2..5, 5..6]);
    }

    #[test]
    fn unknown_filters_show_everything() {
        assert_eq!(Filter::parse(Some("at-risk")), Filter::Only(ObjState::AtRisk));
        assert_eq!(Filter::parse(Some("nonsense")), Filter::All);
        assert_eq!(Filter::DownNow.href(2), "/?state=down&page=2");
        assert_eq!(Filter::All.href(1), "/");
    }
}
