//! The PyO3 binding layer: one submodule per core, each registering its hot paths under the
//! names the seed's priority list gives them (see `pyagent/hot_paths.toml`).

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What a stateful class's `__reduce__` returns: the backend-neutral constructor (a class of
/// `pyagent`), its arguments, and the state its `__setstate__` takes.
type Reduced<'py, Args> = (Bound<'py, PyAny>, Args, Bound<'py, PyDict>);

mod address_map;
mod analysis;
mod arrays;
mod auction;
mod buffer;
mod cache;
mod config;
mod connection;
mod content;
mod errors;
mod fs;
mod fs_scan;
mod knowledge;
mod kv_cache;
mod lora;
mod memory;
mod metrics;
mod names;
mod paths;
mod priority;
mod pruning;
mod registry;
mod schema;
mod schema_view;
mod search;
mod telemetry;
mod template;
mod tensors;
mod tokenizer;
mod transport;

/// The limits hostile input meets (docs/limits.md), by the Python constant each equals:
/// `"module:NAME" -> value`, so a test checks every one against the reference.
fn limits(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    use crate::{net::transport, numeric::auction, text::config};
    let limits = pyo3::types::PyDict::new(py);
    let entries: [(&str, u64); 8] = [
        (
            "pyagent.config_core:JSON_MAX_DEPTH",
            config::MAX_DEPTH as u64,
        ),
        (
            "pyagent.config_core:TOML_MAX_DEPTH",
            config::TOML_MAX_DEPTH as u64,
        ),
        (
            "pyagent.config_core:YAML_MAX_DEPTH",
            config::YAML_MAX_DEPTH as u64,
        ),
        (
            "pyagent.config_core:YAML_ALIAS_NODES_FLOOR",
            config::YAML_ALIAS_NODES_FLOOR,
        ),
        (
            "pyagent.config_core:YAML_ALIAS_NODES_CAP",
            config::YAML_ALIAS_NODES_CAP,
        ),
        ("pyagent.auction_core:MAX_CELLS", auction::MAX_CELLS as u64),
        (
            "pyagent.connectivity_core:FRAME_OBJECTS_BASE",
            transport::FRAME_OBJECTS_BASE,
        ),
        (
            "pyagent.connectivity_core:FRAME_OBJECTS_PER_BYTE",
            transport::FRAME_OBJECTS_PER_BYTE,
        ),
    ];
    for (name, value) in entries {
        limits.set_item(name, value)?;
    }
    Ok(limits)
}

/// Native hot paths for the PyAgent common cores.
#[pymodule]
fn rust_core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("LIMITS", limits(m.py())?)?;
    cache::register(m)?;
    knowledge::register(m)?;
    fs::register(m)?;
    registry::register(m)?;
    template::register(m)?;
    pruning::register(m)?;
    metrics::register(m)?;
    telemetry::register(m)?;
    analysis::register(m)?;
    kv_cache::register(m)?;
    fs_scan::register(m)?;
    transport::register(m)?;
    connection::register(m)?;
    config::register(m)?;
    search::register(m)?;
    tokenizer::register(m)?;
    priority::register(m)?;
    auction::register(m)?;
    schema::register(m)?;
    content::register(m)?;
    lora::register(m)?;
    memory::register(m)?;
    Ok(())
}
