//! TemplateCore bindings: apply_template and its batch form.
//!
//! A template is compiled once and cached by its text (256 templates at most, like the
//! Python reference's lru_cache): its literal text between placeholders is sliced from the
//! original Python string by code point, names are interned (so each lookup reuses a cached
//! hash) and each placeholder's text as written is kept for names that are missing. Rendering looks values up with the GIL held (they are
//! Python objects), `str()`s them and joins the pieces with `str.join`'s C implementation.

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyMapping, PySlice, PyString};

use super::cache::type_name;
use crate::template::placeholders;

/// A template split once. Cached by template text (see [`compiled`]), so repeated
/// single calls with one template compile it once, as the Python reference's lru_cache does.
#[pyclass(frozen)]
struct Compiled {
    /// `literals[i]` precedes placeholder `i`; the last one follows the last placeholder.
    literals: Vec<Py<PyAny>>,
    names: Vec<Py<PyString>>,
    raws: Vec<Py<PyAny>>,
}

/// Compiled templates by text; cleared when it reaches [`CACHE_SIZE`] entries.
static CACHE: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
const CACHE_SIZE: usize = 256;

/// The template's code points as chars; a lone surrogate (which Rust strings cannot hold)
/// becomes U+FFFD, still one char, so offsets stay code point offsets.
fn code_points(template: &Bound<'_, PyString>) -> PyResult<Vec<char>> {
    if let Ok(text) = template.to_str() {
        return Ok(text.chars().collect());
    }
    let encoded = template.call_method1("encode", ("utf-32-le", "surrogatepass"))?;
    let bytes = encoded.cast::<PyBytes>()?.as_bytes();
    Ok(bytes
        .chunks_exact(4)
        .map(|b| {
            let unit = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect())
}

fn compile<'py>(py: Python<'py>, text: &Bound<'py, PyString>) -> PyResult<Compiled> {
    let chars = code_points(text)?;
    let slice = |start: usize, end: usize| -> PyResult<Py<PyAny>> {
        let (start, end) = (isize::try_from(start)?, isize::try_from(end)?);
        Ok(text.get_item(PySlice::new(py, start, end, 1))?.unbind())
    };
    let found = placeholders(&chars);
    let mut compiled = Compiled {
        literals: Vec::with_capacity(found.len() + 1),
        names: Vec::with_capacity(found.len()),
        raws: Vec::with_capacity(found.len()),
    };
    let mut end = 0;
    for p in &found {
        compiled.literals.push(slice(end, p.start)?);
        let name: String = chars[p.name_start..p.name_end].iter().collect();
        compiled.names.push(PyString::intern(py, &name).unbind());
        compiled.raws.push(slice(p.start, p.end)?);
        end = p.end;
    }
    compiled.literals.push(slice(end, chars.len())?);
    Ok(compiled)
}

/// The compiled form of `template` (a str, else TypeError), from the cache when it can be.
fn compiled<'py>(py: Python<'py>, template: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Compiled>> {
    let text = template.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("template must be str, not {}", type_name(template)))
    })?;
    let cache = CACHE.get_or_init(py, || PyDict::new(py).unbind()).bind(py);
    if let Some(hit) = cache.get_item(text)? {
        if let Ok(hit) = hit.cast_into::<Compiled>() {
            return Ok(hit);
        }
    }
    let fresh = Bound::new(py, compile(py, text)?)?;
    if cache.len() >= CACHE_SIZE {
        cache.clear();
    }
    cache.set_item(text, &fresh)?;
    Ok(fresh)
}

/// The value of `name` if it is in `variables` (as the `in` operator says).
fn lookup<'py>(
    variables: &Bound<'py, PyAny>,
    exact_dict: Option<&Bound<'py, PyDict>>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    if let Some(dict) = exact_dict {
        return dict.get_item(name);
    }
    if variables.contains(name)? {
        variables.get_item(name).map(Some)
    } else {
        Ok(None)
    }
}

fn render<'py>(
    py: Python<'py>,
    compiled: &Compiled,
    variables: &Bound<'py, PyAny>,
    strict: bool,
    pieces: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let exact_dict = variables.cast_exact::<PyDict>().ok();
    if exact_dict.is_none() && variables.cast::<PyMapping>().is_err() {
        return Err(PyTypeError::new_err(format!(
            "variables must be a mapping, not {}",
            type_name(variables)
        )));
    }
    let Some((first, rest)) = compiled.literals.split_first() else {
        return Ok(PyString::new(py, "").into_any());
    };
    if compiled.names.is_empty() {
        return Ok(first.bind(py).clone());
    }
    pieces.clear();
    pieces.push(first.bind(py).clone());
    for ((name, raw), literal) in compiled.names.iter().zip(&compiled.raws).zip(rest) {
        match lookup(variables, exact_dict, name.bind(py))? {
            Some(value) => pieces.push(value.str()?.into_any()),
            None if strict => return Err(PyKeyError::new_err(name.clone_ref(py))),
            None => pieces.push(raw.bind(py).clone()),
        }
        pieces.push(literal.bind(py).clone());
    }
    let list = PyList::new(py, pieces.iter())?;
    let empty = intern!(py, "");
    // SAFETY: both arguments are live objects; PyUnicode_Join returns a new reference or
    // NULL with an exception set, which from_owned_ptr_or_err turns into the PyErr.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyUnicode_Join(empty.as_ptr(), list.as_ptr())) }
}

/// `bool(strict)`, False when omitted (pyagent passes it explicitly, None included).
fn truthy(strict: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
    strict.map_or(Ok(false), |value| value.is_truthy())
}

/// `template` with each placeholder whose name is in `variables` replaced; see pyagent.
#[pyfunction]
#[pyo3(
    signature = (template, variables, strict=None),
    text_signature = "(template, variables, strict=False)"
)]
fn apply_template<'py>(
    py: Python<'py>,
    template: &Bound<'py, PyAny>,
    variables: &Bound<'py, PyAny>,
    strict: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let compiled = compiled(py, template)?;
    let strict = truthy(strict)?;
    render(py, compiled.get(), variables, strict, &mut Vec::new())
}

/// `apply_template` for each mapping of `variables_list`, compiling the template once.
#[pyfunction]
#[pyo3(
    signature = (template, variables_list, strict=None),
    text_signature = "(template, variables_list, strict=False)"
)]
fn apply_template_batch<'py>(
    py: Python<'py>,
    template: &Bound<'py, PyAny>,
    variables_list: &Bound<'py, PyAny>,
    strict: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let compiled = compiled(py, template)?;
    let compiled = compiled.get();
    let strict = truthy(strict)?;
    let mut pieces = Vec::with_capacity(2 * compiled.names.len() + 1);
    let mut out = Vec::new();
    if let Ok(list) = variables_list.cast::<PyList>() {
        out.reserve(list.len());
        for variables in list.iter() {
            out.push(render(py, compiled, &variables, strict, &mut pieces)?);
        }
    } else {
        for variables in variables_list.try_iter()? {
            out.push(render(py, compiled, &variables?, strict, &mut pieces)?);
        }
    }
    PyList::new(py, out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(apply_template, m)?)?;
    m.add_function(wrap_pyfunction!(apply_template_batch, m)?)?;
    Ok(())
}
