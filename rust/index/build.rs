//! Building an index (R-KMEANS-*, R-QUANT-*, R-INDEX-5, R-INDEX-6): sample, k-means, assignment,
//! residual codes, document-major layout and inverted lists, then the atomic commit.

use std::path::Path;

use rayon::prelude::*;

use super::commit::{Added, Uncommitted, clear_leftovers, commit, lock, prepare_dir};
use super::committed::Committed;
use super::far;
use super::format::container::VERSION_ANISO;
use super::format::{Codec, Entry, Ids, MANIFEST, SegmentParts, manifest};
use super::kmeans::{self, Assigner};
use super::layout::{Layout, residual_bounds};
use super::progress::Progress;
use super::quantize;
use super::rng;
use crate::kernel::Isa;
use crate::memory;
use crate::packed::Packed;
use crate::queries;
use crate::{Error, Result};

/// The format version every new codec is written in (R-INDEX-4): its tokens are assigned by
/// its rule (R-KMEANS-6).
pub const NEW_CODEC_VERSION: u32 = VERSION_ANISO;

/// File names of the first commit.
pub const CODEC_NAME: &str = "codec-1.lti";
pub const SEGMENT_NAME: &str = "segment-1.lti";

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

/// Builds the index of `docs` (validated, every document non-empty) with `ids` into `dir`.
/// `progress` is called between bounded steps of work; its error stops the build, which then
/// leaves `dir` as it was (R-INDEX-8).
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
    let created = prepare_dir(dir)?;
    let mut files = Uncommitted::new(dir, lock(dir)?);
    clear_leftovers(dir)?;
    files.remove_lock = true;
    files.remove_dir = created;
    let (codec, assigned) = train(isa, docs, params, k, s, progress)?;
    files.add(CODEC_NAME);
    let codec_entry = codec.write(dir, CODEC_NAME, &mut |done, total| {
        progress("write", done, total)
    })?;
    files.add(SEGMENT_NAME);
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
    // The commit: no progress call from here on, so a stopped build never commits (R-INDEX-8).
    let fields = [
        1,
        2,
        dim as u64,
        params.nbits as u64,
        docs.len() as u64,
        n as u64,
    ];
    let entries = [codec_entry, segment_entry];
    manifest::write(dir, fields, &entries, &mut || files.committed())
}

/// Trains the codec of `docs` (R-KMEANS-2..4, R-QUANT-2, R-INDEX-18) with `k` centroids on a
/// sample of `s` tokens; returns it (its header CRC not yet known) with every token's centroid.
pub fn train(
    isa: Isa,
    docs: &Packed,
    params: &Params,
    k: usize,
    s: usize,
    progress: &mut Progress,
) -> Result<(Codec, Vec<u32>)> {
    let (dim, n) = (docs.dim, docs.data.len() / docs.dim);
    let points = docs.data;
    progress("sample", 0, 1)?;
    let picks = rng::sample(n, s, params.seed);
    let mut sample = memory::zeroed::<f32>(memory::product(s, dim, 4)?)?;
    sample
        .par_chunks_mut(dim)
        .zip(picks.par_iter())
        .for_each(|(row, &p)| row.copy_from_slice(&points[p * dim..(p + 1) * dim]));
    progress("sample", 1, 1)?;

    let iters = params.iters as u64;
    progress("k-means", 0, iters * s as u64)?;
    let version = NEW_CODEC_VERSION;
    let centroids = kmeans::train(isa, &sample, dim, k, params.iters, version, &mut |d, t| {
        progress("k-means", d, t)
    })?;
    drop(sample);

    let rule = assigner(isa, &centroids, dim, version, progress)?;
    let assigned = assign_all(isa, points, dim, &rule, progress)?;
    drop(rule);

    let residual =
        |p: usize, d: usize| points[p * dim + d] - centroids[assigned[p] as usize * dim + d];
    let buckets = quantize::fit_product(
        dim,
        params.nbits,
        s,
        |i, d| residual(picks[i], d),
        &mut |stage, done, total| progress(stage, done, total),
    )?;
    // R-INDEX-18: the far threshold, from the sample's residual norms.
    let far = far::threshold(points, dim, &picks, &assigned, &centroids, progress)?;
    let codec = Codec {
        dim,
        k,
        seed: params.seed,
        sample: s as u64,
        iters,
        centroids,
        buckets,
        metadata: params.metadata.clone(),
        far: Some(far),
        header_crc: 0,
        table: Vec::new(),
    };
    Ok((codec, assigned))
}

/// Adds `docs` with `ids` to the index at `dir` as a new segment coded with its codec, then
/// commits a manifest naming the old files and the new one (R-INDEX-7). An id a live document
/// already has is an error, unless `upsert`: that document is then tombstoned in the same commit
/// (R-INDEX-11). `progress` as `build`; a stopped or failed addition leaves the index at its last
/// commit (R-INDEX-8).
pub fn append(
    dir: &Path,
    isa: Isa,
    docs: &Packed,
    ids: &Ids,
    upsert: bool,
    progress: &mut Progress,
) -> Result<()> {
    check_ids(docs, ids)?;
    let mut files = Uncommitted::new(dir, lock(dir)?);
    progress("open", 0, 1)?;
    // R-INDEX-16: the committed ids and tombstones; no other byte of the earlier segments is read.
    let index = Committed::open(dir)?;
    progress("open", 1, 1)?;
    let codec = &index.codec;
    queries::check_same_dim(docs.dim, codec.dim)?;
    let found = index.find(ids)?;
    if !upsert && let Some(i) = found.iter().position(Option::is_some) {
        return Err(Error::Param {
            rule: "R-INDEX-5",
            what: format!(
                "id {} is already in the index (R-INDEX-11: upsert replaces it)",
                ids.show(i)
            ),
        });
    }
    let replaced: Vec<u64> = found.iter().flatten().map(|&p| p as u64).collect();
    let generation = index.generation + 1;
    let name = format!("segment-{generation}.lti");
    // R-INDEX-7: a committed file is never rewritten (nor removed when this addition fails).
    if index.entries.iter().any(|e| e.name == name) {
        return Err(Error::Format {
            file: MANIFEST.into(),
            check: format!("generation {} already names {name}", index.generation),
        });
    }
    // R-KMEANS-6: the codec's own rule (exact for versions 1 to 3).
    let rule = assigner(isa, &codec.centroids, codec.dim, codec.version(), progress)?;
    let assigned = assign_all(isa, docs.data, docs.dim, &rule, progress)?;
    drop(rule);
    files.add(&name);
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
    // The commit: no progress call from here on (R-INDEX-8).
    let added = Added {
        entry,
        n_docs: docs.len(),
        n_tokens: assigned.len(),
    };
    commit(dir, &index, Some(added), &replaced, &mut files)
}

/// R-INDEX-5: one id per document, all distinct, at least one document.
fn check_ids(docs: &Packed, ids: &Ids) -> Result<()> {
    check_id_count(docs.len(), ids)
}

/// R-INDEX-5: `ids` has one id for each of `n_docs >= 1` documents, all distinct.
pub(super) fn check_id_count(n_docs: usize, ids: &Ids) -> Result<()> {
    if n_docs == 0 {
        return Err(Error::Param {
            rule: "R-INDEX-5",
            what: "an index needs at least one document".into(),
        });
    }
    if ids.len() != n_docs {
        return Err(Error::Param {
            rule: "R-INDEX-5",
            what: format!("{} ids for {n_docs} documents", ids.len()),
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

/// The assignment rule of a codec of format `version` with `centroids` (R-KMEANS-4 or
/// R-KMEANS-6), reporting `("group", 0, 1)` while it groups the centroids.
pub(super) fn assigner<'a>(
    isa: Isa,
    centroids: &'a [f32],
    dim: usize,
    version: u32,
    progress: &mut Progress,
) -> Result<Assigner<'a>> {
    progress("group", 0, 1)?;
    let rule = Assigner::new(isa, centroids, dim, version, &mut || {
        progress("group", 0, 1)
    })?;
    progress("group", 1, 1)?;
    Ok(rule)
}

/// Every token's centroid by `rule` (R-KMEANS-4, R-KMEANS-6), in steps that report progress.
pub(super) fn assign_all(
    isa: Isa,
    points: &[f32],
    dim: usize,
    rule: &Assigner<'_>,
    progress: &mut Progress,
) -> Result<Vec<u32>> {
    let n = points.len() / dim;
    let mut best = memory::zeroed::<f32>(n)?;
    let mut assigned = memory::zeroed::<u32>(n)?;
    progress("assign", 0, n as u64)?;
    rule.assign_in_steps(isa, points, dim, &mut best, &mut assigned, &mut |done| {
        progress("assign", done as u64, n as u64)
    })?;
    Ok(assigned)
}

/// Codes `docs` with `codec` and writes them as the segment `name` (R-INDEX-5), with their far
/// counts when the codec has a far threshold (R-INDEX-18).
#[allow(clippy::too_many_arguments)]
pub fn write_segment(
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
    let bounds = residual_bounds(n, dim, &residual, progress)?;
    // R-INDEX-18: the far tokens of each document, for a codec with a far threshold.
    let far = match codec.far {
        Some(t) => Some(far::counts(
            points,
            dim,
            &docs.offsets,
            assigned,
            centroids,
            t,
            progress,
        )?),
        None => None,
    };
    let layout = Layout::new(docs, assigned, centroids, &codec.buckets, codec.k, progress)?;
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
        far: far.as_deref(),
        version: codec.version(),
    }
    .write(dir, name, &mut |done, total| progress("write", done, total))
}
