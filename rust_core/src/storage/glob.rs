//! FileSystemCore glob patterns over relative POSIX paths.
//!
//! The syntax and its edge cases are specified in `pyagent/file_system_core.py` (the Python
//! reference translates a pattern to a regex; this module parses the same grammar into tokens
//! and matches them directly). Paths and patterns are sequences of Unicode code points held as
//! `u32`, because names that are not valid UTF-8 are compared as Python sees them after
//! `os.fsdecode`: each undecodable byte `b` is the lone surrogate `U+DC00 + b`, which no Rust
//! `char` can hold.
//!
//! `globset` was considered: it cannot turn off `{a,b}` alternation, rejects `**` inside a
//! segment and has its own rules for `[` edge cases, so its semantics could not be made to
//! equal a small documented grammar that both backends implement; this hand-written matcher
//! (linear-time wildcard matching with single-star backtracking) is shared by the tests.

use std::fmt;

/// `/` as a code point.
pub const SLASH: u32 = '/' as u32;

/// A pattern the grammar rejects (empty segment, unclosed `[`, reversed range, lone `\`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError(pub String);

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GlobError {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(u32),
    AnyOne,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(u32, u32)>,
    },
}

impl Token {
    /// True if this single-character token matches `c` (never called for `Star`).
    fn accepts(&self, c: u32) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyOne => true,
            Token::Star => false,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Element {
    /// One path segment, matched token by token.
    Segment(Vec<Token>),
    /// `**`: zero or more whole segments.
    Recursive,
}

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    elements: Vec<Element>,
    dirs_only: bool,
}

fn display(points: &[u32]) -> String {
    points
        .iter()
        .map(|&c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn class_char(seg: &[u32], j: usize) -> Result<(u32, usize), GlobError> {
    if seg[j] == u32::from(b'\\') {
        return match seg.get(j + 1) {
            Some(&c) => Ok((c, j + 2)),
            None => Err(GlobError(format!(
                "dangling '\\' in glob segment {:?}",
                display(seg)
            ))),
        };
    }
    Ok((seg[j], j + 1))
}

/// Parses the `[...]` set opening at `seg[start]`; the token and the index after it.
fn class(seg: &[u32], start: usize) -> Result<(Token, usize), GlobError> {
    let n = seg.len();
    let mut j = start + 1;
    let negated = j < n && (seg[j] == u32::from(b'!') || seg[j] == u32::from(b'^'));
    if negated {
        j += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        if j >= n {
            return Err(GlobError(format!(
                "unclosed '[' in glob segment {:?}",
                display(seg)
            )));
        }
        if seg[j] == u32::from(b']') && !first {
            j += 1;
            break;
        }
        first = false;
        let (lo, next) = class_char(seg, j)?;
        j = next;
        let hi = if j + 1 < n && seg[j] == u32::from(b'-') && seg[j + 1] != u32::from(b']') {
            let (hi, next) = class_char(seg, j + 1)?;
            j = next;
            if hi < lo {
                return Err(GlobError(format!(
                    "reversed range in glob segment {:?}",
                    display(seg)
                )));
            }
            hi
        } else {
            lo
        };
        ranges.push((lo, hi));
    }
    Ok((Token::Class { negated, ranges }, j))
}

fn segment(seg: &[u32]) -> Result<Vec<Token>, GlobError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < seg.len() {
        let c = seg[i];
        if c == u32::from(b'\\') {
            let (lit, next) = class_char(seg, i)?;
            tokens.push(Token::Literal(lit));
            i = next;
        } else if c == u32::from(b'*') {
            while i < seg.len() && seg[i] == u32::from(b'*') {
                i += 1;
            }
            tokens.push(Token::Star);
        } else if c == u32::from(b'?') {
            tokens.push(Token::AnyOne);
            i += 1;
        } else if c == u32::from(b'[') {
            let (token, next) = class(seg, i)?;
            tokens.push(token);
            i = next;
        } else {
            tokens.push(Token::Literal(c));
            i += 1;
        }
    }
    Ok(tokens)
}

/// Greedy wildcard matching with backtracking to the last star: linear in practice, and
/// exact because a star's only choice is how much it swallows. Used twice: characters of a
/// segment against tokens, and segments of a path against elements (`**` is the star).
fn wildcard<P, S>(
    pattern: &[P],
    subject: &[S],
    is_star: impl Fn(&P) -> bool,
    one: impl Fn(&P, &S) -> bool,
) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while s < subject.len() {
        if p < pattern.len() {
            if is_star(&pattern[p]) {
                backtrack = Some((p, s));
                p += 1;
                continue;
            }
            if one(&pattern[p], &subject[s]) {
                p += 1;
                s += 1;
                continue;
            }
        }
        match backtrack {
            Some((star, from)) => {
                p = star + 1;
                s = from + 1;
                backtrack = Some((star, from + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(is_star)
}

impl Glob {
    /// Compiles `pattern` (code points); see the module docs for the grammar.
    pub fn new(pattern: &[u32]) -> Result<Glob, GlobError> {
        let mut body = pattern;
        let dirs_only = body.last() == Some(&SLASH);
        if dirs_only {
            body = &body[..body.len() - 1];
        }
        let anchored = body.contains(&SLASH);
        if anchored && body.first() == Some(&SLASH) {
            body = &body[1..];
        }
        let empty = || {
            GlobError(format!(
                "empty glob pattern or path segment in {:?}",
                display(pattern)
            ))
        };
        if body.is_empty() {
            return Err(empty());
        }
        let mut elements = Vec::new();
        if !anchored {
            elements.push(Element::Recursive);
        }
        for seg in body.split(|&c| c == SLASH) {
            if seg.is_empty() {
                return Err(empty());
            }
            if seg == [u32::from(b'*'); 2] {
                elements.push(Element::Recursive);
            } else {
                elements.push(Element::Segment(segment(seg)?));
            }
        }
        Ok(Glob {
            elements,
            dirs_only,
        })
    }

    /// Compiles a pattern given as a Rust string.
    pub fn parse(pattern: &str) -> Result<Glob, GlobError> {
        let points: Vec<u32> = pattern.chars().map(u32::from).collect();
        Glob::new(&points)
    }

    /// True if the relative path split into `segments` matches (`is_dir`: it is a folder).
    pub fn matches(&self, segments: &[&[u32]], is_dir: bool) -> bool {
        if self.dirs_only && !is_dir {
            return false;
        }
        wildcard(
            &self.elements,
            segments,
            |e| matches!(e, Element::Recursive),
            |e, seg| match e {
                Element::Segment(tokens) => wildcard(
                    tokens,
                    seg,
                    |t| matches!(t, Token::Star),
                    |t, &c| t.accepts(c),
                ),
                Element::Recursive => false,
            },
        )
    }

    /// [`Glob::matches`] on a `/`-separated path.
    pub fn matches_path(&self, path: &[u32], is_dir: bool) -> bool {
        let segments: Vec<&[u32]> = path.split(|&c| c == SLASH).collect();
        self.matches(&segments, is_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        let points: Vec<u32> = path.chars().map(u32::from).collect();
        Glob::parse(pattern)
            .map(|g| g.matches_path(&points, false))
            .unwrap_or(false)
    }

    #[test]
    fn star_stays_within_a_segment() {
        assert!(m("*.py", "a.py"));
        assert!(m("*.py", "deep/down/a.py"));
        assert!(m("*", ".hidden"));
        assert!(!m("a/*.py", "a/b/c.py"));
        assert!(m("a/*.py", "a/c.py"));
        assert!(m("a**b", "axxb"));
        assert!(!m("a**b", "a/b"));
    }

    #[test]
    fn double_star_is_zero_or_more_segments() {
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(m("**/b", "b"));
        assert!(m("a/**", "a"));
        assert!(m("a/**", "a/x/y"));
        assert!(!m("a/**/b", "a/xb"));
        assert!(m("/top", "top"));
        assert!(!m("/top", "x/top"));
    }

    #[test]
    fn sets_and_escapes() {
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(m("[^a-c]x", "dx"));
        assert!(m("[]]", "]"));
        assert!(m("[!]]", "a"));
        assert!(m("[a-]", "-"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("?", "é"));
        assert!(!m("??", "é"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        for bad in ["", "/", "a//b", "[a", "[z-a]", "a\\", "[\\", "a//"] {
            assert!(Glob::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dirs_only() {
        let g = Glob::parse("build/").unwrap_or_else(|e| panic!("{e}"));
        let p: Vec<u32> = "x/build".chars().map(u32::from).collect();
        assert!(g.matches_path(&p, true));
        assert!(!g.matches_path(&p, false));
    }

    #[test]
    fn lone_surrogates_are_plain_code_points() {
        let g = Glob::new(&[u32::from(b'?'), 0xDCFF]).unwrap_or_else(|e| panic!("{e}"));
        assert!(g.matches_path(&[0xDC80, 0xDCFF], false));
        assert!(!g.matches_path(&[0xDCFF], false));
    }
}
