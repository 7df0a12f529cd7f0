//! Search of an index's segments (R-ISEARCH-1..3, R-ISEARCH-6..8): centroid scores once per query,
//! probing of every segment's inverted lists, approximate scores from the codes alone, exact MaxSim
//! over the decoded short list; the candidate and rescore budgets are global (R-ISEARCH-8).

use super::format::{Codec, Segment};
use crate::kernel::{self, DocRows, Isa, prefetch};
use crate::maxsim::score_one;
use crate::queries::Prepared;
use crate::search::{Hit, best_k, rank_order};
use crate::{Error, Result};

/// Default probes per query token for `K` centroids (R-ISEARCH-3): one in 512 centroids, at
/// least 8 (at most `K`).
pub fn default_nprobe(k_centroids: usize) -> usize {
    (k_centroids / 512).max(8).min(k_centroids)
}

/// The default candidates kept after probing for `k` results among `n_docs` (R-ISEARCH-3).
pub fn default_candidates(k: usize, n_docs: usize) -> usize {
    let by_size = (8.0 * (n_docs as f64).sqrt()).ceil() as usize;
    k.saturating_mul(32).max(512).max(by_size)
}

/// The default short list for `k` (R-ISEARCH-3).
pub fn default_rescore(k: usize) -> usize {
    k.saturating_mul(8).max(128)
}

/// Checked search parameters.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub k: usize,
    pub nprobe: usize,
    pub candidates: usize,
    pub rescore: usize,
    pub exhaustive: bool,
}

fn at_least_one(name: &str, v: Option<i64>, default: usize) -> Result<usize> {
    match v {
        None => Ok(default),
        Some(x) if x >= 1 => Ok(x as usize),
        Some(x) => Err(Error::Param {
            rule: "R-ISEARCH-3",
            what: format!("{name} must be an integer >= 1, got {x}"),
        }),
    }
}

impl Params {
    /// R-ISEARCH-3: checks the caller's values against an index of `n_centroids`.
    pub fn new(
        k: i64,
        nprobe: Option<i64>,
        candidates: Option<i64>,
        rescore: Option<i64>,
        exhaustive: bool,
        n_centroids: usize,
        n_docs: usize,
    ) -> Result<Params> {
        if k < 1 {
            return Err(Error::K { got: k });
        }
        let k = k as usize;
        let nprobe = match nprobe {
            None => default_nprobe(n_centroids),
            Some(p) if p >= 1 && p as u64 <= n_centroids as u64 => p as usize,
            Some(p) => {
                return Err(Error::Param {
                    rule: "R-ISEARCH-3",
                    what: format!("nprobe must be in 1..={n_centroids}, got {p}"),
                });
            }
        };
        Ok(Params {
            k,
            nprobe,
            candidates: at_least_one("candidates", candidates, default_candidates(k, n_docs))?,
            rescore: at_least_one("rescore", rescore, default_rescore(k))?,
            exhaustive,
        })
    }
}

/// Which documents of a segment a search may return (R-ISEARCH-6, R-ISEARCH-7).
pub enum Filter<'a> {
    /// Every document.
    All,
    /// Those whose entry is false (deleted, or outside an allow-list, are true).
    Skip(&'a [bool]),
    /// Exactly these documents, scored exactly over their decoded vectors (R-ISEARCH-7).
    Only(Vec<usize>),
}

impl Filter<'_> {
    fn skips(&self, d: usize) -> bool {
        match self {
            Filter::Skip(m) => m.get(d).copied().unwrap_or(true),
            _ => false,
        }
    }
}

/// Per-thread buffers, reused across queries.
#[derive(Default)]
pub struct Scratch {
    /// Per document: the query's epoch when it became a candidate, and its row in `rows`.
    stamp: Vec<(u32, u32)>,
    epoch: u32,
    /// Global positions of the candidates, in the order first seen.
    candidates: Vec<usize>,
    /// `[candidate][len]` per-token maxima over the probed centroids.
    rows: Vec<f32>,
    scores: Vec<f32>,
    probes: Vec<(f32, u32)>,
    maxima: Vec<f32>,
    decoded: Vec<f32>,
}

impl Scratch {
    /// The row of candidate `d`, made (from `floor`) when `d` is first seen in this query.
    fn row(&mut self, d: usize, floor: &[f32]) -> usize {
        let (epoch, row) = self.stamp[d];
        if epoch == self.epoch {
            return row as usize;
        }
        let row = self.candidates.len();
        // Rows number at most n_docs, which `Index::search` bounds by u32::MAX.
        self.stamp[d] = (self.epoch, row as u32);
        self.candidates.push(d);
        self.rows.extend_from_slice(floor);
        row
    }

    fn next_query(&mut self, n_docs: usize) {
        if self.stamp.len() != n_docs || self.epoch == u32::MAX {
            self.stamp.clear();
            self.stamp.resize(n_docs, (0, 0));
            self.epoch = 0;
        }
        self.epoch += 1;
        self.candidates.clear();
        self.rows.clear();
    }
}

/// Tokens ahead whose centroid rows `decode_doc` prefetches.
const PREFETCH_TOKENS: usize = 4;

/// Decodes the tokens of document `d` into `out` (R-QUANT-4); returns their number.
pub fn decode_doc(codec: &Codec, seg: &Segment, d: usize, out: &mut Vec<f32>) -> usize {
    let dim = codec.dim;
    let range = seg.doc(d);
    let n = range.len();
    out.resize(n * dim, 0.0);
    let (codes, res, cb) = (seg.codes(), seg.residuals(), seg.code_bytes);
    let end = range.end;
    for (slot, t) in range.enumerate() {
        // The centroid rows are read at random: fetch a few tokens ahead.
        if t + PREFETCH_TOKENS < end {
            let row = codec.centroids[codes[t + PREFETCH_TOKENS] as usize * dim..].as_ptr();
            for line in (0..dim).step_by(16) {
                prefetch(row.wrapping_add(line).cast());
            }
        }
        let c = codes[t] as usize;
        codec.buckets.decode_table(
            &codec.table,
            &res[t * cb..(t + 1) * cb],
            &codec.centroids[c * dim..(c + 1) * dim],
            &mut out[slot * dim..(slot + 1) * dim],
        );
    }
    n
}

/// Step 3: `sum_i max over the document's centroid ids c of s[c][i]`, from the codes alone.
fn approximate(
    isa: Isa,
    seg: &Segment,
    d: usize,
    s: &[f32],
    pad: usize,
    len: usize,
    m: &mut [f32],
) -> f32 {
    m[..pad].fill(f32::NEG_INFINITY);
    kernel::max_rows(isa, s, pad, &seg.codes()[seg.doc(d)], &mut m[..pad]);
    m[..len].iter().fold(0.0f64, |a, &x| a + f64::from(x)) as f32
}

/// Step 2: each query token's `nprobe` best centroids, `probes[i * nprobe + j]` best first
/// (ties: lower centroid id), found in one pass over the centroid rows. `nprobe` may exceed `K`:
/// the entries past `K` stay `(-inf, u32::MAX)`.
fn best_centroids(
    s: &[f32],
    pad: usize,
    len: usize,
    k: usize,
    nprobe: usize,
    out: &mut Vec<(f32, u32)>,
) {
    out.clear();
    out.resize(len * nprobe, (f32::NEG_INFINITY, u32::MAX));
    let mut filled = vec![0usize; len];
    for c in 0..k {
        let row = &s[c * pad..c * pad + len];
        for (i, &x) in row.iter().enumerate() {
            let top = &mut out[i * nprobe..(i + 1) * nprobe];
            if filled[i] == nprobe && x <= top[nprobe - 1].0 {
                continue;
            }
            // Insert after every entry >= x: earlier (lower) ids win ties.
            let at = top[..filled[i]].partition_point(|e| e.0 >= x);
            let end = filled[i].min(nprobe - 1);
            top.copy_within(at..end, at + 1);
            top[at] = (x, c as u32);
            filled[i] = (filled[i] + 1).min(nprobe);
        }
    }
}

/// Step 2, once per query: each token's `nprobe` probes (`probes[i * (nprobe + 1) + j]`) and its
/// floor, the best unprobed centroid's score (-inf when none).
fn probe_setup(
    s: &[f32],
    pad: usize,
    len: usize,
    k: usize,
    nprobe: usize,
    probes: &mut Vec<(f32, u32)>,
) -> Vec<f32> {
    let w = nprobe + 1;
    best_centroids(s, pad, len, k, w, probes);
    (0..len).map(|i| probes[i * w + nprobe].0).collect()
}

/// Step 2 over one segment whose first global position is `start`: the documents of its probed
/// inverted lists become candidates (by global position), with per-token maxima of the probed
/// centroids' scores. Documents the filter skips are not candidates (R-ISEARCH-6, R-ISEARCH-7).
#[allow(clippy::too_many_arguments)]
fn probe(
    seg: &Segment,
    start: usize,
    probes: &[(f32, u32)],
    nprobe: usize,
    len: usize,
    floor: &[f32],
    filter: &Filter,
    sc: &mut Scratch,
) {
    let w = nprobe + 1;
    // One loop per kind of filter, so that an unfiltered search pays no test per document.
    match filter {
        Filter::Skip(m) => probe_lists(seg, start, probes, w, nprobe, len, floor, sc, |d| {
            m.get(d).copied().unwrap_or(true) // R-ISEARCH-6, R-ISEARCH-7
        }),
        _ => probe_lists(seg, start, probes, w, nprobe, len, floor, sc, |_| false),
    }
}

/// Step 2's updates: each probed list's documents, but those `skips`, get the probe's score.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn probe_lists(
    seg: &Segment,
    start: usize,
    probes: &[(f32, u32)],
    w: usize,
    nprobe: usize,
    len: usize,
    floor: &[f32],
    sc: &mut Scratch,
    skips: impl Fn(usize) -> bool,
) {
    let (ivf_offsets, ivf_docs) = (seg.ivf_offsets(), seg.ivf_docs());
    for i in 0..len {
        for &(x, c) in &probes[i * w..i * w + nprobe] {
            let c = c as usize;
            for &d in &ivf_docs[ivf_offsets[c] as usize..ivf_offsets[c + 1] as usize] {
                if skips(d as usize) {
                    continue;
                }
                let r = sc.row(start + d as usize, floor);
                let v = &mut sc.rows[r * len + i];
                *v = if x > *v { x } else { *v };
            }
        }
    }
}

/// Keeps the `n` best hits (any order), ties by lower document number.
fn keep_best(hits: &mut Vec<Hit>, n: usize) {
    if hits.len() > n {
        hits.select_nth_unstable_by(n, rank_order);
        hits.truncate(n);
    }
}

/// One segment of a search: its first global position and which of its documents may be returned.
pub struct Part<'a> {
    pub seg: &'a Segment,
    pub start: usize,
    pub filter: Filter<'a>,
}

/// The part holding global position `pos` (below the index's size).
fn part_of(parts: &[Part], pos: usize) -> usize {
    parts.partition_point(|x| x.start <= pos).saturating_sub(1)
}

/// Step 1: the query's centroid scores `s[c * pad + i]`, into `s`.
pub fn centroid_scores(isa: Isa, codec: &Codec, q: &Prepared, s: &mut Vec<f32>) {
    s.clear();
    s.resize(codec.k * q.pad, 0.0);
    kernel::row_scores(isa, &q.qt, q.pad, codec.dim, &codec.centroids, s);
}

/// Step 2 over `parts`, given the centroid scores `s`: the `candidates` best documents by probe
/// score (global positions, in no particular order; ties by lower position).
#[allow(clippy::too_many_arguments)]
pub fn probe_candidates(
    codec: &Codec,
    parts: &[Part],
    n_docs: usize,
    q: &Prepared,
    s: &[f32],
    nprobe: usize,
    candidates: usize,
    sc: &mut Scratch,
) -> Vec<Hit> {
    let len = q.len;
    sc.next_query(n_docs);
    let mut probes = std::mem::take(&mut sc.probes);
    let floor = probe_setup(s, q.pad, len, codec.k, nprobe, &mut probes);
    for x in parts {
        probe(x.seg, x.start, &probes, nprobe, len, &floor, &x.filter, sc);
    }
    sc.probes = probes;
    let mut probed: Vec<Hit> = sc
        .candidates
        .iter()
        .enumerate()
        .map(|(r, &d)| {
            let row = &sc.rows[r * len..(r + 1) * len];
            (row.iter().fold(0.0f64, |a, &x| a + f64::from(x)) as f32, d)
        })
        .collect();
    keep_best(&mut probed, candidates);
    probed
}

/// Step 3 for the documents `docs` (global positions), given the centroid scores `s`: the
/// `rescore` best by code score (in no particular order; ties by lower position).
pub fn code_scores(
    isa: Isa,
    parts: &[Part],
    q: &Prepared,
    s: &[f32],
    docs: impl Iterator<Item = usize>,
    rescore: usize,
    sc: &mut Scratch,
) -> Vec<Hit> {
    sc.maxima.resize(q.pad, 0.0);
    let mut approx: Vec<Hit> = docs
        .map(|d| {
            let x = &parts[part_of(parts, d)];
            let m = &mut sc.maxima;
            (approximate(isa, x.seg, d - x.start, s, q.pad, q.len, m), d)
        })
        .collect();
    keep_best(&mut approx, rescore);
    approx
}

/// Steps 4-5 for the documents `docs` (global positions): the `k` best by exact MaxSim over
/// their decoded vectors, best first (ties: lower position).
pub fn exact_best(
    isa: Isa,
    codec: &Codec,
    parts: &[Part],
    q: &Prepared,
    docs: impl Iterator<Item = usize>,
    k: usize,
    sc: &mut Scratch,
) -> Vec<Hit> {
    sc.maxima.resize(q.pad, 0.0);
    let hits: Vec<Hit> = docs
        .map(|d| {
            let x = &parts[part_of(parts, d)];
            let n = decode_doc(codec, x.seg, d - x.start, &mut sc.decoded);
            let score = score_one(isa, q, DocRows::F32(&sc.decoded), n, &mut sc.maxima);
            (score, d)
        })
        .collect();
    best_k(hits, k)
}

/// The `k` best documents of `parts` (an index's segments in position order) for the prepared
/// query `q` (R-ISEARCH-1, R-ISEARCH-2, R-ISEARCH-8): (exact score over decoded vectors, global
/// position), best first. The centroid scores are computed once, and the `candidates` and
/// `rescore` budgets are kept over all segments together, so the results do not depend on how
/// the documents are split into segments.
pub fn search(
    isa: Isa,
    codec: &Codec,
    parts: &[Part],
    n_docs: usize,
    q: &Prepared,
    p: &Params,
    sc: &mut Scratch,
) -> Vec<Hit> {
    let short: Vec<usize> =
        if p.exhaustive || parts.iter().any(|x| matches!(x.filter, Filter::Only(_))) {
            let mut all = Vec::new();
            for x in parts {
                match &x.filter {
                    Filter::Only(docs) => all.extend(docs.iter().map(|&d| x.start + d)),
                    f => all.extend(
                        (0..x.seg.n_docs)
                            .filter(|&d| !f.skips(d))
                            .map(|d| x.start + d),
                    ),
                }
            }
            all
        } else {
            let mut s = std::mem::take(&mut sc.scores);
            centroid_scores(isa, codec, q, &mut s);
            let probed = probe_candidates(codec, parts, n_docs, q, &s, p.nprobe, p.candidates, sc);
            let docs = probed.iter().map(|h| h.1);
            let approx = code_scores(isa, parts, q, &s, docs, p.rescore, sc);
            sc.scores = s;
            approx.into_iter().map(|h| h.1).collect()
        };
    exact_best(isa, codec, parts, q, short.into_iter(), p.k, sc)
}
