//! Deleting documents by external id (R-INDEX-10) and the commit shared by every change of a
//! live index: the segments kept, an optional new one, and the tombstones of the commit
//! (R-INDEX-6, R-INDEX-9).

use std::path::Path;

use super::Index;
use super::commit::{Uncommitted, lock};
use super::format::manifest::{self, ROLE_TOMBSTONES};
use super::format::{Entry, Ids, MANIFEST, tombstones};
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
    let index = Index::open(dir)?;
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

/// A new segment of a commit: its entry, documents and tokens.
pub struct Added {
    pub entry: Entry,
    pub n_docs: usize,
    pub n_tokens: usize,
}

/// Commits generation `index.generation + 1` (R-INDEX-6): the codec and segments of `index`,
/// `added` after them, and the tombstones of `index` with `more` (global positions) in a new
/// tombstones file when any (R-INDEX-9). No progress is reported from here (R-INDEX-8). A
/// superseded tombstones file is removed once the commit is visible (readers that miss it read
/// the new manifest, R-INDEX-12).
pub fn commit(
    dir: &Path,
    index: &Index,
    added: Option<Added>,
    more: &[u64],
    files: &mut Uncommitted,
) -> Result<()> {
    let generation = index.generation + 1;
    let mut entries: Vec<Entry> = index
        .entries
        .iter()
        .filter(|e| e.role != ROLE_TOMBSTONES)
        .cloned()
        .collect();
    let (mut n_docs, mut n_tokens) = (index.n_docs(), index.n_tokens());
    if let Some(a) = added {
        n_docs += a.n_docs;
        n_tokens += a.n_tokens;
        entries.push(a.entry);
    }
    let mut all: Vec<u64> = index.tombstones().iter().chain(more).copied().collect();
    all.sort_unstable();
    all.dedup();
    if !all.is_empty() {
        let name = format!("tombstones-{generation}.lti");
        if index.entries.iter().any(|e| e.name == name) {
            return Err(Error::Format {
                file: MANIFEST.into(),
                check: format!("generation {} already names {name}", index.generation),
            });
        }
        files.add(&name);
        entries.push(tombstones::write(dir, &name, n_docs, &all, &mut |_, _| {
            Ok(())
        })?);
    }
    let fields = [
        generation,
        entries.len() as u64,
        index.codec.dim as u64,
        index.codec.buckets.nbits as u64,
        n_docs as u64,
        n_tokens as u64,
    ];
    manifest::write(dir, fields, &entries, &mut || files.committed())?;
    let kept: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    remove_unnamed(dir, index, &kept);
    Ok(())
}

/// Removes the files of `index`'s commit that the new commit (`kept`) no longer names, after it
/// is visible (best effort: a file left behind is one no manifest names, R-INDEX-6).
pub fn remove_unnamed(dir: &Path, index: &Index, kept: &[&str]) {
    for e in &index.entries {
        if !kept.contains(&e.name.as_str()) {
            let _ = std::fs::remove_file(dir.join(&e.name));
        }
    }
}
