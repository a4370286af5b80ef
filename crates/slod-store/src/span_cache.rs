//! An in-memory cache of closed downtime behind [`Store::event_spans`], so
//! a status read costs what is new since the last read rather than every
//! event in the window.
//!
//! # Why it stays correct
//!
//! - A closed event never changes: the engine only rewrites or deletes open
//!   events (its tests check that closed history is never touched).
//! - An objective's events never overlap, and a new one never starts before
//!   the end of the latest closed one (`ObjectiveState::charged_until`), so
//!   its closed events start in strictly increasing order.
//!
//! So what was once read of an objective's closed events stays true, and
//! everything newer is the events starting after the last cached start:
//! one index range read (`objective_id, start_time`) per objective, all in
//! one statement, returning nothing for an objective where nothing
//! happened. Every read asks the database for that tail,
//! so a replica sees what the others wrote as soon as it is committed. Open
//! events are never cached. The tail read runs as one statement, so it sees
//! one committed state: if it sees an event, it also sees every event that
//! was closed before it.
//!
//! Except when nothing changed: a backend that keeps a change counter of
//! events ([`SpanSource::generation`]; SQLite, whose one writer makes a
//! counter row free) has it read first, and an entry last filled in full
//! at that same counter is still exactly the database's, open event and
//! all, so the read asks nothing for it. An idle server's list read is then
//! one row read instead of a thousand index probes.
//!
//! An entry holds every closed event of its objective that ends after its
//! `floor`. A read reaching further back than the floor reloads the entry.
//! About once an hour an entry is trimmed to a little before the oldest
//! `since` read from it in that hour, so memory follows the windows in use
//! (a list read from 90 days back and a single objective's 30-day read
//! share one entry), not the whole history. A deleted
//! objective's entry is never asked for again (ids are not reused) and is
//! dropped with the rest when the cache passes [`MAX_ENTRIES`].
//!
//! [`Store::event_spans`]: crate::Store::event_spans

use std::collections::HashMap;
use std::future::Future;
use std::ops::DerefMut;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slod_core::model::SystemId;
use slod_core::status::{EventSpan, SettledSums, OPEN_END};
use slod_core::time::{Timestamp, DAY_MS};

use crate::{SpanSet, Spans, StoreResult};

/// How far before the oldest recent read an entry keeps its events, so
/// reads of slightly different windows (the daily job's midnight, now)
/// share it.
const TRIM_MARGIN_MS: i64 = 2 * DAY_MS;

/// How often an entry is trimmed.
const TRIM_EVERY: Duration = Duration::from_secs(3600);

/// Past this many entries the cache starts over (deleted objectives'
/// entries would otherwise linger).
pub const MAX_ENTRIES: usize = 200_000;

/// What to read for one objective: its events that start at or after
/// `from` and end after `floor` (or are open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailRead {
    pub objective_id: String,
    /// `i64::MIN` when the objective has no cached closed event.
    pub from: i64,
    pub floor: i64,
    /// Whether the cache had an entry for the objective (covering `floor`):
    /// when not, the read loads its whole window.
    pub cached: bool,
    /// The entry holds exactly what the database holds at the change
    /// counter this read found ([`SpanSource::generation`]): nothing to ask.
    pub verified: bool,
    /// The open event the entry held when planned (a verified read answers
    /// with it).
    pub open: Option<EventSpan>,
}

#[derive(Debug)]
struct Entry {
    floor: i64,
    /// Every closed event ending after `floor`, by start; then the open
    /// event the last read found, if any (the next read replaces it).
    /// Shared with the answers handed out, copied on write if one is still
    /// held.
    spans: Arc<Vec<EventSpan>>,
    /// The status arithmetic's sums over `spans` as they are, handed out
    /// with them; new whenever `spans` changes.
    settled: Arc<SettledSums>,
    /// How many of `spans` are closed.
    closed: usize,
    /// The oldest `since` read since `trimmed` (`i64::MAX`: none yet).
    oldest_since: i64,
    trimmed: Instant,
    /// The change counter ([`SpanSource::generation`]) read before the read
    /// that last made this entry what it is, when that read found every
    /// event it asked for: the entry then holds the database's events as
    /// they stood at that counter or later. Since the counter only grows and
    /// moves with every change, a read finding the same counter again finds
    /// the database exactly as the entry holds it.
    verified: Option<u64>,
}

impl Entry {
    fn closed(&self) -> &[EventSpan] {
        self.spans.get(..self.closed).unwrap_or_default()
    }

    fn open(&self) -> Option<EventSpan> {
        self.spans.get(self.closed).copied()
    }
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// The upstream table every cached span indexes (1-based).
    upstreams: Vec<(SystemId, String)>,
    index: HashMap<SystemId, u32>,
}

impl State {
    fn intern(&mut self, id: &SystemId, name: &str) -> u32 {
        if let Some(&n) = self.index.get(id) {
            return n;
        }
        self.upstreams.push((id.clone(), name.to_owned()));
        let n = upstream_number(self.upstreams.len());
        self.index.insert(id.clone(), n);
        n
    }
}

/// The cache; one per store.
#[derive(Debug)]
pub struct SpanCache {
    state: Mutex<State>,
    trim_every: Duration,
    /// One uncached load at a time (see [`SpanCache::read_through`]).
    loads: tokio::sync::Mutex<()>,
}

impl Default for SpanCache {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanCache {
    pub fn new() -> Self {
        Self::with_trim_every(TRIM_EVERY)
    }

    /// A cache trimming its entries this often (tests use zero).
    pub fn with_trim_every(trim_every: Duration) -> Self {
        Self { state: Mutex::default(), trim_every, loads: tokio::sync::Mutex::new(()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves at worst a partly merged
        // entry of whole spans; the next tail read completes it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What to read from the database for `objective_ids` to answer a read
    /// from `since`, the database's change counter being `generation`
    /// (`None`: the backend keeps none, so every read asks for the tail).
    pub fn plan(
        &self,
        objective_ids: &[String],
        since: Timestamp,
        generation: Option<u64>,
    ) -> Vec<TailRead> {
        let state = self.lock();
        objective_ids
            .iter()
            .map(|id| match state.entries.get(id) {
                Some(entry) if entry.floor <= since.millis() => TailRead {
                    objective_id: id.clone(),
                    from: entry.closed().last().map_or(i64::MIN, |s| s.start),
                    floor: entry.floor,
                    cached: true,
                    verified: generation.is_some() && entry.verified == generation,
                    open: entry.open(),
                },
                _ => TailRead {
                    objective_id: id.clone(),
                    from: i64::MIN,
                    floor: since.millis(),
                    cached: false,
                    verified: false,
                    open: None,
                },
            })
            .collect()
    }

    /// Merges what the database answered to `reads` (every event of each
    /// read, closed or open, in one of `found`) and answers the read: the
    /// spans of events that end after `since` (or are open) and start
    /// before `until`, exactly as the database stood when it answered.
    ///
    /// Also returns the objectives it could not answer: their entry was
    /// trimmed or reloaded by another read between [`SpanCache::plan`] and
    /// now, so it may lack events this read relied on. The caller reads
    /// those afresh, uncached, and adds them with [`absorb`].
    ///
    /// `generation` is the change counter read before the database was
    /// asked (the one [`SpanCache::plan`] had); an entry this read leaves
    /// exactly as the database answered is marked with it.
    pub fn merge(
        &self,
        reads: &[TailRead],
        found: &[SpanSet],
        since: Timestamp,
        until: Timestamp,
        generation: Option<u64>,
    ) -> (SpanSet, Vec<String>) {
        let mut state = self.lock();
        if state.entries.len() > MAX_ENTRIES {
            *state = State::default();
        }
        let mut answer = SpanSet::default();
        let mut stale = Vec::new();
        let empty = SpanSet::default();
        for read in reads {
            let mut fresh: Vec<EventSpan>;
            if read.verified {
                // Nothing was asked: the database still holds what the entry
                // held when planned, whose only news is its open event.
                fresh = read.open.into_iter().collect();
            } else {
                let (set, rows) = found
                    .iter()
                    .find_map(|set| {
                        set.spans.get(&read.objective_id).map(|rows| (set, rows.as_slice()))
                    })
                    .unwrap_or((&empty, &[]));
                fresh = Vec::with_capacity(rows.len());
                for span in rows {
                    let upstream = match span.upstream {
                        0 => 0,
                        n => {
                            let (id, name) = &set.upstreams[n as usize - 1];
                            state.intern(id, name)
                        }
                    };
                    fresh.push(EventSpan { upstream, ..*span });
                }
                fresh.sort_by_key(|s| s.start);
            }
            let entry = state.entries.get(&read.objective_id);
            let replace = read.from == i64::MIN
                && entry.is_none_or(|e| e.closed == 0 || e.floor > read.floor);
            // Whether the entry is still as this read planned it (no other
            // read changed it in between): then the answer is what the
            // entry holds once this read's rows are added, shared rather
            // than copied. Only the last row can be open (one open event
            // an objective, after every closed one).
            let as_planned = fresh.iter().rev().skip(1).all(|s| s.end != OPEN_END)
                && (replace
                    || (read.from != i64::MIN
                        && entry.is_some_and(|e| {
                            e.floor <= read.floor
                                && e.closed().last().map(|s| s.start) == Some(read.from)
                        })));
            let is_stale = read.from != i64::MIN && entry.is_none_or(|e| e.floor > read.floor);
            if is_stale {
                stale.push(read.objective_id.clone());
            } else if !as_planned {
                // This read's answer: what the cache held of it when planned
                // (events starting up to `from`, all closed before the
                // database answered) and the rows after that, so one state.
                // Closed events end in start order too (they never
                // overlap), so the window is found by two binary searches.
                let held = entry.map(Entry::closed).unwrap_or(&[]);
                let first = held.partition_point(|s| s.end <= since.millis());
                let last = held
                    .partition_point(|s| s.start <= read.from && s.start < until.millis())
                    .max(first);
                let mut spans: Vec<EventSpan> = held[first..last]
                    .iter()
                    .chain(fresh.iter().filter(|s| s.start > read.from))
                    .filter(|s| s.end > since.millis() && s.start < until.millis())
                    .copied()
                    .collect();
                spans.sort_by_key(|s| s.start);
                if !spans.is_empty() {
                    answer.spans.insert(read.objective_id.clone(), spans.into());
                }
            }

            // The open event this read found, kept only when the entry is
            // as planned (the one the last read left is no longer news).
            let open = fresh.last().copied().filter(|s| as_planned && s.end == OPEN_END);
            let entry = state.entries.entry(read.objective_id.clone()).or_insert_with(|| Entry {
                floor: read.floor,
                spans: Arc::default(),
                settled: Arc::default(),
                closed: 0,
                oldest_since: since.millis(),
                trimmed: Instant::now(),
                verified: None,
            });
            entry.verified = generation.filter(|_| as_planned && !is_stale);
            // Keep a little before the oldest recent read (module docs).
            entry.oldest_since = entry.oldest_since.min(since.millis());
            let floor = if replace { read.floor } else { entry.floor };
            let last = if replace { None } else { entry.closed().last().map(|s| s.start) };
            let news: Vec<EventSpan> = fresh
                .into_iter()
                .filter(|s| s.end != OPEN_END && s.end > floor && last.is_none_or(|l| s.start > l))
                .collect();
            let trim = entry.trimmed.elapsed() >= self.trim_every;
            // Most reads change nothing (a verified one never does): then
            // the spans are neither copied (another answer may share them)
            // nor rewritten.
            if replace || !news.is_empty() || trim || entry.open() != open {
                entry.settled = Arc::default();
                let spans = Arc::make_mut(&mut entry.spans);
                spans.truncate(entry.closed);
                if replace {
                    entry.floor = read.floor;
                    spans.clear();
                }
                spans.extend(news);
                entry.closed = spans.len();
                if trim {
                    let keep_from = entry.oldest_since.saturating_sub(TRIM_MARGIN_MS);
                    if keep_from > entry.floor {
                        let cut = spans.partition_point(|s| s.end <= keep_from);
                        spans.drain(..cut);
                        entry.closed = spans.len();
                        entry.floor = keep_from;
                    }
                    entry.oldest_since = i64::MAX;
                    entry.trimmed = Instant::now();
                }
                spans.extend(open);
            }
            if as_planned {
                let (first, last) = window_of(&entry.spans, since.millis(), until.millis());
                if first < last {
                    answer.spans.insert(
                        read.objective_id.clone(),
                        Spans::shared(entry.spans.clone(), first..last, entry.settled.clone()),
                    );
                }
            }
        }
        answer.upstreams = state.upstreams.clone();
        (answer, stale)
    }
}

/// The range of `spans` (starts strictly increasing, and so ends, the open
/// one's last) that reaches into `[since, until)`. Usually that is all of
/// them (an entry holds what recent reads wanted), which the first and the
/// last span tell without the two binary searches' cache misses.
fn window_of(spans: &[EventSpan], since: i64, until: i64) -> (usize, usize) {
    let first = match spans.first() {
        Some(span) if span.end > since => 0,
        _ => spans.partition_point(|s| s.end <= since),
    };
    let last = match spans.last() {
        Some(span) if span.start < until => spans.len(),
        _ => spans.partition_point(|s| s.start < until),
    };
    (first, last.max(first))
}

/// The 1-based number [`EventSpan::upstream`] holds for the `position`th
/// entry of an upstream table. One entry per distinct upstream system, so
/// far below `u32::MAX`: beyond it the table could not be held in memory.
pub(crate) fn upstream_number(position: usize) -> u32 {
    u32::try_from(position).expect("fewer than u32::MAX distinct upstream systems")
}

/// From how many objectives an uncached load is read in two halves at once.
pub const SPLIT_LOAD_FROM: usize = 200;

/// How long a large load waits for a second connection before reading
/// alone.
pub const SECOND_CONNECTION_WAIT: Duration = Duration::from_millis(20);

/// One backend read of spans, borrowing its connection.
pub type SpanRead<'c> = std::pin::Pin<Box<dyn Future<Output = StoreResult<SpanSet>> + Send + 'c>>;

/// An uncached load of `objective_ids` through `read`, as both backends do
/// it: a load of [`SPLIT_LOAD_FROM`] objectives or more is read in two
/// halves at once, one on `conn` and one on the connection `second` gives
/// within [`SECOND_CONNECTION_WAIT`] (each statement runs on one core);
/// otherwise all of it on `conn`. The halves are of the sorted ids, so each
/// is one index range, and each objective's spans still come from one
/// statement, so each is one committed state.
pub async fn load_in_halves<C, P, R>(
    objective_ids: &[String],
    conn: &mut C,
    second: impl Future<Output = Option<P>>,
    read: R,
) -> StoreResult<SpanSet>
where
    C: ?Sized,
    P: DerefMut<Target = C>,
    R: for<'c> Fn(&'c mut C, &'c [String]) -> SpanRead<'c>,
{
    if objective_ids.len() >= SPLIT_LOAD_FROM {
        if let Ok(Some(mut other)) = tokio::time::timeout(SECOND_CONNECTION_WAIT, second).await {
            let mut low = objective_ids.to_vec();
            low.sort_unstable();
            let high = low.split_off(low.len() / 2);
            let (mut answer, more) = tokio::try_join!(read(conn, &low), read(&mut other, &high))?;
            absorb(&mut answer, more);
            return Ok(answer);
        }
    }
    read(conn, objective_ids).await
}

/// Adds the spans of `other` (read uncached) to `answer`, re-indexing
/// their upstreams into `answer`'s table.
pub fn absorb(answer: &mut SpanSet, other: SpanSet) {
    let mut index: HashMap<SystemId, u32> = answer
        .upstreams
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.clone(), upstream_number(i + 1)))
        .collect();
    for (objective, spans) in other.spans {
        let mapped: Vec<EventSpan> = spans
            .iter()
            .map(|span| {
                let upstream = match span.upstream {
                    0 => 0,
                    n => {
                        let (id, name) = &other.upstreams[n as usize - 1];
                        *index.entry(id.clone()).or_insert_with(|| {
                            answer.upstreams.push((id.clone(), name.clone()));
                            upstream_number(answer.upstreams.len())
                        })
                    }
                };
                EventSpan { upstream, ..*span }
            })
            .collect();
        answer.spans.insert(objective, mapped.into());
    }
}

/// The two reads a backend provides for [`SpanCache::read_through`].
#[async_trait::async_trait]
pub trait SpanSource: Send {
    /// `Store::event_spans` uncached: events of `objective_ids` that end
    /// after `since` (or are open) and start before `until`.
    async fn spans(
        &mut self,
        objective_ids: &[String],
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<SpanSet>;
    /// For each read (never one with `from` at `i64::MIN`), its objective's
    /// events that start after `from`. They all end after `floor`: the
    /// event starting at `from` is a cached closed one, which ends after
    /// the entry's floor, and the later ones start after it ends; so a
    /// range on (objective_id, start_time) is the whole condition.
    async fn tails(&mut self, reads: &[&TailRead]) -> StoreResult<SpanSet>;
    /// The database's change counter of downtime events, when the backend
    /// keeps one: it grows with every insert, update and delete of an event
    /// (by any process) in the same transaction, so two reads finding the
    /// same value find the same events. `None`: every read asks for the
    /// tail.
    async fn generation(&mut self) -> StoreResult<Option<u64>> {
        Ok(None)
    }
}

impl SpanCache {
    /// `Store::event_spans` through the cache, reading from `source`.
    ///
    /// One uncached load runs at a time: a million events take a second
    /// and a hundred megabytes to load, and a read waiting here then finds
    /// most of what it wants cached.
    pub async fn read_through(
        &self,
        source: &mut dyn SpanSource,
        objective_ids: &[String],
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<SpanSet> {
        if objective_ids.is_empty() {
            return Ok(SpanSet::default());
        }
        let mut generation = source.generation().await?;
        let mut reads = self.plan(objective_ids, since, generation);
        let _loading = if reads.iter().any(|read| !read.cached) {
            let gate = self.loads.lock().await;
            generation = source.generation().await?;
            reads = self.plan(objective_ids, since, generation);
            Some(gate)
        } else {
            None
        };
        let (fresh, tails): (Vec<&TailRead>, Vec<&TailRead>) =
            reads.iter().filter(|read| !read.verified).partition(|read| read.from == i64::MIN);
        let mut found = Vec::with_capacity(2);
        if let Some(floor) = fresh.iter().map(|read| read.floor).min() {
            let ids: Vec<String> = fresh.iter().map(|read| read.objective_id.clone()).collect();
            let everything_after = Timestamp::from_millis(i64::MAX);
            found.push(source.spans(&ids, Timestamp::from_millis(floor), everything_after).await?);
        }
        if !tails.is_empty() {
            found.push(source.tails(&tails).await?);
        }
        let (mut answer, stale) = self.merge(&reads, &found, since, until, generation);
        if !stale.is_empty() {
            absorb(&mut answer, source.spans(&stale, since, until).await?);
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: i64, end: i64, upstream: u32) -> EventSpan {
        EventSpan { start, end, upstream }
    }

    fn set(objective: &str, spans: Vec<EventSpan>, upstreams: &[&str]) -> SpanSet {
        let mut set = SpanSet::default();
        set.spans.insert(objective.to_owned(), spans.into());
        set.upstreams = upstreams
            .iter()
            .map(|u| (SystemId::from_trusted((*u).to_owned()), format!("{u} name")))
            .collect();
        set
    }

    /// The shortcut answers what the two binary searches answer, for every
    /// range against spans with gaps, touching ends and an open last one.
    #[test]
    fn the_window_shortcut_matches_the_binary_searches() {
        let shapes = [
            vec![],
            vec![span(10, 20, 0)],
            vec![span(10, 20, 0), span(20, 30, 1), span(40, 50, 0)],
            vec![span(10, 20, 0), span(25, 35, 0), span(40, OPEN_END, 2)],
        ];
        for spans in &shapes {
            for since in 0..60 {
                for until in since..62 {
                    let first = spans.partition_point(|s| s.end <= since);
                    let last = spans.partition_point(|s| s.start < until).max(first);
                    assert_eq!(
                        window_of(spans, since, until),
                        (first, last),
                        "{spans:?} [{since}, {until})"
                    );
                }
            }
        }
    }

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    const DAY: i64 = DAY_MS;

    #[test]
    fn a_first_read_loads_then_reads_ask_only_for_the_tail() {
        let cache = SpanCache::new();
        let ids = vec!["o".to_owned()];
        let plan = cache.plan(&ids, t(10 * DAY), None);
        assert_eq!(
            plan,
            vec![TailRead {
                objective_id: "o".into(),
                from: i64::MIN,
                floor: 10 * DAY,
                cached: false,
                verified: false,
                open: None,
            }]
        );
        let found = set(
            "o",
            vec![
                span(11 * DAY, 11 * DAY + 5, 0),
                span(12 * DAY, 12 * DAY + 5, 1),
                span(13 * DAY, OPEN_END, 0),
            ],
            &["db"],
        );
        let (answer, _) =
            cache.merge(&plan, std::slice::from_ref(&found), t(10 * DAY), t(20 * DAY), None);
        assert_eq!(answer.spans["o"].len(), 3);
        assert_eq!(answer.upstreams[answer.spans["o"][1].upstream as usize - 1].0.as_str(), "db");

        // The tail starts at the last closed event; the open one is not kept.
        let plan = cache.plan(&ids, t(10 * DAY), None);
        assert_eq!(plan[0].from, 12 * DAY);
        // It closed, and a new one opened.
        let found = set(
            "o",
            vec![
                span(12 * DAY, 12 * DAY + 5, 1),
                span(13 * DAY, 13 * DAY + 9, 0),
                span(14 * DAY, OPEN_END, 1),
            ],
            &["db"],
        );
        let (answer, _) =
            cache.merge(&plan, std::slice::from_ref(&found), t(10 * DAY), t(20 * DAY), None);
        let starts: Vec<i64> = answer.spans["o"].iter().map(|s| s.start).collect();
        assert_eq!(starts, vec![11 * DAY, 12 * DAY, 13 * DAY, 14 * DAY]);
        assert_eq!({ answer.spans["o"][2].end }, 13 * DAY + 9);
        assert_eq!({ answer.spans["o"][3].end }, OPEN_END);
    }

    #[test]
    fn an_answer_is_not_changed_by_later_reads() {
        let cache = SpanCache::new();
        let ids = vec!["o".to_owned()];
        let plan = cache.plan(&ids, t(0), None);
        let found = set("o", vec![span(DAY, DAY + 5, 0), span(2 * DAY, OPEN_END, 0)], &[]);
        let (first, _) = cache.merge(&plan, std::slice::from_ref(&found), t(0), t(10 * DAY), None);
        assert_eq!(
            first.spans["o"].as_slice(),
            [span(DAY, DAY + 5, 0), span(2 * DAY, OPEN_END, 0)]
        );
        // The open event closes and another opens while `first` is held.
        let plan = cache.plan(&ids, t(0), None);
        assert_eq!(plan[0].from, DAY);
        let found = set("o", vec![span(2 * DAY, 2 * DAY + 7, 0), span(3 * DAY, OPEN_END, 0)], &[]);
        let (second, _) = cache.merge(&plan, std::slice::from_ref(&found), t(0), t(10 * DAY), None);
        assert_eq!(
            first.spans["o"].as_slice(),
            [span(DAY, DAY + 5, 0), span(2 * DAY, OPEN_END, 0)]
        );
        assert_eq!(
            second.spans["o"].as_slice(),
            [span(DAY, DAY + 5, 0), span(2 * DAY, 2 * DAY + 7, 0), span(3 * DAY, OPEN_END, 0)]
        );
        // The open event is gone (deleted: the tail is empty).
        let plan = cache.plan(&ids, t(0), None);
        assert_eq!(plan[0].from, 2 * DAY);
        let (third, _) = cache.merge(&plan, &[SpanSet::default()], t(0), t(10 * DAY), None);
        assert_eq!(
            third.spans["o"].as_slice(),
            [span(DAY, DAY + 5, 0), span(2 * DAY, 2 * DAY + 7, 0)]
        );
        // A later window, with nothing else holding the entry's spans.
        drop((first, second));
        let (fourth, _) = cache.merge(&plan, &[SpanSet::default()], t(DAY + 6), t(10 * DAY), None);
        assert_eq!(fourth.spans["o"].as_slice(), [span(2 * DAY, 2 * DAY + 7, 0)]);
    }

    #[test]
    fn a_read_racing_another_answers_its_own_state() {
        let cache = SpanCache::new();
        let ids = vec!["o".to_owned()];
        let plan = cache.plan(&ids, t(0), None);
        cache.merge(&plan, &[set("o", vec![span(DAY, DAY + 5, 0)], &[])], t(0), t(10 * DAY), None);
        // Two reads plan from the same entry; the second merges first.
        let slow = cache.plan(&ids, t(0), None);
        let fast = cache.plan(&ids, t(0), None);
        let newer = set("o", vec![span(2 * DAY, 2 * DAY + 5, 0), span(3 * DAY, OPEN_END, 0)], &[]);
        cache.merge(&fast, std::slice::from_ref(&newer), t(0), t(10 * DAY), None);
        // The slow read saw an older state: only the open event at 2 days.
        let older = set("o", vec![span(2 * DAY, OPEN_END, 0)], &[]);
        let (answer, stale) =
            cache.merge(&slow, std::slice::from_ref(&older), t(0), t(10 * DAY), None);
        assert!(stale.is_empty());
        assert_eq!(
            answer.spans["o"].as_slice(),
            [span(DAY, DAY + 5, 0), span(2 * DAY, OPEN_END, 0)]
        );
        // The cache kept the newer closed event.
        assert_eq!(cache.plan(&ids, t(0), None)[0].from, 2 * DAY);
    }

    #[test]
    fn answers_keep_to_since_and_until() {
        let cache = SpanCache::new();
        let ids = vec!["o".to_owned()];
        let plan = cache.plan(&ids, t(DAY), None);
        let found = set("o", vec![span(2 * DAY, 3 * DAY, 0), span(5 * DAY, 6 * DAY, 0)], &[]);
        cache.merge(&plan, std::slice::from_ref(&found), t(DAY), t(10 * DAY), None);
        // Ends at or before `since`, or starts at or after `until`: out.
        let plan = cache.plan(&ids, t(3 * DAY), None);
        let (answer, _) = cache.merge(&plan, &[SpanSet::default()], t(3 * DAY), t(5 * DAY), None);
        assert!(!answer.spans.contains_key("o"), "{answer:?}");
        let (answer, _) =
            cache.merge(&plan, &[SpanSet::default()], t(3 * DAY - 1), t(5 * DAY + 1), None);
        assert_eq!(answer.spans["o"].len(), 2);
    }

    #[test]
    fn a_read_further_back_than_the_floor_reloads() {
        let cache = SpanCache::with_trim_every(Duration::ZERO);
        let ids = vec!["o".to_owned()];
        let plan = cache.plan(&ids, t(30 * DAY), None);
        cache.merge(
            &plan,
            &[set("o", vec![span(31 * DAY, 32 * DAY, 0)], &[])],
            t(30 * DAY),
            t(40 * DAY),
            None,
        );
        let plan = cache.plan(&ids, t(5 * DAY), None);
        assert_eq!(
            plan[0],
            TailRead {
                objective_id: "o".into(),
                from: i64::MIN,
                floor: 5 * DAY,
                cached: false,
                verified: false,
                open: None,
            }
        );
        let found = set("o", vec![span(6 * DAY, 7 * DAY, 0), span(31 * DAY, 32 * DAY, 0)], &[]);
        let (answer, _) =
            cache.merge(&plan, std::slice::from_ref(&found), t(5 * DAY), t(40 * DAY), None);
        assert_eq!(answer.spans["o"].len(), 2);
        // A later, shorter read trims the entry back, keeping a margin
        // (here at once; an hour after the last trim in a server).
        let plan = cache.plan(&ids, t(30 * DAY), None);
        assert_eq!(plan[0].from, 31 * DAY);
        cache.merge(
            &plan,
            &[set("o", vec![span(31 * DAY, 32 * DAY, 0)], &[])],
            t(30 * DAY),
            t(40 * DAY),
            None,
        );
        assert_eq!(cache.plan(&ids, t(28 * DAY), None)[0].floor, 28 * DAY);
        assert_eq!(cache.plan(&ids, t(27 * DAY), None)[0].from, i64::MIN);
    }

    #[test]
    fn upstream_indices_are_remapped_into_the_cache_table() {
        let cache = SpanCache::new();
        let a = vec!["a".to_owned()];
        let b = vec!["b".to_owned()];
        cache.merge(
            &cache.plan(&a, t(0), None),
            &[set("a", vec![span(1, 2, 1)], &["db"])],
            t(0),
            t(10),
            None,
        );
        let (answer, _) = cache.merge(
            &cache.plan(&b, t(0), None),
            &[set("b", vec![span(1, 2, 1)], &["cache"])],
            t(0),
            t(10),
            None,
        );
        let name = |s: &EventSpan| answer.upstreams[s.upstream as usize - 1].0.as_str().to_owned();
        assert_eq!(name(&answer.spans["b"][0]), "cache");
        let (answer, _) =
            cache.merge(&cache.plan(&a, t(0), None), &[SpanSet::default()], t(0), t(10), None);
        let name = |s: &EventSpan| answer.upstreams[s.upstream as usize - 1].0.as_str().to_owned();
        assert_eq!(name(&answer.spans["a"][0]), "db");
    }
}

#[cfg(test)]
mod generation_tests {
    use super::*;

    fn span(start: i64, end: i64) -> EventSpan {
        EventSpan { start, end, upstream: 0 }
    }

    fn found(spans: Vec<EventSpan>) -> SpanSet {
        let mut set = SpanSet::default();
        set.spans.insert("o".to_owned(), spans.into());
        set
    }

    const DAY: i64 = DAY_MS;
    const NOW: Timestamp = Timestamp::from_millis(10 * DAY);

    #[test]
    fn the_same_counter_answers_from_the_entry_open_event_included() {
        let cache = SpanCache::new();
        let ids = vec!["o".to_owned()];
        let plan = cache.plan(&ids, Timestamp::from_millis(0), Some(5));
        assert!(!plan[0].verified);
        let rows = found(vec![span(DAY, DAY + 5), span(2 * DAY, OPEN_END)]);
        cache.merge(&plan, &[rows], Timestamp::from_millis(0), NOW, Some(5));

        let plan = cache.plan(&ids, Timestamp::from_millis(0), Some(5));
        assert!(plan[0].verified, "{plan:?}");
        assert_eq!(plan[0].open, Some(span(2 * DAY, OPEN_END)));
        // Nothing is asked of the database, and the answer is whole.
        let (answer, stale) = cache.merge(&plan, &[], Timestamp::from_millis(0), NOW, Some(5));
        assert!(stale.is_empty());
        assert_eq!(answer.spans["o"].as_slice(), [span(DAY, DAY + 5), span(2 * DAY, OPEN_END)]);
        // And again: a verified read keeps the entry verified.
        let plan = cache.plan(&ids, Timestamp::from_millis(0), Some(5));
        assert!(plan[0].verified);

        // Another counter, or a backend without one, asks for the tail.
        assert!(!cache.plan(&ids, Timestamp::from_millis(0), Some(6))[0].verified);
        assert!(!cache.plan(&ids, Timestamp::from_millis(0), None)[0].verified);
    }

    #[test]
    fn an_entry_another_read_changed_in_between_is_not_verified() {
        let cache = SpanCache::new();
        let ids = vec!["o".to_owned()];
        let zero = Timestamp::from_millis(0);
        let plan = cache.plan(&ids, zero, Some(1));
        cache.merge(&plan, &[found(vec![span(DAY, DAY + 5)])], zero, NOW, Some(1));
        // A verified read and a tail read at a newer counter plan together;
        // the tail read merges first, closing nothing old but adding news.
        let verified = cache.plan(&ids, zero, Some(1));
        let tail = cache.plan(&ids, zero, Some(2));
        assert!(verified[0].verified && !tail[0].verified);
        let news = found(vec![span(2 * DAY, 2 * DAY + 5), span(3 * DAY, OPEN_END)]);
        cache.merge(&tail, &[news], zero, NOW, Some(2));
        assert!(cache.plan(&ids, zero, Some(2))[0].verified);
        // The verified read answers the state it planned on, and the entry,
        // no longer one counter's state, must be asked again.
        let (answer, _) = cache.merge(&verified, &[], zero, NOW, Some(1));
        assert_eq!(answer.spans["o"].as_slice(), [span(DAY, DAY + 5)]);
        let plan = cache.plan(&ids, zero, Some(2));
        assert!(!plan[0].verified, "{plan:?}");
        let (answer, _) =
            cache.merge(&plan, &[found(vec![span(3 * DAY, OPEN_END)])], zero, NOW, Some(2));
        assert_eq!(
            answer.spans["o"].as_slice(),
            [span(DAY, DAY + 5), span(2 * DAY, 2 * DAY + 5), span(3 * DAY, OPEN_END)]
        );
        assert!(cache.plan(&ids, zero, Some(2))[0].verified);
    }
}

#[cfg(test)]
mod trim_tests {
    use super::*;

    #[test]
    fn reads_of_different_windows_within_the_hour_share_an_entry() {
        let cache = SpanCache::new();
        let ids = vec!["o".to_owned()];
        let day = |d: i64| Timestamp::from_millis(d * DAY_MS);
        let plan = cache.plan(&ids, day(10), None);
        cache.merge(&plan, &[SpanSet::default()], day(10), day(100), None);
        for _ in 0..3 {
            // A 90-day list read, then a 30-day single read: no reload.
            assert_eq!(cache.plan(&ids, day(10), None)[0].floor, 10 * DAY_MS);
            let plan = cache.plan(&ids, day(70), None);
            assert_eq!(plan[0].floor, 10 * DAY_MS);
            cache.merge(&plan, &[SpanSet::default()], day(70), day(100), None);
        }
    }
}
