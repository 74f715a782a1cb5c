//! Native hot paths for the PyAgent common cores.
//!
//! Each module holds one core's algorithms as plain Rust over slices and paths, with no
//! Python types, so `cargo test --no-default-features` exercises them without an interpreter.
//! The `python` module is the thin PyO3 binding layer: argument conversion, GIL release and
//! error mapping, nothing else.

pub mod atomic_write;
pub mod graph;
pub mod hashing;
pub mod lora;
pub mod metrics;
pub mod numeric;
pub mod pruning;
pub mod sharding;
pub mod simd;
pub mod telemetry;
pub mod template;
pub mod vector_search;

#[cfg(feature = "python")]
mod python;
