//! Target `index`: one input is a flags byte and the bytes of one index file (R-INDEX-1). The
//! file's own kind field picks its reader (manifest, codec, segment, tombstones; any other value:
//! all four), after the container walk with the layout its header claims; so that one corpus of
//! real files drives every reader, as a corrupted index would.
//!
//! Flags: bit 0 recomputes every section CRC and the header CRC before reading (else mutations
//! rarely pass the CRC checks and the checks behind them would go unfuzzed); bit 1 gives the
//! tombstones reader one document fewer than the file's field says.
//!
//! Laws checked on every input: no reader panics; each allocates at most `alloc::bound` of the
//! file's length (the codec its decoding table besides); what a reader accepts is consistent (a
//! container's sections lie in order inside the file; a segment the full check accepts, the
//! writer's partial check (R-INDEX-16) accepts with the same counts and ids; tombstones strictly
//! increase below the document count).

use std::sync::OnceLock;

use _native::index::format::codec::Codec;
use _native::index::format::container::{self, Kind};
use _native::index::format::segment::{self, SegmentIds};
use _native::index::format::{manifest, tombstones};

use crate::alloc;

/// The codecs segments are checked against: those of the seed indexes, format versions 1 to 4
/// (written by `fuzz/seeds.py`).
const CODECS: [&[u8]; 8] = [
    include_bytes!("../fixtures/codec-a-v1"),
    include_bytes!("../fixtures/codec-a-v2"),
    include_bytes!("../fixtures/codec-a-v3"),
    include_bytes!("../fixtures/codec-a-v4"),
    include_bytes!("../fixtures/codec-b-v1"),
    include_bytes!("../fixtures/codec-b-v2"),
    include_bytes!("../fixtures/codec-b-v3"),
    include_bytes!("../fixtures/codec-b-v4"),
];

fn codecs() -> &'static [Codec] {
    static CELL: OnceLock<Vec<Codec>> = OnceLock::new();
    CELL.get_or_init(|| {
        CODECS
            .iter()
            .map(
                |b| match Codec::from_bytes(Aligned::new(b).bytes(), "fixture", None) {
                    Ok(c) => c,
                    Err(e) => panic!("fixture codec rejected: {e}"),
                },
            )
            .collect()
    })
}

/// A copy of a file at an 8-byte aligned address, as a file mapped at a page boundary (the
/// readers view sections as `u64` slices; an input at an odd address would only test the
/// alignment check).
pub struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    pub fn new(b: &[u8]) -> Aligned {
        let mut a = Aligned {
            words: vec![0u64; b.len().div_ceil(8)],
            len: b.len(),
        };
        a.bytes_mut().copy_from_slice(b);
        a
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the words' buffer holds at least `len` initialised bytes; u8 has no alignment
        // or validity requirement.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as `bytes`, borrowed mutably through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Recomputes the CRC of each section the header's table points at (inside the file), then the
/// header CRC (R-INDEX-1), for the counts of fields and sections the header claims.
pub fn fix_crcs(b: &mut [u8]) {
    let (Some(nf), Some(ns)) = (u32_at(b, 16), u32_at(b, 20)) else {
        return;
    };
    let table = 24 + 8 * nf as usize;
    let hend = table + 24 * ns as usize;
    if hend.checked_add(4).is_none_or(|e| e > b.len()) {
        return;
    }
    for i in 0..ns as usize {
        let at = table + 24 * i;
        let (Some(off), Some(len)) = (u64_at(b, at), u64_at(b, at + 8)) else {
            return;
        };
        let range = usize::try_from(off)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(o, l)| Some(o..o.checked_add(l)?));
        if let Some(crc) = range.and_then(|r| b.get(r)).map(crc32fast::hash) {
            b[at + 16..at + 20].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let crc = crc32fast::hash(&b[..hend]);
    b[hend..hend + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Runs `read` under the allocation count and checks the bound (`extra`: bytes its accepted
/// result may hold besides, as a decoding table).
fn bounded<T>(what: &str, len: usize, read: impl FnOnce() -> T, extra: impl Fn(&T) -> usize) -> T {
    let (out, peak) = alloc::measure(read);
    let limit = alloc::bound(len) + extra(&out);
    assert!(
        peak <= limit,
        "{what}: {peak} bytes allocated for a {len}-byte file (bound {limit})"
    );
    out
}

/// The harness of target `index` (module docs).
pub fn run(data: &[u8]) {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let codecs = codecs();
    let mut bytes = Aligned::new(file);
    if flags & 1 != 0 {
        fix_crcs(bytes.bytes_mut());
    }
    let b = bytes.bytes();
    let len = b.len();
    let kind = u32_at(b, 8).unwrap_or(0);

    // The container walk alone, with the layout the header claims (R-INDEX-1, R-INDEX-2).
    let claimed = match kind {
        1 => Some(Kind::Manifest),
        2 => Some(Kind::Codec),
        3 => Some(Kind::Segment),
        4 => Some(Kind::Tombstones),
        _ => None,
    };
    if let (Some(k), Some(version), Some(nf), Some(ns)) =
        (claimed, u32_at(b, 12), u32_at(b, 16), u32_at(b, 20))
    {
        let layouts = [(version, nf as usize, ns as usize)];
        let parsed = bounded(
            "container",
            len,
            || {
                container::parse_versions(b, "fuzz", k, &layouts, &|i| i % 2 == 0, &mut |r| {
                    assert!(r.end <= len, "hashed range {r:?} past the end {len}");
                    Ok(())
                })
            },
            |_| 0,
        );
        if let Ok(p) = parsed {
            assert_eq!((p.version, p.fields.len()), (version, nf as usize));
            let base = b.as_ptr() as usize;
            let mut end = 0;
            for s in &p.sections {
                let at = s.as_ptr() as usize - base;
                assert!(
                    at >= end && at.is_multiple_of(64) && at + s.len() <= len,
                    "section at {at}"
                );
                end = at + s.len();
            }
            assert!(
                p.sections.is_empty() || end == len,
                "sections end at {end} of {len}"
            );
        }
    }

    if matches!(kind, 1) || claimed.is_none() {
        let m = bounded("manifest", len, || manifest::from_bytes(b), |_| 0);
        if let Ok((fields, entries, n)) = m {
            assert_eq!(n, len as u64);
            assert_eq!(fields[1], entries.len() as u64);
            assert_eq!(entries[0].role, manifest::ROLE_CODEC);
        }
    }
    if matches!(kind, 2) || claimed.is_none() {
        let table = |c: &Result<Codec, _>| c.as_ref().map_or(0, |c| 4 * c.table.capacity());
        let c = bounded("codec", len, || Codec::from_bytes(b, "codec", None), table);
        if let Ok(c) = c {
            assert_eq!(c.centroids.len(), c.k * c.dim);
            assert_eq!(c.buckets.weights.len(), c.dim << c.buckets.nbits);
        }
    }
    if matches!(kind, 3) || claimed.is_none() {
        // The codec the segment names (field 7, its header CRC), else one of its version.
        let crc = u64_at(b, 24 + 8 * 7);
        let version = u32_at(b, 12).unwrap_or(0);
        let codec = codecs
            .iter()
            .find(|c| Some(u64::from(c.header_crc)) == crc)
            .or_else(|| codecs.iter().find(|c| c.version() == version))
            .unwrap_or(&codecs[0]);
        let mut hashed = 0u64;
        let ids = bounded(
            "segment ids",
            len,
            || SegmentIds::from_bytes(b, "segment", None, codec, &mut hashed),
            |_| 0,
        );
        assert!(hashed <= len as u64);
        let full = bounded(
            "segment",
            len,
            || segment::check(b, "segment", None, codec, &mut |_| Ok(())),
            |_| 0,
        );
        if let Ok(s) = full {
            // R-INDEX-16: what the full check accepts, the writer's partial check accepts alike.
            let ids = match ids {
                Ok(ids) => ids,
                Err(e) => panic!("the full check accepts a segment SegmentIds rejects: {e}"),
            };
            assert_eq!((ids.n_docs, ids.n_tokens), (s.n_docs, s.n_tokens));
            assert_eq!(ids.ids, s.ids);
            assert_eq!(s.ids.len(), s.n_docs);
            assert!(s.ranges.iter().all(|r| r.end <= len));
        }
    }
    if matches!(kind, 4) || claimed.is_none() {
        let field = u64_at(b, 24).unwrap_or(0);
        let n_docs = usize::try_from(field)
            .unwrap_or(usize::MAX)
            .saturating_sub(usize::from(flags & 2 != 0));
        let t = bounded(
            "tombstones",
            len,
            || tombstones::from_bytes(b, "tombstones", None, n_docs),
            |_| 0,
        );
        if let Ok(t) = t {
            assert!(t.windows(2).all(|w| w[0] < w[1]));
            assert!(t.iter().all(|&x| x < n_docs as u64));
        }
    }
}
