//! Whole tables kept in memory between reads, for as long as the
//! database's change counter for them stays where it was when they were
//! read.
//!
//! A backend that keeps change counters (migration 0012: bumped by triggers
//! in the writing transaction, whichever process or replica writes) reads the
//! counter, and answers from memory when it holds the rows read at that
//! counter; otherwise it reads the rows and keeps them under the counter it
//! read *before* them. Those rows are then the table as it stood at that
//! counter or later, and since the counter grows with every change, finding
//! the same counter again means finding the same rows.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use slod_core::model::{Objective, SystemId};

use crate::jobs::StreakRow;
use crate::StoreResult;

/// One table's rows, under the counter they were read at (`C`: one
/// counter, or a tuple of them for rows joined from several tables).
#[derive(Debug)]
pub struct Counted<C, T> {
    slot: Mutex<Option<(C, Arc<Vec<T>>)>>,
}

impl<C, T> Default for Counted<C, T> {
    fn default() -> Self {
        Self { slot: Mutex::new(None) }
    }
}

impl<C: Copy + Ord, T> Counted<C, T> {
    /// The rows kept at `counter`, if those are the ones held.
    pub fn get(&self, counter: C) -> Option<Arc<Vec<T>>> {
        let slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().filter(|(at, _)| *at == counter).map(|(_, rows)| Arc::clone(rows))
    }

    /// Keeps `rows`, read after reading `counter`, unless newer rows are
    /// held already.
    pub fn put(&self, counter: C, rows: Arc<Vec<T>>) {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_none_or(|(at, _)| *at <= counter) {
            *slot = Some((counter, rows));
        }
    }

    /// The rows at `counter`: those held, or what `load` reads (after the
    /// caller read `counter`), kept for the next read.
    pub async fn get_or_load<F>(&self, counter: C, load: F) -> StoreResult<Arc<Vec<T>>>
    where
        F: Future<Output = StoreResult<Vec<T>>>,
    {
        if let Some(rows) = self.get(counter) {
            return Ok(rows);
        }
        let rows = Arc::new(load.await?);
        self.put(counter, Arc::clone(&rows));
        Ok(rows)
    }
}

/// The objectives of `systems` (every one when `None`) out of the whole
/// list, in its order.
pub fn objectives_of(all: &[Objective], systems: Option<&[SystemId]>) -> Vec<Objective> {
    match systems {
        None => all.to_vec(),
        Some(systems) => {
            let wanted: BTreeSet<&SystemId> = systems.iter().collect();
            all.iter().filter(|o| wanted.contains(&o.system_id)).cloned().collect()
        }
    }
}

/// The streak rows of `objective_ids` (every one when `None`) out of all
/// of them, in their order.
pub fn streaks_of(all: &[StreakRow], objective_ids: Option<&[String]>) -> Vec<StreakRow> {
    match objective_ids {
        None => all.to_vec(),
        Some(ids) => {
            let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
            all.iter().filter(|row| wanted.contains(row.objective_id.as_str())).cloned().collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_answered_only_at_their_counter_and_never_replaced_by_older_ones() {
        let table: Counted<u64, &str> = Counted::default();
        assert!(table.get(0).is_none());
        table.put(3, Arc::new(vec!["a"]));
        assert_eq!(table.get(3).as_deref(), Some(&vec!["a"]));
        assert!(table.get(4).is_none());
        // A slower read that found an older counter does not win.
        table.put(2, Arc::new(vec!["old"]));
        assert_eq!(table.get(3).as_deref(), Some(&vec!["a"]));
        table.put(4, Arc::new(vec!["a", "b"]));
        assert!(table.get(3).is_none());
        assert_eq!(table.get(4).as_deref(), Some(&vec!["a", "b"]));
    }
}
