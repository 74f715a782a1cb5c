//! Graphs: deterministic topological order, cycle reports and weighted PageRank.

pub mod order;
pub mod pagerank;
