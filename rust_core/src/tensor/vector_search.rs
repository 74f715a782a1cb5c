//! Common/Memory hot path: exact top-k vector search (cosine, dot, squared L2).
//!
//! One pass over the matrix, parallel over blocks of rows: each block computes its rows'
//! squared norms (when the metric needs them) while the block is in cache, the register-
//! tiled dot products against every query ([`crate::tensor::simd::dots_nt`]), and offers each score
//! to that thread's bounded heap for the query (a candidate that cannot beat the heap's
//! worst is one comparison). The per-thread heaps are merged at the end. Ties go to the
//! lower row index everywhere, so the result does not depend on the thread split.
//!
//! The matrix is not scanned for NaN up front: a non-finite value in a row always makes that
//! row's dot product non-finite (NaN or an infinity, for any finite query), so only rows with
//! a non-finite dot product are checked, and a non-finite row is an error. A NaN score from
//! finite input (float32 overflow) is an error too.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::numeric::checks::{invalid, InvalidInput};
use crate::tensor::lora::{require_finite_f32, Mat};
use crate::tensor::simd;

/// Rows per rayon task: 64 rows of 384 floats is 96 KiB, cache-resident while every query
/// is scored against it.
const ROW_BLOCK: usize = 64;
/// Up to this many queries, the scan is split into one stretch of rows per thread.
const FEW_QUERIES: usize = 2;

/// A similarity metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `q . m / (|q| |m|)`, 0 when either norm is 0; higher is better.
    Cosine,
    /// `q . m`; higher is better.
    Dot,
    /// `max(|q|^2 + |m|^2 - 2 q . m, 0)`; lower is better.
    L2,
}

impl Metric {
    /// The metric named `name`, or Err.
    pub fn parse(name: &str) -> Result<Self, InvalidInput> {
        match name {
            "cosine" => Ok(Metric::Cosine),
            "dot" => Ok(Metric::Dot),
            "l2" => Ok(Metric::L2),
            _ => invalid(format!(
                "metric must be one of cosine, dot, l2, got {name:?}"
            )),
        }
    }
}

/// A scored row; its order makes the *worst* candidate the greatest, so a max-heap of them
/// keeps the worst on top. `key` is the score made "higher is better" (negated for L2).
#[derive(Clone, Copy, Debug)]
struct Candidate {
    key: f32,
    index: usize,
}

impl Candidate {
    fn new(key: f32, index: usize) -> Self {
        // + 0.0 turns -0.0 into +0.0, so the total order below treats them as equal.
        Candidate {
            key: key + 0.0,
            index,
        }
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .key
            .total_cmp(&self.key)
            .then(self.index.cmp(&other.index))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

/// The best `k` candidates seen so far.
struct TopK {
    k: usize,
    heap: BinaryHeap<Candidate>,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16)),
        }
    }

    #[inline]
    fn offer(&mut self, candidate: Candidate) {
        if self.heap.len() < self.k {
            self.heap.push(candidate);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if candidate < *worst {
                *worst = candidate;
            }
        }
    }

    fn absorb(&mut self, other: TopK) {
        for candidate in other.heap {
            self.offer(candidate);
        }
    }
}

/// The result: `nq * k` row indices and scores, best first per query.
#[derive(Clone, Debug, PartialEq)]
pub struct Hits {
    pub k: usize,
    pub indices: Vec<i64>,
    pub scores: Vec<f32>,
}

/// Per-thread state: a heap per query, and the first error met.
struct Partial {
    tops: Vec<TopK>,
    error: Option<InvalidInput>,
}

fn squared_norms(m: &[f32], rows: usize, d: usize) -> Vec<f32> {
    (0..rows)
        .map(|i| {
            let row = &m[i * d..(i + 1) * d];
            simd::dot(row, row)
        })
        .collect()
}

/// The score of a query/row pair from their dot product and squared norms.
#[inline]
fn score(metric: Metric, dot: f32, q_sq: f32, m_sq: f32) -> f32 {
    match metric {
        Metric::Dot => dot,
        Metric::L2 => {
            // Clamp rounding below 0, but keep a NaN (f32::max would hide it).
            let d2 = (q_sq + m_sq) - 2.0 * dot;
            if d2 < 0.0 {
                0.0
            } else {
                d2
            }
        }
        Metric::Cosine => {
            let denom = q_sq.sqrt() * m_sq.sqrt();
            if denom > 0.0 {
                dot / denom
            } else {
                0.0
            }
        }
    }
}

/// Scores one block of rows (starting at row `first`) against every query.
fn scan_block(
    partial: &mut Partial,
    queries: Mat,
    q_sq: &[f32],
    block: &[f32],
    first: usize,
    metric: Metric,
) {
    if partial.error.is_some() {
        return;
    }
    let d = queries.cols;
    let rows = block.len().checked_div(d).unwrap_or(0);
    let m_sq = if metric == Metric::Dot {
        Vec::new()
    } else {
        squared_norms(block, rows, d)
    };
    let mut bad_row: Option<usize> = None;
    let tops = &mut partial.tops;
    simd::dots_nt(
        queries.data,
        queries.rows,
        block,
        rows,
        d,
        &mut |qi, ri, dot| {
            let m = if metric == Metric::Dot { 0.0 } else { m_sq[ri] };
            let s = score(metric, dot, q_sq[qi], m);
            if !dot.is_finite() || s.is_nan() {
                bad_row = Some(bad_row.map_or(ri, |b| b.min(ri)));
                return;
            }
            let key = if metric == Metric::L2 { -s } else { s };
            tops[qi].offer(Candidate::new(key, first + ri));
        },
    );
    if let Some(ri) = bad_row {
        let row = &block[ri * d..(ri + 1) * d];
        partial.error = Some(match require_finite_f32(row, "matrix") {
            Err(err) => err,
            Ok(()) => {
                InvalidInput("a score overflowed float32 (NaN); rescale the vectors".to_owned())
            }
        });
    }
}

/// The dot products of finite rows can still overflow to an infinity; those rows are
/// scored like any other (NaN aside), as numpy scores them.
fn scan_block_with_infinities(
    partial: &mut Partial,
    queries: Mat,
    q_sq: &[f32],
    block: &[f32],
    first: usize,
    metric: Metric,
) {
    scan_block(partial, queries, q_sq, block, first, metric);
    if let Some(InvalidInput(message)) = &partial.error {
        if !message.starts_with("a score overflowed") {
            return;
        }
        // Recompute the block one row at a time: infinite scores of finite rows are kept,
        // only a NaN score is an error.
        partial.error = None;
        let d = queries.cols;
        let rows = block.len().checked_div(d).unwrap_or(0);
        for ri in 0..rows {
            let row = &block[ri * d..(ri + 1) * d];
            let m_sq = simd::dot(row, row);
            for (qi, q_norm) in q_sq.iter().enumerate().take(queries.rows) {
                let q = &queries.data[qi * d..(qi + 1) * d];
                let s = score(metric, simd::dot(q, row), *q_norm, m_sq);
                if s.is_nan() {
                    partial.error = Some(InvalidInput(
                        "a score overflowed float32 (NaN); rescale the vectors".to_owned(),
                    ));
                    return;
                }
                let key = if metric == Metric::L2 { -s } else { s };
                partial.tops[qi].offer(Candidate::new(key, first + ri));
            }
        }
    }
}

/// Checks a search: equal dimensions and finite queries (the matrix is checked lazily).
pub fn validate_search(queries: Mat, matrix: Mat) -> Result<(), InvalidInput> {
    if queries.cols != matrix.cols {
        return invalid(format!(
            "query has dimension {}, matrix rows have {}",
            queries.cols, matrix.cols
        ));
    }
    require_finite_f32(queries.data, "query")
}

/// The `min(k, n)` best rows of `matrix[n, d]` for each of the queries `[nq, d]`.
pub fn search(queries: Mat, matrix: Mat, k: usize, metric: Metric) -> Result<Hits, InvalidInput> {
    validate_search(queries, matrix)?;
    if k == 0 {
        return invalid("top_k must be at least 1, got 0");
    }
    let (nq, n, d) = (queries.rows, matrix.rows, matrix.cols);
    let k = k.min(n);
    let q_sq = squared_norms(queries.data, nq, d);
    let fresh = || Partial {
        tops: (0..nq).map(|_| TopK::new(k)).collect(),
        error: None,
    };
    let merge = |mut a: Partial, b: Partial| {
        if a.error.is_none() {
            match b.error {
                Some(err) => a.error = Some(err),
                None => {
                    for (x, y) in a.tops.iter_mut().zip(b.tops) {
                        x.absorb(y);
                    }
                }
            }
        }
        a
    };
    let result = if d == 0 || n == 0 || k == 0 {
        // Every score is 0 (empty vectors): the first k rows, in index order.
        let mut p = fresh();
        for top in &mut p.tops {
            for i in 0..k {
                top.offer(Candidate::new(0.0, i));
            }
        }
        p
    } else {
        // Few queries: each row is read once, the scan is memory-bound, and one contiguous
        // stretch per thread streams best (work stealing would interleave the threads).
        let min_len = if nq <= FEW_QUERIES {
            n.div_ceil(ROW_BLOCK) / rayon::current_num_threads().max(1)
        } else {
            1
        };
        matrix
            .data
            .par_chunks(ROW_BLOCK * d)
            .with_min_len(min_len.max(1))
            .enumerate()
            .fold(fresh, |mut p, (b, block)| {
                scan_block_with_infinities(&mut p, queries, &q_sq, block, b * ROW_BLOCK, metric);
                p
            })
            .reduce(fresh, merge)
    };
    if let Some(err) = result.error {
        return Err(err);
    }
    let mut indices = Vec::with_capacity(nq * k);
    let mut scores = Vec::with_capacity(nq * k);
    for top in result.tops {
        for c in top.heap.into_sorted_vec() {
            indices.push(i64::try_from(c.index).unwrap_or(i64::MAX));
            scores.push(if metric == Metric::L2 { -c.key } else { c.key } + 0.0);
        }
    }
    Ok(Hits { k, indices, scores })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(data: &[f32], rows: usize, cols: usize) -> Mat<'_> {
        Mat::new(data, rows, cols).unwrap()
    }

    #[test]
    fn dot_top_k_with_ties_by_lower_index() {
        let matrix = [1.0, 0.0, 2.0, 0.0, 1.0, 0.0, 0.0, 3.0];
        let q = [1.0, 0.0];
        let hits = search(m(&q, 1, 2), m(&matrix, 4, 2), 3, Metric::Dot).unwrap();
        assert_eq!(hits.indices, vec![1, 0, 2]);
        assert_eq!(hits.scores, vec![2.0, 1.0, 1.0]);
    }

    #[test]
    fn cosine_zero_vectors_score_zero_and_l2_is_ascending() {
        let matrix = [0.0, 0.0, 3.0, 4.0, -1.0, 0.0];
        let q = [1.0, 0.0, 0.0, 0.0];
        let hits = search(m(&q, 2, 2), m(&matrix, 3, 2), 5, Metric::Cosine).unwrap();
        assert_eq!(hits.k, 3);
        assert_eq!(hits.indices, vec![1, 0, 2, 0, 1, 2]);
        assert_eq!(hits.scores[..3], [0.6, 0.0, -1.0]);
        assert_eq!(hits.scores[3..], [0.0, 0.0, 0.0]);
        let l2 = search(m(&q[..2], 1, 2), m(&matrix, 3, 2), 2, Metric::L2).unwrap();
        assert_eq!(l2.indices, vec![0, 2]);
        assert_eq!(l2.scores, vec![1.0, 4.0]);
    }

    #[test]
    fn large_search_agrees_with_brute_force_over_many_blocks() {
        let (n, d, nq, k) = (1000, 19, 5, 7);
        let data: Vec<f32> = (0..n * d)
            .map(|i| ((i * 7919) % 23) as f32 - 11.0)
            .collect();
        let queries: Vec<f32> = (0..nq * d).map(|i| ((i * 31) % 5) as f32 - 2.0).collect();
        let hits = search(m(&queries, nq, d), m(&data, n, d), k, Metric::Dot).unwrap();
        for qi in 0..nq {
            let mut all: Vec<(f32, usize)> = (0..n)
                .map(|i| {
                    let s = (0..d).map(|j| queries[qi * d + j] * data[i * d + j]).sum();
                    (s, i)
                })
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let want: Vec<i64> = all[..k].iter().map(|x| x.1 as i64).collect();
            assert_eq!(hits.indices[qi * k..(qi + 1) * k], want[..]);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let matrix = [1.0, f32::NAN, 1.0, 1.0];
        let q = [0.0, 1.0];
        assert!(search(m(&q, 1, 2), m(&matrix, 2, 2), 1, Metric::Dot).is_err());
        assert!(search(m(&q, 1, 2), m(&matrix[2..], 1, 2), 0, Metric::Dot).is_err());
        assert!(search(m(&q, 1, 2), m(&matrix[..3], 1, 3), 1, Metric::Dot).is_err());
        let big = [3e38f32, 3e38];
        let hits = search(m(&big, 1, 2), m(&big, 1, 2), 1, Metric::Dot).unwrap();
        assert_eq!(hits.scores, vec![f32::INFINITY]);
        // inf - inf: a NaN score from finite (if huge) input.
        assert!(search(m(&big, 1, 2), m(&big, 1, 2), 1, Metric::L2).is_err());
        assert!(Metric::parse("cos").is_err());
    }
}
