//! Reading documents from paths: only regular files, never blocking on a FIFO.
//!
//! The rule of `pyagent/_files.py`, with the same errors: the file is opened with
//! `O_NONBLOCK` (opening a FIFO does not wait for a writer; nothing changes for a regular
//! file), inspected with `fstat` on the descriptor that will be read, and refused at once
//! unless it is a regular file. A folder is `EISDIR` (Python: IsADirectoryError); a FIFO,
//! socket or device is [`NotRegularFile`] (Python: OSError, errno `EINVAL`, strerror
//! [`NOT_REGULAR`]), since reading one could block forever or never end (`/dev/zero`).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

/// The strerror of the error for a FIFO, socket or device.
pub const NOT_REGULAR: &str = "not a regular file";

/// The payload of the `io::Error` for a path that is neither a regular file nor a folder.
#[derive(Debug)]
pub struct NotRegularFile;

impl fmt::Display for NotRegularFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_REGULAR)
    }
}

impl std::error::Error for NotRegularFile {}

/// Whether `err` is the refusal of a FIFO, socket or device.
pub fn is_not_regular(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<NotRegularFile>())
}

#[cfg(unix)]
fn is_a_directory() -> io::Error {
    io::Error::from_raw_os_error(libc::EISDIR)
}

#[cfg(not(unix))]
fn is_a_directory() -> io::Error {
    io::Error::new(io::ErrorKind::IsADirectory, "Is a directory")
}

/// `Ok` for a regular file; `EISDIR` for a folder; [`NotRegularFile`] for anything else.
pub fn check_regular(kind: fs::FileType) -> io::Result<()> {
    if kind.is_file() {
        Ok(())
    } else if kind.is_dir() {
        Err(is_a_directory())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, NotRegularFile))
    }
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// The regular file at `path` (symlinks followed), open for reading; see the module docs.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = match open_nonblocking(path) {
        Ok(file) => file,
        // A socket (or a device without a driver) cannot even be opened: ENXIO. It is still
        // "not a regular file", the error every other special file gives.
        #[cfg(unix)]
        Err(err) if err.raw_os_error() == Some(libc::ENXIO) => {
            let kind = fs::metadata(path).map_err(|_| err)?.file_type();
            check_regular(kind)?;
            return Err(io::Error::from_raw_os_error(libc::ENXIO));
        }
        Err(err) => return Err(err),
    };
    check_regular(file.metadata()?.file_type())?;
    Ok(file)
}

/// The whole content of the regular file at `path`.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_regular(path)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)?;
    Ok(data)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rust_core_regular_{tag}_{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    #[test]
    fn reads_files_and_refuses_the_rest_at_once() {
        let dir = scratch("kinds");
        let file = dir.join("f");
        fs::write(&file, b"data").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_regular(&file).unwrap_or_default(), b"data");
        let folder = read_regular(&dir).map(|_| ()).unwrap_err();
        assert_eq!(folder.raw_os_error(), Some(libc::EISDIR));
        let fifo = dir.join("fifo");
        let name = std::ffi::CString::new(fifo.to_string_lossy().as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        // No writer exists: a blocking open would wait for ever.
        assert!(is_not_regular(&read_regular(&fifo).unwrap_err()));
        let socket = dir.join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket);
        assert!(is_not_regular(&read_regular(&socket).unwrap_err()));
        let link = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap_or_else(|e| panic!("{e}"));
        assert!(is_not_regular(&read_regular(&link).unwrap_err()));
        let _ = fs::remove_dir_all(&dir);
    }
}
