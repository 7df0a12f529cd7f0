//! The portable kernel, and the oracle of the SIMD kernels in `cargo test`: for f32 (and for
//! bfloat16 through conversion) it performs the same FMA chain in the same order, so SIMD results
//! must equal it bit for bit.

use crate::bf16;

/// `a > b ? a : b`, the operand order of `vmaxps` (returns `b` on equality).
#[inline(always)]
fn vmax(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// Maxima over `n` document tokens for each of the first `len` query tokens.
///
/// `qt: [dim_p][pad] f32`; `component(j, k)` returns document token `j`'s component `k` as f32.
fn maxima(
    qt: &[f32],
    pad: usize,
    len: usize,
    dim_p: usize,
    n: usize,
    component: impl Fn(usize, usize) -> f32,
    out: &mut [f32],
) {
    for (i, slot) in out.iter_mut().enumerate().take(len) {
        let mut m = f32::NEG_INFINITY;
        for j in 0..n {
            let mut acc = 0.0f32;
            for k in 0..dim_p {
                acc = qt[k * pad + i].mul_add(component(j, k), acc);
            }
            m = vmax(m, acc);
        }
        *slot = m;
    }
}

/// f32 document rows `doc: [n][dim_p] f32`.
pub fn maxima_f32(
    qt: &[f32],
    pad: usize,
    len: usize,
    dim_p: usize,
    doc: &[f32],
    n: usize,
    out: &mut [f32],
) {
    maxima(qt, pad, len, dim_p, n, |j, k| doc[j * dim_p + k], out);
}

/// bfloat16 document rows `doc: [n][dim_p] u16` (`dim_p` even).
pub fn maxima_bf16(
    qt: &[f32],
    pad: usize,
    len: usize,
    dim_p: usize,
    doc: &[u16],
    n: usize,
    out: &mut [f32],
) {
    maxima(
        qt,
        pad,
        len,
        dim_p,
        n,
        |j, k| bf16::to_f32(doc[j * dim_p + k]),
        out,
    );
}
