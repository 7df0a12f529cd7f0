//! The on-disk index (spec/index.md): k-means centroids, residual codes, the file format, and
//! search. An index directory holds a manifest naming one codec and its segments.

pub mod aniso;
pub mod build;
pub mod coarse;
pub mod commit;
pub mod committed;
pub mod compact;
pub mod delete;
pub mod far;
pub mod format;
pub mod kmeans;
pub mod layout;
pub mod progress;
pub mod quantize;
pub mod refit;
pub mod rng;
pub mod search;
pub mod shard;
pub mod stream;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::kernel::Isa;
use crate::packed::Packed;
use crate::queries::{self, Precision, Prepared};
use crate::search::Hit;
use crate::{Error, Result};
use format::manifest::{ROLE_SEGMENT, ROLE_TOMBSTONES};
use format::{Codec, Entry, Ids, Segment, manifest};

/// Bytes checked between two calls of `open_with`'s hook (milliseconds of hashing).
const OPEN_STEP: u64 = 64 << 20;

/// An opened, validated index.
pub struct Index {
    pub dir: PathBuf,
    pub generation: u64,
    pub codec: Codec,
    /// Shared with the indexes reopened from this one (`reopen`).
    pub segments: Vec<Arc<Segment>>,
    pub entries: Vec<Entry>,
    /// Bytes of the manifest read on open.
    pub manifest_len: u64,
    /// First global position of each segment, and the total.
    starts: Vec<usize>,
    /// Per global position: whether the document is deleted (R-INDEX-9).
    deleted: Vec<bool>,
    /// The deleted global positions, increasing (R-INDEX-9).
    tombstones: Vec<u64>,
}

impl Index {
    /// Opens and checks every file the manifest names (R-INDEX-2, R-INDEX-3).
    pub fn open(dir: &Path) -> Result<Index> {
        Index::open_with(dir, &mut |_, _| Ok(()))
    }

    /// As `open`; `checked(done, total)` in bytes of the segments checked so far, between steps
    /// of the check (its error stops the opening and is returned, R-INDEX-8).
    pub fn open_with(dir: &Path, checked: &mut dyn FnMut(u64, u64) -> Result<()>) -> Result<Index> {
        Index::open_after(dir, None, checked)
    }

    /// R-INDEX-15, R-INDEX-16: the latest commit of this index's folder, opened as `open` does,
    /// but reusing the segments already opened here that it still names (same name, length and
    /// header CRC: committed files are never rewritten, R-INDEX-7), so that only new segments are
    /// read and checked.
    pub fn reopen(&self) -> Result<Index> {
        Index::open_after(&self.dir, Some(self), &mut |_, _| Ok(()))
    }

    fn open_after(
        dir: &Path,
        previous: Option<&Index>,
        checked: &mut dyn FnMut(u64, u64) -> Result<()>,
    ) -> Result<Index> {
        // R-INDEX-12: a writer that commits a new manifest may then remove files of the previous
        // one; a reader that finds a file missing while the manifest changed reads the new one.
        let mut tries = 0;
        loop {
            let before = manifest::read(dir).map(|m| m.0[0]);
            let opened = Index::open_once(dir, previous, checked);
            if let Err(Error::Format { .. }) = &opened {
                let now = manifest::read(dir).map(|m| m.0[0]);
                if tries < 3 && before.is_ok() && now.is_ok() && now != before {
                    tries += 1;
                    continue;
                }
            }
            return opened;
        }
    }

    fn open_once(
        dir: &Path,
        previous: Option<&Index>,
        checked: &mut dyn FnMut(u64, u64) -> Result<()>,
    ) -> Result<Index> {
        let (fields, entries, manifest_len) = manifest::read(dir)?;
        let codec = Codec::read(dir, &entries[0])?;
        let segment_entries: Vec<&Entry> =
            entries.iter().filter(|e| e.role == ROLE_SEGMENT).collect();
        let total = segment_entries
            .iter()
            .fold(0u64, |t, e| t.saturating_add(e.len));
        let (mut done, mut next) = (0u64, OPEN_STEP);
        let segments = segment_entries
            .iter()
            .map(|e| {
                let same = |p: &&Index| {
                    p.entries.iter().any(|x| x == *e) && p.codec_entry() == &entries[0]
                };
                if let Some(old) = previous
                    .filter(same)
                    .and_then(|p| p.segments.iter().find(|s| s.name == e.name))
                {
                    return Ok(Arc::clone(old));
                }
                Segment::open(dir, e, &codec, &mut |bytes| {
                    done = done.saturating_add(bytes as u64);
                    if done < next {
                        return Ok(());
                    }
                    next = done.saturating_add(OPEN_STEP);
                    checked(done, total)
                })
                .map(Arc::new)
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
        let n_docs = starts[segments.len()];
        let tombstones = match entries.iter().find(|e| e.role == ROLE_TOMBSTONES) {
            Some(e) => format::tombstones::read(dir, e, n_docs)?,
            None => Vec::new(),
        };
        let mut deleted = vec![false; n_docs];
        for &t in &tombstones {
            deleted[t as usize] = true;
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            generation: fields[0],
            codec,
            segments,
            entries,
            manifest_len,
            starts,
            deleted,
            tombstones,
        })
    }

    /// The manifest entry of the codec (always the first).
    fn codec_entry(&self) -> &Entry {
        &self.entries[0]
    }

    /// The deleted global positions, increasing (R-INDEX-9).
    pub fn tombstones(&self) -> &[u64] {
        &self.tombstones
    }

    /// Whether the document at `pos` (`< n_docs`) is deleted.
    pub fn is_deleted(&self, pos: usize) -> bool {
        self.deleted.get(pos).copied().unwrap_or(true)
    }

    /// Documents not deleted.
    pub fn n_live(&self) -> usize {
        self.n_docs() - self.tombstones.len()
    }

    /// The live global position of each of `ids`, `None` for an id no live document has
    /// (R-INDEX-10); ids of the other kind are an error (R-INDEX-5).
    pub fn find(&self, ids: &Ids) -> Result<Vec<Option<usize>>> {
        find_live(self.segments.iter().map(|s| &s.ids), &self.deleted, ids)
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

    /// The best live documents of each query (global positions), in parallel over queries
    /// (R-ISEARCH-1, R-ISEARCH-6). `allow`: when given, only these global positions (increasing,
    /// distinct, live) may be returned (R-ISEARCH-7).
    pub fn search(
        &self,
        isa: Isa,
        queries: &Packed,
        p: &search::Params,
        allow: Option<&[usize]>,
    ) -> Result<Vec<Vec<Hit>>> {
        queries::check_same_dim(queries.dim, self.codec.dim)?;
        // R-ISEARCH-7: a short allow-list is scored exactly, document by document; a longer one
        // excludes the other documents at probing, as the deleted ones are (R-ISEARCH-6).
        let exact = allow.filter(|a| p.exhaustive || a.len() <= p.rescore);
        let skip: Option<Cow<[bool]>> = match allow {
            Some(_) if exact.is_some() => None,
            Some(a) => {
                let mut m = vec![true; self.n_docs()];
                for &x in a {
                    if let Some(v) = m.get_mut(x) {
                        *v = self.deleted[x];
                    }
                }
                Some(Cow::Owned(m))
            }
            None if self.tombstones.is_empty() => None,
            None => Some(Cow::Borrowed(&self.deleted)),
        };
        // R-ISEARCH-8: candidate rows are numbered in u32 over the whole index.
        if u32::try_from(self.n_docs()).is_err() {
            return Err(Error::Param {
                rule: "R-ISEARCH-8",
                what: format!(
                    "{} documents: search handles at most 2^32 - 1",
                    self.n_docs()
                ),
            });
        }
        let parts = self.parts(exact, skip.as_deref());
        let prepared: Vec<Prepared> = (0..queries.len())
            .into_par_iter()
            .map(|i| Prepared::new(queries.item(i), queries.dim, Precision::F32))
            .collect::<Result<_>>()?;
        let n_docs = self.n_docs();
        Ok(prepared
            .par_iter()
            .map_init(search::Scratch::default, |sc, q| {
                search::search(isa, &self.codec, &parts, n_docs, q, p, sc)
            })
            .collect())
    }

    /// The segments as a search reads them (R-ISEARCH-8): those of `exact` alone (sorted global
    /// positions, R-ISEARCH-7), else all but those `skip` marks.
    fn parts<'a>(
        &'a self,
        exact: Option<&[usize]>,
        skip: Option<&'a [bool]>,
    ) -> Vec<search::Part<'a>> {
        (0..self.segments.len())
            .map(|s| {
                let (a, b) = (self.starts[s], self.starts[s + 1]);
                let filter = match (exact, skip) {
                    (Some(list), _) => {
                        let lo = list.partition_point(|&x| x < a);
                        let hi = list.partition_point(|&x| x < b);
                        search::Filter::Only(list[lo..hi].iter().map(|&x| x - a).collect())
                    }
                    (None, Some(m)) => search::Filter::Skip(&m[a..b]),
                    (None, None) => search::Filter::All,
                };
                search::Part {
                    seg: &self.segments[s],
                    start: a,
                    filter,
                }
            })
            .collect()
    }

    /// The segments as a search of the live documents reads them (R-ISEARCH-6).
    pub(crate) fn live_parts(&self) -> Vec<search::Part<'_>> {
        let skip = (!self.tombstones.is_empty()).then_some(&self.deleted[..]);
        self.parts(None, skip)
    }
}

/// The live global position of each of `want` among the documents of `segments` (their ids in
/// position order; `deleted` per global position), `None` for an id no live document has
/// (R-INDEX-10); ids of the other kind are an error (R-INDEX-5).
pub fn find_live<'a>(
    segments: impl Iterator<Item = &'a Ids>,
    deleted: &[bool],
    want: &Ids,
) -> Result<Vec<Option<usize>>> {
    let kind_error = |what: &str| Error::Param {
        rule: "R-INDEX-5",
        what: format!("the index has {what} ids, these are not"),
    };
    let is_live = |pos: usize| !deleted.get(pos).copied().unwrap_or(true);
    let mut pos = 0usize;
    match want {
        Ids::Int(want) => {
            let mut live = std::collections::HashMap::new();
            for ids in segments {
                let Ids::Int(v) = ids else {
                    return Err(kind_error("string"));
                };
                for &x in v {
                    if is_live(pos) {
                        live.insert(x, pos);
                    }
                    pos += 1;
                }
            }
            Ok(want.iter().map(|x| live.get(x).copied()).collect())
        }
        Ids::Str(want) => {
            let mut live = std::collections::HashMap::new();
            for ids in segments {
                let Ids::Str(v) = ids else {
                    return Err(kind_error("integer"));
                };
                for x in v {
                    if is_live(pos) {
                        live.insert(x.as_str(), pos);
                    }
                    pos += 1;
                }
            }
            Ok(want.iter().map(|x| live.get(x.as_str()).copied()).collect())
        }
    }
}

#[cfg(test)]
#[path = "../unit/index.rs"]
mod tests;
