//! KVCacheCore binding: `page_copy` over a numpy cache and the `block_manager` class.
//!
//! Arguments are checked in exactly the order `pyagent.kv_cache_core` checks them, so both
//! backends raise the same class on the same bad input, before anything is written.

use numpy::{npyffi, PyUntypedArrayMethods};
use numpy::{PyArray1, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray};
use pyo3::exceptions::{PyKeyError, PyOverflowError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::sync::{MutexExt, PyOnceLock};
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyTuple, PyType};

use crate::tensor::kv_cache::{
    page_copy as copy_pages, seq_id, BlockError, BlockManager, BlockState, MappingError,
    SequenceState,
};

use super::Reduced;

// ---------------------------------------------------------------------------------------------
// page_copy

/// A writable `PyBUF_WRITABLE` (simple, C-contiguous) view of a buffer's bytes.
struct WritableBytes {
    // Boxed so the Py_buffer never moves while the exporter holds a pointer to it.
    view: Box<ffi::Py_buffer>,
}

// SAFETY: the exporter keeps the memory alive and in place until PyBuffer_Release, which
// `Drop` calls with the GIL held; numpy refuses to resize an array while a view is exported.
unsafe impl Send for WritableBytes {}

impl WritableBytes {
    fn get(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        // SAFETY: Py_buffer is a plain C struct; zeroed is its documented initial state.
        let mut view: Box<ffi::Py_buffer> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: obj is a live object, view points to writable memory of the right type.
        let rc = unsafe {
            ffi::PyObject_GetBuffer(
                obj.as_ptr(),
                &mut *view as *mut ffi::Py_buffer,
                ffi::PyBUF_WRITABLE,
            )
        };
        if rc == -1 {
            return Err(PyErr::fetch(obj.py()));
        }
        Ok(WritableBytes { view })
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = usize::try_from(self.view.len).unwrap_or(0);
        if len == 0 || self.view.buf.is_null() || self.view.readonly != 0 {
            return &mut [];
        }
        // SAFETY: a successful PyBUF_WRITABLE request guarantees `len` contiguous writable
        // bytes at `buf` for the view's life; `&mut self` makes this the only slice of them.
        unsafe { std::slice::from_raw_parts_mut(self.view.buf as *mut u8, len) }
    }
}

impl Drop for WritableBytes {
    fn drop(&mut self) {
        Python::attach(|_| {
            // SAFETY: the view was filled by a successful PyObject_GetBuffer.
            unsafe { ffi::PyBuffer_Release(&mut *self.view as *mut ffi::Py_buffer) };
        });
    }
}

fn numpy_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static NUMPY: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    NUMPY
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("numpy")?.unbind()))
        .map(|m| m.bind(py))
}

/// Rows of an int64 array of shape (n, width), copied out (strided or not).
fn rows<const W: usize>(array: &Bound<'_, PyArray2<i64>>) -> PyResult<Vec<[i64; W]>> {
    let readonly = array
        .try_readonly()
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    if let Ok(flat) = readonly.as_slice() {
        return Ok(flat
            .chunks_exact(W)
            .map(|c| std::array::from_fn(|i| c[i]))
            .collect());
    }
    Ok(readonly
        .as_array()
        .rows()
        .into_iter()
        .map(|r| std::array::from_fn(|i| r[i]))
        .collect())
}

/// An integer table of shape (n, W) as rows, with the checks (and order) of the Python
/// reference: numpy's error for unconvertible input; an empty 1-D input is no rows; then
/// TypeError for a non-integer dtype (or, with `lossless`, an unsigned 64-bit one), then
/// ValueError for another shape.
fn int_table<const W: usize>(
    values: &Bound<'_, PyAny>,
    name: &str,
    lossless: bool,
) -> PyResult<Vec<[i64; W]>> {
    if let Ok(array) = values.cast::<PyArray2<i64>>() {
        if array.shape()[1] == W {
            return rows(array);
        }
    }
    let array = numpy_module(values.py())?.call_method1("asarray", (values,))?;
    let size: usize = array.getattr("size")?.extract()?;
    let ndim: usize = array.getattr("ndim")?.extract()?;
    if size == 0 && ndim == 1 {
        return Ok(Vec::new());
    }
    let dtype = array.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    let itemsize: usize = dtype.getattr("itemsize")?.extract()?;
    let integer = kind == "i" || (kind == "u" && (!lossless || itemsize < 8));
    if size > 0 && !integer {
        let what = if lossless {
            "integers that fit int64"
        } else {
            "integers"
        };
        return Err(PyTypeError::new_err(format!(
            "{name} must hold {what}, not dtype {}",
            dtype.str()?
        )));
    }
    let shape: Vec<usize> = array.getattr("shape")?.extract()?;
    if shape.len() != 2 || shape[1] != W {
        return Err(PyValueError::new_err(format!(
            "{name} must have shape (n, {W}), got {}",
            array.getattr("shape")?.repr()?
        )));
    }
    // uint64 ids above 2**63 wrap negative here and are out of range either way.
    let converted = array.call_method1("astype", ("int64",))?;
    rows(converted.cast::<PyArray2<i64>>()?)
}

fn mapping_error(err: MappingError) -> PyErr {
    match err {
        MappingError::OutOfRange { .. } => pyo3::exceptions::PyIndexError::new_err(err.to_string()),
        _ => PyValueError::new_err(err.to_string()),
    }
}

/// `cache[dst] = cache[src]` for each `(src, dst)` pair, in place, reading a snapshot.
#[pyfunction]
fn page_copy(py: Python<'_>, cache: &Bound<'_, PyAny>, mapping: &Bound<'_, PyAny>) -> PyResult<()> {
    let array = cache.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "cache must be a numpy array, not {}",
            cache
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let dtype = array.dtype();
    if dtype.has_object() {
        return Err(PyTypeError::new_err(format!(
            "cache must not hold Python objects (dtype {})",
            dtype.str()?
        )));
    }
    if array.ndim() < 1 {
        return Err(PyValueError::new_err(
            "cache must have a block dimension (ndim >= 1)",
        ));
    }
    if !array.is_c_contiguous() {
        return Err(PyValueError::new_err("cache must be C-contiguous"));
    }
    // SAFETY: as_array_ptr is the live PyArrayObject behind `array`; reading its flags is
    // what numpy's own `flags.writeable` does.
    let writeable = unsafe { (*array.as_array_ptr()).flags } & npyffi::NPY_ARRAY_WRITEABLE != 0;
    if !writeable {
        return Err(PyValueError::new_err("cache must be writable"));
    }
    let num_blocks = array.shape()[0];
    let pairs = int_table::<2>(mapping, "mapping", false)?;
    let mut bytes = WritableBytes::get(cache)?;
    let data = bytes.as_mut_slice();
    py.detach(|| copy_pages(data, num_blocks, &pairs))
        .map_err(mapping_error)
}

// ---------------------------------------------------------------------------------------------
// BlockManager

/// An integer argument that may not fit i64 (Python ints are unbounded).
enum IntArg {
    Fits(i64),
    Above,
    Below,
}

/// `value` as an integer like `operator.index`, TypeError for bool and non-integers.
fn int_arg(value: &Bound<'_, PyAny>, name: &str) -> PyResult<IntArg> {
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an integer, not bool"
        )));
    }
    match value.extract::<i64>() {
        Ok(v) => Ok(IntArg::Fits(v)),
        Err(err) if err.is_instance_of::<PyOverflowError>(value.py()) => {
            // The sign of the exact int (`operator.index`: an int subclass by its stored
            // value), never an overridden __lt__ (docs/limits.md, "Hostile arguments").
            // SAFETY: `value` is a live object; the new reference is owned by the Bound.
            let exact = unsafe {
                Bound::from_owned_ptr_or_err(value.py(), pyo3::ffi::PyNumber_Index(value.as_ptr()))
            }?;
            if exact.lt(0)? {
                Ok(IntArg::Below)
            } else {
                Ok(IntArg::Above)
            }
        }
        Err(err) if err.is_instance_of::<PyTypeError>(value.py()) => {
            Err(PyTypeError::new_err(format!(
                "{name} must be an integer, not {}",
                value.get_type().name()?
            )))
        }
        Err(err) => Err(err),
    }
}

/// A sequence id in `[0, 2**63)`.
fn seq_arg(value: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    let v = match int_arg(value, name)? {
        IntArg::Fits(v) => v,
        IntArg::Above => i64::MIN, // reported as out of range below
        IntArg::Below => i64::MIN,
    };
    seq_id(v, name).map_err(|err| PyValueError::new_err(err.to_string()))
}

/// `num_blocks` / `block_size`: out-of-i64 values are out of range like any other.
fn size_arg(value: &Bound<'_, PyAny>, name: &str) -> PyResult<i64> {
    Ok(match int_arg(value, name)? {
        IntArg::Fits(v) => v,
        IntArg::Above => i64::MAX,
        IntArg::Below => i64::MIN,
    })
}

fn no_free_blocks(py: Python<'_>, message: String) -> PyErr {
    static ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    match ERROR.import(py, "pyagent.kv_cache_core", "NoFreeBlocksError") {
        Ok(class) => PyErr::from_type(class.clone(), message),
        // rust_core used without pyagent: the base class the pyagent error derives from.
        Err(_) => PyRuntimeError::new_err(message),
    }
}

fn block_error(py: Python<'_>, err: BlockError) -> PyErr {
    match err {
        BlockError::NoFreeBlocks { .. } => no_free_blocks(py, err.to_string()),
        BlockError::UnknownSequence(id) => PyKeyError::new_err(id),
        BlockError::DuplicateSequence(_) | BlockError::Invalid(_) => {
            PyValueError::new_err(err.to_string())
        }
    }
}

/// An int of a pickled state in `[low, high]`; ValueError otherwise (bool included), as
/// `_state_int` in pyagent.kv_cache_core.
fn state_int(value: &Bound<'_, PyAny>, what: &str, low: i128, high: i128) -> PyResult<i128> {
    let fits = if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
        value
            .extract::<i128>()
            .ok()
            .filter(|v| (low..=high).contains(v))
    } else {
        None
    };
    fits.ok_or_else(|| {
        PyValueError::new_err(format!(
            "invalid BlockManager state: {what} must be an int in [{low}, {high}]"
        ))
    })
}

/// The items of a list or tuple of a pickled state; ValueError for anything else.
fn state_list<'py>(value: &Bound<'py, PyAny>, what: &str) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        value.try_iter()?.collect()
    } else {
        Err(PyValueError::new_err(format!(
            "invalid BlockManager state: {what} must be a list"
        )))
    }
}

/// Block ids of a pickled state: range-checked against `next_unused` by the core.
fn state_blocks(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u32>> {
    state_list(value, what)?
        .iter()
        .map(|block| {
            let id = state_int(block, what, 0, i128::from(u32::MAX))?;
            Ok(u32::try_from(id).unwrap_or(u32::MAX))
        })
        .collect()
}

/// The `__getstate__` dict of pyagent.kv_cache_core.BlockManager, parsed.
fn parse_state(state: &Bound<'_, PyAny>, num_blocks: u32) -> PyResult<BlockState> {
    let keys_ok = state.cast::<PyDict>().ok().filter(|dict| {
        dict.len() == 3
            && ["next_unused", "free", "sequences"]
                .iter()
                .all(|key| dict.contains(key).unwrap_or(false))
    });
    let Some(dict) = keys_ok else {
        return Err(PyValueError::new_err(
            "invalid BlockManager state: expected a dict with keys 'next_unused', 'free' and \
             'sequences'",
        ));
    };
    let item = |key: &str| -> PyResult<Bound<'_, PyAny>> {
        dict.get_item(key)?
            .ok_or_else(|| PyValueError::new_err(format!("invalid BlockManager state: {key}")))
    };
    let next_unused = state_int(
        &item("next_unused")?,
        "next_unused",
        0,
        i128::from(num_blocks),
    )?;
    let free = state_blocks(&item("free")?, "a free block")?;
    let mut sequences: Vec<SequenceState> = Vec::new();
    for entry in state_list(&item("sequences")?, "sequences")? {
        let parts = state_list(&entry, "a sequence")?;
        let [id, blocks, tokens] = parts.as_slice() else {
            return Err(PyValueError::new_err(
                "invalid BlockManager state: a sequence must be a 3-tuple",
            ));
        };
        let id = state_int(id, "a sequence id", 0, i128::from(i64::MAX))?;
        let blocks = state_blocks(blocks, "a block of a sequence")?;
        let tokens = state_int(tokens, "a token count", 0, i128::from(u64::MAX))?;
        sequences.push((
            u64::try_from(id).unwrap_or(u64::MAX),
            blocks,
            u64::try_from(tokens).unwrap_or(u64::MAX),
        ));
    }
    Ok(BlockState {
        next_unused: u32::try_from(next_unused).unwrap_or(u32::MAX),
        free,
        sequences,
    })
}

/// Paged-attention block allocator; `pyagent.kv_cache_core.BlockManager` documents it.
///
/// Shareable between threads: every method takes the mutex, waiting for it with the GIL
/// released (so `replay`, which runs without the GIL, never deadlocks a waiting caller).
#[pyclass(name = "BlockManager", module = "rust_core", frozen)]
struct PyBlockManager {
    inner: Mutex<BlockManager>,
}

impl PyBlockManager {
    fn lock(&self, py: Python<'_>) -> MutexGuard<'_, BlockManager> {
        // Nothing panics while holding it; a poisoned lock still holds a consistent manager
        // because every operation validates before it mutates.
        self.inner
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl PyBlockManager {
    #[new]
    fn new(
        py: Python<'_>,
        num_blocks: &Bound<'_, PyAny>,
        block_size: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let blocks = size_arg(num_blocks, "num_blocks")?;
        let size = size_arg(block_size, "block_size")?;
        BlockManager::new(blocks, size)
            .map(|inner| PyBlockManager {
                inner: Mutex::new(inner),
            })
            .map_err(|err| block_error(py, err))
    }

    #[getter]
    fn num_blocks(&self, py: Python<'_>) -> u32 {
        self.lock(py).num_blocks()
    }

    #[getter]
    fn block_size(&self, py: Python<'_>) -> u64 {
        self.lock(py).block_size()
    }

    #[getter]
    fn num_free_blocks(&self, py: Python<'_>) -> u64 {
        self.lock(py).num_free_blocks()
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.lock(py).num_sequences()
    }

    /// `(pyagent.kv_cache_core.BlockManager, (num_blocks, block_size), state)`: the pickle
    /// names the backend-neutral class, so it loads with or without rust_core.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Reduced<'py, (u32, u64)>> {
        static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let class = match CLASS.import(py, "pyagent.kv_cache_core", "BlockManager") {
            Ok(class) => class.clone().into_any(),
            // rust_core used without pyagent: this class, which loads only where rust_core is.
            Err(_) => py.get_type::<PyBlockManager>().into_any(),
        };
        let (sizes, state) = {
            let inner = self.lock(py);
            ((inner.num_blocks(), inner.block_size()), inner.state())
        };
        Ok((class, sizes, state_dict(py, state)?))
    }

    /// The canonical state; see `BlockManager.__getstate__` in pyagent.kv_cache_core.
    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let state = self.lock(py).state();
        state_dict(py, state)
    }

    /// Replaces the state with a pickled one; ValueError (manager unchanged) if inconsistent.
    fn __setstate__(&self, py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let num_blocks = self.lock(py).num_blocks();
        let parsed = parse_state(state, num_blocks)?;
        self.lock(py)
            .set_state(parsed)
            .map_err(|err| block_error(py, err))
    }

    fn allocate(
        &self,
        py: Python<'_>,
        seq_id: &Bound<'_, PyAny>,
        prompt_len: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let seq = seq_arg(seq_id, "seq_id")?;
        let tokens = match int_arg(prompt_len, "prompt_len")? {
            IntArg::Fits(v) if v >= 0 => v.unsigned_abs(),
            // More blocks than any manager has: NoFreeBlocksError after the duplicate check.
            IntArg::Above => u64::MAX,
            IntArg::Fits(v) => {
                return Err(PyValueError::new_err(format!(
                    "prompt_len must be >= 0, got {v}"
                )))
            }
            IntArg::Below => {
                return Err(PyValueError::new_err(format!(
                    "prompt_len must be >= 0, got {}",
                    prompt_len.str()?
                )))
            }
        };
        self.lock(py)
            .allocate(seq, tokens)
            .map_err(|err| block_error(py, err))
    }

    fn append_token(
        &self,
        py: Python<'_>,
        seq_id: &Bound<'_, PyAny>,
    ) -> PyResult<Option<(u32, u32)>> {
        let seq = seq_arg(seq_id, "seq_id")?;
        self.lock(py)
            .append_token(seq)
            .map_err(|err| block_error(py, err))
    }

    fn fork(
        &self,
        py: Python<'_>,
        parent_id: &Bound<'_, PyAny>,
        child_id: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let parent = seq_arg(parent_id, "parent_id")?;
        let child = seq_arg(child_id, "child_id")?;
        self.lock(py)
            .fork(parent, child)
            .map_err(|err| block_error(py, err))
    }

    fn free(&self, py: Python<'_>, seq_id: &Bound<'_, PyAny>) -> PyResult<()> {
        let seq = seq_arg(seq_id, "seq_id")?;
        self.lock(py).free(seq).map_err(|err| block_error(py, err))
    }

    fn block_table<'py>(
        &self,
        py: Python<'py>,
        seq_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let seq = seq_arg(seq_id, "seq_id")?;
        let inner = self.lock(py);
        let table = inner.block_table(seq).map_err(|err| block_error(py, err))?;
        PyList::new(py, table)
    }

    fn num_tokens(&self, py: Python<'_>, seq_id: &Bound<'_, PyAny>) -> PyResult<u64> {
        let seq = seq_arg(seq_id, "seq_id")?;
        self.lock(py)
            .num_tokens(seq)
            .map_err(|err| block_error(py, err))
    }

    /// Runs `(op, a, b)` rows in order without the GIL; the copy-on-write pairs as (k, 2).
    fn replay<'py>(
        &self,
        py: Python<'py>,
        ops: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let table = int_table::<3>(ops, "ops", true)?;
        BlockManager::check_ops(&table).map_err(|err| block_error(py, err))?;
        let mut guard = self.lock(py);
        let inner: &mut BlockManager = &mut guard;
        let mut copies: Vec<[i64; 2]> = Vec::new();
        let outcome = py.detach(|| inner.replay(&table, &mut copies));
        drop(guard);
        outcome.map_err(|err| block_error(py, err))?;
        let k = copies.len();
        let flat: Vec<i64> = copies.into_iter().flatten().collect();
        PyArray1::from_vec(py, flat).reshape([k, 2])
    }
}

/// A [`BlockState`] as the dict `BlockManager.__getstate__` returns.
fn state_dict(py: Python<'_>, state: BlockState) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("next_unused", state.next_unused)?;
    dict.set_item("free", PyList::new(py, state.free)?)?;
    let sequences = PyList::empty(py);
    for (id, blocks, tokens) in state.sequences {
        sequences.append((id, PyList::new(py, blocks)?, tokens))?;
    }
    dict.set_item("sequences", sequences)?;
    Ok(dict)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(page_copy, m)?)?;
    m.add("block_manager", m.py().get_type::<PyBlockManager>())?;
    Ok(())
}
