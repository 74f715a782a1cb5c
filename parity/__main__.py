"""``python -m parity``: run every parity property and print the table.

Exit status 1 on any mismatch, on a hot path that rust_core exports without a property, or
on a manifest ``migrated`` flag that disagrees with the built extension.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from parity.profiles import load_profile
from parity.registry import PropertyResult, registered, run_property
from parity.results import write_results
from pyagent.manifest import HotPath, has_rust_name, load_manifest

DEFAULT_JSON = Path("build/status/parity.json")


def _row(hot_path: HotPath, rust_core: object, properties: set[str]) -> dict[str, object]:
    exported = rust_core is not None and all(
        has_rust_name(rust_core, n) for n in hot_path.rust_names
    )
    row: dict[str, object] = {
        "name": hot_path.name,
        "component": hot_path.component,
        "examples": 0,
        "seconds": 0.0,
        "detail": "",
    }
    if not exported:
        if hot_path.migrated:
            row.update(status="failed", detail="manifest says migrated; rust_core lacks it")
        else:
            row.update(status="not migrated", detail=f"issue #{hot_path.issue}")
        return row
    if not hot_path.migrated:
        row.update(status="failed", detail="rust_core exports it; manifest says not migrated")
        return row
    if hot_path.name not in properties:
        row.update(status="no property", detail="exported by rust_core but no parity property")
        return row
    result: PropertyResult = run_property(hot_path.name)
    row.update(
        status="passed" if result.passed else "failed",
        examples=result.examples,
        seconds=round(result.seconds, 3),
        detail=result.detail,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    """Runs the harness; see the module docstring for the exit status."""
    parser = argparse.ArgumentParser(prog="python -m parity", description=__doc__)
    parser.add_argument("--thorough", action="store_true", help="many more examples per property")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these hot paths")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to save results")
    args = parser.parse_args(argv)

    profile = load_profile("thorough" if args.thorough else None)
    try:
        import rust_core
    except ImportError:
        rust_core = None
    manifest = load_manifest()
    properties = set(registered())
    unknown = sorted(set(args.only or ()) - set(manifest.names))
    if unknown:
        parser.error(f"not hot paths of the manifest: {', '.join(unknown)}")
    hot_paths = [h for h in manifest.hot_paths if not args.only or h.name in args.only]
    rows = [_row(h, rust_core, properties) for h in hot_paths]

    width = max(len(str(r["name"])) for r in rows)
    print(f"parity ({profile} profile), rust_core {getattr(rust_core, '__version__', 'absent')}")
    print(f"{'hot path':<{width}}  {'examples':>8}  result")
    for row in rows:
        examples = row["examples"] or ""
        print(f"{row['name']:<{width}}  {examples:>8}  {row['status']}", end="")
        print(f"  ({row['detail']})" if row["detail"] and row["status"] != "passed" else "")
    failed = [r for r in rows if r["status"] in ("failed", "no property")]
    passed = sum(r["status"] == "passed" for r in rows)
    print(f"{passed} passed, {len(failed)} failed, {len(rows) - passed - len(failed)} not migrated")

    write_results(
        args.json, rows, profile=profile, rust_core=getattr(rust_core, "__version__", None)
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
