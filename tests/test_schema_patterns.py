"""The JSON Schema pattern dialect (pyagent.schema_patterns and rust_core's text/schema_pattern.rs).

Both backends run the same scanner; rust_core spells ``\\p{..}`` out from
``rust_core/src/text/unicode_categories.json``, RE2's general categories, because the ``regex``
crate's tables follow a newer Unicode than RE2's. This module checks that table still is RE2's
(regenerate it after a google-re2 upgrade with
``python -m tests.test_schema_patterns --write-categories``) and the scanner's verdicts.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest
import re2

from pyagent import schema_patterns

TABLE = (
    Path(__file__).resolve().parents[1] / "rust_core" / "src" / "text" / "unicode_categories.json"
)


@functools.cache
def _every_character() -> str:
    return "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


def re2_categories() -> dict[str, list[list[int]]]:
    """Each general category of the dialect as RE2 matches it, as sorted [low, high] ranges."""
    options = re2.Options()
    options.log_errors = False
    table: dict[str, list[list[int]]] = {}
    for short in schema_patterns.CATEGORIES:
        ranges: list[list[int]] = []
        for c in re2.compile(rf"\p{{{short}}}", options).findall(_every_character()):
            code = ord(c)
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
        table[short] = ranges
    return table


def test_rust_category_table_is_re2s() -> None:
    assert json.loads(TABLE.read_text(encoding="utf-8")) == re2_categories()


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (r"^\p{Letter}+$", "Émile", True),
        (r"^\P{L}$", "1", True),
        (r"^[\p{Lu}\d]+$", "A1", True),
        (r"^[^\p{Lu}]$", "A", False),
        (r"^\p{gc=Nd}$", "٣", True),
        (r"^\w+$", "é", False),
        (r"^[\s\S]$", "\n", True),
        (r"^\cA$", "\x01", True),
        (r"a{2,}?", "aa", True),
    ],
)
def test_translations_match_as_ecma(pattern: str, text: str, matches: bool) -> None:
    compiled = re2.compile(schema_patterns.translate(pattern))
    assert (compiled.search(text) is not None) is matches


@pytest.mark.parametrize(
    "pattern",
    [
        r"\b",
        r"\B",
        "(?<=a)",
        "(?!a)",
        r"\k<n>",
        r"\2",
        r"\p{Script=Greek}",
        r"\p{LC}",
        r"\p{C}",
        r"\ud800",
        r"\u{110000}",
        "a**",
        "a{2}{2}",
        "a{3,2}",
        "a{1001}",
        "x{",
        "}",
        "[a",
        r"[a-\d]",
        r"\q",
        "(?i)a",
        "(?P<n>a)",
    ],
)
def test_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="pattern"):
        schema_patterns.translate(pattern)


def test_size_limit_multiplies_through_repetitions() -> None:
    schema_patterns.translate(r"(\p{L}{10}){10}")  # 100 * 100 = MAX_PATTERN_SIZE
    with pytest.raises(ValueError, match="larger than"):
        schema_patterns.translate(r"(\p{L}{10}){11}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-categories"]:
        TABLE.write_text(json.dumps(re2_categories(), separators=(",", ":")) + "\n", "utf-8")
    else:
        sys.exit("usage: python -m tests.test_schema_patterns --write-categories")
