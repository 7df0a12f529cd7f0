//! The tombstones file (R-INDEX-9): the global positions of the deleted documents of a commit,
//! strictly increasing, each below the number of documents the segments hold.

use std::path::Path;

use super::container::{self, Kind, Tick, bytes_of, view};
use super::manifest::{Entry, ROLE_TOMBSTONES};
use super::{fail, usize_of};
use crate::Result;

/// Writes `tombstones` (global positions, strictly increasing, each `< n_docs`) as the file
/// `name` of `dir` (R-INDEX-6, R-INDEX-9); returns its manifest entry.
pub fn write(
    dir: &Path,
    name: &str,
    n_docs: usize,
    tombstones: &[u64],
    tick: &mut Tick,
) -> Result<Entry> {
    let fields = [n_docs as u64, tombstones.len() as u64];
    let sections: [&[u8]; 1] = [bytes_of(tombstones)];
    let (len, header_crc) =
        container::write_atomic(dir, name, Kind::Tombstones, &fields, &sections, tick)?;
    Ok(Entry {
        role: ROLE_TOMBSTONES,
        len,
        header_crc,
        name: name.to_string(),
    })
}

/// Reads and checks the tombstones file of `e` for an index of `n_docs` documents (R-INDEX-2,
/// R-INDEX-9): the deleted global positions, strictly increasing, each `< n_docs`.
pub fn read(dir: &Path, e: &Entry, n_docs: usize) -> Result<Vec<u64>> {
    let map = e.map(dir)?;
    from_bytes(&map, &e.name, Some(e), n_docs)
}

/// As `read`, from the bytes of the tombstones file `f`; with `entry`, its header CRC must be the
/// one the entry names (R-INDEX-3).
pub fn from_bytes(bytes: &[u8], f: &str, entry: Option<&Entry>, n_docs: usize) -> Result<Vec<u64>> {
    let p = container::parse(bytes, f, Kind::Tombstones, 2, 1)?;
    if let Some(e) = entry {
        e.check_crc(p.header_crc)?;
    }
    if p.fields[0] != n_docs as u64 {
        return Err(fail(
            f,
            format!(
                "written for {} documents, the segments hold {n_docs}",
                p.fields[0]
            ),
        ));
    }
    let n = usize_of(p.fields[1], f, "n_deleted")?;
    if n > n_docs {
        return Err(fail(f, format!("{n} tombstones for {n_docs} documents")));
    }
    let positions = view::<u64>(p.sections[0], n, f, "tombstones")?;
    if positions.windows(2).any(|w| w[0] >= w[1])
        || positions.last().is_some_and(|&x| x >= n_docs as u64)
    {
        return Err(fail(
            f,
            format!("tombstones are not strictly increasing positions below {n_docs}"),
        ));
    }
    Ok(positions.to_vec())
}
