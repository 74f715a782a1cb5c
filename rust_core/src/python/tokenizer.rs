//! InferenceCore binding: the `Tokenizer` class and count_tokens_rust.
//!
//! Arguments are checked in the order the Python reference checks them, so a call with
//! several faults raises the same exception class. Encoding and counting run without the
//! GIL; a batch is counted in parallel (rayon).

use std::sync::Arc;

use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple, PyType,
};

use crate::text::tokenizer::{Bpe, Rank, SpecialRules, TokenizerError};

const MAX_RANK: i128 = u32::MAX as i128;

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

fn to_py_err(err: TokenizerError) -> PyErr {
    match err {
        TokenizerError::UnknownToken(id) => PyKeyError::new_err(id),
        other => PyValueError::new_err(other.to_string()),
    }
}

fn is_int(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>()
}

/// `(key, value)` pairs of a Mapping, in its iteration order.
fn items<'py>(
    mapping: &Bound<'py, PyAny>,
) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    let mut out = Vec::new();
    for item in mapping.call_method0("items")?.try_iter()? {
        let item = item?;
        out.push((item.get_item(0)?, item.get_item(1)?));
    }
    Ok(out)
}

/// Byte-level BPE tokenizer over tiktoken-format ranks (see pyagent.tokenizer_core).
#[pyclass(name = "Tokenizer", module = "rust_core", frozen)]
pub struct Tokenizer {
    bpe: Arc<Bpe>,
    special_names: Vec<String>,
    /// The split pattern as given, for pickling.
    pattern: String,
}

fn default_allowed() -> Py<PyAny> {
    Python::attach(|py| {
        PyFrozenSet::empty(py)
            .map(|s| s.into_any().unbind())
            .unwrap_or_else(|_| py.None())
    })
}

fn default_disallowed() -> Py<PyAny> {
    Python::attach(|py| PyString::new(py, "all").into_any().unbind())
}

/// `"all"` or a set/frozenset/list/tuple of str, as a list of names.
fn special_set(value: &Bound<'_, PyAny>, name: &str, all: &[String]) -> PyResult<Vec<String>> {
    if let Ok(text) = value.cast::<PyString>() {
        if text.to_cow().map(|t| t == "all").unwrap_or(false) {
            return Ok(all.to_vec());
        }
        return Err(PyTypeError::new_err(format!(
            "{name} must be 'all' or a collection of str, not {}",
            value.repr().map(|r| r.to_string()).unwrap_or_default()
        )));
    }
    let collection = value.is_instance_of::<PySet>()
        || value.is_instance_of::<PyFrozenSet>()
        || value.is_instance_of::<PyList>()
        || value.is_instance_of::<PyTuple>();
    if !collection {
        return Err(PyTypeError::new_err(format!(
            "{name} must be 'all' or a collection of str, not {}",
            type_name(value)
        )));
    }
    let mut items = Vec::new();
    for item in value.try_iter()? {
        let item = item?;
        if !item.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(format!(
                "{name} must contain str, not {}",
                type_name(&item)
            )));
        }
        items.push(item);
    }
    items
        .into_iter()
        .map(|item| Ok(item.cast::<PyString>()?.to_str()?.to_owned()))
        .collect()
}

impl Tokenizer {
    fn rules(
        &self,
        allowed: &Bound<'_, PyAny>,
        disallowed: &Bound<'_, PyAny>,
    ) -> PyResult<SpecialRules> {
        let allowed = special_set(allowed, "allowed_special", &self.special_names)?;
        let disallowed = match disallowed.cast::<PyString>() {
            Ok(text) if text.to_cow().map(|t| t == "all").unwrap_or(false) => self
                .special_names
                .iter()
                .filter(|s| !allowed.contains(s))
                .cloned()
                .collect(),
            _ => special_set(disallowed, "disallowed_special", &self.special_names)?,
        };
        Ok(SpecialRules {
            allowed,
            disallowed,
        })
    }
}

fn checked_text<'py>(text: &'py Bound<'py, PyAny>) -> PyResult<&'py str> {
    let text = text
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("text must be str, not {}", type_name(text))))?;
    text.to_str()
}

/// The texts of a list or tuple, borrowed (each `&str` is the str's cached UTF-8, alive as
/// long as `items` holds the strs).
fn checked_texts<'a, 'py>(items: &'a [Bound<'py, PyAny>]) -> PyResult<Vec<&'a str>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let text = item.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!("text must be str, not {}", type_name(item)))
        })?;
        out.push(text.to_str()?);
    }
    Ok(out)
}

/// The items of a list or tuple (strong references, so the texts outlive the GIL release).
fn sequence_items<'py>(texts: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let mut items = Vec::new();
    for item in texts.try_iter()? {
        items.push(item?);
    }
    Ok(items)
}

fn is_sequence(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>()
}

#[pymethods]
impl Tokenizer {
    #[new]
    #[pyo3(signature = (ranks, pattern, special_tokens = None))]
    fn new(
        py: Python<'_>,
        ranks: &Bound<'_, PyAny>,
        pattern: &Bound<'_, PyAny>,
        special_tokens: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mapping = py.import("collections.abc")?.getattr("Mapping")?;
        if !ranks.is_instance(&mapping)? {
            return Err(PyTypeError::new_err(format!(
                "ranks must be a mapping of bytes to int, not {}",
                type_name(ranks)
            )));
        }
        let pattern = pattern.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!("pattern must be str, not {}", type_name(pattern)))
        })?;
        let special_tokens = special_tokens.filter(|s| !s.is_none());
        if let Some(specials) = special_tokens {
            if !specials.is_instance(&mapping)? {
                return Err(PyTypeError::new_err(format!(
                    "special_tokens must be a mapping of str to int, not {}",
                    type_name(specials)
                )));
            }
        }
        let rank_items = items(ranks)?;
        for (token, rank) in &rank_items {
            if !token.is_instance_of::<PyBytes>() {
                return Err(PyTypeError::new_err(format!(
                    "ranks keys must be bytes, not {}",
                    type_name(token)
                )));
            }
            if !is_int(rank) {
                return Err(PyTypeError::new_err(format!(
                    "ranks values must be int, not {}",
                    type_name(rank)
                )));
            }
        }
        let special_items = match special_tokens {
            Some(specials) => items(specials)?,
            None => Vec::new(),
        };
        for (name, rank) in &special_items {
            if !name.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err(format!(
                    "special_tokens keys must be str, not {}",
                    type_name(name)
                )));
            }
            if !is_int(rank) {
                return Err(PyTypeError::new_err(format!(
                    "special_tokens values must be int, not {}",
                    type_name(rank)
                )));
            }
        }
        let pattern = pattern.to_str()?.to_owned();
        let mut specials: Vec<(String, Bound<'_, PyAny>)> = Vec::with_capacity(special_items.len());
        for (name, rank) in special_items {
            specials.push((name.cast::<PyString>()?.to_str()?.to_owned(), rank));
        }
        // Empty tokens, ranks out of range and duplicate ids, in the reference's order.
        let mut seen = rustc_hash::FxHashSet::default();
        let mut check = |token: &[u8], rank: &Bound<'_, PyAny>| -> PyResult<Rank> {
            if token.is_empty() {
                return Err(PyValueError::new_err("tokens must not be empty"));
            }
            let value = rank
                .extract::<i128>()
                .ok()
                .filter(|v| (0..=MAX_RANK).contains(v));
            let Some(value) = value.and_then(|v| Rank::try_from(v).ok()) else {
                return Err(PyValueError::new_err(format!(
                    "ranks must be in 0..{MAX_RANK}, got {rank}"
                )));
            };
            if !seen.insert(value) {
                return Err(PyValueError::new_err(format!("duplicate token id {value}")));
            }
            Ok(value)
        };
        let mut rank_list: Vec<(Vec<u8>, Rank)> = Vec::with_capacity(rank_items.len());
        for (token, rank) in &rank_items {
            let bytes = token.cast::<PyBytes>()?.as_bytes().to_vec();
            let value = check(&bytes, rank)?;
            rank_list.push((bytes, value));
        }
        let mut special_list: Vec<(String, Rank)> = Vec::with_capacity(specials.len());
        for (name, rank) in &specials {
            let value = check(name.as_bytes(), rank)?;
            special_list.push((name.clone(), value));
        }
        let special_names = special_list.iter().map(|(n, _)| n.clone()).collect();
        let bpe = py
            .detach(|| Bpe::new(rank_list, &pattern, special_list))
            .map_err(to_py_err)?;
        Ok(Tokenizer {
            bpe: Arc::new(bpe),
            special_names,
            pattern,
        })
    }

    /// `(pyagent.tokenizer_core.Tokenizer, (ranks, pattern, special_tokens))`: the pickle
    /// names the backend-neutral class (it loads with or without rust_core) and holds the
    /// vocabulary by rank, as tiktoken's own `Encoding` pickles it.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let class = match CLASS.import(py, "pyagent.tokenizer_core", "Tokenizer") {
            Ok(class) => class.clone().into_any(),
            Err(_) => py.get_type::<Tokenizer>().into_any(),
        };
        let ranks = PyDict::new(py);
        for (token, rank) in self.bpe.ranks() {
            ranks.set_item(PyBytes::new(py, token), rank)?;
        }
        let specials = PyDict::new(py);
        for (name, rank) in self.bpe.special_ranks() {
            specials.set_item(name, rank)?;
        }
        let args = (ranks, self.pattern.as_str(), specials).into_pyobject(py)?;
        PyTuple::new(py, [class, args.into_any()])
    }

    /// The token ids of `text` (tiktoken's `Encoding.encode`).
    #[pyo3(signature = (text, *, allowed_special = default_allowed(), disallowed_special = default_disallowed()))]
    fn encode(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyAny>,
        allowed_special: Py<PyAny>,
        disallowed_special: Py<PyAny>,
    ) -> PyResult<Vec<Rank>> {
        let rules = self.rules(allowed_special.bind(py), disallowed_special.bind(py))?;
        let text = checked_text(text)?;
        let bpe = &self.bpe;
        py.detach(|| bpe.encode(text, &rules)).map_err(to_py_err)
    }

    /// The token ids of `text` with special tokens encoded as plain text.
    fn encode_ordinary(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Vec<Rank>> {
        let text = checked_text(text)?;
        let bpe = &self.bpe;
        py.detach(|| bpe.encode(text, &SpecialRules::default()))
            .map_err(to_py_err)
    }

    /// `encode` of every text (a list or tuple of str), in parallel.
    #[pyo3(signature = (texts, *, allowed_special = default_allowed(), disallowed_special = default_disallowed()))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        texts: &Bound<'_, PyAny>,
        allowed_special: Py<PyAny>,
        disallowed_special: Py<PyAny>,
    ) -> PyResult<Vec<Vec<Rank>>> {
        if !is_sequence(texts) {
            return Err(PyTypeError::new_err(format!(
                "texts must be a list or tuple of str, not {}",
                type_name(texts)
            )));
        }
        let rules = self.rules(allowed_special.bind(py), disallowed_special.bind(py))?;
        let items = sequence_items(texts)?;
        let refs = checked_texts(&items)?;
        let bpe = &self.bpe;
        py.detach(|| bpe.encode_batch(&refs, &rules))
            .map_err(to_py_err)
    }

    /// The bytes the ids stand for; KeyError for an id that is no token.
    fn decode_bytes<'py>(
        &self,
        py: Python<'py>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.decoded(tokens)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The text of the ids, UTF-8 decoded with errors="replace" (as tiktoken).
    fn decode(&self, tokens: &Bound<'_, PyAny>) -> PyResult<String> {
        let bytes = self.decoded(tokens)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// One more than the largest id (tiktoken's `n_vocab`).
    #[getter]
    fn n_vocab(&self) -> u64 {
        self.bpe.n_vocab()
    }

    /// The pieces the split pattern cuts `text` into (for tests: the fast engines must cut
    /// exactly as the pattern does).
    fn _pieces(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let text = checked_text(text)?;
        let bpe = &self.bpe;
        let pieces = py.detach(|| {
            bpe.pieces(text)
                .map(|p| p.into_iter().map(str::to_owned).collect::<Vec<_>>())
        });
        pieces.map_err(to_py_err)
    }

    /// Which engine splits text: "cl100k" (hand-written scanner), "regex" (regex-automata on
    /// the rewritten o200k / Llama 3 pattern) or "fancy-regex" (any other pattern).
    #[getter]
    fn _split_engine(&self) -> &'static str {
        self.bpe.split_engine()
    }
}

impl Tokenizer {
    fn decoded(&self, tokens: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        if !is_sequence(tokens) {
            return Err(PyTypeError::new_err(format!(
                "tokens must be a list or tuple of int, not {}",
                type_name(tokens)
            )));
        }
        let mut out = Vec::new();
        for token in tokens.try_iter()? {
            let token = token?;
            if !is_int(&token) {
                return Err(PyTypeError::new_err(format!(
                    "tokens must contain int, not {}",
                    type_name(&token)
                )));
            }
            let part = token
                .extract::<i64>()
                .ok()
                .and_then(|id| self.bpe.token_bytes(id));
            match part {
                Some(bytes) => out.extend_from_slice(bytes),
                None => return Err(PyKeyError::new_err(token.unbind())),
            }
        }
        Ok(out)
    }
}

/// The number of tokens of `text`, or of each text of a list/tuple (counted in parallel).
#[pyfunction]
#[pyo3(signature = (tokenizer, text, *, allowed_special = default_allowed(), disallowed_special = default_disallowed()))]
#[pyo3(text_signature = "(tokenizer, text, *, allowed_special=..., disallowed_special='all')")]
fn count_tokens_rust(
    py: Python<'_>,
    tokenizer: &Bound<'_, PyAny>,
    text: &Bound<'_, PyAny>,
    allowed_special: Py<PyAny>,
    disallowed_special: Py<PyAny>,
) -> PyResult<Py<PyAny>> {
    let tokenizer = tokenizer.cast::<Tokenizer>().map_err(|_| {
        PyTypeError::new_err(format!(
            "tokenizer must be a Tokenizer, not {}",
            type_name(tokenizer)
        ))
    })?;
    let tokenizer = tokenizer.get();
    if text.is_instance_of::<PyString>() {
        let rules = tokenizer.rules(allowed_special.bind(py), disallowed_special.bind(py))?;
        let text = checked_text(text)?;
        let bpe = &tokenizer.bpe;
        let n = py
            .detach(|| {
                let prepared = bpe.prepare(&rules);
                bpe.count(text, &prepared)
            })
            .map_err(to_py_err)?;
        return Ok(n.into_pyobject(py)?.into_any().unbind());
    }
    if !is_sequence(text) {
        return Err(PyTypeError::new_err(format!(
            "text must be str or a list or tuple of str, not {}",
            type_name(text)
        )));
    }
    let rules = tokenizer.rules(allowed_special.bind(py), disallowed_special.bind(py))?;
    let items = sequence_items(text)?;
    let refs = checked_texts(&items)?;
    let bpe = &tokenizer.bpe;
    let counts = py
        .detach(|| bpe.count_batch(&refs, &rules))
        .map_err(to_py_err)?;
    Ok(counts.into_pyobject(py)?.into_any().unbind())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Tokenizer>()?;
    m.add_function(wrap_pyfunction!(count_tokens_rust, m)?)?;
    Ok(())
}
