//! MaxSim kernels with runtime CPU dispatch: AVX-512 (with the AVX512_BF16 dot product when
//! present), AVX2+FMA, and a portable scalar fallback.
//!
//! `token_maxima` computes, for one prepared query and one document, the maximum over document
//! tokens of each query token's dot product. The f32 kernels all perform the same sequential FMA
//! chain over the components, so they agree bit for bit (R-MAXSIM-10).

mod blocked;
pub use blocked::prefetch;
mod dpbf16;
mod lanes;
mod products;
mod scalar;
#[cfg(test)]
mod tests;

use crate::queries::Prepared;

/// An instruction set the kernels can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Portable Rust; `f32::mul_add` for the FMA.
    Scalar,
    /// AVX2 and FMA, 8 lanes.
    Avx2,
    /// AVX-512F, 16 lanes; `vdpbf16ps` for bfloat16 when AVX512_BF16 is present.
    Avx512,
}

impl Isa {
    /// The instruction sets this CPU supports, best last.
    pub fn available() -> Vec<Isa> {
        let mut isas = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                isas.push(Isa::Avx2);
            }
            if is_x86_feature_detected!("avx512f") {
                isas.push(Isa::Avx512);
            }
        }
        isas
    }

    /// The best instruction set of this CPU.
    pub fn detect() -> Isa {
        *Isa::available().last().unwrap_or(&Isa::Scalar)
    }

    /// Its name: "scalar", "avx2" or "avx512".
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The instruction set of that name, when this CPU supports it.
    pub fn by_name(name: &str) -> Option<Isa> {
        Isa::available().into_iter().find(|isa| isa.name() == name)
    }
}

/// True when this CPU has the AVX512_BF16 dot product used for bfloat16 storage.
pub fn has_bf16_dot() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// How bfloat16 document rows meet the query on an AVX-512 CPU. Every route satisfies
/// R-MAXSIM-11; `Widen` and `Fused` give the sequential FMA chain of the scalar kernel bit for bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bf16Route {
    /// `vdpbf16ps` (AVX512_BF16): on AMD Zen 4 twice the f32 FMA rate.
    Dot,
    /// Blocks of rows widened to f32 in a cache-resident buffer, then the f32 kernel: the f32 FMA
    /// rate at half the memory traffic. On Intel Sapphire Rapids `vdpbf16ps` runs at half the f32
    /// FMA rate (`make bench` measures both), so this is the faster route there.
    Widen,
    /// Each broadcast pair widened in registers (two more instructions per pair and row).
    Fused,
}

impl Bf16Route {
    /// Its name: "dot", "widen" or "fused".
    pub fn name(self) -> &'static str {
        match self {
            Bf16Route::Dot => "dot",
            Bf16Route::Widen => "widen",
            Bf16Route::Fused => "fused",
        }
    }

    /// The route of that name, when this CPU can run it.
    pub fn by_name(name: &str) -> Option<Bf16Route> {
        [Bf16Route::Dot, Bf16Route::Widen, Bf16Route::Fused]
            .into_iter()
            .find(|r| r.name() == name && (*r != Bf16Route::Dot || has_bf16_dot()))
    }

    /// The route of this CPU: `Dot` where AVX512_BF16 is present on an AMD CPU, `Widen`
    /// elsewhere; the environment variable `LATEINT_REF_BF16_ROUTE` (a route's name) overrides it.
    pub fn detect() -> Bf16Route {
        static ROUTE: std::sync::OnceLock<Bf16Route> = std::sync::OnceLock::new();
        *ROUTE.get_or_init(|| {
            if let Some(r) = std::env::var("LATEINT_REF_BF16_ROUTE")
                .ok()
                .and_then(|v| Bf16Route::by_name(v.trim()))
            {
                return r;
            }
            if has_bf16_dot() && cpu_vendor() == "AuthenticAMD" {
                Bf16Route::Dot
            } else {
                Bf16Route::Widen
            }
        })
    }
}

/// The CPU's vendor string ("GenuineIntel", "AuthenticAMD", ...), empty off x86.
pub fn cpu_vendor() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        // Leaf 0 of `cpuid` exists on every x86-64 CPU.
        let r = std::arch::x86_64::__cpuid(0);
        let bytes: Vec<u8> = [r.ebx, r.edx, r.ecx]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        String::new()
    }
}

/// One document's token rows.
#[derive(Clone, Copy, Debug)]
pub enum DocRows<'a> {
    /// `[n][dim] f32`.
    F32(&'a [f32]),
    /// `[n][dim_p] u16` bfloat16, `dim_p` even (a zero pad component when dim is odd).
    Bf16(&'a [u16]),
}

/// `out[i] = max_j <q_i, d_j>` for the query's tokens `i < q.len` over the document's `n >= 1`
/// tokens. `out` holds at least `q.pad` values; lanes past `q.len` are scratch.
///
/// `isa` comes from `Isa::available()` (so this CPU supports it); the row type must match the
/// query's precision (f32 rows with an f32 query, bfloat16 rows with a bfloat16 query).
pub fn token_maxima(isa: Isa, q: &Prepared, doc: DocRows, n: usize, out: &mut [f32]) {
    token_maxima_checked::<false>(isa, q, doc, n, out);
}

/// As `token_maxima`; with `CHECK` on f32 rows, also whether the document's rows are proven
/// finite (R-MAXSIM-9): `true` means every component is finite, `false` that one may not be
/// (a non-finite one, or finite ones whose products overflow), for an exact check to settle.
/// Without `CHECK`, and for bfloat16 rows (finite by construction), it returns `true`.
///
/// The SIMD kernels fold the check into the products they compute anyway (about one instruction
/// per row, so the rows are read once); the scalar one tests the rows.
pub fn token_maxima_checked<const CHECK: bool>(
    isa: Isa,
    q: &Prepared,
    doc: DocRows,
    n: usize,
    out: &mut [f32],
) -> bool {
    assert!(
        n >= 1 && out.len() >= q.pad,
        "kernel contract: n >= 1 and out.len() >= q.pad"
    );
    match doc {
        DocRows::F32(rows) => {
            assert!(rows.len() >= n * q.dim_p && q.qt.len() == q.dim_p * q.pad);
            match isa {
                // SAFETY: `isa` was detected on this CPU; extents were checked above.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => unsafe {
                    x86::f32_avx512::<CHECK>(q, rows.as_ptr(), n, out.as_mut_ptr())
                },
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe {
                    x86::f32_avx2::<CHECK>(q, rows.as_ptr(), n, out.as_mut_ptr())
                },
                _ => {
                    scalar::maxima_f32(&q.qt, q.pad, q.len, q.dim_p, rows, n, out);
                    !CHECK || rows[..n * q.dim_p].iter().all(|x| x.is_finite())
                }
            }
        }
        DocRows::Bf16(rows) => {
            assert!(rows.len() >= n * q.dim_p && q.qt.len() == q.dim_p * q.pad);
            match isa {
                // SAFETY: as above; `qp` holds `dim_p * pad` values for bfloat16 queries.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => match Bf16Route::detect() {
                    Bf16Route::Dot if has_bf16_dot() && q.qp.len() == q.dim_p * q.pad => unsafe {
                        x86::bf16_dot_avx512(q, rows.as_ptr(), n, out.as_mut_ptr())
                    },
                    Bf16Route::Widen => unsafe { x86::bf16_widen_avx512(q, rows.as_ptr(), n, out) },
                    _ => unsafe { x86::bf16_avx512(q, rows.as_ptr(), n, out.as_mut_ptr()) },
                },
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { x86::bf16_avx2(q, rows.as_ptr(), n, out.as_mut_ptr()) },
                _ => scalar::maxima_bf16(&q.qt, q.pad, q.len, q.dim_p, rows, n, out),
            }
            true
        }
    }
}

/// For lane vectors `qt: [dim][pad] f32` (`pad` a multiple of `LANE_PAD`) and rows
/// `m: [n][dim] f32` (`n >= 1`): `best[l]` is the greatest product of lane `l` with a row and
/// `arg[l]` the lowest row reaching it (R-KMEANS-4).
pub fn argmax_rows(
    isa: Isa,
    qt: &[f32],
    pad: usize,
    dim: usize,
    m: &[f32],
    best: &mut [f32],
    arg: &mut [u32],
) {
    let n = m.len() / dim.max(1);
    assert!(
        n >= 1
            && dim >= 1
            && pad.is_multiple_of(crate::queries::LANE_PAD)
            && qt.len() == dim * pad
            && m.len() == n * dim
            && best.len() == pad
            && arg.len() == pad,
        "kernel contract: argmax_rows extents"
    );
    let mut argf = vec![0.0f32; pad];
    match isa {
        // SAFETY: `isa` was detected on this CPU; extents were checked above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe {
            x86::argmax_avx512(
                qt,
                pad,
                dim,
                m.as_ptr(),
                n,
                best.as_mut_ptr(),
                argf.as_mut_ptr(),
            )
        },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe {
            x86::argmax_avx2(
                qt,
                pad,
                dim,
                m.as_ptr(),
                n,
                best.as_mut_ptr(),
                argf.as_mut_ptr(),
            )
        },
        _ => products::scalar::argmax(qt, pad, dim, m, best, &mut argf),
    }
    for (a, f) in arg.iter_mut().zip(&argf) {
        *a = *f as u32;
    }
}

/// Every product of the lane vectors `qt: [dim][pad]` with the rows `m: [n][dim]`:
/// `out[j * pad + l]` (`out` holds `n * pad` values).
pub fn row_scores(isa: Isa, qt: &[f32], pad: usize, dim: usize, m: &[f32], out: &mut [f32]) {
    let n = m.len() / dim.max(1);
    assert!(
        dim >= 1
            && pad.is_multiple_of(crate::queries::LANE_PAD)
            && qt.len() == dim * pad
            && m.len() == n * dim
            && out.len() == n * pad,
        "kernel contract: row_scores extents"
    );
    if n == 0 {
        return;
    }
    match isa {
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::scores_avx512(qt, pad, dim, m.as_ptr(), n, out.as_mut_ptr()) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::scores_avx2(qt, pad, dim, m.as_ptr(), n, out.as_mut_ptr()) },
        _ => products::scalar::scores(qt, pad, dim, m, out),
    }
}

/// `m[l] = max(m[l], s[c * pad + l])` over the ids `c` of `ids`, for every lane `l < pad` (`pad`
/// a multiple of `LANE_PAD`, every id a row of `s: [rows][pad]`). `max` is `vmaxps`'s
/// `a > b ? a : b`, so every instruction set gives the same result.
pub fn max_rows(isa: Isa, s: &[f32], pad: usize, ids: &[u16], m: &mut [f32]) {
    assert!(
        pad.is_multiple_of(crate::queries::LANE_PAD)
            && m.len() == pad
            && ids.iter().all(|&c| (c as usize + 1) * pad <= s.len()),
        "kernel contract: max_rows extents"
    );
    match isa {
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::max_rows_avx512(s.as_ptr(), pad, ids, m.as_mut_ptr()) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::max_rows_avx2(s.as_ptr(), pad, ids, m.as_mut_ptr()) },
        _ => {
            for &c in ids {
                let row = &s[c as usize * pad..(c as usize + 1) * pad];
                for (x, &y) in m.iter_mut().zip(row) {
                    *x = if *x > y { *x } else { y };
                }
            }
        }
    }
}

/// The `#[target_feature]` entry points: each walks the query's lane blocks in chunks whose
/// (query blocks QB, document rows R) fit the register file, and runs the blocked kernel.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::blocked::{chunk_bf16, chunk_f32};
    use super::dpbf16;
    use super::lanes::{Avx2, Avx512};
    use super::products::{chunk_argmax, chunk_max_rows, chunk_scores};
    use crate::queries::Prepared;

    /// Runs `$kernel::<QB, R>(lane offset)` over the `$nb` lane blocks of `$w` lanes, choosing
    /// (QB, R) from the table for the blocks left: 1, 2, 3, then 4 or more.
    macro_rules! over_blocks {
        ($nb:expr, $w:expr, |$off:ident, $qb:ident, $r:ident| $call:expr,
         [$q1:literal x $r1:literal, $q2:literal x $r2:literal, $q3:literal x $r3:literal, $q4:literal x $r4:literal]) => {{
            let mut b = 0usize;
            while b < $nb {
                let $off = b * $w;
                b += match $nb - b {
                    1 => {
                        const $qb: usize = $q1;
                        const $r: usize = $r1;
                        $call;
                        $qb
                    }
                    2 => {
                        const $qb: usize = $q2;
                        const $r: usize = $r2;
                        $call;
                        $qb
                    }
                    3 => {
                        const $qb: usize = $q3;
                        const $r: usize = $r3;
                        $call;
                        $qb
                    }
                    _ => {
                        const $qb: usize = $q4;
                        const $r: usize = $r4;
                        $call;
                        $qb
                    }
                };
            }
        }};
    }

    /// The f32 maxima; with `CHECK`, whether the products of the first lane block were all finite
    /// (`chunk_f32`), else `true`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn f32_avx512<const CHECK: bool>(
        q: &Prepared,
        doc: *const f32,
        n: usize,
        out: *mut f32,
    ) -> bool {
        let qt = q.qt.as_ptr();
        let mut finite = true;
        over_blocks!(q.pad / 16, 16, |off, QB, R| {
            // Only the first chunk checks: every lane sees a non-finite row.
            finite &= if off == 0 {
                unsafe {
                    chunk_f32::<Avx512, QB, R, CHECK>(qt, q.pad, q.dim_p, doc, n, out)
                }
            } else {
                unsafe {
                    chunk_f32::<Avx512, QB, R, false>(
                        qt.add(off), q.pad, q.dim_p, doc, n, out.add(off),
                    )
                }
            }
        }, [1 x 8, 2 x 6, 3 x 4, 4 x 4]);
        finite
    }

    /// As `f32_avx512`, on AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn f32_avx2<const CHECK: bool>(
        q: &Prepared,
        doc: *const f32,
        n: usize,
        out: *mut f32,
    ) -> bool {
        let qt = q.qt.as_ptr();
        let mut finite = true;
        over_blocks!(q.pad / 8, 8, |off, QB, R| {
            finite &= if off == 0 {
                unsafe { chunk_f32::<Avx2, QB, R, CHECK>(qt, q.pad, q.dim_p, doc, n, out) }
            } else {
                unsafe {
                    chunk_f32::<Avx2, QB, R, false>(
                        qt.add(off), q.pad, q.dim_p, doc, n, out.add(off),
                    )
                }
            }
        }, [1 x 8, 2 x 4, 3 x 2, 4 x 2]);
        finite
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn bf16_avx512(q: &Prepared, doc: *const u16, n: usize, out: *mut f32) {
        let qt = q.qt.as_ptr();
        over_blocks!(q.pad / 16, 16, |off, QB, R| unsafe {
            chunk_bf16::<Avx512, QB, R>(qt.add(off), q.pad, q.dim_p / 2, doc, n, out.add(off))
        }, [1 x 8, 2 x 6, 3 x 4, 4 x 4]);
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn bf16_avx2(q: &Prepared, doc: *const u16, n: usize, out: *mut f32) {
        let qt = q.qt.as_ptr();
        over_blocks!(q.pad / 8, 8, |off, QB, R| unsafe {
            chunk_bf16::<Avx2, QB, R>(qt.add(off), q.pad, q.dim_p / 2, doc, n, out.add(off))
        }, [1 x 8, 2 x 4, 3 x 2, 4 x 2]);
    }

    /// Floats of the per-thread buffer that bfloat16 rows are widened into (12 KiB: stays in L1
    /// beside the query; 24 rows of 128 components).
    const WIDE_FLOATS: usize = 3072;

    thread_local! {
        static WIDE: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// Widens blocks of bfloat16 rows to f32 (`vpmovzxwd` and a shift: exact) and runs the f32
    /// kernel on each block, keeping the running maxima in `out` (`a > b ? a : b`, so the result
    /// is the single pass's).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn bf16_widen_avx512(q: &Prepared, doc: *const u16, n: usize, out: &mut [f32]) {
        use std::arch::x86_64::*;
        let dim_p = q.dim_p;
        let block = (WIDE_FLOATS / dim_p).max(1);
        WIDE.with(|wide| {
            let mut wide = wide.borrow_mut();
            if wide.len() < block * dim_p + q.pad {
                wide.resize(block * dim_p + q.pad, 0.0);
            }
            let (wide, tmp) = wide.split_at_mut(block * dim_p);
            let mut j = 0;
            while j < n {
                let rows = block.min(n - j);
                let len = rows * dim_p;
                // SAFETY: rows j..j + rows of `dim_p` values are in bounds of `doc`.
                let src = unsafe { doc.add(j * dim_p) };
                let dst = wide.as_mut_ptr();
                // The next block's rows (the next document's past the last) are fetched while this
                // one is widened and scored; a prefetch never faults.
                let next = src.wrapping_add(len);
                let mut i = 0;
                while i + 16 <= len {
                    if i % 32 == 0 {
                        super::prefetch(next.wrapping_add(i).cast::<u8>());
                    }
                    // SAFETY: 16 values at `i` of both buffers are in bounds.
                    unsafe {
                        let h = _mm256_loadu_si256(src.add(i).cast());
                        let w = _mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h));
                        _mm512_storeu_si512(dst.add(i).cast(), w);
                    }
                    i += 16;
                }
                while i < len {
                    // SAFETY: as above, one value.
                    unsafe { *dst.add(i) = f32::from_bits(u32::from(*src.add(i)) << 16) };
                    i += 1;
                }
                let target: &mut [f32] = if j == 0 { &mut *out } else { &mut tmp[..q.pad] };
                // SAFETY: `wide` holds `rows` rows of `dim_p` f32; `target` holds `pad` values.
                unsafe { f32_avx512::<false>(q, wide.as_ptr(), rows, target.as_mut_ptr()) };
                if j > 0 {
                    for (m, &t) in out[..q.pad].iter_mut().zip(&tmp[..q.pad]) {
                        *m = if *m > t { *m } else { t };
                    }
                }
                j += rows;
            }
        });
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn bf16_dot_avx512(q: &Prepared, doc: *const u16, n: usize, out: *mut f32) {
        let qp = q.qp.as_ptr();
        over_blocks!(q.pad / 16, 16, |off, QB, R| unsafe {
            dpbf16::chunk::<QB, R>(qp.add(off * 2), q.pad, q.dim_p / 2, doc, n, out.add(off))
        }, [1 x 8, 2 x 6, 3 x 4, 4 x 4]);
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn argmax_avx512(
        qt: &[f32],
        pad: usize,
        dim: usize,
        m: *const f32,
        n: usize,
        best: *mut f32,
        arg: *mut f32,
    ) {
        let qt = qt.as_ptr();
        over_blocks!(pad / 16, 16, |off, QB, R| unsafe {
            chunk_argmax::<Avx512, QB, R>(qt.add(off), pad, dim, m, n, best.add(off), arg.add(off))
        }, [1 x 8, 2 x 6, 3 x 4, 4 x 4]);
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn argmax_avx2(
        qt: &[f32],
        pad: usize,
        dim: usize,
        m: *const f32,
        n: usize,
        best: *mut f32,
        arg: *mut f32,
    ) {
        let qt = qt.as_ptr();
        over_blocks!(pad / 8, 8, |off, QB, R| unsafe {
            chunk_argmax::<Avx2, QB, R>(qt.add(off), pad, dim, m, n, best.add(off), arg.add(off))
        }, [1 x 6, 2 x 3, 3 x 2, 4 x 2]);
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn scores_avx512(
        qt: &[f32],
        pad: usize,
        dim: usize,
        m: *const f32,
        n: usize,
        out: *mut f32,
    ) {
        let qt = qt.as_ptr();
        over_blocks!(pad / 16, 16, |off, QB, R| unsafe {
            chunk_scores::<Avx512, QB, R>(qt.add(off), pad, dim, m, n, out.add(off))
        }, [1 x 8, 2 x 6, 3 x 4, 4 x 4]);
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scores_avx2(
        qt: &[f32],
        pad: usize,
        dim: usize,
        m: *const f32,
        n: usize,
        out: *mut f32,
    ) {
        let qt = qt.as_ptr();
        over_blocks!(pad / 8, 8, |off, QB, R| unsafe {
            chunk_scores::<Avx2, QB, R>(qt.add(off), pad, dim, m, n, out.add(off))
        }, [1 x 8, 2 x 4, 3 x 2, 4 x 2]);
    }

    /// Runs `chunk_max_rows` over the lane blocks in chunks of up to four registers.
    macro_rules! max_rows_body {
        ($s:ident, $w:expr, $sp:ident, $pad:ident, $ids:ident, $m:ident) => {{
            let nb = $pad / $w;
            let mut b = 0;
            while b < nb {
                let off = b * $w;
                b += match nb - b {
                    1 => {
                        unsafe {
                            chunk_max_rows::<$s, 1>($sp.wrapping_add(off), $pad, $ids, $m.add(off))
                        };
                        1
                    }
                    2 => {
                        unsafe {
                            chunk_max_rows::<$s, 2>($sp.wrapping_add(off), $pad, $ids, $m.add(off))
                        };
                        2
                    }
                    3 => {
                        unsafe {
                            chunk_max_rows::<$s, 3>($sp.wrapping_add(off), $pad, $ids, $m.add(off))
                        };
                        3
                    }
                    _ => {
                        unsafe {
                            chunk_max_rows::<$s, 4>($sp.wrapping_add(off), $pad, $ids, $m.add(off))
                        };
                        4
                    }
                };
            }
        }};
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn max_rows_avx512(s: *const f32, pad: usize, ids: &[u16], m: *mut f32) {
        max_rows_body!(Avx512, 16, s, pad, ids, m);
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn max_rows_avx2(s: *const f32, pad: usize, ids: &[u16], m: *mut f32) {
        max_rows_body!(Avx2, 8, s, pad, ids, m);
    }
}
