//! Allocations sized by the input (R-MAXSIM-15): reported as `Error::Memory`, never an abort.
//!
//! One allocation may take at most the machine's memory (`limit`): a larger one is refused up
//! front, since an over-committing system would accept it and kill the process when it is used.

use std::sync::OnceLock;

use crate::{Error, Result};

/// `n` default values, or `Error::Memory` when the allocation cannot be made.
pub fn zeroed<T: Clone + Default>(n: usize) -> Result<Vec<T>> {
    let mut v = reserve(n)?;
    v.resize(n, T::default());
    Ok(v)
}

/// An empty vector with room for `n` values, or `Error::Memory` when its bytes overflow, exceed
/// `limit()` or cannot be allocated.
pub fn reserve<T>(n: usize) -> Result<Vec<T>> {
    let bytes = (n as u128) * (size_of::<T>() as u128);
    // R-MAXSIM-15: refused before any allocation is tried.
    if bytes > limit() {
        return Err(Error::Memory { bytes });
    }
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::Memory { bytes })?;
    Ok(v)
}

/// `a * b` for a result size, or `Error::Memory` when it overflows `usize`.
pub fn product(a: usize, b: usize, item_bytes: usize) -> Result<usize> {
    a.checked_mul(b).ok_or(Error::Memory {
        bytes: (a as u128) * (b as u128) * (item_bytes as u128),
    })
}

/// The most bytes one allocation may take (R-MAXSIM-15): physical memory plus swap (Linux), or
/// physical memory (other Unix systems); unbounded where neither is known.
pub fn limit() -> u128 {
    static LIMIT: OnceLock<u128> = OnceLock::new();
    *LIMIT.get_or_init(|| machine_memory().unwrap_or(u128::MAX))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn machine_memory() -> Option<u128> {
    // SAFETY: `sysinfo` only writes the struct it is given, zeroed here (a valid value).
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to that struct.
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return None;
    }
    let unit = u128::from(info.mem_unit.max(1));
    let total = (info.totalram as u128 + info.totalswap as u128) * unit;
    (total > 0).then_some(total)
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn machine_memory() -> Option<u128> {
    // SAFETY: `sysconf` reads system constants; it has no memory effects.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages > 0 && size > 0).then(|| pages as u128 * size as u128)
}

#[cfg(not(unix))]
fn machine_memory() -> Option<u128> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R-MAXSIM-15: past the machine's memory, or past `usize`, nothing is allocated.
    #[test]
    fn oversized_allocations_are_refused_up_front() {
        assert!(limit() > 1 << 20);
        let over = usize::try_from(limit() / 8 + 1).unwrap_or(usize::MAX);
        match reserve::<u64>(over) {
            Err(Error::Memory { bytes }) => assert!(bytes > limit() || over == usize::MAX),
            other => panic!(
                "expected Error::Memory, got {:?}",
                other.map(|v| v.capacity())
            ),
        }
        assert!(matches!(
            zeroed::<u8>(usize::MAX),
            Err(Error::Memory { .. })
        ));
        assert!(matches!(
            product(usize::MAX, 2, 4),
            Err(Error::Memory { .. })
        ));
        assert_eq!(reserve::<u8>(10).map(|v| v.capacity() >= 10), Ok(true));
    }
}
