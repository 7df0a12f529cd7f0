//! Spherical k-means (R-KMEANS-1..6): seeded sample, Lloyd iterations, deterministic whatever the
//! thread count (assignments are independent per point; each centroid sums its own points in
//! sample order).

use rayon::prelude::*;

use super::coarse::{self, Groups};
use super::progress::step_items;
use crate::kernel::{self, Isa};
use crate::memory;
use crate::{Error, Result};

/// Points per assignment block: four 16-lane register blocks.
const BLOCK: usize = 64;

/// The largest number of centroids (ids are stored as u16).
pub const MAX_CENTROIDS: usize = 65536;

/// Default iterations (R-KMEANS-1).
pub const DEFAULT_ITERS: usize = 4;

/// `(K, S)` by the rule of R-KMEANS-1 for `n >= 1` tokens.
pub fn default_sizes(n: usize) -> (usize, usize) {
    let k = (8.0 * (n as f64).sqrt()).log2().floor().max(0.0);
    let k = (1usize << (k as u32).min(20)).clamp(1, n.min(MAX_CENTROIDS));
    (k, n.min((32 * k).max(4096)))
}

/// The sizes actually used: defaults, or caller-given values checked against R-KMEANS-1.
pub fn sizes(n: usize, k: Option<usize>, s: Option<usize>) -> Result<(usize, usize)> {
    let (dk, _) = default_sizes(n);
    let k = match k {
        None => dk,
        Some(k) if (1..=n.min(MAX_CENTROIDS)).contains(&k) => k,
        Some(k) => {
            return Err(Error::Param {
                rule: "R-KMEANS-1",
                what: format!(
                    "n_centroids must be in 1..={} for {n} tokens, got {k}",
                    n.min(MAX_CENTROIDS)
                ),
            });
        }
    };
    let s = match s {
        None => n.min((32 * k).max(4096)),
        Some(s) if (k..=n).contains(&s) => s,
        Some(s) => {
            return Err(Error::Param {
                rule: "R-KMEANS-1",
                what: format!("sample must be in {k}..={n} (n_centroids..=n_tokens), got {s}"),
            });
        }
    };
    Ok((k, s))
}

/// `v / ||v||` in f64, rounded to f32; a zero vector stays zero.
pub fn normalize(v: &[f64], out: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    for (o, x) in out.iter_mut().zip(v) {
        *o = if norm > 0.0 { (x / norm) as f32 } else { 0.0 };
    }
}

/// Best centroid and its product for every point of `points: [n][dim]` (R-KMEANS-4), in parallel
/// over blocks of `BLOCK` points.
pub fn assign(
    isa: Isa,
    points: &[f32],
    dim: usize,
    centroids: &[f32],
    best: &mut [f32],
    arg: &mut [u32],
) {
    best.par_chunks_mut(BLOCK)
        .zip(arg.par_chunks_mut(BLOCK))
        .enumerate()
        .for_each_init(
            || {
                (
                    vec![0.0f32; dim * BLOCK],
                    vec![0.0f32; BLOCK],
                    vec![0u32; BLOCK],
                )
            },
            |(qt, b, a), (blk, (best, arg))| {
                let first = blk * BLOCK;
                qt.fill(0.0);
                for (l, row) in points[first * dim..(first + best.len()) * dim]
                    .chunks_exact(dim)
                    .enumerate()
                {
                    for (k, &x) in row.iter().enumerate() {
                        qt[k * BLOCK + l] = x;
                    }
                }
                kernel::argmax_rows(isa, qt, BLOCK, dim, centroids, b, a);
                best.copy_from_slice(&b[..best.len()]);
                arg.copy_from_slice(&a[..arg.len()]);
            },
        );
}

/// `assign` in steps of a few milliseconds of work (R-INDEX-8), `tick(points done)` after each
/// step; its error stops the assignment and is returned. The results do not depend on the steps
/// (every point is assigned on its own).
pub fn assign_in_steps(
    isa: Isa,
    points: &[f32],
    dim: usize,
    centroids: &[f32],
    best: &mut [f32],
    arg: &mut [u32],
    tick: &mut dyn FnMut(usize) -> Result<()>,
) -> Result<()> {
    let n = best.len().min(arg.len());
    let step = step_items((centroids.len() / dim.max(1)).saturating_mul(dim), BLOCK);
    for start in (0..n).step_by(step) {
        let end = start.saturating_add(step).min(n);
        assign(
            isa,
            &points[start * dim..end * dim],
            dim,
            centroids,
            &mut best[start..end],
            &mut arg[start..end],
        );
        tick(end)?;
    }
    Ok(())
}

/// How points find their centroid among `[K][dim]` centroids: the exact best (R-KMEANS-4) or
/// coarse-to-fine through groups of centroids (R-KMEANS-6).
pub enum Assigner<'a> {
    Exact(&'a [f32]),
    Coarse(Box<Groups>),
}

impl<'a> Assigner<'a> {
    /// The rule for `centroids` of a codec of format `version` (`coarse::coarse`); grouping the
    /// centroids calls `tick` between steps.
    pub fn new(
        isa: Isa,
        centroids: &'a [f32],
        dim: usize,
        version: u32,
        tick: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Assigner<'a>> {
        let k = centroids.len() / dim.max(1);
        if coarse::coarse(version, k) {
            let g = coarse::n_groups(k);
            let groups = Groups::new(isa, centroids, dim, g, coarse::PROBE_GROUPS, tick)?;
            Ok(Assigner::Coarse(Box::new(groups)))
        } else {
            Ok(Assigner::Exact(centroids))
        }
    }

    /// Every point's centroid and product, in steps of bounded work (R-INDEX-8), `tick(points
    /// done)` after each; the results do not depend on the steps.
    pub fn assign_in_steps(
        &self,
        isa: Isa,
        points: &[f32],
        dim: usize,
        best: &mut [f32],
        arg: &mut [u32],
        tick: &mut dyn FnMut(usize) -> Result<()>,
    ) -> Result<()> {
        match self {
            Assigner::Exact(centroids) => {
                assign_in_steps(isa, points, dim, centroids, best, arg, tick)
            }
            Assigner::Coarse(groups) => {
                let n = best.len().min(arg.len());
                let step = groups.step();
                for start in (0..n).step_by(step) {
                    let end = start.saturating_add(step).min(n);
                    groups.assign(
                        isa,
                        &points[start * dim..end * dim],
                        &mut best[start..end],
                        &mut arg[start..end],
                    )?;
                    tick(end)?;
                }
                Ok(())
            }
        }
    }
}

/// Trains `k` centroids on `sample: [s][dim]` with `iters` Lloyd iterations (R-KMEANS-3), each
/// assigning by the rule of a codec of format `version` (R-KMEANS-6, groups rebuilt from the
/// current centroids); `progress(done, iters * s)` in points assigned, between steps (its error
/// stops the training).
pub fn train(
    isa: Isa,
    sample: &[f32],
    dim: usize,
    k: usize,
    iters: usize,
    version: u32,
    progress: &mut dyn FnMut(u64, u64) -> Result<()>,
) -> Result<Vec<f32>> {
    let s = sample.len() / dim;
    let mut centroids = memory::zeroed::<f32>(memory::product(k, dim, 4)?)?;
    for (c, row) in centroids
        .chunks_exact_mut(dim)
        .zip(sample.chunks_exact(dim))
    {
        let v: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
        normalize(&v, c);
    }
    let mut best = memory::zeroed::<f32>(s)?;
    let mut arg = memory::zeroed::<u32>(s)?;
    let total = (iters as u64).saturating_mul(s as u64);
    for it in 0..iters {
        let before = it as u64 * s as u64;
        let rule = Assigner::new(isa, &centroids, dim, version, &mut || {
            progress(before, total)
        })?;
        rule.assign_in_steps(isa, sample, dim, &mut best, &mut arg, &mut |done| {
            progress(before + done as u64, total)
        })?;
        drop(rule);
        update(sample, dim, k, &best, &arg, &mut centroids)?;
    }
    Ok(centroids)
}

/// One update step: member sums in sample order, normalised; empty clusters re-seeded with the
/// worst-fitting points (R-KMEANS-3).
fn update(
    sample: &[f32],
    dim: usize,
    k: usize,
    best: &[f32],
    arg: &[u32],
    centroids: &mut [f32],
) -> Result<()> {
    let (start, members) = members(arg, k)?;
    set_means(sample, dim, &start, &members, centroids);
    let empty: Vec<usize> = (0..k).filter(|&c| start[c] == start[c + 1]).collect();
    if !empty.is_empty() {
        let mut worst: Vec<u32> = (0..arg.len() as u32).collect();
        worst.sort_by(|&a, &b| {
            best[a as usize]
                .total_cmp(&best[b as usize])
                .then(a.cmp(&b))
        });
        for (&c, &p) in empty.iter().zip(&worst) {
            let row = &sample[p as usize * dim..(p as usize + 1) * dim];
            let v: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
            normalize(&v, &mut centroids[c * dim..(c + 1) * dim]);
        }
    }
    Ok(())
}

/// The members of each of `k` clusters given each point's cluster `arg`, in point order (a
/// stable counting sort): cluster `c` holds `members[start[c]..start[c + 1]]`.
pub(crate) fn members(arg: &[u32], k: usize) -> Result<(Vec<usize>, Vec<u32>)> {
    let mut start = vec![0usize; k + 1];
    for &a in arg {
        start[a as usize + 1] += 1;
    }
    for c in 0..k {
        start[c + 1] += start[c];
    }
    let mut fill = start.clone();
    let mut members = memory::zeroed::<u32>(arg.len())?;
    for (p, &a) in arg.iter().enumerate() {
        members[fill[a as usize]] = p as u32;
        fill[a as usize] += 1;
    }
    Ok((start, members))
}

/// Each centre `out[c]` with at least one member becomes `normalize(sum of its members' rows of
/// points)`, the sum in f64 in member order; a zero sum or no member leaves it unchanged
/// (R-KMEANS-3, R-KMEANS-6). In parallel over centres.
pub(crate) fn set_means(
    points: &[f32],
    dim: usize,
    start: &[usize],
    members: &[u32],
    out: &mut [f32],
) {
    out.par_chunks_mut(dim).enumerate().for_each(|(c, out)| {
        let own = &members[start[c]..start[c + 1]];
        if own.is_empty() {
            return;
        }
        let mut sum = vec![0.0f64; dim];
        for &p in own {
            let row = &points[p as usize * dim..(p as usize + 1) * dim];
            for (acc, &x) in sum.iter_mut().zip(row) {
                *acc += f64::from(x);
            }
        }
        if sum.iter().any(|&x| x != 0.0) {
            normalize(&sum, out);
        }
    });
}
