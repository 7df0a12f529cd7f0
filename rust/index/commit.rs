//! The directory side of a commit (R-INDEX-6, R-INDEX-8): the target of a build, the writers'
//! lock, and the files written before a commit, removed again when the commit does not happen.

use std::path::Path;

use super::format::MANIFEST;
use crate::{Error, Result};

/// The writers' lock file (R-INDEX-6).
pub const LOCK: &str = "LOCK";

/// What a first commit that did not happen can leave in its folder (R-INDEX-13): the lock, and
/// the first generation's files and temporaries.
fn is_leftover(name: &str) -> bool {
    let base = name.strip_suffix(".tmp").unwrap_or(name);
    name == LOCK
        || name == format!("{MANIFEST}.tmp")
        || base == super::build::CODEC_NAME
        || base == super::build::SEGMENT_NAME
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
    container_sync(dir)
}

fn container_sync(dir: &Path) -> Result<()> {
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

/// R-INDEX-6: one writer at a time, by an advisory lock on `dir/LOCK` held until dropped.
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
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Param {
            rule: "R-INDEX-6",
            what: format!("{} is being written by another process", dir.display()),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}
