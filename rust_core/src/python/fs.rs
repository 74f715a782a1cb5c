//! BaseCore binding: save_atomic.

use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyBytes, PyString};

use super::buffer::{ByteView, TextOrBytes};
use super::errors::os_error;
use crate::atomic_write::write_atomic;

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
        // Only "not a buffer" means JSON; a buffer that refuses (BufferError) is an error.
        Err(err) if !err.is_instance_of::<PyTypeError>(data.py()) => return Err(err),
        Err(_) => {}
    }
    let py = data.py();
    let kwargs = [("ensure_ascii", false), ("allow_nan", false)].into_py_dict(py)?;
    let text = py
        .import("json")?
        .call_method("dumps", (data,), Some(&kwargs))?;
    TextOrBytes::extract(&text, "data")
}

/// The target as `os.fspath` gives it, with the file name rule of `os.path.split`.
fn target_path(path: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    let fspath = path.py().import("os")?.call_method1("fspath", (path,))?;
    if fspath.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "save_atomic paths must be str or os.PathLike[str]",
        ));
    }
    let text: String = fspath.extract()?;
    let name = text.rsplit('/').next().unwrap_or_default();
    if matches!(name, "" | "." | "..") {
        return Err(PyValueError::new_err(format!(
            "save_atomic needs a path to a file, got {text:?}"
        )));
    }
    Ok(PathBuf::from(text))
}

/// Writes `data` to `path` atomically and durably (temp file, fsync, rename, folder fsync).
#[pyfunction]
fn save_atomic(py: Python<'_>, path: &Bound<'_, PyAny>, data: &Bound<'_, PyAny>) -> PyResult<()> {
    let target = target_path(path)?;
    let payload = payload(data)?;
    let bytes = payload.as_bytes();
    py.detach(|| write_atomic(&target, bytes))
        .map_err(|err| os_error(err, Some(&target)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(save_atomic, m)?)?;
    Ok(())
}
