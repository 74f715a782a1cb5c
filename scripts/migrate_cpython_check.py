"""Proves ``migrate insert`` safe on code nobody here wrote: CPython's own ``Lib/``.

The installed CPython's standard library is copied to a temporary folder; CPython's own
tests for a set of modules run on that copy (it goes first on ``sys.path``); ``migrate
insert`` hooks pure functions of those modules (>= 30 by default) to Rust names the
extension does not have, so every hook takes the Python path; the same tests run again.
The check passes when both runs give identical per-test outcomes (read from regrtest's
JUnit XML), every touched module was loaded from the copy, and enough hooks went in.

    python scripts/migrate_cpython_check.py                      # all modules below
    python scripts/migrate_cpython_check.py --modules colorsys shlex --min-hooks 5
    python scripts/migrate_cpython_check.py --keep --json result.json

Exit status: 0 identical results; 1 a difference (or too few hooks, or a module not
loaded from the copy); 2 the interpreter has no ``test`` package (some distributions ship
it apart, e.g. Debian's ``libpython3.X-testsuite``) or another setup problem.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Module -> pure functions to hook (top-level functions, no generators, no ``self``).
#: colorsys.rgb_to_hsv has a local named ``rc``: insert must pick another binding.
HOOKS: dict[str, tuple[str, ...]] = {
    "colorsys": (
        "rgb_to_yiq",
        "yiq_to_rgb",
        "rgb_to_hls",
        "hls_to_rgb",
        "rgb_to_hsv",
        "hsv_to_rgb",
    ),
    "textwrap": ("wrap", "fill", "shorten", "dedent", "indent"),
    "shlex": ("split", "join", "quote"),
    "html": ("escape", "unescape"),
    "base64": (
        "b64encode",
        "b64decode",
        "standard_b64encode",
        "urlsafe_b64encode",
        "b32encode",
        "b16encode",
        "b16decode",
        "b85encode",
    ),
    "difflib": ("get_close_matches", "ndiff", "IS_LINE_JUNK", "IS_CHARACTER_JUNK"),
    "fnmatch": ("fnmatch", "fnmatchcase", "filter", "translate"),
    "statistics": ("mean", "median", "median_low", "median_high", "mode", "pstdev", "pvariance"),
    "calendar": ("isleap", "leapdays", "monthrange"),
    "quopri": ("encodestring", "decodestring"),
    "string": ("capwords",),
}


def stdlib_dir() -> Path:
    """The running interpreter's ``Lib/`` (``sysconfig``'s ``stdlib`` path)."""
    return Path(sysconfig.get_paths()["stdlib"])


def copy_stdlib(source: Path, target: Path) -> Path:
    """Copies ``Lib/`` without third-party packages and bytecode; returns the copy."""
    lib = target / "Lib"
    shutil.copytree(
        source, lib, ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc")
    )
    return lib


def _env(lib: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(lib)  # the copy first: its modules shadow the installed ones
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def loaded_from_copy(python: str, lib: Path, modules: Sequence[str]) -> dict[str, str]:
    """Where each module is imported from with the copy on the path."""
    probe = (
        "import importlib, json, sys\n"
        f"names = {list(modules)!r}\n"
        "found = {n: importlib.import_module(n).__file__ for n in names}\n"
        "try:\n"
        "    import rust_core\n"
        "    found['rust_core'] = rust_core.__file__ or 'rust_core'\n"
        "except ImportError:\n"
        "    pass\n"
        "print(json.dumps(found))\n"
    )
    done = subprocess.run(
        [python, "-c", probe], env=_env(lib), capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def run_tests(python: str, lib: Path, modules: Sequence[str], report: Path) -> dict[str, str]:
    """Runs CPython's tests of ``modules`` on the copy; returns test id -> outcome."""
    tests = [f"test_{m}" for m in modules]
    subprocess.run(
        [python, "-m", "test", "--junit-xml", str(report), *tests],
        env=_env(lib),
        cwd=lib.parent,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
        classname = case.get("classname")
        name = case.get("name") or ""
        outcomes[f"{classname}.{name}" if classname else name] = outcome
    return outcomes


def insert_hooks(python: str, lib: Path, modules: Sequence[str]) -> dict[str, object]:
    """``migrate insert`` of every function of :data:`HOOKS` for ``modules``; its JSON."""
    args = [python, "-m", "pyagent.migrate", "insert", "-q", "--format", "json"]
    paths = []
    for module in modules:
        path = lib / f"{module}.py"
        if not path.is_file():  # a package: html/__init__.py
            path = lib / module / "__init__.py"
        paths.append(str(path))
        for function in HOOKS[module]:
            # Names rust_core cannot have, one per function: every hook falls back.
            args += ["--hook", f"{path}:{function}=cpython_check_{module}_{function}"]
    done = subprocess.run(
        [*args, *paths],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrate insert exited {done.returncode}: {done.stderr}")
    document: dict[str, object] = json.loads(done.stdout)
    return document


def check(modules: Sequence[str], *, python: str, min_hooks: int, keep: bool) -> dict[str, object]:
    """The whole check; returns its numbers (``ok`` says whether it passed)."""
    source = stdlib_dir()
    if not (source / "test" / "__init__.py").is_file():
        raise FileNotFoundError(
            f"{source}/test is missing: this CPython has no test package "
            "(install it, e.g. libpython3.X-testsuite on Debian)"
        )
    work = Path(tempfile.mkdtemp(prefix="migrate-cpython-"))
    started = time.monotonic()
    try:
        lib = copy_stdlib(source, work)
        files = loaded_from_copy(python, lib, modules)
        # With rust_core importable the hooks' hasattr guard is what sends them to Python.
        rust_core = files.pop("rust_core", None)
        outside = sorted(m for m, f in files.items() if not f.startswith(str(lib)))
        before = run_tests(python, lib, modules, work / "before.xml")
        document = insert_hooks(python, lib, modules)
        summary = document["summary"]
        assert isinstance(summary, dict)
        after = run_tests(python, lib, modules, work / "after.xml")
        differences = sorted(
            f"{test}: {before.get(test, 'absent')} -> {after.get(test, 'absent')}"
            for test in set(before) | set(after)
            if before.get(test) != after.get(test)
        )
        colorsys = (lib / "colorsys.py").read_text(encoding="utf-8")
        result: dict[str, object] = {
            "python": sys.version.split()[0],
            "stdlib": str(source),
            "modules": list(modules),
            "hooks_inserted": summary["hooks_inserted"],
            "hooks_refused": summary.get("hooks_refused", 0),
            "tests": len(before),
            "outcomes_before": _count(before),
            "outcomes_after": _count(after),
            "differences": differences,
            "modules_not_from_copy": outside,
            "colorsys_binding": "_rc" if "import rust_core as _rc" in colorsys else None,
            "rust_core_importable": rust_core is not None,
            "elapsed_s": round(time.monotonic() - started, 1),
        }
        result["ok"] = (
            not differences
            and not outside
            and len(before) > 0
            and int(str(summary["hooks_inserted"])) >= min_hooks
        )
        if keep:
            result["kept"] = str(work)
        return result
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _count(outcomes: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return dict(sorted(counts.items()))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--modules", nargs="+", choices=sorted(HOOKS), default=sorted(HOOKS), metavar="MODULE"
    )
    parser.add_argument("--min-hooks", type=int, default=30, help="fail below this many hooks")
    parser.add_argument("--python", default=sys.executable, help="interpreter to test with")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    try:
        result = check(args.modules, python=args.python, min_hooks=args.min_hooks, keep=args.keep)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"migrate_cpython_check: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
