//! ValidationCore content rules: many regex rules over many contents, with byte spans.
//!
//! The contract is `pyagent/validation_core.py`'s `validate_content`. Patterns are limited
//! to the subset Python's `re` (bytes patterns) and the `regex` crate (`regex::bytes`, Unicode
//! off) agree on; [`check_pattern`] is the same scanner as the Python reference's, so both
//! backends accept and reject the same patterns. A `RegexSet` of all rules tells which rules
//! match a content at all; only those run their own regex for the spans. Contents are
//! scanned in parallel with rayon.

use rayon::prelude::*;
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// Largest counted repetition accepted, as in the reference.
const MAX_REPEAT: u32 = 1000;
/// Compiled-size limit per regex (and for the set): generous for secret rules, bounded.
const SIZE_LIMIT: usize = 64 << 20;

/// A rule's pattern and file glob (names and severities stay on the Python side).
pub struct RuleSpec<'a> {
    pub pattern: &'a str,
    pub glob: &'a str,
}

/// One match: the rule's position in the rule list, the content's index, the byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    pub rule: usize,
    pub index: usize,
    pub start: usize,
    pub end: usize,
}

struct Scanner<'a> {
    p: &'a [u8],
    source: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    fn fail(&self, why: &str) -> String {
        format!("pattern {:?}: {why} at offset {}", self.source, self.i)
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.p.get(self.i + ahead).copied()
    }

    /// Reads `\x`; the byte it stands for, or None for a class or assertion escape.
    fn escape(&mut self, in_class: bool) -> Result<Option<u32>, String> {
        self.i += 1;
        let Some(c) = self.peek(0) else {
            return Err(self.fail("trailing backslash"));
        };
        self.i += 1;
        match c {
            b'd' | b'D' | b'w' | b'W' | b's' | b'S' => Ok(None),
            b'b' | b'B' | b'A' if !in_class => Ok(None),
            b't' => Ok(Some(9)),
            b'n' => Ok(Some(10)),
            b'v' => Ok(Some(11)),
            b'f' => Ok(Some(12)),
            b'r' => Ok(Some(13)),
            b'x' => {
                let digits = self.p.get(self.i..self.i + 2).unwrap_or(&[]);
                if digits.len() != 2 || !digits.iter().all(u8::is_ascii_hexdigit) {
                    return Err(self.fail("\\x needs exactly two hex digits"));
                }
                let text = std::str::from_utf8(digits).unwrap_or("");
                let value = u32::from_str_radix(text, 16)
                    .map_err(|_| self.fail("\\x needs exactly two hex digits"))?;
                self.i += 2;
                Ok(Some(value))
            }
            c if c.is_ascii_punctuation() && c != b'<' && c != b'>' => Ok(Some(u32::from(c))),
            c => Err(self.fail(&format!("unsupported escape \\{}", char::from(c)))),
        }
    }

    fn literal(&mut self) -> u32 {
        let c = self.p[self.i];
        self.i += 1;
        u32::from(c)
    }

    fn class_item(&mut self) -> Result<Option<u32>, String> {
        match self.peek(0) {
            Some(b'\\') => self.escape(true),
            Some(b'[') => Err(self.fail("'[' inside a class must be escaped")),
            Some(_) => Ok(Some(self.literal())),
            None => Err(self.fail("unterminated character class")),
        }
    }

    fn char_class(&mut self) -> Result<(), String> {
        self.i += 1;
        if self.peek(0) == Some(b'^') {
            self.i += 1;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.fail("unterminated character class"));
            };
            if c == b']' && !first {
                self.i += 1;
                return Ok(());
            }
            if c == b'[' {
                return Err(self.fail("'[' inside a class must be escaped"));
            }
            if matches!(c, b'&' | b'~' | b'-') && self.peek(1) == Some(c) {
                let op = char::from(c);
                return Err(self.fail(&format!(
                    "'{op}{op}' inside a class (a set operation in Rust)"
                )));
            }
            if c == b'-' && !first && self.peek(1) != Some(b']') {
                return Err(self.fail("'-' inside a class must come first or last"));
            }
            let low = self.class_item()?;
            first = false;
            if self.peek(0) == Some(b'-') && self.peek(1) == Some(b'-') {
                // `[!--]`: RE2 reads the range `!`-`-`, the regex crate `!` minus nothing.
                return Err(self.fail("'--' inside a class (a set operation in Rust)"));
            }
            if self.peek(0) == Some(b'-') && !matches!(self.peek(1), Some(b']') | None) {
                let Some(low) = low else {
                    return Err(self.fail("a class escape cannot start a range"));
                };
                self.i += 1;
                match self.class_item()? {
                    Some(high) if high >= low => {}
                    _ => return Err(self.fail("invalid range")),
                }
                if self.peek(0) == Some(b'-') && self.peek(1) != Some(b']') {
                    return Err(self.fail("'-' inside a class must come first or last"));
                }
            }
        }
    }

    /// `{n}`, `{n,}` or `{n,m}`; the count RE2 weighs nested repetitions by (m, or n when
    /// unbounded).
    fn repeat(&mut self) -> Result<u64, String> {
        let rest = &self.source[self.i..];
        let bad = || "'{' must start a counted repetition {n}, {n,} or {n,m}";
        let Some(end) = rest.find('}') else {
            return Err(self.fail(bad()));
        };
        let body = &rest[1..end];
        let (low, high) = match body.split_once(',') {
            Some((low, high)) => (low, high),
            None => (body, ""),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(low) || !(high.is_empty() || digits(high)) {
            return Err(self.fail(bad()));
        }
        if [low, high]
            .iter()
            .any(|count| count.len() > 1 && count.starts_with('0'))
        {
            // RE2 reads `a{01}` as the literal text, the regex crate as `a{1}`.
            return Err(self.fail("repetition counts have no leading zeros"));
        }
        let parse = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
        let (lo, hi) = (parse(low), parse(high));
        if lo > u64::from(MAX_REPEAT) || (!high.is_empty() && hi > u64::from(MAX_REPEAT)) {
            return Err(self.fail(&format!("repetition counts are limited to {MAX_REPEAT}")));
        }
        if !high.is_empty() && hi < lo {
            return Err(self.fail("repetition {n,m} needs n <= m"));
        }
        self.i += end + 1;
        Ok(if high.is_empty() { lo } else { hi })
    }

    /// Reads a group opener; true if it was the global flags group `(?ims)`.
    fn group_open(&mut self, at_start: bool) -> Result<bool, String> {
        self.i += 1;
        if self.peek(0) != Some(b'?') {
            return Ok(false);
        }
        self.i += 1;
        match (self.peek(0), self.peek(1)) {
            (Some(b':'), _) => {
                self.i += 1;
                return Ok(false);
            }
            (Some(b'P'), Some(b'<')) => {
                let rest = &self.source[self.i..];
                let name = rest.find('>').map_or("", |end| &rest[2..end]);
                let mut chars = name.chars();
                let identifier = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !identifier {
                    return Err(self.fail("group names are ASCII identifiers"));
                }
                self.i += name.len() + 3;
                return Ok(false);
            }
            _ => {}
        }
        let start = self.i;
        while matches!(self.peek(0), Some(b'i' | b'm' | b's')) {
            self.i += 1;
        }
        let flags = &self.p[start..self.i];
        let distinct = flags
            .iter()
            .enumerate()
            .all(|(k, f)| !flags[..k].contains(f));
        if !flags.is_empty() && distinct {
            if self.peek(0) == Some(b')') && at_start {
                self.i += 1;
                return Ok(true);
            }
            if self.peek(0) == Some(b':') && !flags.contains(&b'm') {
                self.i += 1;
                return Ok(false);
            }
        }
        Err(self.fail(
            "only (?:...), (?P<name>...), (?is:...) and a leading (?ims) are supported \
             (no lookaround, backreferences, atomic groups, conditionals or other flags)",
        ))
    }

    fn check(&mut self) -> Result<(), String> {
        let mut multiline = false;
        let mut depth = 0usize;
        let mut quantifiable = false;
        // Largest product of nested counted repetitions per open group (RE2, the reference's
        // engine, refuses more than MAX_REPEAT, so both backends do), and that of the last atom.
        let mut products: Vec<u64> = vec![1];
        let mut last: u64 = 1;
        while let Some(c) = self.peek(0) {
            match c {
                b'\\' => {
                    let value = self.escape(false)?;
                    let class =
                        matches!(self.p[self.i - 1], b'd' | b'D' | b'w' | b'W' | b's' | b'S');
                    quantifiable = value.is_some() || class;
                    last = 1;
                }
                b'[' => {
                    self.char_class()?;
                    quantifiable = true;
                    last = 1;
                }
                b'(' => {
                    if self.group_open(self.i == 0)? {
                        multiline = self.p[..self.i].contains(&b'm');
                        quantifiable = false;
                        continue;
                    }
                    depth += 1;
                    products.push(1);
                    quantifiable = false;
                }
                b')' => {
                    if depth == 0 {
                        return Err(self.fail("unbalanced ')'"));
                    }
                    depth -= 1;
                    self.i += 1;
                    last = products.pop().unwrap_or(1);
                    if let Some(top) = products.last_mut() {
                        *top = (*top).max(last);
                    }
                    quantifiable = true;
                }
                b'*' | b'+' | b'?' | b'{' => {
                    if !quantifiable {
                        return Err(
                            self.fail("a quantifier must follow a character, class or group")
                        );
                    }
                    if c == b'{' {
                        let count = self.repeat()?;
                        last = last.saturating_mul(count.max(1));
                        if last > u64::from(MAX_REPEAT) {
                            return Err(self.fail(&format!(
                                "nested counted repetitions multiply to more than {MAX_REPEAT}"
                            )));
                        }
                        if let Some(top) = products.last_mut() {
                            *top = (*top).max(last);
                        }
                    } else {
                        self.i += 1;
                    }
                    if self.peek(0) == Some(b'?') {
                        self.i += 1;
                    }
                    quantifiable = false;
                }
                b'$' => {
                    if !multiline {
                        return Err(
                            self.fail("'$' needs a leading (?m) (its meaning differs otherwise)")
                        );
                    }
                    self.i += 1;
                    quantifiable = false;
                }
                b'^' | b'|' => {
                    self.i += 1;
                    quantifiable = false;
                }
                b']' | b'}' => {
                    return Err(self.fail(&format!("'{}' must be escaped", char::from(c))));
                }
                _ => {
                    self.i += 1;
                    quantifiable = true;
                    last = 1;
                }
            }
        }
        if depth > 0 {
            return Err(self.fail("unbalanced '('"));
        }
        Ok(())
    }
}

/// The shortest match of `hir` in bytes, or None when it can never match.
///
/// `regex_syntax`'s own `minimum_len` is None for a repetition of something that never
/// matches, even with a minimum of 0: `([^\d\D])*` matches the empty string at every
/// offset, which the contract refuses (as the reference, whose width is 0 there, does).
fn minimum_len(hir: &regex_syntax::hir::Hir) -> Option<usize> {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(0),
        HirKind::Literal(literal) => Some(literal.0.len()),
        HirKind::Class(Class::Bytes(class)) => class.ranges().first().map(|_| 1),
        HirKind::Class(Class::Unicode(class)) => class.minimum_len(),
        HirKind::Repetition(rep) if rep.min == 0 => Some(0),
        HirKind::Repetition(rep) => {
            minimum_len(&rep.sub)?.checked_mul(usize::try_from(rep.min).ok()?)
        }
        HirKind::Capture(capture) => minimum_len(&capture.sub),
        HirKind::Concat(subs) => subs
            .iter()
            .try_fold(0usize, |total, sub| total.checked_add(minimum_len(sub)?)),
        HirKind::Alternation(subs) => subs.iter().filter_map(minimum_len).min(),
    }
}

/// The pattern as the regex crate must read it to mean what RE2 reads: a class's leading
/// `]` (after an optional `^`) escaped, so `[]-a]` is the range `]`-`a` there too (the
/// crate otherwise reads a literal `]`, `-` and `a`). Only for checked patterns.
fn crate_pattern(pattern: &str) -> String {
    let p = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() + 2);
    let mut i = 0;
    let mut in_class = false;
    while i < p.len() {
        let c = p[i];
        if c == b'\\' {
            out.push_str(&pattern[i..(i + 2).min(p.len())]);
            i += 2;
            continue;
        }
        if in_class {
            in_class = c != b']';
        } else if c == b'[' {
            in_class = true;
            out.push('[');
            i += 1;
            if p.get(i) == Some(&b'^') {
                out.push('^');
                i += 1;
            }
            if p.get(i) == Some(&b']') {
                out.push_str("\\]");
                i += 1;
            }
            continue;
        }
        out.push(char::from(c));
        i += 1;
    }
    out
}

/// Ok when `pattern` is in the subset both engines agree on and cannot match empty.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("pattern must not be empty".to_owned());
    }
    if !pattern.is_ascii() {
        return Err(format!(
            "pattern {pattern:?}: patterns are ASCII (use \\xHH for bytes)"
        ));
    }
    Scanner {
        p: pattern.as_bytes(),
        source: pattern,
        i: 0,
    }
    .check()?;
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(&crate_pattern(pattern))
        .map_err(|e| format!("pattern {pattern:?}: {e}"))?;
    if minimum_len(&hir) == Some(0) {
        return Err(format!("pattern {pattern:?} can match the empty string"));
    }
    Ok(())
}

/// Ok unless the glob uses brackets (only `*` and `?` are supported).
pub fn check_glob(glob: &str) -> Result<(), String> {
    if glob.contains(['[', ']']) {
        return Err(format!(
            "glob {glob:?}: only '*' and '?' wildcards are supported"
        ));
    }
    Ok(())
}

/// fnmatch semantics for `*` (any run of characters, `/` included) and `?` (one character).
pub fn glob_matches(glob: &str, path: &str) -> bool {
    let g: Vec<char> = glob.chars().collect();
    let p: Vec<char> = path.chars().collect();
    let (mut gi, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while pi < p.len() {
        match g.get(gi) {
            Some('*') => {
                star = Some((gi, pi));
                gi += 1;
            }
            Some(&c) if c == '?' || c == p[pi] => {
                gi += 1;
                pi += 1;
            }
            _ => match star {
                Some((sg, sp)) => {
                    gi = sg + 1;
                    pi = sp + 1;
                    star = Some((sg, sp + 1));
                }
                None => return false,
            },
        }
    }
    g[gi.min(g.len())..].iter().all(|&c| c == '*')
}

fn build(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(&crate_pattern(pattern))
        .unicode(false)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| format!("pattern {pattern:?}: {e}"))
}

/// Compiled rules: the prefilter set, one regex per rule, the globs.
pub struct RuleSet {
    set: RegexSet,
    regexes: Vec<Regex>,
    globs: Vec<String>,
}

impl RuleSet {
    /// Checks and compiles the rules in order; the first bad pattern or glob is the error.
    pub fn new(rules: &[RuleSpec<'_>]) -> Result<Self, String> {
        let mut regexes = Vec::with_capacity(rules.len());
        for rule in rules {
            check_pattern(rule.pattern)?;
            check_glob(rule.glob)?;
            regexes.push(build(rule.pattern)?);
        }
        let set = RegexSetBuilder::new(rules.iter().map(|r| crate_pattern(r.pattern)))
            .unicode(false)
            .size_limit(SIZE_LIMIT.saturating_mul(4))
            .build()
            .map_err(|e| format!("rule set: {e}"))?;
        Ok(RuleSet {
            set,
            regexes,
            globs: rules.iter().map(|r| r.glob.to_owned()).collect(),
        })
    }

    fn scan_one(&self, index: usize, content: &[u8], path: Option<&str>) -> Vec<Finding> {
        let mut found = Vec::new();
        let matched = self.set.matches(content);
        for rule in matched.iter() {
            if let Some(path) = path {
                if !glob_matches(&self.globs[rule], path) {
                    continue;
                }
            }
            found.extend(self.regexes[rule].find_iter(content).map(|m| Finding {
                rule,
                index,
                start: m.start(),
                end: m.end(),
            }));
        }
        found.sort_unstable_by_key(|f| (f.start, f.rule));
        found
    }

    /// Every finding in every content, ordered by (content index, start, rule order).
    /// `paths`, when given, has one path per content (checked by the caller).
    pub fn scan(&self, contents: &[&[u8]], paths: Option<&[&str]>) -> Vec<Finding> {
        let per_content: Vec<Vec<Finding>> = contents
            .par_iter()
            .enumerate()
            .with_min_len(64)
            .map(|(index, content)| {
                self.scan_one(index, content, paths.and_then(|p| p.get(index).copied()))
            })
            .collect();
        per_content.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(pattern: &str, text: &str) -> Vec<(usize, usize)> {
        let set = RuleSet::new(&[RuleSpec { pattern, glob: "*" }]).unwrap();
        set.scan(&[text.as_bytes()], None)
            .iter()
            .map(|f| (f.start, f.end))
            .collect()
    }

    #[test]
    fn subset_is_accepted() {
        for ok in [
            r"abc",
            r"(?i)a[b-d]+\d{2,3}?",
            r"(?m)^x$",
            r"(?P<n>a|b)\.c",
            r"(?is:a.b)",
            r"[]a-]",
            r"[^\x00-\x1f]",
            r"\bAKIA[0-9A-Z]{16}\b",
            r"a\-\{\}\]",
            r"((a{10}){10}){10}",
            r"(a{1000})+",
        ] {
            assert_eq!(check_pattern(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn constructs_outside_the_subset_are_rejected() {
        for bad in [
            r"(a{1000}){2}",
            r"((a{10}){10}){11}",
            r"(?:[a-z]{100}b){11}",
            r"(a)\1",
            r"a(?=b)",
            r"a(?!b)",
            r"(?<=a)b",
            r"(?<!a)b",
            r"(?>a)",
            r"a*+",
            r"a++",
            r"(?(1)a|b)",
            r"(?P=n)",
            r"a$",
            r"a\Z",
            r"a\z",
            r"\pL",
            r"[[:alpha:]]",
            r"[a&&b]",
            r"[a--b]",
            r"a{,3}",
            r"a{",
            r"a}",
            r"a]",
            r"\<a",
            r"a(?i)b",
            r"(?x)a",
            r"(?u)a",
            r"(?<n>a)",
            r"\u0041",
            r"a*",
            r"\b",
            r"a|",
            r"a{2000}",
            r"é",
            r"",
            r"(a",
            r"a)",
            r"[z-a]",
            r"**",
            r"a{01}",
            r"a{1,02}",
            r"a{00}",
            r"[!--]",
            r"[!--a]",
            r"([^\d\D])*",
            r"[^\x00-\xff]*",
            r"(?:b|[^\d\D]*)",
        ] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn findings_are_ordered_and_non_overlapping() {
        let rules = [
            RuleSpec {
                pattern: "ab",
                glob: "*",
            },
            RuleSpec {
                pattern: "a",
                glob: "*.py",
            },
        ];
        let set = RuleSet::new(&rules).unwrap();
        let got = set.scan(&[b"xaba", b"ab"], Some(&["m.py", "m.txt"]));
        let keys: Vec<_> = got.iter().map(|f| (f.index, f.start, f.rule)).collect();
        assert_eq!(keys, vec![(0, 1, 0), (0, 1, 1), (0, 3, 1), (1, 0, 0)]);
        assert_eq!(spans("a+?", "aaa"), vec![(0, 1), (1, 2), (2, 3)]);
        assert_eq!(spans(r"(?i)k\d", "K1 k2"), vec![(0, 2), (3, 5)]);
    }

    #[test]
    fn the_reference_reading_of_classes() {
        // A leading `]` can start a range, as in RE2: `]`, `^`, `_`, `` ` ``, `a`; not `-`.
        assert_eq!(
            spans(r"[]-a]", "-]^_`ab"),
            vec![(1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
        );
        assert_eq!(spans(r"[^]-a]", "-]^_`ab"), vec![(0, 1), (6, 7)]);
        assert_eq!(spans(r"[]a]", "-]a"), vec![(1, 2), (2, 3)]);
        assert_eq!(spans(r"a{0}b{1,10}", "abb"), vec![(1, 3)]);
        assert_eq!(spans(r"a[^\d\D]*", "aa"), vec![(0, 1), (1, 2)]);
        assert_eq!(check_pattern(r"[^\d\D]"), Ok(()));
        assert_eq!(check_pattern(r"a{10}"), Ok(()));
        assert_eq!(check_pattern(r"a{0,10}b"), Ok(()));
    }

    #[test]
    fn bytes_semantics() {
        // ASCII classes, `.` is any byte but \n, spans are byte offsets.
        assert_eq!(spans(r"\w+", "é ab"), vec![(3, 5)]);
        assert_eq!(spans(r"x.y", "x\u{e9}y x\ny"), vec![]);
        assert_eq!(spans(r"x..y", "x\u{e9}y"), vec![(0, 4)]);
    }

    #[test]
    fn globs() {
        assert!(glob_matches("*", ""));
        assert!(glob_matches("*.py", "a/b.py"));
        assert!(glob_matches("src/*/x?", "src/a/b/xy"));
        assert!(!glob_matches("*.py", "a.pyc"));
        assert!(!glob_matches("?", ""));
        assert!(glob_matches("a*b*c", "aXbYbc"));
        assert!(check_glob("[ab]").is_err());
    }
}
