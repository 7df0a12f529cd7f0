//! The committed state a writer reads under its lock (R-INDEX-16): the manifest, the codec, the
//! tombstones and each segment's counts and ids, without reading the segments' other sections,
//! so that an addition or a deletion costs what it writes, not the size of the index.

use std::path::{Path, PathBuf};

use super::find_live;
use super::format::manifest::{self, ROLE_SEGMENT, ROLE_TOMBSTONES};
use super::format::segment::SegmentIds;
use super::format::{Codec, Entry, Ids, MANIFEST};
use crate::{Error, Result};

/// The last commit of an index, as a writer needs it.
pub struct Committed {
    pub dir: PathBuf,
    pub generation: u64,
    pub codec: Codec,
    pub entries: Vec<Entry>,
    /// Counts and ids of each segment, in position order.
    pub segments: Vec<SegmentIds>,
    pub n_docs: usize,
    pub n_tokens: usize,
    /// The deleted global positions, increasing (R-INDEX-9).
    pub tombstones: Vec<u64>,
    deleted: Vec<bool>,
    /// Bytes whose CRC was computed, the segments' (R-INDEX-16: their ids sections alone).
    pub segment_bytes_hashed: u64,
}

impl Committed {
    /// Reads the commit at `dir` (under the writer's lock, so it cannot change meanwhile).
    pub fn open(dir: &Path) -> Result<Committed> {
        let (fields, entries, _) = manifest::read(dir)?;
        let codec = Codec::read(dir, &entries[0])?;
        let mut hashed = 0u64;
        let segments = entries
            .iter()
            .filter(|e| e.role == ROLE_SEGMENT)
            .map(|e| SegmentIds::open(dir, e, &codec, &mut hashed))
            .collect::<Result<Vec<_>>>()?;
        let n_docs = segments
            .iter()
            .fold(0usize, |t, s| t.saturating_add(s.n_docs));
        let n_tokens = segments
            .iter()
            .fold(0usize, |t, s| t.saturating_add(s.n_tokens));
        let want = [
            codec.dim as u64,
            codec.buckets.nbits as u64,
            n_docs as u64,
            n_tokens as u64,
        ];
        if fields[2..] != want {
            return Err(Error::Format {
                file: MANIFEST.into(),
                check: "dim, nbits, n_docs or n_tokens differ from its files".into(),
            });
        }
        let tombstones = match entries.iter().find(|e| e.role == ROLE_TOMBSTONES) {
            Some(e) => super::format::tombstones::read(dir, e, n_docs)?,
            None => Vec::new(),
        };
        let mut deleted = vec![false; n_docs];
        for &t in &tombstones {
            if let Some(d) = deleted.get_mut(t as usize) {
                *d = true;
            }
        }
        Ok(Committed {
            dir: dir.to_path_buf(),
            generation: fields[0],
            codec,
            entries,
            segments,
            n_docs,
            n_tokens,
            tombstones,
            deleted,
            segment_bytes_hashed: hashed,
        })
    }

    /// As `Index::find` (R-INDEX-10, R-INDEX-5).
    pub fn find(&self, ids: &Ids) -> Result<Vec<Option<usize>>> {
        find_live(self.segments.iter().map(|s| &s.ids), &self.deleted, ids)
    }
}
