//! BaseCore.save_atomic: durable, all-or-nothing replacement of a file.
//!
//! The data goes to a fresh temporary file in the target's folder (same file system, so
//! the rename is atomic), is fsynced, renamed over the target, and the folder is fsynced
//! so the rename itself survives a power cut. Readers see the old file or the new one,
//! never a mix; on any error the temporary file is removed and the target is untouched.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn random_token() -> u64 {
    // RandomState is seeded from the OS per process; mixing in a counter and the pid keeps
    // names unique across threads and forked writers without a dependency on an RNG crate.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

fn split_target(path: &Path) -> io::Result<(PathBuf, String)> {
    let name = path
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("save_atomic needs a file path, got {}", path.display()),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((folder, name))
}

fn create_temp(folder: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    loop {
        let candidate = folder.join(format!(".{name}.{:016x}.tmp", random_token()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&candidate)
        {
            Ok(file) => return Ok((candidate, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Replaces `path` with `data` atomically and durably; see the module docs.
///
/// An existing target's permission bits are kept; a new file gets `0o666` less the umask,
/// as `open()` would give it.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let (folder, name) = split_target(path)?;
    let keep_mode = match fs::metadata(path) {
        Ok(meta) => Some(meta.permissions().mode() & 0o7777),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    let (temp_path, mut file) = create_temp(&folder, &name)?;
    let written = (|| {
        file.write_all(data)?;
        if let Some(mode) = keep_mode {
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&temp_path, path)
    })();
    if let Err(err) = written {
        // Best effort: the original error is what the caller needs to see.
        let _ = fs::remove_file(&temp_path);
        return Err(err);
    }
    File::open(&folder)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rust_core_atomic_{tag}_{:x}", random_token()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_and_replaces() {
        let dir = scratch("replace");
        let target = dir.join("state.json");
        write_atomic(&target, b"old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_leaves_target_and_no_temp() {
        let dir = scratch("fail");
        let target = dir.join("sub");
        fs::create_dir(&target).unwrap();
        let err = write_atomic(&target, b"x").unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::IsADirectory | io::ErrorKind::AlreadyExists | io::ErrorKind::Other
            ) || err.raw_os_error().is_some()
        );
        assert!(target.is_dir());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_folder_is_not_found() {
        let dir = scratch("missing");
        let err = write_atomic(&dir.join("nope/file"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        fs::remove_dir_all(&dir).unwrap();
    }
}
