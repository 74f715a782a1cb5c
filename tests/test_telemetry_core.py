"""TelemetryCore: percentiles equal to numpy.percentile to the last bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyagent.telemetry_core import calculate_rollups, percentiles

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


def test_rollups_per_name_and_bucket() -> None:
    got = calculate_rollups(
        [0, 1, 2, 11, 12, 25, -3], [1, 2, 3, 4, 5, 6, 7], 10, ["a", "b", "a", "a", "b", "a", "b"]
    )
    assert got["name"] == ["a", "a", "a", "b", "b", "b"]
    assert got["bucket_start"].tolist() == [0.0, 10.0, 20.0, -10.0, 0.0, 10.0]
    assert got["count"].dtype == np.int64 and got["count"].tolist() == [2, 1, 1, 1, 1, 1]
    assert got["sum"].tolist() == [4.0, 4.0, 6.0, 7.0, 2.0, 5.0]
    assert got["min"].tolist()[0] == 1.0 and got["max"].tolist()[0] == 3.0
    assert got["mean"].tolist()[0] == 2.0


def test_rollups_without_names_match_a_numpy_groupby() -> None:
    rng = np.random.default_rng(9)
    ts = np.sort(rng.random(100_000) * 3600)
    vs = rng.gamma(2.0, 10.0, ts.size)
    got = calculate_rollups(ts, vs, 60.0)
    assert got["name"] == [None] * len(got["count"])
    bucket = np.floor(ts / 60.0)
    starts, counts = np.unique(bucket, return_counts=True)
    assert got["bucket_start"].tolist() == (starts * 60.0).tolist()
    assert got["count"].tolist() == counts.tolist()
    sums = np.bincount(np.searchsorted(starts, bucket), weights=vs)
    np.testing.assert_allclose(got["sum"], sums, rtol=1e-12)
    np.testing.assert_allclose(got["mean"], sums / counts, rtol=1e-12)
    assert got["max"][0] == vs[bucket == starts[0]].max()


def test_rollups_far_apart_timestamps_still_group_exactly() -> None:
    got = calculate_rollups([0.0, 1e12, 0.5, 1e12 + 0.25], [1.0, 2.0, 3.0, 4.0], 1.0)
    assert got["bucket_start"].tolist() == [0.0, 1e12]
    assert got["sum"].tolist() == [4.0, 6.0]


@pytest.mark.parametrize(
    ("timestamps", "values", "width", "names", "error"),
    [
        ([], [], 1.0, None, ValueError),
        ([1.0], [1.0, 2.0], 1.0, None, ValueError),
        ([1.0], [1.0], 1.0, ["a", "b"], ValueError),
        ([1.0], [1.0], 0.0, None, ValueError),
        ([1.0], [1.0], math.nan, None, ValueError),
        ([math.nan], [1.0], 1.0, None, ValueError),
        ([1e300], [1.0], 1e-300, None, ValueError),
        ([1.0], [1.0], "1", None, TypeError),
        ([1.0], [1.0], 1.0, "a", TypeError),
        ([1.0], [1.0], 1.0, [1], TypeError),
        (["x"], [1.0], 1.0, None, TypeError),
    ],
)
def test_rollups_reject_bad_input(
    timestamps: object, values: object, width: object, names: object, error: type
) -> None:
    with pytest.raises(error):
        calculate_rollups(timestamps, values, width, names)  # type: ignore[arg-type]
