//! MetricsCore binding: rolling_avg and aggregate_metrics.

use std::collections::HashMap;

use numpy::PyArray1;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};

use super::arrays::{float_vector, to_numpy, value_error};
use crate::metrics;

/// The window as `operator.index` reads it: TypeError for bool or a non-integer,
/// ValueError below 1; a window beyond usize covers any input, so it saturates.
fn window_size(window: &Bound<'_, PyAny>) -> PyResult<usize> {
    let type_error = || {
        Ok::<_, PyErr>(PyTypeError::new_err(format!(
            "window must be an integer, not {}",
            window.get_type().name()?
        )))
    };
    if window.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("window must be an integer, not bool"));
    }
    match window.extract::<i128>() {
        Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Ok(n) => Err(PyValueError::new_err(format!(
            "window must be at least 1, got {n}"
        ))),
        Err(err) if err.is_instance_of::<PyOverflowError>(window.py()) => {
            if window.gt(0)? {
                Ok(usize::MAX)
            } else {
                Err(PyValueError::new_err("window must be at least 1"))
            }
        }
        Err(_) => Err(type_error()?),
    }
}

/// Trailing mean over the last `window` values, growing until full; a new float64 array.
#[pyfunction]
fn rolling_avg<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    window: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let values = float_vector(values, "values")?;
    let window = window_size(window)?;
    let data = values.as_slice();
    let out = py
        .detach(|| metrics::rolling_avg(data, window))
        .map_err(value_error)?;
    Ok(to_numpy(py, out))
}

/// Names of a sequence of str, as `list(names)` plus a type check per item.
fn metric_names<'py>(names: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyString>>> {
    if names.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "names must be a sequence of str, not a single str",
        ));
    }
    let items = names.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "names must be a sequence of str, not {}",
            names
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let mut out = Vec::with_capacity(names.len().unwrap_or(0));
    for item in items {
        let item = item?;
        match item.cast_into::<PyString>() {
            Ok(name) => out.push(name),
            Err(err) => {
                return Err(PyTypeError::new_err(format!(
                    "metric names must be str, not {}",
                    err.into_inner().get_type().name()?
                )))
            }
        }
    }
    Ok(out)
}

/// Per metric name: count, sum, mean, min, max, population std; keys in first-seen order.
#[pyfunction]
fn aggregate_metrics<'py>(
    py: Python<'py>,
    names: &Bound<'py, PyAny>,
    values: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let names = metric_names(names)?;
    let values = float_vector(values, "values")?;
    // Group ids: the same str object repeats in practice, so its address is tried first;
    // otherwise a dict lookup, which is Python's own str equality.
    let first_seen = PyDict::new(py);
    let mut by_address: HashMap<usize, usize> = HashMap::new();
    let mut keys: Vec<&Bound<'py, PyString>> = Vec::new();
    let mut groups = Vec::with_capacity(names.len());
    for name in &names {
        let address = name.as_ptr() as usize;
        let id = match by_address.get(&address) {
            Some(&id) => id,
            None => {
                let id = match first_seen.get_item(name)? {
                    Some(id) => id.extract::<usize>()?,
                    None => {
                        first_seen.set_item(name, keys.len())?;
                        keys.push(name);
                        keys.len() - 1
                    }
                };
                // `names` keeps every object alive, so an address cannot be reused meanwhile.
                by_address.insert(address, id);
                id
            }
        };
        groups.push(id);
    }
    let data = values.as_slice();
    let group_count = keys.len();
    let summaries = py
        .detach(|| metrics::aggregate(&groups, group_count, data))
        .map_err(value_error)?;
    let result = PyDict::new(py);
    for (key, s) in keys.into_iter().zip(summaries) {
        let entry = PyDict::new(py);
        entry.set_item("count", s.count)?;
        entry.set_item("sum", s.sum)?;
        entry.set_item("mean", s.mean)?;
        entry.set_item("min", s.min)?;
        entry.set_item("max", s.max)?;
        entry.set_item("std", s.std)?;
        result.set_item(key, entry)?;
    }
    Ok(result)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rolling_avg, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate_metrics, m)?)?;
    Ok(())
}
