"""Writes the generated pages of the docs site: migration status and audit report.

``python docs/_generate/status.py [--status-dir build/status] [--audit run|saved|skip]``

Reads the hot-path manifest (``pyagent/hot_paths.toml``, the one list of hot paths), the
saved results of ``nox -s parity`` (``parity.json``) and ``nox -s bench`` (``bench.json``),
and the output of ``python -m pyagent.migrate audit pyagent/ --format json``, then writes
``docs/status.md`` with ``docs/status.json`` (its data) and ``docs/audit.md`` with
``docs/audit.json``. It reports only what those files record: a hot path without a parity
result says "not run", one without a benchmark shows no speedup.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import html
import importlib
import json
import math
import subprocess
import sys
import types
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

with warnings.catch_warnings():
    # Without a built extension `import pyagent` warns that it falls back to Python: true,
    # and irrelevant here, where rust_core is only inspected.
    warnings.simplefilter("ignore", RuntimeWarning)
    from pyagent.manifest import HotPath, Manifest, load_manifest

DOCS = ROOT / "docs"
STATUS_DIR = ROOT / "build" / "status"
RUST_CRATE = ROOT / "rust_core"
#: The committed, append-only benchmark record (``nox -s bench`` adds one file per run).
RESULTS_DIR = ROOT / "bench" / "results"
#: The committed, append-only record of mutation runs (``nox -s mutants`` adds one per run).
MUTANTS_DIR = ROOT / "results" / "mutants"
#: Issue 15's bar per hot path: under it, a green parity row proves little.
MUTATION_FLOOR = 0.8
MKDOCS_YML = ROOT / "mkdocs.yml"
#: The pages this module writes, relative to ``docs/``.
GENERATED = ("status.md", "status.json", "audit.md", "audit.json")

SECTION_TITLES = {
    "1": "Section 1: core hot paths",
    "2": "Section 2: global protocols",
    "3-next": "Section 3: next priority",
}
PARITY_LABELS = {
    "passed": "passed",
    "failed": "failing",
    "no property": "failing (no parity property)",
    "not migrated": "not migrated",
}


# --- inputs -------------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object saved at ``path``, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def bench_history(results_dir: Path) -> list[dict[str, Any]]:
    """Every complete run recorded in ``results_dir``, oldest first (by ``generated_at``)."""
    runs = []
    for path in sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []:
        data = read_json(path)
        if data is None or data.get("partial") or not isinstance(data.get("hot_paths"), list):
            continue
        runs.append(data | {"file": path.name})
    return sorted(runs, key=lambda r: str(r.get("generated_at", "")))


def latest_bench(status_dir: Path, results_dir: Path) -> dict[str, Any] | None:
    """The newest benchmark run: the local ``bench.json`` or the newest committed one.

    A fresh clone has no ``build/status/bench.json``; the committed record then supplies the
    figures (the page names the file), so the site never shows "not benchmarked" for want of
    a local run.
    """
    local = read_json(status_dir / "bench.json")
    history = bench_history(results_dir)
    committed = history[-1] if history else None
    if local is None:
        return committed
    if committed is not None and str(committed.get("generated_at", "")) > str(
        local.get("generated_at", "")
    ):
        return committed
    return local


def latest_mutants(status_dir: Path, record_dir: Path = MUTANTS_DIR) -> dict[str, Any] | None:
    """Per hot path, the row of the newest mutation run that covered it.

    Runs are the committed record (``results/mutants/``, what a fresh clone shows) and the
    local ``mutants.json``; a run of some hot paths (``--only``) updates only theirs. Each
    row keeps its run's commit, date, sample and seed, so the page says where a score came
    from. None when no run is saved anywhere.
    """
    runs = []
    for path in sorted(record_dir.glob("*.json")) if record_dir.is_dir() else []:
        data = read_json(path)
        if data is not None:
            runs.append(data | {"file": path.name})
    local = read_json(status_dir / "mutants.json")
    if local is not None:
        runs.append(local)
    runs = [r for r in runs if isinstance(r.get("hot_paths"), list)]
    if not runs:
        return None
    runs.sort(key=lambda r: str(r.get("generated_at", "")))
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        for row in run["hot_paths"]:
            if isinstance(row, dict) and isinstance(row.get("name"), str):
                rows[row["name"]] = row | {
                    "run": {k: run.get(k) for k in ("generated_at", "commit", "sample", "seed")}
                    | ({"file": run["file"]} if "file" in run else {})
                }
    used = {(r["run"].get("generated_at"), r["run"].get("commit")) for r in rows.values()}
    newest = runs[-1]
    return {
        "generated_at": newest.get("generated_at"),
        "commit": newest.get("commit", "unknown"),
        "sample": newest.get("sample"),
        "runs": len(used),
        "hot_paths": list(rows.values()),
    }


def issues_url(mkdocs_yml: Path = MKDOCS_YML) -> str:
    """``extra.issues_url`` of mkdocs.yml (issue N links to it + N), or "" when unset."""
    try:
        import yaml
    except ImportError:
        return ""
    try:
        config = yaml.safe_load(mkdocs_yml.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ""
    url = (config.get("extra") or {}).get("issues_url") or ""
    return str(url)


def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports_rc(node: ast.stmt) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Import) and any(
            a.name == "rust_core" and a.asname == "rc" for a in child.names
        ):
            return True
    return False


def _sets_rc_none(handler: ast.ExceptHandler) -> bool:
    for child in ast.walk(handler):
        if (
            isinstance(child, ast.Assign)
            and isinstance(child.value, ast.Constant)
            and child.value.value is None
            and any(isinstance(t, ast.Name) and t.id == "rc" for t in child.targets)
        ):
            return True
    return False


def has_rc_sentinel(tree: ast.Module) -> bool:
    """Whether the module does ``try: import rust_core as rc`` / ``except ...: rc = None``."""
    for node in tree.body:
        if (
            isinstance(node, ast.Try)
            and any(_imports_rc(s) for s in node.body)
            and any(_sets_rc_none(h) for h in node.handlers)
        ):
            return True
    return False


def _top_level_defs(tree: ast.Module) -> dict[str, ast.AST]:
    defs: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defs[node.name] = node
    return defs


def _calls_rc(node: ast.AST, rust: str) -> bool:
    # ``rc.f`` or, for a dotted name, ``rc.sub.f``: compare the attribute chain from ``rc``.
    return any(
        isinstance(n, ast.Attribute) and ast.unparse(n) == f"rc.{rust}" for n in ast.walk(node)
    )


def python_hook(hot_path: HotPath) -> tuple[bool, str]:
    """Whether every Python function of the hot path exists and dispatches to ``rc``.

    Read from the source (no import): the module exists, holds the ``rc`` sentinel, defines
    each function (or class) at top level, and that definition refers to ``rc.<rust name>``.
    """
    path = _module_file(hot_path.module)
    if path is None:
        return False, "module not written yet"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError) as exc:
        return False, f"module does not parse: {exc}"
    if not has_rc_sentinel(tree):
        return False, "module has no `rc` sentinel"
    defs = _top_level_defs(tree)
    for function in hot_path.functions:
        node = defs.get(function.python)
        if node is None:
            return False, f"`{function.python}` not defined"
        if not _calls_rc(node, function.rust):
            return False, f"`{function.python}` does not call `rc.{function.rust}`"
    return True, ", ".join(f"`{f.python}`" for f in hot_path.functions)


def source_exports(crate: Path = RUST_CRATE) -> set[str]:
    """Python names the crate's PyO3 bindings register.

    Read by the codemod's Rust reader (``migrate.rust_exports``), so audit and status share
    one parser of the registrations.
    """
    from pyagent.migrate.rust_exports import read_rust_exports

    return set(read_rust_exports(crate, use_built=False).source_names or ())


@dataclass(frozen=True)
class RustExports:
    """What ``rust_core`` exports and how we know it."""

    names: frozenset[str]
    source: str  # "built extension X.Y.Z" or "source registrations"

    @classmethod
    def from_source(cls) -> RustExports:
        """The names the crate's PyO3 bindings register."""
        return cls(frozenset(source_exports()), "registrations in rust_core/src/python")

    @classmethod
    def find(cls) -> RustExports:
        """The installed extension's names when it imports, else the source registrations."""
        try:
            rust_core = importlib.import_module("rust_core")
        except ImportError:
            rust_core = None
        # The crate's folder is a namespace package when nothing is installed: not a build.
        if getattr(rust_core, "__file__", None) is None:
            return cls.from_source()
        version = getattr(rust_core, "__version__", "?")
        names = set(dir(rust_core))
        # Submodule members under dotted names, as the manifest writes them.
        for name in list(names):
            value = getattr(rust_core, name, None)
            if isinstance(value, types.ModuleType) and value is not rust_core:
                names |= {f"{name}.{member}" for member in dir(value)}
        return cls(frozenset(names), f"the built extension rust_core {version}")


def run_audit(target: str = "pyagent/") -> tuple[Any | None, str]:
    """Runs ``python -m pyagent.migrate audit TARGET --format json``; (data, note)."""
    if not (ROOT / "pyagent" / "migrate" / "__main__.py").is_file():
        return None, "the `migrate` codemod is not in this checkout"
    command = [sys.executable, "-m", "pyagent.migrate", "audit", target, "--format", "json"]
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"`{' '.join(command[1:])}` did not run: {exc}"
    try:
        return json.loads(done.stdout), f"exit status {done.returncode}"
    except ValueError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"`migrate audit` exited {done.returncode} without JSON: {last}"


# --- the status model -------------------------------------------------------------------


@dataclass
class BenchRow:
    """One benchmark group of ``bench.json`` (a hot path's main or extra workload)."""

    name: str
    workload: str
    peer: str
    python_s: float | None
    rust_s: float | None
    peer_s: float | None
    rust_vs_python: float | None
    rust_vs_peer: float | None
    correct: bool


@dataclass
class HotPathStatus:
    """Everything the status page says about one hot path."""

    name: str
    component: str
    core: str
    module: str
    section: str
    priority: int
    issue: int
    peer: str
    migrated: bool
    hook_present: bool
    hook_detail: str
    rust_exported: bool
    parity: str  # passed, failed, no property, not migrated, not run
    parity_examples: int
    parity_detail: str
    benchmarks: list[BenchRow]
    #: Share of planted reference bugs the parity properties caught
    #: (python -m pyagent.parity.mutants), with the counts; None when no mutation run
    #: covered the hot path.
    mutation_score: float | None = None
    mutation_detail: str = ""
    #: The public function documented on the API page ("" when every one is private).
    api_function: str = ""

    @property
    def done(self) -> bool:
        """Migrated in the manifest, exported by Rust and passing parity."""
        return self.migrated and self.rust_exported and self.parity == "passed"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _bench_rows(bench: dict[str, Any] | None, name: str) -> list[BenchRow]:
    rows = []
    for raw in (bench or {}).get("hot_paths", []):
        if not isinstance(raw, dict) or raw.get("hot_path") != name:
            continue
        rows.append(
            BenchRow(
                name=str(raw.get("name", name)),
                workload=str(raw.get("workload") or ""),
                peer=str(raw.get("peer") or ""),
                python_s=_number(raw.get("python_s")),
                rust_s=_number(raw.get("rust_s")),
                peer_s=_number(raw.get("peer_s")),
                rust_vs_python=_number(raw.get("rust_vs_python")),
                rust_vs_peer=_number(raw.get("rust_vs_peer")),
                correct=raw.get("correct") is True,
            )
        )
    # The group named after the hot path is its main workload; extras follow.
    rows.sort(key=lambda r: (r.name != name, r.name))
    return rows


def _run_of(row: dict[str, Any]) -> str:
    """``", commit abc1234"``: the mutation run a hot path's score comes from."""
    run = row.get("run")
    return f", commit {run.get('commit')}" if isinstance(run, dict) and run.get("commit") else ""


def build_status(
    manifest: Manifest,
    parity: dict[str, Any] | None,
    bench: dict[str, Any] | None,
    exports: RustExports,
    mutants: dict[str, Any] | None = None,
) -> list[HotPathStatus]:
    """One status per hot path, in manifest order, from exactly the given results."""
    parity_rows = {
        r.get("name"): r for r in (parity or {}).get("hot_paths", []) if isinstance(r, dict)
    }
    mutant_rows = {
        r.get("name"): r for r in (mutants or {}).get("hot_paths", []) if isinstance(r, dict)
    }
    statuses = []
    for hot_path in manifest.hot_paths:
        present, detail = python_hook(hot_path)
        row = parity_rows.get(hot_path.name)
        examples = row.get("examples") if row else 0
        mutated = mutant_rows.get(hot_path.name) or {}
        score = _number(mutated.get("score"))
        caught = int(mutated.get("killed", 0)) + int(mutated.get("timeout", 0))
        statuses.append(
            HotPathStatus(
                name=hot_path.name,
                component=hot_path.component,
                core=hot_path.core,
                module=hot_path.module,
                section=hot_path.section,
                priority=hot_path.priority,
                issue=hot_path.issue,
                peer=hot_path.peer,
                migrated=hot_path.migrated,
                hook_present=present,
                hook_detail=detail,
                rust_exported=all(n in exports.names for n in hot_path.rust_names),
                parity=str(row.get("status", "not run")) if row else "not run",
                parity_examples=examples if isinstance(examples, int) else 0,
                parity_detail=str(row.get("detail") or "") if row else "",
                benchmarks=_bench_rows(bench, hot_path.name),
                mutation_score=score,
                mutation_detail=(
                    f"{caught} of {mutated.get('tried', 0)} killed{_run_of(mutated)}"
                    if score is not None
                    else ""
                ),
                api_function=next(
                    (f.python for f in hot_path.functions if not f.python.startswith("_")), ""
                ),
            )
        )
    return statuses


# --- rendering helpers --------------------------------------------------------------------


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _ratio(value: float | None) -> str:
    """A ratio as text; below 1x (Rust slower) flagged in red with a marker."""
    if value is None:
        return "\u2013"
    if value < 1.0:
        return bad(f"{value:.2f}\u00d7 \u25bc below 1\u00d7")
    return f"{value:.2f}\u00d7"


def _when(stamp: object) -> str:
    if not isinstance(stamp, str):
        return "unknown date"
    try:
        return dt.datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def ok(text: str) -> str:
    """A good state, styled green on the site."""
    return f'<span class="st-ok">{text}</span>'


def bad(text: str) -> str:
    """A failing state, styled red on the site."""
    return f'<span class="st-bad">{text}</span>'


def parity_cell(status: HotPathStatus) -> str:
    """The parity column: the recorded result and nothing more."""
    label = PARITY_LABELS.get(status.parity, status.parity)
    if status.parity == "passed":
        return ok(f"passed ({status.parity_examples:,} examples)")
    if status.parity in ("failed", "no property"):
        return bad(label) + (f": {status.parity_detail}" if status.parity_detail else "")
    if status.parity == "not run":
        return "not run"
    return label


def speedup_cells(status: HotPathStatus) -> tuple[str, str]:
    """The vs-Python and vs-peer columns for the hot path's main benchmark."""
    if not status.benchmarks:
        return ("not benchmarked", "not benchmarked") if status.migrated else ("\u2013", "\u2013")
    main = status.benchmarks[0]
    if not main.correct:
        return bad("wrong result"), bad("wrong result")
    return _ratio(main.rust_vs_python), f"{_ratio(main.rust_vs_peer)} ({main.peer or status.peer})"


def _escape(text: object) -> str:
    return html.escape(str(text), quote=True)


#: Colours of the two ratios in the chart (and their legend).
PYTHON_COLOUR, PEER_COLOUR = "#1f77b4", "#ff7f0e"
#: Width of one character of the chart's 12 px sans-serif labels, with a margin: enough that
#: a label is never clipped.
CHAR_W = 7.4


def _decades(values: list[float]) -> tuple[int, int]:
    """The log10 range of the chart's axis: whole decades around the values and 1x."""
    positive = [v for v in values if v > 0]
    low = math.floor(math.log10(min(positive))) if positive else -1
    high = math.ceil(math.log10(max(positive))) if positive else 1
    return min(low, -1), max(high, 1)


def below_one(bench: BenchRow) -> list[str]:
    """Which of a correct row's ratios are below 1x (Rust slower): "peer", "Python"."""
    if not bench.correct:
        return []
    return [
        what
        for what, value in (("peer", bench.rust_vs_peer), ("Python", bench.rust_vs_python))
        if value is not None and value < 1.0
    ]


def speedup_svg(statuses: list[HotPathStatus]) -> str:
    """A log-scale bar chart (inline SVG) of every correct benchmark's two ratios.

    Bars grow from the 1x line (parity): right when Rust is faster, left when it is slower.
    Each row's label sits on its own line above its bars, so the chart keeps a narrow
    viewBox that still reads when scaled to a phone; a row with a ratio below 1x is marked
    in its label as well as by its bar's direction.
    """
    rows = [
        b
        for s in statuses
        for b in s.benchmarks
        if b.correct and (b.rust_vs_python is not None or b.rust_vs_peer is not None)
    ]
    if not rows:
        return ""
    values = [v for b in rows for v in (b.rust_vs_python, b.rust_vs_peer) if v is not None]
    low, high = _decades(values)
    longest = max(len(b.name) + (22 if below_one(b) else 0) for b in rows)
    left, value_w, bar_h, label_h, gap, top = 12, 58, 11, 16, 8, 52
    plot_w = max(380.0, longest * CHAR_W - value_w)
    width = left + plot_w + value_w
    row_h = label_h + 2 * bar_h + gap
    axis_y = top + row_h * len(rows)
    height = axis_y + 24

    def x(value: float) -> float:
        clamped = min(max(value, 10.0**low), 10.0**high)
        return left + plot_w * (math.log10(clamped) - low) / (high - low)

    one = x(1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="speedup-chart" role="img" '
        f'viewBox="0 0 {width:.0f} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'font-family="sans-serif" font-size="12" aria-labelledby="speedup-title">',
        '<title id="speedup-title">Ratios per benchmark on a log scale: Python time / Rust '
        "time and peer time / Rust time (above 1\u00d7 Rust is faster)</title>",
        f'<rect x="{left}" y="6" width="12" height="10" fill="{PYTHON_COLOUR}"/>',
        f'<text x="{left + 16}" y="15" fill="currentColor">Python / Rust</text>',
        f'<rect x="{left + 120}" y="6" width="12" height="10" fill="{PEER_COLOUR}"/>',
        f'<text x="{left + 136}" y="15" fill="currentColor">peer / Rust</text>',
        f'<text x="{left}" y="32" fill="currentColor" font-size="11">log scale; bars start '
        "at 1\u00d7: right = Rust faster, left = Rust slower</text>",
    ]
    for exponent in range(low, high + 1):
        tick = 10.0**exponent
        label = f"{tick:g}\u00d7"
        if exponent == 0:
            continue
        parts.append(
            f'<line class="tick" x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" '
            f'y2="{axis_y}" stroke="currentColor" stroke-opacity="0.15"/>'
        )
        anchor = "start" if exponent == low else "end" if exponent == high else "middle"
        for ty in (top - 9, axis_y + 14):
            parts.append(
                f'<text x="{x(tick):.1f}" y="{ty}" text-anchor="{anchor}" font-size="11" '
                f'fill="currentColor">{label}</text>'
            )
    # The 1x line (parity), the line every ratio is read against; drawn before the rows so
    # their labels, haloed in the page colour (extra.css), stay legible where they cross it.
    parts += [
        f'<line class="one-x" x1="{one:.1f}" y1="{top - 6}" x2="{one:.1f}" y2="{axis_y}" '
        'stroke="#d32f2f" stroke-width="2"/>',
        f'<text x="{one:.1f}" y="{top - 9}" text-anchor="middle" font-size="11" '
        'font-weight="bold" fill="#d32f2f">1\u00d7</text>',
        f'<text x="{one:.1f}" y="{axis_y + 14}" text-anchor="middle" font-size="11" '
        'font-weight="bold" fill="#d32f2f">1\u00d7 (parity)</text>',
    ]
    for i, bench in enumerate(rows):
        y = top + i * row_h
        flags = below_one(bench)
        label = _escape(bench.name)
        if flags:
            label += (
                f' <tspan class="below-1" fill="#d32f2f" font-weight="bold">\u25bc below 1\u00d7 '
                f"vs {' and '.join(flags)}</tspan>"
            )
        parts.append(
            f'<text class="row-label" x="{left}" y="{y + label_h - 4}" '
            f'fill="currentColor">{label}</text>'
        )
        for j, (value, colour, what) in enumerate(
            (
                (bench.rust_vs_python, PYTHON_COLOUR, "Python / Rust"),
                (bench.rust_vs_peer, PEER_COLOUR, f"{bench.peer} / Rust"),
            )
        ):
            if value is None:
                continue
            by = y + label_h + j * bar_h
            end = x(value)
            start, stop = min(one, end), max(one, end)
            klass = "bar below-1" if value < 1.0 else "bar"
            outline = ' stroke="#d32f2f" stroke-width="1.5"' if value < 1.0 else ""
            parts.append(
                f'<rect class="{klass}" x="{start:.1f}" y="{by}" '
                f'width="{max(stop - start, 1.5):.1f}" height="{bar_h - 2}" fill="{colour}"'
                f"{outline}><title>{_escape(bench.name)} {_escape(what)}: "
                f"{value:.2f}\u00d7</title></rect>"
            )
            if value >= 1.0:
                tx, anchor = stop + 4, "start"
            else:
                tx, anchor = start - 4, "end"
                if tx < left + 36:  # no room left of the bar: write it right of the 1x line
                    tx, anchor = one + 4, "start"
            parts.append(
                f'<text x="{tx:.1f}" y="{by + bar_h - 2}" font-size="11" text-anchor="{anchor}" '
                f'fill="{"#d32f2f" if value < 1.0 else "currentColor"}">{value:.2f}\u00d7</text>'
            )
    parts.append("</svg>")
    return '<div class="chart-box">' + "".join(parts) + "</div>"


def progress_svg(done: int, total: int) -> str:
    """A progress bar (inline SVG): migrated and passing parity, out of every hot path."""
    width, height = 560, 26
    filled = width * done / total if total else 0
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="progress-bar" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
        f'aria-label="{done} of {total} hot paths migrated and passing parity">'
        f'<rect x="0" y="0" width="{width}" height="{height}" rx="4" fill="#8884"/>'
        f'<rect x="0" y="0" width="{filled:.1f}" height="{height}" rx="4" fill="#2ca02c"/>'
        f'<text x="{width / 2}" y="17" text-anchor="middle" font-family="sans-serif" '
        f'font-size="13" fill="currentColor">{done} / {total} migrated and passing parity'
        f"</text></svg>"
    )


# --- the status page ----------------------------------------------------------------------


def api_link(status: HotPathStatus) -> str:
    """The hot path's name, linked to its API reference page when the module exists.

    Public functions link through mkdocs-autorefs (``[name][module.function]``), which
    fails the strict build if the object is not documented; private ones to the page.
    """
    if _module_file(status.module) is None:
        return f"`{status.name}`"
    if status.api_function:
        return f"[`{status.name}`][{status.module}.{status.api_function}]"
    return f"[`{status.name}`](reference/{status.module}.md)"


def issue_link(number: int, base_url: str) -> str:
    """``#N``, linked to ``base_url + N`` when the tracker's URL is configured."""
    if not base_url:
        return f"#{number}"
    return f"[#{number}]({base_url.rstrip('/')}/{number})"


def _hot_path_rows(statuses: Iterable[HotPathStatus], issues: str = "") -> Iterator[list[str]]:
    for s in statuses:
        vs_python, vs_peer = speedup_cells(s)
        yield [
            api_link(s),
            f"{s.core} ({s.component})",
            ok(s.hook_detail) if s.hook_present else s.hook_detail,
            ok("yes") if s.rust_exported else (bad("no") if s.migrated else "no"),
            parity_cell(s),
            vs_python,
            vs_peer,
            mutation_cell(s),
            issue_link(s.issue, issues),
        ]


HOT_PATH_HEADER = [
    "Hot path",
    "Core (component)",
    "Python hook",
    "Rust export",
    "Parity",
    "Python / Rust",
    "Peer / Rust",
    "Mutants killed",
    "Issue",
]


def mutation_cell(status: HotPathStatus) -> str:
    """The mutation score, flagged under 80% (a green parity row that proves little)."""
    if status.mutation_score is None:
        return "not run"
    text = f"{status.mutation_score:.0%} ({status.mutation_detail})"
    return ok(text) if status.mutation_score >= MUTATION_FLOOR else bad(text)


def _run_line(what: str, data: dict[str, Any] | None, command: str) -> str:
    if data is None:
        return f"- **{what}**: not run (no saved result; run `{command}`)."
    return (
        f"- **{what}**: `{command}` on {_when(data.get('generated_at'))}, "
        f"commit `{data.get('commit', 'unknown')}`"
    )


def _series(runs: list[dict[str, Any]], group: str, key: str) -> list[tuple[str, float]]:
    """(commit, ratio) of benchmark group ``group`` in each run that measured it correctly."""
    points = []
    for run in runs:
        for row in run.get("hot_paths", []):
            if isinstance(row, dict) and row.get("name") == group and row.get("correct"):
                value = _number(row.get(key))
                if value is not None and value > 0:
                    points.append((str(run.get("commit", "?")), value))
    return points


def sparkline(points: list[tuple[str, float]], title: str) -> str:
    """A small log-scale line (inline SVG) of a ratio over runs, with its 1x line dashed.

    A point below 1x is red; each point's tooltip names the commit.
    """
    width, height, pad = 150, 30, 4
    # The row's own range (with 1x always inside it), so a change shows at this size.
    logs = [math.log10(v) for _, v in points]
    low, high = min(*logs, 0.0) - 0.1, max(*logs, 0.0) + 0.1
    span = max(len(points) - 1, 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        px = pad + (width - 2 * pad) * (i / span if len(points) > 1 else 0.5)
        fraction = (math.log10(value) - low) / (high - low)
        return px, height - pad - (height - 2 * pad) * fraction

    one_y = xy(0, 1.0)[1]
    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{_escape(title)}</title>",
        f'<line class="one-x" x1="0" y1="{one_y:.1f}" x2="{width}" y2="{one_y:.1f}" '
        'stroke="#d32f2f" stroke-dasharray="3 2"/>',
    ]
    if len(coords) > 1:
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="currentColor" stroke-width="1.5"/>'
        )
    for (commit, value), (cx, cy) in zip(points, coords, strict=True):
        colour = "#d32f2f" if value < 1.0 else "currentColor"
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{colour}">'
            f"<title>{_escape(commit)}: {value:.2f}\u00d7</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_history(runs: list[dict[str, Any]], statuses: list[HotPathStatus]) -> list[str]:
    """The "ratio over commits" section: one sparkline per main benchmark and profile.

    Drawn from the committed record (``bench/results/``), one series per profile (quick and
    full sizes are not comparable); a drop of a fifth or more from the previous run is
    flagged as a regression.
    """
    lines = ["## Ratio over commits", ""]
    if not runs:
        return [
            *lines,
            "No committed benchmark record yet: `nox -s bench` appends each run to "
            "`bench/results/`.",
            "",
        ]
    lines += [
        "Each point is one run recorded in `bench/results/` (append-only; `nox -s bench` adds "
        "one file per run, with its commit, date, CPU, load and profile), oldest on the left. "
        "Log scale; the dashed red line is 1\u00d7; red points are below it. A drop of 20% or "
        "more from the previous run is flagged as a regression.",
        "",
    ]
    groups = [b.name for s in statuses for b in s.benchmarks[:1]]
    for profile in ("quick", "full"):
        chosen = [r for r in runs if r.get("profile", "full") == profile]
        if not chosen:
            continue
        commits = ", ".join(f"`{r.get('commit', '?')}`" for r in chosen)
        lines += [f"### {profile.capitalize()} profile", "", f"{len(chosen)} runs: {commits}.", ""]
        names = groups or sorted(
            {str(row.get("name")) for r in chosen for row in r.get("hot_paths", [])}
        )
        table = []
        for name in names:
            points = _series(chosen, name, "rust_vs_peer")
            if not points:
                continue
            latest = points[-1][1]
            change = "\u2013"
            if len(points) > 1:
                previous = points[-2][1]
                delta = latest / previous - 1.0
                change = f"{delta:+.0%}"
                if delta <= -0.2:
                    change = bad(f"{change} regression")
            table.append(
                [
                    f"`{name}`",
                    sparkline(points, f"{name}: peer / Rust over {len(points)} runs"),
                    _ratio(latest),
                    change,
                ]
            )
        if table:
            lines += _table(["Benchmark", "Peer / Rust over runs", "Latest", "Change"], table)
        lines.append("")
    return lines


def render_status(
    manifest: Manifest,
    statuses: list[HotPathStatus],
    parity: dict[str, Any] | None,
    bench: dict[str, Any] | None,
    exports: RustExports,
    mutants: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    issues: str = "",
) -> str:
    """The Markdown of ``docs/status.md``; ``issues`` is the tracker's base URL (or "")."""
    total = len(statuses)
    done = sum(s.done for s in statuses)
    migrated = sum(s.migrated for s in statuses)
    failing = [s for s in statuses if s.parity in ("failed", "no property")]
    by_name = {s.name: s for s in statuses}
    lines = [
        "---",
        "hide:",
        "  - toc",
        "---",
        "",
        "# Migration status",
        "",
        "<!-- Generated by docs/_generate/status.py from pyagent/hot_paths.toml and "
        "build/status/*.json; do not edit. -->",
        "",
        "Generated from the hot-path manifest (`pyagent/hot_paths.toml`) and the saved results "
        "of the last parity and benchmark runs. It states only what those runs recorded; the "
        "same data is in [`status.json`](status.json).",
        "",
        _run_line("Parity", parity, "nox -s parity"),
    ]
    if parity is not None:
        lines[-1] += (
            f", {parity.get('profile', '?')} profile, rust_core "
            f"{parity.get('rust_core') or 'absent'}."
        )
        partial = parity.get("partial_rows") or []
        if partial:
            lines[-1] += (
                f" The last run was partial (`--only`): {len(partial)} "
                f"row{'' if len(partial) == 1 else 's'} "
                f"({', '.join(f'`{n}`' for n in partial)}) were rerun and merged into the full "
                "result; the other rows are from the earlier full run."
            )
    lines.append(_run_line("Benchmarks", bench, "nox -s bench"))
    machine = (bench or {}).get("machine") or {}
    if bench is not None:
        load = machine.get("load_before")
        lines[-1] += (
            f", **{bench.get('profile', 'full')} profile**"
            + (" (narrowed: partial)" if bench.get("partial") else "")
            + f", on {machine.get('cpu', 'unknown CPU')} ({machine.get('cores', '?')} cores)"
            + (f", load average {load[0]:.2f} at the start" if isinstance(load, list) else "")
            + f", Python {machine.get('python', '?')}, rust_core "
            f"{bench.get('rust_core') or '?'}"
            + (
                f", from the committed record `bench/results/{bench['file']}`"
                if "file" in bench
                else ""
            )
            + "."
        )
    lines.append(_run_line("Mutation score", mutants, "python -m pyagent.parity.mutants"))
    if mutants is not None:
        tried = sum(int(r.get("tried", 0)) for r in mutants.get("hot_paths", []))
        caught = sum(
            int(r.get("killed", 0)) + int(r.get("timeout", 0)) for r in mutants.get("hot_paths", [])
        )
        low = [
            str(r.get("name"))
            for r in mutants.get("hot_paths", [])
            if (_number(r.get("score")) or 0.0) < MUTATION_FLOOR
        ]
        runs = mutants.get("runs", 1)
        lines[-1] += (
            (
                f" (newest of {runs} recorded runs per hot path, `results/mutants/`)"
                if runs > 1
                else ""
            )
            + f": {caught} of {tried} sampled non-equivalent mutants killed overall "
            f"({caught / max(tried, 1):.0%})"
            + (f"; under {MUTATION_FLOOR:.0%}: {', '.join(low)}." if low else ".")
        )
    lines.append(f"- **Rust exports** read from {exports.source}.")
    lines.append(
        "- **Limits on hostile input** (nesting, alias expansion, objects per frame, sizes): "
        "[limits](limits.md)."
    )
    if parity and bench and parity.get("commit") != bench.get("commit"):
        lines += [
            "",
            f'!!! warning "Different commits"\n    Parity ran on `{parity.get("commit")}` and '
            f"the benchmarks on `{bench.get('commit')}`.",
        ]
    lines += [
        "",
        "## Progress",
        "",
        f"**{done} of {total}** hot paths are migrated and pass parity "
        f"({migrated} marked migrated in the manifest"
        + (f", {len(failing)} failing" if failing else "")
        + ").",
        "",
        progress_svg(done, total),
        "",
        "## Speedups",
        "",
    ]
    chart = speedup_svg(statuses)
    if chart:
        flagged = [
            f"`{b.name}` ({' and '.join('vs ' + w for w in below_one(b))})"
            for s in statuses
            for b in s.benchmarks
            if below_one(b)
        ]
        rows_count = sum(len(s.benchmarks) for s in statuses)
        lines += [
            "Time of the Python reference (blue) and of the peer library (orange), each divided "
            "by the time of `rust_core` on the same workload (minimum over rounds, one run); "
            "above 1\u00d7 Rust is faster. Log scale; the red line is 1\u00d7. See "
            "[benchmark methodology](guides/benchmarks.md).",
            "",
            (
                bad(f"{len(flagged)} of {rows_count} rows below 1\u00d7")
                + " (Rust slower): "
                + ", ".join(flagged)
                + "."
                if flagged
                else ok(f"No row below 1\u00d7 ({rows_count} rows).")
            ),
            "",
            chart,
            "",
        ]
        bench_rows = [
            [
                f"`{b.name}`",
                b.workload,
                f"{b.python_s * 1e3:.2f}" if b.python_s is not None else "\u2013",
                f"{b.rust_s * 1e3:.2f}" if b.rust_s is not None else "\u2013",
                f"{b.peer_s * 1e3:.2f}" if b.peer_s is not None else "\u2013",
                (_ratio(b.rust_vs_peer) if b.correct else bad("wrong result")) + f" ({b.peer})",
                _ratio(b.rust_vs_python) if b.correct else bad("wrong result"),
            ]
            for s in statuses
            for b in s.benchmarks
        ]
        lines += _table(
            [
                "Benchmark",
                "Workload",
                "Python ms",
                "Rust ms",
                "Peer ms",
                "Peer / Rust",
                "Python / Rust",
            ],
            bench_rows,
        )
        lines += ["", *render_history(history or [], statuses)]
    else:
        lines.append("No benchmark results: run `nox -s bench` (or `nox -s status`).")
    lines.append("")
    for section, title in SECTION_TITLES.items():
        members = [s for s in statuses if s.section == section]
        if not members:
            continue
        lines += ["", f"## {title}", ""]
        lines += _table(HOT_PATH_HEADER, _hot_path_rows(members, issues))
    for kind, title in (("completed", "Completed hooks"), ("next", "Next priority")):
        items = [i for i in manifest.seed_lists if i.list == kind]
        if not items:
            continue
        lines += ["", f"## Seed section 3: {title.lower()}", ""]
        lines += _table(
            ["Seed item", "Hot paths", "State"],
            (
                [
                    item.item,
                    ", ".join(f"`{n}`" for n in item.hot_paths),
                    "; ".join(_short_state(by_name[n]) for n in item.hot_paths),
                ]
                for item in items
            ),
        )
    lines += [
        "",
        "## Legend",
        "",
        "- **not migrated**: `migrated = false` in `pyagent/hot_paths.toml`; the hot path "
        "is served by Python only.",
        "- **Python hook**: the module holds the `rc` sentinel and each hooked function "
        "calls `rc.<rust name>` (read from the source).",
        "- **Rust export**: `rust_core` exports every Rust name of the hot path.",
        "- **Parity**: the result of the last `python -m pyagent.parity` run; *not run* when it "
        "has no result for the hot path.",
        "- **Python / Rust, Peer / Rust**: time ratios of the main benchmark (minimum over "
        "rounds); below 1\u00d7 (Rust slower) is flagged \u25bc in red; *not benchmarked* "
        "for a migrated hot path the last bench run did not measure.",
        "- **Issue**: the number of the issue in the project's tracker"
        + (
            ", linked."
            if issues
            else "; set `extra.issues_url` in `mkdocs.yml` (the tracker's URL, ending before "
            "the number) to make these links. The tracker has no public address yet."
        ),
        "- **Mutants killed**: of the bugs `python -m pyagent.parity.mutants` planted in the "
        "Python reference (sampled), the share the hot path's parity properties caught; "
        "under 80% is flagged: a green parity row then proves little.",
        "",
    ]
    return "\n".join(lines)


def _short_state(status: HotPathStatus) -> str:
    if status.done:
        vs_python, _ = speedup_cells(status)
        extra = f", {vs_python} vs Python" if status.benchmarks else ""
        return f"`{status.name}` passed{extra}"
    if status.parity in ("failed", "no property"):
        return f"`{status.name}` failing"
    if not status.migrated:
        return f"`{status.name}` not migrated"
    return f"`{status.name}` {status.parity}"


def _run_meta(data: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if data is None else {k: v for k, v in data.items() if k != "hot_paths"}


def status_data(
    statuses: list[HotPathStatus],
    parity: dict[str, Any] | None,
    bench: dict[str, Any] | None,
    exports: RustExports,
) -> dict[str, Any]:
    """The data of the status page, saved as ``docs/status.json``."""
    return {
        "schema": 1,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "parity_run": None
        if parity is None
        else {k: v for k, v in parity.items() if k != "hot_paths"},
        "bench_run": None
        if bench is None
        else {k: v for k, v in bench.items() if k != "hot_paths"},
        "rust_exports_from": exports.source,
        "progress": {
            "total": len(statuses),
            "migrated": sum(s.migrated for s in statuses),
            "migrated_and_passing": sum(s.done for s in statuses),
        },
        "hot_paths": [asdict(s) | {"done": s.done} for s in statuses],
    }


# --- the audit page -----------------------------------------------------------------------


def _collect(data: Any, key: str) -> list[dict[str, Any]]:
    """Every dict in a list stored under ``key`` anywhere in ``data``."""
    found: list[dict[str, Any]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k == key and isinstance(v, list):
                found += [d for d in v if isinstance(d, dict)]
            else:
                found += _collect(v, key)
    elif isinstance(data, list):
        for item in data:
            found += _collect(item, key)
    return found


def _value(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None:
        return "\u2013"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "\u2013"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render_audit(data: Any | None, note: str) -> str:
    """The Markdown of ``docs/audit.md`` from the audit's JSON (read defensively)."""
    lines = [
        "---",
        "hide:",
        "  - toc",
        "---",
        "",
        "# Audit report",
        "",
        "<!-- Generated by docs/_generate/status.py; do not edit. -->",
        "",
        "What `python -m pyagent.migrate audit pyagent/ --format json` finds in PyAgent's own "
        "cores: every import of `rust_core`, every call that reaches Rust, and every defect. "
        "[The codemod's documentation](migrate.md) explains each field and defect code.",
        "",
    ]
    if data is None:
        lines += [
            '!!! warning "Audit not available"',
            f"    {note}. Run `nox -s status` once `migrate` is in place.",
            "",
        ]
        return "\n".join(lines)
    hooks = _collect(data, "hooks")
    top = data if isinstance(data, dict) else {}
    # Defects are listed once at the top level (schema 1); elsewhere, look for them anywhere.
    defects = (
        [d for d in top["defects"] if isinstance(d, dict)]
        if isinstance(top.get("defects"), list)
        else _collect(data, "defects")
    )
    imports = _collect(data, "imports")
    summary = top.get("summary") if isinstance(top.get("summary"), dict) else {}
    files = {str(h.get("file")) for h in hooks if h.get("file")}
    scanned = summary.get("files_scanned")
    lines += [
        f"- {len(hooks)} hooks in {len(files)} files"
        + (f" ({scanned} files scanned)" if isinstance(scanned, int) else "")
        + f", {len(imports)} imports of `rust_core`, **{len(defects)} defects**.",
    ]
    for key, title in (("shapes", "Hook shapes"), ("variants", "Import variants")):
        counts = summary.get(key)
        if isinstance(counts, dict) and counts:
            lines.append(f"- {title}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".")
    lines += [
        f"- Raw data: [`audit.json`](audit.json) (`migrate audit`: {note}).",
        "",
    ]
    raw_failures = top.get("failures")
    failures = (
        [f for f in raw_failures if isinstance(f, dict)] if isinstance(raw_failures, list) else []
    )
    if failures:
        lines += ["## Files the audit could not read", ""]
        lines += _table(
            ["File", "Message"], ([_value(f, "path"), _value(f, "message")] for f in failures)
        )
        lines.append("")
    lines += [
        "## Hooks",
        "",
    ]
    hook_keys = [
        ("file", "File"),
        ("line", "Line"),
        ("function", "Function"),
        ("rust_name", "Rust name"),
        ("shape", "Shape"),
        ("exception_policy", "Exceptions"),
        ("fallback", "Fallback"),
        ("exported", "Exported"),
        ("defects", "Defects"),
    ]
    if hooks:
        lines += _table(
            [title for _, title in hook_keys],
            ([_value(h, k) for k, _ in hook_keys] for h in hooks),
        )
    else:
        lines.append("No hooks found.")
    lines += ["", "## Defects", ""]
    defect_keys = [
        ("code", "Code"),
        ("file", "File"),
        ("line", "Line"),
        ("function", "Function"),
        ("rust_name", "Rust name"),
        ("message", "Message"),
    ]
    if defects:
        lines += _table(
            [title for _, title in defect_keys],
            ([_value(d, k) for k, _ in defect_keys] for d in defects),
        )
    else:
        lines.append(ok("No defects."))
    lines.append("")
    return "\n".join(lines)


# --- entry point --------------------------------------------------------------------------


def _portable(value: Any) -> Any:
    """``value`` with absolute paths made portable: published JSON names no build folder.

    A path inside the repository becomes repository-relative; one in an environment keeps
    only what follows ``site-packages/``; any other keeps its file name.
    """
    if isinstance(value, dict):
        return {key: _portable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_portable(item) for item in value]
    if isinstance(value, str) and value.startswith("/"):
        path = Path(value)
        if path.is_relative_to(ROOT):
            return path.relative_to(ROOT).as_posix() or "."
        _, marker, rest = value.partition("site-packages/")
        return f"site-packages/{rest}" if marker else path.name
    return value


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def generate(
    status_dir: Path,
    docs_dir: Path,
    audit: str,
    exports_from: str = "built",
    results_dir: Path = RESULTS_DIR,
    mutants_dir: Path = MUTANTS_DIR,
) -> list[HotPathStatus]:
    """Writes the four generated files.

    ``audit`` is ``run``, ``saved`` or ``skip``; ``exports_from`` is ``built`` (the installed
    extension, else the source) or ``source`` (the crate's registrations only).
    """
    manifest = load_manifest()
    parity = read_json(status_dir / "parity.json")
    bench = latest_bench(status_dir, results_dir)
    history = bench_history(results_dir)
    mutants = latest_mutants(status_dir, mutants_dir)
    exports = RustExports.find() if exports_from == "built" else RustExports.from_source()
    statuses = build_status(manifest, parity, bench, exports, mutants)
    _write(
        docs_dir / "status.md",
        render_status(manifest, statuses, parity, bench, exports, mutants, history, issues_url()),
    )
    data = status_data(statuses, parity, bench, exports)
    _write(docs_dir / "status.json", json.dumps(_portable(data), indent=2) + "\n")

    audit_data: Any | None
    if audit == "run":
        audit_data, note = run_audit()
        if audit_data is not None:
            status_dir.mkdir(parents=True, exist_ok=True)
            (status_dir / "audit.json").write_text(
                json.dumps(audit_data, indent=2) + "\n", encoding="utf-8"
            )
    elif audit == "saved":
        audit_data = read_json(status_dir / "audit.json")
        note = "saved result" if audit_data is not None else "no saved audit result"
    else:
        audit_data, note = None, "the audit was skipped"
    _write(docs_dir / "audit.md", render_audit(audit_data, note))
    _write(docs_dir / "audit.json", json.dumps(_portable(audit_data), indent=2) + "\n")
    return statuses


def main(argv: list[str] | None = None) -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--status-dir", type=Path, default=STATUS_DIR)
    parser.add_argument("--docs-dir", type=Path, default=DOCS)
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="the committed benchmark record (ratio over commits; figures for a fresh clone)",
    )
    parser.add_argument(
        "--audit",
        choices=("run", "saved", "skip"),
        default="run",
        help="run `migrate audit` (default), reuse build/status/audit.json, or leave it out",
    )
    parser.add_argument(
        "--exports",
        choices=("built", "source"),
        default="built",
        help="read rust_core's exports from the installed build (default) or the crate source",
    )
    args = parser.parse_args(argv)
    statuses = generate(args.status_dir, args.docs_dir, args.audit, args.exports, args.results_dir)
    done = sum(s.done for s in statuses)
    print(f"{done} of {len(statuses)} hot paths migrated and passing parity")
    return 0


if __name__ == "__main__":
    sys.exit(main())
