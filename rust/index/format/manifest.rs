//! The manifest (R-INDEX-3): the committed generation, the collection's sizes, and the table of the
//! files it names; reading a named file checks its length and header CRC against its entry.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::container::{self, Kind};
use super::{fail, le_u32, le_u64, usize_of};
use crate::Result;

/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST";
/// Manifest entry roles.
pub const ROLE_CODEC: u32 = 1;
pub const ROLE_SEGMENT: u32 = 2;
pub const ROLE_TOMBSTONES: u32 = 3;
/// Bytes of a manifest entry and of its name.
const ENTRY: usize = 64;
const NAME: usize = 40;
/// The largest manifest read (R-INDEX-2: sizes are checked before allocating).
const MAX_MANIFEST: u64 = 64 << 20;

/// A named file of a commit, as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub role: u32,
    pub len: u64,
    pub header_crc: u32,
    pub name: String,
}

/// Commits a manifest (R-INDEX-3, R-INDEX-6): written and flushed as `MANIFEST.tmp`, then renamed
/// to `MANIFEST`. `renamed()` runs as soon as the new manifest is visible, the commit point (before
/// the directory is synced).
pub fn write(
    dir: &Path,
    fields: [u64; 6],
    entries: &[Entry],
    renamed: &mut dyn FnMut(),
) -> Result<()> {
    let mut table = Vec::with_capacity(entries.len() * ENTRY);
    for e in entries {
        table.extend_from_slice(&e.role.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        table.extend_from_slice(&e.len.to_le_bytes());
        table.extend_from_slice(&e.header_crc.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        let mut name = [0u8; NAME];
        name.get_mut(..e.name.len())
            .ok_or_else(|| {
                fail(
                    MANIFEST,
                    format!("file name {:?} is over {NAME} bytes", e.name),
                )
            })?
            .copy_from_slice(e.name.as_bytes());
        table.extend_from_slice(&name);
    }
    let tables: [&[u8]; 1] = [&table];
    let temp = container::write_temp(
        dir,
        MANIFEST,
        Kind::Manifest,
        &fields,
        &tables,
        &mut |_, _| Ok(()),
    )?;
    temp.rename()?;
    renamed();
    container::sync_dir(dir)
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
pub fn read(dir: &Path) -> Result<([u64; 6], Vec<Entry>, u64)> {
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
    from_bytes(&bytes)
}

/// As `read`, from the bytes of a manifest file: `[generation, n_files, dim, nbits, n_docs,
/// n_tokens]`, its entries and its length (R-INDEX-2, R-INDEX-3).
pub fn from_bytes(bytes: &[u8]) -> Result<([u64; 6], Vec<Entry>, u64)> {
    let len = bytes.len() as u64;
    if len > MAX_MANIFEST {
        return Err(fail(
            MANIFEST,
            format!("{len} bytes is larger than {MAX_MANIFEST}"),
        ));
    }
    let p = container::parse(bytes, MANIFEST, Kind::Manifest, 6, 1)?;
    let fields: [u64; 6] = p
        .fields
        .clone()
        .try_into()
        .map_err(|f: Vec<u64>| fail(MANIFEST, format!("{} fields, expected 6", f.len())))?;
    let n_files = usize_of(fields[1], MANIFEST, "n_files")?;
    // R-INDEX-2: the count is checked against the table's bytes (no product that can overflow,
    // not even in the message: found by fuzz target `index`).
    if n_files.checked_mul(ENTRY) != Some(p.sections[0].len()) {
        return Err(fail(
            MANIFEST,
            format!(
                "{n_files} entries of {ENTRY} bytes, the table holds {} bytes",
                p.sections[0].len()
            ),
        ));
    }
    let mut entries = Vec::with_capacity(n_files);
    for (i, raw) in p.sections[0].chunks_exact(ENTRY).enumerate() {
        let u32_at = |a: usize| le_u32(raw, a, MANIFEST);
        let role = u32_at(0)?;
        if u32_at(4)? != 0 || u32_at(20)? != 0 {
            return Err(fail(
                MANIFEST,
                format!("entry {i}: reserved word is not zero"),
            ));
        }
        // R-INDEX-3, R-INDEX-9: the codec first, then segments, then at most one tombstones
        // file, last.
        let want = if i == 0 {
            ROLE_CODEC
        } else if i + 1 == n_files && role == ROLE_TOMBSTONES && i >= 2 {
            ROLE_TOMBSTONES
        } else {
            ROLE_SEGMENT
        };
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
            len: le_u64(raw, 8, MANIFEST)?,
            header_crc: u32_at(16)?,
            name,
        });
    }
    let segments = entries.iter().filter(|e| e.role == ROLE_SEGMENT).count();
    if entries.len() < 2 || segments == 0 {
        return Err(fail(
            MANIFEST,
            "needs a codec and at least one segment".into(),
        ));
    }
    Ok((fields, entries, bytes.len() as u64))
}

impl Entry {
    /// Maps the file named by this entry and checks its length against it.
    pub fn map(&self, dir: &Path) -> Result<Mmap> {
        let e = self;
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
        // SAFETY: the file is opened read-only; index files are immutable once committed
        // (R-INDEX-6).
        unsafe { Mmap::map(&file) }.map_err(|err| fail(&e.name, format!("cannot be mapped: {err}")))
    }

    /// R-INDEX-3: the file's header CRC must be the one this entry names.
    pub fn check_crc(&self, header_crc: u32) -> Result<()> {
        if header_crc != self.header_crc {
            return Err(fail(
                &self.name,
                format!(
                    "header CRC {header_crc:#010x}, the manifest says {:#010x}",
                    self.header_crc
                ),
            ));
        }
        Ok(())
    }
}
