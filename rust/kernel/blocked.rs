//! The blocked MaxSim micro-kernels, generic over the SIMD width (`Lanes`).
//!
//! Layout: the query is transposed, `qt: [dim][q_pad] f32` (query tokens across the lanes, zero
//! padded), the document stays row-major, `doc: [n][stride]`. For a chunk of `QB` lane blocks of
//! query tokens and a group of `R` document tokens, `R * QB` accumulators live in registers; each
//! step over a component `k` broadcasts `doc[j][k]` and does one FMA per accumulator, so each
//! (query token, document token) dot product is the sequential FMA chain over `k = 0..dim`
//! (R-MAXSIM-10). The running max is kept in registers; no similarity matrix is materialised.
//!
//! A short last group reuses the document's last row for its missing rows: a repeated row cannot
//! change a maximum, so every group runs at full width with no masks.

use super::lanes::Lanes;

/// Groups of document tokens fetched ahead with software prefetch.
const PREFETCH_GROUPS: usize = 2;

#[inline(always)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
}

/// Row pointers of the group starting at token `j`, clamped to the last row (`n >= 1`).
#[inline(always)]
pub unsafe fn group_rows<T, const R: usize>(
    doc: *const T,
    j: usize,
    n: usize,
    stride: usize,
) -> [*const T; R] {
    let mut rows = [doc; R];
    for (r, row) in rows.iter_mut().enumerate() {
        // SAFETY: min(j + r, n - 1) < n rows of `stride` elements are in bounds.
        *row = unsafe { doc.add((j + r).min(n - 1) * stride) };
    }
    rows
}

/// The `R x QB` products of a group of rows with `QB` lane blocks of `qt: [dim][pad]`: one
/// cache line of each row per 16 components, with the group two ahead prefetched (`ahead`).
///
/// # Safety
/// The CPU supports `S`; `qt` and the rows are valid for `dim` components.
#[inline(always)]
pub unsafe fn group_dots<S: Lanes, const QB: usize, const R: usize>(
    qt: *const f32,
    pad: usize,
    dim: usize,
    rows: [*const f32; R],
    ahead: *const f32,
) -> [[S::V; QB]; R] {
    unsafe {
        let mut acc = [[S::splat(0.0); QB]; R];
        let mut k = 0;
        while k < dim {
            let end = (k + 16).min(dim);
            for r in 0..R {
                prefetch(ahead.wrapping_add(r * dim + k).cast::<u8>());
            }
            while k < end {
                let qrow = qt.add(k * pad);
                let mut qv = [S::splat(0.0); QB];
                for (b, v) in qv.iter_mut().enumerate() {
                    *v = S::load(qrow.add(b * S::W));
                }
                for r in 0..R {
                    let d = S::splat_load(rows[r].add(k));
                    for b in 0..QB {
                        acc[r][b] = S::fma(qv[b], d, acc[r][b]);
                    }
                }
                k += 1;
            }
        }
        acc
    }
}

/// `mx[b] = max(mx[b], acc[r][b])` for every row `r` in order (the operand order of R-MAXSIM-10).
#[inline(always)]
pub unsafe fn fold_max<S: Lanes, const QB: usize, const R: usize>(
    mx: &mut [S::V; QB],
    acc: &[[S::V; QB]; R],
) {
    for row in acc.iter() {
        for b in 0..QB {
            // SAFETY: the caller's CPU supports `S`.
            mx[b] = unsafe { S::max(mx[b], row[b]) };
        }
    }
}

/// Stores the `QB * S::W` maxima to `out`.
#[inline(always)]
pub unsafe fn store<S: Lanes, const QB: usize>(mx: &[S::V; QB], out: *mut f32) {
    for (b, m) in mx.iter().enumerate() {
        // SAFETY: the caller guarantees `out` holds `QB * S::W` values.
        unsafe { S::store(out.add(b * S::W), *m) };
    }
}

/// Max over the `n >= 1` f32 document rows of the dot products with `QB * S::W` query tokens.
///
/// `qt` points at the chunk's first lane in `[dim][q_pad] f32`; `doc` is `[n][dim] f32`;
/// `out` receives `QB * S::W` maxima.
///
/// With `CHECK`, also returns whether every product of the chunk's first lane block was finite
/// (`x - x` is 0 for a finite `x` and NaN otherwise, summed over the rows: one subtraction and
/// one addition per row against `QB * dim` FMAs). With a finite query, a non-finite document
/// component makes every product of its row non-finite (`0 * inf` is NaN), so `true` proves the
/// rows finite; `false` may also come from finite values whose products overflow, which the
/// caller tells apart with an exact check (R-MAXSIM-9). Without `CHECK` it returns `true`.
///
/// # Safety
/// The CPU supports `S`; `qt`, `doc` and `out` are valid for the extents above.
#[inline(always)]
pub unsafe fn chunk_f32<S: Lanes, const QB: usize, const R: usize, const CHECK: bool>(
    qt: *const f32,
    q_pad: usize,
    dim: usize,
    doc: *const f32,
    n: usize,
    out: *mut f32,
) -> bool {
    unsafe {
        let mut mx = [S::splat(f32::NEG_INFINITY); QB];
        let mut chk = S::splat(0.0);
        let mut j = 0;
        while j < n {
            let rows = group_rows::<f32, R>(doc, j, n, dim);
            let ahead = doc.wrapping_add((j + R * PREFETCH_GROUPS) * dim);
            let acc = group_dots::<S, QB, R>(qt, q_pad, dim, rows, ahead);
            if CHECK {
                for row in acc.iter() {
                    chk = S::add(chk, S::sub(row[0], row[0]));
                }
            }
            fold_max::<S, QB, R>(&mut mx, &acc);
            j += R;
        }
        store::<S, QB>(&mx, out);
        !(CHECK && S::any_nan(chk))
    }
}

/// As `chunk_f32`, for bfloat16 document rows `doc: [n][dim2 * 2] u16` (a zero pad component
/// when dim is odd) and a query `qt: [dim2 * 2][q_pad] f32` of bfloat16-rounded values. Products of
/// bfloat16 values are exact in f32, so each dot product is the sequential FMA chain over `k`.
///
/// # Safety
/// As `chunk_f32`.
#[inline(always)]
pub unsafe fn chunk_bf16<S: Lanes, const QB: usize, const R: usize>(
    qt: *const f32,
    q_pad: usize,
    dim2: usize,
    doc: *const u16,
    n: usize,
    out: *mut f32,
) {
    unsafe {
        let stride = dim2 * 2;
        let mut mx = [S::splat(f32::NEG_INFINITY); QB];
        let mut j = 0;
        while j < n {
            let rows = group_rows::<u16, R>(doc, j, n, stride);
            let ahead = doc.wrapping_add((j + R * PREFETCH_GROUPS) * stride);
            let mut acc = [[S::splat(0.0); QB]; R];
            let mut k2 = 0;
            while k2 < dim2 {
                let end = (k2 + 16).min(dim2);
                for r in 0..R {
                    prefetch(ahead.wrapping_add(r * stride + 2 * k2).cast::<u8>());
                }
                while k2 < end {
                    let even_row = qt.add(2 * k2 * q_pad);
                    let odd_row = even_row.add(q_pad);
                    let mut qe = [S::splat(0.0); QB];
                    let mut qo = [S::splat(0.0); QB];
                    for b in 0..QB {
                        qe[b] = S::load(even_row.add(b * S::W));
                        qo[b] = S::load(odd_row.add(b * S::W));
                    }
                    for r in 0..R {
                        let (de, d_o) = S::splat_bf16_pair(rows[r].add(2 * k2));
                        for b in 0..QB {
                            acc[r][b] = S::fma(qe[b], de, acc[r][b]);
                            acc[r][b] = S::fma(qo[b], d_o, acc[r][b]);
                        }
                    }
                    k2 += 1;
                }
            }
            fold_max::<S, QB, R>(&mut mx, &acc);
            j += R;
        }
        store::<S, QB>(&mx, out);
    }
}
