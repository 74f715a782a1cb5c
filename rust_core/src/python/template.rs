//! TemplateCore bindings: apply_template and its batch form.
//!
//! A template is compiled once and cached by its text (256 templates at most, like the
//! Python reference's lru_cache): its literal text between placeholders is sliced from the
//! original Python string by code point, names are interned (so each lookup reuses a cached
//! hash) and each placeholder's text as written is kept for names that are missing.
//!
//! Rendering writes each result straight into a new Python str, with no intermediate Rust
//! `String` (no UTF-8 encode, decode or re-validation) and no `str.join` list. For each
//! mapping, in order:
//!
//! 1. Look the names up: an exact dict with `PyDict_GetItemWithError` and the interned names
//!    (their hashes are cached, so nothing is hashed again); any other Mapping with `in`
//!    then `[]`, as the reference does. Each value becomes text exactly as `str(value)`: an
//!    exact str is itself, an exact int that fits an i64 is formatted here (`str(int)` is its
//!    plain decimal), anything else goes through `PyObject_Str`. Each text is read in place
//!    (its PEP 393 width and data pointer) while a strong reference to it is held.
//! 2. Now the result's length and widest character are known: `PyUnicode_New` allocates it
//!    and the literals and values are copied in (`memcpy`, or widened from 1 to 2 or 4 bytes,
//!    or 2 to 4, when the result is wider than a piece). A result of a million code points or
//!    more is filled with the GIL released (see [`Detached`] for why that is sound).
//!
//! Filling each result right after allocating it, while its memory and the values are still
//! in cache, measured faster on the 2-core CI machine than filling chunks of results on the
//! rayon pool: the per-prompt cost is dominated by the lookups, the allocation (and the
//! kernel's page faults on fresh heap memory), which need the GIL (or happen inside malloc).
//!
//! PEP 393 requires a str to be stored at the narrowest width its largest character fits,
//! with the ASCII flag exactly when every character is below 128; `PyUnicode_New(len,
//! maxchar)` picks both from `maxchar`, so the result's maxchar is the largest "class"
//! (127, 255, 0xFFFF, 0x10FFFF) over the pieces it is made of. Each piece is itself a
//! canonical str (or ASCII digits), so that class is exactly the result's.

use std::ffi::c_void;

use pyo3::exceptions::{PyKeyError, PyOverflowError, PySystemError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyMapping, PySlice, PyString};

use super::cache::type_name;
use super::names::stored_items;
use crate::text::template::{decimal, placeholders, Units, UnitsMut, Writer, DECIMAL_MAX};

/// A template split once. Cached by template text (see [`compiled`]), so repeated
/// single calls with one template compile it once, as the Python reference's lru_cache does.
#[pyclass(frozen)]
struct Compiled {
    /// `literals[i]` precedes placeholder `i`; the last one follows the last placeholder.
    /// Each is an exact str (a slice of the template).
    literals: Vec<Py<PyAny>>,
    names: Vec<Py<PyString>>,
    /// Each placeholder as written (an exact, ASCII str), for names that are missing; only
    /// read through `plan.raws`, this keeps them alive.
    _raws: Vec<Py<PyAny>>,
    /// `literals` and `raws` read in place.
    plan: Plan,
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
    let mut literals = Vec::with_capacity(found.len() + 1);
    let mut names = Vec::with_capacity(found.len());
    let mut raws = Vec::with_capacity(found.len());
    let mut end = 0;
    for p in &found {
        literals.push(slice(end, p.start)?);
        let name: String = chars[p.name_start..p.name_end].iter().collect();
        names.push(PyString::intern(py, &name).unbind());
        raws.push(slice(p.start, p.end)?);
        end = p.end;
    }
    literals.push(slice(end, chars.len())?);
    Ok(Compiled {
        plan: Plan::new(py, &literals, &raws)?,
        literals,
        names,
        _raws: raws,
    })
}

/// The compiled form of `template` (a str, else TypeError), from the cache when it can be.
fn compiled<'py>(py: Python<'py>, template: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Compiled>> {
    let text = template.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("template must be str, not {}", type_name(template)))
    })?;
    // A str subclass by its stored text (`str.__str__`), so that none of its overridden
    // __getitem__, __hash__ or __eq__ runs here (docs/limits.md, "Hostile arguments").
    let exact;
    let text = if text.is_exact_instance_of::<PyString>() {
        text
    } else {
        exact = py
            .get_type::<PyString>()
            .call_method1("__str__", (text,))?
            .cast_into::<PyString>()
            .map_err(PyErr::from)?;
        &exact
    };
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

/// A str's storage read in place: its data, length in code points, width in bytes (1, 2 or
/// 4) and maxchar class (127, 255, 0xFFFF or 0x10FFFF; see the module docs).
#[derive(Clone, Copy)]
struct Text {
    data: *const c_void,
    len: usize,
    kind: u32,
    class: u32,
}

impl Text {
    /// Reads the storage of the str `text`, readying a legacy str first (Python 3.11).
    ///
    /// The result points into `text`: it may be used only while `text` is alive.
    fn of(text: &Bound<'_, PyAny>) -> PyResult<Text> {
        let ptr = text.as_ptr();
        // SAFETY: `ptr` is a live object (borrowed from `text`). The PyUnicode_* macros only
        // read its header, which is valid for any str once it is ready; PyUnicode_READY is
        // a no-op on 3.12+ and makes a legacy 3.11 str ready (or fails with an exception).
        let text = unsafe {
            if ffi::PyUnicode_Check(ptr) == 0 {
                return Err(PySystemError::new_err("apply_template: text is not a str"));
            }
            if ffi::PyUnicode_READY(ptr) != 0 {
                return Err(PyErr::fetch(text.py()));
            }
            let kind = ffi::PyUnicode_KIND(ptr);
            Text {
                data: ffi::PyUnicode_DATA(ptr),
                len: usize::try_from(ffi::PyUnicode_GET_LENGTH(ptr)).unwrap_or(0),
                kind,
                class: match kind {
                    ffi::PyUnicode_1BYTE_KIND if ffi::PyUnicode_IS_ASCII(ptr) != 0 => 0x7f,
                    ffi::PyUnicode_1BYTE_KIND => 0xff,
                    ffi::PyUnicode_2BYTE_KIND => 0xffff,
                    _ => 0x10_ffff,
                },
            }
        };
        // CPython stores 2- and 4-byte text aligned; checked so that units() can never
        // build a misaligned slice.
        let aligned = match text.kind {
            ffi::PyUnicode_1BYTE_KIND => true,
            ffi::PyUnicode_2BYTE_KIND => text.data.cast::<u16>().is_aligned(),
            ffi::PyUnicode_4BYTE_KIND => text.data.cast::<u32>().is_aligned(),
            _ => false,
        };
        if text.data.is_null() || !aligned {
            return Err(PySystemError::new_err(
                "apply_template: unexpected str layout",
            ));
        }
        Ok(text)
    }

    /// The code units.
    ///
    /// # Safety
    /// The str this was read from is alive and unchanged for 'a (strs are immutable).
    unsafe fn units<'a>(&self) -> Units<'a> {
        // SAFETY: `of` checked the pointer is non-null and aligned for `kind`; the str holds
        // `len` units of that width at `data`.
        match self.kind {
            ffi::PyUnicode_1BYTE_KIND => {
                Units::U8(std::slice::from_raw_parts(self.data.cast(), self.len))
            }
            ffi::PyUnicode_2BYTE_KIND => {
                Units::U16(std::slice::from_raw_parts(self.data.cast(), self.len))
            }
            _ => Units::U32(std::slice::from_raw_parts(self.data.cast(), self.len)),
        }
    }
}

/// One placeholder's replacement: a str read in place, or an int's decimal digits.
#[derive(Clone, Copy)]
enum Piece {
    Text(Text),
    Digits { buf: [u8; DECIMAL_MAX], start: u8 },
}

impl Piece {
    fn digits(n: i64) -> Piece {
        let mut buf = [0; DECIMAL_MAX];
        let start = DECIMAL_MAX - decimal(n, &mut buf).len();
        Piece::Digits {
            buf,
            start: start as u8,
        }
    }

    fn len(&self) -> usize {
        match self {
            Piece::Text(text) => text.len,
            Piece::Digits { start, .. } => DECIMAL_MAX - usize::from(*start),
        }
    }

    fn class(&self) -> u32 {
        match self {
            Piece::Text(text) => text.class,
            Piece::Digits { .. } => 0x7f,
        }
    }

    /// # Safety
    /// As [`Text::units`] for a text piece.
    unsafe fn units(&self) -> Units<'_> {
        match self {
            Piece::Text(text) => text.units(),
            Piece::Digits { buf, start } => {
                Units::U8(buf.get(usize::from(*start)..).unwrap_or(&[]))
            }
        }
    }
}

/// The compiled template's literal and placeholder texts, read in place once at compile time.
struct Plan {
    literals: Vec<Text>,
    raws: Vec<Text>,
    literal_len: usize,
    literal_class: u32,
}

// SAFETY: every Text of a Plan points into a str owned by the same `Compiled` (its
// `literals` and `raws`), which never changes and lives as long as the Plan; the data of a
// CPython object never moves. Nothing writes through these pointers.
unsafe impl Send for Plan {}
// SAFETY: as for Send; shared use only reads.
unsafe impl Sync for Plan {}

impl Plan {
    fn new(py: Python<'_>, literals: &[Py<PyAny>], raws: &[Py<PyAny>]) -> PyResult<Plan> {
        let texts = |objects: &[Py<PyAny>]| -> PyResult<Vec<Text>> {
            objects.iter().map(|o| Text::of(o.bind(py))).collect()
        };
        let literals = texts(literals)?;
        let literal_len = literals.iter().map(|t| t.len).sum();
        let literal_class = literals.iter().map(|t| t.class).max().unwrap_or(0x7f);
        Ok(Plan {
            raws: texts(raws)?,
            literals,
            literal_len,
            literal_class,
        })
    }
}

fn too_long() -> PyErr {
    PyOverflowError::new_err("apply_template result is too long for a Python string")
}

/// `str(value)` as a piece; a str it is read from is pushed on `keep`, which must outlive
/// every use of the piece.
fn value_piece<'py>(
    value: Bound<'py, PyAny>,
    keep: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<Piece> {
    let ptr = value.as_ptr();
    // SAFETY: `ptr` is a live object; the type checks are pointer compares, and
    // PyLong_AsLongLongAndOverflow on an exact int runs no Python code.
    unsafe {
        if ffi::PyLong_CheckExact(ptr) != 0 {
            let mut overflow = 0;
            let n = ffi::PyLong_AsLongLongAndOverflow(ptr, &mut overflow);
            if overflow == 0 {
                if n == -1 {
                    if let Some(err) = PyErr::take(value.py()) {
                        return Err(err);
                    }
                }
                return Ok(Piece::digits(n));
            }
            // Beyond i64: str() below, which also applies sys.set_int_max_str_digits.
        }
    }
    // SAFETY: as above.
    let text = if unsafe { ffi::PyUnicode_CheckExact(ptr) } != 0 {
        value
    } else {
        value.str()?.into_any()
    };
    let piece = Piece::Text(Text::of(&text)?);
    keep.push(text);
    Ok(piece)
}

/// Where a new result's code units go.
#[derive(Clone, Copy)]
struct Out {
    data: *mut c_void,
    len: usize,
    kind: u32,
}

/// A new str of `len` code points with maxchar `class`, its contents not yet written.
fn new_result(py: Python<'_>, len: usize, class: u32) -> PyResult<(Bound<'_, PyAny>, Out)> {
    let size = ffi::Py_ssize_t::try_from(len).map_err(|_| too_long())?;
    // SAFETY: PyUnicode_New returns a new reference to a ready str of `size` code points
    // at the width `class` calls for, or NULL with an exception set.
    let result = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyUnicode_New(size, class))? };
    let ptr = result.as_ptr();
    // SAFETY: `result` is a live str; the macros read its header.
    let out = unsafe {
        Out {
            data: ffi::PyUnicode_DATA(ptr),
            len,
            kind: ffi::PyUnicode_KIND(ptr),
        }
    };
    Ok((result, out))
}

/// Writes the literals with `pieces` (one per placeholder) between them into `out`; false
/// if they do not fill it exactly (which the length computed when allocating rules out).
///
/// # Safety
/// `out` is a result made by [`new_result`] that no one else can see yet, and nothing else
/// writes it meanwhile; every text of `literals` and `pieces` is alive and unchanged.
unsafe fn fill(out: &Out, literals: &[Text], pieces: &[Piece]) -> bool {
    if literals.len() != pieces.len() + 1 {
        return false;
    }
    if out.len == 0 {
        // The empty str is a shared singleton: nothing to write, and it must not be.
        return literals.iter().all(|t| t.len == 0) && pieces.iter().all(|p| p.len() == 0);
    }
    // SAFETY: PyUnicode_New made room for `len` units of `kind` at `data` (aligned by
    // CPython), and this is the only reference to that memory in use.
    let dst = match out.kind {
        ffi::PyUnicode_1BYTE_KIND => {
            UnitsMut::U8(std::slice::from_raw_parts_mut(out.data.cast(), out.len))
        }
        ffi::PyUnicode_2BYTE_KIND => {
            UnitsMut::U16(std::slice::from_raw_parts_mut(out.data.cast(), out.len))
        }
        _ => UnitsMut::U32(std::slice::from_raw_parts_mut(out.data.cast(), out.len)),
    };
    let mut writer = Writer::new(dst);
    for (literal, piece) in literals.iter().zip(pieces) {
        writer.push(literal.units());
        writer.push(piece.units());
    }
    if let Some(last) = literals.last() {
        writer.push(last.units());
    }
    writer.finish()
}

/// One result to fill with the GIL released (see [`Render::push`]).
///
/// It holds raw pointers so that it can cross into `py.detach`. That is sound because it
/// lives only inside `Render::push`, which meanwhile holds: the result (an object it made
/// and has not shown to anyone, so no other thread can reach it: it is in no container and a
/// str is not tracked by the GC), the strs every `Text` points into (`Render::keep`, or the
/// `Compiled` the caller holds; strs are immutable), and the pieces; the worker calls no
/// CPython function and touches no reference count.
struct Detached<'a> {
    out: Out,
    literals: &'a [Text],
    pieces: &'a [Piece],
}

// SAFETY: see Detached.
unsafe impl Send for Detached<'_> {}

impl Detached<'_> {
    fn fill(self) -> bool {
        // SAFETY: see Detached.
        unsafe { fill(&self.out, self.literals, self.pieces) }
    }
}

/// A result this long is filled with the GIL released.
const DETACH_UNITS: usize = 1 << 20;

/// Renders mappings one after another, each straight into its result str.
struct Render<'a, 'py> {
    compiled: &'a Compiled,
    strict: bool,
    results: Vec<Bound<'py, PyAny>>,
    /// The current mapping's pieces, and the strs they point into.
    pieces: Vec<Piece>,
    keep: Vec<Bound<'py, PyAny>>,
}

impl<'a, 'py> Render<'a, 'py> {
    fn new(compiled: &'a Compiled, strict: bool, capacity: usize) -> Self {
        let per = compiled.names.len();
        Render {
            compiled,
            strict,
            results: Vec::with_capacity(capacity),
            pieces: Vec::with_capacity(per),
            keep: Vec::with_capacity(per),
        }
    }

    /// The value of `name` if it is in `variables` (as the `in` operator says).
    fn lookup(
        variables: &Bound<'py, PyAny>,
        exact_dict: bool,
        name: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if exact_dict {
            let py = variables.py();
            // SAFETY: both are live objects and `variables` is a dict. The borrowed result
            // is turned into a strong reference at once, before any other Python code runs.
            unsafe {
                let found = ffi::PyDict_GetItemWithError(variables.as_ptr(), name.as_ptr());
                if found.is_null() {
                    return match PyErr::take(py) {
                        Some(err) => Err(err),
                        None => Ok(None),
                    };
                }
                return Ok(Some(Bound::from_borrowed_ptr(py, found)));
            }
        }
        if variables.contains(name)? {
            variables.get_item(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Renders one mapping: looks up and str()s its values in template order (so errors and
    /// side effects come in the reference's order), allocates the result and fills it.
    fn push(&mut self, variables: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = variables.py();
        // SAFETY: a type pointer compare on a live object.
        let exact_dict = unsafe { ffi::PyDict_CheckExact(variables.as_ptr()) } != 0;
        if !exact_dict && variables.cast::<PyMapping>().is_err() {
            return Err(PyTypeError::new_err(format!(
                "variables must be a mapping, not {}",
                type_name(variables)
            )));
        }
        self.pieces.clear();
        self.keep.clear();
        let plan = &self.compiled.plan;
        let mut len = plan.literal_len;
        let mut class = plan.literal_class;
        for (index, name) in self.compiled.names.iter().enumerate() {
            let name = name.bind(py);
            let piece = match Self::lookup(variables, exact_dict, name)? {
                Some(value) => value_piece(value, &mut self.keep)?,
                None if self.strict => return Err(PyKeyError::new_err(name.clone().unbind())),
                None => match plan.raws.get(index) {
                    Some(raw) => Piece::Text(*raw),
                    None => return Err(PySystemError::new_err("apply_template: bad plan")),
                },
            };
            len = len.checked_add(piece.len()).ok_or_else(too_long)?;
            class = class.max(piece.class());
            self.pieces.push(piece);
        }
        let (result, out) = new_result(py, len, class)?;
        let ok = if len >= DETACH_UNITS {
            let job = Detached {
                out,
                literals: &plan.literals,
                pieces: &self.pieces,
            };
            py.detach(|| job.fill())
        } else {
            // SAFETY: `result` was just made here; the texts are held by `self.keep` and the
            // caller's `Compiled`.
            unsafe { fill(&out, &plan.literals, &self.pieces) }
        };
        self.keep.clear();
        if !ok {
            return Err(PySystemError::new_err(
                "apply_template: result length mismatch",
            ));
        }
        self.results.push(result);
        Ok(())
    }
}

/// The template alone: TypeError unless `variables` is a Mapping (checked as in rendering).
fn check_mapping(variables: &Bound<'_, PyAny>) -> PyResult<()> {
    if variables.is_exact_instance_of::<PyDict>() || variables.cast::<PyMapping>().is_ok() {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "variables must be a mapping, not {}",
            type_name(variables)
        )))
    }
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
    let compiled = compiled.get();
    let strict = truthy(strict)?;
    if compiled.names.is_empty() {
        check_mapping(variables)?;
        if let Some(only) = compiled.literals.first() {
            return Ok(only.bind(py).clone());
        }
    }
    let mut render = Render::new(compiled, strict, 1);
    render.push(variables)?;
    render
        .results
        .pop()
        .ok_or_else(|| PySystemError::new_err("apply_template: no result"))
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
    if compiled.names.is_empty() {
        let mut out = Vec::new();
        for variables in stored_items(variables_list)? {
            check_mapping(&variables?)?;
            if let Some(only) = compiled.literals.first() {
                out.push(only.bind(py).clone());
            }
        }
        return PyList::new(py, out);
    }
    let results = if let Ok(list) = variables_list.cast::<PyList>() {
        let mut render = Render::new(compiled, strict, list.len());
        // By index against the live length, as Python's list iterator does: a __str__ that
        // appends to (or shortens) the list is seen exactly as the reference sees it.
        let mut index = 0;
        while index < list.len() {
            render.push(&list.get_item(index)?)?;
            index += 1;
        }
        render.results
    } else {
        let mut render = Render::new(compiled, strict, 0);
        for variables in stored_items(variables_list)? {
            render.push(&variables?)?;
        }
        render.results
    };
    PyList::new(py, results)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(apply_template, m)?)?;
    m.add_function(wrap_pyfunction!(apply_template_batch, m)?)?;
    Ok(())
}
