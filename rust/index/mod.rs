//! The on-disk index (spec/index.md): k-means centroids, residual codes, the file format, and
//! search. An index directory holds a manifest naming one codec and its segments.

pub mod build;
pub mod commit;
pub mod format;
pub mod kmeans;
pub mod layout;
pub mod progress;
pub mod quantize;
pub mod rng;
pub mod search;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::kernel::Isa;
use crate::packed::Packed;
use crate::queries::{self, Precision, Prepared};
use crate::search::{Hit, best_k};
use crate::{Error, Result};
use format::{Codec, Entry, Segment, manifest};

/// Bytes checked between two calls of `open_with`'s hook (milliseconds of hashing).
const OPEN_STEP: u64 = 64 << 20;

/// An opened, validated index.
pub struct Index {
    pub dir: PathBuf,
    pub generation: u64,
    pub codec: Codec,
    pub segments: Vec<Segment>,
    pub entries: Vec<Entry>,
    /// Bytes of the manifest read on open.
    pub manifest_len: u64,
    /// First global position of each segment, and the total.
    starts: Vec<usize>,
}

impl Index {
    /// Opens and checks every file the manifest names (R-INDEX-2, R-INDEX-3).
    pub fn open(dir: &Path) -> Result<Index> {
        Index::open_with(dir, &mut |_, _| Ok(()))
    }

    /// As `open`; `checked(done, total)` in bytes of the segments checked so far, between steps
    /// of the check (its error stops the opening and is returned, R-INDEX-8).
    pub fn open_with(dir: &Path, checked: &mut dyn FnMut(u64, u64) -> Result<()>) -> Result<Index> {
        let (fields, entries, manifest_len) = manifest::read(dir)?;
        let codec = Codec::read(dir, &entries[0])?;
        let total = entries[1..]
            .iter()
            .fold(0u64, |t, e| t.saturating_add(e.len));
        let (mut done, mut next) = (0u64, OPEN_STEP);
        let segments = entries[1..]
            .iter()
            .map(|e| {
                Segment::open(dir, e, &codec, &mut |bytes| {
                    done = done.saturating_add(bytes as u64);
                    if done < next {
                        return Ok(());
                    }
                    next = done.saturating_add(OPEN_STEP);
                    checked(done, total)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut starts = vec![0usize];
        let mut tokens = 0u64;
        for s in &segments {
            starts.push(starts[starts.len() - 1] + s.n_docs);
            tokens += s.n_tokens as u64;
        }
        let want = [
            codec.dim as u64,
            codec.buckets.nbits as u64,
            starts[segments.len()] as u64,
            tokens,
        ];
        if fields[2..] != want {
            return Err(Error::Format {
                file: format::MANIFEST.into(),
                check: "dim, nbits, n_docs or n_tokens differ from its files".into(),
            });
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            generation: fields[0],
            codec,
            segments,
            entries,
            manifest_len,
            starts,
        })
    }

    /// Documents over all segments.
    pub fn n_docs(&self) -> usize {
        self.starts[self.segments.len()]
    }

    /// Token vectors over all segments.
    pub fn n_tokens(&self) -> usize {
        self.segments.iter().map(|s| s.n_tokens).sum()
    }

    /// (segment, document within it) of a global position `< n_docs`.
    pub fn locate(&self, pos: usize) -> (usize, usize) {
        let s = self.starts.partition_point(|&x| x <= pos) - 1;
        (s, pos - self.starts[s])
    }

    /// R-ISEARCH-5: (segment, document within it) of a position that must be `< n_docs`.
    fn document(&self, pos: usize) -> Result<(usize, usize)> {
        if pos >= self.n_docs() {
            return Err(Error::Param {
                rule: "R-ISEARCH-5",
                what: format!("position {pos} is not below n_docs {}", self.n_docs()),
            });
        }
        Ok(self.locate(pos))
    }

    /// Appends the decoded tokens of the document at `pos` to `out`; returns their number.
    pub fn decode(&self, pos: usize, out: &mut Vec<f32>) -> Result<usize> {
        let (s, d) = self.document(pos)?;
        let mut buf = Vec::new();
        let n = search::decode_doc(&self.codec, &self.segments[s], d, &mut buf);
        out.extend_from_slice(&buf);
        Ok(n)
    }

    /// The stored codes of the document at `pos`, tokens in stored order: centroid ids `[n] u16`
    /// and buckets `[n][dim] u8` (R-INDEX-5 sections 2-3).
    pub fn codes(&self, pos: usize) -> Result<(Vec<u16>, Vec<u8>)> {
        let (s, d) = self.document(pos)?;
        let seg = &self.segments[s];
        let (dim, nbits, cb) = (self.codec.dim, self.codec.buckets.nbits, seg.code_bytes);
        let range = seg.doc(d);
        let ids = seg.codes()[range.clone()].to_vec();
        let mut buckets =
            crate::memory::zeroed::<u8>(crate::memory::product(range.len(), dim, 1)?)?;
        for (t, out) in range.zip(buckets.chunks_exact_mut(dim)) {
            quantize::unpack(&seg.residuals()[t * cb..(t + 1) * cb], nbits, out);
        }
        Ok((ids, buckets))
    }

    /// The best documents of each query (global positions), in parallel over queries.
    pub fn search(&self, isa: Isa, queries: &Packed, p: &search::Params) -> Result<Vec<Vec<Hit>>> {
        queries::check_same_dim(queries.dim, self.codec.dim)?;
        let prepared: Vec<Prepared> = (0..queries.len())
            .into_par_iter()
            .map(|i| Prepared::new(queries.item(i), queries.dim, Precision::F32))
            .collect::<Result<_>>()?;
        Ok(prepared
            .par_iter()
            .map_init(search::Scratch::default, |sc, q| {
                let mut all = Vec::new();
                for (s, seg) in self.segments.iter().enumerate() {
                    let hits = search::search(isa, &self.codec, seg, q, p, sc);
                    all.extend(hits.into_iter().map(|(x, d)| (x, d + self.starts[s])));
                }
                best_k(all, p.k)
            })
            .collect())
    }
}

#[cfg(test)]
#[path = "../unit/index.rs"]
mod tests;
