//! The three kinds of index file (R-INDEX-3..5): what their fields and sections hold, how they are
//! written, and the consistency checks run on open (R-INDEX-2).

use std::collections::HashSet;
use std::fs::File;
use std::ops::Range;
use std::path::Path;

use memmap2::Mmap;

use super::container::{self, Kind, Plain, bytes_of, view};
use super::kmeans::MAX_CENTROIDS;
use super::quantize::{self, Buckets};
use crate::{Error, Result};

/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST";
/// Manifest entry roles.
pub const ROLE_CODEC: u32 = 1;
pub const ROLE_SEGMENT: u32 = 2;
/// Bytes of a manifest entry and of its name.
const ENTRY: usize = 64;
const NAME: usize = 40;
/// The largest manifest read (R-INDEX-2: sizes are checked before allocating).
const MAX_MANIFEST: u64 = 64 << 20;

fn fail(file: &str, check: String) -> Error {
    Error::Format {
        file: file.to_string(),
        check,
    }
}

fn usize_of(x: u64, file: &str, what: &str) -> Result<usize> {
    usize::try_from(x).map_err(|_| fail(file, format!("{what} {x} does not fit this machine")))
}

/// A named file of a commit, as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub role: u32,
    pub len: u64,
    pub header_crc: u32,
    pub name: String,
}

/// Writes the manifest atomically (R-INDEX-3, R-INDEX-6).
pub fn write_manifest(dir: &Path, fields: [u64; 6], entries: &[Entry]) -> Result<()> {
    let mut table = Vec::with_capacity(entries.len() * ENTRY);
    for e in entries {
        table.extend_from_slice(&e.role.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        table.extend_from_slice(&e.len.to_le_bytes());
        table.extend_from_slice(&e.header_crc.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        let mut name = [0u8; NAME];
        name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        table.extend_from_slice(&name);
    }
    container::write_atomic(dir, MANIFEST, Kind::Manifest, &fields, &[&table])?;
    Ok(())
}

fn valid_name(raw: &[u8]) -> Option<String> {
    let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let (name, rest) = raw.split_at(len);
    let ok = !name.is_empty()
        && name != b"."
        && name != b".."
        && rest.iter().all(|&b| b == 0)
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| String::from_utf8_lossy(name).into_owned())
}

/// The manifest: `[generation, n_files, dim, nbits, n_docs, n_tokens]` and its entries.
pub fn read_manifest(dir: &Path) -> Result<([u64; 6], Vec<Entry>, u64)> {
    let path = dir.join(MANIFEST);
    let len = std::fs::metadata(&path)
        .map_err(|e| fail(MANIFEST, format!("cannot be read: {e}")))?
        .len();
    // Sized before it is read: a manifest lists files, never more than a few MiB of entries.
    if len > MAX_MANIFEST {
        return Err(fail(
            MANIFEST,
            format!("{len} bytes is larger than {MAX_MANIFEST}"),
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| fail(MANIFEST, format!("cannot be read: {e}")))?;
    let p = container::parse(&bytes, MANIFEST, Kind::Manifest, 6, 1)?;
    let fields: [u64; 6] = p.fields.clone().try_into().expect("6 fields");
    let n_files = usize_of(fields[1], MANIFEST, "n_files")?;
    if n_files.checked_mul(ENTRY) != Some(p.sections[0].len()) {
        return Err(fail(
            MANIFEST,
            format!("{n_files} entries need {} bytes", n_files * ENTRY),
        ));
    }
    let mut entries = Vec::with_capacity(n_files);
    for (i, raw) in p.sections[0].chunks_exact(ENTRY).enumerate() {
        let u32_at = |a: usize| u32::from_le_bytes(raw[a..a + 4].try_into().expect("4"));
        let role = u32_at(0);
        if u32_at(4) != 0 || u32_at(20) != 0 {
            return Err(fail(
                MANIFEST,
                format!("entry {i}: reserved word is not zero"),
            ));
        }
        let want = if i == 0 { ROLE_CODEC } else { ROLE_SEGMENT };
        if role != want {
            return Err(fail(
                MANIFEST,
                format!("entry {i}: role {role}, expected {want}"),
            ));
        }
        let name = valid_name(&raw[24..24 + NAME])
            .ok_or_else(|| fail(MANIFEST, format!("entry {i}: invalid file name")))?;
        entries.push(Entry {
            role,
            len: u64::from_le_bytes(raw[8..16].try_into().expect("8")),
            header_crc: u32_at(16),
            name,
        });
    }
    if entries.len() < 2 {
        return Err(fail(
            MANIFEST,
            "needs a codec and at least one segment".into(),
        ));
    }
    Ok((fields, entries, bytes.len() as u64))
}

/// Maps a file named by the manifest and checks its length and header CRC against the entry.
pub fn map_file(dir: &Path, e: &Entry) -> Result<Mmap> {
    let file = File::open(dir.join(&e.name)).map_err(|err| fail(&e.name, format!("{err}")))?;
    let len = file
        .metadata()
        .map_err(|err| fail(&e.name, format!("{err}")))?
        .len();
    if len != e.len {
        return Err(fail(
            &e.name,
            format!("{len} bytes, the manifest says {}", e.len),
        ));
    }
    if len == 0 {
        return Err(fail(&e.name, "empty file".into()));
    }
    // SAFETY: the file is opened read-only; index files are immutable once committed (R-INDEX-6).
    unsafe { Mmap::map(&file) }.map_err(|err| fail(&e.name, format!("cannot be mapped: {err}")))
}

/// R-INDEX-3: the file's header CRC must be the one its manifest entry names.
fn check_entry_crc(e: &Entry, header_crc: u32) -> Result<()> {
    if header_crc != e.header_crc {
        return Err(fail(
            &e.name,
            format!(
                "header CRC {header_crc:#010x}, the manifest says {:#010x}",
                e.header_crc
            ),
        ));
    }
    Ok(())
}

/// The codec: centroids and buckets (R-INDEX-4), copied out of its file.
#[derive(Clone, Debug)]
pub struct Codec {
    pub dim: usize,
    pub k: usize,
    pub seed: u64,
    pub sample: u64,
    pub iters: u64,
    pub centroids: Vec<f32>,
    pub buckets: Buckets,
    pub metadata: String,
    pub header_crc: u32,
    /// The decoding table of `Buckets::table`.
    pub table: Vec<f32>,
}

impl Codec {
    /// Writes the codec file; returns its manifest entry.
    pub fn write(&self, dir: &Path, name: &str) -> Result<Entry> {
        let fields = [
            self.dim as u64,
            self.buckets.nbits as u64,
            self.k as u64,
            self.seed,
            self.sample,
            self.iters,
        ];
        let sections: [&[u8]; 4] = [
            bytes_of(&self.centroids),
            bytes_of(&self.buckets.cutoffs),
            bytes_of(&self.buckets.weights),
            self.metadata.as_bytes(),
        ];
        let (len, header_crc) =
            container::write_atomic(dir, name, Kind::Codec, &fields, &sections)?;
        Ok(Entry {
            role: ROLE_CODEC,
            len,
            header_crc,
            name: name.to_string(),
        })
    }

    /// Reads and checks the codec file (R-INDEX-4).
    pub fn read(dir: &Path, e: &Entry) -> Result<Codec> {
        let map = map_file(dir, e)?;
        let f = e.name.as_str();
        let p = container::parse(&map, f, Kind::Codec, 6, 4)?;
        check_entry_crc(e, p.header_crc)?;
        let dim = usize_of(p.fields[0], f, "dim")?;
        let nbits = quantize::check_nbits(p.fields[1].min(64) as i64)
            .map_err(|_| fail(f, format!("nbits {} is not 1, 2 or 4", p.fields[1])))?;
        let k = usize_of(p.fields[2], f, "K")?;
        if dim == 0 || dim > 1 << 20 || k == 0 || k > MAX_CENTROIDS {
            return Err(fail(f, format!("dim {dim} or K {k} out of range")));
        }
        let b = 1usize << nbits;
        let centroids = view::<f32>(p.sections[0], k * dim, f, "centroids")?.to_vec();
        let cutoffs = view::<f32>(p.sections[1], dim * (b - 1), f, "cutoffs")?.to_vec();
        let weights = view::<f32>(p.sections[2], dim * b, f, "bucket values")?.to_vec();
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !finite(&centroids) || !finite(&cutoffs) || !finite(&weights) {
            return Err(fail(
                f,
                "a centroid, cutoff or bucket value is not finite".into(),
            ));
        }
        if cutoffs
            .chunks_exact(b - 1)
            .any(|c| c.windows(2).any(|w| w[0] > w[1]))
        {
            return Err(fail(f, "cutoffs are not non-decreasing".into()));
        }
        let metadata = std::str::from_utf8(p.sections[3])
            .map_err(|_| fail(f, "metadata is not UTF-8".into()))?
            .to_string();
        Ok(Codec {
            dim,
            k,
            seed: p.fields[3],
            sample: p.fields[4],
            iters: p.fields[5],
            centroids,
            buckets: Buckets {
                nbits,
                cutoffs,
                weights,
            },
            table: Vec::new(),
            metadata,
            header_crc: p.header_crc,
        })
        .map(|mut c: Codec| {
            c.table = c.buckets.table(dim);
            c
        })
    }
}

/// External ids of one segment.
#[derive(Clone, Debug, PartialEq)]
pub enum Ids {
    Int(Vec<i64>),
    Str(Vec<String>),
}

impl Ids {
    pub fn len(&self) -> usize {
        match self {
            Ids::Int(v) => v.len(),
            Ids::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A message naming an id of `other` that is also here, or a kind mismatch (R-INDEX-5).
    pub fn clash(&self, other: &Ids) -> Option<String> {
        match (self, other) {
            (Ids::Int(a), Ids::Int(b)) => {
                let have: HashSet<i64> = a.iter().copied().collect();
                b.iter()
                    .find(|x| have.contains(x))
                    .map(|x| format!("id {x} is already in the index"))
            }
            (Ids::Str(a), Ids::Str(b)) => {
                let have: HashSet<&str> = a.iter().map(String::as_str).collect();
                b.iter()
                    .find(|x| have.contains(x.as_str()))
                    .map(|x| format!("id {x:?} is already in the index"))
            }
            (Ids::Int(_), Ids::Str(_)) => {
                Some("the index has integer ids, these are strings".into())
            }
            (Ids::Str(_), Ids::Int(_)) => {
                Some("the index has string ids, these are integers".into())
            }
        }
    }

    /// The first repeated id, if any.
    pub fn duplicate(&self) -> Option<String> {
        match self {
            Ids::Int(v) => {
                let mut seen = HashSet::with_capacity(v.len());
                v.iter().find(|x| !seen.insert(**x)).map(|x| x.to_string())
            }
            Ids::Str(v) => {
                let mut seen = HashSet::with_capacity(v.len());
                v.iter()
                    .find(|x| !seen.insert(x.as_str()))
                    .map(|x| format!("{x:?}"))
            }
        }
    }
}

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
}

impl SegmentParts<'_> {
    /// Writes the segment file; returns its manifest entry.
    pub fn write(&self, dir: &Path, name: &str) -> Result<Entry> {
        let n_docs = self.doc_offsets.len() - 1;
        let (id_kind, id_index, id_bytes): (u64, Vec<u8>, Vec<u8>) = match self.ids {
            Ids::Int(v) => (0, bytes_of(v).to_vec(), Vec::new()),
            Ids::Str(v) => {
                let mut offs = vec![0u64];
                let mut text = Vec::new();
                for s in v {
                    text.extend_from_slice(s.as_bytes());
                    offs.push(text.len() as u64);
                }
                (1, bytes_of(&offs).to_vec(), text)
            }
        };
        let fields = [
            self.dim as u64,
            self.nbits as u64,
            self.k as u64,
            n_docs as u64,
            self.codes.len() as u64,
            self.ivf_docs.len() as u64,
            id_kind,
            u64::from(self.codec_crc),
        ];
        let sections: [&[u8]; 8] = [
            bytes_of(self.doc_offsets),
            bytes_of(self.codes),
            self.residuals,
            bytes_of(self.ivf_offsets),
            bytes_of(self.ivf_docs),
            &id_index,
            &id_bytes,
            bytes_of(self.bounds),
        ];
        let (len, header_crc) =
            container::write_atomic(dir, name, Kind::Segment, &fields, &sections)?;
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

    /// Maps and checks a segment against its codec (R-INDEX-2, R-INDEX-5).
    pub fn open(dir: &Path, e: &Entry, codec: &Codec) -> Result<Segment> {
        let map = map_file(dir, e)?;
        let f = e.name.as_str();
        let p = container::parse_with(&map, f, Kind::Segment, 8, 8, &|r| release_range(&map, r))?;
        check_entry_crc(e, p.header_crc)?;
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
        let ids = read_ids(f, fv[6], p.sections[5], p.sections[6], n_docs)?;
        release_pages(&map);
        let base = map.as_ptr() as usize;
        let ranges = p
            .sections
            .iter()
            .map(|s| {
                let at = s.as_ptr() as usize - base;
                at..at + s.len()
            })
            .collect();
        Ok(Segment {
            map,
            ranges,
            name: e.name.clone(),
            n_docs,
            n_tokens,
            code_bytes: cb,
            ids,
        })
    }
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

fn read_ids(f: &str, kind: u64, index: &[u8], text: &[u8], n_docs: usize) -> Result<Ids> {
    let ids = match kind {
        0 => {
            if !text.is_empty() {
                return Err(fail(f, "integer ids with a non-empty text section".into()));
            }
            Ids::Int(view::<i64>(index, n_docs, f, "ids")?.to_vec())
        }
        1 => {
            let offs = view::<u64>(index, n_docs + 1, f, "id offsets")?;
            if offs[0] != 0
                || offs[n_docs] != text.len() as u64
                || offs.windows(2).any(|w| w[0] > w[1])
            {
                return Err(fail(f, "id offsets are not 0 <= ... <= text length".into()));
            }
            let mut out = Vec::with_capacity(n_docs);
            for w in offs.windows(2) {
                let s = std::str::from_utf8(&text[w[0] as usize..w[1] as usize])
                    .map_err(|_| fail(f, "an id is not UTF-8".into()))?;
                out.push(s.to_string());
            }
            Ids::Str(out)
        }
        _ => return Err(fail(f, format!("id kind {kind} is not 0 or 1"))),
    };
    if let Some(dup) = ids.duplicate() {
        return Err(fail(f, format!("id {dup} appears twice")));
    }
    Ok(ids)
}
