//! The progress hook of a build or an addition (R-INDEX-8), and the size of the steps of work
//! between two of its calls.

use crate::Result;

/// Reports `(stage, done, total)` between bounded steps of work, from the thread running the
/// build (never from a worker of its parallel loops). An error stops the work: the build returns
/// it and commits nothing (R-INDEX-8).
pub type Progress<'a> = dyn FnMut(&str, u64, u64) -> Result<()> + 'a;

/// Units of work (about one multiply-add, or one component coded) per worker thread between two
/// reports: a few milliseconds.
const STEP_PER_THREAD: usize = 1 << 26;

/// Items per step when one item costs `cost` units: a multiple of `align`, at least one `align`
/// per worker thread of the current pool, so that every step keeps the pool busy.
pub fn step_items(cost: usize, align: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let items = STEP_PER_THREAD.saturating_mul(threads) / cost.max(1);
    items
        .div_ceil(align.max(1))
        .max(threads)
        .saturating_mul(align.max(1))
}
