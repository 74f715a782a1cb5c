//! ValidationCore content-rules binding: validate_content_rust.
//!
//! Reads the rules (TypeError for anything but four str fields), compiles them in order
//! (ValueError for the first pattern or glob outside the shared subset), then the contents
//! (str as UTF-8 or any buffer, borrowed without copying) and the optional paths, in the
//! reference's order so the first bad argument raises the same class. The scan runs with the
//! GIL released. Findings are `pyagent.validation_core.Finding` records whose rule name and
//! severity are the caller's own str objects.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple, PyType};

use super::buffer::TextOrBytes;
use crate::text::content::{check_glob, check_pattern, RuleSet, RuleSpec};

static FINDING: PyOnceLock<Py<PyType>> = PyOnceLock::new();

struct PyRule<'py> {
    name: Bound<'py, PyString>,
    pattern: Bound<'py, PyString>,
    severity: Bound<'py, PyString>,
    glob: Bound<'py, PyString>,
}

fn read_rules<'py>(rules: &Bound<'py, PyAny>) -> PyResult<Vec<PyRule<'py>>> {
    if rules.is_instance_of::<PyString>() || rules.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "rules must be an iterable of (name, pattern, severity, glob)",
        ));
    }
    let mut out = Vec::new();
    for rule in rules.try_iter()? {
        let rule = rule?;
        let fields: Vec<Bound<'py, PyAny>> = if let Ok(tuple) = rule.cast::<PyTuple>() {
            tuple.iter().collect()
        } else if let Ok(list) = rule.cast::<PyList>() {
            list.iter().collect()
        } else {
            Vec::new()
        };
        if fields.len() != 4 {
            return Err(PyTypeError::new_err(format!(
                "a rule must be a (name, pattern, severity, glob) tuple: {}",
                rule.repr()?
            )));
        }
        let mut strings = Vec::with_capacity(4);
        for field in fields {
            match field.cast_into::<PyString>() {
                Ok(text) => strings.push(text),
                Err(_) => {
                    return Err(PyTypeError::new_err(format!(
                        "rule fields must be str: {}",
                        rule.repr()?
                    )))
                }
            }
        }
        let mut strings = strings.into_iter();
        if let (Some(name), Some(pattern), Some(severity), Some(glob)) = (
            strings.next(),
            strings.next(),
            strings.next(),
            strings.next(),
        ) {
            out.push(PyRule {
                name,
                pattern,
                severity,
                glob,
            });
        }
    }
    Ok(out)
}

/// Every match of every rule in every content (see pyagent.validation_core.validate_content).
#[pyfunction]
#[pyo3(signature = (contents, rules, *, paths = None))]
fn validate_content_rust<'py>(
    py: Python<'py>,
    contents: &Bound<'py, PyAny>,
    rules: &Bound<'py, PyAny>,
    paths: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let rules = read_rules(rules)?;
    // Per rule, in order: the pattern, then the glob, as the reference checks them.
    let mut specs_text: Vec<(String, String)> = Vec::with_capacity(rules.len());
    for rule in &rules {
        let pattern = rule.pattern.to_str().map_err(|_| {
            PyValueError::new_err("patterns are ASCII (use \\xHH for bytes)".to_owned())
        })?;
        check_pattern(pattern).map_err(PyValueError::new_err)?;
        let glob = rule.glob.to_str()?;
        check_glob(glob).map_err(PyValueError::new_err)?;
        specs_text.push((pattern.to_owned(), glob.to_owned()));
    }
    let specs: Vec<RuleSpec<'_>> = specs_text
        .iter()
        .map(|(pattern, glob)| RuleSpec { pattern, glob })
        .collect();
    let set = py
        .detach(|| RuleSet::new(&specs))
        .map_err(PyValueError::new_err)?;

    let mut held = Vec::new();
    for content in contents.try_iter()? {
        held.push(TextOrBytes::extract(&content?, "contents")?);
    }
    let mut path_text: Option<Vec<String>> = None;
    if let Some(paths) = paths.filter(|p| !p.is_none()) {
        if paths.is_instance_of::<PyString>() || paths.is_instance_of::<PyBytes>() {
            return Err(PyTypeError::new_err(
                "paths must be an iterable of str, one per content",
            ));
        }
        let mut list = Vec::new();
        for path in paths.try_iter()? {
            let path = path?;
            let Ok(text) = path.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!(
                    "paths must be str, not {}",
                    path.get_type().name()?
                )));
            };
            list.push(text.to_str()?.to_owned());
        }
        if list.len() != held.len() {
            return Err(PyValueError::new_err(format!(
                "{} paths for {} contents",
                list.len(),
                held.len()
            )));
        }
        path_text = Some(list);
    }

    let slices: Vec<&[u8]> = held.iter().map(TextOrBytes::as_bytes).collect();
    let path_refs: Option<Vec<&str>> = path_text
        .as_ref()
        .map(|list| list.iter().map(String::as_str).collect());
    let findings = py.detach(|| set.scan(&slices, path_refs.as_deref()));

    let class = FINDING
        .get_or_try_init(py, || {
            py.import("pyagent.validation_core")?
                .getattr("Finding")?
                .cast_into::<PyType>()
                .map(Bound::unbind)
                .map_err(PyErr::from)
        })?
        .bind(py);
    let out = PyList::empty(py);
    for finding in findings {
        let rule = &rules[finding.rule];
        out.append(class.call1((
            &rule.name,
            finding.index,
            finding.start,
            finding.end,
            &rule.severity,
        ))?)?;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(validate_content_rust, m)?)?;
    Ok(())
}
