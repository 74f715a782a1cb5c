"""TelemetryCore: percentiles of latency-like samples and time-bucket rollups (Common/Telemetry).

:func:`percentiles` equals ``numpy.percentile(values, qs)`` with the default "linear" method
to the last bit: the same virtual index ``(n - 1) * (q / 100)``, the same neighbours and the
same two-sided interpolation (numpy's ``_lerp``). The reference here sorts; rust_core finds
the few order statistics it needs by selection, without sorting the input.

Values are converted to float64 first (as numpy does for float input; for integer input
numpy interpolates in the integer dtype, which agrees while values stay below 2**53). NaN
or infinite values, empty ``values`` and a percentile outside [0, 100] are ValueError.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from pyagent._numeric import float_vector, require_finite

try:
    import rust_core as rc
except ImportError:
    rc = None

__all__ = ["percentiles"]


def _lerp(a: float, b: float, t: float) -> float:
    # numpy's _lerp: interpolate from the nearer end, so t = 1 gives b exactly.
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def percentiles(
    values: Iterable[float] | NDArray[np.floating],
    qs: Iterable[float] | NDArray[np.floating],
) -> NDArray[np.float64]:
    """The ``qs`` percentiles (each in [0, 100]) of ``values``, as ``numpy.percentile``.

    Returns a float64 array with one entry per ``qs`` entry, in the order given.
    """
    if rc is not None and hasattr(rc, "percentiles"):
        return rc.percentiles(values, qs)
    data = float_vector(values, "values")
    wanted = float_vector(qs, "qs")
    if data.size == 0:
        raise ValueError("values must not be empty")
    require_finite(data, "values")
    n = data.size
    positions: list[tuple[int, float] | None] = []
    for q in wanted.tolist():
        fraction = q / 100.0
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"percentiles must be in the range [0, 100], got {q!r}")
        virtual_index = (n - 1) * fraction
        if virtual_index >= n - 1:
            positions.append(None)  # the maximum
        else:
            below = math.floor(virtual_index)
            positions.append((below, virtual_index - below))
    ordered = sorted(data.tolist())
    out = [
        ordered[-1] if p is None else _lerp(ordered[p[0]], ordered[p[0] + 1], p[1])
        for p in positions
    ]
    return np.array(out, dtype=np.float64)
