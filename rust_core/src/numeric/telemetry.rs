//! Common/Telemetry hot paths: exact percentiles by selection, and time-bucket rollups.
//!
//! `percentiles` returns what `numpy.percentile(values, qs)` (method "linear") returns, bit
//! for bit: the same virtual index `(n - 1) * (q / 100)`, the same neighbours and the same
//! two-sided lerp. The order statistics it needs come from selection, never a full sort:
//! a sorted sample brackets each wanted rank, one parallel pass counts the values below
//! each bracket and gathers those inside it, and `select_nth_unstable` runs on the small
//! gathered buckets. A bracket the sample misjudged falls back to selection on a full copy,
//! so an unlucky sample costs time, never correctness.

use rayon::prelude::*;

use crate::numeric::checks::{invalid, require_finite, require_non_empty, InvalidInput};

/// Below this many values, copy and select directly.
const DIRECT_MAX: usize = 1 << 17;
const SAMPLE: usize = 1 << 14;
/// Half-width of a bracket in sample positions: 4 standard deviations of a sample rank
/// (at most sqrt(SAMPLE / 4) = 64), so a miss, and its fallback, is a ~1e-4 event.
const SLACK: usize = 256;
const CHUNK: usize = 1 << 16;

/// Where percentile `q` falls: `Last` (the maximum) or between ranks `lo` and `lo + 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Position {
    Last,
    Between { lo: usize, gamma: f64 },
}

/// numpy's linear-method position for `q` (in percent) among `n` values.
fn position(n: usize, q: f64) -> Result<Position, InvalidInput> {
    let fraction = q / 100.0;
    if !(0.0..=1.0).contains(&fraction) {
        return invalid(format!(
            "percentiles must be in the range [0, 100], got {q:?}"
        ));
    }
    let last = (n - 1) as f64;
    let virtual_index = last * fraction;
    if virtual_index >= last {
        return Ok(Position::Last);
    }
    let floor = virtual_index.floor();
    // 0 <= floor < n - 1, so the conversion is exact.
    Ok(Position::Between {
        lo: floor as usize,
        gamma: virtual_index - floor,
    })
}

/// numpy's `_lerp`: from `a` below the midpoint, from `b` at or above it.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Sorts `ranks` (ascending, distinct) into place in `data` by recursive selection.
fn multi_select(data: &mut [f64], ranks: &[usize], offset: usize) {
    if ranks.is_empty() || data.is_empty() {
        return;
    }
    let mid = ranks.len() / 2;
    let k = ranks[mid] - offset;
    let (left, _, right) = data.select_nth_unstable_by(k, f64::total_cmp);
    multi_select(left, &ranks[..mid], offset);
    multi_select(right, &ranks[mid + 1..], offset + k + 1);
}

/// The value of each rank in `ranks` (ascending, distinct, all `< values.len()`).
fn order_statistics(values: &[f64], ranks: &[usize]) -> Vec<f64> {
    order_statistics_with(values, ranks, SLACK)
}

/// [`order_statistics`] with brackets `slack` sample positions wide on each side.
fn order_statistics_with(values: &[f64], ranks: &[usize], slack: usize) -> Vec<f64> {
    let direct = |ranks: &[usize]| {
        let mut copy = values.to_vec();
        multi_select(&mut copy, ranks, 0);
        ranks.iter().map(|&r| copy[r]).collect::<Vec<f64>>()
    };
    let n = values.len();
    if n <= DIRECT_MAX {
        return direct(ranks);
    }
    // A deterministic spread sample (splitmix64 positions), sorted.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut sample: Vec<f64> = (0..SAMPLE)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            values[(z % n as u64) as usize]
        })
        .collect();
    sample.sort_unstable_by(f64::total_cmp);
    // Brackets [low, high] of values (None: unbounded), merged when they overlap.
    let mut brackets: Vec<(Option<f64>, Option<f64>)> = Vec::new();
    let mut bracket_of: Vec<usize> = Vec::with_capacity(ranks.len());
    for &rank in ranks {
        let at = ((rank as u128 * SAMPLE as u128) / n as u128) as usize;
        let low = at.checked_sub(slack).map(|i| sample[i]);
        let high = sample.get(at + slack).copied();
        match brackets.last_mut() {
            Some(last)
                if last.1.is_none() || low.is_none_or(|l| last.1.is_some_and(|h| l <= h)) =>
            {
                last.1 = high;
            }
            _ => brackets.push((low, high)),
        }
        bracket_of.push(brackets.len() - 1);
    }
    let inside = |x: f64, (low, high): (Option<f64>, Option<f64>)| {
        low.is_none_or(|l| x >= l) && high.is_none_or(|h| x <= h)
    };
    let below = |x: f64, (low, _): (Option<f64>, Option<f64>)| low.is_some_and(|l| x < l);
    let (counts, buckets) = values
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut counts = vec![0usize; brackets.len()];
            let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); brackets.len()];
            for &x in chunk {
                for (j, &bracket) in brackets.iter().enumerate() {
                    if below(x, bracket) {
                        counts[j] += 1;
                    } else if inside(x, bracket) {
                        buckets[j].push(x);
                    }
                }
            }
            (counts, buckets)
        })
        .reduce(
            || (vec![0; brackets.len()], vec![Vec::new(); brackets.len()]),
            |(mut ca, mut ba), (cb, bb)| {
                for (a, b) in ca.iter_mut().zip(cb) {
                    *a += b;
                }
                for (a, mut b) in ba.iter_mut().zip(bb) {
                    a.append(&mut b);
                }
                (ca, ba)
            },
        );
    let mut out = vec![0.0; ranks.len()];
    let mut missed: Vec<usize> = Vec::new();
    let mut buckets = buckets;
    for (j, bucket) in buckets.iter_mut().enumerate() {
        let wanted: Vec<usize> = (0..ranks.len()).filter(|&i| bracket_of[i] == j).collect();
        let (hits, misses): (Vec<usize>, Vec<usize>) = wanted
            .into_iter()
            .partition(|&i| ranks[i] >= counts[j] && ranks[i] - counts[j] < bucket.len());
        missed.extend(misses);
        let local: Vec<usize> = hits.iter().map(|&i| ranks[i] - counts[j]).collect();
        multi_select(bucket, &local, 0);
        for (&i, &r) in hits.iter().zip(&local) {
            out[i] = bucket[r];
        }
    }
    if !missed.is_empty() {
        let missed_ranks: Vec<usize> = missed.iter().map(|&i| ranks[i]).collect();
        for (&i, v) in missed.iter().zip(direct(&missed_ranks)) {
            out[i] = v;
        }
    }
    out
}

/// `numpy.percentile(values, qs)` with the linear method, for finite `values`.
pub fn percentiles(values: &[f64], qs: &[f64]) -> Result<Vec<f64>, InvalidInput> {
    require_non_empty(values, "values")?;
    require_finite(values, "values")?;
    let n = values.len();
    let positions = qs
        .iter()
        .map(|&q| position(n, q))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ranks: Vec<usize> = positions
        .iter()
        .flat_map(|p| match *p {
            Position::Last => [n - 1, n - 1],
            Position::Between { lo, .. } => [lo, lo + 1],
        })
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    let stats = order_statistics(values, &ranks);
    let value_at = |rank: usize| match ranks.binary_search(&rank) {
        Ok(i) => stats[i],
        Err(_) => f64::NAN, // unreachable: every needed rank was selected
    };
    Ok(positions
        .iter()
        .map(|p| match *p {
            Position::Last => value_at(n - 1),
            Position::Between { lo, gamma } => lerp(value_at(lo), value_at(lo + 1), gamma),
        })
        .collect())
}

/// Bucket indexes must stay exact integers in f64.
const MAX_BUCKET_INDEX: f64 = 9_007_199_254_740_992.0; // 2**53

/// One (group, bucket) row of [`rollups`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rollup {
    pub group: usize,
    pub bucket_start: f64,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    count: u64,
    sum: f64,
    compensation: f64,
    min: f64,
    max: f64,
}

impl Cell {
    /// The reference's update: the first point initialises, later ones Neumaier-add.
    #[inline]
    fn add(&mut self, x: f64) {
        if self.count == 0 {
            *self = Cell {
                count: 1,
                sum: x,
                compensation: 0.0,
                min: x,
                max: x,
            };
            return;
        }
        self.count += 1;
        let total = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - total) + x
        } else {
            (x - total) + self.sum
        };
        self.sum = total;
        if x < self.min {
            self.min = x;
        }
        if x > self.max {
            self.max = x;
        }
    }

    fn row(&self, group: usize, bucket: i64, width: f64) -> Rollup {
        let sum = self.sum + self.compensation;
        Rollup {
            group,
            bucket_start: bucket as f64 * width,
            count: self.count,
            sum,
            min: self.min,
            max: self.max,
            mean: sum / self.count as f64,
        }
    }
}

/// Per (group, `floor(t / width)` bucket): count, sum, min, max, mean, in input order.
///
/// `groups` gives each point's group id (below `group_count`); `None` puts every point in
/// group 0. Rows come sorted by group, then bucket. Cells live in one dense table when the
/// groups' bucket ranges are compact (the usual case for telemetry), else in a hash map.
pub fn rollups(
    groups: Option<&[usize]>,
    group_count: usize,
    timestamps: &[f64],
    values: &[f64],
    width: f64,
) -> Result<Vec<Rollup>, InvalidInput> {
    let n = timestamps.len();
    if n != values.len() {
        return invalid(format!(
            "timestamps and values differ in length: {n} != {}",
            values.len()
        ));
    }
    if let Some(groups) = groups {
        if groups.len() != n {
            return invalid(format!(
                "names and values differ in length: {} != {n}",
                groups.len()
            ));
        }
    }
    if n == 0 {
        return invalid("timestamps must not be empty");
    }
    if !(width.is_finite() && width > 0.0) {
        return invalid(format!(
            "bucket_seconds must be finite and > 0, got {width:?}"
        ));
    }
    require_finite(timestamps, "timestamps")?;
    require_finite(values, "values")?;
    let mut buckets = Vec::with_capacity(n);
    for &t in timestamps {
        let scaled = t / width;
        if scaled.abs() >= MAX_BUCKET_INDEX {
            return invalid("timestamps / bucket_seconds must stay below 2**53 in magnitude");
        }
        // |floor| < 2**53, so the conversion is exact.
        buckets.push(scaled.floor() as i64);
    }
    let group_count = if groups.is_some() { group_count } else { 1 };
    let group_at = |i: usize| groups.map_or(0, |g| g[i]);
    if groups.is_some_and(|g| g.iter().any(|&id| id >= group_count)) {
        return invalid("group id out of range");
    }
    // Each group's bucket range, to size a dense table.
    let mut ranges: Vec<Option<(i64, i64)>> = vec![None; group_count];
    for (i, &b) in buckets.iter().enumerate() {
        let range = &mut ranges[group_at(i)];
        *range = Some(range.map_or((b, b), |(lo, hi)| (lo.min(b), hi.max(b))));
    }
    let mut offsets = Vec::with_capacity(group_count);
    let mut cells_needed: u128 = 0;
    for range in &ranges {
        offsets.push(cells_needed as usize);
        if let Some((lo, hi)) = range {
            cells_needed += (i128::from(*hi) - i128::from(*lo) + 1) as u128;
        }
    }
    let dense_limit = (2 * n).max(1 << 20) as u128;
    let mut rows = Vec::new();
    if cells_needed <= dense_limit {
        let mut cells = vec![Cell::default(); cells_needed as usize];
        for (i, (&b, &x)) in buckets.iter().zip(values).enumerate() {
            let g = group_at(i);
            let lo = ranges[g].map_or(b, |r| r.0);
            cells[offsets[g] + (b - lo) as usize].add(x);
        }
        for (g, range) in ranges.iter().enumerate() {
            let Some((lo, hi)) = *range else { continue };
            let span = (hi - lo) as usize + 1;
            for (k, cell) in cells[offsets[g]..offsets[g] + span].iter().enumerate() {
                if cell.count > 0 {
                    rows.push(cell.row(g, lo + k as i64, width));
                }
            }
        }
    } else {
        let mut cells: std::collections::HashMap<(usize, i64), Cell> =
            std::collections::HashMap::new();
        for (i, (&b, &x)) in buckets.iter().zip(values).enumerate() {
            cells.entry((group_at(i), b)).or_default().add(x);
        }
        let mut keyed: Vec<((usize, i64), Cell)> = cells.into_iter().collect();
        keyed.sort_unstable_by_key(|&(key, _)| key);
        rows.extend(keyed.iter().map(|&((g, b), cell)| cell.row(g, b, width)));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_reference(values: &[f64], qs: &[f64]) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        qs.iter()
            .map(|&q| match position(n, q).unwrap() {
                Position::Last => sorted[n - 1],
                Position::Between { lo, gamma } => lerp(sorted[lo], sorted[lo + 1], gamma),
            })
            .collect()
    }

    #[test]
    fn known_values() {
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        // numpy.percentile(v, [0, 25, 50, 90, 100]) == [1.0, 1.75, 3.5, 6.9, 9.0]
        let got = percentiles(&v, &[0.0, 25.0, 50.0, 90.0, 100.0]).unwrap();
        assert_eq!(got[0], 1.0);
        assert_eq!(got[1], 1.75);
        assert_eq!(got[2], 3.5);
        assert!((got[3] - 6.9).abs() < 1e-12);
        assert_eq!(got[4], 9.0);
        assert_eq!(percentiles(&[7.0], &[0.0, 50.0, 100.0]).unwrap(), [7.0; 3]);
    }

    #[test]
    fn sampled_path_equals_a_full_sort() {
        let n = DIRECT_MAX * 3 + 11;
        let mut state = 1u64;
        let values: Vec<f64> = (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect();
        let qs = [
            0.0, 0.1, 1.0, 25.0, 50.0, 50.0001, 90.0, 95.0, 99.0, 99.99, 100.0,
        ];
        assert_eq!(
            percentiles(&values, &qs).unwrap(),
            sorted_reference(&values, &qs)
        );
    }

    #[test]
    fn heavy_duplicates_and_adversarial_order() {
        let n = DIRECT_MAX * 2;
        let mut values: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
        values.extend((0..1000).map(|i| i as f64 * 1e6));
        let qs = [0.0, 33.0, 66.7, 99.9, 100.0];
        assert_eq!(
            percentiles(&values, &qs).unwrap(),
            sorted_reference(&values, &qs)
        );
        let ascending: Vec<f64> = (0..n).map(|i| i as f64).collect();
        assert_eq!(
            percentiles(&ascending, &qs).unwrap(),
            sorted_reference(&ascending, &qs)
        );
    }

    #[test]
    fn misjudged_brackets_fall_back_to_a_full_selection() {
        let n = DIRECT_MAX * 2;
        let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64).collect();
        let ranks = [0, 1, n / 3, n / 2, n / 2 + 1, n - 2, n - 1];
        for slack in [0, 1, 3] {
            let got = order_statistics_with(&values, &ranks, slack);
            assert_eq!(got, ranks.map(|r| r as f64)); // values are a permutation of 0..n
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(percentiles(&[], &[50.0]).is_err());
        assert!(percentiles(&[1.0, f64::NAN], &[50.0]).is_err());
        assert!(percentiles(&[1.0], &[100.5]).is_err());
        assert!(percentiles(&[1.0], &[-0.1]).is_err());
        assert!(percentiles(&[1.0], &[f64::NAN]).is_err());
        assert_eq!(percentiles(&[1.0], &[]).unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn rollups_by_group_and_bucket() {
        let rows = rollups(
            Some(&[0, 1, 0, 0, 1, 0]),
            2,
            &[0.0, 1.0, 2.0, 11.0, 12.0, 25.0],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            10.0,
        )
        .unwrap();
        let summary: Vec<(usize, f64, u64, f64)> = rows
            .iter()
            .map(|r| (r.group, r.bucket_start, r.count, r.sum))
            .collect();
        assert_eq!(
            summary,
            [
                (0, 0.0, 2, 4.0),
                (0, 10.0, 1, 4.0),
                (0, 20.0, 1, 6.0),
                (1, 0.0, 1, 2.0),
                (1, 10.0, 1, 5.0)
            ]
        );
        assert_eq!((rows[0].min, rows[0].max, rows[0].mean), (1.0, 3.0, 2.0));
    }

    #[test]
    fn sparse_and_dense_tables_agree() {
        // Far-apart timestamps force the hash map; the same points shifted close force dense.
        let ts: Vec<f64> = (0..1000)
            .map(|i| (i % 7) as f64 * 1e12 + i as f64)
            .collect();
        let vs: Vec<f64> = (0..1000).map(|i| i as f64 * 0.5).collect();
        let groups: Vec<usize> = (0..1000).map(|i| i % 3).collect();
        let sparse = rollups(Some(&groups), 3, &ts, &vs, 1.0).unwrap();
        let dense = rollups(Some(&groups), 3, &ts, &vs, 1e12).unwrap();
        assert_eq!(sparse.len(), 1000);
        assert_eq!(dense.len(), 21);
        assert_eq!(sparse.iter().map(|r| r.count).sum::<u64>(), 1000);
        assert!(sparse
            .windows(2)
            .all(|w| (w[0].group, w[0].bucket_start) < (w[1].group, w[1].bucket_start)));
        let total = |rows: &[Rollup]| rows.iter().map(|r| r.sum).sum::<f64>();
        assert_eq!(total(&sparse), total(&dense));
    }

    #[test]
    fn rollups_reject_bad_input() {
        assert!(rollups(None, 0, &[], &[], 1.0).is_err());
        assert!(rollups(None, 0, &[1.0], &[1.0, 2.0], 1.0).is_err());
        assert!(rollups(Some(&[0, 0]), 1, &[1.0], &[1.0], 1.0).is_err());
        assert!(rollups(None, 0, &[1.0], &[1.0], 0.0).is_err());
        assert!(rollups(None, 0, &[1.0], &[f64::NAN], 1.0).is_err());
        assert!(rollups(None, 0, &[1e300], &[1.0], 1e-300).is_err());
        assert!(rollups(Some(&[5]), 1, &[1.0], &[1.0], 1.0).is_err());
        let negative = rollups(None, 0, &[-0.5, -10.0], &[1.0, 2.0], 10.0).unwrap();
        assert_eq!(negative[0].bucket_start, -10.0);
        assert_eq!(negative[0].count, 2);
    }
}
