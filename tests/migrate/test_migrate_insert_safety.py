"""``migrate insert`` never breaks working code: each hazard found on CPython's ``Lib/``.

Every case builds a small tree (or module), runs insert, and asserts the result by running
the code, reading the file back, or the exit status and message of the CLI.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from pyagent.migrate.insert import InsertHooksCommand

REPO = Path(__file__).resolve().parents[2]


def insert(source: str, targets: dict[str, str]) -> tuple[str, InsertHooksCommand]:
    """Runs the codemod on ``source``; returns the new source and the command."""
    command = InsertHooksCommand(CodemodContext(filename="m.py"), targets)
    new = command.transform_module(cst.parse_module(textwrap.dedent(source))).code
    return new, command


def load(source: str) -> types.ModuleType:
    """Executes ``source`` as a fresh module (rust_core is absent or lacks the names)."""
    module = types.ModuleType("hooked")
    exec(compile(source, "hooked.py", "exec"), module.__dict__)
    return module


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


# --- the binding name ---------------------------------------------------------------------

COLORSYS_LIKE = """
def rgb_to_hsv(r, g, b):
    maxc = max(r, g, b)
    minc = min(r, g, b)
    rangec = maxc - minc
    if minc == maxc:
        return 0.0, 0.0, maxc
    rc = (maxc - r) / rangec
    gc = (maxc - g) / rangec
    bc = (maxc - b) / rangec
    if r == maxc:
        h = bc - gc
    elif g == maxc:
        h = 2.0 + rc - bc
    else:
        h = 4.0 + gc - rc
    return (h / 6.0) % 1.0, rangec / maxc, maxc
"""


def test_local_rc_gets_another_binding_and_the_function_still_works() -> None:
    new, command = insert(COLORSYS_LIKE, {"rgb_to_hsv": "rgb_to_hsv_probe"})
    assert command.inserted == ["rgb_to_hsv"]
    assert "import rust_core as _rc\n" in new and "    _rc = None" in new
    assert 'if _rc is not None and hasattr(_rc, "rgb_to_hsv_probe"):' in new
    # Before the fix this raised UnboundLocalError on every call.
    assert load(new).rgb_to_hsv(0.2, 0.4, 0.4) == load(COLORSYS_LIKE).rgb_to_hsv(0.2, 0.4, 0.4)
    again, _ = insert(new, {"rgb_to_hsv": "rgb_to_hsv_probe"})
    assert again == new  # idempotent with the other binding too


def test_module_global_rc_is_not_overwritten() -> None:
    source = """
        rc = "release candidate"

        def label(x):
            return f"{x}-{rc}"
    """
    new, _ = insert(source, {"label": "label_probe"})
    assert "import rust_core as _rc" in new
    module = load(new)
    assert module.rc == "release candidate"
    assert module.label("1.0") == "1.0-release candidate"


def test_every_candidate_taken_refuses_the_file() -> None:
    from libcst.codemod import SkipFile

    from pyagent.migrate.hooks import BINDING_CANDIDATES

    source = "".join(f"{name} = 1\n" for name in BINDING_CANDIDATES) + "def f(x):\n    return x\n"
    with pytest.raises(SkipFile, match="every binding name"):
        insert(source, {"f": "f"})


def test_existing_sentinel_and_a_function_with_its_own_rc_is_refused() -> None:
    source = """
        try:
            import rust_core as rc
        except ImportError:
            rc = None

        def f(x, rc=2):
            return x * rc
    """
    new, command = insert(source, {"f": "f"})
    assert new == textwrap.dedent(source)
    assert command.refused == [
        "f: the function uses the name 'rc' itself, which is the module's rust_core "
        "binding here; rename it first"
    ]


# --- methods ------------------------------------------------------------------------------

SEQUENCE_MATCHER_LIKE = """
class SequenceMatcher:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def ratio(self):
        return 2.0 * len(set(self.a) & set(self.b)) / (len(self.a) + len(self.b))

    def describe(self, prefix):
        return prefix + "matcher"
"""


def test_method_using_self_is_refused_and_one_without_is_hooked() -> None:
    new, command = insert(
        SEQUENCE_MATCHER_LIKE, {"SequenceMatcher.ratio": "ratio", "SequenceMatcher.describe": "d"}
    )
    assert command.inserted == ["SequenceMatcher.describe"]
    assert command.refused == [
        "SequenceMatcher.ratio: the method uses 'self', which the dispatch would not pass; "
        "name the target RUST_NAME(self) to pass it"
    ]
    assert "rc.ratio" not in new
    assert load(new).SequenceMatcher("ab", "bc").ratio() == 0.5


def test_method_using_self_is_hooked_when_the_target_passes_self() -> None:
    new, command = insert(SEQUENCE_MATCHER_LIKE, {"SequenceMatcher.ratio": "ratio(self)"})
    assert command.inserted == ["SequenceMatcher.ratio"]
    assert "        return rc.ratio(self)\n" in new
    again, _ = insert(new, {"SequenceMatcher.ratio": "ratio(self)"})
    assert again == new


# --- import placement ---------------------------------------------------------------------


def test_import_goes_after_all_and_the_modules_own_imports() -> None:
    source = '''
        """Support for tasks (asyncio/tasks.py's layout)."""

        __all__ = (
            "Task",
            "sleep",
        )

        import concurrent.futures
        import itertools

        from . import base_tasks

        # Helper to generate new task names
        _task_name_counter = itertools.count(1).__next__


        def sleep(delay):
            return delay
    '''
    new, _ = insert(source, {"sleep": "sleep"})
    lines = new.splitlines()
    at = lines.index("try:")
    assert lines[at - 2] == "from . import base_tasks"
    assert lines.index('    "sleep",') < at
    assert lines[at + 4 :][:2] == ["", "# Helper to generate new task names"]


# --- files and targets through the CLI ----------------------------------------------------

PLAIN = "def shard(key, count):\n    return sum(key.encode()) % count\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "agent"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "util.py").write_text(PLAIN)
    (root / "b" / "util.py").write_text(PLAIN)
    (root / "a" / "solo.py").write_text(PLAIN)
    return root


def test_read_only_file_is_refused_and_kept_read_only(tree: Path) -> None:
    solo = tree / "a" / "solo.py"
    os.chmod(solo, 0o444)
    result = run("insert", str(tree), "--hook", "a.solo:shard")
    assert result.returncode == 0, result.stderr
    assert solo.read_text() == PLAIN
    assert stat.S_IMODE(solo.stat().st_mode) == 0o444
    assert f"refused: {solo}: shard: the file is read-only" in result.stderr
    assert "0 changed, 1 skipped" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another owner needs root")
def test_owner_and_mode_are_kept(tree: Path) -> None:
    solo = tree / "a" / "solo.py"
    os.chown(solo, 4321, 4322)
    os.chmod(solo, 0o640)
    result = run("insert", str(tree), "--hook", "a.solo:shard")
    assert result.returncode == 0, result.stderr
    assert "rc.shard(key, count)" in solo.read_text()
    info = solo.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4321, 4322, 0o640)


def test_missing_function_exits_2(tree: Path) -> None:
    result = run("insert", str(tree), "--hook", "a.solo:nope")
    assert result.returncode == 2
    assert f"error: {tree / 'a' / 'solo.py'}: nope: no such function" in result.stderr


def test_missing_module_exits_2_and_writes_nothing(tree: Path) -> None:
    result = run("insert", str(tree), "--hook", "a.solo:shard", "--hook", "nowhere:shard")
    assert result.returncode == 2
    assert "nowhere:shard: no file under the given paths is nowhere" in result.stderr
    assert (tree / "a" / "solo.py").read_text() == PLAIN


def test_ambiguous_module_exits_2_and_changes_neither_file(tree: Path) -> None:
    result = run("insert", str(tree), "--hook", "util:shard")
    assert result.returncode == 2
    assert "util:shard: util matches 2 files" in result.stderr
    assert (tree / "a" / "util.py").read_text() == PLAIN
    assert (tree / "b" / "util.py").read_text() == PLAIN
    # A longer dotted path picks one.
    assert run("insert", str(tree), "--hook", "a.util:shard").returncode == 0
    assert "rc.shard" in (tree / "a" / "util.py").read_text()
    assert (tree / "b" / "util.py").read_text() == PLAIN


def test_foreign_tree_without_hook_does_not_use_pyagents_manifest(tree: Path) -> None:
    result = run("insert", str(tree))
    assert result.returncode == 2
    assert "no --hook given" in result.stderr and "--manifest" in result.stderr
    assert all(p.read_text() == PLAIN for p in tree.rglob("*.py"))


def test_several_functions_to_one_rust_name_warn(tree: Path) -> None:
    result = run("insert", "--diff", str(tree), "--hook", "a.util:shard", "--hook", "b.util:shard")
    assert result.returncode == 0, result.stderr
    assert (
        "warning: several functions dispatch to rust_core.shard: a.util:shard, b.util:shard"
        in result.stderr
    )


def test_include_and_exclude_globs(tree: Path) -> None:
    from pyagent.migrate.runner import gather_files

    everything = gather_files([tree])
    assert len(everything) == 3
    assert gather_files([tree], exclude=["b"]) == [
        str(tree / "a" / "solo.py"),
        str(tree / "a" / "util.py"),
    ]
    assert gather_files([tree], include=["*/util.py"], exclude=["a/*"]) == [
        str(tree / "b" / "util.py")
    ]
