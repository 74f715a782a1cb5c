//! Pre-tokenization: cutting a stretch of text into pieces by the split pattern.
//!
//! The three known patterns (cl100k, o200k, Llama 3; `pyagent.tokenizer_core.PATTERNS`) are
//! run by engines that give exactly the pieces fancy-regex gives (and so tiktoken), only
//! faster; any other pattern runs on fancy-regex, as tiktoken does.
//!
//! * cl100k: a hand-written scanner ([`Cl100k`]), one pass over the text with a character
//!   class table. Each branch below follows one alternative of the pattern, tried in order
//!   (leftmost-first, as the backtracking engine tries them):
//!   1. `'(?i:[sdmt]|ll|ve|re)`: an apostrophe and a contraction, case-insensitive with
//!      Unicode simple case folding (`ſ` is an `s`);
//!   2. `[^\r\n\p{L}\p{N}]?+\p{L}++`: a run of letters, or one character that is neither a
//!      letter, a digit, `\r` nor `\n` followed by a run of letters (the possessive `?+`
//!      never gives that character back, and without it no letter starts there);
//!   3. `\p{N}{1,3}+`: one to three digits;
//!   4. ` ?[^\s\p{L}\p{N}]++[\r\n]*+`: an optional space, a run of "punctuation" (neither
//!      whitespace, letter nor digit), then any `\r`/`\n` (the ` ?` is greedy, but without
//!      the space only a punctuation character can start it, which a space is not);
//!   5. `\s++$`: a whitespace run reaching the end of the text (possessive, so only the
//!      whole run is tried; `$` is the end of the text);
//!   6. `\s*[\r\n]`: within the whitespace run, up to and including its last `\r`/`\n`
//!      (greedy `\s*` backs off from the end of the run to the first place `[\r\n]` fits);
//!   7. `\s+(?!\S)`: a run of two or more whitespace characters not at the end is followed
//!      by a non-space, so the greedy `\s+` backs off one character and the lookahead then
//!      sees whitespace: the run minus its last character;
//!   8. `\s`: one whitespace character.
//!
//!   Every character starts some alternative, so the pieces tile the text.
//! * o200k and Llama 3: the `regex` crate's engine (regex-automata, linear time) on the
//!   pattern with `\s+(?!\S)|\s+` replaced by `\s+$|\s+` (the approach of GitHub's
//!   `bpe-openai`): a match of the final `\s+` is a maximal whitespace run without `\r`/`\n`
//!   (an earlier `\s*[\r\n]+` takes those) that does not reach the end (`\s+$` takes that),
//!   so it is followed by a non-space; where it has two or more characters `\s+(?!\S)` would
//!   have matched it minus its last character, which is therefore given back. Only that
//!   alternative can end a match with a whitespace character other than `\r`/`\n` before
//!   the end of the text, which is how such a match is recognised. Without lookaround and
//!   possessive quantifiers the leftmost-first semantics of the `regex` crate are those of
//!   a backtracking engine.
//!
//! The character classes (`\p{L}`, `\p{N}`, `\s`, case folding) come from `regex-syntax`,
//! the crate fancy-regex and regex compile those classes with, so all engines agree on the
//! Unicode version. `cargo test` compares every engine with fancy-regex on random text; the
//! parity property `split_matches_the_regex_module` compares them with Python's `regex`.

use fancy_regex::Regex as FancyRegex;
use regex_automata::meta::Regex as MetaRegex;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::{Class, HirKind};

/// The cl100k split pattern (tiktoken's `cl100k_base`).
pub const CL100K: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// The o200k split pattern (tiktoken's `o200k_base`).
pub const O200K: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+",
);

/// The Llama 3 split pattern.
pub const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const LOOKAHEAD_TAIL: &str = r"|\s+(?!\S)|\s+";
const REWRITTEN_TAIL: &str = r"|\s+$|\s+";

/// A set of code points: a bit mask for ASCII, sorted ranges for the rest.
#[derive(Debug, Clone)]
pub struct CharSet {
    ascii: u128,
    ranges: Vec<(u32, u32)>,
}

impl CharSet {
    /// The class a `regex-syntax` pattern such as `\p{L}` or `(?i:[s])` stands for.
    fn parse(pattern: &str) -> Option<CharSet> {
        let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
        let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
            return None;
        };
        let mut ascii = 0u128;
        let mut ranges = Vec::new();
        for range in class.ranges() {
            let (start, end) = (u32::from(range.start()), u32::from(range.end()));
            for c in start..=end.min(127) {
                ascii |= 1u128 << c;
            }
            if end >= 128 {
                ranges.push((start.max(128), end));
            }
        }
        Some(CharSet { ascii, ranges })
    }

    #[inline]
    fn contains(&self, c: u32) -> bool {
        if c < 128 {
            return self.ascii >> c & 1 == 1;
        }
        self.ranges
            .binary_search_by(|&(start, end)| {
                if end < c {
                    std::cmp::Ordering::Less
                } else if start > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }
}

const LETTER: u8 = 1;
const NUMBER: u8 = 2;
const SPACE: u8 = 4;
const NEWLINE: u8 = 8;

/// Letter / number / whitespace / `\r\n` flags of every code point: a table for ASCII,
/// and for the rest the sorted starts of the intervals on which the flags are constant.
#[derive(Debug, Clone)]
struct Classifier {
    ascii: [u8; 128],
    starts: Vec<u32>,
    flags: Vec<u8>,
}

impl Classifier {
    fn new(letter: &CharSet, number: &CharSet, space: &CharSet) -> Classifier {
        let flags_of = |c: u32| -> u8 {
            let mut f = 0;
            if letter.contains(c) {
                f |= LETTER;
            }
            if number.contains(c) {
                f |= NUMBER;
            }
            if space.contains(c) {
                f |= SPACE;
            }
            if c == u32::from(b'\r') || c == u32::from(b'\n') {
                f |= NEWLINE;
            }
            f
        };
        let mut ascii = [0u8; 128];
        for (c, slot) in (0u32..).zip(ascii.iter_mut()) {
            *slot = flags_of(c);
        }
        // Interval boundaries: wherever any set's membership may change.
        let mut bounds = vec![128u32];
        for set in [letter, number, space] {
            for &(start, end) in &set.ranges {
                bounds.push(start);
                bounds.push(end + 1);
            }
        }
        bounds.sort_unstable();
        bounds.dedup();
        let mut starts = Vec::with_capacity(bounds.len());
        let mut flags = Vec::with_capacity(bounds.len());
        for start in bounds {
            let f = flags_of(start);
            if flags.last() != Some(&f) {
                starts.push(start);
                flags.push(f);
            }
        }
        Classifier {
            ascii,
            starts,
            flags,
        }
    }

    #[inline]
    fn of(&self, c: u32) -> u8 {
        if c < 128 {
            return self.ascii[c as usize];
        }
        // The last interval starting at or before c (there is one: the first starts at 128).
        let i = self.starts.partition_point(|&s| s <= c);
        self.flags[i.saturating_sub(1)]
    }
}

/// The code point at byte `i` of valid UTF-8 and its length in bytes.
#[inline]
fn decode(s: &[u8], i: usize) -> (u32, usize) {
    let b0 = u32::from(s[i]);
    if b0 < 0x80 {
        return (b0, 1);
    }
    let cont = |k: usize| u32::from(s[i + k] & 0x3f);
    if b0 < 0xe0 {
        ((b0 & 0x1f) << 6 | cont(1), 2)
    } else if b0 < 0xf0 {
        ((b0 & 0x0f) << 12 | cont(1) << 6 | cont(2), 3)
    } else {
        (
            (b0 & 0x07) << 18 | cont(1) << 12 | cont(2) << 6 | cont(3),
            4,
        )
    }
}

/// The hand-written cl100k scanner (see the module docs for the case analysis).
#[derive(Debug, Clone)]
pub struct Cl100k {
    classes: Classifier,
    sdmt: CharSet,
    l: CharSet,
    v: CharSet,
    e: CharSet,
    r: CharSet,
}

impl Cl100k {
    fn new() -> Option<Cl100k> {
        let letter = CharSet::parse(r"\p{L}")?;
        let number = CharSet::parse(r"\p{N}")?;
        let space = CharSet::parse(r"\s")?;
        Some(Cl100k {
            classes: Classifier::new(&letter, &number, &space),
            sdmt: CharSet::parse(r"(?i:[sdmt])")?,
            l: CharSet::parse(r"(?i:[l])")?,
            v: CharSet::parse(r"(?i:[v])")?,
            e: CharSet::parse(r"(?i:[e])")?,
            r: CharSet::parse(r"(?i:[r])")?,
        })
    }

    /// The end of the run of characters from byte `i` whose flags satisfy `keep`.
    #[inline]
    fn run(&self, s: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
        while i < s.len() {
            let (c, len) = decode(s, i);
            if !keep(self.classes.of(c)) {
                break;
            }
            i += len;
        }
        i
    }

    /// The end of the piece starting at byte `i` (< `s.len()`, on a char boundary).
    #[inline]
    fn next_end(&self, s: &[u8], i: usize) -> usize {
        let n = s.len();
        let (c0, len0) = decode(s, i);
        let f0 = self.classes.of(c0);
        let i1 = i + len0;
        let next = if i1 < n { Some(decode(s, i1)) } else { None };
        // 1. '(?i:[sdmt]|ll|ve|re)
        if c0 == u32::from(b'\'') {
            if let Some((c1, len1)) = next {
                if self.sdmt.contains(c1) {
                    return i1 + len1;
                }
                let i2 = i1 + len1;
                if i2 < n {
                    let (c2, len2) = decode(s, i2);
                    if (self.l.contains(c1) && self.l.contains(c2))
                        || ((self.v.contains(c1) || self.r.contains(c1)) && self.e.contains(c2))
                    {
                        return i2 + len2;
                    }
                }
            }
        }
        let letters = |f: u8| f & LETTER != 0;
        // 2. [^\r\n\p{L}\p{N}]?+\p{L}++
        if f0 & LETTER != 0 {
            return self.run(s, i1, letters);
        }
        let f1 = next.map(|(c1, _)| self.classes.of(c1));
        if f0 & (NUMBER | NEWLINE) == 0 {
            if let (Some((_, len1)), Some(f1)) = (next, f1) {
                if f1 & LETTER != 0 {
                    return self.run(s, i1 + len1, letters);
                }
            }
        }
        // 3. \p{N}{1,3}+
        if f0 & NUMBER != 0 {
            let mut end = i1;
            for _ in 0..2 {
                if end >= n {
                    break;
                }
                let (c, len) = decode(s, end);
                if self.classes.of(c) & NUMBER == 0 {
                    break;
                }
                end += len;
            }
            return end;
        }
        // 4. ` ?[^\s\p{L}\p{N}]++[\r\n]*+`
        let punct = |f: u8| f & (LETTER | NUMBER | SPACE) == 0;
        let newline = |f: u8| f & NEWLINE != 0;
        if c0 == u32::from(b' ') {
            if let (Some((_, len1)), Some(f1)) = (next, f1) {
                if punct(f1) {
                    let end = self.run(s, i1 + len1, punct);
                    return self.run(s, end, newline);
                }
            }
        }
        if punct(f0) {
            let end = self.run(s, i1, punct);
            return self.run(s, end, newline);
        }
        // Whitespace from here on: c0 is neither letter, number nor punctuation.
        let mut end = i;
        let mut last_start = i;
        let mut after_newline = None;
        let mut chars = 0usize;
        while end < n {
            let (c, len) = decode(s, end);
            let f = self.classes.of(c);
            if f & SPACE == 0 {
                break;
            }
            if f & NEWLINE != 0 {
                after_newline = Some(end + len);
            }
            last_start = end;
            end += len;
            chars += 1;
        }
        // 5. \s++$
        if end == n {
            return n;
        }
        // 6. \s*[\r\n]
        if let Some(after) = after_newline {
            return after;
        }
        // 7. \s+(?!\S)
        if chars >= 2 {
            return last_start;
        }
        // 8. \s
        i1
    }
}

/// How a tokenizer cuts text into pieces.
#[derive(Debug)]
pub enum Splitter {
    /// The hand-written cl100k scanner.
    Cl100k(Box<Cl100k>),
    /// o200k or Llama 3: regex-automata on the rewritten pattern, giving back the last
    /// character of a whitespace run (see the module docs).
    Rewritten {
        regex: Box<MetaRegex>,
        space: Box<CharSet>,
    },
    /// Any other pattern: fancy-regex, as tiktoken.
    Fancy(Box<FancyRegex>),
}

/// An error of the pattern engine on one text (fancy-regex's backtrack limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError(pub String);

impl Splitter {
    /// The splitter of `pattern`; Err(message) for an invalid pattern.
    pub fn new(pattern: &str) -> Result<Splitter, String> {
        let fancy = || {
            FancyRegex::new(pattern)
                .map(|r| Splitter::Fancy(Box::new(r)))
                .map_err(|e| e.to_string())
        };
        if pattern == CL100K {
            return Cl100k::new().map_or_else(fancy, |s| Ok(Splitter::Cl100k(Box::new(s))));
        }
        if pattern == O200K || pattern == LLAMA3 {
            let rewritten = pattern
                .strip_suffix(LOOKAHEAD_TAIL)
                .map(|head| format!("{head}{REWRITTEN_TAIL}"));
            let built = rewritten.and_then(|p| {
                let regex = MetaRegex::new(&p).ok()?;
                let space = CharSet::parse(r"\s")?;
                Some(Splitter::Rewritten {
                    regex: Box::new(regex),
                    space: Box::new(space),
                })
            });
            if let Some(splitter) = built {
                return Ok(splitter);
            }
        }
        fancy()
    }

    /// Which engine runs the pattern ("cl100k", "regex" or "fancy-regex").
    pub fn engine(&self) -> &'static str {
        match self {
            Splitter::Cl100k(_) => "cl100k",
            Splitter::Rewritten { .. } => "regex",
            Splitter::Fancy(_) => "fancy-regex",
        }
    }

    /// Calls `piece` with every non-empty piece of `text`, in order.
    pub fn split<'t>(
        &self,
        text: &'t str,
        mut piece: impl FnMut(&'t str),
    ) -> Result<(), SplitError> {
        match self {
            Splitter::Cl100k(scanner) => {
                let bytes = text.as_bytes();
                let mut start = 0;
                while start < bytes.len() {
                    let end = scanner.next_end(bytes, start);
                    // Both ends are char boundaries: the scanner steps whole characters.
                    piece(text.get(start..end).unwrap_or_default());
                    start = end;
                }
            }
            Splitter::Rewritten { regex, space } => {
                let n = text.len();
                let mut pos = 0;
                while pos < n {
                    // Every character starts a match of the known patterns, so an anchored
                    // search finds it without a reverse scan; fall back to a search.
                    let anchored = Input::new(text).range(pos..).anchored(Anchored::Yes);
                    let found = regex
                        .find(anchored)
                        .or_else(|| regex.find(Input::new(text).range(pos..)));
                    let Some(found) = found else { break };
                    let (start, mut end) = (found.start(), found.end());
                    if end < n {
                        if let Some(last) = text[start..end].chars().next_back() {
                            let code = u32::from(last);
                            let before = end - last.len_utf8();
                            if before > start
                                && last != '\r'
                                && last != '\n'
                                && space.contains(code)
                            {
                                end = before;
                            }
                        }
                    }
                    if end > start {
                        piece(&text[start..end]);
                    }
                    pos = if end > pos { end } else { pos + 1 };
                    while pos < n && !text.is_char_boundary(pos) {
                        pos += 1;
                    }
                }
            }
            Splitter::Fancy(regex) => {
                for found in regex.find_iter(text) {
                    let found = found.map_err(|e| SplitError(e.to_string()))?;
                    if !found.as_str().is_empty() {
                        piece(found.as_str());
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters the patterns treat differently: letters of every case class, marks,
    /// digits of several scripts, every kind of whitespace, apostrophes, case-folding
    /// oddities, punctuation, emoji.
    const ALPHABET: &[char] = &[
        'a',
        'b',
        's',
        'S',
        't',
        'T',
        'l',
        'L',
        'v',
        'V',
        'e',
        'E',
        'r',
        'R',
        'd',
        'D',
        'm',
        'M',
        'x',
        'Z',
        '\'',
        '\u{17f}',
        '\u{212a}',
        '\u{2019}',
        ' ',
        ' ',
        ' ',
        '\t',
        '\n',
        '\r',
        '\u{b}',
        '\u{c}',
        '\u{85}',
        '\u{a0}',
        '\u{1680}',
        '\u{2028}',
        '\u{2029}',
        '\u{3000}',
        '\u{200b}',
        '\u{feff}',
        '\u{1c}',
        '0',
        '7',
        '\u{663}',
        '\u{2167}',
        '\u{bd}',
        '\u{ff11}',
        '.',
        ',',
        '!',
        '/',
        '(',
        '-',
        '_',
        '+',
        '#',
        '\u{e9}',
        '\u{c9}',
        '\u{1c5}',
        '\u{2b0}',
        '\u{4e2d}',
        '\u{6587}',
        '\u{301}',
        '\u{308}',
        '\u{903}',
        '\u{20dd}',
        '\u{1f389}',
        '\u{1f680}',
        '\u{130}',
        '\u{1e9e}',
        '\u{df}',
        '\u{3b1}',
        '\u{391}',
        '\u{5d0}',
        '\u{0}',
        '\u{7f}',
        '\u{e000}',
        '\u{10ffff}',
        '\u{1d400}',
        '\u{e0041}',
    ];

    fn random_text(state: &mut u64, max_len: usize) -> String {
        let mut next = || {
            // xorshift64*
            *state ^= *state >> 12;
            *state ^= *state << 25;
            *state ^= *state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let len = (next() % (max_len as u64 + 1)) as usize;
        let mut text = String::new();
        for _ in 0..len {
            let r = next();
            if r % 7 == 0 {
                // Any scalar value, to reach classes the alphabet misses.
                let c = char::from_u32((r >> 8) as u32 % 0x11_0000).unwrap_or('?');
                text.push(c);
            } else {
                text.push(ALPHABET[(r >> 8) as usize % ALPHABET.len()]);
            }
        }
        text
    }

    fn pieces(splitter: &Splitter, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        splitter
            .split(text, |p| out.push(p.to_owned()))
            .expect("no backtrack limit on these texts");
        out
    }

    #[test]
    fn fast_engines_cut_exactly_as_fancy_regex() {
        for (pattern, engine) in [(CL100K, "cl100k"), (O200K, "regex"), (LLAMA3, "regex")] {
            let fast = Splitter::new(pattern).expect("known pattern");
            assert_eq!(fast.engine(), engine);
            let slow = Splitter::Fancy(Box::new(FancyRegex::new(pattern).expect("valid")));
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            for round in 0..30_000 {
                let text = random_text(&mut state, if round % 10 == 0 { 60 } else { 12 });
                assert_eq!(
                    pieces(&fast, &text),
                    pieces(&slow, &text),
                    "{engine} on {text:?}"
                );
            }
            for text in [
                "",
                " ",
                "  ",
                "a",
                "\n",
                " \n ",
                "x  \n\n  y",
                "it's",
                "IT'S",
                "we'LL",
                "'ve",
                "'\u{17f}",
                "  x",
                "   ",
                "a   ",
                "\r\n\r\n",
                "1234567",
                " !!\n\n",
                "\u{a0}x",
            ] {
                assert_eq!(
                    pieces(&fast, text),
                    pieces(&slow, text),
                    "{engine} on {text:?}"
                );
            }
        }
    }

    #[test]
    fn other_patterns_use_fancy_regex() {
        let splitter = Splitter::new(r"\w+|\W").expect("valid");
        assert_eq!(splitter.engine(), "fancy-regex");
        assert_eq!(pieces(&splitter, "ab, c"), ["ab", ",", " ", "c"]);
        assert!(Splitter::new("(").is_err());
    }
}
