//! Exact top-k search (R-SEARCH-1): every document scored by MaxSim, the `min(k, n_docs)` best
//! kept per query, best first, ties broken by the lower document index.

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::documents::Docs;
use crate::kernel::Isa;
use crate::maxsim::{QUERY_TILE, doc_tiles, in_order, prepare, score_tile};
use crate::packed::Packed;
use crate::{Error, Result, memory, queries};

/// A scored document: (score, document index).
pub type Hit = (f32, usize);

/// The ranking order: higher score first, then lower index; a NaN score (possible only when
/// finite inputs overflow f32) ranks after every number.
pub fn rank_order(a: &Hit, b: &Hit) -> Ordering {
    match (a.0.is_nan(), b.0.is_nan()) {
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (true, true) => a.1.cmp(&b.1),
        (false, false) => {
            b.0.partial_cmp(&a.0)
                .unwrap_or(Ordering::Equal)
                .then(a.1.cmp(&b.1))
        }
    }
}

/// Keeps the `k` best of `hits`, sorted best first.
pub fn best_k(mut hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    if hits.len() > k {
        hits.select_nth_unstable_by(k, rank_order);
        hits.truncate(k);
    }
    hits.sort_unstable_by(rank_order);
    hits
}

/// Top-k per query: scores `[n_queries][k'] f32` and indices `[n_queries][k'] i64`, with
/// `k' = min(k, n_docs)`.
pub fn search_exact(
    isa: Isa,
    queries: &Packed,
    docs: &Docs,
    k: i64,
) -> Result<(Vec<f32>, Vec<i64>, usize)> {
    if k < 1 {
        return Err(Error::K { got: k });
    }
    queries::check_same_dim(queries.dim, docs.dim)?;
    let kk = usize::try_from(k).unwrap_or(usize::MAX).min(docs.len());
    // R-MAXSIM-15: the result is reserved, or refused, before any work.
    let n = memory::product(queries.len(), kk, size_of::<f32>() + size_of::<i64>())?;
    let mut scores = memory::reserve::<f32>(n)?;
    let mut indices = memory::reserve::<i64>(n)?;
    let prepared = prepare(queries, docs)?;
    if prepared.is_empty() {
        docs.check(0..docs.len())?; // no product to fold R-MAXSIM-9 into
    }
    let tiles = doc_tiles(docs.offsets);
    for group in prepared.chunks(QUERY_TILE) {
        // Per tile, the k best of each query of the group; merged below in tile order.
        let parts: Vec<Result<Vec<Vec<Hit>>>> = tiles
            .par_iter()
            .map(|dr| {
                let block = score_tile(isa, group, docs, dr.clone())?;
                Ok(block
                    .chunks(dr.len())
                    .map(|row| {
                        best_k(
                            row.iter().zip(dr.clone()).map(|(&s, d)| (s, d)).collect(),
                            kk,
                        )
                    })
                    .collect())
            })
            .collect();
        let parts = in_order(parts)?;
        for qi in 0..group.len() {
            // At most one hit per document.
            let mut all = memory::reserve::<Hit>(parts.iter().map(|p| p[qi].len()).sum())?;
            all.extend(parts.iter().flat_map(|p| p[qi].iter().copied()));
            for (s, d) in best_k(all, kk) {
                scores.push(s);
                indices.push(d as i64);
            }
        }
    }
    Ok((scores, indices, kk))
}

#[cfg(test)]
#[path = "unit/search.rs"]
mod tests;
