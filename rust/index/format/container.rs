//! The container of every index file (R-INDEX-1): a header of u64 fields and a table of
//! CRC-checked sections, each aligned to 64 bytes. Writing is atomic (R-INDEX-6); parsing checks
//! every offset, length, CRC and padding byte before anything is trusted (R-INDEX-2).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{le_u32, le_u64};
use crate::{Error, Result};

/// `LATEINT\0`.
pub const MAGIC: [u8; 8] = *b"LATEINT\0";
/// The format version of the manifest and tombstones files, and of the codec and segment files
/// of an index whose codec records no far threshold (read, and written for such an index).
pub const VERSION: u32 = 1;
/// The format version of codec and segment files that record far tokens (R-INDEX-18).
pub const VERSION_FAR: u32 = 2;
/// The format version of codec and segment files whose codes are product codes (R-QUANT-6,
/// R-QUANT-7).
pub const VERSION_PRODUCT: u32 = 3;
/// The format version of codec and segment files whose product codes weigh the error along the
/// token (R-QUANT-8): what every new codec is written in.
pub const VERSION_ANISO: u32 = 4;
/// Sections start at multiples of this many bytes.
pub const ALIGN: u64 = 64;

/// The kinds of index file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Manifest = 1,
    Codec = 2,
    Segment = 3,
    Tombstones = 4,
}

fn align(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}

fn header_len(n_fields: usize, n_sections: usize) -> u64 {
    24 + 8 * n_fields as u64 + 24 * n_sections as u64 + 4
}

/// The serialized header for these fields and sections (`crcs`: the sections' CRC-32), and its
/// header CRC.
fn header(
    kind: Kind,
    version: u32,
    fields: &[u64],
    sections: &[&[u8]],
    crcs: &[u32],
) -> (Vec<u8>, u32) {
    let mut h = Vec::with_capacity(header_len(fields.len(), sections.len()) as usize);
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&(kind as u32).to_le_bytes());
    h.extend_from_slice(&version.to_le_bytes());
    h.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    h.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for f in fields {
        h.extend_from_slice(&f.to_le_bytes());
    }
    let mut at = align(header_len(fields.len(), sections.len()));
    for (s, crc) in sections.iter().zip(crcs) {
        h.extend_from_slice(&at.to_le_bytes());
        h.extend_from_slice(&(s.len() as u64).to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        at = align(at + s.len() as u64);
    }
    let crc = crc32fast::hash(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    (h, crc)
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Flushes a directory entry change to disk (a no-op where directories cannot be opened).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))?;
    Ok(())
}

/// Bytes hashed or written between two calls of a write's `tick` (milliseconds of work).
const WRITE_STEP: usize = 8 << 20;

/// The progress of a write (R-INDEX-8): `tick(done, total)`, in bytes hashed and written, after
/// each step of about `WRITE_STEP` bytes and once the file is flushed; an error stops the write.
pub type Tick<'a> = dyn FnMut(u64, u64) -> Result<()> + 'a;

/// Counts the bytes of a write and calls its `tick` after each `WRITE_STEP`.
struct Steps<'t, 'a> {
    tick: &'t mut Tick<'a>,
    done: u64,
    total: u64,
    since: usize,
}

impl Steps<'_, '_> {
    fn add(&mut self, bytes: usize) -> Result<()> {
        self.done += bytes as u64;
        self.since += bytes;
        if self.since >= WRITE_STEP {
            self.since = 0;
            (self.tick)(self.done, self.total)?;
        }
        Ok(())
    }
}

/// A file written in full under `name.tmp` and flushed to disk, not yet visible under `name`;
/// the temporary is removed when this is dropped without `rename` (R-INDEX-6, R-INDEX-8).
pub struct Temp {
    tmp: PathBuf,
    fin: PathBuf,
    len: u64,
    header_crc: u32,
    renamed: bool,
}

impl Temp {
    /// Renames the file to its final name, where readers see it; returns its length and header
    /// CRC. (The directory entry is made durable by `sync_dir`.)
    pub fn rename(mut self) -> Result<(u64, u32)> {
        fs::rename(&self.tmp, &self.fin).map_err(|e| io_error(&self.fin, e))?;
        self.renamed = true;
        Ok((self.len, self.header_crc))
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.renamed {
            // Best effort: a temporary left behind is ignored by readers (R-INDEX-6).
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes the container under `dir/name.tmp` and flushes it to disk, reporting to `tick` between
/// steps; the temporary is removed again on any failure. Format version `VERSION`.
pub fn write_temp(
    dir: &Path,
    name: &str,
    kind: Kind,
    fields: &[u64],
    sections: &[&[u8]],
    tick: &mut Tick,
) -> Result<Temp> {
    write_temp_version(dir, name, kind, VERSION, fields, sections, tick)
}

/// As `write_temp`, with the format version `version` in the header.
pub fn write_temp_version(
    dir: &Path,
    name: &str,
    kind: Kind,
    version: u32,
    fields: &[u64],
    sections: &[&[u8]],
    tick: &mut Tick,
) -> Result<Temp> {
    let total = 2 * sections.iter().map(|s| s.len() as u64).sum::<u64>();
    let mut steps = Steps {
        tick,
        done: 0,
        total,
        since: 0,
    };
    let mut crcs = Vec::with_capacity(sections.len());
    for s in sections {
        let mut hasher = crc32fast::Hasher::new();
        for chunk in s.chunks(WRITE_STEP) {
            hasher.update(chunk);
            steps.add(chunk.len())?;
        }
        crcs.push(hasher.finalize());
    }
    let (h, header_crc) = header(kind, version, fields, sections, &crcs);
    let mut temp = Temp {
        tmp: dir.join(format!("{name}.tmp")),
        fin: dir.join(name),
        len: 0,
        header_crc,
        renamed: false,
    };
    let io = |e: std::io::Error| io_error(&dir.join(format!("{name}.tmp")), e);
    let file = File::create(&temp.tmp).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(&h).map_err(io)?;
    let mut at = h.len() as u64;
    for s in sections {
        let pad = align(at) - at;
        w.write_all(&vec![0u8; pad as usize]).map_err(io)?;
        for chunk in s.chunks(WRITE_STEP) {
            w.write_all(chunk).map_err(io)?;
            steps.add(chunk.len())?;
        }
        at = align(at) + s.len() as u64;
    }
    let file = w.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    (steps.tick)(total, total)?;
    temp.len = at;
    Ok(temp)
}

/// Writes `dir/name` atomically (R-INDEX-6): `name.tmp`, fsync, rename, directory sync; `tick`
/// as `write_temp`. Returns the file length and its header CRC.
pub fn write_atomic(
    dir: &Path,
    name: &str,
    kind: Kind,
    fields: &[u64],
    sections: &[&[u8]],
    tick: &mut Tick,
) -> Result<(u64, u32)> {
    write_atomic_version(dir, name, kind, VERSION, fields, sections, tick)
}

/// As `write_atomic`, with the format version `version` in the header.
pub fn write_atomic_version(
    dir: &Path,
    name: &str,
    kind: Kind,
    version: u32,
    fields: &[u64],
    sections: &[&[u8]],
    tick: &mut Tick,
) -> Result<(u64, u32)> {
    let written = write_temp_version(dir, name, kind, version, fields, sections, tick)?.rename()?;
    sync_dir(dir)?;
    Ok(written)
}

/// A parsed container: its fields and section bytes, borrowed from the file's bytes.
pub struct Parsed<'a> {
    /// The format version of the header (one of the layouts asked for).
    pub version: u32,
    pub fields: Vec<u64>,
    pub sections: Vec<&'a [u8]>,
    pub header_crc: u32,
}

/// Parses and checks a container of `kind` with exactly `n_fields` fields and `n_sections`
/// sections (R-INDEX-1, R-INDEX-2). `file` names it in errors.
pub fn parse<'a>(
    bytes: &'a [u8],
    file: &str,
    kind: Kind,
    n_fields: usize,
    n_sections: usize,
) -> Result<Parsed<'a>> {
    parse_with(bytes, file, kind, n_fields, n_sections, &mut |_| Ok(()))
}

/// Bytes hashed between two calls of the `checked` hook of `parse_with`.
const CRC_CHUNK: usize = 4 << 20;

/// As `parse`; `checked(range)` is called after each chunk of a section has been hashed, so a
/// memory-mapped caller may drop those pages at once (or stop: its error is returned).
pub fn parse_with<'a>(
    bytes: &'a [u8],
    file: &str,
    kind: Kind,
    n_fields: usize,
    n_sections: usize,
    checked: &mut dyn FnMut(std::ops::Range<usize>) -> Result<()>,
) -> Result<Parsed<'a>> {
    parse_sections(bytes, file, kind, n_fields, n_sections, &|_| true, checked)
}

/// As `parse_with`, hashing only the sections `i` for which `hashed(i)` (R-INDEX-16: a writer
/// checks the header, the layout and these sections' CRCs, and reads no byte of the others).
pub fn parse_sections<'a>(
    bytes: &'a [u8],
    file: &str,
    kind: Kind,
    n_fields: usize,
    n_sections: usize,
    hashed: &dyn Fn(usize) -> bool,
    checked: &mut dyn FnMut(std::ops::Range<usize>) -> Result<()>,
) -> Result<Parsed<'a>> {
    let layouts = [(VERSION, n_fields, n_sections)];
    parse_versions(bytes, file, kind, &layouts, hashed, checked)
}

/// A format version a reader accepts for a kind, with its numbers of fields and sections.
pub type Layout = (u32, usize, usize);

/// As `parse_sections`, accepting each `(version, n_fields, n_sections)` of `layouts`: the
/// header's version must be one of them, with that layout's counts (R-INDEX-2, R-INDEX-7).
pub fn parse_versions<'a>(
    bytes: &'a [u8],
    file: &str,
    kind: Kind,
    layouts: &[Layout],
    hashed: &dyn Fn(usize) -> bool,
    checked: &mut dyn FnMut(std::ops::Range<usize>) -> Result<()>,
) -> Result<Parsed<'a>> {
    let bad = |check: String| Error::Format {
        file: file.to_string(),
        check,
    };
    let len = bytes.len() as u64;
    if len < 24 {
        return Err(bad(format!("file of {len} bytes is shorter than a header")));
    }
    if bytes[..8] != MAGIC {
        return Err(bad("bad magic (not a lateint-ref index file)".into()));
    }
    let (k, version) = (le_u32(bytes, 8, file)?, le_u32(bytes, 12, file)?);
    if k != kind as u32 {
        return Err(bad(format!("kind {k}, expected {}", kind as u32)));
    }
    let Some(&(_, n_fields, n_sections)) = layouts.iter().find(|l| l.0 == version) else {
        let known: Vec<String> = layouts.iter().map(|l| l.0.to_string()).collect();
        return Err(bad(format!(
            "format version {version} is not supported (reads {})",
            known.join(" and ")
        )));
    };
    let (nf, ns) = (
        le_u32(bytes, 16, file)? as usize,
        le_u32(bytes, 20, file)? as usize,
    );
    if nf != n_fields || ns != n_sections {
        return Err(bad(format!(
            "{nf} fields and {ns} sections, expected {n_fields} and {n_sections}"
        )));
    }
    let hlen = header_len(nf, ns);
    if len < hlen {
        return Err(bad(format!(
            "file of {len} bytes is shorter than its {hlen}-byte header"
        )));
    }
    let hend = hlen as usize - 4;
    if crc32fast::hash(&bytes[..hend]) != le_u32(bytes, hend, file)? {
        return Err(bad("header CRC mismatch".into()));
    }
    let fields = (0..nf)
        .map(|i| le_u64(bytes, 24 + 8 * i, file))
        .collect::<Result<Vec<u64>>>()?;
    let mut sections = Vec::with_capacity(ns);
    let mut end = hlen;
    for i in 0..ns {
        let at = 24 + 8 * nf + 24 * i;
        let (off, slen, crc) = (
            le_u64(bytes, at, file)?,
            le_u64(bytes, at + 8, file)?,
            le_u32(bytes, at + 16, file)?,
        );
        if le_u32(bytes, at + 20, file)? != 0 {
            return Err(bad(format!("section {i}: reserved word is not zero")));
        }
        if off != align(end) {
            return Err(bad(format!(
                "section {i}: offset {off}, expected {}",
                align(end)
            )));
        }
        let stop = off.checked_add(slen).filter(|&s| s <= len).ok_or_else(|| {
            bad(format!(
                "section {i}: {slen} bytes at {off} pass the end ({len})"
            ))
        })?;
        if bytes[end as usize..off as usize].iter().any(|&b| b != 0) {
            return Err(bad(format!("non-zero padding before section {i}")));
        }
        let s = &bytes[off as usize..stop as usize];
        if !hashed(i) {
            sections.push(s);
            end = stop;
            continue;
        }
        let mut hasher = crc32fast::Hasher::new();
        for (j, chunk) in s.chunks(CRC_CHUNK).enumerate() {
            hasher.update(chunk);
            let at = off as usize + j * CRC_CHUNK;
            checked(at..at + chunk.len())?;
        }
        if hasher.finalize() != crc {
            return Err(bad(format!("section {i}: CRC mismatch")));
        }
        sections.push(s);
        end = stop;
    }
    if end != len {
        return Err(bad(format!(
            "file has {len} bytes, its sections end at {end}"
        )));
    }
    Ok(Parsed {
        version,
        fields,
        sections,
        header_crc: le_u32(bytes, hend, file)?,
    })
}

/// Plain little-endian numbers a section may hold.
pub trait Plain: Copy {}
impl Plain for u8 {}
impl Plain for u16 {}
impl Plain for u32 {}
impl Plain for u64 {}
impl Plain for i64 {}
impl Plain for f32 {}

/// The bytes as a slice of `T` with exactly `n` items, or a format error.
pub fn view<'a, T: Plain>(bytes: &'a [u8], n: usize, file: &str, what: &str) -> Result<&'a [T]> {
    let want = n.checked_mul(size_of::<T>());
    if want != Some(bytes.len()) {
        return Err(Error::Format {
            file: file.to_string(),
            check: format!(
                "{what}: {} bytes, expected {n} items of {}",
                bytes.len(),
                size_of::<T>()
            ),
        });
    }
    // SAFETY: every bit pattern is a valid `T` (plain numbers); alignment is checked here.
    let (head, items, tail) = unsafe { bytes.align_to::<T>() };
    if !head.is_empty() || !tail.is_empty() {
        return Err(Error::Format {
            file: file.to_string(),
            check: format!("{what}: section is not aligned"),
        });
    }
    Ok(items)
}

/// The bytes of a slice of plain numbers (little-endian hosts).
pub fn bytes_of<T: Plain>(items: &[T]) -> &[u8] {
    // SAFETY: plain numbers have no padding; the byte view covers exactly the items.
    unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<u8>(), std::mem::size_of_val(items)) }
}

#[cfg(target_endian = "big")]
compile_error!("the index format is little-endian; big-endian hosts are not supported");
