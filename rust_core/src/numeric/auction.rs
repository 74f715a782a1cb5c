//! Swarm/Auction hot path: VCG prices for a multi-slot auction with unit-demand bidders.
//!
//! The welfare-maximising assignment is a min-cost assignment with slots as rows and bidders
//! as columns (cost = -value), solved by shortest augmenting paths with dual potentials
//! (Jonker-Volgenant in Crouse's rectangular form, as `scipy.optimize.linear_sum_assignment`).
//! Each winner's price needs the best welfare without it: removing its column keeps the
//! duals feasible and the rest optimal, so that is one augmenting path from the freed slot
//! on a copy of the solved state; the winners are priced in parallel. With more than
//! `slots + 1` bidders only the union of each slot's `slots + 1` best can matter, so the
//! solve runs on those columns alone (see `candidates`). This is the same code, operation for
//! operation, as `pyagent.auction_core`, so ties fall the same way.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::numeric::checks::{invalid, InvalidInput};

/// Largest accepted value (as `pyagent.auction_core.MAX_VALUE`): dual potentials and path
/// costs are sums of at most a few times `slots` values, so none can overflow below it.
pub const MAX_VALUE: f64 = 1e150;

/// Largest solver matrix, `slots * max(bidders, slots + 1)` cells
/// (`pyagent.auction_core.MAX_CELLS`): 32 MiB of costs, checked before anything is allocated.
pub const MAX_CELLS: usize = 1 << 22;

/// Below this many slots x bidders the winners are priced on one thread.
const PARALLEL_MIN: usize = 1 << 14;

/// The assignment, prices and welfare of one auction.
#[derive(Debug, Clone, PartialEq)]
pub struct VcgOutcome {
    /// Slot won by each bidder, or -1.
    pub assignment: Vec<i64>,
    /// What each bidder pays (0 for a loser).
    pub prices: Vec<f64>,
    /// Total value of the assignment.
    pub welfare: f64,
}

#[derive(Clone)]
struct Solver<'a> {
    /// Row-major `rows x cols` costs.
    cost: &'a [f64],
    cols: usize,
    u: Vec<f64>,
    v: Vec<f64>,
    col4row: Vec<usize>,
    row4col: Vec<usize>,
}

const FREE: usize = usize::MAX;

impl<'a> Solver<'a> {
    fn new(cost: &'a [f64], rows: usize, cols: usize) -> Self {
        Solver {
            cost,
            cols,
            u: vec![0.0; rows],
            v: vec![0.0; cols],
            col4row: vec![FREE; rows],
            row4col: vec![FREE; cols],
        }
    }

    /// Assigns the free row `start` along a shortest augmenting path that avoids column
    /// `banned` (`FREE` for none) and updates the duals. Err only if no column is left,
    /// which the callers rule out (there are always more columns than rows).
    fn augment(&mut self, start: usize, banned: usize) -> Result<(), InvalidInput> {
        let cols = self.cols;
        let mut remaining: Vec<usize> = (0..cols).rev().filter(|&c| c != banned).collect();
        let mut shortest = vec![f64::INFINITY; cols];
        let mut path = vec![FREE; cols];
        let mut scanned_rows: Vec<usize> = Vec::new();
        let mut scanned_cols: Vec<usize> = Vec::new();
        let mut min_val = 0.0;
        let mut row = start;
        let sink = loop {
            scanned_rows.push(row);
            let cost = &self.cost[row * cols..(row + 1) * cols];
            let base = min_val - self.u[row];
            let mut lowest = f64::INFINITY;
            let mut found = FREE;
            for (k, &col) in remaining.iter().enumerate() {
                let reduced = base + cost[col] - self.v[col];
                if reduced < shortest[col] {
                    path[col] = row;
                    shortest[col] = reduced;
                }
                let s = shortest[col];
                if s < lowest || (s == lowest && self.row4col[col] == FREE) {
                    lowest = s;
                    found = k;
                }
            }
            if found == FREE {
                return invalid("no column left to assign");
            }
            min_val = lowest;
            let col = remaining.swap_remove(found);
            scanned_cols.push(col);
            if self.row4col[col] == FREE {
                break col;
            }
            row = self.row4col[col];
        };
        self.u[start] += min_val;
        for &r in &scanned_rows[1..] {
            self.u[r] += min_val - shortest[self.col4row[r]];
        }
        for &c in &scanned_cols {
            self.v[c] -= min_val - shortest[c];
        }
        let mut col = sink;
        loop {
            let r = path[col];
            if r == FREE {
                return invalid("augmenting path lost (non-finite costs)");
            }
            self.row4col[col] = r;
            std::mem::swap(&mut self.col4row[r], &mut col);
            if r == start {
                break;
            }
        }
        Ok(())
    }

    /// Total value of the assignment (cost negated back), summed in row order.
    fn welfare(&self, values: &[f64], slots: usize, bidders: usize) -> f64 {
        let mut total = 0.0;
        for (slot, &column) in self.col4row.iter().enumerate() {
            if column < bidders {
                total += values[column * slots + slot];
            }
        }
        total
    }
}

/// Err unless `values` (row-major `bidders x slots`) is non-empty, finite and >= 0.
pub fn check_values(values: &[f64], bidders: usize, slots: usize) -> Result<(), InvalidInput> {
    if bidders == 0 || slots == 0 {
        return invalid(format!(
            "values must have at least one bidder and one slot, got ({bidders}, {slots})"
        ));
    }
    let cols = bidders.max(slots.saturating_add(1));
    if slots.saturating_mul(cols) > MAX_CELLS {
        return invalid(format!(
            "values of shape ({bidders}, {slots}) need a {slots} x {cols} solver matrix, \
             above MAX_CELLS = {MAX_CELLS}"
        ));
    }
    if values.len() != bidders.saturating_mul(slots) {
        return invalid("values length differs from bidders x slots");
    }
    if !values.iter().all(|v| v.is_finite()) {
        return invalid("values must be finite (no NaN or infinity)");
    }
    if values.iter().any(|&v| v < 0.0) {
        return invalid("values must be >= 0");
    }
    if values.iter().any(|&v| v > MAX_VALUE) {
        return invalid(format!("values must be <= {MAX_VALUE:e}"));
    }
    Ok(())
}

/// A kept bidder of one slot; the heap's greatest is the one to drop first.
#[derive(Clone, Copy)]
struct Ranked {
    value: f64,
    bidder: usize,
}

impl Ord for Ranked {
    /// Worse first: a lower value, then (equal values, -0.0 equal to 0.0) the higher index.
    /// Values are finite (checked), so `partial_cmp` always answers.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .value
            .partial_cmp(&self.value)
            .unwrap_or(Ordering::Equal)
            .then(self.bidder.cmp(&other.bidder))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The bidders that can matter, ascending: the union of each slot's `slots + 1` best (value
/// descending, the lower index first among equal values), as
/// `pyagent.auction_core._candidates`. In an optimal assignment a bidder holding slot `s`
/// outside `s`'s best `slots` can swap with one of those that holds no slot at no loss, and
/// one more per slot keeps that true without any one winner (for its price). `None` when
/// that is every bidder. One pass over the rows in memory order, a heap of `slots + 1` per
/// slot: O(cells * log slots) at worst, one comparison per cell once the heaps are full.
fn candidates(values: &[f64], bidders: usize, slots: usize) -> Option<Vec<usize>> {
    let keep = slots + 1;
    if bidders <= keep {
        return None;
    }
    let mut heaps: Vec<BinaryHeap<Ranked>> = (0..slots)
        .map(|_| BinaryHeap::with_capacity(keep))
        .collect();
    for (bidder, row) in values.chunks_exact(slots).enumerate() {
        for (heap, &value) in heaps.iter_mut().zip(row) {
            let entry = Ranked { value, bidder };
            if heap.len() < keep {
                heap.push(entry);
            } else if let Some(mut worst) = heap.peek_mut() {
                // A later bidder beats a kept one only by a strictly higher value.
                if value > worst.value {
                    *worst = entry;
                }
            }
        }
    }
    let mut chosen = vec![false; bidders];
    for heap in &heaps {
        for entry in heap.iter() {
            chosen[entry.bidder] = true;
        }
    }
    Some((0..bidders).filter(|&b| chosen[b]).collect())
}

/// The welfare-maximising assignment of `slots` slots to `bidders` unit-demand bidders and
/// each winner's VCG price. `values` is row-major `bidders x slots`, finite and >= 0.
pub fn vcg_prices(
    values: &[f64],
    bidders: usize,
    slots: usize,
) -> Result<VcgOutcome, InvalidInput> {
    check_values(values, bidders, slots)?;
    let Some(chosen) = candidates(values, bidders, slots) else {
        return solve(values, bidders, slots);
    };
    let reduced: Vec<f64> = chosen
        .iter()
        .flat_map(|&b| &values[b * slots..(b + 1) * slots])
        .copied()
        .collect();
    let solved = solve(&reduced, chosen.len(), slots)?;
    let mut outcome = VcgOutcome {
        assignment: vec![-1; bidders],
        prices: vec![0.0; bidders],
        welfare: solved.welfare,
    };
    for (k, &bidder) in chosen.iter().enumerate() {
        outcome.assignment[bidder] = solved.assignment[k];
        outcome.prices[bidder] = solved.prices[k];
    }
    Ok(outcome)
}

/// `vcg_prices` on checked values, every bidder a column.
fn solve(values: &[f64], bidders: usize, slots: usize) -> Result<VcgOutcome, InvalidInput> {
    let placeholders = (slots + 1).saturating_sub(bidders);
    let cols = bidders + placeholders;
    // Rows are slots, columns bidders then zero-cost placeholders; cost = -value.
    let mut cost = vec![0.0; slots * cols];
    for (b, row) in values.chunks_exact(slots).enumerate() {
        for (s, &value) in row.iter().enumerate() {
            cost[s * cols + b] = -value;
        }
    }
    let mut solver = Solver::new(&cost, slots, cols);
    for row in 0..slots {
        solver.augment(row, FREE)?;
    }
    let welfare = solver.welfare(values, slots, bidders);
    let winners: Vec<(usize, usize)> = solver
        .col4row
        .iter()
        .enumerate()
        .filter(|&(_, &column)| column < bidders)
        .map(|(slot, &column)| (slot, column))
        .collect();
    let price_of = |&(slot, column): &(usize, usize)| -> Result<f64, InvalidInput> {
        let value = values[column * slots + slot];
        let mut without = solver.clone();
        without.row4col[column] = FREE;
        without.col4row[slot] = FREE;
        without.augment(slot, column)?;
        let others_without = without.welfare(values, slots, bidders);
        let price = others_without - (welfare - value);
        Ok(price.max(0.0).min(value))
    };
    let prices: Vec<f64> = if slots * cols >= PARALLEL_MIN {
        winners.par_iter().map(price_of).collect::<Result<_, _>>()?
    } else {
        winners.iter().map(price_of).collect::<Result<_, _>>()?
    };
    let mut outcome = VcgOutcome {
        assignment: vec![-1; bidders],
        prices: vec![0.0; bidders],
        welfare,
    };
    for (&(slot, column), price) in winners.iter().zip(prices) {
        outcome.assignment[column] = slot as i64;
        outcome.prices[column] = price;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Best welfare by trying every assignment (slots take a distinct bidder or stay empty).
    fn brute(values: &[f64], bidders: usize, slots: usize) -> f64 {
        fn go(v: &[f64], b: usize, m: usize, s: usize, used: &mut Vec<bool>) -> f64 {
            if s == m {
                return 0.0;
            }
            let mut best = go(v, b, m, s + 1, used);
            for i in 0..b {
                if !used[i] {
                    used[i] = true;
                    best = best.max(v[i * m + s] + go(v, b, m, s + 1, used));
                    used[i] = false;
                }
            }
            best
        }
        go(values, bidders, slots, 0, &mut vec![false; bidders])
    }

    #[test]
    fn matches_brute_force_welfare_and_prices() {
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 10) as f64
        };
        // Up to 8 bidders: more than slots + 1 for every slot count, so the candidate
        // reduction is on (values 0..10 make ties at its boundary common).
        for bidders in 1..9 {
            for slots in 1..4 {
                let values: Vec<f64> = (0..bidders * slots).map(|_| next()).collect();
                let got = vcg_prices(&values, bidders, slots).unwrap();
                let best = brute(&values, bidders, slots);
                assert!((got.welfare - best).abs() < 1e-9);
                for b in 0..bidders {
                    if got.assignment[b] < 0 {
                        assert_eq!(got.prices[b], 0.0);
                        continue;
                    }
                    let rest: Vec<f64> = (0..bidders)
                        .filter(|&i| i != b)
                        .flat_map(|i| values[i * slots..(i + 1) * slots].to_vec())
                        .collect();
                    let without = brute(&rest, bidders - 1, slots);
                    let slot = got.assignment[b] as usize;
                    let expected = without - (best - values[b * slots + slot]);
                    assert!((got.prices[b] - expected).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn single_slot_is_a_second_price_auction() {
        let got = vcg_prices(&[3.0, 7.0, 5.0], 3, 1).unwrap();
        assert_eq!(got.assignment, vec![-1, 0, -1]);
        assert_eq!(got.prices, vec![0.0, 5.0, 0.0]);
        assert_eq!(got.welfare, 7.0);
    }

    #[test]
    fn candidates_are_each_slots_best_lower_index_first_on_ties() {
        // 1 slot keeps 2: of five equal bids, bidders 0 and 1; -0.0 ties with 0.0.
        assert_eq!(candidates(&[1.0; 5], 5, 1), Some(vec![0, 1]));
        assert_eq!(candidates(&[0.0, -0.0, 0.0, 2.0], 4, 1), Some(vec![0, 3]));
        // 2 slots keep 3 each: slot 0's best are 4, 0, 1 (4 first); slot 1's are 3, 2, 0.
        let values = [5.0, 1.0, 5.0, 0.0, 0.0, 2.0, 0.0, 9.0, 6.0, 0.0];
        assert_eq!(candidates(&values, 5, 2), Some(vec![0, 1, 2, 3, 4]));
        let values = [5.0, 1.0, 5.0, 0.0, 0.0, 2.0, 0.0, 9.0, 6.0, 0.0, 1.0, 1.0];
        assert_eq!(candidates(&values, 6, 2), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(candidates(&[1.0; 3], 3, 1), Some(vec![0, 1]));
        assert_eq!(candidates(&[1.0; 2], 2, 1), None);
        // The winner of five equal bids is bidder 0, paying the next bid.
        let got = vcg_prices(&[1.0; 5], 5, 1).unwrap();
        assert_eq!(got.assignment, vec![0, -1, -1, -1, -1]);
        assert_eq!(got.prices, vec![1.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(vcg_prices(&[], 0, 2).is_err());
        assert!(vcg_prices(&[1.0, f64::NAN], 1, 2).is_err());
        assert!(vcg_prices(&[1.0, -1.0], 1, 2).is_err());
        assert!(vcg_prices(&[1.0], 1, 2).is_err());
        assert!(vcg_prices(&[1e200, 1.0], 1, 2).is_err());
        // The solver matrix is slots x max(bidders, slots + 1): refused above MAX_CELLS
        // before anything of that size exists (the values are not even read).
        assert!(vcg_prices(&[], 1, 1_000_000).is_err());
        assert!(vcg_prices(&[], 2, 40_000).is_err());
        let slots = 2047; // 2047 x 2048 cells, just under
        assert!(slots * (slots + 1) <= MAX_CELLS && (slots + 1) * (slots + 2) > MAX_CELLS);
        assert!(vcg_prices(&[], 1, slots + 1).is_err());
    }

    #[test]
    fn large_auction_prices_in_parallel() {
        let (bidders, slots) = (500, 40);
        let values: Vec<f64> = (0..bidders * slots)
            .map(|i| ((i * 7919) % 1000) as f64 / 10.0)
            .collect();
        let got = vcg_prices(&values, bidders, slots).unwrap();
        let won = got.assignment.iter().filter(|&&s| s >= 0).count();
        assert_eq!(won, slots);
        for (b, &slot) in got.assignment.iter().enumerate() {
            if slot >= 0 {
                let value = values[b * slots + slot as usize];
                assert!(got.prices[b] >= 0.0 && got.prices[b] <= value);
            }
        }
    }
}
