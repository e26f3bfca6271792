//! The amorphous matrix: random sequential addition with a small hard core, then soft-sphere
//! relaxation on cell lists.
//!
//! Relaxation is Jacobi-style: every atom's push is computed from the positions of the previous
//! sweep, summed over its neighbours in a fixed cell order, then all atoms move at once. Work is
//! split over atoms with rayon, but no floating-point sum depends on the split, so the result is
//! bit-identical at any thread count. Cost per sweep is linear in the number of atoms.
//!
//! Cluster atoms take part with one restriction: they only slide along their cluster's axis, so
//! the projected motif stays exact while the minimum distances are enforced inside the motif and
//! across the cluster boundary.

use rand::Rng;
use rayon::prelude::*;

use super::placement::{offset, SphereGrid};
use super::radii::PairTable;

/// Hard core of the initial random addition, as a fraction of the soft-contact distance.
const INITIAL_CORE: f64 = 0.6;
/// Trial positions per atom in the initial random addition.
const INITIAL_TRIALS: usize = 30;
/// Fraction of the summed overlap an atom moves per sweep.
const STEP: f64 = 0.45;
/// Largest move per sweep in nm.
const MAX_MOVE_NM: f64 = 0.03;
/// Sweeps always done (they shape the liquid-like order).
pub const MIN_SWEEPS: usize = 30;
/// Sweeps after which the relaxation stops; atoms still too close are then removed
/// ([`remove_close_pairs`]).
pub const MAX_SWEEPS: usize = 60;

/// Marks an atom that moves freely.
pub(crate) const FREE: u32 = u32::MAX;

/// Atoms under construction.
#[derive(Debug, Clone, Default)]
pub(crate) struct System {
    /// Box `[x, y, z]` in nm.
    pub extent_nm: [f64; 3],
    /// Positions in nm.
    pub pos: Vec<[f64; 3]>,
    /// Species slot per atom.
    pub species: Vec<u8>,
    /// Cluster index per atom, or [`FREE`].
    pub owner: Vec<u32>,
}

/// A cell list built by counting sort; atoms are reordered so each cell is contiguous.
struct Cells {
    n: [usize; 3],
    cell: [f64; 3],
    start: Vec<u32>,
}

impl Cells {
    fn new(extent_nm: [f64; 3], min_cell_nm: f64) -> Self {
        let n: [usize; 3] =
            std::array::from_fn(|i| ((extent_nm[i] / min_cell_nm).floor() as usize).max(1));
        Self {
            n,
            cell: std::array::from_fn(|i| extent_nm[i] / n[i] as f64),
            start: Vec::new(),
        }
    }

    #[inline]
    fn coords(&self, p: [f64; 3]) -> [usize; 3] {
        // `as usize` truncates (= floor for the non-negative coordinates here) and saturates;
        // `floor()` is a library call on baseline x86-64.
        std::array::from_fn(|i| ((p[i] / self.cell[i]) as usize).min(self.n[i] - 1))
    }

    #[inline]
    fn flat(&self, c: [usize; 3]) -> usize {
        (c[0] * self.n[1] + c[1]) * self.n[2] + c[2]
    }

    /// Sorts `sys` into cell order and records each cell's start.
    fn rebuild(&mut self, sys: &mut System) {
        let ncell = self.n[0] * self.n[1] * self.n[2];
        let keys: Vec<u32> = sys
            .pos
            .par_iter()
            .map(|&p| self.flat(self.coords(p)) as u32)
            .collect();
        let mut start = vec![0u32; ncell + 1];
        for &k in &keys {
            start[k as usize + 1] += 1;
        }
        for c in 0..ncell {
            start[c + 1] += start[c];
        }
        let mut fill = start.clone();
        let mut perm = vec![0u32; keys.len()];
        for (i, &k) in keys.iter().enumerate() {
            perm[fill[k as usize] as usize] = i as u32;
            fill[k as usize] += 1;
        }
        sys.pos = perm.par_iter().map(|&i| sys.pos[i as usize]).collect();
        sys.species = perm.par_iter().map(|&i| sys.species[i as usize]).collect();
        sys.owner = perm.par_iter().map(|&i| sys.owner[i as usize]).collect();
        self.start = start;
    }

    /// Neighbour cells of `c` (periodic in x, y; bounded in z), each once, in a fixed order.
    fn neighbours(&self, c: [usize; 3], out: &mut Vec<usize>) {
        out.clear();
        let axis = |i: usize, periodic: bool| -> ([usize; 3], usize) {
            let n = self.n[i] as i64;
            let mut v = [0usize; 3];
            let mut len = 0;
            for d in -1i64..=1 {
                let x = c[i] as i64 + d;
                let x = if periodic {
                    x.rem_euclid(n)
                } else if (0..n).contains(&x) {
                    x
                } else {
                    continue;
                };
                if !v[..len].contains(&(x as usize)) {
                    v[len] = x as usize;
                    len += 1;
                }
            }
            v[..len].sort_unstable();
            (v, len)
        };
        let ((xs, nx), (ys, ny), (zs, nz)) = (axis(0, true), axis(1, true), axis(2, false));
        for &x in &xs[..nx] {
            for &y in &ys[..ny] {
                for &z in &zs[..nz] {
                    out.push(self.flat([x, y, z]));
                }
            }
        }
    }
}

/// Fills the box outside the cluster spheres with `species` (one slot per atom, in order) by
/// random sequential addition with a small hard core.
pub(crate) fn random_fill<R: Rng>(
    extent_nm: [f64; 3],
    species: &[u8],
    pairs: &PairTable,
    spheres: &SphereGrid,
    sphere_of: &dyn Fn(u32) -> ([f64; 3], f64),
    max_radius_nm: f64,
    rng: &mut R,
) -> Vec<[f64; 3]> {
    let core_max = INITIAL_CORE * pairs.max_soft();
    let cells = Cells::new(extent_nm, core_max);
    let ncell = cells.n[0] * cells.n[1] * cells.n[2];
    let mut head = vec![u32::MAX; ncell];
    let mut next: Vec<u32> = Vec::with_capacity(species.len());
    let mut pos: Vec<[f64; 3]> = Vec::with_capacity(species.len());
    let (lx, ly) = (extent_nm[0], extent_nm[1]);
    let mut nb = Vec::with_capacity(27);
    let in_cluster = |p: [f64; 3]| {
        let mut inside = false;
        spheres.near(p, max_radius_nm, |id| {
            let (c, r) = sphere_of(id);
            let s = offset(p, c, lx, ly);
            if s[0] * s[0] + s[1] * s[1] + s[2] * s[2] < r * r {
                inside = true;
            }
        });
        inside
    };
    for &sp in species {
        let mut chosen = None;
        let mut trials = 0;
        while chosen.is_none() {
            let p = [
                rng.gen::<f64>() * lx,
                rng.gen::<f64>() * ly,
                rng.gen::<f64>() * extent_nm[2],
            ];
            if in_cluster(p) {
                continue;
            }
            trials += 1;
            cells.neighbours(cells.coords(p), &mut nb);
            let mut clear = true;
            'cells: for &c in &nb {
                let mut j = head[c];
                while j != u32::MAX {
                    let q = pos[j as usize];
                    let s = offset(p, q, lx, ly);
                    let core = INITIAL_CORE * pairs.soft(sp, species[j as usize]);
                    if s[0] * s[0] + s[1] * s[1] + s[2] * s[2] < core * core {
                        clear = false;
                        break 'cells;
                    }
                    j = next[j as usize];
                }
            }
            if clear || trials >= INITIAL_TRIALS {
                chosen = Some(p);
            }
        }
        let p = chosen.expect("loop ends with a position");
        let c = cells.flat(cells.coords(p));
        next.push(head[c]);
        head[c] = pos.len() as u32;
        pos.push(p);
    }
    pos
}

/// Outcome of a relaxation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Relaxed {
    /// Sweeps done.
    pub sweeps: usize,
    /// Pairs still closer than their minimum distance (0 on success).
    pub violations: usize,
}

/// Soft-sphere relaxation. `axes[k]` is the axis of cluster `k`, along which its atoms slide.
/// `progress(sweep)` is called after each sweep.
pub(crate) fn relax(
    sys: &mut System,
    pairs: &PairTable,
    axes: &[[f64; 3]],
    progress: &dyn Fn(usize),
) -> Relaxed {
    let mut cells = Cells::new(sys.extent_nm, pairs.max_soft());
    let [lx, ly, lz] = sys.extent_nm;
    let mut sweep = 0;
    loop {
        cells.rebuild(sys);
        let cells_ref = &cells;
        let sys_ref = &*sys;
        let (moves, violations): (Vec<[f64; 3]>, Vec<u32>) = (0..sys.pos.len())
            .into_par_iter()
            .with_min_len(4096)
            .map_init(
                || (Vec::with_capacity(27), usize::MAX),
                |(nb, last), i| {
                    let p = sys_ref.pos[i];
                    let si = sys_ref.species[i];
                    let here = cells_ref.coords(p);
                    let flat = cells_ref.flat(here);
                    if flat != *last {
                        cells_ref.neighbours(here, nb);
                        *last = flat;
                    }
                    let mut push = [0.0; 3];
                    let mut bad = 0u32;
                    for &c in nb.iter() {
                        let (a, b) = (cells_ref.start[c] as usize, cells_ref.start[c + 1] as usize);
                        for j in a..b {
                            if j == i {
                                continue;
                            }
                            let s = offset(sys_ref.pos[j], p, lx, ly);
                            let d2 = s[0] * s[0] + s[1] * s[1] + s[2] * s[2];
                            let sj = sys_ref.species[j];
                            let soft = pairs.soft(si, sj);
                            if d2 < soft * soft {
                                let d = d2.sqrt().max(1e-6);
                                let f = 0.5 * (soft - d) / d;
                                push[0] += f * s[0];
                                push[1] += f * s[1];
                                push[2] += f * s[2];
                                let m = pairs.min(si, sj);
                                if d2 < m * m {
                                    bad += 1;
                                }
                            }
                        }
                    }
                    (push, bad)
                },
            )
            .unzip();
        let violations: usize = violations.iter().map(|&v| v as usize).sum::<usize>() / 2;
        if sweep >= MIN_SWEEPS && violations == 0 || sweep >= MAX_SWEEPS {
            return Relaxed {
                sweeps: sweep,
                violations,
            };
        }
        let owner = &sys.owner;
        sys.pos
            .par_iter_mut()
            .zip(moves.par_iter())
            .zip(owner.par_iter())
            .for_each(|((p, m), &own)| {
                let mut d = [STEP * m[0], STEP * m[1], STEP * m[2]];
                if own != FREE {
                    let a = axes[own as usize];
                    let t = d[0] * a[0] + d[1] * a[1] + d[2] * a[2];
                    d = [t * a[0], t * a[1], t * a[2]];
                }
                let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                if len > MAX_MOVE_NM {
                    let k = MAX_MOVE_NM / len;
                    d = [d[0] * k, d[1] * k, d[2] * k];
                }
                p[0] = (p[0] + d[0]).rem_euclid(lx);
                p[1] = (p[1] + d[1]).rem_euclid(ly);
                p[2] = (p[2] + d[2]).clamp(0.0, lz);
                // rem_euclid can round up to the period itself.
                if p[0] >= lx {
                    p[0] = 0.0;
                }
                if p[1] >= ly {
                    p[1] = 0.0;
                }
            });
        sweep += 1;
        progress(sweep);
    }
}

/// Removes one atom of every pair still closer than its minimum distance (the matrix atom
/// where there is one, else the later atom), scanning in cell order. Returns the count.
pub(crate) fn remove_close_pairs(sys: &mut System, pairs: &PairTable) -> usize {
    let mut cells = Cells::new(sys.extent_nm, pairs.max_soft());
    cells.rebuild(sys);
    let [lx, ly, _] = sys.extent_nm;
    let mut gone = vec![false; sys.pos.len()];
    let mut nb = Vec::with_capacity(27);
    for i in 0..sys.pos.len() {
        if gone[i] {
            continue;
        }
        let p = sys.pos[i];
        cells.neighbours(cells.coords(p), &mut nb);
        for &c in &nb {
            for j in cells.start[c] as usize..cells.start[c + 1] as usize {
                if j == i || gone[j] || gone[i] {
                    continue;
                }
                let s = offset(sys.pos[j], p, lx, ly);
                let m = pairs.min(sys.species[i], sys.species[j]);
                if s[0] * s[0] + s[1] * s[1] + s[2] * s[2] < m * m {
                    let drop_i = sys.owner[i] == FREE && sys.owner[j] != FREE
                        || (sys.owner[i] == sys.owner[j] && i > j);
                    if drop_i {
                        gone[i] = true;
                    } else {
                        gone[j] = true;
                    }
                }
            }
        }
    }
    let removed = gone.iter().filter(|&&g| g).count();
    fn keep<T>(v: &mut Vec<T>, gone: &[bool]) {
        let mut k = 0;
        v.retain(|_| {
            k += 1;
            !gone[k - 1]
        });
    }
    keep(&mut sys.pos, &gone);
    keep(&mut sys.species, &gone);
    keep(&mut sys.owner, &gone);
    removed
}
