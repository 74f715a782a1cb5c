//! Common/Metrics hot paths: an exact trailing moving average and per-name summaries.
//!
//! `rolling_avg` returns `fsum(window) / count` for every window: the correctly rounded
//! window sum, bit-identical to the Python reference and free of the drift of a naive
//! running sum. Ordinary data (nonzero bits spanning at most ~126 bits with the window's
//! growth) keeps each window sum as an exact fixed-point i128, one add and one subtract per
//! step; anything wider falls back to Shewchuk's non-overlapping partials (`math.fsum`'s
//! algorithm) with `fsum`'s half-even correction.
//! `aggregate` gives per group the correctly rounded sum, `mean = sum / n` and the root of
//! the exact sum of squared deviations about that mean over n: every figure depends on the
//! values only, not their order, so the exact sums (superaccumulators, see `exact_sum`) run
//! across threads and still equal the Python reference's `math.fsum` bit for bit.

use rayon::prelude::*;

use crate::numeric::checks::{invalid, InvalidInput};
use crate::numeric::exact_sum::{exact_sum, magnitudes, SuperAccumulator, BLOCK};

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
        // A zero partial is dropped, as `math.fsum` drops it (so `-0.0` alone sums to `0.0`).
        if x != 0.0 {
            self.partials.push(x);
        }
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
/// Outputs a parallel chunk of the split kernel at least has.
const SPLIT_CHUNK: usize = 1 << 14;

/// What one pass over the input learns: finiteness, the largest magnitude and the binary
/// range its nonzero values span (lowest set bit, highest bit + 1, as powers of two).
#[derive(Clone, Copy)]
struct Scan {
    finite: bool,
    largest: f64,
    low: i32,
    top: i32,
}

impl Scan {
    const EMPTY: Scan = Scan {
        finite: true,
        largest: 0.0,
        low: i32::MAX,
        top: i32::MIN,
    };

    #[inline(always)]
    fn of(values: &[f64]) -> Scan {
        // Branch-free so it vectorises: `v * 0.0` is NaN exactly for NaN and infinities; the
        // lowest bit any nonzero value can have is the unit of the smallest one's exponent.
        let (poison, largest, smallest) = values.iter().fold(
            (0.0_f64, 0.0_f64, f64::INFINITY),
            |(poison, largest, smallest), &v| {
                let a = v.abs();
                let nonzero = if a == 0.0 { f64::INFINITY } else { a };
                (
                    poison + v * 0.0,
                    if a > largest { a } else { largest },
                    if nonzero < smallest {
                        nonzero
                    } else {
                        smallest
                    },
                )
            },
        );
        let finite = poison == 0.0;
        let lowest = ((smallest.to_bits() >> 52) & 0x7ff).max(1);
        if largest == 0.0 || !finite {
            return Scan {
                finite,
                largest,
                ..Scan::EMPTY
            };
        }
        let (mantissa, position) = decompose(largest);
        Scan {
            finite,
            largest,
            low: lowest as i32 - 1075,
            top: position + 64 - mantissa.leading_zeros() as i32,
        }
    }

    fn merge(self, other: Scan) -> Scan {
        Scan {
            finite: self.finite && other.finite,
            largest: self.largest.max(other.largest),
            low: self.low.min(other.low),
            top: self.top.max(other.top),
        }
    }

    fn of_parallel(values: &[f64]) -> Scan {
        if values.len() < 2 * SPLIT_CHUNK {
            return Scan::of_best(values);
        }
        values
            .par_chunks(SPLIT_CHUNK)
            .map(Scan::of_best)
            .reduce(|| Scan::EMPTY, Scan::merge)
    }

    /// [`Scan::of`] in the widest form this CPU runs (the same result: max and min only).
    fn of_best(values: &[f64]) -> Scan {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            unsafe fn avx2(values: &[f64]) -> Scan {
                Scan::of(values)
            }
            #[target_feature(enable = "avx512f")]
            unsafe fn avx512(values: &[f64]) -> Scan {
                Scan::of(values)
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F was detected at run time.
                return unsafe { avx512(values) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected at run time.
                return unsafe { avx2(values) };
            }
        }
        Scan::of(values)
    }
}

/// `|v| = mantissa * 2^position` exactly (position may be negative; subnormals included).
#[inline(always)]
fn decompose(v: f64) -> (u64, i32) {
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    }
}

/// `v / 2^low` as an integer, for `v` a multiple of `2^low` below `2^(low + 126)` in
/// magnitude, with `inverse_unit = 2^-low`: the scaling is exact, and the integer is split
/// at 2^63 into two parts that the hardware converts exactly.
#[inline(always)]
fn fixed(v: f64, inverse_unit: f64) -> i128 {
    const TWO_63: f64 = 9223372036854775808.0;
    let scaled = v * inverse_unit;
    let high = (scaled * (1.0 / TWO_63)) as i64;
    let low = (scaled - high as f64 * TWO_63) as i64;
    ((high as i128) << 63) + low as i128
}

/// Err if `|x| * (window + 1)` could overflow for the largest `|x|`: no window sum can then.
fn check_largest(largest: f64, len: usize, window: usize) -> Result<(), InvalidInput> {
    let span = window.min(len).saturating_add(1) as f64;
    if largest > f64::MAX / span {
        return invalid("values too large: a window sum could overflow float64");
    }
    Ok(())
}

/// Err if `|x| * (window + 1)` could overflow for some `x`: no window sum can then overflow.
pub fn check_rolling_range(values: &[f64], window: usize) -> Result<(), InvalidInput> {
    let largest = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    check_largest(largest, values.len(), window)
}

/// The power of two `2^low` such that every window sum is an exact i128 multiple of it and
/// `(sum as f64) * 2^low` is the correctly rounded sum (no subnormal result, no overflow);
/// None when the values span too many bits for that.
fn fixed_point_unit(scan: &Scan, window: usize) -> Option<i32> {
    if scan.low == i32::MAX {
        return Some(0); // all zeros
    }
    let terms = (window as u128).saturating_add(1);
    let growth = 128 - terms.leading_zeros() as i32; // 2^growth > terms
    let bits = (scan.top - scan.low).saturating_add(growth);
    (bits <= 126 && (-1022..=1023 - 127).contains(&scan.low)).then_some(scan.low)
}

/// `n` rounded to the nearest f64, ties to even (what `n as f64` gives, without the
/// library call): the top 63 bits with a sticky bit below them convert in hardware with the
/// same rounding, and the power-of-two rescale is exact.
#[inline(always)]
fn round_i128(n: i128) -> f64 {
    let magnitude = n.unsigned_abs();
    let length = 128 - magnitude.leading_zeros();
    let shift = length.saturating_sub(63);
    let kept = (magnitude >> shift) as u64;
    let sticky = (magnitude & ((1u128 << shift) - 1) != 0) as u64;
    let rounded = (kept | sticky) as i64 as f64 * f64::from_bits(((shift as u64) + 1023) << 52);
    if n < 0 {
        -rounded
    } else {
        rounded
    }
}

fn rolling_chunk_fixed(values: &[f64], window: usize, low: i32, start: usize, out: &mut [f64]) {
    let unit = f64::from_bits(((low + 1023) as u64) << 52);
    let inverse = f64::from_bits(((1023 - low) as u64) << 52);
    let full = window as f64;
    let mut sum: i128 = values[start.saturating_sub(window)..start]
        .iter()
        .map(|&v| fixed(v, inverse))
        .sum();
    for (offset, slot) in out.iter_mut().enumerate() {
        let i = start + offset;
        sum += fixed(values[i], inverse);
        if i >= window {
            sum -= fixed(values[i - window], inverse);
            *slot = round_i128(sum) * unit / full;
        } else {
            *slot = round_i128(sum) * unit / ((i + 1) as f64);
        }
    }
}

/// Rounds to the nearest integer (ties to even) by adding and subtracting 1.5 * 2^52: exact
/// for `|t| <= 2^51`, a plain add and subtract on every target (no `round` instruction).
const ROUND_TO_INTEGER: f64 = 6_755_399_441_055_744.0;

/// The high part of the split `v = high + low` of [`split_unit`]: `v` rounded to a multiple
/// of `unit = 1 / scale` (ties to even); `v - high` is then exact.
#[inline(always)]
fn split_high(v: f64, scale: f64, unit: f64) -> f64 {
    ((v * scale + ROUND_TO_INTEGER) - ROUND_TO_INTEGER) * unit
}

/// The power of two `2^m` that splits every value `v = a + b` (`a` a multiple of `2^m`,
/// `|b| <= 2^(m - 1)`) so that every sum the split kernel forms of up to `2 w` parts (a
/// window sum, or the difference of two) is exact in plain f64: the `a` sums are multiples
/// of `2^m` below `2^(m + 53)`, the `b` sums multiples of `2^low` below `2^(low + 53)`.
/// `fl(A + B)` of the two exact window sums is then the correctly rounded window sum, with
/// nothing but adds in the loop, which vectorise. None when the values span too many bits
/// (more than about `106 - 2 log2(2 w)`) or sit at the ends of the exponent range.
fn split_unit(scan: &Scan, window: usize, len: usize) -> Option<i32> {
    if scan.low == i32::MAX {
        return None; // all zeros: the fixed-point path
    }
    let doubled = (window.min(len) as u128).saturating_mul(2);
    let growth = 128 - doubled.leading_zeros() as i32; // 2 w < 2^growth
    let m = scan
        .top
        .saturating_add(growth)
        .saturating_sub(53)
        .max(-1022);
    // The `a` sums reach 2^(m + 53): m <= 970 keeps them (and their differences) finite.
    (m <= scan.low.saturating_add(53 - growth) && m <= 970).then_some(m)
}

/// Lanes of the split kernel's scan: four window sums a step, one add of latency each.
const SPLIT_BLOCK: usize = 256;

/// One block of the split kernel: `out[j]` gets the window sum ending at `new[j]`, rounded
/// once (`fl(A + B)`), divided by `divisor(j)`. `old` holds the values leaving the window
/// (same length as `new`) when the window is full, and is empty while it grows; `carry`
/// holds the exact sums `[A, B]` of the window before the block and is advanced past it.
#[inline(always)]
fn split_block(
    new: &[f64],
    old: &[f64],
    scale: f64,
    unit: f64,
    carry: &mut [f64; 2],
    out: &mut [f64],
) {
    let n = new.len().min(out.len()).min(SPLIT_BLOCK);
    let mut da = [0.0; SPLIT_BLOCK];
    let mut db = [0.0; SPLIT_BLOCK];
    if old.len() >= n {
        for (((&x, &y), a), b) in new[..n]
            .iter()
            .zip(&old[..n])
            .zip(&mut da[..n])
            .zip(&mut db[..n])
        {
            let (hx, hy) = (split_high(x, scale, unit), split_high(y, scale, unit));
            *a = hx - hy;
            *b = (x - hx) - (y - hy);
        }
    } else {
        for ((&x, a), b) in new[..n].iter().zip(&mut da[..n]).zip(&mut db[..n]) {
            let hx = split_high(x, scale, unit);
            *a = hx;
            *b = x - hx;
        }
    }
    // Every partial sum below is a window sum or the difference of two: exact, so the
    // grouping (four prefix sums off one carry) gives the bits a sequential scan would.
    let [mut ca, mut cb] = *carry;
    let mut groups = out[..n].chunks_exact_mut(4);
    let mut j = 0;
    for group in &mut groups {
        let a1 = da[j] + da[j + 1];
        let a2 = a1 + da[j + 2];
        let a3 = a2 + da[j + 3];
        let b1 = db[j] + db[j + 1];
        let b2 = b1 + db[j + 2];
        let b3 = b2 + db[j + 3];
        group[0] = (ca + da[j]) + (cb + db[j]);
        group[1] = (ca + a1) + (cb + b1);
        group[2] = (ca + a2) + (cb + b2);
        group[3] = (ca + a3) + (cb + b3);
        ca += a3;
        cb += b3;
        j += 4;
    }
    for slot in groups.into_remainder() {
        ca += da[j];
        cb += db[j];
        *slot = ca + cb;
        j += 1;
    }
    *carry = [ca, cb];
}

/// The split kernel over `out`, the outputs from index `start` on (see [`split_unit`]).
#[inline(always)]
fn rolling_chunk_split(values: &[f64], window: usize, m: i32, start: usize, out: &mut [f64]) {
    let scale = f64::from_bits(((1023 - m) as u64) << 52);
    let unit = f64::from_bits(((1023 + m) as u64) << 52);
    // The exact sums of the window before `start`, four lanes (any order is exact).
    let before = &values[start.saturating_sub(window)..start];
    let mut lanes = [[0.0f64; 2]; 4];
    let quads = before.chunks_exact(4);
    for &x in quads.remainder() {
        let h = split_high(x, scale, unit);
        lanes[0][0] += h;
        lanes[0][1] += x - h;
    }
    for quad in quads {
        for (lane, &x) in lanes.iter_mut().zip(quad) {
            let h = split_high(x, scale, unit);
            lane[0] += h;
            lane[1] += x - h;
        }
    }
    let mut carry = [
        (lanes[0][0] + lanes[1][0]) + (lanes[2][0] + lanes[3][0]),
        (lanes[0][1] + lanes[1][1]) + (lanes[2][1] + lanes[3][1]),
    ];
    let end = start + out.len();
    // While the window grows (only the first `window` outputs of the input).
    let growing = window.clamp(start, end) - start;
    for (k, block) in out[..growing].chunks_mut(SPLIT_BLOCK).enumerate() {
        let first = start + k * SPLIT_BLOCK;
        split_block(
            &values[first..first + block.len()],
            &[],
            scale,
            unit,
            &mut carry,
            block,
        );
        for (j, slot) in block.iter_mut().enumerate() {
            *slot /= (first + j + 1) as f64;
        }
    }
    let full = window as f64;
    for (k, block) in out[growing..].chunks_mut(SPLIT_BLOCK).enumerate() {
        let first = start + growing + k * SPLIT_BLOCK;
        let len = block.len();
        split_block(
            &values[first..first + len],
            &values[first - window..first - window + len],
            scale,
            unit,
            &mut carry,
            block,
        );
        for slot in block.iter_mut() {
            *slot /= full;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rolling_chunk_split_avx2(
    values: &[f64],
    window: usize,
    m: i32,
    start: usize,
    out: &mut [f64],
) {
    // The same adds and multiplies four lanes wide (never fused): the same bits.
    rolling_chunk_split(values, window, m, start, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rolling_chunk_split_avx512(
    values: &[f64],
    window: usize,
    m: i32,
    start: usize,
    out: &mut [f64],
) {
    rolling_chunk_split(values, window, m, start, out)
}

/// [`rolling_chunk_split`] in the widest form this CPU runs.
fn rolling_chunk_split_best(values: &[f64], window: usize, m: i32, start: usize, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F was detected at run time.
        return unsafe { rolling_chunk_split_avx512(values, window, m, start, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was detected at run time.
        return unsafe { rolling_chunk_split_avx2(values, window, m, start, out) };
    }
    rolling_chunk_split(values, window, m, start, out)
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
///
/// When the values' nonzero bits span at most ~126 bits together with the window's growth
/// (ordinary data: a range of 2^70 between the largest value and the finest bit), every
/// window sum is kept exactly as a fixed-point i128 and rounded once per output; otherwise
/// Shewchuk's partials do it. Both give the correctly rounded window sum, the same bits.
pub fn rolling_avg(values: &[f64], window: usize) -> Result<Vec<f64>, InvalidInput> {
    if window < 1 {
        return invalid("window must be at least 1");
    }
    if values.is_empty() {
        return invalid("values must not be empty");
    }
    let scan = Scan::of_parallel(values);
    if !scan.finite {
        return invalid("values must be finite (no NaN or infinity)");
    }
    check_largest(scan.largest, values.len(), window)?;
    let mut out = vec![0.0; values.len()];
    if let Some(m) = split_unit(&scan, window, values.len()) {
        // Chunks rebuild their starting window (exactly), so they run on any thread; four
        // windows a chunk keep that rebuild at a quarter of the work or less.
        let chunk = SPLIT_CHUNK.max(window.saturating_mul(4));
        if values.len() >= chunk.saturating_mul(2) {
            out.par_chunks_mut(chunk)
                .enumerate()
                .for_each(|(k, slice)| {
                    rolling_chunk_split_best(values, window, m, k * chunk, slice)
                });
        } else {
            rolling_chunk_split_best(values, window, m, 0, &mut out);
        }
        return Ok(out);
    }
    // Each chunk rebuilds its starting window exactly, so chunks are independent; a chunk at
    // least as long as the window keeps that rebuild below half the work.
    let chunk = ROLLING_CHUNK.max(window);
    let parallel = values.len() >= chunk.saturating_mul(2);
    if let Some(low) = fixed_point_unit(&scan, window) {
        if parallel {
            out.par_chunks_mut(chunk)
                .enumerate()
                .for_each(|(k, slice)| rolling_chunk_fixed(values, window, low, k * chunk, slice));
        } else {
            rolling_chunk_fixed(values, window, low, 0, &mut out);
        }
    } else if parallel {
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

/// Groups up to this size sum with Shewchuk's partials (a few adds each) rather than
/// zeroing and rounding a superaccumulator.
const SMALL_GROUP: usize = 32;
const AGGREGATE_CHUNK: usize = 1 << 15;

/// The correctly rounded sum of finite `values` and whether a term was infinite.
fn group_sum(values: impl Iterator<Item = f64> + Clone, len: usize) -> f64 {
    if len <= SMALL_GROUP {
        let mut partials = ExactSum::default();
        if values.clone().try_for_each(|v| partials.add(v)).is_ok() {
            return partials.value();
        }
    }
    exact_sum(values)
}

struct Pass {
    min: f64,
    max: f64,
    sum: SuperAccumulator,
    /// No NaN or infinity among the values (else `min`, `max` and `sum` mean nothing).
    finite: bool,
}

/// `(min, max, smallest nonzero |v|, all finite)` of a block, in lanes of selects and adds
/// that vectorise (`x * 0.0` is NaN exactly for a NaN or an infinity).
#[inline(always)]
fn block_range(block: &[f64]) -> (f64, f64, f64, bool) {
    const LANES: usize = 8;
    let mut low = [f64::INFINITY; LANES];
    let mut high = [f64::NEG_INFINITY; LANES];
    let mut small = [f64::INFINITY; LANES];
    let mut poison = [0.0f64; LANES];
    let (chunks, tail) = block.as_chunks::<LANES>();
    let mut step = |l: usize, x: f64| {
        poison[l] += x * 0.0;
        low[l] = if x < low[l] { x } else { low[l] };
        high[l] = if x > high[l] { x } else { high[l] };
        let a = x.abs();
        let nonzero = if a == 0.0 { f64::INFINITY } else { a };
        small[l] = if nonzero < small[l] {
            nonzero
        } else {
            small[l]
        };
    };
    for chunk in chunks {
        for (l, &x) in chunk.iter().enumerate() {
            step(l, x);
        }
    }
    for &x in tail {
        step(0, x);
    }
    let min = low
        .iter()
        .fold(f64::INFINITY, |m, &x| if x < m { x } else { m });
    let max = high
        .iter()
        .fold(f64::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    let smallest = small
        .iter()
        .fold(f64::INFINITY, |m, &x| if x < m { x } else { m });
    (min, max, smallest, poison.iter().sum::<f64>() == 0.0)
}

/// Min, max and the exact sum of finite `values`, a block at a time (the block's range
/// feeds [`SuperAccumulator::add_block`]).
#[inline(always)]
fn first_pass(values: &[f64]) -> Pass {
    let mut sum = SuperAccumulator::default();
    let mut scratch = [0.0f64; BLOCK];
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for block in values.chunks(BLOCK) {
        let (low, high, smallest, finite) = block_range(block);
        if !finite {
            return Pass {
                min,
                max,
                sum,
                finite,
            };
        }
        min = if low < min { low } else { min };
        max = if high > max { high } else { max };
        let largest = if -low > high { -low } else { high };
        sum.add_block(block, largest, smallest, &mut scratch);
    }
    Pass {
        min,
        max,
        sum,
        finite: true,
    }
}

/// The exact sum of `(x - mean)^2` (each square rounded once) and whether one overflowed.
#[inline(always)]
fn squares_pass(values: &[f64], mean: f64) -> (SuperAccumulator, bool) {
    let mut sum = SuperAccumulator::default();
    let mut squares = [0.0f64; BLOCK];
    let mut scratch = [0.0f64; BLOCK];
    let mut infinite = false;
    for block in values.chunks(BLOCK) {
        let squares = &mut squares[..block.len()];
        for (square, &x) in squares.iter_mut().zip(block) {
            let d = x - mean;
            *square = d * d;
        }
        let (largest, smallest) = magnitudes(squares);
        if largest == f64::INFINITY {
            infinite = true; // the result is infinite: nothing more to add
            break;
        }
        sum.add_block(squares, largest, smallest, &mut scratch);
    }
    (sum, infinite)
}

/// [`first_pass`] compiled for AVX2 where the CPU has it (the same exact result).
fn first_pass_best(values: &[f64]) -> Pass {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(values: &[f64]) -> Pass {
            first_pass(values)
        }
        // SAFETY: AVX2 was detected at run time.
        return unsafe { avx2(values) };
    }
    first_pass(values)
}

/// [`squares_pass`] compiled for AVX2 where the CPU has it (the same exact result).
fn squares_pass_best(values: &[f64], mean: f64) -> (SuperAccumulator, bool) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(values: &[f64], mean: f64) -> (SuperAccumulator, bool) {
            squares_pass(values, mean)
        }
        // SAFETY: AVX2 was detected at run time.
        return unsafe { avx2(values, mean) };
    }
    squares_pass(values, mean)
}

/// One group: `sum` is the correctly rounded sum (`math.fsum`), `mean = sum / n`,
/// `std = sqrt(fsum((x - mean)^2) / n)` with each square rounded once: two passes, both
/// exact sums, so the bits do not depend on order or thread count. None if a value is NaN
/// or infinite (found by the first pass: no separate scan).
fn summarise(values: &[f64]) -> Option<Summary> {
    let n = values.len();
    let count = n as f64;
    let (min, max, sum, squares, infinite);
    if n <= SMALL_GROUP {
        if !all_finite(values) {
            return None;
        }
        let it = values.iter().copied();
        sum = group_sum(it.clone(), n);
        min = it.clone().fold(values[0], |m, x| if x < m { x } else { m });
        max = it.fold(values[0], |m, x| if x > m { x } else { m });
        let mean = sum / count;
        let sq = values.iter().map(|&x| (x - mean) * (x - mean));
        infinite = sq.clone().any(|s| s == f64::INFINITY);
        squares = if infinite {
            f64::INFINITY
        } else {
            group_sum(sq, n)
        };
    } else {
        let pass = if n >= 2 * AGGREGATE_CHUNK {
            values
                .par_chunks(AGGREGATE_CHUNK)
                .map(first_pass_best)
                .reduce_with(|mut a, b| {
                    if b.min < a.min {
                        a.min = b.min;
                    }
                    if b.max > a.max {
                        a.max = b.max;
                    }
                    a.sum.merge(&b.sum);
                    a.finite &= b.finite;
                    a
                })
                .unwrap_or_else(|| first_pass_best(values))
        } else {
            first_pass_best(values)
        };
        if !pass.finite {
            return None;
        }
        (min, max, sum) = (pass.min, pass.max, pass.sum.value());
        let mean = sum / count;
        let (acc, inf) = if n >= 2 * AGGREGATE_CHUNK {
            values
                .par_chunks(AGGREGATE_CHUNK)
                .map(|c| squares_pass_best(c, mean))
                .reduce_with(|(mut a, ia), (b, ib)| {
                    a.merge(&b);
                    (a, ia || ib)
                })
                .unwrap_or_else(|| squares_pass_best(values, mean))
        } else {
            squares_pass_best(values, mean)
        };
        infinite = inf;
        squares = if infinite { f64::INFINITY } else { acc.value() };
    }
    Some(Summary {
        count: n as u64,
        sum,
        mean: sum / count,
        min,
        max,
        std: (squares / count).sqrt(),
    })
}

fn all_finite(values: &[f64]) -> bool {
    values.iter().fold(true, |ok, v| ok & v.is_finite())
}

fn not_finite<T>() -> Result<T, InvalidInput> {
    invalid("values must be finite (no NaN or infinity)")
}

/// The checks [`aggregate`] makes before grouping: values non-empty and finite (scanned
/// in parallel chunks when large).
fn check_values(values: &[f64]) -> Result<(), InvalidInput> {
    if values.is_empty() {
        return invalid("values must not be empty");
    }
    let finite = if values.len() >= 2 * AGGREGATE_CHUNK {
        values.par_chunks(AGGREGATE_CHUNK).all(all_finite)
    } else {
        all_finite(values)
    };
    if !finite {
        return not_finite();
    }
    Ok(())
}

/// The summary of `values` as one group (the one-name case of [`aggregate`]): the same
/// errors, with the finiteness check folded into the first pass.
pub fn aggregate_one(values: &[f64]) -> Result<Summary, InvalidInput> {
    if values.is_empty() {
        return invalid("values must not be empty");
    }
    summarise(values).map_or_else(not_finite, Ok)
}

/// Summaries of `values` grouped by `groups[i]` (ids below `group_count`), keyed in id order.
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
    check_values(values)?;
    if let Some(&g) = groups.iter().find(|&&g| g >= group_count) {
        return invalid(format!("group id {g} out of range"));
    }
    if groups.iter().all(|&g| g == 0) {
        return summarise(values).map_or_else(not_finite, |s| Ok(vec![s]));
    }
    // Counting sort: each group's values contiguous, in input order.
    let mut starts = vec![0usize; group_count + 1];
    for &g in groups {
        starts[g + 1] += 1;
    }
    for g in 0..group_count {
        starts[g + 1] += starts[g];
    }
    let mut next = starts.clone();
    let mut gathered = vec![0.0; values.len()];
    for (&g, &x) in groups.iter().zip(values) {
        gathered[next[g]] = x;
        next[g] += 1;
    }
    (0..group_count)
        .into_par_iter()
        .filter(|&g| starts[g + 1] > starts[g])
        .map(|g| summarise(&gathered[starts[g]..starts[g + 1]]).map_or_else(not_finite, Ok))
        .collect()
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
    fn round_i128_matches_the_cast() {
        let mut state = 99u64;
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let bits = (state >> 58) as u32 + 60;
            let n = ((state as i128) << 64 | state.rotate_left(17) as i128) >> (128 - bits);
            assert_eq!(round_i128(n), n as f64, "{n}");
        }
        for n in [
            0i128,
            1,
            -1,
            i128::MAX,
            i128::MIN + 1,
            1 << 63,
            (1 << 64) + 1,
        ] {
            assert_eq!(round_i128(n), n as f64);
        }
        // Ties: 2^54 + 2 (exactly half-way, to even) and 2^54 + 2 + 2^-.. sticky.
        let tie = (1i128 << 70) + (1 << 17);
        assert_eq!(round_i128(tie), tie as f64);
        assert_eq!(round_i128(tie + 1), (tie + 1) as f64);
    }

    #[test]
    fn fixed_point_and_partials_agree() {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let values: Vec<f64> = (0..5000).map(|_| (next() - 0.3) * 100.0).collect();
        for window in [1, 3, 100, 6000] {
            let scan = Scan::of(&values);
            assert!(fixed_point_unit(&scan, window).is_some());
            let mut partials = vec![0.0; values.len()];
            rolling_chunk(&values, window, 0, &mut partials).unwrap();
            assert_eq!(rolling_avg(&values, window).unwrap(), partials);
        }
        // Too wide for i128: the partials path, still exact.
        let wide = [1e200, 1e-200, -1e200, 3.0];
        assert!(fixed_point_unit(&Scan::of(&wide), 2).is_none());
        assert_eq!(
            rolling_avg(&wide, 2).unwrap()[2],
            1e-200 / 2.0 - 1e200 / 2.0
        );
        assert_eq!(rolling_avg(&wide, 2).unwrap()[3], (3.0 - 1e200) / 2.0);
        assert_eq!(rolling_avg(&[-0.0], 1).unwrap()[0].to_bits(), 0);
    }

    fn lcg_values(seed: u64, n: usize, scale: f64, offset: f64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64 - offset) * scale
            })
            .collect()
    }

    #[test]
    fn split_kernel_equals_the_partials() {
        // Random data of several ranges, windows around the block and chunk sizes, and
        // inputs long enough for the parallel chunks: the same bits as Shewchuk's partials.
        let n = 2 * SPLIT_CHUNK * 4 + 1234;
        for (seed, scale, offset) in [(1, 100.0, 0.0), (2, 1e-3, 0.5), (3, 1e9, 0.3)] {
            let mut values = lcg_values(seed, n, scale, offset);
            values[17] = 0.0;
            values[40] = -0.0;
            for window in [1, 2, 3, 5, 255, 256, 257, 1000, 5000, n + 10] {
                let scan = Scan::of(&values);
                if window <= 5000 {
                    assert!(split_unit(&scan, window, n).is_some(), "{seed} {window}");
                }
                let mut partials = vec![0.0; n];
                rolling_chunk(&values, window, 0, &mut partials).unwrap();
                let got = rolling_avg(&values, window).unwrap();
                let same = got
                    .iter()
                    .zip(&partials)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "seed {seed} window {window}");
            }
        }
    }

    #[test]
    fn split_kernel_rounds_halfway_sums_like_fsum() {
        // Window sums on a tie: 2^53 + 1 rounds to even, 2^53 + 3 up; cancellation to 0.
        let half = 4503599627370496.0; // 2^52: sums of two such need 54 bits
        let values = [
            half + 1.0,
            half,
            half + 2.0,
            half + 1.0,
            -(half + 1.0),
            half + 1.0,
            half + 3.0,
            -(half + 3.0),
        ];
        let scan = Scan::of(&values);
        assert!(split_unit(&scan, 2, values.len()).is_some());
        let mut partials = vec![0.0; values.len()];
        rolling_chunk(&values, 2, 0, &mut partials).unwrap();
        let got = rolling_avg(&values, 2).unwrap();
        for (a, b) in got.iter().zip(&partials) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert_eq!(got[1], (2.0 * half) / 2.0); // 2^53 + 1: the tie goes to even, down
        assert_eq!(got[3], (2.0 * half + 4.0) / 2.0); // 2^53 + 3: the tie goes up
        assert_eq!(got[7].to_bits(), 0.0f64.to_bits()); // x - x is +0, as fsum gives
                                                        // Subnormal values: exact sums in the subnormal range.
        let tiny: Vec<f64> = (1..600u64)
            .map(|k| f64::from_bits(k * 7919 % 4096))
            .collect();
        let mut partials = vec![0.0; tiny.len()];
        rolling_chunk(&tiny, 9, 0, &mut partials).unwrap();
        assert_eq!(rolling_avg(&tiny, 9).unwrap(), partials);
        // Too wide a span for the split: it declines.
        assert!(split_unit(&Scan::of(&[1e30, 1e-30]), 2, 2).is_none());
        // Near the top of the range the split sums would overflow: it declines, and the
        // window of one is each value itself (found by the parity example).
        let big = [8.988465674311579e307, -8.988465674311579e307];
        assert!(split_unit(&Scan::of(&big), 1, 2).is_none());
        assert_eq!(rolling_avg(&big, 1).unwrap(), big.to_vec());
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
