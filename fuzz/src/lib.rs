//! Fuzz harnesses of lateint-ref (fuzz/README.md): the bodies of the libFuzzer targets in
//! `fuzz_targets/`, plain functions that `tests/corpus.rs` also replays over the committed corpus
//! on the stable compiler.
//!
//! Each harness turns any failure of a law into a panic, which libFuzzer reports as a crash: a
//! reader that panics, overflows, hangs, allocates more than `alloc::bound` of its input's length,
//! or accepts what a stricter reading of the same bytes rejects.

pub mod alloc;
pub mod index;
pub mod packed;
