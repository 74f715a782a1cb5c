//! Common/Metrics hot paths: an exact trailing moving average and per-name summaries.
//!
//! `rolling_avg` keeps each window's sum exactly, as Shewchuk's non-overlapping partials
//! (the algorithm of Python's `math.fsum`), and rounds it once per output with `fsum`'s
//! half-even correction, so every entry is `fsum(window) / count`: bit-identical to the
//! Python reference and free of the drift of a naive running sum.
//! `aggregate` is one pass of Welford's mean/variance update plus a Neumaier-compensated sum
//! per group, in input order, performing exactly the reference's floating-point operations.

use rayon::prelude::*;

use crate::numeric::{invalid, require_finite, InvalidInput};

/// An exact running sum of finite floats: non-overlapping partials, smallest first.
#[derive(Debug, Default, Clone)]
pub struct ExactSum {
    partials: Vec<f64>,
}

impl ExactSum {
    /// Adds `x` exactly. Err only if a partial overflows, which callers rule out up front.
    pub fn add(&mut self, mut x: f64) -> Result<(), InvalidInput> {
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            if hi.is_infinite() {
                return invalid("a window sum overflows float64");
            }
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
        Ok(())
    }

    /// The exact sum correctly rounded to f64 (round half to even), as `math.fsum` rounds.
    pub fn value(&self) -> f64 {
        let p = &self.partials;
        let Some(mut n) = p.len().checked_sub(1) else {
            return 0.0;
        };
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Half-even across partials: if the rest has the sign of `lo`, the true sum is past
        // the halfway point `hi + lo` and must round away from `hi`.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
        hi
    }
}

const ROLLING_CHUNK: usize = 1 << 16;

/// Err if `|x| * (window + 1)` could overflow for some `x`: no window sum can then overflow.
pub fn check_rolling_range(values: &[f64], window: usize) -> Result<(), InvalidInput> {
    let span = window.min(values.len()).saturating_add(1) as f64;
    let largest = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if largest > f64::MAX / span {
        return invalid("values too large: a window sum could overflow float64");
    }
    Ok(())
}

fn rolling_chunk(
    values: &[f64],
    window: usize,
    start: usize,
    out: &mut [f64],
) -> Result<(), InvalidInput> {
    // The running state just before `start`: the last `window` values before it.
    let mut sum = ExactSum::default();
    for &v in &values[start.saturating_sub(window)..start] {
        sum.add(v)?;
    }
    for (offset, slot) in out.iter_mut().enumerate() {
        let i = start + offset;
        sum.add(values[i])?;
        if i >= window {
            sum.add(-values[i - window])?;
        }
        *slot = sum.value() / ((i + 1).min(window) as f64);
    }
    Ok(())
}

/// Trailing mean over the last `window` values (fewer at the start); same length as input.
pub fn rolling_avg(values: &[f64], window: usize) -> Result<Vec<f64>, InvalidInput> {
    if window < 1 {
        return invalid("window must be at least 1");
    }
    if values.is_empty() {
        return invalid("values must not be empty");
    }
    require_finite(values, "values")?;
    check_rolling_range(values, window)?;
    let mut out = vec![0.0; values.len()];
    // Each chunk rebuilds its starting window exactly, so chunks are independent; a chunk at
    // least as long as the window keeps that rebuild below half the work.
    let chunk = ROLLING_CHUNK.max(window);
    if values.len() >= 2 * chunk {
        out.par_chunks_mut(chunk)
            .enumerate()
            .try_for_each(|(k, slice)| rolling_chunk(values, window, k * chunk, slice))?;
    } else {
        rolling_chunk(values, window, 0, &mut out)?;
    }
    Ok(out)
}

/// Count, sum, mean, min, max and population standard deviation of one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub sum: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub std: f64,
}

#[derive(Clone, Copy)]
struct Accumulator {
    count: u64,
    sum: f64,
    compensation: f64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

/// Summaries of `values` grouped by `groups[i]` (ids below `group_count`), in input order.
pub fn aggregate(
    groups: &[usize],
    group_count: usize,
    values: &[f64],
) -> Result<Vec<Summary>, InvalidInput> {
    if groups.len() != values.len() {
        return invalid(format!(
            "names and values differ in length: {} != {}",
            groups.len(),
            values.len()
        ));
    }
    if values.is_empty() {
        return invalid("values must not be empty");
    }
    require_finite(values, "values")?;
    let mut acc: Vec<Option<Accumulator>> = vec![None; group_count];
    for (&g, &x) in groups.iter().zip(values) {
        let Some(slot) = acc.get_mut(g) else {
            return invalid(format!("group id {g} out of range"));
        };
        match slot {
            None => {
                *slot = Some(Accumulator {
                    count: 1,
                    sum: x,
                    compensation: 0.0,
                    mean: x,
                    m2: 0.0,
                    min: x,
                    max: x,
                })
            }
            Some(s) => {
                s.count += 1;
                let n = s.count as f64;
                let total = s.sum + x;
                s.compensation += if s.sum.abs() >= x.abs() {
                    (s.sum - total) + x
                } else {
                    (x - total) + s.sum
                };
                s.sum = total;
                let delta = x - s.mean;
                s.mean += delta / n;
                s.m2 += delta * (x - s.mean);
                if x < s.min {
                    s.min = x;
                }
                if x > s.max {
                    s.max = x;
                }
            }
        }
    }
    Ok(acc
        .into_iter()
        .flatten()
        .map(|s| Summary {
            count: s.count,
            sum: s.sum + s.compensation,
            mean: s.mean,
            min: s.min,
            max: s.max,
            std: (s.m2 / s.count as f64).sqrt(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_rolling(values: &[f64], window: usize) -> Vec<f64> {
        (0..values.len())
            .map(|i| {
                let lo = (i + 1).saturating_sub(window);
                values[lo..=i].iter().sum::<f64>() / ((i + 1 - lo) as f64)
            })
            .collect()
    }

    #[test]
    fn exact_sum_is_correctly_rounded() {
        let mut s = ExactSum::default();
        for x in [1e100, 1.0, -1e100, 1e-16] {
            s.add(x).unwrap();
        }
        assert_eq!(s.value(), 1.0 + 1e-16); // rounds to 1.0 exactly
        let mut t = ExactSum::default();
        for x in [1e-16, 1.0, 1e16] {
            t.add(x).unwrap();
        }
        assert_eq!(t.value(), 10000000000000002.0); // fsum's half-even example
        assert_eq!(ExactSum::default().value(), 0.0);
    }

    #[test]
    fn rolling_matches_a_naive_window_on_integers() {
        let values: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64).collect();
        for window in [1, 2, 7, 100, 5000] {
            assert_eq!(
                rolling_avg(&values, window).unwrap(),
                naive_rolling(&values, window)
            );
        }
    }

    #[test]
    fn rolling_does_not_drift_after_huge_values_leave() {
        let mut values = vec![1e20, -1e20, 3.0];
        values.extend(std::iter::repeat_n(1.0, 10));
        let got = rolling_avg(&values, 2).unwrap();
        assert_eq!(got[3], 2.0); // window [3, 1]
        assert!(got[4..].iter().all(|&v| v == 1.0));
    }

    #[test]
    fn parallel_chunks_equal_one_pass() {
        let n = 2 * ROLLING_CHUNK + 123;
        let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 * 0.1).collect();
        let parallel = rolling_avg(&values, 50).unwrap();
        let mut serial = vec![0.0; n];
        rolling_chunk(&values, 50, 0, &mut serial).unwrap();
        assert_eq!(parallel, serial);
    }

    #[test]
    fn rolling_rejects_bad_input() {
        assert!(rolling_avg(&[1.0], 0).is_err());
        assert!(rolling_avg(&[], 3).is_err());
        assert!(rolling_avg(&[f64::NAN], 3).is_err());
        assert!(rolling_avg(&[f64::MAX, f64::MAX], 2).is_err());
    }

    #[test]
    fn aggregate_groups_in_order() {
        let got = aggregate(&[0, 1, 0, 0], 2, &[1.0, 10.0, 2.0, 3.0]).unwrap();
        assert_eq!(got[0].count, 3);
        assert_eq!(got[0].sum, 6.0);
        assert_eq!(got[0].mean, 2.0);
        assert_eq!((got[0].min, got[0].max), (1.0, 3.0));
        assert!((got[0].std - (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(got[1].std, 0.0);
        assert!(aggregate(&[0], 1, &[]).is_err());
        assert!(aggregate(&[], 1, &[]).is_err());
        assert!(aggregate(&[0], 1, &[f64::INFINITY]).is_err());
    }

    #[test]
    fn welford_is_stable_for_a_large_offset() {
        let values: Vec<f64> = (0..1000).map(|i| 1e9 + (i % 2) as f64).collect();
        let got = aggregate(&vec![0; 1000], 1, &values).unwrap();
        assert!((got[0].std - 0.5).abs() < 1e-9);
    }
}
