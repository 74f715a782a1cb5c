//! The regex dialect of JSON Schema `pattern` / `patternProperties`, the same on both backends.
//!
//! A port of `pyagent/schema_patterns.py` (see its docs for the accepted subset of ECMA 262):
//! the same scanner, the same refusals, and the same canonical output, except that characters
//! are escaped `\u{..}` here and `\x{..}` for RE2, and general categories are spelled out from
//! RE2's tables. The output uses only literals, `\u{..}` escapes, explicit classes,
//! non-capturing groups, quantifiers and `^`/`$`, which the `jsonschema` crate's own ECMA 262
//! translation leaves as they are.

/// Largest count in `{n}` / `{n,m}`.
pub const MAX_REPEAT: u64 = 1000;
/// Largest pattern size (see the Python module).
pub const MAX_PATTERN_SIZE: u64 = 10_000;
const PROPERTY_SIZE: u64 = 100;
const MAX_CHAR: u32 = 0x10FFFF;
const SURROGATES: (u32, u32) = (0xD800, 0xDFFF);

use std::collections::HashMap;

type Ranges = Vec<(u32, u32)>;

const DIGIT: &[(u32, u32)] = &[(0x30, 0x39)];
const WORD: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)];
const SPACE: &[(u32, u32)] = &[
    (0x09, 0x0D),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
];
const LINE_TERMINATORS: &[(u32, u32)] = &[(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)];
const WORD_BOUNDARY: &str = "word boundaries (\\b, \\B) are not supported: RE2's are ASCII, \
     the regex crate's (in a spelling ECMA 262 also reads) are Unicode";
const SYNTAX: &str = "^$\\.*+?()[]{}|/";
const CATEGORIES: &[(&str, &str)] = &[
    ("L", "Letter"),
    ("Lu", "Uppercase_Letter"),
    ("Ll", "Lowercase_Letter"),
    ("Lt", "Titlecase_Letter"),
    ("Lm", "Modifier_Letter"),
    ("Lo", "Other_Letter"),
    ("M", "Mark"),
    ("Mn", "Nonspacing_Mark"),
    ("Mc", "Spacing_Mark"),
    ("Me", "Enclosing_Mark"),
    ("N", "Number"),
    ("Nd", "Decimal_Number"),
    ("Nl", "Letter_Number"),
    ("No", "Other_Number"),
    ("P", "Punctuation"),
    ("Pc", "Connector_Punctuation"),
    ("Pd", "Dash_Punctuation"),
    ("Ps", "Open_Punctuation"),
    ("Pe", "Close_Punctuation"),
    ("Pi", "Initial_Punctuation"),
    ("Pf", "Final_Punctuation"),
    ("Po", "Other_Punctuation"),
    ("S", "Symbol"),
    ("Sm", "Math_Symbol"),
    ("Sc", "Currency_Symbol"),
    ("Sk", "Modifier_Symbol"),
    ("So", "Other_Symbol"),
    ("Z", "Separator"),
    ("Zs", "Space_Separator"),
    ("Zl", "Line_Separator"),
    ("Zp", "Paragraph_Separator"),
    ("Cc", "Control"),
    ("Cf", "Format"),
    ("Co", "Private_Use"),
];

/// The general categories as RE2 (the reference's engine) has them, generated from
/// google-re2 by `tests/test_schema_patterns.py`, which also checks they still agree: the
/// `regex` crate's own tables follow a newer Unicode, so `\p{..}` is spelled out from these.
const CATEGORY_TABLE: &str = include_str!("unicode_categories.json");

fn category(short: &str) -> Option<&'static [(u32, u32)]> {
    static TABLE: std::sync::OnceLock<Option<HashMap<String, Ranges>>> = std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| serde_json::from_str(CATEGORY_TABLE).ok())
        .as_ref()?
        .get(short)
        .map(Vec::as_slice)
}

/// Every Unicode scalar value not in `ranges` (sorted, disjoint), surrogates left out.
fn complement(ranges: &[(u32, u32)]) -> Ranges {
    let mut bounds: Ranges = ranges.to_vec();
    bounds.push(SURROGATES);
    bounds.push((MAX_CHAR + 1, MAX_CHAR + 1));
    bounds.sort_unstable();
    let mut out = Vec::new();
    let mut low = 0u32;
    for (start, end) in bounds {
        if start > low {
            out.push((low, start - 1));
        }
        low = low.max(end + 1);
    }
    out
}

fn class_escape(c: char) -> Option<Ranges> {
    Some(match c {
        'd' => DIGIT.to_vec(),
        'D' => complement(DIGIT),
        'w' => WORD.to_vec(),
        'W' => complement(WORD),
        's' => SPACE.to_vec(),
        'S' => complement(SPACE),
        _ => return None,
    })
}

/// `\u{..}`: the `regex` crate reads it, and so does the crate's ECMA 262 syntax check, which
/// the drafts 4 to 7 meta-schemas apply to every pattern (`format: regex`).
fn hex(code: u32) -> String {
    format!("\\u{{{code:x}}}")
}

fn char_text(code: u32) -> String {
    match char::from_u32(code) {
        Some(c) if c.is_ascii_alphanumeric() => c.to_string(),
        _ => hex(code),
    }
}

fn range_text(ranges: &[(u32, u32)]) -> String {
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                hex(a)
            } else {
                format!("{}-{}", hex(a), hex(b))
            }
        })
        .collect()
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

struct Translator<'a> {
    source: &'a str,
    p: Vec<char>,
    i: usize,
}

/// (canonical text, size, code point when it is one character).
type Piece = (String, u64, Option<u32>);

impl Translator<'_> {
    fn fail(&self, why: &str) -> String {
        format!("pattern {:?}: {why} at offset {}", self.source, self.i)
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.p.get(self.i + ahead).copied()
    }

    fn find(&self, target: char) -> Option<usize> {
        self.p[self.i..]
            .iter()
            .position(|&c| c == target)
            .map(|k| k + self.i)
    }

    fn slice(&self, start: usize, end: usize) -> String {
        self.p
            .get(start..end)
            .map_or_else(String::new, |s| s.iter().collect())
    }

    fn hex_digits(&mut self, count: usize) -> Result<u32, String> {
        let digits = self.slice(self.i, self.i + count);
        if digits.chars().count() != count || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(self.fail(&format!("expected {count} hex digits")));
        }
        self.i += count;
        u32::from_str_radix(&digits, 16).map_err(|_| self.fail("bad hex digits"))
    }

    fn scalar(&self, code: u32) -> Result<u32, String> {
        if code > MAX_CHAR || (SURROGATES.0..=SURROGATES.1).contains(&code) {
            return Err(self.fail("escapes must name a Unicode scalar value (no lone surrogates)"));
        }
        Ok(code)
    }

    /// `\p{X}` after the `p`: the category's ranges (or their complement), as RE2 has them.
    fn property_class(&mut self, negated: bool) -> Result<Ranges, String> {
        if self.peek(0) != Some('{') {
            return Err(self.fail("\\p needs a {Name}"));
        }
        let Some(end) = self.find('}') else {
            return Err(self.fail("unterminated \\p{...}"));
        };
        let mut name = self.slice(self.i + 1, end);
        if let Some((key, value)) = name.split_once('=') {
            if key == "gc" || key == "General_Category" {
                name = value.to_owned();
            }
        }
        let short = CATEGORIES
            .iter()
            .find(|(short, long)| *short == name || *long == name)
            .map(|(short, _)| *short);
        let Some(short) = short else {
            return Err(self.fail(&format!(
                "unsupported Unicode property '{name}' (general categories only, see the docs)"
            )));
        };
        self.i = end + 1;
        let ranges =
            category(short).ok_or_else(|| self.fail("Unicode category table unavailable"))?;
        Ok(if negated {
            complement(ranges)
        } else {
            ranges.to_vec()
        })
    }

    /// The code point of a character escape after its backslash (`c` consumed).
    fn character_escape(&mut self, c: char) -> Result<Option<u32>, String> {
        Ok(Some(match c {
            't' => 9,
            'n' => 10,
            'v' => 11,
            'f' => 12,
            'r' => 13,
            'c' => {
                let Some(letter) = self.peek(0).filter(char::is_ascii_alphabetic) else {
                    return Err(self.fail("\\c needs an ASCII letter"));
                };
                self.i += 1;
                u32::from(letter) % 32
            }
            '0' => {
                if self.peek(0).is_some_and(|d| d.is_ascii_digit()) {
                    return Err(self.fail("backreferences and octal escapes are not supported"));
                }
                0
            }
            'x' => self.hex_digits(2)?,
            'u' => {
                if self.peek(0) == Some('{') {
                    let end = self.find('}');
                    let digits = end.map_or_else(String::new, |end| self.slice(self.i + 1, end));
                    if digits.is_empty()
                        || digits.chars().count() > 6
                        || !digits.chars().all(|c| c.is_ascii_hexdigit())
                    {
                        return Err(self.fail("\\u{...} needs 1 to 6 hex digits"));
                    }
                    if let Some(end) = end {
                        self.i = end + 1;
                    }
                    let code = u32::from_str_radix(&digits, 16)
                        .map_err(|_| self.fail("\\u{...} needs 1 to 6 hex digits"))?;
                    self.scalar(code)?
                } else {
                    let code = self.hex_digits(4)?;
                    self.scalar(code)?
                }
            }
            c if SYNTAX.contains(c) => u32::from(c),
            _ => return Ok(None),
        }))
    }

    fn escape(&mut self, in_class: bool) -> Result<Piece, String> {
        self.i += 1;
        let Some(c) = self.peek(0) else {
            return Err(self.fail("trailing backslash"));
        };
        self.i += 1;
        if let Some(ranges) = class_escape(c) {
            let body = range_text(&ranges);
            let text = if in_class { body } else { format!("[{body}]") };
            return Ok((text, ranges.len() as u64, None));
        }
        if c == 'p' || c == 'P' {
            let body = range_text(&self.property_class(c == 'P')?);
            let text = if in_class { body } else { format!("[{body}]") };
            return Ok((text, PROPERTY_SIZE, None));
        }
        if in_class && c == 'b' {
            return Ok((hex(8), 1, Some(8)));
        }
        if in_class && c == '-' {
            return Ok((hex(0x2D), 1, Some(0x2D)));
        }
        if !in_class && (c == 'b' || c == 'B') {
            return Err(self.fail(WORD_BOUNDARY));
        }
        if (c.is_ascii_digit() || c == 'k') && c != '0' {
            return Err(self.fail("backreferences are not supported"));
        }
        let Some(code) = self.character_escape(c)? else {
            return Err(self.fail(&format!("unsupported escape \\{c}")));
        };
        let text = if in_class { hex(code) } else { char_text(code) };
        Ok((text, 1, Some(code)))
    }

    fn atom_in_class(&mut self) -> Result<Piece, String> {
        match self.peek(0) {
            Some('\\') => self.escape(true),
            Some(c) => {
                self.i += 1;
                Ok((hex(u32::from(c)), 1, Some(u32::from(c))))
            }
            None => Err(self.fail("unterminated character class")),
        }
    }

    fn char_class(&mut self) -> Result<(String, u64), String> {
        self.i += 1;
        let negated = self.peek(0) == Some('^');
        if negated {
            self.i += 1;
        }
        let mut parts = String::new();
        let mut empty = true;
        let mut size = 1u64;
        loop {
            match self.peek(0) {
                None => return Err(self.fail("unterminated character class")),
                Some(']') => {
                    self.i += 1;
                    break;
                }
                Some(_) => {}
            }
            let (mut text, weight, low) = self.atom_in_class()?;
            size += weight;
            if self.peek(0) == Some('-') && !matches!(self.peek(1), Some(']') | None) {
                self.i += 1;
                let (high_text, _, high) = self.atom_in_class()?;
                let (Some(low), Some(high)) = (low, high) else {
                    return Err(self.fail("a class escape cannot be a range end"));
                };
                if high < low {
                    return Err(self.fail("range out of order in character class"));
                }
                text = format!("{text}-{high_text}");
            }
            parts.push_str(&text);
            empty = false;
        }
        if empty {
            let everything = range_text(&[(0, MAX_CHAR)]);
            let text = if negated {
                format!("[{everything}]")
            } else {
                format!("[^{everything}]")
            };
            return Ok((text, size));
        }
        Ok((format!("[{}{parts}]", if negated { "^" } else { "" }), size))
    }

    fn quantifier(&mut self) -> Result<Option<(String, u64)>, String> {
        let (mut text, factor) = match self.peek(0) {
            Some(c @ ('*' | '+' | '?')) => {
                self.i += 1;
                (c.to_string(), if c == '?' { 1 } else { 2 })
            }
            Some('{') => {
                let bad = "'{' must start a counted repetition {n}, {n,} or {n,m}";
                let end = self.find('}');
                let body = end.map_or_else(String::new, |end| self.slice(self.i + 1, end));
                let (low, comma, high) = match body.split_once(',') {
                    Some((low, high)) => (low, true, high),
                    None => (body.as_str(), false, ""),
                };
                let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
                if !digits(low) || !(high.is_empty() || digits(high)) {
                    return Err(self.fail(bad));
                }
                let parse = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
                let n = parse(low);
                let m = (!high.is_empty()).then(|| parse(high));
                if n > MAX_REPEAT || m.is_some_and(|m| m > MAX_REPEAT) {
                    return Err(
                        self.fail(&format!("repetition counts are limited to {MAX_REPEAT}"))
                    );
                }
                if m.is_some_and(|m| m < n) {
                    return Err(self.fail("numbers out of order in {n,m}"));
                }
                if let Some(end) = end {
                    self.i = end + 1;
                }
                let factor = if comma {
                    m.unwrap_or(n + 1).max(1)
                } else {
                    n.max(1)
                };
                (format!("{{{body}}}"), factor)
            }
            _ => return Ok(None),
        };
        if self.peek(0) == Some('?') {
            self.i += 1;
            text.push('?');
        }
        Ok(Some((text, factor)))
    }

    fn disjunction(&mut self, depth: usize) -> Result<(String, u64), String> {
        let mut out = String::new();
        let mut size = 0u64;
        while let Some(c) = self.peek(0) {
            if c == ')' {
                if depth == 0 {
                    return Err(self.fail("unbalanced ')'"));
                }
                break;
            }
            if c == '|' {
                self.i += 1;
                out.push('|');
                continue;
            }
            let mut quantifiable = true;
            let (mut text, mut weight) = match c {
                '^' | '$' => {
                    self.i += 1;
                    quantifiable = false;
                    (c.to_string(), 0)
                }
                '.' => {
                    self.i += 1;
                    (format!("[^{}]", range_text(LINE_TERMINATORS)), 1)
                }
                '[' => self.char_class()?,
                '(' => self.group(depth)?,
                '\\' => {
                    let (text, weight, _) = self.escape(false)?;
                    (text, weight)
                }
                '*' | '+' | '?' | '{' => return Err(self.fail("nothing to repeat")),
                ']' | '}' => return Err(self.fail(&format!("lone '{c}' (escape it)"))),
                _ => {
                    self.i += 1;
                    (char_text(u32::from(c)), 1)
                }
            };
            if let Some((quantifier, factor)) = self.quantifier()? {
                if !quantifiable {
                    return Err(self.fail("nothing to repeat"));
                }
                if !(text.starts_with('(') || text.starts_with('[') || text.chars().count() == 1) {
                    text = format!("(?:{text})");
                }
                text.push_str(&quantifier);
                weight = weight.saturating_mul(factor);
                if matches!(self.peek(0), Some('*' | '+' | '?' | '{')) {
                    return Err(self.fail("nothing to repeat"));
                }
            }
            out.push_str(&text);
            size = size.saturating_add(weight);
            if size > MAX_PATTERN_SIZE {
                return Err(self.fail(&format!(
                    "the pattern is larger than {MAX_PATTERN_SIZE} (see the docs)"
                )));
            }
        }
        Ok((out, size))
    }

    fn group(&mut self, depth: usize) -> Result<(String, u64), String> {
        self.i += 1;
        if self.peek(0) == Some('?') {
            if self.peek(1) == Some(':') {
                self.i += 2;
            } else if self.peek(1) == Some('<') && !matches!(self.peek(2), Some('=' | '!')) {
                let end = self.find('>');
                let name = end.map_or_else(String::new, |end| self.slice(self.i + 2, end));
                if !is_identifier(&name) {
                    return Err(self.fail("invalid group name"));
                }
                if let Some(end) = end {
                    self.i = end + 1;
                }
            } else {
                return Err(self.fail(
                    "only (...), (?:...) and (?<name>...) groups are supported \
                     (no lookaround, inline flags or other extensions)",
                ));
            }
        }
        let (body, size) = self.disjunction(depth + 1)?;
        if self.peek(0) != Some(')') {
            return Err(self.fail("unbalanced '('"));
        }
        self.i += 1;
        Ok((format!("(?:{body})"), size))
    }
}

/// `pattern` in the canonical form for the `regex` crate, or why it is refused.
pub fn translate(pattern: &str) -> Result<String, String> {
    let mut translator = Translator {
        source: pattern,
        p: pattern.chars().collect(),
        i: 0,
    };
    translator.disjunction(0).map(|(text, _)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        let translated = translate(pattern).unwrap();
        regex::Regex::new(&translated).unwrap().is_match(text)
    }

    #[test]
    fn ecma_semantics() {
        assert!(matches(r"^\p{Letter}+$", "aé"));
        assert!(!matches(r"^\p{Letter}+$", "a1"));
        assert!(matches(r"^\d+$", "123"));
        assert!(!matches(r"^\d+$", "١٢"));
        assert!(matches(r"^\s$", "\u{feff}"));
        assert!(!matches(r"^.$", "\r"));
        assert!(matches(r"^[^]$", "\n"));
        assert!(!matches(r"[]", "a"));
        assert!(matches(r"^\cJ$", "\n"));
        assert!(matches(r"^\u{1F600}\x41$", "😀A"));
        assert!(matches(r"^(?<n>ab)+$", "abab"));
    }

    #[test]
    fn refusals() {
        for bad in [
            "a{1000}{1000}",
            "(a{1000}){1000}",
            "(?=a)",
            r"(a)\1",
            "(?i)a",
            r"\p{Greek}",
            r"\p{Cn}",
            "a{1001}",
            "{",
            "]",
            "*a",
            "^*",
            r"\uD800",
            r"[\d-z]",
            "[b-a]",
            "(",
            ")",
            r"\z",
            r"\ba",
        ] {
            assert!(translate(bad).is_err(), "{bad}");
        }
    }
}
