"""The mutation-score tool: mutants are real, the hook is left alone, and scoring works."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from pyagent.manifest import load_manifest
from pyagent.parity.mutants import (
    PACKAGE,
    load_equivalents,
    main,
    mutants_of,
    record_run,
    run_mutant,
    sample_inputs,
)
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


@pytest.mark.parametrize("hot_path", load_manifest().migrated, ids=lambda h: h.name)
def test_annotations_are_never_mutated(hot_path) -> None:
    # Annotations are never evaluated (`from __future__ import annotations`): a mutant there
    # is equivalent by construction, so planting one would only pad the score.
    source = _source(hot_path.module)
    lines = [0, 0]
    for text in source.splitlines(keepends=True):
        lines.append(lines[-1] + len(text))
    spans = []
    for node in ast.walk(ast.parse(source)):
        found = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            every = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            found = [x.annotation for x in every if x is not None] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            found = [node.annotation]
        for ann in found:
            if ann is not None:
                spans.append(
                    (
                        lines[ann.lineno] + ann.col_offset,
                        lines[ann.end_lineno] + ann.end_col_offset,
                    )
                )
    for mutant in mutants_of(hot_path):
        assert not any(a <= mutant.start and mutant.end <= b for a, b in spans), mutant.key


def test_keys_survive_code_moving_and_tell_repeats_apart() -> None:
    hot_path = load_manifest().get("rolling_avg")
    source = _source(hot_path.module)
    keys = [m.key for m in mutants_of(hot_path)]
    assert len(keys) == len(set(keys)), "two mutants share a key"
    assert all(":" + str(m.line) + ":" not in m.key for m in mutants_of(hot_path))
    shifted = "# a comment\n\n\n" + source
    assert [m.key for m in mutants_of(hot_path, shifted)] == keys
    assert (
        next(m.line for m in mutants_of(hot_path, shifted)) == 3 + next(mutants_of(hot_path)).line
    )


def test_a_hot_paths_sample_does_not_depend_on_the_others_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A run split over several invocations (or of one hot path) must draw the very mutants
    # the whole run draws for it, or a partial rerun could not reproduce a score.
    names = [h.name for h in load_manifest().migrated]
    first, second = names[0], names[1]
    main(["--list", "--sample", "3", "--seed", "7", "--only", first, second])
    both = [line for line in capsys.readouterr().out.splitlines() if line.startswith(second)]
    main(["--list", "--sample", "3", "--seed", "7", "--only", second])
    alone = capsys.readouterr().out.splitlines()
    assert len(both) == 3
    assert both == alone
    main(["--list", "--sample", "3", "--seed", "8", "--only", second])
    assert capsys.readouterr().out.splitlines() != alone


def test_a_rows_sample_inputs_change_with_its_module_and_its_equivalents_only() -> None:
    # A record names what decided its sample, so two records of a row are comparable only
    # when the module and that row's equivalents were the same.
    hot_path = load_manifest().get("rolling_avg")
    source = _source(hot_path.module)
    every = list(mutants_of(hot_path))
    equivalents = load_equivalents()
    base = sample_inputs(source, every, equivalents)
    other = {**equivalents, "some_other_module:x:1": "another hot path's equivalent"}
    assert sample_inputs(source, every, other) == base
    fresh = next(m.key for m in every if m.key not in equivalents)
    one_more = {**equivalents, fresh: "now called equivalent"}
    changed = sample_inputs(source, every, one_more)
    assert changed["equivalents_sha256"] != base["equivalents_sha256"]
    assert changed["module_sha256"] == base["module_sha256"]
    edited = sample_inputs(source + "\n# edited\n", every, equivalents)
    assert edited["module_sha256"] != base["module_sha256"]
