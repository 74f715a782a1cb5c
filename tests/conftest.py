"""Shared fixtures. The suite runs twice (nox -s tests): PYAGENT_BACKEND=rust and =python;
tests marked ``requires_rust`` compare against the extension and run only in the first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_python(
    code: str, *, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter (so import-time backend selection is fresh)."""
    full_env = {k: v for k, v in os.environ.items() if k != "PYAGENT_BACKEND"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture
def backend_name() -> str:
    """The backend this run of the suite exercises."""
    return os.environ.get("PYAGENT_BACKEND", "auto")
