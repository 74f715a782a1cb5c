"""``--extension NAME``: insert, audit and fix hook an agent's own extension under its name."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyagent.migrate.__main__ import main

PLAIN = '''\
"""Scoring."""


def score(x):
    """The score."""
    return x + 1
'''

#: An agent's own extension, stood in for by a Python module with the Rust function.
NATIVE = "def score_rust(x):\n    return ('native', x)\n"

SWALLOWING = """\
try:
    import myagent._native as rc
except ImportError:
    rc = None


def score(x):
    if rc is not None:
        try:
            return rc.score(x)
        except Exception:
            pass
    return x + 1
"""


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    (tmp_path / "myagent").mkdir()
    (tmp_path / "myagent" / "__init__.py").write_text("")
    (tmp_path / "myagent" / "scoring.py").write_text(PLAIN)
    return tmp_path


def _call_score(root: Path, with_native: bool) -> object:
    native = root / "myagent" / "_native.py"
    if with_native:
        native.write_text(NATIVE)
    else:
        native.unlink(missing_ok=True)
    code = "import myagent.scoring as s; print(repr(s.score(41)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    return eval(out.stdout)


def test_insert_imports_the_named_extension_and_dispatches_to_it(agent: Path, capsys) -> None:
    hook = ["--hook", "myagent.scoring:score=score_rust"]
    code = main(["insert", "--extension", "myagent._native", *hook, "-j", "1", str(agent)])
    assert code == 0, capsys.readouterr().err
    source = (agent / "myagent" / "scoring.py").read_text()
    assert "import myagent._native as rc\n" in source
    assert "rust_core" not in source
    assert 'if rc is not None and hasattr(rc, "score_rust"):' in source
    # The hook works: Rust's answer with the extension, Python's without.
    assert _call_score(agent, with_native=True) == ("native", 41)
    assert _call_score(agent, with_native=False) == 42
    # Idempotent: the second run recognises the hook under the extension's name.
    assert main(["insert", "--extension", "myagent._native", *hook, "--check", str(agent)]) == 0


def test_default_extension_is_rust_core(agent: Path) -> None:
    assert main(["insert", "--hook", "myagent.scoring:score", "-j", "1", "-q", str(agent)]) == 0
    assert "import rust_core as rc\n" in (agent / "myagent" / "scoring.py").read_text()


def _audit(root: Path, capsys, *extra: str) -> dict:
    args = ["audit", "--no-built", "--no-rust-source", "--format", "json", "-q", *extra]
    assert main([*args, str(root)]) == 0
    return json.loads(capsys.readouterr().out)


def test_audit_finds_hooks_of_the_named_extension_only(agent: Path, capsys) -> None:
    (agent / "myagent" / "scoring.py").write_text(SWALLOWING)
    mine = _audit(agent, capsys, "--extension", "myagent._native")
    assert mine["summary"]["imports"] == 1
    assert mine["summary"]["hooks"] == 1
    # The same defect the default extension's hooks get: Rust errors swallowed.
    assert mine["summary"]["defects_by_code"] == {"panic-escapes": 1}
    assert mine["summary"]["variants"] == {"A": 1}
    default = _audit(agent, capsys)
    assert default["summary"]["imports"] == 0
    assert default["summary"]["hooks"] == 0


def test_audit_sees_a_from_import_of_a_dotted_extension(agent: Path, capsys) -> None:
    source = SWALLOWING.replace("import myagent._native as rc", "from myagent import _native as rc")
    (agent / "myagent" / "scoring.py").write_text(source)
    found = _audit(agent, capsys, "--extension", "myagent._native")
    assert found["summary"]["imports"] == 1
    assert found["summary"]["hooks"] == 1


def test_fix_rewrites_hooks_of_the_named_extension(agent: Path, capsys) -> None:
    path = agent / "myagent" / "scoring.py"
    path.write_text(SWALLOWING)
    base = ["fix", "--no-built", "--no-rust-source", "-j", "1", "-q"]
    # Not this module's extension by default: nothing to fix.
    assert main([*base, "--check", str(agent)]) == 0
    assert main([*base, "--extension", "myagent._native", str(agent)]) == 0
    fixed = path.read_text()
    assert "except Exception" not in fixed
    assert "return rc.score(x)" in fixed
    assert "import myagent._native as rc" in fixed


@pytest.mark.parametrize("bad", ["1native", "my-agent.native", "a..b", "class", ""])
def test_an_extension_that_is_not_a_module_name_is_a_usage_error(
    agent: Path, bad: str, capsys
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "--extension", bad, str(agent)])
    assert exit_.value.code == 2
    assert "is not a module name" in capsys.readouterr().err


def test_insert_hook_text_is_unchanged_for_rust_core(agent: Path) -> None:
    """The default writes exactly the canonical hook pyagent's own modules carry."""
    main(["insert", "--hook", "myagent.scoring:score", "-j", "1", "-q", str(agent)])
    source = (agent / "myagent" / "scoring.py").read_text()
    assert source.startswith(
        textwrap.dedent('''\
        """Scoring."""

        try:
            import rust_core as rc
        except ImportError:
            rc = None  # type: ignore[assignment, unused-ignore]
        ''')
    )
