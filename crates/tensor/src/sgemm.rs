//! nabla's own single-precision GEMM for x86-64 with AVX-512 or AVX2 + FMA: the `f32`
//! kernel behind [`crate::gemm_into`], with packing buffers kept per thread across calls.
//!
//! `C = alpha * A B + beta * C` on strided storage, blocked as in Goto and van de Geijn,
//! "Anatomy of high-performance matrix multiplication" (ACM TOMS 34(3), 2008) and the BLIS
//! framework (Van Zee and van de Geijn, ACM TOMS 41(3), 2015): a `KC × NC` block of `B` and an
//! `MC × KC` block of `A` are packed into panels of `NR` columns and `MR` rows, and a
//! register-tiled microkernel multiplies one `A` panel by one `B` panel into an `MR × NR` tile of
//! `C`. Any row and column strides are accepted (transposed views cost no copy): they are read
//! once, while packing.
//!
//! Why nabla has its own: `matrixmultiply` and the `gemm` crate allocate their packing buffers
//! inside every call, which made every training step allocate once per product (94 allocations
//! per step of the chapter-3 MLP, more than 500 for the MNIST CNN). Here each thread owns one
//! aligned buffer for each packed operand, allocated on its first product and reused by every
//! later one, so a steady-state step allocates nothing in its products. The microkernels:
//!
//! * AVX-512F: `MR × NR = 8 × 32`, 16 `zmm` accumulators.
//! * AVX2 + FMA: `6 × 16`, 12 `ymm` accumulators (BLIS's Haswell shape).
//!
//! On other CPUs (and for `f64`) the product goes to `matrixmultiply`.
//!
//! **Rounding.** Each element of `C` is the sum over `k` in increasing order, fused
//! multiply-adds within each block of `KC` and one addition per block, then `alpha * sum`,
//! plus `beta * c` (not read when `beta == 0`). The order is the same for every position of
//! the element in its tile and for every split of `C` over threads, so no result depends on
//! the thread count.

use std::cell::RefCell;

/// Depth of one packed block: the microkernel's loop length, chosen so that one `B` panel
/// (`KC × 32` floats, 24 KiB) stays in L1 while the `A` panels stream through it.
const KC: usize = 192;
/// Rows of `A` per packed block (a multiple of both kernels' `MR`): `MC × KC` floats (108 KiB)
/// stay in L2.
const MC: usize = 144;
/// Columns of `B` per packed block (a multiple of both kernels' `NR`): `KC × NC` floats
/// (768 KiB).
const NC: usize = 1024;

/// One register-tiled microkernel and its tile shape.
trait Microkernel {
    /// Rows of the tile (of a packed `A` panel).
    const MR: usize;
    /// Columns of the tile (of a packed `B` panel).
    const NR: usize;

    /// `C[..rows, ..cols] = alpha * a b + beta * C` for one tile, where `a` is a packed
    /// `kc × MR` panel (`MR` values per step of `k`) and `b` a packed `kc × NR` panel.
    ///
    /// # Safety
    /// The CPU has the kernel's features; `a` and `b` hold `kc` full steps; `c` is valid for
    /// `rows × cols` elements at the strides; `rows <= MR`, `cols <= NR`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
        rows: usize,
        cols: usize,
        alpha: f32,
        beta: f32,
    );
}

/// `alpha * ab + beta * c` for one element, in the order the vector epilogue uses.
#[inline(always)]
fn combine(alpha: f32, ab: f32, beta: f32, c: impl FnOnce() -> f32) -> f32 {
    let t = alpha * ab;
    if beta == 0.0 {
        t
    } else if beta == 1.0 {
        t + c()
    } else {
        t + beta * c()
    }
}

/// Writes a partial tile (held row-major in `tile`, `nr` per row) into `C` element by element.
///
/// # Safety
/// As [`Microkernel::tile`] for `c`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn store_partial(
    tile: &[f32],
    nr: usize,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    rows: usize,
    cols: usize,
    alpha: f32,
    beta: f32,
) {
    for i in 0..rows {
        for j in 0..cols {
            // SAFETY: (i, j) lies inside the caller's `rows × cols` block of `c`.
            unsafe {
                let cp = c.offset(i as isize * rsc + j as isize * csc);
                *cp = combine(alpha, tile[i * nr + j], beta, || *cp);
            }
        }
    }
}

/// Generates one microkernel from its vector intrinsics: `$mr` rows times `$nv` vectors of
/// `$lanes` floats. The accumulators are a fixed-size array indexed by constants, which the
/// compiler keeps in registers.
macro_rules! microkernel {
    (
        $kernel:ident, $feature:literal, mr = $mr:literal, vectors = $nv:literal, lanes = $lanes:literal,
        $vec:ty, zero = $zero:expr, load = $load:path, store = $store:path, splat = $splat:path,
        fma = $fma:path, mul = $mul:path, add = $add:path $(,)?
    ) => {
        #[doc = concat!("The ", $feature, " microkernel (see the module docs).")]
        struct $kernel;

        impl Microkernel for $kernel {
            const MR: usize = $mr;
            const NR: usize = $nv * $lanes;

            unsafe fn tile(
                kc: usize,
                a: *const f32,
                b: *const f32,
                c: *mut f32,
                rsc: isize,
                csc: isize,
                rows: usize,
                cols: usize,
                alpha: f32,
                beta: f32,
            ) {
                #[target_feature(enable = $feature)]
                #[allow(clippy::too_many_arguments)]
                unsafe fn body(
                    kc: usize,
                    a: *const f32,
                    b: *const f32,
                    c: *mut f32,
                    rsc: isize,
                    csc: isize,
                    rows: usize,
                    cols: usize,
                    alpha: f32,
                    beta: f32,
                ) {
                    const NR: usize = $nv * $lanes;
                    // SAFETY (whole body): the packed panels hold `kc` steps of `MR` and `NR`
                    // floats; stores into `c` stay inside the caller's `rows × cols` block.
                    unsafe {
                        let mut acc: [[$vec; $nv]; $mr] = [[$zero; $nv]; $mr];
                        let (mut a, mut b) = (a, b);
                        for _ in 0..kc {
                            let mut bv: [$vec; $nv] = [$zero; $nv];
                            for (v, slot) in bv.iter_mut().enumerate() {
                                *slot = $load(b.add(v * $lanes));
                            }
                            for (i, row) in acc.iter_mut().enumerate() {
                                let ai = $splat(*a.add(i));
                                for (v, slot) in row.iter_mut().enumerate() {
                                    *slot = $fma(ai, bv[v], *slot);
                                }
                            }
                            a = a.add($mr);
                            b = b.add(NR);
                        }
                        let alpha_v = $splat(alpha);
                        if rows == $mr && cols == NR && csc == 1 {
                            let beta_v = $splat(beta);
                            for (i, row) in acc.iter().enumerate() {
                                let cp = c.offset(i as isize * rsc);
                                for (v, &ab) in row.iter().enumerate() {
                                    let t = $mul(alpha_v, ab);
                                    let out = if beta == 0.0 {
                                        t
                                    } else if beta == 1.0 {
                                        $add(t, $load(cp.add(v * $lanes)))
                                    } else {
                                        $add(t, $mul(beta_v, $load(cp.add(v * $lanes))))
                                    };
                                    $store(cp.add(v * $lanes), out);
                                }
                            }
                        } else {
                            let mut tile = [0.0f32; $mr * NR];
                            for (i, row) in acc.iter().enumerate() {
                                for (v, &ab) in row.iter().enumerate() {
                                    $store(tile.as_mut_ptr().add(i * NR + v * $lanes), ab);
                                }
                            }
                            store_partial(&tile, NR, c, rsc, csc, rows, cols, alpha, beta);
                        }
                    }
                }
                // SAFETY: forwarded from the caller's contract, which includes the features.
                unsafe { body(kc, a, b, c, rsc, csc, rows, cols, alpha, beta) }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64 as arch;

#[cfg(target_arch = "x86_64")]
microkernel! {
    Avx512, "avx512f", mr = 8, vectors = 2, lanes = 16, arch::__m512,
    zero = arch::_mm512_setzero_ps(), load = arch::_mm512_loadu_ps, store = arch::_mm512_storeu_ps,
    splat = arch::_mm512_set1_ps, fma = arch::_mm512_fmadd_ps, mul = arch::_mm512_mul_ps,
    add = arch::_mm512_add_ps,
}

#[cfg(target_arch = "x86_64")]
microkernel! {
    Avx2, "avx2,fma", mr = 6, vectors = 2, lanes = 8, arch::__m256,
    zero = arch::_mm256_setzero_ps(), load = arch::_mm256_loadu_ps, store = arch::_mm256_storeu_ps,
    splat = arch::_mm256_set1_ps, fma = arch::_mm256_fmadd_ps, mul = arch::_mm256_mul_ps,
    add = arch::_mm256_add_ps,
}

/// Which microkernel this CPU runs, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgemmKernel {
    /// 8 × 32 tiles in `zmm` registers.
    Avx512,
    /// 6 × 16 tiles in `ymm` registers.
    Avx2Fma,
    /// No suitable vector unit: `matrixmultiply::sgemm`, which allocates per call.
    Matrixmultiply,
}

impl SgemmKernel {
    /// The kernel [`sgemm`] uses on this CPU (detected at run time, once).
    pub fn detected() -> SgemmKernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return SgemmKernel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return SgemmKernel::Avx2Fma;
            }
        }
        SgemmKernel::Matrixmultiply
    }

    /// Every kernel this CPU can run, the detected one first.
    pub fn available() -> Vec<SgemmKernel> {
        let mut kernels = vec![SgemmKernel::Matrixmultiply];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                kernels.insert(0, SgemmKernel::Avx2Fma);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                kernels.insert(0, SgemmKernel::Avx512);
            }
        }
        kernels
    }

    /// The kernel's tile, `(MR, NR)`, or `None` for the fallback.
    fn tile(self) -> Option<(usize, usize)> {
        match self {
            #[cfg(target_arch = "x86_64")]
            SgemmKernel::Avx512 => Some((Avx512::MR, Avx512::NR)),
            #[cfg(target_arch = "x86_64")]
            SgemmKernel::Avx2Fma => Some((Avx2::MR, Avx2::NR)),
            _ => None,
        }
    }

    /// A short name for reports: `"avx512"`, `"avx2+fma"` or `"matrixmultiply"`.
    pub fn name(self) -> &'static str {
        match self {
            SgemmKernel::Avx512 => "avx512",
            SgemmKernel::Avx2Fma => "avx2+fma",
            SgemmKernel::Matrixmultiply => "matrixmultiply",
        }
    }
}

/// A thread's packing buffers: one `MC × KC` block of `A` and one `KC × NC` block of `B`, each
/// rounded up to whole panels and aligned to 64 bytes.
struct Packs {
    storage: Vec<f32>,
    a_offset: usize,
    b_offset: usize,
}

/// Floats of one packed `A` block (whole panels of the largest `MR`).
const A_PACK: usize = MC * KC;
/// Floats of one packed `B` block (whole panels of the largest `NR`).
const B_PACK: usize = KC * NC;
/// Floats per 64 bytes.
const ALIGN: usize = 16;

impl Packs {
    fn new() -> Packs {
        let storage = vec![0.0f32; A_PACK + B_PACK + ALIGN];
        let misalign = (storage.as_ptr() as usize / std::mem::size_of::<f32>()) % ALIGN;
        let a_offset = (ALIGN - misalign) % ALIGN;
        Packs { storage, a_offset, b_offset: a_offset + A_PACK }
    }
}

thread_local! {
    static PACKS: RefCell<Option<Packs>> = const { RefCell::new(None) };
}

/// `C = alpha * A B + beta * C` for `f32` on raw strided storage, in `matrixmultiply::sgemm`'s
/// argument order and contract: `A` is `m × k` with strides `rsa`, `csa` (in elements, any
/// sign), `B` is `k × n`, `C` is `m × n`; with `beta == 0` `C` is not read.
///
/// # Safety
/// The pointers must be valid for the given dimensions and strides, and `c` must not alias
/// `a` or `b` (as for `matrixmultiply::sgemm`).
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == 0.0 {
        // SAFETY: `c` is valid for `m × n` at its strides (the caller's contract).
        unsafe { scale(m, n, beta, c, rsc, csc) };
        return;
    }
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        sgemm_with(SgemmKernel::detected(), m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
    }
}

/// [`sgemm`] with a chosen kernel, which the CPU must have (see [`SgemmKernel::available`]).
///
/// # Safety
/// As [`sgemm`], with `k > 0`, `m > 0`, `n > 0`, `alpha != 0`.
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm_with(
    kernel: SgemmKernel,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    // A product much narrower than a tile (a 3 × 3 kernel's gradient, ten logits) would fill
    // few of each tile's columns; `Cᵀ = Bᵀ Aᵀ` forms the same products and sums them in the
    // same order, on fewer padded tiles. Only when that at least halves the padded work: the
    // transposed `C` is stored element by element, which costs more than a little padding when
    // `k` is short.
    if let Some((mr, nr)) = kernel.tile() {
        let tiles = |rows: usize, cols: usize| rows.next_multiple_of(mr) * cols.next_multiple_of(nr);
        if 2 * tiles(n, m) <= tiles(m, n) {
            // SAFETY: the same operands, transposed through their strides.
            return unsafe {
                sgemm_with(kernel, n, k, m, alpha, b, csb, rsb, a, csa, rsa, beta, c, csc, rsc)
            };
        }
    }
    let run = |packs: &mut Packs| {
        let (a_pack, b_pack) = {
            let base = packs.storage.as_mut_ptr();
            // SAFETY: both offsets leave whole blocks inside `storage` (see `Packs::new`).
            unsafe { (base.add(packs.a_offset), base.add(packs.b_offset)) }
        };
        let operands =
            Operands { m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, a_pack, b_pack };
        // SAFETY: the caller's contract for the operands; the packs are this thread's own and
        // large enough for every block; the kernel matches the detected CPU features.
        unsafe {
            match kernel {
                #[cfg(target_arch = "x86_64")]
                SgemmKernel::Avx512 => operands.multiply::<Avx512>(),
                #[cfg(target_arch = "x86_64")]
                SgemmKernel::Avx2Fma => operands.multiply::<Avx2>(),
                _ => unreachable!("the fallback kernel does not pack"),
            }
        }
    };
    let done = kernel != SgemmKernel::Matrixmultiply
        && PACKS
            .try_with(|cell| match cell.try_borrow_mut() {
                Ok(mut slot) => {
                    run(slot.get_or_insert_with(Packs::new));
                    true
                }
                Err(_) => false,
            })
            .unwrap_or(false);
    if !done {
        // No vector kernel, or this thread is being torn down.
        // SAFETY: the same contract as this function's.
        unsafe { matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}

/// `C = beta * C` (zeros when `beta == 0`, whatever `C` held).
///
/// # Safety
/// `c` is valid for `m × n` elements at the strides.
unsafe fn scale(m: usize, n: usize, beta: f32, c: *mut f32, rsc: isize, csc: isize) {
    for i in 0..m {
        for j in 0..n {
            // SAFETY: (i, j) is inside `C`.
            unsafe {
                let cp = c.offset(i as isize * rsc + j as isize * csc);
                *cp = if beta == 0.0 { 0.0 } else { beta * *cp };
            }
        }
    }
}

/// One product's operands and this thread's packing buffers.
struct Operands {
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    a_pack: *mut f32,
    b_pack: *mut f32,
}

impl Operands {
    /// The blocked product with microkernel `K`.
    ///
    /// # Safety
    /// As [`sgemm`], plus: the CPU has `K`'s features and the packs hold `A_PACK` and `B_PACK`
    /// floats.
    unsafe fn multiply<K: Microkernel>(&self) {
        let (mr, nr) = (K::MR, K::NR);
        for jc in (0..self.n).step_by(NC) {
            let nc = NC.min(self.n - jc);
            for pc in (0..self.k).step_by(KC) {
                let kc = KC.min(self.k - pc);
                // Later blocks of `k` add to what the first one wrote.
                let beta = if pc == 0 { self.beta } else { 1.0 };
                // SAFETY: the block lies inside `B`; the pack holds `kc × nc` rounded up to
                // whole panels (`nc <= NC`, a multiple of `NR`).
                unsafe {
                    pack_b(
                        kc,
                        nc,
                        nr,
                        self.b.offset(pc as isize * self.rsb + jc as isize * self.csb),
                        self.rsb,
                        self.csb,
                        self.b_pack,
                    )
                };
                for ic in (0..self.m).step_by(MC) {
                    let mc = MC.min(self.m - ic);
                    // SAFETY: as for `B`, with `MC` a multiple of `MR`.
                    unsafe {
                        pack_a(
                            mc,
                            kc,
                            mr,
                            self.a.offset(ic as isize * self.rsa + pc as isize * self.csa),
                            self.rsa,
                            self.csa,
                            self.a_pack,
                        )
                    };
                    for jr in (0..nc).step_by(nr) {
                        let cols = nr.min(nc - jr);
                        for ir in (0..mc).step_by(mr) {
                            let rows = mr.min(mc - ir);
                            // SAFETY: panel `ir / mr` of the `A` pack and `jr / nr` of the `B`
                            // pack each hold `kc` steps; the tile lies inside `C`.
                            unsafe {
                                K::tile(
                                    kc,
                                    self.a_pack.add(ir * kc),
                                    self.b_pack.add(jr * kc),
                                    self.c.offset(
                                        (ic + ir) as isize * self.rsc + (jc + jr) as isize * self.csc,
                                    ),
                                    self.rsc,
                                    self.csc,
                                    rows,
                                    cols,
                                    self.alpha,
                                    beta,
                                )
                            };
                        }
                    }
                }
            }
        }
    }
}

/// Packs an `mc × kc` block of `A` into panels of `mr` rows: panel `p` holds, for each step of
/// `k`, its `mr` values (zeros past the last row).
///
/// # Safety
/// `a` is valid for the block at the strides; `dst` holds `ceil(mc / mr) * mr * kc` floats; the
/// CPU has AVX (every vector kernel's CPU does).
unsafe fn pack_a(mc: usize, kc: usize, mr: usize, a: *const f32, rsa: isize, csa: isize, dst: *mut f32) {
    for (panel, i0) in (0..mc).step_by(mr).enumerate() {
        let rows = mr.min(mc - i0);
        // SAFETY (block): every read is inside the block, every write inside the panel.
        unsafe {
            let src = a.offset(i0 as isize * rsa);
            let out = dst.add(panel * mr * kc);
            if rsa == 1 && rows == mr {
                for p in 0..kc {
                    std::ptr::copy_nonoverlapping(src.offset(p as isize * csa), out.add(p * mr), mr);
                }
                continue;
            }
            // Rows that run along `k` (a row-major `A`, a transposed `B`) would be read one
            // element per step and written `mr` apart: eight of them at a time are read as
            // vectors and transposed in registers instead.
            let transposed = if csa == 1 { pack_rows_transposed(src, rsa, kc, mr, rows, out) } else { 0 };
            for i in transposed..mr {
                if i < rows {
                    let row = src.offset(i as isize * rsa);
                    for p in 0..kc {
                        *out.add(p * mr + i) = *row.offset(p as isize * csa);
                    }
                } else {
                    for p in 0..kc {
                        *out.add(p * mr + i) = 0.0;
                    }
                }
            }
        }
    }
}

/// Packs the first `8 * (rows / 8)` rows of one panel whose rows are contiguous along `k`
/// (`out[p * mr + i] = src[i * rsa + p]`), eight rows by eight steps per 8 × 8 transpose in
/// `ymm` registers; returns how many rows it packed.
///
/// # Safety
/// As [`pack_a`] for one panel of `rows <= mr` rows with unit column stride.
#[cfg(target_arch = "x86_64")]
unsafe fn pack_rows_transposed(
    src: *const f32,
    rsa: isize,
    kc: usize,
    mr: usize,
    rows: usize,
    out: *mut f32,
) -> usize {
    #[target_feature(enable = "avx")]
    unsafe fn groups(src: *const f32, rsa: isize, kc: usize, mr: usize, rows: usize, out: *mut f32) -> usize {
        use arch::{_mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_shuffle_ps, _mm256_storeu_ps};
        use arch::{_mm256_unpackhi_ps, _mm256_unpacklo_ps};
        let groups = rows / 8;
        let steps = kc - kc % 8;
        // SAFETY (whole body): rows `g * 8 .. g * 8 + 8` are inside the panel and each is
        // valid for `kc` contiguous floats; `out` holds `kc` steps of `mr >= 8 * groups` floats.
        unsafe {
            for g in 0..groups {
                let row = |t: usize| src.offset((g * 8 + t) as isize * rsa);
                let rows8 = [row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7)];
                for p in (0..steps).step_by(8) {
                    let r = rows8.map(|r| _mm256_loadu_ps(r.add(p)));
                    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
                    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
                    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
                    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
                    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
                    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
                    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
                    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
                    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                    let columns = [
                        _mm256_permute2f128_ps::<0x20>(u0, u4),
                        _mm256_permute2f128_ps::<0x20>(u1, u5),
                        _mm256_permute2f128_ps::<0x20>(u2, u6),
                        _mm256_permute2f128_ps::<0x20>(u3, u7),
                        _mm256_permute2f128_ps::<0x31>(u0, u4),
                        _mm256_permute2f128_ps::<0x31>(u1, u5),
                        _mm256_permute2f128_ps::<0x31>(u2, u6),
                        _mm256_permute2f128_ps::<0x31>(u3, u7),
                    ];
                    for (t, column) in columns.into_iter().enumerate() {
                        _mm256_storeu_ps(out.add((p + t) * mr + g * 8), column);
                    }
                }
                for p in steps..kc {
                    for (t, r) in rows8.iter().enumerate() {
                        *out.add(p * mr + g * 8 + t) = *r.add(p);
                    }
                }
            }
        }
        groups * 8
    }
    // SAFETY: forwarded from the caller's contract, which includes AVX.
    unsafe { groups(src, rsa, kc, mr, rows, out) }
}

/// Without x86-64 vectors no vector kernel packs, so nothing reaches this.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn pack_rows_transposed(_: *const f32, _: isize, _: usize, _: usize, _: usize, _: *mut f32) -> usize {
    0
}

/// Packs a `kc × nc` block of `B` into panels of `nr` columns: panel `q` holds, for each step
/// of `k`, its `nr` values (zeros past the last column). That is [`pack_a`] of `Bᵀ`, an
/// `nc × kc` block with the strides swapped.
///
/// # Safety
/// `b` is valid for the block at the strides; `dst` holds `ceil(nc / nr) * nr * kc` floats; the
/// CPU has AVX.
unsafe fn pack_b(kc: usize, nc: usize, nr: usize, b: *const f32, rsb: isize, csb: isize, dst: *mut f32) {
    // SAFETY: the same block and buffer, read through the transposed strides.
    unsafe { pack_a(nc, kc, nr, b, csb, rsb, dst) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The product in f64, element by element, as the reference.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: &[f32],
        (rsa, csa): (usize, usize),
        b: &[f32],
        (rsb, csb): (usize, usize),
        beta: f32,
        c: &[f32],
    ) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f64 =
                    (0..k).map(|p| f64::from(a[i * rsa + p * csa]) * f64::from(b[p * rsb + j * csb])).sum();
                let old = if beta == 0.0 { 0.0 } else { f64::from(beta) * f64::from(c[i * n + j]) };
                out[i * n + j] = f64::from(alpha) * dot + old;
            }
        }
        out
    }

    /// `sgemm` with `kernel` forced, in `sgemm`'s signature.
    fn kernel_fn(kernel: SgemmKernel) -> crate::GemmKernel<f32> {
        match kernel {
            SgemmKernel::Avx512 => forced::<0>,
            SgemmKernel::Avx2Fma => forced::<1>,
            SgemmKernel::Matrixmultiply => matrixmultiply::sgemm,
        }
    }

    #[allow(clippy::too_many_arguments)]
    unsafe fn forced<const KERNEL: u8>(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        let kernel = if KERNEL == 0 { SgemmKernel::Avx512 } else { SgemmKernel::Avx2Fma };
        // SAFETY: forwarded; the callers pass only available kernels and k, alpha non-zero.
        unsafe { sgemm_with(kernel, m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }

    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::Rng::seed(seed);
        rng.uniform_array::<f32>(&[len], -1.0, 1.0).into_raw_vec_and_offset().0
    }

    /// Runs [`sgemm`] on row- or column-major `A` and `B` and checks it against [`reference`].
    #[allow(clippy::too_many_arguments)]
    fn check(m: usize, k: usize, n: usize, a_rows: bool, b_rows: bool, alpha: f32, beta: f32, seed: u64) {
        for kernel in SgemmKernel::available() {
            check_kernel(kernel, m, k, n, a_rows, b_rows, alpha, beta, seed);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_kernel(
        kernel: SgemmKernel,
        m: usize,
        k: usize,
        n: usize,
        a_rows: bool,
        b_rows: bool,
        alpha: f32,
        beta: f32,
        seed: u64,
    ) {
        let a = values(m * k, seed);
        let b = values(k * n, seed + 1);
        let (sa, sb) = (if a_rows { (k, 1) } else { (1, m) }, if b_rows { (n, 1) } else { (1, k) });
        let mut c = values(m * n, seed + 2);
        if beta == 0.0 {
            c.iter_mut().for_each(|x| *x = f32::NAN);
        }
        let want = reference(m, k, n, alpha, &a, sa, &b, sb, beta, &c);
        // SAFETY: the three buffers hold the matrices at the strides given.
        unsafe {
            let call = if k == 0 || alpha == 0.0 { sgemm } else { kernel_fn(kernel) };
            call(
                m,
                k,
                n,
                alpha,
                a.as_ptr(),
                sa.0 as isize,
                sa.1 as isize,
                b.as_ptr(),
                sb.0 as isize,
                sb.1 as isize,
                beta,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        };
        for (idx, (&got, &want)) in c.iter().zip(&want).enumerate() {
            let tolerance = 1e-5 * (k as f64 + 1.0) * (1.0 + want.abs());
            assert!(
                (f64::from(got) - want).abs() <= tolerance,
                "{} {m}x{k}x{n} (A rows {a_rows}, B rows {b_rows}, alpha {alpha}, beta {beta}) at {idx}: {got} vs {want}",
                kernel.name()
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_the_f64_product_on_every_layout(
            m in 1usize..40, k in 0usize..40, n in 1usize..70,
            a_rows: bool, b_rows: bool,
            alpha in prop_oneof![Just(1.0f32), Just(0.0), Just(-0.5)],
            beta in prop_oneof![Just(0.0f32), Just(1.0), Just(2.5)],
            seed in 0u64..1000,
        ) {
            check(m, k, n, a_rows, b_rows, alpha, beta, seed);
        }
    }

    #[test]
    fn blocks_larger_than_one_pack_in_every_dimension() {
        // m past MC, k past KC (a second, accumulating block), n past NC, all ragged.
        check(MC + 7, KC + 9, NC + 5, true, false, 1.0, 0.0, 1);
        check(MC * 2 + 1, 2 * KC + 1, 40, false, true, 0.75, 1.0, 2);
    }

    #[test]
    fn each_element_is_independent_of_where_the_product_is_cut() {
        // The split of `gemm_into` runs sub-products on rows or columns; their elements must
        // equal the whole product's bit for bit.
        let (m, k, n) = (37, 300, 75);
        let a = values(m * k, 7);
        let b = values(k * n, 8);
        let mut whole = vec![0.0f32; m * n];
        let mut parts = vec![0.0f32; m * n];
        // SAFETY: row-major buffers of the stated sizes; the row blocks of `parts` are disjoint.
        unsafe {
            sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                whole.as_mut_ptr(),
                n as isize,
                1,
            );
            for (start, rows) in [(0, 13), (13, 19), (32, 5)] {
                sgemm(
                    rows,
                    k,
                    n,
                    1.0,
                    a.as_ptr().add(start * k),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    parts.as_mut_ptr().add(start * n),
                    n as isize,
                    1,
                );
            }
        }
        assert!(whole.iter().zip(&parts).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn later_products_reuse_the_threads_aligned_packs() {
        // The packs are allocated on the thread's first product; later products reuse them.
        if SgemmKernel::detected() == SgemmKernel::Matrixmultiply {
            return;
        }
        let (m, k, n) = (64, 300, 200);
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let mut c = vec![0.0f32; m * n];
        let run = |c: &mut Vec<f32>| {
            // SAFETY: row-major buffers of the stated sizes.
            unsafe {
                sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            }
        };
        run(&mut c);
        PACKS.with(|cell| {
            let slot = cell.borrow();
            let packs = slot.as_ref().expect("the first product allocated the packs");
            let base = packs.storage.as_ptr() as usize;
            assert_eq!((base + packs.a_offset * 4) % 64, 0, "the packs are aligned to 64 bytes");
        });
        let first = PACKS.with(|cell| cell.borrow().as_ref().map(|p| p.storage.as_ptr() as usize));
        run(&mut c);
        let second = PACKS.with(|cell| cell.borrow().as_ref().map(|p| p.storage.as_ptr() as usize));
        assert_eq!(first, second, "the second product reused the first one's packs");
    }
}
