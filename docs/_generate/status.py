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
                    f"{caught} of {mutated.get('tried', 0)} killed" if score is not None else ""
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
    return f"{value:.2f}\u00d7" if value is not None else "\u2013"


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


def speedup_svg(statuses: list[HotPathStatus]) -> str:
    """A horizontal bar chart (inline SVG) of every correct benchmark's two ratios."""
    rows = [
        b
        for s in statuses
        for b in s.benchmarks
        if b.correct and (b.rust_vs_python is not None or b.rust_vs_peer is not None)
    ]
    if not rows:
        return ""
    label_w, plot_w, bar_h, gap, top = 190, 460, 12, 14, 34
    row_h = 2 * bar_h + gap
    top_value = max(max(b.rust_vs_python or 0, b.rust_vs_peer or 0) for b in rows)
    scale_max = max(2.0, float(int(top_value) + 1))
    height = top + row_h * len(rows) + 30
    width = label_w + plot_w + 70

    def x(value: float) -> float:
        return label_w + plot_w * value / scale_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="speedup-chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
        f'font-family="sans-serif" font-size="12" aria-labelledby="speedup-title">',
        '<title id="speedup-title">Speedup of rust_core per benchmark: Python median / Rust '
        "median and peer median / Rust median (higher is faster; 1\u00d7 is parity)</title>",
        f'<rect x="{label_w}" y="8" width="12" height="10" fill="#1f77b4"/>',
        f'<text x="{label_w + 16}" y="17" fill="currentColor">vs Python reference</text>',
        f'<rect x="{label_w + 170}" y="8" width="12" height="10" fill="#ff7f0e"/>',
        f'<text x="{label_w + 186}" y="17" fill="currentColor">vs peer library</text>',
    ]
    step = 1.0 if scale_max <= 10 else float(int(scale_max / 5))
    tick = 0.0
    axis_y = top + row_h * len(rows)
    while tick <= scale_max + 1e-9:
        dash = ' stroke-dasharray="4 3"' if tick == 1 else ""
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" y2="{axis_y}" '
            f'stroke="currentColor" stroke-opacity="{0.6 if tick == 1 else 0.15}"{dash}/>'
        )
        parts.append(
            f'<text x="{x(tick):.1f}" y="{axis_y + 14}" text-anchor="middle" '
            f'fill="currentColor">{tick:g}\u00d7</text>'
        )
        tick += step
    for i, bench in enumerate(rows):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h + 4}" text-anchor="end" '
            f'fill="currentColor">{_escape(bench.name)}</text>'
        )
        for j, (value, colour, what) in enumerate(
            (
                (bench.rust_vs_python, "#1f77b4", "vs Python"),
                (bench.rust_vs_peer, "#ff7f0e", f"vs {bench.peer}"),
            )
        ):
            if value is None:
                continue
            by = y + j * bar_h
            parts.append(
                f'<rect class="bar" x="{label_w}" y="{by}" width="{x(value) - label_w:.1f}" '
                f'height="{bar_h - 2}" fill="{colour}"><title>{_escape(bench.name)} '
                f"{_escape(what)}: {value:.2f}\u00d7</title></rect>"
            )
            parts.append(
                f'<text x="{x(value) + 4:.1f}" y="{by + bar_h - 3}" font-size="10" '
                f'fill="currentColor">{value:.2f}\u00d7</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


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


def _hot_path_rows(statuses: Iterable[HotPathStatus]) -> Iterator[list[str]]:
    for s in statuses:
        vs_python, vs_peer = speedup_cells(s)
        yield [
            f"`{s.name}`",
            f"{s.core} ({s.component})",
            ok(s.hook_detail) if s.hook_present else s.hook_detail,
            ok("yes") if s.rust_exported else (bad("no") if s.migrated else "no"),
            parity_cell(s),
            vs_python,
            vs_peer,
            mutation_cell(s),
            f"#{s.issue}",
        ]


HOT_PATH_HEADER = [
    "Hot path",
    "Core (component)",
    "Python hook",
    "Rust export",
    "Parity",
    "vs Python",
    "vs peer",
    "Mutants killed",
    "Issue",
]


def mutation_cell(status: HotPathStatus) -> str:
    """The mutation score, flagged under 80% (a green parity row that proves little)."""
    if status.mutation_score is None:
        return "not run"
    text = f"{status.mutation_score:.0%} ({status.mutation_detail})"
    return ok(text) if status.mutation_score >= 0.8 else bad(text)


def _run_line(what: str, data: dict[str, Any] | None, command: str) -> str:
    if data is None:
        return f"- **{what}**: not run (no saved result; run `{command}`)."
    return (
        f"- **{what}**: `{command}` on {_when(data.get('generated_at'))}, "
        f"commit `{data.get('commit', 'unknown')}`"
    )


def render_status(
    manifest: Manifest,
    statuses: list[HotPathStatus],
    parity: dict[str, Any] | None,
    bench: dict[str, Any] | None,
    exports: RustExports,
    mutants: dict[str, Any] | None = None,
) -> str:
    """The Markdown of ``docs/status.md``."""
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
    lines.append(_run_line("Benchmarks", bench, "nox -s bench"))
    machine = (bench or {}).get("machine") or {}
    if bench is not None:
        lines[-1] += (
            f", on {machine.get('cpu', 'unknown CPU')} ({machine.get('cores', '?')} cores), "
            f"Python {machine.get('python', '?')}, {machine.get('platform', '?')}."
        )
    lines.append(_run_line("Mutation score", mutants, "python -m pyagent.parity.mutants"))
    if mutants is not None:
        tried = sum(int(r.get("tried", 0)) for r in mutants.get("hot_paths", []))
        caught = sum(
            int(r.get("killed", 0)) + int(r.get("timeout", 0)) for r in mutants.get("hot_paths", [])
        )
        lines[-1] += (
            f", {mutants.get('sample', '?')} sampled mutants per hot path: {caught} of {tried} "
            "killed overall."
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
        lines += [
            "Median time of the Python reference (blue) and of the peer library (orange), "
            "each divided by the median time of `rust_core` on the same workload; above 1\u00d7 "
            "Rust is faster. See [benchmark methodology](guides/benchmarks.md).",
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
                _ratio(b.rust_vs_python) if b.correct else bad("wrong result"),
                (_ratio(b.rust_vs_peer) if b.correct else bad("wrong result")) + f" ({b.peer})",
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
                "vs Python",
                "vs peer",
            ],
            bench_rows,
        )
    else:
        lines.append("No benchmark results: run `nox -s bench` (or `nox -s status`).")
    lines.append("")
    for section, title in SECTION_TITLES.items():
        members = [s for s in statuses if s.section == section]
        if not members:
            continue
        lines += ["", f"## {title}", ""]
        lines += _table(HOT_PATH_HEADER, _hot_path_rows(members))
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
        "- **vs Python / vs peer**: median speedups of the main benchmark; *not benchmarked* "
        "for a migrated hot path the last bench run did not measure.",
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
    status_dir: Path, docs_dir: Path, audit: str, exports_from: str = "built"
) -> list[HotPathStatus]:
    """Writes the four generated files.

    ``audit`` is ``run``, ``saved`` or ``skip``; ``exports_from`` is ``built`` (the installed
    extension, else the source) or ``source`` (the crate's registrations only).
    """
    manifest = load_manifest()
    parity = read_json(status_dir / "parity.json")
    bench = read_json(status_dir / "bench.json")
    mutants = read_json(status_dir / "mutants.json")
    exports = RustExports.find() if exports_from == "built" else RustExports.from_source()
    statuses = build_status(manifest, parity, bench, exports, mutants)
    _write(
        docs_dir / "status.md",
        render_status(manifest, statuses, parity, bench, exports, mutants),
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
    statuses = generate(args.status_dir, args.docs_dir, args.audit, args.exports)
    done = sum(s.done for s in statuses)
    print(f"{done} of {len(statuses)} hot paths migrated and passing parity")
    return 0


if __name__ == "__main__":
    sys.exit(main())
