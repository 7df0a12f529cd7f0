//! libFuzzer target `index`: every index file kind through its reader (`src/index.rs`).
#![no_main]

#[global_allocator]
static ALLOC: lateint_ref_fuzz::alloc::Counting = lateint_ref_fuzz::alloc::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| lateint_ref_fuzz::index::run(data));
