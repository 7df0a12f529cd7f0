//! `x @ w.T` for a few rows of `x` (one query's tokens), on the MaxSim kernels' blocked products:
//! the tokens across the lanes, each row of `w` (torch.nn.Linear's `[out, in]` layout) broadcast
//! against them. BLAS libraries run such thin products far from the FMA peak; this is what the
//! NumPy encoder uses for queries. Each output is the sequential FMA chain over the input
//! components, the same bits on every instruction set.

use crate::kernel::{self, Isa};
use crate::queries::LANE_PAD;

/// `x: [m][k]`, `w: [n][k]` -> `[m][n]` f32 (`k >= 1`).
pub fn linear(isa: Isa, x: &[f32], m: usize, k: usize, w: &[f32], n: usize) -> Vec<f32> {
    assert!(
        k >= 1 && x.len() == m * k && w.len() == n * k,
        "linear extents"
    );
    let pad = m.div_ceil(LANE_PAD).max(1) * LANE_PAD;
    let mut qt = vec![0.0f32; k * pad];
    for (i, row) in x.chunks_exact(k).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            qt[c * pad + i] = v;
        }
    }
    let mut out = vec![0.0f32; n * pad];
    kernel::row_scores(isa, &qt, pad, k, w, &mut out);
    let mut y = vec![0.0f32; m * n];
    for (j, col) in out.chunks_exact(pad).enumerate() {
        for (i, &v) in col[..m].iter().enumerate() {
            y[i * n + j] = v;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction set gives the scalar kernel's bits, and those are the sequential FMA
    /// chain over the inputs, for row counts around the lane width and odd widths.
    #[test]
    fn linear_is_the_fma_chain_on_every_isa() {
        for (m, k, n) in [
            (1, 1, 1),
            (3, 7, 5),
            (16, 33, 9),
            (17, 384, 40),
            (64, 20, 3),
        ] {
            let x: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 23) as f32) / 23.0 - 0.4)
                .collect();
            let w: Vec<f32> = (0..n * k)
                .map(|i| ((i * 5 % 19) as f32) / 19.0 - 0.6)
                .collect();
            let mut want = vec![0.0f32; m * n];
            for i in 0..m {
                for j in 0..n {
                    let mut acc = 0.0f32;
                    for c in 0..k {
                        acc = x[i * k + c].mul_add(w[j * k + c], acc);
                    }
                    want[i * n + j] = acc;
                }
            }
            for isa in Isa::available() {
                let got = linear(isa, &x, m, k, &w, n);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{isa:?} {m}x{k}x{n}");
            }
        }
    }
}
