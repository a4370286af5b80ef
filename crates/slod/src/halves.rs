//! Work over a long slice, done in two halves at once.
//!
//! The list reads' work per item is small and their lists are long: the
//! status arithmetic over 1,000 objectives' spans is bound by memory, and
//! one core does not use the memory's width; encoding the 1.7 MB answer
//! is one core's work too. On a 2-core machine two halves at once answered
//! `GET /objectives` over 1,000 objectives / 1,000,000 events in about
//! three quarters of the time (`docs/BENCHMARKS.md`, fourth session;
//! measured before the settled sums took most of the arithmetic away). The calling thread
//! does the first half and a scoped thread the second; the call holds the
//! caller's thread until both are done (the work held it anyway), and a
//! panic in either half is the caller's.

/// From how many items the list reads split their work (the statuses, and
/// `GET /objectives`' JSON). The halves were measured on 1,000 objectives
/// (`docs/BENCHMARKS.md`); a short list stays on one thread.
pub const SPLIT_FROM: usize = 256;

/// `work` over `items`: once over all of them below `split_from` items,
/// else over each half, the second on a thread of its own. The results
/// come back in the items' order.
pub fn in_halves<I: Sync, R: Send>(
    items: &[I],
    split_from: usize,
    work: impl Fn(&[I]) -> R + Sync,
) -> Vec<R> {
    if items.len() < split_from.max(2) {
        return vec![work(items)];
    }
    let (low, high) = items.split_at(items.len() / 2);
    let work = &work;
    std::thread::scope(|scope| {
        let second = scope.spawn(move || work(high));
        let first = work(low);
        match second.join() {
            Ok(second) => vec![first, second],
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::in_halves;

    /// Split or not, every item is worked on once and the results keep the
    /// items' order.
    #[test]
    fn both_halves_come_back_whole_and_in_order() {
        for n in [0, 1, 2, 9, 10, 11, 1_001] {
            let items: Vec<usize> = (0..n).collect();
            let parts = in_halves(&items, 10, |part: &[usize]| part.to_vec());
            assert_eq!(parts.len(), if n < 10 { 1 } else { 2 }, "{n} items");
            assert_eq!(parts.concat(), items, "{n} items");
        }
    }

    /// A panic in the half worked on by the other thread is the caller's.
    #[test]
    #[should_panic(expected = "second half")]
    fn a_panic_in_the_other_half_reaches_the_caller() {
        let items: Vec<usize> = (0..20).collect();
        in_halves(&items, 10, |part: &[usize]| assert!(part[0] < 10, "second half"));
    }
}
