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
mod tests {
    use super::*;
    use crate::documents::DocumentSet;
    use crate::kernel::Isa;
    use crate::maxsim::{doc_tiles, maxsim, maxsim_pairwise};
    use crate::packed::Packed;
    use crate::search::search_exact;

    /// SplitMix64: a tiny seeded generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn int(&mut self, lo: usize, hi: usize) -> usize {
            lo + (self.next() % (hi - lo + 1) as u64) as usize
        }
        fn uniform(&mut self) -> f32 {
            ((self.next() >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        }
    }

    /// A packed batch of `count` items of `lo..=hi` tokens: (data, offsets).
    fn batch(
        rng: &mut Rng,
        count: usize,
        lo: usize,
        hi: usize,
        dim: usize,
    ) -> (Vec<f32>, Vec<i64>) {
        let mut o = vec![0i64];
        for _ in 0..count {
            o.push(o.last().unwrap() + rng.int(lo, hi) as i64);
        }
        (
            (0..*o.last().unwrap() as usize * dim)
                .map(|_| rng.uniform())
                .collect(),
            o,
        )
    }

    #[test]
    fn check_accepts_1_to_1024_or_none() {
        assert_eq!(check(None), Ok(None));
        assert_eq!(check(Some(1)), Ok(Some(1)));
        assert_eq!(check(Some(1024)), Ok(Some(1024)));
        for t in [0, -1, 1025, i64::MIN, i64::MAX] {
            assert_eq!(check(Some(t)), Err(Error::Threads { got: t }));
        }
    }

    #[test]
    fn install_runs_on_a_pool_of_that_size() {
        for t in [1usize, 2, 3, 5] {
            let (n, name) = install(Some(t), || {
                (
                    rayon::current_num_threads(),
                    std::thread::current().name().map(String::from),
                )
            })
            .unwrap();
            assert_eq!(n, t);
            assert!(name.unwrap().starts_with("lateint-"));
        }
        assert_eq!(install(None, || 7).unwrap(), 7);
    }

    /// Everything one configuration computes: maxsim, search (two k) and pairwise scores.
    type Results = (Vec<u32>, Vec<u32>, Vec<i64>, Vec<u32>, Vec<i64>, Vec<u32>);

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// R-MAXSIM-13: results are bit-identical whatever the pool (1, 2, 3 workers or the global
    /// pool), over enough documents for many tiles and more queries than one query tile.
    #[test]
    fn results_do_not_depend_on_the_pool() {
        let dim = 20;
        let mut rng = Rng(21);
        let (qd, qo) = batch(&mut rng, 20, 1, 40, dim);
        let (dd, doff) = batch(&mut rng, 300, 1, 400, dim);
        let (pd, po) = batch(&mut rng, 300, 1, 12, dim);
        let queries = Packed::new("query", &qd, dim, &qo).unwrap();
        let pair_queries = Packed::new("query", &pd, dim, &po).unwrap();
        for storage in ["float32", "bfloat16"] {
            let docs = DocumentSet::new(&dd, dim, &doff, storage).unwrap();
            assert!(doc_tiles(docs.offsets()).len() >= 10);
            let isa = Isa::detect();
            let run = || -> Results {
                let view = docs.view();
                let (all, _) = maxsim(isa, &queries, &view).unwrap();
                let (s1, i1, _) = search_exact(isa, &queries, &view, 10).unwrap();
                let (s2, i2, _) = search_exact(isa, &queries, &view, 300).unwrap();
                let pair = maxsim_pairwise(isa, &pair_queries, &view).unwrap();
                (bits(&all), bits(&s1), i1, bits(&s2), i2, bits(&pair))
            };
            let want = install(Some(1), run).unwrap();
            for t in [Some(2), Some(3), None] {
                assert!(
                    install(t, run).unwrap() == want,
                    "{storage}: threads {t:?} differ from 1 thread"
                );
            }
            // R-MAXSIM-14: concurrent calls from several threads agree too.
            std::thread::scope(|s| {
                let handles: Vec<_> = [Some(2), None, Some(3)]
                    .into_iter()
                    .map(|t| s.spawn(move || install(t, run).unwrap()))
                    .collect();
                for h in handles {
                    assert!(
                        h.join().unwrap() == want,
                        "{storage}: concurrent call differs"
                    );
                }
            });
        }
    }
}
