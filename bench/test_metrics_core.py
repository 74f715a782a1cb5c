"""MetricsCore: rolling_avg and aggregate_metrics on millions of points.

Workloads:
* rolling_avg: 1,000,000 float64 values (uniform in [0, 100)), window 1,000. Peer: the numpy
  cumulative-sum idiom. Correctness: 2,000 sampled outputs against ``math.fsum`` of their
  window, within the issue's 1e-9 relative.
* aggregate_metrics: 2,000,000 points over 100 metric names (a list of str, the names reused
  as objects, as a recorder produces them) with float64 values. Peer: ``np.unique`` +
  ``np.bincount`` + ``ufunc.reduceat``. Correctness: every name's count, min and max exactly,
  sum, mean and std within 1e-9 relative of a per-name numpy reference (``math.fsum`` sum,
  two-pass ``np.std``).

Not scaled down: the slowest round (pure-Python rolling_avg) takes ~1.5 s here.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Any

import numpy as np

from bench.conftest import compare, rust_vs_peer_only, scaled
from pyagent import metrics_core

VALUES_COUNT = scaled(1_000_000, 100_000)
WINDOW = 1_000
rng = np.random.default_rng(20261124)
VALUES = rng.random(VALUES_COUNT) * 100.0
SAMPLES = sorted(random.Random(1).sample(range(VALUES_COUNT), 2_000))
EXPECTED_ROLLING = {
    i: math.fsum(VALUES[max(0, i - WINDOW + 1) : i + 1].tolist()) / min(i + 1, WINDOW)
    for i in SAMPLES
}


def numpy_rolling() -> np.ndarray:
    running = np.cumsum(VALUES)
    window_sums = running.copy()
    window_sums[WINDOW:] -= running[:-WINDOW]
    return window_sums / np.minimum(np.arange(1, VALUES_COUNT + 1), WINDOW)


def rolling_ok(got: Any) -> bool:
    return len(got) == VALUES_COUNT and all(
        math.isclose(got[i], expected, rel_tol=1e-9, abs_tol=0)
        for i, expected in EXPECTED_ROLLING.items()
    )


def test_rolling_avg(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="rolling_avg",
        workload=f"{VALUES_COUNT:,} values, window {WINDOW:,}",
        ours=lambda: metrics_core.rolling_avg(VALUES, WINDOW),
        peer=numpy_rolling,
        check=rolling_ok,
    )


VALUES_LIST = VALUES.tolist()


@rust_vs_peer_only
def test_rolling_avg_list(benchmark: object, implementation: str) -> None:
    # The input a user has: a list of floats for ours, numpy still on its array.
    compare(
        benchmark,
        implementation,
        hot_path="rolling_avg",
        workload=f"{VALUES_COUNT:,} values as a list, window {WINDOW:,}",
        ours=lambda: metrics_core.rolling_avg(VALUES_LIST, WINDOW),
        peer=numpy_rolling,
        check=rolling_ok,
        group_suffix="-list",
    )


POINTS = scaled(2_000_000, 200_000)
METRIC_NAMES = [f"agent.{i}.latency_ms" for i in range(100)]
NAMES = [METRIC_NAMES[i] for i in rng.integers(0, len(METRIC_NAMES), POINTS)]
POINT_VALUES = rng.gamma(2.0, 50.0, POINTS)


def _reference() -> dict[str, dict[str, float]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for name, value in zip(NAMES, POINT_VALUES.tolist(), strict=True):
        groups[name].append(value)
    out = {}
    for name, values in groups.items():
        array = np.array(values)
        out[name] = {
            "count": len(values),
            "sum": math.fsum(values),
            "mean": math.fsum(values) / len(values),
            "min": float(array.min()),
            "max": float(array.max()),
            "std": float(array.std()),
        }
    return out


EXPECTED_AGGREGATE = _reference()


def numpy_aggregate() -> dict[str, dict[str, float]]:
    labels, inverse = np.unique(np.asarray(NAMES), return_inverse=True)
    counts = np.bincount(inverse)
    sums = np.bincount(inverse, weights=POINT_VALUES)
    means = sums / counts
    stds = np.sqrt(np.bincount(inverse, weights=(POINT_VALUES - means[inverse]) ** 2) / counts)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    ordered = POINT_VALUES[order]
    mins = np.minimum.reduceat(ordered, starts)
    maxs = np.maximum.reduceat(ordered, starts)
    return {
        str(label): {
            "count": int(counts[k]),
            "sum": float(sums[k]),
            "mean": float(means[k]),
            "min": float(mins[k]),
            "max": float(maxs[k]),
            "std": float(stds[k]),
        }
        for k, label in enumerate(labels)
    }


def aggregate_ok(got: Any) -> bool:
    if set(got) != set(EXPECTED_AGGREGATE):
        return False
    for name, expected in EXPECTED_AGGREGATE.items():
        summary = got[name]
        if (summary["count"], summary["min"], summary["max"]) != (
            expected["count"],
            expected["min"],
            expected["max"],
        ):
            return False
        for key in ("sum", "mean", "std"):
            if not math.isclose(summary[key], expected[key], rel_tol=1e-9, abs_tol=0):
                return False
    return True


def test_aggregate_metrics(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="aggregate_metrics",
        workload=f"{POINTS:,} points, {len(METRIC_NAMES)} names",
        ours=lambda: metrics_core.aggregate_metrics(NAMES, POINT_VALUES),
        peer=numpy_aggregate,
        check=aggregate_ok,
    )


# The one-name workload: 1e6 float64 values under one name. Peer: numpy's
# size/sum/mean/min/max/std on the array (pairwise sums, not exact): count, min and max
# checked equal, sum, mean and std within 1e-9 relative of ours (which are exact).
ONE_NAME_POINTS = scaled(1_000_000, 100_000)
ONE_NAME_VALUES = rng.gamma(2.0, 50.0, ONE_NAME_POINTS)
ONE_NAME = ["agent.latency_ms"] * ONE_NAME_POINTS


def numpy_one_name() -> dict[str, dict[str, float]]:
    v = ONE_NAME_VALUES
    return {
        ONE_NAME[0]: {
            "count": int(v.size),
            "sum": float(v.sum()),
            "mean": float(v.mean()),
            "min": float(v.min()),
            "max": float(v.max()),
            "std": float(v.std()),
        }
    }


ONE_NAME_EXPECTED = metrics_core.aggregate_metrics(ONE_NAME, ONE_NAME_VALUES)


def one_name_ok(got: Any) -> bool:
    (name,) = ONE_NAME_EXPECTED
    summary, expected = got[name], ONE_NAME_EXPECTED[name]
    return (summary["count"], summary["min"], summary["max"]) == (
        expected["count"],
        expected["min"],
        expected["max"],
    ) and all(
        math.isclose(summary[key], expected[key], rel_tol=1e-9, abs_tol=0)
        for key in ("sum", "mean", "std")
    )


@rust_vs_peer_only
def test_aggregate_metrics_one_name(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="aggregate_metrics",
        workload=f"{ONE_NAME_POINTS:,} points, one name, float64 array",
        ours=lambda: metrics_core.aggregate_metrics(ONE_NAME, ONE_NAME_VALUES),
        peer=numpy_one_name,
        check=one_name_ok,
        group_suffix="-one-name",
        peer_name="numpy (array methods)",
    )
