"""Turns pytest-benchmark's JSON into per-hot-path speedups; prints and saves them.

``python -m bench.summary RAW.json [--out build/status/bench.json]``. Ratios use each
implementation's median time: rust_vs_python = python / rust, rust_vs_peer = peer / rust
(above 1 means Rust is faster). Exit status 1 when a migrated hot path has no benchmark,
unless ``--partial`` says the run was narrowed on purpose (``nox -s bench -- -k ...``): then
the missing ones are still listed, but the exit status is 0.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

from pyagent.manifest import load_manifest
from pyagent.parity.results import write_results


def _machine(raw: dict[str, Any]) -> dict[str, Any]:
    info = raw.get("machine_info", {})
    cpu = info.get("cpu", {})
    return {
        "cpu": cpu.get("brand_raw") or platform.processor() or "unknown",
        "cores": cpu.get("count"),
        "python": info.get("python_version", platform.python_version()),
        "platform": info.get("platform", platform.platform()),
    }


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
        # Throughput, for benchmarks that say how much they move (extra_info messages/bytes).
        if extra.get("messages") and bench["stats"]["median"]:
            rate = extra["messages"] / bench["stats"]["median"]
            group[f"{extra.get('implementation')}_msgs_per_s"] = round(rate)
            mb = extra.get("bytes", 0) / 1e6 / bench["stats"]["median"]
            group[f"{extra.get('implementation')}_mb_per_s"] = round(mb, 1)
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
        help="the run was narrowed (pytest -k or paths): missing benchmarks do not fail it",
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
    for r in rows:
        rates = [
            f"{impl} {r[impl + '_msgs_per_s']:,} msgs/s ({r[impl + '_mb_per_s']} MB/s)"
            for impl in ("python", "rust", "peer")
            if r.get(impl + "_msgs_per_s")
        ]
        if rates:
            print(f"throughput {r['name']}: " + ", ".join(rates))
    benched = {r["hot_path"] for r in rows if r.get("rust_s")}
    missing = [h.name for h in load_manifest().migrated if h.name not in benched]
    if missing:
        note = " (partial run: not an error)" if args.partial else ""
        print("migrated hot paths without a benchmark" + note + ": " + ", ".join(missing))
    write_results(args.out, rows, machine=_machine(raw))
    return 1 if missing and not args.partial else 0


if __name__ == "__main__":
    sys.exit(main())
