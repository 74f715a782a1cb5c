"""TelemetryCore: percentiles equal to numpy.percentile to the last bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyagent.telemetry_core import percentiles

QS = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100]


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001, 200_000, 500_001])
def test_equals_numpy_percentile_bit_for_bit(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.standard_normal(n) * 1e3
    got = percentiles(values, QS)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    assert got.tolist() == np.percentile(values, QS).tolist()


def test_many_ties_and_sorted_input() -> None:
    rng = np.random.default_rng(5)
    for values in (
        rng.integers(0, 4, 300_000).astype(float),
        np.arange(300_000, dtype=float),
        np.arange(300_000, dtype=float)[::-1].copy(),
        np.full(300_000, 2.5),
    ):
        assert percentiles(values, QS).tolist() == np.percentile(values, QS).tolist()


def test_accepts_lists_ints_and_keeps_the_input_intact() -> None:
    values = [5.0, 1.0, 3.0]
    assert percentiles(values, (50,)).tolist() == [3.0]
    assert percentiles([1, 2, 3, 4], [50]).tolist() == [2.5]
    array = np.array([3.0, 1.0, 2.0])
    percentiles(array, [50])
    assert array.tolist() == [3.0, 1.0, 2.0]
    assert percentiles([1.0], []).tolist() == []


@pytest.mark.parametrize(
    ("values", "qs", "error"),
    [
        ([], [50], ValueError),
        ([1.0, math.nan], [50], ValueError),
        ([1.0, math.inf], [50], ValueError),
        ([1.0], [100.00000000000001], ValueError),
        ([1.0], [-1], ValueError),
        ([1.0], [math.nan], ValueError),
        ([1.0], 50, ValueError),  # qs must be a sequence
        (["a"], [50], TypeError),
        ([1.0], ["50"], TypeError),
        (np.ones((2, 2)), [50], ValueError),
    ],
)
def test_bad_input_is_rejected(values: object, qs: object, error: type) -> None:
    with pytest.raises(error):
        percentiles(values, qs)  # type: ignore[arg-type]
