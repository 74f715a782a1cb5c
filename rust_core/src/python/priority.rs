//! PriorityCore binding: calculate_weights (weighted PageRank) over hashable Python nodes.
//!
//! Nodes become indices through the registry binding's `NodeIndex` (identity first, then
//! dict equality, exactly as the Python reference's dict); edge weights are read through the
//! buffer protocol; the iteration runs on the indices with the GIL released. Checks run in
//! the reference's order, so the first bad argument raises the same class on both backends.
//! PowerIterationFailedConvergence is pyagent's own class, imported when raised.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyTuple, PyType};

use super::arrays::{float_vector, real_number, value_error};
use super::cache::type_name;
use super::registry::NodeIndex;
use crate::graph::pagerank::{self, InGraph, PageRankError};

fn default_float(value: f64) -> Py<PyAny> {
    Python::attach(|py| PyFloat::new(py, value).into_any().unbind())
}

fn default_alpha() -> Py<PyAny> {
    default_float(0.85)
}

fn default_tol() -> Py<PyAny> {
    default_float(1e-6)
}

fn default_max_iter() -> Py<PyAny> {
    Python::attach(|py| {
        100i64
            .into_pyobject(py)
            .map_or_else(|_| py.None(), |v| v.into_any().unbind())
    })
}

/// `max_iter` as a number, TypeError unless it is a `numbers.Integral` other than `bool`.
/// Values beyond i128 saturate (no graph runs that many steps anyway).
fn integral(value: &Bound<'_, PyAny>, name: &str) -> PyResult<i128> {
    static INTEGRAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let ok = !value.is_instance_of::<PyBool>()
        && (value.is_instance_of::<PyInt>()
            || value.is_instance(INTEGRAL.import(value.py(), "numbers", "Integral")?)?);
    if !ok {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an int, not {}",
            type_name(value)
        )));
    }
    let index = value.call_method0("__index__")?;
    match index.extract::<i128>() {
        Ok(v) => Ok(v),
        Err(_) => Ok(if index.lt(0)? { i128::MIN } else { i128::MAX }),
    }
}

fn bad_edge(position: usize, edge: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "edge {position} must be a (source, target) tuple or list of length 2, not {}",
        type_name(edge)
    ))
}

fn lookup<'py>(
    index: &NodeIndex<'py>,
    position: usize,
    end: &Bound<'py, PyAny>,
) -> PyResult<usize> {
    match index.get(end)? {
        Some(found) => Ok(found),
        None => Err(PyValueError::new_err(format!(
            "edge {position} names unknown node {}",
            end.repr()?
        ))),
    }
}

/// Edges as (sources, targets) index vectors, checked in order like the reference.
fn index_edges<'py>(
    index: &NodeIndex<'py>,
    edges: &Bound<'py, PyAny>,
) -> PyResult<(Vec<usize>, Vec<usize>)> {
    let hint = edges.cast::<PyList>().map_or(0, |list| list.len());
    let mut sources = Vec::with_capacity(hint);
    let mut targets = Vec::with_capacity(hint);
    let mut add = |position: usize, edge: &Bound<'py, PyAny>| -> PyResult<()> {
        let (source, target) = if let Ok(pair) = edge.cast::<PyTuple>() {
            if pair.len() != 2 {
                return Err(bad_edge(position, edge));
            }
            let (source, target) = (pair.get_borrowed_item(0)?, pair.get_borrowed_item(1)?);
            (
                lookup(index, position, &source)?,
                lookup(index, position, &target)?,
            )
        } else if let Ok(pair) = edge.cast::<PyList>() {
            if pair.len() != 2 {
                return Err(bad_edge(position, edge));
            }
            let source = lookup(index, position, &pair.get_item(0)?)?;
            (source, lookup(index, position, &pair.get_item(1)?)?)
        } else {
            return Err(bad_edge(position, edge));
        };
        sources.push(source);
        targets.push(target);
        Ok(())
    };
    if let Ok(list) = edges.cast::<PyList>() {
        for (position, edge) in list.iter().enumerate() {
            add(position, &edge)?;
        }
    } else {
        for (position, edge) in edges.try_iter()?.enumerate() {
            add(position, &edge?)?;
        }
    }
    Ok((sources, targets))
}

/// A node -> value mapping as a normalised vector over the node indices, or None.
fn distribution<'py>(
    index: &NodeIndex<'py>,
    values: &Bound<'py, PyAny>,
    count: usize,
    name: &str,
) -> PyResult<Option<Vec<f64>>> {
    static MAPPING: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    if values.is_none() {
        return Ok(None);
    }
    if !(values.is_instance_of::<PyDict>()
        || values.is_instance(MAPPING.import(values.py(), "collections.abc", "Mapping")?)?)
    {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a dict of node -> value, not {}",
            type_name(values)
        )));
    }
    let mut vector = vec![0.0; count];
    let value_name = format!("{name} value");
    for item in values.call_method0("items")?.try_iter()? {
        let item = item?;
        let (node, value): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract()?;
        let Some(position) = index.get(&node)? else {
            return Err(PyValueError::new_err(format!(
                "{name} names unknown node {}",
                node.repr()?
            )));
        };
        let number = real_number(&value, &value_name)?;
        if !(number.is_finite() && number >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "{name} values must be finite and >= 0, got {number:?}"
            )));
        }
        if let Some(slot) = vector.get_mut(position) {
            *slot = number;
        }
    }
    pagerank::normalise(&vector, name)
        .map(Some)
        .map_err(value_error)
}

fn not_converged(py: Python<'_>, max_iter: usize) -> PyErr {
    let raise = || -> PyResult<PyErr> {
        let class = py
            .import("pyagent.priority_core")?
            .getattr("PowerIterationFailedConvergence")?;
        let message = format!("power iteration failed to converge within {max_iter} iterations");
        Ok(PyErr::from_value(class.call1((message, max_iter))?))
    };
    raise().unwrap_or_else(|err| err)
}

/// Weighted PageRank of every node, `{node: weight}` in node order; see pyagent.
#[pyfunction]
#[pyo3(signature = (
    nodes, edges, weights = None, *, alpha = default_alpha(), personalization = None,
    max_iter = default_max_iter(), tol = default_tol(), dangling = None
))]
#[allow(clippy::too_many_arguments)]
#[pyo3(
    text_signature = "(nodes, edges, weights=None, *, alpha=0.85, personalization=None, max_iter=100, tol=1e-06, dangling=None)"
)]
fn calculate_weights<'py>(
    py: Python<'py>,
    nodes: &Bound<'py, PyAny>,
    edges: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    alpha: Py<PyAny>,
    personalization: Option<&Bound<'py, PyAny>>,
    max_iter: Py<PyAny>,
    tol: Py<PyAny>,
    dangling: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let alpha = real_number(alpha.bind(py), "alpha")?;
    let tol = real_number(tol.bind(py), "tol")?;
    let max_iter = integral(max_iter.bind(py), "max_iter")?;
    pagerank::check_parameters(alpha, max_iter, tol).map_err(value_error)?;
    let steps = usize::try_from(max_iter).unwrap_or(usize::MAX);
    let index = NodeIndex::new(py, nodes)?;
    let (sources, targets) = index_edges(&index, edges)?;
    let weights = match weights {
        Some(w) if !w.is_none() => Some(float_vector(w, "weights")?),
        _ => None,
    };
    let count = index.nodes.len();
    let w = weights.as_ref().map(|w| w.as_slice());
    let graph = py
        .detach(|| InGraph::new(count, &sources, &targets, w))
        .map_err(value_error)?;
    drop((sources, targets));
    if graph.is_empty() {
        return Err(PyValueError::new_err("nodes must not be empty"));
    }
    let none = py.None();
    let p = distribution(
        &index,
        personalization.unwrap_or(none.bind(py)),
        count,
        "personalization",
    )?;
    let d = distribution(&index, dangling.unwrap_or(none.bind(py)), count, "dangling")?;
    let ranks = py
        .detach(|| pagerank::pagerank(&graph, alpha, p.as_deref(), d.as_deref(), steps, tol))
        .map_err(|err| match err {
            PageRankError::Invalid(bad) => value_error(bad),
            PageRankError::NotConverged(n) => not_converged(py, n),
        })?;
    let out = PyDict::new(py);
    for (node, rank) in index.nodes.iter().zip(ranks) {
        out.set_item(node, rank)?;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(calculate_weights, m)?)?;
    Ok(())
}
