"""PruningCore.calculate_decay over millions of synapses.

Workload: 5,000,000 synapses (weights uniform in [0, 1), ages uniform in [0, 10 h)), half-life
1 h, floor 0.05, as float64 arrays. Peer: the numpy one-liner
``np.maximum(w * np.exp(-ln2 * a / h), floor)``. Every result is checked against it within
1e-12 relative (the libm/numpy ``exp`` may differ by an ulp; see
``pyagent/parity/properties/pruning.py``).
"""

from __future__ import annotations

import math

import numpy as np

from bench.conftest import compare, scaled
from pyagent import pruning_core

SYNAPSES = scaled(5_000_000, 500_000)
HALF_LIFE = 3600.0
FLOOR = 0.05
rng = np.random.default_rng(20261124)
WEIGHTS = rng.random(SYNAPSES)
AGES = rng.random(SYNAPSES) * 36_000.0


def numpy_decay() -> np.ndarray:
    return np.maximum(WEIGHTS * np.exp(-math.log(2) * AGES / HALF_LIFE), FLOOR)


EXPECTED = numpy_decay()


def test_calculate_decay(benchmark: object, implementation: str) -> None:
    compare(
        benchmark,
        implementation,
        hot_path="calculate_decay",
        workload=f"{SYNAPSES:,} synapses, float64 arrays",
        ours=lambda: pruning_core.calculate_decay(WEIGHTS, AGES, HALF_LIFE, FLOOR),
        peer=numpy_decay,
        check=lambda got: bool(np.allclose(got, EXPECTED, rtol=1e-12, atol=0)),
    )
