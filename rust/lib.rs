//! Native core of lateint-ref: exact late-interaction (MaxSim) scoring and search.
//!
//! The pure core takes slices and returns `Result<_, Error>`; it knows nothing of Python. The
//! binding lives in `python.rs` alone and is compiled only with the `python` feature (maturin).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod bf16;
pub mod documents;
pub mod error;
pub mod index;
pub mod kernel;
pub mod linear;
pub mod maxsim;
pub mod memory;
pub mod packed;
pub mod peaks;
pub mod queries;
pub mod search;
pub mod threads;

#[cfg(test)]
#[path = "unit/support.rs"]
mod unit_support;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
