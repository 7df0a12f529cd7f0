//! What one shard of a sharded index needs (spec/index.md R-INDEX-20, spec/distributed.md): an
//! index created with a given codec (copied byte for byte from another index or a codec file),
//! the codec of a whole collection trained from its sample rows alone, and the search of
//! R-ISEARCH-1 cut in two stages so that a coordinator can keep the global budgets over every
//! shard: the probed candidates with their probe and code scores (steps 1-3), then the exact
//! scores of the documents it picked (step 4).

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
use super::search::{self, decode_doc};
use crate::kernel::{self, DocRows, Isa};
use crate::maxsim::score_one;
use crate::packed::Packed;
use crate::queries::{self, Precision, Prepared};
use crate::search::{Hit, best_k, rank_order};
use crate::{Error, Result};

/// A candidate of the first stage: (probe score `p(d)`, code score `a(d)`, global position).
pub type Candidate = (f32, f32, usize);

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

/// The query's centroid scores `[K][pad]` (R-ISEARCH-1 step 1).
fn centroid_scores(isa: Isa, codec: &Codec, q: &Prepared) -> Vec<f32> {
    let mut s = vec![0.0f32; codec.k * q.pad];
    kernel::row_scores(isa, &q.qt, q.pad, codec.dim, &codec.centroids, &mut s);
    s
}

/// Step 2's probes: each token's `nprobe` best centroids (higher score first, ties to the lower
/// id) and its floor, the next one's score (`-inf` when every centroid is probed).
fn probes_of(s: &[f32], pad: usize, len: usize, k: usize, nprobe: usize) -> Vec<(Vec<u32>, f32)> {
    let order = |a: &(f32, u32), b: &(f32, u32)| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.1.cmp(&b.1))
    };
    (0..len)
        .map(|i| {
            let mut row: Vec<(f32, u32)> = (0..k).map(|c| (s[c * pad + i], c as u32)).collect();
            let w = (nprobe + 1).min(k);
            if w < k {
                row.select_nth_unstable_by(w, order);
                row.truncate(w);
            }
            row.sort_unstable_by(order);
            let floor = row.get(nprobe).map_or(f32::NEG_INFINITY, |e| e.0);
            (row.iter().take(nprobe).map(|e| e.1).collect(), floor)
        })
        .collect()
}

/// Stage 1 of a sharded search for one query (R-DIST-3): R-ISEARCH-1 steps 1-3 over the live
/// documents of `index` with the coordinator's `nprobe` and `candidates`: the `candidates` best
/// by probe score (ties: lower position), each with its code score.
fn candidates_one(
    isa: Isa,
    index: &Index,
    q: &Prepared,
    p: &search::Params,
    row_of: &mut Vec<u32>,
) -> Vec<Candidate> {
    let codec = &index.codec;
    let (pad, len) = (q.pad, q.len);
    let s = centroid_scores(isa, codec, q);
    let probes = probes_of(&s, pad, len, codec.k, p.nprobe);
    let floor: Vec<f32> = probes.iter().map(|x| x.1).collect();
    // Per position: its candidate row, `u32::MAX` when not (yet) a candidate; the entries set
    // here are reset before returning, so the buffer is reused across queries.
    row_of.resize(index.n_docs(), u32::MAX);
    let mut found: Vec<usize> = Vec::new();
    let mut rows: Vec<f32> = Vec::new();
    for (seg, &start) in index.segments.iter().zip(&index.starts) {
        let (ivf_offsets, ivf_docs) = (seg.ivf_offsets(), seg.ivf_docs());
        for (i, (cells, _)) in probes.iter().enumerate() {
            for &c in cells {
                let c = c as usize;
                let x = s[c * pad + i];
                for &d in &ivf_docs[ivf_offsets[c] as usize..ivf_offsets[c + 1] as usize] {
                    let pos = start + d as usize;
                    if index.is_deleted(pos) {
                        continue; // R-ISEARCH-6
                    }
                    let r = match row_of[pos] {
                        u32::MAX => {
                            // Rows number at most n_docs, bounded by u32::MAX - 1 (`shard_candidates`).
                            row_of[pos] = found.len() as u32;
                            found.push(pos);
                            rows.extend_from_slice(&floor);
                            found.len() - 1
                        }
                        r => r as usize,
                    };
                    let v = &mut rows[r * len + i];
                    *v = if x > *v { x } else { *v };
                }
            }
        }
    }
    for &d in &found {
        row_of[d] = u32::MAX;
    }
    let mut probed: Vec<Hit> = found
        .iter()
        .enumerate()
        .map(|(r, &d)| {
            let row = &rows[r * len..(r + 1) * len];
            (row.iter().fold(0.0f64, |a, &x| a + f64::from(x)) as f32, d)
        })
        .collect();
    if probed.len() > p.candidates {
        probed.select_nth_unstable_by(p.candidates, rank_order);
        probed.truncate(p.candidates);
    }
    let mut m = vec![f32::NEG_INFINITY; pad];
    probed
        .into_iter()
        .map(|(score, d)| {
            let (si, local) = index.locate(d);
            let seg = &index.segments[si];
            m.fill(f32::NEG_INFINITY);
            kernel::max_rows(isa, &s, pad, &seg.codes()[seg.doc(local)], &mut m);
            let a = m[..len].iter().fold(0.0f64, |t, &x| t + f64::from(x)) as f32;
            (score, a, d)
        })
        .collect()
}

impl Index {
    /// Stage 1 of a sharded search (R-DIST-3), in parallel over `queries`: per query its
    /// candidates, in no particular order. `p.k` and `p.rescore` are not used.
    pub fn shard_candidates(
        &self,
        isa: Isa,
        queries: &Packed,
        p: &search::Params,
    ) -> Result<Vec<Vec<Candidate>>> {
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
        let prepared: Vec<Prepared> = (0..queries.len())
            .into_par_iter()
            .map(|i| Prepared::new(queries.item(i), queries.dim, Precision::F32))
            .collect::<Result<_>>()?;
        Ok(prepared
            .par_iter()
            .map_init(Vec::new, |row_of, q| {
                candidates_one(isa, self, q, p, row_of)
            })
            .collect())
    }

    /// Stage 2 of a sharded search (R-DIST-3): per query `i`, the `k` best of the live documents
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
        if positions.len() != queries.len() {
            return Err(Error::Param {
                rule: "R-DIST-3",
                what: format!(
                    "{} position lists for {} queries",
                    positions.len(),
                    queries.len()
                ),
            });
        }
        let n = self.n_docs();
        if let Some(bad) = positions.iter().flatten().flatten().find(|&&x| x >= n) {
            return Err(Error::Param {
                rule: "R-DIST-3",
                what: format!("position {bad} is not below n_docs {n}"),
            });
        }
        let prepared: Vec<Prepared> = (0..queries.len())
            .into_par_iter()
            .map(|i| Prepared::new(queries.item(i), queries.dim, Precision::F32))
            .collect::<Result<_>>()?;
        Ok(prepared
            .par_iter()
            .zip(positions.par_iter())
            .map(|(q, list)| {
                let all: Vec<usize>;
                let list: &[usize] = match list {
                    Some(v) => v,
                    None => {
                        all = (0..n).collect();
                        &all
                    }
                };
                let mut decoded = Vec::new();
                let mut maxima = vec![0.0f32; q.pad];
                let mut hits: Vec<Hit> = Vec::with_capacity(list.len());
                let mut seen = std::collections::HashSet::new();
                for &d in list {
                    if self.is_deleted(d) || !seen.insert(d) {
                        continue; // R-ISEARCH-6
                    }
                    let (si, local) = self.locate(d);
                    let t = decode_doc(&self.codec, &self.segments[si], local, &mut decoded);
                    let score = score_one(isa, q, DocRows::F32(&decoded), t, &mut maxima);
                    hits.push((score, d));
                }
                best_k(hits, k)
            })
            .collect())
    }
}
