//! The amorphous matrix: random sequential addition with a small hard core around the fixed
//! cluster atoms, then soft-sphere relaxation of the matrix atoms on Verlet lists.
//!
//! The fill is block-parallel (eight parity classes of ≈ 0.6 nm blocks, one random stream per
//! block) and so independent of the thread count. Relaxation is Jacobi-style: every atom's push
//! is computed from the positions of the previous sweep, summed over its Verlet list in a fixed
//! order, then all atoms move at once. Work is split into fixed chunks of atoms, and no
//! floating-point sum depends on the split, so the result is bit-identical at any thread count.
//! Cost per sweep and per list build is linear in the number of atoms.
//!
//! Cluster atoms stay where their motif put them (it already keeps every minimum distance, and
//! the projected motif stays exact); matrix atoms take the whole overlap with them, which
//! enforces the minimum distances across the cluster boundary.

use mro_core::Seeds;
use rand::Rng;
use rayon::prelude::*;

use super::placement::offset;
use super::radii::PairTable;

/// Hard core of the initial random addition, as a fraction of the soft-contact distance.
const INITIAL_CORE: f64 = 0.6;
/// Trial positions per atom in the initial random addition.
const INITIAL_TRIALS: usize = 4;
/// Verlet-list skin in nm: lists hold pairs within the soft contact plus this.
const SKIN_NM: f64 = 0.1;
/// Pairs closer than this multiple of their minimum distance are pushed harder ...
const GUARD: f64 = 1.04;
/// ... by this multiple of their shortfall.
const HARD: f64 = 3.0;
/// Fraction of the summed overlap an atom moves per sweep.
const STEP: f64 = 0.45;
/// Largest move per sweep in nm.
const MAX_MOVE_NM: f64 = 0.024;
/// Sweeps always done (they shape the liquid-like order).
pub const MIN_SWEEPS: usize = 30;
/// Sweeps after which the relaxation stops; atoms still too close are then removed
/// ([`remove_close_pairs`]).
pub const MAX_SWEEPS: usize = 32;

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
        self.neighbours_within(c, 1, out);
    }

    /// Atom index ranges of the cells within two cells of `c` along each axis: one contiguous
    /// run along z per (x, y) column, each column once, in a fixed order.
    fn runs_within_two(&self, c: [usize; 3], out: &mut Vec<(usize, usize)>) {
        out.clear();
        let unique = |i: usize| -> ([usize; 5], usize) {
            let n = self.n[i] as i64;
            let mut v = [0usize; 5];
            let mut len = 0;
            for d in -2i64..=2 {
                let x = (c[i] as i64 + d).rem_euclid(n) as usize;
                if !v[..len].contains(&x) {
                    v[len] = x;
                    len += 1;
                }
            }
            (v, len)
        };
        let ((xs, nx), (ys, ny)) = (unique(0), unique(1));
        let zlo = c[2].saturating_sub(2);
        let zhi = (c[2] + 2).min(self.n[2] - 1);
        for &x in &xs[..nx] {
            for &y in &ys[..ny] {
                let a = self.start[self.flat([x, y, zlo])] as usize;
                let b = self.start[self.flat([x, y, zhi]) + 1] as usize;
                out.push((a, b));
            }
        }
    }

    /// Cells within `m` cells of `c` along each axis (periodic in x, y; bounded in z), each
    /// once, in a fixed order.
    fn neighbours_within(&self, c: [usize; 3], m: i64, out: &mut Vec<usize>) {
        out.clear();
        let axis = |i: usize, periodic: bool| -> ([usize; 5], usize) {
            let n = self.n[i] as i64;
            let mut v = [0usize; 5];
            let mut len = 0;
            for d in -m..=m {
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

/// Atoms per stream of the ideal-gas draft of the fill.
const DRAFT_CHUNK: usize = 1 << 16;
/// Edge of a fill block in nm (at least; blocks divide the box evenly).
const BLOCK_NM: f64 = 0.6;

/// The matrix atoms of one fill block and the fixed (cluster) atoms that fall in it.
#[derive(Default, Clone)]
struct Block {
    /// Positions: fixed atoms first, then accepted matrix atoms.
    pos: Vec<[f64; 3]>,
    /// Species slot per position.
    species: Vec<u8>,
    /// How many leading entries are fixed atoms.
    fixed: usize,
}

/// Block layout of the fill: `n` blocks per axis, an even number along the periodic x and y
/// (or one), so blocks whose three index parities agree never touch.
struct Blocks {
    n: [usize; 3],
    size: [f64; 3],
}

impl Blocks {
    fn new(extent_nm: [f64; 3]) -> Self {
        let n: [usize; 3] = std::array::from_fn(|i| {
            let n = ((extent_nm[i] / BLOCK_NM).floor() as usize).max(1);
            if i < 2 && n > 1 {
                n & !1
            } else {
                n
            }
        });
        Self {
            n,
            size: std::array::from_fn(|i| extent_nm[i] / n[i] as f64),
        }
    }

    fn count(&self) -> usize {
        self.n[0] * self.n[1] * self.n[2]
    }

    #[inline]
    fn coords(&self, p: [f64; 3]) -> [usize; 3] {
        std::array::from_fn(|i| ((p[i] / self.size[i]) as usize).min(self.n[i] - 1))
    }

    #[inline]
    fn flat(&self, c: [usize; 3]) -> usize {
        (c[0] * self.n[1] + c[1]) * self.n[2] + c[2]
    }

    fn unflat(&self, b: usize) -> [usize; 3] {
        [
            b / (self.n[1] * self.n[2]),
            (b / self.n[2]) % self.n[1],
            b % self.n[2],
        ]
    }

    /// Parity class (0–7) of block `b`.
    fn colour(&self, b: usize) -> usize {
        let c = self.unflat(b);
        (c[0] & 1) << 2 | (c[1] & 1) << 1 | (c[2] & 1)
    }

    /// Blocks (other than `c` itself) within `reach` of point `p` in block `c`, each once.
    fn near(&self, c: [usize; 3], p: [f64; 3], reach: f64, out: &mut Vec<usize>) {
        out.clear();
        let mut axis = [[0usize; 3]; 3];
        let mut len = [0usize; 3];
        for i in 0..3 {
            axis[i][0] = c[i];
            len[i] = 1;
            let lo = c[i] as f64 * self.size[i];
            let n = self.n[i];
            let periodic = i < 2;
            let mut add = |x: usize| {
                if !axis[i][..len[i]].contains(&x) {
                    axis[i][len[i]] = x;
                    len[i] += 1;
                }
            };
            if p[i] - lo < reach {
                if c[i] > 0 {
                    add(c[i] - 1);
                } else if periodic {
                    add(n - 1);
                }
            }
            if lo + self.size[i] - p[i] < reach {
                if c[i] + 1 < n {
                    add(c[i] + 1);
                } else if periodic {
                    add(0);
                }
            }
        }
        for &x in &axis[0][..len[0]] {
            for &y in &axis[1][..len[1]] {
                for &z in &axis[2][..len[2]] {
                    if [x, y, z] != c {
                        out.push(self.flat([x, y, z]));
                    }
                }
            }
        }
    }
}

/// Fills the box outside the cluster spheres with `species` (one slot per atom) by random
/// sequential addition with a small hard core that also keeps clear of the `fixed` (cluster)
/// atoms at the sphere boundaries.
///
/// Each atom first gets a uniform position outside the spheres (stream `"matrix"`), which fixes
/// how many atoms each block of ≈ [`BLOCK_NM`] receives. Blocks are then filled in eight parity
/// classes; blocks of one class never touch, so they run in parallel, each with its own stream
/// (`"matrix-block"`, block index), and each sees the atoms of the blocks filled before it. An
/// atom that overlaps tries new positions in its block, up to [`INITIAL_TRIALS`], and keeps the
/// least crowded one. The result does not depend on the thread count.
pub(crate) fn fill_matrix(
    extent_nm: [f64; 3],
    species: &[u8],
    pairs: &PairTable,
    fixed_pos: &[[f64; 3]],
    fixed_species: &[u8],
    spheres: &[([f64; 3], f64)],
    seeds: &Seeds,
) -> (Vec<[f64; 3]>, Vec<u8>) {
    let [lx, ly, lz] = extent_nm;
    let blocks = Blocks::new(extent_nm);
    let mut state = vec![Block::default(); blocks.count()];
    // The spheres that reach into each block.
    let mut block_spheres: Vec<Vec<u32>> = vec![Vec::new(); blocks.count()];
    for (id, &(c, r)) in spheres.iter().enumerate() {
        let range = |i: usize| {
            let lo = ((c[i] - r) / blocks.size[i]).floor() as i64;
            let hi = ((c[i] + r) / blocks.size[i]).floor() as i64;
            if i == 2 {
                lo.max(0)..=hi.min(blocks.n[2] as i64 - 1)
            } else {
                lo..=hi.min(lo + blocks.n[i] as i64 - 1)
            }
        };
        for x in range(0) {
            for y in range(1) {
                for z in range(2) {
                    let w = |v: i64, i: usize| v.rem_euclid(blocks.n[i] as i64) as usize;
                    let b = blocks.flat([w(x, 0), w(y, 1), z as usize]);
                    block_spheres[b].push(id as u32);
                }
            }
        }
    }
    let inside = |p: [f64; 3]| {
        block_spheres[blocks.flat(blocks.coords(p))]
            .iter()
            .any(|&id| {
                let (c, r) = spheres[id as usize];
                let s = offset(p, c, lx, ly);
                s[0] * s[0] + s[1] * s[1] + s[2] * s[2] < r * r
            })
    };
    for (&p, &s) in fixed_pos.iter().zip(fixed_species) {
        let b = &mut state[blocks.flat(blocks.coords(p))];
        b.pos.push(p);
        b.species.push(s);
        b.fixed += 1;
    }
    // Ideal-gas draft: how many atoms (and which species) each block gets. Drawn in fixed
    // chunks, each from its own stream, so in parallel and independent of the thread count.
    let drafted: Vec<Vec<[f64; 3]>> = species
        .par_chunks(DRAFT_CHUNK)
        .enumerate()
        .map(|(k, chunk)| {
            let mut rng = seeds.substream("matrix", k as u64);
            (0..chunk.len())
                .map(|_| loop {
                    let p = [
                        rng.gen::<f64>() * lx,
                        rng.gen::<f64>() * ly,
                        rng.gen::<f64>() * lz,
                    ];
                    if !inside(p) {
                        break p;
                    }
                })
                .collect()
        })
        .collect();
    let mut draft: Vec<Vec<([f64; 3], u8)>> = vec![Vec::new(); blocks.count()];
    for (&p, &sp) in drafted.iter().flatten().zip(species) {
        draft[blocks.flat(blocks.coords(p))].push((p, sp));
    }
    drop(drafted);
    let core_max = INITIAL_CORE * pairs.max_soft();
    for colour in 0..8 {
        let ids: Vec<usize> = (0..blocks.count())
            .filter(|&b| blocks.colour(b) == colour && !draft[b].is_empty())
            .collect();
        let state_ref = &state;
        let filled: Vec<Block> = ids
            .par_iter()
            .map(|&b| {
                let mut rng = seeds.substream("matrix-block", b as u64);
                let c = blocks.coords(draft[b][0].0);
                let lo: [f64; 3] = std::array::from_fn(|i| c[i] as f64 * blocks.size[i]);
                let mut mine = state_ref[b].clone();
                let mut nb = Vec::with_capacity(8);
                // Smallest (distance / core)² to any atom already there.
                let crowding = |p: [f64; 3], sp: u8, mine: &Block, nb: &mut Vec<usize>| {
                    blocks.near(c, p, core_max, nb);
                    let mut worst = f64::INFINITY;
                    let mut scan = |blk: &Block| {
                        for (q, &sq) in blk.pos.iter().zip(&blk.species) {
                            let s = offset(p, *q, lx, ly);
                            let core = INITIAL_CORE * pairs.soft(sp, sq);
                            let r = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]) / (core * core);
                            worst = worst.min(r);
                        }
                    };
                    scan(mine);
                    for &o in nb.iter() {
                        scan(&state_ref[o]);
                    }
                    worst
                };
                for &(first, sp) in &draft[b] {
                    let mut best = (crowding(first, sp, &mine, &mut nb), first);
                    let (mut trials, mut draws) = (1, 0);
                    while best.0 < 1.0 && trials < INITIAL_TRIALS && draws < 50 * INITIAL_TRIALS {
                        draws += 1;
                        let p: [f64; 3] = std::array::from_fn(|i| {
                            let top = if i < 2 {
                                extent_nm[i] * (1.0 - 1e-12)
                            } else {
                                lz
                            };
                            (lo[i] + rng.gen::<f64>() * blocks.size[i]).min(top)
                        });
                        if inside(p) {
                            continue;
                        }
                        trials += 1;
                        let w = crowding(p, sp, &mine, &mut nb);
                        if w > best.0 {
                            best = (w, p);
                        }
                    }
                    mine.pos.push(best.1);
                    mine.species.push(sp);
                }
                mine
            })
            .collect();
        for (b, blk) in ids.into_iter().zip(filled) {
            state[b] = blk;
        }
    }
    // Matrix atoms in draft order per block, blocks in index order: the species follow.
    let mut out = Vec::with_capacity(species.len());
    let mut out_species = Vec::with_capacity(species.len());
    for b in state {
        out.extend_from_slice(&b.pos[b.fixed..]);
        out_species.extend_from_slice(&b.species[b.fixed..]);
    }
    (out, out_species)
}

/// Outcome of a relaxation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Relaxed {
    /// Sweeps done.
    pub sweeps: usize,
    /// Pairs still closer than their minimum distance (0 on success).
    pub violations: usize,
}

/// Atoms per work unit of the neighbour-list build and of a sweep (fixed, so that nothing
/// depends on the thread count).
const CHUNK: usize = 4096;

/// Verlet neighbour lists (CSR) of the free atoms: every atom within its pair's soft-contact
/// distance plus [`SKIN_NM`], built from the cell list.
struct Verlet {
    start: Vec<u32>,
    list: Vec<u32>,
    /// Positions when the list was built.
    reference: Vec<[f64; 3]>,
    /// Pairs of fixed atoms of different clusters closer than their minimum (no relaxation can
    /// change these).
    fixed_violations: usize,
}

impl Verlet {
    /// The lists for `sys` (in cell order); fixed atoms are scanned for close pairs only when
    /// `check_fixed` (they never move, so once is enough).
    fn build(sys: &System, cells: &Cells, pairs: &PairTable, check_fixed: bool) -> Self {
        let [lx, ly, _] = sys.extent_nm;
        let n = sys.pos.len();
        let parts: Vec<(Vec<u32>, Vec<u32>, usize)> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|chunk| {
                let mut counts = Vec::with_capacity(CHUNK);
                let mut list = Vec::with_capacity(CHUNK * 24);
                let mut fixed_bad = 0;
                let mut nb = Vec::with_capacity(25);
                let mut last = usize::MAX;
                for i in chunk * CHUNK..(n.min((chunk + 1) * CHUNK)) {
                    let p = sys.pos[i];
                    let si = sys.species[i];
                    let own = sys.owner[i];
                    if own != FREE && !check_fixed {
                        counts.push(0);
                        continue;
                    }
                    let here = cells.coords(p);
                    let flat = cells.flat(here);
                    if flat != last {
                        cells.runs_within_two(here, &mut nb);
                        last = flat;
                    }
                    let before = list.len();
                    for &(a, b) in &nb {
                        for j in a..b {
                            if j == i {
                                continue;
                            }
                            let s = offset(sys.pos[j], p, lx, ly);
                            let d2 = s[0] * s[0] + s[1] * s[1] + s[2] * s[2];
                            let sj = sys.species[j];
                            if own == FREE {
                                let reach = pairs.soft(si, sj) + SKIN_NM;
                                if d2 < reach * reach {
                                    list.push(j as u32);
                                }
                            } else if sys.owner[j] != FREE && sys.owner[j] != own && j > i {
                                let m = pairs.min(si, sj);
                                if d2 < m * m {
                                    fixed_bad += 1;
                                }
                            }
                        }
                    }
                    counts.push((list.len() - before) as u32);
                }
                (counts, list, fixed_bad)
            })
            .collect();
        let mut start = Vec::with_capacity(n + 1);
        start.push(0u32);
        let mut list = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
        let mut fixed_violations = 0;
        for (counts, l, bad) in parts {
            for c in counts {
                start.push(start.last().expect("starts with 0") + c);
            }
            list.extend_from_slice(&l);
            fixed_violations += bad;
        }
        Self {
            start,
            list,
            reference: sys.pos.clone(),
            fixed_violations,
        }
    }
}

/// Soft-sphere relaxation of the free (matrix) atoms around the fixed (cluster) atoms, on
/// Verlet lists rebuilt whenever an atom has moved more than half the skin. It stops after
/// [`MIN_SWEEPS`] once no pair with a free atom is closer than its minimum distance, or at
/// [`MAX_SWEEPS`]. `progress(sweep)` is called after each sweep.
pub(crate) fn relax(sys: &mut System, pairs: &PairTable, progress: &dyn Fn(usize)) -> Relaxed {
    // Cells of half the list reach: the list build scans 5 × 5 × 5 of them.
    let mut cells = Cells::new(sys.extent_nm, 0.5 * (pairs.max_soft() + SKIN_NM));
    let [lx, ly, lz] = sys.extent_nm;
    let n = sys.pos.len();
    let mut sweep = 0;
    let mut verlet: Option<Verlet> = None;
    let mut fixed_violations: Option<usize> = None;
    loop {
        let v = match verlet.take() {
            Some(v) => v,
            None => {
                cells.rebuild(sys);
                let v = Verlet::build(sys, &cells, pairs, fixed_violations.is_none());
                fixed_violations.get_or_insert(v.fixed_violations);
                v
            }
        };
        let sys_ref = &*sys;
        let v_ref = &v;
        let parts: Vec<(Vec<[f64; 3]>, usize)> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|chunk| {
                let range = chunk * CHUNK..n.min((chunk + 1) * CHUNK);
                let mut moves = Vec::with_capacity(range.len());
                let mut bad = 0;
                for i in range {
                    let mut push = [0.0; 3];
                    if sys_ref.owner[i] == FREE {
                        let p = sys_ref.pos[i];
                        let si = sys_ref.species[i];
                        let (a, b) = (v_ref.start[i] as usize, v_ref.start[i + 1] as usize);
                        for &j in &v_ref.list[a..b] {
                            let j = j as usize;
                            let s = offset(sys_ref.pos[j], p, lx, ly);
                            let d2 = s[0] * s[0] + s[1] * s[1] + s[2] * s[2];
                            let sj = sys_ref.species[j];
                            let soft = pairs.soft(si, sj);
                            if d2 < soft * soft {
                                let d = d2.sqrt().max(1e-6);
                                // A fixed neighbour does not give way: take the whole overlap.
                                let share = if sys_ref.owner[j] == FREE { 0.5 } else { 1.0 };
                                // Pairs near or below their minimum get a stiff extra push.
                                let guard = GUARD * pairs.min(si, sj);
                                let hard = HARD * (guard - d).max(0.0);
                                let f = share * (soft - d + hard) / d;
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
                    moves.push(push);
                }
                (moves, bad)
            })
            .collect();
        // Each free–free pair was seen from both ends, each free–fixed pair once; what matters
        // is whether any is left.
        let violations: usize = parts.iter().map(|p| p.1).sum();
        if sweep >= MIN_SWEEPS && violations == 0 || sweep >= MAX_SWEEPS {
            return Relaxed {
                sweeps: sweep,
                violations: violations + fixed_violations.unwrap_or(0),
            };
        }
        let reference = &v.reference;
        let max_shift2 = sys
            .pos
            .par_chunks_mut(CHUNK)
            .zip(parts.par_iter())
            .enumerate()
            .map(|(chunk, (ps, (moves, _)))| {
                let mut worst = 0.0f64;
                for (k, (p, m)) in ps.iter_mut().zip(moves).enumerate() {
                    let mut d = [STEP * m[0], STEP * m[1], STEP * m[2]];
                    let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                    if len == 0.0 {
                        continue;
                    }
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
                    let s = offset(reference[chunk * CHUNK + k], *p, lx, ly);
                    worst = worst.max(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
                }
                worst
            })
            .reduce(|| 0.0, f64::max);
        if max_shift2.sqrt() < 0.5 * SKIN_NM {
            verlet = Some(v);
        }
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
