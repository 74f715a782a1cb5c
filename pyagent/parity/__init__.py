"""Parity harness: Rust and Python agree on every hot path.

For every hot path, the Rust and Python paths of the same public function give the same
answer, and the same exception class on bad input.

Properties are Hypothesis tests registered per hot path with :func:`parity_property`, under
the hot path's seed name from the manifest. :func:`same` runs one call through both paths
and compares. ``python -m pyagent.parity`` runs them all and prints the table; the test suite runs
the same properties through pytest.
"""

try:
    import hypothesis  # noqa: F401  (the extra this subpackage needs)
except ImportError as _missing:
    raise ImportError(
        f"{__name__} needs hypothesis, which pyagent installs only with the extra: "
        "pip install 'pyagent[parity]'",
        name=_missing.name,
    ) from _missing

from pyagent.parity.compare import Outcome, same, same_outcome
from pyagent.parity.registry import PropertyResult, parity_property, registered, run_property

__all__ = [
    "Outcome",
    "PropertyResult",
    "parity_property",
    "registered",
    "run_property",
    "same",
    "same_outcome",
]
