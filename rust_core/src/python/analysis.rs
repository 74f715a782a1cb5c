//! AnalysisCore bindings: calculate_complexity_rust and its batch form.
//!
//! Sources are copied out as UTF-8 (str) or validated as UTF-8 (bytes) with the GIL held,
//! then parsed and scored with the GIL released (the batch on rayon's pool; the parser and
//! the walk grow their own stacks, so any thread will do). Results are built as
//! `pyagent.analysis_core.Block` and `ComplexityReport` named tuples, so both backends
//! return the same types.

use pyo3::exceptions::{PySyntaxError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString, PyTuple, PyType};
use rayon::prelude::*;

use crate::text::complexity::{analyze, ComplexityError, Report};

/// Why a source does not go to the native parser.
enum Refused {
    /// The contract's own refusals (not a str or bytes: TypeError; a NUL: SyntaxError with
    /// the reference's message), raised here so that the reference's own checks have an
    /// independent twin: handed over, a bug in them would go the same way on both backends.
    Raise(PyErr),
    /// Bytes that are not UTF-8, a str that is not valid Unicode or starts with a byte order
    /// mark: the reference words the error (CPython's decoder and parser messages).
    Defer,
}

/// The source as UTF-8 text: a str's UTF-8, or bytes decoded strictly (SyntaxError if not
/// UTF-8, as the Python reference); NUL is a SyntaxError in both.
fn source_text(obj: &Bound<'_, PyAny>) -> Result<String, Refused> {
    let text = if let Ok(s) = obj.cast::<PyString>() {
        s.to_str().map_err(|_| Refused::Defer)?.to_owned()
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        // A file's UTF-8 byte order mark is not source (CPython skips it when reading bytes).
        let bytes = b.as_bytes();
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        std::str::from_utf8(bytes)
            .map_err(|_| Refused::Defer)?
            .to_owned()
    } else {
        let name = obj
            .get_type()
            .name()
            .map_or_else(|_| "object".to_owned(), |n| n.to_string());
        return Err(Refused::Raise(PyTypeError::new_err(format!(
            "source must be str or bytes, not {name}"
        ))));
    };
    if text.starts_with('\u{feff}') {
        return Err(Refused::Defer);
    }
    if text.contains('\0') {
        return Err(Refused::Raise(PySyntaxError::new_err(NUL_MESSAGE)));
    }
    Ok(text)
}

/// The reference's message for a source holding a NUL (CPython's parser words it otherwise,
/// and some 3.11 releases raise ValueError for it: 3.11.2 does, 3.11.7 does not).
const NUL_MESSAGE: &str = "source code cannot contain null bytes";

/// The Python reference for one source (`_reference`) or one batch item (`_batch_item`):
/// what the native path hands over whenever Ruff's parser refuses a source, so an invalid
/// source raises exactly the SyntaxError (class, message, position) CPython's parser gives,
/// and a source only CPython accepts is still scored.
fn reference<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static REFERENCE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static BATCH_ITEM: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let cell = if name == "_reference" {
        &REFERENCE
    } else {
        &BATCH_ITEM
    };
    Ok(cell.import(py, "pyagent.analysis_core", name)?.clone())
}

fn to_python<'py>(py: Python<'py>, report: Report) -> PyResult<Bound<'py, PyAny>> {
    static BLOCK: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static REPORT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let block = BLOCK.import(py, "pyagent.analysis_core", "Block")?;
    let report_type = REPORT.import(py, "pyagent.analysis_core", "ComplexityReport")?;
    let blocks = report
        .blocks
        .into_iter()
        .map(|b| block.call1((b.kind.as_str(), b.name, b.line, b.col, b.complexity)))
        .collect::<PyResult<Vec<_>>>()?;
    report_type.call1((PyTuple::new(py, blocks)?, report.total))
}

fn is_py311(py: Python<'_>) -> bool {
    py.version_info() < (3, 12)
}

/// Cyclomatic complexity of every function, method and class of `source`, by radon's rules.
#[pyfunction]
#[pyo3(name = "calculate_complexity_rust")]
pub fn calculate_complexity<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let text = match source_text(source) {
        Ok(text) => text,
        Err(Refused::Raise(error)) => return Err(error),
        Err(Refused::Defer) => return reference(py, "_reference")?.call1((source,)),
    };
    let py311 = is_py311(py);
    match py.detach(|| analyze(&text, py311)) {
        Ok(report) => to_python(py, report),
        Err(_) => reference(py, "_reference")?.call1((source,)),
    }
}

/// `calculate_complexity_rust` of each source, parsed in parallel. As in the Python
/// reference, the first source (by position) that fails raises, its index in the message.
#[pyfunction]
pub fn calculate_complexity_batch<'py>(
    py: Python<'py>,
    sources: &Bound<'py, PyAny>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if sources.is_instance_of::<PyString>() || sources.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "sources must be a sequence of sources, not a single str or bytes",
        ));
    }
    let objects = sources
        .try_iter()?
        .collect::<PyResult<Vec<Bound<'py, PyAny>>>>()?;
    // Sources up to the first one that is not UTF-8 text; that one is raised here or
    // handed to the reference, once every source before it is scored.
    let mut texts = Vec::with_capacity(objects.len());
    let mut refused = None;
    for object in &objects {
        match source_text(object) {
            Ok(text) => texts.push(text),
            Err(why) => {
                refused = Some(why);
                break;
            }
        }
    }
    let py311 = is_py311(py);
    let reports: Vec<Result<Report, ComplexityError>> =
        py.detach(|| texts.par_iter().map(|text| analyze(text, py311)).collect());
    let mut out = Vec::with_capacity(objects.len());
    let mut reports = reports.into_iter();
    for (index, object) in objects.iter().enumerate() {
        match reports.next() {
            Some(Ok(report)) => out.push(to_python(py, report)?),
            // Refused by Ruff's parser: the reference raises or scores it.
            Some(Err(_)) => out.push(reference(py, "_batch_item")?.call1((index, object))?),
            None => match refused.take() {
                Some(Refused::Raise(error)) if error.is_instance_of::<PySyntaxError>(py) => {
                    return Err(PySyntaxError::new_err(format!(
                        "source {index}: {NUL_MESSAGE}"
                    )))
                }
                Some(Refused::Raise(error)) => return Err(error),
                _ => out.push(reference(py, "_batch_item")?.call1((index, object))?),
            },
        }
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(calculate_complexity, m)?)?;
    m.add_function(wrap_pyfunction!(calculate_complexity_batch, m)?)?;
    Ok(())
}
