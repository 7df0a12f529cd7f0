//! Allocations sized by the input (R-MAXSIM-15): reported as `Error::Memory`, never an abort.

use crate::{Error, Result};

/// `n` default values, or `Error::Memory` when the allocation cannot be made.
pub fn zeroed<T: Clone + Default>(n: usize) -> Result<Vec<T>> {
    let mut v = reserve(n)?;
    v.resize(n, T::default());
    Ok(v)
}

/// An empty vector with room for `n` values, or `Error::Memory`.
pub fn reserve<T>(n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::Memory {
        bytes: (n as u128) * (size_of::<T>() as u128),
    })?;
    Ok(v)
}

/// `a * b` for a result size, or `Error::Memory` when it overflows `usize`.
pub fn product(a: usize, b: usize, item_bytes: usize) -> Result<usize> {
    a.checked_mul(b).ok_or(Error::Memory {
        bytes: (a as u128) * (b as u128) * (item_bytes as u128),
    })
}
