//! ConnectivityCore.establish_native_rust binding: `establish_native_rust`, `Connection`,
//! `Listener`. Every blocking call (connect, handshake, accept, waiting for a message or a
//! pong, close) runs with the GIL released; MessagePack is written and read with the GIL.

use std::time::Duration;

use pyo3::exceptions::{PyTimeoutError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyType};

use super::errors::os_error;
use super::transport::{encode, protocol_error, unpack_payload};
use crate::net::connection::{self as conn, ConnError, CONTROL_STREAM};
use crate::net::transport::{DEFAULT_COMPRESS_THRESHOLD, DEFAULT_LEVEL, DEFAULT_MAX_FRAME_SIZE};

static CLOSED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static GAI_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CHECK_HOST: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
/// A timeout above this many seconds means no limit: read once from
/// `pyagent.connectivity_core.MAX_TIMEOUT`, the one definition of that limit.
static MAX_TIMEOUT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn connectivity_attr<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    let value = cell.get_or_try_init(py, || {
        py.import("pyagent.connectivity_core")?
            .getattr(name)
            .map(Bound::unbind)
    })?;
    Ok(value.bind(py))
}

fn closed_error(py: Python<'_>, message: String) -> PyErr {
    match CLOSED_ERROR.import(py, "pyagent.connectivity_core", "ConnectionClosedError") {
        Ok(class) => PyErr::from_type(class.clone(), message),
        Err(err) => err,
    }
}

fn to_py(py: Python<'_>, err: ConnError) -> PyErr {
    match err {
        ConnError::Timeout(message) => PyTimeoutError::new_err(message),
        ConnError::Closed(message) => closed_error(py, message),
        ConnError::Protocol(message) => protocol_error(py, message),
        ConnError::Io(err) => os_error(err, None),
        ConnError::Resolve(code, message) => match GAI_ERROR.import(py, "socket", "gaierror") {
            Ok(class) => PyErr::from_type(class.clone(), (code, message)),
            Err(err) => err,
        },
    }
}

/// `None`, or a real number of seconds > 0, as the reference's `_check_timeout` checks it:
/// compared before any conversion, so `inf` and ints of any size above `MAX_TIMEOUT` mean
/// no limit rather than an OverflowError.
fn timeout_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let Some(value) = value else { return Ok(None) };
    if value.is_none() {
        return Ok(None);
    }
    if value.is_instance_of::<PyBool>()
        || !(value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>())
    {
        return Err(PyTypeError::new_err(format!(
            "timeout must be a number or None, not {}",
            value.get_type().name()?
        )));
    }
    // `timeout != timeout or timeout <= 0`, then `timeout > MAX_TIMEOUT`, as the reference.
    if value.ne(value)? || value.le(0)? {
        return Err(PyValueError::new_err("timeout must be > 0 or None"));
    }
    if value.gt(connectivity_attr(value.py(), &MAX_TIMEOUT, "MAX_TIMEOUT")?)? {
        return Ok(None);
    }
    let seconds: f64 = value.extract()?;
    Ok(Duration::try_from_secs_f64(seconds).ok())
}

fn port_arg(value: &Bound<'_, PyAny>) -> PyResult<u16> {
    if !value.is_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "port must be an int, not {}",
            value.get_type().name()?
        )));
    }
    value
        .extract::<u16>()
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("port must be 0-65535."))
}

/// The host as `pyagent.connectivity_core._check_host` accepts and encodes it: one rule
/// (types, empty host, NUL, IDNA) for both backends.
fn host_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    connectivity_attr(value.py(), &CHECK_HOST, "_check_host")?
        .call1((value,))?
        .extract()
}

fn stream_arg(value: &Bound<'_, PyAny>) -> PyResult<u32> {
    if !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "stream_id must be an int, not {}",
            value.get_type().name()?
        )));
    }
    match value.extract::<u32>() {
        Ok(id) if id != CONTROL_STREAM => Ok(id),
        _ => Err(PyValueError::new_err(
            "stream_id must be in [0, 2**32 - 1) (2**32 - 1 is the control stream)",
        )),
    }
}

/// A default timeout as a Python float, checked like any passed value.
fn seconds(value: f64) -> Py<PyAny> {
    Python::attach(|py| PyFloat::new(py, value).into_any().unbind())
}

fn local_host() -> Py<PyAny> {
    Python::attach(|py| {
        pyo3::types::PyString::new(py, "127.0.0.1")
            .into_any()
            .unbind()
    })
}

fn any_port() -> Py<PyAny> {
    Python::attach(|py| {
        let Ok(zero) = 0u16.into_pyobject(py);
        zero.into_any().unbind()
    })
}

/// A connection multiplexing logical streams over one TCP socket.
#[pyclass(module = "rust_core", name = "Connection")]
pub struct PyConnection {
    inner: conn::Connection,
}

/// The TypeError pickling or copying a live socket object gives (as the reference's).
fn cannot_move(kind: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "cannot pickle '{kind}' object: it owns a live socket of this process; \
         open a new one in the other process"
    ))
}

#[pymethods]
impl PyConnection {
    /// Always TypeError: a live connection cannot move to another process.
    fn __reduce__(&self) -> PyResult<()> {
        Err(cannot_move("Connection"))
    }

    /// Sends `obj` (MessagePack, compressed above 1 KiB) on stream `stream_id`.
    fn send(
        &self,
        py: Python<'_>,
        stream_id: &Bound<'_, PyAny>,
        obj: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let id = stream_arg(stream_id)?;
        if self.inner.is_closed() {
            return Err(closed_error(py, "connection is closed".into()));
        }
        let frame = encode(py, obj, id, DEFAULT_COMPRESS_THRESHOLD, DEFAULT_LEVEL)?;
        let inner = &self.inner;
        // Always without the GIL: a full socket buffer must not stop a peer in this very
        // process (a Python-backend reader thread needs the GIL to drain it).
        py.detach(|| inner.send_frame(&frame))
            .map_err(|e| to_py(py, e))
    }

    /// The next message of any stream as (stream_id, obj), in arrival order.
    #[pyo3(signature = (timeout = None))]
    fn recv<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(u32, Bound<'py, PyAny>)> {
        let timeout = timeout_arg(timeout)?;
        let inner = &self.inner;
        let (id, received) = py
            .detach(|| inner.recv(timeout))
            .map_err(|e| to_py(py, e))?;
        Ok((
            id,
            unpack_payload(py, &received.payload, received.wire_len)?,
        ))
    }

    /// The next message of stream `stream_id`.
    #[pyo3(signature = (stream_id, timeout = None))]
    fn recv_stream<'py>(
        &self,
        py: Python<'py>,
        stream_id: &Bound<'py, PyAny>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = stream_arg(stream_id)?;
        let timeout = timeout_arg(timeout)?;
        let inner = &self.inner;
        let received = py
            .detach(|| inner.recv_stream(id, timeout))
            .map_err(|e| to_py(py, e))?;
        unpack_payload(py, &received.payload, received.wire_len)
    }

    /// A real round trip to the peer; the seconds it took.
    #[pyo3(signature = (timeout = seconds(5.0)))]
    #[pyo3(text_signature = "($self, timeout=5.0)")]
    fn ping(&self, py: Python<'_>, timeout: Py<PyAny>) -> PyResult<f64> {
        let timeout = timeout_arg(Some(timeout.bind(py)))?;
        let inner = &self.inner;
        py.detach(|| inner.ping(timeout))
            .map(|d| d.as_secs_f64())
            .map_err(|e| to_py(py, e))
    }

    /// Closes the connection (idempotent); pending messages are dropped.
    fn close(&self, py: Python<'_>) {
        let inner = &self.inner;
        py.detach(|| inner.close());
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }
}

/// Opens a connection to `host:port`: TCP connect and handshake within `timeout` seconds.
#[pyfunction]
#[pyo3(signature = (host, port, timeout = seconds(10.0)))]
#[pyo3(text_signature = "(host, port, timeout=10.0)")]
fn establish_native_rust(
    py: Python<'_>,
    host: &Bound<'_, PyAny>,
    port: &Bound<'_, PyAny>,
    timeout: Py<PyAny>,
) -> PyResult<PyConnection> {
    let host = host_arg(host)?;
    let port = port_arg(port)?;
    let timeout = timeout_arg(Some(timeout.bind(py)))?;
    let inner = py
        .detach(|| conn::connect(&host, port, timeout, DEFAULT_MAX_FRAME_SIZE))
        .map_err(|e| to_py(py, e))?;
    Ok(PyConnection { inner })
}

/// A listening socket; `accept` returns connections with the handshake done.
#[pyclass(module = "rust_core", name = "Listener")]
pub struct PyListener {
    inner: conn::Listener,
}

#[pymethods]
impl PyListener {
    /// Always TypeError: a listening socket cannot move to another process.
    fn __reduce__(&self) -> PyResult<()> {
        Err(cannot_move("Listener"))
    }

    #[new]
    #[pyo3(signature = (host = local_host(), port = any_port()))]
    fn new(py: Python<'_>, host: Py<PyAny>, port: Py<PyAny>) -> PyResult<Self> {
        let host = host_arg(host.bind(py))?;
        let port = port_arg(port.bind(py))?;
        let inner = py
            .detach(|| conn::Listener::bind(&host, port))
            .map_err(|e| to_py(py, e))?;
        Ok(PyListener { inner })
    }

    #[getter]
    fn port(&self) -> u16 {
        self.inner.addr().port()
    }

    #[getter]
    fn host(&self) -> String {
        self.inner.addr().ip().to_string()
    }

    /// The next connection; TimeoutError after `timeout` seconds (None: wait).
    #[pyo3(signature = (timeout = None))]
    fn accept(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<PyConnection> {
        let timeout = timeout_arg(timeout)?;
        let inner = &self.inner;
        let accepted = py
            .detach(|| inner.accept(timeout, DEFAULT_MAX_FRAME_SIZE))
            .map_err(|e| to_py(py, e))?;
        Ok(PyConnection { inner: accepted })
    }

    fn close(&self) {
        self.inner.close();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(establish_native_rust, m)?)?;
    m.add_class::<PyConnection>()?;
    m.add_class::<PyListener>()?;
    Ok(())
}
