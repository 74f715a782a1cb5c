//! Common/Template hot path: finding `{{ name }}` and `[name]` placeholders.
//!
//! The grammar is the one `pyagent.template_core.PLACEHOLDER` writes as a regex:
//! `\{\{[ \t\n\r\f\v]*(NAME)[ \t\n\r\f\v]*\}\}|\[(NAME)\]` with `NAME` an ASCII identifier.
//! Placeholders are matched leftmost first and never overlap, as `re.finditer` does. The
//! two alternatives start with different characters and no part of either can extend into
//! the next, so a direct scanner gives the same matches as a backtracking regex; a regex
//! engine would add a dependency and compile time for nothing.
//!
//! The scanner works on `char`s and reports `char` offsets, because the binding slices the
//! original Python string by code point (a template may even hold lone surrogates).
//!
//! Rendering many prompts: the binding writes each result straight into a new Python str,
//! whose storage is one of CPython's three fixed widths (PEP 393: 1, 2 or 4 bytes per code
//! point, the narrowest that holds its largest character). [`Units`] is such a text read in
//! place, [`Writer`] joins pieces of any narrower or equal width into a result of one
//! width (widening as it copies), and [`decimal`] formats an integer value without a Python
//! call. All three are safe, bounds-checked code: a length that does not add up is reported,
//! never a panic or an out-of-bounds write.

/// One placeholder: `text[start..end]` as written, `text[name_start..name_end]` its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder {
    pub start: usize,
    pub end: usize,
    pub name_start: usize,
    pub name_end: usize,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{0c}' | '\u{0b}')
}

/// End of the ASCII identifier starting at `at`, or None if none starts there.
fn name_end(text: &[char], at: usize) -> Option<usize> {
    match text.get(at) {
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {}
        _ => return None,
    }
    let tail = text[at + 1..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
        .count();
    Some(at + 1 + tail)
}

fn skip_space(text: &[char], mut at: usize) -> usize {
    while text.get(at).is_some_and(|&c| is_space(c)) {
        at += 1;
    }
    at
}

/// The placeholder starting exactly at `start`, if one does.
fn placeholder_at(text: &[char], start: usize) -> Option<Placeholder> {
    match text.get(start) {
        Some('{') if text.get(start + 1) == Some(&'{') => {
            let name_start = skip_space(text, start + 2);
            let name_end = name_end(text, name_start)?;
            let close = skip_space(text, name_end);
            (text.get(close) == Some(&'}') && text.get(close + 1) == Some(&'}')).then_some(
                Placeholder {
                    start,
                    end: close + 2,
                    name_start,
                    name_end,
                },
            )
        }
        Some('[') => {
            let name_end = name_end(text, start + 1)?;
            (text.get(name_end) == Some(&']')).then_some(Placeholder {
                start,
                end: name_end + 1,
                name_start: start + 1,
                name_end,
            })
        }
        _ => None,
    }
}

/// Every placeholder of `text`, left to right, non-overlapping.
pub fn placeholders(text: &[char]) -> Vec<Placeholder> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        match placeholder_at(text, at) {
            Some(placeholder) => {
                at = placeholder.end;
                found.push(placeholder);
            }
            None => at += 1,
        }
    }
    found
}

/// Renders `text` with `lookup(name)` for each placeholder; `None` leaves it as written.
/// The pure-Rust form of the substitution, for tests and Rust callers.
pub fn render<'a>(text: &str, mut lookup: impl FnMut(&str) -> Option<&'a str>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut end = 0;
    for p in placeholders(&chars) {
        out.extend(&chars[end..p.start]);
        let name: String = chars[p.name_start..p.name_end].iter().collect();
        match lookup(&name) {
            Some(value) => out.push_str(value),
            None => out.extend(&chars[p.start..p.end]),
        }
        end = p.end;
    }
    out.extend(&chars[end..]);
    out
}

/// A text's code units at one of CPython's storage widths (PEP 393), read in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units<'a> {
    /// Latin-1 (ASCII included): one byte per code point.
    U8(&'a [u8]),
    /// UCS-2: the BMP, lone surrogates included.
    U16(&'a [u16]),
    /// UCS-4: any code point.
    U32(&'a [u32]),
}

impl Units<'_> {
    /// Number of code points.
    pub fn len(&self) -> usize {
        match self {
            Units::U8(units) => units.len(),
            Units::U16(units) => units.len(),
            Units::U32(units) => units.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A result being written: code units at one width, to be filled exactly.
#[derive(Debug)]
pub enum UnitsMut<'a> {
    U8(&'a mut [u8]),
    U16(&'a mut [u16]),
    U32(&'a mut [u32]),
}

/// Copies `src` into `out` at `at`, widening each unit; the end offset, or None if it does
/// not fit.
fn put<S: Copy, D: Copy + From<S>>(out: &mut [D], at: usize, src: &[S]) -> Option<usize> {
    let end = at.checked_add(src.len())?;
    let dst = out.get_mut(at..end)?;
    for (d, s) in dst.iter_mut().zip(src) {
        *d = D::from(*s);
    }
    Some(end)
}

/// Same width: a plain memcpy.
fn put_same<T: Copy>(out: &mut [T], at: usize, src: &[T]) -> Option<usize> {
    let end = at.checked_add(src.len())?;
    out.get_mut(at..end)?.copy_from_slice(src);
    Some(end)
}

impl UnitsMut<'_> {
    /// Number of code points.
    pub fn len(&self) -> usize {
        match self {
            UnitsMut::U8(units) => units.len(),
            UnitsMut::U16(units) => units.len(),
            UnitsMut::U32(units) => units.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes texts one after another into a result of one width, widening narrower ones.
#[derive(Debug)]
pub struct Writer<'a> {
    out: UnitsMut<'a>,
    at: usize,
    ok: bool,
}

impl<'a> Writer<'a> {
    pub fn new(out: UnitsMut<'a>) -> Self {
        Writer {
            out,
            at: 0,
            ok: true,
        }
    }

    /// Appends `src`. A piece that does not fit, or is wider than the result (it could not
    /// be narrowed without loss), is not written and fails the writer.
    #[inline]
    pub fn push(&mut self, src: Units<'_>) {
        let at = self.at;
        let next = match (&mut self.out, src) {
            (UnitsMut::U8(out), Units::U8(src)) => put_same(out, at, src),
            (UnitsMut::U16(out), Units::U8(src)) => put(out, at, src),
            (UnitsMut::U16(out), Units::U16(src)) => put_same(out, at, src),
            (UnitsMut::U32(out), Units::U8(src)) => put(out, at, src),
            (UnitsMut::U32(out), Units::U16(src)) => put(out, at, src),
            (UnitsMut::U32(out), Units::U32(src)) => put_same(out, at, src),
            _ => None,
        };
        match next {
            Some(end) => self.at = end,
            None => self.ok = false,
        }
    }

    /// True when every piece was written and they fill the result exactly.
    pub fn finish(self) -> bool {
        self.ok && self.at == self.out.len()
    }
}

/// Writes `pieces` one after another into `out` (see [`Writer`]); true when they fill it
/// exactly, false (with `out` partly written) otherwise.
pub fn concat_into<'a>(out: UnitsMut<'_>, pieces: impl IntoIterator<Item = Units<'a>>) -> bool {
    let mut writer = Writer::new(out);
    for piece in pieces {
        writer.push(piece);
    }
    writer.finish()
}

/// Room for any i64 in decimal: 19 digits and a sign.
pub const DECIMAL_MAX: usize = 20;

/// `n` in decimal, as Python's `str(int)` writes it (`-` for negatives, no padding), in
/// the tail of `buf`.
pub fn decimal(n: i64, buf: &mut [u8; DECIMAL_MAX]) -> &[u8] {
    let mut rest = n.unsigned_abs();
    let mut start = DECIMAL_MAX;
    loop {
        start -= 1;
        buf[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    &buf[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        placeholders(&chars)
            .iter()
            .map(|p| chars[p.start..p.end].iter().collect())
            .collect()
    }

    fn vars(name: &str) -> Option<&'static str> {
        match name {
            "a" => Some("1"),
            "who" => Some("{{ a }} [a]"),
            _ => None,
        }
    }

    #[test]
    fn both_forms_with_optional_space_in_braces() {
        assert_eq!(
            names("{{a}} {{ a }} {{\t_b9 \n}} [c] [ c] {{ a b }} {{1}} [é]"),
            vec!["{{a}}", "{{ a }}", "{{\t_b9 \n}}", "[c]"]
        );
    }

    #[test]
    fn leftmost_non_overlapping_like_re() {
        assert_eq!(names("{{{a}}}"), vec!["{{a}}"]);
        assert_eq!(names("[[a]]"), vec!["[a]"]);
        assert_eq!(names("{{ [a] }}"), vec!["[a]"]);
        assert_eq!(
            names("[a][b]{{c}}{{d}}"),
            vec!["[a]", "[b]", "{{c}}", "{{d}}"]
        );
        assert!(names("{{ a }").is_empty() && names("{ {a}}").is_empty() && names("").is_empty());
    }

    #[test]
    fn values_are_not_rescanned_and_missing_names_stay() {
        assert_eq!(render("x={{ a }}, [who]!", vars), "x=1, {{ a }} [a]!");
        assert_eq!(
            render("{{ gone }} [gone] ünï", vars),
            "{{ gone }} [gone] ünï"
        );
    }

    #[test]
    fn concat_widens_and_checks_lengths() {
        let wide: Vec<u16> = "é✓".encode_utf16().collect();
        let mut out = [0u16; 5];
        assert!(concat_into(
            UnitsMut::U16(&mut out),
            [Units::U8(b"ab"), Units::U16(&wide), Units::U8(b"c")]
        ));
        assert_eq!(String::from_utf16_lossy(&out), "abé✓c");
        let mut out = [0u32; 3];
        assert!(concat_into(
            UnitsMut::U32(&mut out),
            [
                Units::U8(b"a"),
                Units::U16(&[0xd800]),
                Units::U32(&[0x1f30d])
            ]
        ));
        assert_eq!(out, [0x61, 0xd800, 0x1f30d]);
        let mut out = [0u8; 3];
        assert!(concat_into(UnitsMut::U8(&mut out), [Units::U8(b"xyz")]));
        assert!(concat_into(UnitsMut::U8(&mut []), []));
        // Too short, too long, or a piece wider than the result: reported, never a panic.
        assert!(!concat_into(UnitsMut::U8(&mut out), [Units::U8(b"xy")]));
        assert!(!concat_into(UnitsMut::U8(&mut out), [Units::U8(b"wxyz")]));
        assert!(!concat_into(
            UnitsMut::U8(&mut out),
            [Units::U16(&[1, 2, 3])]
        ));
        let mut out = [0u16; 1];
        assert!(!concat_into(UnitsMut::U16(&mut out), [Units::U32(&[1])]));
        assert_eq!(Units::U32(&[1, 2]).len(), 2);
        assert!(Units::U8(b"").is_empty());
    }

    #[test]
    fn decimal_is_str_of_int() {
        let mut buf = [0; DECIMAL_MAX];
        for n in [0, 7, -7, 10, 1_000_000, -450, i64::MAX, i64::MIN] {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
