"""TelemetryCore: percentiles of latency-like samples and time-bucket rollups (Common/Telemetry).

:func:`calculate_rollups` groups points by (name, time bucket) and reports count, sum, min,
max and mean per group, as numpy columns sorted by name (first-seen order) then bucket.

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
from collections.abc import Iterable, Sequence
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from pyagent._numeric import float_vector, real_number, require_finite, str_list

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["Rollups", "calculate_rollups", "percentiles"]

#: Bucket indexes must stay exact integers in float64.
_MAX_BUCKET_INDEX = 2.0**53


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


class Rollups(TypedDict):
    """Columns of :func:`calculate_rollups`, one row per (name, bucket) with points in it.

    ``name`` is ``None`` on every row when no names were given. ``bucket_start`` is
    ``floor(t / bucket_seconds) * bucket_seconds``. ``sum`` is Neumaier-compensated and
    ``mean`` is that sum over ``count``.
    """

    name: list[str | None]
    bucket_start: NDArray[np.float64]
    count: NDArray[np.int64]
    sum: NDArray[np.float64]
    min: NDArray[np.float64]
    max: NDArray[np.float64]
    mean: NDArray[np.float64]


def calculate_rollups(
    timestamps: Iterable[float] | NDArray[np.floating],
    values: Iterable[float] | NDArray[np.floating],
    bucket_seconds: float,
    names: Sequence[str] | None = None,
) -> Rollups:
    """Per (name, time bucket): count, sum, min, max and mean of the values in it.

    Points are taken in input order and each group's sum is accumulated in that order on
    both backends, so results are identical. ValueError for unequal lengths, empty input,
    NaN or infinity, ``bucket_seconds <= 0`` and timestamps whose bucket index reaches
    2**53 (no longer an exact integer).
    """
    if rc is not None and hasattr(rc, "calculate_rollups"):
        return rc.calculate_rollups(timestamps, values, bucket_seconds, names)
    ts = float_vector(timestamps, "timestamps")
    vs = float_vector(values, "values")
    width = real_number(bucket_seconds, "bucket_seconds")
    labels = None if names is None else str_list(names, "names")
    if ts.size != vs.size:
        raise ValueError(f"timestamps and values differ in length: {ts.size} != {vs.size}")
    if labels is not None and len(labels) != ts.size:
        raise ValueError(f"names and values differ in length: {len(labels)} != {ts.size}")
    if ts.size == 0:
        raise ValueError("timestamps must not be empty")
    if not (math.isfinite(width) and width > 0):
        raise ValueError(f"bucket_seconds must be finite and > 0, got {width!r}")
    require_finite(ts, "timestamps")
    require_finite(vs, "values")
    with np.errstate(over="ignore"):  # an overflow to inf is rejected just below
        scaled = ts / width
    if (np.abs(scaled) >= _MAX_BUCKET_INDEX).any():
        raise ValueError("timestamps / bucket_seconds must stay below 2**53 in magnitude")
    # Bucket indexes are integers (rust_core: i64): + 0.0 turns floor(-0.0) into bucket 0.0,
    # so a -0.0 timestamp starts bucket 0.0, not -0.0.
    buckets = (np.floor(scaled) + 0.0).tolist()
    group_of: dict[str | None, int] = {}
    keys: list[str | None] = []
    # (group, bucket index) -> [count, sum, compensation, min, max]
    cells: dict[tuple[int, float], list[float]] = {}
    labelled: Iterable[str | None] = labels if labels is not None else [None] * ts.size
    for label, bucket, x in zip(labelled, buckets, vs.tolist(), strict=True):
        group = group_of.get(label)
        if group is None:
            group = group_of[label] = len(keys)
            keys.append(label)
        cell = cells.get((group, bucket))
        if cell is None:
            cells[(group, bucket)] = [1, x, 0.0, x, x]
            continue
        cell[0] += 1
        total = cell[1] + x
        cell[2] += (cell[1] - total) + x if abs(cell[1]) >= abs(x) else (x - total) + cell[1]
        cell[1] = total
        if x < cell[3]:
            cell[3] = x
        if x > cell[4]:
            cell[4] = x
    rows = sorted(cells.items())
    counts = [int(c[0]) for _, c in rows]
    sums = [c[1] + c[2] for _, c in rows]
    return Rollups(
        name=[keys[group] for (group, _), _ in rows],
        bucket_start=np.array([b * width for (_, b), _ in rows], dtype=np.float64),
        count=np.array(counts, dtype=np.int64),
        sum=np.array(sums, dtype=np.float64),
        min=np.array([c[3] for _, c in rows], dtype=np.float64),
        max=np.array([c[4] for _, c in rows], dtype=np.float64),
        mean=np.array([s / n for s, n in zip(sums, counts, strict=True)], dtype=np.float64),
    )
