//! LoRA Management hot paths: the fused weight merge, the adapter forward delta, and the
//! multi-adapter merge of InferenceCore.
//!
//! * [`merge_into`] / [`merge_weights`]: `W[i, :] += sum_k (s * B[i, k]) * A[k, :]`, one
//!   pass over `W` with the rank-r product fused into the add: no `out x in` temporary,
//!   in place or into a separate output, rayon over blocks of rows.
//! * [`apply_adapter`]: `s * (x @ A^T) @ B^T`: per block of batch rows, the rank-r hidden
//!   values (register-tiled dot products) and then the same fused kernel against `B^T`.
//! * [`stack_adapters`]: several adapters of one module stacked into one factor pair of rank
//!   `sum(r)` (the scales folded into the coefficients), so they merge in one pass.
//!
//! Float32 throughout, with f32 accumulation and FMA (see [`crate::tensor::simd`]); results differ
//! from numpy's BLAS by rounding only.

use rayon::prelude::*;

use crate::numeric::checks::{invalid, InvalidInput};
use crate::tensor::simd;

/// Output rows per rayon task of a merge.
const ROW_BLOCK: usize = 32;
/// Batch rows per rayon task of the adapter delta.
const BATCH_BLOCK: usize = 16;
/// Below this many multiply-adds one thread is faster than splitting the work.
const PARALLEL_MIN: usize = 1 << 18;

/// A row-major float32 matrix borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
}

impl<'a> Mat<'a> {
    /// Err unless `data` holds exactly `rows * cols` values.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, InvalidInput> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return invalid(format!(
                "a {rows} x {cols} matrix needs {} values, got {}",
                rows.saturating_mul(cols),
                data.len()
            ));
        }
        Ok(Mat { data, rows, cols })
    }
}

/// Err unless every value is finite.
pub fn require_finite_f32(values: &[f32], name: &str) -> Result<(), InvalidInput> {
    // Branch-free in sixteen float lanes so the scan vectorises on any target (`v * 0.0` is
    // NaN exactly for a NaN or an infinity, and NaN stays NaN through the adds); parallel
    // for large inputs.
    let chunk_ok = |c: &[f32]| {
        let mut poison = [0.0f32; 16];
        let (lanes, tail) = c.as_chunks::<16>();
        for lane in lanes {
            for (p, v) in poison.iter_mut().zip(lane) {
                *p += v * 0.0;
            }
        }
        tail.iter().all(|v| v.is_finite()) && poison.iter().all(|p| *p == 0.0)
    };
    let ok = if values.len() >= PARALLEL_MIN {
        values.par_chunks(1 << 14).all(chunk_ok)
    } else {
        values.chunks(1 << 12).all(chunk_ok)
    };
    if ok {
        Ok(())
    } else {
        invalid(format!("{name} must be finite (no NaN or infinity)"))
    }
}

/// A finite f64 rounded to f32; Err if it is not finite or overflows f32.
pub fn scale_f32(value: f64, name: &str) -> Result<f32, InvalidInput> {
    if !value.is_finite() {
        return invalid(format!("{name} must be finite, got {value:?}"));
    }
    let scale = value as f32;
    if !scale.is_finite() {
        return invalid(format!(
            "{name} overflows float32 (|{name}| > {:e}): {value:?}",
            f32::MAX
        ));
    }
    Ok(scale)
}

/// `alpha / rank`, or `alpha / sqrt(rank)` for rsLoRA, in f64 (as the Python reference).
pub fn lora_scale(alpha: f64, rank: usize, use_rslora: bool) -> f64 {
    let r = rank as f64;
    if use_rslora {
        alpha / r.sqrt()
    } else {
        alpha / r
    }
}

/// Err unless `A[r, cols]` and `B[rows, r]` fit a `rows x cols` weight (the reference's
/// checks and messages, in its order).
pub fn check_factors(a: Mat, b: Mat, rows: usize, cols: usize) -> Result<(), InvalidInput> {
    if a.cols != cols {
        return invalid(format!("lora_a has {} columns, expected {cols}", a.cols));
    }
    if b.rows != rows {
        return invalid(format!("lora_b has {} rows, expected {rows}", b.rows));
    }
    if b.cols != a.rows {
        return invalid(format!(
            "rank mismatch: lora_b has {} columns, lora_a {} rows",
            b.cols, a.rows
        ));
    }
    Ok(())
}

/// Checks a merge of `A`, `B` and `scaling` into a `rows x cols` weight; the f32 scale.
pub fn validate_merge(
    rows: usize,
    cols: usize,
    a: Mat,
    b: Mat,
    scaling: f64,
) -> Result<f32, InvalidInput> {
    check_factors(a, b, rows, cols)?;
    let scale = scale_f32(scaling, "scaling")?;
    require_finite_f32(a.data, "lora_a")?;
    require_finite_f32(b.data, "lora_b")?;
    Ok(scale)
}

/// `dst = src + coef @ a` for `coef[rows, r]`, `a[r, cols]`; in place when `src` is None.
/// `dst` (and `src`) hold `rows * cols` values. Parallel over blocks of rows.
pub fn merge_into(
    dst: &mut [f32],
    src: Option<&[f32]>,
    coef: Mat,
    a: Mat,
) -> Result<(), InvalidInput> {
    let (rows, cols, r) = (coef.rows, a.cols, a.rows);
    if coef.cols != r {
        return invalid(format!(
            "coefficients have {} columns, rank is {r}",
            coef.cols
        ));
    }
    if rows.checked_mul(cols) != Some(dst.len()) || src.is_some_and(|s| s.len() != dst.len()) {
        return invalid("output size does not match the coefficients and factor");
    }
    if dst.is_empty() {
        return Ok(());
    }
    let block = ROW_BLOCK * cols;
    let run = |(index, out): (usize, &mut [f32])| {
        let first = index * ROW_BLOCK;
        let n = out.len() / cols;
        let source = src.map(|s| &s[first * cols..(first + n) * cols]);
        simd::fused_rows(
            out,
            source,
            n,
            cols,
            &coef.data[first * r..(first + n) * r],
            a.data,
            r,
        )
    };
    let ok = if dst.len().saturating_mul(r.max(1)) >= PARALLEL_MIN {
        dst.par_chunks_mut(block).enumerate().all(run)
    } else {
        dst.chunks_mut(block).enumerate().all(run)
    };
    if ok {
        Ok(())
    } else {
        invalid("inconsistent merge dimensions")
    }
}

/// `scale * B` as merge coefficients.
fn scaled(b: &[f32], scale: f32) -> Vec<f32> {
    b.iter().map(|v| v * scale).collect()
}

/// `dst = src + scaling * (B @ A)` (in place when `src` is None) for a `rows x cols`
/// weight, validated first: nothing is written on error.
pub fn merge_weights(
    dst: &mut [f32],
    src: Option<&[f32]>,
    rows: usize,
    cols: usize,
    a: Mat,
    b: Mat,
    scaling: f64,
) -> Result<(), InvalidInput> {
    let scale = validate_merge(rows, cols, a, b, scaling)?;
    let coef = scaled(b.data, scale);
    merge_into(dst, src, Mat::new(&coef, rows, a.rows)?, a)
}

/// Checks an adapter forward pass; the f32 scale.
pub fn validate_adapter(x: Mat, a: Mat, b: Mat, scaling: f64) -> Result<f32, InvalidInput> {
    check_factors(a, b, b.rows, x.cols)?;
    let scale = scale_f32(scaling, "scaling")?;
    require_finite_f32(x.data, "x")?;
    require_finite_f32(a.data, "lora_a")?;
    require_finite_f32(b.data, "lora_b")?;
    Ok(scale)
}

/// `m[rows, cols]` transposed to `[cols, rows]`, both row-major, in blocks of rows so the
/// writes run along rows of the result and the reads stay within a few KiB (a column at a
/// time would touch one cache line per element, 16 KiB apart).
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const ROWS_PER_BLOCK: usize = 64;
    let mut t = vec![0.0f32; rows * cols];
    for first in (0..rows).step_by(ROWS_PER_BLOCK) {
        let last = (first + ROWS_PER_BLOCK).min(rows);
        let block = &m[first * cols..last * cols];
        for (k, out) in t.chunks_exact_mut(rows).enumerate() {
            for (dst, row) in out[first..last].iter_mut().zip(block.chunks_exact(cols)) {
                *dst = row[k];
            }
        }
    }
    t
}

/// The LoRA forward delta `scaling * (x @ A^T) @ B^T` as a row-major `[batch, out]` vector.
///
/// The checks are [`validate_adapter`]'s, in its order (x, then `lora_a`, then `lora_b`),
/// but x is checked by each task on its own rows inside the one parallel pass, and the
/// factors (small) after it: one hand-off to the threads instead of two.
pub fn apply_adapter(x: Mat, a: Mat, b: Mat, scaling: f64) -> Result<Vec<f32>, InvalidInput> {
    check_factors(a, b, b.rows, x.cols)?;
    let scale = scale_f32(scaling, "scaling")?;
    let (batch, inner, r, out_dim) = (x.rows, x.cols, a.rows, b.rows);
    let size = batch.saturating_mul(out_dim);
    if size == 0 || r == 0 {
        validate_adapter(x, a, b, scaling)?;
        return Ok(vec![0.0f32; size]);
    }
    // B^T [r, out]: the second product becomes the fused row kernel with the hidden values
    // as coefficients.
    let bt = transpose(b.data, out_dim, r);
    // Written once by the kernel (no zeroing pass over a fresh output first).
    let mut out: Vec<f32> = Vec::new();
    if out.try_reserve_exact(size).is_err() {
        return invalid(format!("cannot allocate a {batch} x {out_dim} output"));
    }
    let run = |(index, block): (usize, &mut [std::mem::MaybeUninit<f32>])| {
        let first = index * BATCH_BLOCK;
        let n = block.len() / out_dim;
        let rows = &x.data[first * inner..(first + n) * inner];
        require_finite_f32(rows, "x")?;
        let mut hidden = vec![0.0f32; n * r];
        let ok = simd::dots_nt(rows, n, a.data, r, inner, &mut |i, k, v| {
            hidden[i * r + k] = v * scale;
        });
        if ok && simd::products_into(block, n, out_dim, &hidden, &bt, r) {
            Ok(())
        } else {
            invalid("inconsistent adapter dimensions")
        }
    };
    let work = batch.saturating_mul(r).saturating_mul(inner + out_dim);
    let spare = &mut out.spare_capacity_mut()[..size];
    if work >= PARALLEL_MIN {
        spare
            .par_chunks_mut(BATCH_BLOCK * out_dim)
            .enumerate()
            .try_for_each(run)?;
    } else {
        spare
            .chunks_mut(BATCH_BLOCK * out_dim)
            .enumerate()
            .try_for_each(run)?;
    }
    require_finite_f32(a.data, "lora_a")?;
    require_finite_f32(b.data, "lora_b")?;
    // SAFETY: every block returned Ok, so products_into wrote all `size` elements.
    unsafe { out.set_len(size) };
    Ok(out)
}

/// One validated adapter of a module: its factors and its f32 scale.
#[derive(Clone, Copy, Debug)]
pub struct Adapter<'a> {
    pub a: Mat<'a>,
    pub b: Mat<'a>,
    pub scale: f32,
}

/// The adapters of one `rows x cols` module stacked into `(coef[rows, R], a[R, cols])` with
/// `R = sum(r)`: `coef[i, off + k] = scale * B[i, k]`, `a[off + k, :] = A[k, :]`.
pub fn stack_adapters(
    adapters: &[Adapter],
    rows: usize,
    cols: usize,
) -> Result<(Vec<f32>, Vec<f32>, usize), InvalidInput> {
    let total: usize = adapters.iter().map(|ad| ad.a.rows).sum();
    let mut coef = vec![0.0f32; rows * total];
    let mut stacked = Vec::with_capacity(total * cols);
    let mut offset = 0;
    for ad in adapters {
        check_factors(ad.a, ad.b, rows, cols)?;
        let r = ad.a.rows;
        stacked.extend_from_slice(ad.a.data);
        if r > 0 {
            for (dst, src) in coef.chunks_exact_mut(total).zip(ad.b.data.chunks_exact(r)) {
                for (d, s) in dst[offset..offset + r].iter_mut().zip(src) {
                    *d = s * ad.scale;
                }
            }
        }
        offset += r;
    }
    Ok((coef, stacked, total))
}

/// Merges every adapter of one module into `dst` (from `src`, or in place) in one pass.
pub fn merge_adapters(
    dst: &mut [f32],
    src: Option<&[f32]>,
    rows: usize,
    cols: usize,
    adapters: &[Adapter],
) -> Result<(), InvalidInput> {
    let (coef, stacked, total) = stack_adapters(adapters, rows, cols)?;
    merge_into(
        dst,
        src,
        Mat::new(&coef, rows, total)?,
        Mat::new(&stacked, total, cols)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 997) as f32 / 500.0 - 1.0
            })
            .collect()
    }

    fn naive_merge(
        base: &[f32],
        rows: usize,
        cols: usize,
        a: &[f32],
        b: &[f32],
        r: usize,
        s: f32,
    ) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                let d: f64 = (0..r)
                    .map(|k| f64::from(b[i * r + k]) * f64::from(a[k * cols + j]))
                    .sum();
                out.push(f64::from(base[i * cols + j]) + f64::from(s) * d);
            }
        }
        out
    }

    #[test]
    fn merge_matches_naive_in_place_and_parallel() {
        for &(rows, cols, r) in &[(3, 5, 2), (70, 130, 16), (300, 257, 8), (4, 4, 0)] {
            let base = values(rows * cols, 1);
            let a = values(r * cols, 2);
            let b = values(rows * r, 3);
            let want = naive_merge(&base, rows, cols, &a, &b, r, 0.5);
            let (am, bm) = (
                Mat::new(&a, r, cols).unwrap(),
                Mat::new(&b, rows, r).unwrap(),
            );
            let mut inplace = base.clone();
            merge_weights(&mut inplace, None, rows, cols, am, bm, 0.5).unwrap();
            let mut out = vec![0.0; rows * cols];
            merge_weights(&mut out, Some(&base), rows, cols, am, bm, 0.5).unwrap();
            assert_eq!(inplace, out);
            for (g, w) in out.iter().zip(&want) {
                assert!((f64::from(*g) - w).abs() <= 1e-4 * (1.0 + w.abs()));
            }
        }
    }

    #[test]
    fn bad_merges_write_nothing() {
        let a = [1.0, f32::NAN];
        let b = [1.0, 1.0];
        let mut dst = vec![7.0f32; 4];
        let am = Mat::new(&a, 1, 2).unwrap();
        let bm = Mat::new(&b, 2, 1).unwrap();
        assert!(merge_weights(&mut dst, None, 2, 2, am, bm, 1.0).is_err());
        let ok_a = [1.0, 2.0];
        let am = Mat::new(&ok_a, 1, 2).unwrap();
        assert!(merge_weights(&mut dst, None, 2, 2, am, bm, f64::INFINITY).is_err());
        assert!(merge_weights(&mut dst, None, 2, 2, am, bm, 1e39).is_err());
        assert!(merge_weights(&mut dst, None, 2, 3, am, bm, 1.0).is_err());
        assert_eq!(dst, vec![7.0; 4]);
        assert!(Mat::new(&ok_a, 2, 2).is_err());
    }

    #[test]
    fn adapter_checks_x_then_the_factors_on_the_parallel_path_too() {
        // 64 x 512 rows and rank 16 (above PARALLEL_MIN): x is checked by the tasks.
        let (batch, inner, out, r) = (64, 512, 300, 16);
        let mut x = values(batch * inner, 4);
        let mut a = values(r * inner, 5);
        let b = values(out * r, 6);
        let run = |x: &[f32], a: &[f32]| {
            apply_adapter(
                Mat::new(x, batch, inner).unwrap(),
                Mat::new(a, r, inner).unwrap(),
                Mat::new(&b, out, r).unwrap(),
                2.0,
            )
        };
        let fine = run(&x, &a).unwrap();
        assert_eq!(fine.len(), batch * out);
        a[7] = f32::NAN;
        assert!(run(&x, &a).unwrap_err().0.contains("lora_a"));
        x[batch * inner - 1] = f32::INFINITY; // the last row of the last task
        assert!(run(&x, &a).unwrap_err().0.starts_with("x must be finite"));
    }

    #[test]
    fn adapter_delta_matches_naive() {
        for &(batch, inner, out, r) in &[(1, 3, 2, 1), (37, 70, 45, 16), (5, 8, 9, 0), (0, 4, 4, 2)]
        {
            let x = values(batch * inner, 4);
            let a = values(r * inner, 5);
            let b = values(out * r, 6);
            let got = apply_adapter(
                Mat::new(&x, batch, inner).unwrap(),
                Mat::new(&a, r, inner).unwrap(),
                Mat::new(&b, out, r).unwrap(),
                2.0,
            )
            .unwrap();
            assert_eq!(got.len(), batch * out);
            for i in 0..batch {
                for o in 0..out {
                    let want: f64 = (0..r)
                        .map(|k| {
                            let h: f64 = (0..inner)
                                .map(|j| f64::from(x[i * inner + j]) * f64::from(a[k * inner + j]))
                                .sum();
                            2.0 * h * f64::from(b[o * r + k])
                        })
                        .sum();
                    assert!(
                        (f64::from(got[i * out + o]) - want).abs() <= 1e-3 * (1.0 + want.abs())
                    );
                }
            }
        }
    }

    #[test]
    fn stacked_adapters_equal_sequential_merges() {
        let (rows, cols) = (9, 40);
        let base = values(rows * cols, 7);
        let (a1, b1) = (values(2 * cols, 8), values(rows * 2, 9));
        let (a2, b2) = (values(3 * cols, 10), values(rows * 3, 11));
        let ads = [
            Adapter {
                a: Mat::new(&a1, 2, cols).unwrap(),
                b: Mat::new(&b1, rows, 2).unwrap(),
                scale: 0.5,
            },
            Adapter {
                a: Mat::new(&a2, 3, cols).unwrap(),
                b: Mat::new(&b2, rows, 3).unwrap(),
                scale: -2.0,
            },
        ];
        let mut got = base.clone();
        merge_adapters(&mut got, None, rows, cols, &ads).unwrap();
        let mut want = base.clone();
        merge_weights(&mut want, None, rows, cols, ads[0].a, ads[0].b, 0.5).unwrap();
        merge_weights(&mut want, None, rows, cols, ads[1].a, ads[1].b, -2.0).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()));
        }
        assert_eq!(lora_scale(16.0, 4, false), 4.0);
        assert_eq!(lora_scale(16.0, 4, true), 8.0);
    }
}
