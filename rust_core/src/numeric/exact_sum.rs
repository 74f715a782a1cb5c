//! Exact sums of f64, correctly rounded once (round half to even): what `math.fsum` returns.
//!
//! A correctly rounded sum does not depend on the order of the terms, so it can be split
//! across threads and SIMD-free scatter accumulators and still give the same bits as the
//! Python reference's `math.fsum`.
//!
//! [`SuperAccumulator`] keeps the sum as a fixed-point number covering the whole f64 range:
//! 32-bit digits (chunks) held in `i64` cells, so each addition is two integer adds into the
//! cells its mantissa spans and carries are propagated only every [`CARRY_EVERY`] additions
//! (the cells have 31 spare bits). Rounding it to f64 reads the top 96 bits plus a sticky bit.
//! Long runs of values go in by [`SuperAccumulator::add_block`]: split into a few levels
//! of parts whose plain f64 sums are exact, so the per-value work is a handful of
//! vectorised float operations and the cells see a few dozen adds per thousand values.

/// Cells: value `sum(cell[i] * 2^(32 i - 1074))`. Cell 63 holds the top digit of the largest
/// finite f64's mantissa; the cells above absorb carries of up to 2^64 terms.
const CELLS: usize = 72;
/// The first cell whose digit is worth 2^1024 or more: any nonzero digit there overflows.
const OVERFLOW_CELL: usize = 66;
/// A term adds less than 2^53 to a cell, so 1024 terms cannot overflow an i64 cell that
/// starts normalised (below 2^32).
const CARRY_EVERY: u32 = 1024;

/// An exact running sum of finite f64 values over the whole exponent range.
#[derive(Clone)]
pub struct SuperAccumulator {
    cells: [i64; CELLS],
    pending: u32,
}

impl Default for SuperAccumulator {
    fn default() -> Self {
        Self {
            cells: [0; CELLS],
            pending: 0,
        }
    }
}

impl SuperAccumulator {
    /// Adds a finite `x` exactly (an infinite or NaN `x` is the caller's error to rule out).
    #[inline(always)]
    pub fn add(&mut self, x: f64) {
        let bits = x.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as u32;
        let fraction = bits & ((1u64 << 52) - 1);
        // value = mantissa * 2^(position - 1074), subnormals included.
        let (mantissa, position) = if biased == 0 {
            (fraction, 0)
        } else {
            (fraction | (1u64 << 52), biased - 1)
        };
        let cell = ((position >> 5) as usize).min(CELLS - 2);
        let shift = position & 31;
        let low = ((mantissa << shift) & 0xffff_ffff) as i64;
        let high = (mantissa >> (32 - shift)) as i64;
        // Branch-free sign: negate both digits when the sign bit is set.
        let negative = (bits as i64) >> 63;
        self.cells[cell] += (low ^ negative) - negative;
        self.cells[cell + 1] += (high ^ negative) - negative;
        self.pending += 1;
        if self.pending == CARRY_EVERY {
            self.normalise();
        }
    }

    /// Propagates carries: every cell but the top one ends in `[0, 2^32)`.
    fn normalise(&mut self) {
        for i in 0..CELLS - 1 {
            let carry = self.cells[i] >> 32;
            self.cells[i] &= 0xffff_ffff;
            self.cells[i + 1] += carry;
        }
        self.pending = 0;
    }

    /// Adds another accumulator's sum exactly.
    pub fn merge(&mut self, other: &SuperAccumulator) {
        self.normalise();
        let mut other = other.clone();
        other.normalise();
        for (a, b) in self.cells.iter_mut().zip(other.cells.iter()) {
            *a += b;
        }
        self.normalise();
    }

    /// The exact sum correctly rounded to f64 (half to even); ±infinity if it overflows.
    pub fn value(&self) -> f64 {
        let mut digits = self.clone();
        digits.normalise();
        let negative = digits.cells[CELLS - 1] < 0;
        if negative {
            for cell in digits.cells.iter_mut() {
                *cell = -*cell;
            }
            digits.normalise();
        }
        let sign = if negative { 1u64 << 63 } else { 0 };
        let Some(top) = digits.cells.iter().rposition(|&c| c != 0) else {
            return 0.0;
        };
        if top >= OVERFLOW_CELL {
            return f64::from_bits(sign | f64::INFINITY.to_bits());
        }
        let top = top.max(2);
        let c = &digits.cells;
        let wide = ((c[top] as u128) << 64) | ((c[top - 1] as u128) << 32) | (c[top - 2] as u128);
        let length = 128 - wide.leading_zeros();
        if length <= 53 {
            // Only when top == 2 (nothing below): wide * 2^-1074 is representable exactly.
            let magnitude = (wide as u64 as f64) * f64::from_bits(1);
            return f64::from_bits(sign | magnitude.to_bits());
        }
        let sticky = c[..top - 2].iter().any(|&d| d != 0);
        let mut shift = length - 53;
        let mut mantissa = (wide >> shift) as u64;
        let rest = wide & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        if rest > half || (rest == half && (sticky || mantissa & 1 == 1)) {
            mantissa += 1;
            if mantissa == 1u64 << 53 {
                mantissa >>= 1;
                shift += 1;
            }
        }
        // value = mantissa * 2^(shift + 32 (top - 2) - 1074), mantissa in [2^52, 2^53).
        let exponent = shift as i64 + 32 * (top as i64 - 2) - 1074 + 52 + 1023;
        if exponent >= 2047 {
            return f64::from_bits(sign | f64::INFINITY.to_bits());
        }
        f64::from_bits(sign | ((exponent as u64) << 52) | (mantissa & ((1u64 << 52) - 1)))
    }
}

/// Values per block of [`SuperAccumulator::add_block`]: eight lanes of 128.
pub const BLOCK: usize = 1024;
const LANES: usize = 8;
/// Bits one split level takes: its parts are below 2^45 of its units, so a lane's 128 parts
/// (135 with a tail) sum below 2^53 units: exactly, in plain f64 adds.
const LEVEL_BITS: i32 = 45;
/// Rounds to the nearest integer by adding and subtracting 1.5 * 2^52 (exact for |t| <= 2^51).
const ROUND_TO_INTEGER: f64 = 6_755_399_441_055_744.0;

/// `2^e` for `e` in the normal range `[-1022, 1023]`.
#[inline(always)]
fn pow2(e: i32) -> f64 {
    f64::from_bits(((1023 + e) as u64) << 52)
}

/// `v` rounded to a multiple of `unit = 1 / scale` (both powers of two).
#[inline(always)]
fn part(v: f64, scale: f64, unit: f64) -> f64 {
    ((v * scale + ROUND_TO_INTEGER) - ROUND_TO_INTEGER) * unit
}

/// `(largest |v|, smallest nonzero |v|)` of `block` (infinity when all are 0), in lanes
/// of selects that vectorise.
#[inline(always)]
pub fn magnitudes(block: &[f64]) -> (f64, f64) {
    let mut big = [0.0f64; LANES];
    let mut small = [f64::INFINITY; LANES];
    let (chunks, tail) = block.as_chunks::<LANES>();
    for chunk in chunks {
        for l in 0..LANES {
            let a = chunk[l].abs();
            big[l] = if a > big[l] { a } else { big[l] };
            let nonzero = if a == 0.0 { f64::INFINITY } else { a };
            small[l] = if nonzero < small[l] {
                nonzero
            } else {
                small[l]
            };
        }
    }
    for &x in tail {
        let a = x.abs();
        big[0] = if a > big[0] { a } else { big[0] };
        let nonzero = if a == 0.0 { f64::INFINITY } else { a };
        small[0] = if nonzero < small[0] {
            nonzero
        } else {
            small[0]
        };
    }
    let largest = big.iter().fold(0.0f64, |m, &x| if x > m { x } else { m });
    let smallest = small
        .iter()
        .fold(f64::INFINITY, |m, &x| if x < m { x } else { m });
    (largest, smallest)
}

/// One split level: `out[i] = x[i] - part(x[i])` (exact), and the parts' sums by lane.
#[inline(always)]
fn split_level(x: &[f64], out: &mut [f64], scale: f64, unit: f64) -> [f64; LANES] {
    let mut lanes = [0.0f64; LANES];
    let (src, src_tail) = x.as_chunks::<LANES>();
    let (dst, dst_tail) = out.as_chunks_mut::<LANES>();
    for (d, s) in dst.iter_mut().zip(src) {
        for l in 0..LANES {
            let p = part(s[l], scale, unit);
            lanes[l] += p;
            d[l] = s[l] - p;
        }
    }
    for (d, &s) in dst_tail.iter_mut().zip(src_tail) {
        let p = part(s, scale, unit);
        lanes[0] += p;
        *d = s - p;
    }
    lanes
}

/// [`split_level`] with the remainders written over the input.
#[inline(always)]
fn split_level_in_place(x: &mut [f64], scale: f64, unit: f64) -> [f64; LANES] {
    let mut lanes = [0.0f64; LANES];
    let (chunks, tail) = x.as_chunks_mut::<LANES>();
    for d in chunks.iter_mut() {
        for l in 0..LANES {
            let p = part(d[l], scale, unit);
            lanes[l] += p;
            d[l] -= p;
        }
    }
    for d in tail.iter_mut() {
        let p = part(*d, scale, unit);
        lanes[0] += p;
        *d -= p;
    }
    lanes
}

impl SuperAccumulator {
    /// Adds the finite values of `block` (at most [`BLOCK`]) exactly. `largest` and
    /// `smallest` are its [`magnitudes`]; `scratch` holds at least `block.len()` values.
    ///
    /// A few plain f64 operations per value instead of an add into the cells per value: the
    /// values are split in levels. Level `k` rounds each remainder to a multiple of `2^m`
    /// (the part; remainders start as the values, `m = top - 45` where every |value| is
    /// below `2^top`) and sums the parts in eight lanes, exactly (above). Each remainder
    /// `r = x - part` is exact (`2^m` exceeds the last bit of `x`, so both are multiples of
    /// it and |r| <= |x|) and |r| <= `2^(m - 1)`, so the next level takes `m - 46`. Once
    /// `2^m` is at or below the last bit the smallest value can have, every remainder is a
    /// multiple of that bit below it: zero, and the block is done (two or three levels for
    /// values within a few thousand of each other). The lane sums go into the cells. Blocks
    /// reaching the ends of the exponent range (where `2^m` would not be a normal float)
    /// are added value by value.
    #[inline(always)]
    pub fn add_block(&mut self, block: &[f64], largest: f64, smallest: f64, scratch: &mut [f64]) {
        if largest == 0.0 {
            return;
        }
        let top_biased = ((largest.to_bits() >> 52) & 0x7ff) as i32;
        let low_biased = ((smallest.to_bits() >> 52) & 0x7ff) as i32;
        // largest < 2^top; every nonzero value is a multiple of 2^low.
        let (top, low) = (top_biased - 1022, low_biased - 1075);
        if top > 1000 || low < -976 || low_biased == 0 || block.len() > scratch.len() {
            for &x in block {
                self.add(x);
            }
            return;
        }
        let rest = &mut scratch[..block.len()];
        let mut m = top - LEVEL_BITS;
        for lane in split_level(block, rest, pow2(-m), pow2(m)) {
            self.add(lane);
        }
        while m > low {
            m -= LEVEL_BITS + 1;
            for lane in split_level_in_place(rest, pow2(-m), pow2(m)) {
                self.add(lane);
            }
        }
    }

    /// Adds the finite `values` exactly, a [`BLOCK`] at a time.
    pub fn add_slice(&mut self, values: &[f64]) {
        let mut scratch = [0.0f64; BLOCK];
        for block in values.chunks(BLOCK) {
            let (largest, smallest) = magnitudes(block);
            self.add_block(block, largest, smallest, &mut scratch);
        }
    }
}

/// The correctly rounded sum of finite `values` (±infinity if it overflows), as `math.fsum`.
pub fn exact_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut acc = SuperAccumulator::default();
    for x in values {
        acc.add(x);
    }
    acc.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_like_fsum() {
        assert_eq!(exact_sum([1e100, 1.0, -1e100, 1e-16]), 1.0);
        assert_eq!(exact_sum([1e-16, 1.0, 1e16]), 10000000000000002.0);
        assert_eq!(exact_sum([0.1; 10]), 1.0);
        assert_eq!(exact_sum([]), 0.0);
        assert_eq!(exact_sum([-0.0]).to_bits(), 0.0f64.to_bits());
        assert_eq!(exact_sum([-1.5, -2.25]), -3.75);
        assert_eq!(exact_sum([f64::MAX, f64::MAX]), f64::INFINITY);
        assert_eq!(exact_sum([-f64::MAX, -f64::MAX]), f64::NEG_INFINITY);
        assert_eq!(exact_sum([f64::MAX, f64::MAX, -f64::MAX]), f64::MAX);
        let tiny = f64::from_bits(1);
        assert_eq!(exact_sum([tiny, tiny, tiny]), f64::from_bits(3));
        assert_eq!(
            exact_sum([f64::MIN_POSITIVE, -tiny]).to_bits(),
            f64::MIN_POSITIVE.to_bits() - 1
        );
        // Half-way cases: 2^53 + 1 ties to even (down), 2^53 + 3 ties up.
        let big = 9007199254740992.0;
        assert_eq!(exact_sum([big, 1.0]), big);
        assert_eq!(exact_sum([big, 3.0]), big + 4.0);
        assert_eq!(exact_sum([big, 1.0, 1e-300]), big + 2.0);
    }

    /// Values of random sign and mantissa whose exponents spread over `spread` binades
    /// around `2^centre` (clamped to the finite range), zeros and subnormals included.
    fn spread_values(seed: u64, n: usize, centre: i32, spread: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if i % 97 == 0 {
                    return 0.0;
                }
                let e = (centre + (state >> 40) as i32 % spread as i32 - spread as i32 / 2)
                    .clamp(-1074, 1023);
                let mantissa = 1.0 + (state >> 12) as f64 / (1u64 << 52) as f64;
                let magnitude = if e < -1022 {
                    f64::from_bits(1u64 << (e + 1074)) * mantissa.floor()
                } else {
                    mantissa * f64::from_bits(((1023 + e) as u64) << 52)
                };
                let v = if e == 1023 {
                    magnitude.min(f64::MAX)
                } else {
                    magnitude
                };
                if state & 1 == 1 {
                    -v
                } else {
                    v
                }
            })
            .collect()
    }

    #[test]
    fn blocks_add_exactly_what_values_add_one_by_one() {
        let mut cases: Vec<Vec<f64>> = vec![
            vec![],
            vec![0.0, -0.0],
            vec![1e300, -1e300, 1e-300],
            vec![f64::MAX, f64::MAX, -f64::MAX],
            vec![f64::from_bits(1); 3000],
            vec![0.1; 5000],
            (0..3000).map(|i| (i as f64) * 0.37 - 555.5).collect(),
        ];
        let mut seed = 1;
        for centre in [
            -1070, -1000, -970, -600, -60, 0, 8, 40, 600, 960, 1000, 1020,
        ] {
            for spread in [1, 20, 60, 130, 400] {
                seed += 1;
                cases.push(spread_values(seed, 2500, centre, spread));
            }
        }
        for values in &cases {
            let mut one_by_one = SuperAccumulator::default();
            for &v in values {
                one_by_one.add(v);
            }
            let mut blocks = SuperAccumulator::default();
            blocks.add_slice(values);
            assert_eq!(
                blocks.value().to_bits(),
                one_by_one.value().to_bits(),
                "{:?}",
                &values[..values.len().min(4)]
            );
        }
    }

    #[test]
    fn many_terms_carry_correctly() {
        let values: Vec<f64> = (0..100_000).map(|i| (i as f64) * 0.37 - 12345.5).collect();
        let mut halves = SuperAccumulator::default();
        let mut other = SuperAccumulator::default();
        for (i, &v) in values.iter().enumerate() {
            if i % 2 == 0 {
                halves.add(v)
            } else {
                other.add(v)
            }
        }
        halves.merge(&other);
        assert_eq!(halves.value(), exact_sum(values.iter().copied()));
        let mut exact = crate::numeric::metrics::ExactSum::default();
        for &v in &values {
            exact.add(v).unwrap();
        }
        assert_eq!(exact_sum(values.iter().copied()), exact.value());
    }
}
