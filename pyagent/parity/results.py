"""Saved run results (parity, benchmarks) with the provenance the status pages show.

Every results file has the same envelope: ``schema``, ``generated_at`` (UTC, ISO 8601),
``commit`` (short hash of the checkout, or "unknown"), the run's own fields, and
``hot_paths``: one row per hot path or benchmark group.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA", "git_commit", "write_results"]

SCHEMA = 1


def git_commit() -> str:
    """Short hash of HEAD of the current checkout, or ``"unknown"`` outside one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def write_results(path: Path, rows: Sequence[dict[str, Any]], **fields: Any) -> None:
    """Writes ``rows`` with the envelope and ``fields`` to ``path`` (folders created)."""
    payload = {
        "schema": SCHEMA,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        **fields,
        "hot_paths": list(rows),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
