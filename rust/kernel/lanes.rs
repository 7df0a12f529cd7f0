//! A vector of f32 lanes, implemented for AVX-512F (16 lanes) and AVX2+FMA (8 lanes).
//!
//! The generic kernels in `blocked.rs` are written once against this trait; every method is
//! `#[inline(always)]` so that, once inlined into a `#[target_feature]` entry point, each call
//! becomes the single instruction it names.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// SIMD lanes of f32. All methods are `unsafe`: the caller guarantees the CPU feature and that
/// every pointer is valid for the bytes it reads or writes.
pub trait Lanes {
    /// One register of `W` f32 lanes.
    type V: Copy;
    /// Lanes per register.
    const W: usize;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// All lanes `*p` (a broadcast load).
    unsafe fn splat_load(p: *const f32) -> Self::V;
    /// The bfloat16 pair at `p` (`p[0]`, `p[1]`) as two all-lanes f32 registers.
    unsafe fn splat_bf16_pair(p: *const u16) -> (Self::V, Self::V);
    /// `W` lanes from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self::V;
    /// `W` lanes to `p` (unaligned).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a * b + c` with a single rounding.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Lane-wise maximum.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise `a - b`.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// True when some lane is NaN.
    unsafe fn any_nan(v: Self::V) -> bool;
    /// Lane-wise `if x > y { a } else { b }` (false when either of x, y is NaN).
    unsafe fn gt_select(x: Self::V, y: Self::V, a: Self::V, b: Self::V) -> Self::V;
}

/// AVX-512F: 16 lanes.
#[cfg(target_arch = "x86_64")]
pub struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    type V = __m512;
    const W: usize = 16;
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn splat_load(p: *const f32) -> __m512 {
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn splat_bf16_pair(p: *const u16) -> (__m512, __m512) {
        unsafe {
            let pair = _mm512_set1_epi32(p.cast::<i32>().read_unaligned());
            let even = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(pair));
            let odd = _mm512_castsi512_ps(_mm512_and_si512(pair, _mm512_set1_epi32(-65536)));
            (even, odd)
        }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn any_nan(v: __m512) -> bool {
        unsafe { _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v) != 0 }
    }
    #[inline(always)]
    unsafe fn gt_select(x: __m512, y: __m512, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, y), b, a) }
    }
}

/// AVX2 with FMA: 8 lanes.
#[cfg(target_arch = "x86_64")]
pub struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    type V = __m256;
    const W: usize = 8;
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn splat_load(p: *const f32) -> __m256 {
        unsafe { _mm256_broadcast_ss(&*p) }
    }
    #[inline(always)]
    unsafe fn splat_bf16_pair(p: *const u16) -> (__m256, __m256) {
        unsafe {
            let pair = _mm256_set1_epi32(p.cast::<i32>().read_unaligned());
            let even = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(pair));
            let odd = _mm256_castsi256_ps(_mm256_and_si256(pair, _mm256_set1_epi32(-65536)));
            (even, odd)
        }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn any_nan(v: __m256) -> bool {
        unsafe { _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(v, v)) != 0 }
    }
    #[inline(always)]
    unsafe fn gt_select(x: __m256, y: __m256, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_blendv_ps(b, a, _mm256_cmp_ps::<_CMP_GT_OQ>(x, y)) }
    }
}
