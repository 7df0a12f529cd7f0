//! R-KMEANS-6: the coarse-to-fine rule against a plain restatement (scalar dot products).

use super::*;

/// The f32 FMA chain of R-MAXSIM-10.
fn dot(x: &[f32], y: &[f32]) -> f32 {
    x.iter()
        .zip(y)
        .fold(0.0f32, |acc, (&a, &b)| a.mul_add(b, acc))
}

fn lcg(state: &mut u64) -> f32 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
}

/// R-KMEANS-6: each point gets the best member (ties to the lowest index) of its `probe` best
/// live groups (ties to the lowest group), for every instruction set.
#[test]
fn coarse_is_the_argmax_over_the_probed_groups() {
    let (dim, k, n, g, probe) = (8usize, 300usize, 500usize, 20usize, 3usize);
    let mut state = 7u64;
    let mut centroids: Vec<f32> = (0..k * dim).map(|_| lcg(&mut state)).collect();
    // Duplicates: ties between centroids and between groups.
    let (head, tail) = centroids.split_at_mut(10 * dim);
    tail[..10 * dim].copy_from_slice(head);
    let mut points: Vec<f32> = (0..n * dim).map(|_| lcg(&mut state)).collect();
    points[..dim].copy_from_slice(&centroids[..dim]);
    for isa in Isa::available() {
        let groups = Groups::new(isa, &centroids, dim, g, probe, &mut || Ok(())).unwrap();
        let mut best = vec![0.0f32; n];
        let mut arg = vec![0u32; n];
        groups.assign(isa, &points, &mut best, &mut arg).unwrap();
        for p in 0..n {
            let x = &points[p * dim..(p + 1) * dim];
            let live: Vec<usize> = (0..g)
                .filter(|&j| groups.of.iter().any(|&o| o as usize == j))
                .collect();
            let mut order: Vec<(f32, usize)> = live
                .iter()
                .map(|&j| {
                    let c = &groups.centres[live.iter().position(|&l| l == j).unwrap() * dim..];
                    (dot(x, &c[..dim]), j)
                })
                .collect();
            order.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
            let chosen: Vec<usize> = order.iter().take(probe).map(|&(_, j)| j).collect();
            let mut want = (f32::NEG_INFINITY, u32::MAX);
            for c in 0..k {
                if !chosen.contains(&(groups.of[c] as usize)) {
                    continue;
                }
                let s = dot(x, &centroids[c * dim..(c + 1) * dim]);
                if want.1 == u32::MAX || s > want.0 {
                    want = (s, c as u32);
                }
            }
            assert_eq!(
                (best[p].to_bits(), arg[p]),
                (want.0.to_bits(), want.1),
                "{isa:?} {p}"
            );
        }
    }
}

/// R-KMEANS-6: the gate: versions before `COARSE_FROM_VERSION` and `K < K_c` stay exact.
#[test]
fn coarse_only_from_its_version_and_size() {
    assert!(!coarse(COARSE_FROM_VERSION - 1, 65536));
    assert!(!coarse(COARSE_FROM_VERSION, COARSE_MIN_K - 1));
    assert!(coarse(COARSE_FROM_VERSION, COARSE_MIN_K));
    assert_eq!(n_groups(4096), 64);
    assert_eq!(n_groups(16384), 256);
    assert_eq!(n_groups(4097), 64);
}
