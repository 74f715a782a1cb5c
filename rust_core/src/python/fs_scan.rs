//! FileSystemCore bindings: discover_files and bulk_hash_files.
//!
//! Conversion only: paths arrive as `os.fspath` str (sent to the OS as `os.fsencode` bytes,
//! so names that are not UTF-8 round-trip), the walk and the hashing run with the GIL
//! released, and OS errors become the OSError subclasses Python itself would raise.

use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use super::cache::type_name;
use super::paths::str_path;
use crate::storage::fs_scan::{self, HashOutcome};
use crate::storage::glob::Glob;
use crate::storage::hashing::{Algorithm, UnknownAlgorithm};

/// The error string for a path that is neither a regular file nor a folder.
const NOT_REGULAR: &str = "OSError: not a regular file";

/// `algorithm`, checked as CacheCore checks it (TypeError for a non-str, ValueError else).
fn algorithm(obj: &Bound<'_, PyAny>) -> PyResult<Algorithm> {
    let name = obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("algorithm must be str, not {}", type_name(obj)))
    })?;
    let text = name.to_cow().unwrap_or_default();
    Algorithm::parse(&text)
        .map_err(|_| PyValueError::new_err(UnknownAlgorithm(name.to_string()).to_string()))
}

/// A str as code points, lone surrogates included.
fn code_points(text: &Bound<'_, PyString>) -> PyResult<Vec<u32>> {
    if let Ok(s) = text.to_str() {
        return Ok(s.chars().map(u32::from).collect());
    }
    let raw = text.call_method1("encode", ("utf-32-le", "surrogatepass"))?;
    let raw = raw.cast_into::<PyBytes>()?;
    Ok(raw
        .as_bytes()
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn globs(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Glob>> {
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an iterable of str glob patterns, not a single one"
        )));
    }
    // Every item is type-checked before any is compiled, as `list(...)` then a loop does.
    let items: Vec<Bound<'_, PyAny>> = obj.try_iter()?.collect::<PyResult<_>>()?;
    items
        .iter()
        .map(|item| {
            let text = item.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "each of {what} must be str, not {}",
                    type_name(item)
                ))
            })?;
            Glob::new(&code_points(text)?).map_err(|e| PyValueError::new_err(e.to_string()))
        })
        .collect()
}

/// `OSError(errno, strerror[, filename])`, which Python turns into the errno's subclass.
fn os_error(py: Python<'_>, err: &std::io::Error, filename: Option<Bound<'_, PyAny>>) -> PyErr {
    match err.raw_os_error() {
        Some(code) => {
            let strerror = strerror(code);
            match filename {
                Some(name) => PyOSError::new_err((code, strerror, name.unbind())),
                None => PyOSError::new_err((code, strerror)),
            }
        }
        None => {
            let _ = py;
            PyOSError::new_err(err.to_string())
        }
    }
}

/// C `strerror`, as `os.strerror` gives it: io::Error's text without " (os error N)".
fn strerror(code: i32) -> String {
    let text = std::io::Error::from_raw_os_error(code).to_string();
    text.rsplit_once(" (os error")
        .map_or(text.as_str(), |(head, _)| head)
        .to_owned()
}

/// A relative path as Python str: UTF-8 directly, anything else through os.fsdecode.
fn py_name<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(PyString::new(py, s).into_any()),
        Err(_) => py
            .import("os")?
            .call_method1("fsdecode", (PyBytes::new(py, bytes),)),
    }
}

/// The defaults as Python objects, so an explicit `None` is rejected as in the reference.
fn default_patterns() -> Py<PyAny> {
    Python::attach(|py| {
        PyTuple::new(py, ["*"])
            .map(|t| t.into_any().unbind())
            .unwrap_or_else(|_| py.None())
    })
}

fn default_ignore() -> Py<PyAny> {
    Python::attach(|py| PyTuple::empty(py).into_any().unbind())
}

fn default_algorithm() -> Py<PyAny> {
    Python::attach(|py| PyString::new(py, "sha256").into_any().unbind())
}

/// Sorted relative POSIX paths of the regular files under `root` matching the globs.
#[pyfunction]
#[pyo3(signature = (root, patterns = default_patterns(), ignore = default_ignore()))]
// inspect cannot read a tuple default from a text signature: `patterns` shows as `...`.
#[pyo3(text_signature = "(root, patterns=..., ignore=())")]
fn discover_files<'py>(
    py: Python<'py>,
    root: &Bound<'py, PyAny>,
    patterns: Py<PyAny>,
    ignore: Py<PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let (root_text, root_path) = str_path(root, "root")?;
    let patterns = globs(patterns.bind(py), "patterns")?;
    let ignore = globs(ignore.bind(py), "ignore")?;
    let result = py.detach(|| fs_scan::discover(&root_path, &patterns, &ignore));
    match result {
        Ok(found) => {
            let names = found
                .iter()
                .map(|f| py_name(py, &f.bytes))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, names)
        }
        Err(err) => {
            let filename = if err.rel_dir.is_empty() {
                root_text.into_any()
            } else {
                let rel = py_name(py, &err.rel_dir)?;
                py.import("os.path")?
                    .call_method1("join", (root_text, rel))?
            };
            Err(os_error(py, &err.error, Some(filename)))
        }
    }
}

/// The error string of a failed hash: "<OSError subclass>: [Errno N] <strerror>".
fn describe(py: Python<'_>, err: &std::io::Error) -> String {
    let class = os_error(py, err, None)
        .value(py)
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "OSError".to_owned());
    match err.raw_os_error() {
        Some(code) => format!("{class}: [Errno {code}] {}", strerror(code)),
        None => format!("{class}: {err}"),
    }
}

/// `(path, hex digest or None, error or None)` per path, in order, hashed in parallel.
#[pyfunction]
#[pyo3(signature = (paths, algorithm = default_algorithm()))]
#[pyo3(text_signature = "(paths, algorithm='sha256')")]
fn bulk_hash_files<'py>(
    py: Python<'py>,
    paths: &Bound<'py, PyAny>,
    algorithm: Py<PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let alg = self::algorithm(algorithm.bind(py))?;
    if paths.is_instance_of::<PyString>() || paths.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "paths must be an iterable of paths, not a single str or bytes",
        ));
    }
    let mut texts = Vec::new();
    let mut targets = Vec::new();
    for item in paths.try_iter()? {
        let (text, path) = str_path(&item?, "each path")?;
        texts.push(text);
        targets.push(path);
    }
    let outcomes = py.detach(|| fs_scan::hash_files(alg, &targets));
    let none = py.None();
    let rows = texts
        .into_iter()
        .zip(outcomes)
        .map(|(text, outcome)| {
            let (digest, error) = match outcome {
                HashOutcome::Digest(hex) => {
                    (PyString::new(py, &hex).into_any(), none.bind(py).clone())
                }
                HashOutcome::Failed(err) => (
                    none.bind(py).clone(),
                    PyString::new(py, &describe(py, &err)).into_any(),
                ),
                HashOutcome::NotRegular => (
                    none.bind(py).clone(),
                    PyString::new(py, NOT_REGULAR).into_any(),
                ),
            };
            PyTuple::new(py, [text.into_any(), digest, error])
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, rows)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(discover_files, m)?)?;
    m.add_function(wrap_pyfunction!(bulk_hash_files, m)?)?;
    Ok(())
}
