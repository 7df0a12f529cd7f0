//! Unit tests of `maxsim.rs`.

use super::*;
use crate::documents::DocumentSet;
use crate::unit_support::{Rng, bits, simd_among};

/// How test values are drawn.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Uniform,
    /// Queries >= 0 and documents <= 0: all similarities negative.
    Negative,
    /// Magnitudes 2^-20 .. 2^21.
    Wide,
    /// Integers in -3..=3: ties.
    Ints,
}

const MODES: [Mode; 4] = [Mode::Uniform, Mode::Negative, Mode::Wide, Mode::Ints];

fn value(rng: &mut Rng, mode: Mode, is_doc: bool) -> f32 {
    let x = match mode {
        Mode::Uniform => rng.unit() * 2.0 - 1.0,
        Mode::Negative if is_doc => -rng.unit(),
        Mode::Negative => rng.unit(),
        Mode::Wide => {
            let sign = if rng.next() & 1 == 0 { 1.0 } else { -1.0 };
            sign * (1.0 + rng.unit()) * 2f64.powi(rng.size(0, 40) as i32 - 20)
        }
        Mode::Ints => rng.size(0, 6) as f64 - 3.0,
    };
    x as f32
}

/// A packed batch of items of random lengths in `lo..=hi`: (data, offsets).
fn batch(
    rng: &mut Rng,
    count: usize,
    lo: usize,
    hi: usize,
    dim: usize,
    mode: Mode,
    is_doc: bool,
) -> (Vec<f32>, Vec<i64>) {
    let mut offsets = vec![0i64];
    for _ in 0..count {
        offsets.push(offsets.last().unwrap() + rng.size(lo, hi) as i64);
    }
    let data = (0..*offsets.last().unwrap() as usize * dim)
        .map(|_| value(rng, mode, is_doc))
        .collect();
    (data, offsets)
}

fn scores(isa: Isa, q: &(Vec<f32>, Vec<i64>), d: &DocumentSet, dim: usize) -> Vec<f32> {
    let queries = Packed::new("query", &q.0, dim, &q.1).unwrap();
    let (out, nd) = maxsim(isa, &queries, &d.view()).unwrap();
    assert_eq!(out.len(), queries.len() * nd);
    assert_eq!(nd, d.view().len());
    out
}

fn gamma(n: usize, u: f64) -> f64 {
    n as f64 * u / (1.0 - n as f64 * u)
}

/// The SIMD instruction sets running the FMA chain, bit-identical to scalar for `storage` (a
/// visible skip when there is none).
fn fma_simd_isas(test: &str, storage: &str) -> Vec<Isa> {
    let fma = Isa::available()
        .into_iter()
        .filter(|&i| storage == "float32" || i != Isa::Avx512 || !kernel::has_bf16_dot())
        .collect();
    simd_among(&format!("{test} ({storage})"), fma)
}

#[test]
fn doc_tiles_partition_documents() {
    assert!(doc_tiles(&[0]).is_empty());
    assert!(doc_tiles(&[]).is_empty());
    let mut rng = Rng(1);
    for case in 0..300 {
        let n_docs = rng.size(1, 400);
        let hi = [1, 7, 400, 3000, 5000][case % 5];
        let mut offsets = vec![0usize];
        for _ in 0..n_docs {
            offsets.push(offsets.last().unwrap() + rng.size(1, hi));
        }
        let tiles = doc_tiles(&offsets);
        assert_eq!(tiles.first().unwrap().start, 0);
        assert_eq!(tiles.last().unwrap().end, n_docs);
        for w in tiles.windows(2) {
            assert_eq!(w[0].end, w[1].start, "tiles must be contiguous");
        }
        for t in &tiles {
            assert!(!t.is_empty());
            let tokens = offsets[t.end] - offsets[t.start];
            assert!(
                t.len() == 1 || tokens <= TILE_TOKENS,
                "tile {t:?} holds {tokens} tokens"
            );
            // Greedy: the next document would not have fit.
            if t.end < n_docs {
                assert!(offsets[t.end + 1] - offsets[t.start] > TILE_TOKENS);
            }
        }
    }
}

/// R-MAXSIM-10: every SIMD instruction set gives the scalar kernel's bits (bfloat16: every FMA
/// kernel).
#[test]
fn every_isa_gives_the_same_scores() {
    let mut rng = Rng(2);
    for (c, &dim) in [1usize, 2, 7, 16, 33, 128].iter().enumerate() {
        let mode = MODES[c % MODES.len()];
        let q = batch(&mut rng, 20, 1, 32, dim, mode, false);
        let (dd, doff) = batch(&mut rng, 40, 1, 100, dim, mode, true);
        for storage in ["float32", "bfloat16"] {
            let d = DocumentSet::new(&dd, dim, &doff, storage).unwrap();
            let want = bits(&scores(Isa::Scalar, &q, &d, dim));
            for isa in fma_simd_isas("every_isa_gives_the_same_scores", storage) {
                assert_eq!(
                    bits(&scores(isa, &q, &d, dim)),
                    want,
                    "{isa:?} {storage} dim={dim} {mode:?}"
                );
            }
        }
    }
}

/// R-MAXSIM-12: entry i of the pairwise form is entry [i, i] of the matrix, bit for bit.
#[test]
fn pairwise_equals_diagonal() {
    let mut rng = Rng(3);
    for (c, &dim) in [1usize, 5, 32, 129].iter().enumerate() {
        let mode = MODES[c % MODES.len()];
        let (qd, qo) = batch(&mut rng, 24, 1, 40, dim, mode, false);
        let (dd, doff) = batch(&mut rng, 24, 1, 120, dim, mode, true);
        let queries = Packed::new("query", &qd, dim, &qo).unwrap();
        for storage in ["float32", "bfloat16"] {
            let d = DocumentSet::new(&dd, dim, &doff, storage).unwrap();
            for isa in Isa::available() {
                let (all, nd) = maxsim(isa, &queries, &d.view()).unwrap();
                let pair = maxsim_pairwise(isa, &queries, &d.view()).unwrap();
                assert_eq!(pair.len(), 24);
                for (i, p) in pair.iter().enumerate() {
                    assert_eq!(
                        p.to_bits(),
                        all[i * nd + i].to_bits(),
                        "{isa:?} {storage} dim={dim} pair {i}"
                    );
                }
            }
        }
    }
}

/// (S*, sum_i max_j a_ij, q_len) per (query, document), in f64, of the given inputs.
fn oracle(
    q: &(Vec<f32>, Vec<i64>),
    d: &(Vec<f32>, Vec<i64>),
    dim: usize,
) -> Vec<(f64, f64, usize)> {
    let item = |b: &(Vec<f32>, Vec<i64>), i: usize| {
        b.0[b.1[i] as usize * dim..b.1[i + 1] as usize * dim].to_vec()
    };
    let mut out = Vec::new();
    for qi in 0..q.1.len() - 1 {
        let qrows = item(q, qi);
        for di in 0..d.1.len() - 1 {
            let drows = item(d, di);
            let (mut s, mut a) = (0.0f64, 0.0f64);
            for qt in qrows.chunks_exact(dim) {
                let (mut best, mut mag) = (f64::NEG_INFINITY, 0.0f64);
                for dt in drows.chunks_exact(dim) {
                    let p = qt
                        .iter()
                        .zip(dt)
                        .map(|(&x, &y)| f64::from(x) * f64::from(y));
                    best = best.max(p.clone().sum());
                    mag = mag.max(p.map(f64::abs).sum());
                }
                s += best;
                a += mag;
            }
            out.push((s, a, qrows.len() / dim));
        }
    }
    out
}

/// R-MAXSIM-10 and R-MAXSIM-11: scores within the spec's bounds of the exact score.
#[test]
fn scores_within_spec_bounds() {
    let (u, v) = (2f64.powi(-24), 2f64.powi(-8));
    let mut rng = Rng(4);
    for (c, &dim) in [1usize, 3, 17, 64, 129].iter().enumerate() {
        for mode in [MODES[c % 3], Mode::Wide] {
            let q = batch(&mut rng, 20, 1, 33, dim, mode, false);
            let dp = batch(&mut rng, 25, 1, 60, dim, mode, true);
            let exact = oracle(&q, &dp, dim);
            let dim_p = dim.div_ceil(2) * 2;
            for storage in ["float32", "bfloat16"] {
                let d = DocumentSet::new(&dp.0, dim, &dp.1, storage).unwrap();
                for isa in Isa::available() {
                    let got = scores(isa, &q, &d, dim);
                    for (k, (&s, &(s_star, a, q_len))) in got.iter().zip(&exact).enumerate() {
                        // The f64 oracle's own error is added to both bounds.
                        let tail = u * s_star.abs()
                            + q_len as f64 * 2f64.powi(-50) * a
                            + gamma(dim, 2f64.powi(-53)) * a;
                        let bound = if storage == "float32" {
                            gamma(dim, u) * a + tail
                        } else {
                            (2.0 * v + v * v + gamma(dim_p, u) * (1.0 + v).powi(2)) * a
                                + q_len as f64 * dim_p as f64 * 2f64.powi(-125)
                                + tail
                        };
                        let err = (f64::from(s) - s_star).abs();
                        assert!(
                            err <= bound,
                            "{isa:?} {storage} dim={dim} {mode:?} entry {k}: {s:e} vs {s_star:e}: {err:e} > {bound:e}"
                        );
                    }
                }
            }
        }
    }
}

/// R-MAXSIM-10: the maxima are summed in f64 and rounded once (an f32 sum would give 0).
#[test]
fn maxima_are_summed_in_f64() {
    let queries = Packed::new("query", &[1.0e8, 1.0, -1.0e8], 1, &[0, 3]).unwrap();
    let d = DocumentSet::new(&[1.0], 1, &[0, 1], "float32").unwrap();
    for isa in Isa::available() {
        assert_eq!(maxsim(isa, &queries, &d.view()).unwrap().0, vec![1.0]);
    }
}

/// Permuting a document's tokens leaves every score's bits unchanged.
#[test]
fn permuting_tokens_keeps_scores() {
    let mut rng = Rng(5);
    for (c, &dim) in [1usize, 4, 17, 96].iter().enumerate() {
        let mode = MODES[c % MODES.len()];
        let q = batch(&mut rng, 20, 1, 40, dim, mode, false);
        let (dd, doff) = batch(&mut rng, 30, 1, 90, dim, mode, true);
        let mut shuffled = dd.clone();
        for w in doff.windows(2) {
            let (a, b) = (w[0] as usize, w[1] as usize);
            for t in (a + 1..b).rev() {
                let s = rng.size(a, t);
                for k in 0..dim {
                    shuffled.swap(t * dim + k, s * dim + k);
                }
            }
        }
        assert_ne!(dd, shuffled);
        for storage in ["float32", "bfloat16"] {
            let d0 = DocumentSet::new(&dd, dim, &doff, storage).unwrap();
            let d1 = DocumentSet::new(&shuffled, dim, &doff, storage).unwrap();
            for isa in Isa::available() {
                let (a, b) = (scores(isa, &q, &d0, dim), scores(isa, &q, &d1, dim));
                assert_eq!(bits(&a), bits(&b), "{isa:?} {storage} dim={dim} {mode:?}");
            }
        }
    }
}

/// Signed zeros: a document whose tokens give dot products -0 (an underflowed negative product)
/// and +0. The scores of the two token orders are equal as numbers. (Their bits differ: the max
/// keeps the later of two equal zeros, and an f64 sum of a lone -0.0 is -0.0.)
#[test]
fn permuting_tokens_with_signed_zero_dots() {
    let t = 2f32.powi(-80);
    let q = [t];
    let queries = Packed::new("query", &q, 1, &[0, 1]).unwrap();
    for storage in ["float32", "bfloat16"] {
        let d0 = DocumentSet::new(&[-t, 0.0], 1, &[0, 2], storage).unwrap();
        let d1 = DocumentSet::new(&[0.0, -t], 1, &[0, 2], storage).unwrap();
        for isa in Isa::available() {
            let a = maxsim(isa, &queries, &d0.view()).unwrap().0;
            let b = maxsim(isa, &queries, &d1.view()).unwrap().0;
            assert!(a[0] == 0.0 && b[0] == 0.0, "{isa:?} {storage}: {a:?} {b:?}");
        }
    }
}

/// Appending tokens to a document never decreases its score.
#[test]
fn appending_tokens_never_decreases_scores() {
    let mut rng = Rng(6);
    for (c, &dim) in [1usize, 3, 16, 65].iter().enumerate() {
        let mode = MODES[c % MODES.len()];
        let q = batch(&mut rng, 18, 1, 40, dim, mode, false);
        let (dd, doff) = batch(&mut rng, 30, 1, 60, dim, mode, true);
        // Each document gets 1..=20 more tokens after its own.
        let (mut bigger, mut boff) = (Vec::new(), vec![0i64]);
        for w in doff.windows(2) {
            bigger.extend_from_slice(&dd[w[0] as usize * dim..w[1] as usize * dim]);
            let extra = rng.size(1, 20);
            bigger.extend((0..extra * dim).map(|_| value(&mut rng, mode, true)));
            boff.push(boff.last().unwrap() + w[1] - w[0] + extra as i64);
        }
        for storage in ["float32", "bfloat16"] {
            let d0 = DocumentSet::new(&dd, dim, &doff, storage).unwrap();
            let d1 = DocumentSet::new(&bigger, dim, &boff, storage).unwrap();
            for isa in Isa::available() {
                let (a, b) = (scores(isa, &q, &d0, dim), scores(isa, &q, &d1, dim));
                for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        y >= x,
                        "{isa:?} {storage} dim={dim} {mode:?} entry {k}: {x} -> {y}"
                    );
                }
            }
        }
    }
}

/// R-MAXSIM-7 and R-MAXSIM-12: the dimension and the pairing are checked.
#[test]
fn dim_and_pair_count_errors() {
    let queries = Packed::new("query", &[0.5; 12], 4, &[0, 1, 3]).unwrap();
    for storage in ["float32", "bfloat16"] {
        let wrong_dim = DocumentSet::new(&[0.5; 10], 5, &[0, 1, 2], storage).unwrap();
        let three = DocumentSet::new(&[0.5; 12], 4, &[0, 1, 2, 3], storage).unwrap();
        for isa in Isa::available() {
            let err = maxsim(isa, &queries, &wrong_dim.view()).unwrap_err();
            match &err {
                Error::Dim { what } => {
                    assert!(what.contains('4') && what.contains('5'), "{what}")
                }
                e => panic!("expected Error::Dim, got {e:?}"),
            }
            assert_eq!(
                maxsim_pairwise(isa, &queries, &wrong_dim.view()).unwrap_err(),
                err
            );
            assert_eq!(
                maxsim_pairwise(isa, &queries, &three.view()).unwrap_err(),
                Error::PairCount {
                    queries: 2,
                    documents: 3
                }
            );
        }
    }
}

/// R-MAXSIM-2 and R-MAXSIM-3: zero queries give [0, n_docs], zero documents [n_queries, 0].
#[test]
fn empty_batches() {
    let no_queries = Packed::new("query", &[], 3, &[0]).unwrap();
    let queries = Packed::new("query", &[1.0; 6], 3, &[0, 1, 2]).unwrap();
    for storage in ["float32", "bfloat16"] {
        let docs = DocumentSet::new(&[1.0; 9], 3, &[0, 2, 3], storage).unwrap();
        let no_docs = DocumentSet::new(&[], 3, &[0], storage).unwrap();
        for isa in Isa::available() {
            assert_eq!(maxsim(isa, &no_queries, &docs.view()).unwrap(), (vec![], 2));
            assert_eq!(maxsim(isa, &queries, &no_docs.view()).unwrap(), (vec![], 0));
            assert_eq!(
                maxsim(isa, &queries, &docs.view()).unwrap(),
                (vec![3.0; 4], 2)
            );
            assert!(
                maxsim_pairwise(isa, &no_queries, &no_docs.view())
                    .unwrap()
                    .is_empty()
            );
        }
    }
}

/// Packed offsets `[0, l0, l0 + l1, ...]` of items of these lengths.
fn offsets_of(lengths: &[usize]) -> Vec<i64> {
    let mut offsets = vec![0i64];
    for l in lengths {
        offsets.push(offsets[offsets.len() - 1] + *l as i64);
    }
    offsets
}

/// R-MAXSIM-9 deferred to the scorers (packed documents): the error names the value `Packed::new`
/// names (the first in item order, even when a later tile also holds one), every thread count;
/// without a bad value the scores are those of the checked batch.
#[test]
fn deferred_finiteness_check_names_the_first_bad_value() {
    let dim = 8;
    let lengths: Vec<usize> = (0..600).map(|i| 1 + i % 13).collect();
    let offsets = offsets_of(&lengths);
    let n_tokens = *offsets.last().unwrap() as usize;
    let data: Vec<f32> = (0..n_tokens * dim)
        .map(|i| ((i % 17) as f32) / 17.0 - 0.5)
        .collect();
    let q: Vec<f32> = (0..3 * dim).map(|i| (i as f32) / 24.0).collect();
    let queries = Packed::new("query", &q, dim, &[0, 3]).unwrap();
    let isa = Isa::detect();
    let clean = Packed::deferred("document", &data, dim, &offsets).unwrap();
    let checked = Packed::new("document", &data, dim, &offsets).unwrap();
    assert_eq!(
        maxsim(isa, &queries, &Docs::from_packed(&clean)).unwrap(),
        maxsim(isa, &queries, &Docs::from_packed(&checked)).unwrap()
    );
    for bad in [
        vec![n_tokens * dim - 1],
        vec![3000, 400 * dim + 5],
        vec![0, n_tokens * dim - 3],
    ] {
        let mut d = data.clone();
        for (k, &p) in bad.iter().enumerate() {
            d[p] = if k == 0 { f32::NAN } else { f32::INFINITY };
        }
        let want = Packed::new("document", &d, dim, &offsets).unwrap_err();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let p = Packed::deferred("document", &d, dim, &offsets).unwrap();
            let docs = Docs::from_packed(&p);
            let got = pool.install(|| maxsim(isa, &queries, &docs)).unwrap_err();
            assert_eq!(
                format!("{got}"),
                format!("{want}"),
                "{bad:?} threads {threads}"
            );
            let got = pool
                .install(|| crate::search::search_exact(isa, &queries, &docs, 5))
                .unwrap_err();
            assert_eq!(format!("{got}"), format!("{want}"), "search_exact {bad:?}");
        }
    }
}

/// R-MAXSIM-9 folded into the kernels' products: on every instruction set, for packed documents
/// and documents given one buffer each, in `maxsim`, `maxsim_pairwise` and `search_exact`, a
/// non-finite value (NaN, +inf or -inf, at a component where the query is 0 or not) gives the
/// error `Packed::new` gives; finite values whose products overflow are not an error, and score as
/// the checked batch scores them.
#[test]
fn fused_finiteness_check_on_every_isa_and_layout() {
    let dim = 24;
    let lengths: Vec<usize> = (0..90).map(|i| 1 + i % 7).collect();
    let offsets = offsets_of(&lengths);
    let n_tokens = *offsets.last().unwrap() as usize;
    let data: Vec<f32> = (0..n_tokens * dim)
        .map(|i| ((i % 19) as f32) / 19.0 - 0.5)
        .collect();
    // 40 query tokens (three lane blocks on AVX-512); component 0 of every token is 0.
    let q: Vec<f32> = (0..40 * dim)
        .map(|i| {
            if i % dim == 0 {
                0.0
            } else {
                ((i % 11) as f32) / 11.0 - 0.3
            }
        })
        .collect();
    let n_docs = lengths.len();
    let one_query = Packed::new("query", &q, dim, &[0, 40]).unwrap();
    // Pairwise: query i, one token, against document i.
    let pair_q: Vec<f32> = (0..n_docs * dim).map(|i| q[i % q.len()]).collect();
    let pair_offsets: Vec<i64> = (0..=n_docs as i64).collect();
    let pairs = Packed::new("query", &pair_q, dim, &pair_offsets).unwrap();
    let starts: Vec<usize> = offsets.iter().map(|&o| o as usize).collect();
    let cases: Vec<(usize, f32)> = vec![
        (0, f32::NAN),
        (5 * dim, f32::INFINITY),
        (37 * dim + 3, f32::NEG_INFINITY),
        (n_tokens * dim - 1, f32::INFINITY),
        (200 * dim, f32::NAN),
    ];
    for isa in Isa::available() {
        for &(pos, value) in &cases {
            let mut d = data.clone();
            d[pos] = value;
            let want = format!(
                "{}",
                Packed::new("document", &d, dim, &offsets).unwrap_err()
            );
            let p = Packed::deferred("document", &d, dim, &offsets).unwrap();
            let parts: Vec<&[f32]> = (0..n_docs)
                .map(|j| &d[starts[j] * dim..starts[j + 1] * dim])
                .collect();
            for docs in [
                Docs::from_packed(&p),
                Docs::from_parts(dim, &starts, &parts),
            ] {
                let got = maxsim(isa, &one_query, &docs).unwrap_err();
                assert_eq!(format!("{got}"), want, "{isa:?} maxsim {pos} {value}");
                let got = maxsim_pairwise(isa, &pairs, &docs).unwrap_err();
                assert_eq!(format!("{got}"), want, "{isa:?} pairwise {pos} {value}");
                let got = crate::search::search_exact(isa, &one_query, &docs, 3).unwrap_err();
                assert_eq!(format!("{got}"), want, "{isa:?} search {pos} {value}");
            }
        }
        // Finite but overflowing products: the scores of the checked batch, no error.
        let mut d = data.clone();
        for x in &mut d[3 * dim..4 * dim] {
            *x = 3.0e38;
        }
        let checked = Packed::new("document", &d, dim, &offsets).unwrap();
        let want = maxsim(isa, &one_query, &Docs::from_packed(&checked)).unwrap();
        assert!(
            want.0.iter().any(|s| !s.is_finite()),
            "the case must overflow"
        );
        let p = Packed::deferred("document", &d, dim, &offsets).unwrap();
        let parts: Vec<&[f32]> = (0..n_docs)
            .map(|j| &d[starts[j] * dim..starts[j + 1] * dim])
            .collect();
        for docs in [
            Docs::from_packed(&p),
            Docs::from_parts(dim, &starts, &parts),
        ] {
            let got = maxsim(isa, &one_query, &docs).unwrap();
            assert_eq!(
                got.0.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.0.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{isa:?} overflow"
            );
            assert!(maxsim_pairwise(isa, &pairs, &docs).is_ok());
        }
    }
}

/// The kernels' own verdict (`token_maxima_checked`): `true` for finite rows, `false` for rows
/// holding NaN or an infinity, on every instruction set; the maxima are those of `token_maxima`.
#[test]
fn kernel_proves_finite_rows() {
    let dim = 16;
    let q: Vec<f32> = (0..20 * dim)
        .map(|i| ((i % 7) as f32) / 7.0 - 0.4)
        .collect();
    let queries = Packed::new("query", &q, dim, &[0, 20]).unwrap();
    for isa in Isa::available() {
        let prepared = prepare(&queries, &Docs::from_packed(&queries)).unwrap();
        let p = &prepared[0];
        for n in [1usize, 5, 9, 30] {
            let rows: Vec<f32> = (0..n * dim).map(|i| ((i % 5) as f32) * 0.1).collect();
            let (mut a, mut b) = (vec![0.0f32; p.pad], vec![0.0f32; p.pad]);
            kernel::token_maxima(isa, p, DocRows::F32(&rows), n, &mut a);
            assert!(kernel::token_maxima_checked::<true>(
                isa,
                p,
                DocRows::F32(&rows),
                n,
                &mut b
            ));
            assert_eq!(bits(&a[..p.len]), bits(&b[..p.len]), "{isa:?} n {n}");
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for at in [0, n * dim / 2, n * dim - 1] {
                    let mut r = rows.clone();
                    r[at] = bad;
                    let ok =
                        kernel::token_maxima_checked::<true>(isa, p, DocRows::F32(&r), n, &mut b);
                    assert!(!ok, "{isa:?} n {n} {bad} at {at}");
                }
            }
        }
    }
}
