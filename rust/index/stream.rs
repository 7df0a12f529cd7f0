//! The streaming build (R-INDEX-17): the documents arrive batch by batch and are spilled, as f32
//! rows, to an uncommitted file of the index folder; the codec is then trained from the sample
//! rows read back with positioned reads, and the documents are coded in chunks of whole
//! documents, each read back into one reused buffer and written as its own segment, all of them
//! committed in one first manifest. Memory: the sample, the centroids and one chunk, never the
//! collection's floats.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::build::{
    CODEC_NAME, NEW_CODEC_VERSION, Params, SEGMENT_NAME, assign_all, assigner, check_id_count,
    write_segment,
};
use super::commit::{LOCK, Uncommitted, clear_leftovers, lock, prepare_dir};
use super::far;
use super::format::container::bytes_of;
use super::format::{Codec, Entry, Ids, manifest};
use super::kmeans;
use super::progress::{Progress, step_items};
use super::quantize;
use super::rng;
use crate::kernel::Isa;
use crate::memory;
use crate::packed::Packed;
use crate::{Error, Result};

/// The spill file of a streaming build (R-INDEX-13 counts it among a first commit's leftovers).
pub const SPILL_NAME: &str = "spill-1.f32";

/// Tokens of one chunk, hence of one segment, unless a single document is longer (R-INDEX-17).
pub const DEFAULT_SEGMENT_TOKENS: usize = 1 << 18;

/// Bytes read from the spill file per positioned read of a chunk, and between two reports.
const READ_PIECE: usize = 1 << 20;
const READ_REPORT: usize = 64 << 20;

/// The file name of segment `i` (from 0) of the first commit: `segment-1.lti`, then
/// `segment-1-2.lti`, `segment-1-3.lti`, ... (R-INDEX-17).
pub fn segment_name(i: usize) -> String {
    if i == 0 {
        SEGMENT_NAME.to_string()
    } else {
        format!("segment-1-{}.lti", i + 1)
    }
}

/// Whether `name` is `segment-1-<i>.lti` with `i` decimal digits (a first commit's segment
/// beyond the first, R-INDEX-13).
pub fn is_first_commit_segment(name: &str) -> bool {
    name.strip_prefix("segment-1-")
        .and_then(|rest| rest.strip_suffix(".lti"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Reads exactly `buf.len()` bytes of `file` at `offset`, without moving a shared cursor
/// (positioned reads from several threads).
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Little-endian f32 bytes into `out` (`bytes.len() == 4 * out.len()`).
fn decode_f32(bytes: &[u8], out: &mut [f32]) {
    for (x, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        let mut le = [0u8; 4];
        le.copy_from_slice(b);
        *x = f32::from_le_bytes(le);
    }
}

/// A streaming build in progress: the writer's lock on its folder, the spill file being
/// appended to, and the documents' offsets. Dropped before `build` commits, it removes what it
/// wrote (the spill file, `LOCK`, and the folder when it created it), leaving the folder as it
/// was (R-INDEX-8).
pub struct Spill {
    dir: PathBuf,
    lock: Option<File>,
    file: Option<File>,
    /// Whether this build created `dir`.
    created: bool,
    /// Whether the folder's leftovers were cleared: from then on a drop removes `LOCK` too.
    owned: bool,
    /// Components per token; 0 until the first batch.
    dim: usize,
    /// `[n_docs + 1]` token offsets of the documents spilled so far.
    offsets: Vec<usize>,
    batches: usize,
}

impl Spill {
    /// Takes the writer's lock on `dir` (R-INDEX-14), which must be absent, empty or hold a first
    /// commit's leftovers (R-INDEX-6, R-INDEX-13, removed here), and creates the spill file.
    pub fn start(dir: &Path) -> Result<Spill> {
        let created = prepare_dir(dir)?;
        let mut spill = Spill {
            dir: dir.to_path_buf(),
            lock: None,
            file: None,
            created,
            owned: false,
            dim: 0,
            offsets: vec![0],
            batches: 0,
        };
        spill.lock = Some(lock(dir)?);
        clear_leftovers(dir)?;
        spill.owned = true;
        let path = dir.join(SPILL_NAME);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error(&path))?;
        spill.file = Some(file);
        Ok(spill)
    }

    /// Documents spilled so far.
    pub fn n_docs(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Token vectors spilled so far.
    pub fn n_tokens(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// Appends the batch `docs` (validated, at least one document) to the spill file; its dim
    /// must be the earlier batches' (R-MAXSIM-7).
    pub fn push(&mut self, docs: &Packed) -> Result<()> {
        if self.dim != 0 && docs.dim != self.dim {
            return Err(Error::Dim {
                what: format!(
                    "batch dim {} != dim {} of the earlier batches",
                    docs.dim, self.dim
                ),
            });
        }
        let path = self.dir.join(SPILL_NAME);
        let file = self.file.as_mut().ok_or_else(|| Error::Io {
            path: path.display().to_string(),
            reason: "the spill file is closed".into(),
        })?;
        if let Err(e) = file.write_all(bytes_of(docs.data)) {
            // A partly written batch: the spill can no longer be built from.
            self.file = None;
            return Err(io_error(&path)(e));
        }
        self.dim = docs.dim;
        let base = self.n_tokens();
        self.offsets
            .extend(docs.offsets.iter().skip(1).map(|&o| base + o));
        self.batches += 1;
        Ok(())
    }

    /// Builds and commits generation 1 from the spilled documents with `ids` (R-INDEX-17): the
    /// codec as `build::build` trains it on the same documents, then segments of at most
    /// `segment_tokens` tokens of whole documents (a longer document alone), named by
    /// `segment_name`, in one manifest. The spill file is removed before the commit; a stopped or
    /// failed build removes everything it wrote (R-INDEX-8).
    pub fn build(
        mut self,
        isa: Isa,
        ids: &Ids,
        params: &Params,
        segment_tokens: usize,
        progress: &mut Progress,
    ) -> Result<()> {
        let dir = self.dir.clone();
        let closed = || Error::Io {
            path: dir.join(SPILL_NAME).display().to_string(),
            reason: "the spill file is closed (a failed write)".into(),
        };
        // A spill that cannot be built from is left to `drop`, which removes it.
        if !self.owned || self.lock.is_none() || self.file.is_none() {
            return Err(closed());
        }
        let (Some(lock), Some(file)) = (self.lock.take(), self.file.take()) else {
            return Err(closed());
        };
        // From here on `files` removes what was written, the spill file included.
        self.owned = false;
        let mut files = Uncommitted::new(&dir, lock);
        files.remove_lock = true;
        files.remove_dir = self.created;
        files.add(SPILL_NAME);
        let offsets = std::mem::take(&mut self.offsets);
        let (dim, n_docs) = (self.dim, offsets.len() - 1);
        let n = offsets.last().copied().unwrap_or(0);
        check_id_count(n_docs, ids)?;
        if segment_tokens == 0 {
            return Err(Error::Param {
                rule: "R-INDEX-17",
                what: "segment_tokens must be at least 1, got 0".into(),
            });
        }
        let (k, s) = kmeans::sizes(n, params.n_centroids, params.sample)?;
        let spill_path = dir.join(SPILL_NAME);
        let row_bytes = memory::product(dim, 4, 1)?;

        // The sample rows, read back in sample order (R-KMEANS-2).
        progress("sample", 0, s as u64)?;
        let picks = rng::sample(n, s, params.seed);
        let mut sample = memory::zeroed::<f32>(memory::product(s, dim, 4)?)?;
        let step = step_items(dim.saturating_mul(256), 64);
        for i0 in (0..s).step_by(step) {
            let i1 = i0.saturating_add(step).min(s);
            sample[i0 * dim..i1 * dim]
                .par_chunks_mut(dim)
                .zip(picks[i0..i1].par_iter())
                .try_for_each_init(
                    || vec![0u8; row_bytes],
                    |buf, (row, &p)| {
                        read_at(&file, buf, (p as u64) * row_bytes as u64)
                            .map_err(io_error(&spill_path))?;
                        decode_f32(buf, row);
                        Ok::<(), Error>(())
                    },
                )?;
            progress("sample", i1 as u64, s as u64)?;
        }
        drop(picks);

        let codec = codec_from_sample(isa, sample, dim, k, params, progress)?;
        files.add(CODEC_NAME);
        let codec_entry = codec.write(&dir, CODEC_NAME, &mut |done, total| {
            progress("write", done, total)
        })?;

        // The chunks: whole documents, at most `segment_tokens` tokens (or one document).
        let mut ends = Vec::new();
        let mut d0 = 0;
        while d0 < n_docs {
            let limit = offsets[d0].saturating_add(segment_tokens);
            let d1 = (offsets.partition_point(|&o| o <= limit) - 1).clamp(d0 + 1, n_docs);
            ends.push(d1);
            d0 = d1;
        }
        let m = ends.len();
        let mut entries: Vec<Entry> = vec![codec_entry.clone()];
        let mut rows: Vec<f32> = Vec::new();
        let mut piece = memory::zeroed::<u8>(READ_PIECE.max(row_bytes))?;
        let rule = assigner(isa, &codec.centroids, dim, codec.version(), progress)?;
        let mut d0 = 0;
        for (c, &d1) in ends.iter().enumerate() {
            let mut report =
                |stage: &str, done, total| progress(&format!("{stage} {}/{m}", c + 1), done, total);
            let (t0, t1) = (offsets[d0], offsets[d1]);
            let len = memory::product(t1 - t0, dim, 4)?;
            if rows.capacity() < len {
                rows = memory::reserve(len)?;
            }
            rows.clear();
            rows.resize(len, 0.0);
            read_rows(
                &file,
                &spill_path,
                t0 * row_bytes,
                &mut rows,
                &mut piece,
                &mut report,
            )?;
            let docs = Packed {
                dim,
                offsets: offsets[d0..=d1].iter().map(|&o| o - t0).collect(),
                data: &rows,
                deferred: false, // checked when the batches were spilled
            };
            let chunk_ids = match ids {
                Ids::Int(v) => Ids::Int(v[d0..d1].to_vec()),
                Ids::Str(v) => Ids::Str(v[d0..d1].to_vec()),
            };
            let assigned = assign_all(isa, &rows, dim, &rule, &mut report)?;
            let name = segment_name(c);
            files.add(&name);
            entries.push(write_segment(
                &dir,
                &name,
                &docs,
                &chunk_ids,
                &assigned,
                &codec,
                codec_entry.header_crc,
                &mut report,
            )?);
            d0 = d1;
        }
        drop((rows, rule));
        // The spill file goes before the commit, so that a committed index never leaves it.
        drop(file);
        std::fs::remove_file(&spill_path).map_err(io_error(&spill_path))?;
        // The commit: no progress call from here on, so a stopped build never commits (R-INDEX-8).
        let fields = [
            1,
            entries.len() as u64,
            dim as u64,
            params.nbits as u64,
            n_docs as u64,
            n as u64,
        ];
        manifest::write(&dir, fields, &entries, &mut || files.committed())
    }
}

/// The codec of a collection whose k-means sample rows (R-KMEANS-2, `[s][dim]` in sample order)
/// are `sample`, with `k` centroids (R-KMEANS-1): k-means (R-KMEANS-3), the sample's centroids
/// (R-KMEANS-4, R-KMEANS-6: a point gets the same one whichever points it is assigned with), the
/// buckets and product rows (R-QUANT-2, R-QUANT-6) and the far threshold (R-INDEX-18), all
/// fitted on those rows: the codec `build::build` trains on the whole collection, byte for byte
/// (R-INDEX-17, R-INDEX-20). Its header CRC is set when it is written.
pub fn codec_from_sample(
    isa: Isa,
    sample: Vec<f32>,
    dim: usize,
    k: usize,
    params: &Params,
    progress: &mut Progress,
) -> Result<Codec> {
    let s = sample.len() / dim.max(1);
    let iters = params.iters as u64;
    progress("k-means", 0, iters * s as u64)?;
    let version = NEW_CODEC_VERSION;
    let centroids = kmeans::train(isa, &sample, dim, k, params.iters, version, &mut |d, t| {
        progress("k-means", d, t)
    })?;
    // Each sample point's centroid: R-KMEANS-4 and R-KMEANS-6 give a point the same one
    // whichever points it is assigned with, so these are the in-memory build's
    // `assigned[picks[i]]`.
    let rule = assigner(isa, &centroids, dim, version, progress)?;
    let sample_assigned = assign_all(isa, &sample, dim, &rule, progress)?;
    drop(rule);
    let buckets = quantize::fit_product(
        dim,
        params.nbits,
        s,
        |i, d| sample[i * dim + d] - centroids[sample_assigned[i] as usize * dim + d],
        &mut |stage, done, total| progress(stage, done, total),
    )?;
    // R-INDEX-18: the far threshold from the same norms, the sample rows standing for the
    // collection's tokens they were read from.
    let rows: Vec<usize> = (0..s).collect();
    let far = far::threshold(&sample, dim, &rows, &sample_assigned, &centroids, progress)?;
    drop((sample, sample_assigned, rows));
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
    Ok(codec)
}

/// Reads the f32 rows starting at byte `start` of the spill file into `out`, in positioned reads
/// of `piece.len()` bytes, reporting `("read", bytes done, bytes)` between them.
fn read_rows(
    file: &File,
    path: &Path,
    start: usize,
    out: &mut [f32],
    piece: &mut [u8],
    progress: &mut Progress,
) -> Result<()> {
    let total = out.len().saturating_mul(4);
    let per = (piece.len() / 4).max(1);
    let (mut done, mut next) = (0usize, READ_REPORT);
    progress("read", 0, total as u64)?;
    for part in out.chunks_mut(per) {
        let bytes = &mut piece[..part.len() * 4];
        read_at(file, bytes, (start + done) as u64).map_err(io_error(path))?;
        decode_f32(bytes, part);
        done += bytes.len();
        if done >= next || done == total {
            progress("read", done as u64, total as u64)?;
            next = done.saturating_add(READ_REPORT);
        }
    }
    Ok(())
}

impl Drop for Spill {
    fn drop(&mut self) {
        // Best effort, as `Uncommitted`: a file left behind is one no manifest names. Only a
        // spill that cleared the folder under its lock removes anything.
        drop(self.file.take());
        if self.owned {
            let _ = std::fs::remove_file(self.dir.join(SPILL_NAME));
            let _ = std::fs::remove_file(self.dir.join(LOCK));
        }
        drop(self.lock.take());
        if self.owned && self.created {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

#[cfg(test)]
#[path = "../unit/stream.rs"]
mod tests;
