//! SearchCore binding: find_literal_rust.
//!
//! Arguments are checked in the order the Python reference checks them (types, encoding,
//! values, glob, root), so a call with several faults raises the same exception class.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use pyo3::exceptions::{PyNotADirectoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyList, PyString, PyTuple};

use super::errors::os_error;
use crate::storage::search::{find_literal, Options, SearchError};

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

fn default_glob() -> Py<PyAny> {
    Python::attach(|py| PyString::new(py, "*").into_any().unbind())
}

fn default_false() -> Py<PyAny> {
    Python::attach(|py| PyBool::new(py, false).to_owned().into_any().unbind())
}

/// Every line under `root` containing `needle`: `[(path, line, column, text), ...]`.
#[pyfunction]
#[pyo3(signature = (needle, root, *, glob = default_glob(), ignore_case = default_false(), max_count = None))]
#[pyo3(text_signature = "(needle, root, *, glob='*', ignore_case=False, max_count=None)")]
fn find_literal_rust<'py>(
    py: Python<'py>,
    needle: &Bound<'py, PyAny>,
    root: &Bound<'py, PyAny>,
    glob: Py<PyAny>,
    ignore_case: Py<PyAny>,
    max_count: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let (glob, ignore_case) = (glob.bind(py), ignore_case.bind(py));
    let needle = needle.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("needle must be str, not {}", type_name(needle)))
    })?;
    let glob = glob
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("glob must be str, not {}", type_name(glob))))?;
    if !ignore_case.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "ignore_case must be bool, not {}",
            type_name(ignore_case)
        )));
    }
    let ignore_case = ignore_case.is_truthy()?;
    let max_count = match max_count {
        Some(value) if !value.is_none() => {
            if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
                return Err(PyTypeError::new_err(format!(
                    "max_count must be None or int, not {}",
                    type_name(value)
                )));
            }
            Some(value)
        }
        _ => None,
    };
    let os = py.import("os")?;
    let path_like = os.getattr("PathLike")?;
    if !(root.is_instance_of::<PyString>() || root.is_instance(&path_like)?) {
        return Err(PyTypeError::new_err(format!(
            "root must be str or os.PathLike[str], not {}",
            type_name(root)
        )));
    }
    let top = os.call_method1("fspath", (root,))?;
    if !top.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "root must be str or os.PathLike[str], not bytes",
        ));
    }
    let top: OsString = top.extract()?;
    let needle = needle.to_str()?.as_bytes().to_vec();
    let glob = glob.to_str()?.as_bytes().to_vec();
    if needle.is_empty() {
        return Err(PyValueError::new_err("needle must not be empty"));
    }
    if needle.contains(&b'\n') {
        return Err(PyValueError::new_err(
            "needle must not contain a line break",
        ));
    }
    let max_count = match max_count {
        None => None,
        Some(value) => {
            if value.lt(0)? {
                return Err(PyValueError::new_err(format!(
                    "max_count must be >= 0, got {value}"
                )));
            }
            // Anything beyond u64 is as good as no limit.
            Some(value.extract::<u64>().unwrap_or(u64::MAX))
        }
    };
    if let Err(message) = crate::storage::search::compile_wildcard(&glob) {
        let text = String::from_utf8_lossy(&glob).into_owned();
        return Err(PyValueError::new_err(format!(
            "invalid glob {text:?}: {message}"
        )));
    }
    if top.as_bytes().contains(&0) {
        return Err(PyValueError::new_err("embedded null byte"));
    }
    let options = Options {
        glob: &glob,
        ignore_case,
        max_count,
    };
    let found = py.detach(|| find_literal(&needle, &top, &options));
    let hits = match found {
        Ok(hits) => hits,
        Err(SearchError::InvalidGlob(message)) => {
            return Err(PyValueError::new_err(format!("invalid glob: {message}")))
        }
        Err(SearchError::Io(err)) => return Err(os_error(err, Some(top.as_ref()))),
        Err(SearchError::NotADirectory) => {
            return Err(PyNotADirectoryError::new_err((
                20,
                "Not a directory",
                top.to_string_lossy().into_owned(),
            )))
        }
    };
    let out = PyList::empty(py);
    for hit in hits {
        let text = String::from_utf8_lossy(&hit.text);
        let item = PyTuple::new(
            py,
            [
                hit.path.as_os_str().into_pyobject(py)?.into_any(),
                hit.line.into_pyobject(py)?.into_any(),
                hit.column.into_pyobject(py)?.into_any(),
                PyString::new(py, &text).into_any(),
            ],
        )?;
        out.append(item)?;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(find_literal_rust, m)?)?;
    Ok(())
}
