//! Logic/Priority hot path: weighted PageRank by power iteration (networkx's formulation).
//!
//! Each step is `x' = alpha * (x @ P + sum(x[dangling]) * d) + (1 - alpha) * p`, with `P` the
//! weight matrix, rows divided by their sums; it stops once the L1 change is below
//! `n * tol`. Edges are stored as in-edge lists (CSR by target), so every node's new value
//! is one gather over its in-edges, independent of the others: nodes are split across
//! threads for large graphs. Every sum runs in the same order as the Python reference
//! (`pyagent.priority_core`) sums it, so the two agree to the last bit.

use rayon::prelude::*;

use crate::numeric::checks::{invalid, InvalidInput};

/// Below this many nodes + edges one thread is faster than splitting the work.
const PARALLEL_MIN: usize = 1 << 15;
/// Nodes per parallel task.
const CHUNK: usize = 1 << 12;

/// Why PageRank gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRankError {
    /// Bad input (ValueError in Python).
    Invalid(InvalidInput),
    /// No convergence within this many iterations.
    NotConverged(usize),
}

impl From<InvalidInput> for PageRankError {
    fn from(err: InvalidInput) -> Self {
        PageRankError::Invalid(err)
    }
}

/// Err unless `alpha` is in [0, 1], `tol` finite and > 0 and `max_iter` >= 1.
pub fn check_parameters(alpha: f64, max_iter: i128, tol: f64) -> Result<(), InvalidInput> {
    if !(0.0..=1.0).contains(&alpha) {
        return invalid(format!("alpha must be in [0, 1], got {alpha:?}"));
    }
    if !(tol.is_finite() && tol > 0.0) {
        return invalid(format!("tol must be finite and > 0, got {tol:?}"));
    }
    if max_iter < 1 {
        return invalid(format!("max_iter must be >= 1, got {max_iter}"));
    }
    Ok(())
}

/// Err unless every edge weight is finite and >= 0.
pub fn check_weights(weights: &[f64]) -> Result<(), InvalidInput> {
    if weights.iter().all(|w| w.is_finite() && *w >= 0.0) {
        Ok(())
    } else {
        invalid("weights must be finite and >= 0")
    }
}

/// `values` divided by their (sequential) sum; Err if they sum to zero. `name` is for the
/// message. Each value must already be finite and >= 0.
pub fn normalise(values: &[f64], name: &str) -> Result<Vec<f64>, InvalidInput> {
    let total: f64 = values.iter().fold(0.0, |acc, v| acc + v);
    if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return invalid(format!("{name} values must not all be zero"));
    }
    if !total.is_finite() {
        return invalid(format!("{name} values must have a finite sum"));
    }
    Ok(values.iter().map(|v| v / total).collect())
}

/// A weighted directed graph over `count` nodes, as in-edge lists.
pub struct InGraph {
    count: usize,
    /// In-edges of node `j` are `starts[j]..starts[j + 1]`, in edge order.
    starts: Vec<usize>,
    in_source: Vec<usize>,
    /// `weight / out_weight[source]`: the share of the source's rank this edge carries.
    in_share: Vec<f64>,
    /// Nodes whose outgoing weight is zero, ascending.
    dangling: Vec<usize>,
}

impl InGraph {
    /// Builds the graph; parallel edges add up. `weights`, if given, has one finite
    /// non-negative value per edge; every index is < `count`.
    pub fn new(
        count: usize,
        sources: &[usize],
        targets: &[usize],
        weights: Option<&[f64]>,
    ) -> Result<Self, InvalidInput> {
        if sources.len() != targets.len() {
            return invalid("sources and targets differ in length");
        }
        if let Some(w) = weights {
            if w.len() != sources.len() {
                return invalid(format!(
                    "weights must have one value per edge: {} != {}",
                    w.len(),
                    sources.len()
                ));
            }
            check_weights(w)?;
        }
        if let Some(bad) = sources.iter().chain(targets).find(|&&i| i >= count) {
            return invalid(format!("node index {bad} out of range"));
        }
        let weight = |e: usize| weights.map_or(1.0, |w| w[e]);
        let mut out_weight = vec![0.0; count];
        for (e, &s) in sources.iter().enumerate() {
            out_weight[s] += weight(e);
        }
        if !out_weight.iter().all(|w| w.is_finite()) {
            return invalid("the weights out of each node must have a finite sum");
        }
        let mut starts = vec![0usize; count + 1];
        for &t in targets {
            starts[t + 1] += 1;
        }
        for i in 0..count {
            starts[i + 1] += starts[i];
        }
        let mut fill = starts[..count].to_vec();
        let mut in_source = vec![0usize; sources.len()];
        let mut in_share = vec![0.0; sources.len()];
        for (e, (&s, &t)) in sources.iter().zip(targets).enumerate() {
            let slot = fill[t];
            fill[t] += 1;
            in_source[slot] = s;
            let total = out_weight[s];
            // A zero-weight edge out of a dangling node carries nothing (networkx: a zero row).
            in_share[slot] = if total != 0.0 { weight(e) / total } else { 0.0 };
        }
        let dangling = (0..count).filter(|&i| out_weight[i] == 0.0).collect();
        Ok(InGraph {
            count,
            starts,
            in_source,
            in_share,
            dangling,
        })
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True for a graph without nodes.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// PageRank of every node of `graph`. `personalization` and `dangling` are normalised
/// distributions over the nodes (`None`: uniform, and the personalization, respectively).
pub fn pagerank(
    graph: &InGraph,
    alpha: f64,
    personalization: Option<&[f64]>,
    dangling: Option<&[f64]>,
    max_iter: usize,
    tol: f64,
) -> Result<Vec<f64>, PageRankError> {
    let n = graph.count;
    if n == 0 {
        return Err(PageRankError::Invalid(InvalidInput(
            "nodes must not be empty".into(),
        )));
    }
    let uniform;
    let p = match personalization {
        Some(p) => p,
        None => {
            uniform = vec![1.0 / n as f64; n];
            &uniform
        }
    };
    let d = dangling.unwrap_or(p);
    if p.len() != n || d.len() != n {
        return Err(PageRankError::Invalid(InvalidInput(
            "distribution length differs from the node count".into(),
        )));
    }
    check_parameters(alpha, max_iter as i128, tol)?;
    let teleport: Vec<f64> = p.iter().map(|v| (1.0 - alpha) * v).collect();
    let mut x = vec![1.0 / n as f64; n];
    let mut next = vec![0.0; n];
    let parallel = n + graph.in_source.len() >= PARALLEL_MIN;
    let threshold = n as f64 * tol;
    for _ in 0..max_iter {
        let lost = graph.dangling.iter().fold(0.0, |acc, &i| acc + x[i]);
        let step = |first: usize, out: &mut [f64]| {
            for (k, value) in out.iter_mut().enumerate() {
                let j = first + k;
                let mut total = 0.0;
                for slot in graph.starts[j]..graph.starts[j + 1] {
                    total += x[graph.in_source[slot]] * graph.in_share[slot];
                }
                *value = alpha * (total + lost * d[j]) + teleport[j];
            }
        };
        if parallel {
            next.par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(c, out)| step(c * CHUNK, out));
        } else {
            step(0, &mut next);
        }
        let err = next
            .iter()
            .zip(&x)
            .fold(0.0, |acc, (new, old)| acc + (new - old).abs());
        std::mem::swap(&mut x, &mut next);
        if err < threshold {
            return Ok(x);
        }
    }
    Err(PageRankError::NotConverged(max_iter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(count: usize, edges: &[(usize, usize)], w: Option<&[f64]>) -> Vec<f64> {
        let (s, t): (Vec<usize>, Vec<usize>) = edges.iter().copied().unzip();
        let g = InGraph::new(count, &s, &t, w).unwrap();
        pagerank(&g, 0.85, None, None, 1000, 1e-12).unwrap()
    }

    #[test]
    fn symmetric_cycle_is_uniform() {
        let got = rank(3, &[(0, 1), (1, 2), (2, 0)], None);
        for v in got {
            assert!((v - 1.0 / 3.0).abs() < 1e-12);
        }
    }

    #[test]
    fn sums_to_one_with_dangling_nodes() {
        let got = rank(4, &[(0, 1), (0, 2), (1, 2)], Some(&[1.0, 3.0, 2.0]));
        let total: f64 = got.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!(got[2] > got[1] && got[1] > got[0]);
        assert!((got[3] - got[0]).abs() < 1e-15);
    }

    #[test]
    fn parallel_edges_add_up() {
        let split = rank(
            3,
            &[(0, 1), (0, 1), (0, 2), (1, 0)],
            Some(&[2.0, 3.0, 1.0, 1.0]),
        );
        let merged = rank(3, &[(0, 1), (0, 2), (1, 0)], Some(&[5.0, 1.0, 1.0]));
        for (a, b) in split.iter().zip(&merged) {
            assert!((a - b).abs() < 1e-14);
        }
    }

    #[test]
    fn large_graph_is_the_same_in_parallel_and_sequentially() {
        let n = 40_000;
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let edges: Vec<(usize, usize)> = (0..100_000).map(|_| (next() % n, next() % n)).collect();
        let (s, t): (Vec<usize>, Vec<usize>) = edges.iter().copied().unzip();
        let g = InGraph::new(n, &s, &t, None).unwrap();
        let big = pagerank(&g, 0.85, None, None, 100, 1e-6).unwrap();
        let total: f64 = big.iter().sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(InGraph::new(2, &[0], &[2], None).is_err());
        assert!(InGraph::new(2, &[0], &[1], Some(&[-1.0])).is_err());
        assert!(InGraph::new(2, &[0], &[1], Some(&[f64::NAN])).is_err());
        assert!(InGraph::new(2, &[0], &[1], Some(&[1.0, 2.0])).is_err());
        assert!(InGraph::new(2, &[0, 0], &[1, 1], Some(&[1e308, 1e308])).is_err());
        assert!(normalise(&[0.0, 0.0], "p").is_err());
        assert!(normalise(&[1e308, 1e308], "p").is_err());
        let g = InGraph::new(0, &[], &[], None).unwrap();
        assert!(matches!(
            pagerank(&g, 0.85, None, None, 10, 1e-6),
            Err(PageRankError::Invalid(_))
        ));
        let g = InGraph::new(2, &[0], &[1], None).unwrap();
        assert!(pagerank(&g, 1.5, None, None, 10, 1e-6).is_err());
        assert!(pagerank(&g, 0.85, None, None, 10, 0.0).is_err());
        assert!(pagerank(&g, 0.85, None, None, 0, 1e-6).is_err());
    }

    #[test]
    fn reports_no_convergence() {
        let g = InGraph::new(2, &[0, 1], &[1, 0], None).unwrap();
        // alpha = 1 on a 2-cycle oscillates only if the start is not uniform; with a tiny
        // tol and a single step the iteration cannot have converged on an asymmetric graph.
        let g2 = InGraph::new(3, &[0, 1, 2], &[1, 2, 1], None).unwrap();
        assert!(pagerank(&g, 0.85, None, None, 1, 1e-6).is_ok());
        assert_eq!(
            pagerank(&g2, 0.85, None, None, 1, 1e-12),
            Err(PageRankError::NotConverged(1))
        );
    }
}
