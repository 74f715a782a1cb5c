//! ValidationCore JSON Schema binding: the `jsonschema` crate, on Python values read in place
//! (`is_valid`, `is_valid_many`: see `schema_view`) or converted to `serde_json::Value` and
//! checked with the GIL released (`validate`, the error records, and instances holding
//! subclasses).
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
use pyo3::{ffi, Borrowed};
use serde_json::{Map, Number, Value};

use super::schema_view::{self, PyView};
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

/// One node as the reference reads it: a JSON leaf (checked), or a container to walk.
enum Read<'b, 'py> {
    Null,
    Bool(bool),
    Str(&'b str),
    Number(Number),
    List(&'b Bound<'py, PyList>),
    Dict(&'b Bound<'py, PyDict>),
}

/// The checks the reference applies to one node, in its order: a non-JSON type is a
/// TypeError, an int outside 64 bits or a non-finite float a ValueError, a str with a lone
/// surrogate a UnicodeEncodeError.
fn read<'b, 'py>(obj: &'b Bound<'py, PyAny>, what: &str) -> PyResult<Read<'b, 'py>> {
    if obj.is_none() {
        return Ok(Read::Null);
    }
    if let Ok(flag) = obj.cast::<PyBool>() {
        return Ok(Read::Bool(flag.is_true()));
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return Ok(Read::Str(text.to_str()?));
    }
    if let Ok(int) = obj.cast::<PyInt>() {
        if let Ok(small) = int.extract::<i64>() {
            return Ok(Read::Number(small.into()));
        }
        if let Ok(big) = int.extract::<u64>() {
            return Ok(Read::Number(big.into()));
        }
        return Err(PyValueError::new_err(format!(
            "{what}: integer {int} does not fit in 64 bits"
        )));
    }
    if let Ok(float) = obj.cast::<PyFloat>() {
        let x = float.value();
        return Number::from_f64(x).map(Read::Number).ok_or_else(|| {
            PyValueError::new_err(format!(
                "{what}: {} is not a JSON number",
                float
                    .repr()
                    .map_or_else(|_| x.to_string(), |r| r.to_string())
            ))
        });
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return Ok(Read::List(list));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        return Ok(Read::Dict(dict));
    }
    Err(PyTypeError::new_err(format!(
        "{what}: {} is not a JSON type",
        obj.get_type().name()?
    )))
}

/// An object key's text: a str (TypeError otherwise) without a lone surrogate.
fn key_text<'b>(key: &'b Bound<'_, PyAny>, what: &str) -> PyResult<&'b str> {
    let Ok(key) = key.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "{what}: object keys must be str, not {}",
            key.get_type().name()?
        )));
    };
    key.to_str()
}

fn to_value(obj: &Bound<'_, PyAny>, what: &str, depth: usize) -> PyResult<Value> {
    Ok(match read(obj, what)? {
        Read::Null => Value::Null,
        Read::Bool(flag) => Value::Bool(flag),
        Read::Str(text) => Value::String(text.to_owned()),
        Read::Number(number) => Value::Number(number),
        Read::List(list) => {
            check_depth(what, depth)?;
            let mut items = Vec::with_capacity(list.len());
            for item in list.iter() {
                items.push(to_value(&item, what, depth + 1)?);
            }
            Value::Array(items)
        }
        Read::Dict(dict) => {
            check_depth(what, depth)?;
            let mut map = Map::new();
            for (key, item) in dict.iter() {
                let key = key_text(&key, what)?.to_owned();
                let item = to_value(&item, what, depth + 1)?;
                map.insert(key, item);
            }
            Value::Object(map)
        }
    })
}

/// [`to_value`]'s checks, in its order, without building anything: Ok(true) when `obj` is
/// made of the exact built-in types only (dict with exact str keys, list, str, int, float,
/// bool, None), which `schema_view` reads in place; Ok(false) when it holds a subclass, which
/// takes the conversion (a subclass's hashing or comparison could run Python code).
fn plain(obj: &Bound<'_, PyAny>, what: &str, depth: usize) -> PyResult<bool> {
    let exact = |ty: *mut ffi::PyTypeObject| obj.get_type_ptr() == ty;
    Ok(match read(obj, what)? {
        Read::Null | Read::Bool(_) => true,
        Read::Str(_) => exact(&raw mut ffi::PyUnicode_Type),
        Read::Number(_) => exact(&raw mut ffi::PyLong_Type) || exact(&raw mut ffi::PyFloat_Type),
        Read::List(list) => {
            check_depth(what, depth)?;
            let mut all = exact(&raw mut ffi::PyList_Type);
            let len = list.len();
            for index in 0..len {
                // SAFETY: index < len of a live list; the item is borrowed from it and no
                // Python code runs while it is read.
                let item = unsafe {
                    Borrowed::from_ptr(obj.py(), ffi::PyList_GET_ITEM(list.as_ptr(), index as _))
                };
                all &= plain(&item, what, depth + 1)?;
            }
            all
        }
        Read::Dict(dict) => {
            check_depth(what, depth)?;
            let mut all = exact(&raw mut ffi::PyDict_Type);
            let mut pos: ffi::Py_ssize_t = 0;
            let mut key: *mut ffi::PyObject = std::ptr::null_mut();
            let mut item: *mut ffi::PyObject = std::ptr::null_mut();
            // SAFETY: PyDict_Next yields borrowed references into a live dict that nothing
            // changes while it is walked (no Python code runs in the checks).
            while unsafe { ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key, &mut item) } != 0 {
                let (key, item) = unsafe {
                    (
                        Borrowed::from_ptr(obj.py(), key),
                        Borrowed::from_ptr(obj.py(), item),
                    )
                };
                key_text(&key, what)?;
                all &= key.get_type_ptr() == &raw mut ffi::PyUnicode_Type;
                all &= plain(&item, what, depth + 1)?;
            }
            all
        }
    })
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
) -> PyResult<(SchemaOptions, Value)> {
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
        ..SchemaOptions::default()
    };
    Ok((options, value))
}

/// The schema compiled for `serde_json::Value` instances (the error records).
fn compile_values(
    py: Python<'_>,
    schema: &Bound<'_, PyAny>,
    keywords: &Keywords<'_, '_>,
) -> PyResult<CompiledSchema> {
    let (options, value) = compile(py, schema, keywords)?;
    py.detach(|| CompiledSchema::new(&value, &options))
        .map_err(|e| schema_error(py, e))
}

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
    /// The same schema compiled for Python objects read in place (`is_valid`).
    view: CompiledSchema<PyView>,
    schema: Py<PyAny>,
    /// `{"registry", "retrieve", "format"}` as given, for pickling.
    keywords: Py<PyDict>,
}

impl PySchemaValidator {
    /// `is_valid` for one instance: in place when it is plain, else converted.
    fn check(&self, py: Python<'_>, instance: &Bound<'_, PyAny>) -> PyResult<bool> {
        let checked = if plain(instance, "instance", 0)? {
            // The GIL stays held: nothing can change the objects the view reads.
            self.view.is_valid(schema_view::root(instance))
        } else {
            let value = to_value(instance, "instance", 0)?;
            self.inner.is_valid(&value)
        };
        checked.map_err(|e| schema_error(py, e))
    }
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

    /// True when the instance is valid: read in place, with the GIL held (a plain instance
    /// needs no conversion, and the check costs less than releasing and taking the GIL).
    fn is_valid(&self, py: Python<'_>, instance: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.check(py, instance)
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

    /// `is_valid` for each instance, in order, each read in place with the GIL held: the
    /// checking costs about a microsecond an instance, less than converting it for a thread
    /// that runs without the GIL.
    fn is_valid_many(&self, py: Python<'_>, instances: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
        let mut out = Vec::with_capacity(instances.len().unwrap_or(0));
        if let Ok(list) = instances.cast::<PyList>() {
            // By index, not through an iterator: each item is borrowed from the list.
            let mut index = 0;
            while index < list.len() {
                let item = list.get_item(index)?;
                out.push(self.check(py, &item)?);
                index += 1;
            }
            return Ok(out);
        }
        for instance in instances.try_iter()? {
            out.push(self.check(py, &instance?)?);
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
    let (options, value) = compile(py, schema, &keywords)?;
    let (inner, view) = py
        .detach(|| {
            let inner = CompiledSchema::new(&value, &options)?;
            // Documents the first compile retrieved are served again from `options.fetched`.
            Ok((inner, CompiledSchema::new(&value, &options)?))
        })
        .map_err(|e| schema_error(py, e))?;
    let given = PyDict::new(py);
    given.set_item("registry", registry)?;
    given.set_item("retrieve", retrieve)?;
    match format {
        Some(format) if !format.is_none() => given.set_item("format", format)?,
        _ => given.set_item("format", "annotate")?,
    }
    Ok(PySchemaValidator {
        inner: Arc::new(inner),
        view,
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
    let compiled = compile_values(py, schema, &keywords)?;
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
