//! Compaction with a new codec (R-INDEX-19): the caller gives the embeddings of the live
//! documents again (the index keeps codes, not embeddings); a codec is trained on them as
//! `build` trains one, they are coded into one segment, and the new codec and that segment are
//! committed alone, in one commit, the ids unchanged.

use std::path::Path;

use super::build::{self, Params};
use super::commit::{Uncommitted, lock, remove_unnamed};
use super::committed::Committed;
use super::format::{Ids, MANIFEST, manifest};
use super::kmeans;
use super::progress::Progress;
use super::quantize;
use crate::kernel::Isa;
use crate::packed::Packed;
use crate::{Error, Result};

/// The most k-means iterations (R-KMEANS-1).
const MAX_ITERS: u64 = 1000;

/// The training parameters of a refit; each `None` takes its default (R-INDEX-19): `nbits`,
/// `seed` and `iters` the current codec's, `n_centroids` and `sample` by R-KMEANS-1 for the
/// live documents' tokens.
#[derive(Clone, Debug, Default)]
pub struct Refit {
    pub nbits: Option<usize>,
    pub seed: Option<u64>,
    pub n_centroids: Option<usize>,
    pub sample: Option<usize>,
    pub iters: Option<usize>,
}

fn param(what: String) -> Error {
    Error::Param {
        rule: "R-INDEX-19",
        what,
    }
}

/// The ids of the live documents of `index`, in position order.
fn live_ids(index: &Committed) -> Ids {
    let mut dead = index.tombstones.iter().peekable();
    let mut pos = 0u64;
    let mut live = |n: usize| -> Vec<bool> {
        (0..n)
            .map(|_| {
                let deleted = dead.next_if_eq(&&pos).is_some();
                pos += 1;
                !deleted
            })
            .collect()
    };
    let (mut ints, mut strs) = (Vec::new(), Vec::new());
    for seg in &index.segments {
        let keep = live(seg.n_docs);
        match &seg.ids {
            Ids::Int(v) => ints.extend(v.iter().zip(&keep).filter(|p| *p.1).map(|p| *p.0)),
            Ids::Str(v) => strs.extend(v.iter().zip(&keep).filter(|p| *p.1).map(|p| p.0.clone())),
        }
    }
    if strs.is_empty() {
        Ids::Int(ints)
    } else {
        Ids::Str(strs)
    }
}

/// R-INDEX-19: trains a new codec on `docs`, the embeddings of the live documents of the index
/// at `dir` in position order, codes them into one segment and commits generation `g + 1`
/// naming `codec-<g+1>.lti` and `segment-<g+1>.lti` alone, with the live documents' ids; the
/// files of the previous commit are removed once it is visible. A wrong number of documents or
/// dimension is an error before any change. `progress` as `build::append`; a stopped or failed
/// refit leaves the index at its last commit (R-INDEX-8).
pub fn refit(
    dir: &Path,
    isa: Isa,
    docs: &Packed,
    params: &Refit,
    progress: &mut Progress,
) -> Result<()> {
    let mut files = Uncommitted::new(dir, lock(dir)?);
    progress("open", 0, 1)?;
    // R-INDEX-16: the committed ids and tombstones; the codes are not needed.
    let index = Committed::open(dir)?;
    progress("open", 1, 1)?;
    let codec = &index.codec;
    let n_live = index.n_docs.saturating_sub(index.tombstones.len());
    if n_live == 0 {
        return Err(param(
            "every document is deleted: a compacted index needs a live document".into(),
        ));
    }
    if docs.len() != n_live {
        return Err(param(format!(
            "{} documents given, the index has {n_live} live documents (their embeddings are \
             needed, in live_ids order)",
            docs.len()
        )));
    }
    if docs.dim != codec.dim {
        return Err(param(format!(
            "the documents have dim {}, the index {}",
            docs.dim, codec.dim
        )));
    }
    let iters = match params.iters {
        Some(i) => i as u64,
        None => codec.iters,
    };
    if iters > MAX_ITERS {
        return Err(Error::Param {
            rule: "R-KMEANS-1",
            what: format!("kmeans_iters must be in 0..={MAX_ITERS}, got {iters}"),
        });
    }
    let nbits = match params.nbits {
        Some(b) => quantize::check_nbits(b as i64)?,
        None => codec.buckets.nbits,
    };
    let train = Params {
        nbits,
        seed: params.seed.unwrap_or(codec.seed),
        n_centroids: params.n_centroids,
        sample: params.sample,
        iters: iters as usize,
        metadata: codec.metadata.clone(),
    };
    let n = docs.data.len() / docs.dim;
    let (k, s) = kmeans::sizes(n, train.n_centroids, train.sample)?;
    let generation = index.generation + 1;
    let codec_name = format!("codec-{generation}.lti");
    let segment_name = format!("segment-{generation}.lti");
    // R-INDEX-7: a committed file is never rewritten.
    if let Some(e) = index
        .entries
        .iter()
        .find(|e| e.name == codec_name || e.name == segment_name)
    {
        return Err(Error::Format {
            file: MANIFEST.into(),
            check: format!("generation {} already names {}", index.generation, e.name),
        });
    }
    let ids = live_ids(&index);
    let (new_codec, assigned) = build::train(isa, docs, &train, k, s, progress)?;
    files.add(&codec_name);
    let codec_entry = new_codec.write(dir, &codec_name, &mut |done, total| {
        progress("write", done, total)
    })?;
    files.add(&segment_name);
    let segment_entry = build::write_segment(
        dir,
        &segment_name,
        docs,
        &ids,
        &assigned,
        &new_codec,
        codec_entry.header_crc,
        progress,
    )?;
    // The commit: no progress call from here on (R-INDEX-8).
    let fields = [
        generation,
        2,
        docs.dim as u64,
        nbits as u64,
        docs.len() as u64,
        n as u64,
    ];
    let entries = [codec_entry, segment_entry];
    manifest::write(dir, fields, &entries, &mut || files.committed())?;
    let kept: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    remove_unnamed(dir, &index.entries, &kept);
    Ok(())
}
