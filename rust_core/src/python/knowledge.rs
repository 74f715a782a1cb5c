//! KnowledgeCore binding: sharding_index for one key or a batch.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use rayon::prelude::*;

use crate::storage::sharding::shard_of;

/// Validates a shard count the way `operator.index` plus a `>= 1` check does in Python.
///
/// Counts beyond u64 are valid: every Adler-32 value is below them, so they act as u64::MAX.
fn shard_count(count: &Bound<'_, PyAny>) -> PyResult<u64> {
    match count.extract::<i128>() {
        Ok(n) if n >= 1 => Ok(u64::try_from(n).unwrap_or(u64::MAX)),
        Ok(_) => Err(PyValueError::new_err("shard_count must be at least 1")),
        Err(err) if err.is_instance_of::<PyOverflowError>(count.py()) => {
            if count.gt(0)? {
                Ok(u64::MAX)
            } else {
                Err(PyValueError::new_err("shard_count must be at least 1"))
            }
        }
        // What an `__index__` raised (other than TypeError) propagates, as in Python.
        Err(err) if !err.is_instance_of::<PyTypeError>(count.py()) => Err(err),
        Err(_) => Err(PyTypeError::new_err(format!(
            "shard_count must be an integer, not {}",
            count.get_type().name()?
        ))),
    }
}

/// UTF-8 bytes of a key; compact ASCII strings (the usual id) are read in place, inline.
fn key_bytes<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    // SAFETY: `key` is alive for 'a.
    match unsafe { compact_ascii(key.as_ptr()) } {
        Some(bytes) => Ok(bytes),
        None => key_bytes_slow(key),
    }
}

/// The bytes of a compact ASCII str, read in place with the inline CPython macros (no call,
/// no reference count); None for any other object.
///
/// # Safety
/// `ptr` is a live object that stays alive and unchanged for 'a.
unsafe fn compact_ascii<'a>(ptr: *mut ffi::PyObject) -> Option<&'a [u8]> {
    if ffi::PyUnicode_Check(ptr) == 0 || ffi::PyUnicode_IS_COMPACT_ASCII(ptr) == 0 {
        return None;
    }
    // A compact ASCII str stores exactly GET_LENGTH bytes of ASCII (valid UTF-8) in place.
    let len = usize::try_from(ffi::PyUnicode_GET_LENGTH(ptr)).ok()?;
    let data = ffi::_PyUnicode_COMPACT_DATA(ptr) as *const u8;
    Some(std::slice::from_raw_parts(data, len))
}

fn key_bytes_slow<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    let text = key.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "sharding keys must be str, not {}",
            key.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    Ok(text.to_str()?.as_bytes())
}

/// The shard of `key`: Adler-32 of its UTF-8 bytes modulo `shard_count`.
#[pyfunction]
fn sharding_index(key: &Bound<'_, PyAny>, shard_count: &Bound<'_, PyAny>) -> PyResult<u64> {
    let count = self::shard_count(shard_count)?;
    Ok(shard_of(key_bytes(key)?, count))
}

/// Batches from this size are walked and checksummed on the rayon pool.
const PARALLEL_KEYS: usize = 1 << 16;

/// A list's item array, shared with rayon workers for reading.
struct ListItems(*mut ffi::PyObject);

// SAFETY: ListItems only lives inside `shards_of_list`, whose calling thread holds the GIL
// until every worker is done: no Python code can run meanwhile, so the list, its items and
// their str data stay alive and unchanged. Workers only read memory (no reference counts,
// no CPython calls), through `ascii_shard`.
unsafe impl Send for ListItems {}
unsafe impl Sync for ListItems {}

/// The shard of item `index` when it is a compact ASCII str (the usual id), else None.
///
/// # Safety
/// `index` is in bounds and the list cannot change while this runs (see ListItems).
unsafe fn ascii_shard(items: &ListItems, index: usize, count: u64) -> Option<u64> {
    let item = ffi::PyList_GET_ITEM(items.0, index as ffi::Py_ssize_t);
    compact_ascii(item).map(|bytes| shard_of(bytes, count))
}

/// Shards of a list's keys. Compact ASCII keys are read in place, by every core for a large
/// batch, while this thread keeps the GIL (the list is only borrowed, see ListItems); any
/// other item is then handled here with the CPython API, in order, so the first bad key
/// raises exactly as in the serial path.
fn shards_of_list(list: &Bound<'_, PyList>, count: u64) -> PyResult<Vec<u64>> {
    let py = list.py();
    let len = list.len();
    let items = ListItems(list.as_ptr());
    // SAFETY: indices are below len; the list is frozen as ListItems explains.
    let shard = |index: usize| unsafe { ascii_shard(&items, index, count) };
    let fast: Vec<Option<u64>> = if len >= PARALLEL_KEYS {
        (0..len)
            .into_par_iter()
            .with_min_len(1 << 13)
            .map(shard)
            .collect()
    } else {
        (0..len).map(shard).collect()
    };
    fast.into_iter()
        .enumerate()
        .map(|(index, shard)| match shard {
            Some(shard) => Ok(shard),
            None => {
                // SAFETY: as above; this thread holds the GIL.
                let item = unsafe {
                    let raw = ffi::PyList_GET_ITEM(list.as_ptr(), index as ffi::Py_ssize_t);
                    Borrowed::from_ptr(py, raw)
                };
                Ok(shard_of(key_bytes(&item)?, count))
            }
        })
        .collect()
}

/// `sharding_index` for every key of an iterable, in order.
#[pyfunction]
fn sharding_index_batch<'py>(
    py: Python<'py>,
    keys: &Bound<'py, PyAny>,
    shard_count: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let count = self::shard_count(shard_count)?;
    if keys.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "keys must be an iterable of str, not a single str",
        ));
    }
    // One pass, checksumming each key while its object is hot in cache; lists and tuples
    // are walked by index, skipping the iterator protocol per key.
    let shard = |key: Bound<'py, PyAny>| Ok(shard_of(key_bytes(&key)?, count));
    let shards: Vec<u64> = if let Ok(list) = keys.cast::<PyList>() {
        shards_of_list(list, count)?
    } else if let Ok(tuple) = keys.cast::<PyTuple>() {
        tuple.iter().map(shard).collect::<PyResult<_>>()?
    } else {
        keys.try_iter()?
            .map(|key| shard(key?))
            .collect::<PyResult<_>>()?
    };
    PyList::new(py, shards)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sharding_index, m)?)?;
    m.add_function(wrap_pyfunction!(sharding_index_batch, m)?)?;
    Ok(())
}
