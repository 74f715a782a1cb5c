//! ConnectivityCore.binary_transport binding: the `rust_core.binary_transport` submodule.
//!
//! MessagePack is written straight from Python objects with msgpack-python's type mapping
//! (`packb(obj, use_bin_type=True)`: smallest int forms, float64, bin for bytes-likes, str,
//! dict, list/tuple, ExtType, Timestamp) and read straight into Python objects (`unpackb(...,
//! raw=False, strict_map_key=False)`), so no intermediate value tree is built. Framing,
//! CRC and Zstandard are `crate::transport`. ProtocolError is pyagent's own class, imported
//! from `pyagent.connectivity_core` when first raised, so `except ProtocolError` catches it
//! from both backends.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use pyo3::PyTypeInfo;

use super::buffer::ByteView;
use crate::transport::{
    check_level, seal, Frame, FrameBuffer, ProtocolError, Reader, Token,
    DEFAULT_COMPRESS_THRESHOLD, DEFAULT_LEVEL, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN, MAX_NESTING,
};

/// msgpack-python's packer nest limit: an object deeper than this is a ValueError.
const PACK_NEST_LIMIT: i32 = 1024;
/// Payloads from this size on are split and checked with the GIL released.
const DETACH_BYTES: usize = 64 * 1024;

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

fn write_int(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(value) = obj.extract::<i64>() {
        if value >= 0 {
            let _ = rmp::encode::write_uint(out, value as u64);
        } else {
            let _ = rmp::encode::write_sint(out, value);
        }
        return Ok(());
    }
    match obj.extract::<u64>() {
        Ok(value) => {
            let _ = rmp::encode::write_uint(out, value);
            Ok(())
        }
        Err(_) => Err(PyOverflowError::new_err("Integer value out of range")),
    }
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

/// Appends the MessagePack of `obj` as msgpack-python's packer writes it.
fn pack(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, nest_limit: i32) -> PyResult<()> {
    let py = obj.py();
    if nest_limit < 0 {
        return Err(PyValueError::new_err("recursion limit exceeded."));
    }
    if obj.is_none() {
        out.push(0xc0);
        return Ok(());
    }
    let ptr = obj.as_ptr();
    // SAFETY: comparing addresses with the bool singletons, no dereference.
    if ptr == unsafe { ffi::Py_True() } {
        out.push(0xc3);
        return Ok(());
    }
    if ptr == unsafe { ffi::Py_False() } {
        out.push(0xc2);
        return Ok(());
    }
    if obj.is_instance_of::<PyInt>() {
        return write_int(out, obj);
    }
    if let Ok(value) = obj.cast::<PyFloat>() {
        let _ = rmp::encode::write_f64(out, value.value());
        return Ok(());
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return write_bin(out, bytes.as_bytes());
    }
    if let Ok(array) = obj.cast::<PyByteArray>() {
        // SAFETY: the bytes are copied at once, with no Python code run in between.
        return write_bin(out, unsafe { array.as_bytes() });
    }
    if let Ok(text) = obj.cast::<PyString>() {
        let text = text.to_str()?;
        let n = len_u32(text.len(), "unicode string")?;
        let _ = rmp::encode::write_str_len(out, n);
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        if obj.get_type().is(PyDict::type_object(py)) {
            let n = len_u32(dict.len(), "dict")?;
            let _ = rmp::encode::write_map_len(out, n);
            for (key, value) in dict.iter() {
                pack(out, &key, nest_limit - 1)?;
                pack(out, &value, nest_limit - 1)?;
            }
        } else {
            // A dict subclass is packed through its items(), as msgpack-python does.
            let n = len_u32(obj.len()?, "dict")?;
            let _ = rmp::encode::write_map_len(out, n);
            for item in obj.call_method0("items")?.try_iter()? {
                let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
                pack(out, &key, nest_limit - 1)?;
                pack(out, &value, nest_limit - 1)?;
            }
        }
        return Ok(());
    }
    if let Ok(list) = obj.cast::<PyList>() {
        let n = len_u32(list.len(), "list")?;
        let _ = rmp::encode::write_array_len(out, n);
        // Index access: a list mutated by a callback elsewhere cannot make us overrun.
        for item in list.iter() {
            pack(out, &item, nest_limit - 1)?;
        }
        return Ok(());
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        // ExtType is a namedtuple: msgpack-python tests for it before list and tuple.
        if !obj.is_exact_instance_of::<PyTuple>() && obj.is_instance(ext_type(py)?)? {
            return pack_ext_type(out, obj);
        }
        let n = len_u32(tuple.len(), "tuple")?;
        let _ = rmp::encode::write_array_len(out, n);
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

/// Builds the Python object of the next MessagePack item; any malformation is a
/// ProtocolError (msgpack-python's ValueError subclasses, mapped as the reference maps them).
fn unpack<'py>(
    py: Python<'py>,
    reader: &mut Reader<'_>,
    depth: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let token = reader.next_token().map_err(|e| to_py_err(py, e))?;
    Ok(match token {
        Token::Nil => py.None().into_bound(py),
        Token::Bool(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any(),
        Token::UInt(v) => v.into_pyobject(py)?.into_any(),
        Token::Int(v) => v.into_pyobject(py)?.into_any(),
        Token::F32(v) => PyFloat::new(py, f64::from(v)).into_any(),
        Token::F64(v) => PyFloat::new(py, v).into_any(),
        Token::Str(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => PyString::new(py, text).into_any(),
            Err(err) => return Err(protocol_error(py, format!("invalid UTF-8 in str: {err}"))),
        },
        Token::Bin(bytes) => PyBytes::new(py, bytes).into_any(),
        Token::Array(n) => {
            if depth >= MAX_NESTING {
                return Err(protocol_error(py, "MessagePack nesting is too deep"));
            }
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(unpack(py, reader, depth + 1)?);
            }
            PyList::new(py, items)?.into_any()
        }
        Token::Map(n) => {
            if depth >= MAX_NESTING {
                return Err(protocol_error(py, "MessagePack nesting is too deep"));
            }
            let dict = PyDict::new(py);
            for _ in 0..n {
                let key = unpack(py, reader, depth + 1)?;
                let value = unpack(py, reader, depth + 1)?;
                dict.set_item(key, value)
                    .map_err(|err| protocol_error(py, format!("bad map key: {err}")))?;
            }
            dict.into_any()
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
pub fn unpack_payload<'py>(py: Python<'py>, payload: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let mut reader = Reader::new(payload);
    let obj = unpack(py, &mut reader, 0)?;
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

/// `stream_id` checked as the reference checks it: an int in [0, 2**32).
pub fn stream_id_arg(value: &Bound<'_, PyAny>) -> PyResult<u32> {
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
    require_int(value, what)?;
    if is_negative(value)? {
        return Err(PyValueError::new_err(format!("{what} must be >= {min}")));
    }
    let v = value.extract::<u64>().unwrap_or(u64::MAX);
    if v < min {
        return Err(PyValueError::new_err(format!("{what} must be >= {min}")));
    }
    Ok(v)
}

pub fn level_arg(value: &Bound<'_, PyAny>) -> PyResult<i32> {
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

/// The whole frame of `obj` (header, CRC, MessagePack, compressed above `threshold`).
pub fn encode(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    stream_id: u32,
    threshold: u64,
    level: i32,
) -> PyResult<Vec<u8>> {
    let mut buf = Vec::with_capacity(64);
    buf.resize(HEADER_LEN, 0);
    pack(&mut buf, obj, PACK_NEST_LIMIT)?;
    let sealed = if (buf.len() - HEADER_LEN) as u64 > threshold {
        py.detach(|| seal(buf, stream_id, threshold, level))
    } else {
        seal(buf, stream_id, threshold, level)
    };
    sealed.map_err(|e| to_py_err(py, e))
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
    let frame = encode(py, obj, stream_id, threshold, level)?;
    Ok(PyBytes::new(py, &frame))
}

/// Incremental decoder: `feed(bytes)` in any chunking -> list of (stream_id, obj).
#[pyclass(module = "rust_core.binary_transport")]
pub struct FrameDecoder {
    inner: FrameBuffer,
}

/// Splits every whole frame out of `inner`; conversion to Python objects happens after,
/// with the GIL, and any error closes the decoder.
pub fn drain<'py>(
    py: Python<'py>,
    inner: &mut FrameBuffer,
    detach: bool,
) -> PyResult<Vec<(u32, Bound<'py, PyAny>)>> {
    let split = |inner: &mut FrameBuffer| {
        let mut frames: Vec<Frame> = Vec::new();
        loop {
            match inner.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return (frames, None),
                Err(err) => return (frames, Some(err)),
            }
        }
    };
    let (frames, error) = if detach {
        py.detach(|| split(inner))
    } else {
        split(inner)
    };
    let mut out = Vec::with_capacity(frames.len());
    for frame in frames {
        match unpack_payload(py, &frame.payload) {
            Ok(obj) => out.push((frame.stream_id, obj)),
            Err(err) => {
                inner.close(&err.to_string());
                return Err(err);
            }
        }
    }
    match error {
        Some(err) => Err(to_py_err(py, err)),
        None => Ok(out),
    }
}

#[pymethods]
impl FrameDecoder {
    #[new]
    #[pyo3(signature = (max_frame_size = py_int(DEFAULT_MAX_FRAME_SIZE)))]
    fn new(py: Python<'_>, max_frame_size: Py<PyAny>) -> PyResult<Self> {
        let max = max_frame_size_arg(max_frame_size.bind(py))?;
        Ok(FrameDecoder {
            inner: FrameBuffer::new(max),
        })
    }

    /// Appends `data`; returns every frame completed by it as (stream_id, obj).
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<(u32, Bound<'py, PyAny>)>> {
        let view = ByteView::get(data)?;
        let bytes = view.as_slice();
        let detach = bytes.len() >= DETACH_BYTES;
        self.inner.push(bytes).map_err(|e| to_py_err(py, e))?;
        drain(py, &mut self.inner, detach)
    }

    /// Raises ProtocolError if the stream ended inside a frame.
    fn finish(&mut self, py: Python<'_>) -> PyResult<()> {
        self.inner.finish().map_err(|e| to_py_err(py, e))
    }

    /// Bytes buffered that do not yet form a whole frame.
    #[getter]
    fn pending(&self) -> usize {
        self.inner.pending()
    }

    #[getter]
    fn max_frame_size(&self) -> u64 {
        self.inner.max_frame_size()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let sub = PyModule::new(m.py(), "binary_transport")?;
    sub.add_function(wrap_pyfunction!(encode_frame, &sub)?)?;
    sub.add_class::<FrameDecoder>()?;
    m.add_submodule(&sub)?;
    Ok(())
}
