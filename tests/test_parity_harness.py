"""The parity harness: every registered property passes, and the harness can fail."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyagent.manifest import load_manifest
from pyagent.parity.compare import Outcome, same, same_outcome
from pyagent.parity.profiles import load_profile
from pyagent.parity.registry import parity_property, registered, run_property

load_profile()


@pytest.mark.requires_rust
@pytest.mark.parametrize("name", sorted(registered()))
def test_property_passes(name: str) -> None:
    result = run_property(name)
    assert result.passed, result.detail
    assert result.examples >= 100


@pytest.mark.requires_rust
def test_every_migrated_hot_path_has_a_property() -> None:
    assert {h.name for h in load_manifest().migrated} <= set(registered())


def test_properties_register_only_under_manifest_names() -> None:
    assert set(registered()) <= set(load_manifest().names)
    with pytest.raises(KeyError):
        parity_property("not_a_hot_path")


def _fake_module(rust_impl: object) -> types.ModuleType:
    """A hooked module whose Rust and Python paths can be made to disagree."""
    module = types.ModuleType("fake_core")
    module.rc = types.SimpleNamespace(double=rust_impl)

    def double(x: int) -> int:
        if module.rc is not None and hasattr(module.rc, "double"):
            return module.rc.double(x)
        if x < 0:
            raise ValueError("negative")
        return 2 * x

    double.__module__ = "fake_core"
    module.double = double
    sys.modules["fake_core"] = module
    return module


def test_same_detects_a_wrong_value_and_a_wrong_exception_class(monkeypatch) -> None:
    import pyagent.backend as backend

    module = _fake_module(lambda x: 2 * x + (x == 3))
    monkeypatch.setattr(backend, "forced_python", _swap(module), raising=True)
    import pyagent.parity.compare as compare

    monkeypatch.setattr(compare, "forced_python", _swap(module))
    assert same(module.double, 2).value == 4
    with pytest.raises(AssertionError, match="Rust returned 7"):
        same(module.double, 3)
    module.rc.double = lambda x: (_ for _ in ()).throw(TypeError("bad"))
    with pytest.raises(AssertionError, match="TypeError"):
        same(module.double, -1)


def _swap(module: types.ModuleType):
    from contextlib import contextmanager

    @contextmanager
    def forced():
        saved, module.rc = module.rc, None
        try:
            yield
        finally:
            module.rc = saved

    return forced


def test_outcomes_compare_types_and_float_tolerance() -> None:
    same_outcome(Outcome(value=1.0), Outcome(value=1.0 + 1e-12))
    with pytest.raises(AssertionError):
        same_outcome(Outcome(value=1.0), Outcome(value=1.0 + 1e-12), rel_tol=0)
    with pytest.raises(AssertionError):
        same_outcome(Outcome(value=1), Outcome(value=True))
    with pytest.raises(AssertionError):
        same_outcome(Outcome(error=ValueError), Outcome(error=UnicodeEncodeError))
    same_outcome(Outcome(value=[float("nan")]), Outcome(value=[float("nan")]))


def test_a_falsified_property_is_reported_as_failed() -> None:
    @given(st.integers())
    def always_fails(x: int) -> None:
        assert x != x

    from pyagent.parity import registry

    # Registered, for the duration of the test, as the only property of a real hot path.
    name = "sharding_index"
    saved = registry.registered()[name]
    registry._PROPERTIES[name] = []
    try:
        parity_property(name)(always_fails)
        result = run_property(name)
    finally:
        registry._PROPERTIES[name] = saved
    assert not result.passed and "always_fails" in result.detail
    assert result.examples >= 1


@pytest.mark.requires_rust
def test_cli_prints_the_table_and_saves_json(tmp_path: Path, capsys, monkeypatch) -> None:
    import dataclasses

    import pyagent.parity.__main__ as cli
    from pyagent.manifest import HookedFunction, load_manifest
    from pyagent.parity.__main__ import main

    # A manifest in which one hot path is not migrated and has no Rust function yet, as
    # every hot path was before its issue landed.
    real = load_manifest()
    pending = "topo_sort"
    unmigrated = tuple(
        dataclasses.replace(
            h, migrated=False, functions=(HookedFunction("topo_sort", "topo_sort_not_built"),)
        )
        if h.name == pending
        else h
        for h in real.hot_paths
    )
    monkeypatch.setattr(
        cli, "load_manifest", lambda: dataclasses.replace(real, hot_paths=unmigrated)
    )
    out = tmp_path / "parity.json"
    assert main(["--only", "sharding_index", pending, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sharding_index" in printed and "not migrated" in printed
    saved = json.loads(out.read_text())
    rows = {r["name"]: r for r in saved["hot_paths"]}
    assert rows["sharding_index"]["status"] == "passed"
    assert rows["sharding_index"]["examples"] >= 100
    assert rows[pending]["status"] == "not migrated"


def test_numpy_arrays_compare_by_dtype_shape_and_values() -> None:
    import numpy as np

    from pyagent.parity.compare import _equal

    a = np.array([1.0, np.nan, 3.0])
    assert _equal(a, a.copy(), 0)
    assert _equal(a, a + np.array([3e-16, 0, 0]), 1e-9)
    assert not _equal(a, a + np.array([1e-6, 0, 0]), 1e-9)
    assert not _equal(a, a.astype(np.float32), 1e-9)  # dtype differs
    assert not _equal(a, a.reshape(3, 1), 1e-9)  # shape differs
    assert not _equal(a, a.tolist(), 1e-9)  # a list is not an array
    assert _equal(np.array([1, 2]), np.array([1, 2]), 0)
    assert not _equal(np.array([1, 2]), np.array([1, 3]), 0)
    assert _equal({"x": np.array([0.5])}, {"x": np.array([0.5])}, 0)


@pytest.mark.parametrize("rel_tol", [0.0, 1e-9])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_float_arrays_compare_in_bulk_as_element_by_element(rel_tol: float, dtype: str) -> None:
    import itertools

    import numpy as np

    from pyagent.parity.compare import _equal

    edge = [0.0, -0.0, 1.0, 1.0 + 1e-12, 1.0 + 1e-6, -1.0, math.inf, -math.inf, math.nan, 3e38]
    edge += [1.7976931348623157e308, -1.7976931348623157e308, 5e-324]
    for x, y in itertools.product(edge, repeat=2):
        with np.errstate(over="ignore"):  # float64's largest overflows float32 to inf
            a, b = np.array([x, 2.0], dtype=dtype), np.array([y, 2.0], dtype=dtype)
        one_by_one = _equal(a.tolist(), b.tolist(), rel_tol)
        assert _equal(a, b, rel_tol) is one_by_one, (x, y)


_CRASHING_PROPERTIES = """
import os, time
from hypothesis import given, strategies as st
from pyagent.parity.registry import parity_property

@parity_property("page_copy")
@given(st.integers())
def aborts(x):
    os.abort()

@parity_property("sharding_index")
@given(st.integers())
def hangs(x):
    time.sleep(3600)
"""


@pytest.mark.requires_rust
def test_a_crashing_or_hanging_row_fails_alone(tmp_path: Path) -> None:
    """Rows run in child processes: an abort and a hang fail their rows, the rest still run."""
    (tmp_path / "crashing_properties.py").write_text(_CRASHING_PROPERTIES)
    out = tmp_path / "parity.json"
    root = Path(__file__).resolve().parents[1]
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYAGENT_BACKEND"},
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)]),
        "PARITY_EXTRA_PROPERTIES": "crashing_properties",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyagent.parity",
            "--json",
            str(out),
            "--timeout",
            "40",
            "--only",
            "page_copy",
            "sharding_index",
            "percentiles",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    rows = {row["name"]: row for row in json.loads(out.read_text())["hot_paths"]}
    assert rows["page_copy"]["status"] == "failed"
    assert "SIGABRT" in rows["page_copy"]["detail"]
    assert rows["sharding_index"]["status"] == "failed"
    assert "timed out after 40 s" in rows["sharding_index"]["detail"]
    assert rows["percentiles"]["status"] == "passed"
    assert rows["percentiles"]["examples"] >= 100
    assert rows["percentiles"]["peak_mib"] > 0
    # Rows print as they finish: the passing one comes before the 40 s timeout's.
    lines = done.stdout.splitlines()
    order = [n for line in lines for n in rows if line.startswith(n + " ")]
    assert order.index("percentiles") < order.index("sharding_index")


def test_a_partial_run_updates_its_rows_of_the_saved_result(tmp_path: Path) -> None:
    from pyagent.parity.__main__ import _merge

    saved = tmp_path / "parity.json"
    full = [{"name": n, "status": "passed", "examples": 150} for n in ("a", "b", "c")]
    saved.write_text(json.dumps({"schema": 1, "hot_paths": full}))
    merged = _merge(saved, [{"name": "b", "status": "failed", "examples": 3}])
    assert [r["name"] for r in merged] == ["a", "b", "c"]
    assert merged[0] == full[0] and merged[2] == full[2]
    assert merged[1]["status"] == "failed" and "partial_run" in merged[1]


def _table_output(force_terminal: bool) -> str:
    import io

    from rich.console import Console

    from pyagent.parity.__main__ import _Table

    stream = io.StringIO()
    console = Console(file=stream, force_terminal=force_terminal, color_system="standard")
    table = _Table(2, console=console)
    table.line("parity (quick profile), rust_core 0.1.0", style="bold")
    base = {"examples": 0, "seconds": 0.0, "peak_mib": None, "detail": ""}
    table.row(
        {
            **base,
            "name": "topo_sort",
            "status": "passed",
            "examples": 150,
            "seconds": 1.25,
            "peak_mib": 61.0,
        },
        12,
    )
    table.row(
        {
            **base,
            "name": "page_copy",
            "status": "failed",
            "seconds": 2.0,
            "detail": "child killed by SIGABRT",
        },
        12,
    )
    return stream.getvalue()


def test_table_is_plain_text_when_piped() -> None:
    assert _table_output(force_terminal=False) == (
        "parity (quick profile), rust_core 0.1.0\n"
        "topo_sort          150      1.2        61  passed\n"
        "page_copy                   2.0            failed  (child killed by SIGABRT)\n"
    )


def test_table_is_coloured_on_a_terminal_with_the_same_text() -> None:
    import re

    coloured = _table_output(force_terminal=True)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", coloured) == _table_output(force_terminal=False)


def _draw_all(strategy: object) -> list[object]:
    values: list[object] = []

    @given(strategy)
    def collect(value: object) -> None:
        values.append(value)

    collect()
    return values


def test_hostile_library_has_every_kind_and_refuses_unknown_ones() -> None:
    from pyagent.parity import hostile

    drawn = {kind: _draw_all(hostile.for_kind(kind)) for kind in hostile.KINDS}
    assert all(drawn.values()), drawn.keys()
    with pytest.raises(ValueError):
        hostile.for_kind("no-such-kind")
    assert any(isinstance(v, hostile.RaisingList) for v in drawn["sequence"])


def test_hostile_nesting_is_exact_around_each_limit() -> None:
    from pyagent.parity import hostile

    for depth in hostile.LIMIT_DEPTHS:
        value, seen = hostile.nested(depth), 0
        while isinstance(value, list):
            value, seen = value[0], seen + 1
        assert seen == depth


def test_stored_reads_builtin_subclasses_by_their_storage() -> None:
    from pyagent._builtin import stored
    from pyagent.parity import hostile

    assert stored(hostile.RaisingList([1, 2])) == [1, 2]
    assert type(stored(hostile.LyingStr("Ab"))) is str
    assert stored(hostile.LyingInt(3)) == 3 and type(stored(hostile.LyingInt(3))) is int
    assert stored(hostile.LyingFloat(2.0)) == 2.0
    assert stored(hostile.PlainTuple((1,))) == (1,)
    mapping = hostile.LyingDict({"a": 1})
    assert stored(mapping) is mapping  # mappings are read through their methods
