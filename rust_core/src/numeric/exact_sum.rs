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
