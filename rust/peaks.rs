//! Micro-benchmarks of this CPU's limits, so that `make bench` reports every kernel as a share of
//! what the core can do rather than of a figure copied from a data sheet.
//!
//! Each limit is a loop with enough independent accumulators to hide the instruction's latency on
//! every x86 core we know (16 vector registers of AVX-512, 12 of AVX2), timed over at least
//! `seconds` of wall time on the calling thread:
//!
//! * `fma_f32`: `vfmadd231ps`, 2 flops per lane;
//! * `dot_bf16`: `vdpbf16ps` (AVX512_BF16), 2 bfloat16 products and 2 adds per f32 lane;
//! * `dot_i8`: `vpdpbusd` (AVX512_VNNI or AVX-VNNI), 4 u8 x i8 products and 4 adds per i32 lane;
//! * `read`: the finiteness check of packed inputs (`packed::all_finite`) over a buffer far larger
//!   than the last-level cache (GB/s).
//!
//! Each returns `None` when this CPU lacks the instruction.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::hint::black_box;
use std::time::Instant;

use crate::packed::all_finite;

/// A limit that `measure` can time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peak {
    /// f32 fused multiply-add, GFLOP/s.
    FmaF32,
    /// bfloat16 pair dot product into f32, GFLOP/s.
    DotBf16,
    /// u8 x i8 quad dot product into i32, GOP/s.
    DotI8,
    /// Single-core sequential read bandwidth, GB/s.
    Read,
}

impl Peak {
    /// The limit of that name: "fma_f32", "dot_bf16", "dot_i8" or "read".
    pub fn by_name(name: &str) -> Option<Peak> {
        match name {
            "fma_f32" => Some(Peak::FmaF32),
            "dot_bf16" => Some(Peak::DotBf16),
            "dot_i8" => Some(Peak::DotI8),
            "read" => Some(Peak::Read),
            _ => None,
        }
    }
}

/// Iterations of the compute loops between two looks at the clock.
const STEP: u64 = 1 << 20;
/// Bytes of the buffer the read bandwidth streams over (256 MiB: past any last-level cache).
const READ_BYTES: usize = 256 << 20;

/// The best rate over `repeats` timings of at least `seconds` each: GFLOP/s (GOP/s for int8,
/// GB/s for the read), and the instruction set it ran with; `None` where this CPU lacks it.
pub fn measure(peak: Peak, seconds: f64, repeats: usize) -> Option<(f64, &'static str)> {
    let (ops_per_step, isa, step): (f64, &'static str, fn(u64) -> f32) = pick(peak)?;
    if peak == Peak::Read {
        return read_bandwidth(seconds, repeats).map(|r| (r, isa));
    }
    step(STEP / 16); // warm-up: wakes the wide units and raises the clock
    let mut best = 0.0f64;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let mut steps = 0u64;
        loop {
            black_box(step(STEP));
            steps += 1;
            let s = t.elapsed().as_secs_f64();
            if s >= seconds {
                best = best.max(steps as f64 * STEP as f64 * ops_per_step / s / 1e9);
                break;
            }
        }
    }
    Some((best, isa))
}

/// The loop for `peak` on this CPU: operations per iteration, the instruction set, the loop.
#[allow(clippy::type_complexity)]
fn pick(peak: Peak) -> Option<(f64, &'static str, fn(u64) -> f32)> {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = is_x86_feature_detected!("avx512f");
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        match peak {
            // 16 accumulators x 16 lanes x 2 flops; 12 x 8 x 2 on AVX2.
            Peak::FmaF32 if avx512 => Some((512.0, "avx512", |n| unsafe { x86::fma512(n) })),
            Peak::FmaF32 if avx2 => Some((192.0, "avx2", |n| unsafe { x86::fma256(n) })),
            Peak::DotBf16 if avx512 && is_x86_feature_detected!("avx512bf16") => {
                Some((1024.0, "avx512_bf16", |n| unsafe { x86::bf16_512(n) }))
            }
            Peak::DotI8 if avx512 && is_x86_feature_detected!("avx512vnni") => {
                Some((2048.0, "avx512_vnni", |n| unsafe { x86::vnni512(n) }))
            }
            Peak::DotI8 if avx2 && is_x86_feature_detected!("avxvnni") => {
                Some((768.0, "avx_vnni", |n| unsafe { x86::vnni256(n) }))
            }
            Peak::Read if avx512 => Some((0.0, "avx512", |_| 0.0)),
            Peak::Read if avx2 => Some((0.0, "avx2", |_| 0.0)),
            _ => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = peak;
        None
    }
}

/// GB/s of one thread checking a buffer of `READ_BYTES` for non-finite values (touched once
/// before timing): the pass R-MAXSIM-9 makes over packed inputs, at the widest vector width.
fn read_bandwidth(seconds: f64, repeats: usize) -> Option<f64> {
    let n = READ_BYTES / 4;
    let mut buf: Vec<f32> = Vec::new();
    buf.try_reserve_exact(n).ok()?;
    buf.extend((0..n).map(|i| (i % 7) as f32));
    let mut best = 0.0f64;
    black_box(all_finite(&buf));
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let mut passes = 0u64;
        loop {
            black_box(all_finite(black_box(&buf)));
            passes += 1;
            let s = t.elapsed().as_secs_f64();
            if s >= seconds {
                best = best.max(passes as f64 * READ_BYTES as f64 / s / 1e9);
                break;
            }
        }
    }
    Some(best)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! Each loop is written in assembly so that the compiler can neither spill an accumulator nor
    //! rotate the registers: one instruction per accumulator per iteration, nothing else.
    use super::*;
    use std::arch::asm;

    /// `$name(n)`: zeroes the accumulators `$r$i`, then `n` times applies `$ins $r$i, a, b` to
    /// each, with the operands `a`, `b` (built by `$make`) in the registers `$ra`, `$rb`.
    macro_rules! peak_loop {
        ($name:ident, $feature:literal, $ty:ty, $make:expr, $zero:literal, $ins:literal,
         $r:literal, $ra:tt, $rb:tt, [$($i:literal),+]) => {
            #[target_feature(enable = $feature)]
            pub unsafe fn $name(n: u64) -> f32 {
                let (a, b): ($ty, $ty) = $make;
                // SAFETY: register-only arithmetic on this CPU's features; `n >= 1` iterations;
                // every vector register the loop writes is caller-saved (clobber_abi).
                unsafe {
                    asm!(
                        concat!(
                            $($zero, " ", $r, $i, ", ", $r, $i, ", ", $r, $i, "\n",)+
                            "2:\n",
                            $($ins, " ", $r, $i, ", ", $ra, ", ", $rb, "\n",)+
                            "dec rcx\n",
                            "jnz 2b",
                        ),
                        inout("rcx") n.max(1) => _,
                        in($ra) a,
                        in($rb) b,
                        clobber_abi("C"),
                        options(nostack, nomem),
                    );
                }
                0.0
            }
        };
    }

    peak_loop!(
        fma512,
        "avx512f",
        __m512,
        (_mm512_set1_ps(0.999), _mm512_set1_ps(1e-3)),
        "vpxord",
        "vfmadd231ps",
        "zmm",
        "zmm16",
        "zmm17",
        [
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"
        ]
    );
    peak_loop!(
        fma256,
        "avx2,fma",
        __m256,
        (_mm256_set1_ps(0.999), _mm256_set1_ps(1e-3)),
        "vpxor",
        "vfmadd231ps",
        "ymm",
        "ymm12",
        "ymm13",
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]
    );
    // 0x3f80 is bfloat16 1.0, 0x3a83 about 1e-3.
    peak_loop!(
        bf16_512,
        "avx512f,avx512bf16",
        __m512i,
        (_mm512_set1_epi16(0x3f80), _mm512_set1_epi16(0x3a83)),
        "vpxord",
        "vdpbf16ps",
        "zmm",
        "zmm16",
        "zmm17",
        [
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"
        ]
    );
    peak_loop!(
        vnni512,
        "avx512f,avx512vnni",
        __m512i,
        (_mm512_set1_epi8(1), _mm512_set1_epi8(1)),
        "vpxord",
        "vpdpbusd",
        "zmm",
        "zmm16",
        "zmm17",
        [
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"
        ]
    );
    peak_loop!(
        vnni256,
        "avx2,avxvnni",
        __m256i,
        (_mm256_set1_epi8(1), _mm256_set1_epi8(1)),
        "vpxor",
        "{{vex}} vpdpbusd",
        "ymm",
        "ymm12",
        "ymm13",
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_none() {
        for (name, peak) in [
            ("fma_f32", Peak::FmaF32),
            ("dot_bf16", Peak::DotBf16),
            ("dot_i8", Peak::DotI8),
            ("read", Peak::Read),
        ] {
            assert_eq!(Peak::by_name(name), Some(peak));
        }
        assert_eq!(Peak::by_name("fma_f64"), None);
    }

    #[test]
    fn every_limit_is_positive_where_the_instruction_exists() {
        let avx2 = cfg!(target_arch = "x86_64") && {
            #[cfg(target_arch = "x86_64")]
            {
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                false
            }
        };
        for peak in [Peak::FmaF32, Peak::DotBf16, Peak::DotI8, Peak::Read] {
            match measure(peak, 0.01, 1) {
                Some((rate, isa)) => {
                    assert!(rate.is_finite() && rate > 0.1, "{peak:?} on {isa}: {rate}");
                    // No core does more than 10 TFLOP/s or reads 1 TB/s on one thread.
                    assert!(rate < 1e4, "{peak:?} on {isa}: {rate}");
                }
                None => assert!(
                    !(avx2 && matches!(peak, Peak::FmaF32 | Peak::Read)),
                    "{peak:?} missing on an AVX2 CPU"
                ),
            }
        }
    }
}
