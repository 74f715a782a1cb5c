//! Path arguments, as `pyagent/_files.py` `str_path` checks them: `str` or
//! `os.PathLike[str]` (bytes paths are a TypeError), no NUL (ValueError), sent to the OS as
//! `os.fsencode` bytes so names that are not UTF-8 (surrogate escapes) round-trip.

use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::cache::type_name;

/// A str or os.PathLike[str] as (the str, its os.fsencode bytes as a path).
pub fn str_path<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<(Bound<'py, PyString>, PathBuf)> {
    let py = obj.py();
    let os = py.import("os")?;
    let text = if obj.is_instance_of::<PyString>() {
        obj.clone()
    } else {
        os.call_method1("fspath", (obj,)).map_err(|err| {
            if err.is_instance_of::<PyTypeError>(py) {
                PyTypeError::new_err(format!(
                    "{what} must be str or os.PathLike[str], not {}",
                    type_name(obj)
                ))
            } else {
                err
            }
        })?
    };
    let text = text.cast_into::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be str or os.PathLike[str], not bytes"))
    })?;
    // A str subclass by its text, as an exact str (docs/limits.md, "Hostile arguments"):
    // `str.__str__` copies the storage without calling an override, as the reference's
    // `stored` does, so results name the path as a plain str on both backends.
    let text = if text.is_exact_instance_of::<PyString>() {
        text
    } else {
        py.get_type::<PyString>()
            .call_method1("__str__", (&text,))?
            .cast_into::<PyString>()?
    };
    let bytes: Vec<u8> = match text.to_str() {
        Ok(s) => s.as_bytes().to_vec(),
        Err(_) => os
            .call_method1("fsencode", (&text,))?
            .cast_into::<PyBytes>()?
            .as_bytes()
            .to_vec(),
    };
    if bytes.contains(&0) {
        return Err(PyValueError::new_err(format!(
            "{what} contains a NUL character"
        )));
    }
    Ok((text, PathBuf::from(os_path(bytes))))
}

#[cfg(unix)]
fn os_path(bytes: Vec<u8>) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(bytes)
}

#[cfg(not(unix))]
fn os_path(bytes: Vec<u8>) -> std::ffi::OsString {
    String::from_utf8_lossy(&bytes).into_owned().into()
}
