//! The index files (R-INDEX-1..5): the container every file shares, and the three kinds of file
//! written in it: the manifest, the codec and the segments (with their external ids). Each kind
//! states its fields and sections, how it is written, and the checks run on open (R-INDEX-2).

pub mod codec;
pub mod container;
pub mod ids;
pub mod manifest;
pub mod segment;

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
