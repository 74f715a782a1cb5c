from __future__ import annotations

import json
import re
import tomllib

import pytest

import pyagent
from pyagent.backend import Backend, backend_report, forced_python, parse_backend
from pyagent.manifest import load_manifest
from tests.conftest import ROOT, run_python


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Backend.AUTO),
        ("", Backend.AUTO),
        ("  ", Backend.AUTO),
        ("auto", Backend.AUTO),
        ("python", Backend.PYTHON),
        (" Python ", Backend.PYTHON),
        ("RUST", Backend.RUST),
    ],
)
def test_parse_backend_accepts(value: str | None, expected: Backend) -> None:
    assert parse_backend(value) is expected


@pytest.mark.parametrize(
    "value", ["0", "1", "true", "false", "native", "pure", "py", "rust,python"]
)
def test_parse_backend_rejects_everything_else(value: str) -> None:
    with pytest.raises(ValueError, match="PYAGENT_BACKEND"):
        parse_backend(value)


def test_invalid_value_fails_at_import() -> None:
    result = run_python("import pyagent", env={"PYAGENT_BACKEND": "yes"})
    assert result.returncode != 0
    assert "ValueError" in result.stderr and "PYAGENT_BACKEND='yes'" in result.stderr


def test_python_forces_every_hook_to_fall_back() -> None:
    code = (
        "import pyagent, sys\n"
        "from pyagent import cache_core\n"
        "assert cache_core.rc is None\n"
        "try:\n    import rust_core\nexcept ImportError:\n    print('blocked')\n"
        "rows = {r.name: r for r in pyagent.backend_report()}\n"
        "print(rows['generate_hash'].backend, rows['generate_hash'].reason)\n"
        "print(cache_core.generate_hash(b'abc', 'md5'))\n"
    )
    result = run_python(code, env={"PYAGENT_BACKEND": "python"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "blocked"
    assert lines[1] == "python forced by PYAGENT_BACKEND=python"
    assert lines[2] == "900150983cd24fb0d6963f7d28e17f72"


def test_rust_with_no_extension_is_an_import_error() -> None:
    code = "import sys; sys.modules['rust_core'] = None\nimport pyagent"
    result = run_python(code, env={"PYAGENT_BACKEND": "rust"})
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "nox -s build" in result.stderr


FAKE = (
    "import sys, types\n"
    "fake = types.ModuleType('rust_core')\n"
    "fake.__version__ = {version!r}\n"
    "sys.modules['rust_core'] = fake\n"
)


def test_rust_with_an_incomplete_extension_names_what_is_missing() -> None:
    code = FAKE.format(version=pyagent.__version__) + "import pyagent"
    result = run_python(code, env={"PYAGENT_BACKEND": "rust"})
    assert result.returncode != 0
    assert "lacks migrated hot paths" in result.stderr
    assert "generate_hash" in result.stderr and "save_atomic" in result.stderr


def test_version_mismatch_is_an_error_under_rust() -> None:
    code = FAKE.format(version="0.0.0-stale") + "import pyagent"
    result = run_python(code, env={"PYAGENT_BACKEND": "rust"})
    assert result.returncode != 0
    assert "does not match pyagent" in result.stderr


def test_version_mismatch_falls_back_with_a_warning_under_auto() -> None:
    code = FAKE.format(version="0.0.0-stale") + (
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import pyagent\n"
        "from pyagent import cache_core\n"
        "print(cache_core.rc is None, [str(w.message) for w in caught])\n"
    )
    result = run_python(code, env={})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("True") and "does not match" in result.stdout


def test_a_rust_error_propagates_instead_of_falling_back() -> None:
    code = (
        "import pyagent\nfrom pyagent import knowledge_core\n"
        "class Boom:\n"
        "    def sharding_index(self, key, count):\n"
        "        raise RuntimeError('native failure')\n"
        "knowledge_core.rc = Boom()\n"
        "try:\n    knowledge_core.sharding_index('k', 3)\n"
        "except RuntimeError as exc:\n    print('propagated', exc)\n"
    )
    result = run_python(code, env={"PYAGENT_BACKEND": "python"})
    assert result.stdout.strip() == "propagated native failure", result.stderr


def test_an_older_build_missing_a_function_falls_back_for_that_function() -> None:
    code = (
        "import pyagent\nfrom pyagent import knowledge_core\n"
        "class Old:\n    pass\n"
        "knowledge_core.rc = Old()\n"
        "print(knowledge_core.sharding_index('Wikipedia', 1 << 40))\n"
    )
    result = run_python(code, env={"PYAGENT_BACKEND": "python"})
    assert result.stdout.strip() == "300286872", result.stderr


def test_backend_report_covers_every_hot_path(backend_name: str) -> None:
    rows = backend_report()
    assert [r.name for r in rows] == list(load_manifest().names)
    by_name = {r.name: r for r in rows}
    expected = "python" if backend_name == "python" else "rust"
    for hot_path in load_manifest().migrated:
        assert by_name[hot_path.name].backend == expected, by_name[hot_path.name]
    for hot_path in [h for h in load_manifest().hot_paths if not h.migrated][:1]:
        assert by_name[hot_path.name].backend == "pending"


def test_cli_prints_the_report() -> None:
    result = run_python("from pyagent.__main__ import main; main()")
    assert result.returncode == 0, result.stderr
    assert re.search(r"sharding_index\s+(rust|python)\s", result.stdout)


def test_cli_prints_totals_and_json(backend_name: str) -> None:
    table = run_python("from pyagent.__main__ import main; main([])")
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("pyagent ")
    total = len(load_manifest().names)
    assert re.search(rf"^{total} hot paths: \d+ ", table.stdout, re.MULTILINE)
    done = run_python(
        "from pyagent.__main__ import main; main(['--json'])",
        env={"PYAGENT_BACKEND": backend_name},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["hot_paths"]) == total == sum(report["totals"].values())
    expected = "python" if backend_name == "python" else "rust"
    assert report["totals"].get(expected, 0) == len(load_manifest().migrated)


def test_a_rust_core_folder_is_not_taken_for_the_extension(tmp_path) -> None:
    """A checkout's rust_core/ folder on sys.path is a namespace package, not a build."""
    (tmp_path / "rust_core").mkdir()
    code = (
        "import importlib.machinery, sys, warnings\n"
        # rust_core resolves to the folder only (any installed extension is out of reach).
        "class OnlyFolder:\n"
        "    @staticmethod\n"
        "    def find_spec(name, path=None, target=None):\n"
        "        if name == 'rust_core':\n"
        f"            return importlib.machinery.PathFinder.find_spec(name, [{str(tmp_path)!r}])\n"
        "sys.meta_path.insert(0, OnlyFolder)\n"
        "warnings.simplefilter('error')\n"
        "import pyagent\n"
        "from pyagent import cache_core\n"
        "print(cache_core.rc, pyagent.backend_report()[0].backend)\n"
    )
    auto = run_python(code)
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout.split()[0] == "None"
    forced = run_python(code, env={"PYAGENT_BACKEND": "rust"})
    assert forced.returncode == 1
    assert "rust_core is only a folder" in forced.stderr


def test_cli_with_an_invalid_backend_is_a_clean_error() -> None:
    code = (
        "import subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'pyagent'], capture_output=True, text=True)\n"
        "print(done.returncode); print(done.stderr, end='')\n"
    )
    result = run_python(code, env={"PYAGENT_BACKEND": "bogus"})
    code_line, *err = result.stdout.splitlines()
    assert code_line == "2"
    assert err == [
        "python -m pyagent: error: PYAGENT_BACKEND='bogus' is not one of: auto, python, rust"
    ]
    # Imported as a library, the same value is still a ValueError.
    library = run_python("import pyagent", env={"PYAGENT_BACKEND": "bogus"})
    assert library.returncode == 1
    assert "ValueError: PYAGENT_BACKEND='bogus'" in library.stderr


def test_cli_on_a_terminal_draws_a_rich_table() -> None:
    code = (
        "import rich.console\n"
        "rich.console.Console.is_terminal = property(lambda self: True)\n"
        "from pyagent.__main__ import main; main([])\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "\x1b[" in result.stdout  # styled
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert "┃ hot path" in text
    assert re.search(r"│ sharding_index\s+│ (rust|python) ", text)
    assert re.search(r"^\d+ hot paths: \d+ ", text, re.MULTILINE)


def test_cli_into_a_closed_pipe_ends_quietly() -> None:
    """`python -m pyagent | head` must not end in a BrokenPipeError traceback."""
    code = (
        "import os, subprocess, sys\n"
        "r, w = os.pipe()\n"
        "os.close(r)\n"  # the reader is gone before anything is written
        "done = subprocess.run([sys.executable, '-m', 'pyagent'], stdout=w,\n"
        "                      stderr=subprocess.PIPE)\n"
        "print(done.returncode, repr(done.stderr.decode()))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 ''"


@pytest.mark.requires_rust
def test_forced_python_swaps_and_restores_the_sentinel() -> None:
    from pyagent import cache_core

    native = cache_core.rc
    assert native is not None
    with forced_python():
        assert cache_core.rc is None
    assert cache_core.rc is native


@pytest.mark.requires_rust
def test_extension_version_matches_pyagent() -> None:
    import rust_core

    assert rust_core.__version__ == pyagent.__version__


def test_cargo_version_matches_pyagent() -> None:
    cargo = tomllib.loads((ROOT / "rust_core" / "Cargo.toml").read_text(encoding="utf-8"))
    assert cargo["package"]["version"] == pyagent.__version__
