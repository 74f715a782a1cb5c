//! Float32 kernels shared by the tensor hot paths (LoRA merging, adapters, vector search).
//!
//! Two kernels, each with an AVX-512F and an AVX2+FMA version picked at run time (the wheel
//! targets baseline x86-64, so the wide path is chosen per machine with
//! `is_x86_feature_detected!`) and a portable version the compiler vectorises for any
//! target:
//!
//! * [`dots_nt`]: every dot product between the rows of two row-major matrices, register-
//!   tiled (4 x 3 rows at a time in AVX2, 4 x 4 in AVX-512), accumulated in f32 lanes with
//!   fused multiply-add; long rows in depth chunks of 512 so a chunk of `y` stays in L1;
//! * [`fused_rows`]: `dst[i, :] = src[i, :] + sum_k coef[i, k] * a[k, :]`, a rank-r update
//!   fused into one read and one write of each output row (2 rows x 32 columns in registers
//!   in AVX2, 4 x 64 in AVX-512, `a` tiled by columns so its tile stays in L1 across rows);
//!   [`products_into`] is the same from zero into a fresh (unzeroed) output.
//!
//! Summation order differs from BLAS (8 lanes, then a fixed horizontal sum), so results
//! differ from numpy by float32 rounding only; callers document the tolerance.
//!
//! The functions here are safe: they check every length they rely on and do nothing (or
//! return `false`) on a mismatch, so no input can make them read or write out of bounds.

/// Floats of each row per pass of [`dots_nt`] over long rows: 512 floats of 16 rows of `y`
/// (32 KiB) stay in L1 while every row of `x` is scored against them.
#[cfg(target_arch = "x86_64")]
const DEPTH_CHUNK: usize = 512;
/// Largest `nx * ny` whose partial sums [`dots_nt`] keeps while it passes over the depth.
#[cfg(target_arch = "x86_64")]
const MAX_PARTIALS: usize = 1 << 14;

/// Columns of `a` per tile of [`fused_rows`]: a `r x tile` block of `a` stays within
/// ~16 KiB (L1).
#[cfg(target_arch = "x86_64")]
fn tile_cols(r: usize) -> usize {
    let t = 4096 / r.max(1);
    (t / 32 * 32).clamp(32, 2048)
}

/// True when the AVX-512F kernels can run on this CPU.
#[inline]
fn widest() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// True when the AVX2+FMA kernels can run on this CPU.
#[inline]
pub(crate) fn wide() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The dot product of two equal-length slices (0 for a length mismatch: callers check).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut result = 0.0;
    if a.len() == b.len() {
        dots_nt(a, 1, b, 1, a.len(), &mut |_, _, v| result = v);
    }
    result
}

/// Calls `emit(i, j, x_i . y_j)` for every row `i` of `x[nx, d]` and row `j` of `y[ny, d]`
/// (both row-major). Returns false, emitting nothing, if a slice is shorter than its shape.
pub fn dots_nt<F: FnMut(usize, usize, f32)>(
    x: &[f32],
    nx: usize,
    y: &[f32],
    ny: usize,
    d: usize,
    emit: &mut F,
) -> bool {
    let fits = |s: &[f32], rows: usize| rows.checked_mul(d).is_some_and(|n| n <= s.len());
    if !fits(x, nx) || !fits(y, ny) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if widest() || wide() {
        let avx512 = widest();
        // The first `width` floats of every row from column `start` on (rows stay `d` apart).
        let strided = |start: usize, width: usize, emit: &mut dyn FnMut(usize, usize, f32)| {
            let (xs, ys) = (x[start..].as_ptr(), y[start..].as_ptr());
            // SAFETY: the CPU supports the chosen instructions (detected above); x and y hold
            // nx * d and ny * d values and start + width <= d, so every read is in bounds.
            unsafe {
                if avx512 {
                    avx512::dots_nt_strided(xs, nx, ys, ny, width, d, emit)
                } else {
                    avx2::dots_nt_strided(xs, nx, ys, ny, width, d, emit)
                }
            }
        };
        // Long rows and several of each side: pass over the depth in chunks so each chunk of
        // `y` is read from L1 by every row of `x` (whole rows would stream from L2 per tile),
        // keeping partial sums per pair (a chunk's sums added in chunk order).
        if d >= 2 * DEPTH_CHUNK && nx >= 4 && ny >= 4 && nx * ny <= MAX_PARTIALS {
            let mut sums = vec![0.0f32; nx * ny];
            for start in (0..d).step_by(DEPTH_CHUNK) {
                let width = DEPTH_CHUNK.min(d - start);
                strided(start, width, &mut |i, j, v| sums[i * ny + j] += v);
            }
            for (k, sum) in sums.into_iter().enumerate() {
                emit(k / ny, k % ny, sum);
            }
        } else {
            strided(0, d, emit);
        }
        return true;
    }
    for i in 0..nx {
        let xi = &x[i * d..(i + 1) * d];
        for j in 0..ny {
            emit(i, j, portable_dot(xi, &y[j * d..(j + 1) * d]));
        }
    }
    true
}

/// `dst[i, :] = sum_k coef[i, k] * a[k, :]` into `dst`, which may be uninitialised: every
/// element is written (nothing is read from it), so a fresh output needs no zeroing pass.
/// Returns false, writing nothing, on any length mismatch.
pub fn products_into(
    dst: &mut [std::mem::MaybeUninit<f32>],
    rows: usize,
    cols: usize,
    coef: &[f32],
    a: &[f32],
    r: usize,
) -> bool {
    let fits = |n: usize, m: usize, len: usize| n.checked_mul(m).is_some_and(|p| p == len);
    if !fits(rows, cols, dst.len()) || !fits(rows, r, coef.len()) || !fits(r, cols, a.len()) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if widest() {
        let ptr = dst.as_mut_ptr().cast::<f32>();
        // SAFETY: AVX-512F is present; as below.
        unsafe { avx512::fused_rows::<true>(ptr, ptr, rows, cols, coef.as_ptr(), a.as_ptr(), r) };
        return true;
    }
    #[cfg(target_arch = "x86_64")]
    if wide() {
        let ptr = dst.as_mut_ptr().cast::<f32>();
        // SAFETY: AVX2 and FMA are present; all lengths were checked above; with ZERO the
        // kernel only writes dst (every element, through the raw pointer), never reads it.
        unsafe { avx2::fused_rows::<true>(ptr, ptr, rows, cols, coef.as_ptr(), a.as_ptr(), r) };
        return true;
    }
    let zeroed: &mut [f32] = {
        for v in dst.iter_mut() {
            v.write(0.0);
        }
        // SAFETY: every element was just initialised.
        unsafe { &mut *(std::ptr::from_mut(dst) as *mut [f32]) }
    };
    fused_rows(zeroed, None, rows, cols, coef, a, r)
}

fn portable_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (at, bt) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in at.iter().zip(bt) {
        sum += x * y;
    }
    sum
}

/// `dst[i, :] = src[i, :] + sum_k coef[i, k] * a[k, :]` for `rows` rows of `cols` columns
/// (`src` None means in place: `dst` is both read and written). `coef` is `[rows, r]`, `a`
/// `[r, cols]`, all row-major. Returns false, writing nothing, on any length mismatch.
pub fn fused_rows(
    dst: &mut [f32],
    src: Option<&[f32]>,
    rows: usize,
    cols: usize,
    coef: &[f32],
    a: &[f32],
    r: usize,
) -> bool {
    let Some(size) = rows.checked_mul(cols) else {
        return false;
    };
    let fits = |n: usize, m: usize, len: usize| n.checked_mul(m).is_some_and(|p| p == len);
    if dst.len() != size
        || src.is_some_and(|s| s.len() != size)
        || !fits(rows, r, coef.len())
        || !fits(r, cols, a.len())
    {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if widest() {
        let dst_ptr = dst.as_mut_ptr();
        let src_ptr = src.map_or(dst_ptr.cast_const(), <[f32]>::as_ptr);
        // SAFETY: AVX-512F is present; lengths and aliasing as below.
        unsafe {
            avx512::fused_rows::<false>(dst_ptr, src_ptr, rows, cols, coef.as_ptr(), a.as_ptr(), r)
        };
        return true;
    }
    #[cfg(target_arch = "x86_64")]
    if wide() {
        let dst_ptr = dst.as_mut_ptr();
        let src_ptr = src.map_or(dst_ptr.cast_const(), <[f32]>::as_ptr);
        // SAFETY: AVX2 and FMA are present; all lengths were checked above; src is either a
        // separate slice of the same size or dst itself (each element is read before it is
        // written, by the same lane of the same iteration).
        unsafe {
            avx2::fused_rows::<false>(dst_ptr, src_ptr, rows, cols, coef.as_ptr(), a.as_ptr(), r)
        };
        return true;
    }
    if let Some(s) = src {
        dst.copy_from_slice(s);
    }
    if cols == 0 {
        return true;
    }
    for (row, c) in dst.chunks_exact_mut(cols).zip(coef.chunks_exact(r.max(1))) {
        for k in 0..r {
            let ck = c[k];
            for (o, av) in row.iter_mut().zip(&a[k * cols..(k + 1) * cols]) {
                *o += ck * av;
            }
        }
    }
    true
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    /// The QN x RN dot products of rows `x + q * d` and `y + r * d`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const QN: usize, const RN: usize>(
        x: *const f32,
        y: *const f32,
        d: usize,
        stride: usize,
    ) -> [[f32; RN]; QN] {
        let mut acc = [[_mm256_setzero_ps(); RN]; QN];
        let mut j = 0;
        while j + 8 <= d {
            let mut yv = [_mm256_setzero_ps(); RN];
            for (r, v) in yv.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(y.add(r * stride + j));
            }
            for (q, row) in acc.iter_mut().enumerate() {
                let xv = _mm256_loadu_ps(x.add(q * stride + j));
                for (a, v) in row.iter_mut().zip(yv.iter()) {
                    *a = _mm256_fmadd_ps(xv, *v, *a);
                }
            }
            j += 8;
        }
        let mut out = [[0.0f32; RN]; QN];
        for q in 0..QN {
            for r in 0..RN {
                let mut s = hsum(acc[q][r]);
                for t in j..d {
                    s = (*x.add(q * stride + t)).mul_add(*y.add(r * stride + t), s);
                }
                out[q][r] = s;
            }
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn emit_tile<const QN: usize, const RN: usize, F: FnMut(usize, usize, f32) + ?Sized>(
        x: *const f32,
        i: usize,
        y: *const f32,
        j: usize,
        d: usize,
        stride: usize,
        emit: &mut F,
    ) {
        let t = tile::<QN, RN>(x.add(i * stride), y.add(j * stride), d, stride);
        for (q, row) in t.iter().enumerate() {
            for (r, v) in row.iter().enumerate() {
                emit(i + q, j + r, *v);
            }
        }
    }

    /// [`dots_nt`] over the first `d` floats of rows `stride` floats apart.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots_nt_strided<F: FnMut(usize, usize, f32) + ?Sized>(
        x: *const f32,
        nx: usize,
        y: *const f32,
        ny: usize,
        d: usize,
        stride: usize,
        emit: &mut F,
    ) {
        let mut i = 0;
        while i + 4 <= nx {
            let mut j = 0;
            while j + 3 <= ny {
                emit_tile::<4, 3, F>(x, i, y, j, d, stride, emit);
                j += 3;
            }
            while j < ny {
                emit_tile::<4, 1, F>(x, i, y, j, d, stride, emit);
                j += 1;
            }
            i += 4;
        }
        while i < nx {
            let mut j = 0;
            while j + 4 <= ny {
                emit_tile::<1, 4, F>(x, i, y, j, d, stride, emit);
                j += 4;
            }
            while j < ny {
                emit_tile::<1, 1, F>(x, i, y, j, d, stride, emit);
                j += 1;
            }
            i += 1;
        }
    }

    /// RN output rows (RN = 1 or 2), columns `j0 .. j0 + width`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn rows_tile<const RN: usize, const ZERO: bool>(
        dst: *mut f32,
        src: *const f32,
        cols: usize,
        j0: usize,
        width: usize,
        coef: *const f32,
        a: *const f32,
        r: usize,
    ) {
        let end = j0 + width;
        let mut j = j0;
        while j + 32 <= end {
            let mut acc = [[_mm256_setzero_ps(); 4]; RN];
            if !ZERO {
                for (q, row) in acc.iter_mut().enumerate() {
                    for (l, v) in row.iter_mut().enumerate() {
                        *v = _mm256_loadu_ps(src.add(q * cols + j + 8 * l));
                    }
                }
            }
            for k in 0..r {
                let ak = a.add(k * cols + j);
                let av = [
                    _mm256_loadu_ps(ak),
                    _mm256_loadu_ps(ak.add(8)),
                    _mm256_loadu_ps(ak.add(16)),
                    _mm256_loadu_ps(ak.add(24)),
                ];
                for (q, row) in acc.iter_mut().enumerate() {
                    let c = _mm256_set1_ps(*coef.add(q * r + k));
                    for (v, x) in row.iter_mut().zip(av.iter()) {
                        *v = _mm256_fmadd_ps(c, *x, *v);
                    }
                }
            }
            for (q, row) in acc.iter().enumerate() {
                for (l, v) in row.iter().enumerate() {
                    _mm256_storeu_ps(dst.add(q * cols + j + 8 * l), *v);
                }
            }
            j += 32;
        }
        while j + 8 <= end {
            for q in 0..RN {
                let mut v = if ZERO {
                    _mm256_setzero_ps()
                } else {
                    _mm256_loadu_ps(src.add(q * cols + j))
                };
                for k in 0..r {
                    let c = _mm256_set1_ps(*coef.add(q * r + k));
                    v = _mm256_fmadd_ps(c, _mm256_loadu_ps(a.add(k * cols + j)), v);
                }
                _mm256_storeu_ps(dst.add(q * cols + j), v);
            }
            j += 8;
        }
        while j < end {
            for q in 0..RN {
                let mut v = if ZERO { 0.0 } else { *src.add(q * cols + j) };
                for k in 0..r {
                    v = (*coef.add(q * r + k)).mul_add(*a.add(k * cols + j), v);
                }
                *dst.add(q * cols + j) = v;
            }
            j += 1;
        }
    }

    /// `ZERO`: start every output from 0 and never read `src` or `dst` (`dst` may be
    /// uninitialised memory: every element is written).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fused_rows<const ZERO: bool>(
        dst: *mut f32,
        src: *const f32,
        rows: usize,
        cols: usize,
        coef: *const f32,
        a: *const f32,
        r: usize,
    ) {
        let tile = super::tile_cols(r);
        let mut j0 = 0;
        while j0 < cols {
            let width = tile.min(cols - j0);
            let mut i = 0;
            while i + 2 <= rows {
                let off = i * cols;
                rows_tile::<2, ZERO>(
                    dst.add(off),
                    src.add(off),
                    cols,
                    j0,
                    width,
                    coef.add(i * r),
                    a,
                    r,
                );
                i += 2;
            }
            if i < rows {
                let off = i * cols;
                rows_tile::<1, ZERO>(
                    dst.add(off),
                    src.add(off),
                    cols,
                    j0,
                    width,
                    coef.add(i * r),
                    a,
                    r,
                );
            }
            j0 += width;
        }
    }
}

/// The same kernels sixteen lanes wide, for CPUs with AVX-512F (twice the multiply-adds per
/// instruction; tails by masked loads and stores instead of scalar loops).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// The lanes of a tail of `n < 16` floats.
    #[inline]
    fn tail_mask(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }

    /// The QN x RN dot products of rows `x + q * stride` and `y + r * stride`, `d` long.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const QN: usize, const RN: usize>(
        x: *const f32,
        y: *const f32,
        d: usize,
        stride: usize,
    ) -> [[f32; RN]; QN] {
        let mut acc = [[_mm512_setzero_ps(); RN]; QN];
        let mut j = 0;
        while j + 16 <= d {
            let mut yv = [_mm512_setzero_ps(); RN];
            for (r, v) in yv.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(y.add(r * stride + j));
            }
            for (q, row) in acc.iter_mut().enumerate() {
                let xv = _mm512_loadu_ps(x.add(q * stride + j));
                for (a, v) in row.iter_mut().zip(yv.iter()) {
                    *a = _mm512_fmadd_ps(xv, *v, *a);
                }
            }
            j += 16;
        }
        if j < d {
            let mask = tail_mask(d - j);
            let mut yv = [_mm512_setzero_ps(); RN];
            for (r, v) in yv.iter_mut().enumerate() {
                *v = _mm512_maskz_loadu_ps(mask, y.add(r * stride + j));
            }
            for (q, row) in acc.iter_mut().enumerate() {
                let xv = _mm512_maskz_loadu_ps(mask, x.add(q * stride + j));
                for (a, v) in row.iter_mut().zip(yv.iter()) {
                    *a = _mm512_fmadd_ps(xv, *v, *a);
                }
            }
        }
        let mut out = [[0.0f32; RN]; QN];
        for q in 0..QN {
            for r in 0..RN {
                out[q][r] = _mm512_reduce_add_ps(acc[q][r]);
            }
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn emit_tile<const QN: usize, const RN: usize, F: FnMut(usize, usize, f32) + ?Sized>(
        x: *const f32,
        i: usize,
        y: *const f32,
        j: usize,
        d: usize,
        stride: usize,
        emit: &mut F,
    ) {
        let t = tile::<QN, RN>(x.add(i * stride), y.add(j * stride), d, stride);
        for (q, row) in t.iter().enumerate() {
            for (r, v) in row.iter().enumerate() {
                emit(i + q, j + r, *v);
            }
        }
    }

    /// Tiles of 4 x 4 rows (16 accumulators of the 32 registers).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dots_nt_strided<F: FnMut(usize, usize, f32) + ?Sized>(
        x: *const f32,
        nx: usize,
        y: *const f32,
        ny: usize,
        d: usize,
        stride: usize,
        emit: &mut F,
    ) {
        let mut i = 0;
        while i + 4 <= nx {
            let mut j = 0;
            while j + 4 <= ny {
                emit_tile::<4, 4, F>(x, i, y, j, d, stride, emit);
                j += 4;
            }
            while j < ny {
                emit_tile::<4, 1, F>(x, i, y, j, d, stride, emit);
                j += 1;
            }
            i += 4;
        }
        while i < nx {
            let mut j = 0;
            while j + 4 <= ny {
                emit_tile::<1, 4, F>(x, i, y, j, d, stride, emit);
                j += 4;
            }
            while j < ny {
                emit_tile::<1, 1, F>(x, i, y, j, d, stride, emit);
                j += 1;
            }
            i += 1;
        }
    }

    /// RN output rows, columns `j0 .. j0 + width`: 64 columns (4 registers) per row at a
    /// time, then 16, then a masked tail. `ZERO`: outputs start from 0 and `src` is unread.
    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn rows_tile<const RN: usize, const ZERO: bool>(
        dst: *mut f32,
        src: *const f32,
        cols: usize,
        j0: usize,
        width: usize,
        coef: *const f32,
        a: *const f32,
        r: usize,
    ) {
        let end = j0 + width;
        let mut j = j0;
        while j + 64 <= end {
            let mut acc = [[_mm512_setzero_ps(); 4]; RN];
            if !ZERO {
                for (q, row) in acc.iter_mut().enumerate() {
                    for (l, v) in row.iter_mut().enumerate() {
                        *v = _mm512_loadu_ps(src.add(q * cols + j + 16 * l));
                    }
                }
            }
            for k in 0..r {
                let ak = a.add(k * cols + j);
                let av = [
                    _mm512_loadu_ps(ak),
                    _mm512_loadu_ps(ak.add(16)),
                    _mm512_loadu_ps(ak.add(32)),
                    _mm512_loadu_ps(ak.add(48)),
                ];
                for (q, row) in acc.iter_mut().enumerate() {
                    let c = _mm512_set1_ps(*coef.add(q * r + k));
                    for (v, x) in row.iter_mut().zip(av.iter()) {
                        *v = _mm512_fmadd_ps(c, *x, *v);
                    }
                }
            }
            for (q, row) in acc.iter().enumerate() {
                for (l, v) in row.iter().enumerate() {
                    _mm512_storeu_ps(dst.add(q * cols + j + 16 * l), *v);
                }
            }
            j += 64;
        }
        while j < end {
            let mask = tail_mask((end - j).min(16));
            for q in 0..RN {
                let mut v = if ZERO {
                    _mm512_setzero_ps()
                } else {
                    _mm512_maskz_loadu_ps(mask, src.add(q * cols + j))
                };
                for k in 0..r {
                    let c = _mm512_set1_ps(*coef.add(q * r + k));
                    v = _mm512_fmadd_ps(c, _mm512_maskz_loadu_ps(mask, a.add(k * cols + j)), v);
                }
                _mm512_mask_storeu_ps(dst.add(q * cols + j), mask, v);
            }
            j += 16;
        }
    }

    /// As `avx2::fused_rows` (4 output rows at a time: 16 accumulators).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn fused_rows<const ZERO: bool>(
        dst: *mut f32,
        src: *const f32,
        rows: usize,
        cols: usize,
        coef: *const f32,
        a: *const f32,
        r: usize,
    ) {
        let tile = super::tile_cols(r);
        let mut j0 = 0;
        while j0 < cols {
            let width = tile.min(cols - j0);
            let mut i = 0;
            while i + 4 <= rows {
                let off = i * cols;
                rows_tile::<4, ZERO>(
                    dst.add(off),
                    src.add(off),
                    cols,
                    j0,
                    width,
                    coef.add(i * r),
                    a,
                    r,
                );
                i += 4;
            }
            while i < rows {
                let off = i * cols;
                rows_tile::<1, ZERO>(
                    dst.add(off),
                    src.add(off),
                    cols,
                    j0,
                    width,
                    coef.add(i * r),
                    a,
                    r,
                );
                i += 1;
            }
            j0 += width;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 250.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn dots_match_naive_for_every_tile_shape() {
        for &(nx, ny, d) in &[
            (1, 1, 0),
            (1, 1, 7),
            (5, 7, 19),
            (9, 4, 64),
            (4, 3, 8),
            (2, 10, 33),
        ] {
            let x = values(nx * d, 1);
            let y = values(ny * d, 2);
            let mut seen = vec![false; nx * ny];
            assert!(dots_nt(&x, nx, &y, ny, d, &mut |i, j, v| {
                seen[i * ny + j] = true;
                let want = naive_dot(&x[i * d..(i + 1) * d], &y[j * d..(j + 1) * d]);
                assert!(
                    (f64::from(v) - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "{v} vs {want}"
                );
            }));
            assert!(seen.iter().all(|s| *s));
        }
    }

    #[test]
    fn short_slices_are_refused() {
        assert!(!dots_nt(&[1.0], 2, &[1.0], 1, 1, &mut |_, _, _| panic!(
            "emitted"
        )));
        let mut dst = vec![0.0; 4];
        assert!(!fused_rows(&mut dst, None, 2, 2, &[1.0], &[1.0, 2.0], 1));
        assert_eq!(dot(&[1.0, 2.0], &[3.0]), 0.0);
    }

    #[test]
    fn fused_rows_matches_naive_in_place_and_not() {
        for &(rows, cols, r) in &[(1, 1, 1), (3, 45, 2), (5, 300, 16), (2, 8, 0), (4, 33, 3)] {
            let base = values(rows * cols, 3);
            let coef = values(rows * r, 4);
            let a = values(r * cols, 5);
            let mut want = base.clone();
            for i in 0..rows {
                for j in 0..cols {
                    let s: f64 = (0..r)
                        .map(|k| f64::from(coef[i * r + k]) * f64::from(a[k * cols + j]))
                        .sum();
                    want[i * cols + j] = (f64::from(base[i * cols + j]) + s) as f32;
                }
            }
            let mut inplace = base.clone();
            assert!(fused_rows(&mut inplace, None, rows, cols, &coef, &a, r));
            let mut out = vec![0.0; rows * cols];
            assert!(fused_rows(&mut out, Some(&base), rows, cols, &coef, &a, r));
            for ((x, y), w) in inplace.iter().zip(&out).zip(&want) {
                assert!((x - w).abs() <= 1e-4 * (1.0 + w.abs()));
                assert_eq!(x, y);
            }
        }
    }
}
