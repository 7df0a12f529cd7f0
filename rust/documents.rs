//! Documents as the scorers read them: a borrowed f32 packed batch, or an owned `DocumentSet`
//! stored once in f32 or bfloat16 (R-MAXSIM-3, R-MAXSIM-11).

use rayon::prelude::*;

use crate::bf16;
use crate::kernel::DocRows;
use crate::memory;
use crate::packed::{self, Packed};
use crate::queries::Precision;
use crate::{Error, Result};

/// Token rows of all documents, in one buffer.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// `[n_tokens][dim] f32`.
    F32(&'a [f32]),
    /// `[n_tokens][dim_p] u16` bfloat16, `dim_p = 2 * ceil(dim / 2)`.
    Bf16(&'a [u16]),
    /// One `[n_tokens_j][dim] f32` buffer per document, as the caller's arrays hold them.
    Parts(&'a [&'a [f32]]),
}

/// A validated view of the documents the scorers read.
#[derive(Debug, Clone, Copy)]
pub struct Docs<'a> {
    /// Components per token.
    pub dim: usize,
    /// `[n_docs + 1]`, strictly increasing from 0 to n_tokens.
    pub offsets: &'a [usize],
    /// The token rows.
    pub rows: Rows<'a>,
    /// True when the finiteness of the f32 rows (R-MAXSIM-9) is left to the scorers, which fold it
    /// into the products they compute and settle a doubt with `check` (so the rows are read from
    /// memory once); false when the rows were validated before.
    pub deferred: bool,
}

impl<'a> Docs<'a> {
    /// Views a validated f32 packed batch.
    pub fn from_packed(p: &'a Packed<'a>) -> Self {
        Docs {
            dim: p.dim,
            offsets: &p.offsets,
            rows: Rows::F32(p.data),
            deferred: p.deferred,
        }
    }

    /// Views documents given one buffer each (`parts[j]` holds `offsets[j + 1] - offsets[j] >= 1`
    /// rows of `dim` values), their finiteness left to the scorers.
    pub fn from_parts(dim: usize, offsets: &'a [usize], parts: &'a [&'a [f32]]) -> Self {
        debug_assert!(parts.len() + 1 == offsets.len());
        Docs {
            dim,
            offsets,
            rows: Rows::Parts(parts),
            deferred: true,
        }
    }

    /// R-MAXSIM-9 for the documents of `range` when their check was deferred (else nothing to
    /// do): the first non-finite value in document order, so the lowest failing range names the
    /// value a check of everything before scoring would name.
    pub fn check(&self, range: std::ops::Range<usize>) -> Result<()> {
        if !self.deferred {
            return Ok(());
        }
        for d in range {
            let DocRows::F32(rows) = self.doc(d).0 else {
                continue;
            };
            if packed::all_finite(rows) {
                continue;
            }
            let pos = rows.iter().position(|x| !x.is_finite()).unwrap_or(0);
            return Err(Error::NonFinite {
                what: "document",
                index: d,
                token: pos / self.dim,
                component: pos % self.dim,
                value: rows[pos],
            });
        }
        Ok(())
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when there is no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The arithmetic the rows call for.
    pub fn precision(&self) -> Precision {
        match self.rows {
            Rows::F32(_) | Rows::Parts(_) => Precision::F32,
            Rows::Bf16(_) => Precision::Bf16,
        }
    }

    /// Document `i`: its rows and its number of tokens (>= 1).
    pub fn doc(&self, i: usize) -> (DocRows<'a>, usize) {
        let (start, end) = (self.offsets[i], self.offsets[i + 1]);
        match self.rows {
            Rows::F32(r) => (
                DocRows::F32(&r[start * self.dim..end * self.dim]),
                end - start,
            ),
            Rows::Bf16(r) => {
                let dim_p = self.dim.div_ceil(2) * 2;
                (DocRows::Bf16(&r[start * dim_p..end * dim_p]), end - start)
            }
            Rows::Parts(p) => (DocRows::F32(p[i]), end - start),
        }
    }
}

/// Values converted per parallel task when storing bfloat16 documents.
const COPY_CHUNK: usize = 1 << 16;

/// Owned storage of a `DocumentSet`.
#[derive(Debug, Clone)]
enum Store {
    F32(Vec<f32>),
    Bf16(Vec<u16>),
}

/// Documents validated and stored once, to be scored against many queries.
#[derive(Debug, Clone)]
pub struct DocumentSet {
    dim: usize,
    offsets: Vec<usize>,
    store: Store,
}

impl DocumentSet {
    /// Validates a packed batch `data: [n_tokens * dim] f32`, `offsets: [n_docs + 1]` and stores
    /// it as `storage` ("float32" or "bfloat16", rounded to nearest even).
    pub fn new(data: &[f32], dim: usize, offsets: &[i64], storage: &str) -> Result<Self> {
        let precision = match storage {
            "float32" => Precision::F32,
            "bfloat16" => Precision::Bf16,
            other => {
                return Err(Error::Storage {
                    got: other.to_string(),
                });
            }
        };
        let packed = Packed::new("document", data, dim, offsets)?;
        let store = match precision {
            Precision::F32 => {
                let mut out = memory::reserve(data.len())?;
                out.extend_from_slice(data);
                Store::F32(out)
            }
            Precision::Bf16 => {
                let dim_p = dim.div_ceil(2) * 2;
                let mut out = memory::zeroed::<u16>(data.len() / dim * dim_p)?;
                let rows = COPY_CHUNK / dim_p + 1;
                let converted = out
                    .par_chunks_mut(rows * dim_p)
                    .zip(data.par_chunks(rows * dim))
                    .all(|(dst, src)| {
                        src.chunks_exact(dim)
                            .zip(dst.chunks_exact_mut(dim_p))
                            .all(|(s, d)| {
                                s.iter().zip(d.iter_mut()).all(|(x, y)| {
                                    bf16::from_f32(*x, "document").map(|b| *y = b).is_ok()
                                })
                            })
                    });
                if !converted {
                    // Report the first overflowing value in storage order, whatever the threads.
                    for x in data {
                        bf16::from_f32(*x, "document")?;
                    }
                }
                Store::Bf16(out)
            }
        };
        Ok(DocumentSet {
            dim,
            offsets: packed.offsets,
            store,
        })
    }

    /// The view the scorers read.
    pub fn view(&self) -> Docs<'_> {
        let rows = match &self.store {
            Store::F32(v) => Rows::F32(v),
            Store::Bf16(v) => Rows::Bf16(v),
        };
        Docs {
            dim: self.dim,
            offsets: &self.offsets,
            rows,
            deferred: false,
        }
    }

    /// Components per token.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `[n_docs + 1]` token offsets.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// "float32" or "bfloat16".
    pub fn storage(&self) -> &'static str {
        match self.store {
            Store::F32(_) => "float32",
            Store::Bf16(_) => "bfloat16",
        }
    }

    /// Bytes held by the token rows.
    pub fn nbytes(&self) -> usize {
        match &self.store {
            Store::F32(v) => v.len() * 4,
            Store::Bf16(v) => v.len() * 2,
        }
    }
}

#[cfg(test)]
#[path = "unit/documents.rs"]
mod tests;
