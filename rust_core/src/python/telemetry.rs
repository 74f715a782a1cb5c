//! TelemetryCore binding: percentiles (and rollups).

use numpy::PyArray1;
use pyo3::prelude::*;

use super::arrays::{float_vector, to_numpy, value_error};
use crate::telemetry;

/// `numpy.percentile(values, qs)` (linear method) as a new float64 array, by selection.
#[pyfunction]
fn percentiles<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    qs: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let values = float_vector(values, "values")?;
    let qs = float_vector(qs, "qs")?;
    let (data, wanted) = (values.as_slice(), qs.as_slice());
    let out = py
        .detach(|| telemetry::percentiles(data, wanted))
        .map_err(value_error)?;
    Ok(to_numpy(py, out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(percentiles, m)?)?;
    Ok(())
}
