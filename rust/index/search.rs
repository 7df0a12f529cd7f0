//! Search of one segment (R-ISEARCH-1..3): centroid scores, probing of the inverted lists,
//! approximate scores from the codes alone, exact MaxSim over the decoded short list.

use super::files::{Codec, Segment};
use crate::kernel::{self, DocRows, Isa};
use crate::maxsim::score_one;
use crate::queries::Prepared;
use crate::search::{Hit, best_k, rank_order};
use crate::{Error, Result};

/// Default probes per query token (R-ISEARCH-3).
pub const DEFAULT_NPROBE: usize = 4;

/// The default short list for `k` (R-ISEARCH-3).
pub fn default_rescore(k: usize) -> usize {
    k.saturating_mul(8).max(64)
}

/// Checked search parameters.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub k: usize,
    pub nprobe: usize,
    pub rescore: usize,
    pub exhaustive: bool,
}

impl Params {
    /// R-ISEARCH-3: checks the caller's values against an index of `n_centroids`.
    pub fn new(
        k: i64,
        nprobe: Option<i64>,
        rescore: Option<i64>,
        exhaustive: bool,
        n_centroids: usize,
    ) -> Result<Params> {
        if k < 1 {
            return Err(Error::K { got: k });
        }
        let k = k as usize;
        let nprobe = match nprobe {
            None => DEFAULT_NPROBE.min(n_centroids),
            Some(p) if p >= 1 && p as u64 <= n_centroids as u64 => p as usize,
            Some(p) => {
                return Err(Error::Param {
                    rule: "R-ISEARCH-3",
                    what: format!("nprobe must be in 1..={n_centroids}, got {p}"),
                });
            }
        };
        let rescore = match rescore {
            None => default_rescore(k),
            Some(r) if r >= 1 => r as usize,
            Some(r) => {
                return Err(Error::Param {
                    rule: "R-ISEARCH-3",
                    what: format!("rescore must be an integer >= 1, got {r}"),
                });
            }
        };
        Ok(Params {
            k,
            nprobe,
            rescore,
            exhaustive,
        })
    }
}

/// Per-thread buffers, reused across queries.
#[derive(Default)]
pub struct Scratch {
    stamp: Vec<u32>,
    epoch: u32,
    candidates: Vec<u32>,
    scores: Vec<f32>,
    ranked: Vec<(f32, u32)>,
    maxima: Vec<f32>,
    decoded: Vec<f32>,
}

impl Scratch {
    /// Marks `d` as a candidate once per query.
    fn mark(&mut self, d: u32) {
        let s = &mut self.stamp[d as usize];
        if *s != self.epoch {
            *s = self.epoch;
            self.candidates.push(d);
        }
    }

    fn next_query(&mut self, n_docs: usize) {
        if self.stamp.len() != n_docs || self.epoch == u32::MAX {
            self.stamp.clear();
            self.stamp.resize(n_docs, 0);
            self.epoch = 0;
        }
        self.epoch += 1;
        self.candidates.clear();
    }
}

/// Decodes the tokens of document `d` into `out` (R-QUANT-4); returns their number.
pub fn decode_doc(codec: &Codec, seg: &Segment, d: usize, out: &mut Vec<f32>) -> usize {
    let dim = codec.dim;
    let range = seg.doc(d);
    let n = range.len();
    out.resize(n * dim, 0.0);
    let (codes, res, cb) = (seg.codes(), seg.residuals(), seg.code_bytes);
    for (slot, t) in range.enumerate() {
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
fn approximate(seg: &Segment, d: usize, s: &[f32], pad: usize, len: usize, m: &mut [f32]) -> f32 {
    m[..len].fill(f32::NEG_INFINITY);
    let codes = &seg.codes()[seg.doc(d)];
    let mut last = u32::MAX;
    for &c in codes {
        if u32::from(c) == last {
            continue;
        }
        last = u32::from(c);
        let row = &s[c as usize * pad..c as usize * pad + len];
        for (mx, &x) in m[..len].iter_mut().zip(row) {
            *mx = if x > *mx { x } else { *mx };
        }
    }
    m[..len].iter().fold(0.0f64, |a, &x| a + f64::from(x)) as f32
}

/// The candidates of step 2: the inverted lists of each query token's `nprobe` best centroids.
fn probe(
    seg: &Segment,
    s: &[f32],
    pad: usize,
    len: usize,
    k: usize,
    nprobe: usize,
    sc: &mut Scratch,
) {
    if nprobe >= k {
        sc.candidates.extend(0..seg.n_docs as u32);
        return;
    }
    let (ivf_offsets, ivf_docs) = (seg.ivf_offsets(), seg.ivf_docs());
    for i in 0..len {
        sc.ranked.clear();
        sc.ranked.extend((0..k).map(|c| (s[c * pad + i], c as u32)));
        let order =
            |a: &(f32, u32), b: &(f32, u32)| rank_order(&(a.0, a.1 as usize), &(b.0, b.1 as usize));
        sc.ranked.select_nth_unstable_by(nprobe - 1, order);
        for j in 0..nprobe {
            let c = sc.ranked[j].1 as usize;
            for &d in &ivf_docs[ivf_offsets[c] as usize..ivf_offsets[c + 1] as usize] {
                sc.mark(d);
            }
        }
    }
}

/// The `k` best documents of `seg` for the prepared query `q` (R-ISEARCH-1, R-ISEARCH-2):
/// (exact score over decoded vectors, document number in the segment), best first.
pub fn search(
    isa: Isa,
    codec: &Codec,
    seg: &Segment,
    q: &Prepared,
    p: &Params,
    sc: &mut Scratch,
) -> Vec<Hit> {
    let (dim, k, pad, len) = (codec.dim, codec.k, q.pad, q.len);
    sc.next_query(seg.n_docs);
    sc.maxima.resize(pad, 0.0);
    let short: Vec<usize> = if p.exhaustive {
        (0..seg.n_docs).collect()
    } else {
        let mut s = std::mem::take(&mut sc.scores);
        s.resize(k * pad, 0.0);
        kernel::row_scores(isa, &q.qt, pad, dim, &codec.centroids, &mut s);
        probe(seg, &s, pad, len, k, p.nprobe, sc);
        let mut approx: Vec<Hit> = Vec::with_capacity(sc.candidates.len());
        for &d in &sc.candidates {
            let a = approximate(seg, d as usize, &s, pad, len, &mut sc.maxima);
            approx.push((a, d as usize));
        }
        sc.scores = s;
        if approx.len() > p.rescore {
            approx.select_nth_unstable_by(p.rescore, rank_order);
            approx.truncate(p.rescore);
        }
        approx.into_iter().map(|h| h.1).collect()
    };
    let mut hits = Vec::with_capacity(short.len());
    for d in short {
        let n = decode_doc(codec, seg, d, &mut sc.decoded);
        let score = score_one(isa, q, DocRows::F32(&sc.decoded), n, &mut sc.maxima);
        hits.push((score, d));
    }
    best_k(hits, p.k)
}
