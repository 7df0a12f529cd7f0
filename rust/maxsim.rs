//! MaxSim scoring (R-MAXSIM-1): `score(q, d) = sum_i max_j <q_i, d_j>` over real tokens only,
//! as a full `[n_queries, n_docs]` matrix or pairwise (query i with document i).

use std::ops::Range;

use rayon::prelude::*;

use crate::documents::Docs;
use crate::kernel::{self, DocRows, Isa};
use crate::memory;
use crate::packed::Packed;
use crate::queries::{self, Prepared};
use crate::{Error, Result};

/// Documents per tile are chosen to hold about this many tokens.
const TILE_TOKENS: usize = 2048;
/// Queries per tile: a document is read once per tile and stays in cache for all its queries.
pub const QUERY_TILE: usize = 16;
/// Scores computed per band of queries by `maxsim` (bounds its temporary memory to ~16 MiB).
const BAND_SCORES: usize = 1 << 22;

/// Contiguous document ranges of about `TILE_TOKENS` tokens (at least one document each).
pub fn doc_tiles(offsets: &[usize]) -> Vec<Range<usize>> {
    let n_docs = offsets.len().saturating_sub(1);
    let mut tiles = Vec::new();
    let mut start = 0;
    while start < n_docs {
        let limit = offsets[start] + TILE_TOKENS;
        let mut end = start + 1;
        while end < n_docs && offsets[end + 1] <= limit {
            end += 1;
        }
        tiles.push(start..end);
        start = end;
    }
    tiles
}

/// The score of one query against one document; `scratch` holds at least `q.pad` values.
///
/// The per-token maxima are summed in f64 in token order and rounded once to f32 (R-MAXSIM-10).
pub fn score_one(isa: Isa, q: &Prepared, doc: DocRows, n: usize, scratch: &mut [f32]) -> f32 {
    score_checked::<false>(isa, q, doc, n, scratch).0
}

/// As `score_one`; with `CHECK`, also whether the kernel proved the rows finite
/// (`kernel::token_maxima_checked`).
pub fn score_checked<const CHECK: bool>(
    isa: Isa,
    q: &Prepared,
    doc: DocRows,
    n: usize,
    scratch: &mut [f32],
) -> (f32, bool) {
    let finite = kernel::token_maxima_checked::<CHECK>(isa, q, doc, n, scratch);
    // From +0.0 (an empty `sum` starts at -0.0), so a zero score's sign never depends on order.
    let score = scratch[..q.len]
        .iter()
        .fold(0.0f64, |s, &m| s + f64::from(m)) as f32;
    (score, finite)
}

/// Scores of `queries` against the documents of `range` (callers with no query check the
/// documents themselves):
/// `[queries.len()][range.len()] f32`.
///
/// Where the documents' finiteness was deferred (R-MAXSIM-9), the first query's products prove
/// each document finite as they are computed; a document they cannot prove (a non-finite value,
/// or finite values whose products overflow) sends the tile to the exact check, which names the
/// first bad value of the tile or, finding none, keeps the scores.
pub fn score_tile(
    isa: Isa,
    queries: &[Prepared],
    docs: &Docs,
    range: Range<usize>,
) -> Result<Vec<f32>> {
    let width = range.len();
    let mut out = vec![0.0f32; queries.len() * width];
    let mut scratch = vec![0.0f32; queries.iter().map(|q| q.pad).max().unwrap_or(0)];
    let mut proven = true;
    for (col, d) in range.clone().enumerate() {
        let (rows, n) = docs.doc(d);
        if d + 1 < range.end {
            prefetch_start(docs.doc(d + 1).0);
        }
        for (row, q) in queries.iter().enumerate() {
            out[row * width + col] = if row == 0 && docs.deferred {
                let (score, finite) = score_checked::<true>(isa, q, rows, n, &mut scratch);
                proven &= finite;
                score
            } else {
                score_one(isa, q, rows, n, &mut scratch)
            };
        }
    }
    if !proven {
        docs.check(range)?;
    }
    Ok(out)
}

/// Bytes at the start of the next document fetched while one is scored: the kernels fetch rows
/// a few groups ahead within a document, which covers the next one only where it follows in
/// memory (not for documents given one array each).
const NEXT_DOC_BYTES: usize = 8192;

/// Prefetches the first `NEXT_DOC_BYTES` of a document's rows.
fn prefetch_start(rows: DocRows) {
    let (ptr, len) = match rows {
        DocRows::F32(r) => (r.as_ptr().cast::<u8>(), std::mem::size_of_val(r)),
        DocRows::Bf16(r) => (r.as_ptr().cast::<u8>(), std::mem::size_of_val(r)),
    };
    for off in (0..len.min(NEXT_DOC_BYTES)).step_by(64) {
        kernel::prefetch(ptr.wrapping_add(off));
    }
}

/// The parts in order, or the error of the first failing one (the lowest tile, so the value a
/// check before any scoring would name).
pub fn in_order<T>(parts: Vec<Result<T>>) -> Result<Vec<T>> {
    parts.into_iter().collect()
}

/// Validates the pairing of queries with documents and prepares the queries (in parallel).
pub fn prepare(queries: &Packed, docs: &Docs) -> Result<Vec<Prepared>> {
    queries::check_same_dim(queries.dim, docs.dim)?;
    let precision = docs.precision();
    (0..queries.len())
        .into_par_iter()
        .map(|i| Prepared::new(queries.item(i), queries.dim, precision))
        .collect()
}

/// All scores, `[n_queries][n_docs] f32` row-major, and n_docs.
///
/// Work is split into (query group, document tile) pairs computed in parallel. Queries are taken
/// in bands of about `BAND_SCORES` scores, so tile results never hold more than one band.
pub fn maxsim(isa: Isa, queries: &Packed, docs: &Docs) -> Result<(Vec<f32>, usize)> {
    let (nq, nd) = (queries.len(), docs.len());
    let mut out = memory::zeroed::<f32>(memory::product(nq, nd, 4)?)?;
    let prepared = prepare(queries, docs)?;
    if nq == 0 {
        docs.check(0..nd)?; // no product to fold R-MAXSIM-9 into
    }
    let tiles = doc_tiles(docs.offsets);
    let band = (BAND_SCORES / nd.max(1)).div_ceil(QUERY_TILE).max(1) * QUERY_TILE;
    for b0 in (0..nq).step_by(band) {
        let work: Vec<(Range<usize>, Range<usize>)> = (b0..(b0 + band).min(nq))
            .step_by(QUERY_TILE)
            .flat_map(|q0| {
                let qr = q0..(q0 + QUERY_TILE).min(nq);
                tiles.iter().map(move |dr| (qr.clone(), dr.clone()))
            })
            .collect();
        let parts: Vec<Result<Vec<f32>>> = work
            .par_iter()
            .map(|(qr, dr)| score_tile(isa, &prepared[qr.clone()], docs, dr.clone()))
            .collect();
        let parts = in_order(parts)?;
        for ((qr, dr), part) in work.iter().zip(parts) {
            for (r, q) in qr.clone().enumerate() {
                out[q * nd + dr.start..q * nd + dr.end]
                    .copy_from_slice(&part[r * dr.len()..(r + 1) * dr.len()]);
            }
        }
    }
    Ok((out, nd))
}

/// Pairwise scores (R-MAXSIM-12): query `i` against document `i`, `[n] f32`.
pub fn maxsim_pairwise(isa: Isa, queries: &Packed, docs: &Docs) -> Result<Vec<f32>> {
    if queries.len() != docs.len() {
        return Err(Error::PairCount {
            queries: queries.len(),
            documents: docs.len(),
        });
    }
    let prepared = prepare(queries, docs)?;
    let scored: Vec<(f32, bool)> = prepared
        .par_iter()
        .enumerate()
        .map_init(Vec::new, |scratch, (i, q)| {
            scratch.resize(q.pad, 0.0);
            let (rows, n) = docs.doc(i);
            if docs.deferred {
                score_checked::<true>(isa, q, rows, n, scratch)
            } else {
                (score_one(isa, q, rows, n, scratch), true)
            }
        })
        .collect();
    // R-MAXSIM-9 as in `score_tile`: the exact check only where the products could not prove it.
    if let Some(first) = scored.iter().position(|s| !s.1) {
        docs.check(first..docs.len())?;
    }
    Ok(scored.into_iter().map(|s| s.0).collect())
}

#[cfg(test)]
#[path = "unit/maxsim.rs"]
mod tests;
