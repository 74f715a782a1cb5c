"""Suppressions, --select/--ignore, baselines, SARIF, --version and help texts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import write_crate

from pyagent.migrate.__main__ import main
from pyagent.migrate.audit import AuditConfig, analyze_source
from pyagent.migrate.runner import Progress

HEADER = """\
try:
    import rust_core as rc
except ImportError:
    rc = None


"""

# Two defects on line 10: a dead name and `except Exception`.
SWALLOWING = (
    HEADER
    + """\
def f(key, n):
    if rc:
        try:
            return rc.shard_idx(key, n){comment}
        except Exception:
            pass
    return len(key) % n
"""
)


def codes(source: str, config: AuditConfig | None = None) -> list[str]:
    from pyagent.migrate.defects import EXAMPLE_RUST
    from pyagent.migrate.rust_exports import merge_exports, parse_rust_source

    registrations, signatures = parse_rust_source({"lib.rs": EXAMPLE_RUST})
    exports = merge_exports("crate", registrations, signatures, (None, None, {}))
    config = config or AuditConfig()
    config = AuditConfig(exports=exports, select=config.select, ignore=config.ignore)
    audit = analyze_source(source, "m.py", config)
    assert sorted(c for h in audit.hooks for c in h.defects) == sorted(
        d.code for d in audit.defects
    )
    return sorted(d.code for d in audit.defects)


def test_line_suppression_by_code_and_for_all() -> None:
    assert codes(SWALLOWING.format(comment="")) == ["dead-rust-name", "panic-escapes"]
    one = SWALLOWING.format(comment="  # migrate: ignore[panic-escapes]")
    assert codes(one) == ["dead-rust-name"]
    both = SWALLOWING.format(comment="  # migrate: ignore[dead-rust-name, panic-escapes]")
    assert codes(both) == []
    assert codes(SWALLOWING.format(comment="  # migrate: ignore")) == []
    other = SWALLOWING.format(comment="  # migrate: ignore[stub-fallback]")
    assert codes(other) == ["dead-rust-name", "panic-escapes"]


def test_function_suppression_on_the_def_line_or_a_decorator() -> None:
    on_def = SWALLOWING.format(comment="").replace(
        "def f(key, n):", "def f(key, n):  # migrate: ignore[dead-rust-name]"
    )
    assert codes(on_def) == ["panic-escapes"]
    decorated = SWALLOWING.format(comment="").replace(
        "def f(key, n):", "@cache  # migrate: ignore\ndef f(key, n):"
    )
    assert codes(decorated) == []


def test_select_and_ignore() -> None:
    source = SWALLOWING.format(comment="")
    assert codes(source, AuditConfig(select=frozenset({"panic-escapes"}))) == ["panic-escapes"]
    assert codes(source, AuditConfig(ignore=frozenset({"panic-escapes"}))) == ["dead-rust-name"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write_crate(tmp_path)
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "old.py").write_text(SWALLOWING.format(comment=""))
    return agent


def audit(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        code = main(["audit", "-q", "--no-built", "--format", "json", *args])
    return code, json.loads(out.getvalue())


def test_cli_select_ignore_and_unknown_codes(tree: Path) -> None:
    code, document = audit("--strict", "--select", "dead-rust-name", str(tree))
    assert code == 1
    assert [d["code"] for d in document["defects"]] == ["dead-rust-name"]
    code, document = audit("--strict", "--ignore", "dead-rust-name,panic-escapes", str(tree))
    assert (code, document["defects"]) == (0, [])
    assert main(["audit", "-q", "--select", "no-such-code", str(tree)]) == 2


def test_baseline_fails_strict_only_on_new_defects(tree: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert main(["audit", "-q", "--no-built", "--write-baseline", str(baseline), str(tree)]) == 0
    written = json.loads(baseline.read_text())
    assert [(d["code"], d["file"]) for d in written["defects"]] == [
        ("dead-rust-name", "agent/old.py"),
        ("panic-escapes", "agent/old.py"),
    ]
    # Lines move: still known.
    (tree / "old.py").write_text("import os\n\n" + (tree / "old.py").read_text())
    code, document = audit("--strict", "--baseline", str(baseline), str(tree))
    assert code == 0
    assert document["summary"]["defects_new"] == 0
    assert all(d["baseline"] for d in document["defects"])
    # A new defect in a new file fails.
    (tree / "new.py").write_text(SWALLOWING.format(comment="").replace("shard_idx", "shrd"))
    code, document = audit("--strict", "--baseline", str(baseline), str(tree))
    assert code == 1
    assert document["summary"]["defects_new"] == 2
    assert sorted(Path(d["file"]).name for d in document["defects"] if not d["baseline"]) == [
        "new.py",
        "new.py",
    ]
    (tmp_path / "not-a-baseline.json").write_text("{}")
    assert (
        main(["audit", "-q", "--baseline", str(tmp_path / "not-a-baseline.json"), str(tree)]) == 2
    )


def test_sarif_output(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.sarif"
    assert main(["audit", "-q", "--no-built", "--format", "sarif", "-o", str(out), str(tree)]) == 0
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "dead-rust-name" in rules and "oserror-skips-python" in rules
    results = sorted((r["ruleId"], r["level"]) for r in run["results"])
    assert results == [("dead-rust-name", "error"), ("panic-escapes", "error")]
    for result in run["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].endswith("agent/old.py")
        assert location["region"]["startLine"] == 10


def test_version_and_help_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as version:
        main(["--version"])
    assert version.value.code == 0
    assert capsys.readouterr().out.startswith("pyagent-migrate 0.")
    for command in ("audit", "insert", "fix"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "examples:" in text and f"pyagent-migrate {command}" in text


def test_progress_shows_an_eta() -> None:
    stream = io.StringIO()
    bar = Progress(4, stream=stream, enabled=True)
    bar.started -= 2.0  # two seconds in, one file of four done
    bar.update(1)
    assert "1/4 files" in stream.getvalue() and "ETA 6s" in stream.getvalue()


def test_suppression_at_the_end_of_a_wrapped_call() -> None:
    source = (
        "from agent.bridge import bridge\n\n\n"
        "def f(key, n):\n"
        "    return bridge.try_call(\n"
        '        "sharding_index", key, n, fallback=lambda: 0\n'
        "    )  # migrate: ignore[stub-fallback]\n"
    )
    assert codes(source) == []
    assert codes(source.replace("  # migrate: ignore[stub-fallback]", "")) == ["stub-fallback"]
