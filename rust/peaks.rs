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
//! * `read`: a sum of 64-byte loads over a buffer far larger than the last-level cache (GB/s).
//!
//! Each returns `None` when this CPU lacks the instruction.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::hint::black_box;
use std::time::Instant;

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

/// GB/s of one thread summing a buffer of `READ_BYTES` (touched once before timing).
fn read_bandwidth(seconds: f64, repeats: usize) -> Option<f64> {
    let n = READ_BYTES / 4;
    let mut buf: Vec<f32> = Vec::new();
    buf.try_reserve_exact(n).ok()?;
    buf.extend((0..n).map(|i| (i % 7) as f32));
    let mut best = 0.0f64;
    black_box(sum(&buf));
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let mut passes = 0u64;
        loop {
            black_box(sum(black_box(&buf)));
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

/// The sum of `v` with the widest loads this CPU has.
fn sum(v: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was just detected.
            return unsafe { x86::sum512(v) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { x86::sum256(v) };
        }
    }
    v.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! Each loop is written in assembly so that the compiler can neither spill an accumulator nor
    //! rotate the registers: one instruction per accumulator per iteration, nothing else.
    use super::*;
    use std::arch::asm;

    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma512(n: u64) -> f32 {
        let (a, b): (__m512, __m512) = (_mm512_set1_ps(0.999), _mm512_set1_ps(1e-3));
        // SAFETY: register-only arithmetic on this CPU's features; `n >= 1` iterations.
        unsafe {
            asm!(
            "vpxord zmm0, zmm0, zmm0",
            "vpxord zmm1, zmm1, zmm1",
            "vpxord zmm2, zmm2, zmm2",
            "vpxord zmm3, zmm3, zmm3",
            "vpxord zmm4, zmm4, zmm4",
            "vpxord zmm5, zmm5, zmm5",
            "vpxord zmm6, zmm6, zmm6",
            "vpxord zmm7, zmm7, zmm7",
            "vpxord zmm8, zmm8, zmm8",
            "vpxord zmm9, zmm9, zmm9",
            "vpxord zmm10, zmm10, zmm10",
            "vpxord zmm11, zmm11, zmm11",
            "vpxord zmm12, zmm12, zmm12",
            "vpxord zmm13, zmm13, zmm13",
            "vpxord zmm14, zmm14, zmm14",
            "vpxord zmm15, zmm15, zmm15",
            "2:",
            "vfmadd231ps zmm0, zmm16, zmm17",
            "vfmadd231ps zmm1, zmm16, zmm17",
            "vfmadd231ps zmm2, zmm16, zmm17",
            "vfmadd231ps zmm3, zmm16, zmm17",
            "vfmadd231ps zmm4, zmm16, zmm17",
            "vfmadd231ps zmm5, zmm16, zmm17",
            "vfmadd231ps zmm6, zmm16, zmm17",
            "vfmadd231ps zmm7, zmm16, zmm17",
            "vfmadd231ps zmm8, zmm16, zmm17",
            "vfmadd231ps zmm9, zmm16, zmm17",
            "vfmadd231ps zmm10, zmm16, zmm17",
            "vfmadd231ps zmm11, zmm16, zmm17",
            "vfmadd231ps zmm12, zmm16, zmm17",
            "vfmadd231ps zmm13, zmm16, zmm17",
            "vfmadd231ps zmm14, zmm16, zmm17",
            "vfmadd231ps zmm15, zmm16, zmm17",
            "dec {n}",
            "jnz 2b",
            n = inout(reg) n.max(1) => _,
            in("zmm16") a,
            in("zmm17") b,
            out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _, out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _, out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _, out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,
            options(nostack, nomem),
            );
        }
        0.0
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma256(n: u64) -> f32 {
        let (a, b): (__m256, __m256) = (_mm256_set1_ps(0.999), _mm256_set1_ps(1e-3));
        // SAFETY: register-only arithmetic on this CPU's features; `n >= 1` iterations.
        unsafe {
            asm!(
            "vpxor xmm0, xmm0, xmm0",
            "vpxor xmm1, xmm1, xmm1",
            "vpxor xmm2, xmm2, xmm2",
            "vpxor xmm3, xmm3, xmm3",
            "vpxor xmm4, xmm4, xmm4",
            "vpxor xmm5, xmm5, xmm5",
            "vpxor xmm6, xmm6, xmm6",
            "vpxor xmm7, xmm7, xmm7",
            "vpxor xmm8, xmm8, xmm8",
            "vpxor xmm9, xmm9, xmm9",
            "vpxor xmm10, xmm10, xmm10",
            "vpxor xmm11, xmm11, xmm11",
            "2:",
            "vfmadd231ps ymm0, ymm12, ymm13",
            "vfmadd231ps ymm1, ymm12, ymm13",
            "vfmadd231ps ymm2, ymm12, ymm13",
            "vfmadd231ps ymm3, ymm12, ymm13",
            "vfmadd231ps ymm4, ymm12, ymm13",
            "vfmadd231ps ymm5, ymm12, ymm13",
            "vfmadd231ps ymm6, ymm12, ymm13",
            "vfmadd231ps ymm7, ymm12, ymm13",
            "vfmadd231ps ymm8, ymm12, ymm13",
            "vfmadd231ps ymm9, ymm12, ymm13",
            "vfmadd231ps ymm10, ymm12, ymm13",
            "vfmadd231ps ymm11, ymm12, ymm13",
            "dec {n}",
            "jnz 2b",
            n = inout(reg) n.max(1) => _,
            in("ymm12") a,
            in("ymm13") b,
            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _, out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
            options(nostack, nomem),
            );
        }
        0.0
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn bf16_512(n: u64) -> f32 {
        let (a, b): (__m512i, __m512i) = (_mm512_set1_epi16(0x3f80), _mm512_set1_epi16(0x3a83));
        // SAFETY: register-only arithmetic on this CPU's features; `n >= 1` iterations.
        unsafe {
            asm!(
            "vpxord zmm0, zmm0, zmm0",
            "vpxord zmm1, zmm1, zmm1",
            "vpxord zmm2, zmm2, zmm2",
            "vpxord zmm3, zmm3, zmm3",
            "vpxord zmm4, zmm4, zmm4",
            "vpxord zmm5, zmm5, zmm5",
            "vpxord zmm6, zmm6, zmm6",
            "vpxord zmm7, zmm7, zmm7",
            "vpxord zmm8, zmm8, zmm8",
            "vpxord zmm9, zmm9, zmm9",
            "vpxord zmm10, zmm10, zmm10",
            "vpxord zmm11, zmm11, zmm11",
            "vpxord zmm12, zmm12, zmm12",
            "vpxord zmm13, zmm13, zmm13",
            "vpxord zmm14, zmm14, zmm14",
            "vpxord zmm15, zmm15, zmm15",
            "2:",
            "vdpbf16ps zmm0, zmm16, zmm17",
            "vdpbf16ps zmm1, zmm16, zmm17",
            "vdpbf16ps zmm2, zmm16, zmm17",
            "vdpbf16ps zmm3, zmm16, zmm17",
            "vdpbf16ps zmm4, zmm16, zmm17",
            "vdpbf16ps zmm5, zmm16, zmm17",
            "vdpbf16ps zmm6, zmm16, zmm17",
            "vdpbf16ps zmm7, zmm16, zmm17",
            "vdpbf16ps zmm8, zmm16, zmm17",
            "vdpbf16ps zmm9, zmm16, zmm17",
            "vdpbf16ps zmm10, zmm16, zmm17",
            "vdpbf16ps zmm11, zmm16, zmm17",
            "vdpbf16ps zmm12, zmm16, zmm17",
            "vdpbf16ps zmm13, zmm16, zmm17",
            "vdpbf16ps zmm14, zmm16, zmm17",
            "vdpbf16ps zmm15, zmm16, zmm17",
            "dec {n}",
            "jnz 2b",
            n = inout(reg) n.max(1) => _,
            in("zmm16") a,
            in("zmm17") b,
            out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _, out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _, out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _, out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,
            options(nostack, nomem),
            );
        }
        0.0
    }

    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn vnni512(n: u64) -> f32 {
        let (a, b): (__m512i, __m512i) = (_mm512_set1_epi8(1), _mm512_set1_epi8(1));
        // SAFETY: register-only arithmetic on this CPU's features; `n >= 1` iterations.
        unsafe {
            asm!(
            "vpxord zmm0, zmm0, zmm0",
            "vpxord zmm1, zmm1, zmm1",
            "vpxord zmm2, zmm2, zmm2",
            "vpxord zmm3, zmm3, zmm3",
            "vpxord zmm4, zmm4, zmm4",
            "vpxord zmm5, zmm5, zmm5",
            "vpxord zmm6, zmm6, zmm6",
            "vpxord zmm7, zmm7, zmm7",
            "vpxord zmm8, zmm8, zmm8",
            "vpxord zmm9, zmm9, zmm9",
            "vpxord zmm10, zmm10, zmm10",
            "vpxord zmm11, zmm11, zmm11",
            "vpxord zmm12, zmm12, zmm12",
            "vpxord zmm13, zmm13, zmm13",
            "vpxord zmm14, zmm14, zmm14",
            "vpxord zmm15, zmm15, zmm15",
            "2:",
            "vpdpbusd zmm0, zmm16, zmm17",
            "vpdpbusd zmm1, zmm16, zmm17",
            "vpdpbusd zmm2, zmm16, zmm17",
            "vpdpbusd zmm3, zmm16, zmm17",
            "vpdpbusd zmm4, zmm16, zmm17",
            "vpdpbusd zmm5, zmm16, zmm17",
            "vpdpbusd zmm6, zmm16, zmm17",
            "vpdpbusd zmm7, zmm16, zmm17",
            "vpdpbusd zmm8, zmm16, zmm17",
            "vpdpbusd zmm9, zmm16, zmm17",
            "vpdpbusd zmm10, zmm16, zmm17",
            "vpdpbusd zmm11, zmm16, zmm17",
            "vpdpbusd zmm12, zmm16, zmm17",
            "vpdpbusd zmm13, zmm16, zmm17",
            "vpdpbusd zmm14, zmm16, zmm17",
            "vpdpbusd zmm15, zmm16, zmm17",
            "dec {n}",
            "jnz 2b",
            n = inout(reg) n.max(1) => _,
            in("zmm16") a,
            in("zmm17") b,
            out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _, out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _, out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _, out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,
            options(nostack, nomem),
            );
        }
        0.0
    }

    #[target_feature(enable = "avx2,avxvnni")]
    pub unsafe fn vnni256(n: u64) -> f32 {
        let (a, b): (__m256i, __m256i) = (_mm256_set1_epi8(1), _mm256_set1_epi8(1));
        // SAFETY: register-only arithmetic on this CPU's features; `n >= 1` iterations.
        unsafe {
            asm!(
            "vpxor xmm0, xmm0, xmm0",
            "vpxor xmm1, xmm1, xmm1",
            "vpxor xmm2, xmm2, xmm2",
            "vpxor xmm3, xmm3, xmm3",
            "vpxor xmm4, xmm4, xmm4",
            "vpxor xmm5, xmm5, xmm5",
            "vpxor xmm6, xmm6, xmm6",
            "vpxor xmm7, xmm7, xmm7",
            "vpxor xmm8, xmm8, xmm8",
            "vpxor xmm9, xmm9, xmm9",
            "vpxor xmm10, xmm10, xmm10",
            "vpxor xmm11, xmm11, xmm11",
            "2:",
            "{{vex}} vpdpbusd ymm0, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm1, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm2, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm3, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm4, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm5, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm6, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm7, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm8, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm9, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm10, ymm12, ymm13",
            "{{vex}} vpdpbusd ymm11, ymm12, ymm13",
            "dec {n}",
            "jnz 2b",
            n = inout(reg) n.max(1) => _,
            in("ymm12") a,
            in("ymm13") b,
            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _, out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
            options(nostack, nomem),
            );
        }
        0.0
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn sum512(v: &[f32]) -> f32 {
        let mut acc = [_mm512_setzero_ps(); 8];
        let chunks = v.chunks_exact(128);
        let tail: f32 = chunks.remainder().iter().sum();
        for c in chunks {
            for (i, a) in acc.iter_mut().enumerate() {
                // SAFETY: `c` holds 128 values.
                *a = _mm512_add_ps(*a, unsafe { _mm512_loadu_ps(c.as_ptr().add(16 * i)) });
            }
        }
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum::<f32>() + tail
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn sum256(v: &[f32]) -> f32 {
        let mut acc = [_mm256_setzero_ps(); 8];
        let chunks = v.chunks_exact(64);
        let tail: f32 = chunks.remainder().iter().sum();
        for c in chunks {
            for (i, a) in acc.iter_mut().enumerate() {
                // SAFETY: `c` holds 64 values.
                *a = _mm256_add_ps(*a, unsafe { _mm256_loadu_ps(c.as_ptr().add(8 * i)) });
            }
        }
        let mut lanes = [0.0f32; 8];
        let mut total = tail;
        for a in acc {
            // SAFETY: `lanes` holds 8 values.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), a) };
            total += lanes.iter().sum::<f32>();
        }
        total
    }
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
