"""Turns pytest-benchmark's JSON into per-hot-path speedups; prints and saves them.

``python -m bench.summary RAW.json [--out build/status/bench.json]``. Ratios use each
implementation's median time: rust_vs_python = python / rust, rust_vs_peer = peer / rust
(above 1 means Rust is faster). Exit status 1 when a migrated hot path has no benchmark,
unless ``--partial`` says the run was filtered (``-k``/``-m``): the gaps are still listed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from pyagent.manifest import load_manifest


def _machine(raw: dict[str, Any]) -> dict[str, Any]:
    info = raw.get("machine_info", {})
    cpu = info.get("cpu", {})
    return {
        "cpu": cpu.get("brand_raw") or platform.processor() or "unknown",
        "cores": cpu.get("count"),
        "python": info.get("python_version", platform.python_version()),
        "platform": info.get("platform", platform.platform()),
    }


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def summarise(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per benchmark group, in manifest order, with medians and ratios."""
    groups: dict[str, dict[str, Any]] = {}
    for bench in raw.get("benchmarks", []):
        extra = bench.get("extra_info", {})
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
        group[f"{extra.get('implementation')}_s"] = bench["stats"]["median"]
        group["correct"] = group["correct"] and bool(extra.get("correct"))
    order = {name: i for i, name in enumerate(load_manifest().names)}
    rows = sorted(groups.values(), key=lambda g: (order.get(g["hot_path"], 1 << 30), g["name"]))
    for row in rows:
        rust = row.get("rust_s")
        python, peer = row.get("python_s"), row.get("peer_s")
        row["rust_vs_python"] = round(python / rust, 2) if rust and python else None
        row["rust_vs_peer"] = round(peer / rust, 2) if rust and peer else None
    return rows


def main(argv: list[str] | None = None) -> int:
    """Prints the speedup table and writes the summary JSON; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__)
    parser.add_argument("raw", type=Path, help="pytest-benchmark --benchmark-json output")
    parser.add_argument("--out", type=Path, default=Path("build/status/bench.json"))
    parser.add_argument(
        "--partial",
        action="store_true",
        help="the run selected a subset of benchmarks: list missing hot paths, do not fail",
    )
    args = parser.parse_args(argv)
    raw = json.loads(args.raw.read_text(encoding="utf-8"))
    rows = summarise(raw)

    def fmt(seconds: float | None) -> str:
        return f"{seconds * 1e3:10.2f}" if seconds is not None else f"{'-':>10}"

    def ratio(value: float | None) -> str:
        return f"{value:8.2f}x" if value is not None else f"{'-':>9}"

    width = max([len(r["name"]) for r in rows] + [9])
    print(
        f"{'benchmark':<{width}}  {'python ms':>10} {'rust ms':>10} {'peer ms':>10}"
        f"  {'vs python':>9} {'vs peer':>9}  peer"
    )
    for r in rows:
        print(
            f"{r['name']:<{width}}  {fmt(r.get('python_s'))} {fmt(r.get('rust_s'))} "
            f"{fmt(r.get('peer_s'))}  {ratio(r['rust_vs_python'])} {ratio(r['rust_vs_peer'])}"
            f"  {r['peer']}"
        )
    benched = {r["hot_path"] for r in rows if r.get("rust_s")}
    missing = [h.name for h in load_manifest().migrated if h.name not in benched]
    if missing:
        note = " (partial run)" if args.partial else ""
        print(f"migrated hot paths without a benchmark{note}: " + ", ".join(missing))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "schema": 1,
                "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "commit": _commit(),
                "machine": _machine(raw),
                "hot_paths": rows,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return 1 if missing and not args.partial else 0


if __name__ == "__main__":
    sys.exit(main())
