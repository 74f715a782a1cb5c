//! PruningCore binding: calculate_decay over arrays and for one synapse.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyFloat;

use super::arrays::{float_vector, real_number, to_numpy, value_error};
use crate::numeric::pruning::{decay, decay_scalar, DEFAULT_MIN_WEIGHT};

/// The default floor as a Python float, so an explicit `min_weight=None` is still checked
/// (and rejected) like any other argument, as in the Python reference.
fn default_min_weight() -> Py<PyAny> {
    Python::attach(|py| PyFloat::new(py, DEFAULT_MIN_WEIGHT).into_any().unbind())
}

/// `max(weights * exp(-ln 2 * ages / half_life), min_weight)` as a new float64 array.
#[pyfunction]
#[pyo3(signature = (weights, ages, half_life, min_weight = default_min_weight()))]
#[pyo3(text_signature = "(weights, ages, half_life, min_weight=0.05)")]
fn calculate_decay<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    ages: &Bound<'py, PyAny>,
    half_life: &Bound<'py, PyAny>,
    min_weight: Py<PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let weights = float_vector(weights, "weights")?;
    let ages = float_vector(ages, "ages")?;
    let half_life = real_number(half_life, "half_life")?;
    let min_weight = real_number(min_weight.bind(py), "min_weight")?;
    let (w, a) = (weights.as_slice(), ages.as_slice());
    let out = py
        .detach(|| decay(w, a, half_life, min_weight))
        .map_err(value_error)?;
    Ok(to_numpy(py, out))
}

/// The decay of one synapse.
#[pyfunction]
#[pyo3(signature = (weight, age, half_life, min_weight = default_min_weight()))]
#[pyo3(text_signature = "(weight, age, half_life, min_weight=0.05)")]
fn calculate_decay_scalar(
    py: Python<'_>,
    weight: &Bound<'_, PyAny>,
    age: &Bound<'_, PyAny>,
    half_life: &Bound<'_, PyAny>,
    min_weight: Py<PyAny>,
) -> PyResult<f64> {
    let weight = real_number(weight, "weight")?;
    let age = real_number(age, "age")?;
    let half_life = real_number(half_life, "half_life")?;
    let min_weight = real_number(min_weight.bind(py), "min_weight")?;
    decay_scalar(weight, age, half_life, min_weight).map_err(value_error)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(calculate_decay, m)?)?;
    m.add_function(wrap_pyfunction!(calculate_decay_scalar, m)?)?;
    Ok(())
}
