//! Worker pools (R-MAXSIM-13): `None` runs on rayon's global pool (one thread per core, or
//! RAYON_NUM_THREADS), `Some(t)` on a cached pool of exactly `t` threads. Results never depend on
//! the pool: work is split into tiles whose results are combined in a fixed order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::{Error, Result};

/// The largest accepted thread count.
pub const MAX_THREADS: i64 = 1024;

fn pools() -> &'static Mutex<HashMap<usize, Arc<ThreadPool>>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    POOLS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The cached pool of `threads` workers.
fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    // A poisoned lock only means another caller panicked while inserting; the map is still valid.
    let mut map = pools().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = map.get(&threads) {
        return Ok(Arc::clone(p));
    }
    let built = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("lateint-{i}"))
        .build()
        .map_err(|e| Error::ThreadPool {
            reason: e.to_string(),
        })?;
    let p = Arc::new(built);
    map.insert(threads, Arc::clone(&p));
    Ok(p)
}

/// Checks a requested thread count (R-MAXSIM-13).
pub fn check(threads: Option<i64>) -> Result<Option<usize>> {
    match threads {
        None => Ok(None),
        Some(t) if (1..=MAX_THREADS).contains(&t) => Ok(Some(t as usize)),
        Some(t) => Err(Error::Threads { got: t }),
    }
}

/// Runs `f` with its parallel work on `threads` workers.
pub fn install<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    match threads {
        None => Ok(f()),
        Some(t) => Ok(pool(t)?.install(f)),
    }
}

#[cfg(test)]
#[path = "unit/threads.rs"]
mod tests;
