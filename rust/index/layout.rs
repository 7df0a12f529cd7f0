//! The document-major layout of a segment (R-INDEX-5 sections 1-5, 8): each document's tokens
//! sorted by centroid id with their residual codes, the inverted lists, and the residual bounds;
//! computed in steps that report progress (R-INDEX-8).

use rayon::prelude::*;

use super::progress::{Progress, step_items};
use super::quantize::{self, Buckets};
use crate::Result;
use crate::memory;
use crate::packed::Packed;

/// Tokens per cache-sized block of `residual_bounds`.
const BOUNDS_BLOCK: usize = 4096;

/// `[dim][2]`: least and greatest residual component over all tokens (R-QUANT-5). Each
/// component's minimum and maximum are folded in token order, in steps that report progress.
pub fn residual_bounds(
    n: usize,
    dim: usize,
    residual: &(impl Fn(usize, usize) -> f32 + Sync),
    progress: &mut Progress,
) -> Result<Vec<f32>> {
    let mut per_dim = vec![(f32::INFINITY, f32::NEG_INFINITY); dim];
    let step = step_items(dim.saturating_mul(4), BOUNDS_BLOCK);
    progress("bounds", 0, n as u64)?;
    for start in (0..n).step_by(step) {
        let end = start.saturating_add(step).min(n);
        for b0 in (start..end).step_by(BOUNDS_BLOCK) {
            let b1 = (b0 + BOUNDS_BLOCK).min(end);
            per_dim
                .par_iter_mut()
                .enumerate()
                .for_each(|(d, (lo, hi))| {
                    for p in b0..b1 {
                        let r = residual(p, d);
                        *lo = lo.min(r);
                        *hi = hi.max(r);
                    }
                });
        }
        progress("bounds", end as u64, n as u64)?;
    }
    Ok(per_dim.into_iter().flat_map(|(lo, hi)| [lo, hi]).collect())
}

/// The document-major codes and the inverted lists (R-INDEX-5 sections 1-5).
pub struct Layout {
    pub doc_offsets: Vec<u64>,
    pub codes: Vec<u16>,
    pub residuals: Vec<u8>,
    pub ivf_offsets: Vec<u64>,
    pub ivf_docs: Vec<u32>,
}

impl Layout {
    /// Codes `docs` (with their tokens' centroids `assigned`) with `buckets`.
    pub fn new(
        docs: &Packed,
        assigned: &[u32],
        centroids: &[f32],
        buckets: &Buckets,
        k: usize,
        progress: &mut Progress,
    ) -> Result<Layout> {
        let (dim, n) = (docs.dim, assigned.len());
        let cb = quantize::code_bytes(dim, buckets.nbits);
        let mut codes = memory::zeroed::<u16>(n)?;
        let mut residuals = memory::zeroed::<u8>(memory::product(n, cb, 1)?)?;
        let offsets = &docs.offsets;
        // Each document's tokens, stably sorted by centroid id, encoded in parallel per document,
        // in steps of whole documents that report progress.
        let mut code_parts = split_by(&mut codes, offsets, 1);
        let mut res_parts = split_by(&mut residuals, offsets, cb);
        let n_docs = code_parts.len();
        // A token costs about `dim` steps of its bucket search, or 256 of its nearest rows.
        let per_component = if buckets.product.is_some() {
            256
        } else {
            (1 << buckets.nbits) + 2
        };
        let step = step_items(dim.saturating_mul(per_component), 1);
        let coder = buckets.coder();
        progress("encode", 0, n as u64)?;
        let mut d0 = 0;
        while d0 < n_docs {
            // The documents of the step: about `step` tokens, at least one document.
            let limit = offsets[d0].saturating_add(step);
            let d1 = (offsets.partition_point(|&o| o <= limit) - 1).clamp(d0 + 1, n_docs);
            code_parts[d0..d1]
                .par_iter_mut()
                .zip(res_parts[d0..d1].par_iter_mut())
                .enumerate()
                .for_each(|(i, (cs, rs))| {
                    let d = d0 + i;
                    let mut order: Vec<usize> = (offsets[d]..offsets[d + 1]).collect();
                    order.sort_by_key(|&t| assigned[t]);
                    for (slot, &t) in order.iter().enumerate() {
                        let c = assigned[t] as usize;
                        cs[slot] = c as u16;
                        buckets.encode(
                            &coder,
                            &docs.data[t * dim..(t + 1) * dim],
                            &centroids[c * dim..(c + 1) * dim],
                            &mut rs[slot * cb..(slot + 1) * cb],
                        );
                    }
                });
            progress("encode", offsets[d1] as u64, n as u64)?;
            d0 = d1;
        }
        drop((code_parts, res_parts));
        let doc_offsets: Vec<u64> = offsets.iter().map(|&o| o as u64).collect();
        let (ivf_offsets, ivf_docs) = inverted_lists(&doc_offsets, &codes, k, progress)?;
        Ok(Layout {
            doc_offsets,
            codes,
            residuals,
            ivf_offsets,
            ivf_docs,
        })
    }
}

/// Splits `v` into per-document parts of `unit` items per token.
fn split_by<'a, T>(mut v: &'a mut [T], offsets: &[usize], unit: usize) -> Vec<&'a mut [T]> {
    let mut parts = Vec::with_capacity(offsets.len().saturating_sub(1));
    for w in offsets.windows(2) {
        let (head, tail) = v.split_at_mut((w[1] - w[0]) * unit);
        parts.push(head);
        v = tail;
    }
    parts
}

/// Tokens read between two progress reports of `inverted_lists`.
const LISTS_STEP: u64 = 1 << 24;

/// Calls `f(document, centroid id)` for each run of equal centroid ids within each document, in
/// document order; `progress("lists", pass * n + done, 2 * n)` every `LISTS_STEP` tokens.
fn runs(
    doc_offsets: &[u64],
    codes: &[u16],
    pass: u64,
    f: &mut dyn FnMut(usize, usize),
    progress: &mut Progress,
) -> Result<()> {
    let n = codes.len() as u64;
    let mut next = LISTS_STEP;
    for (d, w) in doc_offsets.windows(2).enumerate() {
        let doc = &codes[w[0] as usize..w[1] as usize];
        for (i, &c) in doc.iter().enumerate() {
            if i == 0 || doc[i - 1] != c {
                f(d, c as usize);
            }
        }
        if w[1] >= next {
            progress("lists", pass * n + w[1], 2 * n)?;
            next = w[1] + LISTS_STEP;
        }
    }
    progress("lists", (pass + 1) * n, 2 * n)
}

/// For each centroid id, the documents having a token with it, increasing (R-INDEX-5 4-5).
pub fn inverted_lists(
    doc_offsets: &[u64],
    codes: &[u16],
    k: usize,
    progress: &mut Progress,
) -> Result<(Vec<u64>, Vec<u32>)> {
    let mut ivf_offsets = vec![0u64; k + 1];
    runs(
        doc_offsets,
        codes,
        0,
        &mut |_, c| ivf_offsets[c + 1] += 1,
        progress,
    )?;
    for c in 0..k {
        ivf_offsets[c + 1] += ivf_offsets[c];
    }
    let mut ivf_docs = memory::zeroed::<u32>(ivf_offsets[k] as usize)?;
    let mut cursor: Vec<usize> = ivf_offsets[..k].iter().map(|&x| x as usize).collect();
    let mut fill = |d: usize, c: usize| {
        ivf_docs[cursor[c]] = d as u32;
        cursor[c] += 1;
    };
    runs(doc_offsets, codes, 1, &mut fill, progress)?;
    Ok((ivf_offsets, ivf_docs))
}
