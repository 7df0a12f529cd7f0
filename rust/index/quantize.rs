//! Residual quantization (R-QUANT-1..7): per-component bucket cutoffs and values fitted as
//! quantiles of the sample's residuals, `nbits` per component, packed least significant bit
//! first; in format version 3 the rows of each code byte's table refined as a product codebook
//! (R-QUANT-6) and each byte coded as its nearest row (R-QUANT-7); in format version 4 those
//! codes then improved for the error along the token (R-QUANT-8, `aniso.rs`).

use rayon::prelude::*;

use super::progress::step_items;
use crate::kernel::Isa;
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
    /// Format version 3 (R-QUANT-6): the refined rows of every full code byte,
    /// `[floor(dim * nbits / 8)][256][8 / nbits]`; `None` for versions 1 and 2.
    pub product: Option<Vec<f32>>,
    /// Format version 4 (R-QUANT-8): the weight of the error along the token and the passes of
    /// the coding; `None` for versions 1 to 3.
    pub aniso: Option<Aniso>,
}

/// R-QUANT-8's parameters, recorded in a version 4 codec.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aniso {
    /// `eta >= 1`: how much more an error along the token costs than one across it.
    pub weight: f64,
    /// Passes of the coordinate descent over the code bytes.
    pub sweeps: usize,
}

/// Lloyd iterations refining the product rows (R-QUANT-6).
pub const PRODUCT_ITERS: usize = 8;
/// The sample tokens the product rows are refined on: the first of the k-means sample.
pub const PRODUCT_SAMPLE: usize = 1 << 16;

/// Code bytes that hold `8 / nbits` components each (all but a last partial one).
pub fn full_bytes(dim: usize, nbits: usize) -> usize {
    dim * nbits / 8
}

/// `n_u + sum_i (-2 r_i) * T[u][i]` for the 256 rows `soa` (`[per + 1][256]`: the rows
/// component-major, then their squared norms) and `r` (`[per]`), in f32 from the norm `n_u`, one
/// product and one sum per component in component order (R-QUANT-7).
#[inline(always)]
pub(crate) fn distances(soa: &[f32], r: &[f32]) -> [f32; 256] {
    let per = r.len();
    let mut dist = [0.0f32; 256];
    dist.copy_from_slice(&soa[per * 256..(per + 1) * 256]);
    for (i, &ri) in r.iter().enumerate() {
        let col = &soa[i * 256..(i + 1) * 256];
        let a = -2.0 * ri;
        for (d, &t) in dist.iter_mut().zip(col) {
            *d += a * t;
        }
    }
    dist
}

/// Lane `l` of `best`, `row` holds the first least of rows `l, l + 8, ...`: the least lane
/// (lower row on ties) is the first least row; every value NaN or infinite: row 0.
#[inline(always)]
pub(crate) fn least_lane(best: &[f32; 8], row: &[u32; 8]) -> u8 {
    let mut b = 0;
    for l in 1..8 {
        if best[l] < best[b] || (best[l] == best[b] && row[l] < row[b]) {
            b = l;
        }
    }
    if best[b] == f32::INFINITY {
        0
    } else {
        row[b] as u8
    }
}

/// The first least of the 256 values `dist` (lower row on ties); every value NaN or infinite:
/// row 0. The lanes of `least_avx2`, so the same row on every instruction set.
#[inline(always)]
pub(crate) fn least_body(dist: &[f32; 256]) -> u8 {
    let mut best = [f32::INFINITY; 8];
    let mut row = [0u32; 8];
    for (c, chunk) in dist.chunks_exact(8).enumerate() {
        for l in 0..8 {
            if chunk[l] < best[l] {
                best[l] = chunk[l];
                row[l] = (c * 8 + l) as u32;
            }
        }
    }
    least_lane(&best, &row)
}

/// `least_body` with AVX2: the lanes' running minimum by compare and blend.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn least_avx2(dist: &[f32; 256]) -> u8 {
    // SAFETY: c * 8 + 8 <= 256 = dist.len() for the chunks c < 32 the lanes ask for.
    unsafe { least_lanes(|c| std::arch::x86_64::_mm256_loadu_ps(dist.as_ptr().add(c * 8))) }
}

/// The first least of 256 values given 8 at a time, `chunk(c)` for rows `8c..8c + 8`, `c < 32`:
/// a running minimum per lane by compare and blend, then `least_lane`. Inlined into the AVX2
/// functions that call it.
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn least_lanes(chunk: impl Fn(usize) -> std::arch::x86_64::__m256) -> u8 {
    use std::arch::x86_64::*;
    // SAFETY: the caller's CPU has AVX2.
    unsafe {
        let mut best = _mm256_set1_ps(f32::INFINITY);
        let mut row = _mm256_setzero_ps();
        let mut cur = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let eight = _mm256_set1_epi32(8);
        for c in 0..32 {
            let d = chunk(c);
            let lt = _mm256_cmp_ps::<_CMP_LT_OQ>(d, best);
            best = _mm256_blendv_ps(best, d, lt);
            row = _mm256_blendv_ps(row, _mm256_castsi256_ps(cur), lt);
            cur = _mm256_add_epi32(cur, eight);
        }
        let (mut b, mut i) = ([0.0f32; 8], [0u32; 8]);
        _mm256_storeu_ps(b.as_mut_ptr(), best);
        _mm256_storeu_si256(i.as_mut_ptr().cast(), _mm256_castps_si256(row));
        least_lane(&b, &i)
    }
}

/// The nearest of the 256 rows `soa` to `r`: the least of `distances`, ties to the lower row.
/// Every row's value is the same sequence of f32 operations whatever the lane width the compiler
/// vectorises it to, so the result does not depend on the instruction set.
#[inline(always)]
fn nearest_body(soa: &[f32], r: &[f32]) -> u8 {
    least_body(&distances(soa, r))
}

/// `nearest_body` with AVX2: the distances vectorised by the compiler, then `least_avx2`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn nearest_avx2(soa: &[f32], r: &[f32]) -> u8 {
    // SAFETY: this function's features are `least_avx2`'s.
    unsafe { least_avx2(&distances(soa, r)) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn nearest_avx512(soa: &[f32], r: &[f32]) -> u8 {
    // SAFETY: AVX-512F implies AVX2.
    unsafe { nearest_avx2(soa, r) }
}

/// `nearest_body` compiled for the widest instruction set `isa` allows (same result).
#[inline]
pub(crate) fn nearest(isa: Isa, soa: &[f32], r: &[f32]) -> u8 {
    match isa {
        // SAFETY: `isa` was detected on this CPU (`Isa::detect`), so it has the features.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { nearest_avx512(soa, r) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { nearest_avx2(soa, r) },
        _ => nearest_body(soa, r),
    }
}

/// `rows` (`[256][per]`) component-major, then each row's squared norm (`[per + 1][256]`):
/// `n_u = sum_i T[u][i]^2` in f32 in component order (R-QUANT-7).
pub(crate) fn transposed(rows: &[f32], per: usize) -> Vec<f32> {
    let mut soa = vec![0.0f32; (per + 1) * 256];
    for v in 0..256 {
        let mut n = 0.0f32;
        for i in 0..per {
            let t = rows[v * per + i];
            soa[i * 256 + v] = t;
            n += t * t;
        }
        soa[per * 256 + v] = n;
    }
    soa
}

/// A new codec's tables (format version 4): the buckets (R-QUANT-2), then their rows refined
/// (R-QUANT-6), coded with R-QUANT-8's defaults; `tick(stage, done, total)` as `fit` and
/// `refine` report it.
pub fn fit_product(
    dim: usize,
    nbits: usize,
    s: usize,
    residual: impl Fn(usize, usize) -> f32 + Sync,
    tick: &mut dyn FnMut(&str, u64, u64) -> Result<()>,
) -> Result<Buckets> {
    tick("buckets", 0, dim as u64)?;
    let buckets = fit(dim, nbits, s, &residual, &mut |done| {
        tick("buckets", done as u64, dim as u64)
    })?;
    let full = full_bytes(dim, nbits) as u64;
    tick("product rows", 0, full)?;
    let refined = refine(buckets, dim, s, &residual, &mut |done| {
        tick("product rows", done as u64, full)
    })?;
    Ok(Buckets {
        aniso: Some(super::aniso::DEFAULT),
        ..refined
    })
}

/// R-QUANT-6: refines the rows of each full code byte of `buckets` (their start: the table of
/// R-QUANT-4) by `PRODUCT_ITERS` Lloyd iterations over the first `min(s, PRODUCT_SAMPLE)`
/// sample tokens' residuals `residual(i, d)`: each token's components of the byte go to their
/// nearest row (R-QUANT-7), then each row with at least one token becomes their mean (sums in
/// f64 in sample order, rounded to f32); a row with none is unchanged. In parallel over bytes;
/// `tick(bytes done)` between bytes (its error stops the fitting, R-INDEX-8).
pub fn refine(
    buckets: Buckets,
    dim: usize,
    s: usize,
    residual: impl Fn(usize, usize) -> f32 + Sync,
    tick: &mut dyn FnMut(usize) -> Result<()>,
) -> Result<Buckets> {
    let nbits = buckets.nbits;
    let per = 8 / nbits;
    let full = full_bytes(dim, nbits);
    let n = s.min(PRODUCT_SAMPLE);
    let start = buckets.table(dim);
    // A byte costs n tokens times 256 rows times `per` components, per iteration.
    let cost = n.saturating_mul(256 * per * PRODUCT_ITERS);
    let step = step_items(cost, 1);
    let mut product = memory::reserve(memory::product(full, 256 * per, 4)?)?;
    for p0 in (0..full).step_by(step) {
        let p1 = p0.saturating_add(step).min(full);
        let rows: Vec<Vec<f32>> = (p0..p1)
            .into_par_iter()
            .map(|p| {
                let mut rows = start[p * 256 * per..(p + 1) * 256 * per].to_vec();
                let points: Vec<f32> = (0..n)
                    .flat_map(|i| (0..per).map(move |j| (i, j)))
                    .map(|(i, j)| residual(i, p * per + j))
                    .collect();
                let isa = Isa::detect();
                for _ in 0..PRODUCT_ITERS {
                    let soa = transposed(&rows, per);
                    let mut sums = vec![0.0f64; 256 * per];
                    let mut counts = vec![0usize; 256];
                    for x in points.chunks_exact(per) {
                        let v = nearest(isa, &soa, x) as usize;
                        counts[v] += 1;
                        for (acc, &xi) in sums[v * per..(v + 1) * per].iter_mut().zip(x) {
                            *acc += f64::from(xi);
                        }
                    }
                    for v in 0..256 {
                        if counts[v] > 0 {
                            for i in 0..per {
                                rows[v * per + i] = (sums[v * per + i] / counts[v] as f64) as f32;
                            }
                        }
                    }
                }
                rows
            })
            .collect();
        for r in rows {
            product.extend(r);
        }
        tick(p1)?;
    }
    Ok(Buckets {
        product: Some(product),
        ..buckets
    })
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
        product: None,
        aniso: None,
    })
}

impl Buckets {
    /// The codes of the residual `x - c` into `out` (zeroed first): R-QUANT-3's packed buckets,
    /// or in format version 3 each full byte's nearest row (R-QUANT-7), in version 4 then
    /// improved by R-QUANT-8, through `coder`.
    pub fn encode(&self, coder: &Coder, x: &[f32], c: &[f32], out: &mut [u8]) {
        let nb = self.nbits;
        let ncut = (1 << nb) - 1;
        out.fill(0);
        let mut first = 0;
        if let (Some(soa), Some(aniso)) = (&coder.soa, coder.aniso) {
            let full = full_bytes(x.len(), nb);
            super::aniso::encode(coder.isa, soa, aniso, x, c, &mut out[..full]);
            first = full * (8 / nb);
        } else if let Some(soa) = &coder.soa {
            let per = 8 / nb;
            let mut r = [0.0f32; 8];
            for (p, o) in out.iter_mut().enumerate().take(full_bytes(x.len(), nb)) {
                for i in 0..per {
                    r[i] = x[p * per + i] - c[p * per + i];
                }
                let rows = &soa[p * (per + 1) * 256..(p + 1) * (per + 1) * 256];
                *o = nearest(coder.isa, rows, &r[..per]);
            }
            first = full_bytes(x.len(), nb) * per;
        }
        for (d, (&xd, &cd)) in x.iter().zip(c).enumerate().skip(first) {
            let r = xd - cd;
            let cut = &self.cutoffs[d * ncut..(d + 1) * ncut];
            let bucket = cut.iter().filter(|&&t| t < r).count() as u8;
            out[d * nb / 8] |= bucket << ((d * nb) % 8);
        }
    }

    /// What `encode` needs besides the buckets: the product rows component-major.
    pub fn coder(&self) -> Coder {
        let per = 8 / self.nbits;
        let soa = self.product.as_ref().map(|rows| {
            rows.chunks_exact(256 * per)
                .flat_map(|byte| transposed(byte, per))
                .collect()
        });
        Coder {
            soa,
            aniso: self.aniso.map(super::aniso::Params::new),
            isa: Isa::detect(),
        }
    }

    /// The decoding table: for code byte `p` and its value `v`, the values of the `8 / nbits`
    /// components it holds: `[code_bytes][256][8 / nbits]` (zero past `dim`): the bucket values
    /// (R-QUANT-4), and in format version 3 the refined rows for the full bytes (R-QUANT-6).
    pub fn table(&self, dim: usize) -> Vec<f32> {
        let mut t = self.scalar_table(dim);
        if let Some(rows) = &self.product {
            t[..rows.len()].copy_from_slice(rows);
        }
        t
    }

    fn scalar_table(&self, dim: usize) -> Vec<f32> {
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

    /// R-QUANT-4 for versions 1 and 2 (the bucket values alone): `out[d] = c[d] + w[d][b_d]`.
    pub fn decode(&self, codes: &[u8], c: &[f32], out: &mut [f32]) {
        let b = 1usize << self.nbits;
        for (d, (o, &cd)) in out.iter_mut().zip(c).enumerate() {
            *o = cd + self.weights[d * b + bucket(codes, d, self.nbits)];
        }
    }
}

/// The product rows of format version 3 and later laid out for `Buckets::encode` (`None` for
/// versions 1 and 2): `[full bytes][per + 1][256]` (`transposed`); R-QUANT-8's parameters for
/// version 4.
pub struct Coder {
    soa: Option<Vec<f32>>,
    aniso: Option<super::aniso::Params>,
    isa: Isa,
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
