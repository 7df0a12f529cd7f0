//! Exact top-k search (R-SEARCH-1): every document scored by MaxSim, the `min(k, n_docs)` best
//! kept per query, best first, ties broken by the lower document index.

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::documents::Docs;
use crate::kernel::Isa;
use crate::maxsim::{QUERY_TILE, doc_tiles, prepare, score_tile};
use crate::packed::Packed;
use crate::{Error, Result};

/// A scored document: (score, document index).
pub type Hit = (f32, usize);

/// The ranking order: higher score first, then lower index; a NaN score (possible only when
/// finite inputs overflow f32) ranks after every number.
pub fn rank_order(a: &Hit, b: &Hit) -> Ordering {
    match (a.0.is_nan(), b.0.is_nan()) {
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (true, true) => a.1.cmp(&b.1),
        (false, false) => {
            b.0.partial_cmp(&a.0)
                .unwrap_or(Ordering::Equal)
                .then(a.1.cmp(&b.1))
        }
    }
}

/// Keeps the `k` best of `hits`, sorted best first.
fn best_k(mut hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    if hits.len() > k {
        hits.select_nth_unstable_by(k, rank_order);
        hits.truncate(k);
    }
    hits.sort_unstable_by(rank_order);
    hits
}

/// Top-k per query: scores `[n_queries][k'] f32` and indices `[n_queries][k'] i64`, with
/// `k' = min(k, n_docs)`.
pub fn search_exact(
    isa: Isa,
    queries: &Packed,
    docs: &Docs,
    k: i64,
) -> Result<(Vec<f32>, Vec<i64>, usize)> {
    if k < 1 {
        return Err(Error::K { got: k });
    }
    let prepared = prepare(queries, docs)?;
    let kk = usize::try_from(k).unwrap_or(usize::MAX).min(docs.len());
    let tiles = doc_tiles(docs.offsets);
    let mut scores = Vec::with_capacity(prepared.len() * kk);
    let mut indices = Vec::with_capacity(prepared.len() * kk);
    for group in prepared.chunks(QUERY_TILE) {
        // Per tile, the k best of each query of the group; merged below in tile order.
        let parts: Vec<Vec<Vec<Hit>>> = tiles
            .par_iter()
            .map(|dr| {
                let block = score_tile(isa, group, docs, dr.clone());
                block
                    .chunks(dr.len())
                    .map(|row| {
                        best_k(
                            row.iter().zip(dr.clone()).map(|(&s, d)| (s, d)).collect(),
                            kk,
                        )
                    })
                    .collect()
            })
            .collect();
        for qi in 0..group.len() {
            let all: Vec<Hit> = parts.iter().flat_map(|p| p[qi].iter().copied()).collect();
            for (s, d) in best_k(all, kk) {
                scores.push(s);
                indices.push(d as i64);
            }
        }
    }
    Ok((scores, indices, kk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::DocumentSet;
    use crate::maxsim::maxsim;

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

    /// Item lengths in `lo..=hi` as packed offsets.
    fn offsets(rng: &mut Rng, count: usize, lo: usize, hi: usize) -> Vec<i64> {
        let mut o = vec![0i64];
        for _ in 0..count {
            o.push(o.last().unwrap() + rng.int(lo, hi) as i64);
        }
        o
    }

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
                    rng.int(0, 4) as f32 - 2.0
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
                DocumentSet::new(&[0.75; 2 * 50], 2, &(0..=50).collect::<Vec<i64>>(), storage)
                    .unwrap();
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
        let docs =
            DocumentSet::new(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 2, &[0, 1, 3], "float32").unwrap();
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
}
