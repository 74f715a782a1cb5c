"""``migrate fix``: each mechanical fix proven on its before/after data, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import libcst as cst
import pytest
from conftest import templates, write_crate
from libcst.codemod import CodemodContext

from pyagent.migrate.audit import AuditConfig, analyze_source
from pyagent.migrate.defects import DEFECT_KINDS, FixExample
from pyagent.migrate.fix import FixHooksCommand, exported_spelling
from pyagent.migrate.rust_exports import merge_exports, parse_rust_source

REPO = Path(__file__).resolve().parents[2]


def config_for(rust: str) -> AuditConfig:
    registrations, signatures = parse_rust_source({"lib.rs": rust})
    return AuditConfig(exports=merge_exports("crate", registrations, signatures, (None, None, {})))


def fix(source: str, config: AuditConfig) -> tuple[str, list[str]]:
    command = FixHooksCommand(CodemodContext(filename="m.py"), config)
    return command.transform_module(cst.parse_module(source)).code, command.fixed


FIXES = [(k.code, f) for k in DEFECT_KINDS for f in k.fixes]


@pytest.mark.parametrize(("code", "example"), FIXES, ids=lambda v: str(v)[:30])
def test_fix_example(code: str, example: FixExample) -> None:
    config = config_for(example.rust)
    assert code in [d.code for d in analyze_source(example.before, "m.py", config).defects]
    after, fixed = fix(example.before, config)
    assert after == example.after
    assert fixed
    again, fixed_again = fix(after, config)
    assert (again, fixed_again) == (after, [])  # a fixed point
    assert [d.code for d in analyze_source(after, "m.py", config).defects] == []


def test_every_kind_says_what_fix_does_or_why_not() -> None:
    for kind in DEFECT_KINDS:
        assert kind.autofix, kind.code
        assert bool(kind.fixes) != kind.autofix.startswith("No mechanical fix"), kind.code


def test_exported_spelling_is_unique_or_nothing() -> None:
    exported = ["sharding_index", "generate_hash", "generate_hash_batch", "sub.f"]
    assert exported_spelling("sharding_index_rust", exported) == "sharding_index"
    assert exported_spelling("generate_hsh", exported) == "generate_hash"
    assert exported_spelling("generate_hash_btch", exported) == "generate_hash_batch"
    assert exported_spelling("something_else", exported) is None
    assert exported_spelling("sub.g", exported) is None
    assert exported_spelling("g", ["g_rust", "g_rs"]) == "g_rust"


def test_bridge_call_string_is_renamed_and_formatting_elsewhere_kept() -> None:
    source = """\
from agent.bridge import bridge

# A comment that stays.
def sharding_index(key, shard_count):
    '''Doc.'''
    return bridge.try_call(
        "sharding_index_rust",  # the Rust name
        key,
        shard_count,
        fallback=lambda: sum(key.encode()) % shard_count,
    )
"""
    config = config_for(FIXES[0][1].rust)
    after, fixed = fix(source, config)
    assert after == source.replace('"sharding_index_rust"', '"sharding_index"')
    assert fixed == ["6: sharding_index: renamed sharding_index_rust to sharding_index"]


def test_hooks_that_need_a_person_are_left_alone() -> None:
    config = config_for(FIXES[0][1].rust)
    for source in (
        # The handler returns a value: which one is meant is a decision.
        "try:\n    import rust_core as rc\nexcept ImportError:\n    rc = None\n\n\n"
        "def f(key, n):\n    if rc:\n        try:\n            return rc.sharding_index(key, n)\n"
        "        except Exception:\n            return -1\n    return len(key) % n\n",
        # The result is used, not returned.
        "try:\n    import rust_core as rc\nexcept ImportError:\n    rc = None\n\n\n"
        "def f(key, n):\n    if rc:\n        try:\n            x = rc.sharding_index(key, n)\n"
        "            return x + 1\n        except Exception:\n            pass\n"
        "    return len(key) % n\n",
    ):
        assert fix(source, config) == (source, [])


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "pyagent.migrate", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fix_then_strict_audit_leaves_only_defects_without_a_mechanical_fix(
    tmp_path: Path,
) -> None:
    write_crate(tmp_path)
    tree = tmp_path / "agent"
    tree.mkdir()
    for index, template in enumerate(templates()):
        (tree / f"m{index:02d}.py").write_text(template.source)
    before = {p: p.read_text() for p in tree.iterdir()}
    check = run("fix", "--check", "--no-built", str(tree))
    assert check.returncode == 1, check.stderr
    assert {p: p.read_text() for p in tree.iterdir()} == before  # --check writes nothing
    diff = run("fix", "--diff", "--no-built", str(tree))
    assert diff.returncode == 0 and "+++ b/" in diff.stdout
    assert {p: p.read_text() for p in tree.iterdir()} == before
    fixed = run("fix", "--no-built", "--format", "json", str(tree))
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["summary"]["fixes"] >= 6
    assert run("fix", "--check", "--no-built", str(tree)).returncode == 0  # idempotent
    audit = run("audit", "--strict", "--no-built", "--format", "json", str(tree))
    assert audit.returncode == 1
    remaining = Counter(d["code"] for d in json.loads(audit.stdout)["defects"])
    without_fix = {k.code for k in DEFECT_KINDS if not k.fixes}
    # The only fixable kinds left are the instances documented as needing a person: the
    # bridge helper's `except Exception` and the example whose handler returns a stub.
    assert {c: n for c, n in remaining.items() if c not in without_fix} == {"panic-escapes": 1}
    assert set(remaining) - {"panic-escapes"} <= without_fix
