//! The PyO3 binding layer: one submodule per core, each registering its hot paths under the
//! names the seed's priority list gives them (see `pyagent/hot_paths.toml`).

use pyo3::prelude::*;

mod address_map;
mod arrays;
mod buffer;
mod cache;
mod errors;
mod fs;
mod knowledge;
mod lora;
mod memory;
mod metrics;
mod names;
mod pruning;
mod registry;
mod telemetry;
mod template;
mod tensors;

/// Native hot paths for the PyAgent common cores.
#[pymodule]
fn rust_core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    cache::register(m)?;
    knowledge::register(m)?;
    fs::register(m)?;
    registry::register(m)?;
    template::register(m)?;
    pruning::register(m)?;
    metrics::register(m)?;
    telemetry::register(m)?;
    lora::register(m)?;
    memory::register(m)?;
    Ok(())
}
