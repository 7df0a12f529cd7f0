//! R-QUANT-8 (format version 4): each token's product codes, first its bytes' nearest rows
//! (R-QUANT-7), then improved by passes of coordinate descent on the token's squared error plus
//! `eta - 1` times its squared error along the token, the error that moves the scores of the
//! query tokens the token matches best. Every value is the same sequence of f32 operations
//! whatever the instruction set, so the codes are too.

use super::quantize::{Aniso, distances, least_body};
#[cfg(target_arch = "x86_64")]
use super::quantize::{least_avx2, least_lanes};
use crate::kernel::Isa;

/// What every new codec records (R-QUANT-8): an error along the token costs twice one across
/// it; two passes over the bytes.
pub const DEFAULT: Aniso = Aniso {
    weight: 2.0,
    sweeps: 2,
};

/// R-QUANT-8's parameters as the coding uses them.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// `eta - 1` computed in f64, rounded to f32.
    less_one: f32,
    sweeps: usize,
}

impl Params {
    pub fn new(a: Aniso) -> Params {
        Params {
            less_one: (a.weight - 1.0) as f32,
            sweeps: a.sweeps,
        }
    }
}

/// The codes of the full bytes `out` of token `x` with centroid `c`, from the product rows
/// `soa` (`[out.len()][per + 1][256]`, `quantize::transposed`).
pub fn encode(isa: Isa, soa: &[f32], p: Params, x: &[f32], c: &[f32], out: &mut [u8]) {
    match isa {
        // SAFETY: `isa` was detected on this CPU (`Isa::detect`), so it has AVX2.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 | Isa::Avx2 => unsafe { encode_avx2(soa, p, x, c, out) },
        _ => body(soa, p, x, c, out, least_body, sweep_body),
    }
}

/// The first least over the 256 rows of `d[u] + w * (t * t)`, `t = o + e[u]` (R-QUANT-8).
#[inline(always)]
fn sweep_body(o: f32, w: f32, d: &[f32], e: &[f32]) -> u8 {
    let mut cost = [0.0f32; 256];
    for ((k, &d), &e) in cost.iter_mut().zip(d).zip(e) {
        let t = o + e;
        *k = d + w * (t * t);
    }
    least_body(&cost)
}

/// `sweep_body` with AVX2, the costs and their running least in one pass (the same operations
/// per row and the same lanes as `least_avx2`, so the same row).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sweep_avx2(o: f32, w: f32, d: &[f32], e: &[f32]) -> u8 {
    use std::arch::x86_64::*;
    assert!(d.len() >= 256 && e.len() >= 256);
    let (ov, wv) = (_mm256_set1_ps(o), _mm256_set1_ps(w));
    // SAFETY: c * 8 + 8 <= 256 <= d.len(), e.len() (asserted); this function has AVX2.
    unsafe {
        least_lanes(|c| {
            let dv = _mm256_loadu_ps(d.as_ptr().add(c * 8));
            let t = _mm256_add_ps(ov, _mm256_loadu_ps(e.as_ptr().add(c * 8)));
            _mm256_add_ps(dv, _mm256_mul_ps(wv, _mm256_mul_ps(t, t)))
        })
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn encode_avx2(soa: &[f32], p: Params, x: &[f32], c: &[f32], out: &mut [u8]) {
    // SAFETY: this function has `least_avx2`'s features.
    body(
        soa,
        p,
        x,
        c,
        out,
        |d| unsafe { least_avx2(d) },
        |o, w, d, e| unsafe { sweep_avx2(o, w, d, e) },
    )
}

/// R-QUANT-8 step by step, `least` the first least of 256 values (`quantize::least_body`).
#[inline(always)]
fn body(
    soa: &[f32],
    p: Params,
    x: &[f32],
    c: &[f32],
    out: &mut [u8],
    least: impl Fn(&[f32; 256]) -> u8,
    sweep: impl Fn(f32, f32, &[f32], &[f32]) -> u8,
) {
    let full = out.len();
    if full == 0 {
        return;
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        scratch.resize(full * 512, 0.0);
        let (dist, along) = scratch.split_at_mut(full * 256);
        sweeps(soa, p, x, c, out, dist, along, &least, &sweep);
    });
}

thread_local! {
    /// Each thread's distances and errors along the token, reused from token to token.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sweeps(
    soa: &[f32],
    p: Params,
    x: &[f32],
    c: &[f32],
    out: &mut [u8],
    dist: &mut [f32],
    along: &mut [f32],
    least: &impl Fn(&[f32; 256]) -> u8,
    sweep: &impl Fn(f32, f32, &[f32], &[f32]) -> u8,
) {
    let full = out.len();
    let per = soa.len() / (full * 256) - 1;
    let mut r = [0.0f32; 8];
    for b in 0..full {
        let rows = &soa[b * (per + 1) * 256..(b + 1) * (per + 1) * 256];
        let xs = &x[b * per..(b + 1) * per];
        for i in 0..per {
            r[i] = xs[i] - c[b * per + i];
        }
        let d = distances(rows, &r[..per]);
        out[b] = least(&d);
        let mut a = 0.0f32;
        for i in 0..per {
            a += r[i] * xs[i];
        }
        let e = &mut along[b * 256..(b + 1) * 256];
        e.fill(a);
        for (i, &xi) in xs.iter().enumerate() {
            for (v, &t) in e.iter_mut().zip(&rows[i * 256..(i + 1) * 256]) {
                *v -= t * xi;
            }
        }
        dist[b * 256..(b + 1) * 256].copy_from_slice(&d);
    }
    let norm = x.iter().fold(0.0f32, |s, &v| s + v * v);
    let w = p.less_one / norm;
    if !(w.is_finite() && w > 0.0) {
        return;
    }
    // The error along the token of the current codes, summed in byte order, then kept as the
    // running total `o + e` of each byte's choice.
    let mut total = 0.0f32;
    for b in 0..full {
        total += along[b * 256 + out[b] as usize];
    }
    for _ in 0..p.sweeps {
        for b in 0..full {
            let es = &along[b * 256..(b + 1) * 256];
            let o = total - es[out[b] as usize];
            out[b] = sweep(o, w, &dist[b * 256..(b + 1) * 256], es);
            total = o + es[out[b] as usize];
        }
    }
}
