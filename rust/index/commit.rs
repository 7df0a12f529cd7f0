//! The directory side of a commit (R-INDEX-6, R-INDEX-8): the target of a build, the writers'
//! lock, the files written before a commit, removed again when the commit does not happen, and
//! the commit shared by every change of a live index (R-INDEX-9..12).

use std::path::Path;

use super::committed::Committed;
use super::format::manifest::{self, ROLE_TOMBSTONES};
use super::format::{Entry, MANIFEST, tombstones};
use crate::{Error, Result};

/// The writers' lock file (R-INDEX-6).
pub const LOCK: &str = "LOCK";

/// What a first commit that did not happen can leave in its folder (R-INDEX-13): the lock, and
/// the first generation's files and temporaries, a streaming build's spill file and segments
/// included (R-INDEX-17).
fn is_leftover(name: &str) -> bool {
    let base = name.strip_suffix(".tmp").unwrap_or(name);
    name == LOCK
        || name == format!("{MANIFEST}.tmp")
        || base == super::build::CODEC_NAME
        || base == super::build::SEGMENT_NAME
        || base == super::stream::SPILL_NAME
        || super::stream::is_first_commit_segment(base)
}

/// R-INDEX-13: whether `dir` is a folder with no committed manifest that holds nothing but what
/// an index writer leaves there (an empty folder included): an index may be created into it.
pub fn uncommitted(dir: &Path) -> bool {
    if !dir.is_dir() || dir.join(MANIFEST).exists() {
        return false;
    }
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.into_iter().all(|e| {
            e.ok().is_some_and(|e| {
                e.file_type().is_ok_and(|t| t.is_file())
                    && e.file_name().to_str().is_some_and(is_leftover)
            })
        }),
        Err(_) => false,
    }
}

/// R-INDEX-6, R-INDEX-13: the target must not exist, or be a folder without a committed
/// manifest holding only a writer's leftovers (an empty folder). Returns whether it was created
/// here.
pub fn prepare_dir(dir: &Path) -> Result<bool> {
    let exists = dir.exists();
    if exists && !uncommitted(dir) {
        return Err(Error::Param {
            rule: "R-INDEX-6",
            what: format!(
                "{} exists and is not an empty directory (nor one a first commit that did not \
                 happen left, R-INDEX-13)",
                dir.display()
            ),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Io {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(!exists)
}

/// R-INDEX-13: under the writer's lock, removes what an uncommitted first commit left in `dir`
/// (all but `LOCK`); fails when a manifest was committed meanwhile.
pub fn clear_leftovers(dir: &Path) -> Result<()> {
    if !uncommitted(dir) {
        return Err(Error::Param {
            rule: "R-INDEX-6",
            what: format!("{} exists and is not an empty directory", dir.display()),
        });
    }
    let io = |e: std::io::Error| Error::Io {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        if e.file_name() != LOCK {
            std::fs::remove_file(e.path()).map_err(io)?;
        }
    }
    super::format::container::sync_dir(dir)
}

/// The files a build or an addition writes before its commit (R-INDEX-8): unless `committed` is
/// called, dropping this removes them and their temporaries; for a build also `LOCK`, and the
/// directory when the build created it. The directory is left as it was before the call.
pub struct Uncommitted<'a> {
    dir: &'a Path,
    names: Vec<String>,
    /// The writer's lock, held until dropped (R-INDEX-6).
    lock: Option<std::fs::File>,
    /// Whether `LOCK` and the directory go too (a build: they were not there before it).
    pub remove_lock: bool,
    pub remove_dir: bool,
    committed: bool,
}

impl<'a> Uncommitted<'a> {
    pub fn new(dir: &'a Path, lock: std::fs::File) -> Self {
        Uncommitted {
            dir,
            names: vec![MANIFEST.to_string()],
            lock: Some(lock),
            remove_lock: false,
            remove_dir: false,
            committed: false,
        }
    }

    /// `name` is about to be written.
    pub fn add(&mut self, name: &str) {
        self.names.push(name.to_string());
    }

    /// The new manifest is visible: the files are committed and stay.
    pub fn committed(&mut self) {
        self.committed = true;
    }
}

impl Drop for Uncommitted<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Best effort: whatever cannot be removed is a file no manifest names, which readers
        // ignore (R-INDEX-6). The manifest itself is never removed, only its temporary.
        for name in &self.names {
            if name != MANIFEST {
                let _ = std::fs::remove_file(self.dir.join(name));
            }
            let _ = std::fs::remove_file(self.dir.join(format!("{name}.tmp")));
        }
        if self.remove_lock {
            let _ = std::fs::remove_file(self.dir.join(LOCK));
        }
        drop(self.lock.take());
        if self.remove_dir {
            let _ = std::fs::remove_dir(self.dir);
        }
    }
}

/// R-INDEX-6, R-INDEX-14: one writer at a time, by an advisory lock (`flock`) on `dir/LOCK`, held
/// until dropped and released by the operating system when its process ends. Never waits: a lock
/// held elsewhere is `Error::Locked` at once (callers that wait poll this).
pub fn lock(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join(LOCK);
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            dir: dir.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
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
    index: &Committed,
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
    let (mut n_docs, mut n_tokens) = (index.n_docs, index.n_tokens);
    if let Some(a) = added {
        n_docs += a.n_docs;
        n_tokens += a.n_tokens;
        entries.push(a.entry);
    }
    let mut all: Vec<u64> = index.tombstones.iter().chain(more).copied().collect();
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
    remove_unnamed(dir, &index.entries, &kept);
    Ok(())
}

/// Removes the files of the previous commit (`entries`) that the new commit (`kept`) no longer
/// names, after it is visible (best effort: a file left behind is one no manifest names,
/// R-INDEX-6).
pub fn remove_unnamed(dir: &Path, entries: &[Entry], kept: &[&str]) {
    for e in entries {
        if !kept.contains(&e.name.as_str()) {
            let _ = std::fs::remove_file(dir.join(&e.name));
        }
    }
}
