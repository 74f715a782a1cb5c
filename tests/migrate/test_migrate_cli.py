"""``python -m pyagent.migrate`` end to end through a subprocess, and the runner's guarantees."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import write_crate

from pyagent import base_core
from pyagent.manifest import load_manifest
from pyagent.migrate.__main__ import main
from pyagent.migrate.runner import InsertTask, gather_files, run_files, write_atomic
from pyagent.migrate.targets import TargetSet, module_parts, parse_hook_spec, targets_from_manifest

REPO = Path(__file__).resolve().parents[2]

PLAIN = '''\
"""Plain module."""

import os


def sharding_index(key, shard_count):
    """Shard."""
    return sum(key.encode()) % shard_count
'''

HOOKED = '''\
"""Plain module."""

import os

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]


def sharding_index(key, shard_count):
    """Shard."""
    if rc is not None and hasattr(rc, "sharding_index"):
        return rc.sharding_index(key, shard_count)
    return sum(key.encode()) % shard_count
'''

BROKEN = "def sharding_index(key, shard_count:\n    return 1\n"

VARIANT_E = """\
try:
    from rust_core import generate_hash
    HAS = True
except ImportError:
    HAS = False


def sharding_index(key, shard_count):
    return 0 + sum(key.encode()) % shard_count
"""


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "pyagent.migrate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "agent"
    (root / "core").mkdir(parents=True)
    (root / "core" / "plain.py").write_text(PLAIN, encoding="utf-8")
    (root / "core" / "variant_e.py").write_text(VARIANT_E, encoding="utf-8")
    return root


HOOKS = ("--hook", "core.plain:sharding_index", "--hook", "variant_e:sharding_index=sharding_index")


def test_insert_writes_then_check_is_clean(tree: Path) -> None:
    mode = stat.S_IMODE((tree / "core" / "plain.py").stat().st_mode) | stat.S_IXUSR
    os.chmod(tree / "core" / "plain.py", mode)
    first = run("insert", str(tree), *HOOKS)
    assert first.returncode == 0, first.stderr
    assert (tree / "core" / "plain.py").read_text() == HOOKED
    assert (tree / "core" / "variant_e.py").read_text() == VARIANT_E  # no second import
    assert "2 files scanned, 1 changed, 1 skipped, 0 failed" in first.stderr
    assert stat.S_IMODE((tree / "core" / "plain.py").stat().st_mode) == mode
    assert sorted(p.name for p in (tree / "core").iterdir()) == ["plain.py", "variant_e.py"]
    again = run("insert", "--check", str(tree), *HOOKS)
    assert again.returncode == 0, again.stderr
    assert "0 would change" in again.stderr


def test_check_exits_1_and_writes_nothing(tree: Path) -> None:
    result = run("insert", "--check", str(tree), *HOOKS)
    assert result.returncode == 1
    assert (tree / "core" / "plain.py").read_text() == PLAIN
    assert "1 would change" in result.stderr


def test_diff_prints_unified_diff_and_writes_nothing(tree: Path) -> None:
    result = run("insert", "--diff", str(tree), *HOOKS)
    assert result.returncode == 0, result.stderr
    assert (tree / "core" / "plain.py").read_text() == PLAIN
    plain = str(tree / "core" / "plain.py").lstrip("/")
    assert f"--- a/{plain}\n+++ b/{plain}\n" in result.stdout  # one slash: patch -p1 works
    added = [
        line[1:]
        for line in result.stdout.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    assert added == [
        "try:",
        "    import rust_core as rc",
        "except ImportError:",
        "    rc = None  # type: ignore[assignment, unused-ignore]",
        "",
        '    if rc is not None and hasattr(rc, "sharding_index"):',
        "        return rc.sharding_index(key, shard_count)",
    ]


def test_file_that_fails_to_parse_is_reported_and_untouched(tree: Path) -> None:
    broken = tree / "core" / "broken.py"
    broken.write_text(BROKEN, encoding="utf-8")
    result = run("insert", str(tree), *HOOKS, "--hook", "broken:sharding_index", "--format", "json")
    assert result.returncode == 2
    assert broken.read_text() == BROKEN
    assert (tree / "core" / "plain.py").read_text() == HOOKED  # the others still proceed
    document = json.loads(result.stdout)
    assert document["summary"]["files_failed"] == 1
    assert document["summary"]["files_changed"] == 1
    failed = [f for f in document["files"] if f["status"] == "failed"]
    assert failed[0]["path"].endswith("broken.py")
    assert failed[0]["message"].startswith("cannot parse")


def test_parallel_run_matches_serial(tmp_path: Path) -> None:
    for index in range(40):
        (tmp_path / f"m{index:02d}.py").write_text(PLAIN if index % 2 else VARIANT_E)
    files = gather_files([tmp_path])
    targets = TargetSet(
        tuple(parse_hook_spec(f"{tmp_path}/m{i:02d}.py:sharding_index") for i in range(40))
    )
    serial, summary1 = run_files(InsertTask(targets, "check"), files, jobs=1)
    parallel, summary2 = run_files(InsertTask(targets, "check"), files, jobs=2)
    assert summary2.jobs == 2
    assert [(r.path, r.status) for r in serial] == [(r.path, r.status) for r in parallel]
    assert (summary1.changed, summary1.skipped) == (summary2.changed, summary2.skipped) == (20, 20)


def test_no_progress_bar_without_a_terminal(tree: Path) -> None:
    result = run("audit", str(tree), "--no-built")
    assert "\r" not in result.stderr
    assert "files scanned" in result.stderr


def test_audit_json_schema_and_strict(tmp_path: Path) -> None:
    write_crate(tmp_path)
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "good.py").write_text(HOOKED)
    clean = run("audit", "--strict", "--no-built", "--format", "json", str(agent))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    document = json.loads(clean.stdout)
    assert document["schema"] == 1 and document["command"] == "audit"
    assert set(document) == {
        "schema", "command", "summary", "rust", "files", "failures", "defects", "bridge_helpers",
    }  # fmt: skip
    assert document["rust"]["source_dir"] == str(tmp_path / "rust_core")
    assert document["rust"]["source_exports"] == ["generate_hash", "sharding_index"]
    (hook,) = document["files"][0]["hooks"]
    assert set(hook) == {
        "file", "line", "function", "variant", "shape", "rust_name", "binding", "guard",
        "exception_policy", "caught", "fallback", "exported", "exported_source",
        "exported_built", "arity", "defects",
    }  # fmt: skip
    assert (hook["shape"], hook["exported"], hook["defects"]) == ("canonical", True, [])

    (agent / "bad.py").write_text(
        HOOKED.replace('"sharding_index")', '"shard_index")').replace(
            "rc.sharding_index(", "rc.shard_index("
        )
    )
    strict = run("audit", "--strict", "--no-built", "--format", "json", str(agent))
    assert strict.returncode == 1
    defects = json.loads(strict.stdout)["defects"]
    assert [(d["code"], Path(d["file"]).name, d["line"]) for d in defects] == [
        ("dead-rust-name", "bad.py", 14)
    ]
    assert run("audit", "--no-built", str(agent)).returncode == 0  # not strict


def test_audit_table_and_markdown(tmp_path: Path) -> None:
    write_crate(tmp_path)
    (tmp_path / "m.py").write_text(HOOKED)
    table = run("audit", "--no-built", str(tmp_path / "m.py"))
    assert "canonical" in table.stdout and "sharding_index" in table.stdout
    markdown = run("audit", "--no-built", "--format", "markdown", str(tmp_path / "m.py"))
    assert markdown.stdout.startswith("# rust_core hook audit")
    assert "| location | function |" in markdown.stdout
    assert "No defects." in markdown.stdout


def test_audit_reports_duplicate_registration_in_rust_source(tmp_path: Path) -> None:
    rust = """
#[pyfunction]
fn a(x: u64) -> u64 { x }
#[pyfunction]
#[pyo3(name = "a")]
fn a_v2(x: u64) -> u64 { x }
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(a, m)?)?;
    m.add_function(wrap_pyfunction!(a_v2, m)?)?;
    Ok(())
}
"""
    write_crate(tmp_path, rust)
    (tmp_path / "m.py").write_text("x = 1\n")
    result = run("audit", "--strict", "--no-built", "--format", "json", str(tmp_path / "m.py"))
    assert result.returncode == 1
    (defect,) = json.loads(result.stdout)["defects"]
    assert (defect["code"], defect["rust_name"], defect["line"]) == (
        "duplicate-registration",
        "a",
        9,
    )


def test_dogfood_pyagent_is_exactly_what_insert_produces() -> None:
    check = run("insert", "--check", "pyagent/")
    assert check.returncode == 0, check.stdout + check.stderr
    audit = run("audit", "--strict", "pyagent/")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "canonical" in audit.stdout


def test_manifest_maps_modules_onto_files(tmp_path: Path) -> None:
    package = tmp_path / "pyagent"
    package.mkdir()
    (package / "knowledge_core.py").write_text(PLAIN)
    (package / "other.py").write_text(PLAIN)
    assert main(["insert", "-q", str(package)]) == 0
    assert (package / "knowledge_core.py").read_text() == HOOKED
    assert (package / "other.py").read_text() == PLAIN


def test_manifest_targets_and_module_matching() -> None:
    targets = targets_from_manifest()
    assert targets.for_file(REPO / "pyagent" / "cache_core.py") == {
        "generate_hash": "generate_hash",
        "generate_hash_batch": "generate_hash_batch",
        "verify_integrity": "verify_integrity",
        "verify_integrity_batch": "verify_integrity_batch",
    }
    # A class hot path is a target too (hooked through its constructor), and a dotted Rust
    # name reaches into a rust_core submodule.
    assert targets.for_file(REPO / "pyagent" / "kv_cache_core.py")["BlockManager"] == (
        "block_manager"
    )
    assert targets.unsupported == ()
    dotted = parse_hook_spec("pkg.mod:encode_frame=binary_transport.encode_frame")
    assert dotted.rust == "binary_transport.encode_frame"
    with pytest.raises(ValueError):
        parse_hook_spec("pkg.mod:f=binary_transport..encode")
    assert module_parts(Path("/x/pkg/__init__.py"))[-1] == "pkg"
    spec = parse_hook_spec("pkg.mod:Class.method=m_rust")
    assert (spec.module, spec.function, spec.rust) == ("pkg.mod", "Class.method", "m_rust")
    with pytest.raises(ValueError):
        parse_hook_spec("no-colon")


def test_write_atomic_leaves_no_temp_file_on_error(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "m.py"
    target.write_bytes(b"old\n")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    # save_atomic's Python path, whose rename can be made to fail (its own tests cover Rust).
    monkeypatch.setattr(base_core, "rc", None)
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, b"new\n")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_write_atomic_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_bytes(b"old\n")
    os.chmod(real, 0o640)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    write_atomic(link, b"new\n")
    assert link.is_symlink()
    assert real.read_bytes() == b"new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.py", "real.py"]


def test_write_atomic_refuses_before_writing_when_the_owner_cannot_be_kept(
    tmp_path: Path, monkeypatch
) -> None:
    target = tmp_path / "m.py"
    target.write_bytes(b"old\n")
    # As a user who neither owns the file nor is in its group (and is not root).
    monkeypatch.setattr(os, "geteuid", lambda: target.stat().st_uid + 1)
    monkeypatch.setattr(os, "getegid", lambda: target.stat().st_gid + 1)
    monkeypatch.setattr(os, "getgroups", lambda: [])
    with pytest.raises(PermissionError):
        write_atomic(target, b"new\n")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_status_reads_parity_and_bench(tmp_path: Path) -> None:
    status_dir = tmp_path / "status"
    status_dir.mkdir()
    common = {"schema": 1, "generated_at": "2024-01-01T00:00:00Z", "commit": "abc"}
    parity = {
        **common,
        "profile": "ci",
        "hot_paths": [
            {"name": "generate_hash", "component": "Storage/Cache", "status": "passed",
             "examples": 200, "detail": ""},
        ],
    }  # fmt: skip
    bench = {
        **common,
        "machine": {},
        "hot_paths": [
            {"name": "generate_hash", "workload": "1KiB", "python_s": 2.0, "rust_s": 1.0,
             "peer": "hashlib", "peer_s": 1.5, "rust_vs_python": 2.0, "rust_vs_peer": 1.5,
             "correct": True},
            {"name": "generate_hash", "workload": "1MiB", "python_s": 4.0, "rust_s": 1.0,
             "peer": "hashlib", "peer_s": 1.5, "rust_vs_python": 4.0, "rust_vs_peer": 1.5,
             "correct": True},
        ],
    }  # fmt: skip
    (status_dir / "parity.json").write_text(json.dumps(parity))
    (status_dir / "bench.json").write_text(json.dumps(bench))
    result = run("status", "--no-built", "--status-dir", str(status_dir), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    by_name = {h["name"]: h for h in document["hot_paths"]}
    generate = by_name["generate_hash"]
    assert (generate["hooked"], generate["rust_exported"]) == ("yes", "yes")
    assert generate["parity"] == {"status": "passed", "examples": 200, "detail": ""}
    assert [w["rust_vs_python"] for w in generate["speedup"]["workloads"]] == [2.0, 4.0]
    # Any hot path whose module pyagent does not have yet (which ones changes as issues land).
    root = Path(__file__).resolve().parents[2]
    missing = [
        h for h in load_manifest().hot_paths
        if not (root / (h.module.replace(".", "/") + ".py")).is_file()
    ]  # fmt: skip
    for hot_path in missing[:1]:
        assert by_name[hot_path.name]["hooked"] == "no module"
    assert by_name["sharding_index"]["parity"]["status"] == "not run"
    priorities = [h["priority"] for h in document["hot_paths"]]
    assert priorities == sorted(priorities)
    table = run("status", "--no-built", "--status-dir", str(status_dir))
    assert "2.0-4.0x" in table.stdout
    absent = run(
        "status", "--no-built", "--status-dir", str(tmp_path / "none"), "--format", "markdown"
    )
    assert "parity: not run" in absent.stdout and "bench: not run" in absent.stdout


def test_docs_command_prints_defect_reference() -> None:
    result = run("docs")
    assert result.returncode == 0
    assert "### `rc-undefined`" in result.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("insert", str(tmp_path / "missing")).returncode == 2
    assert run("insert", str(tmp_path), "--hook", "bad").returncode == 2
    assert textwrap.dedent("x") == "x"


def test_progress_bar_draws_only_when_enabled() -> None:
    import io

    from pyagent.migrate.runner import Progress

    stream = io.StringIO()
    bar = Progress(3, stream=stream, enabled=True)
    bar.update(3)
    bar.clear()
    assert "3/3 files" in stream.getvalue()
    quiet = io.StringIO()
    Progress(3, stream=quiet).update(3)  # StringIO is not a terminal
    assert quiet.getvalue() == ""


def test_parse_errors_carry_the_real_position_and_fail_only_strict(tmp_path: Path) -> None:
    write_crate(tmp_path)
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "good.py").write_text(HOOKED)
    # libcst's summary says "@ 1:1" for this one; the error is on line 4.
    (agent / "legacy.py").write_text("import rust_core\n\n\nx = 0777\n")
    (agent / "broken.py").write_text("import rust_core\n\n\ndef f(:\n    pass\n")
    result = run("audit", "--no-built", "--format", "json", str(agent))
    assert result.returncode == 0, result.stderr  # not --strict: reported, not fatal
    failures = {Path(f["path"]).name: f["message"] for f in json.loads(result.stdout)["failures"]}
    assert failures["legacy.py"].startswith("cannot parse: line 4, column ")
    assert "leading zeros" in failures["legacy.py"]
    assert failures["broken.py"].startswith("cannot parse: line 5, column 5: expected one of")
    assert run("audit", "--no-built", "--strict", str(agent)).returncode == 2
