"""A bounded run of ``scripts/migrate_cpython_check.py``: hooks in CPython's own modules.

The full run (every module of the script, >= 30 hooks) is documented in docs/migrate.md;
this one takes three modules so CI proves on every change that insert leaves CPython's
tests for them passing exactly as before, ``colorsys.rgb_to_hsv``'s local ``rc`` included.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "migrate_cpython_check.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migrate_cpython_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_cpython_tests_pass_alike_before_and_after_insert() -> None:
    script = load_script()
    if not (script.stdlib_dir() / "test" / "__init__.py").is_file():
        pytest.skip("this interpreter ships without CPython's test package")
    modules = ["colorsys", "shlex", "textwrap"]
    result = script.check(modules, python=sys.executable, min_hooks=10, keep=False)
    assert result["differences"] == []
    assert result["modules_not_from_copy"] == []
    assert result["hooks_inserted"] == sum(len(script.HOOKS[m]) for m in modules) == 14
    assert result["hooks_refused"] == 0
    assert result["colorsys_binding"] == "_rc"  # rgb_to_hsv's own `rc` is left alone
    assert result["tests"] >= 50
    assert result["outcomes_before"] == result["outcomes_after"]
    assert result["ok"] is True


def test_the_full_table_has_at_least_30_hooks_in_several_modules() -> None:
    script = load_script()
    assert sum(len(functions) for functions in script.HOOKS.values()) >= 30
    assert len(script.HOOKS) >= 5
