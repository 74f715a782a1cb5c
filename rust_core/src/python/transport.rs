//! ConnectivityCore.binary_transport binding: the `rust_core.binary_transport` submodule.
//!
//! MessagePack is written straight from Python objects with msgpack-python's type mapping
//! (`packb(obj, use_bin_type=True)`: smallest int forms, float64, bin for bytes-likes, str,
//! dict, list/tuple, ExtType, Timestamp) and read straight into Python objects (`unpackb(...,
//! raw=False, strict_map_key=False)`), so no intermediate value tree is built. Framing,
//! CRC and Zstandard are `crate::net::transport`. ProtocolError is pyagent's own class, imported
//! from `pyagent.connectivity_core` when first raised, so `except ProtocolError` catches it
//! from both backends.
//!
//! Speed, for the many-small-messages case: the decoder reads uncompressed payloads in place
//! in its buffer (no copy per frame), builds str/int/float/list/dict/tuple objects with the
//! C API directly (an ASCII str is one allocation and one memcpy), and keeps a small cache of
//! the str objects of short map keys (as orjson and msgspec do), so a stream of dicts with the
//! same keys reuses one key object, whose hash is computed once; short str values (tags such
//! as "ok" or "event") go through the same cache, so equal values may be one shared
//! (immutable) object, as interned strings are. The encoder reads exact dict, list, tuple,
//! str, int and float objects straight through the C API. `encode_frames` packs a whole
//! batch into one output buffer: one call and one bytes object instead of one per frame.

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::{
    PyOverflowError, PyRuntimeError, PyTypeError, PyUnicodeDecodeError, PyValueError,
};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::{MutexExt, PyOnceLock};
use pyo3::types::{
    PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use pyo3::Borrowed;

use super::buffer::ByteView;
use crate::net::transport;
use crate::net::transport::{
    check_level, seal_at, FrameBuffer, FrameSpan, Payload, ProtocolError, Reader, Token,
    DEFAULT_COMPRESS_THRESHOLD, DEFAULT_LEVEL, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN, MAX_NESTING,
};

use super::Reduced;

/// msgpack-python's packer nest limit: an object deeper than this is a ValueError.
const PACK_NEST_LIMIT: i32 = 1024;
/// Payloads from this size on are split and checked with the GIL released.
const DETACH_BYTES: usize = 64 * 1024;
/// Map keys up to this many bytes go through the decoder's [`KeyCache`].
const KEY_MAX: usize = 16;
/// Slots of the key cache (a power of two; direct-mapped by hash).
const KEY_SLOTS: usize = 512;
/// A per-thread output buffer above this capacity is freed rather than kept for reuse.
const SCRATCH_KEEP: usize = 1 << 20;
/// A decoder's decompression buffer above this capacity is freed after each feed.
const DECOMPRESSED_KEEP: usize = 8 << 20;

extern "C" {
    /// CPython's dict constructor with room for `minused` entries (exported by every
    /// CPython 3.x; pyo3-ffi leaves private functions out; config.rs uses it the same way).
    fn _PyDict_NewPresized(minused: ffi::Py_ssize_t) -> *mut ffi::PyObject;
}

static PROTOCOL_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static EXT_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMESTAMP: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `pyagent.connectivity_core.ProtocolError(message)`.
pub fn protocol_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    let message = message.into();
    match PROTOCOL_ERROR.import(py, "pyagent.connectivity_core", "ProtocolError") {
        Ok(class) => PyErr::from_type(class.clone(), message),
        Err(err) => err,
    }
}

pub fn to_py_err(py: Python<'_>, err: ProtocolError) -> PyErr {
    protocol_error(py, err.0)
}

fn ext_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    EXT_TYPE.import(py, "msgpack", "ExtType")
}

fn timestamp_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    TIMESTAMP.import(py, "msgpack", "Timestamp")
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn too_large(what: &str) -> PyErr {
    PyValueError::new_err(format!("{what} is too large"))
}

fn len_u32(n: usize, what: &str) -> PyResult<u32> {
    u32::try_from(n).map_err(|_| too_large(what))
}

fn write_bin(out: &mut Vec<u8>, data: &[u8]) -> PyResult<()> {
    let n = len_u32(data.len(), "bytes")?;
    // Writes into a Vec cannot fail.
    let _ = rmp::encode::write_bin_len(out, n);
    out.extend_from_slice(data);
    Ok(())
}

/// MessagePack headers written straight into the output (what rmp's writers pick, which are
/// msgpack-python's smallest forms), inlined into the packer's loop.
#[inline(always)]
fn put_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else if v <= 0xff {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= 0xffff {
        let b = (v as u16).to_be_bytes();
        out.extend_from_slice(&[0xcd, b[0], b[1]]);
    } else if v <= 0xffff_ffff {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// A negative int (`v < 0`) in its smallest signed form.
#[inline(always)]
fn put_negative(out: &mut Vec<u8>, v: i64) {
    if v >= -32 {
        out.push(v as u8);
    } else if v >= -128 {
        out.extend_from_slice(&[0xd0, v as u8]);
    } else if v >= -32768 {
        let b = (v as i16).to_be_bytes();
        out.extend_from_slice(&[0xd1, b[0], b[1]]);
    } else if v >= -(1 << 31) {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

#[inline(always)]
fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.push(0xcb);
    out.extend_from_slice(&v.to_be_bytes());
}

/// A container or str header: `fix | n` below `fix_limit`, else the 8- (str only), 16- or
/// 32-bit form whose markers follow `m16` (`m8` is 0 where there is no 8-bit form).
#[inline(always)]
fn put_len(out: &mut Vec<u8>, n: u32, fix: u8, fix_limit: u32, m8: u8, m16: u8) {
    if n < fix_limit {
        out.push(fix | n as u8);
    } else if m8 != 0 && n <= 0xff {
        out.extend_from_slice(&[m8, n as u8]);
    } else if n <= 0xffff {
        let b = (n as u16).to_be_bytes();
        out.extend_from_slice(&[m16, b[0], b[1]]);
    } else {
        out.push(m16 + 1);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

#[inline(always)]
fn put_str_len(out: &mut Vec<u8>, n: u32) {
    put_len(out, n, 0xa0, 32, 0xd9, 0xda);
}

#[inline(always)]
fn put_array_len(out: &mut Vec<u8>, n: u32) {
    put_len(out, n, 0x90, 16, 0, 0xdc);
}

#[inline(always)]
fn put_map_len(out: &mut Vec<u8>, n: u32) {
    put_len(out, n, 0x80, 16, 0, 0xde);
}

/// Appends the int at `ptr` (an int or int subclass) in its smallest MessagePack form.
///
/// # Safety
/// `ptr` is a live int object the caller holds a reference to.
unsafe fn write_int(py: Python<'_>, out: &mut Vec<u8>, ptr: *mut ffi::PyObject) -> PyResult<()> {
    let mut overflow: std::os::raw::c_int = 0;
    // SAFETY: ptr is a live int (or int subclass); overflow is a valid out-pointer.
    let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(ptr, &mut overflow) };
    if overflow == 0 {
        if value == -1 {
            if let Some(err) = PyErr::take(py) {
                return Err(err);
            }
        }
        if value >= 0 {
            put_uint(out, value as u64);
        } else {
            put_negative(out, value);
        }
        return Ok(());
    }
    if overflow > 0 {
        // SAFETY: ptr is live (see above).
        let value = unsafe { ffi::PyLong_AsUnsignedLongLong(ptr) };
        // u64::MAX is either 2**64 - 1 or the error marker (beyond u64: OverflowError).
        if value != u64::MAX || PyErr::take(py).is_none() {
            put_uint(out, value);
            return Ok(());
        }
    }
    Err(PyOverflowError::new_err("Integer value out of range"))
}

fn write_ext(out: &mut Vec<u8>, code: i8, data: &[u8]) -> PyResult<()> {
    let n = len_u32(data.len(), "ExtType data")?;
    let _ = rmp::encode::write_ext_meta(out, n, code);
    out.extend_from_slice(data);
    Ok(())
}

fn pack_ext_type(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    let code: i8 = obj.getattr("code")?.extract()?;
    let data = obj.getattr("data")?;
    write_ext(out, code, data.cast::<PyBytes>()?.as_bytes())
}

/// Appends the str at `ptr` (a str or str subclass) as UTF-8 (its cached UTF-8: for an ASCII
/// str, the characters themselves). A lone surrogate is the UnicodeEncodeError msgpack raises.
///
/// # Safety
/// `ptr` is a live str object the caller holds a reference to.
unsafe fn write_str(py: Python<'_>, out: &mut Vec<u8>, ptr: *mut ffi::PyObject) -> PyResult<()> {
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: ptr is a live str; size is a valid out-pointer.
    let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(ptr, &mut size) };
    if data.is_null() {
        return Err(PyErr::fetch(py));
    }
    let size = usize::try_from(size).unwrap_or(0);
    // SAFETY: CPython returns `size` bytes of UTF-8 owned by the str, which outlives this call.
    let text = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) };
    let n = len_u32(text.len(), "unicode string")?;
    put_str_len(out, n);
    put_bytes(out, text);
    Ok(())
}

/// `out.extend_from_slice(bytes)`, with the short strings messages are full of (keys, tags)
/// copied inline as two overlapping words instead of through a memcpy call.
#[inline(always)]
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n > 16 {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(16);
    let len = out.len();
    let src = bytes.as_ptr();
    // SAFETY: at least 16 bytes of spare capacity were reserved and n <= 16; every read is
    // inside `bytes` (the two words overlap when n is below twice their size), every write
    // inside the spare capacity; the first n of those bytes are initialised before set_len.
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        if n >= 8 {
            dst.cast::<u64>()
                .write_unaligned(src.cast::<u64>().read_unaligned());
            dst.add(n - 8)
                .cast::<u64>()
                .write_unaligned(src.add(n - 8).cast::<u64>().read_unaligned());
        } else if n >= 4 {
            dst.cast::<u32>()
                .write_unaligned(src.cast::<u32>().read_unaligned());
            dst.add(n - 4)
                .cast::<u32>()
                .write_unaligned(src.add(n - 4).cast::<u32>().read_unaligned());
        } else if n > 0 {
            *dst = *src;
            *dst.add(n / 2) = *src.add(n / 2);
            *dst.add(n - 1) = *src.add(n - 1);
        }
        out.set_len(len + n);
    }
}

/// Appends the MessagePack of `obj` as msgpack-python's packer writes it.
fn pack(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, nest_limit: i32) -> PyResult<()> {
    // SAFETY: obj is a live object held by the caller for the whole call.
    unsafe { pack_ptr(obj.py(), out, obj.as_ptr(), nest_limit) }
}

/// [`pack`] on a raw object pointer: exact built-in types (what messages are made of) are
/// read with the C API straight from their type pointer, with no reference counting for
/// leaves; every subclass and other type takes [`pack_other`], in msgpack-python's order.
///
/// # Safety
/// `ptr` is a live object the caller holds a reference to for the whole call.
unsafe fn pack_ptr(
    py: Python<'_>,
    out: &mut Vec<u8>,
    ptr: *mut ffi::PyObject,
    nest_limit: i32,
) -> PyResult<()> {
    if nest_limit < 0 {
        return Err(PyValueError::new_err("recursion limit exceeded."));
    }
    // SAFETY (the calls below): ptr is live; each branch runs only on its exact type.
    let ty = unsafe { ffi::Py_TYPE(ptr) };
    if ty == &raw mut ffi::PyUnicode_Type {
        return unsafe { write_str(py, out, ptr) };
    }
    if ty == &raw mut ffi::PyLong_Type {
        return unsafe { write_int(py, out, ptr) };
    }
    if ty == &raw mut ffi::PyFloat_Type {
        put_f64(out, unsafe { ffi::PyFloat_AS_DOUBLE(ptr) });
        return Ok(());
    }
    if ty == &raw mut ffi::PyDict_Type {
        return unsafe { pack_dict(py, out, ptr, nest_limit) };
    }
    if ty == &raw mut ffi::PyList_Type {
        return unsafe { pack_list(py, out, ptr, nest_limit) };
    }
    if ptr == unsafe { ffi::Py_None() } {
        out.push(0xc0);
        return Ok(());
    }
    if ptr == unsafe { ffi::Py_True() } {
        out.push(0xc3);
        return Ok(());
    }
    if ptr == unsafe { ffi::Py_False() } {
        out.push(0xc2);
        return Ok(());
    }
    if ty == &raw mut ffi::PyTuple_Type {
        // An exact tuple (never an ExtType, which is a subclass): an array. Its items are
        // borrowed: a tuple cannot change while the caller holds it.
        let n = unsafe { ffi::PyTuple_GET_SIZE(ptr) };
        put_array_len(out, len_u32(n as usize, "tuple")?);
        for i in 0..n {
            unsafe { pack_ptr(py, out, ffi::PyTuple_GET_ITEM(ptr, i), nest_limit - 1)? };
        }
        return Ok(());
    }
    // SAFETY: a new strong reference to the live object, released when `obj` drops.
    let obj = unsafe { Bound::from_borrowed_ptr(py, ptr) };
    pack_other(out, &obj, nest_limit)
}

/// An exact dict as a map, in insertion order, read with PyDict_Next; each key and value is held while it is
/// packed (packing can run Python code, which could drop it from the dict).
///
/// # Safety
/// `ptr` is a live dict the caller holds a reference to.
unsafe fn pack_dict(
    py: Python<'_>,
    out: &mut Vec<u8>,
    ptr: *mut ffi::PyObject,
    nest_limit: i32,
) -> PyResult<()> {
    // SAFETY (the calls below): ptr is a live dict; PyDict_Next yields borrowed references
    // to live entries, each turned into a strong one before anything else runs.
    let n = unsafe { ffi::PyDict_Size(ptr) };
    put_map_len(out, len_u32(n as usize, "dict")?);
    let mut pos: ffi::Py_ssize_t = 0;
    let mut key: *mut ffi::PyObject = std::ptr::null_mut();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    let mut written: ffi::Py_ssize_t = 0;
    while unsafe { ffi::PyDict_Next(ptr, &mut pos, &mut key, &mut value) } != 0 {
        if written == n {
            break;
        }
        let key = unsafe { Bound::from_borrowed_ptr(py, key) };
        let value = unsafe { Bound::from_borrowed_ptr(py, value) };
        unsafe {
            pack_ptr(py, out, key.as_ptr(), nest_limit - 1)?;
            pack_ptr(py, out, value.as_ptr(), nest_limit - 1)?;
        }
        written += 1;
    }
    if written != n || unsafe { ffi::PyDict_Size(ptr) } != n {
        return Err(PyRuntimeError::new_err(
            "dictionary changed size during iteration",
        ));
    }
    Ok(())
}

/// A list as an array; each item is held while it is packed. A list whose length changes
/// while it is packed (Python code run by the packer) is a RuntimeError, never a map or
/// array whose count disagrees with its items.
///
/// # Safety
/// `ptr` is a live list (or list subclass) the caller holds a reference to.
unsafe fn pack_list(
    py: Python<'_>,
    out: &mut Vec<u8>,
    ptr: *mut ffi::PyObject,
    nest_limit: i32,
) -> PyResult<()> {
    // SAFETY (the calls below): ptr is a live list and every index is below its current
    // length; the item is turned into a strong reference before anything else runs.
    let n = unsafe { ffi::PyList_GET_SIZE(ptr) };
    put_array_len(out, len_u32(n as usize, "list")?);
    for i in 0..n {
        if unsafe { ffi::PyList_GET_SIZE(ptr) } != n {
            break;
        }
        let item = unsafe { Bound::from_borrowed_ptr(py, ffi::PyList_GET_ITEM(ptr, i)) };
        unsafe { pack_ptr(py, out, item.as_ptr(), nest_limit - 1)? };
    }
    if unsafe { ffi::PyList_GET_SIZE(ptr) } != n {
        return Err(PyRuntimeError::new_err(
            "list changed size during iteration",
        ));
    }
    Ok(())
}

/// [`pack`] for everything but exact str, int, float, dict and list.
fn pack_other(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, nest_limit: i32) -> PyResult<()> {
    let py = obj.py();
    let ptr = obj.as_ptr();
    if obj.is_instance_of::<PyInt>() {
        // SAFETY: a live int (subclass), held by the caller.
        return unsafe { write_int(py, out, ptr) };
    }
    if let Ok(value) = obj.cast::<PyFloat>() {
        put_f64(out, value.value());
        return Ok(());
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return write_bin(out, bytes.as_bytes());
    }
    if let Ok(array) = obj.cast::<PyByteArray>() {
        // SAFETY: the bytes are copied at once, with no Python code run in between.
        return write_bin(out, unsafe { array.as_bytes() });
    }
    if obj.is_instance_of::<PyString>() {
        // SAFETY: a live str (subclass), held by the caller.
        return unsafe { write_str(py, out, ptr) };
    }
    if obj.is_instance_of::<PyDict>() {
        // Only a dict subclass gets here (pack_ptr takes exact dicts): a mapping is read
        // through its methods, as `dict(obj.items())` (the reference's msgpack `default`),
        // so a lying __len__ or items() cannot make a map whose count disagrees with its pairs.
        let exact = py
            .get_type::<PyDict>()
            .call1((obj.call_method0("items")?,))?;
        return pack(out, &exact, nest_limit);
    }
    if obj.is_instance_of::<PyList>() {
        // SAFETY: a live list (subclass), held by the caller.
        return unsafe { pack_list(py, out, ptr, nest_limit) };
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        // ExtType is a namedtuple: msgpack-python tests for it before list and tuple.
        if !obj.is_exact_instance_of::<PyTuple>() && obj.is_instance(ext_type(py)?)? {
            return pack_ext_type(out, obj);
        }
        let n = len_u32(tuple.len(), "tuple")?;
        put_array_len(out, n);
        for item in tuple.iter() {
            pack(out, &item, nest_limit - 1)?;
        }
        return Ok(());
    }
    if obj.get_type().is(timestamp_type(py)?) {
        let data = obj.call_method0("to_bytes")?;
        return write_ext(out, -1, data.cast::<PyBytes>()?.as_bytes());
    }
    if obj.is_instance(ext_type(py)?)? {
        return pack_ext_type(out, obj);
    }
    // SAFETY: a type check on a live object.
    if unsafe { ffi::PyMemoryView_Check(ptr) } != 0 {
        let view = ByteView::get(obj)?;
        return write_bin(out, view.as_slice());
    }
    Err(PyTypeError::new_err(format!(
        "can not serialize '{}' object",
        type_name(obj)
    )))
}

/// The str objects of short map keys already decoded, reused for the same bytes.
///
/// Direct-mapped by a hash of the key's bytes, [`KEY_SLOTS`] slots of keys up to
/// [`KEY_MAX`] bytes: bounded memory whatever a peer sends (a new key replaces the slot's
/// old one). The strings are not interned (interned strings can outlive the cache).
pub struct KeyCache {
    enabled: bool,
    slots: Vec<Option<KeySlot>>,
    /// Objects the payload being decoded has counted so far, and its budget
    /// ([`transport::frame_object_budget`]); both set for each payload.
    objects: u64,
    budget: u64,
}

struct KeySlot {
    /// The key's length and its bytes as two words ([`key_words`]): equal triples are
    /// equal keys, so a hit costs two compares.
    len: usize,
    words: (u64, u64),
    text: Py<PyAny>,
}

/// The bytes of a key of at most 16 bytes as two words: the first and last 8 bytes
/// (overlapping below 16), or for shorter keys the first and last 4, or the first, middle
/// and last byte. With the length, the words determine every byte of the key.
#[inline(always)]
fn key_words(bytes: &[u8]) -> (u64, u64) {
    let n = bytes.len();
    let word = |at: usize| {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(raw)
    };
    let half = |at: usize| {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(&bytes[at..at + 4]);
        u64::from(u32::from_le_bytes(raw))
    };
    match n {
        8..=16 => (word(0), word(n - 8)),
        4..=7 => (half(0) | (half(n - 4) << 32), 0),
        1..=3 => (
            u64::from(bytes[0]) | (u64::from(bytes[n / 2]) << 8) | (u64::from(bytes[n - 1]) << 16),
            0,
        ),
        _ => (0, 0),
    }
}

impl KeyCache {
    /// A cache, allocated on its first key.
    pub fn new() -> Self {
        KeyCache {
            enabled: true,
            slots: Vec::new(),
            objects: 0,
            budget: 0,
        }
    }

    /// No caching (one-off payloads): every key is a new str.
    pub fn disabled() -> Self {
        KeyCache {
            enabled: false,
            slots: Vec::new(),
            objects: 0,
            budget: 0,
        }
    }

    /// Counts `n` more objects of the payload; ProtocolError beyond the frame's budget.
    fn count(&mut self, py: Python<'_>, n: u64) -> PyResult<()> {
        self.objects = self.objects.saturating_add(n);
        if self.objects > self.budget {
            let budget = self.budget;
            return Err(protocol_error(
                py,
                format!("frame decodes to more than {budget} objects"),
            ));
        }
        Ok(())
    }

    #[inline(always)]
    fn key<'py>(&mut self, py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if !self.enabled || bytes.len() > KEY_MAX {
            return make_str(py, bytes);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(KEY_SLOTS, || None);
        }
        let words = key_words(bytes);
        let mixed = (words.0 ^ words.1.rotate_left(29) ^ bytes.len() as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let index = (mixed >> 32) as usize % KEY_SLOTS;
        let Some(slot) = self.slots.get_mut(index) else {
            return make_str(py, bytes);
        };
        if let Some(hit) = slot {
            if hit.len == bytes.len() && hit.words == words {
                return Ok(hit.text.bind(py).clone());
            }
        }
        let text = make_str(py, bytes)?;
        *slot = Some(KeySlot {
            len: bytes.len(),
            words,
            text: text.clone().unbind(),
        });
        Ok(text)
    }
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::new()
    }
}

/// Takes ownership of a new reference returned by the C API (NULL: the error it set).
fn owned(py: Python<'_>, ptr: *mut ffi::PyObject) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: every caller passes a new (owned) reference or NULL with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(py, ptr) }
}

fn py_ssize(n: usize) -> PyResult<ffi::Py_ssize_t> {
    ffi::Py_ssize_t::try_from(n).map_err(|_| too_large("MessagePack item"))
}

/// A str from MessagePack str bytes: ASCII is copied straight into a new compact str; other
/// text goes through CPython's strict UTF-8 decoder (invalid UTF-8, surrogates included, is a
/// ProtocolError, as in the reference).
fn make_str<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let len = py_ssize(bytes.len())?;
    if let [byte] = bytes {
        if byte.is_ascii() {
            // CPython's cached one-character str, as its UTF-8 decoder (msgpack's) returns.
            // SAFETY: returns a new reference to the singleton.
            return owned(py, unsafe {
                ffi::PyUnicode_FromOrdinal(std::os::raw::c_int::from(*byte))
            });
        }
    }
    if bytes.is_ascii() {
        // SAFETY: PyUnicode_New(len, 127) makes a compact ASCII str with room for `len`
        // one-byte characters (and writes the NUL after them); we fill exactly those bytes,
        // all < 128, before anyone else sees the object.
        unsafe {
            let text = owned(py, ffi::PyUnicode_New(len, 127))?;
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                ffi::PyUnicode_DATA(text.as_ptr()).cast::<u8>(),
                bytes.len(),
            );
            return Ok(text);
        }
    }
    // SAFETY: a valid pointer and length; "strict" is a NUL-terminated C string.
    let made = owned(py, unsafe {
        ffi::PyUnicode_DecodeUTF8(bytes.as_ptr().cast(), len, c"strict".as_ptr())
    });
    made.map_err(|err| {
        if err.is_instance_of::<PyUnicodeDecodeError>(py) {
            protocol_error(py, format!("invalid UTF-8 in str: {err}"))
        } else {
            err
        }
    })
}

/// Builds the Python object of the next MessagePack item; any malformation is a
/// ProtocolError (msgpack-python's ValueError subclasses, mapped as the reference maps them).
fn unpack<'py>(
    py: Python<'py>,
    reader: &mut Reader<'_>,
    keys: &mut KeyCache,
    depth: usize,
) -> PyResult<Bound<'py, PyAny>> {
    // The most common markers straight from the byte (the same objects and errors as
    // through `Token`, without passing a token through memory).
    if let Some(marker) = reader.peek() {
        match marker {
            0x00..=0x7f => {
                reader.bump();
                // SAFETY: returns a new reference (a cached small int).
                return owned(py, unsafe {
                    ffi::PyLong_FromLong(std::os::raw::c_long::from(marker))
                });
            }
            0xa0..=0xbf => {
                reader.bump();
                let bytes = reader
                    .take(usize::from(marker & 0x1f))
                    .map_err(|e| to_py_err(py, e))?;
                // Short str values (enum-like tags) share the key cache: an equal str,
                // one allocation fewer per message.
                return keys.key(py, bytes);
            }
            0xcb => {
                reader.bump();
                let bytes = reader.take(8).map_err(|e| to_py_err(py, e))?;
                let mut raw = [0u8; 8];
                raw.copy_from_slice(bytes);
                // SAFETY: returns a new reference or NULL with an exception set.
                return owned(py, unsafe {
                    ffi::PyFloat_FromDouble(f64::from_be_bytes(raw))
                });
            }
            _ => {}
        }
    }
    let token = reader.next_token().map_err(|e| to_py_err(py, e))?;
    build(py, reader, keys, depth, token)
}

/// A map key: a short str through the key cache, anything else as [`unpack`] reads it.
fn unpack_key<'py>(
    py: Python<'py>,
    reader: &mut Reader<'_>,
    keys: &mut KeyCache,
    depth: usize,
) -> PyResult<Bound<'py, PyAny>> {
    if let Some(marker @ 0xa0..=0xbf) = reader.peek() {
        reader.bump();
        let bytes = reader
            .take(usize::from(marker & 0x1f))
            .map_err(|e| to_py_err(py, e))?;
        return keys.key(py, bytes);
    }
    match reader.next_token().map_err(|e| to_py_err(py, e))? {
        Token::Str(bytes) => keys.key(py, bytes),
        other => build(py, reader, keys, depth, other),
    }
}

fn build<'py>(
    py: Python<'py>,
    reader: &mut Reader<'_>,
    keys: &mut KeyCache,
    depth: usize,
    token: Token<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY (the ffi constructors below): each returns a new reference or NULL with an
    // exception set, which `owned` turns into the error.
    Ok(match token {
        Token::Nil => py.None().into_bound(py),
        Token::Bool(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any(),
        Token::UInt(v) => owned(py, unsafe { ffi::PyLong_FromUnsignedLongLong(v) })?,
        Token::Int(v) => owned(py, unsafe { ffi::PyLong_FromLongLong(v) })?,
        Token::F32(v) => owned(py, unsafe { ffi::PyFloat_FromDouble(f64::from(v)) })?,
        Token::F64(v) => owned(py, unsafe { ffi::PyFloat_FromDouble(v) })?,
        Token::Str(bytes) => make_str(py, bytes)?,
        Token::Bin(bytes) => PyBytes::new(py, bytes).into_any(),
        Token::Array(n) => {
            if depth >= MAX_NESTING {
                return Err(protocol_error(py, "MessagePack nesting is too deep"));
            }
            // Counted before the list is made, so a header announcing millions of items
            // costs nothing (msgpack-python's max_array_len check in the reference).
            keys.count(py, 1 + n as u64)?;
            // n was checked against the bytes left (each item takes at least one), so the
            // list's allocation is bounded by the payload actually received.
            let list = owned(py, unsafe { ffi::PyList_New(py_ssize(n)?) })?;
            for i in 0..n {
                let item = unpack(py, reader, keys, depth + 1)?;
                // SAFETY: a new list of length n, i < n, each slot set once; the reference
                // is stolen. A list dropped half-filled holds NULLs, which its dealloc and GC
                // traversal skip.
                unsafe {
                    ffi::PyList_SET_ITEM(list.as_ptr(), i as ffi::Py_ssize_t, item.into_ptr())
                };
            }
            list
        }
        Token::Map(n) => {
            if depth >= MAX_NESTING {
                return Err(protocol_error(py, "MessagePack nesting is too deep"));
            }
            if n as u64 > keys.budget / 2 {
                return Err(protocol_error(
                    py,
                    format!("a map of {n} entries is more than a frame may hold"),
                ));
            }
            // A dict of more entries than an empty dict's first table holds (5) is made
            // with room for all of them (n is bounded by the payload, as above).
            let dict = if n > 5 {
                owned(py, unsafe { _PyDict_NewPresized(py_ssize(n)?) })?
            } else {
                owned(py, unsafe { ffi::PyDict_New() })?
            };
            for _ in 0..n {
                let key = unpack_key(py, reader, keys, depth + 1)?;
                let value = unpack(py, reader, keys, depth + 1)?;
                // SAFETY: live dict, key and value; PyDict_SetItem does not steal them.
                if unsafe { ffi::PyDict_SetItem(dict.as_ptr(), key.as_ptr(), value.as_ptr()) } < 0 {
                    let err = PyErr::fetch(py);
                    return Err(protocol_error(py, format!("bad map key: {err}")));
                }
            }
            // Counted once built, by its entries after repeated keys merged, as the
            // reference's object_hook sees it.
            // SAFETY: a live dict.
            let entries = unsafe { ffi::PyDict_Size(dict.as_ptr()) };
            keys.count(py, 1 + 2 * u64::try_from(entries).unwrap_or(0))?;
            dict
        }
        Token::Ext(code, data) => {
            let data = PyBytes::new(py, data);
            let made = if code == -1 {
                timestamp_type(py)?.call_method1("from_bytes", (data,))
            } else {
                ext_type(py)?.call1((code, data))
            };
            made.map_err(|err| protocol_error(py, format!("bad ext value: {err}")))?
        }
    })
}

/// The Python object of one whole MessagePack payload.
/// `wire_len` is the bytes the payload took in its frame (its object budget).
pub fn unpack_payload<'py>(
    py: Python<'py>,
    payload: &[u8],
    wire_len: usize,
) -> PyResult<Bound<'py, PyAny>> {
    unpack_payload_with(py, payload, wire_len, &mut KeyCache::disabled())
}

/// [`unpack_payload`] with map keys from (and into) `keys`.
pub fn unpack_payload_with<'py>(
    py: Python<'py>,
    payload: &[u8],
    wire_len: usize,
    keys: &mut KeyCache,
) -> PyResult<Bound<'py, PyAny>> {
    let mut reader = Reader::new(payload);
    keys.objects = 0;
    keys.budget = transport::frame_object_budget(wire_len);
    let obj = unpack(py, &mut reader, keys, 0)?;
    reader.finish().map_err(|e| to_py_err(py, e))?;
    Ok(obj)
}

fn require_int<'py>(value: &Bound<'py, PyAny>, what: &str) -> PyResult<()> {
    if value.is_instance_of::<PyInt>() {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "{what} must be an int, not {}",
            type_name(value)
        )))
    }
}

fn is_negative(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    value.lt(0)
}

/// The value of an exact int that fits in i64; `None` for anything else (which then takes
/// the general checks and their errors). Arguments are checked once per call, so this
/// spares every call the generic conversions.
fn exact_i64(value: &Bound<'_, PyAny>) -> Option<i64> {
    let ptr = value.as_ptr();
    // SAFETY: ptr is live (held by `value`); the conversion runs only on an exact int, and
    // an overflow leaves no exception set.
    unsafe {
        if ffi::Py_TYPE(ptr) != &raw mut ffi::PyLong_Type {
            return None;
        }
        let mut overflow: std::os::raw::c_int = 0;
        let v = ffi::PyLong_AsLongLongAndOverflow(ptr, &mut overflow);
        (overflow == 0).then_some(v)
    }
}

/// `stream_id` checked as the reference checks it: an int in [0, 2**32).
pub fn stream_id_arg(value: &Bound<'_, PyAny>) -> PyResult<u32> {
    if let Some(v) = exact_i64(value).and_then(|v| u32::try_from(v).ok()) {
        return Ok(v);
    }
    require_int(value, "stream_id")?;
    value.extract::<u32>().map_err(|_| {
        PyValueError::new_err(format!(
            "stream_id must be in [0, 2**32), got {}",
            value.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })
}

/// A non-negative int; values beyond u64 saturate (they mean "no limit").
fn non_negative(value: &Bound<'_, PyAny>, what: &str, min: u64) -> PyResult<u64> {
    if let Some(v) = exact_i64(value).and_then(|v| u64::try_from(v).ok()) {
        if v >= min {
            return Ok(v);
        }
    }
    require_int(value, what)?;
    // An int in i64 range (every real argument) needs no rich comparison.
    let negative = match value.extract::<i64>() {
        Ok(v) => v < 0,
        Err(_) => is_negative(value)?,
    };
    if negative {
        return Err(PyValueError::new_err(format!("{what} must be >= {min}")));
    }
    let v = value.extract::<u64>().unwrap_or(u64::MAX);
    if v < min {
        return Err(PyValueError::new_err(format!("{what} must be >= {min}")));
    }
    Ok(v)
}

pub fn level_arg(value: &Bound<'_, PyAny>) -> PyResult<i32> {
    if let Some(level) = exact_i64(value) {
        return check_level(level).map_err(PyValueError::new_err);
    }
    require_int(value, "level")?;
    let level = value.extract::<i64>().unwrap_or(i64::MAX);
    check_level(level).map_err(PyValueError::new_err)
}

pub fn threshold_arg(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    non_negative(value, "compress_threshold", 0)
}

pub fn max_frame_size_arg(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    non_negative(value, "max_frame_size", 1)
}

thread_local! {
    /// The per-thread buffer `encode_frame` packs into before copying into the bytes object.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Appends the frame of `obj` to `out` (header, CRC, MessagePack, compressed above
/// `threshold`); on error `out` may hold a partial frame, which the caller discards.
fn encode_into(
    py: Python<'_>,
    out: &mut Vec<u8>,
    obj: &Bound<'_, PyAny>,
    stream_id: u32,
    threshold: u64,
    level: i32,
) -> PyResult<()> {
    let start = out.len();
    out.resize(start + HEADER_LEN, 0);
    pack(out, obj, PACK_NEST_LIMIT)?;
    let payload = out.len() - start - HEADER_LEN;
    let sealed = if payload as u64 > threshold && payload >= DETACH_BYTES {
        py.detach(|| seal_at(out, start, stream_id, threshold, level))
    } else {
        seal_at(out, start, stream_id, threshold, level)
    };
    sealed.map_err(|e| to_py_err(py, e))
}

/// The whole frame of `obj` (header, CRC, MessagePack, compressed above `threshold`).
pub fn encode(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    stream_id: u32,
    threshold: u64,
    level: i32,
) -> PyResult<Vec<u8>> {
    let mut buf = Vec::with_capacity(64);
    encode_into(py, &mut buf, obj, stream_id, threshold, level)?;
    Ok(buf)
}

fn py_int(value: u64) -> Py<PyAny> {
    Python::attach(|py| {
        let Ok(v) = value.into_pyobject(py);
        v.into_any().unbind()
    })
}

/// One frame holding `obj` as MessagePack, Zstandard-compressed above the threshold.
#[pyfunction]
#[pyo3(signature = (obj, stream_id = py_int(0), *, compress_threshold = py_int(DEFAULT_COMPRESS_THRESHOLD), level = py_int(DEFAULT_LEVEL as u64)))]
fn encode_frame<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    stream_id: Py<PyAny>,
    compress_threshold: Py<PyAny>,
    level: Py<PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let stream_id = stream_id_arg(stream_id.bind(py))?;
    let threshold = threshold_arg(compress_threshold.bind(py))?;
    let level = level_arg(level.bind(py))?;
    // A reentrant call (from a __index__ or items() run by pack) finds the cell empty and
    // simply uses a new buffer.
    let mut buf = SCRATCH.with(Cell::take);
    buf.clear();
    let made = encode_into(py, &mut buf, obj, stream_id, threshold, level)
        .map(|()| PyBytes::new(py, &buf));
    if buf.capacity() <= SCRATCH_KEEP {
        SCRATCH.with(|cell| cell.set(buf));
    }
    made
}

/// `sid, obj = item`, as Python unpacks a 2-item target: a tuple or list of exactly two, or
/// any iterable yielding exactly two (TypeError for a non-iterable, ValueError otherwise).
fn pair<'py>(item: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    if let Ok(tuple) = item.cast::<PyTuple>() {
        if tuple.len() == 2 {
            return Ok((tuple.get_item(0)?, tuple.get_item(1)?));
        }
    } else if let Ok(list) = item.cast::<PyList>() {
        if list.len() == 2 {
            return Ok((list.get_item(0)?, list.get_item(1)?));
        }
    }
    // A non-iterable raises TypeError here, as unpacking it does.
    let mut items = item.try_iter()?;
    let mut next = |got: usize| match items.next() {
        Some(value) => value,
        None => Err(PyValueError::new_err(format!(
            "not enough values to unpack (expected 2, got {got})"
        ))),
    };
    let first = next(0)?;
    let second = next(1)?;
    match items.next() {
        None => Ok((first, second)),
        Some(Err(err)) => Err(err),
        Some(Ok(_)) => Err(PyValueError::new_err(
            "too many values to unpack (expected 2)",
        )),
    }
}

/// Appends the frame of one `(stream_id, obj)` item of `encode_frames`.
fn encode_item(
    py: Python<'_>,
    out: &mut Vec<u8>,
    item: &Bound<'_, PyAny>,
    threshold: u64,
    level: i32,
) -> PyResult<()> {
    let ptr = item.as_ptr();
    // SAFETY: reading the type and size of a live object.
    if unsafe { ffi::Py_TYPE(ptr) == &raw mut ffi::PyTuple_Type && ffi::PyTuple_GET_SIZE(ptr) == 2 }
    {
        // An exact pair (the common case): its items are borrowed from the tuple, which
        // `item` holds and which cannot change.
        // SAFETY: indices 0 and 1 of a live 2-tuple.
        let (sid, obj) = unsafe { (ffi::PyTuple_GET_ITEM(ptr, 0), ffi::PyTuple_GET_ITEM(ptr, 1)) };
        let stream_id = match unsafe { small_u32(sid) } {
            Some(v) => v,
            // SAFETY: a live object held by the tuple.
            None => stream_id_arg(unsafe { &Bound::from_borrowed_ptr(py, sid) })?,
        };
        // SAFETY: borrowed from the held tuple (see above).
        let obj = unsafe { Borrowed::from_ptr(py, obj) };
        return encode_into(py, out, &obj, stream_id, threshold, level);
    }
    let (stream_id, obj) = pair(item)?;
    let stream_id = stream_id_arg(&stream_id)?;
    encode_into(py, out, &obj, stream_id, threshold, level)
}

/// The value of an exact int in [0, 2**32), `None` for anything else (which then takes the
/// checks and errors of [`stream_id_arg`]).
///
/// # Safety
/// `ptr` is a live object.
unsafe fn small_u32(ptr: *mut ffi::PyObject) -> Option<u32> {
    // SAFETY: ptr is live; the conversion runs only on an exact int.
    unsafe {
        if ffi::Py_TYPE(ptr) != &raw mut ffi::PyLong_Type {
            return None;
        }
        let mut overflow: std::os::raw::c_int = 0;
        let value = ffi::PyLong_AsLongLongAndOverflow(ptr, &mut overflow);
        if overflow != 0 {
            return None;
        }
        u32::try_from(value).ok()
    }
}

/// The frames of every `(stream_id, obj)` of `messages`, concatenated: the bytes of
/// `b"".join(encode_frame(obj, sid, ...) for sid, obj in messages)`, written into one buffer.
#[pyfunction]
#[pyo3(signature = (messages, *, compress_threshold = py_int(DEFAULT_COMPRESS_THRESHOLD), level = py_int(DEFAULT_LEVEL as u64)))]
fn encode_frames<'py>(
    py: Python<'py>,
    messages: &Bound<'py, PyAny>,
    compress_threshold: Py<PyAny>,
    level: Py<PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let threshold = threshold_arg(compress_threshold.bind(py))?;
    let level = level_arg(level.bind(py))?;
    // The per-thread buffer (see encode_frame); a reentrant call gets a new one.
    let mut out = SCRATCH.with(Cell::take);
    out.clear();
    let made =
        encode_batch(py, &mut out, messages, threshold, level).map(|()| PyBytes::new(py, &out));
    if out.capacity() <= SCRATCH_KEEP {
        SCRATCH.with(|cell| cell.set(out));
    }
    made
}

/// The body of [`encode_frames`]: every frame appended to `out`.
fn encode_batch(
    py: Python<'_>,
    out: &mut Vec<u8>,
    messages: &Bound<'_, PyAny>,
    threshold: u64,
    level: i32,
) -> PyResult<()> {
    if messages.is_exact_instance_of::<PyList>() {
        // The list read by index, as its iterator reads it (its length is re-read at every
        // step, so a list changed by Python code run while packing behaves the same).
        let list = messages.as_ptr();
        // SAFETY: a live exact list, held by the caller.
        let hint = usize::try_from(unsafe { ffi::PyList_GET_SIZE(list) }).unwrap_or(0);
        out.reserve(hint.saturating_mul(HEADER_LEN + 64));
        let mut i: ffi::Py_ssize_t = 0;
        // SAFETY: i is below the list's current length; the item is turned into a strong
        // reference before anything else runs.
        while i < unsafe { ffi::PyList_GET_SIZE(list) } {
            let item = unsafe { Bound::from_borrowed_ptr(py, ffi::PyList_GET_ITEM(list, i)) };
            encode_item(py, out, &item, threshold, level)?;
            i += 1;
        }
    } else {
        for item in messages.try_iter()? {
            encode_item(py, out, &item?, threshold, level)?;
        }
    }
    Ok(())
}

/// Incremental decoder: `feed(bytes)` in any chunking -> list of (stream_id, obj).
///
/// Calls are serialised by a mutex (waited for without the GIL), as the reference's lock
/// serialises them: concurrent `feed`s never interleave inside one call.
#[pyclass(module = "rust_core.binary_transport", frozen)]
pub struct FrameDecoder {
    state: Mutex<DecoderState>,
}

/// What a [`FrameDecoder`] keeps between calls.
struct DecoderState {
    inner: FrameBuffer,
    keys: KeyCache,
    /// Decompressed payloads, reused from frame to frame.
    scratch: Vec<u8>,
}

/// `[(stream_id, obj), ...]` of the spans just split out of `inner`; compressed payloads
/// are decompressed into `scratch` one at a time (large ones without the GIL).
fn frames_to_list<'py>(
    py: Python<'py>,
    inner: &mut FrameBuffer,
    spans: &[FrameSpan],
    keys: &mut KeyCache,
    scratch: &mut Vec<u8>,
) -> PyResult<Bound<'py, PyAny>> {
    let list = owned(py, unsafe { ffi::PyList_New(py_ssize(spans.len())?) })?;
    for (i, span) in spans.iter().enumerate() {
        let large = matches!(&span.payload, Payload::Compressed(r) if r.len() >= DETACH_BYTES);
        let wire_len = match &span.payload {
            Payload::Buffered(range) | Payload::Compressed(range) => range.len(),
        };
        let payload = if large {
            py.detach(|| inner.payload(span, scratch))
        } else {
            inner.payload(span, scratch)
        };
        let payload = payload.map_err(|e| to_py_err(py, e))?;
        let obj = unpack_payload_with(py, payload, wire_len, keys)?;
        let stream_id = owned(py, unsafe {
            ffi::PyLong_FromUnsignedLongLong(u64::from(span.stream_id))
        })?;
        let pair = owned(py, unsafe { ffi::PyTuple_New(2) })?;
        // SAFETY: a new 2-tuple and a new list of spans.len() items, each slot set once with
        // a stolen reference (a half-filled list holds NULLs, which its dealloc skips).
        unsafe {
            ffi::PyTuple_SET_ITEM(pair.as_ptr(), 0, stream_id.into_ptr());
            ffi::PyTuple_SET_ITEM(pair.as_ptr(), 1, obj.into_ptr());
            ffi::PyList_SET_ITEM(list.as_ptr(), i as ffi::Py_ssize_t, pair.into_ptr());
        }
    }
    Ok(list)
}

/// Splits every whole frame out of `inner` (without the GIL when `detach`), then
/// decompresses and builds the Python objects frame by frame; any error closes the decoder.
/// Frames before a bad one are read first, so the first bad frame's error is the one
/// reported, as in the reference's sequential loop.
pub fn drain<'py>(
    py: Python<'py>,
    inner: &mut FrameBuffer,
    keys: &mut KeyCache,
    scratch: &mut Vec<u8>,
    detach: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let split = |inner: &mut FrameBuffer| {
        let mut spans: Vec<FrameSpan> = Vec::new();
        loop {
            match inner.next_span() {
                Ok(Some(span)) => spans.push(span),
                Ok(None) => return (spans, None),
                Err(err) => return (spans, Some(err)),
            }
        }
    };
    let (spans, error) = if detach {
        py.detach(|| split(inner))
    } else {
        split(inner)
    };
    let made = frames_to_list(py, inner, &spans, keys, scratch);
    if scratch.capacity() > DECOMPRESSED_KEEP {
        *scratch = Vec::new();
    }
    match (made, error) {
        (Err(err), _) => {
            inner.close(&err.to_string());
            Err(err)
        }
        (Ok(_), Some(err)) => Err(to_py_err(py, err)),
        (Ok(list), None) => Ok(list),
    }
}

impl FrameDecoder {
    fn lock(&self, py: Python<'_>) -> MutexGuard<'_, DecoderState> {
        // A poisoned lock (impossible: nothing here panics) still holds a usable decoder.
        self.state
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// `(pending, failed)` from the `__getstate__` dict of pyagent.connectivity_core.FrameDecoder;
/// ValueError for anything it could not have written.
fn decoder_state(state: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, Option<String>)> {
    let invalid = || {
        PyValueError::new_err(
            "invalid FrameDecoder state: expected {'pending': bytes, 'failed': str or None}",
        )
    };
    let dict = state.cast::<PyDict>().map_err(|_| invalid())?;
    if dict.len() != 2 {
        return Err(invalid());
    }
    let pending = dict.get_item("pending")?.ok_or_else(invalid)?;
    let failed = dict.get_item("failed")?.ok_or_else(invalid)?;
    let pending = pending.cast::<PyBytes>().map_err(|_| invalid())?;
    let failed = if failed.is_none() {
        None
    } else {
        let text = failed.cast::<PyString>().map_err(|_| invalid())?;
        // A lone surrogate cannot be a Rust String: stored as U+FFFD, like the message
        // of any error that closes a decoder.
        Some(text.to_string_lossy().into_owned())
    };
    if failed.is_some() && !pending.as_bytes().is_empty() {
        return Err(invalid());
    }
    Ok((pending.as_bytes().to_vec(), failed))
}

#[pymethods]
impl FrameDecoder {
    #[new]
    #[pyo3(signature = (max_frame_size = py_int(DEFAULT_MAX_FRAME_SIZE)))]
    fn new(py: Python<'_>, max_frame_size: Py<PyAny>) -> PyResult<Self> {
        let max = max_frame_size_arg(max_frame_size.bind(py))?;
        Ok(FrameDecoder {
            state: Mutex::new(DecoderState {
                inner: FrameBuffer::new(max),
                keys: KeyCache::new(),
                scratch: Vec::new(),
            }),
        })
    }

    /// Appends `data`; returns every frame completed by it as (stream_id, obj).
    fn feed<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let view = ByteView::get(data)?;
        let bytes = view.as_slice();
        let detach = bytes.len() >= DETACH_BYTES;
        let mut guard = self.lock(py);
        let state = &mut *guard;
        state.inner.push(bytes).map_err(|e| to_py_err(py, e))?;
        drop(view);
        drain(
            py,
            &mut state.inner,
            &mut state.keys,
            &mut state.scratch,
            detach,
        )
    }

    /// Raises ProtocolError if the stream ended inside a frame.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        self.lock(py).inner.finish().map_err(|e| to_py_err(py, e))
    }

    /// Bytes buffered that do not yet form a whole frame.
    #[getter]
    fn pending(&self, py: Python<'_>) -> usize {
        self.lock(py).inner.pending()
    }

    #[getter]
    fn max_frame_size(&self, py: Python<'_>) -> u64 {
        self.lock(py).inner.max_frame_size()
    }

    /// `{"pending": bytes, "failed": str or None}`, as the reference's `__getstate__`: a
    /// closed decoder keeps no bytes (every later call raises anyway).
    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (pending, failed) = {
            let state = self.lock(py);
            match state.inner.failure() {
                Some(message) => (Vec::new(), Some(message.to_owned())),
                None => (state.inner.pending_bytes().to_vec(), None),
            }
        };
        let dict = PyDict::new(py);
        dict.set_item("pending", PyBytes::new(py, &pending))?;
        dict.set_item("failed", failed)?;
        Ok(dict)
    }

    /// Restores a pickled state; ValueError (decoder unchanged) for a malformed one.
    fn __setstate__(&self, py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let (pending, failed) = decoder_state(state)?;
        self.lock(py).inner.restore(&pending, failed);
        Ok(())
    }

    /// `(pyagent.connectivity_core.FrameDecoder, (max_frame_size,), state)`: the pickle names
    /// the backend-neutral class, so it loads with or without rust_core.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Reduced<'py, (u64,)>> {
        static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let class = match CLASS.import(py, "pyagent.connectivity_core", "FrameDecoder") {
            Ok(class) => class.clone().into_any(),
            Err(_) => py.get_type::<FrameDecoder>().into_any(),
        };
        let max = self.lock(py).inner.max_frame_size();
        Ok((class, (max,), self.__getstate__(py)?))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let sub = PyModule::new(m.py(), "binary_transport")?;
    sub.add_function(wrap_pyfunction!(encode_frame, &sub)?)?;
    sub.add_function(wrap_pyfunction!(encode_frames, &sub)?)?;
    sub.add_class::<FrameDecoder>()?;
    m.add_submodule(&sub)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inline header writers give exactly rmp's (msgpack-python's) encodings.
    #[test]
    fn put_writers_match_rmp() {
        let edges: [u64; 17] = [
            0,
            32_768,
            1 << 31,
            1 << 63,
            1,
            15,
            16,
            31,
            32,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
        ];
        for &v in edges.iter().chain(&[u64::MAX]) {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_uint(&mut ours, v);
            rmp::encode::write_uint(&mut theirs, v).unwrap();
            assert_eq!(ours, theirs, "uint {v}");
            if let Ok(n) = u32::try_from(v) {
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                put_str_len(&mut ours, n);
                put_array_len(&mut ours, n);
                put_map_len(&mut ours, n);
                rmp::encode::write_str_len(&mut theirs, n).unwrap();
                rmp::encode::write_array_len(&mut theirs, n).unwrap();
                rmp::encode::write_map_len(&mut theirs, n).unwrap();
                assert_eq!(ours, theirs, "len {n}");
            }
            if v > 0 && v <= 1 << 63 {
                let neg = (v as i64).wrapping_neg();
                for n in [neg, neg.wrapping_add(1), neg.wrapping_sub(1)] {
                    if n < 0 {
                        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                        put_negative(&mut ours, n);
                        rmp::encode::write_sint(&mut theirs, n).unwrap();
                        assert_eq!(ours, theirs, "sint {n}");
                    }
                }
            }
        }
        let data: Vec<u8> = (0..40u8).collect();
        for n in 0..=data.len() {
            let mut ours = vec![9u8; 3];
            put_bytes(&mut ours, &data[..n]);
            assert_eq!(&ours[..3], &[9, 9, 9]);
            assert_eq!(&ours[3..], &data[..n], "put_bytes {n}");
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        put_f64(&mut ours, -1.5);
        rmp::encode::write_f64(&mut theirs, -1.5).unwrap();
        assert_eq!(ours, theirs);
    }
}
