//! The packed form of a ragged batch of token matrices (R-MAXSIM-3, R-MAXSIM-4): all tokens in one
//! row-major `vectors: [n_tokens, dim] f32` buffer, item `i` owning rows `offsets[i]..offsets[i+1]`.

use rayon::prelude::*;

use crate::{Error, Result};

/// A validated, borrowed packed batch: `data: [offsets[n], dim] f32`, every item non-empty.
#[derive(Debug, Clone)]
pub struct Packed<'a> {
    /// Components per token (>= 1).
    pub dim: usize,
    /// `[n_items + 1]`, `offsets[0] == 0`, strictly increasing, `offsets[n_items] == n_tokens`.
    pub offsets: Vec<usize>,
    /// `[n_tokens * dim] f32`, row-major, all finite unless `deferred`.
    pub data: &'a [f32],
    /// True when R-MAXSIM-9 is left to the scorer, which checks each tile of documents as it
    /// reads it (`check_items`), so that the rows are read from memory once.
    pub deferred: bool,
}

impl<'a> Packed<'a> {
    /// Validates `data: [n_tokens * dim] f32` and `offsets: [n_items + 1] i64` and borrows them.
    ///
    /// `what` ("query" or "document") names the items in error messages.
    pub fn new(what: &'static str, data: &'a [f32], dim: usize, offsets: &[i64]) -> Result<Self> {
        let packed = Packed::deferred(what, data, dim, offsets)?;
        packed.check_finite(what)?;
        Ok(Packed {
            deferred: false,
            ..packed
        })
    }

    /// As `new`, but the finiteness of the values (R-MAXSIM-9) is left to the caller, which must
    /// run `check_items` over every item before it returns a result.
    pub fn deferred(
        what: &'static str,
        data: &'a [f32],
        dim: usize,
        offsets: &[i64],
    ) -> Result<Self> {
        if dim == 0 {
            return Err(Error::Dim {
                what: format!("{what} vectors have dimension 0"),
            });
        }
        let offsets = check_offsets(what, offsets, data.len() / dim)?;
        if !data.len().is_multiple_of(dim) {
            return Err(Error::Offsets {
                what,
                reason: format!(
                    "cover a buffer of {} values, not a multiple of dim {dim}",
                    data.len()
                ),
            });
        }
        Ok(Packed {
            dim,
            offsets,
            data,
            deferred: true,
        })
    }

    /// Number of items (queries or documents).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when there is no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows of item `i`: `[n_tokens_i * dim] f32`.
    pub fn item(&self, i: usize) -> &'a [f32] {
        &self.data[self.offsets[i] * self.dim..self.offsets[i + 1] * self.dim]
    }

    /// R-MAXSIM-9: every component is finite. Reports the first offending value in item order.
    fn check_finite(&self, what: &'static str) -> Result<()> {
        // Branch-free per chunk so that it vectorises; chunks checked in parallel.
        let all_finite = self.data.par_chunks(1 << 16).all(all_finite);
        if all_finite {
            return Ok(());
        }
        Err(self.first_non_finite(what, 0))
    }

    /// R-MAXSIM-9 for the items of `range` (one thread), when the check was deferred: the first
    /// offending value of the range in item order, so the lowest failing range names the same
    /// value as `new` would.
    pub fn check_items(&self, what: &'static str, range: std::ops::Range<usize>) -> Result<()> {
        if !self.deferred || range.is_empty() {
            return Ok(());
        }
        let (start, end) = (self.offsets[range.start], self.offsets[range.end]);
        let rows = &self.data[start * self.dim..end * self.dim];
        if all_finite(rows) {
            return Ok(());
        }
        Err(self.first_non_finite(what, start * self.dim))
    }

    /// The error naming the first non-finite value at or after position `from` of `data`.
    fn first_non_finite(&self, what: &'static str, from: usize) -> Error {
        let pos = from
            + self.data[from..]
                .iter()
                .position(|x| !x.is_finite())
                .unwrap_or(0);
        let row = pos / self.dim;
        let index = self
            .offsets
            .partition_point(|&o| o <= row)
            .saturating_sub(1);
        Error::NonFinite {
            what,
            index,
            token: row - self.offsets[index],
            component: pos % self.dim,
            value: self.data[pos],
        }
    }
}

/// Whether every value is finite, at the widest vector width of this CPU (the check runs at
/// memory bandwidth, not at the baseline SSE2 rate the crate is compiled for).
pub fn all_finite(v: &[f32]) -> bool {
    /// Branch-free per block so that it vectorises; stops at the first block with a bad value.
    #[inline(always)]
    fn blocks(v: &[f32]) -> bool {
        v.chunks(256).all(|c| {
            c.iter()
                .fold(true, |ok, x| ok & (x.to_bits() & 0x7fff_ffff < 0x7f80_0000))
        })
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn avx512(v: &[f32]) -> bool {
            blocks(v)
        }
        #[target_feature(enable = "avx2")]
        fn avx2(v: &[f32]) -> bool {
            blocks(v)
        }
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was just detected.
            return unsafe { avx512(v) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { avx2(v) };
        }
    }
    blocks(v)
}

/// R-MAXSIM-4 and R-MAXSIM-8: `offsets` starts at 0, ends at `n_tokens` and strictly increases.
pub fn check_offsets(what: &'static str, offsets: &[i64], n_tokens: usize) -> Result<Vec<usize>> {
    let bad = |reason: String| Error::Offsets { what, reason };
    let (&first, &last) = match (offsets.first(), offsets.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(bad("must hold at least one value (n_items + 1)".into())),
    };
    if first != 0 {
        return Err(bad(format!("must start at 0, got {first}")));
    }
    if usize::try_from(last).ok() != Some(n_tokens) {
        return Err(bad(format!(
            "must end at the number of tokens {n_tokens}, got {last}"
        )));
    }
    let mut out = Vec::with_capacity(offsets.len());
    for (i, w) in offsets.windows(2).enumerate() {
        if w[1] < w[0] {
            return Err(bad(format!("decrease at item {i}: {} then {}", w[0], w[1])));
        }
        if w[1] == w[0] {
            return Err(Error::Empty { what, index: i });
        }
    }
    // Every value is now in 0..=n_tokens, so the conversion cannot fail.
    out.extend(offsets.iter().map(|&o| o as usize));
    Ok(out)
}

#[cfg(test)]
#[path = "unit/packed.rs"]
mod tests;
