//! Compaction (R-INDEX-12): the live documents of every segment merged into one segment, their
//! codes copied unchanged (the codec stays), the deleted documents dropped, in one commit.

use std::path::Path;

use super::Index;
use super::commit::{Uncommitted, lock, remove_unnamed};
use super::format::manifest::{self, ROLE_CODEC};
use super::format::{Ids, MANIFEST, SegmentParts};
use super::layout::inverted_lists;
use super::progress::Progress;
use crate::{Error, Result};

/// Merges the live documents of the index at `dir` into one segment and commits it with the
/// codec alone (R-INDEX-12); returns the number of documents dropped. `progress` as
/// `build::append`; a stopped or failed compaction leaves the index at its last commit.
pub fn compact(dir: &Path, progress: &mut Progress) -> Result<usize> {
    let mut files = Uncommitted::new(dir, lock(dir)?);
    progress("open", 0, 1)?;
    let index = Index::open_with(dir, &mut |done, total| progress("open", done, total))?;
    if index.n_live() == 0 {
        return Err(Error::Param {
            rule: "R-INDEX-12",
            what: "every document is deleted: a compacted index needs a live document".into(),
        });
    }
    let codec = &index.codec;
    let (dim, cb) = (codec.dim, index.segments[0].code_bytes);
    let mut doc_offsets = vec![0u64];
    let (mut codes, mut residuals) = (Vec::new(), Vec::new());
    // R-INDEX-18: each live document's far count, copied (a version 2 codec's segments).
    let mut far: Option<Vec<u32>> = codec.far.map(|_| Vec::new());
    let mut int_ids = Vec::new();
    let mut str_ids = Vec::new();
    let mut bounds: Vec<f32> = (0..dim)
        .flat_map(|_| [f32::INFINITY, f32::NEG_INFINITY])
        .collect();
    let mut pos = 0usize;
    let n = index.n_docs() as u64;
    progress("merge", 0, n)?;
    for seg in &index.segments {
        let mut any = false;
        for d in 0..seg.n_docs {
            let live = !index.is_deleted(pos);
            pos += 1;
            if !live {
                continue;
            }
            any = true;
            let range = seg.doc(d);
            residuals.extend_from_slice(&seg.residuals()[range.start * cb..range.end * cb]);
            codes.extend_from_slice(&seg.codes()[range]);
            doc_offsets.push(codes.len() as u64);
            if let (Some(out), Some(counts)) = (far.as_mut(), seg.far_counts()) {
                out.push(counts[d]);
            }
            match &seg.ids {
                Ids::Int(v) => int_ids.push(v[d]),
                Ids::Str(v) => str_ids.push(v[d].clone()),
            }
        }
        // The merged segment's bounds cover its tokens' residuals: those of the segments they
        // come from (R-QUANT-5, R-INDEX-12).
        if any {
            for (b, s) in bounds.chunks_exact_mut(2).zip(seg.bounds().chunks_exact(2)) {
                b[0] = b[0].min(s[0]);
                b[1] = b[1].max(s[1]);
            }
        }
        progress("merge", pos as u64, n)?;
    }
    let ids = if str_ids.is_empty() {
        Ids::Int(int_ids)
    } else {
        Ids::Str(str_ids)
    };
    let (ivf_offsets, ivf_docs) = inverted_lists(&doc_offsets, &codes, codec.k, progress)?;
    let generation = index.generation + 1;
    let name = format!("segment-{generation}.lti");
    if index.entries.iter().any(|e| e.name == name) {
        return Err(Error::Format {
            file: MANIFEST.into(),
            check: format!("generation {} already names {name}", index.generation),
        });
    }
    files.add(&name);
    let entry = SegmentParts {
        dim,
        nbits: codec.buckets.nbits,
        k: codec.k,
        codec_crc: codec.header_crc,
        doc_offsets: &doc_offsets,
        codes: &codes,
        residuals: &residuals,
        ivf_offsets: &ivf_offsets,
        ivf_docs: &ivf_docs,
        ids: &ids,
        bounds: &bounds,
        far: far.as_deref(),
        version: codec.version(),
    }
    .write(dir, &name, &mut |done, total| {
        progress("write", done, total)
    })?;
    // The commit: no progress call from here on (R-INDEX-8).
    let mut entries: Vec<_> = index
        .entries
        .iter()
        .filter(|e| e.role == ROLE_CODEC)
        .cloned()
        .collect();
    entries.push(entry);
    let fields = [
        generation,
        entries.len() as u64,
        dim as u64,
        codec.buckets.nbits as u64,
        (doc_offsets.len() - 1) as u64,
        codes.len() as u64,
    ];
    manifest::write(dir, fields, &entries, &mut || files.committed())?;
    let kept: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    remove_unnamed(dir, &index.entries, &kept);
    Ok(index.tombstones().len())
}
