//! ConfigCore bindings: `_parse` (one document) and `load_config` (sharded files, merged).
//!
//! The pure-Rust side (`crate::text::config`) drives the parsers and reports every value to a
//! `Builder`; `PyBuilder` here makes each one a Python object on the spot, so a JSON shard
//! goes from its memory map to Python objects with no intermediate tree and no copy of the
//! text. Building Python objects needs the GIL; parsing does not, so a JSON document of
//! [`PIPELINE_MIN`] bytes or more is walked on a helper thread (jiter, no GIL) into chunks
//! of events that this thread replays into objects meanwhile (orjson and json do both on
//! one thread). TOML (lexed into parser events) and YAML (into a tree) are parsed with the GIL
//! released, then built.
//!
//! What stays in Python, reached through `pyagent.config_core` (imported at call time):
//! argument checks and path expansion (`_check_format`, `_plan`), the `Config` and
//! `ConfigError` classes (so both backends raise the one class), INI (configparser's rules),
//! and, on the cold error path only, locating a syntax error the native parser found
//! (`_native_syntax_error`), which normalises the position to the reference parser's. A
//! JSON `\u` escape of a lone surrogate (which `json.loads` accepts but UTF-8 cannot hold)
//! sends that one document to the reference parser.

use crate::storage::regular_file::{open_regular, read_regular};

use memmap2::Mmap;
use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyDate, PyDateTime, PyDict, PyFloat, PyInt, PyList, PyString, PyTime, PyTzInfo,
};

use super::buffer::TextOrBytes;
use super::errors::os_error;
use crate::text::config::{self, Builder, Chunk, ParseError, StrHint, SyntaxError, Temporal};

const MODULE: &str = "pyagent.config_core";

extern "C" {
    /// CPython's dict constructor with room for `minused` entries, so a dict built from a
    /// known number of entries never resizes (exported by every CPython 3.x, used by
    /// orjson for the same purpose; pyo3-ffi leaves private functions out).
    fn _PyDict_NewPresized(minused: ffi::Py_ssize_t) -> *mut ffi::PyObject;
}

fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import(MODULE)
}

/// Where progress goes: `callback(path, base + bytes_done, total)`.
struct Progress<'py> {
    callback: Bound<'py, PyAny>,
    path: Bound<'py, PyAny>,
    base: u64,
    total: Bound<'py, PyAny>,
}

/// A str from UTF-8 text; ASCII (the common case for config keys and values) is copied
/// straight into a new compact str, skipping the UTF-8 decoder.
fn new_str<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    if !text.is_ascii() {
        return Ok(PyString::new(py, text).into_any());
    }
    new_ascii(py, text)
}

/// A compact ASCII str holding `text`, which must be ASCII.
fn new_ascii<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    debug_assert!(text.is_ascii());
    if !text.is_ascii() {
        return Ok(PyString::new(py, text).into_any());
    }
    let len = ffi::Py_ssize_t::try_from(text.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("string too long"))?;
    // SAFETY: PyUnicode_New(len, 127) returns a new compact ASCII str with room for `len`
    // one-byte characters (and its terminating NUL) at PyUnicode_DATA, or NULL with an
    // exception set; the bytes copied are ASCII, as such a str requires.
    unsafe {
        let ptr = ffi::PyUnicode_New(len, 127);
        if ptr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let data = ffi::PyUnicode_DATA(ptr).cast::<u8>();
        std::ptr::copy_nonoverlapping(text.as_ptr(), data, text.len());
        Ok(Bound::from_owned_ptr(py, ptr))
    }
}

/// Slots of a string cache (a power of two).
const CACHE_SLOTS: usize = 4096;
/// The longest mapping key cached, and the longest string value.
const KEY_MAX: usize = 64;
const VALUE_MAX: usize = 16;

/// Recently built ASCII strings by content: a config repeats the same keys in every entry
/// (and many short values: flags, tags, enum-like names), so each is built once and shared,
/// as json.loads shares keys through its memo. Direct-mapped: a colliding string replaces
/// the slot's occupant. A slot is compared against the cached str's own bytes, so nothing
/// else is stored.
#[derive(Default)]
struct StrCache {
    slots: Vec<Option<Py<PyAny>>>,
    /// The producer's hash of each slot's string (events only; 0 when filled by `get`).
    hashes: Vec<u32>,
}

impl StrCache {
    fn slot(text: &[u8]) -> usize {
        // FNV-1a: short strings, one pass, no dependency.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &byte in text {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        (hash as usize) & (CACHE_SLOTS - 1)
    }

    /// The bytes of a compact ASCII str built by [`new_str`].
    fn ascii_bytes<'a>(object: &'a Bound<'_, PyAny>) -> &'a [u8] {
        // SAFETY: every cached object is an ASCII str made by new_str (PyUnicode_New with
        // maxchar 127): one byte per character at PyUnicode_DATA, immutable, alive as long
        // as the reference the cache holds.
        unsafe {
            let ptr = object.as_ptr();
            let len = usize::try_from(ffi::PyUnicode_GET_LENGTH(ptr)).unwrap_or(0);
            std::slice::from_raw_parts(ffi::PyUnicode_DATA(ptr).cast::<u8>(), len)
        }
    }

    /// [`StrCache::get`] for a string whose ASCII-ness and cache hash the producer found.
    fn get_hinted<'py>(
        &mut self,
        py: Python<'py>,
        text: &str,
        hint: StrHint,
        max: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let hash = match hint.hash {
            Some(hash) if text.len() <= max => hash,
            _ if hint.ascii => return new_ascii(py, text),
            _ => return Ok(PyString::new(py, text).into_any()),
        };
        if self.slots.is_empty() {
            self.slots.resize_with(CACHE_SLOTS, || None);
            self.hashes.resize(CACHE_SLOTS, 0);
        }
        let index = hash as usize & (CACHE_SLOTS - 1);
        if self.hashes.get(index) == Some(&hash) {
            if let Some(Some(object)) = self.slots.get(index) {
                let object = object.bind(py);
                if Self::ascii_bytes(object) == text.as_bytes() {
                    return Ok(object.clone());
                }
            }
        }
        let object = new_ascii(py, text)?;
        // First come, first kept: a slot is filled once and never replaced. Evicting would
        // release the old occupant, a cold object by then (an id seen once long ago), and
        // that cache miss cost more than the cache saved; the strings that repeat (keys,
        // enum-like values) are the ones met early and often.
        if let (Some(slot @ None), Some(h)) =
            (self.slots.get_mut(index), self.hashes.get_mut(index))
        {
            *slot = Some(object.clone().unbind());
            *h = hash;
        }
        Ok(object)
    }

    fn get<'py>(&mut self, py: Python<'py>, text: &str, max: usize) -> PyResult<Bound<'py, PyAny>> {
        if text.len() > max || !text.is_ascii() {
            return new_str(py, text);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(CACHE_SLOTS, || None);
            self.hashes.resize(CACHE_SLOTS, 0);
        }
        let index = Self::slot(text.as_bytes());
        if let Some(Some(object)) = self.slots.get(index) {
            let object = object.bind(py);
            if Self::ascii_bytes(object) == text.as_bytes() {
                return Ok(object.clone());
            }
        }
        let object = new_str(py, text)?;
        if let (Some(slot), Some(h)) = (self.slots.get_mut(index), self.hashes.get_mut(index)) {
            *slot = Some(object.clone().unbind());
            *h = 0;
        }
        Ok(object)
    }
}

/// Builds Python objects: dict, list, str, int, float, bool, None, datetime types.
struct PyBuilder<'py> {
    py: Python<'py>,
    progress: Option<Progress<'py>>,
    /// Set when a value the parser accepted is still invalid (a TOML date that does not
    /// exist): the error is then a syntax error, located like any other.
    invalid: Option<String>,
    keys: StrCache,
    values: StrCache,
    /// The last date, time or datetime built: configs repeat the same one (a release date,
    /// a timestamp default) in entry after entry, and the objects are immutable.
    last_temporal: Option<(Temporal, Bound<'py, PyAny>)>,
}

impl<'py> PyBuilder<'py> {
    fn new(py: Python<'py>) -> Self {
        PyBuilder {
            py,
            progress: None,
            invalid: None,
            keys: StrCache::default(),
            values: StrCache::default(),
            last_temporal: None,
        }
    }

    fn tzinfo(&self, minutes: Option<i16>, utc: bool) -> PyResult<Option<Bound<'py, PyTzInfo>>> {
        static TIMEZONE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        static TIMEDELTA: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = self.py;
        match minutes {
            None => Ok(None),
            Some(_) if utc => Ok(Some(PyTzInfo::utc(py)?.to_owned())),
            Some(m) => {
                let timedelta = TIMEDELTA.import(py, "datetime", "timedelta")?;
                let timezone = TIMEZONE.import(py, "datetime", "timezone")?;
                let delta = timedelta.call1((0, i32::from(m) * 60))?;
                Ok(Some(timezone.call1((delta,))?.cast_into::<PyTzInfo>()?))
            }
        }
    }

    fn temporal_object(&self, value: Temporal) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match value {
            Temporal::Date { year, month, day } => {
                PyDate::new(py, i32::from(year), month, day)?.into_any()
            }
            Temporal::Time {
                hour,
                minute,
                second,
                microsecond,
            } => PyTime::new(py, hour, minute, second, microsecond, None)?.into_any(),
            Temporal::DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                microsecond,
                offset_minutes,
                utc,
            } => {
                let tz = self.tzinfo(offset_minutes, utc)?;
                PyDateTime::new(
                    py,
                    i32::from(year),
                    month,
                    day,
                    hour,
                    minute,
                    second,
                    microsecond,
                    tz.as_ref(),
                )?
                .into_any()
            }
        })
    }
}

impl<'py> Builder for PyBuilder<'py> {
    type Value = Bound<'py, PyAny>;
    type Map = Bound<'py, PyDict>;
    type Error = PyErr;

    fn null(&mut self) -> PyResult<Self::Value> {
        Ok(self.py.None().into_bound(self.py))
    }
    fn boolean(&mut self, value: bool) -> PyResult<Self::Value> {
        Ok(PyBool::new(self.py, value).to_owned().into_any())
    }
    fn int(&mut self, value: i64) -> PyResult<Self::Value> {
        Ok(value.into_pyobject(self.py)?.into_any())
    }
    fn big_int(&mut self, digits: &str) -> PyResult<Self::Value> {
        // int(str), as json.loads does for the same digits (and with the same digit limit,
        // sys.get_int_max_str_digits(): beyond it the document is refused, located by the
        // reference parser, which refuses it too).
        self.py
            .get_type::<PyInt>()
            .call1((digits,))
            .inspect_err(|_| self.invalid = Some("integer too large".to_owned()))
    }
    fn float(&mut self, value: f64) -> PyResult<Self::Value> {
        Ok(PyFloat::new(self.py, value).into_any())
    }
    fn string(&mut self, value: &str) -> PyResult<Self::Value> {
        self.values.get(self.py, value, VALUE_MAX)
    }
    fn key(&mut self, value: &str) -> PyResult<Self::Value> {
        self.keys.get(self.py, value, KEY_MAX)
    }
    fn string_hinted(&mut self, value: &str, hint: StrHint) -> PyResult<Self::Value> {
        self.values.get_hinted(self.py, value, hint, VALUE_MAX)
    }
    fn key_hinted(&mut self, value: &str, hint: StrHint) -> PyResult<Self::Value> {
        self.keys.get_hinted(self.py, value, hint, KEY_MAX)
    }
    fn temporal(&mut self, value: Temporal) -> PyResult<Self::Value> {
        if let Some((last, object)) = &self.last_temporal {
            if *last == value {
                return Ok(object.clone());
            }
        }
        let object = self.temporal_object(value).inspect_err(|_| {
            self.invalid = Some("invalid date or datetime".to_owned());
        })?;
        self.last_temporal = Some((value, object.clone()));
        Ok(object)
    }
    fn new_map(&mut self) -> PyResult<Self::Map> {
        Ok(PyDict::new(self.py))
    }
    fn map_insert(
        &mut self,
        map: &mut Self::Map,
        key: Self::Value,
        value: Self::Value,
    ) -> PyResult<()> {
        // SAFETY: three valid objects, the map a dict; PyDict_SetItem takes its own references.
        if unsafe { ffi::PyDict_SetItem(map.as_ptr(), key.as_ptr(), value.as_ptr()) } < 0 {
            return Err(PyErr::fetch(self.py));
        }
        Ok(())
    }
    fn finish_map(&mut self, map: Self::Map) -> PyResult<Self::Value> {
        Ok(map.into_any())
    }
    fn map_from<I>(&mut self, pairs: I) -> PyResult<Self::Value>
    where
        I: ExactSizeIterator<Item = (Self::Value, Self::Value)>,
    {
        let py = self.py;
        let size = ffi::Py_ssize_t::try_from(pairs.len()).unwrap_or(ffi::Py_ssize_t::MAX);
        // SAFETY: _PyDict_NewPresized returns a new empty dict sized for `size` entries (or
        // NULL with an exception set), owned here; PyDict_SetItem takes its own references
        // to valid key and value objects.
        unsafe {
            let dict = Bound::from_owned_ptr_or_err(py, _PyDict_NewPresized(size))?;
            for (key, value) in pairs {
                if ffi::PyDict_SetItem(dict.as_ptr(), key.as_ptr(), value.as_ptr()) < 0 {
                    return Err(PyErr::fetch(py));
                }
            }
            Ok(dict)
        }
    }
    fn list_from<I>(&mut self, items: I) -> PyResult<Self::Value>
    where
        I: ExactSizeIterator<Item = Self::Value>,
    {
        Ok(PyList::new(self.py, items)?.into_any())
    }
    fn list(&mut self, items: Vec<Self::Value>) -> PyResult<Self::Value> {
        Ok(PyList::new(self.py, items)?.into_any())
    }
    fn progress(&mut self, bytes_done: usize) -> PyResult<()> {
        if let Some(p) = &self.progress {
            let done = p.base + bytes_done as u64;
            p.callback.call1((&p.path, done, &p.total))?;
        }
        Ok(())
    }
}

/// Documents from this size on are parsed on a second thread while this one builds.
const PIPELINE_MIN: usize = 1 << 20;
/// Chunks in flight between the parsing thread and the building one.
const PIPELINE_DEPTH: usize = 32;

/// One JSON document: jiter walks it into events on a helper thread (no GIL needed) while
/// this thread, holding the GIL, replays them into Python objects; a bounded channel keeps
/// only a few chunks of events in flight. Small documents do both steps here.
fn parse_json<'py>(
    data: &[u8],
    builder: &mut PyBuilder<'py>,
) -> Result<Bound<'py, PyAny>, ParseError<PyErr>> {
    if data.len() < PIPELINE_MIN {
        return config::parse_json_events(data, builder);
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Chunk, SyntaxError>>(PIPELINE_DEPTH);
        // Used chunks go back to the producer, so their buffers are allocated once.
        let (give_back, take_back) = std::sync::mpsc::channel::<Chunk>();
        let producer = std::thread::Builder::new()
            .name("rust_core-config-json".to_owned())
            .spawn_scoped(scope, move || {
                let walked = config::json_events_reusing(
                    data,
                    |chunk| tx.send(Ok(chunk)).is_ok(),
                    || take_back.try_recv().ok(),
                );
                if let Err(error) = walked {
                    // The receiver may be gone already (the builder failed first).
                    let _ = tx.send(Err(error));
                }
            });
        match producer {
            Ok(_) => config::replay(data, rx.iter(), builder, |chunk| {
                // The producer may have finished: then the chunk is simply dropped.
                let _ = give_back.send(chunk);
            }),
            // No thread to be had: walk and build here.
            Err(_) => config::parse_json_events(data, builder),
        }
        // `rx` is dropped here, so a producer still sending stops before the scope joins it.
    })
}

/// JSON documents from this size on are built with the cyclic GC paused (below it, the two
/// calls to the gc module cost more than the collections they avoid).
const GC_PAUSE_MIN: usize = 64 << 10;

/// `build()` with the cyclic GC paused: a document makes many dicts and lists with no cycles
/// among them, which the GC would rescan every few hundred allocations (measured on the 3 MiB
/// bench shard: 12% of the time), and the result is the same either way. The GC is turned
/// back on whatever `build` returns.
fn without_gc<'py, T>(
    py: Python<'py>,
    build: impl FnOnce() -> Result<T, ParseError<PyErr>>,
) -> Result<Result<T, ParseError<PyErr>>, ParseError<PyErr>> {
    let gc = py.import("gc").map_err(ParseError::Build)?;
    let was_enabled = gc
        .call_method0("isenabled")
        .and_then(|v| v.is_truthy())
        .map_err(ParseError::Build)?;
    if was_enabled {
        gc.call_method0("disable").map_err(ParseError::Build)?;
    }
    let built = build();
    if was_enabled {
        gc.call_method0("enable").map_err(ParseError::Build)?;
    }
    Ok(built)
}

/// One document in a format the native side parses; `Err(Syntax)` for the caller to locate.
fn parse_native<'py>(
    py: Python<'py>,
    data: &[u8],
    fmt: &str,
    builder: &mut PyBuilder<'py>,
) -> Result<Bound<'py, PyAny>, ParseError<PyErr>> {
    let result = match fmt {
        "json" if data.len() >= GC_PAUSE_MIN => without_gc(py, || parse_json(data, builder))?,
        "json" => parse_json(data, builder),
        "toml" => {
            let tree = py.detach(|| config::toml_tree(data));
            let tree = tree.map_err(ParseError::Syntax)?;
            without_gc(py, || config::build_toml(&tree, builder))?
        }
        "yaml" => {
            let graph = py.detach(|| config::yaml_tree(data));
            let graph = graph.map_err(ParseError::Syntax)?;
            config::build_yaml(&graph, builder)
        }
        other => {
            return Err(ParseError::Build(PyValueError::new_err(format!(
                "no native parser for {other}"
            ))))
        }
    };
    match (result, builder.invalid.take()) {
        (Err(ParseError::Build(_)), Some(message)) => Err(ParseError::Syntax(SyntaxError {
            offset: 0,
            message,
            reference_decides: false,
        })),
        (result, _) => result,
    }
}

/// The ConfigError for a syntax error found natively, located by the reference parser.
fn syntax_error(
    py: Python<'_>,
    data: Option<&Bound<'_, PyAny>>,
    fmt: &str,
    path: Option<&Bound<'_, PyAny>>,
    error: SyntaxError,
) -> PyErr {
    let built = module(py).and_then(|m| {
        m.call_method1(
            "_native_syntax_error",
            (data, fmt, path, error.offset, error.message),
        )
    });
    match built {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

/// Parses one document (str or UTF-8 bytes) in format `fmt`.
#[pyfunction]
#[pyo3(name = "_parse")]
fn parse<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    fmt: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let m = module(py)?;
    let name: String = m.call_method1("_check_format", (fmt,))?.extract()?;
    // Text the native parsers cannot read as UTF-8 (lone surrogates) and INI go to the
    // reference parser; so does anything that is neither str nor a buffer (its TypeError).
    let text = match TextOrBytes::extract(data, "config data") {
        Ok(text) if name != "ini" => text,
        _ => return m.call_method1("_parse_reference", (data, name, py.None())),
    };
    let mut builder = PyBuilder::new(py);
    match parse_native(py, text.as_bytes(), &name, &mut builder) {
        Ok(value) => Ok(value),
        Err(ParseError::Build(err)) => Err(err),
        Err(ParseError::Syntax(error)) if error.reference_decides => {
            m.call_method1("_parse_reference", (data, name, py.None()))
        }
        Err(ParseError::Syntax(error)) => Err(syntax_error(py, Some(data), &name, None, error)),
    }
}

/// The file's bytes, memory-mapped (an empty file maps to nothing).
fn map_file(path: &str) -> PyResult<Option<Mmap>> {
    let file = open_regular(path.as_ref()).map_err(|e| os_error(e, Some(path.as_ref())))?;
    let len = file
        .metadata()
        .map_err(|e| os_error(e, Some(path.as_ref())))?
        .len();
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: the map is read-only and dropped before this call returns. Another process
    // truncating the file meanwhile could fault the read, as it could for any mmap reader;
    // config files are not expected to change while they are loaded.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| os_error(e, Some(path.as_ref())))?;
    Ok(Some(map))
}

/// Merges `update` into `base` in place: dicts recursively, anything else replaced.
fn deep_merge<'py>(base: &Bound<'py, PyDict>, update: &Bound<'py, PyDict>) -> PyResult<()> {
    let py = base.py();
    let mut stack = vec![(base.clone().into_any(), update.clone().into_any())];
    while let Some((target, source)) = stack.pop() {
        let mut pos: ffi::Py_ssize_t = 0;
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value: *mut ffi::PyObject = std::ptr::null_mut();
        // SAFETY: `target` and `source` are dicts held by this frame; `source` is a freshly
        // parsed shard's dict that nothing else can reach, so it does not change while
        // PyDict_Next walks it (setting items of `target`, a different dict, runs no Python
        // code: keys are parsed str/int/float/bool/None/datetime). PyDict_Next and
        // PyDict_GetItemWithError return borrowed references, used before any change to
        // the dict holding them; the ones kept are turned into owned references first.
        unsafe {
            while ffi::PyDict_Next(source.as_ptr(), &mut pos, &mut key, &mut value) != 0 {
                let current = ffi::PyDict_GetItemWithError(target.as_ptr(), key);
                if current.is_null() {
                    if let Some(err) = PyErr::take(py) {
                        return Err(err);
                    }
                } else if ffi::PyDict_Check(current) != 0 && ffi::PyDict_Check(value) != 0 {
                    stack.push((
                        Bound::from_borrowed_ptr(py, current),
                        Bound::from_borrowed_ptr(py, value),
                    ));
                    continue;
                }
                if ffi::PyDict_SetItem(target.as_ptr(), key, value) < 0 {
                    return Err(PyErr::fetch(py));
                }
            }
        }
    }
    Ok(())
}

/// Loads and deep-merges config shards into one `pyagent.config_core.Config`.
#[pyfunction]
#[pyo3(signature = (source, fmt = None, progress = None))]
fn load_config<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    fmt: Option<&Bound<'py, PyAny>>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let m = module(py)?;
    let progress = progress.filter(|p| !p.is_none());
    if let Some(p) = progress {
        if !p.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "progress must be callable, not {}",
                p.get_type().name()?
            )));
        }
    }
    let plan: Vec<(String, String, u64)> = m.call_method1("_plan", (source, fmt))?.extract()?;
    let total: u64 = plan.iter().map(|(_, _, size)| size).sum();
    let total_obj = total.into_pyobject(py)?.into_any();
    let result = m.getattr("Config")?.call0()?;
    let merged = result.cast::<PyDict>()?;
    let mut done: u64 = 0;
    for (path, name, size) in &plan {
        let path_obj = PyString::new(py, path).into_any();
        if let Some(p) = progress {
            p.call1((&path_obj, done, &total_obj))?;
        }
        let value = if name == "ini" {
            let data = read_regular(path.as_ref()).map_err(|e| os_error(e, Some(path.as_ref())))?;
            let bytes = pyo3::types::PyBytes::new(py, &data);
            m.call_method1("_parse_reference", (bytes, name, &path_obj))?
        } else {
            let map = map_file(path)?;
            let data: &[u8] = map.as_deref().unwrap_or(&[]);
            let mut builder = PyBuilder::new(py);
            builder.progress = progress.map(|p| Progress {
                callback: p.clone(),
                path: path_obj.clone(),
                base: done,
                total: total_obj.clone(),
            });
            match parse_native(py, data, name, &mut builder) {
                Ok(value) => value,
                Err(ParseError::Build(err)) => return Err(err),
                Err(ParseError::Syntax(error)) if error.reference_decides => {
                    drop(map);
                    let data = read_regular(path.as_ref())
                        .map_err(|e| os_error(e, Some(path.as_ref())))?;
                    let bytes = pyo3::types::PyBytes::new(py, &data);
                    drop(data);
                    m.call_method1("_parse_reference", (bytes, name, &path_obj))?
                }
                Err(ParseError::Syntax(error)) => {
                    drop(map);
                    return Err(syntax_error(py, None, name, Some(&path_obj), error));
                }
            }
        };
        let value = if value.is_none() && name == "yaml" {
            PyDict::new(py).into_any()
        } else {
            value
        };
        match value.cast::<PyDict>() {
            Ok(dict) => deep_merge(merged, dict)?,
            Err(_) => {
                let exc = m.call_method1("_not_a_mapping", (&path_obj, &value))?;
                return Err(PyErr::from_value(exc));
            }
        }
        done += size;
        if let Some(p) = progress {
            p.call1((&path_obj, done, &total_obj))?;
        }
    }
    Ok(result)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(load_config, m)?)?;
    Ok(())
}
