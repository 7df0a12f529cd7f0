//! Unit tests of `threads.rs`.

use super::*;
use crate::unit_support::{Rng, batch as packed, bits};

fn batch(rng: &mut Rng, count: usize, lo: usize, hi: usize, dim: usize) -> (Vec<f32>, Vec<i64>) {
    packed(rng, count, lo, hi, dim, Rng::uniform)
}

use crate::documents::DocumentSet;
use crate::kernel::Isa;
use crate::maxsim::{doc_tiles, maxsim, maxsim_pairwise};
use crate::packed::Packed;
use crate::search::search_exact;

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
