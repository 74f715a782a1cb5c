//! SearchCore: literal search across a tree the way ripgrep walks it (find_literal).
//!
//! The walk skips hidden entries (unless a `.gitignore` negation re-includes them), honours
//! every `.gitignore` from the root down (git's semantics, see `wildcard_regex`), never
//! follows symbolic links, skips non-regular files and files with a NUL byte in their first
//! 8 KiB. Directories are walked in parallel and files searched in parallel (rayon); a file
//! is searched with `memchr::memmem` (or `aho-corasick` with ASCII case folding), which finds
//! the first occurrence on a line and then jumps to the next line. Hits are sorted by path
//! bytes, then line. Semantics are those of `pyagent/search_core.py`, byte for byte.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use memchr::memmem;
use rayon::prelude::*;
use regex::bytes::Regex;

/// A file with a NUL byte among its first this many bytes is binary and skipped.
pub const BINARY_SNIFF_BYTES: usize = 8192;

/// One matching line: the file, 1-based line number, 1-based byte column, raw line bytes
/// (without the `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub path: OsString,
    pub line: u64,
    pub column: u64,
    pub text: Vec<u8>,
}

/// Errors the search reports before walking.
#[derive(Debug)]
pub enum SearchError {
    /// `glob` is not a valid wildcard pattern.
    InvalidGlob(String),
    /// `root` could not be inspected.
    Io(std::io::Error),
    /// `root` exists but is not a directory.
    NotADirectory,
}

/// Options of one search.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    pub glob: &'a [u8],
    pub ignore_case: bool,
    pub max_count: Option<u64>,
}

/// Escapes one byte for a `(?-u)` regex.
fn byte(out: &mut String, b: u8) {
    out.push_str(&format!("\\x{b:02x}"));
}

/// Translates the `[...]` class opening at `start`; returns the regex and the index after.
fn class_to_regex(pattern: &[u8], start: usize) -> Result<(String, usize), String> {
    let mut i = start + 1;
    let negated = i < pattern.len() && matches!(pattern[i], b'!' | b'^');
    if negated {
        i += 1;
    }
    let mut items: Vec<(u8, u8)> = Vec::new();
    let mut first = true;
    loop {
        let Some(&c0) = pattern.get(i) else {
            return Err("unclosed character class".into());
        };
        if c0 == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        let mut c = c0;
        if c == b'\\' {
            i += 1;
            c = *pattern.get(i).ok_or("dangling escape")?;
        }
        i += 1;
        if i + 1 < pattern.len() && pattern[i] == b'-' && pattern[i + 1] != b']' {
            let mut end = pattern[i + 1];
            i += 2;
            if end == b'\\' {
                end = *pattern.get(i).ok_or("dangling escape")?;
                i += 1;
            }
            items.push((c, end));
        } else {
            items.push((c, c));
        }
    }
    let mut body = String::new();
    for (lo, hi) in items {
        if lo > hi {
            continue;
        }
        // A class never matches "/" (gitignore's pathname rule): cut it out of every range.
        let mut pieces = Vec::with_capacity(2);
        if negated || hi < b'/' || lo > b'/' {
            pieces.push((lo, hi));
        } else {
            if lo <= b'.' {
                pieces.push((lo, b'.'));
            }
            if hi >= b'0' {
                pieces.push((b'0', hi));
            }
        }
        for (a, b) in pieces {
            byte(&mut body, a);
            if a != b {
                body.push('-');
                byte(&mut body, b);
            }
        }
    }
    if negated {
        return Ok((format!("[^/{body}]"), i));
    }
    if body.is_empty() {
        return Ok(("[^\\x00-\\xff]".into(), i));
    }
    Ok((format!("[{body}]"), i))
}

/// The regex (for `regex::bytes`, anchored both ends) equivalent to a gitignore wildcard.
pub fn wildcard_regex(pattern: &[u8]) -> Result<String, String> {
    let mut out = String::from("(?s-u)\\A");
    let (mut i, n) = (0, pattern.len());
    while i < n {
        match pattern[i] {
            b'*' => {
                let mut j = i;
                while j < n && pattern[j] == b'*' {
                    j += 1;
                }
                let double = j - i >= 2;
                let at_start = i == 0 || pattern[i - 1] == b'/';
                let at_end = j == n || pattern[j] == b'/';
                if double && at_start && at_end {
                    if j == n {
                        out.push_str(".*");
                    } else {
                        out.push_str("(?:.*/)?");
                        j += 1;
                    }
                } else {
                    out.push_str("[^/]*");
                }
                i = j;
            }
            b'?' => {
                out.push_str("[^/]");
                i += 1;
            }
            b'[' => {
                let (regex, next) = class_to_regex(pattern, i)?;
                out.push_str(&regex);
                i = next;
            }
            b'\\' => {
                let c = *pattern.get(i + 1).ok_or("dangling escape")?;
                byte(&mut out, c);
                i += 2;
            }
            c => {
                byte(&mut out, c);
                i += 1;
            }
        }
    }
    out.push_str("\\z");
    Ok(out)
}

/// Compiles a wildcard pattern.
pub fn compile_wildcard(pattern: &[u8]) -> Result<Regex, String> {
    let source = wildcard_regex(pattern)?;
    Regex::new(&source).map_err(|e| e.to_string())
}

/// Drops trailing spaces unless escaped with a backslash (gitignore(5)).
fn trim_trailing_spaces(line: &[u8]) -> &[u8] {
    let mut last_space = None;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'\\' => {
                if i + 1 >= line.len() {
                    return line;
                }
                i += 2;
                last_space = None;
            }
            b' ' => {
                if last_space.is_none() {
                    last_space = Some(i);
                }
                i += 1;
            }
            _ => {
                last_space = None;
                i += 1;
            }
        }
    }
    &line[..last_space.unwrap_or(line.len())]
}

/// One compiled .gitignore line.
#[derive(Debug)]
struct Rule {
    regex: Regex,
    negated: bool,
    dir_only: bool,
}

/// The rules of one .gitignore file's contents, in file order; invalid lines skipped.
fn parse_gitignore(data: &[u8]) -> Vec<Rule> {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let mut rules = Vec::new();
    for raw in data.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.starts_with(b"#") {
            continue;
        }
        let mut line = trim_trailing_spaces(line);
        if line.is_empty() {
            continue;
        }
        let (mut negated, mut anchored) = (false, false);
        if line.starts_with(b"\\!") || line.starts_with(b"\\#") {
            line = &line[1..];
        } else {
            if let Some(rest) = line.strip_prefix(b"!") {
                negated = true;
                line = rest;
            }
            if let Some(rest) = line.strip_prefix(b"/") {
                anchored = true;
                line = rest;
            }
        }
        if line.is_empty() {
            continue;
        }
        let mut dir_only = false;
        if let Some(rest) = line.strip_suffix(b"/") {
            dir_only = true;
            line = rest.strip_suffix(b"\\").unwrap_or(rest);
            if line.is_empty() {
                continue;
            }
        }
        let mut glob = Vec::with_capacity(line.len() + 3);
        if !anchored && !line.contains(&b'/') {
            glob.extend_from_slice(b"**/");
        }
        glob.extend_from_slice(line);
        if let Ok(regex) = compile_wildcard(&glob) {
            rules.push(Rule {
                regex,
                negated,
                dir_only,
            });
        }
    }
    rules
}

/// The rules of the .gitignore in the directory at `base` (relative to the root).
#[derive(Debug)]
struct IgnoreFile {
    base: Vec<u8>,
    rules: Vec<Rule>,
}

impl IgnoreFile {
    /// Some(true): ignored, Some(false): re-included, None: no rule of this file matches.
    fn decide(&self, rel: &[u8], is_dir: bool) -> Option<bool> {
        let sub = if self.base.is_empty() {
            rel
        } else {
            rel.get(self.base.len() + 1..).unwrap_or_default()
        };
        self.rules
            .iter()
            .rev()
            .filter(|rule| !rule.dir_only || is_dir)
            .find(|rule| rule.regex.is_match(sub))
            .map(|rule| !rule.negated)
    }
}

type Stack = Arc<Vec<Arc<IgnoreFile>>>;

fn skipped(stack: &Stack, rel: &[u8], name: &[u8], is_dir: bool) -> bool {
    for ignore_file in stack.iter().rev() {
        if let Some(verdict) = ignore_file.decide(rel, is_dir) {
            return verdict;
        }
    }
    name.starts_with(b".")
}

/// Collects the files to search under `dir` (in parallel over subdirectories).
fn walk(dir: &Path, rel: &[u8], stack: &Stack, name_glob: &Regex, out: &mut Vec<PathBuf>) {
    let Ok(reader) = fs::read_dir(dir) else {
        return;
    };
    let entries: Vec<fs::DirEntry> = reader.filter_map(Result::ok).collect();
    let stack = match fs::read(dir.join(".gitignore")) {
        Ok(data) => {
            let rules = parse_gitignore(&data);
            if rules.is_empty() {
                stack.clone()
            } else {
                let mut files: Vec<Arc<IgnoreFile>> = stack.iter().cloned().collect();
                files.push(Arc::new(IgnoreFile {
                    base: rel.to_vec(),
                    rules,
                }));
                Arc::new(files)
            }
        }
        Err(_) => stack.clone(),
    };
    let mut subdirs: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for entry in entries {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let (is_dir, is_file) = (kind.is_dir(), kind.is_file());
        if !(is_dir || is_file) {
            continue;
        }
        let name_os = entry.file_name();
        let name = name_os.as_bytes();
        let mut child_rel = Vec::with_capacity(rel.len() + 1 + name.len());
        if !rel.is_empty() {
            child_rel.extend_from_slice(rel);
            child_rel.push(b'/');
        }
        child_rel.extend_from_slice(name);
        if skipped(&stack, &child_rel, name, is_dir) {
            continue;
        }
        let path = dir.join(&name_os);
        if is_dir {
            subdirs.push((path, child_rel));
        } else if name_glob.is_match(name) {
            out.push(path);
        }
    }
    let nested: Vec<Vec<PathBuf>> = subdirs
        .par_iter()
        .map(|(path, child_rel)| {
            let mut found = Vec::new();
            walk(path, child_rel, &stack, name_glob, &mut found);
            found
        })
        .collect();
    out.extend(nested.into_iter().flatten());
}

/// A literal matcher: exact bytes, or ASCII case-insensitive.
enum Matcher {
    Exact(Box<memmem::Finder<'static>>),
    Folded(AhoCorasick),
}

impl Matcher {
    fn new(needle: &[u8], ignore_case: bool) -> Option<Matcher> {
        if ignore_case {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build([needle])
                .ok()
                .map(Matcher::Folded)
        } else {
            Some(Matcher::Exact(Box::new(
                memmem::Finder::new(needle).into_owned(),
            )))
        }
    }

    fn find(&self, haystack: &[u8]) -> Option<usize> {
        match self {
            Matcher::Exact(finder) => finder.find(haystack),
            Matcher::Folded(ac) => ac.find(haystack).map(|m| m.start()),
        }
    }
}

/// Every matching line of one file's contents (first occurrence per line).
pub fn search_bytes(
    data: &[u8],
    needle: &[u8],
    ignore_case: bool,
    max_count: Option<u64>,
) -> Vec<(u64, u64, Vec<u8>)> {
    match Matcher::new(needle, ignore_case) {
        Some(matcher) => search_with(data, &matcher, max_count),
        None => Vec::new(),
    }
}

fn search_with(data: &[u8], matcher: &Matcher, max_count: Option<u64>) -> Vec<(u64, u64, Vec<u8>)> {
    let mut hits = Vec::new();
    if max_count == Some(0) {
        return hits;
    }
    let (mut pos, mut line, mut counted_to) = (0usize, 1u64, 0usize);
    while pos <= data.len() {
        let Some(offset) = matcher.find(&data[pos..]) else {
            break;
        };
        let start = pos + offset;
        let line_start = memchr::memrchr(b'\n', &data[..start]).map_or(0, |i| i + 1);
        let line_end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        line += memchr::memchr_iter(b'\n', &data[counted_to..line_start]).count() as u64;
        counted_to = line_start;
        hits.push((
            line,
            (start - line_start + 1) as u64,
            data[line_start..line_end].to_vec(),
        ));
        if max_count.is_some_and(|m| hits.len() as u64 >= m) {
            break;
        }
        pos = line_end + 1;
    }
    hits
}

fn search_file(path: &Path, matcher: &Matcher, max_count: Option<u64>) -> Vec<Hit> {
    let Ok(data) = fs::read(path) else {
        return Vec::new();
    };
    let sniff = &data[..data.len().min(BINARY_SNIFF_BYTES)];
    if memchr::memchr(0, sniff).is_some() {
        return Vec::new();
    }
    search_with(&data, matcher, max_count)
        .into_iter()
        .map(|(line, column, text)| Hit {
            path: path.as_os_str().to_owned(),
            line,
            column,
            text,
        })
        .collect()
}

/// Every line under `root` containing `needle`, sorted by path bytes then line.
///
/// `needle` must be non-empty and free of `\n` (the binding checks it).
pub fn find_literal(
    needle: &[u8],
    root: &OsStr,
    options: &Options<'_>,
) -> Result<Vec<Hit>, SearchError> {
    let name_glob = compile_wildcard(options.glob).map_err(SearchError::InvalidGlob)?;
    let root = Path::new(root);
    let meta = fs::metadata(root).map_err(SearchError::Io)?;
    if !meta.is_dir() {
        return Err(SearchError::NotADirectory);
    }
    if options.max_count == Some(0) || needle.is_empty() {
        return Ok(Vec::new());
    }
    let Some(matcher) = Matcher::new(needle, options.ignore_case) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    walk(root, b"", &Arc::new(Vec::new()), &name_glob, &mut files);
    files.par_sort_unstable_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    let hits: Vec<Vec<Hit>> = files
        .par_iter()
        .map(|path| search_file(path, &matcher, options.max_count))
        .collect();
    Ok(hits.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        compile_wildcard(pattern.as_bytes())
            .map(|re| re.is_match(path.as_bytes()))
            .unwrap_or(false)
    }

    #[test]
    fn wildcards_follow_gitignore_rules() {
        assert!(matches("**/foo", "foo"));
        assert!(matches("**/foo", "a/b/foo"));
        assert!(!matches("**/foo", "a/foox"));
        assert!(matches("a/**/b", "a/b"));
        assert!(matches("a/**/b", "a/x/y/b"));
        assert!(matches("a/**", "a/x/y"));
        assert!(!matches("a/**", "a"));
        assert!(matches("*.rs", "x.rs"));
        assert!(!matches("*.rs", "d/x.rs"));
        assert!(matches("a**b", "axxb"));
        assert!(!matches("a**b", "a/b"));
        assert!(matches("[a-c]?", "bz"));
        assert!(!matches("a[/]b", "a/b"));
        assert!(!matches("a[!x]b", "a/b"));
        assert!(matches("a[!x]b", "ayb"));
        assert!(matches("[]]", "]"));
        assert!(matches("\\*", "*"));
        assert!(!matches("\\*", "x"));
        assert!(matches("[.-0]", "."));
        assert!(matches("[.-0]", "0"));
        assert!(!matches("[.-0]", "/"));
        assert!(!matches("[/]", "/"));
        assert!(compile_wildcard(b"[ab").is_err());
        assert!(compile_wildcard(b"ab\\").is_err());
        assert!(!matches("?", "\u{e9}"));
        assert!(matches("??", "\u{e9}"));
    }

    #[test]
    fn gitignore_lines() {
        let rules = parse_gitignore(b"# c\n\n*.log  \n!keep.log\n/build/\n\\#x\n\\!y\n[bad\n");
        assert_eq!(rules.len(), 5);
        let file = IgnoreFile {
            base: Vec::new(),
            rules,
        };
        assert_eq!(file.decide(b"a/x.log", false), Some(true));
        assert_eq!(file.decide(b"a/keep.log", false), Some(false));
        assert_eq!(file.decide(b"build", true), Some(true));
        assert_eq!(file.decide(b"build", false), None);
        assert_eq!(file.decide(b"a/build", true), None);
        assert_eq!(file.decide(b"#x", false), Some(true));
        assert_eq!(file.decide(b"!y", false), Some(true));
    }

    #[test]
    fn lines_columns_and_limits() {
        let data = b"foo bar\nxx foo foo\n\nFOO\nlast foo";
        let hits = search_bytes(data, b"foo", false, None);
        let got: Vec<(u64, u64)> = hits.iter().map(|h| (h.0, h.1)).collect();
        assert_eq!(got, vec![(1, 1), (2, 4), (5, 6)]);
        assert_eq!(hits[1].2, b"xx foo foo".to_vec());
        let folded = search_bytes(data, b"foo", true, Some(3));
        let got: Vec<(u64, u64)> = folded.iter().map(|h| (h.0, h.1)).collect();
        assert_eq!(got, vec![(1, 1), (2, 4), (4, 1)]);
        assert!(search_bytes(data, b"foo", false, Some(0)).is_empty());
    }
}
