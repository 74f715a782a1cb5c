"""Hypothesis profiles: ``quick`` for CI and the test suite, ``thorough`` for deep runs."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["PROFILE_ENV", "load_profile"]

PROFILE_ENV = "PARITY_PROFILE"

settings.register_profile(
    "quick",
    max_examples=150,
    deadline=None,  # shared CI machines stall; speed is the benchmarks' business
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=False,
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)


def load_profile(name: str | None = None) -> str:
    """Loads ``name``, else ``$PARITY_PROFILE``, else ``quick``; returns the name loaded."""
    chosen = name or os.environ.get(PROFILE_ENV) or "quick"
    settings.load_profile(chosen)
    return chosen
