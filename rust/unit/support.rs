//! What the unit tests share: a seeded generator and packed random batches.

/// SplitMix64: a tiny seeded generator, so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [-1, 1), 24 random bits.
    pub fn uniform(&mut self) -> f32 {
        ((self.next() >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
    }

    /// Uniform in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// Uniform in `lo..=hi`.
    pub fn size(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// +1 or -1.
    pub fn sign(&mut self) -> f64 {
        if self.next() & 1 == 0 { 1.0 } else { -1.0 }
    }
}

/// Offsets `[count + 1]` of items of `lo..=hi` tokens.
pub fn offsets(rng: &mut Rng, count: usize, lo: usize, hi: usize) -> Vec<i64> {
    let mut o = vec![0i64];
    for _ in 0..count {
        o.push(o.last().unwrap() + rng.size(lo, hi) as i64);
    }
    o
}

/// A packed batch of `count` items of `lo..=hi` tokens, values from `value`: (data, offsets).
pub fn batch(
    rng: &mut Rng,
    count: usize,
    lo: usize,
    hi: usize,
    dim: usize,
    mut value: impl FnMut(&mut Rng) -> f32,
) -> (Vec<f32>, Vec<i64>) {
    let o = offsets(rng, count, lo, hi);
    let data = (0..*o.last().unwrap() as usize * dim)
        .map(|_| value(rng))
        .collect();
    (data, o)
}

/// The bit patterns of `v`, to compare floats exactly.
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The SIMD instruction sets of this CPU among `isas` (all but scalar), each to be compared with
/// the scalar kernel (always available, the oracle). When there is none, `test` says so on
/// stderr, uncaptured, so that a comparison that cannot run is a visible skip, not a silent pass.
pub fn simd_among(test: &str, isas: Vec<crate::kernel::Isa>) -> Vec<crate::kernel::Isa> {
    use std::io::Write;
    let simd: Vec<_> = isas
        .into_iter()
        .filter(|&i| i != crate::kernel::Isa::Scalar)
        .collect();
    if simd.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {test}: no SIMD instruction set on this CPU to compare with the scalar kernel"
        );
    }
    simd
}

/// Every SIMD instruction set of this CPU (see `simd_among`).
pub fn simd_isas(test: &str) -> Vec<crate::kernel::Isa> {
    simd_among(test, crate::kernel::Isa::available())
}
