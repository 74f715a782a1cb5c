"""ConfigCore parity: ``_parse`` per format and sharded ``load_config``, Rust against Python.

Hypothesis draws config dicts, dumps them to each format and parses the text with both
backends: the values must be identical (floats exactly, ``rel_tol=0``: both sides round the
same decimal text correctly; NaN equals NaN). Corrupted documents (a character deleted,
inserted or replaced, or the text cut short) must give the same outcome: the same value, or
a ConfigError with the same message, i.e. the same path, line, column and reason.

Per format, what is drawn:

* JSON: any JSON value, integers of any size, every float including NaN and infinities
  (``json.dumps`` writes them as ``NaN``/``Infinity``), any text (non-ASCII, escapes).
* TOML: tables, arrays and inline tables of strings, integers (mostly 64-bit, TOML's range;
  tomllib also accepts larger ones, which the native path leaves to it), floats,
  booleans, dates, times, datetimes naive and with offsets. Written by a small writer here
  (the stdlib reads TOML but does not write it).
* YAML: written by ``yaml.safe_dump``, limited to the subset where PyYAML (YAML 1.1) and
  yaml-rust2 (YAML 1.2) agree (see ``pyagent.config_core``): strings drawn from letters,
  spaces and punctuation that do not start a YAML 1.2-only number, integers, floats, booleans,
  null. Corrupted YAML is not compared: the two scanners accept different malformed input
  (``: null`` is a mapping with an empty key to yaml-rust2, following YAML 1.2, and an error
  to libyaml), so YAML parity covers well-formed documents of the subset.
* INI: configparser in both backends (the native path delegates); checked all the same.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import string
import tempfile
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import config_core
from pyagent.parity import hostile
from pyagent.parity.compare import Outcome, call_both, call_python, call_rust, same_outcome
from pyagent.parity.properties.strategies import bytes_like, not_data
from pyagent.parity.registry import parity_property

# --- JSON -----------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 4, max_value=2**64 + 4),
    st.integers(min_value=-(2**64) - 4, max_value=-(2**63) + 4),
    st.floats(),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
json_configs = st.dictionaries(st.text(max_size=6), json_values, max_size=5)


def _json_text(value: Any, style: int) -> str:
    if style == 0:
        return json.dumps(value)
    if style == 1:
        return json.dumps(value, ensure_ascii=False, indent=2)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- TOML -----------------------------------------------------------------------------------

toml_keys = st.text(max_size=6)
offsets = st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))])
offsets |= st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m))
)
toml_datetimes = st.builds(
    lambda d, tz: d.replace(tzinfo=tz),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    offsets,
)
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    toml_datetimes,
    st.dates(),
    st.times(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(toml_keys, inner, max_size=3),
    max_leaves=15,
)
toml_configs = st.dictionaries(toml_keys, toml_values, max_size=5)


def _toml_string(text: str) -> str:
    # JSON string syntax is TOML basic-string syntax, once DEL is escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007F")


def _toml_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _toml_float(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if value.tzinfo is dt.UTC else text
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    pairs = ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items())
    return "{" + pairs + "}"


def _toml_text(config: dict[str, Any]) -> str:
    """Top-level scalars and arrays as ``key = value``, mappings as ``[table]`` sections."""
    lines = [
        f"{_toml_string(k)} = {_toml_value(v)}"
        for k, v in config.items()
        if not isinstance(v, dict)
    ]
    for key, value in config.items():
        if isinstance(value, dict):
            lines.append(f"[{_toml_string(key)}]")
            lines.extend(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items())
    return "\n".join(lines) + "\n"


# --- YAML -----------------------------------------------------------------------------------

_YAML_ALPHABET = string.ascii_letters + " _-.,/éü"
yaml_text = st.text(_YAML_ALPHABET, max_size=10).filter(
    lambda s: not s[:1].isdigit() and not s.startswith((".", "-."))
)
yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    yaml_text,
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(yaml_text, inner, max_size=3),
    max_leaves=15,
)
yaml_configs = st.dictionaries(yaml_text, yaml_values, max_size=5)


def _yaml_text(config: dict[str, Any], flow: bool) -> str:
    return yaml.safe_dump(config, default_flow_style=flow, allow_unicode=True, sort_keys=False)


# --- INI ------------------------------------------------------------------------------------

ini_names = st.text(string.ascii_letters + "_", min_size=1, max_size=6)
ini_sections = st.dictionaries(
    ini_names,
    st.dictionaries(ini_names, st.text(string.printable.strip(), max_size=8), max_size=3),
    max_size=3,
)


def _ini_text(sections: dict[str, dict[str, str]]) -> str:
    lines = []
    for name, items in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {v}" for k, v in items.items())
    return "\n".join(lines) + "\n"


# --- Corruption -----------------------------------------------------------------------------

_NOISE = st.sampled_from([*"{}[]\",:=\n \\0-.eé#'\x00\x7f", "\ud83d", "true", "1e999"])


@st.composite
def corrupted(draw: st.DrawFn, text: str) -> str:
    """``text`` with one edit: a deletion, an insertion, a replacement or a truncation."""
    if not text:
        return draw(_NOISE)
    at = draw(st.integers(0, len(text) - 1))
    kind = draw(st.sampled_from(["delete", "insert", "replace", "cut"]))
    if kind == "delete":
        return text[:at] + text[at + 1 :]
    if kind == "cut":
        return text[:at]
    noise = draw(_NOISE)
    return text[:at] + noise + text[at + (kind == "replace") :]


def _agree(rust: Outcome, python: Outcome, *, message: bool = True) -> None:
    same_outcome(rust, python, rel_tol=0)
    if message and python.error is not None:
        assert rust.message == python.message, (rust.describe(), python.describe())


def _parse_agrees(data: object, fmt: object, *, message: bool = True) -> None:
    rust, python = call_both(config_core._parse, data, fmt)
    _agree(rust, python, message=message)


# --- Properties: _parse ----------------------------------------------------------------------


@parity_property("_parse")
@given(config=json_values, style=st.integers(0, 2), as_bytes=st.booleans())
def parse_json_agrees(config: Any, style: int, as_bytes: bool) -> None:
    """Every JSON value, in three layouts, as str or UTF-8 bytes: identical values."""
    text = _json_text(config, style)
    _parse_agrees(text.encode() if as_bytes else text, "json")


@parity_property("_parse")
@given(data=st.data(), config=json_configs, style=st.integers(0, 2))
def parse_corrupted_json_agrees(data: st.DataObject, config: Any, style: int) -> None:
    """An edited JSON document: the same value or the same ConfigError line/column/reason."""
    text = data.draw(corrupted(_json_text(config, style)))
    _parse_agrees(text, "json")
    _parse_agrees(text.encode("utf-8", "surrogatepass"), "json")


@parity_property("_parse")
@given(config=toml_configs)
def parse_toml_agrees(config: dict[str, Any]) -> None:
    """TOML written from drawn tables: identical values (datetimes included)."""
    _parse_agrees(_toml_text(config), "toml")


@parity_property("_parse")
@given(data=st.data(), config=toml_configs)
def parse_corrupted_toml_agrees(data: st.DataObject, config: dict[str, Any]) -> None:
    """An edited TOML document: the same value or the same ConfigError line/column/reason."""
    _parse_agrees(data.draw(corrupted(_toml_text(config))), "toml")


@parity_property("_parse")
@given(config=yaml_configs, flow=st.booleans())
def parse_yaml_agrees(config: dict[str, Any], flow: bool) -> None:
    """YAML written by yaml.safe_dump (block or flow style) on the shared subset."""
    _parse_agrees(_yaml_text(config, flow), "yaml")


@parity_property("_parse")
@given(sections=ini_sections)
def parse_ini_agrees(sections: dict[str, dict[str, str]]) -> None:
    """INI: configparser on both backends (the native path delegates to it)."""
    _parse_agrees(_ini_text(sections), "ini")


@parity_property("_parse")
@given(
    data=st.one_of(
        bytes_like,
        not_data,
        st.text(max_size=8),
        hostile.for_kind("buffer"),
        hostile.for_kind("short_string"),
    ),
    fmt=hostile.mix(
        st.one_of(st.sampled_from(["json", ".json", "TOML", "yml", "ini", "xml", ""]), not_data),
        "string",
    ),
)
def parse_rejects_bad_arguments(data: object, fmt: object) -> None:
    """Any data and format: the same value, or the same exception class and message."""
    _parse_agrees(data, fmt)


def _nested_text(fmt: str, depth: int, shape: str) -> str:
    """A document ``depth`` levels deep in ``fmt``, shaped one of the ways parsers recurse."""
    if fmt == "json":
        return "[" * depth + "]" * depth if shape == "flow" else '{"a":' * depth + "1" + "}" * depth
    if fmt == "toml":
        if shape == "flow":
            return "a = " + "[" * depth + "]" * depth
        if shape == "dotted":
            return ".".join(["a"] * depth) + " = 1"
        return "[" + ".".join(["a"] * depth) + "]"
    if shape == "flow":
        return "a: " + "[" * depth + "]" * depth
    return "".join("  " * i + "a:\n" for i in range(depth)) + "  " * depth + "1\n"


@parity_property("_parse")
@given(
    fmt=st.sampled_from(["json", "toml", "yaml"]),
    depth=st.sampled_from(hostile.LIMIT_DEPTHS).flatmap(
        lambda d: st.sampled_from([d - 1, d, d + 1, 2 * d])
    ),
    shape=st.sampled_from(["flow", "dotted", "block"]),
)
# The cases (issue 15): JSON of exactly 1000 levels, TOML with 2000 dotted or header
# levels and 10,000 nested arrays, YAML with 5000 block levels.
@example(fmt="json", depth=1000, shape="flow")
@example(fmt="toml", depth=2000, shape="dotted")
@example(fmt="toml", depth=2000, shape="block")
@example(fmt="toml", depth=10_000, shape="flow")
@example(fmt="yaml", depth=5000, shape="block")
def parse_nesting_limits_agree(fmt: str, depth: int, shape: str) -> None:
    """Documents at, just around and far past each nesting limit: same value or ConfigError."""
    _parse_agrees(_nested_text(fmt, depth, shape), fmt, message=False)


@parity_property("_parse")
@given(case=st.sampled_from([("json", "1"), ("toml", "a = 1"), ("yaml", "a: 1")]))
# Two BOMs (toml-test invalid/encoding/bom-not-at-start), a recursive YAML alias, a JSON
# integer of 5001 digits (issue 15).
@example(case=("toml", "\ufeff\ufeffa = 1"))
@example(case=("yaml", "\ufeff\ufeffa: 1"))
@example(case=("yaml", "a: &x [*x]"))
@example(case=("json", "1" * 5001))
@example(case=("json", '{"a": ' + "1" * 5001 + "}"))
def parse_hostile_documents_agree(case: tuple[str, str]) -> None:
    """Small documents that hit a documented limit or rule: same value or same class."""
    fmt, text = case
    _parse_agrees(text, fmt, message=False)
    _parse_agrees(text.encode("utf-8"), fmt, message=False)


# --- Properties: load_config -----------------------------------------------------------------

shard_kinds = st.sampled_from(["json", "toml", "yaml", "ini", "bad-json", "bad-toml", "list"])


def _shard_text(kind: str, draw: st.DrawFn) -> tuple[str, str]:
    if kind == "json":
        return "json", _json_text(draw(json_configs), draw(st.integers(0, 2)))
    if kind == "toml":
        return "toml", _toml_text(draw(toml_configs))
    if kind == "yaml":
        return "yaml", _yaml_text(draw(yaml_configs), draw(st.booleans()))
    if kind == "ini":
        return "ini", _ini_text(draw(ini_sections))
    if kind == "bad-json":
        return "json", draw(corrupted(_json_text(draw(json_configs), 0)))
    if kind == "bad-toml":
        return "toml", draw(corrupted(_toml_text(draw(toml_configs))))
    return "json", "[1, 2]"


@parity_property("load_config")
@given(data=st.data(), kinds=st.lists(shard_kinds, min_size=1, max_size=4), glob=st.booleans())
def load_config_agrees(data: st.DataObject, kinds: list[str], glob: bool) -> None:
    """Shards of every format (some broken), as a list or a glob: the same result.

    The same merged Config or the same error, and the same per-shard progress calls.
    """
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, kind in enumerate(kinds):
            ext, text = _shard_text(kind, data.draw)
            path = os.path.join(folder, f"{i:02d}.{ext}")
            with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
                f.write(text)
            paths.append(path)
        source: object = os.path.join(folder, "*") if glob else paths
        rust_calls: list[tuple[str, int, int]] = []
        python_calls: list[tuple[str, int, int]] = []
        rust = call_rust(config_core.load_config, source, None, lambda *a: rust_calls.append(a))
        python = call_python(
            config_core.load_config, source, None, lambda *a: python_calls.append(a)
        )
        _agree(rust, python)
        if rust.error is None:
            assert type(rust.value) is type(python.value) is config_core.Config
        # Native calls are a superset: per shard the same start and end, maybe more between.
        assert set(python_calls) <= set(rust_calls), (rust_calls, python_calls)
        assert [c for c in rust_calls if c in python_calls] == python_calls


@parity_property("load_config")
@given(
    source=st.one_of(
        not_data,
        st.just([]),
        st.just(["/nonexistent/x.json"]),
        st.just("/nonexistent/*.json"),
        hostile.for_kind("path"),
        st.lists(hostile.for_kind("path"), min_size=1, max_size=2),
    ),
    fmt=st.one_of(st.none(), st.sampled_from(["json", "xml"]), st.integers()),
    progress=st.sampled_from([None, 3, print]),
)
def load_config_rejects_bad_arguments(source: object, fmt: object, progress: object) -> None:
    """Bad sources, formats and callbacks: the same exception class from both backends."""
    rust, python = call_both(config_core.load_config, source, fmt, progress)
    same_outcome(rust, python)
