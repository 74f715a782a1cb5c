//! Float64 vectors and real parameters from Python, checked exactly as `pyagent._numeric`
//! checks them, so both backends raise the same exception class on the same bad input.
//!
//! A C-contiguous float64 ndarray is read in place (no copy, no per-element conversion).
//! Anything else goes through one `numpy.asarray` call, the dtype and shape checks the
//! Python reference makes, and one `astype(float64)`: lists are converted once, by numpy.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyType};

use crate::numeric::checks::InvalidInput;

/// A one-dimensional float64 input: a borrowed contiguous array, or a copy of a strided one.
pub enum FloatVec<'py> {
    View(PyReadonlyArray1<'py, f64>),
    Owned(Vec<f64>),
}

impl FloatVec<'_> {
    pub fn as_slice(&self) -> &[f64] {
        match self {
            // View is only built for contiguous arrays, so as_slice cannot fail.
            FloatVec::View(array) => array.as_slice().unwrap_or(&[]),
            FloatVec::Owned(values) => values,
        }
    }
}

fn from_array<'py>(array: &Bound<'py, PyArray1<f64>>) -> PyResult<FloatVec<'py>> {
    let readonly = array
        .try_readonly()
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    if readonly.as_slice().is_ok() {
        Ok(FloatVec::View(readonly))
    } else {
        Ok(FloatVec::Owned(
            readonly.as_array().iter().copied().collect(),
        ))
    }
}

fn numpy_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static NUMPY: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    NUMPY
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("numpy")?.unbind()))
        .map(|m| m.bind(py))
}

/// `values` as a one-dimensional float64 vector, or the error `pyagent._numeric.float_vector`
/// raises: numpy's own for unconvertible input, TypeError for a non-real dtype, ValueError
/// for another shape.
pub fn float_vector<'py>(values: &Bound<'py, PyAny>, name: &str) -> PyResult<FloatVec<'py>> {
    if let Ok(array) = values.cast::<PyArray1<f64>>() {
        return from_array(array);
    }
    let array = numpy_module(values.py())?.call_method1("asarray", (values,))?;
    let dtype = array.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "i" | "u" | "f") {
        return Err(PyTypeError::new_err(format!(
            "{name} must hold real numbers, not dtype {}",
            dtype.str()?
        )));
    }
    let ndim: usize = array.getattr("ndim")?.extract()?;
    if ndim != 1 {
        return Err(PyValueError::new_err(format!(
            "{name} must be one-dimensional, got shape {}",
            array.getattr("shape")?.repr()?
        )));
    }
    let converted = array.call_method1("astype", ("float64",))?;
    let typed = converted.cast::<PyArray1<f64>>()?;
    from_array(typed)
}

/// `value` as f64, or TypeError unless it is a `numbers.Real` other than `bool`.
pub fn real_number(value: &Bound<'_, PyAny>, name: &str) -> PyResult<f64> {
    static REAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let is_real = if value.is_instance_of::<PyBool>() {
        false
    } else if value.is_instance_of::<PyFloat>() || value.is_instance_of::<PyInt>() {
        true
    } else {
        value.is_instance(REAL.import(value.py(), "numbers", "Real")?)?
    };
    if !is_real {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a real number, not {}",
            value.get_type().name()?
        )));
    }
    value.extract::<f64>()
}

/// An owned float64 ndarray handed to Python without a copy.
pub fn to_numpy(py: Python<'_>, values: Vec<f64>) -> Bound<'_, PyArray1<f64>> {
    PyArray1::from_vec(py, values)
}

/// Bad numeric input is a ValueError, as in the Python reference.
pub fn value_error(err: InvalidInput) -> PyErr {
    PyValueError::new_err(err.0)
}
