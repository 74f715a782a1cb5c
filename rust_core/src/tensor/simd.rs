//! Float32 kernels shared by the tensor hot paths (LoRA merging, adapters, vector search).
//!
//! Two kernels, each with an AVX2+FMA version picked at run time (the wheel targets baseline
//! x86-64, so the wide path is chosen per machine with `is_x86_feature_detected!`) and a
//! portable version the compiler vectorises for any target:
//!
//! * [`dots_nt`]: every dot product between the rows of two row-major matrices, register-
//!   tiled (4 x 3 rows at a time), accumulated in f32 lanes of 8 with fused multiply-add;
//! * [`fused_rows`]: `dst[i, :] = src[i, :] + sum_k coef[i, k] * a[k, :]`, a rank-r update
//!   fused into one read and one write of each output row (2 rows x 32 columns in registers,
//!   `a` tiled by columns so its tile stays in L1 across rows).
//!
//! Summation order differs from BLAS (8 lanes, then a fixed horizontal sum), so results
//! differ from numpy by float32 rounding only; callers document the tolerance.
//!
//! The functions here are safe: they check every length they rely on and do nothing (or
//! return `false`) on a mismatch, so no input can make them read or write out of bounds.

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
    if wide() {
        // SAFETY: the CPU supports AVX2 and FMA, and x, y hold nx * d and ny * d values.
        unsafe { avx2::dots_nt(x.as_ptr(), nx, y.as_ptr(), ny, d, emit) };
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
    if wide() {
        let dst_ptr = dst.as_mut_ptr();
        let src_ptr = src.map_or(dst_ptr.cast_const(), <[f32]>::as_ptr);
        // SAFETY: AVX2 and FMA are present; all lengths were checked above; src is either a
        // separate slice of the same size or dst itself (each element is read before it is
        // written, by the same lane of the same iteration).
        unsafe { avx2::fused_rows(dst_ptr, src_ptr, rows, cols, coef.as_ptr(), a.as_ptr(), r) };
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
    ) -> [[f32; RN]; QN] {
        let mut acc = [[_mm256_setzero_ps(); RN]; QN];
        let mut j = 0;
        while j + 8 <= d {
            let mut yv = [_mm256_setzero_ps(); RN];
            for (r, v) in yv.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(y.add(r * d + j));
            }
            for (q, row) in acc.iter_mut().enumerate() {
                let xv = _mm256_loadu_ps(x.add(q * d + j));
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
                    s = (*x.add(q * d + t)).mul_add(*y.add(r * d + t), s);
                }
                out[q][r] = s;
            }
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn emit_tile<const QN: usize, const RN: usize, F: FnMut(usize, usize, f32)>(
        x: *const f32,
        i: usize,
        y: *const f32,
        j: usize,
        d: usize,
        emit: &mut F,
    ) {
        let t = tile::<QN, RN>(x.add(i * d), y.add(j * d), d);
        for (q, row) in t.iter().enumerate() {
            for (r, v) in row.iter().enumerate() {
                emit(i + q, j + r, *v);
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots_nt<F: FnMut(usize, usize, f32)>(
        x: *const f32,
        nx: usize,
        y: *const f32,
        ny: usize,
        d: usize,
        emit: &mut F,
    ) {
        let mut i = 0;
        while i + 4 <= nx {
            let mut j = 0;
            while j + 3 <= ny {
                emit_tile::<4, 3, F>(x, i, y, j, d, emit);
                j += 3;
            }
            while j < ny {
                emit_tile::<4, 1, F>(x, i, y, j, d, emit);
                j += 1;
            }
            i += 4;
        }
        while i < nx {
            let mut j = 0;
            while j + 4 <= ny {
                emit_tile::<1, 4, F>(x, i, y, j, d, emit);
                j += 4;
            }
            while j < ny {
                emit_tile::<1, 1, F>(x, i, y, j, d, emit);
                j += 1;
            }
            i += 1;
        }
    }

    /// Columns of `a` per tile: a `r x tile` block of `a` stays within ~16 KiB (L1).
    fn tile_cols(r: usize) -> usize {
        let t = 4096 / r.max(1);
        (t / 32 * 32).clamp(32, 2048)
    }

    /// RN output rows (RN = 1 or 2), columns `j0 .. j0 + width`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn rows_tile<const RN: usize>(
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
            for (q, row) in acc.iter_mut().enumerate() {
                for (l, v) in row.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(src.add(q * cols + j + 8 * l));
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
                let mut v = _mm256_loadu_ps(src.add(q * cols + j));
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
                let mut v = *src.add(q * cols + j);
                for k in 0..r {
                    v = (*coef.add(q * r + k)).mul_add(*a.add(k * cols + j), v);
                }
                *dst.add(q * cols + j) = v;
            }
            j += 1;
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fused_rows(
        dst: *mut f32,
        src: *const f32,
        rows: usize,
        cols: usize,
        coef: *const f32,
        a: *const f32,
        r: usize,
    ) {
        let tile = tile_cols(r);
        let mut j0 = 0;
        while j0 < cols {
            let width = tile.min(cols - j0);
            let mut i = 0;
            while i + 2 <= rows {
                let off = i * cols;
                rows_tile::<2>(
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
                rows_tile::<1>(
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
