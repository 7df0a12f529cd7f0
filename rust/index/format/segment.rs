//! A segment (R-INDEX-5): one batch of documents coded with the codec, document-major, with its
//! inverted lists, external ids and residual bounds; memory-mapped and checked on open.

use std::ops::Range;
use std::path::Path;

use memmap2::Mmap;

use super::codec::Codec;
use super::container::{
    self, Kind, Plain, Tick, VERSION, VERSION_ANISO, VERSION_FAR, VERSION_PRODUCT, bytes_of, view,
};
use super::ids::Ids;
use super::manifest::{Entry, ROLE_SEGMENT};
use super::{fail, usize_of};
use crate::Result;
use crate::index::quantize;

/// The contents of a segment being written (R-INDEX-5).
pub struct SegmentParts<'a> {
    pub dim: usize,
    pub nbits: usize,
    pub k: usize,
    pub codec_crc: u32,
    pub doc_offsets: &'a [u64],
    pub codes: &'a [u16],
    pub residuals: &'a [u8],
    pub ivf_offsets: &'a [u64],
    pub ivf_docs: &'a [u32],
    pub ids: &'a Ids,
    pub bounds: &'a [f32],
    /// R-INDEX-18: far tokens per document `[n_docs]`, for a codec with a far threshold (format
    /// versions 2 and 3); `None` for a version 1 codec.
    pub far: Option<&'a [u32]>,
    /// The format version, its codec's (`Codec::version`).
    pub version: u32,
}

impl SegmentParts<'_> {
    /// Writes the segment file (`tick`: see `container::write_temp`); returns its manifest entry.
    pub fn write(&self, dir: &Path, name: &str, tick: &mut Tick) -> Result<Entry> {
        let n_docs = self.doc_offsets.len() - 1;
        let (id_kind, id_index, id_bytes) = self.ids.sections();
        let mut fields = vec![
            self.dim as u64,
            self.nbits as u64,
            self.k as u64,
            n_docs as u64,
            self.codes.len() as u64,
            self.ivf_docs.len() as u64,
            id_kind,
            u64::from(self.codec_crc),
        ];
        let mut sections: Vec<&[u8]> = vec![
            bytes_of(self.doc_offsets),
            bytes_of(self.codes),
            self.residuals,
            bytes_of(self.ivf_offsets),
            bytes_of(self.ivf_docs),
            id_index.as_slice(),
            id_bytes.as_slice(),
            bytes_of(self.bounds),
        ];
        // R-INDEX-5, R-INDEX-18: versions 2 to 4 add the field n_far and the far counts.
        if let Some(far) = self.far {
            fields.push(far.iter().map(|&c| u64::from(c)).sum());
            sections.push(bytes_of(far));
        }
        let version = self.version;
        if (version == VERSION) != self.far.is_none() {
            return Err(crate::Error::Format {
                file: name.into(),
                check: format!(
                    "a version {version} segment written with far counts {}",
                    self.far.is_some()
                ),
            });
        }
        let (len, header_crc) = container::write_atomic_version(
            dir,
            name,
            Kind::Segment,
            version,
            &fields,
            &sections,
            tick,
        )?;
        Ok(Entry {
            role: ROLE_SEGMENT,
            len,
            header_crc,
            name: name.to_string(),
        })
    }
}

/// A committed segment, memory-mapped, checked on open (R-INDEX-5).
pub struct Segment {
    map: Mmap,
    ranges: Vec<Range<usize>>,
    pub name: String,
    pub n_docs: usize,
    pub n_tokens: usize,
    pub code_bytes: usize,
    pub ids: Ids,
    /// R-INDEX-18: the far tokens of the segment (field `n_far`); `None` for format version 1.
    pub n_far: Option<u64>,
}

/// The format versions of a segment and their numbers of fields and sections (R-INDEX-5).
const LAYOUTS: [container::Layout; 4] = [
    (VERSION, 8, 8),
    (VERSION_FAR, 9, 9),
    (VERSION_PRODUCT, 9, 9),
    (VERSION_ANISO, 9, 9),
];

/// R-INDEX-18: a segment's format version is its codec's.
fn check_version(f: &str, version: u32, codec: &Codec) -> Result<()> {
    if version != codec.version() {
        return Err(fail(
            f,
            format!(
                "format version {version} differs from its codec's ({})",
                codec.version()
            ),
        ));
    }
    Ok(())
}

/// What a writer reads of a committed segment (R-INDEX-16): its counts and external ids.
pub struct SegmentIds {
    pub n_docs: usize,
    pub n_tokens: usize,
    pub ids: Ids,
}

impl SegmentIds {
    /// R-INDEX-16: checks the header of the segment of entry `e` (its CRC against the entry's,
    /// its fields against `codec`), the layout of its sections and the ids sections (CRCs and
    /// rules), and reads its ids; the other sections' bytes are not read. `hashed` counts the
    /// bytes whose CRC was computed.
    pub fn open(dir: &Path, e: &Entry, codec: &Codec, hashed: &mut u64) -> Result<SegmentIds> {
        let map = e.map(dir)?;
        SegmentIds::from_bytes(&map, &e.name, Some(e), codec, hashed)
    }

    /// As `open`, from the bytes of the segment file `f`; with `entry`, its header CRC must be
    /// the one the entry names (R-INDEX-3).
    pub fn from_bytes(
        bytes: &[u8],
        f: &str,
        entry: Option<&Entry>,
        codec: &Codec,
        hashed: &mut u64,
    ) -> Result<SegmentIds> {
        let p = container::parse_versions(
            bytes,
            f,
            Kind::Segment,
            &LAYOUTS,
            &|i| i == 5 || i == 6,
            &mut |r| {
                *hashed = hashed.saturating_add(r.len() as u64);
                Ok(())
            },
        )?;
        if let Some(e) = entry {
            e.check_crc(p.header_crc)?;
        }
        check_version(f, p.version, codec)?;
        let fv = &p.fields;
        let nbits = codec.buckets.nbits;
        if fv[0] != codec.dim as u64
            || fv[1] != nbits as u64
            || fv[2] != codec.k as u64
            || fv[7] != u64::from(codec.header_crc)
        {
            return Err(fail(
                f,
                "dim, nbits, K or codec CRC differ from the codec's".into(),
            ));
        }
        let n_docs = usize_of(fv[3], f, "n_docs")?;
        let n_tokens = usize_of(fv[4], f, "n_tokens")?;
        if n_docs == 0 || n_docs > u32::MAX as usize || n_tokens < n_docs {
            return Err(fail(
                f,
                format!("counts n_docs {n_docs} n_tokens {n_tokens}"),
            ));
        }
        let ids = Ids::read(f, fv[6], p.sections[5], p.sections[6], n_docs)?;
        Ok(SegmentIds {
            n_docs,
            n_tokens,
            ids,
        })
    }
}

impl Segment {
    fn slice<T: Plain>(&self, i: usize) -> &[T] {
        let b = &self.map[self.ranges[i].clone()];
        // SAFETY: checked on open: 64-byte aligned within a page-aligned map, whole items.
        let (head, items, tail) = unsafe { b.align_to::<T>() };
        debug_assert!(head.is_empty() && tail.is_empty());
        items
    }
    pub fn doc_offsets(&self) -> &[u64] {
        self.slice(0)
    }
    pub fn codes(&self) -> &[u16] {
        self.slice(1)
    }
    pub fn residuals(&self) -> &[u8] {
        self.slice(2)
    }
    pub fn ivf_offsets(&self) -> &[u64] {
        self.slice(3)
    }
    pub fn ivf_docs(&self) -> &[u32] {
        self.slice(4)
    }
    pub fn bounds(&self) -> &[f32] {
        self.slice(7)
    }
    /// Token range of document `d`.
    pub fn doc(&self, d: usize) -> Range<usize> {
        let o = self.doc_offsets();
        o[d] as usize..o[d + 1] as usize
    }

    /// Maps and checks a segment against its codec (R-INDEX-2, R-INDEX-5); `checked(bytes)` after
    /// each chunk of its sections has been hashed (its error stops the check and is returned).
    pub fn open(
        dir: &Path,
        e: &Entry,
        codec: &Codec,
        checked: &mut dyn FnMut(usize) -> Result<()>,
    ) -> Result<Segment> {
        let map = e.map(dir)?;
        let c = check(&map, &e.name, Some(e), codec, &mut |r| {
            let bytes = r.len();
            release_range(&map, r);
            checked(bytes)
        })?;
        release_pages(&map);
        Ok(Segment {
            map,
            ranges: c.ranges,
            name: e.name.clone(),
            n_docs: c.n_docs,
            n_tokens: c.n_tokens,
            code_bytes: c.code_bytes,
            ids: c.ids,
            n_far: c.n_far,
        })
    }

    /// R-INDEX-18: the far tokens of each document `[n_docs]`, `None` for format version 1.
    pub fn far_counts(&self) -> Option<&[u32]> {
        self.n_far.map(|_| self.slice(8))
    }
}

/// What the checks of a segment's bytes found (R-INDEX-5): the byte range of each section
/// within the file, its counts and its external ids.
pub struct Checked {
    pub ranges: Vec<Range<usize>>,
    pub n_docs: usize,
    pub n_tokens: usize,
    pub code_bytes: usize,
    pub ids: Ids,
    pub n_far: Option<u64>,
}

/// Checks the bytes of the segment file `f` against its codec (R-INDEX-2, R-INDEX-5); with
/// `entry`, its header CRC must be the one the entry names (R-INDEX-3). `checked(range)` runs
/// after each chunk of a section has been hashed (its error stops the check and is returned).
pub fn check(
    bytes: &[u8],
    f: &str,
    entry: Option<&Entry>,
    codec: &Codec,
    checked: &mut dyn FnMut(Range<usize>) -> Result<()>,
) -> Result<Checked> {
    let p = container::parse_versions(bytes, f, Kind::Segment, &LAYOUTS, &|_| true, checked)?;
    if let Some(e) = entry {
        e.check_crc(p.header_crc)?;
    }
    check_version(f, p.version, codec)?;
    let fv = &p.fields;
    let nbits = codec.buckets.nbits;
    if fv[0] != codec.dim as u64
        || fv[1] != nbits as u64
        || fv[2] != codec.k as u64
        || fv[7] != u64::from(codec.header_crc)
    {
        return Err(fail(
            f,
            "dim, nbits, K or codec CRC differ from the codec's".into(),
        ));
    }
    let n_docs = usize_of(fv[3], f, "n_docs")?;
    let n_tokens = usize_of(fv[4], f, "n_tokens")?;
    let n_pairs = usize_of(fv[5], f, "n_pairs")?;
    if n_docs == 0 || n_docs > u32::MAX as usize || n_tokens < n_docs || n_pairs > n_tokens {
        return Err(fail(
            f,
            format!("counts n_docs {n_docs} n_tokens {n_tokens} n_pairs {n_pairs}"),
        ));
    }
    let (dim, k) = (codec.dim, codec.k);
    let cb = quantize::code_bytes(dim, nbits);
    let offsets = view::<u64>(p.sections[0], n_docs + 1, f, "document offsets")?;
    let codes = view::<u16>(p.sections[1], n_tokens, f, "centroid ids")?;
    let residuals = view::<u8>(
        p.sections[2],
        n_tokens.saturating_mul(cb),
        f,
        "residual codes",
    )?;
    let ivf_offsets = view::<u64>(p.sections[3], k + 1, f, "inverted-list offsets")?;
    let ivf_docs = view::<u32>(p.sections[4], n_pairs, f, "inverted lists")?;
    let bounds = view::<f32>(p.sections[7], dim * 2, f, "residual bounds")?;
    check_docs(f, offsets, codes, k, n_tokens)?;
    check_residuals(f, residuals, cb, dim * nbits)?;
    check_ivf(f, offsets, codes, ivf_offsets, ivf_docs, k)?;
    if bounds
        .chunks_exact(2)
        .any(|b| !(b[0].is_finite() && b[1].is_finite() && b[0] <= b[1]))
    {
        return Err(fail(
            f,
            "residual bounds are not finite min <= max pairs".into(),
        ));
    }
    let ids = Ids::read(f, fv[6], p.sections[5], p.sections[6], n_docs)?;
    let n_far = match (fv.get(8), p.sections.get(8)) {
        (Some(&n_far), Some(&section)) => {
            let far = view::<u32>(section, n_docs, f, "far counts")?;
            check_far(f, offsets, far, n_far)?;
            Some(n_far)
        }
        _ => None,
    };
    let base = bytes.as_ptr() as usize;
    let ranges = p
        .sections
        .iter()
        .map(|s| {
            let at = s.as_ptr() as usize - base;
            at..at + s.len()
        })
        .collect();
    Ok(Checked {
        ranges,
        n_docs,
        n_tokens,
        code_bytes: cb,
        ids,
        n_far,
    })
}

/// R-INDEX-18: each document's far count is at most its tokens, and they sum to `n_far`.
fn check_far(f: &str, offsets: &[u64], far: &[u32], n_far: u64) -> Result<()> {
    if offsets
        .windows(2)
        .zip(far)
        .any(|(w, &c)| u64::from(c) > w[1] - w[0])
    {
        return Err(fail(f, "a far count exceeds its document's tokens".into()));
    }
    let sum: u64 = far.iter().map(|&c| u64::from(c)).sum();
    if sum != n_far {
        return Err(fail(
            f,
            format!("far counts sum to {sum}, the field n_far is {n_far}"),
        ));
    }
    Ok(())
}

/// The checks above read every page of the map; hand them back so that searches keep resident
/// only the pages they touch (the file stays in the page cache).
fn release_pages(map: &Mmap) {
    #[cfg(unix)]
    // SAFETY: a read-only file mapping: dropped pages are read again from the file on next use.
    unsafe {
        // Only a hint: on failure the pages simply stay resident.
        let _ = map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed);
    }
}

/// Drops the resident pages of `range` of the map (a hint, as `release_pages`).
fn release_range(map: &Mmap, range: Range<usize>) {
    #[cfg(unix)]
    {
        const PAGE: usize = 4096;
        let start = range.start / PAGE * PAGE;
        // SAFETY: as `release_pages`.
        unsafe {
            let _ = map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                start,
                range.end - start,
            );
        }
    }
}

fn check_docs(f: &str, offsets: &[u64], codes: &[u16], k: usize, n_tokens: usize) -> Result<()> {
    if offsets[0] != 0 || offsets[offsets.len() - 1] != n_tokens as u64 {
        return Err(fail(
            f,
            "document offsets do not run from 0 to n_tokens".into(),
        ));
    }
    if offsets.windows(2).any(|w| w[0] >= w[1]) {
        return Err(fail(
            f,
            "document offsets are not strictly increasing".into(),
        ));
    }
    if codes.iter().any(|&c| c as usize >= k) {
        return Err(fail(f, format!("a centroid id is >= K ({k})")));
    }
    for w in offsets.windows(2) {
        let doc = &codes[w[0] as usize..w[1] as usize];
        if doc.windows(2).any(|p| p[0] > p[1]) {
            return Err(fail(
                f,
                "centroid ids are not sorted within a document".into(),
            ));
        }
    }
    Ok(())
}

fn check_residuals(f: &str, residuals: &[u8], cb: usize, used_bits: usize) -> Result<()> {
    let spare = cb * 8 - used_bits;
    if spare > 0 {
        let mask = !(0xFFu8 >> spare);
        if residuals.chunks_exact(cb).any(|t| t[cb - 1] & mask != 0) {
            return Err(fail(f, "unused residual code bits are not zero".into()));
        }
    }
    Ok(())
}

/// The inverted lists must be exactly the documents of each (document, centroid id) run, in
/// document order.
fn check_ivf(
    f: &str,
    offsets: &[u64],
    codes: &[u16],
    ivf_offsets: &[u64],
    ivf_docs: &[u32],
    k: usize,
) -> Result<()> {
    if ivf_offsets[0] != 0
        || ivf_offsets[k] != ivf_docs.len() as u64
        || ivf_offsets.windows(2).any(|w| w[0] > w[1])
    {
        return Err(fail(
            f,
            "inverted-list offsets are not 0 <= ... <= n_pairs".into(),
        ));
    }
    let mut cursor: Vec<usize> = ivf_offsets[..k].iter().map(|&x| x as usize).collect();
    for (d, w) in offsets.windows(2).enumerate() {
        let doc = &codes[w[0] as usize..w[1] as usize];
        for (i, &c) in doc.iter().enumerate() {
            if i > 0 && doc[i - 1] == c {
                continue;
            }
            let c = c as usize;
            let at = cursor[c];
            if at >= ivf_offsets[c + 1] as usize || ivf_docs[at] as usize != d {
                return Err(fail(
                    f,
                    format!("inverted list {c} does not match the codes"),
                ));
            }
            cursor[c] += 1;
        }
    }
    if (0..k).any(|c| cursor[c] != ivf_offsets[c + 1] as usize) {
        return Err(fail(
            f,
            "an inverted list holds documents without that centroid".into(),
        ));
    }
    Ok(())
}
