"""TelemetryCore parity: percentiles, bit-identical to each other and to numpy.percentile.

Tolerance: rel_tol=0. Both backends pick the same order statistics and apply numpy's
interpolation with the same operations, so the values must be identical, and equal to
``numpy.percentile`` (compared with ``==``, so -0.0 and 0.0 count as equal: selection may
surface either of two equal zeros).
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from pyagent import telemetry_core
from pyagent.parity import hostile
from pyagent.parity.compare import call_python, same
from pyagent.parity.properties.strategies_numeric import bad_vectors, finite, vectors
from pyagent.parity.registry import parity_property

qs = st.one_of(
    st.lists(st.floats(0, 100), max_size=6),
    st.lists(st.sampled_from([0, 1, 25, 50, 90, 95, 99, 99.9, 100]), max_size=6),
    st.lists(st.floats(allow_nan=True), min_size=1, max_size=3),
    st.sampled_from([[100.00000000000001], [-1e-300], [101], (50,), np.array([50.0, 99.0])]),
)
#: Few distinct values, so ties and runs of equal neighbours are common.
tied = st.sampled_from([0.0, -0.0, 1.0, 2.5, -7.0, 1e300, -1e300])


@parity_property("percentiles")
@given(values=st.one_of(vectors(finite), vectors(tied)), qs=qs)
# t == 0.5 exactly: numpy interpolates from the upper end there, and 0.3 + 0.35 != 1.0 - 0.35.
@example(values=[0.3, 1.0], qs=[50])
def percentiles_agree_with_each_other_and_numpy(values: object, qs: object) -> None:
    """Same array from both backends, equal to numpy.percentile whenever it is valid."""
    outcome = same(telemetry_core.percentiles, values, qs, rel_tol=0)
    if outcome.error is None:
        expected = np.percentile(np.asarray(values, dtype=np.float64), np.asarray(qs))
        assert outcome.value.tolist() == np.asarray(expected, dtype=np.float64).tolist()


@parity_property("percentiles")
@given(
    values=hostile.mix(st.one_of(bad_vectors, vectors(max_size=3)), "sequence"),
    qs=hostile.mix(st.one_of(qs, bad_vectors), "sequence"),
)
def percentiles_reject_the_same(values: object, qs: object) -> None:
    """Empty, NaN, bad dtype or shape, out-of-range q: the same error class."""
    same(telemetry_core.percentiles, values, qs, rel_tol=0)


metric_names = st.sampled_from(["cpu", "mem", "ünï", "\ud800", ""])
widths = st.one_of(
    st.floats(min_value=1e-3, max_value=1e4),
    st.sampled_from([1, 60, 0.1, 0.0, -5.0, 1e-300, True, None, "60", np.float32(0.5)]),
    st.floats(),
)


@parity_property("calculate_rollups")
@given(
    data=st.data(),
    n=st.integers(0, 50),
    bucket_seconds=widths,
    named=st.booleans(),
    spread=st.sampled_from([10.0, 1e6, 1e14]),
)
def calculate_rollups_agree(
    data: st.DataObject, n: int, bucket_seconds: object, named: bool, spread: float
) -> None:
    """Identical columns (names, buckets, counts, sums, extremes, means) or the same error."""
    timestamps = data.draw(st.lists(st.floats(-spread, spread), min_size=n, max_size=n))
    values = data.draw(st.lists(finite, min_size=n, max_size=n))
    names = data.draw(st.lists(metric_names, min_size=n, max_size=n)) if named else None
    as_array = data.draw(st.booleans())
    ts: object = np.array(timestamps) if as_array else timestamps
    _same_bits(ts, values, bucket_seconds, names)


def _same_bits(ts: object, values: object, bucket_seconds: object, names: object) -> None:
    """Equal rollups, and every float column the same bits: the sign of a zero included.

    Equal extremes keep the first seen (0.0 then -0.0 has min and max 0.0), and a bucket
    index of -0.0 is bucket 0 (its start is 0.0), on both backends.
    """
    outcome = same(telemetry_core.calculate_rollups, ts, values, bucket_seconds, names, rel_tol=0)
    if outcome.error is None:
        python = call_python(telemetry_core.calculate_rollups, ts, values, bucket_seconds, names)
        for column in ("bucket_start", "sum", "min", "max", "mean"):
            assert outcome.value[column].tobytes() == python.value[column].tobytes(), column


@parity_property("calculate_rollups")
@given(
    timestamps=st.sampled_from(
        [[0.0, -0.0, 0.5], [-0.0, 0.0], [2.0**53], [-(2.0**53)], [2.0**53 - 1], [1e16, 0.0]]
    ),
    values=st.sampled_from([[0.0, -0.0, 1.0], [-0.0, 0.0, -0.0], [1.0, 2.0, 3.0]]),
    bucket_seconds=st.sampled_from([1, 1.0, 0.0, -0.0, 2.0, 0.5]),
    named=st.booleans(),
)
def calculate_rollups_boundaries(
    timestamps: list[float], values: list[float], bucket_seconds: object, named: bool
) -> None:
    """Boundaries: signed zeros (times, values, width 0), bucket index at and below 2**53."""
    vs = values[: len(timestamps)] + [1.0] * (len(timestamps) - len(values))
    names = ["cpu"] * len(timestamps) if named else None
    _same_bits(timestamps, vs, bucket_seconds, names)


@parity_property("calculate_rollups")
@given(
    timestamps=hostile.mix(st.one_of(vectors(max_size=4), bad_vectors), "sequence"),
    values=hostile.mix(st.one_of(vectors(max_size=4), bad_vectors), "sequence"),
    names=st.one_of(
        st.none(),
        st.lists(metric_names, max_size=4),
        st.lists(st.one_of(st.integers(), st.none(), metric_names), max_size=3),
        st.just("cpu"),
        st.integers(),
        hostile.for_kind("sequence"),
    ),
    bucket_seconds=hostile.mix(widths, "number"),
)
def calculate_rollups_reject_the_same(
    timestamps: object, values: object, names: object, bucket_seconds: object
) -> None:
    """Bad columns, names, lengths and widths: the same error class from both."""
    same(telemetry_core.calculate_rollups, timestamps, values, bucket_seconds, names, rel_tol=0)
