//! BaseCore binding: save_atomic.

use pyo3::exceptions::{PyBufferError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyBytes, PyString};

use super::buffer::{ByteView, TextOrBytes};
use super::errors::os_error;
use super::paths::str_path;
use crate::storage::atomic_write::{split_target, write_atomic};

/// Bytes to write: buffers as they are, str as UTF-8, anything else as JSON.
///
/// JSON goes through the standard library's encoder (`ensure_ascii=False`,
/// `allow_nan=False`) on both backends, so both write byte-identical files and reject the
/// same values; the hot part owned here is the durable write.
fn payload<'py>(data: &Bound<'py, PyAny>) -> PyResult<TextOrBytes<'py>> {
    if data.is_instance_of::<PyString>() {
        return TextOrBytes::extract(data, "data");
    }
    if data.is_instance_of::<PyBytes>() {
        return TextOrBytes::extract(data, "data");
    }
    match ByteView::get(data) {
        Ok(view) => return Ok(TextOrBytes::Buffer(view)),
        // Only "not a buffer" means JSON; a buffer that refuses is an error.
        Err(err) if !err.is_instance_of::<PyTypeError>(data.py()) => {
            return Err(not_contiguous(data).unwrap_or(err))
        }
        Err(_) => {}
    }
    let py = data.py();
    let kwargs = [("ensure_ascii", false), ("allow_nan", false)].into_py_dict(py)?;
    let text = py
        .import("json")?
        .call_method("dumps", (data,), Some(&kwargs))?;
    TextOrBytes::extract(&text, "data")
}

/// The reference's BufferError for a buffer that is not C-contiguous. Exporters refuse a
/// simple (contiguous) view each in their own way (numpy: ValueError, memoryview:
/// BufferError); the reference looks at the full view, so the class is always BufferError.
fn not_contiguous(data: &Bound<'_, PyAny>) -> Option<PyErr> {
    let view = data
        .py()
        .import("builtins")
        .and_then(|b| b.getattr("memoryview"))
        .and_then(|memoryview| memoryview.call1((data,)))
        .ok()?;
    let contiguous: bool = view
        .getattr("c_contiguous")
        .and_then(|c| c.extract())
        .ok()?;
    (!contiguous)
        .then(|| PyBufferError::new_err("memoryview: underlying buffer is not C-contiguous"))
}

/// Writes `data` to `path` atomically and durably (temp file, fsync, rename, folder fsync).
#[pyfunction]
fn save_atomic(py: Python<'_>, path: &Bound<'_, PyAny>, data: &Bound<'_, PyAny>) -> PyResult<()> {
    let (text, target) = str_path(path, "save_atomic path")?;
    split_target(&target).map_err(|_| invalid_target(&text))?;
    let payload = payload(data)?;
    let bytes = payload.as_bytes();
    py.detach(|| write_atomic(&target, bytes)).map_err(|err| {
        if err.kind() == std::io::ErrorKind::InvalidInput && err.raw_os_error().is_none() {
            // A link that points at a folder-like name ("x/", ".."): the reference's error.
            return PyValueError::new_err(err.to_string());
        }
        os_error(err, Some(&target))
    })
}

fn invalid_target(text: &Bound<'_, PyString>) -> PyErr {
    let shown = text
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| text.to_string());
    PyValueError::new_err(format!("save_atomic needs a path to a file, got {shown}"))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(save_atomic, m)?)?;
    Ok(())
}
