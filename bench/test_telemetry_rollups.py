"""TelemetryCore.calculate_rollups on millions of points.

Workload (the issue's): 10,000,000 points, 100 metric names, one day of sorted timestamps,
60 s buckets (144,000 (name, bucket) rows). Peer: numpy (names to ids with a dict,
``np.unique`` on int64 keys, ``np.bincount`` for counts and sums, ``ufunc.reduceat`` for min
and max).
Correctness: names, buckets, counts, min and max exactly; sum and mean within 1e-9 relative
(numpy sums in another order) of the numpy answer, itself checked against the Python
reference on a 20,000-point prefix at import. One pure-Python round takes well over 10 s at
this size, so the Python reference is timed in a single round (``python_rounds=1``); Rust
and the peer get pytest-benchmark's usual rounds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.conftest import compare, scaled
from pyagent import telemetry_core
from pyagent.backend import forced_python

POINTS = scaled(10_000_000, 400_000)
BUCKET = 60.0
rng = np.random.default_rng(20261124)
TIMESTAMPS = np.sort(rng.random(POINTS) * 86_400.0)
VALUES = rng.gamma(2.0, 25.0, POINTS)
METRICS = [f"agent.{i}.tokens" for i in range(100)]
NAMES = [METRICS[i] for i in rng.integers(0, len(METRICS), POINTS)]


def numpy_rollups(ts: np.ndarray, vs: np.ndarray, names: list[str]) -> dict[str, Any]:
    index: dict[str, int] = {}  # name -> id in first-seen order, as calculate_rollups orders
    group = np.fromiter((index.setdefault(n, len(index)) for n in names), np.int64, len(names))
    bucket = np.floor(ts / BUCKET).astype(np.int64)
    low = int(bucket.min())
    span = int(bucket.max()) - low + 1
    keys, inverse = np.unique(group * span + (bucket - low), return_inverse=True)
    counts = np.bincount(inverse)
    sums = np.bincount(inverse, weights=vs)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    ordered = vs[order]
    labels = list(index)
    return {
        "name": [labels[g] for g in (keys // span).tolist()],
        "bucket_start": (keys % span + low).astype(np.float64) * BUCKET,
        "count": counts,
        "sum": sums,
        "min": np.minimum.reduceat(ordered, starts),
        "max": np.maximum.reduceat(ordered, starts),
        "mean": sums / counts,
    }


def same_rollups(got: Any, expected: dict[str, Any]) -> bool:
    if list(got["name"]) != expected["name"]:
        return False
    for key in ("bucket_start", "count", "min", "max"):
        if np.asarray(got[key]).tolist() != np.asarray(expected[key]).tolist():
            return False
    return all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=0)
        for key in ("sum", "mean")
        for a, b in zip(np.asarray(got[key]).tolist(), expected[key].tolist(), strict=True)
    )


PREFIX = 20_000
with forced_python():
    _reference = telemetry_core.calculate_rollups(
        TIMESTAMPS[:PREFIX], VALUES[:PREFIX], BUCKET, NAMES[:PREFIX]
    )
assert same_rollups(_reference, numpy_rollups(TIMESTAMPS[:PREFIX], VALUES[:PREFIX], NAMES[:PREFIX]))
EXPECTED = numpy_rollups(TIMESTAMPS, VALUES, NAMES)


def test_calculate_rollups(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="calculate_rollups",
        workload=f"{POINTS:,} points, {len(METRICS)} names, {BUCKET:.0f} s buckets over a day",
        ours=lambda: telemetry_core.calculate_rollups(TIMESTAMPS, VALUES, BUCKET, NAMES),
        peer=lambda: numpy_rollups(TIMESTAMPS, VALUES, NAMES),
        check=lambda got: same_rollups(got, EXPECTED),
        python_rounds=1,
    )
