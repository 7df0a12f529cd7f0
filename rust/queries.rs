//! Queries prepared for the kernels: transposed so that query tokens lie across the SIMD lanes.

use crate::packed::Packed;
use crate::{Error, Result};
use crate::{bf16, memory};

/// Query tokens are padded to a multiple of this many lanes (the widest register, 16 f32).
pub const LANE_PAD: usize = 16;

/// The arithmetic of a scoring call (R-MAXSIM-10, R-MAXSIM-11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32 inputs, f32 fused multiply-add.
    F32,
    /// Inputs rounded to bfloat16, products accumulated in f32.
    Bf16,
}

/// One query in kernel layout.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Real query tokens (>= 1).
    pub len: usize,
    /// `len` rounded up to a multiple of `LANE_PAD`.
    pub pad: usize,
    /// Rows of `qt`: `dim` for f32, `2 * ceil(dim / 2)` for bfloat16 (a zero pad component).
    pub dim_p: usize,
    /// `[dim_p][pad] f32`, zero in the padding lanes; bfloat16-rounded values for `Precision::Bf16`.
    pub qt: Vec<f32>,
    /// `[dim_p / 2][pad][2] u16` bfloat16 pairs for the `vdpbf16ps` kernel; empty for f32.
    pub qp: Vec<u16>,
}

impl Prepared {
    /// Transposes `rows: [len][dim] f32` (finite, `len >= 1`).
    pub fn new(rows: &[f32], dim: usize, precision: Precision) -> Result<Self> {
        let len = rows.len() / dim;
        let pad = len.div_ceil(LANE_PAD) * LANE_PAD;
        let dim_p = match precision {
            Precision::F32 => dim,
            Precision::Bf16 => dim.div_ceil(2) * 2,
        };
        // R-MAXSIM-15: up to 16 times the query's own size (one-token queries).
        let mut qt = memory::zeroed::<f32>(memory::product(dim_p, pad, 4)?)?;
        for (i, row) in rows.chunks_exact(dim).enumerate() {
            for (k, &x) in row.iter().enumerate() {
                qt[k * pad + i] = match precision {
                    Precision::F32 => x,
                    Precision::Bf16 => bf16::round_f32(x, "query")?,
                };
            }
        }
        let qp = match precision {
            Precision::F32 => Vec::new(),
            Precision::Bf16 => {
                let mut qp = memory::zeroed::<u16>(qt.len())?;
                for k2 in 0..dim_p / 2 {
                    for i in 0..pad {
                        for half in 0..2 {
                            // Exact: qt already holds bfloat16 values.
                            let x = qt[(2 * k2 + half) * pad + i];
                            qp[(k2 * pad + i) * 2 + half] = (x.to_bits() >> 16) as u16;
                        }
                    }
                }
                qp
            }
        };
        Ok(Prepared {
            len,
            pad,
            dim_p,
            qt,
            qp,
        })
    }
}

/// Prepares every query of a validated packed batch.
pub fn prepare_all(queries: &Packed, precision: Precision) -> Result<Vec<Prepared>> {
    (0..queries.len())
        .map(|i| Prepared::new(queries.item(i), queries.dim, precision))
        .collect()
}

/// R-MAXSIM-7: queries and documents share one dimension.
pub fn check_same_dim(query_dim: usize, doc_dim: usize) -> Result<()> {
    if query_dim != doc_dim {
        return Err(Error::Dim {
            what: format!("query dim {query_dim} != document dim {doc_dim}"),
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "unit/queries.rs"]
mod tests;
