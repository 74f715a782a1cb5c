"""docs/_generate/status.py: the status pages say what was measured, and no more."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_status_generator", ROOT / "docs" / "_generate" / "status.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load()

PARITY: dict[str, Any] = {
    "schema": 1,
    "generated_at": "2026-11-24T10:10:43+00:00",
    "commit": "abc1234",
    "profile": "quick",
    "rust_core": "0.1.0",
    "hot_paths": [
        {"name": "generate_hash", "status": "passed", "examples": 300, "detail": ""},
        {"name": "verify_integrity", "status": "failed", "examples": 12, "detail": "mismatch"},
        {"name": "merge_weights", "status": "not migrated", "examples": 0, "detail": "issue #3"},
    ],
}
BENCH: dict[str, Any] = {
    "schema": 1,
    "generated_at": "2026-11-24T10:11:41+00:00",
    "commit": "abc1234",
    "machine": {"cpu": "Test CPU", "cores": 2, "python": "3.11.7", "platform": "Linux"},
    "hot_paths": [
        {
            "name": "generate_hash",
            "hot_path": "generate_hash",
            "peer": "hashlib",
            "workload": "w1",
            "correct": True,
            "python_s": 0.3,
            "rust_s": 0.1,
            "peer_s": 0.2,
            "rust_vs_python": 3.0,
            "rust_vs_peer": 2.0,
        },
        {
            "name": "sharding_index",
            "hot_path": "sharding_index",
            "peer": "zlib.adler32",
            "workload": "w2",
            "correct": False,
            "python_s": 0.5,
            "rust_s": 0.1,
            "peer_s": 0.2,
            "rust_vs_python": 5.0,
            "rust_vs_peer": 2.0,
        },
    ],
}


def _run(
    tmp_path: Path,
    parity: Any = None,
    bench: Any = None,
    audit: Any = None,
    history: list[dict[str, Any]] | None = None,
    mutants: Any = None,
    mutant_record: list[dict[str, Any]] | None = None,
) -> Path:
    status_dir, docs_dir = tmp_path / "status", tmp_path / "docs"
    results_dir, mutants_dir = tmp_path / "results", tmp_path / "mutant-record"
    status_dir.mkdir(parents=True)
    results_dir.mkdir()
    mutants_dir.mkdir()
    for i, run in enumerate(mutant_record or []):
        (mutants_dir / f"{i:04d}.json").write_text(json.dumps(run), encoding="utf-8")
    for name, data in (
        ("parity", parity),
        ("bench", bench),
        ("audit", audit),
        ("mutants", mutants),
    ):
        if data is not None:
            (status_dir / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    for i, run in enumerate(history or []):
        (results_dir / f"{i:04d}.json").write_text(json.dumps(run), encoding="utf-8")
    gen.generate(status_dir, docs_dir, "saved", "source", results_dir, mutants_dir)
    return docs_dir


def test_nothing_run_says_not_run(tmp_path: Path) -> None:
    docs = _run(tmp_path)
    page = (docs / "status.md").read_text(encoding="utf-8")
    assert "**Parity**: not run" in page and "**Benchmarks**: not run" in page
    assert "speedup-chart" not in page and "passed (" not in page
    data = json.loads((docs / "status.json").read_text(encoding="utf-8"))
    assert {h["parity"] for h in data["hot_paths"]} == {"not run"}
    assert data["progress"]["migrated_and_passing"] == 0
    assert "Audit not available" in (docs / "audit.md").read_text(encoding="utf-8")


def test_failures_and_wrong_results_are_shown_as_such(tmp_path: Path) -> None:
    docs = _run(tmp_path, copy.deepcopy(PARITY), copy.deepcopy(BENCH))
    data = json.loads((docs / "status.json").read_text(encoding="utf-8"))
    by_name = {h["name"]: h for h in data["hot_paths"]}
    assert by_name["generate_hash"]["done"] is True
    assert by_name["verify_integrity"]["done"] is False
    assert by_name["save_atomic"]["parity"] == "not run"
    # Only generate_hash is migrated, exported and passing in this data.
    assert data["progress"]["migrated_and_passing"] == 1
    page = (docs / "status.md").read_text(encoding="utf-8")
    assert '<span class="st-bad">failing</span>: mismatch' in page
    assert "wrong result" in page
    # The incorrect sharding_index benchmark gets no bar; generate_hash gets two.
    assert page.count('class="bar"') == 2
    assert "5.00\u00d7" not in page
    assert "Test CPU (2 cores)" in page


def test_audit_json_of_unknown_shape_does_not_crash(tmp_path: Path) -> None:
    audit = {"modules": [{"hooks": [{"file": "a.py", "line": 3, "function": "f"}]}], "x": 1}
    docs = _run(tmp_path, audit=audit)
    page = (docs / "audit.md").read_text(encoding="utf-8")
    assert "| a.py | 3 | f |" in page
    docs = _run(tmp_path / "again", audit=["not", "a", "dict"])
    assert "Audit not available" in (docs / "audit.md").read_text(encoding="utf-8")


def test_published_json_has_no_machine_paths(tmp_path: Path) -> None:
    audit = {
        "rust": {
            "source_dir": str(ROOT / "rust_core"),
            "built_module": "/home/x/.venv/lib/python3.11/site-packages/rust_core/__init__.py",
            "elsewhere": "/opt/build/secret/rust_core.so",
        },
        "files": [{"path": "pyagent/a.py", "hooks": []}],
    }
    docs = _run(tmp_path, audit=audit)
    text = (docs / "audit.json").read_text(encoding="utf-8")
    assert "/home/x" not in text and "/opt/build" not in text and str(ROOT) not in text
    rust = json.loads(text)["rust"]
    assert rust == {
        "source_dir": "rust_core",
        "built_module": "site-packages/rust_core/__init__.py",
        "elsewhere": "rust_core.so",
    }
    assert json.loads(text)["files"][0]["path"] == "pyagent/a.py"


def test_source_exports_follow_pyo3_renames(tmp_path: Path) -> None:
    (tmp_path / "a.rs").write_text(
        '#[pyfunction]\n#[pyo3(name = "topo_sort")]\nfn topo_sort_py() {}\n'
        "fn register() { m.add_function(wrap_pyfunction!(topo_sort_py, m)?)?;\n"
        "m.add_function(wrap_pyfunction!(plain, m)?)?; }\n",
        encoding="utf-8",
    )
    assert gen.source_exports(tmp_path) == {"topo_sort", "plain"}
    assert {"generate_hash", "sharding_index", "save_atomic"} <= gen.source_exports()


def test_python_hook_needs_the_sentinel_and_the_call() -> None:
    manifest = gen.load_manifest()
    present, detail = gen.python_hook(manifest.get("generate_hash"))
    assert present, detail
    unwritten = dataclasses.replace(manifest.get("merge_weights"), module="pyagent.not_written")
    present, detail = gen.python_hook(unwritten)
    assert not present and detail == "module not written yet"
    tree = gen.ast.parse("import rust_core as rc\n")
    assert not gen.has_rc_sentinel(tree)
    tree = gen.ast.parse("try:\n    import rust_core as rc\nexcept ImportError:\n    rc = None\n")
    assert gen.has_rc_sentinel(tree)


def _bench_run(stamp: str, commit: str, peer_ratio: float) -> dict[str, Any]:
    run = copy.deepcopy(BENCH)
    run.update(generated_at=stamp, commit=commit, profile="quick")
    run["hot_paths"][0]["rust_vs_peer"] = peer_ratio
    return run


def test_rows_below_one_are_flagged_on_a_log_chart_with_a_1x_line(tmp_path: Path) -> None:
    bench = copy.deepcopy(BENCH)
    bench["hot_paths"][0]["rust_vs_peer"] = 0.5
    page = (_run(tmp_path, bench=bench) / "status.md").read_text(encoding="utf-8")
    assert page.count('class="one-x"') == 1
    assert page.count('class="bar below-1"') == 1 and page.count('class="bar"') == 1
    assert "0.50\u00d7 \u25bc below 1\u00d7" in page
    assert "1 of 2 rows below 1\u00d7" in page
    # Decade ticks of a log axis, and the 3x ratio drawn as far right of 1x as log10(3).
    assert ">0.1\u00d7<" in page and ">10\u00d7<" in page


def test_committed_record_supplies_figures_and_ratio_over_commits(tmp_path: Path) -> None:
    runs = [
        _bench_run("2026-11-20T00:00:00+00:00", "aaa1111", 2.0),
        _bench_run("2026-11-21T00:00:00+00:00", "bbb2222", 1.2),
    ]
    page = (_run(tmp_path, history=runs) / "status.md").read_text(encoding="utf-8")
    # No local bench.json: the newest committed run is shown, and named.
    assert "**Benchmarks**: not run" not in page
    assert "committed record `bench/results/0001.json`" in page and "bbb2222" in page
    assert "## Ratio over commits" in page and "2 runs: `aaa1111`, `bbb2222`" in page
    assert page.count('class="sparkline"') == 1
    assert "-40% regression" in page
    # A newer local run wins over the record.
    local = _bench_run("2026-11-22T00:00:00+00:00", "ccc3333", 3.0)
    page = (_run(tmp_path / "b", bench=local, history=runs) / "status.md").read_text("utf-8")
    assert "commit `ccc3333`" in page and "committed record" not in page


def test_issue_numbers_link_only_to_a_configured_tracker(tmp_path: Path) -> None:
    assert gen.issue_link(16, "") == "#16"
    assert gen.issue_link(16, "https://example.org/t/issues/") == (
        "[#16](https://example.org/t/issues/16)"
    )
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_name: x\nextra:\n  issues_url: https://example.org/i\n", "utf-8")
    assert gen.issues_url(config) == "https://example.org/i"
    config.write_text("site_name: x\n", "utf-8")
    assert gen.issues_url(config) == ""


def test_sphinx_roles_become_code_and_optional_links() -> None:
    spec = importlib.util.spec_from_file_location(
        "docs_reference_hook", ROOT / "docs" / "_generate" / "reference.py"
    )
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    html = (
        "<p>See :meth:<code>get</code>, :class:<code>~pyagent.x.Y</code> and "
        ":func:<code>json.loads</code>.</p>"
    )
    out = hook.render_sphinx_roles(html, "pyagent.cache_core")
    assert ":meth:" not in out and ":class:" not in out and ":func:" not in out
    assert '<autoref identifier="pyagent.cache_core.get" optional><code>get()</code>' in out
    assert 'identifier="pyagent.x.Y" optional><code>Y</code>' in out
    assert 'identifier="json.loads" slug="pyagent.json.loads" optional>' in out


def test_a_partial_parity_run_is_marked_as_merged(tmp_path: Path) -> None:
    parity = copy.deepcopy(PARITY) | {"partial_rows": ["generate_hash"]}
    page = (_run(tmp_path, parity=parity) / "status.md").read_text(encoding="utf-8")
    assert "The last run was partial (`--only`): 1 row (`generate_hash`)" in page
    page = (_run(tmp_path / "full", parity=copy.deepcopy(PARITY)) / "status.md").read_text(
        encoding="utf-8"
    )
    assert "partial" not in page


def _mutant_run(stamp: str, commit: str, scores: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """A saved mutation run: hot path -> (killed, tried)."""
    rows = [
        {
            "name": name,
            "tried": tried,
            "killed": killed,
            "timeout": 0,
            "survived": tried - killed,
            "score": killed / tried,
            "survivors": [],
        }
        for name, (killed, tried) in scores.items()
    ]
    return {
        "schema": 1,
        "generated_at": stamp,
        "commit": commit,
        "sample": 15,
        "seed": 7,
        "hot_paths": rows,
    }


def test_mutation_scores_come_from_the_newest_run_per_hot_path(tmp_path: Path) -> None:
    record = [
        _mutant_run(
            "2026-12-01T00:00:00+00:00",
            "aaa1111",
            {"generate_hash": (15, 15), "verify_integrity": (9, 15)},
        ),
        _mutant_run("2026-12-02T00:00:00+00:00", "bbb2222", {"verify_integrity": (14, 15)}),
    ]
    docs = _run(tmp_path, mutant_record=record)
    page = (docs / "status.md").read_text(encoding="utf-8")
    # A fresh clone (no local run) shows the record; the later partial run updates only its row.
    assert "**Mutation score**: not run" not in page
    assert "14 of 15 killed, commit bbb2222" in page and "9 of 15" not in page
    assert "15 of 15 killed, commit aaa1111" in page
    assert "29 of 30 sampled non-equivalent mutants killed overall (97%)" in page
    # A newer local run below the floor wins and is flagged, on the row and in the summary.
    local = _mutant_run("2026-12-03T00:00:00+00:00", "ccc3333", {"generate_hash": (10, 15)})
    page = (_run(tmp_path / "b", mutants=local, mutant_record=record) / "status.md").read_text(
        encoding="utf-8"
    )
    assert '<span class="st-bad">67% (10 of 15 killed, commit ccc3333)</span>' in page
    assert "under 80%: generate_hash." in page
