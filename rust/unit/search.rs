//! Unit tests of `search.rs`.

use super::*;
use crate::documents::DocumentSet;
use crate::maxsim::maxsim;
use crate::unit_support::{Rng, offsets};

/// R-SEARCH-1 and R-SEARCH-3: the result is the head of the full `rank_order` sort of the
/// `maxsim` matrix, scores bit for bit.
fn check_against_maxsim(isa: Isa, queries: &Packed, docs: &Docs, ks: &[i64]) {
    let (all, nd) = maxsim(isa, queries, docs).unwrap();
    for &k in ks {
        check_against(isa, queries, docs, (&all, nd), k);
    }
}

fn check_against(isa: Isa, queries: &Packed, docs: &Docs, (all, nd): (&[f32], usize), k: i64) {
    let (scores, indices, kk) = search_exact(isa, queries, docs, k).unwrap();
    assert_eq!(kk, usize::try_from(k).unwrap().min(nd));
    assert_eq!(
        (scores.len(), indices.len()),
        (queries.len() * kk, queries.len() * kk)
    );
    for q in 0..queries.len() {
        let mut hits: Vec<Hit> = (0..nd).map(|d| (all[q * nd + d], d)).collect();
        hits.sort_by(rank_order);
        for r in 0..kk {
            let (s, d) = (scores[q * kk + r], indices[q * kk + r]);
            assert_eq!(d, hits[r].1 as i64, "{isa:?} k={k} query {q} rank {r}");
            assert_eq!(
                s.to_bits(),
                hits[r].0.to_bits(),
                "{isa:?} k={k} query {q} rank {r}"
            );
            assert_eq!(s.to_bits(), all[q * nd + d as usize].to_bits());
        }
    }
}

#[test]
fn matches_full_sort_of_maxsim() {
    let mut rng = Rng(11);
    for (c, &dim) in [2usize, 3, 24].iter().enumerate() {
        let qo = offsets(&mut rng, 20, 1, 20);
        let doff = offsets(&mut rng, 150, 1, 60);
        // Case 1 draws small integers: many exact ties, across tiles too.
        let draw = |rng: &mut Rng| {
            if c == 1 {
                rng.size(0, 4) as f32 - 2.0
            } else {
                rng.uniform()
            }
        };
        let qd: Vec<f32> = (0..*qo.last().unwrap() as usize * dim)
            .map(|_| draw(&mut rng))
            .collect();
        let dd: Vec<f32> = (0..*doff.last().unwrap() as usize * dim)
            .map(|_| draw(&mut rng))
            .collect();
        let queries = Packed::new("query", &qd, dim, &qo).unwrap();
        for storage in ["float32", "bfloat16"] {
            let docs = DocumentSet::new(&dd, dim, &doff, storage).unwrap();
            assert!(doc_tiles(docs.view().offsets).len() >= 2);
            for isa in Isa::available() {
                check_against_maxsim(
                    isa,
                    &queries,
                    &docs.view(),
                    &[1, 2, 7, 16, 149, 150, 151, 1000, i64::MAX],
                );
            }
        }
    }
}

/// R-SEARCH-1: identical documents in different tiles tie, and rank by lower index.
#[test]
fn duplicate_documents_tie_by_lower_index() {
    let dim = 8;
    let mut rng = Rng(12);
    let doff = offsets(&mut rng, 150, 1, 60);
    let mut dd: Vec<f32> = (0..*doff.last().unwrap() as usize * dim)
        .map(|_| 0.1 * rng.uniform())
        .collect();
    let dups = [5usize, 90, 137];
    for &d in &dups {
        for x in &mut dd[doff[d] as usize * dim..doff[d + 1] as usize * dim] {
            *x = 1.0;
        }
    }
    let queries = Packed::new("query", &[1.0; 3 * 8], dim, &[0, 3]).unwrap();
    for storage in ["float32", "bfloat16"] {
        let docs = DocumentSet::new(&dd, dim, &doff, storage).unwrap();
        let tiles = doc_tiles(docs.view().offsets);
        let tile_of = |d: usize| tiles.iter().position(|t| t.contains(&d)).unwrap();
        assert!(tile_of(5) < tile_of(90) && tile_of(90) < tile_of(137));
        for isa in Isa::available() {
            for k in 1..=4 {
                let (s, idx, kk) = search_exact(isa, &queries, &docs.view(), k).unwrap();
                assert_eq!(kk, k as usize);
                let want: Vec<i64> = dups.iter().map(|&d| d as i64).take(k as usize).collect();
                assert_eq!(&idx[..want.len()], &want[..], "{isa:?} {storage} k={k}");
                assert!(s[..want.len()].iter().all(|&x| x == 24.0));
                if k == 4 {
                    assert!(s[3] < 24.0);
                }
            }
        }
    }
}

#[test]
fn equal_scores_rank_by_index() {
    let queries = Packed::new("query", &[0.5, -1.0, 2.0, 0.25], 2, &[0, 1, 2]).unwrap();
    for storage in ["float32", "bfloat16"] {
        let docs =
            DocumentSet::new(&[0.75; 2 * 50], 2, &(0..=50).collect::<Vec<i64>>(), storage).unwrap();
        for isa in Isa::available() {
            let (_, idx, kk) = search_exact(isa, &queries, &docs.view(), 10).unwrap();
            assert_eq!(kk, 10);
            let want: Vec<i64> = (0..10).chain(0..10).collect();
            assert_eq!(idx, want);
        }
    }
}

/// R-SEARCH-2: k >= 1; k' = min(k, n_docs).
#[test]
fn k_is_checked_and_clamped() {
    let queries = Packed::new("query", &[1.0, 2.0, 3.0, 4.0], 2, &[0, 1, 2]).unwrap();
    let docs = DocumentSet::new(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 2, &[0, 1, 3], "float32").unwrap();
    let none = DocumentSet::new(&[], 2, &[0], "float32").unwrap();
    for isa in Isa::available() {
        for k in [0, -1, i64::MIN] {
            assert_eq!(
                search_exact(isa, &queries, &docs.view(), k).unwrap_err(),
                Error::K { got: k }
            );
            assert_eq!(
                search_exact(isa, &queries, &none.view(), k).unwrap_err(),
                Error::K { got: k }
            );
        }
        for k in [2, 3, 1_000_000, i64::MAX] {
            let (s, idx, kk) = search_exact(isa, &queries, &docs.view(), k).unwrap();
            assert_eq!(kk, 2);
            assert_eq!(idx, vec![1, 0, 1, 0]);
            assert_eq!(s, vec![3.0, 1.0, 7.0, 3.0]);
        }
        assert_eq!(
            search_exact(isa, &queries, &none.view(), 5).unwrap(),
            (vec![], vec![], 0)
        );
        let wrong_dim = DocumentSet::new(&[1.0; 3], 3, &[0, 1], "float32").unwrap();
        assert!(matches!(
            search_exact(isa, &queries, &wrong_dim.view(), 1),
            Err(Error::Dim { .. })
        ));
    }
}

#[test]
fn rank_order_puts_nan_last() {
    let nan = f32::NAN;
    let mut hits: Vec<Hit> = vec![
        (nan, 0),
        (1.0, 1),
        (f32::NEG_INFINITY, 2),
        (-f32::NAN, 3),
        (f32::INFINITY, 4),
        (1.0, 5),
        (-0.0, 6),
        (0.0, 7),
        (-2.5, 8),
        (nan, 9),
        (f32::MAX, 10),
    ];
    hits.sort_by(rank_order);
    let order: Vec<usize> = hits.iter().map(|h| h.1).collect();
    assert_eq!(order, vec![4, 10, 1, 5, 6, 7, 8, 2, 0, 3, 9]);
    // A total order: antisymmetric, and consistent with the sorted sequence.
    for (i, a) in hits.iter().enumerate() {
        for (j, b) in hits.iter().enumerate() {
            assert_eq!(rank_order(a, b), i.cmp(&j));
        }
    }
}

/// NaN scores (finite inputs whose products overflow: +inf and -inf maxima) rank last, by index.
#[test]
fn nan_scores_rank_last_in_search() {
    // Query tokens [3e38, 0], [-3e38, 0], [0, 1]: a document [x, y] with |x| <= 1 scores y
    // exactly; a document [10, y] scores inf + -inf = NaN.
    let queries = Packed::new("query", &[3e38, 0.0, -3e38, 0.0, 0.0, 1.0], 2, &[0, 3]).unwrap();
    let docs_xy = [
        (0.5, 0.25),
        (10.0, 5.0),
        (-1.0, -0.5),
        (1.0, 0.75),
        (10.0, -1.0),
        (0.0, 0.25),
    ];
    let data: Vec<f32> = docs_xy.iter().flat_map(|&(x, y)| [x, y]).collect();
    for storage in ["float32", "bfloat16"] {
        let docs = DocumentSet::new(&data, 2, &(0..=6).collect::<Vec<i64>>(), storage).unwrap();
        for isa in Isa::available() {
            let (s, idx, _) = search_exact(isa, &queries, &docs.view(), 6).unwrap();
            assert_eq!(idx, vec![3, 0, 5, 2, 1, 4], "{isa:?} {storage}");
            assert_eq!(&s[..4], &[0.75, 0.25, 0.25, -0.5]);
            assert!(s[4].is_nan() && s[5].is_nan());
            check_against_maxsim(isa, &queries, &docs.view(), &[1, 4, 5, 6, 7]);
        }
    }
}
