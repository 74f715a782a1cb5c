//! Float64 vectors and real parameters from Python, checked exactly as `pyagent._numeric`
//! checks them, so both backends raise the same exception class on the same bad input.
//!
//! A C-contiguous float64 ndarray is read in place (no copy, no per-element conversion).
//! A list of Python floats and ints (the ints within int64) is read straight from the list's
//! item storage: the values numpy would give, without building an array first (which took
//! as long as the work itself). Anything else goes through one `numpy.asarray` call, the
//! dtype and shape checks the Python reference makes, and one `astype(float64)`.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyType};
use pyo3::{ffi, PyTypeInfo};

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

/// The items of an exact list as f64 when every one is an exact `float` or an exact `int`
/// within int64: what `numpy.asarray(values).astype(float64)` gives (an int64 converts to
/// the nearest float64, ties to even, as `i64 as f64` does). None for anything else (bools,
/// subclasses, big ints, nested lists, ...), which the numpy path then decides.
fn list_floats(values: &Bound<'_, PyAny>) -> Option<Vec<f64>> {
    if !values.is_exact_instance_of::<PyList>() {
        return None;
    }
    let list = values.as_ptr();
    // SAFETY: `list` is an exact list; we hold the GIL.
    let len = unsafe { ffi::PyList_GET_SIZE(list) };
    let float_type = PyFloat::type_object_raw(values.py());
    let int_type = PyInt::type_object_raw(values.py());
    let mut out = Vec::with_capacity(usize::try_from(len).ok()?);
    for i in 0..len {
        // SAFETY: we hold the GIL and run no Python code in this loop, so the list keeps its
        // length and items; `i < len`. The item is borrowed, not kept past the loop.
        let item = unsafe { ffi::PyList_GET_ITEM(list, i) };
        // SAFETY: `item` is a live object (owned by the list).
        let kind = unsafe { ffi::Py_TYPE(item) };
        if kind == float_type {
            // SAFETY: `item` is an exact float.
            out.push(unsafe { ffi::PyFloat_AS_DOUBLE(item) });
        } else if kind == int_type {
            let mut overflow = 0;
            // SAFETY: `item` is an exact int; overflow is reported in `overflow`, and an
            // exact int raises nothing else.
            let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(item, &mut overflow) };
            if overflow != 0 {
                return None;
            }
            out.push(value as f64);
        } else {
            return None;
        }
    }
    Some(out)
}

/// `values` as a one-dimensional float64 vector, or the error `pyagent._numeric.float_vector`
/// raises: numpy's own for unconvertible input, TypeError for a non-real dtype, ValueError
/// for another shape.
pub fn float_vector<'py>(values: &Bound<'py, PyAny>, name: &str) -> PyResult<FloatVec<'py>> {
    if let Ok(array) = values.cast::<PyArray1<f64>>() {
        return from_array(array);
    }
    if let Some(floats) = list_floats(values) {
        return Ok(FloatVec::Owned(floats));
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
