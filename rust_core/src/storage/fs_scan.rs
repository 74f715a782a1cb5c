//! FileSystemCore hot paths: a parallel directory walk with glob filters, and parallel
//! streaming file digests.
//!
//! Semantics (which entries are listed, link handling, error order, result format) are the
//! ones documented in `pyagent/file_system_core.py`; the Python reference is the oracle.
//! Parallelism is rayon: one task per folder for the walk (work stealing keeps both cores
//! busy without a level barrier and without deep recursion on any thread's stack), one task
//! per file for hashing. No third-party walker is needed: `ignore`/`jwalk` bring their own
//! filtering and ordering rules, which would all have to be switched off to match the
//! reference.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use md5::Md5;
use rayon::prelude::*;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::storage::glob::{Glob, SLASH};
use crate::storage::hashing::Algorithm;
use crate::storage::regular_file::{is_not_regular, open_regular};

/// Bytes read at a time per file: constant memory per file in flight, large enough that
/// syscalls do not dominate (the Python reference reads the same 256 KiB).
pub const CHUNK: usize = 1 << 18;

/// `os.fsdecode` as code points: UTF-8, each undecodable byte `b` as `U+DC00 + b`.
pub fn decode_name(bytes: &[u8], out: &mut Vec<u32>) {
    for chunk in bytes.utf8_chunks() {
        out.extend(chunk.valid().chars().map(u32::from));
        out.extend(chunk.invalid().iter().map(|&b| 0xDC00 + u32::from(b)));
    }
}

/// One file found: its relative path as OS bytes (`/`-separated) and as code points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub bytes: Vec<u8>,
    pub points: Vec<u32>,
}

/// A folder that could not be read, relative to the root (empty: the root itself).
#[derive(Debug)]
pub struct WalkError {
    pub rel_dir: Vec<u8>,
    pub error: io::Error,
}

struct Walk<'a> {
    root: &'a Path,
    patterns: &'a [Glob],
    ignore: &'a [Glob],
    found: Mutex<Vec<Found>>,
    errors: Mutex<Vec<(Vec<u32>, WalkError)>>,
}

#[cfg(unix)]
fn os_bytes(name: &OsStr) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes()
}

#[cfg(not(unix))]
fn os_bytes(name: &OsStr) -> &[u8] {
    name.as_encoded_bytes()
}

#[cfg(unix)]
fn from_bytes(bytes: &[u8]) -> &OsStr {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes)
}

#[cfg(not(unix))]
fn from_bytes(bytes: &[u8]) -> &OsStr {
    // SAFETY: only bytes that came from `os_bytes` (joined with ASCII '/') are passed here.
    unsafe { OsStr::from_encoded_bytes_unchecked(bytes) }
}

/// Whether a folder could not be read because it is gone: removed (Linux reports `ENOENT`
/// even mid-listing for a removed folder) or replaced by something that is not a folder.
fn vanished(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Depth-first order with names in sorted order: the path with `/` below every character.
fn preorder_key(points: &[u32]) -> Vec<u32> {
    points
        .iter()
        .map(|&c| if c == SLASH { 0 } else { c })
        .collect()
}

impl Walk<'_> {
    fn fail(&self, dir: &Found, error: io::Error) {
        let entry = (
            preorder_key(&dir.points),
            WalkError {
                rel_dir: dir.bytes.clone(),
                error,
            },
        );
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(entry);
        }
    }

    fn visit<'s>(&'s self, scope: &rayon::Scope<'s>, dir: Found) {
        let path: PathBuf = if dir.bytes.is_empty() {
            self.root.to_path_buf()
        } else {
            self.root.join(from_bytes(&dir.bytes))
        };
        // A folder below the root that vanished (or stopped being a folder) since its parent
        // was read is skipped, as the reference skips it; files listed before stay listed.
        let skip = |error: &io::Error| !dir.bytes.is_empty() && vanished(error);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(error) if skip(&error) => return,
            Err(error) => return self.fail(&dir, error),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) if skip(&error) => break,
                Err(error) => return self.fail(&dir, error),
            };
            // d_type from readdir (an lstat only on file systems without it); an entry that
            // vanished meanwhile is skipped, as the reference skips it.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let (is_dir, is_file) = (kind.is_dir(), kind.is_file());
            if !(is_dir || is_file) {
                continue;
            }
            let name = entry.file_name();
            let name = os_bytes(&name);
            let mut child = Found {
                bytes: Vec::with_capacity(dir.bytes.len() + 1 + name.len()),
                points: Vec::with_capacity(dir.points.len() + 1 + name.len()),
            };
            if !dir.bytes.is_empty() {
                child.bytes.extend_from_slice(&dir.bytes);
                child.bytes.push(b'/');
                child.points.extend_from_slice(&dir.points);
                child.points.push(SLASH);
            }
            child.bytes.extend_from_slice(name);
            decode_name(name, &mut child.points);
            let segments: Vec<&[u32]> = child.points.split(|&c| c == SLASH).collect();
            if self.ignore.iter().any(|g| g.matches(&segments, is_dir)) {
                continue;
            }
            if is_dir {
                scope.spawn(move |s| self.visit(s, child));
            } else if self.patterns.iter().any(|g| g.matches(&segments, false)) {
                files.push(child);
            }
        }
        if !files.is_empty() {
            if let Ok(mut found) = self.found.lock() {
                found.append(&mut files);
            }
        }
    }
}

/// Regular files under `root` matching one of `patterns` and none of `ignore`, sorted by
/// their relative paths as code points (Python's `str` order). Symlinks are neither
/// followed nor listed; ignored folders are not read. Errors: the unreadable folder first
/// in a sorted depth-first walk.
pub fn discover(root: &Path, patterns: &[Glob], ignore: &[Glob]) -> Result<Vec<Found>, WalkError> {
    let walk = Walk {
        root,
        patterns,
        ignore,
        found: Mutex::new(Vec::new()),
        errors: Mutex::new(Vec::new()),
    };
    let top = Found {
        bytes: Vec::new(),
        points: Vec::new(),
    };
    rayon::scope(|s| walk.visit(s, top));
    let errors = walk.errors.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some((_, first)) = errors.into_iter().min_by(|a, b| a.0.cmp(&b.0)) {
        return Err(first);
    }
    let mut found = walk.found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.par_sort_unstable_by(|a, b| a.points.cmp(&b.points));
    Ok(found)
}

/// A streaming digest of any supported algorithm.
enum Hasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(alg: Algorithm) -> Self {
        match alg {
            Algorithm::Md5 => Hasher::Md5(Md5::new()),
            Algorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(2 * bytes.len());
        for byte in bytes {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        out
    }
}

/// What hashing one path gave.
#[derive(Debug)]
pub enum HashOutcome {
    /// The lower-case hex digest of the file's bytes.
    Digest(String),
    /// Opening, inspecting or reading failed (a folder is `EISDIR`).
    Failed(io::Error),
    /// A FIFO, socket or device: never read, since that could block or never end.
    NotRegular,
}

/// Digest of the file at `path`, read in `buffer`-sized chunks.
pub fn hash_file(alg: Algorithm, path: &Path, buffer: &mut [u8]) -> HashOutcome {
    try_hash_file(alg, path, buffer).unwrap_or_else(HashOutcome::Failed)
}

fn try_hash_file(alg: Algorithm, path: &Path, buffer: &mut [u8]) -> io::Result<HashOutcome> {
    let mut file = match open_regular(path) {
        Ok(file) => file,
        Err(err) if is_not_regular(&err) => return Ok(HashOutcome::NotRegular),
        Err(err) => return Err(err),
    };
    let mut hasher = Hasher::new(alg);
    loop {
        match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(HashOutcome::Digest(hasher.hex()))
}

/// [`hash_file`] for every path, in parallel, results in input order.
pub fn hash_files(alg: Algorithm, paths: &[PathBuf]) -> Vec<HashOutcome> {
    paths
        .par_iter()
        .map_init(
            || vec![0u8; CHUNK],
            |buffer, path| hash_file(alg, path, buffer),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::hashing::hex_digest;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let path = std::env::temp_dir()
                .join(format!("rust_core_fs_scan_{tag}_{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{e}"));
            TempDir(path)
        }

        fn file(&self, rel: &str, data: &[u8]) {
            let path = self.0.join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
            }
            fs::write(path, data).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn globs(patterns: &[&str]) -> Vec<Glob> {
        patterns
            .iter()
            .map(|p| Glob::parse(p).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn names(found: &[Found]) -> Vec<String> {
        found
            .iter()
            .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
            .collect()
    }

    #[test]
    fn walk_filters_prunes_and_sorts() {
        let t = TempDir::new("walk");
        for rel in [
            "b.py",
            "a/c.py",
            "a/d.txt",
            "node_modules/x.py",
            ".hidden",
            "a-b",
        ] {
            t.file(rel, b"x");
        }
        fs::create_dir_all(t.0.join("empty")).unwrap_or_else(|e| panic!("{e}"));
        let all = discover(&t.0, &globs(&["*"]), &[]).unwrap_or_else(|e| panic!("{:?}", e));
        assert_eq!(
            names(&all),
            [
                ".hidden",
                "a-b",
                "a/c.py",
                "a/d.txt",
                "b.py",
                "node_modules/x.py"
            ]
        );
        let py = discover(&t.0, &globs(&["*.py"]), &globs(&["node_modules"]))
            .unwrap_or_else(|e| panic!("{:?}", e));
        assert_eq!(names(&py), ["a/c.py", "b.py"]);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_not_followed_or_listed() {
        let t = TempDir::new("links");
        t.file("a/f", b"x");
        std::os::unix::fs::symlink(t.0.join("a"), t.0.join("a/loop"))
            .unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(t.0.join("a/f"), t.0.join("link"))
            .unwrap_or_else(|e| panic!("{e}"));
        let all = discover(&t.0, &globs(&["*"]), &[]).unwrap_or_else(|e| panic!("{:?}", e));
        assert_eq!(names(&all), ["a/f"]);
    }

    #[test]
    fn missing_root_and_file_root_are_errors() {
        let t = TempDir::new("roots");
        t.file("f", b"");
        let missing = discover(&t.0.join("nope"), &globs(&["*"]), &[]);
        assert!(matches!(missing, Err(e) if e.error.kind() == io::ErrorKind::NotFound));
        assert!(discover(&t.0.join("f"), &globs(&["*"]), &[]).is_err());
    }

    #[test]
    fn hashes_stream_and_report_errors_in_order() {
        let t = TempDir::new("hash");
        let big: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        t.file("big", &big);
        t.file("empty", b"");
        let paths = vec![
            t.0.join("big"),
            t.0.join("missing"),
            t.0.join("empty"),
            t.0.clone(),
        ];
        let out = hash_files(Algorithm::Sha256, &paths);
        assert!(
            matches!(&out[0], HashOutcome::Digest(d) if *d == hex_digest(Algorithm::Sha256, &big))
        );
        assert!(matches!(&out[1], HashOutcome::Failed(e) if e.kind() == io::ErrorKind::NotFound));
        assert!(
            matches!(&out[2], HashOutcome::Digest(d) if *d == hex_digest(Algorithm::Sha256, b""))
        );
        assert!(matches!(&out[3], HashOutcome::Failed(_)));
    }

    #[test]
    fn decode_name_escapes_bad_bytes_like_surrogateescape() {
        let mut out = Vec::new();
        decode_name(b"a\xff\xc3\xa9", &mut out);
        assert_eq!(out, [u32::from(b'a'), 0xDCFF, 0xE9]);
    }
}
