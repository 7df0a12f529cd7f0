//! Products of lane vectors with the rows of a matrix, for the index: k-means assignment (points
//! across the lanes, centroids as rows) and the per-query centroid scores (query tokens across the
//! lanes). Layout as in `blocked.rs`: `qt: [dim][pad] f32`, rows `[n][dim] f32`; each product is
//! the sequential FMA chain over `k = 0..dim` (R-MAXSIM-10), so every instruction set gives the
//! same bits.

use super::blocked::{group_dots, group_rows};
use super::lanes::Lanes;

/// For each of `QB * S::W` lanes, the greatest product over the `n >= 1` rows (`best`) and the
/// lowest row reaching it (`arg`, as f32: exact below 2^24).
///
/// # Safety
/// The CPU supports `S`; `qt` (at the chunk's first lane), `m: [n][dim]`, `best` and `arg` (each
/// `QB * S::W` values) are valid.
#[inline(always)]
pub unsafe fn chunk_argmax<S: Lanes, const QB: usize, const R: usize>(
    qt: *const f32,
    pad: usize,
    dim: usize,
    m: *const f32,
    n: usize,
    best: *mut f32,
    arg: *mut f32,
) {
    unsafe {
        let mut mx = [S::splat(f32::NEG_INFINITY); QB];
        let mut idx = [S::splat(0.0); QB];
        let mut j = 0;
        while j < n {
            let rows = group_rows::<f32, R>(m, j, n, dim);
            let ahead = m.wrapping_add((j + 2 * R) * dim);
            let acc = group_dots::<S, QB, R>(qt, pad, dim, rows, ahead);
            for (r, row) in acc.iter().enumerate() {
                // A clamped repeat of the last row is never strictly greater: ties keep the lowest.
                let jv = S::splat((j + r).min(n - 1) as f32);
                for b in 0..QB {
                    idx[b] = S::gt_select(row[b], mx[b], jv, idx[b]);
                    mx[b] = S::gt_select(row[b], mx[b], row[b], mx[b]);
                }
            }
            j += R;
        }
        for b in 0..QB {
            S::store(best.add(b * S::W), mx[b]);
            S::store(arg.add(b * S::W), idx[b]);
        }
    }
}

/// Every product: `out[j * pad + lane]` for the `n` rows and the chunk's `QB * S::W` lanes (`out`
/// points at the chunk's first lane of row 0).
///
/// # Safety
/// As `chunk_argmax`; `out` is valid for `n * pad` values from the chunk's row 0.
#[inline(always)]
pub unsafe fn chunk_scores<S: Lanes, const QB: usize, const R: usize>(
    qt: *const f32,
    pad: usize,
    dim: usize,
    m: *const f32,
    n: usize,
    out: *mut f32,
) {
    unsafe {
        let mut j = 0;
        while j < n {
            let rows = group_rows::<f32, R>(m, j, n, dim);
            let ahead = m.wrapping_add((j + 2 * R) * dim);
            let acc = group_dots::<S, QB, R>(qt, pad, dim, rows, ahead);
            for (r, row) in acc.iter().enumerate().take(n - j) {
                for (b, v) in row.iter().enumerate() {
                    S::store(out.add((j + r) * pad + b * S::W), *v);
                }
            }
            j += R;
        }
    }
}

/// The portable form of both, the oracle of the SIMD ones: the same FMA chain, the same ties.
pub mod scalar {
    fn dot(qt: &[f32], pad: usize, lane: usize, row: &[f32]) -> f32 {
        let mut acc = 0.0f32;
        for (k, &x) in row.iter().enumerate() {
            acc = qt[k * pad + lane].mul_add(x, acc);
        }
        acc
    }

    /// `best[l]`, `arg[l]` for lanes `l < pad` over the rows `m: [n][dim]`.
    pub fn argmax(
        qt: &[f32],
        pad: usize,
        dim: usize,
        m: &[f32],
        best: &mut [f32],
        arg: &mut [f32],
    ) {
        for lane in 0..pad {
            let (mut mx, mut at) = (f32::NEG_INFINITY, 0usize);
            for (j, row) in m.chunks_exact(dim).enumerate() {
                let p = dot(qt, pad, lane, row);
                if p > mx {
                    (mx, at) = (p, j);
                }
            }
            best[lane] = mx;
            arg[lane] = at as f32;
        }
    }

    /// `out[j * pad + l]` for every row `j` and lane `l < pad`.
    pub fn scores(qt: &[f32], pad: usize, dim: usize, m: &[f32], out: &mut [f32]) {
        for (j, row) in m.chunks_exact(dim).enumerate() {
            for lane in 0..pad {
                out[j * pad + lane] = dot(qt, pad, lane, row);
            }
        }
    }
}

/// `m[l] = max(m[l], s[c * pad + l])` for the `QB * S::W` lanes of the chunk and every distinct
/// id `c` of the sorted `ids` (repeats skipped: they cannot change a maximum).
///
/// # Safety
/// The CPU supports `S`; `s` (at the chunk's first lane) holds the rows `ids` index; `m` is valid
/// for `QB * S::W` values.
#[inline(always)]
pub unsafe fn chunk_max_rows<S: Lanes, const QB: usize>(
    s: *const f32,
    pad: usize,
    ids: &[u16],
    m: *mut f32,
) {
    unsafe {
        let mut mx = [S::splat(0.0); QB];
        for (b, v) in mx.iter_mut().enumerate() {
            *v = S::load(m.add(b * S::W));
        }
        let mut last = u32::MAX;
        for &c in ids {
            if u32::from(c) == last {
                continue;
            }
            last = u32::from(c);
            let row = s.add(c as usize * pad);
            for (b, v) in mx.iter_mut().enumerate() {
                *v = S::max(*v, S::load(row.add(b * S::W)));
            }
        }
        for (b, v) in mx.iter().enumerate() {
            S::store(m.add(b * S::W), *v);
        }
    }
}
