//! Coarse-to-fine centroid assignment (R-KMEANS-6): the centroids are grouped by a spherical
//! k-means over the centroids themselves; a token scores the group centres, keeps its `P` best
//! groups and takes the best centroid among their members. Every product is the kernel's FMA
//! chain, so the result is the exact argmax over the union of those groups' members, bit for
//! bit, whatever the thread count (R-KMEANS-5).

use std::cmp::Ordering;

use rayon::prelude::*;

use super::kmeans;
use crate::Result;
use crate::kernel::{self, Isa};
use crate::memory;

/// The first codec format version whose tokens are assigned by R-KMEANS-6.
pub const COARSE_FROM_VERSION: u32 = 4;

/// `K_c`: fewer centroids are always assigned exactly (R-KMEANS-4).
pub const COARSE_MIN_K: usize = 4096;

/// Centroids per group on average: `G = floor(K / GROUP_SIZE)`.
pub const GROUP_SIZE: usize = 64;

/// `P`: the groups a token looks into.
pub const PROBE_GROUPS: usize = 16;

/// Lloyd iterations of the group k-means.
pub const GROUP_ITERS: usize = 4;

/// Lanes of one kernel block.
const LANES: usize = 64;

/// Whether a codec of format `version` with `k` centroids assigns by R-KMEANS-6.
pub fn coarse(version: u32, k: usize) -> bool {
    version >= COARSE_FROM_VERSION && k >= COARSE_MIN_K
}

/// `G` for `k` centroids (R-KMEANS-6), at least 1.
pub fn n_groups(k: usize) -> usize {
    (k / GROUP_SIZE).max(1)
}

/// The groups of a set of centroids (R-KMEANS-6).
pub struct Groups {
    dim: usize,
    /// `P`.
    probe: usize,
    /// `[K]` group of each centroid, in `0..G`.
    pub of: Vec<u32>,
    /// `[live][dim]` centres of the groups with at least one member, in group order.
    centres: Vec<f32>,
    /// `[live + 1]` offsets of each live group's members in `ids` and `rows`.
    start: Vec<usize>,
    /// `[K]` original centroid indices, group-major, increasing within a group.
    ids: Vec<u32>,
    /// `[K][dim]` the centroid rows in the order of `ids`.
    rows: Vec<f32>,
}

impl Groups {
    /// Groups `centroids: [K][dim]` (K >= 1) into `g` groups (`1..=K`) by `GROUP_ITERS` spherical
    /// Lloyd iterations from the centroids `floor(j * K / g)`; a token will look into `probe`
    /// groups (at least 1). `tick` is called between steps (its error stops the grouping).
    pub fn new(
        isa: Isa,
        centroids: &[f32],
        dim: usize,
        g: usize,
        probe: usize,
        tick: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Groups> {
        let k = centroids.len() / dim.max(1);
        let g = g.clamp(1, k.max(1));
        let mut centres = memory::zeroed::<f32>(memory::product(g, dim, 4)?)?;
        for (j, c) in centres.chunks_exact_mut(dim).enumerate() {
            let from = j * k / g;
            c.copy_from_slice(&centroids[from * dim..(from + 1) * dim]);
        }
        let mut best = memory::zeroed::<f32>(k)?;
        let mut of = memory::zeroed::<u32>(k)?;
        for it in 0..=GROUP_ITERS {
            kmeans::assign_in_steps(
                isa,
                centroids,
                dim,
                &centres,
                &mut best,
                &mut of,
                &mut |_| tick(),
            )?;
            if it == GROUP_ITERS {
                break;
            }
            let (start, ids) = kmeans::members(&of, g)?;
            kmeans::set_means(centroids, dim, &start, &ids, &mut centres);
            tick()?;
        }
        let (all_start, ids) = kmeans::members(&of, g)?;
        // Only groups with members are candidates.
        let mut live_centres = Vec::new();
        let mut start = vec![0usize];
        for j in 0..g {
            if all_start[j + 1] > all_start[j] {
                live_centres.extend_from_slice(&centres[j * dim..(j + 1) * dim]);
                start.push(all_start[j + 1]);
            }
        }
        let mut rows = memory::zeroed::<f32>(memory::product(k, dim, 4)?)?;
        rows.par_chunks_mut(dim)
            .zip(ids.par_iter())
            .for_each(|(row, &c)| {
                row.copy_from_slice(&centroids[c as usize * dim..(c as usize + 1) * dim])
            });
        Ok(Groups {
            dim,
            probe: probe.max(1),
            of,
            centres: live_centres,
            start,
            ids,
            rows,
        })
    }

    /// Groups with at least one member.
    fn live(&self) -> usize {
        self.start.len() - 1
    }

    /// Tokens per step of `assign_in_steps`: enough for every group to get several full blocks.
    pub fn step(&self) -> usize {
        let live = self.live().max(1);
        let per = self.probe.min(live);
        let k = self.ids.len();
        let cost = (live + per * k.div_ceil(live)).saturating_mul(self.dim);
        super::progress::step_items(cost, LANES).max(8 * LANES * live / per)
    }

    /// Best centroid (original index) and its product for every point of `points: [n][dim]`
    /// (R-KMEANS-6).
    pub fn assign(
        &self,
        isa: Isa,
        points: &[f32],
        best: &mut [f32],
        arg: &mut [u32],
    ) -> Result<()> {
        let dim = self.dim;
        let n = best.len().min(arg.len());
        let live = self.live();
        let per = self.probe.min(live);
        if n == 0 || per == 0 {
            return Ok(());
        }
        // The `per` best live groups of every point: greater product first, ties to the lower
        // group.
        let mut sel = memory::zeroed::<u32>(memory::product(n, per, 1)?)?;
        sel.par_chunks_mut(LANES * per).enumerate().for_each_init(
            || {
                (
                    vec![0.0f32; dim * LANES],
                    vec![0.0f32; live * LANES],
                    Vec::<(f32, u32)>::with_capacity(per + 1),
                )
            },
            |(qt, scores, top), (blk, sel)| {
                let first = blk * LANES;
                let lanes = sel.len() / per;
                transpose(points, dim, (first..first + lanes).map(|p| p as u32), qt);
                kernel::row_scores(isa, qt, LANES, dim, &self.centres, scores);
                for (l, out) in sel.chunks_exact_mut(per).enumerate() {
                    top.clear();
                    for j in 0..live {
                        let s = scores[j * LANES + l];
                        if top.len() == per {
                            // A later group never beats an equal product.
                            if s.partial_cmp(&top[per - 1].0) != Some(Ordering::Greater) {
                                continue;
                            }
                            top.pop();
                        }
                        let at = top.iter().position(|&(t, _)| t < s).unwrap_or(top.len());
                        top.insert(at, (s, j as u32));
                    }
                    for (o, &(_, j)) in out.iter_mut().zip(top.iter()) {
                        *o = j;
                    }
                }
            },
        );
        // Pairs (point, group) by group, in point order, each group's run padded to whole blocks.
        let mut count = vec![0usize; live];
        for &j in &sel {
            count[j as usize] += 1;
        }
        let mut pstart = vec![0usize; live + 1];
        for j in 0..live {
            pstart[j + 1] = pstart[j] + count[j].div_ceil(LANES) * LANES;
        }
        let padded = pstart[live];
        let mut pair_point = memory::zeroed::<u32>(padded)?;
        pair_point.fill(u32::MAX);
        let mut pos = memory::zeroed::<u32>(sel.len())?;
        let mut fill = pstart.clone();
        for (i, &j) in sel.iter().enumerate() {
            let at = fill[j as usize];
            pair_point[at] = (i / per) as u32;
            pos[i] = at as u32;
            fill[j as usize] += 1;
        }
        drop(sel);
        let mut block_group = Vec::with_capacity(padded / LANES);
        for j in 0..live {
            block_group.extend(std::iter::repeat_n(j, (pstart[j + 1] - pstart[j]) / LANES));
        }
        // Each block: its points against its group's members.
        let mut found = memory::zeroed::<(f32, u32)>(padded)?;
        found
            .par_chunks_mut(LANES)
            .zip(pair_point.par_chunks(LANES))
            .zip(block_group.par_iter())
            .for_each_init(
                || {
                    (
                        vec![0.0f32; dim * LANES],
                        vec![0.0f32; LANES],
                        vec![0u32; LANES],
                    )
                },
                |(qt, b, a), ((found, pts), &j)| {
                    transpose(
                        points,
                        dim,
                        pts.iter().copied().filter(|&p| p != u32::MAX),
                        qt,
                    );
                    let (r0, r1) = (self.start[j], self.start[j + 1]);
                    kernel::argmax_rows(isa, qt, LANES, dim, &self.rows[r0 * dim..r1 * dim], b, a);
                    for (l, f) in found.iter_mut().enumerate() {
                        let row = (a[l] as usize).min(r1 - r0 - 1);
                        *f = (b[l], self.ids[r0 + row]);
                    }
                },
            );
        // Each point: the greatest product, ties to the lower centroid index.
        best.par_iter_mut()
            .zip(arg.par_iter_mut())
            .zip(pos.par_chunks(per))
            .for_each(|((b, a), pos)| {
                let (mut bs, mut ba) = (f32::NEG_INFINITY, u32::MAX);
                for &p in pos {
                    let (s, c) = found[p as usize];
                    if ba == u32::MAX || s > bs || (s == bs && c < ba) {
                        (bs, ba) = (s, c);
                    }
                }
                (*b, *a) = (bs, ba);
            });
        Ok(())
    }
}

/// The rows `points[p]` for the given `p` (at most `LANES`) into the lanes of `qt: [dim][LANES]`,
/// the remaining lanes zero.
fn transpose(points: &[f32], dim: usize, rows: impl Iterator<Item = u32>, qt: &mut [f32]) {
    qt.fill(0.0);
    for (l, p) in rows.take(LANES).enumerate() {
        let row = &points[p as usize * dim..(p as usize + 1) * dim];
        for (d, &x) in row.iter().enumerate() {
            qt[d * LANES + l] = x;
        }
    }
}

#[cfg(test)]
#[path = "../unit/coarse.rs"]
mod tests;
