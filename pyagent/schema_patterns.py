r"""The regex dialect of JSON Schema ``pattern`` / ``patternProperties``, the same on both backends.

JSON Schema asks for ECMA 262 regular expressions. Both backends run them on linear-time
engines (RE2 through ``google-re2`` here, the ``regex`` crate in ``rust_core``), which have no
backtracking features, so the accepted dialect is the part of ECMA 262 (with the ``u`` flag)
that a linear engine can run. :func:`translate` checks a pattern against that subset and writes
it in a canonical form (only literals, ``\x{..}`` escapes, explicit classes, general
categories, non-capturing groups, quantifiers, ``^`` and ``$``) that the engine reads exactly
as ECMA 262 means it; ``rust_core`` has the same scanner (``text/schema_pattern.rs``, writing
``\u{..}`` escapes), so a pattern is accepted or refused alike, with the same message.

Accepted, with ECMA 262 meaning:

* literals (any character), ``.`` (any character but ``\n \r \u2028 \u2029``), ``^`` and ``$``
  (start and end of the string: patterns have no flags), ``|``, groups ``(...)``,
  ``(?:...)`` and ``(?<name>...)``;
* quantifiers ``* + ? {n} {n,} {n,m}`` and their lazy forms, counts up to 1000;
* classes ``[...]`` / ``[^...]`` with ranges, ``[]`` (nothing) and ``[^]`` (any character);
* escapes ``\d \D \w \W`` (ASCII, as ECMA), ``\s \S`` (ECMA's white space and line
  terminators), ``\t \n \v \f \r \0 \cX \xHH \uHHHH \u{H...}``, ``\/`` and escaped
  syntax characters, ``\-`` inside a class, ``\b`` (backspace) inside a class;
* ``\p{X}`` / ``\P{X}`` for the Unicode general categories both engines know: ``L Lu Ll Lt
  Lm Lo M Mn Mc Me N Nd Nl No P Pc Pd Ps Pe Pi Pf Po S Sm Sc Sk So Z Zs Zl Zp Cc Cf Co``, by
  short or long name (``Letter``), optionally as ``gc=X`` / ``General_Category=X``.

Refused (a :class:`ValueError` here, a ``SchemaError`` for schemas): word boundaries
``\b \B`` (RE2's are ASCII, and the ``regex`` crate's, in a spelling the drafts 4 to 7
meta-schemas' ECMA 262 ``format: regex`` check accepts, are Unicode), lookaround,
backreferences (``\1``, ``\k<name>``), inline flags, ``\p`` for scripts, binary properties and
the categories the engines disagree on (``C``, ``Cn``, ``LC``), lone surrogates, a quantifier
with nothing to repeat (``a{2}{3}``, ``^*``), a ``{``, ``}`` or ``]`` that is not syntax, a
class escape in a range, and any pattern whose size (characters and class ranges, multiplied
through nested counted repetitions) exceeds :data:`MAX_PATTERN_SIZE`, so no pattern can ask
either engine for an unbounded program.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Largest count in ``{n}`` / ``{n,m}``.
MAX_REPEAT = 1000
#: Largest pattern size: each literal or ``.`` counts 1, a class 1 per range (a ``\p`` class
#: 100), a group the sum of its parts; a repetition multiplies by its largest count.
MAX_PATTERN_SIZE = 10_000
PROPERTY_SIZE = 100

_MAX_CHAR = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)
Ranges = list[tuple[int, int]]
_DIGIT: Ranges = [(0x30, 0x39)]
_WORD: Ranges = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
#: ECMA 262 ``\s``: WhiteSpace (TAB, VT, FF, SP, NBSP, ZWNBSP, every Zs) and LineTerminator.
_SPACE: Ranges = [
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
]
_LINE_TERMINATORS: Ranges = [(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)]
_WORD_BOUNDARY = (
    "word boundaries (\\b, \\B) are not supported: RE2's are ASCII, "
    "the regex crate's (in a spelling ECMA 262 also reads) are Unicode"
)
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
_CONTROL_ESCAPES = {"t": 9, "n": 10, "v": 11, "f": 12, "r": 13}
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_GROUP_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
#: The general categories of the dialect: short name -> long name.
CATEGORIES = {
    "L": "Letter",
    "Lu": "Uppercase_Letter",
    "Ll": "Lowercase_Letter",
    "Lt": "Titlecase_Letter",
    "Lm": "Modifier_Letter",
    "Lo": "Other_Letter",
    "M": "Mark",
    "Mn": "Nonspacing_Mark",
    "Mc": "Spacing_Mark",
    "Me": "Enclosing_Mark",
    "N": "Number",
    "Nd": "Decimal_Number",
    "Nl": "Letter_Number",
    "No": "Other_Number",
    "P": "Punctuation",
    "Pc": "Connector_Punctuation",
    "Pd": "Dash_Punctuation",
    "Ps": "Open_Punctuation",
    "Pe": "Close_Punctuation",
    "Pi": "Initial_Punctuation",
    "Pf": "Final_Punctuation",
    "Po": "Other_Punctuation",
    "S": "Symbol",
    "Sm": "Math_Symbol",
    "Sc": "Currency_Symbol",
    "Sk": "Modifier_Symbol",
    "So": "Other_Symbol",
    "Z": "Separator",
    "Zs": "Space_Separator",
    "Zl": "Line_Separator",
    "Zp": "Paragraph_Separator",
    "Cc": "Control",
    "Cf": "Format",
    "Co": "Private_Use",
}
_CATEGORY_BY_NAME = {**{k: k for k in CATEGORIES}, **{v: k for k, v in CATEGORIES.items()}}


def _complement(ranges: Ranges) -> Ranges:
    """Every Unicode scalar value not in ``ranges`` (sorted, disjoint), surrogates left out."""
    out: Ranges = []
    low = 0
    for start, end in [*ranges, (_SURROGATES[0], _SURROGATES[1]), (_MAX_CHAR + 1, _MAX_CHAR + 1)]:
        if start > low:
            out.append((low, start - 1))
        low = max(low, end + 1)
    return sorted(out)


_CLASS_ESCAPES = {
    "d": _DIGIT,
    "D": _complement(_DIGIT),
    "w": _WORD,
    "W": _complement(_WORD),
    "s": _SPACE,
    "S": _complement(_SPACE),
}


def _hex(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _char(code: int) -> str:
    """One character in the canonical form: ASCII letters and digits as they are."""
    c = chr(code)
    return c if c.isascii() and c.isalnum() else _hex(code)


def _range_text(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(_hex(a) if a == b else f"{_hex(a)}-{_hex(b)}" for a, b in ranges)


class PatternCursor:
    """A position in a pattern being scanned, and the error for what is found there.

    Shared by this module's translator and validation_core's content-rule scanner, which
    both read a pattern in one pass and refuse at the first construct outside their subset.
    """

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def fail(self, why: str) -> ValueError:
        """The ValueError for ``why`` at the current offset."""
        return ValueError(f"pattern {self.p!r}: {why} at offset {self.i}")

    def peek(self, ahead: int = 0) -> str:
        """The character ``ahead`` of the cursor, or "" past the end."""
        j = self.i + ahead
        return self.p[j] if j < len(self.p) else ""


class _Translator(PatternCursor):
    """One pass over a pattern; ValueError at the first construct outside the subset."""

    def hex_digits(self, count: int) -> int:
        digits = self.p[self.i : self.i + count]
        if len(digits) != count or not set(digits) <= _HEX:
            raise self.fail(f"expected {count} hex digits")
        self.i += count
        return int(digits, 16)

    def scalar(self, code: int) -> int:
        if code > _MAX_CHAR or _SURROGATES[0] <= code <= _SURROGATES[1]:
            raise self.fail("escapes must name a Unicode scalar value (no lone surrogates)")
        return code

    def property_class(self, negated: bool) -> str:
        r"""``\p{X}`` after the ``p``: the canonical ``\p{Short}`` / ``\P{Short}``."""
        if self.peek() != "{":
            raise self.fail("\\p needs a {Name}")
        end = self.p.find("}", self.i)
        if end < 0:
            raise self.fail("unterminated \\p{...}")
        name = self.p[self.i + 1 : end]
        key, eq, value = name.partition("=")
        if eq and key in ("gc", "General_Category"):
            name = value
        short = _CATEGORY_BY_NAME.get(name)
        if short is None:
            raise self.fail(
                f"unsupported Unicode property {name!r} (general categories only, see the docs)"
            )
        self.i = end + 1
        return f"\\{'P' if negated else 'p'}{{{short}}}"

    def character_escape(self, c: str) -> int | None:
        """The code point of a character escape after its backslash (``c`` consumed)."""
        if c in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[c]
        if c == "c":
            letter = self.peek()
            if not (letter.isascii() and letter.isalpha()):
                raise self.fail("\\c needs an ASCII letter")
            self.i += 1
            return ord(letter) % 32
        if c == "0":
            if self.peek() in _DIGITS:
                raise self.fail("backreferences and octal escapes are not supported")
            return 0
        if c == "x":
            return self.hex_digits(2)
        if c == "u":
            if self.peek() == "{":
                end = self.p.find("}", self.i)
                digits = self.p[self.i + 1 : end] if end > 0 else ""
                if not digits or len(digits) > 6 or not set(digits) <= _HEX:
                    raise self.fail("\\u{...} needs 1 to 6 hex digits")
                self.i = end + 1
                return self.scalar(int(digits, 16))
            return self.scalar(self.hex_digits(4))
        if c in _SYNTAX:
            return ord(c)
        return None

    def escape(self, in_class: bool) -> tuple[str, int, int | None]:
        """An escape at the backslash: (canonical text, size, code point if a character)."""
        self.i += 1
        c = self.peek()
        if not c:
            raise self.fail("trailing backslash")
        self.i += 1
        if c in _CLASS_ESCAPES:
            ranges = _CLASS_ESCAPES[c]
            body = _range_text(ranges)
            return (body if in_class else f"[{body}]"), len(ranges), None
        if c in "pP":
            text = self.property_class(c == "P")
            return text, PROPERTY_SIZE, None
        if in_class and c == "b":
            return _hex(8), 1, 8
        if in_class and c == "-":
            return _hex(0x2D), 1, 0x2D
        if not in_class and c in "bB":
            raise self.fail(_WORD_BOUNDARY)
        if (c in _DIGITS or c == "k") and c != "0":
            raise self.fail("backreferences are not supported")
        code = self.character_escape(c)
        if code is None:
            raise self.fail(f"unsupported escape \\{c}")
        return (_hex(code) if in_class else _char(code)), 1, code

    def char_class(self) -> tuple[str, int]:
        """A class at its ``[``: (canonical text, size)."""
        self.i += 1
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        parts: list[str] = []
        size = 1
        while True:
            c = self.peek()
            if not c:
                raise self.fail("unterminated character class")
            if c == "]":
                self.i += 1
                break
            text, weight, low = self.atom_in_class()
            size += weight
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                high_text, _, high = self.atom_in_class()
                if low is None or high is None:
                    raise self.fail("a class escape cannot be a range end")
                if high < low:
                    raise self.fail("range out of order in character class")
                text = f"{text}-{high_text}"
            parts.append(text)
        if not parts:
            everything = _range_text([(0, _MAX_CHAR)])
            return (f"[{everything}]" if negated else f"[^{everything}]"), size
        return f"[{'^' if negated else ''}{''.join(parts)}]", size

    def atom_in_class(self) -> tuple[str, int, int | None]:
        c = self.peek()
        if c == "\\":
            return self.escape(True)
        self.i += 1
        return _hex(ord(c)), 1, ord(c)

    def quantifier(self) -> tuple[str, int] | None:
        """A quantifier at self.i, if any: (canonical text, largest count used for size)."""
        c = self.peek()
        if c in ("*", "+", "?"):
            self.i += 1
            text, factor = c, (1 if c == "?" else 2)
        elif c == "{":
            end = self.p.find("}", self.i)
            body = self.p[self.i + 1 : end] if end > 0 else ""
            low, comma, high = body.partition(",")
            if not (low.isdigit() and low.isascii() and (not high or high.isdigit())):
                raise self.fail("'{' must start a counted repetition {n}, {n,} or {n,m}")
            if not high.isascii():
                raise self.fail("'{' must start a counted repetition {n}, {n,} or {n,m}")
            n = int(low)
            m = int(high) if high else None
            if n > MAX_REPEAT or (m is not None and m > MAX_REPEAT):
                raise self.fail(f"repetition counts are limited to {MAX_REPEAT}")
            if m is not None and m < n:
                raise self.fail("numbers out of order in {n,m}")
            self.i = end + 1
            text = "{" + body + "}"
            factor = max(m if m is not None else n + 1, 1) if comma else max(n, 1)
        else:
            return None
        if self.peek() == "?":
            self.i += 1
            text += "?"
        return text, factor

    def disjunction(self, depth: int) -> tuple[str, int]:
        """Alternatives up to an unmatched ``)`` or the end: (canonical text, size)."""
        out: list[str] = []
        size = 0
        while self.i < len(self.p):
            c = self.peek()
            if c == ")":
                if depth == 0:
                    raise self.fail("unbalanced ')'")
                break
            quantifiable = True
            if c == "|":
                self.i += 1
                out.append("|")
                continue
            if c in "^$":
                self.i += 1
                text, weight, quantifiable = c, 0, False
            elif c == ".":
                self.i += 1
                text = f"[^{_range_text(_LINE_TERMINATORS)}]"
                weight = 1
            elif c == "[":
                text, weight = self.char_class()
            elif c == "(":
                text, weight = self.group(depth)
            elif c == "\\":
                text, weight, _ = self.escape(False)
            elif c in "*+?{":
                raise self.fail("nothing to repeat")
            elif c in "]}":
                raise self.fail(f"lone '{c}' (escape it)")
            else:
                self.i += 1
                text, weight = _char(ord(c)), 1
            quantified = self.quantifier()
            if quantified is not None:
                if not quantifiable:
                    raise self.fail("nothing to repeat")
                if not (text.startswith("(") or text.startswith("[") or len(text) == 1):
                    text = f"(?:{text})"
                text += quantified[0]
                weight *= quantified[1]
                if self.peek() in ("*", "+", "?", "{"):
                    raise self.fail("nothing to repeat")
            out.append(text)
            size += weight
            if size > MAX_PATTERN_SIZE:
                raise self.fail(f"the pattern is larger than {MAX_PATTERN_SIZE} (see the docs)")
        return "".join(out), size

    def group(self, depth: int) -> tuple[str, int]:
        self.i += 1
        if self.peek() == "?":
            if self.peek(1) == ":":
                self.i += 2
            elif self.peek(1) == "<" and self.peek(2) not in ("=", "!"):
                end = self.p.find(">", self.i)
                name = self.p[self.i + 2 : end] if end > 0 else ""
                if not _GROUP_NAME.fullmatch(name):
                    raise self.fail("invalid group name")
                self.i = end + 1
            else:
                raise self.fail(
                    "only (...), (?:...) and (?<name>...) groups are supported "
                    "(no lookaround, inline flags or other extensions)"
                )
        body, size = self.disjunction(depth + 1)
        if self.peek() != ")":
            raise self.fail("unbalanced '('")
        self.i += 1
        return f"(?:{body})", size


def translate(pattern: str) -> str:
    """``pattern`` in the canonical form for RE2, or ValueError.

    See the module docs for the accepted subset; both backends check it the same way.
    """
    translator = _Translator(pattern)
    text, _ = translator.disjunction(0)
    return text
