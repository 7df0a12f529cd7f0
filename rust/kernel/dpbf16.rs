//! The AVX512-BF16 micro-kernel: `vdpbf16ps` multiplies bfloat16 pairs and adds both products to
//! f32 accumulators, twice the fp32 FMA rate on CPUs that have it.
//!
//! Layout: query `qp: [dim2][q_pad][2] u16` (for each component pair, 16 query tokens x 2
//! components per register), document rows `[n][dim2 * 2] u16`. Accumulation order differs from
//! the FMA chain of `blocked.rs` (the instruction adds the odd then the even product, and flushes
//! subnormals), so this path is held to the bound of R-MAXSIM-11, not to bit equality.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::blocked::{fold_max, group_rows, store};
use super::lanes::Avx512;

/// Groups of document tokens fetched ahead with software prefetch.
const PREFETCH_GROUPS: usize = 2;

/// Reinterprets 32 bfloat16 lanes.
#[inline(always)]
fn as_bh(v: __m512i) -> __m512bh {
    // SAFETY: both are 512-bit plain-data vectors.
    unsafe { std::mem::transmute::<__m512i, __m512bh>(v) }
}

/// Max over `n >= 1` bfloat16 document rows of the dot products with `QB * 16` query tokens.
///
/// # Safety
/// The CPU supports AVX512F and AVX512_BF16; `qp` points at the chunk's first lane of
/// `[dim2][q_pad][2] u16`, `doc` at `[n][dim2 * 2] u16`, `out` at `QB * 16` f32.
#[inline(always)]
pub unsafe fn chunk<const QB: usize, const R: usize>(
    qp: *const u16,
    q_pad: usize,
    dim2: usize,
    doc: *const u16,
    n: usize,
    out: *mut f32,
) {
    unsafe {
        let stride = dim2 * 2;
        let mut mx = [_mm512_set1_ps(f32::NEG_INFINITY); QB];
        let mut j = 0;
        while j < n {
            let rows = group_rows::<u16, R>(doc, j, n, stride);
            let ahead = doc.wrapping_add((j + R * PREFETCH_GROUPS) * stride);
            let mut acc = [[_mm512_setzero_ps(); QB]; R];
            let mut k2 = 0;
            while k2 < dim2 {
                let end = (k2 + 16).min(dim2);
                for r in 0..R {
                    let p = ahead.wrapping_add(r * stride + 2 * k2);
                    _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
                }
                while k2 < end {
                    let qrow = qp.add(2 * k2 * q_pad);
                    let mut qv = [_mm512_setzero_si512(); QB];
                    for (b, v) in qv.iter_mut().enumerate() {
                        *v = _mm512_loadu_si512(qrow.add(b * 32).cast());
                    }
                    for r in 0..R {
                        let pair =
                            _mm512_set1_epi32(rows[r].add(2 * k2).cast::<i32>().read_unaligned());
                        for b in 0..QB {
                            acc[r][b] = _mm512_dpbf16_ps(acc[r][b], as_bh(qv[b]), as_bh(pair));
                        }
                    }
                    k2 += 1;
                }
            }
            fold_max::<Avx512, QB, R>(&mut mx, &acc);
            j += R;
        }
        store::<Avx512, QB>(&mx, out);
    }
}
