//! ValidationCore JSON Schema binding: Python values to `serde_json::Value`, then the
//! `jsonschema` crate with the GIL released.
//!
//! The conversion applies the reference's JSON checks in the same order (depth first, an
//! object's key before its value): a non-JSON type or a non-str key is a TypeError; an
//! integer outside [-2**63, 2**64), a non-finite float or nesting deeper than `MAX_DEPTH`
//! is a ValueError; a str with a lone surrogate is UnicodeEncodeError. Results are
//! `pyagent.validation_core.SchemaIssue` records and schema problems raise
//! `pyagent.validation_core.SchemaError`, both imported from the Python module so the two
//! backends share the classes.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::{Map, Number, Value};

use crate::text::schema::{CompiledSchema, Issue, RetrieveFn, SchemaError, SchemaOptions};

/// The deepest nesting accepted (the root container is depth 1), as in the reference.
const MAX_DEPTH: usize = 128;

static ISSUE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SCHEMA_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static MAPPING: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn pyagent_class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    Ok(cell
        .get_or_try_init(py, || {
            py.import("pyagent.validation_core")?
                .getattr(name)?
                .cast_into::<PyType>()
                .map(Bound::unbind)
                .map_err(PyErr::from)
        })?
        .bind(py))
}

fn schema_error(py: Python<'_>, err: SchemaError) -> PyErr {
    match pyagent_class(py, &SCHEMA_ERROR, "SchemaError").and_then(|cls| cls.call1((err.0,))) {
        Ok(instance) => PyErr::from_value(instance),
        Err(import_failure) => import_failure,
    }
}

fn check_depth(what: &str, depth: usize) -> PyResult<()> {
    if depth >= MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "{what} nests deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(())
}

fn to_value(obj: &Bound<'_, PyAny>, what: &str, depth: usize) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(flag) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return Ok(Value::String(text.to_str()?.to_owned()));
    }
    if let Ok(int) = obj.cast::<PyInt>() {
        if let Ok(small) = int.extract::<i64>() {
            return Ok(Value::Number(small.into()));
        }
        if let Ok(big) = int.extract::<u64>() {
            return Ok(Value::Number(big.into()));
        }
        return Err(PyValueError::new_err(format!(
            "{what}: integer {int} does not fit in 64 bits"
        )));
    }
    if let Ok(float) = obj.cast::<PyFloat>() {
        let x = float.value();
        return Number::from_f64(x).map(Value::Number).ok_or_else(|| {
            PyValueError::new_err(format!(
                "{what}: {} is not a JSON number",
                float
                    .repr()
                    .map_or_else(|_| x.to_string(), |r| r.to_string())
            ))
        });
    }
    if let Ok(list) = obj.cast::<PyList>() {
        check_depth(what, depth)?;
        let mut items = Vec::with_capacity(list.len());
        for item in list.iter() {
            items.push(to_value(&item, what, depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        check_depth(what, depth)?;
        let mut map = Map::new();
        for (key, item) in dict.iter() {
            let Ok(key) = key.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!(
                    "{what}: object keys must be str, not {}",
                    key.get_type().name()?
                )));
            };
            let key = key.to_str()?.to_owned();
            let item = to_value(&item, what, depth + 1)?;
            map.insert(key, item);
        }
        return Ok(Value::Object(map));
    }
    Err(PyTypeError::new_err(format!(
        "{what}: {} is not a JSON type",
        obj.get_type().name()?
    )))
}

fn issues_to_python(py: Python<'_>, issues: Vec<Issue>) -> PyResult<Bound<'_, PyList>> {
    let cls = pyagent_class(py, &ISSUE, "SchemaIssue")?;
    let list = PyList::empty(py);
    for issue in issues {
        list.append(cls.call1((issue.instance_path, issue.schema_path, issue.message))?)?;
    }
    Ok(list)
}

fn result_to_python(py: Python<'_>, issues: Vec<Issue>) -> PyResult<(bool, Bound<'_, PyList>)> {
    let valid = issues.is_empty();
    Ok((valid, issues_to_python(py, issues)?))
}

/// `scheme:` at the start, as the reference's absolute-URI check.
fn is_absolute_uri(uri: &str) -> bool {
    let mut chars = uri.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return false;
    }
    for c in chars {
        if c == ':' {
            return true;
        }
        if !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')) {
            return false;
        }
    }
    false
}

/// The registered documents, checked in the reference's order (see `_registered`).
fn registered(
    py: Python<'_>,
    registry: Option<&Bound<'_, PyAny>>,
) -> PyResult<HashMap<String, Value>> {
    let mut documents = HashMap::new();
    let Some(registry) = registry.filter(|r| !r.is_none()) else {
        return Ok(documents);
    };
    let mapping = MAPPING
        .get_or_try_init(py, || {
            py.import("collections.abc")?
                .getattr("Mapping")?
                .cast_into::<PyType>()
                .map(Bound::unbind)
                .map_err(PyErr::from)
        })?
        .bind(py);
    if !registry.is_instance(mapping)? {
        return Err(PyTypeError::new_err(
            "registry must be a mapping of URI -> schema",
        ));
    }
    for item in registry.call_method0("items")?.try_iter()? {
        let (uri, document): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let Ok(uri) = uri.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "registry keys must be str, not {}",
                uri.get_type().name()?
            )));
        };
        let uri = uri.to_str()?;
        if !is_absolute_uri(uri) {
            return Err(PyValueError::new_err(format!(
                "registry key {} is not an absolute URI",
                PyString::new(py, uri).repr()?
            )));
        }
        let document = to_value(&document, "registered schema", 0)?;
        documents.insert(uri.strip_suffix('#').unwrap_or(uri).to_owned(), document);
    }
    Ok(documents)
}

/// The caller's retrieve callable, run with the GIL re-acquired; any exception it raises or
/// any non-JSON value it returns makes the compile fail with SchemaError, as in the reference.
fn retriever(retrieve: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Arc<RetrieveFn>>> {
    let Some(retrieve) = retrieve.filter(|r| !r.is_none()) else {
        return Ok(None);
    };
    if !retrieve.is_callable() {
        return Err(PyTypeError::new_err(
            "retrieve must be a callable taking a URI",
        ));
    }
    let callable = retrieve.clone().unbind();
    Ok(Some(Arc::new(move |uri: &str| {
        Python::attach(|py| {
            let document = callable
                .bind(py)
                .call1((uri,))
                .map_err(|e| format!("retrieve({uri:?}) raised {e}"))?;
            to_value(&document, "retrieved schema", 0).map_err(|e| e.to_string())
        })
    })))
}

fn format_mode(format: &Bound<'_, PyAny>) -> PyResult<bool> {
    match format.extract::<String>().ok().as_deref() {
        Some("annotate") => Ok(false),
        Some("assert") => Ok(true),
        _ => Err(PyValueError::new_err(format!(
            "format must be 'annotate' or 'assert', not {}",
            format.repr()?
        ))),
    }
}

/// The keyword arguments shared by `compile_schema` and `json_schema_validate`.
struct Keywords<'a, 'py> {
    registry: Option<&'a Bound<'py, PyAny>>,
    retrieve: Option<&'a Bound<'py, PyAny>>,
    format: Option<&'a Bound<'py, PyAny>>,
}

fn compile(
    py: Python<'_>,
    schema: &Bound<'_, PyAny>,
    keywords: &Keywords<'_, '_>,
) -> PyResult<Arc<CompiledSchema>> {
    let value = to_value(schema, "schema", 0)?;
    let documents = registered(py, keywords.registry)?;
    let retrieve = retriever(keywords.retrieve)?;
    let assert_formats = match keywords.format {
        Some(format) => format_mode(format)?,
        None => false,
    };
    let options = SchemaOptions {
        documents,
        retrieve,
        assert_formats,
    };
    py.detach(|| CompiledSchema::new(&value, &options))
        .map(Arc::new)
        .map_err(|e| schema_error(py, e))
}

/// Instances converted per batch by `is_valid_many`: small enough that each converted
/// instance is checked and freed while its memory is still in cache (measured: 4096 per
/// batch cost 1.5x the per-instance loop, 128 matches it).
const MANY_BATCH: usize = 128;

fn instances_to_values(instances: &Bound<'_, PyAny>) -> PyResult<Vec<Value>> {
    let mut values = Vec::new();
    for instance in instances.try_iter()? {
        values.push(to_value(&instance?, "instance", 0)?);
    }
    Ok(values)
}

/// One compiled schema (the native `SchemaValidator`).
#[pyclass(frozen, name = "SchemaValidator", module = "rust_core")]
struct PySchemaValidator {
    inner: Arc<CompiledSchema>,
    schema: Py<PyAny>,
    /// `{"registry", "retrieve", "format"}` as given, for pickling.
    keywords: Py<PyDict>,
}

#[pymethods]
impl PySchemaValidator {
    /// The schema as given.
    #[getter]
    fn schema(&self, py: Python<'_>) -> Py<PyAny> {
        self.schema.clone_ref(py)
    }

    /// The draft's meta-schema URI.
    #[getter]
    fn draft(&self) -> &'static str {
        self.inner.draft_uri()
    }

    /// `(valid, errors)` for one instance.
    fn validate<'py>(
        &self,
        py: Python<'py>,
        instance: &Bound<'py, PyAny>,
    ) -> PyResult<(bool, Bound<'py, PyList>)> {
        let value = to_value(instance, "instance", 0)?;
        let inner = &self.inner;
        let issues = py
            .detach(|| inner.validate(&value))
            .map_err(|e| schema_error(py, e))?;
        result_to_python(py, issues)
    }

    /// True when the instance is valid.
    fn is_valid(&self, py: Python<'_>, instance: &Bound<'_, PyAny>) -> PyResult<bool> {
        let value = to_value(instance, "instance", 0)?;
        let inner = &self.inner;
        py.detach(|| inner.is_valid(&value))
            .map_err(|e| schema_error(py, e))
    }

    /// `validate` for each instance, in order; the engine runs in parallel without the GIL.
    fn validate_many<'py>(
        &self,
        py: Python<'py>,
        instances: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let values = instances_to_values(instances)?;
        let inner = &self.inner;
        let all = py
            .detach(|| inner.validate_many(&values))
            .map_err(|e| schema_error(py, e))?;
        let out = PyList::empty(py);
        for issues in all {
            out.append(result_to_python(py, issues)?)?;
        }
        Ok(out)
    }

    /// `is_valid` for each instance, in order, converted and checked a batch at a time
    /// (without the GIL): converting all instances up front cost three times the per-instance
    /// loop in allocator and cache traffic, more than the checking itself.
    fn is_valid_many(&self, py: Python<'_>, instances: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
        let inner = &self.inner;
        let mut out = Vec::with_capacity(instances.len().unwrap_or(0));
        let mut batch = Vec::with_capacity(MANY_BATCH);
        let mut iter = instances.try_iter()?;
        loop {
            batch.clear();
            for instance in iter.by_ref().take(MANY_BATCH) {
                batch.push(to_value(&instance?, "instance", 0)?);
            }
            if batch.is_empty() {
                break;
            }
            let checked = py
                .detach(|| inner.is_valid_many(&batch))
                .map_err(|e| schema_error(py, e))?;
            out.extend(checked);
        }
        Ok(out)
    }

    /// `(pyagent.validation_core._restore_validator, (schema, keywords))`: the pickle names the
    /// backend-neutral factory, so it loads with or without rust_core (and recompiles there).
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        static RESTORE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let restore = RESTORE.import(py, "pyagent.validation_core", "_restore_validator")?;
        let keywords = self.keywords.bind(py).copy()?;
        (restore.clone(), (self.schema.clone_ref(py), keywords)).into_pyobject(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<rust_core.SchemaValidator draft={}>",
            self.inner.draft_uri()
        )
    }
}

/// A validator for `schema`, checked once.
#[pyfunction]
#[pyo3(signature = (schema, *, registry = None, retrieve = None, format = None))]
fn compile_schema<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyAny>,
    registry: Option<&Bound<'py, PyAny>>,
    retrieve: Option<&Bound<'py, PyAny>>,
    format: Option<&Bound<'py, PyAny>>,
) -> PyResult<PySchemaValidator> {
    let keywords = Keywords {
        registry,
        retrieve,
        format,
    };
    let inner = compile(py, schema, &keywords)?;
    let given = PyDict::new(py);
    given.set_item("registry", registry)?;
    given.set_item("retrieve", retrieve)?;
    match format {
        Some(format) if !format.is_none() => given.set_item("format", format)?,
        _ => given.set_item("format", "annotate")?,
    }
    Ok(PySchemaValidator {
        inner,
        schema: schema.clone().unbind(),
        keywords: given.unbind(),
    })
}

/// `(valid, errors)` for `instance` against `schema`.
#[pyfunction]
#[pyo3(signature = (instance, schema, *, registry = None, retrieve = None, format = None))]
fn json_schema_validate<'py>(
    py: Python<'py>,
    instance: &Bound<'py, PyAny>,
    schema: &Bound<'py, PyAny>,
    registry: Option<&Bound<'py, PyAny>>,
    retrieve: Option<&Bound<'py, PyAny>>,
    format: Option<&Bound<'py, PyAny>>,
) -> PyResult<(bool, Bound<'py, PyList>)> {
    let keywords = Keywords {
        registry,
        retrieve,
        format,
    };
    // Schema first, as the reference compiles before it reads the instance.
    let compiled = compile(py, schema, &keywords)?;
    let value = to_value(instance, "instance", 0)?;
    let issues = py
        .detach(|| compiled.validate(&value))
        .map_err(|e| schema_error(py, e))?;
    result_to_python(py, issues)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySchemaValidator>()?;
    m.add_function(wrap_pyfunction!(compile_schema, m)?)?;
    m.add_function(wrap_pyfunction!(json_schema_validate, m)?)?;
    Ok(())
}
