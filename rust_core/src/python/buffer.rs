//! Zero-copy access to the bytes of `str` and buffer-protocol objects.

use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// A `PyBUF_SIMPLE` view: the same request hashlib makes, so any C-contiguous buffer is
/// accepted whatever its item format, and a non-contiguous one raises BufferError.
pub struct ByteView {
    // Boxed so the Py_buffer never moves while the exporter holds a pointer to it.
    view: Box<ffi::Py_buffer>,
}

// SAFETY: the exporter keeps the memory alive and in place until PyBuffer_Release, which
// `Drop` calls with the GIL held. Reading it from another thread while the GIL is released is
// the same contract hashlib relies on when it hashes large buffers without the GIL.
unsafe impl Send for ByteView {}
unsafe impl Sync for ByteView {}

impl ByteView {
    pub fn get(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        // SAFETY: Py_buffer is a plain C struct; zeroed is its documented initial state.
        let mut view: Box<ffi::Py_buffer> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: obj is a live object, view points to writable memory of the right type.
        let rc = unsafe {
            ffi::PyObject_GetBuffer(
                obj.as_ptr(),
                &mut *view as *mut ffi::Py_buffer,
                ffi::PyBUF_SIMPLE,
            )
        };
        if rc == -1 {
            let err = PyErr::fetch(obj.py());
            if !err.is_instance_of::<PyTypeError>(obj.py()) && strided_view_exists(obj) {
                // A buffer whose simple view is refused but whose strided view is given is
                // not C-contiguous. Exporters refuse each in their own way (numpy:
                // ValueError); the reference's memoryview check says BufferError, and so
                // does docs/limits.md.
                return Err(PyBufferError::new_err(
                    "memoryview: underlying buffer is not C-contiguous",
                ));
            }
            return Err(err);
        }
        Ok(ByteView { view })
    }

    pub fn as_slice(&self) -> &[u8] {
        let len = usize::try_from(self.view.len).unwrap_or(0);
        if len == 0 || self.view.buf.is_null() {
            return &[];
        }
        // SAFETY: PyBUF_SIMPLE guarantees `len` contiguous bytes at `buf` for the view's life.
        unsafe { std::slice::from_raw_parts(self.view.buf as *const u8, len) }
    }
}

/// Whether `obj` gives a strided read-only view (the one `memoryview` asks for).
fn strided_view_exists(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: as in ByteView::get; a view obtained here is released at once.
    let mut view: Box<ffi::Py_buffer> = Box::new(unsafe { std::mem::zeroed() });
    let rc = unsafe {
        ffi::PyObject_GetBuffer(
            obj.as_ptr(),
            &mut *view as *mut ffi::Py_buffer,
            ffi::PyBUF_FULL_RO,
        )
    };
    if rc == -1 {
        // The strided request failed too: its error is dropped, the first one is reported.
        drop(PyErr::take(obj.py()));
        return false;
    }
    // SAFETY: filled by the successful PyObject_GetBuffer above.
    unsafe { ffi::PyBuffer_Release(&mut *view as *mut ffi::Py_buffer) };
    true
}

impl Drop for ByteView {
    fn drop(&mut self) {
        Python::attach(|_| {
            // SAFETY: the view was filled by a successful PyObject_GetBuffer.
            unsafe { ffi::PyBuffer_Release(&mut *self.view as *mut ffi::Py_buffer) };
        });
    }
}

/// Bytes of a `str` (UTF-8, borrowed from the string's cached encoding) or of a buffer.
pub enum TextOrBytes<'py> {
    Text(Bound<'py, PyString>),
    /// `bytes` itself: immutable, so its storage is read directly, with no buffer request.
    Bytes(Bound<'py, PyBytes>),
    Buffer(ByteView),
}

impl<'py> TextOrBytes<'py> {
    /// Accepts `str` or any buffer; anything else is a TypeError naming `what`.
    pub fn extract(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        if let Ok(text) = obj.cast::<PyString>() {
            // Encode now so a lone surrogate raises UnicodeEncodeError here, as str.encode does.
            text.to_str()?;
            return Ok(TextOrBytes::Text(text.clone()));
        }
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(TextOrBytes::Bytes(bytes.clone()));
        }
        match ByteView::get(obj) {
            Ok(view) => Ok(TextOrBytes::Buffer(view)),
            Err(err) if err.is_instance_of::<PyTypeError>(obj.py()) => {
                Err(PyTypeError::new_err(format!(
                    "{what} must be str or a bytes-like object, not {}",
                    obj.get_type().name()?
                )))
            }
            Err(err) => Err(err),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            // to_str succeeded in extract and the cached UTF-8 lives as long as the string.
            TextOrBytes::Text(text) => text.to_str().map(str::as_bytes).unwrap_or(&[]),
            TextOrBytes::Bytes(bytes) => bytes.as_bytes(),
            TextOrBytes::Buffer(view) => view.as_slice(),
        }
    }
}
