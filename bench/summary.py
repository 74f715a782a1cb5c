"""Turns pytest-benchmark's JSON into per-hot-path ratios; prints, saves and records them.

``python -m bench.summary RAW.json [--out build/status/bench.json] [--profile quick|full]
[--history bench/results] [--partial]``.

Ratios use each implementation's **minimum** time over its rounds (the least disturbed
round on a shared machine; all implementations of a group run in one session):
``rust_vs_python = python / rust`` and ``rust_vs_peer = peer / rust``. Above 1 Rust is
faster; every ratio below 1 is flagged (``below_1`` in the JSON, ``<1`` in the table).

``--history DIR`` appends the run to DIR as ``<UTC time>-<commit>-<profile>.json``, never
overwriting a file: the committed record the status site draws ratios over commits from.
Each run carries its provenance: commit (and whether the tree was dirty), date, CPU model,
load average before and after, profile, Python and rust_core versions.

Exit status 1 when a migrated hot path has no benchmark, unless ``--partial`` says the run
was narrowed on purpose (``nox -s bench -- -k ...``): then the missing ones are still
listed, but the exit status is 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from pyagent.manifest import load_manifest
from pyagent.parity.results import SCHEMA, git_commit, write_results

IMPLEMENTATIONS = ("python", "rust", "peer")
#: The fields of a row kept in the committed history (timings, ratios, what was measured).
HISTORY_FIELDS = (
    "name",
    "hot_path",
    "peer",
    "workload",
    "python_s",
    "rust_s",
    "peer_s",
    "rust_vs_python",
    "rust_vs_peer",
    "below_1",
    "correct",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _rust_core_version() -> str | None:
    try:
        import rust_core
    except ImportError:
        return None
    version = getattr(rust_core, "__version__", None)
    return str(version) if version else None


def tree_dirty() -> bool | None:
    """Whether the checkout has uncommitted changes to tracked files (None outside git)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(out.stdout.strip())


def _machine(raw: dict[str, Any]) -> dict[str, Any]:
    info = raw.get("machine_info", {})
    cpu = info.get("cpu", {})
    load_now = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu.get("brand_raw") or _cpu_model(),
        "cores": cpu.get("count") or os.cpu_count(),
        "python": info.get("python_version", platform.python_version()),
        "platform": info.get("platform", platform.platform()),
        # 1, 5 and 15-minute load averages when the run started (bench/conftest.py) and now.
        "load_before": info.get("pyagent_load_before"),
        "load_after": load_now,
    }


def _time(stats: dict[str, Any]) -> float | None:
    value = stats.get("min", stats.get("median"))
    return float(value) if isinstance(value, int | float) else None


def summarise(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per benchmark group, in manifest order, with minimum times and ratios."""
    groups: dict[str, dict[str, Any]] = {}
    for bench in raw.get("benchmarks", []):
        extra = bench.get("extra_info", {})
        impl = extra.get("implementation")
        group = groups.setdefault(
            bench["group"],
            {
                "name": bench["group"],
                "hot_path": extra.get("hot_path"),
                "peer": extra.get("peer"),
                "workload": extra.get("workload"),
                "correct": True,
            },
        )
        seconds = _time(bench["stats"])
        group[f"{impl}_s"] = seconds
        median = bench["stats"].get("median")
        if median is not None:
            group[f"{impl}_median_s"] = median
        # Throughput, for benchmarks that say how much they move (extra_info messages/bytes).
        if extra.get("messages") and seconds:
            group[f"{impl}_msgs_per_s"] = round(extra["messages"] / seconds)
            group[f"{impl}_mb_per_s"] = round(extra.get("bytes", 0) / 1e6 / seconds, 1)
        group["correct"] = group["correct"] and bool(extra.get("correct"))
    order = {name: i for i, name in enumerate(load_manifest().names)}
    rows = sorted(groups.values(), key=lambda g: (order.get(g["hot_path"], 1 << 30), g["name"]))
    for row in rows:
        rust = row.get("rust_s")
        python, peer = row.get("python_s"), row.get("peer_s")
        row["rust_vs_python"] = round(python / rust, 2) if rust and python else None
        row["rust_vs_peer"] = round(peer / rust, 2) if rust and peer else None
        row["below_1"] = [
            key
            for key in ("rust_vs_peer", "rust_vs_python")
            if row[key] is not None and row[key] < 1.0
        ]
    return rows


def format_table(rows: list[dict[str, Any]]) -> list[str]:
    """The printed table: times in ms, peer/Rust and Python/Rust, rows below 1 flagged."""

    def ms(seconds: float | None) -> str:
        return f"{seconds * 1e3:10.2f}" if seconds is not None else f"{'-':>10}"

    def ratio(value: float | None) -> str:
        if value is None:
            return f"{'-':>10}"
        return f"{value:8.2f}x" + ("!" if value < 1.0 else " ")

    width = max([len(r["name"]) for r in rows] + [9])
    lines = [
        f"{'benchmark':<{width}}  {'python ms':>10} {'rust ms':>10} {'peer ms':>10}"
        f"  {'peer/rust':>10} {'py/rust':>10}  flag  peer"
    ]
    for r in rows:
        flag = "<1" if r.get("below_1") else ("WRONG" if not r["correct"] else "")
        lines.append(
            f"{r['name']:<{width}}  {ms(r.get('python_s'))} {ms(r.get('rust_s'))} "
            f"{ms(r.get('peer_s'))}  {ratio(r['rust_vs_peer'])} {ratio(r['rust_vs_python'])}"
            f"  {flag:<4}  {r['peer']}"
        )
    below = [r["name"] for r in rows if r.get("below_1")]
    lines.append(
        f"{len(rows)} rows; {len(below)} below 1.0x (Rust slower)"
        + (": " + ", ".join(below) if below else "")
    )
    return lines


def _history_path(folder: Path, stamp: dt.datetime, commit: str, profile: str) -> Path:
    """A new file name in ``folder``: an existing file is never overwritten."""
    base = f"{stamp.strftime('%Y%m%dT%H%M%SZ')}-{commit}-{profile}"
    path = folder / f"{base}.json"
    n = 2
    while path.exists():
        path = folder / f"{base}-{n}.json"
        n += 1
    return path


def append_history(folder: Path, rows: list[dict[str, Any]], provenance: dict[str, Any]) -> Path:
    """Writes the run to a new file in ``folder`` (created); returns its path."""
    stamp = dt.datetime.fromisoformat(provenance["generated_at"])
    folder.mkdir(parents=True, exist_ok=True)
    path = _history_path(folder, stamp, provenance["commit"], provenance["profile"])
    payload = {
        **provenance,
        "hot_paths": [{k: r.get(k) for k in HISTORY_FIELDS} for r in rows],
    }
    with path.open("x", encoding="utf-8") as out:  # "x": fails rather than overwrite
        out.write(json.dumps(payload, indent=1) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    """Prints the ratio table, writes the summary JSON; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__)
    parser.add_argument("raw", type=Path, help="pytest-benchmark --benchmark-json output")
    parser.add_argument("--out", type=Path, default=Path("build/status/bench.json"))
    parser.add_argument("--profile", choices=("full", "quick"), default=None)
    parser.add_argument(
        "--history", type=Path, default=None, help="append the run to this results folder"
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="the run was narrowed (pytest -k or paths): missing benchmarks do not fail it",
    )
    args = parser.parse_args(argv)
    raw = json.loads(args.raw.read_text(encoding="utf-8"))
    rows = summarise(raw)
    profile = args.profile or raw.get("machine_info", {}).get("pyagent_profile") or "full"
    for line in format_table(rows):
        print(line)
    for r in rows:
        rates = [
            f"{impl} {r[impl + '_msgs_per_s']:,} msgs/s ({r[impl + '_mb_per_s']} MB/s)"
            for impl in IMPLEMENTATIONS
            if r.get(impl + "_msgs_per_s")
        ]
        if rates:
            print(f"throughput {r['name']}: " + ", ".join(rates))
    benched = {r["hot_path"] for r in rows if r.get("rust_s")}
    missing = [h.name for h in load_manifest().migrated if h.name not in benched]
    if missing:
        note = " (partial run: not an error)" if args.partial else ""
        print("migrated hot paths without a benchmark" + note + ": " + ", ".join(missing))
    info = raw.get("machine_info", {})
    fields = {
        "profile": profile,
        "partial": args.partial,
        # The checkout when the run started (bench/conftest.py), else now.
        "commit": info.get("pyagent_commit") or git_commit(),
        "dirty": info["pyagent_dirty"] if "pyagent_dirty" in info else tree_dirty(),
        "rust_core": _rust_core_version(),
        "duration_s": info.get("pyagent_duration_s"),
        "machine": _machine(raw),
    }
    write_results(args.out, rows, **fields)
    if args.history is not None and not args.partial:
        saved = json.loads(args.out.read_text(encoding="utf-8"))
        provenance = {k: v for k, v in saved.items() if k != "hot_paths"}
        provenance.setdefault("schema", SCHEMA)
        provenance.setdefault("commit", git_commit())
        print(f"appended to {append_history(args.history, rows, provenance)}")
    return 1 if missing and not args.partial else 0


if __name__ == "__main__":
    sys.exit(main())
