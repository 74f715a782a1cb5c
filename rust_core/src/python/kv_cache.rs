//! KVCacheCore binding: `page_copy` over a numpy cache and the `block_manager` class.
//!
//! Arguments are checked in exactly the order `pyagent.kv_cache_core` checks them, so both
//! backends raise the same class on the same bad input, before anything is written.

use numpy::{npyffi, PyUntypedArrayMethods};
use numpy::{PyArray1, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray};
use pyo3::exceptions::{PyKeyError, PyOverflowError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyList, PyType};

use crate::kv_cache::{page_copy as copy_pages, seq_id, BlockError, BlockManager, MappingError};

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
            if value.lt(0)? {
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

/// Paged-attention block allocator; `pyagent.kv_cache_core.BlockManager` documents it.
#[pyclass(name = "BlockManager", module = "rust_core")]
struct PyBlockManager {
    inner: BlockManager,
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
            .map(|inner| PyBlockManager { inner })
            .map_err(|err| block_error(py, err))
    }

    #[getter]
    fn num_blocks(&self) -> u32 {
        self.inner.num_blocks()
    }

    #[getter]
    fn block_size(&self) -> u64 {
        self.inner.block_size()
    }

    #[getter]
    fn num_free_blocks(&self) -> u64 {
        self.inner.num_free_blocks()
    }

    fn __len__(&self) -> usize {
        self.inner.num_sequences()
    }

    fn allocate(
        &mut self,
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
        self.inner
            .allocate(seq, tokens)
            .map_err(|err| block_error(py, err))
    }

    fn append_token(
        &mut self,
        py: Python<'_>,
        seq_id: &Bound<'_, PyAny>,
    ) -> PyResult<Option<(u32, u32)>> {
        let seq = seq_arg(seq_id, "seq_id")?;
        self.inner
            .append_token(seq)
            .map_err(|err| block_error(py, err))
    }

    fn fork(
        &mut self,
        py: Python<'_>,
        parent_id: &Bound<'_, PyAny>,
        child_id: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let parent = seq_arg(parent_id, "parent_id")?;
        let child = seq_arg(child_id, "child_id")?;
        self.inner
            .fork(parent, child)
            .map_err(|err| block_error(py, err))
    }

    fn free(&mut self, py: Python<'_>, seq_id: &Bound<'_, PyAny>) -> PyResult<()> {
        let seq = seq_arg(seq_id, "seq_id")?;
        self.inner.free(seq).map_err(|err| block_error(py, err))
    }

    fn block_table<'py>(
        &self,
        py: Python<'py>,
        seq_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let seq = seq_arg(seq_id, "seq_id")?;
        let table = self
            .inner
            .block_table(seq)
            .map_err(|err| block_error(py, err))?;
        PyList::new(py, table)
    }

    fn num_tokens(&self, py: Python<'_>, seq_id: &Bound<'_, PyAny>) -> PyResult<u64> {
        let seq = seq_arg(seq_id, "seq_id")?;
        self.inner
            .num_tokens(seq)
            .map_err(|err| block_error(py, err))
    }

    /// Runs `(op, a, b)` rows in order without the GIL; the copy-on-write pairs as (k, 2).
    fn replay<'py>(
        &mut self,
        py: Python<'py>,
        ops: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let table = int_table::<3>(ops, "ops", true)?;
        BlockManager::check_ops(&table).map_err(|err| block_error(py, err))?;
        let inner = &mut self.inner;
        let mut copies: Vec<[i64; 2]> = Vec::new();
        let outcome = py.detach(|| inner.replay(&table, &mut copies));
        outcome.map_err(|err| block_error(py, err))?;
        let k = copies.len();
        let flat: Vec<i64> = copies.into_iter().flatten().collect();
        PyArray1::from_vec(py, flat).reshape([k, 2])
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(page_copy, m)?)?;
    m.add("block_manager", m.py().get_type::<PyBlockManager>())?;
    Ok(())
}
