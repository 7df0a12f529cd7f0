//! Deleting documents by external id (R-INDEX-10): the live documents of the ids found under the
//! writer's lock, then one commit of their tombstones (R-INDEX-9).

use std::path::Path;

use super::commit::{Uncommitted, commit, lock};
use super::committed::Committed;
use super::format::Ids;
use crate::{Error, Result};

/// At most this many unknown ids are named in a message.
const SHOWN: usize = 10;

/// R-INDEX-10: the error naming the ids of `ids` at `unknown` (no live document has them).
pub fn unknown_ids(ids: &Ids, unknown: &[usize]) -> Error {
    let shown: Vec<String> = unknown.iter().take(SHOWN).map(|&i| ids.show(i)).collect();
    let more = unknown.len().saturating_sub(SHOWN);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Error::Param {
        rule: "R-INDEX-10",
        what: format!(
            "{} ids are not live documents of the index: {}{tail}",
            unknown.len(),
            shown.join(", ")
        ),
    }
}

/// Tombstones the live documents of `ids` at `dir` in one commit (R-INDEX-10); returns how many.
/// An id no live document has is an error before any change; an empty `ids` commits nothing.
pub fn delete(dir: &Path, ids: &Ids) -> Result<usize> {
    let mut files = Uncommitted::new(dir, lock(dir)?);
    // R-INDEX-16: the ids and tombstones, not the segments' codes.
    let index = Committed::open(dir)?;
    let found = index.find(ids)?;
    let unknown: Vec<usize> = (0..found.len()).filter(|&i| found[i].is_none()).collect();
    if !unknown.is_empty() {
        return Err(unknown_ids(ids, &unknown));
    }
    let mut positions: Vec<u64> = found.iter().flatten().map(|&p| p as u64).collect();
    positions.sort_unstable();
    positions.dedup();
    if positions.is_empty() {
        return Ok(0);
    }
    commit(dir, &index, None, &positions, &mut files)?;
    Ok(positions.len())
}
