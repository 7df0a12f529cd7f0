//! What one shard of a sharded index needs (spec/index.md R-INDEX-20, spec/distributed.md): an
//! index created with a given codec (copied byte for byte from another index or a codec file),
//! the codec of a whole collection trained from its sample rows alone, and the search of
//! R-ISEARCH-1 cut in three stages so that a coordinator can keep the global budgets over every
//! shard: the probed candidates with their probe scores (steps 1-2), the code scores of the
//! candidates it kept (step 3), then the exact scores of the documents it picked (step 4).

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::Index;
use super::build::{CODEC_NAME, Params, SEGMENT_NAME, assign_all, assigner, write_segment};
use super::commit::{Uncommitted, clear_leftovers, lock, prepare_dir};
use super::format::container::sync_dir;
use super::format::manifest::ROLE_CODEC;
use super::format::{Codec, Entry, Ids, MANIFEST, manifest};
use super::kmeans;
use super::progress::Progress;
use super::rng;
use super::search;
use crate::kernel::Isa;
use crate::packed::Packed;
use crate::queries::{self, Precision, Prepared};
use crate::search::{Hit, best_k};
use crate::{Error, Result};

fn format_error(file: &Path, check: String) -> Error {
    Error::Format {
        file: file.display().to_string(),
        check,
    }
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// R-INDEX-20: the folder and manifest entry of the codec at `source`: an index folder (its
/// committed codec) or a codec file (kind 2, R-INDEX-4), whose entry is made from its own length
/// and header CRC. The file is checked when it is read (`Codec::read`).
pub fn locate_codec(source: &Path) -> Result<(PathBuf, Entry)> {
    if source.is_dir() {
        let (_, entries, _) = manifest::read(source)?;
        let entry = entries
            .into_iter()
            .next()
            .ok_or_else(|| format_error(&source.join(MANIFEST), "names no codec".into()))?;
        return Ok((source.to_path_buf(), entry));
    }
    let bytes = std::fs::read(source).map_err(|e| Error::Param {
        rule: "R-INDEX-20",
        what: format!("codec {}: {e}", source.display()),
    })?;
    // The header CRC follows the fields and the section table (R-INDEX-1).
    let crc = le_u32(&bytes, 16)
        .zip(le_u32(&bytes, 20))
        .and_then(|(nf, ns)| {
            let at = 24usize
                .checked_add((nf as usize).checked_mul(8)?)?
                .checked_add((ns as usize).checked_mul(24)?)?;
            le_u32(&bytes, at)
        })
        .ok_or_else(|| format_error(source, "shorter than its header (R-INDEX-1)".into()))?;
    let name = source
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format_error(source, "not a file name".into()))?;
    let dir = source.parent().unwrap_or(Path::new(".")).to_path_buf();
    let entry = Entry {
        role: ROLE_CODEC,
        len: bytes.len() as u64,
        header_crc: crc,
        name: name.to_string(),
    };
    Ok((dir, entry))
}

/// Writes `bytes` as `dir/name` atomically (R-INDEX-6): `name.tmp`, fsync, rename, folder sync.
fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |e: std::io::Error| Error::Io {
        path: tmp.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name)).map_err(io)?;
    sync_dir(dir)
}

/// R-INDEX-20: builds the index of `docs` with `ids` into `dir` coded with the codec at `source`
/// (an index folder or a codec file): the codec file is copied byte for byte as `codec-1.lti`,
/// checked as R-INDEX-4 says, the documents assigned and coded by its rules (R-KMEANS-4,
/// R-KMEANS-6, R-QUANT-3..8) into one segment, and generation 1 committed (R-INDEX-6). A stopped
/// or failed build leaves `dir` as it was (R-INDEX-8).
pub fn build_with_codec(
    dir: &Path,
    isa: Isa,
    docs: &Packed,
    ids: &Ids,
    source: &Path,
    progress: &mut Progress,
) -> Result<()> {
    super::build::check_id_count(docs.len(), ids)?;
    let (source_dir, source_entry) = locate_codec(source)?;
    let source_codec = Codec::read(&source_dir, &source_entry)?;
    queries::check_same_dim(docs.dim, source_codec.dim)?;
    let bytes = std::fs::read(source_dir.join(&source_entry.name)).map_err(|e| Error::Io {
        path: source_dir.join(&source_entry.name).display().to_string(),
        reason: e.to_string(),
    })?;
    let created = prepare_dir(dir)?;
    let mut files = Uncommitted::new(dir, lock(dir)?);
    clear_leftovers(dir)?;
    files.remove_lock = true;
    files.remove_dir = created;
    files.add(CODEC_NAME);
    progress("write", 0, bytes.len() as u64)?;
    write_bytes(dir, CODEC_NAME, &bytes)?;
    let entry = Entry {
        name: CODEC_NAME.to_string(),
        ..source_entry
    };
    // The copy is what the new index uses: checked itself, against the source's header CRC.
    let codec = Codec::read(dir, &entry)?;
    drop((bytes, source_codec));
    progress("write", entry.len, entry.len)?;
    let rule = assigner(isa, &codec.centroids, codec.dim, codec.version(), progress)?;
    let assigned = assign_all(isa, docs.data, docs.dim, &rule, progress)?;
    drop(rule);
    files.add(SEGMENT_NAME);
    let segment = write_segment(
        dir,
        SEGMENT_NAME,
        docs,
        ids,
        &assigned,
        &codec,
        codec.header_crc,
        progress,
    )?;
    // The commit: no progress call from here on (R-INDEX-8).
    let fields = [
        1,
        2,
        codec.dim as u64,
        codec.buckets.nbits as u64,
        docs.len() as u64,
        assigned.len() as u64,
    ];
    manifest::write(dir, fields, &[entry, segment], &mut || files.committed())
}

/// R-INDEX-20: the k-means sizes `(K, S)` of a collection of `n_tokens` tokens (R-KMEANS-1) and
/// the token numbers of its sample, in sample order (R-KMEANS-2).
pub fn sample_of(
    n_tokens: usize,
    n_centroids: Option<usize>,
    sample: Option<usize>,
    seed: u64,
) -> Result<(usize, Vec<usize>)> {
    let (k, s) = kmeans::sizes(n_tokens, n_centroids, sample)?;
    Ok((k, rng::sample(n_tokens, s, seed)))
}

/// R-INDEX-20: trains the codec of a collection of `n_tokens` tokens from its sample rows
/// `rows` (`[S][dim]`, the tokens `sample_of` names, in that order) and writes it as the codec
/// file `dir/name`: byte for byte the codec `Index.create` trains on the whole collection with
/// the same parameters. Returns its entry.
pub fn train_codec(
    dir: &Path,
    name: &str,
    isa: Isa,
    rows: &Packed,
    n_tokens: usize,
    params: &Params,
    progress: &mut Progress,
) -> Result<Entry> {
    let dim = rows.dim;
    let (k, s) = kmeans::sizes(n_tokens, params.n_centroids, params.sample)?;
    let given = rows.data.len() / dim.max(1);
    if given != s {
        return Err(Error::Param {
            rule: "R-INDEX-20",
            what: format!("{given} sample rows for a sample of {s} tokens of {n_tokens}"),
        });
    }
    let codec =
        super::stream::codec_from_sample(isa, rows.data.to_vec(), dim, k, params, progress)?;
    codec.write(dir, name, &mut |done, total| progress("write", done, total))
}

/// One query's stage 1: its candidates, and its centroid scores when `keep` (for stage 2).
pub type Probed = (Vec<Hit>, Option<Vec<f32>>);

fn prepare_all(queries: &Packed) -> Result<Vec<Prepared>> {
    (0..queries.len())
        .into_par_iter()
        .map(|i| Prepared::new(queries.item(i), queries.dim, Precision::F32))
        .collect()
}

/// R-DIST-3: one list of positions per query, each below the index's size.
fn check_positions<'a>(
    index: &Index,
    queries: &Packed,
    lists: usize,
    mut positions: impl Iterator<Item = &'a usize>,
) -> Result<()> {
    if lists != queries.len() {
        return Err(Error::Param {
            rule: "R-DIST-3",
            what: format!("{lists} position lists for {} queries", queries.len()),
        });
    }
    let n = index.n_docs();
    if let Some(bad) = positions.find(|&&x| x >= n) {
        return Err(Error::Param {
            rule: "R-DIST-3",
            what: format!("position {bad} is not below n_docs {n}"),
        });
    }
    Ok(())
}

impl Index {
    /// Stage 1 of a sharded search (R-DIST-3), in parallel over `queries`: per query its
    /// candidates, best first, and its centroid scores `[K][pad]` for the leading queries whose
    /// scores fit in `keep_bytes` together (stage 2 takes them instead of computing them
    /// again). `p.k` and `p.rescore` are not used.
    pub fn shard_probe(
        &self,
        isa: Isa,
        queries: &Packed,
        p: &search::Params,
        keep_bytes: usize,
    ) -> Result<Vec<Probed>> {
        queries::check_same_dim(queries.dim, self.codec.dim)?;
        if self.n_docs() >= u32::MAX as usize {
            return Err(Error::Param {
                rule: "R-ISEARCH-8",
                what: format!(
                    "{} documents: search handles at most 2^32 - 1",
                    self.n_docs()
                ),
            });
        }
        let prepared = prepare_all(queries)?;
        let mut left = keep_bytes;
        let keep: Vec<bool> = prepared
            .iter()
            .map(|q| {
                let bytes = self.codec.k.saturating_mul(q.pad).saturating_mul(4);
                let fits = bytes <= left;
                left = if fits { left - bytes } else { 0 };
                fits
            })
            .collect();
        let parts = self.live_parts();
        let n_docs = self.n_docs();
        let (nprobe, candidates) = (p.nprobe, p.candidates);
        Ok(prepared
            .par_iter()
            .zip(keep.par_iter())
            .map_init(search::Scratch::default, |sc, (q, &keep)| {
                let mut s = Vec::new();
                search::centroid_scores(isa, &self.codec, q, &mut s);
                let found = search::probe_candidates(
                    &self.codec,
                    &parts,
                    n_docs,
                    q,
                    &s,
                    nprobe,
                    candidates,
                    sc,
                );
                (best_k(found, candidates), keep.then_some(s))
            })
            .collect())
    }

    /// Stage 2 of a sharded search (R-DIST-3), in parallel over `queries`: per query `i`, the
    /// `rescore` best of the live documents at `positions[i]` by code score, best first (ties:
    /// lower position), from `scores[i]` (the query's centroid scores kept by `shard_probe`)
    /// or, when it is `None`, the centroid scores computed again.
    pub fn shard_codes(
        &self,
        isa: Isa,
        queries: &Packed,
        positions: &[Vec<usize>],
        scores: &[Option<&[f32]>],
        rescore: usize,
    ) -> Result<Vec<Vec<Hit>>> {
        queries::check_same_dim(queries.dim, self.codec.dim)?;
        check_positions(self, queries, positions.len(), positions.iter().flatten())?;
        let prepared = prepare_all(queries)?;
        for (i, given) in scores.iter().enumerate() {
            let want = self.codec.k * prepared.get(i).map_or(0, |q| q.pad);
            if let Some(s) = given
                && (i >= prepared.len() || s.len() != want)
            {
                return Err(Error::Param {
                    rule: "R-DIST-3",
                    what: format!(
                        "query {i}: {} centroid scores, not K * pad = {want}",
                        s.len()
                    ),
                });
            }
        }
        let parts = self.live_parts();
        Ok(prepared
            .par_iter()
            .enumerate()
            .map_init(search::Scratch::default, |sc, (i, q)| {
                let mut own = Vec::new();
                let s: &[f32] = match scores.get(i).copied().flatten() {
                    Some(s) => s,
                    None => {
                        search::centroid_scores(isa, &self.codec, q, &mut own);
                        &own
                    }
                };
                let docs = self.live_once(&positions[i]);
                let found = search::code_scores(isa, &parts, q, s, docs.into_iter(), rescore, sc);
                best_k(found, rescore)
            })
            .collect())
    }

    /// Stage 3 of a sharded search (R-DIST-3): per query `i`, the `k` best of the live documents
    /// at `positions[i]` (every live document when it is `None`) by exact MaxSim over their
    /// decoded vectors (R-ISEARCH-1 step 4-5), best first, ties to the lower position.
    pub fn shard_rescore(
        &self,
        isa: Isa,
        queries: &Packed,
        positions: &[Option<Vec<usize>>],
        k: usize,
    ) -> Result<Vec<Vec<Hit>>> {
        queries::check_same_dim(queries.dim, self.codec.dim)?;
        let all = positions.iter().flatten().flatten();
        check_positions(self, queries, positions.len(), all)?;
        let prepared = prepare_all(queries)?;
        let parts = self.live_parts();
        Ok(prepared
            .par_iter()
            .zip(positions.par_iter())
            .map_init(search::Scratch::default, |sc, (q, list)| {
                let docs: Vec<usize> = match list {
                    Some(v) => self.live_once(v),
                    None => (0..self.n_docs())
                        .filter(|&d| !self.is_deleted(d))
                        .collect(),
                };
                search::exact_best(isa, &self.codec, &parts, q, docs.into_iter(), k, sc)
            })
            .collect())
    }

    /// The live documents of `positions`, each once, in the given order (R-ISEARCH-6).
    fn live_once(&self, positions: &[usize]) -> Vec<usize> {
        let mut seen = std::collections::HashSet::new();
        positions
            .iter()
            .copied()
            .filter(|&d| !self.is_deleted(d) && seen.insert(d))
            .collect()
    }
}
