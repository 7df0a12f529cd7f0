//! A counting global allocator: the peak of the bytes a thread holds while it runs a closure, so
//! that a harness can check that a reader allocates no more than its input warrants (R-INDEX-2:
//! sizes are checked against the bytes present before any allocation).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting the bytes of each thread. Install it in the binary that runs a
/// harness (`#[global_allocator]`); `measure` panics when it is not installed.
pub struct Counting;

thread_local! {
    /// Bytes this thread holds now (those freed here that another thread allocated included).
    static NOW: Cell<isize> = const { Cell::new(0) };
    /// The largest `NOW` since the last `measure` began.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    // `try_with`: the thread's storage may be gone while it exits; those bytes are not counted.
    let _ = NOW.try_with(|now| {
        let n = now.get().wrapping_add(bytes);
        now.set(n);
        let _ = PEAK.try_with(|p| p.set(p.get().max(n)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are plain thread-local
// cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as `alloc`.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Runs `f` and returns its result with the peak of the bytes this thread held meanwhile, above
/// what it held when `f` began. Panics when `Counting` is not the global allocator (the bound
/// would be checked against 0: vacuous).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = NOW.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let probe = std::hint::black_box(vec![0u8; 64]);
    assert!(
        PEAK.with(Cell::get) >= start + 64,
        "the counting allocator is not installed (#[global_allocator] Counting)"
    );
    drop(probe);
    PEAK.with(|p| p.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get) - start;
    (out, peak.max(0) as usize)
}

/// Bytes any reader may allocate beyond `FACTOR` times its input: error messages, the few
/// fixed-size vectors of a header.
pub const SLACK: usize = 64 << 10;
/// A reader that accepts its input may hold this many times its bytes (the parsed copies of its
/// sections and their per-item overheads, as `Vec<String>` ids and the hash set of the check
/// that they are distinct), plus `SLACK` and any table it derives (`index::run` names them).
pub const FACTOR: usize = 8;

/// The most a reader of `len` input bytes may allocate (`FACTOR`, `SLACK`).
pub fn bound(len: usize) -> usize {
    FACTOR * len + SLACK
}
