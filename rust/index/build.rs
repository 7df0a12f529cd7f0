//! Building an index (R-KMEANS-*, R-QUANT-*, R-INDEX-5, R-INDEX-6): sample, k-means, assignment,
//! residual codes, document-major layout and inverted lists, then the atomic commit.

use std::path::Path;

use rayon::prelude::*;

use super::Index;
use super::format::{Codec, Entry, Ids, SegmentParts, manifest};
use super::kmeans;
use super::quantize::{self, Buckets};
use super::rng;
use crate::kernel::Isa;
use crate::memory;
use crate::packed::Packed;
use crate::queries;
use crate::{Error, Result};

/// File names of the first commit.
pub const CODEC_NAME: &str = "codec-1.lti";
pub const SEGMENT_NAME: &str = "segment-1.lti";

/// Tokens assigned per progress step.
const ASSIGN_STEP: usize = 1 << 16;

/// Caller-chosen build parameters.
#[derive(Clone, Debug)]
pub struct Params {
    pub nbits: usize,
    pub seed: u64,
    pub n_centroids: Option<usize>,
    pub sample: Option<usize>,
    pub iters: usize,
    pub metadata: String,
}

/// Progress of a build: `(stage, done, total)`.
pub type Progress<'a> = dyn FnMut(&str, u64, u64) + 'a;

/// R-INDEX-6: the target must not exist, or be an empty directory.
fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let empty = dir.is_dir()
            && std::fs::read_dir(dir)
                .map(|mut it| it.next().is_none())
                .unwrap_or(false);
        if !empty {
            return Err(Error::Param {
                rule: "R-INDEX-6",
                what: format!("{} exists and is not an empty directory", dir.display()),
            });
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Io {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })
}

/// Builds the index of `docs` (validated, every document non-empty) with `ids` into `dir`.
pub fn build(
    dir: &Path,
    isa: Isa,
    docs: &Packed,
    ids: &Ids,
    params: &Params,
    progress: &mut Progress,
) -> Result<()> {
    let (dim, n) = (docs.dim, docs.data.len() / docs.dim);
    check_ids(docs, ids)?;
    let (k, s) = kmeans::sizes(n, params.n_centroids, params.sample)?;
    prepare_dir(dir)?;
    let _lock = lock(dir)?;
    let points = docs.data;

    progress("sample", 0, 1);
    let picks = rng::sample(n, s, params.seed);
    let mut sample = memory::zeroed::<f32>(memory::product(s, dim, 4)?)?;
    sample
        .par_chunks_mut(dim)
        .zip(picks.par_iter())
        .for_each(|(row, &p)| row.copy_from_slice(&points[p * dim..(p + 1) * dim]));
    progress("sample", 1, 1);

    let iters = params.iters as u64;
    progress("k-means", 0, iters);
    let centroids = kmeans::train(isa, &sample, dim, k, params.iters, &mut |i| {
        progress("k-means", i as u64, iters)
    })?;
    drop(sample);

    let assigned = assign_all(isa, points, dim, &centroids, progress)?;

    let residual =
        |p: usize, d: usize| points[p * dim + d] - centroids[assigned[p] as usize * dim + d];
    let buckets = quantize::fit(dim, params.nbits, s, |i, d| residual(picks[i], d));
    progress("write", 0, 2);
    let codec = Codec {
        dim,
        k,
        seed: params.seed,
        sample: s as u64,
        iters,
        centroids,
        buckets,
        metadata: params.metadata.clone(),
        header_crc: 0,
        table: Vec::new(),
    };
    let codec_entry = codec.write(dir, CODEC_NAME)?;
    let segment_entry = write_segment(
        dir,
        SEGMENT_NAME,
        docs,
        ids,
        &assigned,
        &codec,
        codec_entry.header_crc,
        progress,
    )?;
    progress("write", 1, 2);
    let fields = [
        1,
        2,
        dim as u64,
        params.nbits as u64,
        docs.len() as u64,
        n as u64,
    ];
    manifest::write(dir, fields, &[codec_entry, segment_entry] as &[Entry])?;
    progress("write", 2, 2);
    Ok(())
}

/// Adds `docs` with `ids` to the index at `dir` as a new segment coded with its codec, then
/// commits a manifest naming the old files and the new one (R-INDEX-7).
pub fn append(
    dir: &Path,
    isa: Isa,
    docs: &Packed,
    ids: &Ids,
    progress: &mut Progress,
) -> Result<()> {
    check_ids(docs, ids)?;
    let _lock = lock(dir)?;
    let index = Index::open(dir)?;
    let codec = &index.codec;
    queries::check_same_dim(docs.dim, codec.dim)?;
    for seg in &index.segments {
        if let Some(clash) = seg.ids.clash(ids) {
            return Err(Error::Param {
                rule: "R-INDEX-5",
                what: clash,
            });
        }
    }
    let assigned = assign_all(isa, docs.data, docs.dim, &codec.centroids, progress)?;
    let generation = index.generation + 1;
    let name = format!("segment-{generation}.lti");
    progress("write", 0, 2);
    let entry = write_segment(
        dir,
        &name,
        docs,
        ids,
        &assigned,
        codec,
        codec.header_crc,
        progress,
    )?;
    progress("write", 1, 2);
    let mut entries = index.entries.clone();
    entries.push(entry);
    let fields = [
        generation,
        entries.len() as u64,
        codec.dim as u64,
        codec.buckets.nbits as u64,
        (index.n_docs() + docs.len()) as u64,
        (index.n_tokens() + assigned.len()) as u64,
    ];
    manifest::write(dir, fields, &entries)?;
    progress("write", 2, 2);
    Ok(())
}

/// R-INDEX-5: one id per document, all distinct, at least one document.
fn check_ids(docs: &Packed, ids: &Ids) -> Result<()> {
    if docs.is_empty() {
        return Err(Error::Param {
            rule: "R-INDEX-5",
            what: "an index needs at least one document".into(),
        });
    }
    if ids.len() != docs.len() {
        return Err(Error::Param {
            rule: "R-INDEX-5",
            what: format!("{} ids for {} documents", ids.len(), docs.len()),
        });
    }
    if let Some(dup) = ids.duplicate() {
        return Err(Error::Param {
            rule: "R-INDEX-5",
            what: format!("id {dup} appears twice"),
        });
    }
    Ok(())
}

/// R-INDEX-6: one writer at a time, by an advisory lock on `dir/LOCK` held until dropped.
fn lock(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("LOCK");
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Param {
            rule: "R-INDEX-6",
            what: format!("{} is being written by another process", dir.display()),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Every token's centroid (R-KMEANS-4), in steps that report progress.
fn assign_all(
    isa: Isa,
    points: &[f32],
    dim: usize,
    centroids: &[f32],
    progress: &mut Progress,
) -> Result<Vec<u32>> {
    let n = points.len() / dim;
    let mut best = memory::zeroed::<f32>(n)?;
    let mut assigned = memory::zeroed::<u32>(n)?;
    progress("assign", 0, n as u64);
    for start in (0..n).step_by(ASSIGN_STEP) {
        let end = (start + ASSIGN_STEP).min(n);
        kmeans::assign(
            isa,
            &points[start * dim..end * dim],
            dim,
            centroids,
            &mut best[start..end],
            &mut assigned[start..end],
        );
        progress("assign", end as u64, n as u64);
    }
    Ok(assigned)
}

/// Codes `docs` with `codec` and writes them as the segment `name` (R-INDEX-5).
#[allow(clippy::too_many_arguments)]
fn write_segment(
    dir: &Path,
    name: &str,
    docs: &Packed,
    ids: &Ids,
    assigned: &[u32],
    codec: &Codec,
    codec_crc: u32,
    progress: &mut Progress,
) -> Result<Entry> {
    let (dim, n) = (docs.dim, assigned.len());
    let (points, centroids) = (docs.data, &codec.centroids);
    let residual =
        |p: usize, d: usize| points[p * dim + d] - centroids[assigned[p] as usize * dim + d];
    let bounds = residual_bounds(n, dim, &residual);
    progress("encode", 0, 1);
    let layout = Layout::new(docs, assigned, centroids, &codec.buckets, codec.k)?;
    progress("encode", 1, 1);
    SegmentParts {
        dim,
        nbits: codec.buckets.nbits,
        k: codec.k,
        codec_crc,
        doc_offsets: &layout.doc_offsets,
        codes: &layout.codes,
        residuals: &layout.residuals,
        ivf_offsets: &layout.ivf_offsets,
        ivf_docs: &layout.ivf_docs,
        ids,
        bounds: &bounds,
    }
    .write(dir, name)
}

/// `[dim][2]`: least and greatest residual component over all tokens (R-QUANT-5).
fn residual_bounds(
    n: usize,
    dim: usize,
    residual: &(impl Fn(usize, usize) -> f32 + Sync),
) -> Vec<f32> {
    let per_dim: Vec<(f32, f32)> = (0..dim)
        .into_par_iter()
        .map(|d| {
            (0..n).fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), p| {
                let r = residual(p, d);
                (lo.min(r), hi.max(r))
            })
        })
        .collect();
    per_dim.into_iter().flat_map(|(lo, hi)| [lo, hi]).collect()
}

/// The document-major codes and the inverted lists (R-INDEX-5 sections 1-5).
struct Layout {
    doc_offsets: Vec<u64>,
    codes: Vec<u16>,
    residuals: Vec<u8>,
    ivf_offsets: Vec<u64>,
    ivf_docs: Vec<u32>,
}

impl Layout {
    fn new(
        docs: &Packed,
        assigned: &[u32],
        centroids: &[f32],
        buckets: &Buckets,
        k: usize,
    ) -> Result<Layout> {
        let (dim, n) = (docs.dim, assigned.len());
        let cb = quantize::code_bytes(dim, buckets.nbits);
        let mut codes = memory::zeroed::<u16>(n)?;
        let mut residuals = memory::zeroed::<u8>(memory::product(n, cb, 1)?)?;
        let offsets = &docs.offsets;
        // Each document's tokens, stably sorted by centroid id, encoded in parallel per document.
        let mut code_parts = split_by(&mut codes, offsets, 1);
        let mut res_parts = split_by(&mut residuals, offsets, cb);
        code_parts
            .par_iter_mut()
            .zip(res_parts.par_iter_mut())
            .enumerate()
            .for_each(|(d, (cs, rs))| {
                let first = offsets[d];
                let mut order: Vec<usize> = (first..offsets[d + 1]).collect();
                order.sort_by_key(|&t| assigned[t]);
                for (slot, &t) in order.iter().enumerate() {
                    let c = assigned[t] as usize;
                    cs[slot] = c as u16;
                    buckets.encode(
                        &docs.data[t * dim..(t + 1) * dim],
                        &centroids[c * dim..(c + 1) * dim],
                        &mut rs[slot * cb..(slot + 1) * cb],
                    );
                }
            });
        drop((code_parts, res_parts));
        let doc_offsets: Vec<u64> = offsets.iter().map(|&o| o as u64).collect();
        let (ivf_offsets, ivf_docs) = inverted_lists(&doc_offsets, &codes, k)?;
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

/// For each centroid id, the documents having a token with it, increasing (R-INDEX-5 4-5).
pub fn inverted_lists(
    doc_offsets: &[u64],
    codes: &[u16],
    k: usize,
) -> Result<(Vec<u64>, Vec<u32>)> {
    let runs = |f: &mut dyn FnMut(usize, usize)| {
        for (d, w) in doc_offsets.windows(2).enumerate() {
            let doc = &codes[w[0] as usize..w[1] as usize];
            for (i, &c) in doc.iter().enumerate() {
                if i == 0 || doc[i - 1] != c {
                    f(d, c as usize);
                }
            }
        }
    };
    let mut ivf_offsets = vec![0u64; k + 1];
    runs(&mut |_, c| ivf_offsets[c + 1] += 1);
    for c in 0..k {
        ivf_offsets[c + 1] += ivf_offsets[c];
    }
    let mut ivf_docs = memory::zeroed::<u32>(ivf_offsets[k] as usize)?;
    let mut cursor: Vec<usize> = ivf_offsets[..k].iter().map(|&x| x as usize).collect();
    runs(&mut |d, c| {
        ivf_docs[cursor[c]] = d as u32;
        cursor[c] += 1;
    });
    Ok((ivf_offsets, ivf_docs))
}
