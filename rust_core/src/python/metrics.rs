//! MetricsCore binding: rolling_avg and aggregate_metrics.

use numpy::PyArray1;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};

use super::arrays::{float_vector, to_numpy, value_error};
use super::names::{group_ids, single_name, str_list};
use crate::numeric::metrics;

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
        // What an `__index__` raised (other than TypeError) propagates, as in Python.
        Err(err) if !err.is_instance_of::<PyTypeError>(window.py()) => Err(err),
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

/// Per metric name: count, sum, mean, min, max, population std; keys in first-seen order.
#[pyfunction]
fn aggregate_metrics<'py>(
    py: Python<'py>,
    names: &Bound<'py, PyAny>,
    values: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    if let Some(name) = single_name(names) {
        let values = float_vector(values, "values")?;
        let data = values.as_slice();
        let count = names.len()?;
        if count != data.len() {
            return Err(PyValueError::new_err(format!(
                "names and values differ in length: {count} != {}",
                data.len()
            )));
        }
        let summary = py
            .detach(|| metrics::aggregate_one(data))
            .map_err(value_error)?;
        let result = PyDict::new(py);
        result.set_item(name, summary_dict(py, &summary)?)?;
        return Ok(result);
    }
    let names = str_list(names, "names")?;
    let values = float_vector(values, "values")?;
    let (keys, groups) = group_ids(&names)?;
    let data = values.as_slice();
    let group_count = keys.len();
    let summaries = py
        .detach(|| metrics::aggregate(&groups, group_count, data))
        .map_err(value_error)?;
    let result = PyDict::new(py);
    for (key, s) in keys.into_iter().zip(summaries) {
        result.set_item(key, summary_dict(py, &s)?)?;
    }
    Ok(result)
}

fn summary_dict<'py>(py: Python<'py>, s: &metrics::Summary) -> PyResult<Bound<'py, PyDict>> {
    let entry = PyDict::new(py);
    entry.set_item("count", s.count)?;
    entry.set_item("sum", s.sum)?;
    entry.set_item("mean", s.mean)?;
    entry.set_item("min", s.min)?;
    entry.set_item("max", s.max)?;
    entry.set_item("std", s.std)?;
    Ok(entry)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rolling_avg, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate_metrics, m)?)?;
    Ok(())
}
