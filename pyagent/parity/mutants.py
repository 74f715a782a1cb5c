"""``python -m pyagent.parity.mutants``: how much a green parity row proves, as a mutation score.

For each hot path, mechanical bugs are planted one at a time in its Python reference (the
hooked function and every module-level helper it reaches): a comparison or arithmetic
operator swapped, a boundary moved, a constant changed, a condition negated or dropped, a
``raise`` removed, a returned value replaced by None. Each mutant runs that hot path's parity
properties in a child process, with ``rust_core`` as the independent oracle (no rebuild is
needed: the Rust side is not mutated). A mutant is *killed* when parity fails (or the row
crashes or times out: a hang is a detected change too), and *survives* when parity stays
green: then the properties cannot tell that bug from the real code. Each hot path's unmutated
row runs first, to prove it green and to set the time limit per mutant from its time; the
sample is drawn per hot path (from the seed and its name), so a run of some hot paths draws
what a whole run draws for them.

Error messages are not part of the parity contract (the exception class is), so nothing
inside an f-string or an exception's arguments is mutated; nor is an annotation (never
evaluated). Some other mutants cannot change
behaviour either (equivalent mutants); ``pyagent/parity/equivalent_mutants.toml``
lists them, each with a reason, and they are left out of the score. The report lists every
survivor with its diff, so a migration team can see what a green row does not prove.

Usage: ``python -m pyagent.parity.mutants [--only NAME ...] [--sample N] [--seed S] [--record]``;
results in ``build/status/mutants.json``. With ``--record`` the run is also appended, with its
provenance (commit, date, sample, seed, machine load, wall time; per row, digests of the module
and of its equivalents, which with the seed decide its sample), to ``results/mutants/``: the
committed, append-only record the status site reads, so a fresh clone shows the score of every
hot path from the newest recorded run that covered it. ``nox -s mutants`` runs it against a
fresh build and records the run.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pyagent.manifest import HotPath, load_manifest
from pyagent.parity.results import write_results

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pyagent"
EQUIVALENTS = Path(__file__).with_name("equivalent_mutants.toml")
DEFAULT_JSON = ROOT / "build" / "status" / "mutants.json"
#: Time limit per mutant, when --timeout is not given: this many times the unmutated row's
#: time (a mutant that makes the row several times slower is a detected change: a hang), and
#: never under MIN_TIMEOUT seconds, which absorbs a loaded machine's jitter on short rows.
TIMEOUT_FACTOR = 5.0
MIN_TIMEOUT = 60.0
#: The unmutated row's own limit (the slowest row takes about 3 minutes on a loaded machine).
BASELINE_TIMEOUT = 900.0
#: The committed record of mutation runs (one file per run, never overwritten).
RECORD_DIR = ROOT / "results" / "mutants"

_COMPARE_SWAPS: dict[type[ast.cmpop], str] = {
    ast.Lt: "<=",
    ast.LtE: "<",
    ast.Gt: ">=",
    ast.GtE: ">",
    ast.Eq: "!=",
    ast.NotEq: "==",
    ast.Is: "is not",
    ast.IsNot: "is",
    ast.In: "not in",
    ast.NotIn: "in",
}
_BINOP_SWAPS: dict[type[ast.operator], str] = {
    ast.Add: "-",
    ast.Sub: "+",
    ast.Mult: "//",
    ast.FloorDiv: "*",
    ast.Div: "*",
    ast.Mod: "//",
    ast.BitAnd: "|",
    ast.BitOr: "&",
    ast.LShift: ">>",
    ast.RShift: "<<",
}


@dataclass(frozen=True)
class Mutant:
    """One planted bug: a text replacement in one module of pyagent."""

    hot_path: str
    module: str  # e.g. "pyagent.kv_cache_core"
    line: int
    column: int
    operator: str
    original: str
    mutated: str
    start: int  # character offsets in the module's source
    end: int
    scope: str = ""  # qualified name of the innermost enclosing def or class
    occurrence: int = 1  # the same change in the same scope: its rank in source order

    @property
    def key(self) -> str:
        """Identity for the equivalents file: module, scope, operator and the change.

        The rank (``#2``) is added when the same change occurs more than once in a scope.
        No line number: a key stays valid when code above it moves, and goes stale (which
        tests/test_mutants.py reports) only when its own scope changes that code.
        """
        rank = f"#{self.occurrence}" if self.occurrence > 1 else ""
        return f"{self.module}:{self.scope}:{self.operator}:{self.original} -> {self.mutated}{rank}"

    def apply(self, source: str) -> str:
        """``source`` with this mutant planted."""
        return source[: self.start] + self.mutated + source[self.end :]

    def diff(self, source: str) -> str:
        """A unified diff of the planted change."""
        path = self.module.replace(".", "/") + ".py"
        lines = difflib.unified_diff(
            source.splitlines(keepends=True),
            self.apply(source).splitlines(keepends=True),
            f"a/{path}",
            f"b/{path}",
            n=0,
        )
        return "".join(lines)


def _offsets(source: str) -> list[int]:
    """Character offset of the start of each line (1-based line numbers index it)."""
    starts = [0, 0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _reached(tree: ast.Module, roots: set[str]) -> list[ast.AST]:
    """The module-level functions and classes named in ``roots`` and every one they reach."""
    defs = {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    seen: dict[str, ast.AST] = {}
    todo = [name for name in roots if name in defs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen[name] = defs[name]
        for node in ast.walk(defs[name]):
            if isinstance(node, ast.Name) and node.id in defs and node.id not in seen:
                todo.append(node.id)
    return list(seen.values())


def _docstring_nodes(node: ast.AST) -> set[int]:
    """Identities of the docstring constants under ``node`` (never mutated)."""
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub.body:
            first = sub.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _annotation_nodes(node: ast.AST) -> set[int]:
    """Identities of every node inside an annotation under ``node`` (never mutated).

    The cores use ``from __future__ import annotations``: annotations are strings that are
    never evaluated, so a mutant there (``int | None`` -> ``int & None``) is equivalent by
    construction and would only pad the score.
    """
    out: set[int] = set()
    for sub in ast.walk(node):
        found: list[ast.expr | None] = []
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = sub.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            found = [a.annotation for a in every] + [sub.returns]
        elif isinstance(sub, ast.AnnAssign):
            found = [sub.annotation]
        for annotation in found:
            if annotation is not None:
                out.update(id(n) for n in ast.walk(annotation))
    return out


def _scopes(top: ast.AST) -> dict[int, str]:
    """Qualified name (``Class.method.inner``) of the innermost def or class of every node."""
    names: dict[int, str] = {}

    def visit(node: ast.AST, scope: str) -> None:
        names[id(node)] = scope
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, f"{scope}.{child.name}")
            else:
                visit(child, scope)

    visit(top, top.name)  # type: ignore[attr-defined]
    return names


def _rust_hook(node: ast.If) -> bool:
    """The canonical hook's ``if rc is not None and hasattr(rc, ...)``: not the reference."""
    return "rc" in {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}


def mutants_of(hot_path: HotPath, source: str | None = None) -> Iterator[Mutant]:
    """Every mutant of ``hot_path``'s reference, in source order.

    ``source`` stands in for the module's text (the file is read when it is None).
    """
    if source is None:
        path = PACKAGE / (hot_path.module.split(".", 1)[1] + ".py")
        source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    starts = _offsets(source)
    roots = {f.python.split(".")[0] for f in hot_path.functions}
    skip: set[int] = set()

    def span(node: ast.AST) -> tuple[int, int]:
        start = starts[node.lineno] + node.col_offset  # type: ignore[attr-defined]
        end = starts[node.end_lineno] + node.end_col_offset  # type: ignore[attr-defined]
        return start, end

    scope_of: dict[int, str] = {}

    def make(node: ast.AST, operator: str, start: int, end: int, mutated: str) -> Mutant:
        return Mutant(
            hot_path.name,
            hot_path.module,
            node.lineno,  # type: ignore[attr-defined]
            node.col_offset,  # type: ignore[attr-defined]
            operator,
            source[start:end],
            mutated,
            start,
            end,
            scope_of[id(node)],
        )

    found: list[Mutant] = []
    for top in _reached(tree, roots):
        skip |= _docstring_nodes(top) | _annotation_nodes(top)
        scope_of.update(_scopes(top))
        for node in ast.walk(top):
            # The Rust hook is not the reference. Messages are not part of the parity
            # contract (the exception class is): a mutant inside an f-string or an
            # exception's arguments is equivalent by it.
            if (isinstance(node, ast.If) and _rust_hook(node)) or isinstance(node, ast.JoinedStr):
                skip.update(id(n) for n in ast.walk(node))
            elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                for argument in [*node.exc.args, *(k.value for k in node.exc.keywords)]:
                    skip.update(id(n) for n in ast.walk(argument))
        for node in ast.walk(top):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Compare) and len(node.ops) == 1:
                swap = _COMPARE_SWAPS.get(type(node.ops[0]))
                if swap:
                    left_end = span(node.left)[1]
                    right_start = span(node.comparators[0])[0]
                    found.append(make(node, "compare", left_end, right_start, f" {swap} "))
            elif isinstance(node, ast.BinOp):
                swap = _BINOP_SWAPS.get(type(node.op))
                if swap:
                    left_end = span(node.left)[1]
                    right_start = span(node.right)[0]
                    text = source[left_end:right_start]
                    if text.strip() and "(" not in text and ")" not in text:
                        found.append(make(node, "arithmetic", left_end, right_start, f" {swap} "))
            elif isinstance(node, ast.BoolOp) and len(node.values) == 2:
                left_end = span(node.values[0])[1]
                right_start = span(node.values[1])[0]
                text = source[left_end:right_start]
                if text.strip() in ("and", "or"):
                    swap = " or " if text.strip() == "and" else " and "
                    found.append(make(node, "boolean", left_end, right_start, swap))
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                start, end = span(node)
                inner_start, inner_end = span(node.operand)
                found.append(make(node, "drop-not", start, end, source[inner_start:inner_end]))
            elif (
                isinstance(node, ast.Constant)
                and type(node.value) is int
                and node.lineno == node.end_lineno
            ):
                start, end = span(node)
                found.append(make(node, "constant", start, end, str(node.value + 1)))
            elif isinstance(node, (ast.If, ast.While)) and node.test.lineno == node.lineno:
                start, end = span(node.test)
                test = source[start:end]
                found.append(make(node, "negate-condition", start, end, f"not ({test})"))
            elif isinstance(node, ast.Raise) and node.lineno == node.end_lineno:
                start, end = span(node)
                found.append(make(node, "remove-raise", start, end, "pass"))
            elif (
                isinstance(node, ast.Return)
                and node.value is not None
                and not (isinstance(node.value, ast.Constant) and node.value.value is None)
            ):
                start, end = span(node.value)
                found.append(make(node, "return-none", start, end, "None"))
    seen: dict[tuple[str, str, str, str], int] = {}
    for mutant in sorted(set(found), key=lambda m: (m.start, m.operator, m.mutated)):
        same = (mutant.scope, mutant.operator, mutant.original, mutant.mutated)
        seen[same] = seen.get(same, 0) + 1
        yield replace(mutant, occurrence=seen[same])


def load_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """Mutant key -> the reason it cannot change behaviour."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {entry["mutant"]: entry["reason"] for entry in data.get("equivalent", [])}


def _overlay(mutant: Mutant, workdir: Path) -> Path:
    """A copy of the pyagent package with the mutant planted; returns the folder to prepend."""
    target = workdir / "pyagent"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    module = target / (mutant.module.split(".", 1)[1] + ".py")
    module.write_text(mutant.apply(module.read_text(encoding="utf-8")), encoding="utf-8")
    return workdir


def run_mutant(mutant: Mutant, workdir: Path, timeout: float) -> tuple[str, float, str]:
    """``(outcome, seconds, detail)``: killed, survived or timeout, by the hot path's parity."""
    overlay = _overlay(mutant, workdir)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(overlay), str(ROOT)]),
        "PYAGENT_BACKEND": "rust",
    }
    out = workdir / "row.json"
    command = [
        sys.executable,
        "-m",
        "pyagent.parity",
        "--only",
        mutant.hot_path,
        "--jobs",
        "1",
        "--json",
        str(out),
        "--timeout",
        str(timeout),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    seconds = time.perf_counter() - started
    try:
        rows = json.loads(out.read_text(encoding="utf-8"))["hot_paths"]
        row = next(r for r in rows if r["name"] == mutant.hot_path)
    except (OSError, ValueError, StopIteration):
        return "killed", seconds, f"parity could not run: {done.stdout[-300:]}{done.stderr[-300:]}"
    if row["status"] == "passed":
        return "survived", seconds, ""
    detail = str(row.get("detail", ""))
    return ("timeout" if "timed out" in detail else "killed"), seconds, detail[:300]


def main(argv: Sequence[str] | None = None) -> int:
    """Plants, runs and reports; exit status 1 when a hot path scores under ``--floor``."""
    parser = argparse.ArgumentParser(prog="python -m pyagent.parity.mutants", description=__doc__)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these hot paths")
    parser.add_argument("--sample", type=int, default=6, help="mutants per hot path (0: all)")
    parser.add_argument("--seed", type=int, default=20261204, help="sampling seed")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=f"seconds per mutant (default: {TIMEOUT_FACTOR:g}x the unmutated row, "
        f"at least {MIN_TIMEOUT:g})",
    )
    parser.add_argument("--floor", type=float, default=0.0, help="minimum score per hot path")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to save results")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"also append the run to the committed record ({RECORD_DIR.relative_to(ROOT)}/)",
    )
    args = parser.parse_args(argv)

    manifest = load_manifest()
    unknown = sorted(set(args.only or ()) - set(manifest.names))
    if unknown:
        parser.error(f"not hot paths of the manifest: {', '.join(unknown)}")
    hot_paths = [
        h for h in manifest.hot_paths if h.migrated and (not args.only or h.name in args.only)
    ]
    equivalents = load_equivalents()
    rows: list[dict[str, Any]] = []
    low = []
    load_before = _load()
    run_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="parity-mutants-") as tmp:
        for hot_path in hot_paths:
            every = list(mutants_of(hot_path))
            chosen = [m for m in every if m.key not in equivalents]
            if args.sample and len(chosen) > args.sample:
                # One generator per hot path, seeded by the seed and its name: a run of some
                # hot paths draws exactly the mutants a run of all of them draws for those.
                rng = random.Random(f"{args.seed}:{hot_path.name}")
                chosen = sorted(rng.sample(chosen, args.sample), key=lambda m: m.start)
            source = (PACKAGE / (hot_path.module.split(".", 1)[1] + ".py")).read_text()
            if args.list:
                for mutant in chosen:
                    print(f"{hot_path.name}: {mutant.key}")
                continue
            counts = {"killed": 0, "survived": 0, "timeout": 0}
            survivors = []
            started = time.perf_counter()
            timeout = args.timeout
            if chosen:
                # The unmutated row first: it must be green (else every mutant would count
                # as killed), and its time sets the time limit per mutant, so a hanging
                # mutant of a 2-second row costs a minute, not five.
                no_op = replace(chosen[0], mutated=chosen[0].original)
                outcome, baseline, detail = run_mutant(no_op, Path(tmp), BASELINE_TIMEOUT)
                if outcome != "survived":
                    print(f"{hot_path.name}: the unmutated row fails: {detail}", flush=True)
                    low.append(hot_path.name)
                    continue
                if timeout is None:
                    timeout = max(MIN_TIMEOUT, TIMEOUT_FACTOR * baseline)
            for mutant in chosen:
                outcome, _, _ = run_mutant(mutant, Path(tmp), timeout or MIN_TIMEOUT)
                counts[outcome] += 1
                if outcome == "survived":
                    survivors.append({**asdict(mutant), "diff": mutant.diff(source)})
            tried = sum(counts.values())
            score = (counts["killed"] + counts["timeout"]) / tried if tried else 1.0
            row = {
                "name": hot_path.name,
                "mutants": len(every),
                "equivalent": len(every) - len([m for m in every if m.key not in equivalents]),
                "tried": tried,
                **counts,
                "score": round(score, 3),
                "seconds": round(time.perf_counter() - started, 1),
                "timeout_s": round(timeout or MIN_TIMEOUT, 1),
                "survivors": survivors,
                **sample_inputs(source, every, equivalents),
            }
            rows.append(row)
            print(
                f"{hot_path.name:<24} {tried:>3} tried  {counts['killed']:>3} killed  "
                f"{counts['timeout']:>2} timeout  {counts['survived']:>3} survived  "
                f"score {score:.0%}",
                flush=True,
            )
            for survivor in survivors:
                print("    survived: " + survivor["diff"].replace("\n", "\n    "), flush=True)
            if score < args.floor:
                low.append(hot_path.name)
    if args.list:
        return 0
    tried = sum(r["tried"] for r in rows)
    caught = sum(r["killed"] + r["timeout"] for r in rows)
    print(
        f"overall: {caught} of {tried} non-equivalent mutants killed ({caught / max(tried, 1):.0%})"
    )
    provenance = {
        "sample": args.sample,
        "seed": args.seed,
        "timeout_s": args.timeout,  # None: per hot path, in its row
        "only": sorted(args.only) if args.only else None,
        "duration_s": round(time.perf_counter() - run_started, 1),
        "machine": {"cores": os.cpu_count(), "load_before": load_before, "load_after": _load()},
    }
    write_results(args.json, rows, **provenance)
    print(f"results: {args.json}")
    if args.record:
        print(f"recorded: {record_run(args.json, RECORD_DIR)}")
    return 1 if low else 0


def _load() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def sample_inputs(
    source: str, every: Sequence[Mutant], equivalents: dict[str, str]
) -> dict[str, str]:
    """Digests of what, with the seed and sample size, decides a hot path's sample.

    The sample is drawn from the module's mutants minus its equivalents, so editing the
    module or marking one of its mutants equivalent redraws it. Two records of a row compare
    like for like only when these match; another hot path's equivalents do not count.
    """
    own = sorted(m.key for m in every if m.key in equivalents)
    return {
        "module_sha256": hashlib.sha256(source.encode()).hexdigest()[:16],
        "equivalents_sha256": hashlib.sha256("\n".join(own).encode()).hexdigest()[:16],
    }


def record_run(saved: Path, folder: Path) -> Path:
    """Copies the saved run into ``folder`` as ``<UTC time>-<commit>.json``, never overwriting."""
    data = json.loads(saved.read_text(encoding="utf-8"))
    stamp = str(data.get("generated_at", "")).replace("-", "").replace(":", "")[:15] + "Z"
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{stamp}-{data.get('commit', 'unknown')}"
    path, n = folder / f"{base}.json", 2
    while path.exists():
        path, n = folder / f"{base}-{n}.json", n + 1
    with path.open("x", encoding="utf-8") as out:  # "x": fails rather than overwrite
        out.write(json.dumps(data, indent=1) + "\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
