"""A baseline of known defects, so ``audit --strict`` fails only on new ones.

Adopting the audit on a tree that already has defects should not mean fixing them all
first: ``--write-baseline FILE`` records today's defects, ``--baseline FILE`` marks each
defect found later as known (``"baseline": true``) or new, and ``--strict`` counts only
the new ones. A defect is matched by its code, file (relative to the baseline's folder,
so the file can be committed), function and Rust name, not by line: edits above it do not
make it new. Two identical defects need two baseline entries.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["BASELINE_SCHEMA", "load_baseline", "mark_baseline", "write_baseline"]

BASELINE_SCHEMA = 1

_Key = tuple[str, str, str | None, str | None]


def _key(defect: dict[str, Any], base: Path) -> _Key:
    file = os.path.relpath(os.path.abspath(defect["file"]), base).replace(os.sep, "/")
    return (defect["code"], file, defect.get("function"), defect.get("rust_name"))


def write_baseline(path: Path, defects: Iterable[dict[str, Any]]) -> int:
    """Writes the defects (audit JSON form) as a baseline; returns how many."""
    base = path.resolve().parent
    entries = sorted(_key(d, base) for d in defects)
    document = {
        "schema": BASELINE_SCHEMA,
        "command": "baseline",
        "defects": [
            {"code": c, "file": f, "function": fn, "rust_name": r} for c, f, fn, r in entries
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return len(entries)


def load_baseline(path: Path) -> Counter[_Key]:
    """The baseline's entries; ValueError when the file is not a baseline."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read baseline {path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("command") != "baseline":
        raise ValueError(f"{path} is not a migrate baseline (write one with --write-baseline)")
    return Counter(
        (d["code"], d["file"], d.get("function"), d.get("rust_name"))
        for d in document.get("defects", [])
    )


def mark_baseline(defects: list[dict[str, Any]], baseline: Counter[_Key], path: Path) -> int:
    """Sets ``"baseline"`` on each defect (True when known); returns the number of new ones."""
    base = path.resolve().parent
    left = Counter(baseline)
    new = 0
    for defect in defects:
        key = _key(defect, base)
        known = left[key] > 0
        if known:
            left[key] -= 1
        else:
            new += 1
        defect["baseline"] = known
    return new
