//! AuctionCore binding: calculate_vcg_prices over a bidders x slots value matrix.
//!
//! A C-contiguous float64 2-D ndarray is read in place; anything else goes through the same
//! `numpy.asarray`, dtype and shape checks as `pyagent.auction_core._value_matrix`, then one
//! conversion to a contiguous float64 array. The solve runs with the GIL released.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyTuple};

use super::arrays::value_error;
use crate::numeric::auction;

fn value_matrix<'py>(values: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<f64>>> {
    if let Ok(array) = values.cast::<PyArray2<f64>>() {
        if array.is_c_contiguous() {
            return Ok(array.clone());
        }
    }
    let numpy = values.py().import("numpy")?;
    let array = numpy.call_method1("asarray", (values,))?;
    let dtype = array.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "i" | "u" | "f") {
        return Err(PyTypeError::new_err(format!(
            "values must hold real numbers, not dtype {}",
            dtype.str()?
        )));
    }
    let ndim: usize = array.getattr("ndim")?.extract()?;
    if ndim != 2 {
        return Err(PyValueError::new_err(format!(
            "values must be two-dimensional (bidders x slots), got {}",
            array.getattr("shape")?.repr()?
        )));
    }
    let converted = numpy.call_method1("ascontiguousarray", (array, "float64"))?;
    Ok(converted.cast_into::<PyArray2<f64>>()?)
}

/// (assignment, prices, welfare) of the VCG auction; see pyagent.auction_core.
#[pyfunction]
fn calculate_vcg_prices<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let matrix = value_matrix(values)?;
    let readonly: PyReadonlyArray2<'py, f64> = matrix
        .try_readonly()
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    let shape = readonly.shape();
    let (bidders, slots) = (shape[0], shape[1]);
    let data = readonly
        .as_slice()
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    let outcome = py
        .detach(|| auction::vcg_prices(data, bidders, slots))
        .map_err(value_error)?;
    let assignment = PyArray1::from_vec(py, outcome.assignment);
    let prices = PyArray1::from_vec(py, outcome.prices);
    PyTuple::new(
        py,
        [
            assignment.into_any(),
            prices.into_any(),
            PyFloat::new(py, outcome.welfare).into_any(),
        ],
    )
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(calculate_vcg_prices, m)?)?;
    Ok(())
}
