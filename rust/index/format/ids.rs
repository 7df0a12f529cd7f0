//! External ids of a segment (R-INDEX-5 sections 6-7): all integers or all strings, distinct.

use std::collections::HashSet;

use super::container::{bytes_of, view};
use super::fail;
use crate::Result;

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

    /// The id at `i` as a message shows it (strings quoted); `?` past the end.
    pub fn show(&self, i: usize) -> String {
        match self {
            Ids::Int(v) => v.get(i).map_or("?".into(), |x| x.to_string()),
            Ids::Str(v) => v.get(i).map_or("?".into(), |x| format!("{x:?}")),
        }
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

    /// `(id_kind, section 6, section 7)` of a segment holding these ids (R-INDEX-5).
    pub fn sections(&self) -> (u64, Vec<u8>, Vec<u8>) {
        match self {
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
        }
    }

    /// Reads and checks the ids of a segment (R-INDEX-5 sections 6-7): distinct, one per document.
    pub fn read(f: &str, kind: u64, index: &[u8], text: &[u8], n_docs: usize) -> Result<Ids> {
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
}
