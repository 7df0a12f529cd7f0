//! SplitMix64 and the seeded token sample of R-KMEANS-2.

use std::collections::HashMap;

/// The SplitMix64 generator (R-KMEANS-2).
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The first `s` entries of a partial Fisher-Yates shuffle of `0..n` (R-KMEANS-2), in draw order.
/// Only the swapped entries are held, so memory is O(s) whatever `n`.
pub fn sample(n: usize, s: usize, seed: u64) -> Vec<usize> {
    assert!(s <= n, "sample larger than the population");
    let mut rng = SplitMix64::new(seed);
    let mut moved: HashMap<usize, usize> = HashMap::with_capacity(2 * s);
    let mut out = Vec::with_capacity(s);
    for i in 0..s {
        let j = i + (rng.next_u64() % (n - i) as u64) as usize;
        let at_j = *moved.get(&j).unwrap_or(&j);
        let at_i = *moved.get(&i).unwrap_or(&i);
        moved.insert(j, at_i);
        out.push(at_j);
    }
    out
}
