"""Hostile input: every decoder refuses bombs with its documented class, in bounded memory.

The corpus runs in one child process per backend (the suite runs once per backend), so a
crash, an abort or a runaway allocation fails the test instead of the test run; the child
reports the exception class of every case and its own peak RSS, which must stay under
256 MiB. docs/limits.md lists the limits these cases sit on either side of.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from typing import Any

import msgpack
import pytest
import zstandard

from pyagent import auction_core, config_core, connectivity_core

PEAK_RSS_MIB = 256

# A case: (kind, argument, expected outcome): "ok" or the exception class name.
Case = tuple[str, Any, str]


def _frame(payload: bytes, compress: bool = True) -> bytes:
    body = zstandard.ZstdCompressor(3).compress(payload) if compress else payload
    head = struct.pack(">4sBBHII", b"PYAF", 1, 1 if compress else 0, 0, 0, len(body))
    return head + struct.pack(">I", zlib.crc32(body, zlib.crc32(head))) + body


def _array_header(n: int) -> bytes:
    return b"\xdd" + n.to_bytes(4, "big")


def _lol(levels: int, width: int) -> str:
    doc = 'l0: &l0 ["lol"]\n'
    for i in range(1, levels):
        doc += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]\n"
    return doc


def _cases() -> list[Case]:
    cases: list[Case] = []
    yaml_depth = config_core.YAML_MAX_DEPTH
    # YAML: alias bombs of every shape; small ones stay within the budget.
    for levels, width in [(3, 3), (4, 4), (5, 5)]:
        cases.append(("yaml", _lol(levels, width), "ok"))
    for levels in range(6, 12):
        for width in (9, 10, 16):
            cases.append(("yaml", _lol(levels, width), "ConfigError"))
    merge = "a0: &a0 {k: v}\n" + "".join(
        f"a{i}: &a{i}\n  <<: *a{i - 1}\n  v: [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
        for i in range(1, 10)
    )
    cases.append(("yaml", merge, "ConfigError"))
    for doc in ["a: &x [*x]\n", "a: &x {b: *x}\n", "&x [1, [2, *x]]\n", "a: &x\n  b: *x\n"]:
        cases.append(("yaml", doc, "ConfigError"))
    for depth, outcome in [
        (yaml_depth, "ok"),
        (yaml_depth + 1, "ConfigError"),
        (5000, "ConfigError"),
    ]:
        cases.append(("yaml", "[" * depth + "]" * depth, outcome))
        block = "".join(" " * i + "a:\n" for i in range(depth - 1)) + " " * (depth - 1) + "- x\n"
        cases.append(("yaml", block, outcome))
    # An alias whose expansion is deeper than the limit.
    half = yaml_depth // 2 + 1
    cases.append(
        (
            "yaml",
            "a: &a " + "[" * half + "]" * half + "\nb: " + "[" * half + "*a" + "]" * half,
            "ConfigError",
        )
    )
    cases.append(("yaml", b"\xef\xbb\xbf\xef\xbb\xbfa: 1\n", "ok"))
    cases.append(("yaml", "a: " + "1" * 5001 + "\n", "ConfigError"))
    # JSON: depth either side of the limit, in arrays, objects and both; huge integers.
    json_depth = config_core.JSON_MAX_DEPTH
    for depth, outcome in [
        (json_depth, "ok"),
        (json_depth + 1, "ConfigError"),
        (100_000, "ConfigError"),
    ]:
        cases.append(("json", "[" * depth + "]" * depth, outcome))
        cases.append(("json", '{"a":' * depth + "1" + "}" * depth, outcome))
        cases.append(
            (
                "json",
                '[{"a":' * (depth // 2) + "[]" + "}]" * (depth // 2),
                "ok" if depth // 2 * 2 + 1 <= json_depth else "ConfigError",
            )
        )
    for digits, outcome in [
        (4300, "ok"),
        (4301, "ConfigError"),
        (5001, "ConfigError"),
        (100_000, "ConfigError"),
    ]:
        cases.append(("json", "1" * digits, outcome))
        cases.append(("json", "[-" + "9" * digits + "]", outcome))
    cases.append(("json", b"\xef\xbb\xbf\xef\xbb\xbf[]", "ConfigError"))
    # TOML: nested arrays, inline tables, dotted keys and headers either side of the limit.
    toml_depth = config_core.TOML_MAX_DEPTH
    for depth in (toml_depth - 2, toml_depth - 1, toml_depth, toml_depth + 1, 2000, 10_000):
        within = "ok" if depth + 1 <= toml_depth else "ConfigError"
        cases.append(("toml", "a = " + "[" * depth + "]" * depth, within))
        cases.append(("toml", "a = " + "{b = " * depth + "1" + "}" * depth, within))
        keys = "ok" if depth <= toml_depth else "ConfigError"
        cases.append(("toml", ".".join(["k"] * depth) + " = 1", keys))
        cases.append(("toml", "[" + ".".join(["k"] * depth) + "]", within))
    cases.append(("toml", "[" + ".".join(["k"] * 40) + "]\n" + ".".join(["j"] * 40) + " = 1", "ok"))
    cases.append(
        ("toml", "[" + ".".join(["k"] * 40) + "]\n" + ".".join(["j"] * 41) + " = 1", "ConfigError")
    )
    cases.append(("toml", "".join(f"a.k{i} = {i}\n" for i in range(100_000)), "ok"))
    cases.append(("toml", b"\xef\xbb\xbf\xef\xbb\xbfa = 1\n", "ConfigError"))
    cases.append(("toml", b"\xef\xbb\xbfa = 1\n\xef\xbb\xbf", "ConfigError"))
    cases.append(("toml", "a = " + "1" * 5001, "ConfigError"))
    # Frames: Zstandard bombs of empty arrays, nils, maps, either side of the object budget
    # (FRAME_OBJECTS_BASE + FRAME_OBJECTS_PER_BYTE per payload byte received).
    base = connectivity_core.FRAME_OBJECTS_BASE

    def frame_case(payload: bytes, counts: int, compress: bool = True) -> Case:
        frame = _frame(payload, compress)
        budget = base + connectivity_core.FRAME_OBJECTS_PER_BYTE * (len(frame) - 20)
        return ("frame", frame, "ok" if counts <= budget else "ProtocolError")

    for n in (8_000_000, base, base // 2, base // 2 - 1):
        cases.append(frame_case(_array_header(n) + b"\x90" * n, 1 + 2 * n))
    for n in (8_000_000, base + 1, base - 1):
        cases.append(frame_case(_array_header(n) + b"\xc0" * n, 1 + n))
    # A map header larger than half the budget is refused before the dict is made.
    entries = base // 2 + 1
    cases.append(
        ("frame", _frame(b"\xdf" + entries.to_bytes(4, "big") + b"\xc0\xc0"), "ProtocolError")
    )
    # Each entry: an int key and an empty map, 3 counts; the outer map counts 1.
    for entries in (base // 3 - 1000, base // 3 + 1000):
        body = b"".join(b"\xce" + i.to_bytes(4, "big") + b"\x80" for i in range(entries))
        cases.append(frame_case(b"\xdf" + entries.to_bytes(4, "big") + body, 1 + 3 * entries))
    # Uncompressed payloads never reach the budget; neither do ordinary records.
    n = 600_000  # 1.2M counts, over the floor
    cases.append(frame_case(_array_header(n) + b"\x90" * n, 1 + 2 * n, compress=False))
    records = msgpack.packb(
        [{"id": i, "name": "agent", "tags": ["x", "y"]} for i in range(110_000)]
    )
    cases.append(frame_case(records, 1 + 110_000 * (1 + 6 + 3)))
    cases.append(("frame", _frame(b"\x91" * 2000 + b"\xc0"), "ProtocolError"))
    cases.append(("frame", _frame(b"\x91" * 100 + b"\xc0", compress=False), "ok"))
    cases.append(("frame", _frame(_array_header(3) + b"\x90" * 3 + b"\xc0"), "ProtocolError"))
    # Auctions whose solver matrix would dwarf the input.
    cells = auction_core.MAX_CELLS
    for shape in [(1, 1_000_000), (2, 40_000), (1, 2048), (3000, 2000)]:
        cases.append(("vcg", shape, "ValueError"))
    cases.append(("vcg", (1, cells), "ValueError"))
    cases.append(("vcg", (5, 40), "ok"))
    cases += [("named", name, outcome) for name, outcome in NAMED_OUTCOMES.items()]
    return cases


# Cases built in the child (templates, schemas, token ranks), by name, and their outcome.
NAMED_OUTCOMES = {
    "template_open_braces": "ok",
    "template_long_whitespace": "ok",
    "template_nested_brackets": "ok",
    "template_many_placeholders": "ok",
    "template_strict_unterminated": "ok",
    "template_strict_missing": "KeyError",
    "schema_instance_at_depth": "ok",
    "schema_instance_too_deep": "ValueError",
    "schema_too_deep": "ValueError",
    "schema_instance_100000_deep": "ValueError",
    "schema_document_too_deep": "ValueError",
    "ranks_one_huge_token": "ok",
    "ranks_rank_out_of_range": "ValueError",
    "ranks_missing_byte": "ValueError",
    "ranks_duplicate_ids": "ValueError",
    "ranks_file_bad_base64": "ValueError",
    "ranks_file_huge_line": "ok",
    "ranks_file_bad_rank": "ValueError",
}


CHILD = r"""
import json, sys
import numpy as np
import pyagent
from pyagent import auction_core, config_core, connectivity_core
import base64, os, tempfile
from pyagent import template_core, tokenizer_core, validation_core
apply, validate = template_core.apply_template, validation_core.json_schema_validate
BYTES = {bytes([i]): i for i in range(256)}
CL100K = tokenizer_core.PATTERNS["cl100k"]
def deep(n, leaf=1, wrap=lambda v: [v]):
    for _ in range(n):
        leaf = wrap(leaf)
    return leaf
def ranks_file(lines):
    handle, path = tempfile.mkstemp(suffix=".tiktoken")
    with os.fdopen(handle, "wb") as f:
        f.write(b"".join(line + b"\n" for line in lines))
    try:
        return tokenizer_core.load_ranks(path)
    finally:
        os.unlink(path)
b64 = lambda b: base64.b64encode(b)
byte_lines = [b64(bytes([i])) + b" %d" % i for i in range(256)]
NAMED = {
    "template_open_braces": lambda: apply("{{" * 200_000, {"a": 1}),
    "template_long_whitespace": lambda: apply("{{ " + " " * 200_000 + "a", {"a": 1}),
    "template_nested_brackets": lambda: apply("[" * 200_000 + "a" + "]" * 200_000, {"a": 1}),
    "template_many_placeholders": lambda: apply("{{a}}" * 100_000, {"a": "x" * 10}),
    "template_strict_unterminated": lambda: apply("[" + "a" * 200_000, {"a": 1}, strict=True),
    "template_strict_missing": lambda: apply("{{ missing }}", {}, strict=True),
    "schema_instance_at_depth": lambda: validate(deep(127), {}),
    "schema_instance_too_deep": lambda: validate(deep(200), {"type": "array"}),
    "schema_too_deep": lambda: validate(1, deep(200, {}, lambda s: {"items": s})),
    "schema_instance_100000_deep": lambda: validate(deep(100_000), {}),
    "schema_document_too_deep": lambda: validate(
        1, config_core.ConfigCore.parse('{"items":' * 200 + "{}" + "}" * 200, "json")),
    "ranks_one_huge_token": lambda: tokenizer_core.Tokenizer(
        BYTES | {b"a" * 1_000_000: 256}, CL100K).encode_ordinary("a" * 1_000_000),
    "ranks_rank_out_of_range": lambda: tokenizer_core.Tokenizer(BYTES | {b"x": 2**40}, CL100K),
    "ranks_missing_byte": lambda: tokenizer_core.Tokenizer(
        {bytes([i]): i for i in range(255)}, CL100K),
    "ranks_duplicate_ids": lambda: tokenizer_core.Tokenizer(
        {bytes([i]): i % 200 for i in range(256)}, CL100K),
    "ranks_file_bad_base64": lambda: ranks_file(byte_lines + [b"!!!! 256"]),
    "ranks_file_huge_line": lambda: ranks_file(byte_lines + [b64(b"z" * 3_000_000) + b" 256"]),
    "ranks_file_bad_rank": lambda: tokenizer_core.Tokenizer(
        ranks_file(byte_lines + [b64(b"zz") + b" -1"]), CL100K),
}
cases = json.loads(sys.stdin.read())
out = []
for kind, arg, _ in cases:
    if isinstance(arg, dict):
        arg = bytes.fromhex(arg["hex"])
    try:
        if kind in ("yaml", "json", "toml"):
            config_core.ConfigCore.parse(arg, kind)
        elif kind == "frame":
            connectivity_core.FrameDecoder().feed(arg)
        elif kind == "named":
            NAMED[arg]()
        elif kind == "vcg":
            auction_core.calculate_vcg_prices(np.zeros(tuple(arg)))
        out.append("ok")
    except Exception as exc:
        out.append(type(exc).__name__)
# VmHWM is this process image's own peak: ru_maxrss would also hold the parent's RSS at
# fork time (Linux keeps the larger of the two across exec).
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"outcomes": out, "peak_kib": peak}))
"""


def _encode(case: Case) -> list[Any]:
    kind, arg, expected = case
    if isinstance(arg, bytes):
        arg = {"hex": arg.hex()}
    return [kind, arg, expected]


def test_the_hostile_corpus_raises_the_documented_classes_in_bounded_memory() -> None:
    cases = _cases()
    assert len(cases) >= 100
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps([_encode(c) for c in cases]),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    wrong = [
        (kind, (arg[:60] if isinstance(arg, (str, bytes)) else arg), expected, got)
        for (kind, arg, expected), got in zip(cases, report["outcomes"], strict=True)
        if got != expected
    ]
    assert not wrong, wrong
    assert report["peak_kib"] <= PEAK_RSS_MIB * 1024, report["peak_kib"]


@pytest.mark.requires_rust
def test_every_limit_is_the_same_number_in_both_backends() -> None:
    import importlib

    import rust_core

    assert rust_core.LIMITS
    for name, value in rust_core.LIMITS.items():
        module, constant = name.split(":")
        assert getattr(importlib.import_module(module), constant) == value, name
