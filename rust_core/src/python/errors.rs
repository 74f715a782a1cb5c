//! Mapping Rust errors onto the Python exceptions the pure-Python reference raises.

use std::io;
use std::path::Path;

use pyo3::exceptions::PyOSError;
use pyo3::PyErr;

use crate::storage::regular_file::{is_not_regular, NOT_REGULAR};

/// An OSError built as `OSError(errno, strerror, filename)`, which Python itself turns into
/// the errno's subclass (FileNotFoundError, PermissionError, IsADirectoryError, ...), with
/// `errno` and `filename` set as they are when `os.open` or `os.replace` fails.
///
/// A refused FIFO, socket or device ([`crate::storage::regular_file`]) is `OSError(EINVAL, "not a
/// regular file", filename)`, as `pyagent/_files.py` raises it.
pub fn os_error(err: io::Error, filename: Option<&Path>) -> PyErr {
    if is_not_regular(&err) {
        let name = filename.map(|path| path.to_string_lossy().into_owned());
        return PyOSError::new_err((libc::EINVAL, NOT_REGULAR, name));
    }
    match err.raw_os_error() {
        Some(code) => {
            let text = io::Error::from_raw_os_error(code).to_string();
            // io::Error's Display appends " (os error N)"; strerror is the part before it.
            let strerror = text
                .rsplit_once(" (os error")
                .map_or(text.as_str(), |(head, _)| head)
                .to_owned();
            match filename {
                Some(path) => {
                    PyOSError::new_err((code, strerror, path.to_string_lossy().into_owned()))
                }
                None => PyOSError::new_err((code, strerror)),
            }
        }
        None => PyOSError::new_err(err.to_string()),
    }
}
