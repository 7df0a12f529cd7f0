//! The index files (R-INDEX-1..5, R-INDEX-9): the container every file shares, and the kinds of
//! file written in it: the manifest, the codec, the segments (with their external ids) and the
//! tombstones. Each kind states its fields and sections, how it is written, and the checks run on
//! open (R-INDEX-2).

pub mod codec;
pub mod container;
pub mod ids;
pub mod manifest;
pub mod segment;
pub mod tombstones;

pub use codec::Codec;
pub use ids::Ids;
pub use manifest::{Entry, MANIFEST};
pub use segment::{Segment, SegmentParts};

use crate::{Error, Result};

/// R-INDEX-2: a failed check of `file`.
fn fail(file: &str, check: String) -> Error {
    Error::Format {
        file: file.to_string(),
        check,
    }
}

/// A count read from `file` as a `usize`, or a format error naming it.
fn usize_of(x: u64, file: &str, what: &str) -> Result<usize> {
    usize::try_from(x).map_err(|_| fail(file, format!("{what} {x} does not fit this machine")))
}

/// The `N` bytes at `at` of `bytes`, or a format error of `file` when the bytes end first.
fn le_bytes<const N: usize>(bytes: &[u8], at: usize, file: &str) -> Result<[u8; N]> {
    at.checked_add(N)
        .and_then(|end| bytes.get(at..end))
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| {
            fail(
                file,
                format!(
                    "{} bytes end before byte {}",
                    bytes.len(),
                    at.saturating_add(N)
                ),
            )
        })
}

/// The little-endian `u32` at `at` (R-INDEX-1), or a format error of `file`.
fn le_u32(bytes: &[u8], at: usize, file: &str) -> Result<u32> {
    le_bytes(bytes, at, file).map(u32::from_le_bytes)
}

/// The little-endian `u64` at `at` (R-INDEX-1), or a format error of `file`.
fn le_u64(bytes: &[u8], at: usize, file: &str) -> Result<u64> {
    le_bytes(bytes, at, file).map(u64::from_le_bytes)
}

#[cfg(test)]
#[path = "../../unit/format.rs"]
mod tests;
