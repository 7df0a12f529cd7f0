//! Residual quantization (R-QUANT-1..5): per-component bucket cutoffs and values fitted as
//! quantiles of the sample's residuals; `nbits` per component, packed least significant bit first.

use rayon::prelude::*;

use super::progress::step_items;
use crate::{Error, Result, memory};

/// R-QUANT-1: 1, 2 or 4 bits per component.
pub fn check_nbits(nbits: i64) -> Result<usize> {
    match nbits {
        1 | 2 | 4 => Ok(nbits as usize),
        _ => Err(Error::Param {
            rule: "R-QUANT-1",
            what: format!("nbits must be 1, 2 or 4, got {nbits}"),
        }),
    }
}

/// Bytes of one token's codes.
pub fn code_bytes(dim: usize, nbits: usize) -> usize {
    (dim * nbits).div_ceil(8)
}

/// R-INDEX-5 section 3: the bucket of component `d` in one token's packed codes, bits
/// `(d * nbits) mod 8 ..` of byte `floor(d * nbits / 8)`, least significant bit first.
#[inline]
pub fn bucket(codes: &[u8], d: usize, nbits: usize) -> usize {
    let mask = (1u8 << nbits) - 1;
    ((codes[d * nbits / 8] >> ((d * nbits) % 8)) & mask) as usize
}

/// The buckets of one token's packed codes, `out: [dim] u8` (the inverse of `Buckets::encode`).
pub fn unpack(codes: &[u8], nbits: usize, out: &mut [u8]) {
    for (d, o) in out.iter_mut().enumerate() {
        *o = bucket(codes, d, nbits) as u8;
    }
}

/// Lloyd iterations of the bucket fitting (R-QUANT-2).
pub const LLOYD_ITERS: usize = 16;

/// Cutoffs and bucket values for the sorted sample `v` (R-QUANT-2): quantile cutoffs, then
/// `LLOYD_ITERS` rounds of (bucket means, midpoint cutoffs), then final bucket means.
fn lloyd_max(v: &[f32], b: usize) -> (Vec<f32>, Vec<f32>) {
    let s = v.len();
    let mut prefix = Vec::with_capacity(s + 1);
    prefix.push(0.0f64);
    for &x in v {
        prefix.push(prefix[prefix.len() - 1] + f64::from(x));
    }
    // q(p) = v[min(s - 1, floor(p * s))] for p = (j + 1) / B: integer arithmetic.
    let mut cut: Vec<f32> = (0..b - 1)
        .map(|j| v[((j + 1) * s / b).min(s - 1)])
        .collect();
    let means = |cut: &[f32]| -> Vec<f32> {
        // Bucket j holds the values in (cut[j-1], cut[j]]: positions ends[j-1]..ends[j].
        let mut ends: Vec<usize> = cut
            .iter()
            .map(|&c| v.partition_point(|&x| x <= c))
            .collect();
        ends.push(s);
        let mut w = Vec::with_capacity(b);
        let mut start = 0;
        for (j, &end) in ends.iter().enumerate() {
            w.push(if end > start {
                ((prefix[end] - prefix[start]) / (end - start) as f64) as f32
            } else {
                cut[j.saturating_sub(1)]
            });
            start = end.max(start);
        }
        w
    };
    for _ in 0..LLOYD_ITERS {
        let w = means(&cut);
        for j in 0..b - 1 {
            cut[j] = ((f64::from(w[j]) + f64::from(w[j + 1])) / 2.0) as f32;
        }
    }
    let w = means(&cut);
    (cut, w)
}

/// The bucket tables of one codec.
#[derive(Clone, Debug)]
pub struct Buckets {
    /// Bits per component.
    pub nbits: usize,
    /// `[dim][B - 1]` cutoffs, non-decreasing per component.
    pub cutoffs: Vec<f32>,
    /// `[dim][B]` bucket values.
    pub weights: Vec<f32>,
}

/// Fits the buckets (R-QUANT-2) from `residual(p, d)` of the `s` sample tokens, in parallel over
/// components; `tick(components done)` between steps of a few milliseconds (its error stops the
/// fitting and is returned, R-INDEX-8).
pub fn fit(
    dim: usize,
    nbits: usize,
    s: usize,
    residual: impl Fn(usize, usize) -> f32 + Sync,
    tick: &mut dyn FnMut(usize) -> Result<()>,
) -> Result<Buckets> {
    let b = 1usize << nbits;
    // A component costs a sort of `s` values: about 8 s log2(s) units.
    let cost = s.saturating_mul(8 * (usize::BITS - s.leading_zeros()) as usize);
    let step = step_items(cost, 1);
    let mut cutoffs = memory::reserve(memory::product(dim, b - 1, 4)?)?;
    let mut weights = memory::reserve(memory::product(dim, b, 4)?)?;
    for d0 in (0..dim).step_by(step) {
        let d1 = d0.saturating_add(step).min(dim);
        let per_dim: Vec<(Vec<f32>, Vec<f32>)> = (d0..d1)
            .into_par_iter()
            .map(|d| {
                let mut v: Vec<f32> = (0..s).map(|p| residual(p, d)).collect();
                v.sort_unstable_by(f32::total_cmp);
                lloyd_max(&v, b)
            })
            .collect();
        for (c, w) in per_dim {
            cutoffs.extend(c);
            weights.extend(w);
        }
        tick(d1)?;
    }
    Ok(Buckets {
        nbits,
        cutoffs,
        weights,
    })
}

impl Buckets {
    /// R-QUANT-3: packs the buckets of the residual `x - c` into `out` (zeroed first).
    pub fn encode(&self, x: &[f32], c: &[f32], out: &mut [u8]) {
        let nb = self.nbits;
        let ncut = (1 << nb) - 1;
        out.fill(0);
        for (d, (&xd, &cd)) in x.iter().zip(c).enumerate() {
            let r = xd - cd;
            let cut = &self.cutoffs[d * ncut..(d + 1) * ncut];
            let bucket = cut.iter().filter(|&&t| t < r).count() as u8;
            out[d * nb / 8] |= bucket << ((d * nb) % 8);
        }
    }

    /// The decoding table: for code byte `p` and its value `v`, the bucket values of the
    /// `8 / nbits` components it holds: `[code_bytes][256][8 / nbits]` (zero past `dim`).
    pub fn table(&self, dim: usize) -> Vec<f32> {
        let nb = self.nbits;
        let per = 8 / nb;
        let b = 1usize << nb;
        let mask = b - 1;
        let cb = code_bytes(dim, nb);
        let mut t = vec![0.0f32; cb * 256 * per];
        for p in 0..cb {
            for v in 0..256usize {
                for i in 0..per {
                    let d = p * per + i;
                    if d < dim {
                        t[(p * 256 + v) * per + i] = self.weights[d * b + ((v >> (i * nb)) & mask)];
                    }
                }
            }
        }
        t
    }

    /// R-QUANT-4 through `table` (same values as `decode`): `out[d] = c[d] + w[d][b_d]`.
    #[inline]
    pub fn decode_table(&self, table: &[f32], codes: &[u8], c: &[f32], out: &mut [f32]) {
        match self.nbits {
            1 => decode_per::<8>(table, codes, c, out),
            2 => decode_per::<4>(table, codes, c, out),
            _ => decode_per::<2>(table, codes, c, out),
        }
    }

    /// R-QUANT-4: `out[d] = c[d] + w[d][b_d]`.
    pub fn decode(&self, codes: &[u8], c: &[f32], out: &mut [f32]) {
        let b = 1usize << self.nbits;
        for (d, (o, &cd)) in out.iter_mut().zip(c).enumerate() {
            *o = cd + self.weights[d * b + bucket(codes, d, self.nbits)];
        }
    }
}

/// `PER` components per code byte: one table row added to the centroid per byte.
#[inline(always)]
fn decode_per<const PER: usize>(table: &[f32], codes: &[u8], c: &[f32], out: &mut [f32]) {
    let dim = out.len();
    let full = dim / PER;
    assert!(c.len() >= dim && codes.len() >= full && table.len() >= full * 256 * PER);
    for p in 0..full {
        // SAFETY: p < full <= codes.len(); rows of `table` and `c`, `out` are in bounds (above).
        unsafe {
            let v = *codes.get_unchecked(p) as usize;
            let row = table.as_ptr().add((p * 256 + v) * PER);
            let cs = c.as_ptr().add(p * PER);
            let o = out.as_mut_ptr().add(p * PER);
            for i in 0..PER {
                *o.add(i) = *cs.add(i) + *row.add(i);
            }
        }
    }
    for d in full * PER..dim {
        let (p, i) = (d / PER, d % PER);
        out[d] = c[d] + table[(p * 256 + codes[p] as usize) * PER + i];
    }
}
