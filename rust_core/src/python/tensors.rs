//! Float32 tensors from Python, checked exactly as `pyagent._tensor` checks them, so both
//! backends raise the same exception class on the same bad input.
//!
//! Arrays are read in place through rust-numpy (a C-contiguous float32 ndarray is borrowed,
//! never copied; a strided one is copied once, in logical order). In-place targets are
//! borrowed writeable after the same read-only and overlap checks the reference makes.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{
    dtype, IntoPyArray, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyReadwriteArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyString};

use crate::tensor::lora::Mat;

/// `value` as a float32 ndarray with one of `ndims` dimensions: TypeError if it is not an
/// ndarray, ValueError for another dtype or rank.
pub fn f32_array<'py>(
    value: &Bound<'py, PyAny>,
    name: &str,
    ndims: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let Ok(untyped) = value.cast::<PyUntypedArray>() else {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a numpy.ndarray, not {}",
            value.get_type().name()?
        )));
    };
    let found = untyped.dtype();
    if !found.is_equiv_to(&dtype::<f32>(value.py())) {
        return Err(PyValueError::new_err(format!(
            "{name} must have dtype float32, not {}",
            found.str()?
        )));
    }
    if !ndims.contains(&untyped.ndim()) {
        let wanted: Vec<String> = ndims.iter().map(|n| format!("{n}-D")).collect();
        return Err(PyValueError::new_err(format!(
            "{name} must be {}, got shape {:?}",
            wanted.join(" or "),
            untyped.shape()
        )));
    }
    Ok(untyped.cast::<PyArrayDyn<f32>>()?.clone())
}

/// The values of a float32 array in row-major order: borrowed when C-contiguous.
pub enum F32Data<'py> {
    View(PyReadonlyArrayDyn<'py, f32>),
    Owned(Vec<f32>),
}

/// A 1-D or 2-D float32 array as a row-major matrix (a vector is one row).
pub struct F32Matrix<'py> {
    data: F32Data<'py>,
    pub rows: usize,
    pub cols: usize,
}

impl<'py> F32Matrix<'py> {
    pub fn read(array: &Bound<'py, PyArrayDyn<f32>>) -> PyResult<Self> {
        let shape = array.shape().to_vec();
        let (rows, cols) = match shape.as_slice() {
            [n] => (1, *n),
            [r, c] => (*r, *c),
            _ => return Err(PyValueError::new_err("expected a 1-D or 2-D array")),
        };
        // rust-numpy's as_slice also accepts Fortran order; only C order is row-major.
        let c_order = array.is_c_contiguous();
        let readonly = array.try_readonly().map_err(borrow_error)?;
        let data = if c_order && readonly.as_slice().is_ok() {
            F32Data::View(readonly)
        } else {
            F32Data::Owned(readonly.as_array().iter().copied().collect())
        };
        Ok(F32Matrix { data, rows, cols })
    }

    pub fn as_slice(&self) -> &[f32] {
        match &self.data {
            // View is only built for contiguous arrays, so as_slice cannot fail.
            F32Data::View(array) => array.as_slice().unwrap_or(&[]),
            F32Data::Owned(values) => values,
        }
    }

    /// The matrix as the pure-Rust view; its length always matches rows * cols.
    pub fn mat(&self) -> Mat<'_> {
        Mat {
            data: self.as_slice(),
            rows: self.rows,
            cols: self.cols,
        }
    }
}

fn borrow_error(err: numpy::BorrowError) -> PyErr {
    PyValueError::new_err(format!("cannot borrow the array: {err}"))
}

/// The address range `[lo, hi)` an array's elements span, None when it has none: the bounds
/// `numpy.may_share_memory` compares.
fn extent(array: &Bound<'_, PyArrayDyn<f32>>) -> Option<(i128, i128)> {
    let shape = array.shape();
    if shape.contains(&0) {
        return None;
    }
    let start = array.data() as usize as i128;
    let (mut lo, mut hi) = (start, start);
    for (&n, &stride) in shape.iter().zip(array.strides()) {
        let span = stride as i128 * (n as i128 - 1);
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    Some((lo, hi + std::mem::size_of::<f32>() as i128))
}

/// `numpy.may_share_memory(a, b)`: whether the arrays' address bounds overlap.
pub fn may_share(a: &Bound<'_, PyArrayDyn<f32>>, b: &Bound<'_, PyArrayDyn<f32>>) -> bool {
    match (extent(a), extent(b)) {
        (Some((alo, ahi)), Some((blo, bhi))) => alo < bhi && blo < ahi,
        _ => false,
    }
}

/// ValueError unless `array.flags.writeable`.
pub fn require_writeable(array: &Bound<'_, PyArrayDyn<f32>>, message: &str) -> PyResult<()> {
    let writeable: bool = array.getattr("flags")?.getattr("writeable")?.extract()?;
    if writeable {
        Ok(())
    } else {
        Err(PyValueError::new_err(message.to_owned()))
    }
}

/// A writeable borrow of an in-place target, and its values as one mutable row-major slice
/// (the array itself when C-contiguous, else a copy written back by [`Target::finish`]).
pub struct Target<'py> {
    array: PyReadwriteArrayDyn<'py, f32>,
    copy: Option<Vec<f32>>,
}

impl<'py> Target<'py> {
    pub fn borrow(array: &Bound<'py, PyArrayDyn<f32>>) -> PyResult<Self> {
        let c_order = array.is_c_contiguous();
        let array = array.try_readwrite().map_err(borrow_error)?;
        let copy = if c_order && array.as_slice().is_ok() {
            None
        } else {
            Some(array.as_array().iter().copied().collect())
        };
        Ok(Target { array, copy })
    }

    pub fn slice(&mut self) -> &mut [f32] {
        match &mut self.copy {
            Some(values) => values,
            None => self.array.as_slice_mut().unwrap_or(&mut []),
        }
    }

    /// Writes a strided target's copy back into the array.
    pub fn finish(mut self) {
        if let Some(values) = self.copy.take() {
            let mut view = self.array.as_array_mut();
            for (dst, src) in view.iter_mut().zip(values) {
                *dst = src;
            }
        }
    }
}

/// A new C-contiguous float32 array of zeros, allocated by numpy: for large arrays numpy
/// asks the OS for transparent huge pages (`madvise`), so the first write to the output
/// costs a few 2 MiB page faults instead of thousands of 4 KiB ones.
pub fn f32_zeros<'py>(py: Python<'py>, shape: &[usize]) -> Bound<'py, PyArrayDyn<f32>> {
    PyArrayDyn::<f32>::zeros(py, IxDyn(shape), false)
}

/// A new C-contiguous float32 array of `shape` holding `values` (no copy).
pub fn f32_output<'py>(
    py: Python<'py>,
    shape: &[usize],
    values: Vec<f32>,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .map(|a| a.into_pyarray(py))
        .map_err(|err| PyValueError::new_err(err.to_string()))
}

/// A new C-contiguous int64 array of `shape` holding `values` (no copy).
pub fn i64_output<'py>(
    py: Python<'py>,
    shape: &[usize],
    values: Vec<i64>,
) -> PyResult<Bound<'py, PyArrayDyn<i64>>> {
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .map(|a| a.into_pyarray(py))
        .map_err(|err| PyValueError::new_err(err.to_string()))
}

/// `value` if it is a bool; TypeError otherwise (as `pyagent._tensor.require_bool`).
pub fn require_bool(value: &Bound<'_, PyAny>, name: &str) -> PyResult<bool> {
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(flag.is_true());
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be a bool, not {}",
        value.get_type().name()?
    )))
}

/// `value` as an integer >= 1 (huge values saturate): TypeError for a non-integer or bool,
/// ValueError below 1 (as `pyagent._tensor.positive_int`).
pub fn positive_int(value: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    static INDEX: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = value.py();
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an integer, not bool"
        )));
    }
    let index = INDEX.import(py, "operator", "index")?;
    let number = match index.call1((value,)) {
        Ok(number) => number,
        Err(err) if err.is_instance_of::<PyTypeError>(py) => {
            return Err(PyTypeError::new_err(format!(
                "{name} must be an integer, not {}",
                value.get_type().name()?
            )))
        }
        Err(err) => return Err(err),
    };
    if number.lt(1)? {
        return Err(PyValueError::new_err(format!(
            "{name} must be at least 1, got {number}"
        )));
    }
    Ok(number.extract::<usize>().unwrap_or(usize::MAX))
}

/// `value` as a str: TypeError otherwise.
pub fn require_str<'py>(value: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyString>> {
    match value.cast::<PyString>() {
        Ok(text) => Ok(text.clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{name} must be a str, not {}",
            value.get_type().name()?
        ))),
    }
}
