//! BaseCore.save_atomic: durable, all-or-nothing replacement of a file.
//!
//! The data goes to a fresh temporary file in the target's folder (same file system, so
//! the rename is atomic), is fsynced, renamed over the target, and the folder is fsynced
//! so the rename itself survives a power cut. Readers see the old file or the new one,
//! never a mix; on any error the temporary file is removed and the target is untouched.
//!
//! The policies are those of `pyagent/base_core.py`, byte for byte, so that either backend
//! cleans up after the other:
//!
//! * Temporary names: `.<name>.<16 hex>.tmp`; a name too long for that to fit in
//!   [`NAME_MAX`] bytes gets `.<first 200 bytes>~<16 hex of its SHA-256>.<16 hex>.tmp`.
//! * The writer holds an exclusive `flock` on its temporary file from creation to the
//!   rename. Each save first removes the target's leftover temporary files (our naming,
//!   regular, same owner) whose lock it can take: those of writers that were killed.
//! * A symbolic link target is written through (up to 40 links); an existing target keeps
//!   its permission bits but setuid and setgid; a new one gets `0o666` less the umask.

use std::collections::hash_map::RandomState;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// The longest file name most file systems allow, in bytes.
pub const NAME_MAX: usize = 255;
/// Bytes of a long name kept in its temporary files' names.
const LONG_NAME_KEPT: usize = 200;
/// Symbolic links followed from the target before giving up with ELOOP (Linux's limit).
const MAX_LINKS: usize = 40;
/// Tries to create and lock a temporary file before giving up.
const ATTEMPTS: usize = 64;
const TOKEN_HEX: usize = 16;
const TEMP_END: &[u8] = b".tmp";
const SETID_BITS: u32 = 0o6000;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn random_token() -> u64 {
    // RandomState is seeded from the OS per process; mixing in a counter and the pid keeps
    // names unique across threads and forked writers without a dependency on an RNG crate.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

fn invalid_target(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("save_atomic needs a path to a file, got {}", path.display()),
    )
}

/// The folder (`.` when none is given) and the file name of `path`, as `os.path.split`.
pub fn split_target(path: &Path) -> io::Result<(PathBuf, OsString)> {
    let bytes = path.as_os_str().as_bytes();
    let (head, name) = match bytes.iter().rposition(|&b| b == b'/') {
        Some(at) => (&bytes[..=at], &bytes[at + 1..]),
        None => (&b""[..], bytes),
    };
    if matches!(name, b"" | b"." | b"..") {
        return Err(invalid_target(path));
    }
    // os.path.split drops the trailing slashes of the head unless it is all slashes.
    let trimmed = match head.iter().rposition(|&b| b != b'/') {
        Some(last) => &head[..=last],
        None => head,
    };
    let folder = if trimmed.is_empty() {
        PathBuf::from(".")
    } else {
        PathBuf::from(OsStr::from_bytes(trimmed))
    };
    Ok((folder, OsString::from_vec(name.to_vec())))
}

/// `path` with symbolic links in its last component followed: the file to replace.
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut target = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::read_link(&target) {
            Ok(link) => {
                let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
                target = parent.join(link);
            }
            // Not a link (EINVAL) or nothing there yet: this is the file to write.
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) => return Ok(target),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(target),
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// The start of every temporary file name of the target named `name`.
pub fn temp_prefix(name: &OsStr) -> Vec<u8> {
    let raw = name.as_bytes();
    let mut prefix = Vec::with_capacity(NAME_MAX);
    prefix.push(b'.');
    if raw.len() + 2 + TOKEN_HEX + TEMP_END.len() <= NAME_MAX {
        prefix.extend_from_slice(raw);
    } else {
        prefix.extend_from_slice(&raw[..LONG_NAME_KEPT]);
        prefix.push(b'~');
        let digest = Sha256::digest(raw);
        for byte in &digest[..TOKEN_HEX / 2] {
            prefix.extend_from_slice(format!("{byte:02x}").as_bytes());
        }
    }
    prefix.push(b'.');
    prefix
}

/// Whether `name` is `prefix`, 16 lower-case hex digits, `.tmp`.
fn is_temp_of(name: &[u8], prefix: &[u8]) -> bool {
    let Some(tail) = name.strip_prefix(prefix) else {
        return false;
    };
    tail.len() == TOKEN_HEX + TEMP_END.len()
        && tail.ends_with(TEMP_END)
        && tail[..TOKEN_HEX]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Removes the temporary file at `path` if it is ours and no live writer locks it.
fn remove_if_stale(path: &Path) {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    else {
        return;
    };
    let Ok(info) = file.metadata() else { return };
    // SAFETY: geteuid has no preconditions and cannot fail.
    if !info.file_type().is_file() || info.uid() != unsafe { libc::geteuid() } {
        return;
    }
    // Held: a live writer is still writing it.
    if file.try_lock().is_err() {
        return;
    }
    if matches!(fs::symlink_metadata(path), Ok(now) if same_file(&now, &info)) {
        let _ = fs::remove_file(path);
    }
}

/// Removes the temporary files of killed writers of the target with `prefix` (best effort:
/// a folder that cannot be listed or a file that cannot be removed is left as it is).
fn remove_stale_temps(folder: &Path, prefix: &[u8]) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    let names: Vec<OsString> = entries
        .filter_map(|entry| entry.ok().map(|e| e.file_name()))
        .collect();
    for name in names {
        if is_temp_of(name.as_bytes(), prefix) {
            remove_if_stale(&folder.join(name));
        }
    }
}

/// A new temporary file, created and exclusively locked.
fn create_locked_temp(folder: &Path, prefix: &[u8]) -> io::Result<(PathBuf, File)> {
    for _ in 0..ATTEMPTS {
        let mut name = prefix.to_vec();
        name.extend_from_slice(format!("{:016x}", random_token()).as_bytes());
        name.extend_from_slice(TEMP_END);
        let temp = folder.join(OsStr::from_bytes(&name));
        let file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&temp)
        {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        };
        let mine = file.metadata();
        match (file.try_lock(), mine) {
            (Ok(()), Ok(mine)) => match fs::symlink_metadata(&temp) {
                Ok(now) if same_file(&now, &mine) => return Ok((temp, file)),
                // Another save's clean-up took it in the instant before our lock.
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => {
                    let _ = fs::remove_file(&temp);
                    return Err(err);
                }
            },
            (Err(TryLockError::WouldBlock), Ok(mine)) => {
                // A clean-up holds it: remove it ourselves if it is still ours, start over.
                if matches!(fs::symlink_metadata(&temp), Ok(now) if same_file(&now, &mine)) {
                    let _ = fs::remove_file(&temp);
                }
            }
            (Err(TryLockError::Error(err)), _) | (_, Err(err)) => {
                let _ = fs::remove_file(&temp);
                return Err(err);
            }
        }
    }
    // Python: BlockingIOError, as the reference raises it.
    Err(io::Error::from_raw_os_error(libc::EAGAIN))
}

/// Replaces `path` with `data` atomically and durably; see the module docs.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    split_target(path)?;
    let target = follow_links(path)?;
    let (folder, name) = split_target(&target)?;
    let keep_mode = match fs::metadata(&target) {
        Ok(meta) => Some(meta.permissions().mode() & 0o7777 & !SETID_BITS),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    let prefix = temp_prefix(&name);
    remove_stale_temps(&folder, &prefix);
    let (temp_path, mut file) = create_locked_temp(&folder, &prefix)?;
    let written = (|| {
        file.write_all(data)?;
        if let Some(mode) = keep_mode {
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        file.sync_all()?;
        // Renamed while still locked, so no clean-up can take it first.
        fs::rename(&temp_path, &target)
    })();
    drop(file);
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

    fn names(dir: &Path) -> Vec<OsString> {
        let mut names: Vec<OsString> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
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
        assert_eq!(err.raw_os_error(), Some(libc::EISDIR));
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

    #[test]
    fn split_matches_os_path_split() {
        let split = |p: &str| {
            split_target(Path::new(p)).map(|(f, n)| (f, n.to_string_lossy().into_owned()))
        };
        assert_eq!(split("a//b").unwrap(), (PathBuf::from("a"), "b".into()));
        assert_eq!(split("/b").unwrap(), (PathBuf::from("/"), "b".into()));
        assert_eq!(split("b").unwrap(), (PathBuf::from("."), "b".into()));
        for bad in ["", "x/", ".", "a/.."] {
            assert_eq!(split(bad).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn longest_names_fit_and_stale_temps_go() {
        let dir = scratch("long");
        for len in [233, 234, 255] {
            let name = "n".repeat(len);
            let prefix = temp_prefix(OsStr::new(&name));
            assert!(prefix.len() + TOKEN_HEX + TEMP_END.len() <= NAME_MAX);
            // A killed writer's leftover: our naming, unlocked.
            let mut stale = prefix.clone();
            stale.extend_from_slice(b"0123456789abcdef.tmp");
            fs::write(dir.join(OsStr::from_bytes(&stale)), b"torn").unwrap();
            write_atomic(&dir.join(&name), b"whole").unwrap();
            assert_eq!(fs::read(dir.join(&name)).unwrap(), b"whole");
            assert_eq!(names(&dir), vec![OsString::from(&name)]);
            fs::remove_file(dir.join(&name)).unwrap();
            assert!(names(&dir).is_empty());
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_locked_temp_is_never_removed() {
        let dir = scratch("locked");
        let mut live = temp_prefix(OsStr::new("state"));
        live.extend_from_slice(b"00000000000000aa.tmp");
        let live = dir.join(OsStr::from_bytes(&live));
        let held = File::create(&live).unwrap();
        held.try_lock().unwrap();
        // Not our naming: never touched.
        fs::write(dir.join(".state.zz.tmp"), b"other").unwrap();
        write_atomic(&dir.join("state"), b"new").unwrap();
        assert!(live.exists());
        drop(held);
        write_atomic(&dir.join("state"), b"newer").unwrap();
        assert!(!live.exists());
        assert!(dir.join(".state.zz.tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_are_written_through_and_setid_bits_dropped() {
        let dir = scratch("link");
        let real = dir.join("real");
        fs::write(&real, b"old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o6750)).unwrap();
        std::os::unix::fs::symlink("real", dir.join("link")).unwrap();
        write_atomic(&dir.join("link"), b"new").unwrap();
        assert!(fs::symlink_metadata(dir.join("link"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o7777,
            0o750
        );
        std::os::unix::fs::symlink("loop", dir.join("loop")).unwrap();
        let err = write_atomic(&dir.join("loop"), b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        fs::remove_dir_all(&dir).unwrap();
    }
}
