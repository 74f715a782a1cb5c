//! Native hot paths for the PyAgent common cores.
//!
//! The algorithms are plain Rust over slices and paths, with no Python types, so
//! `cargo test --no-default-features` exercises them without an interpreter. They are grouped
//! by concern: `graph`, `numeric` (float64 arrays), `tensor` (float32 kernels and paged
//! memory), `text` (parsers, patterns, tokenizer), `storage` (files and digests) and `net`.
//! The `python` module is the thin PyO3 binding layer: argument conversion, GIL release and
//! error mapping, nothing else.

pub mod graph;
pub mod net;
pub mod numeric;
pub mod storage;
pub mod tensor;
pub mod text;

#[cfg(feature = "python")]
mod python;
