//! Far tokens (R-INDEX-18): how well the codec fits a segment's tokens. The codec records a
//! threshold, a high quantile of its k-means sample's squared residual norms; a token whose
//! squared residual norm exceeds it is far from every centroid. Each segment counts its far
//! tokens per document.

use rayon::prelude::*;

use super::progress::{Progress, step_items};
use crate::Result;
use crate::memory;

/// R-INDEX-18: the threshold is the sample's squared residual norm of rank
/// `min(S - 1, floor(S * FAR_QUANTILE_PERCENT / 100))` in ascending order, so that about
/// `100 - FAR_QUANTILE_PERCENT` percent of the sample is far by construction.
pub const FAR_QUANTILE_PERCENT: usize = 99;

/// R-INDEX-18: `sum_d (x_d - c_d)^2` of token `x: [dim]` and centroid `c: [dim]`: each residual
/// component an f32 subtraction (R-QUANT-2), widened to f64, squared and summed in f64 in
/// component order.
pub fn squared_norm(x: &[f32], c: &[f32]) -> f64 {
    x.iter().zip(c).fold(0.0f64, |acc, (&a, &b)| {
        let r = f64::from(a - b);
        acc + r * r
    })
}

/// R-INDEX-18: the far threshold of a codec trained on the sample `picks` (token positions into
/// `points: [n][dim]`), each with its centroid `assigned[picks[i]]` among `centroids: [K][dim]`.
pub fn threshold(
    points: &[f32],
    dim: usize,
    picks: &[usize],
    assigned: &[u32],
    centroids: &[f32],
    progress: &mut Progress,
) -> Result<f64> {
    let s = picks.len();
    let mut norms = memory::zeroed::<f64>(s)?;
    let step = step_items(dim.saturating_mul(2), 1);
    progress("far", 0, s as u64)?;
    for start in (0..s).step_by(step.max(1)) {
        let end = start.saturating_add(step).min(s);
        norms[start..end]
            .par_iter_mut()
            .zip(picks[start..end].par_iter())
            .for_each(|(out, &p)| {
                let c = assigned[p] as usize;
                *out = squared_norm(
                    &points[p * dim..(p + 1) * dim],
                    &centroids[c * dim..(c + 1) * dim],
                );
            });
        progress("far", end as u64, s as u64)?;
    }
    norms.par_sort_unstable_by(f64::total_cmp);
    let rank = (s.saturating_mul(FAR_QUANTILE_PERCENT) / 100).min(s.saturating_sub(1));
    Ok(norms.get(rank).copied().unwrap_or(0.0))
}

/// R-INDEX-18: per document (`offsets: [n_docs + 1]` into `points: [n][dim]`), the tokens whose
/// squared residual norm to their centroid `assigned[t]` exceeds `far`; in steps of whole
/// documents that report progress.
pub fn counts(
    points: &[f32],
    dim: usize,
    offsets: &[usize],
    assigned: &[u32],
    centroids: &[f32],
    far: f64,
    progress: &mut Progress,
) -> Result<Vec<u32>> {
    let n_docs = offsets.len().saturating_sub(1);
    let n = offsets.last().copied().unwrap_or(0);
    let mut out = memory::zeroed::<u32>(n_docs)?;
    let step = step_items(dim.saturating_mul(2), 1);
    progress("far", 0, n as u64)?;
    let mut d0 = 0;
    while d0 < n_docs {
        // The documents of the step: about `step` tokens, at least one document.
        let limit = offsets[d0].saturating_add(step);
        let d1 = (offsets.partition_point(|&o| o <= limit) - 1).clamp(d0 + 1, n_docs);
        out[d0..d1]
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, count)| {
                let d = d0 + i;
                let far_tokens = (offsets[d]..offsets[d + 1])
                    .filter(|&t| {
                        let c = assigned[t] as usize;
                        squared_norm(
                            &points[t * dim..(t + 1) * dim],
                            &centroids[c * dim..(c + 1) * dim],
                        ) > far
                    })
                    .count();
                *count = u32::try_from(far_tokens).unwrap_or(u32::MAX);
            });
        progress("far", offsets[d1] as u64, n as u64)?;
        d0 = d1;
    }
    Ok(out)
}
