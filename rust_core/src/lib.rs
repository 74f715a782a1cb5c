//! Native hot paths for the PyAgent common cores.
//!
//! Each module holds one core's algorithms as plain Rust over slices and paths, with no
//! Python types, so `cargo test --no-default-features` exercises them without an interpreter.
//! The `python` module is the thin PyO3 binding layer: argument conversion, GIL release and
//! error mapping, nothing else.

pub mod atomic_write;
pub mod auction;
pub mod complexity;
pub mod config;
pub mod connection;
pub mod content;
pub mod exact_sum;
pub mod fs_scan;
pub mod glob;
pub mod graph;
pub mod hashing;
pub mod kv_cache;
pub mod lora;
pub mod metrics;
pub mod numeric;
pub mod pagerank;
pub mod pruning;
pub mod regular_file;
pub mod schema;
pub mod schema_pattern;
pub mod search;
pub mod sharding;
pub mod simd;
pub mod telemetry;
pub mod template;
pub mod tokenizer;
pub mod transport;
pub mod vector_search;

#[cfg(feature = "python")]
mod python;
