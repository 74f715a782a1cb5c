"""TelemetryCore: percentiles of 10,000,000 floats (the issue's workload).

Workload: p50/p90/p95/p99 of 10,000,000 float64 values (log-normal, latency-like). Peer:
``numpy.percentile``. Correctness: equal to numpy's answer bit for bit. Not scaled down: the
pure-Python reference (a full ``sorted``) takes ~4 s per round here.
"""

from __future__ import annotations

import numpy as np

from bench.conftest import compare, scaled
from pyagent import telemetry_core

POINTS = scaled(10_000_000, 400_000)
QS = [50.0, 90.0, 95.0, 99.0]
rng = np.random.default_rng(20261124)
LATENCIES = rng.lognormal(3.0, 1.0, POINTS)
EXPECTED = np.percentile(LATENCIES, QS).tolist()


def test_percentiles(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="percentiles",
        workload=f"p50/p90/p95/p99 of {POINTS:,} floats",
        ours=lambda: telemetry_core.percentiles(LATENCIES, QS),
        peer=lambda: np.percentile(LATENCIES, QS),
        check=lambda got: np.asarray(got).tolist() == EXPECTED,
    )
