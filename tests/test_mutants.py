"""The mutation-score tool: mutants are real, the hook is left alone, and scoring works."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from pyagent.manifest import load_manifest
from pyagent.parity.mutants import PACKAGE, load_equivalents, mutants_of, record_run, run_mutant
from pyagent.parity.results import write_results


def _source(module: str) -> str:
    return (PACKAGE / (module.split(".", 1)[1] + ".py")).read_text(encoding="utf-8")


@pytest.mark.parametrize("hot_path", load_manifest().migrated, ids=lambda h: h.name)
def test_every_mutant_parses_and_changes_the_reference(hot_path) -> None:
    source = _source(hot_path.module)
    mutants = list(mutants_of(hot_path))
    assert mutants, f"{hot_path.name}: no mutant planted in its reference"
    for mutant in mutants:
        planted = mutant.apply(source)
        assert planted != source
        ast.parse(planted)  # a mutant that does not compile would be "killed" for free
        assert mutant.diff(source).startswith("--- a/pyagent/")


def test_the_rust_hook_itself_is_never_mutated() -> None:
    hot_path = load_manifest().get("sharding_index")
    source = _source(hot_path.module)
    for mutant in mutants_of(hot_path):
        line = source.splitlines()[mutant.line - 1]
        assert "rc." not in line and "rc is not None" not in line, mutant.key


def test_equivalents_name_real_mutants_with_reasons() -> None:
    keys = {m.key for h in load_manifest().migrated for m in mutants_of(h)}
    for key, reason in load_equivalents().items():
        assert key in keys, f"stale equivalent mutant: {key}"
        assert len(reason) > 20, f"{key}: say why it cannot change behaviour"


@pytest.mark.requires_rust
def test_a_real_bug_is_killed_and_a_no_op_survives(tmp_path: Path) -> None:
    hot_path = load_manifest().get("sharding_index")
    source = _source(hot_path.module)
    wrong = next(m for m in mutants_of(hot_path) if m.operator == "return-none")
    outcome, _, detail = run_mutant(wrong, tmp_path, timeout=120)
    assert outcome == "killed", detail
    no_op = dataclasses.replace(wrong, mutated=wrong.original)
    assert no_op.apply(source) == source
    outcome, _, detail = run_mutant(no_op, tmp_path, timeout=120)
    assert outcome == "survived", detail


def test_a_recorded_run_is_a_new_file_with_its_provenance(tmp_path: Path) -> None:
    saved = tmp_path / "mutants.json"
    write_results(saved, [{"name": "generate_hash", "tried": 3, "killed": 3}], sample=3, seed=1)
    record = tmp_path / "record"
    first, second = record_run(saved, record), record_run(saved, record)
    assert first != second and first.exists() and second.exists()  # never overwritten
    stamp = json.loads(saved.read_text(encoding="utf-8"))["generated_at"]
    assert first.name.startswith(stamp[:10].replace("-", "") + "T")
    data = json.loads(second.read_text(encoding="utf-8"))
    assert data["seed"] == 1 and data["sample"] == 3 and data["hot_paths"][0]["killed"] == 3
