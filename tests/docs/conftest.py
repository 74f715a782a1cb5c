"""The docs-site tests: run by ``nox -s docs``, not by the default test run."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too so `--strict-markers` accepts the marker even before pyproject lists it.
    config.addinivalue_line(
        "markers", "docs: builds the docs site and opens it in headless Chromium (nox -s docs)"
    )
