//! libFuzzer target `packed`: the packed-input validators (`src/packed.rs`).
#![no_main]

#[global_allocator]
static ALLOC: lateint_ref_fuzz::alloc::Counting = lateint_ref_fuzz::alloc::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| lateint_ref_fuzz::packed::run(data));
